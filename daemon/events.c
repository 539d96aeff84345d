/*
 * Crisis event streams. Every person_status row carries the id of the
 * transaction that last changed it (txid). A stream's read takes the
 * snapshot it reads under (xmax, and the transactions still running), and
 * the next read takes the rows changed at or past that xmax, or by one of
 * those running transactions: exactly the changes the previous read could
 * not see, each once, even one that commits late after newer ones, and
 * however long a transaction stays open.
 *
 * Event ids are the snapshot's xmin: before it every change was sent. A
 * client that comes back with Last-Event-ID is first caught up on its own
 * (the rows at or past its id that the stream's snapshot sees as final),
 * then follows the stream. A person event carries its batch's starting id
 * and the batch ends with a counts event carrying the next, so a break
 * costs at most a repeat of the batch in progress. Events are states, not
 * deltas: applying one twice is harmless.
 */
#include "events.h"

#include "auth.h"
#include "daemon.h"
#include "db_reply.h"
#include "http_server.h"
#include "log.h"
#include "feed.h"
#include "pg_array.h"
#include "pg_listen.h"
#include "sse.h"
#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#define EVENTS_MAX_ROWS 5000         /* more changes than this in one read: clients reload */
#define EVENTS_MIN_GAP_MS 100        /* between two reads of one crisis: coalesces bursts */
#define EVENTS_RETRY_MS 1000         /* after a failed read */
#define EVENTS_MAX_BACKLOG (4 << 20) /* bytes queued to one client before it is dropped */
#define EVENTS_WRITE_TIMEOUT_S 60    /* a client that takes nothing for this long is dropped */

enum events_client_state {
	EC_NEW,    /* wants what happens from now on, once the stream has a snapshot */
	EC_RESUME, /* came back with an id: to be caught up on its own first */
	EC_LIVE,   /* has everything the stream's snapshot sees as final */
};

struct events_client {
	TAILQ_ENTRY(events_client) link;
	struct events_stream *stream;
	struct sse sse;
	long long mission_id; /* 0: every mission */
	enum events_client_state state;
	unsigned long long resume; /* EC_RESUME: rows with txid >= resume are due */
	char *counts;              /* the counts last sent */
	/* Who opened it, checked again at every heartbeat: a revoked session ends it. */
	struct auth_grant grant;
	unsigned long long joined; /* the hub's join count when it opened */
};

struct events_stream {
	TAILQ_ENTRY(events_stream) link;
	struct events_hub *hub;
	long long crisis_id;
	/* The snapshot of the last read: what the next read must look at. */
	bool has_snap;
	unsigned long long xmin, xmax;
	char *xip;     /* the transactions running then, as an xid8[] literal */
	cJSON *counts; /* mission id -> {status: n}, from the last read */
	bool reading, again;
	bool catching_up;              /* the read in flight catches clients up */
	unsigned long long catch_from; /* ...from this id on */
	struct timespec last_read;
	struct event *delay;
	TAILQ_HEAD(, events_client) clients;
};

struct events_hub {
	struct daemon *d;
	struct pg_listen *listen;
	TAILQ_HEAD(, events_stream) streams;
	struct event *heartbeat;
	struct event *poll; /* reads every stream while notifications cannot arrive */
	int nclients;
	int opening; /* streams whose crisis check is in flight: they count against the limit */
	bool stopped;
	unsigned long long sent, dropped, reads, read_failures, resets, revoked;
	unsigned long long joins;   /* streams opened so far */
	unsigned long long checked; /* joins when the access check in flight was sent */
	bool checking;
};

static void events_read(struct events_stream *s);

/* Milliseconds from a to b. */
static long
events_ms_between(const struct timespec *a, const struct timespec *b)
{
	return (long)((b->tv_sec - a->tv_sec) * 1000 + (b->tv_nsec - a->tv_nsec) / 1000000);
}

/* Parses an event id: 1 to 20 decimal digits. */
static bool
events_parse_id(const char *s, unsigned long long *out)
{
	size_t n = strlen(s);
	char *end;

	if (n == 0 || n > 20 || strspn(s, "0123456789") != n)
		return false;
	*out = strtoull(s, &end, 10);
	return *end == '\0';
}

/* Sends text to one client; false when it must be dropped. */
static bool
events_send(struct events_client *c, struct evbuffer *buf)
{
	c->stream->hub->sent++;
	return sse_send(&c->sse, buf);
}

/* Frees a stream that has no client and no read in flight. */
static void
events_stream_free(struct events_stream *s)
{
	TAILQ_REMOVE(&s->hub->streams, s, link);
	event_free(s->delay);
	cJSON_Delete(s->counts);
	free(s->xip);
	free(s);
}

/* Detaches a client from its stream and the hub; frees the stream once unused. */
static void
events_client_detach(struct events_client *c)
{
	struct events_stream *s = c->stream;
	struct events_hub *hub = s->hub;

	TAILQ_REMOVE(&s->clients, c, link);
	hub->nclients--;
	free(c->counts);
	free(c);
	if (TAILQ_EMPTY(&s->clients) && !s->reading)
		events_stream_free(s);
}

/* Closes a client's connection from our side (slow, or gone). */
static void
events_client_drop(struct events_client *c)
{
	struct sse sse = c->sse;

	c->stream->hub->dropped++;
	events_client_detach(c);
	sse_drop(&sse);
}

/* Ends a client's stream cleanly (the terminating chunk), for a shutdown. */
static void
events_client_end(struct events_client *c)
{
	struct sse sse = c->sse;

	events_client_detach(c);
	sse_end(&sse);
}

/* Schedules a read of the stream, at least EVENTS_MIN_GAP_MS after the previous one. */
static void
events_schedule(struct events_stream *s)
{
	struct timespec now;
	long waited;

	if (s->hub->stopped)
		return;
	if (s->reading) {
		s->again = true;
		return;
	}
	if (evtimer_pending(s->delay, NULL))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	waited = events_ms_between(&s->last_read, &now);
	if (waited >= EVENTS_MIN_GAP_MS) {
		events_read(s);
	} else {
		struct timeval tv = {0, (EVENTS_MIN_GAP_MS - waited) * 1000};
		evtimer_add(s->delay, &tv);
	}
}

static void
events_delay_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	events_read(arg);
}

/* The counts a client may see: its mission's, or the sum over every mission. */
static char *
events_client_counts(const struct events_client *c, const cJSON *by_mission)
{
	cJSON *doc = cJSON_CreateObject(), *sum = cJSON_CreateObject();
	const cJSON *m, *st;
	char *text;

	cJSON_AddNumberToObject(doc, "crisis_id", (double)c->stream->crisis_id);
	cJSON_ArrayForEach(m, by_mission)
	{
		if (c->mission_id != 0 && atoll(m->string) != c->mission_id)
			continue;
		cJSON_ArrayForEach(st, m)
		{
			cJSON *have = cJSON_GetObjectItemCaseSensitive(sum, st->string);
			if (have != NULL)
				cJSON_SetNumberValue(have, have->valuedouble + st->valuedouble);
			else
				cJSON_AddNumberToObject(sum, st->string, st->valuedouble);
		}
	}
	cJSON_AddItemToObject(doc, "counts", sum);
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	return text;
}

/* Sends the counts event (with the new cursor as its id) if due; false if the client went. */
static bool
events_send_counts(struct events_client *c, unsigned long long cursor, bool force)
{
	char *counts;
	struct evbuffer *buf;
	bool ok = true;

	if (c->stream->counts == NULL)
		return true;
	counts = events_client_counts(c, c->stream->counts);
	if (counts == NULL)
		return true;
	if (!force && c->counts != NULL && strcmp(c->counts, counts) == 0) {
		free(counts);
		return true;
	}
	buf = evbuffer_new();
	evbuffer_add_printf(buf, "id: %llu\nevent: counts\ndata: %s\n\n", cursor, counts);
	ok = events_send(c, buf);
	evbuffer_free(buf);
	free(c->counts);
	c->counts = counts;
	return ok;
}

/* Tells a client to reload its lists, then sends the counts; false if it went. */
static bool
events_reset(struct events_client *c, unsigned long long id)
{
	struct evbuffer *buf = evbuffer_new();
	bool ok;

	evbuffer_add_printf(buf,
	                    "id: %llu\nevent: reset\ndata: {\"reason\":\"more than %d changes "
	                    "at once; reload the lists\"}\n\n",
	                    id, EVENTS_MAX_ROWS);
	c->stream->hub->resets++;
	ok = events_send(c, buf);
	evbuffer_free(buf);
	return ok && events_send_counts(c, id, true);
}

/* One changed row of a read, rendered once for every client. */
struct events_row {
	long long mission_id;
	unsigned long long txid;
	char *text;
};

/* Renders a read's rows; returns how many (the array is the caller's, see events_rows_free). */
static size_t
events_rows_render(const cJSON *rows, struct events_row **out)
{
	const cJSON *row;
	size_t n = 0;

	*out = xcalloc((size_t)cJSON_GetArraySize(rows) + 1, sizeof **out);
	cJSON_ArrayForEach(row, rows)
	{
		const cJSON *mid = cJSON_GetObjectItemCaseSensitive(row, "mission_id");
		const cJSON *tx = cJSON_GetObjectItemCaseSensitive(row, "txid");
		char *text;

		if (!cJSON_IsNumber(mid) || !cJSON_IsString(tx) ||
		    (text = cJSON_PrintUnformatted(row)) == NULL)
			continue;
		(*out)[n].mission_id = (long long)mid->valuedouble;
		(*out)[n].txid = strtoull(tx->valuestring, NULL, 10);
		(*out)[n].text = text;
		n++;
	}
	return n;
}

static void
events_rows_free(struct events_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(rows[i].text);
	free(rows);
}

/*
 * Sends a client the rows of a read at or past from (its mission's), with
 * first_id on each, then the counts with next_id; false if it went.
 */
static bool
events_deliver(struct events_client *c, const struct events_row *rows, size_t nrows,
               unsigned long long from, unsigned long long first_id, unsigned long long next_id)
{
	struct evbuffer *buf = evbuffer_new();
	bool any = false, ok = true;

	for (size_t i = 0; i < nrows; i++) {
		if (c->mission_id != 0 && rows[i].mission_id != c->mission_id)
			continue;
		if (rows[i].txid < from)
			continue;
		evbuffer_add_printf(buf, "id: %llu\nevent: person\ndata: %s\n\n", first_id,
		                    rows[i].text);
		any = true;
	}
	if (any)
		ok = events_send(c, buf);
	evbuffer_free(buf);
	return ok && events_send_counts(c, next_id, any);
}

/* Reads a snapshot's running transactions ("1,2,3") as an xid8[] literal. */
static char *
events_xip_literal(const char *list)
{
	char *lit;

	xasprintf(&lit, "{%s}", list);
	return lit;
}

/* A read came back. */
static void
events_read_done(const struct db_result *r, void *arg)
{
	struct events_stream *s = arg;
	struct events_hub *hub = s->hub;
	struct events_client *c, *next;
	cJSON *counts = NULL, *rows = NULL;
	unsigned long long xmin = 0, xmax = 0;
	bool catching_up = s->catching_up, overflow, resuming = false;
	struct events_row *rendered = NULL;
	size_t nrendered = 0;

	s->reading = false;
	s->catching_up = false;
	if (TAILQ_EMPTY(&s->clients)) {
		events_stream_free(s);
		return;
	}
	if (hub->stopped)
		return;
	if (r->outcome != DB_OK || PQntuples(r->res) != 1 ||
	    !events_parse_id(PQgetvalue(r->res, 0, 0), &xmin) ||
	    !events_parse_id(PQgetvalue(r->res, 0, 1), &xmax) ||
	    strspn(PQgetvalue(r->res, 0, 2), "0123456789,") != strlen(PQgetvalue(r->res, 0, 2)) ||
	    (counts = cJSON_Parse(PQgetvalue(r->res, 0, 3))) == NULL ||
	    (rows = cJSON_Parse(PQgetvalue(r->res, 0, 4))) == NULL) {
		struct timeval tv = {EVENTS_RETRY_MS / 1000, (EVENTS_RETRY_MS % 1000) * 1000};
		hub->read_failures++;
		log_warn("events_read_failed", "error",
		         r->outcome == DB_OK ? "bad result" : r->error);
		cJSON_Delete(counts);
		evtimer_add(s->delay, &tv);
		return;
	}
	hub->reads++;
	overflow = cJSON_GetArraySize(rows) > EVENTS_MAX_ROWS;
	nrendered = overflow ? 0 : events_rows_render(rows, &rendered);
	cJSON_Delete(s->counts);
	s->counts = counts;
	/* Still "reading" while delivering, so a dropped last client does not free the stream. */
	s->reading = true;
	for (c = TAILQ_FIRST(&s->clients); c != NULL; c = next) {
		bool ok = true;

		next = TAILQ_NEXT(c, link);
		if (catching_up) {
			/* Final below the stream's snapshot, from the lowest id caught up on. */
			if (c->state != EC_RESUME || c->resume < s->catch_from) {
				resuming = resuming || c->state == EC_RESUME;
				continue;
			}
			ok = overflow ? events_reset(c, s->xmin)
			              : events_deliver(c, rendered, nrendered, c->resume, c->resume,
			                               s->xmin);
			c->state = EC_LIVE;
		} else if (c->state == EC_NEW || (c->state == EC_LIVE && !s->has_snap)) {
			c->state = EC_LIVE;
			ok = events_send_counts(c, xmin, true);
		} else if (c->state == EC_LIVE) {
			ok = overflow ? events_reset(c, xmin)
			              : events_deliver(c, rendered, nrendered, 0, s->xmin, xmin);
		} else {
			resuming = true;
		}
		if (!ok)
			events_client_drop(c);
	}
	s->reading = false;
	cJSON_Delete(rows);
	events_rows_free(rendered, nrendered);
	if (TAILQ_EMPTY(&s->clients)) {
		events_stream_free(s);
		return;
	}
	if (!catching_up) {
		/* What the next read must look at. */
		free(s->xip);
		s->xip = events_xip_literal(PQgetvalue(r->res, 0, 2));
		s->xmin = xmin;
		s->xmax = xmax;
		s->has_snap = true;
	}
	/* After a catch-up, the changes since the stream's snapshot; clients still to catch up. */
	if (s->again || catching_up || resuming) {
		s->again = false;
		events_schedule(s);
	}
}

/*
 * Reads the stream's changes since its last snapshot, or, while a client
 * waits to be caught up, the rows at or past its id that the snapshot sees
 * as final. The first read takes a snapshot and counts, and no rows.
 */
static void
events_read(struct events_stream *s)
{
#define EVENTS_READ_HEAD                                                                           \
	"SELECT pg_snapshot_xmin(snap.s)::text, pg_snapshot_xmax(snap.s)::text, "                  \
	" (SELECT coalesce(string_agg(x::text, ','), '') FROM pg_snapshot_xip(snap.s) x), "        \
	" (SELECT coalesce(json_object_agg(mission_id, c), '{}') FROM (SELECT mission_id, "        \
	"  json_object_agg(status, n) AS c FROM status_count WHERE crisis_id = $1::bigint "        \
	"  AND n > 0 GROUP BY mission_id) m)::text, "                                              \
	" (SELECT coalesce(json_agg(json_build_object('national_id', p.national_id, "              \
	"  'mission_id', p.mission_id, 'txid', p.txid::text, 'version', p.version, "               \
	"  'status', p.status, 'region_id', p.region_id, 'duress', p.duress, "                     \
	"  'needs_review', p.needs_review, 'confirm_safe', p.confirm_safe, "                       \
	"  'by_proxy', p.by_proxy, 'headcount', p.headcount, 'answered_at', p.answered_at, "       \
	"  'deleted', p.deleted, "                                                                 \
	"  'name_ko', n.name_ko, 'name_latin', n.name_latin, "                                     \
	"  'lat', ST_Y(coalesce(r.point, n.last_point)::geometry), "                               \
	"  'lon', ST_X(coalesce(r.point, n.last_point)::geometry), "                               \
	"  'last_answer', CASE WHEN r.id IS NOT NULL THEN json_build_object('channel', "           \
	"   r.channel, 'text', r.raw_text, 'at', r.received_at) END) "                             \
	"  ORDER BY p.txid, p.national_id), '[]') "                                                \
	"  FROM (SELECT * FROM person_status WHERE crisis_id = $1::bigint "                        \
	"   AND (status <> 'pending' OR needs_review) AND "
#define EVENTS_READ_TAIL                                                                           \
	"   ORDER BY txid, national_id LIMIT $2::int) p "                                          \
	"  JOIN national n ON n.id = p.national_id "                                               \
	"  LEFT JOIN response r ON r.id = p.last_response_id)::text "                              \
	"FROM (SELECT pg_current_snapshot() AS s) snap"
	/* Since the last snapshot: at or past its xmax, or by a transaction running then. */
	static const char changes_sql[] =
	    EVENTS_READ_HEAD "$3::xid8 IS NOT NULL AND (txid >= $3::xid8 OR txid = ANY "
	                     "($4::xid8[])) " EVENTS_READ_TAIL;
	/* A client's catch-up: at or past its id, and final under the stream's snapshot. */
	static const char catch_up_sql[] =
	    EVENTS_READ_HEAD "txid >= $5::xid8 AND txid < $3::xid8 AND NOT (txid = ANY "
	                     "($4::xid8[])) " EVENTS_READ_TAIL;
#undef EVENTS_READ_HEAD
#undef EVENTS_READ_TAIL
	char crisis[24], limit[16], xmax[24], from[24];
	const char *params[5] = {crisis, limit, NULL, NULL, NULL};
	const char *cause = NULL;
	struct events_client *c;
	bool catch_up = false;
	unsigned long long lowest = 0;

	if (s->hub->stopped || s->hub->d->db == NULL)
		return;
	if (s->has_snap) {
		TAILQ_FOREACH(c, &s->clients, link)
		{
			if (c->state == EC_RESUME && (!catch_up || c->resume < lowest)) {
				lowest = c->resume;
				catch_up = true;
			}
		}
		snprintf(xmax, sizeof xmax, "%llu", s->xmax);
		params[2] = xmax;
		params[3] = s->xip;
	}
	snprintf(crisis, sizeof crisis, "%lld", s->crisis_id);
	snprintf(limit, sizeof limit, "%d", EVENTS_MAX_ROWS + 1);
	if (catch_up) {
		snprintf(from, sizeof from, "%llu", lowest);
		params[4] = from;
	}
	s->catching_up = catch_up;
	s->catch_from = lowest;
	clock_gettime(CLOCK_MONOTONIC, &s->last_read);
	if (db_pool_query(s->hub->d->db, catch_up ? catch_up_sql : changes_sql, catch_up ? 5 : 4,
	                  params, events_read_done, s, &cause) != 0) {
		struct timeval tv = {EVENTS_RETRY_MS / 1000, (EVENTS_RETRY_MS % 1000) * 1000};
		s->catching_up = false;
		s->hub->read_failures++;
		evtimer_add(s->delay, &tv);
		return;
	}
	s->reading = true;
}

/* The stream of a crisis, made on first use. */
static struct events_stream *
events_stream_get(struct events_hub *hub, long long crisis_id, bool create)
{
	struct events_stream *s;

	TAILQ_FOREACH(s, &hub->streams, link)
	{
		if (s->crisis_id == crisis_id)
			return s;
	}
	if (!create)
		return NULL;
	s = xcalloc(1, sizeof *s);
	s->hub = hub;
	s->crisis_id = crisis_id;
	s->delay = evtimer_new(hub->d->base, events_delay_cb, s);
	TAILQ_INIT(&s->clients);
	TAILQ_INSERT_TAIL(&hub->streams, s, link);
	return s;
}

/* A plan of a crisis moved on (running, a stage, ready, failed): its mission's clients hear it. */
static void
events_plan(struct events_hub *hub, const char *payload)
{
	cJSON *doc = cJSON_Parse(payload);
	const cJSON *cid, *mid;
	struct events_stream *s;
	struct events_client *c, *next;
	long long crisis_id, mission_id;

	if (doc == NULL)
		return;
	cid = cJSON_GetObjectItemCaseSensitive(doc, "crisis_id");
	mid = cJSON_GetObjectItemCaseSensitive(doc, "mission_id");
	/* Converting anything but a number in range is undefined: such a notice is not ours. */
	if (!cJSON_IsNumber(cid) || !cJSON_IsNumber(mid) || !(cid->valuedouble >= 1) ||
	    !(cid->valuedouble < 9e18) || !(mid->valuedouble >= 1) || !(mid->valuedouble < 9e18)) {
		cJSON_Delete(doc);
		return;
	}
	crisis_id = (long long)cid->valuedouble;
	mission_id = (long long)mid->valuedouble;
	cJSON_Delete(doc);
	s = events_stream_get(hub, crisis_id, false);
	if (s == NULL)
		return;
	for (c = TAILQ_FIRST(&s->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->mission_id != 0 && c->mission_id != mission_id)
			continue;
		bool last = next == NULL;
		if (!sse_printf(&c->sse, "event: plan\ndata: %s\n\n", payload)) {
			events_client_drop(c);
			if (last)
				break; /* the stream may be gone */
		}
	}
}

/* A notification: statuses of a crisis changed somewhere. */
static void
events_notified(const char *channel, const char *payload, void *arg)
{
	struct events_hub *hub = arg;
	struct events_stream *s;

	if (strcmp(channel, "safety_plan") == 0) {
		events_plan(hub, payload);
		return;
	}
	feed_notified(hub->d, channel, payload);
	if (strcmp(channel, "safety_status") != 0)
		return;
	s = events_stream_get(hub, atoll(payload), false);
	if (s != NULL)
		events_schedule(s);
}

/* The LISTEN connection came back: what was notified meanwhile is lost, so read all. */
static void
events_listen_state(bool listening, void *arg)
{
	struct events_hub *hub = arg;
	struct events_stream *s;

	feed_listen_state(hub->d, listening);
	if (!listening)
		return;
	TAILQ_FOREACH(s, &hub->streams, link)
	events_schedule(s);
}

/*
 * The access check answered: the sessions and keys still valid, with their
 * role and mission. A stream whose session was revoked, expired or whose
 * account was disabled, or whose role or mission changed, ends (its browser
 * comes back and is asked to log in); streams opened after the check was
 * sent are left for the next one.
 */
static void
events_access_checked(const struct db_result *r, void *arg)
{
	struct events_hub *hub = arg;
	struct events_stream *s, *snext;
	struct events_client *c, *cnext;

	hub->checking = false;
	if (r->outcome != DB_OK || hub->stopped)
		return;
	for (s = TAILQ_FIRST(&hub->streams); s != NULL; s = snext) {
		snext = TAILQ_NEXT(s, link);
		for (c = TAILQ_FIRST(&s->clients); c != NULL; c = cnext) {
			bool valid, last;

			cnext = TAILQ_NEXT(c, link);
			if (c->joined > hub->checked)
				continue;
			valid = auth_grant_holds(r->res, &c->grant);
			if (valid)
				continue;
			hub->revoked++;
			last = cnext == NULL;
			events_client_end(c);
			if (last)
				break; /* the stream may be freed */
		}
	}
}

/* Asks whether the credentials of every open stream still hold; one statement for all. */
static void
events_check_access(struct events_hub *hub)
{
	struct pg_arrays ids;
	struct events_stream *s;
	struct events_client *c;
	const char *cause;

	if (hub->checking || hub->nclients == 0 || hub->stopped || hub->d->db == NULL)
		return;
	pg_arrays_open(&ids, 2);
	TAILQ_FOREACH(s, &hub->streams, link)
	{
		TAILQ_FOREACH(c, &s->clients, link)
		auth_grant_add(&ids, &c->grant);
	}
	hub->checked = hub->joins;
	if (auth_grants_check(hub->d, &ids, events_access_checked, hub, &cause) == 0)
		hub->checking = true;
	pg_arrays_free(&ids);
}

/* Keeps idle streams open through proxies, and finds clients that left. */
static void
events_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct events_hub *hub = arg;
	struct events_stream *s, *snext;
	struct events_client *c, *cnext;

	(void)fd;
	(void)what;
	for (s = TAILQ_FIRST(&hub->streams); s != NULL; s = snext) {
		snext = TAILQ_NEXT(s, link);
		for (c = TAILQ_FIRST(&s->clients); c != NULL; c = cnext) {
			struct evbuffer *buf = evbuffer_new();
			cnext = TAILQ_NEXT(c, link);
			/*
			 * The client's place as an id (no data, so no event fires):
			 * a quiet client comes back from here, not from its last
			 * change, and does not make its stream read far back.
			 */
			if (c->state == EC_LIVE && s->has_snap)
				evbuffer_add_printf(buf, ": keep-alive\nid: %llu\n\n", s->xmin);
			else
				evbuffer_add_printf(buf, ": keep-alive\n\n");
			bool last = cnext == NULL;
			if (!events_send(c, buf)) {
				evbuffer_free(buf);
				events_client_drop(c);
				if (last)
					break; /* the stream may be freed */
				continue;
			}
			evbuffer_free(buf);
		}
	}
	events_check_access(hub);
}

/* Without notifications, reads each crisis every second. */
static void
events_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct events_hub *hub = arg;
	struct events_stream *s;

	(void)fd;
	(void)what;
	if (pg_listen_ok(hub->listen))
		return;
	TAILQ_FOREACH(s, &hub->streams, link)
	events_schedule(s);
}

void
events_start(struct daemon *d)
{
	static const char *const channels[] = {"safety_status", "safety_feed", "safety_plan"};
	struct events_hub *hub = xcalloc(1, sizeof *hub);
	struct timeval beat = {d->cfg.event_heartbeat_s, 0}, poll = {1, 0};

	hub->d = d;
	TAILQ_INIT(&hub->streams);
	hub->listen = pg_listen_new(d->base, d->cfg.database_url, channels, 3, events_notified,
	                            events_listen_state, hub);
	hub->heartbeat = event_new(d->base, -1, EV_PERSIST, events_heartbeat_cb, hub);
	event_add(hub->heartbeat, &beat);
	hub->poll = event_new(d->base, -1, EV_PERSIST, events_poll_cb, hub);
	event_add(hub->poll, &poll);
	d->events = hub;
}

void
events_stop(struct daemon *d)
{
	struct events_hub *hub = d->events;
	struct events_stream *s, *snext;
	struct events_client *c;

	if (hub == NULL || hub->stopped)
		return;
	hub->stopped = true;
	for (s = TAILQ_FIRST(&hub->streams); s != NULL; s = snext) {
		snext = TAILQ_NEXT(s, link);
		while ((c = TAILQ_FIRST(&s->clients)) != NULL) {
			bool last = TAILQ_NEXT(c, link) == NULL;
			events_client_end(c);
			if (last)
				break; /* the stream may be freed with its last client */
		}
	}
}

void
events_free(struct daemon *d)
{
	struct events_hub *hub = d->events;
	struct events_stream *s;

	if (hub == NULL)
		return;
	events_stop(d);
	while ((s = TAILQ_FIRST(&hub->streams)) != NULL) {
		struct events_client *c;
		while ((c = TAILQ_FIRST(&s->clients)) != NULL) {
			TAILQ_REMOVE(&s->clients, c, link);
			free(c->counts);
			free(c);
		}
		events_stream_free(s);
	}
	pg_listen_free(hub->listen);
	event_free(hub->heartbeat);
	event_free(hub->poll);
	free(hub);
	d->events = NULL;
}

void
events_connection_closed(struct daemon *d, struct evhttp_connection *conn)
{
	struct events_hub *hub = d->events;
	struct events_stream *s;
	struct events_client *c;

	if (hub == NULL || hub->nclients == 0)
		return;
	TAILQ_FOREACH(s, &hub->streams, link)
	{
		TAILQ_FOREACH(c, &s->clients, link)
		{
			if (c->sse.conn != conn)
				continue;
			struct sse sse = c->sse;
			events_client_detach(c);
			sse_closed(&sse);
			return;
		}
	}
}

void
events_metrics(const struct daemon *d, struct evbuffer *out)
{
	const struct events_hub *hub = d->events;

	if (hub == NULL)
		return;
	evbuffer_add_printf(
	    out,
	    "# HELP safety_event_streams Open server-sent event streams.\n"
	    "# TYPE safety_event_streams gauge\nsafety_event_streams %d\n"
	    "# HELP safety_events_sent_total Chunks written to event streams.\n"
	    "# TYPE safety_events_sent_total counter\nsafety_events_sent_total %llu\n"
	    "# HELP safety_event_streams_dropped_total Streams closed because the client fell "
	    "behind or went away.\n"
	    "# TYPE safety_event_streams_dropped_total counter\n"
	    "safety_event_streams_dropped_total %llu\n"
	    "# HELP safety_event_reads_total Reads of changed statuses, by outcome.\n"
	    "# TYPE safety_event_reads_total counter\n"
	    "safety_event_reads_total{outcome=\"ok\"} %llu\n"
	    "safety_event_reads_total{outcome=\"failed\"} %llu\n"
	    "# HELP safety_event_resets_total Streams told to reload: too many changes at once.\n"
	    "# TYPE safety_event_resets_total counter\nsafety_event_resets_total %llu\n"
	    "# HELP safety_event_streams_revoked_total Streams ended because their session or "
	    "key was revoked, expired or disabled, or its role or mission changed.\n"
	    "# TYPE safety_event_streams_revoked_total counter\n"
	    "safety_event_streams_revoked_total %llu\n"
	    "# HELP safety_listen_up 1 while the LISTEN connection for change notifications is "
	    "up.\n"
	    "# TYPE safety_listen_up gauge\nsafety_listen_up %d\n",
	    hub->nclients, hub->sent, hub->dropped, hub->reads, hub->read_failures, hub->resets,
	    hub->revoked, pg_listen_ok(hub->listen) ? 1 : 0);
}

/* What the route learnt before the crisis check came back. */
struct events_open {
	struct http_ctx *ctx;
	long long crisis_id;
	unsigned long long resume;
	bool has_resume;
};

/* The crisis is visible to the caller (or not): open the stream. */
static void
events_open_done(const struct db_result *r, void *arg)
{
	struct events_open *o = arg;
	struct http_ctx *ctx = o->ctx;
	struct daemon *d = ctx->d;
	struct events_hub *hub = d->events;
	struct events_stream *s;
	struct events_client *c;
	struct evhttp_connection *conn = evhttp_request_get_connection(ctx->req);
	char scope[24];
	const char *narrow = auth_scope_param(ctx, scope);
	long long mission_id = narrow != NULL ? atoll(narrow) : 0;
	long long crisis_id = o->crisis_id;
	bool has_resume = o->has_resume;
	unsigned long long resume = o->resume;

	free(o);
	if (hub != NULL)
		hub->opening--;
	if (r->outcome != DB_OK) {
		db_reply_error(ctx, r);
		return;
	}
	if (PQntuples(r->res) == 0) {
		http_reply_problem(ctx, 404, "not found", "no such crisis");
		return;
	}
	if (hub == NULL || hub->stopped || conn == NULL) {
		http_reply_problem(ctx, 503, "shutting down", "this server is stopping; retry");
		return;
	}
	c = xcalloc(1, sizeof *c);
	c->mission_id = mission_id;
	auth_grant_of(&ctx->principal, &c->grant);
	c->joined = ++hub->joins;
	sse_open(&c->sse, ctx);
	s = events_stream_get(hub, crisis_id, true);
	c->stream = s;
	TAILQ_INSERT_TAIL(&s->clients, c, link);
	hub->nclients++;
	if (has_resume) {
		c->state = EC_RESUME;
		c->resume = resume;
		events_schedule(s);
	} else if (s->has_snap) {
		c->state = EC_LIVE;
		if (!events_send_counts(c, s->xmin, true))
			events_client_drop(c);
	} else {
		c->state = EC_NEW;
		events_schedule(s);
	}
}

void
routes_crises_events(struct http_ctx *ctx)
{
	struct daemon *d = ctx->d;
	struct events_open *o;
	char id[24], scope[24], q[32];
	const char *params[2], *cause = NULL;
	const char *last;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	if (evhttp_request_get_command(ctx->req) == EVHTTP_REQ_HEAD) {
		http_reply_bytes(ctx, 200, "text/event-stream; charset=utf-8", "", 0);
		return;
	}
	o = xcalloc(1, sizeof *o);
	o->ctx = ctx;
	o->crisis_id = atoll(id);
	/* Browsers resend the last id as a header; the query form serves polyfills. */
	last = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Last-Event-ID");
	if (last == NULL)
		last = http_query(ctx, "last_event_id", q, sizeof q);
	if (last != NULL) {
		if (!events_parse_id(last, &o->resume)) {
			free(o);
			http_reply_problem(ctx, 400, "bad request",
			                   "Last-Event-ID: an event id this stream sent (digits)");
			return;
		}
		o->has_resume = true;
	}
	if (d->events == NULL || d->events->stopped) {
		free(o);
		http_reply_problem(ctx, 503, "shutting down", "this server is stopping; retry");
		return;
	}
	if (d->events->nclients + d->events->opening >= d->cfg.max_event_streams) {
		free(o);
		http_add_header(ctx, "Retry-After", "5");
		http_reply_problem(ctx, 503, "too many event streams",
		                   "the server has as many live streams open as it allows; retry "
		                   "shortly");
		return;
	}
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	if (db_pool_query(d->db,
	                  "SELECT 1 FROM crisis c WHERE c.id = $2::bigint AND ($1::bigint IS NULL "
	                  "OR EXISTS (SELECT 1 FROM crisis_mission cm WHERE cm.crisis_id = c.id "
	                  "AND cm.mission_id = $1::bigint))",
	                  2, params, events_open_done, o, &cause) != 0) {
		free(o);
		http_add_header(ctx, "Retry-After", "1");
		http_reply_problem(ctx, 503, "database unavailable", cause);
		return;
	}
	d->events->opening++;
}
