-- An audit row's mission is the mission of the object changed where the
-- object has one, whoever acted (an admin has none), so a mission lead's
-- view of the log shows every change to the mission's people, accounts,
-- keys and plans; the actor stays in its own columns. Other objects (a
-- crisis shared by missions, something already removed) keep the mission
-- the caller gave, the actor's.
CREATE OR REPLACE FUNCTION audit_record(p_actor text, p_actor_role text, p_mission_id bigint,
		p_client_addr text, p_action text, p_object_type text, p_object_id text,
		p_summary text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	new_id bigint;
	object_mission bigint;
	oid bigint;
BEGIN
	IF p_object_id ~ '^[0-9]{1,18}$' THEN
		oid := p_object_id::bigint;
		CASE p_object_type
		WHEN 'national' THEN
			SELECT mission_id INTO object_mission FROM national WHERE id = oid;
		WHEN 'staff_user' THEN
			SELECT mission_id INTO object_mission FROM staff_user WHERE id = oid;
		WHEN 'api_key' THEN
			SELECT mission_id INTO object_mission FROM api_key WHERE id = oid;
		WHEN 'mission' THEN
			SELECT id INTO object_mission FROM mission WHERE id = oid;
		WHEN 'household' THEN
			SELECT mission_id INTO object_mission FROM household WHERE id = oid;
		WHEN 'campaign' THEN
			SELECT mission_id INTO object_mission FROM campaign WHERE id = oid;
		WHEN 'plan' THEN
			SELECT mission_id INTO object_mission FROM plan WHERE id = oid;
		WHEN 'shelter' THEN
			SELECT mission_id INTO object_mission FROM shelter WHERE id = oid;
		WHEN 'region' THEN
			SELECT mission_id INTO object_mission FROM region WHERE id = oid;
		ELSE
			object_mission := NULL;
		END CASE;
	END IF;
	INSERT INTO audit_log (actor, actor_role, mission_id, client_addr, action,
			object_type, object_id, summary, id, occurred_at, prev_hash, hash)
		VALUES (p_actor, p_actor_role, coalesce(object_mission, p_mission_id),
			coalesce(p_client_addr, ''), p_action,
			coalesce(p_object_type, ''), coalesce(p_object_id, ''),
			coalesce(p_summary, '{}'), 0, now(), '', '')
		RETURNING id INTO new_id;
	RETURN new_id;
END
$$;
