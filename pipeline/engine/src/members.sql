-- Household resolution: every declared member of every household under check, and whether
-- they count at the batch date $as_of.
--
-- The household's area type (urban, rural, none declared) selects its standard where its
-- region sets two; a snapshot staged before hedui knew area types reads them as NULL.
--
-- A member is excluded when dead on or before the batch date (a death or a cremation record)
-- or held on the batch date (an incarceration record whose period covers it). Those tables
-- are small (tens of thousands of rows per million households): they are reduced per person
-- together and joined to the declared members once, built on their side. The codes are
-- written as plain text.
--
-- A person declared twice in one household (a dirty application) is one member: the rows
-- come out sorted by household, and the engine (members.rs) puts each household's few rows
-- in person order and merges adjacent rows of the same household and person into one, with
-- the least value of each field, as a GROUP BY with MIN would. (That GROUP BY, over string
-- keys and three string MINs, took 0.9 s of the query's 1.9 s at 1M households; the sort is
-- needed anyway. Sorting on the person too made DataFusion compare encoded rows of both
-- keys rather than the household strings: benches/README.md.)
WITH declared AS (
    SELECT household_id,
           arrow_cast(CAST(programme AS VARCHAR), 'Utf8') AS programme,
           region,
           person_key,
           person_id_raw,
           arrow_cast(CAST(relation AS VARCHAR), 'Utf8') AS relation
           , arrow_cast(CAST(area_type AS VARCHAR), 'Utf8') AS area_type
    FROM applications
),
-- Deaths, cremations and incarcerations in force, reduced per person to one row (the
-- earliest death and the earliest detention start), so the declared members are probed
-- once rather than once per kind (each probe of the 2.4 M members at 1M households took
-- about 0.12 s).
status AS (
    SELECT person_key, MIN(died_on) AS died_on, MIN(held_from) AS held_from
    FROM (
        SELECT person_key, death_date AS died_on, CAST(NULL AS DATE) AS held_from FROM death
        WHERE death_date <= $as_of
        UNION ALL
        SELECT person_key, cremation_date, CAST(NULL AS DATE) FROM cremation
        WHERE cremation_date <= $as_of
        UNION ALL
        SELECT person_key, CAST(NULL AS DATE), from_date FROM incarceration
        WHERE from_date <= $as_of
          AND (to_date IS NULL OR to_date >= $as_of)
    ) d
    GROUP BY person_key
)
SELECT m.household_id,
       m.programme,
       m.region,
       m.person_key,
       m.person_id_raw,
       m.relation,
       CASE WHEN s.died_on IS NOT NULL THEN 'dead'
            WHEN s.held_from IS NOT NULL THEN 'incarcerated'
       END AS excluded,
       s.died_on,
       s.held_from
       , m.area_type
FROM declared m
LEFT JOIN status s ON s.person_key = m.person_key
ORDER BY m.household_id
