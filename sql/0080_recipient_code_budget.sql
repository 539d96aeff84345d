-- A recipient's five codes an hour are a budget like the others: once
-- spent (by anyone, as a stranger can spend them), contact_code_send
-- answers 'limit' with the seconds until the next code can go, not 'wait'
-- (one a minute), marked "scope": "recipient". A new registration then has
-- its codes held and its page says when to ask; a change is saved with that
-- code held (a stranger who spends a number's codes must not stop its owner
-- from changing anything); asking for a new code is answered 429 with when. Before, the registrant was told
-- to enter a code that was never sent, and to wait a minute for up to an
-- hour.

-- Sends a new code to a contact of a registration, within the limits
-- p_limits = {"per_registration": N, "per_address": N, "per_hour": N} (an
-- hour each; per_address counts p_addr_key, the client's address key, and
-- is skipped when that is NULL), and five an hour per recipient. Returns
-- {"outcome": "sent" | "wait" (one a minute per contact) | "limit" (a
-- budget is spent; "retry_after" seconds; "scope": "recipient" when it is
-- the recipient's) | "verified" | "unknown"}.
CREATE OR REPLACE FUNCTION contact_code_send(p_contact bigint, p_addr_key text, p_limits jsonb)
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
	-- A budget like the others: an hour, not a minute, may pass before the
	-- next code, so the caller holds the code and says when. Anyone can
	-- spend it (a stranger typing the number), so it is marked: a change of
	-- the registration is saved with that code held, never refused for it.
	SELECT count(*), min(s.sent_at) INTO counted, oldest FROM code_send s
		WHERE s.recipient_hash = recipient AND s.sent_at > now() - interval '1 hour';
	IF counted >= 5 THEN
		RETURN json_build_object('outcome', 'limit', 'retry_after', send_window_retry(oldest),
			'scope', 'recipient');
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
