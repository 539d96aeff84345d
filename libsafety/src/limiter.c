/*
 * Token buckets and a fixed-size table of buckets
 * per client address. Nothing here reads a clock or sleeps: the caller passes
 * the time and carries out the decisions.
 */
#include <safety/limiter.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

/* Sets up a full bucket. */
int
sf_bucket_init(struct sf_bucket *b, double rate, double burst, double now)
{
	if (b == NULL || !isfinite(rate) || rate < 0 || !isfinite(burst) || burst <= 0 ||
	    !isfinite(now))
		return SF_EINVAL;
	b->rate = rate;
	b->burst = burst;
	b->tokens = burst;
	b->last = now;
	return SF_OK;
}

/* Adds the tokens earned since the latest time seen; never for time going back. */
static void
bucket_refill(struct sf_bucket *b, double now)
{
	if (now <= b->last)
		return;
	b->tokens += (now - b->last) * b->rate;
	if (!(b->tokens <= b->burst))
		b->tokens = b->burst;
	b->last = now;
}

/* Takes cost tokens if the bucket has them. */
bool
sf_bucket_take(struct sf_bucket *b, double now, double cost)
{
	if (b == NULL || !isfinite(now) || !isfinite(cost) || cost < 0 || cost > b->burst)
		return false;
	bucket_refill(b, now);
	if (b->tokens < cost)
		return false;
	b->tokens -= cost;
	return true;
}

/* Returns how long until cost tokens will be there. */
double
sf_bucket_wait(const struct sf_bucket *b, double now, double cost)
{
	struct sf_bucket copy;

	if (b == NULL || !isfinite(now) || !isfinite(cost) || cost < 0 || cost > b->burst)
		return INFINITY;
	copy = *b;
	bucket_refill(&copy, now);
	if (copy.tokens >= cost)
		return 0;
	if (copy.rate <= 0)
		return INFINITY;
	/* A clock that stepped back waits until it reaches the bucket's time again. */
	return (copy.last > now ? copy.last - now : 0) + (cost - copy.tokens) / copy.rate;
}

/* One address in the table. */
struct rate_entry {
	char key[SF_RATETABLE_KEY_MAX];
	uint64_t hash;
	struct sf_bucket bucket;
	uint32_t chain; /* next entry in the same hash slot */
	uint32_t older; /* neighbours in the use order */
	uint32_t newer;
};

#define NIL UINT32_MAX

struct sf_ratetable {
	double rate;
	double burst;
	size_t capacity;
	size_t used;
	uint32_t mask; /* slots - 1; slots is a power of two >= capacity */
	uint32_t *slots;
	struct rate_entry *entries;
	uint32_t oldest;
	uint32_t newest;
	EVP_MAC *mac;
	EVP_MAC_CTX *mac_ctx;
	unsigned char sipkey[16];
};

/* Makes a table with every entry preallocated. */
int
sf_ratetable_new(size_t capacity, double rate, double burst, struct sf_ratetable **out)
{
	struct sf_ratetable *t;
	struct sf_bucket probe;
	size_t slots;

	if (out == NULL || capacity == 0 || capacity > SF_RATETABLE_CAPACITY_MAX ||
	    sf_bucket_init(&probe, rate, burst, 0) != SF_OK)
		return SF_EINVAL;
	if ((t = calloc(1, sizeof *t)) == NULL)
		return SF_ENOMEM;
	t->rate = rate;
	t->burst = burst;
	t->capacity = capacity;
	t->oldest = t->newest = NIL;
	for (slots = 1; slots < capacity; slots <<= 1)
		;
	t->mask = (uint32_t)(slots - 1);
	t->slots = malloc(slots * sizeof *t->slots);
	t->entries = calloc(capacity, sizeof *t->entries);
	if (t->slots == NULL || t->entries == NULL) {
		sf_ratetable_free(t);
		return SF_ENOMEM;
	}
	memset(t->slots, 0xff, slots * sizeof *t->slots);
	if (RAND_bytes(t->sipkey, sizeof t->sipkey) != 1 ||
	    (t->mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL)) == NULL ||
	    (t->mac_ctx = EVP_MAC_CTX_new(t->mac)) == NULL) {
		sf_ratetable_free(t);
		return SF_EINTERNAL;
	}
	*out = t;
	return SF_OK;
}

/* Frees a table and wipes its hash key. */
void
sf_ratetable_free(struct sf_ratetable *t)
{
	if (t == NULL)
		return;
	EVP_MAC_CTX_free(t->mac_ctx);
	EVP_MAC_free(t->mac);
	OPENSSL_cleanse(t->sipkey, sizeof t->sipkey);
	free(t->slots);
	free(t->entries);
	free(t);
}

/* Hashes a key with SipHash under the table's secret key. */
static bool
ratetable_hash(struct sf_ratetable *t, const char *key, size_t len, uint64_t *out)
{
	unsigned char md[16];
	size_t mdlen = 0;

	if (EVP_MAC_init(t->mac_ctx, t->sipkey, sizeof t->sipkey, NULL) != 1 ||
	    EVP_MAC_update(t->mac_ctx, (const unsigned char *)key, len) != 1 ||
	    EVP_MAC_final(t->mac_ctx, md, &mdlen, sizeof md) != 1 || mdlen < 8)
		return false;
	memcpy(out, md, sizeof *out);
	return true;
}

/* Takes an entry out of the use order. */
static void
lru_unlink(struct sf_ratetable *t, uint32_t i)
{
	struct rate_entry *e = &t->entries[i];

	if (e->older != NIL)
		t->entries[e->older].newer = e->newer;
	else
		t->oldest = e->newer;
	if (e->newer != NIL)
		t->entries[e->newer].older = e->older;
	else
		t->newest = e->older;
	e->older = e->newer = NIL;
}

/* Puts an entry at the newest end of the use order. */
static void
lru_push(struct sf_ratetable *t, uint32_t i)
{
	struct rate_entry *e = &t->entries[i];

	e->older = t->newest;
	e->newer = NIL;
	if (t->newest != NIL)
		t->entries[t->newest].newer = i;
	else
		t->oldest = i;
	t->newest = i;
}

/* Takes an entry out of its hash chain. */
static void
chain_unlink(struct sf_ratetable *t, uint32_t i)
{
	uint32_t *link = &t->slots[t->entries[i].hash & t->mask];

	while (*link != NIL && *link != i)
		link = &t->entries[*link].chain;
	if (*link == i)
		*link = t->entries[i].chain;
	t->entries[i].chain = NIL;
}

/* Takes a token from an address's bucket, making room for a new address if needed. */
bool
sf_ratetable_take(struct sf_ratetable *t, const char *key, double now)
{
	struct rate_entry *e;
	uint64_t hash;
	uint32_t i, *slot;
	size_t len;

	if (t == NULL || key == NULL || !isfinite(now))
		return false;
	len = strnlen(key, SF_RATETABLE_KEY_MAX);
	if (len == 0 || len >= SF_RATETABLE_KEY_MAX)
		return false;
	/* Failing closed here refuses requests, which is the safer way to fail. */
	if (!ratetable_hash(t, key, len, &hash))
		return false;

	slot = &t->slots[hash & t->mask];
	for (i = *slot; i != NIL; i = t->entries[i].chain) {
		e = &t->entries[i];
		if (e->hash == hash && strcmp(e->key, key) == 0) {
			lru_unlink(t, i);
			lru_push(t, i);
			return sf_bucket_take(&e->bucket, now, 1);
		}
	}

	if (t->used < t->capacity) {
		i = (uint32_t)t->used++;
	} else {
		i = t->oldest;
		lru_unlink(t, i);
		chain_unlink(t, i);
	}
	e = &t->entries[i];
	memcpy(e->key, key, len + 1);
	e->hash = hash;
	(void)sf_bucket_init(&e->bucket, t->rate, t->burst, now);
	e->chain = *slot;
	*slot = i;
	lru_push(t, i);
	return sf_bucket_take(&e->bucket, now, 1);
}

/* Returns how many addresses the table holds. */
size_t
sf_ratetable_size(const struct sf_ratetable *t)
{
	return t == NULL ? 0 : t->used;
}

/* Maps an address to the key it is limited by. */
int
sf_ratetable_key(const char *addr, char *out, size_t outsz)
{
	static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	unsigned char a6[16];
	struct in_addr a4;
	char text[INET6_ADDRSTRLEN];

	if (addr == NULL || out == NULL)
		return SF_EINVAL;
	if (outsz < SF_RATETABLE_KEY_MAX)
		return SF_ETOOLONG;
	if (inet_pton(AF_INET, addr, &a4) == 1) {
		if (inet_ntop(AF_INET, &a4, out, (socklen_t)outsz) == NULL)
			return SF_EINVAL;
		return SF_OK;
	}
	if (inet_pton(AF_INET6, addr, a6) != 1)
		return SF_EINVAL;
	if (memcmp(a6, v4mapped, sizeof v4mapped) == 0) {
		memcpy(&a4, a6 + 12, 4);
		if (inet_ntop(AF_INET, &a4, out, (socklen_t)outsz) == NULL)
			return SF_EINVAL;
		return SF_OK;
	}
	memset(a6 + 8, 0, 8);
	if (inet_ntop(AF_INET6, a6, text, sizeof text) == NULL)
		return SF_EINVAL;
	if (strlen(text) + 4 >= outsz)
		return SF_ETOOLONG;
	strcpy(out, text);
	strcat(out, "/64");
	return SF_OK;
}
