-- Headquarters' feed: when each count last moved, the events of a crisis
-- (declared, campaign launched, thresholds crossed, closed), and the
-- documents the feed serves, built from the incremental counts only.

ALTER TABLE status_count ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now();

CREATE OR REPLACE FUNCTION person_status_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO status_count AS s (crisis_id, mission_id, region_id, status, n)
		SELECT crisis_id, mission_id, coalesce(region_id, 0), status, count(*)
		FROM new_rows GROUP BY 1, 2, 3, 4
		ON CONFLICT (crisis_id, mission_id, region_id, status)
		DO UPDATE SET n = s.n + excluded.n, updated_at = now();
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION person_status_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO status_count AS s (crisis_id, mission_id, region_id, status, n)
		SELECT crisis_id, mission_id, region_id, status, sum(n) FROM (
			SELECT crisis_id, mission_id, coalesce(region_id, 0) AS region_id, status, -1 AS n
			FROM old_rows
			UNION ALL
			SELECT crisis_id, mission_id, coalesce(region_id, 0), status, 1 FROM new_rows) d
		GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
		ON CONFLICT (crisis_id, mission_id, region_id, status)
		DO UPDATE SET n = s.n + excluded.n, updated_at = now();
	RETURN NULL;
END
$$;

-- What answered means in every figure of the feed.
CREATE FUNCTION status_answered(s text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
	SELECT s IN ('safe', 'needs_help', 'injured', 'needs_evacuation', 'evacuated')
$$;

CREATE TABLE crisis_event (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	crisis_id bigint NOT NULL REFERENCES crisis (id),
	-- 0: the crisis as a whole.
	mission_id bigint NOT NULL DEFAULT 0,
	kind text NOT NULL CHECK (kind IN ('declared', 'severity_changed', 'closed',
		'campaign_launched', 'first_help_request', 'answered_50', 'answered_90', 'plan_published')),
	detail jsonb NOT NULL DEFAULT '{}',
	at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX crisis_event_crisis ON crisis_event (crisis_id, id);
CREATE INDEX crisis_event_at ON crisis_event (id DESC);
-- A threshold is crossed once per crisis and mission.
CREATE UNIQUE INDEX crisis_event_once ON crisis_event (crisis_id, mission_id, kind)
	WHERE kind IN ('declared', 'closed', 'first_help_request', 'answered_50', 'answered_90');

CREATE FUNCTION crisis_event_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('safety_feed', c::text) FROM (SELECT DISTINCT crisis_id AS c FROM changed) x;
	RETURN NULL;
END
$$;
CREATE TRIGGER crisis_event_notify AFTER INSERT ON crisis_event
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION crisis_event_notify();

-- Declared (created active, or a proposal confirmed), severity changed, closed.
CREATE FUNCTION crisis_state_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.state = 'active' AND (TG_OP = 'INSERT' OR OLD.state = 'proposed') THEN
		INSERT INTO crisis_event (crisis_id, kind, detail)
			VALUES (NEW.id, 'declared', jsonb_build_object('severity', NEW.severity, 'drill', NEW.drill))
			ON CONFLICT DO NOTHING;
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.state = 'active' AND OLD.state = 'active' AND NEW.severity <> OLD.severity THEN
		INSERT INTO crisis_event (crisis_id, kind, detail)
			VALUES (NEW.id, 'severity_changed', jsonb_build_object('from', OLD.severity, 'to', NEW.severity));
	END IF;
	IF TG_OP = 'UPDATE' AND NEW.state = 'closed' AND OLD.state <> 'closed' THEN
		INSERT INTO crisis_event (crisis_id, kind) VALUES (NEW.id, 'closed') ON CONFLICT DO NOTHING;
	END IF;
	PERFORM pg_notify('safety_feed', NEW.id::text);
	RETURN NULL;
END
$$;
CREATE TRIGGER crisis_state_events AFTER INSERT OR UPDATE ON crisis
	FOR EACH ROW EXECUTE FUNCTION crisis_state_events();

CREATE FUNCTION campaign_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO crisis_event (crisis_id, mission_id, kind, detail)
		VALUES (NEW.crisis_id, NEW.mission_id, 'campaign_launched',
			jsonb_build_object('campaign_id', NEW.id, 'channels', NEW.channels));
	RETURN NULL;
END
$$;
CREATE TRIGGER campaign_events AFTER INSERT ON campaign
	FOR EACH ROW EXECUTE FUNCTION campaign_events();

-- Thresholds, checked per statement on the counts it touched: the first
-- call for help, half and nine in ten of the people asked answered.
CREATE FUNCTION status_count_thresholds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO crisis_event (crisis_id, mission_id, kind, detail)
		SELECT t.crisis_id, t.mission_id, k.kind,
			jsonb_build_object('people', t.total, 'answered', t.answered, 'needing_help', t.help)
		FROM (SELECT s.crisis_id, s.mission_id, sum(s.n) AS total,
				coalesce(sum(s.n) FILTER (WHERE status_answered(s.status)), 0) AS answered,
				coalesce(sum(s.n) FILTER (WHERE s.status IN ('needs_help', 'injured',
					'needs_evacuation')), 0) AS help
			FROM status_count s
			WHERE (s.crisis_id, s.mission_id) IN (SELECT DISTINCT crisis_id, mission_id FROM changed)
			GROUP BY 1, 2) t
		CROSS JOIN LATERAL (VALUES ('first_help_request', t.help > 0),
			('answered_50', t.total > 0 AND t.answered * 2 >= t.total),
			('answered_90', t.total > 0 AND t.answered * 10 >= t.total * 9)) AS k(kind, crossed)
		WHERE k.crossed
			AND NOT EXISTS (SELECT 1 FROM crisis_event e WHERE e.crisis_id = t.crisis_id
				AND e.mission_id = t.mission_id AND e.kind = k.kind)
		ON CONFLICT DO NOTHING;
	RETURN NULL;
END
$$;
CREATE TRIGGER status_count_thresholds_insert AFTER INSERT ON status_count
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION status_count_thresholds();
CREATE TRIGGER status_count_thresholds_update AFTER UPDATE ON status_count
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION status_count_thresholds();

-- One mission's part of a crisis in the feed (schema: docs/feed/status.schema.json).
CREATE FUNCTION feed_mission_json(p_crisis bigint, p_mission bigint) RETURNS json
	LANGUAGE sql STABLE AS $$
	WITH sc AS (SELECT region_id, status, n, updated_at FROM status_count
		WHERE crisis_id = p_crisis AND mission_id = p_mission AND n > 0),
	t AS (SELECT coalesce(sum(n), 0) AS total,
		coalesce(sum(n) FILTER (WHERE status_answered(status)), 0) AS answered,
		coalesce(sum(n) FILTER (WHERE status = 'evacuated'), 0) AS evacuated,
		max(updated_at) AS last_update FROM sc)
	SELECT json_build_object('mission_id', m.id, 'code', m.code, 'name', m.name,
		'affected', cm.affected, 'people', t.total, 'answered', t.answered,
		'response_rate', CASE WHEN t.total > 0 THEN round(t.answered::numeric / t.total, 4) END,
		'counts', (SELECT coalesce(json_object_agg(status, n ORDER BY status), '{}')
			FROM (SELECT status, sum(n) AS n FROM sc GROUP BY status) q),
		'needing_help_unreached', (SELECT count(*) FROM person_status p
			WHERE p.crisis_id = p_crisis AND p.mission_id = p_mission
			AND p.status IN ('needs_help', 'injured', 'needs_evacuation')
			AND NOT EXISTS (SELECT 1 FROM response r WHERE r.id = p.last_response_id
				AND r.channel = 'staff')),
		'evacuation', json_build_object('planned', NULL, 'at_assembly_point', NULL,
			'evacuated', t.evacuated),
		'regions', (SELECT coalesce(json_agg(json_build_object('code', r.code, 'name', r.name,
				'people', q.total, 'response_rate', round(q.answered::numeric / q.total, 4),
				'counts', q.counts) ORDER BY r.code NULLS LAST), '[]')
			FROM (SELECT region_id, sum(n) AS total,
				coalesce(sum(n) FILTER (WHERE status_answered(status)), 0) AS answered,
				json_object_agg(status, n ORDER BY status) AS counts
				FROM sc GROUP BY region_id) q
			LEFT JOIN region r ON r.id = nullif(q.region_id, 0)),
		'last_update', t.last_update)
	FROM crisis_mission cm JOIN mission m ON m.id = cm.mission_id, t
	WHERE cm.crisis_id = p_crisis AND cm.mission_id = p_mission
$$;

-- A crisis in the feed, with the missions p_mission may see (NULL: all).
CREATE FUNCTION feed_crisis_json(p_crisis bigint, p_mission bigint) RETURNS json
	LANGUAGE sql STABLE AS $$
	SELECT json_build_object('id', c.id, 'kind', c.kind, 'title', c.title,
		'severity', c.severity, 'state', c.state, 'drill', c.drill,
		'started_at', c.started_at, 'closed_at', c.closed_at, 'updated_at', c.updated_at,
		'missions', (SELECT coalesce(json_agg(feed_mission_json(c.id, cm.mission_id)
			ORDER BY cm.mission_id), '[]') FROM crisis_mission cm
			WHERE cm.crisis_id = c.id AND (p_mission IS NULL OR cm.mission_id = p_mission)))
	FROM crisis c WHERE c.id = p_crisis AND (p_mission IS NULL OR EXISTS (SELECT 1
		FROM crisis_mission cm WHERE cm.crisis_id = c.id AND cm.mission_id = p_mission))
$$;

-- The crises the feed lists: active ones, then those closed in the last days, newest first.
CREATE FUNCTION feed_crises(p_mission bigint, p_closed_days int) RETURNS SETOF bigint
	LANGUAGE sql STABLE AS $$
	SELECT c.id FROM crisis c
	WHERE (c.state = 'active' OR (c.state = 'closed'
		AND c.closed_at > now() - make_interval(days => p_closed_days)))
		AND (p_mission IS NULL OR EXISTS (SELECT 1 FROM crisis_mission cm
			WHERE cm.crisis_id = c.id AND cm.mission_id = p_mission))
	ORDER BY c.state = 'active' DESC, c.started_at DESC, c.id DESC
$$;

CREATE FUNCTION feed_status_json(p_mission bigint, p_closed_days int) RETURNS json
	LANGUAGE sql STABLE AS $$
	SELECT json_build_object('schema_version', '1.0', 'closed_days', p_closed_days,
		'crises', coalesce((SELECT json_agg(feed_crisis_json(f.id, p_mission) ORDER BY f.ord)
			FROM feed_crises(p_mission, p_closed_days) WITH ORDINALITY AS f(id, ord)), '[]'))
$$;
