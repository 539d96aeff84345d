/*
 * The Twilio stand-in of the dispatch benchmark, in C: the Messages
 * resource and its status callbacks, as tests/gateways/twilio_stub.py
 * serves them (which stays the stand-in of the tests: failure rules, GET,
 * inbound messages). Python spends about 150 us of CPU per message with its
 * two callbacks, more than safetyd and PostgreSQL together, so on two shared
 * cores the stand-in, not the dispatcher, set the pace.
 *
 *   twilio_bench_server --port P --account-sid AC... --auth-token-file F
 *                       --log FILE [--callback-delay-ms N]
 *
 * POST /2010-04-01/Accounts/{AccountSid}/Messages.json with HTTP basic auth
 * and a form (To, From or MessagingServiceSid, Body, StatusCallback): 201
 * and the Message resource, or Twilio's error JSON (20003, 21604, 21211,
 * 21603, 21602, 21617, 21609, 21266). Each message is appended to the log
 * as one JSON line. Then the callbacks, "sent" and, once that one is
 * answered, "delivered", each a form POST signed with X-Twilio-Signature
 * (base64 HMAC-SHA1 of the URL and the sorted parameters, under the auth
 * token), over kept-alive connections.
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <regex.h>
#include <sys/queue.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API "2010-04-01"
#define CALLBACK_CONNECTIONS 32

static struct event_base *base;
static char account_sid[64], auth_token[128], expected_auth[600], path_prefix[128];
static FILE *log_file;
static regex_t e164_re;
static long callback_delay_ms;
/* Kept-alive connections to the one callback host (safetyd), used in turn. */
static struct evhttp_connection *cb_conns[CALLBACK_CONNECTIONS];
static char cb_host[256];
static int cb_port, cb_next;

struct callback {
	char url[512], path[512];
	char sid[40], to[32], from[32], status[16];
};

static void
die(const char *msg)
{
	fprintf(stderr, "twilio_bench_server: %s\n", msg);
	exit(1);
}

/* Appends s as a JSON string. */
static void
json_string(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(out, "\\%c", *p);
		else if (*p < 0x20)
			evbuffer_add_printf(out, "\\u%04x", *p);
		else
			evbuffer_add(out, p, 1);
	}
	evbuffer_add(out, "\"", 1);
}

static void
reply_error(struct evhttp_request *req, int http_status, int code, const char *message)
{
	struct evbuffer *out = evbuffer_new();

	evbuffer_add_printf(out, "{\"code\": %d, \"message\": ", code);
	json_string(out, message);
	evbuffer_add_printf(out,
	                    ", \"more_info\": \"https://www.twilio.com/docs/errors/%d\", "
	                    "\"status\": %d}",
	                    code, http_status);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	                  "application/json");
	evhttp_send_reply(req, http_status, "Error", out);
	evbuffer_free(out);
}

/* Characters (code points) of UTF-8 text. */
static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

/* SMS parts: GSM-7 when the text is plain ASCII (an approximation), else UCS-2. */
static int
segments(const char *body)
{
	size_t n = utf8_chars(body);
	bool ascii = true;

	for (const unsigned char *p = (const unsigned char *)body; *p != '\0'; p++)
		if (*p >= 0x80)
			ascii = false;
	if (ascii)
		return n <= 160 ? 1 : (int)((n + 152) / 153);
	return n <= 70 ? 1 : (int)((n + 66) / 67);
}

static void
rfc2822(char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, size, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

static void send_callback(struct callback *cb);

static void
callback_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_callback(arg);
}

static void
schedule_callback(struct callback *cb)
{
	struct timeval tv = {callback_delay_ms / 1000, (callback_delay_ms % 1000) * 1000};

	event_base_once(base, -1, EV_TIMEOUT, callback_timer, cb, &tv);
}

/* The callback was answered: after "sent" comes "delivered". */
static void
callback_done(struct evhttp_request *req, void *arg)
{
	struct callback *cb = arg;

	if (req == NULL || evhttp_request_get_response_code(req) >= 300)
		fprintf(stderr, "twilio_bench_server: callback %s %s failed\n", cb->sid,
		        cb->status);
	if (strcmp(cb->status, "sent") == 0) {
		strcpy(cb->status, "delivered");
		schedule_callback(cb);
		return;
	}
	free(cb);
}

/* POSTs the status to the message's StatusCallback, signed as Twilio signs. */
static void
send_callback(struct callback *cb)
{
	const char *kv[][2] = {{"AccountSid", account_sid},
	                       {"ApiVersion", API},
	                       {"From", cb->from},
	                       {"MessageSid", cb->sid},
	                       {"MessageStatus", cb->status},
	                       {"SmsSid", cb->sid},
	                       {"SmsStatus", cb->status},
	                       {"To", cb->to}};
	char signing[2048], form[2048], sig[64];
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t n, f = 0;
	struct evhttp_request *req;
	struct evkeyvalq *headers;
	struct evhttp_connection *conn;

	/* Signed over the URL and every name and value in name order, as kv lists them. */
	n = (size_t)snprintf(signing, sizeof signing, "%s", cb->url);
	for (int i = 0; i < 8; i++) {
		char *enc = evhttp_encode_uri(kv[i][1]);
		n += (size_t)snprintf(signing + n, sizeof signing - n, "%s%s", kv[i][0], kv[i][1]);
		f += (size_t)snprintf(form + f, sizeof form - f, "%s%s=%s", f > 0 ? "&" : "",
		                      kv[i][0], enc);
		free(enc);
	}
	HMAC(EVP_sha1(), auth_token, (int)strlen(auth_token), (const unsigned char *)signing, n,
	     mac, &maclen);
	EVP_EncodeBlock((unsigned char *)sig, mac, (int)maclen);
	conn = cb_conns[cb_next++ % CALLBACK_CONNECTIONS];
	req = evhttp_request_new(callback_done, cb);
	headers = evhttp_request_get_output_headers(req);
	evhttp_add_header(headers, "Host", cb_host);
	evhttp_add_header(headers, "Content-Type", "application/x-www-form-urlencoded");
	evhttp_add_header(headers, "X-Twilio-Signature", sig);
	evbuffer_add(evhttp_request_get_output_buffer(req), form, f);
	if (evhttp_make_request(conn, req, EVHTTP_REQ_POST, cb->path) != 0) {
		fprintf(stderr, "twilio_bench_server: cannot send a callback\n");
		free(cb);
	}
}

/* Opens the kept-alive connections to the first callback URL's host. */
static bool
callback_target(const char *url, char *path, size_t path_size)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *host;
	bool ok = false;

	if (u == NULL)
		return false;
	host = evhttp_uri_get_host(u);
	if (host != NULL && evhttp_uri_get_scheme(u) != NULL &&
	    strcmp(evhttp_uri_get_scheme(u), "http") == 0) {
		int port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u) : 80;
		snprintf(path, path_size, "%s",
		         evhttp_uri_get_path(u) != NULL && *evhttp_uri_get_path(u) != '\0'
		             ? evhttp_uri_get_path(u)
		             : "/");
		if (cb_conns[0] == NULL) {
			snprintf(cb_host, sizeof cb_host, "%s:%d", host, port);
			cb_port = port;
			for (int i = 0; i < CALLBACK_CONNECTIONS; i++) {
				cb_conns[i] =
				    evhttp_connection_base_new(base, NULL, host, (ev_uint16_t)port);
				evhttp_connection_set_retries(cb_conns[i], 3);
			}
		}
		/* One host per run: safetyd's hook. */
		ok = port == cb_port;
	}
	evhttp_uri_free(u);
	return ok;
}

/* POST .../Messages.json */
static void
create_message(struct evhttp_request *req)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req), form;
	struct evbuffer *body_buf = evhttp_request_get_input_buffer(req), *out;
	const char *auth = evhttp_find_header(in, "Authorization");
	const char *to, *from, *mg, *body, *cb_url;
	size_t len = evbuffer_get_length(body_buf);
	char *raw, sid[40], now[64];
	unsigned char rnd[16];
	int nseg;

	if (auth == NULL || strlen(auth) != strlen(expected_auth) ||
	    CRYPTO_memcmp(auth, expected_auth, strlen(auth)) != 0) {
		reply_error(req, 401, 20003, "Authenticate");
		return;
	}
	if (len > 65536) {
		reply_error(req, 413, 21617, "Request too large");
		return;
	}
	raw = malloc(len + 1);
	evbuffer_copyout(body_buf, raw, len);
	raw[len] = '\0';
	TAILQ_INIT(&form);
	if (evhttp_parse_query_str(raw, &form) != 0) {
		free(raw);
		reply_error(req, 400, 21602, "The form cannot be read.");
		return;
	}
	free(raw);
	to = evhttp_find_header(&form, "To");
	from = evhttp_find_header(&form, "From");
	mg = evhttp_find_header(&form, "MessagingServiceSid");
	body = evhttp_find_header(&form, "Body");
	cb_url = evhttp_find_header(&form, "StatusCallback");
	if (to == NULL || *to == '\0')
		reply_error(req, 400, 21604, "A 'To' phone number is required.");
	else if (regexec(&e164_re, to, 0, NULL, 0) != 0)
		reply_error(req, 400, 21211, "Invalid 'To' Phone Number");
	else if ((from == NULL || *from == '\0') && (mg == NULL || *mg == '\0'))
		reply_error(req, 400, 21603, "A 'From' phone number is required.");
	else if (body == NULL || *body == '\0')
		reply_error(req, 400, 21602, "Message body is required.");
	else if (utf8_chars(body) > 1600)
		reply_error(req, 400, 21617,
		            "The concatenated message body exceeds the 1600 character limit.");
	else if (from != NULL && strcmp(from, to) == 0)
		reply_error(req, 400, 21266, "'To' and 'From' number cannot be the same");
	else {
		struct callback *cb = NULL;

		if (cb_url != NULL && *cb_url != '\0') {
			cb = calloc(1, sizeof *cb);
			if (strlen(cb_url) >= sizeof cb->url ||
			    !callback_target(cb_url, cb->path, sizeof cb->path)) {
				free(cb);
				reply_error(req, 400, 21609, "Invalid StatusCallback url");
				evhttp_clear_headers(&form);
				return;
			}
			snprintf(cb->url, sizeof cb->url, "%s", cb_url);
		}
		RAND_bytes(rnd, sizeof rnd);
		strcpy(sid, "SM");
		for (int i = 0; i < 16; i++)
			snprintf(sid + 2 + 2 * i, 3, "%02x", rnd[i]);
		nseg = segments(body);
		rfc2822(now, sizeof now);
		out = evbuffer_new();
		evbuffer_add_printf(
		    out, "{\"account_sid\": \"%s\", \"api_version\": \"" API "\", \"body\": ",
		    account_sid);
		json_string(out, body);
		evbuffer_add_printf(out,
		                    ", \"date_created\": \"%s\", \"date_sent\": null, "
		                    "\"date_updated\": \"%s\", \"direction\": \"outbound-api\", "
		                    "\"error_code\": null, \"error_message\": null, \"from\": ",
		                    now, now);
		if (from != NULL)
			json_string(out, from);
		else
			evbuffer_add_printf(out, "null");
		evbuffer_add_printf(out, ", \"messaging_service_sid\": ");
		if (mg != NULL)
			json_string(out, mg);
		else
			evbuffer_add_printf(out, "null");
		evbuffer_add_printf(
		    out,
		    ", \"num_media\": \"0\", \"num_segments\": \"%d\", \"price\": null, "
		    "\"price_unit\": \"USD\", \"sid\": \"%s\", \"status\": \"%s\", "
		    "\"to\": ",
		    nseg, sid, from == NULL ? "accepted" : "queued");
		json_string(out, to);
		evbuffer_add_printf(out, ", \"uri\": \"/" API "/Accounts/%s/Messages/%s.json\"}",
		                    account_sid, sid);
		/* The log line, as the Python stand-in writes it (the fields the bench reads). */
		{
			struct evbuffer *line = evbuffer_new();
			evbuffer_add_printf(line, "{\"sid\": \"%s\", \"to\": ", sid);
			json_string(line, to);
			evbuffer_add_printf(line, ", \"body\": ");
			json_string(line, body);
			evbuffer_add_printf(
			    line, ", \"num_segments\": %d, \"outcome\": \"delivered\"}\n", nseg);
			while (evbuffer_get_length(line) > 0 &&
			       evbuffer_write(line, fileno(log_file)) > 0)
				;
			evbuffer_free(line);
		}
		evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
		                  "application/json");
		evhttp_send_reply(req, 201, "Created", out);
		evbuffer_free(out);
		if (cb != NULL) {
			snprintf(cb->sid, sizeof cb->sid, "%s", sid);
			snprintf(cb->to, sizeof cb->to, "%s", to);
			snprintf(cb->from, sizeof cb->from, "%s", from != NULL ? from : "");
			strcpy(cb->status, "sent");
			schedule_callback(cb);
		}
	}
	evhttp_clear_headers(&form);
}

static void
handle(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);

	(void)arg;
	if (evhttp_request_get_command(req) == EVHTTP_REQ_POST &&
	    strncmp(uri, path_prefix, strlen(path_prefix)) == 0 &&
	    strcmp(uri + strlen(path_prefix), "/Messages.json") == 0) {
		create_message(req);
		return;
	}
	if (strncmp(uri, "/" API "/Accounts/", strlen("/" API "/Accounts/")) == 0 &&
	    strncmp(uri, path_prefix, strlen(path_prefix)) != 0) {
		reply_error(req, 401, 20003, "Authenticate");
		return;
	}
	reply_error(req, 404, 20404, "The requested resource was not found");
}

static void
stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	event_base_loopbreak(base);
}

int
main(int argc, char **argv)
{
	const char *port = NULL, *token_file = NULL, *log_path = NULL;
	char creds[256];
	unsigned char b64[512];
	struct evhttp *http;
	struct event *term;
	FILE *f;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--port") == 0)
			port = argv[i + 1];
		else if (strcmp(argv[i], "--account-sid") == 0)
			snprintf(account_sid, sizeof account_sid, "%s", argv[i + 1]);
		else if (strcmp(argv[i], "--auth-token-file") == 0)
			token_file = argv[i + 1];
		else if (strcmp(argv[i], "--log") == 0)
			log_path = argv[i + 1];
		else if (strcmp(argv[i], "--callback-delay-ms") == 0)
			callback_delay_ms = atol(argv[i + 1]);
		else
			die("unknown option; see the comment at the top of the source");
	}
	if (port == NULL || *account_sid == '\0' || token_file == NULL || log_path == NULL)
		die("--port, --account-sid, --auth-token-file and --log are required");
	if ((f = fopen(token_file, "r")) == NULL || fgets(auth_token, sizeof auth_token, f) == NULL)
		die("cannot read the auth token file");
	fclose(f);
	auth_token[strcspn(auth_token, "\r\n")] = '\0';
	snprintf(creds, sizeof creds, "%s:%s", account_sid, auth_token);
	EVP_EncodeBlock(b64, (const unsigned char *)creds, (int)strlen(creds));
	snprintf(expected_auth, sizeof expected_auth, "Basic %s", b64);
	snprintf(path_prefix, sizeof path_prefix, "/" API "/Accounts/%s", account_sid);
	if ((log_file = fopen(log_path, "a")) == NULL)
		die("cannot open the log");
	if (regcomp(&e164_re, "^\\+[1-9][0-9]{6,14}$", REG_EXTENDED | REG_NOSUB) != 0)
		die("regex");
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	http = evhttp_new(base);
	evhttp_set_gencb(http, handle, NULL);
	evhttp_set_max_body_size(http, 65536);
	if (evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)atoi(port)) != 0)
		die("cannot listen on the port");
	term = evsignal_new(base, SIGTERM, stop, NULL);
	event_add(term, NULL);
	event_base_dispatch(base);
	event_free(term);
	for (int i = 0; i < CALLBACK_CONNECTIONS; i++)
		if (cb_conns[i] != NULL)
			evhttp_connection_free(cb_conns[i]);
	evhttp_free(http);
	event_base_free(base);
	regfree(&e164_re);
	fclose(log_file);
	return 0;
}
