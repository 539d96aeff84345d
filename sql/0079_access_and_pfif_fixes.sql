-- A release or withdrawal is audited as a change to the released mission:
-- the crisis is shared, so a row left with the actor's mission (none for an
-- admin or HQ) was shown to every mission of the crisis, and one mission's
-- release was read by another's lead.

-- The newest definition (0010), with the released mission as the audit row's.
CREATE OR REPLACE FUNCTION pfif_release_set(p_crisis bigint, p_mission bigint, p_fields text[],
		p_actor text, p_role text, p_actor_mission bigint, p_addr text) RETURNS json
		LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM crisis_mission WHERE crisis_id = p_crisis AND mission_id = p_mission) THEN
		RETURN NULL;
	END IF;
	IF p_fields IS NULL THEN
		DELETE FROM pfif_release WHERE crisis_id = p_crisis AND mission_id = p_mission;
	ELSE
		INSERT INTO pfif_release (crisis_id, mission_id, fields, released_by)
			VALUES (p_crisis, p_mission, ARRAY(SELECT DISTINCT unnest(p_fields) ORDER BY 1), p_actor)
			ON CONFLICT (crisis_id, mission_id) DO UPDATE SET fields = excluded.fields,
				released_by = excluded.released_by, released_at = now();
	END IF;
	PERFORM audit_record(p_actor, p_role, p_mission, p_addr,
		CASE WHEN p_fields IS NULL THEN 'pfif.withdraw' ELSE 'pfif.release' END, 'crisis',
		p_crisis::text, json_build_object('mission_id', p_mission, 'fields', p_fields)::text);
	RETURN coalesce((SELECT json_build_object('crisis_id', crisis_id, 'mission_id', mission_id,
		'fields', fields, 'released_by', released_by, 'released_at', released_at)
		FROM pfif_release WHERE crisis_id = p_crisis AND mission_id = p_mission),
		json_build_object('crisis_id', p_crisis, 'mission_id', p_mission, 'released', false));
END
$$;

-- Staff's decisions for people who never answered stored their answer times
-- as 1970-01-01 (a time never had, written as 0): they are none.
UPDATE person_status SET
	answered_at = CASE WHEN answered_at = 'epoch' THEN NULL ELSE answered_at END,
	own_at = CASE WHEN own_at = 'epoch' THEN NULL ELSE own_at END,
	proxy_at = CASE WHEN proxy_at = 'epoch' THEN NULL ELSE proxy_at END
	WHERE answered_at = 'epoch' OR own_at = 'epoch' OR proxy_at = 'epoch';
