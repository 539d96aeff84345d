/* Reading the unit tests' data files (tests/data/...). Header-only: each test is one program. */
#ifndef SAFETY_TESTDATA_H
#define SAFETY_TESTDATA_H

#include <stdio.h>
#include <stdlib.h>

/* Reads dir/name whole, NUL-terminated; fails the test if it cannot. The caller frees it. */
static inline char *
testdata_slurp(const char *dir, const char *name, size_t *len)
{
	char path[512];
	FILE *f;
	char *buf;
	long size;

	snprintf(path, sizeof path, "%s%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	assert_true(size >= 0);
	assert_int_equal(fseek(f, 0, SEEK_SET), 0);
	buf = malloc((size_t)size + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)size, f), (size_t)size);
	buf[size] = '\0';
	fclose(f);
	*len = (size_t)size;
	return buf;
}

#endif
