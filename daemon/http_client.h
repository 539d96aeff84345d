/*
 * Outbound HTTP and SMTP on the daemon's loop: libcurl's multi interface
 * driven by libevent, so thousands of requests run at once without a thread
 * each, and connections to a gateway are kept alive and reused.
 */
#ifndef SAFETY_HTTP_CLIENT_H
#define SAFETY_HTTP_CLIENT_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

struct http_client;

struct http_client_result {
	int curl_code;    /* CURLE_OK when a response arrived */
	long status;      /* HTTP status, or the SMTP reply code */
	const char *body; /* borrowed, NUL-terminated, during the callback only */
	size_t body_len;
	const char *error; /* curl's message when curl_code is not CURLE_OK */
	double seconds;
	const char *etag;          /* the ETag header, or NULL (for conditional requests) */
	const char *last_modified; /* the Last-Modified header, or NULL */
	const char *smtp_refusal;  /* SMTP: the server's last 4xx/5xx reply, its lines joined, or NULL */
	/* HTTP: the connection was made, so the request may have gone out (a timeout without it
	 * reached nobody). */
	bool request_sent;
};

/* Called exactly once per accepted request. */
typedef void (*http_client_done_cb)(const struct http_client_result *result, void *arg);

struct http_client_request {
	const char *url;
	const char *method; /* "GET" or "POST"; NULL: GET, or POST when body is set */
	const char *body;   /* copied; for SMTP, the whole message */
	size_t body_len;
	const char *content_type;   /* for POST */
	const char *userpwd;        /* "user:password" for basic auth or SMTP AUTH; copied */
	const char *const *headers; /* NULL-terminated "Name: value" lines; copied */
	long timeout_ms;
	/* SMTP */
	const char *mail_from;
	const char *const *mail_rcpt; /* NULL-terminated */
	int use_ssl;                  /* CURLUSESSL_* for SMTP STARTTLS */
};

/* Makes a client on base with at most max_connections open at once. */
struct http_client *http_client_new(struct event_base *base, int max_connections);

/*
 * Starts a request. Returns 0 and cb fires once later (never inside this
 * call), or -1 (cb never fires) if it could not be started.
 */
int http_client_request(struct http_client *client, const struct http_client_request *req,
                        http_client_done_cb cb, void *arg) __attribute__((warn_unused_result));

/* Requests running now. */
int http_client_running(const struct http_client *client);

/* Cancels what runs (their callbacks fire with an error) and frees. NULL is a no-op. */
void http_client_free(struct http_client *client);

#endif
