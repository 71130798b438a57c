-- Net income over the window {ws}..{we} (yyyymm) of each household's counted members.
--
-- Per member and month the wage is the largest of the tax-reported wage, the public payroll
-- salary and the social-insurance and provident-fund contribution bases: one salary reported
-- four ways, never their sum. Other counted income (tax business and property income, counted
-- pension schemes, unemployment benefit when the policy counts it) is added; income tax paid
-- and personal social-insurance contributions in the window are deducted. Everything is
-- aggregated per person before the one join to the household, and only rows about counted
-- members are read past the first filter.
WITH counted AS (
    SELECT household_id, person_key FROM members WHERE excluded IS NULL
),
keys AS (
    -- Semi-joins need no DISTINCT: a person in two households is looked up once anyway.
    SELECT person_key FROM counted
),
wage_figures AS (
    SELECT person_key, month, income_fen AS fen FROM tax
    WHERE {count_tax_wage} AND income_type = 'wage' AND month BETWEEN {ws} AND {we}
      AND person_key IN (SELECT person_key FROM keys)
    UNION ALL
    SELECT person_key, month, salary_fen FROM public_payroll
    WHERE month BETWEEN {ws} AND {we} AND person_key IN (SELECT person_key FROM keys)
    UNION ALL
    SELECT person_key, month, base_fen FROM social_insurance
    WHERE month BETWEEN {ws} AND {we} AND person_key IN (SELECT person_key FROM keys)
    UNION ALL
    SELECT person_key, month, base_fen FROM provident_fund
    WHERE month BETWEEN {ws} AND {we} AND person_key IN (SELECT person_key FROM keys)
),
wage_months AS (
    SELECT person_key, month, MAX(fen) AS fen FROM wage_figures GROUP BY person_key, month
),
amounts AS (
    SELECT person_key, fen FROM wage_months
    UNION ALL
    SELECT person_key, income_fen FROM tax
    WHERE income_type IN ({other_tax_types}) AND month BETWEEN {ws} AND {we}
      AND person_key IN (SELECT person_key FROM keys)
    UNION ALL
    SELECT person_key, amount_fen FROM pension
    WHERE scheme IN ({pension_schemes}) AND month BETWEEN {ws} AND {we}
      AND person_key IN (SELECT person_key FROM keys)
    UNION ALL
    SELECT person_key, amount_fen FROM unemployment_benefit
    WHERE {count_unemployment} AND month BETWEEN {ws} AND {we}
      AND person_key IN (SELECT person_key FROM keys)
    UNION ALL
    SELECT person_key, -tax_fen FROM tax
    WHERE month BETWEEN {ws} AND {we} AND person_key IN (SELECT person_key FROM keys)
    UNION ALL
    SELECT person_key, -personal_fen FROM social_insurance
    WHERE month BETWEEN {ws} AND {we} AND person_key IN (SELECT person_key FROM keys)
    UNION ALL
    SELECT person_key, -out_of_pocket_fen FROM medical_expense
    WHERE {deduct_medical} AND month BETWEEN {ws} AND {we}
      AND person_key IN (SELECT person_key FROM keys)
),
per_person AS (
    SELECT person_key, SUM(fen) AS fen FROM amounts GROUP BY person_key
)
SELECT c.household_id,
       COUNT(*) AS counted,
       CAST(COALESCE(SUM(p.fen), 0) AS BIGINT) AS income_fen
FROM counted c
LEFT JOIN per_person p ON p.person_key = c.person_key
GROUP BY c.household_id

