/*
 * The one runtime state of safetyd, passed explicitly to everything that
 * needs it: configuration, the loop, the HTTP server, the database pool and
 * the figures /metrics reports.
 */
#ifndef SAFETY_DAEMON_H
#define SAFETY_DAEMON_H

#include "config.h"
#include "db_pool.h"
#include "http_client.h"
#include "metrics.h"
#include "outbox.h"
#include "tls.h"
#include "worker.h"

#include <safety/limiter.h>
#include <safety/token.h>

#include <event2/event.h>
#include <event2/http.h>
#include <stdbool.h>
#include <time.h>

struct daemon {
	struct config cfg;
	const char *config_path;
	struct event_base *base;
	struct evhttp *http;
	struct evhttp_bound_socket *listener;
	struct evhttp *https; /* NULL without [server] tls_listen */
	struct evhttp_bound_socket *tls_listener;
	struct tls_server *tls;
	struct db_pool *db;
	struct metrics metrics;
	struct worker_pool *workers;
	struct worker_pool
	    *password_workers;           /* scrypt only: a login flood cannot hold back a plan */
	struct http_client *http_client; /* outbound requests to gateways */
	struct outbox *outbox;
	struct sf_token_keyring *tokens;
	/*
	 * Keys of the duress-word hashes, one per reply-link key (the current
	 * one first): a word set before a key rotation still matches after it.
	 */
	unsigned char duress_keys[SF_TOKEN_KEYS][32];
	int nduress_keys;
	/*
	 * Each duress key set into an HMAC once: every word of every answer is
	 * hashed, and a one-shot HMAC looks the algorithm up and sets the key
	 * again each time (six times the work). Used by the event loop only.
	 */
	struct evp_mac_ctx_st *duress_mac[SF_TOKEN_KEYS];
	struct replies *replies;
	struct dlr *dlr; /* delivery reports, group-committed */
	struct spool *spool;
	struct alerts_watch *alerts;
	struct events_hub *events;          /* live event streams */
	struct feed *feed;                  /* HQ feed: cached documents, streams */
	struct web_assets *web;             /* web files in memory */
	struct sf_ratetable *public_limits; /* per-address buckets of public endpoints */
	struct sf_ratetable *login_limits;  /* per-address buckets of login attempts */
	/*
	 * Logins admitted whose password check has not finished yet, counted from
	 * admission: a burst is capped before any of it reaches a worker.
	 */
	int logins_checking;

	struct event *sig_term, *sig_int, *sig_hup;
	struct event *schema_timer;
	struct event *retention_timer;
	struct event *shutdown_timer;
	struct event *shutdown_done; /* one-shot: ends the loop after the last reply */
	struct event *watchdog;      /* keep-alives to systemd, from the loop itself */

	int inflight;                /* requests accepted and not yet answered */
	struct http_conn_set *conns; /* client connections, tracked from accept */
	bool shutting_down;
	int exit_code;

	/* What the last schema check found; API routes refuse to serve unless ok. */
	bool schema_ok;
	int schema_version;
	char schema_problem[256];

	time_t started;
};

/* Sets up everything; on failure logs why and returns false. */
bool daemon_init(struct daemon *d) __attribute__((warn_unused_result));

/* Runs the loop until shutdown; returns the exit code. */
int daemon_run(struct daemon *d);

/* Frees what daemon_init made. */
void daemon_free(struct daemon *d);

/* Called by the HTTP layer when a request got its reply. */
void daemon_request_done(struct daemon *d);

/* Work a shutdown waits for besides requests (the replies' status writes) is over. */
void daemon_work_done(struct daemon *d);

#endif
