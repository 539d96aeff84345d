/* Shape checks of client GeoJSON before it reaches PostGIS, so a bad area is a 400, not an error
 * deep in SQL. */
#include "geojson_check.h"

#include <string.h>

/* Checks a GeoJSON Polygon's rings: closed, four positions or more, in range. */
static bool
geojson_polygon_ok(cJSON *rings)
{
	cJSON *ring, *pos;

	if (!cJSON_IsArray(rings) || cJSON_GetArraySize(rings) < 1)
		return false;
	cJSON_ArrayForEach(ring, rings)
	{
		int n = cJSON_GetArraySize(ring);
		cJSON *first, *last;

		if (!cJSON_IsArray(ring) || n < 4 || n > 100000)
			return false;
		cJSON_ArrayForEach(pos, ring)
		{
			cJSON *lon = cJSON_GetArrayItem(pos, 0), *lat = cJSON_GetArrayItem(pos, 1);
			if (!cJSON_IsArray(pos) || !cJSON_IsNumber(lon) || !cJSON_IsNumber(lat) ||
			    lon->valuedouble < -180 || lon->valuedouble > 180 ||
			    lat->valuedouble < -90 || lat->valuedouble > 90)
				return false;
		}
		first = cJSON_GetArrayItem(ring, 0);
		last = cJSON_GetArrayItem(ring, n - 1);
		if (cJSON_GetArrayItem(first, 0)->valuedouble !=
		        cJSON_GetArrayItem(last, 0)->valuedouble ||
		    cJSON_GetArrayItem(first, 1)->valuedouble !=
		        cJSON_GetArrayItem(last, 1)->valuedouble)
			return false;
	}
	return true;
}

/* Checks a GeoJSON Polygon or MultiPolygon. */
bool
geojson_area_ok(cJSON *area)
{
	cJSON *type = cJSON_GetObjectItemCaseSensitive(area, "type");
	cJSON *coords = cJSON_GetObjectItemCaseSensitive(area, "coordinates");
	cJSON *poly;

	if (!cJSON_IsString(type))
		return false;
	if (strcmp(type->valuestring, "Polygon") == 0)
		return geojson_polygon_ok(coords);
	if (strcmp(type->valuestring, "MultiPolygon") != 0 || !cJSON_IsArray(coords) ||
	    cJSON_GetArraySize(coords) < 1)
		return false;
	cJSON_ArrayForEach(poly, coords)
	{
		if (!geojson_polygon_ok(poly))
			return false;
	}
	return true;
}
