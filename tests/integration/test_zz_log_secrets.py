"""No password, session token, API key or passport number appears in any log
line of the whole integration run. Runs last (ctest orders it after every
other integration test) and also makes its own traffic, so it proves
something even when run alone."""

import glob
import os

from harness import LOG_DIR, Cluster, Daemon, Session, check, ctl, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_logs"


def own_traffic_leaves_no_secret_in_the_log():
    conninfo = cluster.createdb(DB)
    d = Daemon(conninfo, sections={"log": {"level": "debug"}, "auth": {"password_hash_cost": "10"}}).start()
    try:
        pw = record_secret("Trabzon-Samsun-2026-z")
        pwfile = os.path.join(d.workdir, "pw")
        with open(pwfile, "w") as f:
            f.write(pw + "\n")
        expect_equal(ctl(conninfo, "user", "add", "logcheck", "--role", "admin", "--password-file", pwfile).returncode, 0, "user add")
        s = Session(d, "logcheck", pw)
        wrong = record_secret("Wrong-Password-Typed-99")
        expect_equal(d.post("/api/v1/session", {"username": "logcheck", "password": wrong}).status, 401, "wrong pw")
        r = s.post("/api/v1/apikeys", {"name": "logs", "scopes": "feed:read"})
        key = record_secret(r.json()["key"])
        expect_equal(d.get("/api/v1/users", headers={"Authorization": "Bearer " + key}).status, 403, "key used")
        s.post("/api/v1/users", {"username": "weak", "role": "admin", "password": record_secret("tiny")})
    finally:
        d.stop()
        cluster.dropdb(DB)


def no_secret_in_any_log_of_the_run():
    secrets_path = os.path.join(LOG_DIR, "secrets.txt")
    with open(secrets_path) as f:
        secrets = {line.strip() for line in f if len(line.strip()) >= 4}
    logs = glob.glob(os.path.join(LOG_DIR, "*.log"))
    check(secrets and logs, "nothing to check: %d secrets, %d logs" % (len(secrets), len(logs)))
    found = []
    total = 0
    for path in logs:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
        total += len(text.splitlines())
        for s in secrets:
            if s in text:
                found.append("%s contains %s…" % (os.path.basename(path), s[:6]))
    print("  checked %d secrets against %d log lines in %d files" % (len(secrets), total, len(logs)))
    check(not found, "\n".join(found))


run([own_traffic_leaves_no_secret_in_the_log, no_secret_in_any_log_of_the_run])
