-- Household metrics: one row per household under check, with everything the sum tests
-- measure and the policy values they are measured against.
--
-- The income test FLAGs when net household income over the window exceeds
-- multiple x standard x counted members x months, compared without dividing:
-- income_fen x 10,000 > multiple_bp x standard_fen x counted x months (multiple in basis
-- points). `income_per_capita_fen` is the monthly figure per counted member a caseworker
-- reads (truncated to the fen; one member when none counts). The asset test FLAGs when financial assets exceed
-- $asset_months x standard x counted members. Equal passes both. `lines` holds, per region and
-- programme, the values the policy has in force at the batch date (`policy_lines`, a table the
-- engine registers from the policy, per registered region, declared area type and programme:
-- a county's own standard, else its city's, else its province's; a region that sets two
-- standards holds a rural household to the rural one, every other to the urban one); a
-- household whose region or programme has none gets NULLs there (and can never PASS).
-- A household's area type is the one its members declare (urban where they disagree: the
-- higher line). A snapshot staged before hedui knew area types reads them as NULL (none
-- declared), and the engine leaves the column out of what it writes (lib.rs, `area_types`).
WITH lines AS (
    SELECT region, area, programme, multiple_bp, standard_fen, standard_from, reference FROM policy_lines
),
-- Households are grouped and joined on `hh`, the integer key members.parquet gives each
-- household in household-id order (string keys cost more to hash, compare and sort); the
-- engine spells the household id out from `hh` as it writes the rows (a string MIN per
-- household cost more than the rest of the grouping).
households AS (
    SELECT hh,
           CAST(MIN(region) AS BIGINT) AS region,
           MIN(CAST(programme AS VARCHAR)) AS programme,
           MAX(area_type) AS area_type,
           COUNT(*) AS declared,
           CAST(SUM(CASE WHEN excluded IS NULL THEN 1 ELSE 0 END) AS BIGINT) AS counted,
           CAST(SUM(CASE WHEN excluded = 'dead' THEN 1 ELSE 0 END) AS BIGINT) AS dead,
           CAST(SUM(CASE WHEN excluded = 'incarcerated' THEN 1 ELSE 0 END) AS BIGINT) AS incarcerated
    FROM members
    GROUP BY hh
),
-- The sums, each written by its own query first (income.sql, assets.sql): run one after the
-- other, their hash tables over every member are never held at once.
income AS (
    SELECT hh, income_fen FROM income_sums
),
assets AS (
    SELECT hh, assets_fen FROM asset_sums
)
SELECT h.hh,
       h.region,
       h.programme,
       h.declared,
       h.counted,
       h.dead,
       h.incarcerated,
       l.standard_fen,
       l.standard_from,
       l.reference,
       l.multiple_bp,
       CAST($months AS BIGINT) AS months,
       COALESCE(i.income_fen, CAST(0 AS BIGINT)) AS income_fen,
       COALESCE(i.income_fen, CAST(0 AS BIGINT)) / (GREATEST(h.counted, 1) * $months) AS income_per_capita_fen,
       l.multiple_bp * l.standard_fen * h.counted * $months / 10000 AS income_limit_fen,
       COALESCE(i.income_fen, 0) * 10000 > l.multiple_bp * l.standard_fen * h.counted * $months AS over_line,
       COALESCE(a.assets_fen, CAST(0 AS BIGINT)) AS assets_fen,
       $asset_months * l.standard_fen * h.counted AS asset_limit_fen,
       COALESCE(a.assets_fen, 0) > $asset_months * l.standard_fen * h.counted AS over_limit
       , h.area_type
FROM households h
LEFT JOIN income i ON i.hh = h.hh
LEFT JOIN assets a ON a.hh = h.hh
LEFT JOIN lines l ON l.region = h.region AND l.programme = h.programme
    AND l.area = COALESCE(h.area_type, '')
ORDER BY h.hh
