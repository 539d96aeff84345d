"""Alerts become proposed crises: the real USGS event of 6 February 2023
proposes a crisis whose area holds the demo nationals of Kahramanmaraş,
Hatay and Gaziantep and not those of İstanbul; CAP messages and broken or
hostile files get clear errors; the watcher polls a feed with conditional
requests and proposes without anyone noticing the news."""

import http.server
import json
import os
import threading
import time

from harness import (SOURCE_DIR, Cluster, Daemon, Session, check, ctl, eventually, expect_equal, free_port,
                     record_secret, run)

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
    cluster.psql(DB, "SET ROLE safety; UPDATE crisis SET source_ref = source_ref || '-old', source_aliases = '{}' "
                     "WHERE source = 'usgs'")
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


def a_feed_alert_the_database_could_not_store_is_tried_again():
    """The database is busy (a long lock on crisis) when the watcher first fetches a CAP alert: the alert is
    logged as not proposed, the feed's ETag is not kept, and the next poll fetches it again and proposes it."""
    body = cap("WATCH-LOCKED-1", "<circle>39.93,32.85 30</circle>", headline="Earthquake near Ankara (watched)").encode()
    hits = []

    class CapFeed(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.headers.get("If-None-Match"))
            if self.headers.get("If-None-Match") == '"w1"':
                self.send_response(304)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/cap+xml")
            self.send_header("ETag", '"w1"')
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    cluster.psql(DB, "DELETE FROM alert_watch_lease")  # the watchers of earlier cases are gone
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CapFeed)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    locker = threading.Thread(target=lambda: cluster.psql(
        DB, "BEGIN; LOCK TABLE crisis IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;"))
    locker.start()
    time.sleep(0.5)
    w = Daemon(conninfo, sections={"alerts": {"feeds": "http://127.0.0.1:%d/cap.xml" % server.server_address[1],
                                              "interval": "10", "min_affected": "1"},
                                   "database": {"query_timeout_ms": "1500"}}).start(wait_ready=False)
    try:
        eventually(lambda: "alert_not_proposed" in w.log(), timeout=15, what="the failed alert logged")
        line = [l for l in w.log().splitlines() if "alert_not_proposed" in l][0]
        check("WATCH-LOCKED-1" in line, line)
        locker.join()
        eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM crisis WHERE source_ref LIKE '%WATCH-LOCKED-1%'")
                   == "1", timeout=30, what="the alert proposed at a later poll")
        expect_equal(hits[1], None, "the poll after the failure is not conditional")
        eventually(lambda: len(hits) >= 3, timeout=25, what="a poll after the success")
        expect_equal(hits[-1], '"w1"', "once stored, polls are conditional again")
    finally:
        w.stop()
        server.shutdown()
        locker.join()


def only_one_process_watches_the_feeds():
    """Two safetyd with the same feeds: one polls, the other waits until the first stops renewing its lease."""
    cluster.psql(DB, "SET ROLE safety; DELETE FROM alert_watch_lease")
    sections = {"alerts": {"feeds": "http://127.0.0.1:%d/feed.geojson" % feed.server_address[1], "interval": "10"}}
    del Feed.hits[:]
    w1 = Daemon(conninfo, sections=sections).start()
    w2 = Daemon(conninfo, sections=sections).start()
    try:
        time.sleep(6)  # both first polls are due 2 s after start
        expect_equal(Feed.hits, [None], "feed requests from two processes")
    finally:
        w1.stop()
        w2.stop()
    # The holder restarted takes its own lease back at once (no wait of three intervals).
    cluster.psql(DB, "SET ROLE safety; DELETE FROM alert_watch_lease")
    port = free_port()
    w = Daemon(conninfo, sections=sections, port=port).start()
    try:
        eventually(lambda: Feed.hits[1:], timeout=10, what="the first poll")
    finally:
        w.stop()
    del Feed.hits[:]
    w = Daemon(conninfo, sections=sections, port=port).start()
    try:
        eventually(lambda: Feed.hits, timeout=8, what="a poll soon after the restart")
    finally:
        w.stop()


def one_mission_cannot_remove_or_close_what_another_shares():
    """An import by one mission touches its own part of a proposal only; a shared crisis is closed by an admin."""
    expect_equal(ctl(conninfo, "mission", "add", "UA-KYV", "--name", "Embassy in Kyiv", "--country", "UA").returncode, 0, "mission")
    ctl(conninfo, "user", "add", "lead-b", "--role", "mission_lead", "--mission", "UA-KYV", "--password-file", pwfile)
    lead_b, admin = Session(d, "lead-b", PASSWORD), Session(d, "admin", PASSWORD)
    B = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'UA-KYV'"))
    cluster.psql(DB, "SET ROLE safety; UPDATE crisis SET source_ref = source_ref || '-earlier', "
                     "source_aliases = '{}' WHERE source = 'usgs'")
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
    cap = cap.replace("<expires>2010-09-02T00:09:25-05:00</expires>", "")  # long expired: it would propose nothing
    r = lead.request("POST", "/api/v1/crises/import", body=cap.encode(), headers={"Content-Type": "application/xml"})
    expect_equal(r.status, 200, r.body)
    alert = r.json()["alerts"][0]
    check("crisis" in alert and alert["crisis"]["missions"][0]["affected"] > 0, "the last circle was lost: %r" % alert)


def upload_as(session, name, query=""):
    with open(os.path.join(DATA, name), "rb") as f:
        body = f.read()
    return session.request("POST", "/api/v1/crises/import" + query, body=body,
                           headers={"Content-Type": "application/octet-stream"})


def min_affected_that_is_not_a_whole_number_is_refused():
    for bad in ("abc", "0", "-5", "1.5", "", "2x", "99999999999999999999"):
        r = upload_as(lead, "us6000jllz-detail-excerpt.geojson", "?min_affected=" + bad)
        expect_equal(r.status, 400, bad + ": " + r.body)
        check("min_affected" in r.json()["detail"] and "whole number" in r.json()["detail"], r.body)
    r = upload_as(lead, "us6000jllz-detail-excerpt.geojson", "?min_affected=5")
    expect_equal(r.status, 200, r.body)


def cap(ident, area, msg_type="Alert", refs=None, status="Actual", expires=None, headline="Earthquake near Ankara",
        sent="2026-03-01T10:00:00+09:00"):
    """A CAP 1.2 message from kma@example.org; refs name earlier identifiers (sent as in cap_ref)."""
    references = "<references>%s</references>" % " ".join(cap_ref(r) for r in refs) if refs else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">'
            "<identifier>%s</identifier><sender>kma@example.org</sender><sent>%s</sent><status>%s</status>"
            "<msgType>%s</msgType><scope>Public</scope>%s<info><category>Geo</category><event>Earthquake</event>"
            "<urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>%s"
            "<headline>%s</headline><area><areaDesc>Ankara</areaDesc>%s</area></info></alert>"
            % (ident, sent, status, msg_type, references,
               "<expires>%s</expires>" % expires if expires else "", headline, area))


def cap_ref(ident):
    return "kma@example.org,%s,2026-03-01T10:00:00+09:00" % ident


def box(lon0, lat0, lon1, lat1):
    """A CAP polygon (lat,lon pairs) of a lon/lat rectangle."""
    return "<polygon>%s</polygon>" % " ".join("%g,%g" % (la, lo) for lo, la in ring(lon0, lat0, lon1, lat1)[0])


def ring(lon0, lat0, lon1, lat1):
    return [[[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]]


def post_alert(text, session=None):
    r = (session or lead).request("POST", "/api/v1/crises/import", body=text.encode(),
                                  headers={"Content-Type": "application/xml"})
    expect_equal(r.status, 200, r.body)
    return r.json()["alerts"][0]


def flat_count(mission, geom):
    """Nationals of a mission counted today whose point is inside geom read flat in lon/lat, as on the map."""
    return int(cluster.psql(DB, "SELECT count(*) FROM nationals_near(%d, 'SRID=4326;POINT(35 39)'::geography, 2e6, "
                                "current_date) t JOIN national n ON n.id = t.national_id "
                                "WHERE ST_Intersects(n.last_point::geometry, %s)" % (mission, geom)))


def declare_and_preview(area):
    p = lead.post("/api/v1/nationals/in-area", {"area": area})
    expect_equal(p.status, 200, p.body)
    r = lead.post("/api/v1/crises", {"kind": "earthquake", "title": "drawn by hand", "area": area, "mission_ids": [A]})
    expect_equal(r.status, 201, r.body)
    return p.json()["count"], r.json()["missions"][0]["affected"]


def overlapping_polygons_keep_every_place_and_preview_equals_declare():
    """Ankara province and Ankara city inside it: everyone in the province, by alert, by hand and in the preview."""
    expected = flat_count(A, "ST_MakeEnvelope(31, 39, 34, 41, 4326)")
    check(expected > 250, expected)
    alert = post_alert(cap("NEST-1", box(31, 39, 34, 41) + box(32.5, 39.7, 33.2, 40.2)))
    check("crisis" in alert, "nested polygons proposed nobody: %r" % alert)
    expect_equal(alert["crisis"]["missions"][0]["affected"], expected, "affected by the alert")
    nested = {"type": "MultiPolygon", "coordinates": [ring(31, 39, 34, 41), ring(32.5, 39.7, 33.2, 40.2)]}
    expect_equal(declare_and_preview(nested), (expected, expected), "preview and declare of nested polygons")
    # Two overlapping halves of the province.
    halves = {"type": "MultiPolygon", "coordinates": [ring(31, 39, 33, 41), ring(32, 39, 34, 41)]}
    expect_equal(declare_and_preview(halves), (expected, expected), "preview and declare of overlapping polygons")
    # A self-intersecting bow-tie over Ankara: both triangles, in the preview as in the crisis.
    bow = {"type": "Polygon", "coordinates": [[[32.5, 39.7], [33.2, 40.2], [33.2, 39.7], [32.5, 40.2], [32.5, 39.7]]]}
    preview, declared = declare_and_preview(bow)
    expect_equal(preview, declared, "bow-tie preview and declare")
    expect_equal(declared, flat_count(A, "ST_MakeValid('SRID=4326;POLYGON((32.5 39.7,33.2 40.2,33.2 39.7,32.5 40.2,32.5 39.7))'"
                                         "::geometry)"), "both triangles of the bow-tie")


def the_preview_takes_the_circles_a_declare_takes():
    big = {"circle": {"lat": 39.93, "lon": 32.85, "radius_m": 3000000}}
    p = lead.post("/api/v1/nationals/in-area", big)
    expect_equal(p.status, 200, p.body)
    r = lead.post("/api/v1/crises", {"kind": "war", "title": "wide", "mission_ids": [A], **big})
    expect_equal(r.status, 201, r.body)
    expect_equal(p.json()["count"], r.json()["missions"][0]["affected"], "preview and declare of a 3,000 km circle")


def edges_are_straight_in_lon_lat_as_drawn():
    """A rectangle over Türkiye holds Hatay at its southern edge; a GDACS-like box of 4 corners holds all inside."""
    expected = flat_count(A, "ST_MakeEnvelope(26, 36, 45, 42, 4326)")
    hatay = flat_count(A, "ST_MakeEnvelope(36, 36, 36.5, 36.5, 4326)")
    check(hatay > 50, hatay)
    expect_equal(declare_and_preview({"type": "Polygon", "coordinates": ring(26, 36, 45, 42)}), (expected, expected),
                 "rectangle 26-45E 36-42N")
    alert = post_alert(cap("RECT-1", box(26, 36, 45, 42)))
    expect_equal(alert["crisis"]["missions"][0]["affected"], expected, "alert rectangle")
    # GDACS gives a flood or cyclone as a box of four corners.
    with open(os.path.join(DATA, "aio-georss-gdacs_gdacs-1.xml"), encoding="utf-8-sig") as f:
        rss = f.read()
    start, end = rss.index("<item"), rss.index("</item>") + len("</item>")
    item = rss[start:end].replace("1000643", "9990643").replace("<geo:lat>-19.4", "<geo:lat>39") \
        .replace("<geo:long>59.8", "<geo:long>35").replace("-19.4 59.8", "39 35")
    item = item[:item.index("<gdacs:bbox>")] + "<gdacs:bbox>26 45 36 42" + item[item.index("</gdacs:bbox>"):]
    r = lead.request("POST", "/api/v1/crises/import", body=(rss[:start] + item + "</channel></rss>").encode())
    expect_equal(r.status, 200, r.body)
    expect_equal(r.json()["alerts"][0]["crisis"]["missions"][0]["affected"], expected, "GDACS box: " + r.body[:300])


def updates_and_cancels_reach_the_crisis_they_name():
    circle = "<circle>39.93,32.85 30</circle>"
    first = post_alert(cap("UPD-1", circle))["crisis"]
    second = post_alert(cap("UPD-2", "<circle>39.93,32.85 60</circle>", "Update", ["UPD-1"],
                            headline="Earthquake near Ankara, revised"))
    expect_equal(second["crisis"]["id"], first["id"], "an Update revises the crisis it references")
    expect_equal(cluster.psql(DB, "SELECT title, radius_m FROM crisis WHERE id = %d" % first["id"]),
                 "Earthquake near Ankara, revised|60000", "revised")
    # A later Update naming only the Update finds the same crisis.
    third = post_alert(cap("UPD-3", circle, "Update", ["UPD-2"]))
    expect_equal(third["crisis"]["id"], first["id"], "an Update of an Update")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis WHERE source_ref LIKE '%UPD-%'"), "1", "one crisis")
    cancel = post_alert(cap("UPD-4", circle, "Cancel", ["UPD-3"]))
    expect_equal(cancel["result"], "cancelled", cancel)
    expect_equal(cluster.psql(DB, "SELECT state FROM crisis WHERE id = %d" % first["id"]), "dismissed", "withdrawn")
    # An active crisis is not closed behind staff's back: they are told.
    active = post_alert(cap("ACT-1", circle))["crisis"]
    expect_equal(lead.patch("/api/v1/crises/%d" % active["id"], {"state": "active"}).status, 200, "confirm")
    post_alert(cap("ACT-2", circle, "Cancel", ["ACT-1"]))
    expect_equal(cluster.psql(DB, "SELECT state, description LIKE '%%source cancelled this alert%%' FROM crisis "
                                  "WHERE id = %d" % active["id"]), "active|t", "still active, and said so")
    check(int(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'crisis.source_cancelled' "
                               "AND object_id = '%d'" % active["id"])) == 1, "audited")
    # A feed repeating the cancel (or one naming the crisis's own reference) says it once.
    post_alert(cap("ACT-3", circle, "Cancel", ["ACT-1"]))
    post_alert(cap("ACT-4", circle, "Cancel", ["ACT-2", "ACT-1"]))
    expect_equal(cluster.psql(DB, "SELECT (length(description) - length(replace(description, 'source cancelled', "
                                  "''))) / length('source cancelled'), position('ACT-' IN description) FROM crisis "
                                  "WHERE id = %d" % active["id"]), "1|0", "said once, in the system's own words")
    check(int(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'crisis.source_cancelled' "
                               "AND object_id = '%d'" % active["id"])) == 1, "audited once")
    # A USGS event the network deleted withdraws its proposal.
    with open(os.path.join(DATA, "us6000jllz-detail-excerpt.geojson"), encoding="utf-8") as f:
        event = json.load(f)
    event["id"], event["properties"]["ids"] = "ustestdel", ",ustestdel,"
    r = lead.request("POST", "/api/v1/crises/import", body=json.dumps(event).encode())
    cid = r.json()["alerts"][0]["crisis"]["id"]
    event["properties"]["status"] = "deleted"
    r = lead.request("POST", "/api/v1/crises/import", body=json.dumps(event).encode())
    expect_equal(r.status, 200, r.body)
    expect_equal(r.json()["alerts"][0]["result"], "cancelled", r.body)
    expect_equal(cluster.psql(DB, "SELECT state FROM crisis WHERE id = %d" % cid), "dismissed", "deleted event withdrawn")


def one_earthquake_under_several_usgs_ids_is_one_crisis():
    with open(os.path.join(DATA, "us6000jllz-detail-excerpt.geojson"), encoding="utf-8") as f:
        event = json.load(f)
    ids = []
    for preferred, aliases in (("ustestq", ",ustestq,attestq,"), ("attestq", ",ustestq,attestq,"),
                               ("pttestq", ",attestq,pttestq,")):
        event["id"], event["properties"]["ids"] = preferred, aliases
        r = lead.request("POST", "/api/v1/crises/import", body=json.dumps(event).encode())
        expect_equal(r.status, 200, r.body)
        ids.append(r.json()["alerts"][0]["crisis"]["id"])
    expect_equal(len(set(ids)), 1, "one crisis: %r" % ids)
    expect_equal(cluster.psql(DB, "SELECT source_ref, source_aliases FROM crisis WHERE id = %d" % ids[0]),
                 "ustestq|{attestq,pttestq}", "every id kept")


def a_second_mission_gets_what_the_first_confirmed_or_dismissed():
    B = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'UA-KYV'"))
    cluster.psql(DB, "SET ROLE safety; UPDATE national SET mission_id = %d WHERE id IN (SELECT n.id FROM national n "
                     "JOIN region r ON r.id = n.region_id WHERE r.code = 'TR-06' AND n.kind = 'resident' "
                     "ORDER BY n.id LIMIT 20)" % B)
    lead_b = Session(d, "lead-b", PASSWORD)
    city = box(32.5, 39.7, 33.2, 40.2)
    first = post_alert(cap("SEC-1", city))["crisis"]
    expect_equal(lead.patch("/api/v1/crises/%d" % first["id"], {"state": "active"}).status, 200, "Ankara confirms")
    got = post_alert(cap("SEC-1", city), lead_b)
    check("crisis" in got, "Kyiv gets nothing from a confirmed alert: %r" % got)
    expect_equal((got["crisis"]["id"], got["crisis"]["state"], got["crisis"]["missions"]),
                 (first["id"], "active", [{"mission_id": B, "affected": 20}]), "Kyiv joins, sees its own part")
    second = post_alert(cap("SEC-2", city))["crisis"]
    expect_equal(lead.patch("/api/v1/crises/%d" % second["id"], {"state": "dismissed"}).status, 200, "Ankara dismisses")
    got = post_alert(cap("SEC-2", city), lead_b)
    expect_equal((got["crisis"]["id"], got["crisis"]["state"], got["crisis"]["missions"]),
                 (second["id"], "proposed", [{"mission_id": B, "affected": 20}]), "proposed to Kyiv, which never saw it")
    # Ankara dismissed it: not proposed to Ankara again, whoever imports it or an update of it.
    proposed = [c["id"] for c in lead.get("/api/v1/crises?state=proposed").json()["items"]]
    check(second["id"] not in proposed, "proposed again to Ankara, which dismissed it")
    got = post_alert(cap("SEC-2", city))
    check("crisis" not in got, "Ankara's import brings it back: %r" % got)
    admin = Session(d, "admin", PASSWORD)
    post_alert(cap("SEC-2U", city, "Update", ["SEC-2"], headline="Earthquake near Ankara, revised"), admin)
    expect_equal(cluster.psql(DB, "SELECT string_agg(mission_id::text, ',' ORDER BY mission_id) FROM crisis_mission "
                                  "WHERE crisis_id = %d" % second["id"]), str(B), "an update leaves Ankara out")
    proposed = [c["id"] for c in lead.get("/api/v1/crises?state=proposed").json()["items"]]
    check(second["id"] not in proposed, "an update proposes it to Ankara again")
    expect_equal(cluster.psql(DB, "SELECT mission_id FROM crisis_dismissal WHERE crisis_id = %d" % second["id"]),
                 str(A), "Ankara's dismissal is kept")
    # Nothing of Kyiv's inside: Kyiv learns nothing of Ankara's crisis.
    post_alert(cap("SEC-3", box(28.5, 40.8, 29.5, 41.3)))
    got = post_alert(cap("SEC-3", box(28.5, 40.8, 29.5, 41.3)), lead_b)
    check("crisis" not in got, "another mission's crisis shown: %r" % got)


def a_dismissal_stands_when_the_proposal_loses_its_other_missions():
    def propose(title):
        return cluster.psql(DB, "SELECT crisis_propose('usgs', 'DIS-1', NULL, 'earthquake', '%s', '', 3::smallint, "
                                "false, NULL, ARRAY[30.0], ARRAY[70.0], ARRAY[5000::float8], now(), 1, NULL, "
                                "'watcher')::jsonb->>'id'" % title)
    first, second = (int(x) for x in cluster.psql(DB, """
        INSERT INTO mission (code, name, default_country) VALUES ('PK-ONE', 'First', 'PK'), ('PK-TWO', 'Second', 'PK');
        SELECT string_agg(id::text, ' ' ORDER BY code) FROM mission WHERE code IN ('PK-ONE', 'PK-TWO')""").split()[-2:])
    for mission, name in ((first, "FIRST ONE"), (second, "SECOND ONE")):
        cluster.psql(DB, "WITH n AS (INSERT INTO national (mission_id, name_latin) VALUES (%d, '%s') RETURNING id) "
                         "INSERT INTO location (national_id, point, source) SELECT id, "
                         "'SRID=4326;POINT(70 30)', 'staff' FROM n" % (mission, name))
    cluster.psql(DB, "UPDATE national SET deleted_at = now() WHERE name_latin = 'SECOND ONE'")
    cid = int(propose("Quake"))
    cluster.psql(DB, "SELECT crisis_update(%d, NULL, NULL, NULL, NULL, 'dismissed', 'admin', 'admin', NULL, '')"
                 % cid)
    # The second mission's national comes back into the area: proposed to it alone.
    cluster.psql(DB, "UPDATE national SET deleted_at = NULL WHERE name_latin = 'SECOND ONE'")
    expect_equal(propose("Quake update"), str(cid), "proposed again")
    expect_equal(cluster.psql(DB, "SELECT string_agg(mission_id::text, ',') FROM crisis_mission WHERE crisis_id = %d"
                              % cid), str(second), "to the second mission only")
    # And leaves it: the proposal concerns nobody now, then the event is updated again.
    cluster.psql(DB, "UPDATE national SET deleted_at = now() WHERE name_latin = 'SECOND ONE'")
    propose("Quake update 2")
    propose("Quake update 3")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis c JOIN crisis_mission cm ON cm.crisis_id = c.id "
                                  "WHERE c.source_ref = 'DIS-1' AND c.state = 'proposed' AND cm.mission_id = %d" % first),
                 "0", "not proposed again to the mission that dismissed it")
    expect_equal(cluster.psql(DB, "SELECT string_agg(d.mission_id::text, ',') FROM crisis_dismissal d "
                                  "JOIN crisis c ON c.id = d.crisis_id WHERE c.source_ref = 'DIS-1'"), str(first),
                 "its dismissal kept")

def circles_are_never_smaller_than_asked():
    one = post_alert(cap("CIR-1", "<circle>39.93,32.85 30</circle>"))["crisis"]
    expect_equal(cluster.psql(DB, "SELECT area IS NULL, radius_m FROM crisis WHERE id = %d" % one["id"]), "t|30000",
                 "one circle is kept exact")
    two = post_alert(cap("CIR-2", "<circle>39.93,32.85 30</circle><circle>41.0,29.0 20</circle>"))["crisis"]
    for lat, lon, r in ((39.93, 32.85, 30000), (41.0, 29.0, 20000)):
        missed = cluster.psql(DB, "SELECT count(*) FROM crisis c, generate_series(0, 359) b WHERE c.id = %d AND NOT "
                                  "ST_Intersects(c.area, ST_Project('SRID=4326;POINT(%s %s)'::geography, %s, radians(b)))"
                                  % (two["id"], lon, lat, r * 0.997))
        expect_equal(missed, "0", "points at 0.997 of the radius left out")
    far = post_alert(cap("CIR-3", "<circle>80,30 2000</circle><circle>39.93,32.85 30</circle>"))
    check("pole" in far.get("error", ""), far)


def a_ring_across_the_antimeridian_swallows_nothing():
    """Read flat, a ring from 179E to 179W spans every longitude between, Ankara's included."""
    expected = flat_count(A, "ST_MakeEnvelope(32.5, 39.7, 33.2, 40.2, 4326)")
    ring_across = "<polygon>39,179 39,-179 41,-179 41,179 39,179</polygon>"
    for ident, other in (("AM-1", ring_across), ("AM-2", "<circle>40,180 50</circle>")):
        alert = post_alert(cap(ident, other + box(32.5, 39.7, 33.2, 40.2)))
        check("crisis" in alert, "%s: Ankara was swallowed: %r" % (ident, alert))
        expect_equal(alert["crisis"]["missions"][0]["affected"], expected, ident + ": Ankara beside a shape across 180")
        area = cluster.psql(DB, "SELECT round(ST_Area(area)::numeric / 1e9) FROM crisis WHERE id = %d"
                                % alert["crisis"]["id"])
        check(int(area) < 200, "%s: the area is %s thousand km2: it went the long way" % (ident, area))


def a_gdacs_box_far_from_its_cyclone_is_not_its_area():
    """SARAI-19 is near Fiji, its gdacs:bbox in the South Atlantic: the crisis is a circle around the cyclone,
    reaching Ono-i-Lau, and the answer says the box was not used. A box across 180 is the cyclone's area."""
    expect_equal(ctl(conninfo, "mission", "add", "FJ-SUV", "--name", "Embassy in Suva", "--country", "FJ").returncode,
                 0, "mission")
    fj = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'FJ-SUV'"))
    # Three on Ono-i-Lau (20 km from SARAI-19's point), one on Taveuni east of 180 seen from the west.
    cluster.psql(DB, """SET ROLE safety;
INSERT INTO national (mission_id, name_latin, name_key) VALUES (%d, 'ONO A', 'onoa'), (%d, 'ONO B', 'onob'),
  (%d, 'ONO C', 'onoc'), (%d, 'TAVEUNI D', 'taveunid');
INSERT INTO location (national_id, point, source)
  SELECT id, CASE WHEN name_key = 'taveunid' THEN ST_SetSRID(ST_MakePoint(179.9, -16.8), 4326)::geography
                  ELSE ST_SetSRID(ST_MakePoint(-178.73, -20.65), 4326)::geography END,
         (enum_range(NULL::location_source))[1]
  FROM national WHERE mission_id = %d""" % (fj, fj, fj, fj, fj))
    admin = Session(d, "admin", PASSWORD)
    r = upload("aio-georss-gdacs_gdacs-rss-7d-excerpt.xml", session=admin)
    expect_equal(r.status, 200, r.body)
    sarai = [a for a in r.json()["alerts"] if a["source_ref"] == "TC1000642"][0]
    check("crisis" in sarai, sarai)
    check("not used" in sarai.get("area_note", ""), sarai)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis_targets(%d, %d) t JOIN national n ON n.id = t.national_id "
                                  "WHERE n.name_key LIKE 'ono%%'" % (sarai["crisis"]["id"], fj)), "3",
                 "Ono-i-Lau inside: %r" % sarai)
    # A box from 179E to 179W around a cyclone at 179.5W, written as GDACS writes one across 180.
    feed = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:geo="http://www.w3.org/2003/01/geo/wgs84_pos#" '
            'xmlns:gdacs="http://www.gdacs.org"><channel><item><title>Cyclone across 180</title><description>d</description>'
            '<link>http://www.gdacs.org/report.aspx?eventtype=TC&amp;eventid=990001</link>'
            '<pubDate>Sun, 29 Dec 2019 18:00:00 GMT</pubDate><gdacs:fromdate>Thu, 26 Dec 2019 06:00:00 GMT</gdacs:fromdate>'
            '<guid isPermaLink="false">TC990001</guid><geo:Point><geo:lat>-17</geo:lat><geo:long>-179.5</geo:long></geo:Point>'
            '<gdacs:bbox>-181 -179 -18 -16</gdacs:bbox><gdacs:eventtype>TC</gdacs:eventtype>'
            '<gdacs:alertlevel>Orange</gdacs:alertlevel><gdacs:eventid>990001</gdacs:eventid></item></channel></rss>')
    r = admin.request("POST", "/api/v1/crises/import", body=feed.encode(), headers={"Content-Type": "application/xml"})
    expect_equal(r.status, 200, r.body)
    across = r.json()["alerts"][0]
    check("crisis" in across and "area_note" not in across, across)
    expect_equal(cluster.psql(DB, "SELECT string_agg(n.name_key, ',') FROM crisis_targets(%d, %d) t "
                                  "JOIN national n ON n.id = t.national_id" % (across["crisis"]["id"], fj)),
                 "taveunid", "Taveuni, across 180 from the point, and not Ono-i-Lau")
    area = cluster.psql(DB, "SELECT round(ST_Area(area)::numeric / 1e9) FROM crisis WHERE id = %d" % across["crisis"]["id"])
    check(int(area) < 100, "the box went the long way round: %s thousand km2" % area)


def quake(eid, lon, lat, mag=6.0, ids=None, status="reviewed", title=None):
    """One USGS feed feature."""
    now = int(time.time() * 1000)
    return {"type": "Feature", "id": eid, "geometry": {"type": "Point", "coordinates": [lon, lat, 10]},
            "properties": {"mag": mag, "time": now - 60000, "updated": now, "status": status, "net": "us",
                           "type": "earthquake", "ids": ids or ",%s," % eid, "magType": "mww",
                           "title": title or "M %.1f - test %s" % (mag, eid), "place": "test " + eid}}


def db_queries():
    for line in d.get("/metrics").body.splitlines():
        if line.startswith('safety_db_queries_total{outcome="ok"} '):
            return int(line.split()[1])
    raise AssertionError("no safety_db_queries_total in /metrics")


def a_feed_of_many_events_proposes_exactly_those_near_nationals():
    """Hundreds of far events (several batches) around a few near ones, an update and a cancel of crises already
    proposed, an event revised far away, and a second id of a near event in the same feed."""
    def upload_feed(features):
        r = lead.request("POST", "/api/v1/crises/import",
                         body=json.dumps({"type": "FeatureCollection", "features": features}).encode())
        expect_equal(r.status, 200, r.body[:500])
        return {a["source_ref"]: a for a in r.json()["alerts"]}, r.json()["alerts"]

    before, _ = upload_feed([quake("usmbupd", 32.85, 39.93), quake("usmbdel", 32.85, 39.93),
                             quake("usmbmove", 32.85, 39.93)])
    for ref in ("usmbupd", "usmbdel", "usmbmove"):
        check("crisis" in before[ref], before[ref])
    # South Pacific, thousands of km from every national of the demo missions.
    far = [quake("usmbfar%04d" % i, -150 + (i % 60) * 0.5, -55 + (i // 60) * 0.5, mag=5.5) for i in range(700)]
    near = {10: quake("usmbnear1", 37.0, 37.3, mag=7.0), 300: quake("usmbnear2", 32.85, 39.93),
            520: quake("usmbupd", 32.85, 39.93, mag=6.6, title="M 6.6 - revised"),
            530: quake("usmbdel", 32.85, 39.93, status="deleted"),
            540: quake("usmbgone", -140, -50, status="deleted"),
            560: quake("usmbmove", -140, -50, title="M 6.0 - relocated far away"),
            600: quake("usmbtwin", 36.2, 36.2, ids=",usmbtwin,atmbtwin,"),
            690: quake("atmbtwin", 36.2, 36.2, ids=",usmbtwin,atmbtwin,", title="M 6.0 - second id")}
    features = list(far)
    for at in sorted(near):
        features.insert(at, near[at])
    queries = db_queries()
    by_ref, alerts = upload_feed(features)
    # A few statements for the whole feed, not one per event (the daemon's own background work adds some).
    check(db_queries() - queries < 60, "%d statements for a feed of %d events" % (db_queries() - queries, len(features)))
    expect_equal([a["source_ref"] for a in alerts], [f["id"] for f in features], "one answer per event, in order")
    proposed = sorted(ref for ref, a in by_ref.items() if "crisis" in a)
    expect_equal(proposed, ["atmbtwin", "usmbnear1", "usmbnear2", "usmbtwin", "usmbupd"], "proposed")
    check(all(by_ref[f["id"]]["result"] == "no mission has nationals inside" for f in far), "far events")
    check(not any("error" in a for a in alerts), [a for a in alerts if "error" in a])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis WHERE source_ref LIKE 'usmbfar%'"), "0", "nothing stored")
    # The update and the cancel in the batch reached the crises they name.
    expect_equal(by_ref["usmbupd"]["crisis"]["id"], before["usmbupd"]["crisis"]["id"], "same crisis")
    expect_equal(cluster.psql(DB, "SELECT title FROM crisis WHERE id = %d" % before["usmbupd"]["crisis"]["id"]),
                 "M 6.6 - revised", "revised")
    expect_equal(by_ref["usmbdel"]["result"], "cancelled", by_ref["usmbdel"])
    expect_equal(cluster.psql(DB, "SELECT state FROM crisis WHERE id = %d" % before["usmbdel"]["crisis"]["id"]),
                 "dismissed", "withdrawn")
    expect_equal(by_ref["usmbgone"]["result"], "cancelled: no crisis of yours named", by_ref["usmbgone"])
    # An event already proposed and now placed far away is revised like any proposal: its count falls to 0 and
    # the proposal goes (were it set aside as a far event, it would stay).
    expect_equal(by_ref["usmbmove"]["result"], "no mission has nationals inside", by_ref["usmbmove"])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis WHERE id = %d" % before["usmbmove"]["crisis"]["id"]),
                 "0", "relocated proposal removed")
    # Out of time, the events not yet handled come back undone, to be sent again; never the first one handled.
    def event(ref, lon, lat):
        return {"source": "usgs", "ref": ref, "refs": "{}", "kind": "earthquake", "title": ref, "severity": 3,
                "drill": False, "lat": "{%s}" % lat, "lon": "{%s}" % lon, "radius": "{50000}", "started": None}
    batch = [event("usmbbud1", -140, -50), event("usmbbud2", 32.85, 39.93), event("usmbbud3", 36.2, 36.2),
             event("usmbbud4", -141, -50)]
    expect_equal(cluster.psql(DB, "SET ROLE safety; SELECT string_agg(ord || ':' || done, ',' ORDER BY ord) "
                                  "FROM crisis_propose_batch('%s', 1, NULL, 'test', 0)" % json.dumps(batch)),
                 "1:true,2:true,3:false,4:true", "budget spent after the first near event")
    expect_equal(cluster.psql(DB, "SELECT string_agg(source_ref, ',') FROM crisis WHERE source_ref LIKE 'usmbbud%'"),
                 "usmbbud2", "only the event handled is proposed")
    # The second id of an event earlier in the same feed finds the crisis the first one proposed.
    expect_equal(by_ref["atmbtwin"]["crisis"]["id"], by_ref["usmbtwin"]["crisis"]["id"], "one crisis for both ids")
    expect_equal(cluster.psql(DB, "SELECT title FROM crisis WHERE id = %d" % by_ref["usmbtwin"]["crisis"]["id"]),
                 "M 6.0 - second id", "revised by the second id")


def test_messages_and_expired_alerts_propose_nothing():
    test = post_alert(cap("TST-1", "<circle>39.93,32.85 30</circle>", status="Test"))
    check("crisis" not in test and "nothing to propose" in test["result"], test)
    old = post_alert(cap("EXP-1", "<circle>39.93,32.85 30</circle>", expires="2026-03-01T12:00:00+09:00"))
    check("crisis" not in old and "expired" in old["result"], old)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis WHERE source_ref LIKE '%TST-1%' "
                                  "OR source_ref LIKE '%EXP-1%'"), "0", "nothing stored")


try:
    run([
        the_2023_turkiye_earthquake_becomes_a_proposed_crisis,
        a_feed_of_events_far_away_proposes_nothing,
        cap_messages_parse_and_hostile_ones_are_refused,
        the_watcher_proposes_from_a_feed_with_conditional_requests,
        a_feed_alert_the_database_could_not_store_is_tried_again,
        only_one_process_watches_the_feeds,
        one_mission_cannot_remove_or_close_what_another_shares,
        every_circle_of_an_alert_counts,
        overlapping_polygons_keep_every_place_and_preview_equals_declare,
        the_preview_takes_the_circles_a_declare_takes,
        edges_are_straight_in_lon_lat_as_drawn,
        updates_and_cancels_reach_the_crisis_they_name,
        one_earthquake_under_several_usgs_ids_is_one_crisis,
        a_second_mission_gets_what_the_first_confirmed_or_dismissed,
        a_dismissal_stands_when_the_proposal_loses_its_other_missions,
        circles_are_never_smaller_than_asked,
        a_ring_across_the_antimeridian_swallows_nothing,
        a_gdacs_box_far_from_its_cyclone_is_not_its_area,
        test_messages_and_expired_alerts_propose_nothing,
        min_affected_that_is_not_a_whole_number_is_refused,
        a_feed_of_many_events_proposes_exactly_those_near_nationals,
    ])
finally:
    d.stop()
    feed.shutdown()
    cluster.dropdb(DB)
