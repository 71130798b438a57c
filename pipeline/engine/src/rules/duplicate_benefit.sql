-- A counted member who receives the same programme, in the batch's month $current_month, as a
-- member of another household or in another region (the assistance records).
WITH m AS (
    SELECT household_id, hh, person_key, excluded, CAST(programme AS VARCHAR) AS programme, region FROM members
)
SELECT c.hh, a.person_key, 'assistance' AS source, a.household_id AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, a.amount_fen AS amount_fen,
       CAST(a.period_from AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure,
       CAST(a._file AS VARCHAR) AS file, a._line AS line
FROM assistance a
JOIN m c ON c.person_key = a.person_key AND c.excluded IS NULL
WHERE CAST(a.programme AS VARCHAR) = c.programme
  AND (a.household_id <> c.household_id OR a.region <> c.region)
  AND a.period_from <= $current_month
  AND (a.period_to IS NULL OR a.period_to >= $current_month)
