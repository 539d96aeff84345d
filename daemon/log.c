/*
 * Writes structured log lines to stderr. The level and format are the only
 * process-wide state outside struct daemon: a logger is reached from
 * everywhere, and both are set once before the loop starts.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum log_level log_threshold = LOG_LEVEL_INFO;
static bool log_json;

static const char *log_level_names[] = {"debug", "info", "warn", "error"};

/* Parses a level name. */
int
log_level_parse(const char *name)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, log_level_names[i]) == 0)
			return i;
	}
	return -1;
}

/* Sets the threshold and the format. */
void
log_configure(enum log_level level, bool json)
{
	log_threshold = level;
	log_json = json;
}

/* Appends s to buf, escaped for a JSON string or a logfmt value. */
static size_t
log_append_escaped(char *buf, size_t off, size_t size, const char *s, bool json)
{
	bool quote = json || *s == '\0' || strpbrk(s, " =\"\\\t\n\r") != NULL;

	if (quote && off < size - 1)
		buf[off++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0' && off < size - 8; p++) {
		if (*p == '"' || *p == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)*p;
		} else if (*p == '\n') {
			buf[off++] = '\\';
			buf[off++] = 'n';
		} else if (*p < 0x20) {
			off += (size_t)snprintf(buf + off, size - off, "\\u%04x", *p);
		} else {
			buf[off++] = (char)*p;
		}
	}
	if (quote && off < size - 1)
		buf[off++] = '"';
	return off;
}

/* Formats and writes one log line. */
void
log_event(enum log_level level, const char *event, ...)
{
	char line[4096];
	char ts[64];
	struct timespec now;
	struct tm tm;
	size_t off = 0;
	va_list ap;
	const char *key, *value;

	if (level < log_threshold)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
	         (long)(now.tv_nsec / 1000000) % 1000);

	if (log_json)
		off += (size_t)snprintf(line, sizeof line,
		                        "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":", ts,
		                        log_level_names[level]);
	else
		off += (size_t)snprintf(line, sizeof line, "ts=%s level=%s event=", ts,
		                        log_level_names[level]);
	off = log_append_escaped(line, off, sizeof line, event, log_json);

	va_start(ap, event);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (value == NULL)
			value = "";
		if (off >= sizeof line - 16)
			break;
		off += (size_t)snprintf(line + off, sizeof line - off,
		                        log_json ? ",\"%s\":" : " %s=", key);
		if (off >= sizeof line - 16)
			break;
		off = log_append_escaped(line, off, sizeof line, value, log_json);
	}
	va_end(ap);
	if (off > sizeof line - 3)
		off = sizeof line - 3;
	if (log_json)
		line[off++] = '}';
	line[off++] = '\n';
	fwrite(line, 1, off, stderr);
}
