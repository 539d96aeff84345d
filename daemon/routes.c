/* Every route of safetyd in one table: the place to read what the server answers. */
#include "routes.h"

#include <stddef.h>

const struct http_route routes_table[] = {
	{"healthz", EVHTTP_REQ_GET, "/healthz", routes_health_healthz, 0},
	{"readyz", EVHTTP_REQ_GET, "/readyz", routes_health_readyz, 0},
	{"metrics", EVHTTP_REQ_GET, "/metrics", routes_health_metrics, 0},
	{NULL, 0, NULL, NULL, 0},
};
