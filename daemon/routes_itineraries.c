/*
 * POST /api/v1/itineraries/import?mission=&source=&date_format=&dry_run=:
 * a partner's itineraries (a travel agency's bookings, an airline's
 * manifest) as CSV or JSON, a row per leg. The file is read by the
 * registry's import module in itinerary mode (the same rules and row-level
 * errors as an import of nationals, plus country, place and region) on a
 * worker thread; the good rows go to itinerary_import() in one statement,
 * which places each leg, matches or adds its traveller, and says which rows
 * it could not place.
 */
#include "routes.h"

#include "auth.h"
#include "daemon.h"
#include "db_reply.h"
#include "log.h"
#include "worker.h"
#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <safety/import.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The most legs one file may hold. */
#define ITINERARY_ROWS_MAX 50000
/* A file of 50,000 legs is stored in about 10 s on a 2-core machine; a
 * limit well past that still ends a statement stuck behind a lock. */
#define ITINERARY_TIMEOUT_MS 300000

struct itinerary_job {
	struct http_ctx *ctx;
	char *data;
	size_t len;
	char mission[24], country[3], source[101], actor[72], role[24], addr[64];
	enum sf_import_format format;
	enum sf_date_format date_format;
	bool dry_run;
	struct sf_import_result *parsed;
	int rc;
};

static void
itinerary_job_free(struct itinerary_job *job)
{
	if (job->data != NULL) {
		memset(job->data, 0, job->len);
		free(job->data);
	}
	sf_import_result_free(job->parsed);
	free(job);
}

/* On a worker thread: read the file. */
static void
itinerary_parse(void *arg)
{
	struct itinerary_job *job = arg;
	struct sf_import_options opt;

	sf_import_options_init(&opt);
	opt.format = job->format;
	opt.default_country = job->country;
	opt.date_format = job->date_format;
	opt.itinerary = true;
	opt.max_rows = ITINERARY_ROWS_MAX;
	job->rc = sf_import_parse(job->data, job->len, &opt, &job->parsed);
}

static cJSON *
itinerary_errors(const struct sf_import_result *p)
{
	cJSON *errors = cJSON_CreateArray();

	for (size_t i = 0; p != NULL && i < p->nerrors; i++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddNumberToObject(e, "line", (double)p->errors[i].line);
		cJSON_AddStringToObject(e, "field", p->errors[i].field);
		cJSON_AddStringToObject(e, "reason", p->errors[i].reason);
		cJSON_AddItemToArray(errors, e);
	}
	return errors;
}

static void
itinerary_add(cJSON *o, const char *key, const char *value)
{
	if (value != NULL)
		cJSON_AddStringToObject(o, key, value);
}

/* The database's answer: the file's errors and the rows it refused, together. */
static void
itinerary_stored(const struct db_result *r, void *arg)
{
	struct itinerary_job *job = arg;
	cJSON *out, *errors, *refused, *x;
	int nrefused;

	if (r->outcome != DB_OK || PQntuples(r->res) != 1) {
		if (r->outcome == DB_OK)
			http_reply_problem(job->ctx, 404, "not found", "no such mission");
		else
			db_reply_error(job->ctx, r);
		itinerary_job_free(job);
		return;
	}
	out = cJSON_Parse(PQgetvalue(r->res, 0, 0));
	errors = itinerary_errors(job->parsed);
	refused = cJSON_DetachItemFromObject(out, "refused");
	nrefused = cJSON_GetArraySize(refused);
	cJSON_ArrayForEach(x, refused)
	{
		cJSON_AddItemToArray(errors, cJSON_Duplicate(x, true));
	}
	cJSON_Delete(refused);
	cJSON_AddNumberToObject(out, "rows", (double)job->parsed->records);
	cJSON_AddNumberToObject(out, "bad_rows", (double)job->parsed->bad_rows + nrefused);
	cJSON_AddItemToObject(out, "errors", errors);
	http_reply_json(job->ctx, 200, out);
	itinerary_job_free(job);
}

/* On the loop: the file is read; send the good rows. */
static void
itinerary_parsed(void *arg)
{
	struct itinerary_job *job = arg;
	struct sf_import_result *p = job->parsed;
	cJSON *rows;
	char *text;
	const char *params[7];

	if (p == NULL || p->file_error) {
		cJSON *body = cJSON_CreateObject();
		cJSON_AddBoolToObject(body, "file_refused", true);
		cJSON_AddItemToObject(body, "errors", itinerary_errors(p));
		http_reply_json(job->ctx, 422, body);
		itinerary_job_free(job);
		return;
	}
	rows = cJSON_CreateArray();
	for (size_t i = 0; i < p->nrows; i++) {
		const struct sf_import_row *row = &p->rows[i];
		cJSON *o = cJSON_CreateObject(), *a;
		cJSON_AddNumberToObject(o, "line", (double)row->line);
		itinerary_add(o, "name_ko", row->name_ko);
		itinerary_add(o, "name_latin", row->name_latin);
		itinerary_add(o, "name_key", row->name_key);
		itinerary_add(o, "birth_date", row->birth_date);
		itinerary_add(o, "passport_no", row->passport_no);
		a = cJSON_AddArrayToObject(o, "phones");
		for (size_t k = 0; k < row->nphones; k++)
			cJSON_AddItemToArray(a, cJSON_CreateString(row->phones[k]));
		a = cJSON_AddArrayToObject(o, "emails");
		for (size_t k = 0; k < row->nemails; k++)
			cJSON_AddItemToArray(a, cJSON_CreateString(row->emails[k]));
		itinerary_add(o, "country", row->country);
		itinerary_add(o, "place", row->place);
		itinerary_add(o, "region", row->region);
		if (row->has_point) {
			cJSON_AddNumberToObject(o, "lat", row->lat);
			cJSON_AddNumberToObject(o, "lon", row->lon);
		}
		itinerary_add(o, "arrival", row->arrival_date);
		itinerary_add(o, "departure", row->departure_date);
		cJSON_AddItemToArray(rows, o);
	}
	text = cJSON_PrintUnformatted(rows);
	cJSON_Delete(rows);
	params[0] = job->mission;
	params[1] = job->source;
	params[2] = text;
	params[3] = job->dry_run ? "true" : "false";
	params[4] = job->actor;
	params[5] = job->role;
	params[6] = job->addr;
	/* Past the pool's query timeout for a large file: on a connection of its own. */
	db_query_long(job->ctx->d,
	              "SELECT itinerary_import($1::bigint, $2, $3::jsonb, $4::boolean, $5, $6, $7) "
	              "FROM mission WHERE id = $1::bigint",
	              7, params, ITINERARY_TIMEOUT_MS, itinerary_stored, job);
	memset(text, 0, strlen(text));
	free(text);
}

/* The mission's country is known: read the file on a worker. */
static void
itinerary_mission_loaded(const struct db_result *r, void *arg)
{
	struct itinerary_job *job = arg;

	if (r->outcome != DB_OK) {
		db_reply_error(job->ctx, r);
		itinerary_job_free(job);
		return;
	}
	if (PQntuples(r->res) != 1) {
		http_reply_problem(job->ctx, 404, "not found", "no such mission");
		itinerary_job_free(job);
		return;
	}
	snprintf(job->country, sizeof job->country, "%s", PQgetvalue(r->res, 0, 0));
	if (worker_pool_submit(job->ctx->d->workers, itinerary_parse, itinerary_parsed, job) != 0) {
		http_reply_problem(job->ctx, 503, "service unavailable", "shutting down");
		itinerary_job_free(job);
	}
}

void
routes_itineraries_import(struct http_ctx *ctx)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
	const char *type =
	    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Content-Type");
	char scope[24], buf[128];
	const char *v, *mission = auth_scope_param(ctx, scope), *params[1], *cause;
	struct itinerary_job *job;
	size_t len = evbuffer_get_length(in);

	if (len == 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "the body is empty: send the file itself");
		return;
	}
	/* Only the first of a repeated parameter would be read: refused instead. */
	if (!http_query_single(ctx, NULL))
		return;
	job = xcalloc(1, sizeof *job);
	job->ctx = ctx;
	v = http_query(ctx, "mission", buf, sizeof buf);
	if (mission == NULL) {
		if (v == NULL || !http_is_id(v)) {
			http_reply_problem(ctx, 400, "bad request",
			                   "mission: required for accounts that see every mission");
			itinerary_job_free(job);
			return;
		}
		snprintf(job->mission, sizeof job->mission, "%s", v);
	} else if (v != NULL && strcmp(v, mission) != 0) {
		http_reply_problem(ctx, 404, "not found", "no such mission");
		itinerary_job_free(job);
		return;
	} else {
		snprintf(job->mission, sizeof job->mission, "%s", mission);
	}
	v = http_query(ctx, "source", buf, sizeof buf);
	if (v == NULL || *v == '\0' || strlen(v) > 100) {
		http_reply_problem(
		    ctx, 400, "bad request",
		    "source: who sent the file (a partner's name, at most 100 bytes)");
		itinerary_job_free(job);
		return;
	}
	snprintf(job->source, sizeof job->source, "%s", v);
	job->format = SF_IMPORT_AUTO;
	if (type != NULL && strncasecmp(type, "text/csv", 8) == 0)
		job->format = SF_IMPORT_CSV;
	else if (type != NULL && strncasecmp(type, "application/json", 16) == 0)
		job->format = SF_IMPORT_JSON;
	job->date_format = SF_DATE_ISO;
	v = http_query(ctx, "date_format", buf, sizeof buf);
	if (v != NULL && sf_date_parse_format_name(v, &job->date_format) != 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "date_format: iso, dotted, dmy, mdy or compact");
		itinerary_job_free(job);
		return;
	}
	if (!http_query_flag(ctx, "dry_run", &job->dry_run)) {
		itinerary_job_free(job);
		return;
	}
	snprintf(job->actor, sizeof job->actor, "%s", ctx->principal.name);
	snprintf(job->role, sizeof job->role, "%s", auth_actor_role(&ctx->principal));
	snprintf(job->addr, sizeof job->addr, "%s", ctx->client_addr);
	job->data = xmalloc(len + 1);
	evbuffer_copyout(in, job->data, len);
	job->data[len] = '\0';
	job->len = len;
	params[0] = job->mission;
	if (db_pool_query(ctx->d->db, "SELECT default_country FROM mission WHERE id = $1::bigint",
	                  1, params, itinerary_mission_loaded, job, &cause) != 0) {
		http_reply_problem(ctx, 503, "service unavailable", cause);
		itinerary_job_free(job);
	}
}
