-- Foundation: PostGIS must be present, and the mission (an embassy or a
-- consulate) exists, because every other table hangs from one.

DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis') THEN
		RAISE EXCEPTION 'PostGIS is not installed in database %', current_database()
			USING HINT = 'as a superuser: CREATE EXTENSION postgis;';
	END IF;
END
$$;

CREATE TABLE mission (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	code text NOT NULL UNIQUE CHECK (code ~ '^[A-Z0-9][A-Z0-9-]{1,31}$'),
	name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
	-- ISO 3166-1 alpha-2 country whose phone numbers are assumed in national form.
	default_country text NOT NULL CHECK (default_country ~ '^[A-Z]{2}$'),
	-- Countries the mission is responsible for.
	countries text[] NOT NULL DEFAULT '{}',
	jurisdiction geography(MultiPolygon, 4326),
	timezone text NOT NULL DEFAULT 'UTC',
	created_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE mission IS 'An embassy or consulate; staff and nationals belong to one.';
