-- Work lists: a person of a crisis is assigned to one staff member of
-- their mission, who calls them; the lists filter by it.

ALTER TABLE person_status ADD COLUMN assigned_to bigint REFERENCES staff_user (id);
ALTER TABLE person_status ADD COLUMN assigned_at timestamptz;
CREATE INDEX person_status_assigned ON person_status (crisis_id, assigned_to)
	WHERE assigned_to IS NOT NULL;

-- Assigns (or, with NULL, frees) a person: only to an enabled lead or staff
-- member of the person's own mission. Returns the person's id and the
-- assignee, or no row when the person is not in the crisis within scope, and
-- 'refused' when the assignee may not take them.
CREATE FUNCTION person_assign(p_crisis bigint, p_national bigint, p_scope bigint, p_user bigint,
		p_actor text, p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	ps record;
	who record;
BEGIN
	SELECT * INTO ps FROM person_status WHERE crisis_id = p_crisis AND national_id = p_national
		AND (p_scope IS NULL OR mission_id = p_scope) FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	IF p_user IS NOT NULL THEN
		SELECT id, username, display_name INTO who FROM staff_user WHERE id = p_user
			AND mission_id = ps.mission_id AND role IN ('mission_lead', 'mission_staff')
			AND NOT disabled;
		IF NOT FOUND THEN
			RAISE EXCEPTION 'user_id: not an active lead or staff member of this person''s mission'
				USING ERRCODE = '22023';
		END IF;
	END IF;
	UPDATE person_status SET assigned_to = p_user,
			assigned_at = CASE WHEN p_user IS NULL THEN NULL ELSE now() END
		WHERE crisis_id = p_crisis AND national_id = p_national;
	PERFORM audit_record(p_actor, p_role, ps.mission_id, p_addr, 'person.assign', 'national',
		p_national::text, json_build_object('crisis_id', p_crisis, 'assigned_to', p_user)::text);
	RETURN json_build_object('outcome', 'assigned', 'national_id', p_national,
		'assigned_to', CASE WHEN p_user IS NULL THEN NULL ELSE json_build_object('id', who.id,
			'name', coalesce(nullif(who.display_name, ''), who.username)) END);
END
$$;
