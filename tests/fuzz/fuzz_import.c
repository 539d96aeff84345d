/*
 * Fuzz target of the national import: the first bytes choose the options (format,
 * date format, delimiter, country, a --map spec), the rest is the file. Any input
 * must give a result whose rows keep every promise of the header (a name, a key,
 * a kind, E.164 phones, array literals, a COPY line that fits) and whose reasons
 * start with their field, or a clean refusal; never a crash or a leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

#include <safety/error.h>
#include <safety/import.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless s is NULL or valid UTF-8 without a NUL before its end. */
static void
check_text(const char *s)
{
	if (s != NULL && u8_check((const uint8_t *)s, strlen(s)) != NULL)
		abort();
}

/* Aborts unless s is a brace-enclosed list of lower-case words. */
static void
check_array_literal(const char *s)
{
	size_t n;

	if (s == NULL || s[0] != '{')
		abort();
	n = strlen(s);
	if (s[n - 1] != '}')
		abort();
	for (size_t i = 1; i + 1 < n; i++) {
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == ','))
			abort();
	}
}

/* Checks every promise the header makes about a good row. */
static void
check_row(const struct sf_import_row *r)
{
	static char line[SF_IMPORT_COPY_LINE_SIZE];
	size_t len;

	if (r->name_ko == NULL && r->name_latin == NULL)
		abort();
	if (r->name_key == NULL || r->name_key[0] == '\0' || r->kind == NULL)
		abort();
	if (strcmp(r->kind, "resident") != 0 && strcmp(r->kind, "traveller") != 0)
		abort();
	if (strcmp(r->kind, "traveller") == 0 &&
	    (r->arrival_date == NULL || r->departure_date == NULL))
		abort();
	if (r->arrival_date != NULL && r->departure_date != NULL &&
	    strcmp(r->departure_date, r->arrival_date) < 0)
		abort();
	if (r->passport_no != NULL) {
		size_t n = strlen(r->passport_no);

		if (n < 5 || n > 20 ||
		    strspn(r->passport_no, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n)
			abort();
	}
	if (r->nphones > SF_IMPORT_CONTACTS_MAX || r->nemails > SF_IMPORT_CONTACTS_MAX)
		abort();
	for (size_t i = 0; i < r->nphones; i++) {
		if (r->phones[i][0] != '+' || strlen(r->phones[i]) > 16)
			abort();
	}
	for (size_t i = 0; i < r->nemails; i++) {
		if (strchr(r->emails[i], '@') == NULL)
			abort();
		check_text(r->emails[i]);
	}
	check_array_literal(r->needs);
	check_array_literal(r->languages);
	if (r->has_point && (r->lat < -90 || r->lat > 90 || r->lon < -180 || r->lon > 180))
		abort();
	check_text(r->name_ko);
	check_text(r->name_latin);
	check_text(r->address);
	check_text(r->residence_status);
	check_text(r->notes);
	check_text(r->household_ref);
	check_text(r->external_ref);
	if (sf_import_row_copy_text(r, line, sizeof line, &len) != 0 || len == 0 ||
	    line[len - 1] != '\n' || memchr(line, '\n', len - 1) != NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const countries[] = {NULL, "TR", "KR", "UA", "TH", "US", "XX", ""};
	static const char delimiters[] = {0, ',', ';', '\t', 'x'};
	struct sf_import_mapping map = {NULL, 0};
	struct sf_import_options opt;
	struct sf_import_result *res = NULL;
	char spec[64];
	int rc;

	if (size < 3)
		return 0;
	sf_import_options_init(&opt);
	opt.format = (enum sf_import_format)(data[0] % 3);
	opt.date_format = (enum sf_date_format)((data[0] >> 2) % 5);
	opt.korean_mobile_fallback = (data[0] & 0x20) != 0;
	opt.default_country = countries[data[1] % 8];
	opt.delimiter = delimiters[(data[1] >> 3) % 5];
	opt.max_rows = (data[1] & 0x80) ? 3 : 0;
	opt.max_errors = (data[2] & 0x80) ? 2 : 0;
	/* Some inputs start with a mapping spec up to the first newline. */
	data += 3;
	size -= 3;
	if (data[-1] & 0x40) {
		const uint8_t *nl =
		    memchr(data, '\n', size < sizeof spec - 1 ? size : sizeof spec - 1);

		if (nl != NULL) {
			memcpy(spec, data, (size_t)(nl - data));
			spec[nl - data] = '\0';
			rc = sf_import_parse_mapping(spec, &map, NULL, 0);
			if (rc != 0 && map.count != 0)
				abort();
			size -= (size_t)(nl - data) + 1;
			data = nl + 1;
			opt.mapping = &map;
		}
	}
	rc = sf_import_parse((const char *)data, size, &opt, &res);
	if (rc == SF_ENOMEM) {
		if (res != NULL)
			abort();
		goto out;
	}
	if (rc != 0 && rc != SF_EINVAL && rc != SF_ETOOLONG)
		abort();
	if (res == NULL || (rc != 0) != res->file_error)
		abort();
	if (res->file_error && (res->nrows != 0 || res->nerrors == 0))
		abort();
	if (res->nrows + res->bad_rows > res->records)
		abort();
	if (res->nwarnings > SF_IMPORT_WARNINGS_MAX)
		abort();
	for (size_t i = 0; i < res->nrows; i++) {
		check_row(&res->rows[i]);
		if (i > 0 && res->rows[i].line <= res->rows[i - 1].line)
			abort();
	}
	for (size_t i = 0; i < res->nerrors + res->nwarnings; i++) {
		const struct sf_import_error *e =
		    i < res->nerrors ? &res->errors[i] : &res->warnings[i - res->nerrors];

		if (e->field == NULL || memchr(e->reason, '\0', sizeof e->reason) == NULL)
			abort();
		if (i < res->nerrors && strncmp(e->reason, e->field, strlen(e->field)) != 0)
			abort();
		check_text(e->reason);
	}
out:
	sf_import_result_free(res);
	sf_import_mapping_clear(&map);
	return 0;
}
