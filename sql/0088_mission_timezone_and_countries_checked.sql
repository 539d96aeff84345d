-- A mission's time zone must be one PostgreSQL knows, and its countries
-- must be ISO codes that include its own country, whoever writes the row.
--
-- The API checked these, but safetyctl mission add stored whatever it was
-- given: a mission with the time zone 'Mars/Base' made every query that
-- turns a time into the mission's local time fail, so the public
-- registration page answered 503 for every mission and that mission's
-- families' notifications failed, leaving its nationals' answers without a
-- status. pg_timezone_names is not immutable, so a CHECK constraint cannot
-- ask it: a trigger does, before each insert and each change of these
-- columns, with the same rule and words as the API. Missions already stored
-- with an unknown zone are set to 'UTC', and a list of countries that left
-- out the mission's own gets it; each repair is announced with a WARNING
-- (safetyctl migrate shows warnings; it hides notices).

DO $$
DECLARE
	m record;
BEGIN
	FOR m IN SELECT id, code, timezone FROM mission
			WHERE timezone NOT IN (SELECT name FROM pg_timezone_names) ORDER BY id LOOP
		RAISE WARNING 'mission %: unknown time zone % set to UTC', m.code, quote_literal(m.timezone);
		UPDATE mission SET timezone = 'UTC' WHERE id = m.id;
	END LOOP;
	FOR m IN SELECT id, code, default_country, countries FROM mission
			WHERE cardinality(countries) > 0 AND (NOT default_country = ANY (countries)
				OR EXISTS (SELECT 1 FROM unnest(countries) c WHERE c IS NULL OR c !~ '^[A-Z]{2}$'))
			ORDER BY id LOOP
		RAISE WARNING 'mission %: countries % set to %', m.code, m.countries,
			ARRAY(SELECT m.default_country UNION SELECT upper(c) FROM unnest(m.countries) c
				WHERE upper(c) ~ '^[A-Z]{2}$' ORDER BY 1);
		UPDATE mission SET countries = ARRAY(SELECT m.default_country UNION SELECT upper(c)
				FROM unnest(m.countries) c WHERE upper(c) ~ '^[A-Z]{2}$' ORDER BY 1)
			WHERE id = m.id;
	END LOOP;
END
$$;

-- The rule the API (routes_admin.c) and safetyctl mission add share.
CREATE OR REPLACE FUNCTION mission_settings_check() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
BEGIN
	IF NEW.timezone IS NULL OR NOT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = NEW.timezone) THEN
		RAISE EXCEPTION 'timezone: not a known time zone name (e.g. Europe/Istanbul)'
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = format('The time zone given was %L.', NEW.timezone);
	END IF;
	IF NEW.default_country IS NULL OR NEW.default_country !~ '^[A-Z]{2}$' THEN
		RAISE EXCEPTION 'default_country: a two-letter upper-case ISO 3166 code'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM unnest(NEW.countries) c WHERE c IS NULL OR c !~ '^[A-Z]{2}$') THEN
		RAISE EXCEPTION 'countries: two-letter upper-case ISO 3166 codes'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF cardinality(NEW.countries) > 0 AND NOT NEW.default_country = ANY (NEW.countries) THEN
		RAISE EXCEPTION 'countries: must include default_country %', NEW.default_country
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS mission_settings_checked ON mission;
CREATE TRIGGER mission_settings_checked
	BEFORE INSERT OR UPDATE OF timezone, default_country, countries ON mission
	FOR EACH ROW EXECUTE FUNCTION mission_settings_check();
