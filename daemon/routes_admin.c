/*
 * Missions, API keys and the audit log through the API. Missions and keys
 * are an administrator's business; each mission's staff see their own
 * mission, and its lead reads its audit trail.
 */
#include "routes.h"

#include "audit.h"
#include "daemon.h"
#include "db_reply.h"
#include "xmalloc.h"

#include <ctype.h>
#include <safety/secret.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MISSION_JSON                                                                               \
	"json_build_object('id', m.id, 'code', m.code, 'name', m.name, 'default_country', "        \
	"m.default_country, 'countries', m.countries, 'timezone', m.timezone, 'created_at', "      \
	"m.created_at)"

/* GET /api/v1/missions */
void
routes_missions_list(struct http_ctx *ctx)
{
	char scope[24];
	const char *params[1];

	params[0] = auth_scope_param(ctx, scope);
	db_reply_json(ctx, 200, "",
	              "SELECT json_build_object('items', coalesce(json_agg(" MISSION_JSON
	              " ORDER BY m.code), '[]'::json), 'next', NULL)::text FROM mission m "
	              "WHERE $1::bigint IS NULL OR m.id = $1",
	              1, params);
}

/* GET /api/v1/missions/{id} */
void
routes_missions_get(struct http_ctx *ctx)
{
	char scope[24], id[24];
	const char *params[2];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	db_reply_json(ctx, 200, "no such mission",
	              "SELECT " MISSION_JSON "::text FROM mission m WHERE m.id = $2::bigint "
	              "AND ($1::bigint IS NULL OR m.id = $1)",
	              2, params);
}

/* Checks a country code list like ["TR", "SY"]; writes a PostgreSQL array literal. */
static bool
admin_countries(cJSON *list, char *out, size_t outsz)
{
	size_t off = 0;
	cJSON *c;

	out[off++] = '{';
	cJSON_ArrayForEach(c, list)
	{
		if (!cJSON_IsString(c) || strlen(c->valuestring) != 2 ||
		    !isupper((unsigned char)c->valuestring[0]) ||
		    !isupper((unsigned char)c->valuestring[1]) || off + 4 >= outsz)
			return false;
		if (off > 1)
			out[off++] = ',';
		out[off++] = c->valuestring[0];
		out[off++] = c->valuestring[1];
	}
	out[off++] = '}';
	out[off] = '\0';
	return true;
}

/* Whether the checked list of countries names code. */
static bool
admin_country_listed(const cJSON *list, const char *code)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, list)
	{
		if (strcmp(c->valuestring, code) == 0)
			return true;
	}
	return false;
}

/* The mission was stored, or its time zone was not known (no row). */
static void
mission_created(const struct db_result *r, void *arg)
{
	struct http_ctx *ctx = arg;

	if (r->outcome != DB_OK) {
		db_reply_error(ctx, r);
	} else if (PQntuples(r->res) != 1) {
		http_reply_problem(ctx, 400, "bad request",
		                   "timezone: not a known time zone name (e.g. Europe/Istanbul)");
	} else {
		http_reply_bytes(ctx, 201, "application/json", PQgetvalue(r->res, 0, 0),
		                 (size_t)PQgetlength(r->res, 0, 0));
	}
}

/* POST /api/v1/missions {code, name, default_country, countries, timezone} */
void
routes_missions_create(struct http_ctx *ctx)
{
	static const char *const known[] = {"code",      "name",     "default_country",
	                                    "countries", "timezone", NULL};
	cJSON *body = http_read_json(ctx);
	cJSON *code, *name, *country, *countries, *tz;
	char list[256], detail[160];
	struct audit_who who;
	const char *params[9];
	const char *cause;

	if (body == NULL)
		return;
	/* A misspelt field ("tz") would be dropped silently and its default stored. */
	if (!http_json_known(ctx, body, known)) {
		cJSON_Delete(body);
		return;
	}
	code = cJSON_GetObjectItemCaseSensitive(body, "code");
	name = cJSON_GetObjectItemCaseSensitive(body, "name");
	country = cJSON_GetObjectItemCaseSensitive(body, "default_country");
	countries = cJSON_GetObjectItemCaseSensitive(body, "countries");
	tz = cJSON_GetObjectItemCaseSensitive(body, "timezone");
	if (!cJSON_IsString(code) || !cJSON_IsString(name) || !cJSON_IsString(country) ||
	    (countries != NULL && !cJSON_IsArray(countries)) ||
	    (tz != NULL && !cJSON_IsString(tz))) {
		http_reply_problem(
		    ctx, 400, "bad request",
		    "send code, name and default_country as text; countries as a list "
		    "of ISO codes; timezone as text");
		cJSON_Delete(body);
		return;
	}
	if (strlen(country->valuestring) != 2 || !isupper((unsigned char)country->valuestring[0]) ||
	    !isupper((unsigned char)country->valuestring[1])) {
		http_reply_problem(ctx, 400, "bad request",
		                   "default_country: a two-letter upper-case ISO 3166 code");
		cJSON_Delete(body);
		return;
	}
	if (!admin_countries(countries, list, sizeof list)) {
		http_reply_problem(ctx, 400, "bad request",
		                   "countries: two-letter upper-case ISO 3166 codes");
		cJSON_Delete(body);
		return;
	}
	/* Without a list the mission answers for its own country, as safetyctl mission add. */
	if (countries == NULL || cJSON_GetArraySize(countries) == 0) {
		snprintf(list, sizeof list, "{%s}", country->valuestring);
	} else if (!admin_country_listed(countries, country->valuestring)) {
		snprintf(detail, sizeof detail, "countries: must include default_country %s",
		         country->valuestring);
		http_reply_problem(ctx, 400, "bad request", detail);
		cJSON_Delete(body);
		return;
	}
	audit_params(ctx, &who, params);
	params[4] = code->valuestring;
	params[5] = name->valuestring;
	params[6] = country->valuestring;
	params[7] = list;
	params[8] = tz != NULL ? tz->valuestring : "UTC";
	if (db_pool_query(
	        ctx->d->db,
	        "WITH m AS (INSERT INTO mission (code, name, default_country, countries, timezone) "
	        " SELECT $5, $6, $7, $8::text[], $9 WHERE EXISTS (SELECT 1 FROM "
	        " pg_timezone_names WHERE name = $9) RETURNING *) "
	        "SELECT " MISSION_JSON "::text FROM m, LATERAL (SELECT audit_record($1, $2, "
	        " $3::bigint, $4, 'mission.create', 'mission', m.id::text, "
	        " json_build_object('code', m.code)::text)) a",
	        9, params, mission_created, ctx, &cause) != 0)
		http_reply_problem(ctx, 503, "service unavailable", cause);
	cJSON_Delete(body);
}

#define APIKEY_JSON                                                                                \
	"json_build_object('id', k.id, 'name', k.name, 'prefix', k.key_prefix, 'scopes', "         \
	"k.scopes, 'mission_id', k.mission_id, 'created_by', k.created_by, 'created_at', "         \
	"k.created_at, 'last_used_at', k.last_used_at, 'revoked_at', k.revoked_at)"

/* GET /api/v1/apikeys */
void
routes_apikeys_list(struct http_ctx *ctx)
{
	db_reply_json(ctx, 200, "",
	              "SELECT json_build_object('items', coalesce(json_agg(" APIKEY_JSON
	              " ORDER BY k.id), '[]'::json), 'next', NULL)::text FROM api_key k",
	              0, NULL);
}

struct apikey_new {
	struct http_ctx *ctx;
	char key[SF_SECRET_TOKEN_BUFSZ];
};

/*
 * The key is stored (as its hash): the answer gets the key here, never
 * through the statement, which a server logging statements would record.
 */
static void
apikey_created(const struct db_result *r, void *arg)
{
	struct apikey_new *kn = arg;
	char *text;
	size_t len;

	if (r->outcome != DB_OK) {
		db_reply_error(kn->ctx, r);
	} else if (PQntuples(r->res) != 1 || PQgetlength(r->res, 0, 0) < 2) {
		http_reply_problem(kn->ctx, 500, "internal error", "the key was not stored");
	} else {
		/* {"key": "...", then the stored key's fields after their opening brace. */
		xasprintf(&text, "{\"key\": \"%s\", %s", kn->key, PQgetvalue(r->res, 0, 0) + 1);
		len = strlen(text);
		http_reply_bytes(kn->ctx, 201, "application/json", text, len);
		memset(text, 0, len);
		free(text);
	}
	memset(kn->key, 0, sizeof kn->key);
	free(kn);
}

/* POST /api/v1/apikeys {name, scopes, mission_id}: the key is shown in this answer only. */
void
routes_apikeys_create(struct http_ctx *ctx)
{
	cJSON *body = http_read_json(ctx);
	cJSON *name, *scopes, *mission;
	char key[SF_SECRET_TOKEN_BUFSZ], hash[SF_SECRET_HASH_HEX + 1], prefix[12];
	char scope_text[SF_ROLE_SCOPES_MAX], err[128], mission_buf[24];
	unsigned scope_bits;
	struct audit_who who;
	const char *params[9];
	const char *cause;
	struct apikey_new *kn;

	if (body == NULL)
		return;
	name = cJSON_GetObjectItemCaseSensitive(body, "name");
	scopes = cJSON_GetObjectItemCaseSensitive(body, "scopes");
	mission = cJSON_GetObjectItemCaseSensitive(body, "mission_id");
	if (!cJSON_IsString(name) || !cJSON_IsString(scopes) ||
	    (mission != NULL && !cJSON_IsNull(mission) && !cJSON_IsNumber(mission))) {
		http_reply_problem(
		    ctx, 400, "bad request",
		    "send name and scopes (e.g. \"feed:read\") as text, mission_id as "
		    "a number or null");
		cJSON_Delete(body);
		return;
	}
	/* A fraction or a number no id can hold must not become another mission's key. */
	if (cJSON_IsNumber(mission) && !http_json_id(mission, NULL)) {
		http_reply_problem(ctx, 400, "bad request", "mission_id: a mission's id or null");
		cJSON_Delete(body);
		return;
	}
	if (sf_role_scope_parse(scopes->valuestring, &scope_bits, err, sizeof err) != 0 ||
	    sf_role_scope_format(scope_bits, scope_text, sizeof scope_text) != 0) {
		http_reply_problem(ctx, 400, "bad request", err);
		cJSON_Delete(body);
		return;
	}
	if (sf_secret_token_new(key, sizeof key, SF_SECRET_API_KEY_PREFIX) != 0 ||
	    sf_secret_hash(key, hash) != 0) {
		http_reply_problem(ctx, 500, "internal error", "no key could be made");
		cJSON_Delete(body);
		return;
	}
	snprintf(prefix, sizeof prefix, "%.8s", key);
	audit_params(ctx, &who, params);
	params[4] = name->valuestring;
	params[5] = hash;
	params[6] = prefix;
	params[7] = scope_text;
	if (mission != NULL && cJSON_IsNumber(mission)) {
		snprintf(mission_buf, sizeof mission_buf, "%lld", (long long)mission->valuedouble);
		params[8] = mission_buf;
	} else {
		params[8] = NULL;
	}
	kn = xcalloc(1, sizeof *kn);
	kn->ctx = ctx;
	memcpy(kn->key, key, sizeof kn->key);
	if (db_pool_query(
	        ctx->d->db,
	        "WITH k AS (INSERT INTO api_key (name, key_hash, key_prefix, scopes, mission_id, "
	        " created_by) VALUES ($5, $6, $7, $8, $9::bigint, $1) RETURNING *) "
	        "SELECT " APIKEY_JSON "::text FROM k, LATERAL (SELECT audit_record($1, $2, "
	        " $3::bigint, $4, 'apikey.create', 'api_key', k.id::text, "
	        " json_build_object('name', k.name, 'scopes', k.scopes, 'mission_id', "
	        " k.mission_id)::text)) a",
	        9, params, apikey_created, kn, &cause) != 0) {
		http_reply_problem(ctx, 503, "service unavailable", cause);
		memset(kn->key, 0, sizeof kn->key);
		free(kn);
	}
	memset(key, 0, sizeof key);
	cJSON_Delete(body);
}

/*
 * The revocation answered, so it has committed (or failed): only now is the
 * key cache cleared. Cleared before, a lookup answered between the clear
 * and the commit would put the key back for seconds.
 */
static void
apikey_revoked(const struct db_result *r, void *arg)
{
	struct http_ctx *ctx = arg;

	auth_key_cache_clear();
	if (r->outcome != DB_OK)
		db_reply_error(ctx, r);
	else if (PQntuples(r->res) == 0 || PQgetisnull(r->res, 0, 0))
		http_reply_problem(ctx, 404, "not found", "no such API key, or already revoked");
	else
		http_reply_bytes(ctx, 200, "application/json", PQgetvalue(r->res, 0, 0),
		                 (size_t)PQgetlength(r->res, 0, 0));
}

/* DELETE /api/v1/apikeys/{id} */
void
routes_apikeys_revoke(struct http_ctx *ctx)
{
	char id[24];
	struct audit_who who;
	const char *params[5], *cause = NULL;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	audit_params(ctx, &who, params);
	params[4] = id;
	if (db_pool_query(ctx->d->db,
	                  "WITH k AS (UPDATE api_key SET revoked_at = now() WHERE id = $5::bigint "
	                  " AND revoked_at IS NULL RETURNING *) "
	                  "SELECT " APIKEY_JSON
	                  "::text FROM k, LATERAL (SELECT audit_record($1, $2, "
	                  " $3::bigint, $4, 'apikey.revoke', 'api_key', k.id::text, "
	                  " json_build_object('name', k.name)::text)) a",
	                  5, params, apikey_revoked, ctx, &cause) != 0)
		http_reply_problem(ctx, 503, "service unavailable", cause);
}

/* GET /api/v1/audit?after=ID&limit=N: newest first would break paging; oldest first. */
void
routes_audit_list(struct http_ctx *ctx)
{
	char scope[24], after_buf[24], limit[8];
	const char *after;
	const char *params[3];

	if (!http_page(ctx, &after, after_buf, limit))
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = after;
	params[2] = limit;
	db_reply_json(
	    ctx, 200, "",
	    "SELECT json_build_object('items', coalesce(json_agg(json_build_object('id', "
	    " a.id, 'occurred_at', a.occurred_at, 'actor', a.actor, 'actor_role', "
	    " a.actor_role, 'mission_id', a.mission_id, 'client_addr', a.client_addr, "
	    " 'action', a.action, 'object_type', a.object_type, 'object_id', a.object_id, "
	    " 'summary', a.summary::json, 'hash', a.hash) ORDER BY a.id), '[]'::json), "
	    " 'next', CASE WHEN count(*) = $3::int THEN max(a.id)::text END)::text "
	    /*
	     * A row's mission is its object's (see audit_record); a crisis has
	     * several, so changes to one of the mission's by those of none
	     * (admins, HQ, the alert watcher) are shown too.
	     */
	    "FROM (SELECT * FROM audit_log l WHERE ($1::bigint IS NULL OR l.mission_id = $1 "
	    "  OR (l.mission_id IS NULL AND l.object_type = 'crisis' "
	    "  AND EXISTS (SELECT 1 FROM crisis_mission cm WHERE cm.mission_id = $1 "
	    "  AND cm.crisis_id = CASE WHEN l.object_id ~ '^[0-9]{1,18}$' "
	    "  THEN l.object_id::bigint END))) "
	    " AND l.id > coalesce($2::bigint, 0) ORDER BY l.id LIMIT $3::int) a",
	    3, params);
}
