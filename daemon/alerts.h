/*
 * Alerts into proposed crises: the import endpoint and the feed watcher.
 */
#ifndef SAFETY_ALERTS_H
#define SAFETY_ALERTS_H

struct daemon;
struct http_ctx;

/* POST /api/v1/crises/import */
void routes_crises_import(struct http_ctx *ctx);

/* Starts polling [alerts] feeds, if any. */
void alerts_watch_start(struct daemon *d);

/* Stops polling; call after the HTTP client is gone. */
void alerts_watch_stop(struct daemon *d);

#endif
