"""Backups: a base backup of a running cluster with answers in it restores
into a throwaway cluster that starts, has the current schema, an intact
audit chain and every row counted before the backup; a backup with a
missing WAL file is caught by the drill instead of passing."""

import os
import shutil
import subprocess
import tempfile

from harness import SAFETYCTL, SOURCE_DIR, Cluster, check, ctl, expect_equal, owner_url, run

cluster = Cluster.private()
DB = "t_backup"
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "500", "--seed", "4").returncode, 0, "demo")
super_conn = owner_url(conninfo).replace("user=safety", "user=postgres")
BACKUP = os.path.join(SOURCE_DIR, "deploy", "backup")
store = tempfile.mkdtemp(prefix="safety-backups-", dir=os.environ.get("SAFETY_TEST_TMP"))


def sh(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def a_backup_restores_whole():
    r = sh(os.path.join(BACKUP, "backup.sh"), super_conn, store)
    expect_equal(r.returncode, 0, r.stderr)
    base = r.stdout.strip().splitlines()[-1]
    national = int(cluster.psql(DB, "SELECT count(*) FROM national"))
    check(national >= 500, "demo nationals: %d" % national)
    # Written after the backup began: not in it, and the drill must not mind.
    cluster.psql(DB, "SET ROLE safety; INSERT INTO national (mission_id, name_latin, name_key) VALUES (1, 'LATE', 'late')")
    r = sh(os.path.join(BACKUP, "restore-drill.sh"), base, SAFETYCTL)
    expect_equal(r.returncode, 0, r.stdout + r.stderr)
    check("restore drill: ok" in r.stdout and "national=%d" % national in r.stdout, r.stdout)
    print("  " + r.stdout.strip())
    # A backup missing its WAL cannot be made consistent: the drill says so.
    os.unlink(os.path.join(base, "pg_wal.tar.gz"))
    subprocess.run(["tar", "-czf", os.path.join(base, "pg_wal.tar.gz"), "-T", "/dev/null"], check=True)
    r = sh(os.path.join(BACKUP, "restore-drill.sh"), base, SAFETYCTL)
    check(r.returncode != 0 and "FAILED" in r.stderr, "a broken backup must fail the drill: %r" % (r.stdout + r.stderr))


def the_drill_checks_the_copys_schema_not_the_configured_one():
    """A migrate_url in the configuration or the environment (production's, on a real
    server) must not stand in for the restored copy: a backup of a database whose schema is
    behind fails the drill's schema check."""
    old_db = "t_backup_old"
    old = cluster.createdb(old_db)
    sql = tempfile.mkdtemp(prefix="safety-sql-", dir=os.environ.get("SAFETY_TEST_TMP"))
    files = sorted(f for f in os.listdir(os.path.join(SOURCE_DIR, "sql")) if f.endswith(".sql"))
    for name in files[:-1]:
        shutil.copy(os.path.join(SOURCE_DIR, "sql", name), sql)
    conf = os.path.join(sql, "old.conf")
    with open(conf, "w") as f:
        f.write("[paths]\nsql_dir = %s\n" % sql)
    r = ctl(old, "migrate", config=conf)
    expect_equal(r.returncode, 0, r.stderr)
    # What a production server's /etc/safety/safety.conf and environment would say.
    prod = os.path.join(store, "production.conf")
    with open(prod, "w") as f:
        f.write("[database]\nurl = %s\nmigrate_url = %s\n" % (conninfo, owner_url(conninfo)))
    r = sh(os.path.join(BACKUP, "backup.sh"), super_conn.replace("dbname=" + DB, "dbname=" + old_db), store)
    expect_equal(r.returncode, 0, r.stderr)
    base = r.stdout.strip().splitlines()[-1]
    for env in ({"SAFETY_CONFIG": prod}, {"SAFETY_MIGRATE_URL": owner_url(conninfo)}):
        r = subprocess.run([os.path.join(BACKUP, "restore-drill.sh"), base, SAFETYCTL], capture_output=True,
                           text=True, timeout=300, env=dict(os.environ, **env))
        check(r.returncode != 0 and "FAILED: schema" in r.stderr and "pending  " + files[-1] in r.stderr,
              "%r: a copy behind the build must fail the drill: %s" % (env, r.stdout + r.stderr))
    shutil.rmtree(sql)
    cluster.dropdb(old_db)


try:
    run([a_backup_restores_whole, the_drill_checks_the_copys_schema_not_the_configured_one])
finally:
    cluster.destroy()
