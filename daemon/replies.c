/*
 * Reply ingest with group commit. Replies submitted during one loop turn are
 * written by one statement (responses, check-ins answered), so a burst of
 * thousands costs a few commits, not thousands. Each reply is acknowledged
 * from that statement's callback, i.e. only once durable. Then, for the
 * people concerned, the current status is recomputed in C with
 * sf_status_apply from the stored state, each person's answers of the batch
 * in the order they came, and written back with a compare-and-set on its
 * version; a lost race is read again and retried.
 *
 * A status can fall behind its stored answers: safetyd killed between a
 * batch's commit and its status write, a status write that failed, a batch
 * whose commit was not confirmed (spooled, then found already stored on
 * replay). So at start, and after any such failure, the statuses catch up
 * from the responses themselves: the answers of a failed write or a
 * replayed commit are named by id, a scan adds every stored answer of an
 * open crisis newer than the one its person's status last took in, and
 * each is applied, oldest first, by the same rules.
 */
#include "replies.h"

#include "daemon.h"
#include "log.h"
#include "pg_array.h"
#include "spool.h"
#include "text.h"
#include "xmalloc.h"

#include <event2/buffer.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <safety/name.h>
#include <safety/secret.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unictype.h>
#include <unistr.h>

#define REPLIES_BATCH_MAX 1000
/*
 * One batch at a time, from its store to its status write. Overlapping
 * batches (storing the next while the last one's statuses are written) was
 * measured no faster on two cores, and slower with few clients, whose
 * batches it makes smaller; so was splitting a batch in two by person on two
 * connections at once (two statements cost more than one, and the CPU is
 * then the limit). Replies that arrive meanwhile go in the next commit.
 */
#define REPLIES_STORES_MAX 1
#define REPLIES_STATUS_JOBS_MAX 1
/* Compare-and-set rounds before a status write is given up (and logged). */
#define REPLIES_STATUS_ATTEMPTS 10
/* Answers a catch-up round applies at most; then the next round. */
#define REPLIES_CATCH_UP_ROWS 250
/*
 * Bytes of a reply searched for the duress word: all an SMS or a web
 * message keeps, in at most 200 words (each hashed under every key, with
 * its stems: a reply's candidates stay in the tens of kilobytes).
 */
#define REPLIES_WORDS_MAX 2000
/* How often, in ms, a process looks for batches left behind in status_pending. */
#define REPLIES_PENDING_LOOK_MS 5000
/*
 * A row older than this was left behind: a status write with all its
 * retries takes less (a row still being written is applied twice, which
 * changes nothing).
 */
#define REPLIES_PENDING_STALE "60 seconds"
/* Rows one look reads at most (a full look is followed by another within a second). */
#define REPLIES_PENDING_ROWS_MAX 50
/* Answers one scan names at most; the next run's scan reads on from there. */
#define REPLIES_CATCH_UP_SCAN_MAX 10000

struct reply_item {
	struct reply_item *next;
	int64_t crisis_id, national_id;
	char *channel, *sender, *raw_text, *provider_ref, *entered_by;
	char *provider_alt;  /* reply_input.provider_alt */
	char *duress_hashes; /* PostgreSQL array literal of candidate hashes */
	char *words;         /* kept for the spool, which hashes again on replay */
	enum sf_status status;
	bool unclassified, review, by_staff, proxy, require_active, clear_duress;
	int headcount;
	bool has_point;
	double lat, lon;
	int64_t at_ms;
	replies_done_cb cb;
	void *arg;
	int store_attempts; /* stores that ended in a deadlock */
	/*
	 * Its batch was refused for something in it: stored in a batch of at
	 * most this many (halved at each refusal) with others so split, until
	 * the one at fault is alone and fails no other; 0 for any batch.
	 */
	int batch_limit;
	bool replayed; /* from the spool (reply_input.replayed) */
};

#define REPLIES_CHANNELS 6

/* A growing list of response ids. */
struct replies_ids {
	int64_t *v;
	size_t n, cap;
};

static void
replies_ids_push(struct replies_ids *ids, int64_t id)
{
	if (ids->n == ids->cap) {
		ids->cap = ids->cap == 0 ? 256 : ids->cap * 2;
		ids->v = xrealloc(ids->v, ids->cap * sizeof *ids->v);
	}
	ids->v[ids->n++] = id;
}

/* A status_pending row the catch-up has taken over, with its answers still to apply. */
struct replies_pending_row {
	int64_t id;
	struct replies_ids answers;
};

/* Appends every id of src to dst and empties src. */
static void
replies_ids_move(struct replies_ids *dst, struct replies_ids *src)
{
	for (size_t i = 0; i < src->n; i++)
		replies_ids_push(dst, src->v[i]);
	src->n = 0;
}

struct replies {
	struct daemon *d;
	struct reply_item *head, *tail;
	int queued;
	struct event *flush_ev;
	bool flush_scheduled;
	/*
	 * Another safetyd on the same database may write a person's status
	 * between this process's read and write: the compare-and-set then fails
	 * and the status is read again (status_job_written).
	 */
	int storing;     /* store statements in flight */
	int status_jobs; /* status writes in flight, retries included */
	uint64_t status_retries, status_gave_up;
	/*
	 * Statuses may lag their stored answers (at start, after a failed
	 * status write or an unconfirmed commit): catch up when next possible.
	 */
	bool catch_up_due;
	bool catching_up;            /* a catch-up run is under way */
	bool catch_up_scanning;      /* a run's scan is in flight */
	bool catch_up_reading;       /* a round's read is in flight: its status job comes next */
	int64_t scan_after;          /* where the next scan reads on; 0 from the start */
	int64_t catch_up_started_ms; /* monotonic; runs start at most once a second */
	/*
	 * The stored answers that may not have reached their person's status,
	 * by response id: those of failed status writes and of replayed replies
	 * whose earlier commit was never confirmed, and what a run's scan finds
	 * newer than the answer each status last took in. Named one by one, an
	 * answer is applied even after a newer one of the same person was.
	 */
	struct replies_ids missed;
	/* The round being read: back to missed if it fails. */
	int64_t round_ids[REPLIES_CATCH_UP_ROWS];
	int nround;
	/*
	 * A round the status write refused is tried again at half its size,
	 * until the answer at fault is alone; that one waits in deferred for
	 * the next run, so that it holds up no other.
	 */
	int round_limit; /* 0: REPLIES_CATCH_UP_ROWS */
	struct replies_ids deferred;
	struct event *catch_up_ev;
	uint64_t caught_up; /* answers applied by catch-up */
	/*
	 * status_pending holds a row per stored batch until its statuses are
	 * written. Rows whose answers all reached their statuses are deleted
	 * with the next status write, or by the tick when none comes; a delete
	 * lost to a crash only makes the next start apply those answers again,
	 * which changes nothing.
	 */
	struct replies_ids done_pending;
	bool pending_deleting; /* the tick's delete is in flight */
	/*
	 * Rows whose answers are named for the catch-up (of a failed status
	 * write, or read from the table): each is done once none of its answers
	 * is still named (missed or deferred) between runs.
	 */
	struct replies_pending_row *rows;
	size_t nrows, rows_cap;
	bool pending_reading; /* a run's read of status_pending is in flight */
	bool scan_wanted;     /* the run under way scans after reading status_pending */
	bool pending_all;     /* the first run takes every row; later ones, rows left behind */
	int64_t
	    pending_looked_ms;   /* monotonic: rows left behind are looked for every few seconds */
	double pending_oldest_s; /* the oldest row left behind, at the last look */
	/* By channel: stored by status (plus unclassified), duplicates, refused, failed, spooled.
	 */
	uint64_t stored[REPLIES_CHANNELS][SF_STATUS_COUNT + 1];
	uint64_t outcome[REPLIES_CHANNELS][4];
};

/* The last is every other channel. */
static const char *const replies_channel_names[REPLIES_CHANNELS] = {"sms",   "web",  "email",
                                                                    "staff", "pfif", "other"};
static const char *const replies_outcome_names[4] = {"duplicate", "refused", "failed", "spooled"};

/* The metrics index of a channel name. */
static int
replies_channel_index(const char *channel)
{
	for (int i = 0; i < REPLIES_CHANNELS - 1; i++)
		if (channel != NULL && strcmp(channel, replies_channel_names[i]) == 0)
			return i;
	return REPLIES_CHANNELS - 1;
}

struct replies_batch {
	struct replies *r;
	struct reply_item **items;
	int n;
};

/* Frees an item. */
static void
reply_item_free(struct reply_item *it)
{
	free(it->channel);
	free(it->sender);
	if (it->raw_text != NULL)
		memset(it->raw_text, 0, strlen(it->raw_text));
	free(it->raw_text);
	free(it->provider_ref);
	free(it->provider_alt);
	free(it->entered_by);
	free(it->duress_hashes);
	if (it->words != NULL)
		memset(it->words, 0, strlen(it->words));
	free(it->words);
	free(it);
}

/* Hash of one normalised word under duress key k. */
static void
replies_hash_word(const struct daemon *d, int k, const char *key, char out_hex[65])
{
	unsigned char mac[32];
	unsigned int len = 0;
	size_t mlen = 0;
	EVP_MAC_CTX *ctx = d->duress_mac[k];

	/* The key set once (reply_link.c): a restart on it is the same HMAC, cheaper. */
	if (ctx == NULL || EVP_MAC_init(ctx, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(ctx, (const unsigned char *)key, strlen(key)) != 1 ||
	    EVP_MAC_final(ctx, mac, &mlen, sizeof mac) != 1 || mlen != sizeof mac)
		HMAC(EVP_sha256(), d->duress_keys[k], sizeof d->duress_keys[k],
		     (const unsigned char *)key, strlen(key), mac, &len);
	sf_secret_hex_encode(mac, 32, out_hex, 65);
}

/* The keyed hash of a duress word, as stored (under the current key); -1 for no word. */
int
replies_duress_hash(const struct daemon *d, const char *word, char out_hex[65])
{
	char key[512];

	if (sf_name_search_key(word, key, sizeof key) != 0 || key[0] == '\0')
		return -1;
	replies_hash_word(d, 0, key, out_hex);
	return 0;
}

/* The normalised forms an answer's words are tried in, each once. */
struct replies_cands {
	char **keys;
	size_t n, cap;
};

/* Adds a normalised word to the forms to hash. */
static void
replies_candidate_key(struct replies_cands *c, const char *key)
{
	if (c->n == c->cap) {
		c->cap = c->cap != 0 ? c->cap * 2 : 32;
		c->keys = xrealloc(c->keys, c->cap * sizeof *c->keys);
	}
	c->keys[c->n++] = xstrdup(key);
}

static int
replies_cands_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The hashes of every distinct form under every duress key, as a PostgreSQL
 * array literal; frees the forms. A form met twice ("safe" as a word and as
 * the whole answer) is hashed once.
 */
static char *
replies_cands_hash(const struct daemon *d, struct replies_cands *c)
{
	size_t cap = 3 + c->n * (size_t)d->nduress_keys * 66, len = 1;
	char *out = xmalloc(cap), hex[65];

	out[0] = '{';
	if (c->n > 1)
		qsort(c->keys, c->n, sizeof *c->keys, replies_cands_cmp);
	for (size_t i = 0; i < c->n; i++) {
		if (i > 0 && strcmp(c->keys[i], c->keys[i - 1]) == 0)
			continue;
		for (int k = 0; k < d->nduress_keys; k++) {
			replies_hash_word(d, k, c->keys[i], hex);
			len +=
			    (size_t)snprintf(out + len, cap - len, "%s%s", len > 1 ? "," : "", hex);
		}
	}
	for (size_t i = 0; i < c->n; i++) {
		memset(c->keys[i], 0, strlen(c->keys[i]));
		free(c->keys[i]);
	}
	free(c->keys);
	c->keys = NULL;
	c->n = c->cap = 0;
	out[len++] = '}';
	out[len] = '\0';
	return out;
}

/*
 * Korean glues particles and endings to a word ("바나나요", "무궁화가"): the
 * word is also tried without one of these, so that the duress word is
 * recognised however the sentence around it is built. Only these are cut,
 * never any syllable, so that 고양이 is not 고양 nor 안녕하세요 안녕; and a
 * particle that follows only a final consonant (이, 은, 을...) or only a vowel
 * (가, 는, 를...) is cut only where it could stand.
 */
enum { P_ANY, P_CONS, P_VOWEL, P_VOWEL_L };
static const struct {
	const char *s;
	int after;
} replies_particles[] = {
    {"이에요", P_CONS}, {"입니다", P_ANY}, {"이라고", P_CONS}, {"이랑", P_CONS}, {"에서", P_ANY},
    {"으로", P_CONS},   {"이요", P_CONS},  {"예요", P_VOWEL},  {"이야", P_CONS}, {"라고", P_VOWEL},
    {"한테", P_ANY},    {"에게", P_ANY},   {"까지", P_ANY},    {"부터", P_ANY},  {"요", P_ANY},
    {"야", P_VOWEL},    {"은", P_CONS},    {"는", P_VOWEL},    {"을", P_CONS},   {"를", P_VOWEL},
    {"랑", P_VOWEL},    {"이", P_CONS},    {"가", P_VOWEL},    {"과", P_CONS},   {"와", P_VOWEL},
    {"로", P_VOWEL_L},  {"도", P_ANY},     {"에", P_ANY},      {"의", P_ANY},    {"만", P_ANY},
};

/* Tells whether a particle that needs what comes before it may follow stem. */
static bool
replies_particle_fits(const char *stem, size_t slen, int after)
{
	ucs4_t c;
	int final;

	if (slen < 3 || u8_mbtouc(&c, (const uint8_t *)stem + slen - 3, 3) != 3 || c < 0xAC00 ||
	    c > 0xD7A3)
		return after == P_ANY;
	final = (int)((c - 0xAC00) % 28);
	switch (after) {
	case P_CONS:
		return final != 0;
	case P_VOWEL:
		return final == 0;
	case P_VOWEL_L:
		return final == 0 || final == 8; /* ㄹ: 서울로 */
	default:
		return true;
	}
}

/* Tells whether a Latin word ends in s, x, z, ch or sh, before which "-es" makes a plural. */
static bool
replies_es_plural(const char *key, size_t stemlen)
{
	char c = key[stemlen - 1];

	if (c == 's' || c == 'x' || c == 'z' || c == 'o')
		return true;
	return stemlen >= 2 && (c == 'h' && (key[stemlen - 2] == 'c' || key[stemlen - 2] == 's'));
}

/* Adds the hashes of a word, and of the word without a Korean particle, to out. */
static void
replies_candidate_add(struct replies_cands *c, const char *word)
{
	char key[512];
	size_t klen;

	if (sf_name_search_key(word, key, sizeof key) != 0 || key[0] == '\0')
		return;
	replies_candidate_key(c, key);
	klen = strlen(key);
	/* A plural of a Latin word: "bananas", "boxes", "tomatoes"; but "cares" is care. */
	if (klen >= 4 && key[klen - 1] == 's' && key[klen - 2] >= 'a' && key[klen - 2] <= 'z') {
		key[klen - 1] = '\0';
		if (klen >= 5 && key[klen - 2] == 'e' && replies_es_plural(key, klen - 2)) {
			key[klen - 2] = '\0';
			replies_candidate_key(c, key);
			key[klen - 2] = 'e';
		} else {
			replies_candidate_key(c, key);
		}
		key[klen - 1] = 's';
	}
	for (size_t i = 0; i < sizeof replies_particles / sizeof replies_particles[0]; i++) {
		size_t plen = strlen(replies_particles[i].s);

		/* At least two syllables (six bytes) must be left. */
		if (klen >= plen + 6 &&
		    memcmp(key + klen - plen, replies_particles[i].s, plen) == 0 &&
		    replies_particle_fits(key, klen - plen, replies_particles[i].after)) {
			char stem[512];

			memcpy(stem, key, klen - plen);
			stem[klen - plen] = '\0';
			replies_candidate_key(c, stem);
		}
	}
}

/* Tells whether c belongs to a word: a letter, a mark or a digit; anything else splits words. */
static bool
replies_word_char(ucs4_t c)
{
	return uc_is_general_category(c, UC_CATEGORY_L) ||
	       uc_is_general_category(c, UC_CATEGORY_M) || uc_is_general_category(c, UC_CATEGORY_N);
}

/* Tells whether a word is letters, marks and digits only. */
bool
replies_word_is_plain(const char *w)
{
	const uint8_t *u = (const uint8_t *)w;
	size_t total = strlen(w);

	for (size_t i = 0; i < total;) {
		ucs4_t c;
		int l = u8_mbtouc(&c, u + i, total - i);

		if (!replies_word_char(c))
			return false;
		i += (size_t)(l > 0 ? l : 1);
	}
	return true;
}

/*
 * The hashes of every word of a message, and of the whole message, as a
 * PostgreSQL array literal: the duress word may be anywhere in it, and may
 * have been set under any key of the keyring.
 */
static char *
replies_candidates(const struct daemon *d, const char *text)
{
	struct replies_cands cands = {0};
	char *copy, *word;
	int words = 0;

	if (text == NULL || *text == '\0')
		return xstrdup("{}");
	/*
	 * Words are split at any space, punctuation or symbol (an emoji, "~",
	 * "·", an ideographic space); two neighbouring words are also tried
	 * together, for a duress word of two words ("blue sky").
	 */
	copy = xstrndup(text, REPLIES_WORDS_MAX);
	{
		const uint8_t *u = (const uint8_t *)copy;
		size_t total = strlen(copy), i = 0, prev_start = 0, prev_end = 0;
		bool have_prev = false;

		while (i < total && words < 200) {
			size_t start, end;
			ucs4_t c;
			int l;

			/* Skip separators. */
			while (i < total) {
				l = u8_mbtouc(&c, u + i, total - i);
				if (replies_word_char(c))
					break;
				i += (size_t)(l > 0 ? l : 1);
			}
			if (i >= total)
				break;
			start = i;
			while (i < total) {
				l = u8_mbtouc(&c, u + i, total - i);
				if (!replies_word_char(c))
					break;
				i += (size_t)(l > 0 ? l : 1);
			}
			end = i;
			word = xstrndup(copy + start, end - start);
			replies_candidate_add(&cands, word);
			free(word);
			if (have_prev) {
				char *pair;

				xasprintf(&pair, "%.*s %.*s", (int)(prev_end - prev_start),
				          copy + prev_start, (int)(end - start), copy + start);
				replies_candidate_add(&cands, pair);
				free(pair);
			}
			prev_start = start;
			prev_end = end;
			have_prev = true;
			words++;
		}
	}
	/*
	 * Words set before only letters and digits were accepted ("c++",
	 * "$ilver", "🌻") are found as written between spaces.
	 */
	{
		char *save = NULL, *tok;
		int tokens = 0;

		for (tok = strtok_r(copy, " \t\r\n\f\v", &save); tok != NULL && tokens < 200;
		     tok = strtok_r(NULL, " \t\r\n\f\v", &save), tokens++) {
			if (!replies_word_is_plain(tok))
				replies_candidate_add(&cands, tok);
		}
	}
	free(copy);
	replies_candidate_add(&cands, text);
	return replies_cands_hash(d, &cands);
}

/* Milliseconds since the epoch. */
static int64_t
replies_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void replies_flush_cb(evutil_socket_t fd, short what, void *arg);
static void replies_catch_up_tick(evutil_socket_t fd, short what, void *arg);
static void replies_spool_batch(struct replies *r, struct reply_item **items, int n);
static void replies_shutdown_step(struct replies *r);

/* Starts the machinery. */
void
replies_start(struct daemon *d)
{
	struct replies *r = xcalloc(1, sizeof *r);

	r->d = d;
	r->flush_ev = event_new(d->base, -1, 0, replies_flush_cb, r);
	/* The last process may have stopped between an answer's commit and its status. */
	r->catch_up_due = true;
	r->pending_all = true;
	r->catch_up_ev = event_new(d->base, -1, EV_PERSIST, replies_catch_up_tick, r);
	event_add(r->catch_up_ev, &(struct timeval){1, 0});
	d->replies = r;
}

/* Stops; queued replies fail. */
void
replies_stop(struct daemon *d)
{
	struct replies *r = d->replies;
	struct reply_item *it;

	if (r == NULL)
		return;
	/* Replies queued but never sent to the database go to the spool, durable, then
	 * acknowledged. */
	{
		struct reply_item *items[REPLIES_BATCH_MAX];
		int n = 0;
		while ((it = r->head) != NULL) {
			r->head = it->next;
			items[n++] = it;
			if (n == REPLIES_BATCH_MAX || r->head == NULL) {
				replies_spool_batch(r, items, n);
				n = 0;
			}
		}
	}
	event_free(r->flush_ev);
	event_free(r->catch_up_ev);
	free(r->missed.v);
	free(r->deferred.v);
	free(r->done_pending.v);
	for (size_t i = 0; i < r->nrows; i++)
		free(r->rows[i].answers.v);
	free(r->rows);
	free(r);
	d->replies = NULL;
}

/* Queues a reply. */
void
replies_submit(struct daemon *d, const struct reply_input *in, replies_done_cb cb, void *arg)
{
	struct replies *r = d->replies;
	struct reply_item *it = xcalloc(1, sizeof *it);
	char ref[64];
	unsigned char rnd[12];

	it->crisis_id = in->crisis_id;
	it->national_id = in->national_id;
	it->channel = xstrdup(in->channel);
	/* Text from outside in any encoding: one bad byte must not fail the batch it shares. */
	it->sender = in->sender != NULL ? text_sanitized(in->sender, 64, false) : NULL;
	it->raw_text = in->raw_text != NULL ? text_sanitized(in->raw_text, 2000, true) : NULL;
	if (in->provider_ref != NULL) {
		/* A gateway's id is text from outside too: it must not fail its batch or its
		 * replay. */
		it->provider_ref = text_sanitized(in->provider_ref, 200, false);
	} else {
		/* Every reply carries a key, so a replay from the spool is stored once. */
		sf_secret_random(rnd, sizeof rnd);
		sf_secret_hex_encode(rnd, sizeof rnd, ref, sizeof ref);
		xasprintf(&it->provider_ref, "%s:%s", in->channel, ref);
	}
	it->provider_alt = in->provider_alt != NULL && in->provider_ref != NULL
	                       ? text_sanitized(in->provider_alt, 200, false)
	                       : NULL;
	it->entered_by = in->entered_by != NULL ? text_sanitized(in->entered_by, 200, false) : NULL;
	it->duress_hashes = replies_candidates(d, in->words);
	it->words = in->words != NULL ? text_sanitized(in->words, REPLIES_WORDS_MAX, true) : NULL;
	it->status = in->status;
	it->unclassified = in->unclassified;
	it->review = in->review;
	it->by_staff = in->by_staff;
	it->proxy = in->proxy;
	it->clear_duress = in->clear_duress && in->by_staff;
	it->require_active = in->require_active;
	it->replayed = in->replayed;
	it->headcount = in->headcount;
	it->has_point = in->has_point;
	it->lat = in->lat;
	it->lon = in->lon;
	it->at_ms = in->received_ms > 0 ? in->received_ms : replies_now_ms();
	it->cb = cb;
	it->arg = arg;
	if (r->tail != NULL)
		r->tail->next = it;
	else
		r->head = it;
	r->tail = it;
	r->queued++;
	/* Everything submitted in this loop turn goes in one commit. */
	if (!r->flush_scheduled) {
		r->flush_scheduled = true;
		event_active(r->flush_ev, EV_TIMEOUT, 0);
	}
}

/* Reads a status name stored in person_status. */
static enum sf_status
replies_status(const char *name)
{
	enum sf_status s;

	if (sf_status_parse(name, strlen(name), &s) != 0)
		return SF_STATUS_UNKNOWN;
	return s;
}

/* Reads a timestamp column given as epoch milliseconds text. */
static int64_t
replies_ms(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : atoll(PQgetvalue(res, row, col));
}

/*
 * The database could not take the batch: spool every reply, make the spool
 * durable with one fdatasync, then acknowledge. The replay stores each once.
 */
static void
replies_spool_batch(struct replies *r, struct reply_item **items, int n)
{
	bool ok = true;

	for (int i = 0; i < n; i++) {
		struct reply_item *it = items[i];
		struct reply_input in;

		r->outcome[replies_channel_index(it->channel)][3]++;

		memset(&in, 0, sizeof in);
		in.crisis_id = it->crisis_id;
		in.national_id = it->national_id;
		in.channel = it->channel;
		in.sender = it->sender;
		in.raw_text = it->raw_text;
		in.words = it->words;
		in.status = it->status;
		in.unclassified = it->unclassified;
		in.review = it->review;
		in.clear_duress = it->clear_duress;
		in.headcount = it->headcount;
		in.has_point = it->has_point;
		in.lat = it->lat;
		in.lon = it->lon;
		in.provider_ref = it->provider_ref;
		in.entered_by = it->entered_by;
		in.by_staff = it->by_staff;
		in.proxy = it->proxy;
		in.require_active = it->require_active;
		if (spool_append(r->d, &in, it->at_ms) != 0)
			ok = false;
	}
	if (ok && spool_sync(r->d) != 0)
		ok = false;
	for (int i = 0; i < n; i++) {
		items[i]->cb(ok ? REPLY_STORED : REPLY_FAILED, false, items[i]->arg);
		reply_item_free(items[i]);
	}
}

/* Starts the next batch if the pipeline has room. */
static void
replies_kick(struct replies *r)
{
	if (r->head != NULL && !r->flush_scheduled && r->storing < REPLIES_STORES_MAX &&
	    r->status_jobs < REPLIES_STATUS_JOBS_MAX) {
		r->flush_scheduled = true;
		event_active(r->flush_ev, EV_TIMEOUT, 0);
	}
	replies_shutdown_step(r);
}

/*
 * Reads a stored status from 13 columns starting at col: status, at, the
 * five flags, own status and time, proxy status and time, answered time,
 * version (STATUS_STATE_COLUMNS). Returns false when there is no row (the
 * status column is NULL).
 */
bool
replies_read_state(const PGresult *res, int row, int col, struct sf_status_state *st,
                   int64_t *version)
{
	memset(st, 0, sizeof *st);
	st->status = SF_STATUS_UNKNOWN;
	*version = -1;
	if (PQgetisnull(res, row, col))
		return false;
	st->status = replies_status(PQgetvalue(res, row, col));
	st->at_ms = replies_ms(res, row, col + 1);
	st->set_by_staff = strcmp(PQgetvalue(res, row, col + 2), "t") == 0;
	st->needs_review = strcmp(PQgetvalue(res, row, col + 3), "t") == 0;
	st->duress = strcmp(PQgetvalue(res, row, col + 4), "t") == 0;
	st->confirm_safe = strcmp(PQgetvalue(res, row, col + 5), "t") == 0;
	st->by_proxy = strcmp(PQgetvalue(res, row, col + 6), "t") == 0;
	st->own_status = replies_status(PQgetvalue(res, row, col + 7));
	st->own_at_ms = replies_ms(res, row, col + 8);
	st->proxy_status = replies_status(PQgetvalue(res, row, col + 9));
	st->proxy_at_ms = replies_ms(res, row, col + 10);
	st->answered_at_ms = replies_ms(res, row, col + 11);
	*version = atoll(PQgetvalue(res, row, col + 12));
	return true;
}

/* One person's answers of a batch, applied in order to their stored status. */
struct status_person {
	int64_t crisis_id, national_id;
	struct sf_status_state state; /* as last read */
	int64_t version;              /* of that state; -1: no row yet */
	int first, count;             /* the person's events in the job's list */
	int headcount;                /* the newest answer's head count; 0: none */
	int64_t response_id;          /* the newest response */
	bool pending;                 /* still to be written */
};

/* The status writes of one stored batch, sorted by person (also the lock order). */
struct status_job {
	struct replies *r;
	bool catch_up; /* writes every person, changed or not, to record the answers taken in */
	int attempts;
	int npeople;
	struct status_person *people;
	struct sf_status_event *events;
	int64_t *response_ids;       /* of each event */
	int64_t pending_id;          /* its batch's status_pending row; 0 for a catch-up round */
	struct replies_ids deleting; /* done rows its write statement deletes */
};

/* Names an answer the catch-up must apply, and makes a run due. */
static void
replies_missed_add(struct replies *r, int64_t response_id)
{
	replies_ids_push(&r->missed, response_id);
	r->catch_up_due = true;
}

/* A round that could not be read goes back to the named answers; this run ends. */
static void
replies_round_back(struct replies *r)
{
	for (int i = 0; i < r->nround; i++)
		replies_missed_add(r, r->round_ids[i]);
	r->catching_up = false;
}

/* The row taken over with this id, added (with no answers yet) if new. */
static struct replies_pending_row *
replies_row_take(struct replies *r, int64_t id)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].id == id)
			return &r->rows[i];
	if (r->nrows == r->rows_cap) {
		r->rows_cap = r->rows_cap == 0 ? 16 : r->rows_cap * 2;
		r->rows = xrealloc(r->rows, r->rows_cap * sizeof *r->rows);
	}
	r->rows[r->nrows] = (struct replies_pending_row){.id = id};
	return &r->rows[r->nrows++];
}

static bool replies_ids_has(const struct replies_ids *sorted, int64_t id);
static int replies_id_cmp(const void *a, const void *b);

/*
 * Between runs: a row none of whose answers is still named (to apply, or
 * set aside) is done, and goes with the next write; the others wait, and
 * hold up no other row.
 */
static void
replies_rows_settle(struct replies *r)
{
	struct replies_ids named = {0};
	size_t kept = 0;

	if (r->nrows == 0)
		return;
	for (size_t i = 0; i < r->missed.n; i++)
		replies_ids_push(&named, r->missed.v[i]);
	for (size_t i = 0; i < r->deferred.n; i++)
		replies_ids_push(&named, r->deferred.v[i]);
	if (named.n > 0)
		qsort(named.v, named.n, sizeof *named.v, replies_id_cmp);
	for (size_t i = 0; i < r->nrows; i++) {
		struct replies_pending_row *row = &r->rows[i];
		bool open = false;

		for (size_t k = 0; k < row->answers.n && !open; k++)
			open = replies_ids_has(&named, row->answers.v[k]);
		if (open) {
			r->rows[kept++] = *row;
		} else {
			replies_ids_push(&r->done_pending, row->id);
			free(row->answers.v);
		}
	}
	r->nrows = kept;
	free(named.v);
}

static void status_job_write(struct status_job *job);
static bool replies_data_error(const struct db_result *res);

static void replies_catch_up_turn(struct replies *r, bool batches_first);

/* The job is over: free it and let storing (or the catch-up's next round) go on. */
static void
status_job_done(struct status_job *job)
{
	struct replies *r = job->r;
	bool catch_up = job->catch_up;

	/* Every answer of the batch reached its status (or changed nothing). */
	if (job->pending_id > 0)
		replies_ids_push(&r->done_pending, job->pending_id);
	free(job->deleting.v);
	free(job->people);
	free(job->events);
	free(job->response_ids);
	free(job);
	r->status_jobs--;
	if (catch_up && r->missed.n == 0)
		r->catching_up = false;
	/* Catch-up rounds and waiting batches take turns (the kick takes a shutdown's step). */
	replies_catch_up_turn(r, catch_up);
	replies_kick(r);
}

/*
 * Some statuses were not written: their answers are named for the catch-up,
 * which applies them even if a newer answer of the same person is written
 * first (its last_response_id would hide them from a scan).
 */
static void
status_job_failed(struct status_job *job, const struct db_result *res)
{
	struct replies *r = job->r;
	/* Refused for what it wrote (not the database away, busy or full): a round's own fault. */
	bool its_own = res != NULL && res->outcome == DB_SQL_ERROR && replies_data_error(res);
	/* Alone and refused for itself: the answer is at fault. */
	bool culprit = job->catch_up && its_own && r->nround == 1;

	/* The batch's row stays until the answers named here are applied. */
	struct replies_pending_row *row =
	    job->pending_id > 0 ? replies_row_take(r, job->pending_id) : NULL;

	job->pending_id = 0;
	for (int i = 0; i < job->npeople; i++) {
		const struct status_person *p = &job->people[i];

		for (int e = p->first; p->pending && e < p->first + p->count; e++) {
			if (culprit)
				replies_ids_push(&r->deferred, job->response_ids[e]);
			else
				replies_missed_add(r, job->response_ids[e]);
			if (row != NULL)
				replies_ids_push(&row->answers, job->response_ids[e]);
		}
	}
	r->catch_up_due = true;
	if (job->catch_up && !its_own) {
		/*
		 * The database went away, was busy, or the round lost its races:
		 * this run ends, the next starts a second later, rounds as large.
		 */
		r->catching_up = false;
		r->round_limit = 0;
	} else if (job->catch_up) {
		/* Halve the round until the answer at fault is alone, then go on without it. */
		r->round_limit = culprit ? 0 : (r->nround + 1) / 2;
		if (culprit)
			log_warn(
			    "status_catch_up_deferred", "detail",
			    "an answer whose status write keeps failing waits for the next run");
	}
	status_job_done(job);
}

/* The order of people: by crisis, then national (the status writes' lock order). */
static int
person_cmp(int64_t crisis_a, int64_t national_a, int64_t crisis_b, int64_t national_b)
{
	if (crisis_a != crisis_b)
		return crisis_a < crisis_b ? -1 : 1;
	if (national_a != national_b)
		return national_a < national_b ? -1 : 1;
	return 0;
}

/* Finds a person of the job by key (people are sorted); NULL if absent. */
static struct status_person *
status_job_find(struct status_job *job, int64_t crisis_id, int64_t national_id)
{
	int lo = 0, hi = job->npeople - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		struct status_person *p = &job->people[mid];
		int c = person_cmp(p->crisis_id, p->national_id, crisis_id, national_id);

		if (c == 0)
			return p;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* The current status of the people whose write lost its race: apply again on it. */
static void
status_job_reread_done(const struct db_result *res, void *arg)
{
	struct status_job *job = arg;

	if (res->outcome != DB_OK) {
		log_warn("status_update_failed", "error", res->error);
		status_job_failed(job, res);
		return;
	}
	for (int row = 0; row < PQntuples(res->res); row++) {
		struct status_person *p = status_job_find(job, atoll(PQgetvalue(res->res, row, 0)),
		                                          atoll(PQgetvalue(res->res, row, 1)));
		if (p != NULL)
			replies_read_state(res->res, row, 2, &p->state, &p->version);
	}
	status_job_write(job);
}

/* Reads again the status of every person still pending. */
static void
status_job_reread(struct status_job *job)
{
	struct pg_arrays cols;
	const char *cause;

	pg_arrays_open(&cols, 2);
	for (int i = 0; i < job->npeople; i++) {
		if (!job->people[i].pending)
			continue;
		pg_arrays_add_int(&cols, 0, job->people[i].crisis_id);
		pg_arrays_add_int(&cols, 1, job->people[i].national_id);
	}
	if (job->r->d->db == NULL ||
	    db_pool_query_prepared(
	        job->r->d->db,
	        "SELECT u.c, u.n," STATUS_STATE_COLUMNS
	        "FROM unnest($1::bigint[], $2::bigint[]) AS u(c, n) "
	        "LEFT JOIN person_status p ON p.crisis_id = u.c AND p.national_id = u.n",
	        2, pg_arrays_close(&cols), status_job_reread_done, job, &cause) != 0) {
		log_warn("status_update_skipped", "error",
		         job->r->d->db == NULL ? "shutting down" : cause);
		status_job_failed(job, NULL);
	}
	pg_arrays_free(&cols);
}

/*
 * The compare-and-set answered with the people it could not write: another
 * batch or process changed them since they were read. Those are read again
 * and their answers applied again on what is there now; the precedence rule
 * gives the same result whatever the order answers are applied in.
 */
static void
status_job_written(const struct db_result *res, void *arg)
{
	struct status_job *job = arg;
	int lost = 0;

	/* Its statement deleted the done rows it carried, or none of them. */
	if (res->outcome != DB_OK)
		replies_ids_move(&job->r->done_pending, &job->deleting);
	job->deleting.n = 0;
	if (res->outcome == DB_SQL_ERROR &&
	    (strcmp(res->sqlstate, "40P01") == 0 || strcmp(res->sqlstate, "40001") == 0) &&
	    ++job->attempts < REPLIES_STATUS_ATTEMPTS) {
		/* A deadlock or serialisation failure wrote nothing: everyone again. */
		status_job_reread(job);
		return;
	}
	if (res->outcome != DB_OK) {
		log_warn("status_update_failed", "error", res->error);
		status_job_failed(job, res);
		return;
	}
	for (int i = 0; i < job->npeople; i++)
		job->people[i].pending = false;
	for (int row = 0; row < PQntuples(res->res); row++) {
		struct status_person *p = status_job_find(job, atoll(PQgetvalue(res->res, row, 0)),
		                                          atoll(PQgetvalue(res->res, row, 1)));
		if (p != NULL && !p->pending) {
			p->pending = true;
			lost++;
		}
	}
	if (lost == 0) {
		/* A catch-up round that went through lets the next one be larger again. */
		if (job->catch_up && job->r->round_limit > 0)
			job->r->round_limit = job->r->round_limit * 2 < REPLIES_CATCH_UP_ROWS
			                          ? job->r->round_limit * 2
			                          : 0;
		status_job_done(job);
		return;
	}
	job->r->status_retries += (uint64_t)lost;
	if (++job->attempts >= REPLIES_STATUS_ATTEMPTS) {
		char n[16];
		snprintf(n, sizeof n, "%d", lost);
		job->r->status_gave_up += (uint64_t)lost;
		log_warn("status_update_gave_up", "people", n);
		status_job_failed(job, NULL);
		return;
	}
	status_job_reread(job);
}

/*
 * The changed statuses of a job, one row per person, as status_job_write
 * sends them. A time of 0 ms is one never had (a staff decision for a person
 * who never answered): stored as NULL, not as 1970.
 */
#define STATUS_VALUES_SQL                                                                          \
	"WITH v AS (SELECT crisis_id, national_id, status, "                                       \
	" to_timestamp(at_ms / 1000.0) AS at, sbs, rev, dur, conf, prox, own, "                    \
	" to_timestamp(nullif(own_ms, 0) / 1000.0) AS own_at, pst, "                               \
	" to_timestamp(nullif(p_ms, 0) / 1000.0) AS proxy_at, "                                    \
	" to_timestamp(nullif(split_part(extra, '|', 1)::bigint, 0) / 1000.0) AS answered_at, "    \
	" split_part(extra, '|', 2)::bigint AS expect, "                                           \
	" nullif(split_part(extra, '|', 3)::int, 0) AS headcount, "                                \
	" split_part(extra, '|', 4)::bigint AS response_id "                                       \
	" FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], "                      \
	" $5::bool[], $6::bool[], $7::bool[], $8::bool[], $9::bool[], $10::text[], "               \
	" $11::bigint[], $12::text[], $13::bigint[], $14::text[]) "                                \
	" AS u(crisis_id, national_id, status, at_ms, sbs, rev, dur, conf, prox, "                 \
	" own, own_ms, pst, p_ms, extra)), "                                                       \
	"dp AS (DELETE FROM status_pending WHERE id = ANY ($15::bigint[])), "

/*
 * Everyone of the job already has a status row (the launch made it pending):
 * a plain update, compare-and-set on version, which fires none of the
 * insert's statement triggers. Answers the people it could not write.
 */
static const char status_update_sql[] = STATUS_VALUES_SQL
    "w AS (UPDATE person_status p SET status = v.status, at = v.at, set_by_staff = v.sbs, "
    " needs_review = v.rev, duress = v.dur, confirm_safe = v.conf, by_proxy = v.prox, "
    " own_status = v.own, own_at = v.own_at, proxy_status = v.pst, proxy_at = v.proxy_at, "
    " answered_at = v.answered_at, headcount = coalesce(v.headcount, p.headcount), "
    " last_response_id = greatest(p.last_response_id, v.response_id), "
    " version = p.version + 1, updated_at = now(), "
    " txid = pg_current_xact_id() "
    " FROM v WHERE p.crisis_id = v.crisis_id AND p.national_id = v.national_id "
    " AND p.version = v.expect RETURNING p.crisis_id, p.national_id) "
    "SELECT v.crisis_id, v.national_id FROM v "
    "WHERE NOT EXISTS (SELECT 1 FROM w WHERE w.crisis_id = v.crisis_id "
    " AND w.national_id = v.national_id)";

/*
 * Someone has no status row yet: insert or update, rows in key order. A new
 * row's version is expect + 1 = 0; an update checks it. A person deleted
 * meanwhile is not reported as lost.
 */
static const char status_upsert_sql[] =
    STATUS_VALUES_SQL "w AS (INSERT INTO person_status AS p (crisis_id, national_id, mission_id, "
                      " region_id, status, at, set_by_staff, needs_review, duress, confirm_safe, "
                      " by_proxy, own_status, own_at, proxy_status, proxy_at, answered_at, "
                      " headcount, last_response_id, version, deleted) "
                      " SELECT v.crisis_id, v.national_id, n.mission_id, n.region_id, v.status, "
                      " v.at, v.sbs, v.rev, v.dur, v.conf, v.prox, v.own, v.own_at, v.pst, "
                      " v.proxy_at, v.answered_at, v.headcount, v.response_id, v.expect + 1, "
                      /* Someone staff deleted stays out of the counts with a first row too. */
                      " n.deleted_at IS NOT NULL "
                      " FROM v JOIN national n ON n.id = v.national_id "
                      /*
                       * A deletion or restore under way is waited for (and
                       * one to come waits for this), so each sees the other.
                       */
                      " ORDER BY v.crisis_id, v.national_id FOR SHARE OF n "
                      " ON CONFLICT (crisis_id, national_id) DO UPDATE SET status = "
                      " excluded.status, at = excluded.at, set_by_staff = excluded.set_by_staff, "
                      " needs_review = excluded.needs_review, duress = excluded.duress, "
                      " confirm_safe = excluded.confirm_safe, by_proxy = excluded.by_proxy, "
                      " own_status = excluded.own_status, own_at = excluded.own_at, "
                      " proxy_status = excluded.proxy_status, proxy_at = excluded.proxy_at, "
                      " answered_at = excluded.answered_at, "
                      " headcount = coalesce(excluded.headcount, p.headcount), "
                      " last_response_id = greatest(p.last_response_id, "
                      " excluded.last_response_id), version = p.version + 1, "
                      " updated_at = now(), txid = pg_current_xact_id() "
                      " WHERE p.version = excluded.version - 1 "
                      " RETURNING p.crisis_id, p.national_id) "
                      "SELECT v.crisis_id, v.national_id FROM v "
                      "WHERE EXISTS (SELECT 1 FROM national n WHERE n.id = v.national_id) "
                      " AND NOT EXISTS (SELECT 1 FROM w WHERE w.crisis_id = v.crisis_id "
                      " AND w.national_id = v.national_id)";

/*
 * Applies each pending person's answers, in arrival order, to their status
 * as read, and writes the people whose status changed with one statement:
 * a compare-and-set on version, rows in key order so that concurrent
 * writers lock in the same order and cannot deadlock each other.
 */
static void
status_job_write(struct status_job *job)
{
	struct pg_arrays cols;
	char num[96];
	int nupd = 0;
	bool all_stored = true;
	const char *cause;

	pg_arrays_open(&cols, 15);
	for (int i = 0; i < job->npeople; i++) {
		struct status_person *p = &job->people[i];
		struct sf_status_state cur = p->state, next;
		bool changed, any = false;

		if (!p->pending)
			continue;
		for (int e = p->first; e < p->first + p->count; e++) {
			if (sf_status_apply(&cur, &job->events[e], &next, &changed) == 0 &&
			    changed) {
				cur = next;
				any = true;
			}
		}
		/* A catch-up records even an unchanged answer, or it would find it again. */
		if (!any && !job->catch_up) {
			p->pending = false;
			continue;
		}
		pg_arrays_add_int(&cols, 0, p->crisis_id);
		pg_arrays_add_int(&cols, 1, p->national_id);
		pg_arrays_add(&cols, 2, sf_status_name(cur.status));
		pg_arrays_add_int(&cols, 3, cur.at_ms);
		pg_arrays_add(&cols, 4, cur.set_by_staff ? "t" : "f");
		pg_arrays_add(&cols, 5, cur.needs_review ? "t" : "f");
		pg_arrays_add(&cols, 6, cur.duress ? "t" : "f");
		pg_arrays_add(&cols, 7, cur.confirm_safe ? "t" : "f");
		pg_arrays_add(&cols, 8, cur.by_proxy ? "t" : "f");
		pg_arrays_add(&cols, 9, sf_status_name(cur.own_status));
		pg_arrays_add_int(&cols, 10, cur.own_at_ms);
		pg_arrays_add(&cols, 11, sf_status_name(cur.proxy_status));
		pg_arrays_add_int(&cols, 12, cur.proxy_at_ms);
		snprintf(num, sizeof num, "%lld|%lld|%d|%lld", (long long)cur.answered_at_ms,
		         (long long)p->version, p->headcount, (long long)p->response_id);
		pg_arrays_add(&cols, 13, num);
		if (p->version < 0)
			all_stored = false;
		nupd++;
	}
	if (nupd == 0) {
		pg_arrays_free(&cols);
		status_job_done(job);
		return;
	}
	/* The rows of batches done before go with this write: no statement of their own. */
	if (job->deleting.n == 0)
		replies_ids_move(&job->deleting, &job->r->done_pending);
	for (size_t i = 0; i < job->deleting.n; i++)
		pg_arrays_add_int(&cols, 14, job->deleting.v[i]);
	if (job->r->d->db == NULL ||
	    db_pool_query_prepared(job->r->d->db,
	                           all_stored ? status_update_sql : status_upsert_sql, 15,
	                           pg_arrays_close(&cols), status_job_written, job, &cause) != 0) {
		log_warn("status_update_skipped", "error",
		         job->r->d->db == NULL ? "shutting down" : cause);
		replies_ids_move(&job->r->done_pending, &job->deleting);
		status_job_failed(job, NULL);
	}
	pg_arrays_free(&cols);
}

/* One answer that speaks for the whole household ("we are 4, all safe"). */
struct replies_proxy_seed {
	int64_t crisis_id, national_id;
	enum sf_status status;
	int headcount;
	int64_t at_ms;
	bool duress; /* the answer used the duress word: its proxies are for staff to read */
	char *channel, *provider_ref, *text;
};

/* The household answers of one committed batch, looked up together. */
struct replies_proxy_batch {
	struct daemon *d;
	int n;
	struct replies_proxy_seed seeds[];
};

static void
replies_proxy_batch_free(struct replies_proxy_batch *pb)
{
	for (int i = 0; i < pb->n; i++) {
		free(pb->seeds[i].channel);
		free(pb->seeds[i].provider_ref);
		free(pb->seeds[i].text);
	}
	free(pb);
}

static void
replies_proxy_stored(enum reply_outcome outcome, bool duress, void *arg)
{
	(void)duress;
	(void)arg;
	if (outcome == REPLY_FAILED)
		log_warn("proxy_answer_failed");
}

/* The households' other members are known: each gets its member's answer, marked by proxy. */
static void
replies_proxy_members(const struct db_result *res, void *arg)
{
	struct replies_proxy_batch *pb = arg;

	if (res->outcome != DB_OK) {
		log_warn("proxy_lookup_failed", "error", res->error);
	} else if (pb->d->replies != NULL && pb->d->db != NULL) {
		for (int row = 0; row < PQntuples(res->res); row++) {
			int idx = atoi(PQgetvalue(res->res, row, 0));
			const struct replies_proxy_seed *seed;
			struct reply_input in;
			char *ref;

			if (idx < 0 || idx >= pb->n)
				continue;
			seed = &pb->seeds[idx];
			memset(&in, 0, sizeof in);
			in.crisis_id = seed->crisis_id;
			in.national_id = atoll(PQgetvalue(res->res, row, 1));
			in.channel = seed->channel;
			in.status = seed->status;
			in.proxy = true;
			in.review = seed->duress;
			in.require_active = true;
			in.received_ms = seed->at_ms;
			/* Derived from the answer's key: a replayed answer makes no second proxy.
			 */
			xasprintf(&ref, "%s/proxy/%lld", seed->provider_ref,
			          (long long)in.national_id);
			in.provider_ref = ref;
			in.raw_text = seed->text;
			replies_submit(pb->d, &in, replies_proxy_stored, NULL);
			free(ref);
		}
	}
	replies_proxy_batch_free(pb);
}

/*
 * A classified answer counting everyone of the person's household ("we are
 * 4") answers for the others too: each member who has not answered keeps a
 * status by proxy, flagged as such, which their own answer replaces. A
 * count smaller than the household says nothing about who is missing, so
 * it marks no one. An answer under duress makes its proxies exactly when
 * the same words without the duress word would (so nothing a captor could
 * see, the others asked again or not, differs); they are marked for review
 * and say so, and hold nobody's status at safe. Adds the answer to the
 * batch's lookup if it may speak for others.
 */
static void
replies_proxy_add(struct replies_proxy_batch *pb, const struct reply_item *it, bool duress)
{
	struct replies_proxy_seed *seed;

	if (it->proxy || it->headcount < 2)
		return;
	if (it->unclassified || it->review ||
	    (it->status != SF_STATUS_SAFE && it->status != SF_STATUS_NEEDS_HELP &&
	     it->status != SF_STATUS_INJURED && it->status != SF_STATUS_NEEDS_EVACUATION))
		return;
	seed = &pb->seeds[pb->n++];
	seed->crisis_id = it->crisis_id;
	seed->national_id = it->national_id;
	seed->duress = duress;
	seed->status = duress ? SF_STATUS_SAFE : it->status;
	seed->headcount = it->headcount;
	seed->at_ms = it->at_ms;
	seed->channel = xstrdup(it->channel);
	seed->provider_ref = xstrdup(it->provider_ref);
	/* Staff reading the member's answer see whose it was; cut on a character boundary. */
	{
		const char *text = it->raw_text != NULL ? it->raw_text : "";
		size_t n = strlen(text);
		if (n > 1900) {
			n = 1900;
			while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
				n--;
		}
		xasprintf(&seed->text, "[by household member %lld%s] %.*s",
		          (long long)it->national_id,
		          duress ? ", whose answer used the duress word" : "", (int)n, text);
	}
}

/* One query finds the other members of every household that was answered for. */
static void
replies_proxy_lookup(struct replies_proxy_batch *pb)
{
	struct pg_arrays cols;
	const char *cause;

	if (pb->n == 0 || pb->d->db == NULL) {
		replies_proxy_batch_free(pb);
		return;
	}
	pg_arrays_open(&cols, 4);
	for (int i = 0; i < pb->n; i++) {
		pg_arrays_add_int(&cols, 0, pb->seeds[i].national_id);
		pg_arrays_add_int(&cols, 1, pb->seeds[i].headcount);
		pg_arrays_add(&cols, 2, pb->seeds[i].channel);
		pg_arrays_add(&cols, 3, pb->seeds[i].provider_ref);
	}
	/*
	 * A member whose proxy answer is already stored is left out: a catch-up
	 * goes over answers whose proxies may well have been made.
	 */
	if (db_pool_query(
	        pb->d->db,
	        "SELECT s.i - 1, m.id FROM unnest($1::bigint[], $2::int[], $3::text[], "
	        " $4::text[]) WITH ORDINALITY AS s(nid, cnt, ch, ref, i) "
	        "JOIN national me ON me.id = s.nid "
	        "JOIN national m ON m.household_id = me.household_id AND m.id <> me.id "
	        " AND m.deleted_at IS NULL "
	        "WHERE (SELECT count(*) FROM national h "
	        " WHERE h.household_id = me.household_id AND h.deleted_at IS NULL) "
	        " BETWEEN 2 AND s.cnt AND NOT EXISTS (SELECT 1 FROM response pr "
	        " WHERE pr.channel = s.ch AND pr.provider_ref = s.ref || '/proxy/' || m.id) "
	        "ORDER BY s.i, m.id",
	        4, pg_arrays_close(&cols), replies_proxy_members, pb, &cause) != 0) {
		log_warn("proxy_lookup_failed", "error", cause);
		replies_proxy_batch_free(pb);
	}
	pg_arrays_free(&cols);
}

/* Whose word an answer is, for the precedence rules. */
enum sf_status_source
replies_source(bool by_staff, bool proxy, const char *channel)
{
	return by_staff                        ? SF_STATUS_SOURCE_STAFF
	       : proxy                         ? SF_STATUS_SOURCE_PROXY
	       : strcmp(channel, "sms") == 0   ? SF_STATUS_SOURCE_SMS
	       : strcmp(channel, "email") == 0 ? SF_STATUS_SOURCE_EMAIL
	                                       : SF_STATUS_SOURCE_WEB;
}

/* One stored answer on its way to its person's status. */
struct status_entry {
	int64_t crisis_id, national_id;
	int order; /* arrival order in the batch */
	struct sf_status_event ev;
	int headcount;
	int64_t response_id;
	int row; /* of the store statement's result, for the status read with it */
};

static int
status_entry_cmp(const void *a, const void *b)
{
	const struct status_entry *x = a, *y = b;
	int c = person_cmp(x->crisis_id, x->national_id, y->crisis_id, y->national_id);

	return c != 0 ? c : x->order - y->order;
}

/*
 * Makes the status job of a stored batch: the entries sorted by person and
 * arrival, each person's status as the store statement read it.
 */
static void
status_job_start(struct replies *r, const PGresult *res, struct status_entry *entries, int n,
                 bool catch_up, int64_t pending_id)
{
	struct status_job *job;

	if (n == 0) {
		/* No status to write: the batch's row is done. */
		if (pending_id > 0)
			replies_ids_push(&r->done_pending, pending_id);
		return;
	}
	qsort(entries, (size_t)n, sizeof *entries, status_entry_cmp);
	job = xcalloc(1, sizeof *job);
	job->r = r;
	job->catch_up = catch_up;
	job->pending_id = pending_id;
	job->people = xcalloc((size_t)n, sizeof *job->people);
	job->events = xcalloc((size_t)n, sizeof *job->events);
	job->response_ids = xcalloc((size_t)n, sizeof *job->response_ids);
	for (int i = 0; i < n; i++) {
		struct status_person *p;

		if (job->npeople == 0 ||
		    job->people[job->npeople - 1].crisis_id != entries[i].crisis_id ||
		    job->people[job->npeople - 1].national_id != entries[i].national_id) {
			p = &job->people[job->npeople++];
			p->crisis_id = entries[i].crisis_id;
			p->national_id = entries[i].national_id;
			p->first = i;
			p->pending = true;
			replies_read_state(res, entries[i].row, 3, &p->state, &p->version);
		}
		p = &job->people[job->npeople - 1];
		job->events[i] = entries[i].ev;
		job->response_ids[i] = entries[i].response_id;
		p->count++;
		if (entries[i].headcount > 0)
			p->headcount = entries[i].headcount;
		if (entries[i].response_id > p->response_id)
			p->response_id = entries[i].response_id;
	}
	r->status_jobs++;
	status_job_write(job);
}

/* True when no reply of the batch has already been retried three times; counts this try. */
static bool
replies_may_retry(struct replies_batch *b)
{
	for (int i = 0; i < b->n; i++)
		if (b->items[i]->store_attempts >= 3)
			return false;
	for (int i = 0; i < b->n; i++)
		b->items[i]->store_attempts++;
	return true;
}

/* Puts a batch back at the head of the queue, to be stored again. */
static void
replies_requeue(struct replies *r, struct reply_item **items, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		items[i]->next = r->head;
		r->head = items[i];
		if (r->tail == NULL)
			r->tail = items[i];
		r->queued++;
	}
}

/* A stored batch's answer to one reply, given once its status write is sent. */
struct replies_answer {
	struct reply_item *it;
	enum reply_outcome outcome;
	bool duress;
};

/* The database could not take the statement in time or had no room: not the replies' fault. */
static bool
replies_overloaded(const struct db_result *res)
{
	return strncmp(res->sqlstate, "53", 2) == 0 || strcmp(res->sqlstate, "57014") == 0 ||
	       strcmp(res->sqlstate, "55P03") == 0 || strncmp(res->sqlstate, "57P", 3) == 0 ||
	       strncmp(res->sqlstate, "58", 2) == 0;
}

/*
 * The statement was refused for a value it carried (a data exception, a
 * broken reference, a trigger's refusal): one reply of the batch may be
 * the cause.
 */
static bool
replies_data_error(const struct db_result *res)
{
	return strncmp(res->sqlstate, "22", 2) == 0 || strncmp(res->sqlstate, "23", 2) == 0 ||
	       strncmp(res->sqlstate, "P0", 2) == 0;
}

/*
 * The responses are committed: recompute the status of each person
 * concerned, their answers in the order they came, then acknowledge.
 */
static void
replies_stored(const struct db_result *res, void *arg)
{
	struct replies_batch *b = arg;
	struct replies *r = b->r;
	struct daemon *d = r->d;
	struct replies_proxy_batch *proxies;
	struct status_entry *entries;
	struct replies_answer *answers;
	int nentries = 0, nanswers = 0;
	int64_t pending_id = 0;

	r->storing--;
	if (res->outcome == DB_UNAVAILABLE ||
	    (res->outcome == DB_SQL_ERROR && replies_overloaded(res))) {
		/*
		 * The commit may or may not have happened: the spool's replay settles
		 * it, once. If it had, the replay finds the answers already stored and
		 * their statuses are left to the catch-up. A database too busy to
		 * answer in time is treated alike: the replies are not the cause.
		 */
		r->catch_up_due = true;
		replies_spool_batch(r, b->items, b->n);
		free(b->items);
		replies_kick(r);
		free(b);
		return;
	}
	if (res->outcome == DB_SQL_ERROR &&
	    (strcmp(res->sqlstate, "40P01") == 0 || strcmp(res->sqlstate, "40001") == 0) &&
	    replies_may_retry(b)) {
		/* Two batches locked the same check-ins in opposite orders; nothing was stored. */
		log_info("reply_batch_retried", "sqlstate", res->sqlstate);
		replies_requeue(r, b->items, b->n);
		free(b->items);
		free(b);
		replies_kick(r);
		return;
	}
	if (res->outcome == DB_SQL_ERROR && b->n > 1 && replies_data_error(res)) {
		/*
		 * Something in the batch: halve it until the reply at fault is
		 * alone, so that it fails no other (log2 of the batch more tries).
		 */
		log_warn("reply_batch_split", "sqlstate", res->sqlstate, "error", res->error);
		for (int i = 0; i < b->n; i++)
			b->items[i]->batch_limit = (b->n + 1) / 2;
		replies_requeue(r, b->items, b->n);
		free(b->items);
		free(b);
		replies_kick(r);
		return;
	}
	if (res->outcome != DB_OK) {
		log_error("reply_store_failed", "sqlstate", res->sqlstate, "error", res->error);
		for (int i = 0; i < b->n; i++) {
			r->outcome[replies_channel_index(b->items[i]->channel)][2]++;
			b->items[i]->cb(REPLY_FAILED, false, b->items[i]->arg);
			reply_item_free(b->items[i]);
		}
		free(b->items);
		replies_kick(r);
		free(b);
		return;
	}
	proxies = xcalloc(1, sizeof *proxies + (size_t)b->n * sizeof proxies->seeds[0]);
	proxies->d = d;
	entries = xcalloc((size_t)b->n + 1, sizeof *entries);
	answers = xcalloc((size_t)b->n + 1, sizeof *answers);
	if (PQntuples(res->res) > 0 && !PQgetisnull(res->res, 0, 21))
		pending_id = atoll(PQgetvalue(res->res, 0, 21));
	/* Rows come back in input order (idx); a NULL id is a duplicate. */
	for (int row = 0; row < PQntuples(res->res); row++) {
		int idx = atoi(PQgetvalue(res->res, row, 0));
		struct reply_item *it = b->items[idx];
		bool stored = !PQgetisnull(res->res, row, 1);
		bool duress = strcmp(PQgetvalue(res->res, row, 2), "t") == 0;
		struct status_entry *e;
		int ch = replies_channel_index(it->channel);

		if (strcmp(PQgetvalue(res->res, row, 18), "t") == 0) {
			r->outcome[ch][1]++;
			answers[nanswers++] = (struct replies_answer){it, REPLY_REFUSED, false};
			continue;
		}
		/* The time as stored (bounded), which the catch-up would read too. */
		if (stored && !PQgetisnull(res->res, row, 22))
			it->at_ms = atoll(PQgetvalue(res->res, row, 22));
		/* The key as stored (one of its own for a repeat after another message). */
		if (stored && strcmp(PQgetvalue(res->res, row, 23), it->provider_ref) != 0) {
			free(it->provider_ref);
			it->provider_ref = xstrdup(PQgetvalue(res->res, row, 23));
		}
		if (stored)
			r->stored[ch][it->unclassified ? SF_STATUS_COUNT : (int)it->status]++;
		else
			r->outcome[ch][0]++;
		answers[nanswers++] =
		    (struct replies_answer){it, stored ? REPLY_STORED : REPLY_DUPLICATE, duress};
		/* The person the reply was matched to (an SMS sender, looked up in the statement).
		 */
		it->crisis_id =
		    PQgetisnull(res->res, row, 16) ? 0 : atoll(PQgetvalue(res->res, row, 16));
		it->national_id =
		    PQgetisnull(res->res, row, 17) ? 0 : atoll(PQgetvalue(res->res, row, 17));
		/*
		 * A replayed reply found stored: its first commit went through
		 * unconfirmed, and its status write never happened.
		 */
		if (!stored && it->replayed && !PQgetisnull(res->res, row, 19))
			replies_missed_add(r, atoll(PQgetvalue(res->res, row, 19)));
		if (!stored || it->national_id == 0 || it->crisis_id == 0)
			continue;
		/* Matched by a number several people share: staff check whose answer it is. */
		if (strcmp(PQgetvalue(res->res, row, 20), "t") == 0)
			it->review = true;
		replies_proxy_add(proxies, it, duress);
		e = &entries[nentries++];
		e->crisis_id = it->crisis_id;
		e->national_id = it->national_id;
		e->order = idx;
		e->row = row;
		e->headcount = it->headcount;
		e->response_id = atoll(PQgetvalue(res->res, row, 1));
		e->ev.status = it->status;
		e->ev.at_ms = it->at_ms;
		e->ev.unclassified = it->unclassified;
		e->ev.review = it->review && !it->unclassified;
		e->ev.clear_duress = it->clear_duress && !duress;
		e->ev.duress = duress;
		e->ev.source = replies_source(it->by_staff, it->proxy, it->channel);
	}
	replies_proxy_lookup(proxies);
	/* Shutting down: stored; the next start's catch-up writes the statuses. */
	if (d->db != NULL)
		status_job_start(r, res->res, entries, nentries, false, pending_id);
	free(entries);
	/*
	 * Acknowledged once the status write is on its way: the pages are
	 * rendered while the database works, not before it can start.
	 */
	for (int i = 0; i < nanswers; i++)
		answers[i].it->cb(answers[i].outcome, answers[i].duress, answers[i].it->arg);
	free(answers);
	replies_kick(r);
	for (int i = 0; i < b->n; i++)
		reply_item_free(b->items[i]);
	free(b->items);
	free(b);
}

/*
 * One catch-up round answered: the named answers, in id order, each with
 * its person's status as it is. They go through a status job like a stored
 * batch's.
 */
static void
replies_catch_up_read(const struct db_result *res, void *arg)
{
	struct replies *r = arg;
	struct replies_proxy_batch *proxies;
	struct status_entry *entries;
	int n;

	r->catch_up_reading = false;
	if (res->outcome != DB_OK) {
		log_warn("status_catch_up_failed", "error", res->error);
		replies_round_back(r);
		replies_kick(r);
		return;
	}
	n = PQntuples(res->res);
	if (n == 0) {
		/* Answers of crises closed meanwhile, or of no one: nothing to apply. */
		if (r->missed.n == 0)
			r->catching_up = false;
		replies_catch_up_turn(r, true);
		replies_kick(r);
		return;
	}
	entries = xcalloc((size_t)n, sizeof *entries);
	proxies = xcalloc(1, sizeof *proxies + (size_t)n * sizeof proxies->seeds[0]);
	proxies->d = r->d;
	for (int row = 0; row < n; row++) {
		struct status_entry *e = &entries[row];
		const char *status = PQgetvalue(res->res, row, 16);
		bool unclassified = strcmp(status, "unclassified") == 0;
		bool review = strcmp(PQgetvalue(res->res, row, 17), "t") == 0;

		e->response_id = atoll(PQgetvalue(res->res, row, 0));
		e->crisis_id = atoll(PQgetvalue(res->res, row, 1));
		e->national_id = atoll(PQgetvalue(res->res, row, 2));
		e->order = row;
		e->row = row;
		e->headcount = atoi(PQgetvalue(res->res, row, 23));
		e->ev.status = unclassified ? SF_STATUS_UNKNOWN : replies_status(status);
		e->ev.unclassified = unclassified;
		e->ev.review = review && !unclassified;
		e->ev.duress = strcmp(PQgetvalue(res->res, row, 18), "t") == 0;
		e->ev.source = replies_source(strcmp(PQgetvalue(res->res, row, 20), "t") == 0,
		                              strcmp(PQgetvalue(res->res, row, 21), "t") == 0,
		                              PQgetvalue(res->res, row, 19));
		e->ev.at_ms = replies_ms(res->res, row, 22);
		e->ev.clear_duress = strcmp(PQgetvalue(res->res, row, 26), "t") == 0 &&
		                     !e->ev.duress && e->ev.source == SF_STATUS_SOURCE_STAFF;
		/*
		 * Its household's proxy answers may not have been made either; they
		 * are keyed by the answer's reference, so those already there are
		 * not made twice.
		 */
		if (!PQgetisnull(res->res, row, 24)) {
			struct reply_item it = {
			    .crisis_id = e->crisis_id,
			    .national_id = e->national_id,
			    .channel = PQgetvalue(res->res, row, 19),
			    .raw_text = PQgetvalue(res->res, row, 25),
			    .provider_ref = PQgetvalue(res->res, row, 24),
			    .status = e->ev.status,
			    .unclassified = unclassified,
			    .review = review,
			    .proxy = e->ev.source == SF_STATUS_SOURCE_PROXY,
			    .headcount = e->headcount,
			    .at_ms = e->ev.at_ms,
			};
			replies_proxy_add(proxies, &it, e->ev.duress);
		}
	}
	replies_proxy_lookup(proxies);
	r->caught_up += (uint64_t)n;
	{
		char num[24];
		snprintf(num, sizeof num, "%d", n);
		log_info("status_catch_up", "answers", num);
	}
	status_job_start(r, res->res, entries, n, true, 0);
	free(entries);
}

static int
replies_id_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Whether a sorted list holds the id. */
static bool
replies_ids_has(const struct replies_ids *sorted, int64_t id)
{
	return sorted->n > 0 &&
	       bsearch(&id, sorted->v, sorted->n, sizeof *sorted->v, replies_id_cmp) != NULL;
}

/* Reads the next round: the oldest named answers, each applied even if a newer one was. */
static void
replies_catch_up_round(struct replies *r)
{
	struct pg_arrays ids;
	const char *cause;
	size_t kept = 0;

	if (r->d->db == NULL || r->missed.n == 0) {
		r->catching_up = false;
		return;
	}
	/* Oldest first, each once. */
	qsort(r->missed.v, r->missed.n, sizeof *r->missed.v, replies_id_cmp);
	for (size_t i = 0; i < r->missed.n; i++)
		if (kept == 0 || r->missed.v[kept - 1] != r->missed.v[i])
			r->missed.v[kept++] = r->missed.v[i];
	{
		int limit = r->round_limit > 0 ? r->round_limit : REPLIES_CATCH_UP_ROWS;

		r->nround = kept < (size_t)limit ? (int)kept : limit;
	}
	memcpy(r->round_ids, r->missed.v, (size_t)r->nround * sizeof *r->round_ids);
	memmove(r->missed.v, r->missed.v + r->nround,
	        (kept - (size_t)r->nround) * sizeof *r->missed.v);
	r->missed.n = kept - (size_t)r->nround;
	pg_arrays_open(&ids, 1);
	for (int i = 0; i < r->nround; i++)
		pg_arrays_add_int(&ids, 0, r->round_ids[i]);
	r->catch_up_reading = true;
	if (db_pool_query_prepared(
	        r->d->db,
	        "SELECT r.id, r.crisis_id, r.national_id," STATUS_STATE_COLUMNS ", "
	        " coalesce(r.status, 'unclassified'), r.review, r.duress, r.channel, r.by_staff, "
	        " r.proxy, (extract(epoch FROM r.received_at) * 1000)::bigint, "
	        " coalesce(r.headcount, 0), r.provider_ref, coalesce(r.raw_text, ''), "
	        " r.clear_duress "
	        "FROM response r JOIN crisis c ON c.id = r.crisis_id AND c.state = 'active' "
	        "LEFT JOIN person_status p ON p.crisis_id = r.crisis_id "
	        " AND p.national_id = r.national_id "
	        "WHERE r.id = ANY ($1::bigint[]) AND r.national_id IS NOT NULL ORDER BY r.id",
	        1, pg_arrays_close(&ids), replies_catch_up_read, r, &cause) != 0) {
		r->catch_up_reading = false;
		replies_round_back(r);
	}
	pg_arrays_free(&ids);
}

/*
 * A run's scan answered: the answers of open crises newer than the one
 * their person's status last took in (left by a crash, or by a failure
 * this process did not see) join the named ones.
 */
static void
replies_catch_up_scanned(const struct db_result *res, void *arg)
{
	struct replies *r = arg;
	int n;

	r->catch_up_scanning = false;
	if (res->outcome != DB_OK) {
		log_warn("status_catch_up_failed", "error", res->error);
		r->catch_up_due = true;
		r->catching_up = false;
		replies_kick(r);
		return;
	}
	n = PQntuples(res->res);
	for (int row = 0; row < n; row++)
		replies_missed_add(r, atoll(PQgetvalue(res->res, row, 0)));
	/* More than a scan takes: the next run reads on from the last one named. */
	r->scan_after = n == REPLIES_CATCH_UP_SCAN_MAX ? atoll(PQgetvalue(res->res, n - 1, 0)) : 0;
	r->catch_up_due = r->scan_after > 0;
	if (r->missed.n == 0)
		r->catching_up = false;
	replies_kick(r);
	replies_catch_up_turn(r, true);
}

/* Sends a run's scan: the answers newer than the one their person's status last took in. */
static void
replies_catch_up_scan(struct replies *r)
{
	char after[24], limit[16];
	const char *params[2] = {after, limit};
	const char *cause;

	snprintf(after, sizeof after, "%lld", (long long)r->scan_after);
	snprintf(limit, sizeof limit, "%d", REPLIES_CATCH_UP_SCAN_MAX);
	r->catching_up = true;
	r->catch_up_scanning = true;
	/*
	 * Only ids: the scan reads every answer of the open crises, which takes
	 * a while on a big one, and only what it names is read in full. It does
	 * not hold up the batches.
	 */
	if (db_pool_query_prepared(
	        r->d->db,
	        "SELECT r.id FROM response r JOIN crisis c ON c.id = r.crisis_id "
	        " AND c.state = 'active' LEFT JOIN person_status p ON p.crisis_id = r.crisis_id "
	        " AND p.national_id = r.national_id WHERE r.national_id IS NOT NULL "
	        " AND r.id > $1 AND r.id > coalesce(p.last_response_id, 0) ORDER BY r.id LIMIT $2",
	        2, params, replies_catch_up_scanned, r, &cause) != 0) {
		r->catch_up_scanning = false;
		r->catch_up_due = true;
		r->catching_up = false;
	}
}

/*
 * The batches whose statuses were never written, as status_pending holds
 * them: every row at a process's first run (what its last life left), and
 * afterwards the rows left behind, older than any status write takes (a
 * process that died, a failure this one did not see). Their answers join
 * the named ones; the rows go once the run has applied them all.
 */
static void
replies_pending_read(const struct db_result *res, void *arg)
{
	struct replies *r = arg;
	int n, rows = 0;
	int64_t last_row = 0;
	double oldest = 0;

	r->pending_reading = false;
	if (res->outcome != DB_OK) {
		log_warn("status_catch_up_failed", "error", res->error);
		r->catch_up_due = r->catch_up_due || r->scan_wanted;
		replies_kick(r);
		return;
	}
	n = PQntuples(res->res);
	for (int i = 0; i < n; i++) {
		struct replies_pending_row *row =
		    replies_row_take(r, atoll(PQgetvalue(res->res, i, 0)));
		int64_t answer = atoll(PQgetvalue(res->res, i, 1));
		double age = atof(PQgetvalue(res->res, i, 2));

		replies_ids_push(&row->answers, answer);
		replies_ids_push(&r->missed, answer);
		if (age > oldest)
			oldest = age;
		if (row->id != last_row)
			rows++;
		last_row = row->id;
	}
	r->pending_oldest_s = oldest;
	if (rows >= REPLIES_PENDING_ROWS_MAX) {
		/* More than one look holds: the next run looks again, in the same way. */
		r->pending_looked_ms = 0;
	} else {
		r->pending_all = false;
	}
	if (r->d->shutting_down) {
		/* What was read waits for the next start; the rows stay. */
		r->catch_up_due = r->catch_up_due || r->scan_wanted;
	} else if (r->scan_wanted) {
		replies_catch_up_scan(r);
	} else if (r->missed.n > 0) {
		r->catching_up = true;
	}
	replies_catch_up_turn(r, true);
	replies_kick(r);
}

/*
 * Sends the catch-up's next round, or starts a run that is due, when
 * nothing else is in flight. After a round, a batch that waits goes first
 * (batches_first); after a batch, the next round does: under load they
 * take turns. A run starts at most once a second, so a failing one is not
 * retried in a tight loop; every few seconds one looks for batches left
 * behind in status_pending.
 */
static void
replies_catch_up_turn(struct replies *r, bool batches_first)
{
	struct timespec ts;
	int64_t now;
	char all[2], rows_max[8];
	struct pg_arrays taken;
	const char *params[3];
	const char *cause;

	if (r->d->db == NULL || !db_pool_connected(r->d->db) || r->status_jobs > 0 ||
	    r->storing > 0 || r->catch_up_reading || r->catch_up_scanning || r->pending_reading ||
	    (batches_first && r->head != NULL))
		return;
	if (r->catching_up && !r->d->shutting_down) {
		replies_catch_up_round(r);
		return;
	}
	/* Between runs (or stopped by a shutdown): rows whose answers were all applied are done. */
	replies_rows_settle(r);
	if (r->catching_up || r->d->shutting_down)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	if (!r->catch_up_due && !r->pending_all &&
	    now - r->pending_looked_ms < REPLIES_PENDING_LOOK_MS)
		return;
	if (now - r->catch_up_started_ms < 1000)
		return;
	r->scan_wanted = r->catch_up_due;
	r->catch_up_due = false;
	r->catch_up_started_ms = now;
	r->pending_looked_ms = now;
	r->round_limit = 0;
	/* Answers set aside by the last run are tried again, once, in this one. */
	for (size_t i = 0; i < r->deferred.n; i++)
		replies_ids_push(&r->missed, r->deferred.v[i]);
	r->deferred.n = 0;
	snprintf(all, sizeof all, "%s", r->pending_all ? "t" : "f");
	/* Rows already taken over are not read again: their answers are named. */
	pg_arrays_open(&taken, 1);
	for (size_t i = 0; i < r->nrows; i++)
		pg_arrays_add_int(&taken, 0, r->rows[i].id);
	snprintf(rows_max, sizeof rows_max, "%d", REPLIES_PENDING_ROWS_MAX);
	params[0] = all;
	params[1] = pg_arrays_close(&taken)[0];
	params[2] = rows_max;
	r->pending_reading = true;
	if (db_pool_query_prepared(
	        r->d->db,
	        "SELECT p.id, u.id, extract(epoch FROM now() - p.created_at) "
	        "FROM (SELECT id, response_ids, created_at FROM status_pending "
	        " WHERE ($1::bool OR created_at < now() - interval '" REPLIES_PENDING_STALE "') "
	        " AND NOT (id = ANY ($2::bigint[])) ORDER BY id LIMIT $3::int) p, "
	        " unnest(p.response_ids) AS u(id) ORDER BY p.id, u.id",
	        3, params, replies_pending_read, r, &cause) != 0) {
		r->pending_reading = false;
		r->catch_up_due = r->scan_wanted;
	}
	pg_arrays_free(&taken);
}

/* The done rows a standalone delete carries. */
struct replies_deleting {
	struct replies *r;
	struct replies_ids ids;
};

static void replies_pending_delete(struct replies *r);

/* True when nothing of the reply path is in flight or left to record. */
bool
replies_settled(const struct daemon *d)
{
	const struct replies *r = d->replies;

	if (r == NULL)
		return true;
	if (r->head != NULL || r->storing > 0 || r->status_jobs > 0 || r->catch_up_reading ||
	    r->catch_up_scanning || r->pending_reading || r->pending_deleting)
		return false;
	/* Rows the database cannot take now are applied again at the next start. */
	return r->done_pending.n == 0 || d->db == NULL || !db_pool_connected(d->db);
}

/* While shutting down: delete the done rows once writes are over, then let the daemon finish. */
static void
replies_shutdown_step(struct replies *r)
{
	if (!r->d->shutting_down)
		return;
	replies_pending_delete(r);
	if (replies_settled(r->d))
		daemon_work_done(r->d);
}

static void
replies_pending_deleted(const struct db_result *res, void *arg)
{
	struct replies_deleting *del = arg;
	struct replies *r = del->r;

	r->pending_deleting = false;
	if (res->outcome != DB_OK)
		replies_ids_move(&r->done_pending, &del->ids);
	free(del->ids.v);
	free(del);
	replies_shutdown_step(r);
}

/*
 * Deletes the done rows with a statement of their own, when no status
 * write comes to carry them (the replies have stopped, or shutdown).
 */
static void
replies_pending_delete(struct replies *r)
{
	struct replies_deleting *del;
	struct pg_arrays ids;
	const char *cause;

	if (r->done_pending.n == 0 || r->pending_deleting || r->status_jobs > 0 ||
	    r->d->db == NULL || !db_pool_connected(r->d->db))
		return;
	del = xcalloc(1, sizeof *del);
	del->r = r;
	replies_ids_move(&del->ids, &r->done_pending);
	pg_arrays_open(&ids, 1);
	for (size_t i = 0; i < del->ids.n; i++)
		pg_arrays_add_int(&ids, 0, del->ids.v[i]);
	r->pending_deleting = true;
	if (db_pool_query_prepared(
	        r->d->db, "DELETE FROM status_pending WHERE id = ANY ($1::bigint[])", 1,
	        pg_arrays_close(&ids), replies_pending_deleted, del, &cause) != 0) {
		r->pending_deleting = false;
		replies_ids_move(&r->done_pending, &del->ids);
		free(del->ids.v);
		free(del);
	}
	pg_arrays_free(&ids);
}

/* Every second: a run that is due starts if the replies leave room; done rows go. */
static void
replies_catch_up_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	replies_catch_up_turn(arg, false);
	replies_pending_delete(arg);
	replies_shutdown_step(arg);
}

/* Commits everything queued in this loop turn. */
static void
replies_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct replies *r = arg;
	struct replies_batch *b;
	struct pg_arrays cols;
	const char *cause;
	char num[64];
	int limit, first_limit;

	(void)fd;
	(void)what;
	r->flush_scheduled = false;
	if (r->head == NULL || r->storing >= REPLIES_STORES_MAX ||
	    r->status_jobs >= REPLIES_STATUS_JOBS_MAX)
		return;
	/* A catch-up round's read leads to a status job: one status job at a time. */
	if (r->catch_up_reading)
		return;
	r->storing++;
	b = xcalloc(1, sizeof *b);
	b->r = r;
	b->items = xcalloc((size_t)(r->queued < REPLIES_BATCH_MAX ? r->queued : REPLIES_BATCH_MAX),
	                   sizeof *b->items);
	pg_arrays_open(&cols, 20);
	limit = r->head->batch_limit > 0 ? r->head->batch_limit : REPLIES_BATCH_MAX;
	first_limit = r->head->batch_limit;
	while (r->head != NULL && b->n < limit && r->head->batch_limit == first_limit) {
		struct reply_item *it = r->head;

		r->head = it->next;
		if (r->head == NULL)
			r->tail = NULL;
		r->queued--;
		it->next = NULL;
		pg_arrays_add_int(&cols, 0, b->n);
		snprintf(num, sizeof num, "%lld", (long long)it->crisis_id);
		pg_arrays_add(&cols, 1, it->crisis_id > 0 ? num : NULL);
		snprintf(num, sizeof num, "%lld", (long long)it->national_id);
		pg_arrays_add(&cols, 2, it->national_id > 0 ? num : NULL);
		pg_arrays_add(&cols, 3, it->channel);
		pg_arrays_add(&cols, 4, it->sender);
		pg_arrays_add(&cols, 5, it->raw_text);
		pg_arrays_add(&cols, 6,
		              it->unclassified ? "unclassified" : sf_status_name(it->status));
		snprintf(num, sizeof num, "%d", it->headcount);
		pg_arrays_add(&cols, 7, it->headcount > 0 ? num : NULL);
		snprintf(num, sizeof num, "%.7f", it->lat);
		pg_arrays_add(&cols, 8, it->has_point ? num : NULL);
		snprintf(num, sizeof num, "%.7f", it->lon);
		pg_arrays_add(&cols, 9, it->has_point ? num : NULL);
		pg_arrays_add(&cols, 10, it->provider_ref);
		pg_arrays_add(&cols, 11, it->entered_by);
		pg_arrays_add(&cols, 12, it->review ? "t" : "f");
		pg_arrays_add(&cols, 13, it->duress_hashes);
		pg_arrays_add(&cols, 14, it->require_active ? "t" : "f");
		pg_arrays_add(&cols, 15, it->by_staff ? "t" : "f");
		pg_arrays_add(&cols, 16, it->proxy ? "t" : "f");
		snprintf(num, sizeof num, "%lld", (long long)it->at_ms);
		pg_arrays_add(&cols, 17, num);
		pg_arrays_add(&cols, 18, it->clear_duress ? "t" : "f");
		pg_arrays_add(&cols, 19, it->provider_alt);
		b->items[b->n++] = it;
	}
	/*
	 * One statement: store the responses (a repeated provider reference is
	 * skipped), mark the check-ins answered, and return, per input, the
	 * stored id, whether the duress word matched, and the person's status
	 * as it was (the snapshot before this statement).
	 */
	if (db_pool_query_prepared(
	        r->d->db,
	        "WITH r0 AS (SELECT * FROM unnest($1::int[], $2::bigint[], $3::bigint[], "
	        "$4::text[], "
	        " $5::text[], $6::text[], $7::text[], $8::smallint[], $9::float8[], $10::float8[], "
	        " $11::text[], $12::text[], $13::bool[], $14::text[], $15::bool[], $16::bool[], "
	        " $17::bool[], $18::bigint[], $19::bool[], $20::text[]) AS r(idx, crisis_id, "
	        "national_id, channel, "
	        " sender, raw_text, status, headcount, lat, lon, ref0, entered_by, review, cand, "
	        "req, "
	        " bys, prx, at, clr, alt)), "
	        /*
	         * A key made up without the provider's id (reply_input.provider_alt)
	         * is checked against what is stored, as what the process remembered
	         * of the sender may be lost. When the key, or the previous five
	         * minutes' key within five minutes, is stored: if the sender's
	         * latest SMS since holds it (or a key of its own made from it),
	         * this is a retry of that one; otherwise, with the key stored for
	         * an earlier message and another since, a new message, given a key
	         * of its own. The sender's latest SMS is looked for only when a key
	         * is found (a retry, rare), by id from there.
	         */
	        "r AS (SELECT r0.*, CASE WHEN r0.alt IS NULL OR k.latest IS NULL THEN r0.ref0 "
	        " WHEN k.latest IN (r0.ref0, r0.alt) OR k.latest LIKE r0.ref0 || ':%' "
	        "  THEN k.latest "
	        " WHEN k.own THEN r0.ref0 || ':' || r0.idx || ':' || "
	        "  (extract(epoch FROM clock_timestamp()) * 1000000)::bigint "
	        " ELSE r0.ref0 END AS ref FROM r0 LEFT JOIN LATERAL ("
	        /*
	         * The aggregate gives a row even when no key is stored: the CASE
	         * keeps the sender's latest SMS from being looked for then.
	         */
	        " SELECT bool_or(e.provider_ref = r0.ref0) AS own, CASE WHEN min(e.id) IS NOT NULL "
	        "  THEN (SELECT l.provider_ref FROM response l WHERE l.channel = 'sms' "
	        "  AND l.sender = r0.sender AND l.id >= min(e.id) ORDER BY l.id DESC LIMIT 1) "
	        "  END AS latest "
	        " FROM response e WHERE r0.alt IS NOT NULL AND e.channel = r0.channel "
	        " AND (e.provider_ref = r0.ref0 OR r0.alt <> '' AND e.provider_ref = r0.alt "
	        " AND e.received_at > now() - interval '5 minutes')) k ON true), "
	        /*
	         * An SMS from a known number answers that person's newest open
	         * check-in; a number several people share (a family's phone) is
	         * matched to one of them, flagged for staff to check whose it is.
	         */
	        "r2 AS (SELECT r.idx, coalesce(r.crisis_id, w.crisis_id) AS crisis_id, "
	        " coalesce(r.national_id, w.national_id) AS national_id, r.channel, r.sender, "
	        " r.raw_text, r.status, r.headcount, r.lat, r.lon, r.ref, r.entered_by, "
	        " r.review OR coalesce(w.shared, false) AS review, coalesce(w.shared, false) AS "
	        "shared, "
	        " r.cand, r.req, r.bys, r.prx, r.at, r.clr FROM r "
	        " LEFT JOIN LATERAL (SELECT k.crisis_id, k.national_id, "
	        "  min(k.national_id) OVER () <> max(k.national_id) OVER () AS shared "
	        /*
	         * Only people still registered and still asked count: a deleted
	         * person's cancelled check-in must neither take the answer nor
	         * make the number look shared.
	         */
	        "  FROM contact c JOIN national n ON n.id = c.national_id AND n.deleted_at IS NULL "
	        "  JOIN checkin k ON k.national_id = c.national_id AND k.state <> 'cancelled' "
	        "  JOIN crisis cr ON cr.id = k.crisis_id "
	        "  AND cr.state = 'active' WHERE r.national_id IS NULL AND r.channel = 'sms' "
	        "  AND c.kind = 'phone' AND c.value = r.sender "
	        "  ORDER BY cr.started_at DESC, c.priority, k.national_id LIMIT 1) w ON true), "
	        /*
	         * A reply page answer is stored only for an open crisis and a
	         * registered person; no answer for a person removed meanwhile (a
	         * spooled one) is stored, rather than failing the batch.
	         */
	        "x AS (SELECT r2.*, n.mission_id, "
	        " coalesce(n.duress_hash = ANY (r2.cand::text[]), false) AS duress, "
	        " (r2.national_id IS NOT NULL AND n.id IS NULL) OR r2.req AND NOT (n.id IS NOT "
	        "  NULL AND n.deleted_at IS NULL AND EXISTS (SELECT 1 "
	        "  FROM crisis c WHERE c.id = r2.crisis_id AND c.state = 'active')) AS refused "
	        " FROM r2 LEFT JOIN national n ON n.id = r2.national_id), "
	        /* Each crisis and mission's first ask, read once per batch, not once per answer. */
	        "fa AS (SELECT c.crisis_id, c.mission_id, min(c.launched_at) AS first_asked "
	        " FROM campaign c WHERE c.crisis_id IN (SELECT crisis_id FROM x) GROUP BY 1, 2), "
	        "ins AS (INSERT INTO response (crisis_id, national_id, mission_id, channel, "
	        "sender, "
	        " raw_text, status, headcount, point, provider_ref, entered_by, review, duress, "
	        " by_staff, proxy, received_at, clear_duress) "
	        " SELECT x.crisis_id, x.national_id, x.mission_id, channel, sender, raw_text, "
	        "  CASE WHEN duress THEN 'safe' ELSE status END, headcount, "
	        "  CASE WHEN lat IS NOT NULL THEN ST_SetSRID(ST_MakePoint(lon, lat), "
	        "4326)::geography "
	        "  END, ref, entered_by, review, duress, bys, prx, "
	        /*
	         * When it was received (a gateway's own time for an SMS delivered
	         * late): never in the future, never before the person was first
	         * asked (the first campaign of the crisis for their mission; a
	         * check-in's asked_at moves with every round).
	         */
	        "  least(now(), greatest(to_timestamp(at / 1000.0), fa.first_asked)), "
	        "clr "
	        " FROM x LEFT JOIN fa ON fa.crisis_id = x.crisis_id AND fa.mission_id = "
	        "x.mission_id "
	        " WHERE NOT refused "
	        " ON CONFLICT (channel, provider_ref) DO NOTHING RETURNING id, provider_ref, "
	        "channel, received_at), "
	        "ck AS (UPDATE checkin k SET state = 'answered', answered_at = now() FROM x JOIN "
	        "ins "
	        " ON ins.provider_ref = x.ref AND ins.channel = x.channel "
	        " WHERE k.crisis_id = x.crisis_id AND k.national_id = x.national_id "
	        " AND k.state IN ('asked', 'unreachable') RETURNING 1), "
	        /* Until their statuses are written, whatever happens to this process. */
	        "pend AS (INSERT INTO status_pending (response_ids) SELECT array_agg(id) FROM ins "
	        " HAVING count(*) > 0 RETURNING id) "
	        "SELECT x.idx, ins.id, x.duress," STATUS_STATE_COLUMNS ", x.crisis_id, "
	        " x.national_id, x.refused, "
	        /* A duplicate's stored id, looked up only for duplicates. */
	        " CASE WHEN ins.id IS NULL AND NOT x.refused THEN (SELECT e.id FROM response e "
	        "  WHERE e.channel = x.channel AND e.provider_ref = x.ref) END, x.shared, "
	        " (SELECT id FROM pend), (extract(epoch FROM ins.received_at) * 1000)::bigint, "
	        " x.ref FROM x LEFT JOIN ins ON ins.provider_ref = x.ref AND ins.channel = "
	        "x.channel "
	        "LEFT JOIN person_status p ON p.crisis_id = x.crisis_id "
	        " AND p.national_id = x.national_id, (SELECT count(*) FROM ck) c ORDER BY x.idx",
	        20, pg_arrays_close(&cols), replies_stored, b, &cause) != 0) {
		/* The database is down: the spool takes the batch. */
		replies_spool_batch(r, b->items, b->n);
		free(b->items);
		free(b);
		r->storing--;
	}
	pg_arrays_free(&cols);
}

void
replies_metrics(const struct daemon *d, struct evbuffer *out)
{
	const struct replies *r = d->replies;

	if (r == NULL)
		return;
	evbuffer_add_printf(out, "# HELP safety_replies_total Replies stored, by channel and the "
	                         "status they asked for.\n# TYPE safety_replies_total counter\n");
	for (int c = 0; c < REPLIES_CHANNELS; c++)
		for (int st = 0; st <= SF_STATUS_COUNT; st++)
			if (r->stored[c][st] > 0)
				evbuffer_add_printf(
				    out,
				    "safety_replies_total{channel=\"%s\",status=\"%s\"} %llu\n",
				    replies_channel_names[c],
				    st == SF_STATUS_COUNT ? "unclassified" : sf_status_name(st),
				    (unsigned long long)r->stored[c][st]);
	evbuffer_add_printf(out,
	                    "# HELP safety_status_retries_total Status writes that lost a race "
	                    "with another writer and were read and applied again.\n"
	                    "# TYPE safety_status_retries_total counter\n"
	                    "safety_status_retries_total %llu\n"
	                    "# HELP safety_status_gave_up_total Status writes given up after "
	                    "repeated lost races (each is logged).\n"
	                    "# TYPE safety_status_gave_up_total counter\n"
	                    "safety_status_gave_up_total %llu\n",
	                    (unsigned long long)r->status_retries,
	                    (unsigned long long)r->status_gave_up);
	evbuffer_add_printf(
	    out,
	    "# HELP safety_status_caught_up_total Stored answers applied to their "
	    "person's status late, by the catch-up after a crash or a failed "
	    "status write.\n# TYPE safety_status_caught_up_total counter\n"
	    "safety_status_caught_up_total %llu\n"
	    "# HELP safety_status_catching_up Whether statuses are catching up with "
	    "stored answers now.\n# TYPE safety_status_catching_up gauge\n"
	    "safety_status_catching_up %d\n",
	    (unsigned long long)r->caught_up, r->catching_up ? 1 : 0);
	evbuffer_add_printf(
	    out,
	    "# HELP safety_status_pending_oldest_seconds Age of the oldest batch of "
	    "stored answers whose statuses were left unwritten (by a process that "
	    "died, or a failed write), at the last look; 0 when none.\n"
	    "# TYPE safety_status_pending_oldest_seconds gauge\n"
	    "safety_status_pending_oldest_seconds %.0f\n",
	    r->pending_oldest_s);
	evbuffer_add_printf(out, "# HELP safety_replies_not_stored_total Replies not stored now: "
	                         "duplicates, refused (closed crisis, unknown person), failed, "
	                         "spooled while the database is away.\n"
	                         "# TYPE safety_replies_not_stored_total counter\n");
	for (int c = 0; c < REPLIES_CHANNELS; c++)
		for (int o = 0; o < 4; o++)
			evbuffer_add_printf(
			    out,
			    "safety_replies_not_stored_total{channel=\"%s\",outcome=\"%s\"} %llu\n",
			    replies_channel_names[c], replies_outcome_names[o],
			    (unsigned long long)r->outcome[c][o]);
}
