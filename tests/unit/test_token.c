/*
 * Unit tests of reply tokens: a fixed vector computed outside this code, round
 * trips, every altered character refused, key rotation, and tokens that look
 * random and say nothing about the ids they carry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <safety/error.h>
#include <safety/reply.h>
#include <safety/token.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* 32 bytes 00 01 .. 1f, the secret of the fixed vector. */
#define SECRET_HEX "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
/* The same bytes in base64, padded, and in base64url unpadded. */
#define SECRET_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define SECRET_B64URL "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
/* The token of (42, 1234567) under key 3 of SECRET_HEX. */
#define TOKEN_VECTOR "nPcZqAjhcdKfvrljW7t6vT"
/* Another secret, for a second key. */
#define OTHER_HEX "f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Makes a keyring with the fixed secret under key_id. */
static struct sf_token_keyring *
ring_with(unsigned key_id, const char *secret)
{
	struct sf_token_keyring *ring = NULL;
	char err[128];

	assert_int_equal(sf_token_keyring_new(&ring), SF_OK);
	assert_non_null(ring);
	assert_int_equal(sf_token_keyring_add(ring, key_id, secret, err, sizeof err), SF_OK);
	return ring;
}

/*
 * The vector was computed with Python's cryptography package from token.md's
 * description (HKDF-SHA256, HMAC-SHA256, AES-256 on one block), not from this
 * code, so a change of format cannot pass unnoticed.
 */
static void
token_matches_independent_vector(void **state)
{
	struct sf_token_keyring *ring = ring_with(3, SECRET_HEX);
	char out[SF_TOKEN_SIZE];
	int64_t crisis = 0, national = 0;

	(void)state;
	assert_int_equal(sf_token_make(ring, 3, 42, 1234567, out), SF_OK);
	assert_string_equal(out, TOKEN_VECTOR);
	assert_int_equal(sf_token_open(ring, TOKEN_VECTOR, &crisis, &national), SF_OK);
	assert_int_equal(crisis, 42);
	assert_int_equal(national, 1234567);
	sf_token_keyring_free(ring);
}

static void
token_is_22_base64url_characters_with_both_cases_usually(void **state)
{
	struct sf_token_keyring *ring = ring_with(0, SECRET_HEX);
	char out[SF_TOKEN_SIZE];

	(void)state;
	assert_int_equal(SF_TOKEN_LEN, SF_REPLY_TOKEN_LEN);
	for (int64_t n = 1; n <= 200; n++) {
		assert_int_equal(sf_token_make(ring, 0, 7, n, out), SF_OK);
		assert_int_equal(strlen(out), SF_TOKEN_LEN);
		assert_int_equal(strspn(out, b64url), SF_TOKEN_LEN);
	}
	sf_token_keyring_free(ring);
}

struct id_case {
	int64_t crisis;
	int64_t national;
};

static const struct id_case id_cases[] = {
    {0, 0},
    {1, 1},
    {42, 1234567},
    {SF_TOKEN_CRISIS_MAX, SF_TOKEN_NATIONAL_MAX},
    {SF_TOKEN_CRISIS_MAX, 0},
    {0, SF_TOKEN_NATIONAL_MAX},
    {70000, 9000000000},
};

static void
token_round_trips_ids_under_every_key_id(void **state)
{
	struct sf_token_keyring *ring = NULL;
	char out[SF_TOKEN_SIZE], err[128];
	int64_t crisis, national;
	unsigned kid;

	(void)state;
	assert_int_equal(sf_token_keyring_new(&ring), SF_OK);
	for (unsigned k = 0; k < SF_TOKEN_KEYS; k++)
		assert_int_equal(sf_token_keyring_add(ring, k, SECRET_HEX, err, sizeof err), SF_OK);
	for (unsigned k = 0; k < SF_TOKEN_KEYS; k++) {
		for (size_t i = 0; i < N_ELEMS(id_cases); i++) {
			assert_int_equal(
			    sf_token_make(ring, k, id_cases[i].crisis, id_cases[i].national, out),
			    SF_OK);
			crisis = national = -1;
			assert_int_equal(sf_token_open(ring, out, &crisis, &national), SF_OK);
			assert_int_equal(crisis, id_cases[i].crisis);
			assert_int_equal(national, id_cases[i].national);
			assert_int_equal(sf_token_key_id(out, &kid), SF_OK);
			assert_int_equal(kid, k);
		}
	}
	sf_token_keyring_free(ring);
}

static void
token_is_the_same_for_the_same_pair(void **state)
{
	struct sf_token_keyring *ring = ring_with(1, SECRET_HEX);
	char a[SF_TOKEN_SIZE], b[SF_TOKEN_SIZE];

	(void)state;
	assert_int_equal(sf_token_make(ring, 1, 5, 77, a), SF_OK);
	assert_int_equal(sf_token_make(ring, 1, 5, 77, b), SF_OK);
	assert_string_equal(a, b);
	sf_token_keyring_free(ring);
}

static void
token_rejects_every_single_character_change(void **state)
{
	struct sf_token_keyring *ring = ring_with(2, SECRET_HEX);
	char good[SF_TOKEN_SIZE], bad[SF_TOKEN_SIZE];
	int64_t crisis = -1, national = -1;

	(void)state;
	assert_int_equal(sf_token_make(ring, 2, 9, 31337, good), SF_OK);
	for (size_t pos = 0; pos < SF_TOKEN_LEN; pos++) {
		/* Every other base64url character, and a few that are not base64url. */
		for (size_t c = 0; c < 64 + 6; c++) {
			char repl = c < 64 ? b64url[c] : "+/=. \x80"[c - 64];

			if (repl == good[pos])
				continue;
			memcpy(bad, good, sizeof bad);
			bad[pos] = repl;
			assert_int_equal(sf_token_open(ring, bad, &crisis, &national),
			                 SF_EMISMATCH);
		}
	}
	assert_int_equal(crisis, -1);
	assert_int_equal(national, -1);
	sf_token_keyring_free(ring);
}

static void
token_rejects_wrong_lengths_and_garbage(void **state)
{
	struct sf_token_keyring *ring = ring_with(0, SECRET_HEX);
	char good[SF_TOKEN_SIZE], longer[SF_TOKEN_SIZE + 1];
	int64_t crisis, national;
	static const char *const garbage[] = {
	    "",
	    "A",
	    "AAAAAAAAAAAAAAAAAAAAAA",
	    "______________________",
	    "AAAAAAAAAAAAAAAAAAAAAAA",
	    "AAAAAAAAAAAAAAAAAAAAA",
	    "AAAAAAAAAAAAAAAAAAAA==",
	    "한국어토큰은없습니다",
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(garbage); i++)
		assert_int_equal(sf_token_open(ring, garbage[i], &crisis, &national), SF_EMISMATCH);
	assert_int_equal(sf_token_make(ring, 0, 1, 2, good), SF_OK);
	/* A good token with a character more or less. */
	snprintf(longer, sizeof longer, "%sA", good);
	assert_int_equal(sf_token_open(ring, longer, &crisis, &national), SF_EMISMATCH);
	good[SF_TOKEN_LEN - 1] = '\0';
	assert_int_equal(sf_token_open(ring, good, &crisis, &national), SF_EMISMATCH);
	assert_int_equal(sf_token_open(NULL, good, &crisis, &national), SF_EINVAL);
	assert_int_equal(sf_token_open(ring, NULL, &crisis, &national), SF_EINVAL);
	assert_int_equal(sf_token_open(ring, good, NULL, &national), SF_EINVAL);
	sf_token_keyring_free(ring);
}

static void
token_of_unknown_key_id_is_rejected(void **state)
{
	struct sf_token_keyring *a = ring_with(4, SECRET_HEX), *b = ring_with(5, SECRET_HEX);
	char out[SF_TOKEN_SIZE];
	int64_t crisis, national;

	(void)state;
	assert_int_equal(sf_token_make(a, 4, 1, 2, out), SF_OK);
	/* Same secret, other id: the keys differ and the id is not in b. */
	assert_int_equal(sf_token_open(b, out, &crisis, &national), SF_EMISMATCH);
	assert_int_equal(sf_token_make(a, 5, 1, 2, out), SF_ENOTFOUND);
	assert_string_equal(out, "");
	assert_int_equal(sf_token_make(a, SF_TOKEN_KEYS, 1, 2, out), SF_ENOTFOUND);
	sf_token_keyring_free(a);
	sf_token_keyring_free(b);
}

static void
token_of_other_secret_under_same_id_is_rejected(void **state)
{
	struct sf_token_keyring *a = ring_with(1, SECRET_HEX), *b = ring_with(1, OTHER_HEX);
	char out[SF_TOKEN_SIZE];
	int64_t crisis, national;

	(void)state;
	assert_int_equal(sf_token_make(a, 1, 100, 200, out), SF_OK);
	assert_int_equal(sf_token_open(b, out, &crisis, &national), SF_EMISMATCH);
	sf_token_keyring_free(a);
	sf_token_keyring_free(b);
}

static void
rotation_keeps_old_tokens_valid_until_their_key_is_dropped(void **state)
{
	struct sf_token_keyring *ring = ring_with(0, SECRET_HEX), *next = NULL;
	char old[SF_TOKEN_SIZE], fresh[SF_TOKEN_SIZE], err[128];
	int64_t crisis, national;

	(void)state;
	assert_int_equal(sf_token_make(ring, 0, 3, 4, old), SF_OK);
	/* Rotate: key 1 is added and used for new tokens; key 0 still opens old ones. */
	assert_int_equal(sf_token_keyring_add(ring, 1, OTHER_HEX, err, sizeof err), SF_OK);
	assert_int_equal(sf_token_make(ring, 1, 3, 4, fresh), SF_OK);
	assert_string_not_equal(old, fresh);
	assert_int_equal(sf_token_open(ring, old, &crisis, &national), SF_OK);
	assert_int_equal(sf_token_open(ring, fresh, &crisis, &national), SF_OK);
	assert_int_equal(crisis, 3);
	assert_int_equal(national, 4);
	/* Retire key 0: a ring loaded without it refuses the old token. */
	assert_int_equal(sf_token_keyring_new(&next), SF_OK);
	assert_int_equal(sf_token_keyring_add(next, 1, OTHER_HEX, err, sizeof err), SF_OK);
	assert_int_equal(sf_token_open(next, old, &crisis, &national), SF_EMISMATCH);
	assert_int_equal(sf_token_open(next, fresh, &crisis, &national), SF_OK);
	sf_token_keyring_free(ring);
	sf_token_keyring_free(next);
}

/* Returns how many leading characters two strings share. */
static size_t
common_prefix(const char *a, const char *b)
{
	size_t n = 0;

	while (a[n] != '\0' && a[n] == b[n])
		n++;
	return n;
}

static void
tokens_of_neighbouring_ids_share_no_visible_structure(void **state)
{
	enum { N = 2000 };
	struct sf_token_keyring *ring = ring_with(7, SECRET_HEX);
	static char tokens[N][SF_TOKEN_SIZE];
	unsigned ones[132] = {0};
	size_t longest = 0;

	(void)state;
	/* Half the people of one crisis, half one person across crises. */
	for (int i = 0; i < N; i++) {
		if (i < N / 2)
			assert_int_equal(sf_token_make(ring, 7, 12, 5000 + i, tokens[i]), SF_OK);
		else
			assert_int_equal(sf_token_make(ring, 7, i, 5000, tokens[i]), SF_OK);
	}
	for (int i = 0; i < N; i++) {
		for (int j = i + 1; j < N; j++) {
			size_t p = common_prefix(tokens[i], tokens[j]);

			assert_string_not_equal(tokens[i], tokens[j]);
			if (p > longest)
				longest = p;
		}
		for (int c = 0; c < SF_TOKEN_LEN; c++) {
			int v = (int)(strchr(b64url, tokens[i][c]) - b64url);

			for (int b = 0; b < 6; b++)
				ones[6 * c + b] += (unsigned)(v >> (5 - b)) & 1u;
		}
	}
	/*
	 * Among 2,000,000 pairs of random 6-bit strings, a shared prefix of 4
	 * characters (2^-24 each) is already unlikely; of 5 it would mean structure.
	 */
	assert_true(longest <= 4);
	/* Each of the 128 cipher bits is set about half the time; the last 4 are the key id 7. */
	for (int b = 0; b < 128; b++)
		assert_true(ones[b] > N * 40 / 100 && ones[b] < N * 60 / 100);
	assert_int_equal(ones[128], 0);
	assert_int_equal(ones[129], N);
	assert_int_equal(ones[130], N);
	assert_int_equal(ones[131], N);
	sf_token_keyring_free(ring);
}

static void
make_refuses_ids_out_of_range(void **state)
{
	struct sf_token_keyring *ring = ring_with(0, SECRET_HEX);
	char out[SF_TOKEN_SIZE];

	(void)state;
	assert_int_equal(sf_token_make(ring, 0, -1, 1, out), SF_ERANGE);
	assert_int_equal(sf_token_make(ring, 0, 1, -1, out), SF_ERANGE);
	assert_int_equal(sf_token_make(ring, 0, SF_TOKEN_CRISIS_MAX + 1, 1, out), SF_ERANGE);
	assert_int_equal(sf_token_make(ring, 0, 1, SF_TOKEN_NATIONAL_MAX + 1, out), SF_ERANGE);
	assert_int_equal(sf_token_make(ring, 0, INT64_MAX, INT64_MIN, out), SF_ERANGE);
	assert_string_equal(out, "");
	assert_int_equal(sf_token_make(NULL, 0, 1, 1, out), SF_EINVAL);
	assert_int_equal(sf_token_make(ring, 0, 1, 1, NULL), SF_EINVAL);
	sf_token_keyring_free(ring);
}

struct secret_case {
	const char *secret;
	int rc;
	const char *message; /* a part of the error message, or NULL */
};

static const struct secret_case secret_cases[] = {
    {SECRET_HEX, SF_OK, NULL},
    {"  " SECRET_HEX "\n", SF_OK, NULL},
    {SECRET_B64, SF_OK, NULL},
    {SECRET_B64URL, SF_OK, NULL},
    {"000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F", SF_OK, NULL},
    {"", SF_EINVAL, "empty"},
    {"   ", SF_EINVAL, "empty"},
    {"00010203", SF_EINVAL, "too short"},
    {"c2VjcmV0", SF_EINVAL, "too short"},
    {"this is not a key, it is a sentence with spaces", SF_EINVAL, "neither hex nor base64"},
    {SECRET_B64 "==", SF_EINVAL, "neither"},
};

static void
keyring_reads_hex_and_base64_secrets(void **state)
{
	struct sf_token_keyring *ring = NULL;
	char err[128];

	(void)state;
	assert_int_equal(sf_token_keyring_new(&ring), SF_OK);
	for (size_t i = 0; i < N_ELEMS(secret_cases); i++) {
		err[0] = '\0';
		assert_int_equal(
		    sf_token_keyring_add(ring, 0, secret_cases[i].secret, err, sizeof err),
		    secret_cases[i].rc);
		if (secret_cases[i].message != NULL)
			assert_non_null(strstr(err, secret_cases[i].message));
	}
	assert_int_equal(sf_token_keyring_add(ring, SF_TOKEN_KEYS, SECRET_HEX, err, sizeof err),
	                 SF_ERANGE);
	assert_int_equal(sf_token_keyring_add(NULL, 0, SECRET_HEX, err, sizeof err), SF_EINVAL);
	assert_int_equal(sf_token_keyring_add(ring, 0, NULL, err, sizeof err), SF_EINVAL);
	sf_token_keyring_free(ring);
	sf_token_keyring_free(NULL);
}

static void
hex_and_base64_of_one_secret_give_the_same_tokens(void **state)
{
	struct sf_token_keyring *a = ring_with(0, SECRET_HEX), *b = ring_with(0, SECRET_B64),
	                        *c = ring_with(0, SECRET_B64URL);
	char ta[SF_TOKEN_SIZE], tb[SF_TOKEN_SIZE], tc[SF_TOKEN_SIZE];

	(void)state;
	assert_int_equal(sf_token_make(a, 0, 8, 9, ta), SF_OK);
	assert_int_equal(sf_token_make(b, 0, 8, 9, tb), SF_OK);
	assert_int_equal(sf_token_make(c, 0, 8, 9, tc), SF_OK);
	assert_string_equal(ta, tb);
	assert_string_equal(ta, tc);
	sf_token_keyring_free(a);
	sf_token_keyring_free(b);
	sf_token_keyring_free(c);
}

static void
raw_secret_length_is_checked(void **state)
{
	struct sf_token_keyring *ring = NULL;
	unsigned char secret[SF_TOKEN_SECRET_MAX + 1] = {0};
	char err[128];

	(void)state;
	assert_int_equal(sf_token_keyring_new(&ring), SF_OK);
	assert_int_equal(
	    sf_token_keyring_add_raw(ring, 0, secret, SF_TOKEN_SECRET_MIN - 1, err, sizeof err),
	    SF_EINVAL);
	assert_int_equal(sf_token_keyring_has(ring, 0), 0);
	assert_int_equal(
	    sf_token_keyring_add_raw(ring, 0, secret, SF_TOKEN_SECRET_MAX + 1, err, sizeof err),
	    SF_EINVAL);
	assert_int_equal(
	    sf_token_keyring_add_raw(ring, 0, secret, SF_TOKEN_SECRET_MAX, err, sizeof err), SF_OK);
	assert_int_equal(sf_token_keyring_has(ring, 0), 1);
	assert_int_equal(sf_token_keyring_has(ring, 1), 0);
	assert_int_equal(sf_token_keyring_has(NULL, 0), 0);
	sf_token_keyring_free(ring);
}

static void
key_id_is_read_from_the_last_character(void **state)
{
	unsigned kid = 99;

	(void)state;
	assert_int_equal(sf_token_key_id("AAAAAAAAAAAAAAAAAAAAAP", &kid), SF_OK);
	assert_int_equal(kid, 15);
	assert_int_equal(sf_token_key_id("AAAAAAAAAAAAAAAAAAAAA_", &kid), SF_OK);
	assert_int_equal(kid, 15);
	assert_int_equal(sf_token_key_id("AAAAAAAAAAAAAAAAAAAAAQ", &kid), SF_OK);
	assert_int_equal(kid, 0);
	assert_int_equal(sf_token_key_id("AAAAAAAAAAAAAAAAAAAA+A", &kid), SF_EINVAL);
	assert_int_equal(sf_token_key_id("AAAA", &kid), SF_EINVAL);
}

/* Prints how long making and opening take, for token.md; asserts only that it is not absurd. */
static void
make_and_open_are_fast_enough_for_a_million_people(void **state)
{
	enum { N = 20000 };
	struct sf_token_keyring *ring = ring_with(0, SECRET_HEX);
	char out[SF_TOKEN_SIZE];
	int64_t crisis, national;
	struct timespec t0, t1, t2;
	double make_us, open_us;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < N; i++)
		assert_int_equal(sf_token_make(ring, 0, 1, i, out), SF_OK);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int i = 0; i < N; i++)
		assert_int_equal(sf_token_open(ring, out, &crisis, &national), SF_OK);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	make_us =
	    ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / 1e3 / N;
	open_us =
	    ((double)(t2.tv_sec - t1.tv_sec) * 1e9 + (double)(t2.tv_nsec - t1.tv_nsec)) / 1e3 / N;
	printf("token: make %.2f us, open %.2f us per token\n", make_us, open_us);
	assert_true(make_us < 1000 && open_us < 1000);
	sf_token_keyring_free(ring);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(token_matches_independent_vector),
	    cmocka_unit_test(token_is_22_base64url_characters_with_both_cases_usually),
	    cmocka_unit_test(token_round_trips_ids_under_every_key_id),
	    cmocka_unit_test(token_is_the_same_for_the_same_pair),
	    cmocka_unit_test(token_rejects_every_single_character_change),
	    cmocka_unit_test(token_rejects_wrong_lengths_and_garbage),
	    cmocka_unit_test(token_of_unknown_key_id_is_rejected),
	    cmocka_unit_test(token_of_other_secret_under_same_id_is_rejected),
	    cmocka_unit_test(rotation_keeps_old_tokens_valid_until_their_key_is_dropped),
	    cmocka_unit_test(tokens_of_neighbouring_ids_share_no_visible_structure),
	    cmocka_unit_test(make_refuses_ids_out_of_range),
	    cmocka_unit_test(keyring_reads_hex_and_base64_secrets),
	    cmocka_unit_test(hex_and_base64_of_one_secret_give_the_same_tokens),
	    cmocka_unit_test(raw_secret_length_is_checked),
	    cmocka_unit_test(key_id_is_read_from_the_last_character),
	    cmocka_unit_test(make_and_open_are_fast_enough_for_a_million_people),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
