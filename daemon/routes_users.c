/*
 * Staff accounts through the API: list, read, create and change, each within
 * what sf_role_can_manage allows the caller, each change audited. Lock state
 * (failed logins, locked until) is part of every account shown to admins.
 */
#include "routes.h"

#include "audit.h"
#include "daemon.h"
#include "db_reply.h"
#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#include <ctype.h>
#include <safety/password.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The public fields of an account, as SQL building a JSON object from row u. */
/* Addresses locked out of the account by their own failures. */
#define USER_ADDRESSES_LOCKED                                                                      \
	"(SELECT count(*) FROM login_lock l WHERE l.user_id = u.id AND l.locked_until > now())"

/* An account as answered; addresses is what counts its addresses locked out. */
#define USER_JSON_WITH(addresses)                                                                  \
	"json_build_object('id', u.id, 'username', u.username, 'display_name', u.display_name, "   \
	"'role', u.role, 'mission_id', u.mission_id, 'disabled', u.disabled, "                     \
	"'failed_logins', u.failed_logins, 'locked_until', u.locked_until, "                       \
	"'locked', coalesce(u.locked_until > now(), false) OR " addresses " > 0, "                 \
	"'addresses_locked_out', " addresses ", 'created_at', u.created_at, "                      \
	"'last_login_at', u.last_login_at)"
#define USER_JSON USER_JSON_WITH(USER_ADDRESSES_LOCKED)

/* GET /api/v1/users */
void
routes_users_list(struct http_ctx *ctx)
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
	    "SELECT json_build_object('items', coalesce(json_agg(" USER_JSON
	    " ORDER BY u.id), '[]'::json), 'next', CASE WHEN count(*) = $3::int "
	    " THEN max(u.id)::text END)::text "
	    "FROM (SELECT * FROM staff_user WHERE ($1::bigint IS NULL OR mission_id = $1) "
	    " AND id > coalesce($2::bigint, 0) ORDER BY id LIMIT $3::int) u",
	    3, params);
}

/* GET /api/v1/users/{id} */
void
routes_users_get(struct http_ctx *ctx)
{
	char scope[24], id[24];
	const char *params[2];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	db_reply_json(ctx, 200, "no such account",
	              "SELECT " USER_JSON "::text FROM staff_user u WHERE u.id = $2::bigint "
	              "AND ($1::bigint IS NULL OR u.mission_id = $1)",
	              2, params);
}

/* A create or change that waits for a password hash. */
struct user_change {
	struct http_ctx *ctx;
	char *password; /* wiped after hashing */
	char hash[SF_PASSWORD_ENCODED_MAX];
	int hash_rc;
	unsigned cost;
	/* create */
	char username[72];
	char display_name[208];
	char role[32];
	char mission[24]; /* "" for none */
	/* change */
	char id[24];
	bool set_role, set_disabled, disabled, unlock, set_display;
	enum sf_role old_role, new_role;
	long long old_mission, new_mission;
};

/* Wipes and frees a pending change. */
static void
user_change_free(struct user_change *uc)
{
	if (uc->password != NULL) {
		memset(uc->password, 0, strlen(uc->password));
		free(uc->password);
	}
	memset(uc, 0, sizeof *uc);
	free(uc);
}

/* On a worker: hash the new password. */
static void
user_hash_work(void *arg)
{
	struct user_change *uc = arg;
	struct sf_password_params params = sf_password_params_default;

	params.ln = uc->cost;
	uc->hash_rc = sf_password_hash(uc->password, &params, uc->hash, sizeof uc->hash);
	memset(uc->password, 0, strlen(uc->password));
}

/* Checks a username's shape; the database checks it again. */
static bool
user_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 2 || n > 64 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(islower(c) || isdigit(c) || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Reads "mission_id": a positive number, null or absent (-1). */
static bool
user_read_mission(cJSON *body, long long *out)
{
	cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "mission_id");

	*out = -1;
	if (m == NULL)
		return true;
	if (cJSON_IsNull(m)) {
		*out = 0;
		return true;
	}
	return http_json_id(m, out);
}

/* Checks a new password against the policy; answers 400 if it fails. */
static bool
user_password_ok(struct http_ctx *ctx, const char *password)
{
	char err[160], detail[200];

	if (sf_password_check_policy(password, err, sizeof err) == 0)
		return true;
	snprintf(detail, sizeof detail, "password: %s", err);
	http_reply_problem(ctx, 400, "bad request", detail);
	return false;
}

/* The hash is ready: insert the account. */
static void
user_create_hashed(void *arg)
{
	struct user_change *uc = arg;
	struct audit_who who;
	const char *params[9];

	if (uc->hash_rc != 0) {
		http_reply_problem(uc->ctx, 500, "internal error",
		                   "the password could not be hashed");
		user_change_free(uc);
		return;
	}
	audit_params(uc->ctx, &who, params);
	params[4] = uc->username;
	params[5] = uc->display_name;
	params[6] = uc->role;
	params[7] = uc->mission[0] != '\0' ? uc->mission : NULL;
	params[8] = uc->hash;
	db_reply_json(
	    uc->ctx, 201, "",
	    "WITH u AS (INSERT INTO staff_user (username, display_name, role, mission_id, "
	    " password_hash) VALUES ($5, $6, $7::staff_role, $8::bigint, $9) RETURNING *) "
	    "SELECT " USER_JSON "::text FROM u, LATERAL (SELECT audit_record($1, $2, "
	    " $3::bigint, $4, 'user.create', 'staff_user', u.id::text, "
	    " json_build_object('username', u.username, 'role', u.role, 'mission_id', "
	    " u.mission_id)::text)) a",
	    9, params);
	user_change_free(uc);
}

static const char *const user_create_fields[] = {"username",   "password",     "role",
                                                 "mission_id", "display_name", NULL};

/* Wipes every password in a body (a field given twice has two). */
static void
user_wipe_passwords(cJSON *body)
{
	for (cJSON *item = body->child; item != NULL; item = item->next)
		if (cJSON_IsString(item) && strcmp(item->string, "password") == 0)
			memset(item->valuestring, 0, strlen(item->valuestring));
}

/* POST /api/v1/users */
void
routes_users_create(struct http_ctx *ctx)
{
	const struct principal *p = &ctx->principal;
	cJSON *body = http_read_json(ctx);
	cJSON *username, *password, *role, *display;
	struct user_change *uc;
	enum sf_role target_role;
	long long mission;

	if (body == NULL)
		return;
	if (!http_json_known(ctx, body, user_create_fields)) {
		user_wipe_passwords(body);
		cJSON_Delete(body);
		return;
	}
	username = cJSON_GetObjectItemCaseSensitive(body, "username");
	password = cJSON_GetObjectItemCaseSensitive(body, "password");
	role = cJSON_GetObjectItemCaseSensitive(body, "role");
	display = cJSON_GetObjectItemCaseSensitive(body, "display_name");
	if (!cJSON_IsString(username) || !user_name_ok(username->valuestring)) {
		http_reply_problem(ctx, 400, "bad request",
		                   "username: 2 to 64 of a-z, 0-9, '.', '_', '-', starting with a "
		                   "letter or digit");
		goto out;
	}
	if (!cJSON_IsString(role) || sf_role_parse(role->valuestring, &target_role) != 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "role: one of admin, hq, mission_lead, mission_staff, viewer");
		goto out;
	}
	if (display != NULL && (!cJSON_IsString(display) || strlen(display->valuestring) > 200)) {
		http_reply_problem(ctx, 400, "bad request",
		                   "display_name: text of at most 200 bytes");
		goto out;
	}
	if (!user_read_mission(body, &mission)) {
		http_reply_problem(ctx, 400, "bad request", "mission_id: a mission's id or null");
		goto out;
	}
	/* A lead creates accounts in its own mission unless told otherwise. */
	if (mission < 0)
		mission = sf_role_needs_mission(target_role) ? p->mission_id : 0;
	if (sf_role_needs_mission(target_role) != (mission > 0)) {
		http_reply_problem(ctx, 400, "bad request",
		                   sf_role_needs_mission(target_role)
		                       ? "mission_id: this role works inside one mission; name it"
		                       : "mission_id: admin and hq accounts belong to no mission");
		goto out;
	}
	if (!sf_role_can_manage(p->role, p->mission_id, target_role, mission)) {
		http_reply_problem(ctx, 403, "forbidden",
		                   "you may not create an account with that role in that mission");
		goto out;
	}
	if (!cJSON_IsString(password)) {
		http_reply_problem(ctx, 400, "bad request", "password: required");
		goto out;
	}
	if (!user_password_ok(ctx, password->valuestring))
		goto out;
	uc = xcalloc(1, sizeof *uc);
	uc->ctx = ctx;
	uc->cost = (unsigned)ctx->d->cfg.password_hash_cost;
	uc->password = xstrdup(password->valuestring);
	snprintf(uc->username, sizeof uc->username, "%s", username->valuestring);
	snprintf(uc->display_name, sizeof uc->display_name, "%s",
	         display != NULL ? display->valuestring : "");
	snprintf(uc->role, sizeof uc->role, "%s", sf_role_name(target_role));
	if (mission > 0)
		snprintf(uc->mission, sizeof uc->mission, "%lld", mission);
	if (worker_pool_submit(ctx->d->password_workers, user_hash_work, user_create_hashed, uc) !=
	    0) {
		user_change_free(uc);
		http_reply_problem(ctx, 503, "service unavailable", "shutting down");
	}
out:
	if (cJSON_IsString(password))
		memset(password->valuestring, 0, strlen(password->valuestring));
	cJSON_Delete(body);
}

/* The change was applied, or the account was not as checked. */
static void
user_update_done(const struct db_result *r, void *arg)
{
	struct http_ctx *ctx = arg;

	if (r->outcome != DB_OK) {
		db_reply_error(ctx, r);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_problem(ctx, 409, "conflict",
		                   "the account's role or mission changed while this change was "
		                   "checked; read it again and decide anew");
		return;
	}
	http_reply_bytes(ctx, 200, "application/json", PQgetvalue(r->res, 0, 0),
	                 (size_t)PQgetlength(r->res, 0, 0));
}

/* Applies a change once any new password is hashed. */
static void
user_update_hashed(void *arg)
{
	struct user_change *uc = arg;
	struct audit_who who;
	const char *params[14];
	char role[32], mission[24], old_role[32], old_mission[24];
	const char *cause;

	if (uc->password != NULL && uc->hash_rc != 0) {
		http_reply_problem(uc->ctx, 500, "internal error",
		                   "the password could not be hashed");
		user_change_free(uc);
		return;
	}
	audit_params(uc->ctx, &who, params);
	params[4] = uc->id;
	params[5] = uc->set_role ? sf_role_name(uc->new_role) : NULL;
	snprintf(role, sizeof role, "%s", params[5] != NULL ? params[5] : "");
	params[5] = uc->set_role ? role : NULL;
	snprintf(mission, sizeof mission, "%lld", uc->new_mission);
	params[6] = uc->set_role && uc->new_mission > 0 ? mission : NULL;
	params[7] = uc->set_disabled ? (uc->disabled ? "t" : "f") : NULL;
	params[8] = uc->unlock ? "t" : "f";
	params[9] = uc->password != NULL ? uc->hash : NULL;
	params[10] = uc->set_display ? uc->display_name : NULL;
	params[11] = uc->set_role ? "t" : "f";
	snprintf(old_role, sizeof old_role, "%s", sf_role_name(uc->old_role));
	snprintf(old_mission, sizeof old_mission, "%lld", uc->old_mission);
	params[12] = old_role;
	params[13] = old_mission;
	/*
	 * Sessions end when the password changes or the account is disabled.
	 * The account must still have the role and mission the permission was
	 * checked against: one promoted meanwhile is no longer the caller's.
	 */
	if (db_pool_query(
	        uc->ctx->d->db,
	        "WITH old AS (SELECT * FROM staff_user WHERE id = $5::bigint), "
	        "u AS (UPDATE staff_user s SET "
	        " role = CASE WHEN $12::bool THEN $6::staff_role ELSE s.role END, "
	        " mission_id = CASE WHEN $12::bool THEN $7::bigint ELSE s.mission_id END, "
	        " disabled = coalesce($8::bool, s.disabled), "
	        /* A new password frees the account as an unlock does. */
	        " failed_logins = CASE WHEN $9::bool OR $10::text IS NOT NULL THEN 0 "
	        "  ELSE s.failed_logins END, "
	        " locked_until = CASE WHEN $9::bool OR $10::text IS NOT NULL THEN NULL "
	        "  ELSE s.locked_until END, "
	        " password_hash = coalesce($10, s.password_hash), "
	        " password_changed_at = CASE WHEN $10 IS NULL THEN s.password_changed_at "
	        "  ELSE now() END, "
	        " display_name = coalesce($11, s.display_name) "
	        " WHERE s.id = $5::bigint AND s.role = $13::staff_role "
	        " AND coalesce(s.mission_id, 0) = $14::bigint RETURNING s.*), "
	        /* Only a change that was made ends sessions (data-modifying CTEs always run). */
	        "ended AS (UPDATE staff_session SET revoked_at = now() WHERE user_id = $5::bigint "
	        " AND revoked_at IS NULL AND ($10 IS NOT NULL OR $8::bool) "
	        " AND EXISTS (SELECT 1 FROM u) RETURNING 1), "
	        /* An unlock or a new password also lets back in every address locked out. */
	        "freed AS (DELETE FROM login_lock WHERE user_id = (SELECT id FROM u) "
	        " AND ($9::bool OR $10::text IS NOT NULL) RETURNING locked_until > now() AS "
	        "was_locked) "
	        "SELECT " USER_JSON_WITH(
	            "(CASE WHEN $9::bool OR $10::text IS NOT NULL THEN 0 "
	            "ELSE " USER_ADDRESSES_LOCKED
	            " END)") "::text "
	                     "FROM u, old, LATERAL (SELECT audit_record($1, $2, "
	                     " $3::bigint, $4, CASE WHEN $9::bool AND (old.locked_until > now() OR "
	                     " EXISTS (SELECT 1 FROM freed WHERE was_locked)) "
	                     " THEN 'user.unlock' ELSE 'user.update' END, 'staff_user', "
	                     "u.id::text, "
	                     " json_build_object('before', json_build_object('role', old.role, "
	                     "'mission_id', "
	                     " old.mission_id, 'disabled', old.disabled, 'failed_logins', "
	                     "old.failed_logins), "
	                     " 'after', json_build_object('role', u.role, 'mission_id', "
	                     "u.mission_id, "
	                     " 'disabled', u.disabled, 'failed_logins', u.failed_logins), "
	                     " 'password_changed', $10 IS NOT NULL, 'sessions_ended', "
	                     " (SELECT count(*) FROM ended))::text)) a",
	        14, params, user_update_done, uc->ctx, &cause) != 0)
		http_reply_problem(uc->ctx, 503, "service unavailable", cause);
	user_change_free(uc);
}

/* The account to change was loaded: check, then hash or apply. */
static void
user_update_loaded(const struct db_result *r, void *arg)
{
	struct user_change *uc = arg;
	const struct principal *p = &uc->ctx->principal;

	if (r->outcome != DB_OK) {
		db_reply_error(uc->ctx, r);
		user_change_free(uc);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_problem(uc->ctx, 404, "not found", "no such account");
		user_change_free(uc);
		return;
	}
	if (sf_role_parse(PQgetvalue(r->res, 0, 0), &uc->old_role) != 0)
		uc->old_role = SF_ROLE_NONE;
	uc->old_mission = atoll(PQgetvalue(r->res, 0, 1));
	if (!uc->set_role) {
		uc->new_role = uc->old_role;
		uc->new_mission = uc->old_mission;
	} else if (uc->new_mission < 0) {
		uc->new_mission = sf_role_needs_mission(uc->new_role) ? uc->old_mission : 0;
	}
	if (sf_role_needs_mission(uc->new_role) != (uc->new_mission > 0)) {
		http_reply_problem(
		    uc->ctx, 400, "bad request",
		    "mission_id: mission roles need a mission; admin and hq have none");
		user_change_free(uc);
		return;
	}
	/* Both the account as it is and as it will be must be the caller's to manage. */
	if (!sf_role_can_manage(p->role, p->mission_id, uc->old_role, uc->old_mission) ||
	    !sf_role_can_manage(p->role, p->mission_id, uc->new_role, uc->new_mission)) {
		http_reply_problem(uc->ctx, 403, "forbidden", "you may not change this account");
		user_change_free(uc);
		return;
	}
	if (uc->password != NULL) {
		if (worker_pool_submit(uc->ctx->d->password_workers, user_hash_work,
		                       user_update_hashed, uc) != 0) {
			http_reply_problem(uc->ctx, 503, "service unavailable", "shutting down");
			user_change_free(uc);
		}
		return;
	}
	user_update_hashed(uc);
}

static const char *const user_update_fields[] = {"role",     "mission_id",   "disabled", "unlock",
                                                 "password", "display_name", NULL};

/* PATCH /api/v1/users/{id} {role, mission_id, disabled, unlock, password, display_name} */
void
routes_users_update(struct http_ctx *ctx)
{
	cJSON *body, *item;
	struct user_change *uc;
	char scope[24];
	const char *params[2];
	const char *cause;

	uc = xcalloc(1, sizeof *uc);
	uc->ctx = ctx;
	uc->cost = (unsigned)ctx->d->cfg.password_hash_cost;
	if (http_param_id(ctx, 0, uc->id) == NULL) {
		user_change_free(uc);
		return;
	}
	body = http_read_json(ctx);
	if (body == NULL) {
		user_change_free(uc);
		return;
	}
	/* A field twice is refused, and every copy of a password in it wiped. */
	if (!http_json_known(ctx, body, user_update_fields)) {
		user_wipe_passwords(body);
		cJSON_Delete(body);
		user_change_free(uc);
		return;
	}
	for (item = body->child; item != NULL; item = item->next) {
		const char *k = item->string;
		if (strcmp(k, "role") == 0) {
			if (!cJSON_IsString(item) ||
			    sf_role_parse(item->valuestring, &uc->new_role) != 0)
				goto bad;
			uc->set_role = true;
		} else if (strcmp(k, "mission_id") == 0) {
			continue; /* read below with the role */
		} else if (strcmp(k, "disabled") == 0) {
			if (!cJSON_IsBool(item))
				goto bad;
			uc->set_disabled = true;
			uc->disabled = cJSON_IsTrue(item);
		} else if (strcmp(k, "unlock") == 0) {
			if (!cJSON_IsBool(item))
				goto bad;
			uc->unlock = cJSON_IsTrue(item);
		} else if (strcmp(k, "display_name") == 0) {
			if (!cJSON_IsString(item) || strlen(item->valuestring) > 200)
				goto bad;
			uc->set_display = true;
			snprintf(uc->display_name, sizeof uc->display_name, "%s",
			         item->valuestring);
		} else if (strcmp(k, "password") == 0) {
			if (!cJSON_IsString(item))
				goto bad;
			if (!user_password_ok(ctx, item->valuestring)) {
				memset(item->valuestring, 0, strlen(item->valuestring));
				cJSON_Delete(body);
				user_change_free(uc);
				return;
			}
			uc->password = xstrdup(item->valuestring);
			memset(item->valuestring, 0, strlen(item->valuestring));
		} else {
			char detail[128];
			snprintf(detail, sizeof detail, "unknown field '%.60s'", k);
			http_reply_problem(ctx, 400, "bad request", detail);
			cJSON_Delete(body);
			user_change_free(uc);
			return;
		}
	}
	if (!user_read_mission(body, &uc->new_mission))
		goto bad;
	if (uc->new_mission >= 0 && !uc->set_role) {
		http_reply_problem(ctx, 400, "bad request", "mission_id changes only with role");
		cJSON_Delete(body);
		user_change_free(uc);
		return;
	}
	cJSON_Delete(body);
	params[0] = auth_scope_param(ctx, scope);
	params[1] = uc->id;
	if (db_pool_query(
	        ctx->d->db,
	        "SELECT role, coalesce(mission_id, 0) FROM staff_user WHERE id = $2::bigint "
	        "AND ($1::bigint IS NULL OR mission_id = $1)",
	        2, params, user_update_loaded, uc, &cause) != 0) {
		http_reply_problem(ctx, 503, "service unavailable", cause);
		user_change_free(uc);
	}
	return;
bad:
	http_reply_problem(ctx, 400, "bad request",
	                   "fields: role (text), mission_id (number or null), disabled (bool), "
	                   "unlock (bool), password (text), display_name (text)");
	cJSON_Delete(body);
	user_change_free(uc);
}
