-- One safetyd at a time runs the maintenance work.
--
-- safetyd's maintenance statement gated re-asks, arrivals and the join
-- queue's drain behind an advisory lock with LEFT JOIN LATERAL ... ON
-- locked: PostgreSQL runs such a function and only then drops its row, so
-- every process did the work on every tick, waiting on each other's rows.
-- maintenance_run() takes the lock itself and does nothing without it.

-- safetyd's maintenance work, by one process at a time: re-asks and
-- unreachable people, arrivals queued, and the join queue drained. Returns
-- no row when another process holds the work.
CREATE FUNCTION maintenance_run() RETURNS TABLE (reasked bigint, unreachable bigint, arrived integer,
		joined integer) LANGUAGE plpgsql AS $$
DECLARE
	e record;
BEGIN
	IF NOT pg_try_advisory_xact_lock(7311520013) THEN
		RETURN;
	END IF;
	SELECT * INTO e FROM campaign_escalate();
	reasked := coalesce(e.reasked, 0);
	unreachable := coalesce(e.unreachable, 0);
	arrived := arrivals_join_crises();
	joined := join_pending_drain();
	RETURN NEXT;
END
$$;
