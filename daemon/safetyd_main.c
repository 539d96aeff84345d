/*
 * safetyd: the Safety daemon. Reads the configuration, optionally applies
 * pending migrations, then serves HTTP on one libevent loop until SIGTERM.
 */
#include "build_info.h"
#include "config.h"
#include "daemon.h"
#include "log.h"
#include "migrate.h"
#include "xmalloc.h"

#include <curl/curl.h>
#include <libxml/parser.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char safetyd_usage[] =
    "usage: safetyd -c FILE [--check-config] [--migrate]\n"
    "\n"
    "Runs the Safety daemon: the web dashboard, the reply page, the SMS hooks,\n"
    "the HQ feed and the background workers, on one event loop.\n"
    "\n"
    "  -c, --config FILE   configuration file (see deploy/safety.conf.example)\n"
    "      --check-config  validate the configuration, print it is fine, exit\n"
    "      --migrate       apply pending schema migrations before serving, as\n"
    "                      [database] migrate_url's role (the schema owner)\n"
    "  -V, --version       print the version\n"
    "  -h, --help          print this help\n"
    "\n"
    "Environment: SAFETY_DATABASE_URL overrides [database] url,\n"
    "SAFETY_MIGRATE_URL [database] migrate_url,\n"
    "SAFETY_LISTEN overrides [server] listen.\n";

/* Prints a migration step. */
static void
safetyd_migrate_report(const char *line, void *arg)
{
	(void)arg;
	log_info("migration", "detail", line);
}

/*
 * Applies pending migrations with a blocking connection, before the loop:
 * as [database] migrate_url's role (the schema owner) when set, then gives
 * url's role its privileges; else as url's role, which applies nothing
 * when it does not own the schema.
 */
static bool
safetyd_migrate(const struct config *cfg)
{
	struct migration_set set;
	char *cause = NULL, *grantee = NULL;
	bool owner = *cfg->database_migrate_url != '\0';
	PGconn *conn;
	int applied = 0, objects = 0;
	bool ok;

	if (!migrate_load_dir(cfg->sql_dir, &set, &cause)) {
		log_error("migrate_failed", "error", cause);
		free(cause);
		return false;
	}
	if (owner) {
		grantee = migrate_role_of(cfg->database_url, &cause);
		if (grantee == NULL) {
			log_error("migrate_failed", "error", cause);
			free(cause);
			migrate_set_free(&set);
			return false;
		}
	}
	conn = PQconnectdb(owner ? cfg->database_migrate_url : cfg->database_url);
	if (PQstatus(conn) != CONNECTION_OK) {
		log_error("migrate_failed", "error", PQerrorMessage(conn), "hint",
		          owner ? "check [database] migrate_url and that PostgreSQL is running"
		                : "check [database] url and that PostgreSQL is running");
		PQfinish(conn);
		migrate_set_free(&set);
		free(grantee);
		return false;
	}
	ok = migrate_apply(conn, &set, safetyd_migrate_report, NULL, grantee, &applied, &objects,
	                   &cause);
	if (!ok) {
		log_error("migrate_failed", "error", cause);
		free(cause);
	} else {
		char n[16], o[16];
		snprintf(n, sizeof n, "%d", applied);
		snprintf(o, sizeof o, "%d", objects);
		if (grantee != NULL)
			log_info("migrations_done", "applied", n, "granted_to", grantee, "objects",
			         o);
		else
			log_info("migrations_done", "applied", n);
	}
	PQfinish(conn);
	migrate_set_free(&set);
	free(grantee);
	return ok;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'}, {"check-config", no_argument, NULL, 'C'},
	    {"migrate", no_argument, NULL, 'M'},      {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	struct daemon d;
	const char *config_path = NULL;
	bool check_only = false, migrate = false;
	char *cause = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:Vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'C':
			check_only = true;
			break;
		case 'M':
			migrate = true;
			break;
		case 'V':
			printf("safetyd %s (schema %d)\n", SAFETY_VERSION, SAFETY_SCHEMA_VERSION);
			return 0;
		case 'h':
			fputs(safetyd_usage, stdout);
			return 0;
		default:
			fputs(safetyd_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "safetyd: unexpected argument '%s'\n%s", argv[optind],
		        safetyd_usage);
		return 2;
	}
	if (config_path == NULL) {
		fprintf(stderr, "safetyd: no configuration file given\nhint: safetyd -c "
		                "/etc/safety/safety.conf\n");
		return 2;
	}

	memset(&d, 0, sizeof d);
	d.config_path = config_path;
	config_defaults(&d.cfg);
	if (!config_load(&d.cfg, config_path, &cause) || !config_apply_env(&d.cfg, &cause) ||
	    !config_validate(&d.cfg, &cause)) {
		fprintf(stderr, "safetyd: invalid configuration: %s\n", cause);
		free(cause);
		config_free(&d.cfg);
		return 2;
	}
	if (check_only) {
		printf("safetyd: configuration %s is valid\n", config_path);
		config_free(&d.cfg);
		return 0;
	}
	log_configure((enum log_level)log_level_parse(d.cfg.log_level),
	              strcmp(d.cfg.log_format, "json") == 0);
	if (migrate && !safetyd_migrate(&d.cfg)) {
		config_free(&d.cfg);
		return 1;
	}
	/* Once, before any thread exists. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	xmlInitParser();
	if (!daemon_init(&d)) {
		daemon_free(&d);
		return 1;
	}
	rc = daemon_run(&d);
	daemon_free(&d);
	curl_global_cleanup();
	return rc;
}
