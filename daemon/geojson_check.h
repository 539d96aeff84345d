/*
 * Checks of GeoJSON areas sent by clients: a Polygon or MultiPolygon whose
 * rings are closed, have four positions or more, lie in range and enclose an
 * area. An altitude (a third number, which RFC 7946 allows) is dropped.
 */
#ifndef SAFETY_GEOJSON_CHECK_H
#define SAFETY_GEOJSON_CHECK_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * True when area is a well-formed GeoJSON Polygon or MultiPolygon in [lon, lat]
 * (an altitude after them is removed from area, as the areas stored are flat); else
 * false and, when why is not NULL, what is wrong and where ("area: polygon 1, ring 0:
 * not closed ...").
 */
bool geojson_area_check(cJSON *area, char *why, size_t why_size);

/* geojson_area_check without the reason. */
bool geojson_area_ok(cJSON *area);

#endif
