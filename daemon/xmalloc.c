/* Allocation helpers that end the process on exhaustion, like tmux's. */
#include "xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ends the process after an allocation failure. */
static void __attribute__((noreturn)) xmalloc_fail(size_t size)
{
	fprintf(stderr, "level=error event=out_of_memory size=%zu\n", size);
	abort();
}

/* Allocates size bytes. */
void *
xmalloc(size_t size)
{
	void *p = malloc(size == 0 ? 1 : size);

	if (p == NULL)
		xmalloc_fail(size);
	return p;
}

/* Allocates n zeroed elements. */
void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size);

	if (p == NULL)
		xmalloc_fail(n * size);
	return p;
}

/* Resizes p. */
void *
xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size == 0 ? 1 : size);

	if (q == NULL)
		xmalloc_fail(size);
	return q;
}

/* Copies s. */
char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* Copies at most n bytes of s. */
char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* Formats into a new string. */
int
xasprintf(char **out, const char *fmt, ...)
{
	va_list ap, ap2;
	int n;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		xmalloc_fail(0);
	*out = xmalloc((size_t)n + 1);
	vsnprintf(*out, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return n;
}
