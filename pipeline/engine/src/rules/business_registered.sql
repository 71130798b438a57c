-- An active business (established on or before $as_of, and active then) whose legal
-- representative or shareholder is a counted member, or a sole trader a counted member runs,
-- unless it is a sole trader with at most $sole_trader_max_staff staff: that one is
-- sole_trader_review's (a staff count not given is not "at most").
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
),
businesses AS (
    SELECT c.hh, b.person_key, b.credit_code, b.capital_fen, b.established_on,
           CAST(b.entity_type AS VARCHAR) AS entity_type, CAST(b.role AS VARCHAR) AS role_, b.staff,
           CAST(b._file AS VARCHAR) AS file, b._line AS line
    FROM business b JOIN counted c ON c.person_key = b.person_key
    WHERE b.established_on <= $as_of
      AND (b.status = 'active' OR b.status_date > $as_of)
)
SELECT hh, person_key, 'business' AS source, credit_code AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, capital_fen AS amount_fen,
       CAST(established_on AS VARCHAR) AS date, staff AS measure, file, line
FROM businesses
WHERE (entity_type = 'sole_trader' OR role_ IN ('legal_representative', 'shareholder'))
  AND NOT COALESCE(entity_type = 'sole_trader' AND staff <= $sole_trader_max_staff, false)
