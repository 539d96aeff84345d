-- A registrant changing their registration while their embassy launches a
-- check-in is not made to wait.
--
-- registration_update took the mission's membership lock ('crisis-members:')
-- before anything else, because members taken off a registration are
-- deleted and a launch must not ask someone deleted under it. A launch holds
-- that lock for its whole run (seconds for a large registry), so every change
-- of a registration during a launch, even of a phone number, waited until
-- its statement timed out, holding a connection of the shared pool, and the
-- registrant lost what they had typed. Now only a change that takes a member
-- off asks for the lock, without waiting; when a launch, a deletion or a
-- merge holds it, nothing is changed and the caller is told 'busy' (the page
-- keeps the form as typed and says to save again shortly). A change that
-- moves someone into a running check-in's area queues them in join_pending,
-- as a new registration does.

-- The newest definition (0047), with the membership lock taken here, only
-- when someone is taken off, and without waiting; and a residence given by
-- its region only placed with an accuracy that covers the region (0078).
CREATE OR REPLACE FUNCTION registration_write(p_registration bigint, p_doc jsonb) RETURNS void
	LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	person jsonb;
	i integer := 0;
	nid bigint;
	first_arrival date;
	last_departure date;
	is_trip boolean := p_doc->>'kind' = 'traveller';
	passport text;
	dup bigint;
	kept bigint[] := '{}';
	offset_seq integer;
BEGIN
	SELECT * INTO reg FROM registration WHERE id = p_registration;
	SELECT min((l->>'arrival')::date), max((l->>'departure')::date)
		INTO first_arrival, last_departure FROM jsonb_array_elements(p_doc->'legs') l;
	FOR person IN SELECT value FROM jsonb_array_elements(p_doc->'people') LOOP
		i := i + 1;
		-- A passport already in the registry stays with the person who has
		-- it; the registration keeps what was typed (shown to its holder as
		-- typed) and is marked as a likely duplicate for staff.
		passport := person->>'passport_no';
		dup := NULL;
		SELECT x.id INTO dup FROM national x
			WHERE x.mission_id = reg.mission_id AND x.deleted_at IS NULL
				AND x.household_id IS DISTINCT FROM reg.household_id
				AND ((passport IS NOT NULL AND x.passport_no = passport)
					OR (x.name_key = person->>'name_key' AND x.name_key <> ''
						AND x.birth_date = (person->>'birth_date')::date))
			ORDER BY (x.passport_no = passport) DESC NULLS LAST, x.id LIMIT 1;
		IF dup IS NOT NULL AND passport IS NOT NULL AND EXISTS (SELECT 1 FROM national x
				WHERE x.id = dup AND x.passport_no = passport) THEN
			passport := NULL;
		END IF;
		IF i = 1 THEN
			UPDATE registration SET duplicate_of = dup,
				passport_withheld = CASE WHEN passport IS NULL THEN person->>'passport_no' END
				WHERE id = p_registration;
			nid := reg.national_id;
			UPDATE national SET name_ko = person->>'name_ko', name_latin = person->>'name_latin',
				name_key = coalesce(person->>'name_key', ''),
				birth_date = (person->>'birth_date')::date, passport_no = passport,
				kind = (p_doc->>'kind')::national_kind,
				arrival_date = CASE WHEN is_trip THEN first_arrival END,
				departure_date = CASE WHEN is_trip THEN last_departure END,
				languages = ARRAY(SELECT jsonb_array_elements_text(person->'languages')),
				needs = ARRAY(SELECT jsonb_array_elements_text(person->'needs')),
				address = p_doc->>'address', residence_status = p_doc->>'residence_status',
				updated_at = now()
			WHERE id = nid;
		ELSE
			-- A member already there (same name and birth date) is changed in
			-- place, so their check-ins and answers in a running crisis stay.
			nid := NULL;
			SELECT x.id INTO nid FROM national x
				WHERE x.household_id = reg.household_id AND x.id <> reg.national_id
					AND x.source = 'self' AND x.deleted_at IS NULL AND x.id <> ALL (kept)
					AND x.name_key = coalesce(person->>'name_key', '')
					AND x.birth_date IS NOT DISTINCT FROM (person->>'birth_date')::date
				ORDER BY x.id LIMIT 1;
			IF nid IS NOT NULL THEN
				UPDATE national SET name_ko = person->>'name_ko', name_latin = person->>'name_latin',
					kind = (p_doc->>'kind')::national_kind,
					arrival_date = CASE WHEN is_trip THEN first_arrival END,
					departure_date = CASE WHEN is_trip THEN last_departure END,
					languages = ARRAY(SELECT jsonb_array_elements_text(person->'languages')),
					needs = ARRAY(SELECT jsonb_array_elements_text(person->'needs')),
					address = p_doc->>'address', residence_status = p_doc->>'residence_status',
					updated_at = now()
				WHERE id = nid;
			ELSE
				INSERT INTO national (mission_id, household_id, name_ko, name_latin, name_key,
						birth_date, passport_no, kind, arrival_date, departure_date, languages,
						needs, address, residence_status, source)
					VALUES (reg.mission_id, reg.household_id, person->>'name_ko',
						person->>'name_latin', coalesce(person->>'name_key', ''),
						(person->>'birth_date')::date, passport,
						(p_doc->>'kind')::national_kind,
						CASE WHEN is_trip THEN first_arrival END,
						CASE WHEN is_trip THEN last_departure END,
						ARRAY(SELECT jsonb_array_elements_text(person->'languages')),
						ARRAY(SELECT jsonb_array_elements_text(person->'needs')),
						p_doc->>'address', p_doc->>'residence_status', 'self')
					RETURNING id INTO nid;
			END IF;
			kept := kept || nid;
		END IF;
		-- The same legs for everyone in the household: they travel together.
		-- Only the legs this registration wrote are replaced; a partner's or
		-- staff's stay, numbered before them.
		DELETE FROM itinerary_leg WHERE national_id = nid AND source = 'self';
		SELECT coalesce(max(seq), 0) INTO offset_seq FROM itinerary_leg WHERE national_id = nid;
		-- Past the 20th leg (a partner's or staff's legs come first) the change
		-- is refused, not cut short unsaid; the caller says how many fit.
		IF is_trip AND offset_seq + jsonb_array_length(coalesce(p_doc->'legs', '[]')) > 20 THEN
			RAISE EXCEPTION 'too many legs' USING ERRCODE = 'SF003',
				DETAIL = greatest(20 - offset_seq, 0)::text;
		END IF;
		INSERT INTO itinerary_leg (national_id, seq, country, place, address, region_id, point,
				arrival, departure, source)
			SELECT nid, offset_seq + l.ord, l.v->>'country', l.v->>'place', l.v->>'address',
				rg.id,
				CASE WHEN l.v ? 'lat' THEN ST_SetSRID(ST_MakePoint((l.v->>'lon')::float8,
					(l.v->>'lat')::float8), 4326)::geography END,
				(l.v->>'arrival')::date, (l.v->>'departure')::date, 'self'
			FROM jsonb_array_elements(p_doc->'legs') WITH ORDINALITY AS l(v, ord)
			LEFT JOIN region rg ON rg.id = (l.v->>'region_id')::bigint
				AND rg.mission_id = reg.mission_id
			WHERE is_trip AND offset_seq + l.ord <= 20;
		-- Where the map shows them: the first leg's place, or the residence.
		INSERT INTO location (national_id, point, source, observed_at)
			SELECT nid, coalesce(lg.point, ST_PointOnSurface(r.area::geometry)::geography),
				'itinerary', now()
			FROM itinerary_leg lg LEFT JOIN region r ON r.id = lg.region_id
			WHERE lg.national_id = nid AND is_trip AND coalesce(lg.point::geometry, r.area::geometry) IS NOT NULL
			ORDER BY lg.seq LIMIT 1;
		-- A residence: the point given, else the chosen region, as a point
		-- inside it whose accuracy reaches the region's farthest edge (the
		-- area queries find such a person wherever in the region they live).
		INSERT INTO location (national_id, point, accuracy_m, source)
			SELECT nid, ST_SetSRID(ST_MakePoint((p_doc->>'lon')::float8, (p_doc->>'lat')::float8),
				4326)::geography, NULL::real, 'registration'::location_source
			WHERE NOT is_trip AND p_doc ? 'lat'
			UNION ALL
			SELECT nid, s.pt, ST_Distance(s.pt, ST_EndPoint(ST_LongestLine(s.pt::geometry,
					r.area::geometry))::geography)::real, 'registration'::location_source
			FROM region r CROSS JOIN LATERAL (SELECT ST_PointOnSurface(r.area::geometry)::geography AS pt) s
			WHERE NOT is_trip AND NOT p_doc ? 'lat'
				AND r.id = (p_doc->>'region_id')::bigint AND r.mission_id = reg.mission_id;
	END LOOP;
	-- Members taken off the registration are deleted for real. A launch, a
	-- staff deletion or a merge must not run meanwhile (a launch would ask
	-- someone deleted under it), so the mission's membership lock is asked
	-- for here, without waiting: we hold rows of this household by now, and
	-- a launch can take seconds. Busy, the whole change is undone (SF004).
	IF EXISTS (SELECT 1 FROM national x WHERE x.household_id = reg.household_id
			AND x.id <> reg.national_id AND x.source = 'self' AND x.deleted_at IS NULL
			AND x.id <> ALL (kept)) THEN
		IF NOT pg_try_advisory_xact_lock(hashtextextended('crisis-members:' || reg.mission_id, 0)) THEN
			RAISE EXCEPTION 'membership changes under way' USING ERRCODE = 'SF004';
		END IF;
		DELETE FROM national x WHERE x.household_id = reg.household_id AND x.id <> reg.national_id
			AND x.source = 'self' AND x.deleted_at IS NULL AND x.id <> ALL (kept);
	END IF;
	-- Contacts: those kept keep their confirmation, the rest are new. A
	-- confirmed contact removed (or changed) may be a lost phone: the new
	-- links sent to it and not used yet stop working.
	WITH gone AS (DELETE FROM contact ct WHERE ct.national_id = reg.national_id
		AND NOT EXISTS (
		SELECT 1 FROM jsonb_array_elements_text(p_doc->'people'->0->'phones') p
		WHERE ct.kind = 'phone' AND ct.value = p
		UNION ALL
		SELECT 1 FROM jsonb_array_elements_text(p_doc->'people'->0->'emails') e
		WHERE ct.kind = 'email' AND ct.value = e)
		RETURNING ct.verified)
	DELETE FROM registration_link_pending WHERE registration_id = p_registration
		AND EXISTS (SELECT 1 FROM gone WHERE gone.verified);
	INSERT INTO contact (national_id, kind, value, priority)
		SELECT reg.national_id, 'phone', p, least(ord, 9)
		FROM jsonb_array_elements_text(p_doc->'people'->0->'phones') WITH ORDINALITY AS x(p, ord)
		UNION ALL
		SELECT reg.national_id, 'email', e, least(ord, 9)
		FROM jsonb_array_elements_text(p_doc->'people'->0->'emails') WITH ORDINALITY AS y(e, ord)
		ON CONFLICT (national_id, kind, value) DO UPDATE SET priority = excluded.priority;
	UPDATE registration SET updated_at = now() WHERE id = p_registration;
END
$$;

-- The newest definition (0056), without the membership lock taken first:
-- registration_write asks for it when someone is taken off, and the join
-- queues people when a launch holds it. A recipient's spent code budget
-- (0080) holds that code instead of refusing the change.
CREATE OR REPLACE FUNCTION registration_update(p_manage_hash text, p_doc jsonb, p_addr text,
		p_addr_key text, p_code_limits jsonb) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	rid bigint;
	ct record;
	sent json;
	retry integer;
	ended integer;
	fit text;
	held_retry integer;
BEGIN
	rid := registration_link_open(p_manage_hash);
	-- The lock a code send takes first, taken next here: a change that
	-- removes a contact while a new code for it is being sent would
	-- otherwise wait on the send while the send waits on the contact.
	PERFORM pg_advisory_xact_lock(hashtextextended('codes:registration:' || rid, 0));
	SELECT * INTO reg FROM registration WHERE id = rid FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'unknown');
	END IF;
	-- Joined with the registry's own record: that record is the embassy's to change.
	IF EXISTS (SELECT 1 FROM registration_merge WHERE registration_id = reg.id) THEN
		RETURN json_build_object('outcome', 'merged');
	END IF;
	SELECT min((l->>'form_leg')::integer) INTO ended
		FROM jsonb_array_elements(coalesce(p_doc->'legs', '[]')) l
		WHERE (l->>'ended')::boolean AND NOT EXISTS (SELECT 1 FROM itinerary_leg s
			WHERE s.national_id = reg.national_id AND s.source = 'self'
				AND s.country = l->>'country' AND s.place IS NOT DISTINCT FROM l->>'place'
				AND s.address IS NOT DISTINCT FROM l->>'address'
				AND s.region_id IS NOT DISTINCT FROM (l->>'region_id')::bigint
				AND s.arrival = (l->>'arrival')::date AND s.departure = (l->>'departure')::date);
	IF ended IS NOT NULL THEN
		RETURN json_build_object('outcome', 'leg_ended', 'leg', ended);
	END IF;
	BEGIN
		PERFORM registration_write(reg.id, p_doc);
		PERFORM registration_family(reg.id, p_doc->'family');
		UPDATE registration SET language = coalesce(p_doc->>'language', language) WHERE id = reg.id;
		FOR ct IN SELECT c.id FROM contact c
				WHERE c.national_id = reg.national_id AND NOT c.verified
					AND NOT EXISTS (SELECT 1 FROM contact_code k WHERE k.contact_id = c.id)
				ORDER BY c.id LOOP
			sent := contact_code_send(ct.id, p_addr_key, p_code_limits);
			-- The recipient's own budget, which anyone may have spent: the
			-- change stands and that code is held (asked for again later).
			IF sent->>'outcome' = 'limit' AND sent->>'scope' IS DISTINCT FROM 'recipient' THEN
				retry := (sent->>'retry_after')::integer;
				RAISE EXCEPTION 'codes over budget' USING ERRCODE = 'SF002';
			ELSIF sent->>'outcome' = 'limit' THEN
				held_retry := greatest(coalesce(held_retry, 0), (sent->>'retry_after')::integer);
			END IF;
		END LOOP;
	EXCEPTION WHEN SQLSTATE 'SF002' THEN
		-- Everything in the block is undone: the registration stays as it was.
		RETURN json_build_object('outcome', 'limit', 'retry_after', retry);
	WHEN SQLSTATE 'SF003' THEN
		GET STACKED DIAGNOSTICS fit = PG_EXCEPTION_DETAIL;
		RETURN json_build_object('outcome', 'too_many_legs', 'fit', fit::integer);
	WHEN SQLSTATE 'SF004' THEN
		-- A member taken off while a launch (or a deletion, or a merge) runs:
		-- nothing is changed; the registrant saves again in a moment.
		RETURN json_build_object('outcome', 'busy', 'retry_after', 30);
	END;
	-- A trip (or home) moved inside the area of a running check-in: asked
	-- now, or queued until a launch under way has committed.
	PERFORM nationals_join_crises(reg.mission_id, ARRAY(SELECT x.id FROM national x
		WHERE x.household_id = reg.household_id AND x.deleted_at IS NULL));
	PERFORM audit_record('self', 'national', reg.mission_id, p_addr, 'registration.update',
		'national', reg.national_id::text, json_build_object('registration_id', reg.id,
		'people', jsonb_array_length(p_doc->'people'),
		'legs', jsonb_array_length(coalesce(p_doc->'legs', '[]')))::text);
	RETURN json_build_object('outcome', 'updated', 'registration_id', reg.id,
		'codes_held', held_retry IS NOT NULL, 'retry_after', held_retry);
END
$$;
