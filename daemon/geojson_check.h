/*
 * Checks of GeoJSON areas sent by clients: a Polygon or MultiPolygon whose
 * rings are closed, have four positions or more, and lie in range.
 */
#ifndef SAFETY_GEOJSON_CHECK_H
#define SAFETY_GEOJSON_CHECK_H

#include <cjson/cJSON.h>
#include <stdbool.h>

/* True when area is a well-formed GeoJSON Polygon or MultiPolygon in [lon, lat]. */
bool geojson_area_ok(cJSON *area);

#endif
