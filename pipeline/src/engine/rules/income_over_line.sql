-- Income over the line: every counted income record, in the window $ws..$we (yyyymm), of the
-- counted members of a household over the line (`income_members`, written by the engine from
-- `metrics`: as a table of its own its few rows are known to be few, and the joins are built
-- on it rather than on the department tables). `may_be_over_line` is the engine's Bloom filter
-- of those same members (prefilter.rs): it drops nearly every other record as the tables are
-- read, so the joins see a few per cent of the rows. The parts run as one query: they overlap
-- rather than each starting and draining the cores on its own.
SELECT c.hh, t.person_key, 'tax' AS source,
       CONCAT(CAST(t.month AS VARCHAR), '/', CAST(t.income_type AS VARCHAR)) AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b,
       t.income_fen AS amount_fen, CAST(t.month AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure,
       CAST(t._file AS VARCHAR) AS file, t._line AS line
FROM tax t JOIN income_members c ON c.person_key = t.person_key
WHERE may_be_over_line(t.person_key) AND t.month BETWEEN $ws AND $we
  AND (($count_tax_wage AND t.income_type = 'wage') OR t.income_type IN ($other_tax_types))
UNION ALL
SELECT c.hh, p.person_key, 'public_payroll', CAST(p.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, p.salary_fen AS amount_fen, CAST(p.month AS VARCHAR) AS date, NULL AS measure, CAST(p._file AS VARCHAR), p._line
FROM public_payroll p JOIN income_members c ON c.person_key = p.person_key
WHERE may_be_over_line(p.person_key) AND p.month BETWEEN $ws AND $we
UNION ALL
SELECT c.hh, s.person_key, 'social_insurance', CAST(s.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, s.base_fen AS amount_fen, CAST(s.month AS VARCHAR) AS date, NULL AS measure, CAST(s._file AS VARCHAR), s._line
FROM social_insurance s JOIN income_members c ON c.person_key = s.person_key
WHERE may_be_over_line(s.person_key) AND s.month BETWEEN $ws AND $we
UNION ALL
SELECT c.hh, f.person_key, 'provident_fund', CAST(f.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, f.base_fen AS amount_fen, CAST(f.month AS VARCHAR) AS date, NULL AS measure, CAST(f._file AS VARCHAR), f._line
FROM provident_fund f JOIN income_members c ON c.person_key = f.person_key
WHERE may_be_over_line(f.person_key) AND f.month BETWEEN $ws AND $we
UNION ALL
SELECT c.hh, p.person_key, 'pension', CAST(p.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, p.amount_fen AS amount_fen, CAST(p.month AS VARCHAR) AS date, NULL AS measure, CAST(p._file AS VARCHAR), p._line
FROM pension p JOIN income_members c ON c.person_key = p.person_key
WHERE may_be_over_line(p.person_key) AND p.month BETWEEN $ws AND $we AND p.scheme IN ($pension_schemes)
UNION ALL
SELECT c.hh, u.person_key, 'unemployment_benefit', CAST(u.month AS VARCHAR),
       NULL AS key_a, NULL AS key_b, u.amount_fen AS amount_fen, CAST(u.month AS VARCHAR) AS date, NULL AS measure, CAST(u._file AS VARCHAR), u._line
FROM unemployment_benefit u JOIN income_members c ON c.person_key = u.person_key
WHERE may_be_over_line(u.person_key) AND $count_unemployment AND u.month BETWEEN $ws AND $we
