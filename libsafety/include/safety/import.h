/*
 * Imports of nationals from the files embassies keep: CSV (RFC 4180, as Excel
 * and LibreOffice write it) or JSON, with Korean or English column names.
 * Every row is checked field by field with the registry's validators; good
 * rows come out normalised and ready for SQL, bad ones as line, field and
 * reason, so staff can fix the file before anything half-right is stored.
 * The rules, the recognised headers and the limits are in src/import.md.
 */
#ifndef SAFETY_IMPORT_H
#define SAFETY_IMPORT_H

#include <stdbool.h>
#include <stddef.h>

#include <safety/date.h>

/* The longest cell a field may have, in bytes; a longer one is an error. */
#define SF_IMPORT_CELL_MAX 1000
/* Rows read at most unless the options say otherwise. */
#define SF_IMPORT_ROWS_DEFAULT 1000000
/* Errors kept at most unless the options say otherwise; the rest are counted. */
#define SF_IMPORT_ERRORS_DEFAULT 10000
/* Warnings kept at most; the rest are counted. */
#define SF_IMPORT_WARNINGS_MAX 100
/* Phone numbers, and e-mail addresses, kept per person. */
#define SF_IMPORT_CONTACTS_MAX 5
/* Languages kept per person. */
#define SF_IMPORT_LANGUAGES_MAX 8
/* Columns a CSV header may have. */
#define SF_IMPORT_COLUMNS_MAX 512
/* Entries an explicit column mapping may have. */
#define SF_IMPORT_MAPPING_MAX 64
/* The size of a reason, NUL included. */
#define SF_IMPORT_REASON_SIZE 200
/* A buffer that always holds one row in COPY text format (sf_import_row_copy_text). */
#define SF_IMPORT_COPY_LINE_SIZE 65536

/*
 * The columns sf_import_row_copy_text writes, in order, for the COPY column
 * list of a staging table (types: line integer, birth_date, arrival_date and
 * departure_date date, needs, languages, phones and emails text[], lat and
 * lon double precision, the rest text). kind and languages are NULL when the
 * file did not give them (kind_given, languages_given), so a merge can keep
 * the stored value and let a new person take the column's default.
 */
#define SF_IMPORT_COPY_COLUMNS                                                                     \
	"line, name_ko, name_latin, name_key, birth_date, passport_no, kind, arrival_date, "       \
	"departure_date, household_ref, needs, languages, address, residence_status, notes, "      \
	"external_ref, phones, emails, lat, lon"

/* How the input is written. */
enum sf_import_format {
	SF_IMPORT_AUTO, /* JSON if the first byte after a BOM and white space is '[' or '{' */
	SF_IMPORT_CSV,
	SF_IMPORT_JSON,
};

/* A field of a national that a column (or a JSON key) can fill. */
enum sf_import_field {
	SF_IMPORT_FIELD_NAME_KO,
	SF_IMPORT_FIELD_NAME_LATIN,
	SF_IMPORT_FIELD_NAME, /* either script: each value goes where its script says */
	SF_IMPORT_FIELD_BIRTH_DATE,
	SF_IMPORT_FIELD_PASSPORT_NO,
	SF_IMPORT_FIELD_PHONE,
	SF_IMPORT_FIELD_EMAIL,
	SF_IMPORT_FIELD_ADDRESS,
	SF_IMPORT_FIELD_RESIDENCE_STATUS,
	SF_IMPORT_FIELD_KIND,
	SF_IMPORT_FIELD_ARRIVAL_DATE,
	SF_IMPORT_FIELD_DEPARTURE_DATE,
	SF_IMPORT_FIELD_HOUSEHOLD,
	SF_IMPORT_FIELD_NEEDS,
	SF_IMPORT_FIELD_LANGUAGES,
	SF_IMPORT_FIELD_LAT,
	SF_IMPORT_FIELD_LON,
	SF_IMPORT_FIELD_LOCATION, /* "lat, lon" in one cell */
	SF_IMPORT_FIELD_NOTES,
	SF_IMPORT_FIELD_EXTERNAL_REF,
	SF_IMPORT_FIELD_COUNTRY, /* an itinerary leg's country, ISO 3166-1 alpha-2 */
	SF_IMPORT_FIELD_PLACE,   /* an itinerary leg's city or place */
	SF_IMPORT_FIELD_REGION,  /* an itinerary leg's region code (ISO 3166-2 or the mission's) */
	SF_IMPORT_FIELD_COUNT
};

/* One "field=header" pair of an explicit mapping; header is owned by the mapping. */
struct sf_import_map_entry {
	enum sf_import_field field;
	char *header;
};

/* Columns named by staff (--map); start zeroed, free with sf_import_mapping_clear. */
struct sf_import_mapping {
	struct sf_import_map_entry *entries;
	size_t count;
};

/* How to read a file; fill with sf_import_options_init, then change what differs. */
struct sf_import_options {
	enum sf_import_format format;
	/* ISO 3166 alpha-2 code of the mission's country for national phone forms; borrowed. */
	const char *default_country;
	/* The declared format of every date column; ISO 8601 is accepted as well. */
	enum sf_date_format date_format;
	/* Explicit column names, or NULL; borrowed for the duration of the call. */
	const struct sf_import_mapping *mapping;
	/* CSV delimiter ',', ';' or '\t'; 0 to take the commonest of them in the first lines. */
	char delimiter;
	/*
	 * Read 010-XXXX-XXXX as a Korean mobile (+82 10…) when it is not a
	 * number of the mission's country: Korean nationals abroad carry one.
	 */
	bool korean_mobile_fallback;
	/*
	 * An itinerary file (a partner's bookings, an airline's manifest): a row
	 * per leg, so one passport may appear on several rows, and a row is a
	 * traveller unless it says otherwise.
	 */
	bool itinerary;
	size_t max_rows;   /* more data rows than this refuse the file; 0 = the default */
	size_t max_errors; /* errors kept; 0 = the default */
};

/*
 * A good row, every value normalised and NUL-terminated; NULL means absent
 * (SQL NULL). All strings belong to the result that holds the row.
 */
struct sf_import_row {
	size_t line; /* CSV: physical line the record starts on; JSON: 1-based object index */
	const char *name_ko;          /* NFC, has Hangul */
	const char *name_latin;       /* NFC, Latin letters */
	const char *name_key;         /* search keys of both names, space separated; never NULL */
	const char *birth_date;       /* YYYY-MM-DD */
	const char *passport_no;      /* A-Z and 0-9, 5 to 20 */
	const char *kind;             /* "resident" or "traveller"; never NULL */
	const char *arrival_date;     /* YYYY-MM-DD */
	const char *departure_date;   /* YYYY-MM-DD, not before arrival_date */
	const char *household_ref;    /* the file's household key */
	const char *needs;            /* PostgreSQL array literal, "{}" or "{child,medical}" */
	const char *languages;        /* PostgreSQL array literal, "{ko}" when none given */
	const char *address;          /* at most 500 characters */
	const char *residence_status; /* at most 100 characters */
	const char *notes;            /* line breaks kept as "\n" */
	const char *external_ref;     /* the file's own id of the person */
	const char *country;          /* ISO 3166-1 alpha-2, upper case */
	const char *place;            /* at most 200 characters */
	const char *region;           /* letters, digits, '.', '_', '-'; at most 32 */
	const char *const *phones;    /* E.164, first = priority 1 */
	size_t nphones;
	const char *const *emails; /* normalised by sf_email_validate */
	size_t nemails;
	/*
	 * Whether the file gave the kind, and at least one language: a non-empty
	 * cell (not a placeholder such as "-") or JSON value. When false, kind
	 * and languages still hold the defaults ("resident", or "traveller" for
	 * an itinerary; "{ko}") but the COPY text has NULL for them.
	 */
	bool kind_given;
	bool languages_given;
	bool has_point;
	double lat;
	double lon;
	void *storage; /* private: the one block every pointer above points into */
};

/*
 * A problem with the file, a row or a value. line as in sf_import_row (0: the
 * file as a whole); column 1-based in CSV, 0 when none applies; field is a
 * static string: a field name, "name" (no name at all), "row" (the record
 * itself) or "file". reason starts with the field and never holds a value
 * from the file (no names, numbers, addresses), only what is wrong with it.
 */
struct sf_import_error {
	size_t line;
	size_t column;
	const char *field;
	char reason[SF_IMPORT_REASON_SIZE];
};

/* What a file held; owned by the caller, freed with sf_import_result_free. */
struct sf_import_result {
	enum sf_import_format format; /* as read: SF_IMPORT_CSV or SF_IMPORT_JSON */
	char delimiter;               /* CSV: the delimiter used */
	size_t header_line;           /* CSV: the header's line */
	/* CSV: the 1-based column each field was read from, 0 when none. */
	size_t columns[SF_IMPORT_FIELD_COUNT];
	size_t records;  /* data records read, empty ones not counted */
	size_t bad_rows; /* records with at least one error */
	struct sf_import_row *rows;
	size_t nrows;
	struct sf_import_error *errors;
	size_t nerrors;
	size_t errors_dropped; /* errors past max_errors, counted only */
	struct sf_import_error *warnings;
	size_t nwarnings;
	size_t warnings_dropped;
	bool file_error; /* the file as a whole was refused: no rows */
	/*
	 * CSV: the header is the registry's export's, an "id" column (read as
	 * external_ref) beside a "mission" one: each external_ref is then the
	 * id of a national. Other files' id, ref or 관리번호 columns are the
	 * embassy's own numbers.
	 */
	bool national_ids;
};

/* Sets options to their defaults: auto format, ISO dates, no country, the Korean mobile fallback.
 */
void sf_import_options_init(struct sf_import_options *opt);

/*
 * Reads a whole file of len bytes (need not be NUL-terminated) and sets *out
 * to a new result the caller frees with sf_import_result_free.
 *
 * Returns 0 when the file was read: its good rows are in rows, each bad row's
 * problems in errors (all of them, up to max_errors). Returns SF_EINVAL when
 * the file as a whole is refused (not UTF-8, malformed CSV quoting, invalid
 * JSON, no header, no name column, two columns for one field, a mapped
 * column missing, two mappings that find the same column, an unknown
 * default_country or date_format) and SF_ETOOLONG when it has more than
 * max_rows rows; then file_error is set, rows is empty and errors says why. Returns SF_ENOMEM with
 * *out NULL, or SF_EINVAL with *out NULL when an argument is NULL.
 */
int sf_import_parse(const char *data, size_t len, const struct sf_import_options *opt,
                    struct sf_import_result **out);

/* Frees a result and every row, string and error in it; NULL is a no-op. */
void sf_import_result_free(struct sf_import_result *res);

/*
 * Adds the "field=header" pairs of spec to mapping: one pair, or several
 * separated by commas ("phone=연락처, name_ko=성명"); a comma is part of the
 * header when no field name and '=' follow it. Fields are named as by
 * sf_import_field_lookup; headers are matched to the file's after trimming.
 * Headers are compared here only as written (ASCII case aside): two that
 * differ but find the same column (folded, "E_mail" and "e.mail") refuse
 * the file in sf_import_parse. Call once per --map option or JSON array
 * element to add more.
 *
 * Returns 0, SF_EINVAL (no '=', unknown field, empty header, a field or a
 * header mapped twice; mapping unchanged), SF_ETOOLONG (over
 * SF_IMPORT_MAPPING_MAX pairs) or SF_ENOMEM; err, if not NULL, says why.
 */
int sf_import_parse_mapping(const char *spec, struct sf_import_mapping *mapping, char *err,
                            size_t errsz);

/* Frees the entries of a mapping and zeroes it; the struct itself is the caller's. */
void sf_import_mapping_clear(struct sf_import_mapping *mapping);

#define SF_PASSPORT_MIN 5
#define SF_PASSPORT_MAX 20

/*
 * A passport number as the registry stores it, the one rule for an import's
 * rows and for staff's changes: spaces, tabs and dashes dropped, letters
 * upper-cased, SF_PASSPORT_MIN to SF_PASSPORT_MAX letters A to Z and digits.
 * Returns 0 with the number in out, or SF_EINVAL with err (if not NULL)
 * saying why, starting "passport_no: " and never quoting the value.
 */
int sf_passport_normalize(const char *in, char out[SF_PASSPORT_MAX + 1], char *err, size_t errsz);

/* Returns the canonical name of a field ("phone"), or NULL for a value out of range. */
const char *sf_import_field_name(enum sf_import_field field);

/*
 * Reads a canonical field name, any case ("phone", "name_ko"; also
 * "household_ref", "phones", "emails"). Returns 0 or SF_ENOTFOUND.
 */
int sf_import_field_lookup(const char *name, enum sf_import_field *out);

/*
 * Tells which field a column header stands for, as the import recognises it
 * ("휴대전화" -> phone, "성명(영문)" -> name_latin, "Date of Birth" ->
 * birth_date). Returns 0 or SF_ENOTFOUND.
 */
int sf_import_header_field(const char *header, enum sf_import_field *out);

/*
 * Writes a row as one line of PostgreSQL COPY text format (tab separated, \N
 * for NULL, backslash escapes, '\n' at the end), in the column order of
 * SF_IMPORT_COPY_COLUMNS, into buf (the caller's; SF_IMPORT_COPY_LINE_SIZE
 * bytes always suffice) and its length, without the NUL, into *len_out.
 * kind is written only when kind_given and languages only when
 * languages_given, else \N: a re-import must not reset them to the defaults.
 * Returns 0, SF_EINVAL (NULL) or SF_ETOOLONG (bufsz too small).
 */
int sf_import_row_copy_text(const struct sf_import_row *row, char *buf, size_t bufsz,
                            size_t *len_out);

#endif
