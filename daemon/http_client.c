/*
 * libcurl's multi interface on libevent: curl tells which sockets to watch
 * (socket callback) and when to call it back (timer callback); libevent
 * watches them and hands readiness to curl_multi_socket_action; finished
 * transfers are collected after each action and their callbacks run there,
 * outside curl's own callbacks.
 */
#include "http_client.h"

#include "xmalloc.h"

#include <ctype.h>
#include <curl/curl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_client {
	struct event_base *base;
	CURLM *multi;
	struct event *timer;
	int running;
	bool closing;
	struct http_client_transfer *transfers; /* every transfer not yet finished */
};

struct http_client_transfer {
	struct http_client_transfer *prev, *next;
	struct http_client *client;
	CURL *easy;
	struct curl_slist *headers;
	struct curl_slist *rcpt;
	char *body;
	size_t body_len, body_off;
	char *userpwd;
	char *response;
	size_t response_len, response_cap;
	char error[CURL_ERROR_SIZE];
	char etag[256];
	char last_modified[128];
	char smtp_refusal[400];
	char smtp_code[4];        /* the code of the reply kept in smtp_refusal */
	bool smtp_refusal_whole;  /* its last line came ("550 " ends a reply, "550-" goes on) */
	http_client_done_cb cb;
	void *arg;
};

/* The event of one socket curl asked us to watch. */
struct http_client_socket {
	struct event *ev;
};

static void http_client_check_done(struct http_client *client);

/*
 * Whether word (n bytes) is a recipient's local part, in any case, once
 * the brackets, quotes and punctuation around it are set aside ("<kim>",
 * "kim...", "kim:"): the whole word, so that "ela" does not hide
 * "Relaying".
 */
static bool
http_client_names_recipient(const struct curl_slist *rcpt, const char *word, size_t n)
{
	while (n > 0 && strchr("<\"'(", word[0]) != NULL) {
		word++;
		n--;
	}
	while (n > 0 && strchr(">\"'),.;:", word[n - 1]) != NULL)
		n--;
	for (; rcpt != NULL; rcpt = rcpt->next) {
		const char *local = rcpt->data[0] == '<' ? rcpt->data + 1 : rcpt->data;
		const char *at = strchr(local, '@');
		size_t ln = at != NULL ? (size_t)(at - local) : strlen(local);

		if (ln > 0 && ln == n && strncasecmp(word, local, ln) == 0)
			return true;
	}
	return false;
}

/*
 * Adds an SMTP reply line to the kept reply, for logs, /readyz and the
 * outbox: printable ASCII only, and each word holding an '@', or that is a
 * recipient's local part (personal data), replaced by "<address>". The
 * lines of one reply ("550-...", then "550 ...") are kept together, as the
 * words that tell a relay refusal from a wrong address may be on any of
 * them.
 */
static void
http_client_keep_refusal(struct http_client_transfer *t, const char *line, size_t len)
{
	char *dst = t->smtp_refusal;
	size_t dstsz = sizeof t->smtp_refusal, o, i = 0;

	if (t->smtp_refusal_whole || strncmp(t->smtp_code, line, 3) != 0) {
		dst[0] = '\0';
		memcpy(t->smtp_code, line, 3);
		t->smtp_code[3] = '\0';
	}
	t->smtp_refusal_whole = line[3] == ' ';
	o = strlen(dst);
	if (o > 0 && o + 1 < dstsz)
		dst[o++] = ' ';
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	while (i < len && o + 1 < dstsz) {
		size_t end = i;
		bool address = false;

		if (line[i] == ' ') {
			dst[o++] = ' ';
			i++;
			continue;
		}
		while (end < len && line[end] != ' ')
			address |= line[end++] == '@';
		address = address || http_client_names_recipient(t->rcpt, line + i, end - i);
		if (address) {
			static const char mark[] = "<address>";
			for (size_t k = 0; mark[k] != '\0' && o + 1 < dstsz; k++)
				dst[o++] = mark[k];
		} else {
			for (; i < end && o + 1 < dstsz; i++)
				dst[o++] = (line[i] >= 0x20 && line[i] < 0x7f) ? line[i] : '?';
		}
		i = end;
	}
	dst[o] = '\0';
}

/* Collects the response body, bounded so a hostile gateway cannot exhaust memory. */
static size_t
http_client_write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_client_transfer *t = arg;
	size_t len = size * n;

	if (t->response_len + len > 1024 * 1024)
		return 0;
	if (t->response_len + len + 1 > t->response_cap) {
		t->response_cap = (t->response_len + len + 1) * 2;
		t->response = xrealloc(t->response, t->response_cap);
	}
	memcpy(t->response + t->response_len, data, len);
	t->response_len += len;
	t->response[t->response_len] = '\0';
	return len;
}

/* Keeps the validators a later conditional request needs. */
static size_t
http_client_header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct http_client_transfer *t = arg;
	size_t len = size * n, vlen;
	const char *v;
	char *dst = NULL;
	size_t dstsz = 0;

	/*
	 * SMTP: curl passes the server's replies here. The last 4xx or 5xx is
	 * kept, as curl's own message holds the code but not the server's words
	 * ("Relaying denied" or "User unknown" share 550).
	 */
	if (t->rcpt != NULL) {
		if (len >= 4 && (data[0] == '4' || data[0] == '5') && isdigit((unsigned char)data[1]) &&
		    isdigit((unsigned char)data[2]) && (data[3] == ' ' || data[3] == '-'))
			http_client_keep_refusal(t, data, len);
		return len;
	}
	if (len > 6 && strncasecmp(data, "ETag:", 5) == 0) {
		v = data + 5;
		dst = t->etag;
		dstsz = sizeof t->etag;
	} else if (len > 15 && strncasecmp(data, "Last-Modified:", 14) == 0) {
		v = data + 14;
		dst = t->last_modified;
		dstsz = sizeof t->last_modified;
	}
	if (dst != NULL) {
		while (v < data + len && (*v == ' ' || *v == '\t'))
			v++;
		vlen = (size_t)(data + len - v);
		while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n'))
			vlen--;
		if (vlen < dstsz) {
			memcpy(dst, v, vlen);
			dst[vlen] = '\0';
		}
	}
	return len;
}

/* Feeds an SMTP message to curl. */
static size_t
http_client_read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct http_client_transfer *t = arg;
	size_t left = t->body_len - t->body_off, len = size * n;

	if (len > left)
		len = left;
	memcpy(buf, t->body + t->body_off, len);
	t->body_off += len;
	return len;
}

/* Frees a finished transfer. */
static void
http_client_transfer_free(struct http_client_transfer *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else if (t->client->transfers == t)
		t->client->transfers = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	curl_slist_free_all(t->headers);
	curl_slist_free_all(t->rcpt);
	if (t->body != NULL) {
		memset(t->body, 0, t->body_len);
		free(t->body);
	}
	if (t->userpwd != NULL) {
		memset(t->userpwd, 0, strlen(t->userpwd));
		free(t->userpwd);
	}
	free(t->response);
	free(t);
}

/* Readiness on a socket curl watches. */
static void
http_client_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *client = arg;
	int flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(client->multi, fd, flags, &client->running);
	http_client_check_done(client);
}

/* curl's timeout expired. */
static void
http_client_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_client *client = arg;

	(void)fd;
	(void)what;
	curl_multi_socket_action(client->multi, CURL_SOCKET_TIMEOUT, 0, &client->running);
	http_client_check_done(client);
}

/* curl says what to watch on a socket. */
static int
http_client_socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http_client *client = userp;
	struct http_client_socket *hs = socketp;
	short kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (hs != NULL) {
			event_free(hs->ev);
			free(hs);
			curl_multi_assign(client->multi, s, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST | ((what & CURL_POLL_IN) ? EV_READ : 0) |
	       ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (hs == NULL) {
		hs = xcalloc(1, sizeof *hs);
		hs->ev = event_new(client->base, s, kind, http_client_event_cb, client);
		curl_multi_assign(client->multi, s, hs);
	} else {
		event_del(hs->ev);
		event_assign(hs->ev, client->base, s, kind, http_client_event_cb, client);
	}
	event_add(hs->ev, NULL);
	return 0;
}

/* curl asks to be called back after timeout_ms. */
static int
http_client_timerfunction(CURLM *multi, long timeout_ms, void *userp)
{
	struct http_client *client = userp;
	struct timeval tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(client->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	/* Zero means "now": run it on the next loop turn, not inside curl's call. */
	evtimer_add(client->timer, &tv);
	return 0;
}

/* Runs the callbacks of finished transfers. */
static void
http_client_check_done(struct http_client *client)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(client->multi, &left)) != NULL) {
		struct http_client_transfer *t = NULL;
		struct http_client_result r;
		double total = 0;
		curl_off_t connect_us = 0;
		long request_size = 0;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
		memset(&r, 0, sizeof r);
		r.curl_code = (int)msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &r.status);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_TOTAL_TIME, &total);
		/*
		 * Whether the request may have reached the peer. Only a timeout in
		 * curl's connect phase ("Connection timed out", no connect time, no
		 * request counted) is sure to have reached nobody; any other timeout
		 * is taken as a request that may have gone out, so a message is not
		 * sent again without an attempt counted.
		 */
		curl_easy_getinfo(msg->easy_handle, CURLINFO_CONNECT_TIME_T, &connect_us);
		curl_easy_getinfo(msg->easy_handle, CURLINFO_REQUEST_SIZE, &request_size);
		r.request_sent = connect_us > 0 || request_size > 0 ||
		                 r.curl_code != CURLE_OPERATION_TIMEDOUT ||
		                 strncmp(t->error, "Connection timed out", 20) != 0;
		r.seconds = total;
		r.body = t->response != NULL ? t->response : "";
		r.body_len = t->response_len;
		r.etag = t->etag[0] != '\0' ? t->etag : NULL;
		r.last_modified = t->last_modified[0] != '\0' ? t->last_modified : NULL;
		r.smtp_refusal = t->smtp_refusal[0] != '\0' ? t->smtp_refusal : NULL;
		r.error =
		    r.curl_code != CURLE_OK
		        ? (t->error[0] != '\0' ? t->error : curl_easy_strerror(msg->data.result))
		        : "";
		curl_multi_remove_handle(client->multi, msg->easy_handle);
		curl_easy_cleanup(msg->easy_handle);
		t->cb(&r, t->arg);
		http_client_transfer_free(t);
	}
}

/* Makes a client. */
struct http_client *
http_client_new(struct event_base *base, int max_connections)
{
	struct http_client *client = xcalloc(1, sizeof *client);

	client->base = base;
	client->multi = curl_multi_init();
	client->timer = evtimer_new(base, http_client_timer_cb, client);
	curl_multi_setopt(client->multi, CURLMOPT_SOCKETFUNCTION, http_client_socket_cb);
	curl_multi_setopt(client->multi, CURLMOPT_SOCKETDATA, client);
	curl_multi_setopt(client->multi, CURLMOPT_TIMERFUNCTION, http_client_timerfunction);
	curl_multi_setopt(client->multi, CURLMOPT_TIMERDATA, client);
	curl_multi_setopt(client->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)max_connections);
	curl_multi_setopt(client->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_connections);
	curl_multi_setopt(client->multi, CURLMOPT_MAXCONNECTS, (long)max_connections);
	return client;
}

/* Starts a request. */
int
http_client_request(struct http_client *client, const struct http_client_request *req,
                    http_client_done_cb cb, void *arg)
{
	struct http_client_transfer *t;
	CURL *easy;

	if (client->closing || (easy = curl_easy_init()) == NULL)
		return -1;
	t = xcalloc(1, sizeof *t);
	t->client = client;
	t->easy = easy;
	t->cb = cb;
	t->arg = arg;
	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->error);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 15000L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	/* Only the protocols a gateway can speak; never file:// or others from a configured URL. */
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https,smtp,smtps");
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_client_write_cb);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, http_client_header_cb);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	if (req->userpwd != NULL) {
		t->userpwd = xstrdup(req->userpwd);
		curl_easy_setopt(easy, CURLOPT_USERPWD, t->userpwd);
	}
	for (const char *const *h = req->headers; h != NULL && *h != NULL; h++)
		t->headers = curl_slist_append(t->headers, *h);
	if (req->mail_from != NULL) {
		curl_easy_setopt(easy, CURLOPT_MAIL_FROM, req->mail_from);
		for (const char *const *r = req->mail_rcpt; r != NULL && *r != NULL; r++)
			t->rcpt = curl_slist_append(t->rcpt, *r);
		curl_easy_setopt(easy, CURLOPT_MAIL_RCPT, t->rcpt);
		curl_easy_setopt(easy, CURLOPT_USE_SSL, (long)req->use_ssl);
		t->body = xmalloc(req->body_len + 1);
		memcpy(t->body, req->body, req->body_len);
		t->body_len = req->body_len;
		curl_easy_setopt(easy, CURLOPT_READFUNCTION, http_client_read_cb);
		curl_easy_setopt(easy, CURLOPT_READDATA, t);
		curl_easy_setopt(easy, CURLOPT_UPLOAD, 1L);
	} else if (req->body != NULL) {
		t->body = xmalloc(req->body_len + 1);
		memcpy(t->body, req->body, req->body_len);
		t->body_len = req->body_len;
		curl_easy_setopt(easy, CURLOPT_POST, 1L);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, t->body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)t->body_len);
		if (req->content_type != NULL) {
			char *h;
			xasprintf(&h, "Content-Type: %s", req->content_type);
			t->headers = curl_slist_append(t->headers, h);
			free(h);
		}
	}
	if (t->headers != NULL)
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, t->headers);
	t->next = client->transfers;
	if (client->transfers != NULL)
		client->transfers->prev = t;
	client->transfers = t;
	if (curl_multi_add_handle(client->multi, easy) != CURLM_OK) {
		curl_easy_cleanup(easy);
		http_client_transfer_free(t);
		return -1;
	}
	return 0;
}

/* Requests running now. */
int
http_client_running(const struct http_client *client)
{
	return client->running;
}

/* Cancels and frees. */
void
http_client_free(struct http_client *client)
{
	struct http_client_transfer *t;

	if (client == NULL)
		return;
	client->closing = true;
	while ((t = client->transfers) != NULL) {
		struct http_client_result r;

		curl_multi_remove_handle(client->multi, t->easy);
		curl_easy_cleanup(t->easy);
		memset(&r, 0, sizeof r);
		r.curl_code = CURLE_ABORTED_BY_CALLBACK;
		r.body = "";
		r.error = "shutting down";
		t->cb(&r, t->arg);
		http_client_transfer_free(t);
	}
	curl_multi_cleanup(client->multi);
	event_free(client->timer);
	free(client);
}
