"""Live events of a crisis as a dashboard receives them: server-sent events
from one safetyd while answers are stored through another on the same
database; each mission sees only its own people and counts; a client that
reconnects with Last-Event-ID gets what it missed; a change committed after
newer ones is still delivered; heartbeats; limits; shutdown."""

import os
import signal
import subprocess
import time

from harness import Cluster, Daemon, EventStream, Session, check, ctl, eventually, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_events"
PASSWORD = record_secret("Antakya-Defne-Samandag-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
for code, country in (("TR-ANK", "TR"), ("TR-IST", "TR")):
    expect_equal(ctl(conninfo, "mission", "add", code, "--name", code, "--country", country).returncode, 0, "mission")
cluster.psql(DB, """
SET ROLE safety;
INSERT INTO national (mission_id, name_latin, name_key, last_point)
  SELECT CASE WHEN i <= 6 THEN 1 ELSE 2 END, 'PERSON ' || i, 'person' || i,
         ST_SetSRID(ST_MakePoint(36.16 + i / 100.0, 36.20), 4326)::geography
  FROM generate_series(1, 10) i;
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'Hatay', ST_SetSRID(ST_MakePoint(36.16, 36.2), 4326)::geography, 50000),
  ('earthquake', 'Istanbul only', ST_SetSRID(ST_MakePoint(29, 41), 4326)::geography, 50000);
INSERT INTO crisis_mission VALUES (1, 1), (1, 2), (2, 2);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x {link}"}', '{sms}'),
  (1, 2, '{"en": "x {link}"}', '{sms}');
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
  SELECT 1, n.id, n.mission_id, n.mission_id, now() + interval '1 hour' FROM national n;
""")
MISSION_B = [7, 8, 9, 10]

a = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"},
                               "server": {"event_heartbeat": "1", "max_event_streams": "6"}}).start()
HOOK_SECRET = record_secret("events-hook-secret-0123456789")
b = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}, "channels": {"hook_secret": HOOK_SECRET}}).start()
pwfile = os.path.join(a.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
for name, role, mission in (("lead-a", "mission_lead", "TR-ANK"), ("lead-b", "mission_lead", "TR-IST"),
                            ("hq", "hq", None)):
    args = ["user", "add", name, "--role", role, "--password-file", pwfile]
    if mission:
        args += ["--mission", mission]
    expect_equal(ctl(conninfo, *args).returncode, 0, "user " + name)
lead_a_on_a, lead_a_on_b = Session(a, "lead-a", PASSWORD), Session(b, "lead-a", PASSWORD)
lead_b_on_b, lead_b_on_a = Session(b, "lead-b", PASSWORD), Session(a, "lead-b", PASSWORD)
hq_on_a = Session(a, "hq", PASSWORD)


class Stream(EventStream):
    """A dashboard's EventSource on a crisis."""

    def __init__(self, daemon, session=None, path="/api/v1/crises/1/events", last_event_id=None):
        super().__init__(daemon, path, {"Cookie": session.cookie} if session is not None else None, last_event_id)

    def person(self, nid):
        return [e["data"] for e in self.of("person") if e["data"]["national_id"] == nid]

    def counts(self):
        c = self.of("counts")
        return c[-1]["data"]["counts"] if c else None


def older_transactions_done():
    """Waits until every transaction older than now, in any database of the cluster, has ended.
    A stream's place is its snapshot's horizon and transaction ids are the cluster's, so another
    test's long transaction holds that place back (and a resume then replays from further back)."""
    x0 = int(cluster.psql(DB, "SELECT pg_snapshot_xmax(pg_current_snapshot())"))
    eventually(lambda: int(cluster.psql(DB, "SELECT pg_snapshot_xmin(pg_current_snapshot())")) >= x0,
               timeout=120, what="transactions older than now ended in the cluster")


def answer(session, nid, status, **extra):
    body = {"national_id": nid, "status": status}
    body.update(extra)
    r = session.post("/api/v1/crises/1/responses", body)
    expect_equal(r.status, 201, r.body)


def refused_without_access():
    s = Stream(a)
    expect_equal(s.status, 401, "no session")
    s = Stream(a, lead_a_on_a, path="/api/v1/crises/2/events")
    expect_equal(s.status, 404, "another mission's crisis")
    s = Stream(a, lead_a_on_a, last_event_id="12; DROP TABLE")
    expect_equal(s.status, 400, "bad Last-Event-ID")
    check("Last-Event-ID" in s.body, s.body)


def an_answer_stored_by_one_process_reaches_another_process_stream():
    s = Stream(a, lead_a_on_a)
    expect_equal(s.status, 200, "stream")
    eventually(s.counts, timeout=5, what="first counts")
    expect_equal(s.counts(), {"pending": 6}, "mission A's six people, pending")
    sent = time.time()
    answer(lead_a_on_b, 1, "needs_help", headcount=3, message="trapped, 3 of us")
    ev = eventually(lambda: s.person(1), timeout=5, what="person event on the other process")
    latency = [e for e in s.of("person") if e["data"]["national_id"] == 1][0]["at"] - sent
    print("   answer to event across processes: %.0f ms" % (latency * 1000))
    p = ev[-1]
    expect_equal((p["status"], p["headcount"], p["name_latin"]), ("needs_help", 3, "PERSON 1"), "person event")
    expect_equal(p["last_answer"]["text"], "trapped, 3 of us", "with the answer")
    check(abs(p["lat"] - 36.20) < 1e-6 and abs(p["lon"] - 36.17) < 1e-6, "where they are: %r" % p)
    eventually(lambda: s.counts() == {"pending": 5, "needs_help": 1}, timeout=5, what="counts follow")
    s.close()


def an_answer_no_one_could_read_shows_live():
    # The person stays pending, flagged for review: staff must still see it come in.
    cluster.psql(DB, "SET ROLE safety; INSERT INTO contact (national_id, kind, value) VALUES (3, 'phone', '+821055550003')")
    s = Stream(a, lead_a_on_a)
    eventually(s.counts, timeout=5, what="first counts")
    r = b.get("/hooks/sms/kannel?secret=%s&from=%%2B821055550003&to=1&text=hmm%%3F%%3F&id=ev-unread" % HOOK_SECRET)
    expect_equal(r.status, 200, r.body)
    p = eventually(lambda: s.person(3), timeout=5, what="person event for an unread answer")[-1]
    expect_equal((p["status"], p["needs_review"]), ("pending", True), "pending, for review")
    expect_equal(p["last_answer"]["text"], "hmm??", "with the text")
    s.close()


def each_mission_sees_only_its_own():
    sa, sb, shq = Stream(a, lead_a_on_a), Stream(b, lead_b_on_b), Stream(a, hq_on_a)
    for s in (sa, sb, shq):
        eventually(s.counts, timeout=5, what="first counts")
    answer(lead_b_on_b, 7, "injured")
    eventually(lambda: sb.person(7), timeout=5, what="mission B sees its person")
    eventually(lambda: shq.person(7), timeout=5, what="HQ sees every mission")
    eventually(lambda: sb.counts().get("injured") == 1, timeout=5, what="B's counts")
    time.sleep(0.5)
    expect_equal(sa.person(7), [], "mission A never sees B's person")
    check("injured" not in sa.counts(), "nor B's counts in A's: %r" % sa.counts())
    expect_equal(shq.counts().get("pending"), 5 + 3, "HQ's counts add both missions")
    for s in (sa, sb, shq):
        s.close()


def hq_narrows_to_one_mission_and_no_one_widens():
    all_ = hq_on_a.get("/api/v1/crises/1/status").json()["counts"]
    b_only = hq_on_a.get("/api/v1/crises/1/status?mission_id=2").json()["counts"]
    check(sum(b_only.values()) == 4 and sum(all_.values()) == 10, "HQ: all %r, mission B %r" % (all_, b_only))
    own = lead_a_on_a.get("/api/v1/crises/1/status?mission_id=2").json()["counts"]
    expect_equal(sum(own.values()), 6, "a mission's staff cannot look at another mission this way")
    # A mistyped narrowing is refused, not ignored (which would show every mission).
    for bad in ("abc", "", "0", "1.5", "-2", "9" * 30):
        r = hq_on_a.get("/api/v1/crises/1/status?mission_id=%s" % bad)
        expect_equal((r.status, r.json().get("detail")), (400, "mission_id: not a mission id (a whole number above 0)"),
                     "mission_id=%r" % bad)
    s = Stream(a, hq_on_a, path="/api/v1/crises/1/events?mission_id=2")
    eventually(s.counts, timeout=5, what="narrowed stream")
    expect_equal(sum(s.counts().values()), 4, "the narrowed stream counts mission B only")
    answer(lead_a_on_b, 2, "needs_help")
    answer(lead_b_on_b, 9, "safe")
    eventually(lambda: s.person(9), timeout=5, what="mission B's answer")
    expect_equal(s.person(2), [], "not mission A's")
    s.close()


def a_reconnecting_client_gets_what_it_missed():
    older_transactions_done()
    s = Stream(a, lead_a_on_a)
    eventually(s.counts, timeout=5, what="first counts")
    answer(lead_a_on_b, 2, "safe")
    eventually(lambda: s.person(2), timeout=5, what="event before the break")
    eventually(lambda: s.last_id is not None and s.of("counts")[-1]["id"] == s.last_id, timeout=5,
               what="batch closed by counts")
    last = s.last_id
    s.close()
    answer(lead_a_on_b, 3, "safe")
    answer(lead_a_on_b, 4, "needs_evacuation")
    cluster.psql(DB, "SELECT 1")
    r = Stream(a, lead_a_on_a, last_event_id=last)
    eventually(lambda: r.person(3) and r.person(4), timeout=5, what="missed events replayed")
    expect_equal(r.person(4)[-1]["status"], "needs_evacuation", "current state")
    expect_equal(r.person(1), [], "nothing from before the id")
    eventually(lambda: r.counts() and r.counts().get("safe") == 2, timeout=5, what="counts after resume")
    r.close()
    # A Last-Event-ID from far back gives everything since, not an error.
    old = Stream(a, lead_a_on_a, last_event_id="1")
    eventually(lambda: old.person(1) and old.person(2) and old.person(3), timeout=5, what="from the start")
    old.close()


def a_change_committed_late_is_not_skipped():
    s = Stream(a, hq_on_a)
    eventually(s.counts, timeout=5, what="first counts")
    # A transaction changes person 8 and stays open while a later change commits.
    slow = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", conninfo],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    slow.stdin.write("BEGIN; UPDATE person_status SET status = 'missing', version = version + 1 "
                     "WHERE crisis_id = 1 AND national_id = 8;\n")
    slow.stdin.flush()
    # Other tests share the cluster: look for this database's open transaction only.
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
                                        "AND datname = current_database()") == "1",
               timeout=10, what="the slow transaction open")
    answer(lead_a_on_b, 6, "safe")
    eventually(lambda: s.person(6), timeout=5, what="the later change")
    expect_equal(s.person(8), [], "not yet committed")
    slow.stdin.write("COMMIT;\n")
    slow.stdin.close()
    expect_equal(slow.wait(timeout=10), 0, "slow transaction")
    ev = eventually(lambda: s.person(8), timeout=5, what="the earlier change, committed late")
    expect_equal(ev[-1]["status"], "missing", "late change")
    s.close()


def heartbeats_keep_an_idle_stream_open():
    s = Stream(a, lead_a_on_a)
    eventually(lambda: s.comments >= 2, timeout=5, what="two heartbeats (every second here)")
    check(not s.ended, "still open")
    s.close()


def a_quiet_client_keeps_its_place():
    # Mission B's dashboard sees none of mission A's answers, but its place moves on with them
    # (an id on each heartbeat), so coming back it is not served from far behind.
    s = Stream(a, lead_b_on_a)
    try:
        eventually(s.counts, timeout=5, what="first counts")
        first = int(s.last_id)
        older_transactions_done()
        answer(lead_a_on_a, 4, "safe")
        eventually(lambda: int(s.last_id) > first, timeout=15, what="the id moves on with a heartbeat")
        check(not s.person(4), "no person of another mission")
    finally:
        s.close()


def a_removed_status_changes_the_counts_live():
    s = Stream(a, lead_a_on_a)
    eventually(s.counts, timeout=5, what="first counts")
    before = s.counts()
    cluster.psql(DB, "SET ROLE safety; DELETE FROM person_status WHERE crisis_id = 1 AND national_id = 6")
    eventually(lambda: s.counts() != before and sum(s.counts().values()) == sum(before.values()) - 1, timeout=5,
               what="counts without the removed status")
    s.close()


def a_deleted_person_leaves_the_map_live():
    s = Stream(a, lead_a_on_a)
    eventually(s.counts, timeout=5, what="first counts")
    before = s.counts()
    expect_equal(lead_a_on_a.delete("/api/v1/nationals/1").status, 200, "delete")
    p = eventually(lambda: [e for e in s.person(1) if e.get("deleted")], timeout=5, what="the deletion on the stream")
    expect_equal(p[-1]["status"], "needs_help", "the row as it was, marked")
    eventually(lambda: s.counts().get("needs_help", 0) == before.get("needs_help", 0) - 1, timeout=5,
               what="counts without the deleted person")
    expect_equal(lead_a_on_a.post("/api/v1/nationals/1/restore", {}).status, 200, "restore")
    eventually(lambda: s.person(1)[-1].get("deleted") is False, timeout=5, what="back on the stream")
    eventually(lambda: s.counts() == before, timeout=5, what="counts as before")
    s.close()


def a_listen_connection_that_went_silent_is_replaced():
    # Both processes' LISTEN backends stop answering, as behind a network that dropped
    # without a word: each must notice, read by polling meanwhile, and listen again.
    pids = cluster.psql(DB, "SELECT pid FROM pg_stat_activity WHERE application_name = 'safetyd-listen' AND datname = current_database()").split()
    expect_equal(len(pids), 2, "one LISTEN connection per process")
    s = Stream(a, lead_a_on_a)
    eventually(s.counts, timeout=5, what="first counts")
    for pid in pids:
        os.kill(int(pid), signal.SIGSTOP)
    try:
        answer(lead_a_on_b, 5, "injured")
        eventually(lambda: s.person(5), timeout=40, what="the answer on the other process, all the same")
    finally:
        for pid in pids:
            os.kill(int(pid), signal.SIGCONT)
    eventually(lambda: "safety_listen_up 1" in a.get("/metrics").body and len(cluster.psql(
        DB, "SELECT pid FROM pg_stat_activity WHERE application_name = 'safetyd-listen' AND datname = current_database()").split()) == 2
               and not set(pids) & set(cluster.psql(
                   DB, "SELECT pid FROM pg_stat_activity WHERE application_name = 'safetyd-listen' AND datname = current_database()").split()),
               timeout=20, what="listening again on new connections")
    s.close()


def a_transaction_left_open_does_not_reset_the_dashboards():
    # A session sits in an open transaction (an operator's psql, a long import) while more than
    # 5,000 people change at once: one reset, and then answers come one by one again, not a
    # reset at every read for as long as the transaction stays open.
    from harness import PG_SH
    held = subprocess.Popen([PG_SH, "psql", cluster.dir, "-d", DB, "-At"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        held.stdin.write("BEGIN;\nSELECT pg_current_xact_id();\n")
        held.stdin.flush()
        check(held.stdout.readline().strip().isdigit(), "a transaction holds an id")
        cluster.psql(DB, """
SET ROLE safety;
INSERT INTO national (mission_id, name_latin, name_key) SELECT 1, 'CROWD ' || i, 'crowd' || i
  FROM generate_series(1, 6000) i;
INSERT INTO person_status (crisis_id, national_id, mission_id, status, at)
  SELECT 1, id, 1, 'safe', now() FROM national WHERE name_key LIKE 'crowd%';
""")
        s = Stream(a, lead_a_on_a)
        # The 6,000 new statuses seen first (a busy process reads them after the stream
        # opened, itself with a reset): the reset counted below is the update's.
        eventually(lambda: (s.counts() or {}).get("safe", 0) >= 6000, timeout=15, what="the crowd counted")
        time.sleep(0.5)
        resets = len(s.of("reset"))
        cluster.psql(DB, "SET ROLE safety; UPDATE person_status SET needs_review = true, version = version + 1, "
                         "txid = pg_current_xact_id() WHERE crisis_id = 1 AND national_id IN "
                         "(SELECT id FROM national WHERE name_key LIKE 'crowd%')")
        eventually(lambda: len(s.of("reset")) == resets + 1, timeout=5, what="one reset for 6,000 changes")
        for nid, status in ((2, "injured"), (3, "needs_help"), (2, "safe")):
            answer(lead_a_on_a, nid, status)
            eventually(lambda: any(e["status"] == status for e in s.person(nid)), timeout=5,
                       what="person %d %s, one by one" % (nid, status))
        time.sleep(0.5)
        expect_equal(len(s.of("reset")), resets + 1, "no further reset while the transaction stays open")
    finally:
        if "s" in locals():
            s.close()
        held.stdin.write("ROLLBACK;\n")
        held.stdin.close()
        held.wait(timeout=10)
        cluster.psql(DB, "SET ROLE safety; DELETE FROM person_status WHERE national_id IN "
                         "(SELECT id FROM national WHERE name_key LIKE 'crowd%'); "
                         "DELETE FROM national WHERE name_key LIKE 'crowd%'")


def a_stream_ends_when_its_session_is_revoked():
    # Logged out elsewhere, or the account disabled: the stream open since ends at the next
    # heartbeat, rather than go on showing names and places.
    sess = Session(a, "lead-a", PASSWORD)
    s = Stream(a, sess)
    eventually(s.counts, timeout=5, what="first counts")
    expect_equal(sess.request("DELETE", "/api/v1/session").status, 204, "logged out")
    eventually(lambda: s.ended, timeout=5, what="the stream ended after the logout")
    expect_equal(Stream(a, sess).status, 401, "and cannot be opened again")
    # An account disabled: every stream of its sessions ends too.
    pwfile = os.path.join(a.workdir, "pw")
    expect_equal(ctl(conninfo, "user", "add", "lead-x", "--role", "mission_lead", "--mission", "TR-ANK",
                     "--password-file", pwfile).returncode, 0, "user")
    x = Stream(a, Session(a, "lead-x", PASSWORD))
    eventually(x.counts, timeout=5, what="first counts")
    other = Stream(a, lead_a_on_a)
    eventually(other.counts, timeout=5, what="first counts")
    cluster.psql(DB, "UPDATE staff_user SET disabled = true WHERE username = 'lead-x'")
    eventually(lambda: x.ended, timeout=5, what="the stream of a disabled account ended")
    time.sleep(1.5)
    check(not other.ended, "another user's stream goes on")
    other.close()
    check("safety_event_streams_revoked_total 2" in a.get("/metrics").body, "counted")
    # A session left idle past the timeout: its stream ends as its requests would be refused.
    sess = Session(a, "lead-a", PASSWORD)
    s = Stream(a, sess)
    eventually(s.counts, timeout=5, what="first counts")
    cluster.psql(DB, "UPDATE staff_session SET last_seen_at = now() - interval '1 day' "
                     "WHERE token_hash = (SELECT token_hash FROM staff_session ORDER BY created_at DESC LIMIT 1)")
    eventually(lambda: s.ended, timeout=5, what="the stream of an idle session ended")
    check("safety_event_streams_revoked_total 3" in a.get("/metrics").body, "counted")


def streams_are_limited_and_counted():
    eventually(lambda: "safety_event_streams 0" in a.get("/metrics").body, timeout=10, what="closed streams forgotten")
    open_ = [Stream(a, lead_a_on_a) for _ in range(6)]
    check(all(x.status == 200 for x in open_), [x.status for x in open_])
    over = Stream(a, lead_a_on_a)
    expect_equal(over.status, 503, "over the limit")
    check("event streams" in over.body, over.body)
    check("safety_event_streams 6" in a.get("/metrics").body, "gauge")
    for x in open_:
        x.close()
    eventually(lambda: "safety_event_streams 0" in a.get("/metrics").body, timeout=10, what="gauge back to 0")
    # Ten at once: the ones still being checked count too, so no more than six get in.
    import threading
    got, gate = [], threading.Barrier(10, timeout=10)

    def open_one():
        gate.wait()
        got.append(Stream(a, lead_a_on_a))

    threads = [threading.Thread(target=open_one) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    expect_equal(sorted(x.status for x in got), [200] * 6 + [503] * 4, "six of ten opened at once")
    for x in got:
        if x.status == 200:
            x.close()
    eventually(lambda: "safety_event_streams 0" in a.get("/metrics").body, timeout=10, what="gauge back to 0")
    check("safety_listen_up 1" in a.get("/metrics").body, "LISTEN connection up")


def shutdown_ends_open_streams():
    s = Stream(b, lead_b_on_b)
    eventually(s.counts, timeout=5, what="first counts")
    t = time.time()
    expect_equal(b.stop(), 0, "clean exit with a stream open")
    check(time.time() - t < 5, "did not wait for the stream")
    eventually(lambda: s.ended, timeout=5, what="stream ended")


try:
    run([refused_without_access, an_answer_stored_by_one_process_reaches_another_process_stream,
         an_answer_no_one_could_read_shows_live, each_mission_sees_only_its_own, hq_narrows_to_one_mission_and_no_one_widens,
         a_reconnecting_client_gets_what_it_missed,
         a_change_committed_late_is_not_skipped, heartbeats_keep_an_idle_stream_open, a_quiet_client_keeps_its_place,
         a_removed_status_changes_the_counts_live, a_deleted_person_leaves_the_map_live, a_transaction_left_open_does_not_reset_the_dashboards,
         a_listen_connection_that_went_silent_is_replaced, a_stream_ends_when_its_session_is_revoked,
         streams_are_limited_and_counted, shutdown_ends_open_streams])
finally:
    a.stop()
    b.stop()
