-- The registry: regions, households, nationals, their contacts and
-- locations, and shelters. A national's newest location is kept on the
-- national row (maintained by trigger) so "who is inside this area" is one
-- indexed query, never a scan of every location.

-- Trigram indexes for name search; pg_trgm is a trusted extension, so the
-- database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE region (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mission_id bigint NOT NULL REFERENCES mission (id),
	-- ISO 3166-2 where there is one ("TR-46"), else the mission's own code.
	code text NOT NULL CHECK (code ~ '^[A-Za-z0-9._-]{1,32}$'),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	area geography(MultiPolygon, 4326) NOT NULL,
	UNIQUE (mission_id, code)
);
CREATE INDEX region_area ON region USING gist (area);

CREATE TABLE household (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mission_id bigint NOT NULL REFERENCES mission (id),
	-- The key an import or a registration gave it, to find it again.
	external_ref text,
	label text NOT NULL DEFAULT '' CHECK (length(label) <= 200),
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (mission_id, external_ref)
);

CREATE TYPE national_kind AS ENUM ('resident', 'traveller');
CREATE TYPE location_source AS ENUM ('registration', 'import', 'itinerary', 'reply', 'staff');

CREATE TABLE national (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mission_id bigint NOT NULL REFERENCES mission (id),
	household_id bigint REFERENCES household (id),
	name_ko text CHECK (length(name_ko) <= 200),
	name_latin text CHECK (length(name_latin) <= 200),
	-- sf_name_search_key of both names, space separated: what name search matches.
	name_key text NOT NULL DEFAULT '',
	birth_date date CHECK (birth_date BETWEEN '1900-01-01' AND '2100-12-31'),
	-- Upper case, letters and digits only.
	passport_no text CHECK (passport_no ~ '^[A-Z0-9]{5,20}$'),
	kind national_kind NOT NULL DEFAULT 'resident',
	arrival_date date,
	departure_date date,
	languages text[] NOT NULL DEFAULT '{ko}',
	needs text[] NOT NULL DEFAULT '{}'
		CHECK (needs <@ ARRAY['child', 'elderly', 'pregnant', 'disability', 'medical']),
	address text CHECK (length(address) <= 500),
	residence_status text CHECK (length(residence_status) <= 100),
	notes text CHECK (length(notes) <= 2000),
	source text NOT NULL DEFAULT 'staff' CHECK (source IN ('staff', 'import', 'self')),
	-- The newest location, copied here by location_newest().
	last_point geography(Point, 4326),
	last_point_at timestamptz,
	last_point_accuracy_m real,
	last_point_source location_source,
	region_id bigint REFERENCES region (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz,
	CONSTRAINT national_has_a_name CHECK (name_ko IS NOT NULL OR name_latin IS NOT NULL),
	CONSTRAINT national_trip_dates CHECK (kind = 'resident' OR (arrival_date IS NOT NULL
		AND departure_date IS NOT NULL AND departure_date >= arrival_date))
);
CREATE UNIQUE INDEX national_passport ON national (mission_id, passport_no)
	WHERE passport_no IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX national_mission ON national (mission_id, id) WHERE deleted_at IS NULL;
CREATE INDEX national_household ON national (household_id) WHERE household_id IS NOT NULL;
CREATE INDEX national_region ON national (mission_id, region_id) WHERE deleted_at IS NULL;
CREATE INDEX national_name_key ON national USING gin (name_key gin_trgm_ops);
CREATE INDEX national_last_point ON national USING gist (last_point) WHERE deleted_at IS NULL;
CREATE INDEX national_departure ON national (departure_date) WHERE kind = 'traveller';

CREATE TABLE contact (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	national_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	kind text NOT NULL CHECK (kind IN ('phone', 'email', 'messenger')),
	-- E.164 for phones, lower-case domain for e-mail.
	value text NOT NULL CHECK (length(value) BETWEEN 3 AND 254),
	priority smallint NOT NULL DEFAULT 1 CHECK (priority BETWEEN 1 AND 9),
	verified boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (national_id, kind, value)
);
CREATE INDEX contact_value ON contact (kind, value);

CREATE TABLE location (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	national_id bigint NOT NULL REFERENCES national (id) ON DELETE CASCADE,
	point geography(Point, 4326) NOT NULL,
	accuracy_m real CHECK (accuracy_m >= 0),
	source location_source NOT NULL,
	observed_at timestamptz NOT NULL DEFAULT now(),
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX location_national ON location (national_id, observed_at DESC);

-- Keeps national.last_point on the newest location; an older one arriving
-- late changes nothing. One statement per inserted batch (a transition
-- table), so a bulk import updates its nationals set-based, and the region
-- is found once here, not per query. Regions are matched in planar lon/lat,
-- which is exact enough for generalised province borders and uses the
-- geometry index.
CREATE INDEX region_area_geom ON region USING gist ((area::geometry));

CREATE FUNCTION location_newest() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE national n SET last_point = l.point, last_point_at = l.observed_at,
		last_point_accuracy_m = l.accuracy_m, last_point_source = l.source,
		region_id = (SELECT r.id FROM region r WHERE r.mission_id = n.mission_id
			AND ST_Intersects(r.area::geometry, l.point::geometry) ORDER BY r.id LIMIT 1),
		updated_at = now()
	FROM (SELECT DISTINCT ON (national_id) * FROM new_locations
		ORDER BY national_id, observed_at DESC, id DESC) l
	-- Strictly newer: an import that already set the point with the same time
	-- is not written twice.
	WHERE n.id = l.national_id
		AND (n.last_point_at IS NULL OR n.last_point_at < l.observed_at);
	RETURN NULL;
END
$$;
CREATE TRIGGER location_newest AFTER INSERT ON location
	REFERENCING NEW TABLE AS new_locations
	FOR EACH STATEMENT EXECUTE FUNCTION location_newest();

CREATE TYPE shelter_kind AS ENUM ('shelter', 'assembly_point', 'embassy', 'hotel', 'airport',
	'border_crossing');

CREATE TABLE shelter (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	mission_id bigint NOT NULL REFERENCES mission (id),
	kind shelter_kind NOT NULL,
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 300),
	address text CHECK (length(address) <= 500),
	point geography(Point, 4326) NOT NULL,
	capacity integer NOT NULL DEFAULT 0 CHECK (capacity >= 0),
	occupancy integer NOT NULL DEFAULT 0 CHECK (occupancy >= 0),
	medical boolean NOT NULL DEFAULT false,
	accessible boolean NOT NULL DEFAULT false,
	open boolean NOT NULL DEFAULT true,
	external_ref text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (mission_id, external_ref)
);
CREATE INDEX shelter_point ON shelter USING gist (point);
CREATE INDEX shelter_mission ON shelter (mission_id, id);

-- The question every campaign starts with: the nationals of a mission whose
-- newest location lies inside an area, on a date (travellers count only
-- between arrival and departure). Served by national_last_point.
-- (NATIONAL is an SQL keyword where a type is expected, hence the table of ids.)
CREATE FUNCTION nationals_in_area(p_mission bigint, p_area geography, p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint) LANGUAGE sql STABLE AS $$
	SELECT n.id, n.region_id FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND ST_Intersects(n.last_point, p_area)
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date AND n.departure_date)
$$;

CREATE FUNCTION nationals_near(p_mission bigint, p_center geography, p_radius_m double precision,
		p_on date)
	RETURNS TABLE (national_id bigint, region_id bigint) LANGUAGE sql STABLE AS $$
	SELECT n.id, n.region_id FROM national n
	WHERE n.mission_id = p_mission AND n.deleted_at IS NULL
		AND ST_DWithin(n.last_point, p_center, p_radius_m)
		AND (n.kind = 'resident' OR p_on BETWEEN n.arrival_date AND n.departure_date)
$$;

-- Retention: a traveller's record is removed p_days after their departure
-- (contacts and locations with it). Each mission's count goes to the audit
-- log, never a name. The crises issue extends this to spare travellers of
-- a crisis that is still open.
CREATE FUNCTION purge_departed_travellers(p_days integer)
	RETURNS TABLE (mission_id bigint, purged bigint) LANGUAGE sql AS $$
	WITH gone AS (
		DELETE FROM national n WHERE n.kind = 'traveller'
			AND n.departure_date < current_date - p_days
		RETURNING n.id, n.mission_id, n.household_id),
	-- Every part of one statement sees the same snapshot: the members just
	-- removed still show, so they are excluded by id.
	empty AS (
		DELETE FROM household h WHERE h.id IN (SELECT household_id FROM gone)
			AND NOT EXISTS (SELECT 1 FROM national x WHERE x.household_id = h.id
				AND x.id NOT IN (SELECT id FROM gone))
		RETURNING h.id),
	counts AS (SELECT g.mission_id, count(*) AS c FROM gone g GROUP BY g.mission_id),
	audited AS (
		SELECT audit_record('safetyd', 'system', c.mission_id, '', 'retention.purge',
			'national', '', json_build_object('purged', c.c, 'after_days', p_days,
			'households_removed', (SELECT count(*) FROM empty))::text)
		FROM counts c)
	SELECT c.mission_id, c.c FROM counts c, (SELECT count(*) FROM audited) a
$$;

-- One CSV field (RFC 4180): quoted when it holds a comma, quote or line
-- break. A leading = + - @ is prefixed with a quote so spreadsheets do not
-- run it as a formula.
CREATE FUNCTION csv_field(v text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN v IS NULL THEN ''
		WHEN v ~ '^[=+@-]' THEN '"''' || replace(v, '"', '""') || '"'
		WHEN v ~ '[",\r\n]' THEN '"' || replace(v, '"', '""') || '"'
		ELSE v END
$$;
