/*
 * The web files (the reply page's style and script, the dashboard and the
 * browser libraries it uses from npm), read into memory once at start-up so
 * serving them never touches the disk from the event loop.
 */
#ifndef SAFETY_WEB_ASSETS_H
#define SAFETY_WEB_ASSETS_H

#include <stdbool.h>

struct daemon;
struct http_ctx;

/* Loads web_dir's files and the vendored libraries; what is missing is logged, not fatal. */
void web_assets_load(struct daemon *d);

void web_assets_free(struct daemon *d);

/* GET /static/{name} */
void routes_static(struct http_ctx *ctx);

/* GET /app: the dashboard's page. */
void routes_app(struct http_ctx *ctx);

#endif
