-- A traveller is found by the leg of their trip in effect on the day, even
-- after they answered or staff placed them during an earlier leg.
--
-- The spatial query followed a traveller's legs only while their newest
-- place came from an itinerary (or they had none). Once they answered with
-- a place (a 'reply' location) or staff recorded where they were, that
-- place stood for the rest of the trip: a traveller who answered from
-- Istanbul on the first leg and went on to Antakya was not asked in a
-- crisis around Antakya, at its launch or when the leg began while the
-- check-in ran, though the plan put them there that very day.
--
-- Travellers now follow the rule residents on a trip have followed since
-- 0054: on the days a leg with a point or a region counts (its dates and
-- the margin around them), the person is found by their legs, not by their
-- newest place; unless they answered with a place, or staff recorded one,
-- since that leg began (its arrival less the margin): that is fresher than
-- the plan, and they are found there. A place given before the leg began,
-- or one that came from a registration or an import, yields to the leg.
-- Outside their legs' days travellers are found as before. (An answer's
-- place beats an itinerary, as 0077 says, for the leg it was given in and
-- any later leg that began before it; not for a leg that began after it.)
--
-- Residents are found as before: the rule is the one they had, now asked of
-- everyone. The four functions keep their shape (the same index reads: the
-- registry's points, the rough residences by region, the legs' points and
-- regions); the *_among variants select what the area functions select,
-- among the given people.

CREATE OR REPLACE FUNCTION nationals_in_area(p_mission bigint, p_area geography, p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint, name_ko text, name_latin text, languages text[])
	LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT n.id, n.region_id, n.name_ko, n.name_latin, n.languages FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND ST_Intersects(n.last_point, p_area)
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
		-- Someone on a leg that day is found by the legs below instead,
		-- unless they gave a place (or staff did) since that leg began.
		AND NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
	UNION ALL
	-- A residence known only by its region: found when the area reaches the
	-- region, as a leg without a point is.
	SELECT n.id, n.region_id, n.name_ko, n.name_latin, n.languages FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND n.last_point_accuracy_m > 1000 AND n.last_point_source = 'registration'
		AND n.region_id = ANY (ARRAY(SELECT r.id FROM region r
			WHERE r.mission_id = p_mission AND ST_Intersects(r.area, p_area)))
		AND NOT ST_Intersects(n.last_point, p_area)
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
		-- Someone on a leg that day is found by the legs below instead.
		AND NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
	UNION ALL
	-- The legs in effect that day, of everyone placed by an itinerary or not
	-- at all, or who gave no place (nor staff for them) since the leg began.
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR NOT coalesce(n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
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
		-- Someone on a leg that day is found by the legs below instead,
		-- unless they gave a place (or staff did) since that leg began.
		AND NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
	UNION ALL
	-- A residence known only by its region: found when the area reaches the
	-- region, as a leg without a point is.
	SELECT n.id, n.region_id, n.name_ko, n.name_latin, n.languages FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND n.last_point_accuracy_m > 1000 AND n.last_point_source = 'registration'
		AND n.region_id = ANY (ARRAY(SELECT r.id FROM region r
			WHERE r.mission_id = p_mission AND ST_DWithin(r.area, p_center, p_radius_m)))
		AND NOT ST_DWithin(n.last_point, p_center, p_radius_m)
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
		-- Someone on a leg that day is found by the legs below instead.
		AND NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
	UNION ALL
	-- The legs in effect that day, of everyone placed by an itinerary or not
	-- at all, or who gave no place (nor staff for them) since the leg began.
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR NOT coalesce(n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		AND (ST_DWithin(l.point, p_center, p_radius_m) OR (l.region_id = ANY (ARRAY(
			SELECT r.id FROM region r WHERE r.mission_id = p_mission
				AND ST_DWithin(r.area, p_center, p_radius_m))) AND l.point IS NULL))
$$;

CREATE OR REPLACE FUNCTION nationals_in_area_among(p_mission bigint, p_ids bigint[], p_area geography,
		p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint, name_ko text, name_latin text, languages text[])
	LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT n.id, n.region_id, n.name_ko, n.name_latin, n.languages FROM national n
	WHERE n.id = ANY (p_ids) AND n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (ST_Intersects(n.last_point, p_area) OR (n.last_point_accuracy_m > 1000
			AND n.last_point_source = 'registration' AND EXISTS (SELECT 1 FROM region r
				WHERE r.id = n.region_id AND ST_Intersects(r.area, p_area))))
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
		-- Someone on a leg that day is found by the legs below instead,
		-- unless they gave a place (or staff did) since that leg began.
		AND NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE l.national_id = ANY (p_ids) AND n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR NOT coalesce(n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		AND (ST_Intersects(l.point, p_area) OR (l.region_id = ANY (ARRAY(SELECT r.id FROM region r
			WHERE r.mission_id = p_mission AND ST_Intersects(r.area, p_area))) AND l.point IS NULL))
$$;

CREATE OR REPLACE FUNCTION nationals_near_among(p_mission bigint, p_ids bigint[], p_center geography,
		p_radius_m double precision, p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint, name_ko text, name_latin text, languages text[])
	LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT n.id, n.region_id, n.name_ko, n.name_latin, n.languages FROM national n
	WHERE n.id = ANY (p_ids) AND n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (ST_DWithin(n.last_point, p_center, p_radius_m) OR (n.last_point_accuracy_m > 1000
			AND n.last_point_source = 'registration' AND EXISTS (SELECT 1 FROM region r
				WHERE r.id = n.region_id AND ST_DWithin(r.area, p_center, p_radius_m))))
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
		-- Someone on a leg that day is found by the legs below instead,
		-- unless they gave a place (or staff did) since that leg began.
		AND NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE l.national_id = ANY (p_ids) AND n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR NOT coalesce(n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		AND (ST_DWithin(l.point, p_center, p_radius_m) OR (l.region_id = ANY (ARRAY(
			SELECT r.id FROM region r WHERE r.mission_id = p_mission
				AND ST_DWithin(r.area, p_center, p_radius_m))) AND l.point IS NULL))
$$;
