/*
 * Fuzz target of reply tokens: any bytes as a token must open to ids that make
 * the very same token again, or be refused with SF_EMISMATCH; any ids taken
 * from the bytes must round-trip. Nothing may crash, leak or read past the end.
 * Built and run by tests/fuzz/run.sh (seeds from the test data).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/token.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sf_token_keyring *ring;

/* Makes the keyring once: keys 0 and 9 with fixed secrets. */
static void
setup(void)
{
	if (ring != NULL)
		return;
	if (sf_token_keyring_new(&ring) != 0 ||
	    sf_token_keyring_add(ring, 0,
	                         "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
	                         NULL, 0) != 0 ||
	    sf_token_keyring_add(
	        ring, 9, "c2FmZXR5IGZ1enoga2V5IG51bWJlciBuaW5lLCAzMiBieXRlcyE=", NULL, 0) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input, again[SF_TOKEN_SIZE], made[SF_TOKEN_SIZE];
	int64_t crisis = -1, national = -1, c2, n2;
	unsigned kid;
	uint64_t a = 0, b = 0;
	int rc;

	setup();
	input = malloc(size + 1);
	if (input == NULL)
		return 0;
	memcpy(input, data, size);
	input[size] = '\0';

	rc = sf_token_open(ring, input, &crisis, &national);
	if (rc == 0) {
		if (sf_token_key_id(input, &kid) != 0 ||
		    sf_token_make(ring, kid, crisis, national, again) != 0 ||
		    strcmp(again, input) != 0)
			abort();
	} else if (rc != SF_EMISMATCH || crisis != -1 || national != -1) {
		abort();
	}

	/* The same bytes as ids: in range they must round-trip, out of range be refused. */
	memcpy(&a, data, size < 8 ? size : 8);
	if (size > 8)
		memcpy(&b, data + 8, size - 8 < 8 ? size - 8 : 8);
	/* One bit past each limit, so about half the ids are out of range. */
	crisis = (int64_t)((a >> 1) & ((UINT64_C(1) << 33) - 1));
	national = (int64_t)(b & ((UINT64_C(1) << 49) - 1));
	rc = sf_token_make(ring, (a & 1) ? 9 : 0, crisis, national, made);
	if (rc == 0) {
		if (sf_token_open(ring, made, &c2, &n2) != 0 || c2 != crisis || n2 != national)
			abort();
	} else if (rc != SF_ERANGE || made[0] != '\0') {
		abort();
	}
	free(input);
	return 0;
}
