/*
 * Rate limits, without clocks: every function takes the time from its caller
 * as seconds in a double, so the rules can be tested to the millisecond and
 * the daemon decides which clock to read (CLOCK_MONOTONIC). The lock after
 * failed logins is kept in the database, where attempts at once are counted
 * by one statement each.
 */
#ifndef SAFETY_LIMITER_H
#define SAFETY_LIMITER_H

#include <stdbool.h>
#include <stddef.h>

#include <safety/error.h>

/*
 * A token bucket: holds up to burst tokens, gains rate tokens per second.
 * Plain data owned by the caller; set it up with sf_bucket_init.
 */
struct sf_bucket {
	double rate;
	double burst;
	double tokens;
	double last; /* the latest time seen; refills count from here */
};

/*
 * Sets up a full bucket at time now. rate must be finite and >= 0 (0: the
 * burst is all there will ever be), burst finite and > 0. Returns 0 or
 * SF_EINVAL.
 */
int sf_bucket_init(struct sf_bucket *b, double rate, double burst, double now);

/*
 * Refills for the time passed since the latest time seen, then takes cost
 * tokens if there are that many. Returns true if taken. A time earlier than
 * one already seen adds nothing (a clock stepping back must not mint tokens)
 * and does not move the bucket's time back. A cost that is negative, not
 * finite or larger than burst, or a time that is not finite, is refused.
 */
bool sf_bucket_take(struct sf_bucket *b, double now, double cost);

/*
 * Returns the seconds from now until sf_bucket_take(b, ..., cost) could
 * succeed (0 if it can now), for a Retry-After header; INFINITY if never.
 * Does not change the bucket.
 */
double sf_bucket_wait(const struct sf_bucket *b, double now, double cost);

/*
 * A table of token buckets keyed by client address, of fixed capacity: when
 * it is full, a new address takes the place of the one used least recently,
 * so a flood of distinct addresses costs no memory (the cost of that flood
 * is that an evicted address starts again with a full bucket). Lookups hash
 * with SipHash under a random key, so chosen addresses cannot pile into one
 * chain. Not safe to share between threads.
 */
struct sf_ratetable;

/* Longest key the table takes, in bytes with the NUL. */
#define SF_RATETABLE_KEY_MAX 64
/* Largest capacity sf_ratetable_new accepts. */
#define SF_RATETABLE_CAPACITY_MAX (1u << 24)

/*
 * Makes a table of capacity buckets (1..SF_RATETABLE_CAPACITY_MAX), each with
 * this rate and burst (as sf_bucket_init). On success *out is the caller's,
 * to free with sf_ratetable_free. Returns 0, SF_EINVAL, SF_ENOMEM or
 * SF_EINTERNAL (OpenSSL could not give SipHash or randomness).
 */
int sf_ratetable_new(size_t capacity, double rate, double burst, struct sf_ratetable **out);

/* Frees a table; NULL is a no-op. */
void sf_ratetable_free(struct sf_ratetable *t);

/*
 * Takes one token from key's bucket at time now, adding the key (with a full
 * bucket) if it is new. Returns true if the request may go ahead. A NULL or
 * empty key, or one of SF_RATETABLE_KEY_MAX bytes or more, is refused: real
 * addresses are never that long. key is copied.
 */
bool sf_ratetable_take(struct sf_ratetable *t, const char *key, double now);

/* Returns the number of keys the table holds now. */
size_t sf_ratetable_size(const struct sf_ratetable *t);

/*
 * Turns a textual client address into the key to limit it by: an IPv4
 * address as itself in canonical form, an IPv4-mapped IPv6 address as its
 * IPv4 address, any other IPv6 address as its /64 network ("2001:db8:1:2::/64"),
 * because one host is commonly given a whole /64. Returns 0, SF_EINVAL if addr
 * is not an address, SF_ETOOLONG if out is smaller than SF_RATETABLE_KEY_MAX.
 */
int sf_ratetable_key(const char *addr, char *out, size_t outsz);

#endif
