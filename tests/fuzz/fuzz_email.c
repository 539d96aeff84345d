/*
 * Fuzz target of e-mail address validation: any bytes must give either an
 * address that validates to itself or an error with a message, and never
 * crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <safety/email.h>
#include <safety/error.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = malloc(size + 1), out[SF_EMAIL_SIZE], again[SF_EMAIL_SIZE], err[256];
	int rc;

	if (input == NULL)
		return 0;
	memcpy(input, data, size);
	input[size] = '\0';
	err[0] = '\0';
	rc = sf_email_validate(input, out, sizeof out, err, sizeof err);
	if (rc != 0) {
		if (out[0] != '\0' || strncmp(err, "email: ", 7) != 0)
			abort();
	} else {
		if (strlen(out) > SF_EMAIL_MAX || strchr(out, '@') == NULL)
			abort();
		if (sf_email_validate(out, again, sizeof again, err, sizeof err) != 0 ||
		    strcmp(out, again) != 0)
			abort();
	}
	free(input);
	return 0;
}
