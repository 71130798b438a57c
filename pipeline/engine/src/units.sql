-- Real estate owned at the batch date $as_of by the counted members (registered on or before
-- it and not deregistered by then), with its household: the property test's units
-- (the property rule's evidence, rules/property_excess.sql, reads them as the table `units`). `may_be_counted` (prefilter.rs) drops most
-- units of anyone else as the table is read, before the join.
SELECT c.hh, r.owner_key AS person_key, r.unit_no, CAST(r.use AS VARCHAR) AS use_,
       r.registered_on, CAST(r._file AS VARCHAR) AS file, r._line AS line
FROM real_estate r
JOIN (SELECT hh, person_key FROM members WHERE excluded IS NULL) c ON c.person_key = r.owner_key
WHERE may_be_counted(r.owner_key) AND r.registered_on <= $as_of
  AND (r.deregistered_on IS NULL OR r.deregistered_on > $as_of)
