/*
 * Authentication and authorisation of every non-public route, in one place.
 * The secret a client sends (session cookie or API key) is hashed and looked
 * up; the principal found is checked against the route's permission; state-
 * changing requests on a session must also pass the Origin and CSRF checks.
 */
#include "auth.h"

#include "daemon.h"
#include "http_server.h"
#include "log.h"
#include "xmalloc.h"

#include <ctype.h>
#include <event2/http.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct auth_pending {
	struct http_ctx *ctx;
	auth_done_cb done;
	char session_token[SF_SECRET_TOKEN_BUFSZ];
	char hash[SF_SECRET_HASH_HEX + 1];
	unsigned long long key_epoch; /* of the key cache when the lookup was sent */
};

/*
 * API keys found in the last few seconds, by the hash of the key (never the
 * key): a poller that asks every second costs no query to authenticate. A
 * revocation takes effect at once in the process that made it and within
 * AUTH_KEY_CACHE_S in the others. Each clear moves an epoch: a lookup sent
 * before the last clear may have read the key before it was revoked, so its
 * answer serves its own request but never enters the cache.
 */
#define AUTH_KEY_CACHE_SLOTS 256
#define AUTH_KEY_CACHE_S 5

struct auth_key_entry {
	char hash[SF_SECRET_HASH_HEX + 1];
	long long key_id;
	char name[72];
	unsigned scopes;
	long long mission_id;
	time_t until; /* monotonic seconds */
};

static struct auth_key_entry auth_key_cache[AUTH_KEY_CACHE_SLOTS];
static unsigned long long auth_key_epoch;

static time_t
auth_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The slot of a key's hash: its first two hex digits (a hash is uniformly spread). */
static struct auth_key_entry *
auth_key_slot(const char *hash)
{
	char head[3] = {hash[0], hash[1], '\0'};

	return &auth_key_cache[strtoul(head, NULL, 16) % AUTH_KEY_CACHE_SLOTS];
}

void
auth_key_cache_clear(void)
{
	memset(auth_key_cache, 0, sizeof auth_key_cache);
	auth_key_epoch++;
}

/* Fills the principal from the cache; false when the key is not there or too old. */
static bool
auth_key_cached(const char *hash, struct principal *p)
{
	const struct auth_key_entry *e = auth_key_slot(hash);

	if (e->until <= auth_now() || CRYPTO_memcmp(e->hash, hash, SF_SECRET_HASH_HEX) != 0)
		return false;
	p->kind = PRINCIPAL_API_KEY;
	p->key_id = e->key_id;
	memcpy(p->name, e->name, sizeof p->name);
	p->scopes = e->scopes;
	p->mission_id = e->mission_id;
	return true;
}

/* The role name recorded in the audit log. */
const char *
auth_actor_role(const struct principal *p)
{
	if (p->kind == PRINCIPAL_API_KEY)
		return "apikey";
	if (p->kind == PRINCIPAL_STAFF)
		return sf_role_name(p->role);
	return "";
}

/*
 * The mission filter for queries: the principal's mission; for those who see
 * every mission (HQ, admins), ?mission_id=N narrows the view to one (it can
 * only ever show less).
 */
const char *
auth_scope_param(const struct http_ctx *ctx, char buf[24])
{
	if (ctx->principal.mission_id <= 0)
		return http_query(ctx, "mission_id", buf, 24) != NULL && http_is_id(buf) ? buf
		                                                                         : NULL;
	snprintf(buf, 24, "%lld", ctx->principal.mission_id);
	return buf;
}

/*
 * The CSRF token is derived from the session token, so it needs no storage
 * and a page that cannot read the cookie cannot compute it.
 */
void
auth_csrf_for_session(const char *session_token, char out[48])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *md_ctx = EVP_MD_CTX_new();
	static const char label[] = "safety-csrf-v1:";

	EVP_DigestInit_ex(md_ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(md_ctx, label, sizeof label - 1);
	EVP_DigestUpdate(md_ctx, session_token, strlen(session_token));
	EVP_DigestFinal_ex(md_ctx, md, &mdlen);
	EVP_MD_CTX_free(md_ctx);
	if (sf_secret_b64url_encode(md, 32, out, 48) != 0)
		out[0] = '\0';
}

/* Finds a cookie's value. */
const char *
auth_cookie(const struct http_ctx *ctx, const char *name, char *buf, size_t bufsz)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Cookie");
	size_t nlen = strlen(name);

	while (h != NULL && *h != '\0') {
		const char *end;
		while (*h == ' ' || *h == ';')
			h++;
		end = strchr(h, ';');
		if (end == NULL)
			end = h + strlen(h);
		if ((size_t)(end - h) > nlen && strncmp(h, name, nlen) == 0 && h[nlen] == '=') {
			size_t vlen = (size_t)(end - h) - nlen - 1;
			if (vlen >= bufsz)
				return NULL;
			memcpy(buf, h + nlen + 1, vlen);
			buf[vlen] = '\0';
			return buf;
		}
		h = end;
	}
	return NULL;
}

/* Answers 401 with a challenge. */
static void
auth_unauthorized(struct http_ctx *ctx, const char *detail)
{
	http_add_header(ctx, "WWW-Authenticate", "Bearer realm=\"safety\"");
	http_reply_problem(ctx, 401, "unauthorized", detail);
}

/* True for methods that change state. */
static bool
auth_is_unsafe_method(const struct http_ctx *ctx)
{
	enum evhttp_cmd_type m = evhttp_request_get_command(ctx->req);

	return m != EVHTTP_REQ_GET && m != EVHTTP_REQ_HEAD && m != EVHTTP_REQ_OPTIONS;
}

/* Compares the Origin header with this server's own origin. */
static bool
auth_origin_ok(const struct http_ctx *ctx)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(ctx->req);
	const char *origin = evhttp_find_header(in, "Origin");
	const char *host = evhttp_find_header(in, "Host");
	const char *pub = ctx->d->cfg.public_url;
	char expected[512];
	size_t n;

	/* Browsers send Origin on every cross-site state change; its absence is not an attack. */
	if (origin == NULL)
		return true;
	if (*pub != '\0') {
		/* The origin of public_url: scheme://host[:port], without a path. */
		const char *p = strstr(pub, "://");
		const char *slash = p != NULL ? strchr(p + 3, '/') : NULL;
		n = slash != NULL ? (size_t)(slash - pub) : strlen(pub);
		if (strlen(origin) == n && strncasecmp(origin, pub, n) == 0)
			return true;
	}
	if (host != NULL) {
		snprintf(expected, sizeof expected, "%s://%s", ctx->tls ? "https" : "http", host);
		if (strcasecmp(origin, expected) == 0)
			return true;
	}
	return false;
}

/* Checks the route's permission and, for sessions, CSRF; then runs the handler. */
static void
auth_authorise(struct http_ctx *ctx, auth_done_cb done, const char *session_token)
{
	const struct http_route *r = ctx->route;
	const struct principal *p = &ctx->principal;
	bool scoped = (r->flags & HTTP_ROUTE_MISSION_SCOPED) != 0;
	bool allowed;

	if (p->kind == PRINCIPAL_API_KEY) {
		allowed = sf_role_scope_allows(p->scopes, r->perm);
	} else {
		/* Own-mission check here; the SQL limits the rows to that mission too. */
		allowed = sf_role_allows(p->role, r->perm, scoped, p->mission_id, p->mission_id);
	}
	if (!allowed) {
		http_reply_problem(ctx, 403, "forbidden",
		                   "your role does not allow this; ask an administrator");
		return;
	}
	/* A mistyped narrowing would otherwise be ignored and show every mission. */
	{
		char mission[24];
		const char *given;
		int rc = http_query_checked(ctx, "mission_id", mission, sizeof mission, &given);
		if (rc == SF_ETOOLONG || (given != NULL && !http_is_id(given))) {
			http_reply_problem(ctx, 400, "bad request",
			                   "mission_id: not a mission id (a whole number above 0)");
			return;
		}
	}
	if (p->kind == PRINCIPAL_STAFF && auth_is_unsafe_method(ctx)) {
		const char *sent =
		    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "X-CSRF-Token");
		char expected[48];

		if (!auth_origin_ok(ctx)) {
			http_reply_problem(ctx, 403, "forbidden",
			                   "cross-site request refused: Origin does not match");
			return;
		}
		auth_csrf_for_session(session_token, expected);
		if (sent == NULL || !sf_secret_streq(sent, expected)) {
			http_reply_problem(
			    ctx, 403, "forbidden",
			    "missing or wrong X-CSRF-Token header; reload the dashboard");
			return;
		}
	}
	done(ctx);
}

/* The session lookup answered. */
static void
auth_session_done(const struct db_result *r, void *arg)
{
	struct auth_pending *ap = arg;
	struct http_ctx *ctx = ap->ctx;
	struct principal *p = &ctx->principal;

	if (r->outcome != DB_OK) {
		log_warn("auth_lookup_failed", "error", r->error);
		http_reply_problem(ctx, 503, "service unavailable",
		                   "the database cannot be reached; retry shortly");
		goto out;
	}
	if (PQntuples(r->res) != 1) {
		auth_unauthorized(ctx, "the session has expired or was ended; log in again");
		goto out;
	}
	p->kind = PRINCIPAL_STAFF;
	p->user_id = atoll(PQgetvalue(r->res, 0, 0));
	snprintf(p->name, sizeof p->name, "%s", PQgetvalue(r->res, 0, 1));
	if (sf_role_parse(PQgetvalue(r->res, 0, 2), &p->role) != 0)
		p->role = SF_ROLE_NONE;
	p->mission_id = atoll(PQgetvalue(r->res, 0, 3));
	auth_csrf_for_session(ap->session_token, p->csrf_token);
	memcpy(p->session_hash, ap->hash, sizeof p->session_hash);
	auth_authorise(ctx, ap->done, ap->session_token);
out:
	memset(ap->session_token, 0, sizeof ap->session_token);
	free(ap);
}

/* The API key lookup answered. */
static void
auth_key_done(const struct db_result *r, void *arg)
{
	struct auth_pending *ap = arg;
	struct http_ctx *ctx = ap->ctx;
	struct principal *p = &ctx->principal;

	if (r->outcome != DB_OK) {
		log_warn("auth_lookup_failed", "error", r->error);
		http_reply_problem(ctx, 503, "service unavailable",
		                   "the database cannot be reached; retry shortly");
		free(ap);
		return;
	}
	if (PQntuples(r->res) != 1) {
		auth_unauthorized(ctx, "unknown or revoked API key");
		free(ap);
		return;
	}
	p->kind = PRINCIPAL_API_KEY;
	p->key_id = atoll(PQgetvalue(r->res, 0, 0));
	snprintf(p->name, sizeof p->name, "apikey:%s", PQgetvalue(r->res, 0, 1));
	if (sf_role_scope_parse(PQgetvalue(r->res, 0, 2), &p->scopes, NULL, 0) != 0)
		p->scopes = 0;
	p->mission_id = atoll(PQgetvalue(r->res, 0, 3));
	if (ap->key_epoch == auth_key_epoch) {
		struct auth_key_entry *e = auth_key_slot(ap->hash);
		memcpy(e->hash, ap->hash, sizeof e->hash);
		e->key_id = p->key_id;
		memcpy(e->name, p->name, sizeof e->name);
		e->scopes = p->scopes;
		e->mission_id = p->mission_id;
		e->until = auth_now() + AUTH_KEY_CACHE_S;
	}
	auth_authorise(ctx, ap->done, "");
	free(ap);
}

/* Authenticates the request, then authorises it. */
void
auth_check(struct http_ctx *ctx, auth_done_cb done)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(ctx->req);
	const char *authz = evhttp_find_header(in, "Authorization");
	struct auth_pending *ap;
	char hash[SF_SECRET_HASH_HEX + 1];
	const char *cause = NULL;
	const char *params[3];
	char idle[16];
	int rc;

	memset(&ctx->principal, 0, sizeof ctx->principal);
	ap = xcalloc(1, sizeof *ap);
	ap->ctx = ctx;
	ap->done = done;

	if (authz != NULL) {
		const char *key;
		if (strncasecmp(authz, "Bearer ", 7) != 0) {
			free(ap);
			auth_unauthorized(ctx,
			                  "the Authorization header must be 'Bearer <API key>'");
			return;
		}
		key = authz + 7;
		while (*key == ' ')
			key++;
		/* A malformed key never reaches the database. */
		if (sf_secret_token_check(key, SF_SECRET_API_KEY_PREFIX) != 0 ||
		    sf_secret_hash(key, hash) != 0) {
			free(ap);
			auth_unauthorized(ctx, "unknown or revoked API key");
			return;
		}
		if (auth_key_cached(hash, &ctx->principal)) {
			free(ap);
			auth_authorise(ctx, done, "");
			return;
		}
		memcpy(ap->hash, hash, sizeof ap->hash);
		ap->key_epoch = auth_key_epoch;
		params[0] = hash;
		rc = db_pool_query(ctx->d->db,
		                   "UPDATE api_key SET last_used_at = now() "
		                   "WHERE key_hash = $1 AND revoked_at IS NULL "
		                   "RETURNING id, name, scopes, coalesce(mission_id, 0)",
		                   1, params, auth_key_done, ap, &cause);
	} else {
		if (auth_cookie(ctx, AUTH_SESSION_COOKIE, ap->session_token,
		                sizeof ap->session_token) == NULL ||
		    sf_secret_token_check(ap->session_token, NULL) != 0 ||
		    sf_secret_hash(ap->session_token, hash) != 0) {
			free(ap);
			auth_unauthorized(ctx, "log in first");
			return;
		}
		memcpy(ap->hash, hash, sizeof ap->hash);
		snprintf(idle, sizeof idle, "%d", ctx->d->cfg.session_idle_timeout_s);
		params[0] = hash;
		params[1] = idle;
		/* Disabled accounts and changed roles take effect on the next request. */
		rc = db_pool_query(
		    ctx->d->db,
		    "UPDATE staff_session s SET last_seen_at = now() FROM staff_user u "
		    "WHERE s.token_hash = $1 AND u.id = s.user_id "
		    "AND s.revoked_at IS NULL AND s.expires_at > now() "
		    "AND s.last_seen_at > now() - make_interval(secs => $2::int) "
		    "AND NOT u.disabled "
		    "RETURNING u.id, u.username, u.role, coalesce(u.mission_id, 0)",
		    2, params, auth_session_done, ap, &cause);
	}
	if (rc != 0) {
		memset(ap->session_token, 0, sizeof ap->session_token);
		free(ap);
		http_reply_problem(ctx, 503, "service unavailable", cause);
	}
}

void
auth_grant_of(const struct principal *p, struct auth_grant *out)
{
	memset(out, 0, sizeof *out);
	out->kind = p->kind;
	memcpy(out->session_hash, p->session_hash, sizeof out->session_hash);
	out->key_id = p->key_id;
	out->role = p->role;
	out->mission_id = p->mission_id;
}

void
auth_grant_add(struct pg_arrays *ids, const struct auth_grant *g)
{
	if (g->kind == PRINCIPAL_STAFF)
		pg_arrays_add(ids, 0, g->session_hash);
	else
		pg_arrays_add_int(ids, 1, g->key_id);
}

int
auth_grants_check(struct daemon *d, struct pg_arrays *ids, db_query_done_cb cb, void *arg,
                  const char **cause)
{
	const char *const *arrays = pg_arrays_close(ids);
	const char *params[3];
	char idle[16];

	/* A session idle past the timeout ends its streams as it ends its requests. */
	snprintf(idle, sizeof idle, "%d", d->cfg.session_idle_timeout_s);
	params[0] = arrays[0];
	params[1] = arrays[1];
	params[2] = idle;
	/* Sorted byte-wise, as strcmp compares, for auth_grant_holds. */
	return db_pool_query(
	    d->db,
	    "SELECT k FROM (SELECT 's' || s.token_hash || '/' || u.role::text || "
	    " '/' || coalesce(u.mission_id, 0) AS k "
	    " FROM staff_session s JOIN staff_user u ON u.id = s.user_id "
	    " WHERE s.token_hash = ANY ($1::text[]) AND s.revoked_at IS NULL "
	    " AND s.expires_at > now() AND NOT u.disabled "
	    " AND s.last_seen_at > now() - make_interval(secs => $3::int) "
	    " UNION ALL SELECT 'k' || id || '//' || coalesce(mission_id, 0) "
	    " FROM api_key WHERE id = ANY ($2::bigint[]) AND revoked_at IS NULL) g "
	    "ORDER BY k COLLATE \"C\"",
	    3, params, cb, arg, cause);
}

bool
auth_grant_holds(const PGresult *res, const struct auth_grant *g)
{
	char key[SF_SECRET_HASH_HEX + 64];
	int lo = 0, hi = PQntuples(res);

	if (g->kind == PRINCIPAL_STAFF)
		snprintf(key, sizeof key, "s%s/%s/%lld", g->session_hash, sf_role_name(g->role),
		         g->mission_id);
	else
		snprintf(key, sizeof key, "k%lld//%lld", g->key_id, g->mission_id);
	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;
		int cmp = strcmp(PQgetvalue(res, mid, 0), key);

		if (cmp == 0)
			return true;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}
