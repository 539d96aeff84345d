-- Merges, retention and partners' itineraries, made safe for the records
-- they touch:
--
-- * A merge never turns a resident into a traveller: the registry's record
--   of someone who lives here keeps its kind and dates (the trip lives in
--   the legs), since retention deletes a traveller's record after departure.
--   Merges made before this kept a record of what they set; residents they
--   turned into travellers are put back, when nothing changed the trip since.
-- * Retention locks the travellers it is about to purge and then the tables
--   that say whether they are part of an open crisis, and only then decides:
--   a check-in, status or answer committed while it waited is seen, and the
--   person is spared. Neither the registry's resident a registration was
--   merged into nor the registrant's row set aside by a merge is purged.
-- * Undoing a merge keeps what staff changed after it, and places the person
--   by their newest remaining location, as the location trigger does.
-- * A partner's itinerary does not bring back a person staff deleted, and
--   its rows are checked against the legs' limits (dates, length, 20 legs,
--   one leg once) with their line, instead of failing the file or being
--   dropped unsaid.

-- What the merge set on the kept person (kind, dates, household), so an
-- undo can tell what staff changed after it.
ALTER TABLE registration_merge ADD COLUMN after jsonb;

-- A national placed by their newest location, with the rule of
-- location_newest(): newest observation, then newest row; the region is the
-- first that holds the point. No location left: no place.
CREATE FUNCTION national_place_from_locations(p_national bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE national n SET last_point = l.point, last_point_at = l.observed_at,
		last_point_accuracy_m = l.accuracy_m, last_point_source = l.source,
		region_id = (SELECT r.id FROM region r WHERE r.mission_id = n.mission_id
			AND ST_Intersects(r.area::geometry, l.point::geometry) ORDER BY r.id LIMIT 1),
		updated_at = now()
	FROM national x LEFT JOIN LATERAL (SELECT * FROM location WHERE national_id = x.id
		ORDER BY observed_at DESC, id DESC LIMIT 1) l ON true
	WHERE n.id = p_national AND x.id = n.id
$$;

-- The merges so far set the registrant's kind and dates and the
-- registration's household (a merged registration cannot be changed, so the
-- registrant's row still holds them).
UPDATE registration_merge m SET after = jsonb_build_object('kind', r.kind,
		'arrival_date', r.arrival_date, 'departure_date', r.departure_date,
		'household_id', g.household_id)
	FROM national r, registration g WHERE r.id = m.registrant_id AND g.id = m.registration_id;

-- Residents those merges made travellers, whose trip nobody changed since:
-- resident again with their own dates, placed where they were, not by the
-- registration's leg (the location the merge added goes).
DO $$
DECLARE
	k record;
BEGIN
	FOR k IN UPDATE national n SET kind = 'resident', arrival_date = (m.before->>'arrival_date')::date,
			departure_date = (m.before->>'departure_date')::date, updated_at = now()
		FROM registration_merge m
		WHERE m.kept_id = n.id AND m.before->>'kind' = 'resident' AND n.kind = 'traveller'
			AND n.arrival_date IS NOT DISTINCT FROM (m.after->>'arrival_date')::date
			AND n.departure_date IS NOT DISTINCT FROM (m.after->>'departure_date')::date
		RETURNING n.id, m.merged_at
	LOOP
		UPDATE registration_merge m SET after = m.after || jsonb_build_object('kind', 'resident',
				'arrival_date', m.before->'arrival_date', 'departure_date', m.before->'departure_date')
			WHERE m.kept_id = k.id AND m.before->>'kind' = 'resident';
		DELETE FROM location WHERE national_id = k.id AND source = 'itinerary'
			AND created_at = k.merged_at;
		PERFORM national_place_from_locations(k.id);
	END LOOP;
END
$$;

ALTER TABLE registration_merge ALTER COLUMN after SET NOT NULL;

-- Merging a registration into the registry's person. A resident stays a
-- resident with their dates and place: the registration's legs are theirs
-- now, and the registry keeps them as someone who lives here. A traveller
-- keeps the longer trip (or becomes a resident, if the registration is a
-- residence) and is placed by the registration's itinerary, as before.
CREATE OR REPLACE FUNCTION registration_merge(p_registration bigint, p_mission bigint, p_actor text,
		p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	kept record; -- (NATIONAL is a keyword where a type is expected)
	merged record;
	added bigint[];
BEGIN
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

-- Undoes a merge: the registrant back, the kept person as they were before
-- it, except where staff changed them since. The trip (kind and both dates,
-- as one) and the household are each put back only if they still hold what
-- the merge set; otherwise they are newer than the merge and stay, and the
-- answer names them in "kept". The place is the newest location left once
-- the one the merge added is gone, so a newer location staff gave stays the
-- place, with its region.
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

-- Retention, deciding on fresh data. The departed travellers are locked
-- first (FOR UPDATE: a change to their dates meanwhile is re-read), then the
-- tables the cascade empties, in the cascade's order: that waits for every
-- transaction still writing a check-in, message, status or answer, and keeps
-- new ones out until the purge commits. Only then is each candidate's open
-- crisis looked up, with a snapshot taken after the locks, so someone asked
-- or answering meanwhile is spared. A run with no candidate locks nothing.
--
-- Neither side of a merge is purged while it stands, unless the kept
-- person was a traveller before it (then they go as any traveller, and the
-- merge with them). The kept person's record is the embassy's, and their
-- trip the registration's; the registrant's row, set aside, is what an undo
-- brings back and what a deletion through the registration's link removes
-- (without it, that deletion would remove the registry's person instead).
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
	IF due IS NULL THEN
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

-- Partners' itineraries (0012), with:
-- * a row whose traveller matches no one registered but someone staff
--   deleted (the same passport, else name, birth date and a phone) left
--   out, counted in skipped_deleted and named in warnings with the
--   national and the day of the deletion, as the import of nationals does;
-- * each row checked against the legs' limits before anything is stored:
--   arrival from 2000 to 2100, at most 3,660 days long, at most 20 legs per
--   traveller (the rows past the 20th are refused with their line);
-- * a leg given twice in one file stored once.
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
		-- New travellers are placed by their itinerary.
		INSERT INTO location (national_id, point, source)
			SELECT DISTINCT ON (t.national_id) t.national_id,
				coalesce(t.point, ST_PointOnSurface(g.area::geometry)::geography), 'itinerary'
			FROM itin_leg_row t LEFT JOIN region g ON g.id = t.region_id
			JOIN national n ON n.id = t.national_id AND n.kind = 'traveller'
				AND (n.last_point IS NULL OR n.last_point_source = 'itinerary')
			WHERE t.refused IS NULL ORDER BY t.national_id, t.arrival;
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
