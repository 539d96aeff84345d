-- The privileges of the role safetyd connects as, when it is not the role
-- that owns the schema: everything the code reads and writes, nothing that
-- changes the schema, and on audit_log only SELECT and INSERT. Without
-- ownership the role cannot disable audit_log's triggers, grant itself
-- UPDATE or DELETE back, or alter any table.
--
-- Migrations cannot know the role's name and creating roles needs
-- CREATEROLE, so the role is made by whoever sets the database up, and the
-- owner calls this function after every migration (safetyctl migrate and
-- safetyd --migrate do), so objects of later migrations are covered too.
-- It covers the objects the calling role owns in schema public, and is
-- idempotent: each object's privileges for the role are set exactly, not
-- added to.
CREATE FUNCTION safety_grant_app_role(p_role name) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, public AS $$
DECLARE
	r pg_roles%ROWTYPE;
	obj record;
	n integer := 0;
BEGIN
	SELECT * INTO r FROM pg_roles WHERE rolname = p_role;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'role "%" does not exist', p_role
			USING HINT = 'create it first, as in the README: CREATE ROLE ' ||
				quote_ident(p_role) || ' LOGIN PASSWORD ''...''';
	END IF;
	-- A role that is, or acts as, the owner would keep every power this
	-- is meant to take away.
	IF r.rolsuper OR pg_has_role(p_role, current_user, 'USAGE') THEN
		RAISE EXCEPTION 'role "%" is a superuser or the schema''s owner (or a member of it)',
			p_role
			USING HINT = 'safetyd must connect as a role of its own that owns nothing';
	END IF;
	IF (SELECT datdba FROM pg_database WHERE datname = current_database()) =
			(SELECT oid FROM pg_roles WHERE rolname = current_user) THEN
		EXECUTE format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I',
			current_database(), p_role);
	END IF;
	EXECUTE format('GRANT USAGE ON SCHEMA public TO %I', p_role);

	FOR obj IN
		SELECT c.oid::regclass AS name, c.relname, c.relkind
		FROM pg_class c
		WHERE c.relnamespace = 'public'::regnamespace
			AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
			AND pg_has_role(c.relowner, 'USAGE')
			AND NOT EXISTS (SELECT 1 FROM pg_depend d
				WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
					AND d.deptype = 'e')
	LOOP
		EXECUTE format('REVOKE ALL ON %s FROM %I', obj.name, p_role);
		IF obj.relkind = 'S' THEN
			EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I', obj.name, p_role);
		ELSIF obj.relname = 'audit_log' THEN
			-- Append-only: its triggers refuse changes, and without
			-- ownership the role cannot switch them off.
			EXECUTE format('GRANT SELECT, INSERT ON %s TO %I', obj.name, p_role);
		ELSIF obj.relname = 'schema_migration' THEN
			EXECUTE format('GRANT SELECT ON %s TO %I', obj.name, p_role);
		ELSE
			EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO %I',
				obj.name, p_role);
		END IF;
		n := n + 1;
	END LOOP;

	FOR obj IN
		SELECT p.oid::regprocedure AS name, p.proname, p.prokind
		FROM pg_proc p
		WHERE p.pronamespace = 'public'::regnamespace
			AND p.prokind IN ('f', 'p')
			AND pg_has_role(p.proowner, 'USAGE')
			AND NOT EXISTS (SELECT 1 FROM pg_depend d
				WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
					AND d.deptype = 'e')
	LOOP
		IF obj.proname = 'safety_grant_app_role' THEN
			EXECUTE format('REVOKE ALL ON FUNCTION %s FROM %I', obj.name, p_role);
		ELSIF obj.prokind = 'p' THEN
			EXECUTE format('GRANT EXECUTE ON PROCEDURE %s TO %I', obj.name, p_role);
		ELSE
			EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', obj.name, p_role);
		END IF;
		n := n + 1;
	END LOOP;
	RETURN n;
END
$$;

-- Only the owner grants.
REVOKE ALL ON FUNCTION safety_grant_app_role(name) FROM PUBLIC;
