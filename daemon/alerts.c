/*
 * Alerts become proposed crises: a CAP message, a USGS event or feed, or a
 * GDACS feed, posted by staff (POST /api/v1/crises/import) or fetched by the
 * watcher from the feeds in [alerts] feeds. Parsing (libsafety, libxml2 or
 * cJSON) runs on a worker thread; the alerts then go to the database in
 * batches, where each is proposed (counting each mission's nationals inside,
 * so a lead sees at once whether it concerns them, before anyone noticed
 * the news) or set aside with the others that concern no one.
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

/*
 * The alerts of one document go to the database in batches, one statement
 * each: crisis_propose_batch sets aside together the events whose area
 * holds no one (most of a feed) and proposes or withdraws the others one by
 * one, in document order, each as crisis_propose or crisis_withdraw alone
 * would. Its time budget keeps a batch of many near events under the
 * statement timeout; the events it had no time for are sent again.
 */
static const char alerts_batch_sql[] =
    "SELECT ord, done, result::text, error FROM crisis_propose_batch($1::jsonb, $2::int, "
    "$3::bigint, $4, $5::int)";

/* Events per statement: bounds a statement's work and the crisis rows it holds locked. */
#define ALERTS_BATCH 250

/* One alert job: parse, then propose the alerts batch by batch. */
struct alerts_job {
	struct daemon *d;
	struct http_ctx *ctx; /* NULL for the watcher */
	char *data;
	size_t len;
	struct sf_alert_list *list;
	int parse_rc;
	char err[256];
	size_t next; /* the first alert not yet put in a batch */
	int min_affected;
	long long only_mission;
	char actor[80];
	cJSON **items;     /* the answer for each alert, in document order */
	size_t *batch;     /* the alerts of the batch in flight, by ord - 1 */
	size_t batch_n;    /* how many */
	size_t batch_done; /* how many of them are answered */
	char *feed;        /* the watcher's feed URL, for the log */
	/*
	 * The watcher's feed and the validators of this document: kept on the
	 * feed only once every alert is stored, or a conditional poll would
	 * answer 304 and an alert the database failed would never be tried again.
	 */
	struct alerts_feed *src;
	char etag[256];
	char last_modified[128];
};

/* The watcher: one feed. */
struct alerts_feed {
	struct daemon *d;
	char *url;
	char etag[256];
	char last_modified[128];
	bool busy; /* fetching, or its document is still being proposed */
};

static void alerts_next(struct alerts_job *job);

/* Frees a job. */
static void
alerts_job_free(struct alerts_job *job)
{
	if (job->items != NULL && job->list != NULL)
		for (size_t i = 0; i < job->list->n; i++)
			cJSON_Delete(job->items[i]);
	free(job->items);
	free(job->batch);
	sf_alert_list_free(job->list);
	free(job->data);
	free(job->feed);
	if (job->src != NULL)
		job->src->busy = false;
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

/* One alert as an element of crisis_propose_batch's array. */
static cJSON *
alerts_event(const struct sf_alert *a)
{
	cJSON *e = cJSON_CreateObject();
	char *refs = alerts_refs(a);

	cJSON_AddStringToObject(e, "source", sf_alert_source_name(a->source));
	cJSON_AddStringToObject(e, "ref", a->source_ref);
	if (a->action == SF_ALERT_CANCEL) {
		cJSON_AddBoolToObject(e, "cancel", true);
		cJSON_AddStringToObject(e, "refs", refs);
		free(refs);
		return e;
	}
	cJSON_AddStringToObject(e, "refs", alerts_uses_refs(a) ? refs : "{}");
	free(refs);
	cJSON_AddStringToObject(e, "kind", sf_alert_kind_name(a->kind));
	cJSON_AddStringToObject(e, "title", a->title);
	if (a->description != NULL)
		cJSON_AddStringToObject(e, "description", a->description);
	cJSON_AddNumberToObject(e, "severity", a->severity);
	cJSON_AddBoolToObject(e, "drill", a->drill);
	if (a->area_geojson != NULL)
		cJSON_AddStringToObject(e, "area", a->area_geojson);
	/* Every circle: the three arrays must stay the same length, or unnest pads with NULLs. */
	for (int which = 0; which < 3; which++) {
		char *v = alerts_array(a, which);
		cJSON_AddStringToObject(e, which == 0 ? "lat" : which == 1 ? "lon" : "radius", v);
		free(v);
	}
	cJSON_AddNumberToObject(e, "started", (double)(a->started > 0 ? a->started : a->sent));
	return e;
}

/* The answer for one alert: what was proposed or withdrawn (and the watcher's log line). */
static cJSON *
alerts_item(const struct alerts_job *job, const struct sf_alert *a, const char *result,
            const char *error)
{
	cJSON *item = cJSON_CreateObject();

	cJSON_AddStringToObject(item, "source_ref", a->source_ref);
	cJSON_AddStringToObject(item, "title", a->title);
	if (a->area_note[0] != '\0')
		cJSON_AddStringToObject(item, "area_note", a->area_note);
	if (error != NULL) {
		cJSON_AddStringToObject(item, "error", error);
		/* The feed's own names for the event, never anyone's data. */
		if (job->ctx == NULL)
			log_warn("alert_not_proposed", "feed", job->feed, "source",
			         sf_alert_source_name(a->source), "ref", a->source_ref, "error",
			         error);
	} else if (a->action == SF_ALERT_CANCEL) {
		if (result == NULL) {
			cJSON_AddStringToObject(item, "result",
			                        "cancelled: no crisis of yours named");
		} else {
			cJSON_AddStringToObject(item, "result", "cancelled");
			cJSON_AddItemToObject(item, "withdrawn", cJSON_Parse(result));
			if (job->ctx == NULL)
				log_info("alert_cancelled", "source",
				         sf_alert_source_name(a->source), "ref", a->source_ref,
				         "crises", result);
		}
	} else if (result == NULL) {
		cJSON_AddStringToObject(item, "result", "no mission has nationals inside");
	} else {
		cJSON *crisis = cJSON_Parse(result);
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
	return item;
}

/* A batch answered: each alert it handled gets its answer; those it had no time for go again. */
static void
alerts_batch_answered(const struct db_result *r, void *arg)
{
	struct alerts_job *job = arg;
	size_t again = job->batch_n;

	if (r->outcome == DB_OK) {
		for (int row = 0; row < PQntuples(r->res); row++) {
			long ord = atol(PQgetvalue(r->res, row, 0));
			size_t i;

			if (ord < 1 || (size_t)ord > job->batch_n)
				continue;
			i = job->batch[ord - 1];
			if (strcmp(PQgetvalue(r->res, row, 1), "t") != 0) {
				/* Out of time: this one and those after it start the next batch. */
				if ((size_t)ord - 1 < again)
					again = (size_t)ord - 1;
				continue;
			}
			if (job->items[i] != NULL)
				continue;
			job->items[i] = alerts_item(
			    job, &job->list->alerts[i],
			    PQgetisnull(r->res, row, 2) ? NULL : PQgetvalue(r->res, row, 2),
			    PQgetisnull(r->res, row, 3) ? NULL : PQgetvalue(r->res, row, 3));
		}
	}
	for (size_t k = 0; k < job->batch_n; k++) {
		size_t i = job->batch[k];

		if (job->items[i] != NULL)
			continue;
		if (r->outcome != DB_OK)
			job->items[i] = alerts_item(
			    job, &job->list->alerts[i], NULL,
			    r->outcome == DB_SQL_ERROR ? r->error : "database unavailable");
		else if (k >= again && again > 0)
			continue; /* sent again below */
		else
			job->items[i] = alerts_item(job, &job->list->alerts[i], NULL,
			                            "no answer from the database");
	}
	/* Those not handled (never the batch's first, so every batch makes progress). */
	if (r->outcome == DB_OK && again > 0 && again < job->batch_n)
		job->next = job->batch[again];
	job->batch_n = 0;
	alerts_next(job);
}

/* Answers the whole document once every alert has its answer. */
static void
alerts_finish(struct alerts_job *job)
{
	if (job->ctx != NULL) {
		cJSON *body = cJSON_CreateObject();
		cJSON *results = cJSON_AddArrayToObject(body, "alerts");

		for (size_t i = 0; i < job->list->n; i++) {
			if (job->items[i] == NULL) /* not expected: every alert is answered */
				job->items[i] = alerts_item(job, &job->list->alerts[i], NULL,
				                            "no answer from the database");
			cJSON_AddItemToArray(results, job->items[i]);
			job->items[i] = NULL;
		}
		cJSON_AddNumberToObject(body, "rejected", (double)job->list->n_rejected);
		if (job->list->n_rejected > 0)
			cJSON_AddStringToObject(body, "first_rejection", job->list->rejected);
		http_reply_json(job->ctx, 200, body);
	} else if (job->src != NULL) {
		size_t failed = 0;

		for (size_t i = 0; i < job->list->n; i++)
			if (job->items[i] == NULL ||
			    cJSON_GetObjectItem(job->items[i], "error") != NULL)
				failed++;
		if (failed == 0) {
			snprintf(job->src->etag, sizeof job->src->etag, "%s", job->etag);
			snprintf(job->src->last_modified, sizeof job->src->last_modified, "%s",
			         job->last_modified);
		} else {
			char n[24];

			/* The next poll fetches the whole document again and retries. */
			job->src->etag[0] = job->src->last_modified[0] = '\0';
			snprintf(n, sizeof n, "%zu", failed);
			log_warn("alert_feed_retry", "feed", job->feed, "failed", n);
		}
	}
	alerts_job_free(job);
}

/* Sends the next batch of alerts, or answers when all are done. */
static void
alerts_next(struct alerts_job *job)
{
	struct daemon *d = job->d;
	const char *params[5];
	char minaff[16], mission[24], budget[16];
	const char *cause;
	time_t now = time(NULL);
	cJSON *events = cJSON_CreateArray();
	char *json;

	job->batch_n = 0;
	while (job->next < job->list->n && job->batch_n < ALERTS_BATCH) {
		const struct sf_alert *a = &job->list->alerts[job->next];
		const char *why = NULL;

		if (job->items[job->next] != NULL) {
			job->next++;
			continue;
		}
		if (a->action == SF_ALERT_IGNORE)
			why = "nothing to propose (system, draft, test, ack or error message)";
		/* An alert past its expiry no longer describes a danger. */
		else if (a->action != SF_ALERT_CANCEL && a->expires > 0 && a->expires < now)
			why = "expired: nothing to propose";
		if (why != NULL) {
			cJSON *item = cJSON_CreateObject();
			cJSON_AddStringToObject(item, "source_ref", a->source_ref);
			cJSON_AddStringToObject(item, "result", why);
			job->items[job->next++] = item;
			continue;
		}
		cJSON_AddItemToArray(events, alerts_event(a));
		job->batch[job->batch_n++] = job->next++;
	}
	if (job->batch_n == 0) {
		cJSON_Delete(events);
		alerts_finish(job);
		return;
	}
	json = cJSON_PrintUnformatted(events);
	cJSON_Delete(events);
	snprintf(minaff, sizeof minaff, "%d", job->min_affected);
	snprintf(mission, sizeof mission, "%lld", job->only_mission);
	/* A quarter of the statement timeout, so a batch answers well before it. */
	snprintf(budget, sizeof budget, "%d", d->cfg.query_timeout_ms / 4);
	params[0] = json;
	params[1] = minaff;
	params[2] = job->only_mission > 0 ? mission : NULL;
	params[3] = job->actor;
	params[4] = budget;
	if (db_pool_query(d->db, alerts_batch_sql, 5, params, alerts_batch_answered, job, &cause) !=
	    0) {
		struct db_result r = {DB_UNAVAILABLE, NULL, "", cause, 0};
		cJSON_free(json);
		alerts_batch_answered(&r, job);
		return;
	}
	cJSON_free(json);
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
		if (job->src != NULL)
			job->src->etag[0] = job->src->last_modified[0] = '\0';
		alerts_job_free(job);
		return;
	}
	job->items = xcalloc(job->list->n > 0 ? job->list->n : 1, sizeof *job->items);
	job->batch = xcalloc(ALERTS_BATCH, sizeof *job->batch);
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
	const char *min = NULL;
	int min_affected = 1;

	/* A threshold is refused, never guessed: taken as 1 it would propose for a single person.
	 */
	if (http_query_checked(ctx, "min_affected", buf, sizeof buf, &min) != SF_ENOTFOUND) {
		char *end = NULL;
		long v = min != NULL && min[0] >= '0' && min[0] <= '9' ? strtol(min, &end, 10) : 0;

		if (end == NULL || *end != '\0' || v < 1 || v > 1000000000) {
			http_reply_problem(ctx, 400, "bad request",
			                   "min_affected: a whole number ≥ 1");
			return;
		}
		min_affected = (int)v;
	}
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
	job->min_affected = min_affected;
	job->only_mission = ctx->principal.mission_id;
	snprintf(job->actor, sizeof job->actor, "%s", ctx->principal.name);
	alerts_start(job);
}

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
	job = xcalloc(1, sizeof *job);
	if (r->etag != NULL)
		snprintf(job->etag, sizeof job->etag, "%s", r->etag);
	if (r->last_modified != NULL)
		snprintf(job->last_modified, sizeof job->last_modified, "%s", r->last_modified);
	/* Not polled again until this document is proposed: no second job for the same feed. */
	job->src = f;
	f->busy = true;
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
