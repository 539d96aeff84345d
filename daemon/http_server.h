/*
 * The HTTP front: one evhttp server, one table of routes, one request
 * context per request. Every answer goes through http_reply_* so each gets
 * the security headers, is counted in /metrics and releases its in-flight
 * slot exactly once.
 */
#ifndef SAFETY_HTTP_SERVER_H
#define SAFETY_HTTP_SERVER_H

#include <cjson/cJSON.h>
#include <event2/http.h>
#include <stdbool.h>
#include <time.h>

struct daemon;
struct http_ctx;

typedef void (*http_handler_cb)(struct http_ctx *ctx);

/* Route flags. */
#define HTTP_ROUTE_NEEDS_SCHEMA 0x1 /* answer 503 while the schema is not current */

#define HTTP_MAX_PATH_PARAMS 4

struct http_route {
	const char *name; /* label in /metrics */
	enum evhttp_cmd_type method;
	const char *pattern; /* "/api/v1/things/{id}": {x} matches one segment */
	http_handler_cb handler;
	unsigned flags;
};

struct http_ctx {
	struct daemon *d;
	struct evhttp_request *req;
	const struct http_route *route;
	struct timespec started;
	char client_addr[64];
	char *path; /* decoded path, owned */
	char *params[HTTP_MAX_PATH_PARAMS]; /* {x} segments in order, owned */
	int nparams;
	bool answered;
};

/* Creates the evhttp server and binds the listener. */
bool http_server_start(struct daemon *d, char **cause) __attribute__((warn_unused_result));

/* Stops accepting new connections; open ones finish their requests. */
void http_server_stop_accepting(struct daemon *d);

/* Answers with a JSON document (takes ownership of body). */
void http_reply_json(struct http_ctx *ctx, int status, cJSON *body);

/* Answers with bytes of the given content type (copied). */
void http_reply_bytes(struct http_ctx *ctx, int status, const char *content_type, const void *body,
		      size_t len);

/*
 * Answers with an RFC 7807 problem: title is short and fixed per kind of
 * problem, detail says what was wrong with this request.
 */
void http_reply_problem(struct http_ctx *ctx, int status, const char *title, const char *detail);

#endif
