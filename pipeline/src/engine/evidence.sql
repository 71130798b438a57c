-- The evidence behind every finding: one row per department record that causes one, with
-- (hh, rule, person_key, source, record_key, key_a, key_b, amount_fen, date, measure, file,
-- line). `hh` is the household's integer key from members.parquet (the engine spells out the
-- household id; joins, groups and the sort on integers cost less time and memory).
-- `record_key` is the record's natural key in its source (plate, unit, account, month,
-- credit code); for records keyed by resident IDs it is NULL and key_a
-- (+ key_b) hold the packed IDs it is made of. `measure` carries a rule's own measured value
-- where it is not a count (a sole trader's staff). `file` and `line` locate the record in the
-- department's delivery.
--
-- The sum tests (income, assets) take their members from `income_members` and `asset_members`
-- (the counted members of the households over the line or the limit, written by the engine
-- from `metrics` before these queries: as tables of their own their few rows are known to be
-- few, and the joins are built on them rather than on the department tables), and ask
-- `may_be_over_line` / `may_be_over_limit` first: the engine's Bloom filters of those same
-- members (prefilter.rs), which drop nearly every other record as the tables are read, so
-- the joins see a few per cent of the rows. The others are tests on records; the spouse and
-- minor-child rules ask `may_be_declared` (a filter of every declared member) first in the
-- same way. (The vehicle and duplicate-benefit rules did not gain by it: benches/README.md.) Dates are compared with the batch date {as_of};
-- "owned at the batch date" means registered on or before it and not deregistered by then.
WITH m AS (
    SELECT household_id, hh, person_key, excluded, CAST(programme AS VARCHAR) AS programme, region FROM members
),
counted AS (
    SELECT hh, person_key FROM m WHERE excluded IS NULL
),
snapshots AS (
    SELECT person_key, 'bank_deposit' AS src, account AS acct, balance_fen AS fen, as_of,
           CAST(_file AS VARCHAR) AS file, _line AS line
    FROM bank_deposit
    WHERE as_of <= DATE '{as_of}' AND may_be_over_limit(person_key) AND person_key IN (SELECT person_key FROM asset_members)
    UNION ALL
    SELECT person_key, 'securities', account, market_value_fen, as_of, CAST(_file AS VARCHAR), _line
    FROM securities
    WHERE as_of <= DATE '{as_of}' AND may_be_over_limit(person_key) AND person_key IN (SELECT person_key FROM asset_members)
    UNION ALL
    SELECT person_key, 'commercial_insurance', policy_no, cash_value_fen, as_of, CAST(_file AS VARCHAR), _line
    FROM commercial_insurance
    WHERE as_of <= DATE '{as_of}' AND may_be_over_limit(person_key) AND person_key IN (SELECT person_key FROM asset_members)
    UNION ALL
    SELECT person_key, 'internet_finance', account, balance_fen, as_of, CAST(_file AS VARCHAR), _line
    FROM internet_finance
    WHERE as_of <= DATE '{as_of}' AND may_be_over_limit(person_key) AND person_key IN (SELECT person_key FROM asset_members)
),
latest AS (
    SELECT person_key, src, acct, fen, as_of, file, line,
           ROW_NUMBER() OVER (PARTITION BY person_key, src, acct ORDER BY as_of DESC, fen DESC) AS rn
    FROM snapshots
),
-- Units counted once per household (a home two members own together is one home). DISTINCT
-- first and plain sums after: a grouped COUNT(DISTINCT) keeps a hash set per household and
-- took 2 GB and 3 s at 100,000 households (benches/README.md). `units` (units.sql) is a table
-- the engine writes first: read twice here, as a view it joined the real estate to the
-- members twice, and both hash tables were held at once.
unit_list AS (
    SELECT DISTINCT hh, unit_no, use_ FROM units
),
property AS (
    SELECT hh FROM unit_list
    GROUP BY hh
    HAVING SUM(CASE WHEN use_ = 'residential' THEN 1 ELSE 0 END) > {max_residential}
        OR SUM(CASE WHEN use_ IN ({forbidden_uses}) THEN 1 ELSE 0 END) > 0
),
businesses AS (
    SELECT c.hh, b.person_key, b.credit_code, b.capital_fen, b.established_on,
           CAST(b.entity_type AS VARCHAR) AS entity_type, CAST(b.role AS VARCHAR) AS role_, b.staff,
           CAST(b._file AS VARCHAR) AS file, b._line AS line
    FROM business b JOIN counted c ON c.person_key = b.person_key
    WHERE b.established_on <= DATE '{as_of}'
      AND (b.status = 'active' OR b.status_date > DATE '{as_of}')
)
-- The rules.
-- The engine runs each branch below as a query of its own, one after the other, with the
-- definitions above: their hash tables over every member are then never held at once. The
-- lines reading `UNION ALL` alone separate them.
-- Income: every counted income record of the counted members of a household over the line.
SELECT c.hh, 'income_over_line' AS rule, t.person_key, 'tax' AS source,
       CONCAT(CAST(t.month AS VARCHAR), '/', CAST(t.income_type AS VARCHAR)) AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b,
       t.income_fen AS amount_fen, CAST(t.month AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure,
       CAST(t._file AS VARCHAR) AS file, t._line AS line
FROM tax t JOIN income_members c ON c.person_key = t.person_key
WHERE may_be_over_line(t.person_key) AND t.month BETWEEN {ws} AND {we}
  AND (({count_tax_wage} AND t.income_type = 'wage') OR t.income_type IN ({other_tax_types}))
UNION ALL
SELECT c.hh, 'income_over_line', p.person_key, 'public_payroll', CAST(p.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, p.salary_fen AS amount_fen, CAST(p.month AS VARCHAR) AS date, NULL AS measure, CAST(p._file AS VARCHAR), p._line
FROM public_payroll p JOIN income_members c ON c.person_key = p.person_key
WHERE may_be_over_line(p.person_key) AND p.month BETWEEN {ws} AND {we}
UNION ALL
SELECT c.hh, 'income_over_line', s.person_key, 'social_insurance', CAST(s.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, s.base_fen AS amount_fen, CAST(s.month AS VARCHAR) AS date, NULL AS measure, CAST(s._file AS VARCHAR), s._line
FROM social_insurance s JOIN income_members c ON c.person_key = s.person_key
WHERE may_be_over_line(s.person_key) AND s.month BETWEEN {ws} AND {we}
UNION ALL
SELECT c.hh, 'income_over_line', f.person_key, 'provident_fund', CAST(f.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, f.base_fen AS amount_fen, CAST(f.month AS VARCHAR) AS date, NULL AS measure, CAST(f._file AS VARCHAR), f._line
FROM provident_fund f JOIN income_members c ON c.person_key = f.person_key
WHERE may_be_over_line(f.person_key) AND f.month BETWEEN {ws} AND {we}
UNION ALL
SELECT c.hh, 'income_over_line', p.person_key, 'pension', CAST(p.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, p.amount_fen AS amount_fen, CAST(p.month AS VARCHAR) AS date, NULL AS measure, CAST(p._file AS VARCHAR), p._line
FROM pension p JOIN income_members c ON c.person_key = p.person_key
WHERE may_be_over_line(p.person_key) AND p.month BETWEEN {ws} AND {we} AND p.scheme IN ({pension_schemes})
UNION ALL
SELECT c.hh, 'income_over_line', u.person_key, 'unemployment_benefit', CAST(u.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, u.amount_fen AS amount_fen, CAST(u.month AS VARCHAR) AS date, NULL AS measure, CAST(u._file AS VARCHAR), u._line
FROM unemployment_benefit u JOIN income_members c ON c.person_key = u.person_key
WHERE may_be_over_line(u.person_key) AND {count_unemployment} AND u.month BETWEEN {ws} AND {we}
UNION ALL
-- Assets: the latest snapshot of every account of the counted members over the limit.
SELECT c.hh, 'assets_over_limit', l.person_key, l.src, l.acct,
       NULL AS key_a, NULL AS key_b, l.fen, CAST(l.as_of AS VARCHAR) AS date, NULL AS measure, l.file, l.line
FROM latest l JOIN asset_members c ON c.person_key = l.person_key
WHERE l.rn = 1
UNION ALL
SELECT u.hh, 'property_excess', u.person_key, 'real_estate', u.unit_no,
       NULL AS key_a, NULL AS key_b, NULL AS amount_fen, CAST(u.registered_on AS VARCHAR) AS date, NULL AS measure, u.file, u.line
FROM units u JOIN property p ON p.hh = u.hh
UNION ALL
SELECT c.hh, 'vehicle_owned', v.owner_key, 'vehicle', v.plate,
       NULL AS key_a, NULL AS key_b, v.value_fen AS amount_fen, CAST(v.registered_on AS VARCHAR) AS date, NULL AS measure, CAST(v._file AS VARCHAR), v._line
FROM vehicle v JOIN counted c ON c.person_key = v.owner_key
WHERE v.registered_on <= DATE '{as_of}'
  AND (v.deregistered_on IS NULL OR v.deregistered_on > DATE '{as_of}')
  AND v.vehicle_type NOT IN ({exempt_vehicles})
UNION ALL
SELECT c.hh, 'vessel_owned', v.owner_key, 'vessel', v.vessel_no,
       NULL AS key_a, NULL AS key_b, v.value_fen AS amount_fen, CAST(v.registered_on AS VARCHAR) AS date, NULL AS measure, CAST(v._file AS VARCHAR), v._line
FROM vessel v JOIN counted c ON c.person_key = v.owner_key
WHERE v.registered_on <= DATE '{as_of}'
  AND (v.deregistered_on IS NULL OR v.deregistered_on > DATE '{as_of}')
UNION ALL
SELECT hh,
       CASE WHEN entity_type = 'sole_trader' AND staff <= {sole_trader_max_staff}
            THEN 'sole_trader_review' ELSE 'business_registered' END,
       person_key, 'business', credit_code,
       NULL AS key_a, NULL AS key_b, capital_fen, CAST(established_on AS VARCHAR) AS date, staff, file, line
FROM businesses
WHERE entity_type = 'sole_trader' OR role_ IN ('legal_representative', 'shareholder')
UNION ALL
SELECT c.hh, 'public_payroll' AS rule, p.person_key, 'public_payroll' AS source, CAST(p.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, NULL AS amount_fen, CAST(p.month AS VARCHAR) AS date, NULL AS measure, CAST(p._file AS VARCHAR), p._line
FROM public_payroll p JOIN counted c ON c.person_key = p.person_key
WHERE p.month BETWEEN {ws} AND {we}
UNION ALL
SELECT c.hh, 'duplicate_benefit', a.person_key, 'assistance', a.household_id,
       NULL AS key_a, NULL AS key_b, a.amount_fen AS amount_fen, CAST(a.period_from AS VARCHAR) AS date, NULL AS measure, CAST(a._file AS VARCHAR), a._line
FROM assistance a
JOIN m c ON c.person_key = a.person_key AND c.excluded IS NULL
WHERE CAST(a.programme AS VARCHAR) = c.programme
  AND (a.household_id <> c.household_id OR a.region <> c.region)
  AND a.period_from <= {current_month}
  AND (a.period_to IS NULL OR a.period_to >= {current_month})
UNION ALL
SELECT d.hh, 'declared_member_dead', x.person_key, 'death', NULL AS record_key,
       x.person_key AS key_a, NULL AS key_b, NULL AS amount_fen, CAST(x.death_date AS VARCHAR) AS date, NULL AS measure, CAST(x._file AS VARCHAR), x._line
FROM death x JOIN m d ON d.person_key = x.person_key AND d.excluded = 'dead'
WHERE x.death_date <= DATE '{as_of}'
UNION ALL
SELECT d.hh, 'declared_member_dead', x.person_key, 'cremation', NULL AS record_key,
       x.person_key AS key_a, NULL AS key_b, NULL AS amount_fen, CAST(x.cremation_date AS VARCHAR) AS date, NULL AS measure, CAST(x._file AS VARCHAR), x._line
FROM cremation x JOIN m d ON d.person_key = x.person_key AND d.excluded = 'dead'
WHERE x.cremation_date <= DATE '{as_of}'
UNION ALL
-- Spouses: the latest marriage event of each declared member with someone outside the
-- household, when it is a marriage. The join to the declared members keeps their events
-- (no semi-join first: it held a hash table over every member per side); the event and file
-- stay dictionary-encoded and the record's two IDs are one flag until the end, so the join's
-- hash tables are narrow.
SELECT hh, 'undeclared_spouse', other_key, 'marriage', NULL AS record_key,
       CASE WHEN flipped THEN other_key ELSE me_key END AS rec_a,
       CASE WHEN flipped THEN me_key ELSE other_key END AS rec_b,
       NULL AS amount_fen, CAST(event_date AS VARCHAR) AS date, NULL AS measure,
       CAST(file AS VARCHAR), line
FROM (
    SELECT d.hh, e.me_key, e.other_key, e.flipped, e.event, e.event_date, e.file, e.line,
           ROW_NUMBER() OVER (PARTITION BY d.hh, e.me_key, e.other_key
                              ORDER BY e.event_date DESC, CAST(e.event AS VARCHAR) DESC) AS rn
    FROM (
        SELECT person_key AS me_key, spouse_key AS other_key, false AS flipped, event, event_date,
               _file AS file, _line AS line
        FROM marriage WHERE event_date <= DATE '{as_of}' AND may_be_declared(person_key)
        UNION ALL
        SELECT spouse_key AS me_key, person_key AS other_key, true AS flipped, event, event_date,
               _file AS file, _line AS line
        FROM marriage WHERE event_date <= DATE '{as_of}' AND may_be_declared(spouse_key)
    ) e
    JOIN m d ON d.person_key = e.me_key
    WHERE NOT EXISTS (SELECT 1 FROM m x WHERE x.hh = d.hh AND x.person_key = e.other_key)
) s
WHERE rn = 1 AND CAST(event AS VARCHAR) = 'marriage'
UNION ALL
SELECT DISTINCT d.hh, 'undeclared_minor_child' AS rule, h.person_key, 'hukou' AS source, h.hukou_no AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, CAST(NULL AS BIGINT) AS amount_fen,
       CAST(h.status_date AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure, CAST(h._file AS VARCHAR) AS file,
       h._line AS line
FROM hukou h
JOIN (
    SELECT DISTINCT m.hh, hk.hukou_no
    FROM hukou hk JOIN m ON m.person_key = hk.person_key
    WHERE may_be_declared(hk.person_key)
) d ON d.hukou_no = h.hukou_no
WHERE h.relation_to_head = 'child'
  AND h.status = 'active'
  AND (h.person_key / 11 / 1000) % 100000000 > {minor_born_after}
  -- (The members tested are the minors only: the same test on the same key, so the
  -- anti-join reads 0.3 M of the 2.4 M members at 1M households.)
  AND NOT EXISTS (SELECT 1 FROM m x WHERE x.hh = d.hh AND x.person_key = h.person_key
                  AND (x.person_key / 11 / 1000) % 100000000 > {minor_born_after})
UNION ALL
-- Records about a counted member that could not be read: quarantined for any reason but
-- being an exact copy of a record that was read, in a source a rule reads, with the
-- subject's ID valid (ingestion keeps it as `subject_key`). The household cannot PASS on
-- records nobody read. The record key says what was wrong (source, reason, field, and the
-- offending text as people may see it, IDs masked at ingestion); `file` and `line` where.
SELECT c.hh, 'unreadable_records', q.subject_key, CAST(q.source AS VARCHAR),
       concat(CAST(q.source AS VARCHAR), ' ', CAST(q.reason AS VARCHAR),
              CASE WHEN q.field IS NULL THEN '' ELSE concat(' ', q.field) END,
              CASE WHEN q.shown IS NULL THEN '' ELSE concat(' "', q.shown, '"') END) AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, CAST(NULL AS BIGINT) AS amount_fen,
       CAST(NULL AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure, CAST(q.file AS VARCHAR), q.line
FROM quarantine q JOIN counted c ON c.person_key = q.subject_key
WHERE q.subject_key IS NOT NULL
  AND CAST(q.reason AS VARCHAR) <> 'duplicate_row'
  AND CAST(q.source AS VARCHAR) IN ({read_sources})
ORDER BY hh, rule, source, record_key, key_a, key_b, person_key, file, line
