-- People whose trip begins while a check-in runs are asked.
--
-- A launch asks the people the area holds on its day: a traveller arriving
-- next week, or a resident whose trip into the area starts next week, is
-- left out, rightly. When that day comes and the crisis is still open, they
-- are in the area and nobody asked them. The same for a resident back home
-- inside the area after a trip that took them away on the day of launch.
--
-- safetyd's maintenance run calls arrivals_join_crises(): for each running
-- check-in it queues, once a day, the people of its mission whose trip or
-- leg began (or, for a resident, ended) since the day it last looked, and
-- the queue's drain asks those the area holds, exactly as any other join
-- (nobody twice, nobody in a closed crisis, nobody while a launch holds the
-- mission). The dates are read with the itinerary margin the spatial query
-- uses, so the first day someone counts there is the day they are asked.

ALTER TABLE campaign ADD COLUMN arrivals_checked_on date;

CREATE INDEX national_arrival ON national (mission_id, arrival_date)
	WHERE kind = 'traveller' AND deleted_at IS NULL;
CREATE INDEX itinerary_leg_arrival ON itinerary_leg (arrival);
CREATE INDEX itinerary_leg_departure ON itinerary_leg (departure);

-- Queues the people who came into the dates of a running check-in since its
-- last look; returns how many it queued. Cheap on a day already looked at.
CREATE FUNCTION arrivals_join_crises() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	camp record;
	margin constant integer := itinerary_margin_days();
	added integer;
	queued integer := 0;
BEGIN
	-- The newest running campaign of each mission in each active crisis.
	FOR camp IN SELECT DISTINCT ON (cp.crisis_id, cp.mission_id) cp.id, cp.crisis_id, cp.mission_id,
				coalesce(cp.arrivals_checked_on, cp.launched_at::date) AS since
			FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id AND c.state = 'active'
			WHERE cp.state = 'running'
			ORDER BY cp.crisis_id, cp.mission_id, cp.id DESC LOOP
		CONTINUE WHEN camp.since >= current_date;
		INSERT INTO join_pending (mission_id, national_id)
			SELECT camp.mission_id, x.id FROM (
				SELECT n.id FROM national n
				WHERE n.mission_id = camp.mission_id AND n.kind = 'traveller' AND n.deleted_at IS NULL
					AND n.arrival_date > camp.since + margin
					AND n.arrival_date <= current_date + margin
				UNION
				SELECT n.id FROM itinerary_leg l JOIN national n ON n.id = l.national_id
				WHERE n.mission_id = camp.mission_id AND n.deleted_at IS NULL
					AND ((l.arrival > camp.since + margin AND l.arrival <= current_date + margin)
						-- Home again (the day after the leg stops counting).
						OR (n.kind = 'resident' AND l.departure >= camp.since - margin
							AND l.departure < current_date - margin))) x
			WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id
				AND k.national_id = x.id);
		GET DIAGNOSTICS added = ROW_COUNT;
		queued := queued + added;
		UPDATE campaign SET arrivals_checked_on = current_date WHERE id = camp.id;
	END LOOP;
	RETURN queued;
END
$$;
