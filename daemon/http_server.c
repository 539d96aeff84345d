/*
 * Dispatches requests to the routes the daemon declares, and sends every
 * answer. A request context lives from dispatch until its one reply; handlers
 * that wait on the database keep it and answer from their callback. Client
 * connections are tracked from accept, so the cap, the deadline of a request
 * and its body limit hold before evhttp has a whole request to hand over.
 */
#include "http_server.h"

#include "daemon.h"
#include "events.h"
#include "feed.h"
#include "log.h"
#include "routes.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <safety/error.h>
#include <safety/import.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <safety/limiter.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

static void http_server_request_cb(struct evhttp_request *req, void *arg);
static void http_server_request_tls_cb(struct evhttp_request *req, void *arg);
static void http_log_answer(struct http_ctx *ctx, int status);

/* Where a client connection is between two requests. */
enum http_conn_state {
	HTTP_CONN_ACCEPTED,  /* evhttp is still setting it up */
	HTTP_CONN_IDLE,      /* no byte of a new request yet */
	HTTP_CONN_RECEIVING, /* a request is arriving and its deadline runs */
	HTTP_CONN_HANDLING,  /* a request is being handled: the next one waits, untimed */
	HTTP_CONN_CLOSING,   /* queued to be closed */
};

/*
 * One client connection, from accept until evhttp closes it. It is counted
 * when accepted, not when its first request is whole: a client that trickles
 * bytes holds a descriptor all the same.
 */
struct http_conn {
	struct http_conn_set *set;
	struct bufferevent *bev;         /* evhttp's; one reference of ours until attached */
	struct evhttp_connection *evcon; /* NULL until attached */
	struct evbuffer_cb_entry *watch; /* sees every byte that arrives */
	struct event *deadline;          /* request_timeout from a request's first byte */
	enum http_conn_state state;
	bool refused; /* over max_connections (or TLS failed): closed at once */
	bool tls;
	bool line_seen; /* the arriving request's first line set its body limit */
	bool queued;
	bool hashed;
	TAILQ_ENTRY(http_conn) entry; /* every connection */
	TAILQ_ENTRY(http_conn) work;  /* waiting to be attached or closed */
};

/*
 * The server's connections: all of them in a list, the attached ones also in
 * an open-addressing table by evhttp_connection so a request finds its own.
 */
struct http_conn_set {
	struct daemon *d;
	struct http_conn **slots;
	size_t cap;   /* power of two, at least twice the connection limit */
	size_t count; /* admitted connections, refused ones not included */
	TAILQ_HEAD(, http_conn) all;
	TAILQ_HEAD(, http_conn) queue;
	struct event *work;   /* attaches and closes queued connections, after the callback */
	struct event *resume; /* re-enables listeners paused by an accept error */
};

/* The policy every answer carries; the refusal sent at accept carries it too. */
#define HTTP_CSP                                                                                   \
	"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "          \
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

/* Where evcon's entry would be if nothing were in the way. */
static size_t
http_conn_home(const struct http_conn_set *set, const struct evhttp_connection *evcon)
{
	return (size_t)((((uintptr_t)evcon >> 4) * 0x9E3779B97F4A7C15ull) & (set->cap - 1));
}

/* The slot of evcon, or of the empty place where it would go. */
static size_t
http_conn_slot(const struct http_conn_set *set, const struct evhttp_connection *evcon)
{
	size_t i = http_conn_home(set, evcon);

	while (set->slots[i] != NULL && set->slots[i]->evcon != evcon)
		i = (i + 1) & (set->cap - 1);
	return i;
}

/* The tracked connection of evcon, or NULL. */
static struct http_conn *
http_conn_find(const struct http_conn_set *set, const struct evhttp_connection *evcon)
{
	return evcon != NULL ? set->slots[http_conn_slot(set, evcon)] : NULL;
}

/* Removes c from the table, shifting later entries back so lookups stay correct. */
static void
http_conn_unhash(struct http_conn_set *set, struct http_conn *c)
{
	size_t i = http_conn_slot(set, c->evcon), j, k;

	if (set->slots[i] != c)
		return;
	set->slots[i] = NULL;
	for (j = (i + 1) & (set->cap - 1); set->slots[j] != NULL; j = (j + 1) & (set->cap - 1)) {
		k = http_conn_home(set, set->slots[j]->evcon);
		/* Move the entry at j into the hole at i if its home is not between i and j. */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			set->slots[i] = set->slots[j];
			set->slots[j] = NULL;
			i = j;
		}
	}
}

/* Queues c for the work event, which runs once the current callback returns. */
static void
http_conn_queue(struct http_conn *c)
{
	if (c->queued)
		return;
	c->queued = true;
	TAILQ_INSERT_TAIL(&c->set->queue, c, work);
	event_active(c->set->work, EV_TIMEOUT, 0);
}

/* Forgets c and frees it; its bufferevent is evhttp's. */
static void
http_conn_forget(struct http_conn *c)
{
	struct http_conn_set *set = c->set;

	if (c->watch != NULL)
		evbuffer_remove_cb_entry(bufferevent_get_input(c->bev), c->watch);
	if (c->hashed)
		http_conn_unhash(set, c);
	if (c->queued)
		TAILQ_REMOVE(&set->queue, c, work);
	if (!c->refused)
		set->count--;
	TAILQ_REMOVE(&set->all, c, entry);
	if (c->deadline != NULL)
		event_free(c->deadline);
	free(c);
}

/* Evhttp closes a connection. */
static void
http_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct http_conn *c = arg;
	struct daemon *d = c->set->d;

	http_conn_forget(c);
	events_connection_closed(d, evcon);
	feed_connection_closed(d, evcon);
}

/* The method a request line starts with; 0 when it is none this server serves. */
static enum evhttp_cmd_type
http_method_parse(const char *word, size_t len)
{
	static const struct {
		const char *name;
		enum evhttp_cmd_type method;
	} methods[] = {
	    {"GET", EVHTTP_REQ_GET},         {"POST", EVHTTP_REQ_POST},
	    {"PUT", EVHTTP_REQ_PUT},         {"PATCH", EVHTTP_REQ_PATCH},
	    {"DELETE", EVHTTP_REQ_DELETE},   {"HEAD", EVHTTP_REQ_HEAD},
	    {"OPTIONS", EVHTTP_REQ_OPTIONS},
	};

	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strlen(methods[i].name) == len && memcmp(methods[i].name, word, len) == 0)
			return methods[i].method;
	return 0;
}

static bool http_match(const char *pattern, const char *path, struct http_ctx *ctx);

/* The route a method and a decoded path go to, or NULL. */
static const struct http_route *
http_route_find(enum evhttp_cmd_type method, const char *path)
{
	for (const struct http_route *r = routes_table; r->name != NULL; r++)
		if ((r->method == method ||
		     (method == EVHTTP_REQ_HEAD && r->method == EVHTTP_REQ_GET)) &&
		    http_match(r->pattern, path, NULL))
			return r;
	return NULL;
}

/*
 * The largest body the request of this first line may send: max_body_bytes
 * for routes that need a login (imports), max_public_body_bytes for those
 * anyone may call and for anything not understood.
 */
static size_t
http_body_limit(const struct config *cfg, const char *line)
{
	size_t small =
	    (size_t)(cfg->max_public_body_bytes < cfg->max_body_bytes ? cfg->max_public_body_bytes
	                                                              : cfg->max_body_bytes);
	const char *sp = strchr(line, ' '), *target_end;
	const struct http_route *route = NULL;
	enum evhttp_cmd_type method;

	if (sp == NULL || (method = http_method_parse(line, (size_t)(sp - line))) == 0)
		return small;
	target_end = strchr(sp + 1, ' ');
	if (target_end == NULL)
		return small;
	/* Read as evhttp reads it, so the route is the one the request will reach. */
	char *target = xstrndup(sp + 1, (size_t)(target_end - sp - 1));
	struct evhttp_uri *uri = evhttp_uri_parse_with_flags(target, EVHTTP_URI_NONCONFORMANT);
	const char *raw_path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (raw_path != NULL && *raw_path == '/') {
		size_t len = 0;
		char *path = evhttp_uridecode(raw_path, 0, &len);
		if (path != NULL && len == strlen(path))
			route = http_route_find(method, path);
		free(path);
	}
	if (uri != NULL)
		evhttp_uri_free(uri);
	free(target);
	return route != NULL && !(route->flags & HTTP_ROUTE_PUBLIC) ? (size_t)cfg->max_body_bytes
	                                                            : small;
}

/*
 * Sets the body limit from the request's first line as soon as the line is
 * in, before evhttp parses it and long before the body: evhttp holds the
 * connection's limit against Content-Length, and against chunks as they come.
 */
static void
http_conn_peek(struct http_conn *c, struct evbuffer *in)
{
	char line[2048];
	size_t eol_len, n;
	struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_LF);

	if (eol.pos < 0 && evbuffer_get_length(in) < sizeof line)
		return; /* the rest of the line is still to come */
	n = eol.pos >= 0 && (size_t)eol.pos < sizeof line ? (size_t)eol.pos : sizeof line - 1;
	evbuffer_copyout(in, line, n);
	line[n] = '\0';
	c->line_seen = true;
	evhttp_connection_set_max_body_size(c->evcon,
	                                    (ev_ssize_t)http_body_limit(&c->set->d->cfg, line));
}

/* The first byte of a request is in: the request has request_timeout to arrive whole. */
static void
http_conn_request_begins(struct http_conn *c)
{
	struct timeval tv = {c->set->d->cfg.request_timeout_s, 0};

	c->state = HTTP_CONN_RECEIVING;
	c->line_seen = false;
	evtimer_add(c->deadline, &tv);
	http_conn_peek(c, bufferevent_get_input(c->bev));
}

/* Bytes arrived on a connection (or evhttp consumed some: ignored). */
static void
http_conn_input_cb(struct evbuffer *in, const struct evbuffer_cb_info *info, void *arg)
{
	struct http_conn *c = arg;

	if (info->n_added == 0)
		return;
	if (c->state == HTTP_CONN_IDLE)
		http_conn_request_begins(c);
	else if (c->state == HTTP_CONN_RECEIVING && !c->line_seen)
		http_conn_peek(c, in);
}

/* A request did not arrive whole in time. */
static void
http_conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn *c = arg;

	(void)fd;
	(void)what;
	if (c->state != HTTP_CONN_RECEIVING)
		return;
	log_debug("request_timeout", "detail", "a request did not arrive whole in time");
	c->state = HTTP_CONN_CLOSING;
	http_conn_queue(c);
}

/*
 * A request is whole and about to be handled: its deadline stops. Bytes
 * already behind it are the next request's, which evhttp reads only once
 * this one is answered: its time starts then (http_conn_answered), so a
 * slow handler never has the connection closed under it.
 */
static void
http_conn_request_arrived(struct daemon *d, struct evhttp_connection *evcon)
{
	struct http_conn *c = http_conn_find(d->conns, evcon);

	if (c == NULL || c->state != HTTP_CONN_RECEIVING)
		return;
	evtimer_del(c->deadline);
	c->state = HTTP_CONN_HANDLING;
}

/* The request being handled is answered: a request already behind it starts its time. */
static void
http_conn_answered(struct daemon *d, struct evhttp_connection *evcon)
{
	struct http_conn *c = evcon != NULL ? http_conn_find(d->conns, evcon) : NULL;

	if (c == NULL || c->state != HTTP_CONN_HANDLING)
		return;
	c->state = HTTP_CONN_IDLE;
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		http_conn_request_begins(c);
}

/*
 * Closes c through evhttp's own error path, as if the client had timed out:
 * a request being handled is detached and its answer dropped, never freed
 * under its handler.
 */
static void
http_conn_close(struct http_conn *c)
{
	bufferevent_trigger_event(c->bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
}

/*
 * Answers a connection over the limit without reading its request, then
 * closes it. Plain HTTP only, best effort: the socket is new, so its send
 * buffer takes the whole answer.
 */
static void
http_conn_refuse(struct http_conn *c)
{
	static const char body[] = "{\"type\":\"about:blank\",\"title\":\"too many connections\","
	                           "\"status\":503,\"detail\":\"the server has too many open "
	                           "connections; retry shortly\"}";
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	char answer[1024], sink[4096];
	int n;

	if (!c->tls && fd >= 0) {
		n = snprintf(answer, sizeof answer,
		             "HTTP/1.1 503 Service Unavailable\r\n"
		             "Content-Type: application/problem+json\r\n"
		             "Retry-After: 1\r\nConnection: close\r\n"
		             "X-Content-Type-Options: nosniff\r\nReferrer-Policy: no-referrer\r\n"
		             "X-Frame-Options: DENY\r\nContent-Security-Policy: %s\r\n"
		             "Cache-Control: no-store\r\nContent-Length: %zu\r\n\r\n%s",
		             HTTP_CSP, sizeof body - 1, body);
		if (n > 0 && (size_t)n < sizeof answer)
			(void)send(fd, answer, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
		/* What the client already sent, read now, lets the close be a FIN, not a reset. */
		for (int i = 0; i < 4 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
			;
	}
	http_conn_close(c);
}

/*
 * Evhttp has set the connection up. It passes its evhttp_connection as the
 * bufferevent's callback argument: the only way to reach it before a request
 * arrives. A connection it gave up on meanwhile has no callbacks left.
 */
static void
http_conn_attach(struct http_conn *c)
{
	struct bufferevent *bev = c->bev;
	bufferevent_event_cb eventcb = NULL;
	void *evcon = NULL;

	bufferevent_getcb(bev, NULL, NULL, &eventcb, &evcon);
	if (eventcb == NULL || evcon == NULL || evhttp_connection_get_bufferevent(evcon) != bev) {
		http_conn_forget(c);
		bufferevent_decref(bev);
		return;
	}
	c->evcon = evcon;
	evhttp_connection_set_closecb(c->evcon, http_conn_closed, c);
	if (c->refused) {
		c->state = HTTP_CONN_CLOSING;
		http_conn_refuse(c);
	} else {
		c->state = HTTP_CONN_IDLE;
		c->set->slots[http_conn_slot(c->set, c->evcon)] = c;
		c->hashed = true;
		if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
			http_conn_request_begins(c);
	}
	bufferevent_decref(bev);
}

/* Attaches and closes the queued connections. */
static void
http_conn_work_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_conn_set *set = arg;
	struct http_conn *c;

	(void)fd;
	(void)what;
	while ((c = TAILQ_FIRST(&set->queue)) != NULL) {
		TAILQ_REMOVE(&set->queue, c, work);
		c->queued = false;
		if (c->state == HTTP_CONN_ACCEPTED)
			http_conn_attach(c);
		else if (c->state == HTTP_CONN_CLOSING)
			http_conn_close(c);
	}
}

/*
 * A connection was accepted: counts it and gives evhttp the bufferevent to
 * serve it with. One over max_connections gets a plain socket it is refused
 * on as soon as evhttp has set it up.
 */
static struct bufferevent *
http_conn_accepted(struct http_conn_set *set, struct event_base *base, bool tls)
{
	struct daemon *d = set->d;
	struct http_conn *c = xcalloc(1, sizeof *c);

	c->set = set;
	c->tls = tls;
	c->refused = set->count >= (size_t)d->cfg.max_connections;
	if (c->refused)
		d->metrics.connections_refused++;
	else if (tls && (c->bev = tls_server_bevcb(base, d->tls)) == NULL)
		c->refused = true; /* TLS could not be set up: closed all the same */
	if (c->bev == NULL)
		c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		free(c);
		return NULL;
	}
	if (!c->refused) {
		set->count++;
		c->deadline = evtimer_new(base, http_conn_deadline_cb, c);
		c->watch = evbuffer_add_cb(bufferevent_get_input(c->bev), http_conn_input_cb, c);
	}
	/* Held until attached, so one evhttp drops meanwhile is not freed under us. */
	bufferevent_incref(c->bev);
	c->state = HTTP_CONN_ACCEPTED;
	TAILQ_INSERT_TAIL(&set->all, c, entry);
	http_conn_queue(c);
	return c->bev;
}

/* A connection on the plain listener. */
static struct bufferevent *
http_conn_bevcb(struct event_base *base, void *arg)
{
	return http_conn_accepted(arg, base, false);
}

/* A connection on the TLS listener. */
static struct bufferevent *
http_conn_bevcb_tls(struct event_base *base, void *arg)
{
	return http_conn_accepted(arg, base, true);
}

/*
 * accept() failed for more than a retry: out of descriptors (EMFILE,
 * ENFILE) or memory. The listening socket stays readable, so retrying at
 * once would spin; the listener pauses until the resume timer, and says so
 * once per pause.
 */
static void
http_listener_error_cb(struct evconnlistener *lev, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();

	(void)arg;
	evconnlistener_disable(lev);
	log_warn("accept_paused", "error", evutil_socket_error_to_string(err), "detail",
	         "not accepting new connections for a second");
}

/* Lets paused listeners accept again. */
static void
http_listener_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	if (d->listener != NULL)
		evconnlistener_enable(evhttp_bound_socket_get_listener(d->listener));
	if (d->tls_listener != NULL)
		evconnlistener_enable(evhttp_bound_socket_get_listener(d->tls_listener));
}

/* Frees the connection tracking, after evhttp_free closed the connections. */
void
http_server_free(struct daemon *d)
{
	struct http_conn_set *set = d->conns;
	struct http_conn *c;

	if (set == NULL)
		return;
	while ((c = TAILQ_FIRST(&set->all)) != NULL) {
		struct bufferevent *held = c->state == HTTP_CONN_ACCEPTED ? c->bev : NULL;
		if (held == NULL)
			c->watch = NULL; /* gone with its connection */
		http_conn_forget(c);
		if (held != NULL)
			bufferevent_decref(held);
	}
	if (set->work != NULL)
		event_free(set->work);
	if (set->resume != NULL)
		event_free(set->resume);
	free(set->slots);
	free(set);
	d->conns = NULL;
}

/* The answer has been written to the client. */
static void
http_request_complete_cb(struct evhttp_request *req, void *arg)
{
	(void)req;
	daemon_request_done(arg);
}

/* Frees a request context. */
static void
http_ctx_free(struct http_ctx *ctx)
{
	free(ctx->path);
	for (int i = 0; i < ctx->nparams; i++)
		free(ctx->params[i]);
	free(ctx);
}

/* Applies the limits every listener shares. */
static void
http_server_configure(struct daemon *d, struct evhttp *http)
{
	evhttp_set_max_headers_size(http, (ev_ssize_t)d->cfg.max_header_bytes);
	/* The public limit until a request's first line says it may send more. */
	evhttp_set_max_body_size(http,
	                         (ev_ssize_t)(d->cfg.max_public_body_bytes < d->cfg.max_body_bytes
	                                          ? d->cfg.max_public_body_bytes
	                                          : d->cfg.max_body_bytes));
	evhttp_set_timeout(http, d->cfg.timeout_s);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
	                                     EVHTTP_REQ_PATCH | EVHTTP_REQ_DELETE |
	                                     EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_default_content_type(http, "text/plain; charset=utf-8");
}

/* Binds http to a host:port string. */
static struct evhttp_bound_socket *
http_server_bind(struct evhttp *http, const char *listen, char **cause)
{
	struct evhttp_bound_socket *s;
	char *host = NULL;
	int port;

	if (!config_split_hostport(listen, &host, &port, cause))
		return NULL;
	s = evhttp_bind_socket_with_handle(http, host, (ev_uint16_t)port);
	free(host);
	if (s == NULL)
		xasprintf(cause, "cannot listen on %s: address in use or not available", listen);
	else
		evconnlistener_set_error_cb(evhttp_bound_socket_get_listener(s),
		                            http_listener_error_cb);
	return s;
}

/*
 * Warns when max_connections cannot fit under the descriptor limit: past it
 * accept() fails, and new clients wait for the listener to resume.
 */
static void
http_server_check_fd_limit(const struct config *cfg)
{
	struct rlimit rl;
	char want[24], have[24];

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	/* Room for the database pool, the gateways, files and the listeners. */
	if ((rlim_t)cfg->max_connections + (rlim_t)cfg->pool_size + 64 <= rl.rlim_cur)
		return;
	snprintf(want, sizeof want, "%d", cfg->max_connections);
	snprintf(have, sizeof have, "%llu", (unsigned long long)rl.rlim_cur);
	log_warn("fd_limit", "max_connections", want, "nofile", have, "detail",
	         "the open-file limit is below max_connections plus the daemon's own; raise "
	         "LimitNOFILE (ulimit -n) or lower max_connections");
}

/* Creates the servers and binds them. */
bool
http_server_start(struct daemon *d, char **cause)
{
	struct http_conn_set *set = xcalloc(1, sizeof *set);
	struct timeval second = {1, 0};

	d->conns = set;
	set->d = d;
	set->cap = 16;
	while (set->cap < 2 * (size_t)d->cfg.max_connections)
		set->cap *= 2;
	set->slots = xcalloc(set->cap, sizeof *set->slots);
	TAILQ_INIT(&set->all);
	TAILQ_INIT(&set->queue);
	set->work = event_new(d->base, -1, 0, http_conn_work_cb, set);
	set->resume = event_new(d->base, -1, EV_PERSIST, http_listener_resume_cb, d);
	evtimer_add(set->resume, &second);
	http_server_check_fd_limit(&d->cfg);
	d->http = evhttp_new(d->base);
	http_server_configure(d, d->http);
	evhttp_set_bevcb(d->http, http_conn_bevcb, set);
	evhttp_set_gencb(d->http, http_server_request_cb, d);
	d->listener = http_server_bind(d->http, d->cfg.listen, cause);
	if (d->listener == NULL)
		return false;
	if (*d->cfg.tls_listen == '\0')
		return true;
	d->tls = tls_server_new(d->cfg.tls_cert, d->cfg.tls_key, cause);
	if (d->tls == NULL)
		return false;
	d->https = evhttp_new(d->base);
	http_server_configure(d, d->https);
	evhttp_set_bevcb(d->https, http_conn_bevcb_tls, set);
	evhttp_set_gencb(d->https, http_server_request_tls_cb, d);
	d->tls_listener = http_server_bind(d->https, d->cfg.tls_listen, cause);
	return d->tls_listener != NULL;
}

/* Closes the listening socket. */
void
http_server_stop_accepting(struct daemon *d)
{
	if (d->conns != NULL)
		evtimer_del(d->conns->resume);
	if (d->listener != NULL) {
		evhttp_del_accept_socket(d->http, d->listener);
		d->listener = NULL;
	}
	if (d->tls_listener != NULL) {
		evhttp_del_accept_socket(d->https, d->tls_listener);
		d->tls_listener = NULL;
	}
}

/* The name of a request method, for the log. */
static const char *
http_method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "OTHER";
	}
}

/* Adds the headers every answer carries. */
static void
http_add_security_headers(struct evkeyvalq *h)
{
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Content-Security-Policy", HTTP_CSP);
	evhttp_add_header(h, "Cache-Control", "no-store");
}

/* Checks the route table's declarations. */
bool
http_routes_check(char **cause)
{
	for (const struct http_route *r = routes_table; r->name != NULL; r++) {
		bool is_public = (r->flags & HTTP_ROUTE_PUBLIC) != 0;
		if (is_public == (r->perm != SF_PERM_NONE)) {
			xasprintf(cause,
			          "route %s must declare either a permission or public access",
			          r->name);
			return false;
		}
	}
	return true;
}

/* Adds a response header. */
void
http_add_header(struct http_ctx *ctx, const char *name, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(ctx->req), name, value);
}

bool
http_is_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 18 || s[0] == '0')
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Reads the paging parameters. */
bool
http_page(struct http_ctx *ctx, const char **after, char after_buf[24], char limit_buf[8])
{
	return http_page_sized(ctx, after, after_buf, limit_buf, 100, 500);
}

bool
http_page_sized(struct http_ctx *ctx, const char **after, char after_buf[24], char limit_buf[8],
                long default_limit, long max_limit)
{
	char limit[16], detail[64];
	const char *l;
	long n;

	*after = http_query(ctx, "after", after_buf, 24);
	if (*after != NULL && !http_is_id(*after)) {
		http_reply_problem(ctx, 400, "bad request",
		                   "after must be an id from a previous page");
		return false;
	}
	l = http_query(ctx, "limit", limit, sizeof limit);
	n = default_limit;
	if (l != NULL) {
		char *end;
		n = strtol(l, &end, 10);
		if (*l == '\0' || *end != '\0' || n < 1 || n > max_limit) {
			snprintf(detail, sizeof detail, "limit must be between 1 and %ld",
			         max_limit);
			http_reply_problem(ctx, 400, "bad request", detail);
			return false;
		}
	}
	snprintf(limit_buf, 8, "%ld", n);
	return true;
}

/* Validates an id in the path. */
const char *
http_param_id(struct http_ctx *ctx, int i, char buf[24])
{
	if (i >= ctx->nparams || !http_is_id(ctx->params[i])) {
		http_reply_problem(ctx, 404, "not found", "no such object");
		return NULL;
	}
	snprintf(buf, 24, "%s", ctx->params[i]);
	return buf;
}

/* Reads a query-string parameter. */
const char *
http_query(const struct http_ctx *ctx, const char *name, char *buf, size_t bufsz)
{
	const char *v;

	http_query_checked(ctx, name, buf, bufsz, &v);
	return v;
}

/* The query's parameters, decoded, into params (cleared by the caller when 0). */
static int
http_query_parse(const struct http_ctx *ctx, struct evkeyvalq *params)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ctx->req);
	const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;

	TAILQ_INIT(params);
	if (q == NULL)
		return SF_ENOTFOUND;
	if (evhttp_parse_query_str(q, params) != 0) {
		evhttp_clear_headers(params);
		return SF_EINVAL;
	}
	return 0;
}

/*
 * How often name is in the query (as evhttp_find_header compares, in any
 * case): it reads only the first, so a second would silently fall away.
 */
static size_t
http_query_times(const struct http_ctx *ctx, const char *name)
{
	struct evkeyvalq params;
	struct evkeyval *kv;
	size_t n = 0;

	if (http_query_parse(ctx, &params) != 0)
		return 0;
	TAILQ_FOREACH(kv, &params, next)
	{
		if (strcasecmp(kv->key, name) == 0)
			n++;
	}
	evhttp_clear_headers(&params);
	return n;
}

static void
http_reply_repeated(struct http_ctx *ctx, const char *name)
{
	char detail[160];

	snprintf(detail, sizeof detail, "%.60s: given more than once; give it once", name);
	http_reply_problem(ctx, 400, "bad request", detail);
}

bool
http_query_single(struct http_ctx *ctx, const char *const *repeatable)
{
	struct evkeyvalq params;
	struct evkeyval *kv, *seen;
	int rc = http_query_parse(ctx, &params);

	if (rc == SF_ENOTFOUND)
		return true;
	if (rc != 0) {
		http_reply_problem(ctx, 400, "bad request", "the query string is malformed");
		return false;
	}
	TAILQ_FOREACH(kv, &params, next)
	{
		bool allowed = false;

		for (size_t i = 0; repeatable != NULL && repeatable[i] != NULL; i++)
			allowed = allowed || strcasecmp(kv->key, repeatable[i]) == 0;
		for (seen = TAILQ_FIRST(&params); !allowed && seen != kv;
		     seen = TAILQ_NEXT(seen, next)) {
			if (strcasecmp(seen->key, kv->key) == 0) {
				http_reply_repeated(ctx, kv->key);
				evhttp_clear_headers(&params);
				return false;
			}
		}
	}
	evhttp_clear_headers(&params);
	return true;
}

bool
http_query_import_map(struct http_ctx *ctx, const char *name, struct sf_import_mapping *mapping)
{
	struct evkeyvalq params;
	struct evkeyval *kv;
	char err[160], detail[240];
	int rc = http_query_parse(ctx, &params);

	if (rc == SF_ENOTFOUND)
		return true;
	if (rc != 0) {
		http_reply_problem(ctx, 400, "bad request", "the query string is malformed");
		return false;
	}
	/* Each value adds its pairs to the others', as the CLI's repeated --map. */
	TAILQ_FOREACH(kv, &params, next)
	{
		if (strcasecmp(kv->key, name) != 0)
			continue;
		if (strlen(kv->value) >= HTTP_QUERY_MAP_MAX)
			snprintf(detail, sizeof detail, "%s: too long (at most %d bytes)", name,
			         HTTP_QUERY_MAP_MAX - 1);
		else if (sf_import_parse_mapping(kv->value, mapping, err, sizeof err) != 0)
			snprintf(detail, sizeof detail, "%s: %s", name, err);
		else
			continue;
		evhttp_clear_headers(&params);
		http_reply_problem(ctx, 400, "bad request", detail);
		return false;
	}
	evhttp_clear_headers(&params);
	return true;
}

int
http_query_checked(const struct http_ctx *ctx, const char *name, char *buf, size_t bufsz,
                   const char **out)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ctx->req);
	const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	struct evkeyvalq params;
	const char *v;
	int rc = SF_ENOTFOUND;

	*out = NULL;
	if (q == NULL)
		return rc;
	TAILQ_INIT(&params);
	if (evhttp_parse_query_str(q, &params) != 0) {
		evhttp_clear_headers(&params);
		return SF_EINVAL;
	}
	v = evhttp_find_header(&params, name);
	if (v != NULL && strlen(v) < bufsz) {
		memcpy(buf, v, strlen(v) + 1);
		*out = buf;
		rc = 0;
	} else if (v != NULL) {
		rc = SF_ETOOLONG;
	}
	evhttp_clear_headers(&params);
	return rc;
}

bool
http_query_filter(struct http_ctx *ctx, const char *name, char *buf, size_t bufsz, const char **out)
{
	char detail[120];

	int rc = http_query_checked(ctx, name, buf, bufsz, out);

	/* Two values of one filter: which one was meant, nothing can tell. */
	if (rc == 0 && http_query_times(ctx, name) > 1) {
		*out = NULL;
		http_reply_repeated(ctx, name);
		return false;
	}
	if (rc == 0 || rc == SF_ENOTFOUND)
		return true;
	if (rc == SF_EINVAL)
		snprintf(detail, sizeof detail, "the query string is malformed (at %s)", name);
	else
		snprintf(detail, sizeof detail, "%s: too long (at most %zu bytes)", name,
		         bufsz - 1);
	http_reply_problem(ctx, 400, "bad request", detail);
	return false;
}

/*
 * Reads a yes/no query parameter into *out; answers 400 and returns false
 * for any other value: "dry_run=True" must never import for real.
 */
bool
http_query_flag(struct http_ctx *ctx, const char *name, bool *out)
{
	static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false",
	                                                                            "no", "off",
	                                                                            ""};
	char buf[8], detail[120];
	const char *v;
	int rc;

	*out = false;
	rc = http_query_checked(ctx, name, buf, sizeof buf, &v);
	if (rc == SF_ENOTFOUND)
		return true;
	if (rc == SF_EINVAL) {
		http_reply_problem(ctx, 400, "bad request", "the query string is malformed");
		return false;
	}
	/* "dry_run=false&dry_run=true" must not be read as a real run. */
	if (http_query_times(ctx, name) > 1) {
		http_reply_repeated(ctx, name);
		return false;
	}
	for (size_t i = 0; v != NULL && i < sizeof yes / sizeof yes[0]; i++)
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return true;
		}
	for (size_t i = 0; v != NULL && i < sizeof no / sizeof no[0]; i++)
		if (strcasecmp(v, no[i]) == 0)
			return true;
	snprintf(detail, sizeof detail, "%s: true or false", name);
	http_reply_problem(ctx, 400, "bad request", detail);
	return false;
}

/*
 * True when the JSON text holds a NUL character, raw or escaped (\u0000):
 * cJSON ends a string there, so "abc\u0000def" would be stored as "abc"
 * without a word.
 */
static bool
json_has_nul(const char *text, size_t len)
{
	if (memchr(text, '\0', len) != NULL)
		return true;
	for (size_t i = 0; i + 1 < len; i++) {
		if (text[i] != '\\')
			continue;
		if (text[i + 1] == 'u' && i + 5 < len && strncmp(text + i + 2, "0000", 4) == 0)
			return true;
		i++; /* the escaped character, which may be a backslash */
	}
	return false;
}

/* Parses the body as a JSON object. */
cJSON *
http_read_json(struct http_ctx *ctx)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
	const char *type =
	    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Content-Type");
	size_t len = evbuffer_get_length(in);
	char *text;
	cJSON *json;

	if (type == NULL || strncasecmp(type, "application/json", 16) != 0) {
		http_reply_problem(ctx, 415, "unsupported media type",
		                   "send the body as application/json");
		return NULL;
	}
	if (len == 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "the body is empty; a JSON object is expected");
		return NULL;
	}
	text = xmalloc(len + 1);
	evbuffer_copyout(in, text, len);
	text[len] = '\0';
	if (json_has_nul(text, len)) {
		free(text);
		http_reply_problem(ctx, 400, "bad request",
		                   "the body holds a NUL character (\\u0000), which no field may");
		return NULL;
	}
	json = cJSON_ParseWithLength(text, len);
	free(text);
	if (json == NULL || !cJSON_IsObject(json)) {
		cJSON_Delete(json);
		http_reply_problem(ctx, 400, "bad request", "the body is not a JSON object");
		return NULL;
	}
	return json;
}

bool
http_json_whole(const cJSON *v, long long lo, long long hi, long long *out)
{
	/* The range is checked first: a double out of long long's range has no cast. */
	if (!cJSON_IsNumber(v) || v->valuedouble < (double)lo || v->valuedouble > (double)hi ||
	    v->valuedouble != (double)(long long)v->valuedouble)
		return false;
	if (out != NULL)
		*out = (long long)v->valuedouble;
	return true;
}

bool
http_json_id(const cJSON *v, long long *out)
{
	return http_json_whole(v, 1, 1000000000000000LL, out);
}

bool
http_form_nul_field(const char *body, char *field, size_t fieldsz)
{
	const char *pair = body;

	if (fieldsz > 0)
		field[0] = '\0';
	while (pair != NULL && *pair != '\0') {
		const char *end = strchr(pair, '&'), *eq = strchr(pair, '=');

		if (end == NULL)
			end = pair + strlen(pair);
		if (eq != NULL && eq < end) {
			for (const char *v = eq + 1; v + 3 <= end; v++) {
				if (v[0] == '%' && v[1] == '0' && v[2] == '0') {
					size_t n = (size_t)(eq - pair);
					if (n > 0 && n < fieldsz &&
					    strspn(pair, "abcdefghijklmnopqrstuvwxyz0123456789_") >=
					        n)
						snprintf(field, fieldsz, "%.*s", (int)n, pair);
					return true;
				}
			}
		}
		pair = *end == '&' ? end + 1 : NULL;
	}
	return false;
}

/* True when every member of body is named in known (NULL-terminated); else answers 400. */
bool
http_json_known(struct http_ctx *ctx, const cJSON *body, const char *const *known)
{
	char detail[128];

	for (const cJSON *item = body->child; item != NULL; item = item->next) {
		bool ok = false;
		for (int i = 0; known[i] != NULL && !ok; i++)
			ok = strcmp(item->string, known[i]) == 0;
		if (!ok) {
			snprintf(detail, sizeof detail, "unknown field '%.60s'", item->string);
			http_reply_problem(ctx, 400, "bad request", detail);
			return false;
		}
		/* A field given twice is ambiguous: cJSON keeps both, the handlers read the first.
		 */
		for (const cJSON *seen = body->child; seen != item; seen = seen->next) {
			if (strcmp(seen->string, item->string) == 0) {
				snprintf(detail, sizeof detail, "field '%.60s' given twice",
				         item->string);
				http_reply_problem(ctx, 400, "bad request", detail);
				return false;
			}
		}
	}
	return true;
}

/* Sends the reply and releases the context. */
static void
http_send(struct http_ctx *ctx, int status, struct evbuffer *body)
{
	struct daemon *d = ctx->d;

	if (ctx->answered) {
		log_error("http_double_reply", "route", ctx->route ? ctx->route->name : "-");
		return;
	}
	ctx->answered = true;
	http_add_security_headers(evhttp_request_get_output_headers(ctx->req));
	if (ctx->tls)
		evhttp_add_header(evhttp_request_get_output_headers(ctx->req),
		                  "Strict-Transport-Security", "max-age=31536000");
	if (d->shutting_down)
		evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Connection",
		                  "close");
	/*
	 * The in-flight slot is released once the answer is written out, so a
	 * graceful shutdown never cuts a reply short; a client that already left
	 * has no connection and nothing to wait for.
	 */
	bool gone = evhttp_request_get_connection(ctx->req) == NULL;
	if (!gone) {
		evhttp_request_set_on_complete_cb(ctx->req, http_request_complete_cb, d);
		http_conn_answered(d, evhttp_request_get_connection(ctx->req));
	}
	evhttp_send_reply(ctx->req, status, NULL, body);
	http_log_answer(ctx, status);
	http_ctx_free(ctx);
	if (gone)
		daemon_request_done(d);
}

/* Counts and logs an answer. */
static void
http_log_answer(struct http_ctx *ctx, int status)
{
	struct timespec now;
	double seconds;
	struct daemon *d = ctx->d;

	clock_gettime(CLOCK_MONOTONIC, &now);
	seconds = (double)(now.tv_sec - ctx->started.tv_sec) +
	          (double)(now.tv_nsec - ctx->started.tv_nsec) / 1e9;
	metrics_count_request(&d->metrics, ctx->route != NULL ? ctx->route->name : "unmatched",
	                      status, seconds);
	/* The route's name, never the path: paths can carry reply tokens. */
	{
		char st[8], ms[24];
		snprintf(st, sizeof st, "%d", status);
		snprintf(ms, sizeof ms, "%.1f", seconds * 1000.0);
		log_event(status >= 500 ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "request", "route",
		          ctx->route != NULL ? ctx->route->name : "unmatched", "method",
		          http_method_name(evhttp_request_get_command(ctx->req)), "status", st,
		          "ms", ms, "user",
		          ctx->principal.kind != PRINCIPAL_NONE ? ctx->principal.name : "-",
		          (char *)NULL);
	}
}

struct evhttp_request *
http_stream_start(struct http_ctx *ctx, const char *content_type)
{
	struct daemon *d = ctx->d;
	struct evhttp_request *req = ctx->req;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	ctx->answered = true;
	http_add_security_headers(h);
	if (ctx->tls)
		evhttp_add_header(h, "Strict-Transport-Security", "max-age=31536000");
	evhttp_add_header(h, "Content-Type", content_type);
	/* A buffering proxy in front would hold events back. */
	evhttp_add_header(h, "X-Accel-Buffering", "no");
	evhttp_send_reply_start(req, 200, "OK");
	http_log_answer(ctx, 200);
	http_ctx_free(ctx);
	/* A stream is not in flight: a shutdown ends it rather than waiting for it. */
	daemon_request_done(d);
	return req;
}

/* Answers with bytes. */
void
http_reply_bytes(struct http_ctx *ctx, int status, const char *content_type, const void *body,
                 size_t len)
{
	struct evbuffer *buf = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(ctx->req), "Content-Type",
	                  content_type);
	if (evhttp_request_get_command(ctx->req) != EVHTTP_REQ_HEAD)
		evbuffer_add(buf, body, len);
	http_send(ctx, status, buf);
	evbuffer_free(buf);
}

/* Answers with JSON. */
void
http_reply_json(struct http_ctx *ctx, int status, cJSON *body)
{
	char *text = cJSON_PrintUnformatted(body);

	cJSON_Delete(body);
	if (text == NULL) {
		http_reply_bytes(ctx, 500, "application/problem+json",
		                 "{\"title\":\"internal error\",\"status\":500}", 38);
		return;
	}
	http_reply_bytes(ctx, status, "application/json", text, strlen(text));
	free(text);
}

/* Answers with an RFC 7807 problem document. */
void
http_reply_problem(struct http_ctx *ctx, int status, const char *title, const char *detail)
{
	cJSON *p = cJSON_CreateObject();
	char *text;

	cJSON_AddStringToObject(p, "type", "about:blank");
	cJSON_AddStringToObject(p, "title", title);
	cJSON_AddNumberToObject(p, "status", status);
	if (detail != NULL)
		cJSON_AddStringToObject(p, "detail", detail);
	text = cJSON_PrintUnformatted(p);
	cJSON_Delete(p);
	http_reply_bytes(ctx, status, "application/problem+json", text, strlen(text));
	free(text);
}

/*
 * Matches path against pattern; on success stores the {x} segments (copied)
 * in ctx unless it is NULL. Both start with '/'.
 */
static bool
http_match(const char *pattern, const char *path, struct http_ctx *ctx)
{
	const char *p = pattern, *s = path;
	int nparams = 0;

	if (ctx != NULL)
		ctx->nparams = 0;
	while (*p != '\0') {
		if (*p == '{') {
			const char *pend = strchr(p, '}');
			const char *send = strchr(s, '/');
			if (pend == NULL)
				return false;
			if (send == NULL)
				send = s + strlen(s);
			if (send == s || nparams == HTTP_MAX_PATH_PARAMS)
				goto fail;
			nparams++;
			if (ctx != NULL)
				ctx->params[ctx->nparams++] = xstrndup(s, (size_t)(send - s));
			p = pend + 1;
			s = send;
			continue;
		}
		if (*p != *s)
			goto fail;
		p++;
		s++;
	}
	if (*s == '\0')
		return true;
fail:
	if (ctx == NULL)
		return false;
	for (int i = 0; i < ctx->nparams; i++) {
		free(ctx->params[i]);
		ctx->params[i] = NULL;
	}
	ctx->nparams = 0;
	return false;
}

/* Applies the per-address limit of public endpoints; answers 429 when over. */
static bool
http_rate_allow(struct http_ctx *ctx)
{
	struct timespec now;
	char key[SF_RATETABLE_KEY_MAX];
	char retry[16];

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (sf_ratetable_key(ctx->client_addr, key, sizeof key) != 0)
		snprintf(key, sizeof key, "?");
	if (sf_ratetable_take(ctx->d->public_limits, key,
	                      (double)now.tv_sec + (double)now.tv_nsec / 1e9))
		return true;
	snprintf(retry, sizeof retry, "%d", 1);
	http_add_header(ctx, "Retry-After", retry);
	http_reply_problem(ctx, 429, "too many requests",
	                   "this address sent too many requests; wait a moment and retry");
	return false;
}

/*
 * Takes the hops of one X-Forwarded-For value from the right, the order
 * proxies appended them: each becomes the client address until one that is
 * not a trusted proxy. False once the client is found or a hop is not an
 * address (the last good one stays).
 */
static bool
http_forwarded_hops(struct http_ctx *ctx, const char *value)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char hop[sizeof ctx->client_addr];
	const char *end = value + strlen(value);

	while (end > value) {
		const char *start = end;
		while (start > value && start[-1] != ',')
			start--;
		const char *a = start, *z = end;
		while (a < z && (*a == ' ' || *a == '\t'))
			a++;
		while (z > a && (z[-1] == ' ' || z[-1] == '\t'))
			z--;
		end = start > value ? start - 1 : value;
		if (a == z && end > value)
			continue; /* an empty element, as in "a,,b" */
		if ((size_t)(z - a) >= sizeof hop)
			return false;
		memcpy(hop, a, (size_t)(z - a));
		hop[z - a] = '\0';
		if (inet_pton(AF_INET, hop, buf) != 1 && inet_pton(AF_INET6, hop, buf) != 1)
			return false; /* not an address: keep the last trusted one */
		snprintf(ctx->client_addr, sizeof ctx->client_addr, "%s", hop);
		if (!config_trusted_proxy(&ctx->d->cfg, hop))
			return false;
	}
	return true;
}

/*
 * Behind a trusted proxy (nginx), the client is the last address of
 * X-Forwarded-For that is not itself a trusted proxy, and X-Forwarded-Proto
 * says whether it came over TLS. From anyone else both headers are ignored:
 * they are whatever the client wrote. The hops are read from the right
 * across every X-Forwarded-For line, however many there are: the left ones
 * are whatever the client sent, so no limit may ever drop the right ones.
 */
static void
http_forwarded(struct http_ctx *ctx)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(ctx->req);
	const char *proto = evhttp_find_header(in, "X-Forwarded-Proto");
	struct evkeyval *h;

	if (proto != NULL && strcasecmp(proto, "https") == 0)
		ctx->tls = true;
	TAILQ_FOREACH_REVERSE(h, in, evkeyvalq, next)
	{
		if (strcasecmp(h->key, "X-Forwarded-For") == 0 &&
		    !http_forwarded_hops(ctx, h->value))
			return;
	}
}

/* Entry point of every request, plain or TLS. */
static void
http_server_dispatch(struct evhttp_request *req, struct daemon *d, bool tls)
{
	struct http_ctx *ctx = xcalloc(1, sizeof *ctx);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	const char *raw_path;
	bool path_known = false;
	char *addr = NULL;
	ev_uint16_t port = 0;

	ctx->d = d;
	ctx->req = req;
	ctx->tls = tls;
	clock_gettime(CLOCK_MONOTONIC, &ctx->started);
	d->inflight++;
	http_conn_request_arrived(d, conn);
	if (conn != NULL) {
		evhttp_connection_get_peer(conn, &addr, &port);
		snprintf(ctx->client_addr, sizeof ctx->client_addr, "%s", addr ? addr : "");
		if (config_trusted_proxy(&d->cfg, ctx->client_addr))
			http_forwarded(ctx);
	}

	raw_path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
	if (raw_path == NULL || *raw_path != '/') {
		http_reply_problem(ctx, 400, "bad request", "the request target is not a path");
		return;
	}
	size_t decoded_len = 0;
	ctx->path = evhttp_uridecode(raw_path, 0, &decoded_len);
	if (ctx->path == NULL || decoded_len != strlen(ctx->path)) {
		/* An encoded NUL is never legitimate and would cut the path short. */
		if (ctx->path == NULL)
			ctx->path = xstrdup("");
		http_reply_problem(ctx, 400, "bad request",
		                   "the path contains an encoded NUL byte");
		return;
	}
	if (d->shutting_down) {
		http_reply_problem(ctx, 503, "shutting down", "this server is stopping; retry");
		return;
	}
	for (const struct http_route *r = routes_table; r->name != NULL; r++) {
		if (!http_match(r->pattern, ctx->path, ctx))
			continue;
		path_known = true;
		if (r->method != method &&
		    !(method == EVHTTP_REQ_HEAD && r->method == EVHTTP_REQ_GET)) {
			for (int i = 0; i < ctx->nparams; i++)
				free(ctx->params[i]);
			ctx->nparams = 0;
			continue;
		}
		ctx->route = r;
		if ((r->flags & HTTP_ROUTE_NEEDS_SCHEMA) && !d->schema_ok) {
			http_reply_problem(ctx, 503, "service unavailable", d->schema_problem);
			return;
		}
		if ((r->flags & HTTP_ROUTE_RATE_LIMITED) && !http_rate_allow(ctx))
			return;
		if (r->flags & HTTP_ROUTE_PUBLIC)
			r->handler(ctx);
		else
			auth_check(ctx, r->handler);
		return;
	}
	if (path_known)
		http_reply_problem(ctx, 405, "method not allowed",
		                   "this path does not accept that method");
	else
		http_reply_problem(ctx, 404, "not found", "no such path");
}

/* A request on the plain listener. */
static void
http_server_request_cb(struct evhttp_request *req, void *arg)
{
	http_server_dispatch(req, arg, false);
}

/* A request on the TLS listener. */
static void
http_server_request_tls_cb(struct evhttp_request *req, void *arg)
{
	http_server_dispatch(req, arg, true);
}
