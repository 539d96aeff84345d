-- A place given in an answer becomes the person's newest location.
--
-- An answer's point (the reply page's "share my location", coordinates or
-- a maps link in an SMS, a place staff typed while relaying an answer) was
-- kept with the answer only: the registry went on placing the person where
-- they registered, so the next crisis's area query, a plan's households and
-- the map outside this crisis did not know where they had said they were.
-- Now such a point is written to location (source 'reply', or 'staff' for a
-- relayed answer), which makes it the person's newest place and beats an
-- itinerary (nationals_in_area places by last_point unless it came from
-- one). Staff decisions (missing, deceased, evacuated) and answers given for
-- someone else (household proxies) move nobody.
--
-- The reply path only queues the point (a plain insert, taking no lock on
-- the person's row, which an import or a registration change may hold for
-- seconds); the maintenance run writes the queued points and puts their
-- people in join_pending, so someone who answers from inside another
-- running check-in's area is asked there too.

CREATE TABLE reply_location_pending (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- Deleting a person takes their queued places with them.
	national_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	point geography(Point, 4326) NOT NULL,
	source location_source NOT NULL,
	observed_at timestamptz NOT NULL
);
-- For a person's deletion (the cascade) and an import's look at their queued places.
CREATE INDEX reply_location_pending_national ON reply_location_pending (national_id);

CREATE FUNCTION response_location_queue() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO reply_location_pending (national_id, point, source, observed_at)
		VALUES (NEW.national_id, NEW.point,
			CASE WHEN NEW.channel = 'staff' THEN 'staff' ELSE 'reply' END::location_source,
			NEW.received_at);
	RETURN NULL;
END
$$;
-- Per row with a WHEN, so the batches of answers without a place (nearly
-- all) call nothing.
-- An answer held for review (a number several people share, a pasted link
-- that no longer works) may not be the person's: it moves nobody.
CREATE TRIGGER response_location_queue AFTER INSERT ON response FOR EACH ROW
	WHEN (NEW.point IS NOT NULL AND NEW.national_id IS NOT NULL AND NOT NEW.proxy
		AND NOT NEW.by_staff AND NOT NEW.review)
	EXECUTE FUNCTION response_location_queue();

-- Writes up to 10,000 queued answer places as locations, oldest first, and
-- queues their people to join running check-ins whose area now holds them.
-- People deleted since are skipped. It never waits: a person whose row
-- another transaction holds (an import, a registration change) keeps their
-- places queued for the next run, and the rows are taken in id order, so no
-- deadlock with a bulk update either. FOR NO KEY UPDATE, as the location
-- trigger's update needs, leaves the answers' own key checks unblocked.
-- Returns how many places were written.
CREATE FUNCTION reply_locations_drain() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
	written integer;
BEGIN
	WITH q AS (SELECT p.id, p.national_id FROM reply_location_pending p
			ORDER BY p.id LIMIT 10000 FOR UPDATE SKIP LOCKED),
	taken AS (SELECT n.id FROM national n WHERE n.id IN (SELECT national_id FROM q)
			ORDER BY n.id FOR NO KEY UPDATE OF n SKIP LOCKED),
	d AS (DELETE FROM reply_location_pending x USING q
		WHERE x.id = q.id AND q.national_id IN (SELECT id FROM taken)
		RETURNING x.national_id, x.point, x.source, x.observed_at),
	placed AS (INSERT INTO location (national_id, point, source, observed_at)
		SELECT d.national_id, d.point, d.source, d.observed_at
		FROM d JOIN national n ON n.id = d.national_id AND n.deleted_at IS NULL
		RETURNING national_id),
	joins AS (INSERT INTO join_pending (mission_id, national_id)
		SELECT n.mission_id, n.id FROM national n
		WHERE n.id IN (SELECT national_id FROM placed)
		RETURNING 1)
	SELECT count(*) INTO written FROM placed;
	RETURN written;
END
$$;

-- The newest definition (0071), with the answers' places written first:
-- before the re-asks take their check-in rows, so the places' row locks
-- never stretch the time those are held (an answer updates its check-in).
CREATE OR REPLACE FUNCTION maintenance_run() RETURNS TABLE (reasked bigint, unreachable bigint,
		arrived integer, joined integer) LANGUAGE plpgsql AS $$
DECLARE
	e record;
BEGIN
	IF NOT pg_try_advisory_xact_lock(7311520013) THEN
		RETURN;
	END IF;
	PERFORM reply_locations_drain();
	SELECT * INTO e FROM campaign_escalate();
	reasked := coalesce(e.reasked, 0);
	unreachable := coalesce(e.unreachable, 0);
	arrived := arrivals_join_crises();
	joined := join_pending_drain();
	RETURN NEXT;
END
$$;
