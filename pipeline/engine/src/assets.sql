-- Financial assets per household: per account the latest value on or before the batch date
-- $as_of, summed over each household's counted members. `asset_records` is every snapshot
-- of every source the catalog tags as holding an asset (assets.rs; values dated after the
-- batch date are left out there), with the source's catalog number (`src`: an integer is
-- cheaper to group on than the source's name) and its account number. The snapshots are kept
-- to the counted members by one semi-join over all of them (after the Bloom filter
-- `may_be_counted` has dropped most others: prefilter.rs). The limit and the test are in
-- metrics.sql.
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
),
snapshots AS (
    SELECT person_key, src, acct, fen, as_of FROM asset_records
),
-- The latest snapshot per account (the larger value when two share a date): the largest
-- (date, value) pair, packed exactly into one 128-bit decimal, days x 10^20 + fen (fen is a
-- non-negative 64-bit integer, below 10^20), so a plain MAX finds it and the remainder is
-- the value. (ROW_NUMBER over 3.9 M snapshots took 5 s at 1M households, the ordered
-- aggregate first_value(fen ORDER BY as_of DESC, fen DESC) 4.4 s of compute: it keeps rows
-- per group; MAX keeps one number.)
latest AS (
    SELECT person_key,
           CAST(MAX((CAST(CAST(as_of AS INT) AS DECIMAL(38, 0)) + 100000000) * CAST(100000000000000000000 AS DECIMAL(38, 0))
                    + CAST(fen AS DECIMAL(38, 0)))
                % CAST(100000000000000000000 AS DECIMAL(38, 0)) AS BIGINT) AS fen
    FROM snapshots
    WHERE may_be_counted(person_key) AND person_key IN (SELECT person_key FROM counted)
    GROUP BY person_key, src, acct
),
per_person AS (
    SELECT person_key, SUM(fen) AS fen FROM latest GROUP BY person_key
)
SELECT c.hh, CAST(COALESCE(SUM(p.fen), 0) AS BIGINT) AS assets_fen
FROM counted c LEFT JOIN per_person p ON p.person_key = c.person_key
GROUP BY c.hh
