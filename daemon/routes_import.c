/*
 * Creating nationals through the API: a whole file (POST
 * /api/v1/nationals/import, CSV or JSON) or one person (POST
 * /api/v1/nationals). Both go through the same parser and merge, on a
 * worker thread with a database connection of its own, so a large file
 * never stalls the event loop.
 */
#include "routes.h"

#include "daemon.h"
#include "log.h"
#include "registry_import.h"
#include "worker.h"
#include "xmalloc.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <strings.h>

struct import_job {
	struct http_ctx *ctx;
	char *conninfo;
	char *data;
	size_t len;
	struct registry_import_request req;
	struct sf_import_mapping mapping;
	char actor[72], role[24], addr[64];
	bool single; /* POST /api/v1/nationals: one person, answered with that person */
	struct registry_import_outcome out;
	bool ok;
	char *cause;
};

/* Frees a job and the copy of the upload. */
static void
import_job_free(struct import_job *job)
{
	registry_import_outcome_free(&job->out);
	sf_import_mapping_clear(&job->mapping);
	if (job->data != NULL) {
		memset(job->data, 0, job->len);
		free(job->data);
	}
	free(job->conninfo);
	free(job->cause);
	free(job);
}

/* On a worker thread: connect, parse, merge. */
static void
import_job_work(void *arg)
{
	struct import_job *job = arg;
	PGconn *conn = PQconnectdb(job->conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		xasprintf(&job->cause, "the database cannot be reached");
		PQfinish(conn);
		return;
	}
	job->ok = registry_import_run(conn, &job->req, &job->out, &job->cause);
	PQfinish(conn);
}

/* Back on the loop: answer with the report. */
static void
import_job_done(void *arg)
{
	struct import_job *job = arg;
	struct http_ctx *ctx = job->ctx;
	const struct sf_import_result *p = job->out.parsed;
	cJSON *rep;
	int status;

	if (!job->ok && job->out.no_mission) {
		http_reply_problem(ctx, 404, "not found", "no such mission");
		import_job_free(job);
		return;
	}
	if (!job->ok) {
		log_warn("import_failed", "error", job->cause != NULL ? job->cause : "");
		http_reply_problem(ctx, 503, "service unavailable",
		                   "the import could not be completed; nothing was changed");
		import_job_free(job);
		return;
	}
	rep = registry_import_report(&job->out, job->req.dry_run);
	if (p != NULL && p->file_error)
		status = 400;
	else if (job->single)
		status = job->out.inserted > 0 ? 201 : (job->out.first_id > 0 ? 200 : 400);
	else
		status = (p->bad_rows + job->out.ndup + job->out.nrefused > 0 &&
		          !job->out.applied && !job->req.dry_run)
		             ? 422
		             : 200;
	if (job->single && job->out.first_id > 0)
		cJSON_AddNumberToObject(rep, "id", (double)job->out.first_id);
	http_reply_json(ctx, status, rep);
	import_job_free(job);
}

/* Starts a job on the request's body. */
static void
import_start(struct http_ctx *ctx, bool single)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
	const char *type =
	    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Content-Type");
	static const char *const repeatable[] = {"map", NULL};
	char mission_buf[24], fmt[16];
	const char *mission, *v;
	struct import_job *job;
	size_t len = evbuffer_get_length(in);
	long long mission_id = ctx->principal.mission_id;

	if (len == 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "the body is empty: send the file itself");
		return;
	}
	/* A second value that is not read would change what is done: refused, map aside. */
	if (!http_query_single(ctx, repeatable))
		return;
	mission = http_query(ctx, "mission", mission_buf, sizeof mission_buf);
	if (mission != NULL && !http_is_id(mission)) {
		http_reply_problem(ctx, 400, "bad request", "mission: a mission's id");
		return;
	}
	if (mission_id <= 0) {
		if (mission == NULL) {
			http_reply_problem(ctx, 400, "bad request",
			                   "mission: required for accounts that see every mission");
			return;
		}
		mission_id = atoll(mission);
	} else if (mission != NULL && atoll(mission) != mission_id) {
		http_reply_problem(ctx, 404, "not found", "no such mission");
		return;
	}
	job = xcalloc(1, sizeof *job);
	job->ctx = ctx;
	job->single = single;
	job->req.mission_id = mission_id;
	job->req.format = SF_IMPORT_AUTO;
	if (type != NULL && strncasecmp(type, "text/csv", 8) == 0)
		job->req.format = SF_IMPORT_CSV;
	else if (type != NULL && strncasecmp(type, "application/json", 16) == 0)
		job->req.format = SF_IMPORT_JSON;
	job->req.date_format = SF_DATE_ISO;
	v = http_query(ctx, "date_format", fmt, sizeof fmt);
	if (v != NULL && sf_date_parse_format_name(v, &job->req.date_format) != 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "date_format: iso, dotted, dmy, mdy or compact");
		import_job_free(job);
		return;
	}
	/* Each map= adds its columns, as the CLI's repeated --map. */
	if (!http_query_import_map(ctx, "map", &job->mapping)) {
		import_job_free(job);
		return;
	}
	job->req.mapping = job->mapping.count > 0 ? &job->mapping : NULL;
	if (!http_query_flag(ctx, "all_or_nothing", &job->req.all_or_nothing) ||
	    !http_query_flag(ctx, "dry_run", &job->req.dry_run)) {
		import_job_free(job);
		return;
	}
	job->req.all_or_nothing = job->req.all_or_nothing || single;
	snprintf(job->actor, sizeof job->actor, "%s", ctx->principal.name);
	snprintf(job->role, sizeof job->role, "%s", auth_actor_role(&ctx->principal));
	snprintf(job->addr, sizeof job->addr, "%s", ctx->client_addr);
	job->req.actor = job->actor;
	job->req.actor_role = job->role;
	job->req.client_addr = job->addr;
	job->conninfo = xstrdup(ctx->d->cfg.database_url);
	if (single) {
		/*
		 * One person is a file of one JSON object, and nothing else
		 * ("{...},{...}" is two): checked in place, then wrapped in [ ].
		 */
		cJSON *one;

		job->data = xmalloc(len + 3);
		job->data[0] = '[';
		evbuffer_copyout(in, job->data + 1, len);
		job->data[len + 1] = '\0';
		job->len = len + 2; /* wiped on free, whatever happens */
		one = cJSON_ParseWithOpts(job->data + 1, NULL, true);
		if (!cJSON_IsObject(one)) {
			cJSON_Delete(one);
			http_reply_problem(ctx, 400, "bad request",
			                   "the body must be one JSON object");
			import_job_free(job);
			return;
		}
		cJSON_Delete(one);
		job->data[len + 1] = ']';
		job->data[len + 2] = '\0';
		job->req.format = SF_IMPORT_JSON;
	} else {
		job->data = xmalloc(len + 1);
		evbuffer_copyout(in, job->data, len);
		job->data[len] = '\0';
		job->len = len;
	}
	job->req.data = job->data;
	job->req.len = job->len;
	if (worker_pool_submit(ctx->d->workers, import_job_work, import_job_done, job) != 0) {
		http_reply_problem(ctx, 503, "service unavailable", "shutting down");
		import_job_free(job);
	}
}

/*
 * POST /api/v1/nationals/import?mission=&map=&date_format=&all_or_nothing=&dry_run=
 * with the file as the body (text/csv or application/json).
 */
void
routes_nationals_import(struct http_ctx *ctx)
{
	import_start(ctx, false);
}

/* POST /api/v1/nationals with one person as a JSON object. */
void
routes_nationals_create(struct http_ctx *ctx)
{
	const char *type =
	    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Content-Type");

	if (type == NULL || strncasecmp(type, "application/json", 16) != 0) {
		http_reply_problem(ctx, 415, "unsupported media type",
		                   "send one person as an application/json object");
		return;
	}
	import_start(ctx, true);
}
