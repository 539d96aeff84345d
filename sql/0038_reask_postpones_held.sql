-- A check-in whose ask is still waiting to be sent is put off by the re-ask
-- interval instead of being looked at again on every run. With a slow channel
-- and a long queue (300,000 asks at a few SMS a second), every run used to
-- rescan all of them and probe the outbox for each: about 355 ms every
-- escalate_interval, for nothing. An ask sent meanwhile is due at its send
-- time plus the interval, which is never earlier than the postponed time; one
-- sent recently is put off until exactly then. A failed ask still makes the
-- check-in due at once (the outcome writers set next_ask_at = now()).
--
-- The check-ins due are locked by one statement and what holds them back is
-- read by the next, whose snapshot sees every outcome committed meanwhile: a
-- send failing (which makes its check-in due at once) while the run waited
-- for its locks is not put off by the interval.
CREATE OR REPLACE FUNCTION campaign_escalate() RETURNS TABLE (reasked bigint, unreachable bigint)
	LANGUAGE plpgsql AS $$
DECLARE
	crises bigint[];
	people bigint[];
BEGIN
	SELECT array_agg(x.crisis_id), array_agg(x.national_id) INTO crises, people
		FROM (SELECT k.crisis_id, k.national_id FROM checkin k JOIN crisis c ON c.id = k.crisis_id
			WHERE k.state = 'asked' AND k.next_ask_at <= now() AND c.state = 'active'
			ORDER BY k.next_ask_at LIMIT 50000 FOR UPDATE OF k SKIP LOCKED) x;
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
					AS held_until
			FROM unnest(crises, people) AS l(crisis_id, national_id)
			JOIN checkin k ON k.crisis_id = l.crisis_id AND k.national_id = l.national_id
			JOIN campaign cp ON cp.id = k.campaign_id JOIN crisis c ON c.id = k.crisis_id
			WHERE k.state = 'asked' AND k.next_ask_at <= now() AND c.state = 'active'),
	held AS (UPDATE checkin k SET next_ask_at = h.held_until FROM cand h
		WHERE h.held_until IS NOT NULL AND k.crisis_id = h.crisis_id AND k.national_id = h.national_id
		RETURNING 1),
	due AS (SELECT * FROM cand WHERE held_until IS NULL),
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
	SELECT (SELECT count(*) FROM again), (SELECT count(*) FROM gone)
		FROM (SELECT count(*) FROM ob) o, (SELECT count(*) FROM held) h;
END
$$;
