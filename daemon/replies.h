/*
 * Every reply, whatever its channel (reply page, SMS, staff), goes through
 * here: gathered for one loop turn, committed in one statement (group
 * commit), acknowledged only once committed, then turned into each
 * person's current status by libsafety's precedence rules. The same
 * provider reference twice is stored once.
 */
#ifndef SAFETY_REPLIES_H
#define SAFETY_REPLIES_H

#include <safety/status.h>
#include <stdbool.h>
#include <stdint.h>

struct daemon;

struct reply_input {
	int64_t crisis_id;   /* 0: not known (an SMS from an unknown number) */
	int64_t national_id; /* 0: not known */
	const char *channel; /* "sms", "web", "staff", "email" */
	const char *sender;  /* phone number or client address; may be NULL */
	const char *raw_text;
	enum sf_status status; /* what the answer says (ignored when unclassified) */
	bool unclassified;
	bool review;       /* the parser guessed */
	const char *words; /* text whose words are checked against the duress word; may be NULL */
	int headcount;     /* 0: not given */
	bool has_point;
	double lat, lon;
	const char *provider_ref; /* idempotency key; NULL: one is made */
	const char *entered_by;   /* staff entry: who */
	bool by_staff;            /* a staff decision (missing, deceased, evacuated...) */
	bool proxy;               /* a household member answered for this person */
	bool clear_duress;        /* a staff decision that resolves the duress alert */
	int64_t received_ms;      /* when it was received (ms since the epoch); 0: now */
	bool require_active;      /* store only if the crisis is active and the person exists */
	/*
	 * Non-NULL: provider_ref was made up without the provider's id, from
	 * what the process remembers of the sender (lost on a restart), so the
	 * store checks it against what is stored: a retry of the sender's
	 * latest SMS holding it is stored once, a repeat after another message
	 * gets a key of its own. A non-empty value is the key the same message
	 * had in the previous five minutes, for a retry across their edge.
	 */
	const char *provider_alt;
	/*
	 * From the spool: perhaps stored before, when the database went away
	 * before confirming the commit, and then without its status.
	 */
	bool replayed;
};

enum reply_outcome {
	REPLY_STORED,    /* committed now */
	REPLY_DUPLICATE, /* the same provider reference was stored before */
	REPLY_FAILED,    /* not stored: do not acknowledge */
	REPLY_REFUSED,   /* require_active and the crisis is closed or the person gone */
};

/* Called once per submitted reply, after its commit (or failure). */
typedef void (*replies_done_cb)(enum reply_outcome outcome, bool duress, void *arg);

/* Queues a reply for this loop turn's commit. Strings are copied. */
void replies_submit(struct daemon *d, const struct reply_input *in, replies_done_cb cb, void *arg);

struct evbuffer;

/* Appends the reply figures to /metrics. */
void replies_metrics(const struct daemon *d, struct evbuffer *out);

/* Starts the batching machinery. */
void replies_start(struct daemon *d);

/* Stops it; queued replies fail. */
void replies_stop(struct daemon *d);

/*
 * True when no reply is being stored and every stored answer's status is
 * written and recorded: a shutdown waits for it (within its timeout).
 */
bool replies_settled(const struct daemon *d);

/* The 13 columns of a stored status (person_status as p) that replies_read_state reads. */
#define STATUS_STATE_COLUMNS                                                                       \
	" p.status, (extract(epoch FROM p.at) * 1000)::bigint, p.set_by_staff, p.needs_review, "   \
	" p.duress, p.confirm_safe, p.by_proxy, p.own_status, "                                    \
	" (extract(epoch FROM p.own_at) * 1000)::bigint, p.proxy_status, "                         \
	" (extract(epoch FROM p.proxy_at) * 1000)::bigint, "                                       \
	" (extract(epoch FROM p.answered_at) * 1000)::bigint, p.version "

struct pg_result;
struct sf_status_state;

/*
 * Reads a stored status from the STATUS_STATE_COLUMNS starting at col.
 * Returns false when there is no row (the status column is NULL).
 */
bool replies_read_state(const struct pg_result *res, int row, int col, struct sf_status_state *st,
                        int64_t *version);

/* Where an answer comes from, for the precedence rules. */
enum sf_status_source replies_source(bool by_staff, bool proxy, const char *channel);

/* Computes the keyed hash of a duress word (normalised: NFKC, case-folded, trimmed). */
/*
 * Whether a word is letters, marks and digits only: replies are read as words
 * split at anything else, so a duress word must be such a word.
 */
bool replies_word_is_plain(const char *w);

int replies_duress_hash(const struct daemon *d, const char *word, char out_hex[65]);

#endif
