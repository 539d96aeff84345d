/*
 * The audit log's hash chain: SHA-256 over the previous hash and a row's
 * fields, each written as "<byte length>:<bytes>" so no two different rows
 * encode alike. The encoding is specified in audit.h; the database computes
 * the same with sha256() and must stay in step with this file.
 */
#include <safety/audit.h>
#include <safety/secret.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

/* Tells whether s is exactly 64 lower-case hex digits. */
static bool
hex64(const char *s)
{
	size_t i;

	for (i = 0; i < SF_AUDIT_HASH_HEX; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	}
	return s[i] == '\0';
}

/* Feeds one field, length-prefixed, into the digest. */
static bool
put_field(EVP_MD_CTX *md, const char *s)
{
	char prefix[32];
	size_t len;
	int n;

	if (s == NULL)
		s = "";
	len = strlen(s);
	n = snprintf(prefix, sizeof prefix, "%zu:", len);
	return n > 0 && (size_t)n < sizeof prefix && EVP_DigestUpdate(md, prefix, (size_t)n) == 1 &&
	       EVP_DigestUpdate(md, s, len) == 1;
}

/* Feeds one integer field, as decimal text, into the digest. */
static bool
put_number(EVP_MD_CTX *md, long long v)
{
	char text[32];
	int n = snprintf(text, sizeof text, "%lld", v);

	return n > 0 && (size_t)n < sizeof text && put_field(md, text);
}

/* Computes a row's chain hash. */
int
sf_audit_chain_hash(const char *prev_hash_hex, const struct sf_audit_fields *row,
                    char out_hex[SF_AUDIT_HASH_HEX + 1])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	EVP_MD_CTX *md;
	bool ok;

	if (prev_hash_hex == NULL || row == NULL || out_hex == NULL)
		return SF_EINVAL;
	if (prev_hash_hex[0] != '\0' && !hex64(prev_hash_hex))
		return SF_EINVAL;
	if ((md = EVP_MD_CTX_new()) == NULL)
		return SF_EINTERNAL;
	ok = EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 && put_field(md, prev_hash_hex) &&
	     put_number(md, row->id) && put_field(md, row->occurred_at) &&
	     put_field(md, row->actor) && put_field(md, row->actor_role) &&
	     put_number(md, row->mission_id) && put_field(md, row->client_addr) &&
	     put_field(md, row->action) && put_field(md, row->object_type) &&
	     put_field(md, row->object_id) && put_field(md, row->summary) &&
	     EVP_DigestFinal_ex(md, digest, &dlen) == 1 && dlen == 32;
	EVP_MD_CTX_free(md);
	if (!ok)
		return SF_EINTERNAL;
	return sf_secret_hex_encode(digest, dlen, out_hex, SF_AUDIT_HASH_HEX + 1);
}

/* Checks a stored row against its stored hash. */
int
sf_audit_chain_check(const char *prev_hash_hex, const struct sf_audit_fields *row,
                     const char *stored_hex)
{
	char want[SF_AUDIT_HASH_HEX + 1];
	int rc;

	if (stored_hex == NULL || !hex64(stored_hex))
		return SF_EINVAL;
	if ((rc = sf_audit_chain_hash(prev_hash_hex, row, want)) != SF_OK)
		return rc;
	return CRYPTO_memcmp(want, stored_hex, SF_AUDIT_HASH_HEX) == 0 ? SF_OK : SF_EMISMATCH;
}
