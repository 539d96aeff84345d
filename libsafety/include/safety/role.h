/*
 * Who may do what: the roles of staff accounts, the permissions a request
 * needs, and the one function that decides. API keys carry scopes instead of
 * a role. Every authorization check in the daemon goes through here, so the
 * whole policy can be read, and tested, as one table.
 */
#ifndef SAFETY_ROLE_H
#define SAFETY_ROLE_H

#include <stdbool.h>
#include <stddef.h>

#include <safety/error.h>

/*
 * Staff roles. The zero value is no role at all, so a zeroed struct or an
 * unparsed field is allowed nothing.
 */
enum sf_role {
	SF_ROLE_NONE = 0,
	SF_ROLE_ADMIN, /* everything, every mission */
	SF_ROLE_HQ,    /* reads every mission and the HQ feed; edits nothing */
	SF_ROLE_MISSION_LEAD,  /* everything inside its own mission */
	SF_ROLE_MISSION_STAFF, /* inside its own mission: read, edit nationals, enter replies */
	SF_ROLE_VIEWER,        /* inside its own mission: read */
};

/* What a request needs. The zero value is never allowed. */
enum sf_perm {
	SF_PERM_NONE = 0,
	SF_PERM_READ,            /* see nationals, crises, replies, plans, shelters */
	SF_PERM_NATIONAL_WRITE,  /* register, import, edit nationals and contacts */
	SF_PERM_RESPONSE_WRITE,  /* enter a reply taken by phone, tick a manifest */
	SF_PERM_CRISIS_MANAGE,   /* declare, change and close crises */
	SF_PERM_CAMPAIGN_LAUNCH, /* send check-ins */
	SF_PERM_PLAN_PUBLISH,    /* publish an evacuation plan and tell its people */
	SF_PERM_USER_MANAGE,     /* create and change staff accounts (see sf_role_can_manage) */
	SF_PERM_AUDIT_READ,      /* read the audit log */
	SF_PERM_FEED_READ,       /* read the HQ feed */
	SF_PERM_ADMIN,           /* missions, API keys, configuration */
};

/* Scopes an API key may carry, as bits of an unsigned set. */
enum sf_scope {
	SF_SCOPE_FEED_READ = 1u << 0, /* "feed:read": the HQ feed, every mission */
};

/* Longest scope list sf_role_scope_format writes, with its NUL. */
#define SF_ROLE_SCOPES_MAX 64

/*
 * Parses a role name ("admin", "hq", "mission_lead", "mission_staff",
 * "viewer"; exact, lower case) into *out. Returns 0 or SF_EINVAL.
 */
int sf_role_parse(const char *name, enum sf_role *out);

/* Returns the static name of a role, or NULL for SF_ROLE_NONE and unknown values. */
const char *sf_role_name(enum sf_role role);

/* Returns the static name of a permission ("read", "crisis_manage"...), or NULL. */
const char *sf_perm_name(enum sf_perm perm);

/*
 * Tells whether a role works inside one mission (mission_lead, mission_staff,
 * viewer) and so an account with it must have a mission; admin and hq must
 * have none.
 */
bool sf_role_needs_mission(enum sf_role role);

/*
 * Decides whether a staff member may do perm. mission_scoped says the object
 * belongs to a mission, target_mission_id; if false the object belongs to no
 * mission (the mission list, the feed, global settings) and target_mission_id
 * is ignored. Admin may do everything. HQ may read and read the feed,
 * anywhere; the audit log is for admins and each mission's lead. The mission roles act only on objects of their own
 * mission (actor_mission_id > 0 and equal to target_mission_id), never on
 * objects of no mission. Unknown roles and permissions are refused.
 */
bool sf_role_allows(enum sf_role role, enum sf_perm perm, bool mission_scoped,
                    long long actor_mission_id, long long target_mission_id);

/*
 * Decides whether an actor may create, change or disable an account with
 * target_role in target_mission_id. Admin manages every account; a mission
 * lead manages only mission_staff and viewers of its own mission, never
 * admins, HQ or other leads. When a role or mission changes, call it for the
 * account as it is and as it will be: both must be allowed. This says nothing
 * about whether the account's shape is valid (see sf_role_needs_mission).
 */
bool sf_role_can_manage(enum sf_role actor_role, long long actor_mission_id,
                        enum sf_role target_role, long long target_mission_id);

/*
 * Parses a list of API key scopes separated by spaces or commas ("feed:read")
 * into a bit set. Returns 0; SF_EINVAL for an unknown scope or an empty list,
 * naming it in err (if not NULL).
 */
int sf_role_scope_parse(const char *list, unsigned *scopes, char *err, size_t errsz);

/* Returns the static name of one scope bit, or NULL. */
const char *sf_role_scope_name(enum sf_scope scope);

/*
 * Writes a scope set as its names separated by single spaces, in bit order,
 * into out. Returns 0; SF_EINVAL for unknown bits, SF_ETOOLONG if out is too
 * small (SF_ROLE_SCOPES_MAX always suffices).
 */
int sf_role_scope_format(unsigned scopes, char *out, size_t outsz);

/*
 * Decides whether an API key with these scopes may do perm. Keys are not
 * bound to a mission: feed:read sees every mission's figures.
 */
bool sf_role_scope_allows(unsigned scopes, enum sf_perm perm);

#endif
