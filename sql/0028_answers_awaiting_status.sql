-- Stored answers whose statuses are not yet written. The statement that
-- stores a batch of answers adds one row naming them; once their status
-- write has committed, the row goes. What a process that died in between
-- leaves here is found by the catch-up of any process, even after a newer
-- answer of the same person was written (which hides the older one from a
-- scan by person_status.last_response_id). One row per batch, not per
-- answer, so that it costs the reply path almost nothing.
CREATE TABLE status_pending (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	response_ids bigint[] NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
