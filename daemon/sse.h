/*
 * One server-sent event stream to one client: started from a request, fed
 * with chunks, ended cleanly by us, dropped when the client falls behind, or
 * forgotten when the client leaves. Shared by the crisis event streams and
 * HQ's feed stream.
 */
#ifndef SAFETY_SSE_H
#define SAFETY_SSE_H

#include <event2/http.h>
#include <stdbool.h>

struct evbuffer;
struct http_ctx;

struct sse {
	struct evhttp_request *req;
	struct evhttp_connection *conn;
};

/*
 * Answers ctx with 200 text/event-stream (ctx is freed), lifts the read
 * timeout (the client sends nothing more) and sends the reconnect delay.
 */
void sse_open(struct sse *s, struct http_ctx *ctx);

/* Sends buf's contents (drained); false when the client is gone or too far behind. */
bool sse_send(struct sse *s, struct evbuffer *buf);

/* Sends a formatted event; false as sse_send. */
bool sse_printf(struct sse *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Ends the stream with its last chunk (a shutdown). */
void sse_end(struct sse *s);

/* Closes the client's connection from our side (it fell behind or went away). */
void sse_drop(struct sse *s);

/* The client's connection closed: releases the request if libevent left it to us. */
void sse_closed(struct sse *s);

#endif
