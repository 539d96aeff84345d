"""Who may do what, through the real API: login and sessions, CSRF, the role
matrix over every route with own and other missions, lockout, API keys, the
audit log and its tamper check."""

import http.client
import json
import os
import subprocess
import threading
import time

from harness import (
    APP_ROLE,
    OWNER_ROLE,
    Cluster,
    SOURCE_DIR,
    Daemon,
    Session,
    check,
    ctl,
    expect_equal,
    record_secret,
    run,
)

cluster = Cluster.shared()
DB = "t_access"
PASSWORD = record_secret("Ankara-Kyiv-2026-blue")
conninfo = cluster.createdb(DB)
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10", "lock_minutes": "15",
                                         "login_attempts_per_minute": "600",
                                         "login_failure_delay_ms": "400"}})
FAILURE_DELAY = 0.4
d.start()


def sh(*args, input=None):
    r = ctl(conninfo, *args, input=input)
    if r.returncode != 0:
        raise AssertionError("safetyctl %s failed: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
sh("mission", "add", "TR-ANK", "--name", "Embassy in Ankara", "--country", "TR")
sh("mission", "add", "UA-KYV", "--name", "Embassy in Kyiv", "--country", "UA")
MISSION = {}
for row in cluster.psql(DB, "SELECT code, id FROM mission").splitlines():
    code, mid = row.split("|")
    MISSION[code] = int(mid)
A, B = MISSION["TR-ANK"], MISSION["UA-KYV"]

ACCOUNTS = {
    "admin": ("admin", None),
    "hq": ("hq", None),
    "lead-a": ("mission_lead", "TR-ANK"),
    "staff-a": ("mission_staff", "TR-ANK"),
    "viewer-a": ("viewer", "TR-ANK"),
    "lead-b": ("mission_lead", "UA-KYV"),
    "staff-b": ("mission_staff", "UA-KYV"),
}
for name, (role, mission) in ACCOUNTS.items():
    args = ["user", "add", name, "--role", role, "--password-file", pwfile]
    if mission:
        args += ["--mission", mission]
    sh(*args)
USER_ID = {}
for row in cluster.psql(DB, "SELECT username, id FROM staff_user").splitlines():
    n, i = row.split("|")
    USER_ID[n] = int(i)

cluster.psql(DB, "SET ROLE safety; INSERT INTO national (mission_id, name_latin, name_key) VALUES "
                 "(%d, 'SYNTHETIC PERSON A', 'syntheticpersona'), (%d, 'SYNTHETIC PERSON B', 'syntheticpersonb')" % (A, B))
NATIONAL = {}
for row in cluster.psql(DB, "SELECT mission_id, id FROM national").splitlines():
    m, i = row.split("|")
    NATIONAL[int(m)] = int(i)

SESSIONS = {name: Session(d, name, PASSWORD) for name in ACCOUNTS}

# What each role may do, written from the access rules, independently of the code.
PERMS = {
    "admin": {"read", "national_write", "user_manage", "audit_read", "admin", "feed_read"},
    "hq": {"read", "feed_read"},
    "mission_lead": {"read", "national_write", "user_manage", "audit_read"},
    "mission_staff": {"read", "national_write"},
    "viewer": {"read"},
}


def routes():
    """(label, method, path, body, permission, mission of the object or None)."""
    return [
        ("whoami", "GET", "/api/v1/session", None, "read", None),
        ("missions list", "GET", "/api/v1/missions", None, "read", None),
        ("mission A", "GET", "/api/v1/missions/%d" % A, None, "read", A),
        ("mission B", "GET", "/api/v1/missions/%d" % B, None, "read", B),
        ("mission create", "POST", "/api/v1/missions",
         {"code": "XX-%d" % time.time_ns(), "name": "x", "default_country": "TR"}, "admin", None),
        ("users list", "GET", "/api/v1/users", None, "user_manage", None),
        ("user of A", "GET", "/api/v1/users/%d" % USER_ID["staff-a"], None, "user_manage", A),
        ("user of B", "GET", "/api/v1/users/%d" % USER_ID["staff-b"], None, "user_manage", B),
        ("update user of B", "PATCH", "/api/v1/users/%d" % USER_ID["staff-b"],
         {"display_name": "changed"}, "user_manage", B),
        ("apikeys list", "GET", "/api/v1/apikeys", None, "admin", None),
        ("audit", "GET", "/api/v1/audit", None, "audit_read", None),
        ("nationals list", "GET", "/api/v1/nationals", None, "read", None),
        ("national of A", "GET", "/api/v1/nationals/%d" % NATIONAL[A], None, "read", A),
        ("national of B", "GET", "/api/v1/nationals/%d" % NATIONAL[B], None, "read", B),
        ("change national of B", "PATCH", "/api/v1/nationals/%d" % NATIONAL[B], {"notes": "x"}, "national_write", B),
    ]


def expected_status(role, mission_id, method, perm, object_mission):
    if perm not in PERMS[role]:
        return 403
    if object_mission is not None and mission_id is not None and object_mission != mission_id:
        return 404
    return 201 if method == "POST" else 200


def role_matrix_every_role_every_route():
    failures = []
    for name, (role, mcode) in ACCOUNTS.items():
        mid = MISSION[mcode] if mcode else None
        s = SESSIONS[name]
        for label, method, path, body, perm, obj in routes():
            r = s.request(method, path, body)
            want = expected_status(role, mid, method, perm, obj)
            if r.status != want:
                failures.append("%s %s (%s %s): want %d got %d %s" % (name, label, method, path, want, r.status, r.body[:120]))
                continue
            if r.status >= 400:
                check(r.header("Content-Type") == "application/problem+json", "%s %s not problem+json" % (name, label))
                continue
            if mid is not None:
                # Nothing of the other mission may appear in any answer.
                other = B if mid == A else A
                other_code = "UA-KYV" if mid == A else "TR-ANK"
                if ("SYNTHETIC PERSON B" if mid == A else "SYNTHETIC PERSON A") in r.body:
                    failures.append("%s %s shows the other mission's national" % (name, label))
                doc = r.json()
                items = doc.get("items") if isinstance(doc, dict) else None
                for it in items or [doc]:
                    m = it.get("mission_id", it.get("id") if label.startswith("mission") else None)
                    if m == other:
                        failures.append("%s %s leaked mission %d: %s" % (name, label, other, it))
                if other_code in r.body or "staff-b" in r.body and mid == A:
                    failures.append("%s %s mentions the other mission: %s" % (name, label, r.body[:200]))
    check(not failures, "\n".join(failures))


def unauthenticated_gets_401_everywhere():
    for label, method, path, body, perm, obj in routes():
        r = d.request(method, path, body=body)
        expect_equal(r.status, 401, label)
        check(r.header("WWW-Authenticate"), label)
    r = d.get("/api/v1/users", headers={"Cookie": "safety_session=" + "A" * 43})
    expect_equal(r.status, 401, "forged session")
    r = d.get("/api/v1/users", headers={"Cookie": "safety_session=../../etc"})
    expect_equal(r.status, 401, "malformed session")


def cookie_has_safe_attributes():
    c = SESSIONS["admin"].set_cookie
    for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
        check(attr in c, "cookie lacks %s: %s" % (attr, c))
    check("Secure" not in c, "plain HTTP cookie marked Secure: " + c)
    token = SESSIONS["admin"].cookie.split("=", 1)[1]
    check(len(token) >= 43, "token shorter than 256 bits")
    stored = cluster.psql(DB, "SELECT count(*) FROM staff_session WHERE token_hash = encode(sha256('%s'), 'hex')" % token)
    expect_equal(stored, "1", "session stored as its hash")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM staff_session WHERE token_hash = '%s'" % token), "0",
                 "raw token stored")


def csrf_and_origin_are_enforced():
    s = SESSIONS["admin"]
    body = {"display_name": "csrf"}
    path = "/api/v1/users/%d" % USER_ID["viewer-a"]
    expect_equal(s.patch(path, body, csrf=False).status, 403, "no CSRF token")
    r = s.patch(path, body, headers={"X-CSRF-Token": "x" * 43})
    expect_equal(r.status, 403, "wrong CSRF token")
    r = s.patch(path, body, headers={"Origin": "https://evil.example"})
    expect_equal(r.status, 403, "foreign origin")
    check("Origin" in r.json()["detail"], r.body)
    expect_equal(s.patch(path, body).status, 200, "same origin with token")


def other_missions_user_by_id_is_404_not_data():
    s = SESSIONS["lead-a"]
    r = s.get("/api/v1/users/%d" % USER_ID["staff-b"])
    expect_equal(r.status, 404, "status")
    check("staff-b" not in r.body, r.body)
    r = s.patch("/api/v1/users/%d" % USER_ID["staff-b"], {"disabled": True})
    expect_equal(r.status, 404, "status of a change")
    expect_equal(cluster.psql(DB, "SELECT disabled FROM staff_user WHERE username = 'staff-b'"), "f", "untouched")


def lead_manages_only_staff_of_own_mission():
    s = SESSIONS["lead-a"]
    pw = record_secret("Istanbul-Izmir-2026-x")
    r = s.post("/api/v1/users", {"username": "new-staff-a", "role": "mission_staff", "password": pw})
    expect_equal(r.status, 201, r.body)
    expect_equal(r.json()["mission_id"], A, "defaults to the lead's mission")
    r = s.post("/api/v1/users", {"username": "x-admin", "role": "admin", "password": pw})
    expect_equal(r.status, 403, "lead making an admin")
    r = s.post("/api/v1/users", {"username": "x-b", "role": "viewer", "mission_id": B, "password": pw})
    expect_equal(r.status, 403, "lead making staff elsewhere")
    r = s.patch("/api/v1/users/%d" % USER_ID["staff-a"], {"role": "mission_lead"})
    expect_equal(r.status, 403, "lead promoting to lead")
    r = s.post("/api/v1/users", {"username": "short-pw", "role": "viewer", "password": "short"})
    expect_equal(r.status, 400, "short password")
    check("password" in r.json()["detail"], r.body)


def ten_wrong_passwords_lock_the_account():
    sh("user", "add", "victim", "--role", "viewer", "--mission", "TR-ANK", "--password-file", pwfile)
    t0 = time.time()
    for i in range(10):
        r = d.post("/api/v1/session", {"username": "victim", "password": "wrong-password-%d" % i})
        expect_equal(r.status, 401, "attempt %d" % i)
    slowed = time.time() - t0
    # Every failure is answered 0.4 s after it arrived.
    check(slowed >= 10 * FAILURE_DELAY, "failures were not slowed down (%.1fs)" % slowed)
    r = d.post("/api/v1/session", {"username": "victim", "password": PASSWORD})
    expect_equal(r.status, 401, "right password on a locked account")
    body = SESSIONS["admin"].get("/api/v1/users/%d" % int(cluster.psql(DB, "SELECT id FROM staff_user WHERE username='victim'"))).json()
    check(body["locked"] and body["failed_logins"] == 10, body)
    actions = cluster.psql(DB, "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE object_id = "
                           "(SELECT id::text FROM staff_user WHERE username='victim') AND object_type='staff_user'")
    check("account.locked" in actions and actions.count("login.failed") == 10 and "login.refused" in actions, actions)
    lst = sh("user", "list").stdout
    check("victim" in lst and "locked until" in lst, lst)
    # The admin unlocks it; the right password works again.
    vid = cluster.psql(DB, "SELECT id FROM staff_user WHERE username='victim'")
    r = SESSIONS["admin"].patch("/api/v1/users/%s" % vid, {"unlock": True})
    expect_equal(r.status, 200, r.body)
    check(not r.json()["locked"], r.body)
    check("user.unlock" in cluster.psql(DB, "SELECT string_agg(action, ',') FROM audit_log WHERE object_id = '%s'" % vid), "unlock audited")
    expect_equal(d.post("/api/v1/session", {"username": "victim", "password": PASSWORD}).status, 200, "after unlock")


def guesses_sent_at_once_lock_after_exactly_the_limit():
    """Attempts in flight together each count: the eleventh is refused, not checked."""
    from concurrent.futures import ThreadPoolExecutor
    sh("user", "add", "victim2", "--role", "viewer", "--mission", "TR-ANK", "--password-file", pwfile)
    with ThreadPoolExecutor(max_workers=24) as pool:
        codes = list(pool.map(lambda i: d.post("/api/v1/session", {"username": "victim2",
                                                                    "password": "guess-%02d-wrong" % i}).status,
                              range(24)))
    expect_equal(codes, [401] * 24, "every guess fails")
    vid = cluster.psql(DB, "SELECT id FROM staff_user WHERE username='victim2'")
    expect_equal(cluster.psql(DB, "SELECT u.failed_logins, k.failed_logins, k.locked_until > now() "
                                  "FROM staff_user u JOIN login_lock k ON k.user_id = u.id WHERE u.id = %s" % vid),
                 "10|10|t", "counted and the address locked out")
    actions = cluster.psql(DB, "SELECT action, count(*) FROM audit_log WHERE object_type = 'staff_user' "
                               "AND object_id = '%s' AND action <> 'user.create' "
                               "GROUP BY action ORDER BY action" % vid).splitlines()
    expect_equal(actions, ["account.locked|1", "login.failed|10", "login.refused|14"], "audited")
    expect_equal(d.post("/api/v1/session", {"username": "victim2", "password": PASSWORD}).status, 401,
                 "right password while locked")


def a_burst_of_logins_is_capped_before_any_is_checked():
    """Logins admitted at once are at most the checks allowed at once (32), counted
    from their arrival: while the account's row is held, none reaches a check, so
    all would pass a cap counted only when checks are queued."""
    from concurrent.futures import ThreadPoolExecutor
    sh("user", "add", "burst", "--role", "viewer", "--mission", "TR-ANK", "--password-file", pwfile)
    holder = subprocess.Popen([os.path.join(SOURCE_DIR, "deploy", "pg.sh"), "psql", cluster.dir, "-d", DB, "-At",
                               "-c", "BEGIN; SELECT 1 FROM staff_user WHERE username = 'burst' FOR UPDATE; "
                                     "SELECT pg_sleep(2.5); COMMIT;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.7)
        with ThreadPoolExecutor(max_workers=50) as pool:
            codes = list(pool.map(lambda i: d.post("/api/v1/session", {"username": "burst",
                                                                        "password": "burst-%02d-wrong" % i}).status,
                                  range(50)))
    finally:
        holder.wait()
    check(set(codes) <= {401, 503}, codes)
    check(codes.count(401) <= 32, "%d checked at once: %r" % (codes.count(401), codes))
    check(codes.count(503) >= 18, codes)


def failures_take_the_same_time_whatever_their_cause():
    """An unknown name, a wrong password and a locked account are answered alike in time."""
    sh("user", "add", "timed", "--role", "viewer", "--mission", "TR-ANK", "--password-file", pwfile)
    means = {}
    for name in ("nobody-by-this-name", "timed", "victim2"):
        times = []
        for i in range(4):
            t0 = time.time()
            r = d.post("/api/v1/session", {"username": name, "password": "not-the-password-%d" % i})
            times.append(time.time() - t0)
            expect_equal(r.status, 401, name)
        check(min(times) >= FAILURE_DELAY - 0.01, "%s answered before the pause: %r" % (name, times))
        means[name] = sum(times) / len(times)
    spread = max(means.values()) - min(means.values())
    check(spread < 0.15, "failure timing tells the causes apart: %r" % means)
    sh("user", "unlock", "timed")


def unknown_user_and_wrong_password_look_the_same():
    a = d.post("/api/v1/session", {"username": "nobody-here", "password": "whatever-it-is"})
    b = d.post("/api/v1/session", {"username": "viewer-a", "password": "whatever-it-is"})
    expect_equal(a.status, b.status, "status")
    expect_equal(a.body, b.body, "body")
    sh("user", "unlock", "viewer-a")


def logout_revokes_the_session():
    s = Session(d, "staff-a", PASSWORD)
    expect_equal(s.get("/api/v1/session").status, 200, "before")
    expect_equal(s.delete("/api/v1/session").status, 204, "logout")
    expect_equal(s.get("/api/v1/session").status, 401, "after")


def disabling_an_account_ends_its_sessions():
    s = Session(d, "staff-b", PASSWORD)
    sh("user", "disable", "staff-b")
    expect_equal(s.get("/api/v1/session").status, 401, "disabled account")
    expect_equal(d.post("/api/v1/session", {"username": "staff-b", "password": PASSWORD}).status, 401, "login")
    sh("user", "enable", "staff-b")


def idle_sessions_expire():
    s = Session(d, "viewer-a", PASSWORD)
    cluster.psql(DB, "UPDATE staff_session SET last_seen_at = now() - interval '2 hours' WHERE user_id = %d" % USER_ID["viewer-a"])
    expect_equal(s.get("/api/v1/session").status, 401, "idle session")


def api_keys_are_bearer_scoped_and_revocable():
    r = ctl(conninfo, "apikey", "create", "hq-dashboard", "--scope", "feed:read")
    expect_equal(r.returncode, 0, r.stderr)
    key = record_secret(r.stdout.strip())
    check(key.startswith("sfk_") and len(key) >= 47, key)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM api_key WHERE key_hash = encode(sha256('%s'), 'hex')" % key), "1", "hash stored")
    h = {"Authorization": "Bearer " + key}
    # feed:read opens the feed only, not staff routes.
    expect_equal(d.get("/api/v1/users", headers=h).status, 403, "key on a staff route")
    check(cluster.psql(DB, "SELECT last_used_at IS NOT NULL FROM api_key WHERE name = 'hq-dashboard'") == "t", "last use recorded")
    expect_equal(d.get("/api/v1/users", headers={"Authorization": "Bearer sfk_" + "x" * 43}).status, 401, "unknown key")
    expect_equal(d.get("/api/v1/users", headers={"Authorization": "Basic abc"}).status, 401, "wrong scheme")
    kid = cluster.psql(DB, "SELECT id FROM api_key WHERE name = 'hq-dashboard'")
    r = SESSIONS["admin"].post("/api/v1/apikeys", {"name": "via-api", "scopes": "feed:read"})
    expect_equal(r.status, 201, r.body)
    record_secret(r.json()["key"])
    check("key_hash" not in r.body, r.body)
    lst = SESSIONS["admin"].get("/api/v1/apikeys")
    check(r.json()["key"] not in lst.body, "listing shows a key")
    expect_equal(SESSIONS["admin"].delete("/api/v1/apikeys/%s" % kid).status, 200, "revoke")
    expect_equal(d.get("/api/v1/users", headers=h).status, 401, "revoked key")
    expect_equal(SESSIONS["lead-a"].post("/api/v1/apikeys", {"name": "x", "scopes": "feed:read"}).status, 403, "lead making keys")


def a_revoked_key_stops_at_once_under_concurrent_polls():
    """On the process that revoked it, no request sent after the revocation's answer gets in,
    even while pollers keep lookups of the key in flight around the revocation."""
    busy = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}, "database": {"pool_size": "2"}}).start()
    admin = Session(busy, "admin", PASSWORD)

    def poll(headers, stop, log):
        conn = http.client.HTTPConnection("127.0.0.1", busy.port, timeout=10)
        while not stop.is_set():
            t0 = time.time()
            try:
                conn.request("GET", "/feed/v1/status.json", headers=headers)
                r = conn.getresponse()
                r.read()
                log.append((t0, r.status))
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", busy.port, timeout=10)

    try:
        for trial in range(4):
            r = ctl(conninfo, "apikey", "create", "poller-%d" % trial, "--scope", "feed:read")
            expect_equal(r.returncode, 0, r.stderr)
            headers = {"Authorization": "Bearer " + record_secret(r.stdout.strip())}
            kid = cluster.psql(DB, "SELECT id FROM api_key WHERE name = 'poller-%d'" % trial)
            stop, log = threading.Event(), []
            threads = [threading.Thread(target=poll, args=(headers, stop, log)) for _ in range(6)]
            for t in threads:
                t.start()
            time.sleep(0.8 + 0.3 * trial)
            expect_equal(admin.delete("/api/v1/apikeys/%s" % kid).status, 200, "revoke")
            revoked = time.time()
            time.sleep(2)
            stop.set()
            for t in threads:
                t.join()
            check(any(s == 200 for _, s in log), "the key worked before")
            late = [s for t0, s in log if t0 > revoked and s == 200]
            expect_equal(len(late), 0, "polls sent after the revocation answered that got in (trial %d)" % trial)
            check(any(t0 > revoked and s == 401 for t0, s in log), "refused after")
    finally:
        busy.stop()


def audit_log_is_append_only_and_scoped():
    out = subprocess.run(
        ["psql", "-X", "-At", conninfo, "-c", "UPDATE audit_log SET actor = 'someone' WHERE id = 1"],
        capture_output=True, text=True)
    check(out.returncode != 0 and ("permission denied" in out.stderr or "append-only" in out.stderr), out.stderr)
    out = subprocess.run(["psql", "-X", "-At", conninfo, "-c", "DELETE FROM audit_log"], capture_output=True, text=True)
    check(out.returncode != 0, "the application role deleted audit rows")
    items = SESSIONS["lead-a"].get("/api/v1/audit?limit=500").json()["items"]
    check(items, "lead sees its mission's audit rows")
    check(all(i["mission_id"] == A for i in items), "lead sees another mission's audit rows")
    page1 = SESSIONS["admin"].get("/api/v1/audit?limit=3").json()
    page2 = SESSIONS["admin"].get("/api/v1/audit?limit=3&after=%s" % page1["next"]).json()
    check(page2["items"][0]["id"] > page1["items"][-1]["id"], "pages do not overlap")
    expect_equal(SESSIONS["admin"].get("/api/v1/audit?limit=0").status, 400, "bad limit")


def the_app_role_cannot_rewrite_the_audit_log_or_the_schema():
    # safetyd's role, as its own connection string gives it.
    def as_app(sql):
        return subprocess.run(["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1", conninfo, "-c", sql],
                              capture_output=True, text=True)

    before = cluster.psql(DB, "SELECT count(*), max(hash) FROM audit_log")
    for sql, why in [
        ("UPDATE audit_log SET actor = 'someone'", "permission denied"),
        ("DELETE FROM audit_log", "permission denied"),
        ("TRUNCATE audit_log", "permission denied"),
        ("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only", "must be owner"),
        ("ALTER TABLE audit_log DISABLE TRIGGER ALL", "must be owner"),
        ("DROP TRIGGER audit_log_no_truncate ON audit_log", "must be owner"),
        ("ALTER TABLE audit_log OWNER TO %s" % APP_ROLE, "must be owner"),
        ("SET session_replication_role = replica", "permission denied"),
        ("SELECT setval('audit_log_id_seq', 1)", "permission denied"),
        ("CREATE TABLE audit_copy (id bigint)", "permission denied for schema public"),
        ("CREATE FUNCTION audit_log_refuse_change() RETURNS trigger LANGUAGE sql AS 'SELECT NULL'",
         "permission denied"),
        ("SELECT safety_grant_app_role('%s')" % APP_ROLE, "permission denied"),
        ("ALTER DEFAULT PRIVILEGES FOR ROLE %s GRANT ALL ON TABLES TO %s" % (OWNER_ROLE, APP_ROLE),
         "must be member of role"),
        ("SET ROLE %s" % OWNER_ROLE, "permission denied"),
    ]:
        out = as_app(sql)
        check(out.returncode != 0 and why in out.stderr, "%s: %r" % (sql, out.stderr))
    # GRANT by a role without the privilege only warns; what matters is that nothing changed.
    as_app("GRANT UPDATE, DELETE, TRUNCATE ON audit_log TO %s" % APP_ROLE)
    as_app("GRANT ALL ON audit_log TO PUBLIC")
    expect_equal(cluster.psql(DB, "SELECT has_table_privilege('%s', 'audit_log', 'UPDATE'), "
                                  "has_table_privilege('%s', 'audit_log', 'DELETE'), "
                                  "has_table_privilege('%s', 'audit_log', 'TRUNCATE'), "
                                  "has_table_privilege('%s', 'audit_log', 'INSERT')" % ((APP_ROLE,) * 4)),
                 "f|f|f|t", "the app role's privileges on audit_log")
    expect_equal(cluster.psql(DB, "SELECT count(*), max(hash) FROM audit_log"), before, "audit rows")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'audit_log'::regclass "
                                  "AND tgenabled = 'O'"), "3", "audit_log's triggers all enabled")
    # It owns nothing, and safetyd and safetyctl work as it: every
    # connection safetyd holds is the app role's, and it logs in and records.
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM pg_class WHERE relowner = '%s'::regrole" % APP_ROLE),
                 "0", "objects owned by the app role")
    expect_equal(cluster.psql(DB, "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity "
                                  "WHERE datname = '%s' AND pid <> pg_backend_pid()" % DB),
                 APP_ROLE, "roles safetyd connects as")
    sh("user", "add", "app-role-check", "--role", "viewer", "--mission", "TR-ANK", "--password-file", pwfile)
    Session(d, "app-role-check", PASSWORD)
    r = ctl(conninfo, "audit", "verify")
    expect_equal(r.returncode, 0, r.stdout + r.stderr)
    check("intact" in r.stdout, r.stdout)


def audit_verify_detects_a_changed_row():
    r = ctl(conninfo, "audit", "verify")
    expect_equal(r.returncode, 0, r.stdout + r.stderr)
    check("intact" in r.stdout, r.stdout)
    victim = cluster.psql(DB, "SELECT min(id) + 3 FROM audit_log")
    cluster.psql(DB, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; "
                     "UPDATE audit_log SET summary = '{\"forged\":true}' WHERE id = %s; "
                     "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only" % victim)
    r = ctl(conninfo, "audit", "verify")
    expect_equal(r.returncode, 1, "exit code")
    check("row %s: contents do not match its hash" % victim in r.stdout and "TAMPERED" in r.stdout, r.stdout)
    # A removed row breaks the link of the one after it.
    cluster.psql(DB, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; "
                     "UPDATE audit_log SET summary = '{}' WHERE false; "
                     "DELETE FROM audit_log WHERE id = %d; "
                     "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only" % (int(victim) + 2))
    r = ctl(conninfo, "audit", "verify")
    check("row %d: does not follow" % (int(victim) + 3) in r.stdout, r.stdout)


def login_is_rate_limited_per_address():
    d2 = Daemon(cluster.createdb("t_access_rl"), sections={"auth": {"login_attempts_per_minute": "5"}}).start()
    try:
        codes = [d2.post("/api/v1/session", {"username": "x", "password": "y" * 12}).status for _ in range(8)]
        check(429 in codes, codes)
        r = d2.post("/api/v1/session", {"username": "x", "password": "y" * 12})
        expect_equal(r.status, 429, "still limited")
        check(r.header("Retry-After"), "Retry-After")
        expect_equal(d2.get("/healthz").status, 200, "others still served")
    finally:
        d2.stop()
        cluster.dropdb("t_access_rl")


def bad_login_bodies_are_400():
    for body, ctype in ((b"{", "application/json"), (b"[]", "application/json"),
                        (json.dumps({"username": 5, "password": "x"}), "application/json"),
                        (json.dumps({"username": "a" * 65, "password": "x"}), "application/json"),
                        (b"username=a&password=b", "application/x-www-form-urlencoded")):
        r = d.request("POST", "/api/v1/session", body=body, headers={"Content-Type": ctype})
        check(r.status in (400, 415), "%r -> %d" % (body, r.status))
        check(r.json()["detail"], r.body)


def a_password_changed_during_a_login_check_stands():
    """A login checked against the old hash while the password is changed fails: the
    change is not reverted by the login's stronger hash, and the old password stays out."""
    sh("user", "add", "changed", "--role", "viewer", "--mission", "TR-ANK", "--password-file", pwfile)
    new_pw = record_secret("Odesa-Lviv-2026-green")
    # Accounts hashed at cost 10 are rehashed at 18 by this daemon after their check: seconds.
    slow = Daemon(conninfo, sections={"auth": {"password_hash_cost": "18", "login_failure_delay_ms": "0"}}).start()
    try:
        result = {}

        def login():
            result["r"] = slow.post("/api/v1/session", {"username": "changed", "password": PASSWORD}, timeout=60)

        t = threading.Thread(target=login)
        t.start()
        time.sleep(0.4)
        check(t.is_alive(), "the login was not still being checked")
        sh("user", "passwd", "changed", input=new_pw + "\n")
        t.join(60)
        expect_equal(result["r"].status, 401, "login checked against the replaced password")
        expect_equal(d.post("/api/v1/session", {"username": "changed", "password": new_pw}).status, 200, "new password")
        expect_equal(d.post("/api/v1/session", {"username": "changed", "password": PASSWORD}).status, 401, "old password")
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM staff_session s JOIN staff_user u ON u.id = s.user_id "
                                      "WHERE u.username = 'changed' AND s.revoked_at IS NULL"), "1", "sessions")
    finally:
        slow.stop()


def an_unknown_users_login_does_not_stall_other_requests():
    """At a high cost the hash unknown names are checked against takes seconds to make:
    it is made off the request loop, so everything else is still answered meanwhile."""
    slow = Daemon(conninfo, sections={"auth": {"password_hash_cost": "18", "login_failure_delay_ms": "0"}}).start()
    try:
        result = {}

        def login():
            result["r"] = slow.post("/api/v1/session", {"username": "nobody-at-all", "password": "x" * 12},
                                    timeout=60)

        t = threading.Thread(target=login)
        t.start()
        worst = 0.0
        for _ in range(10):
            time.sleep(0.1)
            t0 = time.time()
            expect_equal(slow.get("/healthz").status, 200, "healthz")
            worst = max(worst, time.time() - t0)
        t.join(60)
        expect_equal(result["r"].status, 401, "unknown user")
        check(worst < 0.5, "healthz took %.2fs during the login" % worst)
    finally:
        slow.stop()


def failed_logins_to_unknown_or_disabled_accounts_are_audited():
    sh("user", "add", "gone-away", "--role", "viewer", "--mission", "TR-ANK", "--password-file", pwfile)
    sh("user", "disable", "gone-away")
    secret = "Not-Written-Anywhere-77"
    for name in ("Nobody-Known-42", "gone-away"):
        expect_equal(d.post("/api/v1/session", {"username": name, "password": secret}).status, 401, name)
    # A name with no account has no mission; a disabled account's is its mission's.
    rows = cluster.psql(DB, "SELECT actor, mission_id IS NULL, client_addr <> '', object_id, summary FROM audit_log "
                            "WHERE action = 'login.failed' AND actor IN ('Nobody-Known-42', 'gone-away') "
                            "ORDER BY id").splitlines()
    gid = cluster.psql(DB, "SELECT id FROM staff_user WHERE username = 'gone-away'")
    expect_equal(rows, ['Nobody-Known-42|t|t||{"username" : "Nobody-Known-42", "account" : "unknown"}',
                        'gone-away|f|t|%s|{"username" : "gone-away", "account" : "disabled"}' % gid], "audited")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE summary LIKE '%Not-Written%' "
                                  "OR actor LIKE '%Not-Written%'"), "0", "no password in the audit")


def a_leads_change_to_an_account_promoted_meanwhile_is_refused():
    """The lead's permission is checked on the account as read; promoted to lead by an
    admin before the change is written, the account is no longer the lead's: 409."""
    sh("user", "add", "rising", "--role", "mission_staff", "--mission", "TR-ANK", "--password-file", pwfile)
    rid = int(cluster.psql(DB, "SELECT id FROM staff_user WHERE username = 'rising'"))
    rising = Session(d, "rising", PASSWORD)
    holder = subprocess.Popen([os.path.join(SOURCE_DIR, "deploy", "pg.sh"), "psql", cluster.dir, "-d", DB, "-At",
                               "-c", "BEGIN; UPDATE staff_user SET role = 'mission_lead' WHERE username = 'rising'; "
                                     "SELECT pg_sleep(2); COMMIT;"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.7)
        r = SESSIONS["lead-a"].patch("/api/v1/users/%d" % rid, {"disabled": True})
    finally:
        holder.wait()
    expect_equal(r.status, 409, r.body)
    expect_equal(cluster.psql(DB, "SELECT role, disabled FROM staff_user WHERE id = %d" % rid), "mission_lead|f",
                 "the promoted account is untouched")
    expect_equal(rising.get("/api/v1/session").status, 200, "the refused change ended no session")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM staff_session WHERE user_id = %d AND revoked_at IS NOT NULL"
                                  % rid), "0", "no session revoked")


def safetyctl_mission_add_is_checked_as_the_api():
    """safetyctl mission add refuses what the API refuses (an unknown or empty time zone,
    countries without the mission's own), naming the field and storing nothing; a row
    written by hand with an unknown time zone is refused by the database too."""
    missions = "SELECT count(*) FROM mission"
    before = cluster.psql(DB, missions)
    for extra, words in ((["--timezone", "Mars/Base"], "timezone: not a known time zone name"),
                         (["--timezone", ""], "timezone: not a known time zone name"),
                         (["--countries", "SY"], "countries: must include default_country TR"),
                         (["--countries", "tr"], "countries: two-letter upper-case")):
        r = ctl(conninfo, "mission", "add", "XX-CTL", "--name", "X", "--country", "TR", *extra)
        check(r.returncode != 0, "safetyctl mission add %r must fail: %s" % (extra, r.stdout))
        check(words in r.stderr, "%r: %s" % (extra, r.stderr))
    expect_equal(cluster.psql(DB, missions), before, "no mission stored")
    r = ctl(conninfo, "mission", "add", "XX-CTL", "--name", "X", "--country", "TR",
            "--countries", "", "--timezone", "Europe/Istanbul")
    expect_equal(r.returncode, 0, r.stderr)
    expect_equal(cluster.psql(DB, "SELECT array_to_string(countries, ',') || ' ' || timezone FROM mission "
                                  "WHERE code = 'XX-CTL'"), "TR Europe/Istanbul", "its own country")
    for sql in ("INSERT INTO mission (code, name, default_country, timezone) VALUES ('XX-HAND', 'X', 'TR', "
                "'Mars/Base')",
                "UPDATE mission SET timezone = 'Mars/Base' WHERE code = 'XX-CTL'"):
        r = cluster.pg("psql", cluster.dir, "-d", DB, "-At", "-c", "SET ROLE safety; " + sql, check=False)
        check(r.returncode != 0 and "timezone" in r.stderr, "%s: %s%s" % (sql, r.stdout, r.stderr))
    expect_equal(cluster.psql(DB, "SELECT timezone FROM mission WHERE code = 'XX-CTL'"), "Europe/Istanbul",
                 "unchanged")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM mission WHERE code = 'XX-HAND'"), "0", "not stored")


def a_password_file_that_is_a_directory_is_named_so():
    """--password-file naming a directory says so, rather than "too short"; nothing is stored."""
    for args in (("user", "add", "dir-pw", "--role", "admin", "--password-file", d.workdir),
                 ("user", "passwd", "admin", "--password-file", d.workdir)):
        r = ctl(conninfo, *args)
        check(r.returncode != 0, "%s must fail: %s" % (" ".join(args), r.stdout))
        check(d.workdir + ": is a directory" in r.stderr and "too short" not in r.stderr, r.stderr)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM staff_user WHERE username = 'dir-pw'"), "0", "not stored")


def mission_and_key_bodies_are_checked():
    """A new mission's time zone, fields and countries, and a new key's mission, are checked
    with an answer naming the problem; nothing is stored from a refused body."""
    admin = SESSIONS["admin"]
    missions = "SELECT count(*) FROM mission"
    before = cluster.psql(DB, missions)
    for body, words in (
            ({"code": "XX-TZ", "name": "X", "default_country": "TR", "timezone": "Mars/Olympus"},
             "timezone: not a known time zone name"),
            ({"code": "XX-TZ", "name": "X", "default_country": "TR", "tz": "Europe/Istanbul"},
             "unknown field 'tz'"),
            ({"code": "XX-TZ", "name": "X", "default_country": "TR", "countries": ["SY"]},
             "countries: must include default_country TR"),
            ({"code": "XX-TZ", "name": "X", "default_country": "tr"}, "default_country: a two-letter")):
        r = admin.post("/api/v1/missions", body)
        expect_equal(r.status, 400, r.body)
        check(words in r.json()["detail"], r.body)
    expect_equal(cluster.psql(DB, missions), before, "no mission stored")
    r = admin.post("/api/v1/missions", {"code": "XX-TZ", "name": "X", "default_country": "TR",
                                        "countries": ["SY", "TR"], "timezone": "Europe/Istanbul"})
    expect_equal(r.status, 201, r.body)
    expect_equal((r.json()["countries"], r.json()["timezone"]), (["SY", "TR"], "Europe/Istanbul"), r.body)
    r = admin.post("/api/v1/missions", {"code": "XX-OWN", "name": "X", "default_country": "TR"})
    expect_equal(r.status, 201, r.body)
    expect_equal(r.json()["countries"], ["TR"], "its own country when none are listed")

    keys = "SELECT count(*) FROM api_key"
    before = cluster.psql(DB, keys)
    for m in (1.5, A + 0.5, 1e300, 0, -5, "1"):
        r = admin.post("/api/v1/apikeys", {"name": "odd-mission", "scopes": "feed:read", "mission_id": m})
        expect_equal(r.status, 400, "%r: %s" % (m, r.body))
        check("mission_id" in r.json()["detail"], r.body)
    expect_equal(admin.post("/api/v1/apikeys", {"name": "no-such-mission", "scopes": "feed:read",
                                                "mission_id": 99999}).status, 400, "no such mission")
    expect_equal(cluster.psql(DB, keys), before, "no key stored")
    r = admin.post("/api/v1/apikeys", {"name": "mission-a", "scopes": "feed:read", "mission_id": A})
    expect_equal(r.status, 201, r.body)
    expect_equal(r.json()["mission_id"], A, r.body)


def a_field_given_twice_in_an_account_change_is_refused():
    pw = "Twice-Given-Password-1"
    for method, path, body in (
            ("PATCH", "/api/v1/users/%d" % USER_ID["viewer-a"],
             '{"password": "%s", "password": "%s"}' % (pw, pw + "x")),
            ("POST", "/api/v1/users",
             '{"username": "twice", "role": "viewer", "password": "%s", "password": "%s"}' % (pw, pw + "x"))):
        r = SESSIONS["lead-a"].request(method, path, body, headers={"Content-Type": "application/json"})
        expect_equal(r.status, 400, r.body)
        check("'password' given twice" in r.json()["detail"], r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM staff_user WHERE username = 'twice'"), "0", "not created")


def a_new_api_keys_secret_is_not_in_the_statement():
    """A server logging every statement with its parameters never sees a new key."""
    log = os.path.join(cluster.dir, "cluster", "server.log")
    cluster.psql(DB, "ALTER DATABASE %s SET log_statement = 'all'" % DB)
    logged = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}}).start()
    try:
        start = os.path.getsize(log)
        admin = Session(logged, "admin", PASSWORD)
        r = admin.post("/api/v1/apikeys", {"name": "not-logged", "scopes": "feed:read"})
        expect_equal(r.status, 201, r.body)
        key = record_secret(r.json()["key"])
        expect_equal(r.json()["name"], "not-logged", r.body)
        r2 = http.client.HTTPConnection("127.0.0.1", logged.port)
        r2.request("GET", "/feed/v1/status.json", headers={"Authorization": "Bearer " + key})
        expect_equal(r2.getresponse().status, 200, "the key answered works")
        with open(log, errors="replace") as f:
            f.seek(start)
            text = f.read()
        check("INSERT INTO api_key" in text, "statements are logged")
        check(key not in text and key[8:] not in text, "the new key is in the server log")
    finally:
        cluster.psql(DB, "ALTER DATABASE %s RESET log_statement" % DB)
        logged.stop()


def a_leads_audit_view_shows_admins_changes_to_the_mission():
    """Audit rows carry the changed object's mission: an admin's change to a national,
    an account or a crisis of mission A is in A's lead's view, never in B's."""
    admin = SESSIONS["admin"]
    sh("user", "add", "audited-a", "--role", "mission_staff", "--mission", "TR-ANK", "--password-file", pwfile)
    uid = int(cluster.psql(DB, "SELECT id FROM staff_user WHERE username = 'audited-a'"))
    cid = int(cluster.psql(DB, "SET ROLE safety; INSERT INTO crisis (kind, title, center, radius_m) VALUES "
                               "('earthquake', 'Audited', ST_SetSRID(ST_MakePoint(32.8, 39.9), 4326)::geography, "
                               "1000) RETURNING id; INSERT INTO crisis_mission (crisis_id, mission_id) "
                               "SELECT max(id), %d FROM crisis" % A).splitlines()[0])
    expect_equal(admin.patch("/api/v1/nationals/%d" % NATIONAL[A], {"notes": "seen by the admin"}).status, 200, "national")
    expect_equal(admin.patch("/api/v1/users/%d" % uid, {"disabled": True}).status, 200, "account")
    expect_equal(admin.patch("/api/v1/crises/%d" % cid, {"title": "Audited again"}).status, 200, "crisis")
    wanted = {("national", str(NATIONAL[A])), ("staff_user", str(uid)), ("crisis", str(cid))}

    def admins_rows(lead):
        items = SESSIONS[lead].get("/api/v1/audit?limit=500").json()["items"]
        return {(i["object_type"], i["object_id"]) for i in items if i["actor"] == "admin"}

    expect_equal(admins_rows("lead-a") & wanted, wanted, "lead of A sees the admin's changes")
    expect_equal(admins_rows("lead-b") & wanted, set(), "lead of B sees none of them")
    rows = cluster.psql(DB, "SELECT DISTINCT actor_role, mission_id FROM audit_log WHERE actor = 'admin' "
                            "AND (object_type, object_id) IN (('national', '%d'), ('staff_user', '%d'))"
                            % (NATIONAL[A], uid))
    expect_equal(rows, "admin|%d" % A, "the actor is the admin; the mission is the object's")


def guesses_from_one_address_do_not_lock_the_owner_out_elsewhere():
    """Failures lock their address (an IPv6 /64) out of the account, not the owner at
    another address; failures from all addresses together lock the account."""
    proxied = Daemon(conninfo, sections={"server": {"trusted_proxies": "127.0.0.1"},
                                         "auth": {"password_hash_cost": "10", "login_failure_delay_ms": "0",
                                                  "login_attempts_per_minute": "600",
                                                  "account_lock_failures": "15"}}).start()

    def login(addr, password):
        return proxied.post("/api/v1/session", {"username": "owner", "password": password},
                            headers={"X-Forwarded-For": addr}).status

    try:
        sh("user", "add", "owner", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file", pwfile)
        for x, same, other in (("198.51.100.7", "198.51.100.7", "203.0.113.9"),
                               ("2001:db8:1:2::5", "2001:db8:1:2::6", "2001:db8:1:3::1")):
            for i in range(10):
                expect_equal(login(x, "guess-%d-wrong" % i), 401, "guess %d from %s" % (i, x))
            expect_equal(login(same, PASSWORD), 401, "right password from the guessing address %s" % same)
            expect_equal(login(other, PASSWORD), 200, "right password from %s" % other)
        uid = int(cluster.psql(DB, "SELECT id FROM staff_user WHERE username = 'owner'"))
        body = SESSIONS["admin"].get("/api/v1/users/%d" % uid).json()
        check(body["locked"] and body["addresses_locked_out"] == 2, body)
        check("from 2 address(es)" in sh("user", "list").stdout, "user list")
        sh("user", "unlock", "owner")
        expect_equal(login("198.51.100.7", PASSWORD), 200, "unlocked")
        # Fewer than 10 from each of three addresses, 15 in all: the account locks everywhere.
        for n, addr in enumerate(("192.0.2.1", "192.0.2.2", "192.0.2.3")):
            for i in range(5):
                expect_equal(login(addr, "spread-%d-%d" % (n, i)), 401, "spread guess")
        expect_equal(login("192.0.2.200", PASSWORD), 401, "the account is locked after 15 from anywhere")
        locks = cluster.psql(DB, "SELECT string_agg(summary, ' ' ORDER BY id) FROM audit_log WHERE "
                                 "action = 'account.locked' AND object_id = '%d'" % uid)
        check('"address" : "198.51.100.7"' in locks and '"address" : "all"' in locks, locks)
    finally:
        proxied.stop()


def a_new_password_or_the_account_locks_end_leave_no_address_locked():
    """A new password set through the API frees the account and every address locked out of
    it, as an unlock does; the right password refused while the account is locked is not
    counted against its address, so the owner's office is not locked out once the
    account's lock ends."""
    proxied = Daemon(conninfo, sections={"server": {"trusted_proxies": "127.0.0.1"},
                                         "auth": {"password_hash_cost": "10", "login_failure_delay_ms": "0",
                                                  "login_attempts_per_minute": "600", "lock_failures": "3",
                                                  "account_lock_failures": "5"}}).start()

    def login(name, addr, password):
        return proxied.post("/api/v1/session", {"username": name, "password": password},
                            headers={"X-Forwarded-For": addr}).status

    try:
        sh("user", "add", "forgetful", "--role", "viewer", "--mission", "TR-ANK", "--password-file", pwfile)
        fid = int(cluster.psql(DB, "SELECT id FROM staff_user WHERE username = 'forgetful'"))
        for i, addr in enumerate(["198.51.100.20"] * 3 + ["198.51.100.21"] * 2):
            expect_equal(login("forgetful", addr, "guess-%d-wrong" % i), 401, "guess %d" % i)
        body = SESSIONS["admin"].get("/api/v1/users/%d" % fid).json()
        check(body["locked"] and body["addresses_locked_out"] == 1, body)
        new_password = "Forgetful-New-Password-2026"
        r = SESSIONS["admin"].patch("/api/v1/users/%d" % fid, {"password": new_password})
        expect_equal(r.status, 200, r.body)
        check(not r.json()["locked"] and r.json()["addresses_locked_out"] == 0, r.body)
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM login_lock WHERE user_id = %d" % fid), "0", "addresses freed")
        for addr in ("198.51.100.20", "198.51.100.21"):
            expect_equal(login("forgetful", addr, new_password), 200, "new password from " + addr)

        sh("user", "add", "office", "--role", "viewer", "--mission", "TR-ANK", "--password-file", pwfile)
        oid = int(cluster.psql(DB, "SELECT id FROM staff_user WHERE username = 'office'"))
        for i in range(5):
            expect_equal(login("office", "203.0.113.%d" % (40 + i), "guess-%d-wrong" % i), 401, "spread guess")
        for i in range(4):
            expect_equal(login("office", "198.51.100.30", PASSWORD), 401, "right password while the account is locked")
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM login_lock WHERE user_id = %d AND client_key LIKE "
                                      "'198.51.100.30%%'" % oid), "0", "the refused attempts are not counted")
        cluster.psql(DB, "UPDATE staff_user SET locked_until = now() - interval '1 second' WHERE id = %d" % oid)
        expect_equal(login("office", "198.51.100.30", PASSWORD), 200, "the office once the account's lock ended")
    finally:
        proxied.stop()


try:
    run([
        role_matrix_every_role_every_route,
        unauthenticated_gets_401_everywhere,
        cookie_has_safe_attributes,
        csrf_and_origin_are_enforced,
        other_missions_user_by_id_is_404_not_data,
        lead_manages_only_staff_of_own_mission,
        ten_wrong_passwords_lock_the_account,
        guesses_sent_at_once_lock_after_exactly_the_limit,
        a_burst_of_logins_is_capped_before_any_is_checked,
        failures_take_the_same_time_whatever_their_cause,
        unknown_user_and_wrong_password_look_the_same,
        logout_revokes_the_session,
        disabling_an_account_ends_its_sessions,
        idle_sessions_expire,
        api_keys_are_bearer_scoped_and_revocable,
        a_revoked_key_stops_at_once_under_concurrent_polls,
        audit_log_is_append_only_and_scoped,
        the_app_role_cannot_rewrite_the_audit_log_or_the_schema,
        audit_verify_detects_a_changed_row,
        login_is_rate_limited_per_address,
        bad_login_bodies_are_400,
        a_password_changed_during_a_login_check_stands,
        an_unknown_users_login_does_not_stall_other_requests,
        failed_logins_to_unknown_or_disabled_accounts_are_audited,
        a_leads_change_to_an_account_promoted_meanwhile_is_refused,
        a_field_given_twice_in_an_account_change_is_refused,
        mission_and_key_bodies_are_checked,
        safetyctl_mission_add_is_checked_as_the_api,
        a_password_file_that_is_a_directory_is_named_so,
        a_new_api_keys_secret_is_not_in_the_statement,
        a_leads_audit_view_shows_admins_changes_to_the_mission,
        guesses_from_one_address_do_not_lock_the_owner_out_elsewhere,
        a_new_password_or_the_account_locks_end_leave_no_address_locked,
    ])
finally:
    d.stop()
    cluster.dropdb(DB)
