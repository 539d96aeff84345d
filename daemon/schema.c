/*
 * Compares the database's newest applied migration with this build's. The
 * result updates struct daemon, and a change is logged once, so an operator
 * sees "schema outdated" and what to run, not a stream of errors.
 */
#include "schema.h"

#include "build_info.h"
#include "daemon.h"
#include "log.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct schema_pending {
	struct daemon *d;
	schema_check_done_cb cb;
	void *arg;
	struct event *deferred; /* used when the pool refused the query */
	char problem[256];
};

/* Records the outcome in the daemon, logging changes. */
static void
schema_record(struct daemon *d, const struct schema_check *c)
{
	bool was_ok = d->schema_ok;
	bool changed = strcmp(d->schema_problem, c->problem) != 0;

	d->schema_ok = c->database_ok && c->schema_ok;
	if (c->database_ok)
		d->schema_version = c->version;
	snprintf(d->schema_problem, sizeof d->schema_problem, "%s", c->problem);
	if (d->schema_ok && !was_ok) {
		char v[16];
		snprintf(v, sizeof v, "%d", c->version);
		log_info("ready", "schema_version", v);
	} else if (!d->schema_ok && changed) {
		log_warn("not_ready", "reason", c->problem);
	}
}

/* Delivers a result and frees the pending check. */
static void
schema_finish(struct schema_pending *p, const struct schema_check *c)
{
	schema_record(p->d, c);
	if (p->cb != NULL)
		p->cb(c, p->arg);
	if (p->deferred != NULL)
		event_free(p->deferred);
	free(p);
}

/* The database answered (or did not). */
static void
schema_query_done(const struct db_result *r, void *arg)
{
	struct schema_pending *p = arg;
	struct schema_check c = {0};

	c.problem = p->problem;
	if (r->outcome == DB_UNAVAILABLE) {
		snprintf(p->problem, sizeof p->problem, "database unreachable: %s", r->error);
	} else if (r->outcome == DB_SQL_ERROR) {
		c.database_ok = true;
		if (strcmp(r->sqlstate, "42P01") == 0)
			snprintf(
			    p->problem, sizeof p->problem,
			    "schema not migrated: run 'safetyctl migrate' or start with --migrate");
		else if (strcmp(r->sqlstate, "42501") == 0)
			/* Migrated by the owner without granting the role safetyd runs as. */
			snprintf(p->problem, sizeof p->problem,
			         "this role may not read the schema: run 'safetyctl migrate' as "
			         "the owner with [database] migrate_url set, or with --grant ROLE");
		else
			snprintf(p->problem, sizeof p->problem, "schema check failed: %s",
			         r->error);
	} else {
		c.database_ok = true;
		c.version = atoi(PQgetvalue(r->res, 0, 0));
		if (c.version < SAFETY_SCHEMA_VERSION)
			snprintf(p->problem, sizeof p->problem,
			         "schema version %d is older than this build's %d: run 'safetyctl "
			         "migrate' or start with --migrate",
			         c.version, SAFETY_SCHEMA_VERSION);
		else
			c.schema_ok = true;
	}
	schema_finish(p, &c);
}

/* Delivers a refusal on the next loop turn, so callers never re-enter. */
static void
schema_deferred_cb(evutil_socket_t fd, short what, void *arg)
{
	struct schema_pending *p = arg;
	struct schema_check c = {0};

	(void)fd;
	(void)what;
	c.problem = p->problem;
	schema_finish(p, &c);
}

/* Starts one check. */
void
schema_check_start(struct daemon *d, schema_check_done_cb cb, void *arg)
{
	struct schema_pending *p = xcalloc(1, sizeof *p);
	const char *cause = NULL;

	p->d = d;
	p->cb = cb;
	p->arg = arg;
	if (db_pool_query(d->db, "SELECT coalesce(max(version), 0) FROM schema_migration", 0, NULL,
	                  schema_query_done, p, &cause) == 0)
		return;
	snprintf(p->problem, sizeof p->problem, "database unreachable: %s", cause);
	p->deferred = evtimer_new(d->base, schema_deferred_cb, p);
	event_active(p->deferred, EV_TIMEOUT, 0);
}

/* The periodic timer. */
static void
schema_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	schema_check_start(arg, NULL, NULL);
}

/* Starts the periodic check, first run right away. */
void
schema_watch_start(struct daemon *d)
{
	struct timeval tv;

	tv.tv_sec = d->cfg.schema_check_interval_ms / 1000;
	tv.tv_usec = (d->cfg.schema_check_interval_ms % 1000) * 1000;
	d->schema_timer = event_new(d->base, -1, EV_PERSIST, schema_timer_cb, d);
	event_add(d->schema_timer, &tv);
	schema_check_start(d, NULL, NULL);
}
