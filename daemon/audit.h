/*
 * Recording changes in the audit log. A change and its audit row commit
 * together: handlers call the SQL function audit_record() inside the same
 * statement that makes the change, with the parameters audit_params fills.
 */
#ifndef SAFETY_AUDIT_H
#define SAFETY_AUDIT_H

struct http_ctx;

/* Number of parameters audit_params fills: actor, role, mission, address. */
#define AUDIT_NPARAMS 4

struct audit_who {
	char mission[24];
};

/*
 * Fills out[0..3] with who acts (borrowed from ctx, or from who's buffers):
 * actor name, actor role, the actor's mission (NULL if none), client address.
 * audit_record() records the mission of the object instead where it has one.
 * In SQL: audit_record($a, $b, $c::bigint, $d, 'action', 'type', id::text, summary).
 */
void audit_params(const struct http_ctx *ctx, struct audit_who *who, const char **out);

#endif
