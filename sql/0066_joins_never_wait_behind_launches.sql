-- Nobody waits behind a launch to register, and nobody who comes into a
-- running check-in's area is missed.
--
-- A launch holds its mission's membership lock ('crisis-members:') for its
-- whole run, seconds for a large registry. Registrations, partner
-- itineraries and registry imports took that lock before writing anyone, so
-- during a launch each waited until it timed out and failed, holding a
-- connection of the shared pool the while. Now the people are written
-- without it, and the join asks for it (shared: joins do not exclude each
-- other) only without waiting: when a launch holds it, the people are
-- recorded in join_pending, in the writer's own transaction, and joined
-- once the launch has committed (safetyd drains the queue with its
-- maintenance run, and after a staff change of place). A staff change of
-- place queues the person in its own transaction, so a join that fails
-- afterwards is retried, never lost.
--
-- Also: a registrant flagged as the duplicate of someone already asked in
-- the crisis is not asked a second time; the message language is decided
-- by national_message_language as in launches and re-asks; and the crises
-- are held FOR SHARE while people join them, so a close either waits or is
-- skipped (those people are queued and tried again: once closed, nobody is
-- asked).

CREATE TABLE join_pending (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mission_id bigint NOT NULL REFERENCES mission (id) ON DELETE CASCADE,
	national_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	queued_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX join_pending_mission ON join_pending (mission_id);
CREATE INDEX join_pending_national ON join_pending (national_id);

-- Asks the given people of p_mission in every running campaign of an active
-- crisis of the mission whose area holds them today and which has not asked
-- them yet; returns how many check-ins it made. It takes the mission's
-- membership lock shared and without waiting: held, a launch under way has
-- to wait for this transaction and then sees them; busy (a launch, a
-- deletion or a merge runs), the people are queued in join_pending and
-- joined after it. Either way the person is asked once.
CREATE OR REPLACE FUNCTION nationals_join_crises(p_mission bigint, p_ids bigint[]) RETURNS integer
	LANGUAGE plpgsql AS $$
DECLARE
	camp record;
	added integer;
	joined integer := 0;
	-- Stands for the name while the message is rendered (as in a launch):
	-- no title or template can contain it.
	name_mark constant text := '{name ' || gen_random_uuid() || '}';
	body_ko text;
	body_en text;
	todo bigint[];
	running bigint[];
	held bigint[];
BEGIN
	IF p_mission IS NULL OR coalesce(cardinality(p_ids), 0) = 0 THEN
		RETURN 0;
	END IF;
	IF NOT pg_try_advisory_xact_lock_shared(hashtextextended('crisis-members:' || p_mission, 0)) THEN
		INSERT INTO join_pending (mission_id, national_id)
			SELECT p_mission, n.id FROM national n WHERE n.id = ANY (p_ids)
				AND n.mission_id = p_mission AND n.deleted_at IS NULL;
		RETURN 0;
	END IF;
	-- The usual case: no check-in running for the mission.
	IF NOT EXISTS (SELECT 1 FROM campaign cp WHERE cp.mission_id = p_mission
			AND cp.state = 'running') THEN
		RETURN 0;
	END IF;
	running := ARRAY(SELECT DISTINCT cp.crisis_id FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id
		WHERE cp.mission_id = p_mission AND cp.state = 'running' AND c.state = 'active');
	-- Held until commit, so a close waits for these asks (and then fails
	-- what is queued). A crisis being closed or changed is skipped here, and
	-- the people queued: tried again once it is done, nobody is asked in a
	-- closed crisis.
	held := ARRAY(SELECT c.id FROM crisis c WHERE c.id = ANY (running) AND c.state = 'active'
		ORDER BY c.id FOR SHARE SKIP LOCKED);
	IF cardinality(held) < cardinality(running) THEN
		INSERT INTO join_pending (mission_id, national_id)
			SELECT p_mission, n.id FROM national n WHERE n.id = ANY (p_ids)
				AND n.mission_id = p_mission AND n.deleted_at IS NULL;
	END IF;
	-- The newest running campaign of each active crisis, as 0053.
	FOR camp IN SELECT DISTINCT ON (cp.crisis_id) cp.*, c.title, c.drill, c.area, c.center, c.radius_m
			FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id AND c.state = 'active'
			WHERE cp.mission_id = p_mission AND cp.state = 'running' AND cp.crisis_id = ANY (held)
			ORDER BY cp.crisis_id, cp.id DESC LOOP
		-- Those asked already leave first, through the key: an import of
		-- people asked at the launch tests none of them against the area.
		-- So does a registrant whose registration is the duplicate of
		-- someone asked in this crisis: the same person, asked once (and
		-- their registration can still be merged).
		todo := ARRAY(SELECT DISTINCT g.id FROM unnest(p_ids) g(id) WHERE NOT EXISTS (
				SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id AND k.national_id = g.id)
			AND NOT EXISTS (SELECT 1 FROM registration r JOIN checkin k
				ON k.crisis_id = camp.crisis_id AND k.national_id = r.duplicate_of
				WHERE r.national_id = g.id AND r.duplicate_of <> g.id));
		CONTINUE WHEN cardinality(todo) = 0;
		body_ko := campaign_render(camp.templates, 'ko', name_mark, camp.title, camp.drill);
		body_en := campaign_render(camp.templates, 'en', name_mark, camp.title, camp.drill);
		-- The launch's choice of route for each: a working route before a
		-- degraded one, the first channel before the next, a confirmed
		-- contact before an unconfirmed one; no contact, unreachable.
		WITH r AS (SELECT DISTINCT ON (t.national_id) t.national_id, t.region_id,
					ch.i AS channel_index, ch.channel, ct.value AS recipient,
					national_message_language(t.languages, t.name_ko) AS lang,
					t.name_ko, t.name_latin
				FROM (SELECT * FROM nationals_in_area_among(p_mission, todo, camp.area, current_date)
						WHERE camp.area IS NOT NULL
					UNION ALL
					SELECT * FROM nationals_near_among(p_mission, todo, camp.center, camp.radius_m,
						current_date) WHERE camp.area IS NULL) t
				LEFT JOIN (unnest(camp.channels) WITH ORDINALITY AS ch(channel, i)
					JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel))
					ON ct.national_id = t.national_id
				LEFT JOIN route_health h ON h.degraded AND h.channel = ch.channel
					AND h.prefix = route_prefix(ch.channel, ct.value)
				WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id
					AND k.national_id = t.national_id)
				ORDER BY t.national_id, ct.id IS NULL, h.prefix IS NOT NULL, ch.i, ct.verified DESC,
					ct.priority, ct.id),
			k AS (INSERT INTO checkin (crisis_id, national_id, mission_id, region_id, campaign_id,
					channel_index, next_ask_at, state)
				SELECT camp.crisis_id, r.national_id, p_mission, coalesce(r.region_id, 0), camp.id,
					coalesce(r.channel_index, 1), now() + make_interval(secs => camp.reask_interval_s),
					CASE WHEN r.channel IS NULL THEN 'unreachable' ELSE 'asked' END::checkin_state
				FROM r
				ON CONFLICT (crisis_id, national_id) DO NOTHING
				RETURNING national_id),
			o AS (INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel,
					recipient, language, body)
				SELECT camp.crisis_id, camp.id, r.national_id, p_mission, r.channel, r.recipient, r.lang,
					CASE WHEN r.lang = 'ko' THEN replace(body_ko, name_mark,
							coalesce(r.name_ko, r.name_latin, ''))
						ELSE replace(body_en, name_mark, coalesce(r.name_latin, r.name_ko, '')) END
				FROM r JOIN k ON k.national_id = r.national_id
				WHERE r.channel IS NOT NULL
				RETURNING 1)
		SELECT count(*) INTO added FROM k, (SELECT count(*) FROM o) oc;
		IF added > 0 THEN
			UPDATE campaign SET targeted = targeted + added WHERE id = camp.id;
			joined := joined + added;
		END IF;
	END LOOP;
	IF joined > 0 THEN
		-- Dispatchers on every safetyd wake up at commit rather than at their next poll.
		PERFORM pg_notify('outbox', p_mission::text);
	END IF;
	RETURN joined;
END
$$;

-- Joins the people queued for p_mission, when no launch holds it (else they
-- stay queued for the next drain); returns how many check-ins it made.
CREATE FUNCTION join_pending_drain(p_mission bigint) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
BEGIN
	IF p_mission IS NULL OR NOT EXISTS (SELECT 1 FROM join_pending WHERE mission_id = p_mission)
			OR NOT pg_try_advisory_xact_lock_shared(hashtextextended('crisis-members:' || p_mission, 0)) THEN
		RETURN 0;
	END IF;
	-- (Rows another drain is taking are skipped: that drain joins them.)
	WITH d AS (DELETE FROM join_pending j WHERE j.id IN (SELECT p.id FROM join_pending p
			WHERE p.mission_id = p_mission FOR UPDATE SKIP LOCKED)
		RETURNING j.national_id)
	SELECT array_agg(DISTINCT national_id) INTO ids FROM d;
	RETURN nationals_join_crises(p_mission, ids);
END
$$;

-- Every mission's queue, from safetyd's maintenance run.
CREATE FUNCTION join_pending_drain() RETURNS integer LANGUAGE sql AS $$
	SELECT coalesce(sum(join_pending_drain(m.mission_id)), 0)::integer
	FROM (SELECT DISTINCT mission_id FROM join_pending) m
$$;

-- The newest definitions (0056), without the membership lock before the
-- people are written.
CREATE OR REPLACE FUNCTION registration_create(p_mission bigint, p_manage_hash text, p_language text,
		p_doc jsonb, p_addr text, p_addr_key text, p_per_addr_day integer, p_code_limits jsonb)
	RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	hid bigint;
	nid bigint;
	rid bigint;
	first jsonb := p_doc->'people'->0;
	ct record;
	sent json;
	retry integer;
BEGIN
	-- One address's registrations are counted one at a time, so a burst cannot overshoot.
	PERFORM pg_advisory_xact_lock(hashtextextended('registration:' || p_addr_key, 0));
	IF (SELECT count(*) FROM registration_attempt a WHERE a.addr_hash = text_sha256(p_addr_key)
			AND a.at > now() - interval '1 day') >= p_per_addr_day THEN
		RETURN json_build_object('outcome', 'limit');
	END IF;
	INSERT INTO registration_attempt (addr_hash) VALUES (text_sha256(p_addr_key));
	DELETE FROM registration_attempt WHERE at < now() - interval '1 day';
	DELETE FROM code_send WHERE sent_at < now() - interval '1 day';
	INSERT INTO household (mission_id, label) VALUES (p_mission, '') RETURNING id INTO hid;
	INSERT INTO national (mission_id, household_id, name_ko, name_latin, kind, arrival_date,
			departure_date, source)
		VALUES (p_mission, hid, first->>'name_ko', first->>'name_latin', 'resident', NULL, NULL,
			'self')
		RETURNING id INTO nid;
	INSERT INTO registration (national_id, mission_id, household_id, manage_hash, language,
			consent_at)
		VALUES (nid, p_mission, hid, p_manage_hash, p_language, now())
		RETURNING id INTO rid;
	UPDATE household SET external_ref = 'registration:' || rid WHERE id = hid;
	PERFORM registration_write(rid, p_doc);
	PERFORM registration_family(rid, p_doc->'family');
	FOR ct IN SELECT c.id FROM contact c WHERE c.national_id = nid ORDER BY c.id LOOP
		sent := contact_code_send(ct.id, p_addr_key, p_code_limits);
		IF sent->>'outcome' = 'limit' THEN
			retry := greatest(coalesce(retry, 0), (sent->>'retry_after')::integer);
		END IF;
	END LOOP;
	-- A trip (or home) inside the area of a running check-in: asked now, or
	-- queued for the next drain while a launch holds the mission.
	PERFORM nationals_join_crises(p_mission, ARRAY(SELECT x.id FROM national x
		WHERE x.household_id = hid AND x.deleted_at IS NULL));
	PERFORM audit_record('self', 'national', p_mission, p_addr, 'registration.create',
		'national', nid::text, json_build_object('registration_id', rid,
		'people', jsonb_array_length(p_doc->'people'),
		'legs', jsonb_array_length(coalesce(p_doc->'legs', '[]')))::text);
	RETURN json_build_object('outcome', 'created', 'registration_id', rid, 'national_id', nid,
		'codes_held', retry IS NOT NULL, 'retry_after', retry);
END
$$;

CREATE OR REPLACE FUNCTION itinerary_import(p_mission bigint, p_source text, p_rows jsonb, p_dry boolean,
		p_actor text, p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	refused_rows jsonb;
	skipped_rows jsonb;
	added integer := 0;
	matched integer := 0;
	legs integer := 0;
	skipped integer := 0;
	result json;
BEGIN
	CREATE TEMP TABLE IF NOT EXISTS itin_leg_row (line integer, person text, name_ko text,
		name_latin text, name_key text, birth_date date, passport_no text, phones text[],
		emails text[], languages text[], country text, place text, region_id bigint,
		point geography, arrival date, departure date, national_id bigint,
		is_new boolean NOT NULL DEFAULT false, refused text, refused_field text,
		deleted_id bigint, deleted_on date, seq integer) ON COMMIT DROP;
	TRUNCATE itin_leg_row;
	INSERT INTO itin_leg_row (line, person, name_ko, name_latin, name_key, birth_date, passport_no,
			phones, emails, languages, country, place, region_id, point, arrival, departure,
			refused, refused_field)
		SELECT x.line, x.person, x.name_ko, x.name_latin, x.name_key, x.birth_date, x.passport_no,
			x.phones, x.emails, x.languages, x.country, x.place, x.region_id, x.point, x.arrival,
			x.departure, bad.reason, bad.field
		FROM (SELECT (r->>'line')::integer AS line,
				coalesce('p:' || (r->>'passport_no'), 'n:' || (r->>'name_key') || '|'
					|| coalesce(r->>'birth_date', '') || '|' || coalesce(r->'phones'->>0, '')) AS person,
				r->>'name_ko' AS name_ko, r->>'name_latin' AS name_latin,
				coalesce(r->>'name_key', '') AS name_key, (r->>'birth_date')::date AS birth_date,
				r->>'passport_no' AS passport_no,
				ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'phones', '[]'))) AS phones,
				ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'emails', '[]'))) AS emails,
				ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'languages', '["ko"]'))) AS languages,
				coalesce(r->>'country', m.default_country) AS country, r->>'place' AS place,
				g.id AS region_id,
				CASE WHEN r ? 'lat' THEN ST_SetSRID(ST_MakePoint((r->>'lon')::float8,
					(r->>'lat')::float8), 4326)::geography END AS point,
				(r->>'arrival')::date AS arrival, (r->>'departure')::date AS departure,
				coalesce(r->>'country', m.default_country) <> m.default_country
					AND NOT coalesce(r->>'country', '') = ANY (m.countries) AS foreign_country,
				r ? 'region' AND g.id IS NULL AS unknown_region,
				NOT r ? 'region' AND NOT r ? 'lat' AS unplaced
			FROM jsonb_array_elements(p_rows) r
			JOIN mission m ON m.id = p_mission
			LEFT JOIN region g ON g.mission_id = p_mission AND g.code = r->>'region') x
		-- The first reason that applies, in the order of the columns.
		LEFT JOIN LATERAL (SELECT v.field, v.reason FROM (VALUES
				(1, 'country', CASE WHEN x.foreign_country
					THEN 'country: not a country of this mission' END),
				(2, 'region', CASE WHEN x.unknown_region
					THEN 'region: no such region in this mission' END),
				(3, 'region', CASE WHEN x.unplaced
					THEN 'region: a leg needs a region code or coordinates to be placed' END),
				(4, 'arrival_date', CASE WHEN x.arrival IS NULL
					THEN 'arrival_date: missing; a leg needs arrival and departure dates'
					WHEN x.arrival NOT BETWEEN '2000-01-01' AND '2100-12-31'
					THEN 'arrival_date: a leg arrives between 2000-01-01 and 2100-12-31' END),
				(5, 'departure_date', CASE WHEN x.departure IS NULL
					THEN 'departure_date: missing; a leg needs arrival and departure dates'
					WHEN x.departure < x.arrival THEN 'departure_date: before the arrival date'
					WHEN x.departure - x.arrival > 3660
					THEN 'departure_date: a leg lasts at most 3660 days' END)) v (o, field, reason)
			WHERE v.reason IS NOT NULL ORDER BY v.o LIMIT 1) bad ON true;
	BEGIN
		-- Match each traveller once: passport, else name, birth date and a phone.
		UPDATE itin_leg_row t SET national_id = x.id FROM (
			SELECT DISTINCT ON (t2.person) t2.person, n.id
			FROM itin_leg_row t2 JOIN national n ON n.mission_id = p_mission AND n.deleted_at IS NULL
				AND ((t2.passport_no IS NOT NULL AND n.passport_no = t2.passport_no)
					OR (t2.passport_no IS NULL AND n.name_key = t2.name_key AND t2.name_key <> ''
						AND n.birth_date = t2.birth_date AND EXISTS (SELECT 1 FROM contact c
							WHERE c.national_id = n.id AND c.kind = 'phone'
								AND c.value = ANY (t2.phones))))
			WHERE t2.refused IS NULL ORDER BY t2.person, n.id) x
		WHERE t.person = x.person AND t.refused IS NULL;
		-- No one registered, but someone staff deleted (the newest deletion):
		-- left out, not brought back unasked. A registrant set aside by a
		-- merge is not a deletion.
		UPDATE itin_leg_row t SET deleted_id = x.id, deleted_on = x.deleted_at::date FROM (
			SELECT DISTINCT ON (t2.person) t2.person, n.id, n.deleted_at
			FROM itin_leg_row t2 JOIN national n ON n.mission_id = p_mission
				AND n.deleted_at IS NOT NULL
				AND ((t2.passport_no IS NOT NULL AND n.passport_no = t2.passport_no)
					OR (t2.passport_no IS NULL AND n.name_key = t2.name_key AND t2.name_key <> ''
						AND n.birth_date = t2.birth_date AND EXISTS (SELECT 1 FROM contact c
							WHERE c.national_id = n.id AND c.kind = 'phone'
								AND c.value = ANY (t2.phones))))
			WHERE t2.refused IS NULL AND t2.national_id IS NULL
				AND NOT EXISTS (SELECT 1 FROM registration_merge m WHERE m.registrant_id = n.id)
			ORDER BY t2.person, n.deleted_at DESC, n.id DESC) x
		WHERE t.person = x.person AND t.refused IS NULL AND t.national_id IS NULL;
		SELECT count(*) INTO skipped FROM itin_leg_row WHERE deleted_id IS NOT NULL;
		-- New travellers' ids are drawn first so every row of the person knows
		-- its id. (Materialised: a rescanned subquery would draw a new id per row.)
		WITH ids AS MATERIALIZED (
			SELECT person, nextval(pg_get_serial_sequence('national', 'id')) AS nid
			FROM (SELECT DISTINCT person FROM itin_leg_row WHERE national_id IS NULL
				AND deleted_id IS NULL AND refused IS NULL) p)
		UPDATE itin_leg_row t SET national_id = x.nid, is_new = true FROM ids x
		WHERE t.person = x.person AND t.refused IS NULL AND t.deleted_id IS NULL;
		-- The legs to store: each once, however often the file or a row is
		-- sent, numbered after the traveller's stored legs; past the 20th a
		-- row is refused, before any of it is stored.
		UPDATE itin_leg_row t SET seq = x.seq FROM (
			SELECT f.line, coalesce((SELECT max(seq) FROM itinerary_leg l
					WHERE l.national_id = f.national_id), 0)
					+ row_number() OVER (PARTITION BY f.national_id ORDER BY f.arrival, f.line) AS seq
			FROM (SELECT DISTINCT ON (t2.national_id, t2.arrival, t2.departure, t2.region_id, t2.place)
					t2.line, t2.national_id, t2.arrival
				FROM itin_leg_row t2 WHERE t2.refused IS NULL AND t2.national_id IS NOT NULL
					AND NOT EXISTS (SELECT 1 FROM itinerary_leg l WHERE l.national_id = t2.national_id
						AND l.arrival = t2.arrival AND l.departure = t2.departure
						AND l.region_id IS NOT DISTINCT FROM t2.region_id
						AND l.place IS NOT DISTINCT FROM t2.place)
				ORDER BY t2.national_id, t2.arrival, t2.departure, t2.region_id, t2.place,
					t2.line) f) x
		WHERE t.line = x.line;
		UPDATE itin_leg_row SET refused = 'legs: a traveller has at most 20 legs; this one is past the 20th',
				refused_field = 'legs'
			WHERE seq > 20;
		-- (Counted by national: one person's rows with and without a passport are one.)
		SELECT count(DISTINCT national_id) INTO matched FROM itin_leg_row
			WHERE national_id IS NOT NULL AND NOT is_new AND refused IS NULL;
		WITH firsts AS (SELECT DISTINCT ON (person) * FROM itin_leg_row
				WHERE is_new AND refused IS NULL ORDER BY person, line),
			ins AS (INSERT INTO national (id, mission_id, name_ko, name_latin, name_key,
					birth_date, passport_no, kind, arrival_date, departure_date, languages, source)
				OVERRIDING SYSTEM VALUE
				SELECT f.national_id, p_mission, f.name_ko, f.name_latin, f.name_key, f.birth_date,
					f.passport_no, 'traveller',
					(SELECT min(arrival) FROM itin_leg_row a WHERE a.person = f.person AND a.is_new
						AND a.refused IS NULL),
					(SELECT max(departure) FROM itin_leg_row a WHERE a.person = f.person AND a.is_new
						AND a.refused IS NULL),
					f.languages, 'import'
				FROM firsts f RETURNING 1)
			SELECT count(*) INTO added FROM ins;
		-- A traveller already known keeps the longer trip.
		UPDATE national n SET arrival_date = least(n.arrival_date, x.a),
				departure_date = greatest(n.departure_date, x.d), updated_at = now()
			FROM (SELECT national_id, min(arrival) AS a, max(departure) AS d FROM itin_leg_row
				WHERE refused IS NULL AND national_id IS NOT NULL GROUP BY national_id) x
			WHERE n.id = x.national_id AND n.kind = 'traveller';
		INSERT INTO contact (national_id, kind, value, priority)
			SELECT DISTINCT ON (t.national_id, p) t.national_id, 'phone', p, 1
			FROM itin_leg_row t, unnest(t.phones) p WHERE t.refused IS NULL AND t.national_id IS NOT NULL
			UNION ALL
			SELECT DISTINCT ON (t.national_id, e) t.national_id, 'email', e, 1
			FROM itin_leg_row t, unnest(t.emails) e WHERE t.refused IS NULL AND t.national_id IS NOT NULL
			ON CONFLICT (national_id, kind, value) DO NOTHING;
		WITH ins AS (INSERT INTO itinerary_leg (national_id, seq, country, place, region_id, point,
					arrival, departure, source)
				SELECT national_id, seq, country, place, region_id, point, arrival, departure,
					'partner' FROM itin_leg_row WHERE refused IS NULL AND seq IS NOT NULL
				RETURNING 1)
			SELECT count(*) INTO legs FROM ins;
		-- Travellers are placed by their itinerary: the new ones, and those the
		-- registry had (the spatial query follows the legs of whoever was last
		-- placed by an itinerary), unless they answered or staff recorded
		-- where they are since this trip began: that is fresher than a plan.
		INSERT INTO location (national_id, point, source)
			SELECT DISTINCT ON (t.national_id) t.national_id,
				coalesce(t.point, ST_PointOnSurface(g.area::geometry)::geography), 'itinerary'
			FROM itin_leg_row t LEFT JOIN region g ON g.id = t.region_id
			JOIN national n ON n.id = t.national_id AND n.kind = 'traveller'
			WHERE t.refused IS NULL
				AND NOT EXISTS (SELECT 1 FROM location l WHERE l.national_id = t.national_id
					AND l.source IN ('reply', 'staff')
					AND l.observed_at >= (SELECT min(a.arrival) FROM itin_leg_row a
						WHERE a.national_id = t.national_id AND a.refused IS NULL)
						- make_interval(days => itinerary_margin_days()))
			ORDER BY t.national_id, t.arrival;
		-- Travellers whose legs are inside the area of a running check-in: asked
		-- now, or queued while a launch holds the mission (a dry run asks nobody).
		IF NOT p_dry THEN
			PERFORM nationals_join_crises(p_mission, ARRAY(SELECT DISTINCT t.national_id
				FROM itin_leg_row t WHERE t.refused IS NULL AND t.national_id IS NOT NULL));
		END IF;
		SELECT coalesce(jsonb_agg(jsonb_build_object('line', line, 'field', refused_field,
				'reason', refused) ORDER BY line), '[]') INTO refused_rows
			FROM itin_leg_row WHERE refused IS NOT NULL;
		SELECT coalesce(jsonb_agg(jsonb_build_object('line', line, 'field', 'national',
				'reason', format('the same person as national %s, deleted on %s: not imported '
					'again (POST /api/v1/nationals/%s/restore brings them back)', deleted_id,
					deleted_on, deleted_id)) ORDER BY line), '[]') INTO skipped_rows
			FROM itin_leg_row WHERE deleted_id IS NOT NULL;
		IF NOT p_dry THEN
			PERFORM audit_record(p_actor, p_role, p_mission, p_addr, 'itinerary.import',
				'mission', p_mission::text, json_build_object('source', p_source, 'added', added,
				'matched', matched, 'legs', legs, 'refused', jsonb_array_length(refused_rows),
				'skipped_deleted', skipped)::text);
		END IF;
		result := json_build_object('source', p_source, 'dry_run', p_dry, 'travellers_added', added,
			'travellers_matched', matched, 'legs_added', legs, 'skipped_deleted', skipped,
			'warnings', skipped_rows, 'refused', refused_rows);
		IF p_dry THEN
			RAISE EXCEPTION 'dry run' USING ERRCODE = 'SF001';
		END IF;
	EXCEPTION WHEN SQLSTATE 'SF001' THEN
		NULL; -- a dry run: everything above is undone, the counts stay
	END;
	RETURN result;
END
$$;
