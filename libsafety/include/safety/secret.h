/*
 * Random secrets and the forms they are stored and sent in: session tokens,
 * API keys, base64 and hex. A token is shown to its holder once; the database
 * keeps only its SHA-256 (sf_secret_hash), so a leaked table opens nothing.
 */
#ifndef SAFETY_SECRET_H
#define SAFETY_SECRET_H

#include <stdbool.h>
#include <stddef.h>

#include <safety/error.h>

/* Bytes of randomness in a token (256 bits). */
#define SF_SECRET_TOKEN_BYTES 32
/* Characters of a token's random part: base64url of 32 bytes, unpadded. */
#define SF_SECRET_TOKEN_CHARS 43
/* The prefix that marks an API key (`sfk_` then 43 characters). */
#define SF_SECRET_API_KEY_PREFIX "sfk_"
/* Longest prefix sf_secret_token_new accepts. */
#define SF_SECRET_PREFIX_MAX 16
/* Buffer that holds any token with any accepted prefix, with its NUL. */
#define SF_SECRET_TOKEN_BUFSZ (SF_SECRET_PREFIX_MAX + SF_SECRET_TOKEN_CHARS + 1)
/* Characters of a SHA-256 in lower-case hex, without the NUL. */
#define SF_SECRET_HASH_HEX 64

/* Characters of the unpadded base64 (either alphabet) of n bytes, without NUL. */
#define SF_SECRET_B64_LEN(n) (((n) / 3) * 4 + ((n) % 3 == 0 ? 0 : (n) % 3 + 1))

/*
 * Fills buf with n bytes from OpenSSL's CSPRNG. Returns 0, SF_EINVAL if buf is
 * NULL and n > 0, SF_ERANGE if n is larger than OpenSSL takes at once, or
 * SF_EINTERNAL if the generator failed (then buf must not be used).
 */
int sf_secret_random(unsigned char *buf, size_t n);

/*
 * Encodes n bytes as base64url without padding (RFC 4648 section 5) into out,
 * NUL-terminated. outsz must be at least SF_SECRET_B64_LEN(n) + 1, else
 * SF_ETOOLONG. data may be NULL only when n is 0.
 */
int sf_secret_b64url_encode(const void *data, size_t n, char *out, size_t outsz);

/*
 * Decodes unpadded base64url. Strict: rejects padding, whitespace, characters
 * of the other alphabet, impossible lengths and non-zero trailing bits, so each
 * byte string has exactly one accepted encoding (SF_EINVAL). The decoded length
 * goes to *outlen; SF_ETOOLONG if it does not fit in outsz.
 */
int sf_secret_b64url_decode(const char *in, unsigned char *out, size_t outsz, size_t *outlen);

/* Like sf_secret_b64url_encode with the standard alphabet (`+` and `/`), unpadded. */
int sf_secret_b64_encode(const void *data, size_t n, char *out, size_t outsz);

/* Like sf_secret_b64url_decode with the standard alphabet, unpadded and strict. */
int sf_secret_b64_decode(const char *in, unsigned char *out, size_t outsz, size_t *outlen);

/*
 * Encodes n bytes as lower-case hex into out, NUL-terminated; outsz must be at
 * least 2n + 1, else SF_ETOOLONG.
 */
int sf_secret_hex_encode(const void *data, size_t n, char *out, size_t outsz);

/*
 * Makes a new token: prefix (NULL or "" for none; at most SF_SECRET_PREFIX_MAX
 * characters of [a-z0-9_]) followed by 43 base64url characters of 256 random
 * bits. Session tokens are bare, API keys use SF_SECRET_API_KEY_PREFIX. outsz
 * must hold prefix + 43 + 1 (SF_SECRET_TOKEN_BUFSZ always does).
 */
int sf_secret_token_new(char *out, size_t outsz, const char *prefix);

/*
 * Checks that token has the shape sf_secret_token_new gives with this prefix
 * (NULL or "" for none): the prefix, then exactly 43 base64url characters.
 * Returns 0 or SF_EINVAL. Lets a caller turn away garbage before any lookup.
 */
int sf_secret_token_check(const char *token, const char *prefix);

/*
 * Writes the lower-case hex SHA-256 of the token's bytes (prefix included)
 * into out_hex, NUL-terminated; this is what the database stores. SQL gives
 * the same with encode(sha256(convert_to(token, 'UTF8')), 'hex').
 */
int sf_secret_hash(const char *token, char out_hex[SF_SECRET_HASH_HEX + 1]);

/*
 * Compares n bytes in time that does not depend on where they differ. Returns
 * true when equal; n == 0 is equal.
 */
bool sf_secret_equal(const void *a, const void *b, size_t n);

/*
 * Compares two strings in time that depends only on the longer length, not on
 * where they differ nor on which one is longer. NULL equals nothing, not even
 * NULL.
 */
bool sf_secret_streq(const char *a, const char *b);

#endif
