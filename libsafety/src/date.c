/*
 * Calendar dates in a declared format, and RFC 3339 timestamps. Days are
 * counted with the proleptic Gregorian calendar computed here (days from a
 * civil date), never with mktime, timegm or the locale, so that the result
 * does not depend on the TZ or LANG of whoever runs the code.
 */
#include <safety/date.h>
#include <safety/error.h>

#include <stdbool.h>
#include <string.h>

/* A cursor over the trimmed input. */
struct date_reader {
	const char *p;
	const char *end;
};

static const char *const date_patterns[] = {
    [SF_DATE_ISO] = "YYYY-MM-DD", [SF_DATE_DOTTED] = "YYYY.MM.DD", [SF_DATE_DMY] = "DD/MM/YYYY",
    [SF_DATE_MDY] = "MM/DD/YYYY", [SF_DATE_COMPACT] = "YYYYMMDD",
};

static const char *const date_format_names[] = {
    [SF_DATE_ISO] = "iso", [SF_DATE_DOTTED] = "dotted",   [SF_DATE_DMY] = "dmy",
    [SF_DATE_MDY] = "mdy", [SF_DATE_COMPACT] = "compact",
};

/* Tells whether c is white space that may surround a date. */
static bool
date_is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Sets a reader on s without its surrounding white space. */
static void
date_reader_init(struct date_reader *r, const char *s)
{
	r->p = s;
	while (date_is_blank(*r->p))
		r->p++;
	r->end = r->p + strlen(r->p);
	while (r->end > r->p && date_is_blank(r->end[-1]))
		r->end--;
}

/* Reads min to max ASCII digits as a number. */
static bool
date_digits(struct date_reader *r, int min, int max, int *value)
{
	int n = 0, v = 0;

	while (r->p < r->end && n < max && *r->p >= '0' && *r->p <= '9') {
		v = v * 10 + (*r->p - '0');
		r->p++;
		n++;
	}
	if (n < min)
		return false;
	*value = v;
	return true;
}

/* Consumes c if it comes next. */
static bool
date_char(struct date_reader *r, char c)
{
	if (r->p < r->end && *r->p == c) {
		r->p++;
		return true;
	}
	return false;
}

/* Skips spaces, which Koreans put after the dots of a date. */
static void
date_spaces(struct date_reader *r)
{
	while (r->p < r->end && *r->p == ' ')
		r->p++;
}

/* Tells whether year is a leap year of the Gregorian calendar. */
static bool
date_is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Returns the number of days in a month (1 to 12) of a year. */
static int
date_days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (month == 2 && date_is_leap(year))
		return 29;
	return days[month - 1];
}

/*
 * Counts days from 1970-01-01 to a civil date, for any year, by the method of
 * eras of 400 years (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
 */
static int64_t
date_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Checks month and day of a date whose year is already known to be acceptable. */
static int
date_check_month_day(int year, int month, int day, const char *what, char *err, size_t errsz)
{
	if (month < 1 || month > 12)
		return sf_error_set(err, errsz, SF_ERANGE, "%s: month %d out of range (1 to 12)",
		                    what, month);
	if (day < 1 || day > date_days_in_month(year, month))
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "%s: day %d out of range for %04d-%02d (%d days)", what, day,
		                    year, month, date_days_in_month(year, month));
	return 0;
}

/* Checks that a date exists and its year is allowed. */
int
sf_date_validate(const struct sf_date *d, char *err, size_t errsz)
{
	if (d == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "date: missing");
	if (d->year < SF_DATE_YEAR_MIN || d->year > SF_DATE_YEAR_MAX)
		return sf_error_set(err, errsz, SF_ERANGE, "date: year %d out of range (%d to %d)",
		                    d->year, SF_DATE_YEAR_MIN, SF_DATE_YEAR_MAX);
	return date_check_month_day(d->year, d->month, d->day, "date", err, errsz);
}

/* Parses a date written in a declared format. */
int
sf_date_parse(const char *s, enum sf_date_format fmt, struct sf_date *out, char *err, size_t errsz)
{
	struct date_reader r;
	struct sf_date d = {0, 0, 0};
	int first = 0, second = 0, rc;
	bool ok = false;
	char sep;

	if (s == NULL || out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "date: missing");
	if ((unsigned)fmt > SF_DATE_COMPACT)
		return sf_error_set(err, errsz, SF_EINVAL, "date: unknown format %d", (int)fmt);
	date_reader_init(&r, s);
	if (r.p == r.end)
		return sf_error_set(err, errsz, SF_EINVAL, "date: empty");
	switch (fmt) {
	case SF_DATE_ISO:
		ok = date_digits(&r, 4, 4, &d.year) && date_char(&r, '-') &&
		     date_digits(&r, 1, 2, &d.month) && date_char(&r, '-') &&
		     date_digits(&r, 1, 2, &d.day);
		break;
	case SF_DATE_DOTTED:
		ok = date_digits(&r, 4, 4, &d.year) && date_char(&r, '.');
		if (ok) {
			date_spaces(&r);
			ok = date_digits(&r, 1, 2, &d.month) && date_char(&r, '.');
		}
		if (ok) {
			date_spaces(&r);
			ok = date_digits(&r, 1, 2, &d.day);
			date_char(&r, '.');
		}
		break;
	case SF_DATE_DMY:
	case SF_DATE_MDY:
		ok = date_digits(&r, 1, 2, &first) && r.p < r.end;
		if (ok) {
			sep = *r.p;
			ok = (sep == '/' || sep == '.' || sep == '-') && date_char(&r, sep) &&
			     date_digits(&r, 1, 2, &second) && date_char(&r, sep) &&
			     date_digits(&r, 4, 4, &d.year);
		}
		d.day = fmt == SF_DATE_DMY ? first : second;
		d.month = fmt == SF_DATE_DMY ? second : first;
		break;
	case SF_DATE_COMPACT:
		ok = date_digits(&r, 4, 4, &d.year) && date_digits(&r, 2, 2, &d.month) &&
		     date_digits(&r, 2, 2, &d.day);
		break;
	}
	if (!ok || r.p != r.end)
		return sf_error_set(err, errsz, SF_EINVAL, "date: expected %s", date_patterns[fmt]);
	rc = sf_date_validate(&d, err, errsz);
	/* A month over 12 in a day-month column usually means the other order was used. */
	if (rc != 0 && (fmt == SF_DATE_DMY || fmt == SF_DATE_MDY) && d.month > 12 && d.day <= 12 &&
	    d.year >= SF_DATE_YEAR_MIN && d.year <= SF_DATE_YEAR_MAX)
		return sf_error_set(err, errsz, rc,
		                    "date: month %d out of range (1 to 12); the column is %s, "
		                    "is it %s?",
		                    d.month, date_patterns[fmt],
		                    date_patterns[fmt == SF_DATE_DMY ? SF_DATE_MDY : SF_DATE_DMY]);
	if (rc != 0)
		return rc;
	*out = d;
	return 0;
}

/* Writes a date as YYYY-MM-DD. */
int
sf_date_format_iso(const struct sf_date *d, char out[11])
{
	if (out == NULL)
		return SF_EINVAL;
	out[0] = '\0';
	if (sf_date_validate(d, NULL, 0) != 0)
		return SF_ERANGE;
	/* Validated, so every field has exactly its digits. */
	out[0] = (char)('0' + d->year / 1000);
	out[1] = (char)('0' + d->year / 100 % 10);
	out[2] = (char)('0' + d->year / 10 % 10);
	out[3] = (char)('0' + d->year % 10);
	out[4] = '-';
	out[5] = (char)('0' + d->month / 10);
	out[6] = (char)('0' + d->month % 10);
	out[7] = '-';
	out[8] = (char)('0' + d->day / 10);
	out[9] = (char)('0' + d->day % 10);
	out[10] = '\0';
	return 0;
}

/* Orders two dates. */
int
sf_date_compare(const struct sf_date *a, const struct sf_date *b)
{
	if (a->year != b->year)
		return a->year < b->year ? -1 : 1;
	if (a->month != b->month)
		return a->month < b->month ? -1 : 1;
	if (a->day != b->day)
		return a->day < b->day ? -1 : 1;
	return 0;
}

/* Counts the days from 1970-01-01 to a date. */
int
sf_date_to_days(const struct sf_date *d, int64_t *days_out)
{
	if (days_out == NULL || sf_date_validate(d, NULL, 0) != 0)
		return SF_ERANGE;
	*days_out = date_days_from_civil(d->year, d->month, d->day);
	return 0;
}

/* Reads the name of a date format. */
int
sf_date_parse_format_name(const char *name, enum sf_date_format *out)
{
	char lower[16];
	size_t n;

	if (name == NULL || out == NULL)
		return SF_EINVAL;
	n = strlen(name);
	if (n >= sizeof lower)
		return SF_EINVAL;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	for (int f = SF_DATE_ISO; f <= SF_DATE_COMPACT; f++) {
		if (strcmp(lower, date_format_names[f]) == 0) {
			*out = (enum sf_date_format)f;
			return 0;
		}
	}
	return SF_EINVAL;
}

/* Parses an RFC 3339 timestamp into Unix seconds. */
int
sf_timestamp_parse_iso8601(const char *s, int64_t *unix_seconds_out, char *err, size_t errsz)
{
	static const char expected[] =
	    "timestamp: expected YYYY-MM-DDThh:mm:ss with Z or an offset like +03:00";
	struct date_reader r;
	int year, month, day, hour, minute, second, off_h = 0, off_m = 0, sign = 0, frac, rc;
	int64_t t;

	if (s == NULL || unix_seconds_out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "timestamp: missing");
	date_reader_init(&r, s);
	if (r.p == r.end)
		return sf_error_set(err, errsz, SF_EINVAL, "timestamp: empty");
	if (!date_digits(&r, 4, 4, &year) || !date_char(&r, '-') ||
	    !date_digits(&r, 2, 2, &month) || !date_char(&r, '-') || !date_digits(&r, 2, 2, &day))
		return sf_error_set(err, errsz, SF_EINVAL, "%s", expected);
	if (r.p == r.end)
		return sf_error_set(err, errsz, SF_EINVAL, "timestamp: no time of day");
	if (!(date_char(&r, 'T') || date_char(&r, 't') || date_char(&r, ' ')) ||
	    !date_digits(&r, 2, 2, &hour) || !date_char(&r, ':') ||
	    !date_digits(&r, 2, 2, &minute) || !date_char(&r, ':') ||
	    !date_digits(&r, 2, 2, &second))
		return sf_error_set(err, errsz, SF_EINVAL, "%s", expected);
	if (date_char(&r, '.')) {
		if (!date_digits(&r, 1, 1, &frac))
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "timestamp: no digits after the decimal point");
		/* Only the whole second is kept; the digits need not be read. */
		while (r.p < r.end && *r.p >= '0' && *r.p <= '9')
			r.p++;
	}
	if (r.p == r.end)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "timestamp: no time zone offset (Z or +hh:mm)");
	if (date_char(&r, 'Z') || date_char(&r, 'z')) {
		sign = 0;
	} else if (date_char(&r, '+') || date_char(&r, '-')) {
		sign = r.p[-1] == '+' ? 1 : -1;
		if (!date_digits(&r, 2, 2, &off_h))
			return sf_error_set(err, errsz, SF_EINVAL, "%s", expected);
		date_char(&r, ':');
		if (!date_digits(&r, 2, 2, &off_m))
			return sf_error_set(err, errsz, SF_EINVAL, "%s", expected);
	} else {
		return sf_error_set(err, errsz, SF_EINVAL, "%s", expected);
	}
	if (r.p != r.end)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "timestamp: unexpected text after the time zone");
	rc = date_check_month_day(year, month, day, "timestamp", err, errsz);
	if (rc != 0)
		return rc;
	if (hour > 23 || minute > 59 || second > 60)
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "timestamp: time %02d:%02d:%02d out of range", hour, minute,
		                    second);
	if (off_h > 23 || off_m > 59)
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "timestamp: offset %02d:%02d out of range", off_h, off_m);
	t = date_days_from_civil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
	t -= (int64_t)sign * (off_h * 3600 + off_m * 60);
	*unix_seconds_out = t;
	return 0;
}
