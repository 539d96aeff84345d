"""Shared helpers of the integration tests: a real safetyd against a real
PostgreSQL, talked to over HTTP as users do.

tests/run.sh starts one private cluster and names it in SAFETY_TEST_PG_DIR;
each test makes its own database in it. As in a real deployment, the
database and schema belong to the owner role (safety), which runs the
migrations, while safetyd and safetyctl's everyday commands connect as the
application role (safety_app), which owns nothing: a privilege the code
needs and the grants lack fails the test that uses it. Run alone (python3 test_x.py), a test
starts a cluster of its own. Every daemon's log is kept under
SAFETY_TEST_LOG_DIR so the whole run's logs can be searched for secrets.
"""

import atexit
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid

SOURCE_DIR = os.environ.get(
    "SAFETY_SOURCE_DIR", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
)
BUILD_DIR = os.environ.get("SAFETY_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
SAFETYD = os.environ.get("SAFETYD", os.path.join(BUILD_DIR, "safetyd"))
SAFETYCTL = os.environ.get("SAFETYCTL", os.path.join(BUILD_DIR, "safetyctl"))
PG_SH = os.path.join(SOURCE_DIR, "deploy", "pg.sh")
LOG_DIR = os.environ.get("SAFETY_TEST_LOG_DIR", os.path.join(BUILD_DIR, "test-logs"))


def record_secret(secret):
    """Remembers a secret this run used, so the final log check can prove no
    log line carries it."""
    os.makedirs(LOG_DIR, exist_ok=True)
    with open(os.path.join(LOG_DIR, "secrets.txt"), "a") as f:
        f.write(secret + "\n")
    return secret


class Session:
    """A logged-in staff member: the cookie and CSRF token a browser would hold."""

    def __init__(self, daemon, username, password):
        self.d = daemon
        self.username = username
        r = daemon.post("/api/v1/session", {"username": username, "password": password})
        if r.status != 200:
            raise AssertionError("login of %s failed: %r" % (username, r))
        cookie = r.header("Set-Cookie")
        self.cookie = cookie.split(";")[0]
        record_secret(self.cookie.split("=", 1)[1])
        self.csrf = r.json()["csrf_token"]
        self.user = r.json()["user"]
        self.set_cookie = cookie

    def request(self, method, path, body=None, headers=None, csrf=True, timeout=10):
        h = {"Cookie": self.cookie}
        if csrf and method not in ("GET", "HEAD"):
            h["X-CSRF-Token"] = self.csrf
            h["Origin"] = "http://127.0.0.1:%d" % self.d.port
        h.update(headers or {})
        return self.d.request(method, path, body=body, headers=h, timeout=timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


APP_ROLE = "safety_app"
OWNER_ROLE = "safety"


def owner_url(conninfo):
    """The owner role's connection string for the same database as conninfo."""
    return conninfo.replace("user=" + APP_ROLE, "user=" + OWNER_ROLE)


def free_port():
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """A private PostgreSQL cluster driven through deploy/pg.sh."""

    def __init__(self, directory, owned):
        self.dir = directory
        self.owned = owned

    @classmethod
    def shared(cls):
        d = os.environ.get("SAFETY_TEST_PG_DIR")
        if d:
            return cls(d, owned=False)
        # A test run alone (ctest -R, python3 test_x.py) gets a cluster of its own,
        # stopped and removed when it exits rather than left running.
        c = cls.private()
        atexit.register(c.destroy)
        return c

    @classmethod
    def private(cls):
        d = tempfile.mkdtemp(prefix="safety-pg-", dir=os.environ.get("SAFETY_TEST_TMP"))
        c = cls(d, owned=True)
        c.start()
        return c

    def pg(self, *args, check=True):
        return subprocess.run([PG_SH, *args], check=check, capture_output=True, text=True)

    def start(self):
        self.pg("start", self.dir)

    def stop(self):
        self.pg("stop", self.dir)

    def kill(self):
        self.pg("kill", self.dir)

    def destroy(self):
        if self.owned:
            self.pg("stop", self.dir, check=False)
            target = os.path.realpath(os.path.join(self.dir, "cluster"))
            shutil.rmtree(self.dir, ignore_errors=True)
            shutil.rmtree(target, ignore_errors=True)

    def conninfo(self, dbname):
        """The application role's connection string (what safetyd uses)."""
        base = self.pg("conninfo-app", self.dir).stdout.strip()
        return base.replace("dbname=safety", "dbname=" + dbname)

    def owner_conninfo(self, dbname):
        """The owner role's (migrations, the schema)."""
        return owner_url(self.conninfo(dbname))

    def createdb(self, name):
        self.pg("createdb", self.dir, name)
        return self.conninfo(name)

    def dropdb(self, name):
        self.pg("psql", self.dir, "-c", "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name, check=False)

    def psql(self, dbname, sql):
        """Runs sql as the superuser; returns its unaligned output."""
        r = self.pg("psql", self.dir, "-d", dbname, "-At", "-c", sql)
        return r.stdout.strip()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:200])


def http_request(method, port, path, body=None, headers=None, timeout=10, host="127.0.0.1"):
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read().decode("utf-8", "replace"))
    finally:
        conn.close()


class Daemon:
    """A safetyd process with its own configuration file and log."""

    def __init__(self, conninfo, extra_config="", sections=None, env=None, migrate=True, port=None):
        self.port = port or free_port()
        self.workdir = tempfile.mkdtemp(prefix="safetyd-", dir=os.environ.get("SAFETY_TEST_TMP"))
        self.config_path = os.path.join(self.workdir, "safety.conf")
        os.makedirs(LOG_DIR, exist_ok=True)
        self.log_path = os.path.join(LOG_DIR, "safetyd-%s.log" % uuid.uuid4().hex[:8])
        self.conninfo = conninfo
        # A copy: the caller's dict may serve for several daemons.
        sections = {k: dict(v) for k, v in (sections or {}).items()}
        server = {"listen": "127.0.0.1:%d" % self.port, "shutdown_timeout": "5"}
        server.update(sections.pop("server", {}))
        database = {"url": conninfo, "reconnect_max_ms": "1000", "schema_check_interval_ms": "500"}
        if owner_url(conninfo) != conninfo:
            database["migrate_url"] = owner_url(conninfo)
        database.update(sections.pop("database", {}))
        paths = {"sql_dir": os.path.join(SOURCE_DIR, "sql"), "state_dir": self.workdir}
        paths.update(sections.pop("paths", {}))
        allsec = {"server": server, "database": database, "paths": paths, "log": {"level": "debug"}}
        allsec.update(sections)
        with open(self.config_path, "w") as f:
            for name, kv in allsec.items():
                f.write("[%s]\n" % name)
                for k, v in kv.items():
                    f.write("%s = %s\n" % (k, v))
            f.write(extra_config)
        self.env = dict(os.environ)
        self.env.pop("SAFETY_DATABASE_URL", None)
        self.env.pop("SAFETY_MIGRATE_URL", None)
        self.env.pop("SAFETY_LISTEN", None)
        self.env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.env.update(env or {})
        self.migrate = migrate
        self.proc = None

    def start(self, wait_ready=True, args=()):
        self.logf = open(self.log_path, "ab")
        cmd = [SAFETYD, "-c", self.config_path]
        if self.migrate:
            cmd.append("--migrate")
        cmd.extend(args)
        self.proc = subprocess.Popen(cmd, stdout=self.logf, stderr=self.logf, env=self.env)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("safetyd exited with %s:\n%s" % (self.proc.returncode, self.log()))
            try:
                r = http_request("GET", self.port, "/readyz" if wait_ready else "/healthz", timeout=2)
                if r.status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        raise AssertionError("safetyd did not become %s:\n%s" % ("ready" if wait_ready else "alive", self.log()))

    def get(self, path, **kw):
        return http_request("GET", self.port, path, **kw)

    def post(self, path, body=None, **kw):
        return http_request("POST", self.port, path, body=body, **kw)

    def request(self, method, path, body=None, **kw):
        return http_request(method, self.port, path, body=body, **kw)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=20):
        return self.proc.wait(timeout=timeout)

    def stop(self):
        """SIGTERM, then the exit code; fails the test on a sanitizer report."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.logf.close()
        rc = self.proc.returncode
        log = self.log()
        self.proc = None
        shutil.rmtree(self.workdir, ignore_errors=True)
        if "ERROR: AddressSanitizer" in log or "runtime error:" in log or "LeakSanitizer" in log:
            raise AssertionError("sanitizer report in safetyd log:\n" + log[-4000:])
        return rc

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


class EventStream:
    """A server-sent event stream read on a thread, as a browser's EventSource
    would: every event kept with its name, id, JSON data and arrival time."""

    def __init__(self, daemon, path, headers=None, last_event_id=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=30)
        h = {"Accept": "text/event-stream"}
        h.update(headers or {})
        if last_event_id is not None:
            h["Last-Event-ID"] = last_event_id
        self.conn.request("GET", path, headers=h)
        self.sock = self.conn.sock
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.events, self.comments, self.ended, self.last_id = [], 0, False, None
        self.lock = threading.Lock()
        if self.status == 200:
            threading.Thread(target=self._read, daemon=True).start()
        else:
            self.body = self.resp.read().decode()

    def _read(self):
        ev = {"event": "message", "data": [], "id": None}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode("utf-8").rstrip("\n")
                if line == "":
                    if ev["data"]:
                        with self.lock:
                            self.events.append({"event": ev["event"], "id": ev["id"],
                                                "data": json.loads("\n".join(ev["data"])), "at": time.time()})
                    if ev["id"] is not None:
                        self.last_id = ev["id"]
                    ev = {"event": "message", "data": [], "id": None}
                elif line.startswith(":"):
                    with self.lock:
                        self.comments += 1
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "data":
                        ev["data"].append(value)
                    elif field in ("event", "id"):
                        ev[field] = value
        except Exception:  # noqa: BLE001 - closed from the other thread, or by the server
            pass
        self.ended = True

    def of(self, kind):
        with self.lock:
            return [e for e in self.events if e["event"] == kind]

    def close(self):
        # The reader thread holds the socket open: shut it down under it.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def demo_check_in(lead, cluster, db, state_dir, title="M7.8 Pazarcık", circle=(37.226, 37.014, 300000), drill=False):
    """Declares a crisis over the demo's nationals as `lead`, launches an SMS check-in
    (the log channel writes each message to state_dir/outbox-log.jsonl), waits until every
    message is sent, and returns (crisis id, {national id: reply token}); the tokens are
    recorded as secrets."""
    lat, lon, radius = circle
    crisis = lead.post("/api/v1/crises", {"kind": "earthquake", "title": title, "severity": 5, "drill": drill,
                                          "circle": {"lat": lat, "lon": lon, "radius_m": radius}}).json()["id"]
    launched = lead.post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"]}).json()
    eventually(lambda: cluster.psql(db, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND state = 'sent'" % crisis)
               == str(launched["messages"]), timeout=30, what="messages sent")
    owner = dict(tuple(map(int, row.split("|"))) for row in cluster.psql(
        db, "SELECT id, national_id FROM outbox WHERE crisis_id = %d" % crisis).splitlines())
    tokens = {}
    with open(os.path.join(state_dir, "outbox-log.jsonl")) as f:
        for line in f:
            m = json.loads(line)
            if m["outbox_id"] in owner:
                tokens[owner[m["outbox_id"]]] = record_secret(re.search(r"/r/([A-Za-z0-9_-]+)", m["text"]).group(1))
    return crisis, tokens


def ctl(conninfo, *args, config=None, input=None, env=None):
    """Runs safetyctl; returns the CompletedProcess. Given the application
    role's conninfo, migrate runs as the owner and grants that role."""
    e = dict(os.environ)
    e["SAFETY_DATABASE_URL"] = conninfo
    e.pop("SAFETY_MIGRATE_URL", None)
    if owner_url(conninfo) != conninfo:
        e["SAFETY_MIGRATE_URL"] = owner_url(conninfo)
    e.update(env or {})
    cmd = [SAFETYCTL]
    if config:
        cmd += ["-c", config]
    cmd += list(args)
    return subprocess.run(cmd, capture_output=True, text=True, env=e, input=input, timeout=120)


def eventually(check, timeout=10.0, interval=0.1, what="condition"):
    """Polls check() until it returns a true value; returns it or fails."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - any failure means "not yet"
            last = e
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def run(tests):
    """Runs test functions in order; prints a line each; exits non-zero on failure."""
    failed = 0
    for t in tests:
        start = time.time()
        try:
            t()
            print("ok   %s (%.2fs)" % (t.__name__, time.time() - start), flush=True)
        except Exception:  # noqa: BLE001
            failed += 1
            print("FAIL %s (%.2fs)" % (t.__name__, time.time() - start), flush=True)
            traceback.print_exc(file=sys.stdout)
    print("%d passed, %d failed" % (len(tests) - failed, failed))
    sys.exit(1 if failed else 0)


def check(cond, msg="check failed"):
    if not cond:
        raise AssertionError(msg)


def expect_equal(actual, expected, what="value"):
    if actual != expected:
        raise AssertionError("%s: expected %r, got %r" % (what, expected, actual))


def counts_hold(cluster, db, crisis):
    """The counters the dashboard and HQ read for a crisis equal a recount of what they count."""
    drift = cluster.psql(db, (
        "SELECT coalesce(string_agg(concat_ws('/', mission_id, region_id, status, kept, actual), ' '), '') "
        "FROM (SELECT coalesce(c.mission_id, a.mission_id) AS mission_id, "
        " coalesce(c.region_id, a.region_id) AS region_id, coalesce(c.status, a.status) AS status, "
        " coalesce(c.n, 0) AS kept, coalesce(a.n, 0) AS actual "
        " FROM (SELECT * FROM status_count WHERE crisis_id = %d) c "
        " FULL JOIN (SELECT mission_id, coalesce(region_id, 0) AS region_id, status, count(*) AS n "
        "  FROM person_status WHERE crisis_id = %d AND NOT deleted GROUP BY 1, 2, 3) a "
        " USING (mission_id, region_id, status)) x WHERE kept <> actual") % (crisis, crisis))
    expect_equal(drift, "", "status counts (mission/region/status/kept/actual)")
    drift = cluster.psql(db, (
        "SELECT coalesce(string_agg(concat_ws('/', mission_id, minute, kept, actual), ' '), '') "
        "FROM (SELECT coalesce(m.mission_id, a.mission_id) AS mission_id, coalesce(m.minute, a.minute) AS minute, "
        " coalesce(m.n, 0) AS kept, coalesce(a.n, 0) AS actual "
        " FROM (SELECT * FROM response_minute WHERE crisis_id = %d) m "
        " FULL JOIN (SELECT mission_id, date_trunc('minute', received_at) AS minute, count(*) AS n "
        "  FROM response WHERE crisis_id = %d AND mission_id IS NOT NULL GROUP BY 1, 2) a "
        " USING (mission_id, minute)) x WHERE kept <> actual") % (crisis, crisis))
    expect_equal(drift, "", "answers per minute (mission/minute/kept/actual)")
