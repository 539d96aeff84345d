-- An answer no one could read (the person stays pending, flagged for
-- review) is a change the dashboard must see live: it may be a call for
-- help in words the parser does not know. Live events read changed
-- statuses through this index, which left out every pending row.
DROP INDEX person_status_txid;
CREATE INDEX person_status_txid ON person_status (crisis_id, txid) WHERE status <> 'pending' OR needs_review;
