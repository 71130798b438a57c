-- The counted members' income records over the window: `income_records` (income.rs, from the
-- catalog's `counts` of each source: one row per record of the window the policy keeps, with
-- its member, month, wage figure if it is one, and the amount it adds or deducts), so a tax
-- record gives both its wage and its tax paid.
--
-- The rows about counted members are kept by one semi-join over all of them, after
-- `may_be_counted` (the engine's Bloom filter of the counted members' keys: prefilter.rs) has
-- dropped most of the others as the department tables are read (the filter is pushed into
-- each source's scan). The engine sums them per person (Engine::income_plan) and income.sql
-- per household.
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
)
SELECT person_key, month, wage_fen, amount_fen
FROM income_records
WHERE may_be_counted(person_key) AND person_key IN (SELECT person_key FROM counted)
