/* Who-did-it parameters for the audit_record() SQL function. */
#include "audit.h"

#include "auth.h"
#include "http_server.h"

#include <stdio.h>

/* Fills the actor parameters of an audit row. */
void
audit_params(const struct http_ctx *ctx, struct audit_who *who, const char **out)
{
	const struct principal *p = &ctx->principal;

	out[0] = p->kind == PRINCIPAL_NONE ? "" : p->name;
	out[1] = auth_actor_role(p);
	if (p->mission_id > 0) {
		snprintf(who->mission, sizeof who->mission, "%lld", p->mission_id);
		out[2] = who->mission;
	} else {
		out[2] = NULL;
	}
	out[3] = ctx->client_addr;
}
