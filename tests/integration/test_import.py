"""Importing nationals through the API and safetyctl: a CSV with a BOM,
quoted newlines, Hangul, phone numbers in several national formats and
deliberately broken rows goes in with exactly the expected rows and exactly
the expected errors; the same file twice changes nothing; all-or-nothing,
dry runs, JSON, one person at a time, and mission scoping."""

import csv
import io
import json
import os
import subprocess
import tempfile
import threading
import urllib.parse

from harness import SAFETYCTL, SOURCE_DIR, Cluster, Daemon, Session, check, ctl, eventually, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_import"
PASSWORD = record_secret("Antakya-Iskenderun-26")
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
for name, role, mission in (("staff-a", "mission_staff", "TR-ANK"), ("staff-b", "mission_staff", "UA-KYV"),
                            ("viewer-a", "viewer", "TR-ANK"), ("hq", "hq", None), ("admin", "admin", None)):
    sh("user", "add", name, "--role", role, "--password-file", pwfile, *(["--mission", mission] if mission else []))
S = {n: Session(d, n, PASSWORD) for n in ("staff-a", "staff-b", "viewer-a", "hq", "admin")}

# Synthetic people only. The comment after each line says what it must produce.
MIXED = (
    "\ufeff성명,영문성명,생년월일,여권번호,휴대전화,이메일,주소,구분,입국일,출국일,가구,특이사항\r\n"  # 1 header
    '김민준,KIM MINJUN,1980-01-02,M12345678,010-1234-5678,minjun@example.org,"Çankaya, Ankara\r\n'  # 2 good, Korean national
    'Atatürk Blv. 1",거주자,,,H1,\r\n'  # 3 (same record)
    "이서연,LEE SEOYEON,1985-05-06,M22345678,+82 10 2345 6789,,İstanbul,거주자,,,H1,임산부\r\n"  # 4 good, +82
    "박지호,PARK JIHO,2015-07-08,,0532 123 45 67,,,여행자,2026-11-20,2026-12-20,H2,아동\r\n"  # 5 good, Turkish national
    "최유나,CHOI YUNA,1990-09-10,M42345678,+380 67 123 4567,,,거주자,,,,\r\n"  # 6 good, Ukrainian
    "정하늘,JUNG HANEUL,1975-11-12,M52345678,+66 81 234 5678,,,거주자,,,,\r\n"  # 7 good, Thai
    "강도윤,KANG DOYUN,1990-01-01,M62345678,12,,,거주자,,,,\r\n"  # 8 bad phone
    "조은서,CHO EUNSEO,1990-02-30,M72345678,010-2222-3333,,,거주자,,,,\r\n"  # 9 bad date
    ",,1990-01-01,M82345678,010-5555-6666,,,거주자,,,,\r\n"  # 10 no name
    "윤지우,YOON JIWOO,1991-01-01,M92345678,010-7777-8888,,,여행자,,,,\r\n"  # 11 traveller without dates
    "장서준,JANG SEOJUN,1992-02-02,M10345678,010-9999-0000,,,여행자,2026-12-20,2026-12-01,,\r\n"  # 12 departs before arriving
    "임하은,LIM HAEUN,1993-03-03,M-12*,010-1212-3434,,,거주자,,,,\r\n"  # 13 bad passport
    "한유진,HAN YUJIN,1994-04-04,M13345678,010-5656-7878,not-an-email,,거주자,,,,\r\n"  # 14 bad e-mail
    "오지안,OH JIAN,1995-05-05,M14345678,0082-10-3456-7890,,,거주자,,,,\r\n"  # 15 good, 0082 prefix
)
GOOD = {"KIM MINJUN", "LEE SEOYEON", "PARK JIHO", "CHOI YUNA", "JUNG HANEUL", "OH JIAN"}
EXPECTED_ERRORS = {8: {"phone"}, 9: {"birth_date"}, 10: {"name", "name_ko", "name_latin"},
                   11: {"arrival_date", "departure_date", "kind"}, 12: {"departure_date"},
                   13: {"passport_no"}, 14: {"email"}}
for p in ("M12345678", "M22345678", "M42345678", "M52345678", "M14345678"):
    record_secret(p)


def post_csv(session, body, query=""):
    return session.request("POST", "/api/v1/nationals/import" + query, body=body.encode("utf-8"),
                           headers={"Content-Type": "text/csv; charset=utf-8"})


def names_in_db(mission):
    return set(filter(None, cluster.psql(DB, "SELECT name_latin FROM national WHERE mission_id = %d AND deleted_at IS NULL" % mission).splitlines()))


def mixed_csv_imports_exactly_the_good_rows():
    r = post_csv(S["staff-a"], MIXED)
    expect_equal(r.status, 200, r.body)
    rep = r.json()
    expect_equal(rep["inserted"], 6, "inserted: " + r.body)
    expect_equal(rep["bad_rows"], 7, "bad rows")
    expect_equal(names_in_db(A), GOOD, "who is in")
    got = {}
    for e in rep["errors"]:
        got.setdefault(e["line"], set()).add(e["field"])
        for pp in ("M62345678", "M72345678", "M13345678", "not-an-email"):
            check(pp not in e["reason"], "a value in a reason: " + e["reason"])
    expect_equal(sorted(got), sorted(EXPECTED_ERRORS), "lines with errors: %r" % rep["errors"])
    for line, fields in EXPECTED_ERRORS.items():
        check(got[line] & fields, "line %d: expected one of %s, got %s" % (line, fields, got[line]))
    # Normalised on the way in: E.164 phones, the quoted address with its line break.
    phones = set(cluster.psql(DB, "SELECT value FROM contact WHERE kind = 'phone'").splitlines())
    expect_equal(phones, {"+821012345678", "+821023456789", "+905321234567", "+380671234567", "+66812345678",
                          "+821034567890"}, "phones")
    addr = cluster.psql(DB, "SELECT address FROM national WHERE passport_no = 'M12345678'")
    check("Çankaya, Ankara" in addr and "Atatürk" in addr, addr)
    expect_equal(cluster.psql(DB, "SELECT count(DISTINCT household_id) FROM national WHERE household_id IS NOT NULL"), "2", "households")
    expect_equal(cluster.psql(DB, "SELECT needs FROM national WHERE name_latin = 'LEE SEOYEON'"), "{pregnant}", "needs")
    expect_equal(cluster.psql(DB, "SELECT kind FROM national WHERE name_latin = 'PARK JIHO'"), "traveller", "kind")
    check("national.import" in cluster.psql(DB, "SELECT string_agg(action, ',') FROM audit_log"), "audited")


def the_same_file_twice_changes_nothing():
    before = cluster.psql(DB, "SELECT count(*), max(updated_at) FROM national")
    contacts = cluster.psql(DB, "SELECT count(*) FROM contact")
    r = post_csv(S["staff-a"], MIXED)
    rep = r.json()
    expect_equal((rep["inserted"], rep["updated"], rep["unchanged"]), (0, 0, 6), r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*), max(updated_at) FROM national"), before, "nationals untouched")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM contact"), contacts, "contacts untouched")


def a_changed_row_updates_instead_of_adding_a_twin():
    changed = MIXED.replace("İstanbul,거주자,,,H1,임산부", "İzmir,거주자,,,H1,임산부")
    rep = post_csv(S["staff-a"], changed).json()
    expect_equal((rep["inserted"], rep["updated"]), (0, 1), rep)
    expect_equal(cluster.psql(DB, "SELECT address FROM national WHERE passport_no = 'M22345678'"), "İzmir", "updated")
    # Matched on phone + name + birth date when there is no passport (PARK JIHO has none).
    twin = "성명,영문성명,생년월일,휴대전화,주소\n박지호,PARK JIHO,2015-07-08,+90 532 123 45 67,Bursa\n"
    rep = post_csv(S["staff-a"], twin).json()
    expect_equal((rep["inserted"], rep["updated"]), (0, 1), rep)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin = 'PARK JIHO'"), "1", "no twin")


def all_or_nothing_and_dry_run():
    fresh = MIXED.replace("M1", "X1").replace("M2", "X2").replace("M4", "X4").replace("M5", "X5")
    for old, new in (("010-1234-5678", "010-1234-5600"), ("+82 10 2345 6789", "+82 10 2345 6700"),
                     ("0532 123 45 67", "0532 123 45 00"), ("+380 67 123 4567", "+380 67 123 4500"),
                     ("+66 81 234 5678", "+66 81 234 5600"), ("0082-10-3456-7890", "0082-10-3456-7800")):
        fresh = fresh.replace(old, new)
    count = cluster.psql(DB, "SELECT count(*) FROM national")
    r = post_csv(S["staff-a"], fresh, "?all_or_nothing=true")
    expect_equal(r.status, 422, r.body)
    check(not r.json()["applied"] and len(r.json()["errors"]) >= 7, r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national"), count, "nothing in")
    r = post_csv(S["staff-a"], fresh, "?dry_run=true")
    expect_equal(r.status, 200, r.body)
    check(r.json()["dry_run"] and r.json()["inserted"] == 6 and not r.json()["applied"], r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national"), count, "dry run left nothing")


def duplicate_passport_in_one_file_is_reported():
    body = "name_latin,passport_no,phone\nSEO YUNA,M55555555,+821055550001\nSEO YUNA,M55555555,+821055550002\n"
    rep = post_csv(S["staff-a"], body).json()
    expect_equal(rep["inserted"], 1, rep)
    check(any(e["line"] == 3 and e["field"] == "passport_no" and "line 2" in e["reason"] for e in rep["errors"]), rep)


def refused_files_say_why():
    for body, ctype, what in (("\xff\xfe garbage", "text/csv", "not UTF-8"),
                              ("phone,email\n010-1111-2222,a@example.org\n", "text/csv", "no name column"),
                              ('[{"name_latin": "A"', "application/json", "broken JSON"),
                              ('a,"b\n', "text/csv", "open quote")):
        data = body.encode("latin-1") if "garbage" in body else body.encode()
        r = S["staff-a"].request("POST", "/api/v1/nationals/import", body=data, headers={"Content-Type": ctype})
        expect_equal(r.status, 400, what + ": " + r.body)
        rep = r.json()
        check(rep["file_refused"] and rep["errors"] and rep["errors"][0]["reason"], what + ": " + r.body)
    expect_equal(S["staff-a"].request("POST", "/api/v1/nationals/import", body=b"",
                                      headers={"Content-Type": "text/csv"}).status, 400, "empty")


def json_import_and_one_person_at_a_time():
    people = [{"name_ko": "서하준", "name_latin": "SEO HAJUN", "birth_date": "1988-08-08", "passport_no": "M66600001",
               "phones": ["+90 533 111 22 33"], "kind": "traveller", "arrival_date": "2026-11-01",
               "departure_date": "2026-12-01", "lat": 37.58, "lon": 36.93}]
    r = S["staff-a"].request("POST", "/api/v1/nationals/import", body=json.dumps(people),
                             headers={"Content-Type": "application/json"})
    expect_equal(r.json()["inserted"], 1, r.body)
    loc = cluster.psql(DB, "SELECT round(ST_Y(last_point::geometry)::numeric, 2) FROM national WHERE passport_no = 'M66600001'")
    expect_equal(loc, "37.58", "location set")
    r = S["staff-a"].post("/api/v1/nationals", {"name_latin": "YOO NARA", "phone": "010-4321-8765"})
    expect_equal(r.status, 201, r.body)
    got = S["staff-a"].get("/api/v1/nationals/%d" % r.json()["id"]).json()
    expect_equal(got["name_latin"], "YOO NARA", "created")
    expect_equal(got["contacts"][0]["value"], "+821043218765", "phone normalised")
    r = S["staff-a"].post("/api/v1/nationals", {"name_latin": "YOO NARA", "phone": "12"})
    expect_equal(r.status, 400, r.body)
    check(any(e["field"] == "phone" for e in r.json()["errors"]), r.body)
    count = cluster.psql(DB, "SELECT count(*) FROM national")
    r = S["staff-a"].request("POST", "/api/v1/nationals", body=b'{"name_latin": "ONE A"},{"name_latin": "TWO B"}',
                             headers={"Content-Type": "application/json"})
    expect_equal(r.status, 400, "two people in one create: " + r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national"), count, "nobody added")


def scoping_and_roles():
    before = names_in_db(A)
    r = post_csv(S["staff-b"], "name_latin\nINTRUDER ONE\n", "?mission=%d" % A)
    expect_equal(r.status, 404, "staff of B into A")
    r = post_csv(S["staff-b"], "name_latin\nKYIV PERSON\n")
    expect_equal(r.status, 200, r.body)
    check("KYIV PERSON" in names_in_db(B) and names_in_db(A) == before, "went to B only")
    expect_equal(post_csv(S["viewer-a"], "name_latin\nX\n").status, 403, "viewer")
    expect_equal(post_csv(S["hq"], "name_latin\nX\n").status, 403, "hq")
    expect_equal(post_csv(S["admin"], "name_latin\nX\n").status, 400, "admin without mission")
    expect_equal(post_csv(S["admin"], "name_latin\nADMIN ADDED\n", "?mission=%d" % B).status, 200, "admin with mission")
    r = post_csv(S["admin"], "name_latin\nNOWHERE\n", "?mission=999999")
    expect_equal((r.status, r.json().get("detail")), (404, "no such mission"), "a mission that does not exist")


def safetyctl_imports_with_korean_headers_and_a_mapping():
    path = os.path.join(d.workdir, "ctl.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write("이름,영문이름,연락처,생일\n배수아,BAE SUA,010-8080-9090,1999.09.09\n")
    r = ctl(conninfo, "import", "nationals", path, "--mission", "UA-KYV", "--date-format", "dotted")
    expect_equal(r.returncode, 0, r.stdout + r.stderr)
    check("1 added" in r.stdout, r.stdout)
    expect_equal(cluster.psql(DB, "SELECT birth_date FROM national WHERE name_latin = 'BAE SUA'"), "1999-09-09", "date")
    with open(path, "w", encoding="utf-8") as f:
        f.write("Full Name,Cell\nMOON TAEO,+380 50 123 4567\n")
    r = ctl(conninfo, "import", "nationals", path, "--mission", "UA-KYV", "--map", "name_latin=Full Name", "--map",
            "phone=Cell")
    expect_equal(r.returncode, 0, r.stdout + r.stderr)
    r = ctl(conninfo, "import", "nationals", path, "--mission", "UA-KYV", "--map", "name_latin=Full Name",
            "--map", "phone=Cell")
    check("nothing changed" in r.stdout, r.stdout)
    with open(path, "w", encoding="utf-8") as f:
        f.write("name_latin,phone\nBAD PHONE,12\n")
    r = ctl(conninfo, "import", "nationals", path, "--mission", "UA-KYV")
    expect_equal(r.returncode, 1, "bad rows exit 1")
    check("ctl.csv:2: phone" in r.stdout, r.stdout)


def a_file_without_a_column_keeps_what_is_stored():
    cluster.psql(DB, "SET ROLE safety; UPDATE national SET languages = '{en}' WHERE name_latin = 'PARK JIHO'")
    stored = cluster.psql(DB, "SELECT kind, languages, updated_at FROM national WHERE name_latin = 'PARK JIHO'")
    for body in ("성명,영문성명,생년월일,휴대전화\n박지호,PARK JIHO,2015-07-08,+90 532 123 45 67\n",
                 # One of the two names only: the same person, not a twin.
                 "성명,생년월일,휴대전화\n박지호,2015-07-08,0532 123 45 67\n",
                 "영문성명,생년월일,휴대전화\nPARK JIHO,2015-07-08,0532 123 45 67\n"):
        rep = post_csv(S["staff-a"], body).json()
        expect_equal((rep["inserted"], rep["updated"], rep["unchanged"]), (0, 0, 1), body + repr(rep))
    expect_equal(cluster.psql(DB, "SELECT kind, languages, updated_at FROM national WHERE name_latin = 'PARK JIHO'"),
                 stored, "kind and languages kept")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_ko = '박지호' OR name_latin = 'PARK JIHO'"),
                 "1", "no twin")


def doubtful_parameters_are_refused():
    count = cluster.psql(DB, "SELECT count(*) FROM national")
    body = "name_latin,phone\nNEW PERSON,+821077770001\n"
    for query, what in (("?dry_run=maybe", "dry_run"), ("?all_or_nothing=2", "all_or_nothing"),
                        ("?dry_run", "malformed"), ("?dry_run=1&&x", "malformed"),
                        ("?map=phone%3D" + "x" * 5000, "map")):
        r = post_csv(S["staff-a"], body, query)
        expect_equal(r.status, 400, query[:30] + ": " + r.body)
        check(what in r.body, r.body)
    r = post_csv(S["staff-a"], body, "?dry_run=True")
    expect_equal(r.status, 200, r.body)
    check(r.json()["dry_run"] and not r.json()["applied"], "True is a dry run: " + r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national"), count, "nothing added")
    # Two mappings that land on one column refuse the file rather than lose a field.
    r = post_csv(S["staff-a"], "성명,E-mail,연락처\n문가은,a@example.org,010-1111-0000\n",
                 "?map=" + urllib.parse.quote("phone=E_mail, email=e.mail"))
    expect_equal(r.status, 400, r.body)
    check("same column" in r.body, r.body)
    r = S["staff-a"].get("/api/v1/nationals?q=" + urllib.parse.quote("김" * 200))
    expect_equal(r.status, 400, "an over-long search is refused, not dropped: " + r.body[:100])
    # A second value that would not be read is refused (never a real run of a dry run), a
    # mission that is not a whole id too; map may come twice, each adding its columns.
    for query, what in (("?dry_run=false&dry_run=true", "dry_run"), ("?mission=1&mission=2", "mission"),
                        ("?mission=1.5", "mission")):
        r = post_csv(S["staff-a"], body, query)
        expect_equal(r.status, 400, query + ": " + r.body)
        check(what in r.json()["detail"], r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national"), count, "nothing added")
    r = post_csv(S["staff-a"], "Name,Tel,PP\nMAP TWICE,010-7777-0101,M77770101\n",
                 "?map=" + urllib.parse.quote("name_latin=Name,phone=Tel") + "&map=" + urllib.parse.quote("passport_no=PP"))
    expect_equal((r.status, r.json().get("inserted")), (200, 1), r.body)
    expect_equal(cluster.psql(DB, "SELECT n.passport_no || '|' || c.value FROM national n JOIN contact c ON "
                                  "c.national_id = n.id WHERE n.name_latin = 'MAP TWICE'"), "M77770101|+821077770101",
                 "both mappings applied")


def a_deleted_person_is_not_brought_back_unasked():
    # Staff deleted two people; the embassy's spreadsheet still has them.
    file = ("성명,영문성명,생년월일,여권번호,휴대전화,주소\n"
            "신예린,SHIN YERIN,1988-03-04,R11223344,010-4444-1111,Ankara\n"  # 2 deleted, found by passport
            "노시우,NOH SIWOO,1979-06-07,,010-4444-2222,Ankara\n"  # 3 deleted, found by phone + name + birth date
            "문하준,MOON HAJUN,1999-09-09,,010-4444-3333,Ankara\n")  # 4 never deleted
    record_secret("R11223344")
    rep = post_csv(S["staff-a"], file).json()
    expect_equal(rep["inserted"], 3, rep)
    ids = dict(line.split("|") for line in cluster.psql(DB, (
        "SELECT name_latin, id FROM national WHERE name_latin IN ('SHIN YERIN', 'NOH SIWOO')")).splitlines())
    for name in ("SHIN YERIN", "NOH SIWOO"):
        expect_equal(S["staff-a"].request("DELETE", "/api/v1/nationals/" + ids[name]).status, 200, "delete")
    count = cluster.psql(DB, "SELECT count(*) FROM national WHERE mission_id = %d" % A)
    households = cluster.psql(DB, "SELECT count(*) FROM household")
    # The deleted person's row names a household no one else is in: it is not made.
    again = file.replace("Ankara", "Konya").replace(",주소\n", ",주소,가구\n").replace("Konya\n", "Konya,\n")
    again = again.replace("010-4444-1111,Konya,", "010-4444-1111,Konya,SHIN-ALONE")
    rep = post_csv(S["staff-a"], again).json()
    expect_equal((rep["inserted"], rep["updated"], rep["skipped_deleted"]), (0, 1, 2), rep)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM household"), households, "no empty household left")
    notes = {w["line"]: w for w in rep["warnings"]}
    expect_equal(sorted(notes), [2, 3], "the skipped lines named: %r" % rep["warnings"])
    for line, name in ((2, "SHIN YERIN"), (3, "NOH SIWOO")):
        check("national %s, deleted on" % ids[name] in notes[line]["reason"] and
              "/restore" in notes[line]["reason"], notes[line])
        check("R11223344" not in notes[line]["reason"], "no passport in a reason")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE mission_id = %d" % A), count, "no one re-created")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin IN ('SHIN YERIN', 'NOH SIWOO') "
                                  "AND (deleted_at IS NULL OR address <> 'Ankara')"), "0", "still deleted, untouched")
    # Restored by staff (another mission cannot), the next import updates them.
    expect_equal(S["staff-b"].post("/api/v1/nationals/%s/restore" % ids["SHIN YERIN"]).status, 404, "other mission")
    expect_equal(S["viewer-a"].post("/api/v1/nationals/%s/restore" % ids["SHIN YERIN"]).status, 403, "viewer")
    r = S["staff-a"].post("/api/v1/nationals/%s/restore" % ids["SHIN YERIN"])
    expect_equal(r.status, 200, r.body)
    expect_equal(S["staff-a"].post("/api/v1/nationals/%s/restore" % ids["SHIN YERIN"]).status, 404, "not deleted now")
    check("national.restore" in cluster.psql(DB, "SELECT string_agg(action, ',') FROM audit_log"), "audited")
    rep = post_csv(S["staff-a"], file.replace("Ankara", "Konya")).json()
    expect_equal((rep["inserted"], rep["updated"], rep["unchanged"], rep["skipped_deleted"]), (0, 1, 1, 1), rep)
    expect_equal(cluster.psql(DB, "SELECT address FROM national WHERE id = %s" % ids["SHIN YERIN"]), "Konya", "updated")
    # Someone registered since with the passport of a deleted person: restoring would make twins.
    cluster.psql(DB, "SET ROLE safety; UPDATE national SET passport_no = 'R99887766' WHERE name_latin = 'MOON HAJUN'")
    cluster.psql(DB, "SET ROLE safety; UPDATE national SET deleted_at = now() WHERE name_latin = 'MOON HAJUN'")
    moon = cluster.psql(DB, "SELECT id FROM national WHERE name_latin = 'MOON HAJUN'")
    cluster.psql(DB, "SET ROLE safety; INSERT INTO national (mission_id, name_latin, name_key, passport_no) "
                     "VALUES (%d, 'MOON HAJUN', 'moon hajun', 'R99887766')" % A)
    expect_equal(S["staff-a"].post("/api/v1/nationals/%s/restore" % moon).status, 409, "passport taken")


def a_renewed_passport_is_replaced_and_said():
    record_secret("P55667788")
    record_secret("P55667799")
    first = "성명,영문성명,생년월일,여권번호,휴대전화\n배수아,BAE SUA,1986-08-08,P55667788,010-6666-1111\n"
    expect_equal(post_csv(S["staff-a"], first).json()["inserted"], 1, "first")
    rep = post_csv(S["staff-a"], first.replace("P55667788", "P55667799")).json()
    expect_equal((rep["inserted"], rep["updated"], rep["passports_replaced"]), (0, 1, 1), rep)
    w = [w for w in rep["warnings"] if w["field"] == "passport_no"]
    expect_equal([x["line"] for x in w], [2], "the line named: %r" % rep["warnings"])
    check("matched by phone, name and birth date" in w[0]["reason"] and "P5566" not in w[0]["reason"], w[0])
    expect_equal(cluster.psql(DB, "SELECT passport_no FROM national WHERE name_latin = 'BAE SUA'"), "P55667799",
                 "the new passport stored")
    rep = post_csv(S["staff-a"], first.replace("P55667788", "P55667799")).json()
    expect_equal((rep["unchanged"], rep["passports_replaced"], rep["warnings"]), (1, 0, []), "said once")
    # safetyctl says it too, and refuses a format it does not know.
    path = os.path.join(d.workdir, "renewed.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(first)
    r = ctl(conninfo, "import", "nationals", path, "--mission", "TR-ANK", "--format", "xyz")
    expect_equal(r.returncode, 2, r.stdout + r.stderr)
    check("--format: 'xyz' is not csv, json or auto" in r.stderr, r.stderr)
    r = ctl(conninfo, "import", "nationals", path, "--mission", "TR-ANK", "--format", "csv")
    expect_equal(r.returncode, 0, r.stdout + r.stderr)
    check("renewed.csv:2: warning: passport_no: differs from the passport stored" in r.stdout, r.stdout)


def two_imports_at_once_add_each_person_once():
    rows = ["성명,영문성명,생년월일,휴대전화"]
    for i in range(1500):
        rows.append("김%s,KIM CC%d,1980-01-%02d,+90 533 %03d %02d %02d" % (chr(0xAC00 + i), i, 1 + i % 28, 100 + i // 100, i % 100, 11))
    body = "\n".join(rows) + "\n"
    sessions = [Session(d, "staff-a", PASSWORD) for _ in range(2)]
    results = [None, None]

    def go(k):
        results[k] = post_csv(sessions[k], body)

    analyzed = lambda: cluster.psql(DB, "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'national'")
    before = int(analyzed())
    threads = [threading.Thread(target=go, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    reps = [r.json() for r in results]
    # A large import refreshes the registry's statistics itself (through safetyd's role, which
    # owns nothing), so the same file again is not planned on the figures from before it.
    eventually(lambda: int(analyzed()) > before, timeout=5, what="the registry analyzed after the import")
    expect_equal(sorted(r["inserted"] for r in reps), [0, 1500], "one import adds them, the other finds them: %r" % [
        {k: r[k] for k in ("inserted", "updated", "unchanged")} for r in reps])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin LIKE 'KIM CC%%' AND mission_id = %d" % A),
                 "1500", "one person per row")
    rep = post_csv(S["staff-a"], body).json()
    expect_equal((rep["inserted"], rep["unchanged"]), (0, 1500), "and again: nothing")


def rows_without_passport_or_phone_are_found_again():
    f = ("성명,영문성명,생년월일,이메일\n"
         "김아이,KIM AI,2015-01-01,ai@example.org\n"
         "박베이비,PARK BABY,2020-02-02,\n"
         "이메일,LEE EMAIL,,lee.email@example.org\n"
         "무명씨,NO KEY,,\n")
    rep = post_csv(S["staff-a"], f).json()
    expect_equal(rep["inserted"], 4, rep)
    w = [x for x in rep["warnings"] if x["line"] == 5]
    check(len(w) == 1 and "cannot be told apart" in w[0]["reason"], "a row that cannot be matched again is said: %r" % rep["warnings"])
    rep = post_csv(S["staff-a"], f).json()
    expect_equal((rep["inserted"], rep["updated"], rep["unchanged"]), (1, 0, 3), "only the row with nothing to match adds again: %r" % rep)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin IN ('KIM AI', 'PARK BABY', 'LEE EMAIL')"), "3", "no twins")
    # A child's row now with an e-mail, and a birth date for the e-mail-only person: the same people.
    f2 = ("성명,영문성명,생년월일,이메일\n"
          "박베이비,PARK BABY,2020-02-02,baby.parent@example.org\n"
          ",LEE EMAIL,1999-09-19,lee.email@example.org\n")
    rep = post_csv(S["staff-a"], f2).json()
    expect_equal((rep["inserted"], rep["updated"]), (0, 2), rep)
    # Someone else with the same name and birth date but another e-mail is someone else.
    rep = post_csv(S["staff-a"], "영문성명,생년월일,이메일\nKIM AI,2015-01-01,other.ai@example.org\n").json()
    expect_equal(rep["inserted"], 1, rep)


def a_file_without_birth_dates_matches_people_stored_with_one():
    f = "성명,영문성명,생년월일,휴대전화,주소\n이민호,LEE MINHO,1980-03-03,+90 532 111 22 33,Ankara\n"
    expect_equal(post_csv(S["staff-a"], f).json()["inserted"], 1)
    rep = post_csv(S["staff-a"], "성명,영문성명,휴대전화,주소\n이민호,LEE MINHO,+90 532 111 22 33,Izmir\n").json()
    expect_equal((rep["inserted"], rep["updated"]), (0, 1), rep)
    expect_equal(cluster.psql(DB, "SELECT birth_date || ' ' || address FROM national WHERE name_latin = 'LEE MINHO'"),
                 "1980-03-03 Izmir", "one person, birth date kept")
    f = "성명,영문성명,생년월일,휴대전화\n박서준,PARK SEOJUN,1990-01-01,+90 532 222 33 44\n"
    expect_equal(post_csv(S["staff-a"], f).json()["inserted"], 1)
    rep = post_csv(S["staff-a"], "성명,영문성명,여권번호,휴대전화\n박서준,PARK SEOJUN,M56565656,+90 532 222 33 44\n").json()
    expect_equal((rep["inserted"], rep["updated"]), (0, 1), rep)
    expect_equal(cluster.psql(DB, "SELECT birth_date || ' ' || passport_no FROM national WHERE name_latin = 'PARK SEOJUN'"),
                 "1990-01-01 M56565656", "the passport added to the one person")


def one_name_in_the_file_keeps_the_other_searchable():
    f = "성명,영문성명,생년월일,휴대전화,주소\n송민호,SONG MINHO,1981-03-03,+90 532 111 22 99,Ankara\n"
    expect_equal(post_csv(S["staff-a"], f).json()["inserted"], 1)
    rep = post_csv(S["staff-a"], "성명,생년월일,휴대전화,주소\n송민호,1981-03-03,+90 532 111 22 99,Izmir\n").json()
    expect_equal((rep["inserted"], rep["updated"]), (0, 1), rep)
    expect_equal(cluster.psql(DB, "SELECT name_key FROM national WHERE name_latin = 'SONG MINHO'"), "송민호 songminho")
    r = S["staff-a"].get("/api/v1/nationals?q=song%20minho")
    check(r.status == 200 and "SONG MINHO" in r.body, "found by the Latin name: %s" % r.body[:300])
    # A new Latin name with the Hangul one kept: the key is of both.
    rep = post_csv(S["staff-a"], "영문성명,생년월일,휴대전화\nSONG MIN HO,1981-03-03,+90 532 111 22 99\n").json()
    expect_equal(cluster.psql(DB, "SELECT name_key FROM national WHERE name_ko = '송민호'"), "송민호 songminho")


def one_person_on_several_rows_is_one_person():
    f = ("성명,영문성명,생년월일,휴대전화\n"
         "최수아,CHOI SUA,1999-09-09,+90 532 444 55 66\n"
         ",CHOI SUA,1999-09-09,+90 532 444 55 66\n"
         "최수아,,1999-09-09,+90 532 444 55 66\n")
    rep = post_csv(S["staff-a"], f).json()
    expect_equal(rep["inserted"], 1, rep)
    expect_equal(sorted((e["line"], e["field"]) for e in rep["errors"]), [(3, "phone"), (4, "phone")], rep["errors"])
    check(all("line 2" in e["reason"] for e in rep["errors"]), rep["errors"])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_key LIKE '%%choisua%%' OR name_key LIKE '최수아%%'"), "1")


def an_export_reads_back_unchanged_whatever_its_white_space():
    rep = post_csv(S["staff-b"], "영문성명,생년월일,휴대전화\nTAB NOTE,1977-07-07,+380 50 765 4321\n").json()
    expect_equal(rep["inserted"], 1, rep)
    nid = cluster.psql(DB, "SELECT id FROM national WHERE name_latin = 'TAB NOTE'")
    r = S["staff-b"].request("PATCH", "/api/v1/nationals/" + nid, body=json.dumps({
        "notes": "\tinsulin twice a day\r\nsecond  line", "address": " Khreshchatyk  1 "}).encode(),
        headers={"Content-Type": "application/json"})
    expect_equal(r.status, 200, r.body)
    stored = cluster.psql(DB, "SELECT notes || '|' || address FROM national WHERE id = " + nid)
    export = S["staff-b"].get("/api/v1/nationals/export.csv").body
    check("\"'\tinsulin" in export, "the tab is escaped: %r" % export)
    # This person's row alone (others of the mission are known by a name only).
    rows = list(csv.reader(io.StringIO(export, newline="")))
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows([rows[0]] + [x for x in rows[1:] if x[0] == nid])
    export = out.getvalue()
    rep = post_csv(S["staff-b"], export).json()
    expect_equal((rep["inserted"], rep["updated"]), (0, 0), rep)
    expect_equal(cluster.psql(DB, "SELECT notes || '|' || address FROM national WHERE id = " + nid), stored, "kept")
    # A note really changed is still written.
    rep = post_csv(S["staff-b"], export.replace("second  line", "third line")).json()
    expect_equal(rep["updated"], 1, rep)
    expect_equal(cluster.psql(DB, "SELECT notes FROM national WHERE id = " + nid), "insulin twice a day\nthird line")


def a_passport_of_someone_else_rewrites_no_one():
    record_secret("T12121212")
    first = "성명,영문성명,생년월일,여권번호,휴대전화\n양지원,YANG JIWON,1970-01-01,T12121212,+90 532 777 00 01\n"
    expect_equal(post_csv(S["staff-a"], first).json()["inserted"], 1, "first")
    nid = cluster.psql(DB, "SELECT id FROM national WHERE passport_no = 'T12121212'")
    stored = "SELECT name_ko || '|' || name_latin || '|' || birth_date FROM national WHERE id = " + nid
    before = cluster.psql(DB, stored)
    # A typo in a passport number: the number of someone whose names share nothing with the row's.
    typo = "성명,영문성명,생년월일,여권번호\n백민서,BAEK MINSEO,1991-02-03,T12121212\n"
    r = post_csv(S["staff-a"], typo)
    expect_equal(r.status, 200, r.body)
    rep = r.json()
    expect_equal((rep["inserted"], rep["updated"], rep["unchanged"], rep["bad_rows"]), (0, 0, 0, 1), rep)
    e = [x for x in rep["errors"] if x["line"] == 2]
    check(len(e) == 1 and e[0]["field"] == "passport_no" and
          "is held by another person (national %s)" % nid in e[0]["reason"], "the conflict named: %r" % rep["errors"])
    check("T12121212" not in e[0]["reason"] and "T*" in e[0]["reason"], "the passport masked: %r" % e[0])
    expect_equal(cluster.psql(DB, stored), before, "the holder untouched")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin = 'BAEK MINSEO'"), "0", "no one added")
    r = post_csv(S["staff-a"], typo, "?all_or_nothing=true")
    expect_equal(r.status, 422, r.body)
    path = os.path.join(d.workdir, "typo.csv")
    with open(path, "w", encoding="utf-8") as f:
        f.write(typo)
    r = ctl(conninfo, "import", "nationals", path, "--mission", "TR-ANK")
    expect_equal(r.returncode, 1, r.stdout + r.stderr)
    check("typo.csv:2: passport_no: passport T*" in r.stdout and "T12121212" not in r.stdout, r.stdout)
    # Deleted, its holder still has it: a row of other names is not a sign of them either.
    cluster.psql(DB, "SET ROLE safety; UPDATE national SET deleted_at = now() WHERE id = " + nid)
    rep = post_csv(S["staff-a"], typo).json()
    expect_equal((rep["inserted"], rep["skipped_deleted"], rep["bad_rows"]), (0, 0, 1), rep)
    check("(national %s)" % nid in rep["errors"][0]["reason"], rep["errors"])
    cluster.psql(DB, "SET ROLE safety; UPDATE national SET deleted_at = NULL WHERE id = " + nid)
    # One of the two names is enough, as everywhere in the merge: a new spelling is taken.
    rep = post_csv(S["staff-a"], "성명,영문성명,여권번호\n양지원,YANG JEEWON,T12121212\n").json()
    expect_equal((rep["inserted"], rep["updated"], rep["errors"]), (0, 1, []), rep)
    expect_equal(cluster.psql(DB, "SELECT name_latin FROM national WHERE id = " + nid), "YANG JEEWON", "renamed")


def an_export_reads_back_by_its_ids():
    rep = post_csv(S["staff-b"], "영문성명\nONLY NAME\n").json()
    expect_equal(rep["inserted"], 1, rep)
    nid = cluster.psql(DB, "SELECT id FROM national WHERE name_latin = 'ONLY NAME'")
    export = S["staff-b"].get("/api/v1/nationals/export.csv").body
    rows = list(csv.reader(io.StringIO(export, newline="")))
    expect_equal(rows[0][:2], ["\ufeffid", "mission"], "the export's id and mission columns")

    def file_of(row):
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerows([rows[0], row])
        return out.getvalue()

    mine = [x for x in rows[1:] if x[0] == nid][0]
    # Nothing but a name to match on: the id finds the person.
    rep = post_csv(S["staff-b"], file_of(mine)).json()
    expect_equal((rep["inserted"], rep["updated"], rep["unchanged"], rep["errors"]), (0, 0, 1, []), rep)
    check(not any("cannot be told apart" in w["reason"] for w in rep["warnings"]), rep["warnings"])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin = 'ONLY NAME'"), "1", "no twin")
    # An address added in the export is written to that person.
    rep = post_csv(S["staff-b"], file_of(mine[:16] + ["Podil 3"] + mine[17:])).json()
    expect_equal((rep["inserted"], rep["updated"]), (0, 1), rep)
    expect_equal(cluster.psql(DB, "SELECT address FROM national WHERE id = " + nid), "Podil 3", "updated by id")
    # The id of someone of other names, of another mission, of no one: refused, nothing stored.
    other = cluster.psql(DB, "SELECT id FROM national WHERE name_latin = 'TAB NOTE'")
    for row, why in (([other] + mine[1:], "has neither of these names"),
                     ([cluster.psql(DB, "SELECT min(id) FROM national WHERE mission_id = %d" % A)] + mine[1:],
                      "no national of this mission has this id"),
                     (["999999999"] + mine[1:], "no national of this mission has this id"),
                     (["x7"] + mine[1:], "no national of this mission has this id")):
        r = post_csv(S["staff-b"], file_of(row))
        rep = r.json()
        expect_equal((rep["inserted"], rep["updated"], rep["bad_rows"]), (0, 0, 1), rep)
        check(any(e["line"] == 2 and e["field"] == "id" and why in e["reason"] for e in rep["errors"]),
              "%s: %r" % (why, rep["errors"]))
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin = 'ONLY NAME'"), "1", "still one")
    expect_equal(cluster.psql(DB, "SELECT name_latin FROM national WHERE id = " + other), "TAB NOTE", "untouched")
    # Another mission's import of this export touches no one of either mission.
    count = cluster.psql(DB, "SELECT count(*) FROM national")
    rep = post_csv(S["staff-a"], file_of(mine)).json()
    expect_equal((rep["inserted"], rep["updated"], rep["bad_rows"]), (0, 0, 1), rep)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national"), count, "no one added")
    # An embassy's own id column, without the export's mission column, is no national id.
    rep = post_csv(S["staff-b"], "id,영문성명\n%s,OWN NUMBERING\n" % nid).json()
    expect_equal((rep["inserted"], rep["errors"]), (1, []), rep)


def argentine_mobiles_are_stored_as_dialled_from_abroad():
    body = ("영문성명,휴대전화\n"
            "ROJAS ANA,011 15-2345-6711\n"  # 2 Buenos Aires, national form
            "PAZ LUIS,+54 351 15 234 5612\n"  # 3 Córdoba, international form with 15
            "SOSA EVA,0299915123456\n")  # 4 no area code known: refused
    r = ctl(conninfo, "mission", "add", "AR-BUE", "--name", "Embassy in Buenos Aires", "--country", "AR")
    expect_equal(r.returncode, 0, r.stdout + r.stderr)
    ar = cluster.psql(DB, "SELECT id FROM mission WHERE code = 'AR-BUE'")
    rep = S["admin"].request("POST", "/api/v1/nationals/import?mission=" + ar, body=body.encode(),
                             headers={"Content-Type": "text/csv; charset=utf-8"}).json()
    expect_equal(rep["inserted"], 2, rep)
    check([(e["line"], e["field"]) for e in rep["errors"]] == [(4, "phone")] and
          "write +54 9" in rep["errors"][0]["reason"], rep["errors"])
    expect_equal(cluster.psql(DB, "SELECT string_agg(c.value, ' ' ORDER BY n.name_latin) FROM contact c "
                                  "JOIN national n ON n.id = c.national_id WHERE n.mission_id = " + ar),
                 "+5493512345612 +5491123456711", "E.164 as dialled from abroad")
    # Numbers stored before, digit for digit, are rewritten by the migration.
    cluster.psql(DB, "SET ROLE safety; INSERT INTO national (mission_id, name_latin, name_key) VALUES "
                     "(%s, 'OLD ONE', 'oldone'), (%s, 'OLD TWO', 'oldtwo')" % (ar, ar))
    one, two = cluster.psql(DB, "SELECT id FROM national WHERE name_latin IN ('OLD ONE', 'OLD TWO') "
                                "ORDER BY name_latin").splitlines()
    cluster.psql(DB, "SET ROLE safety; INSERT INTO contact (national_id, kind, value, priority, verified) VALUES "
                     "(%s, 'phone', '+54111523456722', 1, true), (%s, 'phone', '+549351152345622', 2, false), "
                     "(%s, 'phone', '+541123456722', 3, false), (%s, 'phone', '+54299915123456', 4, false), "
                     "(%s, 'phone', '+54111523456733', 1, false), (%s, 'phone', '+5491123456733', 2, false)"
                     % (one, one, one, one, two, two))
    # Not due for a day: the daemon's sender leaves it queued meanwhile.
    cluster.psql(DB, "SET ROLE safety; INSERT INTO outbox (channel, recipient, body, state, next_attempt_at) "
                     "VALUES ('sms', '+54111523456744', 'queued', 'queued', now() + interval '1 day'), "
                     "('sms', '+54111523456744', 'sent', 'sent', now())")
    with open(os.path.join(SOURCE_DIR, "sql", "0043_argentine_mobiles.sql"), encoding="utf-8") as f:
        cluster.psql(DB, f.read())
    expect_equal(cluster.psql(DB, "SELECT string_agg(value || ':' || priority || ':' || verified, ' ' "
                                  "ORDER BY priority) FROM contact WHERE national_id = " + one),
                 "+5491123456722:1:false +5493512345622:2:false +541123456722:3:false +54299915123456:4:false",
                 "rewritten, landline and unknown area code kept")
    expect_equal(cluster.psql(DB, "SELECT string_agg(value || ':' || priority, ' ') FROM contact "
                                  "WHERE national_id = " + two), "+5491123456733:1", "one number kept, first")
    expect_equal(cluster.psql(DB, "SELECT string_agg(body || ':' || recipient, ' ' ORDER BY body) FROM outbox "
                                  "WHERE body IN ('queued', 'sent')"),
                 "queued:+5491123456744 sent:+54111523456744", "queued SMS rewritten, history kept")


def a_father_and_son_of_one_phone_are_two_people():
    record_secret("M11112222")
    father = post_csv(S["staff-a"], "영문성명,휴대전화,주소\nYOO MINJUN,+90 532 700 11 22,Ankara father\n").json()
    expect_equal(father["inserted"], 1, father)
    fid = cluster.psql(DB, "SELECT id FROM national WHERE name_latin = 'YOO MINJUN'")
    son = ("영문성명,휴대전화,생년월일,여권번호,주소\n"
           "YOO MINJUN,+90 532 700 11 22,2005-03-01,M11112222,Izmir son\n")
    rep = post_csv(S["staff-a"], son).json()
    expect_equal((rep["inserted"], rep["updated"]), (1, 0), "the son added, the father untouched: %r" % rep)
    w = [x for x in rep["warnings"] if x["line"] == 2]
    check(len(w) == 1 and "may be the same person as national %s " % fid in w[0]["reason"]
          and "merge by hand" in w[0]["reason"], "the father named: %r" % rep["warnings"])
    expect_equal(cluster.psql(DB, "SELECT coalesce(birth_date::text, '-') || ' ' || coalesce(passport_no, '-') "
                                  "|| ' ' || address FROM national WHERE id = %s" % fid), "- - Ankara father",
                 "the father keeps his record")
    rep = post_csv(S["staff-a"], son).json()
    expect_equal((rep["inserted"], rep["unchanged"], rep["warnings"]), (0, 1, []), "the son found by his passport")


def a_row_that_may_be_several_people_changes_none():
    record_secret("M99998888")
    f = ("영문성명,휴대전화,생년월일,주소\n"
         "YOO JIHO,+90 532 700 33 44,1960-01-01,Bursa\n"
         "YOO JIHO,+90 532 700 33 44,1990-01-01,Bursa\n")
    expect_equal(post_csv(S["staff-a"], f).json()["inserted"], 2, "a father and a son in one file")
    ids = cluster.psql(DB, "SELECT string_agg(id::text, ', ' ORDER BY id) FROM national WHERE name_latin = 'YOO JIHO'")
    rep = post_csv(S["staff-a"], "영문성명,휴대전화,여권번호,주소\nYOO JIHO,+90 532 700 33 44,M99998888,Antalya\n").json()
    expect_equal((rep["inserted"], rep["updated"], rep["bad_rows"]), (0, 0, 1), rep)
    expect_equal([(e["line"], e["field"]) for e in rep["errors"]], [(2, "phone")], rep["errors"])
    check("may be any of nationals %s" % ids in rep["errors"][0]["reason"], rep["errors"])
    expect_equal(cluster.psql(DB, "SELECT count(*) FILTER (WHERE passport_no IS NULL AND address = 'Bursa') "
                                  "FROM national WHERE name_latin = 'YOO JIHO'"), "2", "neither changed")


def children_of_one_name_and_birth_date_in_two_households():
    rep = post_csv(S["staff-a"], "성명,생년월일,가구,주소\n유민준,2018-04-04,FAM-A,Ankara A\n").json()
    expect_equal(rep["inserted"], 1, rep)
    first = cluster.psql(DB, "SELECT id FROM national WHERE name_ko = '유민준'")
    rep = post_csv(S["staff-a"], "성명,생년월일,가구,주소\n유민준,2018-04-04,FAM-B,Istanbul B\n").json()
    expect_equal((rep["inserted"], rep["updated"]), (1, 0), "another child: %r" % rep)
    check(any("may be the same person as national %s " % first in w["reason"] for w in rep["warnings"]), rep["warnings"])
    expect_equal(cluster.psql(DB, "SELECT string_agg(h.external_ref || ':' || n.address, ' ' ORDER BY n.id) "
                                  "FROM national n JOIN household h ON h.id = n.household_id WHERE n.name_ko = '유민준'"),
                 "FAM-A:Ankara A FAM-B:Istanbul B", "each child in their household")
    # The same child again, with the household: found; without it: either, so neither.
    rep = post_csv(S["staff-a"], "성명,생년월일,가구,주소\n유민준,2018-04-04,FAM-B,Istanbul B\n").json()
    expect_equal((rep["inserted"], rep["unchanged"], rep["warnings"]), (0, 1, []), rep)
    rep = post_csv(S["staff-a"], "성명,생년월일,주소\n유민준,2018-04-04,Izmir\n").json()
    expect_equal((rep["inserted"], rep["updated"], rep["bad_rows"]), (0, 0, 1), rep)
    check("may be any of nationals" in rep["errors"][0]["reason"], rep["errors"])
    # Two such children in one file are two children.
    rep = post_csv(S["staff-a"], "성명,생년월일,가구\n유서윤,2019-05-05,FAM-C\n유서윤,2019-05-05,FAM-D\n").json()
    expect_equal((rep["inserted"], rep["errors"]), (2, []), rep)
    check([(w["line"], "may be the same person as line 2" in w["reason"]) for w in rep["warnings"]] == [(3, True)],
          rep["warnings"])
    # In one file, a row with a birth date after one without is someone else too; a row
    # without one after two of them may be either, so it is refused.
    rep = post_csv(S["staff-a"], "영문성명,휴대전화,생년월일\nYOO HAJUN,+90 532 700 55 66,\n"
                                 "YOO HAJUN,+90 532 700 55 66,2006-06-06\n").json()
    expect_equal((rep["inserted"], rep["errors"]), (2, []), rep)
    rep = post_csv(S["staff-a"], "영문성명,휴대전화,생년월일\nYOO DOHA,+90 532 700 77 88,1970-07-07\n"
                                 "YOO DOHA,+90 532 700 77 88,2000-07-07\nYOO DOHA,+90 532 700 77 88,\n").json()
    expect_equal((rep["inserted"], [(e["line"], e["field"]) for e in rep["errors"]]), (2, [(4, "phone")]), rep)
    check("may be the person of line 2 or of line 3" in rep["errors"][0]["reason"], rep["errors"])


def names_stored_with_invisible_marks_meet_the_same_names_typed_without():
    cluster.psql(DB, "SET ROLE safety; INSERT INTO national (mission_id, name_ko, name_latin, name_key, birth_date) "
                     "VALUES (%d, U&'\\+00AE40\\034F\\+00BBFC\\+00C900', U&'WOO\\FE0F MIN', "
                     "U&'\\+00AE40\\034F\\+00BBFC\\+00C900 woo\\FE0Fmin', '2001-01-01'), "
                     "(%d, U&'\\845B\\+0E0100\\FE00', NULL, U&'\\845B\\+0E0100', '2002-02-02')" % (A, A))
    with open(os.path.join(SOURCE_DIR, "sql", "0046_invisible_marks_in_names.sql"), encoding="utf-8") as f:
        cluster.psql(DB, f.read())
    expect_equal(cluster.psql(DB, "SELECT name_ko || '|' || name_latin || '|' || name_key FROM national "
                                  "WHERE birth_date = '2001-01-01'"), "김민준|WOO MIN|김민준 woomin", "marks gone")
    expect_equal(cluster.psql(DB, "SELECT name_ko = U&'\\845B\\+0E0100', name_key = U&'\\845B' FROM national "
                                  "WHERE birth_date = '2002-02-02'"), "t|t", "a Han character keeps its form")
    rep = post_csv(S["staff-a"], "성명,영문성명,생년월일\n김\u034f민준,WOO MIN,2001-01-01\n").json()
    expect_equal((rep["inserted"], rep["unchanged"]), (0, 1), rep)


def a_roster_imported_again_keeps_the_place_a_person_answered_from():
    f = "성명,영문성명,생년월일,휴대전화,위도,경도\n남집,NAM JIP,1970-03-03,+90 532 710 00 01,39.92,32.85\n"
    expect_equal(post_csv(S["staff-a"], f).json()["inserted"], 1, "first")
    nid = cluster.psql(DB, "SELECT id FROM national WHERE name_latin = 'NAM JIP'")

    def place():
        return cluster.psql(DB, "SELECT last_point_source || ' ' || ST_AsText(last_point, 5) || ' ' "
                                "|| (SELECT count(*) FROM location WHERE national_id = %s) "
                                "FROM national WHERE id = %s" % (nid, nid))
    # They answered from a shelter in Hatay: the same roster again leaves them there.
    cluster.psql(DB, "SET ROLE safety; INSERT INTO location (national_id, point, source) "
                     "VALUES (%s, 'SRID=4326;POINT(36.16 36.2)', 'reply')" % nid)
    rep = post_csv(S["staff-a"], f).json()
    expect_equal((rep["updated"], rep["unchanged"], rep["warnings"]), (0, 1, []), rep)
    expect_equal(place(), "reply POINT(36.16 36.2) 2", "still where they answered from")
    # A roster giving another home does not send them there either, and says so.
    rep = post_csv(S["staff-a"], f.replace("39.92,32.85", "39.95,32.9")).json()
    expect_equal((rep["updated"], rep["unchanged"]), (0, 1), rep)
    w = [x for x in rep["warnings"] if x["line"] == 2]
    check(len(w) == 1 and w[0]["field"] == "location" and "national %s " % nid in w[0]["reason"]
          and "39.95" not in w[0]["reason"], rep["warnings"])
    expect_equal(place(), "reply POINT(36.16 36.2) 2", "the newer place kept")
    # Staff enter a place to more decimals than an export writes: the export reads back unchanged.
    r = S["staff-a"].patch("/api/v1/nationals/%s" % nid, {"location": {"lat": 39.12345678, "lon": 32.87654321}})
    expect_equal(r.status, 200, r.body)
    rows = list(csv.reader(io.StringIO(S["staff-a"].get("/api/v1/nationals/export.csv").body, newline="")))
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows([rows[0]] + [x for x in rows[1:] if x[0] == nid])
    rep = post_csv(S["staff-a"], out.getvalue()).json()
    expect_equal((rep["inserted"], rep["updated"], rep["unchanged"], rep["warnings"]), (0, 0, 1, []), rep)
    expect_equal(place(), "staff POINT(32.87654 39.12346) 3", "no location added")
    # The first roster once more: the file's own point, unchanged, and staff's place stays.
    rep = post_csv(S["staff-a"], f).json()
    expect_equal((rep["updated"], rep["unchanged"], rep["warnings"]), (0, 1, []), rep)
    expect_equal(place(), "staff POINT(32.87654 39.12346) 3", "staff's place kept")
    # An answer's place still queued for the registry counts as given: a roster run before
    # the maintenance run writes it does not send the person home either.
    cluster.psql(DB, "SET ROLE safety; INSERT INTO reply_location_pending (national_id, point, source, observed_at) "
                     "VALUES (%s, 'SRID=4326;POINT(36.3 36.4)', 'reply', now())" % nid)
    rep = post_csv(S["staff-a"], f.replace("39.92,32.85", "39.97,32.95")).json()
    expect_equal((rep["updated"], rep["unchanged"]), (0, 1), rep)
    check([x["field"] for x in rep["warnings"] if x["line"] == 2] == ["location"], rep["warnings"])
    cluster.psql(DB, "SELECT reply_locations_drain()")
    expect_equal(place(), "reply POINT(36.3 36.4) 4", "the answer's place is the newest once written")
    # The residence a person gave in their own registration since the last roster is as new:
    # the roster's next home is held back too.
    g = "영문성명,생년월일,휴대전화,위도,경도\nOH DEUNG,1971-04-04,+90 532 710 00 02,39.92,32.85\n"
    expect_equal(post_csv(S["staff-a"], g).json()["inserted"], 1, "first")
    reg = cluster.psql(DB, "SELECT id FROM national WHERE name_latin = 'OH DEUNG'")
    cluster.psql(DB, "SET ROLE safety; INSERT INTO location (national_id, point, source) "
                     "VALUES (%s, 'SRID=4326;POINT(35.33 37.0)', 'registration')" % reg)
    rep = post_csv(S["staff-a"], g.replace("39.92,32.85", "39.90,32.80")).json()
    expect_equal((rep["updated"], rep["unchanged"]), (0, 1), rep)
    w = [x for x in rep["warnings"] if x["line"] == 2]
    check(len(w) == 1 and w[0]["field"] == "location" and "registration" in w[0]["reason"], rep["warnings"])
    expect_equal(cluster.psql(DB, "SELECT last_point_source || ' ' || ST_AsText(last_point, 5) FROM national "
                                  "WHERE id = %s" % reg), "registration POINT(35.33 37)", "their own place kept")


def a_roster_without_birth_dates_never_picks_one_of_two_people():
    """Two people of one name and phone, one stored with a birth date and one without: a
    roster with no birth dates cannot tell which, so its row is refused naming both."""
    r = S["staff-a"].request("POST", "/api/v1/nationals", body=(
        '{"name_latin": "JUNG BU", "birth_date": "1960-01-01", "phone": "+90 532 730 00 09", '
        '"address": "Ankara home", "kind": "resident"}').encode(), headers={"Content-Type": "application/json"})
    expect_equal(r.status, 201, r.body)
    # The other, stored without a birth date (as an older roster did).
    cluster.psql(DB, "SET ROLE safety; WITH n AS (INSERT INTO national (mission_id, name_latin, name_key, address, kind) "
                     "SELECT mission_id, name_latin, name_key, 'Ankara other', kind FROM national "
                     "WHERE name_latin = 'JUNG BU' RETURNING id) INSERT INTO contact (national_id, kind, value) "
                     "SELECT id, 'phone', '+905327300009' FROM n")
    both = cluster.psql(DB, "SELECT string_agg(id::text, ', ' ORDER BY id) FROM national WHERE name_latin = 'JUNG BU'")
    rep = post_csv(S["staff-a"], "영문성명,휴대전화,주소\nJUNG BU,+90 532 730 00 09,Dormitory Istanbul\n").json()
    expect_equal((rep["inserted"], rep["updated"]), (0, 0), rep)
    errs = [e for e in rep["errors"] if e["line"] == 2]
    check(len(errs) == 1 and ("may be any of nationals " + both) in errs[0]["reason"], rep)
    expect_equal(cluster.psql(DB, "SELECT string_agg(address, ',' ORDER BY id) FROM national WHERE name_latin = 'JUNG BU'"),
                 "Ankara home,Ankara other", "nobody changed")


def a_roster_never_cuts_short_a_trip_of_stored_legs():
    record_secret("T55550001")
    head = "성명,영문성명,생년월일,여권번호,휴대전화,구분,입국일,출국일\n"
    rep = post_csv(S["staff-a"], head + "서여행,SEO YEOHAENG,1985-05-05,T55550001,+90 532 720 10 01,여행자,"
                                        "2027-12-04,2027-12-20\n").json()
    expect_equal(rep["inserted"], 1, rep)
    nid = cluster.psql(DB, "SELECT id FROM national WHERE passport_no = 'T55550001'")
    cluster.psql(DB, "SET ROLE safety; INSERT INTO itinerary_leg (national_id, seq, country, arrival, departure, "
                     "source) VALUES (%s, 1, 'TR', '2027-12-04', '2027-12-20', 'partner')" % nid)
    # The embassy's roster remembers an earlier trip: the stay now covers both, the leg ahead kept.
    rep = post_csv(S["staff-a"], head + "서여행,SEO YEOHAENG,1985-05-05,T55550001,+90 532 720 10 01,여행자,"
                                        "2027-09-01,2027-10-01\n").json()
    expect_equal((rep["updated"], rep["errors"]), (1, []), rep)
    expect_equal(cluster.psql(DB, "SELECT arrival_date || ' ' || departure_date FROM national WHERE id = " + nid),
                 "2027-09-01 2027-12-20", "the trip of the legs kept")
    rep = post_csv(S["staff-a"], head + "서여행,SEO YEOHAENG,1985-05-05,T55550001,+90 532 720 10 01,여행자,"
                                        "2027-09-01,2027-10-01\n").json()
    expect_equal((rep["updated"], rep["unchanged"]), (0, 1), "the same roster again: %r" % rep)


def a_row_whose_dates_clash_with_the_stored_trip_is_refused_alone():
    rep = post_csv(S["staff-a"], "성명,영문성명,생년월일,휴대전화,구분,입국일,출국일\n"
                                 "여행일,YEO HAENGIL,1991-01-01,+90 532 720 20 01,여행자,2027-11-01,2027-11-10\n"
                                 "박거주,PARK GEOJU,1991-01-02,+90 532 720 20 02,거주자,,\n").json()
    expect_equal(rep["inserted"], 2, rep)
    # A new arrival only, after the stored departure: that row refused, the other added.
    r = post_csv(S["staff-a"], "성명,영문성명,생년월일,휴대전화,입국일\n"
                               "여행일,YEO HAENGIL,1991-01-01,+90 532 720 20 01,2027-12-01\n"
                               "다른,DAREUN,1991-01-03,+90 532 720 20 03,\n")
    rep = r.json()
    expect_equal((r.status, rep["inserted"], rep["updated"], rep["bad_rows"]), (200, 1, 0, 1), rep)
    expect_equal([(e["line"], e["field"]) for e in rep["errors"]], [(2, "departure_date")], rep["errors"])
    check("before the arrival date" in rep["errors"][0]["reason"] and "give both dates" in rep["errors"][0]["reason"]
          and "2027" not in rep["errors"][0]["reason"], rep["errors"])
    expect_equal(cluster.psql(DB, "SELECT arrival_date || ' ' || departure_date FROM national "
                                  "WHERE name_latin = 'YEO HAENGIL'"), "2027-11-01 2027-11-10", "nothing lost")
    # With both dates of the new trip it goes in.
    rep = post_csv(S["staff-a"], "성명,영문성명,생년월일,휴대전화,입국일,출국일\n"
                                 "여행일,YEO HAENGIL,1991-01-01,+90 532 720 20 01,2027-12-01,2027-12-09\n").json()
    expect_equal((rep["updated"], rep["errors"]), (1, []), rep)
    # A new departure only, before the stored arrival: refused the same way.
    rep = post_csv(S["staff-a"], "성명,영문성명,생년월일,휴대전화,출국일\n"
                                 "여행일,YEO HAENGIL,1991-01-01,+90 532 720 20 01,2027-11-20\n").json()
    expect_equal((rep["updated"], [(e["line"], e["field"]) for e in rep["errors"]]), (0, [(2, "departure_date")]), rep)
    # All or nothing: the file refused, naming the row.
    rep = post_csv(S["staff-a"], "성명,영문성명,생년월일,휴대전화,입국일\n"
                                 "여행일,YEO HAENGIL,1991-01-01,+90 532 720 20 01,2028-01-01\n"
                                 "다른셋,DAREUN SET,1991-01-05,+90 532 720 20 05,\n", "?all_or_nothing=true").json()
    expect_equal((rep["applied"], rep["inserted"], [e["line"] for e in rep["errors"]]), (False, 0, [2]), rep)


def a_renewed_passport_in_a_file_without_birth_dates_names_who_it_may_be():
    record_secret("M55550001")
    record_secret("M99990001")
    rep = post_csv(S["staff-a"], "성명,영문성명,생년월일,여권번호,휴대전화\n"
                                 "오여권,OH YEOGWON,1975-04-04,M55550001,+90 532 730 00 01\n").json()
    expect_equal(rep["inserted"], 1, rep)
    oid = cluster.psql(DB, "SELECT id FROM national WHERE passport_no = 'M55550001'")
    rep = post_csv(S["staff-a"], "성명,영문성명,여권번호,휴대전화\n오여권,OH YEOGWON,M99990001,+90 532 730 00 01\n").json()
    expect_equal((rep["inserted"], rep["updated"], rep["errors"]), (1, 0, []), rep)
    w = [x for x in rep["warnings"] if x["line"] == 2]
    check(len(w) == 1 and "may be the same person as national %s " % oid in w[0]["reason"]
          and "merge by hand" in w[0]["reason"] and "M9999" not in w[0]["reason"], rep["warnings"])
    expect_equal(cluster.psql(DB, "SELECT passport_no FROM national WHERE id = " + oid), "M55550001", "kept")


def a_father_and_son_of_one_file_are_found_again_by_it():
    f = ("성명,영문성명,생년월일,휴대전화\n정사,JUNG SA,,+90 532 730 00 04\n"
         "정사,JUNG SA,2010-01-01,+90 532 730 00 04\n")
    rep = post_csv(S["staff-a"], f).json()
    expect_equal((rep["inserted"], rep["errors"]), (2, []), rep)
    check([(w["line"], "taken as two people" in w["reason"]) for w in rep["warnings"]] == [(3, True)], rep["warnings"])
    for query in ("", "?all_or_nothing=true"):
        rep = post_csv(S["staff-a"], f, query).json()
        expect_equal((rep["applied"], rep["inserted"], rep["updated"], rep["unchanged"], rep["errors"]),
                     (True, 0, 0, 2, []), "the same file again%s: %r" % (query, rep))
        check(not any("both added" in w["reason"] for w in rep["warnings"]), rep["warnings"])
    # A row without a birth date alone could be either: refused naming both, nobody changed.
    rep = post_csv(S["staff-a"], "성명,영문성명,생년월일,휴대전화,주소\n정사,JUNG SA,,+90 532 730 00 04,Ankara\n").json()
    expect_equal((rep["updated"], [e["line"] for e in rep["errors"]]), (0, [2]), rep)
    check("may be any of nationals" in rep["errors"][0]["reason"], rep)
    expect_equal(cluster.psql(DB, "SELECT string_agg(coalesce(birth_date::text, '-') || ':' || coalesce(address, '-'), "
                                  "' ' ORDER BY id) FROM national WHERE name_latin = 'JUNG SA'"),
                 "-:- 2010-01-01:-", "nobody changed")


def people_an_import_adds_inside_a_running_check_in_are_asked():
    sh("mission", "add", "TH-BKK", "--name", "Embassy in Bangkok", "--country", "TH")
    m = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'TH-BKK'"))
    admin = "?mission=%d" % m
    # Someone there before the crisis, asked at the launch.
    expect_equal(post_csv(S["admin"], "name_latin,phone,lat,lon\nBKK FIRST,+66 81 300 0000,13.75,100.50\n",
                          admin).status, 200, "first")
    cluster.psql(DB, "SELECT crisis_declare('flood', 'Chao Phraya flood', NULL, 4::smallint, false, NULL, "
                     "13.75, 100.50, 20000, ARRAY[%d::bigint], 'tester', 'admin', NULL, '')" % m)
    crisis = int(cluster.psql(DB, "SELECT max(id) FROM crisis"))
    cluster.psql(DB, "SELECT campaign_start(%d, %d, '{\"en\": \"{name}, are you safe? {link}\"}', "
                     "ARRAY['sms'], 1800, 3, 'lead', 'mission_lead', '')" % (crisis, m))
    expect_equal(cluster.psql(DB, "SELECT targeted FROM campaign WHERE crisis_id = %d" % crisis), "1", "launched")
    # 50 rows inside the flood, 50 in Chiang Mai.
    rows = ["name_latin,passport_no,phone,lat,lon"]
    for i in range(100):
        inside = i % 2 == 0
        rows.append("BKK PERSON %03d,M7%07d,+66 81 3%02d %04d,%s" % (
            i, i, i // 10, 1000 + i, "13.7%02d,100.5%02d" % (i, i) if inside else "18.79,98.98"))
    body = "\n".join(rows) + "\n"
    rep = post_csv(S["admin"], body, admin).json()
    expect_equal(rep["inserted"], 100, rep)

    def asked():
        return cluster.psql(DB, "SELECT count(*) FILTER (WHERE k.state = 'asked'), "
                                "count(*) FILTER (WHERE n.last_point::geometry && "
                                "ST_MakeEnvelope(98, 18, 100, 19, 4326)), "
                                "(SELECT count(*) FROM outbox o WHERE o.crisis_id = %d AND o.kind = 'checkin'), "
                                "(SELECT targeted FROM campaign WHERE crisis_id = %d), "
                                "(SELECT count(*) FROM person_status p WHERE p.crisis_id = %d "
                                "AND p.status = 'pending') "
                                "FROM checkin k JOIN national n ON n.id = k.national_id WHERE k.crisis_id = %d"
                            % (crisis, crisis, crisis, crisis))
    expect_equal(asked(), "51|0|51|51|51", "the 50 inside asked, messaged, counted and pending; none outside")
    # The launch's message, with the marker their reply link is put at when it is sent.
    expect_equal(cluster.psql(DB, "SELECT string_agg(n.name_latin || ':' || o.body || ':' || o.recipient, '|' "
                                  "ORDER BY n.name_latin) FROM outbox o JOIN national n ON n.id = o.national_id "
                                  "WHERE o.crisis_id = %d AND n.name_latin IN ('BKK FIRST', 'BKK PERSON 000')"
                              % crisis),
                 "BKK FIRST:BKK FIRST, are you safe? \x1fLINK\x1f:+66813000000|"
                 "BKK PERSON 000:BKK PERSON 000, are you safe? \x1fLINK\x1f:+66813001000", "the message")
    # The same file again, and again with everyone moved inside: nobody asked twice.
    expect_equal(post_csv(S["admin"], body, admin).json()["unchanged"], 100, "again")
    expect_equal(asked(), "51|0|51|51|51", "a file imported again asks no one again")
    moved = "\n".join(r.replace("18.79,98.98", "13.76,100.51") if i else r for i, r in enumerate(rows)) + "\n"
    expect_equal(post_csv(S["admin"], moved, admin).json()["updated"], 50, "moved")
    expect_equal(asked(), "101|0|101|101|101", "the 50 who moved inside asked, the others not again")
    cluster.psql(DB, "SELECT crisis_close(%d)" % crisis)


def a_fifo_is_refused_not_waited_on():
    """safetyctl import given a FIFO (or another file that is not a regular one) says so at
    once, instead of waiting for ever in open() for a writer that never comes."""
    fifo = os.path.join(tempfile.mkdtemp(prefix="safety-fifo-", dir=os.environ.get("SAFETY_TEST_TMP")), "rows")
    os.mkfifo(fifo)
    env = dict(os.environ, SAFETY_DATABASE_URL=conninfo)
    env.pop("SAFETY_MIGRATE_URL", None)
    for kind in ("nationals", "shelters", "regions"):
        try:
            r = subprocess.run([SAFETYCTL, "import", kind, fifo, "--mission", "TR-ANK"], capture_output=True,
                               text=True, env=env, timeout=20)
        except subprocess.TimeoutExpired:
            raise AssertionError("safetyctl import %s waited on a FIFO" % kind)
        check(r.returncode != 0 and "not a regular file" in r.stderr, "%s: %s%s" % (kind, r.stdout, r.stderr))
    os.unlink(fifo)


try:
    run([
        a_fifo_is_refused_not_waited_on,
        mixed_csv_imports_exactly_the_good_rows,
        the_same_file_twice_changes_nothing,
        a_changed_row_updates_instead_of_adding_a_twin,
        a_file_without_a_column_keeps_what_is_stored,
        doubtful_parameters_are_refused,
        all_or_nothing_and_dry_run,
        duplicate_passport_in_one_file_is_reported,
        refused_files_say_why,
        json_import_and_one_person_at_a_time,
        scoping_and_roles,
        safetyctl_imports_with_korean_headers_and_a_mapping,
        a_deleted_person_is_not_brought_back_unasked,
        a_renewed_passport_is_replaced_and_said,
        two_imports_at_once_add_each_person_once,
        rows_without_passport_or_phone_are_found_again,
        a_file_without_birth_dates_matches_people_stored_with_one,
        one_name_in_the_file_keeps_the_other_searchable,
        one_person_on_several_rows_is_one_person,
        an_export_reads_back_unchanged_whatever_its_white_space,
        a_passport_of_someone_else_rewrites_no_one,
        an_export_reads_back_by_its_ids,
        argentine_mobiles_are_stored_as_dialled_from_abroad,
        a_father_and_son_of_one_phone_are_two_people,
        a_row_that_may_be_several_people_changes_none,
        children_of_one_name_and_birth_date_in_two_households,
        names_stored_with_invisible_marks_meet_the_same_names_typed_without,
        people_an_import_adds_inside_a_running_check_in_are_asked,
        a_roster_imported_again_keeps_the_place_a_person_answered_from,
        a_roster_never_cuts_short_a_trip_of_stored_legs,
        a_row_whose_dates_clash_with_the_stored_trip_is_refused_alone,
        a_renewed_passport_in_a_file_without_birth_dates_names_who_it_may_be,
        a_father_and_son_of_one_file_are_found_again_by_it,
        a_roster_without_birth_dates_never_picks_one_of_two_people,
    ])
finally:
    d.stop()
    cluster.dropdb(DB)
