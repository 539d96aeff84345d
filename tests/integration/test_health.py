"""healthz, readyz and metrics of a real safetyd on a real database, and the
shape of every answer: problem+json errors and the security headers."""

import re

from harness import Cluster, Daemon, check, expect_equal, run

cluster = Cluster.shared()
DB = "t_health"


def with_daemon(fn):
    def wrapper():
        d = Daemon(cluster.createdb(DB)).start()
        try:
            fn(d)
        finally:
            rc = d.stop()
            cluster.dropdb(DB)
        expect_equal(rc, 0, "exit code after SIGTERM")

    wrapper.__name__ = fn.__name__
    return wrapper


@with_daemon
def healthz_answers_ok_json(d):
    r = d.get("/healthz")
    expect_equal(r.status, 200, "status")
    expect_equal(r.json(), {"status": "ok"}, "body")
    expect_equal(r.header("Content-Type"), "application/json", "content type")


@with_daemon
def readyz_reports_database_and_schema(d):
    r = d.get("/readyz")
    expect_equal(r.status, 200, "status")
    body = r.json()
    expect_equal(body["status"], "ready", "status field")
    expect_equal(body["database"], "ok", "database field")
    check(body["schema_version"] >= 1 and body["schema_version"] == body["schema_required"], body)
    # The default drivers write messages to a file: ready, but said, counted and logged.
    check("log driver" in body.get("warning", ""), body)
    m = d.get("/metrics").body
    check('safety_channel_driver_info{channel="sms",driver="log"} 1' in m, "driver metric")
    check("messages_reach_nobody" in d.log(), "warned in the log")


@with_daemon
def metrics_count_requests_by_route_and_status(d):
    for _ in range(3):
        d.get("/healthz")
    d.get("/no/such/path")
    r = d.get("/metrics")
    expect_equal(r.status, 200, "status")
    check(r.header("Content-Type").startswith("text/plain; version=0.0.4"), r.header("Content-Type"))
    text = r.body
    m = re.search(r'^safety_http_requests_total\{route="healthz",status="200"\} (\d+)$', text, re.M)
    check(m and int(m.group(1)) >= 3, "healthz counter missing or low:\n" + text)
    check(re.search(r'^safety_http_requests_total\{route="unmatched",status="404"\} 1$', text, re.M), text)
    for name in (
        "safety_uptime_seconds",
        "safety_db_pool_connections{state=\"configured\"}",
        "safety_db_pool_connections{state=\"busy\"}",
        "safety_db_pool_waiting",
        "safety_db_query_duration_seconds_bucket{le=\"+Inf\"}",
        "safety_db_query_duration_seconds_count",
    ):
        check(name in text, "missing %s in metrics" % name)
    # Every sample line must be a valid exposition line.
    for line in text.splitlines():
        if line and not line.startswith("#"):
            check(re.match(r'^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$', line), "bad metrics line: %r" % line)


@with_daemon
def unknown_path_is_problem_json_404(d):
    r = d.get("/nope")
    expect_equal(r.status, 404, "status")
    expect_equal(r.header("Content-Type"), "application/problem+json", "content type")
    body = r.json()
    expect_equal(body["status"], 404, "problem status")
    check(body["title"] and body["detail"], body)


@with_daemon
def wrong_method_is_405(d):
    r = d.post("/healthz", body="x")
    expect_equal(r.status, 405, "status")
    expect_equal(r.json()["title"], "method not allowed", "title")


@with_daemon
def encoded_nul_in_path_is_400(d):
    r = d.get("/healthz%00.html")
    expect_equal(r.status, 400, "status")


@with_daemon
def every_answer_carries_security_headers(d):
    for path in ("/healthz", "/readyz", "/metrics", "/nope"):
        r = d.get(path)
        expect_equal(r.header("X-Content-Type-Options"), "nosniff", path)
        check("frame-ancestors 'none'" in (r.header("Content-Security-Policy") or ""), path)
        check("unsafe-inline" not in r.header("Content-Security-Policy"), path)
        expect_equal(r.header("Referrer-Policy"), "no-referrer", path)


@with_daemon
def head_request_has_no_body(d):
    r = d.request("HEAD", "/healthz")
    expect_equal(r.status, 200, "status")
    expect_equal(r.body, "", "body")


def version_flags_print_version():
    import subprocess
    from harness import SAFETYD, SAFETYCTL

    for exe in (SAFETYD, SAFETYCTL):
        out = subprocess.run([exe, "--version"], capture_output=True, text=True)
        expect_equal(out.returncode, 0, exe)
        check(re.match(r"^safety(d|ctl) \d+\.\d+\.\d+ \(schema \d+\)$", out.stdout.strip()), out.stdout)
        h = subprocess.run([exe, "--help"], capture_output=True, text=True)
        expect_equal(h.returncode, 0, exe + " --help")
        check("usage:" in h.stdout, h.stdout)


run([
    healthz_answers_ok_json,
    readyz_reports_database_and_schema,
    metrics_count_requests_by_route_and_status,
    unknown_path_is_problem_json_404,
    wrong_method_is_405,
    encoded_nul_in_path_is_400,
    every_answer_carries_security_headers,
    head_request_has_no_body,
    version_flags_print_version,
])
