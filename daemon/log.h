/*
 * Structured logs: one line per event on stderr, as logfmt (key=value) or
 * JSON. Messages carry an event name and fields; personal data and secrets
 * are never passed here.
 */
#ifndef SAFETY_LOG_H
#define SAFETY_LOG_H

#include <stdbool.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

/* Parses "debug", "info", "warn" or "error"; returns -1 if unknown. */
int log_level_parse(const char *name);

/* Sets the threshold and format once at start-up (and on reload). */
void log_configure(enum log_level level, bool json);

/*
 * Logs an event. fields is a NULL-terminated list of key, value string pairs;
 * values are quoted and escaped as needed.
 */
void log_event(enum log_level level, const char *event, ...) __attribute__((sentinel));

#define log_debug(...) log_event(LOG_LEVEL_DEBUG, __VA_ARGS__, (char *)NULL)
#define log_info(...) log_event(LOG_LEVEL_INFO, __VA_ARGS__, (char *)NULL)
#define log_warn(...) log_event(LOG_LEVEL_WARN, __VA_ARGS__, (char *)NULL)
#define log_error(...) log_event(LOG_LEVEL_ERROR, __VA_ARGS__, (char *)NULL)

#endif
