-- A crisis shared by several missions is changed for all of them by an
-- administrator only; an alert imported by one mission touches only that
-- mission's part of a proposal; spreadsheet cells never start a formula.

-- A spreadsheet reads a cell that starts with = + - @, a tab or a carriage
-- return as a formula: such a value is written with a leading quote.
CREATE OR REPLACE FUNCTION csv_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN v IS NULL THEN ''
		WHEN v ~ '^[=+@\t\r-]' THEN '"''' || replace(v, '"', '""') || '"'
		WHEN v ~ '[",\r\n]' THEN '"' || replace(v, '"', '""') || '"'
		ELSE v END
$$;

-- The same, always quoted (the manifest quotes every name).
CREATE FUNCTION csv_quoted(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT '"' || CASE WHEN v ~ '^[=+@\t\r-]' THEN '''' ELSE '' END
		|| replace(coalesce(v, ''), '"', '""') || '"'
$$;

-- Changes a crisis the caller's mission is part of (NULL: every mission);
-- NULL when there is no such crisis or the change is not allowed (a closed
-- crisis stays closed). A mission may confirm a proposal that concerns it,
-- but closing, dismissing or editing a crisis other missions share would
-- stop their check-ins too: that is for an administrator.
CREATE OR REPLACE FUNCTION crisis_update(p_crisis bigint, p_mission bigint, p_title text, p_description text,
		p_severity smallint, p_state crisis_state, p_actor text, p_role text,
		p_actor_mission bigint, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	old crisis;
BEGIN
	SELECT * INTO old FROM crisis c WHERE c.id = p_crisis AND (p_mission IS NULL OR EXISTS (
		SELECT 1 FROM crisis_mission cm WHERE cm.crisis_id = c.id AND cm.mission_id = p_mission))
		FOR UPDATE;
	IF NOT FOUND OR old.state IN ('closed', 'dismissed') THEN
		RETURN NULL;
	END IF;
	IF p_state = 'dismissed' AND old.state <> 'proposed' THEN
		RETURN NULL;
	END IF;
	IF p_mission IS NOT NULL AND (p_state IN ('closed', 'dismissed') OR p_title IS NOT NULL
			OR p_description IS NOT NULL OR p_severity IS NOT NULL)
			AND EXISTS (SELECT 1 FROM crisis_mission cm WHERE cm.crisis_id = p_crisis
				AND cm.mission_id <> p_mission) THEN
		RAISE EXCEPTION 'this crisis is shared with other missions: only an administrator may close, dismiss or edit it'
			USING ERRCODE = '42501';
	END IF;
	UPDATE crisis SET title = coalesce(p_title, title), description = coalesce(p_description, description),
		severity = coalesce(p_severity, severity), state = coalesce(p_state, state),
		closed_at = CASE WHEN p_state IN ('closed', 'dismissed') THEN now() ELSE closed_at END,
		updated_at = now()
		WHERE id = p_crisis;
	IF p_state IN ('closed', 'dismissed') THEN
		PERFORM crisis_close(p_crisis);
	END IF;
	PERFORM audit_record(p_actor, p_role, p_actor_mission, p_addr,
		CASE WHEN p_state = 'closed' THEN 'crisis.close' WHEN p_state = 'dismissed'
			THEN 'crisis.dismiss' WHEN p_state = 'active' AND old.state = 'proposed'
			THEN 'crisis.confirm' ELSE 'crisis.update' END,
		'crisis', p_crisis::text, json_build_object('before', json_build_object('state',
		old.state, 'severity', old.severity), 'after', json_build_object('state',
		coalesce(p_state, old.state), 'severity', coalesce(p_severity, old.severity)))::text);
	RETURN json_build_object('id', p_crisis, 'state', coalesce(p_state, old.state));
END
$$;

-- Proposes (or revises) the crisis of an alert, as before; with
-- p_only_mission (an import by one mission's staff) only that mission's
-- count is written or removed, and a proposal other missions are part of
-- keeps its title and area: one mission cannot rewrite or remove what
-- concerns another.
CREATE OR REPLACE FUNCTION crisis_propose(p_source text, p_source_ref text, p_kind crisis_kind, p_title text,
		p_description text, p_severity smallint, p_drill boolean, p_area_geojson text,
		p_circle_lat double precision[], p_circle_lon double precision[],
		p_circle_radius double precision[], p_started timestamptz, p_min_affected integer,
		p_only_mission bigint, p_actor text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	shape geometry;
	cid bigint;
	existing crisis;
	involved integer;
	shared boolean := false;
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
	SELECT * INTO existing FROM crisis WHERE source = p_source AND source_ref = p_source_ref FOR UPDATE;
	IF FOUND THEN
		-- An update revises a proposal; an active or closed crisis keeps what staff made of it.
		IF existing.state <> 'proposed' THEN
			RETURN json_build_object('id', existing.id, 'state', existing.state, 'revised', false);
		END IF;
		shared := p_only_mission IS NOT NULL AND EXISTS (SELECT 1 FROM crisis_mission cm
			WHERE cm.crisis_id = existing.id AND cm.mission_id <> p_only_mission);
		IF NOT shared THEN
			UPDATE crisis SET title = p_title, description = p_description, severity = p_severity,
				area = shape::geography, updated_at = now() WHERE id = existing.id;
		END IF;
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
	RETURN json_build_object('id', cid, 'state', 'proposed', 'title', (SELECT title FROM crisis WHERE id = cid),
		'source', p_source, 'source_ref', p_source_ref,
		'missions', (SELECT json_agg(json_build_object('mission_id', mission_id, 'affected', affected)
			ORDER BY mission_id) FROM crisis_mission WHERE crisis_id = cid
			AND (p_only_mission IS NULL OR mission_id = p_only_mission)));
END
$$;
