/*
 * safetyctl: administration of Safety from the shell. It reads the same
 * configuration file as safetyd and talks to PostgreSQL directly.
 */
#include "build_info.h"
#include "config.h"
#include "ctl.h"
#include "migrate.h"
#include "xmalloc.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char safetyctl_usage[] =
    "usage: safetyctl [-c FILE] COMMAND [ARGS]\n"
    "\n"
    "Administration of Safety from the shell.\n"
    "\n"
    "Commands:\n"
    "  version             print the version and the schema this build needs\n"
    "  migrate [--grant ROLE]\n"
    "                      apply pending schema migrations as the schema's owner\n"
    "                      ([database] migrate_url, else url), then give ROLE (or\n"
    "                      url's role, when migrate_url is set) its privileges\n"
    "  migrate status      list applied and pending migrations\n"
    "  user add|passwd|disable|enable|unlock|list\n"
    "                      staff accounts (safetyctl user for details)\n"
    "  apikey create|list|revoke\n"
    "                      API keys for HQ and machines\n"
    "  mission add|list    embassies and consulates\n"
    "  audit verify [--head ID:HASH]\n"
    "                      check the audit log's hash chain (and a newest row\n"
    "                      safetyd logged as audit_head)\n"
    "  import nationals|regions|shelters FILE --mission CODE\n"
    "                      load a CSV/JSON of nationals or GeoJSON of places\n"
    "  demo --country TR|UA|TH --people N\n"
    "                      make a synthetic mission to try the system with\n"
    "  simulate --crisis ID [--speed N]\n"
    "                      nationals answer a crisis's check-ins, for demos and drills\n"
    "  plan --households FILE --shelters FILE [--seats N] [--out FILE]\n"
    "                      evacuation plan from CSV files, no database needed\n"
    "  help                print this help\n"
    "\n"
    "Options:\n"
    "  -c FILE             configuration file (default: $SAFETY_CONFIG, else\n"
    "                      /etc/safety/safety.conf if it exists, else defaults)\n"
    "\n"
    "Environment: SAFETY_DATABASE_URL overrides [database] url,\n"
    "SAFETY_MIGRATE_URL [database] migrate_url.\n";

/* Connects with a blocking connection or explains why not. */
static PGconn *
safetyctl_connect_to(const char *conninfo, const char *what)
{
	PGconn *conn = PQconnectdb(conninfo);

	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr,
		        "safetyctl: cannot connect to the database: %s"
		        "hint: check %s\n",
		        PQerrorMessage(conn), what);
		PQfinish(conn);
		return NULL;
	}
	PQclear(PQexec(conn, "SET client_min_messages = warning"));
	return conn;
}

/* The everyday connection, as the role safetyd runs as. */
static PGconn *
safetyctl_connect(const struct config *cfg)
{
	return safetyctl_connect_to(cfg->database_url, "[database] url or SAFETY_DATABASE_URL");
}

/* Prints a migration step. */
static void
safetyctl_migrate_report(const char *line, void *arg)
{
	(void)arg;
	printf("%s\n", line);
}

/* The newest version this build knows: its own, or a newer file of its sql_dir. */
static int
safetyctl_newest(const struct migration_set *set)
{
	int v = SAFETY_SCHEMA_VERSION;

	if (set->count > 0 && set->items[set->count - 1].version > v)
		v = set->items[set->count - 1].version;
	return v;
}

/* A database a newer build migrated: this one cannot tell whether it is current. */
static int
safetyctl_newer(int current, const struct migration_set *set)
{
	fprintf(stderr,
	        "safetyctl: error: the database is at %d, newer than this build's %d: use a "
	        "newer safetyctl\n",
	        current, safetyctl_newest(set));
	return 1;
}

/*
 * Lists each migration as the database records it, and exits 0 only when
 * the schema is exactly what this build needs: a backup or a restore
 * checked with it is known to be current.
 */
static int
safetyctl_migrate_status(PGconn *conn, const struct migration_set *set)
{
	PGresult *r = PQexec(conn, "SELECT version FROM schema_migration ORDER BY version");
	char *cause = NULL;
	int current = 0, pending = 0;

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		/* No table (undefined_table): nothing was ever applied. */
		if (state == NULL || strcmp(state, "42P01") != 0) {
			/* Anything else (no privilege, no connection) is said as it is. */
			fprintf(stderr, "safetyctl: error: cannot read schema_migration: %s",
			        PQresultErrorMessage(r));
			if (state != NULL && strcmp(state, "42501") == 0)
				fputs("hint: the schema's owner grants a role what it needs: "
				      "safetyctl migrate with migrate_url, or --grant ROLE\n",
				      stderr);
			PQclear(r);
			return 1;
		}
		PQclear(r);
		r = NULL;
	}
	for (int i = 0; i < set->count; i++) {
		bool applied = false;

		for (int row = 0; r != NULL && row < PQntuples(r) && !applied; row++)
			applied = atoi(PQgetvalue(r, row, 0)) == set->items[i].version;
		pending += !applied;
		printf("%-8s %s\n", applied ? "applied" : "pending", set->items[i].name);
	}
	if (r != NULL && PQntuples(r) > 0)
		current = atoi(PQgetvalue(r, PQntuples(r) - 1, 0));
	PQclear(r);
	printf("schema version %d, this build needs %d\n", current, SAFETY_SCHEMA_VERSION);
	if (current > safetyctl_newest(set))
		return safetyctl_newer(current, set);
	if (current > 0 && !migrate_verify(conn, set, &cause)) {
		fprintf(stderr, "safetyctl: error: %s\n", cause);
		free(cause);
		return 1;
	}
	if (pending > 0 || current != SAFETY_SCHEMA_VERSION) {
		fprintf(stderr,
		        "safetyctl: the schema is not current: %d pending; run safetyctl migrate\n",
		        pending);
		return 1;
	}
	return 0;
}

/*
 * safetyctl migrate [status] [--grant ROLE]: as [database] migrate_url's
 * role (the schema owner) when set, else as url's. After migrating, the
 * role safetyd connects as gets its privileges on every object: ROLE, or
 * url's role when migrate_url is set.
 */
static int
safetyctl_migrate(const struct config *cfg, int argc, char **argv)
{
	struct migration_set set;
	char *cause = NULL, *grantee = NULL;
	const char *conninfo = cfg->database_url, *what = "[database] url or SAFETY_DATABASE_URL";
	PGconn *conn;
	int applied = 0, objects = 0, current, rc = 0;
	bool status_only = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "status") == 0 && i == 0) {
			status_only = true;
		} else if (strcmp(argv[i], "--grant") == 0 && i + 1 < argc &&
		           *argv[i + 1] != '\0') {
			free(grantee);
			grantee = xstrdup(argv[++i]);
		} else {
			fprintf(stderr, "safetyctl: migrate: unknown argument '%s'\n", argv[i]);
			free(grantee);
			return 2;
		}
	}
	if (*cfg->database_migrate_url != '\0') {
		conninfo = cfg->database_migrate_url;
		what = "[database] migrate_url or SAFETY_MIGRATE_URL";
		if (grantee == NULL && !status_only) {
			grantee = migrate_role_of(cfg->database_url, &cause);
			if (grantee == NULL) {
				fprintf(
				    stderr,
				    "safetyctl: error: %s\n"
				    "hint: name the role safetyd connects as with --grant ROLE\n",
				    cause);
				free(cause);
				return 1;
			}
		}
	}
	if (!migrate_load_dir(cfg->sql_dir, &set, &cause)) {
		fprintf(stderr, "safetyctl: %s\n", cause);
		free(cause);
		free(grantee);
		return 1;
	}
	conn = safetyctl_connect_to(conninfo, what);
	if (conn == NULL) {
		migrate_set_free(&set);
		free(grantee);
		return 1;
	}
	if (status_only) {
		rc = safetyctl_migrate_status(conn, &set);
	} else if ((current = migrate_current_version(conn, &cause)) < 0) {
		fprintf(stderr, "safetyctl: error: cannot read schema_migration: %s\n", cause);
		free(cause);
		rc = 1;
	} else if (current > safetyctl_newest(&set)) {
		rc = safetyctl_newer(current, &set);
	} else if (!migrate_apply(conn, &set, safetyctl_migrate_report, NULL, grantee, &applied,
	                          &objects, &cause)) {
		fprintf(stderr, "safetyctl: error: %s\n", cause);
		free(cause);
		rc = 1;
	} else {
		current = migrate_current_version(conn, &cause);
		if (applied == 0)
			printf("nothing to do: schema is current at version %d\n", current);
		else
			printf("applied %d migration%s: schema is now at version %d\n", applied,
			       applied == 1 ? "" : "s", current);
		if (grantee != NULL)
			printf("role %s may use the %d objects of the schema, and change none\n",
			       grantee, objects);
	}
	PQfinish(conn);
	migrate_set_free(&set);
	free(grantee);
	return rc;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	const char *config_path = getenv("SAFETY_CONFIG");
	char *cause = NULL;
	const char *cmd;
	int argi = 1, rc;

	while (argi < argc && argv[argi][0] == '-') {
		if (strcmp(argv[argi], "-c") == 0 && argi + 1 < argc) {
			config_path = argv[argi + 1];
			argi += 2;
		} else if (strcmp(argv[argi], "-h") == 0 || strcmp(argv[argi], "--help") == 0) {
			fputs(safetyctl_usage, stdout);
			return 0;
		} else if (strcmp(argv[argi], "-V") == 0 || strcmp(argv[argi], "--version") == 0) {
			printf("safetyctl %s (schema %d)\n", SAFETY_VERSION, SAFETY_SCHEMA_VERSION);
			return 0;
		} else {
			fprintf(stderr, "safetyctl: unknown option '%s'\n%s", argv[argi],
			        safetyctl_usage);
			return 2;
		}
	}
	if (argi >= argc) {
		fputs(safetyctl_usage, stderr);
		return 2;
	}
	cmd = argv[argi++];
	if (strcmp(cmd, "help") == 0) {
		fputs(safetyctl_usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "version") == 0) {
		printf("safetyctl %s (schema %d)\n", SAFETY_VERSION, SAFETY_SCHEMA_VERSION);
		return 0;
	}

	if (strcmp(cmd, "plan") == 0)
		return ctl_plan(argc - argi, argv + argi);

	config_defaults(&cfg);
	/* Present but unreadable is an error, not a reason to fall back to the defaults. */
	if (config_path == NULL && access("/etc/safety/safety.conf", F_OK) == 0)
		config_path = "/etc/safety/safety.conf";
	if ((config_path != NULL && !config_load(&cfg, config_path, &cause)) ||
	    !config_apply_env(&cfg, &cause) || !config_validate(&cfg, &cause)) {
		fprintf(stderr, "safetyctl: invalid configuration: %s\n", cause);
		free(cause);
		config_free(&cfg);
		return 2;
	}
	if (strcmp(cmd, "migrate") == 0) {
		rc = safetyctl_migrate(&cfg, argc - argi, argv + argi);
	} else if (strcmp(cmd, "user") == 0 || strcmp(cmd, "apikey") == 0 ||
	           strcmp(cmd, "mission") == 0 || strcmp(cmd, "audit") == 0 ||
	           strcmp(cmd, "import") == 0 || strcmp(cmd, "demo") == 0 ||
	           strcmp(cmd, "simulate") == 0) {
		PGconn *conn = safetyctl_connect(&cfg);
		if (conn == NULL) {
			rc = 1;
		} else {
			if (strcmp(cmd, "user") == 0)
				rc = ctl_user(&cfg, conn, argc - argi, argv + argi);
			else if (strcmp(cmd, "apikey") == 0)
				rc = ctl_apikey(&cfg, conn, argc - argi, argv + argi);
			else if (strcmp(cmd, "mission") == 0)
				rc = ctl_mission(&cfg, conn, argc - argi, argv + argi);
			else if (strcmp(cmd, "import") == 0)
				rc = ctl_import(&cfg, conn, argc - argi, argv + argi);
			else if (strcmp(cmd, "demo") == 0)
				rc = ctl_demo(&cfg, conn, argc - argi, argv + argi);
			else if (strcmp(cmd, "simulate") == 0)
				rc = ctl_simulate(&cfg, conn, argc - argi, argv + argi);
			else
				rc = ctl_audit(&cfg, conn, argc - argi, argv + argi);
			PQfinish(conn);
		}
	} else {
		fprintf(stderr, "safetyctl: unknown command '%s'\n%s", cmd, safetyctl_usage);
		rc = 2;
	}
	config_free(&cfg);
	return rc;
}
