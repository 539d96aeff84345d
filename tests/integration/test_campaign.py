"""Crises and check-in campaigns with the recording (log) driver: declare a
crisis over the demo mission, see what a campaign would do, launch it, watch
every message go out with a working reply link, re-ask, land on the call
list, close the crisis; and a kill -9 in the middle loses nothing."""

import json
import os
import signal
import threading
import time

from harness import Cluster, Daemon, Session, check, ctl, eventually, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_campaign"
PASSWORD = record_secret("Malatya-Adiyaman-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
r = ctl(conninfo, "demo", "--country", "TR", "--people", "1500", "--seed", "7")
expect_equal(r.returncode, 0, r.stderr)
A = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'TR-ANK'"))
SECTIONS = {"auth": {"password_hash_cost": "10"},
            "channels": {"sms_driver": "log", "email_driver": "log", "dispatch_interval_ms": "50",
                         "escalate_interval": "1", "stale_claim": "3", "sms_rate": "0", "email_rate": "0"}}
d = Daemon(conninfo, sections=SECTIONS).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
for name, role in (("lead", "mission_lead"), ("staff", "mission_staff")):
    expect_equal(ctl(conninfo, "user", "add", name, "--role", role, "--mission", "TR-ANK", "--password-file",
                     pwfile).returncode, 0, "user")
S = {n: Session(d, n, PASSWORD) for n in ("lead", "staff")}
# The 6 February 2023 earthquake: epicentre near Pazarcık, 250 km around it.
QUAKE = {"kind": "earthquake", "title": "M7.8 Pazarcık", "severity": 5,
         "circle": {"lat": 37.226, "lon": 37.014, "radius_m": 250000}}


def outbox_log():
    path = os.path.join(d.workdir, "outbox-log.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def declaring_a_crisis_counts_the_people_inside():
    r = S["staff"].post("/api/v1/crises", QUAKE)
    expect_equal(r.status, 403, "staff may not declare")
    r = S["lead"].post("/api/v1/crises", QUAKE)
    expect_equal(r.status, 201, r.body)
    body = r.json()
    affected = body["missions"][0]["affected"]
    inside = int(cluster.psql(DB, "SELECT count(*) FROM national WHERE deleted_at IS NULL AND kind = 'resident' "
                                  "AND ST_DWithin(last_point, ST_SetSRID(ST_MakePoint(37.014, 37.226), 4326)::geography, 250000)"))
    check(affected >= inside and affected > 50, "affected %d, residents inside %d" % (affected, inside))
    globals()["CRISIS"] = body["id"]
    got = S["staff"].get("/api/v1/crises/%d" % CRISIS).json()
    expect_equal(got["state"], "active", "state")
    expect_equal(got["circle"]["radius_m"], 250000, "circle")
    # The area as a polygon works too; a broken one is refused.
    bad = dict(QUAKE, circle=None, area={"type": "Polygon", "coordinates": [[[36, 37], [37, 37]]]})
    del bad["circle"]
    expect_equal(S["lead"].post("/api/v1/crises", bad).status, 400, "broken polygon")
    expect_equal(S["lead"].post("/api/v1/crises", dict(QUAKE, kind="meteor")).status, 400, "bad kind")


def crisis_text_the_feeds_cannot_carry_is_refused():
    """A control character (a vertical tab pasted from a spreadsheet) or U+FFFF in a title would
    make the Atom and CAP feeds malformed XML for everyone: refused, naming field and place."""
    crises = cluster.psql(DB, "SELECT count(*) FROM crisis")
    stored = cluster.psql(DB, "SELECT title || '|' || coalesce(description, '') FROM crisis WHERE id = %d" % CRISIS)
    for change, detail in (
            ({"title": "Flood\u000b Izmir"}, "title: control character U+000B at character 6"),
            ({"title": "Flood\tIzmir"}, "title: control character U+0009 at character 6"),
            ({"title": "Flood \u0085"}, "title: control character U+0085 at character 7"),
            ({"title": "지진 \u007f"}, "title: control character U+007F at character 4"),
            ({"title": "지진 \uffff"}, "title: U+FFFF at character 4"),
            ({"description": "water\u0002 rising"}, "description: control character U+0002 at character 6"),
            ({"description": "ok\n\ufffe"}, "description: U+FFFE at character 4")):
        for r in (S["lead"].post("/api/v1/crises", dict(QUAKE, **change)),
                  S["lead"].patch("/api/v1/crises/%d" % CRISIS, change)):
            expect_equal(r.status, 400, "%r: %s" % (change, r.body))
            check(detail in r.json()["detail"], "%r: %s" % (change, r.body))
    # A NUL would end the string where it stands, storing "Flood" unnoticed.
    for body in (b'{"title": "Flood\\u0000 Izmir"}', b'{"title": "Flood\x00 Izmir"}'):
        r = S["lead"].patch("/api/v1/crises/%d" % CRISIS, body, headers={"Content-Type": "application/json"})
        expect_equal(r.status, 400, r.body)
        check("NUL" in r.json()["detail"], r.body)
    r = S["lead"].patch("/api/v1/crises/%d" % CRISIS, b'{"description": "C:\\\\u0000"}',
                        headers={"Content-Type": "application/json"})
    expect_equal(r.status, 200, "an escaped backslash before u0000 is text: %s" % r.body)
    expect_equal(cluster.psql(DB, "SELECT description FROM crisis WHERE id = %d" % CRISIS), "C:\\u0000", "kept whole")
    cluster.psql(DB, "UPDATE crisis SET description = %s WHERE id = %d"
                 % ("NULL" if stored.split("|", 1)[1] == "" else "'%s'" % stored.split("|", 1)[1].replace("'", "''"),
                    CRISIS))
    # Bytes that are not UTF-8 at all.
    r = S["lead"].patch("/api/v1/crises/%d" % CRISIS, b'{"title": "Flood \xff"}',
                        headers={"Content-Type": "application/json"})
    expect_equal(r.status, 400, r.body)
    check("title: bytes that are not UTF-8 at character 7" in r.json()["detail"], r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis"), crises, "nothing declared")
    expect_equal(cluster.psql(DB, "SELECT title || '|' || coalesce(description, '') FROM crisis WHERE id = %d"
                              % CRISIS), stored, "nothing changed")
    # Templates are free text too; line breaks and tabs stay allowed in them and in descriptions.
    r = S["lead"].post("/api/v1/crises/%d/campaigns" % CRISIS,
                       {"dry_run": True, "templates": {"ko": "안전 확인\u0007 {link}"}})
    expect_equal(r.status, 400, r.body)
    check("templates.ko: control character U+0007 at character 6" in r.json()["detail"], r.body)
    r = S["lead"].patch("/api/v1/crises/%d" % CRISIS, {"description": "Roads closed:\n\tD400\r\n\tO-52"})
    expect_equal(r.status, 200, r.body)
    expect_equal(S["lead"].get("/api/v1/crises/%d" % CRISIS).json()["description"], "Roads closed:\n\tD400\r\n\tO-52",
                 "a description of several lines")


def a_change_of_what_cannot_change_is_refused():
    """A PATCH naming a field it cannot change (the area is set when declaring) says so instead of
    answering 200 and changing nothing."""
    before = S["lead"].get("/api/v1/crises/%d" % CRISIS).json()
    square = {"type": "Polygon", "coordinates": [[[30, 30], [40, 30], [40, 40], [30, 40], [30, 30]]]}
    for change, detail in (({"area": square, "severity": 4}, "unknown field 'area'"),
                           ({"circle": {"lat": 37, "lon": 37, "radius_m": 5}}, "unknown field 'circle'"),
                           ({"severity": 4, "severity ": 4}, "unknown field 'severity '")):
        r = S["lead"].patch("/api/v1/crises/%d" % CRISIS, change)
        expect_equal(r.status, 400, "%r: %s" % (change, r.body))
        check(detail in r.json()["detail"], r.body)
    after = S["lead"].get("/api/v1/crises/%d" % CRISIS).json()
    expect_equal((after["severity"], after["area"], after["circle"]), (before["severity"], before["area"], before["circle"]),
                 "nothing changed")
    r = S["lead"].post("/api/v1/crises", dict(QUAKE, areas=square))
    expect_equal(r.status, 400, r.body)
    check("unknown field 'areas'" in r.json()["detail"], r.body)


def with_area(area, **change):
    """The quake declared over a GeoJSON area instead of its circle."""
    body = dict(QUAKE, area=area, **change)
    del body["circle"]
    return body


def area_errors_name_the_problem():
    crises = cluster.psql(DB, "SELECT count(*) FROM crisis")
    good = [[36, 37], [37, 37], [37, 38], [36, 37]]
    for area, detail in (
            ({"type": "Polygon", "coordinates": [[[36, 37], [37, 37], [37, 38], [36, 38]]]},
             "area: ring 0: not closed: the last position must repeat the first"),
            ({"type": "Polygon", "coordinates": [[[36, 37]] * 4]},
             "area: ring 0: all its positions are the same point, so it has no area"),
            ({"type": "Polygon", "coordinates": [[[36, 37], [36.5, 37.25], [37, 37.5], [36, 37]]]},
             "area: ring 0: all its positions lie on one line, so it has no area"),
            ({"type": "Polygon", "coordinates": [good, [[36.2, 37.1], [36.3, 37.1], [36.2, 37.1]]]},
             "area: ring 1: 3 positions; a ring needs 4 or more"),
            ({"type": "MultiPolygon", "coordinates": [[good], [[[36, 37], [200, 37], [37, 38], [36, 37]]]]},
             "area: polygon 1, ring 0, position 1: [200, 37] out of range"),
            ({"type": "MultiPolygon", "coordinates": [[good], [[[36, 37], [37, 37, 1, 2], [37, 38], [36, 37]]]]},
             "area: polygon 1, ring 0, position 1: not [lon, lat] or [lon, lat, altitude]"),
            ({"type": "Point", "coordinates": [36, 37]}, "area: type Point; a Polygon or MultiPolygon is needed")):
        r = S["lead"].post("/api/v1/crises", with_area(area))
        expect_equal(r.status, 400, "%r: %s" % (area, r.body))
        check(detail in r.json()["detail"], "%r: %s" % (area, r.body))
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis"), crises, "nothing declared")
    # An altitude after [lon, lat] (RFC 7946 allows one) is ignored: the area is stored flat.
    ring = [[33.0, 34.0, 120], [33.1, 34.0, 120.5], [33.1, 34.1, 0], [33.0, 34.1, -3], [33.0, 34.0, 120]]
    r = S["lead"].post("/api/v1/crises", with_area({"type": "Polygon", "coordinates": [ring]}, title="Over the sea"))
    expect_equal(r.status, 201, r.body)
    cid = r.json()["id"]
    area = S["lead"].get("/api/v1/crises/%d" % cid).json()["area"]
    expect_equal(area["type"], "MultiPolygon", area)
    check(all(len(p) == 2 for p in area["coordinates"][0][0]), area)
    expect_equal(S["lead"].patch("/api/v1/crises/%d" % cid, {"state": "closed"}).status, 200, "closed again")


def a_dry_run_shows_counts_and_previews():
    r = S["lead"].post("/api/v1/crises/%d/campaigns" % CRISIS, {"dry_run": True})
    expect_equal(r.status, 200, r.body)
    p = r.json()
    check(p["people"] > 50 and p["by_channel"].get("sms", 0) > 0, r.body)
    check(p["by_region"][0]["count"] > 0, r.body)
    check("M7.8 Pazarcık" in p["preview"]["ko"] and "{link}" in p["preview"]["ko"], p["preview"])
    expect_equal(int(cluster.psql(DB, "SELECT count(*) FROM outbox")), 0, "nothing sent")
    globals()["PREVIEW"] = p


def launching_sends_every_message_with_a_reply_link():
    r = S["staff"].post("/api/v1/crises/%d/campaigns" % CRISIS, {})
    expect_equal(r.status, 403, "staff may not launch")
    r = S["lead"].post("/api/v1/crises/%d/campaigns" % CRISIS, {"channels": ["sms"], "round": 1})
    expect_equal((r.status, r.json()["detail"]), (400, "unknown field 'round'"), "a misspelt setting is named")
    expect_equal(int(cluster.psql(DB, "SELECT count(*) FROM outbox")), 0, "and nothing is sent")
    r = S["lead"].post("/api/v1/crises/%d/campaigns" % CRISIS,
                       {"channels": ["sms", "email"], "reask_interval_s": 10, "rounds": 2})
    expect_equal(r.status, 201, r.body)
    c = r.json()
    expect_equal(c["asked"], PREVIEW["people"], "asked everyone the dry run counted")
    expect_equal(c["messages"], PREVIEW["people"] - PREVIEW["unreachable"], "one message per reachable person")
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE state = 'sent'") == str(c["messages"]),
               timeout=30, what="every message sent")
    lines = outbox_log()
    expect_equal(len(lines), c["messages"], "recorded once each")
    expect_equal(len({l["outbox_id"] for l in lines}), len(lines), "no duplicates")
    text = lines[0]["text"]
    check("/r/" in text and "{link}" not in text and "{name}" not in text, text)
    token = text.split("/r/")[1].split()[0].rstrip(")")
    check(len(token) >= 20, token)
    record_secret(token)
    # A second launch asks nobody twice.
    r = S["lead"].post("/api/v1/crises/%d/campaigns" % CRISIS, {})
    expect_equal(r.json()["asked"], 0, r.body)


def unanswered_are_asked_again_then_called():
    # Round 2 comes reask_interval_s after the last ask went out; pretend it has passed.
    def pass_the_interval():
        eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')") == "0",
                   timeout=15, what="every ask sent")
        cluster.psql(DB, "UPDATE outbox SET sent_at = sent_at - interval '1 hour' WHERE sent_at IS NOT NULL")
        cluster.psql(DB, "UPDATE checkin SET next_ask_at = now() - interval '1 second' WHERE state = 'asked'")
    pass_the_interval()
    eventually(lambda: int(cluster.psql(DB, "SELECT count(*) FROM checkin WHERE round = 2")) > 0, timeout=15,
               what="second round")
    pass_the_interval()
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM checkin WHERE state = 'asked'") == "0", timeout=15,
               what="everyone unreachable after the last round")
    # Their statuses follow the check-ins (the check-in trigger), and so do the counts.
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM checkin k JOIN person_status p USING (crisis_id, national_id) "
                                  "WHERE k.crisis_id = %d AND k.state = 'unreachable' AND p.status = 'pending'" % CRISIS),
                 "0", "no unreachable person left pending")
    unreachable = cluster.psql(DB, "SELECT count(*) FROM person_status WHERE crisis_id = %d AND status = 'unreachable'"
                               % CRISIS)
    check(int(unreachable) > 0, "statuses marked unreachable: " + unreachable)
    expect_equal(cluster.psql(DB, "SELECT coalesce(sum(n), 0) FROM status_count WHERE crisis_id = %d "
                                  "AND status = 'unreachable'" % CRISIS), unreachable, "unreachable count")
    r = S["staff"].get("/api/v1/crises/%d/call-list" % CRISIS)
    expect_equal(r.status, 200, r.body)
    items = r.json()["items"]
    check(len(items) >= PREVIEW["people"] - 5, "call list has %d" % len(items))
    with_attempts = [i for i in items if i["attempts"]]
    check(with_attempts and with_attempts[0]["contacts"], with_attempts[:1])
    check(all(a["state"] in ("sent", "queued", "sending") for a in with_attempts[0]["attempts"]), with_attempts[0])


def the_unreachable_can_be_asked_again():
    cid = int(cluster.psql(DB, "SELECT id FROM campaign WHERE crisis_id = %d ORDER BY id LIMIT 1" % CRISIS))
    unreachable = int(cluster.psql(DB, "SELECT count(*) FROM checkin WHERE crisis_id = %d AND state = 'unreachable' "
                                       "AND campaign_id = %d" % (CRISIS, cid)))
    path = "/api/v1/crises/%d/campaigns/%d/reask-unreachable" % (CRISIS, cid)
    expect_equal(S["staff"].post(path, {}).status, 403, "staff may not re-ask")
    expect_equal(S["lead"].post("/api/v1/crises/%d/campaigns/%d/reask-unreachable" % (CRISIS + 1000, cid),
                                {}).status, 404, "another crisis's campaign")
    before = len(outbox_log())
    r = S["lead"].post(path, {})
    expect_equal(r.status, 200, r.body)
    expect_equal(r.json()["reasked"], unreachable, r.body)
    # Those without any address become unreachable again at once; everyone else is asked.
    eventually(lambda: len(outbox_log()) - before >= unreachable - PREVIEW["unreachable"], timeout=20,
               what="the unreachable asked again")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'campaign.reask_unreachable' "
                                  "AND object_id = '%d'" % cid), "1", "audited")


def a_name_with_placeholders_is_written_as_is_in_the_language_recorded():
    # English only by their record, with a Korean name too; braces in the Latin name.
    n = int(cluster.psql(DB, "SELECT k.national_id FROM checkin k JOIN national n ON n.id = k.national_id "
                             "WHERE k.crisis_id = %d AND n.last_point IS NOT NULL AND EXISTS (SELECT 1 FROM contact c "
                             "WHERE c.national_id = n.id AND c.kind = 'phone') ORDER BY n.id LIMIT 1" % CRISIS))
    cluster.psql(DB, "UPDATE national SET languages = '{en}', name_ko = '김민수', "
                     "name_latin = 'KIM {crisis} {keywords} {link}' WHERE id = %d" % n)
    lat, lon = cluster.psql(DB, "SELECT ST_Y(last_point::geometry) || '|' || ST_X(last_point::geometry) "
                                "FROM national WHERE id = %d" % n).split("|")
    r = S["lead"].post("/api/v1/crises", {"kind": "other", "title": "Gas leak", "severity": 3,
                                          "circle": {"lat": float(lat), "lon": float(lon), "radius_m": 50}})
    expect_equal(r.status, 201, r.body)
    crisis = r.json()["id"]
    r = S["lead"].post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"], "reask_interval_s": 10,
                                                                "rounds": 2})
    expect_equal(r.status, 201, r.body)
    ids = lambda: cluster.psql(DB, "SELECT string_agg(id::text, ',' ORDER BY id) FROM outbox "
                                   "WHERE crisis_id = %d AND national_id = %d" % (crisis, n))
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND national_id = %d "
                                        "AND state = 'sent'" % (crisis, n)) == "1", timeout=15, what="first ask")
    cluster.psql(DB, "UPDATE outbox SET sent_at = sent_at - interval '1 hour' WHERE crisis_id = %d" % crisis)
    cluster.psql(DB, "UPDATE checkin SET next_ask_at = now() WHERE crisis_id = %d" % crisis)
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND national_id = %d "
                                        "AND state = 'sent'" % (crisis, n)) == "2", timeout=15, what="re-ask")
    want = {int(i) for i in ids().split(",")}
    texts = [l["text"] for l in outbox_log() if l["outbox_id"] in want]
    expect_equal(len(texts), 2, "launch and re-ask")
    for t in texts:
        check("KIM {crisis} {keywords} {link}" in t, "the name as written: " + t)
        check(t.count("/r/") == 1 and "Answer here: http" in t, "one reply link where the template says: " + t)
        check("Are you safe" in t or "are you safe" in t, "English: " + t)
    expect_equal(cluster.psql(DB, "SELECT string_agg(DISTINCT language, ',') FROM outbox WHERE crisis_id = %d "
                                  "AND national_id = %d" % (crisis, n)), "en", "language")
    expect_equal(cluster.psql(DB, "SELECT national_message_language('{en}', '김민수') || "
                                  "national_message_language('{}', '김민수') || national_message_language('{ko,en}', NULL)"),
                 "enkoko", "the language rule")


def closing_a_crisis_stops_its_messages():
    cluster.psql(DB, "SET ROLE safety; INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, body, "
                     "next_attempt_at) SELECT %d, id, mission_id, 'sms', '+905321112233', 'later {link}', "
                     "now() + interval '1 hour' FROM national LIMIT 3" % CRISIS)
    r = S["lead"].patch("/api/v1/crises/%d" % CRISIS, {"state": "closed"})
    expect_equal(r.status, 200, r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND state = 'queued'" % CRISIS), "0", "queue emptied")
    expect_equal(S["lead"].patch("/api/v1/crises/%d" % CRISIS, {"state": "active"}).status, 404, "closed stays closed")
    check("crisis.close" in cluster.psql(DB, "SELECT string_agg(action, ',') FROM audit_log"), "audited")


def in_background(sql):
    """Runs sql in a psql session of its own on a thread; returns the thread and what it said."""
    out = {}

    def go():
        r = cluster.pg("psql", cluster.dir, "-d", DB, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, check=False)
        out["result" if r.returncode == 0 else "error"] = (r.stdout + r.stderr).strip()
    t = threading.Thread(target=go)
    t.start()
    return t, out


def second_mission():
    """Kyiv: a second mission with five people of its own, and its lead; made once."""
    if "KYIV" in globals():
        return KYIV
    expect_equal(ctl(conninfo, "mission", "add", "UA-KYV", "--name", "Kyiv", "--country", "UA").returncode, 0,
                 "mission")
    mission = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'UA-KYV'"))
    cluster.psql(DB, """
        INSERT INTO national (mission_id, name_latin, kind, languages)
            SELECT %d, 'KYIV ' || g, 'resident', '{en}' FROM generate_series(1, 5) g;
        INSERT INTO contact (national_id, kind, value)
            SELECT id, 'phone', '+38050' || lpad(id::text, 7, '0') FROM national WHERE mission_id = %d;
        INSERT INTO location (national_id, point, source)
            SELECT id, ST_SetSRID(ST_MakePoint(30.5, 50.4), 4326)::geography, 'staff'
            FROM national WHERE mission_id = %d""" % (mission, mission, mission))
    for name, role, code in (("leadb", "mission_lead", "UA-KYV"), ("admin", "admin", None)):
        args = ["user", "add", name, "--role", role, "--password-file", pwfile] + (["--mission", code] if code else [])
        expect_equal(ctl(conninfo, *args).returncode, 0, "user " + name)
        S[name] = Session(d, name, PASSWORD)
    globals()["KYIV"] = mission
    return mission


def stored():
    """What the crisis and campaign calls store: one line to compare before and after."""
    return cluster.psql(DB, "SELECT (SELECT count(*) FROM crisis) || '/' || (SELECT count(*) FROM campaign) || '/' "
                            "|| (SELECT count(*) FROM checkin) || '/' || (SELECT count(*) FROM outbox) || '/' "
                            "|| (SELECT coalesce(max(updated_at)::text, '') FROM crisis)")


def refused(r, field, what):
    expect_equal(r.status, 400, "%s: %s" % (what, r.body))
    check(r.json()["detail"].startswith(field + ":"), "%s: the detail names %s: %s" % (what, field, r.body))


def what_cannot_be_stored_exactly_is_refused_and_nothing_stored():
    """Numbers with a fraction (4.9 is not 4), out of any range (1e30), ids that are not a list, a channel
    twice, a circle with a key nobody reads, a dry run that is not a boolean: each refused naming its
    field, nothing stored. Titles are counted in characters, as the table counts them."""
    kyiv = second_mission()
    lead, admin = S["lead"], S["admin"]
    sea = {"lat": 34.5, "lon": 31.0, "radius_m": 5000}
    r = lead.post("/api/v1/crises", {"kind": "flood", "title": "Checks", "circle": sea})
    expect_equal(r.status, 201, r.body)
    crisis = r.json()["id"]
    base = {"kind": "flood", "title": "Checks", "circle": sea}
    before = stored()
    for field, who, body in (
            ("severity", lead, dict(base, severity=4.9)),
            ("severity", lead, dict(base, severity=1e30)),
            ("severity", lead, dict(base, severity=0)),
            ("severity", lead, dict(base, severity="3")),
            ("title", lead, dict(base, title="x" * 301)),
            ("title", lead, dict(base, title="지" * 301)),
            ("title", lead, dict(base, title="")),
            ("description", lead, dict(base, description="d" * 10001)),
            ("mission_ids", lead, dict(base, mission_ids=[A + 0.5])),
            ("mission_ids", lead, dict(base, mission_ids=A)),
            ("mission_ids", lead, dict(base, mission_ids={"a": A})),
            ("mission_ids", admin, dict(base, mission_ids=[A, kyiv + 0.9])),
            ("mission_ids", admin, dict(base, mission_ids=[1e30])),
            ("mission_ids", admin, dict(base, mission_ids=kyiv)),
            ("circle", lead, dict(base, circle=dict(sea, radius_km=5))),
            ("circle", lead, dict(base, circle=dict(sea, radius_m=1e-9))),
            ("circle", lead, dict(base, circle=[34.5, 31.0, 5000]))):
        refused(who.post("/api/v1/crises", body), field, "declare %r" % {k: body[k] for k in body if k not in base
                                                                        or body[k] != base[k]})
    for field, change in (("severity", {"severity": 2.5}), ("severity", {"severity": 1e30}),
                          ("title", {"title": "지" * 301}), ("state", {"state": "open"})):
        refused(lead.patch("/api/v1/crises/%d" % crisis, change), field, "change %r" % change)
    path = "/api/v1/crises/%d/campaigns" % crisis
    for field, who, body in (
            ("rounds", lead, {"rounds": 1.9}),
            ("rounds", lead, {"rounds": 1e30}),
            ("rounds", lead, {"rounds": 11}),
            ("reask_interval_s", lead, {"reask_interval_s": 10.9}),
            ("reask_interval_s", lead, {"reask_interval_s": -1e30}),
            ("channels", lead, {"channels": ["sms", "sms"]}),
            ("channels", lead, {"channels": ["email", "email"]}),
            ("dry_run", lead, {"dry_run": 1}),
            ("dry_run", lead, {"dry_run": "true"}),
            ("dry_run", lead, {"dry_run": "yes"}),
            ("dry_run", lead, {"dry_run": None}),
            ("templates", lead, {"templates": {}}),
            ("templates", lead, {"templates": {"ko": ""}}),
            ("templates", lead, {"templates": None}),
            ("mission_id", lead, {"mission_id": 1.5}),
            ("mission_id", admin, {"mission_id": A + 0.9, "dry_run": True}),
            ("mission_id", admin, {"mission_id": A + 0.9}),
            ("mission_id", admin, {"mission_id": 1e30})):
        refused(who.post(path, body), field, "launch %r" % body)
    expect_equal(stored(), before, "nothing stored (crises/campaigns/check-ins/messages/last change)")
    # A title as long as the table allows, in Korean (three bytes a character), is taken whole.
    title = "지" * 300
    r = lead.post("/api/v1/crises", dict(base, title=title, severity=4, description="설" * 4000))
    expect_equal(r.status, 201, r.body)
    korean = r.json()["id"]
    expect_equal(cluster.psql(DB, "SELECT length(title) || '/' || severity || '/' || length(description) FROM crisis "
                                  "WHERE id = %d" % korean), "300/4/4000", "stored whole")
    r = lead.patch("/api/v1/crises/%d" % crisis, {"title": "진" * 300, "severity": 5})
    expect_equal(r.status, 200, r.body)
    for c in (crisis, korean):
        expect_equal(lead.patch("/api/v1/crises/%d" % c, {"state": "closed"}).status, 200, "closed")


def empty_templates_are_refused_and_an_old_campaign_without_text_stops_no_reasks():
    """A campaign stored without any text (the API took "templates": {} once) made every join into
    it fail, and since safetyd's maintenance run was one statement, re-asks stopped for every crisis
    of every mission. Now the API refuses it, such a campaign asks in the launch's own words, and a
    step of the run that fails (here made to fail on purpose) stops no other."""
    second_mission()
    r = S["lead"].post("/api/v1/crises", {"kind": "flood", "title": "Silent", "circle": {"lat": 34.5, "lon": 31.0,
                                                                                      "radius_m": 5000}})
    expect_equal(r.status, 201, r.body)
    silent = r.json()["id"]
    for templates in ({}, {"ko": ""}, {"en": "   "}):
        refused(S["lead"].post("/api/v1/crises/%d/campaigns" % silent, {"templates": templates}), "templates",
                "templates %r" % templates)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM campaign WHERE crisis_id = %d" % silent), "0", "none stored")
    # Kyiv's own check-in, re-asked every 10 s.
    r = S["leadb"].post("/api/v1/crises", {"kind": "war", "title": "Kyiv", "circle": {"lat": 50.4, "lon": 30.5,
                                                                                   "radius_m": 20000}})
    expect_equal(r.status, 201, r.body)
    kyiv_crisis = r.json()["id"]
    r = S["leadb"].post("/api/v1/crises/%d/campaigns" % kyiv_crisis, {"channels": ["sms"], "rounds": 4,
                                                                      "reask_interval_s": 10})
    expect_equal((r.status, r.json().get("messages")), (201, 5), r.body)

    def reask_kyiv(round_):
        eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND state IN "
                                            "('queued', 'sending')" % kyiv_crisis) == "0", timeout=15, what="sent")
        cluster.psql(DB, "UPDATE outbox SET sent_at = sent_at - interval '1 hour' WHERE crisis_id = %d; "
                         "UPDATE checkin SET next_ask_at = now() WHERE crisis_id = %d" % (kyiv_crisis, kyiv_crisis))
        eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM checkin WHERE crisis_id = %d AND round = %d"
                                            % (kyiv_crisis, round_)) == "5", timeout=15,
                   what="Kyiv's round %d" % round_)

    # The campaign as a database from before kept it, and one of Ankara's people come into its area.
    cluster.psql(DB, "INSERT INTO campaign (crisis_id, mission_id, templates, channels, reask_interval_s, rounds) "
                     "VALUES (%d, %d, '{}', '{sms}', 10, 2)" % (silent, A))
    movers = [int(x) for x in cluster.psql(DB, "SELECT n.id FROM national n WHERE n.mission_id = %d AND n.deleted_at "
                                               "IS NULL AND n.kind = 'resident' AND EXISTS (SELECT 1 FROM contact c WHERE c.national_id = n.id "
                                               "AND c.kind = 'phone') ORDER BY n.id DESC LIMIT 2" % A).split()]

    def move(n):
        cluster.psql(DB, "INSERT INTO location (national_id, point, source) VALUES (%d, "
                         "ST_SetSRID(ST_MakePoint(31.0, 34.5), 4326)::geography, 'staff'); "
                         "INSERT INTO join_pending (mission_id, national_id) VALUES (%d, %d)" % (n, A, n))
    move(movers[0])
    reask_kyiv(2)
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND national_id = %d AND "
                                        "state = 'sent'" % (silent, movers[0])) == "1", timeout=15,
               what="the newcomer asked")
    oid = int(cluster.psql(DB, "SELECT id FROM outbox WHERE crisis_id = %d" % silent))
    text = [l["text"] for l in outbox_log() if l["outbox_id"] == oid]
    expect_equal(len(text), 1, "sent once")
    check("Silent" in text[0] and "/r/" in text[0], "the launch's own words, with a reply link: " + text[0])
    # A step that fails for any other reason: here every message of the silent crisis is refused.
    cluster.psql(DB, "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                     "RAISE EXCEPTION 'test: refused'; END $$; "
                     "CREATE TRIGGER a_test_refuse BEFORE INSERT ON outbox FOR EACH ROW "
                     "WHEN (NEW.crisis_id = %d) EXECUTE FUNCTION test_refuse()" % silent)
    try:
        move(movers[1])
        # The newcomer's first re-ask is due too: the re-asks of every crisis fail together.
        cluster.psql(DB, "UPDATE outbox SET sent_at = sent_at - interval '1 hour' WHERE crisis_id = %d; "
                         "UPDATE checkin SET next_ask_at = now() WHERE crisis_id = %d" % (silent, silent))
        reask_kyiv(3)
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM join_pending WHERE national_id = %d" % movers[1]), "1",
                     "the join that failed stays queued")
        log = d.log()
        check("joining the people queued" in log and "test: refused" in log, "the failed join is logged")
        check("re-asks of crisis %d" % silent in log, "the failed re-ask is logged")
    finally:
        cluster.psql(DB, "DROP TRIGGER a_test_refuse ON outbox; DROP FUNCTION test_refuse()")
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM checkin WHERE crisis_id = %d" % silent) == "2",
               timeout=15, what="the second newcomer asked once the failure is gone")
    for c, who in ((silent, "lead"), (kyiv_crisis, "leadb")):
        expect_equal(S[who].patch("/api/v1/crises/%d" % c, {"state": "closed"}).status, 200, "closed")


def a_launch_racing_a_close_is_refused():
    """A launch that read the crisis as active while a close was being committed went on after it: a
    closed crisis with a running campaign and people asked, and 201 to the lead. The launch now waits
    for the close and is refused; so is a dry run of a closed crisis."""
    r = S["lead"].post("/api/v1/crises", dict(QUAKE, title="Race", circle={"lat": 37.226, "lon": 37.014,
                                                                           "radius_m": 60000}))
    expect_equal(r.status, 201, r.body)
    crisis = r.json()["id"]
    check(r.json()["missions"][0]["affected"] > 0, r.body)
    t, out = in_background("BEGIN; SELECT crisis_update(%d, NULL, NULL, NULL, NULL, 'closed', 'other', 'admin', "
                           "NULL, ''); SELECT pg_sleep(2); COMMIT" % crisis)
    time.sleep(0.5)
    r = S["lead"].post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"], "rounds": 2,
                                                                "reask_interval_s": 10})
    t.join()
    check("error" not in out, out)
    expect_equal(r.status, 404, r.body)
    expect_equal(cluster.psql(DB, "SELECT state || '/' || (SELECT count(*) FROM campaign WHERE crisis_id = c.id) "
                                  "|| '/' || (SELECT count(*) FROM checkin WHERE crisis_id = c.id) || '/' || "
                                  "(SELECT count(*) FROM outbox WHERE crisis_id = c.id) FROM crisis c WHERE id = %d"
                                  % crisis), "closed/0/0/0", "state/campaigns/check-ins/messages")
    r = S["lead"].post("/api/v1/crises/%d/campaigns" % crisis, {"dry_run": True})
    expect_equal(r.status, 404, "a dry run of a closed crisis: %s" % r.body)
    # The other way round: a close sent while a launch is being committed waits for it, then ends it.
    r = S["lead"].post("/api/v1/crises", dict(QUAKE, title="Race 2", circle={"lat": 37.226, "lon": 37.014,
                                                                             "radius_m": 60000}))
    crisis = r.json()["id"]
    t, out = in_background("BEGIN; SELECT campaign_start(%d, %d, '{\"en\": \"Safe? {link}\"}', '{sms}', 10, 2, "
                           "'lead', 'mission_lead', ''); SELECT pg_sleep(2); COMMIT" % (crisis, A))
    time.sleep(0.5)
    r = S["lead"].patch("/api/v1/crises/%d" % crisis, {"state": "closed"})
    t.join()
    check("error" not in out, out)
    expect_equal(r.status, 200, r.body)
    expect_equal(cluster.psql(DB, "SELECT (SELECT string_agg(state, ',') FROM campaign WHERE crisis_id = %d) || '/' "
                                  "|| (SELECT count(*) FROM checkin WHERE crisis_id = %d AND state = 'asked') || '/' "
                                  "|| (SELECT count(*) FROM outbox WHERE crisis_id = %d AND state = 'queued')"
                                  % (crisis, crisis, crisis)), "done/0/0", "campaigns/asked/messages queued")


def kill_9_mid_campaign_loses_nothing_and_duplicates_at_most_a_batch():
    global d
    r = S["lead"].post("/api/v1/crises", dict(QUAKE, title="Aftershock", circle={"lat": 37.5, "lon": 36.9, "radius_m": 400000}))
    cid = r.json()["id"]
    # A slow daemon: 20 SMS per second, so the kill lands mid-campaign.
    d.stop()
    slow = {"auth": SECTIONS["auth"], "channels": dict(SECTIONS["channels"], sms_rate="20", dispatch_batch="50")}
    d = Daemon(conninfo, sections=slow).start()
    S["lead"] = Session(d, "lead", PASSWORD)
    before = len(outbox_log())
    r = S["lead"].post("/api/v1/crises/%d/campaigns" % cid, {"channels": ["sms"], "rounds": 1})
    queued = r.json()["messages"]
    check(queued > 100, r.body)
    eventually(lambda: int(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND state = 'sent'" % cid)) > 20,
               timeout=20, what="some sent")
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait()
    log_path = os.path.join(d.workdir, "outbox-log.jsonl")
    with open(log_path) as f:
        saved = f.read()
    d.proc = None
    d2 = Daemon(conninfo, sections=dict(slow, channels=dict(slow["channels"], sms_rate="0")))
    d2.workdir_log = log_path
    d2.start()
    # The new process records to its own state directory; count both.
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND state <> 'sent'" % cid) == "0",
               timeout=40, what="every message sent after the restart")
    with open(os.path.join(d2.workdir, "outbox-log.jsonl")) as f:
        after = f.read()
    ids = [json.loads(l)["outbox_id"] for l in (saved + after).splitlines() if l.strip()]
    mine = [i for i in ids if int(cluster.psql(DB, "SELECT crisis_id FROM outbox WHERE id = %d" % i)) == cid] if len(ids) < 2000 else ids
    expect_equal(len(set(mine)), queued, "every queued message went out")
    dups = len(mine) - len(set(mine))
    print("  queued %d, sent %d times in all, duplicates %d (batch 50)" % (queued, len(mine), dups))
    check(dups <= 50, "duplicates %d exceed one batch" % dups)
    d2.stop()
    d = Daemon(conninfo, sections=SECTIONS)


try:
    run([
        declaring_a_crisis_counts_the_people_inside,
        crisis_text_the_feeds_cannot_carry_is_refused,
        a_change_of_what_cannot_change_is_refused,
        area_errors_name_the_problem,
        a_dry_run_shows_counts_and_previews,
        launching_sends_every_message_with_a_reply_link,
        unanswered_are_asked_again_then_called,
        the_unreachable_can_be_asked_again,
        a_name_with_placeholders_is_written_as_is_in_the_language_recorded,
        closing_a_crisis_stops_its_messages,
        what_cannot_be_stored_exactly_is_refused_and_nothing_stored,
        empty_templates_are_refused_and_an_old_campaign_without_text_stops_no_reasks,
        a_launch_racing_a_close_is_refused,
        kill_9_mid_campaign_loses_nothing_and_duplicates_at_most_a_batch,
    ])
finally:
    d.stop()
    cluster.dropdb(DB)
