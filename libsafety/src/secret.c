/*
 * Random tokens, their SHA-256 storage form, and the strict base64 and hex
 * codecs they travel in. Randomness, hashing and constant-time comparison come
 * from OpenSSL; only the codecs are written here, because OpenSSL's base64
 * pads, knows only the standard alphabet and decodes leniently.
 */
#include <safety/secret.h>

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Fills buf with n random bytes. */
int
sf_secret_random(unsigned char *buf, size_t n)
{
	if (n == 0)
		return SF_OK;
	if (buf == NULL)
		return SF_EINVAL;
	if (n > INT_MAX)
		return SF_ERANGE;
	if (RAND_bytes(buf, (int)n) != 1)
		return SF_EINTERNAL;
	return SF_OK;
}

/* Encodes n bytes with the given alphabet, unpadded. */
static int
b64_encode(const char *alphabet, const void *data, size_t n, char *out, size_t outsz)
{
	const unsigned char *in = data;
	size_t i, j;
	unsigned long group;

	if ((data == NULL && n > 0) || out == NULL)
		return SF_EINVAL;
	/* Keeps SF_SECRET_B64_LEN(n) + 1 from overflowing. */
	if (n > SIZE_MAX / 2)
		return SF_ETOOLONG;
	if (outsz < SF_SECRET_B64_LEN(n) + 1)
		return SF_ETOOLONG;

	for (i = 0, j = 0; i + 3 <= n; i += 3) {
		group = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8 | in[i + 2];
		out[j++] = alphabet[(group >> 18) & 63];
		out[j++] = alphabet[(group >> 12) & 63];
		out[j++] = alphabet[(group >> 6) & 63];
		out[j++] = alphabet[group & 63];
	}
	if (n - i == 1) {
		group = (unsigned long)in[i] << 16;
		out[j++] = alphabet[(group >> 18) & 63];
		out[j++] = alphabet[(group >> 12) & 63];
	} else if (n - i == 2) {
		group = (unsigned long)in[i] << 16 | (unsigned long)in[i + 1] << 8;
		out[j++] = alphabet[(group >> 18) & 63];
		out[j++] = alphabet[(group >> 12) & 63];
		out[j++] = alphabet[(group >> 6) & 63];
	}
	out[j] = '\0';
	return SF_OK;
}

/* Returns the 6-bit value of c in the alphabet, or -1. */
static int
b64_value(const char *alphabet, unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (unsigned char)alphabet[62])
		return 62;
	if (c == (unsigned char)alphabet[63])
		return 63;
	return -1;
}

/* Decodes unpadded base64 in the given alphabet, accepting only canonical input. */
static int
b64_decode(const char *alphabet, const char *in, unsigned char *out, size_t outsz, size_t *outlen)
{
	size_t len, n, i, j;
	unsigned long acc;
	unsigned bits;
	int v;

	if (in == NULL || outlen == NULL)
		return SF_EINVAL;
	len = strlen(in);
	/* One leftover character carries six bits, less than a byte. */
	if (len % 4 == 1)
		return SF_EINVAL;
	for (i = 0; i < len; i++) {
		if (b64_value(alphabet, (unsigned char)in[i]) < 0)
			return SF_EINVAL;
	}
	/* Bits past the last whole byte must be zero, or two strings would decode alike. */
	if (len % 4 != 0) {
		v = b64_value(alphabet, (unsigned char)in[len - 1]);
		if ((len % 4 == 2 && (v & 0x0f) != 0) || (len % 4 == 3 && (v & 0x03) != 0))
			return SF_EINVAL;
	}
	n = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
	if (n > outsz)
		return SF_ETOOLONG;
	if (out == NULL && n > 0)
		return SF_EINVAL;

	acc = 0;
	bits = 0;
	for (i = 0, j = 0; i < len; i++) {
		acc = (acc << 6 | (unsigned long)b64_value(alphabet, (unsigned char)in[i])) &
		      0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[j++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = j;
	return SF_OK;
}

/* Encodes as unpadded base64url. */
int
sf_secret_b64url_encode(const void *data, size_t n, char *out, size_t outsz)
{
	return b64_encode(b64_url, data, n, out, outsz);
}

/* Decodes strict unpadded base64url. */
int
sf_secret_b64url_decode(const char *in, unsigned char *out, size_t outsz, size_t *outlen)
{
	return b64_decode(b64_url, in, out, outsz, outlen);
}

/* Encodes as unpadded standard base64. */
int
sf_secret_b64_encode(const void *data, size_t n, char *out, size_t outsz)
{
	return b64_encode(b64_std, data, n, out, outsz);
}

/* Decodes strict unpadded standard base64. */
int
sf_secret_b64_decode(const char *in, unsigned char *out, size_t outsz, size_t *outlen)
{
	return b64_decode(b64_std, in, out, outsz, outlen);
}

/* Encodes as lower-case hex, the form PostgreSQL's encode(..., 'hex') gives. */
int
sf_secret_hex_encode(const void *data, size_t n, char *out, size_t outsz)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *in = data;
	size_t i;

	if ((data == NULL && n > 0) || out == NULL)
		return SF_EINVAL;
	if (n > (SIZE_MAX - 1) / 2 || outsz < 2 * n + 1)
		return SF_ETOOLONG;
	for (i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
	return SF_OK;
}

/* Checks a prefix against the characters and length a token prefix may have. */
static int
prefix_check(const char *prefix, size_t *len)
{
	size_t i;

	*len = 0;
	if (prefix == NULL)
		return SF_OK;
	for (i = 0; prefix[i] != '\0'; i++) {
		if (i >= SF_SECRET_PREFIX_MAX)
			return SF_EINVAL;
		if (!((prefix[i] >= 'a' && prefix[i] <= 'z') ||
		      (prefix[i] >= '0' && prefix[i] <= '9') || prefix[i] == '_'))
			return SF_EINVAL;
	}
	*len = i;
	return SF_OK;
}

/* Makes a prefixed 256-bit random token. */
int
sf_secret_token_new(char *out, size_t outsz, const char *prefix)
{
	unsigned char raw[SF_SECRET_TOKEN_BYTES];
	size_t plen;
	int rc;

	if (out == NULL)
		return SF_EINVAL;
	if ((rc = prefix_check(prefix, &plen)) != SF_OK)
		return rc;
	if (outsz < plen + SF_SECRET_TOKEN_CHARS + 1)
		return SF_ETOOLONG;
	if ((rc = sf_secret_random(raw, sizeof raw)) != SF_OK)
		return rc;
	memcpy(out, prefix == NULL ? "" : prefix, plen);
	rc = sf_secret_b64url_encode(raw, sizeof raw, out + plen, outsz - plen);
	OPENSSL_cleanse(raw, sizeof raw);
	return rc;
}

/* Checks that a token has the shape of one this module makes. */
int
sf_secret_token_check(const char *token, const char *prefix)
{
	unsigned char raw[SF_SECRET_TOKEN_BYTES];
	size_t plen, rawlen;
	int rc;

	if (token == NULL)
		return SF_EINVAL;
	if ((rc = prefix_check(prefix, &plen)) != SF_OK)
		return rc;
	if (strncmp(token, prefix == NULL ? "" : prefix, plen) != 0)
		return SF_EINVAL;
	if (strlen(token + plen) != SF_SECRET_TOKEN_CHARS)
		return SF_EINVAL;
	/* Decoding also refuses a non-canonical last character. */
	rc = sf_secret_b64url_decode(token + plen, raw, sizeof raw, &rawlen);
	OPENSSL_cleanse(raw, sizeof raw);
	if (rc != SF_OK || rawlen != SF_SECRET_TOKEN_BYTES)
		return SF_EINVAL;
	return SF_OK;
}

/* Hashes a token to the hex SHA-256 the database keeps. */
int
sf_secret_hash(const char *token, char out_hex[SF_SECRET_HASH_HEX + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (token == NULL || out_hex == NULL)
		return SF_EINVAL;
	if (EVP_Digest(token, strlen(token), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		return SF_EINTERNAL;
	return sf_secret_hex_encode(md, mdlen, out_hex, SF_SECRET_HASH_HEX + 1);
}

/* Compares two byte strings in constant time. */
bool
sf_secret_equal(const void *a, const void *b, size_t n)
{
	if (n == 0)
		return true;
	if (a == NULL || b == NULL)
		return false;
	return CRYPTO_memcmp(a, b, n) == 0;
}

/* Compares two strings without stopping at the first difference or the shorter end. */
bool
sf_secret_streq(const char *a, const char *b)
{
	size_t la, lb, n, i, ia, ib, ma, mb;
	unsigned diff;

	if (a == NULL || b == NULL)
		return false;
	la = strlen(a);
	lb = strlen(b);
	n = la > lb ? la : lb;
	diff = 0;
	for (i = 0; i < n; i++) {
		/*
		 * Past its end a string reads as its NUL; the index is picked with
		 * masks rather than a branch so both strings cost the same per step.
		 */
		ma = (size_t)0 - (size_t)(i < la);
		mb = (size_t)0 - (size_t)(i < lb);
		ia = (i & ma) | (la & ~ma);
		ib = (i & mb) | (lb & ~mb);
		diff |= (unsigned)((unsigned char)a[ia] ^ (unsigned char)b[ib]);
	}
	diff |= (unsigned)((la ^ lb) != 0);
	return diff == 0;
}
