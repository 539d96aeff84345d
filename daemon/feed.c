/*
 * The HQ feed. status.json is cached per scope (mission, or all) and
 * window of closed crises: a change notification moves a generation
 * counter, and a cached document is served as long as its generation is
 * current (or it is younger than a second, which bounds the queries under a
 * stream of answers to one per second per scope). Concurrent misses share
 * one query. A poll whose If-None-Match matches gets 304 from memory: with
 * the API key cache, it costs the database nothing.
 */
#include "feed.h"

#include "auth.h"
#include "daemon.h"
#include "db_reply.h"
#include "http_server.h"
#include "log.h"
#include "sse.h"
#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#define FEED_DOCS 64             /* cached documents (scope x window) */
#define FEED_FRESH_MS 1000       /* a document this young is served whatever changed */
#define FEED_MAX_AGE_MS 60000    /* and none older, notifications or not */
#define FEED_STREAM_TICK_MS 1000 /* at most one event per crisis per tick */
#define FEED_CLOSED_DAYS 7

struct feed_doc {
	bool used;
	long long mission_id; /* 0: every mission */
	int closed_days;
	char *body;
	size_t len;
	char etag[40];
	unsigned long long generation; /* of the notifications when it was read */
	struct timespec fetched;
	unsigned long long last_use;
	bool loading;
	unsigned long long loading_generation;
	struct http_ctx **waiters;
	int nwaiters, capwaiters;
};

struct feed_client {
	TAILQ_ENTRY(feed_client) link;
	struct sse sse;
	long long mission_id;
	unsigned long long serial; /* finds the client again when its snapshot comes back */
	struct auth_grant grant;   /* checked again at every heartbeat: a revoked key ends it */
};

struct feed {
	struct daemon *d;
	struct feed_doc docs[FEED_DOCS];
	unsigned long long generation, uses;
	bool listening, stopped;
	TAILQ_HEAD(, feed_client) clients;
	int nclients;
	unsigned long long serials, event_id;
	long long *dirty; /* crises changed since the last tick */
	int ndirty, capdirty;
	bool reading, checking;
	unsigned long long checked; /* serials up to this were in the access check in flight */
	struct event *tick, *heartbeat;
	unsigned long long hits, misses, not_modified, queries, stream_events, revoked;
};

static long
feed_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long)((now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000);
}

/* A strong ETag: the start of the body's SHA-256, quoted. */
static void
feed_etag(const char *body, size_t len, char out[40])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL);
	out[0] = '"';
	for (int i = 0; i < 16; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
	out[33] = '"';
	out[34] = '\0';
}

/* Does If-None-Match (a list of tags, W/ prefixes, or *) name etag? */
static bool
feed_etag_matches(const char *header, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = header;

	while (*p != '\0') {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '*')
			return true;
		if (strncmp(p, "W/", 2) == 0)
			p += 2;
		if (strncmp(p, etag, elen) == 0 &&
		    (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' ' || p[elen] == '\t'))
			return true;
		while (*p != '\0' && *p != ',')
			p++;
	}
	return false;
}

/* Answers from a cached document: 304 when the client has it already. */
static void
feed_answer(struct feed *f, struct http_ctx *ctx, const struct feed_doc *doc)
{
	const char *inm =
	    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "If-None-Match");

	http_add_header(ctx, "ETag", doc->etag);
	if (inm != NULL && feed_etag_matches(inm, doc->etag)) {
		f->not_modified++;
		http_reply_bytes(ctx, 304, "application/json", "", 0);
		return;
	}
	http_reply_bytes(ctx, 200, "application/json", doc->body, doc->len);
}

/* The cached document of a scope and window, or a slot for it. */
static struct feed_doc *
feed_doc_get(struct feed *f, long long mission_id, int closed_days)
{
	struct feed_doc *victim = NULL;

	for (int i = 0; i < FEED_DOCS; i++) {
		struct feed_doc *doc = &f->docs[i];
		if (doc->used && doc->mission_id == mission_id && doc->closed_days == closed_days) {
			doc->last_use = ++f->uses;
			return doc;
		}
		if (doc->loading)
			continue;
		if (victim == NULL || !doc->used ||
		    (victim->used && doc->last_use < victim->last_use))
			victim = doc;
	}
	if (victim == NULL)
		return NULL; /* every slot is loading: the caller queries without caching */
	free(victim->body);
	free(victim->waiters);
	memset(victim, 0, sizeof *victim);
	victim->used = true;
	victim->mission_id = mission_id;
	victim->closed_days = closed_days;
	victim->last_use = ++f->uses;
	return victim;
}

/* Is the cached document still the truth? */
static bool
feed_doc_fresh(const struct feed *f, const struct feed_doc *doc)
{
	long age;

	if (doc->body == NULL)
		return false;
	age = feed_ms_since(&doc->fetched);
	if (age < FEED_FRESH_MS)
		return true;
	return f->listening && doc->generation == f->generation && age < FEED_MAX_AGE_MS;
}

/* The document came back: keep it and answer everyone who waited. */
static void
feed_status_done(const struct db_result *r, void *arg)
{
	struct feed_doc *doc = arg;
	struct feed *f = NULL;
	struct http_ctx **waiters = doc->waiters;
	int n = doc->nwaiters;

	doc->loading = false;
	doc->waiters = NULL;
	doc->nwaiters = doc->capwaiters = 0;
	if (n > 0)
		f = waiters[0]->d->feed;
	if (r->outcome == DB_OK && PQntuples(r->res) == 1 && !PQgetisnull(r->res, 0, 0)) {
		free(doc->body);
		doc->len = (size_t)PQgetlength(r->res, 0, 0);
		doc->body = xmalloc(doc->len + 1);
		memcpy(doc->body, PQgetvalue(r->res, 0, 0), doc->len + 1);
		feed_etag(doc->body, doc->len, doc->etag);
		doc->generation = doc->loading_generation;
		clock_gettime(CLOCK_MONOTONIC, &doc->fetched);
		for (int i = 0; i < n; i++)
			feed_answer(f, waiters[i], doc);
	} else {
		for (int i = 0; i < n; i++)
			db_reply_error(waiters[i], r);
	}
	free(waiters);
}

/* GET /feed/v1/status.json?closed_days=N */
void
routes_feed_status_json(struct http_ctx *ctx)
{
	struct feed *f = ctx->d->feed;
	struct feed_doc *doc;
	char buf[16], mission[24], days[8];
	const char *v = http_query(ctx, "closed_days", buf, sizeof buf);
	const char *params[2], *cause = NULL;
	int closed_days = FEED_CLOSED_DAYS;
	long long mission_id = ctx->principal.mission_id > 0 ? ctx->principal.mission_id : 0;

	if (v != NULL) {
		char *end;
		long n = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || n < 0 || n > 90) {
			http_reply_problem(
			    ctx, 400, "bad request",
			    "closed_days: how many days closed crises stay listed, 0 to 90");
			return;
		}
		closed_days = (int)n;
	}
	doc = feed_doc_get(f, mission_id, closed_days);
	if (doc != NULL && feed_doc_fresh(f, doc)) {
		f->hits++;
		feed_answer(f, ctx, doc);
		return;
	}
	f->misses++;
	if (doc != NULL && doc->loading) {
		if (doc->nwaiters == doc->capwaiters) {
			doc->capwaiters = doc->capwaiters ? doc->capwaiters * 2 : 8;
			doc->waiters =
			    xrealloc(doc->waiters, (size_t)doc->capwaiters * sizeof *doc->waiters);
		}
		doc->waiters[doc->nwaiters++] = ctx;
		return;
	}
	snprintf(mission, sizeof mission, "%lld", mission_id);
	snprintf(days, sizeof days, "%d", closed_days);
	params[0] = mission_id > 0 ? mission : NULL;
	params[1] = days;
	if (doc == NULL) {
		db_reply_text(ctx, "application/json",
		              "SELECT feed_status_json($1::bigint, $2::int)::text", 2, params);
		return;
	}
	doc->waiters = xmalloc(8 * sizeof *doc->waiters);
	doc->capwaiters = 8;
	doc->waiters[0] = ctx;
	doc->nwaiters = 1;
	doc->loading = true;
	doc->loading_generation = f->generation;
	f->queries++;
	if (db_pool_query(ctx->d->db, "SELECT feed_status_json($1::bigint, $2::int)::text", 2,
	                  params, feed_status_done, doc, &cause) != 0) {
		doc->loading = false;
		doc->nwaiters = 0;
		http_add_header(ctx, "Retry-After", "1");
		http_reply_problem(ctx, 503, "database unavailable", cause);
	}
}

/* Remembers that a crisis changed, for the stream's next tick. */
static void
feed_mark_dirty(struct feed *f, long long crisis_id)
{
	for (int i = 0; i < f->ndirty; i++)
		if (f->dirty[i] == crisis_id)
			return;
	if (f->ndirty == f->capdirty) {
		f->capdirty = f->capdirty ? f->capdirty * 2 : 16;
		f->dirty = xrealloc(f->dirty, (size_t)f->capdirty * sizeof *f->dirty);
	}
	f->dirty[f->ndirty++] = crisis_id;
}

void
feed_notified(struct daemon *d, const char *channel, const char *payload)
{
	struct feed *f = d->feed;
	long long id = atoll(payload);

	(void)channel;
	if (f == NULL)
		return;
	f->generation++;
	if (id > 0 && f->nclients > 0)
		feed_mark_dirty(f, id);
}

void
feed_listen_state(struct daemon *d, bool listening)
{
	struct feed *f = d->feed;

	if (f == NULL)
		return;
	f->listening = listening;
	f->generation++;
}

/* Detaches a stream client. */
static void
feed_client_detach(struct feed *f, struct feed_client *c)
{
	TAILQ_REMOVE(&f->clients, c, link);
	f->nclients--;
	free(c);
}

/* Sends one crisis document to a client, cut to its mission; false if it must go. */
static bool
feed_send_crisis(struct feed *f, struct feed_client *c, const cJSON *crisis, const char *whole)
{
	cJSON *copy, *missions, *m, *next;
	char *text;
	bool ok;

	if (c->mission_id == 0)
		return sse_printf(&c->sse, "id: %llu\nevent: crisis\ndata: %s\n\n", f->event_id,
		                  whole);
	copy = cJSON_Duplicate(crisis, true);
	missions = cJSON_GetObjectItemCaseSensitive(copy, "missions");
	bool mine = false;
	for (m = missions != NULL ? missions->child : NULL; m != NULL; m = next) {
		const cJSON *mid = cJSON_GetObjectItemCaseSensitive(m, "mission_id");
		next = m->next;
		if (cJSON_IsNumber(mid) && (long long)mid->valuedouble == c->mission_id)
			mine = true;
		else
			cJSON_Delete(cJSON_DetachItemViaPointer(missions, m));
	}
	if (!mine) {
		cJSON_Delete(copy);
		return true; /* not a crisis of its mission */
	}
	text = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	if (text == NULL)
		return true;
	ok = sse_printf(&c->sse, "id: %llu\nevent: crisis\ndata: %s\n\n", f->event_id, text);
	free(text);
	return ok;
}

/* The changed crises came back: one event each to every client that may see it. */
static void
feed_tick_done(const struct db_result *r, void *arg)
{
	struct feed *f = arg;

	f->reading = false;
	if (f->stopped || r->outcome != DB_OK)
		return;
	for (int i = 0; i < PQntuples(r->res); i++) {
		struct feed_client *c, *next;
		const char *whole;
		cJSON *crisis;

		if (PQgetisnull(r->res, i, 0))
			continue;
		whole = PQgetvalue(r->res, i, 0);
		crisis = cJSON_Parse(whole);
		if (crisis == NULL)
			continue;
		f->event_id++;
		f->stream_events++;
		for (c = TAILQ_FIRST(&f->clients); c != NULL; c = next) {
			next = TAILQ_NEXT(c, link);
			if (!feed_send_crisis(f, c, crisis, whole)) {
				struct sse sse = c->sse;
				feed_client_detach(f, c);
				sse_drop(&sse);
			}
		}
		cJSON_Delete(crisis);
	}
}

/* Once a second: read the crises that changed, if anyone listens. */
static void
feed_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct feed *f = arg;
	struct evbuffer *ids;
	char *list;
	const char *params[2], *cause = NULL;
	char days[8];

	(void)fd;
	(void)what;
	if (f->reading || f->ndirty == 0 || f->stopped)
		return;
	if (f->nclients == 0) {
		f->ndirty = 0;
		return;
	}
	ids = evbuffer_new();
	evbuffer_add_printf(ids, "{");
	for (int i = 0; i < f->ndirty; i++)
		evbuffer_add_printf(ids, "%s%lld", i ? "," : "", f->dirty[i]);
	evbuffer_add(ids, "}", 2);
	list = (char *)evbuffer_pullup(ids, -1);
	params[0] = list;
	/* A stream carries what status.json lists: no proposal, no dismissed crisis. */
	snprintf(days, sizeof days, "%d", FEED_CLOSED_DAYS);
	params[1] = days;
	if (db_pool_query(f->d->db,
	                  "SELECT feed_crisis_json(c, NULL)::text FROM unnest($1::bigint[]) c "
	                  "WHERE c IN (SELECT feed_crises(NULL, $2::int)) ORDER BY c",
	                  2, params, feed_tick_done, f, &cause) == 0) {
		f->reading = true;
		f->ndirty = 0;
	}
	evbuffer_free(ids);
}

/*
 * The access check answered: a stream whose key was revoked, or whose
 * session was revoked, expired or of a disabled account, or whose role or
 * mission changed, ends; streams opened after the check was sent wait for
 * the next one.
 */
static void
feed_access_checked(const struct db_result *r, void *arg)
{
	struct feed *f = arg;
	struct feed_client *c, *next;

	f->checking = false;
	if (r->outcome != DB_OK || f->stopped)
		return;
	for (c = TAILQ_FIRST(&f->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->serial > f->checked || auth_grant_holds(r->res, &c->grant))
			continue;
		struct sse sse = c->sse;
		f->revoked++;
		feed_client_detach(f, c);
		sse_end(&sse);
	}
}

/* Asks whether the credentials of every open stream still hold; one statement for all. */
static void
feed_check_access(struct feed *f)
{
	struct pg_arrays ids;
	struct feed_client *c;
	const char *cause;

	if (f->checking || f->nclients == 0 || f->stopped || f->d->db == NULL)
		return;
	pg_arrays_open(&ids, 2);
	TAILQ_FOREACH(c, &f->clients, link)
	auth_grant_add(&ids, &c->grant);
	f->checked = f->serials;
	if (auth_grants_check(f->d, &ids, feed_access_checked, f, &cause) == 0)
		f->checking = true;
	pg_arrays_free(&ids);
}

/* Keeps idle streams open, finds clients that left, and ends those no longer allowed. */
static void
feed_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct feed *f = arg;
	struct feed_client *c, *next;

	(void)fd;
	(void)what;
	for (c = TAILQ_FIRST(&f->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (!sse_printf(&c->sse, ": keep-alive\n\n")) {
			struct sse sse = c->sse;
			feed_client_detach(f, c);
			sse_drop(&sse);
		}
	}
	feed_check_access(f);
}

struct feed_snapshot {
	struct feed *f;
	unsigned long long serial;
};

/* A new client's snapshot: every crisis it may see, as it is now. */
static void
feed_snapshot_done(const struct db_result *r, void *arg)
{
	struct feed_snapshot *snap = arg;
	struct feed *f = snap->f;
	struct feed_client *c;

	TAILQ_FOREACH(c, &f->clients, link)
	{
		if (c->serial == snap->serial)
			break;
	}
	free(snap);
	if (c == NULL || r->outcome != DB_OK)
		return;
	for (int i = 0; i < PQntuples(r->res); i++) {
		if (!sse_printf(&c->sse, "id: %llu\nevent: crisis\ndata: %s\n\n", f->event_id,
		                PQgetvalue(r->res, i, 0))) {
			struct sse sse = c->sse;
			feed_client_detach(f, c);
			sse_drop(&sse);
			return;
		}
	}
}

/*
 * GET /feed/v1/stream: every visible crisis as it is now, then each crisis
 * again whenever its figures move, at most once a second. Events are whole
 * states, so a client that reconnects (with or without Last-Event-ID) is
 * whole again after the first batch.
 */
void
routes_feed_stream(struct http_ctx *ctx)
{
	struct daemon *d = ctx->d;
	struct feed *f = d->feed;
	struct feed_client *c;
	struct feed_snapshot *snap;
	char mission[24], days[8];
	const char *params[2], *cause = NULL;

	if (evhttp_request_get_command(ctx->req) == EVHTTP_REQ_HEAD) {
		http_reply_bytes(ctx, 200, "text/event-stream; charset=utf-8", "", 0);
		return;
	}
	if (f == NULL || f->stopped) {
		http_reply_problem(ctx, 503, "shutting down", "this server is stopping; retry");
		return;
	}
	if (f->nclients >= d->cfg.max_event_streams) {
		http_add_header(ctx, "Retry-After", "5");
		http_reply_problem(ctx, 503, "too many event streams",
		                   "the server has as many live streams open as it allows; retry "
		                   "shortly");
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->mission_id = ctx->principal.mission_id > 0 ? ctx->principal.mission_id : 0;
	c->serial = ++f->serials;
	auth_grant_of(&ctx->principal, &c->grant);
	snprintf(mission, sizeof mission, "%lld", c->mission_id);
	snprintf(days, sizeof days, "%d", FEED_CLOSED_DAYS);
	params[0] = c->mission_id > 0 ? mission : NULL;
	params[1] = days;
	sse_open(&c->sse, ctx);
	TAILQ_INSERT_TAIL(&f->clients, c, link);
	f->nclients++;
	snap = xcalloc(1, sizeof *snap);
	snap->f = f;
	snap->serial = c->serial;
	if (db_pool_query(d->db,
	                  "SELECT feed_crisis_json(f.id, $1::bigint)::text FROM "
	                  "feed_crises($1::bigint, $2::int) WITH ORDINALITY AS f(id, ord) "
	                  "ORDER BY f.ord",
	                  2, params, feed_snapshot_done, snap, &cause) != 0) {
		/* The stream stays open: the next changes reach it, and a reconnect brings all. */
		log_warn("feed_snapshot_failed", "error", cause);
		free(snap);
	}
}

void
feed_connection_closed(struct daemon *d, struct evhttp_connection *conn)
{
	struct feed *f = d->feed;
	struct feed_client *c;

	if (f == NULL || f->nclients == 0)
		return;
	TAILQ_FOREACH(c, &f->clients, link)
	{
		if (c->sse.conn == conn) {
			struct sse sse = c->sse;
			feed_client_detach(f, c);
			sse_closed(&sse);
			return;
		}
	}
}

/*
 * GET /feed/v1/status.atom: the latest crisis events as an Atom (RFC 4287)
 * feed. Stored text passes feed_xml_text(): xmlelement() escapes markup but
 * not the characters XML 1.0 forbids, and one of them would make the whole
 * feed unreadable (the CAP documents below likewise).
 */
void
routes_feed_atom(struct http_ctx *ctx)
{
	char scope[24];
	const char *params[2];

	params[0] = auth_scope_param(ctx, scope);
	params[1] = ctx->d->cfg.public_url;
	db_reply_text(
	    ctx, "application/atom+xml; charset=utf-8",
	    "WITH e AS (SELECT e.*, feed_xml_text(c.title) AS crisis_title, c.drill, "
	    " feed_xml_text(m.code) AS mission_code "
	    " FROM crisis_event e JOIN crisis c ON c.id = e.crisis_id "
	    " LEFT JOIN mission m ON m.id = e.mission_id "
	    " WHERE ($1::bigint IS NULL OR (e.mission_id IN (0, $1::bigint) AND EXISTS (SELECT 1 "
	    "  FROM crisis_mission cm WHERE cm.crisis_id = c.id AND cm.mission_id = $1::bigint))) "
	    " ORDER BY e.id DESC LIMIT 200) "
	    "SELECT '<?xml version=\"1.0\" encoding=\"utf-8\"?>' || xmlelement(name feed, "
	    " xmlattributes('http://www.w3.org/2005/Atom' AS xmlns), "
	    " xmlelement(name id, $2 || '/feed/v1/status.atom'), "
	    " xmlelement(name title, 'Safety: crisis events'), "
	    " xmlelement(name updated, to_char(coalesce((SELECT max(at) FROM e), now()) "
	    "  AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')), "
	    " xmlelement(name author, xmlelement(name name, 'Safety')), "
	    " xmlelement(name link, xmlattributes('self' AS rel, $2 || '/feed/v1/status.atom' AS "
	    "  href, 'application/atom+xml' AS type)), "
	    " (SELECT xmlagg(xmlelement(name entry, "
	    "   xmlelement(name id, $2 || '/feed/v1/status.atom#event-' || e.id), "
	    "   xmlelement(name title, CASE WHEN e.drill THEN '[DRILL] ' ELSE '' END || "
	    "    e.crisis_title || ': ' || CASE e.kind "
	    "    WHEN 'declared' THEN 'declared, severity ' || (e.detail->>'severity') "
	    "    WHEN 'severity_changed' THEN 'severity ' || (e.detail->>'from') || ' to ' || "
	    "     (e.detail->>'to') "
	    "    WHEN 'closed' THEN 'closed' "
	    "    WHEN 'campaign_launched' THEN 'check-in launched' "
	    "    WHEN 'first_help_request' THEN 'first request for help' "
	    "    WHEN 'answered_50' THEN 'half of the people answered' "
	    "    WHEN 'answered_90' THEN '90% of the people answered' "
	    "    WHEN 'plan_published' THEN 'evacuation plan published' ELSE e.kind END || "
	    "    coalesce(' (' || e.mission_code || ')', '')), "
	    "   xmlelement(name updated, to_char(e.at AT TIME ZONE 'UTC', "
	    "    'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')), "
	    "   xmlelement(name category, xmlattributes(e.kind AS term, "
	    "    'urn:safety:crisis-event' AS scheme)), "
	    "   xmlelement(name link, xmlattributes('alternate' AS rel, 'application/cap+xml' AS "
	    "    type, $2 || '/feed/v1/cap?crisis=' || e.crisis_id AS href)), "
	    "   xmlelement(name content, xmlattributes('text' AS type), "
	    "    feed_xml_text(e.detail::text))) "
	    "  ORDER BY e.id DESC) FROM e))::text",
	    2, params);
}

/*
 * GET /feed/v1/cap?crisis=ID: the crisis as an OASIS CAP 1.2 alert for
 * partner agencies (restricted scope, an exercise for a drill, a cancel once
 * closed); without crisis=, an Atom index of the alerts of open crises.
 */
void
routes_feed_cap(struct http_ctx *ctx)
{
	char scope[24], buf[24];
	const char *params[3];
	const char *crisis = http_query(ctx, "crisis", buf, sizeof buf);

	params[0] = auth_scope_param(ctx, scope);
	params[1] = ctx->d->cfg.public_url;
	if (crisis == NULL) {
		db_reply_text(
		    ctx, "application/atom+xml; charset=utf-8",
		    "WITH c AS (SELECT c.* FROM crisis c WHERE c.state = 'active' AND ($1::bigint "
		    "IS "
		    " NULL OR EXISTS (SELECT 1 FROM crisis_mission cm WHERE cm.crisis_id = c.id "
		    "AND "
		    " cm.mission_id = $1::bigint)) ORDER BY c.id DESC) "
		    "SELECT '<?xml version=\"1.0\" encoding=\"utf-8\"?>' || xmlelement(name feed, "
		    " xmlattributes('http://www.w3.org/2005/Atom' AS xmlns), "
		    " xmlelement(name id, $2 || '/feed/v1/cap'), "
		    " xmlelement(name title, 'Safety: CAP alerts of open crises'), "
		    " xmlelement(name updated, to_char(coalesce((SELECT max(updated_at) FROM c), "
		    "  now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')), "
		    " xmlelement(name author, xmlelement(name name, 'Safety')), "
		    " (SELECT xmlagg(xmlelement(name entry, "
		    "   xmlelement(name id, $2 || '/feed/v1/cap?crisis=' || c.id), "
		    "   xmlelement(name title, feed_xml_text(c.title)), "
		    "   xmlelement(name updated, to_char(c.updated_at AT TIME ZONE 'UTC', "
		    "    'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')), "
		    "   xmlelement(name link, xmlattributes('alternate' AS rel, "
		    "'application/cap+xml' "
		    "    AS type, $2 || '/feed/v1/cap?crisis=' || c.id AS href))) ORDER BY c.id "
		    "DESC) "
		    "  FROM c))::text",
		    2, params);
		return;
	}
	if (!http_is_id(crisis)) {
		http_reply_problem(ctx, 400, "bad request", "crisis: a crisis id");
		return;
	}
	params[2] = crisis;
	db_reply_text(
	    ctx, "application/cap+xml; charset=utf-8",
	    "WITH c AS (SELECT c.*, coalesce(c.area::geometry, ST_Buffer(c.center, c.radius_m)::"
	    "  geometry) AS g FROM crisis c WHERE c.id = $3::bigint AND c.state IN ('active', "
	    "  'closed') AND ($1::bigint IS NULL OR EXISTS (SELECT 1 FROM crisis_mission cm "
	    "  WHERE cm.crisis_id = c.id AND cm.mission_id = $1::bigint))) "
	    "SELECT '<?xml version=\"1.0\" encoding=\"utf-8\"?>' || xmlelement(name alert, "
	    " xmlattributes('urn:oasis:names:tc:emergency:cap:1.2' AS xmlns), "
	    " xmlelement(name identifier, 'safety-crisis-' || c.id || '-' || "
	    "  floor(extract(epoch FROM c.updated_at))::bigint), "
	    " xmlelement(name sender, coalesce(substring($2 from '^[a-z]+://([^/:]+)'), "
	    "  'safety')), "
	    " xmlelement(name sent, to_char(c.updated_at AT TIME ZONE 'UTC', "
	    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')), "
	    " xmlelement(name status, CASE WHEN c.drill THEN 'Exercise' ELSE 'Actual' END), "
	    " xmlelement(name \"msgType\", CASE WHEN c.state = 'closed' THEN 'Cancel' WHEN "
	    "  c.updated_at > c.created_at THEN 'Update' ELSE 'Alert' END), "
	    " xmlelement(name scope, 'Restricted'), "
	    " xmlelement(name restriction, 'For partner agencies of the foreign ministry'), "
	    " xmlelement(name info, "
	    "  xmlelement(name language, 'en'), "
	    "  xmlelement(name category, CASE c.kind WHEN 'earthquake' THEN 'Geo' WHEN 'flood' "
	    "   THEN 'Met' WHEN 'epidemic' THEN 'Health' WHEN 'other' THEN 'Other' ELSE "
	    "   'Security' END), "
	    "  xmlelement(name event, initcap(c.kind::text)), "
	    "  xmlelement(name urgency, CASE WHEN c.state = 'closed' THEN 'Past' ELSE "
	    "   'Immediate' END), "
	    "  xmlelement(name severity, CASE WHEN c.severity >= 5 THEN 'Extreme' WHEN "
	    "   c.severity = 4 THEN 'Severe' WHEN c.severity = 3 THEN 'Moderate' ELSE 'Minor' "
	    "   END), "
	    "  xmlelement(name certainty, 'Observed'), "
	    "  xmlelement(name onset, to_char(c.started_at AT TIME ZONE 'UTC', "
	    "   'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')), "
	    "  xmlelement(name \"senderName\", 'Safety'), "
	    "  xmlelement(name headline, left(feed_xml_text(c.title), 160)), "
	    "  CASE WHEN c.description IS NOT NULL THEN xmlelement(name description, "
	    "   feed_xml_text(c.description)) END, "
	    "  xmlelement(name parameter, xmlelement(name \"valueName\", 'safety:crisis_id'), "
	    "   xmlelement(name value, c.id)), "
	    "  xmlelement(name area, xmlelement(name \"areaDesc\", feed_xml_text(c.title)), "
	    "   CASE WHEN c.area IS NOT NULL THEN (SELECT xmlagg(xmlelement(name polygon, "
	    "    (SELECT string_agg(round(ST_Y(p.geom)::numeric, 5) || ',' || "
	    "     round(ST_X(p.geom)::numeric, 5), ' ' ORDER BY p.path) FROM "
	    "     ST_DumpPoints(ST_ExteriorRing(d.geom)) p))) FROM ST_Dump(c.g) d) "
	    "   ELSE xmlelement(name circle, round(ST_Y(c.center::geometry)::numeric, 5) || ',' "
	    "    || round(ST_X(c.center::geometry)::numeric, 5) || ' ' || "
	    "    round((c.radius_m / 1000)::numeric, 3)) END)))::text FROM c",
	    3, params);
}

void
feed_start(struct daemon *d)
{
	struct feed *f = xcalloc(1, sizeof *f);
	struct timeval tick = {0, FEED_STREAM_TICK_MS * 1000}, beat = {d->cfg.event_heartbeat_s, 0};

	f->d = d;
	TAILQ_INIT(&f->clients);
	f->tick = event_new(d->base, -1, EV_PERSIST, feed_tick_cb, f);
	event_add(f->tick, &tick);
	f->heartbeat = event_new(d->base, -1, EV_PERSIST, feed_heartbeat_cb, f);
	event_add(f->heartbeat, &beat);
	d->feed = f;
}

void
feed_stop(struct daemon *d)
{
	struct feed *f = d->feed;
	struct feed_client *c;

	if (f == NULL || f->stopped)
		return;
	f->stopped = true;
	while ((c = TAILQ_FIRST(&f->clients)) != NULL) {
		struct sse sse = c->sse;
		feed_client_detach(f, c);
		sse_end(&sse);
	}
}

void
feed_free(struct daemon *d)
{
	struct feed *f = d->feed;

	if (f == NULL)
		return;
	feed_stop(d);
	for (int i = 0; i < FEED_DOCS; i++) {
		free(f->docs[i].body);
		free(f->docs[i].waiters);
	}
	free(f->dirty);
	event_free(f->tick);
	event_free(f->heartbeat);
	free(f);
	d->feed = NULL;
}

void
feed_metrics(const struct daemon *d, struct evbuffer *out)
{
	const struct feed *f = d->feed;

	if (f == NULL)
		return;
	evbuffer_add_printf(
	    out,
	    "# HELP safety_feed_status_requests_total status.json polls by how they were served.\n"
	    "# TYPE safety_feed_status_requests_total counter\n"
	    "safety_feed_status_requests_total{served=\"cache\"} %llu\n"
	    "safety_feed_status_requests_total{served=\"query\"} %llu\n"
	    "# HELP safety_feed_not_modified_total Polls answered 304 Not Modified.\n"
	    "# TYPE safety_feed_not_modified_total counter\nsafety_feed_not_modified_total %llu\n"
	    "# HELP safety_feed_queries_total Queries the status document cost.\n"
	    "# TYPE safety_feed_queries_total counter\nsafety_feed_queries_total %llu\n"
	    "# HELP safety_feed_streams Open HQ event streams.\n"
	    "# TYPE safety_feed_streams gauge\nsafety_feed_streams %d\n"
	    "# HELP safety_feed_stream_events_total Crisis events sent on HQ streams.\n"
	    "# TYPE safety_feed_stream_events_total counter\nsafety_feed_stream_events_total "
	    "%llu\n"
	    "# HELP safety_feed_streams_revoked_total HQ streams ended because their key or "
	    "session no longer holds.\n"
	    "# TYPE safety_feed_streams_revoked_total counter\nsafety_feed_streams_revoked_total "
	    "%llu\n",
	    f->hits, f->misses, f->not_modified, f->queries, f->nclients, f->stream_events,
	    f->revoked);
}
