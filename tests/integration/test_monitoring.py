"""What operators watch: /metrics counts replies by channel and status and
samples the outbox (depth, oldest message, delivery-report latency); the
Grafana dashboard and the Prometheus alert rules in deploy/monitoring/ use
only metrics safetyd exports, and the rules are well formed."""

import json
import os
import re
import subprocess

from harness import Cluster, Daemon, Session, check, ctl, eventually, expect_equal, record_secret, run

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MONITORING = os.path.join(SOURCE, "deploy", "monitoring")

cluster = Cluster.shared()
DB = "t_monitoring"
PASSWORD = record_secret("Iskenderun-Port-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "mission", "add", "TR-ANK", "--name", "x", "--country", "TR").returncode, 0, "mission")
cluster.psql(DB, """
SET ROLE safety;
INSERT INTO national (mission_id, name_latin, name_key) SELECT 1, 'P' || i, 'p' || i FROM generate_series(1, 5) i;
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'Hatay', ST_SetSRID(ST_MakePoint(36, 36), 4326)::geography, 1000);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x {link}"}', '{sms}');
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
  SELECT 1, id, 1, 1, now() + interval '1 hour' FROM national;
-- Three messages waiting (not due for an hour), the oldest queued 20 minutes ago; two delivered
-- in the last minutes, after 4 and 8 seconds.
INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, body, next_attempt_at, created_at)
  SELECT 1, 1, i, 1, 'sms', '+9053200000' || i, 'x', now() + interval '1 hour', now() - (i * interval '10 minutes')
  FROM generate_series(1, 2) i;
INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, body, next_attempt_at)
  VALUES (1, 1, 3, 1, 'email', 'p3@example.org', 'x', now() + interval '1 hour');
INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, body, state, sent_at, delivered_at)
  VALUES (1, 1, 4, 1, 'sms', '+905320000004', 'x', 'delivered', now() - interval '60 seconds', now() - interval '56 seconds'),
         (1, 1, 5, 1, 'sms', '+905320000005', 'x', 'delivered', now() - interval '60 seconds', now() - interval '52 seconds');
""")
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
expect_equal(ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file",
                 pwfile).returncode, 0, "user")
lead = Session(d, "lead", PASSWORD)


def metric(text, name, **labels):
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in text.splitlines():
        m = re.match(r"^([a-z_]+)(?:\{([^}]*)\})? (\S+)$", line)
        if m and m.group(1) == name and ",".join(sorted((m.group(2) or "").split(","))) == want:
            return float(m.group(3))
    return None


def replies_are_counted_by_channel_and_status():
    for nid, status in ((1, "needs_help"), (2, "safe"), (3, "safe")):
        expect_equal(lead.post("/api/v1/crises/1/responses", {"national_id": nid, "status": status}).status, 201, "entry")
    text = eventually(lambda: (lambda t: t if metric(t, "safety_replies_total", channel="staff", status="safe") == 2 else None)(
        d.get("/metrics").body), timeout=5, what="reply counters")
    expect_equal(metric(text, "safety_replies_total", channel="staff", status="needs_help"), 1.0, "needs_help")
    expect_equal(metric(text, "safety_replies_not_stored_total", channel="web", outcome="spooled"), 0.0, "none spooled")
    # Every channel is named: PFIF notes and any other channel too.
    expect_equal(metric(text, "safety_replies_not_stored_total", channel="pfif", outcome="failed"), 0.0, "pfif")
    expect_equal(metric(text, "safety_replies_not_stored_total", channel="other", outcome="failed"), 0.0, "other")
    check("(null)" not in text, "a label without a name")


def the_outbox_is_sampled():
    text = eventually(lambda: (lambda t: t if metric(t, "safety_outbox_queued", channel="sms") is not None else None)(
        d.get("/metrics").body), timeout=10, what="first sample")
    expect_equal(metric(text, "safety_outbox_queued", channel="sms"), 2.0, "sms waiting")
    expect_equal(metric(text, "safety_outbox_queued", channel="email"), 1.0, "email waiting")
    oldest = metric(text, "safety_outbox_oldest_queued_seconds", channel="sms")
    check(1190 <= oldest <= 1300, "oldest sms waited 20 minutes: %r" % oldest)
    expect_equal(metric(text, "safety_delivered_recent", channel="sms"), 2.0, "delivered lately")
    expect_equal(metric(text, "safety_delivery_report_seconds", channel="sms", quantile="0.5"), 6.0, "median 6 s")


def families():
    out = set()
    for line in d.get("/metrics").body.splitlines():
        m = re.match(r"^# TYPE ([a-z_]+) (\w+)", line)
        if m:
            out.add(m.group(1))
            if m.group(2) == "histogram":
                out.update(m.group(1) + s for s in ("_bucket", "_sum", "_count"))
    return out


def the_dashboard_and_alerts_use_only_exported_metrics():
    exported = families()
    dash = json.load(open(os.path.join(MONITORING, "grafana-dashboard.json")))
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    ids = [p["id"] for p in dash["panels"]]
    expect_equal(len(ids), len(set(ids)), "panel ids unique")
    # Rules parsed by Debian's python3-yaml, installed by the project's scripts.
    r = subprocess.run(["/usr/bin/python3", "-c", "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
                        os.path.join(MONITORING, "safety-alerts.yml")], capture_output=True, text=True)
    expect_equal(r.returncode, 0, r.stderr)
    rules = json.loads(r.stdout)["groups"][0]["rules"]
    check(len(rules) >= 8, "rules: %d" % len(rules))
    for rule in rules:
        check(rule["alert"].startswith("Safety") and rule["expr"] and rule["labels"]["severity"] in ("critical", "warning")
              and rule["annotations"]["summary"], rule)
        exprs.append(rule["expr"])
    used = set(re.findall(r"\bsafety_[a-z_]+", " ".join(exprs)))
    check(len(used) >= 15, used)
    missing = sorted(used - exported)
    expect_equal(missing, [], "metrics used but not exported")


try:
    run([replies_are_counted_by_channel_and_status, the_outbox_is_sampled,
         the_dashboard_and_alerts_use_only_exported_metrics])
finally:
    d.stop()
