/*
 * Unit tests of password hashing, verification, parameter upgrades and the
 * policy. All but one test use the cheap preset so the suite stays fast.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include <safety/password.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const struct sf_password_params *cheap = &sf_password_params_cheap;

/*
 * Made by Python's hashlib.scrypt, independently of this library:
 *   enc(pw, salt, ln, r, p, dk) = "$scrypt$ln=..,r=..,p=..$" + b64(salt) + "$" +
 *     b64(hashlib.scrypt(pw.encode(), salt=salt, n=1<<ln, r=r, p=p, dklen=dk))
 * with b64 the standard alphabet, '=' stripped.
 */
static const char
    python_vector_1[] = /* "correct horse battery staple", bytes(range(16)), 10, 8, 1, 32 */
    "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODw$mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S/AXJlRU";
static const char
    python_vector_2[] = /* "비밀번호는안전합니다", bytes(range(100,132)), 11, 4, 2, 64 */
    "$scrypt$ln=11,r=4,p=2$ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM$"
    "XXs34Z5wj9woXK+p2nxZbTOipM4FLEty//7EAWr4F3tXmdXW4ic08XD3a+4PjsLn2oNGQI4jUE9/8a3aaNGFng";

static void
password_hash_writes_self_describing_string(void **state)
{
	char enc[SF_PASSWORD_ENCODED_MAX];

	(void)state;
	assert_int_equal(sf_password_hash("correct horse battery staple", cheap, enc, sizeof enc),
	                 SF_OK);
	assert_memory_equal(enc, "$scrypt$ln=10,r=8,p=1$", 22);
	/* 22 characters of salt, '$', 43 of hash. */
	assert_int_equal(strlen(enc), 22 + 22 + 1 + 43);
	assert_int_equal(enc[22 + 22], '$');
	assert_int_equal(
	    strspn(enc + 22, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/$"),
	    22 + 1 + 43);
}

static void
password_verify_accepts_right_password(void **state)
{
	char enc[SF_PASSWORD_ENCODED_MAX];

	(void)state;
	assert_int_equal(sf_password_hash("correct horse battery staple", cheap, enc, sizeof enc),
	                 SF_OK);
	assert_int_equal(sf_password_verify("correct horse battery staple", enc), SF_OK);
}

static void
password_verify_rejects_wrong_password(void **state)
{
	static const char *const wrong[] = {
	    "correct horse battery stapl", "correct horse battery staple ",
	    "Correct horse battery staple", "correct horse battery staplf",
	    "correct horse battery staple\n"};
	char enc[SF_PASSWORD_ENCODED_MAX];

	(void)state;
	assert_int_equal(sf_password_hash("correct horse battery staple", cheap, enc, sizeof enc),
	                 SF_OK);
	for (size_t i = 0; i < N_ELEMS(wrong); i++)
		assert_int_equal(sf_password_verify(wrong[i], enc), SF_EMISMATCH);
}

static void
password_hash_salts_every_hash(void **state)
{
	char a[SF_PASSWORD_ENCODED_MAX], b[SF_PASSWORD_ENCODED_MAX];

	(void)state;
	assert_int_equal(sf_password_hash("the same password twice", cheap, a, sizeof a), SF_OK);
	assert_int_equal(sf_password_hash("the same password twice", cheap, b, sizeof b), SF_OK);
	assert_string_not_equal(a, b);
	assert_int_equal(sf_password_verify("the same password twice", a), SF_OK);
	assert_int_equal(sf_password_verify("the same password twice", b), SF_OK);
}

static void
password_verify_matches_independent_scrypt(void **state)
{
	(void)state;
	assert_int_equal(sf_password_verify("correct horse battery staple", python_vector_1),
	                 SF_OK);
	assert_int_equal(sf_password_verify("correct horse battery stapler", python_vector_1),
	                 SF_EMISMATCH);
	/* Other parameters, a 32-byte salt and a 64-byte hash are read from the string. */
	assert_int_equal(sf_password_verify("비밀번호는안전합니다", python_vector_2), SF_OK);
	assert_int_equal(sf_password_verify("비밀번호는안전합니까", python_vector_2), SF_EMISMATCH);
}

static void
password_verify_treats_unicode_forms_alike(void **state)
{
	char enc[SF_PASSWORD_ENCODED_MAX];

	(void)state;
	/* Precomposed Hangul syllables (NFC) and the same text as conjoining jamo (NFD). */
	assert_int_equal(sf_password_hash("안전 비밀번호 입니다", cheap, enc, sizeof enc), SF_OK);
	assert_int_equal(sf_password_verify("\xe1\x84\x8b\xe1\x85\xa1\xe1\x86\xab"
	                                    "\xe1\x84\x8c\xe1\x85\xa5\xe1\x86\xab"
	                                    " 비밀번호 입니다",
	                                    enc),
	                 SF_OK);
	/* Full-width Latin letters typed in a Korean input method. */
	assert_int_equal(sf_password_hash("password for the embassy", cheap, enc, sizeof enc),
	                 SF_OK);
	assert_int_equal(sf_password_verify("ｐａｓｓｗｏｒｄ for the embassy", enc), SF_OK);
	assert_int_equal(sf_password_verify("PASSWORD for the embassy", enc), SF_EMISMATCH);
}

static void
password_verify_rejects_unhashable_passwords_as_mismatch(void **state)
{
	char enc[SF_PASSWORD_ENCODED_MAX];
	char *huge;

	(void)state;
	assert_int_equal(sf_password_hash("correct horse battery staple", cheap, enc, sizeof enc),
	                 SF_OK);
	assert_int_equal(sf_password_verify("", enc), SF_EMISMATCH);
	assert_int_equal(sf_password_verify("correct horse \xff battery", enc), SF_EMISMATCH);
	huge = malloc(SF_PASSWORD_MAX_BYTES + 2);
	assert_non_null(huge);
	memset(huge, 'x', SF_PASSWORD_MAX_BYTES + 1);
	huge[SF_PASSWORD_MAX_BYTES + 1] = '\0';
	assert_int_equal(sf_password_verify(huge, enc), SF_EMISMATCH);
	free(huge);
	assert_int_equal(sf_password_verify(NULL, enc), SF_EINVAL);
}

/* A valid string to derive malformed ones from: "correct horse battery staple". */
#define GOOD_SALT "AAECAwQFBgcICQoLDA0ODw"
#define GOOD_HASH "mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S/AXJlRU"

static const char *const malformed[] = {
    "",
    "$",
    "$scrypt$",
    "$scrypt$ln=10,r=8,p=1$",
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT,
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT "$",
    "$scrypt$ln=10,r=8,p=1$$" GOOD_HASH,
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH "$",
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH "$extra",
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH " ",
    " $scrypt$ln=10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$SCRYPT$ln=10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$argon2id$ln=10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "scrypt$ln=10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$r=8,ln=10,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=10,r=8$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=10,r=8,p=1,x=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=010,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=+10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=-10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=10 ,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    /* Parameters out of bounds, or absurd: a tampered row must not eat the machine. */
    "$scrypt$ln=9,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=23,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=64,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=4294967306,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=10,r=0,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=10,r=33,p=1$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=10,r=8,p=0$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=10,r=8,p=17$" GOOD_SALT "$" GOOD_HASH,
    "$scrypt$ln=22,r=32,p=16$" GOOD_SALT "$" GOOD_HASH, /* 16 GiB */
    "$scrypt$ln=21,r=8,p=1$" GOOD_SALT "$" GOOD_HASH,   /* 2 GiB */
    "$scrypt$ln=16,r=1,p=1$" GOOD_SALT "$" GOOD_HASH,   /* N >= 2^(16 r) */
    /* Salt and hash. */
    "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODw==$" GOOD_HASH,
    "$scrypt$ln=10,r=8,p=1$AAECAwQFBgc$" GOOD_HASH,               /* 8-byte salt */
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT "$mp90zEQd5XGhjEv4WArVHw", /* 16-byte hash */
    "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0OD-$" GOOD_HASH,
    "$scrypt$ln=10,r=8,p=1$AAECAwQFBgcICQoLDA0ODx$" GOOD_HASH, /* stray trailing bits */
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT "$mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S/AXJlR",
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT "$mp90zEQd5XGhjEv4WArVH4Z0XRSzkGWtJK2S_AXJlRU",
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH "\xff",
    /* 65-byte hash */
    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT
    "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
};

static void
password_verify_rejects_malformed_encoded_strings(void **state)
{
	char *huge;
	bool needs;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(malformed); i++) {
		if (sf_password_verify("correct horse battery staple", malformed[i]) != SF_EINVAL)
			fail_msg("accepted malformed[%zu]: %s", i, malformed[i]);
		assert_int_equal(sf_password_needs_rehash(malformed[i], NULL, &needs), SF_EINVAL);
	}
	assert_int_equal(sf_password_verify("correct horse battery staple", NULL), SF_EINVAL);

	/* The good string these were made from does verify. */
	assert_int_equal(sf_password_verify("correct horse battery staple",
	                                    "$scrypt$ln=10,r=8,p=1$" GOOD_SALT "$" GOOD_HASH),
	                 SF_OK);

	huge = malloc(100000);
	assert_non_null(huge);
	memset(huge, 'A', 99999);
	huge[99999] = '\0';
	memcpy(huge, "$scrypt$ln=10,r=8,p=1$", 22);
	assert_int_equal(sf_password_verify("correct horse battery staple", huge), SF_EINVAL);
	free(huge);
}

static void
password_hash_rejects_bad_input(void **state)
{
	char enc[SF_PASSWORD_ENCODED_MAX];
	struct sf_password_params p;
	char *huge;

	(void)state;
	assert_int_equal(sf_password_hash(NULL, cheap, enc, sizeof enc), SF_EINVAL);
	assert_int_equal(sf_password_hash("", cheap, enc, sizeof enc), SF_EINVAL);
	assert_int_equal(sf_password_hash("bad \xc0\xaf utf-8 here", cheap, enc, sizeof enc),
	                 SF_EINVAL);
	assert_int_equal(sf_password_hash("a fine password", cheap, NULL, 100), SF_EINVAL);
	/* One byte short of what "$scrypt$ln=10,r=8,p=1$<22>$<43>" needs with its NUL. */
	assert_int_equal(sf_password_hash("a fine password", cheap, enc, 88), SF_ETOOLONG);
	assert_int_equal(sf_password_hash("a fine password", cheap, enc, 89), SF_OK);

	p = sf_password_params_cheap;
	p.ln = 9;
	assert_int_equal(sf_password_hash("a fine password", &p, enc, sizeof enc), SF_EINVAL);
	p.ln = 10;
	p.r = 0;
	assert_int_equal(sf_password_hash("a fine password", &p, enc, sizeof enc), SF_EINVAL);
	p.r = 8;
	p.p = 17;
	assert_int_equal(sf_password_hash("a fine password", &p, enc, sizeof enc), SF_EINVAL);

	huge = malloc(SF_PASSWORD_MAX_BYTES + 2);
	assert_non_null(huge);
	memset(huge, 'y', SF_PASSWORD_MAX_BYTES + 1);
	huge[SF_PASSWORD_MAX_BYTES + 1] = '\0';
	assert_int_equal(sf_password_hash(huge, cheap, enc, sizeof enc), SF_ETOOLONG);
	huge[SF_PASSWORD_MAX_BYTES] = '\0';
	assert_int_equal(sf_password_hash(huge, cheap, enc, sizeof enc), SF_OK);
	assert_int_equal(sf_password_verify(huge, enc), SF_OK);
	free(huge);
}

static void
password_needs_rehash_when_parameters_change(void **state)
{
	char enc[SF_PASSWORD_ENCODED_MAX];
	struct sf_password_params p = sf_password_params_cheap;
	bool needs;

	(void)state;
	assert_int_equal(sf_password_hash("correct horse battery staple", cheap, enc, sizeof enc),
	                 SF_OK);
	assert_int_equal(sf_password_needs_rehash(enc, cheap, &needs), SF_OK);
	assert_false(needs);
	assert_int_equal(sf_password_needs_rehash(enc, NULL, &needs), SF_OK);
	assert_true(needs);
	p.ln = 11;
	assert_int_equal(sf_password_needs_rehash(enc, &p, &needs), SF_OK);
	assert_true(needs);
	p = sf_password_params_cheap;
	p.r = 9;
	assert_int_equal(sf_password_needs_rehash(enc, &p, &needs), SF_OK);
	assert_true(needs);
	p = sf_password_params_cheap;
	p.p = 2;
	assert_int_equal(sf_password_needs_rehash(enc, &p, &needs), SF_OK);
	assert_true(needs);
	/* Same parameters, but a 64-byte hash: rewritten in the current shape. */
	p.ln = 11;
	p.r = 4;
	p.p = 2;
	assert_int_equal(sf_password_needs_rehash(python_vector_2, &p, &needs), SF_OK);
	assert_true(needs);
	p.ln = 99;
	assert_int_equal(sf_password_needs_rehash(enc, &p, &needs), SF_EINVAL);
	assert_int_equal(sf_password_needs_rehash(enc, cheap, NULL), SF_EINVAL);
}

static void
password_default_params_hash_and_verify(void **state)
{
	char enc[SF_PASSWORD_ENCODED_MAX];
	bool needs = true;

	(void)state;
	assert_int_equal(sf_password_hash("correct horse battery staple", NULL, enc, sizeof enc),
	                 SF_OK);
	assert_memory_equal(enc, "$scrypt$ln=15,r=8,p=1$", 22);
	assert_int_equal(sf_password_verify("correct horse battery staple", enc), SF_OK);
	assert_int_equal(sf_password_verify("correct horse battery stable", enc), SF_EMISMATCH);
	assert_int_equal(sf_password_needs_rehash(enc, NULL, &needs), SF_OK);
	assert_false(needs);
}

struct policy_case {
	const char *password;
	int rc;
	const char *reason; /* a word the message must contain */
};

static const struct policy_case policy_cases[] = {
    {NULL, SF_EINVAL, "missing"},
    {"", SF_ERANGE, "too short"},
    {"short", SF_ERANGE, "too short"},
    {"elevenchars", SF_ERANGE, "11 characters"},
    {"twelve chars", SF_OK, NULL},
    /* Eleven Hangul syllables are 33 bytes but 11 characters. */
    {"안전합니다안전합니다안", SF_ERANGE, "11 characters"},
    {"안전합니다안전합니다안전", SF_OK, NULL},
    {"aaaaaaaaaaaaaaaa", SF_EINVAL, "repeated"},
    {"            ", SF_EINVAL, "repeated"},
    {"가가가가가가가가가가가가가", SF_EINVAL, "repeated"},
    {"aaaaaaaaaaaaaaab", SF_OK, NULL},
    {"baaaaaaaaaaaaaaa", SF_OK, NULL},
    {"\xff long enough password", SF_EINVAL, "UTF-8"},
    {"long enough password \xc0\xaf", SF_EINVAL, "UTF-8"},         /* overlong '/' */
    {"long enough password \xed\xa0\x80", SF_EINVAL, "UTF-8"},     /* surrogate */
    {"long enough password \xe2\x82", SF_EINVAL, "UTF-8"},         /* truncated */
    {"long enough password \xf4\x90\x80\x80", SF_EINVAL, "UTF-8"}, /* past U+10FFFF */
};

static void
password_policy_names_the_broken_rule(void **state)
{
	char err[128];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(policy_cases); i++) {
		const struct policy_case *c = &policy_cases[i];
		err[0] = '\0';
		if (sf_password_check_policy(c->password, err, sizeof err) != c->rc)
			fail_msg("policy_cases[%zu]: want %d, got message \"%s\"", i, c->rc, err);
		if (c->reason != NULL && strstr(err, c->reason) == NULL)
			fail_msg("policy_cases[%zu]: \"%s\" does not say \"%s\"", i, err,
			         c->reason);
	}
	assert_int_equal(sf_password_check_policy("short", NULL, 0), SF_ERANGE);
}

static void
password_policy_bounds_length_in_bytes(void **state)
{
	char err[128];
	char *p;

	(void)state;
	p = malloc(SF_PASSWORD_MAX_BYTES + 2);
	assert_non_null(p);
	for (size_t i = 0; i < SF_PASSWORD_MAX_BYTES + 1; i++)
		p[i] = (char)('a' + i % 26);
	p[SF_PASSWORD_MAX_BYTES + 1] = '\0';
	assert_int_equal(sf_password_check_policy(p, err, sizeof err), SF_ETOOLONG);
	assert_non_null(strstr(err, "too long"));
	p[SF_PASSWORD_MAX_BYTES] = '\0';
	assert_int_equal(sf_password_check_policy(p, err, sizeof err), SF_OK);
	free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(password_hash_writes_self_describing_string),
	    cmocka_unit_test(password_verify_accepts_right_password),
	    cmocka_unit_test(password_verify_rejects_wrong_password),
	    cmocka_unit_test(password_hash_salts_every_hash),
	    cmocka_unit_test(password_verify_matches_independent_scrypt),
	    cmocka_unit_test(password_verify_treats_unicode_forms_alike),
	    cmocka_unit_test(password_verify_rejects_unhashable_passwords_as_mismatch),
	    cmocka_unit_test(password_verify_rejects_malformed_encoded_strings),
	    cmocka_unit_test(password_hash_rejects_bad_input),
	    cmocka_unit_test(password_needs_rehash_when_parameters_change),
	    cmocka_unit_test(password_default_params_hash_and_verify),
	    cmocka_unit_test(password_policy_names_the_broken_rule),
	    cmocka_unit_test(password_policy_bounds_length_in_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
