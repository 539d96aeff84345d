-- Evacuation plans: a new plan's messages are the last word (the earlier
-- plans' messages not yet sent are withdrawn, and one waiting for a retry is
-- not sent again); a plan message that cannot be delivered goes to the
-- person's next contact, else staff see it among the plan's undelivered
-- instructions; shelters are checked for the people who still travel; plans
-- record the server making them, so a server that stopped does not hold
-- planning back, and crisis managers may give up a plan being made; the
-- planner's input is gathered in time linear in the people.

ALTER TABLE outbox ADD COLUMN plan_id bigint REFERENCES plan (id);
CREATE INDEX outbox_plan ON outbox (plan_id, national_id) WHERE plan_id IS NOT NULL;

-- The server and run making a plan: "server#run" (the part before # is the
-- same for every run of one server).
ALTER TABLE plan ADD COLUMN owner text;

-- The contact a plan message goes to: a route that delivers, SMS before
-- e-mail (read at once, wherever the person is), a verified contact, then as
-- the person ranked them; never one of p_except (tried and failed).
DROP FUNCTION plan_contact(bigint);
CREATE FUNCTION plan_contact(p_national bigint, p_except text[] DEFAULT '{}')
	RETURNS TABLE (kind text, value text) LANGUAGE sql STABLE AS $$
	SELECT ct.kind, ct.value FROM contact ct WHERE ct.national_id = p_national
		AND ct.kind IN ('phone', 'email') AND NOT ct.value = ANY (p_except)
	ORDER BY route_degraded(CASE WHEN ct.kind = 'phone' THEN 'sms' ELSE 'email' END, ct.value),
		ct.kind = 'email', ct.verified DESC, ct.priority, ct.id
	LIMIT 1
$$;

-- The people of a plan who still travel, by the shelter it sends them to.
CREATE FUNCTION plan_travelling_load(p_crisis bigint, p_result jsonb)
	RETURNS TABLE (shelter_id bigint, load bigint) LANGUAGE sql STABLE AS $$
	SELECT x.shelter_id, count(*) FROM jsonb_to_recordset(coalesce(p_result->'households', '[]'))
		AS x(nationals bigint[], shelter_id bigint), unnest(x.nationals) AS n
	WHERE x.shelter_id IS NOT NULL AND plan_member_travels(p_crisis, n)
	GROUP BY x.shelter_id
$$;

-- A plan message about to be retried whose plan is no longer the published
-- one fails instead: sent now, it would arrive after the newer plan's.
CREATE FUNCTION outbox_plan_retry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	cur bigint;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM plan WHERE id = NEW.plan_id AND state = 'published') THEN
		SELECT p.id INTO cur FROM plan p WHERE p.crisis_id = NEW.crisis_id
			AND p.mission_id = NEW.mission_id AND p.state = 'published';
		NEW.state := 'failed';
		NEW.last_error := format('superseded by plan %s', coalesce(cur::text, '(none published)'));
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER outbox_plan_retry BEFORE UPDATE OF state ON outbox FOR EACH ROW
	WHEN (NEW.kind = 'plan' AND NEW.plan_id IS NOT NULL AND OLD.state = 'sending'
		AND NEW.state = 'queued')
	EXECUTE FUNCTION outbox_plan_retry();

-- A plan message that failed for good goes, as written, to the person's next
-- contact not yet tried for this plan, while the plan is the published one of
-- an active crisis and the person still travels. With none left, the plan
-- lists it as undelivered (plan_undelivered).
CREATE FUNCTION outbox_plan_forward() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	c record;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM plan p JOIN crisis cr ON cr.id = p.crisis_id
			WHERE p.id = NEW.plan_id AND p.state = 'published' AND cr.state = 'active')
		OR NOT plan_member_travels(NEW.crisis_id, NEW.national_id) THEN
		RETURN NULL;
	END IF;
	SELECT * INTO c FROM plan_contact(NEW.national_id, ARRAY(SELECT o.recipient FROM outbox o
		WHERE o.plan_id = NEW.plan_id AND o.national_id = NEW.national_id AND o.kind = 'plan'
			AND o.state = 'failed'));
	IF FOUND THEN
		INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language, body,
				kind, plan_id)
			VALUES (NEW.crisis_id, NEW.national_id, NEW.mission_id,
				CASE WHEN c.kind = 'phone' THEN 'sms' ELSE 'email' END, c.value, NEW.language,
				NEW.body, 'plan', NEW.plan_id);
		PERFORM pg_notify('outbox', NEW.crisis_id::text);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER outbox_plan_forward AFTER UPDATE OF state ON outbox FOR EACH ROW
	WHEN (NEW.kind = 'plan' AND NEW.plan_id IS NOT NULL AND NEW.state = 'failed'
		AND OLD.state <> 'failed')
	EXECUTE FUNCTION outbox_plan_forward();

-- A plan's messages that reached nobody: per person, the last one tried
-- (with its error) when none of the plan's messages to them is sent, being
-- sent or waiting. Withdrawn messages of a superseded plan are not listed.
CREATE FUNCTION plan_undelivered(p_plan bigint) RETURNS json LANGUAGE sql STABLE AS $$
	SELECT coalesce(json_agg(json_build_object('national_id', u.national_id,
			'name', coalesce(n.name_latin, n.name_ko), 'recipient', u.recipient,
			'error', u.last_error, 'text', u.body) ORDER BY u.national_id), '[]')
	FROM (SELECT DISTINCT ON (o.national_id) o.national_id, o.recipient, o.last_error, o.body
		FROM outbox o WHERE o.plan_id = p_plan AND o.kind = 'plan' AND o.state = 'failed'
		ORDER BY o.national_id, o.id DESC) u
	JOIN national n ON n.id = u.national_id
	WHERE u.last_error IS DISTINCT FROM 'crisis closed'
		AND coalesce(u.last_error, '') NOT LIKE 'superseded by plan %'
		AND NOT EXISTS (SELECT 1 FROM outbox o2 WHERE o2.plan_id = p_plan
			AND o2.national_id = u.national_id AND o2.kind = 'plan' AND o2.state <> 'failed')
$$;

-- Publishes a ready plan: numbers it, supersedes the previous published one
-- and withdraws its messages not sent yet, records the crisis event, and
-- queues for every person placed who still travels a message with their
-- group, assembly point, departure order and shelter, and for every person
-- the superseded plan placed and this one does not a message cancelling
-- their instructions (SMS to a delivering phone first, else e-mail; marked in
-- a drill). NULL when the plan is not ready or not the caller's mission's.
-- Refused (55000) when the crisis is not active or no longer the mission's,
-- when the published plan is not part of this one (published after this
-- plan's first version was made, and this plan is not derived from it by
-- moves, whose moves would be lost), or when a shelter it sends people to is
-- closed, gone or has no room now for those who still travel.
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
	-- closed or full shelter would be turned away at its door. Only those who still travel
	-- count: people already evacuated are in the shelter's occupancy, if anywhere.
	SELECT string_agg(format('%s (%s)', coalesce(s.name, 'shelter ' || x.id),
			CASE WHEN s.id IS NULL THEN 'gone'
				WHEN NOT s.open THEN 'closed'
				ELSE format('room for %s, the plan sends %s',
					greatest(s.capacity - s.occupancy, 0), x.load) END), ', ' ORDER BY x.id)
		INTO bad
		FROM plan_travelling_load(pl.crisis_id, pl.result) AS x(id, load)
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
	-- Messages of earlier plans not sent yet would arrive after this plan's and undo them.
	UPDATE outbox SET state = 'failed', last_error = format('superseded by plan %s', p_plan)
		WHERE crisis_id = pl.crisis_id AND mission_id = pl.mission_id AND kind = 'plan'
			AND state = 'queued';
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
	ins AS (INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language, body, kind,
			plan_id)
		SELECT pl.crisis_id, m.national_id, pl.mission_id,
			CASE WHEN m.kind = 'phone' THEN 'sms' ELSE 'email' END, m.value, m.lang,
			drill_mark(m.lang, is_drill) || CASE WHEN m.lang = 'ko' THEN
				format('[대피 계획 %s] %s조, %s번째 출발. 집결지: %s%s. 대피처: %s.',
					v, m.no, m."order" + 1, coalesce(m.assembly_name, '집결 장소'), m.at, m.shelter)
			ELSE
				format('[Evacuation plan %s] Group %s, departure %s. Meet at %s%s; you go to %s.',
					v, m.no, m."order" + 1, coalesce(m.assembly_name, 'the meeting point'), m.at,
					m.shelter)
			END, 'plan', p_plan
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
				body, kind, plan_id)
			SELECT pl.crisis_id, m.national_id, pl.mission_id,
				CASE WHEN m.kind = 'phone' THEN 'sms' ELSE 'email' END, m.value, m.lang,
				drill_mark(m.lang, is_drill) || CASE WHEN m.lang = 'ko' THEN
					format('[대피 계획 %s 취소] 이전 대피 안내(계획 %s)는 취소되었습니다. '
						'대사관의 안내를 기다려 주십시오.', cur.version, cur.version)
				ELSE
					format('[Evacuation plan %s cancelled] Your previous evacuation instructions '
						'(plan %s) are cancelled; wait for the embassy''s instructions.',
						cur.version, cur.version)
				END, 'plan', p_plan
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

-- Staff move a household to another shelter in a plan (as in 0044), the
-- shelter's room counted for the people who still travel.
CREATE OR REPLACE FUNCTION plan_move(p_plan bigint, p_mission bigint, p_household text, p_shelter bigint,
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
	travelling integer;
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
	-- Room for those who still travel: people already evacuated are in the shelter's
	-- occupancy, if anywhere, and count once.
	SELECT coalesce(sum(x.load), 0) INTO load_there
		FROM plan_travelling_load(pl.crisis_id, pl.result) x WHERE x.shelter_id = p_shelter;
	SELECT count(*) INTO travelling FROM jsonb_array_elements_text(h->'nationals') n
		WHERE plan_member_travels(pl.crisis_id, n::bigint);
	IF load_there + travelling > sh.capacity - sh.occupancy THEN
		RAISE EXCEPTION 'shelter_id: room for % more, the household is %',
			greatest(sh.capacity - sh.occupancy - load_there, 0), travelling
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

-- Starts a plan: its row, running, owned by p_owner ("server#run"), and the
-- audit record. No row when the mission has no such crisis; refused (55000)
-- when the crisis is not active or a plan of the crisis and mission is being
-- made; refused (53400) when p_full, the asking server making as many plans
-- as it may (after the crisis's own check, which says more). Plans left
-- running by an earlier run of the same server, or for ten minutes (the
-- planner takes seconds), are given up first.
DROP FUNCTION plan_create(bigint, bigint, jsonb, text[], text, text, bigint, text);
CREATE FUNCTION plan_create(p_crisis bigint, p_mission bigint, p_params jsonb, p_statuses text[],
		p_actor text, p_role text, p_actor_mission bigint, p_addr text, p_owner text,
		p_full boolean DEFAULT false)
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
	PERFORM plan_owner_gone(p_owner);
	SELECT p.id INTO running FROM plan p WHERE p.crisis_id = p_crisis AND p.mission_id = p_mission
		AND p.state = 'running' ORDER BY p.id LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'a plan is being made for this crisis: id %; wait for it (GET /api/v1/plans/%) '
			'or give it up (POST /api/v1/plans/%/cancel)', running, running, running
			USING ERRCODE = '55000';
	END IF;
	IF p_full THEN
		RAISE EXCEPTION 'other plans are being made on this server; try again in a few seconds'
			USING ERRCODE = '53400';
	END IF;
	INSERT INTO plan (crisis_id, mission_id, params, created_by, owner)
		VALUES (p_crisis, p_mission, jsonb_set(p_params, '{statuses}', to_jsonb(p_statuses)), p_actor,
			p_owner)
		RETURNING id INTO new_id;
	RETURN QUERY SELECT new_id, '/api/v1/plans/' || new_id, json_build_object('plan_id', new_id,
		'state', 'running', 'audit_id', audit_record(p_actor, p_role, p_actor_mission, p_addr,
			'plan.create', 'plan', new_id::text, p_params::text))::text;
END
$$;

-- Gives up the plans being made by an earlier run of the server of p_owner
-- ("server#run"): that run stopped, and no result will come. The count.
CREATE FUNCTION plan_owner_gone(p_owner text) RETURNS bigint LANGUAGE sql AS $$
	WITH u AS (UPDATE plan SET state = 'failed', finished_at = now(),
			error = 'given up: the server making it stopped'
		WHERE state = 'running' AND owner IS NOT NULL AND owner <> p_owner
			AND split_part(owner, '#', 1) = split_part(p_owner, '#', 1)
		RETURNING 1)
	SELECT count(*) FROM u
$$;

-- Staff give up a plan being made (its server hangs or stopped): it fails,
-- and a result coming later is not stored. NULL when the plan is not being
-- made or not the caller's mission's.
CREATE FUNCTION plan_give_up(p_plan bigint, p_mission bigint, p_actor text, p_role text,
		p_actor_mission bigint, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	pl plan;
BEGIN
	UPDATE plan SET state = 'failed', finished_at = now(), error = 'given up by ' || p_actor
		WHERE id = p_plan AND (p_mission IS NULL OR mission_id = p_mission) AND state = 'running'
		RETURNING * INTO pl;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr, 'plan.cancel', 'plan',
		p_plan::text, json_build_object('crisis_id', pl.crisis_id, 'owner', pl.owner)::text);
	PERFORM pg_notify('safety_plan', json_build_object('plan_id', pl.id, 'crisis_id', pl.crisis_id,
		'mission_id', pl.mission_id, 'state', 'failed', 'seq', 1000000)::text);
	RETURN json_build_object('plan_id', pl.id, 'state', 'failed', 'error', pl.error);
END
$$;

-- The planner's input for a crisis and mission: everyone in one of the given
-- statuses, with every member of their households who is in the crisis too
-- (a household never splits), households with needs and priority, and the
-- mission's shelters and assembly points. The needs are gathered with the
-- households, in one pass.
CREATE OR REPLACE FUNCTION plan_input(p_crisis bigint, p_mission bigint, p_statuses text[])
	RETURNS json LANGUAGE sql STABLE AS $$
	WITH sel AS (SELECT national_id FROM person_status WHERE crisis_id = p_crisis
			AND mission_id = p_mission AND status = ANY (p_statuses)),
	hh AS (SELECT DISTINCT n.household_id FROM sel JOIN national n ON n.id = sel.national_id
			WHERE n.household_id IS NOT NULL),
	p AS (SELECT ps.national_id, ps.status, n.household_id, n.needs,
			coalesce(r.point, n.last_point) AS pt
		FROM person_status ps JOIN national n ON n.id = ps.national_id AND n.deleted_at IS NULL
		LEFT JOIN response r ON r.id = ps.last_response_id
		WHERE ps.crisis_id = p_crisis AND ps.mission_id = p_mission
			AND ps.status NOT IN ('deceased', 'missing', 'evacuated')
			AND (ps.national_id IN (SELECT national_id FROM sel)
				OR n.household_id IN (SELECT household_id FROM hh))),
	k AS (SELECT p.*, coalesce('h' || household_id, 'n' || national_id) AS key FROM p),
	h AS (SELECT key, array_agg(national_id ORDER BY national_id) AS nationals, count(*) AS people,
			max(CASE status WHEN 'injured' THEN 2 WHEN 'needs_help' THEN 1 ELSE 0 END) AS priority,
			avg(ST_Y(pt::geometry)) AS lat, avg(ST_X(pt::geometry)) AS lon
		FROM k GROUP BY key),
	nd AS (SELECT key, array_agg(DISTINCT x ORDER BY x) AS needs FROM k, unnest(k.needs) x
		GROUP BY key)
	SELECT json_build_object(
		'households', (SELECT coalesce(json_agg(json_build_object('key', h.key,
			'nationals', h.nationals, 'people', h.people, 'needs', coalesce(nd.needs, '{}'),
			'priority', h.priority, 'lat', h.lat, 'lon', h.lon)
			ORDER BY h.key), '[]') FROM h LEFT JOIN nd ON nd.key = h.key),
		'shelters', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name,
			'lat', ST_Y(point::geometry), 'lon', ST_X(point::geometry), 'capacity', capacity,
			'occupancy', occupancy, 'medical', medical, 'accessible', accessible, 'open', open)
			ORDER BY id), '[]') FROM shelter WHERE mission_id = p_mission AND kind <> 'assembly_point'),
		'assembly_points', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name,
			'lat', ST_Y(point::geometry), 'lon', ST_X(point::geometry), 'open', open) ORDER BY id), '[]')
			FROM shelter WHERE mission_id = p_mission AND kind = 'assembly_point'))
$$;
