-- Partners' itineraries of thousands of travellers are stored in seconds.
--
-- The file's rows were planned on statistics taken before any traveller was
-- matched or added, which said no row was new: adding the new travellers
-- then read the whole file once per traveller (1,500 took 1.2 s, 6,000
-- past the 5 s statement timeout). The rows are analyzed again once each
-- has its traveller, and the place a trip gives is kept from answers since
-- the trip began through one look at each traveller's legs, not one read of
-- the file per location. A known traveller whose trip already holds the
-- file's legs is not written again, nor a new one twice, nor given the same
-- place again; travellers matched by passport are not looked for by phone
-- as well.
--
-- A large file refreshes the registry's statistics, its legs' too, as the
-- nationals import does: the same 12,000 legs again took 26 s, planned on
-- the tables as they were before the first import.

CREATE OR REPLACE FUNCTION registry_analyze() RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
	ANALYZE public.national;
	ANALYZE public.contact;
	ANALYZE public.location;
	ANALYZE public.household;
	ANALYZE public.itinerary_leg;
END
$$;

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
	relinked integer;
	rounds integer := 0;
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
				NULL::text AS person,
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
		-- (The steps below are joins over the file: planned on its statistics.)
		ANALYZE itin_leg_row;
		-- A passport is believed only with a name of its holder (the registered
		-- one, else the last deleted): a typo in it must not put a stranger's
		-- trip and phone on someone else. Masked as in the API's answers.
		UPDATE itin_leg_row t SET refused_field = 'passport_no',
				refused = 'passport_no: passport ' || left(n.passport_no, 1)
					|| repeat('*', greatest(length(n.passport_no) - 3, 1)) || right(n.passport_no, 2)
					|| ' is held by another person (national ' || n.id || '), whose names differ;'
					|| ' check the passport number; nothing of this row was stored'
			FROM (SELECT DISTINCT ON (x.passport_no) x.id, x.passport_no, x.name_key FROM national x
				WHERE x.mission_id = p_mission AND x.passport_no IN (SELECT passport_no FROM itin_leg_row)
				ORDER BY x.passport_no, x.deleted_at IS NOT NULL, x.deleted_at DESC) n
			WHERE t.refused IS NULL AND t.passport_no = n.passport_no
				AND NOT itinerary_names_shared(n.name_key, t.name_key);
		-- The same within the file: a passport's rows share a name with its first.
		UPDATE itin_leg_row t SET refused_field = 'passport_no',
				refused = 'passport_no: the same passport as line ' || f.line || ', whose names differ;'
					|| ' check the passport number; nothing of this row was stored'
			FROM (SELECT DISTINCT ON (passport_no) passport_no, line, name_key FROM itin_leg_row
				WHERE refused IS NULL AND passport_no IS NOT NULL ORDER BY passport_no, line) f
			WHERE t.refused IS NULL AND t.passport_no = f.passport_no AND t.line > f.line
				AND NOT itinerary_names_shared(f.name_key, t.name_key);
		-- Which rows are one traveller: one passport; a row without it joins
		-- the one passport whose rows have its phone, a name (one script is
		-- enough) and its birth date (or none on both: within a file, one row
		-- without it could be a father's beside his son's), and is refused
		-- when it fits several; else the rows without a passport it fits that
		-- way, under the first of them. Rows are compared through keys of a
		-- phone, the birth date and one name (names that match share one),
		-- hashed: comparing every row with every other would take minutes for
		-- a large file, the more so with a partner's own number on every row.
		CREATE TEMP TABLE IF NOT EXISTS itin_row_key (line integer, k text, passport_no text,
			name_key text) ON COMMIT DROP;
		TRUNCATE itin_row_key;
		INSERT INTO itin_row_key (line, k, passport_no, name_key)
			SELECT DISTINCT t.line, ph || '|' || coalesce(t.birth_date::text, '') || '|' || nm,
				t.passport_no, t.name_key
			FROM itin_leg_row t, unnest(t.phones) ph, unnest(string_to_array(t.name_key, ' ')) nm
			WHERE t.refused IS NULL AND t.name_key <> ''
			-- A row without a phone: its whole name and birth date (an airline's
			-- manifest repeats both on each leg), so its legs are one traveller.
			UNION
			SELECT t.line, '-|' || coalesce(t.birth_date::text, '') || '|' || t.name_key,
				t.passport_no, t.name_key
			FROM itin_leg_row t
			WHERE t.refused IS NULL AND t.name_key <> '' AND coalesce(cardinality(t.phones), 0) = 0;
		ANALYZE itin_row_key;
		UPDATE itin_leg_row SET person = 'p:' || passport_no
			WHERE refused IS NULL AND passport_no IS NOT NULL;
		UPDATE itin_leg_row t SET person = CASE WHEN x.k = 1 THEN 'p:' || x.passport_no END,
				refused_field = CASE WHEN x.k > 1 THEN 'phone' END,
				refused = CASE WHEN x.k > 1 THEN 'phone: may be the traveller of line ' || x.lines
					|| ' (the same name and phone, with other passports); add the passport or a '
					|| 'birth date that tells which; nothing of this row was stored' END
			FROM (SELECT f.line, count(*) AS k, min(f.passport_no) AS passport_no,
					string_agg(f.first::text, ' or line ' ORDER BY f.first) AS lines
				FROM (SELECT a.line, b.passport_no, min(b.line) AS first
					FROM itin_row_key a JOIN itin_row_key b ON b.k = a.k
					WHERE a.passport_no IS NULL AND b.passport_no IS NOT NULL
						AND itinerary_names_match(b.name_key, a.name_key)
					GROUP BY a.line, b.passport_no) f
				GROUP BY f.line) x
			WHERE t.line = x.line;
		DELETE FROM itin_row_key k USING itin_leg_row t
			WHERE t.line = k.line AND (t.person IS NOT NULL OR t.refused IS NOT NULL);
		UPDATE itin_leg_row t SET person = 'l:' || x.first FROM (
				SELECT a.line, min(b.line) AS first
				FROM itin_row_key a JOIN itin_row_key b ON b.k = a.k
					AND itinerary_names_match(b.name_key, a.name_key)
				GROUP BY a.line) x
			WHERE t.line = x.line;
		-- Rows linked through others (phone 1; phones 1 and 2; phone 2) are one
		-- traveller too: each takes its neighbours' smallest group until none
		-- changes (as many rounds as the longest chain).
		LOOP
			UPDATE itin_leg_row t SET person = 'l:' || x.g FROM (
					SELECT a.line, min(substr(tb.person, 3)::integer) AS g
					FROM itin_row_key a JOIN itin_row_key b ON b.k = a.k
						AND itinerary_names_match(b.name_key, a.name_key)
					JOIN itin_leg_row tb ON tb.line = b.line
					GROUP BY a.line) x
				WHERE t.line = x.line AND substr(t.person, 3)::integer > x.g;
			GET DIAGNOSTICS relinked = ROW_COUNT;
			rounds := rounds + 1;
			EXIT WHEN relinked = 0 OR rounds >= 100;
		END LOOP;
		UPDATE itin_leg_row SET person = 'l:' || line
			WHERE refused IS NULL AND person IS NULL;
		-- Each traveller in the registry: the holder of their passport, else
		-- the one registered person with a phone, a name and the birth date of
		-- one of their rows (a row without a birth date is no contradiction;
		-- one whose passport differs from the stored one needs the birth date),
		-- else the last one staff deleted by the same rules.
		CREATE TEMP TABLE IF NOT EXISTS itin_person (person text PRIMARY KEY, by_passport bigint,
			live bigint[], gone bigint, gone_on date) ON COMMIT DROP;
		TRUNCATE itin_person;
		INSERT INTO itin_person (person)
			SELECT DISTINCT person FROM itin_leg_row WHERE refused IS NULL AND person IS NOT NULL;
		UPDATE itin_person p SET by_passport = x.id FROM (
				SELECT t.person, min(n.id) AS id FROM itin_leg_row t
				JOIN national n ON n.mission_id = p_mission AND n.deleted_at IS NULL
					AND n.passport_no = t.passport_no
				WHERE t.refused IS NULL AND t.passport_no IS NOT NULL GROUP BY t.person) x
			WHERE p.person = x.person;
		UPDATE itin_person p SET live = x.ids FROM (
				SELECT t.person, array_agg(DISTINCT n.id ORDER BY n.id) AS ids FROM itin_leg_row t
				JOIN itin_person q ON q.person = t.person AND q.by_passport IS NULL
				JOIN contact c ON c.kind = 'phone' AND c.value = ANY (t.phones)
				JOIN national n ON n.id = c.national_id AND n.mission_id = p_mission
					AND n.deleted_at IS NULL
				WHERE t.refused IS NULL AND itinerary_names_match(n.name_key, t.name_key)
					AND (t.birth_date IS NULL OR n.birth_date = t.birth_date)
					AND (t.passport_no IS NULL OR n.passport_no IS NULL OR n.birth_date = t.birth_date)
				GROUP BY t.person) x
			WHERE p.person = x.person AND p.by_passport IS NULL;
		-- A registrant set aside by a merge is not a deletion.
		UPDATE itin_person p SET gone = x.id, gone_on = x.deleted_at::date FROM (
				SELECT DISTINCT ON (g.person) g.person, g.id, g.deleted_at FROM (
					SELECT t.person, n.id, n.deleted_at, 0 AS how FROM itin_leg_row t
					JOIN national n ON n.mission_id = p_mission AND n.deleted_at IS NOT NULL
						AND n.passport_no = t.passport_no
					WHERE t.refused IS NULL AND t.passport_no IS NOT NULL
					UNION ALL
					SELECT t.person, n.id, n.deleted_at, 1 FROM itin_leg_row t
					JOIN contact c ON c.kind = 'phone' AND c.value = ANY (t.phones)
					JOIN national n ON n.id = c.national_id AND n.mission_id = p_mission
						AND n.deleted_at IS NOT NULL
					WHERE t.refused IS NULL AND itinerary_names_match(n.name_key, t.name_key)
						AND (t.birth_date IS NULL OR n.birth_date = t.birth_date)
						AND (t.passport_no IS NULL OR n.passport_no IS NULL
							OR n.birth_date = t.birth_date)) g
				WHERE NOT EXISTS (SELECT 1 FROM registration_merge m WHERE m.registrant_id = g.id)
				ORDER BY g.person, g.how, g.deleted_at DESC, g.id DESC) x
			WHERE p.person = x.person AND p.by_passport IS NULL AND p.live IS NULL;
		-- Which of several registered people it is, no rule can tell: either
		-- guess would put the trip on someone else.
		UPDATE itin_leg_row t SET refused_field = 'phone',
				refused = 'phone: may be any of nationals '
					|| array_to_string(p.live[1:5], ', ') || CASE WHEN cardinality(p.live) > 5
						THEN ' and ' || (cardinality(p.live) - 5) || ' more' ELSE '' END
					|| ' (the same name and phone); add the passport or a birth date that tells'
					|| ' which; nothing of this row was stored'
			FROM itin_person p
			WHERE t.person = p.person AND t.refused IS NULL AND p.by_passport IS NULL
				AND cardinality(p.live) > 1;
		UPDATE itin_leg_row t SET national_id = coalesce(p.by_passport, p.live[1])
			FROM itin_person p
			WHERE t.person = p.person AND t.refused IS NULL
				AND (p.by_passport IS NOT NULL OR cardinality(p.live) = 1);
		-- No one registered, but someone staff deleted: left out, not brought
		-- back unasked.
		UPDATE itin_leg_row t SET deleted_id = p.gone, deleted_on = p.gone_on
			FROM itin_person p
			WHERE t.person = p.person AND t.refused IS NULL AND t.national_id IS NULL
				AND p.gone IS NOT NULL;
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
		-- (The file's rows now have their travellers: planned again on that, or
		-- each new traveller's row is looked for by reading the whole file.)
		ANALYZE itin_leg_row;
		-- (Counted by national: one person's rows with and without a passport are one.)
		SELECT count(DISTINCT national_id) INTO matched FROM itin_leg_row
			WHERE national_id IS NOT NULL AND NOT is_new AND refused IS NULL;
		-- A new traveller's names are those of their most complete row, their
		-- passport that of any row (rows without it are theirs too), their
		-- trip all their legs. (Aggregated once: a lookup per traveller read
		-- the whole file each time.)
		WITH agg AS (SELECT person, max(passport_no) AS passport, min(arrival) AS arrival,
					max(departure) AS departure
				FROM itin_leg_row WHERE is_new AND refused IS NULL GROUP BY person),
			firsts AS (SELECT DISTINCT ON (t.person) t.*, g.passport, g.arrival AS trip_from,
					g.departure AS trip_to
				FROM itin_leg_row t JOIN agg g ON g.person = t.person
				WHERE t.is_new AND t.refused IS NULL
				ORDER BY t.person, (t.name_ko IS NULL)::int + (t.name_latin IS NULL)::int,
					t.birth_date IS NULL, t.passport_no IS NULL, t.line),
			ins AS (INSERT INTO national (id, mission_id, name_ko, name_latin, name_key,
					birth_date, passport_no, kind, arrival_date, departure_date, languages, source)
				OVERRIDING SYSTEM VALUE
				SELECT f.national_id, p_mission, f.name_ko, f.name_latin, f.name_key, f.birth_date,
					f.passport, 'traveller', f.trip_from, f.trip_to, f.languages, 'import'
				FROM firsts f RETURNING 1)
			SELECT count(*) INTO added FROM ins;
		-- A traveller already known keeps the longer trip (a new one has it
		-- already; one whose trip holds these legs is not written again).
		UPDATE national n SET arrival_date = least(n.arrival_date, x.a),
				departure_date = greatest(n.departure_date, x.d), updated_at = now()
			FROM (SELECT national_id, min(arrival) AS a, max(departure) AS d FROM itin_leg_row
				WHERE refused IS NULL AND national_id IS NOT NULL AND NOT is_new
				GROUP BY national_id) x
			WHERE n.id = x.national_id AND n.kind = 'traveller'
				AND (n.arrival_date IS NULL OR x.a < n.arrival_date
					OR n.departure_date IS NULL OR x.d > n.departure_date);
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
		-- (One already placed there by an itinerary is not placed again: the
		-- same file sent again adds no place.)
		INSERT INTO location (national_id, point, source)
			SELECT f.national_id, f.point, 'itinerary' FROM (
				SELECT DISTINCT ON (t.national_id) t.national_id,
					coalesce(t.point, ST_PointOnSurface(g.area::geometry)::geography) AS point,
					n.last_point, n.last_point_source
				FROM itin_leg_row t LEFT JOIN region g ON g.id = t.region_id
				JOIN national n ON n.id = t.national_id AND n.kind = 'traveller'
				JOIN (SELECT a.national_id,
						min(a.arrival) - make_interval(days => itinerary_margin_days()) AS since
					FROM itin_leg_row a WHERE a.refused IS NULL AND a.national_id IS NOT NULL
					GROUP BY a.national_id) trip ON trip.national_id = t.national_id
				WHERE t.refused IS NULL
					AND NOT EXISTS (SELECT 1 FROM location l WHERE l.national_id = t.national_id
						AND l.observed_at >= trip.since AND l.source IN ('reply', 'staff'))
				ORDER BY t.national_id, t.arrival) f
			WHERE NOT coalesce(f.last_point_source = 'itinerary'
				AND ST_DWithin(f.point, f.last_point, 0.1), false);
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
		-- A large file changes what the registry looks like to the planner:
		-- the same file again, before autovacuum's turn, was matched by nested
		-- loops over tables taken for what they were before it.
		IF NOT p_dry AND added + legs >= 1000 THEN
			PERFORM registry_analyze();
		END IF;
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
