/*
 * The HTTP front: one evhttp server, one table of routes, one request
 * context per request. Every answer goes through http_reply_* so each gets
 * the security headers, is counted in /metrics and releases its in-flight
 * slot exactly once.
 */
#ifndef SAFETY_HTTP_SERVER_H
#define SAFETY_HTTP_SERVER_H

#include "auth.h"

#include <cjson/cJSON.h>
#include <event2/http.h>
#include <safety/role.h>
#include <stdbool.h>
#include <time.h>

struct daemon;
struct http_ctx;

typedef void (*http_handler_cb)(struct http_ctx *ctx);

/*
 * Route flags. A route either names the permission it needs or says
 * HTTP_ROUTE_PUBLIC; safetyd refuses to start with a route that does neither.
 */
#define HTTP_ROUTE_PUBLIC 0x1         /* no authentication */
#define HTTP_ROUTE_NEEDS_SCHEMA 0x2   /* answer 503 while the schema is not current */
#define HTTP_ROUTE_MISSION_SCOPED 0x4 /* acts on one mission's objects */
#define HTTP_ROUTE_RATE_LIMITED 0x8   /* per-address limit for public endpoints */

#define HTTP_MAX_PATH_PARAMS 4

struct http_route {
	const char *name; /* label in /metrics */
	enum evhttp_cmd_type method;
	const char *pattern; /* "/api/v1/things/{id}": {x} matches one segment */
	http_handler_cb handler;
	enum sf_perm perm; /* SF_PERM_NONE only with HTTP_ROUTE_PUBLIC */
	unsigned flags;
};

struct http_ctx {
	struct daemon *d;
	struct evhttp_request *req;
	const struct http_route *route;
	struct timespec started;
	char client_addr[64];
	char *path;                         /* decoded path, owned */
	char *params[HTTP_MAX_PATH_PARAMS]; /* {x} segments in order, owned */
	int nparams;
	bool answered;
	bool tls; /* arrived on the HTTPS listener */
	struct principal principal;
};

/* Creates the evhttp server and binds the listener. */
bool http_server_start(struct daemon *d, char **cause) __attribute__((warn_unused_result));

/* Stops accepting new connections; open ones finish their requests. */
void http_server_stop_accepting(struct daemon *d);

/* Frees the connection tracking of the server. */
void http_server_free(struct daemon *d);

/* Checks that every route declares its access; false names the first that does not. */
bool http_routes_check(char **cause) __attribute__((warn_unused_result));

/*
 * Parses the request body as a JSON object. On failure answers 400/413/415
 * itself and returns NULL. The caller owns the result.
 */
cJSON *http_read_json(struct http_ctx *ctx);

/* True when every member of body is named in known (NULL-terminated); else answers 400. */
bool http_json_known(struct http_ctx *ctx, const cJSON *body, const char *const *known);

/*
 * True when v is a JSON number that is a whole id (1 to 10^15), copied into
 * *out if out is not NULL: 1.5 read as 1 would name another row.
 */
bool http_json_id(const cJSON *v, long long *out);

/* Whether v is a JSON number that is whole and within lo..hi (kept in out when not NULL). */
bool http_json_whole(const cJSON *v, long long lo, long long hi, long long *out);

/*
 * Whether a form body (application/x-www-form-urlencoded) has a value
 * holding an encoded NUL ("%00"), which the decoded value would end at,
 * unsaid. If so, the first such field's name is copied into field when it
 * is a plain name (lower-case letters, digits, '_') that fits, else field
 * is left empty.
 */
bool http_form_nul_field(const char *body, char *field, size_t fieldsz);

/* A query-string parameter, decoded, copied into buf; NULL if absent. */
const char *http_query(const struct http_ctx *ctx, const char *name, char *buf, size_t bufsz);

/*
 * Like http_query, but tells a parameter too long for buf (SF_ETOOLONG)
 * from an absent one (SF_ENOTFOUND, *out NULL): a request must not be
 * carried out as if an over-long parameter had not been given. 0 when read.
 */
int http_query_checked(const struct http_ctx *ctx, const char *name, char *buf, size_t bufsz,
                       const char **out);

/*
 * A filter parameter into *out (NULL when absent). One too long for buf, or
 * given twice, is answered 400 and false returned: a filter never silently
 * falls away.
 */
bool http_query_filter(struct http_ctx *ctx, const char *name, char *buf, size_t bufsz,
                       const char **out);

/*
 * Answers 400 naming the first parameter the query gives more than once,
 * unless named in repeatable (NULL-terminated, may be NULL), and returns
 * false; true when none is. For routes where a second value that is not read
 * would change what is done (an import's options).
 */
bool http_query_single(struct http_ctx *ctx, const char *const *repeatable);

/* The longest value of one map parameter, with its NUL. */
#define HTTP_QUERY_MAP_MAX 4096

struct sf_import_mapping;

/*
 * Every value of an import's column mapping parameter (name), in order,
 * added to mapping as the CLI's repeated --map; an unreadable one is
 * answered 400 naming the parameter and the reason, and false returned.
 */
bool http_query_import_map(struct http_ctx *ctx, const char *name,
                           struct sf_import_mapping *mapping);

/*
 * A yes/no parameter (1/true/yes/on, 0/false/no/off or empty, any case;
 * absent is no) into *out. Any other value, or the parameter twice, is
 * answered 400 and false is returned: "dry_run=maybe" must never be carried
 * out as a real run.
 */
bool http_query_flag(struct http_ctx *ctx, const char *name, bool *out);

/*
 * Reads ?after=ID&limit=N for a paged list into after (NULL when absent) and
 * limit (default 100, at most 500). On bad values answers 400, returns false.
 */
bool http_page(struct http_ctx *ctx, const char **after, char after_buf[24], char limit_buf[8]);

/* The same with the list's own default and largest page (large pages for a map). */
bool http_page_sized(struct http_ctx *ctx, const char **after, char after_buf[24],
                     char limit_buf[8], long default_limit, long max_limit);

/*
 * Copies path parameter i into buf if it is a positive decimal id; otherwise
 * answers 404 (an id that cannot exist names nothing) and returns NULL.
 */
const char *http_param_id(struct http_ctx *ctx, int i, char buf[24]);

/*
 * Answers 200 with the headers sent and the body to follow in chunks
 * (evhttp_send_reply_chunk, evhttp_send_reply_end): for event streams. The
 * context is freed and the request no longer counts as in flight; the
 * returned request belongs to the caller until it ends the reply.
 */
struct evhttp_request *http_stream_start(struct http_ctx *ctx, const char *content_type);

/* True when s is a positive decimal of at most 18 digits. */
bool http_is_id(const char *s);

/* Adds a response header. */
void http_add_header(struct http_ctx *ctx, const char *name, const char *value);

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
