"""Work lists: search by name, the unassigned and one's own, sorting, and a
person given to a colleague of the same mission (never to another
mission's staff), shown in the lists and the call list, audited."""

import os
import urllib.parse

from harness import Cluster, Daemon, Session, check, ctl, demo_check_in, expect_equal, record_secret, run

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


if __name__ == "__main__":
    try:
        run([search_by_name_in_either_script, staff_assign_colleagues_of_their_mission_only,
             sorting_and_the_call_list_show_the_assignee])
    finally:
        d.stop()
        cluster.dropdb(DB)
