/*
 * The table of every route safetyd serves, and the handlers each area
 * defines. Adding an endpoint means adding one line to routes.c.
 */
#ifndef SAFETY_ROUTES_H
#define SAFETY_ROUTES_H

#include "http_server.h"

/* Terminated by an entry whose name is NULL. */
extern const struct http_route routes_table[];

/* routes_health.c */
void routes_health_healthz(struct http_ctx *ctx);
void routes_health_readyz(struct http_ctx *ctx);
void routes_health_metrics(struct http_ctx *ctx);

#endif
