/*
 * Unit tests of SMS encoding and splitting: English, Korean, mixed texts,
 * emoji, the extension characters, every boundary (160/161, 70/71, 306/307,
 * 134/135, 255 parts), and parts that never cut an escape or surrogate pair.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/sms.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#define GSM SF_SMS_GSM7
#define UCS SF_SMS_UCS2

struct analyze_case {
	const char *name;
	const char *text;
	enum sf_sms_encoding encoding;
	size_t chars;
	size_t units;
	size_t parts;
};

static const struct analyze_case analyze_cases[] = {
    {"empty", "", GSM, 0, 0, 1},
    {"english", "Are you safe? Reply 1 if safe, 2 if you need help.", GSM, 50, 50, 1},
    {"gsm accents and greek", "àèéìòù ÄÖÜäöüß ΔΦΓΛΩΠΨΣΘΞ ¡¿ £¥§¤ @$_", GSM, 37, 37, 1},
    {"newline and carriage return", "line\r\nline", GSM, 10, 10, 1},
    {"euro counts two", "€", GSM, 1, 2, 1},
    {"every extension character", "^{}\\[~]|€\f", GSM, 10, 20, 1},
    {"price in euro", "Bus ticket: 5€ [cash]", GSM, 21, 24, 1},
    {"korean", "안전하십니까? 안전하면 1, 도움이 필요하면 2를 보내 주세요.", UCS, 35, 35, 1},
    {"hangul and latin mixed", "Safe? 안전?", UCS, 9, 9, 1},
    {"emoji takes two units", "OK 👍", UCS, 4, 5, 1},
    {"flag is two characters beyond the bmp", "🇰🇷", UCS, 2, 4, 1},
    {"backtick is not gsm", "`", UCS, 1, 1, 1},
    {"curly quote is not gsm", "I’m safe", UCS, 8, 8, 1},
    {"small c cedilla is not gsm, capital is", "Ç", GSM, 1, 1, 1},
    {"small c cedilla forces ucs2", "ç", UCS, 1, 1, 1},
    {"tab is not gsm", "a\tb", UCS, 3, 3, 1},
    {"euro with hangul is one unit", "€안", UCS, 2, 2, 1},
};

static void
analyze_decides_encoding_and_counts(void **state)
{
	struct sf_sms_info info;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(analyze_cases); i++) {
		const struct analyze_case *c = &analyze_cases[i];

		memset(&info, 0xab, sizeof info);
		if (sf_sms_analyze(c->text, &info) != SF_OK)
			fail_msg("%s: analyze failed", c->name);
		if (info.encoding != c->encoding || info.chars != c->chars ||
		    info.units != c->units || info.parts != c->parts)
			fail_msg("%s: encoding %d chars %zu units %zu parts %zu", c->name,
			         (int)info.encoding, info.chars, info.units, info.parts);
	}
}

/* Fills buf with n copies of unit (a UTF-8 character), NUL-terminated. */
static char *
repeat(const char *unit, size_t n)
{
	size_t ulen = strlen(unit);
	char *buf = malloc(ulen * n + 1);

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		memcpy(buf + i * ulen, unit, ulen);
	buf[ulen * n] = '\0';
	return buf;
}

struct boundary_case {
	const char *unit;
	size_t n;
	enum sf_sms_encoding encoding;
	size_t parts;
};

/* One part up to 160/70; 153/67 per part after that. */
static const struct boundary_case boundary_cases[] = {
    {"a", 160, GSM, 1},  {"a", 161, GSM, 2},  {"a", 306, GSM, 2},  {"a", 307, GSM, 3},
    {"a", 459, GSM, 3},  {"a", 460, GSM, 4},  {"가", 70, UCS, 1},  {"가", 71, UCS, 2},
    {"가", 134, UCS, 2}, {"가", 135, UCS, 3}, {"가", 201, UCS, 3}, {"가", 202, UCS, 4},
    {"€", 80, GSM, 1},   {"€", 81, GSM, 2},   {"😀", 35, UCS, 1},   {"😀", 36, UCS, 2},
};

static void
parts_change_exactly_at_the_limits(void **state)
{
	struct sf_sms_info info;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(boundary_cases); i++) {
		const struct boundary_case *c = &boundary_cases[i];
		char *text = repeat(c->unit, c->n);

		assert_int_equal(sf_sms_analyze(text, &info), SF_OK);
		if (info.encoding != c->encoding || info.parts != c->parts)
			fail_msg("%zu x %s: encoding %d parts %zu, want %zu", c->n, c->unit,
			         (int)info.encoding, info.parts, c->parts);
		free(text);
	}
}

static void
units_left_and_per_part_follow_the_part_size(void **state)
{
	struct sf_sms_info info;
	char *text = repeat("a", 150);

	(void)state;
	assert_int_equal(sf_sms_analyze(text, &info), SF_OK);
	assert_int_equal(info.units_per_part, 160);
	assert_int_equal(info.units_left, 10);
	free(text);
	text = repeat("a", 200);
	assert_int_equal(sf_sms_analyze(text, &info), SF_OK);
	assert_int_equal(info.units_per_part, 153);
	assert_int_equal(info.units_left, 153 - 47);
	free(text);
	text = repeat("나", 68);
	assert_int_equal(sf_sms_analyze(text, &info), SF_OK);
	assert_int_equal(info.units_per_part, 70);
	assert_int_equal(info.units_left, 2);
	free(text);
}

/* Checks that parts cover the text in order, each within its limit, and returns their count. */
static size_t
check_parts(const char *text, const struct sf_sms_part *parts, size_t n, size_t limit)
{
	size_t expect = 0;

	for (size_t i = 0; i < n; i++) {
		assert_int_equal(parts[i].offset, expect);
		assert_true(parts[i].units <= limit);
		assert_true(parts[i].length > 0);
		expect += parts[i].length;
	}
	assert_int_equal(expect, strlen(text));
	return n;
}

static void
split_never_cuts_an_escape_pair(void **state)
{
	struct sf_sms_part parts[8];
	struct sf_sms_info info;
	size_t n;
	/* 152 letters then €: the € (2 septets) does not fit in part 1's last septet. */
	char *text = repeat("a", 152 + 1 + 10), *p;

	(void)state;
	p = malloc(strlen(text) + 4);
	assert_non_null(p);
	memcpy(p, text, 152);
	memcpy(p + 152, "€", 3);
	strcpy(p + 155, text + 153);
	assert_int_equal(sf_sms_split(p, parts, N_ELEMS(parts), &n, &info), SF_OK);
	assert_int_equal(info.encoding, GSM);
	assert_int_equal(info.units, 152 + 2 + 10);
	assert_int_equal(n, 2);
	check_parts(p, parts, n, SF_SMS_GSM7_PART);
	assert_int_equal(parts[0].units, 152);
	assert_int_equal(parts[0].length, 152);
	assert_memory_equal(p + parts[1].offset, "€", 3);
	assert_int_equal(parts[1].units, 12);
	free(text);
	free(p);
}

static void
escape_pairs_can_add_a_part_beyond_the_plain_count(void **state)
{
	struct sf_sms_part parts[8];
	struct sf_sms_info info;
	size_t n;
	/* 153 € = 306 septets, which would be 2 parts of 153 if a pair could be cut; it cannot. */
	char *text = repeat("€", 153);

	(void)state;
	assert_int_equal(sf_sms_split(text, parts, N_ELEMS(parts), &n, &info), SF_OK);
	assert_int_equal(info.units, 306);
	assert_int_equal(n, 3);
	assert_int_equal(info.parts, 3);
	check_parts(text, parts, n, SF_SMS_GSM7_PART);
	assert_int_equal(parts[0].units, 152);
	assert_int_equal(parts[1].units, 152);
	assert_int_equal(parts[2].units, 2);
	free(text);
}

static void
split_never_cuts_a_surrogate_pair(void **state)
{
	struct sf_sms_part parts[8];
	struct sf_sms_info info;
	size_t n;
	/* 66 Hangul syllables then an emoji (2 units): it goes whole into part 2. */
	char *hangul = repeat("다", 66), *text = malloc(66 * 3 + 4 + 3 * 10 + 1);

	(void)state;
	assert_non_null(text);
	strcpy(text, hangul);
	strcat(text, "😀");
	strcat(text, "다다다다다다다다다다");
	assert_int_equal(sf_sms_split(text, parts, N_ELEMS(parts), &n, &info), SF_OK);
	assert_int_equal(info.encoding, UCS);
	assert_int_equal(info.units, 66 + 2 + 10);
	assert_int_equal(n, 2);
	check_parts(text, parts, n, SF_SMS_UCS2_PART);
	assert_int_equal(parts[0].units, 66);
	assert_memory_equal(text + parts[1].offset, "😀", 4);
	assert_int_equal(parts[1].units, 12);
	free(hangul);
	free(text);
}

static void
korean_check_in_message_splits_into_parts_of_67(void **state)
{
	const char *text =
	    "[주튀르키예 대한민국 대사관] 지진 피해 확인: 안전하십니까? 안전하면 1, 도움이 "
	    "필요하면 "
	    "2, 다쳤으면 3, 대피가 필요하면 4를 답장해 주세요. 함께 있는 인원 수도 적어 주세요. "
	    "링크: https://safety.example/r/nPcZqAjhcdKfvrljW7t6vT";
	struct sf_sms_part parts[8];
	struct sf_sms_info info;
	size_t n, total = 0;

	(void)state;
	assert_int_equal(sf_sms_split(text, parts, N_ELEMS(parts), &n, &info), SF_OK);
	assert_int_equal(info.encoding, UCS);
	assert_int_equal(n, (info.units + 66) / 67);
	check_parts(text, parts, n, SF_SMS_UCS2_PART);
	for (size_t i = 0; i + 1 < n; i++)
		assert_int_equal(parts[i].units, 67);
	for (size_t i = 0; i < n; i++)
		total += parts[i].units;
	assert_int_equal(total, info.units);
}

static void
single_part_covers_the_whole_text(void **state)
{
	struct sf_sms_part parts[1];
	size_t n = 99;

	(void)state;
	assert_int_equal(sf_sms_split("Safe", parts, 1, &n, NULL), SF_OK);
	assert_int_equal(n, 1);
	assert_int_equal(parts[0].offset, 0);
	assert_int_equal(parts[0].length, 4);
	assert_int_equal(parts[0].units, 4);
	assert_int_equal(sf_sms_split("", parts, 1, &n, NULL), SF_OK);
	assert_int_equal(n, 1);
	assert_int_equal(parts[0].length, 0);
}

static void
more_than_255_parts_is_refused(void **state)
{
	struct sf_sms_info info;
	struct sf_sms_part *parts = calloc(300, sizeof *parts);
	size_t n;
	/* 255 × 153 septets fit; one more does not. */
	char *fits = repeat("a", 255 * 153), *over = repeat("a", 255 * 153 + 1);

	(void)state;
	assert_non_null(parts);
	assert_int_equal(sf_sms_analyze(fits, &info), SF_OK);
	assert_int_equal(info.parts, 255);
	assert_int_equal(sf_sms_analyze(over, &info), SF_ETOOLONG);
	assert_int_equal(info.parts, 256);
	assert_int_equal(sf_sms_split(fits, parts, 300, &n, NULL), SF_OK);
	assert_int_equal(n, 255);
	check_parts(fits, parts, n, SF_SMS_GSM7_PART);
	assert_int_equal(sf_sms_split(over, parts, 300, &n, NULL), SF_ETOOLONG);
	assert_int_equal(n, 256);
	free(fits);
	free(over);
	free(parts);
}

static void
too_small_an_array_says_how_many_parts_are_needed(void **state)
{
	struct sf_sms_part parts[2];
	size_t n = 0;
	char *text = repeat("a", 400);

	(void)state;
	assert_int_equal(sf_sms_split(text, parts, N_ELEMS(parts), &n, NULL), SF_ETOOLONG);
	assert_int_equal(n, 3);
	assert_int_equal(parts[0].length, 153);
	assert_int_equal(parts[1].length, 153);
	free(text);
}

static void
invalid_utf8_is_refused(void **state)
{
	static const char *const bad[] = {
	    "\xff",
	    "abc\x80",
	    "\xc3",             /* cut in the middle */
	    "\xc0\xaf",         /* overlong '/' */
	    "\xed\xa0\x80",     /* a surrogate written as UTF-8 */
	    "\xf4\x90\x80\x80", /* beyond U+10FFFF */
	    "안\xeb\x85",
	};
	struct sf_sms_info info = {.parts = 42};
	struct sf_sms_part parts[4];
	unsigned char out[16];
	size_t n, outlen;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		assert_int_equal(sf_sms_analyze(bad[i], &info), SF_EINVAL);
		assert_int_equal(sf_sms_split(bad[i], parts, 4, &n, NULL), SF_EINVAL);
		assert_int_equal(sf_sms_to_ucs2be(bad[i], strlen(bad[i]), out, sizeof out, &outlen),
		                 SF_EINVAL);
	}
	assert_int_equal(info.parts, 42);
	assert_int_equal(sf_sms_analyze(NULL, &info), SF_EINVAL);
	assert_int_equal(sf_sms_analyze("a", NULL), SF_EINVAL);
	assert_int_equal(sf_sms_split("a", NULL, 0, &n, NULL), SF_EINVAL);
}

static void
ucs2be_writes_utf16_with_surrogates(void **state)
{
	unsigned char out[32];
	size_t n = 0;
	static const unsigned char want[] = {0x00, 0x41, 0xC5, 0x48, 0x20,
	                                     0xAC, 0xD8, 0x3D, 0xDE, 0x00}; /* A 안 € 😀 */
	const char *text = "A안€😀";

	(void)state;
	assert_int_equal(sf_sms_to_ucs2be(text, strlen(text), out, sizeof out, &n), SF_OK);
	assert_int_equal(n, sizeof want);
	assert_memory_equal(out, want, sizeof want);
	assert_int_equal(sf_sms_to_ucs2be(text, strlen(text), out, 9, &n), SF_ETOOLONG);
	assert_int_equal(sf_sms_to_ucs2be(text, strlen(text), out, 3, &n), SF_ETOOLONG);
	assert_int_equal(sf_sms_to_ucs2be("", 0, out, 0, &n), SF_OK);
	assert_int_equal(n, 0);
}

static void
first_non_gsm_points_at_the_culprit(void **state)
{
	struct sf_sms_info info;

	(void)state;
	assert_int_equal(sf_sms_analyze("Safe? Reply “1”", &info), SF_OK);
	assert_int_equal(info.encoding, UCS);
	assert_int_equal(info.first_non_gsm, strlen("Safe? Reply "));
	assert_int_equal(sf_sms_analyze("Safe? Reply \"1\"", &info), SF_OK);
	assert_int_equal(info.encoding, GSM);
	assert_int_equal(info.first_non_gsm, (size_t)-1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(analyze_decides_encoding_and_counts),
	    cmocka_unit_test(parts_change_exactly_at_the_limits),
	    cmocka_unit_test(units_left_and_per_part_follow_the_part_size),
	    cmocka_unit_test(split_never_cuts_an_escape_pair),
	    cmocka_unit_test(escape_pairs_can_add_a_part_beyond_the_plain_count),
	    cmocka_unit_test(split_never_cuts_a_surrogate_pair),
	    cmocka_unit_test(korean_check_in_message_splits_into_parts_of_67),
	    cmocka_unit_test(single_part_covers_the_whole_text),
	    cmocka_unit_test(more_than_255_parts_is_refused),
	    cmocka_unit_test(too_small_an_array_says_how_many_parts_are_needed),
	    cmocka_unit_test(invalid_utf8_is_refused),
	    cmocka_unit_test(ucs2be_writes_utf16_with_surrogates),
	    cmocka_unit_test(first_non_gsm_points_at_the_culprit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
