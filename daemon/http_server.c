/*
 * Dispatches requests to the routes the daemon declares, and sends every
 * answer. A request context lives from dispatch until its one reply; handlers
 * that wait on the database keep it and answer from their callback.
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

#include <safety/error.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
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

/*
 * The client connections that have sent a request, so their number can be
 * capped: an open-addressing set of evhttp_connection pointers, removed by
 * the connection's close callback. Connections that never send a request
 * are closed by the read timeout.
 */
struct http_conn_set {
	struct daemon *d;
	struct evhttp_connection **slots;
	size_t cap; /* power of two, at least twice the connection limit */
	size_t count;
};

/* The slot of conn, or of the empty place where it would go. */
static size_t
http_conn_slot(const struct http_conn_set *set, const struct evhttp_connection *conn)
{
	size_t h = ((uintptr_t)conn >> 4) * 0x9E3779B97F4A7C15ull;
	size_t i = h & (set->cap - 1);

	while (set->slots[i] != NULL && set->slots[i] != conn)
		i = (i + 1) & (set->cap - 1);
	return i;
}

/* Removes conn, shifting later entries back so lookups stay correct. */
static void
http_conn_remove(struct http_conn_set *set, const struct evhttp_connection *conn)
{
	size_t i = http_conn_slot(set, conn), j, k;

	if (set->slots[i] == NULL)
		return;
	set->slots[i] = NULL;
	set->count--;
	for (j = (i + 1) & (set->cap - 1); set->slots[j] != NULL; j = (j + 1) & (set->cap - 1)) {
		k = (((uintptr_t)set->slots[j] >> 4) * 0x9E3779B97F4A7C15ull) & (set->cap - 1);
		/* Move the entry at j into the hole at i if its home is not between i and j. */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			set->slots[i] = set->slots[j];
			set->slots[j] = NULL;
			i = j;
		}
	}
}

/* A tracked client connection closed. */
static void
http_conn_closed(struct evhttp_connection *conn, void *arg)
{
	struct http_conn_set *set = arg;

	http_conn_remove(set, conn);
	events_connection_closed(set->d, conn);
	feed_connection_closed(set->d, conn);
}

/*
 * Tracks the request's connection; false when it is a new connection over
 * the limit (it is then answered 503 and closed).
 */
static bool
http_conn_admit(struct daemon *d, struct evhttp_request *req)
{
	struct http_conn_set *set = d->conns;
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	size_t i;

	if (conn == NULL)
		return true;
	i = http_conn_slot(set, conn);
	if (set->slots[i] == conn)
		return true;
	if (set->count >= (size_t)d->cfg.max_connections) {
		d->metrics.connections_refused++;
		return false;
	}
	set->slots[i] = conn;
	set->count++;
	evhttp_connection_set_closecb(conn, http_conn_closed, set);
	return true;
}

/* Frees the tracking set. */
void
http_server_free(struct daemon *d)
{
	if (d->conns == NULL)
		return;
	free(d->conns->slots);
	free(d->conns);
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
	evhttp_set_max_body_size(http, (ev_ssize_t)d->cfg.max_body_bytes);
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
	return s;
}

/* Creates the servers and binds them. */
bool
http_server_start(struct daemon *d, char **cause)
{
	d->conns = xcalloc(1, sizeof *d->conns);
	d->conns->d = d;
	d->conns->cap = 16;
	while (d->conns->cap < 2 * (size_t)d->cfg.max_connections)
		d->conns->cap *= 2;
	d->conns->slots = xcalloc(d->conns->cap, sizeof *d->conns->slots);
	d->http = evhttp_new(d->base);
	http_server_configure(d, d->http);
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
	evhttp_set_bevcb(d->https, tls_server_bevcb, d->tls);
	evhttp_set_gencb(d->https, http_server_request_tls_cb, d);
	d->tls_listener = http_server_bind(d->https, d->cfg.tls_listen, cause);
	return d->tls_listener != NULL;
}

/* Closes the listening socket. */
void
http_server_stop_accepting(struct daemon *d)
{
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
	evhttp_add_header(h, "Content-Security-Policy",
	                  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' "
	                  "data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
	                  "form-action 'self'");
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
	json = cJSON_ParseWithLength(text, len);
	free(text);
	if (json == NULL || !cJSON_IsObject(json)) {
		cJSON_Delete(json);
		http_reply_problem(ctx, 400, "bad request", "the body is not a JSON object");
		return NULL;
	}
	return json;
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
	if (!gone)
		evhttp_request_set_on_complete_cb(ctx->req, http_request_complete_cb, d);
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
 * in ctx. Both start with '/'.
 */
static bool
http_match(const char *pattern, const char *path, struct http_ctx *ctx)
{
	const char *p = pattern, *s = path;

	ctx->nparams = 0;
	while (*p != '\0') {
		if (*p == '{') {
			const char *pend = strchr(p, '}');
			const char *send = strchr(s, '/');
			if (pend == NULL)
				return false;
			if (send == NULL)
				send = s + strlen(s);
			if (send == s || ctx->nparams == HTTP_MAX_PATH_PARAMS)
				goto fail;
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
	if (!http_conn_admit(d, req)) {
		http_add_header(ctx, "Connection", "close");
		http_add_header(ctx, "Retry-After", "1");
		http_reply_problem(ctx, 503, "too many connections",
		                   "the server has too many open connections; retry shortly");
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
