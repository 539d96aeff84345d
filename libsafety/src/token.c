/*
 * Reply tokens: one AES-256 block holding the crisis id, the national id and
 * a truncated HMAC-SHA256 of both, followed by a 4-bit key id, written as 22
 * base64url characters. Keys come from the server secret through HKDF; see
 * token.md for the layout and why it is safe to put in an SMS.
 */
#include <safety/token.h>

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <safety/secret.h>

/* Bytes of the AES block the ids and the tag travel in. */
#define BLOCK 16
/* Bytes of the HMAC kept in the block: 48 bits, one chance in 2^48 per forged token. */
#define TAG_BYTES 6
/* Bytes of each derived key (AES-256 and the HMAC key). */
#define KEY_BYTES 32
/* The HKDF salt: fixed, names the purpose (RFC 5869 section 3.1 allows a constant). */
#define HKDF_SALT "safety reply token"

struct token_key {
	int present;
	unsigned char cipher_key[KEY_BYTES];
	unsigned char mac_key[KEY_BYTES];
};

struct sf_token_keyring {
	struct token_key keys[SF_TOKEN_KEYS];
	/* Fetched once: fetching per call takes a lock and a lookup in OpenSSL. */
	EVP_CIPHER *aes;
	EVP_MAC *hmac;
};

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Makes an empty keyring. */
int
sf_token_keyring_new(struct sf_token_keyring **out)
{
	struct sf_token_keyring *ring;

	if (out == NULL)
		return SF_EINVAL;
	*out = NULL;
	ring = calloc(1, sizeof *ring);
	if (ring == NULL)
		return SF_ENOMEM;
	ring->aes = EVP_CIPHER_fetch(NULL, "AES-256-ECB", NULL);
	ring->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (ring->aes == NULL || ring->hmac == NULL) {
		sf_token_keyring_free(ring);
		return SF_EINTERNAL;
	}
	*out = ring;
	return SF_OK;
}

/* Wipes and frees a keyring. */
void
sf_token_keyring_free(struct sf_token_keyring *ring)
{
	if (ring == NULL)
		return;
	EVP_CIPHER_free(ring->aes);
	EVP_MAC_free(ring->hmac);
	OPENSSL_cleanse(ring->keys, sizeof ring->keys);
	free(ring);
}

/* Derives one 32-byte key for a purpose and key id from the secret with HKDF-SHA256. */
static int
derive(const unsigned char *secret, size_t n, const char *purpose, unsigned key_id,
       unsigned char out[KEY_BYTES])
{
	unsigned char info[64];
	size_t info_len = strlen(purpose);
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[5];
	int ok;

	/* The key id is part of the info, so one secret under two ids gives unrelated keys. */
	memcpy(info, purpose, info_len);
	info[info_len++] = (unsigned char)key_id;

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf == NULL)
		return SF_EINTERNAL;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return SF_EINTERNAL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret, n);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)HKDF_SALT,
	                                              sizeof HKDF_SALT - 1);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len);
	params[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, KEY_BYTES, params) == 1;
	EVP_KDF_CTX_free(kctx);
	return ok ? SF_OK : SF_EINTERNAL;
}

/* Adds a key from its raw secret bytes. */
int
sf_token_keyring_add_raw(struct sf_token_keyring *ring, unsigned key_id, const void *secret,
                         size_t n, char *err, size_t errsz)
{
	struct token_key key;
	int rc;

	if (ring == NULL || secret == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "token key: missing");
	if (key_id >= SF_TOKEN_KEYS)
		return sf_error_set(err, errsz, SF_ERANGE, "token key: id %u out of range 0 to %d",
		                    key_id, SF_TOKEN_KEYS - 1);
	if (n < SF_TOKEN_SECRET_MIN)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "token key %u: secret too short: %zu bytes, at least %d needed",
		                    key_id, n, SF_TOKEN_SECRET_MIN);
	if (n > SF_TOKEN_SECRET_MAX)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "token key %u: secret too long: %zu bytes, at most %d", key_id,
		                    n, SF_TOKEN_SECRET_MAX);
	memset(&key, 0, sizeof key);
	rc = derive(secret, n, "safety token v1 aes-256", key_id, key.cipher_key);
	if (rc == SF_OK)
		rc = derive(secret, n, "safety token v1 hmac-sha256", key_id, key.mac_key);
	if (rc != SF_OK) {
		OPENSSL_cleanse(&key, sizeof key);
		return sf_error_set(err, errsz, rc, "token key %u: key derivation failed", key_id);
	}
	key.present = 1;
	ring->keys[key_id] = key;
	OPENSSL_cleanse(&key, sizeof key);
	return SF_OK;
}

/* Tells whether every character of s[0..n) is a hex digit. */
static int
all_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Returns the value of a hex digit (the caller checked it is one). */
static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

/* Adds a key from a secret written in hex or base64. */
int
sf_token_keyring_add(struct sf_token_keyring *ring, unsigned key_id, const char *secret, char *err,
                     size_t errsz)
{
	/* Room for SF_TOKEN_SECRET_MAX bytes in any encoding, plus one to detect "too long". */
	char text[2 * SF_TOKEN_SECRET_MAX + 2];
	unsigned char bytes[SF_TOKEN_SECRET_MAX + 1];
	size_t len, n = 0;
	const char *start;
	int rc;

	if (ring == NULL || secret == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "token key: missing");
	start = secret;
	while (isspace((unsigned char)*start))
		start++;
	len = strlen(start);
	while (len > 0 && isspace((unsigned char)start[len - 1]))
		len--;
	if (len == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "token key %u: secret is empty", key_id);
	if (len >= sizeof text)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "token key %u: secret too long: at most %d bytes", key_id,
		                    SF_TOKEN_SECRET_MAX);
	memcpy(text, start, len);
	text[len] = '\0';

	if (len % 2 == 0 && all_hex(text, len)) {
		for (size_t i = 0; i < len; i += 2)
			bytes[n++] =
			    (unsigned char)(hex_value(text[i]) << 4 | hex_value(text[i + 1]));
	} else {
		/* Padding is optional but, when present, right: strip it, then decode strictly. */
		size_t pad = 0;

		while (pad < len && text[len - 1 - pad] == '=')
			pad++;
		rc = SF_EINVAL;
		if (pad == 0 || (pad <= 2 && len % 4 == 0)) {
			len -= pad;
			text[len] = '\0';
			rc = sf_secret_b64_decode(text, bytes, sizeof bytes, &n);
			if (rc != SF_OK)
				rc = sf_secret_b64url_decode(text, bytes, sizeof bytes, &n);
		}
		if (rc != SF_OK) {
			OPENSSL_cleanse(text, sizeof text);
			OPENSSL_cleanse(bytes, sizeof bytes);
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "token key %u: secret is neither hex nor base64",
			                    key_id);
		}
	}
	rc = sf_token_keyring_add_raw(ring, key_id, bytes, n, err, errsz);
	OPENSSL_cleanse(text, sizeof text);
	OPENSSL_cleanse(bytes, sizeof bytes);
	return rc;
}

/* Tells whether a key id is loaded. */
int
sf_token_keyring_has(const struct sf_token_keyring *ring, unsigned key_id)
{
	if (ring == NULL || key_id >= SF_TOKEN_KEYS)
		return 0;
	return ring->keys[key_id].present;
}

/* Writes v into n bytes, most significant first. */
static void
put_be(unsigned char *p, uint64_t v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * (n - 1 - i)));
}

/* Reads n bytes, most significant first. */
static uint64_t
get_be(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Computes the tag: HMAC-SHA256 over key id, crisis and national (8 bytes each), truncated. */
static int
compute_tag(const struct sf_token_keyring *ring, const struct token_key *key, unsigned key_id,
            uint64_t crisis, uint64_t national, unsigned char tag[TAG_BYTES])
{
	unsigned char msg[17], mac[EVP_MAX_MD_SIZE];
	size_t mac_len = 0;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];
	int ok;

	msg[0] = (unsigned char)key_id;
	put_be(msg + 1, crisis, 8);
	put_be(msg + 9, national, 8);
	ctx = EVP_MAC_CTX_new(ring->hmac);
	if (ctx == NULL)
		return SF_EINTERNAL;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, key->mac_key, KEY_BYTES, params) == 1 &&
	     EVP_MAC_update(ctx, msg, sizeof msg) == 1 &&
	     EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) == 1 && mac_len >= TAG_BYTES;
	EVP_MAC_CTX_free(ctx);
	if (!ok)
		return SF_EINTERNAL;
	memcpy(tag, mac, TAG_BYTES);
	OPENSSL_cleanse(mac, sizeof mac);
	return SF_OK;
}

/* Runs one AES-256 block through the cipher, encrypting or decrypting. */
static int
aes_block(const struct sf_token_keyring *ring, const struct token_key *key, int encrypt,
          const unsigned char in[BLOCK], unsigned char out[BLOCK])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n1 = 0, n2 = 0, ok;

	if (ctx == NULL)
		return SF_EINTERNAL;
	/* One block under ECB is the bare permutation, which is all a fixed-size token needs. */
	ok = EVP_CipherInit_ex2(ctx, ring->aes, key->cipher_key, NULL, encrypt, NULL) == 1 &&
	     EVP_CIPHER_CTX_set_padding(ctx, 0) == 1 &&
	     EVP_CipherUpdate(ctx, out, &n1, in, BLOCK) == 1 &&
	     EVP_CipherFinal_ex(ctx, out + n1, &n2) == 1 && n1 + n2 == BLOCK;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? SF_OK : SF_EINTERNAL;
}

/* Makes the token of a crisis and a national under a key. */
int
sf_token_make(const struct sf_token_keyring *ring, unsigned key_id, int64_t crisis_id,
              int64_t national_id, char out[SF_TOKEN_SIZE])
{
	unsigned char plain[BLOCK], cipher[BLOCK], bits[BLOCK + 1];
	const struct token_key *key;
	int rc;

	if (out != NULL)
		out[0] = '\0';
	if (ring == NULL || out == NULL)
		return SF_EINVAL;
	if (crisis_id < 0 || crisis_id > SF_TOKEN_CRISIS_MAX || national_id < 0 ||
	    national_id > SF_TOKEN_NATIONAL_MAX)
		return SF_ERANGE;
	if (!sf_token_keyring_has(ring, key_id))
		return SF_ENOTFOUND;
	key = &ring->keys[key_id];

	put_be(plain, (uint64_t)crisis_id, 4);
	put_be(plain + 4, (uint64_t)national_id, 6);
	rc = compute_tag(ring, key, key_id, (uint64_t)crisis_id, (uint64_t)national_id, plain + 10);
	if (rc == SF_OK)
		rc = aes_block(ring, key, 1, plain, cipher);
	OPENSSL_cleanse(plain, sizeof plain);
	if (rc != SF_OK)
		return rc;

	/* 128 bits of block then 4 bits of key id: exactly 22 characters of 6 bits. */
	memcpy(bits, cipher, BLOCK);
	bits[BLOCK] = (unsigned char)(key_id << 4);
	for (size_t i = 0; i < SF_TOKEN_LEN; i++) {
		size_t bit = 6 * i, byte = bit / 8, shift = bit % 8;
		unsigned v =
		    (unsigned)bits[byte] << 8 | (byte + 1 < sizeof bits ? bits[byte + 1] : 0);

		out[i] = b64url[(v >> (10 - shift)) & 63];
	}
	out[SF_TOKEN_LEN] = '\0';
	return SF_OK;
}

/* Returns all ones when lo <= x <= hi, else 0, without a branch (x is 0 to 255). */
static unsigned
ct_in_range(unsigned x, unsigned lo, unsigned hi)
{
	return 0u - ((((lo - 1 - x) & (x - hi - 1)) >> 31) & 1u);
}

/* Returns the 6-bit value of a base64url character, or -1, in time independent of c. */
static int
ct_b64url_value(unsigned char c)
{
	unsigned x = c, r = 0;

	/* Each term is value + 1 when c is in its range, so 0 is left for "none". */
	r |= ct_in_range(x, 'A', 'Z') & (x - 'A' + 1);
	r |= ct_in_range(x, 'a', 'z') & (x - 'a' + 27);
	r |= ct_in_range(x, '0', '9') & (x - '0' + 53);
	r |= ct_in_range(x, '-', '-') & 63u;
	r |= ct_in_range(x, '_', '_') & 64u;
	return (int)r - 1;
}

/* Decodes 22 characters into the block and the key id; returns 0 or non-zero if any is bad. */
static unsigned
unpack(const char *token, unsigned char block[BLOCK], unsigned *key_id)
{
	unsigned char bits[BLOCK + 1];
	unsigned bad = 0;
	uint32_t acc = 0;
	size_t nbits = 0, nbytes = 0;

	for (size_t i = 0; i < SF_TOKEN_LEN; i++) {
		int v = ct_b64url_value((unsigned char)token[i]);

		bad |= (unsigned)v >> 31;
		acc = acc << 6 | ((unsigned)v & 63u);
		nbits += 6;
		if (nbits >= 8) {
			nbits -= 8;
			bits[nbytes++] = (unsigned char)(acc >> nbits);
		}
	}
	/* 132 bits: 16 whole bytes, then the last 4 bits are the key id. */
	memcpy(block, bits, BLOCK);
	*key_id = acc & 15u;
	return bad;
}

/* Opens a token into its crisis and national ids. */
int
sf_token_open(const struct sf_token_keyring *ring, const char *token, int64_t *crisis_id,
              int64_t *national_id)
{
	unsigned char block[BLOCK], plain[BLOCK], tag[TAG_BYTES];
	const struct token_key *key;
	uint64_t crisis, national;
	unsigned key_id, bad;
	int rc;

	if (ring == NULL || token == NULL || crisis_id == NULL || national_id == NULL)
		return SF_EINVAL;
	/* The length is public (every token has the same); checking it first leaks nothing. */
	if (strnlen(token, SF_TOKEN_LEN + 1) != SF_TOKEN_LEN)
		return SF_EMISMATCH;

	bad = unpack(token, block, &key_id);
	/*
	 * An absent key is all zeros: the work below is the same as for a real
	 * one, and the result is thrown away by `bad`.
	 */
	key = &ring->keys[key_id];
	bad |= (unsigned)(key->present == 0);

	rc = aes_block(ring, key, 0, block, plain);
	if (rc != SF_OK)
		return rc;
	crisis = get_be(plain, 4);
	national = get_be(plain + 4, 6);
	rc = compute_tag(ring, key, key_id, crisis, national, tag);
	if (rc != SF_OK) {
		OPENSSL_cleanse(plain, sizeof plain);
		return rc;
	}
	bad |= (unsigned)(CRYPTO_memcmp(tag, plain + 10, TAG_BYTES) != 0);
	OPENSSL_cleanse(plain, sizeof plain);
	OPENSSL_cleanse(tag, sizeof tag);
	if (bad)
		return SF_EMISMATCH;
	*crisis_id = (int64_t)crisis;
	*national_id = (int64_t)national;
	return SF_OK;
}

/* Reads the key id a token claims. */
int
sf_token_key_id(const char *token, unsigned *key_id)
{
	int v;

	if (token == NULL || key_id == NULL || strnlen(token, SF_TOKEN_LEN + 1) != SF_TOKEN_LEN)
		return SF_EINVAL;
	for (size_t i = 0; i < SF_TOKEN_LEN; i++)
		if (ct_b64url_value((unsigned char)token[i]) < 0)
			return SF_EINVAL;
	v = ct_b64url_value((unsigned char)token[SF_TOKEN_LEN - 1]);
	*key_id = (unsigned)v & 15u;
	return SF_OK;
}
