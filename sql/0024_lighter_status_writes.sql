-- A reply batch's status write updates one person_status row per person.
-- Two costs of it were per row and avoidable:
--
-- * The row trigger that stamps each change with its transaction id ran as
--   PL/pgSQL for every row. The reply path's writes now set txid
--   themselves; the trigger stays for every other writer and runs only
--   when an update left txid as it was.
-- * The reference check of a few inserted responses or statuses looked up
--   the crisis and the mission once per row, although a batch nearly always
--   has one of each. It now looks up each distinct value once.

DROP TRIGGER person_status_stamp ON person_status;
CREATE TRIGGER person_status_stamp BEFORE UPDATE ON person_status
	FOR EACH ROW WHEN (OLD.txid = NEW.txid) EXECUTE FUNCTION person_status_stamp();

CREATE OR REPLACE FUNCTION status_refs_few() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM new_rows OFFSET 10000) THEN
		PERFORM refs_missing(TG_TABLE_NAME, m.col, m.ref, m.k) FROM (
			SELECT 'crisis_id' AS col, 'crisis' AS ref, x.k FROM (SELECT DISTINCT crisis_id AS k
					FROM new_rows WHERE crisis_id IS NOT NULL) x
				WHERE NOT EXISTS (SELECT 1 FROM crisis r WHERE r.id = x.k)
			UNION ALL SELECT 'national_id', 'national', x.national_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM national r WHERE r.id = x.national_id)
					AND x.national_id IS NOT NULL
			UNION ALL SELECT 'mission_id', 'mission', x.k FROM (SELECT DISTINCT mission_id AS k
					FROM new_rows WHERE mission_id IS NOT NULL) x
				WHERE NOT EXISTS (SELECT 1 FROM mission r WHERE r.id = x.k)) m
		LIMIT 1;
	END IF;
	RETURN NULL;
END
$$;
