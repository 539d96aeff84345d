/*
 * The retention timer. Each run is one statement: take the advisory lock
 * if nobody holds it, purge, audit the counts. Failures are logged and the
 * next run tries again.
 */
#include "retention.h"

#include "daemon.h"
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The audit chain's newest row, recorded outside the database: rows removed
 * from the end of the chain, or the chain rewritten by someone who can write
 * the table, are found against it (safetyctl audit verify --head ID:HASH).
 */
static void
retention_head_done(const struct db_result *r, void *arg)
{
	(void)arg;
	if (r->outcome == DB_OK && PQntuples(r->res) == 1)
		log_info("audit_head", "id", PQgetvalue(r->res, 0, 0), "hash",
		         PQgetvalue(r->res, 0, 1));
}

/* The purge answered. */
static void
retention_done(const struct db_result *r, void *arg)
{
	struct daemon *d = arg;
	char n[24];
	const char *cause;

	if (r->outcome != DB_OK) {
		log_warn("retention_failed", "error", r->error);
		return;
	}
	if (PQgetisnull(r->res, 0, 0))
		return; /* another safetyd holds the lock */
	snprintf(n, sizeof n, "%s", PQgetvalue(r->res, 0, 0));
	log_info("retention_purge", "travellers_removed", n);
	/* Read once the purge's own audit row is committed, so the head covers it. */
	if (db_pool_query(d->db, "SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1", 0, NULL,
	                  retention_head_done, NULL, &cause) != 0)
		log_warn("audit_head_skipped", "error", cause);
}

/* Staff sessions that no longer let anyone in were removed. */
static void
retention_sessions_done(const struct db_result *r, void *arg)
{
	(void)arg;
	if (r->outcome != DB_OK) {
		log_warn("session_purge_failed", "error", r->error);
		return;
	}
	if (PQntuples(r->res) == 1 && strcmp(PQgetvalue(r->res, 0, 0), "0") != 0)
		log_info("session_purge", "sessions_removed", PQgetvalue(r->res, 0, 0));
}

/*
 * Sessions are kept only while they may still be used: once ended by
 * logout or revocation, idle past the timeout or past their absolute
 * expiry, their row (who, from which address, when) goes. Each row is
 * checked on its own, so instances may run this at once.
 */
static void
retention_sessions(struct daemon *d)
{
	char idle[16], minutes[16];
	const char *params[2];
	const char *cause;

	snprintf(idle, sizeof idle, "%d", d->cfg.session_idle_timeout_s);
	params[0] = idle;
	snprintf(minutes, sizeof minutes, "%d", d->cfg.lock_minutes);
	params[1] = minutes;
	/* Failures of an address that no longer count, nor lock, go too. */
	if (db_pool_query(d->db,
	                  "WITH g AS (DELETE FROM staff_session WHERE revoked_at IS NOT NULL "
	                  " OR expires_at <= now() "
	                  " OR last_seen_at <= now() - make_interval(secs => $1::int) "
	                  " RETURNING 1), "
	                  "k AS (DELETE FROM login_lock WHERE last_failed_at <= now() - "
	                  " make_interval(mins => $2::int) "
	                  " AND (locked_until IS NULL OR locked_until <= now())) "
	                  "SELECT count(*) FROM g",
	                  2, params, retention_sessions_done, NULL, &cause) != 0)
		log_warn("session_purge_skipped", "error", cause);
}

/* The timer fired. */
static void
retention_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char days[16];
	const char *params[1];
	const char *cause;

	struct timeval next = {d->cfg.retention_interval_s, 0};

	(void)fd;
	(void)what;
	evtimer_add(d->retention_timer, &next);
	if (!d->schema_ok)
		return;
	retention_sessions(d);
	snprintf(days, sizeof days, "%d", d->cfg.traveller_retention_days);
	params[0] = days;
	if (db_pool_query(
	        d->db,
	        "SELECT CASE WHEN pg_try_advisory_xact_lock(7311520012) THEN "
	        " (SELECT coalesce(sum(purged), 0) FROM purge_departed_travellers($1::int)) "
	        " END",
	        1, params, retention_done, d, &cause) != 0)
		log_warn("retention_skipped", "error", cause);
}

/* Starts the timer. */
void
retention_start(struct daemon *d)
{
	/* The first run soon after start-up, once the schema check had its chance. */
	struct timeval tv = {d->cfg.retention_interval_s < 5 ? d->cfg.retention_interval_s : 5, 0};

	d->retention_timer = evtimer_new(d->base, retention_timer_cb, d);
	evtimer_add(d->retention_timer, &tv);
}

/* Stops the timer. */
void
retention_stop(struct daemon *d)
{
	if (d->retention_timer != NULL) {
		event_free(d->retention_timer);
		d->retention_timer = NULL;
	}
}
