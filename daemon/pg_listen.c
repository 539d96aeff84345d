/*
 * The LISTEN connection: PQconnectStart/PQconnectPoll on the loop, one
 * "LISTEN a; LISTEN b" once connected, then read notifications whenever the
 * socket is readable. A lost connection is retried after 0.25 s, doubling
 * up to 5 s, so a restarted PostgreSQL is listened to again within seconds.
 * A connection that stays quiet is asked a trivial query: one that does not
 * answer (the server or the network gone without a word, as in a failover)
 * counts as lost, instead of leaving every dashboard waiting for
 * notifications that cannot come.
 */
#include "pg_listen.h"

#include "log.h"
#include "xmalloc.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_LISTEN_RETRY_MIN_MS 250
#define PG_LISTEN_RETRY_MAX_MS 5000
#define PG_LISTEN_QUIET_MS 15000 /* no word for this long: the connection is asked */
#define PG_LISTEN_PROBE_MS 5000  /* no answer within this: it is lost */

enum pg_listen_state { PGL_WAITING, PGL_CONNECTING, PGL_SETUP, PGL_LISTENING, PGL_PROBING };

struct pg_listen {
	struct event_base *base;
	char *conninfo;
	char *listen_sql;
	pg_listen_notify_cb on_notify;
	pg_listen_state_cb on_state;
	void *arg;
	enum pg_listen_state state;
	PGconn *pg;
	struct event *ev;
	struct event *timer;
	int retry_ms;
	unsigned long long received;
};

static void pg_listen_socket_cb(evutil_socket_t fd, short what, void *arg);
static void pg_listen_start(struct pg_listen *l);

/* Watches the connection's socket for what, with a timeout in ms (0: none). */
static void
pg_listen_watch(struct pg_listen *l, short what, int timeout_ms)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};

	if (l->ev != NULL)
		event_free(l->ev);
	l->ev = event_new(l->base, PQsocket(l->pg), what, pg_listen_socket_cb, l);
	event_add(l->ev, timeout_ms > 0 ? &tv : NULL);
}

/* Drops the connection and schedules the next attempt. */
static void
pg_listen_lost(struct pg_listen *l, const char *why)
{
	struct timeval tv;
	bool was_listening = l->state == PGL_LISTENING;
	char cause[256];

	/* why may be libpq's message, which PQfinish frees. */
	snprintf(cause, sizeof cause, "%s", why);
	if (l->ev != NULL) {
		event_free(l->ev);
		l->ev = NULL;
	}
	if (l->pg != NULL) {
		PQfinish(l->pg);
		l->pg = NULL;
	}
	if (was_listening || l->retry_ms >= PG_LISTEN_RETRY_MAX_MS)
		log_warn("listen_lost", "error", cause);
	l->state = PGL_WAITING;
	tv.tv_sec = l->retry_ms / 1000;
	tv.tv_usec = (l->retry_ms % 1000) * 1000;
	evtimer_add(l->timer, &tv);
	l->retry_ms =
	    l->retry_ms * 2 > PG_LISTEN_RETRY_MAX_MS ? PG_LISTEN_RETRY_MAX_MS : l->retry_ms * 2;
	if (was_listening && l->on_state != NULL)
		l->on_state(false, l->arg);
}

/* Reads input, hands over notifications; false if the connection dropped. */
static bool
pg_listen_read(struct pg_listen *l)
{
	PGnotify *n;

	if (!PQconsumeInput(l->pg)) {
		pg_listen_lost(l, PQerrorMessage(l->pg));
		return false;
	}
	while ((n = PQnotifies(l->pg)) != NULL) {
		l->received++;
		if (l->on_notify != NULL)
			l->on_notify(n->relname, n->extra, l->arg);
		PQfreemem(n);
	}
	return true;
}

/* Collects the LISTEN statements' results. */
static void
pg_listen_setup(struct pg_listen *l)
{
	PGresult *res;
	bool failed = false;

	if (!PQconsumeInput(l->pg)) {
		pg_listen_lost(l, PQerrorMessage(l->pg));
		return;
	}
	while (!PQisBusy(l->pg)) {
		res = PQgetResult(l->pg);
		if (res == NULL) {
			if (failed) {
				pg_listen_lost(l, "LISTEN refused");
				return;
			}
			l->state = PGL_LISTENING;
			l->retry_ms = PG_LISTEN_RETRY_MIN_MS;
			pg_listen_watch(l, EV_READ | EV_PERSIST, PG_LISTEN_QUIET_MS);
			log_info("listening_for_changes");
			if (l->on_state != NULL)
				l->on_state(true, l->arg);
			return;
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			failed = true;
		PQclear(res);
	}
	pg_listen_watch(l, EV_READ, 10000);
}

/* Drives PQconnectPoll. */
static void
pg_listen_connecting(struct pg_listen *l)
{
	switch (PQconnectPoll(l->pg)) {
	case PGRES_POLLING_READING:
		pg_listen_watch(l, EV_READ, 10000);
		return;
	case PGRES_POLLING_WRITING:
		pg_listen_watch(l, EV_WRITE, 10000);
		return;
	case PGRES_POLLING_FAILED:
		pg_listen_lost(l, PQerrorMessage(l->pg));
		return;
	default:
		break;
	}
	if (PQsetnonblocking(l->pg, 1) != 0 || !PQsendQuery(l->pg, l->listen_sql) ||
	    PQflush(l->pg) != 0) {
		pg_listen_lost(l, PQerrorMessage(l->pg));
		return;
	}
	l->state = PGL_SETUP;
	pg_listen_watch(l, EV_READ, 10000);
}

/* Quiet for a while: a trivial query, which a live server answers at once. */
static void
pg_listen_probe(struct pg_listen *l)
{
	if (!PQsendQuery(l->pg, "SELECT 1") || PQflush(l->pg) < 0) {
		pg_listen_lost(l, PQerrorMessage(l->pg));
		return;
	}
	l->state = PGL_PROBING;
	pg_listen_watch(l, EV_READ | EV_PERSIST, PG_LISTEN_PROBE_MS);
}

/* The probe's answer, and any notification with it; back to listening once it is in. */
static void
pg_listen_probed(struct pg_listen *l)
{
	PGresult *res;

	if (!pg_listen_read(l))
		return;
	while (!PQisBusy(l->pg)) {
		res = PQgetResult(l->pg);
		if (res == NULL) {
			l->state = PGL_LISTENING;
			pg_listen_watch(l, EV_READ | EV_PERSIST, PG_LISTEN_QUIET_MS);
			return;
		}
		PQclear(res);
	}
}

/* The socket is ready, or a wait timed out. */
static void
pg_listen_socket_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pg_listen *l = arg;

	(void)fd;
	if ((what & EV_TIMEOUT) && l->state == PGL_LISTENING) {
		pg_listen_probe(l);
		return;
	}
	if (what & EV_TIMEOUT) {
		pg_listen_lost(l, l->state == PGL_PROBING ? "no answer" : "timed out");
		return;
	}
	switch (l->state) {
	case PGL_CONNECTING:
		pg_listen_connecting(l);
		break;
	case PGL_SETUP:
		pg_listen_setup(l);
		break;
	case PGL_LISTENING:
		pg_listen_read(l);
		break;
	case PGL_PROBING:
		pg_listen_probed(l);
		break;
	case PGL_WAITING:
		break;
	}
}

/* Begins a connection attempt. */
static void
pg_listen_start(struct pg_listen *l)
{
	/* Named, so that an operator tells it from the pool in pg_stat_activity. */
	const char *keys[] = {"dbname", "application_name", NULL};
	const char *values[] = {l->conninfo, "safetyd-listen", NULL};

	l->pg = PQconnectStartParams(keys, values, 1);
	if (l->pg == NULL) {
		pg_listen_lost(l, "out of memory");
		return;
	}
	if (PQstatus(l->pg) == CONNECTION_BAD) {
		pg_listen_lost(l, PQerrorMessage(l->pg));
		return;
	}
	l->state = PGL_CONNECTING;
	pg_listen_watch(l, EV_WRITE, 10000);
}

/* The back-off elapsed. */
static void
pg_listen_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pg_listen_start(arg);
}

struct pg_listen *
pg_listen_new(struct event_base *base, const char *conninfo, const char *const *channels,
              int nchannels, pg_listen_notify_cb on_notify, pg_listen_state_cb on_state, void *arg)
{
	struct pg_listen *l = xcalloc(1, sizeof *l);
	size_t len = 1;

	for (int i = 0; i < nchannels; i++)
		len += strlen(channels[i]) + 10;
	l->listen_sql = xcalloc(1, len);
	for (int i = 0; i < nchannels; i++) {
		strcat(l->listen_sql, "LISTEN ");
		strcat(l->listen_sql, channels[i]);
		strcat(l->listen_sql, ";");
	}
	l->base = base;
	l->conninfo = xstrdup(conninfo);
	l->on_notify = on_notify;
	l->on_state = on_state;
	l->arg = arg;
	l->retry_ms = PG_LISTEN_RETRY_MIN_MS;
	l->timer = evtimer_new(base, pg_listen_timer_cb, l);
	pg_listen_start(l);
	return l;
}

void
pg_listen_free(struct pg_listen *l)
{
	if (l == NULL)
		return;
	if (l->ev != NULL)
		event_free(l->ev);
	event_free(l->timer);
	if (l->pg != NULL)
		PQfinish(l->pg);
	free(l->conninfo);
	free(l->listen_sql);
	free(l);
}

bool
pg_listen_ok(const struct pg_listen *l)
{
	return l != NULL && (l->state == PGL_LISTENING || l->state == PGL_PROBING);
}

unsigned long long
pg_listen_received(const struct pg_listen *l)
{
	return l != NULL ? l->received : 0;
}
