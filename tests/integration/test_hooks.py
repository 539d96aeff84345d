"""The gateway hooks, driven the way Kannel and a Twilio-compatible provider
call them: secrets and signatures checked, delivery reports recorded, a
failure re-asking the person, incoming replies stored once and answering
the check-in."""

import base64
import hashlib
import hmac
import os
import threading
import urllib.parse

from harness import Cluster, Daemon, check, ctl, eventually, expect_equal, http_request, record_secret, run

cluster = Cluster.shared()
DB = "t_hooks"
SECRET = record_secret("hook-secret-0123456789abcdef")
TOKEN = record_secret("twilio-auth-token-0123456789ab")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "mission", "add", "TR-ANK", "--name", "x", "--country", "TR").returncode, 0, "mission")
cluster.psql(DB, """
SET ROLE safety;
INSERT INTO national (mission_id, name_latin, name_key) VALUES (1, 'KIM TEST', 'kimtest'), (1, 'LEE TEST', 'leetest');
INSERT INTO contact (national_id, kind, value) VALUES (1, 'phone', '+821011112222'), (2, 'phone', '+821033334444'),
  (2, 'email', 'lee@example.org');
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'Test quake',
  ST_SetSRID(ST_MakePoint(37, 37), 4326)::geography, 1000);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x {link}"}', '{sms,email}');
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at) VALUES
  (1, 1, 1, 1, now() + interval '1 hour'), (1, 2, 1, 1, now() + interval '1 hour');
INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, body, state, driver, provider_id)
  VALUES (1, 1, 1, 1, 'sms', '+821011112222', 'x', 'sent', 'kannel', NULL),
         (1, 1, 2, 1, 'sms', '+821033334444', 'x', 'sent', 'twilio', 'SM0123456789abcdef0123456789abcdef');
""")
d = Daemon(conninfo, sections={"channels": {"hook_secret": SECRET, "twilio_auth_token": TOKEN, "route_refresh": "1"},
                               "server": {"public_url": "https://safety.example.org"}}).start()


def sign(path, form):
    data = "https://safety.example.org" + path + "".join(k + v for k, v in sorted(form.items()))
    return base64.b64encode(hmac.new(TOKEN.encode(), data.encode(), hashlib.sha1).digest()).decode()


def twilio_post(path, form, signature=None):
    return d.request("POST", path, body=urllib.parse.urlencode(form),
                     headers={"Content-Type": "application/x-www-form-urlencoded",
                              "X-Twilio-Signature": signature if signature is not None else sign(path, form)})


def kannel_dlr_needs_the_secret_and_records_delivery():
    expect_equal(d.get("/hooks/sms/kannel/dlr?id=1&status=1").status, 403, "no secret")
    expect_equal(d.get("/hooks/sms/kannel/dlr?secret=wrong&id=1&status=1").status, 403, "wrong secret")
    expect_equal(cluster.psql(DB, "SELECT state FROM outbox WHERE id = 1"), "sent", "unchanged")
    r = d.get("/hooks/sms/kannel/dlr?secret=%s&id=1&status=8&answer=ACK" % SECRET)
    expect_equal(r.status, 200, r.body)
    expect_equal(cluster.psql(DB, "SELECT state FROM outbox WHERE id = 1"), "sent", "accepted by the SMSC")
    d.get("/hooks/sms/kannel/dlr?secret=%s&id=1&status=1&answer=DELIVRD" % SECRET)
    expect_equal(cluster.psql(DB, "SELECT state, delivered_at IS NOT NULL FROM outbox WHERE id = 1"), "delivered|t", "delivered")


def twilio_failure_asks_again_at_once():
    form = {"MessageSid": "SM0123456789abcdef0123456789abcdef", "MessageStatus": "undelivered", "ErrorCode": "30003"}
    expect_equal(twilio_post("/hooks/sms/twilio/status", form, signature="bm9wZQ==").status, 403, "bad signature")
    expect_equal(twilio_post("/hooks/sms/twilio/status", dict(form, ErrorCode="1"), signature=sign("/hooks/sms/twilio/status", form)).status,
                 403, "signature of other values")
    r = twilio_post("/hooks/sms/twilio/status", form)
    expect_equal(r.status, 200, r.body)
    expect_equal(r.json()["reasked"], 1, r.body)
    expect_equal(cluster.psql(DB, "SELECT state, last_error FROM outbox WHERE id = 2"), "failed|status undelivered, error 30003", "failed")
    # Due at once, or already re-asked by the escalation that runs every few seconds.
    check(cluster.psql(DB, "SELECT next_ask_at <= now() OR round = 2 FROM checkin WHERE national_id = 2") == "t",
          "re-ask due now")


def kannel_reply_is_stored_once_and_answers_the_checkin():
    q = urllib.parse.urlencode({"secret": SECRET, "from": "+821011112222", "to": "1234", "text": "안전합니다 3명", "id": "kannel-77"})
    r = d.get("/hooks/sms/kannel?" + q)
    expect_equal(r.status, 200, r.body)
    d.get("/hooks/sms/kannel?" + q)  # the gateway delivers it again
    expect_equal(cluster.psql(DB, "SELECT count(*), min(status), min(headcount), min(national_id) FROM response"), "1|safe|3|1", "stored once")
    expect_equal(cluster.psql(DB, "SELECT state FROM checkin WHERE national_id = 1"), "answered", "check-in answered")
    eventually(lambda: cluster.psql(DB, "SELECT status, headcount FROM person_status WHERE national_id = 1") == "safe|3",
               timeout=5, what="current status safe, 3 people")
    expect_equal(cluster.psql(DB, "SELECT n FROM status_count WHERE status = 'safe'"), "1", "counted")
    expect_equal(d.get("/hooks/sms/kannel?" + q.replace(SECRET, "nope")).status, 403, "secret")


def twilio_reply_from_an_unknown_number_is_kept_without_a_person():
    form = {"MessageSid": "SMaaaa", "From": "+905551112233", "To": "+15005550006", "Body": "help! building collapsed"}
    r = twilio_post("/hooks/sms/twilio", form)
    expect_equal(r.status, 200, r.body)
    expect_equal(r.body, "<Response/>", "TwiML")
    expect_equal(cluster.psql(DB, "SELECT national_id IS NULL, status FROM response WHERE provider_ref = 'twilio:SMaaaa'"), "t|needs_help", "kept")


def a_burst_of_reports_is_applied_whole():
    # 40 messages, each with an "accepted" and a "delivered" report sent at the same moment (half
    # of them delivered first): the reports of one loop turn go in one statement, where the two of
    # a message must collapse into the final one whatever their order.
    ids = [int(i) for i in cluster.psql(DB, """
SET ROLE safety;
INSERT INTO outbox (crisis_id, mission_id, channel, recipient, body, state, driver, sent_at)
  SELECT 1, 1, 'sms', '+81701234' || lpad(g::text, 4, '0'), 'x', 'sent', 'kannel', now()
  FROM generate_series(1, 40) g RETURNING id""").split()]
    expect_equal(len(ids), 40, "messages")
    answers = []
    gate = threading.Barrier(2 * len(ids), timeout=20)

    def report(oid, status):
        q = urllib.parse.urlencode({"secret": SECRET, "id": oid, "status": status, "answer": "x"})
        gate.wait()
        r = d.get("/hooks/sms/kannel/dlr?" + q)
        answers.append((r.status, r.json()["updated"] if r.status == 200 else r.body))

    threads = []
    for n, oid in enumerate(ids):
        order = ("1", "8") if n % 2 else ("8", "1")
        threads += [threading.Thread(target=report, args=(oid, st)) for st in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    expect_equal(sorted(set(answers)), [(200, 1)], "every report acknowledged and applied")
    expect_equal(cluster.psql(DB, "SELECT state, count(*), count(delivered_at) FROM outbox WHERE id IN (%s) GROUP BY 1"
                              % ",".join(map(str, ids))), "delivered|40|40", "every message delivered")


def a_failing_carrier_sends_its_numbers_by_email_first():
    # 30 recent SMS to Turkish mobiles +9053…: 25 failed. Korean mobiles fine.
    cluster.psql(DB, """
SET ROLE safety;
INSERT INTO outbox (crisis_id, mission_id, channel, recipient, body, state, sent_at, delivered_at)
  SELECT 1, 1, 'sms', '+90532000' || lpad(g::text, 4, '0'), 'x',
         CASE WHEN g <= 25 THEN 'failed' ELSE 'delivered' END::outbox_state, now(), CASE WHEN g > 25 THEN now() END
  FROM generate_series(1, 30) g;
INSERT INTO outbox (crisis_id, mission_id, channel, recipient, body, state, sent_at, delivered_at)
  SELECT 1, 1, 'sms', '+82101234' || lpad(g::text, 4, '0'), 'x', 'delivered', now(), now() FROM generate_series(1, 30) g;
INSERT INTO national (mission_id, name_latin, name_key, last_point) VALUES (1, 'PARK ROUTE', 'parkroute',
  ST_SetSRID(ST_MakePoint(37, 37), 4326)::geography);
INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', '+905321234567' FROM national WHERE name_latin = 'PARK ROUTE';
INSERT INTO contact (national_id, kind, value) SELECT id, 'email', 'park@example.org' FROM national WHERE name_latin = 'PARK ROUTE';
""")
    eventually(lambda: cluster.psql(DB, "SELECT degraded FROM route_health WHERE prefix = '+9053'") == "t", timeout=10,
               what="route marked degraded")
    expect_equal(cluster.psql(DB, "SELECT degraded FROM route_health WHERE prefix = '+8210'"), "f", "healthy route")
    reason = cluster.psql(DB, "SELECT reason FROM route_health WHERE prefix = '+9053'")
    check("5 of 30" in reason and "next channel" in reason, reason)
    cluster.psql(DB, "SET ROLE safety; INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES "
                     "(1, 1, '{\"en\": \"are you safe {link}\"}', '{sms,email}'); "
                     "SELECT campaign_launch((SELECT max(id) FROM campaign))")
    expect_equal(cluster.psql(DB, "SELECT channel, recipient FROM outbox WHERE national_id = (SELECT id FROM national WHERE name_latin = 'PARK ROUTE')"),
                 "email|park@example.org", "sent by e-mail, not the failing SMS route")


def e_mail_routes_are_judged_by_acceptance_and_silent_sms_carriers_by_reports():
    # Sent eleven minutes ago (past the grace), no report since: 30 e-mails the SMTP server
    # accepted (SMTP never reports delivery), 30 SMS a Kannel gateway took (Kannel does).
    cluster.psql(DB, """
SET ROLE safety;
INSERT INTO outbox (crisis_id, mission_id, channel, recipient, body, state, driver, sent_at, created_at)
  SELECT 1, 1, 'email', 'person' || g || '@accepting.example', 'x', 'sent', 'smtp',
         now() - interval '11 minutes', now() - interval '12 minutes' FROM generate_series(1, 30) g;
INSERT INTO outbox (crisis_id, mission_id, channel, recipient, body, state, driver, sent_at, created_at)
  SELECT 1, 1, 'sms', '+90544000' || lpad(g::text, 4, '0'), 'x', 'sent', 'kannel',
         now() - interval '11 minutes', now() - interval '12 minutes' FROM generate_series(1, 30) g;
INSERT INTO outbox (crisis_id, mission_id, channel, recipient, body, state, driver, sent_at, created_at, last_error)
  SELECT 1, 1, 'email', 'person' || g || '@bouncing.example', 'x',
         CASE WHEN g <= 25 THEN 'failed' ELSE 'sent' END::outbox_state, 'smtp',
         now() - interval '11 minutes', now() - interval '12 minutes',
         CASE WHEN g <= 25 THEN '550 5.1.1 User unknown' END FROM generate_series(1, 30) g;
""")
    route = lambda prefix: cluster.psql(DB, "SELECT degraded || '|' || delivered || '|' || failed || '|' || reason "
                                            "FROM route_health WHERE prefix = '%s'" % prefix)
    eventually(lambda: route("+9054").startswith("true|"), timeout=10, what="the silent SMS route marked degraded")
    expect_equal(route("+9054"), "true|0|30|0 of 30 recent messages to +9054* delivered (below 50%): sending by the "
                                 "next channel first", "unreported SMS past the grace count as undelivered")
    eventually(lambda: route("accepting.example") != "", timeout=10, what="the e-mail route counted")
    expect_equal(route("accepting.example"), "false|30|0|", "e-mails the server accepted count as delivered")
    eventually(lambda: route("bouncing.example").startswith("true|"), timeout=10, what="the bouncing domain degraded")
    expect_equal(route("bouncing.example"), "true|5|25|5 of 30 recent messages to bouncing.example* accepted (below "
                                            "50%): sending by the next channel first", "refusals degrade e-mail")


def kannel_text_in_any_encoding_is_kept_and_a_retry_without_id_stored_once():
    # Bytes that are not UTF-8, and a long Korean message (3,000 bytes), in the
    # same moment as a plain answer: all three stored, none refused.
    bad = "/hooks/sms/kannel?" + urllib.parse.urlencode({"secret": SECRET, "from": "+821033334444", "to": "1",
                                                        "text": b"\xff\xfe help \xc3", "id": "k-bytes"})
    long_ko = "/hooks/sms/kannel?" + urllib.parse.urlencode({"secret": SECRET, "from": "+821033334444", "to": "1",
                                                            "text": "가" * 1000, "id": "k-long"})
    plain = "/hooks/sms/kannel?" + urllib.parse.urlencode({"secret": SECRET, "from": "+821033334444", "to": "1",
                                                          "text": "ok", "id": "k-plain"})
    results = {}
    threads = [threading.Thread(target=lambda u=u: results.__setitem__(u, d.get(u).status)) for u in (bad, long_ko, plain)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expect_equal(sorted(results.values()), [200, 200, 200], "all three answered")
    expect_equal(cluster.psql(DB, "SELECT raw_text FROM response WHERE provider_ref = 'kannel:k-bytes'"),
                 "\ufffd\ufffd help \ufffd", "bad bytes shown as U+FFFD, the rest kept")
    expect_equal(cluster.psql(DB, "SELECT status FROM response WHERE provider_ref = 'kannel:k-bytes'"), "needs_help",
                 "still read as a call for help")
    expect_equal(cluster.psql(DB, "SELECT octet_length(raw_text), raw_text = repeat('가', 666) FROM response "
                                  "WHERE provider_ref = 'kannel:k-long'"), "1998|t", "cut to 2,000 bytes between characters")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE provider_ref = 'kannel:k-plain'"), "1", "plain")
    # No id from the gateway: the same sender and text again is the same message.
    q = urllib.parse.urlencode({"secret": SECRET, "from": "+821033334444", "to": "1", "text": "no id 안전"})
    expect_equal(d.get("/hooks/sms/kannel?" + q).status, 200, "first")
    expect_equal(d.get("/hooks/sms/kannel?" + q).status, 200, "retry")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE raw_text = 'no id 안전'"), "1", "stored once")
    check(cluster.psql(DB, "SELECT provider_ref FROM response WHERE raw_text = 'no id 안전'").startswith("kannel:h:"),
          "keyed by sender and text")


def a_failed_message_other_than_a_check_in_asks_nobody_again():
    # A plan message (and any message but a check-in) that will not arrive leaves the check-in's rounds alone.
    ids = cluster.psql(DB, """SET ROLE safety;
WITH n AS (INSERT INTO national (mission_id, name_latin, name_key) VALUES (1, 'PLAN ONLY', 'planonly') RETURNING id),
k AS (INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
  SELECT 1, id, 1, 1, now() + interval '1 hour' FROM n)
INSERT INTO outbox (crisis_id, national_id, mission_id, channel, recipient, body, state, driver, kind)
  SELECT 1, id, 1, 'sms', '+821055556666', 'plan', 'sent', 'kannel', 'plan' FROM n RETURNING id, national_id""")
    oid, nid = ids.split()[0].split("|")
    r = d.get("/hooks/sms/kannel/dlr?secret=%s&id=%s&status=2&answer=FAILED" % (SECRET, oid))
    expect_equal(r.status, 200, r.body)
    expect_equal(r.json()["reasked"], 0, r.body)
    expect_equal(cluster.psql(DB, "SELECT state FROM outbox WHERE id = %s" % oid), "failed", "failed")
    expect_equal(cluster.psql(DB, "SELECT round || ' ' || (next_ask_at > now() + interval '50 minutes') FROM checkin "
                                  "WHERE national_id = %s" % nid), "1 true", "not asked again")


def a_shared_number_never_files_an_answer_under_a_deleted_person():
    # Two people share a phone; the one with the lower id is deleted (their
    # check-in cancelled, as a deletion does). The SMS is the live one's own,
    # and the number is no longer shared.
    cluster.psql(DB, """
SET ROLE safety;
INSERT INTO national (mission_id, name_latin, name_key, deleted_at) VALUES (1, 'GONE SHARED', 'goneshared', now());
INSERT INTO national (mission_id, name_latin, name_key) VALUES (1, 'LIVE SHARED', 'liveshared');
INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', '+821055556666' FROM national
  WHERE name_latin IN ('GONE SHARED', 'LIVE SHARED');
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, state, next_ask_at)
  SELECT 1, id, 1, 1, CASE WHEN deleted_at IS NULL THEN 'asked' ELSE 'cancelled' END::checkin_state,
    now() + interval '1 hour' FROM national WHERE name_latin IN ('GONE SHARED', 'LIVE SHARED');
""")
    q = urllib.parse.urlencode({"secret": SECRET, "from": "+821055556666", "to": "1",
                                "text": "injured, bleeding, come quickly", "id": "shared-deleted"})
    expect_equal(d.get("/hooks/sms/kannel?" + q).status, 200, "answered")
    expect_equal(cluster.psql(DB, "SELECT n.name_latin, r.status, r.review FROM response r JOIN national n "
                                  "ON n.id = r.national_id WHERE r.provider_ref = 'kannel:shared-deleted'"),
                 "LIVE SHARED|injured|f", "filed under the live person, not shared")
    eventually(lambda: cluster.psql(DB, "SELECT p.status FROM person_status p JOIN national n ON n.id = p.national_id "
                                        "WHERE n.name_latin = 'LIVE SHARED'") == "injured", timeout=5,
               what="the live person injured")


def kannel_without_id_keeps_a_repeated_answer_after_another():
    # "help", "safe now", "help": the second "help" is a new answer, not a retry.
    def mo(text, **extra):
        q = dict({"secret": SECRET, "from": "+821033334444", "to": "1", "text": text}, **extra)
        expect_equal(d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(q)).status, 200, text)
    for text in ("help me 1", "safe now 1", "help me 1"):
        mo(text)
    expect_equal(cluster.psql(DB, "SELECT string_agg(raw_text, ' / ' ORDER BY id) FROM response "
                                  "WHERE raw_text LIKE '%% 1'"), "help me 1 / safe now 1 / help me 1", "three answers")
    # With Kannel's time: a retry carries the same time and is one message.
    for _ in range(2):
        mo("timed answer", time="2026-01-02 03:04:05")
    mo("timed answer", time="2026-01-02 03:09:05")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE raw_text = 'timed answer'"), "2",
                 "a retry once, a later message again")


def kannel_minute_time_keeps_a_repeat_after_another_and_a_retry_survives_a_restart():
    def mo(text, **extra):
        q = dict({"secret": SECRET, "from": "+821033334444", "to": "1", "text": text}, **extra)
        expect_equal(d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(q)).status, 200, text)
    # Kannel's %t has only minutes: "help", "safe now", "help" in one minute are three answers.
    for text in ("help me 2", "safe now 2", "help me 2"):
        mo(text, time="2026-01-02 04:05")
    expect_equal(cluster.psql(DB, "SELECT string_agg(raw_text, ' / ' ORDER BY id) FROM response "
                                  "WHERE raw_text LIKE '%% 2'"), "help me 2 / safe now 2 / help me 2", "three answers")
    # Without a time, a retry after a restart is still one message (keyed by
    # five minutes: keep clear of the edge of one).
    global d
    import time
    if time.time() % 300 > 290:
        time.sleep(300 - time.time() % 300 + 1)
    mo("no time retry 3")
    d.stop()
    d = Daemon(conninfo, sections={"channels": {"hook_secret": SECRET, "twilio_auth_token": TOKEN, "route_refresh": "1"},
                                   "server": {"public_url": "https://safety.example.org"}}).start()
    mo("no time retry 3")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE raw_text = 'no time retry 3'"), "1",
                 "a retry after a restart stored once")

    def key(text, bucket):
        md = hashlib.sha256(("+821033334444\0%s\0bucket:%d\0" % (text, bucket)).encode()).digest()
        return "kannel:h:" + md[:16].hex()

    def restart():
        global d
        d.stop()
        d = Daemon(conninfo, sections={"channels": {"hook_secret": SECRET, "twilio_auth_token": TOKEN,
                                                    "route_refresh": "1"},
                                       "server": {"public_url": "https://safety.example.org"}}).start()
    # The original came in just before the edge of five minutes, the retry
    # after it and after a restart: stored once all the same.
    if time.time() % 300 > 290:
        time.sleep(300 - time.time() % 300 + 1)
    mo("edge retry 5")
    cluster.psql(DB, "UPDATE response SET provider_ref = '%s' WHERE raw_text = 'edge retry 5'"
                 % key("edge retry 5", int(time.time()) // 300 - 1))
    restart()
    mo("edge retry 5")
    mo("edge retry 5")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE raw_text = 'edge retry 5'"), "1",
                 "a retry across the edge and a restart stored once")
    # The same words again after another message, across a restart: a new answer.
    if time.time() % 300 > 290:
        time.sleep(300 - time.time() % 300 + 1)
    mo("help me 6")
    mo("safe now 6")
    restart()
    mo("help me 6")
    mo("help me 6")
    expect_equal(cluster.psql(DB, "SELECT string_agg(raw_text, ' / ' ORDER BY id) FROM response "
                                  "WHERE raw_text LIKE '%% 6'"), "help me 6 / safe now 6 / help me 6",
                 "three answers, the last retry once")
    # ... and across the edge of five minutes too.
    mo("help me 7")
    mo("safe now 7")
    cluster.psql(DB, "UPDATE response SET provider_ref = '%s' WHERE raw_text = 'help me 7'"
                 % key("help me 7", int(time.time()) // 300 - 1))
    restart()
    mo("help me 7")
    expect_equal(cluster.psql(DB, "SELECT string_agg(raw_text, ' / ' ORDER BY id) FROM response "
                                  "WHERE raw_text LIKE '%% 7'"), "help me 7 / safe now 7 / help me 7",
                 "three answers across the edge")
    # Many other senders in between do not make a retry a second answer.
    mo("busy retry 4")
    for i in range(40):
        expect_equal(d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
            {"secret": SECRET, "from": "+8210999%05d" % i, "to": "1", "text": "x"})).status, 200, "other")
    mo("busy retry 4")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE raw_text = 'busy retry 4'"), "1",
                 "retry once despite other senders")


def a_late_delivered_safe_does_not_hide_a_newer_call_for_help():
    import datetime
    now = datetime.datetime.now(datetime.timezone.utc)
    q = {"secret": SECRET, "from": "+821011112222", "to": "1"}
    expect_equal(d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
        dict(q, text="help, trapped", id="late-help", time=now.strftime("%Y-%m-%d %H:%M:%S")))).status, 200, "help")
    eventually(lambda: cluster.psql(DB, "SELECT status FROM person_status WHERE national_id = 1") == "needs_help",
               timeout=5, what="needs help")
    sent = (now - datetime.timedelta(minutes=3)).strftime("%Y-%m-%d %H:%M:%S")
    expect_equal(d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
        dict(q, text="safe", id="late-safe", time=sent))).status, 200, "late safe")
    eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM status_pending") == "0", timeout=5, what="applied")
    expect_equal(cluster.psql(DB, "SELECT status FROM person_status WHERE national_id = 1"), "needs_help",
                 "the older safe does not hide the newer call for help")
    check(cluster.psql(DB, "SELECT (SELECT received_at FROM response WHERE provider_ref = 'kannel:late-safe') < "
                           "(SELECT received_at FROM response WHERE provider_ref = 'kannel:late-help')") == "t",
          "stored at the gateway's time")
    # A time in the future is not believed.
    expect_equal(d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
        dict(q, text="ok", id="future", time="2099-01-01 00:00:00"))).status, 200, "future")
    check(cluster.psql(DB, "SELECT received_at <= now() FROM response WHERE provider_ref = 'kannel:future'") == "t",
          "never in the future")


def a_help_with_kannels_minute_time_is_not_put_before_a_safe_in_that_minute():
    import datetime
    import time
    if time.time() % 60 < 5 or time.time() % 60 > 50:
        time.sleep(60 - time.time() % 60 + 6)
    now = datetime.datetime.now(datetime.timezone.utc)
    q = {"secret": SECRET, "from": "+821011112222", "to": "1"}
    expect_equal(d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
        dict(q, text="safe", id="minute-safe", time=(now - datetime.timedelta(seconds=3)).strftime(
            "%Y-%m-%d %H:%M:%S")))).status, 200, "safe")
    eventually(lambda: cluster.psql(DB, "SELECT status FROM person_status WHERE national_id = 1") == "safe",
               timeout=5, what="safe")
    expect_equal(d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
        dict(q, text="help, trapped", id="minute-help", time=now.strftime("%Y-%m-%d %H:%M")))).status, 200, "help")
    eventually(lambda: cluster.psql(DB, "SELECT status FROM person_status WHERE national_id = 1") == "needs_help",
               timeout=5, what="the help sent after the safe counts")
    # Re-asking moves asked_at, but an answer sent before that round keeps its time.
    cluster.psql(DB, "UPDATE campaign SET launched_at = now() - interval '1 hour'; "
                     "UPDATE checkin SET asked_at = now() + interval '1 second' WHERE national_id = 1")
    sent = (now - datetime.timedelta(minutes=2)).strftime("%Y-%m-%d %H:%M:%S")
    expect_equal(d.get("/hooks/sms/kannel?" + urllib.parse.urlencode(
        dict(q, text="safe", id="before-round", time=sent))).status, 200, "older")
    check(cluster.psql(DB, "SELECT received_at < now() - interval '100 seconds' FROM response "
                           "WHERE provider_ref = 'kannel:before-round'") == "t", "kept at the gateway's time")


def the_clearing_constraint_is_added_without_a_table_scan_and_still_holds():
    # Added NOT VALID (every existing row has the new column false), so the
    # migration does not read the whole response table under its lock.
    expect_equal(cluster.psql(DB, "SELECT convalidated FROM pg_constraint "
                                  "WHERE conname = 'response_clear_duress_by_staff'"), "f", "not scanned")
    r = cluster.pg("psql", cluster.dir, "-d", DB, "-At", "-c",
                   "INSERT INTO response (crisis_id, national_id, mission_id, channel, sender, raw_text, "
                   "provider_ref, clear_duress) VALUES (1, 1, 1, 'sms', 'x', 'x', 'clear-check', true)", check=False)
    check(r.returncode != 0 and "response_clear_duress_by_staff" in r.stderr, "a clearing not from staff is refused: "
          + r.stderr)


def kannel_text_too_long_says_so():
    q = urllib.parse.urlencode({"secret": SECRET, "from": "+821033334444", "to": "1", "text": "a" * 9000, "id": "long"})
    r = d.get("/hooks/sms/kannel?" + q)
    expect_equal(r.status, 413, r.body)
    check("too long" in r.body or "longer than" in r.body, r.body)


def kannel_text_is_read_in_the_charset_kannel_names():
    # mo-recode turns UCS-2 into WINDOWS-1252 when it fits (an iPhone's ’ is 0x92); without it, UCS-2 comes as
    # UTF-16BE, with NUL bytes in English text. Each is read as the words the person typed.
    cases = (("I’m safe but my son isn’t".encode("cp1252"), "0", "WINDOWS-1252", "cs-1252"),
             ("도와주세요 다쳤어요".encode("utf-16-be"), "2", "UTF-16BE", "cs-ko"),
             ("help, I am hurt".encode("utf-16-be"), "2", "UTF-16BE", "cs-en"),
             ("help, I am hurt".encode("utf-16-be"), "2", "", "cs-en-nocharset"),
             ("Évacuée, blessée".encode("latin-1"), "0", "ISO-8859-1", "cs-latin1"),
             ("I’m safe but my son isn’t".encode("utf-8"), "0", "UTF-8", "cs-utf8"),
             # 8-bit data is kept as it comes, whatever name Kannel gives it.
             (b"help", "1", "8-BIT", "cs-8bit"), (b"help", "1", "X-VENDOR-DATA", "cs-8bit-other"))
    for raw, coding, charset, mid in cases:
        q = "/hooks/sms/kannel?secret=%s&from=%s&to=1&text=%s&id=%s&coding=%s&charset=%s" % (
            SECRET, urllib.parse.quote("+821033334444"), urllib.parse.quote_from_bytes(raw), mid, coding, charset)
        r = d.get(q)
        expect_equal(r.status, 200, mid + ": " + r.body)
    rows = dict(line.split("|", 1) for line in cluster.psql(
        DB, "SELECT provider_ref, status || '|' || raw_text FROM response WHERE provider_ref LIKE 'kannel:cs-%'").splitlines())
    expect_equal(rows.get("kannel:cs-1252"), "needs_help|I’m safe but my son isn’t", "WINDOWS-1252")
    expect_equal(rows.get("kannel:cs-utf8"), "needs_help|I’m safe but my son isn’t", "UTF-8 the same")
    expect_equal(rows.get("kannel:cs-ko"), "injured|도와주세요 다쳤어요", "UTF-16BE Korean")
    expect_equal(rows.get("kannel:cs-en"), "injured|help, I am hurt", "UTF-16BE English, NUL bytes and all")
    expect_equal(rows.get("kannel:cs-en-nocharset"), "injured|help, I am hurt", "UCS-2 without a charset")
    check(rows.get("kannel:cs-latin1", "").endswith("|Évacuée, blessée"), rows)
    expect_equal((rows.get("kannel:cs-8bit"), rows.get("kannel:cs-8bit-other")), ("needs_help|help",) * 2, "8-bit")
    # A charset iconv does not know, bytes invalid in the one named, a charset or coding that is
    # no such thing: kept as it came (a refusal would lose the message for good), never read as an
    # answer, left for staff to read.
    odd = ("cs-unknown", "cs-odd", "cs-surrogate", "cs-suffix", "cs-toolong", "cs-coding")
    for raw, coding, charset, mid in ((b"safe", "0", "X-NO-SUCH-CHARSET", "cs-unknown"),
                                      (b"\x00h\x00", "2", "UTF-16BE", "cs-odd"),
                                      (b"\xd8\x00", "2", "UTF-16BE", "cs-surrogate"),
                                      (b"safe", "0", "UTF-8//IGNORE", "cs-suffix"),
                                      (b"safe", "0", "X" * 70, "cs-toolong"),
                                      (b"safe", "7", "UTF-8", "cs-coding")):
        q = "/hooks/sms/kannel?secret=%s&from=%s&to=1&text=%s&id=%s&coding=%s&charset=%s" % (
            SECRET, urllib.parse.quote("+821033334444"), urllib.parse.quote_from_bytes(raw), mid, coding,
            urllib.parse.quote(charset))
        r = d.get(q)
        expect_equal(r.status, 200, mid + ": " + r.body)
    stored = cluster.psql(DB, "SELECT provider_ref || ':' || coalesce(status, '-') || ':' || review FROM response "
                              "WHERE provider_ref IN (%s) ORDER BY provider_ref"
                          % ", ".join("'kannel:%s'" % m for m in odd)).split()
    expect_equal(stored, sorted("kannel:%s:unclassified:false" % m for m in odd),
                 "each kept, unclassified (the needs-review list), none read as safe")
    expect_equal(cluster.psql(DB, "SELECT raw_text FROM response WHERE provider_ref = 'kannel:cs-odd'"), "h",
                 "the bytes kept but for their NULs")
    # UTF-16 text is held to the same length in bytes as any other (U+6161 is "aa", short in a URL).
    q = "/hooks/sms/kannel?secret=%s&from=%s&to=1&text=%s&id=cs-long&coding=2&charset=UTF-16BE" % (
        SECRET, urllib.parse.quote("+821033334444"), urllib.parse.quote_from_bytes(("\u6161" * 4200).encode("utf-16-be")))
    expect_equal(d.get(q).status, 413, "too long")


def twilio_body_too_long_says_so():
    form = {"From": "+821033334444", "Body": "a" * 9000, "MessageSid": "SMtoolong"}
    r = twilio_post("/hooks/sms/twilio", form)
    expect_equal(r.status, 413, r.body)
    check("Body" in r.json()["detail"] and "longer than" in r.json()["detail"], r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE provider_ref = 'twilio:SMtoolong'"), "0",
                 "nothing stored")


try:
    run([
        kannel_dlr_needs_the_secret_and_records_delivery,
        twilio_failure_asks_again_at_once,
        a_failed_message_other_than_a_check_in_asks_nobody_again,
        kannel_reply_is_stored_once_and_answers_the_checkin,
        twilio_reply_from_an_unknown_number_is_kept_without_a_person,
        a_burst_of_reports_is_applied_whole,
        a_failing_carrier_sends_its_numbers_by_email_first,
        e_mail_routes_are_judged_by_acceptance_and_silent_sms_carriers_by_reports,
        kannel_text_in_any_encoding_is_kept_and_a_retry_without_id_stored_once,
        a_shared_number_never_files_an_answer_under_a_deleted_person,
        kannel_without_id_keeps_a_repeated_answer_after_another,
        kannel_minute_time_keeps_a_repeat_after_another_and_a_retry_survives_a_restart,
        a_late_delivered_safe_does_not_hide_a_newer_call_for_help,
        a_help_with_kannels_minute_time_is_not_put_before_a_safe_in_that_minute,
        the_clearing_constraint_is_added_without_a_table_scan_and_still_holds,
        kannel_text_too_long_says_so,
        kannel_text_is_read_in_the_charset_kannel_names,
        twilio_body_too_long_says_so,
    ])
finally:
    d.stop()
    cluster.dropdb(DB)
