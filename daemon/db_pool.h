/*
 * An asynchronous pool of PostgreSQL connections on the daemon's libevent
 * loop. Queries go through libpq's non-blocking API; the loop never waits on
 * the database. When the database is down, callers get an error at once (or
 * within the query timeout), never a hang, and the pool reconnects by itself
 * with back-off.
 */
#ifndef SAFETY_DB_POOL_H
#define SAFETY_DB_POOL_H

#include <event2/event.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

struct db_pool;

enum db_outcome {
	DB_OK,          /* the statement ran; rows in res if any */
	DB_SQL_ERROR,   /* the server refused it: sqlstate and error say why */
	DB_UNAVAILABLE, /* no answer: connection lost, timed out, or the pool shut down */
};

struct db_result {
	enum db_outcome outcome;
	PGresult *res;        /* borrowed; valid only during the callback; NULL unless DB_OK */
	const char *sqlstate; /* DB_SQL_ERROR: five characters; else "" */
	const char *error;    /* human-readable cause for logs; "" on DB_OK */
	double elapsed_ms;
};

/* Called exactly once per accepted query. */
typedef void (*db_query_done_cb)(const struct db_result *result, void *arg);

/* Called when a NOTIFY arrives on a listening connection (borrowed strings). */
typedef void (*db_notify_cb)(const char *channel, const char *payload, void *arg);

#define DB_LATENCY_BUCKETS 12
/* Upper bounds in milliseconds of the latency histogram's buckets. */
extern const double db_latency_bounds_ms[DB_LATENCY_BUCKETS];

struct db_pool_stats {
	int size, connected, busy, waiting;
	bool down; /* the last attempt to reach the server failed */
	uint64_t queries_ok, queries_sql_error, queries_unavailable, queries_refused;
	uint64_t connects, disconnects;
	uint64_t latency_bucket[DB_LATENCY_BUCKETS]; /* cumulative counts, as Prometheus wants */
	uint64_t latency_count;
	double latency_sum_ms;
};

struct db_pool_params {
	const char *conninfo;
	int size;
	int max_waiting;
	int query_timeout_ms;
	int reconnect_max_ms;
	const char *application_name;
};

/* Creates a pool and starts connecting. Free with db_pool_free. */
struct db_pool *db_pool_new(struct event_base *base, const struct db_pool_params *params);

/*
 * Closes every connection; queries still waiting or running get
 * DB_UNAVAILABLE callbacks before this returns. NULL is a no-op.
 */
void db_pool_free(struct db_pool *pool);

/*
 * Queues sql with text parameters (copied; NULL entries are SQL NULL). Returns
 * 0 when accepted, and cb will then fire exactly once, never from inside this
 * call. Returns -1 when refused (database down, queue full, pool closing);
 * then cb never fires and *cause (if not NULL) is a static reason.
 */
int db_pool_query(struct db_pool *pool, const char *sql, int nparams, const char *const *params,
                  db_query_done_cb cb, void *arg, const char **cause)
    __attribute__((warn_unused_result));

/*
 * The same for a statement run often with the same text: each connection
 * prepares it once, so later runs skip parsing and planning. For fixed SQL
 * only (a handful of hot statements); dynamic SQL goes through db_pool_query.
 */
int db_pool_query_prepared(struct db_pool *pool, const char *sql, int nparams,
                           const char *const *params, db_query_done_cb cb, void *arg,
                           const char **cause) __attribute__((warn_unused_result));

/* Fills stats with the pool's current figures. */
void db_pool_stats(const struct db_pool *pool, struct db_pool_stats *stats);

/* True when at least one connection is up. */
bool db_pool_connected(const struct db_pool *pool);

#endif
