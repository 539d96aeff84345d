/*
 * The personal reply link in every message: the public URL, "/r/", and a
 * token that names the (crisis, national) pair to the server and nothing to
 * anyone else. Keys come from [tokens] key_file; several ids can be loaded
 * so old links keep working after a rotation.
 */
#ifndef SAFETY_REPLY_LINK_H
#define SAFETY_REPLY_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;

/* Loads the keys; without a key file makes a key for this process only (and warns). */
bool reply_link_init(struct daemon *d, char **cause) __attribute__((warn_unused_result));

/* Frees the keys. */
void reply_link_free(struct daemon *d);

/* Writes the reply link of (crisis, national) into out. */
void reply_link_make(const struct daemon *d, int64_t crisis_id, int64_t national_id, char *out,
                     size_t outsz);

/* Reads a token; 0 and the ids, or -1 when it is unknown, tampered or malformed. */
int reply_link_open(const struct daemon *d, const char *token, int64_t *crisis_id,
                    int64_t *national_id);

#endif
