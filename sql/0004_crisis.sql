-- Crises, check-in campaigns, the outbox every message goes through, and
-- the replies that come back.

CREATE TYPE crisis_kind AS ENUM ('war', 'earthquake', 'flood', 'terrorism', 'unrest', 'epidemic',
	'kidnapping', 'other');
CREATE TYPE crisis_state AS ENUM ('proposed', 'active', 'closed', 'dismissed');

CREATE TABLE crisis (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind crisis_kind NOT NULL,
	title text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
	description text CHECK (length(description) <= 10000),
	severity smallint NOT NULL DEFAULT 3 CHECK (severity BETWEEN 1 AND 5),
	state crisis_state NOT NULL DEFAULT 'active',
	-- A rehearsal: every message says so, and HQ's figures keep it apart.
	drill boolean NOT NULL DEFAULT false,
	-- The affected area: a polygon, or a circle (centre and radius).
	area geography(MultiPolygon, 4326),
	center geography(Point, 4326),
	radius_m double precision CHECK (radius_m > 0 AND radius_m <= 5000000),
	started_at timestamptz NOT NULL DEFAULT now(),
	closed_at timestamptz,
	source text NOT NULL DEFAULT 'manual' CHECK (source IN ('manual', 'cap', 'usgs', 'gdacs')),
	source_ref text,
	created_by text NOT NULL DEFAULT '',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT crisis_has_an_area CHECK (area IS NOT NULL OR (center IS NOT NULL AND radius_m IS NOT NULL)),
	UNIQUE (source, source_ref)
);
CREATE INDEX crisis_state ON crisis (state);

-- The missions a crisis involves; mission staff see the crises of their mission.
CREATE TABLE crisis_mission (
	crisis_id bigint NOT NULL REFERENCES crisis (id),
	mission_id bigint NOT NULL REFERENCES mission (id),
	-- Nationals of the mission inside the area when it was proposed or declared.
	affected integer NOT NULL DEFAULT 0,
	PRIMARY KEY (crisis_id, mission_id)
);
CREATE INDEX crisis_mission_mission ON crisis_mission (mission_id);

-- Is a point inside a crisis's area (polygon or circle)?
CREATE FUNCTION crisis_covers(c crisis, p geography) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN c.area IS NOT NULL THEN ST_Intersects(c.area, p)
		ELSE ST_DWithin(c.center, p, c.radius_m) END
$$;

CREATE TABLE campaign (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	crisis_id bigint NOT NULL REFERENCES crisis (id),
	mission_id bigint NOT NULL REFERENCES mission (id),
	-- Message templates by language: {"ko": "...", "en": "..."}; placeholders
	-- {name}, {crisis}, {link}, {keywords}.
	templates jsonb NOT NULL,
	-- Channels in order of preference: sms, email (each served by a driver).
	channels text[] NOT NULL CHECK (channels <@ ARRAY['sms', 'email'] AND cardinality(channels) >= 1),
	reask_interval_s integer NOT NULL DEFAULT 1800 CHECK (reask_interval_s BETWEEN 10 AND 604800),
	rounds smallint NOT NULL DEFAULT 3 CHECK (rounds BETWEEN 1 AND 10),
	state text NOT NULL DEFAULT 'running' CHECK (state IN ('running', 'done', 'cancelled')),
	targeted integer NOT NULL DEFAULT 0,
	launched_by text NOT NULL DEFAULT '',
	launched_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaign_crisis ON campaign (crisis_id);

CREATE TYPE checkin_state AS ENUM ('asked', 'answered', 'unreachable', 'cancelled');

-- One per (crisis, national): when asked, how often, over which channel.
CREATE TABLE checkin (
	crisis_id bigint NOT NULL REFERENCES crisis (id),
	national_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	mission_id bigint NOT NULL,
	campaign_id bigint NOT NULL REFERENCES campaign (id),
	state checkin_state NOT NULL DEFAULT 'asked',
	round smallint NOT NULL DEFAULT 1,
	-- Index into the campaign's channels of the channel used last.
	channel_index smallint NOT NULL DEFAULT 1,
	asked_at timestamptz NOT NULL DEFAULT now(),
	next_ask_at timestamptz NOT NULL,
	answered_at timestamptz,
	PRIMARY KEY (crisis_id, national_id)
);
CREATE INDEX checkin_due ON checkin (next_ask_at) WHERE state = 'asked';
CREATE INDEX checkin_campaign ON checkin (campaign_id, state);

CREATE TYPE outbox_state AS ENUM ('queued', 'sending', 'sent', 'delivered', 'failed');

-- Every outbound message. Dispatchers claim rows with FOR UPDATE SKIP LOCKED,
-- so several safetyd processes share the work without sending twice.
CREATE TABLE outbox (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	crisis_id bigint REFERENCES crisis (id),
	campaign_id bigint REFERENCES campaign (id),
	national_id bigint REFERENCES national (id) ON DELETE CASCADE,
	mission_id bigint REFERENCES mission (id),
	-- sms or email; the driver is chosen by configuration (kannel, twilio, smtp, log).
	channel text NOT NULL CHECK (channel IN ('sms', 'email')),
	recipient text NOT NULL,
	language text NOT NULL DEFAULT 'ko',
	-- The text with {link} still in it: the reply link is made when sent.
	body text NOT NULL,
	state outbox_state NOT NULL DEFAULT 'queued',
	attempts smallint NOT NULL DEFAULT 0,
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	claimed_by text,
	claimed_at timestamptz,
	driver text,
	provider_id text,
	parts smallint,
	last_error text,
	sent_at timestamptz,
	delivered_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX outbox_sending ON outbox (claimed_at) WHERE state = 'sending';
CREATE INDEX outbox_national ON outbox (crisis_id, national_id);
CREATE INDEX outbox_provider ON outbox (driver, provider_id) WHERE provider_id IS NOT NULL;

-- Every reply as received, append-only.
CREATE TABLE response (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	crisis_id bigint REFERENCES crisis (id),
	national_id bigint REFERENCES national (id) ON DELETE CASCADE,
	mission_id bigint REFERENCES mission (id),
	channel text NOT NULL CHECK (channel IN ('sms', 'web', 'email', 'staff')),
	sender text,
	raw_text text CHECK (length(raw_text) <= 2000),
	status text,
	headcount smallint,
	point geography(Point, 4326),
	-- The provider's message id: the same message delivered twice is stored once.
	provider_ref text,
	entered_by text,
	received_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (channel, provider_ref)
);
CREATE INDEX response_crisis ON response (crisis_id, national_id, received_at);

-- The nationals of a mission inside a crisis's area today: the registry's
-- indexed spatial query, for a polygon or a circle.
CREATE FUNCTION crisis_targets(p_crisis bigint, p_mission bigint)
	RETURNS TABLE (national_id bigint, region_id bigint) LANGUAGE sql STABLE AS $$
	SELECT t.national_id, t.region_id FROM crisis c,
		LATERAL nationals_in_area(p_mission, c.area, current_date) t
	WHERE c.id = p_crisis AND c.area IS NOT NULL
	UNION ALL
	SELECT t.national_id, t.region_id FROM crisis c,
		LATERAL nationals_near(p_mission, c.center, c.radius_m, current_date) t
	WHERE c.id = p_crisis AND c.area IS NULL
$$;

-- The contact kind that serves a channel.
CREATE FUNCTION channel_contact_kind(channel text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE channel WHEN 'sms' THEN 'phone' WHEN 'email' THEN 'email' END
$$;

-- Renders a template for one person; {link} stays for the dispatcher.
CREATE FUNCTION campaign_render(templates jsonb, lang text, name text, crisis_title text,
		drill boolean) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN drill THEN CASE WHEN lang = 'ko' THEN '[훈련] ' ELSE '[DRILL] ' END ELSE '' END
		|| replace(replace(replace(coalesce(templates ->> lang, templates ->> 'en',
			templates ->> 'ko'), '{name}', coalesce(name, '')), '{crisis}', crisis_title),
			'{keywords}', CASE WHEN lang = 'ko'
				THEN '1 안전 / 2 도움 필요 / 3 부상 / 4 대피 필요'
				ELSE '1 safe / 2 need help / 3 injured / 4 need evacuation' END)
$$;

-- Adaptive routing: how well each route (channel and destination prefix,
-- the first digits of the number: country and mobile operator block) has
-- delivered lately. A route whose share of delivered messages falls below
-- the threshold is degraded: new messages to its numbers go first to the
-- next channel, and the reason is kept for the dashboard.
CREATE TABLE route_health (
	channel text NOT NULL,
	prefix text NOT NULL,
	attempted integer NOT NULL,
	delivered integer NOT NULL,
	failed integer NOT NULL,
	delivered_share real NOT NULL,
	median_delivery_s real,
	degraded boolean NOT NULL,
	reason text NOT NULL DEFAULT '',
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (channel, prefix)
);

-- The route of a recipient: SMS numbers by their first five characters
-- (+9053: a Turkish mobile block, +8210: Korean mobiles), e-mail by domain.
CREATE FUNCTION route_prefix(channel text, recipient text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN channel = 'sms' THEN left(recipient, 5) ELSE split_part(recipient, '@', 2) END
$$;

CREATE FUNCTION route_degraded(p_channel text, p_recipient text) RETURNS boolean LANGUAGE sql STABLE AS $$
	SELECT coalesce((SELECT h.degraded FROM route_health h WHERE h.channel = p_channel
		AND h.prefix = route_prefix(p_channel, p_recipient)), false)
$$;

-- Recomputes every route's figures over the last p_window seconds. A message
-- counts as delivered with a delivery report, as failed when it failed,
-- and as undelivered when sent longer ago than p_grace seconds without a
-- report (a carrier that swallows messages reports nothing).
CREATE FUNCTION route_health_refresh(p_window integer, p_grace integer, p_min_share real,
		p_min_samples integer) RETURNS integer LANGUAGE sql AS $$
	WITH recent AS (SELECT o.channel, route_prefix(o.channel, o.recipient) AS prefix, o.state,
			o.sent_at, o.delivered_at
		FROM outbox o WHERE o.created_at > now() - make_interval(secs => p_window)
			AND o.state IN ('sent', 'delivered', 'failed')),
	agg AS (SELECT channel, prefix, count(*) AS attempted,
			count(*) FILTER (WHERE state = 'delivered') AS delivered,
			count(*) FILTER (WHERE state = 'failed' OR (state = 'sent'
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
				THEN format('%s of %s recent messages to %s* delivered (below %s%%): sending by the next channel first',
					delivered, delivered + failed, prefix, round((p_min_share * 100)::numeric))
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

-- Launches a campaign in one statement: the check-ins and the first message
-- of every national in the area who has not been asked yet, over the first
-- channel of the campaign they can be reached on.
CREATE FUNCTION campaign_launch(p_campaign bigint) RETURNS TABLE (checkins bigint, messages bigint)
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
		-- a degraded route goes after every healthy one
		ORDER BY n.id, route_degraded(ch.channel, ct.value), ch.i, ct.priority, ct.id),
	-- Nobody to write to: straight onto the call list.
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

-- The escalation step: who has not answered by next_ask_at is asked again
-- over the next channel they can be reached on; after the last round their
-- check-in becomes unreachable and they go to the staff call list.
CREATE FUNCTION campaign_escalate() RETURNS TABLE (reasked bigint, unreachable bigint)
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
			ct.priority, ct.id),
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

-- The counts a campaign launch would produce, without sending anything:
-- people by channel and by region, who cannot be reached, and a preview of
-- the message in each language.
CREATE FUNCTION campaign_preview(p_crisis bigint, p_mission bigint, p_templates jsonb,
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
		'preview', (SELECT json_object_agg(l, campaign_render(p_templates, l,
			CASE WHEN l = 'ko' THEN '홍길동' ELSE 'HONG GILDONG' END, c.title, c.drill))
			FROM c, unnest(ARRAY['ko', 'en']) AS l))
$$;

-- Creates a campaign and launches it in one transaction; the answer says
-- how many people were asked and how many messages queued.
CREATE FUNCTION campaign_start(p_crisis bigint, p_mission bigint, p_templates jsonb,
		p_channels text[], p_reask integer, p_rounds integer, p_actor text, p_role text,
		p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	cid bigint;
	asked bigint;
	queued bigint;
BEGIN
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

-- Closing a crisis stops its messages and its re-asking.
CREATE FUNCTION crisis_close(p_crisis bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE outbox SET state = 'failed', last_error = 'crisis closed'
		WHERE crisis_id = p_crisis AND state = 'queued';
	UPDATE checkin SET state = 'cancelled' WHERE crisis_id = p_crisis AND state = 'asked';
	UPDATE campaign SET state = 'done' WHERE crisis_id = p_crisis AND state = 'running';
$$;

-- Declares an active crisis over a GeoJSON polygon or a circle, for some
-- missions, and counts each mission's nationals inside; NULL when a mission
-- does not exist.
CREATE FUNCTION crisis_declare(p_kind crisis_kind, p_title text, p_description text,
		p_severity smallint, p_drill boolean, p_area_geojson text, p_lat double precision,
		p_lon double precision, p_radius_m double precision, p_missions bigint[], p_actor text,
		p_role text, p_actor_mission bigint, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	cid bigint;
BEGIN
	IF (SELECT count(*) FROM mission WHERE id = ANY (p_missions)) <>
			cardinality(ARRAY(SELECT DISTINCT unnest(p_missions))) THEN
		RETURN NULL;
	END IF;
	INSERT INTO crisis (kind, title, description, severity, drill, area, center, radius_m, created_by)
		VALUES (p_kind, p_title, p_description, p_severity, p_drill,
			CASE WHEN p_area_geojson IS NOT NULL
				THEN ST_Multi(ST_MakeValid(ST_GeomFromGeoJSON(p_area_geojson)))::geography END,
			CASE WHEN p_area_geojson IS NULL
				THEN ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326)::geography END,
			CASE WHEN p_area_geojson IS NULL THEN p_radius_m END, p_actor)
		RETURNING id INTO cid;
	INSERT INTO crisis_mission (crisis_id, mission_id)
		SELECT DISTINCT cid, m FROM unnest(p_missions) AS m;
	UPDATE crisis_mission cm SET affected = (SELECT count(*) FROM crisis_targets(cid, cm.mission_id))
		WHERE cm.crisis_id = cid;
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr, 'crisis.declare', 'crisis',
		cid::text, json_build_object('title', p_title, 'drill', p_drill,
		'missions', p_missions)::text);
	RETURN json_build_object('id', cid, 'missions', (SELECT json_agg(json_build_object(
		'mission_id', mission_id, 'affected', affected) ORDER BY mission_id)
		FROM crisis_mission WHERE crisis_id = cid));
END
$$;

-- Changes a crisis the caller's mission is part of (NULL: every mission);
-- NULL when there is no such crisis or the change is not allowed (a closed
-- crisis stays closed).
CREATE FUNCTION crisis_update(p_crisis bigint, p_mission bigint, p_title text, p_description text,
		p_severity smallint, p_state crisis_state, p_actor text, p_role text,
		p_actor_mission bigint, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	old crisis;
BEGIN
	SELECT * INTO old FROM crisis c WHERE c.id = p_crisis AND (p_mission IS NULL OR EXISTS (
		SELECT 1 FROM crisis_mission cm WHERE cm.crisis_id = c.id AND cm.mission_id = p_mission))
		FOR UPDATE;
	IF NOT FOUND OR old.state IN ('closed', 'dismissed') THEN
		RETURN NULL;
	END IF;
	IF p_state = 'dismissed' AND old.state <> 'proposed' THEN
		RETURN NULL;
	END IF;
	UPDATE crisis SET title = coalesce(p_title, title), description = coalesce(p_description, description),
		severity = coalesce(p_severity, severity), state = coalesce(p_state, state),
		closed_at = CASE WHEN p_state IN ('closed', 'dismissed') THEN now() ELSE closed_at END,
		updated_at = now()
		WHERE id = p_crisis;
	IF p_state IN ('closed', 'dismissed') THEN
		PERFORM crisis_close(p_crisis);
	END IF;
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr,
		CASE WHEN p_state = 'closed' THEN 'crisis.close' WHEN p_state = 'dismissed'
			THEN 'crisis.dismiss' WHEN p_state = 'active' AND old.state = 'proposed'
			THEN 'crisis.confirm' ELSE 'crisis.update' END,
		'crisis', p_crisis::text, json_build_object('before', json_build_object('state',
		old.state, 'severity', old.severity), 'after', json_build_object('state',
		coalesce(p_state, old.state), 'severity', coalesce(p_severity, old.severity)))::text);
	RETURN json_build_object('id', p_crisis, 'state', coalesce(p_state, old.state));
END
$$;
