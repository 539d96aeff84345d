"""Work lists: search by name, the unassigned and one's own, sorting, and a
person given to a colleague of the same mission (never to another
mission's staff), shown in the lists and the call list, audited."""

import os
import subprocess
import time
import urllib.parse

from harness import (PG_SH, Cluster, Daemon, Session, check, counts_hold, ctl, demo_check_in, eventually, expect_equal,
                     record_secret, run)

cluster = Cluster.shared()
DB = "t_worklists"
PASSWORD = record_secret("Iskenderun-Calls-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "200", "--seed", "11").returncode, 0, "demo")
expect_equal(ctl(conninfo, "mission", "add", "UA-KYV", "--name", "Embassy in Kyiv", "--country", "UA").returncode, 0, "UA")
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10", "public_rate_per_second": "1000",
                                        "public_burst": "1000"},
                               "channels": {"dispatch_interval_ms": "50"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
for name, role, mission in (("lead", "mission_lead", "TR-ANK"), ("aylin", "mission_staff", "TR-ANK"),
                            ("viewer", "viewer", "TR-ANK"), ("olena", "mission_staff", "UA-KYV")):
    expect_equal(ctl(conninfo, "user", "add", name, "--role", role, "--mission", mission, "--password-file",
                     pwfile).returncode, 0, name)
lead, aylin, viewer, olena = (Session(d, n, PASSWORD) for n in ("lead", "aylin", "viewer", "olena"))
crisis, LINKS = demo_check_in(lead, cluster, DB, d.workdir)
PEOPLE = sorted(LINKS)
for nid in PEOPLE[:6]:
    r = d.request("POST", "/r/" + LINKS[nid], body=urllib.parse.urlencode({"status": "needs_help"}),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_equal(r.status, 200, "answer")
IDS = {u.split("|")[0]: int(u.split("|")[1]) for u in cluster.psql(DB, "SELECT username, id FROM staff_user").split()}


def people(session, **q):
    r = session.get("/api/v1/crises/%d/people?%s" % (crisis, urllib.parse.urlencode(dict(status="needs_help", **q))))
    expect_equal(r.status, 200, r.body)
    return r.json()["items"]


def search_by_name_in_either_script():
    target = PEOPLE[0]
    ko, latin = cluster.psql(DB, "SELECT coalesce(name_ko, ''), coalesce(name_latin, '') FROM national WHERE id = %d"
                             % target).split("|")
    for q in filter(None, (ko, latin.lower(), latin.split(" ")[-1] if latin else "")):
        found = [p["national_id"] for p in people(lead, q=q)]
        check(target in found, "found by %r" % q)
        check(all(p in PEOPLE[:6] for p in found), "only people of the list")
    expect_equal(people(lead, q="zzzqqq"), [], "no one by a name nobody has")
    expect_equal(lead.get("/api/v1/crises/%d/people?q=%%21%%21" % crisis).status, 400, "not a name")


def staff_assign_colleagues_of_their_mission_only():
    staff = {u["name"]: u["id"] for u in lead.get("/api/v1/crises/%d/staff" % crisis).json()}
    expect_equal(set(staff), {"lead", "aylin"}, "the mission's lead and staff; no viewer, no other mission")
    nid = PEOPLE[1]
    r = lead.request("PUT", "/api/v1/crises/%d/people/%d/assignee" % (crisis, nid), {"user_id": IDS["aylin"]})
    expect_equal(r.status, 200, r.body)
    expect_equal(r.json()["assigned_to"]["name"], "aylin", "assigned")
    mine = [p["national_id"] for p in people(aylin, assigned="me")]
    expect_equal(mine, [nid], "aylin's list")
    check(nid not in [p["national_id"] for p in people(lead, assigned="none")], "no longer unassigned")
    expect_equal(len(people(lead, assigned="none")), 5, "the five others are")
    r = lead.request("PUT", "/api/v1/crises/%d/people/%d/assignee" % (crisis, nid), {"user_id": IDS["olena"]})
    expect_equal(r.status, 400, "another mission's staff cannot take them")
    check("mission" in r.json()["detail"], r.body)
    r = lead.request("PUT", "/api/v1/crises/%d/people/%d/assignee" % (crisis, nid), {"user_id": IDS["viewer"]})
    expect_equal(r.status, 400, "nor a viewer")
    expect_equal(viewer.request("PUT", "/api/v1/crises/%d/people/%d/assignee" % (crisis, nid),
                                {"user_id": IDS["aylin"]}).status, 403, "a viewer cannot assign")
    expect_equal(olena.request("PUT", "/api/v1/crises/%d/people/%d/assignee" % (crisis, nid),
                               {"user_id": IDS["olena"]}).status, 404, "nor can another mission see the person")
    expect_equal(lead.request("PUT", "/api/v1/crises/%d/people/%d/assignee" % (crisis, nid), {"user_id": "x"}).status,
                 400, "a bad id")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'person.assign'"), "1", "audited")
    r = aylin.request("PUT", "/api/v1/crises/%d/people/%d/assignee" % (crisis, nid), {"user_id": None})
    expect_equal((r.status, r.json()["assigned_to"]), (200, None), "freed")
    expect_equal(people(aylin, assigned="me"), [], "no longer aylin's")


def sorting_and_the_call_list_show_the_assignee():
    by_name = [p["name_latin"] or p["name_ko"] for p in people(lead, sort="name")]
    expect_equal(by_name, sorted(by_name), "by name")
    expect_equal(lead.get("/api/v1/crises/%d/people?sort=random" % crisis).status, 400, "an unknown order")
    unreachable = cluster.psql(DB, "SELECT national_id FROM checkin WHERE crisis_id = %d ORDER BY national_id LIMIT 1"
                               % crisis)
    cluster.psql(DB, "UPDATE checkin SET state = 'unreachable' WHERE crisis_id = %d AND national_id = %s"
                 % (crisis, unreachable))
    lead.request("PUT", "/api/v1/crises/%d/people/%s/assignee" % (crisis, unreachable), {"user_id": IDS["aylin"]})
    calls = {p["national_id"]: p for p in lead.get("/api/v1/crises/%d/call-list" % crisis).json()["items"]}
    expect_equal(calls[int(unreachable)]["assigned_to"]["name"], "aylin", "on the call list")


def all_pages(session, limit, **q):
    """Every page of a list, following next; the pages as they came."""
    pages, after = [], None
    while True:
        query = dict(q, limit=limit, **({"after": after} if after else {}))
        r = session.get("/api/v1/crises/%d/people?%s" % (crisis, urllib.parse.urlencode(query)))
        expect_equal(r.status, 200, r.body)
        pages.append([p["national_id"] for p in r.json()["items"]])
        after = r.json()["next"]
        check(len(pages) < 500, "pages end")
        if after is None:
            return pages


def lists_page_in_their_own_order():
    # The most urgent person has the highest id: page one must still start with them.
    hurt = PEOPLE[-1]
    r = d.request("POST", "/r/" + LINKS[hurt], body=urllib.parse.urlencode({"status": "injured"}),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_equal(r.status, 200, "answer")
    eventually(lambda: cluster.psql(DB, "SELECT status FROM person_status WHERE crisis_id = %d AND national_id = %d"
                                    % (crisis, hurt)) == "injured", what="injured")
    first = lead.get("/api/v1/crises/%d/people?limit=2&sort=urgency" % crisis).json()["items"]
    expect_equal(first[0]["national_id"], hurt, "the injured first, whatever their id")
    expect_equal([p["status"] for p in first], ["injured", "needs_help"], "then who needs help")
    for sort in ("urgency", "answered", "name"):
        whole = [p["national_id"] for p in lead.get("/api/v1/crises/%d/people?limit=500&sort=%s"
                                                     % (crisis, sort)).json()["items"]]
        expect_equal(len(whole), int(cluster.psql(DB, "SELECT count(*) FROM person_status WHERE crisis_id = %d"
                                                  % crisis)), "one page of everyone")
        check(len(whole) > 3 * 7, "pages enough")
        pages = all_pages(lead, 7, sort=sort)
        expect_equal(sum(pages, []), whole, "%s: the pages in order, everyone once" % sort)
        check(all(len(p) == 7 for p in pages[:-1]), "full pages")
    by_name = all_pages(lead, 5, sort="name", status="needs_help")
    expect_equal(len(sum(by_name, [])), 6, "a filtered list pages too")
    for bad in ("after=12", "after=x.1", "after=12.x&sort=urgency", "after=.3", "limit=0", "limit=501"):
        expect_equal(lead.get("/api/v1/crises/%d/people?%s" % (crisis, bad)).status, 400, bad)


def live_counts():
    """The counts as the dashboard reads them, and a recount of the people not deleted."""
    kept = lead.get("/api/v1/crises/%d/status" % crisis).json()["counts"]
    actual = dict(row.split("|") for row in cluster.psql(
        DB, "SELECT p.status, count(*) FROM person_status p JOIN national n ON n.id = p.national_id "
            "WHERE p.crisis_id = %d AND n.deleted_at IS NULL GROUP BY 1" % crisis).splitlines())
    expect_equal(kept, {k: int(v) for k, v in actual.items()}, "counts equal a recount of who is not deleted")
    return kept


def a_deleted_person_leaves_the_crisis_and_a_restored_one_comes_back():
    helped, waiting, control = PEOPLE[10], PEOPLE[11], PEOPLE[12]
    r = lead.post("/api/v1/crises/%d/responses" % crisis, {"national_id": helped, "status": "needs_help"})
    expect_equal(r.status, 201, r.body)
    eventually(lambda: cluster.psql(DB, "SELECT status FROM person_status WHERE crisis_id = %d AND national_id = %d"
                                    % (crisis, helped)) == "needs_help", what="recorded")
    before = live_counts()
    expect_equal(cluster.psql(DB, "SELECT string_agg(status, ',' ORDER BY national_id) FROM person_status "
                                  "WHERE crisis_id = %d AND national_id IN (%d, %d)" % (crisis, waiting, control)),
                 "pending,pending", "two still waiting")
    # A message still queued for the person about to go.
    cluster.psql(DB, "SET ROLE safety; INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, "
                     "recipient, body, next_attempt_at) SELECT crisis_id, campaign_id, national_id, mission_id, 'sms', "
                     "'+905320000000', 'again', now() + interval '1 hour' FROM checkin "
                     "WHERE crisis_id = %d AND national_id = %d" % (crisis, waiting))
    for nid in (helped, waiting):
        expect_equal(lead.delete("/api/v1/nationals/%d" % nid).status, 200, "deleted")
    after = live_counts()
    expect_equal(after.get("needs_help", 0), before["needs_help"] - 1, "one fewer needs help")
    expect_equal(after["pending"], before["pending"] - 1, "one fewer pending")
    check(helped not in [p["national_id"] for p in people(lead)], "gone from the needs_help list")
    check(helped not in sum(all_pages(lead, 500), []), "and from everyone")
    points = [p[0] for p in lead.get("/api/v1/crises/%d/points" % crisis).json()["points"]]
    check(helped not in points and waiting not in points and control in points, "gone from the map")
    expect_equal(lead.get("/api/v1/crises/%d/people/%d" % (crisis, helped)).status, 404, "no page of theirs")
    expect_equal(cluster.psql(DB, "SELECT string_agg(state || ':' || coalesce(last_error, ''), ',') FROM outbox "
                                  "WHERE crisis_id = %d AND national_id = %d AND state IN ('queued', 'failed')"
                                  % (crisis, waiting)), "failed:deleted", "the queued message is not sent")
    # Both waiting people are due a second ask: only the one not deleted gets it.
    cluster.psql(DB, "UPDATE outbox SET sent_at = now() - interval '1 day' WHERE crisis_id = %d; "
                     "UPDATE checkin SET next_ask_at = now() - interval '1 minute' WHERE crisis_id = %d "
                     "AND national_id IN (%d, %d)" % (crisis, crisis, waiting, control))
    cluster.psql(DB, "SET ROLE safety; SELECT * FROM campaign_escalate()")
    expect_equal(cluster.psql(DB, "SELECT string_agg(national_id || ':' || round, ',' ORDER BY national_id) "
                                  "FROM checkin WHERE crisis_id = %d AND national_id IN (%d, %d)"
                                  % (crisis, waiting, control)),
                 "%d:1,%d:2" % (waiting, control), "no second ask of the deleted")
    check(waiting not in [p["national_id"] for p in lead.get("/api/v1/crises/%d/call-list" % crisis).json()["items"]],
          "not on the call list")
    # Back as they were: in the counts, the lists and the campaign.
    for nid in (helped, waiting):
        expect_equal(lead.post("/api/v1/nationals/%d/restore" % nid).status, 200, "restored")
    expect_equal(live_counts().get("needs_help"), before["needs_help"], "needs help again")
    check(helped in [p["national_id"] for p in people(lead)], "back in the list")
    expect_equal(lead.get("/api/v1/crises/%d/people/%d" % (crisis, helped)).json()["status"], "needs_help", "page")
    expect_equal(cluster.psql(DB, "SELECT state FROM checkin WHERE crisis_id = %d AND national_id = %d"
                                  % (crisis, waiting)), "asked", "asked again")
    counts_hold(cluster, DB, crisis)


def a_staff_entry_stored_while_the_audit_waits_is_audited_not_refused():
    """With the audit chain held past the query timeout, a staff entry is either stored and
    audited and answered 201, never stored unaudited and answered "try again"."""
    d2 = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"},
                                    "database": {"query_timeout_ms": "1000"}}).start()
    try:
        s = Session(d2, "lead", PASSWORD)
        nid = PEOPLE[7]
        counts = ("SELECT (SELECT count(*) FROM response WHERE national_id = %d AND channel = 'staff') || '|' || "
                  "(SELECT count(*) FROM audit_log WHERE action = 'response.staff' AND object_id = '%d')" % (nid, nid))
        before = [int(x) for x in cluster.psql(DB, counts).split("|")]
        holder = subprocess.Popen([PG_SH, "psql", cluster.dir, "-d", DB, "-At", "-c",
                                   "SELECT pg_advisory_lock(7311520011); SELECT pg_sleep(3);"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            r = s.post("/api/v1/crises/%d/responses" % crisis, {"national_id": nid, "status": "needs_help"})
        finally:
            holder.wait()
        after = [int(x) for x in cluster.psql(DB, counts).split("|")]
        expect_equal((after[0] - before[0], after[1] - before[1]), (1, 1), "stored and audited")
        expect_equal(r.status, 201, r.body)
        check(r.json()["stored"] and r.json()["audit_id"], r.body)
    finally:
        d2.stop()


def a_persons_address_and_contacts_are_for_those_who_call():
    """A person's page gives the home address, like the numbers, only to the roles that
    call people (admin, lead, staff), never to a viewer or HQ."""
    nid = PEOPLE[0]
    cluster.psql(DB, "UPDATE national SET address = 'Kurtulus Cd. 7, Iskenderun' WHERE id = %d" % nid)
    expect_equal(ctl(conninfo, "user", "add", "hq-reader", "--role", "hq", "--password-file", pwfile).returncode, 0,
                 "hq")
    hq = Session(d, "hq-reader", PASSWORD)
    for who, s, sees in (("lead", lead, True), ("staff", aylin, True), ("viewer", viewer, False), ("hq", hq, False)):
        r = s.get("/api/v1/crises/%d/people/%d" % (crisis, nid))
        expect_equal(r.status, 200, who + ": " + r.body)
        page = r.json()
        if sees:
            expect_equal(page["address"], "Kurtulus Cd. 7, Iskenderun", who)
            check(len(page["contacts"]) > 0, who + ": " + r.body)
        else:
            check(page["address"] is None and page["contacts"] == [], who + ": " + r.body)


def an_answers_place_is_on_the_trail_once_and_filters_are_checked():
    """An answer's place becomes the person's location too: the trail shows it once. A list
    filter that names no status or region is refused with its name, not answered by the
    database."""
    nid = PEOPLE[7]
    r = d.request("POST", "/r/" + LINKS[nid], body=urllib.parse.urlencode(
        {"status": "safe", "lat": "36.5871", "lon": "36.1735"}),
        headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_equal(r.status, 200, "answer with a place")
    # The maintenance run writes queued places (whichever process holds its lock).
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM maintenance_run(); SELECT last_point_source FROM national "
                                        "WHERE id = %d" % nid).split()[-1] == "reply",
               timeout=20, what="the answer's place written to the registry")
    track = lead.get("/api/v1/crises/%d/people/%d" % (crisis, nid)).json()["track"]
    at_place = [t for t in track if abs(t["lat"] - 36.5871) < 1e-4 and abs(t["lon"] - 36.1735) < 1e-4]
    expect_equal([t["source"] for t in at_place], ["reply"], "the answer's place once on the trail: %r" % track)
    # An answer staff relay with a place: once, as staff's.
    relayed = PEOPLE[8]
    r = lead.post("/api/v1/crises/%d/responses" % crisis, {"national_id": relayed, "status": "safe",
                                                           "message": "called: at her sister's", "lat": 36.7, "lon": 36.3})
    expect_equal(r.status, 201, r.body)
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM maintenance_run(); SELECT last_point_source FROM national "
                                        "WHERE id = %d" % relayed).split()[-1] == "staff",
               timeout=20, what="the relayed answer's place written to the registry")
    track = lead.get("/api/v1/crises/%d/people/%d" % (crisis, relayed)).json()["track"]
    expect_equal([t["source"] for t in track if abs(t["lat"] - 36.7) < 1e-4], ["staff"], "once, as staff's: %r" % track)
    for q, name in (("status=bogus", "status:"), ("region=12abc", "region:"),
                    ("region=99999999999999999999", "region:"), ("region=0", "region:")):
        r = lead.get("/api/v1/crises/%d/people?%s" % (crisis, q))
        expect_equal(r.status, 400, q + ": " + r.body)
        check(r.json()["detail"].startswith(name), q + ": " + r.body)
    expect_equal(lead.get("/api/v1/crises/%d/people?status=safe" % crisis).status, 200, "a status named")


def lists_of_a_crisis_not_there_or_not_ones_own_are_404():
    """The people, map points, call list and staff of a crisis that does not exist, or
    that the caller's mission is not part of, are 404, not an empty list."""
    for path in ("people", "points", "call-list", "staff"):
        expect_equal(lead.get("/api/v1/crises/%d/%s" % (crisis, path)).status, 200, "own crisis " + path)
        for who, c in ((lead, 999999), (olena, crisis)):
            r = who.get("/api/v1/crises/%d/%s" % (c, path))
            expect_equal(r.status, 404, "%s of crisis %d" % (path, c))
            check("no such crisis" in r.json()["detail"], r.body)


def a_staff_entry_stored_when_the_server_stops_is_answered_stored():
    """Stopping while the audit row still waits, the stored entry is answered 201 (never
    "try again", which would have it entered twice) and logged for the operator."""
    import signal
    import threading
    d2 = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"},
                                    "server": {"shutdown_timeout": "10"},
                                    "database": {"query_timeout_ms": "1000"}}).start()
    s = Session(d2, "lead", PASSWORD)
    nid = PEOPLE[8]
    before = cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d AND channel = 'staff'" % nid)
    holder = subprocess.Popen([PG_SH, "psql", cluster.dir, "-d", DB, "-At", "-c",
                               "SELECT pg_advisory_lock(7311520011); SELECT pg_sleep(5);"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result = {}
    try:
        time.sleep(0.5)
        t = threading.Thread(target=lambda: result.update(r=s.post("/api/v1/crises/%d/responses" % crisis,
                                                                    {"national_id": nid, "status": "injured"})))
        t.start()
        time.sleep(1.5)
        d2.signal(signal.SIGTERM)
        t.join(15)
    finally:
        holder.wait()
        d2.stop()
    r = result["r"]
    expect_equal(r.status, 201, r.body)
    check(r.json()["stored"] and r.json()["audit_id"] is None and r.json()["status"] == "injured", r.body)
    expect_equal(int(cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d AND channel = 'staff'"
                                  % nid)) - int(before), 1, "stored once")
    check("staff_entry_unaudited" in d2.log(), "the operator is told")


if __name__ == "__main__":
    try:
        run([search_by_name_in_either_script, staff_assign_colleagues_of_their_mission_only,
             sorting_and_the_call_list_show_the_assignee, lists_page_in_their_own_order,
             a_deleted_person_leaves_the_crisis_and_a_restored_one_comes_back,
             a_staff_entry_stored_while_the_audit_waits_is_audited_not_refused,
             lists_of_a_crisis_not_there_or_not_ones_own_are_404,
             an_answers_place_is_on_the_trail_once_and_filters_are_checked,
             a_persons_address_and_contacts_are_for_those_who_call,
             a_staff_entry_stored_when_the_server_stops_is_answered_stored])
    finally:
        d.stop()
        cluster.dropdb(DB)
