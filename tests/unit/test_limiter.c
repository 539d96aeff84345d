/*
 * Unit tests of token buckets and the per-address
 * table. Times are chosen as binary fractions so refills are exact.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <safety/limiter.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static void
bucket_init_rejects_bad_parameters(void **state)
{
	struct sf_bucket b;

	(void)state;
	assert_int_equal(sf_bucket_init(&b, 1, 1, 0), SF_OK);
	assert_int_equal(sf_bucket_init(&b, 0, 5, 0), SF_OK);
	assert_int_equal(sf_bucket_init(&b, -1, 5, 0), SF_EINVAL);
	assert_int_equal(sf_bucket_init(&b, NAN, 5, 0), SF_EINVAL);
	assert_int_equal(sf_bucket_init(&b, INFINITY, 5, 0), SF_EINVAL);
	assert_int_equal(sf_bucket_init(&b, 1, 0, 0), SF_EINVAL);
	assert_int_equal(sf_bucket_init(&b, 1, -2, 0), SF_EINVAL);
	assert_int_equal(sf_bucket_init(&b, 1, INFINITY, 0), SF_EINVAL);
	assert_int_equal(sf_bucket_init(&b, 1, 1, NAN), SF_EINVAL);
	assert_int_equal(sf_bucket_init(NULL, 1, 1, 0), SF_EINVAL);
}

/* One step of a bucket's life: at time now, take cost, expect this answer. */
struct bucket_step {
	double now;
	double cost;
	bool taken;
};

/* Checks a sequence of steps against a bucket made with rate and burst at time 100. */
static void
run_steps(double rate, double burst, const struct bucket_step *steps, size_t n)
{
	struct sf_bucket b;

	assert_int_equal(sf_bucket_init(&b, rate, burst, 100), SF_OK);
	for (size_t i = 0; i < n; i++) {
		if (sf_bucket_take(&b, steps[i].now, steps[i].cost) != steps[i].taken)
			fail_msg("step %zu: at %g cost %g: want %s", i, steps[i].now, steps[i].cost,
			         steps[i].taken ? "taken" : "refused");
	}
}

static void
bucket_starts_full_and_refills_at_rate(void **state)
{
	/* clang-format off */
	static const struct bucket_step steps[] = {
		{100,    1, true},
		{100,    1, true},
		{100,    1, true},
		{100,    1, false},
		{100.25, 1, false}, /* 0.5 token */
		{100.5,  1, true},  /* 1 token */
		{100.5,  1, false},
		{101.5,  2, true},
		{101.5,  0, true},  /* nothing costs nothing */
		{1000,   3, true},  /* idle for long: only the burst */
		{1000,   1, false},
	};
	/* clang-format on */

	(void)state;
	run_steps(2, 3, steps, N_ELEMS(steps));
}

static void
bucket_time_going_backwards_mints_nothing(void **state)
{
	/* clang-format off */
	static const struct bucket_step steps[] = {
		{100,    2, true},
		{50,     1, false}, /* back in time: no tokens, and the bucket's time stays */
		{99.75,  1, false}, /* still before the bucket's time */
		{100.25, 1, false}, /* 0.5 token since 100, not since 50 */
		{100.5,  1, true},  /* 1 token since 100 */
		{-1e300, 1, false}, /* absurdly far back */
		{101,    1, true},  /* refills count from 100.5 */
		{101,    1, false},
	};
	/* clang-format on */

	(void)state;
	run_steps(2, 2, steps, N_ELEMS(steps));
}

static void
bucket_refuses_costs_that_would_mint_or_never_fit(void **state)
{
	/* clang-format off */
	static const struct bucket_step steps[] = {
		{100,      2,        true},
		{100,      -5,       false}, /* a negative cost would add tokens */
		{100,      1,        false}, /* and indeed none were added */
		{100,      NAN,      false},
		{100,      INFINITY, false},
		{200,      3,        false}, /* more than the burst: could never be taken */
		{NAN,      1,        false},
		{INFINITY, 1,        false},
		{200,      2,        true},  /* the bad times did not break the bucket */
	};
	/* clang-format on */

	(void)state;
	run_steps(1, 2, steps, N_ELEMS(steps));
	assert_false(sf_bucket_take(NULL, 1, 1));
}

static void
bucket_wait_says_when_to_retry(void **state)
{
	struct sf_bucket b;

	(void)state;
	assert_int_equal(sf_bucket_init(&b, 2, 2, 100), SF_OK);
	assert_true(sf_bucket_wait(&b, 100, 1) == 0);
	assert_true(sf_bucket_take(&b, 100, 2));
	assert_true(sf_bucket_wait(&b, 100, 1) == 0.5);
	assert_true(sf_bucket_wait(&b, 100, 2) == 1.0);
	assert_true(sf_bucket_wait(&b, 100.25, 1) == 0.25);
	/* Back in time: wait until the bucket's time again, then the refill. */
	assert_true(sf_bucket_wait(&b, 99, 1) == 1.5);
	assert_true(isinf(sf_bucket_wait(&b, 100, 3)));
	assert_true(isinf(sf_bucket_wait(&b, 100, -1)));
	assert_true(isinf(sf_bucket_wait(NULL, 100, 1)));
	/* Waiting changed nothing. */
	assert_false(sf_bucket_take(&b, 100.25, 1));
	assert_int_equal(sf_bucket_init(&b, 0, 1, 0), SF_OK);
	assert_true(sf_bucket_take(&b, 0, 1));
	assert_true(isinf(sf_bucket_wait(&b, 1e9, 1)));
}

static void
ratetable_new_rejects_bad_parameters(void **state)
{
	struct sf_ratetable *t = NULL;

	(void)state;
	assert_int_equal(sf_ratetable_new(0, 1, 1, &t), SF_EINVAL);
	assert_int_equal(sf_ratetable_new(SF_RATETABLE_CAPACITY_MAX + 1, 1, 1, &t), SF_EINVAL);
	assert_int_equal(sf_ratetable_new(10, -1, 1, &t), SF_EINVAL);
	assert_int_equal(sf_ratetable_new(10, 1, 0, &t), SF_EINVAL);
	assert_int_equal(sf_ratetable_new(10, NAN, 1, &t), SF_EINVAL);
	assert_int_equal(sf_ratetable_new(10, 1, 1, NULL), SF_EINVAL);
	assert_null(t);
	sf_ratetable_free(NULL);
	assert_int_equal(sf_ratetable_size(NULL), 0);
}

static void
ratetable_limits_each_address_alone(void **state)
{
	struct sf_ratetable *t;

	(void)state;
	assert_int_equal(sf_ratetable_new(16, 1, 2, &t), SF_OK);
	assert_true(sf_ratetable_take(t, "192.0.2.1", 10));
	assert_true(sf_ratetable_take(t, "192.0.2.1", 10));
	assert_false(sf_ratetable_take(t, "192.0.2.1", 10));
	assert_true(sf_ratetable_take(t, "192.0.2.2", 10));
	assert_false(sf_ratetable_take(t, "192.0.2.1", 10.5));
	assert_true(sf_ratetable_take(t, "192.0.2.1", 11));
	assert_false(sf_ratetable_take(t, "192.0.2.1", 11));
	/* Back in time mints nothing here either. */
	assert_false(sf_ratetable_take(t, "192.0.2.1", 5));
	assert_int_equal(sf_ratetable_size(t), 2);
	sf_ratetable_free(t);
}

static void
ratetable_refuses_bad_keys(void **state)
{
	struct sf_ratetable *t;
	char key[SF_RATETABLE_KEY_MAX + 1];

	(void)state;
	assert_int_equal(sf_ratetable_new(4, 1, 5, &t), SF_OK);
	assert_false(sf_ratetable_take(t, NULL, 1));
	assert_false(sf_ratetable_take(t, "", 1));
	assert_false(sf_ratetable_take(t, "192.0.2.1", NAN));
	assert_false(sf_ratetable_take(NULL, "192.0.2.1", 1));
	memset(key, 'k', sizeof key);
	key[SF_RATETABLE_KEY_MAX - 1] = '\0';
	assert_true(sf_ratetable_take(t, key, 1));
	key[SF_RATETABLE_KEY_MAX - 1] = 'k';
	key[SF_RATETABLE_KEY_MAX] = '\0';
	assert_false(sf_ratetable_take(t, key, 1));
	assert_int_equal(sf_ratetable_size(t), 1);
	sf_ratetable_free(t);
}

static void
ratetable_evicts_least_recently_used(void **state)
{
	struct sf_ratetable *t;

	(void)state;
	/* Rate 0, burst 1: a remembered key is refused, a forgotten one starts afresh. */
	assert_int_equal(sf_ratetable_new(3, 0, 1, &t), SF_OK);
	assert_true(sf_ratetable_take(t, "a", 1));
	assert_true(sf_ratetable_take(t, "b", 2));
	assert_true(sf_ratetable_take(t, "c", 3));
	assert_false(sf_ratetable_take(t, "a", 4)); /* a is now the most recent */
	assert_true(sf_ratetable_take(t, "d", 5));  /* evicts b */
	assert_int_equal(sf_ratetable_size(t), 3);
	assert_false(sf_ratetable_take(t, "a", 6));
	assert_false(sf_ratetable_take(t, "c", 7));
	assert_false(sf_ratetable_take(t, "d", 8));
	assert_true(sf_ratetable_take(t, "b", 9));  /* forgotten; evicts a */
	assert_true(sf_ratetable_take(t, "a", 10)); /* forgotten; evicts c */
	assert_false(sf_ratetable_take(t, "d", 11));
	assert_int_equal(sf_ratetable_size(t), 3);
	sf_ratetable_free(t);
}

static void
ratetable_flood_of_addresses_keeps_memory_fixed(void **state)
{
	enum { CAP = 1000, FLOOD = 50000 };
	struct sf_ratetable *t;
	char key[SF_RATETABLE_KEY_MAX];

	(void)state;
	assert_int_equal(sf_ratetable_new(CAP, 0, 1, &t), SF_OK);
	for (int i = 0; i < FLOOD; i++) {
		snprintf(key, sizeof key, "2001:db8:%x:%x::/64", i >> 16, i & 0xffff);
		assert_true(sf_ratetable_take(t, key, i));
	}
	assert_int_equal(sf_ratetable_size(t), CAP);
	/* The newest CAP addresses are all remembered, in whatever order they come back. */
	for (int i = FLOOD - 1; i >= FLOOD - CAP; i -= 7) {
		snprintf(key, sizeof key, "2001:db8:%x:%x::/64", i >> 16, i & 0xffff);
		assert_false(sf_ratetable_take(t, key, FLOOD));
	}
	for (int i = FLOOD - CAP; i < FLOOD; i++) {
		snprintf(key, sizeof key, "2001:db8:%x:%x::/64", i >> 16, i & 0xffff);
		assert_false(sf_ratetable_take(t, key, FLOOD));
	}
	/* An older one was forgotten. */
	assert_true(sf_ratetable_take(t, "2001:db8:0:0::/64", FLOOD));
	assert_int_equal(sf_ratetable_size(t), CAP);
	sf_ratetable_free(t);
}

struct key_case {
	const char *addr;
	int rc;
	const char *key;
};

static const struct key_case key_cases[] = {
    {"192.0.2.1", SF_OK, "192.0.2.1"},
    {"255.255.255.255", SF_OK, "255.255.255.255"},
    {"::ffff:192.0.2.1", SF_OK, "192.0.2.1"},
    {"::FFFF:c000:0201", SF_OK, "192.0.2.1"},
    {"2001:db8:1:2:3:4:5:6", SF_OK, "2001:db8:1:2::/64"},
    {"2001:DB8:0001:0002:ffff:ffff:ffff:ffff", SF_OK, "2001:db8:1:2::/64"},
    {"2001:db8::1", SF_OK, "2001:db8::/64"},
    {"::1", SF_OK, "::/64"},
    {"fe80::1%eth0", SF_EINVAL, NULL},
    {"192.0.2.1:443", SF_EINVAL, NULL},
    {"[2001:db8::1]", SF_EINVAL, NULL},
    {" 192.0.2.1", SF_EINVAL, NULL},
    {"192.0.2.1 ", SF_EINVAL, NULL},
    {"192.0.2", SF_EINVAL, NULL},
    {"256.0.0.1", SF_EINVAL, NULL},
    {"localhost", SF_EINVAL, NULL},
    {"", SF_EINVAL, NULL},
    {"2001:db8:1:2:3:4:5:6:7", SF_EINVAL, NULL},
};

static void
ratetable_key_groups_ipv6_by_64(void **state)
{
	char out[SF_RATETABLE_KEY_MAX];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(key_cases); i++) {
		const struct key_case *c = &key_cases[i];
		if (sf_ratetable_key(c->addr, out, sizeof out) != c->rc)
			fail_msg("key_cases[%zu] \"%s\": want %d", i, c->addr, c->rc);
		if (c->key != NULL)
			assert_string_equal(out, c->key);
	}
	assert_int_equal(sf_ratetable_key(NULL, out, sizeof out), SF_EINVAL);
	assert_int_equal(sf_ratetable_key("192.0.2.1", NULL, sizeof out), SF_EINVAL);
	assert_int_equal(sf_ratetable_key("192.0.2.1", out, sizeof out - 1), SF_ETOOLONG);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bucket_init_rejects_bad_parameters),
	    cmocka_unit_test(bucket_starts_full_and_refills_at_rate),
	    cmocka_unit_test(bucket_time_going_backwards_mints_nothing),
	    cmocka_unit_test(bucket_refuses_costs_that_would_mint_or_never_fit),
	    cmocka_unit_test(bucket_wait_says_when_to_retry),
	    cmocka_unit_test(ratetable_new_rejects_bad_parameters),
	    cmocka_unit_test(ratetable_limits_each_address_alone),
	    cmocka_unit_test(ratetable_refuses_bad_keys),
	    cmocka_unit_test(ratetable_evicts_least_recently_used),
	    cmocka_unit_test(ratetable_flood_of_addresses_keeps_memory_fixed),
	    cmocka_unit_test(ratetable_key_groups_ipv6_by_64),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
