/*
 * Evacuation plans in safetyd. POST reads the planner's input with one
 * query (plan_input), then everything heavy happens on a worker thread:
 * parsing that input, solving (libsafety's planner), writing the result as
 * JSON. The loop only stores it. Each stage the planner enters is announced
 * on the crisis's event stream (a NOTIFY, so every safetyd's clients see
 * it). GET serves the stored plan as JSON, GeoJSON, CSV manifests or a
 * printable page; publishing numbers the plan and tells every person placed
 * where to go, through the outbox.
 */
#include "routes.h"

#include "audit.h"
#include "daemon.h"
#include "db_reply.h"
#include "log.h"
#include "pg_array.h"
#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <math.h>
#include <safety/plan.h>
#include <safety/secret.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PLAN_SEATS_DEFAULT 45
/*
 * Plans this process makes at once: they share the worker pool with alerts,
 * imports and long replies, which must not wait behind a row of plans (two
 * missions planning at once both get theirs).
 */
#define PLAN_RUNNING_MAX 2

/* For /metrics: plans by outcome and the time they took (the loop's counters). */
static unsigned long long plan_runs[3]; /* started, ready, failed */
static double plan_seconds;
/* Plans of this process between their request and their result (the loop's). */
static int plans_running;
/*
 * The plans this process makes are marked "host/listen#run": at its start and
 * stop, and when any plan is asked for, plans of another run of the same
 * server still running are given up (that run stopped; no result will come).
 */
static char plan_owner[160];

struct plan_job {
	struct daemon *d;
	long long plan_id, crisis_id, mission_id;
	unsigned seats;
	uint32_t max_m;     /* 0: no limit */
	bool counted;       /* in plans_running */
	int store_attempts; /* failed stores of this job */
	char *input_json;   /* from plan_input() */
	char *result_json;  /* made on the worker */
	char err[256];
	struct timespec started;
	_Atomic int stage; /* the planner's stage, set on the worker */
	int seq;           /* of the announcements, on the loop */
	struct event *progress;
};

static const char *const plan_stage_names[] = {"candidates", "flow", "rounding", "groups", "done"};

/* A notification needs no answer. */
static void
plan_ignore(const struct db_result *r, void *arg)
{
	(void)r;
	(void)arg;
}

/* Announces a plan's state on the crisis's event streams, in every process. */
static void
plan_announce(struct daemon *d, long long plan_id, long long crisis_id, long long mission_id,
              const char *state, int seq)
{
	char payload[220];
	const char *params[1] = {payload};
	const char *cause;

	/* seq orders them: notifications sent on different connections may overtake each other. */
	snprintf(payload, sizeof payload,
	         "{\"plan_id\":%lld,\"crisis_id\":%lld,\"mission_id\":%lld,\"state\":\"%s\","
	         "\"seq\":%d}",
	         plan_id, crisis_id, mission_id, state, seq);
	if (d->db == NULL || db_pool_query(d->db, "SELECT pg_notify('safety_plan', $1)", 1, params,
	                                   plan_ignore, NULL, &cause) != 0)
		log_warn("plan_announce_failed", "state", state);
}

/* This process's mark on the plans it makes (see plan_owner). */
static const char *
plan_owner_id(struct daemon *d)
{
	if (plan_owner[0] == '\0') {
		char host[64] = "";
		unsigned char rnd[6];
		char hex[13];

		if (gethostname(host, sizeof host) != 0)
			snprintf(host, sizeof host, "unknown");
		host[sizeof host - 1] = '\0';
		sf_secret_random(rnd, sizeof rnd);
		sf_secret_hex_encode(rnd, sizeof rnd, hex, sizeof hex);
		/* '#' splits the server from the run: neither a host nor an address has one. */
		snprintf(plan_owner, sizeof plan_owner, "%s/%.80s#%s", host, d->cfg.listen, hex);
	}
	return plan_owner;
}

/* Plans given up at a start or a stop: how many, in the log. */
static void
plan_swept(const struct db_result *r, void *arg)
{
	const char *when = arg;

	if (r->outcome != DB_OK)
		log_warn("plan_sweep_failed", "when", when, "error", r->error);
	else if (PQntuples(r->res) == 1 && strcmp(PQgetvalue(r->res, 0, 0), "0") != 0)
		log_info("plans_given_up", "when", when, "plans", PQgetvalue(r->res, 0, 0));
}

void
plans_start(struct daemon *d)
{
	const char *params[1] = {plan_owner_id(d)};
	const char *cause;

	/* An earlier run of this server stopped while making them: no result will come. */
	if (d->db == NULL || db_pool_query(d->db, "SELECT plan_owner_gone($1)", 1, params,
	                                   plan_swept, (void *)"start", &cause) != 0)
		log_warn("plan_sweep_failed", "when", "start", "error", "no database");
}

/* A stop waits for its sweep (plans_settled). */
static bool plans_stopping;

static void
plan_stop_swept(const struct db_result *r, void *arg)
{
	struct daemon *d = arg;

	plan_swept(r, (void *)"stop");
	plans_stopping = false;
	daemon_work_done(d);
}

void
plans_stop(struct daemon *d)
{
	const char *params[1] = {plan_owner_id(d)};
	const char *cause;

	/* The workers stop with the process: its plans being made will have no result. */
	if (plans_running == 0 || d->db == NULL)
		return;
	plans_stopping = true;
	if (db_pool_query(d->db,
	                  "WITH u AS (UPDATE plan SET state = 'failed', finished_at = now(), "
	                  "error = 'given up: the server making it stopped' WHERE owner = $1 "
	                  "AND state = 'running' RETURNING 1) SELECT count(*) FROM u",
	                  1, params, plan_stop_swept, d, &cause) != 0) {
		plans_stopping = false;
		log_warn("plan_sweep_failed", "when", "stop", "error", cause);
	}
}

bool
plans_settled(void)
{
	return !plans_stopping;
}

/* On the worker: a stage began. */
static void
plan_progress(void *arg, enum sf_plan_stage stage)
{
	struct plan_job *job = arg;

	atomic_store(&job->stage, (int)stage);
	event_active(job->progress, EV_TIMEOUT, 0);
}

/* On the loop: say which stage the planner is in. */
static void
plan_progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct plan_job *job = arg;
	int stage = atomic_load(&job->stage);

	(void)fd;
	(void)what;
	if (stage >= 0 && stage <= SF_PLAN_STAGE_DONE)
		plan_announce(job->d, job->plan_id, job->crisis_id, job->mission_id,
		              plan_stage_names[stage], ++job->seq);
}

/* Reads a number member, or def (of the planner's own JSON, as the database wrote it). */
static double
plan_num(const cJSON *o, const char *name, double def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	return cJSON_IsNumber(v) ? v->valuedouble : def;
}

/*
 * Reads a number member of a request, or def when it is absent; *bad is set
 * when it is present but not a number ("max_km": "1" must not mean no limit).
 */
static double
plan_request_num(const cJSON *o, const char *name, double def, bool *bad)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (v == NULL)
		return def;
	if (!cJSON_IsNumber(v)) {
		*bad = true;
		return def;
	}
	return v->valuedouble;
}

static bool
plan_flag(const cJSON *o, const char *name)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* Needs named in the registry, as the planner's bits. */
static unsigned
plan_needs(const cJSON *needs)
{
	const cJSON *n;
	unsigned bits = 0;

	cJSON_ArrayForEach(n, needs)
	{
		if (!cJSON_IsString(n))
			continue;
		if (strcmp(n->valuestring, "medical") == 0)
			bits |= SF_PLAN_NEED_MEDICAL;
		else if (strcmp(n->valuestring, "disability") == 0)
			bits |= SF_PLAN_NEED_WHEELCHAIR;
		else if (strcmp(n->valuestring, "child") == 0)
			bits |= SF_PLAN_NEED_CHILD;
		else if (strcmp(n->valuestring, "elderly") == 0)
			bits |= SF_PLAN_NEED_ELDERLY;
		else if (strcmp(n->valuestring, "pregnant") == 0)
			bits |= SF_PLAN_NEED_PREGNANT;
	}
	return bits;
}

/*
 * The result as JSON: figures, shelters with their load, groups, households.
 * slot[i] is the planner's index of input household i, or -1 for one left
 * out before planning (`extra` people in all): too large for the planner
 * (oversize of them), or given a reason by the input (apart of them, with
 * its members too far apart), and reported unassigned.
 */
static char *
plan_result_json(const cJSON *hs, const cJSON *ss, const cJSON *as,
                 const struct sf_plan_result *res, const int32_t *slot, size_t oversize,
                 size_t apart, uint64_t extra)
{
	cJSON *doc = cJSON_CreateObject(), *stats = cJSON_AddObjectToObject(doc, "stats");
	cJSON *shelters = cJSON_AddArrayToObject(doc, "shelters");
	cJSON *groups = cJSON_AddArrayToObject(doc, "groups");
	cJSON *households = cJSON_AddArrayToObject(doc, "households");
	const cJSON *s, *h;
	size_t i = 0;
	char *text;
	/* Shelter ids by input index: cJSON arrays are lists, too slow to index per household. */
	double *shelter_id = xcalloc((size_t)cJSON_GetArraySize(ss) + 1, sizeof *shelter_id);
	const cJSON **shelter = xcalloc((size_t)cJSON_GetArraySize(ss) + 1, sizeof *shelter);

	cJSON_AddNumberToObject(stats, "people", (double)(res->stats.people + extra));
	cJSON_AddNumberToObject(stats, "people_assigned", (double)res->stats.people_assigned);
	cJSON_AddNumberToObject(stats, "people_unassigned",
	                        (double)(res->stats.people_unassigned + extra));
	/* Those too large for the planner are left out by the relaxation too. */
	cJSON_AddNumberToObject(stats, "lp_unassigned", (double)(res->stats.lp_unassigned + extra));
	cJSON_AddNumberToObject(stats, "households_too_large", (double)oversize);
	cJSON_AddNumberToObject(stats, "households_members_apart", (double)apart);
	cJSON_AddNumberToObject(stats, "cost_person_m", (double)res->stats.cost);
	cJSON_AddNumberToObject(stats, "lower_bound_person_m", (double)res->stats.lower_bound);
	/* The bound is one only for a plan placing as many people as its relaxation. */
	if (res->stats.bound_applies)
		cJSON_AddNumberToObject(stats, "gap", res->stats.gap);
	else
		cJSON_AddNullToObject(stats, "gap");
	cJSON_AddBoolToObject(stats, "bound_applies", res->stats.bound_applies);
	cJSON_AddNumberToObject(stats, "groups", (double)res->stats.groups);
	cJSON_AddNumberToObject(stats, "walk_person_m", (double)res->stats.walk);
	cJSON_ArrayForEach(s, ss)
	{
		cJSON *o = cJSON_Duplicate(s, true);
		shelter[i] = s;
		shelter_id[i] = plan_num(s, "id", 0);
		cJSON_AddNumberToObject(o, "load",
		                        i < res->nshelters ? (double)res->shelter_load[i] : 0);
		cJSON_AddItemToArray(shelters, o);
		i++;
	}
	for (size_t g = 0; g < res->ngroups; g++) {
		const struct sf_plan_group *gr = &res->groups[g];
		const cJSON *sh = gr->shelter >= 0 ? shelter[gr->shelter] : NULL;
		const cJSON *ap =
		    gr->assembly_point >= 0 ? cJSON_GetArrayItem(as, gr->assembly_point) : NULL;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "no", (double)g + 1);
		cJSON_AddNumberToObject(o, "order", gr->order);
		cJSON_AddNumberToObject(o, "shelter_id", plan_num(sh, "id", 0));
		if (ap != NULL) {
			cJSON_AddNumberToObject(o, "assembly_id", plan_num(ap, "id", 0));
			cJSON_AddStringToObject(
			    o, "assembly_name",
			    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ap, "name")));
		} else {
			cJSON_AddNullToObject(o, "assembly_id");
			cJSON_AddNullToObject(o, "assembly_name");
		}
		cJSON_AddNumberToObject(o, "assembly_lat", gr->assembly.lat);
		cJSON_AddNumberToObject(o, "assembly_lon", gr->assembly.lon);
		cJSON_AddNumberToObject(o, "people", gr->people);
		cJSON_AddNumberToObject(o, "vulnerable", gr->vulnerable);
		cJSON_AddNumberToObject(o, "priority", gr->priority);
		cJSON_AddNumberToObject(o, "wave", gr->wave);
		cJSON_AddItemToArray(groups, o);
	}
	i = 0;
	cJSON_ArrayForEach(h, hs)
	{
		int32_t k = slot[i++];
		const struct sf_plan_placement *pl = k >= 0 ? &res->placements[k] : NULL;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddItemToObject(
		    o, "key", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "key"), true));
		cJSON_AddItemToObject(
		    o, "nationals",
		    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "nationals"), true));
		cJSON_AddNumberToObject(o, "people", plan_num(h, "people", 0));
		cJSON_AddItemToObject(
		    o, "needs",
		    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "needs"), true));
		cJSON_AddNumberToObject(o, "priority", plan_num(h, "priority", 0));
		cJSON_AddItemToObject(
		    o, "lat", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "lat"), true));
		cJSON_AddItemToObject(
		    o, "lon", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "lon"), true));
		if (pl == NULL &&
		    cJSON_IsString(cJSON_GetObjectItemCaseSensitive(h, "unassigned"))) {
			/* The input's own reason, as it gave it. */
			const cJSON *detail =
			    cJSON_GetObjectItemCaseSensitive(h, "unassigned_detail");
			cJSON_AddNullToObject(o, "shelter_id");
			cJSON_AddNullToObject(o, "distance_m");
			cJSON_AddItemToObject(
			    o, "unassigned",
			    cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(h, "unassigned"),
			                    true));
			if (cJSON_IsString(detail))
				cJSON_AddItemToObject(o, "unassigned_detail",
				                      cJSON_Duplicate(detail, true));
		} else if (pl == NULL) {
			char why[200];
			cJSON_AddNullToObject(o, "shelter_id");
			cJSON_AddNullToObject(o, "distance_m");
			cJSON_AddStringToObject(o, "unassigned", "too_many_people");
			snprintf(
			    why, sizeof why,
			    "household %s has %.0f people; the planner places households of at "
			    "most %d: split it or place it by hand",
			    cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "key")),
			    plan_num(h, "people", 0), SF_PLAN_HOUSEHOLD_PEOPLE_MAX);
			cJSON_AddStringToObject(o, "unassigned_detail", why);
		} else if (pl->shelter >= 0) {
			cJSON_AddNumberToObject(
			    o, "shelter_id",
			    plan_num(cJSON_GetArrayItem(ss, pl->shelter), "id", 0));
			cJSON_AddNumberToObject(o, "distance_m", pl->distance_m);
			cJSON_AddNullToObject(o, "unassigned");
		} else {
			cJSON_AddNullToObject(o, "shelter_id");
			cJSON_AddNullToObject(o, "distance_m");
			cJSON_AddStringToObject(o, "unassigned",
			                        sf_plan_unassigned_name(pl->unassigned));
		}
		if (pl != NULL && pl->group >= 0)
			cJSON_AddNumberToObject(o, "group", (double)pl->group + 1);
		else
			cJSON_AddNullToObject(o, "group");
		cJSON_AddItemToArray(households, o);
	}
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	free(shelter_id);
	free(shelter);
	return text;
}

/* On a worker: parse the input, plan, write the result. */
static void
plan_work(void *arg)
{
	struct plan_job *job = arg;
	cJSON *in = cJSON_Parse(job->input_json);
	const cJSON *hs, *ss, *as, *o;
	struct sf_plan_household *h = NULL;
	struct sf_plan_shelter *s = NULL;
	struct sf_plan_assembly_point *a = NULL;
	struct sf_plan_input input;
	struct sf_plan_options opt;
	struct sf_plan_result *res = NULL;
	int32_t *slot = NULL;
	size_t i, n, oversize = 0, apart = 0;
	uint64_t extra = 0;

	if (in == NULL) {
		snprintf(job->err, sizeof job->err, "the planner's input could not be read");
		return;
	}
	hs = cJSON_GetObjectItemCaseSensitive(in, "households");
	ss = cJSON_GetObjectItemCaseSensitive(in, "shelters");
	as = cJSON_GetObjectItemCaseSensitive(in, "assembly_points");
	memset(&input, 0, sizeof input);
	input.nhouseholds = (size_t)cJSON_GetArraySize(hs);
	input.nshelters = (size_t)cJSON_GetArraySize(ss);
	input.nassembly_points = (size_t)cJSON_GetArraySize(as);
	h = xcalloc(input.nhouseholds + 1, sizeof *h);
	slot = xcalloc(input.nhouseholds + 1, sizeof *slot);
	s = xcalloc(input.nshelters + 1, sizeof *s);
	a = xcalloc(input.nassembly_points + 1, sizeof *a);
	i = n = 0;
	cJSON_ArrayForEach(o, hs)
	{
		const cJSON *lat = cJSON_GetObjectItemCaseSensitive(o, "lat");
		double people = plan_num(o, "people", 1);
		/*
		 * A household larger than the planner takes is left out and reported,
		 * not a reason to plan nobody.
		 */
		if (people > SF_PLAN_HOUSEHOLD_PEOPLE_MAX) {
			slot[i++] = -1;
			oversize++;
			extra += (uint64_t)people;
			continue;
		}
		/* One the input cannot plan as one (its members far apart) is left to staff. */
		if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "unassigned"))) {
			slot[i++] = -1;
			apart++;
			extra += people >= 1 ? (uint64_t)people : 1;
			continue;
		}
		slot[i++] = (int32_t)n;
		/* No known point: the planner says so (no_location) rather than guessing. */
		h[n].where.lat = cJSON_IsNumber(lat) ? lat->valuedouble : 1000;
		h[n].where.lon = plan_num(o, "lon", 1000);
		h[n].people = people >= 1 ? (uint32_t)people : 1;
		h[n].needs = plan_needs(cJSON_GetObjectItemCaseSensitive(o, "needs"));
		h[n].priority = (int)plan_num(o, "priority", 0);
		h[n].previous = SF_PLAN_NONE;
		n++;
	}
	input.nhouseholds = n;
	i = 0;
	cJSON_ArrayForEach(o, ss)
	{
		s[i].where.lat = plan_num(o, "lat", 0);
		s[i].where.lon = plan_num(o, "lon", 0);
		s[i].capacity = (uint32_t)plan_num(o, "capacity", 0);
		s[i].occupancy = (uint32_t)plan_num(o, "occupancy", 0);
		s[i].facilities = (plan_flag(o, "medical") ? SF_PLAN_FACILITY_MEDICAL : 0) |
		                  (plan_flag(o, "accessible") ? SF_PLAN_FACILITY_ACCESSIBLE : 0);
		s[i].open = plan_flag(o, "open");
		i++;
	}
	i = 0;
	cJSON_ArrayForEach(o, as)
	{
		a[i].where.lat = plan_num(o, "lat", 0);
		a[i].where.lon = plan_num(o, "lon", 0);
		a[i].open = plan_flag(o, "open");
		i++;
	}
	input.households = h;
	input.shelters = s;
	input.assembly_points = a;
	sf_plan_options_init(&opt);
	opt.group_seats = job->seats;
	opt.max_distance_m = job->max_m;
	opt.progress = plan_progress;
	opt.progress_arg = job;
	if (sf_plan_solve(&input, &opt, &res, job->err, sizeof job->err) == 0) {
		job->result_json = plan_result_json(hs, ss, as, res, slot, oversize, apart, extra);
		if (job->result_json == NULL)
			snprintf(job->err, sizeof job->err, "out of memory");
	}
	sf_plan_result_free(res);
	free(h);
	free(slot);
	free(s);
	free(a);
	cJSON_Delete(in);
}

/* The job no longer holds a worker (or never will): another plan may start. */
static void
plan_release(struct plan_job *job)
{
	if (job->counted) {
		job->counted = false;
		plans_running--;
	}
}

static void
plan_job_free(struct plan_job *job)
{
	plan_release(job);
	if (job->progress != NULL)
		event_free(job->progress);
	free(job->input_json);
	free(job->result_json);
	free(job);
}

static void plan_store(struct plan_job *job);

/* The result is stored (or the failure recorded): tell the streams. */
static void
plan_stored(const struct db_result *r, void *arg)
{
	struct plan_job *job = arg;
	struct timespec now;
	double seconds;
	char id[24], ms[24];
	bool ready;

	if (r->outcome != DB_OK) {
		/*
		 * Once more as it was; then, for a result, the failure: a plan left
		 * running would hold the crisis's next plan back.
		 */
		bool result = job->result_json != NULL;
		job->store_attempts++;
		log_error("plan_store_failed", "error", r->error, "detail",
		          job->store_attempts == 1 ? "trying once more"
		          : result                 ? "marking the plan failed"
		                                   : "left to the stop or the next start");
		if (job->store_attempts == 2 && result) {
			free(job->result_json);
			job->result_json = NULL;
			snprintf(job->err, sizeof job->err,
			         "the result could not be stored: %.200s", r->error);
		}
		if (job->store_attempts == 1 || result) {
			plan_store(job);
			return;
		}
	}
	/* No row: the plan was given up meanwhile (or by a stop), and stays failed. */
	ready = job->result_json != NULL && r->outcome == DB_OK && PQntuples(r->res) == 1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	seconds = (double)(now.tv_sec - job->started.tv_sec) +
	          (double)(now.tv_nsec - job->started.tv_nsec) / 1e9;
	plan_seconds += seconds;
	snprintf(id, sizeof id, "%lld", job->plan_id);
	snprintf(ms, sizeof ms, "%.1f", seconds * 1000);
	log_info("plan_finished", "plan_id", id, "state", ready ? "ready" : "failed", "ms", ms);
	plan_runs[ready ? 1 : 2]++;
	plan_announce(job->d, job->plan_id, job->crisis_id, job->mission_id,
	              ready ? "ready" : "failed", ++job->seq);
	plan_job_free(job);
}

/*
 * Stores the result or the failure, only on a plan still running: one given
 * up meanwhile stays failed.
 */
static void
plan_store(struct plan_job *job)
{
	char id[24];
	const char *params[3], *cause = NULL;

	snprintf(id, sizeof id, "%lld", job->plan_id);
	params[0] = id;
	params[1] = job->result_json;
	params[2] = job->result_json != NULL ? NULL : job->err;
	if (job->d->db == NULL ||
	    db_pool_query(job->d->db,
	                  "UPDATE plan SET state = CASE WHEN $2::jsonb IS NULL THEN 'failed' ELSE "
	                  "'ready' END, result = $2::jsonb, error = $3, finished_at = now() "
	                  "WHERE id = $1::bigint AND state = 'running' RETURNING 1",
	                  3, params, plan_stored, job, &cause) != 0) {
		/* The stop gives up this process's plans, and so does its next start. */
		log_error("plan_store_failed", "error", cause != NULL ? cause : "shutting down");
		plan_job_free(job);
	}
}

/* Back on the loop: store what the worker made. */
static void
plan_done(void *arg)
{
	struct plan_job *job = arg;

	/* Before the result is stored: whoever sees it may start the next plan at once. */
	plan_release(job);
	plan_store(job);
}

/* The input came back: hand it to a worker. */
static void
plan_input_done(const struct db_result *r, void *arg)
{
	struct plan_job *job = arg;

	if (r->outcome != DB_OK || PQntuples(r->res) != 1) {
		snprintf(job->err, sizeof job->err, "the planner's input could not be read: %s",
		         r->outcome == DB_OK ? "no row" : r->error);
		plan_done(job);
		return;
	}
	job->input_json = xstrdup(PQgetvalue(r->res, 0, 1));
	job->progress = event_new(job->d->base, -1, 0, plan_progress_cb, job);
	if (worker_pool_submit(job->d->workers, plan_work, plan_done, job) != 0) {
		snprintf(job->err, sizeof job->err, "the server is stopping");
		plan_done(job);
	}
}

/*
 * The statuses a plan may be asked for, in the order a request's set is
 * written; PLAN_STATUSES_ALL is all of them in that order, so a buffer of its
 * size holds any set (and a writer bounded by it cuts, never overruns).
 */
static const char *const plan_statuses[] = {
    "pending", "safe", "needs_help", "injured", "needs_evacuation", "unreachable", "unknown"};
#define PLAN_STATUSES_ALL "{pending,safe,needs_help,injured,needs_evacuation,unreachable,unknown}"

struct plan_start {
	struct http_ctx *ctx;
	struct plan_job *job;
	char statuses[sizeof PLAN_STATUSES_ALL];
};

#define PLAN_NSTATUSES (sizeof plan_statuses / sizeof plan_statuses[0])

/*
 * A plan's request was refused: 409 with the reason when the crisis is not
 * active, a newer plan was published, a plan is being made or its shelters
 * no longer take it (55000, raised by the plan functions of sql/), otherwise
 * as any failed query.
 */
static void
plan_reply_error(struct http_ctx *ctx, const struct db_result *r)
{
	if (r->outcome == DB_SQL_ERROR && strcmp(r->sqlstate, "55000") == 0)
		http_reply_problem(ctx, 409, "conflict", r->error);
	else if (r->outcome == DB_SQL_ERROR && strcmp(r->sqlstate, "53400") == 0) {
		/* This server makes as many plans as it may (plan_create's p_full). */
		http_add_header(ctx, "Retry-After", "5");
		http_reply_problem(ctx, 503, "service unavailable", r->error);
	} else
		db_reply_error(ctx, r);
}

/* A publish or a move waiting for its answer. */
struct plan_reply {
	struct http_ctx *ctx;
	int status;
	const char *not_found; /* static */
};

/* The answer is the first cell's JSON; no row (or NULL) is 404. */
static void
plan_replied(const struct db_result *r, void *arg)
{
	struct plan_reply *pr = arg;

	if (r->outcome != DB_OK)
		plan_reply_error(pr->ctx, r);
	else if (PQntuples(r->res) == 0 || PQgetisnull(r->res, 0, 0))
		http_reply_problem(pr->ctx, 404, "not found", pr->not_found);
	else
		http_reply_bytes(pr->ctx, pr->status, "application/json", PQgetvalue(r->res, 0, 0),
		                 (size_t)PQgetlength(r->res, 0, 0));
	free(pr);
}

/* Runs a plan's statement and answers with its JSON (the pool copies the parameters). */
static void
plan_reply_json(struct http_ctx *ctx, int status, const char *not_found, const char *sql,
                int nparams, const char *const *params)
{
	struct plan_reply *pr = xcalloc(1, sizeof *pr);
	const char *cause;

	pr->ctx = ctx;
	pr->status = status;
	pr->not_found = not_found;
	if (db_pool_query(ctx->d->db, sql, nparams, params, plan_replied, pr, &cause) != 0) {
		free(pr);
		http_reply_problem(ctx, 503, "service unavailable", cause);
	}
}

/* The plan row exists: answer 202 and gather the input. */
static void
plan_created(const struct db_result *r, void *arg)
{
	struct plan_start *ps = arg;
	struct plan_job *job = ps->job;
	struct http_ctx *ctx = ps->ctx;
	char crisis[24], mission[24];
	const char *params[3], *cause = NULL;

	if (r->outcome != DB_OK || PQntuples(r->res) != 1) {
		if (r->outcome != DB_OK)
			plan_reply_error(ctx, r);
		else
			http_reply_problem(ctx, 404, "not found",
			                   "no such crisis for this mission");
		plan_release(job);
		free(job);
		free(ps);
		return;
	}
	job->plan_id = atoll(PQgetvalue(r->res, 0, 0));
	http_add_header(ctx, "Location", PQgetvalue(r->res, 0, 1));
	http_reply_bytes(ctx, 202, "application/json", PQgetvalue(r->res, 0, 2),
	                 (size_t)PQgetlength(r->res, 0, 2));
	plan_announce(job->d, job->plan_id, job->crisis_id, job->mission_id, "running", 0);
	plan_runs[0]++;
	log_info("plan_started", "plan_id", PQgetvalue(r->res, 0, 0));
	clock_gettime(CLOCK_MONOTONIC, &job->started);
	snprintf(crisis, sizeof crisis, "%lld", job->crisis_id);
	snprintf(mission, sizeof mission, "%lld", job->mission_id);
	params[0] = crisis;
	params[1] = mission;
	params[2] = ps->statuses;
	/* The pool copies the parameters: ps may go once the query is queued. */
	if (db_pool_query(job->d->db,
	                  "SELECT 1, plan_input($1::bigint, $2::bigint, $3::text[])::text", 3,
	                  params, plan_input_done, job, &cause) != 0) {
		snprintf(job->err, sizeof job->err, "%s", cause);
		plan_done(job);
	}
	free(ps);
}

/*
 * POST /api/v1/crises/{id}/plans {statuses, seats, max_km, mission_id}:
 * plans the evacuation of the people in those statuses (default
 * needs_evacuation) and their households; 202 with the plan's id at once,
 * 409 when the crisis is not active or a plan of it is being made for the
 * mission, 503 when this server is making as many plans as it may.
 */
void
routes_plans_create(struct http_ctx *ctx)
{
	struct plan_start *ps;
	struct plan_job *job;
	cJSON *body, *statuses, *st, *params_json;
	char id[24], mission_buf[24], *params_text;
	const char *params[6], *cause = NULL;
	struct audit_who who;
	unsigned status_set = 0;
	double seats, max_km, max_m;
	long long mission_id;
	bool full;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	{
		/* A misspelt limit ("max_distance_km") must not mean no limit. */
		static const char *const known[] = {"statuses", "seats", "max_km", "mission_id", NULL};
		if (!http_json_known(ctx, body, known)) {
			cJSON_Delete(body);
			return;
		}
	}
	{
		bool bad = false;
		double mission_num;

		seats = plan_request_num(body, "seats", PLAN_SEATS_DEFAULT, &bad);
		max_km = plan_request_num(body, "max_km", 0, &bad);
		mission_num = plan_request_num(body, "mission_id", 0, &bad);
		if (bad || mission_num != floor(mission_num) || seats != floor(seats)) {
			http_reply_problem(ctx, 400, "bad request",
			                   "seats and mission_id are whole numbers, max_km a number "
			                   "(not a string)");
			cJSON_Delete(body);
			return;
		}
		mission_id = ctx->principal.mission_id > 0 ? ctx->principal.mission_id
		                                           : (long long)mission_num;
	}
	if (mission_id <= 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "mission_id: required for accounts that see every mission");
		cJSON_Delete(body);
		return;
	}
	/* In metres, as the planner takes it: 0.5 km is 500 m, not "no limit". */
	max_m = max_km >= 0 && max_km <= 5000 ? (double)lround(max_km * 1000) : -1;
	if (seats < 1 || seats > 1000 || max_m < 0 || (max_km > 0 && max_m == 0)) {
		http_reply_problem(
		    ctx, 400, "bad request",
		    "seats: 1 to 1000 per vehicle; max_km: 0 (no limit), or 0.001 (1 m) "
		    "to 5000");
		cJSON_Delete(body);
		return;
	}
	/* A set: a status named twice is named once, and the written set always fits. */
	statuses = cJSON_GetObjectItemCaseSensitive(body, "statuses");
	if (statuses == NULL)
		status_set = pg_name_bit(plan_statuses, PLAN_NSTATUSES, "needs_evacuation");
	else if (!cJSON_IsArray(statuses) || cJSON_GetArraySize(statuses) == 0)
		goto bad_statuses;
	cJSON_ArrayForEach(st, statuses)
	{
		unsigned bit = cJSON_IsString(st)
		                   ? pg_name_bit(plan_statuses, PLAN_NSTATUSES, st->valuestring)
		                   : 0;
		if (bit == 0)
			goto bad_statuses;
		status_set |= bit;
	}
	ps = xcalloc(1, sizeof *ps);
	pg_name_set_literal(plan_statuses, PLAN_NSTATUSES, status_set, ps->statuses,
	                    sizeof ps->statuses);
	job = xcalloc(1, sizeof *job);
	job->d = ctx->d;
	job->crisis_id = atoll(id);
	job->mission_id = mission_id;
	job->seats = (unsigned)seats;
	job->max_m = (uint32_t)max_m;
	/*
	 * Counted from now: the limit holds while the row is made, too. At the
	 * limit, plan_create still says first whether a plan of this crisis is
	 * being made (409), then refuses (503).
	 */
	full = plans_running >= PLAN_RUNNING_MAX;
	if (!full) {
		job->counted = true;
		plans_running++;
	}
	atomic_init(&job->stage, -1);
	ps->ctx = ctx;
	ps->job = job;
	params_json = cJSON_CreateObject();
	cJSON_AddRawToObject(params_json, "statuses", "[]");
	cJSON_AddNumberToObject(params_json, "seats", job->seats);
	/* What the planner uses, to the metre. */
	cJSON_AddNumberToObject(params_json, "max_km", (double)job->max_m / 1000);
	params_text = cJSON_PrintUnformatted(params_json);
	cJSON_Delete(params_json);
	snprintf(mission_buf, sizeof mission_buf, "%lld", mission_id);
	audit_params(ctx, &who, params);
	params[4] = id;
	params[5] = mission_buf;
	{
		const char *p[10] = {params[0],
		                     params[1],
		                     params[2],
		                     params[3],
		                     params[4],
		                     params[5],
		                     params_text,
		                     ps->statuses,
		                     plan_owner_id(ctx->d),
		                     full ? "true" : "false"};
		if (db_pool_query(ctx->d->db,
		                  "SELECT plan_id, location, answer FROM plan_create($5::bigint, "
		                  "$6::bigint, $7::jsonb, $8::text[], $1, $2, $3::bigint, $4, $9, "
		                  "$10::boolean)",
		                  10, p, plan_created, ps, &cause) != 0) {
			plan_release(job);
			free(job);
			free(ps);
			http_add_header(ctx, "Retry-After", "1");
			http_reply_problem(ctx, 503, "database unavailable", cause);
		}
	}
	free(params_text);
	cJSON_Delete(body);
	return;
bad_statuses:
	http_reply_problem(ctx, 400, "bad request",
	                   "statuses: a list of pending, safe, needs_help, injured, "
	                   "needs_evacuation, unreachable, unknown");
	cJSON_Delete(body);
}

/*
 * GET /api/v1/plans/{id}[?format=geojson|csv|html]: the plan; GeoJSON of its
 * groups, assembly points, shelters and the lines between them; a CSV
 * manifest (one line per person who still travels); a printable page per
 * vehicle group.
 */
void
routes_plans_get(struct http_ctx *ctx)
{
	char id[24], scope[24], fmt[16];
	const char *params[2];
	const char *format = http_query(ctx, "format", fmt, sizeof fmt);

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
#define PLAN_OF "FROM plan p WHERE p.id = $2::bigint AND ($1::bigint IS NULL OR p.mission_id = $1) "
	if (format == NULL || strcmp(format, "json") == 0) {
		db_reply_json(ctx, 200, "no such plan",
		              "SELECT json_build_object('id', p.id, 'crisis_id', p.crisis_id, "
		              "'mission_id', p.mission_id, 'state', p.state, 'version', p.version, "
		              "'params', p.params, 'error', p.error, 'created_by', p.created_by, "
		              "'created_at', p.created_at, 'finished_at', p.finished_at, "
		              "'published_at', p.published_at, 'result', p.result, "
		              "'undelivered', plan_undelivered(p.id))::text " PLAN_OF,
		              2, params);
	} else if (strcmp(format, "geojson") == 0) {
		db_reply_text(
		    ctx, "application/geo+json",
		    "SELECT json_build_object('type', 'FeatureCollection', 'features', "
		    " coalesce((SELECT json_agg(f) FROM ("
		    "  SELECT json_build_object('type', 'Feature', 'geometry', "
		    "json_build_object('type', "
		    "   'Point', 'coordinates', json_build_array((s->>'lon')::float8, "
		    "   (s->>'lat')::float8)), 'properties', json_build_object('kind', 'shelter', "
		    "'id', "
		    "   s->'id', 'name', s->'name', 'capacity', s->'capacity', 'load', s->'load')) "
		    "AS f "
		    "  FROM jsonb_array_elements(p.result->'shelters') s "
		    "  UNION ALL SELECT json_build_object('type', 'Feature', 'geometry', "
		    "   json_build_object('type', 'Point', 'coordinates', json_build_array("
		    "   (g->>'assembly_lon')::float8, (g->>'assembly_lat')::float8)), "
		    "'properties', "
		    "   json_build_object('kind', 'assembly', 'group', g->'no', 'order', "
		    "g->'order', "
		    "   'people', g->'people', 'name', g->'assembly_name')) "
		    "  FROM jsonb_array_elements(p.result->'groups') g "
		    "  UNION ALL SELECT json_build_object('type', 'Feature', 'geometry', "
		    "   json_build_object('type', 'LineString', 'coordinates', json_build_array("
		    "   json_build_array((g->>'assembly_lon')::float8, "
		    "(g->>'assembly_lat')::float8), "
		    "   json_build_array((s->>'lon')::float8, (s->>'lat')::float8))), "
		    "'properties', "
		    "   json_build_object('kind', 'route', 'group', g->'no', 'shelter_id', "
		    "   g->'shelter_id')) FROM jsonb_array_elements(p.result->'groups') g "
		    "   JOIN jsonb_array_elements(p.result->'shelters') s ON s->'id' = "
		    "g->'shelter_id') "
		    " x), '[]'))::text " PLAN_OF "AND p.result IS NOT NULL",
		    2, params);
	} else if (strcmp(format, "csv") == 0) {
		db_reply_text(
		    ctx, "text/csv; charset=utf-8",
		    /* A plan that placed nobody is the header alone, not "no such plan". The
		       byte order mark makes spreadsheets read the Hangul names as UTF-8. */
		    "SELECT E'\\uFEFF' || "
		    "'group,departure,assembly_lat,assembly_lon,shelter_id,shelter,national_id,"
		    "name' || E'\\n' || coalesce((SELECT string_agg(concat_ws(',', g.no, g.ord + "
		    "1, "
		    " round(g.alat::numeric, 5), round(g.alon::numeric, 5), g.sid, "
		    " csv_quoted(s.name), n.id, csv_quoted(coalesce(n.name_latin, n.name_ko))), "
		    " E'\\n' "
		    " ORDER BY g.ord, n.id) || E'\\n' "
		    "FROM jsonb_to_recordset(p.result->'households') AS "
		    " h(nationals bigint[], \"group\" int) "
		    "JOIN LATERAL (SELECT (x->>'no')::int AS no, (x->>'order')::int AS ord, "
		    " (x->>'assembly_lat')::float8 AS alat, (x->>'assembly_lon')::float8 AS alon, "
		    " (x->>'shelter_id')::bigint AS sid FROM "
		    "jsonb_array_elements(p.result->'groups') x "
		    " WHERE (x->>'no')::int = h.\"group\") g ON true "
		    "JOIN shelter s ON s.id = g.sid JOIN national n ON n.id = ANY (h.nationals) "
		    " AND plan_member_travels(p.crisis_id, n.id)), "
		    "'') "
		    "FROM plan p "
		    "WHERE p.id = $2::bigint AND ($1::bigint IS NULL OR p.mission_id = $1)",
		    2, params);
	} else if (strcmp(format, "html") == 0) {
		db_reply_text(
		    ctx, "text/html; charset=utf-8",
		    "SELECT '<!doctype html>' || xmlelement(name html, xmlattributes('en' AS "
		    "lang), "
		    " xmlelement(name head, xmlelement(name meta, xmlattributes('utf-8' AS "
		    "charset)), "
		    "  xmlelement(name title, 'Evacuation manifest, plan ' || p.id), "
		    "  xmlelement(name link, xmlattributes('stylesheet' AS rel, "
		    "  '/static/manifest.css' AS href))), "
		    " xmlelement(name body, (SELECT xmlagg(xmlelement(name section, "
		    "  xmlelement(name h1, 'Group ' || g.no || ' - departure ' || (g.ord + 1)), "
		    "  xmlelement(name p, 'Meet at ' || coalesce(g.aname, round(g.alat::numeric, "
		    "5) || "
		    "   ', ' || round(g.alon::numeric, 5)) || '. To: ' || s.name || '. People: ' "
		    "|| "
		    "   (SELECT count(*) FROM jsonb_to_recordset(p.result->'households') AS "
		    "   h(nationals bigint[], \"group\" int), unnest(h.nationals) AS m(id) "
		    "   WHERE h.\"group\" = g.no AND plan_member_travels(p.crisis_id, m.id)) || "
		    "'.'), "
		    "  xmlelement(name table, xmlelement(name tr, xmlelement(name th, 'Present'), "
		    "   xmlelement(name th, 'Name'), xmlelement(name th, 'Id')), "
		    "   (SELECT xmlagg(xmlelement(name tr, xmlelement(name td, ''), "
		    "xmlelement(name td, "
		    "    coalesce(n.name_latin, n.name_ko)), xmlelement(name td, n.id)) ORDER BY "
		    "n.id) "
		    "    FROM jsonb_to_recordset(p.result->'households') AS h(nationals bigint[], "
		    "    \"group\" int) JOIN national n ON n.id = ANY (h.nationals) "
		    "    WHERE h.\"group\" = g.no AND plan_member_travels(p.crisis_id, n.id)))) "
		    "  ORDER BY g.ord) "
		    "  FROM (SELECT (x->>'no')::int AS no, (x->>'order')::int AS ord, "
		    "   (x->>'assembly_lat')::float8 AS alat, (x->>'assembly_lon')::float8 AS "
		    "alon, "
		    "   x->>'assembly_name' AS aname, (x->>'people')::int AS people, "
		    "   (x->>'shelter_id')::bigint AS sid FROM "
		    "jsonb_array_elements(p.result->'groups') x) g "
		    "  JOIN shelter s ON s.id = g.sid)))::text " PLAN_OF "AND p.result IS NOT NULL",
		    2, params);
	} else {
		http_reply_problem(ctx, 400, "bad request", "format: json, geojson, csv or html");
	}
#undef PLAN_OF
}

/*
 * POST /api/v1/plans/{id}/publish: numbers the plan and tells everyone placed
 * who still travels, and those the plan it supersedes placed and it does not
 * that their instructions are cancelled; 409 when the crisis is not active,
 * a plan published since this one was made is not part of it, or a shelter
 * it sends people to closed or filled.
 */
void
routes_plans_publish(struct http_ctx *ctx)
{
	char id[24], scope[24];
	struct audit_who who;
	const char *params[6];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	audit_params(ctx, &who, params);
	params[4] = id;
	params[5] = auth_scope_param(ctx, scope);
	plan_reply_json(ctx, 200, "no such plan, or it is not ready to publish",
	                "SELECT plan_publish($5::bigint, $6::bigint, $1, $2, $3::bigint, $4)::text",
	                6, params);
}

/*
 * POST /api/v1/plans/{id}/cancel: gives up a plan being made (its server
 * hangs or stopped), so the crisis may be planned again; a result coming
 * later is not stored. 404 when the plan is not being made.
 */
void
routes_plans_cancel(struct http_ctx *ctx)
{
	char id[24], scope[24];
	struct audit_who who;
	const char *params[6];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	audit_params(ctx, &who, params);
	params[4] = id;
	params[5] = auth_scope_param(ctx, scope);
	plan_reply_json(ctx, 200, "no such plan, or it is not being made",
	                "SELECT plan_give_up($5::bigint, $6::bigint, $1, $2, $3::bigint, $4)::text",
	                6, params);
}

/*
 * POST /api/v1/plans/{id}/moves {"household": KEY, "shelter_id": N,
 * "assembly_id": M}: a new plan with that household at that shelter (checked
 * against the shelter's room and facilities), gathering at assembly point M
 * if given (required for a household with no known place), ready to
 * publish; 409 when the crisis is not active.
 */
void
routes_plans_move(struct http_ctx *ctx)
{
	char id[24], scope[24], shelter[24], assembly[24];
	struct audit_who who;
	const char *who_params[AUDIT_NPARAMS], *params[8];
	cJSON *body, *hh, *sh, *ap;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	hh = cJSON_GetObjectItemCaseSensitive(body, "household");
	sh = cJSON_GetObjectItemCaseSensitive(body, "shelter_id");
	ap = cJSON_GetObjectItemCaseSensitive(body, "assembly_id");
	/* Ids are whole: 2.5 must not be rounded to some other shelter. */
	if (!cJSON_IsString(hh) || strlen(hh->valuestring) > 64 || !cJSON_IsNumber(sh) ||
	    sh->valuedouble < 1 || sh->valuedouble > 1e15 ||
	    sh->valuedouble != floor(sh->valuedouble) ||
	    (ap != NULL && !cJSON_IsNull(ap) &&
	     (!cJSON_IsNumber(ap) || ap->valuedouble < 1 || ap->valuedouble > 1e15 ||
	      ap->valuedouble != floor(ap->valuedouble)))) {
		http_reply_problem(ctx, 400, "bad request",
		                   "household: the key of a household of the plan; shelter_id: a "
		                   "shelter's id (a whole number); assembly_id (optional): an "
		                   "assembly point's id");
		cJSON_Delete(body);
		return;
	}
	snprintf(shelter, sizeof shelter, "%.0f", sh->valuedouble);
	if (cJSON_IsNumber(ap))
		snprintf(assembly, sizeof assembly, "%.0f", ap->valuedouble);
	audit_params(ctx, &who, who_params);
	params[0] = id;
	params[1] = auth_scope_param(ctx, scope);
	params[2] = hh->valuestring;
	params[3] = shelter;
	params[4] = who_params[0];
	params[5] = who_params[1];
	params[6] = who_params[3];
	params[7] = cJSON_IsNumber(ap) ? assembly : NULL;
	/* The pool copies the parameters, so the body can go after. */
	plan_reply_json(ctx, 201, "no such plan, or it cannot be changed",
	                "SELECT r::text FROM plan_move($1::bigint, $2::bigint, $3, $4::bigint, $5, "
	                "$6, $7, $8::bigint) r WHERE r IS NOT NULL",
	                8, params);
	cJSON_Delete(body);
}

void
plans_metrics(struct evbuffer *out)
{
	evbuffer_add_printf(
	    out,
	    "# HELP safety_plans_total Evacuation plans by outcome.\n"
	    "# TYPE safety_plans_total counter\n"
	    "safety_plans_total{outcome=\"started\"} %llu\n"
	    "safety_plans_total{outcome=\"ready\"} %llu\n"
	    "safety_plans_total{outcome=\"failed\"} %llu\n"
	    "# HELP safety_plan_seconds_total Time plans took, from request to stored.\n"
	    "# TYPE safety_plan_seconds_total counter\nsafety_plan_seconds_total %.3f\n",
	    plan_runs[0], plan_runs[1], plan_runs[2], plan_seconds);
}
