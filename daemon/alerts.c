/*
 * Alerts become proposed crises: a CAP message, a USGS event or feed, or a
 * GDACS feed, posted by staff (POST /api/v1/crises/import) or fetched by the
 * watcher from the feeds in [alerts] feeds. Parsing (libsafety, libxml2 or
 * cJSON) runs on a worker thread; each alert is then proposed by one SQL
 * call that also counts each mission's nationals inside, so a lead sees at
 * once whether it concerns them, before anyone noticed the news.
 */
#include "alerts.h"

#include "audit.h"
#include "daemon.h"
#include "http_client.h"
#include "http_server.h"
#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <safety/alert.h>
#include <safety/secret.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char alerts_propose_sql[] =
    "SELECT crisis_propose($1, $2, $16::text[], $3::crisis_kind, $4, $5, $6::smallint, $7::bool, "
    "$8, $9::float8[], $10::float8[], $11::float8[], to_timestamp($12::float8), $13::int, "
    "$14::bigint, $15)::text";

/* A CAP Cancel or a deleted USGS event: the crises it names are withdrawn. */
static const char alerts_withdraw_sql[] =
    "SELECT crisis_withdraw($1, $2, $3::text[], $4::bigint, $5)::text";

/* One alert job: parse, then propose each alert in turn. */
struct alerts_job {
	struct daemon *d;
	struct http_ctx *ctx; /* NULL for the watcher */
	char *data;
	size_t len;
	struct sf_alert_list *list;
	int parse_rc;
	char err[256];
	size_t next;
	int min_affected;
	long long only_mission;
	char actor[80];
	cJSON *results;
	char *feed; /* the watcher's feed URL, for the log */
};

static void alerts_next(struct alerts_job *job);

/* Frees a job. */
static void
alerts_job_free(struct alerts_job *job)
{
	sf_alert_list_free(job->list);
	free(job->data);
	free(job->feed);
	cJSON_Delete(job->results);
	free(job);
}

/* A PostgreSQL array literal of one coordinate of every circle, all of them; the caller frees it.
 */
static char *
alerts_array(const struct sf_alert *a, int which)
{
	struct evbuffer *buf = evbuffer_new();
	size_t len;
	char *out;

	evbuffer_add(buf, "{", 1);
	for (size_t i = 0; i < a->n_circles; i++) {
		double v = which == 0   ? a->circles[i].center.lat
		           : which == 1 ? a->circles[i].center.lon
		                        : a->circles[i].radius_m;
		evbuffer_add_printf(buf, "%s%.7f", i > 0 ? "," : "", v);
	}
	evbuffer_add(buf, "}", 1);
	len = evbuffer_get_length(buf);
	out = xmalloc(len + 1);
	evbuffer_remove(buf, out, len);
	out[len] = '\0';
	evbuffer_free(buf);
	return out;
}

/*
 * The names of earlier messages of the same event as a PostgreSQL text[]
 * literal: a CAP Update's or Cancel's references, a USGS event's other ids.
 * The caller frees it.
 */
static char *
alerts_refs(const struct sf_alert *a)
{
	struct evbuffer *buf = evbuffer_new();
	size_t len;
	char *out;

	evbuffer_add(buf, "{", 1);
	for (size_t i = 0; i < a->n_references; i++) {
		const char *t = a->references[i].text;

		evbuffer_add_printf(buf, "%s\"", i > 0 ? "," : "");
		for (; t != NULL && *t != '\0'; t++) {
			if (*t == '"' || *t == '\\')
				evbuffer_add(buf, "\\", 1);
			evbuffer_add(buf, t, 1);
		}
		evbuffer_add(buf, "\"", 1);
	}
	evbuffer_add(buf, "}", 1);
	len = evbuffer_get_length(buf);
	out = xmalloc(len + 1);
	evbuffer_remove(buf, out, len);
	out[len] = '\0';
	evbuffer_free(buf);
	return out;
}

/* Whether an alert's references name the same event: CAP Update and Cancel, every USGS event.
 */
static bool
alerts_uses_refs(const struct sf_alert *a)
{
	return a->action == SF_ALERT_UPDATE || a->action == SF_ALERT_CANCEL ||
	       a->source == SF_ALERT_SOURCE_USGS;
}

/* The proposal of one alert answered. */
static void
alerts_proposed(const struct db_result *r, void *arg)
{
	struct alerts_job *job = arg;
	const struct sf_alert *a = &job->list->alerts[job->next];
	cJSON *item = cJSON_CreateObject();

	cJSON_AddStringToObject(item, "source_ref", a->source_ref);
	cJSON_AddStringToObject(item, "title", a->title);
	if (r->outcome != DB_OK) {
		cJSON_AddStringToObject(
		    item, "error", r->outcome == DB_SQL_ERROR ? r->error : "database unavailable");
	} else if (a->action == SF_ALERT_CANCEL) {
		if (PQgetisnull(r->res, 0, 0)) {
			cJSON_AddStringToObject(item, "result",
			                        "cancelled: no crisis of yours named");
		} else {
			cJSON_AddStringToObject(item, "result", "cancelled");
			cJSON_AddItemToObject(item, "withdrawn",
			                      cJSON_Parse(PQgetvalue(r->res, 0, 0)));
			if (job->ctx == NULL)
				log_info("alert_cancelled", "source",
				         sf_alert_source_name(a->source), "ref", a->source_ref,
				         "crises", PQgetvalue(r->res, 0, 0));
		}
	} else if (PQgetisnull(r->res, 0, 0)) {
		cJSON_AddStringToObject(item, "result", "no mission has nationals inside");
	} else {
		cJSON *crisis = cJSON_Parse(PQgetvalue(r->res, 0, 0));
		cJSON_AddItemToObject(item, "crisis", crisis);
		if (job->ctx == NULL) {
			char id[24];
			snprintf(id, sizeof id, "%d",
			         cJSON_GetObjectItem(crisis, "id")
			             ? cJSON_GetObjectItem(crisis, "id")->valueint
			             : 0);
			log_info("crisis_proposed", "source", sf_alert_source_name(a->source),
			         "ref", a->source_ref, "crisis_id", id);
		}
	}
	cJSON_AddItemToArray(job->results, item);
	job->next++;
	alerts_next(job);
}

/* Proposes the next alert, or answers when all are done. */
static void
alerts_next(struct alerts_job *job)
{
	struct daemon *d = job->d;
	const char *params[16];
	char sev[8], drill[2], started[32], minaff[16], mission[24];
	char *lat, *lon, *rad, *refs;
	const char *cause;
	time_t now = time(NULL);
	int rc;

	while (job->next < job->list->n) {
		const struct sf_alert *a = &job->list->alerts[job->next];
		const char *why = NULL;
		cJSON *item;

		if (a->action == SF_ALERT_IGNORE)
			why = "nothing to propose (system, draft, test, ack or error message)";
		/* An alert past its expiry no longer describes a danger. */
		else if (a->action != SF_ALERT_CANCEL && a->expires > 0 && a->expires < now)
			why = "expired: nothing to propose";
		if (why == NULL)
			break;
		item = cJSON_CreateObject();
		cJSON_AddStringToObject(item, "source_ref", a->source_ref);
		cJSON_AddStringToObject(item, "result", why);
		cJSON_AddItemToArray(job->results, item);
		job->next++;
	}
	if (job->next >= job->list->n) {
		if (job->ctx != NULL) {
			cJSON *body = cJSON_CreateObject();
			cJSON_AddItemToObject(body, "alerts", job->results);
			job->results = NULL;
			cJSON_AddNumberToObject(body, "rejected", (double)job->list->n_rejected);
			if (job->list->n_rejected > 0)
				cJSON_AddStringToObject(body, "first_rejection",
				                        job->list->rejected);
			http_reply_json(job->ctx, 200, body);
		}
		alerts_job_free(job);
		return;
	}
	{
		const struct sf_alert *a = &job->list->alerts[job->next];
		refs = alerts_refs(a);
		snprintf(mission, sizeof mission, "%lld", job->only_mission);
		if (a->action == SF_ALERT_CANCEL) {
			params[0] = sf_alert_source_name(a->source);
			params[1] = a->source_ref;
			params[2] = refs;
			params[3] = job->only_mission > 0 ? mission : NULL;
			params[4] = job->actor;
			rc = db_pool_query(d->db, alerts_withdraw_sql, 5, params, alerts_proposed,
			                   job, &cause);
			free(refs);
			if (rc != 0) {
				struct db_result r = {DB_UNAVAILABLE, NULL, "", cause, 0};
				alerts_proposed(&r, job);
			}
			return;
		}
		snprintf(sev, sizeof sev, "%d", a->severity);
		snprintf(drill, sizeof drill, "%s", a->drill ? "t" : "f");
		/* Every circle: the three arrays must stay the same length, or unnest pads with
		 * NULLs. */
		lat = alerts_array(a, 0);
		lon = alerts_array(a, 1);
		rad = alerts_array(a, 2);
		snprintf(started, sizeof started, "%lld",
		         (long long)(a->started > 0 ? a->started : a->sent));
		snprintf(minaff, sizeof minaff, "%d", job->min_affected);
		params[0] = sf_alert_source_name(a->source);
		params[1] = a->source_ref;
		params[2] = sf_alert_kind_name(a->kind);
		params[3] = a->title;
		params[4] = a->description;
		params[5] = sev;
		params[6] = drill;
		params[7] = a->area_geojson;
		params[8] = lat;
		params[9] = lon;
		params[10] = rad;
		params[11] = started;
		params[12] = minaff;
		params[13] = job->only_mission > 0 ? mission : NULL;
		params[14] = job->actor;
		params[15] = alerts_uses_refs(a) ? refs : "{}";
	}
	rc = db_pool_query(d->db, alerts_propose_sql, 16, params, alerts_proposed, job, &cause);
	free(refs);
	if (rc != 0) {
		struct db_result r = {DB_UNAVAILABLE, NULL, "", cause, 0};
		alerts_proposed(&r, job);
	}
	free(lat);
	free(lon);
	free(rad);
}

/* On a worker: parse whatever the alert is. */
static void
alerts_parse_work(void *arg)
{
	struct alerts_job *job = arg;

	job->parse_rc =
	    sf_alert_parse_any(job->data, job->len, &job->list, job->err, sizeof job->err);
}

/* Back on the loop with the parsed alerts. */
static void
alerts_parse_done(void *arg)
{
	struct alerts_job *job = arg;

	if (job->parse_rc != 0 || job->list == NULL) {
		if (job->ctx != NULL)
			http_reply_problem(job->ctx, 400, "bad request", job->err);
		else
			log_warn("alert_feed_unreadable", "feed", job->feed, "error", job->err);
		alerts_job_free(job);
		return;
	}
	job->results = cJSON_CreateArray();
	alerts_next(job);
}

/* Starts parsing on a worker. */
static void
alerts_start(struct alerts_job *job)
{
	if (worker_pool_submit(job->d->workers, alerts_parse_work, alerts_parse_done, job) != 0) {
		if (job->ctx != NULL)
			http_reply_problem(job->ctx, 503, "service unavailable", "shutting down");
		alerts_job_free(job);
	}
}

/*
 * POST /api/v1/crises/import?min_affected=1: a CAP message, USGS GeoJSON or
 * GDACS feed as the body; every alert that concerns a mission becomes a
 * proposed crisis (for a mission role: its own mission only).
 */
void
routes_crises_import(struct http_ctx *ctx)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
	struct alerts_job *job;
	char buf[16];
	const char *min;

	if (evbuffer_get_length(in) == 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "send the CAP, USGS or GDACS document as the body");
		return;
	}
	job = xcalloc(1, sizeof *job);
	job->d = ctx->d;
	job->ctx = ctx;
	job->len = evbuffer_get_length(in);
	job->data = xmalloc(job->len + 1);
	evbuffer_copyout(in, job->data, job->len);
	job->data[job->len] = '\0';
	min = http_query(ctx, "min_affected", buf, sizeof buf);
	job->min_affected = min != NULL && atoi(min) > 0 ? atoi(min) : 1;
	job->only_mission = ctx->principal.mission_id;
	snprintf(job->actor, sizeof job->actor, "%s", ctx->principal.name);
	alerts_start(job);
}

/* The watcher: one feed. */
struct alerts_feed {
	struct daemon *d;
	char *url;
	char etag[256];
	char last_modified[128];
	bool busy;
};

struct alerts_watch {
	struct daemon *d;
	struct alerts_feed *feeds;
	int n;
	struct event *timer;
	char holder[32]; /* this process, for the watcher's lease */
	bool claiming;
};

/* Whether this process holds the watcher's lease, renewed at every poll (see alerts_watch_cb). */
static const char alerts_claim_sql[] =
    "SELECT coalesce(alert_watch_claim($1, $2::int), false)::text";

/* A feed answered. */
static void
alerts_fetched(const struct http_client_result *r, void *arg)
{
	struct alerts_feed *f = arg;
	struct alerts_job *job;

	f->busy = false;
	if (r->curl_code != 0 || (r->status != 200 && r->status != 304)) {
		char st[16];
		snprintf(st, sizeof st, "%ld", r->status);
		log_warn("alert_feed_failed", "feed", f->url, "status", st, "error", r->error);
		return;
	}
	if (r->status == 304)
		return; /* unchanged since the last poll */
	if (r->etag != NULL)
		snprintf(f->etag, sizeof f->etag, "%s", r->etag);
	if (r->last_modified != NULL)
		snprintf(f->last_modified, sizeof f->last_modified, "%s", r->last_modified);
	job = xcalloc(1, sizeof *job);
	job->d = f->d;
	job->len = r->body_len;
	job->data = xmalloc(r->body_len + 1);
	memcpy(job->data, r->body, r->body_len);
	job->data[r->body_len] = '\0';
	job->min_affected = f->d->cfg.alert_min_affected;
	job->feed = xstrdup(f->url);
	snprintf(job->actor, sizeof job->actor, "alert-watcher");
	alerts_start(job);
}

/* Polls every feed (conditional requests: only what changed comes back). */
static void
alerts_poll(struct alerts_watch *w)
{
	for (int i = 0; i < w->n; i++) {
		struct alerts_feed *f = &w->feeds[i];
		struct http_client_request req;
		char h1[300], h2[200];
		const char *headers[3] = {NULL, NULL, NULL};
		int nh = 0;

		if (f->busy || !f->d->schema_ok)
			continue;
		if (f->etag[0] != '\0') {
			snprintf(h1, sizeof h1, "If-None-Match: %s", f->etag);
			headers[nh++] = h1;
		}
		if (f->last_modified[0] != '\0') {
			snprintf(h2, sizeof h2, "If-Modified-Since: %s", f->last_modified);
			headers[nh++] = h2;
		}
		memset(&req, 0, sizeof req);
		req.url = f->url;
		req.headers = headers;
		req.timeout_ms = 30000;
		if (http_client_request(f->d->http_client, &req, alerts_fetched, f) == 0)
			f->busy = true;
	}
}

/* The lease answered: the holder polls, the others wait for their next tick. */
static void
alerts_claimed(const struct db_result *r, void *arg)
{
	struct alerts_watch *w = arg;

	w->claiming = false;
	if (r->outcome != DB_OK) {
		log_warn("alert_watch_claim_failed", "error",
		         r->outcome == DB_SQL_ERROR ? r->error : "database unavailable");
		return;
	}
	if (strcmp(PQgetvalue(r->res, 0, 0), "true") == 0)
		alerts_poll(w);
}

/*
 * Every interval: polls the feeds if this process holds the lease. The lease
 * lasts three intervals, so another process takes over only from a holder
 * that stopped polling, not from one a little late.
 */
static void
alerts_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct alerts_watch *w = arg;
	char seconds[16];
	const char *params[2];
	const char *cause;

	(void)fd;
	(void)what;
	if (w->claiming || !w->d->schema_ok)
		return;
	snprintf(seconds, sizeof seconds, "%d", 3 * w->d->cfg.alert_interval_s);
	params[0] = w->holder;
	params[1] = seconds;
	if (db_pool_query(w->d->db, alerts_claim_sql, 2, params, alerts_claimed, w, &cause) == 0)
		w->claiming = true;
	else
		log_warn("alert_watch_claim_failed", "error", cause);
}

/* Starts the watcher when feeds are configured. */
void
alerts_watch_start(struct daemon *d)
{
	struct alerts_watch *w;
	struct timeval tv = {d->cfg.alert_interval_s, 0};
	char *list, *save = NULL, *url;

	if (*d->cfg.alert_feeds == '\0')
		return;
	w = xcalloc(1, sizeof *w);
	w->d = d;
	{
		/*
		 * The same for this instance across restarts (host and listener: two
		 * processes cannot listen on one address), so a restarted safetyd
		 * takes its own lease back at once instead of waiting for it to lapse.
		 */
		char host[256] = "", *who, hash[SF_SECRET_HASH_HEX + 1];

		if (gethostname(host, sizeof host) != 0)
			host[0] = '\0';
		host[sizeof host - 1] = '\0';
		xasprintf(&who, "%s|%s", host, d->cfg.listen);
		sf_secret_hash(who, hash);
		free(who);
		snprintf(w->holder, sizeof w->holder, "safetyd-%.12s", hash);
	}
	list = xstrdup(d->cfg.alert_feeds);
	for (url = strtok_r(list, ", ", &save); url != NULL; url = strtok_r(NULL, ", ", &save)) {
		w->feeds = xrealloc(w->feeds, (size_t)(w->n + 1) * sizeof *w->feeds);
		memset(&w->feeds[w->n], 0, sizeof w->feeds[w->n]);
		w->feeds[w->n].d = d;
		w->feeds[w->n].url = xstrdup(url);
		w->n++;
	}
	free(list);
	w->timer = event_new(d->base, -1, EV_PERSIST, alerts_watch_cb, w);
	event_add(w->timer, &tv);
	{
		/* The first poll soon after start-up, once the schema check has run. */
		struct timeval soon = {2, 0};
		event_base_once(d->base, -1, EV_TIMEOUT, alerts_watch_cb, w, &soon);
	}
	d->alerts = w;
	log_info("alert_watcher_started", "feeds", d->cfg.alert_feeds);
}

/* Stops the watcher. */
void
alerts_watch_stop(struct daemon *d)
{
	struct alerts_watch *w = d->alerts;

	if (w == NULL)
		return;
	event_free(w->timer);
	for (int i = 0; i < w->n; i++)
		free(w->feeds[i].url);
	free(w->feeds);
	free(w);
	d->alerts = NULL;
}
