/* Reply tokens: keys loaded from a file, links made and read through libsafety's token module. */
#include "reply_link.h"

#include "daemon.h"
#include "log.h"
#include "xmalloc.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <safety/secret.h>
#include <safety/token.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads "ID:SECRET" lines. */
static bool
reply_link_load(struct daemon *d, char **cause)
{
	FILE *f = fopen(d->cfg.token_key_file, "r");
	char line[512], err[160];
	unsigned lineno = 0;

	if (f == NULL) {
		xasprintf(cause, "%s: cannot open: %s", d->cfg.token_key_file, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *colon, *end;
		long id;
		size_t n;

		lineno++;
		n = strlen(line);
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		colon = strchr(line, ':');
		id = colon != NULL ? strtol(line, &end, 10) : -1;
		if (colon != NULL && end == colon && id >= 0 && id < SF_TOKEN_KEYS &&
		    d->nduress_keys < SF_TOKEN_KEYS) {
			/*
			 * A duress-word key derived from each token key's secret; the
			 * current key's goes first, as new words are hashed with it.
			 */
			unsigned char key[32];
			unsigned int maclen = 0;
			int at = d->nduress_keys++;

			HMAC(EVP_sha256(), colon + 1, (int)strlen(colon + 1),
			     (const unsigned char *)"safety-duress-v1", 16, key, &maclen);
			if (id == d->cfg.token_key_id && at > 0) {
				memcpy(d->duress_keys[at], d->duress_keys[0], sizeof key);
				at = 0;
			}
			memcpy(d->duress_keys[at], key, sizeof key);
			memset(key, 0, sizeof key);
		}
		if (colon == NULL || end != colon || id < 0 || id >= SF_TOKEN_KEYS ||
		    sf_token_keyring_add(d->tokens, (unsigned)id, colon + 1, err, sizeof err) !=
		        0) {
			xasprintf(cause,
			          "%s:%u: expected ID:SECRET with ID 0 to %d and a secret of %d "
			          "bytes or more",
			          d->cfg.token_key_file, lineno, SF_TOKEN_KEYS - 1,
			          SF_TOKEN_SECRET_MIN);
			memset(line, 0, sizeof line);
			fclose(f);
			return false;
		}
		memset(line, 0, sizeof line);
	}
	fclose(f);
	if (!sf_token_keyring_has(d->tokens, (unsigned)d->cfg.token_key_id)) {
		xasprintf(cause, "%s: no key with id %d ([tokens] key_id)", d->cfg.token_key_file,
		          d->cfg.token_key_id);
		return false;
	}
	return true;
}

/* Loads the keyring. */
bool
reply_link_init(struct daemon *d, char **cause)
{
	unsigned char secret[32];
	char err[160];

	if (sf_token_keyring_new(&d->tokens) != 0) {
		xasprintf(cause, "cannot make the token keyring");
		return false;
	}
	if (*d->cfg.token_key_file != '\0')
		return reply_link_load(d, cause);
	/* Links made now will not open after a restart: fine for tests, not for a crisis. */
	log_warn("token_key_ephemeral", "hint",
	         "set [tokens] key_file so reply links survive a restart");
	sf_secret_random(secret, sizeof secret);
	sf_secret_random(d->duress_keys[0], sizeof d->duress_keys[0]);
	d->nduress_keys = 1;
	if (sf_token_keyring_add_raw(d->tokens, (unsigned)d->cfg.token_key_id, secret,
	                             sizeof secret, err, sizeof err) != 0) {
		xasprintf(cause, "token key: %s", err);
		return false;
	}
	memset(secret, 0, sizeof secret);
	return true;
}

/* Frees the keyring. */
void
reply_link_free(struct daemon *d)
{
	sf_token_keyring_free(d->tokens);
	d->tokens = NULL;
}

/* Makes a link. */
void
reply_link_make(const struct daemon *d, int64_t crisis_id, int64_t national_id, char *out,
                size_t outsz)
{
	char token[SF_TOKEN_SIZE];

	if (sf_token_make(d->tokens, (unsigned)d->cfg.token_key_id, crisis_id, national_id,
	                  token) != 0)
		token[0] = '\0';
	snprintf(out, outsz, "%s/r/%s", d->cfg.public_url, token);
}

/* Opens a token. */
int
reply_link_open(const struct daemon *d, const char *token, int64_t *crisis_id, int64_t *national_id)
{
	return sf_token_open(d->tokens, token, crisis_id, national_id) == 0 ? 0 : -1;
}
