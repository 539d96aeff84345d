"""Not one answer lost: PostgreSQL stopped during a sustained load of
replies and started again later; every acknowledged reply is in the
database afterwards, none twice, and safetyd never stopped answering. Then
a kill -9 of safetyd during an outage: the spooled replies still arrive."""

import json
import os
import signal
import threading
import time
import urllib.parse

from harness import Cluster, Daemon, Session, check, ctl, demo_check_in, eventually, expect_equal, http_request, record_secret, run

# This test stops its database, so it has a cluster of its own.
cluster = Cluster.private()
DB = "t_durability"
PASSWORD = record_secret("Osmaniye-Kilis-2026-dur")
OUTAGE = float(os.environ.get("SAFETY_TEST_OUTAGE_SECONDS", "30"))


def setup():
    conninfo = cluster.createdb(DB)
    expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
    expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "300", "--seed", "5").returncode, 0, "demo")
    state = os.path.join(os.environ.get("SAFETY_TEST_TMP", "/tmp"), "durability-state")
    os.makedirs(state, exist_ok=True)
    for f in os.listdir(state):
        os.unlink(os.path.join(state, f))
    keyfile = os.path.join(state, "token.key")
    with open(keyfile, "w") as f:
        f.write("1:" + "ab" * 32 + "\n")
    sections = {"auth": {"password_hash_cost": "10", "public_rate_per_second": "100000", "public_burst": "100000"},
                "database": {"query_timeout_ms": "2000"},
                "paths": {"state_dir": state}, "tokens": {"key_file": keyfile}}
    d = Daemon(conninfo, sections=sections).start()
    pw = os.path.join(state, "pw")
    with open(pw, "w") as f:
        f.write(PASSWORD + "\n")
    ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file", pw)
    lead = Session(d, "lead", PASSWORD)
    _, links = demo_check_in(lead, cluster, DB, state, title="Outage drill", circle=(37.0, 37.0, 400000), drill=True)
    tokens = [links[n] for n in sorted(links)]
    return conninfo, d, sections, state, tokens


conninfo, d, SECTIONS, STATE, TOKENS = setup()
for t in TOKENS:
    record_secret(t)


def post(daemon, token, status, ref):
    return http_request("POST", daemon.port, "/r/" + token,
                        body=urllib.parse.urlencode({"status": status, "message": ref}),
                        headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=15)


def stored(marker):
    return int(cluster.psql(DB, "SELECT count(*) FROM response WHERE raw_text LIKE '%s%%'" % marker))


def a_database_outage_under_load_loses_no_acknowledged_reply():
    acked = []
    errors = []
    stop = threading.Event()

    def load(worker):
        i = 0
        while not stop.is_set():
            token = TOKENS[(worker * 7 + i) % len(TOKENS)]
            ref = "load-%d-%d" % (worker, i)
            try:
                r = post(d, token, "safe" if i % 3 else "needs_help", ref)
                if r.status == 200:
                    acked.append(ref)
                else:
                    errors.append(r.status)
            except OSError as e:
                errors.append(str(e))
            i += 1

    threads = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(3)
        before = len(acked)
        cluster.stop()
        t0 = time.time()
        time.sleep(OUTAGE)
        during = len(acked) - before
        eventually(lambda: json.loads(http_request("GET", d.port, "/readyz").body)["spool_depth"] > 0, timeout=5,
                   what="readyz shows the spool")
        cluster.start()
        time.sleep(5)
    finally:
        # The load stops whatever happened, so a failure cannot hang the test.
        stop.set()
        for t in threads:
            t.join(timeout=30)
    from collections import Counter
    print("  %d replies acknowledged (%d during the %.0f s outage), %d not acknowledged: %r" %
          (len(acked), during, time.time() - t0 - 5, len(errors), Counter(map(str, errors)).most_common(3)))
    check(during > 50, "safetyd kept answering during the outage (%d)" % during)
    eventually(lambda: stored("load-") >= len(acked), timeout=60, what="every acknowledged reply stored")
    expect_equal(stored("load-"), len(set(acked)), "each stored once")
    dup = cluster.psql(DB, "SELECT count(*) FROM (SELECT raw_text FROM response WHERE raw_text LIKE 'load-%' "
                           "GROUP BY raw_text HAVING count(*) > 1) x")
    expect_equal(dup, "0", "no reply twice")
    eventually(lambda: json.loads(http_request("GET", d.port, "/readyz").body)["spool_depth"] == 0, timeout=30,
               what="spool emptied")


def kill_9_during_an_outage_keeps_the_spool():
    global d
    cluster.stop()
    acked = []
    for i in range(40):
        r = post(d, TOKENS[i % len(TOKENS)], "safe", "killed-%d" % i)
        if r.status == 200:
            acked.append(i)
    check(len(acked) == 40, "every reply acknowledged while the database was down: %d" % len(acked))
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    d.proc = None
    check(os.path.getsize(os.path.join(STATE, "reply-spool")) > 0 or
          os.path.exists(os.path.join(STATE, "reply-spool.replay")), "spool on disk")
    cluster.start()
    d = Daemon(conninfo, sections=SECTIONS).start()
    eventually(lambda: stored("killed-") == 40, timeout=60, what="spooled replies arrive after restart")
    time.sleep(2)
    expect_equal(stored("killed-"), 40, "and only once")


try:
    run([a_database_outage_under_load_loses_no_acknowledged_reply, kill_9_during_an_outage_keeps_the_spool])
finally:
    d.stop()
    cluster.destroy()
