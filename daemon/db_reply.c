/* Handlers answered straight from a query's JSON, and SQL errors mapped to HTTP. */
#include "db_reply.h"

#include "daemon.h"
#include "db_pool.h"
#include "http_server.h"
#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

struct db_reply {
	struct http_ctx *ctx;
	int status;
	char *not_found;
	char *content_type; /* NULL: JSON */
	bool no_body;       /* answer the status alone when a row came back */
};

/* Maps a failed query onto an HTTP problem. */
void
db_reply_error(struct http_ctx *ctx, const struct db_result *r)
{
	if (r->outcome == DB_UNAVAILABLE) {
		http_reply_problem(ctx, 503, "service unavailable",
		                   "the database cannot be reached; retry shortly");
		return;
	}
	if (strcmp(r->sqlstate, "23505") == 0) {
		http_reply_problem(ctx, 409, "conflict",
		                   "an object with that name or key already exists");
	} else if (strcmp(r->sqlstate, "23514") == 0 || strcmp(r->sqlstate, "22P02") == 0 ||
	           strcmp(r->sqlstate, "22023") == 0 || strcmp(r->sqlstate, "23502") == 0 ||
	           strcmp(r->sqlstate, "22001") == 0 || strcmp(r->sqlstate, "22003") == 0) {
		/* Check constraints and casts: the message names the rule, never a row's data. */
		http_reply_problem(ctx, 400, "bad request", r->error);
	} else if (strcmp(r->sqlstate, "23503") == 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "it refers to something that does not exist");
	} else if (strcmp(r->sqlstate, "42501") == 0) {
		http_reply_problem(ctx, 403, "forbidden", r->error);
	} else if (strcmp(r->sqlstate, "57014") == 0) {
		http_reply_problem(ctx, 503, "service unavailable",
		                   "the query took too long; retry");
	} else if (strcmp(r->sqlstate, "55P03") == 0 || strcmp(r->sqlstate, "40P01") == 0) {
		/* Waited too long behind another change (a check-in launch holds its mission's
		 * people). */
		http_reply_problem(
		    ctx, 503, "service unavailable",
		    "another change of the same data is under way (such as a check-in "
		    "launch); retry shortly");
	} else {
		log_error("query_failed", "route", ctx->route != NULL ? ctx->route->name : "-",
		          "sqlstate", r->sqlstate, "error", r->error);
		http_reply_problem(ctx, 500, "internal error",
		                   "the request could not be completed");
	}
}

/* The query answered. */
static void
db_reply_done(const struct db_result *r, void *arg)
{
	struct db_reply *dr = arg;

	if (r->outcome != DB_OK) {
		db_reply_error(dr->ctx, r);
	} else if (PQntuples(r->res) == 0 || (!dr->no_body && PQgetisnull(r->res, 0, 0))) {
		http_reply_problem(dr->ctx, 404, "not found", dr->not_found);
	} else if (dr->no_body) {
		http_reply_bytes(dr->ctx, dr->status, "text/plain", "", 0);
	} else {
		const char *text = PQgetvalue(r->res, 0, 0);
		http_reply_bytes(dr->ctx, dr->status,
		                 dr->content_type != NULL ? dr->content_type : "application/json",
		                 text, (size_t)PQgetlength(r->res, 0, 0));
	}
	free(dr->not_found);
	free(dr->content_type);
	free(dr);
}

/* Runs the query and answers with its JSON. */
void
db_reply_json(struct http_ctx *ctx, int status, const char *not_found_detail, const char *sql,
              int nparams, const char *const *params)
{
	struct db_reply *dr = xcalloc(1, sizeof *dr);
	const char *cause;

	dr->ctx = ctx;
	dr->status = status;
	dr->not_found = xstrdup(not_found_detail);
	if (db_pool_query(ctx->d->db, sql, nparams, params, db_reply_done, dr, &cause) != 0) {
		free(dr->not_found);
		free(dr);
		http_reply_problem(ctx, 503, "service unavailable", cause);
	}
}

struct db_query_long {
	db_query_done_cb done;
	void *arg;
	char *conninfo;
	char *sql;
	int nparams;
	char **params;
	int timeout_ms;
	PGresult *res;   /* NULL: no connection */
	char error[200]; /* why there is no result */
};

/* On a worker thread: a connection of its own, the timeout set, the statement run. */
static void
db_query_long_work(void *arg)
{
	struct db_query_long *job = arg;
	/* The pool's own limits: a server out of reach must not hold a worker thread for minutes.
	 */
	static const char *const keys[] = {"dbname", "connect_timeout", NULL};
	const char *values[] = {job->conninfo, "10", NULL};
	PGconn *conn = PQconnectdbParams(keys, values, 1);
	char set[160];
	PGresult *r;

	if (PQstatus(conn) != CONNECTION_OK) {
		snprintf(job->error, sizeof job->error, "the database cannot be reached");
		PQfinish(conn);
		return;
	}
	snprintf(set, sizeof set,
	         "SET statement_timeout = %d; SET lock_timeout = 30000; "
	         "SET application_name = 'safetyd-long'; "
	         "SET TIME ZONE 'UTC'",
	         job->timeout_ms);
	r = PQexec(conn, set);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		snprintf(job->error, sizeof job->error, "%s", PQerrorMessage(conn));
		PQclear(r);
		PQfinish(conn);
		return;
	}
	PQclear(r);
	job->res = PQexecParams(conn, job->sql, job->nparams, NULL,
	                        (const char *const *)job->params, NULL, NULL, 0);
	if (job->res == NULL)
		snprintf(job->error, sizeof job->error, "%s", PQerrorMessage(conn));
	PQfinish(conn);
}

/* Back on the loop: the caller is told as by db_pool_query. */
static void
db_query_long_done(void *arg)
{
	struct db_query_long *job = arg;
	struct db_result r = {.outcome = DB_UNAVAILABLE, .sqlstate = "", .error = job->error};

	if (job->res != NULL && PQresultStatus(job->res) == PGRES_TUPLES_OK) {
		r.outcome = DB_OK;
		r.res = job->res;
		r.error = "";
	} else if (job->res != NULL && PQresultErrorField(job->res, PG_DIAG_SQLSTATE) != NULL) {
		r.outcome = DB_SQL_ERROR;
		r.sqlstate = PQresultErrorField(job->res, PG_DIAG_SQLSTATE);
		r.error = PQresultErrorField(job->res, PG_DIAG_MESSAGE_PRIMARY) != NULL
		              ? PQresultErrorField(job->res, PG_DIAG_MESSAGE_PRIMARY)
		              : "";
	}
	job->done(&r, job->arg);
	PQclear(job->res);
	/* A parameter may carry personal data (an itinerary file): not left in freed memory. */
	for (int i = 0; i < job->nparams; i++) {
		if (job->params[i] != NULL) {
			memset(job->params[i], 0, strlen(job->params[i]));
			free(job->params[i]);
		}
	}
	free(job->params);
	free(job->sql);
	free(job->conninfo);
	free(job);
}

void
db_query_long(struct daemon *d, const char *sql, int nparams, const char *const *params,
              int timeout_ms, db_query_done_cb done, void *arg)
{
	struct db_query_long *job = xcalloc(1, sizeof *job);

	job->done = done;
	job->arg = arg;
	job->conninfo = xstrdup(d->cfg.database_url);
	job->sql = xstrdup(sql);
	job->nparams = nparams;
	job->params = xcalloc((size_t)(nparams > 0 ? nparams : 1), sizeof *job->params);
	for (int i = 0; i < nparams; i++)
		job->params[i] = params[i] != NULL ? xstrdup(params[i]) : NULL;
	job->timeout_ms = timeout_ms;
	if (worker_pool_submit(d->workers, db_query_long_work, db_query_long_done, job) != 0) {
		snprintf(job->error, sizeof job->error, "shutting down");
		db_query_long_done(job);
	}
}

void
db_reply_json_long(struct http_ctx *ctx, int status, const char *not_found_detail, const char *sql,
                   int nparams, const char *const *params, int timeout_ms)
{
	struct db_reply *dr = xcalloc(1, sizeof *dr);

	dr->ctx = ctx;
	dr->status = status;
	dr->not_found = xstrdup(not_found_detail);
	db_query_long(ctx->d, sql, nparams, params, timeout_ms, db_reply_done, dr);
}

/* Runs the query and answers with its text. */
void
db_reply_text(struct http_ctx *ctx, const char *content_type, const char *sql, int nparams,
              const char *const *params)
{
	struct db_reply *dr = xcalloc(1, sizeof *dr);
	const char *cause;

	dr->ctx = ctx;
	dr->status = 200;
	dr->not_found = xstrdup("nothing to export");
	dr->content_type = xstrdup(content_type);
	if (db_pool_query(ctx->d->db, sql, nparams, params, db_reply_done, dr, &cause) != 0) {
		free(dr->not_found);
		free(dr->content_type);
		free(dr);
		http_reply_problem(ctx, 503, "service unavailable", cause);
	}
}

/* Runs the query and answers with a status alone. */
void
db_reply_status(struct http_ctx *ctx, int status, const char *not_found_detail, const char *sql,
                int nparams, const char *const *params)
{
	struct db_reply *dr = xcalloc(1, sizeof *dr);
	const char *cause;

	dr->ctx = ctx;
	dr->status = status;
	dr->no_body = true;
	dr->not_found = xstrdup(not_found_detail);
	if (db_pool_query(ctx->d->db, sql, nparams, params, db_reply_done, dr, &cause) != 0) {
		free(dr->not_found);
		free(dr);
		http_reply_problem(ctx, 503, "service unavailable", cause);
	}
}
