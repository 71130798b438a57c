-- Income over the line: every record of the window that counts as income (`income_evidence`:
-- income.rs builds it from the catalog's `counts` of each source feeding income) of the
-- counted members of a household over the line (`income_members`, written by the engine from
-- `metrics`: as a table of its own its few rows are known to be few, and the join is built on
-- it rather than on the department tables). `may_be_over_line` is the engine's Bloom filter
-- of those same members (prefilter.rs), pushed into each source's scan: it drops nearly every
-- other record as the tables are read, so the join sees a few per cent of the rows.
SELECT c.hh, r.person_key, r.source, r.record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b,
       r.amount_fen, r.date, CAST(NULL AS BIGINT) AS measure, r.file, r.line
FROM income_evidence r JOIN income_members c ON c.person_key = r.person_key
WHERE may_be_over_line(r.person_key)
