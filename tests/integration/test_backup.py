"""Backups: a base backup of a running cluster with answers in it restores
into a throwaway cluster that starts, has the current schema, an intact
audit chain and every row counted before the backup; a backup with a
missing WAL file is caught by the drill instead of passing."""

import os
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


try:
    run([a_backup_restores_whole])
finally:
    cluster.destroy()
