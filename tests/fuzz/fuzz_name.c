/*
 * Fuzz target of person names: any bytes must give a normalised name that
 * normalises to itself and has a search key, or an error with a message; the
 * search key and the script must never crash or leak on any input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

#include <safety/error.h>
#include <safety/name.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = malloc(size + 1), out[SF_NAME_SIZE], again[SF_NAME_SIZE], err[256];
	char key[SF_NAME_KEY_SIZE];
	int rc;

	if (input == NULL)
		return 0;
	memcpy(input, data, size);
	input[size] = '\0';
	err[0] = '\0';
	rc = sf_name_normalize(input, out, sizeof out, err, sizeof err);
	if (rc != 0) {
		if (out[0] != '\0' || strncmp(err, "name: ", 6) != 0)
			abort();
	} else {
		size_t len = strlen(out);

		if (len == 0 || len > SF_NAME_MAX || u8_check((const uint8_t *)out, len) != NULL)
			abort();
		if (out[0] == ' ' || out[len - 1] == ' ' || strstr(out, "  ") != NULL)
			abort();
		if (sf_name_normalize(out, again, sizeof again, err, sizeof err) != 0 ||
		    strcmp(out, again) != 0)
			abort();
		/* A stored name has a key unless it is all punctuation; the key fits. */
		rc = sf_name_search_key(out, key, sizeof key);
		if (rc != 0 && rc != SF_EINVAL)
			abort();
	}
	rc = sf_name_search_key(input, key, sizeof key);
	if (rc == 0 && (key[0] == '\0' || strchr(key, ' ') != NULL))
		abort();
	(void)sf_name_script(input);
	free(input);
	return 0;
}
