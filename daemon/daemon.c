/*
 * Start-up, the loop and shutdown of safetyd. SIGTERM and SIGINT stop the
 * listener, let in-flight requests and outbound messages finish within
 * server.shutdown_timeout (their outcomes written, unsent claims given back),
 * then close the pool and end the loop; the exit code is 0 for a clean stop.
 */
#include "daemon.h"

#include "alerts.h"
#include "dlr.h"
#include "events.h"
#include "feed.h"
#include "web_assets.h"
#include "http_server.h"
#include "log.h"
#include "replies.h"
#include "reply_link.h"
#include "retention.h"
#include "routes.h"
#include "spool.h"
#include "xmalloc.h"
#include "schema.h"
#include "sd_notify.h"
#include "version.h"

#include <event2/thread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void daemon_signal_cb(evutil_socket_t sig, short what, void *arg);
static void daemon_shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg);
static void daemon_shutdown_done_cb(evutil_socket_t fd, short what, void *arg);

/*
 * systemd's watchdog: with WatchdogSec= set, WATCHDOG_USEC says how often it
 * wants to hear from us. The keep-alive is sent by a timer on the event loop,
 * so a loop that is stuck stops sending and systemd restarts the process.
 */
static void
daemon_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify_send("WATCHDOG=1");
}

static void
daemon_watchdog_start(struct daemon *d)
{
	const char *usec = getenv("WATCHDOG_USEC"), *pid = getenv("WATCHDOG_PID");
	long long us;
	struct timeval tv;

	if (usec == NULL || (pid != NULL && atoll(pid) != (long long)getpid()))
		return;
	us = atoll(usec);
	if (us <= 0)
		return;
	/* Twice per interval, as sd_watchdog_enabled(3) advises. */
	tv.tv_sec = (time_t)(us / 2 / 1000000);
	tv.tv_usec = (suseconds_t)(us / 2 % 1000000);
	d->watchdog = event_new(d->base, -1, EV_PERSIST, daemon_watchdog_cb, d);
	event_add(d->watchdog, &tv);
}

/* Sets up the loop, signals, the pool and the HTTP server. */
bool
daemon_init(struct daemon *d)
{
	struct db_pool_params pp;
	char *cause = NULL;

	d->started = time(NULL);
	d->exit_code = 0;
	snprintf(d->schema_problem, sizeof d->schema_problem, "schema not checked yet");
	if (!http_routes_check(&cause)) {
		log_error("startup_failed", "error", cause);
		free(cause);
		return false;
	}
	/* Worker threads hand results back with event_active: the base must be thread-aware. */
	evthread_use_pthreads();
	d->base = event_base_new();
	if (d->base == NULL) {
		log_error("startup_failed", "error", "cannot create the event loop");
		return false;
	}
	/* A client that goes away mid-answer must not kill the process. */
	signal(SIGPIPE, SIG_IGN);
	d->sig_term = evsignal_new(d->base, SIGTERM, daemon_signal_cb, d);
	d->sig_int = evsignal_new(d->base, SIGINT, daemon_signal_cb, d);
	d->sig_hup = evsignal_new(d->base, SIGHUP, daemon_signal_cb, d);
	evsignal_add(d->sig_term, NULL);
	evsignal_add(d->sig_int, NULL);
	evsignal_add(d->sig_hup, NULL);
	d->shutdown_done = evtimer_new(d->base, daemon_shutdown_done_cb, d);
	d->shutdown_timer = evtimer_new(d->base, daemon_shutdown_timeout_cb, d);

	memset(&pp, 0, sizeof pp);
	pp.conninfo = d->cfg.database_url;
	pp.size = d->cfg.pool_size;
	pp.max_waiting = d->cfg.pool_max_waiting;
	pp.query_timeout_ms = d->cfg.query_timeout_ms;
	pp.reconnect_max_ms = d->cfg.reconnect_max_ms;
	pp.application_name = "safetyd";
	d->db = db_pool_new(d->base, &pp);
	d->workers = worker_pool_new(d->base, 2);
	d->password_workers = worker_pool_new(d->base, 2);
	routes_session_warm(d);
	if (sf_ratetable_new(65536, d->cfg.public_rate_per_second, d->cfg.public_burst,
	                     &d->public_limits) != 0 ||
	    sf_ratetable_new(65536, d->cfg.login_attempts_per_minute / 60.0,
	                     d->cfg.login_attempts_per_minute, &d->login_limits) != 0) {
		log_error("startup_failed", "error", "bad rate limits");
		return false;
	}

	d->http_client =
	    http_client_new(d->base, d->cfg.sms_concurrency + d->cfg.email_concurrency);
	if (!reply_link_init(d, &cause)) {
		log_error("startup_failed", "error", cause);
		free(cause);
		return false;
	}
	/* Paths are appended to it: "https://x/" would make "https://x//hooks/...". */
	for (size_t n = strlen(d->cfg.public_url); n > 0 && d->cfg.public_url[n - 1] == '/'; n--)
		d->cfg.public_url[n - 1] = '\0';
	if (*d->cfg.public_url == '\0') {
		char *url;
		xasprintf(&url, "http://%s", d->cfg.listen);
		free(d->cfg.public_url);
		d->cfg.public_url = url;
	}
	if (!http_server_start(d, &cause)) {
		log_error("startup_failed", "error", cause);
		free(cause);
		return false;
	}
	schema_watch_start(d);
	retention_start(d);
	d->outbox = outbox_start(d);
	plans_start(d);
	alerts_watch_start(d);
	replies_start(d);
	dlr_start(d);
	web_assets_load(d);
	feed_start(d);
	events_start(d);
	if (!spool_open(d, &cause)) {
		log_error("startup_failed", "error", cause);
		free(cause);
		return false;
	}
	log_info("listening", "addr", d->cfg.listen, "tls_addr",
	         *d->cfg.tls_listen != '\0' ? d->cfg.tls_listen : "-", "version", version_string());
	daemon_watchdog_start(d);
	sd_notify_send("READY=1\nSTATUS=serving");
	return true;
}

/* Ends the loop once nothing is in flight. */
static void
daemon_maybe_finish(struct daemon *d)
{
	if (d->shutting_down && d->inflight == 0 && replies_settled(d) &&
	    outbox_settled(d->outbox) && plans_settled())
		event_active(d->shutdown_done, EV_TIMEOUT, 0);
}

void
daemon_work_done(struct daemon *d)
{
	daemon_maybe_finish(d);
}

/* Begins a graceful shutdown. */
static void
daemon_begin_shutdown(struct daemon *d, const char *why)
{
	struct timeval tv = {d->cfg.shutdown_timeout_s, 0};
	char n[16];

	if (d->shutting_down)
		return;
	d->shutting_down = true;
	snprintf(n, sizeof n, "%d", d->inflight);
	log_info("shutting_down", "signal", why, "in_flight", n);
	sd_notify_send("STOPPING=1");
	http_server_stop_accepting(d);
	events_stop(d);
	feed_stop(d);
	evtimer_add(d->shutdown_timer, &tv);
	plans_stop(d);
	/* Sends stop; the outcomes of those in flight are written while the pool is up. */
	outbox_shutdown(d->outbox);
	daemon_maybe_finish(d);
}

/* A request got its answer. */
void
daemon_request_done(struct daemon *d)
{
	d->inflight--;
	daemon_maybe_finish(d);
}

/* Handles SIGTERM, SIGINT and SIGHUP. */
static void
daemon_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	(void)what;
	if (sig == SIGHUP) {
		char *cause = NULL;
		sd_notify_send("RELOADING=1");
		if (d->tls == NULL) {
			log_info("reload", "detail", "no TLS listener; nothing to reload");
		} else if (!tls_server_reload(d->tls, &cause)) {
			log_error("reload_failed", "error", cause, "detail",
			          "the old certificate stays");
			free(cause);
		} else {
			log_info("reload", "detail", "TLS certificate and key reloaded");
		}
		sd_notify_send("READY=1\nSTATUS=serving");
		return;
	}
	daemon_begin_shutdown(d, sig == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* In-flight requests did not finish in time. */
static void
daemon_shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	char n[16];

	(void)fd;
	(void)what;
	snprintf(n, sizeof n, "%d", d->inflight);
	log_warn("shutdown_timeout", "abandoned_requests", n);
	event_base_loopexit(d->base, NULL);
}

/* Every in-flight request is answered. */
static void
daemon_shutdown_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	(void)fd;
	(void)what;
	event_base_loopexit(d->base, NULL);
}

/* Runs the loop. */
int
daemon_run(struct daemon *d)
{
	event_base_dispatch(d->base);
	log_info("stopped");
	return d->exit_code;
}

/* Frees everything; the pool first, as its callbacks may still answer requests. */
void
daemon_free(struct daemon *d)
{
	/*
	 * Order matters: every callback still pending must find what it uses
	 * alive. Worker jobs finish first (their callbacks query and answer);
	 * then the database pool fails what waits, and those callbacks run while
	 * the outbox, the replies (which spool what could not be stored) and the
	 * HTTP server still exist; then outbound transfers are cancelled; only
	 * then do the modules go.
	 */
	worker_pool_free(d->workers);
	d->workers = NULL;
	worker_pool_free(d->password_workers);
	d->password_workers = NULL;
	db_pool_free(d->db);
	d->db = NULL;
	events_free(d);
	feed_free(d);
	web_assets_free(d);
	http_client_free(d->http_client);
	d->http_client = NULL;
	alerts_watch_stop(d);
	outbox_free(d->outbox);
	d->outbox = NULL;
	replies_stop(d);
	dlr_stop(d);
	spool_close(d);
	sf_ratetable_free(d->public_limits);
	sf_ratetable_free(d->login_limits);
	reply_link_free(d);
	if (d->http != NULL)
		evhttp_free(d->http);
	if (d->https != NULL)
		evhttp_free(d->https);
	http_server_free(d);
	tls_server_free(d->tls);
	if (d->schema_timer != NULL)
		event_free(d->schema_timer);
	retention_stop(d);
	if (d->shutdown_timer != NULL)
		event_free(d->shutdown_timer);
	if (d->shutdown_done != NULL)
		event_free(d->shutdown_done);
	if (d->watchdog != NULL)
		event_free(d->watchdog);
	if (d->sig_term != NULL)
		event_free(d->sig_term);
	if (d->sig_int != NULL)
		event_free(d->sig_int);
	if (d->sig_hup != NULL)
		event_free(d->sig_hup);
	if (d->base != NULL)
		event_base_free(d->base);
	config_free(&d->cfg);
}
