-- A status row removed (a national erased, a traveller's record purged)
-- changes the counts every dashboard shows: their streams must read again,
-- as after an insert or an update.
CREATE TRIGGER person_status_notify_delete AFTER DELETE ON person_status
	REFERENCING OLD TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION person_status_notify();
