-- The registry's references, checked per statement like the campaign
-- tables' (0016): a national's mission, household and region, and the
-- national of each contact and location.
--
-- An import of 100,000 people ran about 350,000 foreign-key lookups, one
-- executor start each (mission and household of every national, the
-- national of every phone, e-mail and location): 2 of its 9 seconds. They
-- become one anti-join per referenced table and statement, through the same
-- functions and under the same concurrency rules as 0016's: a delete of a
-- referenced row locks the referencing tables before it cascades or
-- refuses, and an insert checks its keys after its rows are in.
--
-- A national's household and region change (a move, a new location), so
-- updates of national are checked as inserts are. The national of a contact
-- or location never changes.

DO $$
DECLARE
	fk record;
BEGIN
	FOR fk IN SELECT conrelid::regclass AS tab, conname FROM pg_constraint
		WHERE contype = 'f'
			AND ((conrelid IN ('contact'::regclass, 'location'::regclass) AND confrelid = 'national'::regclass)
				OR (conrelid = 'national'::regclass
					AND confrelid IN ('mission'::regclass, 'household'::regclass, 'region'::regclass)))
	LOOP
		EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.tab, fk.conname);
	END LOOP;
END
$$;

-- Statements of up to 10,000 rows (one person added or moved, a
-- registration), as campaign_refs_few.
CREATE FUNCTION national_refs_few() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT count(*) FROM new_rows) <= 10000 THEN
		PERFORM refs_missing(TG_TABLE_NAME, m.col, m.ref, m.k) FROM (
			SELECT 'mission_id' AS col, 'mission' AS ref, x.mission_id AS k FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM mission r WHERE r.id = x.mission_id) AND x.mission_id IS NOT NULL
			UNION ALL SELECT 'household_id', 'household', x.household_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM household r WHERE r.id = x.household_id)
					AND x.household_id IS NOT NULL
			UNION ALL SELECT 'region_id', 'region', x.region_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM region r WHERE r.id = x.region_id) AND x.region_id IS NOT NULL) m
		LIMIT 1;
	END IF;
	RETURN NULL;
END
$$;

-- Contacts and locations: their national.
CREATE FUNCTION person_refs_few() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF (SELECT count(*) FROM new_rows) <= 10000 THEN
		PERFORM refs_missing(TG_TABLE_NAME, 'national_id', 'national', x.national_id) FROM new_rows x
			WHERE NOT EXISTS (SELECT 1 FROM national r WHERE r.id = x.national_id) AND x.national_id IS NOT NULL
			LIMIT 1;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER national_refs AFTER INSERT ON national REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION refs_exist('mission_id', 'mission', 'household_id', 'household',
		'region_id', 'region');
CREATE TRIGGER national_refs_few AFTER INSERT ON national REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION national_refs_few();
-- A transition table cannot go with a column list, so every update of
-- national is checked, changed keys or not: an index lookup per key.
CREATE TRIGGER national_refs_update AFTER UPDATE ON national REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION refs_exist('mission_id', 'mission', 'household_id', 'household',
		'region_id', 'region');
CREATE TRIGGER national_refs_few_update AFTER UPDATE ON national REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION national_refs_few();

CREATE TRIGGER contact_refs AFTER INSERT ON contact REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION refs_exist('national_id', 'national');
CREATE TRIGGER contact_refs_few AFTER INSERT ON contact REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION person_refs_few();
CREATE TRIGGER contact_keys BEFORE UPDATE OF national_id ON contact
	FOR EACH ROW EXECUTE FUNCTION refs_unchanged('national_id');

CREATE TRIGGER location_refs AFTER INSERT ON location REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION refs_exist('national_id', 'national');
CREATE TRIGGER location_refs_few AFTER INSERT ON location REFERENCING NEW TABLE AS new_rows
	FOR EACH STATEMENT EXECUTE FUNCTION person_refs_few();
CREATE TRIGGER location_keys BEFORE UPDATE OF national_id ON location
	FOR EACH ROW EXECUTE FUNCTION refs_unchanged('national_id');

-- A removed national takes their contacts and locations along too. Every
-- delete guard locks its tables in one order (by name), so two of them
-- never wait on each other.
CREATE OR REPLACE FUNCTION national_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	LOCK TABLE checkin, contact, location, outbox, person_status, response IN SHARE ROW EXCLUSIVE MODE;
	DELETE FROM response WHERE national_id IN (SELECT id FROM gone);
	DELETE FROM outbox WHERE national_id IN (SELECT id FROM gone);
	DELETE FROM person_status WHERE national_id IN (SELECT id FROM gone);
	DELETE FROM checkin WHERE national_id IN (SELECT id FROM gone);
	DELETE FROM contact WHERE national_id IN (SELECT id FROM gone);
	DELETE FROM location WHERE national_id IN (SELECT id FROM gone);
	RETURN NULL;
END
$$;

-- Locks the tables it checks (the arguments after the column), in name
-- order, instead of the four campaign tables.
CREATE OR REPLACE FUNCTION refs_restrict() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	used bigint;
	tables text;
BEGIN
	SELECT string_agg(quote_ident(t), ', ' ORDER BY t) INTO tables
		FROM unnest(TG_ARGV[1:TG_NARGS - 1]) t;
	EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', tables);
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

DROP TRIGGER mission_restrict ON mission;
CREATE TRIGGER mission_restrict AFTER DELETE ON mission REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION refs_restrict('mission_id', 'checkin', 'national', 'outbox',
		'person_status', 'response');
CREATE TRIGGER household_restrict AFTER DELETE ON household REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION refs_restrict('household_id', 'national');
CREATE TRIGGER region_restrict AFTER DELETE ON region REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION refs_restrict('region_id', 'national');

CREATE TRIGGER household_id_unchanged BEFORE UPDATE OF id ON household
	FOR EACH ROW EXECUTE FUNCTION id_unchanged();
CREATE TRIGGER region_id_unchanged BEFORE UPDATE OF id ON region
	FOR EACH ROW EXECUTE FUNCTION id_unchanged();
