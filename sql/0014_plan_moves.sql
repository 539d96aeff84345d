-- Staff move a household to another shelter in a plan: the result is a new
-- plan (ready to publish) in which that household rides in a group of its
-- own from the same assembly point, the loads and the cost follow, and the
-- planner's lower bound stays, so the gap shows what the move costs. The
-- plan moved from is left as it was.
CREATE FUNCTION plan_move(p_plan bigint, p_mission bigint, p_household text, p_shelter bigint,
		p_actor text, p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	pl plan;
	h jsonb;
	old_group jsonb;
	sh record;
	load_there bigint;
	people integer;
	dist double precision;
	res jsonb;
	next_no integer;
	new_id bigint;
	lb double precision;
	cost double precision;
	renumber jsonb;
BEGIN
	SELECT * INTO pl FROM plan WHERE id = p_plan AND (p_mission IS NULL OR mission_id = p_mission);
	IF NOT FOUND OR pl.state NOT IN ('ready', 'published') THEN
		RETURN NULL;
	END IF;
	SELECT x INTO h FROM jsonb_array_elements(pl.result->'households') x WHERE x->>'key' = p_household;
	IF h IS NULL THEN
		RAISE EXCEPTION 'household: not in this plan' USING ERRCODE = '22023';
	END IF;
	SELECT s.* INTO sh FROM shelter s WHERE s.id = p_shelter AND s.mission_id = pl.mission_id AND s.open
		AND s.kind <> 'assembly_point';
	IF NOT FOUND THEN
		RAISE EXCEPTION 'shelter_id: not an open shelter of this mission' USING ERRCODE = '22023';
	END IF;
	IF (h->>'shelter_id')::bigint = p_shelter THEN
		RAISE EXCEPTION 'shelter_id: the household goes there already' USING ERRCODE = '22023';
	END IF;
	IF h->'needs' ? 'medical' AND NOT sh.medical THEN
		RAISE EXCEPTION 'shelter_id: no medical care there, and the household needs it' USING ERRCODE = '22023';
	END IF;
	IF h->'needs' ? 'disability' AND NOT sh.accessible THEN
		RAISE EXCEPTION 'shelter_id: not accessible, and the household needs it' USING ERRCODE = '22023';
	END IF;
	people := (h->>'people')::integer;
	SELECT coalesce(sum((x->>'load')::bigint), 0) INTO load_there
		FROM jsonb_array_elements(pl.result->'shelters') x WHERE (x->>'id')::bigint = p_shelter;
	IF load_there + people > sh.capacity - sh.occupancy THEN
		RAISE EXCEPTION 'shelter_id: room for % more, the household is %', greatest(sh.capacity - sh.occupancy - load_there, 0), people
			USING ERRCODE = '22023';
	END IF;
	dist := ST_Distance(ST_SetSRID(ST_MakePoint((h->>'lon')::float8, (h->>'lat')::float8), 4326)::geography,
		sh.point);
	SELECT x INTO old_group FROM jsonb_array_elements(pl.result->'groups') x
		WHERE (x->>'no')::integer = (h->>'group')::integer;
	SELECT coalesce(max((x->>'no')::integer), 0) + 1 INTO next_no FROM jsonb_array_elements(pl.result->'groups') x;
	res := pl.result;
	-- The household: new shelter, distance, its own group.
	res := jsonb_set(res, '{households}', (SELECT jsonb_agg(CASE WHEN x->>'key' = p_household
			THEN x || jsonb_build_object('shelter_id', p_shelter, 'distance_m', round(dist),
				'group', next_no, 'unassigned', NULL, 'moved_by', p_actor)
			ELSE x END ORDER BY o) FROM jsonb_array_elements(res->'households') WITH ORDINALITY AS t(x, o)));
	-- Its old group carries fewer people (and goes if it carried only them).
	-- (A household the planner left unassigned has no group: no group changes then.)
	res := jsonb_set(res, '{groups}', coalesce((SELECT jsonb_agg(CASE WHEN (x->>'no')::integer
				IS NOT DISTINCT FROM (h->>'group')::integer
			THEN x || jsonb_build_object('people', (x->>'people')::integer - people) ELSE x END ORDER BY o)
		FROM jsonb_array_elements(res->'groups') WITH ORDINALITY AS t(x, o)
		WHERE NOT coalesce((x->>'no')::integer = (h->>'group')::integer
			AND (x->>'people')::integer <= people, false)), '[]'));
	res := jsonb_set(res, '{groups}', (res->'groups') || jsonb_build_array(jsonb_build_object('no', next_no,
		'order', coalesce((SELECT max((x->>'order')::integer) FROM jsonb_array_elements(res->'groups') x), 0) + 1,
		'shelter_id', p_shelter, 'assembly_id', old_group->'assembly_id',
		'assembly_name', old_group->'assembly_name',
		'assembly_lat', coalesce(old_group->'assembly_lat', h->'lat'),
		'assembly_lon', coalesce(old_group->'assembly_lon', h->'lon'),
		'people', people, 'vulnerable', CASE WHEN jsonb_array_length(coalesce(h->'needs', '[]')) > 0
			THEN people ELSE 0 END, 'priority', h->'priority', 'wave', coalesce(old_group->'wave', '1'),
		'moved_by', p_actor)));
	-- Groups numbered 1, 2, ... again in departure order, and the households told their new numbers.
	SELECT jsonb_object_agg(x->>'no', n) INTO renumber FROM (SELECT x, row_number() OVER
		(ORDER BY (x->>'order')::integer, (x->>'no')::integer) AS n FROM jsonb_array_elements(res->'groups') x) g;
	res := jsonb_set(res, '{groups}', (SELECT jsonb_agg(x || jsonb_build_object('no', (renumber->>(x->>'no'))::integer,
			'order', (renumber->>(x->>'no'))::integer) ORDER BY (renumber->>(x->>'no'))::integer)
		FROM jsonb_array_elements(res->'groups') x));
	res := jsonb_set(res, '{households}', (SELECT jsonb_agg(CASE WHEN x->>'group' IS NULL THEN x
			ELSE x || jsonb_build_object('group', (renumber->>(x->>'group'))::integer) END ORDER BY o)
		FROM jsonb_array_elements(res->'households') WITH ORDINALITY AS t(x, o)));
	-- The loads: less where it was going, more where it goes; a shelter new to the plan is added.
	res := jsonb_set(res, '{shelters}', (SELECT jsonb_agg(CASE
			WHEN (x->>'id')::bigint = (h->>'shelter_id')::bigint THEN x || jsonb_build_object('load', (x->>'load')::integer - people)
			WHEN (x->>'id')::bigint = p_shelter THEN x || jsonb_build_object('load', (x->>'load')::integer + people)
			ELSE x END ORDER BY o) FROM jsonb_array_elements(res->'shelters') WITH ORDINALITY AS t(x, o)));
	IF NOT EXISTS (SELECT 1 FROM jsonb_array_elements(res->'shelters') x WHERE (x->>'id')::bigint = p_shelter) THEN
		res := jsonb_set(res, '{shelters}', (res->'shelters') || jsonb_build_array(jsonb_build_object('id', sh.id,
			'name', sh.name, 'lat', ST_Y(sh.point::geometry), 'lon', ST_X(sh.point::geometry),
			'capacity', sh.capacity, 'occupancy', sh.occupancy, 'medical', sh.medical,
			'accessible', sh.accessible, 'open', sh.open, 'load', people)));
	END IF;
	-- The figures: the cost follows the distance; the bound is the planner's, so the gap grows.
	cost := (res->'stats'->>'cost_person_m')::float8
		+ people * (dist - coalesce((h->>'distance_m')::float8, 0));
	lb := (res->'stats'->>'lower_bound_person_m')::float8;
	res := jsonb_set(res, '{stats}', (res->'stats') || jsonb_build_object('cost_person_m', round(cost),
		'gap', CASE WHEN lb > 0 THEN (cost - lb) / lb ELSE 0 END,
		'groups', jsonb_array_length(res->'groups'),
		'people_assigned', (res->'stats'->>'people_assigned')::integer
			+ CASE WHEN h->>'shelter_id' IS NULL THEN people ELSE 0 END,
		'people_unassigned', (res->'stats'->>'people_unassigned')::integer
			- CASE WHEN h->>'shelter_id' IS NULL THEN people ELSE 0 END));
	INSERT INTO plan (crisis_id, mission_id, state, params, result, created_by, finished_at)
		VALUES (pl.crisis_id, pl.mission_id, 'ready', pl.params || jsonb_build_object('moved_from', pl.id,
			'moves', coalesce(pl.params->'moves', '[]') || jsonb_build_array(jsonb_build_object(
				'household', p_household, 'from', h->'shelter_id', 'to', p_shelter, 'by', p_actor))),
			res, p_actor, now())
		RETURNING id INTO new_id;
	PERFORM audit_record(p_actor, p_role, pl.mission_id, p_addr, 'plan.move', 'plan', new_id::text,
		json_build_object('from_plan', pl.id, 'household', p_household, 'from_shelter', h->'shelter_id',
			'to_shelter', p_shelter, 'people', people)::text);
	RETURN json_build_object('plan_id', new_id, 'moved_from', pl.id, 'stats', res->'stats');
END
$$;
