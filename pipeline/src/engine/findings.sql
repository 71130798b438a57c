-- The tests that are not sums: each yields (household_id, rule, person_key, source, record_key)
-- for the member and record behind a finding. Dates are compared with the batch date {as_of};
-- "owned at the batch date" means registered on or before it and not deregistered by then.
WITH m AS (
    SELECT household_id, person_key, excluded, CAST(programme AS VARCHAR) AS programme, region FROM members
),
counted AS (
    SELECT household_id, person_key FROM m WHERE excluded IS NULL
),
keys AS (
    SELECT DISTINCT person_key FROM m
),
units AS (
    SELECT c.household_id, r.owner_key AS person_key, r.unit_no, CAST(r.use AS VARCHAR) AS use_
    FROM real_estate r JOIN counted c ON c.person_key = r.owner_key
    WHERE r.registered_on <= DATE '{as_of}'
      AND (r.deregistered_on IS NULL OR r.deregistered_on > DATE '{as_of}')
),
property AS (
    SELECT household_id FROM units
    GROUP BY household_id
    HAVING COUNT(DISTINCT CASE WHEN use_ = 'residential' THEN unit_no END) > {max_residential}
        OR SUM(CASE WHEN use_ IN ({forbidden_uses}) THEN 1 ELSE 0 END) > 0
),
businesses AS (
    SELECT c.household_id, b.person_key, b.credit_code,
           CAST(b.entity_type AS VARCHAR) AS entity_type, CAST(b.role AS VARCHAR) AS role_, b.staff
    FROM business b JOIN counted c ON c.person_key = b.person_key
    WHERE b.established_on <= DATE '{as_of}'
      AND (CAST(b.status AS VARCHAR) = 'active' OR b.status_date > DATE '{as_of}')
)
SELECT u.household_id, 'property_excess' AS rule, u.person_key, 'real_estate' AS source, u.unit_no AS record_key
FROM units u JOIN property p ON p.household_id = u.household_id
UNION ALL
SELECT c.household_id, 'vehicle_owned', v.owner_key, 'vehicle', v.plate
FROM vehicle v JOIN counted c ON c.person_key = v.owner_key
WHERE v.registered_on <= DATE '{as_of}'
  AND (v.deregistered_on IS NULL OR v.deregistered_on > DATE '{as_of}')
  AND CAST(v.vehicle_type AS VARCHAR) NOT IN ({exempt_vehicles})
UNION ALL
SELECT c.household_id, 'vessel_owned', v.owner_key, 'vessel', v.vessel_no
FROM vessel v JOIN counted c ON c.person_key = v.owner_key
WHERE v.registered_on <= DATE '{as_of}'
  AND (v.deregistered_on IS NULL OR v.deregistered_on > DATE '{as_of}')
UNION ALL
SELECT household_id,
       CASE WHEN entity_type = 'sole_trader' AND staff <= {sole_trader_max_staff}
            THEN 'sole_trader_review' ELSE 'business_registered' END,
       person_key, 'business', credit_code
FROM businesses
WHERE entity_type = 'sole_trader' OR role_ IN ('legal_representative', 'shareholder')
UNION ALL
SELECT DISTINCT c.household_id, 'public_payroll', p.person_key, 'public_payroll', CAST(p.month AS VARCHAR)
FROM public_payroll p JOIN counted c ON c.person_key = p.person_key
WHERE p.month BETWEEN {ws} AND {we}
UNION ALL
SELECT c.household_id, 'duplicate_benefit', a.person_key, 'assistance', a.household_id
FROM assistance a
JOIN m c ON c.person_key = a.person_key AND c.excluded IS NULL
WHERE CAST(a.programme AS VARCHAR) = c.programme
  AND (a.household_id <> c.household_id OR a.region <> c.region)
  AND a.period_from <= {current_month}
  AND (a.period_to IS NULL OR a.period_to >= {current_month})
UNION ALL
SELECT household_id, 'declared_member_dead', person_key, 'death', CAST(person_key AS VARCHAR)
FROM m WHERE excluded = 'dead'
UNION ALL
SELECT household_id, 'no_counted_member', CAST(NULL AS BIGINT), CAST(NULL AS VARCHAR), CAST(NULL AS VARCHAR)
FROM m GROUP BY household_id HAVING SUM(CASE WHEN excluded IS NULL THEN 1 ELSE 0 END) = 0
UNION ALL
SELECT household_id, 'undeclared_spouse', other_key, 'marriage', CAST(other_key AS VARCHAR)
FROM (
    SELECT d.household_id, e.other_key, e.event,
           ROW_NUMBER() OVER (PARTITION BY d.household_id, e.me_key, e.other_key
                              ORDER BY e.event_date DESC, e.event DESC) AS rn
    FROM (
        SELECT person_key AS me_key, spouse_key AS other_key, CAST(event AS VARCHAR) AS event, event_date
        FROM marriage WHERE event_date <= DATE '{as_of}' AND person_key IN (SELECT person_key FROM keys)
        UNION ALL
        SELECT spouse_key, person_key, CAST(event AS VARCHAR), event_date
        FROM marriage WHERE event_date <= DATE '{as_of}' AND spouse_key IN (SELECT person_key FROM keys)
    ) e
    JOIN m d ON d.person_key = e.me_key
    WHERE NOT EXISTS (SELECT 1 FROM m x WHERE x.household_id = d.household_id AND x.person_key = e.other_key)
) s
WHERE rn = 1 AND event = 'marriage'
UNION ALL
SELECT DISTINCT d.household_id, 'undeclared_minor_child', h.person_key, 'hukou', h.hukou_no
FROM hukou h
JOIN (
    SELECT DISTINCT m.household_id, hk.hukou_no
    FROM hukou hk JOIN m ON m.person_key = hk.person_key
) d ON d.hukou_no = h.hukou_no
WHERE CAST(h.relation_to_head AS VARCHAR) = 'child'
  AND CAST(h.status AS VARCHAR) = 'active'
  AND (h.person_key / 11 / 1000) % 100000000 > {minor_born_after}
  AND NOT EXISTS (SELECT 1 FROM m x WHERE x.household_id = d.household_id AND x.person_key = h.person_key)
