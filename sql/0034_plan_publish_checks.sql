-- Evacuation plans: publishing one plan at a time per crisis and mission,
-- never a plan that predates the published one, only while the crisis is
-- active, and only to people the plan still moves; moves keep departures
-- numbered from 0 in the planner's order.

-- Whether a crisis of the mission may have plans made, changed or
-- published: false when the mission has no such crisis; an error (55000,
-- answered 409) when the crisis is not active.
CREATE FUNCTION plan_crisis_active(p_crisis bigint, p_mission bigint) RETURNS boolean
	LANGUAGE plpgsql STABLE AS $$
DECLARE
	st crisis_state;
BEGIN
	SELECT c.state INTO st FROM crisis_mission cm JOIN crisis c ON c.id = cm.crisis_id
		WHERE cm.crisis_id = p_crisis AND cm.mission_id = p_mission;
	IF NOT FOUND THEN
		RETURN false;
	END IF;
	IF st <> 'active' THEN
		RAISE EXCEPTION 'the crisis is %: plans are made, changed and published only while it is active', st
			USING ERRCODE = '55000';
	END IF;
	RETURN true;
END
$$;

-- Whether a person of a plan still goes where it says: not deleted from
-- the registry, and not deceased, missing or already evacuated in the
-- plan's crisis. Messages and manifests name only these.
CREATE FUNCTION plan_member_travels(p_crisis bigint, p_national bigint) RETURNS boolean
	LANGUAGE sql STABLE AS $$
	SELECT EXISTS (SELECT 1 FROM national WHERE id = p_national AND deleted_at IS NULL)
		AND NOT EXISTS (SELECT 1 FROM person_status WHERE crisis_id = p_crisis
			AND national_id = p_national AND status IN ('deceased', 'missing', 'evacuated'))
$$;

-- Publishes a ready plan: numbers it, supersedes the previous published one,
-- records the crisis event, and queues for every person placed who still
-- travels a message with their group, assembly point, departure order and
-- shelter (by SMS to their first phone, else by e-mail). NULL when the plan
-- is not ready or not the caller's mission's. Refused (55000) when the
-- crisis is not active, or when the published plan is not part of this one:
-- it was published after this plan's first version was made, and this plan
-- is not derived from it by moves (its moves would be lost).
CREATE OR REPLACE FUNCTION plan_publish(p_plan bigint, p_mission bigint, p_actor text, p_role text,
		p_actor_mission bigint, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	pl plan;
	cur plan;
	made timestamptz;
	derived boolean;
	v integer;
	queued bigint;
BEGIN
	SELECT * INTO pl FROM plan WHERE id = p_plan AND (p_mission IS NULL OR mission_id = p_mission);
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	-- One publish at a time per crisis and mission: a second waits here, and each statement
	-- after the lock reads what the first committed (its state, its version).
	PERFORM pg_advisory_xact_lock(hashtextextended('plan_publish:' || pl.crisis_id || ':'
		|| pl.mission_id, 0));
	SELECT * INTO pl FROM plan WHERE id = p_plan FOR UPDATE;
	IF pl.state <> 'ready' THEN
		RETURN NULL;
	END IF;
	PERFORM plan_crisis_active(pl.crisis_id, pl.mission_id);
	SELECT * INTO cur FROM plan WHERE crisis_id = pl.crisis_id AND mission_id = pl.mission_id
		AND state = 'published';
	IF FOUND THEN
		WITH RECURSIVE lineage AS (
			SELECT id, created_at, (params->>'moved_from')::bigint AS parent FROM plan WHERE id = p_plan
			UNION ALL
			SELECT p.id, p.created_at, (p.params->>'moved_from')::bigint
			FROM plan p JOIN lineage l ON p.id = l.parent)
		SELECT bool_or(id = cur.id), min(created_at) INTO derived, made FROM lineage;
		IF NOT derived AND made <= cur.published_at THEN
			RAISE EXCEPTION 'plan % was published after this plan was made; make your change from plan %',
				cur.id, cur.id USING ERRCODE = '55000';
		END IF;
	END IF;
	UPDATE plan SET state = 'superseded' WHERE crisis_id = pl.crisis_id AND mission_id = pl.mission_id
		AND state = 'published';
	SELECT coalesce(max(version), 0) + 1 INTO v FROM plan
		WHERE crisis_id = pl.crisis_id AND mission_id = pl.mission_id;
	UPDATE plan SET state = 'published', version = v, published_at = now(), published_by = p_actor
		WHERE id = p_plan;
	WITH g AS (SELECT * FROM json_to_recordset((pl.result->'groups')::json) AS x(no int, "order" int,
			shelter_id bigint, assembly_name text, assembly_lat double precision,
			assembly_lon double precision)),
	h AS (SELECT x."group" AS group_no, unnest(x.nationals) AS national_id FROM json_to_recordset(
			(pl.result->'households')::json) AS x(nationals bigint[], "group" int, shelter_id bigint)
			WHERE x.shelter_id IS NOT NULL AND x."group" IS NOT NULL),
	m AS (SELECT h.national_id, g.no, g."order", s.name AS shelter, g.assembly_name,
			g.assembly_lat, g.assembly_lon, c.kind, c.value,
			'ko' = ANY (n.languages) OR n.name_ko IS NOT NULL AS korean
		FROM h JOIN g ON g.no = h.group_no JOIN shelter s ON s.id = g.shelter_id
		JOIN national n ON n.id = h.national_id
		CROSS JOIN LATERAL (SELECT kind, value FROM contact WHERE national_id = h.national_id
			AND kind IN ('phone', 'email') ORDER BY kind = 'email', priority, id LIMIT 1) c
		WHERE plan_member_travels(pl.crisis_id, h.national_id)),
	ins AS (INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language, body)
		SELECT pl.crisis_id, m.national_id, pl.mission_id,
			CASE WHEN m.kind = 'phone' THEN 'sms' ELSE 'email' END, m.value,
			CASE WHEN m.korean THEN 'ko' ELSE 'en' END,
			CASE WHEN m.korean THEN
				format('[대피 계획 %s] %s조, %s번째 출발. 집결지: %s (%s,%s). 대피처: %s.',
					v, m.no, m."order" + 1, coalesce(m.assembly_name, '집결 장소'),
					round(m.assembly_lat::numeric, 5), round(m.assembly_lon::numeric, 5), m.shelter)
			ELSE
				format('[Evacuation plan %s] Group %s, departure %s. Meet at %s (%s,%s); you go to %s.',
					v, m.no, m."order" + 1, coalesce(m.assembly_name, 'the meeting point'),
					round(m.assembly_lat::numeric, 5), round(m.assembly_lon::numeric, 5), m.shelter)
			END
		FROM m RETURNING 1)
	SELECT count(*) INTO queued FROM ins;
	INSERT INTO crisis_event (crisis_id, mission_id, kind, detail)
		VALUES (pl.crisis_id, pl.mission_id, 'plan_published',
			jsonb_build_object('plan_id', p_plan, 'version', v, 'messages', queued));
	PERFORM pg_notify('outbox', pl.crisis_id::text);
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr, 'plan.publish', 'plan',
		p_plan::text, json_build_object('version', v, 'messages', queued)::text);
	RETURN json_build_object('plan_id', p_plan, 'version', v, 'messages', queued);
END
$$;

-- Staff move a household to another shelter in a plan: the result is a new
-- plan (ready to publish) in which that household rides in a group of its
-- own from the same assembly point, the loads and the cost follow, and the
-- planner's lower bound stays, so the gap shows what the move costs. The
-- plan moved from is left as it was. Departures follow the planner's rule
-- (highest priority first, then most vulnerable people, then the order they
-- had; the new group after its equals), numbered from 0 as the planner
-- numbers them; groups are numbered 1, 2, ... in that order.
CREATE OR REPLACE FUNCTION plan_move(p_plan bigint, p_mission bigint, p_household text, p_shelter bigint,
		p_actor text, p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	pl plan;
	h jsonb;
	old_group jsonb;
	sh record;
	load_there bigint;
	people integer;
	vulnerable integer;
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
	PERFORM plan_crisis_active(pl.crisis_id, pl.mission_id);
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
	-- The planner counts as vulnerable the people of a household with any of these needs.
	vulnerable := CASE WHEN coalesce(h->'needs', '[]') ?| ARRAY['medical', 'disability', 'child',
		'elderly', 'pregnant'] THEN people ELSE 0 END;
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
	-- Its old group carries fewer people, fewer vulnerable ones and the highest priority of those
	-- left (and goes if it carried only them). A household the planner left unassigned has no
	-- group: no group changes then.
	res := jsonb_set(res, '{groups}', coalesce((SELECT jsonb_agg(CASE WHEN (x->>'no')::integer
				IS NOT DISTINCT FROM (h->>'group')::integer
			THEN x || jsonb_build_object('people', (x->>'people')::integer - people,
				'vulnerable', greatest((x->>'vulnerable')::integer - vulnerable, 0),
				'priority', coalesce((SELECT max((y->>'priority')::integer)
					FROM jsonb_array_elements(res->'households') y
					WHERE (y->>'group')::integer = (x->>'no')::integer), (x->>'priority')::integer))
			ELSE x END ORDER BY o)
		FROM jsonb_array_elements(res->'groups') WITH ORDINALITY AS t(x, o)
		WHERE NOT coalesce((x->>'no')::integer = (h->>'group')::integer
			AND (x->>'people')::integer <= people, false)), '[]'));
	-- The new group departs after every group that had the same standing (the planner's
	-- formation order): its provisional order is past all others.
	res := jsonb_set(res, '{groups}', (res->'groups') || jsonb_build_array(jsonb_build_object('no', next_no,
		'order', coalesce((SELECT max((x->>'order')::integer) FROM jsonb_array_elements(res->'groups') x), 0) + 1,
		'shelter_id', p_shelter, 'assembly_id', old_group->'assembly_id',
		'assembly_name', old_group->'assembly_name',
		'assembly_lat', coalesce(old_group->'assembly_lat', h->'lat'),
		'assembly_lon', coalesce(old_group->'assembly_lon', h->'lon'),
		'people', people, 'vulnerable', vulnerable, 'priority', coalesce(h->'priority', '0'),
		'wave', coalesce(old_group->'wave', '0'), 'moved_by', p_actor)));
	-- Departures in the planner's order, from 0; groups numbered 1, 2, ... in that order, and the
	-- households told their new numbers.
	SELECT jsonb_object_agg(x->>'no', n) INTO renumber FROM (SELECT x, row_number() OVER
		(ORDER BY coalesce((x->>'priority')::integer, 0) DESC, coalesce((x->>'vulnerable')::integer, 0) DESC,
			(x->>'order')::integer, (x->>'no')::integer) AS n FROM jsonb_array_elements(res->'groups') x) g;
	res := jsonb_set(res, '{groups}', coalesce((SELECT jsonb_agg(x || jsonb_build_object(
			'no', (renumber->>(x->>'no'))::integer, 'order', (renumber->>(x->>'no'))::integer - 1)
			ORDER BY (renumber->>(x->>'no'))::integer)
		FROM jsonb_array_elements(res->'groups') x), '[]'));
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
