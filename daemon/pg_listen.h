/*
 * One PostgreSQL connection that only LISTENs, outside the query pool, so a
 * notification arrives the moment another transaction commits and is never
 * delayed behind queries. It reconnects by itself with back-off; after each
 * (re)connect the state callback says so, since notifications sent while it
 * was away are lost and whoever relies on them must read what changed.
 */
#ifndef SAFETY_PG_LISTEN_H
#define SAFETY_PG_LISTEN_H

#include <event2/event.h>
#include <stdbool.h>

struct pg_listen;

/* A notification (borrowed strings). */
typedef void (*pg_listen_notify_cb)(const char *channel, const char *payload, void *arg);

/* The connection came up (listening) or went down. */
typedef void (*pg_listen_state_cb)(bool listening, void *arg);

/*
 * Starts connecting and listening on the channels (plain identifiers, copied).
 * Free with pg_listen_free.
 */
struct pg_listen *pg_listen_new(struct event_base *base, const char *conninfo,
                                const char *const *channels, int nchannels,
                                pg_listen_notify_cb on_notify, pg_listen_state_cb on_state,
                                void *arg);

/* Closes the connection. NULL is a no-op. */
void pg_listen_free(struct pg_listen *l);

/* True while LISTEN is in effect. */
bool pg_listen_ok(const struct pg_listen *l);

/* Notifications received since start. */
unsigned long long pg_listen_received(const struct pg_listen *l);

#endif
