"""A launch over many people runs past the pool's short query timeout, which
is there to catch a server that stopped answering, and still completes:
every check-in and message exists, once."""

import os
import time

from harness import Cluster, Daemon, Session, check, ctl, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_launch"
PASSWORD = record_secret("Nurdagi-Islahiye-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
r = ctl(conninfo, "demo", "--country", "TR", "--people", "60000", "--seed", "3")
expect_equal(r.returncode, 0, r.stderr)
# Far shorter than the launch takes, far longer than any other query here.
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"},
                               "database": {"query_timeout_ms": "250"},
                               "channels": {"sms_driver": "log", "email_driver": "log",
                                            "dispatch_interval_ms": "60000"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
expect_equal(ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK",
                 "--password-file", pwfile).returncode, 0, "user")
lead = Session(d, "lead", PASSWORD)


def a_launch_longer_than_the_query_timeout_completes():
    # The whole country, declared in SQL: counting everyone inside may itself outlast the timeout.
    cid = int(cluster.psql(DB, "SET ROLE safety; INSERT INTO crisis (kind, title, center, radius_m, severity) "
                               "VALUES ('war', 'Whole country', ST_SetSRID(ST_MakePoint(35, 39), 4326)::geography, "
                               "1500000, 5) RETURNING id").split()[0])
    cluster.psql(DB, "SET ROLE safety; INSERT INTO crisis_mission (crisis_id, mission_id, affected) "
                     "SELECT %d, id, 0 FROM mission WHERE code = 'TR-ANK'" % cid)
    t0 = time.time()
    r = lead.post("/api/v1/crises/%d/campaigns" % cid, {"templates": {"en": "Are you safe? {link}"},
                                                        "channels": ["sms", "email"]})
    took = time.time() - t0
    expect_equal(r.status, 201, r.body)
    check(took > 0.25, "the launch took %.2f s, inside the timeout: the test proves nothing; add people" % took)
    people = int(cluster.psql(DB, "SELECT count(*) FROM checkin WHERE crisis_id = %d" % cid))
    check(people > 40000, "check-ins for %d" % people)
    sent = cluster.psql(DB, "SELECT count(*), count(DISTINCT national_id) FROM outbox WHERE crisis_id = %d" % cid)
    total, distinct = (int(x) for x in sent.split("|"))
    check(total == distinct and distinct > 0.7 * people, "messages %d for %d people of %d" % (total, distinct, people))
    check("campaign.launch" in cluster.psql(DB, "SELECT string_agg(action, ',') FROM audit_log"), "audited")


try:
    run([a_launch_longer_than_the_query_timeout_completes])
finally:
    d.stop()
    cluster.dropdb(DB)
