/*
 * The import merge. Good rows go to a temporary table with one COPY; every
 * later step is one statement over the whole batch, so a 100,000-row file
 * costs a handful of statements, not 100,000 round trips. Re-importing the
 * same file matches every row and changes nothing.
 */
#include "registry_import.h"

#include "pg_array.h"
#include "xmalloc.h"

#include <safety/error.h>
#include <safety/name.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The household id of a staged row's "#id" household cell, else NULL. */
#define IMPORT_HOUSEHOLD_ID                                                                        \
	"(CASE WHEN s.household_ref ~ '^#[0-9]{1,18}$' THEN substr(s.household_ref, 2)::bigint "   \
	"END)"

/*
 * Stored person n has the names of staged row s2: the same, or one of the two
 * when the other is missing on one side (keys are space-separated, one per name).
 */
#define IMPORT_NAMES_MATCH                                                                         \
	"(n.name_key = s2.name_key "                                                               \
	"OR string_to_array(n.name_key, ' ') @> string_to_array(s2.name_key, ' ') "                \
	"OR string_to_array(n.name_key, ' ') <@ string_to_array(s2.name_key, ' '))"

/*
 * Stored person n and staged row s share at least one name (the key of one
 * of the two), the least a passport or an id needs to be believed; a stored
 * key that is empty says nothing either way.
 */
#define IMPORT_NAMES_SHARED                                                                        \
	"(n.name_key = '' OR string_to_array(n.name_key, ' ') && string_to_array(s.name_key, ' "   \
	"'))"

/*
 * A stored text as the parser would have read it (import_text): white space
 * trimmed, each run of it one space (one line break in notes, when it holds
 * one), NFC. Text stored through the API keeps the tabs, line ends and
 * spaces typed; compared this way, its own export reads back unchanged.
 * chr(1), which no stored text holds, marks the line breaks meanwhile.
 */
#define IMPORT_SPACE                                                                               \
	"[[:space:]\\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
#define IMPORT_AS_READ(col)                                                                        \
	"normalize(btrim(regexp_replace(" col ", '" IMPORT_SPACE "+', ' ', 'g'), ' '), NFC)"
#define IMPORT_AS_READ_LINES(col)                                                                  \
	"normalize(btrim(replace(regexp_replace(regexp_replace(" col ", '" IMPORT_SPACE            \
	"*[\\n\\u2028\\u2029]" IMPORT_SPACE "*', chr(1), 'g'), '" IMPORT_SPACE "+', ' ', 'g'), "   \
	"chr(1), E'\\n'), E' \\n'), NFC)"
#define IMPORT_READ_ADDRESS IMPORT_AS_READ("n.address")
#define IMPORT_READ_STATUS IMPORT_AS_READ("n.residence_status")
#define IMPORT_READ_NOTES IMPORT_AS_READ_LINES("n.notes")

static const char import_staging_sql[] =
    "CREATE TEMP TABLE import_row ("
    " line integer, name_ko text, name_latin text, name_key text, birth_date date,"
    " passport_no text, kind text, arrival_date date, departure_date date,"
    " household_ref text, needs text[], languages text[], address text,"
    " residence_status text, notes text, external_ref text, phones text[], emails text[],"
    " lat double precision, lon double precision,"
    /* The national an export's id column names (national_ids), else NULL. */
    " nid bigint) ON COMMIT DROP";

/*
 * Statistics after the COPY, so the merge joins are planned as hash joins;
 * only of the columns the joins and groupings read (all of them took a third
 * of a second per 100,000 rows).
 */
static const char *const import_prepare_steps[] = {
    "ANALYZE import_row (line, passport_no, household_ref, name_key, birth_date)",
    "CREATE TEMP TABLE import_household (id bigint) ON COMMIT DROP",
};

/*
 * Who each row without a passport may be (import_candidate: line, national,
 * q). q is true for someone the row may be matched with, false for someone
 * who looks the same but is not believed to be without more: the row adds
 * a person and the report names them. A row that qualifies for more than
 * one registered person is refused, naming them: which one it is, no rule
 * can tell, and either guess would overwrite someone.
 */
static const char *const import_candidate_steps[] = {
    "CREATE TEMP TABLE import_candidate ON COMMIT DROP AS "
    "SELECT line, id, passport_no, deleted_at, min(rank) AS rank, bool_or(q) AS q FROM ("
    /*
     * By first phone, which a family shares. A birth date the row lacks is
     * no contradiction (a file without that column must not twin everyone),
     * but one the row brings and the stored person lacks may be a son's
     * where the father was stored: believed only by hand. A passport
     * replaced needs the birth date on both sides to agree; without it the
     * person may be the same (a renewal in a file without birth dates), so
     * the row is added and names them. The same birth date, given on both
     * sides, ranks above one unknown on one side (none on either side is no
     * evidence: a roster without birth dates could mean either).
     */
    "  SELECT s2.line, n.id, n.passport_no, n.deleted_at, "
    "  CASE WHEN n.birth_date = s2.birth_date THEN 0 ELSE 1 END AS rank, "
    "  NOT (s2.birth_date IS NOT NULL AND n.birth_date IS NULL) AND (s2.passport_no IS NULL "
    "  OR n.passport_no IS NULL OR n.passport_no = s2.passport_no "
    "  OR coalesce(n.birth_date = s2.birth_date, false)) AS q "
    "  FROM import_row s2 "
    "  JOIN contact c ON c.kind = 'phone' AND c.value = s2.phones[1] "
    "  JOIN national n ON n.id = c.national_id AND n.mission_id = $1 "
    "  WHERE s2.nid IS NULL AND " IMPORT_NAMES_MATCH " AND (s2.birth_date IS NULL "
    "  OR n.birth_date IS NULL OR n.birth_date = s2.birth_date) "
    /*
     * With no passport and no phone (children, people known by e-mail): by
     * name and birth date, unless the stored person has e-mails and not the
     * row's; believed when the e-mail agrees or the households do not differ
     * (two children of one name and birth date in two households are two
     * people). A household the file names that does not exist yet is
     * another household.
     */
    "  UNION ALL SELECT s2.line, n.id, n.passport_no, n.deleted_at, "
    "  CASE WHEN e.national_id IS NOT NULL THEN 0 ELSE 1 END, "
    "  e.national_id IS NOT NULL OR s2.household_ref IS NULL OR n.household_id IS NULL "
    "  OR n.household_id IS NOT DISTINCT FROM coalesce(h.id, hx.id) "
    "  FROM import_row s2 JOIN national n ON n.mission_id = $1 AND n.birth_date = s2.birth_date "
    "  LEFT JOIN LATERAL (SELECT national_id FROM contact WHERE national_id = n.id "
    "   AND kind = 'email' AND value = ANY (s2.emails) LIMIT 1) e ON true "
    "  LEFT JOIN household h ON h.mission_id = $1 AND h.external_ref = s2.household_ref "
    "  LEFT JOIN household hx ON hx.mission_id = $1 AND hx.external_ref IS NULL "
    "   AND s2.household_ref ~ '^#[0-9]{1,18}$' AND hx.id = substr(s2.household_ref, 2)::bigint "
    "  WHERE s2.nid IS NULL AND s2.passport_no IS NULL AND s2.phones[1] IS NULL "
    "  AND " IMPORT_NAMES_MATCH " AND (e.national_id IS NOT NULL OR s2.emails[1] IS NULL "
    "  OR NOT EXISTS (SELECT 1 FROM contact x WHERE x.national_id = n.id AND x.kind = 'email')) "
    /* By name and first e-mail, a birth date unknown on one side. */
    "  UNION ALL SELECT s2.line, n.id, n.passport_no, n.deleted_at, 0, true "
    "  FROM import_row s2 "
    "  JOIN contact c ON c.kind = 'email' AND c.value = s2.emails[1] "
    "  JOIN national n ON n.id = c.national_id AND n.mission_id = $1 "
    "  WHERE s2.nid IS NULL AND s2.passport_no IS NULL AND s2.phones[1] IS NULL "
    "AND " IMPORT_NAMES_MATCH " AND (s2.birth_date IS NULL OR n.birth_date IS NULL "
    "  OR n.birth_date = s2.birth_date)) x "
    "GROUP BY line, id, passport_no, deleted_at",
    "ANALYZE import_candidate",
    /*
     * One registered person who agrees best (the same birth date on both
     * sides) is the one: the others, who agree only as far as an unknown
     * birth date goes, are kept as "may be".
     */
    "UPDATE import_candidate c SET q = false FROM (SELECT line FROM import_candidate "
    " WHERE q AND deleted_at IS NULL GROUP BY line "
    " HAVING count(*) FILTER (WHERE rank = 0) = 1 AND count(*) > 1) b "
    "WHERE c.line = b.line AND c.q AND c.deleted_at IS NULL AND c.rank > 0",
    /*
     * A person another row of the file matches by the same birth date is
     * that row's, not a candidate of a row that could be several people: a
     * father without a birth date beside his son with one, both in the
     * file, are found again each.
     */
    "UPDATE import_candidate c SET q = false FROM import_candidate o "
    "WHERE o.id = c.id AND o.line <> c.line AND o.rank = 0 AND o.q AND o.deleted_at IS NULL "
    " AND c.q AND c.deleted_at IS NULL AND c.rank > 0 "
    " AND (SELECT count(*) FROM import_candidate z WHERE z.line = c.line AND z.q "
    "  AND z.deleted_at IS NULL) > 1",
};

/*
 * Rows that may be any of several registered people, refused (import_refuse);
 * a row whose passport finds its holder is matched by it instead.
 */
static const char import_ambiguous[] =
    "DELETE FROM import_row s USING (SELECT line, count(*) AS k, "
    " array_to_string((array_agg(id ORDER BY id))[1:5], ', ') AS ids FROM import_candidate "
    " WHERE q AND deleted_at IS NULL GROUP BY line HAVING count(*) > 1) a "
    "WHERE a.line = s.line AND NOT EXISTS (SELECT 1 FROM national p WHERE p.mission_id = $1 "
    " AND p.deleted_at IS NULL AND p.passport_no = s.passport_no) "
    "RETURNING s.line, CASE WHEN s.phones[1] IS NOT NULL THEN 'phone' ELSE 'birth_date' END, "
    " 'may be any of nationals ' || a.ids || CASE WHEN a.k > 5 THEN ' and ' || (a.k - 5) "
    " || ' more' ELSE '' END || CASE WHEN s.phones[1] IS NOT NULL "
    " THEN ' (the same name and phone)' ELSE ' (the same name and birth date)' END "
    " || '; add a birth date, passport, household or e-mail that tells which; nothing of "
    "this row was stored'";

/*
 * The merge, one statement per step; $1 is the mission. The staged rows are
 * never updated: each row's person goes to a narrow table of its own
 * (import_id), written once, since rewriting every wide staged row for each
 * step cost more than the steps.
 */
static const char *const import_match_steps[] = {
    /*
     * Households named by the file, made once per mission. "#id" is how an
     * export names a household the embassy never named: that household.
     */
    "WITH nh AS (INSERT INTO household (mission_id, external_ref) "
    " SELECT DISTINCT $1::bigint, household_ref "
    " FROM import_row s WHERE household_ref IS NOT NULL AND NOT EXISTS (SELECT 1 FROM household "
    " h WHERE h.mission_id = $1 AND h.external_ref IS NULL AND h.id = " IMPORT_HOUSEHOLD_ID ") "
    " ON CONFLICT (mission_id, external_ref) DO NOTHING RETURNING id) "
    "INSERT INTO import_household SELECT id FROM nh",
    /*
     * Each row's person: the one with the same passport, else the one with
     * the same first phone + name + birth date, else (no passport or phone)
     * the one with the same name + birth date or e-mail, else a new id taken now, so the rows can
     * be followed into contacts and locations (the sequence's name is looked up once: per row it
     * cost more than the ids).
     *
     * A row that matches no one registered but someone staff deleted is
     * skipped: the person is not brought back unasked (staff restore them).
     * A row matched by phone, name and birth date whose passport differs
     * from the stored one updates it (a passport renewed), and says so.
     */
    "CREATE TEMP TABLE import_id ON COMMIT DROP AS "
    "SELECT m.line, coalesce(m.matched, m.deleted, nextval((SELECT "
    " pg_get_serial_sequence('national', 'id'))::regclass)) "
    " AS national_id, m.matched IS NULL AND m.deleted IS NULL AS is_new, "
    " m.matched IS NULL AND m.deleted IS NOT NULL AS skipped, m.deleted_on, "
    " m.passport_changed, m.household_id, false AS changed, false AS point_held "
    /* An export's id names the person whatever else matches (import_national_ids). */
    "FROM (SELECT line, CASE WHEN nid IS NOT NULL THEN live_id "
    "  ELSE coalesce(live_passport, live_phone) END AS matched, "
    " CASE WHEN nid IS NOT NULL THEN gone_id WHEN live_passport IS NULL AND live_phone IS NULL "
    "  THEN coalesce(gone_passport, gone_phone) END AS deleted, "
    " CASE WHEN nid IS NOT NULL THEN gone_id_on::date "
    "  WHEN live_passport IS NULL AND live_phone IS NULL "
    "  THEN coalesce(gone_passport_on, gone_phone_on)::date END AS deleted_on, "
    " nid IS NULL AND live_passport IS NULL AND live_phone IS NOT NULL "
    "  AND passport_no IS NOT NULL AND stored_passport IS NOT NULL "
    "  AND stored_passport <> passport_no AS passport_changed, "
    " household_id "
    "FROM (SELECT s.line, s.passport_no, s.nid, "
    " CASE WHEN ni.deleted_at IS NULL THEN ni.id END AS live_id, "
    " CASE WHEN ni.deleted_at IS NOT NULL THEN ni.id END AS gone_id, "
    " ni.deleted_at AS gone_id_on, p.id AS live_passport, pd.id AS gone_passport, "
    " pd.deleted_at AS gone_passport_on, "
    " CASE WHEN cardinality(f.live) = 1 THEN f.live[1] END AS live_phone, "
    " CASE WHEN cardinality(f.live) = 1 THEN f.live_passport_no END AS stored_passport, "
    " CASE WHEN f.live IS NULL THEN f.gone END AS gone_phone, "
    " CASE WHEN f.live IS NULL THEN f.gone_on END AS gone_phone_on, "
    " coalesce(h.id, hx.id) AS household_id "
    " FROM import_row s "
    " LEFT JOIN national ni ON ni.id = s.nid AND ni.mission_id = $1 "
    " LEFT JOIN national p ON p.mission_id = $1 AND p.deleted_at IS NULL "
    "  AND s.passport_no IS NOT NULL AND p.passport_no = s.passport_no "
    " LEFT JOIN (SELECT DISTINCT ON (passport_no) passport_no, id, deleted_at FROM national "
    "  WHERE mission_id = $1 AND deleted_at IS NOT NULL AND passport_no IS NOT NULL "
    "  ORDER BY passport_no, deleted_at DESC) pd ON pd.passport_no = s.passport_no "
    /*
     * The match without a passport (import_candidate_steps): the one
     * registered person who qualifies, else the last one deleted.
     */
    " LEFT JOIN (SELECT line, array_agg(id ORDER BY id) FILTER (WHERE q AND deleted_at IS NULL) "
    "  AS live, (array_agg(passport_no ORDER BY id) FILTER (WHERE q AND deleted_at IS NULL))[1] "
    "  AS live_passport_no, (array_agg(id ORDER BY deleted_at DESC, rank, id) FILTER (WHERE q "
    "  AND deleted_at IS NOT NULL))[1] AS gone, (array_agg(deleted_at ORDER BY deleted_at DESC, "
    "  rank, id) FILTER (WHERE q AND deleted_at IS NOT NULL))[1] AS gone_on "
    "  FROM import_candidate GROUP BY line) f ON f.line = s.line "
    " LEFT JOIN household h ON h.mission_id = $1 AND h.external_ref = s.household_ref "
    " LEFT JOIN household hx ON hx.mission_id = $1 AND hx.external_ref IS NULL "
    "  AND hx.id = " IMPORT_HOUSEHOLD_ID ") k "
    " ORDER BY line) m",
    "ANALYZE import_id",
    /*
     * The span of the trips the registered people of the file are on or
     * will be on (their itinerary legs not over): a roster's dates of a
     * traveller widen to it, never cut it short.
     */
    "CREATE TEMP TABLE import_span ON COMMIT DROP AS "
    "SELECT l.national_id, min(l.arrival) AS arrival, max(l.departure) AS departure "
    "FROM itinerary_leg l WHERE l.departure >= current_date AND l.national_id IN "
    " (SELECT national_id FROM import_id WHERE NOT is_new AND NOT skipped) "
    "GROUP BY l.national_id",
};

/*
 * A registered traveller's dates after the merge: the file's where it gives
 * them, else the stored ones, widened to the trip's legs (import_span x).
 */
#define IMPORT_KIND "coalesce(s.kind, n.kind::text)"
#define IMPORT_ARRIVAL                                                                             \
	"(CASE WHEN " IMPORT_KIND " = 'traveller' THEN least(coalesce(s.arrival_date, "            \
	"n.arrival_date), x.arrival) ELSE coalesce(s.arrival_date, n.arrival_date) END)"
#define IMPORT_DEPARTURE                                                                           \
	"(CASE WHEN " IMPORT_KIND " = 'traveller' THEN greatest(coalesce(s.departure_date, "       \
	"n.departure_date), x.departure) ELSE coalesce(s.departure_date, n.departure_date) END)"

/*
 * Rows whose dates, merged with a registered traveller's stored ones, make
 * no trip (an arrival after the stored departure, a traveller without
 * dates): refused, naming the field, before anything is written; the other
 * rows go in.
 */
static const char import_trip_conflicts[] =
    "WITH bad AS (SELECT s.line, CASE WHEN " IMPORT_ARRIVAL " IS NULL THEN 'arrival_date' "
    "  ELSE 'departure_date' END AS field, " IMPORT_ARRIVAL " IS NULL OR " IMPORT_DEPARTURE
    "  IS NULL AS missing "
    " FROM import_row s JOIN import_id i ON i.line = s.line JOIN national n ON n.id = "
    "i.national_id "
    " LEFT JOIN import_span x ON x.national_id = i.national_id "
    " WHERE NOT i.is_new AND NOT i.skipped AND " IMPORT_KIND " = 'traveller' "
    " AND (s.kind IS NOT NULL OR s.arrival_date IS NOT NULL OR s.departure_date IS NOT NULL) "
    " AND (" IMPORT_ARRIVAL " IS NULL OR " IMPORT_DEPARTURE " IS NULL OR " IMPORT_DEPARTURE
    "  < " IMPORT_ARRIVAL ")), "
    "gone AS (DELETE FROM import_id i USING bad WHERE i.line = bad.line) "
    "DELETE FROM import_row s USING bad WHERE s.line = bad.line "
    "RETURNING s.line, bad.field, CASE WHEN bad.missing THEN bad.field || ': missing; a "
    " traveller needs arrival and departure dates, and this person has none stored; give both' "
    " ELSE 'departure_date: before the arrival date (with the dates stored for this person); "
    "give both dates of the new trip' END || '; nothing of this row was stored'";

/* The rest of the merge, on the rows left. */
static const char *const import_merge_steps[] = {
    /*
     * Existing people: fields the file gives replace the stored ones, if
     * different; a kind or languages the file does not give (NULL) keep theirs.
     */
    "WITH u AS (UPDATE national n SET name_ko = coalesce(s.name_ko, n.name_ko), "
    " name_latin = coalesce(s.name_latin, n.name_latin), "
    /* With one name only, the key is made again from both (import_rekey). */
    " name_key = CASE WHEN s.name_ko IS NOT NULL AND s.name_latin IS NOT NULL THEN s.name_key "
    "  ELSE n.name_key END, "
    " birth_date = coalesce(s.birth_date, n.birth_date), "
    " passport_no = coalesce(s.passport_no, n.passport_no), "
    " kind = coalesce(s.kind::national_kind, n.kind), "
    " arrival_date = " IMPORT_ARRIVAL ", departure_date = " IMPORT_DEPARTURE ", "
    " household_id = coalesce(i.household_id, n.household_id), "
    " needs = CASE WHEN s.needs = '{}' THEN n.needs ELSE s.needs END, "
    " languages = coalesce(s.languages, n.languages), "
    /* A text that reads as the file's is kept as stored. */
    " address = CASE WHEN " IMPORT_READ_ADDRESS " = s.address THEN n.address "
    "  ELSE coalesce(s.address, n.address) END, "
    " residence_status = CASE WHEN " IMPORT_READ_STATUS " = s.residence_status "
    "  THEN n.residence_status ELSE coalesce(s.residence_status, n.residence_status) END, "
    " notes = CASE WHEN " IMPORT_READ_NOTES " = s.notes THEN n.notes "
    "  ELSE coalesce(s.notes, n.notes) END, updated_at = now() "
    " FROM import_row s JOIN import_id i ON i.line = s.line "
    " LEFT JOIN import_span x ON x.national_id = i.national_id "
    " WHERE NOT i.is_new AND NOT i.skipped AND i.national_id = n.id AND ("
    "  n.name_ko IS DISTINCT FROM coalesce(s.name_ko, n.name_ko) OR n.name_latin IS DISTINCT FROM "
    "coalesce(s.name_latin, "
    "  n.name_latin) OR n.birth_date IS DISTINCT FROM coalesce(s.birth_date, n.birth_date) "
    "  OR n.passport_no IS DISTINCT FROM coalesce(s.passport_no, n.passport_no) "
    "  OR n.kind::text <> coalesce(s.kind, n.kind::text) "
    "  OR n.arrival_date IS DISTINCT FROM " IMPORT_ARRIVAL
    "  OR n.departure_date IS DISTINCT FROM " IMPORT_DEPARTURE
    "  OR n.household_id IS DISTINCT FROM coalesce(i.household_id, n.household_id) "
    "  OR (s.needs <> '{}' AND n.needs IS DISTINCT FROM s.needs) "
    "  OR n.languages IS DISTINCT FROM coalesce(s.languages, n.languages) "
    "  OR (s.address IS NOT NULL AND " IMPORT_READ_ADDRESS " IS DISTINCT FROM s.address) "
    "  OR (s.residence_status IS NOT NULL AND " IMPORT_READ_STATUS " IS DISTINCT FROM "
    "  s.residence_status) "
    "  OR (s.notes IS NOT NULL AND " IMPORT_READ_NOTES " IS DISTINCT FROM s.notes)) "
    "RETURNING n.id) "
    "UPDATE import_id i SET changed = true FROM u WHERE i.national_id = u.id",
    "INSERT INTO national (id, mission_id, household_id, name_ko, name_latin, name_key, "
    " birth_date, passport_no, kind, arrival_date, departure_date, languages, needs, address, "
    " residence_status, notes, source, last_point, last_point_at, last_point_source, region_id) "
    "OVERRIDING SYSTEM VALUE SELECT i.national_id, $1, i.household_id, s.name_ko, s.name_latin, "
    " s.name_key, s.birth_date, s.passport_no, coalesce(s.kind, 'resident')::national_kind, "
    " s.arrival_date, s.departure_date, coalesce(s.languages, '{ko}'), s.needs, s.address, "
    "s.residence_status, s.notes, 'import', "
    " p.point, CASE WHEN p.point IS NOT NULL THEN now() END, "
    " CASE WHEN p.point IS NOT NULL THEN 'import'::location_source END, "
    " (SELECT r.id FROM region r WHERE r.mission_id = $1 AND p.point IS NOT NULL "
    "  AND ST_Intersects(r.area::geometry, p.point::geometry) ORDER BY r.id LIMIT 1) "
    "FROM import_row s JOIN import_id i ON i.line = s.line, "
    " LATERAL (SELECT CASE WHEN s.lat IS NOT NULL THEN "
    " ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography END AS point) p WHERE i.is_new",
    /*
     * Contacts: new people's go straight in, with no conflict check (their
     * ids are new, and the parser keeps one of each number and address in a
     * row); existing people's only if missing.
     */
    "INSERT INTO contact (national_id, kind, value, priority) "
    " SELECT i.national_id, 'phone', u.v, least(u.o, 9) FROM import_row s "
    " JOIN import_id i ON i.line = s.line, "
    " unnest(s.phones) WITH ORDINALITY AS u(v, o) WHERE i.is_new "
    " UNION ALL SELECT i.national_id, 'email', u.v, least(u.o, 9) FROM import_row s "
    " JOIN import_id i ON i.line = s.line, "
    " unnest(s.emails) WITH ORDINALITY AS u(v, o) WHERE i.is_new",
    "WITH c AS (INSERT INTO contact (national_id, kind, value, priority) "
    " SELECT i.national_id, 'phone', u.v, least(u.o, 9) FROM import_row s "
    " JOIN import_id i ON i.line = s.line, "
    " unnest(s.phones) WITH ORDINALITY AS u(v, o) WHERE NOT i.is_new AND NOT i.skipped "
    " UNION ALL SELECT i.national_id, 'email', u.v, least(u.o, 9) FROM import_row s "
    " JOIN import_id i ON i.line = s.line, "
    " unnest(s.emails) WITH ORDINALITY AS u(v, o) WHERE NOT i.is_new AND NOT i.skipped "
    " ON CONFLICT (national_id, kind, value) DO NOTHING RETURNING national_id) "
    "UPDATE import_id i SET changed = true FROM c WHERE i.national_id = c.national_id",
    /* Locations: history for new people; a new point for those who moved. */
    "INSERT INTO location (national_id, point, source, observed_at) "
    " SELECT i.national_id, ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography, 'import', "
    " now() FROM import_row s JOIN import_id i ON i.line = s.line "
    " WHERE i.is_new AND s.lat IS NOT NULL",
    /*
     * A registered person's point is compared with where they are now,
     * with the file's own earlier one (the newest 'import' location) and
     * with points staff entered since: a place they answered from, or gave
     * in their own registration, is newer news than a roster, and an export
     * writes 6 decimals (0.1 m). A point that did move is held back, and
     * said, when the person or staff gave a place since the last import: it
     * must not send them home.
     */
    "WITH f AS (SELECT i.line, i.national_id, "
    "  ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326)::geography AS point, "
    "  li.point AS import_point, li.observed_at AS import_at, n.last_point "
    " FROM import_row s JOIN import_id i ON i.line = s.line "
    " JOIN national n ON n.id = i.national_id "
    " LEFT JOIN LATERAL (SELECT l.point, l.observed_at FROM location l "
    "  WHERE l.national_id = i.national_id AND l.source = 'import' "
    "  ORDER BY l.observed_at DESC, l.id DESC LIMIT 1) li ON true "
    " WHERE NOT i.is_new AND NOT i.skipped AND s.lat IS NOT NULL), "
    "m AS (SELECT f.line, f.national_id, f.point, EXISTS (SELECT 1 FROM location l "
    "  WHERE l.national_id = f.national_id AND l.source IN ('reply', 'staff', 'registration') "
    "  AND (f.import_at IS NULL OR l.observed_at > f.import_at)) "
    /* An answer's place still queued for the registry (0077) counts as given. */
    "  OR EXISTS (SELECT 1 FROM reply_location_pending q WHERE q.national_id = f.national_id "
    "  AND (f.import_at IS NULL OR q.observed_at > f.import_at)) AS held FROM f "
    " WHERE NOT coalesce(ST_DWithin(f.point, f.last_point, 0.1), false) "
    " AND NOT coalesce(ST_DWithin(f.point, f.import_point, 0.1), false) "
    " AND NOT EXISTS (SELECT 1 FROM location l WHERE l.national_id = f.national_id "
    "  AND l.source = 'staff' AND (f.import_at IS NULL OR l.observed_at >= f.import_at) "
    "  AND ST_DWithin(l.point, f.point, 0.1))), "
    "l AS (INSERT INTO location (national_id, point, source, observed_at) "
    " SELECT national_id, point, 'import', now() FROM m WHERE NOT held) "
    "UPDATE import_id i SET changed = i.changed OR NOT m.held, point_held = m.held "
    "FROM m WHERE i.line = m.line",
    /* A household made for rows left out (people staff deleted) has no one: it goes. */
    ("DELETE FROM household h USING import_household x WHERE h.id = x.id "
     " AND NOT EXISTS (SELECT 1 FROM national n WHERE n.household_id = h.id)"),
};

/*
 * People the merge added or changed (a new place, kind or dates among the
 * changes), inside the area of a check-in running for the mission and not
 * asked in it yet, are asked now, as the launch would have. With no
 * check-in running this is one look at the campaigns.
 */
static const char import_join_crises[] =
    "SELECT nationals_join_crises($1::bigint, ARRAY(SELECT national_id FROM import_id "
    " WHERE NOT skipped AND (is_new OR changed)))";

/*
 * An export's id column (the file's national_ids): the id of a national of
 * the mission, read before anything else matches. Each statement leaves out
 * rows it refuses and returns line, field, reason. An id that is no national
 * of the mission is refused, never taken for a new person (the export of
 * another mission, or an id edited); so are two rows of one id and an id of
 * someone whose names the row shares none of (a mistyped id would rewrite a
 * stranger).
 */
static const char *const import_national_id_steps[] = {
    "UPDATE import_row SET nid = external_ref::bigint WHERE external_ref ~ '^[0-9]{1,18}$'",
    "DELETE FROM import_row s WHERE s.external_ref IS NOT NULL AND NOT EXISTS (SELECT 1 "
    " FROM national n WHERE n.id = s.nid AND n.mission_id = $1) "
    "RETURNING s.line, 'id', 'id: no national of this mission has this id (an export of "
    "another mission, or an id edited); empty the cell to add the person'",
    "DELETE FROM import_row a USING import_row b WHERE a.nid = b.nid AND a.line > b.line "
    "RETURNING a.line, 'id', 'id: the same national as line ' || b.line",
    "DELETE FROM import_row s USING national n WHERE n.id = s.nid AND NOT " IMPORT_NAMES_SHARED
    " RETURNING s.line, 'id', 'id: national ' || n.id || ' has neither of these names; check "
    "the id, or empty the cell to add the person'",
};

/*
 * A passport believed only with a name (or the id) of its holder: a typo in
 * a passport number must not rewrite someone else. The holder is the one the
 * merge would match: the registered one, else the last deleted. The number
 * is masked as in the API's answers, since import reports never show a
 * whole passport.
 */
static const char import_passport_conflicts[] =
    "DELETE FROM import_row s USING (SELECT DISTINCT ON (passport_no) id, passport_no, "
    " name_key FROM national WHERE mission_id = $1 AND passport_no IN (SELECT passport_no "
    " FROM import_row) "
    " ORDER BY passport_no, deleted_at IS NOT NULL, deleted_at DESC) n "
    "WHERE s.passport_no IS NOT NULL AND n.passport_no = s.passport_no "
    " AND CASE WHEN s.nid IS NOT NULL THEN s.nid <> n.id ELSE NOT " IMPORT_NAMES_SHARED " END "
    "RETURNING s.line, 'passport_no', 'passport_no: passport ' || left(n.passport_no, 1) "
    " || repeat('*', greatest(length(n.passport_no) - 3, 1)) || right(n.passport_no, 2) "
    " || ' is held by another person (national ' || n.id || CASE WHEN s.nid IS NOT NULL "
    " THEN '), not by the national of this row''s id' ELSE '), whose names differ' END "
    " || '; nothing of this row was stored'";

/*
 * Why a statement failed, for the log: the primary message only, since the
 * detail and context of an error can quote a value of the file (a COPY's
 * "line 12, column passport_no: ...").
 */
static void
import_failed(PGconn *conn, const PGresult *r, char **cause)
{
	const char *m = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	xasprintf(cause, "import failed: %s", m != NULL ? m : PQerrorMessage(conn));
}

/* Runs one statement with the mission as $1. */
static bool
import_exec(PGconn *conn, const char *sql, const char *mission, char **cause)
{
	const char *params[1] = {mission};
	/* A statement that does not name the mission must not be given it. */
	int n = mission != NULL && strstr(sql, "$1") != NULL ? 1 : 0;
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		import_failed(conn, r, cause);
	PQclear(r);
	return ok;
}

/* Sends every good row with one COPY. */
static bool
import_copy(PGconn *conn, const struct sf_import_result *parsed, char **cause)
{
	PGresult *r = PQexec(conn, "COPY import_row (" SF_IMPORT_COPY_COLUMNS ") FROM STDIN");
	char *line = xmalloc(SF_IMPORT_COPY_LINE_SIZE);
	/* Batches of lines per PQputCopyData keep the calls few. */
	size_t cap = 1 << 20, used = 0;
	char *batch = xmalloc(cap);
	bool ok = true;

	if (PQresultStatus(r) != PGRES_COPY_IN) {
		import_failed(conn, r, cause);
		PQclear(r);
		free(line);
		free(batch);
		return false;
	}
	PQclear(r);
	for (size_t i = 0; i < parsed->nrows && ok; i++) {
		size_t len;
		if (sf_import_row_copy_text(&parsed->rows[i], line, SF_IMPORT_COPY_LINE_SIZE,
		                            &len) != 0)
			continue;
		if (used + len > cap) {
			ok = PQputCopyData(conn, batch, (int)used) == 1;
			used = 0;
		}
		memcpy(batch + used, line, len);
		used += len;
	}
	if (ok && used > 0)
		ok = PQputCopyData(conn, batch, (int)used) == 1;
	memset(line, 0, SF_IMPORT_COPY_LINE_SIZE);
	memset(batch, 0, cap);
	free(line);
	free(batch);
	if (PQputCopyEnd(conn, ok ? NULL : "aborted") != 1)
		ok = false;
	while ((r = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && ok) {
			import_failed(conn, r, cause);
			ok = false;
		}
		PQclear(r);
	}
	if (!ok && *cause == NULL)
		import_failed(conn, r, cause);
	return ok;
}

/*
 * The search key covers both names. A row with one of them changes only that
 * one, so the key of someone it updated is made again from the names now
 * stored, as a change through the API makes it; written only while those are
 * still the names (another change of them wrote its own key).
 */
static bool
import_rekey(PGconn *conn, char **cause)
{
	PGresult *r =
	    PQexec(conn, "SELECT n.id, coalesce(n.name_ko, ''), coalesce(n.name_latin, ''), "
	                 " n.name_key FROM import_row s JOIN import_id i ON i.line = s.line "
	                 " JOIN national n ON n.id = i.national_id "
	                 " WHERE i.changed AND NOT i.is_new AND NOT i.skipped "
	                 " AND (s.name_ko IS NULL) <> (s.name_latin IS NULL)");
	struct pg_arrays a;
	size_t count = 0;
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok) {
		import_failed(conn, r, cause);
		PQclear(r);
		return false;
	}
	pg_arrays_open(&a, 4);
	for (int i = 0; i < PQntuples(r); i++) {
		const char *ko = PQgetvalue(r, i, 1), *latin = PQgetvalue(r, i, 2);
		char key_ko[SF_NAME_KEY_SIZE] = "", key_latin[SF_NAME_KEY_SIZE] = "";
		char key[2 * SF_NAME_KEY_SIZE + 2];

		if (*ko != '\0' && sf_name_search_key(ko, key_ko, sizeof key_ko) != 0)
			key_ko[0] = '\0';
		if (*latin != '\0' && sf_name_search_key(latin, key_latin, sizeof key_latin) != 0)
			key_latin[0] = '\0';
		snprintf(key, sizeof key, "%s%s%s", key_ko, *key_ko && *key_latin ? " " : "",
		         key_latin);
		if (key[0] == '\0' || strcmp(key, PQgetvalue(r, i, 3)) == 0)
			continue;
		pg_arrays_add(&a, 0, PQgetvalue(r, i, 0));
		pg_arrays_add(&a, 1, key);
		pg_arrays_add(&a, 2, ko);
		pg_arrays_add(&a, 3, latin);
		count++;
	}
	PQclear(r);
	if (count > 0) {
		r = PQexecParams(
		    conn,
		    "UPDATE national n SET name_key = k.key "
		    "FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[]) "
		    " AS k(id, key, ko, latin) WHERE n.id = k.id "
		    " AND coalesce(n.name_ko, '') = k.ko AND coalesce(n.name_latin, '') = k.latin",
		    4, NULL, pg_arrays_close(&a), NULL, NULL, 0);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			import_failed(conn, r, cause);
		PQclear(r);
	}
	pg_arrays_free(&a);
	return ok;
}

/*
 * The merge's outcome, read from import_id in one pass: people added,
 * updated and unchanged, and the national of the file's first good row.
 */
static bool
import_summary(PGconn *conn, struct registry_import_outcome *out, char **cause)
{
	PGresult *r = PQexec(
	    conn, "SELECT count(*) FILTER (WHERE is_new), "
	          "count(*) FILTER (WHERE NOT is_new AND changed), "
	          "count(*) FILTER (WHERE NOT is_new AND NOT skipped AND NOT changed), "
	          "coalesce((SELECT national_id FROM import_id WHERE NOT skipped "
	          " ORDER BY line LIMIT 1), 0), "
	          "count(*) FILTER (WHERE skipped), count(*) FILTER (WHERE passport_changed) "
	          "FROM import_id");
	bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

	if (ok) {
		out->inserted = atoll(PQgetvalue(r, 0, 0));
		out->updated = atoll(PQgetvalue(r, 0, 1));
		out->unchanged = atoll(PQgetvalue(r, 0, 2));
		out->first_id = atoll(PQgetvalue(r, 0, 3));
		out->skipped_deleted = atoll(PQgetvalue(r, 0, 4));
		out->passports_replaced = atoll(PQgetvalue(r, 0, 5));
	} else {
		import_failed(conn, r, cause);
	}
	PQclear(r);
	if (!ok)
		return ok;
	/*
	 * The first of each kind, named in the report: people deleted, passports
	 * replaced, people added who may be someone registered, and points held
	 * back.
	 */
	r = PQexec(
	    conn,
	    "(SELECT line, national_id, coalesce(deleted_on::text, ''), '', '' FROM import_id "
	    " WHERE skipped ORDER BY line LIMIT 64) UNION ALL "
	    "(SELECT line, national_id, '', '', '' FROM import_id WHERE passport_changed "
	    " ORDER BY line LIMIT 64) UNION ALL "
	    "(SELECT i.line, min(c.id), '', array_to_string((array_agg(c.id ORDER BY "
	    " c.id))[1:4], ', '), CASE WHEN bool_or(s.phones[1] IS NOT NULL) THEN 'phone' "
	    " ELSE 'birth date' END FROM import_id i JOIN import_row s ON s.line = i.line "
	    " JOIN import_candidate c ON c.line = i.line AND NOT c.q AND c.deleted_at IS NULL "
	    " WHERE i.is_new GROUP BY i.line ORDER BY i.line LIMIT 64) UNION ALL "
	    "(SELECT line, national_id, '', '', 'point' FROM import_id WHERE point_held "
	    " ORDER BY line LIMIT 64) ORDER BY 1");
	ok = PQresultStatus(r) == PGRES_TUPLES_OK;
	if (!ok)
		import_failed(conn, r, cause);
	for (int i = 0;
	     ok && i < PQntuples(r) && (size_t)i < sizeof out->notes / sizeof out->notes[0]; i++) {
		struct registry_import_note *note = &out->notes[out->nnotes++];

		note->line = (size_t)atoll(PQgetvalue(r, i, 0));
		note->national_id = atoll(PQgetvalue(r, i, 1));
		snprintf(note->deleted_on, sizeof note->deleted_on, "%s", PQgetvalue(r, i, 2));
		snprintf(note->maybe, sizeof note->maybe, "%s", PQgetvalue(r, i, 3));
		note->maybe_by_phone = strcmp(PQgetvalue(r, i, 4), "phone") == 0;
		note->point_held = strcmp(PQgetvalue(r, i, 4), "point") == 0;
	}
	PQclear(r);
	return ok;
}

/* Runs a statement that leaves out rows, and notes each as refused. */
static bool
import_refuse(PGconn *conn, const char *sql, const char *mission,
              struct registry_import_outcome *out, char **cause)
{
	const char *params[1] = {mission};
	PGresult *r =
	    PQexecParams(conn, sql, strstr(sql, "$1") != NULL ? 1 : 0, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		import_failed(conn, r, cause);
		PQclear(r);
		return false;
	}
	for (int i = 0; PQresultStatus(r) == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
		if (out->nrefused < sizeof out->refused / sizeof out->refused[0]) {
			struct registry_import_refusal *f = &out->refused[out->nrefused];

			f->line = (size_t)atoll(PQgetvalue(r, i, 0));
			snprintf(f->field, sizeof f->field, "%s", PQgetvalue(r, i, 1));
			snprintf(f->reason, sizeof f->reason, "%s", PQgetvalue(r, i, 2));
		}
		out->nrefused++;
	}
	PQclear(r);
	return true;
}

/* Orders the refusals named by line, as the parser's errors are. */
static int
import_refusal_cmp(const void *a, const void *b)
{
	const struct registry_import_refusal *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

/* Parses, stages and merges. */
bool
registry_import_run(PGconn *conn, const struct registry_import_request *req,
                    struct registry_import_outcome *out, char **cause)
{
	struct sf_import_options opt;
	char mission[24], country[8] = "";
	const char *params[1];
	PGresult *r;

	memset(out, 0, sizeof *out);
	*cause = NULL;
	snprintf(mission, sizeof mission, "%lld", req->mission_id);
	params[0] = mission;
	r = PQexecParams(conn, "SELECT default_country FROM mission WHERE id = $1::bigint", 1, NULL,
	                 params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		/* A mission that does not exist is the caller's mistake, not the database's. */
		out->no_mission = PQresultStatus(r) == PGRES_TUPLES_OK;
		xasprintf(cause, "no mission with id %lld", req->mission_id);
		PQclear(r);
		return false;
	}
	snprintf(country, sizeof country, "%s", PQgetvalue(r, 0, 0));
	PQclear(r);

	sf_import_options_init(&opt);
	opt.format = req->format;
	opt.default_country = country;
	opt.date_format = req->date_format;
	opt.mapping = req->mapping;
	if (sf_import_parse(req->data, req->len, &opt, &out->parsed) == SF_ENOMEM ||
	    out->parsed == NULL) {
		xasprintf(cause, "out of memory reading the file");
		return false;
	}
	if (out->parsed->file_error || (req->all_or_nothing && out->parsed->bad_rows > 0))
		return true;

	if (!import_exec(conn, "BEGIN", NULL, cause) ||
	    /*
	     * One import per mission at a time, until commit: under READ COMMITTED
	     * two merges of one file would each find no one and both insert. The
	     * second waits, then matches the people the first added.
	     */
	    !import_exec(conn, "SELECT pg_advisory_xact_lock(hashtextextended('import:' || $1, 0))",
	                 mission, cause) ||
	    !import_exec(conn, "SET LOCAL client_min_messages = warning", NULL, cause) ||
	    /* Compiling the merge's expressions took longer than running them. */
	    !import_exec(conn, "SET LOCAL jit = off", NULL, cause) ||
	    !import_exec(conn, import_staging_sql, NULL, cause) ||
	    !import_copy(conn, out->parsed, cause))
		goto fail;
	for (size_t i = 0; i < sizeof import_prepare_steps / sizeof import_prepare_steps[0]; i++) {
		if (!import_exec(conn, import_prepare_steps[i], NULL, cause))
			goto fail;
	}
	/* A passport twice in one file: the first row counts, later ones are reported. */
	r = PQexec(conn, "DELETE FROM import_row a USING import_row b WHERE a.passport_no = "
	                 "b.passport_no AND a.line > b.line RETURNING a.line, b.line");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		import_failed(conn, r, cause);
		PQclear(r);
		goto fail;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		if (out->ndup < sizeof out->dup_line / sizeof out->dup_line[0]) {
			out->dup_line[out->ndup] = (size_t)atoll(PQgetvalue(r, i, 0));
			out->dup_first[out->ndup] = (size_t)atoll(PQgetvalue(r, i, 1));
		}
		out->ndup++;
	}
	PQclear(r);
	for (size_t i = 0; out->parsed->national_ids &&
	                   i < sizeof import_national_id_steps / sizeof import_national_id_steps[0];
	     i++) {
		if (!import_refuse(conn, import_national_id_steps[i], mission, out, cause))
			goto fail;
	}
	if (!import_refuse(conn, import_passport_conflicts, mission, out, cause))
		goto fail;
	for (size_t i = 0; i < sizeof import_candidate_steps / sizeof import_candidate_steps[0];
	     i++) {
		if (!import_exec(conn, import_candidate_steps[i], mission, cause))
			goto fail;
	}
	if (!import_refuse(conn, import_ambiguous, mission, out, cause))
		goto fail;
	for (size_t i = 0; i < sizeof import_match_steps / sizeof import_match_steps[0]; i++) {
		if (!import_exec(conn, import_match_steps[i], mission, cause))
			goto fail;
	}
	if (!import_refuse(conn, import_trip_conflicts, mission, out, cause))
		goto fail;
	{
		size_t named = out->nrefused < sizeof out->refused / sizeof out->refused[0]
		                   ? out->nrefused
		                   : sizeof out->refused / sizeof out->refused[0];

		qsort(out->refused, named, sizeof out->refused[0], import_refusal_cmp);
	}
	if (req->all_or_nothing && out->ndup + out->nrefused > 0) {
		import_exec(conn, "ROLLBACK", NULL, cause);
		return true;
	}
	/*
	 * No membership lock around the merge: a launch under way would hold
	 * the import for its whole run. The join below asks for it without
	 * waiting, and queues the people for after the launch when it is busy.
	 */
	for (size_t i = 0; i < sizeof import_merge_steps / sizeof import_merge_steps[0]; i++) {
		if (!import_exec(conn, import_merge_steps[i], mission, cause))
			goto fail;
	}
	if (!import_rekey(conn, cause) ||
	    (!req->dry_run && !import_exec(conn, import_join_crises, mission, cause)) ||
	    !import_summary(conn, out, cause))
		goto fail;
	{
		char summary[320], ins[24], upd[24], unch[24], rej[24];
		const char *ap[9];

		snprintf(ins, sizeof ins, "%lld", out->inserted);
		snprintf(upd, sizeof upd, "%lld", out->updated);
		snprintf(unch, sizeof unch, "%lld", out->unchanged);
		snprintf(rej, sizeof rej, "%zu", out->parsed->bad_rows + out->ndup + out->nrefused);
		snprintf(summary, sizeof summary,
		         "{\"inserted\":%s,\"updated\":%s,\"unchanged\":%s,\"rejected\":%s,"
		         "\"skipped_deleted\":%lld,\"passports_replaced\":%lld,\"dry_run\":%s}",
		         ins, upd, unch, rej, out->skipped_deleted, out->passports_replaced,
		         req->dry_run ? "true" : "false");
		ap[0] = req->actor;
		ap[1] = req->actor_role;
		ap[2] = mission;
		ap[3] = req->client_addr != NULL ? req->client_addr : "";
		ap[4] = summary;
		r = PQexecParams(conn,
		                 "SELECT audit_record($1, $2, $3::bigint, $4, 'national.import', "
		                 "'mission', $3::bigint::text, $5)",
		                 5, NULL, ap, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			import_failed(conn, r, cause);
			PQclear(r);
			goto fail;
		}
		PQclear(r);
	}
	if (!import_exec(conn, req->dry_run ? "ROLLBACK" : "COMMIT", NULL, cause))
		goto fail;
	out->applied = !req->dry_run;
	/*
	 * A large change leaves the planner with the registry's figures from
	 * before it until autovacuum comes by: the same file again would be
	 * matched as if the tables were small (minutes instead of seconds).
	 */
	if (!req->dry_run && out->inserted + out->updated >= 1000)
		PQclear(PQexec(conn, "SELECT registry_analyze()"));
	return true;
fail:
	PQclear(PQexec(conn, "ROLLBACK"));
	return false;
}

/* Adds one error object to an array. */
static void
import_report_error(cJSON *list, size_t line, size_t column, const char *field, const char *reason)
{
	cJSON *e = cJSON_CreateObject();

	cJSON_AddNumberToObject(e, "line", (double)line);
	if (column > 0)
		cJSON_AddNumberToObject(e, "column", (double)column);
	cJSON_AddStringToObject(e, "field", field);
	cJSON_AddStringToObject(e, "reason", reason);
	cJSON_AddItemToArray(list, e);
}

const char *
registry_import_note_text(const struct registry_import_note *note, char *buf, size_t size)
{
	if (note->point_held) {
		snprintf(buf, size,
		         "location: not applied: national %lld gave a place (a reply, their "
		         "registration, or staff) "
		         "since the file's last one, which stays; change it by hand if the "
		         "file is right",
		         note->national_id);
		return "location";
	}
	if (note->maybe[0] != '\0') {
		snprintf(buf, size,
		         "added; may be the same person as national%s %s (the same name and "
		         "%s, not enough to tell): merge by hand if so",
		         strchr(note->maybe, ',') != NULL ? "s" : "", note->maybe,
		         note->maybe_by_phone ? "phone" : "birth date");
		return "national";
	}
	if (note->deleted_on[0] != '\0') {
		snprintf(buf, size,
		         "the same person as national %lld, deleted on %s: not imported "
		         "again (POST /api/v1/nationals/%lld/restore brings them back)",
		         note->national_id, note->deleted_on, note->national_id);
		return "national";
	}
	snprintf(buf, size,
	         "differs from the passport stored for national %lld, matched by "
	         "phone, name and birth date: replaced",
	         note->national_id);
	return "passport_no";
}

/* The outcome as JSON. */
cJSON *
registry_import_report(const struct registry_import_outcome *out, bool dry_run)
{
	const struct sf_import_result *p = out->parsed;
	cJSON *rep = cJSON_CreateObject();
	cJSON *errors, *warnings;

	cJSON_AddBoolToObject(rep, "applied", out->applied);
	cJSON_AddBoolToObject(rep, "dry_run", dry_run);
	if (p == NULL)
		return rep;
	cJSON_AddStringToObject(rep, "format", p->format == SF_IMPORT_JSON ? "json" : "csv");
	cJSON_AddBoolToObject(rep, "file_refused", p->file_error);
	cJSON_AddNumberToObject(rep, "rows", (double)p->records);
	cJSON_AddNumberToObject(rep, "good_rows", (double)(p->nrows - out->ndup - out->nrefused));
	cJSON_AddNumberToObject(rep, "bad_rows", (double)(p->bad_rows + out->ndup + out->nrefused));
	cJSON_AddNumberToObject(rep, "inserted", (double)out->inserted);
	cJSON_AddNumberToObject(rep, "updated", (double)out->updated);
	cJSON_AddNumberToObject(rep, "unchanged", (double)out->unchanged);
	cJSON_AddNumberToObject(rep, "skipped_deleted", (double)out->skipped_deleted);
	cJSON_AddNumberToObject(rep, "passports_replaced", (double)out->passports_replaced);
	errors = cJSON_AddArrayToObject(rep, "errors");
	for (size_t i = 0; i < p->nerrors; i++)
		import_report_error(errors, p->errors[i].line, p->errors[i].column,
		                    p->errors[i].field, p->errors[i].reason);
	for (size_t i = 0; i < out->ndup && i < sizeof out->dup_line / sizeof out->dup_line[0];
	     i++) {
		char reason[96];
		snprintf(reason, sizeof reason, "passport_no: the same passport as line %zu",
		         out->dup_first[i]);
		import_report_error(errors, out->dup_line[i], 0, "passport_no", reason);
	}
	for (size_t i = 0; i < out->nrefused && i < sizeof out->refused / sizeof out->refused[0];
	     i++)
		import_report_error(errors, out->refused[i].line, 0, out->refused[i].field,
		                    out->refused[i].reason);
	cJSON_AddNumberToObject(rep, "errors_not_shown", (double)p->errors_dropped);
	warnings = cJSON_AddArrayToObject(rep, "warnings");
	for (size_t i = 0; i < p->nwarnings; i++)
		import_report_error(warnings, p->warnings[i].line, p->warnings[i].column,
		                    p->warnings[i].field, p->warnings[i].reason);
	for (size_t i = 0; i < out->nnotes; i++) {
		char reason[224];

		import_report_error(
		    warnings, out->notes[i].line, 0,
		    registry_import_note_text(&out->notes[i], reason, sizeof reason), reason);
	}
	return rep;
}

/* Frees the parsed file. */
void
registry_import_outcome_free(struct registry_import_outcome *out)
{
	sf_import_result_free(out->parsed);
	out->parsed = NULL;
}
