/*
 * Staff login, logout and "who am I". Login is where guessing happens, so it
 * is limited per address, locks an address out of an account after too
 * many failures from it, and the account after many more from anywhere. The
 * attempt is counted before its password is checked, in the statement that
 * decides the lock, so attempts sent at once cannot each read the same count.
 * Every failure, whatever its cause, costs the same scrypt work, reads the
 * same and is answered the same time after it arrived: neither the answer
 * nor its timing tells whether an account exists or is locked.
 */
#include "routes.h"

#include "audit.h"
#include "daemon.h"
#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#include <safety/limiter.h>
#include <safety/password.h>
#include <pthread.h>
#include <safety/secret.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOGIN_FAILED_DETAIL                                                                        \
	"wrong username or password, or the account is locked or disabled; after repeated "        \
	"failures ask an administrator"

/* Scrypt checks waiting or running at once; past this a login is answered 503. */
#define LOGIN_VERIFY_MAX 32

struct login {
	struct http_ctx *ctx;
	struct timespec arrived; /* CLOCK_MONOTONIC: failures are answered from here */
	char username[72];
	char *password; /* wiped and freed as soon as it is checked */
	bool checking;  /* holds one of the LOGIN_VERIFY_MAX places (daemon.logins_checking) */
	bool found;     /* an enabled account whose attempt was counted */
	bool locked;    /* an enabled account refused because it is locked */
	long long user_id;
	char role[32];
	long long mission_id;
	char stored_hash[SF_PASSWORD_ENCODED_MAX];
	char locked_until[64];  /* as the count left it ("" for none): a later lock refuses */
	unsigned failures;      /* counted failures of the account, this attempt included */
	unsigned addr_failures; /* counted failures from this address, this attempt included */
	char client_key[SF_RATETABLE_KEY_MAX]; /* the address as the rate limits key it */
	int verify_rc;
	bool rehash;
	char new_hash[SF_PASSWORD_ENCODED_MAX];
	unsigned cost;
	char token[SF_SECRET_TOKEN_BUFSZ];
	struct event *delay;
};

/* Gives back the login's place among the checks at once. */
static void
login_checked(struct login *l)
{
	if (l->checking) {
		l->checking = false;
		l->ctx->d->logins_checking--;
	}
}

/* Wipes the secrets of a login and frees it. */
static void
login_free(struct login *l)
{
	login_checked(l);
	if (l->password != NULL) {
		memset(l->password, 0, strlen(l->password));
		free(l->password);
	}
	if (l->delay != NULL)
		event_free(l->delay);
	memset(l, 0, sizeof *l);
	free(l);
}

/*
 * A hash to verify against when the user does not exist, made once per
 * cost, on a password worker (seconds of scrypt at a high cost must not
 * stall the loop): at start-up, or by the first login that needs it.
 */
static pthread_mutex_t login_dummy_lock = PTHREAD_MUTEX_INITIALIZER;
static char login_dummy[SF_PASSWORD_ENCODED_MAX];
static unsigned login_dummy_cost;

/* On a worker thread: copies the dummy hash of this cost to out. */
static void
login_dummy_hash(unsigned cost, char *out, size_t outsz)
{
	pthread_mutex_lock(&login_dummy_lock);
	if (login_dummy_cost != cost) {
		struct sf_password_params params = sf_password_params_default;
		params.ln = cost;
		if (sf_password_hash("not-a-password-of-anyone", &params, login_dummy,
		                     sizeof login_dummy) == 0)
			login_dummy_cost = cost;
	}
	snprintf(out, outsz, "%s", login_dummy);
	pthread_mutex_unlock(&login_dummy_lock);
}

struct login_warm {
	unsigned cost;
	char hash[SF_PASSWORD_ENCODED_MAX];
};

static void
login_warm_work(void *arg)
{
	struct login_warm *w = arg;

	login_dummy_hash(w->cost, w->hash, sizeof w->hash);
}

static void
login_warm_done(void *arg)
{
	free(arg);
}

void
routes_session_warm(struct daemon *d)
{
	struct login_warm *w = xcalloc(1, sizeof *w);

	w->cost = (unsigned)d->cfg.password_hash_cost;
	if (worker_pool_submit(d->password_workers, login_warm_work, login_warm_done, w) != 0)
		free(w);
}

/* Answers a failed login after the delay. */
static void
login_fail_now(evutil_socket_t fd, short what, void *arg)
{
	struct login *l = arg;

	(void)fd;
	(void)what;
	http_reply_problem(l->ctx, 401, "login failed", LOGIN_FAILED_DETAIL);
	login_free(l);
}

/*
 * Answers a failed login login_failure_delay_ms after it arrived, the same
 * for every cause, so its timing does not tell them apart.
 */
static void
login_fail(struct login *l)
{
	struct timespec now;
	double delay;
	struct timeval tv;

	clock_gettime(CLOCK_MONOTONIC, &now);
	delay = l->ctx->d->cfg.login_failure_delay_ms / 1000.0 -
	        ((double)(now.tv_sec - l->arrived.tv_sec) +
	         (double)(now.tv_nsec - l->arrived.tv_nsec) / 1e9);
	if (delay <= 0) {
		login_fail_now(-1, 0, l);
		return;
	}
	tv.tv_sec = (long)delay;
	tv.tv_usec = (long)((delay - (double)tv.tv_sec) * 1e6);
	l->delay = evtimer_new(l->ctx->d->base, login_fail_now, l);
	evtimer_add(l->delay, &tv);
}

/* The failure was recorded (or could not be); answer. */
static void
login_failure_recorded(const struct db_result *r, void *arg)
{
	struct login *l = arg;

	if (r->outcome != DB_OK)
		log_warn("login_record_failed", "error", r->error);
	login_fail(l);
}

/* Audits a wrong password (already counted when the attempt began), and the lock it set. */
static void
login_record_failure(struct login *l)
{
	struct daemon *d = l->ctx->d;
	char failures[16], limit[16], id[24], account[16], account_limit[16];
	const char *params[7];
	const char *cause;

	snprintf(failures, sizeof failures, "%u", l->addr_failures);
	snprintf(limit, sizeof limit, "%d", d->cfg.lock_failures);
	snprintf(id, sizeof id, "%lld", l->user_id);
	snprintf(account, sizeof account, "%u", l->failures);
	snprintf(account_limit, sizeof account_limit, "%d", d->cfg.account_lock_failures);
	params[0] = id;
	params[1] = failures;
	params[2] = limit;
	params[3] = l->ctx->client_addr;
	params[4] = account;
	params[5] = account_limit;
	params[6] = l->client_key;
	if (db_pool_query(
	        d->db,
	        "SELECT audit_record(u.username, u.role::text, u.mission_id, $4, 'login.failed', "
	        " 'staff_user', u.id::text, json_build_object('failures', $2::int, "
	        " 'account_failures', $5::int)::text), "
	        " CASE WHEN $2::int = $3::int THEN audit_record(u.username, u.role::text, "
	        " u.mission_id, $4, 'account.locked', 'staff_user', u.id::text, "
	        " json_build_object('failures', $2::int, 'address', $7::text, 'until', "
	        " (SELECT audit_time_text(k.locked_until) FROM login_lock k "
	        "  WHERE k.user_id = u.id AND k.client_key = $7))::text) END, "
	        " CASE WHEN $5::int = $6::int THEN audit_record(u.username, u.role::text, "
	        " u.mission_id, $4, 'account.locked', 'staff_user', u.id::text, "
	        " json_build_object('failures', $5::int, 'address', 'all', 'until', "
	        " audit_time_text(u.locked_until))::text) END "
	        "FROM staff_user u WHERE u.id = $1::bigint",
	        7, params, login_failure_recorded, l, &cause) != 0)
		login_fail(l);
}

/*
 * Audits a failed login to a name with no enabled account: the name tried
 * (never the password), no mission, whether an account of it is disabled.
 */
static void
login_record_unknown(struct login *l)
{
	const char *params[2];
	const char *cause;

	params[0] = l->username;
	params[1] = l->ctx->client_addr;
	if (db_pool_query(l->ctx->d->db,
	                  "SELECT audit_record($1, '', NULL, $2, 'login.failed', 'staff_user', "
	                  " coalesce(u.id::text, ''), json_build_object('username', $1::text, "
	                  " 'account', CASE WHEN u.id IS NULL THEN 'unknown' ELSE 'disabled' END)"
	                  "::text) FROM (SELECT NULL) x LEFT JOIN staff_user u "
	                  " ON u.username = lower($1)",
	                  2, params, login_failure_recorded, l, &cause) != 0)
		login_fail(l);
}

static void
login_address_forgotten(const struct db_result *r, void *arg)
{
	(void)arg;
	if (r->outcome != DB_OK)
		log_warn("login_address_reset_failed", "error", r->error);
}

/*
 * A success from an address ends what its failures counted there. A
 * statement of its own: taking this row after the account's, in the
 * statement that made the session, could deadlock with a count, which
 * takes them the other way round.
 */
static void
login_forget_address(struct login *l)
{
	char id[24];
	const char *params[2];
	const char *cause;

	snprintf(id, sizeof id, "%lld", l->user_id);
	params[0] = id;
	params[1] = l->client_key;
	if (db_pool_query(l->ctx->d->db,
	                  "DELETE FROM login_lock WHERE user_id = $1::bigint AND client_key = $2",
	                  2, params, login_address_forgotten, NULL, &cause) != 0)
		log_warn("login_address_reset_failed", "error", cause);
}

/* The session row exists; answer with the cookie. */
static void
login_session_created(const struct db_result *r, void *arg)
{
	struct login *l = arg;
	struct http_ctx *ctx = l->ctx;
	char cookie[256], csrf[48];
	cJSON *body, *user;

	if (r->outcome == DB_OK && PQntuples(r->res) == 0) {
		char id[24];

		/* The account changed while its password was checked: that check no longer counts.
		 */
		snprintf(id, sizeof id, "%lld", l->user_id);
		log_info("login_superseded", "user_id", id);
		login_fail(l);
		return;
	}
	if (r->outcome != DB_OK || PQntuples(r->res) != 1) {
		log_warn("login_session_failed", "error", r->error);
		http_reply_problem(ctx, 503, "service unavailable",
		                   "the session could not be stored; retry shortly");
		login_free(l);
		return;
	}
	snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
	         AUTH_SESSION_COOKIE, l->token, ctx->d->cfg.session_max_age_s,
	         ctx->tls ? "; Secure" : "");
	http_add_header(ctx, "Set-Cookie", cookie);
	auth_csrf_for_session(l->token, csrf);
	body = cJSON_CreateObject();
	user = cJSON_AddObjectToObject(body, "user");
	cJSON_AddNumberToObject(user, "id", (double)atoll(PQgetvalue(r->res, 0, 0)));
	cJSON_AddStringToObject(user, "username", PQgetvalue(r->res, 0, 1));
	cJSON_AddStringToObject(user, "role", PQgetvalue(r->res, 0, 2));
	if (PQgetisnull(r->res, 0, 3))
		cJSON_AddNullToObject(user, "mission_id");
	else
		cJSON_AddNumberToObject(user, "mission_id",
		                        (double)atoll(PQgetvalue(r->res, 0, 3)));
	cJSON_AddStringToObject(user, "display_name", PQgetvalue(r->res, 0, 4));
	cJSON_AddStringToObject(body, "csrf_token", csrf);
	login_forget_address(l);
	cJSON_AddNumberToObject(body, "idle_timeout", ctx->d->cfg.session_idle_timeout_s);
	memset(csrf, 0, sizeof csrf);
	http_reply_json(ctx, 200, body);
	login_free(l);
}

/* Creates the session of a successful login. */
static void
login_succeed(struct login *l)
{
	struct daemon *d = l->ctx->d;
	char hash[SF_SECRET_HASH_HEX + 1], maxage[16], id[24];
	const char *params[7];
	const char *cause;

	if (sf_secret_token_new(l->token, sizeof l->token, NULL) != 0 ||
	    sf_secret_hash(l->token, hash) != 0) {
		http_reply_problem(l->ctx, 500, "internal error", "no session token could be made");
		login_free(l);
		return;
	}
	snprintf(maxage, sizeof maxage, "%d", d->cfg.session_max_age_s);
	snprintf(id, sizeof id, "%lld", l->user_id);
	params[0] = hash;
	params[1] = id;
	params[2] = maxage;
	params[3] = l->ctx->client_addr;
	params[4] = l->rehash ? l->new_hash : NULL;
	params[5] = l->stored_hash;
	params[6] = l->locked_until[0] != '\0' ? l->locked_until : NULL;
	/*
	 * The password was checked against a hash read before the check: the
	 * session and any stronger hash are stored only if the account still
	 * has that hash, is enabled and was not locked since (the row update
	 * rechecks this on the newest row), or a password changed meanwhile
	 * would be put back and the old one let in.
	 */
	if (db_pool_query(
	        d->db,
	        "WITH u AS (UPDATE staff_user SET failed_logins = 0, last_failed_at = NULL, "
	        " locked_until = NULL, last_login_at = now(), "
	        " password_hash = coalesce($5, password_hash) "
	        " WHERE id = $2::bigint AND password_hash = $6 AND NOT disabled "
	        "  AND (locked_until IS NULL OR locked_until <= now() "
	        "   OR locked_until = $7::timestamptz) "
	        " RETURNING id, username, role, mission_id, display_name), "
	        "s AS (INSERT INTO staff_session (token_hash, user_id, expires_at, client_addr) "
	        " SELECT $1, id, now() + make_interval(secs => $3::int), $4 FROM u "
	        " RETURNING user_id) "
	        "SELECT u.id, u.username, u.role, u.mission_id, u.display_name, "
	        " audit_record(u.username, u.role::text, u.mission_id, $4, 'login', "
	        " 'staff_user', u.id::text, '{}') FROM u JOIN s ON s.user_id = u.id",
	        7, params, login_session_created, l, &cause) != 0) {
		http_reply_problem(l->ctx, 503, "service unavailable", cause);
		login_free(l);
	}
}

/* On a worker thread: the scrypt comparison, and a stronger hash if due. */
static void
login_verify_work(void *arg)
{
	struct login *l = arg;
	struct sf_password_params params = sf_password_params_default;
	bool needs = false;

	if (l->stored_hash[0] == '\0')
		login_dummy_hash(l->cost, l->stored_hash, sizeof l->stored_hash);
	l->verify_rc = sf_password_verify(l->password, l->stored_hash);
	params.ln = l->cost;
	if (l->found && l->verify_rc == 0 &&
	    sf_password_needs_rehash(l->stored_hash, &params, &needs) == 0 && needs &&
	    sf_password_hash(l->password, &params, l->new_hash, sizeof l->new_hash) == 0)
		l->rehash = true;
	memset(l->password, 0, strlen(l->password));
}

/* A refused attempt on a locked account: audited, answered like any failure. */
static void
login_refuse_locked(struct login *l)
{
	char id[24];
	const char *params[2];
	const char *cause;

	snprintf(id, sizeof id, "%lld", l->user_id);
	params[0] = id;
	params[1] = l->ctx->client_addr;
	/* The attempt is not counted, so an attacker cannot extend the lock forever. */
	if (db_pool_query(
	        l->ctx->d->db,
	        "SELECT audit_record(username, role::text, mission_id, $2, 'login.refused', "
	        " 'staff_user', id::text, '{\"reason\":\"locked\"}') FROM staff_user "
	        "WHERE id = $1::bigint",
	        2, params, login_failure_recorded, l, &cause) != 0)
		login_fail(l);
}

/* Back on the loop with the verdict. */
static void
login_verify_done(void *arg)
{
	struct login *l = arg;

	login_checked(l);
	if (l->locked) {
		login_refuse_locked(l);
		return;
	}
	if (!l->found) {
		login_record_unknown(l);
		return;
	}
	if (l->verify_rc == 0) {
		login_succeed(l);
		return;
	}
	login_record_failure(l);
}

/* Runs the password check on a worker. */
static void
login_verify(struct login *l)
{
	if (worker_pool_submit(l->ctx->d->password_workers, login_verify_work, login_verify_done,
	                       l) != 0) {
		http_reply_problem(l->ctx, 503, "service unavailable", "shutting down");
		login_free(l);
	}
}

/*
 * The attempt was counted (row "try"), refused as the account is locked
 * (row "locked"), or there is no enabled account of that name (no row).
 * Every case checks a password, so every failure costs the same.
 */
static void
login_counted(const struct db_result *r, void *arg)
{
	struct login *l = arg;
	const char *kind;

	if (r->outcome != DB_OK) {
		http_reply_problem(l->ctx, 503, "service unavailable",
		                   "the database cannot be reached; retry shortly");
		login_free(l);
		return;
	}
	l->cost = (unsigned)l->ctx->d->cfg.password_hash_cost;
	/* Left empty, the worker checks against the dummy hash. */
	l->stored_hash[0] = '\0';
	if (PQntuples(r->res) != 1) {
		login_verify(l);
		return;
	}
	kind = PQgetvalue(r->res, 0, 0);
	l->user_id = atoll(PQgetvalue(r->res, 0, 1));
	snprintf(l->role, sizeof l->role, "%s", PQgetvalue(r->res, 0, 2));
	l->mission_id = atoll(PQgetvalue(r->res, 0, 3));
	l->failures = (unsigned)atoi(PQgetvalue(r->res, 0, 5));
	snprintf(l->locked_until, sizeof l->locked_until, "%s", PQgetvalue(r->res, 0, 6));
	l->addr_failures = (unsigned)atoi(PQgetvalue(r->res, 0, 7));
	if (strcmp(kind, "try") == 0) {
		l->found = true;
		snprintf(l->stored_hash, sizeof l->stored_hash, "%s", PQgetvalue(r->res, 0, 4));
	} else {
		l->locked = true;
	}
	login_verify(l);
}

/* POST /api/v1/session {"username": ..., "password": ...} */
void
routes_session_login(struct http_ctx *ctx)
{
	struct timespec now;
	char key[SF_RATETABLE_KEY_MAX], limit[16], minutes[16];
	cJSON *body, *user, *pass;
	struct login *l;
	const char *params[5];
	const char *cause;
	char account_limit[16];

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (sf_ratetable_key(ctx->client_addr, key, sizeof key) != 0)
		snprintf(key, sizeof key, "?");
	if (!sf_ratetable_take(ctx->d->login_limits, key,
	                       (double)now.tv_sec + (double)now.tv_nsec / 1e9)) {
		http_add_header(ctx, "Retry-After", "60");
		http_reply_problem(ctx, 429, "too many requests",
		                   "too many login attempts from this address; wait a minute");
		return;
	}
	/*
	 * Each check holds 32 MiB and a core: a flood waits outside, not in
	 * memory. Counted from here, not from when the check is queued after
	 * the account is read, or a burst would all be admitted meanwhile.
	 */
	if (ctx->d->logins_checking >= LOGIN_VERIFY_MAX ||
	    worker_pool_pending(ctx->d->password_workers) >= LOGIN_VERIFY_MAX) {
		http_add_header(ctx, "Retry-After", "1");
		http_reply_problem(ctx, 503, "service unavailable",
		                   "too many logins are being checked at once; retry in a second");
		return;
	}
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	user = cJSON_GetObjectItemCaseSensitive(body, "username");
	pass = cJSON_GetObjectItemCaseSensitive(body, "password");
	if (!cJSON_IsString(user) || !cJSON_IsString(pass) || strlen(user->valuestring) == 0 ||
	    strlen(user->valuestring) > 64 || strlen(pass->valuestring) > SF_PASSWORD_MAX_BYTES) {
		if (cJSON_IsString(pass))
			memset(pass->valuestring, 0, strlen(pass->valuestring));
		cJSON_Delete(body);
		http_reply_problem(
		    ctx, 400, "bad request",
		    "send {\"username\": \"...\", \"password\": \"...\"} with a username "
		    "of 1 to 64 characters");
		return;
	}
	l = xcalloc(1, sizeof *l);
	l->ctx = ctx;
	l->checking = true;
	ctx->d->logins_checking++;
	l->arrived = now;
	snprintf(l->username, sizeof l->username, "%s", user->valuestring);
	snprintf(l->client_key, sizeof l->client_key, "%s", key);
	l->password = xstrdup(pass->valuestring);
	memset(pass->valuestring, 0, strlen(pass->valuestring));
	cJSON_Delete(body);

	/*
	 * The attempt counts as a failure until its password is found right (a
	 * success resets the counts), once for the account and client address
	 * and once for the account. Guesses from one address lock that address
	 * out after lock_failures, so they cannot keep the owner out of the
	 * account from elsewhere; all addresses together lock the account after
	 * account_lock_failures. Each count's row lock serialises the attempts
	 * it counts, and its lock condition is checked again on the row each
	 * waiting attempt finally updates (an upsert's update always sees the
	 * newest row), so exactly the limit is checked before a lock and every
	 * later attempt is refused. An attempt refused by the account's lock
	 * tests no password and is not counted for its address: the owner's
	 * office address (often one for all staff) stays usable once the
	 * account's lock ends.
	 */
	snprintf(limit, sizeof limit, "%d", ctx->d->cfg.lock_failures);
	snprintf(minutes, sizeof minutes, "%d", ctx->d->cfg.lock_minutes);
	snprintf(account_limit, sizeof account_limit, "%d", ctx->d->cfg.account_lock_failures);
	params[0] = l->username;
	params[1] = limit;
	params[2] = minutes;
	params[3] = l->client_key;
	params[4] = account_limit;
	if (db_pool_query(
	        ctx->d->db,
	        "WITH a AS (INSERT INTO login_lock AS k (user_id, client_key, failed_logins, "
	        "  last_failed_at, locked_until) "
	        " SELECT id, $4, 1, now(), CASE WHEN 1 >= $2::int "
	        "  THEN now() + make_interval(mins => $3::int) END "
	        " FROM staff_user WHERE username = lower($1) AND NOT disabled "
	        "  AND (locked_until IS NULL OR locked_until <= now()) "
	        " ON CONFLICT (user_id, client_key) DO UPDATE SET failed_logins = CASE WHEN "
	        "  k.last_failed_at > now() - make_interval(mins => $3::int) "
	        "  THEN k.failed_logins + 1 ELSE 1 END, "
	        " last_failed_at = now(), "
	        " locked_until = CASE WHEN (CASE WHEN k.last_failed_at > now() - "
	        "  make_interval(mins => $3::int) THEN k.failed_logins + 1 ELSE 1 END) >= $2::int "
	        "  THEN now() + make_interval(mins => $3::int) ELSE k.locked_until END "
	        " WHERE k.locked_until IS NULL OR k.locked_until <= now() "
	        " RETURNING user_id, failed_logins), "
	        "c AS (UPDATE staff_user SET failed_logins = CASE WHEN last_failed_at > "
	        "  now() - make_interval(mins => $3::int) THEN failed_logins + 1 ELSE 1 END, "
	        " last_failed_at = now(), "
	        " locked_until = CASE WHEN (CASE WHEN last_failed_at > now() - "
	        "  make_interval(mins => $3::int) THEN failed_logins + 1 ELSE 1 END) >= $5::int "
	        "  THEN now() + make_interval(mins => $3::int) ELSE locked_until END "
	        " WHERE id = (SELECT user_id FROM a) AND NOT disabled "
	        "  AND (locked_until IS NULL OR locked_until <= now()) "
	        " RETURNING id, role, mission_id, password_hash, failed_logins, locked_until) "
	        "SELECT 'try', c.id, c.role::text, coalesce(c.mission_id, 0), c.password_hash, "
	        " c.failed_logins, coalesce(c.locked_until::text, ''), a.failed_logins FROM c, a "
	        "UNION ALL SELECT 'locked', id, role::text, coalesce(mission_id, 0), '', "
	        " failed_logins, '', 0 FROM staff_user WHERE username = lower($1) AND NOT disabled "
	        " AND NOT EXISTS (SELECT 1 FROM c)",
	        5, params, login_counted, l, &cause) != 0) {
		http_reply_problem(ctx, 503, "service unavailable", cause);
		login_free(l);
	}
}

/* The session was revoked. */
static void
logout_done(const struct db_result *r, void *arg)
{
	struct http_ctx *ctx = arg;
	char cookie[128];

	if (r->outcome != DB_OK) {
		http_reply_problem(ctx, 503, "service unavailable", "retry shortly");
		return;
	}
	snprintf(cookie, sizeof cookie, "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
	         AUTH_SESSION_COOKIE, ctx->tls ? "; Secure" : "");
	http_add_header(ctx, "Set-Cookie", cookie);
	http_reply_bytes(ctx, 204, "text/plain", "", 0);
}

/* DELETE /api/v1/session */
void
routes_session_logout(struct http_ctx *ctx)
{
	struct audit_who who;
	const char *params[5];
	const char *cause;

	if (ctx->principal.kind != PRINCIPAL_STAFF) {
		http_reply_problem(ctx, 400, "bad request", "API keys have no session to end");
		return;
	}
	audit_params(ctx, &who, params);
	params[4] = ctx->principal.session_hash;
	if (db_pool_query(ctx->d->db,
	                  "WITH s AS (UPDATE staff_session SET revoked_at = now() "
	                  " WHERE token_hash = $5 AND revoked_at IS NULL RETURNING user_id) "
	                  "SELECT audit_record($1, $2, $3::bigint, $4, 'logout', 'staff_user', "
	                  " user_id::text, '{}') FROM s",
	                  5, params, logout_done, ctx, &cause) != 0)
		http_reply_problem(ctx, 503, "service unavailable", cause);
}

/* GET /api/v1/session: who is logged in, and the CSRF token for this session. */
void
routes_session_whoami(struct http_ctx *ctx)
{
	const struct principal *p = &ctx->principal;
	cJSON *body = cJSON_CreateObject();
	cJSON *user = cJSON_AddObjectToObject(body, "user");

	cJSON_AddStringToObject(user, "username", p->name);
	if (p->kind == PRINCIPAL_STAFF) {
		cJSON_AddNumberToObject(user, "id", (double)p->user_id);
		cJSON_AddStringToObject(user, "role", sf_role_name(p->role));
		cJSON_AddStringToObject(body, "csrf_token", p->csrf_token);
	} else {
		cJSON_AddStringToObject(user, "role", "apikey");
	}
	if (p->mission_id > 0)
		cJSON_AddNumberToObject(user, "mission_id", (double)p->mission_id);
	else
		cJSON_AddNullToObject(user, "mission_id");
	http_reply_json(ctx, 200, body);
}
