/*
 * Server-sent event streams on evhttp. A client that leaves mid-stream makes
 * libevent detach the request from the connection before closing it; the
 * request is then ours to free (evhttp_send_reply_end does). A connection we
 * free takes its request along.
 */
#include "sse.h"

#include "http_server.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>

#define SSE_MAX_BACKLOG (4 << 20) /* bytes queued to one client before it is dropped */
#define SSE_WRITE_TIMEOUT_S 60    /* a client that takes nothing for this long is dropped */
#define SSE_MAX_INPUT                                                                              \
	(16 << 10) /* bytes a client may send on an open stream before it is not read */

void
sse_open(struct sse *s, struct http_ctx *ctx)
{
	struct bufferevent *bev;

	s->conn = evhttp_request_get_connection(ctx->req);
	s->req = http_stream_start(ctx, "text/event-stream; charset=utf-8");
	/* The stream itself is the activity: no read timeout, a write timeout for the stuck. */
	bev = s->conn != NULL ? evhttp_connection_get_bufferevent(s->conn) : NULL;
	if (bev != NULL) {
		struct timeval wt = {SSE_WRITE_TIMEOUT_S, 0};
		bufferevent_set_timeouts(bev, NULL, &wt);
		/*
		 * While a stream is written the connection is still read, only to
		 * see it close, and what arrives is kept: bytes a client keeps
		 * sending would pile up. Past this much, reading stops (a client
		 * that left is then found by the next write).
		 */
		bufferevent_setwatermark(bev, EV_READ, 0, SSE_MAX_INPUT);
	}
	/* Browsers reconnect after this many milliseconds, sending Last-Event-ID. */
	sse_printf(s, "retry: 2000\n\n");
}

bool
sse_send(struct sse *s, struct evbuffer *buf)
{
	struct bufferevent *bev;

	if (evhttp_request_get_connection(s->req) == NULL)
		return false;
	bev = evhttp_connection_get_bufferevent(s->conn);
	/* What is queued, with what comes: a client that does not read is not given more. */
	if (bev != NULL &&
	    evbuffer_get_length(bufferevent_get_output(bev)) + evbuffer_get_length(buf) >
	        SSE_MAX_BACKLOG)
		return false;
	evhttp_send_reply_chunk(s->req, buf);
	return true;
}

bool
sse_printf(struct sse *s, const char *fmt, ...)
{
	struct evbuffer *buf = evbuffer_new();
	va_list ap;
	bool ok;

	va_start(ap, fmt);
	evbuffer_add_vprintf(buf, fmt, ap);
	va_end(ap);
	ok = sse_send(s, buf);
	evbuffer_free(buf);
	return ok;
}

void
sse_end(struct sse *s)
{
	evhttp_send_reply_end(s->req);
	s->req = NULL;
}

void
sse_drop(struct sse *s)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(s->req);

	if (conn != NULL)
		evhttp_connection_free(conn);
	else
		evhttp_send_reply_end(s->req); /* already detached by libevent: this frees it */
	s->req = NULL;
}

void
sse_closed(struct sse *s)
{
	if (evhttp_request_get_connection(s->req) == NULL)
		evhttp_send_reply_end(s->req);
	s->req = NULL;
}
