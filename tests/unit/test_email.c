/*
 * Unit tests of e-mail address validation: addresses a relay accepts and the
 * normalised form each gets, and the typing mistakes and tricks that must be
 * refused, each with the reason shown to staff.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <safety/email.h>
#include <safety/error.h>

struct email_case {
	const char *name;
	const char *input;
	const char *want; /* normalised, or NULL when refused */
	int rc;
	const char *reason; /* part of the message when refused */
};

#define ACCEPT(name, input, want)                                                                  \
	{                                                                                          \
		name, input, want, 0, NULL                                                         \
	}
#define REJECT(name, input, rc, reason)                                                            \
	{                                                                                          \
		name, input, NULL, rc, reason                                                      \
	}

static const struct email_case accepted_cases[] = {
    ACCEPT("email_keeps_plain_address", "kim@example.com", "kim@example.com"),
    ACCEPT("email_trims_and_lowercases_domain_only", "  Kim.MinJun@Example.COM \n",
           "Kim.MinJun@example.com"),
    ACCEPT("email_trims_tabs_and_crlf", "\tuser@example.com\r\n", "user@example.com"),
    ACCEPT("email_keeps_plus_tag", "user+crisis@example.co.kr", "user+crisis@example.co.kr"),
    ACCEPT("email_keeps_apostrophe", "o'brien@example.ie", "o'brien@example.ie"),
    ACCEPT("email_keeps_every_atext_character", "a!#$%&'*+-/=?^_`{|}~z@example.com",
           "a!#$%&'*+-/=?^_`{|}~z@example.com"),
    ACCEPT("email_keeps_inner_dots", "first.middle.last@mail.example.org",
           "first.middle.last@mail.example.org"),
    ACCEPT("email_keeps_short_address", "x@a.io", "x@a.io"),
    ACCEPT("email_keeps_digit_first_label", "user@1example.com", "user@1example.com"),
    ACCEPT("email_keeps_inner_hyphen", "user@my-domain.com.tr", "user@my-domain.com.tr"),
    ACCEPT("email_keeps_a_label", "user@XN--3E0B707E.kr", "user@xn--3e0b707e.kr"),
    ACCEPT("email_keeps_hangul_domain", "user@한국.kr", "user@한국.kr"),
    ACCEPT("email_lowercases_ascii_beside_hangul", "user@EXAMPLE.한국", "user@example.한국"),
    ACCEPT("email_keeps_german_umlaut_domain", "user@bücher.de", "user@bücher.de"),
    ACCEPT("email_lowercases_utf8_domain", "user@ÜBER.de", "user@über.de"),
    ACCEPT("email_composes_domain_to_nfc", "user@e\u0301xample.com", "user@\u00e9xample.com"),
    ACCEPT("email_keeps_turkish_domain", "ayse@ornek.com.tr", "ayse@ornek.com.tr"),
    ACCEPT("email_keeps_thai_domain", "user@ไทย.th", "user@ไทย.th"),
    ACCEPT("email_keeps_digits_only_local_part", "12345@example.com", "12345@example.com"),
    ACCEPT("email_accepts_numeric_inner_label", "user@123.example.com", "user@123.example.com"),
};

static const struct email_case rejected_cases[] = {
    REJECT("email_refuses_empty", "", SF_EINVAL, "email: empty"),
    REJECT("email_refuses_blank", " \t\r\n", SF_EINVAL, "email: empty"),
    REJECT("email_refuses_missing_at", "kim.example.com", SF_EINVAL, "no '@'"),
    REJECT("email_refuses_two_ats", "kim@@example.com", SF_EINVAL, "more than one '@'"),
    REJECT("email_refuses_quoted_local_part", "\"kim lee\"@example.com", SF_EINVAL, "quoted names"),
    REJECT("email_refuses_nothing_before_at", "@example.com", SF_EINVAL, "nothing before '@'"),
    REJECT("email_refuses_nothing_after_at", "kim@", SF_EINVAL, "nothing after '@'"),
    REJECT("email_refuses_leading_dot", ".kim@example.com", SF_EINVAL, "starts with a dot"),
    REJECT("email_refuses_dot_before_at", "kim.@example.com", SF_EINVAL, "dot just before '@'"),
    REJECT("email_refuses_double_dot", "kim..lee@example.com", SF_EINVAL,
           "two dots in a row at byte 3"),
    REJECT("email_refuses_space_in_local_part", "kim lee@example.com", SF_EINVAL,
           "space at byte 3"),
    REJECT("email_refuses_hangul_local_part", "김민준@example.com", SF_EINVAL,
           "only ASCII before '@'"),
    REJECT("email_refuses_comment", "kim(home)@example.com", SF_EINVAL,
           "a parenthesis is not allowed before '@' (byte 3)"),
    REJECT("email_refuses_angle_brackets", "<kim@example.com>", SF_EINVAL,
           "an angle bracket is not allowed before '@' (byte 0)"),
    REJECT("email_refuses_mailto", "mailto:kim@example.com", SF_EINVAL,
           "starts with \"mailto:\"; give the address alone"),
    REJECT("email_refuses_colon", "kim:lee@example.com", SF_EINVAL,
           "a colon is not allowed before '@' (byte 3)"),
    REJECT("email_refuses_domain_without_dot_unquoted", "a@b", SF_EINVAL, "after '@' has no dot"),
    REJECT("email_refuses_comma_list", "kim@example.com, lee@example.com", SF_EINVAL,
           "more than one '@'"),
    REJECT("email_refuses_domain_without_dot", "kim@localhost", SF_EINVAL,
           "the domain after '@' has no dot"),
    REJECT("email_refuses_numeric_tld", "kim@example.123", SF_EINVAL, "ends in a number"),
    REJECT("email_refuses_ip_address", "kim@192.168.0.1", SF_EINVAL, "ends in a number"),
    REJECT("email_refuses_address_literal", "kim@[192.168.0.1]", SF_EINVAL, "address literals"),
    REJECT("email_refuses_leading_hyphen_label", "kim@-example.com", SF_EINVAL,
           "a part of the domain starts with a hyphen"),
    REJECT("email_refuses_trailing_hyphen_label", "kim@example-.com", SF_EINVAL,
           "a part of the domain ends with a hyphen"),
    REJECT("email_refuses_empty_label", "kim@example..com", SF_EINVAL, "empty label"),
    REJECT("email_refuses_domain_leading_dot", "kim@.example.com", SF_EINVAL,
           "domain starts with a dot"),
    REJECT("email_refuses_domain_trailing_dot", "kim@example.com.", SF_EINVAL,
           "domain ends with a dot"),
    REJECT("email_refuses_underscore_in_domain", "kim@exa_mple.com", SF_EINVAL,
           "an underscore is not allowed in the domain"),
    REJECT("email_refuses_space_in_domain", "kim@exa mple.com", SF_EINVAL, "space in the domain"),
    REJECT("email_refuses_closing_bracket_in_domain", "kim@example.com>", SF_EINVAL,
           "an angle bracket is not allowed in the domain"),
    REJECT("email_refuses_ideographic_full_stop", "kim@example\u3002com", SF_EINVAL,
           "punctuation other than '.' and '-'"),
    REJECT("email_refuses_zero_width_space", "kim@exa\u200bmple.com", SF_EINVAL,
           "an invisible character is not allowed"),
    REJECT("email_refuses_no_break_space", "kim@example.com\u00a0", SF_EINVAL,
           "a wide or fixed space is not allowed"),
    REJECT("email_refuses_c1_control", "kim@exam\xc2\x85ple.com", SF_EINVAL,
           "a control character is not allowed"),
    REJECT("email_refuses_control_character", "kim@exam\x01ple.com", SF_EINVAL,
           "control character at byte 8"),
    REJECT("email_refuses_newline_inside", "kim@example.com\nBcc: x@evil.example", SF_EINVAL,
           "control character at byte 15"),
    REJECT("email_refuses_overlong_nul",
           "kim@ex\xc0\x80"
           "ample.com",
           SF_EINVAL, "not valid UTF-8 at byte 6"),
    REJECT("email_refuses_stray_byte_in_local_part", "k\xffm@example.com", SF_EINVAL,
           "only ASCII before '@' (byte 1)"),
};

/* Runs one case and fails with its name when the result differs. */
static void
run_case(const struct email_case *c)
{
	char out[SF_EMAIL_SIZE], err[256];
	int rc;

	err[0] = '\0';
	rc = sf_email_validate(c->input, out, sizeof out, err, sizeof err);
	if (c->want != NULL) {
		if (rc != 0 || strcmp(out, c->want) != 0)
			fail_msg("%s: \"%s\" gave %d \"%s\" (%s), want \"%s\"", c->name, c->input,
			         rc, out, err, c->want);
		/* The normalised form is a fixed point. */
		char again[SF_EMAIL_SIZE];
		if (sf_email_validate(out, again, sizeof again, err, sizeof err) != 0 ||
		    strcmp(again, out) != 0)
			fail_msg("%s: \"%s\" is not stable", c->name, out);
	} else if (rc != c->rc || out[0] != '\0' || strstr(err, c->reason) == NULL) {
		fail_msg("%s: \"%s\" gave %d \"%s\" (%s), want %d (%s)", c->name, c->input, rc, out,
		         err, c->rc, c->reason);
	}
}

static void
email_accepts_what_a_relay_accepts(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof accepted_cases / sizeof accepted_cases[0]; i++)
		run_case(&accepted_cases[i]);
}

static void
email_refuses_with_a_reason(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rejected_cases / sizeof rejected_cases[0]; i++)
		run_case(&rejected_cases[i]);
}

/* Builds "<local>@<label>.<label>…com" with the given lengths. */
static void
make_address(char *buf, size_t local, size_t label, size_t labels)
{
	size_t n = 0;

	memset(buf, 'a', local);
	n = local;
	buf[n++] = '@';
	for (size_t i = 0; i < labels; i++) {
		memset(buf + n, 'b', label);
		n += label;
		buf[n++] = '.';
	}
	memcpy(buf + n, "com", 4);
}

static void
email_enforces_rfc_5321_lengths(void **state)
{
	char in[1200], out[SF_EMAIL_SIZE], err[256];

	(void)state;
	make_address(in, 64, 63, 1);
	assert_int_equal(sf_email_validate(in, out, sizeof out, err, sizeof err), 0);
	assert_string_equal(out, in);

	make_address(in, 65, 10, 1);
	assert_int_equal(sf_email_validate(in, out, sizeof out, err, sizeof err), SF_ETOOLONG);
	assert_string_equal(err, "email: part before '@' too long: 65 bytes, at most 64");

	make_address(in, 5, 64, 1);
	assert_int_equal(sf_email_validate(in, out, sizeof out, err, sizeof err), SF_ETOOLONG);
	assert_string_equal(err, "email: domain label too long: 64 bytes, at most 63");

	/* 64 + '@' + 3 labels of 61 and their dots + "com": 254, the longest address. */
	make_address(in, 64, 61, 3);
	assert_int_equal(strlen(in), 64 + 1 + 3 * 62 + 3);
	assert_int_equal(sf_email_validate(in, out, sizeof out, err, sizeof err), 0);
	make_address(in, 62, 62, 3);
	assert_int_equal(strlen(in), 255);
	assert_int_equal(sf_email_validate(in, out, sizeof out, err, sizeof err), SF_ETOOLONG);
	assert_string_equal(err, "email: too long: 255 bytes, at most 254");

	/* A domain of 254 octets is refused on its own. */
	make_address(in, 1, 62, 4);
	assert_int_equal(sf_email_validate(in, out, sizeof out, err, sizeof err), SF_ETOOLONG);
	assert_string_equal(err, "email: domain too long: 255 bytes, at most 253");
}

static void
email_refuses_very_long_input(void **state)
{
	size_t n = 100000;
	char *in = malloc(n + 1), out[SF_EMAIL_SIZE], err[128];

	(void)state;
	assert_non_null(in);
	memset(in, 'a', n);
	in[10] = '@';
	in[n] = '\0';
	assert_int_equal(sf_email_validate(in, out, sizeof out, err, sizeof err), SF_ETOOLONG);
	assert_string_equal(out, "");
	free(in);
}

static void
email_reports_small_output_buffer(void **state)
{
	char out[8], err[128];

	(void)state;
	assert_int_equal(sf_email_validate("kim@example.com", out, sizeof out, err, sizeof err),
	                 SF_ETOOLONG);
	assert_string_equal(out, "");
	assert_string_equal(err, "email: output buffer too small: 8 bytes, need 16");
	assert_int_equal(sf_email_validate("k@ab.cd", out, sizeof out, NULL, 0), 0);
	assert_string_equal(out, "k@ab.cd");
	assert_int_equal(sf_email_validate(NULL, out, sizeof out, NULL, 0), SF_EINVAL);
	assert_int_equal(sf_email_validate("k@ab.cd", NULL, 0, NULL, 0), SF_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(email_accepts_what_a_relay_accepts),
	    cmocka_unit_test(email_refuses_with_a_reason),
	    cmocka_unit_test(email_enforces_rfc_5321_lengths),
	    cmocka_unit_test(email_refuses_very_long_input),
	    cmocka_unit_test(email_reports_small_output_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
