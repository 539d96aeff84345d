-- The spatial query without a scan of the whole registry.
--
-- 0054 left out residents away on a trip (found by their legs instead) with
-- NOT IN over every resident of the mission with a leg in effect, joined to
-- the registry: every spatial query read all of the mission's nationals
-- (a million: about half a second more, for any area, even one holding a
-- handful of people). A plain NOT EXISTS against the person's own legs says
-- the same (the leg's owner is the row at hand) and lets the planner choose:
-- an anti-join on the legs by person for a small area, hashed for a large one.

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
		AND NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id AND n.kind = 'resident'
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
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
		-- A resident away on a leg is found by the legs below instead.
		AND NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id AND n.kind = 'resident'
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false))
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
