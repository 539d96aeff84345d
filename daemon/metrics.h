/*
 * Counters behind /metrics: requests by route and status. The database pool
 * keeps its own figures; metrics_render puts both in Prometheus text format.
 */
#ifndef SAFETY_METRICS_H
#define SAFETY_METRICS_H

#include <stdint.h>

struct evbuffer;
struct db_pool_stats;

#define METRICS_MAX_SERIES 512

struct metrics_series {
	const char *route; /* static route name */
	int status;
	uint64_t count;
	double seconds_sum;
};

struct metrics {
	struct metrics_series series[METRICS_MAX_SERIES];
	int nseries;
	uint64_t connections_refused;
};

/* Counts one answered request. */
void metrics_count_request(struct metrics *m, const char *route, int status, double seconds);

/* Writes the exposition text. */
void metrics_render(const struct metrics *m, const struct db_pool_stats *db, double uptime_s,
                    int inflight, int schema_version, int schema_ok, struct evbuffer *out);

#endif
