/*
 * The registry through the API: list and search nationals, read one, change
 * or soft-delete one, and ask who is inside an area. Every query carries the
 * caller's mission; passport numbers are shown in full only to the roles
 * that work with them.
 */
#include "routes.h"

#include "audit.h"
#include "daemon.h"
#include "db_reply.h"
#include "geojson_check.h"
#include "log.h"
#include "replies.h"
#include "text.h"
#include "pg_array.h"
#include "xmalloc.h"

#include <ctype.h>
#include <safety/date.h>
#include <safety/import.h>
#include <safety/name.h>
#include <safety/phone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unictype.h>
#include <unistr.h>

/*
 * One national as JSON, from row n; $1 says whether the passport number is
 * shown ('t') or masked to its first and last two characters.
 */
#define NATIONAL_JSON                                                                              \
	"json_build_object('id', n.id, 'mission_id', n.mission_id, 'household_id', "               \
	"n.household_id, "                                                                         \
	"'name_ko', n.name_ko, 'name_latin', n.name_latin, 'birth_date', n.birth_date, "           \
	"'passport_no', CASE WHEN n.passport_no IS NULL THEN NULL WHEN $1::bool THEN "             \
	"n.passport_no "                                                                           \
	" ELSE left(n.passport_no, 1) || repeat('*', length(n.passport_no) - 3) || "               \
	" right(n.passport_no, 2) END, "                                                           \
	"'kind', n.kind, 'arrival_date', n.arrival_date, 'departure_date', n.departure_date, "     \
	"'languages', n.languages, 'needs', n.needs, 'address', n.address, "                       \
	"'residence_status', n.residence_status, 'notes', n.notes, 'region_id', n.region_id, "     \
	"'location', CASE WHEN n.last_point IS NULL THEN NULL ELSE json_build_object('lat', "      \
	" ST_Y(n.last_point::geometry), 'lon', ST_X(n.last_point::geometry), 'accuracy_m', "       \
	" n.last_point_accuracy_m, 'source', n.last_point_source, 'at', n.last_point_at) END, "    \
	"'contacts', (SELECT coalesce(json_agg(json_build_object('kind', c.kind, 'value', "        \
	"c.value, "                                                                                \
	" 'priority', c.priority, 'verified', c.verified) ORDER BY c.kind, c.priority, c.id), "    \
	" '[]'::json) FROM contact c WHERE c.national_id = n.id), "                                \
	"'created_at', n.created_at, 'updated_at', n.updated_at)"

/* Whether the caller's role sees passport numbers in full. */
static const char *
nationals_show_passport(const struct http_ctx *ctx)
{
	const struct principal *p = &ctx->principal;

	return p->kind == PRINCIPAL_STAFF &&
	               (p->role == SF_ROLE_ADMIN || p->role == SF_ROLE_MISSION_LEAD ||
	                p->role == SF_ROLE_MISSION_STAFF)
	           ? "t"
	           : "f";
}

/* Copies a query parameter if it is a positive id; answers 400 if it is not. */
static bool
nationals_id_param(struct http_ctx *ctx, const char *name, char buf[24], const char **out)
{
	char tmp[32];
	const char *v = http_query(ctx, name, tmp, sizeof tmp);
	size_t n;

	*out = NULL;
	if (v == NULL)
		return true;
	n = strlen(v);
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)v[i]) || n > 18) {
			char detail[96];
			snprintf(detail, sizeof detail, "%s must be an id", name);
			http_reply_problem(ctx, 400, "bad request", detail);
			return false;
		}
	}
	snprintf(buf, 24, "%s", v);
	*out = buf;
	return n > 0 || (http_reply_problem(ctx, 400, "bad request", "empty id"), false);
}

/*
 * GET /api/v1/nationals?q=&region=&kind=&need=&household=&has_contact=&mission=
 * &after=&limit=: q matches a name (Hangul or Latin, any spacing or case), a
 * phone number or a passport number.
 */
void
routes_nationals_list(struct http_ctx *ctx)
{
	char scope[24], mission_buf[24], after_buf[24], limit[8], region_buf[24], household_buf[24];
	char q[256], kind[32], need[32], has_contact[16];
	char name_key[512] = "", phone[32] = "", passport[32] = "", err[128];
	const char *after, *mission, *region, *household, *vq, *vkind, *vneed, *vcontact;
	const char *params[13];

	if (!http_page(ctx, &after, after_buf, limit) ||
	    !nationals_id_param(ctx, "mission", mission_buf, &mission) ||
	    !nationals_id_param(ctx, "region", region_buf, &region) ||
	    !nationals_id_param(ctx, "household", household_buf, &household))
		return;
	if (!http_query_filter(ctx, "q", q, sizeof q, &vq) ||
	    !http_query_filter(ctx, "kind", kind, sizeof kind, &vkind) ||
	    !http_query_filter(ctx, "need", need, sizeof need, &vneed) ||
	    !http_query_filter(ctx, "has_contact", has_contact, sizeof has_contact, &vcontact))
		return;
	if (vkind != NULL && strcmp(vkind, "resident") != 0 && strcmp(vkind, "traveller") != 0) {
		http_reply_problem(ctx, 400, "bad request", "kind: resident or traveller");
		return;
	}
	if (vneed != NULL && strcmp(vneed, "child") != 0 && strcmp(vneed, "elderly") != 0 &&
	    strcmp(vneed, "pregnant") != 0 && strcmp(vneed, "disability") != 0 &&
	    strcmp(vneed, "medical") != 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "need: child, elderly, pregnant, disability or medical");
		return;
	}
	if (vcontact != NULL && strcmp(vcontact, "phone") != 0 && strcmp(vcontact, "email") != 0 &&
	    strcmp(vcontact, "any") != 0 && strcmp(vcontact, "none") != 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "has_contact: phone, email, any or none");
		return;
	}
	if (vq != NULL && *vq != '\0') {
		size_t len = strlen(vq), alnum = 0, digits = 0;
		/* A passport number: letters and digits only, with at least one digit. */
		for (size_t i = 0; i < len; i++) {
			if (isalnum((unsigned char)vq[i]))
				alnum++;
			if (isdigit((unsigned char)vq[i]))
				digits++;
		}
		if (alnum == len && digits > 0 && len >= 5 && len <= 20) {
			for (size_t i = 0; i < len; i++)
				passport[i] = (char)toupper((unsigned char)vq[i]);
			passport[len] = '\0';
		}
		/* A phone number in international form (national forms need the mission's country).
		 */
		if (digits >= 7 &&
		    sf_phone_normalize(vq, NULL, phone, sizeof phone, err, sizeof err) != 0)
			phone[0] = '\0';
		if (sf_name_search_key(vq, name_key, sizeof name_key) != 0 || strlen(name_key) < 2)
			name_key[0] = '\0';
		if (name_key[0] == '\0' && phone[0] == '\0' && passport[0] == '\0') {
			http_reply_problem(
			    ctx, 400, "bad request",
			    "q: give at least two letters of a name, a phone number in "
			    "international form or a passport number");
			return;
		}
	}
	params[0] = nationals_show_passport(ctx);
	params[1] = auth_scope_param(ctx, scope);
	params[2] = mission;
	params[3] = after;
	params[4] = limit;
	params[5] = region;
	params[6] = vkind;
	params[7] = vneed;
	params[8] = household;
	params[9] = vcontact;
	params[10] = name_key[0] != '\0' ? name_key : NULL;
	params[11] = phone[0] != '\0' ? phone : NULL;
	params[12] = passport[0] != '\0' ? passport : NULL;
	db_reply_json(
	    ctx, 200, "",
	    "SELECT json_build_object('items', coalesce(json_agg(" NATIONAL_JSON
	    " ORDER BY n.id), '[]'::json), 'next', CASE WHEN count(*) = $5::int THEN "
	    "max(n.id)::text "
	    " END)::text FROM (SELECT * FROM national n WHERE n.deleted_at IS NULL "
	    " AND ($2::bigint IS NULL OR n.mission_id = $2) AND ($3::bigint IS NULL OR "
	    "n.mission_id = $3) "
	    " AND n.id > coalesce($4::bigint, 0) AND ($6::bigint IS NULL OR n.region_id = $6) "
	    " AND ($7::text IS NULL OR n.kind = $7::national_kind) "
	    " AND ($8::text IS NULL OR n.needs @> ARRAY[$8::text]) "
	    " AND ($9::bigint IS NULL OR n.household_id = $9) "
	    " AND ($10::text IS NULL OR ($10 = 'none') <> EXISTS (SELECT 1 FROM contact c "
	    "  WHERE c.national_id = n.id AND ($10 IN ('any', 'none') OR c.kind = $10))) "
	    " AND (($11::text IS NULL AND $12::text IS NULL AND $13::text IS NULL) "
	    /* Only a role that sees passport numbers may search by one: no guessing a masked one.
	     */
	    "  OR n.name_key LIKE '%' || $11 || '%' OR ($1::bool AND n.passport_no = $13) "
	    "  OR n.id IN (SELECT c.national_id FROM contact c WHERE c.kind = 'phone' AND c.value "
	    "= $12)) "
	    " ORDER BY n.id LIMIT $5::int) n",
	    13, params);
}

/* GET /api/v1/nationals/{id} */
void
routes_nationals_get(struct http_ctx *ctx)
{
	char scope[24], id[24];
	const char *params[3];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	params[0] = nationals_show_passport(ctx);
	params[1] = auth_scope_param(ctx, scope);
	params[2] = id;
	db_reply_json(ctx, 200, "no such national",
	              "SELECT " NATIONAL_JSON "::text FROM national n WHERE n.id = $3::bigint "
	              "AND n.deleted_at IS NULL AND ($2::bigint IS NULL OR n.mission_id = $2)",
	              3, params);
}

/*
 * Deletes (soft) or restores one national of the caller's missions, audited:
 * sql updates national $6 within mission scope $5 and records $1..$4.
 */
static void
nationals_set_deleted(struct http_ctx *ctx, const char *not_found, const char *sql)
{
	char scope[24], id[24];
	struct audit_who who;
	const char *params[6];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	audit_params(ctx, &who, params);
	params[4] = auth_scope_param(ctx, scope);
	params[5] = id;
	db_reply_json(ctx, 200, not_found, sql, 6, params);
}

/* DELETE /api/v1/nationals/{id}: kept for the audit, gone from every list and campaign. */
void
routes_nationals_delete(struct http_ctx *ctx)
{
	nationals_set_deleted(ctx, "no such national",
	                      "SELECT national_set_deleted($6::bigint, $5::bigint, true, $1, $2, "
	                      "$3::bigint, $4)::text");
}

/*
 * POST /api/v1/nationals/{id}/restore: a deleted national back in lists and
 * campaigns (an import leaves deleted people out and names them). 409 if
 * someone registered since holds the same passport.
 */
void
routes_nationals_restore(struct http_ctx *ctx)
{
	nationals_set_deleted(ctx, "no such deleted national",
	                      "SELECT national_set_deleted($6::bigint, $5::bigint, false, $1, $2, "
	                      "$3::bigint, $4)::text");
}

/* Reads an optional text field of at most max bytes; false (and 400) if malformed. */
static bool
nationals_text(struct http_ctx *ctx, cJSON *body, const char *key, size_t max, const char **out)
{
	cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
	char detail[128];

	*out = NULL;
	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsString(v) || strlen(v->valuestring) > max) {
		snprintf(detail, sizeof detail, "%s: text of at most %zu bytes", key, max);
		http_reply_problem(ctx, 400, "bad request", detail);
		return false;
	}
	*out = v->valuestring;
	return true;
}

/* Reads an optional ISO date field into buf; false (and 400) if malformed. */
static bool
nationals_date(struct http_ctx *ctx, cJSON *body, const char *key, char buf[11], const char **out)
{
	const char *text;
	struct sf_date date;
	char err[96], detail[160];

	if (!nationals_text(ctx, body, key, 32, &text))
		return false;
	*out = NULL;
	if (text == NULL)
		return true;
	if (sf_date_parse(text, SF_DATE_ISO, &date, err, sizeof err) != 0 ||
	    sf_date_format_iso(&date, buf) != 0) {
		snprintf(detail, sizeof detail, "%s: %s", key, err);
		http_reply_problem(ctx, 400, "bad request", detail);
		return false;
	}
	*out = buf;
	return true;
}

/*
 * PATCH /api/v1/nationals/{id}: names, dates, passport, kind, needs,
 * languages, address, notes, household, and a new location {lat, lon,
 * accuracy_m} as staff saw it. Fields left out keep their value; null
 * clears one that may be empty.
 */
#define PATCH_NPARAMS 27

/* How often a change of names is tried again when the names changed under it. */
#define PATCH_NAME_TRIES 8

/*
 * A validated change. One that changes a name waits for the current names:
 * the search key covers both, and is written only if the names it was made
 * from are still the stored ones (compare-and-set), else made again.
 */
struct national_patch {
	struct http_ctx *ctx;
	char *params[PATCH_NPARAMS]; /* owned copies; NULL for SQL NULL */
	bool clears_ko, clears_latin;
	int tries;
};

/* Frees a pending patch. */
static void
national_patch_free(struct national_patch *np)
{
	for (int i = 0; i < PATCH_NPARAMS; i++)
		free(np->params[i]);
	free(np);
}

/* $24: the fields to clear; $25, $26: the names $23 (the search key) was made from. */
static const char national_patch_sql[] =
    "WITH old AS (SELECT * FROM national WHERE id = $6::bigint AND deleted_at IS NULL "
    " AND ($5::bigint IS NULL OR mission_id = $5)), "
    "hh AS (SELECT h.id FROM household h, old WHERE h.id = $19::bigint "
    " AND h.mission_id = old.mission_id), "
    "u AS (UPDATE national n SET "
    " name_ko = CASE WHEN 'name_ko' = ANY ($24::text[]) THEN NULL ELSE coalesce($7, n.name_ko) "
    "END, "
    " name_latin = CASE WHEN 'name_latin' = ANY ($24::text[]) THEN NULL "
    "  ELSE coalesce($8, n.name_latin) END, name_key = coalesce($23, n.name_key), "
    " birth_date = CASE WHEN 'birth_date' = ANY ($24::text[]) THEN NULL "
    "  ELSE coalesce($9::date, n.birth_date) END, "
    " passport_no = CASE WHEN 'passport_no' = ANY ($24::text[]) THEN NULL "
    "  ELSE coalesce($10, n.passport_no) END, "
    " kind = coalesce($11::national_kind, n.kind), "
    " arrival_date = CASE WHEN 'arrival_date' = ANY ($24::text[]) THEN NULL "
    "  ELSE coalesce($12::date, n.arrival_date) END, "
    " departure_date = CASE WHEN 'departure_date' = ANY ($24::text[]) THEN NULL "
    "  ELSE coalesce($13::date, n.departure_date) END, "
    " address = CASE WHEN 'address' = ANY ($24::text[]) THEN NULL "
    "  ELSE coalesce($14, n.address) END, "
    " residence_status = CASE WHEN 'residence_status' = ANY ($24::text[]) THEN NULL "
    "  ELSE coalesce($15, n.residence_status) END, "
    " notes = CASE WHEN 'notes' = ANY ($24::text[]) THEN NULL ELSE coalesce($16, n.notes) END, "
    " needs = coalesce($17::text[], n.needs), "
    " languages = coalesce($18::text[], n.languages), "
    " household_id = CASE WHEN 'household_id' = ANY ($24::text[]) THEN NULL "
    "  WHEN $19::bigint IS NULL THEN n.household_id ELSE (SELECT id FROM hh) END, "
    " updated_at = now() "
    " FROM old WHERE n.id = old.id AND ($19::bigint IS NULL OR EXISTS (SELECT 1 FROM hh)) "
    /* Rechecked on the newest row when another change got there first. */
    " AND ($25::text IS NULL OR (coalesce(n.name_ko, '') = $25 "
    "  AND coalesce(n.name_latin, '') = $26)) "
    " RETURNING n.*), "
    "loc AS (INSERT INTO location (national_id, point, accuracy_m, source) "
    " SELECT u.id, ST_SetSRID(ST_MakePoint($21::float8, $20::float8), 4326)::geography, "
    " nullif($22::real, 0), 'staff' FROM u WHERE $20::text IS NOT NULL RETURNING 1), "
    "a AS (SELECT audit_record($1, $2, $3::bigint, $4, 'national.update', 'national', "
    " u.id::text, json_build_object('fields', (SELECT json_agg(k) FROM unnest(ARRAY["
    " CASE WHEN $7 IS NOT NULL THEN 'name_ko' END, CASE WHEN $8 IS NOT NULL THEN 'name_latin' END, "
    " CASE WHEN $9 IS NOT NULL THEN 'birth_date' END, CASE WHEN $10 IS NOT NULL THEN 'passport_no' "
    "END, "
    " CASE WHEN $11 IS NOT NULL THEN 'kind' END, CASE WHEN $17 IS NOT NULL THEN 'needs' END, "
    " CASE WHEN $19 IS NOT NULL THEN 'household_id' END, CASE WHEN $20 IS NOT NULL THEN "
    " 'location' END] || coalesce($24::text[], '{}')) k WHERE k IS NOT NULL), "
    " 'mission_id', u.mission_id)::text) FROM u), "
    /*
     * Someone whose place, kind or dates change is queued for the running
     * check-ins in this same transaction: the join after the commit, or
     * safetyd's next drain, asks them, so no failure there loses them.
     */
    "jp AS (INSERT INTO join_pending (mission_id, national_id) SELECT u.mission_id, u.id FROM u "
    " WHERE $20::text IS NOT NULL OR $11::national_kind IS NOT NULL OR $12::date IS NOT NULL "
    " OR $13::date IS NOT NULL OR $24::text[] && ARRAY['arrival_date', 'departure_date'] "
    " RETURNING 1) "
    "SELECT u.id FROM u, (SELECT count(*) FROM a) ac, (SELECT count(*) FROM loc) lc, "
    " (SELECT count(*) FROM jp) jc";

static void national_patch_read_names(struct national_patch *np);

/* Answers with the national as it is now (new location included), and frees the patch. */
static void
national_patch_answer(struct national_patch *np)
{
	const char *params[3];

	params[0] = np->params[0];
	params[1] = np->params[5];
	params[2] = np->params[6];
	db_reply_json(np->ctx, 200, "no such national",
	              "SELECT " NATIONAL_JSON "::text FROM national n WHERE n.id = $3::bigint "
	              "AND ($2::bigint IS NULL OR n.mission_id = $2)",
	              3, params);
	national_patch_free(np);
}

/*
 * The change is stored either way: a failure to ask them is logged, and
 * safetyd's next drain of the queue asks them.
 */
static void
national_patch_joined(const struct db_result *r, void *arg)
{
	struct national_patch *np = arg;

	if (r->outcome != DB_OK)
		log_warn("national_join_failed", "national", np->params[6], "error", r->error);
	national_patch_answer(np);
}

/* Where the person is found changed: the place, the kind or the trip's dates. */
static bool
national_patch_moves(const struct national_patch *np)
{
	const char *cleared = np->params[24];

	return np->params[20] != NULL || np->params[11] != NULL || np->params[12] != NULL ||
	       np->params[13] != NULL ||
	       (cleared != NULL && (strstr(cleared, "arrival_date") != NULL ||
	                            strstr(cleared, "departure_date") != NULL));
}

/*
 * The change is committed, and the person queued with it. Someone it puts
 * inside the area of a check-in running for their mission is asked in it
 * now, as the launch would have; while a launch holds the mission this
 * waits for nothing and they stay queued for the drain after it. Then the
 * answer.
 */
static void
national_patch_done(const struct db_result *r, void *arg)
{
	struct national_patch *np = arg;
	const char *params[1];
	const char *cause;

	if (r->outcome == DB_SQL_ERROR && strcmp(r->sqlstate, "23514") == 0 &&
	    strstr(r->error, "national_trip_dates") != NULL) {
		/* With the dates stored: named by field, as the import names it. */
		http_reply_problem(np->ctx, 400, "bad request",
		                   "departure_date: before the arrival date, or a traveller "
		                   "without both dates; give both dates of the trip");
	} else if (r->outcome != DB_OK) {
		db_reply_error(np->ctx, r);
	} else if (PQntuples(r->res) != 1 && np->params[25] != NULL &&
	           ++np->tries < PATCH_NAME_TRIES) {
		/* Perhaps the names changed since they were read: read them again. */
		national_patch_read_names(np);
		return;
	} else if (PQntuples(r->res) != 1) {
		http_reply_problem(np->ctx, 404, "not found",
		                   "no such national, or no such household in its mission");
	} else if (!national_patch_moves(np)) {
		national_patch_answer(np);
		return;
	} else {
		params[0] = np->params[6];
		if (db_pool_query(np->ctx->d->db,
		                  "SELECT join_pending_drain(n.mission_id) "
		                  "FROM national n WHERE n.id = $1::bigint",
		                  1, params, national_patch_joined, np, &cause) != 0) {
			log_warn("national_join_failed", "national", np->params[6], "error", cause);
			national_patch_answer(np);
		}
		return;
	}
	national_patch_free(np);
}

/* Runs the change itself. */
static void
national_patch_apply(struct national_patch *np)
{
	const char *cause;

	/* $1 (passport shown) is for the answer, not the change. */
	if (db_pool_query(np->ctx->d->db, national_patch_sql, PATCH_NPARAMS - 1,
	                  (const char *const *)np->params + 1, national_patch_done, np,
	                  &cause) != 0) {
		http_reply_problem(np->ctx, 503, "service unavailable", cause);
		national_patch_free(np);
	}
}

/* The current names arrived: compute the search key of the names as they will be. */
static void
national_patch_names(const struct db_result *r, void *arg)
{
	struct national_patch *np = arg;
	const char *stored_ko, *stored_latin, *ko, *latin;
	char key_ko[SF_NAME_KEY_SIZE] = "", key_latin[SF_NAME_KEY_SIZE] = "";
	char key[2 * SF_NAME_KEY_SIZE + 2];

	if (r->outcome != DB_OK) {
		db_reply_error(np->ctx, r);
		national_patch_free(np);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_problem(np->ctx, 404, "not found", "no such national");
		national_patch_free(np);
		return;
	}
	stored_ko = PQgetvalue(r->res, 0, 0);
	stored_latin = PQgetvalue(r->res, 0, 1);
	/* The same names as at the last try: what failed was not a race on them. */
	if (np->params[25] != NULL && strcmp(np->params[25], stored_ko) == 0 &&
	    strcmp(np->params[26], stored_latin) == 0) {
		http_reply_problem(np->ctx, 404, "not found",
		                   "no such national, or no such household in its mission");
		national_patch_free(np);
		return;
	}
	ko = np->clears_ko ? "" : np->params[7] != NULL ? np->params[7] : stored_ko;
	latin = np->clears_latin ? "" : np->params[8] != NULL ? np->params[8] : stored_latin;
	if (*ko == '\0' && *latin == '\0') {
		http_reply_problem(np->ctx, 400, "bad request",
		                   "name_ko, name_latin: a national keeps at least one of the two "
		                   "names; both cannot be cleared");
		national_patch_free(np);
		return;
	}
	if (*ko != '\0' && sf_name_search_key(ko, key_ko, sizeof key_ko) != 0)
		key_ko[0] = '\0';
	if (*latin != '\0' && sf_name_search_key(latin, key_latin, sizeof key_latin) != 0)
		key_latin[0] = '\0';
	snprintf(key, sizeof key, "%s%s%s", key_ko, *key_ko && *key_latin ? " " : "", key_latin);
	free(np->params[23]);
	free(np->params[25]);
	free(np->params[26]);
	np->params[23] = xstrdup(key);
	np->params[25] = xstrdup(stored_ko);
	np->params[26] = xstrdup(stored_latin);
	national_patch_apply(np);
}

/* Reads the stored names, to make the search key from (national_patch_names). */
static void
national_patch_read_names(struct national_patch *np)
{
	const char *lookup[2] = {np->params[5], np->params[6]};
	const char *cause;

	if (db_pool_query(np->ctx->d->db,
	                  "SELECT coalesce(name_ko, ''), coalesce(name_latin, '') FROM national "
	                  "WHERE id = $2::bigint AND deleted_at IS NULL "
	                  "AND ($1::bigint IS NULL OR mission_id = $1)",
	                  2, lookup, national_patch_names, np, &cause) != 0) {
		http_reply_problem(np->ctx, 503, "service unavailable", cause);
		national_patch_free(np);
	}
}

/*
 * Finds the fields given as null: those that may be empty go in cleared (a
 * PostgreSQL array of their names); any other is answered 400 by name.
 */
static bool
nationals_cleared(struct http_ctx *ctx, cJSON *body, char *cleared, size_t size)
{
	static const char *const required[] = {"kind", "needs", "languages", "location", NULL};
	static const char *const clearable[] = {
	    "name_ko",        "name_latin", "birth_date", "passport_no",      "arrival_date",
	    "departure_date", "address",    "notes",      "residence_status", "household_id"};
	const size_t nclearable = sizeof clearable / sizeof clearable[0];
	unsigned chosen = 0;
	char detail[128];
	cJSON *item;

	cleared[0] = '\0';
	cJSON_ArrayForEach(item, body)
	{
		if (!cJSON_IsNull(item))
			continue;
		for (int i = 0; required[i] != NULL; i++) {
			if (strcmp(item->string, required[i]) == 0) {
				snprintf(detail, sizeof detail, "%s: required, cannot be cleared",
				         item->string);
				http_reply_problem(ctx, 400, "bad request", detail);
				return false;
			}
		}
		chosen |= pg_name_bit(clearable, nclearable, item->string);
	}
	/* A set written in a fixed order: at most every name once, well inside size. */
	if (chosen != 0)
		pg_name_set_literal(clearable, nclearable, chosen, cleared, size);
	return true;
}

void
routes_nationals_update(struct http_ctx *ctx)
{
	static const char *const known[] = {
	    "name_ko",      "name_latin",     "birth_date",   "passport_no",      "kind",
	    "arrival_date", "departure_date", "address",      "residence_status", "notes",
	    "needs",        "languages",      "household_id", "location",         NULL};
	char scope[24], id[24], birth[11], arrival[11], departure[11];
	char name_ko[256], name_latin[256], passport[SF_PASSPORT_MAX + 1], lat[32], lon[32], acc[32], hh[24];
	char needs[128], langs[128], err[128], detail[192], cleared[256];
	const char *v_ko, *v_latin, *v_birth, *v_passport, *v_kind, *v_arr, *v_dep, *v_addr;
	const char *v_status, *v_notes;
	const char *params[PATCH_NPARAMS];
	struct audit_who who;
	cJSON *body, *item, *loc, *arr;
	bool has_loc = false;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	if (!http_json_known(ctx, body, known) ||
	    !nationals_cleared(ctx, body, cleared, sizeof cleared))
		goto out;
	if (!nationals_text(ctx, body, "name_ko", 200, &v_ko) ||
	    !nationals_text(ctx, body, "name_latin", 200, &v_latin) ||
	    !nationals_date(ctx, body, "birth_date", birth, &v_birth) ||
	    !nationals_text(ctx, body, "passport_no", 32, &v_passport) ||
	    !nationals_text(ctx, body, "kind", 16, &v_kind) ||
	    !nationals_date(ctx, body, "arrival_date", arrival, &v_arr) ||
	    !nationals_date(ctx, body, "departure_date", departure, &v_dep) ||
	    !nationals_text(ctx, body, "address", 500, &v_addr) ||
	    !nationals_text(ctx, body, "residence_status", 100, &v_status) ||
	    !nationals_text(ctx, body, "notes", 2000, &v_notes))
		goto out;
	/* The import's rules: each name in its own script, free text without control characters. */
	if (v_ko != NULL) {
		if (sf_name_normalize(v_ko, name_ko, sizeof name_ko, err, sizeof err) != 0)
			goto bad_name;
		if (sf_name_script(name_ko) == SF_SCRIPT_LATIN ||
		    sf_name_script(name_ko) == SF_SCRIPT_OTHER ||
		    strpbrk(name_ko, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") !=
		        NULL) {
			http_reply_problem(
			    ctx, 400, "bad request",
			    "name_ko: no Hangul letters; a Latin name goes in name_latin");
			goto out;
		}
		v_ko = name_ko;
	}
	if (v_latin != NULL) {
		if (sf_name_normalize(v_latin, name_latin, sizeof name_latin, err, sizeof err) != 0)
			goto bad_name;
		if (sf_name_script(name_latin) != SF_SCRIPT_LATIN) {
			http_reply_problem(ctx, 400, "bad request",
			                   "name_latin: not all in Latin letters");
			goto out;
		}
		v_latin = name_latin;
	}
	if ((v_addr != NULL && !text_clean(v_addr, 500, false)) ||
	    (v_status != NULL && !text_clean(v_status, 100, false)) ||
	    (v_notes != NULL && !text_clean(v_notes, 2000, true))) {
		http_reply_problem(ctx, 400, "bad request",
		                   "address, residence_status, notes: control characters or bytes "
		                   "that are not UTF-8 (line breaks only in notes)");
		goto out;
	}
	if (v_passport != NULL) {
		char why[96];

		/* The import's rule, so a number staff type matches the rows of a roster. */
		if (sf_passport_normalize(v_passport, passport, why, sizeof why) != 0) {
			http_reply_problem(ctx, 400, "bad request", why);
			goto out;
		}
		v_passport = passport;
	}
	if (v_arr != NULL && v_dep != NULL && strcmp(v_dep, v_arr) < 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "departure_date: before the arrival date");
		goto out;
	}
	if (v_kind != NULL && strcmp(v_kind, "resident") != 0 && strcmp(v_kind, "traveller") != 0) {
		http_reply_problem(ctx, 400, "bad request", "kind: resident or traveller");
		goto out;
	}
	needs[0] = langs[0] = '\0';
	arr = cJSON_GetObjectItemCaseSensitive(body, "needs");
	if (arr != NULL) {
		size_t off = 0;
		cJSON *e;
		if (!cJSON_IsArray(arr))
			goto bad_needs;
		needs[off++] = '{';
		cJSON_ArrayForEach(e, arr)
		{
			if (!cJSON_IsString(e) ||
			    (strcmp(e->valuestring, "child") != 0 &&
			     strcmp(e->valuestring, "elderly") != 0 &&
			     strcmp(e->valuestring, "pregnant") != 0 &&
			     strcmp(e->valuestring, "disability") != 0 &&
			     strcmp(e->valuestring, "medical") != 0) ||
			    off + 14 >= sizeof needs)
				goto bad_needs;
			off += (size_t)snprintf(needs + off, sizeof needs - off, "%s%s",
			                        off > 1 ? "," : "", e->valuestring);
		}
		needs[off++] = '}';
		needs[off] = '\0';
	}
	arr = cJSON_GetObjectItemCaseSensitive(body, "languages");
	if (arr != NULL) {
		size_t off = 0;
		cJSON *e;
		if (!cJSON_IsArray(arr))
			goto bad_langs;
		langs[off++] = '{';
		cJSON_ArrayForEach(e, arr)
		{
			if (!cJSON_IsString(e) || strlen(e->valuestring) != 2 ||
			    !islower((unsigned char)e->valuestring[0]) ||
			    !islower((unsigned char)e->valuestring[1]) || off + 4 >= sizeof langs)
				goto bad_langs;
			off += (size_t)snprintf(langs + off, sizeof langs - off, "%s%s",
			                        off > 1 ? "," : "", e->valuestring);
		}
		langs[off++] = '}';
		langs[off] = '\0';
	}
	hh[0] = '\0';
	item = cJSON_GetObjectItemCaseSensitive(body, "household_id");
	if (item != NULL && !cJSON_IsNull(item)) {
		if (!cJSON_IsNumber(item) || item->valuedouble < 1 || item->valuedouble > 1e15) {
			http_reply_problem(ctx, 400, "bad request",
			                   "household_id: a household's id");
			goto out;
		}
		snprintf(hh, sizeof hh, "%lld", (long long)item->valuedouble);
	}
	loc = cJSON_GetObjectItemCaseSensitive(body, "location");
	if (loc != NULL) {
		cJSON *la = cJSON_GetObjectItemCaseSensitive(loc, "lat");
		cJSON *lo = cJSON_GetObjectItemCaseSensitive(loc, "lon");
		cJSON *ac = cJSON_GetObjectItemCaseSensitive(loc, "accuracy_m");
		if (!cJSON_IsNumber(la) || !cJSON_IsNumber(lo) || la->valuedouble < -90 ||
		    la->valuedouble > 90 || lo->valuedouble < -180 || lo->valuedouble > 180 ||
		    (ac != NULL &&
		     (!cJSON_IsNumber(ac) || ac->valuedouble < 0 || ac->valuedouble > 1e7))) {
			http_reply_problem(ctx, 400, "bad request",
			                   "location: {\"lat\": -90..90, \"lon\": -180..180, "
			                   "\"accuracy_m\": metres}");
			goto out;
		}
		snprintf(lat, sizeof lat, "%.7f", la->valuedouble);
		snprintf(lon, sizeof lon, "%.7f", lo->valuedouble);
		snprintf(acc, sizeof acc, "%.1f", ac != NULL ? ac->valuedouble : 0.0);
		has_loc = true;
	}
	audit_params(ctx, &who, params + 1);
	params[0] = nationals_show_passport(ctx);
	params[5] = auth_scope_param(ctx, scope);
	params[6] = id;
	params[7] = v_ko;
	params[8] = v_latin;
	params[9] = v_birth;
	params[10] = v_passport;
	params[11] = v_kind;
	params[12] = v_arr;
	params[13] = v_dep;
	params[14] = v_addr;
	params[15] = v_status;
	params[16] = v_notes;
	params[17] = needs[0] != '\0' ? needs : NULL;
	params[18] = langs[0] != '\0' ? langs : NULL;
	params[19] = hh[0] != '\0' ? hh : NULL;
	params[20] = has_loc ? lat : NULL;
	params[21] = has_loc ? lon : NULL;
	params[22] = has_loc ? acc : NULL;
	params[23] = NULL;
	params[24] = cleared[0] != '\0' ? cleared : NULL;
	params[25] = params[26] = NULL;
	{
		struct national_patch *np = xcalloc(1, sizeof *np);

		np->ctx = ctx;
		for (int i = 0; i < PATCH_NPARAMS; i++)
			np->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
		np->clears_ko = cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, "name_ko"));
		np->clears_latin =
		    cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(body, "name_latin"));
		if (v_ko == NULL && v_latin == NULL && !np->clears_ko && !np->clears_latin)
			national_patch_apply(np);
		else
			national_patch_read_names(np);
	}
	goto out;
bad_name:
	snprintf(detail, sizeof detail, "name: %s", err);
	http_reply_problem(ctx, 400, "bad request", detail);
	goto out;
bad_needs:
	http_reply_problem(ctx, 400, "bad request",
	                   "needs: a list of child, elderly, pregnant, disability, medical");
	goto out;
bad_langs:
	http_reply_problem(ctx, 400, "bad request", "languages: a list of ISO 639-1 codes");
out:
	cJSON_Delete(body);
}

/*
 * POST /api/v1/nationals/in-area {"area": GeoJSON Polygon|MultiPolygon} or
 * {"circle": {"lat", "lon", "radius_m"}}, optional "on" (date) and
 * "mission_id" (accounts that see every mission: absent counts them all):
 * how many nationals are inside, by region, read as a declare reads them.
 */
void
routes_nationals_in_area(struct http_ctx *ctx)
{
	cJSON *body = http_read_json(ctx), *area, *circle, *mission;
	char scope[24], mission_buf[24], on_buf[11], lat[32], lon[32], radius[32];
	const char *on, *mission_id, *area_text = NULL;
	char *area_json = NULL;
	const char *params[7];

	if (body == NULL)
		return;
	area = cJSON_GetObjectItemCaseSensitive(body, "area");
	circle = cJSON_GetObjectItemCaseSensitive(body, "circle");
	mission = cJSON_GetObjectItemCaseSensitive(body, "mission_id");
	if (!nationals_date(ctx, body, "on", on_buf, &on))
		goto out;
	mission_id = auth_scope_param(ctx, scope);
	/* Accounts that see every mission count one mission, or all of them when none is named. */
	if (mission_id == NULL && mission != NULL && !cJSON_IsNull(mission)) {
		if (!cJSON_IsNumber(mission) || mission->valuedouble < 1 ||
		    mission->valuedouble > 1e15) {
			http_reply_problem(ctx, 400, "bad request",
			                   "mission_id: a mission id, or leave it out to count "
			                   "every mission");
			goto out;
		}
		snprintf(mission_buf, sizeof mission_buf, "%lld", (long long)mission->valuedouble);
		mission_id = mission_buf;
	}
	lat[0] = lon[0] = radius[0] = '\0';
	if ((area != NULL) == (circle != NULL)) {
		http_reply_problem(ctx, 400, "bad request", "give either area (GeoJSON) or circle");
		goto out;
	}
	if (area != NULL) {
		if (!geojson_area_ok(area)) {
			http_reply_problem(
			    ctx, 400, "bad request",
			    "area: a GeoJSON Polygon or MultiPolygon: closed rings of four "
			    "or more [lon, lat] positions in range");
			goto out;
		}
		area_json = cJSON_PrintUnformatted(area);
		area_text = area_json;
	} else {
		cJSON *la = cJSON_GetObjectItemCaseSensitive(circle, "lat");
		cJSON *lo = cJSON_GetObjectItemCaseSensitive(circle, "lon");
		cJSON *r = cJSON_GetObjectItemCaseSensitive(circle, "radius_m");
		if (!cJSON_IsNumber(la) || !cJSON_IsNumber(lo) || !cJSON_IsNumber(r) ||
		    la->valuedouble < -90 || la->valuedouble > 90 || lo->valuedouble < -180 ||
		    lo->valuedouble > 180 || r->valuedouble <= 0 || r->valuedouble > 5e6) {
			/* The limit a declared circle has. */
			http_reply_problem(ctx, 400, "bad request",
			                   "circle: {\"lat\": -90..90, \"lon\": -180..180, "
			                   "\"radius_m\": 1..5000000}");
			goto out;
		}
		snprintf(lat, sizeof lat, "%.7f", la->valuedouble);
		snprintf(lon, sizeof lon, "%.7f", lo->valuedouble);
		snprintf(radius, sizeof radius, "%.1f", r->valuedouble);
	}
	params[0] = mission_id;
	params[1] = area_text;
	params[2] = on;
	params[3] = area_text == NULL ? lat : NULL;
	params[4] = area_text == NULL ? lon : NULL;
	params[5] = area_text == NULL ? radius : NULL;
	params[6] = NULL;
	db_reply_json(
	    ctx, 200, "",
	    /* The area read as crisis_declare reads it, so the preview counts what a declare
	       stores. */
	    "WITH shape AS (SELECT area_from_geojson($2)::geography AS g), "
	    "missions AS (SELECT m.id FROM mission m WHERE $1::bigint IS NULL OR m.id = $1), "
	    "hit AS (SELECT t.* FROM missions m, shape s, LATERAL nationals_in_area(m.id, s.g, "
	    "  coalesce($3::date, current_date)) t WHERE $2 IS NOT NULL "
	    " UNION ALL SELECT t.* FROM missions m, LATERAL nationals_near(m.id, "
	    "ST_SetSRID(ST_MakePoint($5::float8, "
	    "  $4::float8), 4326)::geography, $6::float8, coalesce($3::date, current_date)) t "
	    "  WHERE $2 IS NULL), "
	    "by_region AS (SELECT h.region_id, count(*) AS n FROM hit h GROUP BY h.region_id) "
	    "SELECT json_build_object('mission_id', $1::bigint, 'on', coalesce($3::date, "
	    "current_date), "
	    " 'count', (SELECT coalesce(sum(n), 0) FROM by_region), "
	    " 'by_region', (SELECT coalesce(json_agg(json_build_object('region_id', b.region_id, "
	    "  'code', r.code, 'name', r.name, 'count', b.n) ORDER BY b.n DESC), '[]'::json) "
	    "  FROM by_region b LEFT JOIN region r ON r.id = b.region_id))::text",
	    6, params);
out:
	free(area_json);
	cJSON_Delete(body);
}

/*
 * GET /api/v1/nationals/export.csv?mission=: the caller's nationals as CSV
 * with the import's own headers, so an export can be edited and imported
 * again. Passport numbers are masked as in every other answer.
 */
void
routes_nationals_export(struct http_ctx *ctx)
{
	char scope[24], mission_buf[24];
	const char *mission;
	const char *params[3];

	if (!nationals_id_param(ctx, "mission", mission_buf, &mission))
		return;
	params[0] = nationals_show_passport(ctx);
	params[1] = auth_scope_param(ctx, scope);
	params[2] = mission;
	http_add_header(ctx, "Content-Disposition", "attachment; filename=\"nationals.csv\"");
	db_reply_text(
	    ctx, "text/csv; charset=utf-8",
	    "SELECT E'\\uFEFF' || 'id,mission,name_ko,name_latin,birth_date,passport_no,kind,"
	    "arrival_date,departure_date,household,needs,languages,phone,email,lat,lon,"
	    "address,notes' || E'\\r\\n' || coalesce(string_agg(concat_ws(',', n.id, "
	    "csv_field(m.code), csv_field(n.name_ko), csv_field(n.name_latin), "
	    "coalesce(n.birth_date::text, ''), "
	    "csv_field(CASE WHEN n.passport_no IS NULL THEN NULL WHEN $1::bool THEN "
	    " n.passport_no ELSE left(n.passport_no, 1) || repeat('*', length(n.passport_no) "
	    " - 3) || right(n.passport_no, 2) END), n.kind, coalesce(n.arrival_date::text, ''), "
	    "coalesce(n.departure_date::text, ''), "
	    /* A household the file never named is written as #id, which the import reads back. */
	    "csv_field(coalesce(h.external_ref, '#' || n.household_id)), "
	    "csv_field(array_to_string(n.needs, "
	    "';')), csv_field(array_to_string(n.languages, ';')), csv_field((SELECT "
	    "string_agg(c.value, ';' ORDER BY c.priority, c.id) FROM contact c WHERE "
	    "c.national_id = n.id AND c.kind = 'phone')), csv_field((SELECT string_agg(c.value, "
	    "';' ORDER BY c.priority, c.id) FROM contact c WHERE c.national_id = n.id AND "
	    "c.kind = 'email')), coalesce(round(ST_Y(n.last_point::geometry)::numeric, 6)::text, "
	    "''), coalesce(round(ST_X(n.last_point::geometry)::numeric, 6)::text, ''), "
	    "csv_field(n.address), "
	    "csv_field(n.notes)), E'\\r\\n' ORDER BY n.id) || E'\\r\\n', '') "
	    "FROM national n JOIN mission m ON m.id = n.mission_id "
	    "LEFT JOIN household h ON h.id = n.household_id WHERE n.deleted_at IS NULL "
	    "AND ($2::bigint IS NULL OR n.mission_id = $2) "
	    "AND ($3::bigint IS NULL OR n.mission_id = $3)",
	    3, params);
}

/* Tells whether a duress word has a space of any kind in it. */
static bool
duress_word_has_space(const char *w)
{
	const uint8_t *u = (const uint8_t *)w;
	size_t n = strlen(w);

	for (size_t i = 0; i < n;) {
		ucs4_t c;
		int l = u8_mbtouc(&c, u + i, n - i);

		if (uc_is_property_white_space(c) || uc_is_general_category(c, UC_CATEGORY_Z))
			return true;
		i += (size_t)(l > 0 ? l : 1);
	}
	return false;
}

/*
 * POST /api/v1/nationals/{id}/duress-word {"word": "..."}: sets (or, with an
 * empty word, removes) the national's private duress word, stored only as a
 * keyed hash. Staff set it when the national asks them to, by phone or in
 * person; it is never shown again.
 */
void
routes_nationals_duress(struct http_ctx *ctx)
{
	cJSON *body, *word;
	char scope[24], id[24], hash[65];
	struct audit_who who;
	const char *params[7];
	bool clear;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	word = cJSON_GetObjectItemCaseSensitive(body, "word");
	if (!cJSON_IsString(word) || strlen(word->valuestring) > 100) {
		http_reply_problem(ctx, 400, "bad request",
		                   "word: text of at most 100 bytes, or \"\" to remove");
		cJSON_Delete(body);
		return;
	}
	clear = word->valuestring[0] == '\0';
	if (!clear && duress_word_has_space(word->valuestring)) {
		/* A reply is read word by word: a word of several words could be missed. */
		http_reply_problem(ctx, 400, "bad request",
		                   "word: one word, without spaces (\"무궁화\", not \"무궁 화\")");
		cJSON_Delete(body);
		return;
	}
	/* A reply is read as words split at anything else: "c++", "🌻" or "jean-luc" could be
	 * missed. */
	if (!clear && !replies_word_is_plain(word->valuestring)) {
		http_reply_problem(ctx, 400, "bad request",
		                   "word: letters and digits only, without symbols, emoji or "
		                   "punctuation (\"jeanluc\", not \"jean-luc\")");
		cJSON_Delete(body);
		return;
	}
	if (!clear && replies_duress_hash(ctx->d, word->valuestring, hash) != 0) {
		http_reply_problem(ctx, 400, "bad request", "word: it needs letters or digits");
		cJSON_Delete(body);
		return;
	}
	memset(word->valuestring, 0, strlen(word->valuestring));
	cJSON_Delete(body);
	audit_params(ctx, &who, params);
	params[4] = auth_scope_param(ctx, scope);
	params[5] = id;
	params[6] = clear ? NULL : hash;
	db_reply_status(
	    ctx, 204, "no such national",
	    "WITH n AS (UPDATE national SET duress_hash = $7, updated_at = now() "
	    " WHERE id = $6::bigint AND deleted_at IS NULL "
	    " AND ($5::bigint IS NULL OR mission_id = $5) RETURNING id, mission_id) "
	    "SELECT audit_record($1, $2, $3::bigint, $4, 'national.duress_word', 'national', "
	    " n.id::text, json_build_object('set', $7::text IS NOT NULL)::text) FROM n",
	    7, params);
}
