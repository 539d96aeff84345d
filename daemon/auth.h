/*
 * Who is asking: a staff member through the session cookie, or a machine
 * through an API key in "Authorization: Bearer". Authentication looks the
 * secret's hash up in the database; authorisation is the route's declared
 * permission checked by libsafety's role model, and mission scoping is then
 * applied again in every query through auth_scope_param.
 */
#ifndef SAFETY_AUTH_H
#define SAFETY_AUTH_H

#include <safety/role.h>
#include <safety/secret.h>
#include <stdbool.h>

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

/* Derives the CSRF token of a session token (both base64url). */
void auth_csrf_for_session(const char *session_token, char out[48]);

/* Finds a cookie's value in the request; NULL if absent. Copies into buf. */
const char *auth_cookie(const struct http_ctx *ctx, const char *name, char *buf, size_t bufsz);

#endif
