-- Net income over the window of each household's counted members.
--
-- Per member and month the wage is the largest of the tax-reported wage, the public payroll
-- salary and the social-insurance and provident-fund contribution bases: one salary reported
-- four ways, never their sum. Other counted income (tax business and property income, counted
-- pension schemes, unemployment benefit when the policy counts it) is added; income tax paid
-- and personal social-insurance contributions in the window are deducted.
--
-- `income_per_person` is that sum per counted member: the records of income_figures.sql
-- aggregated per person, the summed amounts and the largest wage of each month of the window
-- as an aggregate of its own (income.rs builds one
-- `COALESCE(MAX(CASE WHEN month = m THEN wage_fen END), 0)` per month m, added up). Grouping
-- on the person alone is grouping on one integer; per person and month first, then per
-- person, the two groupings took 1.1 s of compute at 1M households (benches/README.md).
-- The persons are joined to the households once, here.
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
)
SELECT c.hh,
       COUNT(*) AS counted,
       CAST(COALESCE(SUM(p.fen), 0) AS BIGINT) AS income_fen
FROM counted c
LEFT JOIN income_per_person p ON p.person_key = c.person_key
GROUP BY c.hh
