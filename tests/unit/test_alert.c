/*
 * Unit tests of alerts into proposed crises: the real CAP, USGS and GDACS
 * files in tests/data/alerts (the 2023 Türkiye earthquake among them), then
 * tables of broken and hostile documents, each of which must be refused with
 * a message naming the element or field, and the earthquake rules.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libxml/xmlerror.h>
#include <unistd.h>

#include <safety/alert.h>
#include <safety/error.h>
#include <safety/geo.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))
#include "testdata.h"

#define DATA SAFETY_TEST_DATA_DIR "/alerts/"

/* Reads a test file whole; the caller frees it. */
static char *
slurp(const char *name, size_t *len)
{
	return testdata_slurp(DATA, name, len);
}

/* Parses a CAP test file; fails the test with the message if it is refused. */
static struct sf_alert *
cap_file(const char *name)
{
	struct sf_alert *a = NULL;
	char err[512] = "";
	size_t len;
	char *xml = slurp(name, &len);

	if (sf_alert_parse_cap(xml, len, &a, err, sizeof err) != SF_OK)
		fail_msg("%s: %s", name, err);
	free(xml);
	assert_non_null(a);
	return a;
}

/* Parses a CAP string; returns the code and leaves the message in err. */
static int
cap_string(const char *xml, struct sf_alert **out, char *err, size_t errsz)
{
	return sf_alert_parse_cap(xml, strlen(xml), out, err, errsz);
}

/* Returns the signed area of a GeoJSON ring ([lon, lat] pairs); positive is counter-clockwise. */
static double
ring_area(const cJSON *ring)
{
	double area = 0;
	int n = cJSON_GetArraySize(ring);

	for (int i = 0; i + 1 < n; i++) {
		const cJSON *p = cJSON_GetArrayItem(ring, i), *q = cJSON_GetArrayItem(ring, i + 1);

		area +=
		    cJSON_GetArrayItem(p, 0)->valuedouble * cJSON_GetArrayItem(q, 1)->valuedouble -
		    cJSON_GetArrayItem(q, 0)->valuedouble * cJSON_GetArrayItem(p, 1)->valuedouble;
	}
	return area / 2;
}

/* Checks that text is a GeoJSON MultiPolygon of n polygons, closed, CCW, lon first in range. */
static cJSON *
check_multipolygon(const char *text, int n)
{
	cJSON *root = cJSON_Parse(text), *coords, *polygon;

	assert_non_null(root);
	assert_string_equal(cJSON_GetObjectItem(root, "type")->valuestring, "MultiPolygon");
	coords = cJSON_GetObjectItem(root, "coordinates");
	assert_int_equal(cJSON_GetArraySize(coords), n);
	cJSON_ArrayForEach(polygon, coords)
	{
		const cJSON *ring = cJSON_GetArrayItem(polygon, 0), *point;
		int k = cJSON_GetArraySize(ring);

		assert_true(k >= 4);
		assert_true(ring_area(ring) > 0);
		assert_true(cJSON_GetArrayItem(cJSON_GetArrayItem(ring, 0), 0)->valuedouble ==
		            cJSON_GetArrayItem(cJSON_GetArrayItem(ring, k - 1), 0)->valuedouble);
		cJSON_ArrayForEach(point, ring)
		{
			assert_int_equal(cJSON_GetArraySize(point), 2);
			assert_true(fabs(cJSON_GetArrayItem(point, 0)->valuedouble) <= 180);
			assert_true(fabs(cJSON_GetArrayItem(point, 1)->valuedouble) <= 90);
		}
	}
	return root;
}

/* ---- CAP: real files ---- */

static void
cap_usgs_earthquake_becomes_a_circle_with_the_quake_radius(void **state)
{
	struct sf_alert *a = cap_file("google-cap-library_earthquake.cap");

	(void)state;
	assert_int_equal(a->source, SF_ALERT_SOURCE_CAP);
	assert_int_equal(a->cap_version, 11);
	assert_string_equal(a->identifier, "USGS-earthquakes-us2010apcd.6.20100831T000925.496Z");
	assert_string_equal(a->sender, "http://earthquake.usgs.gov/research/monitoring/anss/neic/");
	assert_string_equal(a->source_ref,
	                    "http://earthquake.usgs.gov/research/monitoring/anss/neic/,"
	                    "USGS-earthquakes-us2010apcd.6.20100831T000925.496Z,"
	                    "2010-08-31T00:09:25-05:00");
	/* 2010-08-31T05:09:25Z */
	assert_int_equal(a->sent, 1283231365);
	assert_int_equal(a->status, SF_CAP_STATUS_ACTUAL);
	assert_int_equal(a->msg_type, SF_CAP_MSG_ALERT);
	assert_int_equal(a->action, SF_ALERT_PROPOSE);
	assert_false(a->drill);
	assert_int_equal(a->n_infos, 1);
	assert_string_equal(a->infos[0].language, "en-US");
	assert_int_equal(a->infos[0].categories, SF_CAP_CATEGORY_GEO);
	assert_int_equal(a->infos[0].urgency, SF_CAP_URGENCY_PAST);
	assert_int_equal(a->infos[0].severity, SF_CAP_SEVERITY_UNKNOWN);
	assert_int_equal(a->infos[0].certainty, SF_CAP_CERTAINTY_LIKELY);
	assert_int_equal(a->infos[0].n_parameters, 12);
	assert_int_equal(a->infos[0].n_event_codes, 1);
	assert_string_equal(a->infos[0].event_codes[0].value, "EQW");
	assert_int_equal(a->kind, SF_ALERT_KIND_EARTHQUAKE);
	assert_string_equal(a->title, "EQ 6.3 Neiafu, Tonga - PRELIMINARY REPORT");
	/* Severity Unknown: the magnitude (6.3) decides. */
	assert_int_equal(a->severity, 3);
	assert_null(a->area_geojson);
	assert_int_equal(a->n_circles, 1);
	assert_true(a->circles[0].center.lat == -16.053);
	assert_true(a->circles[0].center.lon == -173.274);
	/* The CAP circle has radius 0.0: the earthquake rule gives it one (M6.3 at 38.7 km). */
	assert_true(a->infos[0].areas[0].circles[0].radius_m == 0);
	assert_true(a->quake.known);
	assert_true(a->quake.depth_km == 38.7);
	assert_true(fabs(a->circles[0].radius_m - sf_alert_quake_radius_km(6.3, 38.7) * 1000) < 1);
	assert_true(a->circles[0].radius_m > 20000);
	assert_int_equal(a->expires, 1283404165);
	sf_alert_free(a);
}

static void
cap_in_iso_8859_1_comes_out_as_utf8(void **state)
{
	struct sf_alert *a = cap_file("google-cap-library_earthquake-iso8859-1.cap");

	(void)state;
	assert_int_equal(a->cap_version, 12);
	assert_string_equal(
	    a->title, "EQ 4.6 Usulut\xc3\xa1n, Usulut\xc3\xa1n, El Salvador - PRELIMINARY REPORT");
	assert_non_null(strstr(a->infos[0].areas[0].desc, "SSW of Usulut\xc3\xa1n"));
	/* The signature after the info is XML Signature's, skipped. */
	assert_int_equal(a->n_infos, 1);
	assert_int_equal(a->kind, SF_ALERT_KIND_EARTHQUAKE);
	/* onset 2012-10-14T22:40:56+00:00 */
	assert_int_equal(a->started, 1350254456);
	sf_alert_free(a);
}

static void
cap_with_xml_signature_is_read_and_the_signature_ignored(void **state)
{
	struct sf_alert *a = cap_file("google-cap-library_earthquake_signed.cap");

	(void)state;
	assert_int_equal(a->cap_version, 11);
	assert_string_equal(a->identifier,
	                    "USGS-earthquakes-nc71635010.28103893.20110906T171538.586Z");
	assert_int_equal(a->severity, 1);
	assert_int_equal(a->n_circles, 1);
	/* M1.3: the rule's floor. */
	assert_true(a->circles[0].radius_m == SF_ALERT_QUAKE_RADIUS_MIN_KM * 1000);
	sf_alert_free(a);
}

static void
cap_thunderstorm_polygon_becomes_lon_lat_geojson(void **state)
{
	struct sf_alert *a = cap_file("google-cap-library_thunderstorm.cap");
	cJSON *geo;

	(void)state;
	assert_int_equal(a->kind, SF_ALERT_KIND_OTHER);
	assert_int_equal(a->severity, 4);
	assert_int_equal(a->n_polygons, 1);
	assert_int_equal(a->n_circles, 0);
	/* CAP writes 38.47,-120.14 (latitude first); GeoJSON wants [-120.14, 38.47]. */
	assert_string_equal(
	    a->area_geojson,
	    "{\"type\":\"MultiPolygon\",\"coordinates\":[[[[-120.14,38.47],[-119.95,"
	    "38.34],[-119.74,38.52],[-119.89,38.62],[-120.14,38.47]]]]}");
	assert_string_equal(a->infos[0].areas[0].geojson, a->area_geojson);
	assert_int_equal(a->infos[0].areas[0].n_geocodes, 3);
	assert_string_equal(a->infos[0].areas[0].geocodes[2].value, "006003");
	geo = check_multipolygon(a->area_geojson, 1);
	cJSON_Delete(geo);
	assert_int_equal(a->expires, 1055890800);
	sf_alert_free(a);
}

static void
cap_translations_share_their_polygons_once(void **state)
{
	struct sf_alert *a = cap_file("google-cap-library_canada.cap");
	cJSON *geo;

	(void)state;
	assert_int_equal(a->n_infos, 2);
	assert_string_equal(a->infos[0].language, "en-CA");
	assert_string_equal(a->infos[1].language, "fr-CA");
	/* English is preferred when there is no Korean. */
	assert_int_equal(a->chosen_info, 0);
	assert_string_equal(a->title, "severe thunderstorm watch");
	/* Four polygons in the file, two in each language: two once de-duplicated. */
	assert_int_equal(a->n_polygons, 2);
	geo = check_multipolygon(a->area_geojson, 2);
	cJSON_Delete(geo);
	assert_int_equal(a->msg_type, SF_CAP_MSG_UPDATE);
	assert_int_equal(a->action, SF_ALERT_UPDATE);
	assert_int_equal(a->n_references, 2);
	assert_string_equal(a->references[0].sender, "cap@ec.gc.ca");
	assert_string_equal(a->references[0].identifier, "2.49.0.1.124.a3f342a4.2012");
	assert_int_equal(a->references[0].sent, 1335995105);
	assert_string_equal(a->references[1].text,
	                    "cap@ec.gc.ca,2.49.0.1.124.60f31a3a.2012,2012-05-02T21:55:21-00:00");
	assert_int_equal(a->severity, 2);
	sf_alert_free(a);
}

static void
cap_korean_info_is_chosen_and_exercise_is_a_drill(void **state)
{
	struct sf_alert *a = cap_file("safety-test-ko-en-exercise.cap");

	(void)state;
	assert_int_equal(a->n_infos, 2);
	assert_int_equal(a->chosen_info, 1);
	assert_string_equal(a->infos[1].language, "ko-KR");
	assert_true(a->drill);
	assert_int_equal(a->status, SF_CAP_STATUS_EXERCISE);
	assert_int_equal(a->action, SF_ALERT_PROPOSE);
	assert_string_equal(a->title, "훈련: 경주 인근 강한 지진");
	assert_string_equal(a->description,
	                    "훈련 상황입니다. 경주 인근에서 강한 지진이 발생한 것으로 가정합니다.");
	assert_int_equal(a->kind, SF_ALERT_KIND_EARTHQUAKE);
	assert_int_equal(a->severity, 4);
	/* onset 2024-05-14T09:55:00+09:00 = 00:55Z */
	assert_int_equal(a->started, 1715648100);
	assert_int_equal(a->n_polygons, 1);
	assert_int_equal(a->n_circles, 1);
	assert_true(a->circles[0].radius_m == 20000);
	/* The polygon was written clockwise; GeoJSON gets it counter-clockwise. */
	cJSON_Delete(check_multipolygon(a->area_geojson, 1));
	assert_false(a->quake.known);
	sf_alert_free(a);
}

struct kind_case {
	const char *file;
	enum sf_alert_kind kind;
	int severity;
};

static const struct kind_case cap_kind_cases[] = {
    /* Security category, no keyword in the event. */
    {"google-cap-library_43b080713727.cap", SF_ALERT_KIND_TERRORISM, 4},
    /* "Child Abduction", SAME CAE. */
    {"google-cap-library_KAR0-0306112239-SW.cap", SF_ALERT_KIND_KIDNAPPING, 4},
    {"IBM-cap_cap_amber_alert_example.xml", SF_ALERT_KIND_KIDNAPPING, 4},
    /* "Tsunami Warning": water. */
    {"google-cap-library_wcatwc-warning.cap", SF_ALERT_KIND_FLOOD, 5},
    /* "Flash Flood Watch", and "Flood" must not be read in "warning" etc. */
    {"google-cap-library_weather.cap", SF_ALERT_KIND_FLOOD, 4},
    {"google-cap-library_australia.cap", SF_ALERT_KIND_OTHER, 2},
    {"google-cap-library_thunderstorm.cap", SF_ALERT_KIND_OTHER, 4},
    {"google-cap-library_earthquake.cap", SF_ALERT_KIND_EARTHQUAKE, 3},
};

static void
cap_events_map_to_crisis_kinds(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cap_kind_cases); i++) {
		struct sf_alert *a = cap_file(cap_kind_cases[i].file);

		if (a->kind != cap_kind_cases[i].kind || a->severity != cap_kind_cases[i].severity)
			fail_msg("%s: kind %s severity %d", cap_kind_cases[i].file,
			         sf_alert_kind_name(a->kind), a->severity);
		sf_alert_free(a);
	}
}

static void
cap_australian_prefixed_namespace_and_circle(void **state)
{
	struct sf_alert *a = cap_file("google-cap-library_australia.cap");

	(void)state;
	assert_int_equal(a->infos[0].categories, SF_CAP_CATEGORY_FIRE | SF_CAP_CATEGORY_MET);
	assert_int_equal(a->n_circles, 1);
	assert_true(a->circles[0].radius_m == 25000);
	assert_true(a->circles[0].center.lat == -35.3888);
	sf_alert_free(a);
}

static void
cap_without_info_is_valid_but_has_no_area(void **state)
{
	struct sf_alert *a = cap_file("google-cap-library_no_optional_fields.cap");

	(void)state;
	assert_int_equal(a->n_infos, 0);
	assert_null(a->area_geojson);
	assert_int_equal(a->n_circles, 0);
	assert_int_equal(a->kind, SF_ALERT_KIND_OTHER);
	assert_int_equal(a->severity, 1);
	assert_non_null(a->title);
	sf_alert_free(a);
}

struct refused_file {
	const char *file;
	const char *message; /* must appear in the error */
};

static const struct refused_file refused_cap_files[] = {
    {"google-cap-library_xee.cap", "DOCTYPE"},
    {"google-cap-library_xee.cap", "XXE"},
    {"google-cap-library_xee.atom", "DOCTYPE"},
    {"google-cap-library_invalid.cap", "alert/scope: missing"},
    {"google-cap-library_canada_errors.cap", "line 12: alert/references: empty"},
    {"google-cap-library_noaa_errors.cap", "alert/references: empty"},
    {"google-cap-library_earthquake_index.atom", "root element is feed, expected alert"},
    {"us6000jllz-detail-excerpt.geojson", "not well-formed"},
};

static void
cap_broken_and_hostile_files_are_refused_with_the_element_named(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(refused_cap_files); i++) {
		struct sf_alert *a = (struct sf_alert *)1;
		char err[512] = "";
		size_t len;
		char *xml = slurp(refused_cap_files[i].file, &len);

		assert_int_equal(sf_alert_parse_cap(xml, len, &a, err, sizeof err), SF_EINVAL);
		assert_null(a);
		if (strstr(err, refused_cap_files[i].message) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", refused_cap_files[i].file, err,
			         refused_cap_files[i].message);
		assert_int_equal(strncmp(err, "cap: ", 5), 0);
		free(xml);
	}
}

/* ---- CAP: tables of made-up messages ---- */

/* A valid CAP 1.2 message with holes for the header fields, info and area. */
static char *
cap_message(const char *ns, const char *header, const char *info_extra, const char *area)
{
	static const char fmt[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	                          "<alert xmlns=\"%s\">\n"
	                          "%s"
	                          "<info><category>Geo</category><event>Earthquake</event>"
	                          "<urgency>Immediate</urgency><severity>Severe</severity>"
	                          "<certainty>Observed</certainty>%s\n"
	                          "<area><areaDesc>Somewhere</areaDesc>%s</area></info>\n"
	                          "</alert>\n";
	size_t n = sizeof fmt + strlen(ns) + strlen(header) + strlen(info_extra) + strlen(area);
	char *out = malloc(n);

	assert_non_null(out);
	snprintf(out, n, fmt, ns, header, info_extra, area);
	return out;
}

#define NS12 "urn:oasis:names:tc:emergency:cap:1.2"
#define HEADER                                                                                     \
	"<identifier>T-1</identifier><sender>s@example.org</sender>"                               \
	"<sent>2024-01-01T00:00:00+00:00</sent><status>Actual</status>"                            \
	"<msgType>Alert</msgType><scope>Public</scope>\n"
#define POLY "<polygon>10,20 10,21 11,21 11,20 10,20</polygon>"

struct cap_case {
	const char *name;
	const char *ns;
	const char *header;
	const char *info_extra;
	const char *area;
	const char *message; /* NULL: must parse */
};

static const struct cap_case cap_cases[] = {
    {"valid", NS12, HEADER, "", POLY, NULL},
    {"polygon written lon,lat", NS12, HEADER, "",
     "<polygon>129.10,35.70 129.45,35.70 129.45,36.10 129.10,35.70</polygon>",
     "alert/info[1]/area[1]/polygon[1]: point 1:"},
    {"polygon lon,lat message suggests a swap", NS12, HEADER, "",
     "<polygon>129.10,35.70 129.45,35.70 129.45,36.10 129.10,35.70</polygon>", "swap"},
    {"polygon not closed", NS12, HEADER, "", "<polygon>10,20 10,21 11,21 11,20</polygon>",
     "polygon[1]: not closed"},
    {"polygon of three points", NS12, HEADER, "", "<polygon>10,20 10,21 10,20</polygon>",
     "3 points, a closed ring needs at least 4"},
    {"polygon with trailing commas", NS12, HEADER, "",
     "<polygon>10,20 10,21, 11,21 11,20 10,20</polygon>", "point 2: expected"},
    {"polygon without area", NS12, HEADER, "", "<polygon>10,20 10,21 10,22 10,20</polygon>",
     "ring has no area"},
    {"polygon empty", NS12, HEADER, "", POLY "<polygon></polygon>", "polygon[2]: empty"},
    {"polygon with exponent", NS12, HEADER, "",
     "<polygon>1e1,20 10,21 11,21 11,20 1e1,20</polygon>", "polygon[1]: point 1"},
    {"polygon with nan", NS12, HEADER, "", "<polygon>nan,20 10,21 11,21 11,20 nan,20</polygon>",
     "polygon[1]: point 1"},
    {"latitude out of range", NS12, HEADER, "", "<polygon>91,20 10,21 11,21 11,20 91,20</polygon>",
     "point 1:"},
    {"circle without radius", NS12, HEADER, "", "<circle>10,20</circle>", "circle[1]: expected"},
    {"circle with negative radius", NS12, HEADER, "", "<circle>10,20 -5</circle>",
     "circle[1]: radius -5 km out of range"},
    {"circle with text after", NS12, HEADER, "", "<circle>10,20 5 km</circle>",
     "circle[1]: text after the radius"},
    {"second areaDesc", NS12, HEADER, "", "<areaDesc>again</areaDesc>",
     "area[1]/areaDesc: repeated"},
    {"urgency repeated", NS12, HEADER, "<urgency>Soon</urgency>", POLY,
     "alert/info[1]/urgency: repeated; at most one allowed"},
    {"unknown element in info", NS12, HEADER, "<magnitude>7</magnitude>", POLY,
     "alert/info[1]/magnitude: unknown element"},
    {"bad category", NS12, HEADER, "<category>Weather</category>", POLY,
     "alert/info[1]/category[2]: \"Weather\" is not Geo, Met, Safety"},
    {"expires with Z in 1.2", NS12, HEADER, "<expires>2024-01-01T00:00:00Z</expires>", POLY,
     "alert/info[1]/expires: \"2024-01-01T00:00:00Z\" is not YYYY-MM-DDThh:mm:ss+hh:mm"},
    {"expires with fraction in 1.2", NS12, HEADER, "<expires>2024-01-01T00:00:00.5+00:00</expires>",
     POLY, "expires"},
    {"expires impossible date", NS12, HEADER, "<expires>2024-02-30T00:00:00+00:00</expires>", POLY,
     "alert/info[1]/expires"},
    {"expires with Z in 1.1 is fine", "urn:oasis:names:tc:emergency:cap:1.1", HEADER,
     "<expires>2024-01-01T00:00:00Z</expires>", POLY, NULL},
    {"text between elements", NS12, HEADER "stray text", "", POLY, "alert: text between elements"},
    {"element in no namespace", NS12, HEADER "<foo xmlns=\"\">x</foo>", "", POLY,
     "alert/foo: element not in the CAP namespace"},
    {"signature-like foreign element is skipped", NS12,
     HEADER "<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\"><x/></Signature>", "", POLY,
     NULL},
    {"wrong namespace", "urn:oasis:names:tc:emergency:cap:9.9", HEADER, "", POLY,
     "namespace \"urn:oasis:names:tc:emergency:cap:9.9\" is not CAP 1.2"},
    {"identifier with a space", NS12,
     "<identifier>T 1</identifier><sender>s@example.org</sender>"
     "<sent>2024-01-01T00:00:00+00:00</sent><status>Actual</status>"
     "<msgType>Alert</msgType><scope>Public</scope>",
     "", POLY, "alert/identifier: must not contain spaces"},
    {"identifier repeated", NS12, HEADER "<identifier>T-2</identifier>", "", POLY,
     "alert/identifier: repeated"},
    {"status not in the enumeration", NS12,
     "<identifier>T-1</identifier><sender>s@example.org</sender>"
     "<sent>2024-01-01T00:00:00+00:00</sent><status>Real</status>"
     "<msgType>Alert</msgType><scope>Public</scope>",
     "", POLY, "alert/status: \"Real\" is not Actual, Exercise, System, Test or Draft"},
    {"status holding an element", NS12,
     "<identifier>T-1</identifier><sender>s@example.org</sender>"
     "<sent>2024-01-01T00:00:00+00:00</sent><status><b>Actual</b></status>"
     "<msgType>Alert</msgType><scope>Public</scope>",
     "", POLY, "alert/status: holds elements, expected text"},
    {"msgType missing", NS12,
     "<identifier>T-1</identifier><sender>s@example.org</sender>"
     "<sent>2024-01-01T00:00:00+00:00</sent><status>Actual</status><scope>Public</scope>",
     "", POLY, "alert/msgType: missing"},
    {"sent without offset", NS12,
     "<identifier>T-1</identifier><sender>s@example.org</sender>"
     "<sent>2024-01-01T00:00:00</sent><status>Actual</status>"
     "<msgType>Alert</msgType><scope>Public</scope>",
     "", POLY, "alert/sent"},
    {"references not a triple", NS12, HEADER "<references>just-an-id</references>", "", POLY,
     "alert/references: entry 1: \"just-an-id\" is not sender,identifier,sent"},
    {"value without valueName", NS12, HEADER, "<parameter><value>7</value></parameter>", POLY,
     "alert/info[1]/parameter[1]: valueName: missing"},
    {"geocode without value", NS12, HEADER, "", POLY "<geocode><valueName>x</valueName></geocode>",
     "geocode[1]: value: missing"},
    {"password only in 1.0", NS12, HEADER "<password>x</password>", "", POLY,
     "alert/password: unknown element"},
};

static void
cap_messages_are_checked_element_by_element(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(cap_cases); i++) {
		const struct cap_case *c = &cap_cases[i];
		char *xml = cap_message(c->ns, c->header, c->info_extra, c->area), err[512] = "";
		struct sf_alert *a = NULL;
		int rc = cap_string(xml, &a, err, sizeof err);

		if (c->message == NULL) {
			if (rc != SF_OK)
				fail_msg("%s: refused: %s", c->name, err);
			assert_non_null(a);
		} else {
			if (rc != SF_EINVAL || a != NULL)
				fail_msg("%s: accepted", c->name);
			if (strstr(err, c->message) == NULL)
				fail_msg("%s: \"%s\" lacks \"%s\"", c->name, err, c->message);
		}
		sf_alert_free(a);
		free(xml);
	}
}

struct xml_case {
	const char *name;
	const char *xml;
	const char *message;
};

static const struct xml_case hostile_cases[] = {
    {"billion laughs",
     "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
     "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
     "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
     "<alert xmlns=\"" NS12 "\"><identifier>&lol3;</identifier></alert>",
     "DOCTYPE"},
    {"external entity to a file",
     "<?xml version=\"1.0\"?><!DOCTYPE alert [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
     "<alert xmlns=\"" NS12 "\"><identifier>&x;</identifier></alert>",
     "DOCTYPE"},
    {"external DTD only",
     "<?xml version=\"1.0\"?><!DOCTYPE alert SYSTEM \"http://localhost:1/x.dtd\">"
     "<alert xmlns=\"" NS12 "\"/>",
     "DOCTYPE"},
    {"undeclared entity", "<alert xmlns=\"" NS12 "\"><identifier>&x;</identifier></alert>",
     "not well-formed XML"},
    {"not XML", "this is not xml", "not well-formed XML"},
    {"unclosed element", "<alert xmlns=\"" NS12 "\"><identifier>x</alert>", "not well-formed"},
    {"empty", "", "empty document"},
};

static void
cap_refuses_entities_doctypes_and_broken_xml(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(hostile_cases); i++) {
		struct sf_alert *a = NULL;
		char err[512] = "";

		assert_int_equal(cap_string(hostile_cases[i].xml, &a, err, sizeof err), SF_EINVAL);
		assert_null(a);
		if (strstr(err, hostile_cases[i].message) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", hostile_cases[i].name, err,
			         hostile_cases[i].message);
	}
}

/* A caller's own libxml2 handler, which the parser must leave in place. */
static void
caller_handler(void *ctx, xmlErrorPtr error)
{
	(void)ctx;
	(void)error;
}

static void
xml_errors_are_never_printed_and_the_callers_handler_is_restored(void **state)
{
	static const char *const docs[] = {
	    /* Bytes that are not Shift JIS: libxml2 reports it outside the parser context. */
	    "<?xml version=\"1.0\" encoding=\"SHIFT_JIS\"?><alert>\x82\xff\xfe\x80</alert>",
	    "<?xml version=\"1.0\" encoding=\"EBCDIC-US\"?><alert/>",
	    "<?xml version=\"1.0\" encoding=\"no-such-charset\"?><alert/>",
	    "<alert xmlns=\"" NS12 "\"><identifier>&x;</identifier></alert>",
	    "<!DOCTYPE a [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><a>&x;</a>",
	    "<a><b></a>",
	};
	struct sf_alert *a = NULL;
	struct sf_alert_list *list = NULL;
	char err[512], marker;
	FILE *capture = tmpfile();
	int saved;

	(void)state;
	assert_non_null(capture);
	/* libxml2's defaults: what is not caught is printed. */
	xmlSetStructuredErrorFunc(NULL, NULL);
	fflush(stderr);
	saved = dup(2);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(capture), 2) >= 0);
	for (size_t i = 0; i < N_ELEMS(docs); i++) {
		err[0] = '\0';
		assert_int_equal(cap_string(docs[i], &a, err, sizeof err), SF_EINVAL);
		assert_int_equal(strncmp(err, "cap: ", 5), 0);
		assert_int_equal(
		    sf_alert_parse_gdacs(docs[i], strlen(docs[i]), &list, err, sizeof err),
		    SF_EINVAL);
	}
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	assert_int_equal(fseek(capture, 0, SEEK_END), 0);
	assert_int_equal(ftell(capture), 0);
	fclose(capture);
	xmlSetStructuredErrorFunc(&marker, caller_handler);
	assert_int_equal(cap_string(docs[0], &a, err, sizeof err), SF_EINVAL);
	assert_true(xmlStructuredError == caller_handler);
	assert_ptr_equal(xmlStructuredErrorContext, &marker);
	xmlSetStructuredErrorFunc(NULL, NULL);
}

static void
cap_larger_than_the_limit_is_refused_before_parsing(void **state)
{
	size_t len = SF_ALERT_XML_MAX + 1;
	char *big = malloc(len), err[256] = "";
	struct sf_alert *a = NULL;

	(void)state;
	assert_non_null(big);
	memset(big, ' ', len);
	big[0] = '<';
	assert_int_equal(sf_alert_parse_cap(big, len, &a, err, sizeof err), SF_EINVAL);
	assert_non_null(strstr(err, "larger than the 4 MiB accepted"));
	free(big);
}

static void
cap_status_and_msg_type_decide_the_action(void **state)
{
	static const struct {
		const char *status;
		const char *msg_type;
		enum sf_alert_action action;
		bool drill;
	} cases[] = {
	    {"Actual", "Alert", SF_ALERT_PROPOSE, false},
	    {"Exercise", "Alert", SF_ALERT_PROPOSE, true},
	    {"Actual", "Update", SF_ALERT_UPDATE, false},
	    /* CAP: recipients disregard a Test message; it is no drill either. */
	    {"Test", "Update", SF_ALERT_IGNORE, false},
	    {"Test", "Alert", SF_ALERT_IGNORE, false},
	    {"Actual", "Cancel", SF_ALERT_CANCEL, false},
	    {"Actual", "Ack", SF_ALERT_IGNORE, false},
	    {"Actual", "Error", SF_ALERT_IGNORE, false},
	    {"System", "Alert", SF_ALERT_IGNORE, false},
	    {"Draft", "Alert", SF_ALERT_IGNORE, false},
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char header[512], err[256] = "", *xml;
		struct sf_alert *a = NULL;

		snprintf(header, sizeof header,
		         "<identifier>T-1</identifier><sender>s@example.org</sender>"
		         "<sent>2024-01-01T09:00:00+09:00</sent><status>%s</status>"
		         "<msgType>%s</msgType><scope>Public</scope>"
		         "<references>s@example.org,T-0,2023-12-31T23:00:00+00:00</references>",
		         cases[i].status, cases[i].msg_type);
		xml = cap_message(NS12, header, "", POLY);
		if (cap_string(xml, &a, err, sizeof err) != SF_OK)
			fail_msg("%s/%s: %s", cases[i].status, cases[i].msg_type, err);
		assert_int_equal(a->action, cases[i].action);
		assert_int_equal(a->drill, cases[i].drill);
		assert_int_equal(a->sent, 1704067200);
		assert_int_equal(a->n_references, 1);
		assert_string_equal(a->references[0].identifier, "T-0");
		assert_string_equal(a->source_ref, "s@example.org,T-1,2024-01-01T09:00:00+09:00");
		sf_alert_free(a);
		free(xml);
	}
}

static void
cap_10_reads_value_name_equals_value_pairs(void **state)
{
	const char *xml =
	    "<alert xmlns=\"http://www.incident.com/cap/1.0\">"
	    "<identifier>A-1</identifier><sender>s@example.org</sender><password>x</password>"
	    "<sent>2003-06-17T14:57:00-07:00</sent><status>Actual</status>"
	    "<msgType>Alert</msgType><scope>Public</scope>"
	    "<info><category>Geo</category><event>Earthquake</event><urgency>Past</urgency>"
	    "<severity>Unknown</severity><certainty>Very Likely</certainty>"
	    "<parameter>Magnitude=5.9</parameter><parameter>Depth=10 km</parameter>"
	    "<area><areaDesc>x</areaDesc><circle>37.5,127.0 0</circle>"
	    "<geocode>FIPS=006109</geocode></area></info></alert>";
	struct sf_alert *a = NULL;
	char err[256] = "";

	(void)state;
	if (cap_string(xml, &a, err, sizeof err) != SF_OK)
		fail_msg("%s", err);
	assert_int_equal(a->cap_version, 10);
	assert_int_equal(a->infos[0].certainty, SF_CAP_CERTAINTY_LIKELY);
	assert_string_equal(a->infos[0].parameters[0].name, "Magnitude");
	assert_string_equal(a->infos[0].parameters[0].value, "5.9");
	assert_string_equal(a->infos[0].areas[0].geocodes[0].name, "FIPS");
	assert_true(a->quake.known);
	assert_true(a->quake.magnitude == 5.9);
	assert_int_equal(a->severity, 3);
	assert_true(a->circles[0].radius_m == sf_alert_quake_radius_km(5.9, 10) * 1000);
	sf_alert_free(a);
}

static void
kind_words_match_whole_words(void **state)
{
	static const struct {
		const char *event;
		enum sf_alert_kind kind;
	} cases[] = {
	    {"Flood Warning", SF_ALERT_KIND_FLOOD},
	    {"Severe Thunderstorm Warning", SF_ALERT_KIND_OTHER},
	    {"War", SF_ALERT_KIND_WAR},
	    {"Missile attack", SF_ALERT_KIND_WAR},
	    {"Terrorist attack", SF_ALERT_KIND_TERRORISM},
	    {"Civil unrest", SF_ALERT_KIND_UNREST},
	    {"Riots in the capital", SF_ALERT_KIND_UNREST},
	    {"Cholera outbreak", SF_ALERT_KIND_EPIDEMIC},
	    {"Kidnapping of foreigners", SF_ALERT_KIND_KIDNAPPING},
	    {"민방공 경보", SF_ALERT_KIND_WAR},
	    {"지진해일 주의보", SF_ALERT_KIND_FLOOD}, /* "earthquake sea wave": a tsunami */
	    {"지진 발생", SF_ALERT_KIND_EARTHQUAKE},
	    {"호우경보", SF_ALERT_KIND_FLOOD},
	    {"Hardware failure", SF_ALERT_KIND_OTHER},
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		char info[256], *xml, err[256] = "";
		struct sf_alert *a = NULL;

		snprintf(info, sizeof info, "<event>%s</event>", cases[i].event);
		/* The message's own <event> is Earthquake; this one is in a second info. */
		xml = cap_message(NS12, HEADER, "", POLY);
		{
			char *second = malloc(strlen(xml) + 512), *end = strstr(xml, "</alert>");

			assert_non_null(second);
			memcpy(second, xml, (size_t)(end - xml));
			snprintf(second + (end - xml), 512,
			         "<info><language>ko</language><category>Met</category>%s"
			         "<urgency>Immediate</urgency><severity>Severe</severity>"
			         "<certainty>Observed</certainty></info></alert>",
			         info);
			free(xml);
			xml = second;
		}
		if (cap_string(xml, &a, err, sizeof err) != SF_OK)
			fail_msg("%s: %s", cases[i].event, err);
		/* The Korean info is chosen; its category is Met, so no keyword means other. */
		assert_int_equal(a->chosen_info, 1);
		if (a->kind != cases[i].kind)
			fail_msg("%s: %s", cases[i].event, sf_alert_kind_name(a->kind));
		sf_alert_free(a);
		free(xml);
	}
}

/* ---- USGS ---- */

/* Parses a USGS test file; fails the test if it is refused. */
static struct sf_alert_list *
usgs_file(const char *name)
{
	struct sf_alert_list *list = NULL;
	char err[512] = "";
	size_t len;
	char *json = slurp(name, &len);

	if (sf_alert_parse_usgs(json, len, &list, err, sizeof err) != SF_OK)
		fail_msg("%s: %s", name, err);
	free(json);
	assert_non_null(list);
	return list;
}

/* Tells whether a point lies inside a circle. */
static bool
in_circle(const struct sf_alert_circle *c, double lat, double lon)
{
	struct sf_point p = {lat, lon};

	return sf_geo_distance_m(&c->center, &p) <= c->radius_m;
}

static void
usgs_turkiye_2023_covers_the_provinces_hit_and_not_istanbul(void **state)
{
	struct sf_alert_list *list = usgs_file("us6000jllz-detail-excerpt.geojson");
	const struct sf_alert *a;

	(void)state;
	assert_int_equal(list->n, 1);
	a = &list->alerts[0];
	assert_int_equal(a->source, SF_ALERT_SOURCE_USGS);
	assert_string_equal(sf_alert_source_name(a->source), "usgs");
	assert_string_equal(a->identifier, "us6000jllz");
	assert_string_equal(a->source_ref, "us6000jllz");
	assert_string_equal(a->title,
	                    "M 7.8 - Pazarcik earthquake, Kahramanmaras earthquake sequence");
	assert_string_equal(a->url, "https://earthquake.usgs.gov/earthquakes/eventpage/us6000jllz");
	assert_int_equal(a->kind, SF_ALERT_KIND_EARTHQUAKE);
	assert_int_equal(a->severity, 5);
	assert_int_equal(a->action, SF_ALERT_PROPOSE);
	assert_false(a->drill);
	/* 2023-02-06T01:17:34Z */
	assert_int_equal(a->started, 1675646254);
	assert_true(a->quake.known);
	assert_true(a->quake.magnitude == 7.8);
	assert_true(a->quake.depth_km == 10);
	assert_string_equal(a->quake.pager, "red");
	assert_true(a->quake.reviewed);
	assert_false(a->quake.tsunami);
	assert_int_equal(a->n_circles, 1);
	assert_null(a->area_geojson);
	/* GeoJSON gave [37.0143, 37.2256]: longitude first. */
	assert_true(a->circles[0].center.lat == 37.2256);
	assert_true(a->circles[0].center.lon == 37.0143);
	assert_true(a->circles[0].radius_m > 250000 && a->circles[0].radius_m < 300000);
	/* The demo's cities: Kahramanmaraş, Gaziantep, Antakya (Hatay), Adana inside... */
	assert_true(in_circle(&a->circles[0], 37.5753, 36.9228));
	assert_true(in_circle(&a->circles[0], 37.0662, 37.3833));
	assert_true(in_circle(&a->circles[0], 36.2021, 36.1600));
	assert_true(in_circle(&a->circles[0], 35.8, 35.95)); /* Hatay's south (Yayladağı) */
	/* ...İstanbul and Ankara not. */
	assert_false(in_circle(&a->circles[0], 41.0370, 28.9850));
	assert_false(in_circle(&a->circles[0], 39.9334, 32.8597));
	assert_non_null(strstr(a->description, "PAGER alert red"));
	assert_non_null(strstr(a->description, "269 km"));
	sf_alert_list_free(list);
}

static void
usgs_summary_feed_gives_one_alert_per_event(void **state)
{
	struct sf_alert_list *list = usgs_file("usgs-summary-significant_month-2023-10-11.geojson");

	(void)state;
	assert_int_equal(list->n, 18);
	assert_int_equal(list->n_rejected, 0);
	assert_int_equal(list->n_ignored, 0);
	assert_false(list->truncated);
	/* The Herat M6.3, PAGER red. */
	assert_string_equal(list->alerts[0].identifier, "us6000len8");
	assert_int_equal(list->alerts[0].severity, 5);
	assert_true(in_circle(&list->alerts[0].circles[0], 34.35, 62.20)); /* Herat city */
	/* Port Townsend M4.3 at 57 km depth: the rule's floor. */
	assert_string_equal(list->alerts[2].identifier, "uw61965081");
	assert_true(list->alerts[2].circles[0].radius_m == SF_ALERT_QUAKE_RADIUS_MIN_KM * 1000);
	assert_true(list->alerts[2].quake.tsunami);
	for (size_t i = 0; i < list->n; i++) {
		assert_int_equal(list->alerts[i].kind, SF_ALERT_KIND_EARTHQUAKE);
		assert_true(list->alerts[i].severity >= 1 && list->alerts[i].severity <= 5);
		assert_true(list->alerts[i].circles[0].radius_m >= 10000);
	}
	sf_alert_list_free(list);
}

static void
usgs_offshore_great_quake_with_green_pager_is_still_severe(void **state)
{
	struct sf_alert_list *list = usgs_file("eventpages-events_us10004u1y.json");

	(void)state;
	assert_int_equal(list->n, 1);
	assert_string_equal(list->alerts[0].quake.pager, "green");
	assert_int_equal(list->alerts[0].severity, 4);
	assert_string_equal(list->alerts[0].url, "/earthquakes/eventpage/us10004u1y");
	sf_alert_list_free(list);
	list = usgs_file("eventpages-events_ci37528064.json");
	assert_int_equal(list->alerts[0].severity, 2);
	sf_alert_list_free(list);
}

static const struct xml_case usgs_refused[] = {
    {"not json", "<html>", "usgs: not valid JSON"},
    {"an array", "[1, 2]", "usgs: type: expected \"Feature\" or \"FeatureCollection\""},
    {"no mag",
     "{\"type\":\"Feature\",\"id\":\"x1\",\"properties\":{\"mag\":null,\"time\":1},"
     "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2,3]}}",
     "usgs: x1: properties.mag: missing"},
    {"no time",
     "{\"type\":\"Feature\",\"id\":\"x1\",\"properties\":{\"mag\":5},"
     "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2,3]}}",
     "usgs: x1: properties.time"},
    {"time in seconds, not milliseconds... of year 70000",
     "{\"type\":\"Feature\",\"id\":\"x1\",\"properties\":{\"mag\":5,\"time\":2e15},"
     "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2,3]}}",
     "properties.time"},
    {"no geometry", "{\"type\":\"Feature\",\"id\":\"x1\",\"properties\":{\"mag\":5,\"time\":1}}",
     "usgs: x1: geometry: expected a Point"},
    {"lat,lon order",
     "{\"type\":\"Feature\",\"id\":\"x1\",\"properties\":{\"mag\":5,\"time\":1},"
     "\"geometry\":{\"type\":\"Point\",\"coordinates\":[37.2,129.1,3]}}",
     "usgs: x1: geometry.coordinates: "},
    {"depth absurd",
     "{\"type\":\"Feature\",\"id\":\"x1\",\"properties\":{\"mag\":5,\"time\":1},"
     "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2,30000]}}",
     "geometry.coordinates[2]: depth"},
    {"quarry blast",
     "{\"type\":\"Feature\",\"id\":\"x1\",\"properties\":{\"mag\":2,\"time\":1,"
     "\"type\":\"quarry blast\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2,0]}}",
     "usgs: x1: properties.type: \"quarry blast\" is not an earthquake"},
    {"no id", "{\"type\":\"Feature\",\"properties\":{}}", "usgs: id: missing"},
    {"all broken",
     "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"id\":\"a\"}]}",
     "usgs: features[0]: a: properties: missing (all 1 events refused)"},
    {"collection without features", "{\"type\":\"FeatureCollection\"}", "usgs: features: missing"},
};

static void
usgs_broken_documents_are_refused_with_the_field_named(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(usgs_refused); i++) {
		struct sf_alert_list *list = (struct sf_alert_list *)1;
		char err[512] = "";

		assert_int_equal(sf_alert_parse_usgs(usgs_refused[i].xml,
		                                     strlen(usgs_refused[i].xml), &list, err,
		                                     sizeof err),
		                 SF_EINVAL);
		assert_null(list);
		if (strstr(err, usgs_refused[i].message) == NULL)
			fail_msg("%s: \"%s\" lacks \"%s\"", usgs_refused[i].name, err,
			         usgs_refused[i].message);
	}
}

static void
usgs_deleted_event_cancels_and_every_id_is_kept(void **state)
{
	const char *json =
	    "{\"type\":\"FeatureCollection\",\"features\":["
	    "{\"type\":\"Feature\",\"id\":\"us6000jllz\",\"properties\":{\"mag\":7.8,"
	    "\"time\":1675646254342,\"status\":\"reviewed\",\"ids\":\",us6000jllz,"
	    "usauto6000jllz,at00rpmwxe,pt23037000,\"},\"geometry\":{\"type\":\"Point\","
	    "\"coordinates\":[37.0143,37.2256,10]}},"
	    "{\"type\":\"Feature\",\"id\":\"x1\",\"properties\":{\"mag\":null,\"time\":1,"
	    "\"status\":\"deleted\",\"ids\":\",x1,y1,\"},\"geometry\":null}]}";
	struct sf_alert_list *list = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(sf_alert_parse_usgs(json, strlen(json), &list, err, sizeof err), SF_OK);
	assert_int_equal(list->n, 2);
	assert_int_equal(list->n_ignored, 0);
	assert_int_equal(list->alerts[0].action, SF_ALERT_PROPOSE);
	assert_int_equal(list->alerts[0].n_references, 3);
	assert_string_equal(list->alerts[0].references[0].text, "usauto6000jllz");
	assert_string_equal(list->alerts[0].references[2].text, "pt23037000");
	assert_int_equal(list->alerts[1].action, SF_ALERT_CANCEL);
	assert_string_equal(list->alerts[1].source_ref, "x1");
	assert_int_equal(list->alerts[1].n_references, 1);
	assert_string_equal(list->alerts[1].references[0].text, "y1");
	assert_non_null(list->alerts[1].title);
	sf_alert_list_free(list);
}

static void
usgs_feed_skips_broken_and_other_events_and_keeps_the_rest(void **state)
{
	const char *json =
	    "{\"type\":\"FeatureCollection\",\"features\":["
	    "{\"type\":\"Feature\",\"id\":\"ok1\",\"properties\":{\"mag\":6.1,\"time\":"
	    "1700000000000,"
	    "\"status\":\"automatic\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[126.9,37."
	    "5]}},"
	    "{\"type\":\"Feature\",\"id\":\"bad\",\"properties\":{\"mag\":\"six\",\"time\":1},"
	    "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2,3]}},"
	    "{\"type\":\"Feature\",\"id\":\"qb\",\"properties\":{\"mag\":2,\"time\":1,"
	    "\"type\":\"quarry "
	    "blast\"},\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2,0]}}]}";
	struct sf_alert_list *list = NULL;
	char err[256] = "";

	(void)state;
	assert_int_equal(sf_alert_parse_usgs(json, strlen(json), &list, err, sizeof err), SF_OK);
	assert_int_equal(list->n, 1);
	assert_int_equal(list->n_rejected, 1);
	assert_int_equal(list->n_ignored, 1);
	assert_string_equal(list->rejected, "usgs: features[1]: bad: properties.mag: missing");
	assert_string_equal(list->alerts[0].identifier, "ok1");
	assert_false(list->alerts[0].quake.reviewed);
	/* No depth given: USGS's default 10 km. */
	assert_true(list->alerts[0].quake.depth_km == 10);
	assert_non_null(strstr(list->alerts[0].description, "automatic solution"));
	/* No title: made from the magnitude. */
	assert_string_equal(list->alerts[0].title, "M 6.1 - earthquake");
	sf_alert_list_free(list);
}

static void
usgs_title_of_only_spaces_or_control_characters_is_made_from_the_magnitude(void **state)
{
	/* Found by fuzzing: "\r" then a NUL, which the JSON reader ends the string at. */
	static const char *const titles[] = {"\\r", " \\t ", "\\r\\u0000M 5.5"};
	struct sf_alert_list *list = NULL;
	char json[512], err[256] = "";

	(void)state;
	for (size_t i = 0; i < N_ELEMS(titles); i++) {
		snprintf(
		    json, sizeof json,
		    "{\"type\":\"FeatureCollection\",\"features\":[{\"type\":\"Feature\",\"id\":"
		    "\"t%zu\",\"properties\":{\"mag\":5.5,\"time\":1700000000000,\"place\":"
		    "\"29 km NE of Zindah Jan, Afghanistan\",\"title\":\"%s\"},\"geometry\":{"
		    "\"type\":\"Point\",\"coordinates\":[62,34.6,10]}}]}",
		    i, titles[i]);
		assert_int_equal(sf_alert_parse_usgs(json, strlen(json), &list, err, sizeof err),
		                 SF_OK);
		assert_int_equal(list->n, 1);
		assert_string_equal(list->alerts[0].title,
		                    "M 5.5 - 29 km NE of Zindah Jan, Afghanistan");
		sf_alert_list_free(list);
		list = NULL;
	}
}

static void
usgs_feed_is_capped(void **state)
{
	static const char head[] = "{\"type\":\"FeatureCollection\",\"features\":[";
	static const char feature[] =
	    "{\"type\":\"Feature\",\"id\":\"e%d\",\"properties\":{\"mag\":3,\"time\":1},"
	    "\"geometry\":{\"type\":\"Point\",\"coordinates\":[1,2,5]}}";
	size_t cap = 120 * (SF_ALERT_FEED_MAX + 2) + 64, len;
	char *json = malloc(cap), err[256] = "";
	struct sf_alert_list *list = NULL;

	(void)state;
	assert_non_null(json);
	len = (size_t)snprintf(json, cap, "%s", head);
	for (int i = 0; i < SF_ALERT_FEED_MAX + 1; i++) {
		if (i > 0)
			json[len++] = ',';
		len += (size_t)snprintf(json + len, cap - len, feature, i);
	}
	len += (size_t)snprintf(json + len, cap - len, "]}");
	assert_int_equal(sf_alert_parse_usgs(json, len, &list, err, sizeof err), SF_OK);
	assert_int_equal(list->n, SF_ALERT_FEED_MAX);
	assert_true(list->truncated);
	sf_alert_list_free(list);
	free(json);
}

/* ---- Earthquake rules ---- */

static void
quake_radius_follows_the_published_rule(void **state)
{
	static const struct {
		double magnitude;
		double depth_km;
		double low_km;
		double high_km;
	} cases[] = {
	    {7.8, 10, 260, 275}, /* Türkiye 2023 */
	    {6.3, 9, 50, 55},    /* Herat 2023 */
	    {7.0, 10, 105, 120},   {6.0, 10, 35, 42},
	    {5.5, 10, 18, 25},     {4.0, 10, 10, 10}, /* below VI anywhere: the floor */
	    {6.3, 176, 10, 10},                       /* deep: nothing strong at the surface */
	    {9.5, 20, 1000, 1000},                    /* the ceiling */
	    {NAN, 10, 10, 10},     {7.8, NAN, 10, 10},
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		double r = sf_alert_quake_radius_km(cases[i].magnitude, cases[i].depth_km);

		if (r < cases[i].low_km || r > cases[i].high_km)
			fail_msg("M%g at %g km: %g km", cases[i].magnitude, cases[i].depth_km, r);
	}
	/* Larger magnitude, larger radius; deeper, smaller; negative depth as 0. */
	for (double m = 5.0; m < 9.0; m += 0.1)
		assert_true(sf_alert_quake_radius_km(m + 0.1, 10) >=
		            sf_alert_quake_radius_km(m, 10));
	assert_true(sf_alert_quake_radius_km(7, 50) < sf_alert_quake_radius_km(7, 10));
	assert_true(sf_alert_quake_radius_km(7, -2) == sf_alert_quake_radius_km(7, 0));
}

static void
quake_severity_weighs_pager_and_magnitude(void **state)
{
	static const struct {
		double magnitude;
		const char *level;
		int severity;
	} cases[] = {
	    {7.8, "red", 5},   {7.8, "green", 4}, {6.3, "red", 5},    {6.3, "orange", 4},
	    {4.3, "green", 2}, {5.9, NULL, 3},    {3.0, NULL, 1},     {NAN, "orange", 4},
	    {6.0, "RED", 5},   {7.6, NULL, 5},    {5.0, "yellow", 3}, {6.6, "purple", 4},
	};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++)
		assert_int_equal(sf_alert_quake_severity(cases[i].magnitude, cases[i].level),
		                 cases[i].severity);
}

static void
kind_and_source_names_match_the_database(void **state)
{
	static const char *const names[] = {"war",    "earthquake", "flood",      "terrorism",
	                                    "unrest", "epidemic",   "kidnapping", "other"};

	(void)state;
	for (int k = SF_ALERT_KIND_WAR; k <= SF_ALERT_KIND_OTHER; k++)
		assert_string_equal(sf_alert_kind_name((enum sf_alert_kind)k), names[k]);
	assert_string_equal(sf_alert_kind_name((enum sf_alert_kind)42), "other");
	assert_string_equal(sf_alert_source_name(SF_ALERT_SOURCE_CAP), "cap");
	assert_string_equal(sf_alert_source_name(SF_ALERT_SOURCE_GDACS), "gdacs");
}

/* ---- GDACS and sniffing ---- */

static void
gdacs_items_become_alerts(void **state)
{
	struct sf_alert_list *list = NULL;
	char err[512] = "";
	size_t len;
	char *xml = slurp("aio-georss-gdacs_gdacs-1.xml", &len);
	const struct sf_alert *tc, *eq;

	(void)state;
	if (sf_alert_parse_gdacs(xml, len, &list, err, sizeof err) != SF_OK)
		fail_msg("%s", err);
	free(xml);
	assert_int_equal(list->n, 4);
	tc = &list->alerts[0];
	eq = &list->alerts[1];
	assert_string_equal(tc->source_ref, "TC1000643");
	assert_int_equal(tc->kind, SF_ALERT_KIND_FLOOD);
	assert_int_equal(tc->severity, 2);
	/* gdacs:bbox 55.078 81.078 -46.78 -20.78 (lon min, lon max, lat min, lat max). */
	cJSON_Delete(check_multipolygon(tc->area_geojson, 1));
	assert_non_null(strstr(tc->area_geojson, "[55.0780533046962,-46.7828750315965]"));
	/* Sun, 29 Dec 2019 12:00:00 GMT */
	assert_int_equal(tc->sent, 1577620800);
	assert_string_equal(eq->source_ref, "EQ1199929");
	assert_int_equal(eq->kind, SF_ALERT_KIND_EARTHQUAKE);
	assert_true(eq->quake.magnitude == 5.5);
	assert_true(eq->quake.depth_km == 10);
	assert_string_equal(eq->quake.pager, "green");
	assert_int_equal(eq->n_circles, 1);
	assert_true(eq->circles[0].center.lat == -44.5653);
	assert_true(eq->circles[0].center.lon == 37.087);
	assert_true(fabs(eq->circles[0].radius_m - sf_alert_quake_radius_km(5.5, 10) * 1000) < 1);
	assert_int_equal(list->alerts[2].kind, SF_ALERT_KIND_OTHER); /* drought */
	sf_alert_list_free(list);
}

/*
 * The real 7-day feed of 30 December 2019: SARAI-19 is near Fiji, its
 * gdacs:bbox in the South Atlantic; PHANFONE-19's point is just west of its
 * box. Neither box alone may be the area of the event.
 */
static void
gdacs_box_that_misses_the_point_is_not_the_area(void **state)
{
	struct sf_alert_list *list = NULL;
	char err[512] = "";
	size_t len;
	char *xml = slurp("aio-georss-gdacs_gdacs-rss-7d-excerpt.xml", &len);
	const struct sf_alert *sarai, *phanfone;

	(void)state;
	if (sf_alert_parse_gdacs(xml, len, &list, err, sizeof err) != SF_OK)
		fail_msg("%s", err);
	free(xml);
	assert_int_equal(list->n, 2);
	sarai = &list->alerts[0];
	phanfone = &list->alerts[1];
	assert_string_equal(sarai->source_ref, "TC1000642");
	/* Far from its point: no box, a circle around (-20.5, -178.8) that reaches Ono-i-Lau. */
	assert_null(sarai->area_geojson);
	assert_int_equal(sarai->n_circles, 1);
	assert_true(sarai->circles[0].center.lat == -20.5);
	assert_true(sarai->circles[0].center.lon == -178.8);
	assert_true(sarai->circles[0].radius_m >= 100000 && sarai->circles[0].radius_m <= 500000);
	assert_non_null(strstr(sarai->area_note, "gdacs:bbox"));
	assert_non_null(strstr(sarai->area_note, "not used"));
	/* Near its point: the box, and a circle around the point. */
	assert_string_equal(phanfone->source_ref, "TC1000641");
	cJSON_Delete(check_multipolygon(phanfone->area_geojson, 1));
	assert_int_equal(phanfone->n_circles, 1);
	assert_true(phanfone->circles[0].center.lat == 14.6);
	assert_true(phanfone->circles[0].center.lon == 112.1);
	assert_non_null(strstr(phanfone->area_note, "outside gdacs:bbox"));
	sf_alert_list_free(list);
}

/* One TC item at a point with a box, as GDACS writes them. */
static int
gdacs_one(const char *lat, const char *lon, const char *bbox, struct sf_alert_list **list)
{
	char xml[2048], err[512] = "";

	snprintf(xml, sizeof xml,
	         "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\" "
	         "xmlns:geo=\"http://www.w3.org/2003/01/geo/wgs84_pos#\" "
	         "xmlns:gdacs=\"http://www.gdacs.org\"><channel><item>"
	         "<title>Cyclone</title><description>d</description>"
	         "<link>http://www.gdacs.org/report.aspx?eventtype=TC&amp;eventid=9</link>"
	         "<pubDate>Sun, 29 Dec 2019 18:00:00 GMT</pubDate>"
	         "<gdacs:fromdate>Thu, 26 Dec 2019 06:00:00 GMT</gdacs:fromdate>"
	         "<guid isPermaLink=\"false\">TC9</guid>"
	         "<geo:Point><geo:lat>%s</geo:lat><geo:long>%s</geo:long></geo:Point>"
	         "<gdacs:bbox>%s</gdacs:bbox><gdacs:eventtype>TC</gdacs:eventtype>"
	         "<gdacs:alertlevel>Orange</gdacs:alertlevel><gdacs:eventid>9</gdacs:eventid>"
	         "</item></channel></rss>",
	         lat, lon, bbox);
	return sf_alert_parse_gdacs(xml, strlen(xml), list, err, sizeof err);
}

/* A box across the 180th meridian, written either way, is the event's area. */
static void
gdacs_box_across_the_antimeridian_is_kept(void **state)
{
	static const char *const boxes[] = {"170 -170 -25 -15", "-190 -170 -25 -15",
	                                    "170 190 -25 -15"};
	static const char *const points[][2] = {{"-20.5", "-178.8"}, {"-20", "175"}};

	(void)state;
	for (size_t i = 0; i < N_ELEMS(boxes); i++)
		for (size_t k = 0; k < N_ELEMS(points); k++) {
			struct sf_alert_list *list = NULL;

			assert_int_equal(gdacs_one(points[k][0], points[k][1], boxes[i], &list),
			                 SF_OK);
			assert_int_equal(list->n, 1);
			cJSON_Delete(check_multipolygon(list->alerts[0].area_geojson, 1));
			assert_int_equal(list->alerts[0].n_circles, 0);
			assert_string_equal(list->alerts[0].area_note, "");
			/* Longitudes as the database reads them; it cuts the ring at 180. */
			assert_non_null(strstr(list->alerts[0].area_geojson, "[170,-25]"));
			assert_non_null(strstr(list->alerts[0].area_geojson, "[-170,-25]"));
			sf_alert_list_free(list);
		}
	/* The same box does not hold a point on the other side of the globe. */
	{
		struct sf_alert_list *list = NULL;

		assert_int_equal(gdacs_one("-20", "0", "170 -170 -25 -15", &list), SF_OK);
		assert_null(list->alerts[0].area_geojson);
		assert_int_equal(list->alerts[0].n_circles, 1);
		sf_alert_list_free(list);
	}
	/* A box that cannot be read: the default circle, and the answer says why. */
	{
		struct sf_alert_list *list = NULL;

		assert_int_equal(gdacs_one("-20", "175", "175 175 -25 -15", &list), SF_OK);
		assert_int_equal(list->alerts[0].n_circles, 1);
		assert_true(list->alerts[0].circles[0].radius_m == 100000);
		assert_non_null(strstr(list->alerts[0].area_note, "unreadable"));
		sf_alert_list_free(list);
	}
}

static void
gdacs_item_without_a_point_is_refused(void **state)
{
	struct sf_alert_list *list = NULL;
	char err[512] = "";
	size_t len;
	char *xml = slurp("aio-georss-gdacs_gdacs-2.xml", &len);

	(void)state;
	assert_int_equal(sf_alert_parse_gdacs(xml, len, &list, err, sizeof err), SF_EINVAL);
	assert_null(list);
	assert_non_null(strstr(err, "gdacs: line 11: item[1]: "));
	assert_non_null(strstr(err, "all 1 items refused"));
	free(xml);
}

static void
any_sniffs_cap_gdacs_and_usgs(void **state)
{
	static const struct {
		const char *file;
		enum sf_alert_source source;
		size_t n;
	} cases[] = {
	    {"google-cap-library_thunderstorm.cap", SF_ALERT_SOURCE_CAP, 1},
	    {"google-cap-library_earthquake-iso8859-1.cap", SF_ALERT_SOURCE_CAP, 1},
	    {"aio-georss-gdacs_gdacs-rss.xml", SF_ALERT_SOURCE_GDACS, 16},
	    {"us6000jllz-detail-excerpt.geojson", SF_ALERT_SOURCE_USGS, 1},
	    {"usgs-summary-significant_month-2023-10-11.geojson", SF_ALERT_SOURCE_USGS, 18},
	};
	struct sf_alert_list *list = NULL;
	char err[512] = "";

	(void)state;
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		size_t len;
		char *data = slurp(cases[i].file, &len);

		if (sf_alert_parse_any(data, len, &list, err, sizeof err) != SF_OK)
			fail_msg("%s: %s", cases[i].file, err);
		assert_int_equal(list->n, cases[i].n);
		assert_int_equal(list->alerts[0].source, cases[i].source);
		sf_alert_list_free(list);
		free(data);
	}
	assert_int_equal(sf_alert_parse_any("hello", 5, &list, err, sizeof err), SF_EINVAL);
	assert_string_equal(err, "alert: not CAP, GDACS or USGS GeoJSON");
	{
		size_t len;
		char *data = slurp("google-cap-library_xee.cap", &len);

		assert_int_equal(sf_alert_parse_any(data, len, &list, err, sizeof err), SF_EINVAL);
		assert_non_null(strstr(err, "DOCTYPE"));
		free(data);
		data = slurp("eventpages-products_nearby-cities_us10004u1y_us_1456926111040_nearby-"
		             "cities.json",
		             &len);
		assert_int_equal(sf_alert_parse_any(data, len, &list, err, sizeof err), SF_EINVAL);
		assert_non_null(strstr(err, "usgs: type"));
		free(data);
	}
	sf_alert_free(NULL);
	sf_alert_list_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(cap_usgs_earthquake_becomes_a_circle_with_the_quake_radius),
	    cmocka_unit_test(cap_in_iso_8859_1_comes_out_as_utf8),
	    cmocka_unit_test(cap_with_xml_signature_is_read_and_the_signature_ignored),
	    cmocka_unit_test(cap_thunderstorm_polygon_becomes_lon_lat_geojson),
	    cmocka_unit_test(cap_translations_share_their_polygons_once),
	    cmocka_unit_test(cap_korean_info_is_chosen_and_exercise_is_a_drill),
	    cmocka_unit_test(cap_events_map_to_crisis_kinds),
	    cmocka_unit_test(cap_australian_prefixed_namespace_and_circle),
	    cmocka_unit_test(cap_without_info_is_valid_but_has_no_area),
	    cmocka_unit_test(cap_broken_and_hostile_files_are_refused_with_the_element_named),
	    cmocka_unit_test(cap_messages_are_checked_element_by_element),
	    cmocka_unit_test(cap_refuses_entities_doctypes_and_broken_xml),
	    cmocka_unit_test(xml_errors_are_never_printed_and_the_callers_handler_is_restored),
	    cmocka_unit_test(cap_larger_than_the_limit_is_refused_before_parsing),
	    cmocka_unit_test(cap_status_and_msg_type_decide_the_action),
	    cmocka_unit_test(cap_10_reads_value_name_equals_value_pairs),
	    cmocka_unit_test(kind_words_match_whole_words),
	    cmocka_unit_test(usgs_turkiye_2023_covers_the_provinces_hit_and_not_istanbul),
	    cmocka_unit_test(usgs_summary_feed_gives_one_alert_per_event),
	    cmocka_unit_test(usgs_offshore_great_quake_with_green_pager_is_still_severe),
	    cmocka_unit_test(usgs_broken_documents_are_refused_with_the_field_named),
	    cmocka_unit_test(usgs_deleted_event_cancels_and_every_id_is_kept),
	    cmocka_unit_test(usgs_feed_skips_broken_and_other_events_and_keeps_the_rest),
	    cmocka_unit_test(
	        usgs_title_of_only_spaces_or_control_characters_is_made_from_the_magnitude),
	    cmocka_unit_test(usgs_feed_is_capped),
	    cmocka_unit_test(quake_radius_follows_the_published_rule),
	    cmocka_unit_test(quake_severity_weighs_pager_and_magnitude),
	    cmocka_unit_test(kind_and_source_names_match_the_database),
	    cmocka_unit_test(gdacs_items_become_alerts),
	    cmocka_unit_test(gdacs_box_that_misses_the_point_is_not_the_area),
	    cmocka_unit_test(gdacs_box_across_the_antimeridian_is_kept),
	    cmocka_unit_test(gdacs_item_without_a_point_is_refused),
	    cmocka_unit_test(any_sniffs_cap_gdacs_and_usgs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
