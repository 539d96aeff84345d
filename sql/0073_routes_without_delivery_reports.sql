-- E-mail routes are judged by what their servers accept.
--
-- A message sent route_grace seconds ago without a delivery report counted
-- as undelivered, which is right for an SMS gateway that reports delivery (a
-- carrier that swallows messages reports nothing) but wrong for a driver
-- that never reports: SMTP (an accepted message is all a sender learns) and
-- the log driver. Ten minutes into a crisis every busy e-mail domain showed
-- "0 of N delivered" and was marked degraded, sending its people's messages
-- by the next channel first. Now a message such a driver sent counts as
-- delivered (accepted), so an e-mail domain is degraded by its refusals
-- (bounced addresses, a refusing server), and its reason says "accepted".

-- The newest definition (0004), with the drivers that never report.
CREATE OR REPLACE FUNCTION route_health_refresh(p_window integer, p_grace integer, p_min_share real,
		p_min_samples integer) RETURNS integer LANGUAGE sql AS $$
	WITH recent AS (SELECT o.channel, route_prefix(o.channel, o.recipient) AS prefix, o.state,
			o.sent_at, o.delivered_at,
			o.state = 'sent' AND o.driver IN ('smtp', 'log') AS accepted
		FROM outbox o WHERE o.created_at > now() - make_interval(secs => p_window)
			AND o.state IN ('sent', 'delivered', 'failed')),
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
