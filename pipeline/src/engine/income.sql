-- Net income over the window {ws}..{we} (yyyymm) of each household's counted members.
--
-- Per member and month the wage is the largest of the tax-reported wage, the public payroll
-- salary and the social-insurance and provident-fund contribution bases: one salary reported
-- four ways, never their sum. Other counted income (tax business and property income, counted
-- pension schemes, unemployment benefit when the policy counts it) is added; income tax paid
-- and personal social-insurance contributions in the window are deducted.
--
-- Every department table is read once: each record becomes one row (person, month, its wage
-- figure if it is one, the amount it adds or deducts), so a tax record gives both its wage
-- and its tax paid. The rows about counted members are kept by one semi-join over all of
-- them (after `may_be_counted`, the engine's Bloom filter of the counted members' keys, has
-- dropped most of the others as they are read: prefilter.rs) and aggregated per person: the summed amounts, and the largest wage of each month of
-- the window as an aggregate of its own (the engine writes one
-- `COALESCE(MAX(CASE WHEN month = m THEN wage_fen END), 0)` per month m, added up). Grouping
-- on the person alone is grouping on one integer; per person and month first, then per
-- person, the two groupings took 1.1 s of compute at 1M households (benches/README.md).
-- The persons are joined to the households once.
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
),
figures AS (
    SELECT person_key, month,
           CASE WHEN {count_tax_wage} AND income_type = 'wage' THEN income_fen END AS wage_fen,
           CASE WHEN income_type IN ({other_tax_types}) THEN income_fen ELSE 0 END - tax_fen AS amount_fen
    FROM tax WHERE month BETWEEN {ws} AND {we}
    UNION ALL
    SELECT person_key, month, salary_fen, 0 FROM public_payroll WHERE month BETWEEN {ws} AND {we}
    UNION ALL
    SELECT person_key, month, base_fen, -personal_fen FROM social_insurance WHERE month BETWEEN {ws} AND {we}
    UNION ALL
    SELECT person_key, month, base_fen, 0 FROM provident_fund WHERE month BETWEEN {ws} AND {we}
    UNION ALL
    SELECT person_key, month, CAST(NULL AS BIGINT), amount_fen FROM pension
    WHERE scheme IN ({pension_schemes}) AND month BETWEEN {ws} AND {we}
    UNION ALL
    SELECT person_key, month, CAST(NULL AS BIGINT), amount_fen FROM unemployment_benefit
    WHERE {count_unemployment} AND month BETWEEN {ws} AND {we}
    UNION ALL
    SELECT person_key, month, CAST(NULL AS BIGINT), -out_of_pocket_fen FROM medical_expense
    WHERE {deduct_medical} AND month BETWEEN {ws} AND {we}
),
per_person AS (
    SELECT person_key, {monthly_wages} + COALESCE(SUM(amount_fen), 0) AS fen
    FROM figures
    WHERE may_be_counted(person_key) AND person_key IN (SELECT person_key FROM counted)
    GROUP BY person_key
)
SELECT c.hh,
       COUNT(*) AS counted,
       CAST(COALESCE(SUM(p.fen), 0) AS BIGINT) AS income_fen
FROM counted c
LEFT JOIN per_person p ON p.person_key = c.person_key
GROUP BY c.hh
