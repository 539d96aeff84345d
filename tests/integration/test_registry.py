"""The registry through the API: list, search by Hangul or Latin name, phone
or passport, filters and paging, read one, change, soft delete, who is in an
area, and mission scoping: staff of one mission never see another's."""

import csv
import io
import os
import subprocess
import threading
import urllib.parse

from harness import PG_SH, Cluster, Daemon, Session, check, ctl, eventually, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_registry"
PASSWORD = record_secret("Gaziantep-Hatay-2026-q")
conninfo = cluster.createdb(DB)
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}}).start()


def sh(*args):
    r = ctl(conninfo, *args)
    if r.returncode != 0:
        raise AssertionError("safetyctl %s: %s%s" % (" ".join(args), r.stdout, r.stderr))
    return r


pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
sh("mission", "add", "TR-ANK", "--name", "Embassy in Ankara", "--country", "TR")
sh("mission", "add", "UA-KYV", "--name", "Embassy in Kyiv", "--country", "UA")
A = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'TR-ANK'"))
B = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'UA-KYV'"))
for name, role, mission in (("admin", "admin", None), ("hq", "hq", None), ("lead-a", "mission_lead", "TR-ANK"),
                            ("staff-a", "mission_staff", "TR-ANK"), ("viewer-a", "viewer", "TR-ANK"),
                            ("staff-b", "mission_staff", "UA-KYV")):
    sh("user", "add", name, "--role", role, "--password-file", pwfile, *(["--mission", mission] if mission else []))

# Synthetic people: mission A in Kahramanmaraş, Hatay and İstanbul; mission B in Kyiv.
cluster.psql(DB, """
SET ROLE safety;
INSERT INTO region (mission_id, code, name, area) VALUES
 (%(a)d, 'TR-46', 'Kahramanmaraş', ST_Multi(ST_MakeEnvelope(36.3, 37.2, 37.6, 38.4, 4326))::geography),
 (%(a)d, 'TR-31', 'Hatay', ST_Multi(ST_MakeEnvelope(35.8, 35.8, 36.7, 37.0, 4326))::geography),
 (%(a)d, 'TR-34', 'İstanbul', ST_Multi(ST_MakeEnvelope(28.0, 40.8, 29.9, 41.6, 4326))::geography);
INSERT INTO national (mission_id, name_ko, name_latin, name_key, birth_date, passport_no, kind,
                      arrival_date, departure_date, needs) VALUES
 (%(a)d, '김민준', 'KIM MINJUN', '김민준 kimminjun', '1980-01-02', 'M10000001', 'resident', NULL, NULL, '{}'),
 (%(a)d, '이서연', 'LEE SEOYEON', '이서연 leeseoyeon', '1990-03-04', 'M10000002', 'resident', NULL, NULL, '{pregnant}'),
 (%(a)d, '박지호', 'PARK JIHO', '박지호 parkjiho', '2015-05-06', NULL, 'traveller', current_date - 3, current_date + 4, '{child}'),
 (%(a)d, '최유나', 'CHOI YUNA', '최유나 choiyuna', '1950-07-08', 'M10000004', 'traveller', current_date - 30, current_date - 20, '{elderly}'),
 (%(b)d, '정하늘', 'JUNG HANEUL', '정하늘 junghaneul', '1985-09-10', 'M20000001', 'resident', NULL, NULL, '{}');
INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', '+821012' || lpad(id::text, 6, '0') FROM national;
INSERT INTO contact (national_id, kind, value) SELECT id, 'email', 'p' || id || '@example.org' FROM national WHERE id <= 2;
INSERT INTO location (national_id, point, source) SELECT id, CASE name_latin
   WHEN 'KIM MINJUN' THEN 'SRID=4326;POINT(36.93 37.58)' WHEN 'LEE SEOYEON' THEN 'SRID=4326;POINT(36.16 36.20)'
   WHEN 'PARK JIHO' THEN 'SRID=4326;POINT(36.95 37.60)' WHEN 'CHOI YUNA' THEN 'SRID=4326;POINT(36.90 37.55)'
   ELSE 'SRID=4326;POINT(30.52 50.45)' END::geography, 'registration' FROM national;
""" % {"a": A, "b": B})
ID = {row.split("|")[0]: int(row.split("|")[1]) for row in cluster.psql(DB, "SELECT name_latin, id FROM national").splitlines()}
for pp in ("M10000001", "M10000002", "M10000004", "M20000001"):
    record_secret(pp)

S = {n: Session(d, n, PASSWORD) for n in ("admin", "hq", "lead-a", "staff-a", "viewer-a", "staff-b")}


def names(r):
    return sorted(i["name_latin"] for i in r.json()["items"])


def staff_lists_only_their_mission():
    r = S["staff-a"].get("/api/v1/nationals")
    expect_equal(r.status, 200, r.body)
    expect_equal(names(r), ["CHOI YUNA", "KIM MINJUN", "LEE SEOYEON", "PARK JIHO"], "mission A")
    check("JUNG" not in r.body, "mission B leaked")
    expect_equal(names(S["staff-b"].get("/api/v1/nationals")), ["JUNG HANEUL"], "mission B")
    expect_equal(len(S["admin"].get("/api/v1/nationals").json()["items"]), 5, "admin sees all")
    expect_equal(names(S["admin"].get("/api/v1/nationals?mission=%d" % B)), ["JUNG HANEUL"], "admin filter")
    # A mission filter cannot widen a mission role's scope.
    expect_equal(S["staff-a"].get("/api/v1/nationals?mission=%d" % B).json()["items"], [], "staff-a asking for B")


def search_by_hangul_latin_phone_and_passport():
    s = S["staff-a"]
    for q, want in (("김민준", ["KIM MINJUN"]), ("김 민준", ["KIM MINJUN"]), ("kim min-jun", ["KIM MINJUN"]),
                    ("Minjun", ["KIM MINJUN"]), ("seoyeon", ["LEE SEOYEON"]), ("M10000002", ["LEE SEOYEON"]),
                    ("m10000002", ["LEE SEOYEON"]), ("+82 10-12%s-%s" % (("%06d" % ID["KIM MINJUN"])[:2], ("%06d" % ID["KIM MINJUN"])[2:]), ["KIM MINJUN"]),
                    ("jung haneul", []), ("M20000001", [])):
        r = s.get("/api/v1/nationals?q=" + __import__("urllib.parse").parse.quote(q))
        expect_equal(r.status, 200, q + ": " + r.body)
        expect_equal(names(r), want, "search %r" % q)
    expect_equal(s.get("/api/v1/nationals?q=a").status, 400, "one-letter search")


def filters_and_paging():
    s = S["staff-a"]
    expect_equal(names(s.get("/api/v1/nationals?kind=traveller")), ["CHOI YUNA", "PARK JIHO"], "kind")
    expect_equal(names(s.get("/api/v1/nationals?need=child")), ["PARK JIHO"], "need")
    expect_equal(names(s.get("/api/v1/nationals?has_contact=email")), ["KIM MINJUN", "LEE SEOYEON"], "has email")
    region = cluster.psql(DB, "SELECT id FROM region WHERE code = 'TR-31'")
    expect_equal(names(s.get("/api/v1/nationals?region=" + region)), ["LEE SEOYEON"], "region")
    p1 = s.get("/api/v1/nationals?limit=2").json()
    p2 = s.get("/api/v1/nationals?limit=2&after=" + p1["next"]).json()
    ids = [i["id"] for i in p1["items"] + p2["items"]]
    expect_equal(len(set(ids)), 4, "pages cover everyone once")
    for bad in ("kind=tourist", "need=sleepy", "region=abc", "limit=9999", "has_contact=fax"):
        expect_equal(s.get("/api/v1/nationals?" + bad).status, 400, bad)


def passport_shown_only_to_roles_that_need_it():
    path = "/api/v1/nationals/%d" % ID["KIM MINJUN"]
    expect_equal(S["staff-a"].get(path).json()["passport_no"], "M10000001", "staff")
    expect_equal(S["lead-a"].get(path).json()["passport_no"], "M10000001", "lead")
    masked = S["viewer-a"].get(path).json()["passport_no"]
    check(masked != "M10000001" and masked.startswith("M") and masked.endswith("01") and "*" in masked, masked)
    check("M10000001" not in S["hq"].get("/api/v1/nationals").body, "hq sees passports")
    # Nor can they confirm a guess of the masked digits by searching for it.
    for who in ("viewer-a", "hq"):
        expect_equal(names(S[who].get("/api/v1/nationals?q=M10000001")), [], who + " searching a passport")
    expect_equal(names(S["staff-a"].get("/api/v1/nationals?q=M10000001")), ["KIM MINJUN"], "staff may")


def another_missions_national_is_404():
    r = S["staff-a"].get("/api/v1/nationals/%d" % ID["JUNG HANEUL"])
    expect_equal(r.status, 404, "read")
    check("JUNG" not in r.body, r.body)
    expect_equal(S["staff-a"].patch("/api/v1/nationals/%d" % ID["JUNG HANEUL"], {"notes": "x"}).status, 404, "change")
    expect_equal(S["staff-a"].delete("/api/v1/nationals/%d" % ID["JUNG HANEUL"]).status, 404, "delete")
    expect_equal(cluster.psql(DB, "SELECT deleted_at IS NULL AND notes IS NULL FROM national WHERE name_latin = 'JUNG HANEUL'"), "t", "untouched")
    expect_equal(S["staff-a"].get("/api/v1/nationals/999999").status, 404, "missing")
    expect_equal(S["staff-a"].get("/api/v1/nationals/abc").status, 404, "not an id")


def viewers_and_hq_cannot_change():
    path = "/api/v1/nationals/%d" % ID["KIM MINJUN"]
    expect_equal(S["viewer-a"].patch(path, {"notes": "x"}).status, 403, "viewer")
    expect_equal(S["hq"].patch(path, {"notes": "x"}).status, 403, "hq")
    expect_equal(S["viewer-a"].delete(path).status, 403, "viewer delete")


def staff_changes_a_national_and_it_is_audited():
    path = "/api/v1/nationals/%d" % ID["PARK JIHO"]
    r = S["staff-a"].patch(path, {"name_latin": "PARK JI-HO", "needs": ["child", "medical"],
                                  "location": {"lat": 36.2, "lon": 36.16, "accuracy_m": 50}})
    expect_equal(r.status, 200, r.body)
    body = r.json()
    expect_equal(body["name_latin"], "PARK JI-HO", "name")
    expect_equal(sorted(body["needs"]), ["child", "medical"], "needs")
    expect_equal(round(body["location"]["lat"], 2), 36.2, "location")
    expect_equal(body["region_id"], int(cluster.psql(DB, "SELECT id FROM region WHERE code = 'TR-31'")), "region follows")
    expect_equal(names(S["staff-a"].get("/api/v1/nationals?q=jiho")), ["PARK JI-HO"], "search key follows the name")
    audit = cluster.psql(DB, "SELECT summary FROM audit_log WHERE action = 'national.update' ORDER BY id DESC LIMIT 1")
    check("name_latin" in audit and "location" in audit and "PARK" not in audit, audit)
    for bad in ({"needs": ["sleepy"]}, {"birth_date": "2023-02-30"}, {"kind": "tourist"}, {"location": {"lat": 95, "lon": 0}},
                {"shoe_size": 42}, {"notes": "x" * 3000},
                # The import's rules hold for a change too.
                {"name_latin": "박지호"}, {"name_ko": "PARK JIHO"}, {"name_ko": "박지호 PARK"},
                {"address": "line\u0007bell"},
                {"residence_status": "a\nb"}, {"location": {"lat": 1, "lon": 1, "accuracy_m": 1e300}}):
        expect_equal(S["staff-a"].patch(path, bad).status, 400, repr(bad)[:40])
    expect_equal(S["staff-a"].patch(path, {"notes": "first line\nsecond"}).status, 200, "notes keep line breaks")
    # A long name keeps a search key (it used to be cut to nothing).
    long_name = "PARK " + "JIHOO" * 38
    expect_equal(S["staff-a"].patch(path, {"name_latin": long_name}).status, 200, "long name")
    expect_equal(names(S["staff-a"].get("/api/v1/nationals?q=parkjihoojihoo")), [long_name], "found by it")
    expect_equal(S["staff-a"].patch(path, {"name_latin": "PARK JI-HO"}).status, 200, "back")


def null_clears_what_may_be_empty_and_nothing_else():
    nid = ID["LEE SEOYEON"]
    path = "/api/v1/nationals/%d" % nid
    # A field given twice is refused by name; forty times once ran past a buffer.
    raw = "{" + ",".join(['"residence_status":null'] * 40) + "}"
    r = S["staff-a"].patch(path, raw, headers={"Content-Type": "application/json"})
    expect_equal(r.status, 400, r.body)
    check("given twice" in r.json()["detail"], r.body)
    expect_equal(S["staff-a"].get(path).status, 200, "the daemon lives")
    household = int(cluster.psql(DB, "SET ROLE safety; INSERT INTO household (mission_id, external_ref) "
                                     "VALUES (%d, 'H-LEE') RETURNING id" % A).splitlines()[-1])
    r = S["staff-a"].patch(path, {"notes": "speaks Turkish", "address": "Antakya", "residence_status": "F-1",
                                  "household_id": household})
    expect_equal(r.status, 200, r.body)
    # What the dashboard sends for the fields a person emptied.
    r = S["staff-a"].patch(path, {"notes": None, "address": None, "residence_status": None, "birth_date": None,
                                  "household_id": None})
    expect_equal(r.status, 200, r.body)
    body = S["staff-a"].get(path).json()
    expect_equal([body[k] for k in ("notes", "address", "residence_status", "birth_date", "household_id")],
                 [None] * 5, "cleared")
    expect_equal(body["passport_no"], "M10000002", "what was not named stays")
    audit = cluster.psql(DB, "SELECT summary FROM audit_log WHERE action = 'national.update' ORDER BY id DESC LIMIT 1")
    check("notes" in audit and "household_id" in audit and "Antakya" not in audit, audit)
    for field in ("kind", "needs", "languages", "location"):
        r = S["staff-a"].patch(path, {field: None, "notes": "not saved"})
        expect_equal(r.status, 400, "%s: %s" % (field, r.body))
        check(field in r.json()["detail"], r.body)
    expect_equal(S["staff-a"].get(path).json()["notes"], None, "a refused change changes nothing")
    # A name may go if the other stays, and the search key follows.
    r = S["staff-a"].patch(path, {"name_ko": None})
    expect_equal((r.status, r.json()["name_ko"]), (200, None), r.body)
    expect_equal(cluster.psql(DB, "SELECT name_key FROM national WHERE id = %d" % nid), "leeseoyeon", "key")
    expect_equal(S["staff-a"].patch(path, {"name_latin": None}).status, 400, "not both names")
    expect_equal(S["staff-a"].patch(path, {"name_ko": "이서연"}).status, 200, "back")


def concurrent_name_changes_keep_the_search_key():
    nid = ID["KIM MINJUN"]
    path = "/api/v1/nationals/%d" % nid
    # A transaction holding the row makes both changes read the names first, then wait.
    holder = subprocess.Popen([PG_SH, "psql", cluster.dir, "-d", DB, "-At", "-v", "ON_ERROR_STOP=1"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = {}
    try:
        holder.stdin.write("BEGIN; SELECT 1 FROM national WHERE id = %d FOR UPDATE;\n" % nid)
        holder.stdin.flush()
        eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                                            "WHERE a.state = 'idle in transaction' AND l.locktype = 'transactionid' "
                                            "AND a.query LIKE '%%FOR UPDATE%%'") == "1", what="row held")

        def change(key, body):
            results[key] = S["staff-a"].patch(path, body)

        threads = [threading.Thread(target=change, args=("ko", {"name_ko": "김서준"})),
                   threading.Thread(target=change, args=("latin", {"name_latin": "KIM SEOJUN"}))]
        for t in threads:
            t.start()
        eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                            "AND query LIKE '%%UPDATE national%%'") == "2", what="both waiting")
        holder.stdin.write("COMMIT;\n")
        holder.stdin.close()
        holder.wait(timeout=10)
        for t in threads:
            t.join(timeout=20)
    finally:
        if holder.poll() is None:
            holder.kill()
    expect_equal([results[k].status for k in ("ko", "latin")], [200, 200], "both saved")
    expect_equal(cluster.psql(DB, "SELECT name_ko || '|' || name_latin FROM national WHERE id = %d" % nid),
                 "김서준|KIM SEOJUN", "both names")
    for q in ("김서준", "kim seojun", "KIM SEOJUN"):
        expect_equal(names(S["staff-a"].get("/api/v1/nationals?q=" + urllib.parse.quote(q))), ["KIM SEOJUN"], q)
    expect_equal(names(S["staff-a"].get("/api/v1/nationals?q=" + urllib.parse.quote("김민준"))), [], "old name gone")
    for body in ({"name_ko": "김민준"}, {"name_latin": "KIM MINJUN"}):
        expect_equal(S["staff-a"].patch(path, body).status, 200, "back")


def soft_delete_hides_but_keeps():
    path = "/api/v1/nationals/%d" % ID["CHOI YUNA"]
    expect_equal(S["staff-a"].delete(path).status, 200, "delete")
    expect_equal(S["staff-a"].get(path).status, 404, "gone from reads")
    check("CHOI" not in S["staff-a"].get("/api/v1/nationals").body, "gone from lists")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin = 'CHOI YUNA' AND deleted_at IS NOT NULL"), "1", "kept")
    check("national.delete" in cluster.psql(DB, "SELECT string_agg(action, ',') FROM audit_log"), "audited")


def who_is_in_an_area():
    s = S["lead-a"]
    kahramanmaras = {"type": "Polygon", "coordinates": [[[36.5, 37.3], [37.4, 37.3], [37.4, 38.0], [36.5, 38.0], [36.5, 37.3]]]}
    r = s.post("/api/v1/nationals/in-area", {"area": kahramanmaras})
    expect_equal(r.status, 200, r.body)
    body = r.json()
    # KIM (resident) and PARK until he moved to Hatay; CHOI departed (and deleted).
    expect_equal(body["count"], 1, body)
    expect_equal(body["by_region"][0]["code"], "TR-46", body)
    r = s.post("/api/v1/nationals/in-area", {"circle": {"lat": 36.2, "lon": 36.16, "radius_m": 20000}})
    expect_equal(r.json()["count"], 2, r.body)  # LEE and PARK in Hatay
    r = s.post("/api/v1/nationals/in-area", {"circle": {"lat": 36.2, "lon": 36.16, "radius_m": 20000},
                                               "on": "2000-01-01"})
    expect_equal(r.json()["count"], 1, "PARK had not arrived in 2000: " + r.body)
    # Staff of B asking about Kahramanmaraş see nobody: scope is their own mission.
    expect_equal(S["staff-b"].post("/api/v1/nationals/in-area", {"area": kahramanmaras}).json()["count"], 0, "B")
    for bad in ({"area": {"type": "Point", "coordinates": [36, 37]}}, {"circle": {"lat": 36, "lon": 36, "radius_m": -1}},
                {}, {"area": kahramanmaras, "circle": {"lat": 1, "lon": 1, "radius_m": 1}},
                {"area": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}}):
        r = s.post("/api/v1/nationals/in-area", bad)
        expect_equal(r.status, 400, repr(bad)[:60] + " " + r.body)
    # An account that sees every mission counts all of them unless it names one (HQ's declare page).
    r = S["admin"].post("/api/v1/nationals/in-area", {"area": kahramanmaras})
    expect_equal((r.status, r.json()["count"]), (200, 1), "admin, every mission: " + r.body)
    expect_equal(S["admin"].post("/api/v1/nationals/in-area", {"area": kahramanmaras, "mission_id": "A"}).status, 400,
                 "a mission_id that is no id")
    expect_equal(S["admin"].post("/api/v1/nationals/in-area", {"area": kahramanmaras, "mission_id": A}).json()["count"], 1, "admin")


def export_is_scoped_masked_and_reimportable():
    # A household the embassy never named (made by self-registration) exports as #id.
    hh = cluster.psql(DB, "SET ROLE safety; INSERT INTO household (mission_id) VALUES (%d) RETURNING id" % A).split()[-1]
    cluster.psql(DB, "SET ROLE safety; UPDATE national SET household_id = %s WHERE name_latin = 'KIM MINJUN'" % hh)
    households = cluster.psql(DB, "SELECT count(*) FROM household")
    r = S["staff-a"].get("/api/v1/nationals/export.csv")
    expect_equal(r.status, 200, r.body)
    check(r.header("Content-Type").startswith("text/csv"), r.header("Content-Type"))
    lines = r.body.lstrip("\ufeff").strip().split("\r\n")
    check(lines[0].startswith("id,mission,name_ko,name_latin"), lines[0])
    check(any("KIM MINJUN" in l for l in lines) and not any("JUNG" in l for l in lines), r.body)
    check("M10000001" in r.body, "staff sees passports")
    v = S["viewer-a"].get("/api/v1/nationals/export.csv").body
    check("M10000001" not in v and "KIM MINJUN" in v, "viewer export masks passports")
    b = S["staff-b"].get("/api/v1/nationals/export.csv").body
    check("JUNG HANEUL" in b and "KIM" not in b, "B exports B only")
    expect_equal(S["staff-b"].get("/api/v1/nationals/export.csv?mission=%d" % A).body.count("\r\n"), 1, "B asking for A gets a header only")
    # What staff export they can import again: nothing changes.
    again = S["staff-a"].request("POST", "/api/v1/nationals/import", body=r.body.encode(),
                                 headers={"Content-Type": "text/csv"})
    expect_equal(again.status, 200, again.body)
    rep = again.json()
    people = len(lines) - 1
    expect_equal((rep["inserted"], rep["updated"], rep["unchanged"], rep["bad_rows"]), (0, 0, people, 0), again.body)
    # Every row has every column, empty ones included, and a phone reads back despite its formula quote.
    rows = list(csv.reader(io.StringIO(r.body.lstrip("\ufeff"))))
    expect_equal({len(row) for row in rows}, {18}, "cells per row")
    kim = next(row for row in rows if row[3] == "KIM MINJUN")
    expect_equal(kim[9], "#" + hh, "household")
    check(kim[12].startswith("'+82"), "formula quote on the phone: " + kim[12])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM household"), households, "no household made")
    expect_equal(cluster.psql(DB, "SELECT household_id FROM national WHERE name_latin = 'KIM MINJUN'"), hh, "same household")


def the_spatial_query_uses_its_index():
    plan = cluster.psql(DB, "SET enable_seqscan = off; EXPLAIN SELECT * FROM nationals_in_area(%d, "
                            "ST_MakeEnvelope(36, 37, 37, 38, 4326)::geography, current_date)" % A)
    check("national_last_point" in plan, plan)


def a_refused_change_names_its_field():
    path = "/api/v1/nationals/%d" % ID["PARK JIHO"]
    before = S["staff-a"].get(path).json()
    arrival = cluster.psql(DB, "SELECT arrival_date - 10 FROM national WHERE id = %d" % ID["PARK JIHO"])
    # The import's own words for a passport it refuses: one rule for both.
    for body, start in (({"passport_no": "ab"}, "passport_no: too short: 2 letters and digits, need 5 to 20"),
                        ({"passport_no": "ab\u00e9cdef"}, "passport_no: only letters A to Z and digits"),
                        ({"passport_no": "M" + "1" * 20}, "passport_no: too long: more than 20 letters and digits"),
                        ({"arrival_date": "2027-02-01", "departure_date": "2027-01-01"},
                         "departure_date: before the arrival date"),
                        ({"departure_date": arrival}, "departure_date: before the arrival date"),
                        ({"name_ko": None, "name_latin": None}, "name_ko, name_latin: "),
                        ({"name_ko": None, "notes": "x"}, None)):
        r = S["staff-a"].patch(path, body)
        if start is None:
            expect_equal(r.status, 200, r.body)
            r = S["staff-a"].patch(path, {"name_latin": None})
            start = "name_ko, name_latin: "
        expect_equal(r.status, 400, "%r: %s" % (body, r.body))
        detail = r.json()["detail"]
        check(detail.startswith(start) and "constraint" not in detail and "national" + "_" not in detail,
              "%r: %s" % (body, detail))
    after = S["staff-a"].get(path).json()
    for k in ("passport_no", "arrival_date", "departure_date", "name_latin"):
        expect_equal(after[k], before[k], "%s unchanged" % k)
    expect_equal(S["staff-a"].patch(path, {"name_ko": before["name_ko"], "notes": None}).status, 200, "back")


try:
    run([
        staff_lists_only_their_mission,
        search_by_hangul_latin_phone_and_passport,
        filters_and_paging,
        passport_shown_only_to_roles_that_need_it,
        another_missions_national_is_404,
        viewers_and_hq_cannot_change,
        staff_changes_a_national_and_it_is_audited,
        null_clears_what_may_be_empty_and_nothing_else,
        concurrent_name_changes_keep_the_search_key,
        soft_delete_hides_but_keeps,
        who_is_in_an_area,
        export_is_scoped_masked_and_reimportable,
        the_spatial_query_uses_its_index,
        a_refused_change_names_its_field,
    ])
finally:
    d.stop()
    cluster.dropdb(DB)
