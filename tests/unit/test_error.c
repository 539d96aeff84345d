/* Unit tests of the error helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <safety/error.h>

static void
error_set_formats_and_returns_code(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(sf_error_set(buf, sizeof buf, SF_EINVAL, "phone: %s", "too short"),
			 SF_EINVAL);
	assert_string_equal(buf, "phone: too short");
}

static void
error_set_truncates_to_buffer(void **state)
{
	char buf[6];

	(void)state;
	assert_int_equal(sf_error_set(buf, sizeof buf, SF_ERANGE, "%s", "abcdefghij"), SF_ERANGE);
	assert_string_equal(buf, "abcde");
	assert_int_equal(sf_error_set(NULL, 0, SF_ENOMEM, "x"), SF_ENOMEM);
}

static void
strerror_names_every_code(void **state)
{
	(void)state;
	for (int c = SF_EINTERNAL; c <= SF_OK; c++)
		assert_string_not_equal(sf_strerror(c), "unknown error");
	assert_string_equal(sf_strerror(-1000), "unknown error");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(error_set_formats_and_returns_code),
		cmocka_unit_test(error_set_truncates_to_buffer),
		cmocka_unit_test(strerror_names_every_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
