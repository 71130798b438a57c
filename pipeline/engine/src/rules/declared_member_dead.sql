-- A declared member with a death or cremation record on or before $as_of (members.sql has
-- excluded them as `dead`; a probable record, one whose ID did not read that the linkage
-- attributed to the member, has not: households are resolved on the records read, but the
-- finding is there, REVIEW as it rests on probable records alone). The records are keyed by
-- the member's resident ID.
WITH m AS (
    SELECT hh, person_key, excluded FROM members
)
SELECT d.hh, x.person_key, 'death' AS source, CAST(NULL AS VARCHAR) AS record_key,
       x.person_key AS key_a, CAST(NULL AS BIGINT) AS key_b, CAST(NULL AS BIGINT) AS amount_fen,
       CAST(x.death_date AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure,
       CAST(x._file AS VARCHAR) AS file, x._line AS line
FROM death x JOIN m d ON d.person_key = x.person_key
WHERE x.death_date <= $as_of
UNION ALL
SELECT d.hh, x.person_key, 'cremation', NULL AS record_key,
       x.person_key AS key_a, NULL AS key_b, NULL AS amount_fen, CAST(x.cremation_date AS VARCHAR) AS date, NULL AS measure, CAST(x._file AS VARCHAR), x._line
FROM cremation x JOIN m d ON d.person_key = x.person_key
WHERE x.cremation_date <= $as_of
