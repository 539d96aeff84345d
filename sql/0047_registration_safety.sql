-- Registrations made safer for the people in them and for the families at
-- home:
--
-- * A partner's itinerary moves a traveller the registry already has: the
--   spatial query follows the legs of whoever was last placed by an
--   itinerary, so a matched traveller is placed by the file's legs too,
--   unless they said (or staff recorded) where they are since the trip began.
-- * A family notice goes out only once the registrant has confirmed a
--   contact of their own, at most a few times per crisis, recipient and
--   status and ten times a day per recipient, names the person only when
--   the name is plainly a name, and says what happened by the crisis's
--   kind in fixed words: never its title, which names places.
-- * A merge records the legs it moved and an undo moves back only those; a
--   person who belongs to another registration's household stays in it. A
--   registration whose likely duplicate is another registration's
--   registrant is not merged (one person registered twice): the answer says
--   so, and the list shows it.
-- * Removing or changing a confirmed contact ends the pending new links of
--   the registration (a lost link sent to a number no longer the
--   registrant's stops working).
-- * Changing or deleting a registration takes the mission's membership lock
--   first, as launches, deletions and merges do: members removed while a
--   launch runs neither deadlock nor abort it.
-- * A change keeps the legs that have ended as they were stored; a leg that
--   ended can be neither added nor changed. More legs than a traveller can
--   have (partners' legs count) are refused rather than dropped.

-- The legs a merge moved to the kept person, moved back by an undo.
ALTER TABLE registration_merge ADD COLUMN moved_legs bigint[];
-- Merges made before: their legs were written with the registration, in
-- the transaction that last set its updated_at (a merged registration
-- cannot be changed); when none match, the undo moves every leg of the
-- registration's kind, as before.
UPDATE registration_merge m SET moved_legs = x.ids
	FROM (SELECT m2.registration_id, array_agg(l.id ORDER BY l.seq) AS ids
		FROM registration_merge m2 JOIN registration g ON g.id = m2.registration_id
		JOIN itinerary_leg l ON l.national_id = m2.kept_id AND l.source = 'self'
			AND l.created_at = g.updated_at
		GROUP BY m2.registration_id) x
	WHERE x.registration_id = m.registration_id;

-- Who a family notice went to (SHA-256 of the number or address), to count
-- the notices one recipient gets.
ALTER TABLE family_notice ADD COLUMN recipient_hash text;
CREATE INDEX family_notice_recipient ON family_notice (recipient_hash, at);

-- Notices one recipient gets per crisis and status (a family with a few
-- members registered apart hears of each), and in a day across crises.
CREATE FUNCTION family_notice_per_status() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 3 $$;
CREATE FUNCTION family_notice_per_day() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 10 $$;

-- What happened, in fixed words by the crisis's kind: a title names places
-- and, in a kidnapping, details no family notice may carry.
CREATE FUNCTION family_crisis_words(p_kind crisis_kind, p_lang text) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_lang = 'ko' THEN CASE p_kind WHEN 'war' THEN '무력 충돌'
			WHEN 'earthquake' THEN '지진' WHEN 'flood' THEN '홍수'
			WHEN 'terrorism' THEN '테러' WHEN 'unrest' THEN '소요 사태'
			WHEN 'epidemic' THEN '감염병' ELSE '안전 관련 상황' END
		ELSE CASE p_kind WHEN 'war' THEN 'armed conflict' WHEN 'earthquake' THEN 'earthquake'
			WHEN 'flood' THEN 'flood' WHEN 'terrorism' THEN 'terrorist attack'
			WHEN 'unrest' THEN 'unrest' WHEN 'epidemic' THEN 'epidemic'
			ELSE 'security incident' END END
$$;

-- The name a family notice may carry: letters (Hangul or Latin) in at most
-- four words and 40 characters, else NULL (the notice then says "your
-- family member"): the name is typed by whoever registers, and a notice
-- must not carry their numbers, links or sentences.
CREATE FUNCTION family_notice_name(p_name text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN length(p_name) <= 40
		AND p_name ~ '^[A-Za-zÀ-ÖØ-öø-ɏ가-힣]+( [A-Za-zÀ-ÖØ-öø-ɏ가-힣]+){0,3}$' THEN p_name END
$$;

-- Queues the notices for (crisis, national, told) rows not told yet: only
-- for a registration whose registrant confirmed a contact, within the
-- recipient's counts (each recipient counted under its own lock, taken in
-- one order, so parallel answers cannot overshoot or deadlock).
CREATE OR REPLACE FUNCTION family_notify(p_rows jsonb) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	w record;
	body text;
	who text;
	what text;
BEGIN
	FOR w IN SELECT x.crisis_id, x.national_id, x.told, x.at, r.family_phone, r.family_email,
			r.family_language AS lang, coalesce(r.family_phone, r.family_email) AS recipient,
			text_sha256(contact_recipient_key(CASE WHEN r.family_phone IS NOT NULL THEN 'phone'
				ELSE 'email' END, coalesce(r.family_phone, r.family_email))) AS recipient_hash,
			n.mission_id, n.name_ko, n.name_latin, m.timezone, c.kind, c.drill
		FROM (SELECT DISTINCT ON (crisis_id, national_id, told)
				(e->>'crisis_id')::bigint AS crisis_id, (e->>'national_id')::bigint AS national_id,
				e->>'told' AS told, (e->>'at')::timestamptz AS at
			FROM jsonb_array_elements(p_rows) e ORDER BY 1, 2, 3) x
		JOIN registration r ON r.national_id = x.national_id AND r.family_consent
			AND (r.family_phone IS NOT NULL OR r.family_email IS NOT NULL)
		JOIN national n ON n.id = x.national_id
		JOIN mission m ON m.id = n.mission_id
		JOIN crisis c ON c.id = x.crisis_id
		-- Someone who never confirmed a contact of their own could be anyone,
		-- writing to any number: nothing goes out for them.
		WHERE EXISTS (SELECT 1 FROM contact ct WHERE ct.national_id = r.national_id AND ct.verified)
			AND NOT EXISTS (SELECT 1 FROM family_notice f WHERE f.crisis_id = x.crisis_id
				AND f.national_id = x.national_id AND f.told = x.told)
		ORDER BY recipient_hash, crisis_id, national_id, told
	LOOP
		PERFORM pg_advisory_xact_lock(hashtextextended('family:' || w.recipient_hash, 0));
		IF (SELECT count(*) FROM family_notice f WHERE f.recipient_hash = w.recipient_hash
				AND f.crisis_id = w.crisis_id AND f.told = w.told) >= family_notice_per_status()
			OR (SELECT count(*) FROM family_notice f WHERE f.recipient_hash = w.recipient_hash
				AND f.at > now() - interval '1 day') >= family_notice_per_day() THEN
			CONTINUE;
		END IF;
		INSERT INTO family_notice (crisis_id, national_id, told, recipient_hash)
			VALUES (w.crisis_id, w.national_id, w.told, w.recipient_hash)
			ON CONFLICT DO NOTHING;
		IF NOT FOUND THEN
			CONTINUE;
		END IF;
		who := family_notice_name(CASE WHEN w.lang = 'ko' THEN coalesce(w.name_ko, w.name_latin)
			ELSE coalesce(w.name_latin, w.name_ko) END);
		what := family_crisis_words(w.kind, w.lang);
		IF w.lang = 'ko' THEN
			who := coalesce(who || '님', '가족분');
			body := '[대사관 안전 확인] ' || CASE WHEN w.told = 'asked' THEN what || ' 관련, ' || who
					|| '께 안전 여부를 묻고 있습니다. 아직 답이 없습니다. 답이 오면 알려 드립니다.'
				WHEN w.told = 'unreachable' THEN who || '의 소식을 아직 듣지 못했습니다. '
					|| '대사관이 계속 연락하고 있습니다.'
				ELSE who || '이 답했습니다: ' || family_status_words(w.told, 'ko') || ' ('
					|| to_char(w.at AT TIME ZONE w.timezone, 'MM"월 "DD"일 "HH24:MI') || ', 현지 시각)' END
				|| CASE WHEN w.drill THEN ' [훈련]' ELSE '' END;
		ELSE
			body := '[Embassy safety check] ' || CASE WHEN w.told = 'asked' THEN 'We have asked '
					|| coalesce(who, 'your family member') || ' whether they are safe (' || what
					|| '). No answer yet; we will tell you when they answer.'
				WHEN w.told = 'unreachable' THEN 'Nothing has been heard from '
					|| coalesce(who, 'your family member')
					|| ' yet. The embassy keeps trying to reach them.'
				ELSE coalesce(who, 'Your family member') || ' answered: '
					|| family_status_words(w.told, 'en') || ', '
					|| to_char(w.at AT TIME ZONE w.timezone, 'DD Mon HH24:MI') || ' local time.' END
				|| CASE WHEN w.drill THEN ' [DRILL]' ELSE '' END;
		END IF;
		INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, language, body, kind)
			VALUES (w.crisis_id, w.national_id, w.mission_id,
				CASE WHEN w.family_phone IS NOT NULL THEN 'sms' ELSE 'email' END,
				w.recipient, w.lang, body, 'family');
	END LOOP;
END
$$;

-- Writes the people, contacts and legs of a registration from its document
-- (checked and normalised by safetyd); used by create and by update.
--   {"kind": "traveller"|"resident", "address", "residence_status", "lat", "lon",
--    "people": [{"name_ko", "name_latin", "name_key", "birth_date", "passport_no",
--                "needs": [], "languages": [], "phones": [], "emails": []}, ...],
--    "legs": [{"country", "place", "region_id", "address", "lat", "lon",
--              "arrival", "departure", "ended", "form_leg"}, ...]}
-- The first person is the one who registered; contacts are theirs. More
-- legs than fit raise SF003 (DETAIL: how many fit).
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
	-- Members taken off the registration are deleted for real (the caller
	-- holds the mission's membership lock: see registration_update).
	DELETE FROM national x WHERE x.household_id = reg.household_id AND x.id <> reg.national_id
		AND x.source = 'self' AND x.deleted_at IS NULL AND x.id <> ALL (kept);
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

-- The mission of the registration a link (or a pending link) opens, read
-- without locking anything, so the membership lock can be taken first.
CREATE FUNCTION registration_link_mission(p_hash text) RETURNS bigint LANGUAGE sql STABLE AS $$
	SELECT r.mission_id FROM registration r WHERE r.manage_hash = p_hash
	UNION ALL
	SELECT r.mission_id FROM registration_link_pending p JOIN registration r ON r.id = p.registration_id
	WHERE p.manage_hash = p_hash
	LIMIT 1
$$;

-- Changes a registration through its management link (or a pending one,
-- which becomes the link). The change and its codes go together: when the
-- codes it needs are over a budget, nothing is changed and the answer is
-- {"outcome": "limit", "retry_after": seconds}. A leg marked "ended" (its
-- departure is past) must be one the registration holds, unchanged, else
-- {"outcome": "leg_ended", "leg": its number on the form}; more legs than
-- fit: {"outcome": "too_many_legs", "fit": how many}.
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
BEGIN
	-- Members taken off are deleted: the mission's membership lock comes
	-- before anything else, as launches, deletions and merges take it.
	PERFORM pg_advisory_xact_lock(hashtextextended('crisis-members:' || mid, 0))
		FROM registration_link_mission(p_manage_hash) mid WHERE mid IS NOT NULL;
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
			IF sent->>'outcome' = 'limit' THEN
				retry := (sent->>'retry_after')::integer;
				RAISE EXCEPTION 'codes over budget' USING ERRCODE = 'SF002';
			END IF;
		END LOOP;
	EXCEPTION WHEN SQLSTATE 'SF002' THEN
		-- Everything in the block is undone: the registration stays as it was.
		RETURN json_build_object('outcome', 'limit', 'retry_after', retry);
	WHEN SQLSTATE 'SF003' THEN
		GET STACKED DIAGNOSTICS fit = PG_EXCEPTION_DETAIL;
		RETURN json_build_object('outcome', 'too_many_legs', 'fit', fit::integer);
	END;
	PERFORM audit_record('self', 'national', reg.mission_id, p_addr, 'registration.update',
		'national', reg.national_id::text, json_build_object('registration_id', reg.id,
		'people', jsonb_array_length(p_doc->'people'),
		'legs', jsonb_array_length(coalesce(p_doc->'legs', '[]')))::text);
	RETURN json_build_object('outcome', 'updated', 'registration_id', reg.id);
END
$$;

-- Deleting through the link (or a pending one): the mission's membership
-- lock first, then the registration, as every deletion of people.
CREATE OR REPLACE FUNCTION registration_delete(p_manage_hash text, p_addr text) RETURNS json
	LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	rid bigint;
	gone integer;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('crisis-members:' || mid, 0))
		FROM registration_link_mission(p_manage_hash) mid WHERE mid IS NOT NULL;
	rid := registration_link_open(p_manage_hash);
	SELECT * INTO reg FROM registration WHERE id = rid FOR UPDATE;
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

-- Merging a registration into the registry's person: not when that person
-- is another registration's registrant (the same person registered twice);
-- a person of another registration's household stays in it; the legs moved
-- are recorded.
CREATE OR REPLACE FUNCTION registration_merge(p_registration bigint, p_mission bigint, p_actor text,
		p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	kept record; -- (NATIONAL is a keyword where a type is expected)
	merged record;
	added bigint[];
	moved bigint[];
	own_household boolean;
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
	-- The same person registered twice: the registry's person is another
	-- registration's registrant, whose row that registration stands on.
	-- Nothing is merged; they are asked to delete one.
	IF EXISTS (SELECT 1 FROM registration g WHERE g.national_id = reg.duplicate_of
			AND g.id <> reg.id) THEN
		RETURN json_build_object('outcome', 'duplicate_is_registration',
			'registration_id', (SELECT g.id FROM registration g
				WHERE g.national_id = reg.duplicate_of));
	END IF;
	SELECT * INTO kept FROM national WHERE id = reg.duplicate_of AND deleted_at IS NULL FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'nothing_to_merge');
	END IF;
	-- Someone travelling with another registrant stays in that household:
	-- moving them out would take them from that registration unsaid.
	own_household := EXISTS (SELECT 1 FROM registration g WHERE g.household_id = kept.household_id
		AND g.id <> reg.id);
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
	-- Which ones is recorded, so an undo moves back those and no other.
	WITH mv AS (UPDATE itinerary_leg l SET national_id = kept.id, seq = x.seq
		FROM (SELECT id, (SELECT coalesce(max(seq), 0) FROM itinerary_leg WHERE national_id = kept.id)
				+ row_number() OVER (ORDER BY seq) AS seq
			FROM itinerary_leg WHERE national_id = reg.national_id AND source = 'self') x
		WHERE l.id = x.id AND x.seq <= 20 RETURNING l.id)
		SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO moved FROM mv;
	UPDATE national n SET
			kind = CASE WHEN n.kind = 'resident' OR r.kind = 'resident' THEN 'resident'
				ELSE 'traveller' END::national_kind,
			arrival_date = CASE WHEN n.kind = 'resident' THEN n.arrival_date
				WHEN r.kind = 'resident' THEN r.arrival_date
				ELSE least(n.arrival_date, r.arrival_date) END,
			departure_date = CASE WHEN n.kind = 'resident' THEN n.departure_date
				WHEN r.kind = 'resident' THEN r.departure_date
				ELSE greatest(n.departure_date, r.departure_date) END,
			household_id = CASE WHEN own_household THEN n.household_id ELSE reg.household_id END,
			updated_at = now()
		FROM national r WHERE r.id = reg.national_id AND n.id = kept.id
		RETURNING n.kind, n.arrival_date, n.departure_date, n.household_id INTO merged;
	INSERT INTO registration_merge (registration_id, kept_id, registrant_id, before, after,
			added_contacts, merged_by, moved_legs)
		VALUES (reg.id, kept.id, reg.national_id, jsonb_build_object('kind', kept.kind,
			'arrival_date', kept.arrival_date, 'departure_date', kept.departure_date,
			'household_id', kept.household_id, 'last_point_source', kept.last_point_source,
			'verified', (SELECT coalesce(jsonb_agg(c.id), '[]') FROM contact c
				WHERE c.national_id = kept.id AND c.verified)),
			jsonb_build_object('kind', merged.kind, 'arrival_date', merged.arrival_date,
				'departure_date', merged.departure_date, 'household_id', merged.household_id),
			added, p_actor, moved);
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

-- Undoing a merge moves back the legs the merge moved, not the kept
-- person's own.
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
	-- The legs the merge moved, and only those: the kept person's own legs
	-- (as someone travelling with another registrant) stay theirs. (A merge
	-- recorded none only when made before they were recorded.)
	UPDATE itinerary_leg l SET national_id = m.registrant_id, seq = x.seq
		FROM (SELECT id, (SELECT coalesce(max(seq), 0) FROM itinerary_leg
				WHERE national_id = m.registrant_id) + row_number() OVER (ORDER BY seq) AS seq
			FROM itinerary_leg WHERE national_id = m.kept_id AND source = 'self'
				AND (m.moved_legs IS NULL OR id = ANY (m.moved_legs))) x
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

-- The registrations staff see; a likely duplicate that is another
-- registration's registrant names that registration.
CREATE OR REPLACE FUNCTION registration_list(p_mission bigint, p_limit integer) RETURNS json
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
					'birth_date', d.birth_date, 'source', d.source,
					-- Another registration's registrant: the same person registered
					-- twice, which a merge cannot join.
					'registration_id', (SELECT g.id FROM registration g
						WHERE g.national_id = d.id AND g.id <> r.id))
				FROM national d WHERE d.id = r.duplicate_of) END AS duplicate_of
		FROM registration r JOIN national n ON n.id = r.national_id
		LEFT JOIN registration_merge mg ON mg.registration_id = r.id
		WHERE (p_mission IS NULL OR r.mission_id = p_mission)
		ORDER BY r.created_at DESC LIMIT p_limit) x
$$;

-- Partners' itineraries: a traveller the registry already had is placed by
-- the file's legs as a new one is (see the top of this file).
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
