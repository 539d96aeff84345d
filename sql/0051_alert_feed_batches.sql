-- The events of a feed reach the database in batches, one statement each,
-- instead of one statement per event: a feed of 2,000 earthquakes far from
-- everyone cost seconds of database time at every change. Events that could
-- concern no one are set aside together by one spatial join; the others go
-- through crisis_propose and crisis_withdraw one by one, in feed order, as
-- before, so what happens to each event is unchanged.

-- The polygons of an alert as area_from_geojson builds them, or NULL where
-- it refuses them (crisis_propose then says why, for that event alone).
CREATE FUNCTION area_from_geojson_or_null(p_geojson text) RETURNS geometry LANGUAGE plpgsql
	IMMUTABLE AS $$
BEGIN
	RETURN area_from_geojson(p_geojson);
EXCEPTION WHEN OTHERS THEN
	RETURN NULL;
END
$$;

-- Proposes or withdraws every event of p_events, a JSON array of objects:
--   source, ref, refs (text[] literal: the other names of the event),
--   cancel (true: crisis_withdraw), kind, title, description, severity,
--   drill, area (GeoJSON or null), lat, lon, radius (float8[] literals of
--   the circles), started (unix seconds or null).
-- One row per event, ord from 1 in array order: result is what
-- crisis_propose or crisis_withdraw returned, error the message of the
-- error that refused this event alone (its changes undone, the others
-- kept). An event is set aside (result NULL, as crisis_propose answers it)
-- when it is no cancel, no crisis bears any of its names, no other event of
-- the batch shares one, and its area holds no located national, itinerary
-- stop or region of any mission: then crisis_propose would find no one
-- inside and write nothing. Once p_budget_ms have passed, the events not
-- yet handled come back with done false (never the first event handled),
-- for the caller to send again, so no batch runs into the statement timeout.
CREATE FUNCTION crisis_propose_batch(p_events jsonb, p_min_affected integer, p_only_mission bigint,
		p_actor text, p_budget_ms integer DEFAULT 1000)
		RETURNS TABLE (ord integer, done boolean, result json, error text)
		LANGUAGE plpgsql AS $$
DECLARE
	e record;
	began timestamptz := clock_timestamp();
	out_of_time boolean := false;
	handled integer := 0;
BEGIN
	FOR e IN
		WITH ev AS (
			SELECT x.ord::integer AS ord, x.e, x.e->>'source' AS source,
				array_remove((x.e->>'ref') || coalesce((x.e->>'refs')::text[], '{}'), NULL) AS names,
				coalesce((x.e->>'cancel')::boolean, false) AS cancel,
				(x.e->>'lat')::float8[] AS lat, (x.e->>'lon')::float8[] AS lon,
				(x.e->>'radius')::float8[] AS radius
			FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord)),
		-- Each circle alone, a little wider than area_circle draws it (1/cos(pi/128)
		-- wider than asked): no union of circles built only to be set aside.
		circle AS (
			SELECT c.ord, c.ok, c.reach, CASE WHEN c.ok
				THEN ST_SetSRID(ST_MakePoint(c.lo, c.la), 4326)::geography END AS center
			FROM (SELECT ev.ord, u.la, u.lo, u.r * 1.001 AS reach,
					coalesce(u.r > 0 AND u.r <= area_circle_max_m() AND u.la BETWEEN -90 AND 90
						AND u.lo BETWEEN -180 AND 180, false) AS ok
				FROM ev, unnest(ev.lat, ev.lon, ev.radius) AS u(la, lo, r) WHERE NOT ev.cancel) c),
		-- A circle refused, or one that may reach a pole (area_circle refuses those).
		circle_refused AS (
			SELECT DISTINCT c.ord FROM circle c WHERE NOT c.ok
				OR ST_DWithin(c.center, 'SRID=4326;POINT(0 90)'::geography, c.reach)
				OR ST_DWithin(c.center, 'SRID=4326;POINT(0 -90)'::geography, c.reach)),
		polygons AS (
			SELECT ev.ord, area_from_geojson_or_null(ev.e->>'area')::geography AS area
			FROM ev WHERE ev.e->>'area' IS NOT NULL AND NOT ev.cancel),
		-- Where nationals_near and nationals_in_area could find anyone: a located
		-- national, an itinerary stop, a region (stops without a point count by
		-- it); 10 m beside a polygon for the edges a union with circles splits.
		touched AS (
			SELECT c.ord FROM circle c WHERE c.ok AND (
				EXISTS (SELECT 1 FROM national n WHERE n.deleted_at IS NULL
					AND (p_only_mission IS NULL OR n.mission_id = p_only_mission)
					AND ST_DWithin(n.last_point, c.center, c.reach))
				OR EXISTS (SELECT 1 FROM itinerary_leg l WHERE ST_DWithin(l.point, c.center, c.reach))
				OR EXISTS (SELECT 1 FROM region r WHERE (p_only_mission IS NULL OR r.mission_id = p_only_mission)
					AND ST_DWithin(r.area, c.center, c.reach)))
			UNION
			SELECT p.ord FROM polygons p WHERE p.area IS NOT NULL AND (
				EXISTS (SELECT 1 FROM national n WHERE n.deleted_at IS NULL
					AND (p_only_mission IS NULL OR n.mission_id = p_only_mission)
					AND ST_DWithin(n.last_point, p.area, 10))
				OR EXISTS (SELECT 1 FROM itinerary_leg l WHERE ST_DWithin(l.point, p.area, 10))
				OR EXISTS (SELECT 1 FROM region r WHERE (p_only_mission IS NULL OR r.mission_id = p_only_mission)
					AND ST_DWithin(r.area, p.area, 10)))),
		named AS (
			SELECT DISTINCT a.ord FROM (SELECT ev.ord, ev.source, unnest(ev.names) AS name FROM ev) a
			JOIN (SELECT ev.ord, ev.source, unnest(ev.names) AS name FROM ev) b
				ON b.source = a.source AND b.name = a.name AND b.ord <> a.ord)
		SELECT ev.*, ev.cancel OR ev.ord IN (SELECT named.ord FROM named)
			OR EXISTS (SELECT 1 FROM crisis c WHERE c.source = ev.source
				AND (c.source_ref = ANY (ev.names) OR c.source_aliases && ev.names))
			-- What crisis_propose refuses, it refuses with the reason.
			OR ev.ord IN (SELECT circle_refused.ord FROM circle_refused)
			OR EXISTS (SELECT 1 FROM polygons p WHERE p.ord = ev.ord AND p.area IS NULL)
			OR (coalesce(cardinality(ev.lat), 0) = 0 AND NOT EXISTS (SELECT 1 FROM polygons p
				WHERE p.ord = ev.ord AND NOT ST_IsEmpty(p.area::geometry)))
			OR ev.ord IN (SELECT touched.ord FROM touched) AS full_work
		FROM ev ORDER BY ev.ord
	LOOP
		ord := e.ord;
		result := NULL;
		error := NULL;
		IF NOT e.full_work THEN
			done := true;
			RETURN NEXT;
			CONTINUE;
		END IF;
		-- At least one event per statement, so a caller sending the rest again gets on.
		IF NOT out_of_time AND handled > 0
				AND clock_timestamp() - began > make_interval(secs => p_budget_ms / 1000.0) THEN
			out_of_time := true;
		END IF;
		IF out_of_time THEN
			done := false;
			RETURN NEXT;
			CONTINUE;
		END IF;
		done := true;
		handled := handled + 1;
		BEGIN
			IF e.cancel THEN
				result := crisis_withdraw(e.source, e.e->>'ref', (e.e->>'refs')::text[],
					p_only_mission, p_actor);
			ELSE
				result := crisis_propose(e.source, e.e->>'ref', (e.e->>'refs')::text[],
					(e.e->>'kind')::crisis_kind, e.e->>'title', e.e->>'description',
					(e.e->>'severity')::smallint, (e.e->>'drill')::boolean, e.e->>'area', e.lat, e.lon,
					e.radius, to_timestamp((e.e->>'started')::float8), p_min_affected, p_only_mission,
					p_actor);
			END IF;
		EXCEPTION WHEN OTHERS THEN
			result := NULL;
			error := SQLERRM;
		END;
		RETURN NEXT;
	END LOOP;
END
$$;
