-- The counted members' income records over the window $ws..$we (yyyymm): one row per record
-- (person, month, its wage figure if it is one, the amount it adds or deducts), so a tax
-- record gives both its wage and its tax paid. What counts is the policy's: the tax-reported
-- wage when $count_tax_wage, the tax income types $other_tax_types, the pension schemes
-- $pension_schemes, unemployment benefit when $count_unemployment, out-of-pocket medical
-- spending deducted when $deduct_medical.
--
-- Every department table is read once. The rows about counted members are kept by one
-- semi-join over all of them, after `may_be_counted` (the engine's Bloom filter of the
-- counted members' keys: prefilter.rs) has dropped most of the others as they are read.
-- The engine sums them per person (income.rs) and income.sql per household.
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
),
figures AS (
    SELECT person_key, month,
           CASE WHEN $count_tax_wage AND income_type = 'wage' THEN income_fen END AS wage_fen,
           CASE WHEN income_type IN ($other_tax_types) THEN income_fen ELSE 0 END - tax_fen AS amount_fen
    FROM tax WHERE month BETWEEN $ws AND $we
    UNION ALL
    SELECT person_key, month, salary_fen, 0 FROM public_payroll WHERE month BETWEEN $ws AND $we
    UNION ALL
    SELECT person_key, month, base_fen, -personal_fen FROM social_insurance WHERE month BETWEEN $ws AND $we
    UNION ALL
    SELECT person_key, month, base_fen, 0 FROM provident_fund WHERE month BETWEEN $ws AND $we
    UNION ALL
    SELECT person_key, month, CAST(NULL AS BIGINT), amount_fen FROM pension
    WHERE scheme IN ($pension_schemes) AND month BETWEEN $ws AND $we
    UNION ALL
    SELECT person_key, month, CAST(NULL AS BIGINT), amount_fen FROM unemployment_benefit
    WHERE $count_unemployment AND month BETWEEN $ws AND $we
    UNION ALL
    SELECT person_key, month, CAST(NULL AS BIGINT), -out_of_pocket_fen FROM medical_expense
    WHERE $deduct_medical AND month BETWEEN $ws AND $we
)
SELECT person_key, month, wage_fen, amount_fen
FROM figures
WHERE may_be_counted(person_key) AND person_key IN (SELECT person_key FROM counted)
