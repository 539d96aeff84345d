-- A traveller's stay ends with the last of their trip's legs, not with the
-- departure date on their record alone: a roster that gave an earlier trip
-- must not have retention remove someone in the middle of a later one.
-- Purged are travellers whose departure and every leg's departure are
-- further back than the retention period; the locking is as before.

CREATE OR REPLACE FUNCTION purge_departed_travellers(p_days integer)
	RETURNS TABLE (mission_id bigint, purged bigint) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	due bigint[];
BEGIN
	SELECT array_agg(c.id) INTO due FROM (
		SELECT n.id FROM national n
		WHERE n.kind = 'traveller' AND n.departure_date < current_date - p_days
			AND NOT EXISTS (SELECT 1 FROM itinerary_leg l WHERE l.national_id = n.id
				AND l.departure >= current_date - p_days)
			AND NOT EXISTS (SELECT 1 FROM registration_merge m WHERE m.kept_id = n.id
				AND m.before->>'kind' IS DISTINCT FROM 'traveller')
			AND NOT EXISTS (SELECT 1 FROM registration_merge m WHERE m.registrant_id = n.id)
		ORDER BY n.id FOR UPDATE OF n) c;
	-- Nobody to purge but travellers spared by an open crisis (the usual
	-- case during one): no table is locked. Those purged are decided again
	-- once the locks are held.
	IF due IS NULL OR NOT EXISTS (SELECT 1 FROM unnest(due) d(id) WHERE NOT EXISTS (
			SELECT 1 FROM crisis c WHERE c.state IN ('proposed', 'active') AND (
				EXISTS (SELECT 1 FROM person_status p WHERE p.crisis_id = c.id AND p.national_id = d.id)
				OR EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = c.id AND k.national_id = d.id)))) THEN
		RETURN;
	END IF;
	LOCK TABLE checkin, contact, location, outbox, person_status, response IN SHARE ROW EXCLUSIVE MODE;
	RETURN QUERY
	WITH cand AS (
		SELECT n.id, n.mission_id, EXISTS (
				SELECT 1 FROM person_status p JOIN crisis c ON c.id = p.crisis_id
				WHERE p.national_id = n.id AND c.state IN ('proposed', 'active')
				UNION ALL
				SELECT 1 FROM checkin k JOIN crisis c ON c.id = k.crisis_id
				WHERE k.national_id = n.id AND c.state IN ('proposed', 'active')) AS in_crisis
		FROM national n
		WHERE n.id = ANY (due) AND n.kind = 'traveller' AND n.departure_date < current_date - p_days
			AND NOT EXISTS (SELECT 1 FROM itinerary_leg l WHERE l.national_id = n.id
				AND l.departure >= current_date - p_days)),
	gone AS (
		DELETE FROM national n USING cand WHERE n.id = cand.id AND NOT cand.in_crisis
		RETURNING n.id, n.mission_id, n.household_id),
	-- Every part of one statement sees the same snapshot: the members just
	-- removed still show, so they are excluded by id.
	empty AS (
		DELETE FROM household h WHERE h.id IN (SELECT household_id FROM gone)
			AND NOT EXISTS (SELECT 1 FROM national x WHERE x.household_id = h.id
				AND x.id NOT IN (SELECT id FROM gone))
		RETURNING h.id, h.mission_id),
	counts AS (
		SELECT cand.mission_id, count(*) FILTER (WHERE NOT cand.in_crisis) AS c,
			count(*) FILTER (WHERE cand.in_crisis) AS spared
		FROM cand GROUP BY cand.mission_id),
	audited AS (
		SELECT audit_record('safetyd', 'system', c.mission_id, '', 'retention.purge',
			'national', '', json_build_object('purged', c.c, 'after_days', p_days,
			'spared_open_crisis', c.spared,
			'households_removed', (SELECT count(*) FROM empty e
				WHERE e.mission_id = c.mission_id))::text)
		FROM counts c WHERE c.c > 0)
	SELECT c.mission_id, c.c FROM counts c, (SELECT count(*) FROM audited) a WHERE c.c > 0;
END
$$;
