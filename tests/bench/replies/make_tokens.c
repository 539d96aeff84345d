/*
 * Writes the reply tokens of national ids FIRST..LAST in crisis CRISIS, one
 * per line, with the key of a key file ("ID:SECRET" lines), for the reply
 * benchmark's load generator.
 *
 *   make_tokens KEYFILE KEY_ID CRISIS FIRST LAST
 */
#include <safety/token.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
main(int argc, char **argv)
{
	struct sf_token_keyring *ring;
	char line[512], err[160], token[SF_TOKEN_SIZE];
	FILE *f;
	unsigned key_id;

	if (argc != 6) {
		fprintf(stderr, "usage: make_tokens KEYFILE KEY_ID CRISIS FIRST LAST\n");
		return 2;
	}
	key_id = (unsigned)atoi(argv[2]);
	if (sf_token_keyring_new(&ring) != 0 || (f = fopen(argv[1], "r")) == NULL)
		return 1;
	while (fgets(line, sizeof line, f) != NULL) {
		char *colon = strchr(line, ':');
		line[strcspn(line, "\r\n")] = '\0';
		if (colon != NULL && (unsigned)atoi(line) == key_id &&
		    sf_token_keyring_add(ring, key_id, colon + 1, err, sizeof err) != 0) {
			fprintf(stderr, "make_tokens: %s\n", err);
			return 1;
		}
	}
	fclose(f);
	for (long long id = atoll(argv[4]); id <= atoll(argv[5]); id++) {
		if (sf_token_make(ring, key_id, atoll(argv[3]), id, token) != 0)
			return 1;
		puts(token);
	}
	sf_token_keyring_free(ring);
	return 0;
}
