/*
 * Fuzz target of coordinates: any bytes as typed text, geo: URI and map link
 * must give a valid point that reads back the same, or an error with a
 * message; the same bytes as doubles exercise the GeoJSON entry point, the
 * distance and the point-in-ring test. Nothing may crash or leak.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/geo.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Checks a parsed point is valid and that printing and reading it again gives it back. */
static void
check_point(const struct sf_point *p)
{
	struct sf_point again;
	char text[64];

	if (sf_point_validate(p, NULL, 0) != 0)
		abort();
	snprintf(text, sizeof text, "%.17f, %.17f", p->lat, p->lon);
	if (sf_point_parse_latlon(text, &again, NULL, 0) != 0 || fabs(again.lat - p->lat) > 1e-9 ||
	    fabs(again.lon - p->lon) > 1e-9)
		abort();
	if (!isfinite(sf_geo_distance_m(p, &again)))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *input = malloc(size + 1), err[256];
	struct sf_point p, ring[8];
	double accuracy, d[2];
	bool inside;
	size_t n;

	if (input == NULL)
		return 0;
	memcpy(input, data, size);
	input[size] = '\0';
	err[0] = '\0';
	if (sf_point_parse_latlon(input, &p, err, sizeof err) == 0)
		check_point(&p);
	else if (strncmp(err, "geo: ", 5) != 0)
		abort();
	err[0] = '\0';
	if (sf_point_parse_geo_uri(input, &p, &accuracy, err, sizeof err) == 0) {
		check_point(&p);
		if (!(accuracy == -1 || accuracy >= 0))
			abort();
	} else if (strncmp(err, "geo: ", 5) != 0) {
		abort();
	}
	err[0] = '\0';
	if (sf_point_parse_maps_link(input, &p, err, sizeof err) == 0)
		check_point(&p);
	else if (strncmp(err, "geo: ", 5) != 0)
		abort();

	if (size >= 16) {
		memcpy(d, data, 16);
		if (sf_point_from_geojson_position(d[0], d[1], &p, NULL, 0) == 0) {
			check_point(&p);
			if (sf_point_to_geojson_position(&p, d) != 0 || d[1] != p.lat)
				abort();
		}
	}
	n = size / 16 < 8 ? size / 16 : 8;
	for (size_t i = 0; i < n; i++) {
		memcpy(&ring[i].lat, data + 16 * i, 8);
		memcpy(&ring[i].lon, data + 16 * i + 8, 8);
	}
	if (n >= 4) {
		int rc = sf_geo_point_in_ring(&ring[0], ring + 1, n - 1, &inside);

		if (rc != 0 && rc != SF_EINVAL && rc != SF_ERANGE)
			abort();
		if (rc == 0)
			(void)sf_geo_distance_m(&ring[0], &ring[1]);
	}
	free(input);
	return 0;
}
