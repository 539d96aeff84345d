-- Areas are stored as drawn: every polygon of a MultiPolygon counts (where
-- two overlap too), edges are straight in lon/lat as on the map, a ring
-- crossing the 180th meridian takes the short way, and a circle is never
-- smaller than asked. Alerts that update, cancel or re-name an event reach
-- the crisis it already has; an alert confirmed by one mission still
-- concerns the others.

-- Names an event also goes by: the USGS ids of the same earthquake, and the
-- CAP messages (Alert, Updates) that revised it. source_ref stays the first.
ALTER TABLE crisis ADD COLUMN source_aliases text[] NOT NULL DEFAULT '{}';
CREATE INDEX crisis_source_aliases ON crisis USING gin (source_aliases);

-- Does a polygon have an edge more than 180 degrees of longitude wide? No
-- one draws such an edge: it crosses the 180th meridian the short way.
CREATE FUNCTION area_crosses_antimeridian(g geometry) RETURNS boolean LANGUAGE sql IMMUTABLE
	PARALLEL SAFE AS $$
	SELECT coalesce(bool_or(abs(x - next_x) > 180), false) FROM (
		SELECT ST_X(p.geom) AS x, lead(ST_X(p.geom)) OVER (PARTITION BY p.path[1:cardinality(p.path) - 1]
			ORDER BY p.path[cardinality(p.path)]) AS next_x
		FROM ST_DumpPoints(g) p) e
$$;

-- One polygon made valid on its own, and cut at the 180th meridian when it
-- crosses it. Repairing the parts of a MultiPolygon separately matters:
-- ST_MakeValid of the whole keeps only what an odd number of parts cover.
CREATE FUNCTION area_part_fixed(g geometry) RETURNS geometry LANGUAGE sql IMMUTABLE
	PARALLEL SAFE AS $$
	SELECT ST_CollectionExtract(CASE WHEN area_crosses_antimeridian(g)
		THEN ST_WrapX(ST_MakeValid(ST_ShiftLongitude(g)), 180, -360)
		ELSE ST_MakeValid(g) END, 3)
$$;

-- The area of a GeoJSON Polygon or MultiPolygon, as a MultiPolygon whose
-- every edge is at most 0.05 degrees long: the database reads an edge as a
-- great-circle arc, while a map (and RFC 7946) draws it straight in
-- lon/lat; short edges make the two agree to metres. Outer rings turn
-- counter-clockwise, the way geography reads a large polygon's inside.
-- NULL for NULL.
CREATE FUNCTION area_from_geojson(p_geojson text) RETURNS geometry LANGUAGE sql IMMUTABLE
	PARALLEL SAFE AS $$
	SELECT ST_ForcePolygonCCW(ST_Multi(ST_CollectionExtract(ST_UnaryUnion(ST_Collect(
		ST_Segmentize(area_part_fixed(d.geom), 0.05))), 3)))
	FROM ST_Dump(ST_SetSRID(ST_GeomFromGeoJSON(p_geojson), 4326)) d
	WHERE p_geojson IS NOT NULL
$$;

-- Largest circle radius taken from an alert, in metres: as for a circle
-- drawn by hand; far below a hemisphere, where a circle stops being an area.
CREATE FUNCTION area_circle_max_m() RETURNS double precision LANGUAGE sql IMMUTABLE
	PARALLEL SAFE AS $$ SELECT 5000000::double precision $$;

-- A circle as a polygon of 128 vertices on the geodesic circle of a radius
-- enlarged by 1/cos(pi/128), so that every chord lies outside the circle
-- asked for: no one at 0.999 of the radius is left out.
CREATE FUNCTION area_circle(p_lat double precision, p_lon double precision,
		p_radius_m double precision) RETURNS geometry LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	c geography := ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326)::geography;
	r double precision := p_radius_m / cos(pi() / 128);
BEGIN
	IF p_radius_m IS NULL OR NOT p_radius_m > 0 OR p_radius_m > area_circle_max_m() THEN
		RAISE EXCEPTION 'circle at %, % has a radius of % km: 0 to % km are accepted',
			p_lat, p_lon, round((p_radius_m / 1000)::numeric, 1), area_circle_max_m() / 1000
			USING ERRCODE = '22023';
	END IF;
	IF ST_Distance(c, 'SRID=4326;POINT(0 90)'::geography) < r
			OR ST_Distance(c, 'SRID=4326;POINT(0 -90)'::geography) < r THEN
		RAISE EXCEPTION 'circle at %, % of % km reaches a pole: draw the area by hand',
			p_lat, p_lon, round((p_radius_m / 1000)::numeric, 1) USING ERRCODE = '22023';
	END IF;
	RETURN (SELECT ST_ForcePolygonCCW(area_part_fixed(ST_MakePolygon(ST_MakeLine(array_agg(
			ST_Project(c, r, radians((i % 128) * 360.0 / 128))::geometry ORDER BY i))))))
		FROM generate_series(0, 128) i;
END
$$;

-- The area of an alert: its polygons and circles, as one MultiPolygon; the
-- parts are joined in lon/lat only once none crosses the 180th meridian.
CREATE FUNCTION alert_area(p_geojson text, p_circle_lat double precision[],
		p_circle_lon double precision[], p_circle_radius double precision[])
		RETURNS geometry LANGUAGE sql IMMUTABLE AS $$
	SELECT ST_ForcePolygonCCW(ST_Multi(ST_CollectionExtract(ST_UnaryUnion(ST_Collect(g)), 3))) FROM (
		SELECT area_from_geojson(p_geojson) AS g WHERE p_geojson IS NOT NULL
		UNION ALL
		SELECT area_circle(la, lo, r) FROM unnest(p_circle_lat, p_circle_lon, p_circle_radius)
			AS c(la, lo, r)) parts
$$;

-- Declares an active crisis over a GeoJSON polygon or a circle, for some
-- missions, and counts each mission's nationals inside; NULL when a mission
-- does not exist. The polygon is read by area_from_geojson, as the preview
-- of POST /api/v1/nationals/in-area reads it, so both count the same.
CREATE OR REPLACE FUNCTION crisis_declare(p_kind crisis_kind, p_title text, p_description text,
		p_severity smallint, p_drill boolean, p_area_geojson text, p_lat double precision,
		p_lon double precision, p_radius_m double precision, p_missions bigint[], p_actor text,
		p_role text, p_actor_mission bigint, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	cid bigint;
	shape geometry;
BEGIN
	IF (SELECT count(*) FROM mission WHERE id = ANY (p_missions)) <>
			cardinality(ARRAY(SELECT DISTINCT unnest(p_missions))) THEN
		RETURN NULL;
	END IF;
	IF p_area_geojson IS NOT NULL THEN
		shape := area_from_geojson(p_area_geojson);
		IF shape IS NULL OR ST_IsEmpty(shape) THEN
			RAISE EXCEPTION 'area: the polygon encloses nothing' USING ERRCODE = '22023';
		END IF;
	END IF;
	INSERT INTO crisis (kind, title, description, severity, drill, area, center, radius_m, created_by)
		VALUES (p_kind, p_title, p_description, p_severity, p_drill, shape::geography,
			CASE WHEN p_area_geojson IS NULL
				THEN ST_SetSRID(ST_MakePoint(p_lon, p_lat), 4326)::geography END,
			CASE WHEN p_area_geojson IS NULL THEN p_radius_m END, p_actor)
		RETURNING id INTO cid;
	INSERT INTO crisis_mission (crisis_id, mission_id)
		SELECT DISTINCT cid, m FROM unnest(p_missions) AS m;
	UPDATE crisis_mission cm SET affected = (SELECT count(*) FROM crisis_targets(cid, cm.mission_id))
		WHERE cm.crisis_id = cid;
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr, 'crisis.declare', 'crisis',
		cid::text, json_build_object('title', p_title, 'drill', p_drill,
		'missions', p_missions)::text);
	RETURN json_build_object('id', cid, 'missions', (SELECT json_agg(json_build_object(
		'mission_id', mission_id, 'affected', affected) ORDER BY mission_id)
		FROM crisis_mission WHERE crisis_id = cid));
END
$$;

DROP FUNCTION crisis_propose(text, text, crisis_kind, text, text, smallint, boolean, text,
	double precision[], double precision[], double precision[], timestamptz, integer, bigint, text);

-- Proposes (or revises) the crisis of an alert. p_refs are the other names
-- of the event: the messages a CAP Update references, the other USGS ids of
-- an earthquake; the crisis named by any of them is the one revised, and
-- keeps every name for the next message. A proposal is revised (only the
-- importing mission's count when other missions share it); an active
-- crisis keeps what staff made of it but takes in the importing missions
-- with nationals inside; a dismissed one is proposed again to missions that
-- never saw it. One circle and no polygon is stored as centre and radius,
-- exact. Returns the crisis as the caller's mission sees it (p_only_mission:
-- its part only), or NULL when it concerns none of the caller's missions.
CREATE FUNCTION crisis_propose(p_source text, p_source_ref text, p_refs text[], p_kind crisis_kind,
		p_title text, p_description text, p_severity smallint, p_drill boolean,
		p_area_geojson text, p_circle_lat double precision[], p_circle_lon double precision[],
		p_circle_radius double precision[], p_started timestamptz, p_min_affected integer,
		p_only_mission bigint, p_actor text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	names text[] := array_remove(p_source_ref || coalesce(p_refs, '{}'), NULL);
	one_circle boolean := p_area_geojson IS NULL AND cardinality(p_circle_lat) = 1;
	shape geometry;
	v_center geography;
	cid bigint;
	existing crisis;
	st crisis_state;
	involved integer;
	added integer := 0;
	shared boolean := false;
	revised boolean := false;
BEGIN
	IF one_circle THEN
		IF NOT p_circle_radius[1] > 0 OR p_circle_radius[1] > area_circle_max_m() THEN
			RAISE EXCEPTION 'circle at %, % has a radius of % km: 0 to % km are accepted',
				p_circle_lat[1], p_circle_lon[1], round((p_circle_radius[1] / 1000)::numeric, 1),
				area_circle_max_m() / 1000 USING ERRCODE = '22023';
		END IF;
		v_center := ST_SetSRID(ST_MakePoint(p_circle_lon[1], p_circle_lat[1]), 4326)::geography;
	ELSE
		shape := alert_area(p_area_geojson, p_circle_lat, p_circle_lon, p_circle_radius);
		IF shape IS NULL OR ST_IsEmpty(shape) THEN
			RAISE EXCEPTION 'the alert names no area: draw it by hand' USING ERRCODE = '22023';
		END IF;
	END IF;
	SELECT * INTO existing FROM crisis WHERE source = p_source
		AND (source_ref = ANY (names) OR source_aliases && names)
		ORDER BY source_ref = p_source_ref DESC, id DESC LIMIT 1 FOR UPDATE;
	IF FOUND THEN
		cid := existing.id;
		st := existing.state;
		UPDATE crisis SET source_aliases = ARRAY(SELECT DISTINCT x FROM unnest(source_aliases || names) x
			WHERE x <> existing.source_ref ORDER BY x) WHERE id = cid;
		IF st = 'proposed' THEN
			shared := p_only_mission IS NOT NULL AND EXISTS (SELECT 1 FROM crisis_mission cm
				WHERE cm.crisis_id = cid AND cm.mission_id <> p_only_mission);
			IF NOT shared THEN
				UPDATE crisis SET title = p_title, description = p_description, severity = p_severity,
					area = shape::geography, center = v_center,
					radius_m = CASE WHEN one_circle THEN p_circle_radius[1] END,
					updated_at = now() WHERE id = cid;
				revised := true;
			END IF;
		END IF;
	ELSE
		-- Most events of a feed concern nobody: counted before anything is written.
		IF NOT EXISTS (SELECT 1 FROM mission m WHERE (p_only_mission IS NULL OR m.id = p_only_mission)
				AND (SELECT count(*) FROM (SELECT 1 FROM nationals_near(m.id, v_center, p_circle_radius[1],
						current_date) WHERE one_circle
					UNION ALL SELECT 1 FROM nationals_in_area(m.id, shape::geography, current_date)
						WHERE NOT one_circle) t) >= greatest(p_min_affected, 1)) THEN
			RETURN NULL;
		END IF;
		INSERT INTO crisis (kind, title, description, severity, state, drill, area, center, radius_m,
				started_at, source, source_ref, source_aliases, created_by)
			VALUES (p_kind, p_title, p_description, p_severity, 'proposed', p_drill,
				shape::geography, v_center, CASE WHEN one_circle THEN p_circle_radius[1] END,
				coalesce(p_started, now()), p_source, p_source_ref,
				ARRAY(SELECT DISTINCT x FROM unnest(names) x WHERE x <> p_source_ref ORDER BY x),
				p_actor)
			RETURNING id INTO cid;
		st := 'proposed';
	END IF;
	IF st = 'proposed' THEN
		INSERT INTO crisis_mission AS cm (crisis_id, mission_id, affected)
			SELECT cid, m.id, (SELECT count(*) FROM crisis_targets(cid, m.id))
			FROM mission m WHERE p_only_mission IS NULL OR m.id = p_only_mission
			ON CONFLICT (crisis_id, mission_id) DO UPDATE SET affected = excluded.affected;
		DELETE FROM crisis_mission WHERE crisis_id = cid AND affected < greatest(p_min_affected, 1)
			AND (p_only_mission IS NULL OR mission_id = p_only_mission);
		SELECT count(*) INTO involved FROM crisis_mission WHERE crisis_id = cid;
		IF involved = 0 THEN
			-- It concerns nobody we look after: no proposal.
			DELETE FROM crisis WHERE id = cid AND state = 'proposed'
				AND NOT EXISTS (SELECT 1 FROM campaign WHERE crisis_id = cid);
			RETURN NULL;
		END IF;
		PERFORM audit_record(p_actor, 'system', NULL, '', 'crisis.propose', 'crisis', cid::text,
			json_build_object('source', p_source, 'ref', p_source_ref, 'missions', involved)::text);
	ELSIF st IN ('active', 'dismissed') THEN
		-- Missions the crisis did not involve yet, with nationals inside its area as it stands.
		INSERT INTO crisis_mission (crisis_id, mission_id, affected)
			SELECT cid, m.id, n.affected FROM mission m,
				LATERAL (SELECT count(*)::integer AS affected FROM crisis_targets(cid, m.id)) n
			WHERE (p_only_mission IS NULL OR m.id = p_only_mission)
				AND n.affected >= greatest(p_min_affected, 1)
				AND NOT EXISTS (SELECT 1 FROM crisis_mission cm WHERE cm.crisis_id = cid
					AND cm.mission_id = m.id);
		GET DIAGNOSTICS added = ROW_COUNT;
		IF added > 0 AND st = 'dismissed' THEN
			-- Dismissed by those who saw it; the missions new to it decide for themselves.
			UPDATE crisis SET state = 'proposed', closed_at = NULL, updated_at = now() WHERE id = cid;
			st := 'proposed';
		END IF;
		IF added > 0 THEN
			PERFORM audit_record(p_actor, 'system', NULL, '', CASE WHEN st = 'proposed'
				THEN 'crisis.propose' ELSE 'crisis.join' END, 'crisis', cid::text,
				json_build_object('source', p_source, 'ref', p_source_ref, 'missions_added', added)::text);
		END IF;
	END IF;
	-- The caller learns only of a crisis its mission is part of.
	IF p_only_mission IS NOT NULL AND NOT EXISTS (SELECT 1 FROM crisis_mission
			WHERE crisis_id = cid AND mission_id = p_only_mission) THEN
		RETURN NULL;
	END IF;
	RETURN json_build_object('id', cid, 'state', st, 'revised', revised OR added > 0,
		'title', (SELECT title FROM crisis WHERE id = cid),
		'source', p_source, 'source_ref', (SELECT source_ref FROM crisis WHERE id = cid),
		'missions', (SELECT json_agg(json_build_object('mission_id', mission_id, 'affected', affected)
			ORDER BY mission_id) FROM crisis_mission WHERE crisis_id = cid
			AND (p_only_mission IS NULL OR mission_id = p_only_mission)));
END
$$;

DROP FUNCTION crisis_withdraw(text, text);
-- When the source cancelled an active crisis (said once in its description).
ALTER TABLE crisis ADD COLUMN source_cancelled_at timestamptz;

-- A CAP Cancel, or a USGS event deleted: the source takes the event back.
-- A proposal still waiting is dismissed (an import by one mission's staff
-- takes only that mission out of a proposal others share); an active
-- crisis is not closed behind staff's back, but its description and the
-- audit log say the source cancelled it. Returns what the caller's mission
-- may see: {"withdrawn": [ids], "active": [ids]}, or NULL when no crisis of
-- the caller's is named.
CREATE FUNCTION crisis_withdraw(p_source text, p_source_ref text, p_refs text[],
		p_only_mission bigint, p_actor text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	names text[] := array_remove(p_source_ref || coalesce(p_refs, '{}'), NULL);
	c crisis;
	withdrawn bigint[] := '{}';
	active bigint[] := '{}';
BEGIN
	FOR c IN SELECT * FROM crisis WHERE source = p_source
			AND (source_ref = ANY (names) OR source_aliases && names)
			AND (p_only_mission IS NULL OR EXISTS (SELECT 1 FROM crisis_mission cm
				WHERE cm.crisis_id = crisis.id AND cm.mission_id = p_only_mission))
			ORDER BY id FOR UPDATE LOOP
		IF c.state = 'proposed' THEN
			IF p_only_mission IS NOT NULL AND EXISTS (SELECT 1 FROM crisis_mission cm
					WHERE cm.crisis_id = c.id AND cm.mission_id <> p_only_mission) THEN
				DELETE FROM crisis_mission WHERE crisis_id = c.id AND mission_id = p_only_mission;
			ELSE
				UPDATE crisis SET state = 'dismissed', closed_at = now(), updated_at = now()
					WHERE id = c.id;
				PERFORM crisis_close(c.id);
			END IF;
			withdrawn := withdrawn || c.id;
			PERFORM audit_record(p_actor, 'system', p_only_mission, '', 'crisis.withdraw', 'crisis',
				c.id::text, json_build_object('source', p_source, 'ref', p_source_ref)::text);
		ELSIF c.state = 'active' THEN
			active := active || c.id;
			-- Said once, however often a feed repeats the cancel. The text is the
			-- system's own (the reference, chosen by whoever sent the alert, stays
			-- in the audit log); one mission's import does not write into a crisis
			-- other missions share, whose text reaches their partners too.
			IF c.source_cancelled_at IS NULL THEN
				UPDATE crisis SET source_cancelled_at = now(),
					description = CASE WHEN p_only_mission IS NOT NULL AND EXISTS (
							SELECT 1 FROM crisis_mission cm WHERE cm.crisis_id = c.id
								AND cm.mission_id <> p_only_mission) THEN description
						ELSE left(coalesce(description || E'\n\n', '')
							|| 'The source cancelled this alert ('
							|| to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') || ' UTC); '
							|| 'the crisis stays active until staff close it.', 10000) END,
					updated_at = now() WHERE id = c.id;
				PERFORM audit_record(p_actor, 'system', p_only_mission, '', 'crisis.source_cancelled',
					'crisis', c.id::text, json_build_object('source', p_source,
					'ref', p_source_ref)::text);
			END IF;
		END IF;
		UPDATE crisis SET source_aliases = ARRAY(SELECT DISTINCT x FROM unnest(source_aliases || names) x
			WHERE x <> c.source_ref ORDER BY x) WHERE id = c.id;
	END LOOP;
	IF cardinality(withdrawn) + cardinality(active) = 0 THEN
		RETURN NULL;
	END IF;
	RETURN json_build_object('withdrawn', to_json(withdrawn), 'active', to_json(active));
END
$$;
