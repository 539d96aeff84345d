-- People whose trip begins while a check-in runs are asked.
--
-- A launch asks the people the area holds on its day: a traveller arriving
-- next week, or a resident whose trip into the area starts next week, is
-- left out, rightly. When that day comes and the crisis is still open, they
-- are in the area and nobody asked them. The same for a resident back home
-- inside the area after a trip that took them away on the day of launch.
--
-- safetyd's maintenance run calls arrivals_join_crises(): for each running
-- check-in it queues the people of its mission whose trip or leg began
-- (or, for a resident, ended) on the day after the one it last looked at, and
-- the queue's drain asks those the area holds, exactly as any other join
-- (nobody twice, nobody in a closed crisis, nobody while a launch holds the
-- mission). The dates are read with the itinerary margin the spatial query
-- uses, so the first day someone counts there is the day they are asked.

ALTER TABLE campaign ADD COLUMN arrivals_checked_on date, ADD COLUMN arrivals_margin integer;

CREATE INDEX national_arrival ON national (mission_id, arrival_date)
	WHERE kind = 'traveller' AND deleted_at IS NULL;
CREATE INDEX itinerary_leg_arrival ON itinerary_leg (arrival);
CREATE INDEX itinerary_leg_departure ON itinerary_leg (departure);

-- Queues the people who came into the dates of a running check-in on the
-- day after the one it last looked at; returns how many it queued. One day
-- per call, so a check-in that ran for weeks before this (or a safetyd
-- stopped for days) catches up a day per maintenance run and never
-- outlasts the statement timeout; a change of safety.itinerary_margin_days
-- widens the next day from the margin last used, so nobody falls between.
CREATE FUNCTION arrivals_join_crises() RETURNS integer LANGUAGE plpgsql AS $$
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
