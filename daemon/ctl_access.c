/*
 * safetyctl's commands for accounts, API keys, missions and the audit log.
 * They run as the operator at the shell, so each change is audited with the
 * actor "safetyctl:<login>" and the role "operator".
 */
#include "ctl.h"

#include "xmalloc.h"

#include <errno.h>
#include <getopt.h>
#include <pwd.h>
#include <safety/audit.h>
#include <safety/password.h>
#include <safety/role.h>
#include <safety/secret.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

/* The operator's name for the audit log. */
static const char *
ctl_actor(void)
{
	static char actor[96];
	struct passwd *pw = getpwuid(getuid());

	snprintf(actor, sizeof actor, "safetyctl:%s", pw != NULL ? pw->pw_name : "unknown");
	return actor;
}

/* Runs a parameterised statement; prints the error and returns NULL on failure. */
static PGresult *
ctl_exec(PGconn *conn, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		if (state != NULL && strcmp(state, "23505") == 0)
			fprintf(stderr, "safetyctl: error: it already exists\n");
		else
			fprintf(stderr, "safetyctl: error: %s\n",
			        msg != NULL ? msg : PQerrorMessage(conn));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* Reads a password from a file (first line), a prompt, or standard input. */
static char *
ctl_read_password(const char *file)
{
	char buf[1100];
	FILE *f = stdin;
	struct termios old, quiet;
	bool tty = false;
	size_t n;

	if (file != NULL) {
		struct stat st;

		f = fopen(file, "r");
		if (f == NULL) {
			fprintf(stderr, "safetyctl: cannot open %s: %s\n", file, strerror(errno));
			return NULL;
		}
		/* A directory opens, then reads as empty: "too short" would mislead. */
		if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
			fprintf(stderr, "safetyctl: %s: is a directory, not a password file\n", file);
			fclose(f);
			return NULL;
		}
	} else if (isatty(STDIN_FILENO)) {
		tty = true;
		fprintf(stderr, "password: ");
		tcgetattr(STDIN_FILENO, &old);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
	}
	if (fgets(buf, sizeof buf, f) == NULL) {
		buf[0] = '\0';
		if (ferror(f) && f != stdin) {
			fprintf(stderr, "safetyctl: cannot read %s: %s\n", file, strerror(errno));
			fclose(f);
			return NULL;
		}
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &old);
		fprintf(stderr, "\n");
	}
	if (f != stdin)
		fclose(f);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	char *out = xstrdup(buf);
	memset(buf, 0, sizeof buf);
	return out;
}

/* Hashes a password after the policy check; false with a message if refused. */
static bool
ctl_hash_password(const struct config *cfg, const char *password, char *out, size_t outsz)
{
	char err[160];
	struct sf_password_params params = sf_password_params_default;

	if (sf_password_check_policy(password, err, sizeof err) != 0) {
		fprintf(stderr, "safetyctl: password refused: %s\n", err);
		return false;
	}
	params.ln = (unsigned)cfg->password_hash_cost;
	if (sf_password_hash(password, &params, out, outsz) != 0) {
		fprintf(stderr, "safetyctl: the password could not be hashed\n");
		return false;
	}
	return true;
}

static const char user_usage[] =
    "usage: safetyctl user add NAME --role ROLE [--mission CODE] [--display-name TEXT]\n"
    "                          [--password-file FILE] [--if-missing]\n"
    "       safetyctl user passwd NAME [--password-file FILE]\n"
    "       safetyctl user disable NAME | enable NAME | unlock NAME\n"
    "       safetyctl user list\n"
    "Without --password-file the password is read from the terminal or standard input.\n";

/* safetyctl user add */
static int
ctl_user_add(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	static const struct option opts[] = {
	    {"role", required_argument, NULL, 'r'},
	    {"mission", required_argument, NULL, 'm'},
	    {"display-name", required_argument, NULL, 'd'},
	    {"password-file", required_argument, NULL, 'p'},
	    {"if-missing", no_argument, NULL, 'i'},
	    {NULL, 0, NULL, 0},
	};
	const char *role = NULL, *mission = NULL, *display = "", *pwfile = NULL;
	bool if_missing = false;
	enum sf_role r;
	char hash[SF_PASSWORD_ENCODED_MAX];
	const char *params[8];
	char *password;
	PGresult *res;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			role = optarg;
			break;
		case 'm':
			mission = optarg;
			break;
		case 'd':
			display = optarg;
			break;
		case 'p':
			pwfile = optarg;
			break;
		case 'i':
			if_missing = true;
			break;
		default:
			fputs(user_usage, stderr);
			return 2;
		}
	}
	if (optind != argc - 1 || role == NULL) {
		fputs(user_usage, stderr);
		return 2;
	}
	if (sf_role_parse(role, &r) != 0) {
		fprintf(stderr,
		        "safetyctl: unknown role '%s': admin, hq, mission_lead, "
		        "mission_staff or viewer\n",
		        role);
		return 2;
	}
	if (sf_role_needs_mission(r) != (mission != NULL)) {
		fprintf(stderr, "safetyctl: %s\n",
		        sf_role_needs_mission(r)
		            ? "this role works inside one mission: give --mission CODE"
		            : "admin and hq accounts belong to no mission: drop --mission");
		return 2;
	}
	params[0] = argv[optind];
	if (if_missing) {
		res = ctl_exec(conn, "SELECT 1 FROM staff_user WHERE username = $1", 1, params);
		if (res == NULL)
			return 1;
		if (PQntuples(res) == 1) {
			PQclear(res);
			printf("user %s exists; left unchanged\n", argv[optind]);
			return 0;
		}
		PQclear(res);
	}
	password = ctl_read_password(pwfile);
	if (password == NULL)
		return 1;
	if (!ctl_hash_password(cfg, password, hash, sizeof hash)) {
		memset(password, 0, strlen(password));
		free(password);
		return 1;
	}
	memset(password, 0, strlen(password));
	free(password);
	params[0] = argv[optind];
	params[1] = display;
	params[2] = role;
	params[3] = mission;
	params[4] = hash;
	params[5] = ctl_actor();
	res =
	    ctl_exec(conn,
	             "WITH m AS (SELECT id FROM mission WHERE code = $4), "
	             "u AS (INSERT INTO staff_user (username, display_name, role, mission_id, "
	             " password_hash) SELECT $1, $2, $3::staff_role, (SELECT id FROM m), $5 "
	             " WHERE $4::text IS NULL OR EXISTS (SELECT 1 FROM m) RETURNING *) "
	             "SELECT u.id, audit_record($6, 'operator', u.mission_id, '', 'user.create', "
	             " 'staff_user', u.id::text, json_build_object('username', u.username, 'role', "
	             " u.role, 'mission_id', u.mission_id)::text) FROM u",
	             6, params);
	if (res == NULL)
		return 1;
	if (PQntuples(res) != 1) {
		fprintf(stderr, "safetyctl: no mission with code '%s'\n", mission);
		PQclear(res);
		return 1;
	}
	printf("created user %s (id %s, role %s)\n", argv[optind], PQgetvalue(res, 0, 0), role);
	PQclear(res);
	return 0;
}

/* Changes one account by name with the given SET clause and audit action. */
static int
ctl_user_set(PGconn *conn, const char *name, const char *set, const char *action, const char *hash)
{
	char sql[1024];
	const char *params[3];
	PGresult *res;

	snprintf(
	    sql, sizeof sql,
	    "WITH u AS (UPDATE staff_user SET %s WHERE username = $1 RETURNING *), "
	    "e AS (UPDATE staff_session SET revoked_at = now() WHERE user_id IN "
	    " (SELECT id FROM u) AND revoked_at IS NULL AND '%s' IN ('user.passwd', "
	    " 'user.disable') RETURNING 1), "
	    /* An unlock or a new password lets back in the addresses locked out. */
	    "f AS (DELETE FROM login_lock WHERE user_id IN (SELECT id FROM u) "
	    " AND '%s' IN ('user.passwd', 'user.unlock') RETURNING 1) "
	    "SELECT u.id, audit_record($2, 'operator', u.mission_id, '', '%s', 'staff_user', "
	    " u.id::text, json_build_object('sessions_ended', (SELECT count(*) FROM e))::text) "
	    "FROM u",
	    set, action, action, action);
	params[0] = name;
	params[1] = ctl_actor();
	params[2] = hash;
	res = ctl_exec(conn, sql, hash != NULL ? 3 : 2, params);
	if (res == NULL)
		return 1;
	if (PQntuples(res) != 1) {
		fprintf(stderr, "safetyctl: no user named '%s'\n", name);
		PQclear(res);
		return 1;
	}
	PQclear(res);
	printf("%s: %s\n", name, action);
	return 0;
}

/* safetyctl user list */
static int
ctl_user_list(PGconn *conn)
{
	PGresult *res =
	    ctl_exec(conn,
	             "SELECT u.id, u.username, u.role, coalesce(m.code, '-'), "
	             " CASE WHEN u.disabled THEN 'disabled' WHEN u.locked_until > now() "
	             " THEN 'locked until ' || to_char(u.locked_until AT TIME ZONE 'UTC', "
	             " 'YYYY-MM-DD HH24:MI') || ' UTC' "
	             " WHEN l.n > 0 THEN 'locked until ' || to_char(l.until AT TIME ZONE 'UTC', "
	             " 'YYYY-MM-DD HH24:MI') || ' UTC from ' || l.n || ' address(es)' "
	             " ELSE 'active' END, u.failed_logins "
	             "FROM staff_user u LEFT JOIN mission m ON m.id = u.mission_id "
	             "LEFT JOIN LATERAL (SELECT count(*) AS n, max(locked_until) AS until "
	             " FROM login_lock WHERE user_id = u.id AND locked_until > now()) l ON true "
	             "ORDER BY u.username",
	             0, NULL);

	if (res == NULL)
		return 1;
	printf("%-6s %-24s %-14s %-12s %-8s %s\n", "ID", "USERNAME", "ROLE", "MISSION", "FAILED",
	       "STATE");
	for (int i = 0; i < PQntuples(res); i++)
		printf("%-6s %-24s %-14s %-12s %-8s %s\n", PQgetvalue(res, i, 0),
		       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
		       PQgetvalue(res, i, 5), PQgetvalue(res, i, 4));
	PQclear(res);
	return 0;
}

/* safetyctl user ... */
int
ctl_user(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";

	if (strcmp(sub, "add") == 0)
		return ctl_user_add(cfg, conn, argc, argv);
	if (strcmp(sub, "list") == 0 && argc == 1)
		return ctl_user_list(conn);
	if (argc < 2) {
		fputs(user_usage, stderr);
		return 2;
	}
	if (strcmp(sub, "disable") == 0 && argc == 2)
		return ctl_user_set(conn, argv[1], "disabled = true", "user.disable", NULL);
	if (strcmp(sub, "enable") == 0 && argc == 2)
		return ctl_user_set(conn, argv[1], "disabled = false", "user.enable", NULL);
	if (strcmp(sub, "unlock") == 0 && argc == 2)
		return ctl_user_set(conn, argv[1], "failed_logins = 0, locked_until = NULL",
		                    "user.unlock", NULL);
	if (strcmp(sub, "passwd") == 0) {
		const char *pwfile = NULL;
		char hash[SF_PASSWORD_ENCODED_MAX];
		char *password;
		int rc;

		if (argc == 4 && strcmp(argv[2], "--password-file") == 0)
			pwfile = argv[3];
		else if (argc != 2) {
			fputs(user_usage, stderr);
			return 2;
		}
		password = ctl_read_password(pwfile);
		if (password == NULL)
			return 1;
		rc = ctl_hash_password(cfg, password, hash, sizeof hash) ? 0 : 1;
		memset(password, 0, strlen(password));
		free(password);
		if (rc != 0)
			return rc;
		return ctl_user_set(conn, argv[1],
		                    "password_hash = $3, password_changed_at = now(), "
		                    "failed_logins = 0, locked_until = NULL",
		                    "user.passwd", hash);
	}
	fputs(user_usage, stderr);
	return 2;
}

static const char apikey_usage[] =
    "usage: safetyctl apikey create NAME --scope SCOPES [--mission CODE]\n"
    "       safetyctl apikey list\n"
    "       safetyctl apikey revoke ID\n"
    "Scopes: feed:read. The key is printed once and stored only as a hash.\n";

/* safetyctl apikey ... */
int
ctl_apikey(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";
	PGresult *res;
	const char *params[7];

	(void)cfg;
	if (strcmp(sub, "create") == 0) {
		const char *scope = NULL, *mission = NULL, *name = NULL;
		char key[SF_SECRET_TOKEN_BUFSZ], hash[SF_SECRET_HASH_HEX + 1], prefix[12];
		char scopes[SF_ROLE_SCOPES_MAX], err[128];
		unsigned bits;

		for (int i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--scope") == 0 && i + 1 < argc)
				scope = argv[++i];
			else if (strcmp(argv[i], "--mission") == 0 && i + 1 < argc)
				mission = argv[++i];
			else if (argv[i][0] != '-' && name == NULL)
				name = argv[i];
			else {
				fputs(apikey_usage, stderr);
				return 2;
			}
		}
		if (name == NULL || scope == NULL) {
			fputs(apikey_usage, stderr);
			return 2;
		}
		if (sf_role_scope_parse(scope, &bits, err, sizeof err) != 0 ||
		    sf_role_scope_format(bits, scopes, sizeof scopes) != 0) {
			fprintf(stderr, "safetyctl: %s\n", err);
			return 2;
		}
		if (sf_secret_token_new(key, sizeof key, SF_SECRET_API_KEY_PREFIX) != 0 ||
		    sf_secret_hash(key, hash) != 0)
			return 1;
		snprintf(prefix, sizeof prefix, "%.8s", key);
		params[0] = name;
		params[1] = hash;
		params[2] = prefix;
		params[3] = scopes;
		params[4] = mission;
		params[5] = ctl_actor();
		res = ctl_exec(
		    conn,
		    "WITH m AS (SELECT id FROM mission WHERE code = $5), "
		    "k AS (INSERT INTO api_key (name, key_hash, key_prefix, scopes, mission_id, "
		    " created_by) SELECT $1, $2, $3, $4, (SELECT id FROM m), $6 "
		    " WHERE $5::text IS NULL OR EXISTS (SELECT 1 FROM m) RETURNING *) "
		    "SELECT k.id, audit_record($6, 'operator', k.mission_id, '', "
		    " 'apikey.create', 'api_key', k.id::text, json_build_object('name', "
		    " k.name, 'scopes', k.scopes)::text) FROM k",
		    6, params);
		if (res == NULL)
			return 1;
		if (PQntuples(res) != 1) {
			fprintf(stderr, "safetyctl: no mission with code '%s'\n", mission);
			PQclear(res);
			return 1;
		}
		/* The key goes to standard output alone, so it can be piped into a secret store. */
		printf("%s\n", key);
		fprintf(stderr, "created API key %s (id %s, scopes %s); it is not shown again\n",
		        name, PQgetvalue(res, 0, 0), scopes);
		memset(key, 0, sizeof key);
		PQclear(res);
		return 0;
	}
	if (strcmp(sub, "list") == 0) {
		res = ctl_exec(
		    conn,
		    "SELECT k.id, k.name, k.key_prefix || '…', k.scopes, coalesce(m.code, '*'), "
		    " coalesce(to_char(k.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), "
		    " 'never'), CASE WHEN k.revoked_at IS NULL THEN 'active' ELSE 'revoked' END "
		    "FROM api_key k LEFT JOIN mission m ON m.id = k.mission_id ORDER BY k.id",
		    0, NULL);
		if (res == NULL)
			return 1;
		printf("%-6s %-20s %-14s %-12s %-10s %-17s %s\n", "ID", "NAME", "KEY", "SCOPES",
		       "MISSION", "LAST USED (UTC)", "STATE");
		for (int i = 0; i < PQntuples(res); i++)
			printf("%-6s %-20s %-14s %-12s %-10s %-17s %s\n", PQgetvalue(res, i, 0),
			       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
			       PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
		PQclear(res);
		return 0;
	}
	if (strcmp(sub, "revoke") == 0 && argc == 2) {
		params[0] = argv[1];
		params[1] = ctl_actor();
		res = ctl_exec(
		    conn,
		    "WITH k AS (UPDATE api_key SET revoked_at = now() WHERE id = $1::bigint "
		    " AND revoked_at IS NULL RETURNING *) "
		    "SELECT k.id, audit_record($2, 'operator', k.mission_id, '', "
		    " 'apikey.revoke', 'api_key', k.id::text, json_build_object('name', "
		    " k.name)::text) FROM k",
		    2, params);
		if (res == NULL)
			return 1;
		if (PQntuples(res) != 1) {
			fprintf(stderr, "safetyctl: no active API key with id %s\n", argv[1]);
			PQclear(res);
			return 1;
		}
		PQclear(res);
		printf("revoked API key %s\n", argv[1]);
		return 0;
	}
	fputs(apikey_usage, stderr);
	return 2;
}

static const char mission_usage[] =
    "usage: safetyctl mission add CODE --name NAME --country CC [--countries CC,CC]\n"
    "                             [--timezone ZONE]\n"
    "       safetyctl mission list\n";

/* safetyctl mission ... */
int
ctl_mission(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	const char *sub = argc > 0 ? argv[0] : "";
	PGresult *res;

	(void)cfg;
	if (strcmp(sub, "add") == 0 && argc >= 2) {
		const char *name = NULL, *country = NULL, *countries = NULL, *tz = "UTC";
		char list[256];
		const char *params[6];

		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
				name = argv[++i];
			else if (strcmp(argv[i], "--country") == 0 && i + 1 < argc)
				country = argv[++i];
			else if (strcmp(argv[i], "--countries") == 0 && i + 1 < argc)
				countries = argv[++i];
			else if (strcmp(argv[i], "--timezone") == 0 && i + 1 < argc)
				tz = argv[++i];
			else {
				fputs(mission_usage, stderr);
				return 2;
			}
		}
		if (name == NULL || country == NULL) {
			fputs(mission_usage, stderr);
			return 2;
		}
		/*
		 * As the API: no list (or an empty one) means the mission's own country.
		 * The time zone and the countries are checked by the database's rule
		 * (mission_settings_check, sql/0088), the one the API's inserts meet.
		 */
		if (countries == NULL || *countries == '\0')
			countries = country;
		if (strlen(countries) + 3 > sizeof list) {
			fprintf(stderr, "safetyctl: --countries: too long\n");
			return 2;
		}
		snprintf(list, sizeof list, "{%s}", countries);
		params[0] = argv[1];
		params[1] = name;
		params[2] = country;
		params[3] = list;
		params[4] = tz;
		params[5] = ctl_actor();
		res = ctl_exec(
		    conn,
		    "WITH m AS (INSERT INTO mission (code, name, default_country, countries, "
		    " timezone) VALUES ($1, $2, $3, $4::text[], $5) RETURNING *) "
		    "SELECT m.id, audit_record($6, 'operator', NULL, '', 'mission.create', "
		    " 'mission', m.id::text, json_build_object('code', m.code)::text) FROM m",
		    6, params);
		if (res == NULL)
			return 1;
		printf("created mission %s (id %s)\n", argv[1], PQgetvalue(res, 0, 0));
		PQclear(res);
		return 0;
	}
	if (strcmp(sub, "list") == 0) {
		res = ctl_exec(
		    conn,
		    "SELECT id, code, default_country, array_to_string(countries, ','), name "
		    "FROM mission ORDER BY code",
		    0, NULL);
		if (res == NULL)
			return 1;
		printf("%-6s %-12s %-8s %-12s %s\n", "ID", "CODE", "COUNTRY", "COUNTRIES", "NAME");
		for (int i = 0; i < PQntuples(res); i++)
			printf("%-6s %-12s %-8s %-12s %s\n", PQgetvalue(res, i, 0),
			       PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
			       PQgetvalue(res, i, 4));
		PQclear(res);
		return 0;
	}
	fputs(mission_usage, stderr);
	return 2;
}

/*
 * Reads --head ID:HASH, a newest row safetyd logged (audit_head) outside the
 * database. Returns 0, or -1 with the reason printed.
 */
static int
audit_head_parse(const char *arg, long long *id, char hash[SF_AUDIT_HASH_HEX + 1])
{
	char *end;
	const char *colon = strchr(arg, ':');

	errno = 0;
	*id = strtoll(arg, &end, 10);
	if (colon == NULL || end != colon || errno != 0 || *id <= 0 ||
	    strlen(colon + 1) != SF_AUDIT_HASH_HEX ||
	    strspn(colon + 1, "0123456789abcdef") != SF_AUDIT_HASH_HEX) {
		fprintf(stderr,
		        "safetyctl: --head %s: expected ID:HASH, the id and 64-character hash of "
		        "an audit_head line of safetyd's log\n",
		        arg);
		return -1;
	}
	memcpy(hash, colon + 1, SF_AUDIT_HASH_HEX + 1);
	return 0;
}

/* safetyctl audit verify [--head ID:HASH]: recomputes the whole chain with libsafety. */
int
ctl_audit(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	PGresult *res;
	char prev[SF_AUDIT_HASH_HEX + 1] = "";
	char head_hash[SF_AUDIT_HASH_HEX + 1] = "";
	long long rows = 0, head_id = 0;
	bool head_seen = false;
	int bad = 0;

	(void)cfg;
	if (argc == 3 && strcmp(argv[1], "--head") == 0) {
		if (audit_head_parse(argv[2], &head_id, head_hash) != 0)
			return 2;
		argc = 1;
	}
	if (argc != 1 || strcmp(argv[0], "verify") != 0) {
		fputs("usage: safetyctl audit verify [--head ID:HASH]\n", stderr);
		return 2;
	}
	/* One snapshot, in chain order, streamed row by row in a cursor-free way. */
	if (!PQsendQuery(conn,
	                 "SELECT id, audit_time_text(occurred_at), actor, actor_role, "
	                 "coalesce(mission_id, 0), client_addr, action, object_type, object_id, "
	                 "summary, prev_hash, hash FROM audit_log ORDER BY id") ||
	    !PQsetSingleRowMode(conn)) {
		fprintf(stderr, "safetyctl: %s", PQerrorMessage(conn));
		return 1;
	}
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) == PGRES_SINGLE_TUPLE) {
			struct sf_audit_fields f;
			const char *stored_prev = PQgetvalue(res, 0, 10);
			const char *stored = PQgetvalue(res, 0, 11);

			f.id = atoll(PQgetvalue(res, 0, 0));
			f.occurred_at = PQgetvalue(res, 0, 1);
			f.actor = PQgetvalue(res, 0, 2);
			f.actor_role = PQgetvalue(res, 0, 3);
			f.mission_id = atoll(PQgetvalue(res, 0, 4));
			f.client_addr = PQgetvalue(res, 0, 5);
			f.action = PQgetvalue(res, 0, 6);
			f.object_type = PQgetvalue(res, 0, 7);
			f.object_id = PQgetvalue(res, 0, 8);
			f.summary = PQgetvalue(res, 0, 9);
			rows++;
			if (bad < 20 && strcmp(stored_prev, prev) != 0) {
				printf("row %lld: does not follow the row before it (a row was "
				       "removed "
				       "or reordered)\n",
				       f.id);
				bad++;
			}
			if (sf_audit_chain_check(prev, &f, stored) != 0) {
				if (bad < 20)
					printf(
					    "row %lld: contents do not match its hash (the row was "
					    "changed)\n",
					    f.id);
				bad++;
			}
			if (f.id == head_id) {
				head_seen = true;
				if (strcmp(stored, head_hash) != 0) {
					printf("row %lld: its hash is not the one recorded outside "
					       "the "
					       "database (the chain was rewritten)\n",
					       f.id);
					bad++;
				}
			}
			snprintf(prev, sizeof prev, "%s", stored);
		} else if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			fprintf(stderr, "safetyctl: %s", PQresultErrorMessage(res));
			PQclear(res);
			while ((res = PQgetResult(conn)) != NULL)
				PQclear(res);
			return 1;
		}
		PQclear(res);
	}
	if (head_id > 0 && !head_seen) {
		printf("row %lld, recorded outside the database, is gone (rows were removed)\n",
		       head_id);
		bad++;
	}
	if (bad > 0) {
		printf("audit log TAMPERED: %d problem%s in %lld rows\n", bad, bad == 1 ? "" : "s",
		       rows);
		return 1;
	}
	printf("audit log intact: %lld rows, newest hash %s\n", rows, rows > 0 ? prev : "-");
	return 0;
}
