-- A motor vehicle a counted member owns at the batch date $as_of (registered on or before it
-- and not deregistered by then), of a type the policy does not exempt ($exempt_vehicles).
WITH counted AS (
    SELECT hh, person_key FROM members WHERE excluded IS NULL
)
SELECT c.hh, v.owner_key AS person_key, 'vehicle' AS source, v.plate AS record_key,
       CAST(NULL AS BIGINT) AS key_a, CAST(NULL AS BIGINT) AS key_b, v.value_fen AS amount_fen,
       CAST(v.registered_on AS VARCHAR) AS date, CAST(NULL AS BIGINT) AS measure,
       CAST(v._file AS VARCHAR) AS file, v._line AS line
FROM vehicle v JOIN counted c ON c.person_key = v.owner_key
WHERE v.registered_on <= $as_of
  AND (v.deregistered_on IS NULL OR v.deregistered_on > $as_of)
  AND v.vehicle_type NOT IN ($exempt_vehicles)
