-- Who may do what: staff accounts, their sessions, API keys for machines,
-- and the append-only, hash-chained audit log.

CREATE TYPE staff_role AS ENUM ('admin', 'hq', 'mission_lead', 'mission_staff', 'viewer');

CREATE TABLE staff_user (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	username text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9._-]{1,63}$'),
	display_name text NOT NULL DEFAULT '' CHECK (length(display_name) <= 200),
	role staff_role NOT NULL,
	-- Mission roles belong to one mission; admin and hq to none.
	mission_id bigint REFERENCES mission (id),
	-- Self-describing scrypt string: $scrypt$ln=..,r=..,p=..$salt$hash
	password_hash text NOT NULL CHECK (password_hash LIKE '$scrypt$%'),
	disabled boolean NOT NULL DEFAULT false,
	failed_logins integer NOT NULL DEFAULT 0 CHECK (failed_logins >= 0),
	last_failed_at timestamptz,
	locked_until timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	password_changed_at timestamptz NOT NULL DEFAULT now(),
	last_login_at timestamptz,
	CONSTRAINT staff_user_mission_matches_role CHECK (
		(role IN ('admin', 'hq')) = (mission_id IS NULL))
);
CREATE UNIQUE INDEX staff_user_username ON staff_user (username);
CREATE INDEX staff_user_mission ON staff_user (mission_id);

CREATE TABLE staff_session (
	-- SHA-256 (hex) of the 256-bit token in the cookie; the token itself is never stored.
	token_hash text PRIMARY KEY CHECK (token_hash ~ '^[0-9a-f]{64}$'),
	user_id bigint NOT NULL REFERENCES staff_user (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	revoked_at timestamptz,
	client_addr text NOT NULL DEFAULT ''
);
CREATE INDEX staff_session_user ON staff_session (user_id);

CREATE TABLE api_key (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$'),
	key_hash text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
	-- The first characters of the key, so an operator can tell keys apart.
	key_prefix text NOT NULL,
	scopes text NOT NULL,
	-- NULL: every mission; else the key sees only this mission.
	mission_id bigint REFERENCES mission (id),
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	last_used_at timestamptz,
	revoked_at timestamptz
);

-- The hash of one audit row; the encoding is documented in
-- libsafety/include/safety/audit.h and must stay identical to it.
CREATE FUNCTION audit_chain_hash(prev text, id bigint, occurred_at text, actor text,
		actor_role text, mission_id bigint, client_addr text, action text,
		object_type text, object_id text, summary text)
	RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT encode(sha256(convert_to(
			string_agg(octet_length(f) || ':' || f, '' ORDER BY n), 'UTF8')), 'hex')
	FROM unnest(ARRAY[coalesce(prev, ''), id::text, coalesce(occurred_at, ''),
		coalesce(actor, ''), coalesce(actor_role, ''), coalesce(mission_id, 0)::text,
		coalesce(client_addr, ''), coalesce(action, ''), coalesce(object_type, ''),
		coalesce(object_id, ''), coalesce(summary, '')]) WITH ORDINALITY AS t(f, n)
$$;

CREATE FUNCTION audit_time_text(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE SEQUENCE audit_log_id_seq;

CREATE TABLE audit_log (
	-- Assigned under the chain lock, so id order is chain order.
	id bigint PRIMARY KEY,
	occurred_at timestamptz NOT NULL,
	actor text NOT NULL,
	actor_role text NOT NULL,
	mission_id bigint,
	client_addr text NOT NULL DEFAULT '',
	action text NOT NULL,
	object_type text NOT NULL DEFAULT '',
	object_id text NOT NULL DEFAULT '',
	-- JSON text exactly as written, hashed as stored.
	summary text NOT NULL DEFAULT '{}',
	prev_hash text NOT NULL,
	hash text NOT NULL
);
CREATE INDEX audit_log_mission ON audit_log (mission_id, id);

-- Chains each new row to the one before it. The transaction-scoped lock
-- makes inserts take turns, so the newest row seen is the one just before.
CREATE FUNCTION audit_log_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	prev text;
BEGIN
	PERFORM pg_advisory_xact_lock(7311520011);
	NEW.id := nextval('audit_log_id_seq');
	NEW.occurred_at := clock_timestamp();
	SELECT hash INTO prev FROM audit_log ORDER BY id DESC LIMIT 1;
	NEW.prev_hash := coalesce(prev, '');
	NEW.hash := audit_chain_hash(NEW.prev_hash, NEW.id, audit_time_text(NEW.occurred_at),
		NEW.actor, NEW.actor_role, NEW.mission_id, NEW.client_addr, NEW.action,
		NEW.object_type, NEW.object_id, NEW.summary);
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_log_chain BEFORE INSERT ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_chain();

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION audit_log_refuse_change();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM CURRENT_USER;

-- Appends one audit row; callers use it inside the statement that makes the
-- change, so the change and its record commit together.
CREATE FUNCTION audit_record(p_actor text, p_actor_role text, p_mission_id bigint,
		p_client_addr text, p_action text, p_object_type text, p_object_id text,
		p_summary text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	new_id bigint;
BEGIN
	INSERT INTO audit_log (actor, actor_role, mission_id, client_addr, action,
			object_type, object_id, summary, id, occurred_at, prev_hash, hash)
		VALUES (p_actor, p_actor_role, p_mission_id, coalesce(p_client_addr, ''), p_action,
			coalesce(p_object_type, ''), coalesce(p_object_id, ''),
			coalesce(p_summary, '{}'), 0, now(), '', '')
		RETURNING id INTO new_id;
	RETURN new_id;
END
$$;
