/*
 * Personal data kept no longer than needed: a timer in safetyd removes
 * travellers some days after their departure. With several safetyd on one
 * database an advisory lock lets one of them do it.
 */
#ifndef SAFETY_RETENTION_H
#define SAFETY_RETENTION_H

struct daemon;

/* Starts the purge timer (first run shortly after start-up). */
void retention_start(struct daemon *d);

/* Stops it. */
void retention_stop(struct daemon *d);

#endif
