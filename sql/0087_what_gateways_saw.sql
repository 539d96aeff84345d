-- What a gateway saw of a message: route health counts only those, and a
-- gateway's acceptance of a message still being sent is kept. And the
-- indexes for a claim that takes crises in turn.
--
-- route_health_refresh counted every failed message of the window as a
-- failed delivery, also those no gateway ever saw: asks failed because their
-- crisis closed, their person answered, their check-in was cancelled, their
-- person was deleted or their plan superseded. Closing a crisis while its
-- asks waited for the rate limit marked healthy SMS prefixes degraded for
-- route_window, and the next crisis asked people by e-mail first. Now a
-- failed message counts only when a gateway refused it or reported it
-- undelivered (gateway_failed, set by the dispatcher's outcome write and by
-- the delivery report that fails it) or it had been sent; messages withdrawn
-- before any gateway took them count neither as attempted nor as failed.
--
-- A gateway's report that it took a message (Kannel's "accepted by the
-- SMSC", Twilio's "sent") that came while the send was still under way
-- matched nothing and was dropped; when the gateway's HTTP answer then came
-- past send_timeout_ms the message was sent again, and the person asked
-- twice. The report is now kept on the message (accepted_at), and the send's
-- outcome, a timeout too, is then "sent"; so is a claim of a process that
-- died after the report, instead of being sent again.

ALTER TABLE outbox ADD COLUMN gateway_failed boolean NOT NULL DEFAULT false;
COMMENT ON COLUMN outbox.gateway_failed IS
	'failed by a gateway: it refused the message or reported it undelivered (not withdrawn unsent)';
ALTER TABLE outbox ADD COLUMN accepted_at timestamptz;
COMMENT ON COLUMN outbox.accepted_at IS
	'when a gateway reported taking the message while its send was still under way';

-- The newest definition (0073), with messages no gateway saw left out.
CREATE OR REPLACE FUNCTION route_health_refresh(p_window integer, p_grace integer, p_min_share real,
		p_min_samples integer) RETURNS integer LANGUAGE sql AS $$
	WITH recent AS (SELECT o.channel, route_prefix(o.channel, o.recipient) AS prefix, o.state,
			o.sent_at, o.delivered_at,
			o.state = 'sent' AND o.driver IN ('smtp', 'log') AS accepted
		FROM outbox o WHERE o.created_at > now() - make_interval(secs => p_window)
			AND (o.state IN ('sent', 'delivered')
				OR (o.state = 'failed' AND (o.gateway_failed OR o.sent_at IS NOT NULL)))),
	agg AS (SELECT channel, prefix, count(*) AS attempted,
			count(*) FILTER (WHERE state = 'delivered' OR accepted) AS delivered,
			count(*) FILTER (WHERE state = 'failed' OR (state = 'sent' AND NOT accepted
				AND sent_at < now() - make_interval(secs => p_grace))) AS failed,
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - sent_at))
				FILTER (WHERE delivered_at IS NOT NULL) AS median_s
		FROM recent GROUP BY channel, prefix),
	up AS (INSERT INTO route_health AS h (channel, prefix, attempted, delivered, failed, delivered_share,
			median_delivery_s, degraded, reason, updated_at)
		SELECT channel, prefix, attempted, delivered, failed,
			CASE WHEN delivered + failed > 0 THEN delivered::real / (delivered + failed) ELSE 1 END,
			median_s,
			delivered + failed >= p_min_samples
				AND delivered::real / greatest(delivered + failed, 1) < p_min_share,
			CASE WHEN delivered + failed >= p_min_samples
				AND delivered::real / greatest(delivered + failed, 1) < p_min_share
				THEN format('%s of %s recent messages to %s* %s (below %s%%): sending by the next channel first',
					delivered, delivered + failed, prefix,
					CASE WHEN channel = 'email' THEN 'accepted' ELSE 'delivered' END,
					round((p_min_share * 100)::numeric))
				ELSE '' END, now()
		FROM agg
		ON CONFLICT (channel, prefix) DO UPDATE SET attempted = excluded.attempted,
			delivered = excluded.delivered, failed = excluded.failed,
			delivered_share = excluded.delivered_share, median_delivery_s = excluded.median_delivery_s,
			degraded = excluded.degraded, reason = excluded.reason, updated_at = now()
		RETURNING 1),
	-- Routes with no traffic in the window recover.
	old AS (UPDATE route_health SET degraded = false, reason = '', updated_at = now()
		WHERE degraded AND updated_at < now() - make_interval(secs => p_window) RETURNING 1)
	SELECT (SELECT count(*)::integer FROM up) + (SELECT count(*)::integer FROM old)
$$;

-- The claim takes plan messages, registration codes, links and family
-- notices first, then the check-in asks of every crisis in turn (it was one
-- queue per channel, oldest first, so a large campaign held back the asks of
-- a crisis declared after it, and every plan message and code, by its whole
-- backlog). The crises with asks waiting are found by a skip scan of
-- outbox_due_checkin, one probe each, and each crisis's oldest asks by the
-- same index.
CREATE INDEX outbox_due_checkin ON outbox (channel, crisis_id, next_attempt_at, id)
	WHERE state = 'queued' AND kind = 'checkin' AND crisis_id IS NOT NULL;
CREATE INDEX outbox_due_other ON outbox (channel, next_attempt_at, id)
	WHERE state = 'queued' AND (kind <> 'checkin' OR crisis_id IS NULL);
