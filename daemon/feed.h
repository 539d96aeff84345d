/*
 * Headquarters' read-only feed (/feed/v1/...): the status document with
 * ETags, served from memory while nothing changed; an event stream of
 * aggregate changes, at most one event per crisis per second; the Atom feed
 * of crisis events and each crisis as a CAP 1.2 alert. Every figure comes
 * from the incremental counts, never from a scan of the answers.
 */
#ifndef SAFETY_FEED_H
#define SAFETY_FEED_H

#include <event2/http.h>
#include <stdbool.h>

struct daemon;
struct evbuffer;
struct http_ctx;

void feed_start(struct daemon *d);
void feed_stop(struct daemon *d);
void feed_free(struct daemon *d);

/* A change notification (safety_status or safety_feed, payload: a crisis id). */
void feed_notified(struct daemon *d, const char *channel, const char *payload);

/* The LISTEN connection came up or went down: what is cached can no longer be trusted. */
void feed_listen_state(struct daemon *d, bool listening);

/* A client connection closed: forgets its stream, if it had one. */
void feed_connection_closed(struct daemon *d, struct evhttp_connection *conn);

/* Appends the feed's figures to /metrics. */
void feed_metrics(const struct daemon *d, struct evbuffer *out);

void routes_feed_status_json(struct http_ctx *ctx);
void routes_feed_stream(struct http_ctx *ctx);
void routes_feed_atom(struct http_ctx *ctx);
void routes_feed_cap(struct http_ctx *ctx);

#endif
