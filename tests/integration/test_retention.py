"""Retention: safetyd removes a traveller's record the configured number of
days after departure, keeps residents, recent travellers and travellers of
a crisis still open (also one asked while the purge waited for the writer),
never purges the registry's resident that a registration was merged into,
and writes the counts (never names) to the audit log."""

import re
import subprocess
import time

from harness import PG_SH, Cluster, Daemon, check, ctl, eventually, expect_equal, run

cluster = Cluster.shared()
DB = "t_retention"


def departed_travellers_are_purged_after_the_retention():
    conninfo = cluster.createdb(DB)
    expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
    expect_equal(ctl(conninfo, "mission", "add", "TR-ANK", "--name", "x", "--country", "TR").returncode, 0, "mission")
    cluster.psql(DB, """
SET ROLE safety;
INSERT INTO household (mission_id, external_ref) VALUES (1, 'h-old'), (1, 'h-mixed');
INSERT INTO national (mission_id, household_id, name_latin, kind, arrival_date, departure_date) VALUES
 (1, 1, 'GONE LONG AGO', 'traveller', current_date - 60, current_date - 40),
 (1, 2, 'GONE TOO', 'traveller', current_date - 50, current_date - 31),
 (1, 2, 'STAYS RESIDENT', 'resident', NULL, NULL),
 (1, NULL, 'LEFT LAST WEEK', 'traveller', current_date - 20, current_date - 7),
 (1, NULL, 'STILL HERE', 'traveller', current_date - 2, current_date + 5),
 (1, NULL, 'STRANDED IN A CRISIS', 'traveller', current_date - 60, current_date - 40);
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'Still open',
  ST_SetSRID(ST_MakePoint(32.85, 39.93), 4326)::geography, 50000);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO person_status (crisis_id, national_id, mission_id, status)
  SELECT 1, id, 1, 'needs_help' FROM national WHERE name_latin = 'STRANDED IN A CRISIS';
INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', '+90532123456' || id FROM national;
INSERT INTO location (national_id, point, source) SELECT id, 'SRID=4326;POINT(32.85 39.93)', 'registration' FROM national;
""")
    d = Daemon(conninfo, sections={"registry": {"traveller_retention_days": "30", "retention_interval": "1"}}).start()
    try:
        eventually(lambda: "retention_purge travellers_removed=2" in d.log(), timeout=15, what="purge logged")
        left = cluster.psql(DB, "SELECT string_agg(name_latin, ',' ORDER BY id) FROM national")
        expect_equal(left, "STAYS RESIDENT,LEFT LAST WEEK,STILL HERE,STRANDED IN A CRISIS", "who is left")
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM contact"), "4", "contacts of the purged are gone")
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM location"), "4", "locations of the purged are gone")
        expect_equal(cluster.psql(DB, "SELECT status FROM person_status"), "needs_help", "the stranded keep their status")
        expect_equal(cluster.psql(DB, "SELECT string_agg(external_ref, ',') FROM household"), "h-mixed", "empty household removed")
        audit = cluster.psql(DB, "SELECT summary FROM audit_log WHERE action = 'retention.purge'")
        # The head logged after the purge covers the purge's own audit row.
        purge_row = cluster.psql(DB, "SELECT id || ' hash=' || hash FROM audit_log WHERE action = 'retention.purge'")
        eventually(lambda: "audit_head id=%s" % purge_row in d.log(), timeout=10, what="the head after the purge")
        check('"purged" : 2' in audit or '"purged":2' in audit, audit)
        check("GONE" not in audit, "a name in the audit log: " + audit)
        check('"spared_open_crisis" : 1' in audit or '"spared_open_crisis":1' in audit, audit)
        # The next runs find nothing more to do while the crisis is open.
        time.sleep(2.5)
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM national"), "4", "stable")
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE action = 'retention.purge'"), "1", "no empty audit rows")
        # Once it is closed, the stranded traveller's record goes too.
        cluster.psql(DB, "SET ROLE safety; UPDATE crisis SET state = 'closed'")
        eventually(lambda: cluster.psql(DB, "SELECT count(*) FROM national") == "3", timeout=15, what="purged after the crisis")
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM person_status"), "0", "with their status")
    finally:
        d.stop()
        cluster.dropdb(DB)


def fresh_mission(db):
    conninfo = cluster.createdb(db)
    expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
    expect_equal(ctl(conninfo, "mission", "add", "TR-ANK", "--name", "x", "--country", "TR").returncode, 0, "mission")
    return conninfo


def someone_asked_while_the_purge_waits_is_spared():
    db = DB + "_race"
    fresh_mission(db)
    try:
        cluster.psql(db, """
SET ROLE safety;
INSERT INTO national (mission_id, name_latin, kind, arrival_date, departure_date) VALUES
 (1, 'ASKED MEANWHILE', 'traveller', current_date - 90, current_date - 60),
 (1, 'GONE FOR GOOD', 'traveller', current_date - 90, current_date - 60);
INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', '+90532123456' || id FROM national;
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'Open',
  ST_SetSRID(ST_MakePoint(32.85, 39.93), 4326)::geography, 50000);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x"}', '{sms}');
""")
        asked = cluster.psql(db, "SELECT id FROM national WHERE name_latin = 'ASKED MEANWHILE'")
        # A launch asking them (the check-in brings its status), still writing when the purge starts.
        writer = subprocess.Popen(
            [PG_SH, "psql", cluster.dir, "-d", db, "-At", "-c",
             "SET ROLE safety; BEGIN; "
             "INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at) "
             "VALUES (1, %s, 1, 1, now() + interval '30 minutes'); "
             "SELECT pg_sleep(3); COMMIT;" % asked],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        eventually(lambda: cluster.psql(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
                                            "AND wait_event = 'PgSleep'" % db) == "1", timeout=10,
                   what="the writer inside its transaction")
        check(writer.poll() is None, "the writer has not committed yet")
        started = time.monotonic()
        purged = cluster.psql(db, "SET ROLE safety; SELECT coalesce(sum(purged), 0) FROM purge_departed_travellers(30)")
        waited = time.monotonic() - started
        out, err = writer.communicate(timeout=30)
        expect_equal(writer.returncode, 0, err)
        check(waited > 1, "the purge waited for the writer (%.1f s)" % waited)
        expect_equal(purged, "1", "only the one nobody asked")
        expect_equal(cluster.psql(db, "SELECT string_agg(name_latin, ',') FROM national"), "ASKED MEANWHILE", "who is left")
        expect_equal(cluster.psql(db, "SELECT count(*) FROM checkin WHERE national_id = %s" % asked), "1", "their check-in")
        expect_equal(cluster.psql(db, "SELECT count(*) FROM person_status WHERE national_id = %s" % asked), "1",
                     "their status (the check-in's)")
        expect_equal(cluster.psql(db, "SELECT count(*) FROM contact"), "1", "their contact")
        audit = cluster.psql(db, "SELECT summary FROM audit_log WHERE action = 'retention.purge'")
        check('"spared_open_crisis" : 1' in audit or '"spared_open_crisis":1' in audit, audit)
        # A run with nobody due locks nothing: it does not wait for a writer.
        cluster.psql(db, "SET ROLE safety; UPDATE national SET departure_date = current_date + 5")
        writer = subprocess.Popen(
            [PG_SH, "psql", cluster.dir, "-d", db, "-At", "-c",
             "SET ROLE safety; BEGIN; UPDATE person_status SET status = 'safe'; SELECT pg_sleep(3); COMMIT;"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        eventually(lambda: cluster.psql(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = '%s' "
                                            "AND wait_event = 'PgSleep'" % db) == "1", timeout=10,
                   what="the second writer inside its transaction")
        started = time.monotonic()
        expect_equal(cluster.psql(db, "SELECT count(*) FROM purge_departed_travellers(30)"), "0", "nobody due")
        check(time.monotonic() - started < 2 and writer.poll() is None, "an empty run does not wait")
        writer.communicate(timeout=30)
    finally:
        cluster.dropdb(db)


def a_resident_a_registration_was_merged_into_is_never_purged():
    db = DB + "_merge"
    fresh_mission(db)
    try:
        # The registry's resident (from the embassy's import) registers a trip
        # themselves, and staff merge the two.
        cluster.psql(db, """
SET ROLE safety;
INSERT INTO household (mission_id, external_ref) VALUES (1, 'h-home'), (1, 'h-trip');
INSERT INTO national (mission_id, household_id, name_latin, kind, source, passport_no) VALUES
 (1, 1, 'RESIDENT SEVENTY', 'resident', 'import', 'M70707070'),
 (1, 2, 'RESIDENT SEVENTY', 'resident', 'self', NULL);
UPDATE national SET kind = 'traveller', arrival_date = current_date + 1, departure_date = current_date + 5
 WHERE source = 'self';
INSERT INTO location (national_id, point, source) SELECT id, 'SRID=4326;POINT(32.85 39.93)', 'import' FROM national;
INSERT INTO registration (national_id, mission_id, household_id, manage_hash, consent_at, duplicate_of)
 SELECT s.id, 1, 2, repeat('a', 64), now(), k.id FROM national s, national k
 WHERE s.source = 'self' AND k.source = 'import';
SELECT registration_merge(1, NULL, 'lead', 'mission_lead', '');
""")
        kept = cluster.psql(db, "SELECT id FROM national WHERE source = 'import'")
        expect_equal(cluster.psql(db, "SELECT kind FROM national WHERE id = %s" % kept), "resident", "still a resident")
        # Long after the trip, and even when staff later record the trip's
        # dates on them as a traveller's (as merges once did), retention leaves
        # the embassy's record alone, and the registrant's row the merge set
        # aside: an undo brings it back, a deletion through the link removes it.
        cluster.psql(db, "SET ROLE safety; UPDATE national SET kind = 'traveller', arrival_date = current_date - 90, "
                         "departure_date = current_date - 60")
        cluster.psql(db, "SET ROLE safety; SELECT * FROM purge_departed_travellers(30)")
        expect_equal(cluster.psql(db, "SELECT count(*) FROM national WHERE id = %s" % kept), "1", "the resident kept")
        expect_equal(cluster.psql(db, "SELECT count(*) FROM national"), "2", "the registrant's row kept")
        expect_equal(cluster.psql(db, "SELECT count(*) FROM registration_merge"), "1", "and the merge, to be undone")
        expect_equal(cluster.psql(db, "SET ROLE safety; SELECT registration_unmerge(1, NULL, 'lead', 'mission_lead', '')"
                                      "->>'outcome'"), "unmerged", "undone")
    finally:
        cluster.dropdb(db)


def the_audit_head_logged_finds_rows_removed_from_the_end():
    db = "t_retention_head"
    conninfo = fresh_mission(db)
    d = Daemon(conninfo, sections={"registry": {"retention_interval": "1"}}).start()
    try:
        line = eventually(lambda: re.search(r"audit_head id=(\d+) hash=([0-9a-f]{64})", d.log()), timeout=15,
                          what="the chain's newest row logged")
        head = "%s:%s" % (line.group(1), line.group(2))
        r = ctl(conninfo, "audit", "verify", "--head", head)
        expect_equal(r.returncode, 0, r.stdout + r.stderr)
        for bad in ("12", "x:" + "0" * 64, "1:" + "g" * 64):
            r = ctl(conninfo, "audit", "verify", "--head", bad)
            check(r.returncode == 2 and "expected ID:HASH" in r.stderr, r.stderr)
    finally:
        d.stop()
    # Someone able to write the table removes the newest rows: the chain
    # itself still holds, the head recorded outside the database does not.
    cluster.psql(db, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; "
                     "DELETE FROM audit_log WHERE id >= %s; "
                     "ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only" % line.group(1))
    try:
        expect_equal(ctl(conninfo, "audit", "verify").returncode, 0, "a shortened chain alone looks intact")
        r = ctl(conninfo, "audit", "verify", "--head", head)
        expect_equal(r.returncode, 1, r.stdout)
        check("row %s, recorded outside the database, is gone" % line.group(1) in r.stdout, r.stdout)
    finally:
        cluster.dropdb(db)


def ended_and_expired_sessions_are_removed():
    db = DB + "_sessions"
    conninfo = cluster.createdb(db)
    expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
    cluster.psql(db, """
SET ROLE safety;
INSERT INTO staff_user (username, role, password_hash) VALUES ('ops', 'admin', '$scrypt$placeholder');
INSERT INTO staff_session (token_hash, user_id, expires_at, last_seen_at, revoked_at) VALUES
 (repeat('a', 64), 1, now() + interval '1 hour', now(), NULL),
 (repeat('b', 64), 1, now() - interval '1 second', now(), NULL),
 (repeat('c', 64), 1, now() + interval '1 hour', now(), now()),
 (repeat('d', 64), 1, now() + interval '1 hour', now() - interval '2 hours', NULL);
""")
    d = Daemon(conninfo, sections={"registry": {"retention_interval": "1"},
                                   "auth": {"session_idle_timeout": "1800"}}).start()
    try:
        eventually(lambda: "session_purge sessions_removed=3" in d.log(), timeout=15, what="purge logged")
        expect_equal(cluster.psql(db, "SELECT string_agg(left(token_hash, 1), ',') FROM staff_session"), "a",
                     "only the session still in use is left")
    finally:
        d.stop()
        cluster.dropdb(db)


def a_traveller_with_a_leg_still_ahead_is_never_purged():
    db = DB + "_legs"
    fresh_mission(db)
    try:
        cluster.psql(db, """
SET ROLE safety;
INSERT INTO national (mission_id, name_latin, kind, arrival_date, departure_date) VALUES
 (1, 'BACK LATER', 'traveller', current_date - 90, current_date - 60),
 (1, 'GONE FOR GOOD', 'traveller', current_date - 90, current_date - 60),
 (1, 'LEG LONG OVER', 'traveller', current_date - 90, current_date - 60);
INSERT INTO itinerary_leg (national_id, seq, country, arrival, departure, source)
 SELECT id, 1, 'TR', current_date + 5, current_date + 20, 'partner' FROM national
  WHERE name_latin = 'BACK LATER'
 UNION ALL SELECT id, 1, 'TR', current_date - 80, current_date - 70, 'partner' FROM national
  WHERE name_latin = 'LEG LONG OVER';
""")
        expect_equal(cluster.psql(db, "SET ROLE safety; SELECT purged FROM purge_departed_travellers(30)"), "2",
                     "the two whose every leg is over")
        expect_equal(cluster.psql(db, "SELECT string_agg(n.name_latin || ':' || l.departure - current_date, ',') "
                                      "FROM national n JOIN itinerary_leg l ON l.national_id = n.id"),
                     "BACK LATER:20", "the traveller of a leg still ahead kept, with the leg")
    finally:
        cluster.dropdb(db)


run([departed_travellers_are_purged_after_the_retention,
     someone_asked_while_the_purge_waits_is_spared,
     a_resident_a_registration_was_merged_into_is_never_purged,
     the_audit_head_logged_finds_rows_removed_from_the_end,
     ended_and_expired_sessions_are_removed,
     a_traveller_with_a_leg_still_ahead_is_never_purged])
