/*
 * safetyctl import regions|shelters: GeoJSON FeatureCollections (RFC 7946)
 * into a mission. The file is read with cJSON and every feature is checked
 * here, so a bad one is reported by its number and id; the geometry itself
 * goes to PostGIS as GeoJSON text, which does the geometric work (parsing,
 * validity, repair). Good features go in, bad ones are listed, all in one
 * transaction; re-importing the same file changes nothing.
 */
#include "ctl.h"

#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pwd.h>
#include <safety/name.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest file and the most features one import reads. */
#define GEO_FILE_MAX (64L * 1024 * 1024)
#define GEO_FEATURES_MAX 1000000L
/* Shelters are written this many to a statement. */
#define GEO_SHELTER_BATCH 2000
/* The largest capacity a file or an option may give a shelter. */
#define GEO_CAPACITY_MAX 10000000L

static const char geo_usage[] =
    "usage: safetyctl import regions FILE --mission CODE [--code-property P]\n"
    "                        [--name-property P] [--skip-bad]\n"
    "       safetyctl import shelters FILE --mission CODE [--kind KIND]\n"
    "                        [--default-capacity N | --assign-capacity MIN-MAX]\n"
    "                        [--name-property P] [--skip-bad]\n"
    "\n"
    "FILE is a GeoJSON FeatureCollection (RFC 7946, longitude first), at most\n"
    "64 MiB and 1,000,000 features; features are numbered from 1 in messages.\n"
    "\n"
    "Regions: Polygon or MultiPolygon features; the code comes from the property\n"
    "iso_3166_2 (--code-property), the name from name (--name-property). A region\n"
    "with the same code is updated. Each polygon of a MultiPolygon is repaired on\n"
    "its own if invalid (with a warning) and the parts are united, overlaps\n"
    "included; edges are straight in lon/lat, as for crisis areas. Afterwards every national of "
    "the mission with a location is\n"
    "placed in its region again.\n"
    "\n"
    "Shelters: Point features; the feature id keys the shelter, so a re-import\n"
    "updates it. Name from tesis_adi or name (--name-property), address from\n"
    "address or the AFAD fields (mahalle_adi, sokak_adi, acik_adres, ilce_adi,\n"
    "il_adi), capacity from capacity. A shelter already stored keeps its\n"
    "capacity when the file gives none; a new one gets --default-capacity N, or\n"
    "with --assign-capacity MIN-MAX one derived from the feature id (for sources\n"
    "that publish none; the figures are not official). Optional properties: kind,\n"
    "medical, accessible. KIND: shelter, assembly_point (default), embassy,\n"
    "hotel, airport, border_crossing.\n"
    "\n"
    "Bad features are listed and the good ones imported; the exit code is 1 when\n"
    "any feature was bad, unless --skip-bad.\n";

static const char *const geo_shelter_kinds[] = {
    "shelter", "assembly_point", "embassy", "hotel", "airport", "border_crossing",
};

/* What the command line asked for. */
struct geo_options {
	bool shelters;
	const char *file;
	const char *mission;
	const char *code_property;
	const char *name_property; /* NULL: the default of each kind */
	const char *kind;
	long default_capacity; /* -1: none */
	long assign_min;       /* -1: no --assign-capacity */
	long assign_max;
	bool skip_bad;
	bool help;
};

/* What happened to the features of one import. */
struct geo_counts {
	long features;
	long inserted;
	long updated;
	long unchanged;
	long rejected;
	long repaired;
	long capacity_default;
	long capacity_assigned;
	long capacity_kept; /* shelters already stored whose capacity the file does not give */
	long keyed_by_position;
	long nationals_placed;
};

/* Keys seen so far in the file (region codes, shelter refs), to refuse a repeat. */
struct geo_keyset {
	char **keys;
	long *first;
	size_t cap;
	size_t n;
};

/* The import under way: the connection, the mission and the batch of shelters. */
struct geo_import {
	PGconn *conn;
	const struct geo_options *opt;
	char mission_id[24];
	struct geo_counts counts;
	struct geo_keyset seen;
	cJSON *batch; /* shelters waiting for the next statement */
	int batch_n;
	bool failed; /* a statement failed: the transaction is lost */
};

/* The operator's name for the audit log. */
static const char *
geo_actor(void)
{
	static char actor[96];
	struct passwd *pw = getpwuid(getuid());

	snprintf(actor, sizeof actor, "safetyctl:%s", pw != NULL ? pw->pw_name : "unknown");
	return actor;
}

/* Runs a parameterised statement; prints the error and returns NULL on failure. */
static PGresult *
geo_exec(PGconn *conn, const char *sql, int n, const char *const *params, bool quiet)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		if (!quiet) {
			const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			fprintf(stderr, "safetyctl: error: %s\n",
			        msg != NULL ? msg : PQerrorMessage(conn));
		}
		PQclear(r);
		return NULL;
	}
	return r;
}

/* Runs a statement without parameters and without rows; false (and a message) on failure. */
static bool
geo_command(PGconn *conn, const char *sql)
{
	PGresult *r = geo_exec(conn, sql, 0, NULL, false);

	if (r == NULL)
		return false;
	PQclear(r);
	return true;
}

/* FNV-1a of a key, for the key set. */
static uint64_t
geo_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Adds key (copied) first seen at index; returns -1 if new, else the index it was first seen at. */
static long
geo_keyset_add(struct geo_keyset *s, const char *key, long index)
{
	size_t i;

	if ((s->n + 1) * 2 > s->cap) {
		struct geo_keyset bigger = {NULL, NULL, s->cap == 0 ? 256 : s->cap * 2, 0};
		bigger.keys = xcalloc(bigger.cap, sizeof *bigger.keys);
		bigger.first = xcalloc(bigger.cap, sizeof *bigger.first);
		for (size_t j = 0; j < s->cap; j++) {
			if (s->keys[j] == NULL)
				continue;
			i = geo_hash(s->keys[j]) & (bigger.cap - 1);
			while (bigger.keys[i] != NULL)
				i = (i + 1) & (bigger.cap - 1);
			bigger.keys[i] = s->keys[j];
			bigger.first[i] = s->first[j];
			bigger.n++;
		}
		free(s->keys);
		free(s->first);
		*s = bigger;
	}
	i = geo_hash(key) & (s->cap - 1);
	while (s->keys[i] != NULL) {
		if (strcmp(s->keys[i], key) == 0)
			return s->first[i];
		i = (i + 1) & (s->cap - 1);
	}
	s->keys[i] = xstrdup(key);
	s->first[i] = index;
	s->n++;
	return -1;
}

/* Frees the keys of a set. */
static void
geo_keyset_free(struct geo_keyset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->first);
	memset(s, 0, sizeof *s);
}

/*
 * Reads a whole file of at most GEO_FILE_MAX bytes; NULL with a message on
 * failure. Opened without waiting, so that a FIFO is refused, not waited on.
 */
static char *
geo_read_file(const char *path, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f;
	char *buf;
	size_t n = 0, got;

	if (fd < 0) {
		fprintf(stderr, "safetyctl: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (f = fdopen(fd, "rb")) == NULL) {
		fprintf(stderr, "safetyctl: %s is not a regular file\n", path);
		close(fd);
		return NULL;
	}
	if (st.st_size > GEO_FILE_MAX) {
		fprintf(stderr,
		        "safetyctl: %s is too large: %lld bytes, at most %ld\n"
		        "hint: split the FeatureCollection into smaller files\n",
		        path, (long long)st.st_size, GEO_FILE_MAX);
		fclose(f);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	/* Read to the end rather than trust the size: the file may be growing. */
	while ((got = fread(buf + n, 1, (size_t)st.st_size + 1 - n, f)) > 0) {
		n += got;
		if (n > (size_t)st.st_size)
			break;
	}
	if (ferror(f) || n > (size_t)st.st_size) {
		fprintf(stderr, "safetyctl: cannot read %s: %s\n", path,
		        ferror(f) ? strerror(errno) : "it changed while being read");
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Parses the file as JSON; NULL with the line and column of the error on failure. */
static cJSON *
geo_parse(const char *path, const char *buf, size_t len)
{
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	size_t off, line = 1, col = 1;

	if (root != NULL) {
		/* Only white space may follow the document. */
		while (end != NULL && end < buf + len &&
		       (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
			end++;
		if (end == NULL || end >= buf + len)
			return root;
		cJSON_Delete(root);
		root = NULL;
	}
	off = end != NULL && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
	for (size_t i = 0; i < off; i++) {
		if (buf[i] == '\n') {
			line++;
			col = 1;
		} else if (((unsigned char)buf[i] & 0xC0) != 0x80) {
			col++;
		}
	}
	fprintf(stderr,
	        "safetyctl: %s: not valid JSON: error at line %zu, column %zu (byte %zu)\n"
	        "hint: a GeoJSON file is one JSON document; check for a missing comma or "
	        "bracket there\n",
	        path, line, col, off);
	return NULL;
}

/* Writes the id of a feature (string or number) into buf; "" when it has none. */
static void
geo_feature_id(const cJSON *feature, char *buf, size_t size)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(feature, "id");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(feature, "properties");

	if (id == NULL && cJSON_IsObject(props))
		id = cJSON_GetObjectItemCaseSensitive(props, "id");
	buf[0] = '\0';
	if (cJSON_IsString(id) && id->valuestring[0] != '\0') {
		snprintf(buf, size, "%s", id->valuestring);
	} else if (cJSON_IsNumber(id) && isfinite(id->valuedouble)) {
		double v = id->valuedouble;
		if (v == floor(v) && fabs(v) < 9e15)
			snprintf(buf, size, "%.0f", v);
		else
			snprintf(buf, size, "%.17g", v);
	}
}

/* Reports a bad feature on standard error. */
static void geo_reject(struct geo_import *im, long index, const char *label, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
geo_reject(struct geo_import *im, long index, const char *label, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (label != NULL && label[0] != '\0')
		fprintf(stderr, "feature %ld (%s): %s\n", index, label, why);
	else
		fprintf(stderr, "feature %ld: %s\n", index, why);
	im->counts.rejected++;
}

/*
 * Checks one GeoJSON position: two or three finite numbers, longitude then
 * latitude, in range. why gets the reason when it is not.
 */
static bool
geo_check_position(const cJSON *pos, char *why, size_t whysz)
{
	const cJSON *lon, *lat;
	int n = cJSON_GetArraySize(pos);

	if (!cJSON_IsArray(pos) || n < 2 || n > 3) {
		snprintf(why, whysz, "a position is not [longitude, latitude]");
		return false;
	}
	lon = cJSON_GetArrayItem(pos, 0);
	lat = cJSON_GetArrayItem(pos, 1);
	if (!cJSON_IsNumber(lon) || !cJSON_IsNumber(lat) ||
	    (n == 3 && !cJSON_IsNumber(cJSON_GetArrayItem(pos, 2)))) {
		snprintf(why, whysz, "a position holds something other than numbers");
		return false;
	}
	if (!isfinite(lon->valuedouble) || !isfinite(lat->valuedouble)) {
		snprintf(why, whysz, "coordinates out of range: not finite numbers");
		return false;
	}
	if (fabs(lon->valuedouble) > 180 || fabs(lat->valuedouble) > 90) {
		bool swapped = fabs(lat->valuedouble) <= 180 && fabs(lon->valuedouble) <= 90;
		snprintf(why, whysz,
		         "coordinates out of range: [%.10g, %.10g]: longitude must be within "
		         "-180..180 and latitude within -90..90%s",
		         lon->valuedouble, lat->valuedouble,
		         swapped ? " (looks like latitude first: GeoJSON puts the longitude "
		                   "first)"
		                 : "");
		return false;
	}
	return true;
}

/* Checks the coordinates of a Polygon: rings of at least four positions, closed. */
static bool
geo_check_polygon(const cJSON *rings, char *why, size_t whysz)
{
	const cJSON *ring;
	int r = 0;

	if (!cJSON_IsArray(rings) || cJSON_GetArraySize(rings) < 1) {
		snprintf(why, whysz, "a polygon has no rings");
		return false;
	}
	cJSON_ArrayForEach(ring, rings)
	{
		const cJSON *pos, *first, *last;
		int n = cJSON_GetArraySize(ring);

		if (!cJSON_IsArray(ring) || n < 4) {
			snprintf(why, whysz,
			         "ring %d of a polygon has %d positions; a closed ring needs at "
			         "least 4",
			         r, cJSON_IsArray(ring) ? n : 0);
			return false;
		}
		cJSON_ArrayForEach(pos, ring)
		{
			if (!geo_check_position(pos, why, whysz))
				return false;
		}
		first = cJSON_GetArrayItem(ring, 0);
		last = cJSON_GetArrayItem(ring, n - 1);
		if (cJSON_GetArrayItem(first, 0)->valuedouble !=
		        cJSON_GetArrayItem(last, 0)->valuedouble ||
		    cJSON_GetArrayItem(first, 1)->valuedouble !=
		        cJSON_GetArrayItem(last, 1)->valuedouble) {
			snprintf(why, whysz,
			         "ring %d of a polygon is not closed (its last position must "
			         "repeat the first)",
			         r);
			return false;
		}
		r++;
	}
	return true;
}

/*
 * Checks the geometry of a feature against the types wanted; why gets the
 * reason when it does not fit.
 */
static bool
geo_check_geometry(const cJSON *feature, bool want_point, char *why, size_t whysz)
{
	const cJSON *geom = cJSON_GetObjectItemCaseSensitive(feature, "geometry");
	const cJSON *type, *coords, *poly;
	const char *expected = want_point ? "Point" : "Polygon or MultiPolygon";

	if (geom == NULL || cJSON_IsNull(geom)) {
		snprintf(why, whysz, "geometry is missing, expected %s", expected);
		return false;
	}
	type = cJSON_GetObjectItemCaseSensitive(geom, "type");
	if (!cJSON_IsObject(geom) || !cJSON_IsString(type)) {
		snprintf(why, whysz, "geometry is not a GeoJSON geometry object, expected %s",
		         expected);
		return false;
	}
	coords = cJSON_GetObjectItemCaseSensitive(geom, "coordinates");
	if (want_point) {
		if (strcmp(type->valuestring, "Point") != 0) {
			snprintf(why, whysz, "geometry is a %.40s, expected Point",
			         type->valuestring);
			return false;
		}
		return geo_check_position(coords, why, whysz);
	}
	if (strcmp(type->valuestring, "Polygon") == 0)
		return geo_check_polygon(coords, why, whysz);
	if (strcmp(type->valuestring, "MultiPolygon") != 0) {
		snprintf(why, whysz, "geometry is a %.40s, expected Polygon or MultiPolygon",
		         type->valuestring);
		return false;
	}
	if (!cJSON_IsArray(coords) || cJSON_GetArraySize(coords) < 1) {
		snprintf(why, whysz, "a MultiPolygon has no polygons");
		return false;
	}
	cJSON_ArrayForEach(poly, coords)
	{
		if (!geo_check_polygon(poly, why, whysz))
			return false;
	}
	return true;
}

/* The string value of a property, or NULL when absent, null or empty after trimming. */
static const char *
geo_prop_string(const cJSON *props, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(props, name);
	const char *s;

	if (!cJSON_IsString(v))
		return NULL;
	for (s = v->valuestring; *s == ' ' || *s == '\t' || *s == '\r' || *s == '\n'; s++)
		;
	return *s != '\0' ? v->valuestring : NULL;
}

/*
 * Normalises a place name (UTF-8, NFC, white space) into out; false with the
 * reason in why. The rules are those of people's names, which suit places too.
 */
static bool
geo_clean_name(const char *in, char *out, size_t outsz, char *why, size_t whysz)
{
	char err[160];

	if (sf_name_normalize(in, out, outsz, err, sizeof err) != 0) {
		snprintf(why, whysz, "name is not usable: %s", err);
		return false;
	}
	return true;
}

/*
 * Appends one part of an address to buf (with ", " between parts), after
 * checking it is valid UTF-8 without control characters; false if it is not.
 */
static bool
geo_address_add(char *buf, size_t size, const char *part)
{
	char clean[SF_NAME_SIZE];
	size_t len = strlen(buf);

	if (part == NULL)
		return true;
	if (sf_name_normalize(part, clean, sizeof clean, NULL, 0) != 0)
		return false;
	if (len + strlen(clean) + 3 >= size)
		return true; /* long enough already */
	snprintf(buf + len, size - len, "%s%s", len > 0 ? ", " : "", clean);
	return true;
}

/* Composes the address of a shelter into buf ("" when there is none); false if unusable. */
static bool
geo_shelter_address(const cJSON *props, char *buf, size_t size)
{
	const char *address = geo_prop_string(props, "address");
	const char *mahalle = geo_prop_string(props, "mahalle_adi");
	const char *open_address = geo_prop_string(props, "acik_adres");
	const char *il = geo_prop_string(props, "il_adi");
	const char *ilce = geo_prop_string(props, "ilce_adi");
	char district[2 * SF_NAME_SIZE + 4] = "";

	buf[0] = '\0';
	if (address != NULL)
		return geo_address_add(buf, size, address);
	/* AFAD: neighbourhood, street, the free-text address, district/province. */
	if (!geo_address_add(buf, size, mahalle) ||
	    !geo_address_add(buf, size, geo_prop_string(props, "sokak_adi")))
		return false;
	/* The free text often repeats the neighbourhood ("X MAHALLESİ"): keep it once. */
	if (open_address != NULL &&
	    (mahalle == NULL || strncmp(open_address, mahalle, strlen(mahalle)) != 0) &&
	    !geo_address_add(buf, size, open_address))
		return false;
	if (ilce != NULL && il != NULL)
		snprintf(district, sizeof district, "%s/%s", ilce, il);
	else if (ilce != NULL || il != NULL)
		snprintf(district, sizeof district, "%s", ilce != NULL ? ilce : il);
	return geo_address_add(buf, size, district[0] != '\0' ? district : NULL);
}

/* A capacity between min and max derived from a feature's key: the same key, the same figure. */
static long
geo_assigned_capacity(const char *key, long min, long max)
{
	uint64_t h = geo_hash(key);
	long steps;

	/* Round figures, as a planner would write them: multiples of 50 where the range allows. */
	if (max - min >= 100) {
		steps = (max - min) / 50 + 1;
		return min + (long)(h % (uint64_t)steps) * 50;
	}
	return min + (long)(h % (uint64_t)(max - min + 1));
}

/* Imports one region feature in its own savepoint; reports it if it is bad. */
static void
geo_region(struct geo_import *im, const cJSON *feature, long index)
{
	const struct geo_options *opt = im->opt;
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(feature, "properties");
	const cJSON *code_item;
	const char *name_prop = opt->name_property != NULL ? opt->name_property : "name";
	const char *raw_name;
	char id[128], label[200], code[64], name[SF_NAME_SIZE], why[512];
	const char *params[4];
	char *geometry;
	PGresult *r;
	long first;

	geo_feature_id(feature, id, sizeof id);
	snprintf(label, sizeof label, "%s%s", id[0] != '\0' ? "id " : "", id);
	if (!cJSON_IsObject(props)) {
		geo_reject(im, index, label, "no properties, so no code and no name");
		return;
	}
	code_item = cJSON_GetObjectItemCaseSensitive(props, opt->code_property);
	code[0] = '\0';
	if (cJSON_IsString(code_item))
		snprintf(code, sizeof code, "%s", code_item->valuestring);
	else if (cJSON_IsNumber(code_item) && code_item->valuedouble >= 0 &&
	         code_item->valuedouble < 1e15 &&
	         code_item->valuedouble == floor(code_item->valuedouble))
		snprintf(code, sizeof code, "%.0f", code_item->valuedouble);
	if (label[0] == '\0' && code[0] != '\0')
		snprintf(label, sizeof label, "code %.60s", code);
	if (code[0] == '\0') {
		geo_reject(im, index, label,
		           "missing code: no property \"%s\" (choose another with "
		           "--code-property)",
		           opt->code_property);
		return;
	}
	if (strlen(code) > 32 || strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	                                      "0123456789._-") != strlen(code)) {
		geo_reject(im, index, label,
		           "code \"%.40s\" must be 1 to 32 letters, digits, '.', '_' or '-'", code);
		return;
	}
	raw_name = geo_prop_string(props, name_prop);
	if (raw_name == NULL) {
		geo_reject(im, index, label,
		           "missing name: no property \"%s\" (choose another with "
		           "--name-property)",
		           name_prop);
		return;
	}
	if (!geo_clean_name(raw_name, name, sizeof name, why, sizeof why) ||
	    !geo_check_geometry(feature, false, why, sizeof why)) {
		geo_reject(im, index, label, "%s", why);
		return;
	}
	first = geo_keyset_add(&im->seen, code, index);
	if (first >= 0) {
		geo_reject(im, index, label, "code %s appears again (first at feature %ld)", code,
		           first);
		return;
	}

	geometry = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(feature, "geometry"));
	if (geometry == NULL) {
		fprintf(stderr, "safetyctl: out of memory\n");
		im->failed = true;
		return;
	}
	if (!geo_command(im->conn, "SAVEPOINT geo_region")) {
		cJSON_free(geometry);
		im->failed = true;
		return;
	}
	params[0] = im->mission_id;
	params[1] = code;
	params[2] = name;
	params[3] = geometry;
	/*
	 * PostGIS parses and checks the geometry; the area is built as a crisis
	 * area is (area_from_geojson): each polygon repaired on its own and the
	 * parts united, so where two parts overlap stays inside (a repair of the
	 * whole keeps only what an odd number of parts cover), and edges
	 * densified, so a long edge stays the straight line drawn instead of a
	 * great-circle arc that leaves people beside it out. A part that is not
	 * valid on its own is reported as repaired. The region is rewritten only
	 * when its name or shape changed, so a re-import reports "unchanged".
	 */
	r = geo_exec(
	    im->conn,
	    "WITH p AS (SELECT d.geom FROM ST_Dump(ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON($4), "
	    "  4326))) d), "
	    "v AS (SELECT coalesce(bool_and(ST_IsValid(p.geom)), true) AS valid, "
	    "  coalesce(string_agg(ST_IsValidReason(p.geom), '; ') "
	    "   FILTER (WHERE NOT ST_IsValid(p.geom)), '') AS reason, "
	    "  (SELECT ST_Force2D(area_from_geojson($4))) AS geom FROM p), "
	    "up AS (INSERT INTO region (mission_id, code, name, area) "
	    "  SELECT $1, $2, $3, v.geom::geography FROM v "
	    "  WHERE NOT coalesce(ST_IsEmpty(v.geom), true) "
	    "  ON CONFLICT (mission_id, code) DO UPDATE SET name = EXCLUDED.name, "
	    "   area = EXCLUDED.area "
	    "  WHERE region.name IS DISTINCT FROM EXCLUDED.name "
	    "   OR ST_AsBinary(region.area) IS DISTINCT FROM ST_AsBinary(EXCLUDED.area) "
	    "  RETURNING (xmax = 0) AS inserted) "
	    "SELECT v.valid, coalesce(ST_IsEmpty(v.geom), true), (SELECT inserted FROM up), "
	    " v.reason FROM v",
	    4, params, true);
	cJSON_free(geometry);
	if (r == NULL) {
		const char *msg = PQerrorMessage(im->conn);
		char primary[300];
		size_t n;

		snprintf(primary, sizeof primary, "%s", msg);
		n = strcspn(primary, "\n");
		primary[n] = '\0';
		if (strncmp(primary, "ERROR:  ", 8) == 0)
			memmove(primary, primary + 8, strlen(primary + 8) + 1);
		if (!geo_command(im->conn, "ROLLBACK TO SAVEPOINT geo_region")) {
			im->failed = true;
			return;
		}
		geo_reject(im, index, label, "PostGIS refused the geometry: %s", primary);
		return;
	}
	if (strcmp(PQgetvalue(r, 0, 1), "t") == 0) {
		geo_reject(im, index, label,
		           "geometry is not valid and nothing of it is left after repair (%s)",
		           PQgetvalue(r, 0, 3));
	} else {
		if (strcmp(PQgetvalue(r, 0, 0), "f") == 0) {
			fprintf(stderr,
			        "warning: feature %ld (%s): geometry is not valid (%s); repaired "
			        "with ST_MakeValid\n",
			        index, label, PQgetvalue(r, 0, 3));
			im->counts.repaired++;
		}
		if (PQgetisnull(r, 0, 2))
			im->counts.unchanged++;
		else if (strcmp(PQgetvalue(r, 0, 2), "t") == 0)
			im->counts.inserted++;
		else
			im->counts.updated++;
	}
	PQclear(r);
	if (!geo_command(im->conn, "RELEASE SAVEPOINT geo_region"))
		im->failed = true;
}

/* Writes the batch of shelters in one statement and counts what it did. */
static void
geo_shelter_flush(struct geo_import *im)
{
	const char *params[2];
	char *json;
	PGresult *r;
	long changed_new, changed_old, invented;

	if (im->batch_n == 0 || im->failed)
		return;
	json = cJSON_PrintUnformatted(im->batch);
	if (json == NULL) {
		fprintf(stderr, "safetyctl: out of memory\n");
		im->failed = true;
		return;
	}
	params[0] = im->mission_id;
	params[1] = json;
	/*
	 * One upsert per batch. Fields a file does not give (medical,
	 * accessible, a capacity) keep what staff set before; a shelter is
	 * rewritten only when something changed. A capacity the import
	 * invents (--default-capacity, --assign-capacity) is for new shelters
	 * only: one staff set (a damaged shelter's 5) must not go back to 800.
	 */
	r = geo_exec(
	    im->conn,
	    "WITH x AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(ref text, "
	    "  kind text, name text, address text, geom text, capacity integer, "
	    "  capacity_invented integer, medical boolean, accessible boolean)), "
	    "old AS (SELECT s.external_ref, s.capacity, s.medical, s.accessible "
	    "  FROM shelter s JOIN x ON s.external_ref = x.ref WHERE s.mission_id = $1), "
	    "up AS (INSERT INTO shelter (mission_id, kind, name, address, point, capacity, "
	    "  medical, accessible, external_ref) "
	    " SELECT $1, x.kind::shelter_kind, x.name, x.address, "
	    "  ST_Force2D(ST_SetSRID(ST_GeomFromGeoJSON(x.geom), 4326))::geography, "
	    "  coalesce(x.capacity, old.capacity, x.capacity_invented, 0), "
	    "  coalesce(x.medical, old.medical, false), "
	    "  coalesce(x.accessible, old.accessible, false), x.ref "
	    " FROM x LEFT JOIN old ON old.external_ref = x.ref "
	    " ON CONFLICT (mission_id, external_ref) DO UPDATE SET kind = EXCLUDED.kind, "
	    "  name = EXCLUDED.name, address = EXCLUDED.address, point = EXCLUDED.point, "
	    "  capacity = EXCLUDED.capacity, medical = EXCLUDED.medical, "
	    "  accessible = EXCLUDED.accessible, updated_at = now() "
	    " WHERE (shelter.kind, shelter.name, shelter.address, shelter.capacity, "
	    "  shelter.medical, shelter.accessible) IS DISTINCT FROM (EXCLUDED.kind, "
	    "  EXCLUDED.name, EXCLUDED.address, EXCLUDED.capacity, EXCLUDED.medical, "
	    "  EXCLUDED.accessible) "
	    "  OR NOT ST_Equals(shelter.point::geometry, EXCLUDED.point::geometry) "
	    " RETURNING (xmax = 0) AS inserted) "
	    "SELECT (SELECT count(*) FROM up WHERE inserted), "
	    " (SELECT count(*) FROM up WHERE NOT inserted), "
	    " count(*) FILTER (WHERE x.capacity IS NULL AND old.external_ref IS NULL "
	    "  AND x.capacity_invented IS NOT NULL), "
	    " count(*) FILTER (WHERE x.capacity IS NULL AND old.external_ref IS NOT NULL) "
	    "FROM x LEFT JOIN old ON old.external_ref = x.ref",
	    2, params, false);
	cJSON_free(json);
	if (r == NULL) {
		im->failed = true;
		return;
	}
	changed_new = atol(PQgetvalue(r, 0, 0));
	changed_old = atol(PQgetvalue(r, 0, 1));
	invented = atol(PQgetvalue(r, 0, 2));
	im->counts.capacity_kept += atol(PQgetvalue(r, 0, 3));
	PQclear(r);
	if (im->opt->default_capacity >= 0)
		im->counts.capacity_default += invented;
	else
		im->counts.capacity_assigned += invented;
	im->counts.inserted += changed_new;
	im->counts.updated += changed_old;
	im->counts.unchanged += im->batch_n - changed_new - changed_old;
	cJSON_Delete(im->batch);
	im->batch = cJSON_CreateArray();
	im->batch_n = 0;
}

/* Reads a boolean property into *out (-1 absent, 0, 1); false if present but not a boolean. */
static bool
geo_prop_bool(const cJSON *props, const char *name, int *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(props, name);

	*out = -1;
	if (v == NULL || cJSON_IsNull(v))
		return true;
	if (!cJSON_IsBool(v))
		return false;
	*out = cJSON_IsTrue(v) ? 1 : 0;
	return true;
}

/* Checks one shelter feature and adds it to the batch; reports it if it is bad. */
static void
geo_shelter(struct geo_import *im, const cJSON *feature, long index)
{
	const struct geo_options *opt = im->opt;
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(feature, "properties");
	const cJSON *geom = cJSON_GetObjectItemCaseSensitive(feature, "geometry");
	const cJSON *cap_item, *pos;
	const char *raw_name = NULL, *kind = opt->kind, *kind_prop;
	char id[128], label[200], ref[300], name[SF_NAME_SIZE], address[501], why[512];
	int medical, accessible;
	long capacity = -1, invented = -1, first;
	bool kind_ok = false;
	char *geometry;
	cJSON *row;

	geo_feature_id(feature, id, sizeof id);
	snprintf(label, sizeof label, "%s%s", id[0] != '\0' ? "id " : "", id);
	if (!cJSON_IsObject(props)) {
		geo_reject(im, index, label, "no properties, so no name");
		return;
	}
	if (!geo_check_geometry(feature, true, why, sizeof why)) {
		geo_reject(im, index, label, "%s", why);
		return;
	}
	if (opt->name_property != NULL) {
		raw_name = geo_prop_string(props, opt->name_property);
	} else {
		raw_name = geo_prop_string(props, "tesis_adi");
		if (raw_name == NULL)
			raw_name = geo_prop_string(props, "name");
	}
	if (raw_name == NULL) {
		geo_reject(im, index, label, "missing name: no property \"%s\"",
		           opt->name_property != NULL ? opt->name_property
		                                      : "tesis_adi\" or \"name");
		return;
	}
	if (!geo_clean_name(raw_name, name, sizeof name, why, sizeof why)) {
		geo_reject(im, index, label, "%s", why);
		return;
	}
	if (!geo_shelter_address(props, address, sizeof address)) {
		geo_reject(im, index, label,
		           "address is not usable (not UTF-8, or control characters)");
		return;
	}
	kind_prop = geo_prop_string(props, "kind");
	if (kind_prop != NULL)
		kind = kind_prop;
	for (size_t i = 0; i < sizeof geo_shelter_kinds / sizeof geo_shelter_kinds[0]; i++)
		kind_ok = kind_ok || strcmp(kind, geo_shelter_kinds[i]) == 0;
	if (!kind_ok) {
		geo_reject(im, index, label,
		           "kind \"%.40s\" is not one of shelter, assembly_point, embassy, hotel, "
		           "airport, border_crossing",
		           kind);
		return;
	}
	if (!geo_prop_bool(props, "medical", &medical) ||
	    !geo_prop_bool(props, "accessible", &accessible)) {
		geo_reject(im, index, label, "medical and accessible must be true or false");
		return;
	}
	cap_item = cJSON_GetObjectItemCaseSensitive(props, "capacity");
	if (cap_item != NULL && !cJSON_IsNull(cap_item)) {
		if (!cJSON_IsNumber(cap_item) || cap_item->valuedouble < 0 ||
		    cap_item->valuedouble > GEO_CAPACITY_MAX ||
		    cap_item->valuedouble != floor(cap_item->valuedouble)) {
			geo_reject(im, index, label,
			           "capacity must be a whole number from 0 to %ld",
			           GEO_CAPACITY_MAX);
			return;
		}
		capacity = (long)cap_item->valuedouble;
	}

	/* The key that finds the shelter again on the next import. */
	pos = cJSON_GetObjectItemCaseSensitive(geom, "coordinates");
	if (id[0] != '\0') {
		snprintf(ref, sizeof ref, "%s", id);
	} else {
		/* No id: the name at the point (to 0.1 m) is the best key there is. */
		snprintf(ref, sizeof ref, "%.6f,%.6f %s", cJSON_GetArrayItem(pos, 0)->valuedouble,
		         cJSON_GetArrayItem(pos, 1)->valuedouble, name);
		im->counts.keyed_by_position++;
	}
	first = geo_keyset_add(&im->seen, ref, index);
	if (first >= 0) {
		if (id[0] != '\0')
			geo_reject(im, index, label, "id %s appears again (first at feature %ld)",
			           id, first);
		else
			geo_reject(im, index, label,
			           "the same name at the same point as feature %ld, and no id",
			           first);
		return;
	}
	/* Used only if the shelter is new (geo_shelter_flush); counted there. */
	if (capacity < 0 && opt->default_capacity >= 0)
		invented = opt->default_capacity;
	else if (capacity < 0 && opt->assign_min >= 0)
		invented = geo_assigned_capacity(ref, opt->assign_min, opt->assign_max);

	row = cJSON_CreateObject();
	cJSON_AddStringToObject(row, "ref", ref);
	cJSON_AddStringToObject(row, "kind", kind);
	cJSON_AddStringToObject(row, "name", name);
	if (address[0] != '\0')
		cJSON_AddStringToObject(row, "address", address);
	geometry = cJSON_PrintUnformatted(geom);
	if (geometry == NULL) {
		cJSON_Delete(row);
		fprintf(stderr, "safetyctl: out of memory\n");
		im->failed = true;
		return;
	}
	cJSON_AddStringToObject(row, "geom", geometry);
	cJSON_free(geometry);
	if (capacity >= 0)
		cJSON_AddNumberToObject(row, "capacity", (double)capacity);
	if (invented >= 0)
		cJSON_AddNumberToObject(row, "capacity_invented", (double)invented);
	if (medical >= 0)
		cJSON_AddBoolToObject(row, "medical", medical);
	if (accessible >= 0)
		cJSON_AddBoolToObject(row, "accessible", accessible);
	cJSON_AddItemToArray(im->batch, row);
	if (++im->batch_n >= GEO_SHELTER_BATCH)
		geo_shelter_flush(im);
}

/* Parses a whole number from min to max; false if s is not one. */
static bool
geo_parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Reads the command line into opt; false (usage printed) when it is wrong. */
static bool
geo_parse_args(struct geo_options *opt, int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;

		if (strcmp(a, "--mission") == 0 && has_value) {
			opt->mission = argv[++i];
		} else if (strcmp(a, "--name-property") == 0 && has_value) {
			opt->name_property = argv[++i];
		} else if (strcmp(a, "--code-property") == 0 && has_value && !opt->shelters) {
			opt->code_property = argv[++i];
		} else if (strcmp(a, "--kind") == 0 && has_value && opt->shelters) {
			opt->kind = argv[++i];
		} else if (strcmp(a, "--default-capacity") == 0 && has_value && opt->shelters) {
			if (!geo_parse_long(argv[++i], 0, GEO_CAPACITY_MAX,
			                    &opt->default_capacity)) {
				fprintf(
				    stderr,
				    "safetyctl: --default-capacity must be a whole number from 0 "
				    "to %ld\n",
				    GEO_CAPACITY_MAX);
				return false;
			}
		} else if (strcmp(a, "--assign-capacity") == 0 && has_value && opt->shelters) {
			char lo[24], *dash;
			snprintf(lo, sizeof lo, "%s", argv[++i]);
			dash = strchr(lo, '-');
			if (dash != NULL)
				*dash = '\0';
			if (dash == NULL ||
			    !geo_parse_long(lo, 0, GEO_CAPACITY_MAX, &opt->assign_min) ||
			    !geo_parse_long(strchr(argv[i], '-') + 1, opt->assign_min,
			                    GEO_CAPACITY_MAX, &opt->assign_max)) {
				fprintf(stderr, "safetyctl: --assign-capacity wants MIN-MAX, "
				                "whole numbers with MIN <= MAX (e.g. 100-1000)\n");
				return false;
			}
		} else if (strcmp(a, "--skip-bad") == 0) {
			opt->skip_bad = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			opt->help = true;
			return true;
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr,
			        "safetyctl: import %s: unknown option or missing value: %s\n",
			        opt->shelters ? "shelters" : "regions", a);
			return false;
		} else if (opt->file == NULL) {
			opt->file = a;
		} else {
			fprintf(stderr, "safetyctl: import: one file at a time (%s, then %s)\n",
			        opt->file, a);
			return false;
		}
	}
	if (opt->file == NULL || opt->mission == NULL) {
		fprintf(stderr, "safetyctl: import %s needs a FILE and --mission CODE\n",
		        opt->shelters ? "shelters" : "regions");
		return false;
	}
	if (opt->default_capacity >= 0 && opt->assign_min >= 0) {
		fprintf(stderr,
		        "safetyctl: give --default-capacity or --assign-capacity, not both\n");
		return false;
	}
	return true;
}

/* Checks that the document is a FeatureCollection within limits; its features or NULL. */
static const cJSON *
geo_features(const char *path, const cJSON *root)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(root, "type");
	const cJSON *features = cJSON_GetObjectItemCaseSensitive(root, "features");
	int n;

	if (!cJSON_IsObject(root) || !cJSON_IsString(type) ||
	    strcmp(type->valuestring, "FeatureCollection") != 0) {
		fprintf(stderr,
		        "safetyctl: %s is not a GeoJSON FeatureCollection%s%s\n"
		        "hint: the file must be an object with \"type\": \"FeatureCollection\" "
		        "and an array \"features\"\n",
		        path, cJSON_IsString(type) ? ": its type is " : "",
		        cJSON_IsString(type) ? type->valuestring : "");
		return NULL;
	}
	if (!cJSON_IsArray(features)) {
		fprintf(stderr, "safetyctl: %s: the FeatureCollection has no array \"features\"\n",
		        path);
		return NULL;
	}
	n = cJSON_GetArraySize(features);
	if (n > GEO_FEATURES_MAX) {
		fprintf(stderr,
		        "safetyctl: %s has %d features, at most %ld at a time\n"
		        "hint: split the file\n",
		        path, n, GEO_FEATURES_MAX);
		return NULL;
	}
	return features;
}

/* Places every located national of the mission in its region again, in one statement. */
static bool
geo_place_nationals(struct geo_import *im)
{
	const char *params[1] = {im->mission_id};
	PGresult *r;

	/* The trigger on location only does this for new locations; new regions need it too. */
	r = geo_exec(
	    im->conn,
	    "WITH m AS (SELECT n.id, (SELECT r.id FROM region r WHERE r.mission_id = $1 "
	    "  AND ST_Intersects(r.area, n.last_point) ORDER BY r.id LIMIT 1) AS region_id "
	    " FROM national n WHERE n.mission_id = $1 AND n.last_point IS NOT NULL) "
	    "UPDATE national n SET region_id = m.region_id FROM m "
	    "WHERE n.id = m.id AND n.region_id IS DISTINCT FROM m.region_id",
	    1, params, false);
	if (r == NULL)
		return false;
	im->counts.nationals_placed = atol(PQcmdTuples(r));
	PQclear(r);
	return true;
}

/* Writes the audit row of the import: counts only. */
static bool
geo_audit(struct geo_import *im)
{
	char summary[512];
	const char *params[5];
	PGresult *r;

	if (im->opt->shelters)
		snprintf(summary, sizeof summary,
		         "{\"features\":%ld,\"inserted\":%ld,\"updated\":%ld,\"unchanged\":%ld,"
		         "\"rejected\":%ld,\"capacity_assigned\":%ld,\"capacity_kept\":%ld}",
		         im->counts.features, im->counts.inserted, im->counts.updated,
		         im->counts.unchanged, im->counts.rejected,
		         im->counts.capacity_default + im->counts.capacity_assigned,
		         im->counts.capacity_kept);
	else
		snprintf(summary, sizeof summary,
		         "{\"features\":%ld,\"inserted\":%ld,\"updated\":%ld,\"unchanged\":%ld,"
		         "\"rejected\":%ld,\"repaired\":%ld,\"nationals_placed\":%ld}",
		         im->counts.features, im->counts.inserted, im->counts.updated,
		         im->counts.unchanged, im->counts.rejected, im->counts.repaired,
		         im->counts.nationals_placed);
	params[0] = geo_actor();
	params[1] = im->mission_id;
	params[2] = im->opt->shelters ? "shelter.import" : "region.import";
	params[3] = summary;
	params[4] = im->opt->shelters ? "shelter" : "region";
	r = geo_exec(im->conn,
	             "SELECT audit_record($1, 'operator', $2::bigint, '', $3, $5, '', $4)", 5,
	             params, false);
	if (r == NULL)
		return false;
	PQclear(r);
	return true;
}

/* Prints what the import did. */
static void
geo_summary(const struct geo_import *im)
{
	const struct geo_counts *c = &im->counts;
	const char *what = im->opt->shelters ? "shelters" : "regions";

	printf("imported %ld %s, %ld updated, %ld unchanged, %ld rejected\n", c->inserted, what,
	       c->updated, c->unchanged, c->rejected);
	if (c->repaired > 0)
		printf("note: %ld region%s had invalid geometry, repaired with ST_MakeValid\n",
		       c->repaired, c->repaired == 1 ? "" : "s");
	if (c->capacity_default > 0)
		printf("note: %ld new shelter%s had no capacity; assigned the default of %ld\n",
		       c->capacity_default, c->capacity_default == 1 ? "" : "s",
		       im->opt->default_capacity);
	if (c->capacity_assigned > 0)
		printf(
		    "note: %ld new shelter%s had no capacity; assigned one from %ld to %ld derived "
		    "from each feature's id (not an official figure)\n",
		    c->capacity_assigned, c->capacity_assigned == 1 ? "" : "s", im->opt->assign_min,
		    im->opt->assign_max);
	if (c->capacity_kept > 0)
		printf(
		    "note: %ld shelter%s already stored kept %s capacity (the file gives none)\n",
		    c->capacity_kept, c->capacity_kept == 1 ? "" : "s",
		    c->capacity_kept == 1 ? "its" : "their");
	if (c->keyed_by_position > 0)
		printf("note: %ld shelter%s had no id; keyed by name and position instead\n",
		       c->keyed_by_position, c->keyed_by_position == 1 ? "" : "s");
	if (!im->opt->shelters && c->nationals_placed > 0)
		printf("placed %ld national%s in their regions again\n", c->nationals_placed,
		       c->nationals_placed == 1 ? "" : "s");
}

/*
 * Imports a GeoJSON file of regions or shelters. Inside a transaction the
 * caller opened (safetyctl demo), the import joins it under a savepoint and
 * neither commits nor rolls back the caller's work.
 */
int
ctl_import_geo(const struct config *cfg, PGconn *conn, const char *what, int argc, char **argv)
{
	struct geo_options opt = {
	    .shelters = strcmp(what, "shelters") == 0,
	    .code_property = "iso_3166_2",
	    .kind = "assembly_point",
	    .default_capacity = -1,
	    .assign_min = -1,
	    .assign_max = -1,
	};
	struct geo_import im;
	const cJSON *features, *feature;
	const char *params[1];
	cJSON *root;
	char *buf;
	size_t len;
	PGresult *r;
	bool nested, ok;
	long index = 0;

	(void)cfg;
	if (!geo_parse_args(&opt, argc, argv)) {
		fputs(geo_usage, stderr);
		return 2;
	}
	if (opt.help) {
		fputs(geo_usage, stdout);
		return 0;
	}
	buf = geo_read_file(opt.file, &len);
	if (buf == NULL)
		return 1;
	root = geo_parse(opt.file, buf, len);
	free(buf);
	if (root == NULL)
		return 1;
	features = geo_features(opt.file, root);
	if (features == NULL) {
		cJSON_Delete(root);
		return 1;
	}

	memset(&im, 0, sizeof im);
	im.conn = conn;
	im.opt = &opt;
	im.batch = cJSON_CreateArray();
	nested = PQtransactionStatus(conn) == PQTRANS_INTRANS;
	ok = geo_command(conn, nested ? "SAVEPOINT geo_import" : "BEGIN");
	if (ok) {
		params[0] = opt.mission;
		r = geo_exec(conn, "SELECT id FROM mission WHERE code = $1", 1, params, false);
		ok = r != NULL && PQntuples(r) == 1;
		if (r != NULL && ok)
			snprintf(im.mission_id, sizeof im.mission_id, "%s", PQgetvalue(r, 0, 0));
		else if (r != NULL)
			fprintf(stderr,
			        "safetyctl: no mission with code '%s'\n"
			        "hint: safetyctl mission list\n",
			        opt.mission);
		PQclear(r);
	}
	cJSON_ArrayForEach(feature, features)
	{
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(feature, "type");

		if (!ok || im.failed)
			break;
		index++;
		im.counts.features++;
		if (!cJSON_IsObject(feature) || !cJSON_IsString(type) ||
		    strcmp(type->valuestring, "Feature") != 0) {
			geo_reject(&im, index, NULL,
			           "not a GeoJSON Feature (an object with \"type\": "
			           "\"Feature\")");
			continue;
		}
		if (opt.shelters)
			geo_shelter(&im, feature, index);
		else
			geo_region(&im, feature, index);
	}
	if (ok && opt.shelters)
		geo_shelter_flush(&im);
	ok = ok && !im.failed;
	if (ok && !opt.shelters)
		ok = geo_place_nationals(&im);
	if (ok)
		ok = geo_audit(&im);
	if (ok)
		ok = geo_command(conn, nested ? "RELEASE SAVEPOINT geo_import" : "COMMIT");
	if (!ok) {
		if (nested) {
			PQclear(PQexec(conn, "ROLLBACK TO SAVEPOINT geo_import"));
			PQclear(PQexec(conn, "RELEASE SAVEPOINT geo_import"));
		} else {
			PQclear(PQexec(conn, "ROLLBACK"));
		}
		fprintf(stderr, "safetyctl: import of %s failed: nothing was imported\n", opt.file);
	} else {
		geo_summary(&im);
		if (im.counts.rejected > 0 && !opt.skip_bad)
			fprintf(
			    stderr,
			    "safetyctl: %ld of %ld features rejected (listed above); the others "
			    "were imported\n"
			    "hint: fix the file and import it again, or give --skip-bad to "
			    "accept this\n",
			    im.counts.rejected, im.counts.features);
	}
	cJSON_Delete(im.batch);
	geo_keyset_free(&im.seen);
	cJSON_Delete(root);
	if (!ok)
		return 1;
	return im.counts.rejected > 0 && !opt.skip_bad ? 1 : 0;
}
