"""The demo simulator: nationals of a crisis answer their check-ins through
the real reply page and Kannel's SMS hook, at times spread like a real
crisis (compressed here), in Korean and English, with some never answering;
everything it sends is stored as answers of the people it names."""

import os

from harness import Cluster, Daemon, Session, check, ctl, eventually, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_simulate"
PASSWORD = record_secret("Kirikhan-Yayladagi-2026-sim")
SECRET = record_secret("sim-hook-secret-0123456789abcdef")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "400", "--seed", "12").returncode, 0, "demo")
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10", "public_rate_per_second": "1000", "public_burst": "1000"},
                               "channels": {"dispatch_interval_ms": "50", "hook_secret": SECRET}})
keyfile = os.path.join(d.workdir, "token.key")
with open(keyfile, "w") as f:
    f.write("1:" + "5a" * 32 + "\n")
os.chmod(keyfile, 0o600)  # safetyd refuses keys others may read
with open(d.config_path, "a") as f:
    f.write("[tokens]\nkey_file = %s\n" % keyfile)
d.start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
expect_equal(ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file",
                 pwfile).returncode, 0, "user")
lead = Session(d, "lead", PASSWORD)
# Not a drill, but every person in it was made by `safetyctl demo`: the quickstart's case.
crisis = lead.post("/api/v1/crises", {"kind": "earthquake", "title": "Simulated", "drill": False,
                                      "circle": {"lat": 37.226, "lon": 37.014, "radius_m": 300000}}).json()["id"]
asked = lead.post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"]}).json()["asked"]


def the_simulated_nationals_answer_through_the_front_door():
    r = ctl(conninfo, "-c", d.config_path, "simulate", "--crisis", str(crisis), "--speed", "7200",
            "--max-hours", "4", "--seed", "3", "--url", "http://127.0.0.1:%d" % d.port)
    print("  " + r.stdout.strip().replace("\n", "\n  "))
    expect_equal(r.returncode, 0, r.stderr)
    check("refused or failed" in r.stdout and r.stdout.strip().endswith("0 refused or failed"), r.stdout)
    rows = cluster.psql(DB, "SELECT channel, count(*) FROM response WHERE crisis_id = %d GROUP BY 1 ORDER BY 1" % crisis)
    by = dict(line.split("|") for line in rows.splitlines())
    stored = sum(map(int, by.values()))
    check(by.get("web") and by.get("sms"), "both the reply page and SMS: %r" % by)
    check(0.7 * asked <= stored <= asked, "most answered, some never: %d of %d" % (stored, asked))
    statuses = cluster.psql(DB, "SELECT string_agg(DISTINCT status, ',') FROM person_status WHERE crisis_id = %d" % crisis)
    for s in ("safe", "needs_help", "pending"):
        check(s in statuses, "%s among %s" % (s, statuses))
    texts = cluster.psql(DB, "SELECT count(*) FILTER (WHERE raw_text ~ '[가-힣]'), count(*) FILTER (WHERE raw_text ~ '^[A-Za-z]') "
                             "FROM response WHERE crisis_id = %d" % crisis).split("|")
    check(int(texts[0]) > 0 and int(texts[1]) > 0, "Korean and English texts: %r" % texts)


def it_refuses_without_what_it_needs():
    r = ctl(conninfo, "simulate")
    expect_equal(r.returncode, 2, "no crisis")
    check("--crisis" in r.stderr, r.stderr)
    r = ctl(conninfo, "simulate", "--crisis", str(crisis), "--url", "http://127.0.0.1:%d" % d.port)
    expect_equal(r.returncode, 1, "no key file")
    check("key_file" in r.stderr, r.stderr)
    # A real crisis of a real mission: nobody's answers are invented.
    expect_equal(ctl(conninfo, "mission", "add", "TR-IZM", "--name", "Consulate in Izmir", "--country", "TR").returncode,
                 0, "a real mission")
    real = int(cluster.psql(DB, "SET ROLE safety; INSERT INTO crisis (kind, title, center, radius_m) VALUES "
                                "('unrest', 'Real', ST_SetSRID(ST_MakePoint(27.1, 38.4), 4326)::geography, 1000) "
                                "RETURNING id").split()[0])
    cluster.psql(DB, "SET ROLE safety; INSERT INTO crisis_mission (crisis_id, mission_id) "
                     "SELECT %d, id FROM mission WHERE code = 'TR-IZM'" % real)
    before = cluster.psql(DB, "SELECT count(*) FROM response")
    r = ctl(conninfo, "-c", d.config_path, "simulate", "--crisis", str(real), "--speed", "7200",
            "--max-hours", "0.01", "--url", "http://127.0.0.1:%d" % d.port)
    expect_equal(r.returncode, 1, "a real crisis")
    check("is real" in r.stderr, r.stderr)
    r = ctl(conninfo, "-c", d.config_path, "simulate", "--crisis", "99999", "--url", "http://127.0.0.1:%d" % d.port)
    expect_equal(r.returncode, 1, "no such crisis")
    check("does not exist" in r.stderr, r.stderr)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response"), before, "no answer invented")
    # The same crisis as a drill is played.
    cluster.psql(DB, "UPDATE crisis SET drill = true WHERE id = %d" % real)
    r = ctl(conninfo, "-c", d.config_path, "simulate", "--crisis", str(real), "--speed", "7200",
            "--max-hours", "0.01", "--url", "http://127.0.0.1:%d" % d.port)
    expect_equal(r.returncode, 0, "a drill: " + r.stderr)


try:
    run([the_simulated_nationals_answer_through_the_front_door, it_refuses_without_what_it_needs])
finally:
    d.stop()
