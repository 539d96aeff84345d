/*
 * What a crisis team works from: the counts by status and region (read from
 * the counts the triggers keep, so milliseconds whatever the crisis size),
 * the people in a status or with a flag, most urgent first, and replies
 * staff take by phone or in person.
 */
#include "routes.h"

#include "audit.h"
#include "auth.h"
#include "daemon.h"
#include "db_reply.h"
#include "log.h"
#include "replies.h"
#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <safety/name.h>
#include <safety/status.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* GET /api/v1/crises/{id}/status: counts by status, by region, flags, answers per minute. */
void
routes_status_counts(struct http_ctx *ctx)
{
	char scope[24], id[24];
	const char *params[2];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	db_reply_json(
	    ctx, 200, "no such crisis",
	    "SELECT json_build_object('crisis_id', c.id, 'drill', c.drill, 'state', c.state, "
	    " 'counts', (SELECT coalesce(json_object_agg(status, n), '{}'::json) FROM (SELECT "
	    "status, "
	    "  sum(n) AS n FROM status_count WHERE crisis_id = c.id AND ($1::bigint IS NULL OR "
	    "  mission_id = $1) GROUP BY status HAVING sum(n) > 0) s), "
	    " 'by_region', (SELECT coalesce(json_agg(json_build_object('region_id', "
	    "nullif(x.region_id, 0), "
	    "  'code', r.code, 'name', r.name, 'counts', x.counts) ORDER BY r.code NULLS LAST), "
	    "'[]'::json) "
	    "  FROM (SELECT region_id, json_object_agg(status, n) AS counts FROM (SELECT "
	    "region_id, status, "
	    "  sum(n) AS n FROM status_count WHERE crisis_id = c.id AND ($1::bigint IS NULL OR "
	    "  mission_id = $1) GROUP BY region_id, status HAVING sum(n) > 0) y GROUP BY "
	    "region_id) x "
	    "  LEFT JOIN region r ON r.id = x.region_id), "
	    " 'flags', (SELECT json_build_object('duress', count(*) FILTER (WHERE duress), "
	    "  'needs_review', count(*) FILTER (WHERE needs_review), 'confirm_safe', count(*) "
	    "FILTER "
	    "  (WHERE confirm_safe)) FROM person_status WHERE crisis_id = c.id AND (duress OR "
	    "needs_review "
	    "  OR confirm_safe) AND NOT deleted AND ($1::bigint IS NULL OR mission_id = $1)), "
	    " 'per_minute', (SELECT coalesce(json_agg(json_build_object('minute', minute, "
	    "'answers', n) "
	    "  ORDER BY minute), '[]'::json) FROM (SELECT minute, sum(n) AS n FROM response_minute "
	    "WHERE "
	    "  crisis_id = c.id AND minute > now() - interval '6 hours' AND ($1::bigint IS NULL OR "
	    "  mission_id = $1) GROUP BY minute) m))::text "
	    "FROM crisis c WHERE c.id = $2::bigint AND ($1::bigint IS NULL OR EXISTS (SELECT 1 "
	    "FROM "
	    " crisis_mission cm WHERE cm.crisis_id = c.id AND cm.mission_id = $1))",
	    2, params);
}

/*
 * Reads a page cursor of the people list, "<national id>.<key>" as the last
 * page's next gave it: the key is the sort's own (a number for urgency and
 * answered, the name for name). False (and 400) when it is not one.
 */
static bool
status_people_cursor(struct http_ctx *ctx, const char *after, bool by_name, char id[24],
                     char num[24], const char **text)
{
	const char *dot = after != NULL ? strchr(after, '.') : NULL;
	size_t n = dot != NULL ? (size_t)(dot - after) : 0;
	char *end;
	long long key;

	if (dot == NULL || n == 0 || n >= 24)
		goto bad;
	memcpy(id, after, n);
	id[n] = '\0';
	if (!http_is_id(id))
		goto bad;
	if (by_name) {
		snprintf(num, 24, "0");
		*text = dot + 1;
		return true;
	}
	errno = 0;
	key = strtoll(dot + 1, &end, 10);
	if (dot[1] == '\0' || *end != '\0' || errno != 0)
		goto bad;
	snprintf(num, 24, "%lld", key);
	*text = "";
	return true;
bad:
	http_reply_problem(ctx, 400, "bad request",
	                   "after: the next of a previous page, with the same sort");
	return false;
}

/*
 * GET /api/v1/crises/{id}/people?status=&flag=duress|needs_review|confirm_safe
 * &region=&q=&assigned=me|none|ID&sort=urgency|name|answered&after=&limit=:
 * the people of a crisis, most urgent first (duress, then injured, needs
 * help, needs evacuation, missing, unreachable, pending...), with their
 * newest answer and who is assigned to call them. q is a name in either
 * script, matched as name search does. Paged by the sort itself: next is
 * the after of the next page.
 */
void
routes_status_people(struct http_ctx *ctx)
{
	char scope[24], id[24], status[24], flag[16], region[24], limit[8], show[2];
	char q[200], key[512] = "", assigned[24], sort[16], me[24], after_buf[1024];
	char after_id[24], after_num[24];
	const char *vstatus, *vflag, *vregion, *after, *after_text = NULL, *vq, *vassigned, *vsort;
	const char *params[13];
	const struct principal *p = &ctx->principal;
	char limit_buf[24];
	const char *vlimit;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	/* The cursor is not an id, so http_page cannot read it; the limit is as there. */
	if (!http_query_filter(ctx, "after", after_buf, sizeof after_buf, &after) ||
	    !http_query_filter(ctx, "limit", limit_buf, sizeof limit_buf, &vlimit))
		return;
	if (vlimit != NULL) {
		char *end;
		long n = strtol(vlimit, &end, 10);
		if (*vlimit == '\0' || *end != '\0' || n < 1 || n > 500) {
			http_reply_problem(ctx, 400, "bad request",
			                   "limit must be between 1 and 500");
			return;
		}
		snprintf(limit, sizeof limit, "%ld", n);
	} else {
		snprintf(limit, sizeof limit, "100");
	}
	if (!http_query_filter(ctx, "status", status, sizeof status, &vstatus) ||
	    !http_query_filter(ctx, "flag", flag, sizeof flag, &vflag) ||
	    !http_query_filter(ctx, "region", region, sizeof region, &vregion) ||
	    !http_query_filter(ctx, "q", q, sizeof q, &vq) ||
	    !http_query_filter(ctx, "assigned", assigned, sizeof assigned, &vassigned) ||
	    !http_query_filter(ctx, "sort", sort, sizeof sort, &vsort))
		return;
	if (vflag != NULL && strcmp(vflag, "duress") != 0 && strcmp(vflag, "needs_review") != 0 &&
	    strcmp(vflag, "confirm_safe") != 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "flag: duress, needs_review or confirm_safe");
		return;
	}
	if (vstatus != NULL) {
		enum sf_status named;
		if (sf_status_parse(vstatus, strlen(vstatus), &named) != 0) {
			http_reply_problem(ctx, 400, "bad request",
			                   "status: a status name (safe, needs_help, injured, "
			                   "needs_evacuation, pending, ...)");
			return;
		}
	}
	if (vregion != NULL && !http_is_id(vregion)) {
		http_reply_problem(ctx, 400, "bad request", "region: a region's id");
		return;
	}
	if (vq != NULL && *vq != '\0' &&
	    (sf_name_search_key(vq, key, sizeof key) != 0 || strlen(key) < 1)) {
		http_reply_problem(ctx, 400, "bad request", "q: a name in Hangul or Latin letters");
		return;
	}
	if (vassigned != NULL && strcmp(vassigned, "me") == 0) {
		snprintf(me, sizeof me, "%lld", p->user_id);
		vassigned = p->kind == PRINCIPAL_STAFF ? me : "0";
	} else if (vassigned != NULL && strcmp(vassigned, "none") == 0) {
		vassigned = "-1";
	} else if (vassigned != NULL && !http_is_id(vassigned)) {
		http_reply_problem(ctx, 400, "bad request",
		                   "assigned: me, none or a staff member's id");
		return;
	}
	if (vsort == NULL)
		vsort = "urgency";
	if (strcmp(vsort, "urgency") != 0 && strcmp(vsort, "name") != 0 &&
	    strcmp(vsort, "answered") != 0) {
		http_reply_problem(ctx, 400, "bad request", "sort: urgency, name or answered");
		return;
	}
	if (after != NULL && !status_people_cursor(ctx, after, strcmp(vsort, "name") == 0, after_id,
	                                           after_num, &after_text))
		return;
	snprintf(show, sizeof show, "%s",
	         p->role == SF_ROLE_ADMIN || p->role == SF_ROLE_MISSION_LEAD ||
	                 p->role == SF_ROLE_MISSION_STAFF
	             ? "t"
	             : "f");
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	params[2] = vstatus;
	params[3] = vflag;
	params[4] = vregion;
	params[5] = after != NULL ? after_id : NULL;
	params[6] = limit;
	params[7] = show;
	params[8] = key[0] != '\0' ? key : NULL;
	params[9] = vassigned;
	params[10] = vsort;
	params[11] = after != NULL ? after_num : NULL;
	params[12] = after_text;
	/*
	 * Keyset paging on (number, text, national id): the number is the
	 * urgency, or the answer's time in microseconds negated (newest first,
	 * the unanswered last), the text the name; each is constant in the
	 * sorts that do not use it, so one row comparison serves all three.
	 */
	db_reply_json(
	    ctx, 200, "no such crisis",
	    "SELECT (SELECT json_build_object('items', coalesce(json_agg(json_build_object("
	    " 'national_id', x.national_id, 'name_ko', x.name_ko, 'name_latin', x.name_latin, "
	    "'status', x.status, "
	    " 'duress', x.duress, 'needs_review', x.needs_review, 'confirm_safe', x.confirm_safe, "
	    " 'by_proxy', x.by_proxy, 'headcount', x.headcount, 'answered_at', x.answered_at, "
	    " 'region_id', x.region_id, 'phones', CASE WHEN $8::bool THEN (SELECT "
	    "  array_agg(c.value ORDER BY c.priority) FROM contact c WHERE c.national_id = "
	    "  x.national_id AND c.kind = 'phone') END, "
	    " 'assigned_to', (SELECT json_build_object('id', u.id, 'name', "
	    "  coalesce(nullif(u.display_name, ''), u.username)) FROM staff_user u "
	    "  WHERE u.id = x.assigned_to), "
	    " 'last_answer', (SELECT json_build_object('channel', r.channel, 'text', r.raw_text, "
	    "  'at', r.received_at) FROM response r WHERE r.id = x.last_response_id)) "
	    " ORDER BY x.knum, x.ktext, x.national_id), '[]'::json), "
	    " 'next', CASE WHEN count(*) = $7::int THEN (array_agg(x.national_id || '.' || "
	    "  CASE WHEN $11 = 'name' THEN x.ktext ELSE x.knum::text END "
	    "  ORDER BY x.knum DESC, x.ktext DESC, x.national_id DESC))[1] END) "
	    "FROM (SELECT p.*, n.name_ko, n.name_latin, k.knum, k.ktext "
	    " FROM person_status p JOIN national n ON n.id = p.national_id "
	    " CROSS JOIN LATERAL (SELECT CASE $11 WHEN 'urgency' THEN CASE WHEN p.duress THEN 0 "
	    "  WHEN p.status = 'injured' THEN 1 WHEN p.status = 'needs_help' THEN 2 "
	    "  WHEN p.status = 'needs_evacuation' THEN 3 WHEN p.status = 'missing' THEN 4 "
	    "  WHEN p.needs_review THEN 5 WHEN p.status = 'unreachable' THEN 6 "
	    "  WHEN p.status = 'pending' THEN 7 WHEN p.confirm_safe THEN 8 ELSE 9 END "
	    "  WHEN 'answered' THEN coalesce(-(extract(epoch FROM p.answered_at) * "
	    "1000000)::bigint, "
	    "  9223372036854775807) ELSE 0 END::bigint AS knum, "
	    "  CASE WHEN $11 = 'name' THEN coalesce(n.name_latin, n.name_ko, '') ELSE '' END "
	    "  AS ktext) k "
	    " WHERE p.crisis_id = $2::bigint AND ($1::bigint IS NULL OR p.mission_id = $1) "
	    " AND NOT p.deleted AND n.deleted_at IS NULL "
	    " AND ($3::text IS NULL OR p.status = $3) AND ($5::bigint IS NULL OR p.region_id = $5) "
	    " AND ($4::text IS NULL OR ($4 = 'duress' AND p.duress) OR ($4 = 'needs_review' AND "
	    "  p.needs_review) OR ($4 = 'confirm_safe' AND p.confirm_safe)) "
	    " AND ($9::text IS NULL OR n.name_key LIKE '%' || $9 || '%') "
	    " AND ($10::bigint IS NULL OR ($10 = -1 AND p.assigned_to IS NULL) "
	    "  OR p.assigned_to = $10) "
	    " AND ($6::bigint IS NULL OR (k.knum, k.ktext, p.national_id) > "
	    "  ($12::bigint, $13::text, $6::bigint)) "
	    " ORDER BY k.knum, k.ktext, p.national_id LIMIT $7::int) x)::text "
	    "FROM crisis c WHERE c.id = $2::bigint AND ($1::bigint IS NULL OR EXISTS (SELECT 1 "
	    " FROM crisis_mission cm WHERE cm.crisis_id = c.id AND cm.mission_id = $1))",
	    13, params);
}

/*
 * PUT /api/v1/crises/{id}/people/{nid}/assignee {"user_id": N} or
 * {"user_id": null}: who calls this person; only a lead or staff member of
 * the person's mission.
 */
void
routes_status_assign(struct http_ctx *ctx)
{
	char scope[24], id[24], nid[24], user[24];
	cJSON *body, *u;
	struct audit_who who;
	const char *who_params[AUDIT_NPARAMS], *params[7];
	bool has_user;

	if (http_param_id(ctx, 0, id) == NULL || http_param_id(ctx, 1, nid) == NULL)
		return;
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	u = cJSON_GetObjectItemCaseSensitive(body, "user_id");
	if (!(cJSON_IsNull(u) ||
	      (cJSON_IsNumber(u) && u->valuedouble >= 1 && u->valuedouble < 1e15))) {
		http_reply_problem(ctx, 400, "bad request",
		                   "user_id: a staff member's id, or null to free the person");
		cJSON_Delete(body);
		return;
	}
	has_user = cJSON_IsNumber(u);
	if (has_user)
		snprintf(user, sizeof user, "%lld", (long long)u->valuedouble);
	cJSON_Delete(body); /* u is gone with it */
	audit_params(ctx, &who, who_params);
	params[0] = id;
	params[1] = nid;
	params[2] = auth_scope_param(ctx, scope);
	params[3] = has_user ? user : NULL;
	params[4] = who_params[0];
	params[5] = who_params[1];
	params[6] = who_params[3];
	db_reply_json(ctx, 200, "no such person in this crisis",
	              "SELECT r::text FROM person_assign($1::bigint, $2::bigint, $3::bigint, "
	              "$4::bigint, $5, $6, $7) r WHERE r IS NOT NULL",
	              7, params);
}

/* GET /api/v1/crises/{id}/staff: who may be assigned people of the crisis (within scope). */
void
routes_status_staff(struct http_ctx *ctx)
{
	char scope[24], id[24];
	const char *params[2];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	db_reply_json(
	    ctx, 200, "no such crisis",
	    "SELECT (SELECT coalesce(json_agg(json_build_object('id', u.id, 'name', "
	    " coalesce(nullif(u.display_name, ''), u.username), 'role', u.role, "
	    " 'mission_id', u.mission_id) ORDER BY u.username), '[]') "
	    " FROM crisis_mission cm JOIN staff_user u ON u.mission_id = cm.mission_id "
	    " WHERE cm.crisis_id = c.id AND ($1::bigint IS NULL OR cm.mission_id = $1) "
	    " AND u.role IN ('mission_lead', 'mission_staff') AND NOT u.disabled)::text "
	    "FROM crisis c WHERE c.id = $2::bigint AND ($1::bigint IS NULL OR EXISTS (SELECT 1 "
	    " FROM crisis_mission cm WHERE cm.crisis_id = c.id AND cm.mission_id = $1))",
	    2, params);
}

struct staff_entry {
	struct http_ctx *ctx;
	struct reply_input in;
	char text[600], by[80];
	int64_t crisis_id, national_id;
	enum sf_status became; /* the status the entry leaves the person in */
	bool duress_after;     /* whether the duress flag stays raised */
	/* The audit of a stored entry, tried until it lands. */
	struct audit_who who;
	const char *params[10];
	char crisis[24], national[24];
	unsigned audit_tries;
	struct event *audit_retry;
};

static void staff_entry_audit(struct staff_entry *se);

static void
staff_entry_free(struct staff_entry *se)
{
	if (se->audit_retry != NULL)
		event_free(se->audit_retry);
	free(se);
}

static void
staff_entry_audit_again(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	staff_entry_audit(arg);
}

/*
 * The entry is stored but its audit row is not: try again shortly (up to
 * 5 s apart) while the caller waits, as answering "retry" would have the
 * decision entered twice and a stored decision must name who made it.
 */
static void
staff_entry_audit_later(struct staff_entry *se, const char *why)
{
	struct timeval tv;
	unsigned ms = se->audit_tries < 10 ? 500u * se->audit_tries : 5000u;

	log_warn("staff_entry_audit_retry", "crisis_id", se->crisis, "national_id", se->national,
	         "error", why);
	if (se->ctx->d->shutting_down) {
		/*
		 * The entry stands: answer so, lest it be entered twice, and leave
		 * the operator what the audit row would have said.
		 */
		cJSON *body = cJSON_CreateObject();

		log_error("staff_entry_unaudited", "crisis_id", se->crisis, "national_id",
		          se->national, "actor", se->params[0], "status", se->params[6], "became",
		          se->params[7]);
		cJSON_AddBoolToObject(body, "stored", true);
		cJSON_AddNumberToObject(body, "crisis_id", (double)se->crisis_id);
		cJSON_AddNumberToObject(body, "national_id", (double)se->national_id);
		cJSON_AddStringToObject(body, "requested", se->params[6]);
		cJSON_AddStringToObject(body, "status", se->params[7]);
		cJSON_AddBoolToObject(body, "applied", strcmp(se->params[6], se->params[7]) == 0);
		cJSON_AddBoolToObject(body, "duress", se->duress_after);
		cJSON_AddNullToObject(body, "audit_id");
		http_reply_json(se->ctx, 201, body);
		staff_entry_free(se);
		return;
	}
	if (se->audit_retry == NULL)
		se->audit_retry = evtimer_new(se->ctx->d->base, staff_entry_audit_again, se);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (long)(ms % 1000) * 1000;
	evtimer_add(se->audit_retry, &tv);
}

/* The audit row of the stored entry is written: answer. */
static void
staff_entry_audited(const struct db_result *r, void *arg)
{
	struct staff_entry *se = arg;

	if (r->outcome != DB_OK || PQntuples(r->res) != 1) {
		staff_entry_audit_later(se, r->error);
		return;
	}
	http_reply_bytes(se->ctx, 201, "application/json", PQgetvalue(r->res, 0, 0),
	                 (size_t)PQgetlength(r->res, 0, 0));
	staff_entry_free(se);
}

/* Writes the audit row of the stored entry and builds the answer. */
static void
staff_entry_audit(struct staff_entry *se)
{
	const char *cause = NULL;

	se->audit_tries++;
	/*
	 * The status the entry left, which a decision refused (evacuated for
	 * someone never answered, an answer after a staff decision) is not.
	 */
	if (db_pool_query(
	        se->ctx->d->db,
	        "SELECT json_build_object('stored', true, 'crisis_id', $5::bigint, 'national_id', "
	        "$6::bigint, 'requested', $7::text, 'status', $8::text, 'applied', $7 = $8, "
	        "'duress', $10::bool, 'audit_id', audit_record($1, $2, $3::bigint, $4, "
	        "'response.staff', 'national', $6::bigint::text, json_build_object('crisis_id', "
	        "$5::bigint, 'status', $7::text, 'became', $8::text, 'clear_duress', "
	        "$9::bool)::text))::text",
	        10, se->params, staff_entry_audited, se, &cause) != 0)
		staff_entry_audit_later(se, cause);
}

/* The staff reply is stored: audit it and answer. */
static void
staff_entry_done(enum reply_outcome outcome, bool duress, void *arg)
{
	struct staff_entry *se = arg;

	(void)duress;
	if (outcome == REPLY_FAILED) {
		http_reply_problem(se->ctx, 503, "service unavailable", "not stored; try again");
		staff_entry_free(se);
		return;
	}
	audit_params(se->ctx, &se->who, se->params);
	snprintf(se->crisis, sizeof se->crisis, "%lld", (long long)se->crisis_id);
	snprintf(se->national, sizeof se->national, "%lld", (long long)se->national_id);
	se->params[4] = se->crisis;
	se->params[5] = se->national;
	se->params[6] = sf_status_name(se->in.status);
	se->params[7] = sf_status_name(se->became);
	se->params[8] = se->in.clear_duress ? "t" : "f";
	se->params[9] = se->duress_after ? "t" : "f";
	staff_entry_audit(se);
}

/* The person belongs to the caller's mission and the crisis: store the reply. */
static void
staff_entry_checked(const struct db_result *r, void *arg)
{
	struct staff_entry *se = arg;

	if (r->outcome != DB_OK) {
		db_reply_error(se->ctx, r);
		free(se);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_problem(se->ctx, 404, "not found", "no such national in this crisis");
		free(se);
		return;
	}
	/* What the precedence rules will make of it, from the status as it stands. */
	{
		struct sf_status_state cur, next;
		struct sf_status_event ev = {0};
		int64_t version;
		bool changed;
		struct timespec ts;

		replies_read_state(r->res, 0, 1, &cur, &version);
		clock_gettime(CLOCK_REALTIME, &ts);
		ev.status = se->in.status;
		ev.at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		ev.source = replies_source(se->in.by_staff, false, "staff");
		ev.clear_duress = se->in.clear_duress;
		if (sf_status_apply(&cur, &ev, &next, &changed) == 0) {
			se->became = next.status;
			se->duress_after = next.duress;
		} else {
			se->became = cur.status;
			se->duress_after = cur.duress;
		}
	}
	replies_submit(se->ctx->d, &se->in, staff_entry_done, se);
}

/*
 * POST /api/v1/crises/{id}/responses {national_id, status, headcount,
 * message, lat, lon}: a reply taken by phone or in person. missing,
 * deceased and evacuated are staff decisions: only staff change them again.
 */
void
routes_status_staff_entry(struct http_ctx *ctx)
{
	cJSON *body, *nid, *status, *count, *msg, *lat, *lon, *clear;
	struct staff_entry *se;
	char scope[24], id[24], national[24];
	const char *params[3];
	const char *cause;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	nid = cJSON_GetObjectItemCaseSensitive(body, "national_id");
	status = cJSON_GetObjectItemCaseSensitive(body, "status");
	count = cJSON_GetObjectItemCaseSensitive(body, "headcount");
	msg = cJSON_GetObjectItemCaseSensitive(body, "message");
	lat = cJSON_GetObjectItemCaseSensitive(body, "lat");
	lon = cJSON_GetObjectItemCaseSensitive(body, "lon");
	clear = cJSON_GetObjectItemCaseSensitive(body, "clear_duress");
	if (clear != NULL && !cJSON_IsBool(clear)) {
		http_reply_problem(ctx, 400, "bad request", "clear_duress: true or false");
		cJSON_Delete(body);
		return;
	}
	/* Only the mission lead resolves a duress alert, having reached the person. */
	if (cJSON_IsTrue(clear) && ctx->principal.role != SF_ROLE_MISSION_LEAD) {
		http_reply_problem(ctx, 403, "forbidden",
		                   "clear_duress: only the mission lead clears a duress alert");
		cJSON_Delete(body);
		return;
	}
	se = xcalloc(1, sizeof *se);
	if (!cJSON_IsNumber(nid) || nid->valuedouble < 1 || !cJSON_IsString(status) ||
	    sf_status_parse(status->valuestring, strlen(status->valuestring), &se->in.status) !=
	        0 ||
	    se->in.status == SF_STATUS_UNKNOWN || se->in.status == SF_STATUS_PENDING ||
	    se->in.status == SF_STATUS_UNREACHABLE ||
	    (count != NULL &&
	     (!cJSON_IsNumber(count) || count->valuedouble < 1 || count->valuedouble > 99)) ||
	    (msg != NULL && (!cJSON_IsString(msg) || strlen(msg->valuestring) > 500)) ||
	    ((lat != NULL) != (lon != NULL)) ||
	    (lat != NULL &&
	     (!cJSON_IsNumber(lat) || !cJSON_IsNumber(lon) || lat->valuedouble < -90 ||
	      lat->valuedouble > 90 || lon->valuedouble < -180 || lon->valuedouble > 180))) {
		http_reply_problem(
		    ctx, 400, "bad request",
		    "national_id: a number; status: safe, needs_help, injured, "
		    "needs_evacuation, evacuated, missing or deceased; headcount 1..99; "
		    "message up to 500 bytes; lat and lon together");
		cJSON_Delete(body);
		free(se);
		return;
	}
	se->ctx = ctx;
	se->crisis_id = atoll(id);
	se->national_id = (int64_t)nid->valuedouble;
	snprintf(se->text, sizeof se->text, "%s", msg != NULL ? msg->valuestring : "");
	snprintf(se->by, sizeof se->by, "%s", ctx->principal.name);
	se->in.crisis_id = se->crisis_id;
	se->in.national_id = se->national_id;
	se->in.channel = "staff";
	se->in.raw_text = se->text[0] != '\0' ? se->text : NULL;
	se->in.entered_by = se->by;
	/* A decision only staff may change again; an answer relayed by phone counts as the
	 * person's. */
	se->in.by_staff = se->in.status == SF_STATUS_MISSING ||
	                  se->in.status == SF_STATUS_DECEASED ||
	                  se->in.status == SF_STATUS_EVACUATED;
	/*
	 * Only a staff entry carries a clearing; with an answer status ("safe")
	 * it stays the person's answer relayed and does not lock the status.
	 */
	se->in.clear_duress = cJSON_IsTrue(clear);
	se->in.by_staff |= se->in.clear_duress;
	se->in.headcount = count != NULL ? (int)count->valuedouble : 0;
	if (lat != NULL) {
		se->in.has_point = true;
		se->in.lat = lat->valuedouble;
		se->in.lon = lon->valuedouble;
	}
	cJSON_Delete(body);
	snprintf(national, sizeof national, "%lld", (long long)se->national_id);
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	params[2] = national;
	if (db_pool_query(
	        ctx->d->db,
	        "SELECT 1," STATUS_STATE_COLUMNS " FROM national n "
	        "JOIN crisis_mission cm ON cm.mission_id = n.mission_id "
	        "JOIN crisis c ON c.id = cm.crisis_id AND c.state = 'active' "
	        "LEFT JOIN person_status p ON p.crisis_id = cm.crisis_id AND p.national_id = n.id "
	        "WHERE n.id = $3::bigint AND cm.crisis_id = $2::bigint AND n.deleted_at IS NULL "
	        "AND ($1::bigint IS NULL OR n.mission_id = $1)",
	        3, params, staff_entry_checked, se, &cause) != 0) {
		http_reply_problem(ctx, 503, "service unavailable", cause);
		free(se);
	}
}

/*
 * GET /api/v1/crises/{id}/points: every person of the crisis with a known
 * place, compactly ([national id, lat, lon, status]), for the map; the
 * dashboard keeps it current from the event stream.
 */
void
routes_status_points(struct http_ctx *ctx)
{
	char scope[24], id[24];
	const char *params[2];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	db_reply_json(
	    ctx, 200, "no such crisis",
	    "SELECT (SELECT json_build_object('crisis_id', $2::bigint, 'points', coalesce(json_agg("
	    " json_build_array(p.national_id, round(ST_Y(g.pt)::numeric, 5), "
	    "round(ST_X(g.pt)::numeric, "
	    " 5), p.status) ORDER BY p.national_id), '[]')) "
	    " FROM person_status p JOIN national n ON n.id = p.national_id "
	    " LEFT JOIN response r ON r.id = p.last_response_id "
	    " CROSS JOIN LATERAL (SELECT coalesce(r.point, n.last_point)::geometry AS pt) g "
	    " WHERE p.crisis_id = c.id AND ($1::bigint IS NULL OR p.mission_id = $1) "
	    " AND NOT p.deleted AND n.deleted_at IS NULL AND g.pt IS NOT NULL)::text "
	    "FROM crisis c WHERE c.id = $2::bigint AND ($1::bigint IS NULL OR EXISTS (SELECT 1 "
	    " FROM crisis_mission cm WHERE cm.crisis_id = c.id AND cm.mission_id = $1))",
	    2, params);
}

/*
 * GET /api/v1/crises/{id}/people/{nid}: one person in a crisis: their
 * current status, every message sent to them and every answer received, in
 * time order, and the others of their household with their status.
 */
void
routes_status_person(struct http_ctx *ctx)
{
	char scope[24], id[24], nid[24];
	const char *params[4];
	const struct principal *pr = &ctx->principal;

	if (http_param_id(ctx, 0, id) == NULL || http_param_id(ctx, 1, nid) == NULL)
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	params[2] = nid;
	/* Numbers and addresses for those who call people, as in the lists. */
	params[3] = pr->role == SF_ROLE_ADMIN || pr->role == SF_ROLE_MISSION_LEAD ||
	                    pr->role == SF_ROLE_MISSION_STAFF
	                ? "t"
	                : "f";
	db_reply_json(
	    ctx, 200, "no such person in this crisis",
	    "SELECT json_build_object('national_id', n.id, 'name_ko', n.name_ko, 'name_latin', "
	    " n.name_latin, 'needs', n.needs, 'languages', n.languages, 'status', p.status, "
	    " 'duress', p.duress, 'needs_review', p.needs_review, 'by_proxy', p.by_proxy, "
	    " 'headcount', p.headcount, 'answered_at', p.answered_at, 'birth_date', n.birth_date, "
	    " 'address', CASE WHEN $4::bool THEN n.address END, 'notes', n.notes, 'kind', n.kind, "
	    " 'legs', (SELECT coalesce(json_agg(json_build_object('place', coalesce(l.place, "
	    "g.name), "
	    "  'region', g.name, 'arrival', l.arrival, 'departure', l.departure, 'source', "
	    "l.source) "
	    "  ORDER BY l.seq), '[]') FROM itinerary_leg l LEFT JOIN region g ON g.id = "
	    "l.region_id "
	    "  WHERE l.national_id = n.id), "
	    " 'contacts', "
	    " (SELECT coalesce(json_agg(json_build_object('kind', c.kind, 'value', c.value, "
	    "  'verified', c.verified) ORDER BY c.kind, c.priority, c.id), '[]') FROM contact c "
	    "  WHERE c.national_id = n.id AND $4::bool), "
	    " 'household', (SELECT coalesce(json_agg(json_build_object('national_id', m.id, "
	    "  'name_ko', m.name_ko, 'name_latin', m.name_latin, 'status', ms.status) ORDER BY "
	    "m.id), "
	    "  '[]') FROM national m LEFT JOIN person_status ms ON ms.crisis_id = p.crisis_id AND "
	    "  ms.national_id = m.id WHERE n.household_id IS NOT NULL AND m.household_id = "
	    "  n.household_id AND m.id <> n.id AND m.deleted_at IS NULL), "
	    /* Where they were known to be: the registry's places and the places answers gave. */
	    " 'track', (SELECT coalesce(json_agg(json_build_object('lat', ST_Y(l.point::geometry), "
	    "  'lon', ST_X(l.point::geometry), 'source', l.source, 'at', l.at) "
	    "  ORDER BY l.at, l.source), '[]') FROM (SELECT * FROM ("
	    /* An answer's place is also the person's location: shown once, as the answer. */
	    "   SELECT lo.point, lo.source::text AS source, lo.observed_at AS at FROM location lo "
	    "   WHERE lo.national_id = n.id AND NOT (lo.source IN ('reply', 'staff') AND EXISTS ("
	    "    SELECT 1 FROM response x WHERE x.national_id = n.id AND x.crisis_id = p.crisis_id "
	    "    AND x.received_at = lo.observed_at AND x.point IS NOT NULL)) "
	    "   UNION ALL SELECT r.point, CASE WHEN r.channel = 'staff' THEN 'staff' ELSE 'reply' "
	    "   END, r.received_at FROM "
	    "   response r WHERE r.national_id = n.id AND r.crisis_id = p.crisis_id AND "
	    "   r.point IS NOT NULL) a ORDER BY at DESC LIMIT 50) l), "
	    " 'history', (SELECT coalesce(json_agg(e ORDER BY e.at, e.kind), '[]') FROM ("
	    "  SELECT 'message' AS kind, coalesce(o.sent_at, o.created_at) AS at, o.channel, "
	    "   CASE WHEN $4::bool THEN o.recipient END AS contact, o.state, o.last_error AS "
	    "detail, o.delivered_at, NULL AS "
	    "status "
	    "   FROM outbox o WHERE o.crisis_id = p.crisis_id AND o.national_id = n.id "
	    "  UNION ALL SELECT 'answer', r.received_at, r.channel, CASE WHEN $4::bool THEN "
	    "r.sender "
	    "   END, NULL, r.raw_text, "
	    "NULL, "
	    "   r.status FROM response r WHERE r.crisis_id = p.crisis_id AND r.national_id = n.id) "
	    "e)"
	    ")::text FROM person_status p JOIN national n ON n.id = p.national_id "
	    "WHERE p.crisis_id = $2::bigint AND p.national_id = $3::bigint AND ($1::bigint IS NULL "
	    "OR p.mission_id = $1::bigint) AND NOT p.deleted AND n.deleted_at IS NULL",
	    4, params);
}
