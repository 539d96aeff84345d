-- Crises proposed from alerts (CAP, USGS, GDACS): the same crisis for the
-- same event, revised by later messages, with each mission's count of
-- nationals inside so leads see at once whether it concerns them.

-- Proposes (or revises) the crisis of an alert. The area is the union of a
-- GeoJSON MultiPolygon and circles; missions with at least p_min_affected
-- nationals inside are involved (only p_only_mission when given). Returns
-- the crisis and the counts, or NULL when no mission is concerned.
CREATE FUNCTION crisis_propose(p_source text, p_source_ref text, p_kind crisis_kind, p_title text,
		p_description text, p_severity smallint, p_drill boolean, p_area_geojson text,
		p_circle_lat double precision[], p_circle_lon double precision[],
		p_circle_radius double precision[], p_started timestamptz, p_min_affected integer,
		p_only_mission bigint, p_actor text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	shape geometry;
	cid bigint;
	existing crisis;
	involved integer;
BEGIN
	SELECT ST_Union(g) INTO shape FROM (
		SELECT ST_MakeValid(ST_GeomFromGeoJSON(p_area_geojson)) AS g WHERE p_area_geojson IS NOT NULL
		UNION ALL
		SELECT ST_Buffer(ST_SetSRID(ST_MakePoint(lo, la), 4326)::geography, r)::geometry
		FROM unnest(p_circle_lat, p_circle_lon, p_circle_radius) AS c(la, lo, r)) parts;
	IF shape IS NULL THEN
		RAISE EXCEPTION 'the alert names no area: draw it by hand' USING ERRCODE = '22023';
	END IF;
	shape := ST_Multi(ST_CollectionExtract(shape, 3));
	SELECT * INTO existing FROM crisis WHERE source = p_source AND source_ref = p_source_ref;
	IF FOUND THEN
		-- An update revises a proposal; an active or closed crisis keeps what staff made of it.
		IF existing.state <> 'proposed' THEN
			RETURN json_build_object('id', existing.id, 'state', existing.state, 'revised', false);
		END IF;
		UPDATE crisis SET title = p_title, description = p_description, severity = p_severity,
			area = shape::geography, updated_at = now() WHERE id = existing.id;
		cid := existing.id;
	ELSE
		INSERT INTO crisis (kind, title, description, severity, state, drill, area, started_at,
				source, source_ref, created_by)
			VALUES (p_kind, p_title, p_description, p_severity, 'proposed', p_drill,
				shape::geography, coalesce(p_started, now()), p_source, p_source_ref, p_actor)
			RETURNING id INTO cid;
	END IF;
	INSERT INTO crisis_mission AS cm (crisis_id, mission_id, affected)
		SELECT cid, m.id, (SELECT count(*) FROM crisis_targets(cid, m.id))
		FROM mission m WHERE p_only_mission IS NULL OR m.id = p_only_mission
		ON CONFLICT (crisis_id, mission_id) DO UPDATE SET affected = excluded.affected;
	DELETE FROM crisis_mission WHERE crisis_id = cid AND affected < greatest(p_min_affected, 1);
	SELECT count(*) INTO involved FROM crisis_mission WHERE crisis_id = cid;
	IF involved = 0 THEN
		-- It concerns nobody we look after: no proposal.
		DELETE FROM crisis WHERE id = cid AND state = 'proposed'
			AND NOT EXISTS (SELECT 1 FROM campaign WHERE crisis_id = cid);
		RETURN NULL;
	END IF;
	PERFORM audit_record(p_actor, 'system', NULL, '', 'crisis.propose', 'crisis', cid::text,
		json_build_object('source', p_source, 'ref', p_source_ref, 'missions', involved)::text);
	RETURN json_build_object('id', cid, 'state', 'proposed', 'title', p_title, 'source', p_source,
		'source_ref', p_source_ref, 'missions', (SELECT json_agg(json_build_object('mission_id',
		mission_id, 'affected', affected) ORDER BY mission_id) FROM crisis_mission WHERE crisis_id = cid));
END
$$;

-- A CAP Cancel withdraws the proposals its references name.
CREATE FUNCTION crisis_withdraw(p_source text, p_source_ref text) RETURNS integer LANGUAGE sql AS $$
	WITH w AS (UPDATE crisis SET state = 'dismissed', closed_at = now(), updated_at = now()
		WHERE source = p_source AND source_ref = p_source_ref AND state = 'proposed' RETURNING 1)
	SELECT count(*)::integer FROM w
$$;
