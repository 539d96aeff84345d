-- Live events: every change of a person's status carries the id of the
-- transaction that made it, and every statement that changes statuses tells
-- listening safetyd processes which crises moved (NOTIFY, delivered at
-- commit). A process then reads the rows whose transaction id is at or past
-- the oldest transaction that was still running at its previous read: a
-- snapshot's xmin guarantees that every older change was already visible,
-- so nothing committed late is skipped, whatever order commits come in.

ALTER TABLE person_status ADD COLUMN txid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX person_status_txid ON person_status (crisis_id, txid);

CREATE FUNCTION person_status_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.txid := pg_current_xact_id();
	RETURN NEW;
END
$$;
CREATE TRIGGER person_status_stamp BEFORE UPDATE ON person_status
	FOR EACH ROW EXECUTE FUNCTION person_status_stamp();

-- One notification per crisis and statement; PostgreSQL folds identical
-- ones within a transaction.
CREATE FUNCTION person_status_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('safety_status', c::text) FROM (SELECT DISTINCT crisis_id AS c FROM changed) x;
	RETURN NULL;
END
$$;
CREATE TRIGGER person_status_notify_insert AFTER INSERT ON person_status
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION person_status_notify();
CREATE TRIGGER person_status_notify_update AFTER UPDATE ON person_status
	REFERENCING NEW TABLE AS changed
	FOR EACH STATEMENT EXECUTE FUNCTION person_status_notify();
