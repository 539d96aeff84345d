"""Graceful shutdown: SIGTERM stops accepting, lets an in-flight request
finish, exits 0, and tells systemd READY=1 then STOPPING=1."""

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time

from harness import PG_SH, Cluster, Daemon, check, eventually, expect_equal, run

cluster = Cluster.shared()
DB = "t_shutdown"


def hold_lock(conninfo_db, seconds, ready):
    """Holds an exclusive lock on schema_migration so /readyz must wait."""
    sql = "BEGIN; LOCK TABLE schema_migration IN ACCESS EXCLUSIVE MODE; SELECT 'locked'; SELECT pg_sleep(%f); COMMIT;" % seconds
    p = subprocess.Popen([PG_SH, "psql", cluster.dir, "-d", conninfo_db, "-At", "-c", sql],
                         stdout=subprocess.PIPE, text=True)
    return p


def in_flight_request_finishes_after_sigterm():
    d = Daemon(cluster.createdb(DB)).start()
    holder = hold_lock(DB, 2.0, None)
    try:
        time.sleep(0.5)  # the lock is taken
        result = {}

        def slow_request():
            t0 = time.time()
            result["r"] = d.get("/readyz", timeout=15)
            result["t"] = time.time() - t0

        t = threading.Thread(target=slow_request)
        t.start()
        time.sleep(0.3)
        check(t.is_alive(), "request should be waiting on the lock")
        d.signal(15)
        time.sleep(0.3)
        # No new connections once shutdown began.
        refused = False
        try:
            socket.create_connection(("127.0.0.1", d.port), timeout=1).close()
        except OSError:
            refused = True
        check(refused, "listener still accepting after SIGTERM")
        t.join(timeout=15)
        check(not t.is_alive(), "in-flight request never finished")
        r = result["r"]
        check(r.status in (200, 503), r)
        expect_equal(r.json()["reason"] if r.status == 503 else "shutting down", "shutting down", "reason")
        check(result["t"] >= 1.0, "the answer came after the lock was released")
        expect_equal(d.wait(timeout=10), 0, "exit code")
        log = d.log()
        check("event=shutting_down signal=SIGTERM in_flight=1" in log, log)
        check("event=stopped" in log, log)
    finally:
        holder.wait()
        d.stop()


def shutdown_timeout_bounds_a_stuck_request():
    d = Daemon(cluster.createdb(DB), sections={"server": {"shutdown_timeout": "1"}}).start()
    holder = hold_lock(DB, 4.0, None)
    try:
        time.sleep(0.5)
        t = threading.Thread(target=lambda: _ignore(lambda: d.get("/readyz", timeout=10)))
        t.start()
        time.sleep(0.3)
        t0 = time.time()
        d.signal(15)
        expect_equal(d.wait(timeout=10), 0, "exit code")
        check(time.time() - t0 < 3, "exited within the shutdown timeout")
        check("event=shutdown_timeout abandoned_requests=1" in d.log(), d.log())
        t.join()
    finally:
        holder.wait()
        d.stop()


def _ignore(fn):
    try:
        fn()
    except Exception:  # noqa: BLE001 - the connection is cut on purpose
        pass


def systemd_notify_ready_and_stopping():
    sock_dir = tempfile.mkdtemp()
    path = os.path.join(sock_dir, "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    d = Daemon(cluster.createdb(DB), env={"NOTIFY_SOCKET": path}).start()
    try:
        msg = s.recv(4096).decode()
        check("READY=1" in msg, msg)
        d.signal(15)
        msg = s.recv(4096).decode()
        check("STOPPING=1" in msg, msg)
        expect_equal(d.wait(), 0, "exit code")
    finally:
        d.stop()
        s.close()


def systemd_watchdog_is_fed_by_the_loop():
    """WATCHDOG=1 twice per WATCHDOG_USEC while the loop runs; none while it is stopped,
    as when it is stuck, so systemd restarts it; RELOADING=1 then READY=1 on SIGHUP."""
    sock_dir = tempfile.mkdtemp()
    path = os.path.join(sock_dir, "notify")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(0.2)
    d = Daemon(cluster.createdb(DB), env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}).start()

    def messages(seconds):
        got, end = [], time.time() + seconds
        while time.time() < end:
            try:
                got.append(s.recv(4096).decode())
            except socket.timeout:
                pass
        return got

    try:
        kept = [m for m in messages(2.0) if "WATCHDOG=1" in m]
        check(7 <= len(kept) <= 12, "about 10 keep-alives in 2 s at 0.2 s: %d" % len(kept))
        d.signal(signal.SIGSTOP)  # a loop that does not turn
        # A keep-alive sent just before the stop may still wait in the socket: read it first.
        messages(0.3)
        silent = [m for m in messages(1.0) if "WATCHDOG=1" in m]
        d.signal(signal.SIGCONT)
        expect_equal(silent, [], "no keep-alive while the loop is stuck")
        messages(0.5)
        d.signal(signal.SIGHUP)
        got = messages(1.0)
        check(any("RELOADING=1" in m for m in got) and any("READY=1" in m for m in got), got)
        check(any("WATCHDOG=1" in m for m in got), "fed again after the stop")
    finally:
        expect_equal(d.stop(), 0, "exit code")
        s.close()


def sigint_stops_like_sigterm():
    d = Daemon(cluster.createdb(DB)).start()
    d.signal(2)
    expect_equal(d.wait(timeout=10), 0, "exit code")
    check("signal=SIGINT" in d.log(), d.log())
    d.stop()


run([
    in_flight_request_finishes_after_sigterm,
    shutdown_timeout_bounds_a_stuck_request,
    systemd_notify_ready_and_stopping,
    systemd_watchdog_is_fed_by_the_loop,
    sigint_stops_like_sigterm,
])
cluster.dropdb(DB)
