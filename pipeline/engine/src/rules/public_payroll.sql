-- Every month of the window $ws..$we (yyyymm) in which a counted member was paid by a
-- publicly funded employer.
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
)
SELECT c.hh, p.person_key, 'public_payroll' AS source, CAST(p.month AS VARCHAR) AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, CAST(NULL AS BIGINT) AS amount_fen,
       CAST(p.month AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure,
       CAST(p._file AS VARCHAR) AS file, p._line AS line
FROM public_payroll p JOIN counted c ON c.person_key = p.person_key
WHERE p.month BETWEEN $ws AND $we
