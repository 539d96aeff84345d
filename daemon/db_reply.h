/*
 * The common shape of an API handler that PostgreSQL can answer alone: the
 * query returns the response document as JSON text in its first cell, and
 * SQL errors become problem+json with a status that fits them.
 */
#ifndef SAFETY_DB_REPLY_H
#define SAFETY_DB_REPLY_H

#include "db_pool.h"

struct daemon;
struct http_ctx;

/*
 * Runs sql; one row answers status with its first column (JSON text), no
 * row answers 404 with not_found_detail. Parameters are copied.
 */
void db_reply_json(struct http_ctx *ctx, int status, const char *not_found_detail, const char *sql,
                   int nparams, const char *const *params);

/*
 * The same for a statement that may run for minutes (a launch over a
 * million people): on a worker thread, over a connection of its own whose
 * statement_timeout is timeout_ms, so the pool's short timeout, meant to
 * catch a stuck server, does not cut it off and the pool stays free.
 */
void db_reply_json_long(struct http_ctx *ctx, int status, const char *not_found_detail,
                        const char *sql, int nparams, const char *const *params, int timeout_ms);

/*
 * The statement behind db_reply_json_long for a caller that reads the
 * result itself: done is called on the loop, exactly once, as by
 * db_pool_query (the result borrowed for the call). Parameters are copied.
 */
void db_query_long(struct daemon *d, const char *sql, int nparams, const char *const *params,
                   int timeout_ms, db_query_done_cb done, void *arg);

/* Runs sql; one row or more answers status with no body, none answers 404. */
void db_reply_status(struct http_ctx *ctx, int status, const char *not_found_detail,
                     const char *sql, int nparams, const char *const *params);

/* Runs sql and answers its one text cell with the given content type. */
void db_reply_text(struct http_ctx *ctx, const char *content_type, const char *sql, int nparams,
                   const char *const *params);

/* Answers a failed query as problem+json (409 for duplicates, 400 for bad values...). */
void db_reply_error(struct http_ctx *ctx, const struct db_result *r);

#endif
