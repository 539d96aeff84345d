-- One plan made at a time per crisis and mission: a second request while one
-- is being made is refused, naming it. A plan left running by a server that
-- stopped is given up after ten minutes (the planner takes seconds), so it
-- never holds planning back for long.

-- Starts a plan: its row, running, and the audit record. No row when the
-- mission has no such crisis; refused (55000) when the crisis is not active
-- or a plan of the crisis and mission is being made.
CREATE FUNCTION plan_create(p_crisis bigint, p_mission bigint, p_params jsonb, p_statuses text[],
		p_actor text, p_role text, p_actor_mission bigint, p_addr text)
		RETURNS TABLE (plan_id bigint, location text, answer text) LANGUAGE plpgsql AS $$
DECLARE
	running bigint;
	new_id bigint;
BEGIN
	IF NOT plan_crisis_active(p_crisis, p_mission) THEN
		RETURN;
	END IF;
	-- A second request waits here; each statement after the lock sees what the first committed.
	PERFORM pg_advisory_xact_lock(hashtextextended('plan_create:' || p_crisis || ':' || p_mission, 0));
	UPDATE plan p SET state = 'failed', finished_at = now(),
			error = 'given up: no result ten minutes after it was asked for (the server making it stopped)'
		WHERE p.crisis_id = p_crisis AND p.mission_id = p_mission AND p.state = 'running'
			AND p.created_at < now() - interval '10 minutes';
	SELECT p.id INTO running FROM plan p WHERE p.crisis_id = p_crisis AND p.mission_id = p_mission
		AND p.state = 'running' ORDER BY p.id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'a plan is being made for this crisis: id %; wait for it (GET /api/v1/plans/%)',
			running, running USING ERRCODE = '55000';
	END IF;
	INSERT INTO plan (crisis_id, mission_id, params, created_by)
		VALUES (p_crisis, p_mission, jsonb_set(p_params, '{statuses}', to_jsonb(p_statuses)), p_actor)
		RETURNING id INTO new_id;
	RETURN QUERY SELECT new_id, '/api/v1/plans/' || new_id, json_build_object('plan_id', new_id,
		'state', 'running', 'audit_id', audit_record(p_actor, p_role, p_actor_mission, p_addr,
			'plan.create', 'plan', new_id::text, p_params::text))::text;
END
$$;
