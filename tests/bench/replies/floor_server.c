/*
 * The floor of a durable reply path on this machine, for bench_replies.sh:
 * an evhttp server that does nothing with an answer but store it. Every
 * POST /r/<token> that arrives during one turn of the event loop is stored,
 * token and body, by one INSERT of arrays into a table without an index,
 * committed, and only then answered 200 (the next batch is sent as soon as
 * the last one commits). No token check, no status, no counts, no events:
 * whatever a real reply path does on top of this, it cannot answer faster.
 *
 * Given PEOPLE, it does the least the reply issue asks of every answer
 * instead: appended to a table with a key and a unique provider reference
 * (exactly once), and the person's current status row (one of PEOPLE, by
 * the token's hash) updated in the same statement. No token check,
 * precedence, counts or events.
 *
 *   floor_server PORT CONNINFO [PEOPLE]
 */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 4096

struct pending {
	struct evhttp_request *req[BATCH_MAX];
	char *token[BATCH_MAX], *body[BATCH_MAX];
	int n;
};

static struct event_base *base;
static PGconn *conn;
static struct event *flush_ev, *read_ev, *write_ev;
static struct pending queued, sent;
static int in_flight;
static long people;   /* 0: store only */
static long long seq; /* makes each answer's provider reference unique */

static void send_batch(void);

/* A PostgreSQL text array literal of the strings: each element quoted, " and \ escaped. */
static char *
array_literal(char **v, int n)
{
	struct evbuffer *b = evbuffer_new();
	char *out;
	size_t len;

	evbuffer_add(b, "{", 1);
	for (int i = 0; i < n; i++) {
		evbuffer_add(b, i > 0 ? ",\"" : "\"", i > 0 ? 2 : 1);
		for (const char *p = v[i]; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				evbuffer_add(b, "\\", 1);
			evbuffer_add(b, p, 1);
		}
		evbuffer_add(b, "\"", 1);
	}
	evbuffer_add(b, "}", 1);
	len = evbuffer_get_length(b);
	out = malloc(len + 1);
	evbuffer_remove(b, out, len);
	out[len] = '\0';
	evbuffer_free(b);
	return out;
}

static void
answer_sent(int status)
{
	struct evbuffer *page = evbuffer_new();

	for (int i = 0; i < sent.n; i++) {
		if (status == 200) {
			evbuffer_add_printf(page, "<!doctype html><p>Thank you. Your answer is recorded.");
			evhttp_send_reply(sent.req[i], 200, "OK", page);
		} else {
			evhttp_send_error(sent.req[i], 503, "not stored");
		}
		free(sent.token[i]);
		free(sent.body[i]);
	}
	evbuffer_free(page);
	sent.n = 0;
	in_flight = 0;
}

static void
on_readable(evutil_socket_t fd, short what, void *arg)
{
	PGresult *res;
	int status = 200;

	(void)fd, (void)what, (void)arg;
	if (!PQconsumeInput(conn)) {
		fprintf(stderr, "floor_server: %s", PQerrorMessage(conn));
		exit(1);
	}
	if (PQisBusy(conn))
		return;
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "floor_server: %s", PQresultErrorMessage(res));
			status = 503;
		}
		PQclear(res);
	}
	event_del(read_ev);
	answer_sent(status);
	if (queued.n > 0)
		send_batch();
}

static void
on_writable(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (PQflush(conn) == 1)
		event_add(write_ev, NULL);
}

static void
send_batch(void)
{
	const char *params[4];
	char *tokens, *bodies, npeople[24], first[24];

	sent = queued;
	queued.n = 0;
	tokens = array_literal(sent.token, sent.n);
	bodies = array_literal(sent.body, sent.n);
	params[0] = tokens;
	params[1] = bodies;
	snprintf(npeople, sizeof npeople, "%ld", people);
	snprintf(first, sizeof first, "%lld", seq);
	seq += sent.n;
	params[2] = npeople;
	params[3] = first;
	if (!PQsendQueryParams(
	        conn,
	        people == 0
	            ? "INSERT INTO floor_reply (token, body) "
	              "SELECT * FROM unnest($1::text[], $2::text[])"
	            : "WITH v AS (SELECT t, b, 1 + abs(hashtext(t)) % $3::bigint AS national_id, "
	              " t || '|' || ($4::bigint + o) AS ref "
	              " FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(t, b, o)), "
	              "r AS (INSERT INTO floor_response (national_id, provider_ref, body) "
	              " SELECT national_id, ref, b FROM v ON CONFLICT (provider_ref) DO NOTHING "
	              " RETURNING national_id) "
	              "UPDATE floor_status s SET status = 'safe', at = now(), version = version + 1 "
	              "FROM (SELECT DISTINCT national_id FROM r) x WHERE s.national_id = x.national_id",
	        people == 0 ? 2 : 4, NULL, params, NULL, NULL, 0)) {
		fprintf(stderr, "floor_server: %s", PQerrorMessage(conn));
		exit(1);
	}
	free(tokens);
	free(bodies);
	in_flight = 1;
	if (PQflush(conn) == 1)
		event_add(write_ev, NULL);
	event_add(read_ev, NULL);
}

/* Runs once the loop has read every request of this turn. */
static void
on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
	if (!in_flight && queued.n > 0)
		send_batch();
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);

	(void)arg;
	if (evhttp_request_get_command(req) != EVHTTP_REQ_POST || strncmp(uri, "/r/", 3) != 0 ||
	    len > 2000) {
		evhttp_send_error(req, 404, "no such page");
		return;
	}
	if (queued.n == BATCH_MAX) {
		evhttp_send_error(req, 503, "busy");
		return;
	}
	queued.req[queued.n] = req;
	queued.token[queued.n] = strndup(uri + 3, 200);
	queued.body[queued.n] = malloc(len + 1);
	evbuffer_remove(in, queued.body[queued.n], len);
	queued.body[queued.n][len] = '\0';
	queued.n++;
	event_active(flush_ev, EV_TIMEOUT, 0);
}

int
main(int argc, char **argv)
{
	struct evhttp *http;
	PGresult *res;
	char setup[800];

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: floor_server PORT CONNINFO [PEOPLE]\n");
		return 2;
	}
	people = argc == 4 ? atol(argv[3]) : 0;
	conn = PQconnectdb(argv[2]);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "floor_server: %s", PQerrorMessage(conn));
		return 1;
	}
	snprintf(setup, sizeof setup, "%s%ld) g",
	         "SET client_min_messages = warning; "
	         "DROP TABLE IF EXISTS floor_response, floor_status; "
	         "CREATE TABLE floor_response (id bigint GENERATED ALWAYS AS IDENTITY "
	         "PRIMARY KEY, national_id bigint NOT NULL, provider_ref text NOT NULL "
	         "UNIQUE, body text NOT NULL, at timestamptz NOT NULL DEFAULT now()); "
	         "CREATE TABLE floor_status (national_id bigint PRIMARY KEY, "
	         "status text NOT NULL, at timestamptz, version int NOT NULL); "
	         "INSERT INTO floor_status SELECT g, 'pending', NULL, 0 FROM generate_series(1, ",
	         people);
	res = PQexec(conn, people == 0 ? "CREATE TABLE IF NOT EXISTS floor_reply (token text NOT NULL, "
	                                 "body text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
	                               : setup);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fprintf(stderr, "floor_server: %s", PQresultErrorMessage(res));
		return 1;
	}
	PQclear(res);
	PQsetnonblocking(conn, 1);
	base = event_base_new();
	flush_ev = event_new(base, -1, 0, on_flush, NULL);
	read_ev = event_new(base, PQsocket(conn), EV_READ | EV_PERSIST, on_readable, NULL);
	write_ev = event_new(base, PQsocket(conn), EV_WRITE, on_writable, NULL);
	http = evhttp_new(base);
	evhttp_set_gencb(http, on_request, NULL);
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST);
	if (evhttp_bind_socket(http, "127.0.0.1", (unsigned short)atoi(argv[1])) != 0) {
		fprintf(stderr, "floor_server: cannot listen on port %s\n", argv[1]);
		return 1;
	}
	event_base_dispatch(base);
	return 0;
}
