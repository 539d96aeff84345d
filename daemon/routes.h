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

/* routes_session.c */
void routes_session_login(struct http_ctx *ctx);
void routes_session_logout(struct http_ctx *ctx);
void routes_session_whoami(struct http_ctx *ctx);
/* Makes the hash unknown users are checked against, on a password worker. */
void routes_session_warm(struct daemon *d);

/* routes_users.c */
void routes_users_list(struct http_ctx *ctx);
void routes_users_get(struct http_ctx *ctx);
void routes_users_create(struct http_ctx *ctx);
void routes_users_update(struct http_ctx *ctx);

/* routes_admin.c */
void routes_missions_list(struct http_ctx *ctx);
void routes_missions_get(struct http_ctx *ctx);
void routes_missions_create(struct http_ctx *ctx);
void routes_apikeys_list(struct http_ctx *ctx);
void routes_apikeys_create(struct http_ctx *ctx);
void routes_apikeys_revoke(struct http_ctx *ctx);
void routes_audit_list(struct http_ctx *ctx);

/* routes_nationals.c */
void routes_nationals_list(struct http_ctx *ctx);
void routes_nationals_get(struct http_ctx *ctx);
void routes_nationals_update(struct http_ctx *ctx);
void routes_nationals_delete(struct http_ctx *ctx);
void routes_nationals_restore(struct http_ctx *ctx);
void routes_nationals_in_area(struct http_ctx *ctx);
void routes_nationals_export(struct http_ctx *ctx);
void routes_nationals_duress(struct http_ctx *ctx);

/* routes_import.c */
void routes_nationals_import(struct http_ctx *ctx);
void routes_nationals_create(struct http_ctx *ctx);

/* routes_crises.c */
void routes_crises_list(struct http_ctx *ctx);
void routes_crises_get(struct http_ctx *ctx);
void routes_crises_create(struct http_ctx *ctx);
void routes_crises_update(struct http_ctx *ctx);
void routes_crises_call_list(struct http_ctx *ctx);
void routes_campaigns_launch(struct http_ctx *ctx);
void routes_campaigns_reask_unreachable(struct http_ctx *ctx);
void routes_routes_list(struct http_ctx *ctx);

/* routes_status.c */
void routes_status_counts(struct http_ctx *ctx);
void routes_status_people(struct http_ctx *ctx);
void routes_status_staff_entry(struct http_ctx *ctx);
void routes_status_points(struct http_ctx *ctx);
void routes_status_person(struct http_ctx *ctx);
void routes_status_assign(struct http_ctx *ctx);
void routes_status_staff(struct http_ctx *ctx);

/* routes_reply.c */
void routes_reply_page(struct http_ctx *ctx);
void routes_reply_post(struct http_ctx *ctx);

/* plans.c */
void routes_plans_create(struct http_ctx *ctx);
void routes_plans_get(struct http_ctx *ctx);
void routes_plans_publish(struct http_ctx *ctx);
void routes_plans_move(struct http_ctx *ctx);
void routes_plans_cancel(struct http_ctx *ctx);
/* Gives up the plans a stopped run of this server left running; and this run's, at its stop. */
void plans_start(struct daemon *d);
void plans_stop(struct daemon *d);
/* False while a stop's sweep is being written. */
bool plans_settled(void);
struct evbuffer;
void plans_metrics(struct evbuffer *out);

/* routes_pfif.c */
void routes_pfif_release(struct http_ctx *ctx);
void routes_pfif_import(struct http_ctx *ctx);
void routes_feed_pfif(struct http_ctx *ctx);

/* routes_shelters.c */
void routes_shelters_list(struct http_ctx *ctx);
void routes_shelters_create(struct http_ctx *ctx);
void routes_shelters_update(struct http_ctx *ctx);
void routes_regions_list(struct http_ctx *ctx);

/* routes_itineraries.c */
void routes_itineraries_import(struct http_ctx *ctx);

/* routes_registrations.c */
void routes_registrations_list(struct http_ctx *ctx);
void routes_registrations_merge(struct http_ctx *ctx);
void routes_registrations_unmerge(struct http_ctx *ctx);

/* routes_register.c */
void routes_register_page(struct http_ctx *ctx);
void routes_register_post(struct http_ctx *ctx);
void routes_register_manage(struct http_ctx *ctx);
void routes_register_update(struct http_ctx *ctx);
void routes_register_verify(struct http_ctx *ctx);
void routes_register_resend(struct http_ctx *ctx);
void routes_register_delete(struct http_ctx *ctx);
void routes_register_lost_page(struct http_ctx *ctx);
void routes_register_lost(struct http_ctx *ctx);
void routes_register_metrics(struct evbuffer *out);

/* web_assets.c */
void routes_static(struct http_ctx *ctx);
void routes_app(struct http_ctx *ctx);

/* routes_hooks.c */
void routes_hooks_kannel_dlr(struct http_ctx *ctx);
void routes_hooks_kannel_mo(struct http_ctx *ctx);
void routes_hooks_twilio_status(struct http_ctx *ctx);
void routes_hooks_twilio_mo(struct http_ctx *ctx);

#endif
