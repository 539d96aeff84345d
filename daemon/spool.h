/*
 * The reply spool: while PostgreSQL cannot be reached, replies are appended
 * to a local file and made durable with fdatasync before they are
 * acknowledged; once the database is back they are replayed in order and
 * the file is emptied. Replays are exactly once because every reply carries
 * its provider reference, which the database stores once. The format is in
 * daemon/spool.md.
 */
#ifndef SAFETY_SPOOL_H
#define SAFETY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct daemon;
struct reply_input;

/* Opens (creating) the spool under state_dir; replays what an earlier run left. */
bool spool_open(struct daemon *d, char **cause) __attribute__((warn_unused_result));

/* Closes it; what is in it stays for the next run. */
void spool_close(struct daemon *d);

/*
 * Appends a reply (with the time it was received). Not yet durable: call
 * spool_sync, once for a whole batch, before acknowledging. Returns 0 or -1.
 */
int spool_append(struct daemon *d, const struct reply_input *in, int64_t received_ms);

/* Makes every appended reply durable (fdatasync); 0, or -1 when the disk failed. */
int spool_sync(struct daemon *d);

/* Replies waiting in the spool. */
uint64_t spool_depth(const struct daemon *d);

#endif
