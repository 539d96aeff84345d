"""PFIF 1.4 with partners: nothing leaves before a mission lead releases it,
and then only the fields released; the export validates against the PFIF
1.4 schema; a partner's notes about our people come back as answers with
their source, once, and only for the importer's own mission; Person
Finder's own files import without harm; broken files are refused with a
reason."""

import os
import re
import subprocess
import tempfile
import time

from harness import PG_SH, Cluster, Daemon, Session, check, ctl, expect_equal, record_secret, run

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RNC = os.path.join(SOURCE, "tests", "data", "feed", "pfif-1.4.rnc")
PF_DATA = os.path.join(SOURCE, "tests", "data", "pfif")

cluster = Cluster.shared()
DB = "t_pfif"
PASSWORD = record_secret("Antakya-Kuruyer-2026")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
for code in ("TR-ANK", "TR-IST"):
    expect_equal(ctl(conninfo, "mission", "add", code, "--name", "Embassy " + code, "--country", "TR").returncode, 0, code)
cluster.psql(DB, """
SET ROLE safety;
INSERT INTO national (mission_id, name_latin, name_ko, name_key, birth_date, passport_no, last_point)
  SELECT CASE WHEN i <= 4 THEN 1 ELSE 2 END, 'KIM PERSON' || i, '김' || i, 'p' || i, date '1990-06-01', 'M1234567' || i,
         ST_SetSRID(ST_MakePoint(36.1, 36.2), 4326)::geography
  FROM generate_series(1, 6) i;
INSERT INTO crisis (kind, title, center, radius_m) VALUES ('earthquake', 'Hatay', ST_SetSRID(ST_MakePoint(36.1, 36.2), 4326)::geography, 50000);
INSERT INTO crisis_mission VALUES (1, 1), (1, 2);
INSERT INTO campaign (crisis_id, mission_id, templates, channels) VALUES (1, 1, '{"en": "x {link}"}', '{sms}'), (1, 2, '{"en": "x {link}"}', '{sms}');
INSERT INTO checkin (crisis_id, national_id, mission_id, campaign_id, next_ask_at)
  SELECT 1, id, mission_id, mission_id, now() + interval '1 hour' FROM national;
""")
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}, "server": {"public_url": "https://safety.example.org"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
for name, mission in (("lead-a", "TR-ANK"), ("lead-b", "TR-IST")):
    expect_equal(ctl(conninfo, "user", "add", name, "--role", "mission_lead", "--mission", mission, "--password-file", pwfile).returncode, 0, name)
lead_a, lead_b = Session(d, "lead-a", PASSWORD), Session(d, "lead-b", PASSWORD)


def key(name, *extra):
    r = ctl(conninfo, "apikey", "create", name, "--scope", "feed:read", *extra)
    expect_equal(r.returncode, 0, r.stderr)
    return {"Authorization": "Bearer " + record_secret(r.stdout.strip())}


HQ, IST = key("hq"), key("istanbul", "--mission", "TR-IST")
for nid, status, msg in ((1, "needs_help", "leg trapped, Defne"), (2, "safe", "ok"), (5, "safe", "fine")):
    lead = lead_a if nid <= 4 else lead_b
    expect_equal(lead.post("/api/v1/crises/1/responses", {"national_id": nid, "status": status, "message": msg}).status, 201, "entry")
expect_equal(lead_a.post("/api/v1/crises/1/responses", {"national_id": 3, "status": "missing"}).status, 201, "missing")


def export(headers=HQ, query=""):
    r = d.get("/feed/v1/pfif?crisis=1" + query, headers=headers)
    expect_equal(r.status, 200, r.body)
    return r.body


def validate(xml):
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
    rng = f.name + ".rng"
    with open(rng, "w") as out:
        subprocess.run(["rnc2rng", RNC], stdout=out, check=True)
    r = subprocess.run(["xmllint", "--noout", "--relaxng", rng, f.name], capture_output=True, text=True)
    os.unlink(rng)
    os.unlink(f.name)
    expect_equal(r.returncode, 0, r.stderr[-1500:] + "\n" + xml[:1500])


def persons(xml):
    return re.findall(r"<pfif:person>\s*<pfif:person_record_id>safety\.example\.org/person\.(\d+)<", xml)


def nothing_leaves_before_a_release():
    xml = export()
    validate(xml)
    expect_equal(persons(xml), [], "no person before a release")
    expect_equal(lead_a.request("PUT", "/api/v1/crises/1/pfif-release", {"fields": ["passport_no"]}).status, 400, "unknown field")
    expect_equal(lead_a.request("PUT", "/api/v1/crises/1/pfif-release", {"fields": "status"}).status, 400, "not a list")
    expect_equal(d.get("/feed/v1/pfif", headers=HQ).status, 400, "crisis required")
    expect_equal(d.get("/feed/v1/pfif?crisis=1&max_results=99999", headers=HQ).status, 400, "page too large")
    # Paging beyond what the database's integers hold is answered by the route, not by PostgreSQL.
    for query, name in (("max_results=4294967297", "max_results"), ("max_results=0", "max_results"),
                        ("max_results=-1", "max_results"), ("max_results=x", "max_results"),
                        ("skip=99999999999", "skip"), ("skip=-1", "skip"), ("skip=1e3", "skip"),
                        ("skip=" + "9" * 40, "skip")):
        r = d.get("/feed/v1/pfif?crisis=1&" + query, headers=HQ)
        expect_equal(r.status, 400, query + ": " + r.body)
        check(name + ": a whole number from" in r.body and "integer" not in r.body, query + ": " + r.body)
    expect_equal(d.get("/feed/v1/pfif?crisis=1&max_results=5000&skip=2147483647", headers=HQ).status, 200, "the limits")
    expect_equal(d.get("/feed/v1/pfif?crisis=77", headers=HQ).status, 404, "no such crisis")


def a_release_exports_exactly_what_was_released():
    r = lead_a.request("PUT", "/api/v1/crises/1/pfif-release", {"fields": ["status", "age", "home_country"]})
    expect_equal(r.status, 200, r.body)
    expect_equal(r.json()["fields"], ["age", "home_country", "status"], "fields stored")
    check("pfif.release" in cluster.psql(DB, "SELECT string_agg(action, ',') FROM audit_log"), "audited")
    xml = export()
    validate(xml)
    expect_equal(sorted(persons(xml)), ["1", "2", "3", "4"], "mission A's people; B released nothing")
    check("<pfif:full_name>KIM PERSON1</pfif:full_name>" in xml and "<pfif:alternate_names>김1</pfif:alternate_names>" in xml, "names")
    check("<pfif:home_country>TR</pfif:home_country>" in xml and re.search(r"<pfif:age>\d+</pfif:age>", xml), "age, country")
    for private in ("M12345671", "leg trapped", "36.2", "passport"):
        check(private not in xml, "%r must not leave" % private)
    note1 = re.search(r"<pfif:note>(?:(?!</pfif:note>).)*person\.1</pfif:person_record_id>(?:(?!</pfif:note>).)*</pfif:note>", xml, re.S).group(0)
    check("<pfif:status>believed_alive</pfif:status>" in note1 and "<pfif:author_made_contact>true" in note1, note1)
    check("<pfif:text>Status with the embassy: needs_help.</pfif:text>" in note1, "text not released: the status only")
    check(re.search(r"person\.3</pfif:person_record_id>(?:(?!</pfif:note>).)*believed_missing", xml, re.S), "missing")
    check(re.search(r"person\.4</pfif:person_record_id>(?:(?!</pfif:note>).)*information_sought", xml, re.S), "pending")
    # More fields when the lead releases them; pages.
    lead_a.request("PUT", "/api/v1/crises/1/pfif-release", {"fields": ["status", "answer_text", "location"]})
    xml = export()
    validate(xml)
    check("leg trapped, Defne" in xml and "<pfif:last_known_location>36.20000,36.10000" in xml, "text and place released")
    expect_equal(persons(export(query="&max_results=2&skip=2")), ["3", "4"], "second page")


def repeated_fields_and_non_xml_characters_are_harmless():
    """A field named forty times is released once; a U+FFFF in an answer does not break the export."""
    r = lead_a.request("PUT", "/api/v1/crises/1/pfif-release", {"fields": ["answer_text"] * 40 + ["status"]})
    expect_equal(r.status, 200, r.body)
    expect_equal(sorted(r.json()["fields"]), ["answer_text", "status"], "each once")
    expect_equal(d.get("/healthz").status, 200, "the daemon lives")
    expect_equal(lead_a.post("/api/v1/crises/1/responses", {"national_id": 2, "status": "safe",
                                                            "message": "ok \uffff\ufffe thanks"}).status, 201, "entry")
    xml = export()
    validate(xml)
    check(re.search(r"ok +thanks", xml) and "\uffff" not in xml and "\ufffe" not in xml,
          "the message, its non-characters gone")
    lead_a.request("PUT", "/api/v1/crises/1/pfif-release", {"fields": ["status", "answer_text", "location"]})


def mission_keys_see_only_their_released_mission():
    xml = export(IST)
    expect_equal(persons(xml), [], "Istanbul released nothing and never sees Ankara's")
    r = lead_b.request("PUT", "/api/v1/crises/1/pfif-release", {"fields": ["status"]})
    expect_equal(r.status, 200, r.body)
    expect_equal(sorted(persons(export(IST))), ["5", "6"], "its own people only")
    expect_equal(sorted(persons(export())), ["1", "2", "3", "4", "5", "6"], "HQ sees both releases")
    r = lead_b.request("DELETE", "/api/v1/crises/1/pfif-release")
    expect_equal(r.status, 200, r.body)
    expect_equal(persons(export(IST)), [], "withdrawn")


def partner_notes_come_back_once_with_their_source():
    xml = export()
    partner = xml.replace("</pfif:pfif>", """  <pfif:note>
    <pfif:note_record_id>partner.example.org/note.1</pfif:note_record_id>
    <pfif:person_record_id>safety.example.org/person.4</pfif:person_record_id>
    <pfif:author_name>Hatay Red Crescent</pfif:author_name>
    <pfif:source_date>2026-11-27T10:00:00Z</pfif:source_date>
    <pfif:author_made_contact>true</pfif:author_made_contact>
    <pfif:status>believed_alive</pfif:status>
    <pfif:last_known_location>36.2021, 36.1603</pfif:last_known_location>
    <pfif:text>Seen at the Defne shelter, unhurt</pfif:text>
  </pfif:note>
  <pfif:note>
    <pfif:note_record_id>partner.example.org/note.2</pfif:note_record_id>
    <pfif:person_record_id>safety.example.org/person.5</pfif:person_record_id>
    <pfif:author_name>Hatay Red Crescent</pfif:author_name>
    <pfif:source_date>2026-11-27T10:00:00Z</pfif:source_date>
    <pfif:status>believed_dead</pfif:status>
    <pfif:text>Another mission's person</pfif:text>
  </pfif:note>
</pfif:pfif>""").encode()
    h = {"Content-Type": "application/xml"}
    r = lead_a.post("/api/v1/crises/1/pfif", partner, headers=h)
    expect_equal(r.status, 200, r.body)
    res = r.json()
    expect_equal((res["stored"], res["own_notes"], res["not_in_crisis"]), (1, 4, 1), res)
    row = cluster.psql(DB, "SELECT channel, sender, raw_text, ST_Y(point::geometry)::numeric(8,4) FROM response WHERE national_id = 4 AND channel = 'pfif'")
    expect_equal(row, "pfif|Hatay Red Crescent|[PFIF Hatay Red Crescent, believed_alive] Seen at the Defne shelter, unhurt|36.2021", "stored with its source")
    expect_equal(cluster.psql(DB, "SELECT status, needs_review FROM person_status WHERE crisis_id = 1 AND national_id = 4"),
                 "pending|t", "a partner's word asks staff to confirm; it sets no status")
    r = lead_a.post("/api/v1/crises/1/pfif", partner, headers=h)
    expect_equal((r.json()["stored"], r.json()["duplicates"]), (0, 1), "the same file twice is stored once")
    check("pfif.import" in cluster.psql(DB, "SELECT string_agg(action, ',') FROM audit_log"), "audited")


def note(nid, note_id, date, text, status="believed_alive", where=None):
    return ("""<?xml version="1.0" encoding="UTF-8"?>
<pfif:pfif xmlns:pfif="http://zesty.ca/pfif/1.4">
  <pfif:note>
    <pfif:note_record_id>partner.example.org/%s</pfif:note_record_id>
    <pfif:person_record_id>safety.example.org/person.%d</pfif:person_record_id>
    <pfif:author_name>Partner volunteer</pfif:author_name>
    <pfif:source_date>%s</pfif:source_date>
    <pfif:author_made_contact>true</pfif:author_made_contact>
    <pfif:status>%s</pfif:status>%s
    <pfif:text>%s</pfif:text>
  </pfif:note>
</pfif:pfif>""" % (note_id, nid, date, status,
                   "\n    <pfif:last_known_location>%s</pfif:last_known_location>" % where if where else "",
                   text)).encode()


XML = {"Content-Type": "application/xml"}


def note_of(xml, nid):
    return re.search(r"<pfif:note>(?:(?!</pfif:note>).)*person\.%d</pfif:person_record_id>(?:(?!</pfif:note>).)*</pfif:note>"
                     % nid, xml, re.S).group(0)


def a_partner_note_is_never_exported_as_the_missions_word():
    """Person 4 never answered: a partner's note about them (now their newest answer) is not served
    back as the embassy's note, nor as contact made."""
    r = lead_a.post("/api/v1/crises/1/pfif", note(4, "taken", "2026-11-28T10:00:00Z",
                                                  "Neighbour says he was taken away", "believed_missing", "36.5, 36.6"),
                    headers=XML)
    expect_equal(r.json()["stored"], 1, r.body)
    lead_a.request("PUT", "/api/v1/crises/1/pfif-release", {"fields": ["status", "answer_text", "location"]})
    xml = export()
    validate(xml)
    n4 = note_of(xml, 4)
    check("taken away" not in n4 and "Defne shelter" not in n4 and "36.5" not in n4, n4)
    check("<pfif:author_made_contact>false" in n4, n4)
    check("<pfif:last_known_location>36.20000,36.10000" in n4, "the registered place: " + n4)
    n1 = note_of(xml, 1)
    check("leg trapped, Defne" in n1 and "<pfif:author_made_contact>true" in n1, "staff's entry of the person's call: " + n1)
    # The person's own message, once it comes, is what the note says.
    expect_equal(lead_a.post("/api/v1/crises/1/responses", {"national_id": 4, "status": "safe",
                                                            "message": "I am fine, at home"}).status, 201, "entry")
    cluster.psql(DB, "UPDATE response SET channel = 'sms' WHERE national_id = 4 AND raw_text = 'I am fine, at home'")
    n4 = note_of(export(), 4)
    check("I am fine, at home" in n4 and "<pfif:author_made_contact>true" in n4, n4)
    # A missing decision of staff is no contact made.
    check("<pfif:author_made_contact>false" in note_of(xml, 3), note_of(xml, 3))


def staff_decisions_are_never_exported_as_the_persons_word():
    """A staff decision's note and place are internal: the note says the person's own newest
    answer (relayed by staff or not), else only the status with the embassy."""
    for nid, status, where in ((3, "deceased", (36.3, 36.4)), (1, "evacuated", (36.7, 36.8))):
        r = lead_a.post("/api/v1/crises/1/responses", {"national_id": nid, "status": status,
                                                       "message": "INTERNAL: morgue 3, family NOT yet informed",
                                                       "lat": where[0], "lon": where[1]})
        expect_equal(r.status, 201, r.body)
    lead_a.request("PUT", "/api/v1/crises/1/pfif-release", {"fields": ["status", "answer_text", "location"]})
    xml = export()
    validate(xml)
    check("INTERNAL" not in xml and "36.3" not in xml and "36.7" not in xml and "36.8" not in xml,
          "no decision's note or place: " + xml)
    n3 = note_of(xml, 3)
    check("<pfif:status>believed_dead</pfif:status>" in n3 and
          "<pfif:text>Status with the embassy: deceased.</pfif:text>" in n3 and
          "<pfif:last_known_location>36.20000,36.10000" in n3, "never answered: the status and registered place: " + n3)
    n1 = note_of(xml, 1)
    check("<pfif:text>leg trapped, Defne</pfif:text>" in n1 and "<pfif:author_made_contact>true" in n1,
          "the person's own newest answer: " + n1)


def a_decision_for_someone_who_never_answered_has_no_answer_time():
    """Person 3 never answered; staff's decisions leave the answer times empty (not 1970),
    and the note is dated by the decision."""
    expect_equal(cluster.psql(DB, "SELECT status, answered_at IS NULL, own_at IS NULL, proxy_at IS NULL "
                                  "FROM person_status WHERE crisis_id = 1 AND national_id = 3"),
                 "deceased|t|t|t", "no answer time")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM person_status WHERE answered_at < '2000-01-01' "
                                  "OR own_at < '2000-01-01' OR proxy_at < '2000-01-01'"), "0", "no 1970 anywhere")
    n3 = note_of(export(), 3)
    check("<pfif:source_date>1970" not in n3 and "<pfif:source_date>20" in n3, n3)


def a_note_dated_in_the_future_does_not_hold_the_review():
    r = lead_a.post("/api/v1/crises/1/pfif", note(2, "future", "2099-01-01T00:00:00Z", "seen at the shelter"), headers=XML)
    expect_equal(r.json()["stored"], 1, r.body)
    expect_equal(cluster.psql(DB, "SELECT raw_text, received_at <= now() FROM response WHERE provider_ref = "
                                  "'pfif:partner.example.org/future'"),
                 "[PFIF Partner volunteer, believed_alive, dated 2099-01-01T00:00:00Z] seen at the shelter|t",
                 "the date kept as text, the time the import's")
    expect_equal(cluster.psql(DB, "SELECT answered_at <= now(), needs_review FROM person_status WHERE crisis_id = 1 "
                                  "AND national_id = 2"), "t|t", "on the review list")
    # Staff's decision after the note has read it: no review left (a 2099 date would hold it for ever).
    expect_equal(lead_a.post("/api/v1/crises/1/responses", {"national_id": 2, "status": "evacuated"}).status, 201, "staff")
    expect_equal(cluster.psql(DB, "SELECT status, needs_review FROM person_status WHERE crisis_id = 1 AND national_id = 2"),
                 "evacuated|f", "staff's decision takes them off the list")
    r = lead_a.post("/api/v1/crises/1/pfif", note(2, "ancient", "1970-01-02T00:00:00Z", "old"), headers=XML)
    expect_equal(r.json()["stored"], 1, r.body)
    expect_equal(cluster.psql(DB, "SELECT raw_text LIKE '%dated 1970-01-02T00:00:00Z]%', received_at > now() - "
                                  "interval '1 minute' FROM response WHERE provider_ref = 'pfif:partner.example.org/ancient'"),
                 "t|t", "an implausible date is not taken either")


def long_note_ids_stay_distinct():
    long = "n" * 250
    for suffix, text in (("A", "first"), ("B", "second, another note")):
        r = lead_a.post("/api/v1/crises/1/pfif", note(2, long + suffix, "2026-11-28T00:00:00Z", text), headers=XML)
        expect_equal((r.json()["stored"], r.json()["duplicates"]), (1, 0), suffix + ": " + r.body)
    r = lead_a.post("/api/v1/crises/1/pfif", note(2, long + "B", "2026-11-28T00:00:00Z", "second, another note"), headers=XML)
    expect_equal((r.json()["stored"], r.json()["duplicates"]), (0, 1), "the same long note again: " + r.body)
    expect_equal(cluster.psql(DB, "SELECT count(*), max(length(provider_ref)) <= 200 FROM response "
                                  "WHERE provider_ref LIKE 'pfif:partner.example.org/nnnn%'"), "2|t", "two notes")


def person_finder_files_import_without_harm():
    h = {"Content-Type": "application/xml"}
    for name in sorted(os.listdir(PF_DATA)):
        if not name.endswith(".xml"):
            continue
        with open(os.path.join(PF_DATA, name), "rb") as f:
            r = lead_a.post("/api/v1/crises/1/pfif", f.read(), headers=h)
        expect_equal(r.status, 200, name + ": " + r.body)
        res = r.json()
        expect_equal(res["stored"], 0, name)
        check(res["notes"] >= 1 and res["not_our_people"] == res["notes"], "%s: %r" % (name, res))
    bad = [("not xml", "text/xml", 400, "not well-formed"),
           ('<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><p>&x;</p>', "application/xml", 400, "DOCTYPE"),
           ('<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>', "application/xml", 400, "root element must be pfif"),
           ("<pfif/>", "application/json", 415, "application/xml")]
    for body, ctype, status, words in bad:
        r = lead_a.post("/api/v1/crises/1/pfif", body, headers={"Content-Type": ctype})
        expect_equal(r.status, status, r.body)
        check(words in r.body, r.body)


def an_import_stored_while_the_audit_waits_is_audited_and_answered():
    """The audit chain held past the query timeout: the stored notes are answered 200 with
    the import audited, never 503 "retry" for notes already stored."""
    d2 = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"},
                                    "server": {"public_url": "https://safety.example.org"},
                                    "database": {"query_timeout_ms": "1000"}}).start()
    try:
        s = Session(d2, "lead-a", PASSWORD)
        audits = "SELECT count(*) FROM audit_log WHERE action = 'pfif.import'"
        before = int(cluster.psql(DB, audits))
        holder = subprocess.Popen([PG_SH, "psql", cluster.dir, "-d", DB, "-At", "-c",
                                   "SELECT pg_advisory_lock(7311520011); SELECT pg_sleep(3);"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            r = s.post("/api/v1/crises/1/pfif", note(1, "held", "2026-11-28T00:00:00Z", "seen"), headers=XML)
        finally:
            holder.wait()
        expect_equal(cluster.psql(DB, "SELECT count(*) FROM response WHERE provider_ref = "
                                      "'pfif:partner.example.org/held'"), "1", "stored")
        expect_equal(int(cluster.psql(DB, audits)) - before, 1, "audited")
        expect_equal(r.status, 200, r.body)
        expect_equal(r.json()["stored"], 1, r.body)
    finally:
        d2.stop()


def an_admins_release_or_import_is_audited_for_its_mission_only():
    """A crisis is shared: an admin's release for mission B, and an import of notes about B's
    people, are B's audit rows, not shown to A's lead."""
    expect_equal(ctl(conninfo, "user", "add", "admin", "--role", "admin", "--password-file", pwfile).returncode, 0,
                 "admin")
    admin = Session(d, "admin", PASSWORD)
    # A mission id that is not a whole id is refused, never read as mission 1 or 2.
    for bad in (1.5, 2.9, 0, -1, 1e300, "2", None):
        r = admin.request("PUT", "/api/v1/crises/1/pfif-release", {"mission_id": bad, "fields": ["status"]})
        expect_equal((r.status, r.json()["detail"]), (400, "mission_id: a mission's id"), "mission_id %r" % (bad,))
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM audit_log WHERE actor = 'admin' AND action LIKE 'pfif.%'"), "0",
                 "nothing released")
    r = admin.request("PUT", "/api/v1/crises/1/pfif-release", {"mission_id": 2, "fields": ["status"]})
    expect_equal(r.status, 200, r.body)
    r = admin.post("/api/v1/crises/1/pfif", note(5, "about-b", "2026-11-28T10:00:00Z", "seen in Istanbul"),
                   headers=XML)
    expect_equal(r.json()["stored"], 1, r.body)

    def admins_pfif_rows(lead):
        items = lead.get("/api/v1/audit?limit=500").json()["items"]
        return sorted(i["action"] for i in items if i["actor"] == "admin" and i["action"].startswith("pfif"))

    expect_equal(admins_pfif_rows(lead_a), [], "A's lead sees none of B's")
    expect_equal(admins_pfif_rows(lead_b), ["pfif.import", "pfif.release"], "B's lead sees both")
    expect_equal(cluster.psql(DB, "SELECT string_agg(DISTINCT coalesce(mission_id::text, 'none'), ',') FROM audit_log "
                                  "WHERE actor = 'admin' AND action LIKE 'pfif.%'"), "2", "B's rows")


try:
    run([nothing_leaves_before_a_release, a_release_exports_exactly_what_was_released,
         repeated_fields_and_non_xml_characters_are_harmless,
         mission_keys_see_only_their_released_mission, partner_notes_come_back_once_with_their_source,
         a_partner_note_is_never_exported_as_the_missions_word,
         staff_decisions_are_never_exported_as_the_persons_word,
         a_decision_for_someone_who_never_answered_has_no_answer_time, a_note_dated_in_the_future_does_not_hold_the_review,
         long_note_ids_stay_distinct, person_finder_files_import_without_harm,
         an_import_stored_while_the_audit_waits_is_audited_and_answered,
         an_admins_release_or_import_is_audited_for_its_mission_only])
finally:
    d.stop()
