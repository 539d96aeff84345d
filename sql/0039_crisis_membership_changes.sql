-- Changes to who is part of a crisis, made safe against each other:
--
-- * A person staff delete while a launch runs is left out. The launch read
--   the registry before the delete and the delete could not see the
--   launch's rows, so the person stayed counted, asked and messaged. Both
--   now take one lock per mission before anything else (before the audit
--   lock too, which both take later): a launch waits for a deletion under
--   way and then sees it; a deletion, restore, merge or undo waits for a
--   launch of its mission and then sees its rows.
-- * A deletion or restore locks a person's check-ins before their status
--   rows, as re-asking and the reply path do. The other order deadlocked
--   with a re-ask run giving up on people as unreachable.
-- * A registration whose person is part of an open crisis is not merged:
--   the merge sets the registrant's row aside, which would take their
--   answers (a call for help among them) out of the crisis and make their
--   reply link answer "gone". Staff merge once the crisis is closed.
-- * Deleting a person lowers the answers per minute (they stay equal to a
--   recount) and finds their answers by crisis, through the index, rather
--   than reading every answer; retention takes its table locks only when
--   someone will actually be purged.


CREATE OR REPLACE FUNCTION national_leave_crises(p_national bigint) RETURNS void LANGUAGE sql AS $$
	SELECT pg_advisory_xact_lock(hashtextextended('crisis-members:' || n.mission_id, 0))
		FROM national n WHERE n.id = p_national;
	UPDATE checkin k SET state_before_delete = k.state, state = 'cancelled' FROM crisis c
		WHERE k.crisis_id = c.id AND k.national_id = p_national
			AND k.state IN ('asked', 'unreachable');
	UPDATE person_status p SET deleted = true FROM crisis c
		WHERE p.crisis_id = c.id AND p.national_id = p_national AND NOT p.deleted;
	UPDATE outbox o SET state = 'failed', last_error = 'deleted' FROM crisis c
		WHERE o.crisis_id = c.id AND o.national_id = p_national AND o.state = 'queued';
$$;

-- Staff delete or restore a national: the mission's membership lock first,
-- then the row, then the audit (the order launches and merges keep).
-- NULL when there is no such national (in the caller's mission) to change.
CREATE FUNCTION national_set_deleted(p_id bigint, p_scope bigint, p_deleted boolean,
		p_actor text, p_role text, p_actor_mission bigint, p_addr text) RETURNS json
		LANGUAGE plpgsql AS $$
DECLARE
	n record; -- (NATIONAL is a keyword where a type is expected)
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('crisis-members:' || x.mission_id, 0))
		FROM national x WHERE x.id = p_id AND (p_scope IS NULL OR x.mission_id = p_scope);
	UPDATE national SET deleted_at = CASE WHEN p_deleted THEN now() END, updated_at = now()
		WHERE id = p_id AND (deleted_at IS NULL) = p_deleted
			AND (p_scope IS NULL OR mission_id = p_scope)
		RETURNING * INTO n;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr,
		CASE WHEN p_deleted THEN 'national.delete' ELSE 'national.restore' END,
		'national', n.id::text, json_build_object('mission_id', n.mission_id)::text);
	RETURN CASE WHEN p_deleted THEN json_build_object('id', n.id, 'deleted', true)
		ELSE json_build_object('id', n.id, 'restored', true) END;
END
$$;

CREATE OR REPLACE FUNCTION national_return_to_crises(p_national bigint) RETURNS void LANGUAGE sql AS $$
	SELECT pg_advisory_xact_lock(hashtextextended('crisis-members:' || n.mission_id, 0))
		FROM national n WHERE n.id = p_national;
	-- A closed crisis asks nobody again (as crisis_close leaves its check-ins).
	UPDATE checkin k SET state = CASE
			WHEN c.state <> 'active' AND k.state_before_delete = 'asked' THEN 'cancelled'
			WHEN EXISTS (SELECT 1 FROM response r WHERE r.crisis_id = k.crisis_id
				AND r.national_id = k.national_id AND r.received_at >= k.asked_at) THEN 'answered'
			ELSE k.state_before_delete END,
		answered_at = coalesce(k.answered_at, (SELECT max(r.received_at) FROM response r
			WHERE r.crisis_id = k.crisis_id AND r.national_id = k.national_id
				AND r.received_at >= k.asked_at)),
		state_before_delete = NULL
		FROM crisis c
		WHERE k.crisis_id = c.id AND k.national_id = p_national AND k.state = 'cancelled'
			AND k.state_before_delete IS NOT NULL;
	UPDATE person_status p SET deleted = false FROM crisis c
		WHERE p.crisis_id = c.id AND p.national_id = p_national AND p.deleted;
$$;

CREATE OR REPLACE FUNCTION campaign_launch(p_campaign bigint) RETURNS TABLE (checkins bigint, messages bigint)
	LANGUAGE plpgsql SET work_mem = '256MB' SET jit = off AS $$
DECLARE
	camp record;
	asked bigint := 0;
	queued bigint := 0;
	-- Stands for the name while a language's message is rendered: made
	-- afresh for each launch, so no title or template can contain it.
	name_mark constant text := '{name ' || gen_random_uuid() || '}';
	body_ko text;
	body_en text;
	degraded boolean := EXISTS (SELECT 1 FROM route_health WHERE degraded);
BEGIN
	SELECT cp.*, c.title, c.drill, c.area, c.center, c.radius_m INTO camp
		FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id WHERE cp.id = p_campaign;
	IF FOUND THEN
		-- Whoever is deleted or restored meanwhile waits; one under way is
		-- waited for, and the registry is read after it.
		PERFORM pg_advisory_xact_lock(hashtextextended('crisis-members:' || camp.mission_id, 0));
		-- Campaigns reach a working route before a degraded one, their first
		-- channel before the next, and a confirmed contact before an
		-- unconfirmed one. Someone without any contact gets no route and is
		-- unreachable at once.
		EXECUTE format($q$CREATE TEMP TABLE launch_route ON COMMIT DROP AS
			SELECT DISTINCT ON (t.national_id) t.national_id, t.region_id, ch.i AS channel_index, ch.channel,
				ct.value AS recipient,
				CASE WHEN 'ko' = ANY (t.languages) OR t.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang,
				t.name_ko, t.name_latin
			FROM %s t
			LEFT JOIN (unnest($1) WITH ORDINALITY AS ch(channel, i)
				JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)) ON ct.national_id = t.national_id
			%s
			%s
			ORDER BY t.national_id, ct.id IS NULL%s, ch.i, ct.verified DESC, ct.priority, ct.id$q$,
			CASE WHEN camp.area IS NOT NULL THEN 'nationals_in_area($2, $3, current_date)'
				ELSE 'nationals_near($2, $4, $5, current_date)' END,
			CASE WHEN degraded THEN 'LEFT JOIN route_health h ON h.degraded AND h.channel = ch.channel'
				' AND h.prefix = route_prefix(ch.channel, ct.value)' ELSE '' END,
			CASE WHEN EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id)
				THEN 'WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = $6'
					' AND k.national_id = t.national_id)'
				ELSE '' END,
			CASE WHEN degraded THEN ', h.prefix IS NOT NULL' ELSE '' END)
			USING camp.channels, camp.mission_id, camp.area, camp.center, camp.radius_m, camp.crisis_id;

		INSERT INTO checkin (crisis_id, national_id, mission_id, region_id, campaign_id, channel_index,
				next_ask_at, state)
			SELECT camp.crisis_id, r.national_id, camp.mission_id, coalesce(r.region_id, 0), camp.id,
				coalesce(r.channel_index, 1),
				now() + make_interval(secs => camp.reask_interval_s),
				CASE WHEN r.channel IS NULL THEN 'unreachable' ELSE 'asked' END::checkin_state
			FROM launch_route r;
		GET DIAGNOSTICS asked = ROW_COUNT;

		body_ko := campaign_render(camp.templates, 'ko', name_mark, camp.title, camp.drill);
		body_en := campaign_render(camp.templates, 'en', name_mark, camp.title, camp.drill);
		INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, language, body)
			SELECT camp.crisis_id, camp.id, r.national_id, camp.mission_id, r.channel, r.recipient, r.lang,
				CASE WHEN r.lang = 'ko' THEN replace(body_ko, name_mark, coalesce(r.name_ko, r.name_latin, ''))
					ELSE replace(body_en, name_mark, coalesce(r.name_latin, r.name_ko, '')) END
			FROM launch_route r WHERE r.channel IS NOT NULL;
		GET DIAGNOSTICS queued = ROW_COUNT;

		UPDATE campaign SET targeted = asked WHERE id = p_campaign;
		DROP TABLE launch_route;
	END IF;
	RETURN QUERY SELECT asked, queued;
END
$$;

CREATE OR REPLACE FUNCTION national_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM gone) THEN
		RETURN NULL;
	END IF;
	LOCK TABLE checkin, contact, location, outbox, person_status, response IN SHARE ROW EXCLUSIVE MODE;
	-- Crisis by crisis (and those of no crisis), through the indexes keyed
	-- (crisis_id, national_id).
	DELETE FROM response r USING crisis c, gone g WHERE r.crisis_id = c.id AND r.national_id = g.id;
	DELETE FROM response WHERE crisis_id IS NULL AND national_id IN (SELECT id FROM gone);
	DELETE FROM outbox o USING crisis c, gone g WHERE o.crisis_id = c.id AND o.national_id = g.id;
	DELETE FROM outbox WHERE crisis_id IS NULL AND national_id IN (SELECT id FROM gone);
	DELETE FROM person_status p USING crisis c, gone g WHERE p.crisis_id = c.id AND p.national_id = g.id;
	DELETE FROM checkin k USING crisis c, gone g WHERE k.crisis_id = c.id AND k.national_id = g.id;
	DELETE FROM contact WHERE national_id IN (SELECT id FROM gone);
	DELETE FROM location WHERE national_id IN (SELECT id FROM gone);
	RETURN NULL;
END
$$;

CREATE FUNCTION response_uncount_minute() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- The counters are locked in key order first, as the insert's upsert takes them.
	PERFORM 1 FROM response_minute m
		WHERE (m.crisis_id, m.mission_id, m.minute) IN
			(SELECT r.crisis_id, r.mission_id, date_trunc('minute', r.received_at) FROM old_responses r)
		ORDER BY m.crisis_id, m.mission_id, m.minute FOR UPDATE;
	UPDATE response_minute m SET n = m.n - d.c
		FROM (SELECT r.crisis_id, r.mission_id, date_trunc('minute', r.received_at) AS minute,
				count(*) AS c FROM old_responses r
			WHERE r.crisis_id IS NOT NULL AND r.mission_id IS NOT NULL GROUP BY 1, 2, 3) d
		WHERE m.crisis_id = d.crisis_id AND m.mission_id = d.mission_id AND m.minute = d.minute;
	RETURN NULL;
END
$$;
CREATE TRIGGER response_uncount_minute AFTER DELETE ON response
	REFERENCING OLD TABLE AS old_responses
	FOR EACH STATEMENT EXECUTE FUNCTION response_uncount_minute();

CREATE OR REPLACE FUNCTION registration_merge(p_registration bigint, p_mission bigint, p_actor text,
		p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	kept record; -- (NATIONAL is a keyword where a type is expected)
	merged record;
	added bigint[];
	open_crises bigint[];
BEGIN
	-- The mission's membership lock first, as launches and deletions take it.
	PERFORM pg_advisory_xact_lock(hashtextextended('crisis-members:' || r.mission_id, 0))
		FROM registration r WHERE r.id = p_registration;
	SELECT * INTO reg FROM registration WHERE id = p_registration
		AND (p_mission IS NULL OR mission_id = p_mission) FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'unknown');
	-- (A registration that already stands for its duplicate is merged: its
	-- own row is the registry's person, and must not be set aside.)
	ELSIF reg.duplicate_of IS NULL OR reg.duplicate_of = reg.national_id
			OR EXISTS (SELECT 1 FROM registration_merge m WHERE m.registration_id = reg.id) THEN
		RETURN json_build_object('outcome', 'nothing_to_merge');
	END IF;
	SELECT * INTO kept FROM national WHERE id = reg.duplicate_of AND deleted_at IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'nothing_to_merge');
	END IF;
	SELECT array_agg(DISTINCT c.id ORDER BY c.id) INTO open_crises
		FROM crisis c WHERE c.state IN ('proposed', 'active') AND (
			EXISTS (SELECT 1 FROM person_status p WHERE p.crisis_id = c.id
				AND p.national_id = reg.national_id AND NOT p.deleted)
			OR EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = c.id
				AND k.national_id = reg.national_id AND k.state <> 'cancelled'));
	IF open_crises IS NOT NULL THEN
		RETURN json_build_object('outcome', 'in_open_crisis', 'crisis_ids', open_crises);
	END IF;
	WITH ins AS (INSERT INTO contact (national_id, kind, value, priority, verified, verified_at)
			SELECT kept.id, c.kind, c.value, c.priority, c.verified, c.verified_at
			FROM contact c WHERE c.national_id = reg.national_id
			ON CONFLICT (national_id, kind, value) DO NOTHING RETURNING id)
		SELECT coalesce(array_agg(id), '{}') INTO added FROM ins;
	-- A contact both had is confirmed if the registration confirmed it.
	UPDATE contact k SET verified = true, verified_at = c.verified_at
		FROM contact c WHERE c.national_id = reg.national_id AND c.verified
			AND k.national_id = kept.id AND k.kind = c.kind AND k.value = c.value AND NOT k.verified;
	-- The legs move to the kept person; the registrant's row stays, set aside.
	UPDATE itinerary_leg l SET national_id = kept.id, seq = x.seq
		FROM (SELECT id, (SELECT coalesce(max(seq), 0) FROM itinerary_leg WHERE national_id = kept.id)
				+ row_number() OVER (ORDER BY seq) AS seq
			FROM itinerary_leg WHERE national_id = reg.national_id AND source = 'self') x
		WHERE l.id = x.id AND x.seq <= 20;
	UPDATE national n SET
			kind = CASE WHEN n.kind = 'resident' OR r.kind = 'resident' THEN 'resident'
				ELSE 'traveller' END::national_kind,
			arrival_date = CASE WHEN n.kind = 'resident' THEN n.arrival_date
				WHEN r.kind = 'resident' THEN r.arrival_date
				ELSE least(n.arrival_date, r.arrival_date) END,
			departure_date = CASE WHEN n.kind = 'resident' THEN n.departure_date
				WHEN r.kind = 'resident' THEN r.departure_date
				ELSE greatest(n.departure_date, r.departure_date) END,
			household_id = reg.household_id, updated_at = now()
		FROM national r WHERE r.id = reg.national_id AND n.id = kept.id
		RETURNING n.kind, n.arrival_date, n.departure_date, n.household_id INTO merged;
	INSERT INTO registration_merge (registration_id, kept_id, registrant_id, before, after,
			added_contacts, merged_by)
		VALUES (reg.id, kept.id, reg.national_id, jsonb_build_object('kind', kept.kind,
			'arrival_date', kept.arrival_date, 'departure_date', kept.departure_date,
			'household_id', kept.household_id, 'last_point_source', kept.last_point_source,
			'verified', (SELECT coalesce(jsonb_agg(c.id), '[]') FROM contact c
				WHERE c.national_id = kept.id AND c.verified)),
			jsonb_build_object('kind', merged.kind, 'arrival_date', merged.arrival_date,
				'departure_date', merged.departure_date, 'household_id', merged.household_id),
			added, p_actor);
	-- A resident is found where they live, whatever the trip's legs say.
	IF merged.kind = 'traveller' THEN
		INSERT INTO location (national_id, point, source)
			SELECT kept.id, last_point, 'itinerary' FROM national WHERE id = reg.national_id
				AND last_point_source = 'itinerary';
	END IF;
	UPDATE national SET deleted_at = now() WHERE id = reg.national_id;
	UPDATE registration SET national_id = kept.id WHERE id = reg.id;
	PERFORM audit_record(p_actor, p_role, reg.mission_id, p_addr, 'registration.merge',
		'national', kept.id::text, json_build_object('registration_id', reg.id,
		'registrant_id', reg.national_id)::text);
	RETURN json_build_object('outcome', 'merged', 'kept_id', kept.id);
END
$$;

CREATE OR REPLACE FUNCTION registration_unmerge(p_registration bigint, p_mission bigint, p_actor text,
		p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	m registration_merge;
	reg registration;
	now_kept record;
	trip_changed boolean;
	household_changed boolean;
	kept_fields text[] := '{}';
BEGIN
	-- The mission's membership lock first, as launches and deletions take it.
	PERFORM pg_advisory_xact_lock(hashtextextended('crisis-members:' || r.mission_id, 0))
		FROM registration r WHERE r.id = p_registration;
	SELECT * INTO reg FROM registration WHERE id = p_registration
		AND (p_mission IS NULL OR mission_id = p_mission) FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'unknown');
	END IF;
	SELECT * INTO m FROM registration_merge WHERE registration_id = p_registration FOR UPDATE;
	IF m.registration_id IS NULL THEN
		RETURN json_build_object('outcome', 'not_merged');
	END IF;
	SELECT kind, arrival_date, departure_date, household_id INTO now_kept
		FROM national WHERE id = m.kept_id FOR UPDATE;
	trip_changed := now_kept.kind::text IS DISTINCT FROM m.after->>'kind'
		OR now_kept.arrival_date IS DISTINCT FROM (m.after->>'arrival_date')::date
		OR now_kept.departure_date IS DISTINCT FROM (m.after->>'departure_date')::date;
	household_changed := now_kept.household_id IS DISTINCT FROM (m.after->>'household_id')::bigint;
	IF trip_changed THEN
		kept_fields := kept_fields || ARRAY['kind', 'arrival_date', 'departure_date'];
	END IF;
	IF household_changed THEN
		kept_fields := kept_fields || 'household_id'::text;
	END IF;
	UPDATE national SET deleted_at = NULL WHERE id = m.registrant_id;
	UPDATE registration SET national_id = m.registrant_id WHERE id = reg.id;
	UPDATE itinerary_leg l SET national_id = m.registrant_id, seq = x.seq
		FROM (SELECT id, (SELECT coalesce(max(seq), 0) FROM itinerary_leg
				WHERE national_id = m.registrant_id) + row_number() OVER (ORDER BY seq) AS seq
			FROM itinerary_leg WHERE national_id = m.kept_id AND source = 'self') x
		WHERE l.id = x.id;
	-- Confirmations made through the registration while merged go back with it.
	UPDATE contact r SET verified = true, verified_at = k.verified_at
		FROM contact k WHERE k.national_id = m.kept_id AND k.verified
			AND r.national_id = m.registrant_id AND r.kind = k.kind AND r.value = k.value;
	DELETE FROM contact WHERE id = ANY (m.added_contacts);
	UPDATE contact SET verified = (id IN (SELECT jsonb_array_elements_text(m.before->'verified')::bigint))
		WHERE national_id = m.kept_id;
	UPDATE national SET
			kind = CASE WHEN trip_changed THEN kind ELSE (m.before->>'kind')::national_kind END,
			arrival_date = CASE WHEN trip_changed THEN arrival_date
				ELSE (m.before->>'arrival_date')::date END,
			departure_date = CASE WHEN trip_changed THEN departure_date
				ELSE (m.before->>'departure_date')::date END,
			household_id = CASE WHEN household_changed THEN household_id
				ELSE (m.before->>'household_id')::bigint END,
			updated_at = now()
		WHERE id = m.kept_id;
	-- The location the merge added was written in its transaction.
	DELETE FROM location WHERE national_id = m.kept_id AND source = 'itinerary'
		AND created_at = m.merged_at;
	PERFORM national_place_from_locations(m.kept_id);
	DELETE FROM registration_merge WHERE registration_id = reg.id;
	PERFORM audit_record(p_actor, p_role, reg.mission_id, p_addr, 'registration.unmerge',
		'national', m.kept_id::text, json_build_object('registration_id', reg.id,
		'registrant_id', m.registrant_id, 'kept', kept_fields)::text);
	RETURN json_build_object('outcome', 'unmerged', 'national_id', m.registrant_id,
		'kept', kept_fields);
END
$$;

CREATE OR REPLACE FUNCTION purge_departed_travellers(p_days integer)
	RETURNS TABLE (mission_id bigint, purged bigint) LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
	due bigint[];
BEGIN
	SELECT array_agg(c.id) INTO due FROM (
		SELECT n.id FROM national n
		WHERE n.kind = 'traveller' AND n.departure_date < current_date - p_days
			AND NOT EXISTS (SELECT 1 FROM registration_merge m WHERE m.kept_id = n.id
				AND m.before->>'kind' IS DISTINCT FROM 'traveller')
			AND NOT EXISTS (SELECT 1 FROM registration_merge m WHERE m.registrant_id = n.id)
		ORDER BY n.id FOR UPDATE OF n) c;
	-- Nobody to purge but travellers spared by an open crisis (the usual
	-- case during one): no table is locked. Those purged are decided again
	-- once the locks are held.
	IF due IS NULL OR NOT EXISTS (SELECT 1 FROM unnest(due) d(id) WHERE NOT EXISTS (
			SELECT 1 FROM crisis c WHERE c.state IN ('proposed', 'active') AND (
				EXISTS (SELECT 1 FROM person_status p WHERE p.crisis_id = c.id AND p.national_id = d.id)
				OR EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = c.id AND k.national_id = d.id)))) THEN
		RETURN;
	END IF;
	LOCK TABLE checkin, contact, location, outbox, person_status, response IN SHARE ROW EXCLUSIVE MODE;
	RETURN QUERY
	WITH cand AS (
		SELECT n.id, n.mission_id, EXISTS (
				SELECT 1 FROM person_status p JOIN crisis c ON c.id = p.crisis_id
				WHERE p.national_id = n.id AND c.state IN ('proposed', 'active')
				UNION ALL
				SELECT 1 FROM checkin k JOIN crisis c ON c.id = k.crisis_id
				WHERE k.national_id = n.id AND c.state IN ('proposed', 'active')) AS in_crisis
		FROM national n
		WHERE n.id = ANY (due) AND n.kind = 'traveller' AND n.departure_date < current_date - p_days),
	gone AS (
		DELETE FROM national n USING cand WHERE n.id = cand.id AND NOT cand.in_crisis
		RETURNING n.id, n.mission_id, n.household_id),
	-- Every part of one statement sees the same snapshot: the members just
	-- removed still show, so they are excluded by id.
	empty AS (
		DELETE FROM household h WHERE h.id IN (SELECT household_id FROM gone)
			AND NOT EXISTS (SELECT 1 FROM national x WHERE x.household_id = h.id
				AND x.id NOT IN (SELECT id FROM gone))
		RETURNING h.id, h.mission_id),
	counts AS (
		SELECT cand.mission_id, count(*) FILTER (WHERE NOT cand.in_crisis) AS c,
			count(*) FILTER (WHERE cand.in_crisis) AS spared
		FROM cand GROUP BY cand.mission_id),
	audited AS (
		SELECT audit_record('safetyd', 'system', c.mission_id, '', 'retention.purge',
			'national', '', json_build_object('purged', c.c, 'after_days', p_days,
			'spared_open_crisis', c.spared,
			'households_removed', (SELECT count(*) FROM empty e
				WHERE e.mission_id = c.mission_id))::text)
		FROM counts c WHERE c.c > 0)
	SELECT c.mission_id, c.c FROM counts c, (SELECT count(*) FROM audited) a WHERE c.c > 0;
END
$$;
