/*
 * Shelters and assembly points as the crisis team keeps them up to date:
 * list (with the load), add one, change capacity, occupancy, facilities or
 * close it; and the mission's regions with how many nationals live in each.
 * Bulk loads stay with `safetyctl import shelters|regions` (GeoJSON).
 */
#include "routes.h"

#include "audit.h"
#include "auth.h"
#include "daemon.h"
#include "db_reply.h"
#include "text.h"
#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const shelter_kinds[] = {"shelter", "assembly_point",  "embassy", "hotel",
                                            "airport", "border_crossing", NULL};

/* A page of shelters: the map wants them all, so pages are large. */
#define SHELTERS_PAGE_MAX 5000

/*
 * GET /api/v1/shelters?mission_id=&after=&limit=: in id order, at most
 * limit (1..5000, 5000 by default) a page; "next" is the after of the next
 * page, null on the last.
 */
void
routes_shelters_list(struct http_ctx *ctx)
{
	char scope[24], after_buf[24], limit[8];
	const char *params[3];

	if (!http_page_sized(ctx, &params[1], after_buf, limit, SHELTERS_PAGE_MAX,
	                     SHELTERS_PAGE_MAX))
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[2] = limit;
	db_reply_json(
	    ctx, 200, "",
	    "SELECT json_build_object('items', coalesce(json_agg(json_build_object('id', s.id, "
	    " 'mission_id', s.mission_id, 'kind', s.kind, 'name', s.name, 'address', s.address, "
	    " 'lat', round(ST_Y(s.point::geometry)::numeric, 6), "
	    " 'lon', round(ST_X(s.point::geometry)::numeric, 6), 'capacity', s.capacity, "
	    " 'occupancy', s.occupancy, 'medical', s.medical, 'accessible', s.accessible, "
	    " 'open', s.open, 'version', s.version, 'updated_at', s.updated_at) ORDER BY s.id), "
	    " '[]'), "
	    " 'next', CASE WHEN count(*) = $3::int THEN max(s.id)::text END)::text "
	    "FROM (SELECT * FROM shelter WHERE ($1::bigint IS NULL OR mission_id = $1) "
	    " AND id > coalesce($2::bigint, 0) ORDER BY id LIMIT $3::int) s",
	    3, params);
}

/* GET /api/v1/regions?mission_id= */
void
routes_regions_list(struct http_ctx *ctx)
{
	char scope[24];
	const char *params[1];

	params[0] = auth_scope_param(ctx, scope);
	db_reply_json(
	    ctx, 200, "",
	    "SELECT json_build_object('items', coalesce(json_agg(json_build_object('id', r.id, "
	    " 'mission_id', r.mission_id, 'code', r.code, 'name', r.name, 'nationals', "
	    " (SELECT count(*) FROM national n WHERE n.region_id = r.id AND n.deleted_at IS NULL)) "
	    " ORDER BY r.mission_id, r.name), '[]'))::text FROM region r "
	    "WHERE ($1::bigint IS NULL OR r.mission_id = $1)",
	    1, params);
}

/* Reads the optional fields both create and change take; false when one is bad (answered). */
static bool
shelter_fields(struct http_ctx *ctx, cJSON *body, const char **v, char num[5][24])
{
	/* v: kind, name, address, capacity, occupancy, medical, accessible, open, lat, lon */
	static const char *const text_keys[] = {"kind", "name", "address"};
	static const size_t text_max[] = {32, 300, 500};
	static const char *const int_keys[] = {"capacity", "occupancy"};
	static const char *const bool_keys[] = {"medical", "accessible", "open"};
	static const char *const known[] = {"kind",      "name",    "address",    "capacity",
	                                    "occupancy", "medical", "accessible", "open",
	                                    "lat",       "lon",     "mission_id", NULL};
	char detail[160];

	if (!http_json_known(ctx, body, known))
		return false;
	for (int i = 0; i < 3; i++) {
		cJSON *x = cJSON_GetObjectItemCaseSensitive(body, text_keys[i]);
		v[i] = NULL;
		if (x == NULL || cJSON_IsNull(x))
			continue;
		if (!cJSON_IsString(x) || !text_clean(x->valuestring, text_max[i], false) ||
		    (i == 1 && x->valuestring[0] == '\0')) {
			snprintf(detail, sizeof detail,
			         "%s: text of 1 to %zu bytes, no control characters", text_keys[i],
			         text_max[i]);
			http_reply_problem(ctx, 400, "bad request", detail);
			return false;
		}
		v[i] = x->valuestring;
	}
	if (v[0] != NULL) {
		bool ok = false;
		for (int i = 0; shelter_kinds[i] != NULL; i++)
			ok = ok || strcmp(v[0], shelter_kinds[i]) == 0;
		if (!ok) {
			http_reply_problem(
			    ctx, 400, "bad request",
			    "kind: shelter, assembly_point, embassy, hotel, airport or "
			    "border_crossing");
			return false;
		}
	}
	for (int i = 0; i < 2; i++) {
		cJSON *x = cJSON_GetObjectItemCaseSensitive(body, int_keys[i]);
		v[3 + i] = NULL;
		if (x == NULL || cJSON_IsNull(x))
			continue;
		if (!cJSON_IsNumber(x) || x->valuedouble < 0 || x->valuedouble > 10000000 ||
		    x->valuedouble != floor(x->valuedouble)) {
			snprintf(detail, sizeof detail, "%s: a whole number from 0 to 10,000,000",
			         int_keys[i]);
			http_reply_problem(ctx, 400, "bad request", detail);
			return false;
		}
		snprintf(num[i], sizeof num[i], "%.0f", x->valuedouble);
		v[3 + i] = num[i];
	}
	for (int i = 0; i < 3; i++) {
		cJSON *x = cJSON_GetObjectItemCaseSensitive(body, bool_keys[i]);
		v[5 + i] = NULL;
		if (x == NULL || cJSON_IsNull(x))
			continue;
		if (!cJSON_IsBool(x)) {
			snprintf(detail, sizeof detail, "%s: true or false", bool_keys[i]);
			http_reply_problem(ctx, 400, "bad request", detail);
			return false;
		}
		v[5 + i] = cJSON_IsTrue(x) ? "true" : "false";
	}
	{
		cJSON *la = cJSON_GetObjectItemCaseSensitive(body, "lat");
		cJSON *lo = cJSON_GetObjectItemCaseSensitive(body, "lon");
		v[8] = v[9] = NULL;
		if ((la == NULL) != (lo == NULL) ||
		    (la != NULL && (!cJSON_IsNumber(la) || !cJSON_IsNumber(lo) ||
		                    fabs(la->valuedouble) > 90 || fabs(lo->valuedouble) > 180))) {
			http_reply_problem(ctx, 400, "bad request",
			                   "lat, lon: both, as numbers (-90..90, -180..180)");
			return false;
		}
		if (la != NULL) {
			snprintf(num[2], sizeof num[2], "%.7f", la->valuedouble);
			snprintf(num[3], sizeof num[3], "%.7f", lo->valuedouble);
			v[8] = num[2];
			v[9] = num[3];
		}
	}
	return true;
}

static const char shelter_json[] =
    "json_build_object('id', s.id, 'mission_id', s.mission_id, 'kind', s.kind, 'name', s.name, "
    " 'address', s.address, 'lat', round(ST_Y(s.point::geometry)::numeric, 6), "
    " 'lon', round(ST_X(s.point::geometry)::numeric, 6), 'capacity', s.capacity, "
    " 'occupancy', s.occupancy, 'medical', s.medical, 'accessible', s.accessible, 'open', s.open, "
    " 'version', s.version)";

/* POST /api/v1/shelters {kind, name, lat, lon, capacity, ...; mission_id for those who see all} */
void
routes_shelters_create(struct http_ctx *ctx)
{
	cJSON *body = http_read_json(ctx), *m;
	const char *v[10], *params[15];
	char num[5][24], scope[24], mission[24];
	struct audit_who who;
	const char *who_params[AUDIT_NPARAMS];
	char *sql;

	if (body == NULL)
		return;
	if (!shelter_fields(ctx, body, v, num))
		goto out;
	if (v[0] == NULL || v[1] == NULL || v[8] == NULL) {
		http_reply_problem(ctx, 400, "bad request", "kind, name, lat and lon are required");
		goto out;
	}
	params[0] = auth_scope_param(ctx, scope);
	if (params[0] == NULL) {
		m = cJSON_GetObjectItemCaseSensitive(body, "mission_id");
		if (!cJSON_IsNumber(m) || m->valuedouble < 1 ||
		    m->valuedouble != floor(m->valuedouble) || m->valuedouble > 1e15) {
			http_reply_problem(
			    ctx, 400, "bad request",
			    "mission_id: required for accounts that see every mission");
			goto out;
		}
		snprintf(mission, sizeof mission, "%.0f", m->valuedouble);
		params[0] = mission;
	}
	for (int i = 0; i < 10; i++)
		params[1 + i] = v[i];
	audit_params(ctx, &who, who_params);
	params[11] = who_params[0];
	params[12] = who_params[1];
	params[13] = who_params[3];
	xasprintf(
	    &sql,
	    "WITH s AS (INSERT INTO shelter (mission_id, kind, name, address, capacity, occupancy, "
	    " medical, accessible, open, point) SELECT m.id, $2::shelter_kind, $3, $4, "
	    " coalesce($5::int, 0), coalesce($6::int, 0), coalesce($7::bool, false), "
	    " coalesce($8::bool, false), coalesce($9::bool, true), "
	    " ST_SetSRID(ST_MakePoint($11::float8, $10::float8), 4326)::geography "
	    " FROM mission m WHERE m.id = $1::bigint RETURNING *), "
	    "a AS (SELECT audit_record($12, $13, s.mission_id, $14, 'shelter.create', 'shelter', "
	    " s.id::text, json_build_object('name', s.name, 'capacity', s.capacity)::text) FROM s) "
	    "SELECT %s::text FROM s, (SELECT count(*) FROM a) x",
	    shelter_json);
	db_reply_json(ctx, 201, "no such mission", sql, 14, params);
	free(sql);
out:
	cJSON_Delete(body);
}

/*
 * Reads the version an edit was made on: If-Match ("N", W/"N" or *, as the
 * ETag gave it) or the body's "version". *out is NULL when none is given (a
 * change made on whatever is stored). False (and 400) when malformed.
 */
static bool
shelter_if_match(struct http_ctx *ctx, cJSON *body, char buf[24], const char **out)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "If-Match");
	cJSON *v = cJSON_GetObjectItemCaseSensitive(body, "version");
	size_t n;

	*out = NULL;
	if (h != NULL) {
		while (*h == ' ')
			h++;
		if (strcmp(h, "*") == 0)
			return true;
		if (strncmp(h, "W/", 2) == 0)
			h += 2;
		n = strlen(h);
		while (n > 0 && h[n - 1] == ' ')
			n--;
		if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
			h++;
			n -= 2;
		}
		if (n == 0 || n >= 19 || strspn(h, "0123456789") != n) {
			http_reply_problem(ctx, 400, "bad request",
			                   "If-Match: the shelter's ETag as read, such as \"3\"");
			return false;
		}
		memcpy(buf, h, n);
		buf[n] = '\0';
		*out = buf;
	} else if (v != NULL) {
		if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e15 ||
		    v->valuedouble != floor(v->valuedouble)) {
			http_reply_problem(ctx, 400, "bad request",
			                   "version: the shelter's version as read");
			return false;
		}
		snprintf(buf, 24, "%.0f", v->valuedouble);
		*out = buf;
	}
	return true;
}

/* A change refused on its version: the shelter as stored now. */
struct shelter_refused {
	struct http_ctx *ctx;
	char id[24], scope[24];
	bool scoped;
};

/*
 * The 412's values and ETag, from one read of the shelter as it is now: the
 * update's own snapshot may predate the change that refused it (a writer who
 * committed while the update waited for the row), and an ETag from it
 * would be refused again.
 */
static void
shelter_refused_read(const struct db_result *r, void *arg)
{
	struct shelter_refused *sr = arg;
	struct http_ctx *ctx = sr->ctx;
	char etag[32], detail[256];

	free(sr);
	if (r->outcome != DB_OK) {
		db_reply_error(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_problem(ctx, 404, "not found", "no such shelter");
		return;
	}
	snprintf(etag, sizeof etag, "\"%s\"", PQgetvalue(r->res, 0, 0));
	http_add_header(ctx, "ETag", etag);
	snprintf(detail, sizeof detail,
	         "the shelter was changed by someone else since it was read (it now has "
	         "occupancy %s of %s and is %s); nothing was saved: read it again and "
	         "make the change on what it is now",
	         PQgetvalue(r->res, 0, 1), PQgetvalue(r->res, 0, 2),
	         strcmp(PQgetvalue(r->res, 0, 3), "t") == 0 ? "open" : "closed");
	http_reply_problem(ctx, 412, "precondition failed", detail);
}

/* The change ran: the shelter as it is now, or 412 if it changed since it was read. */
static void
shelter_update_done(const struct db_result *r, void *arg)
{
	struct shelter_refused *sr = arg;
	struct http_ctx *ctx = sr->ctx;
	const char *params[2], *cause;
	char etag[32];

	if (r->outcome != DB_OK) {
		db_reply_error(ctx, r);
		free(sr);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_problem(ctx, 404, "not found", "no such shelter");
		free(sr);
		return;
	}
	if (PQgetisnull(r->res, 0, 0)) {
		params[0] = sr->scoped ? sr->scope : NULL;
		params[1] = sr->id;
		if (db_pool_query(
		        ctx->d->db,
		        "SELECT version, occupancy, capacity, open FROM shelter "
		        "WHERE id = $2::bigint AND ($1::bigint IS NULL OR mission_id = $1)",
		        2, params, shelter_refused_read, sr, &cause) != 0) {
			http_reply_problem(ctx, 503, "service unavailable", cause);
			free(sr);
		}
		return;
	}
	free(sr);
	snprintf(etag, sizeof etag, "\"%s\"", PQgetvalue(r->res, 0, 1));
	http_add_header(ctx, "ETag", etag);
	http_reply_bytes(ctx, 200, "application/json", PQgetvalue(r->res, 0, 0),
	                 (size_t)PQgetlength(r->res, 0, 0));
}

/*
 * PATCH /api/v1/shelters/{id}: any of kind, name, address, capacity,
 * occupancy, facilities, open. With If-Match (or "version"), only if the
 * shelter is still as it was read: 412 otherwise, so a value set from a
 * stale list never overwrites a newer one.
 */
void
routes_shelters_update(struct http_ctx *ctx)
{
	cJSON *body;
	const char *v[10], *params[16], *cause;
	char num[5][24], scope[24], id[24], version[24];
	struct audit_who who;
	const char *who_params[AUDIT_NPARAMS];
	struct shelter_refused *sr;
	char *sql;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	if (!shelter_if_match(ctx, body, version, &params[15]))
		goto out;
	cJSON_DeleteItemFromObjectCaseSensitive(body, "version");
	if (!shelter_fields(ctx, body, v, num))
		goto out;
	params[0] = auth_scope_param(ctx, scope);
	for (int i = 0; i < 10; i++)
		params[1 + i] = v[i];
	audit_params(ctx, &who, who_params);
	params[11] = who_params[0];
	params[12] = who_params[1];
	params[13] = who_params[3];
	params[14] = id;
	/*
	 * cur (the statement's snapshot) tells whether the shelter is there; the
	 * update rechecks the version on the newest row, and a refusal is
	 * answered from a read of that (shelter_update_done).
	 */
	xasprintf(
	    &sql,
	    "WITH cur AS (SELECT * FROM shelter WHERE id = $15::bigint AND ($1::bigint IS NULL OR "
	    " mission_id = $1)), "
	    "s AS (UPDATE shelter SET kind = coalesce($2::shelter_kind, kind), "
	    " name = coalesce($3, name), address = coalesce($4, address), "
	    " capacity = coalesce($5::int, capacity), occupancy = coalesce($6::int, occupancy), "
	    " medical = coalesce($7::bool, medical), accessible = coalesce($8::bool, accessible), "
	    " open = coalesce($9::bool, open), point = CASE WHEN $10::float8 IS NULL THEN point "
	    "  ELSE ST_SetSRID(ST_MakePoint($11::float8, $10::float8), 4326)::geography END, "
	    " updated_at = now() WHERE id = $15::bigint AND ($1::bigint IS NULL OR "
	    " mission_id = $1) AND ($16::bigint IS NULL OR version = $16::bigint) RETURNING *), "
	    "a AS (SELECT audit_record($12, $13, s.mission_id, $14, 'shelter.update', 'shelter', "
	    " s.id::text, json_build_object('capacity', s.capacity, 'occupancy', s.occupancy, "
	    " 'open', s.open)::text) FROM s) "
	    "SELECT (SELECT %s::text FROM s), (SELECT version FROM s) "
	    "FROM cur, (SELECT count(*) FROM a) x",
	    shelter_json);
	sr = xcalloc(1, sizeof *sr);
	sr->ctx = ctx;
	snprintf(sr->id, sizeof sr->id, "%s", id);
	sr->scoped = params[0] != NULL;
	if (sr->scoped)
		snprintf(sr->scope, sizeof sr->scope, "%s", params[0]);
	if (db_pool_query(ctx->d->db, sql, 16, params, shelter_update_done, sr, &cause) != 0) {
		http_reply_problem(ctx, 503, "service unavailable", cause);
		free(sr);
	}
	free(sql);
out:
	cJSON_Delete(body);
}
