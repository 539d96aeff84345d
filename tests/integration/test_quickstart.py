"""deploy/quickstart.sh --background answers /readyz 200, and --stop leaves
no process behind."""

import json
import os
import shutil
import subprocess
import tempfile

from harness import SOURCE_DIR, check, expect_equal, free_port, http_request, run


def background_then_stop_leaves_nothing_running():
    state = tempfile.mkdtemp(prefix="safety-qs-", dir=os.environ.get("SAFETY_TEST_TMP"))
    port = free_port()
    env = dict(os.environ, SAFETY_STATE_DIR=state, SAFETY_PORT=str(port), SAFETY_ADMIN_PASSWORD="quickstart-test-pw-1")
    env.pop("SAFETY_DATABASE_URL", None)
    script = os.path.join(SOURCE_DIR, "deploy", "quickstart.sh")
    try:
        r = subprocess.run([script, "--background"], env=env, capture_output=True, text=True, timeout=600)
        expect_equal(r.returncode, 0, "quickstart --background: " + r.stderr + r.stdout)
        check("http://127.0.0.1:%d/" % port in r.stdout, r.stdout)
        expect_equal(http_request("GET", port, "/readyz").status, 200, "readyz")
        # The demo mission is ready for nationals to register themselves.
        reg = http_request("GET", port, "/register?country=TR&lang=en")
        check(reg.status == 200 and "Hatay" in reg.body, "registration form with the demo's regions")
        pw = os.path.join(state, "admin-password")
        expect_equal(oct(os.stat(pw).st_mode & 0o777), "0o600", "admin-password mode")
        pid = int(open(os.path.join(state, "safetyd.pid")).read())
        # A second start while running is refused, not doubled.
        again = subprocess.run([script, "--background"], env=env, capture_output=True, text=True, timeout=600)
        expect_equal(again.returncode, 1, "second start refused")
        s = subprocess.run([script, "--stop"], env=env, capture_output=True, text=True, timeout=120)
        expect_equal(s.returncode, 0, s.stderr)
        check(not os.path.exists("/proc/%d" % pid) or "zombie" in open("/proc/%d/status" % pid).read().lower(),
              "safetyd still running")
        left = subprocess.run(["pgrep", "-f", state], capture_output=True, text=True).stdout.strip()
        expect_equal(left, "", "processes left behind")
        expect_equal(oct(os.stat(os.path.join(state, "safety.conf")).st_mode & 0o777), "0o600", "safety.conf mode")
        # Run again with another password: the file and the account both take it.
        env["SAFETY_ADMIN_PASSWORD"] = "quickstart-test-pw-2"
        r = subprocess.run([script, "--background"], env=env, capture_output=True, text=True, timeout=600)
        expect_equal(r.returncode, 0, "second quickstart: " + r.stderr + r.stdout)
        login = lambda pw: http_request("POST", port, "/api/v1/session", body=json.dumps(
            {"username": "admin", "password": pw}).encode(), headers={"Content-Type": "application/json"}).status
        expect_equal(login("quickstart-test-pw-2"), 200, "the new password")
        expect_equal(login("quickstart-test-pw-1"), 401, "the old one")
    finally:
        subprocess.run([script, "--stop"], env=env, capture_output=True)
        shutil.rmtree(state, ignore_errors=True)


def a_failed_start_stops_the_database_and_secrets_stay_private():
    """A quickstart that fails after PostgreSQL started stops it again; a state directory,
    key file and hook secret an earlier run or a hand left open are closed (700, 600, 600);
    the banner quotes the paths it prints, here with a space in them."""
    top = tempfile.mkdtemp(prefix="safety-qs-", dir=os.environ.get("SAFETY_TEST_TMP"))
    state = os.path.join(top, "state dir")
    os.mkdir(state)
    os.chmod(state, 0o755)
    for name, text in (("token.keys", "1:" + "3c" * 32 + "\n"), ("hook-secret", "b7" * 24 + "\n")):
        with open(os.path.join(state, name), "w") as f:
            f.write(text)
        os.chmod(os.path.join(state, name), 0o644)
    port = free_port()
    env = dict(os.environ, SAFETY_STATE_DIR=state, SAFETY_PORT="no-port", SAFETY_ADMIN_PASSWORD="quickstart-test-pw-3")
    env.pop("SAFETY_DATABASE_URL", None)
    script = os.path.join(SOURCE_DIR, "deploy", "quickstart.sh")
    try:
        # The configuration it writes cannot be used: migrating fails after PostgreSQL started.
        r = subprocess.run([script, "--background"], env=env, capture_output=True, text=True, timeout=600)
        check(r.returncode != 0, "a quickstart with a bad port must fail: " + r.stdout)
        st = subprocess.run([os.path.join(SOURCE_DIR, "deploy", "pg.sh"), "status", os.path.join(state, "pg")],
                            capture_output=True, text=True)
        check(st.returncode != 0, "PostgreSQL still running after the failed quickstart: " + r.stdout + r.stderr)
        env["SAFETY_PORT"] = str(port)
        r = subprocess.run([script, "--background"], env=env, capture_output=True, text=True, timeout=600)
        expect_equal(r.returncode, 0, "quickstart --background: " + r.stderr + r.stdout)
        for name, mode in (("", "0o700"), ("token.keys", "0o600"), ("hook-secret", "0o600")):
            expect_equal(oct(os.stat(os.path.join(state, name)).st_mode & 0o777), mode, (name or "state") + " mode")
        check("build/safetyctl -c '%s/safety.conf' simulate" % state in r.stdout, r.stdout)
        check("password in '%s/admin-password'" % state in r.stdout, r.stdout)
    finally:
        subprocess.run([script, "--stop"], env=env, capture_output=True)
        target = os.path.realpath(os.path.join(state, "pg", "cluster"))
        shutil.rmtree(top, ignore_errors=True)
        if target.startswith("/var/tmp/safety-pg-"):
            shutil.rmtree(target, ignore_errors=True)


run([background_then_stop_leaves_nothing_running, a_failed_start_stops_the_database_and_secrets_stay_private])
