"""Headquarters' feed as a poller and a partner agency read it: status.json
valid against its published schema, with ETags (a matching poll is 304 and
costs no query); the Atom feed of crisis events and the CAP alerts valid
against RFC 4287's and OASIS's schemas; the live stream throttled per
crisis; and a mission-scoped key never seeing another mission anywhere."""

import json
import os
import re
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

from harness import Cluster, Daemon, EventStream, Session, check, ctl, eventually, expect_equal, record_secret, run

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
FEED_DATA = os.path.join(SOURCE, "tests", "data", "feed")
SCHEMA = os.path.join(SOURCE, "docs", "feed", "status.schema.json")

cluster = Cluster.shared()
DB = "t_feed"
PASSWORD = record_secret("Kahramanmaras-Elbistan-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
for code in ("TR-ANK", "TR-IST"):
    expect_equal(ctl(conninfo, "mission", "add", code, "--name", "Mission " + code, "--country", "TR").returncode, 0, "mission")
cluster.psql(DB, """
SET ROLE safety;
INSERT INTO national (mission_id, name_latin, name_key) SELECT CASE WHEN i <= 6 THEN 1 ELSE 2 END, 'P' || i, 'p' || i
  FROM generate_series(1, 10) i;
INSERT INTO crisis (kind, title, center, radius_m, severity) VALUES
  ('earthquake', 'Kahramanmaraş & Hatay', ST_SetSRID(ST_MakePoint(37.0, 37.2), 4326)::geography, 150000, 5);
INSERT INTO crisis (kind, title, area, drill, description) VALUES
  ('unrest', 'Istanbul <drill>', ST_Multi(ST_GeomFromText('POLYGON((28.9 41.0, 29.1 41.0, 29.1 41.1, 28.9 41.1, 28.9 41.0))', 4326))::geography,
   true, 'An exercise of the Istanbul mission.');
INSERT INTO crisis (kind, title, center, radius_m, state, closed_at) VALUES
  ('flood', 'Old flood', ST_SetSRID(ST_MakePoint(30, 40), 4326)::geography, 1000, 'closed', now() - interval '10 days');
INSERT INTO crisis_mission VALUES (1, 1), (1, 2), (2, 2), (3, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x {link}"}', '{sms}'),
  (1, 2, '{"en": "x {link}"}', '{sms}');
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
  SELECT 1, n.id, n.mission_id, n.mission_id, now() + interval '1 hour' FROM national n;
""")

d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"},
                               "server": {"public_url": "https://safety.example.org", "event_heartbeat": "1"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
for name, role, mission in (("lead-a", "mission_lead", "TR-ANK"), ("lead-b", "mission_lead", "TR-IST")):
    expect_equal(ctl(conninfo, "user", "add", name, "--role", role, "--mission", mission, "--password-file", pwfile).returncode, 0, name)
expect_equal(ctl(conninfo, "user", "add", "admin", "--role", "admin", "--password-file", pwfile).returncode, 0, "admin")
lead_a, lead_b = Session(d, "lead-a", PASSWORD), Session(d, "lead-b", PASSWORD)
admin = Session(d, "admin", PASSWORD)


def key(name, *extra):
    r = ctl(conninfo, "apikey", "create", name, "--scope", "feed:read", *extra)
    expect_equal(r.returncode, 0, r.stderr)
    return record_secret(r.stdout.strip())


HQ = {"Authorization": "Bearer " + key("hq")}
ANK = {"Authorization": "Bearer " + key("ankara", "--mission", "TR-ANK")}


def answer(session, nid, status):
    r = session.post("/api/v1/crises/1/responses", {"national_id": nid, "status": status})
    expect_equal(r.status, 201, r.body)


def feed_queries():
    """Queries the status document cost (not the key lookups, not the background work)."""
    m = re.search(r'^safety_feed_queries_total (\d+)', d.get("/metrics").body, re.M)
    return int(m.group(1))


def validate_json(doc):
    """Validates with Debian's python3-jsonschema, installed by the project's scripts."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(doc, f)
    r = subprocess.run(["/usr/bin/python3", "-c",
                        "import json, sys, jsonschema; jsonschema.validate(json.load(open(sys.argv[2])), "
                        "json.load(open(sys.argv[1])), format_checker=jsonschema.FormatChecker())", SCHEMA, f.name],
                       capture_output=True, text=True)
    os.unlink(f.name)
    expect_equal(r.returncode, 0, r.stderr[-2000:])


def validate_xml(text, schema):
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(text)
    if schema.endswith(".rnc"):
        rng = f.name + ".rng"
        with open(rng, "w") as out:
            subprocess.run(["rnc2rng", schema], stdout=out, check=True)
        r = subprocess.run(["xmllint", "--noout", "--relaxng", rng, f.name], capture_output=True, text=True)
        os.unlink(rng)
    else:
        r = subprocess.run(["xmllint", "--noout", "--schema", schema, f.name], capture_output=True, text=True)
    os.unlink(f.name)
    expect_equal(r.returncode, 0, "%s\n%s" % (r.stderr[-2000:], text[:2000]))


def status_json_follows_its_schema_and_the_counts():
    answer(lead_a, 1, "needs_help")
    answer(lead_a, 2, "safe")
    answer(lead_b, 7, "injured")
    r = eventually(lambda: (lambda x: x if "needs_help" in x.body else None)(d.get("/feed/v1/status.json", headers=HQ)),
                   timeout=5, what="answers in the feed")
    expect_equal(r.status, 200, r.body)
    doc = r.json()
    validate_json(doc)
    expect_equal(doc["schema_version"], "1.0", "version in the document")
    expect_equal([c["id"] for c in doc["crises"]], [2, 1], "open crises, newest first; the old closed one left out")
    quake = doc["crises"][1]
    ank = [m for m in quake["missions"] if m["code"] == "TR-ANK"][0]
    expect_equal(ank["counts"], {"needs_help": 1, "pending": 4, "safe": 1}, "counts")
    expect_equal((ank["people"], ank["answered"], ank["response_rate"]), (6, 2, 0.3333), "rate")
    expect_equal(ank["needing_help_unreached"], 0, "help entered by staff counts as reached")
    check(doc["crises"][0]["drill"] is True, "drill kept apart")
    # The window of closed crises is the caller's, within limits.
    expect_equal([c["id"] for c in d.get("/feed/v1/status.json?closed_days=30", headers=HQ).json()["crises"]], [2, 1, 3], "30 days")
    expect_equal(d.get("/feed/v1/status.json?closed_days=365", headers=HQ).status, 400, "beyond 90 days")
    expect_equal(d.get("/feed/v1/status.json?closed_days=x", headers=HQ).status, 400, "not a number")


def a_poll_with_the_same_etag_is_304_and_costs_no_query():
    # Settled: a document younger than a second may be served while newer answers land.
    def settled():
        a = d.get("/feed/v1/status.json", headers=HQ).header("ETag")
        time.sleep(1.2)
        return a if d.get("/feed/v1/status.json", headers=HQ).header("ETag") == a else None
    etag = eventually(settled, timeout=15, what="a settled document")
    check(etag.startswith('"'), "strong ETag: %r" % etag)
    time.sleep(1.2)  # older than the one-second floor: only the notifications keep it valid
    before = feed_queries()
    for _ in range(5):
        r2 = d.get("/feed/v1/status.json", headers=dict(HQ, **{"If-None-Match": etag}))
        expect_equal(r2.status, 304, r2.body)
        expect_equal(r2.body, "", "no body")
    expect_equal(feed_queries() - before, 0, "queries five 304 polls cost the feed")
    expect_equal(d.get("/feed/v1/status.json", headers=dict(HQ, **{"If-None-Match": 'W/"x", ' + etag})).status, 304, "in a list")
    # A change makes the next poll a 200 with another tag.
    answer(lead_a, 3, "safe")
    r3 = eventually(lambda: (lambda x: x if x.status == 200 else None)(
        d.get("/feed/v1/status.json", headers=dict(HQ, **{"If-None-Match": etag}))), timeout=5, what="changed document")
    check(r3.header("ETag") != etag, "new tag")


def mission_keys_see_only_their_mission_everywhere():
    doc = d.get("/feed/v1/status.json?closed_days=30", headers=ANK).json()
    validate_json(doc)
    expect_equal([c["id"] for c in doc["crises"]], [1, 3], "the Istanbul-only crisis is not listed")
    for c in doc["crises"]:
        expect_equal([m["code"] for m in c["missions"]], ["TR-ANK"], "only its own mission's block")
    atom = d.get("/feed/v1/status.atom", headers=ANK).body
    check("TR-IST" not in atom and "Istanbul" not in atom, "Atom: nothing of the other mission")
    check("TR-ANK" in atom, "Atom has its own events")
    expect_equal(d.get("/feed/v1/cap?crisis=2", headers=ANK).status, 404, "CAP of another mission's crisis")
    check("Istanbul" not in d.get("/feed/v1/cap", headers=ANK).body, "CAP index")
    s = FeedStream(ANK)
    eventually(lambda: s.crises(), timeout=5, what="stream snapshot")
    answer(lead_b, 8, "safe")
    answer(lead_a, 4, "safe")
    eventually(lambda: any(c["id"] == 1 and c["missions"][0]["counts"].get("safe") == 3 for c in s.crises()[1:]),
               timeout=15, what="own change on the stream")
    for c in s.crises():
        check(c["id"] != 2 and [m["code"] for m in c["missions"]] == ["TR-ANK"], "stream: %r" % c)
    s.close()
    # Staff of a mission have no feed: it is HQ's.
    expect_equal(lead_a.get("/feed/v1/status.json").status, 403, "mission lead")
    expect_equal(d.get("/feed/v1/status.json").status, 401, "no key")


def atom_lists_the_crisis_events():
    r = d.get("/feed/v1/status.atom", headers=HQ)
    expect_equal(r.status, 200, r.body)
    check(r.header("Content-Type").startswith("application/atom+xml"), r.header("Content-Type"))
    validate_xml(r.body, os.path.join(FEED_DATA, "atom.rnc"))
    for what in ("declared, severity 5", "check-in launched (TR-ANK)", "first request for help (TR-ANK)",
                 "first request for help (TR-IST)", "half of the people answered (TR-ANK)"):
        check(what in r.body, "missing event %r" % what)
    check("[DRILL] Istanbul &lt;drill&gt;" in r.body, "escaped, drill marked")
    # Crisis 1 is shared by both missions: an administrator changes it.
    expect_equal(admin.patch("/api/v1/crises/1", {"severity": 4}).status, 200, "severity")
    check("severity 5 to 4" in d.get("/feed/v1/status.atom", headers=HQ).body, "severity change")


def cap_alerts_validate_against_the_oasis_schema():
    for cid in (1, 2):
        r = d.get("/feed/v1/cap?crisis=%d" % cid, headers=HQ)
        expect_equal(r.status, 200, r.body)
        validate_xml(r.body, os.path.join(FEED_DATA, "CAP-v1.2.xsd"))
    quake = d.get("/feed/v1/cap?crisis=1", headers=HQ).body
    check("<circle>37.20000,37.00000 150.000</circle>" in quake, "circle as lat,lon km: " + quake)
    check("<category>Geo</category>" in quake and "<status>Actual</status>" in quake, quake)
    drill = d.get("/feed/v1/cap?crisis=2", headers=HQ).body
    check("<status>Exercise</status>" in drill and "<polygon>41.00000,28.90000 41.00000,29.10000" in drill, drill)
    index = d.get("/feed/v1/cap", headers=HQ)
    validate_xml(index.body, os.path.join(FEED_DATA, "atom.rnc"))
    check("/feed/v1/cap?crisis=1" in index.body and "crisis=3" not in index.body, index.body)
    expect_equal(d.get("/feed/v1/cap?crisis=abc", headers=HQ).status, 400, "bad id")
    expect_equal(d.get("/feed/v1/cap?crisis=999", headers=HQ).status, 404, "no such crisis")


class FeedStream(EventStream):
    """HQ's stream of crises."""

    def __init__(self, headers):
        super().__init__(d, "/feed/v1/stream", headers)
        expect_equal(self.status, 200, "stream")

    def crises(self):
        return [e["data"] for e in self.of("crisis")]


def the_stream_sends_each_crisis_at_most_once_a_second():
    s = FeedStream(HQ)
    eventually(lambda: len(s.crises()) >= 2, timeout=5, what="snapshot of the open crises")
    start = len(s.crises())
    t0 = time.time()
    for i, nid in enumerate([5, 6, 9, 10] * 3):
        answer(lead_a if nid <= 6 else lead_b, nid, ["safe", "needs_help", "injured"][i % 3])
        time.sleep(0.1)
    time.sleep(1.5)
    events = [(e["at"], e["data"]) for e in s.of("crisis")[start:] if e["data"]["id"] == 1]
    check(events, "changes arrived")
    times = [t for t, _ in events]
    gaps = [b - a for a, b in zip(times, times[1:])]
    check(all(g > 0.8 for g in gaps), "one event per crisis per second at most: gaps %r" % gaps)
    check(len(events) <= (time.time() - t0) + 1, "%d events in %.1f s" % (len(events), time.time() - t0))
    last = events[-1][1]
    expect_equal(sum(m["people"] for m in last["missions"]), 10, "whole figures")
    s.close()


def a_stream_ends_when_its_key_is_revoked():
    """A stream outlives the request that checked its key: the key is checked again at every heartbeat."""
    partner = {"Authorization": "Bearer " + key("partner")}
    s, other = FeedStream(partner), FeedStream(HQ)
    eventually(lambda: s.crises() and other.crises(), timeout=5, what="snapshots")
    time.sleep(1.5)
    check(not s.ended, "open while the key holds")
    kid = cluster.psql(DB, "SELECT id FROM api_key WHERE name = 'partner'")
    r = ctl(conninfo, "apikey", "revoke", kid)
    expect_equal(r.returncode, 0, r.stderr)
    eventually(lambda: s.ended, timeout=5, what="the stream of the revoked key ended")
    check(not other.ended, "another key's stream goes on")
    # Keys found are remembered for 5 s: a revocation in another process holds within that.
    eventually(lambda: d.get("/feed/v1/status.json", headers=partner).status == 401, timeout=8,
               what="the revoked key refused")
    check("safety_feed_streams_revoked_total 1" in d.get("/metrics").body, "counted")
    other.close()


def stored_control_characters_leave_the_feeds_well_formed():
    """A title or description stored with characters XML 1.0 forbids still gives readable Atom and CAP."""
    cid = int(cluster.psql(DB, """SET ROLE safety;
INSERT INTO crisis (kind, title, description, center, radius_m, severity) VALUES
  ('flood', 'Flood' || chr(1) || ' Izmir' || chr(11) || chr(65535) || chr(65534),
   'water' || chr(2) || ' rising' || chr(31), ST_SetSRID(ST_MakePoint(27.1, 38.4), 4326)::geography, 10000, 3)
  RETURNING id;""").split()[-1])
    cluster.psql(DB, "SET ROLE safety; INSERT INTO crisis_mission VALUES (%d, 1)" % cid)
    try:
        for path, schema in (("/feed/v1/status.atom", "atom.rnc"), ("/feed/v1/cap", "atom.rnc"),
                             ("/feed/v1/cap?crisis=%d" % cid, "CAP-v1.2.xsd")):
            r = d.get(path, headers=HQ)
            expect_equal(r.status, 200, r.body)
            ET.fromstring(r.body.encode())  # raises on a malformed document
            validate_xml(r.body, os.path.join(FEED_DATA, schema))
            check("Flood Izmir" in r.body, "the title, its forbidden characters gone: " + path)
        cap = d.get("/feed/v1/cap?crisis=%d" % cid, headers=HQ).body
        check("<description>water rising</description>" in cap, cap)
    finally:
        cluster.psql(DB, "SET ROLE safety; UPDATE crisis SET state = 'closed', closed_at = now() - interval '30 days' "
                         "WHERE id = %d" % cid)


def the_stream_carries_only_listed_crises():
    """A proposed or dismissed crisis is in no stream, as it is in no status.json."""
    streams = {"HQ": FeedStream(HQ), "ANK": FeedStream(ANK)}
    eventually(lambda: all(s.crises() for s in streams.values()), timeout=5, what="snapshots")
    cid = int(cluster.psql(DB, """SET ROLE safety;
INSERT INTO crisis (kind, title, state, area, source, source_ref) VALUES ('flood', 'Proposed flood', 'proposed',
  ST_Multi(ST_GeomFromText('POLYGON((28.9 41.0, 29.1 41.0, 29.1 41.1, 28.9 41.1, 28.9 41.0))', 4326))::geography,
  'gdacs', 'feed-test-1') RETURNING id;""").split()[-1])
    cluster.psql(DB, "SET ROLE safety; INSERT INTO crisis_mission (crisis_id, mission_id, affected) VALUES (%d, 1, 3)" % cid)

    def crisis_one_moved(s, n):
        return any(c["id"] == 1 for c in s.crises()[n:])

    def change_and_wait(status):
        marks = {k: len(s.crises()) for k, s in streams.items()}
        answer(lead_a, 5, status)
        for k, s in streams.items():
            eventually(lambda: crisis_one_moved(s, marks[k]), timeout=10, what="a later change on the %s stream" % k)

    change_and_wait("needs_help")
    cluster.psql(DB, "SET ROLE safety; UPDATE crisis SET state = 'dismissed', closed_at = now() WHERE id = %d" % cid)
    change_and_wait("safe")
    for k, s in streams.items():
        states = [(c["id"], c["state"]) for c in s.crises()]
        check(all(c != cid for c, _ in states), "%s stream: %r" % (k, states))
        check(all(st in ("active", "closed") for _, st in states), "%s stream: %r" % (k, states))
        s.close()
    listed = [c["id"] for c in d.get("/feed/v1/status.json", headers=HQ).json()["crises"]]
    check(cid not in listed, listed)


def deleted_people_leave_needing_help_unreached():
    """Someone staff deleted is out of every figure, the unreached calls for help too."""
    def ank():
        doc = d.get("/feed/v1/status.json?closed_days=1", headers=HQ).json()
        return [m for c in doc["crises"] if c["id"] == 1 for m in c["missions"] if m["code"] == "TR-ANK"][0]

    answer(lead_a, 6, "needs_help")
    # As if the person's own message had said it: not entered by staff, so not reached.
    cluster.psql(DB, "UPDATE response SET channel = 'sms' WHERE id = (SELECT max(id) FROM response WHERE national_id = 6)")
    answer(lead_a, 2, "safe")  # moves the feed's generation: the document is read again
    before = eventually(lambda: (lambda m: m if m["needing_help_unreached"] >= 1 else None)(ank()), timeout=5,
                        what="the person's call for help unreached")
    expect_equal(lead_a.delete("/api/v1/nationals/6").status, 200, "delete")
    after = eventually(lambda: (lambda m: m if m["people"] == before["people"] - 1 else None)(ank()), timeout=5,
                       what="the deleted person out of the counts")
    expect_equal(after["needing_help_unreached"], before["needing_help_unreached"] - 1, "out of the unreached too")
    expect_equal(after["counts"].get("needs_help", 0), after["needing_help_unreached"] +
                 (before["counts"].get("needs_help", 0) - before["needing_help_unreached"]), "agrees with the counts")


try:
    run([status_json_follows_its_schema_and_the_counts, a_poll_with_the_same_etag_is_304_and_costs_no_query,
         mission_keys_see_only_their_mission_everywhere, atom_lists_the_crisis_events,
         cap_alerts_validate_against_the_oasis_schema, the_stream_sends_each_crisis_at_most_once_a_second,
         a_stream_ends_when_its_key_is_revoked, stored_control_characters_leave_the_feeds_well_formed,
         the_stream_carries_only_listed_crises, deleted_people_leave_needing_help_unreached])
finally:
    d.stop()
