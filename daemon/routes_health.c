/*
 * Liveness, readiness and metrics. /healthz says the process answers;
 * /readyz asks the database, right now, whether it is reachable and its
 * schema current; /metrics renders the counters for Prometheus.
 */
#include "routes.h"

#include "events.h"
#include "feed.h"
#include "build_info.h"
#include "daemon.h"
#include "log.h"
#include "replies.h"
#include "outbox.h"
#include "schema.h"
#include "spool.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Answers that the process is alive. */
void
routes_health_healthz(struct http_ctx *ctx)
{
	cJSON *body = cJSON_CreateObject();

	cJSON_AddStringToObject(body, "status", "ok");
	http_reply_json(ctx, 200, body);
}

/* Answers /readyz once the schema check finished. */
static void
routes_health_readyz_done(const struct schema_check *check, void *arg)
{
	struct http_ctx *ctx = arg;
	cJSON *body = cJSON_CreateObject();
	bool ready = check->database_ok && check->schema_ok && !ctx->d->shutting_down;

	cJSON_AddStringToObject(body, "status", ready ? "ready" : "unavailable");
	cJSON_AddStringToObject(body, "database", check->database_ok ? "ok" : "unreachable");
	cJSON_AddNumberToObject(body, "schema_version", check->version);
	cJSON_AddNumberToObject(body, "schema_required", SAFETY_SCHEMA_VERSION);
	/* Replies held on local disk while the database is away (degraded mode). */
	cJSON_AddNumberToObject(body, "spool_depth", (double)spool_depth(ctx->d));
	/* Ready, but said: a channel on the log driver reaches nobody. */
	if (strcmp(ctx->d->cfg.sms_driver, "log") == 0 ||
	    strcmp(ctx->d->cfg.email_driver, "log") == 0)
		cJSON_AddStringToObject(body, "warning",
		                        "a channel uses the log driver: its messages reach nobody");
	/* Ready (the database answers), but a channel whose gateway fails sends nothing. */
	outbox_health(ctx->d->outbox, body);
	if (cJSON_GetObjectItem(body, "channels_paused") != NULL &&
	    cJSON_GetObjectItem(body, "warning") == NULL)
		cJSON_AddStringToObject(
		    body, "warning",
		    "a channel's gateway is failing: its messages wait in the queue");
	if (ctx->d->shutting_down)
		cJSON_AddStringToObject(body, "reason", "shutting down");
	else if (!ready)
		cJSON_AddStringToObject(body, "reason", check->problem);
	http_reply_json(ctx, ready ? 200 : 503, body);
}

/* Checks the database and schema now. */
void
routes_health_readyz(struct http_ctx *ctx)
{
	schema_check_start(ctx->d, routes_health_readyz_done, ctx);
}

/* Renders the Prometheus metrics. */
void
routes_health_metrics(struct http_ctx *ctx)
{
	struct evbuffer *out = evbuffer_new();
	struct db_pool_stats db;
	size_t len;
	char *text;

	db_pool_stats(ctx->d->db, &db);
	metrics_render(&ctx->d->metrics, &db, difftime(time(NULL), ctx->d->started),
	               ctx->d->inflight - 1, ctx->d->schema_version, ctx->d->schema_ok ? 1 : 0,
	               out);
	events_metrics(ctx->d, out);
	feed_metrics(ctx->d, out);
	replies_metrics(ctx->d, out);
	outbox_metrics(ctx->d->outbox, out);
	plans_metrics(out);
	routes_register_metrics(out);
	{
		struct outbox_stats ob;
		outbox_stats(ctx->d->outbox, &ob);
		evbuffer_add_printf(
		    out,
		    "# HELP safety_reply_spool_depth Replies held on local disk until the "
		    "database is back.\n# TYPE safety_reply_spool_depth gauge\n"
		    "safety_reply_spool_depth %llu\n"
		    "# HELP safety_outbox_messages_total Outbound messages by outcome.\n"
		    "# TYPE safety_outbox_messages_total counter\n"
		    "safety_outbox_messages_total{outcome=\"sent\"} %llu\n"
		    "safety_outbox_messages_total{outcome=\"retried\"} %llu\n"
		    "safety_outbox_messages_total{outcome=\"failed\"} %llu\n"
		    "# HELP safety_outbox_in_flight Messages handed to a gateway.\n"
		    "# TYPE safety_outbox_in_flight gauge\nsafety_outbox_in_flight %d\n",
		    (unsigned long long)spool_depth(ctx->d), (unsigned long long)ob.sent,
		    (unsigned long long)ob.retried, (unsigned long long)ob.failed, ob.inflight);
	}

	len = evbuffer_get_length(out);
	text = malloc(len + 1);
	if (text == NULL) {
		evbuffer_free(out);
		http_reply_problem(ctx, 500, "internal error", "out of memory");
		return;
	}
	evbuffer_remove(out, text, len);
	evbuffer_free(out);
	http_reply_bytes(ctx, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	free(text);
}
