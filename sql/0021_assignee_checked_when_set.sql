-- A foreign key queues one check per inserted row even when the key is
-- NULL. Nobody is assigned when a launch writes a million pending statuses,
-- yet person_status.assigned_to's key queued and ran a million checks: 0.4
-- to 0.8 s of the launch. The assignee is now checked only where one is
-- set (a trigger's WHEN clause is tested before anything is queued), with
-- the lock a foreign key takes, and a staff user still assigned to someone
-- cannot be removed.
ALTER TABLE person_status DROP CONSTRAINT person_status_assigned_to_fkey;

CREATE FUNCTION person_status_assignee_exists() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM 1 FROM staff_user u WHERE u.id = NEW.assigned_to FOR KEY SHARE;
	IF NOT FOUND THEN
		PERFORM refs_missing(TG_TABLE_NAME, 'assigned_to', 'staff_user', NEW.assigned_to);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER person_status_assignee AFTER INSERT OR UPDATE OF assigned_to ON person_status
	FOR EACH ROW WHEN (NEW.assigned_to IS NOT NULL) EXECUTE FUNCTION person_status_assignee_exists();

CREATE TRIGGER staff_user_restrict AFTER DELETE ON staff_user REFERENCING OLD TABLE AS gone
	FOR EACH STATEMENT EXECUTE FUNCTION refs_restrict('assigned_to', 'person_status');
CREATE TRIGGER staff_user_id_unchanged BEFORE UPDATE OF id ON staff_user
	FOR EACH ROW EXECUTE FUNCTION id_unchanged();
