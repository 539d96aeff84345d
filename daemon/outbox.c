/*
 * The dispatcher. It claims batches of due messages (FOR UPDATE SKIP LOCKED,
 * so several safetyd share the outbox), sends them through the channel
 * drivers at each channel's rate and concurrency, and writes the outcomes
 * back in batches: sent, retry later with back-off and jitter, or failed
 * for good (and then the person is asked at once over the next channel). A
 * claim left behind by a process that died is put back in the queue after
 * stale_claim seconds, so at most the messages in flight at a crash can go
 * out twice.
 */
#include "outbox.h"

#include "channel.h"
#include "daemon.h"
#include "log.h"
#include "pg_array.h"
#include "reply_link.h"
#include "xmalloc.h"

#include <event2/buffer.h>
#include <safety/limiter.h>
#include <safety/secret.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OUTBOX_DRIVERS 5
#define OUTBOX_REASONS 6
#define OUTBOX_SAMPLE_S 15

struct outbox_item {
	struct outbox_item *next;
	struct outbox *owner;
	long long id;
	char *channel;
	char *recipient;
	char *body;    /* with {link} */
	char kind[12]; /* checkin, code, link or family: only a check-in carries a reply link */
	char *language;
	long long crisis_id, national_id;
	int attempts;
	bool drill;
};

struct outbox_result {
	long long id;
	enum channel_outcome outcome;
	char *provider_id;
	char *error;
	int parts;
	int attempts;
	const char *driver;
};

struct outbox {
	struct daemon *d;
	char claimer[48]; /* this process, for claimed_by */
	struct event *tick;
	struct event *maintenance; /* stale claims and escalation */
	struct outbox_item *ready_head, *ready_tail;
	int ready;
	int inflight_sms, inflight_email;
	bool claiming, flushing, escalating;
	struct sf_bucket sms_bucket, email_bucket;
	struct outbox_result *results;
	int nresults, cap_results;
	uint64_t sent, retried, failed;
	time_t last_maintenance, last_escalate, last_routes;
	bool routing;
	/* For /metrics: outcomes by driver, failures by driver and kind of reason. */
	uint64_t by_driver[OUTBOX_DRIVERS][3];
	uint64_t fail_reason[OUTBOX_DRIVERS][OUTBOX_REASONS];
	/* Sampled from the database every OUTBOX_SAMPLE_S: per channel (sms, email). */
	struct event *sample;
	bool sampling, sampled;
	time_t last_sample;
	struct {
		long long queued, sending, delivered_5m;
		double oldest_queued_s, dlr_p50_s, dlr_p90_s;
	} gauge[2];
};

static const char *const outbox_driver_names[OUTBOX_DRIVERS] = {"kannel", "twilio", "smtp", "log",
                                                                "other"};
static const char *const outbox_reason_names[OUTBOX_REASONS] = {
    "rejected", "timeout", "http_4xx", "http_5xx", "connection", "other"};

/* The metrics index of a driver name. */
static int
outbox_driver_index(const char *driver)
{
	for (int i = 0; i < OUTBOX_DRIVERS - 1; i++)
		if (driver != NULL && strcmp(driver, outbox_driver_names[i]) == 0)
			return i;
	return OUTBOX_DRIVERS - 1;
}

/* A failure's kind, from its outcome and the driver's message: few values, fit for a label. */
static int
outbox_reason_index(enum channel_outcome outcome, const char *error)
{
	if (outcome == CHANNEL_PERMANENT)
		return 0;
	if (error == NULL)
		return 5;
	if (strstr(error, "timed out") != NULL || strstr(error, "timeout") != NULL)
		return 1;
	if (strstr(error, "HTTP 4") != NULL || strstr(error, "status 4") != NULL)
		return 2;
	if (strstr(error, "HTTP 5") != NULL || strstr(error, "status 5") != NULL)
		return 3;
	if (strstr(error, "connect") != NULL || strstr(error, "resolve") != NULL)
		return 4;
	return 5;
}

static void outbox_tick_cb(evutil_socket_t fd, short what, void *arg);
static void outbox_sample_cb(evutil_socket_t fd, short what, void *arg);
static void outbox_pump(struct outbox *ob);

/* Seconds since the epoch with fractions, for the token buckets. */
static double
outbox_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Frees a claimed item. */
static void
outbox_item_free(struct outbox_item *it)
{
	if (it->body != NULL)
		memset(it->body, 0, strlen(it->body));
	free(it->channel);
	free(it->recipient);
	free(it->body);
	free(it->language);
	free(it);
}

/* Starts the dispatcher. */
struct outbox *
outbox_start(struct daemon *d)
{
	struct outbox *ob = xcalloc(1, sizeof *ob);
	unsigned char rnd[6];
	char hex[13];
	struct timeval tv;

	ob->d = d;
	sf_secret_random(rnd, sizeof rnd);
	sf_secret_hex_encode(rnd, sizeof rnd, hex, sizeof hex);
	snprintf(ob->claimer, sizeof ob->claimer, "safetyd-%s", hex);
	/* A rate of 0 means no limit: a bucket that refills faster than anyone sends. */
	sf_bucket_init(&ob->sms_bucket, d->cfg.sms_rate > 0 ? d->cfg.sms_rate : 1e9,
	               d->cfg.sms_rate > 0 ? d->cfg.sms_rate : 1e9, outbox_now());
	sf_bucket_init(&ob->email_bucket, d->cfg.email_rate > 0 ? d->cfg.email_rate : 1e9,
	               d->cfg.email_rate > 0 ? d->cfg.email_rate : 1e9, outbox_now());
	ob->tick = event_new(d->base, -1, EV_PERSIST, outbox_tick_cb, ob);
	tv.tv_sec = d->cfg.dispatch_interval_ms / 1000;
	tv.tv_usec = (d->cfg.dispatch_interval_ms % 1000) * 1000;
	event_add(ob->tick, &tv);
	ob->sample = event_new(d->base, -1, EV_PERSIST, outbox_sample_cb, ob);
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	event_add(ob->sample, &tv);
	log_info("dispatcher_started", "claimer", ob->claimer, "sms", d->cfg.sms_driver, "email",
	         d->cfg.email_driver);
	return ob;
}

/* Stops the dispatcher; claimed but unsent messages go back to the queue at once. */
void
outbox_free(struct outbox *ob)
{
	struct outbox_item *it;

	if (ob == NULL)
		return;
	event_free(ob->tick);
	event_free(ob->sample);
	while ((it = ob->ready_head) != NULL) {
		ob->ready_head = it->next;
		outbox_item_free(it);
	}
	for (int i = 0; i < ob->nresults; i++) {
		free(ob->results[i].provider_id);
		free(ob->results[i].error);
	}
	free(ob->results);
	free(ob);
}

/* The sampled figures came back. */
static void
outbox_sample_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;

	ob->sampling = false;
	if (r->outcome != DB_OK)
		return;
	for (int i = 0; i < PQntuples(r->res) && i < 2; i++) {
		ob->gauge[i].queued = atoll(PQgetvalue(r->res, i, 0));
		ob->gauge[i].sending = atoll(PQgetvalue(r->res, i, 1));
		ob->gauge[i].oldest_queued_s = atof(PQgetvalue(r->res, i, 2));
		ob->gauge[i].delivered_5m = atoll(PQgetvalue(r->res, i, 3));
		ob->gauge[i].dlr_p50_s = atof(PQgetvalue(r->res, i, 4));
		ob->gauge[i].dlr_p90_s = atof(PQgetvalue(r->res, i, 5));
	}
	ob->sampled = true;
}

/* Every OUTBOX_SAMPLE_S: the queue's depth and age, and delivery-report latency. */
static void
outbox_sample_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;
	const char *cause;

	(void)fd;
	(void)what;
	/* Ticks every second until the first sample, then every OUTBOX_SAMPLE_S. */
	if (ob->sampling || ob->d->db == NULL || !ob->d->schema_ok ||
	    (ob->sampled && time(NULL) - ob->last_sample < OUTBOX_SAMPLE_S))
		return;
	ob->last_sample = time(NULL);
	if (db_pool_query(
	        ob->d->db,
	        "SELECT coalesce(q.queued, 0), coalesce(q.sending, 0), coalesce(q.oldest, 0), "
	        " coalesce(l.n, 0), coalesce(l.p50, 0), coalesce(l.p90, 0) "
	        "FROM (VALUES (1, 'sms'), (2, 'email')) c(i, ch) "
	        "LEFT JOIN (SELECT channel, count(*) FILTER (WHERE state = 'queued') AS queued, "
	        " count(*) FILTER (WHERE state = 'sending') AS sending, extract(epoch FROM now() - "
	        " min(created_at) FILTER (WHERE state = 'queued')) AS oldest FROM outbox "
	        " WHERE state IN ('queued', 'sending') GROUP BY channel) q ON q.channel = c.ch "
	        "LEFT JOIN (SELECT channel, count(*) AS n, percentile_cont(0.5) WITHIN GROUP "
	        " (ORDER BY extract(epoch FROM delivered_at - sent_at)) AS p50, "
	        " percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM delivered_at - "
	        " sent_at)) AS p90 FROM outbox WHERE delivered_at > now() - interval '5 minutes' "
	        " AND sent_at IS NOT NULL GROUP BY channel) l ON l.channel = c.ch ORDER BY c.i",
	        0, NULL, outbox_sample_done, ob, &cause) == 0)
		ob->sampling = true;
}

void
outbox_metrics(const struct outbox *ob, struct evbuffer *out)
{
	static const char *const channels[2] = {"sms", "email"};
	static const char *const outcomes[3] = {"sent", "retried", "failed"};

	if (ob == NULL)
		return;
	evbuffer_add_printf(out, "# HELP safety_outbox_driver_messages_total Outbound messages by "
	                         "driver and outcome.\n"
	                         "# TYPE safety_outbox_driver_messages_total counter\n");
	for (int i = 0; i < OUTBOX_DRIVERS; i++)
		for (int o = 0; o < 3; o++)
			if (ob->by_driver[i][o] > 0)
				evbuffer_add_printf(out,
				                    "safety_outbox_driver_messages_total{driver=\"%"
				                    "s\",outcome=\"%s\"} "
				                    "%llu\n",
				                    outbox_driver_names[i], outcomes[o],
				                    (unsigned long long)ob->by_driver[i][o]);
	evbuffer_add_printf(out, "# HELP safety_outbox_failures_total Failed sends (retried or "
	                         "not) by driver and kind of reason.\n"
	                         "# TYPE safety_outbox_failures_total counter\n");
	for (int i = 0; i < OUTBOX_DRIVERS; i++)
		for (int k = 0; k < OUTBOX_REASONS; k++)
			if (ob->fail_reason[i][k] > 0)
				evbuffer_add_printf(out,
				                    "safety_outbox_failures_total{driver=\"%s\","
				                    "reason=\"%s\"} %llu\n",
				                    outbox_driver_names[i], outbox_reason_names[k],
				                    (unsigned long long)ob->fail_reason[i][k]);
	if (!ob->sampled)
		return;
	evbuffer_add_printf(
	    out,
	    "# HELP safety_outbox_queued Messages waiting to be sent (sampled every %d s).\n"
	    "# TYPE safety_outbox_queued gauge\n",
	    OUTBOX_SAMPLE_S);
	for (int c = 0; c < 2; c++)
		evbuffer_add_printf(out, "safety_outbox_queued{channel=\"%s\"} %lld\n", channels[c],
		                    ob->gauge[c].queued);
	evbuffer_add_printf(out, "# HELP safety_outbox_oldest_queued_seconds Age of the oldest "
	                         "message waiting.\n"
	                         "# TYPE safety_outbox_oldest_queued_seconds gauge\n");
	for (int c = 0; c < 2; c++)
		evbuffer_add_printf(out,
		                    "safety_outbox_oldest_queued_seconds{channel=\"%s\"} %.1f\n",
		                    channels[c], ob->gauge[c].oldest_queued_s);
	evbuffer_add_printf(out, "# HELP safety_outbox_sending Messages claimed by a dispatcher.\n"
	                         "# TYPE safety_outbox_sending gauge\n");
	for (int c = 0; c < 2; c++)
		evbuffer_add_printf(out, "safety_outbox_sending{channel=\"%s\"} %lld\n",
		                    channels[c], ob->gauge[c].sending);
	evbuffer_add_printf(out, "# HELP safety_delivery_report_seconds From sent to delivered, "
	                         "over the last 5 minutes.\n"
	                         "# TYPE safety_delivery_report_seconds gauge\n");
	for (int c = 0; c < 2; c++)
		evbuffer_add_printf(
		    out,
		    "safety_delivery_report_seconds{channel=\"%s\",quantile=\"0.5\"} %.3f\n"
		    "safety_delivery_report_seconds{channel=\"%s\",quantile=\"0.9\"} %.3f\n",
		    channels[c], ob->gauge[c].dlr_p50_s, channels[c], ob->gauge[c].dlr_p90_s);
	evbuffer_add_printf(out, "# HELP safety_delivered_recent Messages delivered in the last 5 "
	                         "minutes.\n# TYPE safety_delivered_recent gauge\n");
	for (int c = 0; c < 2; c++)
		evbuffer_add_printf(out, "safety_delivered_recent{channel=\"%s\"} %lld\n",
		                    channels[c], ob->gauge[c].delivered_5m);
}

/* Figures for /metrics. */
void
outbox_stats(const struct outbox *ob, struct outbox_stats *st)
{
	memset(st, 0, sizeof *st);
	if (ob == NULL)
		return;
	st->ready = ob->ready;
	st->inflight = ob->inflight_sms + ob->inflight_email;
	st->sent = ob->sent;
	st->retried = ob->retried;
	st->failed = ob->failed;
}

/* The outcomes were written. */
static void
outbox_flush_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;

	ob->flushing = false;
	if (r->outcome != DB_OK)
		log_warn("outbox_update_failed", "error", r->error);
}

/*
 * Writes the collected outcomes in one statement. A result that cannot be
 * written stays 'sending' and is requeued as stale: the message may then go
 * twice, which beats never.
 */
static void
outbox_flush(struct outbox *ob)
{
	/* Columns: id, state, provider id, error, parts, driver, delay. */
	struct pg_arrays cols;
	const char *cause;
	char num[32];

	if (ob->nresults == 0 || ob->flushing)
		return;
	if (ob->d->db == NULL) {
		/* Shutting down: the claims stay 'sending' and are requeued as stale by the next
		 * process. */
		for (int i = 0; i < ob->nresults; i++) {
			free(ob->results[i].provider_id);
			free(ob->results[i].error);
		}
		ob->nresults = 0;
		return;
	}
	pg_arrays_open(&cols, 7);
	for (int i = 0; i < ob->nresults; i++) {
		struct outbox_result *res = &ob->results[i];
		const char *state;
		double delay = 0;

		int drv = outbox_driver_index(res->driver);

		if (res->outcome != CHANNEL_SENT)
			ob->fail_reason[drv][outbox_reason_index(res->outcome, res->error)]++;
		switch (res->outcome) {
		case CHANNEL_SENT:
			state = "sent";
			ob->sent++;
			ob->by_driver[drv][0]++;
			break;
		case CHANNEL_TRANSIENT:
			if (res->attempts >= ob->d->cfg.max_attempts) {
				state = "failed";
				ob->failed++;
				ob->by_driver[drv][2]++;
			} else {
				/* Exponential back-off with jitter: 2, 4, 8 ... seconds, at most 10
				 * minutes. */
				delay = 1 << (res->attempts < 9 ? res->attempts : 9);
				delay = delay * (0.75 + (double)(rand() % 500) / 1000.0);
				state = "queued";
				ob->retried++;
				ob->by_driver[drv][1]++;
			}
			break;
		default:
			state = "failed";
			ob->failed++;
			ob->by_driver[drv][2]++;
			break;
		}
		pg_arrays_add_int(&cols, 0, res->id);
		pg_arrays_add(&cols, 1, state);
		pg_arrays_add(&cols, 2, res->provider_id);
		pg_arrays_add(&cols, 3, res->error);
		pg_arrays_add_int(&cols, 4, res->parts);
		pg_arrays_add(&cols, 5, res->driver);
		snprintf(num, sizeof num, "%.3f", delay);
		pg_arrays_add(&cols, 6, num);
		free(res->provider_id);
		free(res->error);
	}
	ob->nresults = 0;
	ob->flushing = true;
	/* A permanent failure asks the person again at once, over the next channel. */
	if (db_pool_query_prepared(
	        ob->d->db,
	        "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], "
	        " $4::text[], $5::int[], $6::text[], $7::float8[]) AS r(id, state, pid, err, "
	        " parts, driver, delay)), "
	        "u AS (UPDATE outbox o SET state = r.state::outbox_state, "
	        " provider_id = coalesce(r.pid, o.provider_id), last_error = r.err, "
	        " parts = r.parts, driver = r.driver, claimed_by = NULL, "
	        " sent_at = CASE WHEN r.state = 'sent' THEN now() ELSE o.sent_at END, "
	        " next_attempt_at = now() + make_interval(secs => r.delay) "
	        " FROM r WHERE o.id = r.id AND o.state = 'sending' "
	        " RETURNING o.crisis_id, o.national_id, r.state) "
	        "UPDATE checkin k SET next_ask_at = now() FROM u WHERE u.state = 'failed' "
	        " AND k.crisis_id = u.crisis_id AND k.national_id = u.national_id "
	        " AND k.state = 'asked'",
	        7, pg_arrays_close(&cols), outbox_flush_done, ob, &cause) != 0) {
		ob->flushing = false;
		log_warn("outbox_update_skipped", "error", cause);
	}
	pg_arrays_free(&cols);
}

/* A driver reported. */
static void
outbox_sent_cb(long long outbox_id, enum channel_outcome outcome, const char *provider_id,
               const char *error, int parts, void *arg)
{
	struct outbox_item *it = arg;
	struct outbox *ob = it->owner;
	struct outbox_result *res;

	if (strcmp(it->channel, "email") == 0)
		ob->inflight_email--;
	else
		ob->inflight_sms--;
	if (ob->nresults == ob->cap_results) {
		ob->cap_results = ob->cap_results ? ob->cap_results * 2 : 256;
		ob->results = xrealloc(ob->results, (size_t)ob->cap_results * sizeof *ob->results);
	}
	res = &ob->results[ob->nresults++];
	res->id = outbox_id;
	res->outcome = outcome;
	res->provider_id = provider_id != NULL ? xstrdup(provider_id) : NULL;
	res->error = error != NULL ? xstrndup(error, 300) : NULL;
	res->parts = parts;
	res->attempts = it->attempts;
	res->driver = channel_driver_name(ob->d, it->channel);
	outbox_item_free(it);
	if (ob->nresults >= 200)
		outbox_flush(ob);
	if (ob->d->http_client != NULL && ob->d->db != NULL)
		outbox_pump(ob);
}

/* Sends one item. */
static void
outbox_send_one(struct outbox *ob, struct outbox_item *it)
{
	struct channel_message m;
	char link[256];
	char *text;
	bool email = strcmp(it->channel, "email") == 0;
	const char *p;

	if (strcmp(it->kind, "checkin") != 0) {
		/* Codes, management links and family notices are sent as written. */
		text = xstrdup(it->body);
	} else {
		reply_link_make(ob->d, it->crisis_id, it->national_id, link, sizeof link);
		/* Put the reply link where the template said. */
		p = strstr(it->body, "{link}");
		if (p != NULL)
			xasprintf(&text, "%.*s%s%s", (int)(p - it->body), it->body, link, p + 6);
		else
			xasprintf(&text, "%s %s", it->body, link);
	}
	memset(&m, 0, sizeof m);
	m.outbox_id = it->id;
	m.channel = it->channel;
	m.recipient = it->recipient;
	m.text = text;
	m.language = it->language;
	m.drill = it->drill;
	if (strcmp(it->kind, "family") == 0)
		m.subject = strcmp(it->language, "ko") == 0 ? "가족 안전 소식 / Family safety news"
		                                            : "Safety news of your family";
	else if (strcmp(it->kind, "checkin") != 0)
		m.subject = strcmp(it->language, "ko") == 0
		                ? "재외국민 등록 / Overseas registration"
		                : "Overseas registration";
	else
		m.subject =
		    strcmp(it->language, "ko") == 0
		        ? (it->drill ? "[훈련] 안전 확인 요청" : "안전 확인 요청 / Safety check")
		        : (it->drill ? "[DRILL] Safety check" : "Safety check");
	if (email)
		ob->inflight_email++;
	else
		ob->inflight_sms++;
	it->owner = ob;
	it->next = NULL;
	if (channel_send(ob->d, &m, outbox_sent_cb, it) != 0)
		outbox_sent_cb(it->id, CHANNEL_TRANSIENT, NULL, "could not start the request", 1,
		               it);
	memset(text, 0, strlen(text));
	free(text);
}

/* Sends ready items while rate and concurrency allow. */
static void
outbox_pump(struct outbox *ob)
{
	struct outbox_item **pp = &ob->ready_head, *it;
	double now = outbox_now();

	ob->ready_tail = NULL;
	while ((it = *pp) != NULL) {
		bool email = strcmp(it->channel, "email") == 0;
		int inflight = email ? ob->inflight_email : ob->inflight_sms;
		int cap = email ? ob->d->cfg.email_concurrency : ob->d->cfg.sms_concurrency;
		struct sf_bucket *bucket = email ? &ob->email_bucket : &ob->sms_bucket;

		if (inflight >= cap || !sf_bucket_take(bucket, now, 1.0)) {
			ob->ready_tail = it;
			pp = &it->next;
			continue;
		}
		*pp = it->next;
		ob->ready--;
		outbox_send_one(ob, it);
	}
}

/* A claim answered: queue what came. */
static void
outbox_claim_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;

	ob->claiming = false;
	if (r->outcome != DB_OK) {
		if (r->outcome == DB_SQL_ERROR)
			log_warn("outbox_claim_failed", "error", r->error);
		return;
	}
	for (int i = 0; i < PQntuples(r->res); i++) {
		struct outbox_item *it = xcalloc(1, sizeof *it);

		it->id = atoll(PQgetvalue(r->res, i, 0));
		it->channel = xstrdup(PQgetvalue(r->res, i, 1));
		it->recipient = xstrdup(PQgetvalue(r->res, i, 2));
		it->body = xstrdup(PQgetvalue(r->res, i, 3));
		it->language = xstrdup(PQgetvalue(r->res, i, 4));
		it->crisis_id = atoll(PQgetvalue(r->res, i, 5));
		it->national_id = atoll(PQgetvalue(r->res, i, 6));
		it->attempts = atoi(PQgetvalue(r->res, i, 7));
		it->drill = strcmp(PQgetvalue(r->res, i, 8), "t") == 0;
		snprintf(it->kind, sizeof it->kind, "%s", PQgetvalue(r->res, i, 9));
		if (ob->ready_tail != NULL)
			ob->ready_tail->next = it;
		else
			ob->ready_head = it;
		ob->ready_tail = it;
		ob->ready++;
	}
	outbox_pump(ob);
	/* A full batch means more is waiting: claim again without waiting for the tick. */
	if (PQntuples(r->res) == ob->d->cfg.dispatch_batch)
		event_active(ob->tick, EV_TIMEOUT, 0);
}

/* Maintenance answered. */
static void
outbox_maintenance_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;

	ob->escalating = false;
	if (r->outcome != DB_OK) {
		if (r->outcome == DB_SQL_ERROR)
			log_warn("escalation_failed", "error", r->error);
		return;
	}
	if (PQntuples(r->res) == 1 && !PQgetisnull(r->res, 0, 0)) {
		const char *requeued = PQgetvalue(r->res, 0, 0);
		const char *reasked = PQgetvalue(r->res, 0, 1);
		const char *unreachable = PQgetvalue(r->res, 0, 2);
		if (strcmp(requeued, "0") != 0 || strcmp(reasked, "0") != 0 ||
		    strcmp(unreachable, "0") != 0)
			log_info("escalation", "stale_requeued", requeued, "reasked", reasked,
			         "unreachable", unreachable);
	}
}

/* The route figures were refreshed. */
static void
outbox_routes_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;

	ob->routing = false;
	if (r->outcome == DB_SQL_ERROR)
		log_warn("route_health_failed", "error", r->error);
}

/* The dispatcher's tick: flush outcomes, claim more, send, and now and then maintain. */
static void
outbox_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;
	struct daemon *d = ob->d;
	char limit[16], stale[16];
	const char *params[3];
	const char *cause;
	int room;
	time_t now = time(NULL);

	(void)fd;
	(void)what;
	outbox_flush(ob);
	outbox_pump(ob);
	if (!d->schema_ok || d->shutting_down)
		return;
	if (!ob->escalating && now - ob->last_escalate >= d->cfg.escalate_interval_s) {
		ob->last_escalate = now;
		ob->escalating = true;
		snprintf(stale, sizeof stale, "%d", d->cfg.stale_claim_s);
		params[0] = stale;
		/* One safetyd at a time re-asks; every one of them requeues stale claims. */
		if (db_pool_query(
		        d->db,
		        "WITH s AS (UPDATE outbox SET state = 'queued', claimed_by = NULL, "
		        " next_attempt_at = now() WHERE state = 'sending' AND claimed_at < now() "
		        " - make_interval(secs => $1::int) RETURNING 1) "
		        "SELECT (SELECT count(*) FROM s), e.reasked, e.unreachable FROM "
		        " (SELECT pg_try_advisory_xact_lock(7311520013) AS locked) l "
		        " LEFT JOIN LATERAL (SELECT * FROM campaign_escalate()) e ON l.locked",
		        1, params, outbox_maintenance_done, ob, &cause) != 0)
			ob->escalating = false;
	}
	if (!ob->routing && now - ob->last_routes >= d->cfg.route_refresh_s) {
		char window[16], grace[16], share[16], samples[16];
		ob->last_routes = now;
		ob->routing = true;
		snprintf(window, sizeof window, "%d", d->cfg.route_window_s);
		snprintf(grace, sizeof grace, "%d", d->cfg.route_grace_s);
		snprintf(share, sizeof share, "%.2f", d->cfg.route_min_share / 100.0);
		snprintf(samples, sizeof samples, "%d", d->cfg.route_min_samples);
		{
			const char *rp[4] = {window, grace, share, samples};
			if (db_pool_query(
			        d->db,
			        "SELECT CASE WHEN pg_try_advisory_xact_lock(7311520014) THEN "
			        "route_health_refresh($1::int, $2::int, $3::real, $4::int) END",
			        4, rp, outbox_routes_done, ob, &cause) != 0)
				ob->routing = false;
		}
	}
	room = d->cfg.dispatch_batch - ob->ready;
	if (ob->claiming || room <= 0)
		return;
	if (room > d->cfg.dispatch_batch)
		room = d->cfg.dispatch_batch;
	snprintf(limit, sizeof limit, "%d", room);
	params[0] = ob->claimer;
	params[1] = limit;
	ob->claiming = true;
	if (db_pool_query(
	        d->db,
	        "UPDATE outbox o SET state = 'sending', claimed_by = $1, claimed_at = now(), "
	        " attempts = o.attempts + 1 FROM (SELECT id FROM outbox WHERE state = 'queued' "
	        " AND next_attempt_at <= now() ORDER BY next_attempt_at, id LIMIT $2::int "
	        " FOR UPDATE SKIP LOCKED) s WHERE o.id = s.id "
	        "RETURNING o.id, o.channel, o.recipient, o.body, o.language, "
	        " coalesce(o.crisis_id, 0), coalesce(o.national_id, 0), o.attempts, "
	        " coalesce((SELECT c.drill FROM crisis c WHERE c.id = o.crisis_id), false), o.kind",
	        2, params, outbox_claim_done, ob, &cause) != 0)
		ob->claiming = false;
}
