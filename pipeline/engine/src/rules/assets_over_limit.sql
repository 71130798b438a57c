-- Assets over the limit: the latest snapshot on or before the batch date $as_of of every
-- account of the counted members of a household over the limit (`asset_members`; its Bloom
-- filter `may_be_over_limit` first, as for income), from every source the catalog tags as
-- holding an asset (`asset_records`: assets.rs).
WITH snapshots AS (
    SELECT person_key, source AS src, acct, fen, as_of, file, line
    FROM asset_records
    WHERE may_be_over_limit(person_key) AND person_key IN (SELECT person_key FROM asset_members)
),
latest AS (
    SELECT person_key, src, acct, fen, as_of, file, line,
           ROW_NUMBER() OVER (PARTITION BY person_key, src, acct ORDER BY as_of DESC, fen DESC) AS rn
    FROM snapshots
)
SELECT c.hh, l.person_key, l.src AS source, l.acct AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, l.fen AS amount_fen,
       CAST(l.as_of AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure, l.file, l.line
FROM latest l JOIN asset_members c ON c.person_key = l.person_key
WHERE l.rn = 1
