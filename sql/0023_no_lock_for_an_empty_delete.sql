-- The retention timer deletes departed travellers, and the households they
-- leave empty, on every run, most often deleting nobody. Both statement
-- triggers on a delete (the cascade from a national, the guard of a
-- household, region, crisis, campaign or mission still referenced) still
-- locked their tables against writers, and a reply batch or an import
-- arriving meanwhile queued behind the lock. A delete of nobody now takes no
-- lock in either.

CREATE OR REPLACE FUNCTION national_cascade() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM gone) THEN
		RETURN NULL;
	END IF;
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

CREATE OR REPLACE FUNCTION refs_restrict() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	used bigint;
	tables text;
BEGIN
	IF NOT EXISTS (SELECT FROM gone) THEN
		RETURN NULL;
	END IF;
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
