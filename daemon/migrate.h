/*
 * Schema migrations: numbered SQL files (sql/NNNN_what.sql) applied in order,
 * each once, each in its own transaction, recorded with its SHA-256 in the
 * schema_migration table. An applied file that changed is an error, never a
 * silent skip. This runs from safetyctl and at safetyd start-up with
 * --migrate, before the event loop, so it uses libpq's blocking calls.
 */
#ifndef SAFETY_MIGRATE_H
#define SAFETY_MIGRATE_H

#include <libpq-fe.h>
#include <stdbool.h>

struct migration {
	int version;
	char *name; /* file name, e.g. 0001_foundation.sql */
	char *sql;
	char checksum[65]; /* SHA-256 of the file, hex */
};

struct migration_set {
	struct migration *items; /* sorted by version */
	int count;
};

/* Reads every NNNN_*.sql file of dir. Free with migrate_set_free. */
bool migrate_load_dir(const char *dir, struct migration_set *set, char **cause)
    __attribute__((warn_unused_result));

void migrate_set_free(struct migration_set *set);

/* Called with one line of progress ("applied 0002_x.sql in 12 ms"). */
typedef void (*migrate_report_cb)(const char *line, void *arg);

/*
 * Checks what the database records against the files: an applied file
 * changed or missing, or one numbered below the newest applied that was
 * never applied, is an error (*cause says which, for the caller to free).
 */
bool migrate_verify(PGconn *conn, const struct migration_set *set, char **cause);

/*
 * Applies what is pending. Checks first that every applied migration still
 * matches its file. Holds an advisory lock so two processes never migrate at
 * once. *applied counts the files applied. A role that does not own the
 * schema applies nothing: with nothing pending that is success, else an
 * error naming the fix. Then, when grantee is not NULL and still under the
 * lock, grants it as migrate_grant does (*objects counts the objects).
 */
bool migrate_apply(PGconn *conn, const struct migration_set *set, migrate_report_cb report,
                   void *arg, const char *grantee, int *applied, int *objects, char **cause)
    __attribute__((warn_unused_result));

/*
 * Calls safety_grant_app_role(role) (sql/0064): the role safetyd connects
 * as gets exactly the privileges the code needs on every object the
 * connected (owner) role has in the schema. Idempotent. *objects counts
 * the objects.
 */
bool migrate_grant(PGconn *conn, const char *role, int *objects, char **cause)
    __attribute__((warn_unused_result));

/* The role conninfo logs in as (its user=, else asked of the server); NULL on error. */
char *migrate_role_of(const char *conninfo, char **cause);

/* Reads the newest applied version (0 when none, -1 on error). */
int migrate_current_version(PGconn *conn, char **cause);

#endif
