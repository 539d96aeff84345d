/*
 * The outbox dispatcher of one safetyd: claims due messages, sends them
 * through the channel drivers, records what happened, re-asks those who did
 * not answer, and puts back claims lost with a crashed process.
 */
#ifndef SAFETY_OUTBOX_H
#define SAFETY_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>

struct daemon;
struct outbox;

struct outbox_stats {
	int ready;    /* claimed, waiting for rate or concurrency */
	int inflight; /* handed to a driver */
	uint64_t sent, retried, failed;
};

/* Starts the dispatcher on the daemon's loop. */
struct outbox *outbox_start(struct daemon *d);

/*
 * Begins a shutdown: nothing new is sent; the transfers in flight are
 * awaited, their outcomes written and the claims never handed to a driver
 * given back to the queue. daemon_work_done is called as that progresses.
 * NULL is a no-op.
 */
void outbox_shutdown(struct outbox *ob);

/* True when a shutdown has nothing left to wait for here (NULL: true). */
bool outbox_settled(const struct outbox *ob);

/* Stops it. NULL is a no-op. */
void outbox_free(struct outbox *ob);

struct evbuffer;

/* Appends the dispatch figures (by driver, failures by reason, sampled queue and delivery) to
 * /metrics. */
void outbox_metrics(const struct outbox *ob, struct evbuffer *out);

struct cJSON;
/*
 * Adds "channels_paused" to a /readyz answer: each channel whose gateway
 * fails as a whole, its error and when it is tried again. NULL is a no-op.
 */
void outbox_health(const struct outbox *ob, struct cJSON *body);
/* Figures for /metrics. */
void outbox_stats(const struct outbox *ob, struct outbox_stats *st);

#endif
