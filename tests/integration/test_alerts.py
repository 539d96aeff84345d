"""Alerts become proposed crises: the real USGS event of 6 February 2023
proposes a crisis whose area holds the demo nationals of Kahramanmaraş,
Hatay and Gaziantep and not those of İstanbul; CAP messages and broken or
hostile files get clear errors; the watcher polls a feed with conditional
requests and proposes without anyone noticing the news."""

import http.server
import os
import threading
import time

from harness import SOURCE_DIR, Cluster, Daemon, Session, check, ctl, eventually, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_alerts"
PASSWORD = record_secret("Pazarcik-Elbistan-2026")
DATA = os.path.join(SOURCE_DIR, "tests", "data", "alerts")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "3000", "--seed", "1").returncode, 0, "demo")


class Feed(http.server.BaseHTTPRequestHandler):
    hits = []

    def do_GET(self):
        Feed.hits.append(self.headers.get("If-None-Match"))
        if self.headers.get("If-None-Match") == '"v1"':
            self.send_response(304)
            self.end_headers()
            return
        with open(os.path.join(DATA, "us6000jllz-detail-excerpt.geojson"), "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/geo+json")
        self.send_header("ETag", '"v1"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


feed = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Feed)
threading.Thread(target=feed.serve_forever, daemon=True).start()
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file", pwfile)
ctl(conninfo, "user", "add", "admin", "--role", "admin", "--password-file", pwfile)
lead = Session(d, "lead", PASSWORD)
A = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'TR-ANK'"))


def upload(name, session=None):
    with open(os.path.join(DATA, name), "rb") as f:
        body = f.read()
    return (session or lead).request("POST", "/api/v1/crises/import", body=body,
                                     headers={"Content-Type": "application/octet-stream"})


def inside(crisis, code):
    return int(cluster.psql(DB, "SELECT count(*) FROM crisis_targets(%d, %d) t JOIN region r ON r.id = t.region_id "
                                "WHERE r.code = '%s'" % (crisis, A, code)))


def the_2023_turkiye_earthquake_becomes_a_proposed_crisis():
    r = upload("us6000jllz-detail-excerpt.geojson")
    expect_equal(r.status, 200, r.body)
    alerts = r.json()["alerts"]
    expect_equal(len(alerts), 1, r.body)
    crisis = alerts[0]["crisis"]
    expect_equal(crisis["state"], "proposed", r.body)
    cid = crisis["id"]
    check(crisis["missions"][0]["affected"] > 100, r.body)
    for code in ("TR-46", "TR-31", "TR-27"):  # Kahramanmaraş, Hatay, Gaziantep
        check(inside(cid, code) > 0, "%s not inside" % code)
        total = int(cluster.psql(DB, "SELECT count(*) FROM national n JOIN region r ON r.id = n.region_id "
                                     "WHERE r.code = '%s' AND n.kind = 'resident'" % code))
        check(inside(cid, code) >= total, "%s: %d of %d residents inside" % (code, inside(cid, code), total))
    expect_equal(inside(cid, "TR-34"), 0, "İstanbul is not inside")
    got = lead.get("/api/v1/crises?state=proposed").json()["items"]
    check(any(c["id"] == cid and c["source"] == "usgs" and c["source_ref"] for c in got), got)
    # Importing it again revises the same proposal, never a second crisis.
    upload("us6000jllz-detail-excerpt.geojson")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis WHERE source = 'usgs'"), "1", "one crisis per event")
    # A lead confirms it, and a campaign can start.
    expect_equal(lead.patch("/api/v1/crises/%d" % cid, {"state": "active"}).status, 200, "confirm")
    dry = lead.post("/api/v1/crises/%d/campaigns" % cid, {"dry_run": True}).json()
    check(dry["people"] > 100, dry)


def a_feed_of_events_far_away_proposes_nothing():
    r = upload("usgs-summary-significant_month-2023-10-11.geojson")
    expect_equal(r.status, 200, r.body)
    body = r.json()
    check(len(body["alerts"]) > 3, body)
    check(all("crisis" not in a for a in body["alerts"]), "a crisis for an event far from any national: %r" % body)


def cap_messages_parse_and_hostile_ones_are_refused():
    r = upload("google-cap-library_earthquake.cap")
    expect_equal(r.status, 200, r.body)
    for name, word in (("google-cap-library_xee.cap", ""), ("google-cap-library_invalid.cap", "")):
        r = upload(name)
        expect_equal(r.status, 400, name + ": " + r.body)
        check(r.json()["detail"], r.body)
    r = lead.request("POST", "/api/v1/crises/import", body=b"\x00\x01 not an alert", headers={"Content-Type": "text/plain"})
    expect_equal(r.status, 400, r.body)
    check("not CAP" in r.json()["detail"] or "alert" in r.json()["detail"], r.body)


def the_watcher_proposes_from_a_feed_with_conditional_requests():
    cluster.psql(DB, "UPDATE crisis SET state = 'closed' WHERE source = 'usgs'; DELETE FROM crisis_mission WHERE crisis_id IN "
                     "(SELECT id FROM crisis WHERE source = 'usgs'); ")
    cluster.psql(DB, "SET ROLE safety; UPDATE crisis SET source_ref = source_ref || '-old' WHERE source = 'usgs'")
    w = Daemon(conninfo, sections={"alerts": {"feeds": "http://127.0.0.1:%d/feed.geojson" % feed.server_address[1],
                                              "interval": "10", "min_affected": "5"}}).start()
    try:
        eventually(lambda: "crisis_proposed" in w.log(), timeout=20, what="proposal from the feed")
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis WHERE source = 'usgs' AND state = 'proposed'"), "1", "proposed")
        eventually(lambda: len(Feed.hits) >= 2, timeout=25, what="second poll")
        expect_equal(Feed.hits[1], '"v1"', "second poll is conditional")
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis WHERE source = 'usgs' AND state = 'proposed'"), "1",
                     "nothing new from an unchanged feed")
    finally:
        w.stop()


def one_mission_cannot_remove_or_close_what_another_shares():
    """An import by one mission touches its own part of a proposal only; a shared crisis is closed by an admin."""
    expect_equal(ctl(conninfo, "mission", "add", "UA-KYV", "--name", "Embassy in Kyiv", "--country", "UA").returncode, 0, "mission")
    ctl(conninfo, "user", "add", "lead-b", "--role", "mission_lead", "--mission", "UA-KYV", "--password-file", pwfile)
    lead_b, admin = Session(d, "lead-b", PASSWORD), Session(d, "admin", PASSWORD)
    B = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'UA-KYV'"))
    cluster.psql(DB, "SET ROLE safety; UPDATE crisis SET source_ref = source_ref || '-earlier' WHERE source = 'usgs'")
    r = upload("us6000jllz-detail-excerpt.geojson", admin)
    expect_equal(r.status, 200, r.body)
    cid = r.json()["alerts"][0]["crisis"]["id"]
    title = cluster.psql(DB, "SELECT title FROM crisis WHERE id = %d" % cid)
    # Kyiv's lead imports the same event with a threshold none of its people reach.
    r = upload_as(lead_b, "us6000jllz-detail-excerpt.geojson", "?min_affected=1000000")
    expect_equal(r.status, 200, r.body)
    expect_equal(cluster.psql(DB, "SELECT state, title FROM crisis WHERE id = %d" % cid), "proposed|" + title, "untouched")
    expect_equal(cluster.psql(DB, "SELECT string_agg(mission_id::text, ',') FROM crisis_mission WHERE crisis_id = %d" % cid),
                 str(A), "Ankara's part stays")
    # Shared by both: Ankara may confirm it, not close or rename it for Kyiv too.
    cluster.psql(DB, "INSERT INTO crisis_mission (crisis_id, mission_id, affected) VALUES (%d, %d, 1)" % (cid, B))
    expect_equal(lead.patch("/api/v1/crises/%d" % cid, {"state": "active"}).status, 200, "confirm")
    for change in ({"state": "closed"}, {"title": "closed by Ankara"}, {"severity": 1}):
        r = lead.patch("/api/v1/crises/%d" % cid, change)
        expect_equal(r.status, 403, "%r: %s" % (change, r.body))
        check("shared with other missions" in r.json()["detail"], r.body)
    expect_equal(cluster.psql(DB, "SELECT state, title FROM crisis WHERE id = %d" % cid), "active|" + title, "unchanged")
    expect_equal(admin.patch("/api/v1/crises/%d" % cid, {"state": "closed"}).status, 200, "an admin closes it")


def every_circle_of_an_alert_counts():
    """An alert of 200 circles: the last one, over Antakya, still holds nationals."""
    with open(os.path.join(DATA, "google-cap-library_earthquake.cap"), encoding="utf-8") as f:
        cap = f.read()
    circles = "".join("<circle>-%d.%03d,-150.0 1</circle>" % (10 + i // 100, i % 100) for i in range(199))
    cap = cap.replace("<circle>-16.053,-173.274 0.0</circle>", circles + "<circle>36.2,36.16 60</circle>")
    cap = cap.replace("USGS-earthquakes-us2010apcd", "test-many-circles")
    r = lead.request("POST", "/api/v1/crises/import", body=cap.encode(), headers={"Content-Type": "application/xml"})
    expect_equal(r.status, 200, r.body)
    alert = r.json()["alerts"][0]
    check("crisis" in alert and alert["crisis"]["missions"][0]["affected"] > 0, "the last circle was lost: %r" % alert)


def upload_as(session, name, query=""):
    with open(os.path.join(DATA, name), "rb") as f:
        body = f.read()
    return session.request("POST", "/api/v1/crises/import" + query, body=body,
                           headers={"Content-Type": "application/octet-stream"})


try:
    run([
        the_2023_turkiye_earthquake_becomes_a_proposed_crisis,
        a_feed_of_events_far_away_proposes_nothing,
        cap_messages_parse_and_hostile_ones_are_refused,
        the_watcher_proposes_from_a_feed_with_conditional_requests,
        one_mission_cannot_remove_or_close_what_another_shares,
        every_circle_of_an_alert_counts,
    ])
finally:
    d.stop()
    feed.shutdown()
    cluster.dropdb(DB)
