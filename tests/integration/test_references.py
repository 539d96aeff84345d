"""References checked per statement: of check-ins, messages, statuses and
replies (crisis, campaign, mission, national), of nationals (mission,
household, region) and of contacts and locations (national). A missing key
is refused with the key named, a removed national takes their rows along, a
referenced crisis, household or region cannot be removed, and a delete
racing an insert leaves no orphan whichever of the two comes first."""

import subprocess
import time

from harness import PG_SH, Cluster, check, ctl, expect_equal, run

cluster = Cluster.shared()
DB = "t_references"


def psql_fails(sql):
    """Runs sql; returns its error text (the test fails if there is none)."""
    r = cluster.pg("psql", cluster.dir, "-d", DB, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql, check=False)
    check(r.returncode != 0, "accepted: " + sql)
    return r.stderr


def background():
    return subprocess.Popen([PG_SH, "psql", cluster.dir, "-d", DB, "-At", "-v", "ON_ERROR_STOP=1"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def setup():
    conninfo = cluster.createdb(DB)
    expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
    cluster.psql(DB, """
SET ROLE safety;
INSERT INTO mission (code, name, default_country) VALUES ('TR-ANK', 'x', 'TR');
INSERT INTO national (mission_id, name_latin, last_point, last_point_at)
	SELECT 1, 'PERSON ' || g, 'SRID=4326;POINT(37.0 37.5)', now() FROM generate_series(1, 4) g;
INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', '+9053212345' || id FROM national;
INSERT INTO location (national_id, point, source, observed_at)
	SELECT id, 'SRID=4326;POINT(37.0 37.5)', 'import', now() - interval '1 day' FROM national;
INSERT INTO household (mission_id, external_ref) VALUES (1, 'H1'), (1, 'H2');
INSERT INTO region (mission_id, code, name, area)
	VALUES (1, 'TR-27', 'Gaziantep', ST_Multi(ST_MakeEnvelope(36, 36, 38, 38, 4326))::geography);
UPDATE national SET household_id = 1, region_id = 1 WHERE id = 1;
INSERT INTO crisis (kind, title, area) VALUES ('earthquake', 'x',
	ST_Multi(ST_MakeEnvelope(36, 37, 38, 38, 4326))::geography),
	('flood', 'never used', ST_Multi(ST_MakeEnvelope(36, 37, 38, 38, 4326))::geography);
INSERT INTO crisis_mission VALUES (1, 1);
INSERT INTO campaign (crisis_id, mission_id, templates, channels)
	VALUES (1, 1, '{"en": "{name}, are you safe? {link}"}', '{sms}');
SELECT campaign_launch(1);
INSERT INTO response (crisis_id, national_id, mission_id, channel, status)
	SELECT 1, id, 1, 'staff', 'safe' FROM national;
""")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM checkin"), "4", "check-ins")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM outbox"), "4", "messages")


def registry_rows_of(national):
    return cluster.psql(DB, """SELECT (SELECT count(*) FROM contact WHERE national_id = %d) || ','
	|| (SELECT count(*) FROM location WHERE national_id = %d)""" % ((national,) * 2))


def rows_of(national):
    return cluster.psql(DB, """SELECT (SELECT count(*) FROM checkin WHERE national_id = %d) || ','
	|| (SELECT count(*) FROM outbox WHERE national_id = %d) || ','
	|| (SELECT count(*) FROM person_status WHERE national_id = %d) || ','
	|| (SELECT count(*) FROM response WHERE national_id = %d)""" % ((national,) * 4))


def missing_keys_are_refused_by_name():
    err = psql_fails("INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)"
                     " VALUES (2, 999999, 1, 1, now())")
    check("checkin.national_id = 999999 is not in national" in err, err)
    err = psql_fails("INSERT INTO outbox (crisis_id, campaign_id, national_id, mission_id, channel, recipient, body)"
                     " VALUES (1, 77, 1, 1, 'sms', '+905321234561', 'x')")
    check("outbox.campaign_id = 77 is not in campaign" in err, err)
    err = psql_fails("INSERT INTO response (crisis_id, national_id, mission_id, channel)"
                     " VALUES (1, 1, 1, 'web'), (31337, 2, 1, 'web')")
    check("response.crisis_id = 31337 is not in crisis" in err, err)
    err = psql_fails("INSERT INTO person_status (crisis_id, national_id, mission_id, status)"
                     " VALUES (2, 1, 55, 'pending')")
    check("person_status.mission_id = 55 is not in mission" in err, err)
    # More than 10,000 rows take the merge path; one bad key among them is found.
    err = psql_fails("INSERT INTO response (crisis_id, national_id, mission_id, channel)"
                     " SELECT 1, CASE WHEN g = 7777 THEN 888888 ELSE 1 + g % 4 END, 1, 'web'"
                     " FROM generate_series(1, 12000) g")
    check("response.national_id = 888888 is not in national" in err, err)
    # REPEATABLE READ checks and locks.
    err = psql_fails("BEGIN ISOLATION LEVEL REPEATABLE READ; INSERT INTO checkin (crisis_id, national_id,"
                     " mission_id, campaign_id, next_ask_at) VALUES (2, 424242, 1, 1, now()); COMMIT")
    check("checkin.national_id = 424242 is not in national" in err, err)
    err = psql_fails("UPDATE checkin SET national_id = 2 WHERE national_id = 1")
    check("checkin.national_id cannot change" in err, err)
    err = psql_fails("UPDATE national SET id = DEFAULT WHERE id = 1")
    check("national.id cannot change" in err, err)
    # Registry: a national's mission, household and region; a contact's and a
    # location's national; on insert and on update, one row or many.
    err = psql_fails("INSERT INTO national (mission_id, name_latin, household_id) VALUES (1, 'X', 4242)")
    check("national.household_id = 4242 is not in household" in err, err)
    err = psql_fails("INSERT INTO national (mission_id, name_latin) VALUES (77, 'X')")
    check("national.mission_id = 77 is not in mission" in err, err)
    err = psql_fails("UPDATE national SET region_id = 999 WHERE id = 2")
    check("national.region_id = 999 is not in region" in err, err)
    err = psql_fails("INSERT INTO contact (national_id, kind, value) VALUES (999999, 'phone', '+905321111111')")
    check("contact.national_id = 999999 is not in national" in err, err)
    err = psql_fails("INSERT INTO location (national_id, point, source) VALUES (1, 'SRID=4326;POINT(37 37)', 'staff'),"
                     " (555555, 'SRID=4326;POINT(37 37)', 'staff')")
    check("location.national_id = 555555 is not in national" in err, err)
    err = psql_fails("INSERT INTO contact (national_id, kind, value) SELECT CASE WHEN g = 9000 THEN 777777"
                     " ELSE 1 + g % 4 END, 'email', 'p' || g || '@example.org' FROM generate_series(1, 11000) g")
    check("contact.national_id = 777777 is not in national" in err, err)
    err = psql_fails("UPDATE national SET household_id = CASE WHEN id = 3 THEN 31337 ELSE 2 END")
    check("national.household_id = 31337 is not in household" in err, err)
    err = psql_fails("UPDATE contact SET national_id = 2 WHERE national_id = 1")
    check("contact.national_id cannot change" in err, err)
    err = psql_fails("UPDATE location SET national_id = 2 WHERE national_id = 1")
    check("location.national_id cannot change" in err, err)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national"), "4", "nationals")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM contact"), "4", "contacts")
    expect_equal(cluster.psql(DB, "SELECT household_id || ',' || region_id FROM national WHERE id = 1"), "1,1",
                 "national 1's household and region")
    # Nothing of the refused statements stayed.
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM response"), "4", "replies")
    expect_equal(rows_of(1), "1,1,1,1", "national 1 untouched")


def error_code_is_foreign_key_violation():
    r = subprocess.run([PG_SH, "psql", cluster.dir, "-d", DB, "-At", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose",
                        "-c", "INSERT INTO response (crisis_id, channel) VALUES (9, 'web')"],
                       capture_output=True, text=True)
    check(r.returncode != 0 and "23503" in r.stderr, r.stderr)


def a_referenced_crisis_stays():
    # A staff reply is the only thing that points at crisis 2.
    cluster.psql(DB, "INSERT INTO response (crisis_id, national_id, mission_id, channel, status)"
                 " VALUES (2, 1, 1, 'staff', 'safe')")
    err = psql_fails("BEGIN; DELETE FROM crisis_event WHERE crisis_id = 2; DELETE FROM crisis WHERE id = 2; COMMIT")
    check("crisis 2 is still referenced from response" in err, err)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis"), "2", "crises")
    cluster.psql(DB, "DELETE FROM response WHERE crisis_id = 2")
    cluster.psql(DB, "BEGIN; DELETE FROM crisis_event WHERE crisis_id = 2; DELETE FROM crisis WHERE id = 2; COMMIT")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM crisis"), "1", "the crisis nothing points at went")


def a_used_household_or_region_stays():
    err = psql_fails("DELETE FROM household WHERE id = 1")
    check("household 1 is still referenced from national" in err, err)
    err = psql_fails("DELETE FROM region WHERE id = 1")
    check("region 1 is still referenced from national" in err, err)
    cluster.psql(DB, "DELETE FROM household WHERE id = 2")
    expect_equal(cluster.psql(DB, "SELECT string_agg(id::text, ',') FROM household"), "1",
                 "the household nobody is in went")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM region"), "1", "regions")


def an_assignee_is_checked_where_set():
    # Statuses of people nobody is assigned to are not checked at all; an
    # assignee who is not a staff user is refused, and a staff user still
    # assigned to someone stays.
    uid = cluster.psql(DB, "INSERT INTO staff_user (username, role, mission_id, password_hash)"
                           " VALUES ('caller', 'mission_staff', 1, '$scrypt$x') RETURNING id")
    err = psql_fails("UPDATE person_status SET assigned_to = 999999 WHERE national_id = 1")
    check("person_status.assigned_to = 999999 is not in staff_user" in err, err)
    cluster.psql(DB, "UPDATE person_status SET assigned_to = %s WHERE national_id = 1" % uid)
    err = psql_fails("DELETE FROM staff_user WHERE id = %s" % uid)
    check("staff_user %s is still referenced from person_status" % uid in err, err)
    cluster.psql(DB, "UPDATE person_status SET assigned_to = NULL WHERE national_id = 1")
    cluster.psql(DB, "DELETE FROM staff_user WHERE id = %s" % uid)
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM staff_user WHERE id = %s" % uid), "0", "unassigned user removed")


def a_removed_national_takes_their_rows():
    before = cluster.psql(DB, "SELECT sum(n) FROM status_count WHERE crisis_id = 1")
    expect_equal(rows_of(4), "1,1,1,1", "national 4 before")
    expect_equal(registry_rows_of(4), "1,1", "national 4's contact and location before")
    cluster.psql(DB, "DELETE FROM national WHERE id = 4")
    expect_equal(rows_of(4), "0,0,0,0", "national 4 after")
    expect_equal(registry_rows_of(4), "0,0", "national 4's contact and location after")
    expect_equal(rows_of(3), "1,1,1,1", "national 3 untouched")
    expect_equal(registry_rows_of(3), "1,1", "national 3's contact and location untouched")
    after = cluster.psql(DB, "SELECT sum(n) FROM status_count WHERE crisis_id = 1")
    expect_equal(int(after), int(before) - 1, "counts follow")


def an_insert_before_a_delete_is_cascaded():
    # The reply is in but not committed when the national is removed: the
    # delete waits for it and takes it along.
    writer = background()
    writer.stdin.write("BEGIN;\nINSERT INTO response (crisis_id, national_id, mission_id, channel, status)"
                       " VALUES (1, 3, 1, 'web', 'safe');\nSELECT pg_sleep(1.5);\nCOMMIT;\n")
    writer.stdin.flush()
    time.sleep(0.5)
    started = time.time()
    cluster.psql(DB, "DELETE FROM national WHERE id = 3")
    waited = time.time() - started
    _, err = writer.communicate(timeout=20)
    expect_equal(writer.returncode, 0, "the reply committed: " + err)
    check(waited > 0.5, "the delete did not wait for the insert (%.2fs)" % waited)
    expect_equal(rows_of(3), "0,0,0,0", "no orphan of national 3")


def a_delete_of_nobody_waits_for_no_writer():
    # The retention timer's deletes usually remove nobody; they must not
    # queue behind (or hold up) writers of the tables they guard. A writer
    # keeps its transaction open while nobody is deleted from national,
    # household and region with a lock timeout.
    writer = background()
    writer.stdin.write("BEGIN;\nINSERT INTO response (crisis_id, national_id, mission_id, channel, status)"
                       " VALUES (1, 2, 1, 'web', 'safe');\nUPDATE national SET notes = notes WHERE id = 2;\n"
                       "SELECT pg_sleep(3);\nCOMMIT;\n")
    writer.stdin.flush()
    time.sleep(0.5)
    started = time.time()
    cluster.psql(DB, "SET lock_timeout = '1s'; DELETE FROM national WHERE id = -1;"
                     " DELETE FROM household WHERE id = -1; DELETE FROM region WHERE id = -1")
    waited = time.time() - started
    _, err = writer.communicate(timeout=20)
    expect_equal(writer.returncode, 0, "the writer committed: " + err)
    check(waited < 1, "a delete of nobody waited %.2fs for the writer" % waited)


def an_insert_after_a_delete_is_refused():
    # The national is removed but not committed when a check-in is written
    # for them: the insert waits, then finds them gone.
    deleter = background()
    deleter.stdin.write("BEGIN;\nDELETE FROM national WHERE id = 2;\nSELECT pg_sleep(1.5);\nCOMMIT;\n")
    deleter.stdin.flush()
    time.sleep(0.5)
    err = psql_fails("INSERT INTO response (crisis_id, national_id, mission_id, channel, status)"
                     " VALUES (1, 2, 1, 'web', 'safe')")
    check("response.national_id = 2 is not in national" in err, err)
    _, derr = deleter.communicate(timeout=20)
    expect_equal(deleter.returncode, 0, "the delete committed: " + derr)
    expect_equal(rows_of(2), "0,0,0,0", "no orphan of national 2")
    expect_equal(rows_of(1), "1,1,1,1", "national 1 untouched")


def a_contact_after_a_delete_is_refused():
    # The same race for the registry: a phone added for someone being removed.
    deleter = background()
    deleter.stdin.write("BEGIN;\nDELETE FROM national WHERE id = 1;\nSELECT pg_sleep(1.5);\nCOMMIT;\n")
    deleter.stdin.flush()
    time.sleep(0.5)
    err = psql_fails("INSERT INTO contact (national_id, kind, value) VALUES (1, 'phone', '+905329999999')")
    check("contact.national_id = 1 is not in national" in err, err)
    _, derr = deleter.communicate(timeout=20)
    expect_equal(deleter.returncode, 0, "the delete committed: " + derr)
    expect_equal(registry_rows_of(1), "0,0", "no orphan contact or location of national 1")


def a_check_in_carries_the_region_its_person_was_asked_in():
    # A resident is counted in their region, someone without one in none, and
    # a traveller in the region of the day's itinerary leg, not of their home;
    # a check-in made without a region takes the registry's.
    cluster.psql(DB, """
SET ROLE safety;
INSERT INTO region (mission_id, code, name, area)
	VALUES (1, 'TR-31', 'Hatay', ST_Multi(ST_MakeEnvelope(35, 36, 36, 37, 4326))::geography);
INSERT INTO national (mission_id, name_latin, region_id, last_point, last_point_at) VALUES
	(1, 'RESIDENT', 1, 'SRID=4326;POINT(35.5 36.5)', now()),
	(1, 'NO REGION', NULL, 'SRID=4326;POINT(35.5 36.5)', now()),
	(1, 'BRACES {crisis}', NULL, 'SRID=4326;POINT(35.5 36.5)', now());
INSERT INTO national (mission_id, name_latin, region_id, kind, arrival_date, departure_date)
	VALUES (1, 'TRAVELLER', 1, 'traveller', current_date - 1, current_date + 5);
INSERT INTO itinerary_leg (national_id, seq, country, region_id, point, arrival, departure)
	SELECT n.id, 1, 'TR', r.id, 'SRID=4326;POINT(35.6 36.4)', current_date - 1, current_date + 5
	FROM national n, region r WHERE n.name_latin = 'TRAVELLER' AND r.code = 'TR-31';
INSERT INTO contact (national_id, kind, value) SELECT id, 'phone', '+9053299900' || id FROM national
	WHERE name_latin IN ('RESIDENT', 'NO REGION', 'TRAVELLER', 'BRACES {crisis}');
INSERT INTO crisis (kind, title, area)
	VALUES ('earthquake', 'Hatay', ST_Multi(ST_MakeEnvelope(35, 36, 36, 37, 4326))::geography);
INSERT INTO crisis_mission SELECT id, 1 FROM crisis WHERE title = 'Hatay';
INSERT INTO campaign (crisis_id, mission_id, templates, channels)
	SELECT id, 1, '{"en": "{name}, are you safe? {link}"}', '{sms}' FROM crisis WHERE title = 'Hatay';
SELECT campaign_launch(max(id)) FROM campaign;
""")

    def regions(table, crisis):
        return cluster.psql(DB, "SELECT string_agg(n.name_latin || '=' || coalesce(r.code, t.region_id::text, '-'), ','"
                                " ORDER BY n.name_latin) FROM %s t JOIN national n ON n.id = t.national_id"
                                " LEFT JOIN region r ON r.id = t.region_id WHERE t.crisis_id = %s"
                                " AND n.name_latin IN ('RESIDENT', 'NO REGION', 'TRAVELLER')" % (table, crisis))
    hatay = "(SELECT id FROM crisis WHERE title = 'Hatay')"
    expect_equal(regions("checkin", hatay), "NO REGION=0,RESIDENT=TR-27,TRAVELLER=TR-31", "check-ins")
    expect_equal(regions("person_status", hatay), "NO REGION=-,RESIDENT=TR-27,TRAVELLER=TR-31", "statuses")
    expect_equal(cluster.psql(DB, "SELECT string_agg(coalesce(r.code, '-') || '=' || s.n, ',' ORDER BY r.code)"
                                  " FROM status_count s LEFT JOIN region r ON r.id = nullif(s.region_id, 0)"
                                  " WHERE s.crisis_id = %s AND s.status = 'pending'" % hatay),
                 "TR-27=1,TR-31=1,-=2", "pending counted by region")
    # Pending statuses stay out of the index by status; a count of people
    # needing help (the feed's) still finds them through it.
    plan = cluster.psql(DB, "SET enable_seqscan = off; EXPLAIN SELECT count(*) FROM person_status p"
                            " WHERE p.crisis_id = 1 AND p.mission_id = 1"
                            " AND p.status IN ('needs_help', 'injured', 'needs_evacuation')")
    check("person_status_list" in plan, plan)
    # Each language's message is rendered once, the name put in last: braces
    # in a name are not a placeholder.
    # (The link's place is kept as a marker no name can hold, shown here as {link}.)
    expect_equal(cluster.psql(DB, "SELECT string_agg(replace(o.body, chr(31) || 'LINK' || chr(31), '{link}'),"
                                  " ' | ' ORDER BY n.name_latin) FROM outbox o"
                                  " JOIN national n ON n.id = o.national_id WHERE o.crisis_id = %s"
                                  " AND n.name_latin IN ('BRACES {crisis}', 'RESIDENT')" % hatay),
                 "BRACES {crisis}, are you safe? {link} | RESIDENT, are you safe? {link}", "messages")
    cluster.psql(DB, "INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)"
                     " SELECT 1, id, 1, 1, now() FROM national WHERE name_latin IN ('RESIDENT', 'NO REGION')")
    expect_equal(regions("person_status", 1), "NO REGION=-,RESIDENT=TR-27",
                 "a check-in without a region: the registry's")


try:
    setup()
    run([missing_keys_are_refused_by_name, error_code_is_foreign_key_violation, a_referenced_crisis_stays,
         a_used_household_or_region_stays, an_assignee_is_checked_where_set, a_removed_national_takes_their_rows, an_insert_before_a_delete_is_cascaded,
         a_delete_of_nobody_waits_for_no_writer,
         an_insert_after_a_delete_is_refused, a_contact_after_a_delete_is_refused,
         a_check_in_carries_the_region_its_person_was_asked_in])
finally:
    cluster.dropdb(DB)
