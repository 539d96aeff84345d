/*
 * Applies schema migrations with blocking libpq calls. Verification comes
 * before any change: a database whose history does not match the files is
 * left exactly as it was.
 */
#include "migrate.h"

#include "xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define MIGRATE_LOCK_KEY "7311520010"

static const char migrate_table_sql[] = "CREATE TABLE IF NOT EXISTS schema_migration ("
                                        " version integer PRIMARY KEY,"
                                        " name text NOT NULL,"
                                        " checksum text NOT NULL,"
                                        " applied_at timestamptz NOT NULL DEFAULT now(),"
                                        " duration_ms integer NOT NULL DEFAULT 0)";

/* Reads a whole file into memory. */
static char *
migrate_read_file(const char *path, size_t *len, char **cause)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	struct stat st;

	if (f == NULL) {
		xasprintf(cause, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0 || st.st_size > 64 * 1024 * 1024) {
		xasprintf(cause, "%s: not a readable file of reasonable size", path);
		fclose(f);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	buf[*len] = '\0';
	fclose(f);
	if (strlen(buf) != *len) {
		xasprintf(cause, "%s: contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* Computes the hex SHA-256 of buf. */
static void
migrate_sha256(const char *buf, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* Orders migrations by version. */
static int
migrate_compare(const void *a, const void *b)
{
	const struct migration *x = a, *y = b;

	return (x->version > y->version) - (x->version < y->version);
}

/* Loads the migration files of dir. */
bool
migrate_load_dir(const char *dir, struct migration_set *set, char **cause)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int cap = 0;

	set->items = NULL;
	set->count = 0;
	if (d == NULL) {
		xasprintf(cause, "cannot open migrations directory %s: %s", dir, strerror(errno));
		return false;
	}
	while ((e = readdir(d)) != NULL) {
		const char *n = e->d_name;
		size_t len = strlen(n);
		struct migration *m;
		char *path;
		size_t filelen = 0;

		if (len < 10 || strcmp(n + len - 4, ".sql") != 0)
			continue;
		if (!(n[0] >= '0' && n[0] <= '9' && n[1] >= '0' && n[1] <= '9' && n[2] >= '0' &&
		      n[2] <= '9' && n[3] >= '0' && n[3] <= '9' && n[4] == '_'))
			continue;
		if (set->count == cap) {
			cap = cap ? cap * 2 : 16;
			set->items = xrealloc(set->items, (size_t)cap * sizeof *set->items);
		}
		m = &set->items[set->count];
		memset(m, 0, sizeof *m);
		m->version = atoi(n);
		m->name = xstrdup(n);
		xasprintf(&path, "%s/%s", dir, n);
		m->sql = migrate_read_file(path, &filelen, cause);
		free(path);
		set->count++;
		if (m->sql == NULL) {
			closedir(d);
			migrate_set_free(set);
			return false;
		}
		migrate_sha256(m->sql, filelen, m->checksum);
	}
	closedir(d);
	qsort(set->items, (size_t)set->count, sizeof *set->items, migrate_compare);
	for (int i = 0; i < set->count; i++) {
		if (set->items[i].version == 0) {
			xasprintf(cause, "%s: version 0000 is reserved", set->items[i].name);
			migrate_set_free(set);
			return false;
		}
		if (i > 0 && set->items[i].version == set->items[i - 1].version) {
			xasprintf(cause, "two migrations share version %04d: %s and %s",
			          set->items[i].version, set->items[i - 1].name,
			          set->items[i].name);
			migrate_set_free(set);
			return false;
		}
	}
	return true;
}

/* Frees a migration set. */
void
migrate_set_free(struct migration_set *set)
{
	for (int i = 0; i < set->count; i++) {
		free(set->items[i].name);
		free(set->items[i].sql);
	}
	free(set->items);
	set->items = NULL;
	set->count = 0;
}

/* Runs a command that returns no rows; sets *cause on failure. */
static bool
migrate_exec(PGconn *conn, const char *sql, char **cause)
{
	PGresult *r = PQexec(conn, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;

	if (!ok)
		xasprintf(cause, "%s", PQresultErrorMessage(r));
	PQclear(r);
	return ok;
}

/* Removes the trailing newline libpq leaves on messages. */
static void
migrate_chomp(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
}

/* Reads the newest applied version. */
int
migrate_current_version(PGconn *conn, char **cause)
{
	PGresult *r = PQexec(conn, "SELECT coalesce(max(version), 0) FROM schema_migration");
	int v;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (state != NULL && strcmp(state, "42P01") == 0) {
			PQclear(r);
			return 0;
		}
		xasprintf(cause, "%s", PQresultErrorMessage(r));
		migrate_chomp(*cause);
		PQclear(r);
		return -1;
	}
	v = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

/* Checks the recorded history against the files; true when consistent. */
bool
migrate_verify(PGconn *conn, const struct migration_set *set, char **cause)
{
	PGresult *r =
	    PQexec(conn, "SELECT version, name, checksum FROM schema_migration ORDER BY version");

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		xasprintf(cause, "cannot read schema_migration: %s", PQresultErrorMessage(r));
		migrate_chomp(*cause);
		PQclear(r);
		return false;
	}
	for (int row = 0; row < PQntuples(r); row++) {
		int version = atoi(PQgetvalue(r, row, 0));
		const char *name = PQgetvalue(r, row, 1);
		const char *sum = PQgetvalue(r, row, 2);
		const struct migration *m = NULL;

		for (int i = 0; i < set->count; i++)
			if (set->items[i].version == version)
				m = &set->items[i];
		if (m == NULL) {
			/* A newer build migrated this database; an older one must not touch it. */
			if (set->count == 0 || version > set->items[set->count - 1].version)
				continue;
			xasprintf(cause,
			          "migration %s is recorded as applied but its file is missing\n"
			          "hint: restore the file; applied migrations are never removed",
			          name);
			PQclear(r);
			return false;
		}
		if (strcmp(m->checksum, sum) != 0) {
			xasprintf(
			    cause,
			    "migration %s was changed after it was applied\n"
			    "detail: checksum in the database %.12s…, of the file %.12s…\n"
			    "hint: never edit an applied migration; restore it and add a new one",
			    m->name, sum, m->checksum);
			PQclear(r);
			return false;
		}
	}
	/*
	 * Only migrations numbered past the newest applied one are applied, so
	 * one numbered below it that was never applied would be skipped for
	 * ever without a word: refuse instead.
	 */
	if (PQntuples(r) > 0) {
		int newest = atoi(PQgetvalue(r, PQntuples(r) - 1, 0));

		for (int i = 0; i < set->count && set->items[i].version < newest; i++) {
			bool recorded = false;

			for (int row = 0; row < PQntuples(r) && !recorded; row++)
				recorded = atoi(PQgetvalue(r, row, 0)) == set->items[i].version;
			if (!recorded) {
				xasprintf(
				    cause,
				    "migration %s was never applied, but %04d, numbered after "
				    "it, was\n"
				    "hint: renumber it after the newest applied migration",
				    set->items[i].name, newest);
				PQclear(r);
				return false;
			}
		}
	}
	PQclear(r);
	return true;
}

/*
 * 1 when the connected role may change the schema: it owns (or acts as the
 * owner of) schema_migration, or, before the first migration, may create
 * in schema public. 0 when not, -1 on error. *who gets the role's name.
 */
static int
migrate_may_change_schema(PGconn *conn, char (*who)[128], char **cause)
{
	PGresult *r = PQexec(conn, "SELECT current_user, CASE WHEN to_regclass('schema_migration') "
	                           "IS NULL THEN has_schema_privilege('public', 'CREATE') "
	                           "ELSE pg_has_role((SELECT relowner FROM pg_class WHERE oid = "
	                           "to_regclass('schema_migration')), 'USAGE') END");
	int may;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		xasprintf(cause, "%s", PQresultErrorMessage(r));
		PQclear(r);
		return -1;
	}
	snprintf(*who, sizeof *who, "%s", PQgetvalue(r, 0, 0));
	may = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
	PQclear(r);
	return may;
}

/* Applies pending migrations in order, then grants, all under the advisory lock. */
bool
migrate_apply(PGconn *conn, const struct migration_set *set, migrate_report_cb report, void *arg,
              const char *grantee, int *applied, int *objects, char **cause)
{
	int current, may;
	char line[512], who[128] = "?";
	bool ok = false;

	*applied = 0;
	*objects = 0;
	if (!migrate_exec(conn, "SET client_min_messages = warning", cause))
		return false;
	if (!migrate_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", cause))
		return false;
	may = migrate_may_change_schema(conn, &who, cause);
	if (may < 0)
		goto out;
	if (may && !migrate_exec(conn, migrate_table_sql, cause))
		goto out;
	current = migrate_current_version(conn, cause);
	if (current < 0)
		goto out;
	if (current > 0 && !migrate_verify(conn, set, cause))
		goto out;
	if (!may) {
		int pending = 0;

		for (int i = 0; i < set->count; i++)
			pending += set->items[i].version > current;
		if (pending > 0) {
			/* The role safetyd runs as must not change the schema. */
			xasprintf(cause,
			          "%d migration%s pending, but role %s does not own the schema and "
			          "may not change it\n"
			          "hint: migrate as the owner: set [database] migrate_url (or "
			          "SAFETY_MIGRATE_URL) to the owner's connection string, or run "
			          "'safetyctl migrate' with it",
			          pending, pending == 1 ? " is" : "s are", who);
			goto out;
		}
		goto grant;
	}
	for (int i = 0; i < set->count; i++) {
		const struct migration *m = &set->items[i];
		struct timespec t0, t1;
		char version[16], ms[16];
		const char *params[4];
		PGresult *r;
		long elapsed;

		if (m->version <= current)
			continue;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (!migrate_exec(conn, "BEGIN", cause))
			goto out;
		r = PQexec(conn, m->sql);
		if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
			xasprintf(cause, "migration %s failed: %s", m->name,
			          PQresultErrorMessage(r));
			migrate_chomp(*cause);
			PQclear(r);
			PQclear(PQexec(conn, "ROLLBACK"));
			goto out;
		}
		PQclear(r);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		elapsed = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		snprintf(version, sizeof version, "%d", m->version);
		snprintf(ms, sizeof ms, "%ld", elapsed);
		params[0] = version;
		params[1] = m->name;
		params[2] = m->checksum;
		params[3] = ms;
		r = PQexecParams(
		    conn,
		    "INSERT INTO schema_migration (version, name, checksum, duration_ms) "
		    "VALUES ($1, $2, $3, $4)",
		    4, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			xasprintf(cause, "recording %s failed: %s", m->name,
			          PQresultErrorMessage(r));
			migrate_chomp(*cause);
			PQclear(r);
			PQclear(PQexec(conn, "ROLLBACK"));
			goto out;
		}
		PQclear(r);
		if (!migrate_exec(conn, "COMMIT", cause))
			goto out;
		(*applied)++;
		if (report != NULL) {
			snprintf(line, sizeof line, "applied %s in %ld ms", m->name, elapsed);
			report(line, arg);
		}
	}
grant:
	/*
	 * Still under the lock: two processes granting at once would update the
	 * same catalog rows, and one would fail ("tuple concurrently updated").
	 */
	if (grantee != NULL && !migrate_grant(conn, grantee, objects, cause))
		goto out;
	ok = true;
out:
	PQclear(PQexec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
	if (!ok && *cause != NULL)
		migrate_chomp(*cause);
	return ok;
}

/* Gives the application role its privileges on every object of the schema. */
bool
migrate_grant(PGconn *conn, const char *role, int *objects, char **cause)
{
	const char *params[1] = {role};
	PGresult *r =
	    PQexecParams(conn, "SELECT safety_grant_app_role($1)", 1, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *hint = PQresultErrorField(r, PG_DIAG_MESSAGE_HINT);

		xasprintf(cause, "granting role %s its privileges failed: %s%s%s", role,
		          PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) != NULL
		              ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)
		              : PQresultErrorMessage(r),
		          hint != NULL ? "\nhint: " : "", hint != NULL ? hint : "");
		migrate_chomp(*cause);
		PQclear(r);
		return false;
	}
	*objects = atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return true;
}

/* The role a connection string logs in as: its user, else asked of the server. */
char *
migrate_role_of(const char *conninfo, char **cause)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	PGconn *conn;
	PGresult *r;
	char *role = NULL;

	for (PQconninfoOption *o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "user") == 0 && o->val != NULL && *o->val != '\0')
			role = xstrdup(o->val);
	PQconninfoFree(opts);
	if (role != NULL)
		return role;
	conn = PQconnectdb(conninfo);
	if (PQstatus(conn) != CONNECTION_OK) {
		xasprintf(cause, "cannot connect with [database] url to learn its role: %s",
		          PQerrorMessage(conn));
		migrate_chomp(*cause);
		PQfinish(conn);
		return NULL;
	}
	r = PQexec(conn, "SELECT current_user");
	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		role = xstrdup(PQgetvalue(r, 0, 0));
	else
		xasprintf(cause, "%s", PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(conn);
	return role;
}
