-- The HQ feed's documents stay well-formed and its figures agree with the
-- counts.
--
-- XML 1.0 forbids most C0 control characters and U+FFFE/U+FFFF, yet
-- xmlelement() escapes only markup and passes them: one such character in
-- a stored crisis title or description made the Atom and CAP feeds
-- unreadable for every reader. feed_xml_text() drops them from any text the
-- feeds emit (tab, line feed and carriage return stay).
--
-- needing_help_unreached counted people staff had deleted, who are out of
-- every other figure; it now leaves them out too.

CREATE FUNCTION feed_xml_text(s text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT regexp_replace(s, '[\x01-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]', '', 'g')
$$;

-- One mission's part of a crisis in the feed (schema: docs/feed/status.schema.json).
CREATE OR REPLACE FUNCTION feed_mission_json(p_crisis bigint, p_mission bigint) RETURNS json
	LANGUAGE sql STABLE AS $$
	WITH sc AS (SELECT region_id, status, n, updated_at FROM status_count
		WHERE crisis_id = p_crisis AND mission_id = p_mission AND n > 0),
	t AS (SELECT coalesce(sum(n), 0) AS total,
		coalesce(sum(n) FILTER (WHERE status_answered(status)), 0) AS answered,
		coalesce(sum(n) FILTER (WHERE status = 'evacuated'), 0) AS evacuated,
		max(updated_at) AS last_update FROM sc)
	SELECT json_build_object('mission_id', m.id, 'code', m.code, 'name', m.name,
		'affected', cm.affected, 'people', t.total, 'answered', t.answered,
		'response_rate', CASE WHEN t.total > 0 THEN round(t.answered::numeric / t.total, 4) END,
		'counts', (SELECT coalesce(json_object_agg(status, n ORDER BY status), '{}')
			FROM (SELECT status, sum(n) AS n FROM sc GROUP BY status) q),
		'needing_help_unreached', (SELECT count(*) FROM person_status p
			WHERE p.crisis_id = p_crisis AND p.mission_id = p_mission AND NOT p.deleted
			AND p.status IN ('needs_help', 'injured', 'needs_evacuation')
			AND NOT EXISTS (SELECT 1 FROM response r WHERE r.id = p.last_response_id
				AND r.crisis_id = p_crisis AND r.channel = 'staff')),
		'evacuation', json_build_object('planned', NULL, 'at_assembly_point', NULL,
			'evacuated', t.evacuated),
		'regions', (SELECT coalesce(json_agg(json_build_object('code', r.code, 'name', r.name,
				'people', q.total, 'response_rate', round(q.answered::numeric / q.total, 4),
				'counts', q.counts) ORDER BY r.code NULLS LAST), '[]')
			FROM (SELECT region_id, sum(n) AS total,
				coalesce(sum(n) FILTER (WHERE status_answered(status)), 0) AS answered,
				json_object_agg(status, n ORDER BY status) AS counts
				FROM sc GROUP BY region_id) q
			LEFT JOIN region r ON r.id = nullif(q.region_id, 0)),
		'last_update', t.last_update)
	FROM crisis_mission cm JOIN mission m ON m.id = cm.mission_id, t
	WHERE cm.crisis_id = p_crisis AND cm.mission_id = p_mission
$$;
