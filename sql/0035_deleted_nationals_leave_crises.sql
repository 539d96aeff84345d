-- A national deleted by staff (or set aside by a registration merge) leaves
-- every crisis, and comes back as they were when restored.
--
-- Their status rows stay in person_status, marked deleted, rather than
-- being removed: the reply path keeps writing statuses by compare-and-set,
-- and its catch-up re-derives the status of every answer newer than the
-- one a status row last took in, so a removed row would come back at the
-- next start. A marked row is left out of the counts the triggers keep
-- (they stay equal to a recount of the rows not marked), out of every list
-- and map, and is found again whole (status, flags, assignee) on restore.
--
-- Their open check-ins are closed, remembering how they stood, so nobody
-- asks them again and the call list drops them; messages still queued for
-- them fail as "deleted". A restore reopens the check-ins of crises still
-- active (as answered if an answer came meanwhile); a re-ask then goes out
-- as the campaign says.

ALTER TABLE person_status ADD COLUMN deleted boolean NOT NULL DEFAULT false;
ALTER TABLE checkin ADD COLUMN state_before_delete checkin_state;

CREATE OR REPLACE FUNCTION person_status_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO status_count AS s (crisis_id, mission_id, region_id, status, n)
		SELECT crisis_id, mission_id, coalesce(region_id, 0), status, count(*)
		FROM new_rows WHERE NOT deleted GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
		ON CONFLICT (crisis_id, mission_id, region_id, status)
		DO UPDATE SET n = s.n + excluded.n, updated_at = now();
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION person_status_count_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO status_count AS s (crisis_id, mission_id, region_id, status, n)
		SELECT crisis_id, mission_id, region_id, status, sum(n) FROM (
			SELECT crisis_id, mission_id, coalesce(region_id, 0) AS region_id, status, -1 AS n
			FROM old_rows WHERE NOT deleted
			UNION ALL
			SELECT crisis_id, mission_id, coalesce(region_id, 0), status, 1 FROM new_rows
			WHERE NOT deleted) d
		GROUP BY 1, 2, 3, 4 HAVING sum(n) <> 0 ORDER BY 1, 2, 3, 4
		ON CONFLICT (crisis_id, mission_id, region_id, status)
		DO UPDATE SET n = s.n + excluded.n, updated_at = now();
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION person_status_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- The counters are locked in key order first; the update then finds them held.
	PERFORM 1 FROM status_count x
		WHERE (x.crisis_id, x.mission_id, x.region_id, x.status) IN
			(SELECT crisis_id, mission_id, coalesce(region_id, 0), status FROM old_rows
				WHERE NOT deleted)
		ORDER BY x.crisis_id, x.mission_id, x.region_id, x.status FOR UPDATE;
	UPDATE status_count s SET n = s.n - d.c
		FROM (SELECT crisis_id, mission_id, coalesce(region_id, 0) AS region_id, status,
				count(*) AS c FROM old_rows WHERE NOT deleted GROUP BY 1, 2, 3, 4) d
		WHERE s.crisis_id = d.crisis_id AND s.mission_id = d.mission_id
			AND s.region_id = d.region_id AND s.status = d.status;
	RETURN NULL;
END
$$;

-- A person's rows are found crisis by crisis: person_status and checkin are
-- keyed (crisis_id, national_id) and crises are few, so no index by
-- national alone is kept up on the reply path for this rare change.
CREATE FUNCTION national_leave_crises(p_national bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE person_status p SET deleted = true FROM crisis c
		WHERE p.crisis_id = c.id AND p.national_id = p_national AND NOT p.deleted;
	UPDATE checkin k SET state_before_delete = k.state, state = 'cancelled' FROM crisis c
		WHERE k.crisis_id = c.id AND k.national_id = p_national
			AND k.state IN ('asked', 'unreachable');
	UPDATE outbox o SET state = 'failed', last_error = 'deleted' FROM crisis c
		WHERE o.crisis_id = c.id AND o.national_id = p_national AND o.state = 'queued';
$$;

CREATE FUNCTION national_return_to_crises(p_national bigint) RETURNS void LANGUAGE sql AS $$
	UPDATE person_status p SET deleted = false FROM crisis c
		WHERE p.crisis_id = c.id AND p.national_id = p_national AND p.deleted;
	-- A closed crisis asks nobody again (as crisis_close leaves its check-ins).
	UPDATE checkin k SET state = CASE
			WHEN c.state <> 'active' AND k.state_before_delete = 'asked' THEN 'cancelled'
			WHEN EXISTS (SELECT 1 FROM response r WHERE r.crisis_id = k.crisis_id
				AND r.national_id = k.national_id AND r.received_at >= k.asked_at) THEN 'answered'
			ELSE k.state_before_delete END,
		answered_at = coalesce(k.answered_at, (SELECT max(r.received_at) FROM response r
			WHERE r.crisis_id = k.crisis_id AND r.national_id = k.national_id
				AND r.received_at >= k.asked_at)),
		state_before_delete = NULL
		FROM crisis c
		WHERE k.crisis_id = c.id AND k.national_id = p_national AND k.state = 'cancelled'
			AND k.state_before_delete IS NOT NULL;
$$;

CREATE FUNCTION national_deleted_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.deleted_at IS NOT NULL THEN
		PERFORM national_leave_crises(NEW.id);
	ELSE
		PERFORM national_return_to_crises(NEW.id);
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER national_deleted_changed AFTER UPDATE OF deleted_at ON national
	FOR EACH ROW WHEN ((OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL))
	EXECUTE FUNCTION national_deleted_changed();

-- Those deleted before this migration leave their crises now.
SELECT national_leave_crises(id) FROM national WHERE deleted_at IS NOT NULL;

-- Shelters change by compare-and-set: every change, by any writer, takes a
-- new version, and an edit made on what was read says which version that
-- was (If-Match), so one made on a stale list is refused, not applied.
ALTER TABLE shelter ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION shelter_next_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	NEW.version := OLD.version + 1;
	RETURN NEW;
END
$$;
CREATE TRIGGER shelter_next_version BEFORE UPDATE ON shelter
	FOR EACH ROW EXECUTE FUNCTION shelter_next_version();
