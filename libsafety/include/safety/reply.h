/*
 * The free-text reply parser: what a national meant by the SMS they sent back
 * ("안전합니다", "safe", "1", "help, 3 people", "갇혔어요 37.57,126.98"). It
 * reads Korean and English with typos, spacing and negation, a head count,
 * coordinates and a pasted reply token. When answers of several kinds appear,
 * the most urgent wins: a call for help read as "safe" is the worst error.
 * How it works and how well: libsafety/src/reply.md.
 */
#ifndef SAFETY_REPLY_H
#define SAFETY_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <safety/status.h>

/* Only this many bytes of a reply are read; the rest is ignored. */
#define SF_REPLY_MAX_BYTES 1600
/* A reply token: 22 base64url characters. */
#define SF_REPLY_TOKEN_LEN 22

/* What a reply says, most urgent last. A zero-initialised kind is unclassified. */
enum sf_reply_kind {
	SF_REPLY_UNCLASSIFIED, /* nothing the parser can vouch for: staff read it */
	SF_REPLY_SAFE,
	SF_REPLY_NEEDS_EVACUATION,
	SF_REPLY_NEEDS_HELP,
	SF_REPLY_INJURED,
};

#define SF_REPLY_KIND_COUNT (SF_REPLY_INJURED + 1)

struct sf_reply {
	enum sf_reply_kind kind;
	int headcount;     /* people the answer covers, 1..99; 0 = not given: see below */
	bool has_location; /* lat/lon are valid (WGS 84 degrees) */
	double lat, lon;
	char token[32];    /* a pasted reply token (22 base64url characters), "" if none */
	bool negated_safe; /* "not safe", "안전하지 않아요", "no" to "are you safe?" */
	bool invalid_utf8; /* bytes that are not UTF-8 were read as spaces */
	bool truncated;    /* the reply was longer than SF_REPLY_MAX_BYTES */
	bool review;       /* the kind is a guess: see below */
	float confidence;  /* 0..1: 0 for unclassified, about 0.9 for a plain keyword */
};

/*
 * Parses the first SF_REPLY_MAX_BYTES of text (len bytes, not necessarily
 * NUL-terminated, any bytes at all) into *out, which is overwritten whole.
 *
 * Text is decoded as UTF-8 (invalid bytes become spaces and set
 * invalid_utf8), NFKC-normalised (full-width "１" is "1") and case-folded.
 * Then:
 *   - a bare digit 1, 2, 3 or 4 as the first word (or the only words) is the
 *     keyword menu: safe, help, injured, evacuation;
 *   - keywords and phrases of each kind are found in both languages, with
 *     common misspellings; a negated "safe" counts as a call for help, a
 *     negated call for help or injury ("nobody hurt") as "safe"; "safe" in a
 *     question ("is it safe?") counts for nothing;
 *   - the most urgent kind found wins: injured > needs_help >
 *     needs_evacuation > safe;
 *   - a number counts people only next to a word for people ("3명",
 *     "4 people") or after "we are", "총", "x"; phone numbers, times,
 *     distances and coordinates never do.
 *
 * review is set when the kind is a guess a human should check: "safe" read
 * only from a negation ("nobody hurt", "도움 필요 없어요"), a lone "yes" or
 * "no", a misspelling, or a reply with unreadable or cut-off bytes; a call
 * for help read only inside a condition ("if we need help..."); a "safe"
 * taken back by what follows it ("safe no", "안전X", "OK not really", "I'm
 * safe but my son is not"), hedged ("barely safe") or pretended ("괜찮은
 * 척"); a split answer, the sender safe and someone else missing, excepted or
 * hurt ("I'm safe but I can't find my daughter", "all safe except my
 * husband": the most urgent kind still wins); or menu choices that disagree
 * about "safe" ("1 for me 2 for my wife"). On the labelled corpus every
 * reply such guesses got wrong had review set. The safe way to use it is to
 * treat such a reply like an unclassified one (the person stays pending,
 * staff read it, the sender is asked again) while keeping the parsed kind
 * for staff to see.
 *
 * headcount says how many people the reply speaks of, not that they are all
 * safe: "we are 3, all safe except my husband" gives needs_help with review
 * and 3. Only a plain safe answer (kind SF_REPLY_SAFE, review and
 * negated_safe false) says that everyone it counts is safe; a caller that
 * answers for others from the count (a household) must check all three, and
 * use no count from any other reply.
 *
 * Returns 0 (also for empty or meaningless text: kind UNCLASSIFIED),
 * SF_EINVAL if out is NULL or text is NULL with len > 0, or SF_ENOMEM; on
 * error *out, if not NULL, is a zeroed (unclassified) reply.
 */
int sf_reply_parse(const char *text, size_t len, struct sf_reply *out);

/*
 * Returns the lower-case name of a kind ("needs_evacuation"), or NULL for a
 * value outside the enum. The string is static.
 */
const char *sf_reply_kind_name(enum sf_reply_kind kind);

/*
 * Returns the status an answer of this kind asks for: SF_STATUS_SAFE,
 * _NEEDS_HELP, _INJURED, _NEEDS_EVACUATION, and SF_STATUS_PENDING for
 * unclassified (the person stays pending with needs_review; pass the answer
 * to sf_status_apply() with unclassified set). SF_STATUS_UNKNOWN for a value
 * outside the enum.
 */
enum sf_status sf_reply_kind_status(enum sf_reply_kind kind);

#endif
