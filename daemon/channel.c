/*
 * The channel drivers. Each builds its gateway's request, sends it through
 * the shared asynchronous HTTP/SMTP client, and maps the answer onto sent,
 * transient or permanent, the three outcomes the dispatcher acts on.
 */
#include "channel.h"

#include "daemon.h"
#include "http_client.h"
#include "log.h"
#include "xmalloc.h"

#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <safety/secret.h>
#if __has_include(<safety/sms.h>)
#include <safety/sms.h>
#define CHANNEL_HAVE_SMS 1
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct channel_send {
	struct daemon *d;
	long long outbox_id;
	const char *driver;
	int parts;
	channel_done_cb cb;
	void *arg;
};

/* The driver of a channel. */
const char *
channel_driver_name(const struct daemon *d, const char *channel)
{
	return strcmp(channel, "email") == 0 ? d->cfg.email_driver : d->cfg.sms_driver;
}

/* Parts of an SMS. */
int
channel_sms_parts(const char *text)
{
#ifdef CHANNEL_HAVE_SMS
	struct sf_sms_info info;

	if (sf_sms_analyze(text, &info) != 0)
		return 1;
	return (int)info.parts;
#else
	(void)text;
	return 1;
#endif
}

/* True when the text fits the GSM 7-bit alphabet: sent so, a part holds 160 characters, not 70. */
static bool
channel_sms_gsm7(const char *text)
{
#ifdef CHANNEL_HAVE_SMS
	struct sf_sms_info info;

	return sf_sms_analyze(text, &info) == 0 && info.encoding == SF_SMS_GSM7;
#else
	(void)text;
	return false;
#endif
}

/* Escapes a value for a URL query or a form body. */
static char *
channel_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *out = xstrdup(e != NULL ? e : "");

	curl_free(e);
	return out;
}

/*
 * Classifies an HTTP gateway's answer. Only a refusal of this message's
 * recipient fails it for good; the drivers decide which 4xx those are. No
 * answer, an answer refusing the login or the URL, or the gateway failing
 * (5xx, 408, 429) is the route's fault: the message waits for it.
 */
static enum channel_outcome
channel_http_outcome(const struct http_client_result *r)
{
	/*
	 * A timeout after the request went out may come after the gateway took
	 * the message: it is retried as an attempt (a delivery report for it
	 * still counts), not forever. One before it (the connection never made:
	 * a dead host, a firewall dropping it, a TLS handshake that never ends)
	 * reached nobody, like a refused connection.
	 */
	if (r->curl_code == CURLE_OPERATION_TIMEDOUT)
		return r->request_sent ? CHANNEL_TRANSIENT : CHANNEL_ROUTE;
	if (r->curl_code != CURLE_OK)
		return CHANNEL_ROUTE;
	if (r->status >= 200 && r->status < 300)
		return CHANNEL_SENT;
	if (r->status == 401 || r->status == 403 || r->status == 404 || r->status == 405 ||
	    r->status == 407 || r->status == 408 || r->status == 429 || r->status >= 500)
		return CHANNEL_ROUTE;
	return CHANNEL_PERMANENT;
}

/* Kannel answered the sendsms request. */
static void
channel_kannel_done(const struct http_client_result *r, void *arg)
{
	struct channel_send *cs = arg;
	enum channel_outcome o = channel_http_outcome(r);
	char err[160];

	/* 202 "0: Accepted for delivery" or "3: Queued for later delivery". */
	snprintf(err, sizeof err, "%s", r->curl_code != CURLE_OK ? r->error : r->body);
	if (o == CHANNEL_SENT && strncmp(r->body, "0:", 2) != 0 && strncmp(r->body, "3:", 2) != 0)
		o = CHANNEL_TRANSIENT;
	/* Kannel answers 403 both to a wrong password and to a number its lists deny. */
	if (r->curl_code == CURLE_OK && r->status == 403 && r->body != NULL &&
	    (strstr(r->body, "white") != NULL || strstr(r->body, "black") != NULL))
		o = CHANNEL_PERMANENT;
	cs->cb(cs->outbox_id, o, NULL, o == CHANNEL_SENT ? NULL : err, cs->parts, cs->arg);
	free(cs);
}

/* Sends through Kannel's smsbox. */
static int
channel_kannel_send(struct daemon *d, const struct channel_message *m, struct channel_send *cs)
{
	char *to = channel_escape(m->recipient), *text = channel_escape(m->text);
	char *user = channel_escape(d->cfg.kannel_user),
	     *pass = channel_escape(d->cfg.kannel_password);
	char *from = channel_escape(d->cfg.kannel_from);
	char *dlr, *dlr_e, *url, *secret = channel_escape(d->cfg.hook_secret);
	struct http_client_request req;
	int rc;

	/*
	 * Kannel fills %d (status) and %A (SMSC answer) when it calls back. The
	 * secret is escaped inside the dlr-url, which is escaped again as a whole:
	 * Kannel undoes one, safetyd's query parser the other, so a secret with
	 * + / = & or % arrives as it was set. The attempt tells a failure of an
	 * earlier send (one that timed out) from one of the send that counts.
	 */
	xasprintf(&dlr,
	          "%s/hooks/sms/kannel/dlr?secret=%s&id=%lld&attempt=%d&status=%%d&answer=%%A",
	          d->cfg.public_url, secret, m->outbox_id, m->attempt);
	dlr_e = channel_escape(dlr);
	/*
	 * The coding the parts were counted for: UCS-2 (2) only when a character
	 * needs it, or an English message costs twice its parts. charset says
	 * the text is UTF-8 either way, and Kannel converts it.
	 */
	xasprintf(&url,
	          "%s?username=%s&password=%s&to=%s&text=%s&coding=%d&charset=UTF-8&dlr-mask=31&"
	          "dlr-url=%s%s%s",
	          d->cfg.kannel_url, user, pass, to, text, channel_sms_gsm7(m->text) ? 0 : 2, dlr_e,
	          *d->cfg.kannel_from ? "&from=" : "", *d->cfg.kannel_from ? from : "");
	memset(&req, 0, sizeof req);
	req.url = url;
	req.timeout_ms = d->cfg.send_timeout_ms;
	rc = http_client_request(d->http_client, &req, channel_kannel_done, cs);
	memset(url, 0, strlen(url));
	free(url);
	free(dlr);
	free(dlr_e);
	memset(secret, 0, strlen(secret));
	free(secret);
	free(to);
	free(text);
	free(user);
	free(pass);
	free(from);
	return rc;
}

/* True for Twilio error codes that refuse the recipient, not the request. */
static bool
channel_twilio_recipient_code(int code)
{
	static const int codes[] = {21211, 21214, 21217, 21401, 21407, 21408, 21421,
	                            21610, 21612, 21614, 30003, 30005, 30006};

	for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
		if (codes[i] == code)
			return true;
	return false;
}

/* The Twilio-compatible API answered. */
static void
channel_twilio_done(const struct http_client_result *r, void *arg)
{
	struct channel_send *cs = arg;
	enum channel_outcome o = channel_http_outcome(r);
	cJSON *json = r->body_len > 0 ? cJSON_ParseWithLength(r->body, r->body_len) : NULL;
	cJSON *sid = cJSON_GetObjectItemCaseSensitive(json, "sid");
	cJSON *code = cJSON_GetObjectItemCaseSensitive(json, "code");
	cJSON *msg = cJSON_GetObjectItemCaseSensitive(json, "message");
	char err[200];

	if (r->curl_code != CURLE_OK)
		snprintf(err, sizeof err, "%s", r->error);
	else
		snprintf(err, sizeof err, "HTTP %ld%s%d %s", r->status,
		         cJSON_IsNumber(code) ? " code " : "",
		         cJSON_IsNumber(code) ? code->valueint : 0,
		         cJSON_IsString(msg) ? msg->valuestring : "");
	if (o == CHANNEL_SENT && !cJSON_IsString(sid))
		o = CHANNEL_TRANSIENT;
	/*
	 * A 4xx is this message's recipient only with one of Twilio's recipient
	 * codes (invalid, unreachable, landline, opted out, region not allowed);
	 * any other (a bad From, a suspended account) stops every message alike.
	 */
	if (o == CHANNEL_PERMANENT &&
	    !channel_twilio_recipient_code(cJSON_IsNumber(code) ? code->valueint : 0))
		o = CHANNEL_ROUTE;
	cs->cb(cs->outbox_id, o, cJSON_IsString(sid) ? sid->valuestring : NULL,
	       o == CHANNEL_SENT ? NULL : err, cs->parts, cs->arg);
	cJSON_Delete(json);
	free(cs);
}

/* Sends through a Twilio-compatible Messages resource. */
static int
channel_twilio_send(struct daemon *d, const struct channel_message *m, struct channel_send *cs)
{
	char *to = channel_escape(m->recipient), *body_e = channel_escape(m->text);
	char *from = channel_escape(d->cfg.twilio_from), *cb_url, *cb_e, *url, *form, *userpwd;
	struct http_client_request req;
	int rc;

	/*
	 * The message's id in the callback's URL (signed with the rest): a send
	 * that timed out never learnt its sid, and its report must still settle
	 * the retry.
	 */
	xasprintf(&cb_url, "%s/hooks/sms/twilio/status?outbox=%lld", d->cfg.public_url,
	          m->outbox_id);
	cb_e = channel_escape(cb_url);
	xasprintf(&url, "%s/2010-04-01/Accounts/%s/Messages.json", d->cfg.twilio_url,
	          d->cfg.twilio_account_sid);
	xasprintf(&form, "To=%s&From=%s&Body=%s&StatusCallback=%s", to, from, body_e, cb_e);
	xasprintf(&userpwd, "%s:%s", d->cfg.twilio_account_sid, d->cfg.twilio_auth_token);
	memset(&req, 0, sizeof req);
	req.url = url;
	req.body = form;
	req.body_len = strlen(form);
	req.content_type = "application/x-www-form-urlencoded";
	req.userpwd = userpwd;
	req.timeout_ms = d->cfg.send_timeout_ms;
	rc = http_client_request(d->http_client, &req, channel_twilio_done, cs);
	memset(form, 0, strlen(form));
	memset(userpwd, 0, strlen(userpwd));
	free(userpwd);
	free(form);
	free(url);
	free(cb_url);
	free(cb_e);
	free(to);
	free(from);
	free(body_e);
	return rc;
}

/* Whether s holds word (lower case) in any case. */
static bool
channel_mentions(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = s; p != NULL && *p != '\0'; p++) {
		size_t i = 0;
		while (i < n && p[i] != '\0' && (p[i] | 0x20) == word[i])
			i++;
		if (i == n)
			return true;
	}
	return false;
}

/*
 * Whether an SMTP refusal at RCPT is about the route, not the recipient: the
 * server declining to relay for us ("Relaying denied", "Unable to relay")
 * or refusing our sender (X.1.7, X.1.8, "Sender address rejected", which
 * Postfix reports at RCPT), whoever the recipient. Another enhanced code
 * about an address (X.1.Y: Postfix's "5.1.1 User unknown in relay
 * recipient table") is the recipient's.
 */
static bool
channel_smtp_route_refusal(const char *reply)
{
	if (reply == NULL)
		return false;
	if (channel_mentions(reply, "sender"))
		return true;
	for (const char *p = reply; *p != '\0'; p++)
		if ((p[0] == '4' || p[0] == '5') && p[1] == '.' && p[2] == '1' && p[3] == '.' &&
		    (p == reply || p[-1] == ' ' || p[-1] == '-'))
			return (p[4] == '7' || p[4] == '8') && (p[5] < '0' || p[5] > '9');
	return channel_mentions(reply, "relay");
}

/*
 * Classifies an SMTP failure. Only the recipient refused at RCPT (550-553:
 * no such mailbox, mailbox full or not allowed) fails the message for good.
 * A refused login (530, 534, 535, 538), a refused sender or relay (at MAIL
 * FROM, 554 at RCPT, or a 550 about relaying or our sender: see
 * channel_smtp_route_refusal), no connection or TLS, and 4xx are the
 * route's fault.
 */
static enum channel_outcome
channel_smtp_outcome(const struct http_client_result *r)
{
	if (r->curl_code == CURLE_OK)
		return CHANNEL_SENT;
	if (r->curl_code == CURLE_LOGIN_DENIED || r->status == 530 || r->status == 534 ||
	    r->status == 535 || r->status == 538)
		return CHANNEL_ROUTE;
	if (r->status >= 550 && r->status <= 553 && r->error != NULL &&
	    strstr(r->error, "RCPT") != NULL && !channel_smtp_route_refusal(r->smtp_refusal))
		return CHANNEL_PERMANENT;
	return CHANNEL_ROUTE;
}

/* The SMTP server answered. */
static void
channel_smtp_done(const struct http_client_result *r, void *arg)
{
	struct channel_send *cs = arg;
	enum channel_outcome o = channel_smtp_outcome(r);
	char err[480];

	if (r->smtp_refusal != NULL)
		snprintf(err, sizeof err, "SMTP %ld %s (%s)", r->status, r->error, r->smtp_refusal);
	else
		snprintf(err, sizeof err, "SMTP %ld %s", r->status, r->error);
	cs->cb(cs->outbox_id, o, NULL, o == CHANNEL_SENT ? NULL : err, 1, cs->arg);
	free(cs);
}

/* Encodes a header value as an RFC 2047 encoded word (UTF-8, base64). */
static char *
channel_mime_word(const char *s)
{
	size_t n = strlen(s), cap = ((n + 2) / 3) * 4 + 4;
	char *b64 = xmalloc(cap), *out;

	if (sf_secret_b64_encode(s, n, b64, cap) != 0)
		b64[0] = '\0';
	/* RFC 2047 wants padded base64. */
	while (strlen(b64) % 4 != 0)
		strcat(b64, "=");
	xasprintf(&out, "=?UTF-8?B?%s?=", b64);
	free(b64);
	return out;
}

/*
 * Encodes a body quoted-printable (RFC 2045) with CRLF line ends: SMTP
 * refuses or breaks lines past 998 octets, and a bare LF is not a line end
 * to it. Each LF of the text (CRLF too) becomes a line end; longer lines are
 * broken softly at 76 characters; a line's leading '.' and trailing space
 * are encoded so no server alters them.
 */
static char *
channel_qp_encode(const char *s)
{
	size_t cap = strlen(s) * 4 + 16, off = 0, col = 0;
	char *out = xmalloc(cap);

	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		char enc[4];
		size_t n;
		bool line_end = p[1] == '\0' || p[1] == '\n' || (p[1] == '\r' && p[2] == '\n');

		if (*p == '\r' && p[1] == '\n')
			continue;
		if (*p == '\n') {
			memcpy(out + off, "\r\n", 2);
			off += 2;
			col = 0;
			continue;
		}
		if ((*p >= 33 && *p <= 126 && *p != '=' && !(*p == '.' && col == 0)) ||
		    ((*p == ' ' || *p == '\t') && !line_end)) {
			enc[0] = (char)*p;
			n = 1;
		} else {
			snprintf(enc, sizeof enc, "=%02X", *p);
			n = 3;
		}
		/* A soft break ("=" and CRLF) keeps every line within 76 characters. */
		if (col + n > 75) {
			memcpy(out + off, "=\r\n", 3);
			off += 3;
			col = 0;
			if (*p == '.' && n == 1) {
				snprintf(enc, sizeof enc, "=%02X", *p);
				n = 3;
			}
		}
		memcpy(out + off, enc, n);
		off += n;
		col += n;
	}
	out[off] = '\0';
	return out;
}

/* Escapes text for HTML. */
static char *
channel_html_escape(const char *s)
{
	size_t cap = strlen(s) * 6 + 1, off = 0;
	char *out = xmalloc(cap);

	for (; *s != '\0'; s++) {
		const char *rep = NULL;
		switch (*s) {
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '&':
			rep = "&amp;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		case '\n':
			rep = "<br>\n";
			break;
		}
		if (rep != NULL) {
			memcpy(out + off, rep, strlen(rep));
			off += strlen(rep);
		} else {
			out[off++] = *s;
		}
	}
	out[off] = '\0';
	return out;
}

/* Sends an e-mail (plain text and HTML) over SMTP, with STARTTLS when offered or required. */
static int
channel_smtp_send(struct daemon *d, const struct channel_message *m, struct channel_send *cs)
{
	struct http_client_request req;
	char *subject = channel_mime_word(m->subject), *html = channel_html_escape(m->text);
	char *msg, *rcpt[2], *from, *userpwd = NULL, date[64], boundary[40], msgid[96];
	char *html_doc, *text_qp, *html_qp;
	unsigned char rnd[12];
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	sf_secret_random(rnd, sizeof rnd);
	sf_secret_hex_encode(rnd, sizeof rnd, boundary, sizeof boundary);
	snprintf(msgid, sizeof msgid, "<%lld.%s@safety>", m->outbox_id, boundary);
	xasprintf(&html_doc, "<!doctype html><html lang=\"%s\"><body><p>%s</p></body></html>",
	          m->language, html);
	text_qp = channel_qp_encode(m->text);
	html_qp = channel_qp_encode(html_doc);
	xasprintf(
	    &msg,
	    "Date: %s\r\nFrom: %s\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\n"
	    "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n"
	    "--%s\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n\r\n%s\r\n\r\n"
	    "--%s\r\nContent-Type: text/html; charset=UTF-8\r\nContent-Transfer-Encoding: "
	    "quoted-printable\r\n\r\n%s\r\n\r\n--%s--\r\n",
	    date, d->cfg.smtp_from, m->recipient, subject, msgid, boundary, boundary, text_qp,
	    boundary, html_qp, boundary);
	memset(text_qp, 0, strlen(text_qp));
	memset(html_qp, 0, strlen(html_qp));
	memset(html_doc, 0, strlen(html_doc));
	free(text_qp);
	free(html_qp);
	free(html_doc);
	xasprintf(&rcpt[0], "<%s>", m->recipient);
	rcpt[1] = NULL;
	xasprintf(&from, "<%s>", d->cfg.smtp_from);
	if (*d->cfg.smtp_user != '\0')
		xasprintf(&userpwd, "%s:%s", d->cfg.smtp_user, d->cfg.smtp_password);
	memset(&req, 0, sizeof req);
	req.url = d->cfg.smtp_url;
	req.mail_from = from;
	req.mail_rcpt = (const char *const *)rcpt;
	req.body = msg;
	req.body_len = strlen(msg);
	req.userpwd = userpwd;
	req.timeout_ms = d->cfg.send_timeout_ms;
	req.use_ssl = strcmp(d->cfg.smtp_starttls, "require") == 0 ? (int)CURLUSESSL_ALL
	              : strcmp(d->cfg.smtp_starttls, "no") == 0    ? (int)CURLUSESSL_NONE
	                                                           : (int)CURLUSESSL_TRY;
	rc = http_client_request(d->http_client, &req, channel_smtp_done, cs);
	memset(msg, 0, strlen(msg));
	free(msg);
	free(rcpt[0]);
	free(from);
	free(userpwd);
	free(subject);
	free(html);
	return rc;
}

/* Completes a log "send" on the next loop turn. */
static void
channel_log_later(evutil_socket_t fd, short what, void *arg)
{
	struct channel_send *cs = arg;
	char pid[32];

	(void)fd;
	(void)what;
	snprintf(pid, sizeof pid, "log-%lld", cs->outbox_id);
	cs->cb(cs->outbox_id, CHANNEL_SENT, pid, NULL, cs->parts, cs->arg);
	free(cs);
}

#include <fcntl.h>  /* open, for the log driver's file */
#include <unistd.h> /* close */

/*
 * The log driver records what would be sent in a file of the state
 * directory (never the process log: messages hold names and reply links).
 * The file holds phone numbers and reply links: it is created mode 600.
 */
static int
channel_log_send(struct daemon *d, const struct channel_message *m, struct channel_send *cs)
{
	char *path;
	FILE *f = NULL;
	int fd;
	cJSON *line = cJSON_CreateObject();
	char *text;

	xasprintf(&path, "%s/outbox-log.jsonl", d->cfg.state_dir);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd >= 0 && (f = fdopen(fd, "a")) == NULL)
		close(fd);
	if (f == NULL) {
		cJSON_Delete(line);
		return -1;
	}
	cJSON_AddNumberToObject(line, "outbox_id", (double)m->outbox_id);
	cJSON_AddStringToObject(line, "channel", m->channel);
	cJSON_AddStringToObject(line, "to", m->recipient);
	cJSON_AddStringToObject(line, "text", m->text);
	text = cJSON_PrintUnformatted(line);
	fprintf(f, "%s\n", text);
	fclose(f);
	free(text);
	cJSON_Delete(line);
	event_base_once(d->base, -1, EV_TIMEOUT, channel_log_later, cs, NULL);
	return 0;
}

/* Sends with the configured driver. */
int
channel_send(struct daemon *d, const struct channel_message *msg, channel_done_cb cb, void *arg)
{
	struct channel_send *cs = xcalloc(1, sizeof *cs);
	const char *driver = channel_driver_name(d, msg->channel);
	int rc;

	cs->d = d;
	cs->outbox_id = msg->outbox_id;
	cs->driver = driver;
	cs->cb = cb;
	cs->arg = arg;
	cs->parts = strcmp(msg->channel, "sms") == 0 ? channel_sms_parts(msg->text) : 1;
	if (strcmp(driver, "kannel") == 0)
		rc = channel_kannel_send(d, msg, cs);
	else if (strcmp(driver, "twilio") == 0)
		rc = channel_twilio_send(d, msg, cs);
	else if (strcmp(driver, "smtp") == 0)
		rc = channel_smtp_send(d, msg, cs);
	else
		rc = channel_log_send(d, msg, cs);
	if (rc != 0)
		free(cs);
	return rc;
}
