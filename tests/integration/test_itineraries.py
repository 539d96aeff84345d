"""Partners' itineraries: a person staff deleted is not brought back by a
partner's file (left out, named in warnings, restorable), and every row is
checked against the legs' limits (arrival from 2000 to 2100, at most 3,660
days, at most 20 legs per traveller) with its line, a leg given twice in a
file is stored once, and the good rows go in. Travellers a partner puts in
a running check-in's area are asked, and so are those whose trip there
begins, or a resident's trip away ends, while the check-in runs. Travellers
are matched as in the nationals import: a passport only with a name of its
holder, rows with and without it one person, one script of the name enough;
the same file sent twice at once adds everyone once. A partner's file of
thousands of travellers is stored whole, past the pool's query timeout."""

import datetime
import os
import threading
import time

from harness import Cluster, Daemon, Session, check, ctl, eventually, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_itineraries"
PASSWORD = record_secret("Hatay-Itinerary-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "10", "--seed", "3").returncode, 0, "demo")
# Maintenance every second: the runs that ask people whose trip began.
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}, "channels": {"escalate_interval": "1"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
expect_equal(ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file",
                 pwfile).returncode, 0, "user")
lead = Session(d, "lead", PASSWORD)
MISSION = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'TR-ANK'"))
TODAY = datetime.date.today()
HEADER = "성명,영문성명,여권번호,생년월일,휴대전화,국가,도시,지역,도착일,출발일"


def day(n):
    return (TODAY + datetime.timedelta(days=n)).isoformat()


def send(rows, dry=False):
    body = ("\n".join([HEADER] + rows) + "\n").encode()
    return lead.request("POST", "/api/v1/itineraries/import?source=Hana+Tours&dry_run=%s" % ("true" if dry else "false"),
                        body, headers={"Content-Type": "text/csv; charset=utf-8"})


def a_person_staff_deleted_is_not_brought_back():
    r = lead.post("/api/v1/nationals", {"name_ko": "구삭제", "name_latin": "KOO DELETED", "birth_date": "1970-08-08",
                                        "passport_no": "M80808080", "phone": "010-8080-8080", "kind": "resident"})
    expect_equal(r.status, 201, r.body)
    gone = int(cluster.psql(DB, "SELECT id FROM national WHERE passport_no = 'M80808080'"))
    expect_equal(lead.delete("/api/v1/nationals/%d" % gone).status in (200, 204), True, "deleted")
    rows = ["구삭제,KOO DELETED,M80808080,1970-08-08,010-8080-8080,TR,Antakya,TR-31,%s,%s" % (day(3), day(7)),
            # The same person without the passport: name, birth date and phone.
            "구삭제,KOO DELETED,,1970-08-08,010-8080-8080,TR,Istanbul,TR-34,%s,%s" % (day(8), day(9)),
            "신여행,SHIN TRAVEL,M80808181,1985-01-01,,TR,Antakya,TR-31,%s,%s" % (day(3), day(7))]
    dry = send(rows, dry=True).json()
    expect_equal((dry["travellers_added"], dry["skipped_deleted"]), (1, 2), dry)
    r = send(rows)
    expect_equal(r.status, 200, r.body)
    rep = r.json()
    expect_equal((rep["travellers_added"], rep["legs_added"], rep["skipped_deleted"], rep["bad_rows"]), (1, 1, 2, 0), rep)
    expect_equal([(w["line"], w["field"]) for w in rep["warnings"]], [(2, "national"), (3, "national")], rep)
    check(all("national %d" % gone in w["reason"] and "/restore" in w["reason"] for w in rep["warnings"]), rep)
    check(all("M8080" not in w["reason"] and "KOO" not in w["reason"] for w in rep["warnings"]), "no values quoted")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE passport_no = 'M80808080'"), "1", "no twin")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin = 'KOO DELETED'"), "1", "no twin by name")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM itinerary_leg WHERE national_id = %d" % gone), "0", "no legs")
    expect_equal(lead.post("/api/v1/nationals/%d/restore" % gone, {}).status, 200, "restored")
    again = send(rows).json()
    expect_equal((again["travellers_added"], again["travellers_matched"], again["skipped_deleted"]), (0, 2, 0), again)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM itinerary_leg WHERE national_id = %d" % gone), "2",
                 "once restored, their legs come in")


def rows_are_checked_against_the_legs_limits_with_their_lines():
    rows = ["조과거,CHO PAST,M81000001,1980-01-01,,TR,Antakya,TR-31,1999-12-30,2000-01-02",
            "조장기,CHO LONG,M81000002,1980-01-01,,TR,Antakya,TR-31,2027-01-01,2037-12-31"]
    # One traveller with 25 legs of a day each: the 21st to 25th are refused.
    for i in range(25):
        rows.append("조많음,CHO MANY,M81000003,1980-01-01,,TR,Stop %d,TR-31,%s,%s" % (i + 1, day(2 * i), day(2 * i + 1)))
    # The same leg twice in one file, and a good leg of the same traveller.
    rows += ["조두번,CHO TWICE,M81000004,1980-01-01,,TR,Antakya,TR-31,%s,%s" % (day(3), day(7)),
             "조두번,CHO TWICE,M81000004,1980-01-01,,TR,Antakya,TR-31,%s,%s" % (day(3), day(7)),
             "조두번,CHO TWICE,M81000004,1980-01-01,,TR,Istanbul,TR-34,%s,%s" % (day(8), day(9))]
    dry = send(rows, dry=True)
    expect_equal(dry.status, 200, dry.body)
    r = send(rows)
    expect_equal(r.status, 200, r.body)
    rep = r.json()
    errors = sorted((e["line"], e["field"]) for e in rep["errors"])
    expect_equal(errors, [(2, "arrival_date"), (3, "departure_date")] + [(n, "legs") for n in range(24, 29)], rep["errors"])
    check(all("1999" not in e["reason"] and "CHO" not in e["reason"] for e in rep["errors"]), "no values quoted")
    expect_equal(rep["bad_rows"], 7, "bad rows")
    expect_equal(dry.json()["bad_rows"], 7, "a dry run says the same")
    expect_equal((rep["travellers_added"], rep["legs_added"]), (2, 22), rep)

    def legs(passport):
        return cluster.psql(DB, "SELECT count(*) FROM itinerary_leg l JOIN national n ON n.id = l.national_id "
                                "WHERE n.passport_no = '%s'" % passport)
    expect_equal((legs("M81000001"), legs("M81000002"), legs("M81000003"), legs("M81000004")), ("0", "0", "20", "2"),
                 "the good legs, each once")
    expect_equal(cluster.psql(DB, "SELECT departure_date FROM national WHERE passport_no = 'M81000003'"), day(39),
                 "the trip ends with the last leg stored")
    again = send(rows).json()
    expect_equal((again["travellers_added"], again["legs_added"], again["bad_rows"]), (0, 0, 7), again)


def a_traveller_the_registry_has_is_moved_by_a_partners_legs():
    antakya = (36.2025, 36.1604)

    def near(nid, on):
        return cluster.psql(DB, "SELECT count(*) FROM nationals_near(%d, ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography, "
                                "30000, '%s') WHERE national_id = %d" % (MISSION, antakya[1], antakya[0], on, nid))
    # Two travellers the embassy imported, far from Antakya (the demo's residents made
    # travellers); one has since said where she is.
    far = cluster.psql(DB, "SELECT id, passport_no, name_latin FROM national WHERE source <> 'self' "
                           "AND passport_no IS NOT NULL AND name_latin IS NOT NULL AND deleted_at IS NULL "
                           "AND last_point IS NOT NULL AND NOT ST_DWithin(last_point, ST_SetSRID(ST_MakePoint(%f, %f), "
                           "4326)::geography, 100000) ORDER BY id LIMIT 2" % (antakya[1], antakya[0])).splitlines()
    expect_equal(len(far), 2, "two travellers away from Antakya")
    (moved, p1, n1), (answered, p2, n2) = [(int(x.split("|")[0]),) + tuple(x.split("|")[1:]) for x in far]
    cluster.psql(DB, "UPDATE national SET kind = 'traveller', arrival_date = current_date - 5, "
                     "departure_date = current_date + 20 "
                     "WHERE id IN (%d, %d)" % (moved, answered))
    cluster.psql(DB, "INSERT INTO location (national_id, point, source, observed_at) SELECT id, last_point, 'reply', now() "
                     "FROM national WHERE id = %d" % answered)
    r = send([",%s,%s,,,TR,Antakya,TR-31,%s,%s" % (n1, p1, day(3), day(7)),
              ",%s,%s,,,TR,Antakya,TR-31,%s,%s" % (n2, p2, day(-1), day(7))])
    expect_equal(r.status, 200, r.body)
    expect_equal(r.json()["travellers_matched"], 2, r.body)
    expect_equal(near(moved, day(5)), "1", "in Antakya on a day of the partner's leg")
    expect_equal(near(moved, day(-3)), "0", "not before it")
    expect_equal(near(answered, day(5)), "0", "an answer given since the trip began is fresher than the plan")


def travellers_a_partner_puts_inside_a_running_check_in_are_asked():
    antakya = (36.2025, 36.1604)
    crisis = lead.post("/api/v1/crises", {"kind": "earthquake", "title": "M5.9 Antakya", "severity": 4,
                                          "circle": {"lat": antakya[0], "lon": antakya[1], "radius_m": 30000}}).json()["id"]
    launched = lead.post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"]})
    check(launched.status in (200, 201, 202), launched.body)
    r = send(["박도착,PARK ARRIVAL,M82000001,1988-01-01,010-8200-0001,TR,Antakya,TR-31,%s,%s" % (day(-1), day(4)),
              "박다른,PARK OTHER,M82000002,1988-01-01,010-8200-0002,TR,Istanbul,TR-34,%s,%s" % (day(-1), day(4))])
    expect_equal(r.status, 200, r.body)
    expect_equal(cluster.psql(DB, "SELECT string_agg(n.passport_no || ':' || k.state || ':' || o.recipient, ',') "
                                  "FROM checkin k JOIN national n ON n.id = k.national_id "
                                  "JOIN outbox o ON o.crisis_id = k.crisis_id AND o.national_id = k.national_id "
                                  "WHERE k.crisis_id = %d AND n.passport_no LIKE 'M82%%'" % crisis),
                 "M82000001:asked:+821082000001", "the traveller whose leg is there is asked, the other not")
    expect_equal(cluster.psql(DB, "SELECT targeted FROM campaign WHERE crisis_id = %d" % crisis),
                 cluster.psql(DB, "SELECT count(*) FROM checkin WHERE crisis_id = %d" % crisis), "and counted")
    expect_equal(lead.patch("/api/v1/crises/%d" % crisis, {"state": "closed"}).status, 200, "closed")


def people_whose_trip_begins_during_a_check_in_are_asked():
    # Days pass by moving the data back: the launch, the legs and the trips five days earlier.
    antakya = (36.2025, 36.1604)
    home = lead.post("/api/v1/nationals", {"name_ko": "한집", "name_latin": "HAN HOME", "birth_date": "1975-03-03",
                                           "passport_no": "M83000003", "phone": "010-8300-0003", "kind": "resident",
                                           "location": {"lat": antakya[0], "lon": antakya[1]}})
    expect_equal(home.status, 201, home.body)
    # Away in Istanbul on the day of the launch, back home two days later.
    r = send(["한집,HAN HOME,M83000003,1975-03-03,010-8300-0003,TR,Istanbul,TR-34,%s,%s" % (day(-2), day(2))])
    expect_equal(r.json()["travellers_matched"], 1, r.body)
    crisis = lead.post("/api/v1/crises", {"kind": "earthquake", "title": "M6.1 Antakya", "severity": 4,
                                          "circle": {"lat": antakya[0], "lon": antakya[1], "radius_m": 30000}}).json()["id"]
    launched = lead.post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"]})
    check(launched.status in (200, 201, 202), launched.body)
    # Arriving in five days: one in the area, one elsewhere.
    r = send(["최도착,CHOI ARRIVES,M83000001,1990-01-01,010-8300-0001,TR,Antakya,TR-31,%s,%s" % (day(5), day(9)),
              "최다른,CHOI ELSEWHERE,M83000002,1990-01-01,010-8300-0002,TR,Istanbul,TR-34,%s,%s" % (day(5), day(9))])
    expect_equal(r.json()["travellers_added"], 2, r.body)

    def asked():
        return cluster.psql(DB, "SELECT coalesce(string_agg(n.passport_no || ':' || o.recipient, ',' "
                                "ORDER BY n.passport_no), '') FROM checkin k JOIN national n ON n.id = k.national_id "
                                "JOIN outbox o ON o.crisis_id = k.crisis_id AND o.national_id = k.national_id "
                                "WHERE k.crisis_id = %d AND n.passport_no LIKE 'M83%%'" % crisis)
    time.sleep(2.5)  # two maintenance runs
    expect_equal(asked(), "", "nobody asked before their trip begins or ends")
    people = "(SELECT id FROM national WHERE passport_no LIKE 'M83%')"
    # Another process holds the maintenance work: this one does none of it meanwhile.
    held = threading.Thread(target=cluster.psql, args=(DB, "SELECT pg_advisory_lock(7311520013); "
                                                           "SELECT pg_sleep(4)"))
    held.start()
    time.sleep(0.5)
    cluster.psql(DB, "SET ROLE safety; "
                     "UPDATE itinerary_leg SET arrival = arrival - 5, departure = departure - 5 WHERE national_id IN %s; "
                     "UPDATE national SET arrival_date = arrival_date - 5, departure_date = departure_date - 5 "
                     "WHERE id IN %s AND kind = 'traveller'; "
                     "UPDATE campaign SET launched_at = launched_at - interval '5 days' WHERE crisis_id = %d"
                     % (people, people, crisis))
    time.sleep(2)
    expect_equal((asked(), cluster.psql(DB, "SELECT coalesce(arrivals_checked_on::text, 'none') FROM campaign "
                                            "WHERE crisis_id = %d" % crisis)), ("", "none"),
                 "asked, or looked at, while another process holds the maintenance")
    held.join()
    # Five days to catch up, one per maintenance run.
    eventually(lambda: asked() == "M83000001:+821083000001,M83000003:+821083000003", timeout=20,
               what="the traveller who arrived and the resident back home asked")
    eventually(lambda: cluster.psql(DB, "SELECT arrivals_checked_on = current_date FROM campaign WHERE crisis_id = %d"
                                    % crisis) == "t", timeout=10, what="every day looked at, up to today")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM join_pending"), "0", "nobody left queued")
    expect_equal(cluster.psql(DB, "SELECT targeted FROM campaign WHERE crisis_id = %d" % crisis),
                 cluster.psql(DB, "SELECT count(*) FROM checkin WHERE crisis_id = %d" % crisis), "and counted")
    # A day looked at is not looked at again: the one elsewhere is not queued at every run.
    expect_equal(cluster.psql(DB, "SET ROLE safety; SELECT arrivals_join_crises()"), "0", "queued again")
    expect_equal(asked(), "M83000001:+821083000001,M83000003:+821083000003", "nobody else asked")
    expect_equal(lead.patch("/api/v1/crises/%d" % crisis, {"state": "closed"}).status, 200, "closed")


def a_passport_is_believed_only_with_a_name_of_its_holder():
    home = lead.post("/api/v1/nationals", {"name_ko": "윤거주", "name_latin": "YUN GEOJU", "birth_date": "1960-06-06",
                                           "passport_no": "M84000001", "phone": "010-8400-0001", "kind": "resident",
                                           "location": {"lat": 39.93, "lon": 32.85}})
    expect_equal(home.status, 201, home.body)
    rid = int(cluster.psql(DB, "SELECT id FROM national WHERE passport_no = 'M84000001'"))
    # A tourist whose passport number was mistyped as the resident's.
    rows = ["강관광,KANG GWANGWANG,M84000001,1999-09-09,010-8400-0009,TR,Antakya,TR-31,%s,%s" % (day(4), day(8)),
            # One of the holder's names is enough.
            ",YUN GEOJU,M84000001,,,TR,Istanbul,TR-34,%s,%s" % (day(10), day(12))]
    dry = send(rows, dry=True).json()
    r = send(rows)
    expect_equal(r.status, 200, r.body)
    rep = r.json()
    expect_equal([(e["line"], e["field"]) for e in rep["errors"]], [(2, "passport_no")], rep)
    expect_equal([(e["line"], e["field"]) for e in dry["errors"]], [(2, "passport_no")], dry)
    reason = rep["errors"][0]["reason"]
    check("national %d" % rid in reason and "M******01" in reason, reason)
    check("M84000001" not in reason and "KANG" not in reason, "no values quoted")
    expect_equal((rep["travellers_added"], rep["travellers_matched"], rep["legs_added"]), (0, 1, 1), rep)
    expect_equal(cluster.psql(DB, "SELECT string_agg(place, ',') FROM itinerary_leg WHERE national_id = %d" % rid),
                 "Istanbul", "the stranger's trip is not the resident's")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM contact WHERE national_id = %d AND value = '+821084000009'"
                              % rid), "0", "nor the stranger's phone")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM region g, nationals_in_area(g.mission_id, g.area, '%s') x "
                                  "WHERE g.mission_id = %d AND g.code = 'TR-31' AND x.national_id = %d"
                              % (day(5), MISSION, rid)), "0", "not looked for in the stranger's region")


def one_travellers_rows_are_one_person_as_in_the_nationals_import():
    # The same traveller with the passport on one row only: one person, with it.
    rows = ["최파트,CHOI PARTNER,M85000001,1975-05-05,010-8500-0001,TR,Istanbul,TR-34,%s,%s" % (day(1), day(3)),
            "최파트,CHOI PARTNER,,1975-05-05,010-8500-0001,TR,Antakya,TR-31,%s,%s" % (day(4), day(8)),
            # Without the passport first, and with the Latin name only.
            ",LEE FIRST,,1981-02-02,010-8500-0002,TR,Istanbul,TR-34,%s,%s" % (day(1), day(3)),
            "이먼저,LEE FIRST,M85000002,1981-02-02,010-8500-0002,TR,Antakya,TR-31,%s,%s" % (day(4), day(8)),
            # Two rows without a passport, one with the Hangul name only.
            "정둘,JUNG TWO,,1990-03-03,010-8500-0003,TR,Istanbul,TR-34,%s,%s" % (day(1), day(3)),
            "정둘,,,1990-03-03,010-8500-0003,TR,Antakya,TR-31,%s,%s" % (day(4), day(8))]
    dry = send(rows, dry=True).json()
    expect_equal(dry["travellers_added"], 3, dry)
    rep = send(rows).json()
    expect_equal((rep["travellers_added"], rep["legs_added"], rep["bad_rows"]), (3, 6, 0), rep)
    people = cluster.psql(DB, "SELECT string_agg(coalesce(name_ko, '-') || '/' || coalesce(passport_no, '-') || '/' "
                              "|| (SELECT count(*) FROM itinerary_leg l WHERE l.national_id = n.id), ',' ORDER BY id) "
                              "FROM national n WHERE name_key LIKE '%choipartner%' OR name_key LIKE '%leefirst%' "
                              "OR name_key LIKE '정둘%'")
    expect_equal(sorted(people.split(",")), ["이먼저/M85000002/2", "정둘/-/2", "최파트/M85000001/2"],
                 "one person each, with every leg")
    # A manifest with neither passport nor phone: one traveller by name and birth date; and
    # rows linked only through one another's phones (1; 1 and 2; 2): one traveller too.
    rows = ["무전화,MU JEONHWA,,1980-02-02,,TR,Istanbul,TR-34,%s,%s" % (day(1), day(2)),
            "무전화,MU JEONHWA,,1980-02-02,,TR,Antakya,TR-31,%s,%s" % (day(3), day(4)),
            "무전화,MU JEONHWA,,1980-02-02,,TR,Izmir,TR-35,%s,%s" % (day(5), day(6)),
            "사슬,SA SEUL,,1982-03-03,010-8600-0001,TR,Istanbul,TR-34,%s,%s" % (day(1), day(2)),
            "사슬,SA SEUL,,1982-03-03,010-8600-0001 / 010-8600-0002,TR,Antakya,TR-31,%s,%s" % (day(3), day(4)),
            "사슬,SA SEUL,,1982-03-03,010-8600-0002,TR,Izmir,TR-35,%s,%s" % (day(5), day(6))]
    rep = send(rows).json()
    expect_equal((rep["travellers_added"], rep["legs_added"], rep["bad_rows"]), (2, 6, 0), rep)
    expect_equal(cluster.psql(DB, "SELECT string_agg(name_latin || '/' || (SELECT count(*) FROM itinerary_leg l "
                                  "WHERE l.national_id = n.id), ',' ORDER BY name_latin) FROM national n "
                                  "WHERE name_latin IN ('MU JEONHWA', 'SA SEUL')"), "MU JEONHWA/3,SA SEUL/3",
                 "one person each, with all three legs")
    # A stored resident with both names, found by an airline's Latin name,
    # birth date and phone; and by a passport the registry does not have.
    home = lead.post("/api/v1/nationals", {"name_ko": "윤집", "name_latin": "YUN HOME", "birth_date": "1961-06-06",
                                           "phone": "010-8500-0004", "kind": "resident",
                                           "location": {"lat": 39.93, "lon": 32.85}})
    expect_equal(home.status, 201, home.body)
    rid = int(cluster.psql(DB, "SELECT id FROM national WHERE name_latin = 'YUN HOME'"))
    rep = send([",YUN HOME,,1961-06-06,010-8500-0004,TR,Istanbul,TR-34,%s,%s" % (day(1), day(3)),
                "윤집,,M85000004,1961-06-06,010-8500-0004,TR,Antakya,TR-31,%s,%s" % (day(4), day(8))]).json()
    expect_equal((rep["travellers_added"], rep["travellers_matched"], rep["legs_added"]), (0, 1, 2), rep)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM itinerary_leg WHERE national_id = %d" % rid), "2", "their legs")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_key LIKE '%yunhome%'"), "1", "no twin")
    # Two registered people of one name and phone (father and son): a row
    # without the birth date could be either, and is refused naming them.
    for born in ("1950-01-01", "1980-01-01"):
        expect_equal(lead.post("/api/v1/nationals", {"name_ko": "박같음", "name_latin": "PARK SAME", "birth_date": born,
                                                     "phone": "010-8500-0005", "kind": "resident"}).status, 201, born)
    ids = cluster.psql(DB, "SELECT string_agg(id::text, ', ' ORDER BY id) FROM national WHERE name_latin = 'PARK SAME'")
    rep = send(["박같음,PARK SAME,,,010-8500-0005,TR,Istanbul,TR-34,%s,%s" % (day(1), day(3)),
                "박같음,PARK SAME,,1980-01-01,010-8500-0005,TR,Antakya,TR-31,%s,%s" % (day(4), day(8))]).json()
    expect_equal([(e["line"], e["field"]) for e in rep["errors"]], [(2, "phone")], rep)
    check(ids in rep["errors"][0]["reason"], rep["errors"][0]["reason"])
    expect_equal((rep["travellers_added"], rep["travellers_matched"], rep["legs_added"]), (0, 1, 1), rep)
    # In one file too: a row without a passport that fits the rows of two
    # passports is refused, naming their lines.
    rep = send(["오쌍,OH TWIN,M85000011,1999-09-09,010-8500-0011,TR,Istanbul,TR-34,%s,%s" % (day(1), day(3)),
                "오쌍,OH TWIN,M85000012,1999-09-09,010-8500-0011,TR,Istanbul,TR-34,%s,%s" % (day(1), day(3)),
                "오쌍,OH TWIN,,1999-09-09,010-8500-0011,TR,Antakya,TR-31,%s,%s" % (day(4), day(8))]).json()
    expect_equal([(e["line"], e["field"]) for e in rep["errors"]], [(4, "phone")], rep)
    check("line 2 or line 3" in rep["errors"][0]["reason"], rep["errors"][0]["reason"])
    expect_equal((rep["travellers_added"], rep["legs_added"]), (2, 2), rep)


def the_same_file_sent_twice_at_once_adds_everyone_once():
    rows = [",CONC PERSON%s,,1980-01-01,010-86%02d-%04d,TR,Istanbul,TR-34,%s,%s"
            % (chr(65 + i % 26) + chr(65 + i // 26), i // 100, i, day(1), day(3)) for i in range(400)]
    out = []

    def go():
        out.append(send(rows))
    both = [threading.Thread(target=go) for _ in range(2)]
    [t.start() for t in both]
    [t.join() for t in both]
    expect_equal([r.status for r in out], [200, 200], [r.body[:200] for r in out])
    expect_equal(sorted(r.json()["travellers_added"] for r in out), [0, 400], [r.body[:200] for r in out])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin LIKE 'CONC PERSON%'"), "400",
                 "each traveller once")


def a_partners_file_of_thousands_of_travellers_is_stored_whole():
    # A daemon whose pool gives up on a statement after 1.5 s: a large file is
    # stored on a connection of its own, not under that limit (12,000 legs took
    # over a minute before, and the statement was cut off at 5 s).
    quick = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"},
                                       "database": {"query_timeout_ms": "1500"}}).start()
    try:
        s = Session(quick, "lead", PASSWORD)
        n = 6000
        rows = []
        for i in range(n):
            person = "BULK%05d,M87%06d,%d-%02d-%02d,010-87%02d-%04d" % (i, i, 1950 + i % 50, 1 + i % 12, 1 + i % 28,
                                                                       i // 10000, i % 10000)
            rows.append(",%s,TR,Istanbul,TR-34,%s,%s" % (person, day(2), day(4)))
            rows.append(",%s,TR,Antakya,TR-31,%s,%s" % (person, day(5), day(9)))
        body = ("\n".join([HEADER] + rows) + "\n").encode()

        def post():
            return s.request("POST", "/api/v1/itineraries/import?source=Bulk+Air", body,
                             headers={"Content-Type": "text/csv; charset=utf-8"}, timeout=300)
        r = post()
        expect_equal(r.status, 200, r.body[:300])
        rep = r.json()
        expect_equal((rep["travellers_added"], rep["legs_added"], rep["bad_rows"]), (n, 2 * n, 0), r.body[:300])
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM national n JOIN itinerary_leg l ON l.national_id = n.id "
                                      "WHERE n.passport_no LIKE 'M87%'"), str(2 * n), "every leg stored")
        # Placed by the first leg: Istanbul's region, for the last traveller as for the first.
        expect_equal(cluster.psql(DB, "SELECT string_agg(DISTINCT g.code, ',') FROM national n "
                                      "JOIN region g ON g.id = n.region_id "
                                      "WHERE n.passport_no IN ('M87000000', 'M87005999')"), "TR-34", "placed")
        places = "SELECT count(*) FROM location l JOIN national n ON n.id = l.national_id WHERE n.passport_no LIKE 'M87%'"
        expect_equal(cluster.psql(DB, places), str(n), "one place each")
        again = post()
        expect_equal(again.status, 200, again.body[:300])
        expect_equal(cluster.psql(DB, places), str(n), "the same file again adds no place")
        rep = again.json()
        expect_equal((rep["travellers_added"], rep["travellers_matched"], rep["legs_added"]), (0, n, 0),
                     again.body[:300])
    finally:
        quick.stop()


def a_query_parameter_given_twice_is_refused_naming_it():
    row = "한두번,HAN TWICE,M86000001,1977-07-07,,TR,Antakya,TR-31,%s,%s" % (day(3), day(7))
    body = ("\n".join([HEADER, row]) + "\n").encode()
    for query, name in (("source=Hana+Tours&dry_run=true&dry_run=false", "dry_run"),
                        ("source=Hana+Tours&source=Other&dry_run=true", "source"),
                        ("source=Hana+Tours&date_format=iso&DATE_FORMAT=dmy", "date_format")):
        r = lead.request("POST", "/api/v1/itineraries/import?" + query, body,
                         headers={"Content-Type": "text/csv; charset=utf-8"})
        expect_equal(r.status, 400, r.body)
        check(name in r.json()["detail"].lower() and "more than once" in r.json()["detail"], r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE passport_no = 'M86000001'"), "0", "nothing stored")
    # The nationals import reads its yes/no options the same way.
    r = lead.request("POST", "/api/v1/nationals/import?dry_run=false&dry_run=true",
                     "성명,영문성명,여권번호\n한두번,HAN TWICE,M86000001\n".encode(),
                     headers={"Content-Type": "text/csv; charset=utf-8"})
    expect_equal(r.status, 400, r.body)
    check("dry_run" in r.json()["detail"], r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE passport_no = 'M86000001'"), "0", "nothing stored")


if __name__ == "__main__":
    try:
        run([a_person_staff_deleted_is_not_brought_back,
             rows_are_checked_against_the_legs_limits_with_their_lines,
             a_traveller_the_registry_has_is_moved_by_a_partners_legs,
             travellers_a_partner_puts_inside_a_running_check_in_are_asked,
             people_whose_trip_begins_during_a_check_in_are_asked,
             a_passport_is_believed_only_with_a_name_of_its_holder,
             one_travellers_rows_are_one_person_as_in_the_nationals_import,
             the_same_file_sent_twice_at_once_adds_everyone_once,
             a_query_parameter_given_twice_is_refused_naming_it,
             a_partners_file_of_thousands_of_travellers_is_stored_whole])
    finally:
        d.stop()
        cluster.dropdb(DB)
