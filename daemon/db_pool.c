/*
 * The asynchronous PostgreSQL pool. Each connection has one state and waits
 * for one thing at a time; queries wait in a bounded FIFO until a connection
 * is idle. Everything happens on the loop: PQconnectPoll while connecting,
 * PQflush while sending, PQconsumeInput and PQgetResult while reading.
 */
#include "db_pool.h"

#include "log.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Enough for the hot statements; others run unprepared. */
#define DB_PREPARED_MAX 16

const double db_latency_bounds_ms[DB_LATENCY_BUCKETS] = {0.5, 1,   2.5, 5,   10,   25,
                                                         50,  100, 250, 500, 1000, 5000};

enum db_conn_state {
	DB_CONN_DISCONNECTED, /* waiting for the reconnect timer */
	DB_CONN_CONNECTING,   /* PQconnectPoll in progress */
	DB_CONN_SETUP,        /* running the session settings */
	DB_CONN_IDLE,
	DB_CONN_BUSY, /* a query is being sent or read */
};

struct db_query {
	struct db_query *next;
	char *sql;
	int nparams;
	char **params;
	db_query_done_cb cb;
	void *arg;
	bool prepare; /* run as a statement prepared once per connection */
	struct timespec queued_at;
	struct timespec sent_at;
};

struct db_conn {
	struct db_pool *pool;
	int index;
	enum db_conn_state state;
	PGconn *pg;
	struct event *ev;    /* socket readiness, with a timeout for the current wait */
	struct event *timer; /* reconnect back-off */
	int failures;        /* consecutive failed connects, for the back-off */
	struct db_query *query;
	PGresult *result; /* the result kept for the callback */
	bool setup_failed;
	/* Statements prepared on this connection: prepared[i] is named "p<i>". */
	char *prepared[DB_PREPARED_MAX];
	int nprepared;
	bool preparing; /* the current query's PREPARE is under way */
};

struct db_pool {
	struct event_base *base;
	char *conninfo;
	char *application_name;
	int size;
	int max_waiting;
	int query_timeout_ms;
	int reconnect_max_ms;
	struct db_conn *conns;
	struct db_query *head, *tail;
	int waiting;
	bool down;
	bool closing;
	struct event *sweep; /* fails queries that waited too long */
	struct db_pool_stats stats;
};

static void db_conn_event_cb(evutil_socket_t fd, short what, void *arg);
static void db_conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static void db_pool_sweep_cb(evutil_socket_t fd, short what, void *arg);
static void db_conn_start(struct db_conn *c);
static void db_conn_lost(struct db_conn *c, const char *why);
static void db_pool_dispatch(struct db_pool *pool);

/* Returns milliseconds between two times. */
static double
db_elapsed_ms(const struct timespec *from, const struct timespec *to)
{
	return (double)(to->tv_sec - from->tv_sec) * 1e3 +
	       (double)(to->tv_nsec - from->tv_nsec) / 1e6;
}

/* Copies a libpq message onto one line, for the log. */
static char *
db_one_line(const char *msg)
{
	char *s = xstrdup(msg), *out = s;
	bool space = false;

	for (const char *p = msg; *p != '\0'; p++) {
		if (*p == '\n' || *p == '\t' || *p == '\r' || *p == ' ') {
			space = out != s;
			continue;
		}
		if (space)
			*out++ = ' ';
		space = false;
		*out++ = *p;
	}
	*out = '\0';
	return s;
}

/* Routes server notices to the log instead of stderr. */
static void
db_notice_cb(void *arg, const PGresult *res)
{
	char *msg = db_one_line(PQresultErrorMessage(res));
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	(void)arg;
	/* A WARNING says work was skipped (a step of the maintenance run that failed). */
	if (severity != NULL && strcmp(severity, "WARNING") == 0)
		log_warn("db_notice", "message", msg);
	else
		log_info("db_notice", "message", msg);
	free(msg);
}

/* Frees a query and its copied parameters. */
static void
db_query_free(struct db_query *q)
{
	if (q == NULL)
		return;
	for (int i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->sql);
	free(q);
}

/* Records a finished query in the statistics and runs its callback. */
static void
db_query_finish(struct db_pool *pool, struct db_query *q, enum db_outcome outcome, PGresult *res,
                const char *sqlstate, const char *error)
{
	struct db_result r;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	r.outcome = outcome;
	r.res = outcome == DB_OK ? res : NULL;
	r.sqlstate = sqlstate != NULL ? sqlstate : "";
	r.error = error != NULL ? error : "";
	r.elapsed_ms = db_elapsed_ms(&q->queued_at, &now);
	switch (outcome) {
	case DB_OK:
		pool->stats.queries_ok++;
		break;
	case DB_SQL_ERROR:
		pool->stats.queries_sql_error++;
		break;
	case DB_UNAVAILABLE:
		pool->stats.queries_unavailable++;
		break;
	}
	pool->stats.latency_count++;
	pool->stats.latency_sum_ms += r.elapsed_ms;
	for (int i = 0; i < DB_LATENCY_BUCKETS; i++) {
		if (r.elapsed_ms <= db_latency_bounds_ms[i])
			pool->stats.latency_bucket[i]++;
	}
	q->cb(&r, q->arg);
	db_query_free(q);
}

/* A new session knows no prepared statement. */
static void
db_conn_forget_prepared(struct db_conn *c)
{
	for (int i = 0; i < c->nprepared; i++)
		free(c->prepared[i]);
	c->nprepared = 0;
	c->preparing = false;
}

/* Watches the connection's socket for what, with a timeout in ms (0 = none). */
static void
db_conn_watch(struct db_conn *c, short what, int timeout_ms)
{
	struct timeval tv;

	event_del(c->ev);
	event_assign(c->ev, c->pool->base, PQsocket(c->pg), what, db_conn_event_cb, c);
	if (timeout_ms > 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		event_add(c->ev, &tv);
	} else {
		event_add(c->ev, NULL);
	}
}

/* Creates a pool and starts its connections. */
struct db_pool *
db_pool_new(struct event_base *base, const struct db_pool_params *params)
{
	struct db_pool *pool = xcalloc(1, sizeof *pool);
	struct timeval tv = {0, 250000};

	pool->base = base;
	pool->conninfo = xstrdup(params->conninfo);
	pool->application_name =
	    xstrdup(params->application_name != NULL ? params->application_name : "safetyd");
	pool->size = params->size;
	pool->max_waiting = params->max_waiting;
	pool->query_timeout_ms = params->query_timeout_ms;
	pool->reconnect_max_ms = params->reconnect_max_ms;
	pool->conns = xcalloc((size_t)pool->size, sizeof *pool->conns);
	pool->stats.size = pool->size;
	for (int i = 0; i < pool->size; i++) {
		struct db_conn *c = &pool->conns[i];
		c->pool = pool;
		c->index = i;
		c->state = DB_CONN_DISCONNECTED;
		c->ev = event_new(base, -1, 0, db_conn_event_cb, c);
		c->timer = evtimer_new(base, db_conn_timer_cb, c);
		db_conn_start(c);
	}
	pool->sweep = event_new(base, -1, EV_PERSIST, db_pool_sweep_cb, pool);
	event_add(pool->sweep, &tv);
	return pool;
}

/* Fails every waiting query with DB_UNAVAILABLE. */
static void
db_pool_fail_waiting(struct db_pool *pool, const char *why)
{
	struct db_query *q;

	struct db_query *list = pool->head;

	pool->head = pool->tail = NULL;
	pool->waiting = 0;
	while ((q = list) != NULL) {
		list = q->next;
		db_query_finish(pool, q, DB_UNAVAILABLE, NULL, NULL, why);
	}
}

/* Closes every connection and fails what is left. */
void
db_pool_free(struct db_pool *pool)
{
	if (pool == NULL)
		return;
	pool->closing = true;
	for (int i = 0; i < pool->size; i++) {
		struct db_conn *c = &pool->conns[i];
		struct db_query *q = c->query;

		c->query = NULL;
		if (c->result != NULL)
			PQclear(c->result);
		c->result = NULL;
		if (q != NULL)
			db_query_finish(pool, q, DB_UNAVAILABLE, NULL, NULL, "pool closed");
		if (c->pg != NULL)
			PQfinish(c->pg);
		c->pg = NULL;
		db_conn_forget_prepared(c);
		event_free(c->ev);
		event_free(c->timer);
	}
	db_pool_fail_waiting(pool, "pool closed");
	event_free(pool->sweep);
	free(pool->conns);
	free(pool->conninfo);
	free(pool->application_name);
	free(pool);
}

/* Counts connections that can run queries. */
static int
db_pool_count_up(const struct db_pool *pool)
{
	int n = 0;

	for (int i = 0; i < pool->size; i++) {
		if (pool->conns[i].state == DB_CONN_IDLE || pool->conns[i].state == DB_CONN_BUSY)
			n++;
	}
	return n;
}

/* True when at least one connection is up. */
bool
db_pool_connected(const struct db_pool *pool)
{
	return db_pool_count_up(pool) > 0;
}

/* Schedules a reconnect after an exponential, jittered back-off. */
static void
db_conn_schedule(struct db_conn *c)
{
	struct timeval tv;
	long ms = 100;

	for (int i = 0; i < c->failures && ms < c->pool->reconnect_max_ms; i++)
		ms *= 2;
	if (ms > c->pool->reconnect_max_ms)
		ms = c->pool->reconnect_max_ms;
	/* Jitter keeps several daemons from reconnecting in lock-step. */
	ms = ms / 2 + (long)(((unsigned long)rand() % (unsigned long)(ms / 2 + 1)));
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	c->state = DB_CONN_DISCONNECTED;
	evtimer_add(c->timer, &tv);
}

/* Starts a non-blocking connect. */
static void
db_conn_start(struct db_conn *c)
{
	const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
	const char *values[] = {c->pool->conninfo, c->pool->application_name, "10", NULL};

	/* expand_dbname lets the first value be a full connection string or URI. */
	c->pg = PQconnectStartParams(keys, values, 1);
	if (c->pg == NULL || PQstatus(c->pg) == CONNECTION_BAD) {
		char *why = db_one_line(c->pg != NULL ? PQerrorMessage(c->pg) : "out of memory");
		if (c->failures == 0 || c->failures % 10 == 0)
			log_warn("db_connect_failed", "error", why);
		free(why);
		if (c->pg != NULL)
			PQfinish(c->pg);
		c->pg = NULL;
		c->failures++;
		c->pool->down = true;
		db_conn_schedule(c);
		return;
	}
	PQsetNoticeReceiver(c->pg, db_notice_cb, NULL);
	c->state = DB_CONN_CONNECTING;
	/* A freshly started connection must be polled for writing first. */
	db_conn_watch(c, EV_WRITE, 10000);
}

/* The reconnect timer fired. */
static void
db_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;

	(void)fd;
	(void)what;
	db_conn_start(c);
}

/* Drops a connection after an error and schedules a reconnect. */
static void
db_conn_lost(struct db_conn *c, const char *why)
{
	struct db_pool *pool = c->pool;
	struct db_query *q = c->query;
	char *cause = db_one_line(why != NULL ? why : "connection lost");
	bool was_up = c->state == DB_CONN_IDLE || c->state == DB_CONN_BUSY;

	if (!was_up)
		c->failures++;
	else
		pool->stats.disconnects++;
	/* One line per outage, then one per ten attempts, not a flood. */
	if (was_up)
		log_warn("db_connection_lost", "error", cause);
	else if (c->failures == 1 || c->failures % 10 == 0)
		log_warn("db_connect_failed", "error", cause);
	event_del(c->ev);
	if (c->result != NULL)
		PQclear(c->result);
	c->result = NULL;
	PQfinish(c->pg);
	c->pg = NULL;
	c->query = NULL;
	c->state = DB_CONN_DISCONNECTED;
	db_conn_forget_prepared(c);
	if (db_pool_count_up(pool) == 0) {
		pool->down = true;
		db_pool_fail_waiting(pool, "database unavailable");
	}
	db_conn_schedule(c);
	/* The query may or may not have run; the caller decides whether to retry. */
	if (q != NULL)
		db_query_finish(pool, q, DB_UNAVAILABLE, NULL, NULL, cause);
	free(cause);
}

/*
 * Sends the query on a connected, idle connection. A query marked prepare
 * is prepared the first time this connection sees its text (a PREPARE round
 * trip, then db_conn_collect sends it again), and afterwards skips parsing
 * and planning: PostgreSQL settles on a generic plan after five runs.
 */
static void
db_conn_send(struct db_conn *c, struct db_query *q)
{
	int r, slot = -1, ok;
	char name[16];

	c->query = q;
	c->state = DB_CONN_BUSY;
	if (!c->preparing)
		clock_gettime(CLOCK_MONOTONIC, &q->sent_at);
	if (q->prepare) {
		for (int i = 0; i < c->nprepared && slot < 0; i++)
			if (strcmp(c->prepared[i], q->sql) == 0)
				slot = i;
		if (slot < 0 && c->nprepared < DB_PREPARED_MAX && !c->preparing) {
			snprintf(name, sizeof name, "p%d", c->nprepared);
			c->preparing = true;
			if (!PQsendPrepare(c->pg, name, q->sql, q->nparams, NULL)) {
				db_conn_lost(c, PQerrorMessage(c->pg));
				return;
			}
			goto flush;
		}
	}
	if (slot >= 0) {
		snprintf(name, sizeof name, "p%d", slot);
		ok = PQsendQueryPrepared(c->pg, name, q->nparams, (const char *const *)q->params,
		                         NULL, NULL, 0);
	} else {
		ok = PQsendQueryParams(c->pg, q->sql, q->nparams, NULL,
		                       (const char *const *)q->params, NULL, NULL, 0);
	}
	if (!ok) {
		db_conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
flush:
	r = PQflush(c->pg);
	if (r < 0) {
		db_conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	/* The server enforces statement_timeout; this is for a server that vanished. */
	db_conn_watch(c, r == 1 ? EV_WRITE | EV_READ : EV_READ, c->pool->query_timeout_ms + 2000);
}

/* Hands waiting queries to idle connections. */
static void
db_pool_dispatch(struct db_pool *pool)
{
	for (int i = 0; i < pool->size && pool->head != NULL; i++) {
		struct db_conn *c = &pool->conns[i];
		struct db_query *q;

		if (c->state != DB_CONN_IDLE)
			continue;
		q = pool->head;
		pool->head = q->next;
		if (pool->head == NULL)
			pool->tail = NULL;
		pool->waiting--;
		q->next = NULL;
		db_conn_send(c, q);
	}
}

/* Marks a connection ready for queries. */
static void
db_conn_idle(struct db_conn *c)
{
	c->state = DB_CONN_IDLE;
	/* Reading while idle notices a server that went away and NOTIFY messages. */
	db_conn_watch(c, EV_READ | EV_PERSIST, 0);
}

/* Drives PQconnectPoll. */
static void
db_conn_connecting(struct db_conn *c, short what)
{
	PostgresPollingStatusType st;

	if (what & EV_TIMEOUT) {
		db_conn_lost(c, "connect timed out");
		return;
	}
	st = PQconnectPoll(c->pg);
	switch (st) {
	case PGRES_POLLING_READING:
		db_conn_watch(c, EV_READ, 10000);
		return;
	case PGRES_POLLING_WRITING:
		db_conn_watch(c, EV_WRITE, 10000);
		return;
	case PGRES_POLLING_FAILED:
		db_conn_lost(c, PQerrorMessage(c->pg));
		return;
	case PGRES_POLLING_OK:
	case PGRES_POLLING_ACTIVE:
		break;
	}
	if (PQsetnonblocking(c->pg, 1) != 0) {
		db_conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	/* Session settings, then the connection joins the pool. */
	char sql[160];
	snprintf(sql, sizeof sql,
	         "SET statement_timeout = %d; SET lock_timeout = %d; SET TIME ZONE 'UTC'",
	         c->pool->query_timeout_ms, c->pool->query_timeout_ms);
	c->state = DB_CONN_SETUP;
	c->setup_failed = false;
	if (!PQsendQuery(c->pg, sql) || PQflush(c->pg) < 0) {
		db_conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	db_conn_watch(c, EV_READ, 10000);
}

/* Reads what the server sent; returns false if the connection was dropped. */
static bool
db_conn_read(struct db_conn *c)
{
	PGnotify *n;

	if (!PQconsumeInput(c->pg)) {
		db_conn_lost(c, PQerrorMessage(c->pg));
		return false;
	}
	while ((n = PQnotifies(c->pg)) != NULL)
		PQfreemem(n);
	return true;
}

/* Collects results; finishes the query once libpq has no more. */
static void
db_conn_collect(struct db_conn *c)
{
	PGresult *res;

	while (!PQisBusy(c->pg)) {
		res = PQgetResult(c->pg);
		if (res == NULL) {
			struct db_query *q = c->query;
			PGresult *kept = c->result;
			enum db_conn_state was = c->state;

			c->query = NULL;
			c->result = NULL;
			if (was == DB_CONN_SETUP) {
				if (c->setup_failed) {
					PQclear(kept);
					db_conn_lost(c, "session settings refused");
					return;
				}
				PQclear(kept);
				c->failures = 0;
				c->pool->down = false;
				c->pool->stats.connects++;
				log_info("db_connected");
				db_conn_idle(c);
				db_pool_dispatch(c->pool);
				return;
			}
			if (c->preparing) {
				/* The PREPARE answered: run the statement, or report why it failed.
				 */
				bool failed =
				    kept == NULL || PQresultStatus(kept) == PGRES_FATAL_ERROR;
				if (!failed) {
					PQclear(kept);
					c->prepared[c->nprepared++] = xstrdup(q->sql);
					c->preparing = false;
					db_conn_send(c, q);
					return;
				}
				c->preparing = false;
			}
			/*
			 * The connection stays busy during the callback so a query the
			 * callback submits waits its turn instead of re-entering here.
			 */
			if (kept != NULL && PQresultStatus(kept) == PGRES_FATAL_ERROR) {
				const char *state = PQresultErrorField(kept, PG_DIAG_SQLSTATE);
				const char *msg = PQresultErrorField(kept, PG_DIAG_MESSAGE_PRIMARY);
				db_query_finish(c->pool, q, DB_SQL_ERROR, NULL,
				                state ? state : "XX000",
				                msg ? msg : PQresultErrorMessage(kept));
			} else if (kept == NULL) {
				db_query_finish(c->pool, q, DB_SQL_ERROR, NULL, "XX000",
				                "no result");
			} else {
				db_query_finish(c->pool, q, DB_OK, kept, NULL, NULL);
			}
			PQclear(kept);
			if (c->pool->closing)
				return;
			db_conn_idle(c);
			db_pool_dispatch(c->pool);
			return;
		}
		switch (PQresultStatus(res)) {
		case PGRES_FATAL_ERROR:
		case PGRES_BAD_RESPONSE:
		case PGRES_NONFATAL_ERROR:
			if (c->state == DB_CONN_SETUP)
				c->setup_failed = true;
			/* The first error is the one that explains. */
			if (c->result != NULL && PQresultStatus(c->result) == PGRES_FATAL_ERROR) {
				PQclear(res);
				break;
			}
			PQclear(c->result);
			c->result = res;
			break;
		default:
			if (c->result != NULL && PQresultStatus(c->result) == PGRES_FATAL_ERROR) {
				PQclear(res);
				break;
			}
			/* Several statements in one query: the last result is the answer. */
			PQclear(c->result);
			c->result = res;
			break;
		}
	}
}

/* Socket readiness or a timeout on one connection. */
static void
db_conn_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn *c = arg;
	int r;

	(void)fd;
	switch (c->state) {
	case DB_CONN_CONNECTING:
		db_conn_connecting(c, what);
		return;
	case DB_CONN_IDLE:
		if (what & EV_READ) {
			if (!db_conn_read(c))
				return;
			if (PQstatus(c->pg) == CONNECTION_BAD) {
				db_conn_lost(c, "connection closed by server");
				return;
			}
		}
		db_pool_dispatch(c->pool);
		return;
	case DB_CONN_SETUP:
	case DB_CONN_BUSY:
		if (what & EV_TIMEOUT) {
			db_conn_lost(c, "no answer from the database within the query timeout");
			return;
		}
		if (what & EV_WRITE) {
			r = PQflush(c->pg);
			if (r < 0) {
				db_conn_lost(c, PQerrorMessage(c->pg));
				return;
			}
			if (r == 1) {
				db_conn_watch(c, EV_WRITE | EV_READ,
				              c->pool->query_timeout_ms + 2000);
				return;
			}
		}
		if (what & EV_READ) {
			if (!db_conn_read(c))
				return;
		}
		db_conn_collect(c);
		if (c->state == DB_CONN_BUSY || c->state == DB_CONN_SETUP) {
			if (c->pg != NULL && (event_pending(c->ev, EV_READ | EV_WRITE, NULL) == 0))
				db_conn_watch(c, EV_READ, c->pool->query_timeout_ms + 2000);
		}
		return;
	case DB_CONN_DISCONNECTED:
		return;
	}
}

/* Fails queries that have waited longer than the query timeout. */
static void
db_pool_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_pool *pool = arg;
	struct timespec now;
	struct db_query **pp, *q, *expired = NULL, **expired_tail = &expired;

	(void)fd;
	(void)what;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pp = &pool->head;
	pool->tail = NULL;
	while ((q = *pp) != NULL) {
		if (db_elapsed_ms(&q->queued_at, &now) > pool->query_timeout_ms) {
			*pp = q->next;
			pool->waiting--;
			q->next = NULL;
			*expired_tail = q;
			expired_tail = &q->next;
			continue;
		}
		pool->tail = q;
		pp = &q->next;
	}
	/* Callbacks run after the queue is consistent: they may queue again. */
	while ((q = expired) != NULL) {
		expired = q->next;
		db_query_finish(pool, q, DB_UNAVAILABLE, NULL, NULL,
		                "timed out waiting for a database connection");
	}
}

/* Accepts a query, or refuses it when it cannot be served. */
static int
db_pool_enqueue(struct db_pool *pool, const char *sql, bool prepare, int nparams,
                const char *const *params, db_query_done_cb cb, void *arg, const char **cause)
{
	struct db_query *q;
	const char *dummy;

	if (cause == NULL)
		cause = &dummy;
	if (pool->closing) {
		*cause = "database pool is closing";
		pool->stats.queries_refused++;
		return -1;
	}
	if (pool->down && db_pool_count_up(pool) == 0) {
		*cause = "database unavailable";
		pool->stats.queries_refused++;
		return -1;
	}
	if (pool->waiting >= pool->max_waiting) {
		*cause = "too many queries waiting for the database";
		pool->stats.queries_refused++;
		return -1;
	}
	q = xcalloc(1, sizeof *q);
	q->sql = xstrdup(sql);
	q->nparams = nparams;
	q->params = xcalloc((size_t)(nparams > 0 ? nparams : 1), sizeof *q->params);
	for (int i = 0; i < nparams; i++)
		q->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
	q->cb = cb;
	q->arg = arg;
	q->prepare = prepare;
	clock_gettime(CLOCK_MONOTONIC, &q->queued_at);
	if (pool->tail != NULL)
		pool->tail->next = q;
	else
		pool->head = q;
	pool->tail = q;
	pool->waiting++;
	/*
	 * Dispatch on the next loop turn, never inside the caller's frame, so the
	 * callback cannot fire before db_pool_query returns.
	 */
	for (int i = 0; i < pool->size; i++) {
		struct db_conn *c = &pool->conns[i];
		if (c->state == DB_CONN_IDLE) {
			event_active(c->ev, EV_WRITE, 0);
			break;
		}
	}
	return 0;
}

int
db_pool_query(struct db_pool *pool, const char *sql, int nparams, const char *const *params,
              db_query_done_cb cb, void *arg, const char **cause)
{
	return db_pool_enqueue(pool, sql, false, nparams, params, cb, arg, cause);
}

int
db_pool_query_prepared(struct db_pool *pool, const char *sql, int nparams,
                       const char *const *params, db_query_done_cb cb, void *arg,
                       const char **cause)
{
	return db_pool_enqueue(pool, sql, true, nparams, params, cb, arg, cause);
}

/* Reports the pool's figures. */
void
db_pool_stats(const struct db_pool *pool, struct db_pool_stats *stats)
{
	*stats = pool->stats;
	stats->size = pool->size;
	stats->connected = 0;
	stats->busy = 0;
	for (int i = 0; i < pool->size; i++) {
		if (pool->conns[i].state == DB_CONN_IDLE)
			stats->connected++;
		if (pool->conns[i].state == DB_CONN_BUSY) {
			stats->connected++;
			stats->busy++;
		}
	}
	stats->waiting = pool->waiting;
	stats->down = pool->down && stats->connected == 0;
}
