"""The reply page as a national sees it: a small page that works without
JavaScript, in Korean or English; an answer stored before it is confirmed,
the same form twice stored once, the status following; a wrong or closed
link telling nothing; a duress answer byte-identical to a normal "safe"."""

import hashlib
import hmac
import json
import os
import re
import time
import urllib.parse

from harness import APP_ROLE, Cluster, Daemon, Session, check, ctl, demo_check_in, eventually, expect_equal, record_secret, run

cluster = Cluster.shared()
DB = "t_reply_page"
PASSWORD = record_secret("Iskenderun-Hatay-2026")
HOOK = record_secret("reply-page-hook-secret-0123456789")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "400", "--seed", "3").returncode, 0, "demo")
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10", "public_rate_per_second": "1000", "public_burst": "1000"},
                               "channels": {"dispatch_interval_ms": "50", "hook_secret": HOOK}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
expect_equal(ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file",
                 pwfile).returncode, 0, "user")
lead = Session(d, "lead", PASSWORD)
crisis, LINKS = demo_check_in(lead, cluster, DB, d.workdir)
PEOPLE = sorted(LINKS)


def post(token, **form):
    return d.request("POST", "/r/" + token, body=urllib.parse.urlencode(form),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})


def the_page_is_small_accessible_and_works_without_javascript():
    nid = PEOPLE[0]
    r = d.get("/r/" + LINKS[nid], headers={"Accept-Language": "ko-KR,ko;q=0.9"})
    expect_equal(r.status, 200, r.body)
    html = r.body
    check(len(html.encode()) < 15000, "page is %d bytes" % len(html.encode()))
    check('<html lang="ko">' in html and "안전하십니까" in html and "M7.8 Pazarcık" in html, html[:400])
    check('method="post"' in html and html.count('type="radio" name="status"') == 4, "a plain form with four choices")
    check("<legend>" in html and '<label class="field" for="people">' in html, "labelled for screen readers")
    check("<script>" not in html and "style=" not in html, "no inline script or style (CSP)")
    # First name only: no surname, no passport, no phone.
    name_ko, name_latin, passport = cluster.psql(DB, "SELECT name_ko, name_latin, coalesce(passport_no, '') FROM national WHERE id = %d" % nid).split("|")
    check(name_ko[1:] in html and name_ko not in html, "first name only")
    check(not passport or passport not in html, "no passport")
    en = d.get("/r/" + LINKS[nid] + "?lang=en").body
    check('<html lang="en">' in en and "Are you safe right now?" in en, en[:300])
    css = d.get("/static/reply.css")
    expect_equal(css.status, 200, "stylesheet")
    check(css.header("Content-Type").startswith("text/css"), css.header("Content-Type"))
    total = len(html.encode()) + len(css.body.encode()) + len(d.get("/static/reply.js").body.encode())
    check(total < 15000, "page with its files is %d bytes" % total)


def an_answer_is_stored_confirmed_and_counted():
    nid = PEOPLE[1]
    r = post(LINKS[nid], status="injured", people="3", message="다리를 다쳤어요", lat="36.2025", lon="36.1604", lang="ko")
    expect_equal(r.status, 200, r.body)
    check("답변을 받았습니다" in r.body, r.body)
    row = cluster.psql(DB, "SELECT status, headcount, round(ST_Y(point::geometry)::numeric, 3) FROM response WHERE national_id = %d" % nid)
    expect_equal(row, "injured|3|36.203", "stored as sent")
    eventually(lambda: cluster.psql(DB, "SELECT status, headcount FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, nid)) == "injured|3",
               timeout=5, what="status injured")
    expect_equal(cluster.psql(DB, "SELECT state FROM checkin WHERE national_id = %d" % nid), "answered", "check-in answered")
    check(int(cluster.psql(DB, "SELECT coalesce(sum(n), 0) FROM status_count WHERE crisis_id = %d AND status = 'injured'" % crisis)) >= 1, "counted")
    check(int(cluster.psql(DB, "SELECT coalesce(sum(n), 0) FROM response_minute WHERE crisis_id = %d" % crisis)) >= 1, "per minute")
    # Staff see the place the answer gave at the end of the person's trail, oldest first.
    track = lead.get("/api/v1/crises/%d/people/%d" % (crisis, nid)).json()["track"]
    check(track and track[-1]["source"] == "reply" and abs(track[-1]["lat"] - 36.2025) < 1e-4 and
          abs(track[-1]["lon"] - 36.1604) < 1e-4, "the answer's place ends the trail: %r" % track[-3:])
    check(all(a["at"] <= b["at"] for a, b in zip(track, track[1:])), "the trail in time order")
    # The launch and this answer went through connections of the role that owns nothing.
    expect_equal(cluster.psql(DB, "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity "
                                  "WHERE datname = '%s' AND pid <> pg_backend_pid()" % DB), APP_ROLE,
                 "the role safetyd connects as")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM pg_class WHERE relowner = '%s'::regrole" % APP_ROLE),
                 "0", "objects the app role owns")


def the_same_form_twice_is_one_answer_and_a_new_answer_updates():
    nid = PEOPLE[2]
    page = d.get("/r/" + LINKS[nid]).body
    form_id = re.search(r'name="form" value="([0-9a-f]{24})"', page).group(1)
    check(form_id != re.search(r'name="form" value="([0-9a-f]{24})"', d.get("/r/" + LINKS[nid]).body).group(1),
          "each form drawn has an id of its own")
    # The same form sent again, even seconds later (a retry on a slow network), is one answer.
    for pause in (0, 5.5):
        time.sleep(pause)
        expect_equal(post(LINKS[nid], status="safe", people="2", form=form_id).status, 200, "post")
    own = "SELECT count(*) FROM response WHERE national_id = %d " \
          "AND coalesce(raw_text, '') NOT LIKE '[by household member%%'" % nid
    expect_equal(cluster.psql(DB, own), "1", "stored once")
    expect_equal(post(LINKS[nid], status="needs_help", message="물이 없어요").status, 200, "second answer")
    eventually(lambda: cluster.psql(DB, "SELECT status FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, nid)) == "needs_help",
               timeout=5, what="updated to needs_help")
    # Safe after needs_help is kept but flagged for a human.
    expect_equal(post(LINKS[nid], status="safe").status, 200, "third answer")
    eventually(lambda: cluster.psql(DB, "SELECT status, confirm_safe FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, nid)) == "safe|t",
               timeout=5, what="safe flagged for confirmation")


def no_choice_shows_the_form_again():
    nid = PEOPLE[3]
    r = post(LINKS[nid], people="2")
    expect_equal(r.status, 200, "form again")
    check('type="radio"' in r.body, "the form")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d" % nid), "0", "nothing stored")


def wrong_links_tell_nothing():
    good = LINKS[PEOPLE[4]]
    tampered = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    pages = []
    for token in (tampered, "x" * 22, "short", good[:10], "a" * 200, good + "A"):
        r = d.get("/r/" + token)
        expect_equal(r.status, 404, token)
        pages.append(re.sub(r"\s+", " ", r.body))
    check(len(set(pages)) == 1, "every wrong link gets the same page")
    check("더 이상 쓸 수 없습니다" in pages[0], pages[0])
    expect_equal(d.get("/r/%00" + good).status, 400, "an encoded NUL is a bad request")
    r = post(tampered, status="safe")
    expect_equal(r.status, 404, "posting to a tampered link")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d" % PEOPLE[4]), "0", "nothing stored")


def a_duress_answer_looks_exactly_like_safe():
    a, b = PEOPLE[5], PEOPLE[6]
    # b registered a private duress word; the keyed hash is made by the daemon's own rule.
    r = lead.post("/api/v1/nationals/%d/duress-word" % b, {"word": "무궁화"})
    expect_equal(r.status, 204, r.body)
    check("무궁화" not in cluster.psql(DB, "SELECT duress_hash FROM national WHERE id = %d" % b), "stored hashed")
    normal = post(LINKS[a], status="safe", message="괜찮아요", lang="ko")
    # The word with a particle glued to it, as Korean is written.
    forced = post(LINKS[b], status="safe", message="괜찮아요 무궁화예요", lang="ko")
    expect_equal(forced.status, normal.status, "status")
    strip = lambda body, token: body.replace(token, "TOKEN")
    expect_equal(strip(forced.body, LINKS[b]), strip(normal.body, LINKS[a]), "byte-identical pages")
    eventually(lambda: cluster.psql(DB, "SELECT status, duress FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, b)) == "safe|t",
               timeout=5, what="duress raised for staff")
    expect_equal(cluster.psql(DB, "SELECT duress FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, a)), "f", "not for the other")


def a_duress_word_survives_a_key_rotation():
    # Set under reply-link key 1, then the keys are rotated to 2 (1 kept so
    # old links open): the word must still raise duress, here by SMS.
    nid = PEOPLE[10]
    phone = cluster.psql(DB, "SELECT value FROM contact WHERE national_id = %d AND kind = 'phone' "
                             "ORDER BY priority LIMIT 1" % nid)
    keys = os.path.join(d.workdir, "rotation.keys")
    with open(keys, "w") as f:
        f.write("1:" + "c1" * 32 + "\n")
    os.chmod(keys, 0o600)  # safetyd refuses keys others may read
    hook = record_secret("rotation-hook-secret-0123456789")
    sections = {"auth": {"password_hash_cost": "10"}, "channels": {"hook_secret": hook},
                "tokens": {"key_file": keys, "key_id": "1"}}
    before = Daemon(conninfo, sections=sections).start()
    try:
        r = Session(before, "lead", PASSWORD).post("/api/v1/nationals/%d/duress-word" % nid, {"word": "진달래"})
        expect_equal(r.status, 204, r.body)
    finally:
        before.stop()
    with open(keys, "a") as f:
        f.write("2:" + "c2" * 32 + "\n")
    sections["tokens"]["key_id"] = "2"
    after = Daemon(conninfo, sections=sections).start()
    try:
        r = after.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
            {"secret": hook, "from": phone, "to": "1", "text": "안전합니다 진달래", "id": "rotation-1"}))
        expect_equal(r.status, 200, r.body)
        eventually(lambda: cluster.psql(DB, "SELECT status, duress FROM person_status WHERE crisis_id = %d AND "
                                            "national_id = %d" % (crisis, nid)) == "safe|t",
                   timeout=5, what="duress raised after the rotation")
        # Words stored as the plain HMAC-SHA256 of the documented derivation
        # (under the current key and the old one) are found: how the daemon
        # computes the hash is free, what it computes is not.
        for i, (secret, word) in enumerate([("c2" * 32, "tulip"), ("c1" * 32, "orchid")]):
            other = PEOPLE[11 + i]
            key = hmac.new(secret.encode(), b"safety-duress-v1", hashlib.sha256).digest()
            cluster.psql(DB, "UPDATE national SET duress_hash = '%s' WHERE id = %d"
                         % (hmac.new(key, word.encode(), hashlib.sha256).hexdigest(), other))
            r = after.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
                {"secret": hook, "from": phone_of(other), "to": "1", "text": "Safe. %ss!" % word.capitalize(),
                 "id": "rotation-%d" % (i + 2)}))
            expect_equal(r.status, 200, r.body)
            eventually(lambda: cluster.psql(DB, "SELECT duress FROM response WHERE provider_ref = 'kannel:rotation-%d'"
                                                % (i + 2)) == "t", timeout=5, what="%s found by its plain HMAC" % word)
    finally:
        after.stop()


def staff_see_counts_and_the_most_urgent_first():
    r = lead.get("/api/v1/crises/%d/status" % crisis)
    expect_equal(r.status, 200, r.body)
    st = r.json()
    check(st["counts"].get("injured", 0) >= 1 and st["counts"].get("pending", 0) > 10, st["counts"])
    total = sum(st["counts"].values())
    expect_equal(total, int(cluster.psql(DB, "SELECT count(*) FROM person_status WHERE crisis_id = %d" % crisis)), "counts add up")
    expect_equal(st["flags"]["duress"], 1, "one duress")
    check(st["by_region"] and sum(m["answers"] for m in st["per_minute"]) >= 5, st)
    people = lead.get("/api/v1/crises/%d/people?limit=500" % crisis).json()["items"]
    check(people[0]["duress"], "duress first: %r" % people[0])
    check(people[1]["status"] == "injured", "then injured: %r" % people[1])
    hurt = lead.get("/api/v1/crises/%d/people?status=injured" % crisis).json()["items"]
    check(hurt and all(p["status"] == "injured" for p in hurt) and hurt[0]["last_answer"]["text"], hurt)
    expect_equal(lead.get("/api/v1/crises/%d/people?flag=sleepy" % crisis).status, 400, "bad flag")


def staff_enter_replies_taken_by_phone():
    nid = PEOPLE[8]
    r = lead.post("/api/v1/crises/%d/responses" % crisis, {"national_id": nid, "status": "needs_evacuation",
                                                           "headcount": 4, "message": "전화로 받음"})
    expect_equal(r.status, 201, r.body)
    eventually(lambda: cluster.psql(DB, "SELECT status FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, nid)) == "needs_evacuation",
               timeout=5, what="status from staff entry")
    row = cluster.psql(DB, "SELECT channel, entered_by FROM response WHERE national_id = %d" % nid)
    expect_equal(row, "staff|lead", "recorded with the staff member")
    # The person's page: the message sent, then the answer staff entered, in time order.
    person = lead.get("/api/v1/crises/%d/people/%d" % (crisis, nid)).json()
    kinds = [(e["kind"], e["channel"]) for e in person["history"]]
    expect_equal(kinds, [("message", "sms"), ("answer", "staff")], "history")
    check(person["history"][1]["detail"] == "전화로 받음" and person["contacts"], person)
    expect_equal(lead.get("/api/v1/crises/%d/people/999999" % crisis).status, 404, "nobody")
    check("response.staff" in cluster.psql(DB, "SELECT string_agg(action, ',') FROM audit_log"), "audited")
    # Someone of the mission the campaign never asked (outside the area) has no status row yet:
    # staff's answer makes it, a second answer changes it, and the counts follow both.
    outside = cluster.psql(DB, "SELECT min(n.id) FROM national n JOIN mission m ON m.id = n.mission_id AND m.code = 'TR-ANK'"
                               " WHERE n.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM person_status p"
                               " WHERE p.crisis_id = %d AND p.national_id = n.id)" % crisis)
    check(outside != "", "someone of the mission outside the area")
    for status, version in (("needs_help", "0"), ("safe", "1")):
        r = lead.post("/api/v1/crises/%d/responses" % crisis, {"national_id": int(outside), "status": status})
        expect_equal(r.status, 201, r.body)
        eventually(lambda: cluster.psql(DB, "SELECT status, version FROM person_status WHERE crisis_id = %d"
                                            " AND national_id = %s" % (crisis, outside)) == "%s|%s" % (status, version),
                   timeout=5, what="status %s of someone never asked" % status)
    expect_equal(cluster.psql(DB, "SELECT coalesce(sum(n), 0) FROM status_count WHERE crisis_id = %d AND status <> 'pending'"
                                  % crisis),
                 cluster.psql(DB, "SELECT count(*) FROM person_status WHERE crisis_id = %d AND status <> 'pending'" % crisis),
                 "counts follow the new row and its change")
    # Missing is a staff decision: a later answer does not undo it, it asks for review.
    other = PEOPLE[9]
    lead.post("/api/v1/crises/%d/responses" % crisis, {"national_id": other, "status": "missing"})
    eventually(lambda: cluster.psql(DB, "SELECT status FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, other)) == "missing",
               timeout=5, what="missing")
    post(LINKS[other], status="safe")
    eventually(lambda: cluster.psql(DB, "SELECT status, needs_review FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, other)) == "missing|t",
               timeout=5, what="stays missing, flagged for review")
    for bad in ({"national_id": nid, "status": "pending"}, {"national_id": nid, "status": "fine"}, {"status": "safe"},
                {"national_id": 99999999, "status": "safe"}):
        r = lead.post("/api/v1/crises/%d/responses" % crisis, bad)
        check(r.status in (400, 404), "%r -> %d" % (bad, r.status))


def households_of(size, count, linked):
    """Households of exactly `size` members, none answered yet, the first `linked` with a reply link."""
    used = ",".join(str(n) for n in PEOPLE[:12])
    rows = cluster.psql(DB, "SELECT string_agg(n.id::text, ' ' ORDER BY n.id) FROM national n "
                        "WHERE n.household_id IS NOT NULL AND n.deleted_at IS NULL GROUP BY n.household_id "
                        "HAVING count(*) = %d AND bool_and(n.id NOT IN (%s)) "
                        "AND bool_and(NOT EXISTS (SELECT 1 FROM response r WHERE r.national_id = n.id)) "
                        "ORDER BY min(n.id)" % (size, used))
    found = [[int(x) for x in line.split()] for line in rows.splitlines() if line]
    found = [sorted(h, key=lambda m: m not in LINKS) for h in found]
    found = [h for h in found if all(m in LINKS for m in h[:linked])][:count]
    check(len(found) == count,
          "demo has %d households of %d with links: %r" % (count, size, found))
    return found


def status_of(nid):
    return cluster.psql(DB, "SELECT status, by_proxy FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, nid))


def one_answer_speaks_for_the_household():
    (a, b, c), = households_of(3, 1, linked=2)
    r = post(LINKS[a], status="safe", people="3", message="we are 3, all safe")
    expect_equal(r.status, 200, r.body)
    eventually(lambda: [status_of(n) for n in (a, b, c)] == ["safe|f", "safe|t", "safe|t"],
               timeout=5, what="household safe by proxy")
    text = cluster.psql(DB, "SELECT raw_text FROM response WHERE national_id = %d" % b)
    check(text.startswith("[by household member %d]" % a) and "all safe" in text, "proxy response text: %r" % text)
    # Their own answer replaces the proxy one.
    post(LINKS[b], status="injured", people="1")
    eventually(lambda: status_of(b) == "injured|f", timeout=5, what="own answer after proxy")
    # A proxy never hides a worse own answer: a later "we are 3, all safe" from a leaves b injured.
    post(LINKS[a], status="safe", people="3", message="still all fine")
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d" % b) == "3",
               timeout=5, what="second proxy stored for b")
    expect_equal(status_of(b), "injured|f", "b keeps their own worse answer")


def the_message_box_is_read_too():
    # "Safe" chosen for three, but the message says the husband is bleeding.
    (a, b, c), = households_of(3, 1, linked=1)
    r = post(LINKS[a], status="safe", people="3", message="남편이 다쳤어요 피가 많이 나요", lang="ko")
    expect_equal(r.status, 200, r.body)
    check("답변을 받았습니다" in r.body, r.body)
    expect_equal(cluster.psql(DB, "SELECT status, review FROM response WHERE national_id = %d" % a), "injured|t",
                 "stored as the message says, for staff to read")
    eventually(lambda: cluster.psql(DB, "SELECT status, needs_review FROM person_status WHERE crisis_id = %d "
                                        "AND national_id = %d" % (crisis, a)) == "injured|t", timeout=5,
               what="injured, flagged")
    # Nobody marked safe on its strength.
    post(LINKS[PEOPLE[10]], status="safe")
    eventually(lambda: status_of(PEOPLE[10]).startswith("safe"), timeout=5, what="a later batch")
    for n in (b, c):
        check(not status_of(n).startswith("safe"), "%d marked %s" % (n, status_of(n)))
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id IN (%d, %d)" % (b, c)), "0",
                 "no proxy answers")
    # A need written after "safe" also keeps the household from being answered for.
    (x, y, z), = households_of(3, 1, linked=1)
    post(LINKS[x], status="safe", people="3", message="we are 3 all safe, water running out", lang="en")
    eventually(lambda: status_of(x) == "needs_help|f", timeout=5, what="the need counts")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id IN (%d, %d)" % (y, z)), "0",
                 "no proxy answers")


def a_household_all_safe_does_not_override_a_reviewed_call_for_help():
    (a, b, c), = households_of(3, 1, linked=2)
    phone = cluster.psql(DB, "SELECT value FROM contact WHERE national_id = %d AND kind = 'phone' "
                             "ORDER BY priority LIMIT 1" % b)
    check(phone != "" and cluster.psql(DB, "SELECT count(*) FROM contact WHERE kind = 'phone' AND value = '%s'"
                                           % phone) == "1", "b has a phone of their own")
    expect_equal(sms(phone, "I'm safe but I can't find my daughter", "split-own").status, 200, "sms")
    eventually(lambda: cluster.psql(DB, "SELECT status, needs_review FROM person_status WHERE crisis_id = %d "
                                        "AND national_id = %d" % (crisis, b)) == "needs_help|t", timeout=5,
               what="b's call for help counts, flagged")
    post(LINKS[a], status="safe", people="3", message="we are 3, all safe")
    eventually(lambda: status_of(c) == "safe|t", timeout=5, what="c safe by proxy")
    expect_equal(status_of(b), "needs_help|f", "b keeps their own call for help")


def loners(count, linked=False):
    """People with a phone of their own who have not answered."""
    rows = cluster.psql(DB, "SELECT n.id FROM national n WHERE n.deleted_at IS NULL "
                            "AND n.id NOT IN (%s) AND NOT EXISTS (SELECT 1 FROM response r WHERE r.national_id = n.id) "
                            "AND (SELECT count(*) FROM contact c WHERE c.kind = 'phone' AND c.value = "
                            " (SELECT value FROM contact o WHERE o.national_id = n.id AND o.kind = 'phone' "
                            "  ORDER BY priority LIMIT 1)) = 1 AND EXISTS (SELECT 1 FROM checkin k "
                            " WHERE k.crisis_id = %d AND k.national_id = n.id) ORDER BY n.id"
                        % (",".join(str(n) for n in PEOPLE[:12] + PEOPLE[-3:]), crisis))
    found = [int(x) for x in rows.split() if not linked or int(x) in LINKS][:count]
    check(len(found) == count, "%d people alone: %r" % (count, found))
    return found


def phone_of(nid):
    return cluster.psql(DB, "SELECT value FROM contact WHERE national_id = %d AND kind = 'phone' "
                            "ORDER BY priority LIMIT 1" % nid)


def the_duress_word_is_found_however_it_is_written():
    cases = [("무궁화", "안전합니다 무궁화로"), ("무궁화", "무궁화도 잘 있어요"), ("무궁화", "괜찮아요 무궁화~"),
             ("무궁화", "안전해요\u3000무궁화"), ("무궁화", "괜찮아요 무궁화가 피었어요"),
             ("banana", "all safe, bananas"), ("무궁화", "괜찮아요 무궁화\U0001F60A"), ("무궁화", "안전\u00b7무궁화"),
             ("banana", "safe (banana)")]
    people = loners(len(cases) + 1)
    for i, ((word, text), nid) in enumerate(zip(cases, people)):
        expect_equal(lead.post("/api/v1/nationals/%d/duress-word" % nid, {"word": word}).status, 204, "set")
        expect_equal(sms(phone_of(nid), text, "dw-%d" % i).status, 200, "sms")
    for i, ((word, text), nid) in enumerate(zip(cases, people)):
        expect_equal(cluster.psql(DB, "SELECT national_id, duress FROM response WHERE provider_ref = 'kannel:dw-%d'" % i),
                     "%d|t" % nid, "duress word %r found in %r" % (word, text))
    # A word of two words could be missed: refused, saying why.
    r = lead.post("/api/v1/nationals/%d/duress-word" % people[-1], {"word": "blue sky"})
    expect_equal(r.status, 400, r.body)
    check("space" in r.body, r.body)
    r = lead.post("/api/v1/nationals/%d/duress-word" % people[-1], {"word": "무궁\u3000화"})
    expect_equal(r.status, 400, r.body)


def a_duress_word_is_not_found_in_everyday_words_and_is_letters_only():
    # Only particles and endings are cut: a word that merely starts with the
    # duress word, or a plural read wrongly, is not it.
    quiet = [("고양", "고양이가 무사해요"), ("안녕", "안녕하세요 안전합니다"), ("우리", "우리집 모두 안전해요"),
             ("car", "safe, no cares"), ("not", "safe, notes kept"), ("plan", "safe, planes flying"),
             ("jam", "James is safe")]
    found = [("무궁화", "무궁화에서 안전해요"), ("진달래", "진달래랑 안전해요"), ("box", "safe, boxes packed"),
             ("무궁화", "괜찮아요 무궁화예요")]
    people = loners(len(quiet) + len(found) + 1)
    for i, ((word, text), nid) in enumerate(zip(quiet + found, people)):
        expect_equal(lead.post("/api/v1/nationals/%d/duress-word" % nid, {"word": word}).status, 204, "set")
        expect_equal(sms(phone_of(nid), text, "dq-%d" % i).status, 200, "sms")
    for i, ((word, text), nid) in enumerate(zip(quiet + found, people)):
        expect_equal(cluster.psql(DB, "SELECT duress FROM response WHERE provider_ref = 'kannel:dq-%d'" % i),
                     "f" if i < len(quiet) else "t", "duress word %r in %r" % (word, text))
    # A word with symbols or inner punctuation would be split when read: refused, saying why.
    for word in ("\U0001F33B", "c++", "$ilver", "jean-luc-marie"):
        r = lead.post("/api/v1/nationals/%d/duress-word" % people[-1], {"word": word})
        expect_equal(r.status, 400, "%r: %s" % (word, r.body))
        check("letters and digits" in r.body, r.body)


def a_duress_answer_for_the_household_asks_nobody_again():
    (a, b), = households_of(2, 1, linked=1)
    expect_equal(lead.post("/api/v1/nationals/%d/duress-word" % a, {"word": "진달래"}).status, 204, "set")
    r = post(LINKS[a], status="safe", people="2", message="we are 2 all fine 진달래", lang="en")
    expect_equal(r.status, 200, r.body)
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d" % b) == "1",
               timeout=5, what="the other answered for, as a plain safe would")
    for n in (b,):
        expect_equal(cluster.psql(DB, "SELECT state FROM checkin WHERE crisis_id = %d AND national_id = %d"
                                      % (crisis, n)), "answered", "not asked again")
        check("duress" in cluster.psql(DB, "SELECT raw_text FROM response WHERE national_id = %d" % n),
              "staff see it came from a duress answer")
        eventually(lambda: cluster.psql(DB, "SELECT status, needs_review FROM person_status WHERE crisis_id = %d "
                                            "AND national_id = %d" % (crisis, n)) == "pending|t", timeout=5,
                   what="not counted safe on a forced answer, flagged for staff")
    eventually(lambda: cluster.psql(DB, "SELECT duress FROM person_status WHERE crisis_id = %d AND national_id = %d"
                                        % (crisis, a)) == "t", timeout=5, what="duress raised")


def a_duress_answer_makes_proxies_only_as_the_same_plain_answer_would():
    # Words the parser has not read mark the answer for review, which makes
    # no proxies; under duress it must make none either.
    (a, b), (c, e) = households_of(2, 2, linked=2)
    expect_equal(lead.post("/api/v1/nationals/%d/duress-word" % c, {"word": "진달래"}).status, 204, "set")
    text = "We're 2, safe. 진달래"
    expect_equal(post(LINKS[a], status="safe", people="2", message=text, lang="en").status, 200, "plain")
    expect_equal(post(LINKS[c], status="safe", people="2", message=text, lang="en").status, 200, "duress")
    eventually(lambda: cluster.psql(DB, "SELECT duress FROM person_status WHERE crisis_id = %d AND national_id = %d"
                                        % (crisis, c)) == "t", timeout=5, what="duress raised")
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d" % a) == "1",
               timeout=5, what="plain stored")
    time.sleep(1)
    plain = cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d" % b)
    forced = cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d" % e)
    expect_equal(forced, plain, "proxies under duress as without")


def a_refused_pasted_link_is_not_taken_as_the_owners_own_answer():
    # x pastes y's link; y has been deleted, so the link is refused and the
    # message goes by x's number: stored for staff to check, not x's plain "safe".
    x, y = loners(2, linked=True)
    expect_equal(lead.delete("/api/v1/nationals/%d" % y).status // 100, 2, "delete y")
    r = sms(phone_of(x), "we are safe https://safety.example.org/r/%s" % LINKS[y], "paste-refused")
    expect_equal(r.status, 200, r.body)
    expect_equal(cluster.psql(DB, "SELECT national_id, status, review FROM response "
                                  "WHERE provider_ref = 'kannel:paste-refused'"), "%d|safe|t" % x, "for review")
    eventually(lambda: cluster.psql(DB, "SELECT status, needs_review FROM person_status WHERE crisis_id = %d "
                                        "AND national_id = %d" % (crisis, x)) == "pending|t", timeout=5,
               what="x not marked safe on someone else's link")


def the_mission_lead_clears_a_duress_alert():
    b = PEOPLE[6]  # answered under duress above
    expect_equal(cluster.psql(DB, "SELECT duress FROM person_status WHERE crisis_id = %d AND national_id = %d"
                                  % (crisis, b)), "t", "duress raised")
    expect_equal(ctl(conninfo, "user", "add", "staffer", "--role", "mission_staff", "--mission", "TR-ANK",
                     "--password-file", pwfile).returncode, 0, "staff user")
    staffer = Session(d, "staffer", PASSWORD)
    r = staffer.post("/api/v1/crises/%d/responses" % crisis, {"national_id": b, "status": "safe", "clear_duress": True})
    expect_equal(r.status, 403, r.body)
    r = lead.post("/api/v1/crises/%d/responses" % crisis, {"national_id": b, "status": "safe", "clear_duress": True,
                                                           "message": "reached by phone, all well"})
    expect_equal(r.status, 201, r.body)
    expect_equal((r.json()["status"], r.json()["duress"]), ("safe", False), r.body)
    eventually(lambda: cluster.psql(DB, "SELECT status, duress FROM person_status WHERE crisis_id = %d "
                                        "AND national_id = %d" % (crisis, b)) == "safe|f", timeout=5,
               what="duress cleared")
    check("\"clear_duress\" : true" in cluster.psql(DB, "SELECT summary FROM audit_log WHERE action = 'response.staff' "
                                     "ORDER BY id DESC LIMIT 1"), "audited as a clearing")
    expect_equal(lead.post("/api/v1/crises/%d/responses" % crisis,
                           {"national_id": b, "status": "safe", "clear_duress": "yes"}).status, 400, "bad flag")
    # The clearing "safe" is no lock: a later call for help counts as usual.
    expect_equal(post(LINKS[b], status="needs_help", message="help").status, 200, "help after the clearing")
    eventually(lambda: cluster.psql(DB, "SELECT status, set_by_staff FROM person_status WHERE crisis_id = %d "
                                        "AND national_id = %d" % (crisis, b)) == "needs_help|f", timeout=5,
               what="the call for help counts after the clearing")


def a_refused_staff_decision_says_what_the_status_is():
    # Evacuated is ticked only for someone asked or answered: for someone never
    # asked the entry is kept but the status stays, and the answer says so.
    outside = cluster.psql(DB, "SELECT min(n.id) FROM national n JOIN mission m ON m.id = n.mission_id AND m.code = 'TR-ANK'"
                               " WHERE n.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM person_status p"
                               " WHERE p.crisis_id = %d AND p.national_id = n.id)" % crisis)
    check(outside != "", "someone never asked")
    r = lead.post("/api/v1/crises/%d/responses" % crisis, {"national_id": int(outside), "status": "evacuated"})
    expect_equal(r.status, 201, r.body)
    check(r.json()["status"] != "evacuated" and r.json()["requested"] == "evacuated" and not r.json()["applied"],
          r.body)


def a_form_too_big_says_so():
    r = post(LINKS[PEOPLE[11]], status="safe", message="x" * 9000)
    expect_equal(r.status, 413, r.body[:300])
    check("too long" in r.body or "너무 깁니다" in r.body, r.body[:400])


def post_raw(token, body):
    return d.request("POST", "/r/" + token, body=body, headers={"Content-Type": "application/x-www-form-urlencoded"})


def a_long_korean_message_is_read_and_stored_whole():
    a, b = loners(2, linked=True)
    page = d.get("/r/" + LINKS[a]).body
    check('maxlength="500"' in page, "the box allows 500 characters, which fit what is read whole")
    # Nearly 500 Korean characters (about 1,450 bytes), the call for help at the end.
    need = " 아이가 다리를 심하게 다쳐서 피가 멈추지 않아요 구급차가 필요해요"
    msg = ("오늘 아침부터 호텔 로비에서 기다리고 있습니다 " * 20)[:500 - len(need)] + need
    check(len(msg) <= 500, "%d characters" % len(msg))
    r = post(LINKS[a], status="safe", people="1", message=msg, lang="ko")
    expect_equal(r.status, 200, r.body[:300])
    expect_equal(cluster.psql(DB, "SELECT status, review, octet_length(raw_text) FROM response WHERE national_id = %d" % a),
                 "injured|t|%d" % len(msg.encode()), "read and stored whole")
    check(cluster.psql(DB, "SELECT raw_text FROM response WHERE national_id = %d" % a) == msg, "stored as written")
    # A duress word at the end of a long message is found too.
    expect_equal(lead.post("/api/v1/nationals/%d/duress-word" % b, {"word": "무궁화"}).status, 204, "word set")
    msg = ("오늘 아침부터 호텔 로비에서 기다리고 있습니다 " * 12)[:250] + " 다들 잘 있어요 무궁화"
    expect_equal(post(LINKS[b], status="safe", people="1", message=msg, lang="ko").status, 200, "answer")
    eventually(lambda: cluster.psql(DB, "SELECT status, duress FROM person_status WHERE crisis_id = %d "
                                        "AND national_id = %d" % (crisis, b)) == "safe|t", timeout=5,
               what="duress raised")


def a_message_too_long_to_read_whole_is_sent_back():
    a, = loners(1, linked=True)
    msg = "가" * 580 + " 다쳤어요"
    r = post(LINKS[a], status="safe", people="1", message=msg, lang="ko")
    expect_equal(r.status, 400, r.body[:300])
    check("500자" in r.body and 'type="radio"' in r.body, r.body[:1500])
    check(msg in r.body, "what was written is kept in the form")
    check('value="safe" required checked' in r.body, "the choice is kept")
    r = post(LINKS[a], status="safe", message="x" * 1700, lang="en")
    expect_equal(r.status, 400, r.body[:300])
    check("500 characters" in r.body and "x" * 1700 in r.body, r.body[:1500])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d" % a), "0", "nothing stored")


def a_form_that_cannot_be_read_is_asked_again():
    a, = loners(1, linked=True)
    r = post_raw(LINKS[a], "status=safe&message=x&lang")
    expect_equal(r.status, 400, r.body[:300])
    check("읽지 못했습니다" in r.body and 'type="radio"' in r.body, r.body[:1500])
    check("더 이상 쓸 수 없습니다" not in r.body, "not the page of a dead link")
    r = d.request("POST", "/r/" + LINKS[a] + "?lang=en", body="status=safe&lang",
                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    expect_equal(r.status, 400, r.body[:300])
    check("could not be read" in r.body, r.body[:1500])
    # An encoded NUL would cut a value short: refused, naming the field.
    r = post_raw(LINKS[a], "status=safe&message=ok%00more&lang=en")
    expect_equal(r.status, 400, r.body[:300])
    check("NUL" in r.body and "Field: Message" in r.body and 'type="radio"' in r.body, r.body[:1500])
    r = post_raw(LINKS[a], "status=safe%00x&message=ok&lang=ko")
    expect_equal(r.status, 400, r.body[:300])
    check("NUL" in r.body and "항목: status" in r.body, r.body[:1500])
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id = %d" % a), "0", "nothing stored")
    # The same link still takes an answer.
    expect_equal(post(LINKS[a], status="safe", message="ok").status, 200, "answer")


def a_count_short_of_the_household_marks_no_one():
    (a, b, c, e), = households_of(4, 1, linked=1)
    expect_equal(post(LINKS[a], status="safe", people="2").status, 200, "answer")
    eventually(lambda: status_of(a) == "safe|f", timeout=5, what="own answer")
    # Give a proxy time to (wrongly) arrive before checking it did not.
    post(LINKS[PEOPLE[11]], status="safe")
    eventually(lambda: status_of(PEOPLE[11]).startswith("safe"), timeout=5, what="a later batch")
    for n in (b, c, e):
        check(not status_of(n).startswith("safe"), "%d marked %s by a count of 2 in a household of 4" % (n, status_of(n)))
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE national_id IN (%d, %d, %d)" % (b, c, e)), "0",
                 "no proxy responses")


def sms(sender, text, ref):
    return d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
        {"secret": HOOK, "from": sender, "to": "1", "text": text, "id": ref}))


def an_sms_says_whose_answer_it_is():
    # A reply link pasted into an SMS from a number nobody registered.
    nid = PEOPLE[-3]
    r = sms("+905559990000", "다쳤어요 https://safety.example.org/r/%s" % LINKS[nid], "paste-1")
    expect_equal(r.status, 200, r.body)
    expect_equal(cluster.psql(DB, "SELECT national_id, status FROM response WHERE provider_ref = 'kannel:paste-1'"),
                 "%d|injured" % nid, "the link's person")
    eventually(lambda: status_of(nid).startswith("injured"), timeout=5, what="their status")
    # A number two people share: matched to one, flagged for staff to check whose it is.
    a, b = PEOPLE[-2], PEOPLE[-1]
    phone = cluster.psql(DB, "SELECT value FROM contact WHERE national_id = %d AND kind = 'phone' "
                             "ORDER BY priority LIMIT 1" % a)
    cluster.psql(DB, "SET ROLE safety; INSERT INTO contact (national_id, kind, value) VALUES (%d, 'phone', '%s')"
                 % (b, phone))
    before = {n: cluster.psql(DB, "SELECT status FROM person_status WHERE crisis_id = %d AND national_id = %d"
                                  % (crisis, n)) for n in (a, b)}
    expect_equal(sms(phone, "injured, come quickly", "shared-1").status, 200, "shared number")
    expect_equal(cluster.psql(DB, "SELECT national_id, status, review FROM response WHERE provider_ref = 'kannel:shared-1'"),
                 "%d|injured|t" % min(a, b), "matched to one, for review")
    who = min(a, b)
    # A call for help counts at once, even from a shared number; staff check whose it is.
    eventually(lambda: cluster.psql(DB, "SELECT status, needs_review FROM person_status WHERE crisis_id = %d "
                                        "AND national_id = %d" % (crisis, who)) == "injured|t",
               timeout=5, what="injured, flagged for review")
    # A "safe" from a shared number is held back until staff know whose it is.
    other = max(a, b)
    expect_equal(sms(phone, "safe", "shared-2").status, 200, "shared number, safe")
    eventually(lambda: cluster.psql(DB, "SELECT status, needs_review FROM person_status WHERE crisis_id = %d "
                                        "AND national_id = %d" % (crisis, who)) == "injured|t",
               timeout=5, what="a shared safe does not clear the call for help")
    check(before[other] != "safe", "the other sharer was not answered before")


def a_closed_crisis_closes_its_links():
    nid = PEOPLE[7]
    expect_equal(lead.patch("/api/v1/crises/%d" % crisis, {"state": "closed"}).status, 200, "close")
    expect_equal(d.get("/r/" + LINKS[nid]).status, 404, "link of a closed crisis")
    expect_equal(post(LINKS[nid], status="safe").status, 404, "answer to a closed crisis")
    # An old link quoted in an SMS thread: the message is kept by its number, not dropped.
    expect_equal(sms("+905559990001", "still ok /r/%s" % LINKS[nid], "closed-1").status, 200, "sms")
    expect_equal(cluster.psql(DB, "SELECT national_id IS NULL FROM response WHERE provider_ref = 'kannel:closed-1'"),
                 "t", "kept for staff, without a person (no open check-in for that number)")


try:
    run([
        the_page_is_small_accessible_and_works_without_javascript,
        an_answer_is_stored_confirmed_and_counted,
        the_same_form_twice_is_one_answer_and_a_new_answer_updates,
        no_choice_shows_the_form_again,
        wrong_links_tell_nothing,
        a_duress_answer_looks_exactly_like_safe,
        staff_see_counts_and_the_most_urgent_first,
        staff_enter_replies_taken_by_phone,
        one_answer_speaks_for_the_household,
        a_count_short_of_the_household_marks_no_one,
        the_message_box_is_read_too,
        a_household_all_safe_does_not_override_a_reviewed_call_for_help,
        a_form_too_big_says_so,
        a_long_korean_message_is_read_and_stored_whole,
        a_message_too_long_to_read_whole_is_sent_back,
        a_form_that_cannot_be_read_is_asked_again,
        the_duress_word_is_found_however_it_is_written,
        a_duress_word_is_not_found_in_everyday_words_and_is_letters_only,
        a_duress_answer_for_the_household_asks_nobody_again,
        a_duress_answer_makes_proxies_only_as_the_same_plain_answer_would,
        a_refused_pasted_link_is_not_taken_as_the_owners_own_answer,
        the_mission_lead_clears_a_duress_alert,
        a_refused_staff_decision_says_what_the_status_is,
        a_duress_word_survives_a_key_rotation,
        an_sms_says_whose_answer_it_is,
        a_closed_crisis_closes_its_links,
    ])
finally:
    d.stop()
    cluster.dropdb(DB)
