/*
 * Unit tests of dates and timestamps: each declared format with real and
 * impossible days, the Korean dotted style, and RFC 3339 instants from CAP
 * and USGS feeds, computed the same whatever the process's time zone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <safety/date.h>
#include <safety/error.h>

struct date_case {
	const char *name;
	enum sf_date_format fmt;
	const char *input;
	int rc;
	struct sf_date want;
	const char *reason; /* part of the message when refused */
};

#define ACCEPT(name, fmt, input, y, m, d)                                                          \
	{                                                                                          \
		name, fmt, input, 0, {y, m, d}, NULL                                               \
	}
#define REJECT(name, fmt, input, rc, reason)                                                       \
	{                                                                                          \
		name, fmt, input, rc, {0, 0, 0}, reason                                            \
	}

static const struct date_case date_cases[] = {
    ACCEPT("date_reads_iso", SF_DATE_ISO, "2023-02-06", 2023, 2, 6),
    ACCEPT("date_trims_white_space", SF_DATE_ISO, " \t2023-02-06\r\n", 2023, 2, 6),
    ACCEPT("date_reads_iso_single_digits", SF_DATE_ISO, "2023-2-6", 2023, 2, 6),
    ACCEPT("date_accepts_leap_day", SF_DATE_ISO, "2024-02-29", 2024, 2, 29),
    ACCEPT("date_accepts_leap_day_of_400", SF_DATE_ISO, "2000-02-29", 2000, 2, 29),
    ACCEPT("date_accepts_first_allowed_day", SF_DATE_ISO, "1900-01-01", 1900, 1, 1),
    ACCEPT("date_accepts_last_allowed_day", SF_DATE_ISO, "2100-12-31", 2100, 12, 31),
    ACCEPT("date_reads_dotted", SF_DATE_DOTTED, "2023.02.06", 2023, 2, 6),
    ACCEPT("date_reads_korean_dotted", SF_DATE_DOTTED, "2023. 2. 6.", 2023, 2, 6),
    ACCEPT("date_reads_dotted_trailing_dot", SF_DATE_DOTTED, "2023.2.6.", 2023, 2, 6),
    ACCEPT("date_reads_korean_dotted_padded", SF_DATE_DOTTED, "1985. 03. 07", 1985, 3, 7),
    ACCEPT("date_reads_dmy_slashes", SF_DATE_DMY, "06/02/2023", 2023, 2, 6),
    ACCEPT("date_reads_dmy_dots", SF_DATE_DMY, "6.2.2023", 2023, 2, 6),
    ACCEPT("date_reads_dmy_dashes", SF_DATE_DMY, "06-02-2023", 2023, 2, 6),
    ACCEPT("date_reads_mdy", SF_DATE_MDY, "02/06/2023", 2023, 2, 6),
    ACCEPT("date_reads_mdy_leap_day", SF_DATE_MDY, "2/29/2024", 2024, 2, 29),
    ACCEPT("date_reads_compact", SF_DATE_COMPACT, "20230206", 2023, 2, 6),
    REJECT("date_refuses_feb_29_of_1900", SF_DATE_ISO, "1900-02-29", SF_ERANGE,
           "date: day 29 out of range for 1900-02 (28 days)"),
    REJECT("date_refuses_feb_29_of_2100", SF_DATE_ISO, "2100-02-29", SF_ERANGE, "(28 days)"),
    REJECT("date_refuses_feb_29_of_common_year", SF_DATE_ISO, "2023-02-29", SF_ERANGE, "day 29"),
    REJECT("date_refuses_feb_30", SF_DATE_ISO, "2023-02-30", SF_ERANGE,
           "date: day 30 out of range for 2023-02 (28 days)"),
    REJECT("date_refuses_april_31", SF_DATE_ISO, "2023-04-31", SF_ERANGE, "(30 days)"),
    REJECT("date_refuses_month_13", SF_DATE_ISO, "2023-13-01", SF_ERANGE,
           "date: month 13 out of range (1 to 12)"),
    REJECT("date_refuses_month_0", SF_DATE_ISO, "2023-00-10", SF_ERANGE, "month 0"),
    REJECT("date_refuses_day_0", SF_DATE_ISO, "2023-01-00", SF_ERANGE, "day 0"),
    REJECT("date_refuses_year_before_1900", SF_DATE_ISO, "1899-12-31", SF_ERANGE,
           "date: year 1899 out of range (1900 to 2100)"),
    REJECT("date_refuses_year_after_2100", SF_DATE_ISO, "2101-01-01", SF_ERANGE, "year 2101"),
    REJECT("date_refuses_two_digit_year", SF_DATE_ISO, "23-02-06", SF_EINVAL,
           "date: expected YYYY-MM-DD"),
    REJECT("date_refuses_other_separator", SF_DATE_ISO, "2023/02/06", SF_EINVAL,
           "expected YYYY-MM-DD"),
    REJECT("date_refuses_time_of_day", SF_DATE_ISO, "2023-02-06T00:00", SF_EINVAL,
           "expected YYYY-MM-DD"),
    REJECT("date_refuses_junk_suffix", SF_DATE_ISO, "2023-02-06x", SF_EINVAL, "expected"),
    REJECT("date_refuses_three_digit_month", SF_DATE_ISO, "2023-002-06", SF_EINVAL, "expected"),
    REJECT("date_refuses_sign", SF_DATE_ISO, "-2023-02-06", SF_EINVAL, "expected"),
    REJECT("date_refuses_full_width_digits", SF_DATE_ISO, "２０２３-02-06", SF_EINVAL, "expected"),
    REJECT("date_refuses_empty", SF_DATE_ISO, "", SF_EINVAL, "date: empty"),
    REJECT("date_refuses_blank", SF_DATE_DMY, "   ", SF_EINVAL, "date: empty"),
    REJECT("date_refuses_space_before_dot", SF_DATE_DOTTED, "2023 .02.06", SF_EINVAL,
           "expected YYYY.MM.DD"),
    REJECT("date_refuses_double_dot", SF_DATE_DOTTED, "2023..02.06", SF_EINVAL, "expected"),
    REJECT("date_refuses_two_trailing_dots", SF_DATE_DOTTED, "2023.02.06..", SF_EINVAL, "expected"),
    REJECT("date_refuses_mixed_separators", SF_DATE_DMY, "06/02-2023", SF_EINVAL,
           "expected DD/MM/YYYY"),
    REJECT("date_refuses_dmy_short_year", SF_DATE_DMY, "06/02/23", SF_EINVAL, "expected"),
    REJECT("date_refuses_april_31_dmy", SF_DATE_DMY, "31/04/2023", SF_ERANGE, "(30 days)"),
    REJECT("date_hints_mdy_in_dmy_column", SF_DATE_DMY, "02/13/2023", SF_ERANGE,
           "the column is DD/MM/YYYY, is it MM/DD/YYYY?"),
    REJECT("date_hints_dmy_in_mdy_column", SF_DATE_MDY, "13/02/2023", SF_ERANGE,
           "the column is MM/DD/YYYY, is it DD/MM/YYYY?"),
    REJECT("date_refuses_iso_in_dmy_column", SF_DATE_DMY, "2023-02-06", SF_EINVAL,
           "expected DD/MM/YYYY"),
    REJECT("date_refuses_short_compact", SF_DATE_COMPACT, "2023026", SF_EINVAL,
           "expected YYYYMMDD"),
    REJECT("date_refuses_long_compact", SF_DATE_COMPACT, "202302061", SF_EINVAL, "expected"),
    REJECT("date_refuses_impossible_compact", SF_DATE_COMPACT, "20230230", SF_ERANGE, "day 30"),
    REJECT("date_refuses_unknown_format", (enum sf_date_format)99, "2023-02-06", SF_EINVAL,
           "unknown format"),
};

static void
date_parses_declared_formats(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof date_cases / sizeof date_cases[0]; i++) {
		const struct date_case *c = &date_cases[i];
		struct sf_date got = {-1, -1, -1};
		char err[256] = "";
		int rc = sf_date_parse(c->input, c->fmt, &got, err, sizeof err);

		if (rc != c->rc)
			fail_msg("%s: \"%s\" gave %d (%s), want %d", c->name, c->input, rc, err,
			         c->rc);
		if (rc == 0 && sf_date_compare(&got, &c->want) != 0)
			fail_msg("%s: \"%s\" gave %d-%d-%d", c->name, c->input, got.year, got.month,
			         got.day);
		if (rc != 0 && (strstr(err, c->reason) == NULL || got.year != -1))
			fail_msg("%s: \"%s\" gave \"%s\", want \"%s\"", c->name, c->input, err,
			         c->reason);
	}
}

static void
date_refuses_hostile_input(void **state)
{
	struct sf_date d;
	char err[128];
	char *huge = malloc(100001);

	(void)state;
	assert_non_null(huge);
	memset(huge, '9', 100000);
	huge[100000] = '\0';
	assert_int_equal(sf_date_parse(huge, SF_DATE_COMPACT, &d, err, sizeof err), SF_EINVAL);
	memset(huge, ' ', 100000);
	assert_int_equal(sf_date_parse(huge, SF_DATE_ISO, &d, err, sizeof err), SF_EINVAL);
	assert_string_equal(err, "date: empty");
	free(huge);
	assert_int_equal(sf_date_parse("2023-02\xc0\x80", SF_DATE_ISO, &d, err, sizeof err),
	                 SF_EINVAL);
	assert_int_equal(sf_date_parse(NULL, SF_DATE_ISO, &d, err, sizeof err), SF_EINVAL);
	assert_int_equal(sf_date_parse("2023-02-06", SF_DATE_ISO, NULL, err, sizeof err),
	                 SF_EINVAL);
	/* Values that would overflow an int are still just wrong. */
	assert_int_equal(sf_date_parse("99/99/9999", SF_DATE_DMY, &d, err, sizeof err), SF_ERANGE);
}

static void
date_formats_iso_and_orders(void **state)
{
	struct sf_date a = {2023, 2, 6}, b = {2023, 2, 7}, c = {2022, 12, 31}, bad = {2023, 2, 30};
	struct sf_date low = {1899, 12, 31};
	char out[11];

	(void)state;
	assert_int_equal(sf_date_format_iso(&a, out), 0);
	assert_string_equal(out, "2023-02-06");
	assert_int_equal(sf_date_format_iso(&(struct sf_date){1900, 1, 1}, out), 0);
	assert_string_equal(out, "1900-01-01");
	assert_int_equal(sf_date_format_iso(&bad, out), SF_ERANGE);
	assert_string_equal(out, "");
	assert_int_equal(sf_date_format_iso(&low, out), SF_ERANGE);
	assert_int_equal(sf_date_format_iso(NULL, out), SF_ERANGE);
	assert_true(sf_date_compare(&a, &b) < 0);
	assert_true(sf_date_compare(&b, &a) > 0);
	assert_true(sf_date_compare(&c, &a) < 0);
	assert_true(sf_date_compare(&a, &(struct sf_date){2023, 3, 1}) < 0);
	assert_int_equal(sf_date_compare(&a, &(struct sf_date){2023, 2, 6}), 0);
	assert_int_equal(sf_date_validate(&a, NULL, 0), 0);
	assert_int_equal(sf_date_validate(&bad, NULL, 0), SF_ERANGE);
}

static void
date_counts_days_from_the_epoch(void **state)
{
	static const struct {
		struct sf_date date;
		int64_t days;
	} cases[] = {
	    {{1970, 1, 1}, 0},      {{1969, 12, 31}, -1},  {{2000, 3, 1}, 11017},
	    {{1900, 1, 1}, -25567}, {{2023, 2, 6}, 19394}, {{2100, 12, 31}, 47846},
	};
	int64_t days = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		assert_int_equal(sf_date_to_days(&cases[i].date, &days), 0);
		assert_int_equal(days, cases[i].days);
	}
	assert_int_equal(sf_date_to_days(&(struct sf_date){2023, 2, 29}, &days), SF_ERANGE);
}

static void
date_reads_format_names(void **state)
{
	static const struct {
		const char *name;
		int rc;
		enum sf_date_format fmt;
	} cases[] = {
	    {"iso", 0, SF_DATE_ISO},       {"ISO", 0, SF_DATE_ISO},
	    {"Dotted", 0, SF_DATE_DOTTED}, {"dmy", 0, SF_DATE_DMY},
	    {"mdy", 0, SF_DATE_MDY},       {"compact", 0, SF_DATE_COMPACT},
	    {"ymd", SF_EINVAL, 0},         {"", SF_EINVAL, 0},
	    {"iso ", SF_EINVAL, 0},        {"a-very-long-format-name", SF_EINVAL, 0},
	};
	enum sf_date_format fmt;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		fmt = (enum sf_date_format)77;
		assert_int_equal(sf_date_parse_format_name(cases[i].name, &fmt), cases[i].rc);
		if (cases[i].rc == 0)
			assert_int_equal(fmt, cases[i].fmt);
	}
	assert_int_equal(sf_date_parse_format_name(NULL, &fmt), SF_EINVAL);
}

struct timestamp_case {
	const char *name;
	const char *input;
	int rc;
	int64_t want;
	const char *reason;
};

/* 2023-02-06T01:17:34Z, the first Kahramanmaraş earthquake (USGS us6000jllz). */
#define QUAKE 1675646254

static const struct timestamp_case timestamp_cases[] = {
    {"timestamp_reads_utc", "2023-02-06T01:17:34Z", 0, QUAKE, NULL},
    {"timestamp_reads_turkish_offset", "2023-02-06T04:17:34+03:00", 0, QUAKE, NULL},
    {"timestamp_drops_milliseconds", "2023-02-06T04:17:34.123+03:00", 0, QUAKE, NULL},
    {"timestamp_drops_nanoseconds", "2023-02-06T01:17:34.999999999Z", 0, QUAKE, NULL},
    {"timestamp_reads_lower_case", "2023-02-06t01:17:34z", 0, QUAKE, NULL},
    {"timestamp_reads_space_separator", "2023-02-06 01:17:34Z", 0, QUAKE, NULL},
    {"timestamp_reads_offset_without_colon", "2023-02-06T04:17:34+0300", 0, QUAKE, NULL},
    {"timestamp_reads_negative_offset", "2023-02-05T20:17:34-05:00", 0, QUAKE, NULL},
    {"timestamp_reads_half_hour_offset", "2023-02-06T06:47:34+05:30", 0, QUAKE, NULL},
    {"timestamp_reads_cap_unknown_offset", "2023-02-06T01:17:34-00:00", 0, QUAKE, NULL},
    {"timestamp_trims_white_space", "  2023-02-06T01:17:34Z\n", 0, QUAKE, NULL},
    {"timestamp_reads_epoch", "1970-01-01T00:00:00Z", 0, 0, NULL},
    {"timestamp_reads_before_epoch", "1969-12-31T23:59:59Z", 0, -1, NULL},
    {"timestamp_floors_before_epoch", "1969-12-31T23:59:59.5Z", 0, -1, NULL},
    {"timestamp_reads_leap_second", "2016-12-31T23:59:60Z", 0, 1483228800, NULL},
    {"timestamp_reads_leap_day", "2024-02-29T12:00:00Z", 0, 1709208000, NULL},
    {"timestamp_reads_year_1", "0001-01-01T00:00:00Z", 0, -62135596800LL, NULL},
    {"timestamp_reads_year_9999", "9999-12-31T23:59:59Z", 0, 253402300799LL, NULL},
    {"timestamp_refuses_missing_offset", "2023-02-06T01:17:34", SF_EINVAL, 0,
     "no time zone offset"},
    {"timestamp_refuses_date_only", "2023-02-06", SF_EINVAL, 0, "no time of day"},
    {"timestamp_refuses_hour_25", "2023-02-06T25:00:00Z", SF_ERANGE, 0,
     "time 25:00:00 out of range"},
    {"timestamp_refuses_minute_60", "2023-02-06T01:60:00Z", SF_ERANGE, 0, "01:60:00"},
    {"timestamp_refuses_second_61", "2023-02-06T01:17:61Z", SF_ERANGE, 0, "01:17:61"},
    {"timestamp_refuses_feb_30", "2023-02-30T00:00:00Z", SF_ERANGE, 0,
     "timestamp: day 30 out of range"},
    {"timestamp_refuses_month_13", "2023-13-01T00:00:00Z", SF_ERANGE, 0, "month 13"},
    {"timestamp_refuses_offset_24", "2023-02-06T01:17:34+24:00", SF_ERANGE, 0,
     "offset 24:00 out of range"},
    {"timestamp_refuses_hour_only_offset", "2023-02-06T01:17:34+03", SF_EINVAL, 0, "expected"},
    {"timestamp_refuses_empty_fraction", "2023-02-06T01:17:34.Z", SF_EINVAL, 0,
     "no digits after the decimal point"},
    {"timestamp_refuses_missing_seconds", "2023-02-06T01:17Z", SF_EINVAL, 0, "expected"},
    {"timestamp_refuses_junk_after_zone", "2023-02-06T01:17:34Zjunk", SF_EINVAL, 0,
     "unexpected text after the time zone"},
    {"timestamp_refuses_unix_seconds", "1675646254", SF_EINVAL, 0, "expected"},
    {"timestamp_refuses_short_fields", "2023-2-6T01:17:34Z", SF_EINVAL, 0, "expected"},
    {"timestamp_refuses_short_hour", "2023-02-06T1:17:34Z", SF_EINVAL, 0, "expected"},
    {"timestamp_refuses_comma_fraction", "2023-02-06T01:17:34,5Z", SF_EINVAL, 0, "expected"},
    {"timestamp_refuses_empty", "", SF_EINVAL, 0, "timestamp: empty"},
    {"timestamp_refuses_overlong_nul", "2023-02-06T01:17:34\xc0\x80", SF_EINVAL, 0, "expected"},
};

static void
timestamp_reads_rfc_3339(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof timestamp_cases / sizeof timestamp_cases[0]; i++) {
		const struct timestamp_case *c = &timestamp_cases[i];
		int64_t got = 42;
		char err[256] = "";
		int rc = sf_timestamp_parse_iso8601(c->input, &got, err, sizeof err);

		if (rc != c->rc || (rc == 0 && got != c->want) ||
		    (rc != 0 && (got != 42 || strstr(err, c->reason) == NULL)))
			fail_msg("%s: \"%s\" gave %d %lld (%s)", c->name, c->input, rc,
			         (long long)got, err);
	}
}

static void
timestamp_ignores_process_time_zone(void **state)
{
	int64_t utc, seoul;

	(void)state;
	assert_int_equal(setenv("TZ", "UTC", 1), 0);
	tzset();
	assert_int_equal(sf_timestamp_parse_iso8601("2023-02-06T04:17:34+03:00", &utc, NULL, 0), 0);
	assert_int_equal(setenv("TZ", "Asia/Seoul", 1), 0);
	tzset();
	assert_int_equal(sf_timestamp_parse_iso8601("2023-02-06T04:17:34+03:00", &seoul, NULL, 0),
	                 0);
	assert_int_equal(utc, seoul);
	assert_int_equal(seoul, QUAKE);
	assert_int_equal(sf_timestamp_parse_iso8601(NULL, &utc, NULL, 0), SF_EINVAL);
	assert_int_equal(sf_timestamp_parse_iso8601("2023-02-06T01:17:34Z", NULL, NULL, 0),
	                 SF_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(date_parses_declared_formats),
	    cmocka_unit_test(date_refuses_hostile_input),
	    cmocka_unit_test(date_formats_iso_and_orders),
	    cmocka_unit_test(date_counts_days_from_the_epoch),
	    cmocka_unit_test(date_reads_format_names),
	    cmocka_unit_test(timestamp_reads_rfc_3339),
	    cmocka_unit_test(timestamp_ignores_process_time_zone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
