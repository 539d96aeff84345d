-- The spatial query hands back each person's names and languages along with
-- their id, so a launch renders its messages from the rows it already read:
-- joining the registry a second time for them cost a launch of a million
-- people a hash of every national, about 1.3 s of its 4.5 s route choice.
-- Callers that read only the id and region are unchanged.

DROP FUNCTION nationals_in_area(bigint, geography, date);
DROP FUNCTION nationals_near(bigint, geography, double precision, date);

CREATE FUNCTION nationals_in_area(p_mission bigint, p_area geography, p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint, name_ko text, name_latin text, languages text[])
	LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT n.id, n.region_id, n.name_ko, n.name_latin, n.languages FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND ST_Intersects(n.last_point, p_area)
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL)
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		-- The regions first (a mission has tens), so both halves use an index.
		AND (ST_Intersects(l.point, p_area) OR (l.region_id = ANY (ARRAY(SELECT r.id FROM region r
			WHERE r.mission_id = p_mission AND ST_Intersects(r.area, p_area))) AND l.point IS NULL))
$$;

CREATE FUNCTION nationals_near(p_mission bigint, p_center geography,
		p_radius_m double precision, p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint, name_ko text, name_latin text, languages text[])
	LANGUAGE sql STABLE PARALLEL SAFE AS $$
	SELECT n.id, n.region_id, n.name_ko, n.name_latin, n.languages FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND ST_DWithin(n.last_point, p_center, p_radius_m)
		AND n.last_point_source IS DISTINCT FROM 'itinerary'
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date - itinerary_margin_days()
			AND n.departure_date + itinerary_margin_days())
	UNION ALL
	SELECT DISTINCT ON (n.id) n.id, coalesce(l.region_id, n.region_id), n.name_ko, n.name_latin, n.languages
	FROM itinerary_leg l JOIN national n ON n.id = l.national_id
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND (n.last_point_source = 'itinerary' OR n.last_point IS NULL)
		AND p_on BETWEEN l.arrival - itinerary_margin_days() AND l.departure + itinerary_margin_days()
		AND (ST_DWithin(l.point, p_center, p_radius_m) OR (l.region_id = ANY (ARRAY(
			SELECT r.id FROM region r WHERE r.mission_id = p_mission
				AND ST_DWithin(r.area, p_center, p_radius_m))) AND l.point IS NULL))
$$;

CREATE OR REPLACE FUNCTION campaign_launch(p_campaign bigint) RETURNS TABLE (checkins bigint, messages bigint)
	LANGUAGE plpgsql SET work_mem = '256MB' SET jit = off AS $$
DECLARE
	camp record;
	asked bigint := 0;
	queued bigint := 0;
BEGIN
	SELECT cp.*, c.title, c.drill, c.area, c.center, c.radius_m INTO camp
		FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id WHERE cp.id = p_campaign;
	IF FOUND THEN
		-- Campaigns reach a working route before a degraded one, their first
		-- channel before the next, and a confirmed contact before an
		-- unconfirmed one. Someone without any contact gets no route and is
		-- unreachable at once.
		EXECUTE format($q$CREATE TEMP TABLE launch_route ON COMMIT DROP AS
			SELECT DISTINCT ON (t.national_id) t.national_id, ch.i AS channel_index, ch.channel,
				ct.value AS recipient,
				CASE WHEN 'ko' = ANY (t.languages) OR t.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang,
				t.name_ko, t.name_latin
			FROM %s t
			LEFT JOIN (unnest($1) WITH ORDINALITY AS ch(channel, i)
				JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)) ON ct.national_id = t.national_id
			LEFT JOIN route_health h ON h.channel = ch.channel
				AND h.prefix = route_prefix(ch.channel, ct.value)
			%s
			ORDER BY t.national_id, ct.id IS NULL, coalesce(h.degraded, false), ch.i, ct.verified DESC,
				ct.priority, ct.id$q$,
			CASE WHEN camp.area IS NOT NULL THEN 'nationals_in_area($2, $3, current_date)'
				ELSE 'nationals_near($2, $4, $5, current_date)' END,
			CASE WHEN EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id)
				THEN 'WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = $6'
					' AND k.national_id = t.national_id)'
				ELSE '' END)
			USING camp.channels, camp.mission_id, camp.area, camp.center, camp.radius_m, camp.crisis_id;

		INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, channel_index, next_ask_at, state)
			SELECT camp.crisis_id, r.national_id, camp.mission_id, camp.id, coalesce(r.channel_index, 1),
				now() + make_interval(secs => camp.reask_interval_s),
				CASE WHEN r.channel IS NULL THEN 'unreachable' ELSE 'asked' END::checkin_state
			FROM launch_route r;
		GET DIAGNOSTICS asked = ROW_COUNT;

		INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, language, body)
			SELECT camp.crisis_id, camp.id, r.national_id, camp.mission_id, r.channel, r.recipient, r.lang,
				campaign_render(camp.templates, r.lang,
					CASE WHEN r.lang = 'ko' THEN coalesce(r.name_ko, r.name_latin)
						ELSE coalesce(r.name_latin, r.name_ko) END,
					camp.title, camp.drill)
			FROM launch_route r WHERE r.channel IS NOT NULL;
		GET DIAGNOSTICS queued = ROW_COUNT;

		UPDATE campaign SET targeted = asked WHERE id = p_campaign;
		DROP TABLE launch_route;
	END IF;
	RETURN QUERY SELECT asked, queued;
END
$$;
