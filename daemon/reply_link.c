/* Reply tokens: keys loaded from a file, links made and read through libsafety's token module. */
#include "reply_link.h"

#include "daemon.h"
#include "log.h"
#include "xmalloc.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <safety/secret.h>
#include <safety/token.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Loads "ID:SECRET" lines. */
static bool
reply_link_load(struct daemon *d, char **cause)
{
	FILE *f = fopen(d->cfg.token_key_file, "r");
	char line[512], err[160];
	unsigned lineno = 0;
	struct stat st;

	if (f == NULL) {
		xasprintf(cause, "%s: cannot open: %s", d->cfg.token_key_file, strerror(errno));
		return false;
	}
	/*
	 * Whoever reads the keys can make reply links that answer for any
	 * national. Others than the owner and the group must not read them; the
	 * group only when it is how safetyd reads a file it does not own (root's,
	 * group safety, mode 640).
	 */
	if (fstat(fileno(f), &st) != 0) {
		xasprintf(cause, "%s: cannot stat: %s", d->cfg.token_key_file, strerror(errno));
		fclose(f);
		return false;
	}
	if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
		xasprintf(cause,
		          "%s: every local user may read or change it (mode %04o), and with it "
		          "make reply links for anyone\n"
		          "hint: chmod 600 %s (or 640 with safetyd's group when another user "
		          "owns it)",
		          d->cfg.token_key_file, (unsigned)(st.st_mode & 07777),
		          d->cfg.token_key_file);
		fclose(f);
		return false;
	}
	if ((st.st_mode & (S_IRGRP | S_IWGRP)) != 0 && st.st_uid == geteuid()) {
		char mode[8];

		snprintf(mode, sizeof mode, "%04o", (unsigned)(st.st_mode & 07777));
		log_warn("token_key_file_group_readable", "file", d->cfg.token_key_file, "mode",
		         mode, "hint", "safetyd owns it: chmod 600 it");
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

/*
 * Sets each duress key into an HMAC context, kept for the daemon's life. A
 * context that does not give the one-shot HMAC's answer is not kept (the
 * one-shot serves then), so a library that cannot restart an HMAC on its
 * key costs speed, never a missed duress word.
 */
static void
reply_link_prepare_duress(struct daemon *d)
{
	static const unsigned char probe[] = "duress-probe";
	EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end()};

	if (hmac == NULL)
		return;
	for (int k = 0; k < d->nduress_keys; k++) {
		EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac);
		unsigned char want[32], got[32];
		unsigned int wlen = 0;
		size_t glen = 0;
		bool same;

		if (ctx == NULL)
			continue;
		HMAC(EVP_sha256(), d->duress_keys[k], sizeof d->duress_keys[k], probe,
		     sizeof probe - 1, want, &wlen);
		same =
		    EVP_MAC_init(ctx, d->duress_keys[k], sizeof d->duress_keys[k], params) == 1 &&
		    EVP_MAC_init(ctx, NULL, 0, NULL) == 1 &&
		    EVP_MAC_update(ctx, probe, sizeof probe - 1) == 1 &&
		    EVP_MAC_final(ctx, got, &glen, sizeof got) == 1 && glen == 32 && wlen == 32 &&
		    memcmp(want, got, 32) == 0;
		if (!same) {
			EVP_MAC_CTX_free(ctx);
			log_warn(
			    "duress_hmac_one_shot", "hint",
			    "this OpenSSL cannot restart an HMAC on its key; answers are slower");
			continue;
		}
		d->duress_mac[k] = ctx;
	}
	EVP_MAC_free(hmac);
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
	if (*d->cfg.token_key_file != '\0') {
		if (!reply_link_load(d, cause))
			return false;
		reply_link_prepare_duress(d);
		return true;
	}
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
	reply_link_prepare_duress(d);
	return true;
}

/* Frees the keyring and the duress keys' contexts. */
void
reply_link_free(struct daemon *d)
{
	sf_token_keyring_free(d->tokens);
	d->tokens = NULL;
	for (int k = 0; k < SF_TOKEN_KEYS; k++) {
		EVP_MAC_CTX_free(d->duress_mac[k]);
		d->duress_mac[k] = NULL;
	}
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
