-- A resident on a reported trip is found where the trip is.
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
		-- A resident away on a leg is found by the legs below instead.
		AND NOT (n.kind = 'resident' AND EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT (n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days())))
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR (n.kind = 'resident' AND NOT (n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days())))
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
		-- A resident away on a leg is found by the legs below instead.
		AND NOT (n.kind = 'resident' AND EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT (n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days())))
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR (n.kind = 'resident' AND NOT (n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days())))
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		AND (ST_DWithin(l.point, p_center, p_radius_m) OR (l.region_id = ANY (ARRAY(
			SELECT r.id FROM region r WHERE r.mission_id = p_mission
				AND ST_DWithin(r.area, p_center, p_radius_m))) AND l.point IS NULL))
$$;
