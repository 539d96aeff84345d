/*
 * Allocation that cannot fail: on exhaustion the process logs and exits,
 * as there is no sensible recovery for a daemon that cannot allocate a few
 * bytes. Used for small bookkeeping, never for sizes a client controls.
 */
#ifndef SAFETY_XMALLOC_H
#define SAFETY_XMALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Allocates and formats a string into *out (caller frees). */
int xasprintf(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
