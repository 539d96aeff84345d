/*
 * Request counters and their rendering in the Prometheus text exposition
 * format (version 0.0.4). Series are few (routes × statuses) so a linear
 * table is enough.
 */
#include "metrics.h"

#include "build_info.h"
#include "db_pool.h"

#include <event2/buffer.h>
#include <string.h>

/* Counts one answered request. */
void
metrics_count_request(struct metrics *m, const char *route, int status, double seconds)
{
	for (int i = 0; i < m->nseries; i++) {
		struct metrics_series *s = &m->series[i];
		if (s->status == status && strcmp(s->route, route) == 0) {
			s->count++;
			s->seconds_sum += seconds;
			return;
		}
	}
	if (m->nseries == METRICS_MAX_SERIES)
		return;
	m->series[m->nseries].route = route;
	m->series[m->nseries].status = status;
	m->series[m->nseries].count = 1;
	m->series[m->nseries].seconds_sum = seconds;
	m->nseries++;
}

/* Writes every metric. */
void
metrics_render(const struct metrics *m, const struct db_pool_stats *db, double uptime_s,
               int inflight, int schema_version, int schema_ok, struct evbuffer *out)
{
	evbuffer_add_printf(out,
	                    "# HELP safety_build_info Build of this safetyd.\n"
	                    "# TYPE safety_build_info gauge\n"
	                    "safety_build_info{version=\"%s\",schema=\"%d\"} 1\n",
	                    SAFETY_VERSION, SAFETY_SCHEMA_VERSION);
	evbuffer_add_printf(out,
	                    "# HELP safety_uptime_seconds Seconds since safetyd started.\n"
	                    "# TYPE safety_uptime_seconds gauge\n"
	                    "safety_uptime_seconds %.3f\n",
	                    uptime_s);
	evbuffer_add_printf(
	    out,
	    "# HELP safety_schema_version Newest migration applied to the database.\n"
	    "# TYPE safety_schema_version gauge\n"
	    "safety_schema_version %d\n"
	    "# HELP safety_schema_ok 1 when the schema is current for this build.\n"
	    "# TYPE safety_schema_ok gauge\n"
	    "safety_schema_ok %d\n",
	    schema_version, schema_ok);
	evbuffer_add_printf(out,
	                    "# HELP safety_http_requests_in_flight Requests not yet answered.\n"
	                    "# TYPE safety_http_requests_in_flight gauge\n"
	                    "safety_http_requests_in_flight %d\n",
	                    inflight);
	evbuffer_add_printf(out, "# HELP safety_http_requests_total Requests answered, by route "
	                         "and status.\n# TYPE safety_http_requests_total counter\n");
	for (int i = 0; i < m->nseries; i++)
		evbuffer_add_printf(out,
		                    "safety_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
		                    m->series[i].route, m->series[i].status,
		                    (unsigned long long)m->series[i].count);
	evbuffer_add_printf(out,
	                    "# HELP safety_http_request_seconds_sum Time spent answering, by "
	                    "route and status.\n# TYPE safety_http_request_seconds_sum counter\n");
	for (int i = 0; i < m->nseries; i++)
		evbuffer_add_printf(
		    out, "safety_http_request_seconds_sum{route=\"%s\",status=\"%d\"} %.6f\n",
		    m->series[i].route, m->series[i].status, m->series[i].seconds_sum);
	evbuffer_add_printf(out,
	                    "# HELP safety_db_pool_connections Database connections by state.\n"
	                    "# TYPE safety_db_pool_connections gauge\n"
	                    "safety_db_pool_connections{state=\"configured\"} %d\n"
	                    "safety_db_pool_connections{state=\"connected\"} %d\n"
	                    "safety_db_pool_connections{state=\"busy\"} %d\n"
	                    "# HELP safety_db_pool_waiting Queries waiting for a connection.\n"
	                    "# TYPE safety_db_pool_waiting gauge\n"
	                    "safety_db_pool_waiting %d\n"
	                    "# HELP safety_db_up 1 when the database is reachable.\n"
	                    "# TYPE safety_db_up gauge\n"
	                    "safety_db_up %d\n",
	                    db->size, db->connected, db->busy, db->waiting,
	                    db->connected > 0 ? 1 : 0);
	evbuffer_add_printf(
	    out,
	    "# HELP safety_db_queries_total Queries by outcome.\n"
	    "# TYPE safety_db_queries_total counter\n"
	    "safety_db_queries_total{outcome=\"ok\"} %llu\n"
	    "safety_db_queries_total{outcome=\"sql_error\"} %llu\n"
	    "safety_db_queries_total{outcome=\"unavailable\"} %llu\n"
	    "safety_db_queries_total{outcome=\"refused\"} %llu\n"
	    "# HELP safety_db_connects_total Successful connects.\n"
	    "# TYPE safety_db_connects_total counter\n"
	    "safety_db_connects_total %llu\n"
	    "# HELP safety_db_disconnects_total Connections lost.\n"
	    "# TYPE safety_db_disconnects_total counter\n"
	    "safety_db_disconnects_total %llu\n",
	    (unsigned long long)db->queries_ok, (unsigned long long)db->queries_sql_error,
	    (unsigned long long)db->queries_unavailable, (unsigned long long)db->queries_refused,
	    (unsigned long long)db->connects, (unsigned long long)db->disconnects);
	evbuffer_add_printf(out, "# HELP safety_db_query_duration_seconds Time from queueing to "
	                         "result.\n# TYPE safety_db_query_duration_seconds histogram\n");
	for (int i = 0; i < DB_LATENCY_BUCKETS; i++)
		evbuffer_add_printf(
		    out, "safety_db_query_duration_seconds_bucket{le=\"%g\"} %llu\n",
		    db_latency_bounds_ms[i] / 1000.0, (unsigned long long)db->latency_bucket[i]);
	evbuffer_add_printf(out,
	                    "safety_db_query_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
	                    "safety_db_query_duration_seconds_sum %.6f\n"
	                    "safety_db_query_duration_seconds_count %llu\n",
	                    (unsigned long long)db->latency_count, db->latency_sum_ms / 1000.0,
	                    (unsigned long long)db->latency_count);
	evbuffer_add_printf(out,
	                    "# HELP safety_http_connections_refused_total Connections refused over "
	                    "the cap.\n# TYPE safety_http_connections_refused_total counter\n"
	                    "safety_http_connections_refused_total %llu\n",
	                    (unsigned long long)m->connections_refused);
}
