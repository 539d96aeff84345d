-- Retention spares a traveller who is part of a crisis still open (asked
-- in a campaign, or holding a status in it): a departure date passed is no
-- proof of having left when the crisis may be what kept them (a cancelled
-- flight, a closed border). They are purged at the first run after every
-- such crisis is closed or dismissed. Spared travellers are counted, never
-- named, in the audit entry of a run that purges someone of their mission
-- (a run that only spares writes none, or every run would).
CREATE OR REPLACE FUNCTION purge_departed_travellers(p_days integer)
	RETURNS TABLE (mission_id bigint, purged bigint) LANGUAGE sql AS $$
	WITH due AS (
		SELECT n.id, n.mission_id, EXISTS (
				SELECT 1 FROM person_status p JOIN crisis c ON c.id = p.crisis_id
				WHERE p.national_id = n.id AND c.state IN ('proposed', 'active')
				UNION ALL
				SELECT 1 FROM checkin k JOIN crisis c ON c.id = k.crisis_id
				WHERE k.national_id = n.id AND c.state IN ('proposed', 'active')) AS in_crisis
		FROM national n
		WHERE n.kind = 'traveller' AND n.departure_date < current_date - p_days),
	gone AS (
		DELETE FROM national n USING due WHERE n.id = due.id AND NOT due.in_crisis
		RETURNING n.id, n.mission_id, n.household_id),
	-- Every part of one statement sees the same snapshot: the members just
	-- removed still show, so they are excluded by id.
	empty AS (
		DELETE FROM household h WHERE h.id IN (SELECT household_id FROM gone)
			AND NOT EXISTS (SELECT 1 FROM national x WHERE x.household_id = h.id
				AND x.id NOT IN (SELECT id FROM gone))
		RETURNING h.id),
	counts AS (
		SELECT due.mission_id, count(*) FILTER (WHERE NOT due.in_crisis) AS c,
			count(*) FILTER (WHERE due.in_crisis) AS spared
		FROM due GROUP BY due.mission_id),
	audited AS (
		SELECT audit_record('safetyd', 'system', c.mission_id, '', 'retention.purge',
			'national', '', json_build_object('purged', c.c, 'after_days', p_days,
			'spared_open_crisis', c.spared,
			'households_removed', (SELECT count(*) FROM empty))::text)
		FROM counts c WHERE c.c > 0)
	SELECT c.mission_id, c.c FROM counts c, (SELECT count(*) FROM audited) a WHERE c.c > 0
$$;
