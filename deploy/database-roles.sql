-- The database, its owner and the role safetyd connects as. Run once as a
-- PostgreSQL superuser; running it again changes nothing:
--
--   sudo -u postgres psql -f /usr/share/safety/database-roles.sql
--
-- Two roles, so that whoever gets safetyd's password cannot change the
-- schema, disable audit_log's triggers or rewrite the audit log:
--
--   safety      owns the database and every table; runs `safetyctl migrate`
--               (as [database] migrate_url or SAFETY_MIGRATE_URL). Keep its
--               password with the administrators, not on the server's
--               service account.
--   safety_app  what safetyd and safetyctl's everyday commands log in as
--               ([database] url). Owns nothing; `safetyctl migrate`, run as
--               the owner, grants it SELECT/INSERT/UPDATE/DELETE on the
--               tables (on audit_log only SELECT and INSERT), USAGE on the
--               sequences, EXECUTE on the functions, and again after every
--               migration so new tables are covered.
--
-- Then set the passwords (\password safety, \password safety_app), and
-- run, as an administrator holding the owner's password:
--
--   SAFETY_MIGRATE_URL='host=/var/run/postgresql dbname=safety user=safety' \
--       safetyctl -c /etc/safety/safety.conf migrate
--
-- which migrates and grants safety_app (the role of [database] url).
-- An existing installation where safetyd connected as the owner: run this
-- file, point [database] url at safety_app, and migrate as above.
\set ON_ERROR_STOP on

SELECT 'CREATE ROLE safety LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'safety') \gexec
SELECT 'CREATE ROLE safety_app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT'
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'safety_app') \gexec
-- The application role must not act as the owner.
SELECT format('REVOKE safety FROM safety_app')
WHERE pg_has_role('safety_app', 'safety', 'MEMBER') \gexec
SELECT 'CREATE DATABASE safety OWNER safety'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'safety') \gexec

\connect safety
CREATE EXTENSION IF NOT EXISTS postgis;
-- PostgreSQL 15 already keeps CREATE on schema public from PUBLIC; a
-- database made by an older version or restored from one may not.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
