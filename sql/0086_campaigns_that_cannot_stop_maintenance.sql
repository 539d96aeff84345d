-- A campaign without a text, a launch that races a close, and a maintenance
-- run that one failure stopped for every mission.
--
-- The API took "templates": {} (no text in either language). campaign_render
-- then gave NULL, and every message to such a campaign's people failed
-- outbox.body's NOT NULL: its launch failed with a raw error when anyone was
-- inside, and once someone came into its area later, their join failed on
-- every try. As safetyd's maintenance run was one statement, that one error
-- rolled back all of it, each time: re-asks, people given up as unreachable
-- and arrivals stopped for every crisis of every mission, and a registry
-- import of anyone inside the area failed too. safetyd now refuses such
-- templates; a campaign stored before asks in the other language's text, or
-- else in the launch's own default words, which carry the reply link.
--
-- Each step of the maintenance run (answers' places, re-asks, arrivals, and
-- the join queue of each mission) now runs in a block of its own: one that
-- fails is rolled back alone, with a WARNING naming it and the error (safetyd
-- logs it as db_notice), and the others go on. When the re-asks fail
-- together, each crisis is re-asked alone, so one crisis's fault holds back
-- no other's.
--
-- A launch read its crisis's state without a lock: one that read "active"
-- while a close was being committed went on after it and left a running
-- campaign, people asked and statuses pending in a closed crisis, answered
-- 201. campaign_start now holds the crisis FOR SHARE, as re-asks and joins
-- do: it waits for a close under way (which holds the row FOR UPDATE) and
-- then refuses a crisis that is no longer active, and a close that comes
-- during a launch waits for it and then cancels what it asked.

-- The newest definition (0060), never NULL: the template of the person's
-- language, else the other one's, else the launch's default text.
CREATE OR REPLACE FUNCTION campaign_render(templates jsonb, lang text, name text, crisis_title text,
		drill boolean) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN drill THEN CASE WHEN lang = 'ko' THEN '[훈련] ' ELSE '[DRILL] ' END ELSE '' END
		|| replace(replace(replace(replace(coalesce(nullif(templates ->> lang, ''),
			nullif(templates ->> 'en', ''), nullif(templates ->> 'ko', ''),
			CASE WHEN lang = 'ko'
				THEN '[대한민국 대사관] {name}님, {crisis} 관련 안전 확인입니다. 아래 링크 또는 문자로 '
					'답해 주세요: {link} ({keywords})'
				ELSE '[Embassy of the Republic of Korea] {name}, are you safe after {crisis}? '
					'Answer here: {link} or by SMS ({keywords})' END),
			'{link}', E'\x1fLINK\x1f'), '{name}', coalesce(name, '')),
			'{crisis}', crisis_title),
			'{keywords}', CASE WHEN lang = 'ko'
				THEN '1 안전 / 2 도움 필요 / 3 부상 / 4 대피 필요'
				ELSE '1 safe / 2 need help / 3 injured / 4 need evacuation' END)
$$;

-- The newest definition (0004), with the crisis held FOR SHARE until commit.
CREATE OR REPLACE FUNCTION campaign_start(p_crisis bigint, p_mission bigint, p_templates jsonb,
		p_channels text[], p_reask integer, p_rounds integer, p_actor text, p_role text,
		p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	cid bigint;
	asked bigint;
	queued bigint;
BEGIN
	-- A close under way is waited for, and the state read after it.
	PERFORM 1 FROM crisis c WHERE c.id = p_crisis AND c.state = 'active' FOR SHARE;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	INSERT INTO campaign (crisis_id, mission_id, templates, channels, reask_interval_s, rounds,
			launched_by)
		SELECT c.id, cm.mission_id, p_templates, p_channels, p_reask, p_rounds, p_actor
		FROM crisis c JOIN crisis_mission cm ON cm.crisis_id = c.id AND cm.mission_id = p_mission
		WHERE c.id = p_crisis AND c.state = 'active'
		RETURNING id INTO cid;
	IF cid IS NULL THEN
		RETURN NULL;
	END IF;
	SELECT checkins, messages INTO asked, queued FROM campaign_launch(cid);
	PERFORM audit_record(p_actor, p_role, p_mission, p_addr, 'campaign.launch', 'campaign',
		cid::text, json_build_object('crisis_id', p_crisis, 'asked', asked,
		'messages', queued, 'channels', p_channels)::text);
	-- Dispatchers on every safetyd wake up now rather than at their next poll.
	PERFORM pg_notify('outbox', cid::text);
	RETURN json_build_object('id', cid, 'crisis_id', p_crisis, 'mission_id', p_mission,
		'asked', asked, 'messages', queued);
END
$$;

-- The newest definition of campaign_escalate() (0060), for one crisis
-- (p_crisis) or, NULL, for all.
CREATE FUNCTION campaign_escalate(p_crisis bigint) RETURNS TABLE (reasked bigint, unreachable bigint)
	LANGUAGE plpgsql AS $$
DECLARE
	crises bigint[];
	people bigint[];
	name_mark constant text := '{name ' || gen_random_uuid() || '}';
BEGIN
	-- A crisis being closed is skipped (its close fails what is queued); one
	-- held here makes its close wait until the new asks are committed.
	IF p_crisis IS NULL THEN
		SELECT array_agg(x.crisis_id), array_agg(x.national_id) INTO crises, people
			FROM (SELECT k.crisis_id, k.national_id FROM checkin k JOIN crisis c ON c.id = k.crisis_id
				WHERE k.state = 'asked' AND k.next_ask_at <= now() AND c.state = 'active'
				ORDER BY k.next_ask_at LIMIT 50000
				FOR UPDATE OF k SKIP LOCKED FOR SHARE OF c SKIP LOCKED) x;
	ELSE
		SELECT array_agg(x.crisis_id), array_agg(x.national_id) INTO crises, people
			FROM (SELECT k.crisis_id, k.national_id FROM checkin k JOIN crisis c ON c.id = k.crisis_id
				WHERE k.crisis_id = p_crisis AND k.state = 'asked' AND k.next_ask_at <= now()
					AND c.state = 'active'
				ORDER BY k.next_ask_at LIMIT 50000
				FOR UPDATE OF k SKIP LOCKED FOR SHARE OF c SKIP LOCKED) x;
	END IF;
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

-- Every crisis's re-asks, as before.
CREATE OR REPLACE FUNCTION campaign_escalate() RETURNS TABLE (reasked bigint, unreachable bigint)
	LANGUAGE sql AS $$
	SELECT * FROM campaign_escalate(NULL::bigint)
$$;

-- The newest definition (0077), each step in a block of its own: one that
-- fails is rolled back alone and named in a WARNING, and the others go on.
-- When the re-asks fail together, each crisis is re-asked alone; the join
-- queue is drained a mission at a time.
CREATE OR REPLACE FUNCTION maintenance_run() RETURNS TABLE (reasked bigint, unreachable bigint,
		arrived integer, joined integer) LANGUAGE plpgsql AS $$
DECLARE
	e record;
	crisis_due bigint;
	mission_queued bigint;
BEGIN
	IF NOT pg_try_advisory_xact_lock(7311520013) THEN
		RETURN;
	END IF;
	reasked := 0;
	unreachable := 0;
	arrived := 0;
	joined := 0;
	BEGIN
		PERFORM reply_locations_drain();
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'maintenance: writing the places of answers failed: % (SQLSTATE %)',
			SQLERRM, SQLSTATE;
	END;
	BEGIN
		SELECT * INTO e FROM campaign_escalate();
		reasked := coalesce(e.reasked, 0);
		unreachable := coalesce(e.unreachable, 0);
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'maintenance: the re-asks failed: % (SQLSTATE %); each crisis is re-asked alone',
			SQLERRM, SQLSTATE;
		FOR crisis_due IN SELECT DISTINCT k.crisis_id FROM checkin k JOIN crisis c ON c.id = k.crisis_id
				WHERE k.state = 'asked' AND k.next_ask_at <= now() AND c.state = 'active'
				ORDER BY 1 LOOP
			BEGIN
				SELECT * INTO e FROM campaign_escalate(crisis_due);
				reasked := reasked + coalesce(e.reasked, 0);
				unreachable := unreachable + coalesce(e.unreachable, 0);
			EXCEPTION WHEN OTHERS THEN
				RAISE WARNING 'maintenance: the re-asks of crisis % failed: % (SQLSTATE %)',
					crisis_due, SQLERRM, SQLSTATE;
			END;
		END LOOP;
	END;
	BEGIN
		arrived := arrivals_join_crises();
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'maintenance: queueing the people whose trip began failed: % (SQLSTATE %)',
			SQLERRM, SQLSTATE;
	END;
	-- A join that fails leaves its mission's people queued, for the next run.
	FOR mission_queued IN SELECT DISTINCT j.mission_id FROM join_pending j ORDER BY 1 LOOP
		BEGIN
			joined := joined + join_pending_drain(mission_queued);
		EXCEPTION WHEN OTHERS THEN
			RAISE WARNING 'maintenance: joining the people queued for mission % failed: % (SQLSTATE %)',
				mission_queued, SQLERRM, SQLSTATE;
		END;
	END LOOP;
	RETURN NEXT;
END
$$;
