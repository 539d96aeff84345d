/*
 * Fuzz target of phone number normalisation: any bytes, with and without a
 * mission country, must give either a valid E.164 number that normalises to
 * itself or an error with a message, and never crash.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/phone.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const countries[] = {NULL, "KR", "TR", "UA", "TH", "VN",
                                        "US", "RU", "EG", "IT", "HU", "CG"};

/* Checks the contract of sf_phone_normalize on one input and one country. */
static void
fuzz_one(const char *input, const char *country)
{
	char out[SF_PHONE_E164_SIZE], again[SF_PHONE_E164_SIZE], err[256], iso[3];
	size_t len;
	int rc;

	err[0] = '\0';
	rc = sf_phone_normalize(input, country, out, sizeof out, err, sizeof err);
	if (rc != 0) {
		if (out[0] != '\0' || err[0] == '\0' || strncmp(err, "phone: ", 7) != 0)
			abort();
		return;
	}
	len = strlen(out);
	if (out[0] != '+' || len < 8 || len > SF_PHONE_E164_MAX)
		abort();
	for (size_t i = 1; i < len; i++) {
		if (out[i] < '0' || out[i] > '9')
			abort();
	}
	if (sf_phone_normalize(out, NULL, again, sizeof again, err, sizeof err) != 0 ||
	    strcmp(out, again) != 0)
		abort();
	rc = sf_phone_country(out, iso);
	if (rc != 0 && rc != SF_ENOTFOUND)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = malloc(size + 1);

	if (input == NULL)
		return 0;
	memcpy(input, data, size);
	input[size] = '\0';
	for (size_t i = 0; i < sizeof countries / sizeof countries[0]; i++)
		fuzz_one(input, countries[i]);
	{
		char iso[3];
		(void)sf_phone_country(input, iso);
	}
	free(input);
	return 0;
}
