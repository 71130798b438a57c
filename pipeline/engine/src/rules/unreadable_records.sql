-- Records about a counted member that could not be read: quarantined for any reason but
-- being an exact copy of a record that was read, in a source a rule reads ($read_sources),
-- with the subject's ID valid (ingestion keeps it as `subject_key`); and records whose
-- subject's ID does not read that the linkage stage attributed to the member but that were
-- not read (`linked`: `ambiguous` between them and another, or `linked` to them with another
-- field that did not read either; a linked record that read is a probable record, read by
-- the sums and the rules, or a copy of a record read: probable.rs). The household cannot
-- PASS on records nobody read. The record key says what was wrong (source, reason, field, and the
-- offending text as people may see it, IDs masked at ingestion; then the linkage's status);
-- `file` and `line` where.
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
)
SELECT c.hh, q.subject_key AS person_key, CAST(q.source AS VARCHAR) AS source,
       concat(CAST(q.source AS VARCHAR), ' ', CAST(q.reason AS VARCHAR),
              CASE WHEN q.field IS NULL THEN '' ELSE concat(' ', q.field) END,
              CASE WHEN q.shown IS NULL THEN '' ELSE concat(' "', q.shown, '"') END) AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, CAST(NULL AS BIGINT) AS amount_fen,
       CAST(NULL AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure, CAST(q.file AS VARCHAR) AS file, q.line
FROM quarantine q JOIN counted c ON c.person_key = q.subject_key
WHERE q.subject_key IS NOT NULL
  AND CAST(q.reason AS VARCHAR) <> 'duplicate_row'
  AND CAST(q.source AS VARCHAR) IN ($read_sources)
UNION ALL
SELECT c.hh, l.person_key, l.source,
       concat(l.source, ' ', l.reason, ' ', l.field, ' "', l.shown, '" ', l.status) AS record_key,
       NULL, NULL, NULL, NULL, NULL, l.file, l.line
FROM linked l JOIN counted c ON c.person_key = l.person_key
WHERE NOT l.read
