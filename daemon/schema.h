/*
 * The daemon's view of the schema: is the database reachable, and is its
 * newest migration the one this build needs? Checked on a timer (which keeps
 * struct daemon's schema_ok current) and on every /readyz.
 */
#ifndef SAFETY_SCHEMA_H
#define SAFETY_SCHEMA_H

#include <stdbool.h>

struct daemon;

struct schema_check {
	bool database_ok;
	bool schema_ok;
	int version;
	const char *problem; /* borrowed; "" when all is well */
};

typedef void (*schema_check_done_cb)(const struct schema_check *check, void *arg);

/* Asks the database; cb fires exactly once, possibly from the next loop turn. */
void schema_check_start(struct daemon *d, schema_check_done_cb cb, void *arg);

/* Starts the periodic check that keeps d->schema_ok current. */
void schema_watch_start(struct daemon *d);

#endif
