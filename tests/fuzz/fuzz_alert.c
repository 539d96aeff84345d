/*
 * Fuzz target of the alert parsers: any bytes go to the CAP, USGS, GDACS and
 * sniffing entry points. A refusal must come with a message naming its
 * source and no output; an alert must hold a proposal the database takes:
 * a title of valid UTF-8 within its limit, a severity of 1 to 5, GeoJSON that
 * parses as a MultiPolygon in range, circles with valid centres and radii.
 * Built and run by tests/fuzz/run.sh, seeded with tests/data/alerts.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <unistr.h>

#include <safety/alert.h>
#include <safety/error.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts unless s is NULL or valid UTF-8 of at most max bytes. */
static void
check_text(const char *s, size_t max)
{
	if (s == NULL)
		return;
	if (strlen(s) > max || u8_check((const uint8_t *)s, strlen(s)) != NULL)
		abort();
}

/* Aborts unless the GeoJSON is a MultiPolygon of n closed rings of at least 4 points in range. */
static void
check_geojson(const char *text, size_t n)
{
	cJSON *root = cJSON_Parse(text), *coords, *polygon;

	if (root == NULL || !cJSON_IsString(cJSON_GetObjectItem(root, "type")) ||
	    strcmp(cJSON_GetObjectItem(root, "type")->valuestring, "MultiPolygon") != 0)
		abort();
	coords = cJSON_GetObjectItem(root, "coordinates");
	if ((size_t)cJSON_GetArraySize(coords) != n)
		abort();
	cJSON_ArrayForEach(polygon, coords)
	{
		const cJSON *ring = cJSON_GetArrayItem(polygon, 0), *point;

		if (cJSON_GetArraySize(ring) < 4)
			abort();
		cJSON_ArrayForEach(point, ring)
		{
			double lon = cJSON_GetArrayItem(point, 0)->valuedouble;
			double lat = cJSON_GetArrayItem(point, 1)->valuedouble;

			if (!(lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90))
				abort();
		}
	}
	cJSON_Delete(root);
}

/* Aborts unless an alert holds a proposal the crisis table would take. */
static void
check_alert(const struct sf_alert *a)
{
	if (a->title == NULL || a->title[0] == '\0' || a->source_ref == NULL)
		abort();
	check_text(a->title, SF_ALERT_TITLE_MAX);
	check_text(a->description, SF_ALERT_DESCRIPTION_MAX);
	check_text(a->source_ref, SIZE_MAX);
	check_text(a->url, SIZE_MAX);
	if (a->severity < 1 || a->severity > 5 || (unsigned)a->kind > SF_ALERT_KIND_OTHER)
		abort();
	if (a->n_infos > 0 && a->chosen_info >= a->n_infos)
		abort();
	if ((a->area_geojson == NULL) != (a->n_polygons == 0))
		abort();
	if (a->area_geojson != NULL)
		check_geojson(a->area_geojson, a->n_polygons);
	for (size_t i = 0; i < a->n_circles; i++) {
		const struct sf_alert_circle *c = &a->circles[i];

		if (!(c->radius_m >= SF_ALERT_MIN_RADIUS_M && c->radius_m <= 5000000) ||
		    !(fabs(c->center.lat) <= 90 && fabs(c->center.lon) <= 180))
			abort();
	}
	for (size_t i = 0; i < a->n_infos; i++)
		for (size_t j = 0; j < a->infos[i].n_areas; j++)
			if (a->infos[i].areas[j].geojson != NULL)
				check_geojson(a->infos[i].areas[j].geojson,
				              a->infos[i].areas[j].n_polygons);
}

/* Aborts unless a list's alerts are sound. */
static void
check_list(const struct sf_alert_list *list)
{
	if (list->n > SF_ALERT_FEED_MAX)
		abort();
	for (size_t i = 0; i < list->n; i++)
		check_alert(&list->alerts[i]);
}

/* Aborts unless a refusal has a message with one of the sources' prefixes. */
static void
check_refusal(int rc, const char *err)
{
	if (rc != SF_EINVAL && rc != SF_ENOMEM)
		abort();
	if (strncmp(err, "cap: ", 5) != 0 && strncmp(err, "usgs: ", 6) != 0 &&
	    strncmp(err, "gdacs: ", 7) != 0 && strncmp(err, "alert: ", 7) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct sf_alert_list *list;
	struct sf_alert *alert;
	char err[512];
	int rc;

	err[0] = '\0';
	alert = (struct sf_alert *)1;
	rc = sf_alert_parse_cap(text, size, &alert, err, sizeof err);
	if (rc == SF_OK) {
		check_alert(alert);
		sf_alert_free(alert);
	} else if (alert != NULL) {
		abort();
	} else {
		check_refusal(rc, err);
	}

	err[0] = '\0';
	rc = sf_alert_parse_usgs(text, size, &list, err, sizeof err);
	if (rc == SF_OK)
		check_list(list);
	else
		check_refusal(rc, err);
	sf_alert_list_free(list);

	err[0] = '\0';
	rc = sf_alert_parse_gdacs(text, size, &list, err, sizeof err);
	if (rc == SF_OK)
		check_list(list);
	else
		check_refusal(rc, err);
	sf_alert_list_free(list);

	err[0] = '\0';
	rc = sf_alert_parse_any(text, size, &list, err, sizeof err);
	if (rc == SF_OK)
		check_list(list);
	else
		check_refusal(rc, err);
	sf_alert_list_free(list);
	return 0;
}
