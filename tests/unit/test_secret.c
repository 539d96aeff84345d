/* Unit tests of random tokens, their hashes, the strict codecs and the comparisons. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <safety/secret.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

struct codec_case {
	const char *bytes;
	size_t n;
	const char *std;
	const char *url;
};

/* RFC 4648 section 10 vectors, unpadded, plus bytes where the alphabets differ. */
static const struct codec_case codec_cases[] = {
    {"", 0, "", ""},
    {"f", 1, "Zg", "Zg"},
    {"fo", 2, "Zm8", "Zm8"},
    {"foo", 3, "Zm9v", "Zm9v"},
    {"foob", 4, "Zm9vYg", "Zm9vYg"},
    {"fooba", 5, "Zm9vYmE", "Zm9vYmE"},
    {"foobar", 6, "Zm9vYmFy", "Zm9vYmFy"},
    {"\xfb\xff", 2, "+/8", "-_8"},
    {"\xff\xff\xff", 3, "////", "____"},
    {"\x00\x00", 2, "AAA", "AAA"},
};

static void
b64_encodes_rfc4648_vectors_unpadded(void **state)
{
	char out[32];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(codec_cases); i++) {
		const struct codec_case *c = &codec_cases[i];
		assert_int_equal(sf_secret_b64_encode(c->bytes, c->n, out, sizeof out), SF_OK);
		assert_string_equal(out, c->std);
		assert_int_equal(sf_secret_b64url_encode(c->bytes, c->n, out, sizeof out), SF_OK);
		assert_string_equal(out, c->url);
		assert_int_equal(strlen(out), SF_SECRET_B64_LEN(c->n));
	}
}

static void
b64_decodes_rfc4648_vectors_back(void **state)
{
	unsigned char out[32];
	size_t n;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(codec_cases); i++) {
		const struct codec_case *c = &codec_cases[i];
		n = 999;
		assert_int_equal(sf_secret_b64_decode(c->std, out, sizeof out, &n), SF_OK);
		assert_int_equal(n, c->n);
		assert_memory_equal(out, c->bytes, c->n);
		n = 999;
		assert_int_equal(sf_secret_b64url_decode(c->url, out, sizeof out, &n), SF_OK);
		assert_int_equal(n, c->n);
		assert_memory_equal(out, c->bytes, c->n);
	}
}

static void
b64_roundtrips_every_length_and_byte(void **state)
{
	unsigned char in[256], back[256];
	char enc[400];
	size_t n;

	(void)state;
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = (unsigned char)(255 - i);
	for (size_t len = 0; len <= sizeof in; len++) {
		assert_int_equal(sf_secret_b64url_encode(in, len, enc, sizeof enc), SF_OK);
		assert_int_equal(sf_secret_b64url_decode(enc, back, sizeof back, &n), SF_OK);
		assert_int_equal(n, len);
		assert_memory_equal(back, in, len);
		assert_int_equal(sf_secret_b64_encode(in, len, enc, sizeof enc), SF_OK);
		assert_int_equal(sf_secret_b64_decode(enc, back, sizeof back, &n), SF_OK);
		assert_int_equal(n, len);
		assert_memory_equal(back, in, len);
	}
}

struct bad_decode_case {
	const char *in;
	int url; /* 1: decode as base64url, 0: standard */
	int rc;
};

static const struct bad_decode_case bad_decode_cases[] = {
    {"Zg==", 1, SF_EINVAL},  /* padding */
    {"Zg==", 0, SF_EINVAL},  /* padding */
    {"Z", 1, SF_EINVAL},     /* one leftover character */
    {"Zm9vY", 0, SF_EINVAL}, /* five characters */
    {"Zh", 1, SF_EINVAL},    /* non-zero trailing bits: Zh is "f" plus a stray bit */
    {"Zm9", 1, SF_EINVAL},   /* non-zero trailing bits */
    {"+/8", 1, SF_EINVAL},   /* standard alphabet given to the url decoder */
    {"-_8", 0, SF_EINVAL},   /* url alphabet given to the standard decoder */
    {"Zm9v Zm9v", 1, SF_EINVAL}, {" Zm9v", 1, SF_EINVAL},
    {"Zm9v\n", 0, SF_EINVAL},    {"Zm9v\xc3\xa9", 1, SF_EINVAL},
    {"Zm.v", 1, SF_EINVAL},
};

static void
b64_decode_rejects_non_canonical_input(void **state)
{
	unsigned char out[32];
	size_t n;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad_decode_cases); i++) {
		const struct bad_decode_case *c = &bad_decode_cases[i];
		int rc = c->url ? sf_secret_b64url_decode(c->in, out, sizeof out, &n)
		                : sf_secret_b64_decode(c->in, out, sizeof out, &n);
		assert_int_equal(rc, c->rc);
	}
	assert_int_equal(sf_secret_b64url_decode(NULL, out, sizeof out, &n), SF_EINVAL);
	assert_int_equal(sf_secret_b64url_decode("Zm9v", out, sizeof out, NULL), SF_EINVAL);
}

static void
b64_refuses_buffers_too_small(void **state)
{
	char enc[8];
	unsigned char dec[3];
	size_t n;

	(void)state;
	/* "foobar" needs 8 characters and a NUL. */
	assert_int_equal(sf_secret_b64url_encode("foobar", 6, enc, 8), SF_ETOOLONG);
	assert_int_equal(sf_secret_b64url_encode("fooba", 5, enc, 8), SF_OK);
	assert_int_equal(sf_secret_b64url_encode("f", 1, NULL, 8), SF_EINVAL);
	assert_int_equal(sf_secret_b64url_encode(NULL, 1, enc, 8), SF_EINVAL);
	assert_int_equal(sf_secret_b64url_encode(NULL, 0, enc, 8), SF_OK);
	assert_string_equal(enc, "");
	assert_int_equal(sf_secret_b64url_decode("Zm9vYg", dec, sizeof dec, &n), SF_ETOOLONG);
	assert_int_equal(sf_secret_b64url_decode("Zm9v", dec, sizeof dec, &n), SF_OK);
	assert_int_equal(n, 3);
}

static void
hex_encodes_lower_case(void **state)
{
	char out[16];

	(void)state;
	assert_int_equal(sf_secret_hex_encode("\x00\x01\xab\xff", 4, out, sizeof out), SF_OK);
	assert_string_equal(out, "0001abff");
	assert_int_equal(sf_secret_hex_encode("", 0, out, sizeof out), SF_OK);
	assert_string_equal(out, "");
	assert_int_equal(sf_secret_hex_encode("\x01\x02", 2, out, 4), SF_ETOOLONG);
	assert_int_equal(sf_secret_hex_encode("\x01\x02", 2, out, 5), SF_OK);
	assert_int_equal(sf_secret_hex_encode(NULL, 2, out, 5), SF_EINVAL);
}

static void
random_fills_and_differs(void **state)
{
	unsigned char a[32], b[32], zero[32];

	(void)state;
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	memset(zero, 0, sizeof zero);
	assert_int_equal(sf_secret_random(a, sizeof a), SF_OK);
	assert_int_equal(sf_secret_random(b, sizeof b), SF_OK);
	assert_memory_not_equal(a, zero, sizeof a);
	assert_memory_not_equal(a, b, sizeof a);
	assert_int_equal(sf_secret_random(NULL, 0), SF_OK);
	assert_int_equal(sf_secret_random(NULL, 1), SF_EINVAL);
	assert_int_equal(sf_secret_random(a, (size_t)INT32_MAX + 1), SF_ERANGE);
}

static void
token_new_makes_bare_43_char_session_tokens(void **state)
{
	char a[SF_SECRET_TOKEN_BUFSZ], b[SF_SECRET_TOKEN_BUFSZ];

	(void)state;
	assert_int_equal(sf_secret_token_new(a, sizeof a, NULL), SF_OK);
	assert_int_equal(sf_secret_token_new(b, sizeof b, ""), SF_OK);
	assert_int_equal(strlen(a), 43);
	assert_int_equal(strlen(b), 43);
	assert_string_not_equal(a, b);
	assert_int_equal(
	    strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	assert_int_equal(sf_secret_token_check(a, NULL), SF_OK);
	assert_int_equal(sf_secret_token_check(b, ""), SF_OK);
}

static void
token_new_prefixes_api_keys(void **state)
{
	char k[SF_SECRET_TOKEN_BUFSZ];

	(void)state;
	assert_int_equal(sf_secret_token_new(k, sizeof k, SF_SECRET_API_KEY_PREFIX), SF_OK);
	assert_int_equal(strlen(k), 4 + 43);
	assert_memory_equal(k, "sfk_", 4);
	assert_int_equal(sf_secret_token_check(k, SF_SECRET_API_KEY_PREFIX), SF_OK);
	/* An API key is not a session token and the other way round. */
	assert_int_equal(sf_secret_token_check(k, NULL), SF_EINVAL);
	assert_int_equal(sf_secret_token_check(k + 4, SF_SECRET_API_KEY_PREFIX), SF_EINVAL);
}

static void
token_new_refuses_bad_prefix_and_small_buffer(void **state)
{
	char k[SF_SECRET_TOKEN_BUFSZ];

	(void)state;
	assert_int_equal(sf_secret_token_new(k, sizeof k, "SFK_"), SF_EINVAL);
	assert_int_equal(sf_secret_token_new(k, sizeof k, "a b"), SF_EINVAL);
	assert_int_equal(sf_secret_token_new(k, sizeof k, "abcdefghijklmnopq"), SF_EINVAL);
	assert_int_equal(sf_secret_token_new(k, sizeof k, "abcdefghijklmnop"), SF_OK);
	assert_int_equal(strlen(k), 16 + 43);
	assert_int_equal(sf_secret_token_new(k, 43, NULL), SF_ETOOLONG);
	assert_int_equal(sf_secret_token_new(k, 44, NULL), SF_OK);
	assert_int_equal(sf_secret_token_new(k, 47, "sfk_"), SF_ETOOLONG);
	assert_int_equal(sf_secret_token_new(NULL, 44, NULL), SF_EINVAL);
}

static void
token_check_rejects_malformed_tokens(void **state)
{
	static const char *const bad[] = {
	    "",
	    "sfk_",
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 42 */
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 */
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+",  /* standard alphabet */
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",  /* padding */
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB",  /* stray trailing bits */
	    "AAAAAAAAAAAAAAAAAAAA AAAAAAAAAAAAAAAAAAAAAA",
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		assert_int_equal(sf_secret_token_check(bad[i], NULL), SF_EINVAL);
	assert_int_equal(sf_secret_token_check("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE", NULL),
	                 SF_OK);
	assert_int_equal(sf_secret_token_check(NULL, NULL), SF_EINVAL);
}

static void
hash_is_sha256_hex_of_the_whole_token(void **state)
{
	char hex[SF_SECRET_HASH_HEX + 1];

	(void)state;
	/* FIPS 180-2 vector and the hash of the empty string. */
	assert_int_equal(sf_secret_hash("abc", hex), SF_OK);
	assert_string_equal(hex,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(sf_secret_hash("", hex), SF_OK);
	assert_string_equal(hex,
	                    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	/* printf 'sfk_abc' | sha256sum: the prefix is part of what is hashed. */
	assert_int_equal(sf_secret_hash("sfk_abc", hex), SF_OK);
	assert_string_equal(hex,
	                    "3b0ef948495c5cf1b99872f4f7e2eaeba39c1ad2992fbfc0d5e09dedc6537878");
	assert_int_equal(sf_secret_hash(NULL, hex), SF_EINVAL);
	assert_int_equal(sf_secret_hash("abc", NULL), SF_EINVAL);
}

static void
equal_compares_bytes(void **state)
{
	(void)state;
	assert_true(sf_secret_equal("abcd", "abcd", 4));
	assert_false(sf_secret_equal("abcd", "abce", 4));
	assert_false(sf_secret_equal("\x00"
	                             "bcd",
	                             "\x01"
	                             "bcd",
	                             4));
	assert_true(sf_secret_equal("abcd", "abce", 3));
	assert_true(sf_secret_equal(NULL, NULL, 0));
	assert_false(sf_secret_equal(NULL, "a", 1));
	assert_false(sf_secret_equal("a", NULL, 1));
}

struct streq_case {
	const char *a;
	const char *b;
	bool equal;
};

static const struct streq_case streq_cases[] = {
    {"", "", true},
    {"token", "token", true},
    {"token", "tokeN", false},
    {"token", "Token", false},
    {"token", "toke", false},
    {"toke", "token", false},
    {"", "x", false},
    {"x", "", false},
    {"abc\xff", "abc\xff", true},
    {"abc\xff", "abc\xfe", false},
};

static void
streq_compares_strings_of_any_length(void **state)
{
	char *a, *b;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(streq_cases); i++)
		assert_int_equal(sf_secret_streq(streq_cases[i].a, streq_cases[i].b),
		                 streq_cases[i].equal);
	assert_false(sf_secret_streq(NULL, "a"));
	assert_false(sf_secret_streq("a", NULL));
	assert_false(sf_secret_streq(NULL, NULL));

	/* Long strings that differ only in the last byte, and a prefix of one. */
	a = malloc(100001);
	b = malloc(100001);
	assert_non_null(a);
	assert_non_null(b);
	memset(a, 'q', 100000);
	memset(b, 'q', 100000);
	a[100000] = b[100000] = '\0';
	assert_true(sf_secret_streq(a, b));
	b[99999] = 'r';
	assert_false(sf_secret_streq(a, b));
	b[99999] = '\0';
	assert_false(sf_secret_streq(a, b));
	assert_false(sf_secret_streq(b, a));
	free(a);
	free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(b64_encodes_rfc4648_vectors_unpadded),
	    cmocka_unit_test(b64_decodes_rfc4648_vectors_back),
	    cmocka_unit_test(b64_roundtrips_every_length_and_byte),
	    cmocka_unit_test(b64_decode_rejects_non_canonical_input),
	    cmocka_unit_test(b64_refuses_buffers_too_small),
	    cmocka_unit_test(hex_encodes_lower_case),
	    cmocka_unit_test(random_fills_and_differs),
	    cmocka_unit_test(token_new_makes_bare_43_char_session_tokens),
	    cmocka_unit_test(token_new_prefixes_api_keys),
	    cmocka_unit_test(token_new_refuses_bad_prefix_and_small_buffer),
	    cmocka_unit_test(token_check_rejects_malformed_tokens),
	    cmocka_unit_test(hash_is_sha256_hex_of_the_whole_token),
	    cmocka_unit_test(equal_compares_bytes),
	    cmocka_unit_test(streq_compares_strings_of_any_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
