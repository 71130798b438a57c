-- A counted member who is declared in another household of the batch too (any region or
-- programme), or whom the assistance register shows receiving another programme, in the
-- batch's month $current_month, under another household id in another region (the same
-- programme is duplicate_benefit's).
--
-- The evidence is both declarations: the other household's (its record key names the
-- household, its region and its programme) and the household's own (no record key: it is
-- not a second household). The people declared twice are found from the engine's own
-- members table, grouped on its integer household key (a person in one household has one
-- key there), so the 2.4 M members at 1M households are grouped on integers once, and only
-- the few declared twice are joined back to the applications.
WITH m AS (
    SELECT household_id, hh, person_key, excluded, CAST(programme AS VARCHAR) AS programme, region
    FROM members
),
twice AS (
    SELECT person_key FROM members GROUP BY person_key HAVING MIN(hh) <> MAX(hh)
)
SELECT c.hh, x.person_key, 'applications' AS source,
       CASE WHEN x.household_id <> c.household_id
            THEN x.household_id || '/' || CAST(x.region AS VARCHAR) || '/' || CAST(x.programme AS VARCHAR)
       END AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, CAST(NULL AS BIGINT) AS amount_fen,
       CAST(x.application_date AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure,
       CAST(x._file AS VARCHAR) AS file, x._line AS line
FROM applications x
JOIN twice t ON t.person_key = x.person_key
JOIN m c ON c.person_key = x.person_key AND c.excluded IS NULL
UNION ALL
SELECT c.hh, a.person_key, 'assistance',
       a.household_id || '/' || CAST(a.region AS VARCHAR) || '/' || CAST(a.programme AS VARCHAR),
       NULL, NULL, a.amount_fen, CAST(a.period_from AS VARCHAR), NULL,
       CAST(a._file AS VARCHAR), a._line
FROM assistance a
JOIN m c ON c.person_key = a.person_key AND c.excluded IS NULL
WHERE CAST(a.programme AS VARCHAR) <> c.programme
  AND a.household_id <> c.household_id
  AND a.region <> c.region
  AND a.period_from <= $current_month
  AND (a.period_to IS NULL OR a.period_to >= $current_month)
