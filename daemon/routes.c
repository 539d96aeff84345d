/* Every route of safetyd in one table: the place to read what the server answers. */
#include "routes.h"

#include <stddef.h>

#define PUBLIC HTTP_ROUTE_PUBLIC
#define SCHEMA HTTP_ROUTE_NEEDS_SCHEMA
#define SCOPED HTTP_ROUTE_MISSION_SCOPED
#define LIMITED HTTP_ROUTE_RATE_LIMITED

const struct http_route routes_table[] = {
	{"healthz", EVHTTP_REQ_GET, "/healthz", routes_health_healthz, SF_PERM_NONE, PUBLIC},
	{"readyz", EVHTTP_REQ_GET, "/readyz", routes_health_readyz, SF_PERM_NONE, PUBLIC},
	{"metrics", EVHTTP_REQ_GET, "/metrics", routes_health_metrics, SF_PERM_NONE, PUBLIC},
	{"session_login", EVHTTP_REQ_POST, "/api/v1/session", routes_session_login, SF_PERM_NONE,
	 PUBLIC | SCHEMA | LIMITED},
	{"session_logout", EVHTTP_REQ_DELETE, "/api/v1/session", routes_session_logout, SF_PERM_READ,
	 SCHEMA | SCOPED},
	{"session_whoami", EVHTTP_REQ_GET, "/api/v1/session", routes_session_whoami, SF_PERM_READ,
	 SCHEMA | SCOPED},
	{"users_list", EVHTTP_REQ_GET, "/api/v1/users", routes_users_list, SF_PERM_USER_MANAGE,
	 SCHEMA | SCOPED},
	{"users_create", EVHTTP_REQ_POST, "/api/v1/users", routes_users_create, SF_PERM_USER_MANAGE,
	 SCHEMA | SCOPED},
	{"users_get", EVHTTP_REQ_GET, "/api/v1/users/{id}", routes_users_get, SF_PERM_USER_MANAGE,
	 SCHEMA | SCOPED},
	{"users_update", EVHTTP_REQ_PATCH, "/api/v1/users/{id}", routes_users_update,
	 SF_PERM_USER_MANAGE, SCHEMA | SCOPED},
	{"missions_list", EVHTTP_REQ_GET, "/api/v1/missions", routes_missions_list, SF_PERM_READ,
	 SCHEMA | SCOPED},
	{"missions_create", EVHTTP_REQ_POST, "/api/v1/missions", routes_missions_create,
	 SF_PERM_ADMIN, SCHEMA},
	{"missions_get", EVHTTP_REQ_GET, "/api/v1/missions/{id}", routes_missions_get, SF_PERM_READ,
	 SCHEMA | SCOPED},
	{"apikeys_list", EVHTTP_REQ_GET, "/api/v1/apikeys", routes_apikeys_list, SF_PERM_ADMIN,
	 SCHEMA},
	{"apikeys_create", EVHTTP_REQ_POST, "/api/v1/apikeys", routes_apikeys_create, SF_PERM_ADMIN,
	 SCHEMA},
	{"apikeys_revoke", EVHTTP_REQ_DELETE, "/api/v1/apikeys/{id}", routes_apikeys_revoke,
	 SF_PERM_ADMIN, SCHEMA},
	{"audit_list", EVHTTP_REQ_GET, "/api/v1/audit", routes_audit_list, SF_PERM_AUDIT_READ,
	 SCHEMA | SCOPED},
	{"nationals_list", EVHTTP_REQ_GET, "/api/v1/nationals", routes_nationals_list, SF_PERM_READ,
	 SCHEMA | SCOPED},
	{"nationals_create", EVHTTP_REQ_POST, "/api/v1/nationals", routes_nationals_create,
	 SF_PERM_NATIONAL_WRITE, SCHEMA | SCOPED},
	{"nationals_import", EVHTTP_REQ_POST, "/api/v1/nationals/import", routes_nationals_import,
	 SF_PERM_NATIONAL_WRITE, SCHEMA | SCOPED},
	{"nationals_export", EVHTTP_REQ_GET, "/api/v1/nationals/export.csv", routes_nationals_export,
	 SF_PERM_READ, SCHEMA | SCOPED},
	{"nationals_in_area", EVHTTP_REQ_POST, "/api/v1/nationals/in-area", routes_nationals_in_area,
	 SF_PERM_READ, SCHEMA | SCOPED},
	{"nationals_get", EVHTTP_REQ_GET, "/api/v1/nationals/{id}", routes_nationals_get,
	 SF_PERM_READ, SCHEMA | SCOPED},
	{"nationals_update", EVHTTP_REQ_PATCH, "/api/v1/nationals/{id}", routes_nationals_update,
	 SF_PERM_NATIONAL_WRITE, SCHEMA | SCOPED},
	{"nationals_delete", EVHTTP_REQ_DELETE, "/api/v1/nationals/{id}", routes_nationals_delete,
	 SF_PERM_NATIONAL_WRITE, SCHEMA | SCOPED},
	{NULL, 0, NULL, NULL, SF_PERM_NONE, 0},
};
