/*
 * The reply page a national opens from the link in their message: a few
 * kilobytes of HTML that work without JavaScript, in Korean or English,
 * with four large choices. The answer is confirmed only once it is stored.
 * A link that is unknown, altered or of a closed crisis gets the same
 * friendly page and a 404, so nothing can be learnt about anyone from it;
 * an answer with the duress word gets exactly the page an ordinary "safe"
 * gets.
 */
#include "routes.h"

#include "daemon.h"
#include "html.h"
#include "log.h"
#include "replies.h"
#include "reply_link.h"
#include "xmalloc.h"

#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/evp.h>
#include <safety/reply.h>
#include <safety/secret.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct reply_text {
	const char *lang, *title, *hello_before, *hello_after, *question, *safe, *help, *injured,
	    *evac, *people, *message, *location, *location_done, *location_failed, *send, *thanks,
	    *thanks_more, *again, *gone, *gone_more, *drill, *other, *other_name, *busy, *too_long,
	    *message_too_long, *unreadable, *nul_in;
};

static const struct reply_text reply_ko = {
    "ko",
    "안전 확인",
    "",
    "님,",
    "지금 안전하십니까?",
    "안전합니다",
    "도움이 필요합니다",
    "다쳤습니다",
    "대피가 필요합니다",
    "함께 있는 사람 수 (본인 포함)",
    "전할 말 (선택)",
    "내 위치 보내기",
    "위치를 함께 보냅니다",
    "위치를 가져오지 못했습니다",
    "보내기",
    "답변을 받았습니다. 고맙습니다.",
    "상황이 바뀌면 이 페이지에서 다시 답해 주세요. 대사관이 확인하고 있습니다.",
    "다시 답하기",
    "이 링크는 더 이상 쓸 수 없습니다",
    "안전 확인이 끝났거나 링크가 잘못되었습니다. 도움이 필요하면 대사관이나 영사콜센터 "
    "(+82-2-3210-0404)로 연락하세요.",
    "훈련 상황입니다",
    "English",
    "en",
    "지금은 답을 저장하지 못했습니다. 잠시 뒤 다시 보내 주세요.",
    "보낸 내용이 너무 깁니다. 전할 말을 줄여서 다시 보내 주세요.",
    "전할 말이 너무 깁니다. 500자 이내로 줄여서 다시 보내 주세요. 쓰신 내용은 아래에 그대로 "
    "있습니다.",
    "보내신 양식을 읽지 못했습니다. 답을 고른 뒤 다시 보내 주세요.",
    "보내신 양식에 쓸 수 없는 문자(NUL)가 들어 있습니다. 고쳐서 다시 보내 주세요. 항목: "};

static const struct reply_text reply_en = {
    "en",
    "Safety check",
    "",
    ",",
    "Are you safe right now?",
    "I am safe",
    "I need help",
    "I am injured",
    "I need to be evacuated",
    "People with you (yourself included)",
    "Message (optional)",
    "Share my location",
    "Your location will be sent",
    "Could not get your location",
    "Send",
    "Your answer was received. Thank you.",
    "If anything changes, answer again on this page. The embassy is following up.",
    "Answer again",
    "This link can no longer be used",
    "The safety check has ended or the link is not valid. If you need help, call the embassy or "
    "the consular call centre (+82-2-3210-0404).",
    "This is a drill",
    "한국어",
    "ko",
    "Your answer could not be saved just now. Please send it again in a moment.",
    "What you sent is too long. Please shorten your message and send it again.",
    "Your message is too long. Please shorten it to 500 characters or fewer and send it again. "
    "What you wrote is kept below.",
    "The form you sent could not be read. Please choose your answer and send it again.",
    "The form you sent contains a character that is not allowed (NUL). Please correct it and "
    "send it again. Field: "};

/* Chooses the language: ?lang= first, then the phone's Accept-Language, else Korean. */
static const struct reply_text *
reply_language(struct http_ctx *ctx)
{
	char lang[8];
	const char *q = http_query(ctx, "lang", lang, sizeof lang);
	const char *accept;

	if (q != NULL)
		return strcmp(q, "en") == 0 ? &reply_en : &reply_ko;
	accept = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Accept-Language");
	if (accept != NULL) {
		const char *ko = strstr(accept, "ko"), *en = strstr(accept, "en");
		if (en != NULL && (ko == NULL || en < ko))
			return &reply_en;
	}
	return &reply_ko;
}

/* Starts a page. */
static void
reply_page_start(struct evbuffer *b, const struct reply_text *t)
{
	evbuffer_add_printf(
	    b,
	    "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	    "<meta name=\"robots\" content=\"noindex\"><title>%s</title>"
	    "<link rel=\"stylesheet\" href=\"/static/reply.css\"></head><body><main>",
	    t->lang, t->title);
}

/* Sends a page. */
static void
reply_page_send(struct http_ctx *ctx, int status, struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);
	char *html = xmalloc(len + 1);

	evbuffer_add(b, "</main></body></html>", 21);
	len = evbuffer_get_length(b);
	html = xrealloc(html, len + 1);
	evbuffer_remove(b, html, len);
	evbuffer_free(b);
	http_reply_bytes(ctx, status, "text/html; charset=utf-8", html, len);
	free(html);
}

/* The page for a link that leads nowhere: the same for every reason. */
static void
reply_gone(struct http_ctx *ctx, const struct reply_text *t)
{
	struct evbuffer *b = evbuffer_new();

	reply_page_start(b, t);
	evbuffer_add_printf(b, "<div class=\"gone\"><h1>%s</h1><p>%s</p></div>", t->gone,
	                    t->gone_more);
	reply_page_send(ctx, 404, b);
}

/*
 * The message box holds what the reply parser and the duress search read
 * whole (SF_REPLY_MAX_BYTES): the textarea's limit counts characters of at
 * most three bytes each (a character beyond the BMP counts two), so any
 * message a browser lets through fits; a longer one is sent back, never cut.
 */
#define REPLY_MESSAGE_BYTES SF_REPLY_MAX_BYTES
#define REPLY_MESSAGE_CHARS 500

struct reply_view {
	struct http_ctx *ctx;
	const struct reply_text *t;
	char token[32];
	int64_t crisis_id, national_id;
	char notice[400];
	/* A form shown again: its status code (0: 200) and what was chosen and written. */
	int code;
	char kept_status[24];
	char *kept_message;
};

/* Frees a view, wiping the message it may keep. */
static void
reply_view_free(struct reply_view *v)
{
	if (v->kept_message != NULL) {
		memset(v->kept_message, 0, strlen(v->kept_message));
		free(v->kept_message);
	}
	free(v);
}

/* " checked" for the choice a form shown again had. */
static const char *
reply_checked(const struct reply_view *v, const char *value)
{
	return strcmp(v->kept_status, value) == 0 ? " checked" : "";
}

/* The form. */
static void
reply_form(struct reply_view *v, const PGresult *res)
{
	const struct reply_text *t = v->t;
	/* Without the database (res NULL) the form still works, only without names. */
	const char *crisis = res != NULL ? PQgetvalue(res, 0, 0) : "";
	bool drill = res != NULL && strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	const char *given = res != NULL ? PQgetvalue(res, 0, t == &reply_ko ? 2 : 3) : "";
	struct evbuffer *b = evbuffer_new();
	unsigned char nonce[12];
	char form_id[25];

	/*
	 * Each form drawn gets an id of its own: the same form sent twice (a
	 * double tap, a retry on a bad connection, minutes apart) is one answer.
	 */
	/*
	 * The page is never stored (Cache-Control: no-store), so going back to it
	 * draws it again with a new id: only a true resend repeats one. Without
	 * randomness the field stays empty and a five-second window decides.
	 */
	if (sf_secret_random(nonce, sizeof nonce) != 0 ||
	    sf_secret_hex_encode(nonce, sizeof nonce, form_id, sizeof form_id) != 0)
		form_id[0] = '\0';

	reply_page_start(b, t);
	evbuffer_add_printf(b, "<a class=\"lang\" href=\"/r/%s?lang=%s\" hreflang=\"%s\">%s</a>",
	                    v->token, t->other_name, t->other_name, t->other);
	if (drill)
		evbuffer_add_printf(b, "<p class=\"drill\">%s</p>", t->drill);
	evbuffer_add(b, "<h1>", 4);
	html_escape(b, t->hello_before);
	html_escape(b, given);
	html_escape(b, t->hello_after);
	evbuffer_add_printf(b, " %s</h1><p class=\"crisis\">", t->question);
	html_escape(b, crisis);
	evbuffer_add(b, "</p>", 4);
	if (v->notice[0] != '\0') {
		evbuffer_add(b, "<p class=\"gone\" role=\"alert\">", 30);
		html_escape(b, v->notice);
		evbuffer_add(b, "</p>", 4);
	}
	evbuffer_add_printf(
	    b,
	    "<form method=\"post\" action=\"/r/%s\"><input type=\"hidden\" name=\"lang\" "
	    "value=\"%s\"><input type=\"hidden\" name=\"form\" value=\"%s\">"
	    "<fieldset><legend>%s</legend>"
	    "<label class=\"choice safe\"><input type=\"radio\" name=\"status\" value=\"safe\" "
	    "required%s>%s</label>"
	    "<label class=\"choice help\"><input type=\"radio\" name=\"status\" "
	    "value=\"needs_help\"%s>%s</label>"
	    "<label class=\"choice injured\"><input type=\"radio\" name=\"status\" "
	    "value=\"injured\"%s>%s</label>"
	    "<label class=\"choice evac\"><input type=\"radio\" name=\"status\" "
	    "value=\"needs_evacuation\"%s>%s</label>"
	    "</fieldset>"
	    "<label class=\"field\" for=\"people\">%s</label>"
	    "<input id=\"people\" name=\"people\" type=\"number\" min=\"1\" max=\"99\" "
	    "inputmode=\"numeric\">"
	    "<label class=\"field\" for=\"message\">%s</label>"
	    "<textarea id=\"message\" name=\"message\" maxlength=\"%d\">",
	    v->token, t->lang, form_id, t->question, reply_checked(v, "safe"), t->safe,
	    reply_checked(v, "needs_help"), t->help, reply_checked(v, "injured"), t->injured,
	    reply_checked(v, "needs_evacuation"), t->evac, t->people, t->message,
	    REPLY_MESSAGE_CHARS);
	if (v->kept_message != NULL) {
		/* A newline first, as a browser drops one right after the tag. */
		evbuffer_add(b, "\n", 1);
		html_escape(b, v->kept_message);
	}
	evbuffer_add_printf(
	    b,
	    "</textarea>"
	    "<input type=\"hidden\" id=\"lat\" name=\"lat\"><input type=\"hidden\" id=\"lon\" "
	    "name=\"lon\">"
	    "<input type=\"hidden\" id=\"acc\" name=\"acc\">"
	    "<button type=\"button\" class=\"loc\" id=\"share-location\" hidden data-done=\"%s\" "
	    "data-failed=\"%s\">%s</button>"
	    "<button type=\"submit\" class=\"send\">%s</button></form>"
	    "<script src=\"/static/reply.js\" defer></script>",
	    t->location_done, t->location_failed, t->location, t->send);
	reply_page_send(v->ctx, v->code != 0 ? v->code : 200, b);
}

/* The token's crisis and person were looked up. */
static void
reply_view_loaded(const struct db_result *r, void *arg)
{
	struct reply_view *v = arg;

	if (r->outcome != DB_OK) {
		reply_form(v, NULL); /* the token proved itself; the form needs no database */
	} else if (PQntuples(r->res) != 1) {
		reply_gone(v->ctx, v->t);
	} else {
		reply_form(v, r->res);
	}
	reply_view_free(v);
}

/* Looks up what a valid token names; false (page answered) when it names nothing. */
static struct reply_view *
reply_open(struct http_ctx *ctx)
{
	struct reply_view *v;
	const char *token = ctx->nparams > 0 ? ctx->params[0] : "";

	v = xcalloc(1, sizeof *v);
	v->ctx = ctx;
	v->t = reply_language(ctx);
	if (strlen(token) >= sizeof v->token ||
	    reply_link_open(ctx->d, token, &v->crisis_id, &v->national_id) != 0) {
		reply_gone(ctx, v->t);
		free(v);
		return NULL;
	}
	snprintf(v->token, sizeof v->token, "%s", token);
	return v;
}

static const char reply_lookup_sql[] =
    "SELECT c.title, c.drill, "
    " coalesce(nullif(substr(n.name_ko, 2), ''), n.name_ko, split_part(n.name_latin, ' ', 2)), "
    " coalesce(nullif(split_part(n.name_latin, ' ', 2), ''), n.name_latin, n.name_ko) "
    "FROM crisis c, national n WHERE c.id = $1::bigint AND n.id = $2::bigint "
    "AND c.state = 'active' AND n.deleted_at IS NULL";

/* Draws the form of an opened link (and frees v). */
static void
reply_show(struct reply_view *v)
{
	struct http_ctx *ctx = v->ctx;
	char crisis[24], national[24];
	const char *params[2];
	const char *cause;

	snprintf(crisis, sizeof crisis, "%lld", (long long)v->crisis_id);
	snprintf(national, sizeof national, "%lld", (long long)v->national_id);
	params[0] = crisis;
	params[1] = national;
	if (db_pool_query(ctx->d->db, reply_lookup_sql, 2, params, reply_view_loaded, v, &cause) !=
	    0) {
		reply_form(v, NULL);
		reply_view_free(v);
	}
}

/* GET /r/{token} */
void
routes_reply_page(struct http_ctx *ctx)
{
	struct reply_view *v = reply_open(ctx);

	if (v != NULL)
		reply_show(v);
}

/*
 * Shows the form again with a notice (and what was chosen and written, so
 * nothing typed is lost), and frees v.
 */
static void
reply_again(struct reply_view *v, int code, const char *notice, const char *field,
            const char *status, const char *message)
{
	v->code = code;
	snprintf(v->notice, sizeof v->notice, "%s%s", notice, field != NULL ? field : "");
	if (status != NULL)
		snprintf(v->kept_status, sizeof v->kept_status, "%s", status);
	if (message != NULL && *message != '\0')
		v->kept_message = xstrdup(message);
	reply_show(v);
}

struct reply_post {
	struct reply_view *v;
	struct reply_input in;
	char status[24], message[REPLY_MESSAGE_BYTES + 1], ref[96], people[8];
};

/* The answer is stored: confirm (a duress answer gets exactly the same page). */
static void
reply_post_done(enum reply_outcome outcome, bool duress, void *arg)
{
	struct reply_post *p = arg;
	struct reply_view *v = p->v;
	const struct reply_text *t = v->t;
	struct evbuffer *b = evbuffer_new();

	(void)duress;
	reply_page_start(b, t);
	if (outcome == REPLY_REFUSED) {
		/* The crisis closed or the person is gone: the same page as any wrong link. */
		evbuffer_free(b);
		reply_gone(v->ctx, t);
	} else if (outcome == REPLY_FAILED) {
		evbuffer_add_printf(b,
		                    "<div class=\"gone\" role=\"alert\"><p>%s</p></div>"
		                    "<p><a href=\"/r/%s?lang=%s\">%s</a></p>",
		                    t->busy, v->token, t->lang, t->again);
		reply_page_send(v->ctx, 503, b);
	} else {
		evbuffer_add_printf(b,
		                    "<div class=\"ok\" role=\"status\"><h1>%s</h1><p>%s</p></div>"
		                    "<p><a href=\"/r/%s?lang=%s\">%s</a></p>",
		                    t->thanks, t->thanks_more, v->token, t->lang, t->again);
		reply_page_send(v->ctx, 200, b);
	}
	memset(p->message, 0, sizeof p->message);
	free(p);
	free(v);
}

/* Ranks the statuses a reply page offers, most urgent highest. */
static int
reply_urgency(enum sf_status s)
{
	switch (s) {
	case SF_STATUS_INJURED:
		return 4;
	case SF_STATUS_NEEDS_HELP:
		return 3;
	case SF_STATUS_NEEDS_EVACUATION:
		return 2;
	default:
		return 1;
	}
}

/*
 * Reads the message box as an SMS is read: a message more urgent than the
 * choice made ("safe" with "my husband is bleeding") takes its kind, and
 * staff read it; a message that is a guess, or one nobody can read beside a
 * "safe" that counts others, is stored for review, which keeps it from
 * answering for the household.
 */
static void
reply_read_message(struct reply_post *p)
{
	struct sf_reply r;
	enum sf_status s;

	if (p->message[0] == '\0' || sf_reply_parse(p->message, strlen(p->message), &r) != 0)
		return;
	s = sf_reply_kind_status(r.kind);
	if (r.kind != SF_REPLY_UNCLASSIFIED && r.kind != SF_REPLY_SAFE &&
	    reply_urgency(s) > reply_urgency(p->in.status)) {
		p->in.status = s;
		p->in.review = true;
	} else if (r.review || r.negated_safe) {
		p->in.review = true;
	} else if (r.kind == SF_REPLY_UNCLASSIFIED && p->in.status == SF_STATUS_SAFE &&
	           p->in.headcount >= 2) {
		p->in.review = true;
	}
}

/* The raw (still encoded) value of a form field, up to the next '&', or NULL. */
static const char *
reply_raw_value(const char *body, const char *name)
{
	size_t n = strlen(name);
	const char *pair = body;

	while (pair != NULL && *pair != '\0') {
		if (strncmp(pair, name, n) == 0 && pair[n] == '=')
			return pair + n + 1;
		pair = strchr(pair, '&');
		if (pair != NULL)
			pair++;
	}
	return NULL;
}

/*
 * The field of the first value holding an encoded NUL ("%00"), named for
 * the notice (its label, else its name, written into other), or NULL when
 * there is none.
 */
static const char *
reply_nul_field(const char *body, const struct reply_text *t, char other[32])
{
	if (!http_form_nul_field(body, other, 32))
		return NULL;
	if (strcmp(other, "message") == 0)
		return t->message;
	if (strcmp(other, "people") == 0)
		return t->people;
	if (other[0] == '\0')
		snprintf(other, 32, "?");
	return other;
}

/* POST /r/{token} status=&people=&message=&lat=&lon=&lang= */
void
routes_reply_post(struct http_ctx *ctx)
{
	struct reply_view *v;
	struct reply_post *p;
	struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
	struct evkeyvalq form;
	size_t len = evbuffer_get_length(in);
	char *body, hash[65];
	const char *status, *people, *message, *lat, *lon, *lang;

	v = reply_open(ctx);
	if (v == NULL)
		return;
	body = xmalloc(len + 1);
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	TAILQ_INIT(&form);
	if (len > 8192) {
		/* Said plainly: the link is fine, the form was too big to read. */
		struct evbuffer *b = evbuffer_new();

		free(body);
		reply_page_start(b, v->t);
		evbuffer_add_printf(b,
		                    "<div class=\"gone\" role=\"alert\"><p>%s</p></div>"
		                    "<p><a href=\"/r/%s?lang=%s\">%s</a></p>",
		                    v->t->too_long, v->token, v->t->lang, v->t->again);
		reply_page_send(ctx, 413, b);
		reply_view_free(v);
		return;
	}
	lang = reply_raw_value(body, "lang");
	if (lang != NULL)
		v->t =
		    strncmp(lang, "en&", 3) == 0 || strcmp(lang, "en") == 0 ? &reply_en : &reply_ko;
	if (memchr(body, '\0', len) != NULL || evhttp_parse_query_str(body, &form) != 0) {
		/* The link is fine: only the form could not be read, so it is asked again. */
		free(body);
		evhttp_clear_headers(&form);
		reply_again(v, 400, v->t->unreadable, NULL, NULL, NULL);
		return;
	}
	status = evhttp_find_header(&form, "status");
	people = evhttp_find_header(&form, "people");
	message = evhttp_find_header(&form, "message");
	lat = evhttp_find_header(&form, "lat");
	lon = evhttp_find_header(&form, "lon");
	{
		/* A decoded NUL would cut the value short without a word. */
		char other[32];
		const char *nul = reply_nul_field(body, v->t, other);

		if (nul != NULL) {
			reply_again(v, 400, v->t->nul_in, nul, status, NULL);
			free(body);
			evhttp_clear_headers(&form);
			return;
		}
	}
	free(body);
	if (message != NULL && strlen(message) > REPLY_MESSAGE_BYTES) {
		/* Read and stored whole or not at all: the person shortens it. */
		reply_again(v, 400, v->t->message_too_long, NULL, status, message);
		evhttp_clear_headers(&form);
		return;
	}
	p = xcalloc(1, sizeof *p);
	p->v = v;
	if (status == NULL || sf_status_parse(status, strlen(status), &p->in.status) != 0 ||
	    (p->in.status != SF_STATUS_SAFE && p->in.status != SF_STATUS_NEEDS_HELP &&
	     p->in.status != SF_STATUS_INJURED && p->in.status != SF_STATUS_NEEDS_EVACUATION)) {
		/* No choice made: show the form again rather than store a guess. */
		free(p);
		reply_again(v, 0, "", NULL, NULL, message);
		evhttp_clear_headers(&form);
		return;
	}
	snprintf(p->status, sizeof p->status, "%s", status);
	snprintf(p->message, sizeof p->message, "%s", message != NULL ? message : "");
	if (people != NULL && atoi(people) >= 1 && atoi(people) <= 99)
		p->in.headcount = atoi(people);
	reply_read_message(p);
	if (lat != NULL && lon != NULL && *lat != '\0' && *lon != '\0') {
		double la = atof(lat), lo = atof(lon);
		if (la >= -90 && la <= 90 && lo >= -180 && lo <= 180 && !(la == 0 && lo == 0)) {
			p->in.has_point = true;
			p->in.lat = la;
			p->in.lon = lo;
		}
	}
	/*
	 * The same form sent twice (a double tap, a retry on a bad connection) is
	 * one answer: its key covers the token, the form's own id and the answer.
	 * A form without a valid id (a page from before ids) falls back to a
	 * five-second window.
	 */
	{
		char material[REPLY_MESSAGE_BYTES + 256];
		unsigned char md[32];
		unsigned int mdlen = 0;
		const char *form_id = evhttp_find_header(&form, "form");
		bool has_id = form_id != NULL && strlen(form_id) == 24 &&
		              strspn(form_id, "0123456789abcdef") == 24;
		snprintf(material, sizeof material, "%s|%s|%d|%s|%.5f|%.5f|%s%lld", v->token,
		         p->status, p->in.headcount, p->message, p->in.lat, p->in.lon,
		         has_id ? form_id : "t", has_id ? 0LL : (long long)(time(NULL) / 5));
		EVP_Digest(material, strlen(material), md, &mdlen, EVP_sha256(), NULL);
		sf_secret_hex_encode(md, 16, hash, sizeof hash);
		memset(material, 0, sizeof material);
	}
	snprintf(p->ref, sizeof p->ref, "web:%s", hash);
	p->in.crisis_id = v->crisis_id;
	p->in.national_id = v->national_id;
	p->in.channel = "web";
	p->in.raw_text = p->message[0] != '\0' ? p->message : NULL;
	p->in.words = p->message;
	p->in.provider_ref = p->ref;
	evhttp_clear_headers(&form);
	/*
	 * No lookup first: the token proved itself, and the commit itself checks
	 * that the crisis is open and the person registered (REPLY_REFUSED when
	 * not), so an answer costs a share of one statement, not a round trip.
	 */
	p->in.require_active = true;
	replies_submit(ctx->d, &p->in, reply_post_done, p);
}
