/*
 * Fuzz target of dates and timestamps: any bytes, in every format, must give a
 * real day that prints and parses back to itself, or an error with a message;
 * timestamps must parse without overflow and never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <safety/date.h>
#include <safety/error.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = malloc(size + 1), iso[11], err[256];
	struct sf_date d, back;
	enum sf_date_format fmt;
	int64_t t, days;

	if (input == NULL)
		return 0;
	memcpy(input, data, size);
	input[size] = '\0';
	for (int f = SF_DATE_ISO; f <= SF_DATE_COMPACT; f++) {
		err[0] = '\0';
		if (sf_date_parse(input, (enum sf_date_format)f, &d, err, sizeof err) != 0) {
			if (strncmp(err, "date: ", 6) != 0)
				abort();
			continue;
		}
		if (sf_date_format_iso(&d, iso) != 0 ||
		    sf_date_parse(iso, SF_DATE_ISO, &back, NULL, 0) != 0 ||
		    sf_date_compare(&d, &back) != 0 || sf_date_to_days(&d, &days) != 0)
			abort();
	}
	err[0] = '\0';
	if (sf_timestamp_parse_iso8601(input, &t, err, sizeof err) != 0) {
		if (strncmp(err, "timestamp: ", 11) != 0)
			abort();
	} else if (t < -62167219200LL || t > 253402387200LL) {
		abort();
	}
	(void)sf_date_parse_format_name(input, &fmt);
	free(input);
	return 0;
}
