/*
 * Delivery reports, group-committed: the reports of one loop turn go in one
 * statement; each HTTP request is answered from that statement's result. A
 * gateway's acceptance of a message still being sent is recorded on it, so
 * that the send's outcome, even a timeout, is "sent". A Twilio report that
 * names no message yet (it came before the send's outcome was written) is
 * held, unanswered, and tried again after the next outcome write, as long
 * as a send can take.
 */
#include "dlr.h"

#include "daemon.h"
#include "db_pool.h"
#include "db_reply.h"
#include "http_server.h"
#include "log.h"
#include "pg_array.h"
#include "text.h"
#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Reports per statement; a bigger burst is split over several. */
#define DLR_BATCH_MAX 2000
/*
 * How long a report that matches nothing is held, at least. Twilio makes
 * each status callback once and does not retry on an error, and Kannel does
 * not retry a dlr-url either: an answer, even 503, would lose the report.
 * An outcome is written within a dispatch tick of the gateway's answer,
 * which may take up to send_timeout_ms: a report is held that long and
 * DLR_PARK_MARGIN_MS more (Twilio stops waiting for our answer after 15 s,
 * but the report is applied all the same).
 */
#define DLR_PARK_MS 10000
#define DLR_PARK_MARGIN_MS 5000
/* How often held reports are tried again when no outcome write wakes them. */
#define DLR_PARK_RETRY_MS 500

struct dlr_item {
	struct dlr_item *next;
	struct http_ctx *ctx;
	int deadlocks;       /* statements this report was in that ended in a deadlock */
	long long outbox_id; /* 0: by sid */
	int attempt;         /* the send reported on; 0: not known */
	char *sid;
	enum dlr_state state;
	char *error;
	long long park_deadline_ms; /* 0 until first held */
};

struct dlr {
	struct daemon *d;
	struct dlr_item *head, *tail;
	int queued;
	struct event *flush_ev;
	struct event *park_ev; /* tries held reports again */
	struct dlr_item *parked_head, *parked_tail;
	bool flush_scheduled;
	bool busy; /* one statement at a time: reports of one message stay in order */
};

struct dlr_batch {
	struct dlr *q;
	int n;
	struct dlr_item *items[];
};

static const char *const dlr_state_names[] = {"progress", "delivered", "failed"};

static void dlr_flush_cb(evutil_socket_t fd, short what, void *arg);
static void dlr_park_cb(evutil_socket_t fd, short what, void *arg);

/* Monotonic milliseconds, for the holding deadline. */
static long long
dlr_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
dlr_item_free(struct dlr_item *it)
{
	free(it->sid);
	free(it->error);
	free(it);
}

void
dlr_start(struct daemon *d)
{
	struct dlr *q = xcalloc(1, sizeof *q);

	q->d = d;
	q->flush_ev = event_new(d->base, -1, 0, dlr_flush_cb, q);
	q->park_ev = evtimer_new(d->base, dlr_park_cb, q);
	d->dlr = q;
}

void
dlr_stop(struct daemon *d)
{
	struct dlr *q = d->dlr;
	struct dlr_item *it;

	if (q == NULL)
		return;
	while ((it = q->head) != NULL) {
		q->head = it->next;
		http_reply_problem(it->ctx, 503, "service unavailable",
		                   "shutting down; deliver again");
		dlr_item_free(it);
	}
	while ((it = q->parked_head) != NULL) {
		q->parked_head = it->next;
		http_reply_problem(it->ctx, 503, "service unavailable",
		                   "shutting down; deliver again");
		dlr_item_free(it);
	}
	event_free(q->flush_ev);
	event_free(q->park_ev);
	free(q);
	d->dlr = NULL;
}

static void
dlr_schedule(struct dlr *q)
{
	if (q->head != NULL && !q->busy && !q->flush_scheduled) {
		q->flush_scheduled = true;
		event_active(q->flush_ev, EV_TIMEOUT, 0);
	}
}

/* Puts every held report back in the queue, in arrival order, ahead of newer ones. */
static void
dlr_unpark(struct dlr *q)
{
	struct dlr_item *it;
	int n = 0;

	if (q->parked_head == NULL)
		return;
	for (it = q->parked_head; it != NULL; it = it->next)
		n++;
	q->parked_tail->next = q->head;
	if (q->head == NULL)
		q->tail = q->parked_tail;
	q->head = q->parked_head;
	q->queued += n;
	q->parked_head = q->parked_tail = NULL;
	dlr_schedule(q);
}

/* The retry timer: held reports go again. */
static void
dlr_park_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	dlr_unpark(arg);
}

/* Holds a report that matched nothing, to be tried again. */
static void
dlr_park(struct dlr *q, struct dlr_item *it)
{
	struct timeval tv = {0, DLR_PARK_RETRY_MS * 1000};

	it->next = NULL;
	if (q->parked_tail != NULL)
		q->parked_tail->next = it;
	else
		q->parked_head = it;
	q->parked_tail = it;
	if (!evtimer_pending(q->park_ev, NULL))
		evtimer_add(q->park_ev, &tv);
}

void
dlr_outcomes_written(struct daemon *d)
{
	if (d->dlr != NULL)
		dlr_unpark(d->dlr);
}

void
dlr_submit(struct daemon *d, struct http_ctx *ctx, long long outbox_id, int attempt,
           const char *sid, enum dlr_state state, const char *error)
{
	struct dlr *q = d->dlr;
	struct dlr_item *it = xcalloc(1, sizeof *it);

	it->ctx = ctx;
	it->outbox_id = outbox_id;
	it->attempt = attempt;
	it->sid = sid != NULL ? xstrdup(sid) : NULL;
	it->state = state;
	/* The gateway's words: valid UTF-8 cut between characters, or the batch is refused. */
	it->error = error != NULL ? text_sanitized(error, 300, false) : NULL;
	if (q->tail != NULL)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	q->queued++;
	dlr_schedule(q);
}

/*
 * Whether a report that matched nothing is held for another try: its
 * message's outcome may not be written yet (by this process or another).
 * While shutting down it is held until the dispatcher has written its
 * outcomes, then answered 503 so that a gateway that retries does.
 */
static bool
dlr_hold(struct dlr *q, struct dlr_item *it)
{
	long long now = dlr_now_ms();
	long long hold = (long long)q->d->cfg.send_timeout_ms + DLR_PARK_MARGIN_MS;

	if (it->park_deadline_ms == 0)
		it->park_deadline_ms = now + (hold > DLR_PARK_MS ? hold : DLR_PARK_MS);
	if (q->d->shutting_down && outbox_settled(q->d->outbox)) {
		http_reply_problem(it->ctx, 503, "service unavailable",
		                   "shutting down; deliver again");
		dlr_item_free(it);
		return true;
	}
	if (now >= it->park_deadline_ms)
		return false;
	dlr_park(q, it);
	return true;
}

/* The statement answered: one row per report, in input order. */
static void
dlr_done(const struct db_result *res, void *arg)
{
	struct dlr_batch *b = arg;
	struct dlr *q = b->q;
	char body[64];

	if (res->outcome == DB_SQL_ERROR && strcmp(res->sqlstate, "40P01") == 0 &&
	    b->items[0]->deadlocks < 3) {
		/* Another writer locked the same messages in another order; nothing was applied. */
		for (int i = b->n - 1; i >= 0; i--) {
			b->items[i]->deadlocks++;
			b->items[i]->next = q->head;
			q->head = b->items[i];
			if (q->tail == NULL)
				q->tail = b->items[i];
			q->queued++;
		}
		q->busy = false;
		dlr_schedule(q);
		free(b);
		return;
	}
	for (int i = 0; i < b->n; i++) {
		struct dlr_item *it = b->items[i];

		if (res->outcome != DB_OK) {
			db_reply_error(it->ctx, res);
		} else if (i >= PQntuples(res->res)) {
			http_reply_problem(it->ctx, 500, "internal error",
			                   "the report was not applied");
		} else if (strcmp(PQgetvalue(res->res, i, 1), "0") == 0 && it->sid != NULL &&
		           strcmp(PQgetvalue(res->res, i, 3), "f") == 0 && dlr_hold(q, it)) {
			/* Held only while its message is unknown: its outcome may not be written
			 * yet. */
			continue;
		} else {
			int len = snprintf(body, sizeof body, "{\"updated\": %s, \"reasked\": %s}",
			                   PQgetvalue(res->res, i, 1), PQgetvalue(res->res, i, 2));
			http_reply_bytes(it->ctx, 200, "application/json", body, (size_t)len);
		}
		dlr_item_free(it);
	}
	q->busy = false;
	dlr_schedule(q);
	free(b);
}

/*
 * Applies every queued report (up to DLR_BATCH_MAX). Several reports of one
 * message in a batch ("sent" and "delivered" of one SMS) collapse into a
 * delivery if there is one, else the last final one, else the last: the
 * outbox row moves once.
 */
static void
dlr_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dlr *q = arg;
	struct dlr_batch *b;
	struct pg_arrays cols;
	const char *cause;

	(void)fd;
	(void)what;
	q->flush_scheduled = false;
	if (q->head == NULL || q->busy)
		return;
	b = xcalloc(1, sizeof *b + (size_t)(q->queued < DLR_BATCH_MAX ? q->queued : DLR_BATCH_MAX) *
	                               sizeof b->items[0]);
	b->q = q;
	pg_arrays_open(&cols, 6);
	while (q->head != NULL && b->n < DLR_BATCH_MAX) {
		struct dlr_item *it = q->head;

		q->head = it->next;
		if (q->head == NULL)
			q->tail = NULL;
		q->queued--;
		it->next = NULL;
		pg_arrays_add_int(&cols, 0, b->n);
		if (it->outbox_id > 0)
			pg_arrays_add_int(&cols, 1, it->outbox_id);
		else
			pg_arrays_add(&cols, 1, NULL);
		pg_arrays_add(&cols, 2, it->sid);
		pg_arrays_add(&cols, 3, dlr_state_names[it->state]);
		pg_arrays_add(&cols, 4, it->error);
		if (it->attempt > 0)
			pg_arrays_add_int(&cols, 5, it->attempt);
		else
			pg_arrays_add(&cols, 5, NULL);
		b->items[b->n++] = it;
	}
	q->busy = true;
	if (q->d->db == NULL ||
	    db_pool_query_prepared(
	        q->d->db,
	        "WITH r AS (SELECT * FROM unnest($1::int[], $2::bigint[], $3::text[], $4::text[], "
	        " $5::text[], $6::int[]) AS r(idx, id, sid, state, err, attempt)), "
	        /*
	         * By the message's id when the report has it (Kannel's dlr-url,
	         * Twilio's StatusCallback URL), else by Twilio's sid. A Twilio
	         * failure while a send is under way matches nothing: it may be an
	         * earlier send's, told apart by the sid the outcome stores, so it
	         * is held until then. A Kannel failure of another send than the
	         * message's last (its attempt) matches nothing either.
	         */
	        "t AS (SELECT r.*, o.id AS oid FROM r JOIN outbox o ON o.id = r.id "
	        " WHERE r.id IS NOT NULL AND o.state IN ('sending', 'sent', 'delivered', 'queued', "
	        " 'failed') AND NOT (o.state = 'sending' AND r.sid IS NOT NULL "
	        " AND r.state = 'failed') "
	        " AND NOT (r.state = 'failed' AND r.attempt IS NOT NULL "
	        " AND r.attempt <> o.attempts) "
	        " UNION ALL SELECT r.*, o.id FROM r JOIN outbox o ON o.driver = 'twilio' "
	        " AND o.provider_id = r.sid WHERE r.sid IS NOT NULL AND r.id IS NULL "
	        " AND o.state IN ('sending', 'sent', 'delivered', 'queued', 'failed')), "
	        "last AS (SELECT DISTINCT ON (oid) * FROM t "
	        " ORDER BY oid, (state = 'delivered') DESC, (state <> 'progress') DESC, idx DESC), "
	        /*
	         * A report moves a message forward only: from sending or sent to
	         * delivered or failed. A failure after a delivery (reports reach us
	         * in any order) or a second delivery changes nothing. A send that
	         * timed out may have reached the gateway all the same: its row
	         * waits for a retry (queued) or gave up (failed), and a delivery
	         * (or the gateway's acceptance, progress) settles it and cancels
	         * the retry. The acceptance of a send still under way is kept
	         * (accepted_at): its outcome, a timeout too, is then "sent".
	         */
	        "u AS (UPDATE outbox o SET state = CASE WHEN l.state <> 'progress' "
	        " THEN l.state::outbox_state WHEN o.state = 'queued' THEN 'sent' ELSE o.state END, "
	        " accepted_at = CASE WHEN l.state = 'progress' AND o.state = 'sending' "
	        " THEN coalesce(o.accepted_at, now()) ELSE o.accepted_at END, "
	        " sent_at = CASE WHEN o.state IN ('queued', 'failed') THEN coalesce(o.sent_at, "
	        "now()) "
	        " ELSE o.sent_at END, "
	        " delivered_at = CASE WHEN l.state = 'delivered' THEN coalesce(o.delivered_at, "
	        "now()) "
	        " ELSE o.delivered_at END, "
	        " last_error = CASE WHEN l.state = 'failed' THEN l.err ELSE o.last_error END, "
	        " gateway_failed = o.gateway_failed OR l.state = 'failed' "
	        /*
	         * A report of an earlier send of a message sent again (its first
	         * send timed out, so its sid was never stored) fails nothing: the
	         * send that counts is the one whose sid is stored. A delivery of
	         * either settles it.
	         */
	        " FROM last l WHERE o.id = l.oid AND (l.sid IS NULL OR o.provider_id IS NULL "
	        " OR o.provider_id = l.sid OR l.state = 'delivered') "
	        " AND ((l.state IN ('delivered', 'failed') "
	        " AND o.state IN ('sending', 'sent')) OR (l.state = 'delivered' AND o.state IN "
	        " ('queued', 'failed') AND coalesce(o.last_error, '') NOT IN ('crisis closed', "
	        " 'answered', 'cancelled')) OR (l.state = 'progress' AND o.state IN ('queued', "
	        " 'sending'))) "
	        " RETURNING l.idx, o.crisis_id, o.national_id, l.state, o.kind), "
	        /*
	         * A check-in that will not arrive: its person is asked again now.
	         * Other messages leave the check-in alone (its rounds are the
	         * person's); a plan message goes to the next contact (0050).
	         */
	        "k AS (UPDATE checkin k SET next_ask_at = now() FROM u WHERE u.state = 'failed' "
	        " AND u.kind = 'checkin' "
	        " AND k.crisis_id = u.crisis_id AND k.national_id = u.national_id "
	        " AND k.state = 'asked' RETURNING u.idx) "
	        /* Whether a Twilio sid names any message at all, whatever its state. */
	        "SELECT r.idx, coalesce(tc.n, 0), coalesce(kc.n, 0), r.sid IS NOT NULL AND "
	        " EXISTS (SELECT 1 FROM outbox o WHERE o.driver = 'twilio' AND o.provider_id = "
	        "r.sid) "
	        "FROM r "
	        "LEFT JOIN (SELECT idx, count(*) AS n FROM t GROUP BY idx) tc ON tc.idx = r.idx "
	        "LEFT JOIN (SELECT idx, count(*) AS n FROM k GROUP BY idx) kc ON kc.idx = r.idx "
	        "ORDER BY r.idx",
	        6, pg_arrays_close(&cols), dlr_done, b, &cause) != 0) {
		for (int i = 0; i < b->n; i++) {
			http_reply_problem(b->items[i]->ctx, 503, "service unavailable",
			                   q->d->db == NULL ? "shutting down; deliver again"
			                                    : cause);
			dlr_item_free(b->items[i]);
		}
		free(b);
		q->busy = false;
	}
	pg_arrays_free(&cols);
}
