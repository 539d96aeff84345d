/*
 * scrypt password hashing through OpenSSL's EVP_KDF, the self-describing
 * string it is stored in, and the policy for new passwords. Stored strings
 * are parsed strictly and their parameters bounded, because a row of the
 * staff table is input like any other.
 */
#include <safety/password.h>
#include <safety/secret.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <unistr.h>
#include <uninorm.h>

/* Longest salt and hash accepted in a stored string, in bytes. */
#define SALT_MAX 64
#define HASH_MAX 64

const struct sf_password_params sf_password_params_default = {.ln = 15, .r = 8, .p = 1};
const struct sf_password_params sf_password_params_cheap = {.ln = 10, .r = 8, .p = 1};

/* An encoded string taken apart. */
struct encoded {
	struct sf_password_params params;
	unsigned char salt[SALT_MAX];
	size_t saltlen;
	unsigned char hash[HASH_MAX];
	size_t hashlen;
};

/* Returns the bytes scrypt allocates for these parameters, as OpenSSL counts them. */
static uint64_t
params_memory(const struct sf_password_params *pp)
{
	return 128ULL * pp->r * ((1ULL << pp->ln) + pp->p + 2);
}

/* Checks parameters against the bounds in the header. */
static int
params_check(const struct sf_password_params *pp)
{
	if (pp->ln < SF_PASSWORD_LN_MIN || pp->ln > SF_PASSWORD_LN_MAX)
		return SF_EINVAL;
	if (pp->r < SF_PASSWORD_R_MIN || pp->r > SF_PASSWORD_R_MAX)
		return SF_EINVAL;
	if (pp->p < SF_PASSWORD_P_MIN || pp->p > SF_PASSWORD_P_MAX)
		return SF_EINVAL;
	/* RFC 7914 requires N < 2^(16 r); OpenSSL refuses otherwise. */
	if (pp->ln >= 16 * pp->r)
		return SF_EINVAL;
	if (params_memory(pp) > SF_PASSWORD_MAXMEM)
		return SF_EINVAL;
	return SF_OK;
}

/*
 * Reads a decimal number without sign or leading zeros, at most three digits,
 * and advances *s past it.
 */
static int
parse_small_number(const char **s, unsigned *out)
{
	const char *p = *s;
	unsigned v = 0;
	int digits = 0;

	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return SF_EINVAL;
	while (*p >= '0' && *p <= '9') {
		if (++digits > 3)
			return SF_EINVAL;
		v = v * 10 + (unsigned)(*p - '0');
		p++;
	}
	if (digits == 0)
		return SF_EINVAL;
	*out = v;
	*s = p;
	return SF_OK;
}

/* Expects the literal text lit at *s and advances past it. */
static int
parse_literal(const char **s, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*s, lit, n) != 0)
		return SF_EINVAL;
	*s += n;
	return SF_OK;
}

/* Decodes one base64 field of at most max bytes, ending at '$' or the end of the string. */
static int
parse_b64_field(const char **s, unsigned char *out, size_t max, size_t *outlen)
{
	char field[SF_SECRET_B64_LEN(HASH_MAX > SALT_MAX ? HASH_MAX : SALT_MAX) + 1];
	size_t n = strcspn(*s, "$");

	if (n == 0 || n >= sizeof field)
		return SF_EINVAL;
	memcpy(field, *s, n);
	field[n] = '\0';
	if (sf_secret_b64_decode(field, out, max, outlen) != SF_OK)
		return SF_EINVAL;
	*s += n;
	return SF_OK;
}

/* Takes an encoded string apart; every deviation from the exact format is SF_EINVAL. */
static int
encoded_parse(const char *s, struct encoded *e)
{
	if (s == NULL)
		return SF_EINVAL;
	if (parse_literal(&s, "$scrypt$ln=") != SF_OK ||
	    parse_small_number(&s, &e->params.ln) != SF_OK || parse_literal(&s, ",r=") != SF_OK ||
	    parse_small_number(&s, &e->params.r) != SF_OK || parse_literal(&s, ",p=") != SF_OK ||
	    parse_small_number(&s, &e->params.p) != SF_OK || parse_literal(&s, "$") != SF_OK)
		return SF_EINVAL;
	if (params_check(&e->params) != SF_OK)
		return SF_EINVAL;
	if (parse_b64_field(&s, e->salt, sizeof e->salt, &e->saltlen) != SF_OK ||
	    parse_literal(&s, "$") != SF_OK ||
	    parse_b64_field(&s, e->hash, sizeof e->hash, &e->hashlen) != SF_OK || *s != '\0')
		return SF_EINVAL;
	if (e->saltlen < SF_PASSWORD_SALT_BYTES || e->hashlen < SF_PASSWORD_HASH_BYTES)
		return SF_EINVAL;
	return SF_OK;
}

/*
 * Runs scrypt over the password in NFKC. The normalized copy lives in a stack
 * buffer when it fits, and is wiped either way.
 */
static int
derive(const char *password, const unsigned char *salt, size_t saltlen,
       const struct sf_password_params *pp, unsigned char *out, size_t outlen)
{
	uint8_t stackbuf[4 * SF_PASSWORD_MAX_BYTES];
	uint8_t *norm;
	size_t normlen = sizeof stackbuf;
	uint64_t n = 1ULL << pp->ln, maxmem = params_memory(pp);
	uint32_t r = pp->r, p = pp->p;
	OSSL_PARAM params[7], *op = params;
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx = NULL;
	int rc = SF_EINTERNAL;

	norm = u8_normalize(UNINORM_NFKC, (const uint8_t *)password, strlen(password), stackbuf,
	                    &normlen);
	if (norm == NULL)
		return SF_EINTERNAL;

	*op++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, norm, normlen);
	*op++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, saltlen);
	*op++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n);
	*op++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	*op++ = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	*op++ = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem);
	*op = OSSL_PARAM_construct_end();

	if ((kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL)) != NULL &&
	    (kctx = EVP_KDF_CTX_new(kdf)) != NULL && EVP_KDF_derive(kctx, out, outlen, params) == 1)
		rc = SF_OK;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);

	OPENSSL_cleanse(norm, normlen);
	if (norm != stackbuf)
		free(norm);
	return rc;
}

/* Tells whether a password could ever have been hashed: non-empty, bounded, UTF-8. */
static int
password_usable(const char *password)
{
	size_t len = strlen(password);

	if (len == 0)
		return SF_EINVAL;
	if (len > SF_PASSWORD_MAX_BYTES)
		return SF_ETOOLONG;
	if (u8_check((const uint8_t *)password, len) != NULL)
		return SF_EINVAL;
	return SF_OK;
}

/* Hashes a password into the encoded string. */
int
sf_password_hash(const char *password, const struct sf_password_params *params, char *out,
                 size_t outsz)
{
	unsigned char salt[SF_PASSWORD_SALT_BYTES], hash[SF_PASSWORD_HASH_BYTES];
	char salt64[SF_SECRET_B64_LEN(SF_PASSWORD_SALT_BYTES) + 1];
	char hash64[SF_SECRET_B64_LEN(SF_PASSWORD_HASH_BYTES) + 1];
	int rc, n;

	if (params == NULL)
		params = &sf_password_params_default;
	if (password == NULL || out == NULL || params_check(params) != SF_OK)
		return SF_EINVAL;
	if ((rc = password_usable(password)) != SF_OK)
		return rc;
	if ((rc = sf_secret_random(salt, sizeof salt)) != SF_OK)
		return rc;
	if ((rc = derive(password, salt, sizeof salt, params, hash, sizeof hash)) != SF_OK)
		goto out;
	if ((rc = sf_secret_b64_encode(salt, sizeof salt, salt64, sizeof salt64)) != SF_OK ||
	    (rc = sf_secret_b64_encode(hash, sizeof hash, hash64, sizeof hash64)) != SF_OK)
		goto out;
	n = snprintf(out, outsz, "$scrypt$ln=%u,r=%u,p=%u$%s$%s", params->ln, params->r, params->p,
	             salt64, hash64);
	if (n < 0 || (size_t)n >= outsz) {
		if (outsz > 0)
			out[0] = '\0';
		rc = SF_ETOOLONG;
	}
out:
	OPENSSL_cleanse(hash, sizeof hash);
	OPENSSL_cleanse(hash64, sizeof hash64);
	return rc;
}

/* Checks a password against an encoded string. */
int
sf_password_verify(const char *password, const char *encoded)
{
	struct encoded e;
	unsigned char hash[HASH_MAX];
	int rc;

	if (encoded_parse(encoded, &e) != SF_OK || password == NULL)
		return SF_EINVAL;
	if (password_usable(password) != SF_OK)
		return SF_EMISMATCH;
	rc = derive(password, e.salt, e.saltlen, &e.params, hash, e.hashlen);
	if (rc == SF_OK && CRYPTO_memcmp(hash, e.hash, e.hashlen) != 0)
		rc = SF_EMISMATCH;
	OPENSSL_cleanse(hash, sizeof hash);
	OPENSSL_cleanse(&e, sizeof e);
	return rc;
}

/* Tells whether an encoded string was made with other settings than the current ones. */
int
sf_password_needs_rehash(const char *encoded, const struct sf_password_params *params, bool *needs)
{
	struct encoded e;

	if (params == NULL)
		params = &sf_password_params_default;
	if (needs == NULL || params_check(params) != SF_OK || encoded_parse(encoded, &e) != SF_OK)
		return SF_EINVAL;
	*needs = e.params.ln != params->ln || e.params.r != params->r || e.params.p != params->p ||
	         e.saltlen != SF_PASSWORD_SALT_BYTES || e.hashlen != SF_PASSWORD_HASH_BYTES;
	OPENSSL_cleanse(&e, sizeof e);
	return SF_OK;
}

/* Applies the policy for a new password and names the first rule it breaks. */
int
sf_password_check_policy(const char *password, char *err, size_t errsz)
{
	const uint8_t *s, *end, *next;
	ucs4_t first, uc;
	size_t len, chars;
	bool repeated;

	if (password == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "password: missing");
	len = strlen(password);
	if (len > SF_PASSWORD_MAX_BYTES)
		return sf_error_set(err, errsz, SF_ETOOLONG,
		                    "password: too long: %zu bytes, at most %d are allowed", len,
		                    SF_PASSWORD_MAX_BYTES);
	s = (const uint8_t *)password;
	if (u8_check(s, len) != NULL)
		return sf_error_set(
		    err, errsz, SF_EINVAL,
		    "password: not valid UTF-8: check the client's character encoding");
	chars = u8_mbsnlen(s, len);
	if (chars < SF_PASSWORD_MIN_CHARS)
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "password: too short: %zu characters, at least %d are needed",
		                    chars, SF_PASSWORD_MIN_CHARS);

	end = s + len;
	next = s + u8_mbtouc(&first, s, len);
	repeated = true;
	while (next < end) {
		next += u8_mbtouc(&uc, next, (size_t)(end - next));
		if (uc != first)
			repeated = false;
	}
	if (repeated)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "password: one character repeated: choose a passphrase of "
		                    "several words");
	return SF_OK;
}
