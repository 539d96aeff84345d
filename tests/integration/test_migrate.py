"""Schema migrations: applied once, idempotent, a changed or missing file
refused without touching the database, and safetyd refusing to serve an old
schema until it is migrated. Migrations run as the schema's owner, which
grants the role safetyd connects as what it needs; that role itself never
migrates."""

import os
import shutil
import subprocess
import tempfile

from harness import APP_ROLE, OWNER_ROLE, SAFETYCTL, SAFETYD, SOURCE_DIR, Cluster, Daemon, check, ctl, eventually, expect_equal, free_port, owner_url, run

cluster = Cluster.shared()
DB = "t_migrate"


def fresh_sql_dir():
    d = tempfile.mkdtemp(prefix="safety-sql-")
    for name in os.listdir(os.path.join(SOURCE_DIR, "sql")):
        shutil.copy(os.path.join(SOURCE_DIR, "sql", name), d)
    return d


def config_for(sql_dir):
    path = os.path.join(sql_dir, "..", os.path.basename(sql_dir) + ".conf")
    with open(path, "w") as f:
        f.write("[paths]\nsql_dir = %s\n" % sql_dir)
    return path


def migrations_apply_once_and_record_checksums():
    conn = cluster.createdb(DB)
    sql = fresh_sql_dir()
    conf = config_for(sql)
    files = sorted(f for f in os.listdir(sql) if f.endswith(".sql"))
    st = ctl(conn, "migrate", "status", config=conf)
    expect_equal(st.returncode, 1, "status of an empty database")
    check("pending  %s" % files[-1] in st.stdout and "not current" in st.stderr, st.stdout + st.stderr)
    r = ctl(conn, "migrate", config=conf)
    expect_equal(r.returncode, 0, "first migrate: " + r.stderr)
    for f in files:
        check("applied %s" % f in r.stdout, r.stdout)
    rows = cluster.psql(DB, "SELECT count(*), count(DISTINCT checksum) FROM schema_migration")
    expect_equal(rows, "%d|%d" % (len(files), len(files)), "recorded migrations")
    r2 = ctl(conn, "migrate", config=conf)
    expect_equal(r2.returncode, 0, "second migrate")
    check(r2.stdout.startswith("nothing to do"), r2.stdout)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM schema_migration"), str(len(files)), "still recorded once")
    st = ctl(conn, "migrate", "status", config=conf)
    expect_equal(st.returncode, 0, "status when current: " + st.stderr)
    check("pending" not in st.stdout and "applied  %s" % files[0] in st.stdout, st.stdout)
    shutil.rmtree(sql)


def changed_migration_is_refused_and_nothing_changes():
    conn = cluster.createdb(DB)
    sql = fresh_sql_dir()
    conf = config_for(sql)
    expect_equal(ctl(conn, "migrate", config=conf).returncode, 0, "first migrate")
    first = sorted(f for f in os.listdir(sql) if f.endswith(".sql"))[0]
    with open(os.path.join(sql, first), "a") as f:
        f.write("\n-- edited after it was applied\n")
    # A new pending migration must not be applied either.
    with open(os.path.join(sql, "9999_later.sql"), "w") as f:
        f.write("CREATE TABLE should_not_exist (id int);\n")
    r = ctl(conn, "migrate", config=conf)
    expect_equal(r.returncode, 1, "exit code")
    check("was changed after it was applied" in r.stderr and first in r.stderr, r.stderr)
    check("hint:" in r.stderr, r.stderr)
    expect_equal(cluster.psql(DB, "SELECT to_regclass('should_not_exist') IS NULL"), "t", "later migration not applied")
    shutil.rmtree(sql)


def missing_applied_migration_is_refused():
    conn = cluster.createdb(DB)
    sql = fresh_sql_dir()
    conf = config_for(sql)
    with open(os.path.join(sql, "9998_extra.sql"), "w") as f:
        f.write("CREATE TABLE extra_one (id int);\n")
    with open(os.path.join(sql, "9999_extra.sql"), "w") as f:
        f.write("CREATE TABLE extra_two (id int);\n")
    expect_equal(ctl(conn, "migrate", config=conf).returncode, 0, "migrate with extras")
    os.remove(os.path.join(sql, "9998_extra.sql"))
    r = ctl(conn, "migrate", config=conf)
    expect_equal(r.returncode, 1, "exit code")
    check("9998_extra.sql is recorded as applied but its file is missing" in r.stderr, r.stderr)
    shutil.rmtree(sql)


def a_migration_numbered_below_the_applied_ones_is_refused():
    """One that arrived late, numbered before the newest applied, would otherwise be skipped for ever."""
    conn = cluster.createdb(DB)
    sql = fresh_sql_dir()
    conf = config_for(sql)
    with open(os.path.join(sql, "9999_later.sql"), "w") as f:
        f.write("CREATE TABLE later_one (id int);\n")
    expect_equal(ctl(conn, "migrate", config=conf).returncode, 0, "migrate")
    with open(os.path.join(sql, "9998_late.sql"), "w") as f:
        f.write("CREATE TABLE late_one (id int);\n")
    r = ctl(conn, "migrate", config=conf)
    expect_equal(r.returncode, 1, "exit code")
    check("9998_late.sql was never applied, but 9999" in r.stderr and "hint:" in r.stderr, r.stderr)
    st = ctl(conn, "migrate", "status", config=conf)
    expect_equal(st.returncode, 1, "status with a gap")
    check("pending  9998_late.sql" in st.stdout and "never applied" in st.stderr, st.stdout + st.stderr)
    expect_equal(cluster.psql(DB, "SELECT to_regclass('late_one') IS NULL"), "t", "not applied")
    shutil.rmtree(sql)


def failing_migration_rolls_back_alone():
    conn = cluster.createdb(DB)
    sql = fresh_sql_dir()
    conf = config_for(sql)
    with open(os.path.join(sql, "9998_good.sql"), "w") as f:
        f.write("CREATE TABLE good_one (id int);\n")
    with open(os.path.join(sql, "9999_bad.sql"), "w") as f:
        f.write("CREATE TABLE half_done (id int);\nSELECT * FROM no_such_table;\n")
    r = ctl(conn, "migrate", config=conf)
    expect_equal(r.returncode, 1, "exit code")
    check("migration 9999_bad.sql failed" in r.stderr and "no_such_table" in r.stderr, r.stderr)
    expect_equal(cluster.psql(DB, "SELECT to_regclass('good_one') IS NOT NULL, to_regclass('half_done') IS NULL"),
                 "t|t", "good applied, bad rolled back")
    expect_equal(cluster.psql(DB, "SELECT max(version) FROM schema_migration"), "9998", "recorded version")
    shutil.rmtree(sql)


def answer_times_stored_as_1970_are_cleared():
    """Staff's decisions for people who never answered had their answer times stored as
    1970-01-01: migrating clears them and keeps every real time."""
    conn = cluster.createdb(DB)
    sql = fresh_sql_dir()
    conf = config_for(sql)
    held = tempfile.mkdtemp(prefix="safety-sql-held-")
    for name in os.listdir(sql):
        if name >= "0079":
            shutil.move(os.path.join(sql, name), held)
    expect_equal(ctl(conn, "migrate", config=conf).returncode, 0, "migrate to 0078")
    expect_equal(ctl(conn, "mission", "add", "TR-ANK", "--name", "E", "--country", "TR").returncode, 0, "mission")
    cluster.psql(DB, """
INSERT INTO national (mission_id, name_latin, name_ko, name_key, birth_date)
  SELECT 1, 'KIM ' || i, '김' || i, 'k' || i, date '1990-06-01' FROM generate_series(1, 2) i;
INSERT INTO crisis (kind, title, center, radius_m)
  VALUES ('earthquake', 'Hatay', ST_SetSRID(ST_MakePoint(36.1, 36.2), 4326)::geography, 50000);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO person_status (crisis_id, national_id, mission_id, status, at, set_by_staff, answered_at, own_at,
                           proxy_at)
  VALUES (1, 1, 1, 'missing', now(), true, 'epoch', 'epoch', 'epoch'),
         (1, 2, 1, 'safe', now(), false, '2026-11-28 10:00+00', '2026-11-28 10:00+00', 'epoch');
""")
    for name in os.listdir(held):
        shutil.move(os.path.join(held, name), sql)
    r = ctl(conn, "migrate", config=conf)
    expect_equal(r.returncode, 0, r.stderr)
    expect_equal(cluster.psql(DB, "SELECT national_id, status, answered_at IS NULL, own_at IS NULL, proxy_at IS NULL, "
                                  "answered_at = '2026-11-28 10:00+00' FROM person_status ORDER BY 1").split("\n"),
                 ["1|missing|t|t|t|", "2|safe|f|f|t|t"], "1970 cleared, real times kept")
    shutil.rmtree(sql)
    shutil.rmtree(held)


def missions_with_unknown_time_zones_are_repaired():
    """A mission stored with a time zone PostgreSQL does not know (safetyctl once took any)
    is set to UTC by migrating, with a warning naming it, and countries that left out the
    mission's own country get it; from then on such a row cannot be written."""
    conn = cluster.createdb(DB)
    sql = fresh_sql_dir()
    conf = config_for(sql)
    held = tempfile.mkdtemp(prefix="safety-sql-held-")
    for name in os.listdir(sql):
        if name >= "0088":
            shutil.move(os.path.join(sql, name), held)
    expect_equal(ctl(conn, "migrate", config=conf).returncode, 0, "migrate to 0084")
    cluster.psql(DB, "SET ROLE safety; INSERT INTO mission (code, name, default_country, countries, timezone) "
                     "VALUES ('XX-MARS', 'X', 'TR', '{SY}', 'Mars/Base'), ('XX-OK', 'Y', 'TR', '{TR}', "
                     "'Europe/Istanbul')")
    for name in os.listdir(held):
        shutil.move(os.path.join(held, name), sql)
    r = ctl(conn, "migrate", config=conf)
    expect_equal(r.returncode, 0, r.stderr)
    check("XX-MARS: unknown time zone 'Mars/Base' set to UTC" in r.stderr, r.stderr)
    expect_equal(cluster.psql(DB, "SELECT code, timezone, array_to_string(countries, ',') FROM mission "
                                  "ORDER BY code").split("\n"),
                 ["XX-MARS|UTC|SY,TR", "XX-OK|Europe/Istanbul|TR"], "repaired, the good one kept")
    r = cluster.pg("psql", cluster.dir, "-d", DB, "-c",
                   "SET ROLE safety; UPDATE mission SET timezone = 'Mars/Base'", check=False)
    check(r.returncode != 0 and "timezone: not a known time zone name" in r.stderr, r.stderr)
    shutil.rmtree(sql)
    shutil.rmtree(held)


def two_migrations_at_once_both_succeed():
    """Two safetyctl migrate, or safetyctl migrate and safetyd --migrate, started at once:
    the advisory lock makes one wait for the other, grants included, and both succeed."""
    conn = cluster.createdb(DB)
    sql = fresh_sql_dir()
    conf = config_for(sql)
    env = dict(os.environ, SAFETY_DATABASE_URL=conn, SAFETY_MIGRATE_URL=owner_url(conn))
    env.pop("SAFETY_LISTEN", None)
    dconf = os.path.join(sql, "..", os.path.basename(sql) + "-d.conf")
    with open(dconf, "w") as f:
        f.write("[server]\nlisten = 127.0.0.1:%d\n[paths]\nsql_dir = %s\nstate_dir = %s\n"
                % (free_port(), sql, sql))
    for n in range(8):
        # The first round migrates an empty database; the others only grant.
        procs = [subprocess.Popen([SAFETYCTL, "-c", conf, "migrate"], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True, env=env)]
        if n % 2:
            procs.append(subprocess.Popen([SAFETYD, "-c", dconf, "--migrate"], stdout=subprocess.DEVNULL,
                                          stderr=subprocess.PIPE, text=True, env=env))
        else:
            procs.append(subprocess.Popen([SAFETYCTL, "-c", conf, "migrate"], stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True, env=env))
        out, _ = procs[0].communicate(timeout=300)
        expect_equal(procs[0].returncode, 0, "round %d, safetyctl: %s" % (n, out))
        if n % 2:
            # safetyd serves once migrated: its verdict is the first migration line it logs.
            seen = ""
            for line in procs[1].stderr:
                seen += line
                if "migrations_done" in line or "migrate_failed" in line:
                    break
            procs[1].terminate()
            procs[1].communicate(timeout=60)
            check("migrations_done" in seen, "round %d, safetyd: %s" % (n, seen))
        else:
            out, _ = procs[1].communicate(timeout=300)
            expect_equal(procs[1].returncode, 0, "round %d, the other safetyctl: %s" % (n, out))
    shutil.rmtree(sql)


def a_newer_or_unreadable_schema_is_said_as_it_is():
    """A database a newer build migrated is neither "nothing to do" nor "0 pending": both
    commands name the two versions and fail. A role that may not read schema_migration
    is told so, not shown every migration pending at version 0."""
    conn = cluster.createdb(DB)
    expect_equal(ctl(conn, "migrate").returncode, 0, "migrate")
    cluster.psql(DB, "SET ROLE safety; INSERT INTO schema_migration (version, name, checksum) "
                     "VALUES (9999, '9999_from_a_newer_build.sql', 'x')")
    for args in (("migrate",), ("migrate", "status")):
        r = ctl(conn, *args)
        check(r.returncode != 0, "%s must fail: %s" % (" ".join(args), r.stdout))
        check("the database is at 9999, newer than this build's" in r.stderr and "use a newer safetyctl" in r.stderr,
              r.stdout + r.stderr)
        check("nothing to do" not in r.stdout and "pending" not in r.stderr, r.stdout + r.stderr)
    cluster.psql(DB, "DELETE FROM schema_migration WHERE version = 9999")
    cluster.psql("postgres", "DROP ROLE IF EXISTS t_no_grants; CREATE ROLE t_no_grants LOGIN")
    try:
        nobody = conn.replace("user=" + APP_ROLE, "user=t_no_grants")
        r = ctl(nobody, "migrate", "status", env={"SAFETY_MIGRATE_URL": ""})
        expect_equal(r.returncode, 1, r.stdout + r.stderr)
        check("permission denied" in r.stderr and "pending" not in r.stdout + r.stderr, r.stdout + r.stderr)
    finally:
        cluster.psql("postgres", "DROP ROLE IF EXISTS t_no_grants")


def duplicate_version_is_refused():
    sql = fresh_sql_dir()
    conf = config_for(sql)
    first = sorted(f for f in os.listdir(sql) if f.endswith(".sql"))[0]
    shutil.copy(os.path.join(sql, first), os.path.join(sql, first[:4] + "_twin.sql"))
    r = ctl(cluster.createdb(DB), "migrate", config=conf)
    expect_equal(r.returncode, 1, "exit code")
    check("share version" in r.stderr, r.stderr)
    shutil.rmtree(sql)


def safetyd_refuses_old_schema_until_migrated():
    conn = cluster.createdb(DB)
    d = Daemon(conn, migrate=False)
    d.start(wait_ready=False)
    try:
        r = eventually(lambda: (lambda x: x if x.status == 503 else None)(d.get("/readyz")), what="readyz 503")
        check("schema not migrated" in r.json()["reason"], r.body)
        check("not_ready" in d.log() and "safetyctl migrate" in d.log(), "log line names the fix")
        expect_equal(ctl(conn, "migrate").returncode, 0, "migrate")
        eventually(lambda: d.get("/readyz").status == 200, what="readyz 200 after migrate")
    finally:
        expect_equal(d.stop(), 0, "exit code")


def safetyd_migrate_flag_migrates_before_serving():
    conn = cluster.createdb(DB)
    d = Daemon(conn, migrate=True).start()
    try:
        expect_equal(d.get("/readyz").status, 200, "ready at once")
        check("migrations_done" in d.log(), d.log())
    finally:
        d.stop()


def the_app_role_never_migrates():
    conn = cluster.createdb(DB)
    # No owner's address: the application role must not change the schema.
    r = ctl(conn, "migrate", env={"SAFETY_MIGRATE_URL": ""})
    expect_equal(r.returncode, 1, "migrate as the app role: " + r.stdout)
    check("role %s does not own the schema" % APP_ROLE in r.stderr and "migrate_url" in r.stderr, r.stderr)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM pg_class WHERE relname = 'schema_migration'"), "0",
                 "nothing created")
    d = Daemon(conn, sections={"database": {"migrate_url": ""}}, migrate=True)
    try:
        d.start()
        raise AssertionError("safetyd --migrate as the app role started")
    except AssertionError as e:
        check("exited with 1" in str(e), str(e))
    check("does not own the schema" in d.log() and "migrate_url" in d.log(), d.log())
    # As the owner it migrates and grants the app role, which then finds the
    # schema current and starts.
    r = ctl(conn, "migrate")
    expect_equal(r.returncode, 0, r.stderr)
    check("role %s may use the" % APP_ROLE in r.stdout, r.stdout)
    r = ctl(conn, "migrate", env={"SAFETY_MIGRATE_URL": ""})
    expect_equal(r.returncode, 0, r.stderr)
    check(r.stdout.startswith("nothing to do"), r.stdout)
    d = Daemon(conn, sections={"database": {"migrate_url": ""}}, migrate=True).start()
    d.stop()
    owned = cluster.psql(DB, "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
                             "WHERE r.rolname = '%s'" % APP_ROLE)
    expect_equal(owned, "0", "objects the app role owns")


def a_role_never_granted_is_told_how():
    conn = cluster.createdb(DB)
    # Migrated by the owner alone, as one-role setups do: nothing granted.
    r = ctl(owner_url(conn), "migrate")
    expect_equal(r.returncode, 0, r.stderr)
    check("may use" not in r.stdout, r.stdout)
    d = Daemon(conn, sections={"database": {"migrate_url": ""}}, migrate=False)
    d.start(wait_ready=False)
    try:
        r = eventually(lambda: (lambda x: x if x.status == 503 else None)(d.get("/readyz")), what="readyz 503")
        check("may not read the schema" in r.json()["reason"] and "--grant" in r.json()["reason"], r.body)
        expect_equal(ctl(owner_url(conn), "migrate", "--grant", APP_ROLE).returncode, 0, "grant")
        eventually(lambda: d.get("/readyz").status == 200, what="readyz 200 once granted")
    finally:
        expect_equal(d.stop(), 0, "exit code")


def migrate_grant_names_the_role():
    conn = cluster.createdb(DB)
    owner = owner_url(conn)
    # As the owner without migrate_url, --grant names the role.
    r = ctl(owner, "migrate", "--grant", APP_ROLE)
    expect_equal(r.returncode, 0, r.stderr)
    check("role %s may use the" % APP_ROLE in r.stdout, r.stdout)
    expect_equal(cluster.psql(DB, "SELECT has_table_privilege('%s', 'audit_log', 'INSERT'), "
                                  "has_table_privilege('%s', 'audit_log', 'UPDATE'), "
                                  "has_table_privilege('%s', 'national', 'DELETE')" % ((APP_ROLE,) * 3)),
                 "t|f|t", "privileges after --grant")
    # The owner itself, a missing role: refused, with the reason.
    r = ctl(owner, "migrate", "--grant", OWNER_ROLE)
    expect_equal(r.returncode, 1, r.stdout)
    check("owner" in r.stderr, r.stderr)
    r = ctl(owner, "migrate", "--grant", "nobody_here")
    expect_equal(r.returncode, 1, r.stdout)
    check('role "nobody_here" does not exist' in r.stderr and "CREATE ROLE" in r.stderr, r.stderr)


run([
    a_migration_numbered_below_the_applied_ones_is_refused,
    migrations_apply_once_and_record_checksums,
    changed_migration_is_refused_and_nothing_changes,
    missing_applied_migration_is_refused,
    failing_migration_rolls_back_alone,
    duplicate_version_is_refused,
    two_migrations_at_once_both_succeed,
    a_newer_or_unreadable_schema_is_said_as_it_is,
    answer_times_stored_as_1970_are_cleared,
    missions_with_unknown_time_zones_are_repaired,
    safetyd_refuses_old_schema_until_migrated,
    safetyd_migrate_flag_migrates_before_serving,
    the_app_role_never_migrates,
    a_role_never_granted_is_told_how,
    migrate_grant_names_the_role,
])
cluster.dropdb(DB)
