/*
 * Fuzz target of the reply parser: any bytes must parse without a crash into
 * a reply whose fields are in range, the same way every time, and nothing
 * written after a call for help may turn it into anything less urgent.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/reply.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless a parsed reply keeps the header's promises. */
static void
check_reply(const struct sf_reply *r)
{
	size_t tl = strnlen(r->token, sizeof r->token);

	if ((unsigned)r->kind >= SF_REPLY_KIND_COUNT || sf_reply_kind_name(r->kind) == NULL)
		abort();
	if (r->headcount < 0 || r->headcount > 99)
		abort();
	if (!(r->confidence >= 0.0f && r->confidence <= 1.0f))
		abort();
	if ((r->kind == SF_REPLY_UNCLASSIFIED) != (r->confidence == 0.0f))
		abort();
	if (tl != 0 && tl != SF_REPLY_TOKEN_LEN)
		abort();
	for (size_t i = 0; i < tl; i++) {
		char c = r->token[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			abort();
	}
	if (r->has_location &&
	    !(isfinite(r->lat) && isfinite(r->lon) && fabs(r->lat) <= 90 && fabs(r->lon) <= 180))
		abort();
}

/* Parses text after a call for help in a clause of its own. */
static void
check_help_stays(const char *prefix, const uint8_t *data, size_t size)
{
	size_t pl = strlen(prefix);
	char *buf = malloc(pl + size);
	struct sf_reply r;

	if (buf == NULL)
		return;
	memcpy(buf, prefix, pl);
	if (size > 0)
		memcpy(buf + pl, data, size);
	if (sf_reply_parse(buf, pl + size, &r) != 0)
		abort();
	check_reply(&r);
	if (r.kind != SF_REPLY_NEEDS_HELP && r.kind != SF_REPLY_INJURED)
		abort();
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sf_reply a, b;

	if (sf_reply_parse((const char *)data, size, &a) != 0)
		abort();
	check_reply(&a);
	if (a.truncated != (size > SF_REPLY_MAX_BYTES))
		abort();
	/* The same bytes give the same reply. */
	if (sf_reply_parse((const char *)data, size, &b) != 0 || memcmp(&a, &b, sizeof a) != 0)
		abort();
	/* Only the first SF_REPLY_MAX_BYTES count. */
	if (size > SF_REPLY_MAX_BYTES + 3) {
		if (sf_reply_parse((const char *)data, SF_REPLY_MAX_BYTES + 3, &b) != 0 ||
		    b.kind != a.kind || b.headcount != a.headcount)
			abort();
	}
	check_help_stays("도와주세요.\n", data, size);
	check_help_stays("help.\n", data, size);
	return 0;
}
