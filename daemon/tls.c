/*
 * TLS through libevent's OpenSSL bufferevents. Each new connection takes a
 * reference to the current SSL_CTX, so a reload swaps the context for new
 * connections without touching the ones in progress.
 */
#include "tls.h"

#include "xmalloc.h"

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

struct tls_server {
	SSL_CTX *ctx;
	char *cert_path;
	char *key_path;
};

/* Forward-secret AEAD suites for TLS 1.2 (TLS 1.3 has only such suites). */
static const char tls_ciphers_12[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                     "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                     "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* Formats OpenSSL's error queue into *cause. */
static void
tls_error(char **cause, const char *what, const char *path)
{
	char buf[256];
	unsigned long e = ERR_get_error();

	ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	xasprintf(cause, "%s %s: %s", what, path, e != 0 ? buf : "unknown error");
}

/* Makes a context from the files. */
static SSL_CTX *
tls_make_ctx(const char *cert, const char *key, char **cause)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		tls_error(cause, "cannot create a TLS context", "");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE |
	                             SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_set_cipher_list(ctx, tls_ciphers_12) != 1) {
		tls_error(cause, "cannot set ciphers", "");
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_error(cause, "cannot load certificate", cert);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		tls_error(cause, "cannot load key", key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(cause, "key does not match certificate", key);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

/* Loads the certificate and key. */
struct tls_server *
tls_server_new(const char *cert_path, const char *key_path, char **cause)
{
	SSL_CTX *ctx = tls_make_ctx(cert_path, key_path, cause);
	struct tls_server *tls;

	if (ctx == NULL)
		return NULL;
	tls = xcalloc(1, sizeof *tls);
	tls->ctx = ctx;
	tls->cert_path = xstrdup(cert_path);
	tls->key_path = xstrdup(key_path);
	return tls;
}

/* Swaps in a context made from the files as they are now. */
bool
tls_server_reload(struct tls_server *tls, char **cause)
{
	SSL_CTX *ctx = tls_make_ctx(tls->cert_path, tls->key_path, cause);

	if (ctx == NULL)
		return false;
	/* SSL objects of open connections hold their own reference to the old context. */
	SSL_CTX_free(tls->ctx);
	tls->ctx = ctx;
	return true;
}

/* Creates the bufferevent of one accepted connection. */
struct bufferevent *
tls_server_bevcb(struct event_base *base, void *arg)
{
	struct tls_server *tls = arg;
	SSL *ssl = SSL_new(tls->ctx);

	if (ssl == NULL)
		return NULL;
	return bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
	                                      BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
}

/* Frees the context. */
void
tls_server_free(struct tls_server *tls)
{
	if (tls == NULL)
		return;
	SSL_CTX_free(tls->ctx);
	free(tls->cert_path);
	free(tls->key_path);
	free(tls);
}
