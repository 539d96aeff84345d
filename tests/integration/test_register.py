"""Nationals registering themselves at /register: nothing stored before
consent, every bad value named next to its field, a two-leg trip with a
household found by the spatial query on the days of its legs only, codes
confirmed (hashed, expiring, a few tries, rate-limited), the management link
changing and deleting for real (no name or number left in any table), the
family at home told once per answer and never where, and no way to learn
whether a number is registered."""

import datetime
import json
import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse

from harness import LOG_DIR, SOURCE_DIR, Cluster, Daemon, Session, check, ctl, eventually, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_register"
PASSWORD = record_secret("Antakya-Defne-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "60", "--seed", "5").returncode, 0, "demo")
# The tests' requests come through a trusted proxy naming the client (X-Forwarded-For).
d = Daemon(conninfo, sections={"server": {"trusted_proxies": "127.0.0.1"},
                               "auth": {"password_hash_cost": "10", "public_rate_per_second": "1000",
                                        "public_burst": "1000"},
                               "channels": {"dispatch_interval_ms": "50"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
expect_equal(ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file",
                 pwfile).returncode, 0, "user")
expect_equal(ctl(conninfo, "mission", "add", "UA-KYV", "--name", "Embassy in Kyiv", "--country", "UA").returncode, 0, "UA")
expect_equal(ctl(conninfo, "user", "add", "lead-ua", "--role", "mission_lead", "--mission", "UA-KYV", "--password-file",
                 pwfile).returncode, 0, "user ua")
lead = Session(d, "lead", PASSWORD)
lead_ua = Session(d, "lead-ua", PASSWORD)
MISSION = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'TR-ANK'"))
REGION = dict(row.split("|")[::-1] for row in cluster.psql(
    DB, "SELECT id, code FROM region WHERE mission_id = %d" % MISSION).splitlines())
# Today where the mission is: a leg that ended is judged by the mission's calendar.
TODAY = datetime.date.fromisoformat(cluster.psql(
    DB, "SELECT (now() AT TIME ZONE timezone)::date FROM mission WHERE id = %d" % MISSION))
ANTAKYA = (36.2025, 36.1604)
ISTANBUL = (41.0082, 28.9784)
S = {}


def day(n):
    return (TODAY + datetime.timedelta(days=n)).isoformat()


def post(path, form, addr=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if addr:
        headers["X-Forwarded-For"] = addr
    return d.request("POST", path, body=urllib.parse.urlencode(form), headers=headers)


def trip_form(**over):
    form = {"lang": "ko", "country": "TR", "kind": "traveller", "legs": "3", "people": "3",
            "name_ko": "김여행", "name_latin": "KIM YEOHAENG", "birth_date": "1990-04-05",
            "passport_no": "M12345678", "phone": "010-4821-7730", "email": "Kim.Trip@Example.org",
            "lang_ko": "1",
            "leg1_region": REGION["TR-34"], "leg1_place": "Istanbul", "leg1_address": "Sultanahmet Hotel",
            "leg1_arrival": day(-2), "leg1_departure": day(0),
            "leg2_region": REGION["TR-31"], "leg2_place": "Antakya", "leg2_arrival": day(1), "leg2_departure": day(5),
            "m1_name": "이동행", "m1_birth_date": "1992-08-09", "m2_name": "LEE CHILD", "m2_birth_date": "2019-01-02",
            "m2_need_child": "1",
            "family_name": "김부모", "family_relation": "어머니", "family_phone": "010-5555-0142",
            "family_consent": "1", "consent": "1"}
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def resident_form(**over):
    """A residence alone, with its home region."""
    form = trip_form(kind="resident", name_ko="박거주", name_latin="PARK GEOJU", birth_date="1980-01-01",
                     phone="010-4821-7731", passport_no=None, email=None, m1_name=None, m1_birth_date=None,
                     m2_name=None, m2_birth_date=None, m2_need_child=None,
                     leg1_region=None, leg1_place=None, leg1_address=None, leg1_arrival=None, leg1_departure=None,
                     leg2_region=None, leg2_place=None, leg2_arrival=None, leg2_departure=None,
                     home_region=REGION["TR-06"], address="Çankaya, Ankara", residence_status="work")
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def a_residence_is_registered_in_its_region():
    r = post("/register", resident_form(), addr="198.51.100.40")
    expect_equal(r.status, 303, r.body[:300])
    expect_equal(cluster.psql(DB, "SELECT kind, region_id FROM national WHERE source = 'self' AND name_latin = 'PARK GEOJU'"),
                 "resident|%s" % REGION["TR-06"], "a resident in their region")


def two_missions_in_one_country_each_get_their_own():
    expect_equal(ctl(conninfo, "mission", "add", "TR-IST", "--name", "Consulate General in Istanbul", "--country",
                     "TR").returncode, 0, "a second mission for Turkey")
    ist = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'TR-IST'"))
    ist_region = cluster.psql(DB, "INSERT INTO region (mission_id, code, name, area) SELECT %d, 'TR-34', "
                                  "'Istanbul (consulate)', area FROM region WHERE mission_id = %d AND code = 'TR-34' "
                                  "RETURNING id" % (ist, MISSION)).split()[0]
    # A daemon of its own, whose list of missions is read after the second one was added.
    d2 = Daemon(conninfo, sections={"server": {"trusted_proxies": "127.0.0.1"},
                                    "auth": {"password_hash_cost": "10", "public_rate_per_second": "1000",
                                             "public_burst": "1000"}}).start()

    def post2(path, form, addr):
        return d2.request("POST", path, body=urllib.parse.urlencode(form),
                          headers={"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": addr})
    try:
        page = d2.get("/register?lang=en").body
        check('<option value="TR-ANK">' in page and '<option value="TR-IST">' in page
              and 'value="TR"' not in page, "each choice names its mission: %s" % page[-1200:])
        form = d2.get("/register?lang=en&mission=TR-IST")
        expect_equal(form.status, 200, form.body[:300])
        check('name="mission" value="TR-IST"' in form.body and "Consulate General in Istanbul" in form.body
              and 'value="%s"' % ist_region in form.body, "the consulate's own form and regions")
        # Registered with the mission chosen, not the first serving the country.
        r = post2("/register", short_form(name_latin="IST TRIP", phone="010-7500-0001", mission="TR-IST",
                                          leg1_region=ist_region), "198.51.100.60")
        expect_equal(r.status, 303, r.body[:600])
        token = token_of(r)
        expect_equal(cluster.psql(DB, "SELECT r.mission_id, n.mission_id FROM registration r JOIN national n "
                                      "ON n.id = r.national_id WHERE n.name_latin = 'IST TRIP'"),
                     "%d|%d" % (ist, ist), "the consulate's registration")
        manage = d2.get("/register/m/%s?lang=en" % token).body
        check('name="mission" value="TR-IST"' in manage and 'value="%s" selected' % ist_region in manage,
              "its management page shows the consulate's regions")
        r = post2("/register/m/%s" % token, short_form(name_latin="IST TRIP", phone="010-7500-0001",
                                                      mission="TR-IST", leg1_region=ist_region,
                                                      leg1_place="Kadıköy", consent=None), "198.51.100.60")
        expect_equal(r.status, 200, r.body[:600])
        expect_equal(cluster.psql(DB, "SELECT l.place, l.region_id FROM itinerary_leg l JOIN national n "
                                      "ON n.id = l.national_id WHERE n.name_latin = 'IST TRIP'"),
                     "Kadıköy|%s" % ist_region, "changed through its own mission")
        # A link or form naming only the country: the registrant is asked which mission,
        # unless the regions chosen tell.
        r = d2.get("/register?lang=en&country=TR")
        check(r.status == 200 and "Several missions serve this country" in r.body
              and '<option value="TR-IST">' in r.body, r.body[:600])
        r = post2("/register", short_form(name_latin="OLD FORM", phone="010-7500-0002"), "198.51.100.61")
        expect_equal(r.status, 303, r.body[:600])
        expect_equal(cluster.psql(DB, "SELECT r.mission_id FROM registration r JOIN national n ON n.id = r.national_id "
                                      "WHERE n.name_latin = 'OLD FORM'"), str(MISSION), "the mission of its regions")
        r = post2("/register", short_form(name_latin="NO REGION", phone="010-7500-0003", leg1_region=""),
                  "198.51.100.62")
        check(r.status == 400 and "Several missions serve this country" in r.body, r.body[:600])
        r = post2("/register", short_form(name_latin="BAD MISSION", phone="010-7500-0004", mission="TR-XXX"),
                  "198.51.100.63")
        check(r.status == 400 and "The mission named in the form is not known" in r.body, r.body[:600])
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE name_latin IN ('NO REGION', 'BAD MISSION')"),
                     "0", "nothing stored")
    finally:
        d2.stop()


def a_nul_in_a_change_or_a_small_form_is_refused_naming_the_field():
    r = post("/register", short_form(name_latin="NUL CHANGE", phone="010-7600-0001"), addr="198.51.100.80")
    expect_equal(r.status, 303, r.body[:300])
    token = token_of(r)
    body = urllib.parse.urlencode(short_form(name_latin="NUL CHANGE", phone="010-7600-0001", consent=None))
    body = body.replace("leg1_place=Istanbul&", "leg1_place=Ankara%00x&")
    r = d.request("POST", "/register/m/" + token, body=body,
                  headers={"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "198.51.100.80"})
    check(r.status == 400 and 'id="leg1_place-err"' in r.body and "NUL" in r.body, r.body[:800])
    expect_equal(cluster.psql(DB, "SELECT l.place FROM itinerary_leg l JOIN national n ON n.id = l.national_id "
                                  "WHERE n.name_latin = 'NUL CHANGE'"), "Istanbul", "the registration as it was")
    r = d.request("POST", "/register/lost", body="lang=en&contact=010-7600-0001%00x",
                  headers={"Content-Type": "application/x-www-form-urlencoded", "X-Forwarded-For": "198.51.100.81"})
    check(r.status == 400 and "contact: Contains a character that cannot be stored (NUL)" in r.body, r.body[:800])


def the_outbox_log_is_readable_by_safetyd_alone():
    """The log driver's file holds phone numbers and reply links: it is created mode 600."""
    r = post("/register", short_form(name_latin="MODE CHECK", phone="010-7600-0091"), addr="198.51.100.91")
    expect_equal(r.status, 303, r.body[:300])
    path = os.path.join(d.workdir, "outbox-log.jsonl")
    eventually(lambda: os.path.exists(path) and os.path.getsize(path) > 0, what="the outbox log")
    expect_equal(oct(os.stat(path).st_mode & 0o777), "0o600", "outbox-log.jsonl mode")


def outbox_messages(kind, recipient):
    with open(os.path.join(d.workdir, "outbox-log.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    ids = set(cluster.psql(DB, "SELECT id FROM outbox WHERE kind = '%s' AND recipient = '%s'" % (kind, recipient)).split())
    return [r for r in rows if str(r["outbox_id"]) in ids]


def latest_code(recipient):
    msgs = eventually(lambda: outbox_messages("code", recipient), timeout=10, what="code sent to " + recipient)
    return re.search(r"\b(\d{6})\b", msgs[-1]["text"]).group(1)


def self_people():
    return int(cluster.psql(DB, "SELECT count(*) FROM national WHERE source = 'self'"))


def the_blank_form_works_without_javascript_in_both_languages():
    r = d.get("/register", headers={"Accept-Language": "ko-KR"})
    expect_equal(r.status, 200, r.body[:300])
    check('<html lang="ko">' in r.body and 'name="mission"' in r.body and 'value="TR-ANK"' in r.body, r.body[:600])
    r = d.get("/register?country=TR&lang=en")
    expect_equal(r.status, 200, r.body[:300])
    html = r.body
    check('<html lang="en">' in html and "Your trip" in html and "Hatay" in html, "form with the mission's regions")
    check("<script" not in html and "style=" not in html, "no script, no inline style (CSP)")
    check(html.count('<label class="field" for="leg') >= 12 and "<legend>" in html, "every field labelled")
    check("deleted 30 days after you leave" in html, "retention stated plainly")
    expect_equal(d.get("/register?country=ZZ").status, 404, "a country no mission serves")
    more = post("/register", dict(trip_form(consent=None), more="legs"))
    expect_equal(more.status, 200, "more legs")
    check('name="leg4_arrival"' in more.body and "김여행" in more.body, "one more leg, typed values kept")
    expect_equal(self_people(), 0, "asking for more rows stores nothing")


def nothing_is_stored_without_consent():
    r = post("/register", trip_form(consent=None))
    expect_equal(r.status, 400, r.body[:300])
    check("동의해 주세요" in r.body and 'id="consent-err"' in r.body, "consent asked for")
    check('value="김여행"' in r.body and 'value="010-4821-7730"' in r.body, "what was typed is kept")
    expect_equal(self_people(), 0, "no person")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM registration"), "0", "no registration")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE kind = 'code'"), "0", "no code sent")


def every_bad_value_is_named_next_to_its_field():
    r = post("/register", trip_form(lang="en", phone="12ab", email="not-an-address", leg2_departure=day(0),
                                    m1_birth_date="1992-13-40", leg1_place="x\x01y"))
    expect_equal(r.status, 400, r.body[:300])
    for field in ("phone", "email", "leg2_departure", "m1_birth_date", "leg1_place"):
        check('aria-invalid="true" aria-describedby="%s-err"' % field in r.body, "error shown at " + field)
    check("Departure is before arrival" in r.body, "reason named")
    r = post("/register", trip_form(phone="12ab"))
    check(r.status == 400 and "전화번호를 확인해 주세요" in r.body, "the Korean page says what to fix first")
    r = post("/register", trip_form(leg1_arrival=day(-9), leg1_departure=day(-5)))
    check(r.status == 400 and "이미 끝난 일정" in r.body, "a leg already over")
    r = post("/register", trip_form(leg1_region="", leg1_place="", leg2_region="", leg2_place=""))
    check(r.status == 400 and "지역을 골라 주세요" in r.body, "a leg without a place")
    # A place without a region would place nobody: every area query would miss them.
    for lang, words in (("ko", "지역을 골라 주세요"), ("en", "without one the embassy cannot find you there")):
        r = post("/register", trip_form(lang=lang, leg1_region="", leg1_place="Antakya"))
        check(r.status == 400 and words in r.body and 'id="leg1_region-err"' in r.body
              and 'aria-describedby="leg1_region-err"' in r.body, "a leg without a region: " + lang)
    # A date that cannot be read: what is wrong, not only which field.
    r = post("/register", trip_form(lang="en", leg2_arrival="5/3/2026"))
    check(r.status == 400 and "Leg 2, Arrival: Not a date: write it as year-month-day" in r.body
          and 'id="leg2_arrival-err"' in r.body, "an unreadable date explained")
    # A residence without a region would be asked by no crisis.
    for lang, words in (("ko", "사는 곳의 지역을 골라 주세요"), ("en", "Choose the region where you live")):
        r = post("/register", resident_form(lang=lang, home_region=None))
        check(r.status == 400 and words in r.body and 'id="home_region-err"' in r.body
              and 'aria-describedby="home_region-err"' in r.body and 'value="Çankaya, Ankara"' in r.body,
              "a residence without a region: " + lang)
    # An encoded NUL would cut a value short unsaid: refused, named next to its field.
    for field, raw, typed in (("leg1_place", "Istanbul%00%3Cscript%3E", "Istanbul"),
                              ("name_latin", "NULNAME%00EXTRA", "KIM+YEOHAENG")):
        body = urllib.parse.urlencode(trip_form(lang="en")).replace("%s=%s&" % (field, typed), "%s=%s&" % (field, raw))
        check(raw in body, body)
        r = d.request("POST", "/register", body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
        check(r.status == 400 and 'id="%s-err"' % field in r.body and "%s: Contains a character that cannot be "
              "stored (NUL)" % field in r.body, "a NUL in %s: %s" % (field, r.body[:800]))
    r = post("/register", trip_form(phone="", email=""))
    check(r.status == 400 and "휴대전화나 이메일" in r.body, "no way to reach them")
    r = post("/register", trip_form(name_ko="a" * 5000))
    expect_equal(r.status, 400, "an overlong name")
    big = d.request("POST", "/register", body="x=" + "a" * 40000,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_equal(big.status, 413, "a form over 32 KB")
    expect_equal(self_people(), 0, "nothing stored by any of them")


def a_two_leg_trip_with_a_household_is_registered():
    r = post("/register", trip_form())
    expect_equal(r.status, 303, r.body[:400])
    loc = r.header("Location")
    m = re.match(r"^/register/m/([A-Za-z0-9_-]{43})\?lang=ko&created=1$", loc)
    check(m, loc)
    S["token"] = record_secret(m.group(1))
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM registration"), "1", "one registration")
    expect_equal(self_people(), 3, "registrant and two people with them")
    rows = cluster.psql(DB, "SELECT n.kind, n.arrival_date, n.departure_date, count(l.*) FROM national n "
                            "JOIN itinerary_leg l ON l.national_id = n.id WHERE n.source = 'self' "
                            "GROUP BY n.id ORDER BY n.id").splitlines()
    expect_equal(rows, ["traveller|%s|%s|2" % (day(-2), day(5))] * 3, "everyone has both legs")
    S["nid"] = int(cluster.psql(DB, "SELECT national_id FROM registration"))
    expect_equal(cluster.psql(DB, "SELECT kind, value, verified FROM contact WHERE national_id = %d ORDER BY kind" % S["nid"]),
                 "email|Kim.Trip@example.org|f\nphone|+821048217730|f", "contacts normalised, not yet confirmed")
    check("LEE CHILD" in cluster.psql(DB, "SELECT name_latin FROM national WHERE 'child' = ANY (needs)"), "member's needs")
    expect_equal(cluster.psql(DB, "SELECT manage_hash = encode(sha256(convert_to('%s', 'UTF8')), 'hex') FROM registration"
                              % S["token"]), "t", "only the link's hash is kept")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'registration.create' "
                              "AND summary NOT LIKE '%김여행%'"), "1", "audited without the name")
    page = d.get(loc)
    expect_equal(page.status, 200, page.body[:300])
    check("등록되었습니다" in page.body and "확인 안 됨" in page.body and 'value="김여행"' in page.body, "management page")


def codes_confirm_contacts_and_resist_guessing():
    phone = "+821048217730"
    code = record_secret(latest_code(phone))
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM contact_code WHERE code_hash LIKE '%%%s%%' OR salt LIKE '%%%s%%'"
                              % (code, code)), "0", "the code is stored hashed")
    cid = cluster.psql(DB, "SELECT id FROM contact WHERE value = '%s'" % phone)
    wrong = "%06d" % ((int(code) + 1) % 1000000)
    r = post("/register/m/%s/verify" % S["token"], {"contact": cid, "code": wrong, "lang": "en"})
    check(r.status == 200 and "That code is not right" in r.body, r.body[:300])
    r = post("/register/m/%s/verify" % S["token"], {"contact": cid, "code": code, "lang": "en"})
    check(r.status == 200 and "Confirmed." in r.body, r.body[:300])
    expect_equal(cluster.psql(DB, "SELECT verified FROM contact WHERE id = %s" % cid), "t", "phone confirmed")
    # The e-mail: five wrong tries lock its code; a new one needs a minute's wait.
    email = "Kim.Trip@example.org"
    eid = cluster.psql(DB, "SELECT id FROM contact WHERE value = '%s'" % email)
    ecode = latest_code(email)
    bad = "%06d" % ((int(ecode) + 7) % 1000000)
    for _ in range(5):
        r = post("/register/m/%s/verify" % S["token"], {"contact": eid, "code": bad, "lang": "en"})
    check("Too many wrong tries" in r.body, r.body[:400])
    r = post("/register/m/%s/verify" % S["token"], {"contact": eid, "code": ecode, "lang": "en"})
    check("Too many wrong tries" in r.body, "even the right code after the lock")
    r = post("/register/m/%s/resend" % S["token"], {"contact": eid, "lang": "en"})
    check("wait a minute" in r.body, "no second code within a minute")
    cluster.psql(DB, "UPDATE contact_code SET sent_at = now() - interval '2 minutes' WHERE contact_id = %s" % eid)
    r = post("/register/m/%s/resend" % S["token"], {"contact": eid, "lang": "en"})
    check("A code was sent" in r.body, r.body[:400])
    ecode = eventually(lambda: latest_code(email) if len(outbox_messages("code", email)) == 2 else None,
                       timeout=10, what="second code")
    cluster.psql(DB, "UPDATE contact_code SET expires_at = now() - interval '1 second' WHERE contact_id = %s" % eid)
    r = post("/register/m/%s/verify" % S["token"], {"contact": eid, "code": ecode, "lang": "en"})
    check("expired" in r.body, "an expired code")
    # Another registration's contact cannot be confirmed through this link.
    expect_equal(post("/register/m/%s/verify" % S["token"], {"contact": "1", "code": "123456"}).status, 404,
                 "a contact of no concern to this link")
    expect_equal(d.get("/register/m/" + "A" * 43).status, 404, "an unknown link")
    expect_equal(d.get("/register/m/short").status, 404, "a malformed link")
    # Confirmed, the phone receives the management link (an unconfirmed contact never does).
    link = eventually(lambda: outbox_messages("link", phone), timeout=10, what="management link sent")
    check(("/register/m/" + S["token"]) in link[0]["text"], "the link itself")
    expect_equal(outbox_messages("link", email), [], "no link to the unconfirmed e-mail")
    # A lost link: a new one to the confirmed phone; the page the same for a stranger.
    known = post("/register/lost", {"contact": "010-4821-7730", "lang": "en"})
    stranger = post("/register/lost", {"contact": "010-9999-0000", "lang": "en"})
    garbage = post("/register/lost", {"contact": "<script>", "lang": "en"})
    expect_equal((known.status, known.body), (stranger.status, stranger.body), "no way to tell who is registered")
    expect_equal(garbage.body, known.body, "nor by a malformed contact")
    fresh = eventually(lambda: outbox_messages("link", phone)[1:], timeout=10, what="a new link")
    new_token = record_secret(re.search(r"/register/m/([A-Za-z0-9_-]{43})", fresh[0]["text"]).group(1))
    check(new_token != S["token"], "a new secret")
    expect_equal(d.get("/register/m/" + S["token"]).status, 200, "the old link works until the new one is used")
    expect_equal(d.get("/register/m/" + new_token).status, 200, "the new one works")
    expect_equal(d.get("/register/m/" + S["token"]).status, 404, "and once it is, the old one stops working")
    S["token"] = new_token
    # Sent codes and links do not stay readable in the outbox.
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM outbox WHERE (kind = 'code' AND body ~ '[0-9]{6}') "
                                        "OR (kind = 'link' AND body ~ '/register/m/')") == "0",
               timeout=10, what="codes and links forgotten once sent")


def the_spatial_query_follows_the_legs():
    def near(point, on, radius=40000):
        return set(map(int, cluster.psql(
            DB, "SELECT national_id FROM nationals_near(%d, ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography, %d, '%s')"
            % (MISSION, point[1], point[0], radius, on)).split()))
    household = set(map(int, cluster.psql(DB, "SELECT id FROM national WHERE source = 'self'").split()))
    check(household <= near(ANTAKYA, day(3)), "in Antakya inside the second leg")
    check(not household & near(ANTAKYA, day(-2)), "not in Antakya during the first leg")
    check(household <= near(ISTANBUL, day(-2)), "in Istanbul during the first leg")
    check(not household & near(ANTAKYA, day(9)) and not household & near(ISTANBUL, day(9)), "not after both legs")
    check(not household & near(ANTAKYA, day(-9)), "not before both legs")
    check(household <= near(ANTAKYA, day(6)), "a day's margin after departure")
    # The API counts them by the leg's region.
    r = lead.post("/api/v1/nationals/in-area", {"circle": {"lat": ANTAKYA[0], "lon": ANTAKYA[1], "radius_m": 40000},
                                                "on": day(3)})
    before = lead.post("/api/v1/nationals/in-area", {"circle": {"lat": ANTAKYA[0], "lon": ANTAKYA[1], "radius_m": 40000},
                                                     "on": day(9)})
    expect_equal(r.json()["count"] - before.json()["count"], 3, "three more people while the leg lasts")


def a_residence_given_by_its_region_is_found_anywhere_in_it():
    # A resident of Hatay who gives the province and no point: placed at one point inside it,
    # tens of km from Antakya, which a small crisis around Antakya must still find.
    form = trip_form(kind="resident", name_latin="HOME HATAY", name_ko="한하타", passport_no=None,
                     phone="010-6400-0001", email=None, home_region=REGION["TR-31"], address="Antakya",
                     legs=None, people="1", m1_name=None, m1_birth_date=None, m2_name=None, m2_birth_date=None,
                     m2_need_child=None, family_name=None, family_relation=None, family_phone=None,
                     family_consent=None, **{"leg%d_%s" % (i, k): None for i in (1, 2)
                                             for k in ("region", "place", "address", "arrival", "departure")})
    r = post("/register", form, addr="198.51.100.140")
    expect_equal(r.status, 303, r.body[:600])
    nid = national_of(token_of(r))
    far, reach = cluster.psql(DB, "SELECT round(ST_Distance(last_point, ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography)), "
                                  "round(last_point_accuracy_m) FROM national WHERE id = %d"
                              % (ANTAKYA[1], ANTAKYA[0], nid)).split("|")
    check(float(far) > 15000 and float(reach) > float(far), "placed %s m from Antakya, reach %s m" % (far, reach))
    point = "ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography"
    antakya, istanbul = point % (ANTAKYA[1], ANTAKYA[0]), point % (ISTANBUL[1], ISTANBUL[0])
    found = lambda sql: str(nid) in cluster.psql(DB, sql).split()
    check(found("SELECT national_id FROM nationals_near(%d, %s, 10000, current_date)" % (MISSION, antakya)),
          "a 10 km circle around Antakya finds the Hatay resident")
    check(found("SELECT national_id FROM nationals_in_area(%d, ST_Buffer(%s, 10000), current_date)"
                % (MISSION, antakya)), "so does a polygon around Antakya")
    check(found("SELECT national_id FROM nationals_near_among(%d, ARRAY[%d::bigint], %s, 10000, current_date)"
                % (MISSION, nid, antakya)), "and the join of a running check-in")
    check(not found("SELECT national_id FROM nationals_near(%d, %s, 50000, current_date)" % (MISSION, istanbul)),
          "Istanbul does not")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM nationals_near(%d, %s, 10000, current_date) WHERE national_id = %d"
                              % (MISSION, antakya, nid)), "1", "found once")
    cluster.psql(DB, "UPDATE national SET deleted_at = now() WHERE id = %d" % nid)


def the_family_is_told_once_per_answer_and_never_where():
    crisis = lead.post("/api/v1/crises", {"kind": "earthquake", "title": "M6.4 Defne", "severity": 4,
                                          "circle": {"lat": ANTAKYA[0], "lon": ANTAKYA[1], "radius_m": 30000}}).json()["id"]
    # An unconfirmed number put first: the campaign still writes to the confirmed one.
    cluster.psql(DB, "UPDATE contact SET priority = 2 WHERE value = '+821048217730'; "
                     "INSERT INTO contact (national_id, kind, value, priority) VALUES (%d, 'phone', '+821077770001', 1)"
                 % S["nid"])
    lead.post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"]})
    family = "+821055550142"
    eventually(lambda: len(outbox_messages("family", family)) == 1, timeout=15, what="family told of the question")
    asked = outbox_messages("family", family)[0]["text"]
    check("김여행" in asked and "아직 답이 없습니다" in asked, asked)
    msg = eventually(lambda: [m for m in outbox_messages("checkin", "+821048217730")], timeout=15, what="check-in sent")
    token = record_secret(re.search(r"/r/([A-Za-z0-9_-]+)", msg[-1]["text"]).group(1))
    expect_equal(outbox_messages("checkin", "+821077770001"), [], "confirmed contacts first")
    for _ in range(2):
        r = d.request("POST", "/r/" + token, body=urllib.parse.urlencode(
            {"status": "safe", "lat": "36.21", "lon": "36.16", "message": "괜찮아요"}),
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        expect_equal(r.status, 200, "answer")
    eventually(lambda: len(outbox_messages("family", family)) == 2, timeout=15, what="family told of the answer")
    r = d.request("POST", "/r/" + token, body=urllib.parse.urlencode({"status": "needs_help"}),
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_equal(r.status, 200, "second answer")
    eventually(lambda: len(outbox_messages("family", family)) == 3, timeout=15, what="family told of the change")
    texts = [m["text"] for m in outbox_messages("family", family)]
    check("김여행님이 답했습니다: 안전" in texts[1] and "현지 시각" in texts[1], texts[1])
    check("도움이 필요함" in texts[2], texts[2])
    for t in texts:
        check(not re.search(r"36\.\d|Hatay|Antakya|Istanbul|/r/", t), "no place and no link: " + t)
    # The same answer again tells nobody again.
    d.request("POST", "/r/" + token, body=urllib.parse.urlencode({"status": "needs_help", "people": "2"}),
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    import time
    time.sleep(1.0)
    expect_equal(len(outbox_messages("family", family)), 3, "once per status change")
    S["crisis"] = crisis


def the_management_link_changes_the_registration():
    member = cluster.psql(DB, "SELECT id FROM national WHERE name_ko = '이동행'")
    asked = cluster.psql(DB, "SELECT count(*) FROM checkin WHERE national_id = %s" % member)
    form = trip_form(leg2_departure=day(12), m2_name=None, m2_birth_date=None, m2_need_child=None,
                     phone="+90 532 555 12 34", consent=None)
    r = post("/register/m/%s" % S["token"], form)
    expect_equal(r.status, 200, r.body[:400])
    check("저장했습니다" in r.body, "saved")
    expect_equal(self_people(), 2, "the child taken off")
    expect_equal(cluster.psql(DB, "SELECT id FROM national WHERE name_ko = '이동행'"), member,
                 "the member who stays is the same person, not a new row")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM checkin WHERE national_id = %s" % member), asked,
                 "with their check-in in the running crisis")
    expect_equal(cluster.psql(DB, "SELECT DISTINCT departure FROM itinerary_leg WHERE seq = 2"), day(12), "trip extended")
    expect_equal(cluster.psql(DB, "SELECT departure_date FROM national WHERE id = %d" % S["nid"]), day(12), "whole trip")
    expect_equal(cluster.psql(DB, "SELECT kind, value, verified FROM contact WHERE national_id = %d ORDER BY kind, value" % S["nid"]),
                 "email|Kim.Trip@example.org|f\nphone|+905325551234|f", "new phone to confirm, old one gone")
    code = record_secret(latest_code("+905325551234"))
    cid = cluster.psql(DB, "SELECT id FROM contact WHERE value = '+905325551234'")
    check("확인되었습니다" in post("/register/m/%s/verify" % S["token"], {"contact": cid, "code": code}).body, "confirmed")
    for bad in (trip_form(leg2_arrival=day(7), leg2_departure=day(6), consent=None),
                trip_form(family_relation="x" * 60, consent=None),
                trip_form(leg1_arrival="1999-12-30", consent=None),
                trip_form(leg2_departure=(TODAY + datetime.timedelta(days=4000)).isoformat(), consent=None)):
        r = post("/register/m/%s" % S["token"], bad)
        expect_equal(r.status, 400, "a bad change is refused with the field named")
    expect_equal(cluster.psql(DB, "SELECT DISTINCT departure FROM itinerary_leg WHERE seq = 2"), day(12), "kept as it was")
    # A lost link asked for with the Turkish number in national form, as people write it.
    # (The first link went to it when it was confirmed: only a new one counts. The
    # new link is kept pending: the deletion below uses it first.)
    earlier = {m["outbox_id"] for m in outbox_messages("link", "+905325551234")}
    earlier |= set(int(i) for i in cluster.psql(DB, "SELECT id FROM outbox WHERE kind = 'link' "
                                                    "AND recipient = '+905325551234'").split())
    post("/register/lost", {"contact": "0532 555 12 34", "lang": "ko"})
    fresh = eventually(lambda: [m for m in outbox_messages("link", "+905325551234") if m["outbox_id"] not in earlier],
                       timeout=10, what="a new link to the Turkish phone")
    S["token"] = record_secret(re.search(r"/register/m/([A-Za-z0-9_-]{43})", fresh[-1]["text"]).group(1))


def a_registrant_already_in_the_registry_is_merged_and_unmerged():
    # The earthquake is over: the trips below go through Antakya, so its running
    # check-in would ask them, and someone in an open crisis is merged only once it closes.
    expect_equal(lead.patch("/api/v1/crises/%d" % S["crisis"], {"state": "closed"}).status, 200, "closed")
    # A person the embassy imported registers a trip with the same passport.
    kept = int(cluster.psql(DB, "SELECT id FROM national WHERE source <> 'self' AND passport_no IS NOT NULL "
                                "AND deleted_at IS NULL ORDER BY id LIMIT 1"))
    passport, name_ko, name_latin, birth = cluster.psql(
        DB, "SELECT passport_no, coalesce(name_ko, ''), coalesce(name_latin, ''), coalesce(birth_date::text, '') "
            "FROM national WHERE id = %d" % kept).split("|")
    record_secret(passport)
    before = cluster.psql(DB, "SELECT kind, household_id, last_point_source, arrival_date, "
                              "(SELECT string_agg(kind || value || verified, ',' ORDER BY id) FROM contact "
                              "WHERE national_id = n.id) FROM national n WHERE id = %d" % kept)
    r = post("/register", trip_form(passport_no=passport, name_ko=name_ko or None, name_latin=name_latin or None,
                                    birth_date=birth or None, phone="010-6100-2200", email=None, people="3",
                                    m1_name=None, m1_birth_date=None, m2_name=None, m2_birth_date=None,
                                    m2_need_child=None))
    expect_equal(r.status, 303, r.body[:400])
    token = record_secret(re.search(r"/register/m/([A-Za-z0-9_-]{43})", r.header("Location")).group(1))
    reg = int(cluster.psql(DB, "SELECT id FROM registration WHERE duplicate_of = %d" % kept))
    listed = {x["id"]: x for x in lead.get("/api/v1/registrations").json()}
    check(reg in listed and listed[reg]["duplicate_of"]["national_id"] == kept, "staff see the likely duplicate")
    check({"kind": "phone", "verified": False} in listed[reg]["contacts"], "and what is not confirmed yet")
    check([leg["region"] for leg in listed[reg]["legs"]] == ["TR-34", "TR-31"], listed[reg]["legs"])
    expect_equal(lead_ua.get("/api/v1/registrations").json(), [], "another mission sees none of them")
    expect_equal(lead_ua.post("/api/v1/registrations/%d/merge" % reg, {}).status, 404, "nor merges them")
    # Confirm the phone, then merge: the registry's person takes contacts and legs.
    code = record_secret(latest_code("+821061002200"))
    cid = cluster.psql(DB, "SELECT c.id FROM contact c JOIN registration r ON r.national_id = c.national_id "
                           "WHERE r.id = %d" % reg)
    check("Confirmed." in post("/register/m/%s/verify" % token, {"contact": cid, "code": code, "lang": "en"}).body,
          "confirmed")
    # The registry's person already has a leg from an airline's manifest.
    cluster.psql(DB, "INSERT INTO itinerary_leg (national_id, seq, country, place, arrival, departure, source) "
                     "VALUES (%d, 1, 'TR', 'IST airport', '%s', '%s', 'partner')" % (kept, day(0), day(0)))
    page = d.get("/register/m/" + token)
    check('value="%s"' % passport in page.body, "the passport shown as typed, whether or not the registry has it")
    r = lead.post("/api/v1/registrations/%d/merge" % reg, {})
    expect_equal((r.status, r.json()["outcome"]), (200, "merged"), r.body)
    expect_equal(cluster.psql(DB, "SELECT string_agg(source || seq, ',' ORDER BY seq) FROM itinerary_leg "
                                  "WHERE national_id = %d" % kept), "partner1,self2,self3", "legs numbered after the partner's")
    # Through the link, only what the registration holds, and no change to the registry's record.
    staff_phone = cluster.psql(DB, "SELECT coalesce(string_agg(value, ','), '') FROM contact WHERE national_id = %d "
                                   "AND value <> '+821061002200'" % kept)
    page = d.get("/register/m/" + token + "?lang=en")
    check("joined this registration" in page.body, "the holder is told it was joined")
    check(all(v not in page.body for v in staff_phone.split(",") if v), "no contact staff gave the registry's person")
    check('name="name_ko"' not in page.body, "no form to change the registry's record")
    r = post("/register/m/%s" % token, trip_form(name_latin="SOMEONE ELSE", passport_no=passport, phone="010-6100-2200",
                                                  email=None, consent=None, lang="en"))
    check("joined this registration" in r.body, "a change is refused")
    check("SOMEONE ELSE" not in cluster.psql(DB, "SELECT coalesce(name_latin, '') FROM national WHERE id = %d" % kept),
          "the registry's record untouched")
    expect_equal(cluster.psql(DB, "SELECT verified FROM contact WHERE national_id = %d AND value = '+821061002200'" % kept),
                 "t", "the confirmed phone moved with its confirmation")
    # The registry's person is a resident: they stay one, where they live, and
    # the trip is theirs in the legs.
    expect_equal(cluster.psql(DB, "SELECT kind, coalesce(departure_date::text, ''), last_point_source FROM national "
                                  "WHERE id = %d" % kept), "resident||registration", "still a resident, at home")
    near = cluster.psql(DB, "SELECT count(*) FROM national n, nationals_near(n.mission_id, n.last_point, 1000, '%s') x "
                            "WHERE n.id = %d AND x.national_id = n.id" % (day(30), kept))
    expect_equal(near, "1", "found at home after the trip")
    # During the trip, the trip's place counts, as for a traveller: in Hatay
    # on the days of the second leg, and not at home meanwhile.
    expect_equal(cluster.psql(DB, "SELECT ST_Intersects(n.last_point, r.area) FROM national n, region r "
                                  "WHERE n.id = %d AND r.id = %s" % (kept, REGION["TR-31"])), "f", "home is not in Hatay")
    hatay = cluster.psql(DB, "SELECT count(*) FROM region r, nationals_in_area(r.mission_id, r.area, '%s') x "
                             "WHERE r.id = %s AND x.national_id = %d" % (day(3), REGION["TR-31"], kept))
    expect_equal(hatay, "1", "found in Hatay during the second leg")
    near = cluster.psql(DB, "SELECT count(*) FROM national n, nationals_near(n.mission_id, n.last_point, 1000, '%s') x "
                            "WHERE n.id = %d AND x.national_id = n.id" % (day(3), kept))
    expect_equal(near, "0", "not at home meanwhile")
    # Unless they answered from home since that leg began: fresher than the plan.
    expect_equal(cluster.psql(DB, "BEGIN; INSERT INTO location (national_id, point, source, observed_at) "
                                  "SELECT id, last_point, 'reply', '%s' FROM national WHERE id = %d; "
                                  "SELECT count(*) FROM national n, nationals_near(n.mission_id, n.last_point, 1000, "
                                  "'%s') x WHERE n.id = %d AND x.national_id = n.id; "
                                  "SELECT count(*) FROM region r, nationals_in_area(r.mission_id, r.area, '%s') x "
                                  "WHERE r.id = %s AND x.national_id = %d; ROLLBACK"
                                  % (day(2), kept, day(3), kept, day(3), REGION["TR-31"], kept)).splitlines()[-2:],
                 ["1", "0"], "an answer from home since the leg began keeps them at home")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national n JOIN registration r ON n.id = r.national_id "
                                  "WHERE r.id = %d AND n.id = %d" % (reg, kept)), "1", "the registration follows them")
    listed = {x["id"]: x for x in lead.get("/api/v1/registrations").json()}
    check(listed[reg]["merged"]["national_id"] == kept and listed[reg]["duplicate_of"] is None, "shown as merged")
    check(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'registration.merge'") == "1", "audited")
    r = lead.post("/api/v1/registrations/%d/unmerge" % reg, {})
    expect_equal((r.status, r.json()["outcome"]), (200, "unmerged"), r.body)
    after = cluster.psql(DB, "SELECT kind, household_id, last_point_source, arrival_date, "
                             "(SELECT string_agg(kind || value || verified, ',' ORDER BY id) FROM contact "
                             "WHERE national_id = n.id) FROM national n WHERE id = %d" % kept)
    expect_equal(after, before, "the registry's person exactly as before")
    expect_equal(cluster.psql(DB, "SELECT string_agg(source, ',') FROM itinerary_leg WHERE national_id = %d" % kept),
                 "partner", "the partner's leg stays with them")
    expect_equal(cluster.psql(DB, "SELECT deleted_at IS NULL FROM national n JOIN registration r "
                                  "ON r.national_id = n.id WHERE r.id = %d" % reg), "t", "the registrant back")
    expect_equal(cluster.psql(DB, "SELECT verified FROM contact c JOIN registration r ON r.national_id = c.national_id "
                                  "WHERE r.id = %d" % reg), "t", "with the confirmation made meanwhile")
    # Merged again, then the national deletes the registration: the registry's person stays, as before.
    expect_equal(lead.post("/api/v1/registrations/%d/merge" % reg, {}).json()["outcome"], "merged", "merge again")
    expect_equal(post("/register/m/%s/delete" % token, {"confirm": "1"}).status, 200, "deleted by the national")
    after = cluster.psql(DB, "SELECT kind, household_id, last_point_source, arrival_date, "
                             "(SELECT string_agg(kind || value || verified, ',' ORDER BY id) FROM contact "
                             "WHERE national_id = n.id) FROM national n WHERE id = %d" % kept)
    expect_equal(after, before, "the registry's person untouched by the deletion")


def a_merged_resident_is_kept_and_an_undo_keeps_what_staff_changed_since():
    # A resident the embassy imported registers a trip with their passport.
    kept = int(cluster.psql(DB, "SELECT id FROM national WHERE source = 'import' AND kind = 'resident' "
                                "AND passport_no IS NOT NULL AND deleted_at IS NULL AND last_point IS NOT NULL "
                                "AND NOT EXISTS (SELECT 1 FROM registration r WHERE r.duplicate_of = national.id) "
                                "ORDER BY id DESC LIMIT 1"))
    passport, name_ko, name_latin, birth = cluster.psql(
        DB, "SELECT passport_no, coalesce(name_ko, ''), coalesce(name_latin, ''), coalesce(birth_date::text, '') "
            "FROM national WHERE id = %d" % kept).split("|")
    record_secret(passport)
    before = cluster.psql(DB, "SELECT kind, coalesce(arrival_date::text, ''), coalesce(departure_date::text, ''), "
                              "last_point_source, ST_AsText(last_point), region_id FROM national WHERE id = %d" % kept)
    r = post("/register", trip_form(passport_no=passport, name_ko=name_ko or None, name_latin=name_latin or None,
                                    birth_date=birth or None, phone="010-6100-7070", email=None, people="1", m1_name=None, m1_birth_date=None,
                                    m2_name=None, m2_birth_date=None, m2_need_child=None), addr="198.51.100.70")
    expect_equal(r.status, 303, r.body[:400])
    token = record_secret(re.search(r"/register/m/([A-Za-z0-9_-]{43})", r.header("Location")).group(1))
    reg = int(cluster.psql(DB, "SELECT id FROM registration WHERE duplicate_of = %d" % kept))
    r = lead.post("/api/v1/registrations/%d/merge" % reg, {})
    expect_equal((r.status, r.json()["outcome"]), (200, "merged"), r.body)
    expect_equal(cluster.psql(DB, "SELECT kind, coalesce(arrival_date::text, ''), coalesce(departure_date::text, ''), "
                                  "last_point_source, ST_AsText(last_point), region_id FROM national WHERE id = %d" % kept),
                 before, "a resident stays a resident, with their dates and place")
    expect_equal(cluster.psql(DB, "SELECT string_agg(source, ',' ORDER BY seq) FROM itinerary_leg WHERE national_id = %d"
                                  % kept), "self,self", "the trip is theirs in the legs")
    # Retention, as if every trip were over long ago, leaves them, the
    # registrant's row set aside and the merge.
    expect_equal(cluster.psql(DB, "BEGIN; SELECT count(*) FROM purge_departed_travellers(-3660); "
                                  "SELECT count(*) FROM national WHERE id = %d; "
                                  "SELECT count(*) FROM registration_merge WHERE registration_id = %d; ROLLBACK"
                                  % (kept, reg)).splitlines()[1:], ["1", "1"], "the resident and the merge kept")
    # Staff then record that they are leaving, where they are, and a note.
    r = lead.patch("/api/v1/nationals/%d" % kept, {"kind": "traveller", "arrival_date": day(-400),
                                                   "departure_date": day(20), "notes": "leaving for good",
                                                   "location": {"lat": ANTAKYA[0], "lon": ANTAKYA[1]}})
    expect_equal(r.status, 200, r.body)
    r = lead.post("/api/v1/registrations/%d/unmerge" % reg, {})
    expect_equal((r.status, r.json()["outcome"]), (200, "unmerged"), r.body)
    expect_equal(r.json()["kept"], ["kind", "arrival_date", "departure_date"], "the answer names what stayed")
    expect_equal(cluster.psql(DB, "SELECT kind, arrival_date, departure_date, notes FROM national WHERE id = %d" % kept),
                 "traveller|%s|%s|leaving for good" % (day(-400), day(20)), "staff's newer trip and note stay")
    expect_equal(cluster.psql(DB, "SELECT n.last_point_source = 'staff' AND ST_Equals(n.last_point::geometry, "
                                  "ST_SetSRID(ST_MakePoint(%f, %f), 4326)) AND n.region_id IS NOT DISTINCT FROM "
                                  "(SELECT r.id FROM region r WHERE r.mission_id = n.mission_id AND ST_Intersects("
                                  "r.area::geometry, n.last_point::geometry) ORDER BY r.id LIMIT 1) "
                                  "FROM national n WHERE n.id = %d" % (ANTAKYA[1], ANTAKYA[0], kept)),
                 "t", "placed by the newest location, with its region")
    check(cluster.psql(DB, "SELECT region_id FROM national WHERE id = %d" % kept) == REGION["TR-31"], "in Hatay")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM itinerary_leg WHERE national_id = %d" % kept), "0",
                 "the legs back with the registration")
    check("[\"kind\",\"arrival_date\",\"departure_date\"]" in cluster.psql(
        DB, "SELECT summary FROM audit_log WHERE action = 'registration.unmerge' ORDER BY id DESC LIMIT 1").replace(" ", ""),
        "the audit says what stayed")
    # The registrant deletes their registration: the registry's person stays.
    expect_equal(post("/register/m/%s/delete" % token, {"confirm": "1"}).status, 200, "deleted by the national")
    expect_equal(cluster.psql(DB, "SELECT kind, notes FROM national WHERE id = %d AND deleted_at IS NULL" % kept),
                 "traveller|leaving for good", "the registry's person untouched by the deletion")


def a_partners_itineraries_come_in_with_row_level_errors():
    demo = cluster.psql(DB, "SELECT passport_no, coalesce(name_latin, name_ko), kind FROM national "
                            "WHERE source <> 'self' AND passport_no IS NOT NULL AND deleted_at IS NULL "
                            "AND kind = 'traveller' ORDER BY id DESC LIMIT 1").split("|")
    rows = [
        "성명,영문성명,여권번호,생년월일,휴대전화,국가,도시,지역,위도,경도,도착일,출발일",
        "최파트,CHOI PARTNER,P77001122,1975-05-05,010-9000-1111,TR,Istanbul,TR-34,,,%s,%s" % (day(0), day(2)),
        "최파트,CHOI PARTNER,P77001122,1975-05-05,010-9000-1111,TR,Antakya,TR-31,,,%s,%s" % (day(3), day(7)),
        "정좌표,JUNG COORD,P77003344,1980-01-01,,TR,Harbiye,,36.14,36.13,%s,%s" % (day(3), day(7)),
        "오지역,OH REGION,P77005566,1981-02-02,,TR,Nowhere,TR-99,,,%s,%s" % (day(3), day(7)),
        "한나라,HAN COUNTRY,P77007788,1982-03-03,,UA,Kyiv,UA-30,,,%s,%s" % (day(3), day(7)),
        "윤날짜,YUN DATE,P77009900,1983-04-04,,TR,Antakya,TR-31,,,%s,%s" % (day(7), day(3)),
        "오장소,OH PLACE,P77001212,1984-05-05,,TR,Antakya,,,,%s,%s" % (day(3), day(7)),
    ]
    if len(demo) == 3:
        record_secret(demo[0])
        rows.append(",%s,%s,,,TR,Antakya,TR-31,,,%s,%s" % (demo[1], demo[0], day(3), day(7)))
    body = ("\n".join(rows) + "\n").encode()
    people_before = int(cluster.psql(DB, "SELECT count(*) FROM national"))

    def send(dry, session=lead, mission=""):
        return session.request("POST", "/api/v1/itineraries/import?source=Hana+Tours&dry_run=%s%s" % (dry, mission), body,
                               headers={"Content-Type": "text/csv; charset=utf-8"})
    r = send("true")
    expect_equal(r.status, 200, r.body)
    dry = r.json()
    expect_equal(int(cluster.psql(DB, "SELECT count(*) FROM national")), people_before, "a dry run stores nothing")
    check(dry["dry_run"] and dry["travellers_added"] == 2 and dry["legs_added"] >= 3, dry)
    r = send("false")
    report = r.json()
    expect_equal((report["travellers_added"], report["travellers_matched"]), (2, 1 if len(demo) == 3 else 0), report)
    expect_equal(report["legs_added"], 4 if len(demo) == 3 else 3, "legs")
    errors = {(e["line"], e["field"]) for e in report["errors"]}
    expect_equal(errors, {(5, "region"), (6, "country"), (7, "departure_date"), (8, "region")}, report["errors"])
    check(all("P7700" not in e["reason"] and "Nowhere" not in e["reason"] for e in report["errors"]),
          "reasons never quote the file")
    expect_equal(report["bad_rows"], 4, "bad rows")
    choi = int(cluster.psql(DB, "SELECT id FROM national WHERE passport_no = 'P77001122'"))

    def near(point, on):
        return cluster.psql(DB, "SELECT count(*) FROM nationals_near(%d, ST_SetSRID(ST_MakePoint(%f, %f), 4326)"
                                "::geography, 30000, '%s') WHERE national_id = %d" % (MISSION, point[1], point[0], on, choi))
    expect_equal((near(ANTAKYA, day(5)), near(ANTAKYA, day(1)), near(ISTANBUL, day(1))), ("1", "0", "1"),
                 "placed by the leg of the day")
    expect_equal(cluster.psql(DB, "SELECT string_agg(source || ':' || coalesce(place, ''), ',' ORDER BY seq) "
                                  "FROM itinerary_leg WHERE national_id = %d" % choi),
                 "partner:Istanbul,partner:Antakya", "both legs, from the partner")
    again = send("false").json()
    expect_equal((again["travellers_added"], again["legs_added"]), (0, 0), "the same file again adds nothing")
    expect_equal(send("false", lead_ua, "&mission=%d" % MISSION).status, 404, "another mission's staff cannot import here")
    own = send("true", lead_ua).json()
    expect_equal((own["travellers_added"], own["bad_rows"]), (0, len(rows) - 1), "nor put Türkiye's legs in their own")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'itinerary.import'"), "2", "audited")


def deletion_leaves_nothing_personal_in_any_table():
    r = post("/register/m/%s/delete" % S["token"], {"lang": "ko"})
    expect_equal(r.status, 200, "without the box ticked: the page again")
    expect_equal(self_people(), 2, "nothing deleted yet")
    r = post("/register/m/%s/delete" % S["token"], {"lang": "ko", "confirm": "1"})
    expect_equal(r.status, 200, r.body[:300])
    check("지웠습니다" in r.body, r.body[:300])
    needles = ["김여행", "KIM YEOHAENG", "이동행", "LEE CHILD", "M12345678", "48217730", "5325551234", "kim.trip",
               "5555-0142", "55550142", "김부모", "Sultanahmet", "괜찮아요", "1990-04-05"]
    tables = cluster.psql(DB, "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                              "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')").split()
    check(len(tables) > 20, "every table: %r" % tables)
    pattern = "|".join(re.escape(n) for n in needles)
    for t in tables:
        hits = cluster.psql(DB, "SELECT count(*) FROM %s x WHERE x::text ~* '%s'" % (t, pattern))
        expect_equal(hits, "0", "a name or number left in %s" % t)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'registration.delete' "
                                  "AND object_id = '%d'" % S["nid"]), "1", "audited")
    expect_equal(d.get("/register/m/" + S["token"]).status, 404, "the link leads nowhere now")
    counts = cluster.psql(DB, "SELECT sum(n) FROM status_count WHERE crisis_id = %d" % S["crisis"])
    people = cluster.psql(DB, "SELECT count(*) FROM person_status WHERE crisis_id = %d" % S["crisis"])
    expect_equal(counts, people, "the counts follow the deletion")


def a_national_registers_in_a_browser_and_is_found_on_the_days_of_the_second_leg():
    shots = os.path.join(LOG_DIR, "screenshots")
    os.makedirs(shots, exist_ok=True)
    env = dict(os.environ, BASE="http://127.0.0.1:%d" % d.port, USER="lead", PASSWORD=PASSWORD,
               OUTBOX_LOG=os.path.join(d.workdir, "outbox-log.jsonl"), SCREENSHOTS=shots,
               CHROMIUM=shutil.which("chromium") or "/usr/bin/chromium",
               LEG1_FROM=day(0), LEG1_TO=day(2), LEG2_FROM=day(3), LEG2_TO=day(8))
    r = subprocess.run(["node", os.path.join(SOURCE_DIR, "tests", "browser", "register.mjs")], env=env,
                       capture_output=True, text=True, timeout=180)
    print("  " + (r.stdout + r.stderr).strip().replace("\n", "\n  "))
    expect_equal(r.returncode, 0, "browser test")
    people = set(map(int, cluster.psql(DB, "SELECT n.id FROM national n JOIN national r ON r.household_id = n.household_id "
                                           "WHERE r.name_ko = '박브라우저'").split()))
    expect_equal(len(people), 3, "the registrant and two people with them")

    def found(on, point):
        return set(map(int, cluster.psql(
            DB, "SELECT national_id FROM nationals_near(%d, ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography, 40000, '%s')"
            % (MISSION, point[1], point[0], on)).split())) & people
    expect_equal(found(day(5), ANTAKYA), people, "in Antakya on a day of the second leg")
    expect_equal(found(day(11), ANTAKYA), set(), "not after both legs")
    expect_equal(found(day(-3), ANTAKYA) | found(day(-3), ISTANBUL), set(), "not before both legs")
    expect_equal(cluster.psql(DB, "SELECT verified FROM contact c JOIN national n ON n.id = c.national_id "
                                  "WHERE n.name_ko = '박브라우저'"), "t", "the phone confirmed in the browser")
    for name in ("register-1-form.png", "register-2-manage.png", "register-3-confirmed.png", "register-4-registry.png"):
        check(os.path.getsize(os.path.join(shots, name)) > 5000, "screenshot " + name)


def no_enumeration_and_limits_per_address():
    # A number already registered gets exactly the answer a new one gets.
    first = post("/register", trip_form(phone="010-7000-0001"), addr="198.51.100.7")
    again = post("/register", trip_form(phone="010-7000-0001"), addr="198.51.100.7")
    expect_equal((first.status, again.status), (303, 303), "the same answer")
    check(first.body == again.body, "the same page")
    dup = cluster.psql(DB, "SELECT count(*) FROM registration WHERE duplicate_of IS NOT NULL")
    check(int(dup) >= 1, "the second is marked as a likely duplicate for staff")
    check(first.header("Location") != again.header("Location"), "each its own link")
    # A flood from one address: the blank form keeps being served, saves stop at the
    # address's daily limit, nothing fails.
    import concurrent.futures
    def one(i):
        if i % 4 == 0:
            return "get", d.get("/register?country=TR").status
        return "post", post("/register", trip_form(phone="010-7100-%04d" % i, family_consent=None,
                                                    family_phone=None)).status
    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(one, range(200)))
    gets = [st for kind, st in results if kind == "get"]
    posts = [st for kind, st in results if kind == "post"]
    expect_equal(set(gets), {200}, "the form is served throughout")
    check(set(posts) <= {303, 429, 503}, "saves capped or limited, never failing: %r" % sorted(set(posts)))
    for i in range(40):
        if post("/register", trip_form(phone="010-7200-%04d" % i, family_consent=None, family_phone=None)).status == 429:
            break
    else:
        raise AssertionError("no limit per address")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM registration_attempt "
                                  "WHERE addr_hash = text_sha256('127.0.0.1')"), "30",
                 "one address makes at most 30 a day (a hotel's guests fit)")
    metrics = d.get("/metrics").body

    def metric(name, outcome):
        m = re.search(r'^%s\{outcome="%s"\} (\d+)$' % (name, outcome), metrics, re.M)
        return int(m.group(1)) if m else -1
    check(metric("safety_registrations_total", "created") >= 25, "registrations counted")
    check(metric("safety_registrations_total", "refused") >= 5, "refused forms counted")
    check(metric("safety_registrations_total", "limited") >= 1, "the limit counted")
    check(metric("safety_registrations_total", "deleted") >= 1, "deletions counted")
    check(metric("safety_registration_codes_total", "confirmed") >= 2, "confirmations counted")
    check(metric("safety_registration_codes_total", "locked") >= 1, "locked codes counted")
    check("김여행" not in metrics and "+8210" not in metrics, "counts only, never who")


def token_of(r):
    m = re.search(r"/register/m/([A-Za-z0-9_-]{43})", r.header("Location") or "")
    check(m, "a management link: %r" % (r,))
    return record_secret(m.group(1))


def national_of(token):
    return int(cluster.psql(DB, "SELECT national_id FROM registration WHERE manage_hash = "
                                "encode(sha256(convert_to('%s', 'UTF8')), 'hex')" % token))


def codes_to_national(nid):
    return int(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE kind = 'code' AND national_id = %d" % nid))


def short_form(**over):
    """A one-leg trip alone, without a contact at home."""
    form = trip_form(lang="en", passport_no=None, m1_name=None, m1_birth_date=None, m2_name=None,
                     m2_birth_date=None, m2_need_child=None, leg2_region=None, leg2_place=None,
                     leg2_arrival=None, leg2_departure=None, family_name=None, family_relation=None,
                     family_phone=None, family_consent=None, email=None)
    form.update(over)
    return {k: v for k, v in form.items() if v is not None}


def changes_cannot_pump_codes_through_one_registration():
    r = post("/register", short_form(name_latin="PUMP ONE", phone="010-7300-0000", phone2="010-7301-0000",
                                     email="pump0@example.net"), addr="203.0.113.10")
    expect_equal(r.status, 303, r.body[:300])
    token = token_of(r)
    nid = national_of(token)
    refused = None
    for i in range(1, 8):
        # Each change from another address, so only the registration's own budget applies.
        change = short_form(name_latin="PUMP ONE", phone="010-73%02d-1111" % i, phone2="010-73%02d-2222" % i,
                            email="pump%d@example.net" % i, consent=None)
        r = post("/register/m/%s" % token, change, addr="203.0.113.%d" % (20 + i))
        if r.status == 429:
            refused = (i, r, change)
            break
        expect_equal(r.status, 200, r.body[:300])
    check(refused, "changes with new contacts are limited")
    i, r, change = refused
    check(int(r.header("Retry-After")) > 0, "Retry-After: %r" % r.header("Retry-After"))
    check("Your change was not saved" in r.body and "minutes" in r.body, r.body[:800])
    check('value="%s"' % change["phone"] in r.body, "what was typed is shown again")
    check(codes_to_national(nid) <= 8, "at most 8 codes an hour for a registration: %d" % codes_to_national(nid))
    kept = ("pump0@example.net,+821073000000,+821073010000" if i == 1 else
            "pump%d@example.net,+821073%02d1111,+821073%02d2222" % (i - 1, i - 1, i - 1))
    expect_equal(cluster.psql(DB, "SELECT string_agg(value, ',' ORDER BY kind, value) FROM contact "
                                  "WHERE national_id = %d" % nid), kept,
                 "the registration as it was before the refused change")
    page = d.get("/register/m/" + token)
    check(page.status == 200 and "PUMP ONE" in page.body, "nothing lost")


def codes_are_limited_per_address_and_in_all():
    # Eight registrations from hosts of one IPv6 /64, three contacts each: 24 codes wanted.
    tokens, locations = [], []
    for i in range(8):
        r = post("/register", short_form(name_latin="NET SIX", phone="010-7310-%04d" % i, phone2="010-7311-%04d" % i,
                                         email="six%d@example.net" % i), addr="2001:db8:ac:1::%x" % (i + 1))
        expect_equal(r.status, 303, r.body[:300])
        tokens.append(token_of(r))
        locations.append(r.header("Location"))
    sent = sum(codes_to_national(national_of(t)) for t in tokens)
    expect_equal(sent, 20, "codes from one address in an hour")
    check("held=" in locations[-1] and "held=" not in locations[0], locations)
    page = d.get(locations[-1])
    check(page.status == 200 and "no code could be sent just now" in page.body, page.body[:600])
    # Asking for a code again from the same /64 is refused, kindly; from elsewhere it is sent.
    cid = cluster.psql(DB, "SELECT min(id) FROM contact WHERE national_id = %d" % national_of(tokens[-1]))
    r = post("/register/m/%s/resend" % tokens[-1], {"contact": cid, "lang": "en"}, addr="2001:db8:ac:1::99")
    expect_equal(r.status, 429, r.body[:300])
    check(int(r.header("Retry-After")) > 0 and "No more codes can be sent just now" in r.body, r.body[:600])
    r = post("/register/m/%s/resend" % tokens[-1], {"contact": cid, "lang": "en"}, addr="203.0.113.77")
    check(r.status == 200 and "A code was sent" in r.body, r.body[:600])
    # The whole system's budget: once spent, no code goes out, whoever asks.
    cid2 = cluster.psql(DB, "SELECT max(id) FROM contact WHERE national_id = %d" % national_of(tokens[-1]))
    cluster.psql(DB, "INSERT INTO code_send (recipient_hash, sent_at) "
                     "SELECT 'budget-test', now() FROM generate_series(1, 2000)")
    try:
        r = post("/register/m/%s/resend" % tokens[-1], {"contact": cid2, "lang": "en"}, addr="203.0.113.78")
        expect_equal(r.status, 429, r.body[:300])
    finally:
        cluster.psql(DB, "DELETE FROM code_send WHERE recipient_hash = 'budget-test'")
    r = post("/register/m/%s/resend" % tokens[-1], {"contact": cid2, "lang": "en"}, addr="203.0.113.78")
    check(r.status == 200 and "A code was sent" in r.body, r.body[:600])


def one_mailbox_is_counted_once_whatever_its_tag():
    typed = ["Victim+%d@Example.com" % i for i in range(4)] + ["VICTIM@example.com", "victim+x@EXAMPLE.com",
                                                              "victim@example.com"]
    created = []
    for i, email in enumerate(typed):
        r = post("/register", short_form(name_latin="MAIL BOMB", phone=None, email=email), addr="192.0.2.%d" % (50 + i))
        expect_equal(r.status, 303, r.body[:300])
        created.append((r.header("Location"), token_of(r)))
    sent = cluster.psql(DB, "SELECT recipient FROM outbox WHERE kind = 'code' "
                            "AND lower(recipient) ~ '^victim(\\+[^@]*)?@example\\.com$' ORDER BY id").splitlines()
    expect_equal(len(sent), 5, "five codes an hour to one mailbox: %r" % sent)
    expect_equal(sent[:4], ["Victim+%d@example.com" % i for i in range(4)], "each sent to the address as typed")
    # Past the mailbox's budget a registration's codes are held and its page says when to ask,
    # never "enter the code sent" for a code that was not.
    check("held=" not in created[4][0] and "held=" in created[5][0] and "held=" in created[6][0],
          [loc for loc, _ in created])
    page = d.get(created[6][0])
    check(page.status == 200 and "no code could be sent just now" in page.body, page.body[:800])
    # Asking for one: 429 with when, not "wait a minute".
    cid = cluster.psql(DB, "SELECT min(id) FROM contact WHERE national_id = %d" % national_of(created[6][1]))
    r = post("/register/m/%s/resend" % created[6][1], {"contact": cid, "lang": "en"}, addr="192.0.2.70")
    expect_equal(r.status, 429, r.body[:300])
    check(int(r.header("Retry-After")) > 60 and "No more codes can be sent just now" in r.body, r.body[:800])
    # A change that adds the mailbox is saved with its code held: whoever spent the mailbox's
    # codes cannot stop a registrant from changing their registration.
    r = post("/register", short_form(name_latin="MAIL OTHER", phone="010-7410-0001", email=None), addr="192.0.2.71")
    expect_equal(r.status, 303, r.body[:300])
    token = token_of(r)
    r = post("/register/m/%s" % token, short_form(name_latin="MAIL OTHER", phone="010-7410-0001",
                                                 email="victim+y@example.com", consent=None), addr="192.0.2.71")
    check(r.status == 200 and "no code could be sent just now" in r.body and "minutes" in r.body, r.body[:800])
    expect_equal(cluster.psql(DB, "SELECT string_agg(kind || ':' || verified, ',' ORDER BY kind) FROM contact "
                                  "WHERE national_id = %d" % national_of(token)), "email:false,phone:false",
                 "the mailbox kept, unconfirmed")
    sent_after = cluster.psql(DB, "SELECT count(*) FROM outbox WHERE kind = 'code' "
                                  "AND lower(recipient) ~ '^victim(\\+[^@]*)?@example\\.com$'")
    expect_equal(sent_after, "5", "no sixth code to the mailbox")
    # And a later change of something else is saved too, the code still held.
    r = post("/register/m/%s" % token, short_form(name_latin="MAIL OTHER", phone="010-7410-0001",
                                                 email="victim+y@example.com", leg1_place="Mersin", consent=None),
             addr="192.0.2.71")
    check(r.status == 200 and "no code could be sent just now" in r.body, r.body[:800])
    expect_equal(cluster.psql(DB, "SELECT string_agg(DISTINCT place, ',') FROM itinerary_leg WHERE national_id = %d"
                              % national_of(token)), "Mersin", "the change saved")


def lost_links_tell_nothing_and_take_nothing_away():
    # A registrant with a confirmed phone.
    known, stranger = "010-7400-0001", "010-7400-0002"
    r = post("/register", short_form(name_latin="LOST OWNER", phone=known, email=None), addr="198.51.100.30")
    expect_equal(r.status, 303, r.body[:300])
    token = token_of(r)
    cid = cluster.psql(DB, "SELECT id FROM contact WHERE value = '+821074000001'")
    code = record_secret(latest_code("+821074000001"))
    check("Confirmed." in post("/register/m/%s/verify" % token, {"contact": cid, "code": code, "lang": "en"},
                               addr="198.51.100.30").body, "confirmed")
    # Five requests for each number: the same answers, limited alike.
    answers = {}
    for number, addr in ((known, "198.51.100.31"), (stranger, "198.51.100.32")):
        answers[number] = [post("/register/lost", {"contact": number, "lang": "en"}, addr=addr) for _ in range(5)]
    for a, b in zip(answers[known], answers[stranger]):
        expect_equal((a.status, a.body), (b.status, b.body), "no way to tell who is registered")
        expect_equal(a.header("Retry-After") is None, b.header("Retry-After") is None, "Retry-After alike")
    expect_equal([a.status for a in answers[known]], [200, 200, 200, 429, 429], "three an hour per contact")
    check("Too many requests for a new link" in answers[known][-1].body, answers[known][-1].body[:600])
    # Nobody's link stops working because someone asked for a new one.
    expect_equal(d.get("/register/m/" + token).status, 200, "the holder's link still works")
    # A stranger's requests neither show in nor use up the codes a number may get.
    codes_before = len(outbox_messages("code", "+821074000001"))
    for number, addr in ((known, "198.51.100.34"), (stranger, "198.51.100.35")):
        r = post("/register", short_form(name_latin="PROBE", phone=number, email=None), addr=addr)
        expect_equal(r.status, 303, r.body[:300])
        probe = token_of(r)
        pcid = cluster.psql(DB, "SELECT c.id FROM contact c JOIN registration r ON r.national_id = c.national_id "
                                "WHERE r.manage_hash = encode(sha256(convert_to('%s', 'UTF8')), 'hex')" % probe)
        cluster.psql(DB, "UPDATE contact_code SET sent_at = now() - interval '2 minutes' WHERE contact_id = %s" % pcid)
        r = post("/register/m/%s/resend" % probe, {"contact": pcid, "lang": "en"}, addr=addr)
        check(r.status == 200 and "A code was sent" in r.body, "%s: %s" % (number, r.body[:600]))
    eventually(lambda: len(outbox_messages("code", "+821074000001")) == codes_before + 2, timeout=10,
               what="both codes to the registered number")
    # The new links: the first one opened becomes the link, and every other stops working.
    links = eventually(lambda: outbox_messages("link", "+821074000001")[1:] if len(
        outbox_messages("link", "+821074000001")) == 4 else None, timeout=10, what="three new links")
    fresh = [record_secret(re.search(r"/register/m/([A-Za-z0-9_-]{43})", m["text"]).group(1)) for m in links]
    expect_equal(d.get("/register/m/" + fresh[1]).status, 200, "a new link opens the registration")
    expect_equal([d.get("/register/m/" + t).status for t in (token, fresh[0], fresh[2], fresh[1])],
                 [404, 404, 404, 200], "once used, only it works")
    # One address asking for many contacts is limited too.
    statuses = [post("/register/lost", {"contact": "010-7500-%04d" % i, "lang": "en"}, addr="198.51.100.33").status
                for i in range(11)]
    expect_equal(statuses, [200] * 10 + [429], "ten requests an hour per address")


def registrations_are_counted_per_ipv6_64():
    statuses = [post("/register", short_form(name_latin="SIX FOUR", phone="010-7600-%04d" % i),
                     addr="2001:db8:64:5::%x" % (i + 1)).status for i in range(31)]
    expect_equal(statuses, [303] * 30 + [429], "one /64 makes at most 30 a day, as one IPv4 address")
    r = post("/register", short_form(name_latin="SIX FOUR", phone="010-7600-9999"), addr="2001:db8:64:6::1")
    expect_equal(r.status, 303, "the next /64 is another address")


def enter_in_a_field_submits_the_form_not_more_legs():
    for path in ("/register?country=TR&lang=en", "/register?country=TR&lang=ko"):
        html = d.get(path).body
        form = html[html.index('<form method="post" action="/register"'):]
        first = re.search(r"<button[^>]*type=\"submit\"[^>]*>", form).group(0)
        check('name="more"' not in first and "hidden" in first, "the first submit button registers: " + first)


def leg_count(nid):
    return int(cluster.psql(DB, "SELECT count(*) FROM itinerary_leg WHERE national_id = %d" % nid))


def a_trip_keeps_its_ended_legs_and_the_rest_can_be_changed():
    r = post("/register", short_form(name_latin="ENDED LEG", phone="010-6200-1001", leg2_region=REGION["TR-31"],
                                     leg2_place="Antakya", leg2_arrival=day(1), leg2_departure=day(5)),
             addr="198.51.100.21")
    expect_equal(r.status, 303, r.body[:300])
    token = token_of(r)
    nid = national_of(token)
    # Days later: the first leg is over; the form shows it as stored.
    cluster.psql(DB, "UPDATE itinerary_leg SET arrival = arrival - 3, departure = departure - 3 "
                     "WHERE national_id = %d AND seq = 1" % nid)
    page = d.get("/register/m/%s?lang=en" % token).body
    check('value="%s"' % day(-3) in page, "the ended leg shown")
    shown = dict(leg1_arrival=day(-5), leg1_departure=day(-3))
    change = short_form(name_latin="ENDED LEG", phone="010-6200-1001", leg2_region=REGION["TR-31"],
                        leg2_place="Antakya", leg2_arrival=day(1), leg2_departure=day(12), consent=None, **shown)
    r = post("/register/m/%s" % token, change)
    expect_equal(r.status, 200, r.body[:300])
    check("Saved." in r.body, "the change saved with the ended leg as it was")
    expect_equal(cluster.psql(DB, "SELECT string_agg(arrival || '/' || departure, ',' ORDER BY seq) FROM itinerary_leg "
                                  "WHERE national_id = %d" % nid),
                 "%s/%s,%s/%s" % (day(-5), day(-3), day(1), day(12)), "both legs, the second extended")
    # An ended leg changed, or a new one that has ended: refused at its departure, nothing changed.
    for bad in (dict(shown, leg1_arrival=day(-6)), dict(leg3_region=REGION["TR-34"], leg3_arrival=day(-9),
                                                          leg3_departure=day(-7), **shown)):
        r = post("/register/m/%s" % token, dict(change, **bad))
        expect_equal(r.status, 400, r.body[:300])
        check("This leg has already ended." in r.body, "the ended leg named")
    expect_equal(leg_count(nid), 2, "kept as it was")
    S["ended_token"], S["ended_nid"] = token, nid


def legs_past_the_twentieth_are_refused_not_dropped():
    token, nid = S["ended_token"], S["ended_nid"]
    # A partner sent fourteen legs after the registration's two, numbered after them:
    # four more fit.
    cluster.psql(DB, "INSERT INTO itinerary_leg (national_id, seq, country, region_id, arrival, departure, source) "
                     "SELECT %d, 2 + g, 'TR', %s, current_date + 20 + g, current_date + 20 + g, 'partner' "
                     "FROM generate_series(1, 14) g" % (nid, REGION["TR-06"]))
    form = short_form(name_latin="ENDED LEG", phone="010-6200-1001", consent=None, legs="10",
                      leg1_arrival=day(-5), leg1_departure=day(-3))
    for i in range(2, 11):
        form.update({"leg%d_region" % i: REGION["TR-31"], "leg%d_arrival" % i: day(i), "leg%d_departure" % i: day(i)})
    r = post("/register/m/%s" % token, form)
    expect_equal(r.status, 400, r.body[:300])
    check("Too many legs" in r.body and "4 more can be saved" in r.body, "how many fit")
    expect_equal(leg_count(nid), 16, "nothing dropped, nothing changed")


def a_removed_phone_takes_its_pending_links_with_it():
    r = post("/register", short_form(name_latin="LOST PHONE", phone="010-6200-2001"), addr="198.51.100.31")
    token = token_of(r)
    nid = national_of(token)
    cluster.psql(DB, "UPDATE contact SET verified = true WHERE national_id = %d" % nid)
    # Whoever has the phone asks for a new link; the registrant then replaces the phone.
    post("/register/lost", {"contact": "010-6200-2001", "lang": "en"}, addr="198.51.100.32")
    sent = eventually(lambda: [m for m in outbox_messages("link", "+821062002001")
                               if "/register/m/" in m["text"]], timeout=10, what="a new link to the phone")
    pending = record_secret(re.search(r"/register/m/([A-Za-z0-9_-]{43})", sent[-1]["text"]).group(1))
    r = post("/register/m/%s" % token, short_form(name_latin="LOST PHONE", phone="010-6200-2002", consent=None))
    check(r.status == 200 and "Saved." in r.body, r.body[:300])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM registration_link_pending p JOIN registration g "
                                  "ON g.id = p.registration_id WHERE g.national_id = %d" % nid), "0", "pending links gone")
    expect_equal(d.get("/register/m/%s?lang=en" % pending).status, 404, "the link sent to the old phone opens nothing")
    expect_equal(d.get("/register/m/%s?lang=en" % token).status, 200, "the registrant's link still works")


def merging_into_a_companion_keeps_her_household_and_legs():
    r = post("/register", short_form(name_latin="HAN HUSBAND", phone="010-6200-3001", m1_name="한아내",
                                     m1_birth_date="1991-03-03", leg1_region=REGION["TR-06"], leg1_arrival=day(1),
                                     leg1_departure=day(6)), addr="198.51.100.41")
    expect_equal(r.status, 303, r.body[:300])
    wife = int(cluster.psql(DB, "SELECT id FROM national WHERE name_ko = '한아내' AND source = 'self'"))
    household = cluster.psql(DB, "SELECT household_id FROM national WHERE id = %d" % wife)
    legs = cluster.psql(DB, "SELECT string_agg(id::text, ',' ORDER BY seq) FROM itinerary_leg WHERE national_id = %d" % wife)
    # She registers herself too, by her Korean name and birth date.
    r = post("/register", short_form(name_ko="한아내", name_latin=None, birth_date="1991-03-03", phone="010-6200-3002",
                                     leg1_region=REGION["TR-06"], leg1_arrival=day(1), leg1_departure=day(6)),
             addr="198.51.100.42")
    token = token_of(r)
    reg = int(cluster.psql(DB, "SELECT id FROM registration WHERE national_id = %d" % national_of(token)))
    expect_equal(cluster.psql(DB, "SELECT duplicate_of FROM registration WHERE id = %d" % reg), str(wife), "her match")
    m = lead.post("/api/v1/registrations/%d/merge" % reg, {})
    expect_equal((m.status, m.json()["outcome"]), (200, "merged"), m.body)
    expect_equal(cluster.psql(DB, "SELECT household_id FROM national WHERE id = %d" % wife), household,
                 "still in her husband's registration")
    expect_equal(leg_count(wife), 2, "her leg and the registration's")
    u = lead.post("/api/v1/registrations/%d/unmerge" % reg, {})
    expect_equal((u.status, u.json()["outcome"]), (200, "unmerged"), u.body)
    expect_equal(cluster.psql(DB, "SELECT string_agg(id::text, ',' ORDER BY seq) FROM itinerary_leg "
                                  "WHERE national_id = %d" % wife), legs, "her own leg stays hers")
    # Merged again, then she deletes her registration: her place in the husband's stays.
    m = lead.post("/api/v1/registrations/%d/merge" % reg, {})
    expect_equal(m.json()["outcome"], "merged", m.body)
    expect_equal(post("/register/m/%s/delete" % token, {"confirm": "1", "lang": "en"}).status, 200, "deleted")
    expect_equal(cluster.psql(DB, "SELECT deleted_at IS NULL, household_id FROM national WHERE id = %d" % wife),
                 "t|" + household, "kept")
    expect_equal(cluster.psql(DB, "SELECT string_agg(id::text, ',' ORDER BY seq) FROM itinerary_leg "
                                  "WHERE national_id = %d" % wife), legs, "with her leg")
    ankara = (39.9334, 32.8597)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM nationals_near(%d, ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography, "
                                  "60000, '%s') WHERE national_id = %d" % (MISSION, ankara[1], ankara[0], day(3), wife)),
                 "1", "found where her leg is")


def the_same_person_registered_twice_is_not_merged():
    first = post("/register", short_form(name_latin="TWICE PARK", passport_no="M62004001", birth_date="1977-07-07",
                                         phone="010-6200-4001"), addr="198.51.100.51")
    second = post("/register", short_form(name_latin="TWICE PARK", passport_no="M62004001", birth_date="1977-07-07",
                                          phone="010-6200-4002"), addr="198.51.100.52")
    one = int(cluster.psql(DB, "SELECT id FROM registration WHERE national_id = %d" % national_of(token_of(first))))
    two = int(cluster.psql(DB, "SELECT id FROM registration WHERE national_id = %d" % national_of(token_of(second))))
    m = lead.post("/api/v1/registrations/%d/merge" % two, {})
    expect_equal(m.status, 200, m.body)
    expect_equal((m.json()["outcome"], m.json()["registration_id"]), ("duplicate_is_registration", one), m.body)
    listed = {x["id"]: x for x in lead.get("/api/v1/registrations?limit=1000").json()}
    expect_equal(listed[two]["duplicate_of"]["registration_id"], one, "the list names the other registration")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM registration_merge WHERE registration_id = %d" % two), "0", "none")


def hold_membership_lock(seconds, held):
    """Holds the mission's membership lock, as a running launch does."""
    def hold():
        cluster.psql(DB, "SELECT pg_advisory_xact_lock(hashtextextended('crisis-members:%d', 0)); "
                         "SELECT pg_sleep(%f)" % (MISSION, seconds))
    import threading
    t = threading.Thread(target=hold)
    t.start()
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted") != "0",
               timeout=5, what="lock held")
    held.append(t)


def changes_during_a_launch_never_wait_and_removals_say_so():
    import time
    member = dict(m1_name="LOCK MEMBER", m1_birth_date="2001-01-01")
    r = post("/register", short_form(name_latin="LOCK WAIT", phone="010-6200-5001", **member), addr="198.51.100.61")
    token = token_of(r)
    nid = national_of(token)
    household = "(SELECT household_id FROM national WHERE id = %d)" % nid
    members = lambda: cluster.psql(DB, "SELECT count(*) FROM national WHERE household_id = %s AND deleted_at IS NULL"
                                       % household)
    expect_equal(members(), "2", "registered with a member")
    held = []
    # A change that takes nobody off is saved at once, while a launch holds the mission.
    hold_membership_lock(6, held)
    start = time.time()
    r = post("/register/m/%s" % token, short_form(name_latin="LOCK WAIT", phone="010-6200-5001", consent=None,
                                                  leg1_place="Kusadasi", **member))
    waited = time.time() - start
    check(r.status == 200 and "Saved." in r.body, r.body[:300])
    check(waited < 2, "a change keeping everyone does not wait for the launch (%.2fs)" % waited)
    expect_equal(cluster.psql(DB, "SELECT string_agg(DISTINCT place, ',') FROM itinerary_leg WHERE national_id IN "
                                  "(SELECT id FROM national WHERE household_id = %s)" % household), "Kusadasi",
                 "the change is stored for the whole household")
    # Taking a member off meanwhile is refused at once, nothing changed, the form kept as typed.
    start = time.time()
    r = post("/register/m/%s" % token, short_form(name_latin="LOCK WAIT", phone="010-6200-5001", consent=None,
                                                  leg1_place="Bodrum"))
    waited = time.time() - start
    expect_equal(r.status, 503, r.body[:300])
    check(waited < 2, "refused without waiting for the launch (%.2fs)" % waited)
    check(int(r.header("Retry-After")) > 0, "Retry-After: %r" % r.header("Retry-After"))
    check("Your change was not saved" in r.body and "safety check" in r.body, r.body[:800])
    check('value="Bodrum"' in r.body, "what was typed is shown again")
    expect_equal(members(), "2", "the member is still there")
    expect_equal(cluster.psql(DB, "SELECT place FROM itinerary_leg WHERE national_id = %d" % nid), "Kusadasi",
                 "nothing of the refused change is stored")
    held[0].join()
    # Once the launch is over the same change goes through.
    r = post("/register/m/%s" % token, short_form(name_latin="LOCK WAIT", phone="010-6200-5001", consent=None,
                                                  leg1_place="Bodrum"))
    check(r.status == 200 and "Saved." in r.body, r.body[:300])
    expect_equal(members(), "1", "the member is taken off after the launch")
    hold_membership_lock(2.5, held)
    start = time.time()
    r = post("/register/m/%s/delete" % token, {"confirm": "1", "lang": "en"})
    waited = time.time() - start
    held[1].join()
    expect_equal(r.status, 200, r.body[:300])
    check(waited > 1.5, "a deletion waits for the launch (%.2fs)" % waited)


def family_notices_need_a_confirmed_registrant_and_carry_no_typed_text():
    ko = dict(lang="ko", leg1_region=REGION["TR-31"], leg1_place="Antakya", leg1_arrival=day(0),
              leg1_departure=day(5), family_consent="1")
    # Unconfirmed: the notice would be anyone's text to any number.
    r = post("/register", short_form(name_latin="NOT CONFIRMED", phone="010-6200-6001", family_phone="010-6200-6900",
                                     **ko), addr="198.51.100.71")
    expect_equal(r.status, 303, r.body[:300])
    # Confirmed, with a "name" that is a message (as an older name rule let through).
    r = post("/register", short_form(name_latin="ODD NAME", phone="010-6200-6002", family_phone="010-6200-6901", **ko),
             addr="198.51.100.72")
    odd = national_of(token_of(r))
    cluster.psql(DB, "UPDATE national SET name_ko = '긴급 가족 사고 합의금 즉시 송금 국민 110-234-567890 문의 010-9999-8888', "
                     "name_latin = NULL WHERE id = %d; UPDATE contact SET verified = true WHERE national_id = %d" % (odd, odd))
    # Four confirmed registrations naming one number at home, one in English.
    for i in range(4):
        form = dict(ko, lang="en" if i == 0 else "ko")
        r = post("/register", short_form(name_latin="SAME HOME", name_ko="박가족", birth_date="198%d-01-01" % i,
                                         phone="010-6200-61%02d" % i, family_phone="010-6200-6902", **form),
                 addr="198.51.100.%d" % (80 + i))
        nid = national_of(token_of(r))
        cluster.psql(DB, "UPDATE contact SET verified = true WHERE national_id = %d" % nid)
    crisis = lead.post("/api/v1/crises", {"kind": "kidnapping", "title": "Hostages held at Hotel Savon, Antakya",
                                          "severity": 4, "circle": {"lat": ANTAKYA[0], "lon": ANTAKYA[1],
                                                                    "radius_m": 30000}}).json()["id"]
    launched = lead.post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"]})
    check(launched.status in (200, 201, 202), launched.body)
    odd_texts = eventually(lambda: [m["text"] for m in outbox_messages("family", "+821062006901")], timeout=15,
                           what="the notice for a confirmed registrant")
    check("가족분께 안전 여부를 묻고 있습니다" in odd_texts[0] and "010-9999" not in odd_texts[0]
          and "송금" not in odd_texts[0], odd_texts[0])
    home = eventually(lambda: len(outbox_messages("family", "+821062006902")) >= 3 and
                      [m["text"] for m in outbox_messages("family", "+821062006902")], timeout=15, what="notices home")
    import time
    time.sleep(1.0)
    home = [m["text"] for m in outbox_messages("family", "+821062006902")]
    expect_equal(len(home), 3, "three notices of one kind per crisis to one number")
    check(any("(security incident)" in t for t in home), "the English notice: %r" % home)
    check(any("안전 관련 상황 관련" in t for t in home), "the Korean notice: %r" % home)
    for t in home + odd_texts:
        check(not re.search(r"Savon|Antakya|Hostages|Hatay", t), "the crisis in fixed words, never its title: " + t)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE kind = 'family' AND recipient = '+821062006900'"),
                 "0", "nothing for a registrant who confirmed nothing")
    expect_equal(lead.patch("/api/v1/crises/%d" % crisis, {"state": "closed"}).status, 200, "closed")


def people_who_come_into_a_running_check_in_are_asked():
    izmir = (38.4192, 27.1287)
    crisis = lead.post("/api/v1/crises", {"kind": "flood", "title": "Izmir flood", "severity": 3,
                                          "circle": {"lat": izmir[0], "lon": izmir[1], "radius_m": 30000}}).json()["id"]
    launched = lead.post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"]})
    check(launched.status in (200, 201, 202), launched.body)
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM campaign WHERE crisis_id = %d" % crisis) == "1",
               timeout=10, what="launched")

    def state_of(nid):
        return cluster.psql(DB, "SELECT coalesce((SELECT k.state || ':' || p.status FROM checkin k "
                                "JOIN person_status p USING (crisis_id, national_id) "
                                "WHERE k.crisis_id = %d AND k.national_id = %d), 'not asked')" % (crisis, nid))

    def targeted_is_everyone_asked():
        expect_equal(cluster.psql(DB, "SELECT targeted FROM campaign WHERE crisis_id = %d" % crisis),
                     cluster.psql(DB, "SELECT count(*) FROM checkin WHERE crisis_id = %d" % crisis), "targeted")
    before = int(cluster.psql(DB, "SELECT targeted FROM campaign WHERE crisis_id = %d" % crisis))
    # A traveller registering a trip to Izmir while the check-in runs.
    izmir_trip = dict(leg1_region=REGION["TR-35"], leg1_place="Izmir", leg1_arrival=day(-1), leg1_departure=day(3))
    r = post("/register", short_form(name_latin="FLOOD ARRIVAL", phone="010-6300-0001", **izmir_trip),
             addr="198.51.100.90")
    expect_equal(r.status, 303, r.body[:300])
    arrival = national_of(token_of(r))
    expect_equal(state_of(arrival), "asked:pending", "asked at once, pending until they answer")
    expect_equal(int(cluster.psql(DB, "SELECT targeted FROM campaign WHERE crisis_id = %d" % crisis)), before + 1,
                 "counted as targeted")
    targeted_is_everyone_asked()
    sent = eventually(lambda: outbox_messages("checkin", "+821063000001"), timeout=15, what="their check-in sent")
    check(re.search(r"/r/[A-Za-z0-9_-]+", sent[0]["text"]), "with their reply link: %r" % sent[0]["text"])
    # One registering a trip to Ankara is not, until they change it to Izmir.
    ankara_trip = dict(leg1_region=REGION["TR-06"], leg1_place="Ankara", leg1_arrival=day(-1), leg1_departure=day(3))
    r = post("/register", short_form(name_latin="FLOOD ELSEWHERE", phone="010-6300-0002", **ankara_trip),
             addr="198.51.100.91")
    expect_equal(r.status, 303, r.body[:300])
    token = token_of(r)
    elsewhere = national_of(token)
    expect_equal(state_of(elsewhere), "not asked", "a trip elsewhere is not asked")
    r = post("/register/m/%s" % token, short_form(name_latin="FLOOD ELSEWHERE", phone="010-6300-0002",
                                                   consent=None, **izmir_trip))
    expect_equal(r.status, 200, r.body[:300])
    expect_equal(state_of(elsewhere), "asked:pending", "asked once the trip goes there")
    # Staff recording where someone is: into the area asks them, elsewhere does not.
    into, away = map(int, cluster.psql(
        DB, "SELECT n.id FROM national n WHERE n.mission_id = %d AND n.deleted_at IS NULL AND n.kind = 'resident' "
            "AND n.source <> 'self' AND EXISTS (SELECT 1 FROM contact c WHERE c.national_id = n.id "
            "AND c.kind = 'phone') AND NOT EXISTS (SELECT 1 FROM itinerary_leg l WHERE l.national_id = n.id) "
            "AND NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = %d AND k.national_id = n.id) "
            "ORDER BY n.id LIMIT 2" % (MISSION, crisis)).split())
    expect_equal(lead.patch("/api/v1/nationals/%d" % away, {"location": {"lat": 39.93, "lon": 32.86}}).status, 200,
                 "moved to Ankara")
    expect_equal(state_of(away), "not asked", "a place outside the area asks no one")
    expect_equal(lead.patch("/api/v1/nationals/%d" % into, {"location": {"lat": 38.43, "lon": 27.14}}).status, 200,
                 "moved to Izmir")
    expect_equal(state_of(into), "asked:pending", "a place inside it asks them")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND national_id IN (%d, %d, %d)"
                              % (crisis, arrival, elsewhere, into)), "3", "one message each")
    targeted_is_everyone_asked()
    # Moved again inside the area: not asked twice.
    expect_equal(lead.patch("/api/v1/nationals/%d" % into, {"location": {"lat": 38.44, "lon": 27.15}}).status, 200,
                 "moved within Izmir")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND national_id = %d"
                              % (crisis, into)), "1", "asked once")
    targeted_is_everyone_asked()
    expect_equal(lead.patch("/api/v1/crises/%d" % crisis, {"state": "closed"}).status, 200, "closed")


def second_izmir_state(nid):
    return cluster.psql(DB, "SELECT coalesce((SELECT k.state || ':' || p.status FROM checkin k "
                            "JOIN person_status p USING (crisis_id, national_id) "
                            "WHERE k.crisis_id = %d AND k.national_id = %d), 'not asked')" % (S["izmir2"], nid))


def izmir_resident_not_asked():
    """A resident of the registry with a phone, no trip and no check-in in the second Izmir crisis."""
    return int(cluster.psql(
        DB, "SELECT n.id FROM national n WHERE n.mission_id = %d AND n.deleted_at IS NULL AND n.kind = 'resident' "
            "AND n.source <> 'self' AND EXISTS (SELECT 1 FROM contact c WHERE c.national_id = n.id "
            "AND c.kind = 'phone') AND NOT EXISTS (SELECT 1 FROM itinerary_leg l WHERE l.national_id = n.id) "
            "AND NOT EXISTS (SELECT 1 FROM checkin k WHERE k.crisis_id = %d AND k.national_id = n.id) "
            "ORDER BY n.id LIMIT 1" % (MISSION, S["izmir2"])))


IZMIR_TRIP = dict(leg1_place="Izmir", leg1_arrival=day(-1), leg1_departure=day(3))


def a_registrant_flagged_as_someone_asked_is_not_asked_again():
    izmir = (38.4192, 27.1287)
    S["izmir2"] = crisis = lead.post("/api/v1/crises", {"kind": "flood", "title": "Izmir flood again", "severity": 3,
                                          "circle": {"lat": izmir[0], "lon": izmir[1], "radius_m": 30000}}).json()["id"]
    launched = lead.post("/api/v1/crises/%d/campaigns" % crisis, {"channels": ["sms"]})
    check(launched.status in (200, 201, 202), launched.body)
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM campaign WHERE crisis_id = %d AND state = 'running'"
                                    % crisis) == "1", timeout=10, what="launched")
    state_of = second_izmir_state
    izmir_trip = dict(IZMIR_TRIP, leg1_region=REGION["TR-35"])
    # Someone the registry has, asked in the check-in, registers again by themselves.
    kept = int(cluster.psql(
        DB, "SELECT n.id FROM national n WHERE n.mission_id = %d AND n.deleted_at IS NULL AND n.kind = 'resident' "
            "AND n.source <> 'self' AND n.passport_no IS NOT NULL AND NOT EXISTS (SELECT 1 FROM itinerary_leg l "
            "WHERE l.national_id = n.id) AND NOT EXISTS (SELECT 1 FROM registration g "
            "WHERE g.duplicate_of = n.id OR g.national_id = n.id) ORDER BY n.id LIMIT 1" % MISSION))
    expect_equal(lead.patch("/api/v1/nationals/%d" % kept, {"location": {"lat": 38.43, "lon": 27.14}}).status, 200,
                 "the registry's person moved to Izmir")
    expect_equal(state_of(kept), "asked:pending", "and asked")
    passport = record_secret(cluster.psql(DB, "SELECT passport_no FROM national WHERE id = %d" % kept))
    r = post("/register", short_form(name_latin="SAME PERSON", passport_no=passport, phone="010-6300-0101",
                                     **izmir_trip), addr="198.51.100.95")
    expect_equal(r.status, 303, r.body[:300])
    twin = national_of(token_of(r))
    reg = int(cluster.psql(DB, "SELECT id FROM registration WHERE national_id = %d" % twin))
    expect_equal(cluster.psql(DB, "SELECT duplicate_of FROM registration WHERE id = %d" % reg), str(kept),
                 "flagged as the registry's person")
    expect_equal(state_of(twin), "not asked", "the same person is not asked twice")
    m = lead.post("/api/v1/registrations/%d/merge" % reg, {})
    expect_equal((m.status, m.json()["outcome"]), (200, "merged"), "merged while the check-in runs: " + m.body)


def late_joiners_get_the_launch_language_and_names_as_written():
    crisis = S["izmir2"]
    # English only, with a Korean name too and a name that looks like a template's field.
    english = izmir_resident_not_asked()
    cluster.psql(DB, "UPDATE national SET languages = '{en}', name_ko = '김영희', name_latin = 'KIM {crisis} {name}' "
                     "WHERE id = %d" % english)
    expect_equal(lead.patch("/api/v1/nationals/%d" % english, {"location": {"lat": 38.42, "lon": 27.13}}).status,
                 200, "moved to Izmir")
    expect_equal(cluster.psql(DB, "SELECT language || '|' || (body LIKE '%%KIM {crisis} {name}%%') FROM outbox "
                                  "WHERE crisis_id = %d AND national_id = %d" % (crisis, english)), "en|true",
                 "asked in English, the name written as it is")


def joins_wait_for_no_launch_and_are_never_lost():
    crisis = S["izmir2"]
    state_of = second_izmir_state
    izmir_trip = dict(IZMIR_TRIP, leg1_region=REGION["TR-35"])
    # A launch holds the mission (as one over a million people does for seconds).
    held = threading.Thread(target=cluster.psql, args=(DB, "BEGIN; SELECT pg_advisory_xact_lock(hashtextextended("
                                                           "'crisis-members:%d', 0)); SELECT pg_sleep(7); COMMIT"
                                                       % MISSION))
    held.start()
    time.sleep(1)
    t0 = time.time()
    r = post("/register", short_form(name_latin="DURING A LAUNCH", phone="010-6300-0102", **izmir_trip),
             addr="198.51.100.96")
    took = time.time() - t0
    expect_equal(r.status, 303, r.body[:300])
    check(took < 2, "registered without waiting for the launch (%.2f s)" % took)
    newcomer = national_of(token_of(r))
    moved = izmir_resident_not_asked()
    t0 = time.time()
    expect_equal(lead.patch("/api/v1/nationals/%d" % moved, {"location": {"lat": 38.43, "lon": 27.14}}).status, 200,
                 "moved to Izmir during the launch")
    check(time.time() - t0 < 2, "without waiting for the launch")
    held.join()
    # Both asked once the launch is over, by safetyd's next drain.
    for nid in (newcomer, moved):
        eventually(lambda: state_of(nid) == "asked:pending", timeout=25, what="national %d asked after the launch" % nid)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM outbox WHERE crisis_id = %d AND national_id IN (%d, %d)"
                              % (crisis, newcomer, moved)), "2", "one message each")
    expect_equal(cluster.psql(DB, "SELECT targeted FROM campaign WHERE crisis_id = %d" % crisis),
                 cluster.psql(DB, "SELECT count(*) FROM checkin WHERE crisis_id = %d" % crisis), "targeted")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM join_pending"), "0", "nobody left queued")
    expect_equal(lead.patch("/api/v1/crises/%d" % crisis, {"state": "closed"}).status, 200, "closed")


if __name__ == "__main__":
    try:
        run([the_blank_form_works_without_javascript_in_both_languages,
             nothing_is_stored_without_consent,
             every_bad_value_is_named_next_to_its_field,
             a_two_leg_trip_with_a_household_is_registered,
             codes_confirm_contacts_and_resist_guessing,
             the_spatial_query_follows_the_legs,
             the_family_is_told_once_per_answer_and_never_where,
             the_management_link_changes_the_registration,
             a_registrant_already_in_the_registry_is_merged_and_unmerged,
             a_merged_resident_is_kept_and_an_undo_keeps_what_staff_changed_since,
             a_partners_itineraries_come_in_with_row_level_errors,
             deletion_leaves_nothing_personal_in_any_table,
             a_national_registers_in_a_browser_and_is_found_on_the_days_of_the_second_leg,
             enter_in_a_field_submits_the_form_not_more_legs,
             a_trip_keeps_its_ended_legs_and_the_rest_can_be_changed,
             legs_past_the_twentieth_are_refused_not_dropped,
             a_removed_phone_takes_its_pending_links_with_it,
             merging_into_a_companion_keeps_her_household_and_legs,
             the_same_person_registered_twice_is_not_merged,
             changes_during_a_launch_never_wait_and_removals_say_so,
             family_notices_need_a_confirmed_registrant_and_carry_no_typed_text,
             changes_cannot_pump_codes_through_one_registration,
             codes_are_limited_per_address_and_in_all,
             one_mailbox_is_counted_once_whatever_its_tag,
             lost_links_tell_nothing_and_take_nothing_away,
             registrations_are_counted_per_ipv6_64,
             no_enumeration_and_limits_per_address,
             people_who_come_into_a_running_check_in_are_asked,
             a_registrant_flagged_as_someone_asked_is_not_asked_again,
             late_joiners_get_the_launch_language_and_names_as_written,
             joins_wait_for_no_launch_and_are_never_lost,
             a_residence_is_registered_in_its_region,
             a_nul_in_a_change_or_a_small_form_is_refused_naming_the_field,
             a_residence_given_by_its_region_is_found_anywhere_in_it,
             two_missions_in_one_country_each_get_their_own,
             the_outbox_log_is_readable_by_safetyd_alone])
    finally:
        d.stop()
        cluster.dropdb(DB)
