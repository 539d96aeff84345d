-- The retention timer deletes departed travellers with one statement every
-- run, most often deleting nobody; the cascade still locked six tables
-- against writers, and a reply batch arriving meanwhile queued behind the
-- lock. A delete of nobody now takes no lock.
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
