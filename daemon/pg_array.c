/* Building PostgreSQL array literals. */
#include "pg_array.h"

#include "xmalloc.h"

#include <string.h>

void
pg_array_append(char **buf, size_t *len, size_t *cap, const char *s)
{
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
