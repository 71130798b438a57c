-- The verification core written as one would by hand in DuckDB: the same members, sums,
-- rules and outcomes as hedui's engine (pipeline/engine/src/*.sql), without the evidence
-- rows, sentences or manifests. Placeholders ({as_of}, {ws}, ...) are filled from the
-- parameters hedui derives from the policy (`hedui::engine::Parameters`); every source is a
-- view over its staged Parquet file.

CREATE TEMP TABLE members AS
WITH declared AS (
    SELECT household_id, MIN(CAST(programme AS VARCHAR)) AS programme, MIN(region) AS region, person_key,
           MIN(CAST(area_type AS VARCHAR)) AS area_type
    FROM applications GROUP BY household_id, person_key
),
dead AS (
    SELECT person_key FROM death_certain WHERE death_date <= DATE '{as_of}'
    UNION
    SELECT person_key FROM cremation_certain WHERE cremation_date <= DATE '{as_of}'
),
held AS (
    SELECT DISTINCT person_key FROM incarceration_certain
    WHERE from_date <= DATE '{as_of}' AND (to_date IS NULL OR to_date >= DATE '{as_of}')
)
SELECT d.*,
       CASE WHEN d.person_key IN (SELECT person_key FROM dead) THEN 'dead'
            WHEN d.person_key IN (SELECT person_key FROM held) THEN 'incarcerated' END AS excluded
FROM declared d;

CREATE TEMP TABLE counted AS SELECT household_id, person_key FROM members WHERE excluded IS NULL;

CREATE TEMP TABLE income AS
WITH wage_months AS (
    SELECT person_key, month, MAX(fen) AS fen FROM (
        SELECT person_key, month, income_fen AS fen FROM tax
        WHERE {count_tax_wage} AND income_type = 'wage' AND month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, month, salary_fen FROM public_payroll WHERE month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, month, base_fen FROM social_insurance WHERE month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, month, base_fen FROM provident_fund WHERE month BETWEEN {ws} AND {we}
    ) GROUP BY person_key, month
),
per_person AS (
    SELECT person_key, SUM(fen) AS fen FROM (
        SELECT person_key, fen FROM wage_months
        UNION ALL SELECT person_key, income_fen FROM tax
            WHERE income_type IN ({other_tax_types}) AND month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, amount_fen FROM pension
            WHERE scheme IN ({pension_schemes}) AND month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, amount_fen FROM unemployment_benefit
            WHERE {count_unemployment} AND month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, -tax_fen FROM tax WHERE month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, -personal_fen FROM social_insurance WHERE month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, -out_of_pocket_fen FROM medical_expense
            WHERE {deduct_medical} AND month BETWEEN {ws} AND {we}
    ) GROUP BY person_key
)
SELECT c.household_id, CAST(COALESCE(SUM(p.fen), 0) AS BIGINT) AS income_fen
FROM counted c JOIN per_person p USING (person_key)
GROUP BY c.household_id;

CREATE TEMP TABLE assets AS
WITH latest AS (
    SELECT person_key, arg_max(fen, (as_of, fen)) AS fen FROM (
        SELECT person_key, 1 AS src, account AS acct, balance_fen AS fen, as_of FROM bank_deposit WHERE as_of <= DATE '{as_of}'
        UNION ALL SELECT person_key, 2, account, market_value_fen, as_of FROM securities WHERE as_of <= DATE '{as_of}'
        UNION ALL SELECT person_key, 3, policy_no, cash_value_fen, as_of FROM commercial_insurance WHERE as_of <= DATE '{as_of}'
        UNION ALL SELECT person_key, 4, account, balance_fen, as_of FROM internet_finance WHERE as_of <= DATE '{as_of}'
    ) GROUP BY person_key, src, acct
)
SELECT c.household_id, CAST(SUM(l.fen) AS BIGINT) AS assets_fen
FROM counted c JOIN latest l USING (person_key)
GROUP BY c.household_id;

-- The households whose counted members have probable records (duckdb_peer.py) in a source of
-- the sums, and their income and assets without them: the same sums over the staged rows
-- alone (the `_certain` views), of those households' counted members only.
CREATE TEMP TABLE affected AS
SELECT DISTINCT household_id FROM counted WHERE person_key IN (SELECT person_key FROM probable_persons);

CREATE TEMP TABLE affected_members AS
SELECT household_id, person_key FROM counted WHERE household_id IN (SELECT household_id FROM affected);

CREATE TEMP TABLE income_certain AS
WITH k AS (SELECT DISTINCT person_key FROM affected_members),
wage_months AS (
    SELECT person_key, month, MAX(fen) AS fen FROM (
        SELECT person_key, month, income_fen AS fen FROM tax_certain
        WHERE {count_tax_wage} AND income_type = 'wage' AND month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, month, salary_fen FROM public_payroll_certain WHERE month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, month, base_fen FROM social_insurance_certain WHERE month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, month, base_fen FROM provident_fund_certain WHERE month BETWEEN {ws} AND {we}
    ) WHERE person_key IN (SELECT person_key FROM k) GROUP BY person_key, month
),
per_person AS (
    SELECT person_key, SUM(fen) AS fen FROM (
        SELECT person_key, fen FROM wage_months
        UNION ALL SELECT person_key, income_fen FROM tax_certain
            WHERE income_type IN ({other_tax_types}) AND month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, amount_fen FROM pension_certain
            WHERE scheme IN ({pension_schemes}) AND month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, amount_fen FROM unemployment_benefit_certain
            WHERE {count_unemployment} AND month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, -tax_fen FROM tax_certain WHERE month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, -personal_fen FROM social_insurance_certain WHERE month BETWEEN {ws} AND {we}
        UNION ALL SELECT person_key, -out_of_pocket_fen FROM medical_expense_certain
            WHERE {deduct_medical} AND month BETWEEN {ws} AND {we}
    ) WHERE person_key IN (SELECT person_key FROM k) GROUP BY person_key
)
SELECT a.household_id, CAST(COALESCE(SUM(p.fen), 0) AS BIGINT) AS income_fen
FROM affected_members a LEFT JOIN per_person p USING (person_key)
GROUP BY a.household_id;

CREATE TEMP TABLE assets_certain AS
WITH latest AS (
    SELECT person_key, arg_max(fen, (as_of, fen)) AS fen FROM (
        SELECT person_key, 1 AS src, account AS acct, balance_fen AS fen, as_of FROM bank_deposit_certain WHERE as_of <= DATE '{as_of}'
        UNION ALL SELECT person_key, 2, account, market_value_fen, as_of FROM securities_certain WHERE as_of <= DATE '{as_of}'
        UNION ALL SELECT person_key, 3, policy_no, cash_value_fen, as_of FROM commercial_insurance_certain WHERE as_of <= DATE '{as_of}'
        UNION ALL SELECT person_key, 4, account, balance_fen, as_of FROM internet_finance_certain WHERE as_of <= DATE '{as_of}'
    ) WHERE person_key IN (SELECT person_key FROM affected_members) GROUP BY person_key, src, acct
)
SELECT a.household_id, CAST(COALESCE(SUM(l.fen), 0) AS BIGINT) AS assets_fen
FROM affected_members a LEFT JOIN latest l USING (person_key)
GROUP BY a.household_id;

-- The lines in force per policy region (a city's, a county's, the province's); rural_fen is
-- the rural standard where the region sets two (standard_fen is then the urban one).
CREATE TEMP TABLE lines (region INTEGER, programme VARCHAR, multiple_bp BIGINT, standard_fen BIGINT, rural_fen BIGINT);
INSERT INTO lines VALUES {lines};

-- Each registered region's line: its own (a county's), else its city's, else its province's.
CREATE TEMP TABLE region_lines AS
WITH r AS (SELECT DISTINCT region FROM members),
policy_regions AS (SELECT DISTINCT region FROM lines),
resolved AS (
    SELECT r.region,
           CASE WHEN r.region IN (SELECT region FROM policy_regions) THEN r.region
                WHEN r.region // 100 * 100 IN (SELECT region FROM policy_regions) THEN r.region // 100 * 100
                ELSE r.region // 10000 * 10000 END AS at
    FROM r
)
SELECT resolved.region, l.programme, l.multiple_bp, l.standard_fen, l.rural_fen
FROM resolved JOIN lines l ON l.region = resolved.at;

CREATE TEMP TABLE households AS
WITH h0 AS (
    SELECT household_id, MIN(region) AS region, MIN(programme) AS programme,
           MAX(area_type) AS area_type,
           COUNT(*) AS declared, COUNT(*) FILTER (WHERE excluded IS NULL) AS counted
    FROM members GROUP BY household_id
),
-- A rural household is held to the rural standard where there is one; every other (urban,
-- or none declared) to the urban or only one.
h AS (
    SELECT h0.*, l.multiple_bp,
           CASE WHEN h0.area_type = 'rural' AND l.rural_fen IS NOT NULL THEN l.rural_fen
                ELSE l.standard_fen END AS standard_fen
    FROM h0 LEFT JOIN region_lines l ON l.region = h0.region AND l.programme = h0.programme
)
SELECT h.household_id, h.region, h.programme, h.declared, h.counted,
       h.standard_fen, h.multiple_bp,
       COALESCE(i.income_fen, 0) AS income_fen,
       -- integer division truncated toward zero, as hedui does (no floats near money)
       CASE WHEN COALESCE(i.income_fen, 0) >= 0
            THEN COALESCE(i.income_fen, 0) // (GREATEST(h.counted, 1) * {months})
            ELSE -((-i.income_fen) // (GREATEST(h.counted, 1) * {months})) END AS income_per_capita_fen,
       h.multiple_bp * h.standard_fen * h.counted * {months} // 10000 AS income_limit_fen,
       COALESCE(i.income_fen, 0) * 10000 > h.multiple_bp * h.standard_fen * h.counted * {months} AS over_line,
       COALESCE(a.assets_fen, 0) AS assets_fen,
       {asset_months} * h.standard_fen * h.counted AS asset_limit_fen,
       COALESCE(a.assets_fen, 0) > {asset_months} * h.standard_fen * h.counted AS over_limit,
       -- The same tests without the probable records (the households that have some).
       CASE WHEN ic.household_id IS NULL THEN COALESCE(i.income_fen, 0) ELSE ic.income_fen END * 10000
           > h.multiple_bp * h.standard_fen * h.counted * {months} AS over_line_certain,
       CASE WHEN ac.household_id IS NULL THEN COALESCE(a.assets_fen, 0) ELSE ac.assets_fen END
           > {asset_months} * h.standard_fen * h.counted AS over_limit_certain
FROM h
LEFT JOIN income i USING (household_id)
LEFT JOIN assets a USING (household_id)
LEFT JOIN income_certain ic ON ic.household_id = h.household_id
LEFT JOIN assets_certain ac ON ac.household_id = h.household_id
;

CREATE TEMP TABLE findings AS
WITH owned_units AS (
    SELECT DISTINCT c.household_id, r.unit_no, CAST(r.use AS VARCHAR) AS use_
    FROM real_estate r JOIN counted c ON c.person_key = r.owner_key
    WHERE r.registered_on <= DATE '{as_of}' AND (r.deregistered_on IS NULL OR r.deregistered_on > DATE '{as_of}')
),
biz AS (
    SELECT c.household_id, CAST(b.entity_type AS VARCHAR) AS entity_type, b.staff
    FROM business b JOIN counted c ON c.person_key = b.person_key
    WHERE b.established_on <= DATE '{as_of}'
      AND (CAST(b.status AS VARCHAR) = 'active' OR b.status_date > DATE '{as_of}')
      AND (CAST(b.entity_type AS VARCHAR) = 'sole_trader' OR CAST(b.role AS VARCHAR) IN ('legal_representative', 'shareholder'))
),
marriage_events AS (
    SELECT person_key AS me, spouse_key AS other, CAST(event AS VARCHAR) AS event, event_date FROM marriage WHERE event_date <= DATE '{as_of}'
    UNION ALL
    SELECT spouse_key, person_key, CAST(event AS VARCHAR), event_date FROM marriage WHERE event_date <= DATE '{as_of}'
),
latest_marriage AS (
    SELECT m.household_id, e.other, arg_max(e.event, (e.event_date, e.event)) AS event
    FROM marriage_events e JOIN members m ON m.person_key = e.me
    GROUP BY m.household_id, e.me, e.other
),
member_hukou AS (
    SELECT DISTINCT m.household_id, h.hukou_no FROM hukou h JOIN members m USING (person_key)
)
SELECT household_id, 'income_over_line' AS rule FROM households WHERE over_line OR over_line_certain
UNION SELECT household_id, 'assets_over_limit' FROM households WHERE over_limit OR over_limit_certain
UNION SELECT household_id, 'property_excess' FROM owned_units GROUP BY household_id
    HAVING COUNT(*) FILTER (WHERE use_ = 'residential') > {max_residential}
        OR COUNT(*) FILTER (WHERE use_ IN ({forbidden_uses})) > 0
UNION SELECT c.household_id, 'vehicle_owned' FROM vehicle v JOIN counted c ON c.person_key = v.owner_key
    WHERE v.registered_on <= DATE '{as_of}' AND (v.deregistered_on IS NULL OR v.deregistered_on > DATE '{as_of}')
      AND CAST(v.vehicle_type AS VARCHAR) NOT IN ({exempt_vehicles})
UNION SELECT c.household_id, 'vessel_owned' FROM vessel v JOIN counted c ON c.person_key = v.owner_key
    WHERE v.registered_on <= DATE '{as_of}' AND (v.deregistered_on IS NULL OR v.deregistered_on > DATE '{as_of}')
UNION SELECT household_id, CASE WHEN entity_type = 'sole_trader' AND staff <= {sole_trader_max_staff}
                                THEN 'sole_trader_review' ELSE 'business_registered' END FROM biz
UNION SELECT c.household_id, 'public_payroll' FROM public_payroll p JOIN counted c USING (person_key)
    WHERE p.month BETWEEN {ws} AND {we}
UNION SELECT m.household_id, 'duplicate_benefit' FROM assistance a
    JOIN members m ON m.person_key = a.person_key AND m.excluded IS NULL
    WHERE CAST(a.programme AS VARCHAR) = m.programme
      AND (a.household_id <> m.household_id OR a.region <> m.region)
      AND a.period_from <= {current_month} AND (a.period_to IS NULL OR a.period_to >= {current_month})
UNION SELECT c.household_id, 'member_in_two_households' FROM counted c
    WHERE c.person_key IN (SELECT person_key FROM members GROUP BY person_key HAVING COUNT(*) > 1)
UNION SELECT m.household_id, 'member_in_two_households' FROM assistance a
    JOIN members m ON m.person_key = a.person_key AND m.excluded IS NULL
    WHERE CAST(a.programme AS VARCHAR) <> m.programme
      AND a.household_id <> m.household_id AND a.region <> m.region
      AND a.period_from <= {current_month} AND (a.period_to IS NULL OR a.period_to >= {current_month})
UNION SELECT household_id, 'declared_member_dead' FROM members WHERE excluded = 'dead'
-- (a probable death or cremation record of a member who still counts: the `death` and
-- `cremation` views hold the probable records, the members were resolved without them)
UNION SELECT c.household_id, 'declared_member_dead' FROM death d JOIN counted c USING (person_key)
    WHERE d.death_date <= DATE '{as_of}'
UNION SELECT c.household_id, 'declared_member_dead' FROM cremation d JOIN counted c USING (person_key)
    WHERE d.cremation_date <= DATE '{as_of}'
UNION SELECT l.household_id, 'undeclared_spouse' FROM latest_marriage l
    WHERE l.event = 'marriage'
      AND NOT EXISTS (SELECT 1 FROM members x WHERE x.household_id = l.household_id AND x.person_key = l.other)
UNION SELECT d.household_id, 'undeclared_minor_child' FROM hukou h JOIN member_hukou d USING (hukou_no)
    WHERE CAST(h.relation_to_head AS VARCHAR) = 'child' AND CAST(h.status AS VARCHAR) = 'active'
      AND (h.person_key // 11 // 1000) % 100000000 > {minor_born_after}
      AND NOT EXISTS (SELECT 1 FROM members x WHERE x.household_id = d.household_id AND x.person_key = h.person_key)
UNION SELECT household_id, 'no_counted_member' FROM households WHERE counted = 0
UNION SELECT c.household_id, 'unreadable_records' FROM quarantine q JOIN counted c ON c.person_key = q.subject_key
    WHERE q.subject_key IS NOT NULL AND CAST(q.reason AS VARCHAR) <> 'duplicate_row'
      AND CAST(q.source AS VARCHAR) IN ({read_sources})
UNION SELECT c.household_id, 'unreadable_records' FROM linked l JOIN counted c ON c.person_key = l.person_key;

-- A sum's finding that rests on probable records (over the line with them and not without,
-- or the other way round) is REVIEW. (A record rule's finding resting on probable records
-- alone is not told apart here: none is planted in the demo's province.)
CREATE TEMP TABLE resting AS
SELECT household_id, 'income_over_line' AS rule FROM households WHERE over_line <> over_line_certain
UNION SELECT household_id, 'assets_over_limit' FROM households WHERE over_limit <> over_limit_certain;

CREATE TEMP TABLE outcomes AS
SELECT h.household_id,
       CASE WHEN bool_or(f.rule IN ({flag_rules}) AND r.rule IS NULL) THEN 'FLAG'
            WHEN {any_missing} OR h.standard_fen IS NULL THEN 'UNVERIFIED'
            WHEN COUNT(f.rule) > 0 THEN 'REVIEW'
            ELSE 'PASS' END AS outcome
FROM households h LEFT JOIN findings f USING (household_id)
LEFT JOIN resting r ON r.household_id = f.household_id AND r.rule = f.rule
GROUP BY h.household_id, h.standard_fen;

COPY (SELECT household_id, counted, income_fen, income_per_capita_fen, income_limit_fen, assets_fen, asset_limit_fen
      FROM households) TO '{out}/households.parquet' (FORMAT parquet);
COPY findings TO '{out}/findings.parquet' (FORMAT parquet);
COPY outcomes TO '{out}/outcomes.parquet' (FORMAT parquet);
