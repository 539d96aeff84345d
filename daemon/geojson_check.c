/* Shape checks of client GeoJSON before it reaches PostGIS, so a bad area is a 400 that says what
 * is wrong and where, not an error deep in SQL. */
#include "geojson_check.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define GEOJSON_RING_MAX 100000

/* Where in the area a fault is: "polygon 1, ring 0" (MultiPolygon) or "ring 0" (Polygon). */
struct geojson_where {
	int polygon; /* -1: the area is a Polygon */
	int ring;
};

/* Writes "area: [polygon P, ]ring R[, position N]: " and the reason into why. */
static bool geojson_fault(char *why, size_t why_size, const struct geojson_where *w, int position,
                          const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static bool
geojson_fault(char *why, size_t why_size, const struct geojson_where *w, int position,
              const char *fmt, ...)
{
	char place[96], reason[224];
	va_list ap;

	if (why == NULL || why_size == 0)
		return false;
	place[0] = '\0';
	if (w != NULL && w->polygon >= 0)
		snprintf(place, sizeof place, "polygon %d, ", w->polygon);
	if (w != NULL)
		snprintf(place + strlen(place), sizeof place - strlen(place), "ring %d%s", w->ring,
		         position >= 0 ? ", " : ": ");
	if (position >= 0)
		snprintf(place + strlen(place), sizeof place - strlen(place),
		         "position %d: ", position);
	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	snprintf(why, why_size, "area: %s%s", place, reason);
	return false;
}

/*
 * True when every position of the ring lies on one line (or is one point): such a ring
 * has no area, and PostGIS would make a line or a point of it, not a polygon.
 */
static bool
geojson_ring_flat(const cJSON *ring, bool *one_point)
{
	const cJSON *pos;
	double ax = 0, ay = 0, bx = 0, by = 0, blen = 0;
	bool have_a = false, have_b = false;

	*one_point = true;
	cJSON_ArrayForEach(pos, ring)
	{
		double x = cJSON_GetArrayItem(pos, 0)->valuedouble;
		double y = cJSON_GetArrayItem(pos, 1)->valuedouble;

		if (!have_a) {
			ax = x;
			ay = y;
			have_a = true;
		} else if (!have_b) {
			if (x != ax || y != ay) {
				bx = x - ax;
				by = y - ay;
				blen = hypot(bx, by);
				have_b = true;
				*one_point = false;
			}
		} else {
			/* Off the line through the first two distinct points, beyond rounding. */
			double px = x - ax, py = y - ay;
			if (fabs(bx * py - by * px) > 1e-12 * blen * hypot(px, py))
				return false;
		}
	}
	return true;
}

/* Checks a GeoJSON Polygon's rings: closed, four positions or more, in range, with an area. */
static bool
geojson_polygon_check(const cJSON *rings, int polygon, char *why, size_t why_size)
{
	struct geojson_where w = {polygon, 0};
	const cJSON *ring, *pos;

	if (!cJSON_IsArray(rings) || cJSON_GetArraySize(rings) < 1) {
		if (polygon >= 0)
			return geojson_fault(why, why_size, NULL, -1,
			                     "polygon %d: not a list of one ring or more", polygon);
		return geojson_fault(why, why_size, NULL, -1,
		                     "coordinates: not a list of one ring or more");
	}
	cJSON_ArrayForEach(ring, rings)
	{
		int n = cJSON_GetArraySize(ring), i = 0;
		const cJSON *first, *last;
		bool one_point;

		if (!cJSON_IsArray(ring))
			return geojson_fault(why, why_size, &w, -1, "not a list of positions");
		if (n < 4)
			return geojson_fault(why, why_size, &w, -1,
			                     "%d position%s; a ring needs 4 or more, the last "
			                     "repeating the first",
			                     n, n == 1 ? "" : "s");
		if (n > GEOJSON_RING_MAX)
			return geojson_fault(why, why_size, &w, -1, "more than %d positions",
			                     GEOJSON_RING_MAX);
		cJSON_ArrayForEach(pos, ring)
		{
			const cJSON *lon = cJSON_GetArrayItem(pos, 0),
			            *lat = cJSON_GetArrayItem(pos, 1);
			const cJSON *alt = cJSON_GetArrayItem(pos, 2);
			int size = cJSON_GetArraySize(pos);

			if (!cJSON_IsArray(pos) || !cJSON_IsNumber(lon) || !cJSON_IsNumber(lat) ||
			    size > 3 || (size == 3 && !cJSON_IsNumber(alt)))
				return geojson_fault(why, why_size, &w, i,
				                     "not [lon, lat] or [lon, lat, altitude]");
			if (lon->valuedouble < -180 || lon->valuedouble > 180 ||
			    lat->valuedouble < -90 || lat->valuedouble > 90)
				return geojson_fault(why, why_size, &w, i,
				                     "[%g, %g] out of range (lon -180 to 180, lat "
				                     "-90 to 90; GeoJSON puts lon first)",
				                     lon->valuedouble, lat->valuedouble);
			i++;
		}
		first = cJSON_GetArrayItem(ring, 0);
		last = cJSON_GetArrayItem(ring, n - 1);
		if (cJSON_GetArrayItem(first, 0)->valuedouble !=
		        cJSON_GetArrayItem(last, 0)->valuedouble ||
		    cJSON_GetArrayItem(first, 1)->valuedouble !=
		        cJSON_GetArrayItem(last, 1)->valuedouble)
			return geojson_fault(why, why_size, &w, -1,
			                     "not closed: the last position must repeat the first");
		if (geojson_ring_flat(ring, &one_point))
			return geojson_fault(why, why_size, &w, -1,
			                     one_point ? "all its positions are the same point, so "
			                                 "it has no area"
			                               : "all its positions lie on one line, so it "
			                                 "has no area");
		w.ring++;
	}
	return true;
}

/* Drops the altitude of every position of a checked Polygon's rings. */
static void
geojson_polygon_2d(cJSON *rings)
{
	cJSON *ring, *pos;

	cJSON_ArrayForEach(ring, rings)
	{
		cJSON_ArrayForEach(pos, ring)
		{
			if (cJSON_GetArraySize(pos) > 2)
				cJSON_DeleteItemFromArray(pos, 2);
		}
	}
}

bool
geojson_area_check(cJSON *area, char *why, size_t why_size)
{
	cJSON *type = cJSON_GetObjectItemCaseSensitive(area, "type");
	cJSON *coords = cJSON_GetObjectItemCaseSensitive(area, "coordinates");
	cJSON *poly;
	int i = 0;

	if (!cJSON_IsObject(area) || !cJSON_IsString(type))
		return geojson_fault(why, why_size, NULL, -1,
		                     "a GeoJSON object with \"type\" Polygon or MultiPolygon");
	if (strcmp(type->valuestring, "Polygon") == 0) {
		if (!geojson_polygon_check(coords, -1, why, why_size))
			return false;
		geojson_polygon_2d(coords);
		return true;
	}
	if (strcmp(type->valuestring, "MultiPolygon") != 0)
		return geojson_fault(why, why_size, NULL, -1,
		                     "type %.40s; a Polygon or MultiPolygon is needed",
		                     type->valuestring);
	if (!cJSON_IsArray(coords) || cJSON_GetArraySize(coords) < 1)
		return geojson_fault(why, why_size, NULL, -1,
		                     "coordinates: not a list of one polygon or more");
	cJSON_ArrayForEach(poly, coords)
	{
		if (!geojson_polygon_check(poly, i++, why, why_size))
			return false;
	}
	cJSON_ArrayForEach(poly, coords)
	{
		geojson_polygon_2d(poly);
	}
	return true;
}

bool
geojson_area_ok(cJSON *area)
{
	return geojson_area_check(area, NULL, 0);
}
