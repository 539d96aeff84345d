/*
 * Calendar dates and instants. Birth dates and trip legs come in the format a
 * spreadsheet declares (Koreans write 2023. 2. 6., Europeans 06/02/2023,
 * Americans 02/06/2023), and alert feeds (CAP, USGS) stamp events in RFC 3339;
 * nothing here guesses a format or consults the process's locale or time zone.
 */
#ifndef SAFETY_DATE_H
#define SAFETY_DATE_H

#include <stddef.h>
#include <stdint.h>

/* Years a registry date may have: birth dates of the living, trips, crises. */
#define SF_DATE_YEAR_MIN 1900
#define SF_DATE_YEAR_MAX 2100

/* How a column of dates is written; an import declares it, it is never guessed. */
enum sf_date_format {
	SF_DATE_ISO,     /* YYYY-MM-DD */
	SF_DATE_DOTTED,  /* YYYY.MM.DD, also YYYY. MM. DD. as Koreans write it */
	SF_DATE_DMY,     /* DD/MM/YYYY, also with '.' or '-' */
	SF_DATE_MDY,     /* MM/DD/YYYY, also with '.' or '-' */
	SF_DATE_COMPACT, /* YYYYMMDD */
};

/* A day of the Gregorian calendar. */
struct sf_date {
	int year;
	int month; /* 1 to 12 */
	int day;   /* 1 to 31 */
};

/*
 * Parses s, written in fmt, into out. Surrounding white space is ignored;
 * month and day may have one digit or two (except in SF_DATE_COMPACT), the
 * year must have four. The date must exist (2024-02-29 does, 2023-02-29 does
 * not) and lie in SF_DATE_YEAR_MIN..SF_DATE_YEAR_MAX.
 *
 * Returns 0, SF_EINVAL (not in the format) or SF_ERANGE (no such day, or the
 * year out of range); out is untouched on error and err, if not NULL, names
 * the reason without repeating the input.
 */
int sf_date_parse(const char *s, enum sf_date_format fmt, struct sf_date *out, char *err,
                  size_t errsz);

/* Checks that d is a real day within the years allowed; returns 0, SF_EINVAL (NULL) or SF_ERANGE.
 */
int sf_date_validate(const struct sf_date *d, char *err, size_t errsz);

/* Writes d as "YYYY-MM-DD" and its NUL; returns 0 or SF_ERANGE (out is "" then). */
int sf_date_format_iso(const struct sf_date *d, char out[11]);

/* Orders two dates: negative if a is earlier, 0 if the same day, positive if later. */
int sf_date_compare(const struct sf_date *a, const struct sf_date *b);

/* Writes the number of days from 1970-01-01 to d (negative before); returns 0 or SF_ERANGE. */
int sf_date_to_days(const struct sf_date *d, int64_t *days_out);

/*
 * Reads a format's name as written in configuration and import requests:
 * "iso", "dotted", "dmy", "mdy" or "compact", any case. Returns 0 or
 * SF_EINVAL.
 */
int sf_date_parse_format_name(const char *name, enum sf_date_format *out);

/*
 * Parses an RFC 3339 timestamp ("2023-02-06T01:17:34Z",
 * "2023-02-06T04:17:34.123+03:00") into seconds since 1970-01-01T00:00:00Z.
 * 'T' may be 't' or a space, 'Z' may be 'z', the offset may be written
 * without its colon (+0300); "-00:00" means UTC. Fractions of a second are
 * dropped (the result is the whole second the instant falls in), a leap
 * second (:60) counts as the first second of the next minute. A timestamp
 * without an offset is refused: its instant is unknown. Years 0000 to 9999.
 *
 * Returns 0, SF_EINVAL (not RFC 3339) or SF_ERANGE (a field out of range);
 * *unix_seconds_out is untouched on error.
 */
int sf_timestamp_parse_iso8601(const char *s, int64_t *unix_seconds_out, char *err, size_t errsz);

#endif
