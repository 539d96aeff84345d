-- Nationals register themselves: a registration (the person who filled the
-- form, the people travelling with them as one household, a trip's legs or
-- a residence, the emergency contact at home), contacts confirmed with
-- one-time codes, a management link, and the family at home told when the
-- person answers a check-in. The spatial query learns itineraries: a
-- traveller is where the leg in effect on the day puts them.

-- What an outbox row is: a check-in question (the reply link is added when
-- sent), a one-time code, a management link, or a family notice (neither of
-- the last three carries a reply link).
ALTER TABLE outbox ADD COLUMN kind text NOT NULL DEFAULT 'checkin'
	CHECK (kind IN ('checkin', 'code', 'link', 'family'));
ALTER TABLE contact ADD COLUMN verified_at timestamptz;

CREATE TABLE registration (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- The person who registered; the others are the members of their household.
	national_id bigint NOT NULL UNIQUE REFERENCES national (id) ON DELETE CASCADE,
	mission_id bigint NOT NULL REFERENCES mission (id),
	household_id bigint NOT NULL REFERENCES household (id),
	-- SHA-256 (hex) of the management link's secret; the secret itself is never stored.
	manage_hash text NOT NULL UNIQUE CHECK (manage_hash ~ '^[0-9a-f]{64}$'),
	language text NOT NULL DEFAULT 'ko' CHECK (language IN ('ko', 'en')),
	consent_at timestamptz NOT NULL,
	-- The emergency contact at home, told of answers only with this consent.
	family_consent boolean NOT NULL DEFAULT false,
	family_name text CHECK (length(family_name) <= 200),
	family_relation text CHECK (length(family_relation) <= 50),
	family_phone text CHECK (family_phone ~ '^\+[1-9][0-9]{6,14}$'),
	family_email text CHECK (length(family_email) BETWEEN 3 AND 254),
	family_language text NOT NULL DEFAULT 'ko' CHECK (family_language IN ('ko', 'en')),
	-- A person already in the registry whom the registrant matches by the
	-- import's rules (passport, else name and birth date), for staff to see.
	-- Said to no one else: the registrant gets the same answer either way.
	duplicate_of bigint REFERENCES national (id) ON DELETE SET NULL,
	-- The passport typed when another person of the registry already has it:
	-- kept here, shown only to the link's holder, deleted with the registration.
	passport_withheld text CHECK (passport_withheld ~ '^[A-Z0-9]{5,20}$'),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registration_mission ON registration (mission_id, created_at DESC);
CREATE INDEX registration_household ON registration (household_id);

-- A leg of a trip: where a traveller is from arrival to departure. The
-- place is a region of the mission (its area counts) or a point.
CREATE TABLE itinerary_leg (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	national_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	seq smallint NOT NULL CHECK (seq BETWEEN 1 AND 20),
	country text NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
	place text CHECK (length(place) <= 200),
	address text CHECK (length(address) <= 500),
	region_id bigint REFERENCES region (id),
	point geography(Point, 4326),
	arrival date NOT NULL CHECK (arrival BETWEEN '2000-01-01' AND '2100-12-31'),
	departure date NOT NULL,
	source text NOT NULL DEFAULT 'self' CHECK (source IN ('self', 'partner', 'staff')),
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (departure >= arrival AND departure - arrival <= 3660),
	UNIQUE (national_id, seq)
);
CREATE INDEX itinerary_leg_point ON itinerary_leg USING gist (point);
CREATE INDEX itinerary_leg_region ON itinerary_leg (region_id, arrival, departure);

-- The days before arrival and after departure a leg still counts: flights
-- are late, plans change. ALTER DATABASE ... SET safety.itinerary_margin_days = N.
CREATE FUNCTION itinerary_margin_days() RETURNS integer LANGUAGE sql STABLE AS $$
	SELECT coalesce(nullif(current_setting('safety.itinerary_margin_days', true), '')::integer, 1)
$$;

-- The spatial query, now with itineraries. A national whose newest point
-- came from an itinerary is placed by the leg in effect on the day (its
-- point, or its region's area when it has no point); everyone else by their
-- newest point, as before. The two sets do not overlap.
CREATE OR REPLACE FUNCTION nationals_in_area(p_mission bigint, p_area geography, p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint) LANGUAGE sql STABLE AS $$
	SELECT n.id, n.region_id FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND ST_Intersects(n.last_point, p_area)
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id)
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL)
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		-- The regions first (a mission has tens), so both halves use an index.
		AND (ST_Intersects(l.point, p_area) OR (l.region_id = ANY (ARRAY(SELECT r.id FROM region r
			WHERE r.mission_id = p_mission AND ST_Intersects(r.area, p_area))) AND l.point IS NULL))
$$;

CREATE OR REPLACE FUNCTION nationals_near(p_mission bigint, p_center geography,
		p_radius_m double precision, p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint) LANGUAGE sql STABLE AS $$
	SELECT n.id, n.region_id FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND ST_DWithin(n.last_point, p_center, p_radius_m)
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id)
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL)
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		AND (ST_DWithin(l.point, p_center, p_radius_m) OR (l.region_id = ANY (ARRAY(
			SELECT r.id FROM region r WHERE r.mission_id = p_mission
				AND ST_DWithin(r.area, p_center, p_radius_m))) AND l.point IS NULL))
$$;

-- A one-time code per contact being confirmed: salted SHA-256 only,
-- expiring, a few tries.
CREATE TABLE contact_code (
	contact_id bigint PRIMARY KEY REFERENCES contact (id) ON DELETE CASCADE,
	salt text NOT NULL,
	code_hash text NOT NULL,
	expires_at timestamptz NOT NULL,
	tries smallint NOT NULL DEFAULT 0,
	sent_at timestamptz NOT NULL DEFAULT now()
);

-- Codes and links sent, by SHA-256 of the recipient, to limit how often one
-- number or address is written to (whoever asks); kept a day.
CREATE TABLE code_send (
	recipient_hash text NOT NULL,
	sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX code_send_recipient ON code_send (recipient_hash, sent_at);

-- Registrations made, by SHA-256 of the client address; kept a day.
CREATE TABLE registration_attempt (
	addr_hash text NOT NULL,
	at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registration_attempt_addr ON registration_attempt (addr_hash, at);

CREATE FUNCTION text_sha256(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT encode(sha256(convert_to(v, 'UTF8')), 'hex')
$$;

-- Codes expire after this many minutes and allow this many tries.
CREATE FUNCTION contact_code_minutes() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 10 $$;
CREATE FUNCTION contact_code_tries() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 5 $$;

-- Sends a new code to a contact of a registration: 'sent', or 'wait' (one a
-- minute per contact, five an hour per number or address), or 'verified'.
CREATE FUNCTION contact_code_issue(p_contact bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	c record;
	code text;
	salt text := gen_random_uuid()::text;
BEGIN
	SELECT ct.id, ct.kind, ct.value, ct.verified, n.mission_id, n.id AS national_id, r.language
		INTO c FROM contact ct JOIN national n ON n.id = ct.national_id
		JOIN registration r ON r.household_id = n.household_id
		WHERE ct.id = p_contact AND ct.kind IN ('phone', 'email');
	IF NOT FOUND THEN
		RETURN 'unknown';
	ELSIF c.verified THEN
		RETURN 'verified';
	END IF;
	-- One number or address counted at a time, so parallel asks cannot overshoot.
	PERFORM pg_advisory_xact_lock(hashtextextended('send:' || text_sha256(c.value), 0));
	IF EXISTS (SELECT 1 FROM contact_code k WHERE k.contact_id = p_contact
			AND k.sent_at > now() - interval '60 seconds')
		OR (SELECT count(*) FROM code_send s WHERE s.recipient_hash = text_sha256(c.value)
			AND s.sent_at > now() - interval '1 hour') >= 5 THEN
		RETURN 'wait';
	END IF;
	-- Six digits from 32 strongly random bits (gen_random_uuid reads the
	-- system's CSPRNG); the modulo bias is below one in four thousand.
	code := lpad(((('x' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 8))::bit(32)::bigint)
		% 1000000)::text, 6, '0');
	INSERT INTO contact_code (contact_id, salt, code_hash, expires_at, tries, sent_at)
		VALUES (p_contact, salt, text_sha256(salt || code),
			now() + make_interval(mins => contact_code_minutes()), 0, now())
		ON CONFLICT (contact_id) DO UPDATE SET salt = excluded.salt,
			code_hash = excluded.code_hash, expires_at = excluded.expires_at, tries = 0,
			sent_at = now();
	INSERT INTO code_send (recipient_hash) VALUES (text_sha256(c.value));
	INSERT INTO outbox (national_id, mission_id, channel, recipient, language, body, kind)
		VALUES (c.national_id, c.mission_id, CASE c.kind WHEN 'phone' THEN 'sms' ELSE 'email' END,
			c.value, c.language,
			CASE c.language WHEN 'ko' THEN '[재외국민 등록] 확인 코드: ' || code
				|| ' (' || contact_code_minutes() || '분 안에 입력하세요. 요청하지 않았다면 무시하세요.)'
			ELSE '[Overseas registration] Your code: ' || code || ' (enter it within '
				|| contact_code_minutes() || ' minutes; ignore this if you did not ask for it)' END,
			'code');
	PERFORM pg_notify('outbox', 'code');
	RETURN 'sent';
END
$$;

-- Checks a code typed on the management page: 'ok', 'wrong', 'expired'
-- (or none sent) or 'locked' (too many tries: ask for a new one).
CREATE FUNCTION contact_code_check(p_registration bigint, p_contact bigint, p_code text)
	RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	k record;
BEGIN
	SELECT cc.* INTO k FROM contact_code cc JOIN contact ct ON ct.id = cc.contact_id
		JOIN national n ON n.id = ct.national_id
		JOIN registration r ON r.household_id = n.household_id
		WHERE cc.contact_id = p_contact AND r.id = p_registration FOR UPDATE OF cc;
	IF NOT FOUND OR k.expires_at < now() THEN
		RETURN 'expired';
	ELSIF k.tries >= contact_code_tries() THEN
		RETURN 'locked';
	END IF;
	IF text_sha256(k.salt || p_code) <> k.code_hash THEN
		UPDATE contact_code SET tries = tries + 1 WHERE contact_id = p_contact;
		RETURN CASE WHEN k.tries + 1 >= contact_code_tries() THEN 'locked' ELSE 'wrong' END;
	END IF;
	DELETE FROM contact_code WHERE contact_id = p_contact;
	UPDATE contact SET verified = true, verified_at = now() WHERE id = p_contact;
	RETURN 'ok';
END
$$;

-- Writes the people, contacts and legs of a registration from its document
-- (checked and normalised by safetyd); used by create and by update.
--   {"kind": "traveller"|"resident", "address", "residence_status", "lat", "lon",
--    "people": [{"name_ko", "name_latin", "name_key", "birth_date", "passport_no",
--                "needs": [], "languages": [], "phones": [], "emails": []}, ...],
--    "legs": [{"country", "place", "region_id", "address", "lat", "lon",
--              "arrival", "departure"}, ...]}
-- The first person is the one who registered; contacts are theirs.
CREATE FUNCTION registration_write(p_registration bigint, p_doc jsonb) RETURNS void
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
		-- A residence: the point given, else the chosen region.
		INSERT INTO location (national_id, point, source)
			SELECT nid, ST_SetSRID(ST_MakePoint((p_doc->>'lon')::float8, (p_doc->>'lat')::float8),
				4326)::geography, 'registration'::location_source
			WHERE NOT is_trip AND p_doc ? 'lat'
			UNION ALL
			SELECT nid, ST_PointOnSurface(r.area::geometry)::geography, 'registration'::location_source
			FROM region r WHERE NOT is_trip AND NOT p_doc ? 'lat'
				AND r.id = (p_doc->>'region_id')::bigint AND r.mission_id = reg.mission_id;
	END LOOP;
	-- Members taken off the registration are deleted for real.
	DELETE FROM national x WHERE x.household_id = reg.household_id AND x.id <> reg.national_id
		AND x.source = 'self' AND x.deleted_at IS NULL AND x.id <> ALL (kept);
	-- Contacts: those kept keep their confirmation, the rest are new.
	DELETE FROM contact ct WHERE ct.national_id = reg.national_id
		AND NOT EXISTS (
		SELECT 1 FROM jsonb_array_elements_text(p_doc->'people'->0->'phones') p
		WHERE ct.kind = 'phone' AND ct.value = p
		UNION ALL
		SELECT 1 FROM jsonb_array_elements_text(p_doc->'people'->0->'emails') e
		WHERE ct.kind = 'email' AND ct.value = e);
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

-- Sets the emergency contact and the consent to tell them.
CREATE FUNCTION registration_family(p_registration bigint, p_doc jsonb) RETURNS void
	LANGUAGE sql AS $$
	UPDATE registration SET family_consent = coalesce((p_doc->>'consent')::boolean, false),
		family_name = p_doc->>'name', family_relation = p_doc->>'relation',
		family_phone = p_doc->>'phone', family_email = p_doc->>'email',
		family_language = coalesce(p_doc->>'language', 'ko')
	WHERE id = p_registration
$$;

-- A new registration, after consent: 'limit' when this address made too
-- many today, else the registration and the contacts to confirm. Codes go
-- out at once.
CREATE FUNCTION registration_create(p_mission bigint, p_manage_hash text, p_language text,
		p_doc jsonb, p_addr text, p_per_addr_day integer) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	hid bigint;
	nid bigint;
	rid bigint;
	first jsonb := p_doc->'people'->0;
BEGIN
	-- One address's registrations are counted one at a time, so a burst cannot overshoot.
	PERFORM pg_advisory_xact_lock(hashtextextended('registration:' || p_addr, 0));
	IF (SELECT count(*) FROM registration_attempt a WHERE a.addr_hash = text_sha256(p_addr)
			AND a.at > now() - interval '1 day') >= p_per_addr_day THEN
		RETURN json_build_object('outcome', 'limit');
	END IF;
	INSERT INTO registration_attempt (addr_hash) VALUES (text_sha256(p_addr));
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
	PERFORM contact_code_issue(ct.id) FROM contact ct WHERE ct.national_id = nid ORDER BY ct.id;
	PERFORM audit_record('self', 'national', p_mission, p_addr, 'registration.create',
		'national', nid::text, json_build_object('registration_id', rid,
		'people', jsonb_array_length(p_doc->'people'),
		'legs', jsonb_array_length(coalesce(p_doc->'legs', '[]')))::text);
	RETURN json_build_object('outcome', 'created', 'registration_id', rid, 'national_id', nid);
END
$$;

-- Changes a registration through its management link.
CREATE FUNCTION registration_update(p_manage_hash text, p_doc jsonb, p_addr text)
	RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
BEGIN
	SELECT * INTO reg FROM registration WHERE manage_hash = p_manage_hash FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'unknown');
	END IF;
	-- Joined with the registry's own record: that record is the embassy's to change.
	IF EXISTS (SELECT 1 FROM registration_merge WHERE registration_id = reg.id) THEN
		RETURN json_build_object('outcome', 'merged');
	END IF;
	PERFORM registration_write(reg.id, p_doc);
	PERFORM registration_family(reg.id, p_doc->'family');
	UPDATE registration SET language = coalesce(p_doc->>'language', language) WHERE id = reg.id;
	PERFORM contact_code_issue(ct.id) FROM contact ct
		WHERE ct.national_id = reg.national_id AND NOT ct.verified
			AND NOT EXISTS (SELECT 1 FROM contact_code k WHERE k.contact_id = ct.id)
		ORDER BY ct.id;
	PERFORM audit_record('self', 'national', reg.mission_id, p_addr, 'registration.update',
		'national', reg.national_id::text, json_build_object('registration_id', reg.id,
		'people', jsonb_array_length(p_doc->'people'),
		'legs', jsonb_array_length(coalesce(p_doc->'legs', '[]')))::text);
	RETURN json_build_object('outcome', 'updated', 'registration_id', reg.id);
END
$$;


-- A person deleted for real leaves the counts (person_status rows go with
-- the national).
CREATE FUNCTION person_status_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE status_count s SET n = s.n - d.c
		FROM (SELECT crisis_id, mission_id, coalesce(region_id, 0) AS region_id, status,
				count(*) AS c FROM old_rows GROUP BY 1, 2, 3, 4) d
		WHERE s.crisis_id = d.crisis_id AND s.mission_id = d.mission_id
			AND s.region_id = d.region_id AND s.status = d.status;
	RETURN NULL;
END
$$;
CREATE TRIGGER person_status_count_delete AFTER DELETE ON person_status
	REFERENCING OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION person_status_count_delete();

-- Codes do not outlive their sending: the message text is replaced once the
-- outbox is done with it.
CREATE FUNCTION outbox_forget_code() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.body := '(one-time code)';
	RETURN NEW;
END
$$;
CREATE TRIGGER outbox_forget_code BEFORE UPDATE ON outbox FOR EACH ROW
	WHEN (NEW.kind IN ('code', 'link') AND NEW.state IN ('sent', 'delivered', 'failed'))
	EXECUTE FUNCTION outbox_forget_code();

-- Families at home. One notice per (crisis, person, what is told): that the
-- person was asked and has not answered yet, that they answered (each
-- different answer once), that nothing has been heard after every round.
-- Only the status and the local time go out, never a place.
CREATE TABLE family_notice (
	crisis_id bigint NOT NULL REFERENCES crisis (id),
	national_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	told text NOT NULL,
	at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (crisis_id, national_id, told)
);

CREATE FUNCTION family_status_words(p_status text, p_lang text) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_lang = 'ko' THEN CASE p_status WHEN 'safe' THEN '안전'
			WHEN 'needs_help' THEN '도움이 필요함' WHEN 'injured' THEN '부상'
			WHEN 'needs_evacuation' THEN '대피가 필요함' WHEN 'evacuated' THEN '대피 완료'
			ELSE p_status END
		ELSE CASE p_status WHEN 'safe' THEN 'safe' WHEN 'needs_help' THEN 'needs help'
			WHEN 'injured' THEN 'injured' WHEN 'needs_evacuation' THEN 'needs evacuation'
			WHEN 'evacuated' THEN 'evacuated' ELSE p_status END END
$$;

-- Queues the notices for (crisis, national, told) rows not told yet.
CREATE FUNCTION family_notify(p_rows jsonb) RETURNS void LANGUAGE sql AS $$
	WITH wanted AS (
		SELECT (x->>'crisis_id')::bigint AS crisis_id, (x->>'national_id')::bigint AS national_id,
			x->>'told' AS told, (x->>'at')::timestamptz AS at
		FROM jsonb_array_elements(p_rows) x),
	fresh AS (
		INSERT INTO family_notice (crisis_id, national_id, told)
			SELECT w.crisis_id, w.national_id, w.told FROM wanted w
			JOIN registration r ON r.national_id = w.national_id AND r.family_consent
				AND (r.family_phone IS NOT NULL OR r.family_email IS NOT NULL)
			ON CONFLICT DO NOTHING
			RETURNING crisis_id, national_id, told)
	INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language, body, kind)
	SELECT f.crisis_id, f.national_id, n.mission_id,
		CASE WHEN r.family_phone IS NOT NULL THEN 'sms' ELSE 'email' END,
		coalesce(r.family_phone, r.family_email), r.family_language,
		CASE WHEN r.family_language = 'ko' THEN '[대사관 안전 확인] ' ||
			CASE WHEN f.told = 'asked' THEN c.title || ' 관련, ' || nm.name ||
					'님께 안전 여부를 묻고 있습니다. 아직 답이 없습니다. 답이 오면 알려 드립니다.'
				WHEN f.told = 'unreachable' THEN nm.name || '님의 소식을 아직 듣지 못했습니다. '
					|| '대사관이 계속 연락하고 있습니다.'
				ELSE nm.name || '님이 답했습니다: ' || family_status_words(f.told, 'ko') || ' ('
					|| to_char(w.at AT TIME ZONE m.timezone, 'MM"월 "DD"일 "HH24:MI') || ', 현지 시각)' END
		ELSE '[Embassy safety check] ' ||
			CASE WHEN f.told = 'asked' THEN 'We have asked ' || nm.name || ' whether they are safe ('
					|| c.title || '). No answer yet; we will tell you when they answer.'
				WHEN f.told = 'unreachable' THEN 'Nothing has been heard from ' || nm.name
					|| ' yet. The embassy keeps trying to reach them.'
				ELSE nm.name || ' answered: ' || family_status_words(f.told, 'en') || ', '
					|| to_char(w.at AT TIME ZONE m.timezone, 'DD Mon HH24:MI') || ' local time.' END
		END || CASE WHEN c.drill THEN CASE WHEN r.family_language = 'ko' THEN ' [훈련]'
			ELSE ' [DRILL]' END ELSE '' END,
		'family'
	FROM fresh f JOIN wanted w USING (crisis_id, national_id, told)
	JOIN registration r ON r.national_id = f.national_id
	JOIN national n ON n.id = f.national_id
	JOIN mission m ON m.id = n.mission_id
	JOIN crisis c ON c.id = f.crisis_id
	CROSS JOIN LATERAL (SELECT CASE WHEN r.family_language = 'ko'
		THEN coalesce(n.name_ko, n.name_latin) ELSE coalesce(n.name_latin, n.name_ko) END AS name) nm
$$;

CREATE FUNCTION family_on_checkin_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM family_notify(jsonb_agg(jsonb_build_object('crisis_id', k.crisis_id,
			'national_id', k.national_id,
			'told', CASE WHEN k.state = 'unreachable' THEN 'unreachable' ELSE 'asked' END,
			'at', k.asked_at)))
		FROM new_checkins k JOIN registration r ON r.national_id = k.national_id
		WHERE r.family_consent
		HAVING count(*) > 0;
	RETURN NULL;
END
$$;
CREATE TRIGGER family_on_checkin_insert AFTER INSERT ON checkin
	REFERENCING NEW TABLE AS new_checkins
	FOR EACH STATEMENT EXECUTE FUNCTION family_on_checkin_insert();

CREATE FUNCTION family_on_checkin_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM family_notify(jsonb_agg(jsonb_build_object('crisis_id', k.crisis_id,
			'national_id', k.national_id, 'told', 'unreachable', 'at', now())))
		FROM new_checkins k JOIN old_checkins o USING (crisis_id, national_id)
		JOIN registration r ON r.national_id = k.national_id
		WHERE r.family_consent AND k.state = 'unreachable' AND o.state <> 'unreachable'
		HAVING count(*) > 0;
	RETURN NULL;
END
$$;
CREATE TRIGGER family_on_checkin_update AFTER UPDATE ON checkin
	REFERENCING NEW TABLE AS new_checkins OLD TABLE AS old_checkins
	FOR EACH STATEMENT EXECUTE FUNCTION family_on_checkin_update();

-- The person's own answer changed: tell the family the new answer, once.
CREATE FUNCTION family_on_answer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM family_notify(jsonb_agg(jsonb_build_object('crisis_id', p.crisis_id,
			'national_id', p.national_id, 'told', p.own_status,
			'at', coalesce(p.own_at, now()))))
		FROM new_rows p JOIN old_rows o USING (crisis_id, national_id)
		JOIN registration r ON r.national_id = p.national_id
		WHERE r.family_consent AND p.own_status IS DISTINCT FROM o.own_status
			AND p.own_status IN ('safe', 'needs_help', 'injured', 'needs_evacuation')
		HAVING count(*) > 0;
	RETURN NULL;
END
$$;
CREATE TRIGGER family_on_answer AFTER UPDATE ON person_status
	REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows
	FOR EACH STATEMENT EXECUTE FUNCTION family_on_answer();

-- Campaigns reach a confirmed contact before an unconfirmed one of the same
-- channel.
CREATE OR REPLACE FUNCTION campaign_launch(p_campaign bigint) RETURNS TABLE (checkins bigint, messages bigint)
	LANGUAGE sql AS $$
	WITH camp AS (SELECT cp.*, c.title, c.drill FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id
			WHERE cp.id = p_campaign),
	targets AS (SELECT t.national_id FROM camp, LATERAL crisis_targets(camp.crisis_id, camp.mission_id) t
			WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id
				AND k.national_id = t.national_id)),
	route AS (SELECT DISTINCT ON (n.id) n.id AS national_id, ch.i AS channel_index, ch.channel,
			ct.value AS recipient,
			CASE WHEN 'ko' = ANY (n.languages) OR n.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang,
			n.name_ko, n.name_latin
		FROM targets t JOIN national n ON n.id = t.national_id, camp,
			unnest(camp.channels) WITH ORDINALITY AS ch(channel, i)
			JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)
		WHERE ct.national_id = n.id
		ORDER BY n.id, route_degraded(ch.channel, ct.value), ch.i, ct.verified DESC, ct.priority, ct.id),
	ck AS (INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, channel_index,
			next_ask_at, state)
		SELECT camp.crisis_id, t.national_id, camp.mission_id, camp.id,
			coalesce(r.channel_index, 1), now() + make_interval(secs => camp.reask_interval_s),
			CASE WHEN r.national_id IS NULL THEN 'unreachable' ELSE 'asked' END::checkin_state
		FROM camp, targets t LEFT JOIN route r ON r.national_id = t.national_id
		RETURNING national_id),
	ob AS (INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient,
			language, body)
		SELECT camp.crisis_id, camp.id, r.national_id, camp.mission_id, r.channel, r.recipient, r.lang,
			campaign_render(camp.templates, r.lang,
				CASE WHEN r.lang = 'ko' THEN coalesce(r.name_ko, r.name_latin) ELSE coalesce(r.name_latin, r.name_ko) END,
				camp.title, camp.drill)
		FROM camp, route r
		RETURNING 1),
	upd AS (UPDATE campaign SET targeted = (SELECT count(*) FROM ck) WHERE id = p_campaign RETURNING 1)
	SELECT (SELECT count(*) FROM ck), (SELECT count(*) FROM ob) FROM (SELECT count(*) FROM upd) u
$$;

CREATE OR REPLACE FUNCTION campaign_escalate() RETURNS TABLE (reasked bigint, unreachable bigint)
	LANGUAGE sql AS $$
	WITH due AS (SELECT k.*, cp.channels, cp.rounds, cp.reask_interval_s, cp.templates, c.title, c.drill
			FROM checkin k JOIN campaign cp ON cp.id = k.campaign_id JOIN crisis c ON c.id = k.crisis_id
			WHERE k.state = 'asked' AND k.next_ask_at <= now() AND c.state = 'active'
			ORDER BY k.next_ask_at LIMIT 50000 FOR UPDATE OF k SKIP LOCKED),
	nxt AS (SELECT DISTINCT ON (d.crisis_id, d.national_id) d.crisis_id, d.national_id, d.mission_id,
			d.campaign_id, ch.i AS channel_index, ch.channel, ct.value AS recipient,
			CASE WHEN 'ko' = ANY (n.languages) OR n.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang,
			n.name_ko, n.name_latin, d.templates, d.title, d.drill, d.reask_interval_s
		FROM due d JOIN national n ON n.id = d.national_id,
			unnest(d.channels) WITH ORDINALITY AS ch(channel, i)
			JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)
		WHERE ct.national_id = d.national_id AND d.round < d.rounds
		-- the channel after the last one used, wrapping around
		ORDER BY d.crisis_id, d.national_id, route_degraded(ch.channel, ct.value),
			(ch.i - d.channel_index - 1 + cardinality(d.channels)) % cardinality(d.channels),
			ct.verified DESC, ct.priority, ct.id),
	again AS (UPDATE checkin k SET round = k.round + 1, channel_index = x.channel_index,
			asked_at = now(), next_ask_at = now() + make_interval(secs => x.reask_interval_s)
		FROM nxt x WHERE k.crisis_id = x.crisis_id AND k.national_id = x.national_id
		RETURNING k.crisis_id),
	ob AS (INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient,
			language, body)
		SELECT x.crisis_id, x.campaign_id, x.national_id, x.mission_id, x.channel, x.recipient, x.lang,
			campaign_render(x.templates, x.lang,
				CASE WHEN x.lang = 'ko' THEN coalesce(x.name_ko, x.name_latin) ELSE coalesce(x.name_latin, x.name_ko) END,
				x.title, x.drill)
		FROM nxt x RETURNING 1),
	gone AS (UPDATE checkin k SET state = 'unreachable' FROM due d
		WHERE k.crisis_id = d.crisis_id AND k.national_id = d.national_id
			AND NOT EXISTS (SELECT 1 FROM nxt x WHERE x.crisis_id = d.crisis_id
				AND x.national_id = d.national_id)
		RETURNING 1)
	SELECT (SELECT count(*) FROM again), (SELECT count(*) FROM gone) FROM (SELECT count(*) FROM ob) o
$$;

-- Merging a registration into the person the registry already had (the
-- registrant matched them): the registry's person takes the registration's
-- contacts (confirmed ones stay confirmed), legs and trip dates, the family
-- contact follows them, and the registrant's own row is set aside. What the
-- person was before is kept, so the merge can be undone exactly.
CREATE TABLE registration_merge (
	registration_id bigint PRIMARY KEY REFERENCES registration (id) ON DELETE CASCADE,
	kept_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	registrant_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	-- The kept person's fields before the merge.
	before jsonb NOT NULL,
	added_contacts bigint[] NOT NULL DEFAULT '{}',
	merged_by text NOT NULL,
	merged_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION registration_merge(p_registration bigint, p_mission bigint, p_actor text,
		p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	kept record; -- (NATIONAL is a keyword where a type is expected)
	added bigint[];
BEGIN
	SELECT * INTO reg FROM registration WHERE id = p_registration
		AND (p_mission IS NULL OR mission_id = p_mission) FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'unknown');
	ELSIF reg.duplicate_of IS NULL OR EXISTS (SELECT 1 FROM registration_merge m
			WHERE m.registration_id = reg.id) THEN
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
	INSERT INTO registration_merge (registration_id, kept_id, registrant_id, before, added_contacts,
			merged_by)
		VALUES (reg.id, kept.id, reg.national_id, jsonb_build_object('kind', kept.kind,
			'arrival_date', kept.arrival_date, 'departure_date', kept.departure_date,
			'household_id', kept.household_id, 'last_point_source', kept.last_point_source,
			'verified', (SELECT coalesce(jsonb_agg(c.id), '[]') FROM contact c
				WHERE c.national_id = kept.id AND c.verified)), added, p_actor);
	-- The legs move to the kept person; the registrant's row stays, set aside.
	UPDATE itinerary_leg l SET national_id = kept.id, seq = x.seq
		FROM (SELECT id, (SELECT coalesce(max(seq), 0) FROM itinerary_leg WHERE national_id = kept.id)
				+ row_number() OVER (ORDER BY seq) AS seq
			FROM itinerary_leg WHERE national_id = reg.national_id AND source = 'self') x
		WHERE l.id = x.id AND x.seq <= 20;
	UPDATE national n SET kind = r.kind, arrival_date = r.arrival_date,
			departure_date = r.departure_date, household_id = reg.household_id, updated_at = now()
		FROM national r WHERE r.id = reg.national_id AND n.id = kept.id;
	INSERT INTO location (national_id, point, source)
		SELECT kept.id, last_point, 'itinerary' FROM national WHERE id = reg.national_id
			AND last_point_source = 'itinerary';
	UPDATE national SET deleted_at = now() WHERE id = reg.national_id;
	UPDATE registration SET national_id = kept.id WHERE id = reg.id;
	PERFORM audit_record(p_actor, p_role, reg.mission_id, p_addr, 'registration.merge',
		'national', kept.id::text, json_build_object('registration_id', reg.id,
		'registrant_id', reg.national_id)::text);
	RETURN json_build_object('outcome', 'merged', 'kept_id', kept.id);
END
$$;

-- Undoes a merge: the kept person back as they were, the registrant back.
CREATE FUNCTION registration_unmerge(p_registration bigint, p_mission bigint, p_actor text,
		p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	m registration_merge;
	reg registration;
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
	UPDATE national SET kind = (m.before->>'kind')::national_kind,
			arrival_date = (m.before->>'arrival_date')::date,
			departure_date = (m.before->>'departure_date')::date,
			household_id = (m.before->>'household_id')::bigint, updated_at = now()
		WHERE id = m.kept_id;
	-- The kept person's place: their newest location that did not come from the registration.
	UPDATE national n SET last_point = l.point, last_point_at = l.observed_at,
			last_point_accuracy_m = l.accuracy_m, last_point_source = l.source
		FROM (SELECT * FROM location WHERE national_id = m.kept_id
			AND observed_at < m.merged_at ORDER BY observed_at DESC LIMIT 1) l
		WHERE n.id = m.kept_id;
	DELETE FROM location WHERE national_id = m.kept_id AND source = 'itinerary'
		AND created_at >= m.merged_at;
	DELETE FROM registration_merge WHERE registration_id = reg.id;
	PERFORM audit_record(p_actor, p_role, reg.mission_id, p_addr, 'registration.unmerge',
		'national', m.kept_id::text, json_build_object('registration_id', reg.id,
		'registrant_id', m.registrant_id)::text);
	RETURN json_build_object('outcome', 'unmerged', 'national_id', m.registrant_id);
END
$$;

-- Deletes a registration for real: every person of its household that came
-- from it, with their contacts, legs, locations, answers and messages. The
-- audit log keeps that it happened and the ids, nothing personal. A merged
-- registration first gives the registry's person back as they were.
CREATE FUNCTION registration_delete(p_manage_hash text, p_addr text) RETURNS json
	LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	gone integer;
BEGIN
	SELECT * INTO reg FROM registration WHERE manage_hash = p_manage_hash FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'unknown');
	END IF;
	IF EXISTS (SELECT 1 FROM registration_merge WHERE registration_id = reg.id) THEN
		PERFORM registration_unmerge(reg.id, NULL, 'self', 'national', p_addr);
		SELECT * INTO reg FROM registration WHERE id = reg.id;
	END IF;
	DELETE FROM registration WHERE id = reg.id;
	DELETE FROM national WHERE household_id = reg.household_id
		AND (source = 'self' OR id = reg.national_id);
	GET DIAGNOSTICS gone = ROW_COUNT;
	DELETE FROM household h WHERE h.id = reg.household_id
		AND NOT EXISTS (SELECT 1 FROM national n WHERE n.household_id = h.id);
	PERFORM audit_record('self', 'national', reg.mission_id, p_addr, 'registration.delete',
		'national', reg.national_id::text, json_build_object('registration_id', reg.id,
		'people', gone)::text);
	RETURN json_build_object('outcome', 'deleted', 'people', gone);
END
$$;

-- The registrations staff see: newest first, with what is confirmed and
-- whom each likely duplicates.
CREATE FUNCTION registration_list(p_mission bigint, p_limit integer) RETURNS json
	LANGUAGE sql STABLE AS $$
	SELECT coalesce(json_agg(x ORDER BY x.created_at DESC), '[]') FROM (
		SELECT r.id, r.mission_id, r.created_at, r.updated_at, n.id AS national_id,
			coalesce(n.name_ko, n.name_latin) AS name, n.name_latin, n.kind,
			n.arrival_date, n.departure_date,
			(SELECT count(*) FROM national x WHERE x.household_id = r.household_id
				AND x.deleted_at IS NULL) AS people,
			(SELECT coalesce(json_agg(json_build_object('seq', l.seq, 'place',
				coalesce(l.place, g.name), 'region', g.code, 'arrival', l.arrival,
				'departure', l.departure) ORDER BY l.seq), '[]')
				FROM itinerary_leg l LEFT JOIN region g ON g.id = l.region_id
				WHERE l.national_id = n.id) AS legs,
			(SELECT coalesce(json_agg(json_build_object('kind', c.kind, 'verified', c.verified)
				ORDER BY c.kind DESC, c.priority), '[]')
				FROM contact c WHERE c.national_id = n.id) AS contacts,
			r.family_consent,
			CASE WHEN mg.registration_id IS NOT NULL THEN json_build_object('national_id', mg.kept_id,
				'merged_by', mg.merged_by, 'merged_at', mg.merged_at) END AS merged,
			CASE WHEN r.duplicate_of IS NOT NULL AND mg.registration_id IS NULL THEN
				(SELECT json_build_object('national_id', d.id, 'name', coalesce(d.name_ko, d.name_latin),
					'birth_date', d.birth_date, 'source', d.source)
				FROM national d WHERE d.id = r.duplicate_of) END AS duplicate_of
		FROM registration r JOIN national n ON n.id = r.national_id
		LEFT JOIN registration_merge mg ON mg.registration_id = r.id
		WHERE (p_mission IS NULL OR r.mission_id = p_mission)
		ORDER BY r.created_at DESC LIMIT p_limit) x
$$;

-- Itineraries from partners (a travel agency's bookings, an airline's
-- manifest): a row per leg, checked by safetyd's import rules; here each
-- leg is placed (a region of the mission or coordinates), its travellers
-- matched to the registry (passport, else name, birth date and phone) or
-- added, and the legs stored. Rows that cannot be placed come back with
-- their line and reason. With p_dry nothing stays.
--   p_rows: [{"line", "name_ko", "name_latin", "name_key", "birth_date", "passport_no",
--             "phones": [], "emails": [], "languages": [], "country", "place", "region",
--             "lat", "lon", "arrival", "departure", "ref"}, ...]
CREATE FUNCTION itinerary_import(p_mission bigint, p_source text, p_rows jsonb, p_dry boolean,
		p_actor text, p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	refused_rows jsonb;
	added integer := 0;
	matched integer := 0;
	legs integer := 0;
	result json;
BEGIN
	CREATE TEMP TABLE IF NOT EXISTS itin_row (line integer, person text, name_ko text,
		name_latin text, name_key text, birth_date date, passport_no text, phones text[],
		emails text[], languages text[], country text, place text, region_id bigint,
		point geography, arrival date, departure date, national_id bigint,
		is_new boolean NOT NULL DEFAULT false, refused text, refused_field text) ON COMMIT DROP;
	TRUNCATE itin_row;
	INSERT INTO itin_row
		SELECT (r->>'line')::integer,
			coalesce('p:' || (r->>'passport_no'), 'n:' || (r->>'name_key') || '|'
				|| coalesce(r->>'birth_date', '') || '|' || coalesce(r->'phones'->>0, '')),
			r->>'name_ko', r->>'name_latin', coalesce(r->>'name_key', ''),
			(r->>'birth_date')::date, r->>'passport_no',
			ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'phones', '[]'))),
			ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'emails', '[]'))),
			ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'languages', '["ko"]'))),
			coalesce(r->>'country', m.default_country), r->>'place', g.id,
			CASE WHEN r ? 'lat' THEN ST_SetSRID(ST_MakePoint((r->>'lon')::float8,
				(r->>'lat')::float8), 4326)::geography END,
			(r->>'arrival')::date, (r->>'departure')::date, NULL, false,
			CASE WHEN coalesce(r->>'country', m.default_country) <> m.default_country
					AND NOT coalesce(r->>'country', '') = ANY (m.countries)
					THEN 'country: not a country of this mission'
				WHEN r ? 'region' AND g.id IS NULL THEN 'region: no such region in this mission'
				WHEN NOT r ? 'region' AND NOT r ? 'lat'
					THEN 'region: a leg needs a region code or coordinates to be placed' END,
			CASE WHEN coalesce(r->>'country', m.default_country) <> m.default_country
					AND NOT coalesce(r->>'country', '') = ANY (m.countries) THEN 'country'
				ELSE 'region' END
		FROM jsonb_array_elements(p_rows) r
		JOIN mission m ON m.id = p_mission
		LEFT JOIN region g ON g.mission_id = p_mission AND g.code = r->>'region';
	BEGIN
		-- Match each traveller once: passport, else name, birth date and a phone.
		UPDATE itin_row t SET national_id = x.id FROM (
			SELECT DISTINCT ON (t2.person) t2.person, n.id
			FROM itin_row t2 JOIN national n ON n.mission_id = p_mission AND n.deleted_at IS NULL
				AND ((t2.passport_no IS NOT NULL AND n.passport_no = t2.passport_no)
					OR (t2.passport_no IS NULL AND n.name_key = t2.name_key AND t2.name_key <> ''
						AND n.birth_date = t2.birth_date AND EXISTS (SELECT 1 FROM contact c
							WHERE c.national_id = n.id AND c.kind = 'phone'
								AND c.value = ANY (t2.phones))))
			WHERE t2.refused IS NULL ORDER BY t2.person, n.id) x
		WHERE t.person = x.person AND t.refused IS NULL;
		SELECT count(DISTINCT person) INTO matched FROM itin_row
			WHERE national_id IS NOT NULL AND refused IS NULL;
		-- New travellers, one per person, from their first good row; their
		-- ids are drawn first so every row of the person knows its id.
		-- (Materialised: a rescanned subquery would draw a new id per row.)
		WITH ids AS MATERIALIZED (
			SELECT person, nextval(pg_get_serial_sequence('national', 'id')) AS nid
			FROM (SELECT DISTINCT person FROM itin_row WHERE national_id IS NULL
				AND refused IS NULL) p)
		UPDATE itin_row t SET national_id = x.nid, is_new = true FROM ids x
		WHERE t.person = x.person AND t.refused IS NULL;
		WITH firsts AS (SELECT DISTINCT ON (person) * FROM itin_row WHERE is_new
				ORDER BY person, line),
			ins AS (INSERT INTO national (id, mission_id, name_ko, name_latin, name_key,
					birth_date, passport_no, kind, arrival_date, departure_date, languages, source)
				OVERRIDING SYSTEM VALUE
				SELECT f.national_id, p_mission, f.name_ko, f.name_latin, f.name_key, f.birth_date,
					f.passport_no, 'traveller',
					(SELECT min(arrival) FROM itin_row a WHERE a.person = f.person AND a.is_new),
					(SELECT max(departure) FROM itin_row a WHERE a.person = f.person AND a.is_new),
					f.languages, 'import'
				FROM firsts f RETURNING 1)
			SELECT count(*) INTO added FROM ins;
		-- A traveller already known keeps the longer trip.
		UPDATE national n SET arrival_date = least(n.arrival_date, x.a),
				departure_date = greatest(n.departure_date, x.d), updated_at = now()
			FROM (SELECT national_id, min(arrival) AS a, max(departure) AS d FROM itin_row
				WHERE refused IS NULL GROUP BY national_id) x
			WHERE n.id = x.national_id AND n.kind = 'traveller';
		INSERT INTO contact (national_id, kind, value, priority)
			SELECT DISTINCT ON (t.national_id, p) t.national_id, 'phone', p, 1
			FROM itin_row t, unnest(t.phones) p WHERE t.refused IS NULL
			UNION ALL
			SELECT DISTINCT ON (t.national_id, e) t.national_id, 'email', e, 1
			FROM itin_row t, unnest(t.emails) e WHERE t.refused IS NULL
			ON CONFLICT (national_id, kind, value) DO NOTHING;
		-- The legs, each once however often the file is sent.
		WITH fresh AS (SELECT t.* FROM itin_row t WHERE t.refused IS NULL AND NOT EXISTS (
				SELECT 1 FROM itinerary_leg l WHERE l.national_id = t.national_id
					AND l.arrival = t.arrival AND l.departure = t.departure
					AND l.region_id IS NOT DISTINCT FROM t.region_id
					AND l.place IS NOT DISTINCT FROM t.place)),
			numbered AS (SELECT f.*, coalesce((SELECT max(seq) FROM itinerary_leg l
					WHERE l.national_id = f.national_id), 0)
					+ row_number() OVER (PARTITION BY f.national_id ORDER BY f.arrival, f.line) AS seq
				FROM fresh f),
			ins AS (INSERT INTO itinerary_leg (national_id, seq, country, place, region_id, point,
					arrival, departure, source)
				SELECT national_id, seq, country, place, region_id, point, arrival, departure,
					'partner' FROM numbered WHERE seq <= 20 RETURNING 1)
			SELECT count(*) INTO legs FROM ins;
		-- New travellers are placed by their itinerary.
		INSERT INTO location (national_id, point, source)
			SELECT DISTINCT ON (t.national_id) t.national_id,
				coalesce(t.point, ST_PointOnSurface(g.area::geometry)::geography), 'itinerary'
			FROM itin_row t LEFT JOIN region g ON g.id = t.region_id
			JOIN national n ON n.id = t.national_id AND n.kind = 'traveller'
				AND (n.last_point IS NULL OR n.last_point_source = 'itinerary')
			WHERE t.refused IS NULL ORDER BY t.national_id, t.arrival;
		SELECT coalesce(jsonb_agg(jsonb_build_object('line', line, 'field', refused_field,
				'reason', refused) ORDER BY line), '[]') INTO refused_rows
			FROM itin_row WHERE refused IS NOT NULL;
		IF NOT p_dry THEN
			PERFORM audit_record(p_actor, p_role, p_mission, p_addr, 'itinerary.import',
				'mission', p_mission::text, json_build_object('source', p_source, 'added', added,
				'matched', matched, 'legs', legs, 'refused', jsonb_array_length(refused_rows))::text);
		END IF;
		result := json_build_object('source', p_source, 'dry_run', p_dry, 'travellers_added', added,
			'travellers_matched', matched, 'legs_added', legs, 'refused', refused_rows);
		IF p_dry THEN
			RAISE EXCEPTION 'dry run' USING ERRCODE = 'SF001';
		END IF;
	EXCEPTION WHEN SQLSTATE 'SF001' THEN
		NULL; -- a dry run: everything above is undone, the counts stay
	END;
	RETURN result;
END
$$;

-- The management link goes to a contact once it is confirmed (never to an
-- unconfirmed one: whoever typed someone else's number learns nothing).
CREATE FUNCTION registration_link_send(p_manage_hash text, p_contact bigint, p_link text,
		p_again boolean DEFAULT false) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
	c record;
BEGIN
	SELECT ct.kind, ct.value, n.id AS national_id, n.mission_id, r.language INTO c
		FROM registration r JOIN contact ct ON ct.national_id = r.national_id
		JOIN national n ON n.id = r.national_id
		WHERE r.manage_hash = p_manage_hash AND ct.id = p_contact AND ct.verified;
	IF NOT FOUND OR (NOT p_again AND EXISTS (SELECT 1 FROM outbox o WHERE o.national_id = c.national_id
			AND o.kind = 'link' AND o.recipient = c.value
			AND o.created_at > now() - interval '1 day')) THEN
		RETURN false;
	END IF;
	INSERT INTO outbox (national_id, mission_id, channel, recipient, language, body, kind)
		VALUES (c.national_id, c.mission_id, CASE c.kind WHEN 'phone' THEN 'sms' ELSE 'email' END,
			c.value, c.language,
			CASE c.language WHEN 'ko' THEN '[재외국민 등록] 등록을 보고 고치거나 지우는 링크입니다. '
				|| '다른 사람에게 알려 주지 마세요: ' || p_link
			ELSE '[Overseas registration] Your link to see, change or delete your registration '
				|| '(keep it to yourself): ' || p_link END, 'link');
	PERFORM pg_notify('outbox', 'link');
	RETURN true;
END
$$;

-- A lost link: a new one goes to the confirmed contact that matches, the
-- old one stops working. The caller answers the same whatever happens here.
-- p_values: the forms the typed contact may stand for (a national number read
-- with each mission's country).
CREATE FUNCTION registration_relink(p_kind text, p_values text[], p_new_hash text, p_link text)
	RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	r record;
	p_value text;
BEGIN
	SELECT reg.id, ct.id AS contact_id, ct.value INTO r FROM contact ct
		JOIN registration reg ON reg.national_id = ct.national_id
		WHERE ct.kind = p_kind AND ct.value = ANY (p_values) AND ct.verified
		ORDER BY reg.updated_at DESC LIMIT 1;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	p_value := r.value;
	PERFORM pg_advisory_xact_lock(hashtextextended('send:' || text_sha256(p_value), 0));
	IF (SELECT count(*) FROM code_send s WHERE s.recipient_hash = text_sha256(p_value)
			AND s.sent_at > now() - interval '1 hour') >= 5 THEN
		RETURN;
	END IF;
	INSERT INTO code_send (recipient_hash) VALUES (text_sha256(p_value));
	UPDATE registration SET manage_hash = p_new_hash, updated_at = now() WHERE id = r.id;
	DELETE FROM outbox WHERE kind = 'link' AND recipient = p_value AND state = 'queued';
	PERFORM registration_link_send(p_new_hash, r.contact_id, p_link, true);
END
$$;
