-- A minor (born after $minor_born_after, yyyymmdd: the birth date is in the resident ID) who
-- is an active child in the household registration (hukou) of a declared member and was not
-- declared in that household.
WITH m AS (
    SELECT hh, person_key FROM members
)
SELECT DISTINCT d.hh, h.person_key, 'hukou' AS source, h.hukou_no AS record_key,
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
  AND (h.person_key / 11 / 1000) % 100000000 > $minor_born_after
  -- (The members tested are the minors only: the same test on the same key, so the
  -- anti-join reads 0.3 M of the 2.4 M members at 1M households.)
  AND NOT EXISTS (SELECT 1 FROM m x WHERE x.hh = d.hh AND x.person_key = h.person_key
                  AND (x.person_key / 11 / 1000) % 100000000 > $minor_born_after)
