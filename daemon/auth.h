/*
 * Who is asking: a staff member through the session cookie, or a machine
 * through an API key in "Authorization: Bearer". Authentication looks the
 * secret's hash up in the database; authorisation is the route's declared
 * permission checked by libsafety's role model, and mission scoping is then
 * applied again in every query through auth_scope_param.
 */
#ifndef SAFETY_AUTH_H
#define SAFETY_AUTH_H

#include "db_pool.h"
#include "pg_array.h"

#include <safety/role.h>
#include <safety/secret.h>
#include <stdbool.h>

struct daemon;
struct http_ctx;

#define AUTH_SESSION_COOKIE "safety_session"

enum principal_kind { PRINCIPAL_NONE, PRINCIPAL_STAFF, PRINCIPAL_API_KEY };

struct principal {
	enum principal_kind kind;
	long long user_id;    /* staff: staff_user.id */
	long long key_id;     /* API key: api_key.id */
	char name[72];        /* username or "apikey:<name>", for the audit log */
	enum sf_role role;    /* staff only */
	unsigned scopes;      /* API keys only */
	long long mission_id; /* 0: not bound to one mission */
	char csrf_token[48];  /* staff: what X-CSRF-Token must carry */
	char session_hash[SF_SECRET_HASH_HEX + 1];
};

/* Called once authentication (and authorisation) of ctx finished. */
typedef void (*auth_done_cb)(struct http_ctx *ctx);

/*
 * Authenticates and authorises ctx for its route. On success fills
 * ctx->principal and calls done; on failure answers 401, 403 or 503 itself
 * and done never fires.
 */
void auth_check(struct http_ctx *ctx, auth_done_cb done);

/*
 * The mission a query must be limited to, as a text parameter: NULL when
 * the principal sees every mission, else the mission id written into buf.
 */
const char *auth_scope_param(const struct http_ctx *ctx, char buf[24]);

/* The role name for the audit log ("apikey" for keys). */
const char *auth_actor_role(const struct principal *p);

/* Forgets every API key found recently: after a revocation. */
void auth_key_cache_clear(void);

/*
 * What a long-lived stream was opened with, to ask later whether it still
 * holds: a stream outlives the request that authenticated it.
 */
struct auth_grant {
	enum principal_kind kind;
	char session_hash[SF_SECRET_HASH_HEX + 1];
	long long key_id;
	enum sf_role role;
	long long mission_id;
};

/* The grant of an authenticated request. */
void auth_grant_of(const struct principal *p, struct auth_grant *out);

/*
 * Asks which grants still hold: sessions not revoked, expired, idle past
 * session_idle_timeout or of a disabled account, keys not revoked, with the
 * same role and mission. Start
 * ids with pg_arrays_open(ids, 2) and auth_grant_add each grant; the caller
 * frees ids after the call. cb receives the answer for auth_grant_holds.
 * Returns 0 when sent, as db_pool_query.
 */
void auth_grant_add(struct pg_arrays *ids, const struct auth_grant *g);
int auth_grants_check(struct daemon *d, struct pg_arrays *ids, db_query_done_cb cb, void *arg,
                      const char **cause);

/* In auth_grants_check's callback: whether g still holds (a binary search). */
bool auth_grant_holds(const PGresult *res, const struct auth_grant *g);

/* Derives the CSRF token of a session token (both base64url). */
void auth_csrf_for_session(const char *session_token, char out[48]);

/* Finds a cookie's value in the request; NULL if absent. Copies into buf. */
const char *auth_cookie(const struct http_ctx *ctx, const char *name, char *buf, size_t bufsz);

#endif
