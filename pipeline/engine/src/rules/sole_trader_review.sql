-- A sole trader (个体工商户) a counted member runs, active at $as_of, with at most
-- $sole_trader_max_staff registered staff: a caseworker checks its income (review rather
-- than FLAG). Its staff is the measured value.
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
),
businesses AS (
    SELECT c.hh, b.person_key, b.credit_code, b.capital_fen, b.established_on,
           CAST(b.entity_type AS VARCHAR) AS entity_type, b.staff,
           CAST(b._file AS VARCHAR) AS file, b._line AS line
    FROM business b JOIN counted c ON c.person_key = b.person_key
    WHERE b.established_on <= $as_of
      AND (b.status = 'active' OR b.status_date > $as_of)
)
SELECT hh, person_key, 'business' AS source, credit_code AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, capital_fen AS amount_fen,
       CAST(established_on AS VARCHAR) AS date, staff AS measure, file, line
FROM businesses
WHERE entity_type = 'sole_trader' AND staff <= $sole_trader_max_staff
