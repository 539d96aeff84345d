/*
 * Unit tests of the audit hash chain: known answers computed outside this
 * library, sensitivity to every field, and refusal of malformed hashes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <safety/audit.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* The example in audit.h, the first row of a chain. */
static const struct sf_audit_fields first_row = {
    .id = 1,
    .occurred_at = "2024-05-01T00:00:00.000000Z",
    .actor = "kim",
    .actor_role = "admin",
    .mission_id = 0,
    .client_addr = "192.0.2.1",
    .action = "login",
    .object_type = "staff_user",
    .object_id = "1",
    .summary = "{}",
};

/*
 * printf '%s'
 * '0:1:127:2024-05-01T00:00:00.000000Z3:kim5:admin1:09:192.0.2.15:login10:staff_user1:12:{}' \ |
 * sha256sum
 */
#define FIRST_HASH "64f83bf563794449af225ccfe11f336ef0f85bb6615c3322a53fbbfd996697ea"

/* A second row, chained to the first, with multi-byte UTF-8 in two fields. */
static const struct sf_audit_fields second_row = {
    .id = 2,
    .occurred_at = "2024-05-01T00:05:17.250000Z",
    .actor = "김민수",
    .actor_role = "mission_staff",
    .mission_id = 12,
    .client_addr = "2001:db8::7",
    .action = "national.update",
    .object_type = "national",
    .object_id = "98765",
    .summary = "{\"fields\":[\"phone\"],\"note\":\"전화 확인\"}",
};

/*
 * m="64:${FIRST_HASH}1:227:2024-05-01T00:05:17.250000Z9:김민수13:mission_staff2:12"\
 * "11:2001:db8::715:national.update8:national5:98765"'43:{"fields":["phone"],"note":"전화 확인"}'
 * printf '%s' "$m" | sha256sum          (byte lengths counted with wc -c)
 */
#define SECOND_HASH "487023e96596953056d6e57fe4e20b2f06537aa1a4dcab6443b4972095200bc7"

static void
audit_hash_matches_independent_vectors(void **state)
{
	char out[SF_AUDIT_HASH_HEX + 1];

	(void)state;
	assert_int_equal(sf_audit_chain_hash("", &first_row, out), SF_OK);
	assert_string_equal(out, FIRST_HASH);
	assert_int_equal(sf_audit_chain_hash(FIRST_HASH, &second_row, out), SF_OK);
	assert_string_equal(out, SECOND_HASH);
}

/* Sets field number i of row to a value that differs from the first row's. */
static void
mutate(struct sf_audit_fields *row, int i)
{
	switch (i) {
	case 0:
		row->id = 11;
		break;
	case 1:
		row->occurred_at = "2024-05-01T00:00:00.000001Z";
		break;
	case 2:
		row->actor = "kin";
		break;
	case 3:
		row->actor_role = "hq";
		break;
	case 4:
		row->mission_id = 1;
		break;
	case 5:
		row->client_addr = "192.0.2.10";
		break;
	case 6:
		row->action = "logout";
		break;
	case 7:
		row->object_type = "staff_usr";
		break;
	case 8:
		row->object_id = "2";
		break;
	case 9:
		row->summary = "{ }";
		break;
	default:
		fail();
	}
}

static void
audit_hash_changes_with_every_field(void **state)
{
	char base[SF_AUDIT_HASH_HEX + 1], out[SF_AUDIT_HASH_HEX + 1];
	struct sf_audit_fields row;

	(void)state;
	assert_int_equal(sf_audit_chain_hash("", &first_row, base), SF_OK);
	for (int i = 0; i < 10; i++) {
		row = first_row;
		mutate(&row, i);
		assert_int_equal(sf_audit_chain_hash("", &row, out), SF_OK);
		if (strcmp(out, base) == 0)
			fail_msg("changing field %d left the hash alone", i);
	}
	/* And with the previous hash: one digit, or the chain's start. */
	assert_int_equal(sf_audit_chain_hash(FIRST_HASH, &first_row, out), SF_OK);
	assert_string_not_equal(out, base);
	assert_int_equal(
	    sf_audit_chain_hash("64f83bf563794449af225ccfe11f336ef0f85bb6615c3322a53fbbfd996697eb",
	                        &first_row, base),
	    SF_OK);
	assert_string_not_equal(out, base);
}

static void
audit_hash_keeps_field_boundaries(void **state)
{
	char a[SF_AUDIT_HASH_HEX + 1], b[SF_AUDIT_HASH_HEX + 1];
	struct sf_audit_fields row;

	(void)state;
	/* Moving a character from one field to the next must not give the same hash. */
	row = first_row;
	row.actor = "kima";
	row.actor_role = "dmin";
	assert_int_equal(sf_audit_chain_hash("", &first_row, a), SF_OK);
	assert_int_equal(sf_audit_chain_hash("", &row, b), SF_OK);
	assert_string_not_equal(a, b);
	/* Nor a field that looks like a length prefix swallowing the next one. */
	row = first_row;
	row.object_type = "staff_user1:1";
	row.object_id = "";
	assert_int_equal(sf_audit_chain_hash("", &row, b), SF_OK);
	assert_string_not_equal(a, b);
	/* Numbers with the same digits in another place. */
	row = first_row;
	row.id = 10;
	row.mission_id = 0;
	assert_int_equal(sf_audit_chain_hash("", &row, a), SF_OK);
	row.id = 1;
	row.mission_id = 0;
	row.occurred_at = "02024-05-01T00:00:00.000000Z";
	assert_int_equal(sf_audit_chain_hash("", &row, b), SF_OK);
	assert_string_not_equal(a, b);
	/* A negative id is hashed with its sign. */
	row = first_row;
	row.id = -1;
	assert_int_equal(sf_audit_chain_hash("", &row, b), SF_OK);
	assert_int_equal(sf_audit_chain_hash("", &first_row, a), SF_OK);
	assert_string_not_equal(a, b);
}

static void
audit_hash_takes_null_strings_as_empty(void **state)
{
	struct sf_audit_fields empty = {0}, nulls = {0};
	char a[SF_AUDIT_HASH_HEX + 1], b[SF_AUDIT_HASH_HEX + 1];

	(void)state;
	empty.occurred_at = empty.actor = empty.actor_role = empty.client_addr = "";
	empty.action = empty.object_type = empty.object_id = empty.summary = "";
	assert_int_equal(sf_audit_chain_hash("", &empty, a), SF_OK);
	assert_int_equal(sf_audit_chain_hash("", &nulls, b), SF_OK);
	assert_string_equal(a, b);
	/* printf '%s' '0:1:00:0:0:1:00:0:0:0:0:' | sha256sum */
	assert_string_equal(a, "873106595f030aeb7c72856d5302e536f0dc8cfe4e939366806e8f2d06d81e3a");
}

static void
audit_hash_rejects_malformed_previous_hash(void **state)
{
	static const char *const bad[] = {
	    "64f83bf563794449af225ccfe11f336ef0f85bb6615c3322a53fbbfd996697e",   /* 63 */
	    "64f83bf563794449af225ccfe11f336ef0f85bb6615c3322a53fbbfd996697eaa", /* 65 */
	    "64F83BF563794449AF225CCFE11F336EF0F85BB6615C3322A53FBBFD996697EA",  /* upper */
	    "64f83bf563794449af225ccfe11f336ef0f85bb6615c3322a53fbbfd996697eg",
	    " 64f83bf563794449af225ccfe11f336ef0f85bb6615c3322a53fbbfd996697e",
	    "x",
	    "\xff",
	};
	char out[SF_AUDIT_HASH_HEX + 1];

	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		assert_int_equal(sf_audit_chain_hash(bad[i], &first_row, out), SF_EINVAL);
	assert_int_equal(sf_audit_chain_hash(NULL, &first_row, out), SF_EINVAL);
	assert_int_equal(sf_audit_chain_hash("", NULL, out), SF_EINVAL);
	assert_int_equal(sf_audit_chain_hash("", &first_row, NULL), SF_EINVAL);
}

static void
audit_check_detects_tampering(void **state)
{
	struct sf_audit_fields row;

	(void)state;
	assert_int_equal(sf_audit_chain_check("", &first_row, FIRST_HASH), SF_OK);
	assert_int_equal(sf_audit_chain_check(FIRST_HASH, &second_row, SECOND_HASH), SF_OK);
	/* A changed row, a row moved to another place in the chain, a changed hash. */
	row = second_row;
	row.summary = "{\"fields\":[\"phone\"],\"note\":\"전화 확인 \"}";
	assert_int_equal(sf_audit_chain_check(FIRST_HASH, &row, SECOND_HASH), SF_EMISMATCH);
	assert_int_equal(sf_audit_chain_check("", &second_row, SECOND_HASH), SF_EMISMATCH);
	assert_int_equal(sf_audit_chain_check(FIRST_HASH, &second_row, FIRST_HASH), SF_EMISMATCH);
	/* A stored hash that is not a hash at all. */
	assert_int_equal(sf_audit_chain_check("", &first_row, ""), SF_EINVAL);
	assert_int_equal(sf_audit_chain_check("", &first_row, NULL), SF_EINVAL);
	assert_int_equal(
	    sf_audit_chain_check(
	        "", &first_row, "64F83BF563794449AF225CCFE11F336EF0F85BB6615C3322A53FBBFD996697EA"),
	    SF_EINVAL);
	assert_int_equal(sf_audit_chain_check("nope", &first_row, FIRST_HASH), SF_EINVAL);
}

static void
audit_hash_handles_long_fields(void **state)
{
	static char summary[1 << 20];
	char a[SF_AUDIT_HASH_HEX + 1], b[SF_AUDIT_HASH_HEX + 1];
	struct sf_audit_fields row = first_row;

	(void)state;
	memset(summary, 'z', sizeof summary - 1);
	row.summary = summary;
	assert_int_equal(sf_audit_chain_hash("", &row, a), SF_OK);
	summary[sizeof summary - 2] = 'y';
	assert_int_equal(sf_audit_chain_hash("", &row, b), SF_OK);
	assert_string_not_equal(a, b);
	row.id = INT64_MIN;
	row.mission_id = INT64_MAX;
	assert_int_equal(sf_audit_chain_hash("", &row, a), SF_OK);
	assert_string_not_equal(a, b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(audit_hash_matches_independent_vectors),
	    cmocka_unit_test(audit_hash_changes_with_every_field),
	    cmocka_unit_test(audit_hash_keeps_field_boundaries),
	    cmocka_unit_test(audit_hash_takes_null_strings_as_empty),
	    cmocka_unit_test(audit_hash_rejects_malformed_previous_hash),
	    cmocka_unit_test(audit_check_detects_tampering),
	    cmocka_unit_test(audit_hash_handles_long_fields),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
