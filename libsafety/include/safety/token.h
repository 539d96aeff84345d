/*
 * Reply tokens: the 22 characters in a national's reply link (/r/<token>)
 * that name one check-in, the pair (crisis, national), without a database
 * lookup and without telling anyone who can read the link which crisis or
 * which person it is. The format and its threat model are in token.md.
 */
#ifndef SAFETY_TOKEN_H
#define SAFETY_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include <safety/error.h>

/* Characters of a token: base64url, no padding (the reply parser's SF_REPLY_TOKEN_LEN). */
#define SF_TOKEN_LEN 22
/* Buffer that holds a token and its NUL. */
#define SF_TOKEN_SIZE (SF_TOKEN_LEN + 1)
/* Key ids are 0 to SF_TOKEN_KEYS - 1; the id rides in the token's last character. */
#define SF_TOKEN_KEYS 16
/* Fewest bytes a server secret may have (256 bits). */
#define SF_TOKEN_SECRET_MIN 32
/* Most bytes of a server secret that are read. */
#define SF_TOKEN_SECRET_MAX 128
/* Largest crisis id a token carries (32 bits). */
#define SF_TOKEN_CRISIS_MAX INT64_C(0xffffffff)
/* Largest national id a token carries (48 bits). */
#define SF_TOKEN_NATIONAL_MAX INT64_C(0xffffffffffff)

/*
 * The server keys by id, each expanded (HKDF-SHA256) into its own cipher and
 * MAC keys. Opaque; made by sf_token_keyring_new, filled once at start-up or
 * reload, then only read: sf_token_make and sf_token_open may run on several
 * threads at once with the same keyring. Secret material is wiped on free.
 */
struct sf_token_keyring;

/* Makes an empty keyring in *out; returns 0 or SF_ENOMEM / SF_EINTERNAL (*out is NULL then). */
int sf_token_keyring_new(struct sf_token_keyring **out);

/* Wipes and frees a keyring; NULL is a no-op. */
void sf_token_keyring_free(struct sf_token_keyring *ring);

/*
 * Adds (or replaces) the key with this id from a secret as configuration
 * writes it: hex (only hex digits, even length) or base64 in either alphabet,
 * padded or not, surrounding white space ignored, SF_TOKEN_SECRET_MIN to
 * SF_TOKEN_SECRET_MAX bytes once decoded. The text is borrowed; the keyring
 * keeps only keys derived from it. Returns 0, SF_ERANGE (key id out of range),
 * SF_EINVAL (not hex nor base64, or too short or too long; err says which,
 * never quoting the secret) or SF_EINTERNAL.
 */
int sf_token_keyring_add(struct sf_token_keyring *ring, unsigned key_id, const char *secret,
                         char *err, size_t errsz);

/*
 * Like sf_token_keyring_add with the secret's bytes (n from SF_TOKEN_SECRET_MIN
 * to SF_TOKEN_SECRET_MAX), for a caller that holds them already.
 */
int sf_token_keyring_add_raw(struct sf_token_keyring *ring, unsigned key_id, const void *secret,
                             size_t n, char *err, size_t errsz);

/* Tells whether the keyring has a key with this id: 1 if it has, 0 if not (or ring is NULL). */
int sf_token_keyring_has(const struct sf_token_keyring *ring, unsigned key_id);

/*
 * Writes the token of (crisis_id, national_id) under key key_id into out,
 * NUL-terminated. The same inputs always give the same token, so a re-sent
 * message carries the same link. crisis_id must be 0 to SF_TOKEN_CRISIS_MAX
 * and national_id 0 to SF_TOKEN_NATIONAL_MAX. Returns 0, SF_EINVAL (NULL),
 * SF_ERANGE (an id out of range), SF_ENOTFOUND (no such key) or SF_EINTERNAL;
 * out is "" on error.
 */
int sf_token_make(const struct sf_token_keyring *ring, unsigned key_id, int64_t crisis_id,
                  int64_t national_id, char out[SF_TOKEN_SIZE]);

/*
 * Opens a token made by sf_token_make under any key still in the ring: writes
 * its crisis and national ids and returns 0, or returns SF_EMISMATCH for
 * anything else (wrong length, a character outside base64url, a key id not in
 * the ring, a token altered or made up), leaving the outputs untouched. Once
 * the length is right, the work done does not depend on where or whether the
 * token is wrong. A valid token says nothing of the crisis's state: the caller
 * must still refuse replies to a closed crisis. SF_EINVAL only for NULL
 * arguments, SF_EINTERNAL if OpenSSL fails.
 */
int sf_token_open(const struct sf_token_keyring *ring, const char *token, int64_t *crisis_id,
                  int64_t *national_id);

/*
 * Reads the key id a token claims (its last character) without checking
 * anything else, so a caller can count tokens per key before retiring one.
 * Returns 0 or SF_EINVAL (not SF_TOKEN_LEN base64url characters).
 */
int sf_token_key_id(const char *token, unsigned *key_id);

#endif
