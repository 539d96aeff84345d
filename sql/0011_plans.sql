-- Evacuation plans made by safetyd's planner for a crisis and a mission:
-- what went in, what came out (households to shelters, vehicle groups with
-- assembly points and departure order), and publishing: one version at a
-- time, each person told their group, assembly point and shelter.

CREATE TABLE plan (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	crisis_id bigint NOT NULL REFERENCES crisis (id),
	mission_id bigint NOT NULL REFERENCES mission (id),
	state text NOT NULL DEFAULT 'running'
		CHECK (state IN ('running', 'ready', 'failed', 'published', 'superseded')),
	-- Published plans of a crisis and mission are numbered 1, 2, ...
	version integer,
	params jsonb NOT NULL,
	result jsonb,
	error text,
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	finished_at timestamptz,
	published_at timestamptz,
	published_by text,
	UNIQUE (crisis_id, mission_id, version)
);
CREATE INDEX plan_crisis ON plan (crisis_id, mission_id, id DESC);

-- The planner's input for a crisis and mission: everyone in one of the given
-- statuses, with every member of their households who is in the crisis too
-- (a household never splits), households with needs and priority, and the
-- mission's shelters and assembly points.
CREATE FUNCTION plan_input(p_crisis bigint, p_mission bigint, p_statuses text[]) RETURNS json
	LANGUAGE sql STABLE AS $$
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
			ARRAY(SELECT DISTINCT x FROM k k2, unnest(k2.needs) x WHERE k2.key = k.key ORDER BY 1)
				AS needs,
			max(CASE status WHEN 'injured' THEN 2 WHEN 'needs_help' THEN 1 ELSE 0 END) AS priority,
			avg(ST_Y(pt::geometry)) AS lat, avg(ST_X(pt::geometry)) AS lon
		FROM k GROUP BY key)
	SELECT json_build_object(
		'households', (SELECT coalesce(json_agg(json_build_object('key', key, 'nationals', nationals,
			'people', people, 'needs', needs, 'priority', priority, 'lat', lat, 'lon', lon)
			ORDER BY key), '[]') FROM h),
		'shelters', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name,
			'lat', ST_Y(point::geometry), 'lon', ST_X(point::geometry), 'capacity', capacity,
			'occupancy', occupancy, 'medical', medical, 'accessible', accessible, 'open', open)
			ORDER BY id), '[]') FROM shelter WHERE mission_id = p_mission AND kind <> 'assembly_point'),
		'assembly_points', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name,
			'lat', ST_Y(point::geometry), 'lon', ST_X(point::geometry), 'open', open) ORDER BY id), '[]')
			FROM shelter WHERE mission_id = p_mission AND kind = 'assembly_point'))
$$;

-- Publishes a ready plan: numbers it, supersedes the previous published one,
-- records the crisis event, and queues for every person placed a message with
-- their group, assembly point, departure order and shelter (by SMS to their
-- first phone, else by e-mail). NULL when the plan is not ready or not the
-- caller's mission's.
CREATE FUNCTION plan_publish(p_plan bigint, p_mission bigint, p_actor text, p_role text,
		p_actor_mission bigint, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	pl plan;
	v integer;
	queued bigint;
BEGIN
	SELECT * INTO pl FROM plan WHERE id = p_plan AND (p_mission IS NULL OR mission_id = p_mission)
		FOR UPDATE;
	IF NOT FOUND OR pl.state <> 'ready' THEN
		RETURN NULL;
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
			AND kind IN ('phone', 'email') ORDER BY kind = 'email', priority, id LIMIT 1) c),
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
