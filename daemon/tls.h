/*
 * The HTTPS listener's TLS context: TLS 1.2 and 1.3 only, forward-secret
 * AEAD ciphers, certificate and key from PEM files, reloaded on SIGHUP.
 * Connections already open keep the context they started with.
 */
#ifndef SAFETY_TLS_H
#define SAFETY_TLS_H

#include <event2/event.h>
#include <stdbool.h>

struct tls_server;
struct bufferevent;

/* Loads cert and key; NULL with *cause (caller frees) if they are unusable. */
struct tls_server *tls_server_new(const char *cert_path, const char *key_path, char **cause);

/* Loads the files again; on failure keeps the old context and sets *cause. */
bool tls_server_reload(struct tls_server *tls, char **cause) __attribute__((warn_unused_result));

/* A new server-side TLS bufferevent for evhttp_set_bevcb. */
struct bufferevent *tls_server_bevcb(struct event_base *base, void *tls);

/* Frees the context (open connections keep theirs). NULL is a no-op. */
void tls_server_free(struct tls_server *tls);

#endif
