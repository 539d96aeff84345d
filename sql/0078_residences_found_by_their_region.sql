-- A residence known only by its region is found wherever in the region
-- the person lives.
--
-- A resident who registers with a home region and no point was placed at
-- one point inside the region (PostGIS's point on its surface), and the
-- area queries tested that point alone: in Hatay that point is 25 km from
-- Antakya, so a 20 km crisis around Antakya asked the travellers with a
-- Hatay leg (legs without a point match by their region's whole area) but
-- not the Hatay residents. Such a residence is now marked as rough (its
-- location carries an accuracy reaching the region's far edge, set by
-- registration_write in 0072) and matched as a leg is: by its region, when
-- the area reaches the region. Asking someone who may be outside the area
-- costs a message; missing someone inside it costs more.
--
-- The regions come first (a mission has tens), then the rough residences
-- of those regions by a partial index, so a query reads only the people
-- of the regions the area touches, however many registered this way.

CREATE INDEX national_rough_place ON national (mission_id, region_id)
	WHERE deleted_at IS NULL AND last_point_accuracy_m > 1000 AND last_point_source = 'registration';

-- Residences registered by region before this: their accuracy set, in the
-- locations and in the registry's copy of the newest one.
UPDATE location l SET accuracy_m = ST_Distance(l.point,
		ST_EndPoint(ST_LongestLine(l.point::geometry, r.area::geometry))::geography)
	FROM national n, region r
	WHERE l.source = 'registration' AND l.accuracy_m IS NULL AND n.id = l.national_id
		AND n.source = 'self' AND n.kind = 'resident' AND r.mission_id = n.mission_id
		AND ST_Equals(l.point::geometry, ST_PointOnSurface(r.area::geometry));
UPDATE national n SET last_point_accuracy_m = l.accuracy_m
	FROM location l
	WHERE l.national_id = n.id AND l.source = 'registration' AND l.accuracy_m > 1000
		AND n.last_point_source = 'registration' AND n.last_point_at = l.observed_at
		AND n.last_point_accuracy_m IS NULL AND ST_Equals(n.last_point::geometry, l.point::geometry);

-- The newest definitions (0063), with a part for rough residences.
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

-- The newest definitions (0056) for the given people, with rough residences.
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
		-- A resident away on a leg is found by the legs below instead.
		AND (n.kind <> 'resident' OR NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false)))
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE l.national_id = ANY (p_ids) AND n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR (n.kind = 'resident' AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days(), false)))
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
		AND (n.kind <> 'resident' OR NOT EXISTS (SELECT 1 FROM itinerary_leg l
			WHERE l.national_id = n.id
				AND p_on BETWEEN l.arrival - itinerary_margin_days()
					AND l.departure + itinerary_margin_days()
				AND (l.point IS NOT NULL OR l.region_id IS NOT NULL)
				AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
					AND n.last_point_at >= l.arrival - itinerary_margin_days(), false)))
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE l.national_id = ANY (p_ids) AND n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL
			OR (n.kind = 'resident' AND NOT coalesce(n.last_point_source IN ('reply', 'staff')
				AND n.last_point_at >= l.arrival - itinerary_margin_days(), false)))
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		AND (ST_DWithin(l.point, p_center, p_radius_m) OR (l.region_id = ANY (ARRAY(
			SELECT r.id FROM region r WHERE r.mission_id = p_mission
				AND ST_DWithin(r.area, p_center, p_radius_m))) AND l.point IS NULL))
$$;
