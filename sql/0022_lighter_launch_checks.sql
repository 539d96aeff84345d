-- Three savings for a launch of a million people (about 2 s of 17 in
-- auto_explain), and for every large insert checked by 0016's references.
--
-- 1. The reference triggers counted every row of a statement only to learn
--    whether it had more than 10,000: a scan of the whole transition table,
--    twice per table (the set-based check and the per-key one), about 0.1 s
--    for each million. They now stop counting at 10,001.
--
-- 2. A check-in records the region its person was asked in, which the launch
--    already has from the spatial query (for a traveller, the region of the
--    day's itinerary leg). The pending statuses take it from there instead
--    of joining every check-in to the registry (about 0.9 s for a million).
--    0 means the person has no region; NULL (check-ins made before, or by a
--    path that does not know) means look it up in the registry.
--
-- 3. The index of statuses by mission and status no longer holds pending
--    ones, the million rows a launch writes (about 0.7 s, measured by
--    inserting a million statuses with and without it). The queries that ask
--    for particular statuses (the feed's people needing help) name others
--    than pending; lists of everybody in a crisis go by the primary key.
--
-- And two smaller ones in the launch itself: the route choice reads route
-- health only when some route is degraded (otherwise every contact's prefix
-- was computed to find nothing, about 0.3 s), and each language's message
-- is rendered once, only the name put in per person (the template was
-- looked up in the campaign's JSON for every message). A name is put in
-- last, so braces in a name are never taken for a placeholder.

ALTER TABLE checkin ADD COLUMN region_id bigint;

DROP INDEX person_status_list;
CREATE INDEX person_status_list ON person_status (crisis_id, mission_id, status) WHERE status <> 'pending';

-- Without the join to the registry, a check-in whose national does not exist
-- would reach person_status and be refused there, naming the wrong table.
-- Triggers fire in the order of their names: the check-in's own reference
-- checks (checkin_refs, checkin_refs_few) now come first.
ALTER TRIGGER checkin_pending ON checkin RENAME TO checkin_status_pending;


CREATE OR REPLACE FUNCTION refs_exist() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	i integer;
	-- Counted up to 10,001: only which side of 10,000 matters.
	nrows bigint := (SELECT count(*) FROM (SELECT FROM new_rows LIMIT 10001) s);
	bounds bigint[];
	aggregates text := '';
	missing bigint;
	nestloop text := current_setting('enable_nestloop');
	hashjoin text := current_setting('enable_hashjoin');
	fresh_snapshot boolean := current_setting('transaction_isolation') = 'read committed';
BEGIN
	IF fresh_snapshot AND nrows <= 10000 THEN
		RETURN NULL; -- the table's own refs_few trigger checks these
	END IF;
	FOR i IN 0 .. TG_NARGS - 1 BY 2 LOOP
		aggregates := aggregates || format('%1$s min(%2$I), max(%2$I)', CASE WHEN i > 0 THEN ',' END,
			TG_ARGV[i]);
	END LOOP;
	EXECUTE format('SELECT ARRAY[%s] FROM new_rows', aggregates) INTO bounds;
	FOR i IN 0 .. TG_NARGS - 1 BY 2 LOOP
		-- bounds: each column's min and max
		IF bounds[i + 1] IS NULL THEN
			CONTINUE;
		ELSIF bounds[i + 1] = bounds[i + 2] THEN
			EXECUTE format('SELECT $1 WHERE NOT EXISTS (SELECT 1 FROM %I r WHERE r.id = $1)', TG_ARGV[i + 1])
				INTO missing USING bounds[i + 1];
		ELSE
			IF nrows > 10000 THEN
				PERFORM set_config('enable_nestloop', 'off', true);
				PERFORM set_config('enable_hashjoin', 'off', true);
			END IF;
			EXECUTE format('SELECT x.%1$I FROM new_rows x WHERE x.%1$I IS NOT NULL'
				' AND NOT EXISTS (SELECT 1 FROM %2$I r WHERE r.id = x.%1$I) LIMIT 1',
				TG_ARGV[i], TG_ARGV[i + 1]) INTO missing;
			PERFORM set_config('enable_nestloop', nestloop, true);
			PERFORM set_config('enable_hashjoin', hashjoin, true);
		END IF;
		IF missing IS NOT NULL THEN
			PERFORM refs_missing(TG_TABLE_NAME, TG_ARGV[i], TG_ARGV[i + 1], missing);
		END IF;
		IF NOT fresh_snapshot THEN
			EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %2$I r WHERE r.id IN'
				' (SELECT %1$I FROM new_rows) FOR KEY SHARE OF r) l', TG_ARGV[i], TG_ARGV[i + 1]);
		END IF;
	END LOOP;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION campaign_refs_few() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM new_rows OFFSET 10000) THEN
		PERFORM refs_missing(TG_TABLE_NAME, m.col, m.ref, m.k) FROM (
			SELECT 'crisis_id' AS col, 'crisis' AS ref, x.crisis_id AS k FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM crisis r WHERE r.id = x.crisis_id) AND x.crisis_id IS NOT NULL
			UNION ALL SELECT 'national_id', 'national', x.national_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM national r WHERE r.id = x.national_id)
					AND x.national_id IS NOT NULL
			UNION ALL SELECT 'campaign_id', 'campaign', x.campaign_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM campaign r WHERE r.id = x.campaign_id)
					AND x.campaign_id IS NOT NULL
			UNION ALL SELECT 'mission_id', 'mission', x.mission_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM mission r WHERE r.id = x.mission_id) AND x.mission_id IS NOT NULL) m
		LIMIT 1;
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION status_refs_few() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM new_rows OFFSET 10000) THEN
		PERFORM refs_missing(TG_TABLE_NAME, m.col, m.ref, m.k) FROM (
			SELECT 'crisis_id' AS col, 'crisis' AS ref, x.crisis_id AS k FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM crisis r WHERE r.id = x.crisis_id) AND x.crisis_id IS NOT NULL
			UNION ALL SELECT 'national_id', 'national', x.national_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM national r WHERE r.id = x.national_id)
					AND x.national_id IS NOT NULL
			UNION ALL SELECT 'mission_id', 'mission', x.mission_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM mission r WHERE r.id = x.mission_id) AND x.mission_id IS NOT NULL) m
		LIMIT 1;
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION national_refs_few() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM new_rows OFFSET 10000) THEN
		PERFORM refs_missing(TG_TABLE_NAME, m.col, m.ref, m.k) FROM (
			SELECT 'mission_id' AS col, 'mission' AS ref, x.mission_id AS k FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM mission r WHERE r.id = x.mission_id) AND x.mission_id IS NOT NULL
			UNION ALL SELECT 'household_id', 'household', x.household_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM household r WHERE r.id = x.household_id)
					AND x.household_id IS NOT NULL
			UNION ALL SELECT 'region_id', 'region', x.region_id FROM new_rows x
				WHERE NOT EXISTS (SELECT 1 FROM region r WHERE r.id = x.region_id) AND x.region_id IS NOT NULL) m
		LIMIT 1;
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION person_refs_few() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NOT EXISTS (SELECT FROM new_rows OFFSET 10000) THEN
		PERFORM refs_missing(TG_TABLE_NAME, 'national_id', 'national', x.national_id) FROM new_rows x
			WHERE NOT EXISTS (SELECT 1 FROM national r WHERE r.id = x.national_id) AND x.national_id IS NOT NULL
			LIMIT 1;
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION checkin_pending() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	pending constant text := 'INSERT INTO person_status (crisis_id, national_id, mission_id, region_id, status, at)'
		' SELECT k.crisis_id, k.national_id, k.mission_id, CASE WHEN k.region_id IS NOT NULL'
		' THEN nullif(k.region_id, 0) ELSE (SELECT n.region_id FROM national n WHERE n.id = k.national_id) END,'
		' CASE WHEN k.state = ''unreachable'' THEN ''unreachable'' ELSE ''pending'' END, k.asked_at'
		' FROM new_checkins k';
	checked constant text := ' ON CONFLICT (crisis_id, national_id) DO NOTHING';
BEGIN
	IF EXISTS (SELECT 1 FROM person_status p WHERE p.crisis_id IN (SELECT crisis_id FROM new_checkins)) THEN
		EXECUTE pending || checked;
	ELSE
		BEGIN
			EXECUTE pending;
		EXCEPTION WHEN unique_violation THEN
			EXECUTE pending || checked;
		END;
	END IF;
	RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION campaign_launch(p_campaign bigint) RETURNS TABLE (checkins bigint, messages bigint)
	LANGUAGE plpgsql SET work_mem = '256MB' SET jit = off AS $$
DECLARE
	camp record;
	asked bigint := 0;
	queued bigint := 0;
	-- Stands for the name while a language's message is rendered: made
	-- afresh for each launch, so no title or template can contain it.
	name_mark constant text := '{name ' || gen_random_uuid() || '}';
	body_ko text;
	body_en text;
	degraded boolean := EXISTS (SELECT 1 FROM route_health WHERE degraded);
BEGIN
	SELECT cp.*, c.title, c.drill, c.area, c.center, c.radius_m INTO camp
		FROM campaign cp JOIN crisis c ON c.id = cp.crisis_id WHERE cp.id = p_campaign;
	IF FOUND THEN
		-- Campaigns reach a working route before a degraded one, their first
		-- channel before the next, and a confirmed contact before an
		-- unconfirmed one. Someone without any contact gets no route and is
		-- unreachable at once.
		EXECUTE format($q$CREATE TEMP TABLE launch_route ON COMMIT DROP AS
			SELECT DISTINCT ON (t.national_id) t.national_id, t.region_id, ch.i AS channel_index, ch.channel,
				ct.value AS recipient,
				CASE WHEN 'ko' = ANY (t.languages) OR t.name_ko IS NOT NULL THEN 'ko' ELSE 'en' END AS lang,
				t.name_ko, t.name_latin
			FROM %s t
			LEFT JOIN (unnest($1) WITH ORDINALITY AS ch(channel, i)
				JOIN contact ct ON ct.kind = channel_contact_kind(ch.channel)) ON ct.national_id = t.national_id
			%s
			%s
			ORDER BY t.national_id, ct.id IS NULL%s, ch.i, ct.verified DESC, ct.priority, ct.id$q$,
			CASE WHEN camp.area IS NOT NULL THEN 'nationals_in_area($2, $3, current_date)'
				ELSE 'nationals_near($2, $4, $5, current_date)' END,
			CASE WHEN degraded THEN 'LEFT JOIN route_health h ON h.degraded AND h.channel = ch.channel'
				' AND h.prefix = route_prefix(ch.channel, ct.value)' ELSE '' END,
			CASE WHEN EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = camp.crisis_id)
				THEN 'WHERE NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = $6'
					' AND k.national_id = t.national_id)'
				ELSE '' END,
			CASE WHEN degraded THEN ', h.prefix IS NOT NULL' ELSE '' END)
			USING camp.channels, camp.mission_id, camp.area, camp.center, camp.radius_m, camp.crisis_id;

		INSERT INTO checkin (crisis_id, national_id, mission_id, region_id, campaign_id, channel_index,
				next_ask_at, state)
			SELECT camp.crisis_id, r.national_id, camp.mission_id, coalesce(r.region_id, 0), camp.id,
				coalesce(r.channel_index, 1),
				now() + make_interval(secs => camp.reask_interval_s),
				CASE WHEN r.channel IS NULL THEN 'unreachable' ELSE 'asked' END::checkin_state
			FROM launch_route r;
		GET DIAGNOSTICS asked = ROW_COUNT;

		body_ko := campaign_render(camp.templates, 'ko', name_mark, camp.title, camp.drill);
		body_en := campaign_render(camp.templates, 'en', name_mark, camp.title, camp.drill);
		INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, language, body)
			SELECT camp.crisis_id, camp.id, r.national_id, camp.mission_id, r.channel, r.recipient, r.lang,
				CASE WHEN r.lang = 'ko' THEN replace(body_ko, name_mark, coalesce(r.name_ko, r.name_latin, ''))
					ELSE replace(body_en, name_mark, coalesce(r.name_latin, r.name_ko, '')) END
			FROM launch_route r WHERE r.channel IS NOT NULL;
		GET DIAGNOSTICS queued = ROW_COUNT;

		UPDATE campaign SET targeted = asked WHERE id = p_campaign;
		DROP TABLE launch_route;
	END IF;
	RETURN QUERY SELECT asked, queued;
END
$$;
