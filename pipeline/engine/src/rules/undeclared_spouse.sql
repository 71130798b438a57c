-- Spouses: the latest marriage event (on or before $as_of) of each declared member with
-- someone outside the household, when it is a marriage. The join to the declared members
-- keeps their events (no semi-join first: it held a hash table over every member per side;
-- `may_be_declared`, the engine's Bloom filter of the declared members, drops most others as
-- the table is read); the event and file stay dictionary-encoded and the record's two IDs are
-- one flag until the end, so the join's hash tables are narrow.
WITH m AS (
    SELECT hh, person_key FROM members
)
SELECT hh, other_key AS person_key, 'marriage' AS source, CAST(NULL AS VARCHAR) AS record_key,
       CASE WHEN flipped THEN other_key ELSE me_key END AS key_a,
       CASE WHEN flipped THEN me_key ELSE other_key END AS key_b,
       CAST(NULL AS BIGINT) AS amount_fen, CAST(event_date AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure,
       CAST(file AS VARCHAR) AS file, line
FROM (
    SELECT d.hh, e.me_key, e.other_key, e.flipped, e.event, e.event_date, e.file, e.line,
           ROW_NUMBER() OVER (PARTITION BY d.hh, e.me_key, e.other_key
                              ORDER BY e.event_date DESC, CAST(e.event AS VARCHAR) DESC) AS rn
    FROM (
        SELECT person_key AS me_key, spouse_key AS other_key, false AS flipped, event, event_date,
               _file AS file, _line AS line
        FROM marriage WHERE event_date <= $as_of AND may_be_declared(person_key)
        UNION ALL
        SELECT spouse_key AS me_key, person_key AS other_key, true AS flipped, event, event_date,
               _file AS file, _line AS line
        FROM marriage WHERE event_date <= $as_of AND may_be_declared(spouse_key)
    ) e
    JOIN m d ON d.person_key = e.me_key
    WHERE NOT EXISTS (SELECT 1 FROM m x WHERE x.hh = d.hh AND x.person_key = e.other_key)
) s
WHERE rn = 1 AND CAST(event AS VARCHAR) = 'marriage'
