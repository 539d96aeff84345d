-- Evacuation plan messages: a kind of their own (sent as written, under
-- their own subject, and never taken for a check-in ask), marked in a drill
-- as every message of a drill is; people a new plan no longer places are told
-- their previous instructions are cancelled; a plan whose shelters closed or
-- filled since it was made is not published; a household with no known
-- place is moved only with an assembly point given.

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
	CHECK (kind IN ('checkin', 'code', 'link', 'family', 'plan'));

-- The mark every message of a drill starts with, in its language.
CREATE FUNCTION drill_mark(p_lang text, p_drill boolean) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_drill THEN CASE WHEN p_lang = 'ko' THEN '[훈련] ' ELSE '[DRILL] ' END ELSE '' END
$$;

-- The contact a plan message goes to: a route that delivers, a verified
-- contact, then SMS before e-mail, as the person ranked them.
CREATE FUNCTION plan_contact(p_national bigint) RETURNS TABLE (kind text, value text)
	LANGUAGE sql STABLE AS $$
	SELECT ct.kind, ct.value FROM contact ct WHERE ct.national_id = p_national
		AND ct.kind IN ('phone', 'email')
	ORDER BY route_degraded(CASE WHEN ct.kind = 'phone' THEN 'sms' ELSE 'email' END, ct.value),
		ct.verified DESC, ct.kind = 'email', ct.priority, ct.id
	LIMIT 1
$$;

-- The people a plan places (a shelter and a group), each once.
CREATE FUNCTION plan_placed(p_result jsonb) RETURNS TABLE (national_id bigint, group_no integer)
	LANGUAGE sql IMMUTABLE AS $$
	SELECT DISTINCT ON (n) n, x."group" FROM jsonb_to_recordset(coalesce(p_result->'households', '[]'))
		AS x(nationals bigint[], "group" int, shelter_id bigint), unnest(x.nationals) AS n
	WHERE x.shelter_id IS NOT NULL AND x."group" IS NOT NULL
$$;

-- Publishes a ready plan: numbers it, supersedes the previous published one,
-- records the crisis event, and queues for every person placed who still
-- travels a message with their group, assembly point, departure order and
-- shelter, and for every person the superseded plan placed and this one does
-- not a message cancelling their instructions (SMS to a delivering, verified
-- phone first, else e-mail; marked in a drill). NULL when the plan is not
-- ready or not the caller's mission's. Refused (55000) when the crisis is
-- not active or no longer the mission's, when the published plan is not part
-- of this one (published after this plan's first version was made, and this
-- plan is not derived from it by moves, whose moves would be lost), or when
-- a shelter it sends people to is closed, gone or has no room for them now.
CREATE OR REPLACE FUNCTION plan_publish(p_plan bigint, p_mission bigint, p_actor text, p_role text,
		p_actor_mission bigint, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	pl plan;
	cur plan;
	has_cur boolean;
	made timestamptz;
	derived boolean;
	v integer;
	queued bigint;
	cancelled bigint := 0;
	is_drill boolean;
	bad text;
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
	IF NOT plan_crisis_active(pl.crisis_id, pl.mission_id) THEN
		RAISE EXCEPTION 'the mission is no longer part of this crisis: its plans are not published'
			USING ERRCODE = '55000';
	END IF;
	SELECT * INTO cur FROM plan WHERE crisis_id = pl.crisis_id AND mission_id = pl.mission_id
		AND state = 'published';
	has_cur := FOUND;
	IF has_cur THEN
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
	-- The shelters as they are now, not as they were when the plan was made: people sent to a
	-- closed or full shelter would be turned away at its door.
	SELECT string_agg(format('%s (%s)', coalesce(s.name, 'shelter ' || x.id),
			CASE WHEN s.id IS NULL THEN 'gone'
				WHEN NOT s.open THEN 'closed'
				ELSE format('room for %s, the plan sends %s',
					greatest(s.capacity - s.occupancy, 0), x.load) END), ', ' ORDER BY x.id)
		INTO bad
		FROM jsonb_to_recordset(coalesce(pl.result->'shelters', '[]')) AS x(id bigint, load bigint)
		LEFT JOIN shelter s ON s.id = x.id AND s.mission_id = pl.mission_id
			AND s.kind <> 'assembly_point'
		WHERE x.load > 0 AND (s.id IS NULL OR NOT s.open OR x.load > s.capacity - s.occupancy);
	IF bad IS NOT NULL THEN
		RAISE EXCEPTION 'shelters no longer take this plan: %; make a new plan or move the households',
			bad USING ERRCODE = '55000';
	END IF;
	SELECT c.drill INTO is_drill FROM crisis c WHERE c.id = pl.crisis_id;
	UPDATE plan SET state = 'superseded' WHERE crisis_id = pl.crisis_id AND mission_id = pl.mission_id
		AND state = 'published';
	SELECT coalesce(max(version), 0) + 1 INTO v FROM plan
		WHERE crisis_id = pl.crisis_id AND mission_id = pl.mission_id;
	UPDATE plan SET state = 'published', version = v, published_at = now(), published_by = p_actor
		WHERE id = p_plan;
	WITH g AS (SELECT * FROM json_to_recordset((pl.result->'groups')::json) AS x(no int, "order" int,
			shelter_id bigint, assembly_name text, assembly_lat double precision,
			assembly_lon double precision)),
	m AS (SELECT h.national_id, g.no, g."order", s.name AS shelter, g.assembly_name,
			CASE WHEN g.assembly_lat IS NOT NULL AND g.assembly_lon IS NOT NULL
				THEN format(' (%s,%s)', round(g.assembly_lat::numeric, 5),
					round(g.assembly_lon::numeric, 5)) ELSE '' END AS at,
			c.kind, c.value, CASE WHEN 'ko' = ANY (n.languages) OR n.name_ko IS NOT NULL
				THEN 'ko' ELSE 'en' END AS lang
		FROM plan_placed(pl.result) h JOIN g ON g.no = h.group_no JOIN shelter s ON s.id = g.shelter_id
		JOIN national n ON n.id = h.national_id
		CROSS JOIN LATERAL plan_contact(h.national_id) c
		WHERE plan_member_travels(pl.crisis_id, h.national_id)),
	ins AS (INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language, body, kind)
		SELECT pl.crisis_id, m.national_id, pl.mission_id,
			CASE WHEN m.kind = 'phone' THEN 'sms' ELSE 'email' END, m.value, m.lang,
			drill_mark(m.lang, is_drill) || CASE WHEN m.lang = 'ko' THEN
				format('[대피 계획 %s] %s조, %s번째 출발. 집결지: %s%s. 대피처: %s.',
					v, m.no, m."order" + 1, coalesce(m.assembly_name, '집결 장소'), m.at, m.shelter)
			ELSE
				format('[Evacuation plan %s] Group %s, departure %s. Meet at %s%s; you go to %s.',
					v, m.no, m."order" + 1, coalesce(m.assembly_name, 'the meeting point'), m.at,
					m.shelter)
			END, 'plan'
		FROM m RETURNING 1)
	SELECT count(*) INTO queued FROM ins;
	-- Those the superseded plan sent somewhere and this one does not would follow the old
	-- instructions: they are told those no longer hold.
	IF has_cur THEN
		WITH m AS (SELECT o.national_id, c.kind, c.value, CASE WHEN 'ko' = ANY (n.languages)
					OR n.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang
				FROM plan_placed(cur.result) o JOIN national n ON n.id = o.national_id
				CROSS JOIN LATERAL plan_contact(o.national_id) c
				WHERE NOT EXISTS (SELECT 1 FROM plan_placed(pl.result) h
						WHERE h.national_id = o.national_id)
					AND plan_member_travels(pl.crisis_id, o.national_id)),
		ins AS (INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language,
				body, kind)
			SELECT pl.crisis_id, m.national_id, pl.mission_id,
				CASE WHEN m.kind = 'phone' THEN 'sms' ELSE 'email' END, m.value, m.lang,
				drill_mark(m.lang, is_drill) || CASE WHEN m.lang = 'ko' THEN
					format('[대피 계획 %s 취소] 이전 대피 안내(계획 %s)는 취소되었습니다. '
						'대사관의 안내를 기다려 주십시오.', cur.version, cur.version)
				ELSE
					format('[Evacuation plan %s cancelled] Your previous evacuation instructions '
						'(plan %s) are cancelled; wait for the embassy''s instructions.',
						cur.version, cur.version)
				END, 'plan'
			FROM m RETURNING 1)
		SELECT count(*) INTO cancelled FROM ins;
	END IF;
	INSERT INTO crisis_event (crisis_id, mission_id, kind, detail)
		VALUES (pl.crisis_id, pl.mission_id, 'plan_published',
			jsonb_build_object('plan_id', p_plan, 'version', v, 'messages', queued,
				'cancelled_messages', cancelled));
	PERFORM pg_notify('outbox', pl.crisis_id::text);
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr, 'plan.publish', 'plan',
		p_plan::text, json_build_object('version', v, 'messages', queued,
			'cancelled_messages', cancelled)::text);
	RETURN json_build_object('plan_id', p_plan, 'version', v, 'messages', queued,
		'cancelled_messages', cancelled);
END
$$;

-- Staff move a household to another shelter in a plan: the result is a new
-- plan (ready to publish) in which that household rides in a group of its
-- own from the same assembly point (or the assembly point given, which a
-- household with no known place must be given: else it has nowhere to
-- gather and no distance), the loads and the cost follow, and the planner's
-- lower bound stays, so the gap shows what the move costs (when the plan
-- places as many people as the bound's relaxation; else the gap is null).
-- The plan moved from is left as it was. Departures follow the planner's
-- rule (highest priority first, then most vulnerable people, then the order
-- they had; the new group after its equals), numbered from 0 as the planner
-- numbers them; groups are numbered 1, 2, ... in that order.
DROP FUNCTION plan_move(bigint, bigint, text, bigint, text, text, text);
CREATE FUNCTION plan_move(p_plan bigint, p_mission bigint, p_household text, p_shelter bigint,
		p_actor text, p_role text, p_addr text, p_assembly bigint DEFAULT NULL) RETURNS json
		LANGUAGE plpgsql AS $$
DECLARE
	pl plan;
	h jsonb;
	old_group jsonb;
	sh record;
	ap_id bigint;
	ap_name text;
	ap_point geography;
	load_there bigint;
	people integer;
	vulnerable integer;
	dist double precision;
	res jsonb;
	next_no integer;
	new_id bigint;
	lb double precision;
	cost double precision;
	unassigned integer;
	renumber jsonb;
	located boolean;
BEGIN
	SELECT * INTO pl FROM plan WHERE id = p_plan AND (p_mission IS NULL OR mission_id = p_mission);
	IF NOT FOUND OR pl.state NOT IN ('ready', 'published') THEN
		RETURN NULL;
	END IF;
	IF NOT plan_crisis_active(pl.crisis_id, pl.mission_id) THEN
		RAISE EXCEPTION 'the mission is no longer part of this crisis: its plans are not changed'
			USING ERRCODE = '55000';
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
	IF p_assembly IS NOT NULL THEN
		SELECT s.id, s.name, s.point INTO ap_id, ap_name, ap_point FROM shelter s WHERE s.id = p_assembly AND s.mission_id = pl.mission_id
			AND s.open AND s.kind = 'assembly_point';
		IF NOT FOUND THEN
			RAISE EXCEPTION 'assembly_id: not an open assembly point of this mission'
				USING ERRCODE = '22023';
		END IF;
	END IF;
	located := jsonb_typeof(h->'lat') = 'number' AND jsonb_typeof(h->'lon') = 'number';
	IF NOT located AND p_assembly IS NULL THEN
		RAISE EXCEPTION 'assembly_id: the household has no known place; give the assembly point it '
			'is to gather at' USING ERRCODE = '22023';
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
	-- From where the household is, or else from where it gathers.
	dist := ST_Distance(CASE WHEN located THEN ST_SetSRID(ST_MakePoint((h->>'lon')::float8,
			(h->>'lat')::float8), 4326)::geography ELSE ap_point END, sh.point);
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
		'shelter_id', p_shelter,
		'assembly_id', CASE WHEN p_assembly IS NOT NULL THEN to_jsonb(ap_id) ELSE old_group->'assembly_id' END,
		'assembly_name', CASE WHEN p_assembly IS NOT NULL THEN to_jsonb(ap_name)
			ELSE old_group->'assembly_name' END,
		'assembly_lat', CASE WHEN p_assembly IS NOT NULL THEN to_jsonb(ST_Y(ap_point::geometry))
			ELSE coalesce(old_group->'assembly_lat', h->'lat') END,
		'assembly_lon', CASE WHEN p_assembly IS NOT NULL THEN to_jsonb(ST_X(ap_point::geometry))
			ELSE coalesce(old_group->'assembly_lon', h->'lon') END,
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
	-- The bound holds only for plans placing as many people as its relaxation: else no gap.
	cost := (res->'stats'->>'cost_person_m')::float8
		+ people * (dist - coalesce((h->>'distance_m')::float8, 0));
	lb := (res->'stats'->>'lower_bound_person_m')::float8;
	unassigned := (res->'stats'->>'people_unassigned')::integer
		- CASE WHEN h->>'shelter_id' IS NULL THEN people ELSE 0 END;
	res := jsonb_set(res, '{stats}', (res->'stats') || jsonb_build_object('cost_person_m', round(cost),
		'gap', CASE WHEN cost IS NULL OR lb IS NULL
				OR unassigned IS DISTINCT FROM coalesce((res->'stats'->>'lp_unassigned')::integer,
					unassigned) THEN NULL
			WHEN lb > 0 THEN (cost - lb) / lb ELSE 0 END,
		'bound_applies', cost IS NOT NULL AND lb IS NOT NULL
			AND unassigned IS NOT DISTINCT FROM coalesce((res->'stats'->>'lp_unassigned')::integer,
				unassigned),
		'groups', jsonb_array_length(res->'groups'),
		'people_assigned', (res->'stats'->>'people_assigned')::integer
			+ CASE WHEN h->>'shelter_id' IS NULL THEN people ELSE 0 END,
		'people_unassigned', unassigned));
	INSERT INTO plan (crisis_id, mission_id, state, params, result, created_by, finished_at)
		VALUES (pl.crisis_id, pl.mission_id, 'ready', pl.params || jsonb_build_object('moved_from', pl.id,
			'moves', coalesce(pl.params->'moves', '[]') || jsonb_build_array(jsonb_build_object(
				'household', p_household, 'from', h->'shelter_id', 'to', p_shelter, 'by', p_actor)
				|| CASE WHEN p_assembly IS NOT NULL THEN jsonb_build_object('assembly_id', p_assembly)
					ELSE '{}' END)),
			res, p_actor, now())
		RETURNING id INTO new_id;
	PERFORM audit_record(p_actor, p_role, pl.mission_id, p_addr, 'plan.move', 'plan', new_id::text,
		json_build_object('from_plan', pl.id, 'household', p_household, 'from_shelter', h->'shelter_id',
			'to_shelter', p_shelter, 'people', people, 'assembly_id', p_assembly)::text);
	RETURN json_build_object('plan_id', new_id, 'moved_from', pl.id, 'stats', res->'stats');
END
$$;
