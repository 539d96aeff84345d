/*
 * PostgreSQL array literals ("{...}") for batched statements: a batch of
 * rows goes to the server as one text array per column, unnested there.
 */
#ifndef SAFETY_PG_ARRAY_H
#define SAFETY_PG_ARRAY_H

#include <stddef.h>

/*
 * Appends one element to a literal under construction (*buf holds "{" and
 * earlier elements, *len its length, *cap its allocation): s quoted and
 * escaped, or NULL when s is NULL. Grows *buf as needed.
 */
void pg_array_append(char **buf, size_t *len, size_t *cap, const char *s);

#endif
