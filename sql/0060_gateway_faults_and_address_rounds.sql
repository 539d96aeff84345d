-- Sending when gateways fail, and re-asks that go through a person's addresses.
--
-- A gateway that fails as a whole (login refused, wrong URL, down) no longer
-- uses up a message's attempts: safetyd keeps the message queued, counts the
-- send in route_faults instead, and pauses the channel. Only a refusal of the
-- recipient fails a message for good, and then that address is recorded for
-- the check-in and skipped by later rounds.
--
-- Each re-ask goes to the person's next address in the campaign's order
-- (every phone for SMS, then every e-mail, each kind by confirmed first,
-- then priority), wrapping around, instead of the same first contact of
-- the next channel. A round never goes at once to the address whose ask has
-- just failed: it waits the re-ask interval.
--
-- The language of a message is decided by national_message_language alone.
-- Names go into re-asks as into launches (after the template is rendered),
-- and campaign_render stores the template's {link} as a marker that no name
-- can hold (so every caller, a late joiner's first ask too, gets it).
-- A re-ask run holds its crises FOR SHARE, so a close waits for it (and then
-- fails its new messages) or it skips a crisis being closed.

ALTER TABLE outbox ADD COLUMN route_faults smallint NOT NULL DEFAULT 0;

CREATE TABLE checkin_address_failed (
	crisis_id bigint NOT NULL,
	national_id bigint NOT NULL,
	channel text NOT NULL,
	recipient text NOT NULL,
	error text,
	failed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (crisis_id, national_id, channel, recipient),
	FOREIGN KEY (crisis_id, national_id) REFERENCES checkin (crisis_id, national_id) ON DELETE CASCADE
);

-- The language messages to a national are written in: Korean when their
-- languages include it, English when they list others only; a Korean name
-- decides only when no language is recorded.
CREATE FUNCTION national_message_language(p_languages text[], p_name_ko text) RETURNS text
	LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE WHEN cardinality(coalesce(p_languages, '{}')) > 0
		THEN CASE WHEN 'ko' = ANY (p_languages) THEN 'ko' ELSE 'en' END
		WHEN p_name_ko IS NOT NULL AND btrim(p_name_ko) <> '' THEN 'ko' ELSE 'en' END
$$;

-- Renders a template for one person. The template's {link} becomes the
-- marker safetyd puts the reply link at (U+001F LINK U+001F: names, titles
-- and templates cannot hold control characters), so a "{link}" inside a
-- name or a title is written as it is. It is replaced first for the same
-- reason.
CREATE OR REPLACE FUNCTION campaign_render(templates jsonb, lang text, name text, crisis_title text,
		drill boolean) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN drill THEN CASE WHEN lang = 'ko' THEN '[훈련] ' ELSE '[DRILL] ' END ELSE '' END
		|| replace(replace(replace(replace(coalesce(templates ->> lang, templates ->> 'en',
			templates ->> 'ko'), '{link}', E'\x1fLINK\x1f'), '{name}', coalesce(name, '')),
			'{crisis}', crisis_title),
			'{keywords}', CASE WHEN lang = 'ko'
				THEN '1 안전 / 2 도움 필요 / 3 부상 / 4 대피 필요'
				ELSE '1 safe / 2 need help / 3 injured / 4 need evacuation' END)
$$;

-- The newest definition (0004); the preview shows {link} where the link goes.
CREATE OR REPLACE FUNCTION campaign_preview(p_crisis bigint, p_mission bigint, p_templates jsonb,
		p_channels text[]) RETURNS json LANGUAGE sql STABLE AS $$
	WITH c AS (SELECT * FROM crisis WHERE id = p_crisis),
	targets AS (SELECT t.national_id, t.region_id FROM crisis_targets(p_crisis, p_mission) t
		WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = p_crisis
			AND k.national_id = t.national_id)),
	route AS (SELECT DISTINCT ON (t.national_id) t.national_id, ch.channel
		FROM targets t, unnest(p_channels) WITH ORDINALITY AS ch(channel, i)
			JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)
		WHERE ct.national_id = t.national_id ORDER BY t.national_id, ch.i)
	SELECT json_build_object(
		'people', (SELECT count(*) FROM targets),
		'unreachable', (SELECT count(*) FROM targets t WHERE NOT EXISTS
			(SELECT 1 FROM route r WHERE r.national_id = t.national_id)),
		'by_channel', (SELECT coalesce(json_object_agg(channel, n), '{}'::json) FROM
			(SELECT channel, count(*) AS n FROM route GROUP BY channel) x),
		'by_region', (SELECT coalesce(json_agg(json_build_object('region_id', x.region_id,
			'code', r.code, 'name', r.name, 'count', x.n) ORDER BY x.n DESC), '[]'::json) FROM
			(SELECT region_id, count(*) AS n FROM targets GROUP BY region_id) x
			LEFT JOIN region r ON r.id = x.region_id),
		'preview', (SELECT json_object_agg(l, replace(campaign_render(p_templates, l,
			CASE WHEN l = 'ko' THEN '홍길동' ELSE 'HONG GILDONG' END, c.title, c.drill),
			E'\x1fLINK\x1f', '{link}'))
			FROM c, unnest(ARRAY['ko', 'en']) AS l))
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
				national_message_language(t.languages, t.name_ko) AS lang,
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

-- The newest definition (0038), with the crises held FOR SHARE, the rounds
-- going through the person's addresses, a failed address not asked again at
-- once, the language by national_message_language and the name put in after
-- rendering.
CREATE OR REPLACE FUNCTION campaign_escalate() RETURNS TABLE (reasked bigint, unreachable bigint)
	LANGUAGE plpgsql AS $$
DECLARE
	crises bigint[];
	people bigint[];
	name_mark constant text := '{name ' || gen_random_uuid() || '}';
BEGIN
	-- A crisis being closed is skipped (its close fails what is queued); one
	-- held here makes its close wait until the new asks are committed.
	SELECT array_agg(x.crisis_id), array_agg(x.national_id) INTO crises, people
		FROM (SELECT k.crisis_id, k.national_id FROM checkin k JOIN crisis c ON c.id = k.crisis_id
			WHERE k.state = 'asked' AND k.next_ask_at <= now() AND c.state = 'active'
			ORDER BY k.next_ask_at LIMIT 50000
			FOR UPDATE OF k SKIP LOCKED FOR SHARE OF c SKIP LOCKED) x;
	IF crises IS NULL THEN
		RETURN QUERY SELECT 0::bigint, 0::bigint;
		RETURN;
	END IF;
	RETURN QUERY
	WITH cand AS (SELECT k.*, cp.channels, cp.rounds, cp.reask_interval_s, cp.templates, c.title, c.drill,
				(SELECT max(CASE WHEN o.state IN ('queued', 'sending') THEN now()
						ELSE o.sent_at END) + make_interval(secs => cp.reask_interval_s)
					FROM outbox o WHERE o.crisis_id = k.crisis_id
						AND o.national_id = k.national_id AND o.kind = 'checkin'
						-- A failed ask does not hold the next one back; it is why the next one is due.
						AND (o.state IN ('queued', 'sending')
							OR (o.state IN ('sent', 'delivered')
								AND o.sent_at > now() - make_interval(secs => cp.reask_interval_s))))
					AS held_until,
				l.channel AS last_channel, l.recipient AS last_recipient, l.state AS last_state,
				l.at AS last_at
			FROM unnest(crises, people) AS u(crisis_id, national_id)
			JOIN checkin k ON k.crisis_id = u.crisis_id AND k.national_id = u.national_id
			JOIN campaign cp ON cp.id = k.campaign_id JOIN crisis c ON c.id = k.crisis_id
			-- The last ask: the round after it goes to the address after its own.
			LEFT JOIN LATERAL (SELECT o.channel, o.recipient, o.state,
					greatest(o.claimed_at, o.sent_at, o.created_at) AS at
				FROM outbox o WHERE o.crisis_id = k.crisis_id AND o.national_id = k.national_id
					AND o.kind = 'checkin' ORDER BY o.id DESC LIMIT 1) l ON true
			WHERE k.state = 'asked' AND k.next_ask_at <= now() AND c.state = 'active'),
	held AS (UPDATE checkin k SET next_ask_at = h.held_until FROM cand h
		WHERE h.held_until IS NOT NULL AND k.crisis_id = h.crisis_id AND k.national_id = h.national_id
		RETURNING 1),
	due AS (SELECT * FROM cand WHERE held_until IS NULL),
	-- Every address of each person due, in the campaign's order: its channels
	-- in turn, each one's contacts confirmed first, then by priority.
	addr AS (SELECT d.crisis_id, d.national_id, ch.i AS channel_index, ch.channel, ct.value AS recipient,
			row_number() OVER w AS pos, count(*) OVER (PARTITION BY d.crisis_id, d.national_id) AS n,
			EXISTS (SELECT 1 FROM checkin_address_failed f WHERE f.crisis_id = d.crisis_id
				AND f.national_id = d.national_id AND f.channel = ch.channel
				AND f.recipient = ct.value) AS refused
		FROM due d, unnest(d.channels) WITH ORDINALITY AS ch(channel, i)
			JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)
		WHERE ct.national_id = d.national_id AND d.round < d.rounds
		WINDOW w AS (PARTITION BY d.crisis_id, d.national_id ORDER BY ch.i, ct.verified DESC, ct.priority, ct.id)),
	lastpos AS (SELECT d.crisis_id, d.national_id,
			coalesce((SELECT min(a.pos) FROM addr a WHERE a.crisis_id = d.crisis_id
				AND a.national_id = d.national_id AND a.channel = d.last_channel
				AND a.recipient = d.last_recipient), 0) AS pos
		FROM due d),
	pick AS (SELECT DISTINCT ON (d.crisis_id, d.national_id) d.crisis_id, d.national_id, d.mission_id,
			d.campaign_id, a.channel_index, a.channel, a.recipient,
			national_message_language(n.languages, n.name_ko) AS lang,
			n.name_ko, n.name_latin, d.templates, d.title, d.drill, d.reask_interval_s,
			-- The address whose ask has just failed is not asked again before the interval.
			CASE WHEN d.last_state = 'failed' AND a.channel = d.last_channel
					AND a.recipient = d.last_recipient
					AND d.last_at + make_interval(secs => d.reask_interval_s) > now()
				THEN d.last_at + make_interval(secs => d.reask_interval_s) END AS wait_until
		FROM due d JOIN national n ON n.id = d.national_id
			JOIN addr a ON a.crisis_id = d.crisis_id AND a.national_id = d.national_id AND NOT a.refused
			JOIN lastpos lp ON lp.crisis_id = d.crisis_id AND lp.national_id = d.national_id
		-- the address after the last one asked, wrapping around
		ORDER BY d.crisis_id, d.national_id, route_degraded(a.channel, a.recipient),
			(a.pos - lp.pos - 1 + a.n) % a.n),
	put_off AS (UPDATE checkin k SET next_ask_at = p.wait_until FROM pick p
		WHERE p.wait_until IS NOT NULL AND k.crisis_id = p.crisis_id AND k.national_id = p.national_id
		RETURNING 1),
	nxt AS (SELECT * FROM pick WHERE wait_until IS NULL),
	again AS (UPDATE checkin k SET round = k.round + 1, channel_index = x.channel_index,
			asked_at = now(), next_ask_at = now() + make_interval(secs => x.reask_interval_s)
		FROM nxt x WHERE k.crisis_id = x.crisis_id AND k.national_id = x.national_id
		RETURNING k.crisis_id),
	ob AS (INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient,
			language, body)
		SELECT x.crisis_id, x.campaign_id, x.national_id, x.mission_id, x.channel, x.recipient, x.lang,
			replace(campaign_render(x.templates, x.lang, name_mark, x.title, x.drill),
				name_mark, CASE WHEN x.lang = 'ko' THEN coalesce(x.name_ko, x.name_latin, '')
					ELSE coalesce(x.name_latin, x.name_ko, '') END)
		FROM nxt x RETURNING 1),
	gone AS (UPDATE checkin k SET state = 'unreachable' FROM due d
		WHERE k.crisis_id = d.crisis_id AND k.national_id = d.national_id
			AND NOT EXISTS (SELECT 1 FROM pick x WHERE x.crisis_id = d.crisis_id
				AND x.national_id = d.national_id)
		RETURNING 1)
	SELECT (SELECT count(*) FROM again), (SELECT count(*) FROM gone)
		FROM (SELECT count(*) FROM ob) o, (SELECT count(*) FROM held) h, (SELECT count(*) FROM put_off) p;
END
$$;
