"""Retention: safetyd removes a traveller's record the configured number of
days after departure, keeps residents, recent travellers and travellers of
a crisis still open, and writes the counts (never names) to the audit log."""

import time

from harness import Cluster, Daemon, check, ctl, eventually, expect_equal, run

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


run([departed_travellers_are_purged_after_the_retention])
