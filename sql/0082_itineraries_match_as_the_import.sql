-- One import of partners' itineraries per mission at a time, with the lock
-- the nationals import takes ('import:'), so the same file sent twice at
-- once adds everyone once. It is taken first, before any row or the
-- membership lock (asked for later only without waiting), so it cannot
-- deadlock with launches or joins.

CREATE OR REPLACE FUNCTION itinerary_import(p_mission bigint, p_source text, p_rows jsonb, p_dry boolean,
		p_actor text, p_role text, p_addr text) RETURNS json LANGUAGE plpgsql AS $$
DECLARE
	refused_rows jsonb;
	skipped_rows jsonb;
	added integer := 0;
	matched integer := 0;
	legs integer := 0;
	skipped integer := 0;
	result json;
BEGIN
	-- One import per mission at a time (the nationals import's lock): two at
	-- once would each find no one and both add the same travellers.
	PERFORM pg_advisory_xact_lock(hashtextextended('import:' || p_mission, 0));
	CREATE TEMP TABLE IF NOT EXISTS itin_leg_row (line integer, person text, name_ko text,
		name_latin text, name_key text, birth_date date, passport_no text, phones text[],
		emails text[], languages text[], country text, place text, region_id bigint,
		point geography, arrival date, departure date, national_id bigint,
		is_new boolean NOT NULL DEFAULT false, refused text, refused_field text,
		deleted_id bigint, deleted_on date, seq integer) ON COMMIT DROP;
	TRUNCATE itin_leg_row;
	INSERT INTO itin_leg_row (line, person, name_ko, name_latin, name_key, birth_date, passport_no,
			phones, emails, languages, country, place, region_id, point, arrival, departure,
			refused, refused_field)
		SELECT x.line, x.person, x.name_ko, x.name_latin, x.name_key, x.birth_date, x.passport_no,
			x.phones, x.emails, x.languages, x.country, x.place, x.region_id, x.point, x.arrival,
			x.departure, bad.reason, bad.field
		FROM (SELECT (r->>'line')::integer AS line,
				coalesce('p:' || (r->>'passport_no'), 'n:' || (r->>'name_key') || '|'
					|| coalesce(r->>'birth_date', '') || '|' || coalesce(r->'phones'->>0, '')) AS person,
				r->>'name_ko' AS name_ko, r->>'name_latin' AS name_latin,
				coalesce(r->>'name_key', '') AS name_key, (r->>'birth_date')::date AS birth_date,
				r->>'passport_no' AS passport_no,
				ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'phones', '[]'))) AS phones,
				ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'emails', '[]'))) AS emails,
				ARRAY(SELECT jsonb_array_elements_text(coalesce(r->'languages', '["ko"]'))) AS languages,
				coalesce(r->>'country', m.default_country) AS country, r->>'place' AS place,
				g.id AS region_id,
				CASE WHEN r ? 'lat' THEN ST_SetSRID(ST_MakePoint((r->>'lon')::float8,
					(r->>'lat')::float8), 4326)::geography END AS point,
				(r->>'arrival')::date AS arrival, (r->>'departure')::date AS departure,
				coalesce(r->>'country', m.default_country) <> m.default_country
					AND NOT coalesce(r->>'country', '') = ANY (m.countries) AS foreign_country,
				r ? 'region' AND g.id IS NULL AS unknown_region,
				NOT r ? 'region' AND NOT r ? 'lat' AS unplaced
			FROM jsonb_array_elements(p_rows) r
			JOIN mission m ON m.id = p_mission
			LEFT JOIN region g ON g.mission_id = p_mission AND g.code = r->>'region') x
		-- The first reason that applies, in the order of the columns.
		LEFT JOIN LATERAL (SELECT v.field, v.reason FROM (VALUES
				(1, 'country', CASE WHEN x.foreign_country
					THEN 'country: not a country of this mission' END),
				(2, 'region', CASE WHEN x.unknown_region
					THEN 'region: no such region in this mission' END),
				(3, 'region', CASE WHEN x.unplaced
					THEN 'region: a leg needs a region code or coordinates to be placed' END),
				(4, 'arrival_date', CASE WHEN x.arrival IS NULL
					THEN 'arrival_date: missing; a leg needs arrival and departure dates'
					WHEN x.arrival NOT BETWEEN '2000-01-01' AND '2100-12-31'
					THEN 'arrival_date: a leg arrives between 2000-01-01 and 2100-12-31' END),
				(5, 'departure_date', CASE WHEN x.departure IS NULL
					THEN 'departure_date: missing; a leg needs arrival and departure dates'
					WHEN x.departure < x.arrival THEN 'departure_date: before the arrival date'
					WHEN x.departure - x.arrival > 3660
					THEN 'departure_date: a leg lasts at most 3660 days' END)) v (o, field, reason)
			WHERE v.reason IS NOT NULL ORDER BY v.o LIMIT 1) bad ON true;
	BEGIN
		-- Match each traveller once: passport, else name, birth date and a phone.
		UPDATE itin_leg_row t SET national_id = x.id FROM (
			SELECT DISTINCT ON (t2.person) t2.person, n.id
			FROM itin_leg_row t2 JOIN national n ON n.mission_id = p_mission AND n.deleted_at IS NULL
				AND ((t2.passport_no IS NOT NULL AND n.passport_no = t2.passport_no)
					OR (t2.passport_no IS NULL AND n.name_key = t2.name_key AND t2.name_key <> ''
						AND n.birth_date = t2.birth_date AND EXISTS (SELECT 1 FROM contact c
							WHERE c.national_id = n.id AND c.kind = 'phone'
								AND c.value = ANY (t2.phones))))
			WHERE t2.refused IS NULL ORDER BY t2.person, n.id) x
		WHERE t.person = x.person AND t.refused IS NULL;
		-- No one registered, but someone staff deleted (the newest deletion):
		-- left out, not brought back unasked. A registrant set aside by a
		-- merge is not a deletion.
		UPDATE itin_leg_row t SET deleted_id = x.id, deleted_on = x.deleted_at::date FROM (
			SELECT DISTINCT ON (t2.person) t2.person, n.id, n.deleted_at
			FROM itin_leg_row t2 JOIN national n ON n.mission_id = p_mission
				AND n.deleted_at IS NOT NULL
				AND ((t2.passport_no IS NOT NULL AND n.passport_no = t2.passport_no)
					OR (t2.passport_no IS NULL AND n.name_key = t2.name_key AND t2.name_key <> ''
						AND n.birth_date = t2.birth_date AND EXISTS (SELECT 1 FROM contact c
							WHERE c.national_id = n.id AND c.kind = 'phone'
								AND c.value = ANY (t2.phones))))
			WHERE t2.refused IS NULL AND t2.national_id IS NULL
				AND NOT EXISTS (SELECT 1 FROM registration_merge m WHERE m.registrant_id = n.id)
			ORDER BY t2.person, n.deleted_at DESC, n.id DESC) x
		WHERE t.person = x.person AND t.refused IS NULL AND t.national_id IS NULL;
		SELECT count(*) INTO skipped FROM itin_leg_row WHERE deleted_id IS NOT NULL;
		-- New travellers' ids are drawn first so every row of the person knows
		-- its id. (Materialised: a rescanned subquery would draw a new id per row.)
		WITH ids AS MATERIALIZED (
			SELECT person, nextval(pg_get_serial_sequence('national', 'id')) AS nid
			FROM (SELECT DISTINCT person FROM itin_leg_row WHERE national_id IS NULL
				AND deleted_id IS NULL AND refused IS NULL) p)
		UPDATE itin_leg_row t SET national_id = x.nid, is_new = true FROM ids x
		WHERE t.person = x.person AND t.refused IS NULL AND t.deleted_id IS NULL;
		-- The legs to store: each once, however often the file or a row is
		-- sent, numbered after the traveller's stored legs; past the 20th a
		-- row is refused, before any of it is stored.
		UPDATE itin_leg_row t SET seq = x.seq FROM (
			SELECT f.line, coalesce((SELECT max(seq) FROM itinerary_leg l
					WHERE l.national_id = f.national_id), 0)
					+ row_number() OVER (PARTITION BY f.national_id ORDER BY f.arrival, f.line) AS seq
			FROM (SELECT DISTINCT ON (t2.national_id, t2.arrival, t2.departure, t2.region_id, t2.place)
					t2.line, t2.national_id, t2.arrival
				FROM itin_leg_row t2 WHERE t2.refused IS NULL AND t2.national_id IS NOT NULL
					AND NOT EXISTS (SELECT 1 FROM itinerary_leg l WHERE l.national_id = t2.national_id
						AND l.arrival = t2.arrival AND l.departure = t2.departure
						AND l.region_id IS NOT DISTINCT FROM t2.region_id
						AND l.place IS NOT DISTINCT FROM t2.place)
				ORDER BY t2.national_id, t2.arrival, t2.departure, t2.region_id, t2.place,
					t2.line) f) x
		WHERE t.line = x.line;
		UPDATE itin_leg_row SET refused = 'legs: a traveller has at most 20 legs; this one is past the 20th',
				refused_field = 'legs'
			WHERE seq > 20;
		-- (Counted by national: one person's rows with and without a passport are one.)
		SELECT count(DISTINCT national_id) INTO matched FROM itin_leg_row
			WHERE national_id IS NOT NULL AND NOT is_new AND refused IS NULL;
		WITH firsts AS (SELECT DISTINCT ON (person) * FROM itin_leg_row
				WHERE is_new AND refused IS NULL ORDER BY person, line),
			ins AS (INSERT INTO national (id, mission_id, name_ko, name_latin, name_key,
					birth_date, passport_no, kind, arrival_date, departure_date, languages, source)
				OVERRIDING SYSTEM VALUE
				SELECT f.national_id, p_mission, f.name_ko, f.name_latin, f.name_key, f.birth_date,
					f.passport_no, 'traveller',
					(SELECT min(arrival) FROM itin_leg_row a WHERE a.person = f.person AND a.is_new
						AND a.refused IS NULL),
					(SELECT max(departure) FROM itin_leg_row a WHERE a.person = f.person AND a.is_new
						AND a.refused IS NULL),
					f.languages, 'import'
				FROM firsts f RETURNING 1)
			SELECT count(*) INTO added FROM ins;
		-- A traveller already known keeps the longer trip.
		UPDATE national n SET arrival_date = least(n.arrival_date, x.a),
				departure_date = greatest(n.departure_date, x.d), updated_at = now()
			FROM (SELECT national_id, min(arrival) AS a, max(departure) AS d FROM itin_leg_row
				WHERE refused IS NULL AND national_id IS NOT NULL GROUP BY national_id) x
			WHERE n.id = x.national_id AND n.kind = 'traveller';
		INSERT INTO contact (national_id, kind, value, priority)
			SELECT DISTINCT ON (t.national_id, p) t.national_id, 'phone', p, 1
			FROM itin_leg_row t, unnest(t.phones) p WHERE t.refused IS NULL AND t.national_id IS NOT NULL
			UNION ALL
			SELECT DISTINCT ON (t.national_id, e) t.national_id, 'email', e, 1
			FROM itin_leg_row t, unnest(t.emails) e WHERE t.refused IS NULL AND t.national_id IS NOT NULL
			ON CONFLICT (national_id, kind, value) DO NOTHING;
		WITH ins AS (INSERT INTO itinerary_leg (national_id, seq, country, place, region_id, point,
					arrival, departure, source)
				SELECT national_id, seq, country, place, region_id, point, arrival, departure,
					'partner' FROM itin_leg_row WHERE refused IS NULL AND seq IS NOT NULL
				RETURNING 1)
			SELECT count(*) INTO legs FROM ins;
		-- Travellers are placed by their itinerary: the new ones, and those the
		-- registry had (the spatial query follows the legs of whoever was last
		-- placed by an itinerary), unless they answered or staff recorded
		-- where they are since this trip began: that is fresher than a plan.
		INSERT INTO location (national_id, point, source)
			SELECT DISTINCT ON (t.national_id) t.national_id,
				coalesce(t.point, ST_PointOnSurface(g.area::geometry)::geography), 'itinerary'
			FROM itin_leg_row t LEFT JOIN region g ON g.id = t.region_id
			JOIN national n ON n.id = t.national_id AND n.kind = 'traveller'
			WHERE t.refused IS NULL
				AND NOT EXISTS (SELECT 1 FROM location l WHERE l.national_id = t.national_id
					AND l.source IN ('reply', 'staff')
					AND l.observed_at >= (SELECT min(a.arrival) FROM itin_leg_row a
						WHERE a.national_id = t.national_id AND a.refused IS NULL)
						- make_interval(days => itinerary_margin_days()))
			ORDER BY t.national_id, t.arrival;
		-- Travellers whose legs are inside the area of a running check-in: asked
		-- now, or queued while a launch holds the mission (a dry run asks nobody).
		IF NOT p_dry THEN
			PERFORM nationals_join_crises(p_mission, ARRAY(SELECT DISTINCT t.national_id
				FROM itin_leg_row t WHERE t.refused IS NULL AND t.national_id IS NOT NULL));
		END IF;
		SELECT coalesce(jsonb_agg(jsonb_build_object('line', line, 'field', refused_field,
				'reason', refused) ORDER BY line), '[]') INTO refused_rows
			FROM itin_leg_row WHERE refused IS NOT NULL;
		SELECT coalesce(jsonb_agg(jsonb_build_object('line', line, 'field', 'national',
				'reason', format('the same person as national %s, deleted on %s: not imported '
					'again (POST /api/v1/nationals/%s/restore brings them back)', deleted_id,
					deleted_on, deleted_id)) ORDER BY line), '[]') INTO skipped_rows
			FROM itin_leg_row WHERE deleted_id IS NOT NULL;
		IF NOT p_dry THEN
			PERFORM audit_record(p_actor, p_role, p_mission, p_addr, 'itinerary.import',
				'mission', p_mission::text, json_build_object('source', p_source, 'added', added,
				'matched', matched, 'legs', legs, 'refused', jsonb_array_length(refused_rows),
				'skipped_deleted', skipped)::text);
		END IF;
		result := json_build_object('source', p_source, 'dry_run', p_dry, 'travellers_added', added,
			'travellers_matched', matched, 'legs_added', legs, 'skipped_deleted', skipped,
			'warnings', skipped_rows, 'refused', refused_rows);
		IF p_dry THEN
			RAISE EXCEPTION 'dry run' USING ERRCODE = 'SF001';
		END IF;
	EXCEPTION WHEN SQLSTATE 'SF001' THEN
		NULL; -- a dry run: everything above is undone, the counts stay
	END;
	RETURN result;
END
$$;
