-- References checked per statement instead of per row.
--
-- A foreign key runs one lookup, with its own executor start, for every row
-- inserted: a launch for 200,000 people made 1.8 million of them (crisis,
-- campaign, mission and national on each check-in, message and status row),
-- half the launch's time; every reply paid three more. The four tables
-- written in bulk (checkin, outbox, person_status, response) instead check
-- each inserted statement's keys with one anti-join per referenced table,
-- and the referenced tables cascade (national) or refuse (crisis, campaign,
-- mission) a delete per statement.
--
-- Concurrency, the part a foreign key gets from row locks: a delete of a
-- referenced row takes SHARE ROW EXCLUSIVE on the referencing tables before
-- it cascades or refuses, which waits for every transaction that inserted
-- into them to end and keeps new inserts out until it commits. An inserter
-- checks its keys after its rows are in, with a fresh snapshot (READ
-- COMMITTED), so whichever of the two goes first, the other sees it. Under
-- REPEATABLE READ or SERIALIZABLE the snapshot is not fresh, so the check
-- also locks the referenced rows (FOR KEY SHARE), which fails with a
-- serialization error when a concurrent delete committed, as PostgreSQL's
-- own foreign keys do.
--
-- The key columns of these rows never change; an UPDATE that changes one is
-- refused.

DO $$
DECLARE
	fk record;
BEGIN
	FOR fk IN SELECT conrelid::regclass AS tab, conname FROM pg_constraint
		WHERE contype = 'f'
			AND conrelid IN ('checkin'::regclass, 'outbox'::regclass, 'person_status'::regclass,
				'response'::regclass)
			AND confrelid IN ('crisis'::regclass, 'campaign'::regclass, 'mission'::regclass,
				'national'::regclass)
	LOOP
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tab, fk.conname);
	END LOOP;
END
$$;

CREATE FUNCTION refs_missing(tab text, col text, ref text, k bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	RAISE foreign_key_violation USING MESSAGE = format('%s.%s = %s is not in %s', tab, col, k, ref),
		TABLE = tab, COLUMN = col;
END
$$;

-- Statements of more than 10,000 rows (a launch), and every statement under
-- REPEATABLE READ. Arguments: pairs of (column, referenced table); the
-- referenced key is id. One pass over the statement's rows finds each
-- column's least and greatest key: a column holding one key (the crisis of a
-- launch) is one lookup; one holding many (the nationals of a launch) is an
-- anti-join merged in key order, since a lookup per row is what this
-- replaces and a hash of a million keys is slower than a sort of them.
CREATE FUNCTION refs_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	i integer;
	nrows bigint := (SELECT count(*) FROM new_rows);
	bounds bigint[];
	aggregates text := '';
	missing bigint;
	nestloop text := current_setting('enable_nestloop');
	hashjoin text := current_setting('enable_hashjoin');
	fresh_snapshot boolean := current_setting('transaction_isolation') = 'read committed';
BEGIN
	IF fresh_snapshot AND nrows <= 10000 THEN
		RETURN NULL; -- the table's own refs_few trigger checks these
	END IF;
	FOR i IN 0 .. TG_NARGS - 1 BY 2 LOOP
		aggregates := aggregates || format('%1$s min(%2$I), max(%2$I)', CASE WHEN i > 0 THEN ',' END,
			TG_ARGV[i]);
	END LOOP;
	EXECUTE format('SELECT ARRAY[%s] FROM new_rows', aggregates) INTO bounds;
	FOR i IN 0 .. TG_NARGS - 1 BY 2 LOOP
		-- bounds: each column's min and max
		IF bounds[i + 1] IS NULL THEN
			CONTINUE;
		ELSIF bounds[i + 1] = bounds[i + 2] THEN
			EXECUTE format('SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM %I r WHERE r.id = $1)', TG_ARGV[i + 1])
				INTO missing USING bounds[i + 1];
		ELSE
			IF nrows > 10000 THEN
				PERFORM set_config('enable_nestloop', 'off', true);
				PERFORM set_config('enable_hashjoin', 'off', true);
			END IF;
			EXECUTE format('SELECT x.%1$I FROM new_rows x WHERE x.%1$I IS NOT NULL'
				' AND NOT EXISTS (SELECT 1 FROM %2$I r WHERE r.id = x.%1$I) LIMIT 1',
				TG_ARGV[i], TG_ARGV[i + 1]) INTO missing;
			PERFORM set_config('enable_nestloop', nestloop, true);
			PERFORM set_config('enable_hashjoin', hashjoin, true);
		END IF;
		IF missing IS NOT NULL THEN
			PERFORM refs_missing(TG_TABLE_NAME, TG_ARGV[i], TG_ARGV[i + 1], missing);
		END IF;
		IF NOT fresh_snapshot THEN
			EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %2$I r WHERE r.id IN'
				' (SELECT %1$I FROM new_rows) FOR KEY SHARE OF r) l', TG_ARGV[i], TG_ARGV[i + 1]);
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;

-- Arguments: the key columns.
CREATE FUNCTION refs_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	i integer := 0;
	o jsonb := to_jsonb(OLD);
	n jsonb := to_jsonb(NEW);
BEGIN
	WHILE i < TG_NARGS LOOP
		IF o -> TG_ARGV[i] IS DISTINCT FROM n -> TG_ARGV[i] THEN
			RAISE foreign_key_violation USING
				MESSAGE = format('%s.%s cannot change', TG_TABLE_NAME, TG_ARGV[i]),
				TABLE = TG_TABLE_NAME, COLUMN = TG_ARGV[i];
		END IF;
		i := i + 1;
	END LOOP;
	RETURN NEW;
END
$$;

-- Statements of up to 10,000 rows (a batch of replies, one message) are
-- checked by a query written out for each table, planned once per session:
-- a lookup per key, as a foreign key does, but in one statement.
-- Check-ins and messages: crisis, national, campaign and mission (a message's
-- may be NULL: one to a registrant, not in a campaign).
CREATE FUNCTION campaign_refs_few() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT count(*) FROM new_rows) <= 10000 THEN
		PERFORM refs_missing(TG_TABLE_NAME, m.col, m.ref, m.k) FROM (
			SELECT 'crisis_id' AS col, 'crisis' AS ref, x.crisis_id AS k FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM crisis r WHERE r.id = x.crisis_id) AND x.crisis_id IS NOT NULL
			UNION ALL SELECT 'national_id', 'national', x.national_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM national r WHERE r.id = x.national_id)
					AND x.national_id IS NOT NULL
			UNION ALL SELECT 'campaign_id', 'campaign', x.campaign_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM campaign r WHERE r.id = x.campaign_id)
					AND x.campaign_id IS NOT NULL
			UNION ALL SELECT 'mission_id', 'mission', x.mission_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM mission r WHERE r.id = x.mission_id) AND x.mission_id IS NOT NULL) m
		LIMIT 1;
	END IF;
	RETURN NULL;
END
$$;

-- person_status and response have the same three keys (a response's may be
-- NULL: an SMS from an unknown number).
CREATE FUNCTION status_refs_few() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT count(*) FROM new_rows) <= 10000 THEN
		PERFORM refs_missing(TG_TABLE_NAME, m.col, m.ref, m.k) FROM (
			SELECT 'crisis_id' AS col, 'crisis' AS ref, x.crisis_id AS k FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM crisis r WHERE r.id = x.crisis_id) AND x.crisis_id IS NOT NULL
			UNION ALL SELECT 'national_id', 'national', x.national_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM national r WHERE r.id = x.national_id)
					AND x.national_id IS NOT NULL
			UNION ALL SELECT 'mission_id', 'mission', x.mission_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM mission r WHERE r.id = x.mission_id) AND x.mission_id IS NOT NULL) m
		LIMIT 1;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER checkin_refs AFTER INSERT ON checkin REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION refs_exist('crisis_id', 'crisis', 'national_id', 'national',
		'campaign_id', 'campaign', 'mission_id', 'mission');
CREATE TRIGGER checkin_refs_few AFTER INSERT ON checkin REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION campaign_refs_few();
CREATE TRIGGER checkin_keys BEFORE UPDATE OF crisis_id, national_id, campaign_id, mission_id ON checkin
	FOR EACH ROW EXECUTE FUNCTION refs_unchanged('crisis_id', 'national_id', 'campaign_id', 'mission_id');

CREATE TRIGGER outbox_refs AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION refs_exist('crisis_id', 'crisis', 'national_id', 'national',
		'campaign_id', 'campaign', 'mission_id', 'mission');
CREATE TRIGGER outbox_refs_few AFTER INSERT ON outbox REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION campaign_refs_few();
CREATE TRIGGER outbox_keys BEFORE UPDATE OF crisis_id, national_id, campaign_id, mission_id ON outbox
	FOR EACH ROW EXECUTE FUNCTION refs_unchanged('crisis_id', 'national_id', 'campaign_id', 'mission_id');

CREATE TRIGGER person_status_refs AFTER INSERT ON person_status REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION refs_exist('crisis_id', 'crisis', 'national_id', 'national',
		'mission_id', 'mission');
CREATE TRIGGER person_status_refs_few AFTER INSERT ON person_status REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION status_refs_few();
CREATE TRIGGER person_status_keys BEFORE UPDATE OF crisis_id, national_id, mission_id ON person_status
	FOR EACH ROW EXECUTE FUNCTION refs_unchanged('crisis_id', 'national_id', 'mission_id');

CREATE TRIGGER response_refs AFTER INSERT ON response REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION refs_exist('crisis_id', 'crisis', 'national_id', 'national',
		'mission_id', 'mission');
CREATE TRIGGER response_refs_few AFTER INSERT ON response REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION status_refs_few();
CREATE TRIGGER response_keys BEFORE UPDATE OF crisis_id, national_id, mission_id ON response
	FOR EACH ROW EXECUTE FUNCTION refs_unchanged('crisis_id', 'national_id', 'mission_id');

-- A national removed (retention, a registration set aside) takes their
-- check-ins, messages, statuses and replies along, as ON DELETE CASCADE did.
CREATE FUNCTION national_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	LOCK TABLE response, outbox, person_status, checkin IN SHARE ROW EXCLUSIVE MODE;
	DELETE FROM response WHERE national_id IN (SELECT id FROM gone);
	DELETE FROM outbox WHERE national_id IN (SELECT id FROM gone);
	DELETE FROM person_status WHERE national_id IN (SELECT id FROM gone);
	DELETE FROM checkin WHERE national_id IN (SELECT id FROM gone);
	RETURN NULL;
END
$$;
CREATE TRIGGER national_cascade AFTER DELETE ON national REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION national_cascade();

-- A crisis, campaign or mission still referenced cannot be removed.
-- Arguments: the referencing column (crisis_id, ...), then the tables that
-- have it.
CREATE FUNCTION refs_restrict() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	used bigint;
BEGIN
	LOCK TABLE response, outbox, person_status, checkin IN SHARE ROW EXCLUSIVE MODE;
	FOR i IN 1 .. TG_NARGS - 1 LOOP
		EXECUTE format('SELECT g.id FROM gone g WHERE EXISTS (SELECT 1 FROM %I t WHERE t.%I = g.id)'
			' LIMIT 1', TG_ARGV[i], TG_ARGV[0]) INTO used;
		IF used IS NOT NULL THEN
			RAISE foreign_key_violation USING
				MESSAGE = format('%s %s is still referenced from %s', TG_TABLE_NAME, used, TG_ARGV[i]),
				TABLE = TG_ARGV[i], COLUMN = TG_ARGV[0];
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;
CREATE TRIGGER crisis_restrict AFTER DELETE ON crisis REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION refs_restrict('crisis_id', 'checkin', 'outbox', 'person_status',
		'response');
CREATE TRIGGER campaign_restrict AFTER DELETE ON campaign REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION refs_restrict('campaign_id', 'checkin', 'outbox');
CREATE TRIGGER mission_restrict AFTER DELETE ON mission REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION refs_restrict('mission_id', 'checkin', 'outbox', 'person_status',
		'response');

-- Keys the four tables point at never change.
CREATE FUNCTION id_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.id IS DISTINCT FROM OLD.id THEN
		RAISE foreign_key_violation USING MESSAGE = format('%s.id cannot change', TG_TABLE_NAME),
			TABLE = TG_TABLE_NAME, COLUMN = 'id';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER national_id_unchanged BEFORE UPDATE OF id ON national
	FOR EACH ROW EXECUTE FUNCTION id_unchanged();
CREATE TRIGGER crisis_id_unchanged BEFORE UPDATE OF id ON crisis
	FOR EACH ROW EXECUTE FUNCTION id_unchanged();
CREATE TRIGGER campaign_id_unchanged BEFORE UPDATE OF id ON campaign
	FOR EACH ROW EXECUTE FUNCTION id_unchanged();
CREATE TRIGGER mission_id_unchanged BEFORE UPDATE OF id ON mission
	FOR EACH ROW EXECUTE FUNCTION id_unchanged();
