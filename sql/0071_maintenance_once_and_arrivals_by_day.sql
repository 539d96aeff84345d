-- One safetyd at a time runs the maintenance work, and arrivals are looked
-- at one day per run.
--
-- safetyd's maintenance statement gated re-asks, arrivals and the join
-- queue's drain behind an advisory lock with LEFT JOIN LATERAL ... ON
-- locked: PostgreSQL runs such a function and only then drops its row, so
-- every process did the work on every tick, waiting on each other's rows.
-- maintenance_run() takes the lock itself and does nothing without it.
--
-- arrivals_join_crises() looked at every day since a check-in last did in
-- one go: after weeks without a look (a check-in running across an upgrade,
-- or safetyd down for days), one call could outlast the statement timeout,
-- roll back, and do so again on every tick, stopping the re-asks with it.
-- Now each call covers one more day of each check-in, so a backlog is
-- caught up a day per run. A change of safety.itinerary_margin_days between
-- two looks widens the next window from the margin last used, so nobody
-- falls between the two.

ALTER TABLE campaign ADD COLUMN arrivals_margin integer;

CREATE OR REPLACE FUNCTION arrivals_join_crises() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	camp record;
	margin constant integer := itinerary_margin_days();
	added integer;
	queued integer := 0;
BEGIN
	-- The newest running campaign of each mission in each active crisis.
	FOR camp IN SELECT DISTINCT ON (cp.crisis_id, cp.mission_id) cp.id, cp.crisis_id, cp.mission_id,
				coalesce(cp.arrivals_checked_on, cp.launched_at::date) AS since,
				coalesce(cp.arrivals_margin, margin) AS since_margin
			FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id AND c.state = 'active'
			WHERE cp.state = 'running'
			ORDER BY cp.crisis_id, cp.mission_id, cp.id DESC LOOP
		CONTINUE WHEN camp.since >= current_date;
		-- The day after the last one looked at: (since, since + 1].
		INSERT INTO join_pending (mission_id, national_id)
			SELECT camp.mission_id, x.id FROM (
				SELECT n.id FROM national n
				WHERE n.mission_id = camp.mission_id AND n.kind = 'traveller' AND n.deleted_at IS NULL
					AND n.arrival_date > camp.since + camp.since_margin
					AND n.arrival_date <= camp.since + 1 + margin
				UNION
				SELECT n.id FROM itinerary_leg l JOIN national n ON n.id = l.national_id
				WHERE n.mission_id = camp.mission_id AND n.deleted_at IS NULL
					AND ((l.arrival > camp.since + camp.since_margin
							AND l.arrival <= camp.since + 1 + margin)
						-- Home again (the day after the leg stops counting).
						OR (n.kind = 'resident' AND l.departure >= camp.since - camp.since_margin
							AND l.departure < camp.since + 1 - margin))) x
			WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id
				AND k.national_id = x.id);
		GET DIAGNOSTICS added = ROW_COUNT;
		queued := queued + added;
		UPDATE campaign SET arrivals_checked_on = camp.since + 1, arrivals_margin = margin
			WHERE id = camp.id;
	END LOOP;
	RETURN queued;
END
$$;

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
