/*
 * Live events of a crisis as server-sent events (GET
 * /api/v1/crises/{id}/events): each person whose status changed, with their
 * newest answer, and the counts by status whenever they change. One read of
 * the database per crisis serves every client of this process; a LISTEN
 * connection says when to read, so every process's clients see every
 * answer, whichever process stored it.
 */
#ifndef SAFETY_EVENTS_H
#define SAFETY_EVENTS_H

#include <event2/http.h>
#include <stdbool.h>

struct daemon;
struct evbuffer;
struct http_ctx;

/* Starts the LISTEN connection and the timers. */
void events_start(struct daemon *d);

/* Ends every stream (the shutdown began); new ones are refused. */
void events_stop(struct daemon *d);

/* Frees what is left; after the database pool is gone. */
void events_free(struct daemon *d);

/* A client connection closed: forgets its stream, if it had one. */
void events_connection_closed(struct daemon *d, struct evhttp_connection *conn);

/* Appends the event figures to the /metrics text. */
void events_metrics(const struct daemon *d, struct evbuffer *out);

/* GET /api/v1/crises/{id}/events */
void routes_crises_events(struct http_ctx *ctx);

#endif
