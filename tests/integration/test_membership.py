"""Who is part of a crisis, under concurrent changes: a deletion during a
launch or a re-ask run, a merge while the registrant is asked, a hard
deletion's answers per minute, retention beside the reply path. Each case
drives the schema's own functions from two sessions at once."""

import threading
import time

from harness import Cluster, check, ctl, expect_equal, run

cluster = Cluster.shared()
DB = "t_membership"
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")

cluster.psql(DB, """
INSERT INTO mission (code, name, default_country) VALUES ('TM-A', 'Test mission', 'TR');
INSERT INTO national (mission_id, name_latin, kind)
    SELECT m.id, 'PERSON ' || g, 'resident' FROM mission m, generate_series(1, 40) g WHERE m.code = 'TM-A';
INSERT INTO contact (national_id, kind, value)
    SELECT n.id, 'phone', '+90532' || lpad(n.id::text, 7, '0') FROM national n;
INSERT INTO location (national_id, point, source)
    SELECT n.id, ST_SetSRID(ST_MakePoint(37.0, 37.0), 4326)::geography, 'staff' FROM national n;
""")
MISSION = int(cluster.psql(DB, "SELECT id FROM mission WHERE code = 'TM-A'"))
LAT, LON = 37.0, 37.0
SLEEPY = """CREATE OR REPLACE FUNCTION test_sleep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF current_setting('test.sleep', true) = 'on' THEN PERFORM pg_sleep(0.1); END IF; RETURN NEW; END $$;
DROP TRIGGER IF EXISTS a_test_sleep ON checkin;
CREATE TRIGGER a_test_sleep BEFORE UPDATE ON checkin FOR EACH ROW EXECUTE FUNCTION test_sleep();"""


def q(sql):
    r = cluster.pg("psql", cluster.dir, "-d", DB, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, check=False)
    if r.returncode != 0:
        raise AssertionError("%s\n%s" % (sql, r.stderr.strip()))
    return r.stdout.strip()


def declare(title, rounds=3, interval=1800):
    """A crisis over the people at LAT, LON and its check-in, launched; returns the crisis id."""
    q("SELECT crisis_declare('earthquake', '%s', NULL, 5::smallint, false, NULL, %f, %f, 20000, "
      "ARRAY[%d::bigint], 'tester', 'admin', NULL, '')" % (title, LAT, LON, MISSION))
    crisis = int(q("SELECT max(id) FROM crisis"))
    q("SELECT campaign_start(%d, %d, '{\"en\": \"Are you safe? {link}\"}', ARRAY['sms'], %d, %d, "
      "'lead', 'mission_lead', '')" % (crisis, MISSION, interval, rounds))
    return crisis


def in_background(sql):
    """Runs sql in its own session; returns the thread and where its output or error lands."""
    out = {}

    def go():
        try:
            out["result"] = q(sql)
        except Exception as e:  # noqa: BLE001 - the error is the finding
            out["error"] = str(e)

    t = threading.Thread(target=go)
    t.start()
    return t, out


def counts_hold(crisis):
    """The counters equal a recount of the status rows not marked deleted."""
    kept = q("SELECT coalesce(string_agg(status || '=' || n, ',' ORDER BY status), '') FROM (SELECT status, "
             "sum(n) AS n FROM status_count WHERE crisis_id = %d GROUP BY status HAVING sum(n) <> 0) x" % crisis)
    recount = q("SELECT coalesce(string_agg(status || '=' || n, ',' ORDER BY status), '') FROM (SELECT status, "
                "count(*) AS n FROM person_status WHERE crisis_id = %d AND NOT deleted GROUP BY status) x" % crisis)
    expect_equal(kept, recount, "counts equal a recount")


def a_deletion_during_a_launch_leaves_the_crisis():
    q("SELECT crisis_declare('earthquake', 'Launch race', NULL, 5::smallint, false, NULL, %f, %f, 20000, "
      "ARRAY[%d::bigint], 'tester', 'admin', NULL, '')" % (LAT, LON, MISSION))
    crisis = int(q("SELECT max(id) FROM crisis"))
    victim = int(q("SELECT min(id) FROM national WHERE deleted_at IS NULL"))
    # The launch held open, as one of a million people is for seconds.
    t, out = in_background("BEGIN; SELECT campaign_start(%d, %d, '{\"en\": \"Are you safe? {link}\"}', "
                           "ARRAY['sms'], 1800, 3, 'lead', 'mission_lead', ''); SELECT pg_sleep(2); COMMIT"
                           % (crisis, MISSION))
    time.sleep(0.8)
    q("SELECT national_set_deleted(%d, NULL, true, 'tester', 'admin', NULL, '')" % victim)
    t.join()
    check("error" not in out, out.get("error", ""))
    expect_equal(q("SELECT deleted FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, victim)),
                 "t", "the person deleted during the launch is left out of the counts")
    expect_equal(q("SELECT state FROM checkin WHERE crisis_id = %d AND national_id = %d" % (crisis, victim)),
                 "cancelled", "and is not asked again")
    expect_equal(q("SELECT string_agg(state || ':' || coalesce(last_error, ''), ',') FROM outbox "
                   "WHERE crisis_id = %d AND national_id = %d" % (crisis, victim)), "failed:deleted",
                 "and their message is not sent")
    counts_hold(crisis)
    q("SELECT national_set_deleted(%d, NULL, false, 'tester', 'admin', NULL, '')" % victim)
    expect_equal(q("SELECT deleted FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, victim)),
                 "f", "a restore brings them back")
    counts_hold(crisis)
    q("UPDATE crisis SET state = 'closed' WHERE id = %d" % crisis)


def a_person_restored_during_a_launch_is_asked_in_it():
    # Deleted before the crisis; staff restore them while its launch runs.
    victim = int(q("SELECT min(id) FROM national WHERE deleted_at IS NULL"))
    q("SELECT national_set_deleted(%d, NULL, true, 'tester', 'admin', NULL, '')" % victim)
    q("SELECT crisis_declare('earthquake', 'Restore race', NULL, 5::smallint, false, NULL, %f, %f, 20000, "
      "ARRAY[%d::bigint], 'tester', 'admin', NULL, '')" % (LAT, LON, MISSION))
    crisis = int(q("SELECT max(id) FROM crisis"))
    t, out = in_background("BEGIN; SELECT campaign_start(%d, %d, '{\"en\": \"Are you safe? {link}\"}', "
                           "ARRAY['sms'], 1800, 3, 'lead', 'mission_lead', ''); SELECT pg_sleep(1.5); COMMIT"
                           % (crisis, MISSION))
    time.sleep(0.5)
    restore = in_background("SELECT national_set_deleted(%d, NULL, false, 'tester', 'admin', NULL, '')" % victim)
    for th, o in ((t, out), restore):
        th.join()
        check("error" not in o, o.get("error", ""))
    check("restored" in restore[1]["result"], restore[1]["result"])
    expect_equal(q("SELECT state FROM checkin WHERE crisis_id = %d AND national_id = %d" % (crisis, victim)),
                 "asked", "the person restored during the launch is asked in it")
    expect_equal(q("SELECT status, deleted FROM person_status WHERE crisis_id = %d AND national_id = %d"
                   % (crisis, victim)), "pending|f", "counted as pending")
    expect_equal(q("SELECT state || ':' || recipient || ':' || body FROM outbox WHERE crisis_id = %d "
                   "AND national_id = %d" % (crisis, victim)),
                 "queued:+90532%s:%s" % (str(victim).rjust(7, "0"), q(
                     "SELECT min(body) FROM outbox WHERE crisis_id = %d AND national_id <> %d" % (crisis, victim))),
                 "with the campaign's message")
    expect_equal(q("SELECT targeted FROM campaign WHERE crisis_id = %d" % crisis),
                 q("SELECT count(*) FROM checkin WHERE crisis_id = %d" % crisis), "and targeted by it")
    counts_hold(crisis)
    # Restored once the launch is over, with no contact left: straight onto the call list.
    other = int(q("SELECT max(id) FROM national WHERE deleted_at IS NULL AND name_latin LIKE 'PERSON %%'"))
    q("SELECT national_set_deleted(%d, NULL, true, 'tester', 'admin', NULL, '')" % other)
    q("DELETE FROM checkin WHERE crisis_id = %d AND national_id = %d; "
      "DELETE FROM outbox WHERE crisis_id = %d AND national_id = %d; "
      "DELETE FROM person_status WHERE crisis_id = %d AND national_id = %d; "
      "DELETE FROM contact WHERE national_id = %d" % (crisis, other, crisis, other, crisis, other, other))
    q("SELECT national_set_deleted(%d, NULL, false, 'tester', 'admin', NULL, '')" % other)
    expect_equal(q("SELECT k.state, p.status FROM checkin k JOIN person_status p USING (crisis_id, national_id) "
                   "WHERE k.crisis_id = %d AND k.national_id = %d" % (crisis, other)), "unreachable|unreachable",
                 "someone without a contact is on the call list")
    counts_hold(crisis)
    # A closed crisis asks nobody.
    q("UPDATE crisis SET state = 'closed' WHERE id = %d" % crisis)
    q("SELECT national_set_deleted(%d, NULL, true, 'tester', 'admin', NULL, ''); "
      "DELETE FROM checkin WHERE crisis_id = %d AND national_id = %d; "
      "SELECT national_set_deleted(%d, NULL, false, 'tester', 'admin', NULL, '')" % (victim, crisis, victim, victim))
    expect_equal(q("SELECT count(*) FROM checkin WHERE crisis_id = %d AND national_id = %d" % (crisis, victim)), "0",
                 "nobody is asked in a closed crisis")
    q("INSERT INTO contact (national_id, kind, value) VALUES (%d, 'phone', '+90532%s')"
      % (other, str(other).rjust(7, "0")))


def a_launch_and_a_deletion_behind_the_audit_lock_do_not_deadlock():
    # Both write the audit log, whose lock another audited action holds a moment.
    q("SELECT crisis_declare('earthquake', 'Audit race', NULL, 5::smallint, false, NULL, %f, %f, 20000, "
      "ARRAY[%d::bigint], 'tester', 'admin', NULL, '')" % (LAT, LON, MISSION))
    crisis = int(q("SELECT max(id) FROM crisis"))
    victim = int(q("SELECT min(id) FROM national WHERE deleted_at IS NULL"))
    hold = in_background("BEGIN; SELECT audit_record('tester', 'admin', NULL, '', 'test.hold', 'test', '1', '{}'); "
                         "SELECT pg_sleep(1.5); COMMIT")
    time.sleep(0.3)
    deletion = in_background("SELECT national_set_deleted(%d, NULL, true, 'tester', 'admin', NULL, '')" % victim)
    time.sleep(0.3)
    launch = in_background("SELECT campaign_start(%d, %d, '{\"en\": \"Are you safe? {link}\"}', ARRAY['sms'], "
                           "1800, 3, 'lead', 'mission_lead', '')" % (crisis, MISSION))
    for t, out in (hold, deletion, launch):
        t.join()
        check("error" not in out, out.get("error", ""))
    expect_equal(q("SELECT count(*) FROM checkin WHERE crisis_id = %d AND national_id = %d AND state <> 'cancelled'"
                   % (crisis, victim)), "0", "the deleted person is not asked")
    check(int(q("SELECT count(*) FROM checkin WHERE crisis_id = %d" % crisis)) > 10, "the others are")
    counts_hold(crisis)
    # A second campaign in the crisis, for people added since, beside a deletion of someone asked by the first.
    q("INSERT INTO national (mission_id, name_latin, kind) SELECT %d, 'LATE ' || g, 'resident' "
      "FROM generate_series(1, 5) g; "
      "INSERT INTO location (national_id, point, source) SELECT n.id, ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography, "
      "'staff' FROM national n WHERE n.name_latin LIKE 'LATE %%'; "
      "INSERT INTO contact (national_id, kind, value) SELECT n.id, 'phone', '+90532' || lpad(n.id::text, 7, '0') "
      "FROM national n WHERE n.name_latin LIKE 'LATE %%'" % (MISSION, LON, LAT))
    asked = int(q("SELECT max(national_id) FROM checkin WHERE crisis_id = %d AND state = 'asked'" % crisis))
    second = in_background("BEGIN; SELECT campaign_start(%d, %d, '{\"en\": \"Are you safe? {link}\"}', "
                           "ARRAY['sms'], 1800, 3, 'lead', 'mission_lead', ''); SELECT pg_sleep(1.5); COMMIT"
                           % (crisis, MISSION))
    time.sleep(0.5)
    deletion = in_background("SELECT national_set_deleted(%d, NULL, true, 'tester', 'admin', NULL, '')" % asked)
    for t, out in (second, deletion):
        t.join()
        check("error" not in out, out.get("error", ""))
    expect_equal(q("SELECT deleted FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, asked)),
                 "t", "the deletion applied")
    expect_equal(q("SELECT count(*) FROM checkin k JOIN national n ON n.id = k.national_id WHERE k.crisis_id = %d "
                   "AND n.name_latin LIKE 'LATE %%'" % crisis), "5", "the second campaign asked the newcomers")
    counts_hold(crisis)
    q("SELECT national_set_deleted(%d, NULL, false, 'tester', 'admin', NULL, ''); "
      "SELECT national_set_deleted(%d, NULL, false, 'tester', 'admin', NULL, '')" % (victim, asked))
    q("UPDATE crisis SET state = 'closed' WHERE id = %d" % crisis)


def a_deletion_during_a_reask_run_does_not_deadlock():
    crisis = declare("Re-ask race", rounds=1, interval=10)
    # The asks went out long ago; the last round gives everyone up as unreachable.
    q("UPDATE outbox SET state = 'sent', sent_at = now() - interval '1 hour' WHERE crisis_id = %d; "
      "UPDATE checkin SET next_ask_at = now() - interval '1 minute' WHERE crisis_id = %d" % (crisis, crisis))
    victim = int(q("SELECT min(national_id) FROM checkin k JOIN national n ON n.id = k.national_id "
                   "WHERE k.crisis_id = %d AND n.deleted_at IS NULL" % crisis))
    # Each check-in's update slowed, to hold the run's row locks while the deletion comes.
    q(SLEEPY)
    try:
        t, out = in_background("SET test.sleep = 'on'; SELECT * FROM campaign_escalate()")
        time.sleep(0.3)
        deleted = in_background("UPDATE national SET deleted_at = now() WHERE id = %d RETURNING id" % victim)
        deleted[0].join()
        t.join()
    finally:
        q("DROP TRIGGER a_test_sleep ON checkin")
    check("error" not in out and "error" not in deleted[1], "deadlock: %r %r" % (out, deleted[1]))
    check(int(out["result"].splitlines()[-1].split("|")[1]) > 0, "the run gave people up: %r" % out)
    expect_equal(q("SELECT deleted FROM person_status WHERE crisis_id = %d AND national_id = %d" % (crisis, victim)),
                 "t", "the deleted person left the crisis")
    counts_hold(crisis)
    q("UPDATE national SET deleted_at = NULL WHERE id = %d" % victim)
    q("UPDATE crisis SET state = 'closed' WHERE id = %d" % crisis)


def a_registrant_in_an_open_crisis_is_merged_only_once_it_closes():
    kept = int(q("SELECT min(id) FROM national WHERE deleted_at IS NULL"))
    q("""INSERT INTO household (mission_id, label) VALUES (%d, 'registered');
         INSERT INTO national (mission_id, household_id, name_latin, source)
             VALUES (%d, (SELECT max(id) FROM household), 'PERSON 1', 'self');
         INSERT INTO contact (national_id, kind, value) VALUES ((SELECT max(id) FROM national), 'phone', '+905550000001');
         INSERT INTO location (national_id, point, source)
             VALUES ((SELECT max(id) FROM national), ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography, 'staff');
         INSERT INTO registration (national_id, mission_id, household_id, manage_hash, consent_at, duplicate_of)
             SELECT n.id, n.mission_id, n.household_id, encode(sha256(random()::text::bytea), 'hex'), now(), %d
             FROM national n WHERE n.id = (SELECT max(id) FROM national)""" % (MISSION, MISSION, LON, LAT, kept))
    reg, registrant = (int(x) for x in q("SELECT id, national_id FROM registration ORDER BY id DESC LIMIT 1").split("|"))
    crisis = declare("Merge during a crisis")
    # The registrant calls for help on their own link.
    q("INSERT INTO response (crisis_id, national_id, mission_id, channel, raw_text, status, provider_ref) "
      "VALUES (%d, %d, %d, 'web', 'trapped', 'needs_help', 'merge-1'); "
      "UPDATE person_status SET status = 'needs_help', own_status = 'needs_help', answered_at = now(), "
      "version = version + 1 WHERE crisis_id = %d AND national_id = %d" % (crisis, registrant, MISSION, crisis, registrant))
    r = q("SELECT registration_merge(%d, NULL, 'lead', 'mission_lead', '')" % reg)
    check('"outcome" : "in_open_crisis"' in r and str(crisis) in r, r)
    expect_equal(q("SELECT n.deleted_at IS NULL, p.status, p.deleted FROM national n JOIN person_status p "
                   "ON p.national_id = n.id AND p.crisis_id = %d WHERE n.id = %d" % (crisis, registrant)),
                 "t|needs_help|f", "the call for help stays in the crisis")
    expect_equal(q("SELECT n FROM status_count WHERE crisis_id = %d AND status = 'needs_help'" % crisis), "1",
                 "and in its counts")
    q("UPDATE crisis SET state = 'closed' WHERE id = %d" % crisis)
    r = q("SELECT registration_merge(%d, NULL, 'lead', 'mission_lead', '')" % reg)
    check('"outcome" : "merged"' in r, r)


def newcomer(name):
    """Someone new at LAT, LON with a phone, after the launch; returns their id."""
    return int(q("WITH n AS (INSERT INTO national (mission_id, name_latin, kind) VALUES (%d, '%s', 'resident') "
                 "RETURNING id), c AS (INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', "
                 "'+90533' || lpad(id::text, 7, '0') FROM n), l AS (INSERT INTO location (national_id, point, "
                 "source) SELECT id, ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography, 'staff' FROM n) "
                 "SELECT id FROM n" % (MISSION, name, LON, LAT)))


def joins_during_a_launch_wait_for_nothing_and_are_asked_after_it():
    crisis = declare("Join during a launch")
    late = newcomer("LATE ONE")
    # A launch holding the mission, as one over a million people does for seconds.
    t, out = in_background("BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('crisis-members:%d', 0)); "
                           "SELECT pg_sleep(2.5); COMMIT" % MISSION)
    time.sleep(0.5)
    t0 = time.time()
    expect_equal(q("SET lock_timeout = '1s'; SELECT nationals_join_crises(%d, ARRAY[%d::bigint])"
                   % (MISSION, late)).splitlines()[-1], "0", "nobody asked yet")
    r = q("SET lock_timeout = '1s'; SELECT itinerary_import(%d, 'partner', jsonb_build_array(jsonb_build_object("
          "'line', 2, 'passport_no', 'DRY0001', 'name_latin', 'DRY RUN', 'lat', %f, 'lon', %f, "
          "'arrival', current_date, 'departure', current_date + 2)), true, 'tester', 'admin', '')::jsonb"
          "->>'travellers_added'" % (MISSION, LAT, LON))
    expect_equal(r.splitlines()[-1], "1", "a dry run counts the traveller")
    took = time.time() - t0
    check(took < 0.9, "the join and the dry run waited %.2f s behind the launch" % took)
    expect_equal(q("SELECT count(*) FROM join_pending WHERE national_id = %d" % late), "1", "queued")
    expect_equal(q("SELECT join_pending_drain(%d)" % MISSION), "0", "not drained while the launch runs")
    t.join()
    check("error" not in out, out.get("error", ""))
    expect_equal(q("SELECT join_pending_drain(%d)" % MISSION), "1", "drained once it is over")
    expect_equal(q("SELECT k.state || ':' || p.status FROM checkin k JOIN person_status p USING (crisis_id, "
                   "national_id) WHERE k.crisis_id = %d AND k.national_id = %d" % (crisis, late)), "asked:pending",
                 "asked after the launch")
    expect_equal(q("SELECT count(*) FROM join_pending"), "0", "nobody left queued")
    expect_equal(q("SELECT targeted FROM campaign WHERE crisis_id = %d" % crisis),
                 q("SELECT count(*) FROM checkin WHERE crisis_id = %d" % crisis), "targeted")
    q("UPDATE crisis SET state = 'closed' WHERE id = %d" % crisis)


def a_crisis_being_closed_asks_nobody_new():
    crisis = declare("Join during a close")
    late = newcomer("LATE TWO")
    t, out = in_background("BEGIN; UPDATE crisis SET state = 'closed' WHERE id = %d; SELECT pg_sleep(1.5); COMMIT"
                           % crisis)
    time.sleep(0.5)
    q("SET lock_timeout = '1s'; SELECT nationals_join_crises(%d, ARRAY[%d::bigint])" % (MISSION, late))
    t.join()
    check("error" not in out, out.get("error", ""))
    expect_equal(q("SELECT count(*) FROM checkin WHERE crisis_id = %d AND national_id = %d" % (crisis, late)), "0",
                 "no new check-in in the closed crisis")
    q("SELECT join_pending_drain(%d)" % MISSION)
    expect_equal(q("SELECT count(*) FROM checkin WHERE crisis_id = %d AND national_id = %d" % (crisis, late)), "0",
                 "nor after the queue is drained")
    # A close that is undone: the person is asked by the next drain.
    crisis = declare("Join during an undone close")
    late = newcomer("LATE THREE")
    t, out = in_background("BEGIN; UPDATE crisis SET state = 'closed' WHERE id = %d; SELECT pg_sleep(1.5); ROLLBACK"
                           % crisis)
    time.sleep(0.5)
    q("SET lock_timeout = '1s'; SELECT nationals_join_crises(%d, ARRAY[%d::bigint])" % (MISSION, late))
    t.join()
    q("SELECT join_pending_drain(%d)" % MISSION)
    expect_equal(q("SELECT state FROM checkin WHERE crisis_id = %d AND national_id = %d" % (crisis, late)), "asked",
                 "asked once the close is undone")
    expect_equal(q("SELECT count(*) FROM join_pending"), "0", "nobody left queued")
    q("UPDATE crisis SET state = 'closed' WHERE id = %d" % crisis)

def answers_per_minute_follow_a_hard_deletion():
    crisis = declare("Hard deletion")
    people = [int(x) for x in q("SELECT national_id FROM checkin WHERE crisis_id = %d ORDER BY 1 LIMIT 3"
                                % crisis).split()]
    for i, p in enumerate(people):
        q("INSERT INTO response (crisis_id, national_id, mission_id, channel, raw_text, status, provider_ref) "
          "VALUES (%d, %d, %d, 'web', 'ok', 'safe', 'minute-%d')" % (crisis, p, MISSION, i))
    q("DELETE FROM national WHERE id = %d" % people[0])
    expect_equal(q("SELECT coalesce(sum(n), 0) FROM response_minute WHERE crisis_id = %d" % crisis),
                 q("SELECT count(*) FROM response WHERE crisis_id = %d" % crisis), "answers per minute equal a recount")
    expect_equal(q("SELECT count(*) FROM response WHERE crisis_id = %d" % crisis), "2", "the deleted one's answer gone")
    q("UPDATE crisis SET state = 'closed' WHERE id = %d" % crisis)


def retention_locks_nothing_when_it_only_spares():
    crisis = declare("Retention beside replies")
    # A departed traveller still asked in an open crisis: spared, every run.
    q("UPDATE national SET kind = 'traveller', arrival_date = current_date - 100, departure_date = current_date - 90 "
      "WHERE id = (SELECT max(national_id) FROM checkin WHERE crisis_id = %d)" % crisis)
    # A reply batch in flight holds its row lock on the answers table.
    t, out = in_background("BEGIN; INSERT INTO response (crisis_id, national_id, mission_id, channel, raw_text, "
                           "status, provider_ref) SELECT %d, min(national_id), %d, 'web', 'ok', 'safe', 'ret-1' "
                           "FROM checkin WHERE crisis_id = %d; SELECT pg_sleep(3); COMMIT" % (crisis, MISSION, crisis))
    time.sleep(0.5)
    t0 = time.time()
    r = q("SET lock_timeout = '1s'; SELECT count(*) FROM purge_departed_travellers(30)")
    took = time.time() - t0
    t.join()
    expect_equal(r.splitlines()[-1], "0", "nobody purged")
    check(took < 0.9, "the run waited %.2f s behind the reply path" % took)
    q("UPDATE crisis SET state = 'closed' WHERE id = %d" % crisis)


def a_place_given_in_an_answer_becomes_the_persons_newest_location():
    crisis = declare("Answers with places")
    # Another check-in running 150 km away, where nobody is yet.
    q("SELECT crisis_declare('earthquake', 'Over there', NULL, 5::smallint, false, NULL, 38.0, 38.0, 20000, "
      "ARRAY[%d::bigint], 'tester', 'admin', NULL, '')" % MISSION)
    there = int(q("SELECT max(id) FROM crisis"))
    q("SELECT campaign_start(%d, %d, '{\"en\": \"Are you safe? {link}\"}', ARRAY['sms'], 1800, 3, "
      "'lead', 'mission_lead', '')" % (there, MISSION))
    mover, proxy, decided, relayed, gone = [int(x) for x in q(
        "SELECT national_id FROM checkin WHERE crisis_id = %d ORDER BY 1 LIMIT 5" % crisis).split()]
    # An import holds the answering person's row: the answer must not wait for it.
    t, out = in_background("BEGIN; UPDATE national SET notes = 'import' WHERE id = %d; SELECT pg_sleep(2); COMMIT"
                           % mover)
    time.sleep(0.5)
    t0 = time.time()
    point = "ST_SetSRID(ST_MakePoint(38.0, 38.0), 4326)::geography"
    q("SET lock_timeout = '1s'; INSERT INTO response (crisis_id, national_id, mission_id, channel, raw_text, status, "
      "point, proxy, by_staff, provider_ref) VALUES "
      "(%d, %d, %d, 'web', 'ok', 'safe', %s, false, false, 'place-1'), "
      "(%d, %d, %d, 'web', 'we are all safe', 'safe', %s, true, false, 'place-2'), "
      "(%d, %d, %d, 'staff', 'last seen here', 'missing', %s, false, true, NULL), "
      "(%d, %d, %d, 'staff', 'called: safe, at a friend''s', 'safe', %s, false, false, NULL), "
      "(%d, %d, %d, 'web', 'ok', 'safe', %s, false, false, 'place-5')"
      % (crisis, mover, MISSION, point, crisis, proxy, MISSION, point, crisis, decided, MISSION, point,
         crisis, relayed, MISSION, point, crisis, gone, MISSION, point))
    took = time.time() - t0
    check(took < 0.9, "the answers waited %.2f s behind an import" % took)
    t.join()
    check("error" not in out, out.get("error", ""))
    q("DELETE FROM national WHERE id = %d" % gone)
    expect_equal(q("SELECT count(*) FROM reply_location_pending"), "2", "the two answers' own places queued")
    # A run while an import holds one of them never waits: that place stays queued.
    t, out = in_background("BEGIN; UPDATE national SET notes = 'import again' WHERE id = %d; SELECT pg_sleep(2); "
                           "COMMIT" % mover)
    time.sleep(0.5)
    t0 = time.time()
    expect_equal(q("SET lock_timeout = '1s'; SELECT arrived IS NOT NULL FROM maintenance_run()").splitlines()[-1], "t",
                 "maintenance ran beside the import")
    took = time.time() - t0
    check(took < 0.9, "the run waited %.2f s behind an import" % took)
    expect_equal(q("SELECT national_id FROM reply_location_pending"), str(mover), "the held person's place still queued")
    t.join()
    check("error" not in out, out.get("error", ""))
    expect_equal(q("SELECT arrived IS NOT NULL FROM maintenance_run()"), "t", "maintenance ran")
    where = lambda nid: q("SELECT round(ST_X(last_point::geometry)::numeric, 1) || ',' || "
                          "round(ST_Y(last_point::geometry)::numeric, 1) || ':' || last_point_source FROM national "
                          "WHERE id = %d" % nid)
    expect_equal(where(mover), "38.0,38.0:reply", "the answer's place is the person's newest")
    expect_equal(where(relayed), "38.0,38.0:staff", "a place staff relayed with an answer, as staff's")
    expect_equal(where(proxy), "37.0,37.0:staff", "an answer for others moves nobody")
    expect_equal(where(decided), "37.0,37.0:staff", "a staff decision moves nobody")
    expect_equal(q("SELECT count(*) FROM location WHERE source = 'reply' AND national_id = %d" % mover), "1",
                 "kept in the person's locations")
    expect_equal(q("SELECT string_agg(national_id::text, ',' ORDER BY national_id) FROM checkin WHERE crisis_id = %d"
                   % there), "%d,%d" % (mover, relayed) if mover < relayed else "%d,%d" % (relayed, mover),
                 "asked in the check-in whose area they said they are in")
    expect_equal(q("SELECT count(*) FROM reply_location_pending"), "0", "nothing left queued")
    for c in (crisis, there):
        q("UPDATE crisis SET state = 'closed' WHERE id = %d" % c)


ANTAKYA = (36.2, 36.16)
PLACES = {"Istanbul": (41.0, 29.0), "Antakya": (36.2, 36.16), "Gaziantep": (37.07, 37.38), "Ankara": (39.93, 32.85)}


def traveller_legs(name, kind, legs, placed=None, answered=None):
    """Someone of the mission with a phone and legs [(place, first day, last day)], days counted from today;
    placed=(place, days ago) is where the itinerary put a traveller (a resident's imported home), answered=
    (place, days ago) where they said they were in an answer. Returns their id."""
    first, last = min(a for _, a, _ in legs), max(b for _, _, b in legs)
    trip = "current_date + %d, current_date + %d" % (first, last) if kind == "traveller" else "NULL, NULL"
    nid = int(q("WITH n AS (INSERT INTO national (mission_id, name_latin, kind, arrival_date, departure_date) "
                "VALUES (%d, '%s', '%s', %s) RETURNING id), c AS (INSERT INTO contact (national_id, kind, value) "
                "SELECT id, 'phone', '+90533' || lpad(id::text, 7, '0') FROM n) SELECT id FROM n"
                % (MISSION, name, kind, trip)))
    point = lambda place: "ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography" % PLACES[place][::-1]
    q("INSERT INTO itinerary_leg (national_id, seq, country, place, point, arrival, departure, source) VALUES %s"
      % ", ".join("(%d, %d, 'TR', '%s', %s, current_date + %d, current_date + %d, 'self')"
                  % (nid, i + 1, place, point(place), a, b) for i, (place, a, b) in enumerate(legs)))
    for given, source in ((placed, "itinerary" if kind == "traveller" else "import"), (answered, "reply")):
        if given:
            place, ago = given
            q("INSERT INTO location (national_id, point, source, observed_at) VALUES (%d, %s, '%s', "
              "now() - interval '%d days')" % (nid, point(place), source, ago))
    return nid


def a_traveller_is_found_by_the_leg_of_the_day_after_answering_from_an_earlier_one():
    # A trip: Istanbul five to three days ago, Antakya from two days ago; a crisis around Antakya.
    trip = [("Istanbul", -5, -3), ("Antakya", -2, 5)]
    silent = traveller_legs("LEGS TRAVELLER NEVER ANSWERED", "traveller", trip, placed=("Istanbul", 5))
    resident = traveller_legs("LEGS RESIDENT ANSWERED IN ISTANBUL", "resident", trip, placed=("Ankara", 30),
                              answered=("Istanbul", 4))
    answered = traveller_legs("LEGS TRAVELLER ANSWERED IN ISTANBUL", "traveller", trip, placed=("Istanbul", 5),
                              answered=("Istanbul", 4))
    # Places given since today's leg began are fresher than the plan: found there, not by the leg.
    since_away = traveller_legs("LEGS TRAVELLER ANSWERED IN ISTANBUL SINCE", "traveller", trip,
                                placed=("Istanbul", 5), answered=("Istanbul", 1))
    since_there = traveller_legs("LEGS TRAVELLER ANSWERED IN ANTAKYA SINCE", "traveller",
                                 [("Istanbul", -5, -3), ("Gaziantep", -2, 5)], placed=("Istanbul", 5),
                                 answered=("Antakya", 1))
    # Leg 1 in Istanbul until today, leg 2 in Antakya in two days: not there at the launch.
    later = [("Istanbul", -6, 0), ("Antakya", 2, 6)]
    arriving = traveller_legs("LEGS ARRIVING NEVER ANSWERED", "traveller", later, placed=("Istanbul", 6))
    arriving_answered = traveller_legs("LEGS ARRIVING ANSWERED IN ISTANBUL", "traveller", later,
                                       placed=("Istanbul", 6), answered=("Istanbul", 4))
    everyone = (silent, resident, answered, since_away, since_there, arriving, arriving_answered)
    # The same place as a circle (nationals_near) and as a polygon (nationals_in_area).
    q("SELECT crisis_declare('earthquake', 'Antakya circle', NULL, 5::smallint, false, NULL, %f, %f, 15000, "
      "ARRAY[%d::bigint], 'tester', 'admin', NULL, '')" % (ANTAKYA[0], ANTAKYA[1], MISSION))
    circle = int(q("SELECT max(id) FROM crisis"))
    q("SELECT crisis_declare('earthquake', 'Antakya polygon', NULL, 5::smallint, false, ST_AsGeoJSON(ST_Buffer("
      "ST_SetSRID(ST_MakePoint(%f, %f), 4326)::geography, 15000)::geometry), NULL, NULL, NULL, ARRAY[%d::bigint], "
      "'tester', 'admin', NULL, '')" % (ANTAKYA[1], ANTAKYA[0], MISSION))
    polygon = int(q("SELECT max(id) FROM crisis"))
    check(polygon != circle, "two crises")
    for c in (circle, polygon):
        q("SELECT campaign_start(%d, %d, '{\"en\": \"Are you safe? {link}\"}', ARRAY['sms'], 1800, 3, "
          "'lead', 'mission_lead', '')" % (c, MISSION))

    def asked(crisis):
        return q("SELECT coalesce(string_agg(n.name_latin, ', ' ORDER BY n.name_latin COLLATE \"C\"), '') FROM checkin k "
                 "JOIN national n ON n.id = k.national_id WHERE k.crisis_id = %d AND n.id IN (%s)"
                 % (crisis, ", ".join(map(str, everyone))))
    at_launch = ("LEGS RESIDENT ANSWERED IN ISTANBUL, LEGS TRAVELLER ANSWERED IN ANTAKYA SINCE, "
                 "LEGS TRAVELLER ANSWERED IN ISTANBUL, LEGS TRAVELLER NEVER ANSWERED")
    for c, shape in ((circle, "circle"), (polygon, "polygon")):
        expect_equal(asked(c), at_launch, "asked at the launch over a %s: whoever today's leg or a place given "
                     "since it began puts there" % shape)
    # Two days pass: the second leg of the arriving ones begins while the check-ins run.
    arrivers = "%d, %d" % (arriving, arriving_answered)
    q("UPDATE itinerary_leg SET arrival = arrival - 2, departure = departure - 2 WHERE national_id IN (%s); "
      "UPDATE national SET arrival_date = arrival_date - 2, departure_date = departure_date - 2 WHERE id IN (%s); "
      "UPDATE campaign SET launched_at = launched_at - interval '2 days' WHERE crisis_id IN (%d, %d)"
      % (arrivers, arrivers, circle, polygon))
    for _ in range(3):
        q("SELECT arrivals_join_crises()")
    expect_equal(q("SELECT bool_and(arrivals_checked_on = current_date) FROM campaign WHERE crisis_id IN (%d, %d)"
                   % (circle, polygon)), "t", "every day looked at, up to today")
    q("SELECT join_pending_drain(%d)" % MISSION)
    for c, shape in ((circle, "circle"), (polygon, "polygon")):
        expect_equal(asked(c), "LEGS ARRIVING ANSWERED IN ISTANBUL, LEGS ARRIVING NEVER ANSWERED, " + at_launch,
                     "asked in the check-in over a %s when their leg there begins, answer or not" % shape)
        expect_equal(q("SELECT targeted FROM campaign WHERE crisis_id = %d" % c),
                     q("SELECT count(*) FROM checkin WHERE crisis_id = %d" % c), "and counted")
    expect_equal(q("SELECT count(*) FROM join_pending"), "0", "nobody left queued")
    for c in (circle, polygon):
        q("UPDATE crisis SET state = 'closed' WHERE id = %d" % c)


try:
    run([a_deletion_during_a_launch_leaves_the_crisis,
         a_person_restored_during_a_launch_is_asked_in_it,
         a_launch_and_a_deletion_behind_the_audit_lock_do_not_deadlock,
         a_deletion_during_a_reask_run_does_not_deadlock,
         a_registrant_in_an_open_crisis_is_merged_only_once_it_closes,
         joins_during_a_launch_wait_for_nothing_and_are_asked_after_it,
         a_crisis_being_closed_asks_nobody_new,
         answers_per_minute_follow_a_hard_deletion,
         retention_locks_nothing_when_it_only_spares,
         a_place_given_in_an_answer_becomes_the_persons_newest_location,
         a_traveller_is_found_by_the_leg_of_the_day_after_answering_from_an_earlier_one])
finally:
    cluster.dropdb(DB)
