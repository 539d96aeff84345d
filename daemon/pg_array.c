/* Building PostgreSQL array literals. */
#include "pg_array.h"

#include "xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
pg_arrays_open(struct pg_arrays *a, int n)
{
	a->n = n;
	for (int k = 0; k < n; k++) {
		a->cap[k] = 256;
		a->len[k] = 1;
		a->text[k] = xmalloc(a->cap[k]);
		a->text[k][0] = '{';
	}
}

void
pg_arrays_add(struct pg_arrays *a, int column, const char *s)
{
	char **buf = &a->text[column];
	size_t *len = &a->len[column], *cap = &a->cap[column];
	size_t need = (s != NULL ? 2 * strlen(s) : 4) + 4;

	if (*len + need + 2 > *cap) {
		*cap = (*len + need + 2) * 2;
		*buf = xrealloc(*buf, *cap);
	}
	if (*len > 1)
		(*buf)[(*len)++] = ',';
	if (s == NULL) {
		memcpy(*buf + *len, "NULL", 4);
		*len += 4;
		return;
	}
	(*buf)[(*len)++] = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			(*buf)[(*len)++] = '\\';
		(*buf)[(*len)++] = *s;
	}
	(*buf)[(*len)++] = '"';
}

void
pg_arrays_add_int(struct pg_arrays *a, int column, long long v)
{
	char num[32];

	snprintf(num, sizeof num, "%lld", v);
	pg_arrays_add(a, column, num);
}

const char *const *
pg_arrays_close(struct pg_arrays *a)
{
	for (int k = 0; k < a->n; k++) {
		a->text[k][a->len[k]++] = '}';
		a->text[k][a->len[k]] = '\0';
	}
	return (const char *const *)a->text;
}

void
pg_arrays_free(struct pg_arrays *a)
{
	for (int k = 0; k < a->n; k++)
		free(a->text[k]);
	a->n = 0;
}

unsigned
pg_name_bit(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; name != NULL && i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return 1u << i;
	return 0;
}

void
pg_name_set_literal(const char *const *names, size_t n, unsigned set, char *buf, size_t size)
{
	size_t off = 0;

	buf[off++] = '{';
	for (size_t i = 0; i < n && off < size; i++)
		if (set & (1u << i))
			off += (size_t)snprintf(buf + off, size - off, "%s%s", off > 1 ? "," : "",
			                        names[i]);
	if (off < size)
		snprintf(buf + off, size - off, "}");
}
