/*
 * What staff see of self-registrations: the newest first, each with its
 * people, legs, which contacts are confirmed, and the registry's person it
 * likely duplicates; and the merge into that person, shown and undoable.
 */
#include "routes.h"

#include "audit.h"
#include "auth.h"
#include "daemon.h"
#include "db_reply.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GET /api/v1/registrations?mission_id=&limit= */
void
routes_registrations_list(struct http_ctx *ctx)
{
	char scope[24], limit_buf[8];
	const char *params[2];
	const char *limit = http_query(ctx, "limit", limit_buf, sizeof limit_buf);
	int n = limit != NULL ? atoi(limit) : 200;

	if (n < 1 || n > 1000) {
		http_reply_problem(ctx, 400, "bad request", "limit: 1 to 1000");
		return;
	}
	snprintf(limit_buf, sizeof limit_buf, "%d", n);
	params[0] = auth_scope_param(ctx, scope);
	params[1] = limit_buf;
	db_reply_json(ctx, 200, "", "SELECT registration_list($1::bigint, $2::int)::text", 2, params);
}

/* POST /api/v1/registrations/{id}/merge and /unmerge: 404 for another mission's. */
static void
registrations_merge(struct http_ctx *ctx, bool undo)
{
	char scope[24], id[24];
	struct audit_who who;
	const char *who_params[AUDIT_NPARAMS], *params[5];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	audit_params(ctx, &who, who_params);
	params[0] = who_params[0]; /* actor */
	params[1] = who_params[1]; /* role */
	params[2] = who_params[3]; /* client address */
	params[3] = auth_scope_param(ctx, scope);
	params[4] = id;
	db_reply_json(ctx, 200, "no such registration",
	              undo ? "SELECT r::text FROM registration_unmerge($5::bigint, $4::bigint, $1, $2, "
	                     "$3) r WHERE r->>'outcome' <> 'unknown'"
	                   : "SELECT r::text FROM registration_merge($5::bigint, $4::bigint, $1, $2, $3) "
	                     "r WHERE r->>'outcome' <> 'unknown'",
	              5, params);
}

void
routes_registrations_merge(struct http_ctx *ctx)
{
	registrations_merge(ctx, false);
}

void
routes_registrations_unmerge(struct http_ctx *ctx)
{
	registrations_merge(ctx, true);
}
