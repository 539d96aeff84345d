/*
 * The dispatcher. It claims batches of due messages (FOR UPDATE SKIP LOCKED,
 * so several safetyd share the outbox), sends them through the channel
 * drivers at each channel's rate and concurrency, and writes the outcomes
 * back in batches: sent, retry later with back-off and jitter, or failed
 * for good (and then the person is asked at once over the next channel). A
 * claim left behind by a process that died is put back in the queue after
 * stale_claim seconds, so at most the messages in flight at a crash can go
 * out twice. Claims still held are refreshed every second, so a slow channel
 * never lets them go stale; an outcome is kept until its write commits, and
 * nothing new is sent while outcomes cannot be written. A channel whose
 * gateway fails as a whole pauses and gives its unsent claims back, for
 * another process to send.
 */
#include "outbox.h"

#include "channel.h"
#include "daemon.h"
#include "dlr.h"
#include "log.h"
#include "pg_array.h"
#include "reply_link.h"
#include "text.h"
#include "xmalloc.h"

#include <cjson/cJSON.h>
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
/* Outcomes per statement; more wait for the next one. */
#define OUTBOX_FLUSH_MAX 1000
/* How often held claims are refreshed and ready messages checked against closed crises. */
#define OUTBOX_REFRESH_MS 1000

struct outbox_item {
	struct outbox_item *next; /* in the ready list, or the in-flight list */
	struct outbox_item *prev; /* in the in-flight list */
	struct outbox *owner;
	long long id;
	char *channel;
	char *recipient;
	char *body;    /* with {link} */
	char kind[12]; /* checkin, code, link, family or plan: only a check-in carries a reply link
	                */
	char *language;
	long long crisis_id, national_id;
	int attempts;
	int route_faults; /* sends that failed by the route's fault, not counted in attempts */
	bool drill;
	bool checking; /* ready, and named in the refresh now running */
	/*
	 * The ready list's order: plan messages, codes, links and family
	 * notices (urgent) first, in the order claimed; then check-in asks by
	 * turn, each crisis's turns following one another, so that crises take
	 * turns (outbox_fair_order).
	 */
	bool urgent;
	uint64_t turn, seq;
};

/* A crisis's last turn given on a channel (0 sms, 1 email) to an ask it has ready. */
struct outbox_crisis_turn {
	long long crisis_id;
	int channel;
	uint64_t last;
};

struct outbox_result {
	long long id;
	enum channel_outcome outcome;
	char *provider_id;
	char *error;
	int parts;
	int attempts;
	double delay;   /* seconds before a retry, jitter included, chosen once */
	bool permanent; /* the gateway refused this recipient: the address is recorded as failed */
	const char *driver;
};

struct outbox {
	struct daemon *d;
	char claimer[48]; /* this process, for claimed_by */
	struct event *tick;
	struct event *maintenance; /* stale claims and escalation */
	struct outbox_item *ready_head, *ready_tail;
	int ready, ready_sms, ready_email;
	struct outbox_item *inflight_head; /* handed to a driver, not yet answered */
	int inflight_sms, inflight_email;
	bool claiming, flushing, escalating, refreshing, releasing;
	bool giving_back; /* a paused channel's unsent claims are being given back */
	/* The last outcome write failed: nothing new is sent until one commits. */
	bool flush_failing;
	bool flush_stripped; /* the last batch refused was written again without its texts */
	bool released;       /* shutting down: the unsent claims were given back */
	struct sf_bucket sms_bucket, email_bucket;
	/* Outcomes not yet committed; the first nflushing are in the statement running. */
	struct outbox_result *results;
	int nresults, cap_results, nflushing;
	double last_refresh;
	int claim_limit; /* rows the claim running asked for */
	/*
	 * Per channel (sms, email): the turn of the last check-in ask handed to
	 * a driver, and each crisis's last turn given to an ask it has ready
	 * (only crises ahead of that: the others start from it).
	 */
	uint64_t turn_sent[2], seq;
	struct outbox_crisis_turn *turns;
	int nturns, cap_turns;
	uint64_t sent, retried, failed;
	time_t last_maintenance, last_escalate, last_routes;
	/*
	 * A channel whose gateway failed as a whole (login refused, wrong URL,
	 * down, unreachable) pauses: nothing of it is sent until paused_until,
	 * and the pause doubles while the faults go on. Per channel: sms, email.
	 */
	struct {
		double paused_until, pause_s;
		time_t since;
		uint64_t faults;
		char reason[160];
	} route[2];
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
static void outbox_flush(struct outbox *ob);
static void outbox_shutdown_step(struct outbox *ob);

/* First and longest pause of a channel whose gateway fails as a whole. */
#define OUTBOX_PAUSE_MIN_S 5.0
#define OUTBOX_PAUSE_MAX_S 300.0

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
	/* The log driver marks messages sent that reach nobody: fine for a demo, fatal in a crisis.
	 */
	if (strcmp(d->cfg.sms_driver, "log") == 0 || strcmp(d->cfg.email_driver, "log") == 0)
		log_warn("messages_reach_nobody", "sms", d->cfg.sms_driver, "email",
		         d->cfg.email_driver, "hint",
		         "the log driver only writes messages to state_dir/outbox-log.jsonl; set "
		         "[channels] sms_driver and email_driver to real gateways");
	return ob;
}

/*
 * Frees the dispatcher. The shutdown (outbox_settled) has given back the
 * unsent claims and written the outcomes; whatever is left here (the
 * database was down, or shutdown_timeout passed) stays 'sending' and is
 * requeued as stale by the next process.
 */
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
	free(ob->turns);
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
	evbuffer_add_printf(out,
	                    "# HELP safety_channel_driver_info The driver each channel sends by "
	                    "(log: nobody is reached).\n"
	                    "# TYPE safety_channel_driver_info gauge\n"
	                    "safety_channel_driver_info{channel=\"sms\",driver=\"%s\"} 1\n"
	                    "safety_channel_driver_info{channel=\"email\",driver=\"%s\"} 1\n",
	                    ob->d->cfg.sms_driver, ob->d->cfg.email_driver);
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
	evbuffer_add_printf(out,
	                    "# HELP safety_channel_paused 1 while a channel is paused because its "
	                    "gateway fails as a whole (login, URL, outage).\n"
	                    "# TYPE safety_channel_paused gauge\n"
	                    "safety_channel_paused{channel=\"sms\"} %d\n"
	                    "safety_channel_paused{channel=\"email\"} %d\n"
	                    "# HELP safety_channel_route_faults_total Sends that failed by the "
	                    "gateway's fault (not counted as attempts).\n"
	                    "# TYPE safety_channel_route_faults_total counter\n"
	                    "safety_channel_route_faults_total{channel=\"sms\"} %llu\n"
	                    "safety_channel_route_faults_total{channel=\"email\"} %llu\n",
	                    ob->route[0].since != 0, ob->route[1].since != 0,
	                    (unsigned long long)ob->route[0].faults,
	                    (unsigned long long)ob->route[1].faults);
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

/* Adds the paused channels to a /readyz answer. */
void
outbox_health(const struct outbox *ob, struct cJSON *body)
{
	static const char *const channels[2] = {"sms", "email"};
	cJSON *paused = NULL;

	if (ob == NULL)
		return;
	for (int c = 0; c < 2; c++) {
		cJSON *one;
		double left = ob->route[c].paused_until - outbox_now();

		if (ob->route[c].since == 0)
			continue;
		if (paused == NULL)
			paused = cJSON_AddArrayToObject(body, "channels_paused");
		one = cJSON_CreateObject();
		cJSON_AddStringToObject(one, "channel", channels[c]);
		cJSON_AddStringToObject(one, "driver", channel_driver_name(ob->d, channels[c]));
		cJSON_AddStringToObject(one, "error", ob->route[c].reason);
		cJSON_AddNumberToObject(one, "since", (double)ob->route[c].since);
		cJSON_AddNumberToObject(one, "retry_in_s", left > 0 ? (int)(left + 0.5) : 0);
		cJSON_AddItemToArray(paused, one);
	}
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

/* The state a result asks for, before the database adds what it knows (a closed crisis). */
static const char *
outbox_result_state(const struct outbox *ob, const struct outbox_result *res)
{
	if (res->outcome == CHANNEL_SENT)
		return "sent";
	/* The route's fault is never the message's: it waits for the gateway, however long. */
	if (res->outcome == CHANNEL_ROUTE)
		return "queued";
	if (res->outcome == CHANNEL_TRANSIENT && res->attempts < ob->d->cfg.max_attempts)
		return "queued";
	return "failed";
}

/* Counts committed outcomes for /metrics. */
static void
outbox_count(struct outbox *ob, const struct outbox_result *res)
{
	int drv = outbox_driver_index(res->driver);
	const char *state = outbox_result_state(ob, res);

	if (res->outcome != CHANNEL_SENT)
		ob->fail_reason[drv][outbox_reason_index(res->outcome, res->error)]++;
	if (strcmp(state, "sent") == 0) {
		ob->sent++;
		ob->by_driver[drv][0]++;
	} else if (strcmp(state, "queued") == 0) {
		ob->retried++;
		ob->by_driver[drv][1]++;
	} else {
		ob->failed++;
		ob->by_driver[drv][2]++;
	}
}

/* The outcomes were written, or not: then they stay and go again at the next tick. */
static void
outbox_flush_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;
	int n = ob->nflushing;

	ob->flushing = false;
	ob->nflushing = 0;
	if (r->outcome == DB_SQL_ERROR &&
	    (strncmp(r->sqlstate, "22", 2) == 0 || strncmp(r->sqlstate, "23", 2) == 0)) {
		/*
		 * The batch itself is refused, not the database away: written
		 * again it would be refused for ever and sending would never
		 * resume. Its gateway texts go first; if it is still refused,
		 * its outcomes are given up (the rows go stale and are sent
		 * again, the behaviour of a lost outcome).
		 */
		log_error("outbox_update_refused", "sqlstate", r->sqlstate, "error", r->error,
		          "outcomes", n, "detail",
		          ob->flush_stripped ? "outcomes given up" : "written again without texts");
		for (int i = 0; i < n; i++) {
			free(ob->results[i].provider_id);
			free(ob->results[i].error);
			ob->results[i].provider_id = NULL;
			ob->results[i].error = NULL;
		}
		if (ob->flush_stripped) {
			memmove(ob->results, ob->results + n,
			        (size_t)(ob->nresults - n) * sizeof *ob->results);
			ob->nresults -= n;
			ob->flush_stripped = false;
		} else {
			ob->flush_stripped = true;
		}
		ob->flush_failing = false;
		return; /* the next tick writes what is left */
	}
	if (r->outcome != DB_OK) {
		if (!ob->flush_failing)
			log_warn("outbox_update_failed", "error", r->error, "detail",
			         "outcomes kept; sending paused until they are written");
		ob->flush_failing = true;
		/* Written again at the next tick, not at once: no loop while the database is away.
		 */
		return;
	}
	if (ob->flush_failing)
		log_info("outbox_update_recovered");
	ob->flush_failing = false;
	ob->flush_stripped = false;
	for (int i = 0; i < n; i++) {
		outbox_count(ob, &ob->results[i]);
		free(ob->results[i].provider_id);
		free(ob->results[i].error);
	}
	memmove(ob->results, ob->results + n, (size_t)(ob->nresults - n) * sizeof *ob->results);
	ob->nresults -= n;
	/* Delivery reports that came before these outcomes can match now. */
	dlr_outcomes_written(ob->d);
	if (ob->nresults >= OUTBOX_FLUSH_MAX || (ob->d->shutting_down && ob->nresults > 0))
		outbox_flush(ob);
	outbox_pump(ob);
	outbox_shutdown_step(ob);
}

/*
 * Writes the collected outcomes in one statement. Each result is kept until
 * the statement commits: one that cannot be written now is written at the
 * next tick, so a message is never requeued as stale after it was sent.
 */
static void
outbox_flush(struct outbox *ob)
{
	/*
	 * Columns: id, state, provider id, error, parts, driver, delay, the
	 * route's fault, the recipient refused; then the claimer.
	 */
	struct pg_arrays cols;
	const char *params[10];
	const char *const *arrays;
	const char *cause;
	char num[32];
	int n;

	if (ob->nresults == 0 || ob->flushing || ob->d->db == NULL)
		return;
	n = ob->nresults < OUTBOX_FLUSH_MAX ? ob->nresults : OUTBOX_FLUSH_MAX;
	pg_arrays_open(&cols, 9);
	for (int i = 0; i < n; i++) {
		struct outbox_result *res = &ob->results[i];

		pg_arrays_add_int(&cols, 0, res->id);
		pg_arrays_add(&cols, 1, outbox_result_state(ob, res));
		pg_arrays_add(&cols, 2, res->provider_id);
		pg_arrays_add(&cols, 3, res->error);
		pg_arrays_add_int(&cols, 4, res->parts);
		pg_arrays_add(&cols, 5, res->driver);
		snprintf(num, sizeof num, "%.3f", res->delay);
		pg_arrays_add(&cols, 6, num);
		pg_arrays_add(&cols, 7, res->outcome == CHANNEL_ROUTE ? "t" : "f");
		pg_arrays_add(&cols, 8, res->outcome == CHANNEL_PERMANENT ? "t" : "f");
	}
	arrays = pg_arrays_close(&cols);
	for (int i = 0; i < 9; i++)
		params[i] = arrays[i];
	params[9] = ob->claimer;
	ob->flushing = true;
	ob->nflushing = n;
	/*
	 * Only rows this process still holds. A delivery report may have come
	 * first (the row is delivered or failed): the send's details are written
	 * and the later state stays. A retry of a closed crisis's message is a
	 * failure. A send that failed by the route's fault is not counted as an
	 * attempt. A check-in that failed for good makes the person due again at
	 * once (the next round goes to their next address, and an address whose
	 * recipient the gateway refused is recorded and skipped from then on);
	 * other messages leave the check-in alone (a plan message that failed
	 * goes to the next contact by itself: 0050).
	 */
	if (db_pool_query_prepared(
	        ob->d->db,
	        "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], "
	        " $4::text[], $5::int[], $6::text[], $7::float8[], $8::bool[], $9::bool[]) "
	        " AS r(id, state, pid, err, parts, driver, delay, route, perm)), "
	        "x AS (SELECT r.*, o.state = 'sending' AS open, r.state = 'queued' AND EXISTS "
	        " (SELECT 1 FROM crisis c WHERE c.id = o.crisis_id AND c.state = 'closed') AS "
	        "closed "
	        " FROM r JOIN outbox o ON o.id = r.id), "
	        /*
	         * The gateway reported taking the message while it was being
	         * sent (accepted_at, read from the row as updated, so a report
	         * committed meanwhile counts): sent, whatever the answer, unless
	         * it refused the recipient.
	         */
	        "u AS (UPDATE outbox o SET state = CASE WHEN o.state <> 'sending' THEN o.state "
	        " WHEN o.accepted_at IS NOT NULL AND NOT x.perm THEN 'sent' "
	        " WHEN x.closed THEN 'failed' ELSE x.state::outbox_state END, "
	        " provider_id = coalesce(x.pid, o.provider_id), "
	        " last_error = CASE WHEN o.state <> 'sending' THEN o.last_error "
	        " WHEN o.accepted_at IS NOT NULL AND NOT x.perm THEN NULL "
	        " WHEN x.closed THEN 'crisis closed' ELSE x.err END, "
	        " parts = x.parts, driver = x.driver, claimed_by = NULL, "
	        /* Refused by a gateway, or given up after sends: route health counts it. */
	        " gateway_failed = o.gateway_failed OR (o.state = 'sending' AND NOT x.closed "
	        " AND x.state = 'failed' AND (x.perm OR o.accepted_at IS NULL)), "
	        " attempts = CASE WHEN x.route AND o.state = 'sending' "
	        " AND o.accepted_at IS NULL "
	        " THEN greatest(o.attempts - 1, 0) ELSE o.attempts END, "
	        " route_faults = CASE WHEN x.route AND o.state = 'sending' "
	        " AND o.accepted_at IS NULL "
	        " THEN least(o.route_faults + 1, 32000) ELSE o.route_faults END, "
	        /* A report that came first: the send was no later than the delivery. */
	        " sent_at = CASE WHEN x.state = 'sent' OR o.state = 'delivered' "
	        " OR (o.state = 'sending' AND o.accepted_at IS NOT NULL AND NOT x.perm) "
	        " THEN coalesce(o.sent_at, least(now(), o.delivered_at, o.accepted_at)) "
	        " ELSE o.sent_at END, "
	        " next_attempt_at = CASE WHEN o.state = 'sending' THEN now() + "
	        " make_interval(secs => x.delay) ELSE o.next_attempt_at END "
	        " FROM x WHERE o.id = x.id AND o.claimed_by = $10 "
	        " AND o.state IN ('sending', 'delivered', 'failed') "
	        " RETURNING o.crisis_id, o.national_id, o.channel, o.recipient, x.perm, x.err, "
	        " x.open AND x.state = 'failed' AND o.state = 'failed' AND o.kind = 'checkin' "
	        " AS reask), "
	        "f AS (INSERT INTO checkin_address_failed (crisis_id, national_id, channel, "
	        " recipient, error) SELECT DISTINCT ON (u.crisis_id, u.national_id, u.channel, "
	        " u.recipient) u.crisis_id, u.national_id, u.channel, u.recipient, u.err "
	        " FROM u WHERE u.reask AND u.perm AND u.crisis_id IS NOT NULL "
	        " AND u.national_id IS NOT NULL ON CONFLICT DO NOTHING RETURNING 1) "
	        "UPDATE checkin k SET next_ask_at = now() FROM u WHERE u.reask "
	        " AND k.crisis_id = u.crisis_id AND k.national_id = u.national_id "
	        " AND k.state = 'asked'",
	        10, params, outbox_flush_done, ob, &cause) != 0) {
		ob->flushing = false;
		ob->nflushing = 0;
		if (!ob->flush_failing)
			log_warn("outbox_update_skipped", "error", cause, "detail",
			         "outcomes kept; sending paused until they are written");
		ob->flush_failing = true;
	}
	pg_arrays_free(&cols);
}

/* The index of a channel in route[] and the gauges: 0 sms, 1 email. */
static int
outbox_channel_index(const char *channel)
{
	return strcmp(channel, "email") == 0 ? 1 : 0;
}

/* True while a channel is paused for its gateway's fault. */
static bool
outbox_channel_paused(const struct outbox *ob, int c, double now)
{
	return ob->route[c].paused_until > now;
}

/*
 * A send failed by the route's fault: the channel pauses, twice as long as
 * the last time while no send gets through, and says so once per pause.
 */
static void
outbox_route_fault(struct outbox *ob, const char *channel, const char *error)
{
	int c = outbox_channel_index(channel);
	double now = outbox_now();
	char secs[16];

	ob->route[c].faults++;
	/* The transfers in flight when it paused fail too: one pause for them all. */
	if (outbox_channel_paused(ob, c, now))
		return;
	ob->route[c].pause_s =
	    ob->route[c].pause_s <= 0 ? OUTBOX_PAUSE_MIN_S : ob->route[c].pause_s * 2;
	if (ob->route[c].pause_s > OUTBOX_PAUSE_MAX_S)
		ob->route[c].pause_s = OUTBOX_PAUSE_MAX_S;
	ob->route[c].paused_until = now + ob->route[c].pause_s;
	if (ob->route[c].since == 0)
		ob->route[c].since = time(NULL);
	snprintf(ob->route[c].reason, sizeof ob->route[c].reason, "%s",
	         error != NULL ? error : "gateway failed");
	snprintf(secs, sizeof secs, "%.0f", ob->route[c].pause_s);
	log_warn("channel_paused", "channel", channel, "driver",
	         channel_driver_name(ob->d, channel), "error", ob->route[c].reason, "seconds", secs,
	         "detail",
	         "the gateway failed as a whole; its messages stay queued and no round advances "
	         "until it answers");
}

/* A send got through: a paused channel is working again. */
static void
outbox_route_ok(struct outbox *ob, const char *channel)
{
	int c = outbox_channel_index(channel);

	if (ob->route[c].since != 0)
		log_info("channel_resumed", "channel", channel, "driver",
		         channel_driver_name(ob->d, channel));
	ob->route[c].pause_s = 0;
	ob->route[c].paused_until = 0;
	ob->route[c].since = 0;
	ob->route[c].reason[0] = '\0';
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
	if (it->prev != NULL)
		it->prev->next = it->next;
	else
		ob->inflight_head = it->next;
	if (it->next != NULL)
		it->next->prev = it->prev;
	if (ob->nresults == ob->cap_results) {
		ob->cap_results = ob->cap_results ? ob->cap_results * 2 : 256;
		ob->results = xrealloc(ob->results, (size_t)ob->cap_results * sizeof *ob->results);
	}
	res = &ob->results[ob->nresults++];
	res->id = outbox_id;
	res->outcome = outcome;
	/*
	 * Both come from the gateway: valid UTF-8, cut between characters, or
	 * the one statement that writes a batch's outcomes would be refused.
	 */
	res->provider_id = provider_id != NULL ? text_sanitized(provider_id, 200, false) : NULL;
	res->error = error != NULL ? text_sanitized(error, 300, false) : NULL;
	res->parts = parts;
	res->attempts = it->attempts;
	res->driver = channel_driver_name(ob->d, it->channel);
	res->permanent = outcome == CHANNEL_PERMANENT;
	/* Exponential back-off with jitter: 2, 4, 8 ... seconds, at most about 10 minutes. */
	if (outcome == CHANNEL_ROUTE) {
		outbox_route_fault(ob, it->channel, error);
		/*
		 * One message failing alone on a working gateway backs off by
		 * itself. Not until this process's pause ends: the pause is this
		 * process's, and another one's gateway may be working.
		 */
		res->delay = (double)(1 << (it->route_faults < 9 ? it->route_faults : 9));
	} else {
		if (outcome == CHANNEL_SENT)
			outbox_route_ok(ob, it->channel);
		res->delay = (double)(1 << (it->attempts < 9 ? it->attempts : 9));
		/* A gateway too slow to answer slows the whole channel down, not only this message.
		 */
		if (outcome == CHANNEL_TRANSIENT && error != NULL &&
		    (strstr(error, "timed out") != NULL || strstr(error, "Timeout") != NULL)) {
			int c = outbox_channel_index(it->channel);
			double left;

			outbox_route_fault(ob, it->channel, error);
			left = ob->route[c].paused_until - outbox_now();
			if (res->delay < left)
				res->delay = left;
			/* The gateway may still take it: its report gets time to come first. */
			if (res->delay < 2.0 * ob->d->cfg.send_timeout_ms / 1000.0)
				res->delay = 2.0 * ob->d->cfg.send_timeout_ms / 1000.0;
		}
	}
	res->delay *= 0.75 + (double)(rand() % 500) / 1000.0;
	outbox_item_free(it);
	if (ob->nresults >= 200 || ob->d->shutting_down)
		outbox_flush(ob);
	outbox_pump(ob);
	outbox_shutdown_step(ob);
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
		/* Codes, management links, family notices and plans are sent as written. */
		text = xstrdup(it->body);
	} else {
		/*
		 * Put the reply link where the template said: at the marker the
		 * database put there (no name can hold it), or, in a message queued
		 * without one, at "{link}".
		 */
		static const char marker[] = "\x1fLINK\x1f";
		size_t mlen = sizeof marker - 1;

		reply_link_make(ob->d, it->crisis_id, it->national_id, link, sizeof link);
		p = strstr(it->body, marker);
		if (p == NULL && (p = strstr(it->body, "{link}")) != NULL)
			mlen = 6;
		if (p != NULL)
			xasprintf(&text, "%.*s%s%s", (int)(p - it->body), it->body, link, p + mlen);
		else
			xasprintf(&text, "%s %s", it->body, link);
	}
	memset(&m, 0, sizeof m);
	m.outbox_id = it->id;
	m.channel = it->channel;
	m.recipient = it->recipient;
	m.text = text;
	m.language = it->language;
	m.attempt = it->attempts;
	m.drill = it->drill;
	if (strcmp(it->kind, "family") == 0)
		m.subject = strcmp(it->language, "ko") == 0 ? "가족 안전 소식 / Family safety news"
		                                            : "Safety news of your family";
	else if (strcmp(it->kind, "plan") == 0)
		m.subject = strcmp(it->language, "ko") == 0
		                ? (it->drill ? "[훈련] 대피 계획 / Evacuation plan"
		                             : "대피 계획 / Evacuation plan")
		                : (it->drill ? "[DRILL] Evacuation plan" : "Evacuation plan");
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
	it->prev = NULL;
	it->next = ob->inflight_head;
	if (ob->inflight_head != NULL)
		ob->inflight_head->prev = it;
	ob->inflight_head = it;
	if (channel_send(ob->d, &m, outbox_sent_cb, it) != 0)
		outbox_sent_cb(it->id, CHANNEL_TRANSIENT, NULL, "could not start the request", 1,
		               it);
	memset(text, 0, strlen(text));
	free(text);
}

/* Takes an item out of the ready list; pp points at the link to it. */
static void
outbox_ready_unlink(struct outbox *ob, struct outbox_item **pp, struct outbox_item *prev)
{
	struct outbox_item *it = *pp;

	*pp = it->next;
	if (ob->ready_tail == it)
		ob->ready_tail = prev;
	ob->ready--;
	if (strcmp(it->channel, "email") == 0)
		ob->ready_email--;
	else
		ob->ready_sms--;
	it->next = NULL;
}

/*
 * True when new messages may go out: not while outcomes cannot be written
 * (each send would be one more that may go twice), not while the refresh
 * decides which ready messages still may go, not once shutting down.
 */
static bool
outbox_may_send(const struct outbox *ob)
{
	const struct daemon *d = ob->d;

	return !d->shutting_down && d->db != NULL && d->http_client != NULL &&
	       db_pool_connected(d->db) && !ob->flush_failing;
}

/* Sends ready items while rate and concurrency allow. */
static void
outbox_pump(struct outbox *ob)
{
	struct outbox_item **pp = &ob->ready_head, *it, *prev = NULL;
	double now = outbox_now();

	if (!outbox_may_send(ob))
		return;
	while ((it = *pp) != NULL) {
		bool email = strcmp(it->channel, "email") == 0;
		int inflight = email ? ob->inflight_email : ob->inflight_sms;
		int cap = email ? ob->d->cfg.email_concurrency : ob->d->cfg.sms_concurrency;
		struct sf_bucket *bucket = email ? &ob->email_bucket : &ob->sms_bucket;

		/*
		 * After a pause, until a send gets through, one message at a time
		 * tries the gateway: a gateway still down costs one try per pause,
		 * not a full window of them.
		 */
		if (ob->route[email ? 1 : 0].since != 0)
			cap = 1;

		/* One named in the refresh in flight waits for it: its crisis may have closed. */
		if (it->checking || inflight >= cap ||
		    outbox_channel_paused(ob, email ? 1 : 0, now) ||
		    !sf_bucket_take(bucket, now, 1.0)) {
			prev = it;
			pp = &it->next;
			continue;
		}
		outbox_ready_unlink(ob, pp, prev);
		if (!it->urgent && it->turn > ob->turn_sent[email ? 1 : 0])
			ob->turn_sent[email ? 1 : 0] = it->turn;
		outbox_send_one(ob, it);
	}
}

/* Orders ids for bsearch. */
static int
outbox_id_cmp(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* The ids of every message this process holds (ready, in flight, outcome unwritten), sorted. */
static long long *
outbox_held_ids(const struct outbox *ob, size_t *n)
{
	size_t cap = (size_t)ob->ready + (size_t)ob->inflight_sms + (size_t)ob->inflight_email +
	             (size_t)ob->nresults + 1;
	long long *ids = xcalloc(cap, sizeof *ids);
	const struct outbox_item *it;

	*n = 0;
	for (it = ob->ready_head; it != NULL && *n < cap; it = it->next)
		ids[(*n)++] = it->id;
	for (it = ob->inflight_head; it != NULL && *n < cap; it = it->next)
		ids[(*n)++] = it->id;
	for (int i = 0; i < ob->nresults && *n < cap; i++)
		ids[(*n)++] = ob->results[i].id;
	qsort(ids, *n, sizeof *ids, outbox_id_cmp);
	return ids;
}

/* Orders ready items: urgent first, then by turn, then as claimed. */
static int
outbox_fair_cmp(const void *a, const void *b)
{
	const struct outbox_item *x = *(struct outbox_item *const *)a,
	                         *y = *(struct outbox_item *const *)b;

	if (x->urgent != y->urgent)
		return x->urgent ? -1 : 1;
	if (x->turn != y->turn)
		return x->turn < y->turn ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * Gives a newly claimed item its place. A check-in ask takes its crisis's
 * next turn, counted from the last turn sent on its channel: a crisis
 * whose asks came later is not queued behind all of another's, however
 * many that one has ready, but takes every other place with it.
 */
static void
outbox_fair_place(struct outbox *ob, struct outbox_item *it)
{
	int c = outbox_channel_index(it->channel);
	struct outbox_crisis_turn *t = NULL;

	it->seq = ++ob->seq;
	it->urgent = strcmp(it->kind, "checkin") != 0 || it->crisis_id == 0;
	if (it->urgent)
		return;
	for (int i = 0; i < ob->nturns && t == NULL; i++)
		if (ob->turns[i].crisis_id == it->crisis_id && ob->turns[i].channel == c)
			t = &ob->turns[i];
	if (t == NULL) {
		if (ob->nturns == ob->cap_turns) {
			ob->cap_turns = ob->cap_turns ? ob->cap_turns * 2 : 8;
			ob->turns = xrealloc(ob->turns, (size_t)ob->cap_turns * sizeof *ob->turns);
		}
		t = &ob->turns[ob->nturns++];
		t->crisis_id = it->crisis_id;
		t->channel = c;
		t->last = 0;
	}
	it->turn = (t->last > ob->turn_sent[c] ? t->last : ob->turn_sent[c]) + 1;
	t->last = it->turn;
}

/* Puts the ready list in its order (outbox_fair_cmp), after a claim added to it. */
static void
outbox_fair_order(struct outbox *ob)
{
	struct outbox_item **all, *it;
	int n = 0, kept = 0;

	/* Crises whose turns were all sent start again from the last turn sent. */
	for (int i = 0; i < ob->nturns; i++)
		if (ob->turns[i].last > ob->turn_sent[ob->turns[i].channel])
			ob->turns[kept++] = ob->turns[i];
	ob->nturns = kept;
	if (ob->ready < 2)
		return;
	all = xcalloc((size_t)ob->ready, sizeof *all);
	for (it = ob->ready_head; it != NULL && n < ob->ready; it = it->next)
		all[n++] = it;
	qsort(all, (size_t)n, sizeof *all, outbox_fair_cmp);
	for (int i = 0; i < n; i++)
		all[i]->next = i + 1 < n ? all[i + 1] : NULL;
	ob->ready_head = all[0];
	ob->ready_tail = all[n - 1];
	free(all);
}

/* A claim answered: queue what came. */
static void
outbox_claim_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;
	long long *held;
	size_t nheld;

	ob->claiming = false;
	if (r->outcome != DB_OK) {
		if (r->outcome == DB_SQL_ERROR)
			log_warn("outbox_claim_failed", "error", r->error);
		outbox_shutdown_step(ob);
		return;
	}
	held = outbox_held_ids(ob, &nheld);
	for (int i = 0; i < PQntuples(r->res); i++) {
		struct outbox_item *it;
		long long id = atoll(PQgetvalue(r->res, i, 0));

		/* Requeued by another process while this one still held it: it is here once. */
		if (bsearch(&id, held, nheld, sizeof *held, outbox_id_cmp) != NULL)
			continue;
		it = xcalloc(1, sizeof *it);
		it->id = id;
		it->channel = xstrdup(PQgetvalue(r->res, i, 1));
		it->recipient = xstrdup(PQgetvalue(r->res, i, 2));
		it->body = xstrdup(PQgetvalue(r->res, i, 3));
		it->language = xstrdup(PQgetvalue(r->res, i, 4));
		it->crisis_id = atoll(PQgetvalue(r->res, i, 5));
		it->national_id = atoll(PQgetvalue(r->res, i, 6));
		it->attempts = atoi(PQgetvalue(r->res, i, 7));
		it->drill = strcmp(PQgetvalue(r->res, i, 8), "t") == 0;
		snprintf(it->kind, sizeof it->kind, "%s", PQgetvalue(r->res, i, 9));
		it->route_faults = atoi(PQgetvalue(r->res, i, 10));
		outbox_fair_place(ob, it);
		if (ob->ready_tail != NULL)
			ob->ready_tail->next = it;
		else
			ob->ready_head = it;
		ob->ready_tail = it;
		ob->ready++;
		if (strcmp(it->channel, "email") == 0)
			ob->ready_email++;
		else
			ob->ready_sms++;
	}
	free(held);
	outbox_fair_order(ob);
	outbox_pump(ob);
	/* A full claim means more is waiting: claim again without waiting for the tick. */
	if (PQntuples(r->res) > 0 && PQntuples(r->res) == ob->claim_limit && !ob->d->shutting_down)
		event_active(ob->tick, EV_TIMEOUT, 0);
	outbox_shutdown_step(ob);
}

/* The refresh answered: rows still held and not of a closed crisis came back. */
static void
outbox_refresh_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;
	struct outbox_item **pp = &ob->ready_head, *it, *prev = NULL;
	long long *kept = NULL;
	size_t nkept = 0;
	int closed = 0;

	ob->refreshing = false;
	if (r->outcome == DB_OK) {
		kept = xcalloc((size_t)PQntuples(r->res) + 1, sizeof *kept);
		for (int i = 0; i < PQntuples(r->res); i++) {
			if (strcmp(PQgetvalue(r->res, i, 1), "t") == 0)
				closed++;
			else
				kept[nkept++] = atoll(PQgetvalue(r->res, i, 0));
		}
		qsort(kept, nkept, sizeof *kept, outbox_id_cmp);
	} else if (r->outcome == DB_SQL_ERROR) {
		log_warn("outbox_refresh_failed", "error", r->error);
	}
	while ((it = *pp) != NULL) {
		if (!it->checking) {
			prev = it;
			pp = &it->next;
			continue;
		}
		it->checking = false;
		/* Unanswered: nothing is known, so nothing is dropped. */
		if (r->outcome != DB_OK ||
		    bsearch(&it->id, kept, nkept, sizeof *kept, outbox_id_cmp) != NULL) {
			prev = it;
			pp = &it->next;
			continue;
		}
		/* Its crisis closed (the row is now failed), or another process took it. */
		outbox_ready_unlink(ob, pp, prev);
		outbox_item_free(it);
	}
	free(kept);
	if (closed > 0) {
		char n[16];

		snprintf(n, sizeof n, "%d", closed);
		ob->failed += (uint64_t)closed;
		log_info("outbox_crisis_closed", "dropped", n);
	}
	outbox_pump(ob);
	outbox_shutdown_step(ob);
}

/*
 * Keeps this process's claims fresh (claimed_at = now()), so a message
 * waiting for the rate limit is never requeued as stale while it is held,
 * and fails the ready messages of closed crises. Ready messages not
 * confirmed are dropped before they are sent.
 */
static void
outbox_refresh(struct outbox *ob)
{
	struct pg_arrays cols;
	const char *params[3];
	const char *const *arrays;
	const char *cause;
	struct outbox_item *it;
	bool any = false;

	pg_arrays_open(&cols, 2);
	for (it = ob->ready_head; it != NULL; it = it->next) {
		pg_arrays_add_int(&cols, 0, it->id);
		pg_arrays_add(&cols, 1, "t");
		any = true;
	}
	for (it = ob->inflight_head; it != NULL; it = it->next) {
		pg_arrays_add_int(&cols, 0, it->id);
		pg_arrays_add(&cols, 1, "f");
		any = true;
	}
	for (int i = 0; i < ob->nresults; i++) {
		pg_arrays_add_int(&cols, 0, ob->results[i].id);
		pg_arrays_add(&cols, 1, "f");
		any = true;
	}
	arrays = pg_arrays_close(&cols);
	if (!any) {
		pg_arrays_free(&cols);
		return;
	}
	params[0] = ob->claimer;
	params[1] = arrays[0];
	params[2] = arrays[1];
	ob->refreshing = true;
	if (db_pool_query_prepared(
	        ob->d->db,
	        "WITH h AS (SELECT * FROM unnest($2::bigint[], $3::bool[]) AS h(id, ready)), "
	        "y AS (SELECT o.id, h.ready, CASE WHEN EXISTS (SELECT 1 FROM crisis c "
	        " WHERE c.id = o.crisis_id AND c.state = 'closed') THEN 'crisis closed' "
	        " WHEN o.kind = 'checkin' THEN (SELECT k.state::text FROM checkin k "
	        " WHERE k.crisis_id = o.crisis_id AND k.national_id = o.national_id "
	        " AND k.state IN ('answered', 'cancelled')) END AS why "
	        " FROM h JOIN outbox o ON o.id = h.id), "
	        /* A ready ask whose person answered meanwhile is not sent either. */
	        "x AS (SELECT y.id, y.ready AND y.why IS NOT NULL AS closed, y.why FROM y) "
	        "UPDATE outbox o SET claimed_at = now(), "
	        " state = CASE WHEN x.closed THEN 'failed' ELSE o.state END, "
	        " last_error = CASE WHEN x.closed THEN x.why ELSE o.last_error END, "
	        " claimed_by = CASE WHEN x.closed THEN NULL ELSE o.claimed_by END "
	        "FROM x WHERE o.id = x.id AND o.claimed_by = $1 AND o.state = 'sending' "
	        "RETURNING o.id, x.closed",
	        3, params, outbox_refresh_done, ob, &cause) != 0) {
		ob->refreshing = false;
	} else {
		for (it = ob->ready_head; it != NULL; it = it->next)
			it->checking = true;
	}
	pg_arrays_free(&cols);
}

/* The unsent claims were given back (or could not be: they go stale). */
static void
outbox_release_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;
	struct outbox_item *it;
	char n[16];

	ob->releasing = false;
	ob->released = true;
	snprintf(n, sizeof n, "%d", ob->ready);
	if (r->outcome != DB_OK)
		log_warn("outbox_release_failed", "error", r->error, "messages", n, "detail",
		         "requeued as stale after stale_claim");
	else if (ob->ready > 0)
		log_info("outbox_released", "messages", n);
	while ((it = ob->ready_head) != NULL) {
		ob->ready_head = it->next;
		outbox_item_free(it);
	}
	ob->ready_tail = NULL;
	ob->ready = ob->ready_sms = ob->ready_email = 0;
	outbox_shutdown_step(ob);
}

/* True once a shutdown has nothing left to wait for in the dispatcher. */
bool
outbox_settled(const struct outbox *ob)
{
	bool writable;

	if (ob == NULL)
		return true;
	if (ob->claiming || ob->flushing || ob->refreshing || ob->releasing || ob->giving_back ||
	    ob->inflight_sms + ob->inflight_email > 0)
		return false;
	/* With the database down, what is left goes stale and is requeued by the next process. */
	writable = ob->d->db != NULL && db_pool_connected(ob->d->db);
	if (!writable)
		return true;
	/* A failed write is tried again at every tick, until shutdown_timeout. */
	return ob->nresults == 0 && (ob->released || ob->ready == 0);
}

/*
 * Gives back claims never handed to a driver, their attempt uncounted (it
 * was never made); due at once when due_now, else in their place. Answers
 * db_pool_query's result.
 */
static int
outbox_unclaim(struct outbox *ob, struct pg_arrays *ids, bool due_now, db_query_done_cb done)
{
	const char *params[2], *cause;

	params[0] = ob->claimer;
	params[1] = pg_arrays_close(ids)[0];
	return db_pool_query(ob->d->db,
	                     due_now ? "UPDATE outbox SET state = 'queued', claimed_by = NULL, "
	                               " attempts = greatest(attempts - 1, 0), next_attempt_at = now() "
	                               "WHERE id = ANY ($2::bigint[]) AND claimed_by = $1 "
	                               " AND state = 'sending'"
	                             : "UPDATE outbox SET state = 'queued', claimed_by = NULL, "
	                               " attempts = greatest(attempts - 1, 0) "
	                               "WHERE id = ANY ($2::bigint[]) AND claimed_by = $1 "
	                               " AND state = 'sending'",
	                     2, params, done, ob, &cause);
}

/*
 * While shutting down: once every transfer has answered and every outcome
 * is written, gives back the claims never handed to a driver, then lets the
 * daemon finish.
 */
static void
outbox_shutdown_step(struct outbox *ob)
{
	struct pg_arrays ids;
	struct outbox_item *it;

	if (!ob->d->shutting_down)
		return;
	outbox_flush(ob);
	if (!ob->released && !ob->releasing && !ob->claiming && !ob->refreshing && ob->ready > 0 &&
	    ob->d->db != NULL && db_pool_connected(ob->d->db)) {
		pg_arrays_open(&ids, 1);
		for (it = ob->ready_head; it != NULL; it = it->next)
			pg_arrays_add_int(&ids, 0, it->id);
		ob->releasing = true;
		if (outbox_unclaim(ob, &ids, true, outbox_release_done) != 0)
			ob->releasing = false;
		pg_arrays_free(&ids);
	}
	if (outbox_settled(ob))
		daemon_work_done(ob->d);
}

/* Begins the dispatcher's part of a shutdown: nothing new is sent. */
void
outbox_shutdown(struct outbox *ob)
{
	if (ob == NULL)
		return;
	outbox_shutdown_step(ob);
}

/* A paused channel's claims were given back, or could not be: they go stale and are requeued. */
static void
outbox_give_back_done(const struct db_result *r, void *arg)
{
	struct outbox *ob = arg;

	ob->giving_back = false;
	if (r->outcome != DB_OK)
		log_warn("outbox_give_back_failed", "error", r->error, "detail",
		         "requeued as stale after stale_claim");
	outbox_shutdown_step(ob);
}

/*
 * While a channel is paused, its claims not yet sent go back to the queue,
 * uncounted, as at a shutdown: another process whose gateway works sends
 * them, and this one tries its gateway again with one message when the
 * pause ends. Those named in a refresh running wait for its answer.
 */
static void
outbox_give_back(struct outbox *ob)
{
	struct outbox_item **pp = &ob->ready_head, *it, *prev = NULL;
	struct pg_arrays ids;
	double now = outbox_now();
	int n = 0;
	char num[16];

	if (ob->giving_back || ob->d->shutting_down || ob->d->db == NULL ||
	    !db_pool_connected(ob->d->db) ||
	    (!outbox_channel_paused(ob, 0, now) && !outbox_channel_paused(ob, 1, now)))
		return;
	pg_arrays_open(&ids, 1);
	while ((it = *pp) != NULL) {
		if (it->checking ||
		    !outbox_channel_paused(ob, outbox_channel_index(it->channel), now)) {
			prev = it;
			pp = &it->next;
			continue;
		}
		pg_arrays_add_int(&ids, 0, it->id);
		n++;
		outbox_ready_unlink(ob, pp, prev);
		outbox_item_free(it);
	}
	if (n > 0) {
		snprintf(num, sizeof num, "%d", n);
		log_info("outbox_given_back", "messages", num, "detail",
		         "the channel is paused; any process may send them");
		ob->giving_back = true;
		if (outbox_unclaim(ob, &ids, false, outbox_give_back_done) != 0)
			ob->giving_back = false;
	}
	pg_arrays_free(&ids);
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
		const char *arrived = PQgetvalue(r->res, 0, 3);
		const char *joined = PQgetvalue(r->res, 0, 4);
		if (strcmp(requeued, "0") != 0 || strcmp(reasked, "0") != 0 ||
		    strcmp(unreachable, "0") != 0 || strcmp(arrived, "0") != 0 ||
		    strcmp(joined, "0") != 0)
			log_info("escalation", "stale_requeued", requeued, "reasked", reasked,
			         "unreachable", unreachable, "arrivals_queued", arrived, "joined",
			         joined);
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

/* How many messages of a channel may be claimed and waiting at once. */
static int
outbox_claim_cap(const struct outbox *ob, double rate)
{
	const struct config *cfg = &ob->d->cfg;
	double cap = cfg->dispatch_batch;

	/* What the rate sends in half of stale_claim: a claim never waits long enough to go stale.
	 */
	if (rate > 0 && rate * cfg->stale_claim_s / 2.0 < cap)
		cap = rate * cfg->stale_claim_s / 2.0;
	return cap < 1 ? 1 : (int)cap;
}

/* The dispatcher's tick: flush outcomes, refresh claims, claim more, send, now and then maintain.
 */
static void
outbox_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct outbox *ob = arg;
	struct daemon *d = ob->d;
	char sms_limit[16], email_limit[16], stale[16];
	const char *params[4];
	const char *cause;
	int sms_room, email_room;
	time_t now = time(NULL);
	double mono = outbox_now();

	(void)fd;
	(void)what;
	outbox_flush(ob);
	if (d->shutting_down) {
		outbox_shutdown_step(ob);
		return;
	}
	if (!d->schema_ok || d->db == NULL || !db_pool_connected(d->db))
		return;
	if (!ob->refreshing && mono - ob->last_refresh >= OUTBOX_REFRESH_MS / 1000.0) {
		ob->last_refresh = mono;
		outbox_refresh(ob);
	}
	outbox_pump(ob);
	outbox_give_back(ob);
	if (!ob->escalating && now - ob->last_escalate >= d->cfg.escalate_interval_s) {
		struct pg_arrays held;
		long long *ids;
		size_t nids;

		ob->last_escalate = now;
		ob->escalating = true;
		snprintf(stale, sizeof stale, "%d", d->cfg.stale_claim_s);
		ids = outbox_held_ids(ob, &nids);
		pg_arrays_open(&held, 1);
		for (size_t i = 0; i < nids; i++)
			pg_arrays_add_int(&held, 0, ids[i]);
		free(ids);
		params[0] = stale;
		params[1] = ob->claimer;
		params[2] = pg_arrays_close(&held)[0];
		/*
		 * One safetyd at a time re-asks; every one of them requeues stale
		 * claims, never the ones it holds itself (after an outage longer
		 * than stale_claim they are old, and their outcomes are still to
		 * be written).
		 */
		if (db_pool_query(
		        d->db,
		        /* One whose gateway reported taking it is sent, not sent again. */
		        "WITH s AS (UPDATE outbox SET state = CASE WHEN accepted_at IS NULL "
		        " THEN 'queued' ELSE 'sent' END::outbox_state, claimed_by = NULL, "
		        " sent_at = CASE WHEN accepted_at IS NULL THEN sent_at "
		        " ELSE coalesce(sent_at, accepted_at) END, "
		        " next_attempt_at = now() WHERE state = 'sending' AND claimed_at < now() "
		        " - make_interval(secs => $1::int) AND NOT (claimed_by = $2 "
		        " AND id = ANY ($3::bigint[])) RETURNING 1), "
		        /* Left queued by a close that raced something: never sent, so failed. */
		        "c AS (UPDATE outbox o SET state = 'failed', last_error = 'crisis closed' "
		        " FROM crisis cr WHERE o.state = 'queued' AND cr.id = o.crisis_id "
		        " AND cr.state IN ('closed', 'dismissed') RETURNING 1) "
		        /*
		         * Re-asks, people whose trip began since the day a check-in last
		         * looked, and people queued while a launch held their mission:
		         * by one process at a time (no row from the others).
		         */
		        "SELECT (SELECT count(*) FROM s), coalesce(e.reasked, 0), "
		        " coalesce(e.unreachable, 0), coalesce(e.arrived, 0), coalesce(e.joined, 0) "
		        " FROM (SELECT 1) one LEFT JOIN maintenance_run() e ON true",
		        3, params, outbox_maintenance_done, ob, &cause) != 0)
			ob->escalating = false;
		pg_arrays_free(&held);
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
	/* Nothing new is claimed while outcomes cannot be written. */
	if (ob->claiming || ob->flush_failing)
		return;
	sms_room = outbox_claim_cap(ob, d->cfg.sms_rate) - ob->ready_sms;
	email_room = outbox_claim_cap(ob, d->cfg.email_rate) - ob->ready_email;
	/*
	 * A paused channel claims nothing: its messages stay queued for any
	 * process to send. After a pause, until a send gets through, it claims
	 * one message at a time to try its gateway with, not a batch to hold.
	 */
	if (ob->route[0].since != 0 && sms_room > 1 - ob->ready_sms - ob->inflight_sms)
		sms_room = 1 - ob->ready_sms - ob->inflight_sms;
	if (ob->route[1].since != 0 && email_room > 1 - ob->ready_email - ob->inflight_email)
		email_room = 1 - ob->ready_email - ob->inflight_email;
	if (outbox_channel_paused(ob, 0, mono))
		sms_room = 0;
	if (outbox_channel_paused(ob, 1, mono))
		email_room = 0;
	if (sms_room < 0)
		sms_room = 0;
	if (email_room < 0)
		email_room = 0;
	if (sms_room + email_room == 0)
		return;
	snprintf(sms_limit, sizeof sms_limit, "%d", sms_room);
	snprintf(email_limit, sizeof email_limit, "%d", email_room);
	params[0] = ob->claimer;
	params[1] = sms_limit;
	params[2] = email_limit;
	ob->claiming = true;
	ob->claim_limit = sms_room + email_room;
	/*
	 * Each channel up to its own room; never a message of a closed crisis.
	 * Plan messages, registration codes, links and family notices first,
	 * then the check-in asks of every crisis in turn, each crisis's oldest
	 * first: a large campaign does not hold back the asks of a crisis
	 * declared after it (the crises with asks waiting are found by a skip
	 * scan of outbox_due_checkin, one index probe each; 0087). Rows another
	 * process claimed meanwhile are skipped. An ask whose check-in was
	 * answered or cancelled since it was queued is not sent: it fails with
	 * that reason instead of being claimed.
	 */
	if (db_pool_query(
	        d->db,
	        "WITH RECURSIVE r AS ((SELECT q.channel, q.crisis_id FROM outbox q "
	        " WHERE q.state = 'queued' AND q.kind = 'checkin' AND q.crisis_id IS NOT NULL "
	        " ORDER BY q.channel, q.crisis_id LIMIT 1) "
	        " UNION ALL SELECT n.channel, n.crisis_id FROM r, LATERAL (SELECT q.channel, "
	        " q.crisis_id FROM outbox q WHERE q.state = 'queued' AND q.kind = 'checkin' "
	        " AND q.crisis_id IS NOT NULL AND (q.channel, q.crisis_id) > (r.channel, "
	        " r.crisis_id) ORDER BY q.channel, q.crisis_id LIMIT 1) n), "
	        "room AS (SELECT * FROM (VALUES ('sms', $2::int), ('email', $3::int)) "
	        " AS v(channel, n) WHERE n > 0), "
	        "cand AS (SELECT p.id, p.channel, 0 AS prio, 0::bigint AS turn, p.next_attempt_at "
	        " FROM room, LATERAL (SELECT q.id, q.channel, q.next_attempt_at FROM outbox q "
	        " WHERE q.state = 'queued' AND (q.kind <> 'checkin' OR q.crisis_id IS NULL) "
	        " AND q.channel = room.channel AND q.next_attempt_at <= now() "
	        " AND NOT EXISTS (SELECT 1 FROM crisis c WHERE c.id = q.crisis_id "
	        " AND c.state = 'closed') ORDER BY q.next_attempt_at, q.id LIMIT room.n) p "
	        " UNION ALL SELECT t.id, t.channel, 1, t.turn, t.next_attempt_at FROM r "
	        " JOIN room ON room.channel = r.channel JOIN crisis c ON c.id = r.crisis_id "
	        " AND c.state <> 'closed', LATERAL (SELECT q.id, q.channel, q.next_attempt_at, "
	        " row_number() OVER (ORDER BY q.next_attempt_at, q.id) AS turn FROM outbox q "
	        " WHERE q.state = 'queued' AND q.kind = 'checkin' AND q.crisis_id IS NOT NULL "
	        " AND q.channel = r.channel AND q.crisis_id = r.crisis_id "
	        " AND q.next_attempt_at <= now() ORDER BY q.next_attempt_at, q.id "
	        " LIMIT room.n) t), "
	        "s AS (SELECT q.id, cand.prio, cand.turn FROM cand JOIN outbox q ON q.id = cand.id "
	        " WHERE cand.channel = 'sms' AND q.state = 'queued' "
	        " ORDER BY cand.prio, cand.turn, cand.next_attempt_at, cand.id LIMIT $2::int "
	        " FOR UPDATE OF q SKIP LOCKED), "
	        "e AS (SELECT q.id, cand.prio, cand.turn FROM cand JOIN outbox q ON q.id = cand.id "
	        " WHERE cand.channel = 'email' AND q.state = 'queued' "
	        " ORDER BY cand.prio, cand.turn, cand.next_attempt_at, cand.id LIMIT $3::int "
	        " FOR UPDATE OF q SKIP LOCKED), "
	        "x AS (SELECT q.id, l.prio, l.turn, (SELECT k.state::text FROM checkin k "
	        " WHERE q.kind = 'checkin' AND k.crisis_id = q.crisis_id "
	        " AND k.national_id = q.national_id AND k.state IN ('answered', 'cancelled')) "
	        " AS done FROM (SELECT * FROM s UNION ALL SELECT * FROM e) l "
	        " JOIN outbox q ON q.id = l.id), "
	        "u AS (UPDATE outbox o SET state = CASE WHEN x.done IS NULL THEN 'sending' "
	        " ELSE 'failed' END::outbox_state, "
	        " claimed_by = CASE WHEN x.done IS NULL THEN $1 END, claimed_at = now(), "
	        " last_error = coalesce(x.done, o.last_error), "
	        " attempts = o.attempts + CASE WHEN x.done IS NULL THEN 1 ELSE 0 END FROM x "
	        "WHERE o.id = x.id "
	        "RETURNING o.id, o.channel, o.recipient, o.body, o.language, "
	        " coalesce(o.crisis_id, 0), coalesce(o.national_id, 0), o.attempts, "
	        " coalesce((SELECT c.drill FROM crisis c WHERE c.id = o.crisis_id), false), "
	        "o.kind, "
	        " o.route_faults, o.state, x.prio, x.turn, o.next_attempt_at) "
	        "SELECT * FROM u WHERE u.state = 'sending' "
	        "ORDER BY u.prio, u.turn, u.next_attempt_at, u.id",
	        3, params, outbox_claim_done, ob, &cause) != 0)
		ob->claiming = false;
}
