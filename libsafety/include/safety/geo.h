/*
 * Points on the Earth (WGS 84) as people and programs hand them over: typed
 * "lat, lon" text, geo: URIs, GeoJSON positions, links from map apps. Every
 * source has its own order, and a point with latitude and longitude swapped
 * sends a rescue team to the wrong continent; each entry point here names the
 * order it reads and refuses pairs that only make sense swapped.
 */
#ifndef SAFETY_GEO_H
#define SAFETY_GEO_H

#include <stdbool.h>
#include <stddef.h>

/* Mean radius of the WGS 84 ellipsoid (IUGG R1), in metres. */
#define SF_GEO_EARTH_RADIUS_M 6371008.8

/* A point in decimal degrees: lat -90 (south) to 90, lon -180 (west) to 180. */
struct sf_point {
	double lat;
	double lon;
};

/*
 * Checks that a point is finite and in range. Returns 0, SF_EINVAL (NULL, NaN
 * or infinite) or SF_ERANGE (out of range; when only the swapped pair would
 * fit, the message says "looks like lon,lat: swap?").
 */
int sf_point_validate(const struct sf_point *p, char *err, size_t errsz);

/*
 * Parses a point typed by a person, latitude first: "37.5665, 126.9780",
 * "37.5665 126.9780", "37.5665N 126.9780E", "N37.5665 E126.9780",
 * "37°33'59.4\"N 126°58'40.8\"E", "37° 33.99' N, 126° 58.68' E",
 * "북위 37.5665 동경 126.978", optionally inside one pair of parentheses.
 * Hemisphere letters decide which number is which when both are given, so
 * "126.978E 37.5665N" is read correctly; without them the first number is
 * the latitude. Decimal point only ('.'), no exponents, no "nan" or "inf".
 * Degrees and minutes (and seconds) separated by spaces without their marks,
 * "37 34.2N 126 58.8E", are read only with a hemisphere on each coordinate;
 * without, they are refused with a message saying so.
 *
 * Returns 0, SF_EINVAL (not a pair of coordinates; square brackets, which
 * suggest a GeoJSON [lon, lat], are refused) or SF_ERANGE (out of range,
 * with "looks like lon,lat: swap?" when the swapped pair would fit); out is
 * untouched on error.
 */
int sf_point_parse_latlon(const char *s, struct sf_point *out, char *err, size_t errsz);

/*
 * Parses an RFC 5870 geo URI, "geo:37.5665,126.978;u=35": latitude first, an
 * optional altitude (ignored), ";crs=wgs84" (the only system accepted) and
 * ";u=" the uncertainty in metres, written to *accuracy_m when accuracy_m is
 * not NULL (-1 when absent). Android's "geo:0,0?q=37.5665,126.978(label)"
 * form is read from its q.
 *
 * Returns 0, SF_EINVAL (not a geo URI, another coordinate system, negative
 * uncertainty) or SF_ERANGE (out of range); out and *accuracy_m are untouched
 * on error.
 */
int sf_point_parse_geo_uri(const char *uri, struct sf_point *out, double *accuracy_m, char *err,
                           size_t errsz);

/*
 * Makes a point from a GeoJSON position (RFC 7946 section 3.1.1): pass
 * position[0] as first and position[1] as second, in the order they appear in
 * the array; GeoJSON puts the longitude first, and this function, not the
 * caller, knows it. Returns as sf_point_validate does (a pair that fits only
 * swapped gives "looks like lat,lon: swap?").
 */
int sf_point_from_geojson_position(double first, double second, struct sf_point *out, char *err,
                                   size_t errsz);

/* Writes a point as a GeoJSON position, position[0] = lon, position[1] = lat; 0 or as validate. */
int sf_point_to_geojson_position(const struct sf_point *p, double position[2]);

/*
 * Reads the point of a link shared from a map app: Google Maps (?q=, ?query=,
 * ?ll=, /place/…, the pin !3d…!4d…, else the view /@lat,lon), Apple Maps
 * (?ll=, ?coordinate=, ?q=, ?sll=), OpenStreetMap (?mlat=&mlon=, #map=z/lat/lon),
 * Kakao Map (/link/map/name,lat,lon and /link/to/…) and Naver Map (?c=lon,lat,…
 * in degrees or Web Mercator metres, ?lng=&lat=); a geo: URI is read as by
 * sf_point_parse_geo_uri. Nothing is fetched: short links (maps.app.goo.gl,
 * naver.me, kko.to) and links naming a place without coordinates are refused
 * with a message saying what to paste instead.
 *
 * Returns 0, SF_EINVAL or SF_ERANGE; out is untouched on error.
 */
int sf_point_parse_maps_link(const char *url, struct sf_point *out, char *err, size_t errsz);

/*
 * Returns the great-circle distance between two points in metres (haversine
 * on a sphere of SF_GEO_EARTH_RADIUS_M; within 0.5% of the ellipsoid). Points
 * must be valid; the result for invalid ones is unspecified but finite or NaN,
 * never a crash.
 */
double sf_geo_distance_m(const struct sf_point *a, const struct sf_point *b);

/*
 * Tells whether p lies inside a ring of n vertices (closed or not), by ray
 * casting on the plane of longitude and latitude: for sanity checks of small
 * areas away from the poles and the antimeridian only (PostGIS does the real
 * geography). A point on the boundary may be reported either way. Returns 0
 * and *inside, SF_EINVAL (NULL, or fewer than 3 distinct vertices) or
 * SF_ERANGE (an invalid point or vertex).
 */
int sf_geo_point_in_ring(const struct sf_point *p, const struct sf_point *ring, size_t n,
                         bool *inside);

#endif
