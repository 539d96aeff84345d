/*
 * PostgreSQL array literals ("{...}") for batched statements: a batch of
 * rows goes to the server as one text array per column, unnested there.
 */
#ifndef SAFETY_PG_ARRAY_H
#define SAFETY_PG_ARRAY_H

#include <stddef.h>

#define PG_ARRAYS_MAX 20

/* The columns of one batch, each an array literal under construction. */
struct pg_arrays {
	int n;
	char *text[PG_ARRAYS_MAX]; /* owned; the statement's parameters once closed */
	size_t len[PG_ARRAYS_MAX], cap[PG_ARRAYS_MAX];
};

/* Starts n empty columns (n <= PG_ARRAYS_MAX). */
void pg_arrays_open(struct pg_arrays *a, int n);

/* Appends an element to a column: s quoted and escaped, or NULL when s is NULL. */
void pg_arrays_add(struct pg_arrays *a, int column, const char *s);

/* Appends a number to a column. */
void pg_arrays_add_int(struct pg_arrays *a, int column, long long v);

/* Closes every column; returns them as a statement's parameters (owned by a). */
const char *const *pg_arrays_close(struct pg_arrays *a);

void pg_arrays_free(struct pg_arrays *a);

/*
 * A set of names out of a fixed list (at most 32): a name's bit, or 0 for
 * one not in the list; and the set as an array literal, each name once in
 * the list's order, so repeats in a request never lengthen it. size must
 * hold every name of the list.
 */
unsigned pg_name_bit(const char *const *names, size_t n, const char *name);
void pg_name_set_literal(const char *const *names, size_t n, unsigned set, char *buf, size_t size);

#endif
