-- Evacuation plans: a cancellation is worked out from what each person was
-- last told (not from the plan just superseded), names the plan it cancels,
-- and is not withdrawn by a later plan that does not place the person; a
-- household is planned from a member's own place, never from the average of
-- places far apart, and one whose members are far apart is left for staff;
-- a plan whose shelter lost the medical care or access a household needs is
-- not published; people placed with no phone or e-mail are listed among the
-- plan's undelivered instructions; a confirmed contact is written to before
-- an unconfirmed one; deleted people pull nobody into a plan.

-- The plan whose instructions a plan message cancels; NULL for instructions.
ALTER TABLE outbox ADD COLUMN plan_cancels bigint REFERENCES plan (id);
-- Cancellations queued before (messages to people their plan does not
-- place): they cancelled the plan published just before theirs. Each plan's
-- result is read once.
WITH placed AS MATERIALIZED (SELECT p.id AS plan_id, x.national_id FROM plan p,
		plan_placed(p.result) x
	WHERE p.id IN (SELECT DISTINCT plan_id FROM outbox WHERE kind = 'plan' AND plan_id IS NOT NULL))
UPDATE outbox o SET plan_cancels = q.id
	FROM plan p, plan q
	WHERE o.kind = 'plan' AND o.plan_id = p.id AND q.crisis_id = p.crisis_id
		AND q.mission_id = p.mission_id AND q.version = p.version - 1
		AND NOT EXISTS (SELECT 1 FROM placed x WHERE x.plan_id = p.id
			AND x.national_id = o.national_id);

-- The people a published plan placed who still travel and have no phone or
-- e-mail: nobody could be told. [{national_id, text}], text the instructions
-- they would have got.
ALTER TABLE plan ADD COLUMN no_contact jsonb;

-- The contact a plan message goes to: a route that delivers, a confirmed
-- contact (an unconfirmed one may be mistyped or someone else's), SMS before
-- e-mail (read at once, wherever the person is), then as the person ranked
-- them; never one of p_except (tried and failed).
CREATE OR REPLACE FUNCTION plan_contact(p_national bigint, p_except text[] DEFAULT '{}')
	RETURNS TABLE (kind text, value text) LANGUAGE sql STABLE AS $$
	SELECT ct.kind, ct.value FROM contact ct WHERE ct.national_id = p_national
		AND ct.kind IN ('phone', 'email') AND NOT ct.value = ANY (p_except)
	ORDER BY route_degraded(CASE WHEN ct.kind = 'phone' THEN 'sms' ELSE 'email' END, ct.value),
		ct.verified DESC, ct.kind = 'email', ct.priority, ct.id
	LIMIT 1
$$;

-- Whether a plan message still stands: instructions while their plan is the
-- published one; a cancellation until the person is queued instructions of
-- a later plan (a later plan that leaves them out too leaves it standing).
CREATE FUNCTION plan_message_stands(o outbox) RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN o.plan_cancels IS NULL
		THEN EXISTS (SELECT 1 FROM plan WHERE id = o.plan_id AND state = 'published')
		ELSE NOT EXISTS (SELECT 1 FROM outbox x WHERE x.crisis_id = o.crisis_id
			AND x.national_id = o.national_id AND x.mission_id = o.mission_id AND x.kind = 'plan'
			AND x.id > o.id AND x.plan_id IS NOT NULL AND x.plan_id <> o.plan_id
			AND x.plan_cancels IS NULL
			-- Instructions a later plan withdrew unsent were never the person's.
			AND (x.state IN ('queued', 'sending', 'sent', 'delivered') OR x.attempts > 0))
		END
$$;

-- A plan message about to be retried that no longer stands fails instead:
-- sent now, it would arrive after the newer plan's.
CREATE OR REPLACE FUNCTION outbox_plan_retry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	cur bigint;
BEGIN
	IF NOT plan_message_stands(NEW) THEN
		SELECT p.id INTO cur FROM plan p WHERE p.crisis_id = NEW.crisis_id
			AND p.mission_id = NEW.mission_id AND p.state = 'published';
		NEW.state := 'failed';
		NEW.last_error := format('superseded by plan %s', coalesce(cur::text, '(none published)'));
	END IF;
	RETURN NEW;
END
$$;

-- A plan message that failed for good goes, as written, to the person's next
-- contact not yet tried for this plan, while the message stands, the crisis
-- is active and the person still travels. With none left, the plan lists it
-- as undelivered (plan_undelivered).
CREATE OR REPLACE FUNCTION outbox_plan_forward() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	c record;
BEGIN
	IF NOT EXISTS (SELECT 1 FROM crisis cr WHERE cr.id = NEW.crisis_id AND cr.state = 'active')
		OR NOT plan_message_stands(NEW)
		OR NOT plan_member_travels(NEW.crisis_id, NEW.national_id) THEN
		RETURN NULL;
	END IF;
	SELECT * INTO c FROM plan_contact(NEW.national_id, ARRAY(SELECT o.recipient FROM outbox o
		WHERE o.plan_id = NEW.plan_id AND o.national_id = NEW.national_id AND o.kind = 'plan'
			AND o.plan_cancels IS NOT DISTINCT FROM NEW.plan_cancels AND o.state = 'failed'));
	IF FOUND THEN
		INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language, body,
				kind, plan_id, plan_cancels)
			VALUES (NEW.crisis_id, NEW.national_id, NEW.mission_id,
				CASE WHEN c.kind = 'phone' THEN 'sms' ELSE 'email' END, c.value, NEW.language,
				NEW.body, 'plan', NEW.plan_id, NEW.plan_cancels);
		PERFORM pg_notify('outbox', NEW.crisis_id::text);
	END IF;
	RETURN NULL;
END
$$;

-- A plan's messages that reached nobody: per person, the last one tried
-- (with its error) when none of the plan's messages to them is sent, being
-- sent or waiting; and the people it placed who had no phone or e-mail when
-- it was published and still travel (error "no contact", no recipient, the
-- text they would have got). Withdrawn messages of a superseded plan are not
-- listed.
CREATE OR REPLACE FUNCTION plan_undelivered(p_plan bigint) RETURNS json LANGUAGE sql STABLE AS $$
	SELECT coalesce(json_agg(json_build_object('national_id', u.national_id,
			'name', coalesce(n.name_latin, n.name_ko), 'recipient', u.recipient,
			'error', u.last_error, 'text', u.body) ORDER BY u.national_id), '[]')
	FROM (SELECT * FROM (SELECT DISTINCT ON (o.national_id) o.national_id, o.recipient, o.last_error, o.body
			FROM outbox o WHERE o.plan_id = p_plan AND o.kind = 'plan' AND o.state = 'failed'
				AND o.last_error IS DISTINCT FROM 'crisis closed'
				AND coalesce(o.last_error, '') NOT LIKE 'superseded by plan %'
				AND NOT EXISTS (SELECT 1 FROM outbox o2 WHERE o2.plan_id = p_plan
					AND o2.national_id = o.national_id AND o2.kind = 'plan' AND o2.state <> 'failed')
			ORDER BY o.national_id, o.id DESC) f
		UNION ALL
		SELECT x.national_id, NULL, 'no contact', x.text
			FROM plan p, jsonb_to_recordset(coalesce(p.no_contact, '[]')) AS x(national_id bigint, text text)
			WHERE p.id = p_plan AND plan_member_travels(p.crisis_id, x.national_id)
				AND NOT EXISTS (SELECT 1 FROM outbox o3 WHERE o3.plan_id = p_plan
					AND o3.national_id = x.national_id AND o3.kind = 'plan')) u
	JOIN national n ON n.id = u.national_id
$$;

-- Publishes a ready plan: numbers it, supersedes the previous published one,
-- records the crisis event, and queues for every person placed who still
-- travels a message with their group, assembly point, departure order and
-- shelter (a confirmed contact first, then SMS before e-mail; marked in a
-- drill), withdrawing every earlier plan's message to them not sent yet.
-- Everyone else who still travels and whose last word - the newest plan
-- message that went out, may have, or is still to go out - is some plan's
-- instructions is told those are cancelled, naming that plan; a cancellation
-- still waiting is left to go. People placed with no phone or e-mail are
-- counted (no_contact) and listed among the plan's undelivered. NULL when
-- the plan is not ready or not the caller's mission's. Refused (55000) when
-- the crisis is not active or no longer the mission's, when the published
-- plan is not part of this one (published after this plan's first version
-- was made, and this plan is not derived from it by moves, whose moves would
-- be lost), or when a shelter it sends people to is closed, gone, has no
-- room now for those who still travel or no longer has the medical care or
-- wheelchair access a household sent there needs.
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
	unreached jsonb;
	is_drill boolean;
	bad text;
	unmet text;
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
	-- A shelter that lost the care or access a household sent there needs (the planner and
	-- moves only send such households where there is one).
	SELECT string_agg(format('%s (%s, and household %s needs it)', s.name,
			CASE WHEN h.needs ? 'medical' AND NOT s.medical THEN 'no medical care'
				ELSE 'no wheelchair access' END, h.key), ', ' ORDER BY s.id, h.key)
		INTO unmet
		FROM jsonb_to_recordset(coalesce(pl.result->'households', '[]'))
			AS h(key text, nationals bigint[], needs jsonb, shelter_id bigint)
		JOIN shelter s ON s.id = h.shelter_id AND s.mission_id = pl.mission_id AND s.open
		WHERE ((h.needs ? 'medical' AND NOT s.medical) OR (h.needs ? 'disability' AND NOT s.accessible))
			AND EXISTS (SELECT 1 FROM unnest(h.nationals) m WHERE plan_member_travels(pl.crisis_id, m));
	bad := concat_ws(', ', bad, unmet);
	IF bad <> '' THEN
		RAISE EXCEPTION 'shelters no longer take this plan: %; make a new plan or move the households',
			bad USING ERRCODE = '55000';
	END IF;
	SELECT c.drill INTO is_drill FROM crisis c WHERE c.id = pl.crisis_id;
	UPDATE plan SET state = 'superseded' WHERE crisis_id = pl.crisis_id AND mission_id = pl.mission_id
		AND state = 'published';
	SELECT coalesce(max(version), 0) + 1 INTO v FROM plan
		WHERE crisis_id = pl.crisis_id AND mission_id = pl.mission_id;
	-- Earlier plans' instructions not sent yet would arrive after this plan's and undo them:
	-- withdrawn. A cancellation waiting is withdrawn only for someone this plan places (its
	-- instructions replace it); anyone else would be left with the instructions it cancels.
	UPDATE outbox o SET state = 'failed', last_error = format('superseded by plan %s', p_plan)
		WHERE o.crisis_id = pl.crisis_id AND o.mission_id = pl.mission_id AND o.kind = 'plan'
			AND o.state = 'queued' AND (o.plan_cancels IS NULL
				OR o.national_id IN (SELECT x.national_id FROM plan_placed(pl.result) x));
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
		LEFT JOIN LATERAL plan_contact(h.national_id) c ON true
		WHERE plan_member_travels(pl.crisis_id, h.national_id)),
	t AS (SELECT m.*, drill_mark(m.lang, is_drill) || CASE WHEN m.lang = 'ko' THEN
				format('[대피 계획 %s] %s조, %s번째 출발. 집결지: %s%s. 대피처: %s.',
					v, m.no, m."order" + 1, coalesce(m.assembly_name, '집결 장소'), m.at, m.shelter)
			ELSE
				format('[Evacuation plan %s] Group %s, departure %s. Meet at %s%s; you go to %s.',
					v, m.no, m."order" + 1, coalesce(m.assembly_name, 'the meeting point'), m.at,
					m.shelter)
			END AS body FROM m),
	ins AS (INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language, body, kind,
			plan_id)
		SELECT pl.crisis_id, t.national_id, pl.mission_id,
			CASE WHEN t.kind = 'phone' THEN 'sms' ELSE 'email' END, t.value, t.lang, t.body, 'plan', p_plan
		FROM t WHERE t.value IS NOT NULL RETURNING 1)
	SELECT (SELECT count(*) FROM ins), (SELECT coalesce(jsonb_agg(jsonb_build_object('national_id',
			t.national_id, 'text', t.body) ORDER BY t.national_id), '[]') FROM t WHERE t.value IS NULL)
		INTO queued, unreached;
	UPDATE plan SET state = 'published', version = v, published_at = now(), published_by = p_actor,
			no_contact = unreached
		WHERE id = p_plan;
	-- Everyone else who still travels is told the last instructions they got (or may have got,
	-- or are still to get) no longer hold, naming that plan. The last word is worked out from
	-- the messages themselves, not from the plan superseded: a cancellation still waiting
	-- stands, and instructions withdrawn before going out were never the person's.
	WITH ours AS (SELECT o.id, o.national_id, o.plan_id, o.plan_cancels FROM outbox o
			WHERE o.crisis_id = pl.crisis_id AND o.mission_id = pl.mission_id AND o.kind = 'plan'
				AND o.plan_id IS NOT NULL AND o.plan_id <> p_plan
				AND (o.state IN ('sending', 'sent', 'delivered') OR o.attempts > 0
					OR (o.state = 'queued' AND o.plan_cancels IS NOT NULL))),
	last AS (SELECT DISTINCT ON (national_id) * FROM ours ORDER BY national_id, id DESC),
	m AS (SELECT l.national_id, q.version AS told, c.kind, c.value,
				CASE WHEN 'ko' = ANY (n.languages) OR n.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang,
				l.plan_id AS cancels
			FROM last l JOIN plan q ON q.id = l.plan_id JOIN national n ON n.id = l.national_id
			CROSS JOIN LATERAL plan_contact(l.national_id) c
			WHERE l.plan_cancels IS NULL
				AND NOT EXISTS (SELECT 1 FROM plan_placed(pl.result) h
					WHERE h.national_id = l.national_id)
				AND plan_member_travels(pl.crisis_id, l.national_id)),
	ins AS (INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language,
			body, kind, plan_id, plan_cancels)
		SELECT pl.crisis_id, m.national_id, pl.mission_id,
			CASE WHEN m.kind = 'phone' THEN 'sms' ELSE 'email' END, m.value, m.lang,
			drill_mark(m.lang, is_drill) || CASE WHEN m.lang = 'ko' THEN
				format('[대피 계획 %s 취소] 이전 대피 안내(계획 %s)는 취소되었습니다. '
					'대사관의 안내를 기다려 주십시오.', m.told, m.told)
			ELSE
				format('[Evacuation plan %s cancelled] Your previous evacuation instructions '
					'(plan %s) are cancelled; wait for the embassy''s instructions.',
					m.told, m.told)
			END, 'plan', p_plan, m.cancels
		FROM m RETURNING 1)
	SELECT count(*) INTO cancelled FROM ins;
	INSERT INTO crisis_event (crisis_id, mission_id, kind, detail)
		VALUES (pl.crisis_id, pl.mission_id, 'plan_published',
			jsonb_build_object('plan_id', p_plan, 'version', v, 'messages', queued,
				'cancelled_messages', cancelled, 'no_contact', jsonb_array_length(unreached)));
	PERFORM pg_notify('outbox', pl.crisis_id::text);
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr, 'plan.publish', 'plan',
		p_plan::text, json_build_object('version', v, 'messages', queued,
			'cancelled_messages', cancelled, 'no_contact', jsonb_array_length(unreached))::text);
	RETURN json_build_object('plan_id', p_plan, 'version', v, 'messages', queued,
		'cancelled_messages', cancelled, 'no_contact', jsonb_array_length(unreached));
END
$$;

-- How far, at most, a member of a household planned as one may be from the
-- member it is planned from: they meet at one assembly point and ride
-- together.
CREATE FUNCTION plan_household_reach_m() RETURNS double precision LANGUAGE sql IMMUTABLE AS $$
	SELECT 5000::double precision
$$;

-- The planner's input for a crisis and mission: everyone in one of the given
-- statuses, with every member of their households who is in the crisis too
-- (a household never splits), households with needs and priority, and the
-- mission's shelters and assembly points. Deleted people and statuses count
-- for nothing. A household is planned from one member's place - the member
-- nearest the middle of their places, one asking to leave first among
-- equals - never from a point between places; one with a member further
-- than plan_household_reach_m() from there is given no place and is
-- reported unassigned (members_apart) for staff to place by hand.
CREATE OR REPLACE FUNCTION plan_input(p_crisis bigint, p_mission bigint, p_statuses text[])
	RETURNS json LANGUAGE sql STABLE AS $$
	WITH sel AS (SELECT ps.national_id FROM person_status ps
			JOIN national n ON n.id = ps.national_id AND n.deleted_at IS NULL
			WHERE ps.crisis_id = p_crisis AND ps.mission_id = p_mission AND NOT ps.deleted
				AND ps.status = ANY (p_statuses)),
	hh AS (SELECT DISTINCT n.household_id FROM sel JOIN national n ON n.id = sel.national_id
			WHERE n.household_id IS NOT NULL),
	p AS (SELECT ps.national_id, ps.status, n.household_id, n.needs,
			coalesce(r.point, n.last_point) AS pt
		FROM person_status ps JOIN national n ON n.id = ps.national_id AND n.deleted_at IS NULL
		LEFT JOIN response r ON r.id = ps.last_response_id
		WHERE ps.crisis_id = p_crisis AND ps.mission_id = p_mission AND NOT ps.deleted
			AND ps.status NOT IN ('deceased', 'missing', 'evacuated')
			AND (ps.national_id IN (SELECT national_id FROM sel)
				OR n.household_id IN (SELECT household_id FROM hh))),
	k AS (SELECT p.*, coalesce('h' || household_id, 'n' || national_id) AS key FROM p),
	h AS (SELECT key, array_agg(national_id ORDER BY national_id) AS nationals, count(*) AS people,
			max(CASE status WHEN 'injured' THEN 2 WHEN 'needs_help' THEN 1 ELSE 0 END) AS priority
		FROM k GROUP BY key),
	-- The member nearest the middle of the household's places (a place of its own, not the
	-- middle itself), one asking to leave first among equals; then how far the farthest
	-- member is from there (on the sphere: metres matter here, not the spheroid's centimetres).
	mid AS (SELECT key, ST_Centroid(ST_Collect(pt::geometry)) AS c FROM k WHERE pt IS NOT NULL
		GROUP BY key),
	md AS (SELECT DISTINCT ON (k.key) k.key, k.pt, ST_Y(k.pt::geometry) AS lat,
			ST_X(k.pt::geometry) AS lon
		FROM k JOIN mid ON mid.key = k.key WHERE k.pt IS NOT NULL
		ORDER BY k.key, ST_Distance(k.pt::geometry, mid.c),
			k.national_id IN (SELECT national_id FROM sel) DESC, k.national_id),
	spread AS (SELECT k.key, max(ST_Distance(k.pt, md.pt, false)) AS apart
		FROM k JOIN md ON md.key = k.key WHERE k.pt IS NOT NULL GROUP BY k.key),
	nd AS (SELECT key, array_agg(DISTINCT x ORDER BY x) AS needs FROM k, unnest(k.needs) x
		GROUP BY key)
	SELECT json_build_object(
		'households', (SELECT coalesce(json_agg(json_build_object('key', h.key,
			'nationals', h.nationals, 'people', h.people, 'needs', coalesce(nd.needs, '{}'),
			'priority', h.priority)::jsonb
			|| CASE WHEN sp.apart > plan_household_reach_m() THEN jsonb_build_object(
					'lat', NULL, 'lon', NULL, 'apart_m', round(sp.apart::numeric),
					'unassigned', 'members_apart',
					'unassigned_detail', format('the members of household %s are up to %s km apart '
						'(more than %s km): they would not meet at one assembly point; place them by hand',
						h.key, round((sp.apart / 1000)::numeric, 1), plan_household_reach_m() / 1000))
				ELSE jsonb_build_object('lat', md.lat, 'lon', md.lon) END
			ORDER BY h.key), '[]') FROM h LEFT JOIN nd ON nd.key = h.key
			LEFT JOIN md ON md.key = h.key LEFT JOIN spread sp ON sp.key = h.key),
		'shelters', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name,
			'lat', ST_Y(point::geometry), 'lon', ST_X(point::geometry), 'capacity', capacity,
			'occupancy', occupancy, 'medical', medical, 'accessible', accessible, 'open', open)
			ORDER BY id), '[]') FROM shelter WHERE mission_id = p_mission AND kind <> 'assembly_point'),
		'assembly_points', (SELECT coalesce(json_agg(json_build_object('id', id, 'name', name,
			'lat', ST_Y(point::geometry), 'lon', ST_X(point::geometry), 'open', open) ORDER BY id), '[]')
			FROM shelter WHERE mission_id = p_mission AND kind = 'assembly_point'))
$$;

-- Its members are grouped by household in several steps the planner
-- estimates badly: the cost crossed the JIT threshold, and compiling took
-- most of the query (1.7 s of 2.0 s for 6,000 people).
ALTER FUNCTION plan_input(bigint, bigint, text[]) SET jit = off;
