/*
 * The configuration of safetyd and safetyctl: one struct, parsed whole from
 * an INI-style file (sections, key = value, # comments), validated key by
 * key, then overridden by a few environment variables so one file can serve
 * several instances.
 */
#ifndef SAFETY_CONFIG_H
#define SAFETY_CONFIG_H

#include <stdbool.h>

/* Room for one line number per setting (config.c checks that it suffices). */
#define CONFIG_SOURCE_SLOTS 128

struct config {
	/* [server] */
	char *listen;         /* host:port of the HTTP listener */
	int max_connections;  /* open client connections at once */
	int max_header_bytes; /* request line + headers */
	int max_body_bytes;
	int timeout_s;          /* read/write timeout of a client connection */
	int shutdown_timeout_s; /* how long in-flight requests may finish */
	char *public_url;       /* how clients reach us, for links and Origin checks */
	char *tls_listen;       /* host:port of the HTTPS listener, "" = none */
	char *tls_cert;
	char *tls_key;
	char *trusted_proxies; /* addresses whose X-Forwarded-For/-Proto are believed, "" = none */
	int max_event_streams; /* open server-sent event streams at once */
	int event_heartbeat_s; /* comment line on idle streams, so proxies keep them */
	int request_timeout_s; /* a request must arrive whole this long after its first byte */
	int max_public_body_bytes; /* request body of public routes and unknown paths */

	/* [database] */
	char *database_url;
	/* the schema owner's, for migrations when url's role owns nothing; "" = url */
	char *database_migrate_url;
	int pool_size;
	int pool_max_waiting; /* queued queries before callers get an error */
	int query_timeout_ms; /* per query, also sent as statement_timeout */
	int reconnect_max_ms; /* upper bound of the reconnect back-off */
	int schema_check_interval_ms;

	/* [auth] */
	int session_idle_timeout_s;
	int session_max_age_s;
	int login_attempts_per_minute; /* per client address */
	int public_rate_per_second;    /* per client address, public endpoints */
	int public_burst;
	int lock_failures;         /* failed logins from one address that lock it out of an account */
	int account_lock_failures; /* failed logins from all addresses that lock an account */
	int lock_minutes;
	int login_failure_delay_ms; /* a failed login is answered this long after it arrived */
	int password_hash_cost;     /* scrypt log2(N) for new passwords */

	/* [registry] */
	int traveller_retention_days; /* days after departure a traveller is kept */
	int retention_interval_s;

	/* [channels] */
	char *sms_driver;   /* kannel, twilio or log */
	char *email_driver; /* smtp or log */
	char *kannel_url;   /* the smsbox sendsms URL */
	char *kannel_user;
	char *kannel_password;
	char *kannel_from;
	char *twilio_url; /* API base, https://api.twilio.com or a compatible one */
	char *twilio_account_sid;
	char *twilio_auth_token;
	char *twilio_from;
	char *smtp_url; /* smtp://host:port or smtps://host:port */
	char *smtp_user;
	char *smtp_password;
	char *smtp_from;
	char *smtp_starttls; /* try, require or no */
	char *hook_secret;   /* shared secret in the gateway callback URLs */
	int sms_rate;        /* messages per second; 0: no limit */
	int sms_concurrency;
	int email_rate;
	int email_concurrency;
	int dispatch_batch;       /* rows claimed at once */
	int dispatch_interval_ms; /* how often the outbox is polled */
	int stale_claim_s;        /* a claim older than this was lost with its process */
	int escalate_interval_s;
	int max_attempts;
	int send_timeout_ms;   /* how long one send may take at a gateway before it is retried */
	int route_window_s;    /* adaptive routing looks this far back */
	int route_grace_s;     /* sent without a report this long counts as undelivered */
	int route_min_share;   /* percent delivered below which a route is degraded */
	int route_min_samples; /* fewer reports than this decide nothing */
	int route_refresh_s;

	/* [alerts] */
	char *alert_feeds;      /* URLs of CAP/GDACS/USGS feeds, comma separated */
	int alert_interval_s;   /* how often they are polled */
	int alert_min_affected; /* nationals inside before a mission gets a proposal */

	/* [tokens] */
	char *token_key_file; /* lines "ID:SECRET" (hex or base64url, 32+ bytes) */
	int token_key_id;     /* the key new tokens are made with */

	/* [log] */
	char *log_level;
	char *log_format; /* logfmt or json */

	/* [paths] */
	char *sql_dir;
	char *web_dir;
	char *state_dir;

	/* [registration] */
	int registration_codes_per_hour; /* one-time codes all public registrations may send */

	/*
	 * Where the settings came from, so that config_validate names the line:
	 * the file config_load read (NULL: none), and for each setting (by its
	 * place in config.c's table of options) the line that set it, 0 when it
	 * kept its default or the environment replaced it.
	 */
	char *source_path;
	unsigned source_line[CONFIG_SOURCE_SLOTS];
};

/* Fills every field with its default. Free with config_free. */
void config_defaults(struct config *cfg);

/*
 * Parses path into cfg (which must hold defaults). On error returns false and
 * sets *cause (caller frees) to "FILE:LINE: message" naming the key.
 */
bool config_load(struct config *cfg, const char *path, char **cause)
    __attribute__((warn_unused_result));

/* Applies SAFETY_DATABASE_URL, SAFETY_MIGRATE_URL and SAFETY_LISTEN from the environment. */
bool config_apply_env(struct config *cfg, char **cause) __attribute__((warn_unused_result));

/* Checks values that depend on each other. */
bool config_validate(const struct config *cfg, char **cause) __attribute__((warn_unused_result));

/* Frees the strings of cfg (not cfg itself). */
void config_free(struct config *cfg);

/* Is addr (text) one of the trusted proxies? */
bool config_trusted_proxy(const struct config *cfg, const char *addr);

/* Splits "host:port" (or "[v6]:port"); host is malloc'd. */
bool config_split_hostport(const char *s, char **host, int *port, char **cause)
    __attribute__((warn_unused_result));

#endif
