-- PFIF for partners: what a mission lead released of a crisis's people, and
-- notes imported from a partner's Person Finder stored as answers of their own
-- channel.

ALTER TABLE response DROP CONSTRAINT response_channel_check;
ALTER TABLE response ADD CONSTRAINT response_channel_check
	CHECK (channel IN ('sms', 'web', 'email', 'staff', 'pfif'));

-- Names are always part of a release (a PFIF person has a full_name); the
-- rest only when listed.
CREATE TABLE pfif_release (
	crisis_id bigint NOT NULL REFERENCES crisis (id),
	mission_id bigint NOT NULL REFERENCES mission (id),
	fields text[] NOT NULL DEFAULT '{}'
		CHECK (fields <@ ARRAY['age', 'home_city', 'home_country', 'status', 'location', 'answer_text']),
	released_by text NOT NULL,
	released_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (crisis_id, mission_id)
);

-- Releases (p_fields not NULL) or withdraws (NULL) a mission's people of a
-- crisis; NULL when the mission is not part of the crisis.
CREATE FUNCTION pfif_release_set(p_crisis bigint, p_mission bigint, p_fields text[], p_actor text,
		p_role text, p_actor_mission bigint, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
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
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr,
		CASE WHEN p_fields IS NULL THEN 'pfif.withdraw' ELSE 'pfif.release' END, 'crisis',
		p_crisis::text, json_build_object('mission_id', p_mission, 'fields', p_fields)::text);
	RETURN coalesce((SELECT json_build_object('crisis_id', crisis_id, 'mission_id', mission_id,
		'fields', fields, 'released_by', released_by, 'released_at', released_at)
		FROM pfif_release WHERE crisis_id = p_crisis AND mission_id = p_mission),
		json_build_object('crisis_id', p_crisis, 'mission_id', p_mission, 'released', false));
END
$$;
