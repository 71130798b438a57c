-- Property beyond what is allowed: every unit the counted members of a household own
-- (`units`, units.sql, written by the engine first) when they own more than $max_residential
-- homes or any unit of a forbidden use ($forbidden_uses). Units are counted once per
-- household (a home two members own together is one home): DISTINCT first and plain sums
-- after (a grouped COUNT(DISTINCT) keeps a hash set per household and took 2 GB and 3 s at
-- 100,000 households: benches/README.md).
WITH unit_list AS (
    SELECT DISTINCT hh, unit_no, use_ FROM units
),
property AS (
    SELECT hh FROM unit_list
    GROUP BY hh
    HAVING SUM(CASE WHEN use_ = 'residential' THEN 1 ELSE 0 END) > $max_residential
        OR SUM(CASE WHEN use_ IN ($forbidden_uses) THEN 1 ELSE 0 END) > 0
)
SELECT u.hh, u.person_key, 'real_estate' AS source, u.unit_no AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, CAST(NULL AS BIGINT) AS amount_fen,
       CAST(u.registered_on AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure, u.file, u.line
FROM units u JOIN property p ON p.hh = u.hh
