-- A resident on a reported trip is found where the trip is, and a mission
-- that dismissed a proposal is not proposed it again.
--
-- Residents on a trip:
--
-- A resident merged with a registration keeps their home as their place and
-- takes the registration's legs (so retention keeps them and they are
-- found at home once the trip is over). But the spatial query followed legs
-- only for people last placed by an itinerary, so during the trip such a
-- resident was found at home, and a crisis where the trip was left them
-- out. Now, on the days a placed leg of theirs counts (its dates and the
-- margin around them), a resident is found by their legs, as a traveller
-- is, and not at home; unless they answered with a place, or staff
-- recorded one, since that leg began: that is fresher than a plan (the
-- rule partners' itineraries follow). Outside their legs' days they are
-- found at home, as before.

CREATE OR REPLACE FUNCTION nationals_in_area(p_mission bigint, p_area geography, p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint, name_ko text, name_latin text, languages text[])
	LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT n.id, n.region_id, n.name_ko, n.name_latin, n.languages FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND ST_Intersects(n.last_point, p_area)
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
		-- A resident away on a leg is found by the legs below instead. (The
		-- residents away are found once, hashed: a check per person made a
		-- launch several times slower.)
		AND (n.kind <> 'resident' OR n.id NOT IN (SELECT l.national_id FROM itinerary_leg l
			JOIN national x ON x.id = l.national_id
			WHERE x.kind = 'resident' AND x.mission_id = p_mission
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(x.last_point_source IN ('reply', 'staff')
					AND x.last_point_at >= l.arrival - itinerary_margin_days(), false)))
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR (n.kind = 'resident' AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days(), false)))
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		-- The regions first (a mission has tens), so both halves use an index.
		AND (ST_Intersects(l.point, p_area) OR (l.region_id = ANY (ARRAY(SELECT r.id FROM region r
			WHERE r.mission_id = p_mission AND ST_Intersects(r.area, p_area))) AND l.point IS NULL))
$$;

CREATE OR REPLACE FUNCTION nationals_near(p_mission bigint, p_center geography,
		p_radius_m double precision, p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint, name_ko text, name_latin text, languages text[])
	LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT n.id, n.region_id, n.name_ko, n.name_latin, n.languages FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND ST_DWithin(n.last_point, p_center, p_radius_m)
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
		-- A resident away on a leg is found by the legs below instead. (The
		-- residents away are found once, hashed: a check per person made a
		-- launch several times slower.)
		AND (n.kind <> 'resident' OR n.id NOT IN (SELECT l.national_id FROM itinerary_leg l
			JOIN national x ON x.id = l.national_id
			WHERE x.kind = 'resident' AND x.mission_id = p_mission
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(x.last_point_source IN ('reply', 'staff')
					AND x.last_point_at >= l.arrival - itinerary_margin_days(), false)))
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR (n.kind = 'resident' AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days(), false)))
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		AND (ST_DWithin(l.point, p_center, p_radius_m) OR (l.region_id = ANY (ARRAY(
			SELECT r.id FROM region r WHERE r.mission_id = p_mission
				AND ST_DWithin(r.area, p_center, p_radius_m))) AND l.point IS NULL))
$$;

-- Dismissals stand for the missions that made them.
--
-- A dismissal was stored only as the crisis's state. When an alert's crisis
-- was proposed again to a mission that had never seen it, the whole crisis
-- became a proposal once more, and the missions that had dismissed it, still
-- part of it, found it among their proposals again (and every later update
-- of the event kept proposing it to them). The missions part of a crisis
-- when it is dismissed are now recorded; when it is proposed again to
-- others, they leave it, and an import or update of the event does not add
-- them back while it is a proposal (or dismissed). Once staff confirm it
-- somewhere, an active crisis still takes in every mission with nationals
-- inside, as before: that is news, not the proposal they turned down.

CREATE TABLE crisis_dismissal (
	crisis_id bigint NOT NULL REFERENCES crisis (id) ON DELETE CASCADE,
	mission_id bigint NOT NULL REFERENCES mission (id),
	-- The mission's part of the crisis when it was dismissed.
	affected integer NOT NULL DEFAULT 0,
	dismissed_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (crisis_id, mission_id)
);

-- Crises dismissed before: their missions dismissed them.
INSERT INTO crisis_dismissal (crisis_id, mission_id, affected, dismissed_at)
	SELECT cm.crisis_id, cm.mission_id, cm.affected, coalesce(c.closed_at, c.updated_at)
	FROM crisis_mission cm JOIN crisis c ON c.id = cm.crisis_id WHERE c.state = 'dismissed';

-- Named to run before crisis_state_events, so what it announces sees the
-- missions the crisis now has.
CREATE FUNCTION crisis_dismissals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.state = 'dismissed' AND OLD.state <> 'dismissed' THEN
		INSERT INTO crisis_dismissal (crisis_id, mission_id, affected)
			SELECT crisis_id, mission_id, affected FROM crisis_mission WHERE crisis_id = NEW.id
			ON CONFLICT (crisis_id, mission_id) DO NOTHING;
	ELSIF OLD.state = 'dismissed' AND NEW.state = 'proposed' THEN
		-- Proposed again for missions new to it: those who dismissed it leave.
		DELETE FROM crisis_mission cm USING crisis_dismissal d
			WHERE cm.crisis_id = NEW.id AND d.crisis_id = cm.crisis_id AND d.mission_id = cm.mission_id;
	END IF;
	RETURN NULL;
END
$$;
CREATE TRIGGER crisis_dismissals AFTER UPDATE OF state ON crisis
	FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state) EXECUTE FUNCTION crisis_dismissals();

-- A mission that dismissed a crisis is not made part of it again while it
-- is a proposal or dismissed (the row is skipped, not refused: imports and
-- updates of the event go on for the others).
CREATE FUNCTION crisis_mission_dismissed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM crisis_dismissal d JOIN crisis c ON c.id = d.crisis_id
			WHERE d.crisis_id = NEW.crisis_id AND d.mission_id = NEW.mission_id
				AND c.state IN ('proposed', 'dismissed')) THEN
		RETURN NULL;
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER crisis_mission_dismissed BEFORE INSERT ON crisis_mission
	FOR EACH ROW EXECUTE FUNCTION crisis_mission_dismissed();
