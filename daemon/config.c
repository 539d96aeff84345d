/*
 * Parses the configuration file through a table of typed options, in the
 * manner of tmux's options table: each key names its section, type, bounds
 * and place in struct config, so validation and the reference in the README
 * cannot drift apart.
 */
#include "config.h"

#include "build_info.h"
#include "xmalloc.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum config_type { CONFIG_STRING, CONFIG_INT, CONFIG_ENUM };

struct config_option {
	const char *section;
	const char *key;
	enum config_type type;
	size_t offset;
	long min, max;          /* CONFIG_INT */
	const char *choices[6]; /* CONFIG_ENUM */
};

#define STR(sec, k, field)                                                                         \
	{                                                                                          \
		sec, k, CONFIG_STRING, offsetof(struct config, field), 0, 0,                       \
		{                                                                                  \
			NULL                                                                       \
		}                                                                                  \
	}
#define INT(sec, k, field, lo, hi)                                                                 \
	{                                                                                          \
		sec, k, CONFIG_INT, offsetof(struct config, field), lo, hi,                        \
		{                                                                                  \
			NULL                                                                       \
		}                                                                                  \
	}
#define ENUM(sec, k, field, ...)                                                                   \
	{                                                                                          \
		sec, k, CONFIG_ENUM, offsetof(struct config, field), 0, 0,                         \
		{                                                                                  \
			__VA_ARGS__, NULL                                                          \
		}                                                                                  \
	}

static const struct config_option config_options[] = {
    STR("server", "listen", listen),
    INT("server", "max_connections", max_connections, 1, 100000),
    INT("server", "max_event_streams", max_event_streams, 0, 100000),
    INT("server", "event_heartbeat", event_heartbeat_s, 1, 3600),
    INT("server", "max_header_bytes", max_header_bytes, 1024, 1048576),
    INT("server", "max_body_bytes", max_body_bytes, 1024, 268435456),
    INT("server", "timeout", timeout_s, 1, 3600),
    INT("server", "shutdown_timeout", shutdown_timeout_s, 0, 600),
    STR("server", "public_url", public_url),
    STR("server", "tls_listen", tls_listen),
    STR("server", "tls_cert", tls_cert),
    STR("server", "tls_key", tls_key),
    STR("server", "trusted_proxies", trusted_proxies),
    STR("database", "url", database_url),
    STR("database", "migrate_url", database_migrate_url),
    INT("database", "pool_size", pool_size, 1, 200),
    INT("database", "max_waiting", pool_max_waiting, 1, 1000000),
    INT("database", "query_timeout_ms", query_timeout_ms, 10, 3600000),
    INT("database", "reconnect_max_ms", reconnect_max_ms, 100, 600000),
    INT("database", "schema_check_interval_ms", schema_check_interval_ms, 100, 3600000),
    INT("auth", "session_idle_timeout", session_idle_timeout_s, 60, 86400),
    INT("auth", "session_max_age", session_max_age_s, 300, 2592000),
    INT("auth", "login_attempts_per_minute", login_attempts_per_minute, 1, 10000),
    INT("auth", "public_rate_per_second", public_rate_per_second, 1, 1000000),
    INT("auth", "public_burst", public_burst, 1, 1000000),
    INT("auth", "lock_failures", lock_failures, 3, 1000),
    INT("auth", "account_lock_failures", account_lock_failures, 3, 100000),
    INT("auth", "lock_minutes", lock_minutes, 1, 100000),
    INT("auth", "login_failure_delay_ms", login_failure_delay_ms, 0, 60000),
    /* The name of the setting before failures were answered all alike. */
    INT("auth", "login_max_delay_ms", login_failure_delay_ms, 0, 60000),
    INT("auth", "password_hash_cost", password_hash_cost, 10, 20),
    INT("registry", "traveller_retention_days", traveller_retention_days, 0, 3650),
    INT("registry", "retention_interval", retention_interval_s, 1, 86400),
    ENUM("channels", "sms_driver", sms_driver, "kannel", "twilio", "log"),
    ENUM("channels", "email_driver", email_driver, "smtp", "log"),
    STR("channels", "kannel_url", kannel_url),
    STR("channels", "kannel_user", kannel_user),
    STR("channels", "kannel_password", kannel_password),
    STR("channels", "kannel_from", kannel_from),
    STR("channels", "twilio_url", twilio_url),
    STR("channels", "twilio_account_sid", twilio_account_sid),
    STR("channels", "twilio_auth_token", twilio_auth_token),
    STR("channels", "twilio_from", twilio_from),
    STR("channels", "smtp_url", smtp_url),
    STR("channels", "smtp_user", smtp_user),
    STR("channels", "smtp_password", smtp_password),
    STR("channels", "smtp_from", smtp_from),
    ENUM("channels", "smtp_starttls", smtp_starttls, "try", "require", "no"),
    STR("channels", "hook_secret", hook_secret),
    INT("channels", "sms_rate", sms_rate, 0, 1000000),
    INT("channels", "sms_concurrency", sms_concurrency, 1, 10000),
    INT("channels", "email_rate", email_rate, 0, 1000000),
    INT("channels", "email_concurrency", email_concurrency, 1, 10000),
    INT("channels", "dispatch_batch", dispatch_batch, 1, 10000),
    INT("channels", "dispatch_interval_ms", dispatch_interval_ms, 10, 60000),
    INT("channels", "stale_claim", stale_claim_s, 2, 86400),
    INT("channels", "escalate_interval", escalate_interval_s, 1, 3600),
    INT("channels", "max_attempts", max_attempts, 1, 100),
    INT("channels", "send_timeout_ms", send_timeout_ms, 1000, 600000),
    INT("channels", "route_window", route_window_s, 10, 86400),
    INT("channels", "route_grace", route_grace_s, 1, 86400),
    INT("channels", "route_min_share", route_min_share, 0, 100),
    INT("channels", "route_min_samples", route_min_samples, 1, 1000000),
    INT("channels", "route_refresh", route_refresh_s, 1, 3600),
    STR("alerts", "feeds", alert_feeds),
    INT("alerts", "interval", alert_interval_s, 10, 86400),
    INT("alerts", "min_affected", alert_min_affected, 1, 1000000),
    STR("tokens", "key_file", token_key_file),
    INT("tokens", "key_id", token_key_id, 0, 15),
    ENUM("log", "level", log_level, "debug", "info", "warn", "error"),
    ENUM("log", "format", log_format, "logfmt", "json"),
    STR("paths", "sql_dir", sql_dir),
    STR("paths", "web_dir", web_dir),
    STR("paths", "state_dir", state_dir),
    INT("registration", "codes_per_hour", registration_codes_per_hour, 1, 10000000),
    INT("server", "request_timeout", request_timeout_s, 1, 3600),
    INT("server", "max_public_body_bytes", max_public_body_bytes, 1024, 268435456),
};

#define CONFIG_OPTION_COUNT (sizeof config_options / sizeof config_options[0])
_Static_assert(CONFIG_OPTION_COUNT <= CONFIG_SOURCE_SLOTS, "raise CONFIG_SOURCE_SLOTS");

/*
 * The slot of an option: the first entry of the table for the same field, so
 * that an old name (login_max_delay_ms) and the new one share it.
 */
static size_t
config_slot(const struct config_option *o)
{
	for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++)
		if (config_options[i].offset == o->offset)
			return i;
	return (size_t)(o - config_options);
}

/* The slot of the field at offset. */
static size_t
config_slot_of(size_t offset)
{
	for (size_t i = 0; i < CONFIG_OPTION_COUNT; i++)
		if (config_options[i].offset == offset)
			return i;
	return 0;
}

/*
 * "FILE:LINE: " for the line that set the field at offset, or "" when no
 * line did (a default, or the environment's value).
 */
static const char *
config_at(const struct config *cfg, size_t offset, char *buf, size_t bufsz)
{
	unsigned line = cfg->source_line[config_slot_of(offset)];

	if (cfg->source_path == NULL || line == 0)
		*buf = '\0';
	else
		snprintf(buf, bufsz, "%s:%u: ", cfg->source_path, line);
	return buf;
}

#define CONFIG_AT(cfg, field, buf) config_at(cfg, offsetof(struct config, field), buf, sizeof buf)

/* Fills cfg with defaults. */
void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->listen = xstrdup("127.0.0.1:8080");
	cfg->max_connections = 2000;
	cfg->max_event_streams = 1000;
	cfg->event_heartbeat_s = 15;
	cfg->max_header_bytes = 16384;
	cfg->max_body_bytes = 10 * 1024 * 1024;
	cfg->timeout_s = 30;
	cfg->request_timeout_s = 60;
	cfg->max_public_body_bytes = 32 * 1024;
	cfg->shutdown_timeout_s = 10;
	cfg->public_url = xstrdup("");
	cfg->tls_listen = xstrdup("");
	cfg->tls_cert = xstrdup("");
	cfg->tls_key = xstrdup("");
	cfg->trusted_proxies = xstrdup("");
	cfg->database_url = xstrdup("dbname=safety");
	cfg->database_migrate_url = xstrdup("");
	cfg->pool_size = 4;
	cfg->pool_max_waiting = 10000;
	cfg->query_timeout_ms = 5000;
	cfg->reconnect_max_ms = 2000;
	cfg->schema_check_interval_ms = 5000;
	cfg->session_idle_timeout_s = 1800;
	cfg->session_max_age_s = 43200;
	cfg->login_attempts_per_minute = 20;
	cfg->public_rate_per_second = 20;
	cfg->public_burst = 60;
	cfg->lock_failures = 10;
	cfg->account_lock_failures = 100;
	cfg->lock_minutes = 15;
	cfg->login_failure_delay_ms = 1000;
	cfg->password_hash_cost = 15;
	cfg->traveller_retention_days = 30;
	cfg->retention_interval_s = 3600;
	cfg->sms_driver = xstrdup("log");
	cfg->email_driver = xstrdup("log");
	cfg->kannel_url = xstrdup("http://127.0.0.1:13013/cgi-bin/sendsms");
	cfg->kannel_user = xstrdup("");
	cfg->kannel_password = xstrdup("");
	cfg->kannel_from = xstrdup("");
	cfg->twilio_url = xstrdup("https://api.twilio.com");
	cfg->twilio_account_sid = xstrdup("");
	cfg->twilio_auth_token = xstrdup("");
	cfg->twilio_from = xstrdup("");
	cfg->smtp_url = xstrdup("smtp://127.0.0.1:25");
	cfg->smtp_user = xstrdup("");
	cfg->smtp_password = xstrdup("");
	cfg->smtp_from = xstrdup("safety@localhost");
	cfg->smtp_starttls = xstrdup("try");
	cfg->hook_secret = xstrdup("");
	cfg->sms_rate = 50;
	cfg->sms_concurrency = 32;
	cfg->email_rate = 20;
	cfg->email_concurrency = 8;
	cfg->dispatch_batch = 500;
	cfg->dispatch_interval_ms = 250;
	cfg->stale_claim_s = 120;
	cfg->escalate_interval_s = 10;
	cfg->max_attempts = 8;
	cfg->send_timeout_ms = 60000;
	cfg->route_window_s = 900;
	cfg->route_grace_s = 600;
	cfg->route_min_share = 50;
	cfg->route_min_samples = 20;
	cfg->route_refresh_s = 30;
	cfg->alert_feeds = xstrdup("");
	cfg->alert_interval_s = 120;
	cfg->alert_min_affected = 1;
	cfg->token_key_file = xstrdup("");
	cfg->token_key_id = 1;
	cfg->log_level = xstrdup("info");
	cfg->log_format = xstrdup("logfmt");
	cfg->registration_codes_per_hour = 2000;
	cfg->sql_dir = xstrdup(SAFETY_DEFAULT_SQL_DIR);
	cfg->web_dir = xstrdup(SAFETY_DEFAULT_WEB_DIR);
	cfg->state_dir = xstrdup("/var/lib/safety");
}

/* Frees the strings of cfg. */
void
config_free(struct config *cfg)
{
	for (size_t i = 0; i < sizeof config_options / sizeof config_options[0]; i++) {
		const struct config_option *o = &config_options[i];
		if (o->type != CONFIG_INT) {
			char **p = (char **)((char *)cfg + o->offset);
			free(*p);
			*p = NULL;
		}
	}
	free(cfg->source_path);
	cfg->source_path = NULL;
}

/* Removes leading and trailing white space in place. */
static char *
config_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Stores one value into cfg after checking it against its option. */
static bool
config_set(struct config *cfg, const struct config_option *o, const char *value, char **why)
{
	char **sp;
	int *ip;
	long v;
	char *end;

	switch (o->type) {
	case CONFIG_STRING:
		sp = (char **)((char *)cfg + o->offset);
		free(*sp);
		*sp = xstrdup(value);
		return true;
	case CONFIG_INT:
		errno = 0;
		v = strtol(value, &end, 10);
		if (errno != 0 || end == value || *end != '\0') {
			xasprintf(why, "'%s' is not a whole number", value);
			return false;
		}
		if (v < o->min || v > o->max) {
			xasprintf(why, "%ld is out of range (%ld to %ld)", v, o->min, o->max);
			return false;
		}
		ip = (int *)((char *)cfg + o->offset);
		*ip = (int)v;
		return true;
	case CONFIG_ENUM:
		for (int i = 0; o->choices[i] != NULL; i++) {
			if (strcmp(value, o->choices[i]) == 0) {
				sp = (char **)((char *)cfg + o->offset);
				free(*sp);
				*sp = xstrdup(value);
				return true;
			}
		}
		xasprintf(why, "'%s' is not one of: %s%s%s%s%s%s%s", value, o->choices[0],
		          o->choices[1] ? ", " : "", o->choices[1] ? o->choices[1] : "",
		          o->choices[2] ? ", " : "", o->choices[2] ? o->choices[2] : "",
		          o->choices[3] ? ", " : "", o->choices[3] ? o->choices[3] : "");
		return false;
	}
	return false;
}

/* Removes a value's surrounding double quotes, if any. */
static char *
config_unquote(char *value)
{
	size_t n = strlen(value);

	if (n >= 2 && value[0] == '"' && value[n - 1] == '"') {
		value[n - 1] = '\0';
		return value + 1;
	}
	return value;
}

/* Parses the file at path. */
bool
config_load(struct config *cfg, const char *path, char **cause)
{
	FILE *f;
	char line[4096];
	char section[64] = "";
	unsigned lineno = 0;
	unsigned set_at[CONFIG_OPTION_COUNT] = {0};
	char *why = NULL;

	f = fopen(path, "r");
	if (f == NULL) {
		xasprintf(cause, "%s: cannot open: %s", path, strerror(errno));
		return false;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		char *s, *eq, *key, *value;
		const struct config_option *o = NULL;

		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			xasprintf(cause, "%s:%u: line too long", path, lineno);
			goto fail;
		}
		s = config_trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			if (close == NULL || close[1] != '\0' ||
			    close - s - 1 >= (long)sizeof section || close == s + 1) {
				xasprintf(cause, "%s:%u: malformed section header", path, lineno);
				goto fail;
			}
			*close = '\0';
			snprintf(section, sizeof section, "%s", config_trim(s + 1));
			bool known = false;
			for (size_t i = 0; i < sizeof config_options / sizeof config_options[0];
			     i++)
				if (strcmp(config_options[i].section, section) == 0)
					known = true;
			if (!known) {
				xasprintf(cause, "%s:%u: unknown section [%s]", path, lineno,
				          section);
				goto fail;
			}
			continue;
		}
		eq = strchr(s, '=');
		if (eq == NULL) {
			xasprintf(cause, "%s:%u: expected 'key = value'", path, lineno);
			goto fail;
		}
		*eq = '\0';
		key = config_trim(s);
		value = config_trim(eq + 1);
		/*
		 * Comments have lines of their own. A '#' or ';' after white space
		 * would be a comment in other formats but part of a string here
		 * (and refused after a number): refused everywhere, since a secret
		 * may hold '#' and must then be quoted.
		 */
		if (!(strlen(value) >= 2 && value[0] == '"' && value[strlen(value) - 1] == '"')) {
			for (const char *c = eq + 1; *c != '\0'; c++) {
				if ((*c == '#' || *c == ';') && (c[-1] == ' ' || c[-1] == '\t')) {
					xasprintf(cause,
					          "%s:%u: %s: '%c' after a space is not a comment "
					          "here: put comments on lines of their own (or put "
					          "the value in double quotes if the '%c' belongs to "
					          "it)",
					          path, lineno, key, *c, *c);
					goto fail;
				}
			}
		}
		value = config_unquote(value);
		if (*section == '\0') {
			xasprintf(cause, "%s:%u: key '%s' outside any section", path, lineno, key);
			goto fail;
		}
		for (size_t i = 0; i < sizeof config_options / sizeof config_options[0]; i++) {
			if (strcmp(config_options[i].section, section) == 0 &&
			    strcmp(config_options[i].key, key) == 0)
				o = &config_options[i];
		}
		if (o == NULL) {
			xasprintf(cause, "%s:%u: unknown key '%s' in section [%s]", path, lineno,
			          key, section);
			goto fail;
		}
		/*
		 * Last-wins would let an empty line further down undo a secret set
		 * above; an old name of the same setting counts as the setting.
		 */
		if (set_at[config_slot(o)] != 0) {
			const struct config_option *first = &config_options[config_slot(o)];

			if (strcmp(first->key, key) == 0)
				xasprintf(cause,
				          "%s:%u: '%s' in section [%s] is set again (first at "
				          "line %u)",
				          path, lineno, key, section, set_at[config_slot(o)]);
			else
				xasprintf(cause,
				          "%s:%u: '%s' in section [%s] is set again (first at "
				          "line %u, as '%s' or its other name)",
				          path, lineno, key, section, set_at[config_slot(o)],
				          first->key);
			goto fail;
		}
		set_at[config_slot(o)] = lineno;
		if (!config_set(cfg, o, value, &why)) {
			xasprintf(cause, "%s:%u: %s: %s", path, lineno, key, why);
			free(why);
			goto fail;
		}
	}
	if (ferror(f)) {
		xasprintf(cause, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	free(cfg->source_path);
	cfg->source_path = xstrdup(path);
	memcpy(cfg->source_line, set_at, sizeof set_at);
	return true;
fail:
	fclose(f);
	return false;
}

/* Applies the environment overrides. */
bool
config_apply_env(struct config *cfg, char **cause)
{
	const char *v;
	char *host = NULL;
	int port;

	v = getenv("SAFETY_DATABASE_URL");
	if (v != NULL && *v != '\0') {
		free(cfg->database_url);
		cfg->database_url = xstrdup(v);
		cfg->source_line[config_slot_of(offsetof(struct config, database_url))] = 0;
	}
	v = getenv("SAFETY_MIGRATE_URL");
	if (v != NULL && *v != '\0') {
		free(cfg->database_migrate_url);
		cfg->database_migrate_url = xstrdup(v);
		cfg->source_line[config_slot_of(offsetof(struct config, database_migrate_url))] = 0;
	}
	v = getenv("SAFETY_LISTEN");
	if (v != NULL && *v != '\0') {
		if (!config_split_hostport(v, &host, &port, cause)) {
			char *inner = *cause;
			xasprintf(cause, "SAFETY_LISTEN: %s", inner);
			free(inner);
			return false;
		}
		free(host);
		free(cfg->listen);
		cfg->listen = xstrdup(v);
		cfg->source_line[config_slot_of(offsetof(struct config, listen))] = 0;
	}
	return true;
}

/* Splits host:port. */
bool
config_split_hostport(const char *s, char **host, int *port, char **cause)
{
	const char *colon;
	char *end;
	long p;

	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL || close[1] != ':') {
			xasprintf(cause, "'%s' is not [address]:port", s);
			return false;
		}
		*host = xstrndup(s + 1, (size_t)(close - s - 1));
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (colon == NULL || colon == s) {
			xasprintf(cause, "'%s' is not host:port", s);
			return false;
		}
		*host = xstrndup(s, (size_t)(colon - s));
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || p < 0 || p > 65535) {
		xasprintf(cause, "'%s' has no valid port", s);
		free(*host);
		*host = NULL;
		return false;
	}
	*port = (int)p;
	return true;
}

/* Whether the environment variable name is set and not empty (config_apply_env used it). */
static bool
config_from_env(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0';
}

/* Splits host:port for config_validate, the message naming where it was set. */
static bool
config_check_hostport(const char *value, const char *at, const char *name, char **cause)
{
	char *host = NULL, *why = NULL;
	int port;

	if (!config_split_hostport(value, &host, &port, &why)) {
		xasprintf(cause, "%s%s: %s", at, name, why);
		free(why);
		return false;
	}
	free(host);
	return true;
}

/*
 * A libpq connection string must parse. libpq's own message quotes the text
 * after the fault, which may be part of a password: only the setting is named.
 */
static bool
config_check_conninfo(const char *value, const char *at, const char *name, char **cause)
{
	char *err = NULL;
	PQconninfoOption *opts;

	if (*value == '\0')
		return true;
	opts = PQconninfoParse(value, &err);
	if (opts == NULL) {
		xasprintf(cause,
		          "%s%s: not a valid libpq connection string or URI (a value holding a "
		          "space or a quote must be single-quoted, with \\' and \\\\ inside)",
		          at, name);
		if (err != NULL) {
			memset(err, 0, strlen(err));
			PQfreemem(err);
		}
		return false;
	}
	PQconninfoFree(opts);
	return true;
}

/* Checks settings that depend on each other; each error names the line that set it. */
bool
config_validate(const struct config *cfg, char **cause)
{
	char at[600], at2[600];

	/* A value the environment gave has no line: the variable is named instead. */
	CONFIG_AT(cfg, listen, at);
	if (!config_check_hostport(cfg->listen, at,
	                           *at == '\0' && config_from_env("SAFETY_LISTEN")
	                               ? "SAFETY_LISTEN"
	                               : "server.listen",
	                           cause))
		return false;
	if (*cfg->tls_listen != '\0') {
		if (!config_check_hostport(cfg->tls_listen, CONFIG_AT(cfg, tls_listen, at),
		                           "server.tls_listen", cause))
			return false;
		if (*cfg->tls_cert == '\0' || *cfg->tls_key == '\0') {
			xasprintf(cause, "%sserver.tls_listen is set but tls_cert or tls_key is not",
			          CONFIG_AT(cfg, tls_listen, at));
			return false;
		}
	}
	if (*cfg->database_url == '\0') {
		xasprintf(cause, "%sdatabase.url is empty", CONFIG_AT(cfg, database_url, at));
		return false;
	}
	CONFIG_AT(cfg, database_url, at);
	CONFIG_AT(cfg, database_migrate_url, at2);
	if (!config_check_conninfo(cfg->database_url, at,
	                           *at == '\0' && config_from_env("SAFETY_DATABASE_URL")
	                               ? "SAFETY_DATABASE_URL"
	                               : "database.url",
	                           cause) ||
	    !config_check_conninfo(cfg->database_migrate_url, at2,
	                           *at2 == '\0' && config_from_env("SAFETY_MIGRATE_URL")
	                               ? "SAFETY_MIGRATE_URL"
	                               : "database.migrate_url",
	                           cause))
		return false;
	/*
	 * A real gateway reports deliveries and hands over incoming SMS at
	 * public_url, proven by hook_secret (Kannel) or the auth token (Twilio);
	 * reply links in e-mail point there too. Without them every report and
	 * answer is refused and lost, or links point at the listen address.
	 */
	if (strcmp(cfg->sms_driver, "kannel") == 0 && *cfg->hook_secret == '\0') {
		xasprintf(cause,
		          "%schannels.hook_secret must be set when sms_driver = kannel "
		          "(delivery reports and incoming SMS are refused without it)",
		          CONFIG_AT(cfg, sms_driver, at));
		return false;
	}
	if (strcmp(cfg->sms_driver, "twilio") == 0 && *cfg->twilio_auth_token == '\0') {
		xasprintf(cause, "%schannels.twilio_auth_token must be set when sms_driver = twilio",
		          CONFIG_AT(cfg, sms_driver, at));
		return false;
	}
	if (*cfg->public_url == '\0' &&
	    (strcmp(cfg->sms_driver, "log") != 0 || strcmp(cfg->email_driver, "smtp") == 0)) {
		xasprintf(cause,
		          "%sserver.public_url must be set when sms_driver = %s or email_driver = %s "
		          "(gateways report to it and reply links point at it)",
		          strcmp(cfg->sms_driver, "log") != 0 ? CONFIG_AT(cfg, sms_driver, at)
		                                               : CONFIG_AT(cfg, email_driver, at2),
		          cfg->sms_driver, cfg->email_driver);
		return false;
	}
	{
		/* Each a literal IPv4 or IPv6 address: a name could resolve to anyone. */
		char *list = xstrdup(cfg->trusted_proxies), *save = NULL;
		unsigned char buf[sizeof(struct in6_addr)];
		for (char *a = strtok_r(list, ", ", &save); a != NULL;
		     a = strtok_r(NULL, ", ", &save)) {
			if (inet_pton(AF_INET, a, buf) != 1 && inet_pton(AF_INET6, a, buf) != 1) {
				xasprintf(cause, "%sserver.trusted_proxies: '%s' is not an IP address",
				          CONFIG_AT(cfg, trusted_proxies, at), a);
				free(list);
				return false;
			}
		}
		free(list);
	}
	return true;
}

bool
config_trusted_proxy(const struct config *cfg, const char *addr)
{
	size_t n = strlen(addr);
	const char *p = cfg->trusted_proxies;

	if (n == 0)
		return false;
	while ((p = strstr(p, addr)) != NULL) {
		bool start = p == cfg->trusted_proxies || p[-1] == ',' || p[-1] == ' ';
		bool end = p[n] == '\0' || p[n] == ',' || p[n] == ' ';
		if (start && end)
			return true;
		p += n;
	}
	return false;
}
