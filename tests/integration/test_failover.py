"""PostgreSQL failover under load: a primary and a streaming standby made
with pg_basebackup (synchronous, as deploy/ha/README.md advises), safetyd on
a multi-host connection string with target_session_attrs=read-write,
replies pouring in; the primary crashes and the standby is promoted. safetyd
keeps acknowledging (into its spool), finds the new primary by itself within
10 seconds, replays the spool: every acknowledged reply is stored once."""

import json
import os
import re
import tempfile
import threading
import time
import urllib.parse

from harness import APP_ROLE, Cluster, Daemon, Session, check, ctl, demo_check_in, eventually, expect_equal, http_request, record_secret, run

DB = "t_failover"
PASSWORD = record_secret("Samandag-Arsuz-2026-fo")
primary = Cluster.private()
standby = Cluster(tempfile.mkdtemp(prefix="safety-pg-", dir=os.environ.get("SAFETY_TEST_TMP")), owned=True)
primary.pg("standby", standby.dir, primary.dir)


def host_port(cluster):
    c = cluster.pg("conninfo", cluster.dir).stdout
    return re.search(r"host=(\S+)", c).group(1), re.search(r"port=(\d+)", c).group(1)


(h1, p1), (h2, p2) = host_port(primary), host_port(standby)
MULTI = "host=%s,%s port=%s,%s dbname=%s user=%s target_session_attrs=read-write connect_timeout=2" % (h1, h2, p1, p2, DB, APP_ROLE)
conninfo = primary.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "300", "--seed", "8").returncode, 0, "demo")
# Synchronous: a commit returns once the standby has it, so a crash of the primary loses nothing acknowledged.
primary.psql("postgres", "ALTER SYSTEM SET synchronous_standby_names = '*'")
primary.psql("postgres", "SELECT pg_reload_conf()")
eventually(lambda: primary.psql("postgres", "SELECT sync_state FROM pg_stat_replication") == "sync", timeout=10,
           what="the standby synchronous")

state = tempfile.mkdtemp(prefix="failover-state-", dir=os.environ.get("SAFETY_TEST_TMP"))
keyfile = os.path.join(state, "token.key")
with open(keyfile, "w") as f:
    f.write("1:" + "cd" * 32 + "\n")
os.chmod(keyfile, 0o600)  # safetyd refuses keys others may read
sections = {"auth": {"password_hash_cost": "10", "public_rate_per_second": "100000", "public_burst": "100000"},
            "database": {"query_timeout_ms": "2000", "reconnect_max_ms": "1000"},
            "paths": {"state_dir": state}, "tokens": {"key_file": keyfile}}
d = Daemon(MULTI, sections=sections).start()
pw = os.path.join(state, "pw")
with open(pw, "w") as f:
    f.write(PASSWORD + "\n")
ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file", pw)
lead = Session(d, "lead", PASSWORD)
crisis, tokens = demo_check_in(lead, primary, DB, state, title="Failover drill", circle=(37.0, 37.0, 400000), drill=True)
TOKENS = [tokens[n] for n in sorted(tokens)]


def post(token, ref):
    return http_request("POST", d.port, "/r/" + token, body=urllib.parse.urlencode({"status": "safe", "message": ref}),
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=15)


def the_standby_takes_over_and_nothing_acknowledged_is_lost():
    acked, errors, stop = [], [], threading.Event()

    def load(worker):
        i = 0
        while not stop.is_set():
            ref = "fo-%d-%d" % (worker, i)
            try:
                if post(TOKENS[(worker * 11 + i) % len(TOKENS)], ref).status == 200:
                    acked.append(ref)
                else:
                    errors.append("status")
            except OSError as e:
                errors.append(str(e))
            i += 1

    threads = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(3)
        before = len(acked)
        primary.kill()  # a crash: no clean shutdown
        time.sleep(3)
        during = len(acked) - before
        standby.pg("promote", standby.dir)
        promoted = time.time()
        eventually(lambda: http_request("GET", d.port, "/readyz", timeout=5).status == 200, timeout=10, interval=0.2,
                   what="ready on the new primary within 10 s")
        reconnect = time.time() - promoted
        time.sleep(3)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)

    def stored():
        return int(standby.psql(DB, "SELECT count(*) FROM response WHERE raw_text LIKE 'fo-%'"))

    eventually(lambda: stored() >= len(acked), timeout=60, what="every acknowledged reply on the new primary")
    eventually(lambda: json.loads(http_request("GET", d.port, "/readyz").body)["spool_depth"] == 0, timeout=30,
               what="spool emptied")
    dup = standby.psql(DB, "SELECT count(*) FROM (SELECT raw_text FROM response WHERE raw_text LIKE 'fo-%' "
                           "GROUP BY raw_text HAVING count(*) > 1) x")
    print("  %d replies acknowledged (%d while there was no primary), %d stored on the new primary, %d twice, "
          "%d not acknowledged; ready %.1f s after the promotion" % (len(acked), during, stored(), int(dup), len(errors), reconnect))
    check(during > 20, "safetyd kept acknowledging without a primary (%d)" % during)
    expect_equal(stored(), len(set(acked)), "every acknowledged reply stored")
    expect_equal(dup, "0", "none twice")
    check(reconnect < 10, "reconnected in %.1f s" % reconnect)


try:
    run([the_standby_takes_over_and_nothing_acknowledged_is_lost])
finally:
    d.stop()
    standby.destroy()
    primary.destroy()
