/*
 * PFIF 1.4 with partner agencies and Person Finder-style services. A mission
 * lead releases the crisis's people of the mission (names always, other
 * fields as listed); the feed then serves them as PFIF persons with one note
 * each, their current status. Notes a partner wrote about those persons come
 * back as answers of the "pfif" channel, with their source recorded. A
 * partner's note changes no one's status by itself (alive is not unhurt;
 * missing and dead are staff decisions): a note that says the person was
 * seen, is missing or is dead puts them on the review list with its text.
 * Nor is it ever served back as ours: the exported note's text and place
 * come from the person's own answers (and staff's entries of them), and it
 * says the person made contact only when they answered themselves.
 */
#include "routes.h"

#include "audit.h"
#include "daemon.h"
#include "db_reply.h"
#include "log.h"
#include "replies.h"
#include "pg_array.h"
#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <safety/error.h>
#include <safety/pfif.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PFIF_PAGE_DEFAULT 1000
#define PFIF_PAGE_MAX 5000
#define PFIF_PROBLEMS_SHOWN 20
#define PFIF_REF_MAX 200                /* bytes of a stored provider reference */
#define PFIF_REF_KEPT 120               /* of a longer note id, the start kept readable */
#define PFIF_EARLIEST_MS 946684800000LL /* 2000-01-01: a note dated before is not believed */
#define PFIF_SKIP_MAX 2147483647L       /* OFFSET takes an int */

/* The record-id domain of this installation: the host of public_url. */
static void
pfif_domain(const struct daemon *d, char *out, size_t outsz)
{
	const char *s = strstr(d->cfg.public_url, "://");
	size_t n;

	s = s != NULL ? s + 3 : d->cfg.public_url;
	n = strcspn(s, "/:");
	snprintf(out, outsz, "%.*s", (int)(n < outsz ? n : outsz - 1), s);
	if (*out == '\0')
		snprintf(out, outsz, "safety.invalid");
}

/*
 * PUT /api/v1/crises/{id}/pfif-release {fields, mission_id}: releases the
 * mission's people of the crisis to partners; DELETE withdraws.
 */
void
routes_pfif_release(struct http_ctx *ctx)
{
	static const char *const allowed[] = {"age",    "home_city", "home_country",
	                                      "status", "location",  "answer_text"};
	const size_t nallowed = sizeof allowed / sizeof allowed[0];
	unsigned chosen = 0;
	char id[24], mission_buf[24], fields[80];
	struct audit_who who;
	const char *params[8];
	cJSON *body = NULL, *list, *mission, *f;
	bool withdraw = evhttp_request_get_command(ctx->req) == EVHTTP_REQ_DELETE;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	if (!withdraw && (body = http_read_json(ctx)) == NULL)
		return;
	mission = body != NULL ? cJSON_GetObjectItemCaseSensitive(body, "mission_id") : NULL;
	if (ctx->principal.mission_id > 0) {
		snprintf(mission_buf, sizeof mission_buf, "%lld", ctx->principal.mission_id);
	} else if (mission != NULL && !http_json_id(mission, NULL)) {
		/* 1.5 read as mission 1 would release another mission's people. */
		http_reply_problem(ctx, 400, "bad request", "mission_id: a mission's id");
		cJSON_Delete(body);
		return;
	} else if (mission != NULL) {
		snprintf(mission_buf, sizeof mission_buf, "%lld", (long long)mission->valuedouble);
	} else if (withdraw && http_query(ctx, "mission_id", mission_buf, sizeof mission_buf) &&
	           http_is_id(mission_buf)) {
		/* given in the query */
	} else {
		http_reply_problem(ctx, 400, "bad request",
		                   "mission_id: required for accounts that see every mission");
		cJSON_Delete(body);
		return;
	}
	list = body != NULL ? cJSON_GetObjectItemCaseSensitive(body, "fields") : NULL;
	if (!withdraw && list != NULL && !cJSON_IsArray(list))
		goto bad_fields;
	/* A set, not the list as sent: a name repeated is released once, and fields stays bounded.
	 */
	cJSON_ArrayForEach(f, list)
	{
		unsigned bit =
		    cJSON_IsString(f) ? pg_name_bit(allowed, nallowed, f->valuestring) : 0;
		if (bit == 0)
			goto bad_fields;
		chosen |= bit;
	}
	pg_name_set_literal(allowed, nallowed, chosen, fields, sizeof fields);
	audit_params(ctx, &who, params);
	params[4] = id;
	params[5] = mission_buf;
	params[6] = withdraw ? NULL : fields;
	db_reply_json(ctx, 200, "no such crisis for this mission",
	              "SELECT pfif_release_set($5::bigint, $6::bigint, $7::text[], $1, $2, "
	              "$3::bigint, $4)::text",
	              7, params);
	cJSON_Delete(body);
	return;
bad_fields:
	http_reply_problem(ctx, 400, "bad request",
	                   "fields: a list of age, home_city, home_country, status, location, "
	                   "answer_text (names are always released)");
	cJSON_Delete(body);
}

/* What a person's status becomes in PFIF. */
static const char *
pfif_status_of(const char *status)
{
	if (strcmp(status, "missing") == 0)
		return "believed_missing";
	if (strcmp(status, "deceased") == 0)
		return "believed_dead";
	if (strcmp(status, "safe") == 0 || strcmp(status, "needs_help") == 0 ||
	    strcmp(status, "injured") == 0 || strcmp(status, "needs_evacuation") == 0 ||
	    strcmp(status, "evacuated") == 0)
		return "believed_alive";
	return "information_sought";
}

/* The export's rows came back: build the document. */
static void
pfif_export_done(const struct db_result *r, void *arg)
{
	struct http_ctx *ctx = arg;
	struct sf_pfif_doc *doc;
	char domain[128], buf[256], now[32];
	time_t t = time(NULL);
	struct tm tm;
	char *xml;
	size_t len;

	if (r->outcome != DB_OK) {
		db_reply_error(ctx, r);
		return;
	}
	if (PQntuples(r->res) == 0 || PQgetisnull(r->res, 0, 0)) {
		http_reply_problem(ctx, 404, "not found", "no such crisis");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
	pfif_domain(ctx->d, domain, sizeof domain);
	doc = sf_pfif_new();
	for (int i = 1; i < PQntuples(r->res) && doc != NULL; i++) {
		const char *nid = PQgetvalue(r->res, i, 1);
		const char *status = PQgetisnull(r->res, i, 10) ? NULL : PQgetvalue(r->res, i, 10);
		struct sf_pfif_record *p = sf_pfif_add_record(doc, SF_PFIF_PERSON), *n;
		char pid[160];

		if (p == NULL)
			break;
		snprintf(pid, sizeof pid, "%s/person.%s", domain, nid);
		sf_pfif_set(p, "person_record_id", pid);
		sf_pfif_set(p, "entry_date", now);
		sf_pfif_set(p, "author_name", PQgetvalue(r->res, i, 2));
		sf_pfif_set(p, "source_name", PQgetvalue(r->res, i, 2));
		sf_pfif_set(p, "source_date", PQgetvalue(r->res, i, 3));
		sf_pfif_set(p, "full_name", PQgetvalue(r->res, i, 4));
		sf_pfif_set(p, "alternate_names", PQgetvalue(r->res, i, 5));
		sf_pfif_set(p, "age", PQgetvalue(r->res, i, 6));
		sf_pfif_set(p, "home_city", PQgetvalue(r->res, i, 7));
		sf_pfif_set(p, "home_country", PQgetvalue(r->res, i, 8));
		if (status == NULL)
			continue;
		n = sf_pfif_add_record(doc, SF_PFIF_NOTE);
		if (n == NULL)
			break;
		snprintf(buf, sizeof buf, "%s/note.%s.%s.%s", domain, PQgetvalue(r->res, 0, 1), nid,
		         PQgetvalue(r->res, i, 9));
		sf_pfif_set(n, "note_record_id", buf);
		sf_pfif_set(n, "person_record_id", pid);
		sf_pfif_set(n, "entry_date", now);
		sf_pfif_set(n, "author_name", PQgetvalue(r->res, i, 2));
		sf_pfif_set(n, "source_date", PQgetvalue(r->res, i, 11));
		sf_pfif_set(n, "author_made_contact", PQgetvalue(r->res, i, 12));
		sf_pfif_set(n, "status", pfif_status_of(status));
		sf_pfif_set(n, "last_known_location", PQgetvalue(r->res, i, 13));
		if (!PQgetisnull(r->res, i, 14)) {
			sf_pfif_set(n, "text", PQgetvalue(r->res, i, 14));
		} else {
			snprintf(buf, sizeof buf, "Status with the embassy: %s.", status);
			sf_pfif_set(n, "text", buf);
		}
	}
	xml = doc != NULL ? sf_pfif_write(doc, &len) : NULL;
	sf_pfif_free(doc);
	if (xml == NULL) {
		http_reply_problem(ctx, 500, "internal error", "out of memory");
		return;
	}
	http_reply_bytes(ctx, 200, "application/xml; charset=utf-8", xml, len);
	free(xml);
}

/*
 * A paging number of the export into out, def when absent; a value that is
 * not a number from lo to hi is answered 400 with its range and false
 * returned (the database must never see one its integer cannot hold).
 */
static bool
pfif_page_param(struct http_ctx *ctx, const char *name, long def, long lo, long hi, char *out,
                size_t outsz)
{
	char buf[24], detail[80];
	const char *v = NULL;
	char *end;
	long n = def;
	int rc = http_query_checked(ctx, name, buf, sizeof buf, &v);

	if (rc == 0) {
		errno = 0;
		n = strtol(v, &end, 10);
		if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < lo || n > hi)
			rc = SF_EINVAL;
	} else if (rc == SF_ENOTFOUND) {
		rc = 0;
	}
	if (rc != 0) {
		snprintf(detail, sizeof detail, "%s: a whole number from %ld to %ld", name, lo, hi);
		http_reply_problem(ctx, 400, "bad request", detail);
		return false;
	}
	snprintf(out, outsz, "%ld", n);
	return true;
}

/*
 * GET /feed/v1/pfif?crisis=ID&max_results=N&skip=M: the released people of
 * a crisis as PFIF 1.4, one page at a time, in national id order.
 */
void
routes_feed_pfif(struct http_ctx *ctx)
{
	char scope[24], crisis[24], limit[24], skip[24];
	const char *params[4], *cause = NULL;
	const char *v;

	v = http_query(ctx, "crisis", crisis, sizeof crisis);
	if (v == NULL || !http_is_id(v)) {
		http_reply_problem(ctx, 400, "bad request", "crisis: a crisis id is required");
		return;
	}
	if (!pfif_page_param(ctx, "max_results", PFIF_PAGE_DEFAULT, 1, PFIF_PAGE_MAX, limit,
	                     sizeof limit) ||
	    !pfif_page_param(ctx, "skip", 0, 0, PFIF_SKIP_MAX, skip, sizeof skip))
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = crisis;
	params[2] = limit;
	params[3] = skip;
	/* Row 0 says whether the crisis is visible; the people follow. */
	if (db_pool_query(
	        ctx->d->db,
	        "SELECT (SELECT true FROM crisis c WHERE c.id = $2::bigint AND ($1::bigint IS NULL "
	        "  OR EXISTS (SELECT 1 FROM crisis_mission cm WHERE cm.crisis_id = c.id AND "
	        "  cm.mission_id = $1::bigint)))::text, $2::bigint::text, NULL, NULL, NULL, NULL, "
	        "NULL, NULL, "
	        "  NULL, NULL, NULL, NULL, NULL, NULL, NULL "
	        "UNION ALL (SELECT NULL, p.national_id::text, m.name, "
	        " to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	        " coalesce(n.name_latin, n.name_ko), CASE WHEN n.name_latin IS NOT NULL THEN "
	        " n.name_ko END, "
	        " CASE WHEN 'age' = ANY (r.fields) THEN date_part('year', age(n.birth_date))::int"
	        "  ::text END, "
	        " CASE WHEN 'home_city' = ANY (r.fields) THEN g.name END, "
	        " CASE WHEN 'home_country' = ANY (r.fields) THEN m.default_country END, "
	        " p.version::text, CASE WHEN 'status' = ANY (r.fields) THEN p.status END, "
	        " to_char(coalesce(p.answered_at, p.updated_at) AT TIME ZONE 'UTC', "
	        "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	        " CASE WHEN EXISTS (SELECT 1 FROM response o WHERE o.crisis_id = p.crisis_id "
	        "  AND o.national_id = p.national_id AND o.channel IN ('sms', 'web', 'email', "
	        "  'staff') AND NOT o.proxy AND NOT o.by_staff) THEN 'true' ELSE 'false' END, "
	        " CASE WHEN 'location' = ANY (r.fields) THEN round(ST_Y(coalesce(a.point, "
	        "  n.last_point)::geometry)::numeric, 5) || ',' || round(ST_X(coalesce(a.point, "
	        "  n.last_point)::geometry)::numeric, 5) END, "
	        " CASE WHEN 'answer_text' = ANY (r.fields) THEN a.raw_text END "
	        " FROM person_status p JOIN pfif_release r ON r.crisis_id = p.crisis_id AND "
	        "  r.mission_id = p.mission_id "
	        " JOIN national n ON n.id = p.national_id AND n.deleted_at IS NULL "
	        " JOIN mission m ON m.id = p.mission_id LEFT JOIN region g ON g.id = n.region_id "
	        /* The person's own newest answer, relayed by staff or not: staff's decisions
	         * (missing, deceased, evacuated) carry internal notes and places. */
	        " LEFT JOIN LATERAL (SELECT a.point, a.raw_text FROM response a "
	        "  WHERE a.crisis_id = p.crisis_id AND a.national_id = p.national_id "
	        "  AND a.channel IN ('sms', 'web', 'email', 'staff') AND NOT a.proxy "
	        "  AND NOT a.by_staff ORDER BY a.received_at DESC, a.id DESC LIMIT 1) a ON true "
	        " WHERE p.crisis_id = $2::bigint AND ($1::bigint IS NULL OR p.mission_id = "
	        "  $1::bigint) AND EXISTS (SELECT 1 FROM crisis c WHERE c.id = $2::bigint) "
	        " ORDER BY p.national_id LIMIT $3::int OFFSET $4::int)",
	        4, params, pfif_export_done, ctx, &cause) != 0) {
		http_add_header(ctx, "Retry-After", "1");
		http_reply_problem(ctx, 503, "database unavailable", cause);
	}
}

/* An import in progress: parsed on a worker, then each note stored as an answer. */
struct pfif_import {
	struct http_ctx *ctx;
	char *xml;
	size_t len;
	struct sf_pfif_doc *doc;
	char err[300];
	int rc;
	long long crisis_id;
	char domain[128];
	/* The notes about our people, by index in doc. */
	int *notes;
	long long *nationals;
	int nnotes;
	int notes_total, own, not_ours, not_in_crisis;
	int pending, stored, duplicates, refused, failed;
	/* The missions whose people the notes are about: the audit rows' missions. */
	long long *missions;
	int nmissions;
};

static void
pfif_import_free(struct pfif_import *im)
{
	free(im->xml);
	free(im->notes);
	free(im->nationals);
	free(im->missions);
	sf_pfif_free(im->doc);
	free(im);
}

/* The audit row of an import whose notes are stored, tried until it lands. */
struct pfif_audit {
	struct http_ctx *ctx;
	struct audit_who who;
	const char *params[7];
	char crisis[24];
	char *missions; /* as a bigint[] literal */
	char *summary;
	int status;
	unsigned tries;
	struct event *retry;
};

static void pfif_audit_try(struct pfif_audit *pa);

static void
pfif_audit_free(struct pfif_audit *pa)
{
	if (pa->retry != NULL)
		event_free(pa->retry);
	free(pa->summary);
	free(pa->missions);
	free(pa);
}

static void
pfif_audit_again(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pfif_audit_try(arg);
}

/*
 * Answering "retry" for stored notes would have the file sent again: the
 * audit row is tried again (up to 5 s apart) while the caller waits.
 */
static void
pfif_audit_later(struct pfif_audit *pa, const char *why)
{
	struct timeval tv;
	unsigned ms = pa->tries < 10 ? 500u * pa->tries : 5000u;

	log_warn("pfif_import_audit_retry", "crisis_id", pa->crisis, "error", why);
	if (pa->ctx->d->shutting_down) {
		/* The notes stand: answer so, and leave the operator what the row would have said.
		 */
		log_error("pfif_import_unaudited", "crisis_id", pa->crisis, "actor", pa->params[0],
		          "summary", pa->summary);
		http_reply_bytes(pa->ctx, pa->status, "application/json", pa->summary,
		                 strlen(pa->summary));
		pfif_audit_free(pa);
		return;
	}
	if (pa->retry == NULL)
		pa->retry = evtimer_new(pa->ctx->d->base, pfif_audit_again, pa);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (long)(ms % 1000) * 1000;
	evtimer_add(pa->retry, &tv);
}

static void
pfif_audit_done(const struct db_result *r, void *arg)
{
	struct pfif_audit *pa = arg;

	if (r->outcome != DB_OK) {
		pfif_audit_later(pa, r->error);
		return;
	}
	http_reply_bytes(pa->ctx, pa->status, "application/json", pa->summary, strlen(pa->summary));
	pfif_audit_free(pa);
}

static void
pfif_audit_try(struct pfif_audit *pa)
{
	const char *cause = NULL;

	pa->tries++;
	/*
	 * One row for each mission whose people the notes were about (a shared
	 * crisis's row without one is shown to all its missions); none about
	 * anyone: the caller's mission.
	 */
	if (db_pool_query(pa->ctx->d->db,
	                  "SELECT audit_record($1, $2, m, $4, 'pfif.import', 'crisis', $5, $6) "
	                  "FROM unnest(CASE WHEN cardinality($7::bigint[]) > 0 THEN $7::bigint[] "
	                  " ELSE ARRAY[$3::bigint] END) m",
	                  7, pa->params, pfif_audit_done, pa, &cause) != 0)
		pfif_audit_later(pa, cause);
}

/* Every note was stored (or not): record the import and answer. */
static void
pfif_import_finish(struct pfif_import *im)
{
	struct http_ctx *ctx = im->ctx;
	cJSON *res = cJSON_CreateObject(), *problems = cJSON_CreateArray();
	struct pfif_audit *pa = xcalloc(1, sizeof *pa);
	char *text;

	for (size_t i = 0; im->doc != NULL && i < im->doc->nproblems && i < PFIF_PROBLEMS_SHOWN;
	     i++)
		cJSON_AddItemToArray(problems, cJSON_CreateString(im->doc->problems[i].message));
	cJSON_AddNumberToObject(res, "notes", im->notes_total);
	cJSON_AddNumberToObject(res, "stored", im->stored);
	cJSON_AddNumberToObject(res, "duplicates", im->duplicates);
	cJSON_AddNumberToObject(res, "refused", im->refused);
	cJSON_AddNumberToObject(res, "failed", im->failed);
	cJSON_AddNumberToObject(res, "own_notes", im->own);
	cJSON_AddNumberToObject(res, "not_our_people", im->not_ours);
	cJSON_AddNumberToObject(res, "not_in_crisis", im->not_in_crisis);
	cJSON_AddNumberToObject(res, "records_left_out",
	                        im->doc != NULL ? (double)im->doc->nproblems : 0);
	cJSON_AddItemToObject(res, "problems", problems);
	text = cJSON_PrintUnformatted(res);
	cJSON_Delete(res);
	pa->ctx = ctx;
	pa->summary = text != NULL ? text : xstrdup("{}");
	pa->status = im->failed > 0 ? 503 : 200;
	audit_params(ctx, &pa->who, pa->params);
	snprintf(pa->crisis, sizeof pa->crisis, "%lld", im->crisis_id);
	pa->params[4] = pa->crisis;
	pa->params[5] = pa->summary;
	{
		struct evbuffer *b = evbuffer_new();

		evbuffer_add(b, "{", 1);
		for (int i = 0; i < im->nmissions; i++)
			evbuffer_add_printf(b, "%s%lld", i > 0 ? "," : "", im->missions[i]);
		evbuffer_add(b, "}", 2);
		pa->missions = xstrdup((const char *)evbuffer_pullup(b, -1));
		evbuffer_free(b);
	}
	pa->params[6] = pa->missions;
	pfif_import_free(im);
	pfif_audit_try(pa);
}

static void
pfif_import_stored(enum reply_outcome outcome, bool duress, void *arg)
{
	struct pfif_import *im = arg;

	(void)duress;
	switch (outcome) {
	case REPLY_STORED:
		im->stored++;
		break;
	case REPLY_DUPLICATE:
		im->duplicates++;
		break;
	case REPLY_REFUSED:
		im->refused++;
		break;
	case REPLY_FAILED:
		im->failed++;
		break;
	}
	if (--im->pending == 0)
		pfif_import_finish(im);
}

/* Milliseconds since the epoch of a PFIF time (YYYY-MM-DDThh:mm:ssZ); 0 if not one. */
static long long
pfif_time_ms(const char *s)
{
	struct tm tm;
	char *end;

	if (s == NULL)
		return 0;
	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (end == NULL)
		return 0;
	return (long long)timegm(&tm) * 1000;
}

/* Copies at most max bytes of s, cut at a character boundary. */
static void
pfif_cut(char *out, size_t outsz, const char *s)
{
	size_t n = strlen(s);

	if (n >= outsz) {
		n = outsz - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = '\0';
}

/*
 * The stored reference of a partner's note: "pfif:" and its note id, or,
 * when that would not fit the stored column, the id's start and the
 * SHA-256 of the whole id, so two long ids sharing a prefix stay two notes
 * while the same note sent again is still recognised.
 */
static void
pfif_note_ref(char *out, size_t outsz, const char *note_id)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char head[PFIF_REF_KEPT + 1];
	size_t n;

	if (strlen("pfif:") + strlen(note_id) <= PFIF_REF_MAX) {
		snprintf(out, outsz, "pfif:%s", note_id);
		return;
	}
	EVP_Digest(note_id, strlen(note_id), md, &mdlen, EVP_sha256(), NULL);
	pfif_cut(head, sizeof head, note_id);
	n = (size_t)snprintf(out, outsz, "pfif:%s#sha256:", head);
	for (unsigned int i = 0; i < mdlen && n + 2 < outsz; i++, n += 2)
		snprintf(out + n, outsz - n, "%02x", md[i]);
}

/*
 * When a partner's note happened, as far as the status history goes: never
 * after the import (a date in the future would outrank every later answer
 * and keep the person on the review list) and never before 2000 (no crisis
 * here is that old). A date not taken (or not understood) gives the
 * import's time and is copied, cut, into doubted; none given gives 0, now.
 */
static long long
pfif_note_time_ms(const char *source_date, long long now_ms, char *doubted, size_t doubtedsz)
{
	long long t = pfif_time_ms(source_date);

	*doubted = '\0';
	if (t > now_ms || (t != 0 && t < PFIF_EARLIEST_MS) ||
	    (t == 0 && source_date != NULL && *source_date != '\0')) {
		pfif_cut(doubted, doubtedsz, source_date);
		return now_ms;
	}
	return t;
}

static int
pfif_cmp_id(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

/* Notes the mission among those the import is about, once. */
static void
pfif_add_mission(struct pfif_import *im, long long mission)
{
	for (int i = 0; i < im->nmissions; i++)
		if (im->missions[i] == mission)
			return;
	im->missions[im->nmissions++] = mission;
}

/* The people of the crisis among the notes' persons are known: store their notes. */
static void
pfif_import_checked(const struct db_result *r, void *arg)
{
	struct pfif_import *im = arg;
	struct http_ctx *ctx = im->ctx;
	long long *known, *known_mission, now_ms;
	struct timespec now;
	size_t nknown;

	if (r->outcome != DB_OK) {
		db_reply_error(ctx, r);
		pfif_import_free(im);
		return;
	}
	nknown = (size_t)PQntuples(r->res);
	known = xcalloc(nknown + 1, sizeof *known);
	known_mission = xcalloc(nknown + 1, sizeof *known_mission);
	im->missions = xcalloc(nknown + 1, sizeof *im->missions);
	for (size_t i = 0; i < nknown; i++) {
		known[i] = atoll(PQgetvalue(r->res, (int)i, 0));
		known_mission[i] = atoll(PQgetvalue(r->res, (int)i, 1));
	}
	clock_gettime(CLOCK_REALTIME, &now);
	now_ms = (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	im->pending = 1; /* held until every note is submitted */
	for (int k = 0; k < im->nnotes; k++) {
		const struct sf_pfif_record *note = &im->doc->records[im->notes[k]];
		struct reply_input in;
		char text[1900], sender[120], ref[PFIF_REF_MAX + 1];
		const char *body = sf_pfif_get(note, "text");
		const char *author = sf_pfif_get(note, "author_name");
		const char *contact = sf_pfif_get(note, "author_made_contact");
		const char *where = sf_pfif_get(note, "last_known_location");
		char doubted[41];
		int status = sf_pfif_status_parse(sf_pfif_get(note, "status"));
		long long *hit;

		/* The rows come sorted by id (see the query): found by halving, not by scanning. */
		hit = bsearch(&im->nationals[k], known, nknown, sizeof *known, pfif_cmp_id);
		if (hit == NULL) {
			im->not_in_crisis++;
			continue;
		}
		pfif_add_mission(im, known_mission[hit - known]);
		memset(&in, 0, sizeof in);
		in.crisis_id = im->crisis_id;
		in.national_id = im->nationals[k];
		in.channel = "pfif";
		pfif_cut(sender, sizeof sender, author != NULL ? author : "PFIF partner");
		in.sender = sender;
		in.received_ms = pfif_note_time_ms(sf_pfif_get(note, "source_date"), now_ms,
		                                   doubted, sizeof doubted);
		/* A date not taken stays in the text, for staff to judge. */
		snprintf(text, sizeof text, "[PFIF %s%s%s%s%s] ", sender, status > 0 ? ", " : "",
		         status > 0 ? sf_pfif_status_name(status) : "",
		         *doubted != '\0' ? ", dated " : "", doubted);
		pfif_cut(text + strlen(text), sizeof text - strlen(text), body != NULL ? body : "");
		in.raw_text = text;
		pfif_note_ref(ref, sizeof ref, sf_pfif_get(note, "note_record_id"));
		in.provider_ref = ref;
		in.entered_by = ctx->principal.name;
		in.require_active = true;
		/* A partner's word changes no status by itself: it asks staff to look. */
		in.unclassified = true;
		in.review = status == SF_PFIF_STATUS_BELIEVED_ALIVE ||
		            status == SF_PFIF_STATUS_BELIEVED_MISSING ||
		            status == SF_PFIF_STATUS_BELIEVED_DEAD ||
		            (contact != NULL && strcmp(contact, "true") == 0);
		if (where != NULL && sscanf(where, "%lf%*[ ,]%lf", &in.lat, &in.lon) == 2 &&
		    in.lat >= -90 && in.lat <= 90 && in.lon >= -180 && in.lon <= 180)
			in.has_point = true;
		im->pending++;
		replies_submit(ctx->d, &in, pfif_import_stored, im);
	}
	free(known);
	free(known_mission);
	if (--im->pending == 0)
		pfif_import_finish(im);
}

/* Runs on a worker: the parse can take a while for a large file. */
static void
pfif_import_parse(void *arg)
{
	struct pfif_import *im = arg;

	im->rc = sf_pfif_parse(im->xml, im->len, &im->doc, im->err, sizeof im->err);
}

/* Back on the loop: find the notes about our people and check them against the crisis. */
static void
pfif_import_parsed(void *arg)
{
	struct pfif_import *im = arg;
	struct http_ctx *ctx = im->ctx;
	char prefix[160], note_prefix[160], scope[24], crisis[24];
	struct evbuffer *ids;
	const char *params[3], *cause = NULL;

	if (im->rc != SF_OK) {
		http_reply_problem(ctx, 400, "bad request", im->err);
		pfif_import_free(im);
		return;
	}
	snprintf(prefix, sizeof prefix, "%s/person.", im->domain);
	snprintf(note_prefix, sizeof note_prefix, "%s/", im->domain);
	im->notes = xcalloc(im->doc->n + 1, sizeof *im->notes);
	im->nationals = xcalloc(im->doc->n + 1, sizeof *im->nationals);
	ids = evbuffer_new();
	evbuffer_add(ids, "{", 1);
	for (size_t i = 0; i < im->doc->n; i++) {
		const struct sf_pfif_record *rec = &im->doc->records[i];
		const char *pid, *nid;

		if (rec->kind != SF_PFIF_NOTE)
			continue;
		im->notes_total++;
		pid = sf_pfif_get(rec, "person_record_id");
		nid = sf_pfif_get(rec, "note_record_id");
		if (strncmp(nid, note_prefix, strlen(note_prefix)) == 0) {
			im->own++; /* a note we wrote, come back */
			continue;
		}
		if (strncmp(pid, prefix, strlen(prefix)) != 0 ||
		    !http_is_id(pid + strlen(prefix))) {
			im->not_ours++;
			continue;
		}
		im->notes[im->nnotes] = (int)i;
		im->nationals[im->nnotes] = atoll(pid + strlen(prefix));
		evbuffer_add_printf(ids, "%s%lld", im->nnotes > 0 ? "," : "",
		                    im->nationals[im->nnotes]);
		im->nnotes++;
	}
	evbuffer_add(ids, "}", 2);
	params[0] = auth_scope_param(ctx, scope);
	snprintf(crisis, sizeof crisis, "%lld", im->crisis_id);
	params[1] = crisis;
	params[2] = (const char *)evbuffer_pullup(ids, -1);
	if (db_pool_query(ctx->d->db,
	                  "SELECT p.national_id, p.mission_id FROM person_status p "
	                  "WHERE p.crisis_id = $2::bigint "
	                  "AND p.national_id = ANY ($3::bigint[]) AND ($1::bigint IS NULL OR "
	                  "p.mission_id = $1::bigint) ORDER BY p.national_id",
	                  3, params, pfif_import_checked, im, &cause) != 0) {
		http_add_header(ctx, "Retry-After", "1");
		http_reply_problem(ctx, 503, "database unavailable", cause);
		pfif_import_free(im);
	}
	evbuffer_free(ids);
}

/*
 * POST /api/v1/crises/{id}/pfif (application/xml): a partner's PFIF file;
 * its notes about this crisis's people become answers.
 */
void
routes_pfif_import(struct http_ctx *ctx)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
	const char *type =
	    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Content-Type");
	struct pfif_import *im;
	char id[24];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	if (type == NULL || (strncasecmp(type, "application/xml", 15) != 0 &&
	                     strncasecmp(type, "text/xml", 8) != 0)) {
		http_reply_problem(ctx, 415, "unsupported media type",
		                   "send the PFIF file as application/xml");
		return;
	}
	im = xcalloc(1, sizeof *im);
	im->ctx = ctx;
	im->crisis_id = atoll(id);
	pfif_domain(ctx->d, im->domain, sizeof im->domain);
	im->len = evbuffer_get_length(in);
	im->xml = xmalloc(im->len + 1);
	evbuffer_copyout(in, im->xml, im->len);
	im->xml[im->len] = '\0';
	if (worker_pool_submit(ctx->d->workers, pfif_import_parse, pfif_import_parsed, im) != 0) {
		pfif_import_free(im);
		http_reply_problem(ctx, 503, "shutting down", "this server is stopping; retry");
	}
}
