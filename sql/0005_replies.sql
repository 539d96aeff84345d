-- Replies: each person's current status per crisis (derived from the
-- append-only responses by libsafety's precedence rules), counts kept up to
-- date on every change, answers per minute, and the duress word.

-- HMAC-SHA256 (hex) of the normalised duress word under a server key that is
-- not in the database: matched set-based on every reply, unreadable from a
-- stolen database alone.
ALTER TABLE national ADD COLUMN duress_hash text CHECK (duress_hash ~ '^[0-9a-f]{64}$');
ALTER TABLE response ADD COLUMN duress boolean NOT NULL DEFAULT false;
ALTER TABLE response ADD COLUMN review boolean NOT NULL DEFAULT false;

CREATE TABLE person_status (
	crisis_id bigint NOT NULL REFERENCES crisis (id),
	national_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	mission_id bigint NOT NULL,
	region_id bigint,
	status text NOT NULL CHECK (status IN ('unknown', 'pending', 'safe', 'needs_help', 'injured',
		'needs_evacuation', 'evacuated', 'unreachable', 'missing', 'deceased')),
	at timestamptz,
	set_by_staff boolean NOT NULL DEFAULT false,
	needs_review boolean NOT NULL DEFAULT false,
	duress boolean NOT NULL DEFAULT false,
	confirm_safe boolean NOT NULL DEFAULT false,
	by_proxy boolean NOT NULL DEFAULT false,
	own_status text NOT NULL DEFAULT 'unknown',
	own_at timestamptz,
	proxy_status text NOT NULL DEFAULT 'unknown',
	proxy_at timestamptz,
	answered_at timestamptz,
	headcount smallint,
	last_response_id bigint,
	-- Compare-and-set: a writer that read version v writes only if it is still v.
	version bigint NOT NULL DEFAULT 0,
	updated_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (crisis_id, national_id)
);
CREATE INDEX person_status_list ON person_status (crisis_id, mission_id, status);
CREATE INDEX person_status_flags ON person_status (crisis_id) WHERE duress OR needs_review OR confirm_safe;

-- Counts by crisis, mission, region and status, kept by trigger so the
-- dashboard and HQ read them in milliseconds whatever the crisis size.
CREATE TABLE status_count (
	crisis_id bigint NOT NULL,
	mission_id bigint NOT NULL,
	region_id bigint NOT NULL DEFAULT 0,
	status text NOT NULL,
	n bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (crisis_id, mission_id, region_id, status)
);

-- Kept per statement from the transition tables: one upsert per (crisis,
-- mission, region, status) group a statement touched, not one per row, so a
-- launch of a million check-ins does not rewrite one counter a million times.
CREATE FUNCTION person_status_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO status_count AS s (crisis_id, mission_id, region_id, status, n)
		SELECT crisis_id, mission_id, coalesce(region_id, 0), status, count(*)
		FROM new_rows GROUP BY 1, 2, 3, 4
		ON CONFLICT (crisis_id, mission_id, region_id, status) DO UPDATE SET n = s.n + excluded.n;
	RETURN NULL;
END
$$;
CREATE TRIGGER person_status_count_insert AFTER INSERT ON person_status
	REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION person_status_count_insert();

CREATE FUNCTION person_status_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO status_count AS s (crisis_id, mission_id, region_id, status, n)
		SELECT crisis_id, mission_id, region_id, status, sum(n) FROM (
			SELECT crisis_id, mission_id, coalesce(region_id, 0) AS region_id, status, -1 AS n
			FROM old_rows
			UNION ALL
			SELECT crisis_id, mission_id, coalesce(region_id, 0), status, 1 FROM new_rows) d
		GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0
		ON CONFLICT (crisis_id, mission_id, region_id, status) DO UPDATE SET n = s.n + excluded.n;
	RETURN NULL;
END
$$;
CREATE TRIGGER person_status_count_update AFTER UPDATE ON person_status
	REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION person_status_count_update();

-- Answers per minute, per crisis and mission.
CREATE TABLE response_minute (
	crisis_id bigint NOT NULL,
	mission_id bigint NOT NULL,
	minute timestamptz NOT NULL,
	n bigint NOT NULL DEFAULT 0,
	PRIMARY KEY (crisis_id, mission_id, minute)
);

CREATE FUNCTION response_count_minute() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO response_minute AS m (crisis_id, mission_id, minute, n)
		SELECT r.crisis_id, r.mission_id, date_trunc('minute', r.received_at), count(*)
		FROM new_responses r WHERE r.crisis_id IS NOT NULL AND r.mission_id IS NOT NULL
		GROUP BY 1, 2, 3
		ON CONFLICT (crisis_id, mission_id, minute) DO UPDATE SET n = m.n + excluded.n;
	RETURN NULL;
END
$$;
CREATE TRIGGER response_count_minute AFTER INSERT ON response
	REFERENCING NEW TABLE AS new_responses
	FOR EACH STATEMENT EXECUTE FUNCTION response_count_minute();

-- A person asked in a campaign becomes pending (the SYSTEM event of the
-- precedence rules): launches and re-asks insert check-ins, this keeps
-- person_status in step.
CREATE FUNCTION checkin_pending() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO person_status (crisis_id, national_id, mission_id, region_id, status, at)
		SELECT k.crisis_id, k.national_id, k.mission_id, n.region_id,
			CASE WHEN k.state = 'unreachable' THEN 'unreachable' ELSE 'pending' END, k.asked_at
		FROM new_checkins k JOIN national n ON n.id = k.national_id
		ON CONFLICT (crisis_id, national_id) DO NOTHING;
	RETURN NULL;
END
$$;
CREATE TRIGGER checkin_pending AFTER INSERT ON checkin
	REFERENCING NEW TABLE AS new_checkins
	FOR EACH STATEMENT EXECUTE FUNCTION checkin_pending();

-- After the last round: pending people become unreachable.
CREATE FUNCTION checkin_unreachable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE person_status p SET status = 'unreachable', version = p.version + 1, updated_at = now()
		FROM new_checkins k, old_checkins o
		WHERE k.crisis_id = o.crisis_id AND k.national_id = o.national_id
			AND k.state = 'unreachable' AND o.state <> 'unreachable'
			AND p.crisis_id = k.crisis_id AND p.national_id = k.national_id AND p.status = 'pending';
	RETURN NULL;
END
$$;
CREATE TRIGGER checkin_unreachable AFTER UPDATE ON checkin
	REFERENCING NEW TABLE AS new_checkins OLD TABLE AS old_checkins
	FOR EACH STATEMENT EXECUTE FUNCTION checkin_unreachable();
