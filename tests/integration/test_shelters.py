"""Shelters kept up to date from the dashboard's API: listed with their load,
added, capacity and occupancy changed, closed; every change audited; bad
values named; viewers read only; another mission's shelters out of reach;
the regions with how many nationals live in each."""

import os

from harness import Cluster, Daemon, Session, check, ctl, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_shelters"
PASSWORD = record_secret("Hatay-Shelters-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "300", "--seed", "4").returncode, 0, "demo")
expect_equal(ctl(conninfo, "mission", "add", "UA-KYV", "--name", "Embassy in Kyiv", "--country", "UA").returncode, 0, "UA")
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
for name, role, mission in (("lead", "mission_lead", "TR-ANK"), ("viewer", "viewer", "TR-ANK"),
                            ("olena", "mission_staff", "UA-KYV")):
    expect_equal(ctl(conninfo, "user", "add", name, "--role", role, "--mission", mission, "--password-file",
                     pwfile).returncode, 0, name)
expect_equal(ctl(conninfo, "user", "add", "hq", "--role", "hq", "--password-file", pwfile).returncode, 0, "hq")
lead, viewer, olena, hq = (Session(d, n, PASSWORD) for n in ("lead", "viewer", "olena", "hq"))
S = {}


def shelters_are_listed_with_their_load():
    items = lead.get("/api/v1/shelters").json()["items"]
    expect_equal(len(items), int(cluster.psql(DB, "SELECT count(*) FROM shelter")), "every shelter of the mission")
    check(all({"capacity", "occupancy", "open", "lat", "lon"} <= set(s) for s in items), "with load and place")
    expect_equal(olena.get("/api/v1/shelters").json()["items"], [], "another mission sees none")
    expect_equal(len(hq.get("/api/v1/shelters").json()["items"]), len(items), "HQ sees them")
    S["one"] = items[0]
    # Pages follow each other by cursor: every shelter once, the last page says so.
    seen, after = [], None
    while True:
        r = lead.get("/api/v1/shelters?limit=2" + ("&after=%s" % after if after else ""))
        expect_equal(r.status, 200, r.body)
        page = r.json()
        check(len(page["items"]) <= 2, "at most the limit")
        seen += [s["id"] for s in page["items"]]
        after = page["next"]
        if after is None:
            break
    expect_equal(sorted(seen), sorted(s["id"] for s in items), "paged: every shelter once")
    for q in ("limit=0", "limit=5001", "limit=x", "after=-1", "after=1;2"):
        expect_equal(lead.get("/api/v1/shelters?" + q).status, 400, q)


def a_shelter_is_added_and_changed_and_audited():
    bad = [({"kind": "bunker", "name": "x", "lat": 36.2, "lon": 36.1}, "kind"),
           ({"kind": "shelter", "name": "", "lat": 36.2, "lon": 36.1}, "name"),
           ({"kind": "shelter", "name": "x", "lat": 96.2, "lon": 36.1}, "lat"),
           ({"kind": "shelter", "name": "x", "lat": 36.2, "lon": 36.1, "capacity": -4}, "capacity"),
           ({"kind": "shelter", "name": "x\u0001y", "lat": 36.2, "lon": 36.1}, "name"),
           ({"kind": "shelter", "name": "x", "lat": 36.2, "lon": 36.1, "colour": "red"}, "unknown field")]
    for body, word in bad:
        r = lead.post("/api/v1/shelters", body)
        check(r.status == 400 and word in r.json()["detail"], "%s: %s" % (word, r.body))
    r = lead.post("/api/v1/shelters", {"kind": "assembly_point", "name": "Defne Stadium", "lat": 36.1934,
                                        "lon": 36.1488, "capacity": 1200, "medical": True})
    expect_equal(r.status, 201, r.body)
    new = r.json()
    check(new["open"] and new["medical"] and new["capacity"] == 1200 and new["occupancy"] == 0, new)
    r = lead.patch("/api/v1/shelters/%d" % new["id"], {"occupancy": 1150, "open": False})
    expect_equal(r.status, 200, r.body)
    expect_equal((r.json()["occupancy"], r.json()["open"], r.json()["capacity"]), (1150, False, 1200), "changed")
    expect_equal(cluster.psql(DB, "SELECT occupancy, open FROM shelter WHERE id = %d" % new["id"]), "1150|f", "stored")
    expect_equal(cluster.psql(DB, "SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE object_type = 'shelter' AND action <> 'shelter.import'"),
                 "shelter.create,shelter.update", "audited")
    expect_equal(viewer.patch("/api/v1/shelters/%d" % new["id"], {"open": True}).status, 403, "a viewer reads only")
    expect_equal(hq.patch("/api/v1/shelters/%d" % new["id"], {"open": True}).status, 403, "HQ reads only")
    expect_equal(olena.patch("/api/v1/shelters/%d" % new["id"], {"open": True}).status, 404, "another mission")
    expect_equal(olena.post("/api/v1/shelters", {"kind": "shelter", "name": "x", "lat": 50.4, "lon": 30.5}).status, 201,
                 "in one's own mission")
    expect_equal(cluster.psql(DB, "SELECT m.code FROM shelter s JOIN mission m ON m.id = s.mission_id "
                                  "WHERE s.name = 'x'"), "UA-KYV", "and only there")
    expect_equal(lead.patch("/api/v1/shelters/999999", {"open": True}).status, 404, "no such shelter")


def a_change_made_on_a_stale_read_is_refused():
    shelter = lead.get("/api/v1/shelters?limit=1").json()["items"][0]
    path = "/api/v1/shelters/%d" % shelter["id"]
    read = '"%d"' % shelter["version"]
    r = lead.patch(path, {"occupancy": 40}, headers={"If-Match": read})
    expect_equal(r.status, 200, r.body)
    expect_equal(r.header("ETag"), '"%d"' % r.json()["version"], "the new version as ETag")
    check(r.json()["version"] > shelter["version"], "a new version")
    # A second desk still shows the first read and sets its own count: refused, not applied.
    r = lead.patch(path, {"occupancy": 25}, headers={"If-Match": read})
    expect_equal(r.status, 412, r.body)
    check("changed" in r.json()["detail"] and "40" in r.json()["detail"], r.body)
    r2 = lead.patch(path, {"occupancy": 25, "version": shelter["version"]})
    expect_equal(r2.status, 412, "the version in the body, as the dashboard sends it")
    expect_equal(cluster.psql(DB, "SELECT occupancy FROM shelter WHERE id = %d" % shelter["id"]), "40", "kept")
    # Any writer's change makes a new version (an import, a plan).
    now = lead.get("/api/v1/shelters?limit=1").json()["items"][0]
    cluster.psql(DB, "UPDATE shelter SET capacity = capacity + 1 WHERE id = %d" % shelter["id"])
    expect_equal(lead.patch(path, {"occupancy": 41}, headers={"If-Match": '"%d"' % now["version"]}).status, 412,
                 "changed behind the API")
    for tag in ('W/"%d"' % (now["version"] + 1), "*"):
        expect_equal(lead.patch(path, {"occupancy": 41}, headers={"If-Match": tag}).status, 200, tag)
    expect_equal(lead.patch(path, {"occupancy": 42}).status, 200, "no precondition: as before")
    for bad in ("abc", '"1', '""'):
        expect_equal(lead.patch(path, {"occupancy": 1}, headers={"If-Match": bad}).status, 400, bad)
    expect_equal(lead.patch(path, {"occupancy": 1, "version": "x"}).status, 400, "a version is a number")
    expect_equal(olena.patch(path, {"open": True}, headers={"If-Match": "*"}).status, 404, "another mission")


def a_refusal_names_the_change_that_refused_it():
    """A change that waited for another writer's and was refused by it: the 412's
    values and ETag are the shelter as that writer left it, read at once."""
    import subprocess
    import time
    from harness import SOURCE_DIR
    shelter = lead.get("/api/v1/shelters?limit=1").json()["items"][0]
    path = "/api/v1/shelters/%d" % shelter["id"]
    holder = subprocess.Popen([os.path.join(SOURCE_DIR, "deploy", "pg.sh"), "psql", cluster.dir, "-d", DB, "-At",
                               "-c", "BEGIN; UPDATE shelter SET occupancy = 77, capacity = 300 WHERE id = %d; "
                                     "SELECT pg_sleep(1.5); COMMIT;" % shelter["id"]],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        r = lead.patch(path, {"occupancy": 12}, headers={"If-Match": '"%d"' % shelter["version"]})
    finally:
        holder.wait()
    expect_equal(r.status, 412, r.body)
    stored = cluster.psql(DB, "SELECT version, occupancy FROM shelter WHERE id = %d" % shelter["id"])
    expect_equal(stored.split("|")[1], "77", "the other writer's change kept")
    expect_equal(r.header("ETag"), '"%s"' % stored.split("|")[0], "the ETag of the shelter as it is now")
    check("occupancy 77 of 300" in r.json()["detail"], r.body)
    expect_equal(lead.patch(path, {"occupancy": 12}, headers={"If-Match": r.header("ETag")}).status, 200,
                 "a change made on the refusal's ETag")


def regions_count_their_nationals():
    items = lead.get("/api/v1/regions").json()["items"]
    check(any(r["code"] == "TR-31" for r in items), "Hatay among the regions")
    expect_equal(sum(r["nationals"] for r in items),
                 int(cluster.psql(DB, "SELECT count(*) FROM national WHERE region_id IS NOT NULL AND deleted_at IS NULL")),
                 "every located national counted once")


if __name__ == "__main__":
    try:
        run([shelters_are_listed_with_their_load, a_shelter_is_added_and_changed_and_audited,
             a_change_made_on_a_stale_read_is_refused, a_refusal_names_the_change_that_refused_it,
             regions_count_their_nationals])
    finally:
        d.stop()
        cluster.dropdb(DB)
