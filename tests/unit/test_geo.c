/*
 * Unit tests of coordinates: typed pairs, geo: URIs, GeoJSON positions and
 * map links read in the right order, swapped pairs caught, junk refused, and
 * the distance and point-in-ring computations checked on known places
 * (Seoul, Istanbul, Kahramanmaraş, Bangkok, Kyiv), the poles and the
 * antimeridian.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/geo.h>

enum geo_source { FROM_TEXT, FROM_GEO_URI, FROM_LINK };

struct geo_case {
	const char *name;
	enum geo_source source;
	const char *input;
	int rc;
	double lat, lon;
	const char *reason; /* part of the message when refused */
};

#define ACCEPT(name, source, input, lat, lon)                                                      \
	{                                                                                          \
		name, source, input, 0, lat, lon, NULL                                             \
	}
#define REJECT(name, source, input, rc, reason)                                                    \
	{                                                                                          \
		name, source, input, rc, 0, 0, reason                                              \
	}

static const struct geo_case text_cases[] = {
    ACCEPT("text_reads_seoul_with_comma", FROM_TEXT, "37.5665, 126.9780", 37.5665, 126.978),
    ACCEPT("text_reads_without_space", FROM_TEXT, "37.5665,126.9780", 37.5665, 126.978),
    ACCEPT("text_reads_space_separated", FROM_TEXT, "37.5665 126.9780", 37.5665, 126.978),
    ACCEPT("text_reads_hemisphere_suffixes", FROM_TEXT, "37.5665N 126.9780E", 37.5665, 126.978),
    ACCEPT("text_reads_attached_suffixes", FROM_TEXT, "37.5665N126.9780E", 37.5665, 126.978),
    ACCEPT("text_reads_spaced_suffixes", FROM_TEXT, "37.5665 N, 126.9780 E", 37.5665, 126.978),
    ACCEPT("text_reads_hemisphere_prefixes", FROM_TEXT, "N37.5665 E126.9780", 37.5665, 126.978),
    ACCEPT("text_reads_lower_case_letters", FROM_TEXT, "37.5665n, 126.978e", 37.5665, 126.978),
    ACCEPT("text_reads_letters_in_either_order", FROM_TEXT, "126.9780E 37.5665N", 37.5665, 126.978),
    ACCEPT("text_reads_degrees_minutes_seconds", FROM_TEXT, "37°33'59.4\"N 126°58'40.8\"E", 37.5665,
           126.978),
    ACCEPT("text_reads_prime_marks", FROM_TEXT, "37°33′59.4″N, 126°58′40.8″E", 37.5665, 126.978),
    ACCEPT("text_reads_degrees_decimal_minutes", FROM_TEXT, "37° 33.99' N, 126° 58.68' E", 37.5665,
           126.978),
    ACCEPT("text_reads_korean_hemisphere_words", FROM_TEXT, "북위 37.5665 동경 126.978", 37.5665,
           126.978),
    ACCEPT("text_reads_parentheses", FROM_TEXT, "(37.5665, 126.978)", 37.5665, 126.978),
    ACCEPT("text_reads_istanbul", FROM_TEXT, "41.0082, 28.9784", 41.0082, 28.9784),
    ACCEPT("text_reads_kahramanmaras", FROM_TEXT, "37.58, 36.93", 37.58, 36.93),
    ACCEPT("text_reads_bangkok", FROM_TEXT, "13.7563, 100.5018", 13.7563, 100.5018),
    ACCEPT("text_reads_kyiv", FROM_TEXT, "50.4501,30.5234", 50.4501, 30.5234),
    ACCEPT("text_reads_southern_western_signs", FROM_TEXT, "-33.8688, -70.6693", -33.8688,
           -70.6693),
    ACCEPT("text_reads_southern_western_letters", FROM_TEXT, "33.8688S 70.6693W", -33.8688,
           -70.6693),
    ACCEPT("text_reads_unicode_minus", FROM_TEXT, "\u221233.8688, 151.2093", -33.8688, 151.2093),
    ACCEPT("text_reads_north_pole", FROM_TEXT, "90, 0", 90, 0),
    ACCEPT("text_reads_south_pole", FROM_TEXT, "-90, 180", -90, 180),
    ACCEPT("text_reads_antimeridian_west", FROM_TEXT, "-17.7, -180", -17.7, -180),
    ACCEPT("text_reads_integers", FROM_TEXT, "37 127", 37, 127),
    ACCEPT("text_trims_white_space", FROM_TEXT, "  37.5665 ,\t126.978  ", 37.5665, 126.978),
    ACCEPT("text_keeps_many_decimals", FROM_TEXT, "37.566535123456789012, 126.9779692",
           37.566535123456789, 126.9779692),
    REJECT("text_refuses_swapped_pair", FROM_TEXT, "126.9780, 37.5665", SF_ERANGE,
           "latitude out of range (-90 to 90); looks like lon,lat: swap?"),
    REJECT("text_refuses_junk_suffix", FROM_TEXT, "37.5,126.9abc", SF_EINVAL,
           "unexpected letters after the longitude (byte 10)"),
    REJECT("text_refuses_exponent", FROM_TEXT, "37.5, 1.269e2", SF_EINVAL, "unexpected"),
    REJECT("text_refuses_nan", FROM_TEXT, "nan, 126.9", SF_EINVAL, "latitude is not a number"),
    REJECT("text_refuses_infinity", FROM_TEXT, "37.5, inf", SF_EINVAL, "longitude is not a number"),
    REJECT("text_refuses_infinity_word", FROM_TEXT, "Infinity, 0", SF_EINVAL, "not a number"),
    REJECT("text_refuses_one_number", FROM_TEXT, "37.5665", SF_EINVAL, "got one number"),
    REJECT("text_refuses_empty", FROM_TEXT, "", SF_EINVAL, "geo: empty"),
    REJECT("text_refuses_blank", FROM_TEXT, "   ", SF_EINVAL, "geo: empty"),
    REJECT("text_refuses_words", FROM_TEXT, "Seoul", SF_EINVAL, "expected a latitude"),
    REJECT("text_refuses_decimal_comma_pair", FROM_TEXT, "37,5665 126,9780", SF_EINVAL,
           "geo: decimal commas (the first at byte 2); write decimals with a point"),
    REJECT("text_refuses_semicolon_without_quoting", FROM_TEXT, "37.5665;126.978", SF_EINVAL,
           "expected ',' or a space after the latitude, found a semicolon (byte 7)"),
    REJECT("text_refuses_61_minutes", FROM_TEXT, "37 61N 126 58.8E", SF_ERANGE,
           "minutes and seconds of the latitude must be below 60 (the number at byte 3)"),
    REJECT("text_refuses_60_seconds", FROM_TEXT, "37 34 60N 126 58 48E", SF_ERANGE,
           "minutes and seconds of the latitude must be below 60 (the number at byte 6)"),
    REJECT("text_refuses_61_minutes_of_the_longitude", FROM_TEXT, "37 34N 126 61E", SF_ERANGE,
           "minutes and seconds of the longitude must be below 60 (the number at byte 11)"),
    REJECT("text_refuses_signed_minutes", FROM_TEXT, "37 -34.2N 126 58.8E", SF_ERANGE,
           "a sign on the minutes or seconds of the latitude (byte 3)"),
    REJECT("text_refuses_trailing_point", FROM_TEXT, "37., 126.", SF_EINVAL, "expected"),
    REJECT("text_refuses_geojson_brackets", FROM_TEXT, "[126.978, 37.5665]", SF_EINVAL,
           "looks like a GeoJSON position"),
    REJECT("text_refuses_latitude_91", FROM_TEXT, "91, 0", SF_ERANGE, "latitude out of range"),
    REJECT("text_refuses_longitude_181", FROM_TEXT, "0, 181", SF_ERANGE, "longitude out of range"),
    REJECT("text_refuses_both_out_of_range", FROM_TEXT, "200, 300", SF_ERANGE,
           "latitude out of range (-90 to 90)"),
    REJECT("text_refuses_two_latitudes", FROM_TEXT, "37.5N 36.9N", SF_EINVAL, "two latitudes"),
    REJECT("text_refuses_two_longitudes", FROM_TEXT, "37.5E 126.9W", SF_EINVAL, "two longitudes"),
    REJECT("text_refuses_sign_and_letter", FROM_TEXT, "-33.8S, 151.2E", SF_EINVAL,
           "both a sign and a hemisphere"),
    REJECT("text_refuses_minutes_60", FROM_TEXT, "37°60'N 126°58'E", SF_ERANGE, "must be below 60"),
    REJECT("text_refuses_fractional_degrees_with_minutes", FROM_TEXT, "37.5°33'N 126°58'E",
           SF_EINVAL, "degrees with a fraction and minutes"),
    REJECT("text_refuses_unclosed_parenthesis", FROM_TEXT, "(37.5, 126.9", SF_EINVAL,
           "missing ')'"),
    REJECT("text_refuses_missing_separator", FROM_TEXT, "37.5;126.9", SF_EINVAL,
           "expected ',' or a space"),
    REJECT("text_refuses_overlong_nul", FROM_TEXT, "37.5, 126.9\xc0\x80", SF_EINVAL, "unexpected"),
    /* Degrees and minutes separated by a space: read when letters say which is which. */
    ACCEPT("text_reads_spaced_degree_minutes", FROM_TEXT, "37 34.2N 126 58.8E", 37.57, 126.98),
    ACCEPT("text_reads_spaced_degree_minutes_spaced_letters", FROM_TEXT, "37 34.2 N, 126 58.8 E",
           37.57, 126.98),
    ACCEPT("text_reads_spaced_degree_minutes_letters_first", FROM_TEXT, "N37 34.2 E126 58.8", 37.57,
           126.98),
    ACCEPT("text_reads_spaced_degree_minutes_longitude_first", FROM_TEXT, "126 58.8E 37 34.2N",
           37.57, 126.98),
    ACCEPT("text_reads_spaced_degree_minutes_south_west", FROM_TEXT, "(33 52.5S 151 12.6W)",
           -33.875, -151.21),
    ACCEPT("text_reads_spaced_degree_minutes_seconds", FROM_TEXT, "37 34 12N 126 58 48E", 37.57,
           126.98),
    ACCEPT("text_reads_marked_degree_minutes_spaced_letters", FROM_TEXT,
           "37\u00b034.2' N 126\u00b058.8' E", 37.57, 126.98),
    ACCEPT("text_reads_korean_spaced_degree_minutes", FROM_TEXT,
           "\ubd81\uc704 37 34.2 \ub3d9\uacbd 126 58.8", 37.57, 126.98),
    ACCEPT("text_keeps_lettered_longitude_after_whole_latitude", FROM_TEXT, "37 34E", 37, 34),
    REJECT("text_names_spaced_degree_minutes_without_letters", FROM_TEXT, "37 34.2, 126 58.8",
           SF_EINVAL, "degrees and minutes give each coordinate its hemisphere letter"),
    REJECT("text_names_spaced_degree_minutes_one_letter", FROM_TEXT, "37 34.2 126.98E", SF_EINVAL,
           "more than two numbers"),
    REJECT("text_refuses_spaced_minutes_over_59", FROM_TEXT, "37 64.2N 126 58.8E", SF_ERANGE,
           "minutes and seconds of the latitude must be below 60 (the number at byte 3)"),
    REJECT("text_refuses_spaced_degree_minutes_out_of_range", FROM_TEXT, "95 00N 126 58.8E",
           SF_ERANGE, "latitude out of range"),
    REJECT("text_refuses_double_comma", FROM_TEXT, "37.5,,126.9", SF_EINVAL,
           "expected a longitude"),
};

static const struct geo_case uri_cases[] = {
    ACCEPT("uri_reads_rfc_5870", FROM_GEO_URI, "geo:37.5665,126.978;u=35", 37.5665, 126.978),
    ACCEPT("uri_reads_without_uncertainty", FROM_GEO_URI, "geo:41.0082,28.9784", 41.0082, 28.9784),
    ACCEPT("uri_reads_altitude_and_crs", FROM_GEO_URI, "geo:37.58,36.93,550;crs=wgs84;u=10", 37.58,
           36.93),
    ACCEPT("uri_reads_upper_case_scheme", FROM_GEO_URI, "GEO:13.7563,100.5018", 13.7563, 100.5018),
    ACCEPT("uri_reads_negative_coordinates", FROM_GEO_URI, "geo:-33.8688,-70.6693", -33.8688,
           -70.6693),
    ACCEPT("uri_reads_android_query", FROM_GEO_URI, "geo:0,0?q=50.4501,30.5234(Kyiv)", 50.4501,
           30.5234),
    ACCEPT("uri_reads_android_encoded_query", FROM_GEO_URI,
           "geo:0,0?q=37.5665%2C126.978%28%EC%84%9C%EC%9A%B8%29", 37.5665, 126.978),
    ACCEPT("uri_ignores_zoom", FROM_GEO_URI, "geo:37.5665,126.978?z=15", 37.5665, 126.978),
    ACCEPT("uri_ignores_other_parameters", FROM_GEO_URI, "geo:37.5665,126.978;name=x", 37.5665,
           126.978),
    REJECT("uri_refuses_swapped_pair", FROM_GEO_URI, "geo:126.978,37.5665", SF_ERANGE,
           "looks like lon,lat: swap?"),
    REJECT("uri_refuses_other_crs", FROM_GEO_URI, "geo:37.5,126.9;crs=utm", SF_EINVAL,
           "a coordinate system other than wgs84 (byte 19)"),
    REJECT("uri_refuses_negative_uncertainty", FROM_GEO_URI, "geo:37.5,126.9;u=-5", SF_EINVAL,
           "must not be negative"),
    REJECT("uri_refuses_bad_uncertainty", FROM_GEO_URI, "geo:37.5,126.9;u=abc", SF_EINVAL,
           "not a number of metres"),
    REJECT("uri_refuses_plus_sign", FROM_GEO_URI, "geo:+37.5,126.9", SF_EINVAL,
           "expected geo:latitude,longitude"),
    REJECT("uri_refuses_space", FROM_GEO_URI, "geo:37.5, 126.9", SF_EINVAL, "expected"),
    REJECT("uri_refuses_other_scheme", FROM_GEO_URI, "https://example.com/37.5,126.9", SF_EINVAL,
           "not a geo: URI"),
    REJECT("uri_refuses_junk", FROM_GEO_URI, "geo:37.5,126.9junk", SF_EINVAL,
           "unexpected letters in the geo URI (byte 14)"),
    REJECT("uri_refuses_nan", FROM_GEO_URI, "geo:nan,0", SF_EINVAL, "expected"),
};

static const struct geo_case link_cases[] = {
    ACCEPT("link_reads_google_q", FROM_LINK, "https://maps.google.com/?q=37.57,126.98", 37.57,
           126.98),
    ACCEPT("link_reads_google_view", FROM_LINK, "https://www.google.com/maps/@37.57,126.98,15z",
           37.57, 126.98),
    ACCEPT("link_reads_google_encoded_query", FROM_LINK,
           "https://www.google.com/maps/search/?api=1&query=41.0082%2C28.9784", 41.0082, 28.9784),
    ACCEPT("link_reads_google_loc", FROM_LINK, "http://maps.google.co.kr/maps?q=loc:37.58,36.93",
           37.58, 36.93),
    ACCEPT("link_prefers_google_pin_to_view", FROM_LINK,
           "https://www.google.com/maps/place/Seoul+City+Hall/@37.5,126.9,17z/"
           "data=!3m1!4b1!4m6!3m5!1s0x0:0x0!8m2!3d37.5665!4d126.978!16s",
           37.5665, 126.978),
    ACCEPT("link_reads_google_place_dms", FROM_LINK,
           "https://www.google.com/maps/place/37%C2%B033'59.4%22N+126%C2%B058'40.8%22E/"
           "@37.5,126.9,17z",
           37.5665, 126.978),
    ACCEPT("link_reads_google_turkish_domain", FROM_LINK,
           "https://www.google.com.tr/maps/@37.58,36.93,12z", 37.58, 36.93),
    ACCEPT("link_reads_google_directions_destination", FROM_LINK,
           "https://www.google.com/maps/dir/?api=1&destination=13.7563,100.5018", 13.7563,
           100.5018),
    ACCEPT("link_reads_apple_ll", FROM_LINK, "https://maps.apple.com/?ll=37.57,126.98", 37.57,
           126.98),
    ACCEPT("link_reads_apple_ll_with_label", FROM_LINK,
           "https://maps.apple.com/?q=Home&ll=50.4501,30.5234&z=10", 50.4501, 30.5234),
    ACCEPT("link_reads_openstreetmap_marker", FROM_LINK,
           "https://www.openstreetmap.org/?mlat=37.57&mlon=126.98", 37.57, 126.98),
    ACCEPT("link_reads_openstreetmap_view", FROM_LINK,
           "https://www.openstreetmap.org/#map=15/41.0082/28.9784", 41.0082, 28.9784),
    ACCEPT("link_reads_kakao_map", FROM_LINK, "https://map.kakao.com/link/map/name,37.57,126.98",
           37.57, 126.98),
    ACCEPT("link_reads_kakao_hangul_name_with_comma", FROM_LINK,
           "https://map.kakao.com/link/to/%EC%84%9C%EC%9A%B8,%EC%8B%9C%EC%B2%AD,37.5665,126.978",
           37.5665, 126.978),
    ACCEPT("link_reads_naver_degrees", FROM_LINK,
           "https://map.naver.com/p?c=126.9780,37.5665,15,0,0,0,dh", 37.5665, 126.978),
    ACCEPT("link_reads_naver_web_mercator", FROM_LINK,
           "https://map.naver.com/v5/?c=14135893.0,4518319.2,15,0,0,0,dh", 37.566163130291244,
           126.98488736578156),
    ACCEPT("link_reads_naver_lat_lng", FROM_LINK,
           "https://m.map.naver.com/map.naver?lat=37.5665&lng=126.978", 37.5665, 126.978),
    ACCEPT("link_reads_link_without_scheme", FROM_LINK, "maps.google.com/?q=37.57,126.98", 37.57,
           126.98),
    ACCEPT("link_reads_geo_uri", FROM_LINK, "geo:37.5665,126.978", 37.5665, 126.978),
    REJECT("link_refuses_google_short_link", FROM_LINK, "https://maps.app.goo.gl/AbCdEf123",
           SF_EINVAL, "a short link (maps.app.goo.gl) must be opened first"),
    REJECT("link_refuses_naver_short_link", FROM_LINK, "https://naver.me/xyz", SF_EINVAL,
           "short link"),
    REJECT("link_refuses_kakao_place_id", FROM_LINK, "https://map.kakao.com/link/map/18577297",
           SF_EINVAL, "Kakao Map link has no coordinates"),
    REJECT("link_refuses_naver_zoom_only", FROM_LINK,
           "https://map.naver.com/p/entry/place/123?c=15.00,0,0,0,dh", SF_EINVAL,
           "Naver Map link has no coordinates"),
    REJECT("link_refuses_google_place_name", FROM_LINK,
           "https://www.google.com/maps/search/?api=1&query=Seoul+Station", SF_EINVAL,
           "Google Maps link has no coordinates"),
    REJECT("link_refuses_google_directions_view", FROM_LINK,
           "https://www.google.com/maps/dir/Seoul/Busan/@36,128,8z", SF_EINVAL, "directions link"),
    REJECT("link_refuses_unknown_host", FROM_LINK, "https://example.com/?q=37.57,126.98", SF_EINVAL,
           "not a link of a known map"),
    REJECT("link_refuses_lookalike_host", FROM_LINK,
           "https://www.google.com.evil.example/maps/@37.57,126.98,15z", SF_EINVAL,
           "not a link of a known map"),
    REJECT("link_refuses_swapped_google_query", FROM_LINK,
           "https://maps.google.com/?q=126.98,37.57", SF_ERANGE, "looks like lon,lat: swap?"),
    REJECT("link_refuses_swapped_osm_marker", FROM_LINK,
           "https://www.openstreetmap.org/?mlat=126.98&mlon=37.57", SF_ERANGE,
           "looks like lon,lat: swap?"),
    REJECT("link_refuses_space_inside", FROM_LINK, "https://maps.google.com/?q=37.57, 126.98",
           SF_EINVAL, "space or control character"),
    REJECT("link_refuses_other_scheme", FROM_LINK, "ftp://maps.google.com/?q=37.57,126.98",
           SF_EINVAL, "not a web link"),
    REJECT("link_refuses_escaped_nul", FROM_LINK, "https://maps.google.com/?q=37.57%00,126.98",
           SF_EINVAL, "no coordinates"),
    REJECT("link_refuses_empty", FROM_LINK, " ", SF_EINVAL, "geo: empty"),
};

/* Runs one case of any source and fails with its name when the result differs. */
static void
run_case(const struct geo_case *c)
{
	struct sf_point pt = {-999, -999};
	char err[256] = "";
	int rc = SF_EINTERNAL;

	switch (c->source) {
	case FROM_TEXT:
		rc = sf_point_parse_latlon(c->input, &pt, err, sizeof err);
		break;
	case FROM_GEO_URI:
		rc = sf_point_parse_geo_uri(c->input, &pt, NULL, err, sizeof err);
		break;
	case FROM_LINK:
		rc = sf_point_parse_maps_link(c->input, &pt, err, sizeof err);
		break;
	}
	if (rc != c->rc)
		fail_msg("%s: \"%s\" gave %d (%s), want %d", c->name, c->input, rc, err, c->rc);
	if (rc == 0 && (fabs(pt.lat - c->lat) > 1e-9 || fabs(pt.lon - c->lon) > 1e-9))
		fail_msg("%s: \"%s\" gave %.12g, %.12g", c->name, c->input, pt.lat, pt.lon);
	if (rc != 0 && (strstr(err, c->reason) == NULL || pt.lat != -999))
		fail_msg("%s: \"%s\" gave \"%s\", want \"%s\"", c->name, c->input, err, c->reason);
}

static void
geo_reads_typed_pairs_latitude_first(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof text_cases / sizeof text_cases[0]; i++)
		run_case(&text_cases[i]);
}

static void
geo_reads_geo_uris(void **state)
{
	double accuracy = 7;
	struct sf_point pt;

	(void)state;
	for (size_t i = 0; i < sizeof uri_cases / sizeof uri_cases[0]; i++)
		run_case(&uri_cases[i]);
	assert_int_equal(
	    sf_point_parse_geo_uri("geo:37.5665,126.978;u=35", &pt, &accuracy, NULL, 0), 0);
	assert_true(accuracy == 35);
	assert_int_equal(sf_point_parse_geo_uri("geo:37.5665,126.978", &pt, &accuracy, NULL, 0), 0);
	assert_true(accuracy == -1);
	accuracy = 7;
	assert_int_equal(sf_point_parse_geo_uri("geo:37.5,126.9;u=-5", &pt, &accuracy, NULL, 0),
	                 SF_EINVAL);
	assert_true(accuracy == 7);
}

static void
geo_reads_map_links(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof link_cases / sizeof link_cases[0]; i++)
		run_case(&link_cases[i]);
}

static void
geo_reads_geojson_longitude_first(void **state)
{
	/* As a GeoJSON file has it: Seoul is [126.978, 37.5665]. */
	const double seoul[2] = {126.978, 37.5665}, swapped[2] = {37.5665, 126.978};
	double position[2];
	struct sf_point pt = {0, 0};
	char err[128];

	(void)state;
	assert_int_equal(sf_point_from_geojson_position(seoul[0], seoul[1], &pt, err, sizeof err),
	                 0);
	assert_true(pt.lat == 37.5665 && pt.lon == 126.978);
	assert_int_equal(sf_point_to_geojson_position(&pt, position), 0);
	assert_true(position[0] == seoul[0] && position[1] == seoul[1]);

	assert_int_equal(
	    sf_point_from_geojson_position(swapped[0], swapped[1], &pt, err, sizeof err),
	    SF_ERANGE);
	assert_string_equal(err, "geo: latitude out of range (-90 to 90); looks like "
	                         "lat,lon: swap?");
	assert_int_equal(sf_point_from_geojson_position(NAN, 0, &pt, err, sizeof err), SF_EINVAL);
	assert_string_equal(err, "geo: longitude is not a number");
	assert_int_equal(sf_point_from_geojson_position(0, INFINITY, &pt, err, sizeof err),
	                 SF_EINVAL);
	assert_int_equal(sf_point_from_geojson_position(181, 0, &pt, err, sizeof err), SF_ERANGE);
	assert_int_equal(sf_point_from_geojson_position(0, 0, NULL, err, sizeof err), SF_EINVAL);
	assert_int_equal(sf_point_to_geojson_position(&(struct sf_point){95, 0}, position),
	                 SF_ERANGE);
}

static void
geo_validates_points(void **state)
{
	char err[128];

	(void)state;
	assert_int_equal(sf_point_validate(&(struct sf_point){90, 180}, err, sizeof err), 0);
	assert_int_equal(sf_point_validate(&(struct sf_point){-90, -180}, err, sizeof err), 0);
	assert_int_equal(sf_point_validate(&(struct sf_point){90.000001, 0}, err, sizeof err),
	                 SF_ERANGE);
	assert_int_equal(sf_point_validate(&(struct sf_point){0, -180.5}, err, sizeof err),
	                 SF_ERANGE);
	assert_string_equal(err, "geo: longitude out of range (-180 to 180)");
	assert_int_equal(sf_point_validate(&(struct sf_point){NAN, 0}, err, sizeof err), SF_EINVAL);
	assert_int_equal(sf_point_validate(&(struct sf_point){0, -INFINITY}, err, sizeof err),
	                 SF_EINVAL);
	assert_int_equal(sf_point_validate(&(struct sf_point){126.978, 37.5665}, err, sizeof err),
	                 SF_ERANGE);
	assert_non_null(strstr(err, "looks like lon,lat: swap?"));
	assert_int_equal(sf_point_validate(NULL, err, sizeof err), SF_EINVAL);
}

static void
geo_measures_haversine_distances(void **state)
{
	static const struct {
		const char *name;
		struct sf_point a, b;
		double metres;
	} cases[] = {
	    {"seoul_to_busan", {37.5665, 126.978}, {35.1796, 129.0756}, 325111.708},
	    {"seoul_to_istanbul", {37.5665, 126.978}, {41.0082, 28.9784}, 7953759.114},
	    {"istanbul_to_kahramanmaras", {41.0082, 28.9784}, {37.58, 36.93}, 782826.312},
	    {"seoul_to_bangkok", {37.5665, 126.978}, {13.7563, 100.5018}, 3722107.418},
	    {"seoul_to_kyiv", {37.5665, 126.978}, {50.4501, 30.5234}, 7292544.245},
	    {"across_the_antimeridian", {0, 179.5}, {0, -179.5}, 111195.080},
	    {"fiji_across_the_antimeridian", {-17.7, 179.9}, {-17.7, -179.9}, 21186.253},
	    {"pole_to_pole", {90, 0}, {-90, 0}, 20015114.442},
	    {"same_point", {37.58, 36.93}, {37.58, 36.93}, 0},
	    {"north_pole_any_longitude", {90, 0}, {90, 123}, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		double d = sf_geo_distance_m(&cases[i].a, &cases[i].b);
		double back = sf_geo_distance_m(&cases[i].b, &cases[i].a);

		if (fabs(d - cases[i].metres) > 0.01 || fabs(d - back) > 1e-6)
			fail_msg("%s: %.3f m, want %.3f m", cases[i].name, d, cases[i].metres);
	}
	/* Antipodes: rounding must not take asin past 1. */
	assert_false(
	    isnan(sf_geo_distance_m(&(struct sf_point){0, 0}, &(struct sf_point){0, 180})));
}

static void
geo_tells_point_in_ring(void **state)
{
	/* A rough box around Kahramanmaraş province, closed as GeoJSON rings are. */
	const struct sf_point box[] = {
	    {37.0, 36.3}, {37.0, 37.6}, {38.4, 37.6}, {38.4, 36.3}, {37.0, 36.3}};
	/* A concave ring: the notch must be outside. */
	const struct sf_point notch[] = {{0, 0}, {0, 10}, {10, 10}, {5, 5}, {10, 0}};
	bool inside = false;

	(void)state;
	assert_int_equal(sf_geo_point_in_ring(&(struct sf_point){37.58, 36.93}, box, 5, &inside),
	                 0);
	assert_true(inside);
	assert_int_equal(
	    sf_geo_point_in_ring(&(struct sf_point){41.0082, 28.9784}, box, 5, &inside), 0);
	assert_false(inside);
	/* The same ring without its closing vertex gives the same answers. */
	assert_int_equal(sf_geo_point_in_ring(&(struct sf_point){37.58, 36.93}, box, 4, &inside),
	                 0);
	assert_true(inside);
	assert_int_equal(sf_geo_point_in_ring(&(struct sf_point){2, 5}, notch, 5, &inside), 0);
	assert_true(inside);
	assert_int_equal(sf_geo_point_in_ring(&(struct sf_point){8, 5}, notch, 5, &inside), 0);
	assert_false(inside);
	assert_int_equal(sf_geo_point_in_ring(&(struct sf_point){37.58, 36.93}, box, 2, &inside),
	                 SF_EINVAL);
	assert_int_equal(sf_geo_point_in_ring(&(struct sf_point){37.58, 36.93}, box, 3, &inside),
	                 0);
	assert_int_equal(sf_geo_point_in_ring(&(struct sf_point){NAN, 0}, box, 5, &inside),
	                 SF_ERANGE);
	assert_int_equal(sf_geo_point_in_ring(NULL, box, 5, &inside), SF_EINVAL);
}

static void
geo_refuses_hostile_input(void **state)
{
	struct sf_point pt = {1, 2};
	char err[128];
	size_t n = 100000;
	char *huge = malloc(n + 1);

	(void)state;
	assert_non_null(huge);
	memset(huge, '9', n);
	huge[n] = '\0';
	assert_int_equal(sf_point_parse_latlon(huge, &pt, err, sizeof err), SF_EINVAL);
	memcpy(huge, "37.5, ", 6);
	assert_int_equal(sf_point_parse_latlon(huge, &pt, err, sizeof err), SF_ERANGE);
	memcpy(huge, "https://maps.google.com/?q=", 27);
	assert_int_equal(sf_point_parse_maps_link(huge, &pt, err, sizeof err), SF_ETOOLONG);
	memset(huge, '9', n);
	memcpy(huge, "geo:37.5,", 9);
	assert_int_equal(sf_point_parse_geo_uri(huge, &pt, NULL, err, sizeof err), SF_ERANGE);
	free(huge);
	assert_true(pt.lat == 1 && pt.lon == 2);
	assert_int_equal(sf_point_parse_latlon(NULL, &pt, err, sizeof err), SF_EINVAL);
	assert_int_equal(sf_point_parse_latlon("1, 2", NULL, err, sizeof err), SF_EINVAL);
	assert_int_equal(sf_point_parse_geo_uri(NULL, &pt, NULL, err, sizeof err), SF_EINVAL);
	assert_int_equal(sf_point_parse_maps_link(NULL, &pt, err, sizeof err), SF_EINVAL);
	assert_int_equal(sf_point_parse_latlon("\xff\xfe", &pt, err, sizeof err), SF_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(geo_reads_typed_pairs_latitude_first),
	    cmocka_unit_test(geo_reads_geo_uris),
	    cmocka_unit_test(geo_reads_map_links),
	    cmocka_unit_test(geo_reads_geojson_longitude_first),
	    cmocka_unit_test(geo_validates_points),
	    cmocka_unit_test(geo_measures_haversine_distances),
	    cmocka_unit_test(geo_tells_point_in_ring),
	    cmocka_unit_test(geo_refuses_hostile_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
