-- Limits on what the public registration pages can make safetyd send, and a
-- lost link that can neither be used to probe for a number nor to take a
-- working link away from its holder.
--
-- Codes: besides one a minute per contact and five an hour per recipient,
-- a registration, a client address (IPv4 as is, IPv6 by its /64, the key of
-- the rate limiter) and the whole system each have an hourly budget, so no
-- stream of changes can pump messages to numbers an attacker chooses. An
-- e-mail recipient is counted by its mailbox (lower case, "+tag" dropped),
-- while the code still goes to the address as typed.
--
-- Lost links: requests are counted per typed contact and per client
-- address whether or not the contact is registered, in a counter of their
-- own, so neither the answer nor any count a stranger can reach depends on
-- who is registered, and no stranger uses up the codes a holder needs. The
-- new link is pending: the old one keeps working until the new one is
-- first used, so a request from someone else disables nothing.

-- Who sent the code and for which registration, to count them.
-- (No foreign key: a deleted registration's sends still count for the hour.)
ALTER TABLE code_send ADD COLUMN registration_id bigint;
ALTER TABLE code_send ADD COLUMN addr_hash text;
CREATE INDEX code_send_registration ON code_send (registration_id, sent_at);
CREATE INDEX code_send_addr ON code_send (addr_hash, sent_at);
CREATE INDEX code_send_sent_at ON code_send (sent_at);

-- Lost-link requests, by SHA-256 of "addr:" and the client's address key or
-- of "contact:" and the contact asked for; kept a day.
CREATE TABLE lost_link_request (
	key_hash text NOT NULL,
	at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lost_link_request_key ON lost_link_request (key_hash, at);

-- New management links asked for at /register/lost and not used yet (the
-- SHA-256 of each). The first one used replaces the registration's link.
CREATE TABLE registration_link_pending (
	manage_hash text PRIMARY KEY CHECK (manage_hash ~ '^[0-9a-f]{64}$'),
	registration_id bigint NOT NULL REFERENCES registration (id) ON DELETE CASCADE,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registration_link_pending_registration ON registration_link_pending (registration_id);

-- Days a pending link can still be used.
CREATE FUNCTION registration_link_pending_days() RETURNS integer LANGUAGE sql IMMUTABLE AS $$
	SELECT 7
$$;

-- What one recipient is counted as: an e-mail address by its mailbox
-- (lower case, without a "+tag" in the local part), anything else as it is.
CREATE FUNCTION contact_recipient_key(p_kind text, p_value text) RETURNS text
	LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN p_kind = 'email' AND position('@' IN p_value) > 1 THEN
			lower(coalesce(nullif(split_part(x.local, '+', 1), ''), x.local)) || '@' || lower(x.domain)
		ELSE p_value END
	FROM (SELECT left(p_value, length(p_value) - position('@' IN reverse(p_value))) AS local,
		right(p_value, position('@' IN reverse(p_value)) - 1) AS domain) x
$$;

-- Seconds until the oldest of the sends counted in the last hour leaves the window.
CREATE FUNCTION send_window_retry(p_oldest timestamptz) RETURNS integer LANGUAGE sql STABLE AS $$
	SELECT greatest(1, ceil(3600 - extract(epoch FROM now() - coalesce(p_oldest, now()))))::integer
$$;

-- The registration a management link opens, or NULL. A pending link, on
-- its first use, becomes the registration's link: the old one and every
-- other pending one stop working then, not before.
CREATE FUNCTION registration_link_open(p_hash text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	rid bigint;
BEGIN
	SELECT id INTO rid FROM registration WHERE manage_hash = p_hash;
	IF FOUND THEN
		RETURN rid;
	END IF;
	SELECT registration_id INTO rid FROM registration_link_pending
		WHERE manage_hash = p_hash
			AND created_at > now() - make_interval(days => registration_link_pending_days());
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	PERFORM 1 FROM registration WHERE id = rid FOR UPDATE;
	-- Another pending link of the registration may have been used meanwhile.
	IF NOT EXISTS (SELECT 1 FROM registration_link_pending WHERE manage_hash = p_hash) THEN
		RETURN NULL;
	END IF;
	UPDATE registration SET manage_hash = p_hash, updated_at = now() WHERE id = rid;
	DELETE FROM registration_link_pending WHERE registration_id = rid;
	RETURN rid;
END
$$;

-- Sends a new code to a contact of a registration, within the limits
-- p_limits = {"per_registration": N, "per_address": N, "per_hour": N} (an
-- hour each; per_address counts p_addr_key, the client's address key, and
-- is skipped when that is NULL). Returns {"outcome": "sent" | "wait" (one a
-- minute per contact, five an hour per recipient) | "limit" (a budget is
-- spent; "retry_after" seconds) | "verified" | "unknown"}.
CREATE FUNCTION contact_code_send(p_contact bigint, p_addr_key text, p_limits jsonb)
	RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	c record;
	code text;
	salt text := gen_random_uuid()::text;
	recipient text;
	addr text := CASE WHEN p_addr_key IS NOT NULL THEN text_sha256('addr:' || p_addr_key) END;
	oldest timestamptz;
	counted bigint;
BEGIN
	SELECT ct.id, ct.kind, ct.value, ct.verified, n.mission_id, n.id AS national_id, r.language,
			r.id AS registration_id
		INTO c FROM contact ct JOIN national n ON n.id = ct.national_id
		JOIN registration r ON r.household_id = n.household_id
		WHERE ct.id = p_contact AND ct.kind IN ('phone', 'email');
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'unknown');
	ELSIF c.verified THEN
		RETURN json_build_object('outcome', 'verified');
	END IF;
	recipient := text_sha256(contact_recipient_key(c.kind, c.value));
	-- Counted under locks, always taken in this order (registration, address,
	-- all codes, recipient), so parallel asks cannot overshoot or deadlock.
	PERFORM pg_advisory_xact_lock(hashtextextended('codes:registration:' || c.registration_id, 0));
	IF addr IS NOT NULL THEN
		PERFORM pg_advisory_xact_lock(hashtextextended('codes:' || addr, 0));
	END IF;
	PERFORM pg_advisory_xact_lock(hashtextextended('codes:all', 0));
	PERFORM pg_advisory_xact_lock(hashtextextended('send:' || recipient, 0));
	IF EXISTS (SELECT 1 FROM contact_code k WHERE k.contact_id = p_contact
			AND k.sent_at > now() - interval '60 seconds') THEN
		RETURN json_build_object('outcome', 'wait');
	END IF;
	SELECT count(*), min(s.sent_at) INTO counted, oldest FROM code_send s
		WHERE s.registration_id = c.registration_id AND s.sent_at > now() - interval '1 hour';
	IF counted >= (p_limits->>'per_registration')::integer THEN
		RETURN json_build_object('outcome', 'limit', 'retry_after', send_window_retry(oldest));
	END IF;
	IF addr IS NOT NULL THEN
		SELECT count(*), min(s.sent_at) INTO counted, oldest FROM code_send s
			WHERE s.addr_hash = addr AND s.sent_at > now() - interval '1 hour';
		IF counted >= (p_limits->>'per_address')::integer THEN
			RETURN json_build_object('outcome', 'limit', 'retry_after', send_window_retry(oldest));
		END IF;
	END IF;
	-- The whole system's budget: only as many rows as the budget are read.
	SELECT count(*), min(x.sent_at) INTO counted, oldest FROM (SELECT s.sent_at FROM code_send s
		WHERE s.sent_at > now() - interval '1 hour' ORDER BY s.sent_at DESC
		LIMIT (p_limits->>'per_hour')::integer) x;
	IF counted >= (p_limits->>'per_hour')::integer THEN
		RETURN json_build_object('outcome', 'limit', 'retry_after', send_window_retry(oldest));
	END IF;
	IF (SELECT count(*) FROM code_send s WHERE s.recipient_hash = recipient
			AND s.sent_at > now() - interval '1 hour') >= 5 THEN
		RETURN json_build_object('outcome', 'wait');
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
	INSERT INTO code_send (recipient_hash, registration_id, addr_hash)
		VALUES (recipient, c.registration_id, addr);
	INSERT INTO outbox (national_id, mission_id, channel, recipient, language, body, kind)
		VALUES (c.national_id, c.mission_id, CASE c.kind WHEN 'phone' THEN 'sms' ELSE 'email' END,
			c.value, c.language,
			CASE c.language WHEN 'ko' THEN '[재외국민 등록] 확인 코드: ' || code
				|| ' (' || contact_code_minutes() || '분 안에 입력하세요. 요청하지 않았다면 무시하세요.)'
			ELSE '[Overseas registration] Your code: ' || code || ' (enter it within '
				|| contact_code_minutes() || ' minutes; ignore this if you did not ask for it)' END,
			'code');
	PERFORM pg_notify('outbox', 'code');
	RETURN json_build_object('outcome', 'sent');
END
$$;

-- The budgets a caller that names none gets (an older safetyd during an upgrade).
CREATE FUNCTION contact_code_default_limits() RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT '{"per_registration": 8, "per_address": 20, "per_hour": 2000}'::jsonb
$$;

-- The former entry point, now within the same budgets ('limit' reads as 'wait').
CREATE OR REPLACE FUNCTION contact_code_issue(p_contact bigint) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	sent json := contact_code_send(p_contact, NULL, contact_code_default_limits());
BEGIN
	RETURN CASE WHEN sent->>'outcome' = 'limit' THEN 'wait' ELSE sent->>'outcome' END;
END
$$;

-- A new registration, after consent: 'limit' when this address (p_addr_key:
-- IPv4 as is, IPv6 by /64) made too many today, else the registration.
-- Codes go out at once within p_code_limits; "codes_held" says some could
-- not (the contacts are kept, to confirm later), "retry_after" when.
CREATE FUNCTION registration_create(p_mission bigint, p_manage_hash text, p_language text,
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
	PERFORM audit_record('self', 'national', p_mission, p_addr, 'registration.create',
		'national', nid::text, json_build_object('registration_id', rid,
		'people', jsonb_array_length(p_doc->'people'),
		'legs', jsonb_array_length(coalesce(p_doc->'legs', '[]')))::text);
	RETURN json_build_object('outcome', 'created', 'registration_id', rid, 'national_id', nid,
		'codes_held', retry IS NOT NULL, 'retry_after', retry);
END
$$;

-- Changes a registration through its management link (or a pending one,
-- which becomes the link). The change and its codes go together: when the
-- codes it needs are over a budget, nothing is changed and the answer is
-- {"outcome": "limit", "retry_after": seconds}.
CREATE FUNCTION registration_update(p_manage_hash text, p_doc jsonb, p_addr text,
		p_addr_key text, p_code_limits jsonb) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	rid bigint := registration_link_open(p_manage_hash);
	ct record;
	sent json;
	retry integer;
BEGIN
	SELECT * INTO reg FROM registration WHERE id = rid FOR UPDATE;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'unknown');
	END IF;
	-- Joined with the registry's own record: that record is the embassy's to change.
	IF EXISTS (SELECT 1 FROM registration_merge WHERE registration_id = reg.id) THEN
		RETURN json_build_object('outcome', 'merged');
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
	END;
	PERFORM audit_record('self', 'national', reg.mission_id, p_addr, 'registration.update',
		'national', reg.national_id::text, json_build_object('registration_id', reg.id,
		'people', jsonb_array_length(p_doc->'people'),
		'legs', jsonb_array_length(coalesce(p_doc->'legs', '[]')))::text);
	RETURN json_build_object('outcome', 'updated', 'registration_id', reg.id);
END
$$;

-- Deleting through a pending link works as through the link itself.
CREATE OR REPLACE FUNCTION registration_delete(p_manage_hash text, p_addr text) RETURNS json
	LANGUAGE plpgsql AS $$
DECLARE
	reg registration;
	rid bigint := registration_link_open(p_manage_hash);
	gone integer;
BEGIN
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

-- A lost link. Each request is counted against the client's address key
-- and against every form the typed contact may stand for (p_values: a
-- national number read with each mission's country), whether or not any is
-- registered; over p_per_address or p_per_contact in an hour the answer is
-- {"outcome": "limit", "retry_after": seconds}, for a stranger's number as
-- for a registered one. Otherwise, when a confirmed contact matches, a new
-- link (p_new_hash) is sent to it and kept pending: the old link works
-- until the new one is used. The answer is {"outcome": "done"} either way.
CREATE FUNCTION registration_relink(p_kind text, p_values text[], p_new_hash text, p_link text,
		p_addr_key text, p_per_address integer, p_per_contact integer)
	RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	r record;
	k text;
	keys text[];
	addr text := CASE WHEN p_addr_key IS NOT NULL THEN text_sha256('addr:' || p_addr_key) END;
	oldest timestamptz;
	counted bigint;
BEGIN
	SELECT array_agg(DISTINCT text_sha256('contact:' || contact_recipient_key(p_kind, v)))
		INTO keys FROM unnest(p_values) v;
	-- Counted under locks taken in one order (the address, then the
	-- contacts sorted), so parallel requests cannot overshoot or deadlock.
	IF addr IS NOT NULL THEN
		PERFORM pg_advisory_xact_lock(hashtextextended('lost:' || addr, 0));
		SELECT count(*), min(q.at) INTO counted, oldest FROM lost_link_request q
			WHERE q.key_hash = addr AND q.at > now() - interval '1 hour';
		IF counted >= p_per_address THEN
			RETURN json_build_object('outcome', 'limit', 'retry_after', send_window_retry(oldest));
		END IF;
	END IF;
	FOREACH k IN ARRAY coalesce(keys, '{}') LOOP
		PERFORM pg_advisory_xact_lock(hashtextextended('lost:' || k, 0));
	END LOOP;
	SELECT max(c.n), min(c.oldest) FILTER (WHERE c.n >= p_per_contact) INTO counted, oldest FROM (
		SELECT count(*) AS n, min(q.at) AS oldest FROM lost_link_request q
		WHERE q.key_hash = ANY (keys) AND q.at > now() - interval '1 hour'
		GROUP BY q.key_hash) c;
	IF counted >= p_per_contact THEN
		RETURN json_build_object('outcome', 'limit', 'retry_after', send_window_retry(oldest));
	END IF;
	INSERT INTO lost_link_request (key_hash)
		SELECT x FROM unnest(array_append(coalesce(keys, '{}'), addr)) x WHERE x IS NOT NULL;
	DELETE FROM lost_link_request WHERE at < now() - interval '1 day';
	DELETE FROM registration_link_pending
		WHERE created_at < now() - make_interval(days => registration_link_pending_days());
	SELECT reg.id, ct.kind, ct.value, n.id AS national_id, n.mission_id, reg.language INTO r
		FROM contact ct JOIN registration reg ON reg.national_id = ct.national_id
		JOIN national n ON n.id = reg.national_id
		WHERE ct.kind = p_kind AND ct.value = ANY (p_values) AND ct.verified
		ORDER BY reg.updated_at DESC LIMIT 1;
	IF NOT FOUND THEN
		RETURN json_build_object('outcome', 'done');
	END IF;
	INSERT INTO registration_link_pending (manage_hash, registration_id) VALUES (p_new_hash, r.id);
	INSERT INTO outbox (national_id, mission_id, channel, recipient, language, body, kind)
		VALUES (r.national_id, r.mission_id, CASE r.kind WHEN 'phone' THEN 'sms' ELSE 'email' END,
			r.value, r.language,
			CASE r.language WHEN 'ko' THEN '[재외국민 등록] 등록을 보고 고치거나 지우는 링크입니다. '
				|| '다른 사람에게 알려 주지 마세요: ' || p_link
			ELSE '[Overseas registration] Your link to see, change or delete your registration '
				|| '(keep it to yourself): ' || p_link END, 'link');
	PERFORM pg_notify('outbox', 'link');
	RETURN json_build_object('outcome', 'done');
END
$$;

-- The former entry point (an older safetyd during an upgrade): the same
-- counters and a pending link, without an address.
CREATE OR REPLACE FUNCTION registration_relink(p_kind text, p_values text[], p_new_hash text,
		p_link text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	PERFORM registration_relink(p_kind, p_values, p_new_hash, p_link, NULL, 10, 3);
END
$$;
