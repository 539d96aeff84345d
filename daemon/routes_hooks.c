/*
 * What the SMS gateways call: Kannel's delivery reports and incoming
 * messages (get-url of an sms-service), and a Twilio-compatible provider's
 * status callbacks and inbound webhook. Kannel proves itself with the
 * shared secret in the URL it was configured with; Twilio with the
 * X-Twilio-Signature over the URL and the form. Both compared in constant
 * time; a wrong one is 403 and changes nothing.
 */
#include "routes.h"

#include "daemon.h"
#include "dlr.h"
#include "log.h"
#include "replies.h"
#include "reply_link.h"
#include "xmalloc.h"

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <iconv.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/params.h>
#include <safety/phone.h>
#include <safety/reply.h>
#include <safety/secret.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/*
 * Checks the Kannel secret of the request, given as ?secret= or as the
 * password of HTTP basic authentication (a get-url of the form
 * http://kannel:SECRET@host/...); answers 403 when it is wrong.
 */
static bool
hooks_kannel_secret_ok(struct http_ctx *ctx)
{
	char secret[256], decoded[300];
	const char *given = http_query(ctx, "secret", secret, sizeof secret);
	const char *auth =
	    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Authorization");

	if (given == NULL && auth != NULL && strncasecmp(auth, "Basic ", 6) == 0 &&
	    strlen(auth + 6) < sizeof secret) {
		size_t n = 0, len;
		char *colon;
		/* HTTP pads its base64; the library reads it unpadded. */
		snprintf(secret, sizeof secret, "%s", auth + 6);
		len = strlen(secret);
		while (len > 0 && secret[len - 1] == '=')
			secret[--len] = '\0';
		if (sf_secret_b64_decode(secret, (unsigned char *)decoded, sizeof decoded - 1,
		                         &n) == 0) {
			decoded[n] = '\0';
			colon = strchr(decoded, ':');
			if (colon != NULL)
				given = colon + 1;
		}
	}
	if (*ctx->d->cfg.hook_secret == '\0' || given == NULL ||
	    !sf_secret_streq(given, ctx->d->cfg.hook_secret)) {
		http_reply_problem(ctx, 403, "forbidden", "wrong or missing hook secret");
		return false;
	}
	return true;
}

/*
 * GET /hooks/sms/kannel/dlr?secret=&id=&attempt=&status=%d&answer=%A:
 * Kannel's delivery report (1 delivered, 2 failed, 4 buffered, 8 accepted by
 * the SMSC, 16 rejected by the SMSC). attempt is the send's number (absent in
 * the dlr-url of a message sent before it was added).
 */
void
routes_hooks_kannel_dlr(struct http_ctx *ctx)
{
	char id[32], status[8], answer[200], err[240], attempt[12];
	const char *vid, *vstatus, *vanswer, *vattempt;
	enum dlr_state state;

	if (!hooks_kannel_secret_ok(ctx))
		return;
	vid = http_query(ctx, "id", id, sizeof id);
	vstatus = http_query(ctx, "status", status, sizeof status);
	vanswer = http_query(ctx, "answer", answer, sizeof answer);
	vattempt = http_query(ctx, "attempt", attempt, sizeof attempt);
	if (vattempt != NULL && (vattempt[0] == '\0' || strlen(vattempt) > 4 ||
	                         strspn(vattempt, "0123456789") != strlen(vattempt)))
		vattempt = NULL;
	if (vid == NULL || vstatus == NULL || atoll(vid) <= 0) {
		http_reply_problem(ctx, 400, "bad request", "id and status are required");
		return;
	}
	switch (atoi(vstatus)) {
	case 1:
		state = DLR_DELIVERED;
		break;
	case 2:
	case 16:
		state = DLR_FAILED;
		break;
	default:
		state = DLR_PROGRESS; /* buffered or accepted: nothing to record */
		break;
	}
	snprintf(err, sizeof err, "delivery report %s: %.200s", vstatus,
	         vanswer != NULL ? vanswer : "");
	dlr_submit(ctx->d, ctx, atoll(vid), vattempt != NULL ? atoi(vattempt) : 0, NULL, state,
	           err);
}

/* Collects a form body into an ordered list of pairs. */
static bool
hooks_form(struct http_ctx *ctx, struct evkeyvalq *out)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
	size_t len = evbuffer_get_length(in);
	char *body;
	int rc;

	TAILQ_INIT(out);
	if (len > 65536)
		return false;
	body = xmalloc(len + 1);
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	rc = evhttp_parse_query_str(body, out);
	free(body);
	return rc == 0;
}

/* Orders form pairs by name, as Twilio's signature needs. */
static int
hooks_cmp_pairs(const void *a, const void *b)
{
	const struct evkeyval *const *x = a, *const *y = b;

	return strcmp((*x)->key, (*y)->key);
}

/*
 * Checks X-Twilio-Signature: base64(HMAC-SHA1(auth token, full URL + each
 * parameter name and value in name order)). Answers 403 when wrong.
 */
static bool
hooks_twilio_signature_ok(struct http_ctx *ctx, struct evkeyvalq *form)
{
	const char *sig =
	    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "X-Twilio-Signature");
	const char *uri = evhttp_request_get_uri(ctx->req);
	struct evkeyval *kv, **pairs = NULL;
	size_t n = 0, cap = 0;
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;
	char expected[64];
	EVP_MAC *hmac;
	EVP_MAC_CTX *h;
	OSSL_PARAM mp[2];
	bool ok;

	if (sig == NULL || *ctx->d->cfg.twilio_auth_token == '\0') {
		http_reply_problem(ctx, 403, "forbidden",
		                   "missing or unverifiable X-Twilio-Signature");
		return false;
	}
	TAILQ_FOREACH(kv, form, next)
	{
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			pairs = xrealloc(pairs, cap * sizeof *pairs);
		}
		pairs[n++] = kv;
	}
	qsort(pairs, n, sizeof *pairs, hooks_cmp_pairs);
	/* Twilio's scheme is HMAC-SHA1; it is theirs to choose, not ours. */
	hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	h = EVP_MAC_CTX_new(hmac);
	mp[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0);
	mp[1] = OSSL_PARAM_construct_end();
	EVP_MAC_init(h, (const unsigned char *)ctx->d->cfg.twilio_auth_token,
	             strlen(ctx->d->cfg.twilio_auth_token), mp);
	EVP_MAC_update(h, (const unsigned char *)ctx->d->cfg.public_url,
	               strlen(ctx->d->cfg.public_url));
	EVP_MAC_update(h, (const unsigned char *)uri, strlen(uri));
	for (size_t i = 0; i < n; i++) {
		EVP_MAC_update(h, (const unsigned char *)pairs[i]->key, strlen(pairs[i]->key));
		EVP_MAC_update(h, (const unsigned char *)pairs[i]->value, strlen(pairs[i]->value));
	}
	EVP_MAC_final(h, mac, &maclen, sizeof mac);
	EVP_MAC_CTX_free(h);
	EVP_MAC_free(hmac);
	free(pairs);
	/* Twilio pads its base64; the library writes it without padding. */
	ok = sf_secret_b64_encode(mac, maclen, expected, sizeof expected - 4) == 0;
	while (ok && strlen(expected) % 4 != 0)
		strcat(expected, "=");
	ok = ok && sf_secret_streq(sig, expected);
	if (!ok) {
		http_reply_problem(ctx, 403, "forbidden", "X-Twilio-Signature does not match");
	}
	return ok;
}

/* POST /hooks/sms/twilio/status: a Twilio-compatible status callback. */
void
routes_hooks_twilio_status(struct http_ctx *ctx)
{
	struct evkeyvalq form;
	const char *sid, *status, *code;
	char err[96];
	enum dlr_state state;

	if (!hooks_form(ctx, &form)) {
		http_reply_problem(ctx, 400, "bad request", "the body is not a form");
		return;
	}
	if (!hooks_twilio_signature_ok(ctx, &form)) {
		evhttp_clear_headers(&form);
		return;
	}
	sid = evhttp_find_header(&form, "MessageSid");
	status = evhttp_find_header(&form, "MessageStatus");
	code = evhttp_find_header(&form, "ErrorCode");
	if (sid == NULL || status == NULL) {
		evhttp_clear_headers(&form);
		http_reply_problem(ctx, 400, "bad request",
		                   "MessageSid and MessageStatus are required");
		return;
	}
	if (strcmp(status, "delivered") == 0)
		state = DLR_DELIVERED;
	else if (strcmp(status, "failed") == 0 || strcmp(status, "undelivered") == 0)
		state = DLR_FAILED;
	else
		state = DLR_PROGRESS;
	snprintf(err, sizeof err, "status %.20s, error %.20s", status, code != NULL ? code : "-");
	/*
	 * The message's id from our own StatusCallback URL, under the signature:
	 * it finds a message whose send timed out before its sid came back (the
	 * sid goes along, so a report of an earlier send fails nothing). Without
	 * it (a message sent before the id was in the URL), the sid.
	 */
	{
		char buf[24];
		const char *v = http_query(ctx, "outbox", buf, sizeof buf);
		long long outbox_id = 0;

		if (v != NULL && v[0] != '\0' && strspn(v, "0123456789") == strlen(v) &&
		    strlen(v) <= 18)
			outbox_id = atoll(v);
		dlr_submit(ctx->d, ctx, outbox_id, 0, sid, state, err);
	}
	evhttp_clear_headers(&form);
}

struct hooks_reply {
	struct http_ctx *ctx;
	bool twiml; /* answer as TwiML */
	/*
	 * Matched by a pasted reply link: if its crisis has closed (an old link
	 * quoted from the thread), the message goes again by its number. The
	 * strings are the answer's own copies, as the request may be gone.
	 */
	bool by_link;
	struct reply_input in;
	char *phone, *text, *ref, *alt;
};

static void
hooks_reply_free(struct hooks_reply *hr)
{
	free(hr->phone);
	free(hr->text);
	free(hr->ref);
	free(hr->alt);
	free(hr);
}

/* The reply is durable (or a repeat): acknowledge; otherwise the gateway retries later. */
static void
hooks_reply_done(enum reply_outcome outcome, bool duress, void *arg)
{
	struct hooks_reply *hr = arg;

	(void)duress;
	if (outcome == REPLY_REFUSED && hr->by_link) {
		/*
		 * The link named someone (or a crisis) it can no longer answer for:
		 * the message goes by its number, but whose answer it is, staff decide.
		 */
		hr->by_link = false;
		hr->in.crisis_id = hr->in.national_id = 0;
		hr->in.require_active = false;
		hr->in.review = true;
		replies_submit(hr->ctx->d, &hr->in, hooks_reply_done, hr);
		return;
	}
	if (outcome == REPLY_FAILED)
		http_reply_problem(hr->ctx, 503, "service unavailable",
		                   "not stored; deliver again");
	else if (hr->twiml)
		http_reply_bytes(hr->ctx, 200, "text/xml", "<Response/>", 11);
	else
		http_reply_bytes(hr->ctx, 200, "text/plain; charset=utf-8", "", 0);
	hooks_reply_free(hr);
}

/*
 * Stores an incoming SMS as a response of the sender's open check-in (the
 * newest active crisis when there are several); the provider's id makes a
 * repeat delivery a no-op. A message from an unknown number is kept without
 * a person, for staff to look at. An unreadable text (a charset the hook
 * cannot read) is kept as it came and left unclassified for staff: its words
 * cannot be trusted to say "safe", and refusing it would lose it.
 */
static void
hooks_sms_reply(struct http_ctx *ctx, const char *from, const char *text, const char *ref,
                const char *alt, bool twiml, int64_t received_ms, bool unreadable)
{
	struct sf_reply reply;
	char phone[SF_PHONE_E164_SIZE], err[128];
	struct hooks_reply *hr = xcalloc(1, sizeof *hr);
	struct reply_input *in = &hr->in;

	if (sf_phone_normalize(from, NULL, phone, sizeof phone, err, sizeof err) != 0)
		snprintf(phone, sizeof phone, "%.16s", from);
	if (unreadable || sf_reply_parse(text, strlen(text), &reply) != 0) {
		memset(&reply, 0, sizeof reply);
		reply.kind = SF_REPLY_UNCLASSIFIED;
	}
	hr->ctx = ctx;
	hr->twiml = twiml;
	hr->phone = xstrdup(phone);
	hr->text = xstrdup(text);
	hr->ref = ref != NULL ? xstrdup(ref) : NULL;
	hr->alt = alt != NULL ? xstrdup(alt) : NULL;
	in->channel = "sms";
	in->sender = hr->phone;
	in->raw_text = hr->text;
	in->words = hr->text;
	in->status = sf_reply_kind_status(reply.kind);
	in->unclassified = reply.kind == SF_REPLY_UNCLASSIFIED;
	in->review = reply.review;
	in->headcount = reply.headcount;
	in->has_point = reply.has_location;
	in->lat = reply.lat;
	in->lon = reply.lon;
	in->provider_ref = hr->ref;
	in->provider_alt = hr->alt;
	in->received_ms = received_ms;
	/*
	 * A reply link pasted into the message says whose answer it is, which
	 * the number alone may not (a phone several people share, a borrowed one).
	 */
	if (reply.token[0] != '\0' &&
	    reply_link_open(ctx->d, reply.token, &in->crisis_id, &in->national_id) == 0) {
		in->require_active = true;
		hr->by_link = true;
	} else {
		in->crisis_id = in->national_id = 0;
	}
	replies_submit(ctx->d, in, hooks_reply_done, hr);
}

/*
 * Kannel's %t, "YYYY-MM-DD HH:MM" or with seconds, in UTC: when the SMSC got
 * the message. 0 when absent, unreadable, in the future or over a week old.
 */
static int64_t
hooks_kannel_time(const char *v)
{
	struct tm tm;
	const char *end;
	time_t t, now = time(NULL);

	if (v == NULL || *v == '\0')
		return 0;
	memset(&tm, 0, sizeof tm);
	end = strptime(v, "%Y-%m-%d %H:%M", &tm);
	if (end == NULL)
		return 0;
	bool minutes_only = *end != ':';

	if (!minutes_only) {
		const char *sec = strptime(end + 1, "%S", &tm);

		if (sec == NULL)
			return 0;
		end = sec;
	}
	if (*end != '\0')
		return 0;
	t = timegm(&tm);
	if (t == (time_t)-1 || t > now + 60 || t < now - 7 * 86400)
		return 0;
	if (minutes_only) {
		/*
		 * The message came some time within that minute: taken at its
		 * end (or now, if sooner), an answer is pulled back only when it
		 * is really late, and a "help" sent at 14:18:50 is not put before
		 * a "safe" given at 14:18:30.
		 */
		struct timespec ts;
		int64_t now_ms, end_ms = (int64_t)t * 1000 + 59999;

		clock_gettime(CLOCK_REALTIME, &ts);
		now_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
		return end_ms < now_ms ? end_ms : now_ms;
	}
	return (int64_t)t * 1000;
}

/*
 * The last message of each sender seen without Kannel's id, to tell a retry
 * (the same text again, within five minutes) from a new message that
 * happens to repeat an earlier one ("help", "safe now", "help"), and the
 * keys the sender's messages were given in those five minutes. Four ways a
 * set, the oldest evicted, so one busy sender cannot push another out.
 */
#define HOOKS_RECENT_SETS 1024
#define HOOKS_RECENT_WAYS 4
#define HOOKS_RECENT_KEYS 8
static struct {
	unsigned char sender[16], text[16];
	time_t at;
	char ref[128], alt[128];
	unsigned char used[HOOKS_RECENT_KEYS][16];
	time_t used_at[HOOKS_RECENT_KEYS];
} hooks_recent[HOOKS_RECENT_SETS][HOOKS_RECENT_WAYS];

/* The first 16 bytes of the SHA-256 of up to three strings, each with its NUL. */
static void
hooks_digest(const char *a, const char *b, const char *c, unsigned char out[16])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	EVP_MD_CTX *mc = EVP_MD_CTX_new();

	memset(out, 0, 16);
	if (mc == NULL)
		return;
	if (EVP_DigestInit_ex(mc, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(mc, a, strlen(a) + 1) == 1 &&
	    (b == NULL || EVP_DigestUpdate(mc, b, strlen(b) + 1) == 1) &&
	    (c == NULL || EVP_DigestUpdate(mc, c, strlen(c) + 1) == 1) &&
	    EVP_DigestFinal_ex(mc, md, &mdlen) == 1)
		memcpy(out, md, 16);
	EVP_MD_CTX_free(mc);
}

/*
 * The key of a message Kannel sent without an id. A repeat of the sender's
 * most recent message (same text, same gateway time) within five minutes is
 * that message again. Otherwise the key is the sender, text and gateway time,
 * or without it the five minutes the message came in, so a retry after a
 * restart is still stored once; only when that key was already given to an
 * earlier message of the sender, with another in between ("help", "safe
 * now", "help" within the minute Kannel's time is precise to), is the new
 * message given a key of its own.
 *
 * What this table knew is gone after a restart, so the statement storing
 * the message checks it again against what is stored (alt, see
 * reply_input.provider_alt): the key of the previous five minutes, for a
 * retry whose original came in just before their edge.
 */
static void
hooks_kannel_key(const char *from, const char *text, const char *tstamp, char *ref, size_t refsz,
                 char *alt, size_t altsz)
{
	unsigned char who[16], what[16], key[16];
	char hex[33], moment[96];
	time_t now = time(NULL);
	bool has_time = tstamp != NULL && *tstamp != '\0';
	size_t set, way, mine = HOOKS_RECENT_WAYS, oldest = 0, k, slot = 0;
	bool taken = false;

	hooks_digest(from, NULL, NULL, who);
	hooks_digest(text, has_time ? tstamp : "", NULL, what);
	set = (((size_t)who[0] << 8 | who[1]) ^ ((size_t)who[2] << 16)) % HOOKS_RECENT_SETS;
	for (way = 0; way < HOOKS_RECENT_WAYS; way++) {
		if (hooks_recent[set][way].at != 0 && now - hooks_recent[set][way].at < 300 &&
		    memcmp(hooks_recent[set][way].sender, who, 16) == 0)
			mine = way;
		if (hooks_recent[set][way].at < hooks_recent[set][oldest].at)
			oldest = way;
	}
	if (mine < HOOKS_RECENT_WAYS && memcmp(hooks_recent[set][mine].text, what, 16) == 0 &&
	    hooks_recent[set][mine].ref[0] != '\0') {
		snprintf(ref, refsz, "%s", hooks_recent[set][mine].ref);
		snprintf(alt, altsz, "%s", hooks_recent[set][mine].alt);
		hooks_recent[set][mine].at = now;
		return;
	}
	alt[0] = '\0';
	if (!has_time) {
		snprintf(moment, sizeof moment, "bucket:%lld", (long long)(now / 300 - 1));
		hooks_digest(from, text, moment, key);
		sf_secret_hex_encode(key, 16, hex, sizeof hex);
		snprintf(alt, altsz, "kannel:h:%s", hex);
	}
	if (has_time)
		snprintf(moment, sizeof moment, "%s", tstamp);
	else
		snprintf(moment, sizeof moment, "bucket:%lld", (long long)(now / 300));
	hooks_digest(from, text, moment, key);
	if (mine < HOOKS_RECENT_WAYS) {
		for (k = 0; k < HOOKS_RECENT_KEYS; k++) {
			if (hooks_recent[set][mine].used_at[k] <
			    hooks_recent[set][mine].used_at[slot])
				slot = k;
			if (hooks_recent[set][mine].used_at[k] != 0 &&
			    now - hooks_recent[set][mine].used_at[k] < 300 &&
			    memcmp(hooks_recent[set][mine].used[k], key, 16) == 0)
				taken = true;
		}
	} else {
		mine = oldest;
		memset(&hooks_recent[set][mine], 0, sizeof hooks_recent[set][mine]);
		memcpy(hooks_recent[set][mine].sender, who, 16);
	}
	if (taken) {
		/* The same words again after another message: a new answer. */
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		snprintf(moment, sizeof moment, "%s|%lld.%09ld", has_time ? tstamp : "",
		         (long long)ts.tv_sec, ts.tv_nsec);
		hooks_digest(from, text, moment, key);
		alt[0] = '\0';
	} else {
		memcpy(hooks_recent[set][mine].used[slot], key, 16);
		hooks_recent[set][mine].used_at[slot] = now;
	}
	sf_secret_hex_encode(key, 16, hex, sizeof hex);
	snprintf(ref, refsz, "kannel:h:%s", hex);
	memcpy(hooks_recent[set][mine].text, what, 16);
	hooks_recent[set][mine].at = now;
	snprintf(hooks_recent[set][mine].ref, sizeof hooks_recent[set][mine].ref, "%s", ref);
	snprintf(hooks_recent[set][mine].alt, sizeof hooks_recent[set][mine].alt, "%s", alt);
}

/*
 * The first value of a query parameter, percent-decoded with its length
 * ('+' a space, as for every other parameter): UTF-16 text holds NUL bytes,
 * which a C string would end at. 0, SF_ENOTFOUND, SF_ETOOLONG or SF_ENOMEM.
 */
static int
hooks_query_bytes(struct http_ctx *ctx, const char *name, char *out, size_t outsz, size_t *outlen)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ctx->req);
	const char *q = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	size_t nlen = strlen(name);

	*outlen = 0;
	while (q != NULL && *q != '\0') {
		const char *end = strchr(q, '&');
		size_t seg = end != NULL ? (size_t)(end - q) : strlen(q);

		if (seg > nlen && strncmp(q, name, nlen) == 0 && q[nlen] == '=') {
			char *raw = xstrndup(q + nlen + 1, seg - nlen - 1), *dec;
			size_t n = 0;

			/* evhttp says how many bytes it decoded: a %00 does not end the text. */
			dec = evhttp_uridecode(raw, 1, &n);
			free(raw);
			if (dec == NULL)
				return SF_ENOMEM;
			if (n + 1 > outsz) {
				free(dec);
				return SF_ETOOLONG;
			}
			memcpy(out, dec, n);
			out[n] = '\0';
			*outlen = n;
			free(dec);
			return 0;
		}
		q = end != NULL ? end + 1 : NULL;
	}
	return SF_ENOTFOUND;
}

/*
 * Whether Kannel's charset is one the text already comes in as the hook
 * reads it: none given, UTF-8, GSM (7-bit text Kannel has converted) or
 * binary / 8-BIT (8-bit data, no characters to convert). Those keep the
 * common path, which takes any bytes and shows those that are not UTF-8 as
 * U+FFFD.
 */
static bool
hooks_charset_native(const char *cs)
{
	return cs == NULL || *cs == '\0' || strcasecmp(cs, "UTF-8") == 0 ||
	       strcasecmp(cs, "UTF8") == 0 || strcasecmp(cs, "GSM") == 0 ||
	       strcasecmp(cs, "binary") == 0 || strcasecmp(cs, "8-BIT") == 0;
}

/*
 * The text in UTF-8 from the charset Kannel named (mo-recode's WINDOWS-1252,
 * UCS-2 as UTF-16BE, or whatever iconv knows); the caller frees *out. Fails
 * with -2 when the charset is unknown, -1 when the bytes are not valid in it:
 * a call for help read in the wrong charset could be filed as "safe".
 */
static int
hooks_text_to_utf8(const char *cs, const char *in, size_t len, char **out)
{
	iconv_t cd;
	char *inp = (char *)in, *buf, *outp;
	size_t inleft = len, cap = 4 * len + 4, outleft;
	bool ok;

	if (strlen(cs) > 40 ||
	    strspn(cs, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	               "0123456789-_.:") != strlen(cs) ||
	    (cd = iconv_open("UTF-8", cs)) == (iconv_t)-1)
		return -2;
	buf = outp = xmalloc(cap);
	outleft = cap - 1;
	ok = iconv(cd, &inp, &inleft, &outp, &outleft) != (size_t)-1 &&
	     iconv(cd, NULL, NULL, &outp, &outleft) != (size_t)-1;
	iconv_close(cd);
	*outp = '\0';
	/* A NUL character would end the text where it is stored. */
	if (!ok || memchr(buf, '\0', (size_t)(outp - buf)) != NULL) {
		free(buf);
		return -1;
	}
	/* A byte order mark is no part of the words. */
	if (outp - buf >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		memmove(buf, buf + 3, (size_t)(outp - buf) - 2);
	*out = buf;
	return 0;
}

/* GET /hooks/sms/kannel?secret=&from=%p&to=%P&text=%a&id=%I&time=%t...: an incoming SMS via Kannel.
 */
void
routes_hooks_kannel_mo(struct http_ctx *ctx)
{
	/* A long concatenated SMS in Korean is 9 bytes a character in the URL, 3 here. */
	char from[64], text[8192], id[96], ref[128], alt[128], tbuf[32], csbuf[64], cbuf[8];
	char *converted = NULL;
	bool unreadable = false;
	size_t rawlen = 0;
	const char *vfrom, *vtext = NULL, *vid, *vtime, *cs, *coding;
	int trc, crc = 0;

	if (!hooks_kannel_secret_ok(ctx))
		return;
	vfrom = http_query(ctx, "from", from, sizeof from);
	coding = http_query(ctx, "coding", cbuf, sizeof cbuf);
	/* A charset or coding the hook cannot read: the text is kept as it came, for staff. */
	if (http_query_checked(ctx, "charset", csbuf, sizeof csbuf, &cs) == SF_ETOOLONG) {
		unreadable = true;
		cs = NULL;
	}
	if (coding != NULL && *coding != '\0' && strcmp(coding, "0") != 0 &&
	    strcmp(coding, "1") != 0 && strcmp(coding, "2") != 0) {
		unreadable = true;
		coding = NULL;
	}
	/* UCS-2 without a charset is UTF-16BE, as Kannel sends it. */
	if ((cs == NULL || *cs == '\0') && coding != NULL && strcmp(coding, "2") == 0)
		cs = "UTF-16BE";
	if (!hooks_charset_native(cs)) {
		trc = hooks_query_bytes(ctx, "text", text, sizeof text, &rawlen);
		if (trc == 0)
			crc = hooks_text_to_utf8(cs, text, rawlen, &converted);
		vtext = converted;
	}
	/* 8-bit data under a name iconv does not know is data, kept as before. */
	if (hooks_charset_native(cs) || (crc == -2 && coding != NULL && strcmp(coding, "1") == 0)) {
		free(converted);
		converted = NULL;
		crc = 0;
		trc = http_query_checked(ctx, "text", text, sizeof text, &vtext);
	}
	if (crc != 0) {
		/* Kept as it came, for staff: a refusal would lose the message for good. */
		vid = http_query(ctx, "id", id, sizeof id);
		log_warn("kannel_text_unreadable", "charset", cs, "id", vid != NULL ? vid : "",
		         "detail", crc == -2 ? "unknown charset" : "bytes not valid in it");
		unreadable = true;
		/* The bytes as they came, but for NULs (UTF-16 Latin text then reads plainly). */
		{
			size_t kept = 0;
			for (size_t i = 0; i < rawlen; i++)
				if (text[i] != '\0')
					text[kept++] = text[i];
			text[kept] = '\0';
		}
		vtext = text;
	}
	if (trc == SF_ETOOLONG) {
		http_reply_problem(ctx, 413, "payload too large",
		                   "text: longer than 8191 bytes; not stored");
		return;
	}
	vid = http_query(ctx, "id", id, sizeof id);
	vtime = http_query(ctx, "time", tbuf, sizeof tbuf);
	if (vfrom == NULL || vtext == NULL) {
		free(converted);
		http_reply_problem(ctx, 400, "bad request", "from and text are required");
		return;
	}
	if (vid != NULL && *vid != '\0') {
		snprintf(ref, sizeof ref, "kannel:%s", vid);
		hooks_sms_reply(ctx, vfrom, vtext, ref, NULL, false, hooks_kannel_time(vtime),
		                unreadable);
	} else {
		hooks_kannel_key(vfrom, vtext, vtime, ref, sizeof ref, alt, sizeof alt);
		hooks_sms_reply(ctx, vfrom, vtext, ref, alt, false, hooks_kannel_time(vtime),
		                unreadable);
	}
	free(converted); /* hooks_sms_reply keeps its own copy */
}

/* POST /hooks/sms/twilio: an incoming SMS via a Twilio-compatible provider. */
void
routes_hooks_twilio_mo(struct http_ctx *ctx)
{
	struct evkeyvalq form;
	const char *from, *body, *sid;
	char ref[128];

	if (!hooks_form(ctx, &form)) {
		http_reply_problem(ctx, 400, "bad request", "the body is not a form");
		return;
	}
	if (!hooks_twilio_signature_ok(ctx, &form)) {
		evhttp_clear_headers(&form);
		return;
	}
	from = evhttp_find_header(&form, "From");
	body = evhttp_find_header(&form, "Body");
	sid = evhttp_find_header(&form, "MessageSid");
	if (from == NULL || body == NULL) {
		evhttp_clear_headers(&form);
		http_reply_problem(ctx, 400, "bad request", "From and Body are required");
		return;
	}
	/* The same limit as Kannel's text: the provider is told, not the text cut unseen. */
	if (strlen(body) > 8191) {
		evhttp_clear_headers(&form);
		http_reply_problem(ctx, 413, "payload too large",
		                   "Body: longer than 8191 bytes; not stored");
		return;
	}
	snprintf(ref, sizeof ref, "twilio:%s", sid != NULL ? sid : "");
	hooks_sms_reply(ctx, from, body, sid != NULL ? ref : NULL, NULL, true, 0, false);
	evhttp_clear_headers(&form);
}
