/*
 * Unit tests of the national import: the example files of tests/data/import
 * (the registry issue's "done" case among them), every row rule run through
 * both CSV and JSON, header recognition, file-level refusals, line numbers,
 * limits, explicit mappings and the COPY text a row becomes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/import.h>

/* Reads a file of the test data into memory. */
static char *
read_data(const char *name, size_t *len)
{
	char path[512];
	FILE *fp;
	char *buf;
	long n;

	snprintf(path, sizeof path, "%s/import/%s", SAFETY_TEST_DATA_DIR, name);
	fp = fopen(path, "rb");
	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

/* Parses text with the given options (NULL: defaults and Türkiye), expecting rc. */
static struct sf_import_result *
parse_with(const char *text, size_t len, const struct sf_import_options *opt, int want_rc)
{
	struct sf_import_options defaults;
	struct sf_import_result *res = NULL;
	int rc;

	if (opt == NULL) {
		sf_import_options_init(&defaults);
		defaults.default_country = "TR";
		opt = &defaults;
	}
	rc = sf_import_parse(text, len, opt, &res);
	if (rc != want_rc) {
		for (size_t i = 0; res != NULL && i < res->nerrors; i++)
			print_error("  error line %zu %s: %s\n", res->errors[i].line,
			            res->errors[i].field, res->errors[i].reason);
		fail_msg("rc %d, want %d", rc, want_rc);
	}
	assert_non_null(res);
	return res;
}

/* Parses a NUL-terminated text with the default options. */
static struct sf_import_result *
parse_text(const char *text, int want_rc)
{
	return parse_with(text, strlen(text), NULL, want_rc);
}

/* Parses a NUL-terminated text with the given options. */
static struct sf_import_result *
parse_text_with(const char *text, const struct sf_import_options *opt, int want_rc)
{
	return parse_with(text, strlen(text), opt, want_rc);
}

/* Writes the value of a row's field as text: NULL as "NULL", lists comma separated. */
static const char *
row_get(const struct sf_import_row *r, const char *field, char *buf, size_t size)
{
	const char *s = NULL;

	if (strcmp(field, "phones") == 0 || strcmp(field, "emails") == 0) {
		const char *const *list = field[0] == 'p' ? r->phones : r->emails;
		size_t n = field[0] == 'p' ? r->nphones : r->nemails, len = 0;

		buf[0] = '\0';
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(buf + len, size - len, "%s%s", i > 0 ? "," : "",
			                        list[i]);
		return n == 0 ? "NULL" : buf;
	}
	if (strcmp(field, "point") == 0) {
		if (!r->has_point)
			return "NULL";
		snprintf(buf, size, "%.4f,%.4f", r->lat, r->lon);
		return buf;
	}
	if (strcmp(field, "line") == 0) {
		snprintf(buf, size, "%zu", r->line);
		return buf;
	}
#define FIELD(f)                                                                                   \
	if (strcmp(field, #f) == 0)                                                                \
		s = r->f;
	FIELD(name_ko)
	FIELD(name_latin)
	FIELD(name_key)
	FIELD(birth_date)
	FIELD(passport_no)
	FIELD(kind)
	FIELD(arrival_date)
	FIELD(departure_date)
	FIELD(household_ref)
	FIELD(needs)
	FIELD(languages)
	FIELD(address)
	FIELD(residence_status)
	FIELD(notes)
	FIELD(external_ref)
#undef FIELD
	return s != NULL ? s : "NULL";
}

/* Checks "field=value|field=value" against a row; fails naming the case and the field. */
static void
check_row(const char *name, const struct sf_import_row *r, const char *want)
{
	char spec[2048], buf[2048], *save = NULL, *pair;

	snprintf(spec, sizeof spec, "%s", want);
	for (pair = strtok_r(spec, "|", &save); pair != NULL; pair = strtok_r(NULL, "|", &save)) {
		char *eq = strchr(pair, '=');
		const char *got;

		assert_non_null(eq);
		*eq = '\0';
		got = row_get(r, pair, buf, sizeof buf);
		if (strcmp(got, eq + 1) != 0)
			fail_msg("%s: %s is \"%s\", want \"%s\"", name, pair, got, eq + 1);
	}
}

/* Checks that a result's errors are, in order, the "line:field" items of want (space separated). */
static void
check_errors(const char *name, const struct sf_import_result *res, const char *want)
{
	char spec[2048], *save = NULL, *item;
	size_t i = 0;

	snprintf(spec, sizeof spec, "%s", want);
	for (item = strtok_r(spec, " ", &save); item != NULL;
	     item = strtok_r(NULL, " ", &save), i++) {
		char got[128];

		if (i >= res->nerrors)
			fail_msg("%s: missing error %s", name, item);
		snprintf(got, sizeof got, "%zu:%s", res->errors[i].line, res->errors[i].field);
		if (strcmp(got, item) != 0)
			fail_msg("%s: error %zu is %s (%s), want %s", name, i, got,
			         res->errors[i].reason, item);
	}
	if (i != res->nerrors)
		fail_msg("%s: %zu errors, want %zu; first extra: %s", name, res->nerrors, i,
		         res->errors[i].reason);
}

/* Fails when a reason or warning holds any of the given pieces of personal data. */
static void
check_no_personal_data(const struct sf_import_result *res, const char *const *secrets)
{
	for (size_t i = 0; i < res->nerrors + res->nwarnings; i++) {
		const struct sf_import_error *e =
		    i < res->nerrors ? &res->errors[i] : &res->warnings[i - res->nerrors];

		for (const char *const *s = secrets; *s != NULL; s++) {
			if (strstr(e->reason, *s) != NULL)
				fail_msg("reason \"%s\" holds \"%s\"", e->reason, *s);
		}
	}
}

/*
 * tests/data/import/nationals-mixed.csv, read for a mission in Türkiye (national
 * phone forms are Turkish; 010-XXXX-XXXX is a Korean mobile). A UTF-8 BOM,
 * CRLF between records, LF inside quoted cells, Korean headers. Line by line:
 *   1  header: 성명,영문성명,생년월일,여권번호,휴대전화,이메일,구분,입국일,출국일,가구,
 *      특이사항,위치,비고
 *   2  good: 김민준, Korean mobile 010-1234-5678 (-> +82), household H001, a point
 *   3  good: 이서연, "+82 10 …" and a Turkish "0532 …" in one cell (two phones), 임산부
 *      -> {pregnant}; notes over lines 3-5 (a quoted cell with two line breaks)
 *   6  good: 박지훈, Ukrainian +380 …, traveller with both dates, a point
 *   7  good: 최유진, Thai "+66 081 …" (trunk 0 after the country code), 여행
 *      (traveller), needs "고령, 의료" -> {elderly,medical}
 *   8  good: Latin name only (JUNG HANA), Korean number written 0082-10-…
 *   9  bad phone: Thai national 081 … is too short for Türkiye
 *  10  bad birth_date: 2023-02-30
 *  11  no name at all
 *  12  traveller without arrival_date and departure_date (two errors)
 *  13  traveller whose departure_date is before arrival_date
 *  14  bad passport_no: M1-2 (three letters and digits)
 *  15  bad email: no dot in the domain
 *  16  unknown need (반려동물, a pet)
 *  17  location out of range: longitude 200
 *  18  location swapped: "100.5018, 13.7563" is lon,lat
 *  19  passport_no of line 2 again
 *  20  every problem of one row: birth_date month 13, phone too short, email, needs
 *  21  an empty record (only commas): skipped silently, not counted
 *  22  good: 문서윤, Turkish "(0532) …", 거주자, needs "장애, 노인" -> {elderly,disability},
 *      notes with a quoted comma and doubled quotes
 *  23-24 empty lines
 */
static const struct {
	size_t line;
	const char *want;
} mixed_rows[] = {
    {2, "name_ko=김민준|name_latin=KIM MINJUN|name_key=김민준 kimminjun|birth_date=1985-03-14|"
        "passport_no=M12345678|phones=+821012345678|emails=kim.minjun@example.com|"
        "kind=resident|household_ref=H001|needs={}|languages={ko}|point=41.0082,28.9784|"
        "notes=NULL"},
    {3, "name_ko=이서연|phones=+821023456789,+905321234567|emails=NULL|kind=resident|"
        "needs={pregnant}|notes=2층 안쪽 집\n엘리베이터 없음\n개 한 마리|point=NULL"},
    {6, "name_ko=박지훈|passport_no=NULL|phones=+380671234567|kind=traveller|"
        "arrival_date=2024-05-01|departure_date=2024-05-20|point=41.0370,28.9850"},
    {7, "name_ko=최유진|phones=+66812345678|kind=traveller|arrival_date=2024-04-28|"
        "departure_date=2024-05-03|needs={elderly,medical}"},
    {8, "name_ko=NULL|name_latin=JUNG HANA|name_key=junghana|phones=+821034567890|"
        "kind=resident"},
    {22, "name_ko=문서윤|phones=+905327654321|emails=moon.sy@example.com|kind=resident|"
         "household_ref=H010|needs={elderly,disability}|notes=물, 식량 필요; \"먼저 전화\" 요망"},
};

/* The "done" case: exactly the expected rows in and the expected errors out. */
static void
import_mixed_file_gives_exactly_the_expected_rows_and_errors(void **state)
{
	static const char *const secrets[] = {
	    "081 234",    "2345678", "M1-2",     "M12345678", "seo.jiwoo", "example",
	    "2023-02-30", "1990-13", "반려동물", "100.5018",  "200.0",     "41.0",
	    "윤서준",     "YOON",    "송하윤",   "+90 532",   NULL};
	size_t len;
	char *text = read_data("nationals-mixed.csv", &len);
	struct sf_import_result *res = parse_with(text, len, NULL, 0);

	(void)state;
	assert_int_equal(res->format, SF_IMPORT_CSV);
	assert_int_equal(res->header_line, 1);
	assert_int_equal(res->records, 18);
	assert_int_equal(res->nrows, sizeof mixed_rows / sizeof mixed_rows[0]);
	assert_int_equal(res->bad_rows, 12);
	assert_int_equal(res->nwarnings, 0);
	assert_false(res->file_error);
	for (size_t i = 0; i < res->nrows; i++) {
		char name[64];

		snprintf(name, sizeof name, "mixed line %zu", mixed_rows[i].line);
		assert_int_equal(res->rows[i].line, mixed_rows[i].line);
		check_row(name, &res->rows[i], mixed_rows[i].want);
	}
	check_errors("mixed", res,
	             "9:phone 10:birth_date 11:name 12:arrival_date 12:departure_date "
	             "13:departure_date 14:passport_no 15:email 16:needs 17:location 18:location "
	             "19:passport_no 20:birth_date 20:phone 20:email 20:needs");
	assert_non_null(strstr(res->errors[0].reason, "phone: too few digits for Türkiye (+90)"));
	assert_int_equal(res->errors[0].column, 5);
	assert_non_null(strstr(res->errors[10].reason, "swap?"));
	assert_non_null(strstr(res->errors[11].reason, "same passport number as line 2"));
	check_no_personal_data(res, secrets);
	sf_import_result_free(res);
	free(text);
}

/* A real-looking Korean spreadsheet: a title line, a serial-number column, Korean dates. */
static void
import_korean_headers_file_reads_with_declared_dotted_dates(void **state)
{
	struct sf_import_options opt;
	struct sf_import_result *res;
	size_t len;
	char *text = read_data("nationals-korean-headers.csv", &len);

	(void)state;
	sf_import_options_init(&opt);
	opt.default_country = "UA";
	opt.date_format = SF_DATE_DOTTED;
	res = parse_with(text, len, &opt, 0);
	assert_int_equal(res->header_line, 2);
	assert_int_equal(res->nrows, 5);
	assert_int_equal(res->nerrors, 0);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_NAME_KO], 2);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_NAME_LATIN], 3);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_BIRTH_DATE], 4);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_PASSPORT_NO], 5);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_PHONE], 6);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_EMAIL], 7);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_ADDRESS], 8);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_RESIDENCE_STATUS], 9);
	check_row("korean line 3", &res->rows[0],
	          "line=3|name_ko=김도현|name_latin=KIM DOHYEON|birth_date=1984-02-17|"
	          "passport_no=M56789012|phones=+380671234567|emails=dohyeon.kim@example.com|"
	          "address=vul. Prykladna 1, kv. 2, Kyiv|residence_status=F-4");
	check_row("korean line 4", &res->rows[1],
	          "line=4|phones=+821098765432,+380507654321|birth_date=1986-11-03");
	check_row("korean line 7", &res->rows[4],
	          "line=7|phones=+380935550102|residence_status=영주");
	/* The serial-number column and the title line are reported, not refused. */
	assert_int_equal(res->nwarnings, 2);
	assert_non_null(strstr(res->warnings[0].reason, "column 1 (연번): not recognised"));
	assert_non_null(strstr(res->warnings[1].reason, "above the header skipped"));
	sf_import_result_free(res);
	free(text);
}

/* The JSON example: {"nationals": [...]}, phones as arrays, a location object. */
static void
import_json_example_reads_every_object(void **state)
{
	struct sf_import_options opt;
	struct sf_import_result *res;
	size_t len;
	char *text = read_data("nationals.json", &len);

	(void)state;
	sf_import_options_init(&opt);
	opt.default_country = "TH";
	res = parse_with(text, len, &opt, 0);
	assert_int_equal(res->format, SF_IMPORT_JSON);
	assert_int_equal(res->nrows, 4);
	assert_int_equal(res->nerrors, 0);
	assert_int_equal(res->nwarnings, 0);
	check_row("json 1", &res->rows[0],
	          "line=1|phones=+66812345678,+821077770001|languages={ko,en,th}|"
	          "point=13.7367,100.5600|household_ref=BKK-01|external_ref=TH-0001|"
	          "residence_status=Non-B");
	check_row("json 2", &res->rows[1], "line=2|needs={child}|point=13.7367,100.5600");
	check_row("json 3", &res->rows[2],
	          "line=3|kind=traveller|phones=+821022223333|point=7.8804,98.3923");
	check_row("json 4", &res->rows[3],
	          "line=4|name_ko=NULL|name_latin=Lee Dongwook|phones=+6621234567|"
	          "needs={elderly,medical}|kind=resident");
	sf_import_result_free(res);
	free(text);
}

/* One row, given as field=value pairs, and what must come of it. */
struct row_case {
	const char *name;
	const char *in;     /* "field=value|field=value" */
	const char *want;   /* checked on the good row; NULL when the row is bad */
	const char *errors; /* fields of the errors in order, space separated; NULL when good */
	const char *reason; /* a piece of the first error's reason, or NULL */
};

#define GOOD(name, in, want)                                                                       \
	{                                                                                          \
		name, in, want, NULL, NULL                                                         \
	}
#define BAD(name, in, errors, reason)                                                              \
	{                                                                                          \
		name, in, NULL, errors, reason                                                     \
	}

static const struct row_case row_cases[] = {
    GOOD("row_keeps_hangul_and_latin_names_with_both_keys", "name_ko=김민준|name_latin=Kim Min-jun",
         "name_ko=김민준|name_latin=Kim Min-jun|name_key=김민준 kimminjun|kind=resident|"
         "languages={ko}|needs={}"),
    GOOD("row_composes_decomposed_hangul", "name_ko=\u1100\u1175\u11b7 \u1106\u1175\u11ab",
         "name_ko=김 민|name_key=김민"),
    GOOD("row_sends_generic_hangul_name_to_name_ko", "name=김민준",
         "name_ko=김민준|name_latin=NULL"),
    GOOD("row_sends_generic_latin_name_to_name_latin", "name=Şahin Kim",
         "name_ko=NULL|name_latin=Şahin Kim|name_key=sahinkim"),
    BAD("row_refuses_generic_name_mixing_scripts", "name=김민준 Kim", "name", "mixes Hangul"),
    BAD("row_refuses_generic_name_in_other_script", "name=Иван", "name",
        "neither Hangul nor Latin"),
    BAD("row_refuses_latin_name_in_name_ko", "name_ko=Kim Minjun", "name_ko",
        "put it in name_latin"),
    BAD("row_refuses_hangul_in_name_latin", "name_latin=김민준", "name_latin", "put it in name_ko"),
    BAD("row_refuses_second_korean_name", "name_ko=김민준|name=김민서", "name", "name_ko is given"),
    GOOD("row_accepts_hangul_with_hanja", "name_ko=김민준(金敏俊)", "name_ko=김민준(金敏俊)"),
    BAD("row_needs_a_name", "name_ko=|phone=0532 123 45 67", "name", "name: missing"),
    BAD("row_refuses_punctuation_for_a_name", "name_latin=.", "name_latin", NULL),
    BAD("row_refuses_control_character_in_name", "name_ko=김\x07민준", "name_ko",
        "control character"),
    GOOD("row_reads_korean_mobile_abroad_as_plus82", "name_ko=김|phone=010-1234-5678",
         "phones=+821012345678"),
    /* Non-breaking hyphens (U+2011), a minus sign and a full-width hyphen, as '-'. */
    GOOD("row_reads_korean_mobile_with_unicode_dashes", "name_ko=김|phone=010\u20111234\u20115678",
         "phones=+821012345678"),
    GOOD("row_reads_korean_mobile_with_minus_signs", "name_ko=김|phone=010\u22121234\uff0d5678",
         "phones=+821012345678"),
    GOOD("row_reads_turkish_national_number", "name_ko=김|phone=0532 123 45 67",
         "phones=+905321234567"),
    GOOD("row_reads_ukrainian_international_number", "name_ko=김|phone=+380 67 123 4567",
         "phones=+380671234567"),
    GOOD("row_reads_thai_number_with_trunk_zero", "name_ko=김|phone=+66 (0)81 234 5678",
         "phones=+66812345678"),
    GOOD("row_keeps_several_phones_in_order",
         "name_ko=김|phone=0532 123 45 67; 010-1234-5678, +380 67 123 4567",
         "phones=+905321234567,+821012345678,+380671234567"),
    GOOD("row_drops_a_repeated_phone", "name_ko=김|phone=0532 123 45 67 / +90 532 123 45 67",
         "phones=+905321234567"),
    BAD("row_refuses_more_than_five_phones",
        "name_ko=김|phone=0532 123 45 61/0532 123 45 62/0532 123 45 63/0532 123 45 64/"
        "0532 123 45 65/0532 123 45 66",
        "phone", "more than 5"),
    BAD("row_names_the_bad_one_of_several_phones", "name_ko=김|phone=0532 123 45 67 / 0532 12",
        "phone", "phone 2 of 2: too few digits"),
    BAD("row_refuses_letters_in_phone", "name_ko=김|phone=call me", "phone", "letters"),
    GOOD("row_uppercases_passport_and_strips_dashes", "name_ko=김|passport_no=m 1234-5678",
         "passport_no=M12345678"),
    BAD("row_refuses_symbols_in_passport", "name_ko=김|passport_no=M1234#5678", "passport_no",
        "only letters A to Z and digits"),
    BAD("row_refuses_long_passport", "name_ko=김|passport_no=M123456789012345678901", "passport_no",
        "too long"),
    BAD("row_refuses_short_passport", "name_ko=김|passport_no=M12", "passport_no", "too short"),
    GOOD("row_keeps_emails_in_order", "name_ko=김|email=a@example.com; B.Kim@Example.ORG",
         "emails=a@example.com,B.Kim@example.org"),
    BAD("row_refuses_bad_email_without_repeating_it", "name_ko=김|email=kim@localhost", "email",
        "email: the domain after '@' has no dot"),
    GOOD("row_reads_iso_birth_date", "name_ko=김|birth_date=1985-03-14", "birth_date=1985-03-14"),
    BAD("row_refuses_february_30_without_repeating_it", "name_ko=김|birth_date=2023-02-30",
        "birth_date", "birth_date: no such day in that month"),
    BAD("row_refuses_year_1850", "name_ko=김|birth_date=1850-01-01", "birth_date",
        "year out of range (1900 to 2100)"),
    BAD("row_refuses_unknown_date_format", "name_ko=김|birth_date=14 March 1985", "birth_date",
        "expected YYYY-MM-DD"),
    GOOD("row_reads_korean_kind_words",
         "name_ko=김|kind=여행자|arrival_date=2024-05-01|departure_date=2024-05-02",
         "kind=traveller|arrival_date=2024-05-01|departure_date=2024-05-02"),
    GOOD("row_reads_american_spelling_of_traveler",
         "name_ko=김|kind=Traveler|arrival_date=2024-05-01|departure_date=2024-05-01",
         "kind=traveller"),
    BAD("row_traveller_needs_both_dates", "name_ko=김|kind=traveller",
        "arrival_date departure_date", "a traveller needs arrival and departure dates"),
    BAD("row_traveller_needs_departure", "name_ko=김|kind=traveller|arrival_date=2024-05-01",
        "departure_date", NULL),
    GOOD("row_resident_keeps_trip_dates", "name_ko=김|kind=resident|arrival_date=2020-01-01",
         "kind=resident|arrival_date=2020-01-01|departure_date=NULL"),
    BAD("row_refuses_departure_before_arrival",
        "name_ko=김|kind=resident|arrival_date=2024-05-02|departure_date=2024-05-01",
        "departure_date", "before the arrival date"),
    BAD("row_refuses_unknown_kind", "name_ko=김|kind=student", "kind", "unknown value"),
    GOOD("row_maps_need_words_in_canonical_order", "name_ko=김|needs=지병; 영유아 / elderly, 아동",
         "needs={child,elderly,medical}"),
    GOOD("row_reads_every_need", "name_ko=김|needs=임신, 장애인, 노인, child, patient",
         "needs={child,elderly,pregnant,disability,medical}"),
    GOOD("row_reads_none_as_no_needs", "name_ko=김|needs=없음", "needs={}"),
    BAD("row_refuses_unknown_need_without_repeating_it", "name_ko=김|needs=child, 반려견", "needs",
        "needs: unknown value; accepted: child, elderly"),
    GOOD("row_maps_language_names_to_codes", "name_ko=김|languages=한국어, English, tr",
         "languages={ko,en,tr}"),
    GOOD("row_defaults_languages_to_korean", "name_ko=김", "languages={ko}"),
    BAD("row_refuses_unknown_language", "name_ko=김|languages=Klingon", "languages",
        "unknown language"),
    GOOD("row_reads_lat_and_lon_cells", "name_ko=김|lat=37.5665|lon=126.9780",
         "point=37.5665,126.9780"),
    GOOD("row_reads_location_cell", "name_ko=김|location=41.0082, 28.9784",
         "point=41.0082,28.9784"),
    GOOD("row_reads_location_in_degrees_and_minutes", "name_ko=김|location=41°0.49' N, 28°58.70' E",
         "point=41.0082,28.9783"),
    BAD("row_refuses_lat_without_lon", "name_ko=김|lat=37.5|lon=", "lon",
        "lon: missing; lat is given"),
    BAD("row_refuses_latitude_out_of_range", "name_ko=김|lat=95|lon=20", "lat",
        "lat: latitude out of range (-90 to 90); looks like lon,lat: swap?"),
    BAD("row_refuses_longitude_out_of_range", "name_ko=김|lat=41|lon=181", "lon",
        "lon: longitude out of range (-180 to 180)"),
    BAD("row_refuses_swapped_location", "name_ko=김|location=100.5018, 13.7563", "location",
        "swap?"),
    BAD("row_refuses_null_island", "name_ko=김|location=0, 0", "location", "0, 0 is no place"),
    BAD("row_refuses_geojson_order_in_location", "name_ko=김|location=[28.97, 41.00]", "location",
        "GeoJSON"),
    GOOD("row_collapses_spaces_in_address", "name_ko=김|address=  Kadıköy\n  Moda Cd.   12  ",
         "address=Kadıköy Moda Cd. 12"),
    GOOD("row_keeps_line_breaks_in_notes", "name_ko=김|notes=first\r\nsecond\n\n third",
         "notes=first\nsecond\nthird"),
    BAD("row_refuses_control_character_in_notes",
        "name_ko=김|notes=a\x01"
        "b",
        "notes", "control character U+0001"),
    BAD("row_refuses_long_residence_status",
        "name_ko=김|residence_status=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "residence_status", "more than 100 characters"),
    GOOD("row_keeps_household_and_external_ref", "name_ko=김|household=  H 01 |external_ref=TR-7",
         "household_ref=H 01|external_ref=TR-7"),
    GOOD("row_reads_dash_as_empty", "name_ko=김|phone=-|email=\u2014|passport_no=n/a",
         "phones=NULL|emails=NULL|passport_no=NULL"),
    BAD("row_refuses_invalid_utf8_naming_the_field", "name_ko=김|address=Moda \xff\xfe Cd.",
        "address", "address: not valid UTF-8"),
    BAD("row_reports_every_problem_of_a_row",
        "name_ko=Kim|birth_date=1990-02-30|passport_no=X|phone=12|email=a@b|kind=x|needs=pet|"
        "languages=xyz1|lat=91|lon=0",
        "name_ko birth_date passport_no phone email kind needs languages lat", NULL),
};

/* Appends s to a buffer as one CSV cell, quoted. */
static void
csv_cell(char *buf, size_t size, size_t *len, const char *s, bool first)
{
	if (!first)
		buf[(*len)++] = ',';
	buf[(*len)++] = '"';
	for (; *s != '\0' && *len + 4 < size; s++) {
		if (*s == '"')
			buf[(*len)++] = '"';
		buf[(*len)++] = *s;
	}
	buf[(*len)++] = '"';
	buf[*len] = '\0';
}

/* Appends s to a buffer as a JSON string (bytes >= 0x80 as they are). */
static void
json_string(char *buf, size_t size, size_t *len, const char *s)
{
	buf[(*len)++] = '"';
	for (; *s != '\0' && *len + 8 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			buf[(*len)++] = '\\';
			buf[(*len)++] = (char)c;
		} else if (c < 0x20) {
			*len += (size_t)snprintf(buf + *len, size - *len, "\\u%04x", c);
		} else {
			buf[(*len)++] = (char)c;
		}
	}
	buf[(*len)++] = '"';
	buf[*len] = '\0';
}

/* Builds a CSV file (header, one row) or a JSON array of one object from field=value pairs. */
static void
build_input(const char *in, bool json, char *out, size_t size)
{
	char spec[2048], header[1024] = "", row[4096] = "", *save = NULL, *pair;
	size_t hl = 0, rl = 0, n = 0;

	snprintf(spec, sizeof spec, "%s", in);
	if (json) {
		rl = (size_t)snprintf(row, sizeof row, "[{");
	}
	for (pair = strtok_r(spec, "|", &save); pair != NULL; pair = strtok_r(NULL, "|", &save)) {
		char *eq = strchr(pair, '=');

		assert_non_null(eq);
		*eq = '\0';
		if (json) {
			if (n > 0)
				row[rl++] = ',';
			json_string(row, sizeof row, &rl, pair);
			row[rl++] = ':';
			json_string(row, sizeof row, &rl, eq + 1);
		} else {
			hl += (size_t)snprintf(header + hl, sizeof header - hl, "%s%s",
			                       n > 0 ? "," : "", pair);
			csv_cell(row, sizeof row, &rl, eq + 1, n == 0);
		}
		n++;
	}
	if (json)
		snprintf(out, size, "%s}]", row);
	else
		snprintf(out, size, "%s\r\n%s\r\n", header, row);
}

/* Runs one row case in one format and fails with its name when the outcome differs. */
static void
run_row_case(const struct row_case *c, bool json)
{
	char text[8192], name[160];
	struct sf_import_result *res;
	size_t line = json ? 1 : 2;

	build_input(c->in, json, text, sizeof text);
	snprintf(name, sizeof name, "%s (%s)", c->name, json ? "json" : "csv");
	{
		struct sf_import_options opt;
		int rc;

		sf_import_options_init(&opt);
		opt.default_country = "TR";
		rc = sf_import_parse(text, strlen(text), &opt, &res);
		if (rc != 0)
			fail_msg("%s: rc %d: %s", name, rc,
			         res != NULL && res->nerrors > 0 ? res->errors[0].reason : "");
	}
	if (res->records != 1)
		fail_msg("%s: %zu records", name, res->records);
	if (c->want != NULL) {
		if (res->nrows != 1)
			fail_msg("%s: refused: %s", name,
			         res->nerrors > 0 ? res->errors[0].reason : "(no error)");
		assert_int_equal(res->rows[0].line, line);
		check_row(name, &res->rows[0], c->want);
	} else {
		char want[512], *save = NULL, *f;
		size_t wl = 0;

		if (res->nrows != 0)
			fail_msg("%s: accepted", name);
		assert_int_equal(res->bad_rows, 1);
		snprintf(text, sizeof text, "%s", c->errors);
		for (f = strtok_r(text, " ", &save); f != NULL; f = strtok_r(NULL, " ", &save))
			wl += (size_t)snprintf(want + wl, sizeof want - wl, "%s%zu:%s",
			                       wl > 0 ? " " : "", line, f);
		check_errors(name, res, want);
		if (c->reason != NULL && strstr(res->errors[0].reason, c->reason) == NULL)
			fail_msg("%s: reason \"%s\" lacks \"%s\"", name, res->errors[0].reason,
			         c->reason);
		for (size_t i = 0; i < res->nerrors; i++) {
			if (strncmp(res->errors[i].reason, res->errors[i].field,
			            strlen(res->errors[i].field)) != 0)
				fail_msg("%s: reason \"%s\" does not start with its field", name,
				         res->errors[i].reason);
		}
	}
	sf_import_result_free(res);
}

/* Every row rule gives the same outcome from CSV and from JSON. */
static void
import_row_rules_hold_in_csv_and_json(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof row_cases / sizeof row_cases[0]; i++) {
		run_row_case(&row_cases[i], false);
		run_row_case(&row_cases[i], true);
	}
}

/* A header and the field it must be read as (-1: not recognised). */
static const struct {
	const char *name;
	const char *header;
	int field;
} header_cases[] = {
    {"header_reads_seongmyeong_as_name_ko", "성명", SF_IMPORT_FIELD_NAME_KO},
    {"header_reads_ireum_as_name_ko", "이름", SF_IMPORT_FIELD_NAME_KO},
    {"header_reads_hangeul_seongmyeong", "한글 성명", SF_IMPORT_FIELD_NAME_KO},
    {"header_reads_english_name_bracket_as_latin", "성명(영문)", SF_IMPORT_FIELD_NAME_LATIN},
    {"header_reads_full_width_bracket", "이름（영문）", SF_IMPORT_FIELD_NAME_LATIN},
    {"header_reads_name_as_in_passport", "Name (as in passport)", SF_IMPORT_FIELD_NAME_LATIN},
    {"header_reads_name_hangeul_bracket_as_korean", "Name (한글)", SF_IMPORT_FIELD_NAME_KO},
    {"header_reads_yeongmun_seongmyeong", "영문성명", SF_IMPORT_FIELD_NAME_LATIN},
    {"header_reads_name_en", "name_en", SF_IMPORT_FIELD_NAME_LATIN},
    {"header_reads_plain_name_as_either", "Name", SF_IMPORT_FIELD_NAME},
    {"header_reads_birth_with_format_hint", "생년월일(YYYY-MM-DD)", SF_IMPORT_FIELD_BIRTH_DATE},
    {"header_reads_date_of_birth", "Date of Birth", SF_IMPORT_FIELD_BIRTH_DATE},
    {"header_reads_dob", "DOB", SF_IMPORT_FIELD_BIRTH_DATE},
    {"header_reads_passport_no_with_dot", "Passport No.", SF_IMPORT_FIELD_PASSPORT_NO},
    {"header_reads_yeogwon_beonho", "여권 번호", SF_IMPORT_FIELD_PASSPORT_NO},
    {"header_reads_hyudae_jeonhwa", "휴대전화", SF_IMPORT_FIELD_PHONE},
    {"header_reads_yeollakcheo", " 연락처 ", SF_IMPORT_FIELD_PHONE},
    {"header_reads_tel_with_dot", "Tel.", SF_IMPORT_FIELD_PHONE},
    {"header_reads_full_width_phone", "ＰＨＯＮＥ", SF_IMPORT_FIELD_PHONE},
    {"header_reads_e_mail", "E-mail", SF_IMPORT_FIELD_EMAIL},
    {"header_reads_jeonja_upyeon", "전자우편", SF_IMPORT_FIELD_EMAIL},
    {"header_reads_hyeonji_juso", "현지 주소", SF_IMPORT_FIELD_ADDRESS},
    {"header_reads_chelyu_jagyeok", "체류자격", SF_IMPORT_FIELD_RESIDENCE_STATUS},
    {"header_reads_visa", "VISA", SF_IMPORT_FIELD_RESIDENCE_STATUS},
    {"header_reads_gubun_as_kind", "구분", SF_IMPORT_FIELD_KIND},
    {"header_reads_arrival_date", "Arrival Date", SF_IMPORT_FIELD_ARRIVAL_DATE},
    {"header_reads_chulgukil", "출국일", SF_IMPORT_FIELD_DEPARTURE_DATE},
    {"header_reads_family_id", "Family ID", SF_IMPORT_FIELD_HOUSEHOLD},
    {"header_reads_teuksa_sahang_as_needs", "특이사항", SF_IMPORT_FIELD_NEEDS},
    {"header_reads_languages", "Language(s)", SF_IMPORT_FIELD_LANGUAGES},
    {"header_reads_wido", "위도", SF_IMPORT_FIELD_LAT},
    {"header_reads_longitude", "Longitude", SF_IMPORT_FIELD_LON},
    {"header_reads_coordinates", "Coordinates", SF_IMPORT_FIELD_LOCATION},
    {"header_reads_bigo_as_notes", "비고", SF_IMPORT_FIELD_NOTES},
    {"header_reads_gwalli_beonho_as_external_ref", "관리번호", SF_IMPORT_FIELD_EXTERNAL_REF},
    {"header_reads_canonical_names", "residence_status", SF_IMPORT_FIELD_RESIDENCE_STATUS},
    {"header_ignores_blood_type", "혈액형", -1},
    {"header_ignores_serial_number", "연번", -1},
    {"header_ignores_empty", "", -1},
    {"header_ignores_not_utf8", "\xbc\xba\xb8\xed", -1},
};

/* Headers embassies write are read as the fields they mean. */
static void
import_recognises_korean_and_english_headers(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof header_cases / sizeof header_cases[0]; i++) {
		enum sf_import_field f;
		int rc = sf_import_header_field(header_cases[i].header, &f);

		if (header_cases[i].field < 0) {
			if (rc != SF_ENOTFOUND)
				fail_msg("%s: read as %s", header_cases[i].name,
				         sf_import_field_name(f));
		} else if (rc != 0 || (int)f != header_cases[i].field) {
			fail_msg("%s: %s, want %s", header_cases[i].name,
			         rc == 0 ? sf_import_field_name(f) : "not recognised",
			         sf_import_field_name((enum sf_import_field)header_cases[i].field));
		}
	}
}

/* A file refused as a whole, and a piece of the reason. */
static const struct {
	const char *name;
	const char *text;
	size_t len; /* 0: strlen */
	int rc;
	const char *reason;
} file_cases[] = {
    {"file_refuses_empty_input", "", 0, SF_EINVAL, "no rows"},
    {"file_refuses_header_without_name", "phone,email\r\n0532 123 45 67,a@example.com\r\n", 0,
     SF_EINVAL, "no name column"},
    {"file_refuses_two_phone_columns", "성명,휴대전화,전화번호\r\n김,0532 123 45 67,\r\n", 0,
     SF_EINVAL, "two columns for phone: 2 and 3"},
    {"file_refuses_quote_inside_unquoted_cell", "name_ko,notes\n김,ab\"c\n", 0, SF_EINVAL,
     "line 2: malformed CSV"},
    {"file_refuses_text_after_closing_quote", "name_ko,notes\n김,\"ab\"c\n", 0, SF_EINVAL,
     "line 2: malformed CSV"},
    {"file_refuses_unclosed_quote", "name_ko,notes\n김,ok\n이,\"never\nclosed\n", 0, SF_EINVAL,
     "line 3: malformed CSV: a quoted cell is never closed"},
    {"file_refuses_cp949", "\xbc\xba\xb8\xed,\xc8\xde\xb4\xeb\xc0\xfc\xc8\xad\r\n", 0, SF_EINVAL,
     "not valid UTF-8; save the file as CSV UTF-8"},
    {"file_refuses_utf16", "\xff\xfen\0a\0m\0e\0", 10, SF_EINVAL, "UTF-16"},
    {"file_refuses_xlsx", "PK\x03\x04\x14\0\x06\0", 8, SF_EINVAL, "Excel workbook"},
    {"file_refuses_lat_without_lon", "name_ko,lat\n김,41\n", 0, SF_EINVAL,
     "a lat column without a lon column"},
    {"file_refuses_location_and_lat_lon", "name_ko,location,lat,lon\n김,,,\n", 0, SF_EINVAL,
     "both a location column and lat/lon"},
    {"file_refuses_data_without_header",
     "김,1\n이,2\n박,3\n최,4\n정,5\n강,6\n조,7\n윤,8\n장,9\n임,10\n한,11\n", 0, SF_EINVAL,
     "no header in the first 10 lines"},
    {"file_refuses_invalid_json", "[{\"name_ko\": \"김\",}\n]", 0, SF_EINVAL, "not valid JSON"},
    {"file_refuses_json_of_wrong_shape", "{\"people\": []}", 0, SF_EINVAL,
     "expected an array of nationals"},
    {"file_refuses_text_after_json", "[]\n[]", 0, SF_EINVAL, "text after the end"},
};

/* What cannot be read row by row is refused whole, with no rows and the reason. */
static void
import_refuses_unreadable_files_whole(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof file_cases / sizeof file_cases[0]; i++) {
		size_t len = file_cases[i].len > 0 ? file_cases[i].len : strlen(file_cases[i].text);
		struct sf_import_result *res = NULL;
		struct sf_import_options opt;
		int rc;

		sf_import_options_init(&opt);
		opt.default_country = "TR";
		rc = sf_import_parse(file_cases[i].text, len, &opt, &res);
		if (rc != file_cases[i].rc)
			fail_msg("%s: rc %d, want %d", file_cases[i].name, rc, file_cases[i].rc);
		assert_non_null(res);
		assert_true(res->file_error);
		assert_int_equal(res->nrows, 0);
		assert_true(res->nerrors >= 1);
		assert_string_equal(res->errors[0].field, "file");
		if (strstr(res->errors[0].reason, file_cases[i].reason) == NULL)
			fail_msg("%s: reason \"%s\" lacks \"%s\"", file_cases[i].name,
			         res->errors[0].reason, file_cases[i].reason);
		sf_import_result_free(res);
	}
}

/* Line numbers are physical lines where each record starts, whatever the line ends. */
static void
import_numbers_lines_where_records_start(void **state)
{
	static const struct {
		const char *name;
		const char *text;
		const char *lines; /* line of each good row */
	} cases[] = {
	    {"lines_count_lf", "name_ko\n가\n나\n", "2 3"},
	    {"lines_count_crlf", "name_ko\r\n가\r\n나\r\n", "2 3"},
	    {"lines_count_lone_cr", "name_ko\r가\r나\r", "2 3"},
	    {"lines_count_blank_lines", "name_ko\n\n가\n\r\n\n나", "3 6"},
	    {"lines_count_breaks_inside_quotes", "name_ko,notes\n가,\"a\nb\r\nc\"\n나,x\n", "2 5"},
	    {"lines_count_record_starting_with_quoted_break", "name_ko,notes\n\"가\",\"\n\"\n나,\n",
	     "2 4"},
	    {"lines_count_header_after_title", "명단\n\nname_ko\n가\n", "4"},
	    {"lines_count_without_final_line_end", "name_ko\n가\n나", "2 3"},
	    {"lines_count_blank_record_of_commas", "name_ko,notes\n,\n가,\n", "3"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sf_import_result *res = parse_text(cases[i].text, 0);
		char got[128] = "";
		size_t len = 0;

		for (size_t j = 0; j < res->nrows; j++)
			len += (size_t)snprintf(got + len, sizeof got - len, "%s%zu",
			                        j > 0 ? " " : "", res->rows[j].line);
		if (strcmp(got, cases[i].lines) != 0 || res->nerrors != 0)
			fail_msg("%s: lines \"%s\", want \"%s\" (%zu errors)", cases[i].name, got,
			         cases[i].lines, res->nerrors);
		sf_import_result_free(res);
	}
}

/* Semicolons and tabs, as European Excel and "text" exports write, are found alone. */
static void
import_detects_the_delimiter(void **state)
{
	static const struct {
		const char *text;
		char delimiter;
		const char *want;
	} cases[] = {
	    {"성명;휴대전화;주소\n김;0532 123 45 67;\"Moda; Kadıköy\"\n", ';',
	     "phones=+905321234567|address=Moda; Kadıköy"},
	    {"성명\t휴대전화\n김\t0532 123 45 67\n", '\t', "phones=+905321234567"},
	    {"성명,휴대전화\n김,\"0532 123 45 67; 010-1234-5678\"\n", ',',
	     "phones=+905321234567,+821012345678"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sf_import_result *res = parse_text(cases[i].text, 0);

		assert_int_equal(res->delimiter, cases[i].delimiter);
		assert_int_equal(res->nrows, 1);
		check_row("delimiter", &res->rows[0], cases[i].want);
		sf_import_result_free(res);
	}
}

/* The BOM is dropped, JSON is told from CSV by its first byte, and an explicit format wins. */
static void
import_detects_bom_and_format(void **state)
{
	struct sf_import_options opt;
	struct sf_import_result *res;

	(void)state;
	res = parse_text("\xef\xbb\xbf\"성명\"\n김\n", 0);
	assert_int_equal(res->format, SF_IMPORT_CSV);
	check_row("bom", &res->rows[0], "name_ko=김");
	sf_import_result_free(res);

	res = parse_text("\xef\xbb\xbf \r\n [{\"성명\": \"김\"}]", 0);
	assert_int_equal(res->format, SF_IMPORT_JSON);
	check_row("json after bom", &res->rows[0], "name_ko=김|line=1");
	sf_import_result_free(res);

	sf_import_options_init(&opt);
	opt.format = SF_IMPORT_JSON;
	res = parse_with("name_ko\n김\n", 10, &opt, SF_EINVAL);
	assert_non_null(strstr(res->errors[0].reason, "not valid JSON"));
	sf_import_result_free(res);
}

/* JSON: lines are object indexes, arrays and objects are read where they make sense. */
static void
import_reads_json_shapes(void **state)
{
	struct sf_import_result *res;

	(void)state;
	res = parse_text(
	    "[{\"name_ko\": \"김\", \"phones\": [\"0532 123 45 67\", null, \"+90 532 123 4567\"], "
	    "\"location\": {\"latitude\": 41.0082, \"lng\": 28.9784}},"
	    " {\"name_ko\": \"이\", \"location\": [28.97, 41.0]},"
	    " 7,"
	    " {},"
	    " {\"name_ko\": \"박\", \"email\": true, \"household\": 12, \"blood\": \"A\"},"
	    " {\"name_ko\": \"최\", \"blood\": \"B\", \"성명\": \"최\"},"
	    " {\"name_ko\": \"정\", \"lat\": 1e300, \"lon\": 20},"
	    " {\"name_ko\": \"윤\", \"location\": \"41, 28\", \"lat\": 41, \"lon\": 28}]",
	    0);
	assert_int_equal(res->records, 7);
	assert_int_equal(res->nrows, 1);
	check_row("json shapes", &res->rows[0],
	          "line=1|phones=+905321234567|point=41.0082,28.9784");
	check_errors("json shapes", res, "2:location 3:row 5:email 6:name_ko 7:lat 8:location");
	assert_non_null(strstr(res->errors[0].reason, "GeoJSON"));
	assert_non_null(strstr(res->errors[2].reason, "not true or false"));
	assert_non_null(strstr(res->errors[3].reason, "given twice"));
	/* The unknown key is reported once, where it first appears. */
	assert_int_equal(res->nwarnings, 1);
	assert_int_equal(res->warnings[0].line, 5);
	assert_non_null(strstr(res->warnings[0].reason, "key \"blood\": not recognised"));
	sf_import_result_free(res);

	res = parse_text("{\"nationals\": []}", 0);
	assert_int_equal(res->records, 0);
	sf_import_result_free(res);
}

/* A CSV row with more cells than the header is refused: its cells are likely shifted. */
static void
import_refuses_rows_with_extra_cells(void **state)
{
	struct sf_import_result *res;

	(void)state;
	res = parse_text("name_ko,address\n김,Moda, Kadıköy\n이,Moda\n박,Moda,,\n", 0);
	assert_int_equal(res->nrows, 2);
	check_errors("extra cells", res, "2:row");
	assert_int_equal(res->errors[0].column, 3);
	assert_non_null(strstr(res->errors[0].reason, "1 more cells than the header's 2 columns"));
	sf_import_result_free(res);
}

/* Cells over SF_IMPORT_CELL_MAX bytes are refused with their size, not their text. */
static void
import_refuses_cells_too_long(void **state)
{
	size_t n = 64 + 2 * SF_IMPORT_CELL_MAX;
	char *text = malloc(n);
	struct sf_import_result *res;
	size_t len;

	(void)state;
	assert_non_null(text);
	len = (size_t)snprintf(text, n, "name_ko,notes,ignored\n김,");
	memset(text + len, 'x', SF_IMPORT_CELL_MAX + 1);
	len += SF_IMPORT_CELL_MAX + 1;
	len += (size_t)snprintf(text + len, n - len, ",");
	memset(text + len, 'y', SF_IMPORT_CELL_MAX + 1);
	len += SF_IMPORT_CELL_MAX + 1;
	text[len++] = '\n';
	res = parse_with(text, len, NULL, 0);
	check_errors("too long", res, "2:notes");
	assert_non_null(strstr(res->errors[0].reason, "notes: too long: 1001 bytes, at most 1000"));
	/* The unknown column's long cell is not read at all. */
	assert_int_equal(res->nwarnings, 1);
	sf_import_result_free(res);
	free(text);
}

/* Dates in the declared format, and always ISO 8601 as well. */
static void
import_reads_declared_date_format_and_iso(void **state)
{
	struct sf_import_options opt;
	struct sf_import_result *res;
	const char *text = "name_ko,birth_date\n가,14/03/1985\n나,1985-03-14\n다,03/14/1985\n"
	                   "라,2023-02-30\n";

	(void)state;
	sf_import_options_init(&opt);
	opt.date_format = SF_DATE_DMY;
	res = parse_with(text, strlen(text), &opt, 0);
	assert_int_equal(res->nrows, 2);
	check_row("dmy", &res->rows[0], "birth_date=1985-03-14");
	check_row("iso", &res->rows[1], "birth_date=1985-03-14");
	check_errors("dates", res, "4:birth_date 5:birth_date");
	/* The hint about the other order survives, the date does not. */
	assert_non_null(strstr(res->errors[0].reason, "month out of range (1 to 12); the column"));
	assert_null(strstr(res->errors[0].reason, "14"));
	assert_non_null(strstr(res->errors[1].reason, "no such day"));
	sf_import_result_free(res);
}

/* 010-XXXX-XXXX abroad is a Korean mobile unless the fallback is turned off. */
static void
import_korean_mobile_fallback_can_be_turned_off(void **state)
{
	struct sf_import_options opt;
	struct sf_import_result *res;
	const char *text = "name_ko,phone\n가,010-1234-5678\n";

	(void)state;
	sf_import_options_init(&opt);
	opt.default_country = "TR";
	opt.korean_mobile_fallback = false;
	res = parse_with(text, strlen(text), &opt, 0);
	check_errors("no fallback", res, "2:phone");
	assert_non_null(strstr(res->errors[0].reason, "a Korean mobile?"));
	sf_import_result_free(res);

	opt.korean_mobile_fallback = true;
	opt.default_country = NULL;
	res = parse_with(text, strlen(text), &opt, 0);
	check_row("no country", &res->rows[0], "phones=+821012345678");
	sf_import_result_free(res);
}

/*
 * Where 010-XXXX-XXXX is a number of the mission's country (Egypt, China), it
 * is read as one, with a warning that it may be a Korean mobile.
 */
static void
import_warns_of_a_number_that_may_be_a_korean_mobile(void **state)
{
	static const char *const secrets[] = {"1234", "5678", NULL};
	struct sf_import_options opt;
	struct sf_import_result *res;
	const char *text = "name_ko,phone\n가,010-1234-5678\n나,+82 10 1234 5678\n"
	                   "다,\"011 1234 5678; 010 9876 5432\"\n";

	(void)state;
	sf_import_options_init(&opt);
	opt.default_country = "EG";
	res = parse_with(text, strlen(text), &opt, 0);
	assert_int_equal(res->nerrors, 0);
	check_row("egyptian reading", &res->rows[0], "phones=+201012345678");
	assert_int_equal(res->nwarnings, 2);
	assert_int_equal(res->warnings[0].line, 2);
	assert_string_equal(res->warnings[0].field, "phone");
	assert_non_null(strstr(res->warnings[0].reason, "also how a Korean mobile is written"));
	assert_int_equal(res->warnings[1].line, 4);
	assert_non_null(strstr(res->warnings[1].reason, "phone 2 of 2"));
	check_no_personal_data(res, secrets);
	sf_import_result_free(res);

	/* At a mission where 010 is no local number it is simply Korean: no warning. */
	opt.default_country = "TR";
	res = parse_with(text, strlen(text), &opt, 0);
	assert_int_equal(res->nwarnings, 0);
	sf_import_result_free(res);
}

/* Explicit mappings: several at once, headers with commas, errors named. */
static void
import_parses_mappings(void **state)
{
	static const struct {
		const char *spec;
		int rc;
		const char *want; /* "field=header;..." or a piece of the error */
	} cases[] = {
	    {"phone=연락처", 0, "phone=연락처"},
	    {" phone = 연락처 , name_ko=성명 (한글)", 0, "phone=연락처;name_ko=성명 (한글)"},
	    {"address=주소, 현지, PHONES=Tel", 0, "address=주소, 현지;phone=Tel"},
	    {"household_ref=Family", 0, "household=Family"},
	    {"phone", SF_EINVAL, "expected field=header"},
	    {"blood=혈액형", SF_EINVAL, "unknown field"},
	    {"phone=", SF_EINVAL, "has no header"},
	    {"=연락처", SF_EINVAL, "no field name"},
	    {"phone=a, phone=b", SF_EINVAL, "phone mapped twice"},
	    {"phone=a, email=a", SF_EINVAL, "one header mapped to phone and email"},
	    {"phone=\xff", SF_EINVAL, "not UTF-8"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sf_import_mapping map = {NULL, 0};
		char err[256] = "", got[512] = "";
		size_t len = 0;
		int rc = sf_import_parse_mapping(cases[i].spec, &map, err, sizeof err);

		if (rc != cases[i].rc)
			fail_msg("mapping \"%s\": rc %d (%s), want %d", cases[i].spec, rc, err,
			         cases[i].rc);
		if (rc != 0) {
			assert_int_equal(map.count, 0);
			if (strstr(err, cases[i].want) == NULL)
				fail_msg("mapping \"%s\": \"%s\" lacks \"%s\"", cases[i].spec, err,
				         cases[i].want);
			continue;
		}
		for (size_t j = 0; j < map.count; j++)
			len += (size_t)snprintf(
			    got + len, sizeof got - len, "%s%s=%s", j > 0 ? ";" : "",
			    sf_import_field_name(map.entries[j].field), map.entries[j].header);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("mapping \"%s\": \"%s\", want \"%s\"", cases[i].spec, got,
			         cases[i].want);
		sf_import_mapping_clear(&map);
		assert_null(map.entries);
	}
}

/* A mapping adds to earlier ones, picks one of two phone columns, and names missing columns. */
static void
import_applies_mappings(void **state)
{
	struct sf_import_mapping map = {NULL, 0};
	struct sf_import_options opt;
	struct sf_import_result *res;
	const char *text = "Nom,휴대전화,전화번호(자택),연락처(2)\n"
	                   "김,0532 123 45 67,0212 123 45 67,0533 123 45 67\n";
	char err[256];

	(void)state;
	assert_int_equal(sf_import_parse_mapping("name_latin=NOM", &map, err, sizeof err), 0);
	assert_int_equal(sf_import_parse_mapping("phone=전화번호(자택)", &map, err, sizeof err), 0);
	assert_int_equal(map.count, 2);
	assert_int_equal(sf_import_parse_mapping("email=Nom", &map, err, sizeof err), SF_EINVAL);
	assert_int_equal(map.count, 2);
	sf_import_options_init(&opt);
	opt.default_country = "TR";
	opt.mapping = &map;
	res = parse_with(text, strlen(text), &opt, 0);
	assert_int_equal(res->nrows, 0);
	check_errors("latin name", res, "2:name_latin");
	sf_import_result_free(res);

	text = "Nom,휴대전화,전화번호(자택),연락처(2)\nKIM,0532 123 45 67,0212 123 45 67,\n";
	res = parse_with(text, strlen(text), &opt, 0);
	assert_int_equal(res->nrows, 1);
	check_row("mapped", &res->rows[0], "name_latin=KIM|phones=+902121234567");
	assert_int_equal(res->columns[SF_IMPORT_FIELD_PHONE], 3);
	/* The other two phone columns are left out, each with a warning. */
	assert_int_equal(res->nwarnings, 2);
	assert_non_null(strstr(res->warnings[0].reason, "column 2 (휴대전화): phone comes from"));
	sf_import_result_free(res);

	sf_import_mapping_clear(&map);
	assert_int_equal(sf_import_parse_mapping("phone=Mobile", &map, err, sizeof err), 0);
	res = parse_with(text, strlen(text), &opt, SF_EINVAL);
	assert_non_null(strstr(res->errors[0].reason, "mapping phone=Mobile: no such column"));
	sf_import_result_free(res);

	/* JSON keys are mapped too. */
	sf_import_mapping_clear(&map);
	assert_int_equal(sf_import_parse_mapping("name_ko=이름표", &map, err, sizeof err), 0);
	res = parse_text_with("[{\"이름표\": \"김\"}]", &opt, 0);
	check_row("json mapped", &res->rows[0], "name_ko=김");
	sf_import_result_free(res);
	sf_import_mapping_clear(&map);
}

/* A hostile file cannot grow the result without bound: rows, errors and warnings are capped. */
static void
import_caps_rows_errors_and_warnings(void **state)
{
	struct sf_import_options opt;
	struct sf_import_result *res;
	char text[16384];
	size_t len = 0;

	(void)state;
	sf_import_options_init(&opt);
	opt.max_rows = 2;
	res = parse_with("name_ko\n가\n나\n", strlen("name_ko\n가\n나\n"), &opt, 0);
	assert_int_equal(res->nrows, 2);
	sf_import_result_free(res);
	res =
	    parse_with("name_ko\n가\n나\n다\n", strlen("name_ko\n가\n나\n다\n"), &opt, SF_ETOOLONG);
	assert_true(res->file_error);
	assert_int_equal(res->nrows, 0);
	assert_non_null(strstr(res->errors[0].reason, "more than 2 rows"));
	sf_import_result_free(res);
	res = parse_text_with("[{\"name_ko\":\"가\"},{\"name_ko\":\"나\"},{\"name_ko\":\"다\"}]",
	                      &opt, SF_ETOOLONG);
	sf_import_result_free(res);

	sf_import_options_init(&opt);
	opt.max_errors = 3;
	len = (size_t)snprintf(text, sizeof text, "name_ko,phone\n");
	for (int i = 0; i < 10; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, "가,x\n");
	res = parse_with(text, len, &opt, 0);
	assert_int_equal(res->bad_rows, 10);
	assert_int_equal(res->nerrors, 3);
	assert_int_equal(res->errors_dropped, 7);
	sf_import_result_free(res);

	len = (size_t)snprintf(text, sizeof text, "name_ko");
	for (int i = 0; i < 150; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, ",extra%d", i);
	len += (size_t)snprintf(text + len, sizeof text - len, "\n가\n");
	res = parse_with(text, len, NULL, 0);
	assert_int_equal(res->nrows, 1);
	assert_int_equal(res->nwarnings, SF_IMPORT_WARNINGS_MAX);
	/* And the row, known by no more than a name. */
	assert_int_equal(res->warnings_dropped, 150 + 1 - SF_IMPORT_WARNINGS_MAX);
	sf_import_result_free(res);

	len = (size_t)snprintf(text, sizeof text, "name_ko");
	for (int i = 0; i < SF_IMPORT_COLUMNS_MAX + 1; i++)
		len += (size_t)snprintf(text + len, sizeof text - len, ",");
	len += (size_t)snprintf(text + len, sizeof text - len, "\n가\n");
	res = parse_with(text, len, NULL, SF_EINVAL);
	assert_non_null(strstr(res->errors[0].reason, "more than 512 columns"));
	sf_import_result_free(res);
}

/* A row becomes one COPY text line: escapes, \N for NULL, array literals, fixed decimals. */
static void
import_writes_rows_as_copy_text(void **state)
{
	static const char *const phones[] = {"+905321234567", "+821012345678"};
	static const char *const emails[] = {"a{b}@example.com"};
	struct sf_import_row row;
	char buf[SF_IMPORT_COPY_LINE_SIZE], small[16];
	char big[SF_IMPORT_CELL_MAX + 1];
	size_t len;

	(void)state;
	memset(&row, 0, sizeof row);
	row.line = 7;
	row.name_ko = "김민준";
	row.name_key = "김민준";
	row.kind = "resident";
	row.kind_given = true;
	row.needs = "{child,medical}";
	row.languages = "{ko}";
	row.languages_given = true;
	row.notes = "a\tb\nc\\d\re";
	row.phones = phones;
	row.nphones = 2;
	row.emails = emails;
	row.nemails = 1;
	row.has_point = true;
	row.lat = -33.8688;
	row.lon = 151.2093;
	assert_int_equal(sf_import_row_copy_text(&row, buf, sizeof buf, &len), 0);
	assert_string_equal(buf, "7\t김민준\t\\N\t김민준\t\\N\t\\N\tresident\t\\N\t\\N\t\\N\t"
	                         "{child,medical}\t{ko}\t\\N\t\\N\ta\\tb\\nc\\\\d\\re\t\\N\t"
	                         "{\"+905321234567\",\"+821012345678\"}\t{\"a{b}@example.com\"}\t"
	                         "-33.8688000\t151.2093000\n");
	assert_int_equal(len, strlen(buf));
	/* Not given by the file: NULL, so the merge keeps the stored kind and languages. */
	row.kind_given = row.languages_given = false;
	assert_int_equal(sf_import_row_copy_text(&row, buf, sizeof buf, &len), 0);
	assert_string_equal(buf, "7\t김민준\t\\N\t김민준\t\\N\t\\N\t\\N\t\\N\t\\N\t\\N\t"
	                         "{child,medical}\t\\N\t\\N\t\\N\ta\\tb\\nc\\\\d\\re\t\\N\t"
	                         "{\"+905321234567\",\"+821012345678\"}\t{\"a{b}@example.com\"}\t"
	                         "-33.8688000\t151.2093000\n");
	assert_string_equal(row.kind, "resident");
	assert_int_equal(sf_import_row_copy_text(&row, small, sizeof small, &len), SF_ETOOLONG);
	assert_int_equal(len, 0);
	assert_string_equal(small, "");
	assert_int_equal(sf_import_row_copy_text(NULL, buf, sizeof buf, &len), SF_EINVAL);

	/* The largest row there can be fits SF_IMPORT_COPY_LINE_SIZE. */
	memset(big, '\\', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	row.name_latin = row.name_key = row.address = row.residence_status = big;
	row.notes = row.household_ref = row.external_ref = row.passport_no = big;
	row.birth_date = row.arrival_date = row.departure_date = row.name_ko = big;
	assert_int_equal(sf_import_row_copy_text(&row, buf, sizeof buf, &len), 0);
}

/* The small API: names of fields, lookups, options, NULL handling. */
static void
import_api_handles_names_and_null(void **state)
{
	struct sf_import_result *res = (struct sf_import_result *)1;
	struct sf_import_options opt;
	enum sf_import_field f;

	(void)state;
	for (int i = 0; i < SF_IMPORT_FIELD_COUNT; i++) {
		const char *name = sf_import_field_name((enum sf_import_field)i);

		assert_non_null(name);
		assert_int_equal(sf_import_field_lookup(name, &f), 0);
		assert_int_equal(f, i);
	}
	assert_null(sf_import_field_name(SF_IMPORT_FIELD_COUNT));
	assert_int_equal(sf_import_field_lookup("PHONES", &f), 0);
	assert_int_equal(f, SF_IMPORT_FIELD_PHONE);
	assert_int_equal(sf_import_field_lookup("blood_type", &f), SF_ENOTFOUND);
	sf_import_options_init(&opt);
	assert_int_equal(opt.format, SF_IMPORT_AUTO);
	assert_int_equal(opt.date_format, SF_DATE_ISO);
	assert_true(opt.korean_mobile_fallback);
	assert_int_equal(sf_import_parse("x", 1, NULL, &res), SF_EINVAL);
	assert_null(res);
	assert_int_equal(sf_import_parse(NULL, 1, &opt, &res), SF_EINVAL);
	assert_int_equal(sf_import_parse("x", 1, &opt, NULL), SF_EINVAL);
	opt.default_country = "XX";
	assert_int_equal(sf_import_parse("name_ko\n김\n", 11, &opt, &res), SF_EINVAL);
	assert_non_null(strstr(res->errors[0].reason, "unknown default country"));
	assert_int_equal(res->nerrors, 1);
	sf_import_result_free(res);
	opt.default_country = "tr";
	opt.date_format = (enum sf_date_format)99;
	assert_int_equal(sf_import_parse("name_ko\n김\n", 11, &opt, &res), SF_EINVAL);
	assert_non_null(strstr(res->errors[0].reason, "unknown date format"));
	sf_import_result_free(res);
	sf_import_result_free(NULL);
	sf_import_mapping_clear(NULL);
}

/* An itinerary file: a row per leg, the same passport on several rows, travellers by default. */
static void
import_itinerary_rows_carry_the_leg(void **state)
{
	struct sf_import_options opt;
	struct sf_import_result *res;
	const char *file = "성명,여권번호,국가,도시,지역,도착일,출발일\n"
	                   "김여행,M12345678,tr,Istanbul,TR-34,2026-12-01,2026-12-03\n"
	                   "김여행,M12345678,TR,Antakya,TR-31,2026-12-04,2026-12-08\n"
	                   "이오류,M99999999,TUR,Antakya,TR 31,2026-12-04,2026-12-08\n"
	                   "박날짜,M88888888,TR,Adana,,2026-12-04,\n";

	(void)state;
	sf_import_options_init(&opt);
	opt.default_country = "TR";
	opt.itinerary = true;
	res = parse_text_with(file, &opt, 0);
	assert_int_equal(res->nrows, 2);
	assert_string_equal(res->rows[0].kind, "traveller");
	assert_string_equal(res->rows[0].country, "TR");
	assert_string_equal(res->rows[0].place, "Istanbul");
	assert_string_equal(res->rows[1].region, "TR-31");
	assert_string_equal(res->rows[1].passport_no, "M12345678");
	assert_int_equal(res->bad_rows, 2);
	assert_non_null(strstr(res->errors[0].reason, "country: not an ISO 3166"));
	assert_non_null(strstr(res->errors[1].reason, "region: a code"));
	assert_non_null(strstr(res->errors[2].reason, "departure_date: missing"));
	sf_import_result_free(res);
	/* Outside itinerary mode the repeated passport is still refused. */
	opt.itinerary = false;
	res = parse_text_with(file, &opt, 0);
	assert_int_equal(res->nrows, 2);
	assert_non_null(strstr(res->errors[0].reason, "the same passport number as line 2"));
	sf_import_result_free(res);
}

/* Two mappings whose headers fold to one column refuse the file instead of losing a field. */
static void
import_refuses_two_mappings_on_one_column(void **state)
{
	struct sf_import_mapping map = {NULL, 0};
	struct sf_import_options opt;
	struct sf_import_result *res;
	const char *text = "성명,E-mail,연락처\n김민준,kim@example.com,0532 123 45 67\n";
	char err[256];

	(void)state;
	/* Different as written, so the mapping takes both; both fold to "email". */
	assert_int_equal(
	    sf_import_parse_mapping("phone=E_mail, email=e.mail", &map, err, sizeof err), 0);
	assert_int_equal(map.count, 2);
	sf_import_options_init(&opt);
	opt.default_country = "TR";
	opt.mapping = &map;
	res = parse_text_with(text, &opt, SF_EINVAL);
	assert_true(res->file_error);
	assert_int_equal(res->nrows, 0);
	assert_int_equal(res->nerrors, 1);
	assert_string_equal(res->errors[0].field, "file");
	assert_int_equal(res->errors[0].line, 1);
	assert_int_equal(res->errors[0].column, 2);
	assert_non_null(strstr(res->errors[0].reason, "mappings phone=E_mail and email=e.mail "
	                                              "resolve to the same column 2"));
	sf_import_result_free(res);

	/* One exact and one folded match of the same column: refused too. */
	sf_import_mapping_clear(&map);
	assert_int_equal(
	    sf_import_parse_mapping("email=E-mail, phone=e mail", &map, err, sizeof err), 0);
	res = parse_text_with(text, &opt, SF_EINVAL);
	assert_non_null(strstr(res->errors[0].reason, "email=E-mail and phone=e mail resolve"));
	sf_import_result_free(res);
	sf_import_mapping_clear(&map);
}

/* Every explicit field is read from the column it was mapped to, whatever else is recognised. */
static void
import_keeps_each_mapped_field_on_its_column(void **state)
{
	struct sf_import_mapping map = {NULL, 0};
	struct sf_import_options opt;
	struct sf_import_result *res;
	const char *text = "성명,E-mail,연락처,전화\n"
	                   "김민준,kim@example.com,0532 123 45 67,0533 765 43 21\n";
	char err[256];

	(void)state;
	assert_int_equal(sf_import_parse_mapping("phone=전화, email=e.mail", &map, err, sizeof err),
	                 0);
	sf_import_options_init(&opt);
	opt.default_country = "TR";
	opt.mapping = &map;
	res = parse_text_with(text, &opt, 0);
	assert_int_equal(res->nrows, 1);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_NAME_KO], 1);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_EMAIL], 2);
	assert_int_equal(res->columns[SF_IMPORT_FIELD_PHONE], 4);
	check_row("mapped columns", &res->rows[0], "phones=+905337654321|emails=kim@example.com");
	/* 연락처 is a phone column too: left out with a warning, not read. */
	assert_int_equal(res->nwarnings, 1);
	assert_non_null(strstr(res->warnings[0].reason, "column 3 (연락처): phone comes from"));
	sf_import_result_free(res);
	sf_import_mapping_clear(&map);
}

/* The registry's export prefixes formula-like cells with ': the import drops just that quote. */
static void
import_reads_formula_quotes_of_its_own_export(void **state)
{
	static const struct {
		const char *name;
		const char *cells; /* phone,notes,address after 김민준 */
		const char *want;  /* row fields, or NULL for a refused row */
		const char *error; /* the error's field when refused */
	} cases[] = {
	    {"formula_quote_dropped_before_plus_of_phones", "\"'+905321234567;+821012345678\",,",
	     "phones=+905321234567,+821012345678", NULL},
	    {"formula_quote_dropped_before_dash_of_notes", ",'-fragile,",
	     "notes=-fragile|phones=NULL", NULL},
	    {"formula_quote_dropped_before_equals_and_at", ",'@home,'=1+1",
	     "notes=@home|address==1+1", NULL},
	    {"quote_kept_before_a_letter", ",'abc,'x", "notes='abc|address='x", NULL},
	    {"quote_kept_before_a_digit_and_the_phone_refused", "'05321234567,,", NULL, "phone"},
	    {"only_one_quote_dropped", "''+905321234567,,", NULL, "phone"},
	    {"quote_alone_kept", ",',", "notes='", NULL},
	    /* The export also escapes a cell starting with a tab or a carriage return. */
	    {"formula_quote_dropped_before_tab", ",\"'\tinsulin\",'\tKonya",
	     "notes=insulin|address=Konya", NULL},
	    {"formula_quote_dropped_before_carriage_return", ",\"'\r\nsecond line\",",
	     "notes=second line", NULL},
	};
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sf_import_result *res;

		snprintf(text, sizeof text, "name_ko,phone,notes,address\n김민준,%s\n",
		         cases[i].cells);
		res = parse_text(text, 0);
		if (cases[i].want != NULL) {
			if (res->nrows != 1)
				fail_msg("%s: refused: %s", cases[i].name,
				         res->nerrors > 0 ? res->errors[0].reason : "");
			check_row(cases[i].name, &res->rows[0], cases[i].want);
		} else {
			if (res->nrows != 0)
				fail_msg("%s: accepted", cases[i].name);
			char want[64];

			snprintf(want, sizeof want, "2:%s", cases[i].error);
			check_errors(cases[i].name, res, want);
		}
		sf_import_result_free(res);
	}

	/* A whole line as the export writes it (admin: passport in full). */
	{
		const char *export =
		    "\xef\xbb\xbfid,mission,name_ko,name_latin,birth_date,passport_no,"
		    "kind,arrival_date,departure_date,household,needs,languages,"
		    "phone,email,lat,lon,address,notes\r\n"
		    "17,TR,김민준,KIM MINJUN,1985-03-14,M12345678,resident,,,H001,"
		    "child;medical,ko;en,\"'+905321234567;+821012345678\","
		    "kim@example.com,41.008200,28.978400,\"'=Istiklal Cd. 1\","
		    "\"'-fragile, \"\"call first\"\"\"\r\n";
		struct sf_import_result *res = parse_text(export, 0);

		assert_int_equal(res->nrows, 1);
		check_row(
		    "export line", &res->rows[0],
		    "name_ko=김민준|name_latin=KIM MINJUN|passport_no=M12345678|kind=resident|"
		    "household_ref=H001|needs={child,medical}|languages={ko,en}|"
		    "phones=+905321234567,+821012345678|emails=kim@example.com|"
		    "point=41.0082,28.9784|address==Istiklal Cd. 1|"
		    "notes=-fragile, \"call first\"|external_ref=17");
		sf_import_result_free(res);
	}

	/* Only CSV: JSON values keep the quote, no export writes one there. */
	{
		struct sf_import_result *res =
		    parse_text("[{\"name_ko\": \"김민준\", \"notes\": \"'-fragile\"}]", 0);

		assert_int_equal(res->nrows, 1);
		check_row("json keeps the quote", &res->rows[0], "notes='-fragile");
		sf_import_result_free(res);
	}
}

/* Returns field n (0-based) of a COPY text line, copied into buf. */
static const char *
copy_field(const char *line, size_t n, char *buf, size_t size)
{
	size_t len;

	for (; n > 0; n--) {
		line = strchr(line, '\t');
		assert_non_null(line);
		line++;
	}
	len = strcspn(line, "\t\n");
	assert_true(len < size);
	memcpy(buf, line, len);
	buf[len] = '\0';
	return buf;
}

/* kind and languages say whether the file gave them; COPY text has NULL when it did not. */
static void
import_tells_whether_kind_and_languages_were_given(void **state)
{
	/* Their places in SF_IMPORT_COPY_COLUMNS. */
	enum { COPY_KIND = 6, COPY_LANGUAGES = 11 };
	static const struct {
		const char *name;
		const char *text;
		const char *kind, *languages;
		bool kind_given, languages_given;
		const char *copy_kind, *copy_languages;
	} cases[] = {
	    {"no_columns_give_defaults_not_given", "name_ko,phone\n김민준,0532 123 45 67\n",
	     "resident", "{ko}", false, false, "\\N", "\\N"},
	    {"columns_given", "name_ko,kind,languages\n김민준,거주,\"English, ko\"\n", "resident",
	     "{en,ko}", true, true, "resident", "{en,ko}"},
	    {"default_values_written_are_given", "name_ko,kind,languages\n김민준,resident,ko\n",
	     "resident", "{ko}", true, true, "resident", "{ko}"},
	    {"empty_cells_not_given", "name_ko,kind,languages\n김민준,,\n", "resident", "{ko}",
	     false, false, "\\N", "\\N"},
	    {"blank_and_placeholder_not_given", "name_ko,kind,languages\n김민준,  ,-\n", "resident",
	     "{ko}", false, false, "\\N", "\\N"},
	    {"separators_only_name_no_language", "name_ko,languages\n김민준,\" ; \"\n", "resident",
	     "{ko}", false, false, "\\N", "\\N"},
	    {"json_keys_absent", "[{\"name_ko\": \"김민준\"}]", "resident", "{ko}", false, false,
	     "\\N", "\\N"},
	    {"json_null_and_empty_array",
	     "[{\"name_ko\": \"김민준\", \"kind\": null, "
	     "\"languages\": []}]",
	     "resident", "{ko}", false, false, "\\N", "\\N"},
	    {"json_keys_given",
	     "[{\"name_ko\": \"김민준\", \"kind\": \"resident\", "
	     "\"languages\": [\"tr\", \"ko\"]}]",
	     "resident", "{tr,ko}", true, true, "resident", "{tr,ko}"},
	};
	char line[SF_IMPORT_COPY_LINE_SIZE], buf[64];
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sf_import_result *res = parse_text(cases[i].text, 0);
		const struct sf_import_row *r;

		if (res->nrows != 1)
			fail_msg("%s: %zu rows: %s", cases[i].name, res->nrows,
			         res->nerrors > 0 ? res->errors[0].reason : "");
		r = &res->rows[0];
		/* The row itself keeps its promise: never NULL. */
		if (strcmp(r->kind, cases[i].kind) != 0 ||
		    strcmp(r->languages, cases[i].languages) != 0)
			fail_msg("%s: kind %s languages %s", cases[i].name, r->kind, r->languages);
		if (r->kind_given != cases[i].kind_given ||
		    r->languages_given != cases[i].languages_given)
			fail_msg("%s: kind_given %d languages_given %d", cases[i].name,
			         r->kind_given, r->languages_given);
		assert_int_equal(sf_import_row_copy_text(r, line, sizeof line, &len), 0);
		if (strcmp(copy_field(line, COPY_KIND, buf, sizeof buf), cases[i].copy_kind) != 0)
			fail_msg("%s: COPY kind %s", cases[i].name, buf);
		if (strcmp(copy_field(line, COPY_LANGUAGES, buf, sizeof buf),
		           cases[i].copy_languages) != 0)
			fail_msg("%s: COPY languages %s", cases[i].name, buf);
		sf_import_result_free(res);
	}

	/* An itinerary row is a traveller by default: still not given by the file. */
	{
		struct sf_import_options opt;
		struct sf_import_result *res;

		sf_import_options_init(&opt);
		opt.itinerary = true;
		res =
		    parse_text_with("성명,도착일,출발일\n김여행,2026-12-01,2026-12-03\n", &opt, 0);
		assert_int_equal(res->nrows, 1);
		assert_string_equal(res->rows[0].kind, "traveller");
		assert_false(res->rows[0].kind_given);
		assert_int_equal(sf_import_row_copy_text(&res->rows[0], line, sizeof line, &len),
		                 0);
		assert_string_equal(copy_field(line, COPY_KIND, buf, sizeof buf), "\\N");
		sf_import_result_free(res);
	}
}

/*
 * Without a passport, the same first phone, name and birth date on two rows
 * is the same person: the second row is refused, naming the first; a
 * different birth date, or a passport, makes two people.
 */
static void
import_refuses_the_same_person_twice_without_a_passport(void **state)
{
	struct sf_import_result *res;
	const char *file = "name_ko,name_latin,birth_date,phone,passport_no\n"
	                   "박지호,PARK JIHO,2015-07-08,+905321234567,\n"
	                   "박지호,PARK JIHO,2015-07-08,0532 123 45 67,\n"
	                   "박지호,PARK JIHO,2016-01-01,+905321234567,\n"
	                   "박지호,PARK JIHO,2015-07-08,+905321234567,M12345678\n"
	                   "김민준,KIM MINJUN,,+821012345678,\n"
	                   "김민준,KIM MINJUN,,010-1234-5678,\n";
	struct sf_import_options opt;

	(void)state;
	sf_import_options_init(&opt);
	opt.default_country = "TR";
	res = parse_text_with(file, &opt, 0);
	assert_int_equal(res->nrows, 4);
	assert_int_equal(res->bad_rows, 2);
	check_errors("twice", res, "3:phone 7:phone");
	assert_non_null(strstr(res->errors[0].reason, "the same person as line 2"));
	assert_non_null(strstr(res->errors[1].reason, "as line 6"));
	sf_import_result_free(res);
	/* An itinerary has a row per leg: the same person on several rows is its point. */
	opt.itinerary = true;
	res = parse_text_with("name_ko,phone,country,arrival_date,departure_date\n"
	                      "박지호,+905321234567,TR,2026-12-01,2026-12-03\n"
	                      "박지호,+905321234567,TR,2026-12-04,2026-12-08\n",
	                      &opt, 0);
	assert_int_equal(res->nrows, 2);
	sf_import_result_free(res);
}

/*
 * The merge takes a row with one of the two names, or no birth date, for the
 * person of a row with both: so does the check within a file. Without a
 * phone, name and birth date (or e-mail) are the person; a row with none of
 * them is kept but said to be impossible to match again.
 */
/*
 * The registry's export has an id column beside a mission column: its ids are
 * nationals' and the merge matches on them. An id, ref or 관리번호 column of
 * another file is the embassy's own numbering and stays a plain external_ref.
 */
static void
import_tells_the_exports_ids_from_other_numbering(void **state)
{
	struct sf_import_result *res;

	(void)state;
	res = parse_text("\xef\xbb\xbfid,mission,name_ko,name_latin,phone\n"
	                 "17,TR-ANK,,ONLY NAME,\n",
	                 0);
	assert_true(res->national_ids);
	assert_int_equal(res->nrows, 1);
	assert_string_equal(res->rows[0].external_ref, "17");
	/* The id finds the person again: no warning that a re-import adds them. */
	assert_int_equal(res->nwarnings, 0);
	sf_import_result_free(res);
	res = parse_text("ID,name_latin\n17,ONLY NAME\n", 0);
	assert_false(res->national_ids);
	assert_int_equal(res->nwarnings, 1);
	assert_non_null(strstr(res->warnings[0].reason, "cannot be told apart"));
	sf_import_result_free(res);
	res = parse_text("관리번호,mission,name_latin\n17,TR-ANK,ONLY NAME\n", 0);
	assert_false(res->national_ids);
	sf_import_result_free(res);
}

static void
import_refuses_the_same_person_by_one_name_or_without_a_phone(void **state)
{
	struct sf_import_result *res;
	const char *file = "성명,영문성명,생년월일,휴대전화,이메일\n"
	                   "최수아,CHOI SUA,1999-09-09,+90 532 444 55 66,\n"
	                   ",CHOI SUA,1999-09-09,+90 532 444 55 66,\n"
	                   "최수아,,1999-09-09,+90 532 444 55 66,\n"
	                   "최수아,CHOI SUA,,+90 532 444 55 66,\n"
	                   "최민수,CHOI MINSU,1999-09-09,+90 532 444 55 66,\n"
	                   "김아이,KIM AI,2015-01-01,,ai@example.org\n"
	                   ",KIM AI,2015-01-01,,\n"
	                   "김아이,KIM AI,2015-01-01,,other@example.org\n"
	                   "이메일,LEE EMAIL,,,lee@example.org\n"
	                   ",LEE EMAIL,,,lee@example.org\n"
	                   "무명씨,NO KEY,,,\n";
	struct sf_import_options opt;

	(void)state;
	sf_import_options_init(&opt);
	opt.default_country = "TR";
	res = parse_text_with(file, &opt, 0);
	check_errors("one person", res, "3:phone 4:phone 5:phone 8:birth_date 11:email");
	for (size_t i = 0; i < 3; i++)
		assert_non_null(strstr(res->errors[i].reason, "the same person as line 2"));
	assert_non_null(strstr(res->errors[3].reason, "the same person as line 7"));
	assert_non_null(strstr(res->errors[4].reason, "the same person as line 10"));
	assert_int_equal(res->nrows, 6);
	assert_int_equal(res->nwarnings, 1);
	assert_int_equal(res->warnings[0].line, 12);
	assert_non_null(strstr(res->warnings[0].reason, "cannot be told apart"));
	sf_import_result_free(res);
}

/*
 * "02-123-4567/8" is shorthand for two numbers: refused, as neither a second
 * whole number nor one number with an area code before the slash.
 */
static void
import_refuses_a_slash_after_a_whole_number(void **state)
{
	static const struct {
		const char *country, *cell;
	} cases[] = {
	    {"KR", "02-123-4567/8"}, {"KR", "010-123-4567/8"}, {"KR", "031-123-4567/8"},
	    {"TR", "02-123-4567/8"}, {"DE", "030 1234567/8"},
	};
	struct sf_import_options opt;
	char text[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sf_import_result *res;

		sf_import_options_init(&opt);
		opt.default_country = cases[i].country;
		snprintf(text, sizeof text, "name_latin,phone\nKIM MINJUN,\"%s\"\n", cases[i].cell);
		res = parse_text_with(text, &opt, 0);
		if (res->nrows != 0 || res->nerrors == 0 ||
		    strcmp(res->errors[0].field, "phone") != 0)
			fail_msg("%s at %s: %zu rows, first phone %s", cases[i].cell,
			         cases[i].country, res->nrows,
			         res->nrows > 0 && res->rows[0].nphones > 0 ? res->rows[0].phones[0]
			                                                    : "-");
		sf_import_result_free(res);
	}
}

/*
 * A "/" inside one number (area code / subscriber) keeps the number whole;
 * between two whole numbers it parts them.
 */
static void
import_reads_a_slash_inside_a_phone_number_as_one_number(void **state)
{
	static const struct {
		const char *country, *cell, *want;
	} cases[] = {
	    {"DE", "030/1234567", "+49301234567"},
	    {"DE", "+49 30/1234567", "+49301234567"},
	    {"TR", "0312/444 12 34", "+903124441234"},
	    {"TR", "010-1234-5678 / 010-9876-5432", "+821012345678,+821098765432"},
	    {"TR", "0532 123 45 67/0532 765 43 21; +905551112233",
	     "+905321234567,+905327654321,+905551112233"},
	};
	struct sf_import_options opt;
	char text[256], got[256];

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sf_import_result *res;

		sf_import_options_init(&opt);
		opt.default_country = cases[i].country;
		snprintf(text, sizeof text, "name_latin,phone\nKIM MINJUN,\"%s\"\n", cases[i].cell);
		res = parse_text_with(text, &opt, 0);
		if (res->nrows != 1)
			fail_msg("%s: refused: %s", cases[i].cell,
			         res->nerrors > 0 ? res->errors[0].reason : "?");
		got[0] = '\0';
		for (size_t k = 0; k < res->rows[0].nphones; k++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s",
			         k > 0 ? "," : "", res->rows[0].phones[k]);
		if (strcmp(got, cases[i].want) != 0)
			fail_msg("%s: %s, want %s", cases[i].cell, got, cases[i].want);
		sf_import_result_free(res);
	}
}

/* One passport rule for the import's rows and for staff's changes (routes_nationals.c). */
static void
passport_normalize_keeps_letters_and_digits_within_limits(void **state)
{
	char out[SF_PASSPORT_MAX + 1], err[96];

	(void)state;
	assert_int_equal(sf_passport_normalize("m 1234-5678\t", out, err, sizeof err), 0);
	assert_string_equal(out, "M12345678");
	assert_int_equal(sf_passport_normalize("A1234567890123456789", out, err, sizeof err), 0);
	assert_string_equal(out, "A1234567890123456789");
	assert_int_equal(sf_passport_normalize("A12345678901234567890", out, err, sizeof err),
	                 SF_EINVAL);
	assert_string_equal(err, "passport_no: too long: more than 20 letters and digits");
	assert_int_equal(sf_passport_normalize("M1-2 3", out, err, sizeof err), SF_EINVAL);
	assert_string_equal(err, "passport_no: too short: 4 letters and digits, need 5 to 20");
	assert_int_equal(sf_passport_normalize("M123\xc3\xa9" "456", out, err, sizeof err), SF_EINVAL);
	assert_string_equal(err, "passport_no: only letters A to Z and digits");
	assert_int_equal(sf_passport_normalize("", out, NULL, 0), SF_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(import_mixed_file_gives_exactly_the_expected_rows_and_errors),
	    cmocka_unit_test(import_itinerary_rows_carry_the_leg),
	    cmocka_unit_test(import_korean_headers_file_reads_with_declared_dotted_dates),
	    cmocka_unit_test(import_json_example_reads_every_object),
	    cmocka_unit_test(import_row_rules_hold_in_csv_and_json),
	    cmocka_unit_test(import_recognises_korean_and_english_headers),
	    cmocka_unit_test(import_refuses_unreadable_files_whole),
	    cmocka_unit_test(import_numbers_lines_where_records_start),
	    cmocka_unit_test(import_detects_the_delimiter),
	    cmocka_unit_test(import_detects_bom_and_format),
	    cmocka_unit_test(import_reads_json_shapes),
	    cmocka_unit_test(import_refuses_rows_with_extra_cells),
	    cmocka_unit_test(import_refuses_cells_too_long),
	    cmocka_unit_test(import_reads_declared_date_format_and_iso),
	    cmocka_unit_test(import_korean_mobile_fallback_can_be_turned_off),
	    cmocka_unit_test(import_warns_of_a_number_that_may_be_a_korean_mobile),
	    cmocka_unit_test(import_parses_mappings),
	    cmocka_unit_test(import_applies_mappings),
	    cmocka_unit_test(import_caps_rows_errors_and_warnings),
	    cmocka_unit_test(import_writes_rows_as_copy_text),
	    cmocka_unit_test(import_api_handles_names_and_null),
	    cmocka_unit_test(import_refuses_two_mappings_on_one_column),
	    cmocka_unit_test(import_keeps_each_mapped_field_on_its_column),
	    cmocka_unit_test(import_reads_formula_quotes_of_its_own_export),
	    cmocka_unit_test(import_tells_whether_kind_and_languages_were_given),
	    cmocka_unit_test(import_refuses_the_same_person_twice_without_a_passport),
	    cmocka_unit_test(import_refuses_the_same_person_by_one_name_or_without_a_phone),
	    cmocka_unit_test(import_tells_the_exports_ids_from_other_numbering),
	    cmocka_unit_test(import_reads_a_slash_inside_a_phone_number_as_one_number),
	    cmocka_unit_test(import_refuses_a_slash_after_a_whole_number),
	    cmocka_unit_test(passport_normalize_keeps_letters_and_digits_within_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
