/*
 * The role model as data: one row per role saying which permissions it has
 * and whether they reach beyond its own mission, one row per scope for API
 * keys. The decision functions only read these tables.
 */
#include <safety/role.h>

#include <string.h>

#define PERM(p) (1u << (p))

/* The permission sets, each mission role's a superset of the one below it. */
#define PERMS_VIEWER PERM(SF_PERM_READ)
#define PERMS_STAFF (PERMS_VIEWER | PERM(SF_PERM_NATIONAL_WRITE) | PERM(SF_PERM_RESPONSE_WRITE))
#define PERMS_LEAD                                                                                 \
	(PERMS_STAFF | PERM(SF_PERM_CRISIS_MANAGE) | PERM(SF_PERM_CAMPAIGN_LAUNCH) |               \
	 PERM(SF_PERM_PLAN_PUBLISH) | PERM(SF_PERM_USER_MANAGE) | PERM(SF_PERM_AUDIT_READ))
#define PERMS_HQ (PERM(SF_PERM_READ) | PERM(SF_PERM_FEED_READ))
#define PERMS_ADMIN (PERMS_LEAD | PERMS_HQ | PERM(SF_PERM_ADMIN))

/* What each role may do, and where. */
static const struct role_row {
	enum sf_role role;
	const char *name;
	unsigned perms;
	bool anywhere; /* every mission and objects of no mission; else its own mission only */
	bool needs_mission;
} role_table[] = {
    {SF_ROLE_ADMIN, "admin", PERMS_ADMIN, true, false},
    /* HQ oversees the missions: it reads their work and changes nothing; the audit trail stays with admins and each mission's lead. */
    {SF_ROLE_HQ, "hq", PERMS_HQ, true, false},
    {SF_ROLE_MISSION_LEAD, "mission_lead", PERMS_LEAD, false, true},
    {SF_ROLE_MISSION_STAFF, "mission_staff", PERMS_STAFF, false, true},
    {SF_ROLE_VIEWER, "viewer", PERMS_VIEWER, false, true},
};

static const char *const perm_names[] = {
    [SF_PERM_READ] = "read",
    [SF_PERM_NATIONAL_WRITE] = "national_write",
    [SF_PERM_RESPONSE_WRITE] = "response_write",
    [SF_PERM_CRISIS_MANAGE] = "crisis_manage",
    [SF_PERM_CAMPAIGN_LAUNCH] = "campaign_launch",
    [SF_PERM_PLAN_PUBLISH] = "plan_publish",
    [SF_PERM_USER_MANAGE] = "user_manage",
    [SF_PERM_AUDIT_READ] = "audit_read",
    [SF_PERM_FEED_READ] = "feed_read",
    [SF_PERM_ADMIN] = "admin",
};

/* What each API key scope allows. */
static const struct scope_row {
	enum sf_scope scope;
	const char *name;
	unsigned perms;
} scope_table[] = {
    {SF_SCOPE_FEED_READ, "feed:read", PERM(SF_PERM_FEED_READ)},
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Finds a role's row, or NULL for no role and unknown values. */
static const struct role_row *
role_row(enum sf_role role)
{
	for (size_t i = 0; i < N_ELEMS(role_table); i++) {
		if (role_table[i].role == role)
			return &role_table[i];
	}
	return NULL;
}

/* Tells whether perm is one of the defined permissions. */
static bool
perm_valid(enum sf_perm perm)
{
	return perm > SF_PERM_NONE && perm <= SF_PERM_ADMIN;
}

/* Parses a role name. */
int
sf_role_parse(const char *name, enum sf_role *out)
{
	if (name == NULL || out == NULL)
		return SF_EINVAL;
	for (size_t i = 0; i < N_ELEMS(role_table); i++) {
		if (strcmp(role_table[i].name, name) == 0) {
			*out = role_table[i].role;
			return SF_OK;
		}
	}
	return SF_EINVAL;
}

/* Returns a role's name. */
const char *
sf_role_name(enum sf_role role)
{
	const struct role_row *row = role_row(role);

	return row == NULL ? NULL : row->name;
}

/* Returns a permission's name. */
const char *
sf_perm_name(enum sf_perm perm)
{
	return perm_valid(perm) ? perm_names[perm] : NULL;
}

/* Tells whether accounts with this role belong to a mission. */
bool
sf_role_needs_mission(enum sf_role role)
{
	const struct role_row *row = role_row(role);

	return row != NULL && row->needs_mission;
}

/* Decides one permission for one staff member and one object. */
bool
sf_role_allows(enum sf_role role, enum sf_perm perm, bool mission_scoped,
               long long actor_mission_id, long long target_mission_id)
{
	const struct role_row *row = role_row(role);

	if (row == NULL || !perm_valid(perm) || (row->perms & PERM(perm)) == 0)
		return false;
	if (row->anywhere)
		return true;
	/* Two accounts without a mission (id 0) do not share one. */
	return mission_scoped && actor_mission_id > 0 && target_mission_id == actor_mission_id;
}

/* Decides whether an actor may manage an account. */
bool
sf_role_can_manage(enum sf_role actor_role, long long actor_mission_id, enum sf_role target_role,
                   long long target_mission_id)
{
	if (role_row(target_role) == NULL)
		return false;
	switch (actor_role) {
	case SF_ROLE_ADMIN:
		return true;
	case SF_ROLE_MISSION_LEAD:
		/* A lead may not make or unmake leads, or it could hand out its own powers. */
		return (target_role == SF_ROLE_MISSION_STAFF || target_role == SF_ROLE_VIEWER) &&
		       actor_mission_id > 0 && target_mission_id == actor_mission_id;
	default:
		return false;
	}
}

/* Parses a space- or comma-separated scope list. */
int
sf_role_scope_parse(const char *list, unsigned *scopes, char *err, size_t errsz)
{
	const char *p = list;
	unsigned set = 0;
	size_t n, i;

	if (list == NULL || scopes == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "scopes: missing");
	for (;;) {
		p += strspn(p, " ,");
		if (*p == '\0')
			break;
		n = strcspn(p, " ,");
		for (i = 0; i < N_ELEMS(scope_table); i++) {
			if (strlen(scope_table[i].name) == n &&
			    strncmp(scope_table[i].name, p, n) == 0)
				break;
		}
		if (i == N_ELEMS(scope_table))
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "scopes: unknown scope \"%.*s\": known are feed:read",
			                    n > 64 ? 64 : (int)n, p);
		set |= scope_table[i].scope;
		p += n;
	}
	if (set == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "scopes: empty: name at least one");
	*scopes = set;
	return SF_OK;
}

/* Returns a scope's name. */
const char *
sf_role_scope_name(enum sf_scope scope)
{
	for (size_t i = 0; i < N_ELEMS(scope_table); i++) {
		if (scope_table[i].scope == scope)
			return scope_table[i].name;
	}
	return NULL;
}

/* Writes a scope set as a space-separated list. */
int
sf_role_scope_format(unsigned scopes, char *out, size_t outsz)
{
	unsigned known = 0;
	size_t len = 0, n;

	for (size_t i = 0; i < N_ELEMS(scope_table); i++)
		known |= scope_table[i].scope;
	if (out == NULL || (scopes & ~known) != 0)
		return SF_EINVAL;
	if (outsz == 0)
		return SF_ETOOLONG;
	out[0] = '\0';
	for (size_t i = 0; i < N_ELEMS(scope_table); i++) {
		if ((scopes & scope_table[i].scope) == 0)
			continue;
		n = strlen(scope_table[i].name);
		if (len + (len > 0) + n + 1 > outsz) {
			out[0] = '\0';
			return SF_ETOOLONG;
		}
		if (len > 0)
			out[len++] = ' ';
		memcpy(out + len, scope_table[i].name, n + 1);
		len += n;
	}
	return SF_OK;
}

/* Decides one permission for one API key. */
bool
sf_role_scope_allows(unsigned scopes, enum sf_perm perm)
{
	if (!perm_valid(perm))
		return false;
	for (size_t i = 0; i < N_ELEMS(scope_table); i++) {
		if ((scopes & scope_table[i].scope) != 0 &&
		    (scope_table[i].perms & PERM(perm)) != 0)
			return true;
	}
	return false;
}
