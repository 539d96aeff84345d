"""PostgreSQL going away under a running safetyd: /readyz turns 503 within
5 s and back to 200 within 10 s of the restart, without restarting safetyd,
and the daemon keeps answering throughout."""

import time

from harness import Cluster, Daemon, check, eventually, expect_equal, run

# This test stops its database, so it has a cluster of its own.
cluster = Cluster.private()


def readyz_follows_a_crashed_database():
    d = Daemon(cluster.createdb("t_outage")).start()
    try:
        for how in ("kill", "stop"):
            expect_equal(d.get("/readyz").status, 200, "ready before " + how)
            t0 = time.time()
            getattr(cluster, how)()
            r = eventually(lambda: (lambda x: x if x.status == 503 else None)(d.get("/readyz", timeout=6)),
                           timeout=5, what="readyz 503 after " + how)
            down_after = time.time() - t0
            body = r.json()
            expect_equal(body["database"], "unreachable", "database field")
            check("unreachable" in body["reason"], body)
            # The process itself still answers while the database is away.
            expect_equal(d.get("/healthz").status, 200, "healthz during outage")
            expect_equal(d.get("/metrics").status, 200, "metrics during outage")
            check("safety_db_up 0" in d.get("/metrics").body, "metrics show the database down")
            time.sleep(1.5)
            t1 = time.time()
            cluster.start()
            eventually(lambda: d.get("/readyz", timeout=6).status == 200, timeout=10,
                       what="readyz 200 after restart (%s)" % how)
            up_after = time.time() - t1
            print("  %s: 503 after %.2fs, 200 again %.2fs after restart" % (how, down_after, up_after))
            check("safety_db_up 1" in d.get("/metrics").body, "metrics show the database up")
        check("db_connection_lost" in d.log(), "the loss is logged")
    finally:
        expect_equal(d.stop(), 0, "exit code")


def readyz_answers_fast_when_database_never_came():
    cluster.stop()
    try:
        d = Daemon(cluster.conninfo("t_outage"), migrate=False)
        d.start(wait_ready=False)
        try:
            t0 = time.time()
            r = d.get("/readyz", timeout=10)
            expect_equal(r.status, 503, "status")
            check(time.time() - t0 < 6, "answer within the query timeout")
        finally:
            expect_equal(d.stop(), 0, "exit code")
    finally:
        cluster.start()


try:
    run([readyz_follows_a_crashed_database, readyz_answers_fast_when_database_never_came])
finally:
    cluster.destroy()
