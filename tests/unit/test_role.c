/*
 * Unit tests of the role model. The permission matrix below is the policy
 * written out by hand, cell by cell; any change to the tables in role.c
 * that is not also made here fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include <safety/role.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

enum { OWN = 7, OTHER = 9 };

/*
 * One row per permission; per role three letters for an object of the
 * actor's own mission, of another mission, and of no mission: Y allowed,
 * n refused.
 */
/* clang-format off */
static const struct matrix_row {
	enum sf_perm perm;
	const char *admin, *hq, *lead, *staff, *viewer;
} matrix[] = {
	/*                          admin  hq     lead   staff  viewer */
	{SF_PERM_READ,            "YYY", "YYY", "Ynn", "Ynn", "Ynn"},
	{SF_PERM_NATIONAL_WRITE,  "YYY", "nnn", "Ynn", "Ynn", "nnn"},
	{SF_PERM_RESPONSE_WRITE,  "YYY", "nnn", "Ynn", "Ynn", "nnn"},
	{SF_PERM_CRISIS_MANAGE,   "YYY", "nnn", "Ynn", "nnn", "nnn"},
	{SF_PERM_CAMPAIGN_LAUNCH, "YYY", "nnn", "Ynn", "nnn", "nnn"},
	{SF_PERM_PLAN_PUBLISH,    "YYY", "nnn", "Ynn", "nnn", "nnn"},
	{SF_PERM_USER_MANAGE,     "YYY", "nnn", "Ynn", "nnn", "nnn"},
	{SF_PERM_AUDIT_READ,      "YYY", "nnn", "Ynn", "nnn", "nnn"},
	{SF_PERM_FEED_READ,       "YYY", "YYY", "nnn", "nnn", "nnn"},
	{SF_PERM_ADMIN,           "YYY", "nnn", "nnn", "nnn", "nnn"},
};
/* clang-format on */

/* Checks one role's column of the matrix in the three situations. */
static void
check_cell(enum sf_role role, enum sf_perm perm, const char *want)
{
	/* Admin and HQ accounts have no mission (0); the mission roles have OWN. */
	long long actor = sf_role_needs_mission(role) ? OWN : 0;
	bool got[3];

	got[0] = sf_role_allows(role, perm, true, actor, OWN);
	got[1] = sf_role_allows(role, perm, true, actor, OTHER);
	got[2] = sf_role_allows(role, perm, false, actor, 0);
	for (int i = 0; i < 3; i++) {
		if (got[i] != (want[i] == 'Y'))
			fail_msg("%s %s %s: want %c", sf_role_name(role), sf_perm_name(perm),
			         i == 0   ? "own mission"
			         : i == 1 ? "other mission"
			                  : "no mission",
			         want[i]);
	}
}

static void
role_allows_exactly_the_matrix(void **state)
{
	(void)state;
	assert_int_equal(N_ELEMS(matrix), SF_PERM_ADMIN);
	for (size_t i = 0; i < N_ELEMS(matrix); i++) {
		check_cell(SF_ROLE_ADMIN, matrix[i].perm, matrix[i].admin);
		check_cell(SF_ROLE_HQ, matrix[i].perm, matrix[i].hq);
		check_cell(SF_ROLE_MISSION_LEAD, matrix[i].perm, matrix[i].lead);
		check_cell(SF_ROLE_MISSION_STAFF, matrix[i].perm, matrix[i].staff);
		check_cell(SF_ROLE_VIEWER, matrix[i].perm, matrix[i].viewer);
	}
}

static void
role_allows_nothing_to_mission_roles_without_a_mission(void **state)
{
	static const enum sf_role mission_roles[] = {SF_ROLE_MISSION_LEAD, SF_ROLE_MISSION_STAFF,
	                                             SF_ROLE_VIEWER};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(mission_roles); i++) {
		/* No mission on either side is not "the same mission". */
		assert_false(sf_role_allows(mission_roles[i], SF_PERM_READ, true, 0, 0));
		assert_false(sf_role_allows(mission_roles[i], SF_PERM_READ, true, -1, -1));
		assert_false(sf_role_allows(mission_roles[i], SF_PERM_READ, false, OWN, OWN));
		assert_true(sf_role_allows(mission_roles[i], SF_PERM_READ, true, OWN, OWN));
	}
}

static void
role_allows_nothing_for_unknown_roles_or_perms(void **state)
{
	(void)state;
	for (int p = SF_PERM_NONE; p <= SF_PERM_ADMIN + 1; p++) {
		assert_false(sf_role_allows(SF_ROLE_NONE, (enum sf_perm)p, true, OWN, OWN));
		assert_false(sf_role_allows((enum sf_role)99, (enum sf_perm)p, false, 0, 0));
	}
	assert_false(sf_role_allows(SF_ROLE_ADMIN, SF_PERM_NONE, false, 0, 0));
	assert_false(sf_role_allows(SF_ROLE_ADMIN, (enum sf_perm)(SF_PERM_ADMIN + 1), false, 0, 0));
	assert_false(sf_role_allows(SF_ROLE_ADMIN, (enum sf_perm) - 1, false, 0, 0));
	assert_false(sf_role_allows(SF_ROLE_ADMIN, (enum sf_perm)31, false, 0, 0));
	assert_false(sf_role_allows(SF_ROLE_ADMIN, (enum sf_perm)32, false, 0, 0));
}

/* Managing accounts: one row per actor, per target role two letters: own mission, other. */
/* clang-format off */
static const struct manage_row {
	enum sf_role actor;
	const char *admin, *hq, *lead, *staff, *viewer;
} manage[] = {
	/*                        admin hq    lead  staff viewer */
	{SF_ROLE_ADMIN,          "YY", "YY", "YY", "YY", "YY"},
	{SF_ROLE_HQ,             "nn", "nn", "nn", "nn", "nn"},
	{SF_ROLE_MISSION_LEAD,   "nn", "nn", "nn", "Yn", "Yn"},
	{SF_ROLE_MISSION_STAFF,  "nn", "nn", "nn", "nn", "nn"},
	{SF_ROLE_VIEWER,         "nn", "nn", "nn", "nn", "nn"},
	{SF_ROLE_NONE,           "nn", "nn", "nn", "nn", "nn"},
};
/* clang-format on */

/* Checks one cell of the management table. */
static void
check_manage(enum sf_role actor, enum sf_role target, const char *want)
{
	long long actor_mission = sf_role_needs_mission(actor) ? OWN : 0;

	if (sf_role_can_manage(actor, actor_mission, target, OWN) != (want[0] == 'Y'))
		fail_msg("%s manages %s of own mission: want %c", sf_role_name(actor),
		         sf_role_name(target), want[0]);
	if (sf_role_can_manage(actor, actor_mission, target, OTHER) != (want[1] == 'Y'))
		fail_msg("%s manages %s of other mission: want %c", sf_role_name(actor),
		         sf_role_name(target), want[1]);
}

static void
role_can_manage_exactly_the_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(manage); i++) {
		check_manage(manage[i].actor, SF_ROLE_ADMIN, manage[i].admin);
		check_manage(manage[i].actor, SF_ROLE_HQ, manage[i].hq);
		check_manage(manage[i].actor, SF_ROLE_MISSION_LEAD, manage[i].lead);
		check_manage(manage[i].actor, SF_ROLE_MISSION_STAFF, manage[i].staff);
		check_manage(manage[i].actor, SF_ROLE_VIEWER, manage[i].viewer);
	}
}

static void
role_can_manage_refuses_missionless_leads_and_unknown_targets(void **state)
{
	(void)state;
	assert_false(sf_role_can_manage(SF_ROLE_MISSION_LEAD, 0, SF_ROLE_MISSION_STAFF, 0));
	assert_false(sf_role_can_manage(SF_ROLE_MISSION_LEAD, -3, SF_ROLE_VIEWER, -3));
	assert_false(sf_role_can_manage(SF_ROLE_ADMIN, 0, SF_ROLE_NONE, OWN));
	assert_false(sf_role_can_manage(SF_ROLE_ADMIN, 0, (enum sf_role)42, OWN));
	assert_false(sf_role_can_manage(SF_ROLE_MISSION_LEAD, OWN, (enum sf_role)42, OWN));
}

struct name_case {
	const char *name;
	enum sf_role role;
};

static const struct name_case role_names[] = {
    {"admin", SF_ROLE_ADMIN},
    {"hq", SF_ROLE_HQ},
    {"mission_lead", SF_ROLE_MISSION_LEAD},
    {"mission_staff", SF_ROLE_MISSION_STAFF},
    {"viewer", SF_ROLE_VIEWER},
};

static void
role_names_round_trip(void **state)
{
	enum sf_role r;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(role_names); i++) {
		r = SF_ROLE_NONE;
		assert_int_equal(sf_role_parse(role_names[i].name, &r), SF_OK);
		assert_int_equal(r, role_names[i].role);
		assert_string_equal(sf_role_name(role_names[i].role), role_names[i].name);
	}
	assert_null(sf_role_name(SF_ROLE_NONE));
	assert_null(sf_role_name((enum sf_role)77));
}

static void
role_parse_rejects_unknown_names(void **state)
{
	static const char *const bad[] = {"",       "none",   "Admin",   "ADMIN",
	                                  " admin", "admin ", "admin\n", "mission",
	                                  "staff",  "lead",   "root",    "viewer\xff"};
	enum sf_role r = SF_ROLE_VIEWER;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		assert_int_equal(sf_role_parse(bad[i], &r), SF_EINVAL);
	assert_int_equal(r, SF_ROLE_VIEWER);
	assert_int_equal(sf_role_parse(NULL, &r), SF_EINVAL);
	assert_int_equal(sf_role_parse("admin", NULL), SF_EINVAL);
}

static void
perm_names_are_distinct_and_defined(void **state)
{
	(void)state;
	for (int p = SF_PERM_READ; p <= SF_PERM_ADMIN; p++) {
		assert_non_null(sf_perm_name((enum sf_perm)p));
		for (int q = SF_PERM_READ; q < p; q++)
			assert_string_not_equal(sf_perm_name((enum sf_perm)p),
			                        sf_perm_name((enum sf_perm)q));
	}
	assert_string_equal(sf_perm_name(SF_PERM_CRISIS_MANAGE), "crisis_manage");
	assert_null(sf_perm_name(SF_PERM_NONE));
	assert_null(sf_perm_name((enum sf_perm)(SF_PERM_ADMIN + 1)));
}

static void
role_needs_mission_only_for_mission_roles(void **state)
{
	(void)state;
	assert_false(sf_role_needs_mission(SF_ROLE_ADMIN));
	assert_false(sf_role_needs_mission(SF_ROLE_HQ));
	assert_true(sf_role_needs_mission(SF_ROLE_MISSION_LEAD));
	assert_true(sf_role_needs_mission(SF_ROLE_MISSION_STAFF));
	assert_true(sf_role_needs_mission(SF_ROLE_VIEWER));
	assert_false(sf_role_needs_mission(SF_ROLE_NONE));
}

struct scope_case {
	const char *list;
	int rc;
	unsigned scopes;
};

static const struct scope_case scope_cases[] = {
    {"feed:read", SF_OK, SF_SCOPE_FEED_READ},
    {" feed:read ", SF_OK, SF_SCOPE_FEED_READ},
    {"feed:read,feed:read", SF_OK, SF_SCOPE_FEED_READ},
    {"feed:read feed:write", SF_EINVAL, 0},
    {"feed:readx", SF_EINVAL, 0},
    {"feed:rea", SF_EINVAL, 0},
    {"FEED:READ", SF_EINVAL, 0},
    {"feed", SF_EINVAL, 0},
    {"", SF_EINVAL, 0},
    {" , ", SF_EINVAL, 0},
    {"feed:read\tadmin", SF_EINVAL, 0},
};

static void
scope_parse_accepts_only_known_scopes(void **state)
{
	char err[128];
	unsigned s;

	(void)state;
	for (size_t i = 0; i < N_ELEMS(scope_cases); i++) {
		s = 0xdead;
		err[0] = '\0';
		if (sf_role_scope_parse(scope_cases[i].list, &s, err, sizeof err) !=
		    scope_cases[i].rc)
			fail_msg("scope_cases[%zu] \"%s\": %s", i, scope_cases[i].list, err);
		if (scope_cases[i].rc == SF_OK)
			assert_int_equal(s, scope_cases[i].scopes);
		else
			assert_true(strncmp(err, "scopes: ", 8) == 0);
	}
	assert_int_equal(sf_role_scope_parse("feed:write", &s, err, sizeof err), SF_EINVAL);
	assert_non_null(strstr(err, "\"feed:write\""));
	assert_int_equal(sf_role_scope_parse(NULL, &s, NULL, 0), SF_EINVAL);
}

static void
scope_format_writes_names(void **state)
{
	char out[SF_ROLE_SCOPES_MAX];
	unsigned s;

	(void)state;
	assert_int_equal(sf_role_scope_format(SF_SCOPE_FEED_READ, out, sizeof out), SF_OK);
	assert_string_equal(out, "feed:read");
	assert_int_equal(sf_role_scope_parse(out, &s, NULL, 0), SF_OK);
	assert_int_equal(s, SF_SCOPE_FEED_READ);
	assert_int_equal(sf_role_scope_format(0, out, sizeof out), SF_OK);
	assert_string_equal(out, "");
	assert_int_equal(sf_role_scope_format(1u << 30, out, sizeof out), SF_EINVAL);
	assert_int_equal(sf_role_scope_format(SF_SCOPE_FEED_READ, out, 9), SF_ETOOLONG);
	assert_int_equal(sf_role_scope_format(SF_SCOPE_FEED_READ, out, 10), SF_OK);
	assert_string_equal(sf_role_scope_name(SF_SCOPE_FEED_READ), "feed:read");
	assert_null(sf_role_scope_name((enum sf_scope)(1u << 30)));
}

static void
scope_allows_only_what_it_names(void **state)
{
	(void)state;
	assert_true(sf_role_scope_allows(SF_SCOPE_FEED_READ, SF_PERM_FEED_READ));
	for (int p = SF_PERM_NONE; p <= SF_PERM_ADMIN; p++) {
		if (p != SF_PERM_FEED_READ)
			assert_false(sf_role_scope_allows(SF_SCOPE_FEED_READ, (enum sf_perm)p));
		assert_false(sf_role_scope_allows(0, (enum sf_perm)p));
	}
	/* Unknown bits grant nothing. */
	assert_false(sf_role_scope_allows(~(unsigned)SF_SCOPE_FEED_READ, SF_PERM_FEED_READ));
	assert_false(sf_role_scope_allows(~0u, SF_PERM_ADMIN));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(role_allows_exactly_the_matrix),
	    cmocka_unit_test(role_allows_nothing_to_mission_roles_without_a_mission),
	    cmocka_unit_test(role_allows_nothing_for_unknown_roles_or_perms),
	    cmocka_unit_test(role_can_manage_exactly_the_table),
	    cmocka_unit_test(role_can_manage_refuses_missionless_leads_and_unknown_targets),
	    cmocka_unit_test(role_names_round_trip),
	    cmocka_unit_test(role_parse_rejects_unknown_names),
	    cmocka_unit_test(perm_names_are_distinct_and_defined),
	    cmocka_unit_test(role_needs_mission_only_for_mission_roles),
	    cmocka_unit_test(scope_parse_accepts_only_known_scopes),
	    cmocka_unit_test(scope_format_writes_names),
	    cmocka_unit_test(scope_allows_only_what_it_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
