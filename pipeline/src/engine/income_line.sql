-- The income test: FLAG when net household income over the window exceeds
-- multiple x standard x counted members x months, compared without dividing:
-- income_fen x 10,000 > multiple_bp x standard_fen x counted x months (multiple in basis
-- points). Equal passes. `lines` holds, per region and programme, the values the policy has
-- in force at the batch date; a household whose region has none gets NULLs (never a PASS).
WITH lines (region, programme, multiple_bp, standard_fen, standard_from, reference) AS (
    VALUES {lines}
),
households AS (
    SELECT household_id,
           CAST(MIN(region) AS BIGINT) AS region,
           MIN(CAST(programme AS VARCHAR)) AS programme
    FROM members
    GROUP BY household_id
),
income AS (
{income}
)
SELECT i.household_id,
       h.region,
       h.programme,
       i.counted,
       i.income_fen,
       l.multiple_bp,
       l.standard_fen,
       l.standard_from,
       l.reference,
       l.multiple_bp * l.standard_fen * i.counted * {months} / 10000 AS limit_fen,
       i.income_fen * 10000 > l.multiple_bp * l.standard_fen * i.counted * {months} AS over_line
FROM income i
JOIN households h ON h.household_id = i.household_id
LEFT JOIN lines l ON l.region = h.region AND l.programme = h.programme
ORDER BY i.household_id
