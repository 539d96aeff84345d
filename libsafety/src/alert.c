/*
 * External alerts into proposed crises. CAP and GDACS are XML, read with
 * libxml2 from memory with DOCTYPEs refused and the network off; USGS is
 * GeoJSON, read with cJSON. Each source fills the same struct sf_alert, and
 * one function then derives the proposal (kind, severity, title, area).
 * alert.md gives the rules, the earthquake radius and their sources.
 */
#include <safety/alert.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include "xml_internal.h"

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include <unistr.h>

#include <safety/date.h>

#define CAP12_NS "urn:oasis:names:tc:emergency:cap:1.2"
#define CAP11_NS "urn:oasis:names:tc:emergency:cap:1.1"
#define CAP10_NS "http://www.incident.com/cap/1.0"
#define GDACS_NS "http://www.gdacs.org"
#define GEO_NS "http://www.w3.org/2003/01/geo/wgs84_pos#"
#define GEORSS_NS "http://www.georss.org/georss"
/* Most digits of a number kept exactly (below 2^53). */
#define DIGITS_MAX 15
/* Largest circle radius, as the crisis table takes it. */
#define CIRCLE_MAX_KM 5000.0
/* Depth assumed when a source gives none: the depth USGS fixes for shallow events. */
#define DEFAULT_DEPTH_KM 10.0

/* A growing string; a failed allocation sticks, so callers check once at the end. */
struct buf {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
};

/* A polygon or circle met while reading, before duplicates are removed. */
struct shape {
	uint64_t hash;
	size_t order;
	bool duplicate;
	struct sf_point *pts; /* polygons: the ring, outer ring counter-clockwise */
	size_t n;
	struct sf_alert_circle circle;
};

/* State of one CAP message being read. */
struct cap_reader {
	int version;
	const char *ns;
	char *err;
	size_t errsz;
	struct sf_alert *alert;
};

/* One element CAP allows at some level, and how often. */
struct cap_rule {
	const char *name;
	int min;
	int max; /* -1: unbounded */
};

static const double pow10_table[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* ---- Small helpers ---- */

/* Appends n bytes to a buffer. */
static void
buf_add(struct buf *b, const char *s, size_t n)
{
	char *grown;
	size_t cap;

	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		cap = b->cap == 0 ? 256 : b->cap;
		while (cap < b->len + n + 1)
			cap *= 2;
		grown = realloc(b->data, cap);
		if (grown == NULL) {
			b->failed = true;
			return;
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Appends a NUL-terminated string to a buffer. */
static void
buf_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

/* Appends a number as JSON writes it, whatever the locale's decimal point. */
static void
buf_number(struct buf *b, double v)
{
	char text[40];
	int n = snprintf(text, sizeof text, "%.15g", v);

	if (n < 0 || (size_t)n >= sizeof text) {
		b->failed = true;
		return;
	}
	/* Under a locale with a decimal comma, %g writes one; there is no grouping. */
	for (int i = 0; i < n; i++)
		if (text[i] == ',')
			text[i] = '.';
	buf_add(b, text, (size_t)n);
}

/* Tells whether c is ASCII white space as XML and JSON mean it. */
static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Returns c in ASCII lower case. */
static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Compares two strings ignoring ASCII case; true when equal. */
static bool
eq_ci(const char *a, const char *b)
{
	while (*a != '\0' && lower(*a) == lower(*b)) {
		a++;
		b++;
	}
	return *a == '\0' && *b == '\0';
}

/* Copies s[0..n) into a new string, surrounding white space removed; NULL if out of memory. */
static char *
dup_trim_n(const char *s, size_t n)
{
	char *out;

	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	while (n > 0 && is_space(s[n - 1]))
		n--;
	out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, s, n);
	out[n] = '\0';
	return out;
}

/* Copies s with surrounding white space removed. */
static char *
dup_trim(const char *s)
{
	return dup_trim_n(s, strlen(s));
}

/* Cuts s to at most max bytes, never inside a UTF-8 character. */
static void
cut_utf8(char *s, size_t max)
{
	size_t n = strlen(s);

	if (n <= max)
		return;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	s[n] = '\0';
}

/* Replaces every run of white space in s by one space, in place. */
static void
collapse_spaces(char *s)
{
	char *w = s;
	bool space = false;

	for (const char *r = s; *r != '\0'; r++) {
		if (is_space(*r)) {
			space = true;
			continue;
		}
		if (space && w != s)
			*w++ = ' ';
		space = false;
		*w++ = *r;
	}
	*w = '\0';
}

/* Tells whether c is an ASCII digit. */
static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Reads a decimal number at *pp, "+41.12", "-117.6", "0", "5.": an optional
 * sign, digits with at most one point, no exponent, nan or inf, whatever the
 * locale. Advances *pp past it; false if there is no number there.
 */
static bool
read_decimal(const char **pp, double *out)
{
	const char *p = *pp;
	uint64_t mantissa = 0;
	int digits = 0, frac = 0, dropped_int = 0;
	bool negative = false, point = false, any = false;
	double v;

	if (*p == '+' || *p == '-')
		negative = *p++ == '-';
	for (;; p++) {
		if (is_digit(*p)) {
			any = true;
			if (digits == 0 && *p == '0' && !point)
				continue;
			if (digits < DIGITS_MAX) {
				mantissa = mantissa * 10 + (uint64_t)(*p - '0');
				digits++;
				if (point)
					frac++;
			} else if (!point) {
				dropped_int++;
			}
		} else if (*p == '.' && !point) {
			point = true;
		} else {
			break;
		}
	}
	if (!any)
		return false;
	if (dropped_int > 22)
		return false;
	v = (double)mantissa;
	if (frac > 22)
		return false;
	v = v / pow10_table[frac] * pow10_table[dropped_int];
	*out = negative ? -v : v;
	*pp = p;
	return true;
}

/* Reads a whole string as one decimal number, white space around allowed. */
static bool
parse_decimal(const char *s, double *out)
{
	while (is_space(*s))
		s++;
	if (!read_decimal(&s, out))
		return false;
	while (is_space(*s))
		s++;
	return *s == '\0';
}

/* Writes the civil date and time of unix seconds t as "2023-02-06 01:17 UTC". */
static void
format_utc(int64_t t, char out[32])
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t secs = t - days * 86400, z = days + 719468, era, doe, yoe, y, doy, mp, d, m;

	/* Howard Hinnant's days-to-civil algorithm (proleptic Gregorian). */
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	snprintf(out, 32, "%04d-%02d-%02d %02d:%02d UTC", (int)y, (int)m, (int)d,
	         (int)(secs / 3600), (int)(secs / 60 % 60));
}

/* FNV-1a over n bytes, continuing from h. */
static uint64_t
fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= UINT64_C(1099511628211);
	}
	return h;
}

/* Drops the "geo: " sf_point_validate puts first, since our messages say where already. */
static const char *
geo_reason(const char *msg)
{
	return strncmp(msg, "geo: ", 5) == 0 ? msg + 5 : msg;
}

/* ---- Kinds, severities and the earthquake rules ---- */

/* A word that names a kind; a trailing '*' matches any ending ("terror*": terrorism). */
struct kind_word {
	const char *word;
	enum sf_alert_kind kind;
};

/*
 * Read in order, so the more specific come first: a "tsunami warning after an
 * earthquake" is about water, an "abduction by terrorists" is a kidnapping.
 * ASCII words match whole words (so "war" is not found in "warning"); Hangul
 * words match anywhere, as Korean attaches particles to them.
 */
static const struct kind_word kind_words[] = {
    {"kidnap*", SF_ALERT_KIND_KIDNAPPING},
    {"abduct*", SF_ALERT_KIND_KIDNAPPING},
    {"hostage*", SF_ALERT_KIND_KIDNAPPING},
    {"납치", SF_ALERT_KIND_KIDNAPPING},
    {"인질", SF_ALERT_KIND_KIDNAPPING},
    {"terror*", SF_ALERT_KIND_TERRORISM},
    {"bomb*", SF_ALERT_KIND_TERRORISM},
    {"explosive*", SF_ALERT_KIND_TERRORISM},
    {"active shooter", SF_ALERT_KIND_TERRORISM},
    {"테러", SF_ALERT_KIND_TERRORISM},
    {"폭탄", SF_ALERT_KIND_TERRORISM},
    {"war", SF_ALERT_KIND_WAR},
    {"warfare", SF_ALERT_KIND_WAR},
    {"missile*", SF_ALERT_KIND_WAR},
    {"air raid*", SF_ALERT_KIND_WAR},
    {"airstrike*", SF_ALERT_KIND_WAR},
    {"air strike*", SF_ALERT_KIND_WAR},
    {"artillery", SF_ALERT_KIND_WAR},
    {"shelling", SF_ALERT_KIND_WAR},
    {"armed conflict*", SF_ALERT_KIND_WAR},
    {"invasion", SF_ALERT_KIND_WAR},
    {"military attack*", SF_ALERT_KIND_WAR},
    {"전쟁", SF_ALERT_KIND_WAR},
    {"공습", SF_ALERT_KIND_WAR},
    {"미사일", SF_ALERT_KIND_WAR},
    {"민방공", SF_ALERT_KIND_WAR},
    {"riot*", SF_ALERT_KIND_UNREST},
    {"unrest", SF_ALERT_KIND_UNREST},
    {"civil disorder", SF_ALERT_KIND_UNREST},
    {"civil disturbance*", SF_ALERT_KIND_UNREST},
    {"protest*", SF_ALERT_KIND_UNREST},
    {"demonstration*", SF_ALERT_KIND_UNREST},
    {"coup", SF_ALERT_KIND_UNREST},
    {"curfew*", SF_ALERT_KIND_UNREST},
    {"폭동", SF_ALERT_KIND_UNREST},
    {"시위", SF_ALERT_KIND_UNREST},
    {"소요", SF_ALERT_KIND_UNREST},
    {"epidemic*", SF_ALERT_KIND_EPIDEMIC},
    {"pandemic*", SF_ALERT_KIND_EPIDEMIC},
    {"outbreak*", SF_ALERT_KIND_EPIDEMIC},
    {"cholera", SF_ALERT_KIND_EPIDEMIC},
    {"ebola", SF_ALERT_KIND_EPIDEMIC},
    {"covid*", SF_ALERT_KIND_EPIDEMIC},
    {"influenza", SF_ALERT_KIND_EPIDEMIC},
    {"감염병", SF_ALERT_KIND_EPIDEMIC},
    {"전염병", SF_ALERT_KIND_EPIDEMIC},
    {"tsunami*", SF_ALERT_KIND_FLOOD},
    {"earthquake*", SF_ALERT_KIND_EARTHQUAKE},
    {"quake*", SF_ALERT_KIND_EARTHQUAKE},
    {"seismic*", SF_ALERT_KIND_EARTHQUAKE},
    {"aftershock*", SF_ALERT_KIND_EARTHQUAKE},
    /* 지진해일, "earthquake sea wave", is a tsunami: the water words come first. */
    {"쓰나미", SF_ALERT_KIND_FLOOD},
    {"해일", SF_ALERT_KIND_FLOOD},
    {"지진", SF_ALERT_KIND_EARTHQUAKE},
    {"flood*", SF_ALERT_KIND_FLOOD},
    {"flash flood*", SF_ALERT_KIND_FLOOD},
    {"storm surge*", SF_ALERT_KIND_FLOOD},
    {"inundation*", SF_ALERT_KIND_FLOOD},
    {"hurricane*", SF_ALERT_KIND_FLOOD},
    {"typhoon*", SF_ALERT_KIND_FLOOD},
    {"cyclone*", SF_ALERT_KIND_FLOOD},
    {"tropical storm*", SF_ALERT_KIND_FLOOD},
    {"홍수", SF_ALERT_KIND_FLOOD},
    {"호우", SF_ALERT_KIND_FLOOD},
    {"태풍", SF_ALERT_KIND_FLOOD},
    {"범람", SF_ALERT_KIND_FLOOD},
};

/* SAME event codes (US EAS, used in CAP eventCode) that name a kind. */
static const struct kind_word same_codes[] = {
    {"EQW", SF_ALERT_KIND_EARTHQUAKE}, {"TSW", SF_ALERT_KIND_FLOOD},
    {"TSA", SF_ALERT_KIND_FLOOD},      {"FFW", SF_ALERT_KIND_FLOOD},
    {"FFA", SF_ALERT_KIND_FLOOD},      {"FLW", SF_ALERT_KIND_FLOOD},
    {"FLA", SF_ALERT_KIND_FLOOD},      {"HUW", SF_ALERT_KIND_FLOOD},
    {"HUA", SF_ALERT_KIND_FLOOD},      {"TRW", SF_ALERT_KIND_FLOOD},
    {"TRA", SF_ALERT_KIND_FLOOD},      {"SSW", SF_ALERT_KIND_FLOOD},
    {"SSA", SF_ALERT_KIND_FLOOD},      {"CAE", SF_ALERT_KIND_KIDNAPPING},
    {"CDW", SF_ALERT_KIND_UNREST},
};

/* Tells whether c may be part of an ASCII word. */
static bool
is_word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c);
}

/* Tells whether text holds word as kind_words defines matching. */
static bool
has_word(const char *text, const char *word)
{
	size_t n = strlen(word);
	bool prefix = n > 0 && word[n - 1] == '*', ascii = true;

	if (prefix)
		n--;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)word[i] >= 0x80)
			ascii = false;
	for (const char *p = text; *p != '\0'; p++) {
		size_t i = 0;

		while (i < n && p[i] != '\0' && lower(p[i]) == word[i])
			i++;
		if (i < n)
			continue;
		if (!ascii)
			return true;
		if (p != text && is_word_char(p[-1]))
			continue;
		if (!prefix && is_word_char(p[n]))
			continue;
		return true;
	}
	return false;
}

/* Returns the kind a text names, or -1. */
static int
kind_of_text(const char *text)
{
	if (text == NULL)
		return -1;
	for (size_t i = 0; i < sizeof kind_words / sizeof kind_words[0]; i++)
		if (has_word(text, kind_words[i].word))
			return (int)kind_words[i].kind;
	return -1;
}

/* Maps a CAP info to a kind: SAME code, then event, then headline, then category. */
static enum sf_alert_kind
kind_of_info(const struct sf_alert_info *info)
{
	int k;

	for (size_t i = 0; i < info->n_event_codes; i++) {
		if (!eq_ci(info->event_codes[i].name, "SAME"))
			continue;
		for (size_t j = 0; j < sizeof same_codes / sizeof same_codes[0]; j++)
			if (eq_ci(info->event_codes[i].value, same_codes[j].word))
				return same_codes[j].kind;
	}
	if ((k = kind_of_text(info->event)) >= 0)
		return (enum sf_alert_kind)k;
	if ((k = kind_of_text(info->headline)) >= 0)
		return (enum sf_alert_kind)k;
	if (info->categories & SF_CAP_CATEGORY_HEALTH)
		return SF_ALERT_KIND_EPIDEMIC;
	/* CAP's Security is "law enforcement, military, homeland and local/private security". */
	if (info->categories & SF_CAP_CATEGORY_SECURITY)
		return SF_ALERT_KIND_TERRORISM;
	return SF_ALERT_KIND_OTHER;
}

/* Names of the kinds, in enum order, as the database spells them. */
static const char *const kind_names[] = {
    "war", "earthquake", "flood", "terrorism", "unrest", "epidemic", "kidnapping", "other",
};

/* Returns the database name of a kind. */
const char *
sf_alert_kind_name(enum sf_alert_kind kind)
{
	if ((unsigned)kind >= sizeof kind_names / sizeof kind_names[0])
		return "other";
	return kind_names[kind];
}

/* Returns the crisis table's name of a source. */
const char *
sf_alert_source_name(enum sf_alert_source source)
{
	switch (source) {
	case SF_ALERT_SOURCE_CAP:
		return "cap";
	case SF_ALERT_SOURCE_USGS:
		return "usgs";
	case SF_ALERT_SOURCE_GDACS:
		return "gdacs";
	}
	return "cap";
}

/*
 * Median MMI at hypocentral distance r_km for moment magnitude m: Allen, Wald
 * and Worden (2012), J. Seismology 16:409-433, hypocentral model, table 2
 * (c0 2.085, c1 1.428, c2 -1.402, c4 0.078, m1 -0.209, m2 2.042).
 */
static double
aww2012_mmi(double m, double r_km)
{
	double rm = -0.209 + 2.042 * exp(m - 5.0);
	double mmi = 2.085 + 1.428 * m - 1.402 * log(sqrt(r_km * r_km + rm * rm));

	if (r_km > 50.0)
		mmi += 0.078 * log(r_km / 50.0);
	return mmi;
}

/* Returns the radius of MMI VI shaking. */
double
sf_alert_quake_radius_km(double magnitude, double depth_km)
{
	double lo = 0, hi = SF_ALERT_QUAKE_RADIUS_MAX_KM, mid;

	if (!isfinite(magnitude) || !isfinite(depth_km))
		return SF_ALERT_QUAKE_RADIUS_MIN_KM;
	if (depth_km < 0)
		depth_km = 0;
	if (aww2012_mmi(magnitude, depth_km) < 5.5)
		return SF_ALERT_QUAKE_RADIUS_MIN_KM;
	if (aww2012_mmi(magnitude, hypot(hi, depth_km)) >= 5.5)
		return SF_ALERT_QUAKE_RADIUS_MAX_KM;
	/* The intensity falls monotonically with distance, so bisection finds the 5.5 contour. */
	for (int i = 0; i < 60; i++) {
		mid = (lo + hi) / 2;
		if (aww2012_mmi(magnitude, hypot(mid, depth_km)) >= 5.5)
			lo = mid;
		else
			hi = mid;
	}
	return lo < SF_ALERT_QUAKE_RADIUS_MIN_KM ? SF_ALERT_QUAKE_RADIUS_MIN_KM : lo;
}

/* Returns an earthquake's severity from magnitude and alert level. */
int
sf_alert_quake_severity(double magnitude, const char *level)
{
	int by_magnitude = 1, by_level = 0;

	if (isfinite(magnitude)) {
		if (magnitude >= 7.5)
			by_magnitude = 5;
		else if (magnitude >= 6.5)
			by_magnitude = 4;
		else if (magnitude >= 5.5)
			by_magnitude = 3;
		else if (magnitude >= 4.5)
			by_magnitude = 2;
	}
	if (level != NULL) {
		if (eq_ci(level, "green"))
			by_level = 2;
		else if (eq_ci(level, "yellow"))
			by_level = 3;
		else if (eq_ci(level, "orange"))
			by_level = 4;
		else if (eq_ci(level, "red"))
			by_level = 5;
	}
	/*
	 * PAGER's level weighs people exposed, so it leads; the magnitude keeps a
	 * great quake offshore (green: few people shaken) from reading as minor.
	 */
	if (by_level == 0)
		return by_magnitude;
	return by_level > by_magnitude - 1 ? by_level : by_magnitude - 1;
}

/* Fills an alert's quake from magnitude, depth and centre. */
static void
quake_set(struct sf_alert_quake *q, double magnitude, double depth_km, struct sf_point epicentre,
          const char *level)
{
	q->known = true;
	q->magnitude = magnitude;
	q->depth_km = isfinite(depth_km) ? depth_km : DEFAULT_DEPTH_KM;
	q->epicentre = epicentre;
	q->radius_km = sf_alert_quake_radius_km(magnitude, q->depth_km);
	q->pager[0] = '\0';
	if (level != NULL && strlen(level) < sizeof q->pager) {
		for (size_t i = 0; level[i] != '\0'; i++)
			q->pager[i] = lower(level[i]);
		q->pager[strlen(level)] = '\0';
	}
}

/* ---- Freeing ---- */

/* Frees an array of pairs. */
static void
pairs_free(struct sf_alert_pair *pairs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(pairs[i].name);
		free(pairs[i].value);
	}
	free(pairs);
}

/* Frees what an info holds. */
static void
info_clear(struct sf_alert_info *info)
{
	free(info->language);
	free(info->event);
	free(info->headline);
	free(info->description);
	free(info->instruction);
	free(info->sender_name);
	free(info->web);
	pairs_free(info->event_codes, info->n_event_codes);
	pairs_free(info->parameters, info->n_parameters);
	for (size_t i = 0; i < info->n_areas; i++) {
		free(info->areas[i].desc);
		free(info->areas[i].geojson);
		free(info->areas[i].circles);
		pairs_free(info->areas[i].geocodes, info->areas[i].n_geocodes);
	}
	free(info->areas);
}

/* Frees what an alert holds, leaving it zeroed. */
static void
alert_clear(struct sf_alert *a)
{
	free(a->source_ref);
	free(a->identifier);
	free(a->sender);
	for (size_t i = 0; i < a->n_references; i++) {
		free(a->references[i].sender);
		free(a->references[i].identifier);
		free(a->references[i].text);
	}
	free(a->references);
	for (size_t i = 0; i < a->n_infos; i++)
		info_clear(&a->infos[i]);
	free(a->infos);
	free(a->title);
	free(a->description);
	free(a->url);
	free(a->area_geojson);
	free(a->circles);
	memset(a, 0, sizeof *a);
}

/* Frees an alert. */
void
sf_alert_free(struct sf_alert *alert)
{
	if (alert == NULL)
		return;
	alert_clear(alert);
	free(alert);
}

/* Frees a list of alerts. */
void
sf_alert_list_free(struct sf_alert_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->n; i++)
		alert_clear(&list->alerts[i]);
	free(list->alerts);
	free(list);
}

/*
 * Makes room for element n of an array of n elements, zeroed, doubling the
 * allocation at powers of two so that appending stays linear. Returns the
 * (possibly moved) array, or NULL with the old one untouched.
 */
static void *
grow_array(void *array, size_t n, size_t size)
{
	char *grown = array;

	if (n == 0 || (n & (n - 1)) == 0) {
		size_t cap = n == 0 ? 1 : 2 * n;

		if (cap > SIZE_MAX / size)
			return NULL;
		grown = realloc(array, cap * size);
		if (grown == NULL)
			return NULL;
	}
	memset(grown + n * size, 0, size);
	return grown;
}

/* Appends a zeroed element to arr (n elements): sets ptr to it, or to NULL if out of memory. */
#define APPEND(arr, n, ptr)                                                                        \
	do {                                                                                       \
		void *grown_ = grow_array((arr), (n), sizeof *(arr));                              \
		(ptr) = NULL;                                                                      \
		if (grown_ != NULL) {                                                              \
			(arr) = grown_;                                                            \
			(ptr) = &(arr)[(n)++];                                                     \
		}                                                                                  \
	} while (0)

/* ---- Geometry: polygons, circles, GeoJSON ---- */

/*
 * Parses a CAP polygon, "lat,lon lat,lon ...", into a closed ring of at least
 * four points with at least three distinct ones and some area, turned
 * counter-clockwise (RFC 7946). why receives the reason on failure.
 */
static int
parse_polygon(const char *text, struct sf_point **out, size_t *n_out, char *why, size_t whysz)
{
	struct sf_point *pts = NULL, p;
	size_t n = 0, cap = 0, distinct;
	const char *s = text;
	double area = 0;
	char msg[128];

	for (;;) {
		while (is_space(*s))
			s++;
		if (*s == '\0')
			break;
		if (!read_decimal(&s, &p.lat) || *s != ',') {
			free(pts);
			return sf_error_set(why, whysz, SF_EINVAL,
			                    "point %zu: expected \"lat,lon\" (latitude first)",
			                    n + 1);
		}
		s++;
		if (!read_decimal(&s, &p.lon) || (*s != '\0' && !is_space(*s))) {
			free(pts);
			return sf_error_set(why, whysz, SF_EINVAL,
			                    "point %zu: expected \"lat,lon\" separated by spaces",
			                    n + 1);
		}
		if (sf_point_validate(&p, msg, sizeof msg) != 0) {
			free(pts);
			return sf_error_set(why, whysz, SF_EINVAL, "point %zu: %s", n + 1,
			                    geo_reason(msg));
		}
		if (n == cap) {
			struct sf_point *grown;

			cap = cap == 0 ? 16 : cap * 2;
			grown = realloc(pts, cap * sizeof *pts);
			if (grown == NULL) {
				free(pts);
				return sf_error_set(why, whysz, SF_ENOMEM, "out of memory");
			}
			pts = grown;
		}
		pts[n++] = p;
	}
	if (n < 4) {
		free(pts);
		return sf_error_set(why, whysz, SF_EINVAL,
		                    "%zu points, a closed ring needs at least 4", n);
	}
	if (pts[0].lat != pts[n - 1].lat || pts[0].lon != pts[n - 1].lon) {
		free(pts);
		return sf_error_set(why, whysz, SF_EINVAL,
		                    "not closed: the last point must repeat the first");
	}
	/* Distinct consecutive points; then the signed area (shoelace on lon, lat). */
	distinct = 1;
	for (size_t i = 1; i + 1 < n; i++)
		if (pts[i].lat != pts[i - 1].lat || pts[i].lon != pts[i - 1].lon)
			distinct++;
	for (size_t i = 0; i + 1 < n; i++)
		area += pts[i].lon * pts[i + 1].lat - pts[i + 1].lon * pts[i].lat;
	if (distinct < 3 || area == 0) {
		free(pts);
		return sf_error_set(why, whysz, SF_EINVAL, "ring has no area");
	}
	if (area < 0) {
		for (size_t i = 0, j = n - 1; i < j; i++, j--) {
			p = pts[i];
			pts[i] = pts[j];
			pts[j] = p;
		}
	}
	*out = pts;
	*n_out = n;
	return SF_OK;
}

/* Parses a CAP circle, "lat,lon radius_km". */
static int
parse_circle(const char *text, struct sf_alert_circle *out, char *why, size_t whysz)
{
	const char *s = text;
	struct sf_point p;
	double radius;
	char msg[128];

	while (is_space(*s))
		s++;
	if (!read_decimal(&s, &p.lat) || *s++ != ',' || !read_decimal(&s, &p.lon) || !is_space(*s))
		return sf_error_set(why, whysz, SF_EINVAL,
		                    "expected \"lat,lon radius\" (latitude first, radius in km)");
	while (is_space(*s))
		s++;
	if (!read_decimal(&s, &radius))
		return sf_error_set(why, whysz, SF_EINVAL, "radius: not a number");
	while (is_space(*s))
		s++;
	if (*s != '\0')
		return sf_error_set(why, whysz, SF_EINVAL, "text after the radius");
	if (sf_point_validate(&p, msg, sizeof msg) != 0)
		return sf_error_set(why, whysz, SF_EINVAL, "centre: %s", geo_reason(msg));
	if (radius < 0 || radius > CIRCLE_MAX_KM)
		return sf_error_set(why, whysz, SF_EINVAL, "radius %g km out of range 0 to %g",
		                    radius, CIRCLE_MAX_KM);
	out->center = p;
	out->radius_m = radius * 1000.0;
	return SF_OK;
}

/* Appends one polygon's coordinates, [[[lon, lat], ...]], to a MultiPolygon being written. */
static void
geojson_polygon(struct buf *b, const struct sf_point *pts, size_t n)
{
	buf_str(b, "[[");
	for (size_t i = 0; i < n; i++) {
		buf_str(b, i == 0 ? "[" : ",[");
		buf_number(b, pts[i].lon);
		buf_str(b, ",");
		buf_number(b, pts[i].lat);
		buf_str(b, "]");
	}
	buf_str(b, "]]");
}

/* Orders shapes by hash, then by order of appearance. */
static int
shape_compare(const void *a, const void *b)
{
	const struct shape *x = *(const struct shape *const *)a,
	                   *y = *(const struct shape *const *)b;

	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Tells whether two shapes are the same polygon or circle. */
static bool
shape_equal(const struct shape *x, const struct shape *y)
{
	if (x->pts != NULL || y->pts != NULL)
		return x->n == y->n && x->pts != NULL && y->pts != NULL &&
		       memcmp(x->pts, y->pts, x->n * sizeof *x->pts) == 0;
	return memcmp(&x->circle, &y->circle, sizeof x->circle) == 0;
}

/*
 * Marks every shape that repeats an earlier one. Sorting by hash keeps this
 * n log n, so a message with thousands of translated polygons stays cheap.
 */
static int
mark_duplicates(struct shape *shapes, size_t n)
{
	struct shape **sorted;

	if (n < 2)
		return SF_OK;
	sorted = malloc(n * sizeof *sorted);
	if (sorted == NULL)
		return SF_ENOMEM;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &shapes[i];
	qsort(sorted, n, sizeof *sorted, shape_compare);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;

		while (j < n && sorted[j]->hash == sorted[i]->hash)
			j++;
		/* Within a group of one hash, compare each with the earlier ones kept. */
		for (size_t k = i + 1; k < j; k++)
			for (size_t m = i; m < k; m++)
				if (!sorted[m]->duplicate && shape_equal(sorted[m], sorted[k])) {
					sorted[k]->duplicate = true;
					break;
				}
		i = j;
	}
	free(sorted);
	return SF_OK;
}

/* Returns an element's namespace URI, or "". */
static const char *
node_ns(const xmlNode *n)
{
	return n->ns != NULL && n->ns->href != NULL ? (const char *)n->ns->href : "";
}

/* Tells whether a node is an element of namespace ns called name. */
static bool
is_elem(const xmlNode *n, const char *ns, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp(node_ns(n), ns) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

/* Returns an element's text content as a new string (malloc), or NULL if out of memory. */
static char *
node_text(const xmlNode *n)
{
	xmlChar *content = xmlNodeGetContent(n);
	char *copy;

	if (content == NULL)
		return calloc(1, 1);
	copy = strdup((const char *)content);
	xmlFree(content);
	return copy;
}

/* Returns an element's trimmed text content, or NULL if out of memory. */
static char *
node_text_trim(const xmlNode *n)
{
	char *raw = node_text(n), *trimmed;

	if (raw == NULL)
		return NULL;
	trimmed = dup_trim(raw);
	free(raw);
	return trimmed;
}

/* Tells whether an element has element children. */
static bool
has_child_elements(const xmlNode *n)
{
	for (const xmlNode *c = n->children; c != NULL; c = c->next)
		if (c->type == XML_ELEMENT_NODE)
			return true;
	return false;
}

/* Tells whether a text node holds only white space. */
static bool
is_blank_text(const xmlNode *n)
{
	if (n->content == NULL)
		return true;
	for (const xmlChar *p = n->content; *p != '\0'; p++)
		if (!is_space((char)*p))
			return false;
	return true;
}

/* ---- CAP ---- */

static const struct cap_rule alert_rules[] = {
    {"identifier", 1, 1}, {"sender", 1, 1}, {"sent", 1, 1},     {"status", 1, 1},
    {"msgType", 1, 1},    {"source", 0, 1}, {"scope", 1, 1},    {"restriction", 0, 1},
    {"addresses", 0, 1},  {"code", 0, -1},  {"note", 0, 1},     {"references", 0, 1},
    {"incidents", 0, 1},  {"info", 0, -1},  {"password", 0, 1},
};
enum {
	A_IDENTIFIER,
	A_SENDER,
	A_SENT,
	A_STATUS,
	A_MSGTYPE,
	A_SOURCE,
	A_SCOPE,
	A_RESTRICTION,
	A_ADDRESSES,
	A_CODE,
	A_NOTE,
	A_REFERENCES,
	A_INCIDENTS,
	A_INFO,
	A_PASSWORD,
	A_COUNT
};

static const struct cap_rule info_rules[] = {
    {"language", 0, 1},   {"category", 1, -1}, {"event", 1, 1},       {"responseType", 0, -1},
    {"urgency", 1, 1},    {"severity", 1, 1},  {"certainty", 1, 1},   {"audience", 0, 1},
    {"eventCode", 0, -1}, {"effective", 0, 1}, {"onset", 0, 1},       {"expires", 0, 1},
    {"senderName", 0, 1}, {"headline", 0, 1},  {"description", 0, 1}, {"instruction", 0, 1},
    {"web", 0, 1},        {"contact", 0, 1},   {"parameter", 0, -1},  {"resource", 0, -1},
    {"area", 0, -1},
};
enum {
	I_LANGUAGE,
	I_CATEGORY,
	I_EVENT,
	I_RESPONSETYPE,
	I_URGENCY,
	I_SEVERITY,
	I_CERTAINTY,
	I_AUDIENCE,
	I_EVENTCODE,
	I_EFFECTIVE,
	I_ONSET,
	I_EXPIRES,
	I_SENDERNAME,
	I_HEADLINE,
	I_DESCRIPTION,
	I_INSTRUCTION,
	I_WEB,
	I_CONTACT,
	I_PARAMETER,
	I_RESOURCE,
	I_AREA,
	I_COUNT
};

static const struct cap_rule area_rules[] = {
    {"areaDesc", 1, 1}, {"polygon", 0, -1}, {"circle", 0, -1},
    {"geocode", 0, -1}, {"altitude", 0, 1}, {"ceiling", 0, 1},
};
enum { R_AREADESC, R_POLYGON, R_CIRCLE, R_GEOCODE, R_ALTITUDE, R_CEILING, R_COUNT };

static const char *const status_names[] = {"Actual", "Exercise", "System", "Test", "Draft"};
static const char *const msg_type_names[] = {"Alert", "Update", "Cancel", "Ack", "Error"};
static const char *const scope_names[] = {"Public", "Restricted", "Private"};
static const char *const category_names[] = {"Geo",       "Met",   "Safety", "Security",
                                             "Rescue",    "Fire",  "Health", "Env",
                                             "Transport", "Infra", "CBRNE",  "Other"};
static const char *const response_names[] = {"Shelter", "Evacuate", "Prepare",  "Execute", "Avoid",
                                             "Monitor", "Assess",   "AllClear", "None"};
static const char *const urgency_names[] = {"Immediate", "Expected", "Future", "Past", "Unknown"};
static const char *const severity_names[] = {"Extreme", "Severe", "Moderate", "Minor", "Unknown"};
static const char *const certainty_names[] = {"Observed", "Likely", "Possible", "Unlikely",
                                              "Unknown"};

/* Writes "cap: line N: path: reason" and returns SF_EINVAL (or code). */
static int cap_fail(struct cap_reader *r, const xmlNode *n, const char *path, int code,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int
cap_fail(struct cap_reader *r, const xmlNode *n, const char *path, int code, const char *fmt, ...)
{
	char reason[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof reason, fmt, ap);
	va_end(ap);
	if (code == SF_ENOMEM)
		return sf_error_set(r->err, r->errsz, code, "cap: out of memory");
	if (n != NULL && xmlGetLineNo(n) > 0)
		return sf_error_set(r->err, r->errsz, code, "cap: line %ld: %s: %s",
		                    xmlGetLineNo(n), path, reason);
	return sf_error_set(r->err, r->errsz, code, "cap: %s: %s", path, reason);
}

/* Finds text in a list of names; returns its index or -1. */
static int
name_index(const char *const *names, size_t n, const char *text)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], text) == 0)
			return (int)i;
	return -1;
}

/* Lists names as "A, B or C" for a message. */
static void
list_names(const char *const *names, size_t n, char *out, size_t outsz)
{
	size_t used = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && used < outsz; i++) {
		int w = snprintf(out + used, outsz - used, "%s%s",
		                 i == 0       ? ""
		                 : i + 1 == n ? " or "
		                              : ", ",
		                 names[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
}

/* Reads an element's text as one value of an enumeration. */
static int
cap_enum(struct cap_reader *r, const xmlNode *n, const char *path, const char *const *names,
         size_t count, int *out)
{
	char *text, list[256];
	int i;

	if (has_child_elements(n))
		return cap_fail(r, n, path, SF_EINVAL, "holds elements, expected text");
	text = node_text_trim(n);
	if (text == NULL)
		return cap_fail(r, n, path, SF_ENOMEM, "out of memory");
	i = name_index(names, count, text);
	if (i < 0) {
		list_names(names, count, list, sizeof list);
		if (text[0] == '\0')
			cap_fail(r, n, path, SF_EINVAL, "empty; must be %s", list);
		else
			cap_fail(r, n, path, SF_EINVAL, "\"%.40s\" is not %s", text, list);
		free(text);
		return SF_EINVAL;
	}
	free(text);
	*out = i;
	return SF_OK;
}

/*
 * Reads a CAP timestamp. CAP 1.2 requires exactly "YYYY-MM-DDThh:mm:ss" and
 * a numeric offset, no "Z", no fractions (its schema's pattern); older
 * versions take any xs:dateTime with an offset.
 */
static int
cap_time(struct cap_reader *r, const xmlNode *n, const char *path, int64_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd+dd:dd";
	char *text, msg[160];
	bool shaped = true;

	if (has_child_elements(n))
		return cap_fail(r, n, path, SF_EINVAL, "holds elements, expected text");
	text = node_text_trim(n);
	if (text == NULL)
		return cap_fail(r, n, path, SF_ENOMEM, "out of memory");
	if (r->version == 12) {
		if (strlen(text) != sizeof shape - 1)
			shaped = false;
		for (size_t i = 0; shaped && i < sizeof shape - 1; i++) {
			if (shape[i] == 'd')
				shaped = is_digit(text[i]);
			else if (shape[i] == '+')
				shaped = text[i] == '+' || text[i] == '-';
			else
				shaped = text[i] == shape[i];
		}
		if (!shaped) {
			cap_fail(
			    r, n, path, SF_EINVAL,
			    "\"%.40s\" is not YYYY-MM-DDThh:mm:ss+hh:mm (CAP 1.2 allows no Z and "
			    "no fractions)",
			    text);
			free(text);
			return SF_EINVAL;
		}
	}
	if (sf_timestamp_parse_iso8601(text, out, msg, sizeof msg) != 0) {
		cap_fail(r, n, path, SF_EINVAL, "\"%.40s\": %s", text, msg);
		free(text);
		return SF_EINVAL;
	}
	free(text);
	return SF_OK;
}

/* Reads an element's text, trimmed, refusing child elements. */
static int
cap_text(struct cap_reader *r, const xmlNode *n, const char *path, char **out)
{
	if (has_child_elements(n))
		return cap_fail(r, n, path, SF_EINVAL, "holds elements, expected text");
	*out = node_text_trim(n);
	if (*out == NULL)
		return cap_fail(r, n, path, SF_ENOMEM, "out of memory");
	return SF_OK;
}

/*
 * Checks an identifier or sender: not empty, and without the spaces, commas
 * and restricted characters (< &) CAP forbids, since references join them
 * with commas and spaces.
 */
static int
cap_check_id(struct cap_reader *r, const xmlNode *n, const char *path, const char *text)
{
	if (text[0] == '\0')
		return cap_fail(r, n, path, SF_EINVAL, "empty");
	for (const char *p = text; *p != '\0'; p++)
		if (is_space(*p) || *p == ',' || *p == '<' || *p == '&')
			return cap_fail(r, n, path, SF_EINVAL,
			                "must not contain spaces, commas, < or &");
	return SF_OK;
}

/*
 * The path of a child element, for error messages; index 0 leaves out the
 * position. A path too long for the buffer is cut, which only shortens the
 * message.
 */
static void
cap_child_path(char *dst, size_t size, const char *path, const char *name, int index)
{
	int n = index > 0 ? snprintf(dst, size, "%s/%s[%d]", path, name, index)
	                  : snprintf(dst, size, "%s/%s", path, name);

	if (n < 0 && size > 0)
		dst[0] = '\0';
}

/*
 * Reads a valueName/value pair. CAP 1.1 and 1.2 nest two elements; CAP 1.0
 * writes "valueName=value" as text.
 */
static int
cap_pair(struct cap_reader *r, const xmlNode *n, const char *path, struct sf_alert_pair *out)
{
	char sub[160];

	if (!has_child_elements(n)) {
		char *text, *eq;

		if (r->version != 10)
			return cap_fail(r, n, path, SF_EINVAL, "valueName: missing");
		if (cap_text(r, n, path, &text) != SF_OK)
			return SF_EINVAL;
		eq = strchr(text, '=');
		out->name = dup_trim_n(text, eq != NULL ? (size_t)(eq - text) : strlen(text));
		out->value = dup_trim(eq != NULL ? eq + 1 : "");
		free(text);
		if (out->name == NULL || out->value == NULL)
			return cap_fail(r, n, path, SF_ENOMEM, "out of memory");
		return SF_OK;
	}
	for (const xmlNode *c = n->children; c != NULL; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (is_elem(c, r->ns, "valueName") && out->name == NULL) {
			cap_child_path(sub, sizeof sub, path, "valueName", 0);
			if (cap_text(r, c, sub, &out->name) != SF_OK)
				return SF_EINVAL;
		} else if (is_elem(c, r->ns, "value") && out->value == NULL) {
			cap_child_path(sub, sizeof sub, path, "value", 0);
			if (cap_text(r, c, sub, &out->value) != SF_OK)
				return SF_EINVAL;
		} else {
			cap_child_path(sub, sizeof sub, path, (const char *)c->name, 0);
			return cap_fail(r, c, sub, SF_EINVAL, "unexpected element");
		}
	}
	if (out->name == NULL)
		return cap_fail(r, n, path, SF_EINVAL, "valueName: missing");
	if (out->value == NULL)
		return cap_fail(r, n, path, SF_EINVAL, "value: missing");
	return SF_OK;
}

/*
 * Walks the children of a CAP element: text only between elements, foreign
 * elements skipped where allowed, each CAP element counted against the rules
 * and handed to visit. After the walk, the counts are checked.
 */
typedef int (*cap_visit_cb)(struct cap_reader *r, void *arg, int which, const xmlNode *elem,
                            const char *path);

static int
cap_walk(struct cap_reader *r, const xmlNode *parent, const char *path,
         const struct cap_rule *rules, size_t n_rules, bool foreign_ok, cap_visit_cb visit,
         void *arg)
{
	int counts[32] = {0};
	char sub[200];

	for (const xmlNode *c = parent->children; c != NULL; c = c->next) {
		int which = -1;

		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			if (!is_blank_text(c))
				return cap_fail(r, c, path, SF_EINVAL, "text between elements");
			continue;
		}
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp(node_ns(c), r->ns) != 0) {
			/* The schema ends alert with xs:any of XML Signature; extensions live
			 * there. */
			if (foreign_ok && node_ns(c)[0] != '\0')
				continue;
			cap_child_path(sub, sizeof sub, path, (const char *)c->name, 0);
			return cap_fail(r, c, sub, SF_EINVAL, "element not in the CAP namespace %s",
			                r->ns);
		}
		for (size_t i = 0; i < n_rules; i++)
			if (strcmp(rules[i].name, (const char *)c->name) == 0)
				which = (int)i;
		if (which < 0 ||
		    (which == A_PASSWORD && rules == alert_rules && r->version != 10)) {
			cap_child_path(sub, sizeof sub, path, (const char *)c->name, 0);
			return cap_fail(r, c, sub, SF_EINVAL, "unknown element");
		}
		counts[which]++;
		if (rules[which].max == 1 && counts[which] > 1) {
			cap_child_path(sub, sizeof sub, path, rules[which].name, 0);
			return cap_fail(r, c, sub, SF_EINVAL, "repeated; at most one allowed");
		}
		if (rules[which].max == 1)
			cap_child_path(sub, sizeof sub, path, rules[which].name, 0);
		else
			cap_child_path(sub, sizeof sub, path, rules[which].name, counts[which]);
		if (visit(r, arg, which, c, sub) != SF_OK)
			return SF_EINVAL;
	}
	for (size_t i = 0; i < n_rules; i++) {
		if (counts[i] < rules[i].min) {
			cap_child_path(sub, sizeof sub, path, rules[i].name, 0);
			return cap_fail(r, parent, sub, SF_EINVAL, "missing");
		}
	}
	return SF_OK;
}

/* Appends a pair to an array, reading it from the element. */
static int
cap_add_pair(struct cap_reader *r, const xmlNode *n, const char *path, struct sf_alert_pair **arr,
             size_t *count)
{
	struct sf_alert_pair *pair;

	APPEND(*arr, *count, pair);

	if (pair == NULL)
		return cap_fail(r, n, path, SF_ENOMEM, "out of memory");
	return cap_pair(r, n, path, pair);
}

/* State of one area being read: its polygons until they become GeoJSON. */
struct area_state {
	struct sf_alert_area *area;
	struct shape **shapes;
	size_t *n_shapes;
	size_t polygons;
};

/* Reads one child of an area. */
static int
cap_area_child(struct cap_reader *r, void *arg, int which, const xmlNode *c, const char *path)
{
	struct area_state *st = arg;
	struct sf_alert_area *area = st->area;
	char *text = NULL, why[200];
	struct shape *shape;
	int rc = SF_OK;

	if (which == R_GEOCODE)
		return cap_add_pair(r, c, path, &area->geocodes, &area->n_geocodes);
	if (cap_text(r, c, path, &text) != SF_OK)
		return SF_EINVAL;
	switch (which) {
	case R_AREADESC:
		area->desc = text;
		return SF_OK;
	case R_POLYGON:
		APPEND(*st->shapes, *st->n_shapes, shape);
		if (shape == NULL) {
			rc = cap_fail(r, c, path, SF_ENOMEM, "out of memory");
			break;
		}
		shape->order = *st->n_shapes - 1;
		if (text[0] == '\0') {
			rc = cap_fail(r, c, path, SF_EINVAL, "empty");
			break;
		}
		rc = parse_polygon(text, &shape->pts, &shape->n, why, sizeof why);
		if (rc != SF_OK) {
			rc = cap_fail(r, c, path, rc, "%s", why);
			break;
		}
		shape->hash = fnv1a(UINT64_C(14695981039346656037), shape->pts,
		                    shape->n * sizeof *shape->pts);
		st->polygons++;
		break;
	case R_CIRCLE: {
		struct sf_alert_circle *circle;

		APPEND(area->circles, area->n_circles, circle);
		if (circle == NULL) {
			rc = cap_fail(r, c, path, SF_ENOMEM, "out of memory");
			break;
		}
		rc = parse_circle(text, circle, why, sizeof why);
		if (rc != SF_OK)
			rc = cap_fail(r, c, path, rc, "%s", why);
		break;
	}
	case R_ALTITUDE:
	case R_CEILING: {
		double v;

		if (!parse_decimal(text, &v))
			rc = cap_fail(r, c, path, SF_EINVAL, "not a decimal number");
		break;
	}
	}
	free(text);
	return rc;
}

/* State of one info being read. */
struct info_state {
	struct sf_alert_info *info;
	struct shape **shapes; /* every polygon of the message, for the combined area */
	size_t *n_shapes;
};

/* Reads one area of an info and writes its polygons as GeoJSON. */
static int
cap_area(struct cap_reader *r, const xmlNode *c, const char *path, struct info_state *is)
{
	struct sf_alert_area *area;
	struct area_state st;
	size_t first;
	struct buf b = {0};
	int rc;

	APPEND(is->info->areas, is->info->n_areas, area);
	if (area == NULL)
		return cap_fail(r, c, path, SF_ENOMEM, "out of memory");
	first = *is->n_shapes;
	st.area = area;
	st.shapes = is->shapes;
	st.n_shapes = is->n_shapes;
	st.polygons = 0;
	rc = cap_walk(r, c, path, area_rules, R_COUNT, false, cap_area_child, &st);
	if (rc != SF_OK)
		return rc;
	if (st.polygons > 0) {
		buf_str(&b, "{\"type\":\"MultiPolygon\",\"coordinates\":[");
		for (size_t i = first; i < *is->n_shapes; i++) {
			if (i > first)
				buf_str(&b, ",");
			geojson_polygon(&b, (*is->shapes)[i].pts, (*is->shapes)[i].n);
		}
		buf_str(&b, "]}");
		if (b.failed) {
			free(b.data);
			return cap_fail(r, c, path, SF_ENOMEM, "out of memory");
		}
		area->geojson = b.data;
		area->n_polygons = st.polygons;
	}
	return SF_OK;
}

/* Reads one child of an info. */
static int
cap_info_child(struct cap_reader *r, void *arg, int which, const xmlNode *c, const char *path)
{
	struct info_state *is = arg;
	struct sf_alert_info *info = is->info;
	char *text = NULL;
	int v;

	switch (which) {
	case I_CATEGORY:
		if (cap_enum(r, c, path, category_names, 12, &v) != SF_OK)
			return SF_EINVAL;
		info->categories |= 1u << v;
		return SF_OK;
	case I_RESPONSETYPE:
		return cap_enum(r, c, path, response_names, 9, &v);
	case I_URGENCY:
		if (cap_enum(r, c, path, urgency_names, 5, &v) != SF_OK)
			return SF_EINVAL;
		info->urgency = (enum sf_cap_urgency)v;
		return SF_OK;
	case I_SEVERITY:
		if (cap_enum(r, c, path, severity_names, 5, &v) != SF_OK)
			return SF_EINVAL;
		info->severity = (enum sf_cap_severity)v;
		return SF_OK;
	case I_CERTAINTY:
		if (r->version == 10 && (text = node_text_trim(c)) != NULL &&
		    strcmp(text, "Very Likely") == 0) {
			free(text);
			info->certainty = SF_CAP_CERTAINTY_LIKELY;
			return SF_OK;
		}
		free(text);
		if (cap_enum(r, c, path, certainty_names, 5, &v) != SF_OK)
			return SF_EINVAL;
		info->certainty = (enum sf_cap_certainty)v;
		return SF_OK;
	case I_EVENTCODE:
		return cap_add_pair(r, c, path, &info->event_codes, &info->n_event_codes);
	case I_PARAMETER:
		return cap_add_pair(r, c, path, &info->parameters, &info->n_parameters);
	case I_EFFECTIVE:
		return cap_time(r, c, path, &info->effective);
	case I_ONSET:
		return cap_time(r, c, path, &info->onset);
	case I_EXPIRES:
		return cap_time(r, c, path, &info->expires);
	case I_RESOURCE:
		/* Images and files: nothing a crisis proposal uses, and never fetched. */
		return SF_OK;
	case I_AREA:
		return cap_area(r, c, path, is);
	}
	if (cap_text(r, c, path, &text) != SF_OK)
		return SF_EINVAL;
	switch (which) {
	case I_LANGUAGE:
		info->language = text;
		break;
	case I_EVENT:
		if (text[0] == '\0') {
			free(text);
			return cap_fail(r, c, path, SF_EINVAL, "empty");
		}
		info->event = text;
		break;
	case I_SENDERNAME:
		info->sender_name = text;
		break;
	case I_HEADLINE:
		info->headline = text;
		break;
	case I_DESCRIPTION:
		info->description = text;
		break;
	case I_INSTRUCTION:
		info->instruction = text;
		break;
	case I_WEB:
		info->web = text;
		break;
	default: /* audience, contact: read, checked for shape, not kept */
		free(text);
		break;
	}
	return SF_OK;
}

/*
 * Reads references: whitespace-separated "sender,identifier,sent" (CAP 1.1
 * and 1.2; 1.0 also allowed bare identifiers). An element that is present
 * must name at least one message.
 */
static int
cap_references(struct cap_reader *r, const xmlNode *c, const char *path)
{
	struct sf_alert *a = r->alert;
	char *text, *entry, *save = NULL;
	int rc = SF_OK, k = 0;

	if (cap_text(r, c, path, &text) != SF_OK)
		return SF_EINVAL;
	if (text[0] == '\0') {
		free(text);
		return cap_fail(
		    r, c, path, SF_EINVAL,
		    "empty; name the earlier messages as sender,identifier,sent or leave "
		    "the element out");
	}
	for (entry = strtok_r(text, " \t\r\n", &save); entry != NULL && rc == SF_OK;
	     entry = strtok_r(NULL, " \t\r\n", &save)) {
		struct sf_alert_reference *ref;
		char *c1 = strchr(entry, ','), *c2 = c1 != NULL ? strchr(c1 + 1, ',') : NULL;

		k++;
		APPEND(a->references, a->n_references, ref);
		if (ref == NULL) {
			rc = cap_fail(r, c, path, SF_ENOMEM, "out of memory");
			break;
		}
		ref->text = strdup(entry);
		if (c1 == NULL && r->version == 10) {
			ref->identifier = strdup(entry);
		} else if (c1 == NULL || c2 == NULL || strchr(c2 + 1, ',') != NULL || c1 == entry ||
		           c2 == c1 + 1 || c2[1] == '\0') {
			rc =
			    cap_fail(r, c, path, SF_EINVAL,
			             "entry %d: \"%.60s\" is not sender,identifier,sent", k, entry);
			break;
		} else {
			char msg[128];

			ref->sender = dup_trim_n(entry, (size_t)(c1 - entry));
			ref->identifier = dup_trim_n(c1 + 1, (size_t)(c2 - c1 - 1));
			if (sf_timestamp_parse_iso8601(c2 + 1, &ref->sent, msg, sizeof msg) != 0) {
				rc = cap_fail(r, c, path, SF_EINVAL, "entry %d: sent: %s", k, msg);
				break;
			}
		}
		if (ref->text == NULL || ref->identifier == NULL)
			rc = cap_fail(r, c, path, SF_ENOMEM, "out of memory");
	}
	free(text);
	return rc;
}

/* The sent text as written, kept for source_ref. */
struct alert_state {
	char *sent_text;
	struct shape **shapes;
	size_t *n_shapes;
};

/* Reads one child of alert. */
static int
cap_alert_child(struct cap_reader *r, void *arg, int which, const xmlNode *c, const char *path)
{
	struct alert_state *st = arg;
	struct sf_alert *a = r->alert;
	char *text = NULL;
	int v;

	switch (which) {
	case A_SENT:
		if (cap_time(r, c, path, &a->sent) != SF_OK)
			return SF_EINVAL;
		return cap_text(r, c, path, &st->sent_text);
	case A_STATUS:
		if (cap_enum(r, c, path, status_names, 5, &v) != SF_OK)
			return SF_EINVAL;
		a->status = (enum sf_cap_status)v;
		return SF_OK;
	case A_MSGTYPE:
		if (cap_enum(r, c, path, msg_type_names, 5, &v) != SF_OK)
			return SF_EINVAL;
		a->msg_type = (enum sf_cap_msg_type)v;
		return SF_OK;
	case A_SCOPE:
		if (cap_enum(r, c, path, scope_names, 3, &v) != SF_OK)
			return SF_EINVAL;
		a->scope = (enum sf_cap_scope)v;
		return SF_OK;
	case A_REFERENCES:
		return cap_references(r, c, path);
	case A_INFO: {
		struct sf_alert_info *info;
		struct info_state is;

		APPEND(a->infos, a->n_infos, info);
		if (info == NULL)
			return cap_fail(r, c, path, SF_ENOMEM, "out of memory");
		is.info = info;
		is.shapes = st->shapes;
		is.n_shapes = st->n_shapes;
		if (cap_walk(r, c, path, info_rules, I_COUNT, false, cap_info_child, &is) != SF_OK)
			return SF_EINVAL;
		if (info->language == NULL && (info->language = strdup("en-US")) == NULL)
			return cap_fail(r, c, path, SF_ENOMEM, "out of memory");
		return SF_OK;
	}
	}
	if (cap_text(r, c, path, &text) != SF_OK)
		return SF_EINVAL;
	switch (which) {
	case A_IDENTIFIER:
		a->identifier = text;
		return cap_check_id(r, c, path, text);
	case A_SENDER:
		a->sender = text;
		return cap_check_id(r, c, path, text);
	default: /* source, restriction, addresses, code, note, incidents, password */
		free(text);
		return SF_OK;
	}
}

/* Tells whether a language tag is lang or a subtag of it ("ko", "ko-KR"), any case. */
static bool
language_is(const char *tag, const char *lang)
{
	size_t n = strlen(lang);

	for (size_t i = 0; i < n; i++)
		if (lower(tag[i]) != lang[i])
			return false;
	return tag[n] == '\0' || tag[n] == '-' || tag[n] == '_';
}

/* Finds a parameter by name (any case); NULL if absent. */
static const char *
info_parameter(const struct sf_alert_info *info, const char *name)
{
	for (size_t i = 0; i < info->n_parameters; i++)
		if (eq_ci(info->parameters[i].name, name))
			return info->parameters[i].value;
	return NULL;
}

/* Reads the leading number of a text such as "38.7 km (24.0 miles)". */
static bool
leading_number(const char *text, double *out)
{
	if (text == NULL)
		return false;
	while (is_space(*text))
		text++;
	return read_decimal(&text, out);
}

/*
 * Builds the combined area from every shape: polygons into one MultiPolygon,
 * circles into the list, duplicates once. A circle of radius 0 gets zero_m,
 * any other at least SF_ALERT_MIN_RADIUS_M.
 */
static int
build_area(struct sf_alert *a, struct shape *shapes, size_t n, double zero_m)
{
	struct buf b = {0};
	size_t polygons = 0, circles = 0;

	if (mark_duplicates(shapes, n) != SF_OK)
		return SF_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (shapes[i].duplicate)
			continue;
		if (shapes[i].pts != NULL)
			polygons++;
		else
			circles++;
	}
	if (polygons > 0) {
		buf_str(&b, "{\"type\":\"MultiPolygon\",\"coordinates\":[");
		for (size_t i = 0, k = 0; i < n; i++) {
			if (shapes[i].duplicate || shapes[i].pts == NULL)
				continue;
			if (k++ > 0)
				buf_str(&b, ",");
			geojson_polygon(&b, shapes[i].pts, shapes[i].n);
		}
		buf_str(&b, "]}");
		if (b.failed) {
			free(b.data);
			return SF_ENOMEM;
		}
		a->area_geojson = b.data;
		a->n_polygons = polygons;
	}
	if (circles > 0) {
		a->circles = calloc(circles, sizeof *a->circles);
		if (a->circles == NULL)
			return SF_ENOMEM;
		for (size_t i = 0; i < n; i++) {
			if (shapes[i].duplicate || shapes[i].pts != NULL)
				continue;
			a->circles[a->n_circles] = shapes[i].circle;
			if (a->circles[a->n_circles].radius_m == 0)
				a->circles[a->n_circles].radius_m = zero_m;
			if (a->circles[a->n_circles].radius_m < SF_ALERT_MIN_RADIUS_M)
				a->circles[a->n_circles].radius_m = SF_ALERT_MIN_RADIUS_M;
			a->n_circles++;
		}
	}
	return SF_OK;
}

/* Frees the points of every shape and the array. */
static void
shapes_free(struct shape *shapes, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(shapes[i].pts);
	free(shapes);
}

/* Sets a string field to a copy of s cut to max bytes, whitespace collapsed when asked. */
static int
set_text(char **field, const char *s, size_t max, bool collapse)
{
	free(*field);
	*field = strdup(s);
	if (*field == NULL)
		return SF_ENOMEM;
	if (collapse)
		collapse_spaces(*field);
	cut_utf8(*field, max);
	return SF_OK;
}

/* Derives the proposal of a CAP alert from its chosen info. */
static int
cap_propose(struct sf_alert *a, struct shape **shapes, size_t *n_shapes)
{
	const struct sf_alert_info *info = NULL;
	struct buf b = {0};
	double zero_m = SF_ALERT_MIN_RADIUS_M;
	size_t english = SIZE_MAX, korean = SIZE_MAX;
	int rc;

	switch (a->msg_type) {
	case SF_CAP_MSG_ALERT:
		a->action = SF_ALERT_PROPOSE;
		break;
	case SF_CAP_MSG_UPDATE:
		a->action = SF_ALERT_UPDATE;
		break;
	case SF_CAP_MSG_CANCEL:
		a->action = SF_ALERT_CANCEL;
		break;
	default:
		a->action = SF_ALERT_IGNORE;
		break;
	}
	/* CAP: recipients disregard Test messages; only an Exercise is a drill. */
	if (a->status == SF_CAP_STATUS_SYSTEM || a->status == SF_CAP_STATUS_DRAFT ||
	    a->status == SF_CAP_STATUS_TEST)
		a->action = SF_ALERT_IGNORE;
	a->drill = a->status == SF_CAP_STATUS_EXERCISE;

	for (size_t i = 0; i < a->n_infos; i++) {
		if (korean == SIZE_MAX && language_is(a->infos[i].language, "ko"))
			korean = i;
		if (english == SIZE_MAX && language_is(a->infos[i].language, "en"))
			english = i;
	}
	a->chosen_info = korean != SIZE_MAX ? korean : english != SIZE_MAX ? english : 0;
	a->kind = SF_ALERT_KIND_OTHER;
	a->severity = 1;
	a->started = a->sent;
	if (a->n_infos > 0) {
		double magnitude, depth;

		info = &a->infos[a->chosen_info];
		a->kind = kind_of_info(info);
		a->severity = 5 - (int)info->severity;
		a->started = info->onset != 0       ? info->onset
		             : info->effective != 0 ? info->effective
		                                    : a->sent;
		a->expires = info->expires;
		/* USGS's CAP gives magnitude and depth as parameters and a circle of radius 0. */
		if (a->kind == SF_ALERT_KIND_EARTHQUAKE &&
		    leading_number(info_parameter(info, "Magnitude"), &magnitude) &&
		    magnitude > -2 && magnitude < 10) {
			const struct sf_alert_circle *centre = NULL;

			if (!leading_number(info_parameter(info, "Depth"), &depth) ||
			    !(depth > -15 && depth < 1000))
				depth = DEFAULT_DEPTH_KM;
			for (size_t i = 0; i < info->n_areas && centre == NULL; i++)
				if (info->areas[i].n_circles > 0)
					centre = &info->areas[i].circles[0];
			/* The epicentre is the circle's centre; without one the polygons are the
			 * area. */
			if (centre != NULL) {
				quake_set(&a->quake, magnitude, depth, centre->center, NULL);
				zero_m = a->quake.radius_km * 1000.0;
			}
			if (info->severity == SF_CAP_SEVERITY_UNKNOWN)
				a->severity = sf_alert_quake_severity(magnitude, NULL);
		}
		if (info->description != NULL && info->description[0] != '\0' &&
		    set_text(&a->description, info->description, SF_ALERT_DESCRIPTION_MAX, false))
			return SF_ENOMEM;
		if (info->web != NULL && info->web[0] != '\0' &&
		    (a->url = strdup(info->web)) == NULL)
			return SF_ENOMEM;
		if (info->headline != NULL && info->headline[0] != '\0') {
			buf_str(&b, info->headline);
		} else {
			buf_str(&b, info->event);
			if (info->n_areas > 0 && info->areas[0].desc != NULL &&
			    info->areas[0].desc[0] != '\0') {
				buf_str(&b, " - ");
				buf_str(&b, info->areas[0].desc);
			}
		}
	} else {
		buf_str(&b, "CAP ");
		buf_str(&b, msg_type_names[a->msg_type]);
		buf_str(&b, " from ");
		buf_str(&b, a->sender);
	}
	if (b.failed) {
		free(b.data);
		return SF_ENOMEM;
	}
	rc = set_text(&a->title, b.data, SF_ALERT_TITLE_MAX, true);
	free(b.data);
	if (rc != SF_OK)
		return rc;
	if (a->title[0] == '\0' && set_text(&a->title, "CAP alert", SF_ALERT_TITLE_MAX, false))
		return SF_ENOMEM;

	/* Circles join the polygons in the shape list so that both are de-duplicated. */
	for (size_t i = 0; i < a->n_infos; i++)
		for (size_t j = 0; j < a->infos[i].n_areas; j++)
			for (size_t k = 0; k < a->infos[i].areas[j].n_circles; k++) {
				struct shape *s;

				APPEND(*shapes, *n_shapes, s);

				if (s == NULL)
					return SF_ENOMEM;
				s->order = *n_shapes - 1;
				s->circle = a->infos[i].areas[j].circles[k];
				s->hash = fnv1a(UINT64_C(14695981039346656037), &s->circle,
				                sizeof s->circle);
			}
	return build_area(a, *shapes, *n_shapes, zero_m);
}

/* Reads a CAP document already parsed into a tree. */
static int
cap_from_doc(xmlDocPtr doc, struct sf_alert *a, char *err, size_t errsz)
{
	struct cap_reader r = {0};
	struct alert_state st = {0};
	struct shape *shapes = NULL;
	size_t n_shapes = 0;
	xmlNode *root = xmlDocGetRootElement(doc);
	const char *ns;
	int rc;

	r.err = err;
	r.errsz = errsz;
	r.alert = a;
	if (root == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "cap: no root element");
	ns = node_ns(root);
	if (strcmp((const char *)root->name, "alert") != 0)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "cap: root element is %s, expected alert%s",
		                    (const char *)root->name,
		                    strcmp((const char *)root->name, "feed") == 0
		                        ? " (this is an Atom index: fetch the alerts it links to)"
		                        : "");
	if (strcmp(ns, CAP12_NS) == 0)
		r.version = 12;
	else if (strcmp(ns, CAP11_NS) == 0)
		r.version = 11;
	else if (strcmp(ns, CAP10_NS) == 0)
		r.version = 10;
	else
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "cap: alert: namespace \"%.80s\" is not CAP 1.2 (" CAP12_NS
		                    "), 1.1 or 1.0",
		                    ns);
	r.ns = ns;
	a->source = SF_ALERT_SOURCE_CAP;
	a->cap_version = r.version;
	st.shapes = &shapes;
	st.n_shapes = &n_shapes;
	rc = cap_walk(&r, root, "alert", alert_rules, A_COUNT, true, cap_alert_child, &st);
	if (rc == SF_OK) {
		struct buf b = {0};

		/* What later messages write in references to name this one. */
		buf_str(&b, a->sender);
		buf_str(&b, ",");
		buf_str(&b, a->identifier);
		buf_str(&b, ",");
		buf_str(&b, st.sent_text);
		if (b.failed)
			rc = SF_ENOMEM;
		a->source_ref = b.data;
		if (rc == SF_OK)
			rc = cap_propose(a, &shapes, &n_shapes);
		if (rc == SF_ENOMEM)
			sf_error_set(err, errsz, rc, "cap: out of memory");
	}
	free(st.sent_text);
	shapes_free(shapes, n_shapes);
	return rc;
}

/* Parses one CAP message. */
int
sf_alert_parse_cap(const char *xml, size_t len, struct sf_alert **out, char *err, size_t errsz)
{
	struct sf_alert *a;
	xmlDocPtr doc;
	int rc;

	if (out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "cap: no output");
	*out = NULL;
	if (xml == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "cap: no document");
	rc = sf_xml_read("cap", xml, len, SF_ALERT_XML_MAX, &doc, err, errsz);
	if (rc != SF_OK)
		return rc;
	a = calloc(1, sizeof *a);
	if (a == NULL) {
		xmlFreeDoc(doc);
		return sf_error_set(err, errsz, SF_ENOMEM, "cap: out of memory");
	}
	rc = cap_from_doc(doc, a, err, errsz);
	xmlFreeDoc(doc);
	if (rc != SF_OK) {
		sf_alert_free(a);
		return rc;
	}
	*out = a;
	return SF_OK;
}

/* ---- Lists (USGS, GDACS) ---- */

/* Makes an empty list. */
static struct sf_alert_list *
list_new(void)
{
	return calloc(1, sizeof(struct sf_alert_list));
}

/* Counts a refused entry, keeping the first reason. */
static void
list_reject(struct sf_alert_list *list, const char *why)
{
	if (list->n_rejected++ == 0)
		snprintf(list->rejected, sizeof list->rejected, "%s", why);
}

/* Appends an alert (moved in; a is zeroed) to a list. */
static int
list_push(struct sf_alert_list *list, struct sf_alert *a)
{
	struct sf_alert *slot;

	APPEND(list->alerts, list->n, slot);

	if (slot == NULL)
		return SF_ENOMEM;
	*slot = *a;
	memset(a, 0, sizeof *a);
	return SF_OK;
}

/* Fills what every earthquake alert shares: circle, kind, severity, description. */
static int
quake_propose(struct sf_alert *a, const char *place, const char *mag_type)
{
	struct buf b = {0};
	char when[32];

	a->kind = SF_ALERT_KIND_EARTHQUAKE;
	a->action = SF_ALERT_PROPOSE;
	a->status = SF_CAP_STATUS_ACTUAL;
	a->msg_type = SF_CAP_MSG_ALERT;
	a->scope = SF_CAP_SCOPE_PUBLIC;
	a->severity = sf_alert_quake_severity(a->quake.magnitude, a->quake.pager);
	a->circles = calloc(1, sizeof *a->circles);
	if (a->circles == NULL)
		return SF_ENOMEM;
	a->circles[0].center = a->quake.epicentre;
	a->circles[0].radius_m = a->quake.radius_km * 1000.0;
	a->n_circles = 1;

	format_utc(a->started, when);
	buf_str(&b, "M");
	buf_number(&b, a->quake.magnitude);
	if (mag_type != NULL && mag_type[0] != '\0') {
		buf_str(&b, " (");
		buf_str(&b, mag_type);
		buf_str(&b, ")");
	}
	if (place != NULL && place[0] != '\0') {
		buf_str(&b, ", ");
		buf_str(&b, place);
	}
	buf_str(&b, ", ");
	buf_str(&b, when);
	buf_str(&b, ", depth ");
	buf_number(&b, round(a->quake.depth_km * 10) / 10);
	buf_str(&b, " km");
	if (a->quake.pager[0] != '\0') {
		buf_str(&b,
		        a->source == SF_ALERT_SOURCE_USGS ? "; PAGER alert " : "; GDACS alert ");
		buf_str(&b, a->quake.pager);
	}
	if (a->source == SF_ALERT_SOURCE_USGS)
		buf_str(&b, a->quake.reviewed ? "; reviewed by a seismologist"
		                              : "; automatic solution, not yet reviewed");
	buf_str(&b, ". Proposed area: ");
	buf_number(&b, round(a->quake.radius_km));
	buf_str(&b, " km around the epicentre, where shaking is expected to reach intensity VI "
	            "(strong) or more.");
	if (b.failed) {
		free(b.data);
		return SF_ENOMEM;
	}
	a->description = b.data;
	cut_utf8(a->description, SF_ALERT_DESCRIPTION_MAX);
	return SF_OK;
}

/* ---- USGS ---- */

/*
 * Returns an object member that is a string of valid UTF-8, or NULL: cJSON
 * does not check the bytes, and the database refuses text that is not UTF-8.
 */
static const char *
json_string(const cJSON *obj, const char *name)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, name);

	if (!cJSON_IsString(item) || item->valuestring == NULL)
		return NULL;
	if (u8_check((const uint8_t *)item->valuestring, strlen(item->valuestring)) != NULL)
		return NULL;
	return item->valuestring;
}

/*
 * The other ids of the same earthquake (properties.ids, ",us7000abcd,at00xyz,"),
 * kept as references: a network's later preferred id names the same event.
 */
static int
usgs_aliases(const cJSON *props, const char *id, struct sf_alert *a)
{
	const char *ids = json_string(props, "ids");
	const char *s = ids;

	while (s != NULL && *s != '\0') {
		const char *end = strchr(s, ',');
		size_t n = end != NULL ? (size_t)(end - s) : strlen(s);

		if (n > 0 && n <= 64 && !(strlen(id) == n && strncmp(id, s, n) == 0)) {
			struct sf_alert_reference *ref;

			APPEND(a->references, a->n_references, ref);
			if (ref == NULL)
				return SF_ENOMEM;
			ref->identifier = strndup(s, n);
			ref->text = strndup(s, n);
			if (ref->identifier == NULL || ref->text == NULL)
				return SF_ENOMEM;
		}
		s = end != NULL ? end + 1 : NULL;
	}
	return SF_OK;
}

/* Reads one USGS feature into a; why names the field on failure. Returns 0, 1 (ignored) or < 0. */
static int
usgs_feature(const cJSON *feature, struct sf_alert *a, char *why, size_t whysz)
{
	const cJSON *props, *geometry, *coords, *mag, *origin, *updated, *c0, *c1, *c2, *tsunami;
	const char *id, *type, *status, *title, *place, *url, *alert_level;
	struct sf_point epicentre;
	double depth = DEFAULT_DEPTH_KM;
	char msg[128];

	if (!cJSON_IsObject(feature))
		return sf_error_set(why, whysz, SF_EINVAL, "not an object");
	type = json_string(feature, "type");
	if (type == NULL || strcmp(type, "Feature") != 0)
		return sf_error_set(why, whysz, SF_EINVAL, "type: expected \"Feature\"");
	id = json_string(feature, "id");
	if (id == NULL || id[0] == '\0' || strlen(id) > 64)
		return sf_error_set(why, whysz, SF_EINVAL,
		                    "id: missing, or not a short UTF-8 string");
	props = cJSON_GetObjectItemCaseSensitive(feature, "properties");
	if (!cJSON_IsObject(props))
		return sf_error_set(why, whysz, SF_EINVAL, "%s: properties: missing", id);
	type = json_string(props, "type");
	if (type != NULL && strcmp(type, "earthquake") != 0) {
		sf_error_set(why, whysz, SF_EINVAL,
		             "%s: properties.type: \"%.40s\" is not an earthquake", id, type);
		return 1;
	}
	status = json_string(props, "status");
	a->source = SF_ALERT_SOURCE_USGS;
	if (usgs_aliases(props, id, a) != SF_OK)
		return SF_ENOMEM;
	if (status != NULL && strcmp(status, "deleted") == 0) {
		/* The network took the event back: its proposal is withdrawn. */
		a->action = SF_ALERT_CANCEL;
		a->status = SF_CAP_STATUS_ACTUAL;
		a->msg_type = SF_CAP_MSG_CANCEL;
		a->scope = SF_CAP_SCOPE_PUBLIC;
		a->kind = SF_ALERT_KIND_EARTHQUAKE;
		a->severity = 1;
		a->identifier = strdup(id);
		a->source_ref = strdup(id);
		a->sender =
		    strdup(json_string(props, "net") != NULL ? json_string(props, "net") : "usgs");
		if (a->identifier == NULL || a->source_ref == NULL || a->sender == NULL)
			return SF_ENOMEM;
		return set_text(&a->title, "deleted event", SF_ALERT_TITLE_MAX, false);
	}
	mag = cJSON_GetObjectItemCaseSensitive(props, "mag");
	if (!cJSON_IsNumber(mag))
		return sf_error_set(why, whysz, SF_EINVAL, "%s: properties.mag: missing", id);
	if (!(mag->valuedouble > -2 && mag->valuedouble < 10))
		return sf_error_set(why, whysz, SF_EINVAL, "%s: properties.mag: %g out of range",
		                    id, mag->valuedouble);
	origin = cJSON_GetObjectItemCaseSensitive(props, "time");
	/* Milliseconds since 1970; before 1900 or after 2100 is a unit mistake. */
	if (!cJSON_IsNumber(origin) ||
	    !(origin->valuedouble > -2208988800000.0 && origin->valuedouble < 4102444800000.0))
		return sf_error_set(why, whysz, SF_EINVAL,
		                    "%s: properties.time: missing or not milliseconds since 1970",
		                    id);
	geometry = cJSON_GetObjectItemCaseSensitive(feature, "geometry");
	type = cJSON_IsObject(geometry) ? json_string(geometry, "type") : NULL;
	if (type == NULL || strcmp(type, "Point") != 0)
		return sf_error_set(why, whysz, SF_EINVAL, "%s: geometry: expected a Point", id);
	coords = cJSON_GetObjectItemCaseSensitive(geometry, "coordinates");
	c0 = cJSON_GetArrayItem(coords, 0);
	c1 = cJSON_GetArrayItem(coords, 1);
	c2 = cJSON_GetArrayItem(coords, 2);
	if (!cJSON_IsArray(coords) || !cJSON_IsNumber(c0) || !cJSON_IsNumber(c1))
		return sf_error_set(why, whysz, SF_EINVAL,
		                    "%s: geometry.coordinates: expected [lon, lat, depth_km]", id);
	if (sf_point_from_geojson_position(c0->valuedouble, c1->valuedouble, &epicentre, msg,
	                                   sizeof msg) != 0)
		return sf_error_set(why, whysz, SF_EINVAL, "%s: geometry.coordinates: %s", id,
		                    geo_reason(msg));
	if (cJSON_IsNumber(c2)) {
		depth = c2->valuedouble;
		if (!(depth > -15 && depth < 1000))
			return sf_error_set(why, whysz, SF_EINVAL,
			                    "%s: geometry.coordinates[2]: depth %g km out of range",
			                    id, depth);
	}

	alert_level = json_string(props, "alert");
	quake_set(&a->quake, mag->valuedouble, depth, epicentre, alert_level);
	a->quake.reviewed = status != NULL && strcmp(status, "reviewed") == 0;
	tsunami = cJSON_GetObjectItemCaseSensitive(props, "tsunami");
	a->quake.tsunami = cJSON_IsNumber(tsunami) && tsunami->valuedouble != 0;
	a->started = (int64_t)floor(origin->valuedouble / 1000.0);
	updated = cJSON_GetObjectItemCaseSensitive(props, "updated");
	a->sent = cJSON_IsNumber(updated) && updated->valuedouble > origin->valuedouble &&
	                  updated->valuedouble < 4102444800000.0
	              ? (int64_t)floor(updated->valuedouble / 1000.0)
	              : a->started;
	a->identifier = strdup(id);
	a->source_ref = strdup(id);
	a->sender = strdup(json_string(props, "net") != NULL ? json_string(props, "net") : "usgs");
	if (a->identifier == NULL || a->source_ref == NULL || a->sender == NULL)
		return SF_ENOMEM;
	url = json_string(props, "url");
	if (url != NULL && url[0] != '\0' && (a->url = strdup(url)) == NULL)
		return SF_ENOMEM;
	place = json_string(props, "place");
	title = json_string(props, "title");
	/* A title of only spaces or control characters is empty once collapsed. */
	if (title != NULL && set_text(&a->title, title, SF_ALERT_TITLE_MAX, true) != SF_OK)
		return SF_ENOMEM;
	if (a->title == NULL || a->title[0] == '\0') {
		struct buf b = {0};

		buf_str(&b, "M ");
		buf_number(&b, round(mag->valuedouble * 10) / 10);
		buf_str(&b, " - ");
		buf_str(&b, place != NULL && place[0] != '\0' ? place : "earthquake");
		if (b.failed || set_text(&a->title, b.data, SF_ALERT_TITLE_MAX, true) != SF_OK) {
			free(b.data);
			return SF_ENOMEM;
		}
		free(b.data);
	}
	return quake_propose(a, place, json_string(props, "magType"));
}

/* Parses USGS GeoJSON. */
int
sf_alert_parse_usgs(const char *json, size_t len, struct sf_alert_list **out, char *err,
                    size_t errsz)
{
	struct sf_alert_list *list;
	struct sf_alert a;
	cJSON *root;
	const cJSON *features, *feature;
	const char *type, *end = NULL;
	char why[200];
	int rc = SF_OK;

	if (out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "usgs: no output");
	*out = NULL;
	if (json == NULL || len == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "usgs: empty document");
	if (len > SF_ALERT_JSON_MAX)
		return sf_error_set(
		    err, errsz, SF_EINVAL,
		    "usgs: document of %zu bytes is larger than the %d MiB accepted", len,
		    SF_ALERT_JSON_MAX / (1024 * 1024));
	root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (root == NULL) {
		size_t at =
		    end != NULL && end >= json && end <= json + len ? (size_t)(end - json) : 0;

		return sf_error_set(err, errsz, SF_EINVAL, "usgs: not valid JSON (near byte %zu)",
		                    at);
	}
	list = list_new();
	if (list == NULL) {
		cJSON_Delete(root);
		return sf_error_set(err, errsz, SF_ENOMEM, "usgs: out of memory");
	}
	memset(&a, 0, sizeof a);
	type = cJSON_IsObject(root) ? json_string(root, "type") : NULL;
	if (type != NULL && strcmp(type, "Feature") == 0) {
		rc = usgs_feature(root, &a, why, sizeof why);
		if (rc == 1)
			rc = SF_EINVAL;
		if (rc == SF_OK)
			rc = list_push(list, &a);
		if (rc == SF_ENOMEM)
			sf_error_set(err, errsz, rc, "usgs: out of memory");
		else if (rc != SF_OK)
			sf_error_set(err, errsz, rc, "usgs: %s", why);
	} else if (type != NULL && strcmp(type, "FeatureCollection") == 0) {
		size_t i = 0;

		features = cJSON_GetObjectItemCaseSensitive(root, "features");
		if (!cJSON_IsArray(features)) {
			rc = sf_error_set(err, errsz, SF_EINVAL, "usgs: features: missing");
		} else {
			cJSON_ArrayForEach(feature, features)
			{
				int frc;

				if (i++ >= SF_ALERT_FEED_MAX) {
					list->truncated = true;
					break;
				}
				frc = usgs_feature(feature, &a, why, sizeof why);
				if (frc == SF_OK) {
					frc = list_push(list, &a);
				} else if (frc == 1) {
					list->n_ignored++;
				} else if (frc != SF_ENOMEM) {
					char line[256];

					snprintf(line, sizeof line, "usgs: features[%zu]: %s",
					         i - 1, why);
					list_reject(list, line);
				}
				alert_clear(&a);
				if (frc == SF_ENOMEM) {
					rc = sf_error_set(err, errsz, frc, "usgs: out of memory");
					break;
				}
			}
		}
	} else {
		rc = sf_error_set(err, errsz, SF_EINVAL,
		                  "usgs: type: expected \"Feature\" or \"FeatureCollection\" (USGS "
		                  "earthquake GeoJSON)");
	}
	alert_clear(&a);
	cJSON_Delete(root);
	if (rc == SF_OK && list->n == 0 && list->n_rejected > 0)
		rc = sf_error_set(err, errsz, SF_EINVAL, "%s (all %zu events refused)",
		                  list->rejected, list->n_rejected);
	if (rc != SF_OK) {
		sf_alert_list_free(list);
		return rc;
	}
	*out = list;
	return SF_OK;
}

/* ---- GDACS ---- */

/* Reads an RFC 822 date as RSS writes it, "Sat, 28 Dec 2019 15:36:35 GMT"; false if not one. */
static bool
parse_rfc822(const char *s, int64_t *out)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	struct sf_date date;
	int64_t days;
	int h = 0, mi = 0, sec = 0, offset = 0, n = 0;
	char mon[4] = {0}, zone[8] = {0};

	while (is_space(*s))
		s++;
	/* The weekday is optional and says nothing the date does not. */
	if (s[0] != '\0' && s[1] != '\0' && s[2] != '\0' && s[3] == ',')
		s += 4;
	if (sscanf(s, "%2d %3s %4d %2d:%2d:%2d %7s%n", &date.day, mon, &date.year, &h, &mi, &sec,
	           zone, &n) != 7)
		return false;
	for (const char *p = s + n; *p != '\0'; p++)
		if (!is_space(*p))
			return false;
	date.month = 0;
	for (int m = 0; m < 12; m++)
		if (strncmp(months + 3 * m, mon, 3) == 0)
			date.month = m + 1;
	if (date.month == 0 || sf_date_validate(&date, NULL, 0) != 0 || h > 23 || mi > 59 ||
	    sec > 60 || h < 0 || mi < 0 || sec < 0)
		return false;
	if (strcmp(zone, "GMT") == 0 || strcmp(zone, "UT") == 0 || strcmp(zone, "UTC") == 0 ||
	    strcmp(zone, "Z") == 0) {
		offset = 0;
	} else if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) == 5 && is_digit(zone[1]) &&
	           is_digit(zone[2]) && is_digit(zone[3]) && is_digit(zone[4])) {
		offset = ((zone[1] - '0') * 10 + (zone[2] - '0')) * 3600 +
		         ((zone[3] - '0') * 10 + (zone[4] - '0')) * 60;
		if (zone[0] == '-')
			offset = -offset;
	} else {
		return false;
	}
	if (sf_date_to_days(&date, &days) != 0)
		return false;
	*out = days * 86400 + h * 3600 + mi * 60 + sec - offset;
	return true;
}

/* Returns the first child element of n in namespace ns called name, or NULL. */
static const xmlNode *
first_child(const xmlNode *n, const char *ns, const char *name)
{
	for (const xmlNode *c = n->children; c != NULL; c = c->next)
		if (is_elem(c, ns, name))
			return c;
	return NULL;
}

/* Returns the trimmed text of a child element (malloc), "" when absent, NULL if out of memory. */
static char *
child_text(const xmlNode *n, const char *ns, const char *name)
{
	const xmlNode *c = first_child(n, ns, name);

	return c != NULL ? node_text_trim(c) : calloc(1, 1);
}

/* Reads a GDACS item's point: geo:Point, else georss:point "lat lon". */
static bool
gdacs_point(const xmlNode *item, struct sf_point *out, char *why, size_t whysz)
{
	const xmlNode *point = first_child(item, GEO_NS, "Point"),
	              *georss = first_child(item, GEORSS_NS, "point");
	char *a = NULL, *b = NULL, msg[128];
	bool ok = false;

	if (point != NULL) {
		a = child_text(point, GEO_NS, "lat");
		b = child_text(point, GEO_NS, "long");
		ok = a != NULL && b != NULL && parse_decimal(a, &out->lat) &&
		     parse_decimal(b, &out->lon);
	} else if (georss != NULL) {
		const char *s;

		a = node_text_trim(georss);
		s = a;
		ok = a != NULL && read_decimal(&s, &out->lat) && is_space(*s);
		if (ok) {
			while (is_space(*s))
				s++;
			ok = read_decimal(&s, &out->lon) && *s == '\0';
		}
	} else {
		sf_error_set(why, whysz, SF_EINVAL, "geo:Point: missing");
		return false;
	}
	free(a);
	free(b);
	if (!ok) {
		sf_error_set(why, whysz, SF_EINVAL, "geo:Point: not a latitude and longitude");
		return false;
	}
	if (sf_point_validate(out, msg, sizeof msg) != 0) {
		sf_error_set(why, whysz, SF_EINVAL, "geo:Point: %s", geo_reason(msg));
		return false;
	}
	return true;
}

/* A longitude in [-180, 180). */
static double
lon_normal(double lon)
{
	lon = fmod(lon + 180.0, 360.0);
	return (lon < 0 ? lon + 360.0 : lon) - 180.0;
}

/*
 * Reads "lonmin lonmax latmin latmax" into box[4] (lonmin, lonmax, latmin,
 * latmax, longitudes in [-180, 180)) and its width in degrees of longitude.
 * A box across the 180th meridian comes either way, lonmin past lonmax
 * ("170 -170") or beyond 180 ("-190 -170"): both are read as the same box.
 */
static bool
gdacs_bbox_read(const char *text, double box[4], double *width)
{
	const char *s = text;

	for (int i = 0; i < 4; i++) {
		while (is_space(*s))
			s++;
		if (!read_decimal(&s, &box[i]))
			return false;
	}
	while (is_space(*s))
		s++;
	if (*s != '\0' || !(box[2] < box[3]) || box[2] < -90 || box[3] > 90 || box[0] < -540 ||
	    box[0] > 540 || box[1] < -540 || box[1] > 540)
		return false;
	*width = box[1] - box[0];
	if (*width <= 0 || *width >= 360) {
		if (*width <= -360 || *width >= 360)
			return false;
		*width = fmod(*width + 360.0, 360.0);
	}
	box[0] = lon_normal(box[0]);
	box[1] = lon_normal(box[1]);
	/* Wider than half the globe, the database would read it the short way round. */
	return *width > 0 && *width < 180;
}

/*
 * Whether a point lies in a box grown by margin degrees on every side (the
 * box given as by gdacs_bbox_read).
 */
static bool
gdacs_bbox_holds(const double box[4], double width, struct sf_point p, double margin)
{
	double east = fmod(p.lon - box[0] + 720.0, 360.0); /* degrees east of the west edge */

	return p.lat >= box[2] - margin && p.lat <= box[3] + margin &&
	       (east <= width + margin || east >= 360.0 - margin);
}

/* The box as a closed rectangle, written as GeoJSON (the database cuts it at the 180th meridian).
 */
static int
gdacs_bbox_area(const double box[4], struct sf_alert *a)
{
	struct sf_point corner[5];
	struct buf b = {0};

	/*
	 * Counter-clockwise read flat, as every ring here (a box across 180 the
	 * other way round); the database orients what it cut itself.
	 */
	bool across = box[0] > box[1];

	corner[0] = (struct sf_point){box[2], box[0]};
	corner[across ? 3 : 1] = (struct sf_point){box[2], box[1]};
	corner[2] = (struct sf_point){box[3], box[1]};
	corner[across ? 1 : 3] = (struct sf_point){box[3], box[0]};
	corner[4] = corner[0];
	buf_str(&b, "{\"type\":\"MultiPolygon\",\"coordinates\":[");
	geojson_polygon(&b, corner, 5);
	buf_str(&b, "]}");
	if (b.failed) {
		free(b.data);
		return SF_ENOMEM;
	}
	a->area_geojson = b.data;
	a->n_polygons = 1;
	return SF_OK;
}

/* Degrees a point may lie outside its box (GDACS rounds, and tracks move). */
#define GDACS_BBOX_MARGIN_DEG 0.5
/* A circle around the event's point: no smaller than this, or the box's half-size... */
#define GDACS_CIRCLE_MIN_M 100000.0
/* ...but no larger than this, as a box far from its point says little of the event's size. */
#define GDACS_CIRCLE_MAX_M 500000.0

/*
 * The area of a GDACS event other than an earthquake: its gdacs:bbox when
 * the event's point lies in it. A box that misses the point is no area of
 * the event (the feed has put a cyclone near Fiji in a box in the South
 * Atlantic): a box near the point still counts, with a circle around the
 * point added; one far from it is replaced by the circle. The circle is half
 * the box's smaller side, from 100 to 500 km (100 km without a box). Either
 * way a->area_note says so.
 */
static int
gdacs_area(const char *bbox, struct sf_point point, struct sf_alert *a)
{
	double box[4], width = 0, radius = GDACS_CIRCLE_MIN_M;
	bool readable = bbox[0] != '\0' && gdacs_bbox_read(bbox, box, &width);
	bool near = false;
	int rc;

	if (readable && gdacs_bbox_holds(box, width, point, GDACS_BBOX_MARGIN_DEG))
		return gdacs_bbox_area(box, a);
	if (readable) {
		double mid = (box[2] + box[3]) / 2 * (3.14159265358979323846 / 180);
		double side_deg = fmin(box[3] - box[2], width * fmax(cos(mid), 0.0));

		radius =
		    fmin(fmax(side_deg * 111195.0 / 2, GDACS_CIRCLE_MIN_M), GDACS_CIRCLE_MAX_M);
		near = gdacs_bbox_holds(box, width, point, fmax(box[3] - box[2], width) / 2);
		if (near && (rc = gdacs_bbox_area(box, a)) != SF_OK)
			return rc;
	}
	a->circles = calloc(1, sizeof *a->circles);
	if (a->circles == NULL)
		return SF_ENOMEM;
	a->circles[0].center = point;
	a->circles[0].radius_m = radius;
	a->n_circles = 1;
	snprintf(a->area_note, sizeof a->area_note,
	         "%s: a circle of %.0f km around the event's point%s",
	         !readable ? (bbox[0] == '\0' ? "no gdacs:bbox" : "gdacs:bbox unreadable")
	         : near    ? "the event's point lies outside gdacs:bbox"
	                   : "gdacs:bbox is far from the event's point and is not used",
	         radius / 1000, near ? ", with the box" : "");
	return SF_OK;
}

/* GDACS event types and the kinds they map to. */
static const struct kind_word gdacs_types[] = {
    {"EQ", SF_ALERT_KIND_EARTHQUAKE}, {"TC", SF_ALERT_KIND_FLOOD}, {"FL", SF_ALERT_KIND_FLOOD},
    {"TS", SF_ALERT_KIND_FLOOD},      {"VO", SF_ALERT_KIND_OTHER}, {"DR", SF_ALERT_KIND_OTHER},
    {"WF", SF_ALERT_KIND_OTHER},
};

/* Reads one GDACS item; returns 0 or an error with why naming the field. */
static int
gdacs_item(const xmlNode *item, struct sf_alert *a, char *why, size_t whysz)
{
	char *type = NULL, *event_id = NULL, *level = NULL, *title = NULL, *link = NULL,
	     *pub = NULL, *from = NULL, *bbox = NULL, *guid = NULL, *description = NULL;
	const xmlNode *severity;
	struct sf_point point;
	int rc = SF_ENOMEM;

	type = child_text(item, GDACS_NS, "eventtype");
	event_id = child_text(item, GDACS_NS, "eventid");
	level = child_text(item, GDACS_NS, "alertlevel");
	title = child_text(item, "", "title");
	link = child_text(item, "", "link");
	pub = child_text(item, "", "pubDate");
	from = child_text(item, GDACS_NS, "fromdate");
	bbox = child_text(item, GDACS_NS, "bbox");
	guid = child_text(item, "", "guid");
	description = child_text(item, "", "description");
	if (type == NULL || event_id == NULL || level == NULL || title == NULL || link == NULL ||
	    pub == NULL || from == NULL || bbox == NULL || guid == NULL || description == NULL)
		goto done;
	rc = SF_EINVAL;
	if (type[0] == '\0') {
		sf_error_set(why, whysz, rc, "gdacs:eventtype: missing");
		goto done;
	}
	if (event_id[0] == '\0' || strlen(event_id) > 32) {
		sf_error_set(why, whysz, rc, "gdacs:eventid: missing");
		goto done;
	}
	if (!gdacs_point(item, &point, why, whysz))
		goto done;
	a->source = SF_ALERT_SOURCE_GDACS;
	a->status = SF_CAP_STATUS_ACTUAL;
	a->msg_type = SF_CAP_MSG_ALERT;
	a->scope = SF_CAP_SCOPE_PUBLIC;
	a->action = SF_ALERT_PROPOSE;
	if (!parse_rfc822(pub, &a->sent))
		a->sent = 0;
	if (!parse_rfc822(from, &a->started))
		a->started = a->sent;
	a->kind = SF_ALERT_KIND_OTHER;
	for (size_t i = 0; i < sizeof gdacs_types / sizeof gdacs_types[0]; i++)
		if (strcmp(type, gdacs_types[i].word) == 0)
			a->kind = gdacs_types[i].kind;
	rc = SF_ENOMEM;
	a->sender = strdup("gdacs");
	a->identifier = strdup(guid[0] != '\0' ? guid : event_id);
	a->source_ref = malloc(strlen(type) + strlen(event_id) + 1);
	if (a->sender == NULL || a->identifier == NULL || a->source_ref == NULL)
		goto done;
	strcpy(a->source_ref, type);
	strcat(a->source_ref, event_id);
	if (link[0] != '\0' && (a->url = strdup(link)) == NULL)
		goto done;
	if (set_text(&a->title, title[0] != '\0' ? title : a->source_ref, SF_ALERT_TITLE_MAX,
	             true) != SF_OK)
		goto done;

	severity = first_child(item, GDACS_NS, "severity");
	if (strcmp(type, "EQ") == 0 && severity != NULL) {
		xmlChar *value = xmlGetProp(severity, (const xmlChar *)"value");
		char *text = node_text_trim(severity), *d;
		double magnitude = NAN, depth = DEFAULT_DEPTH_KM;
		bool have = value != NULL && parse_decimal((const char *)value, &magnitude) &&
		            magnitude > -2 && magnitude < 10;

		/* "Magnitude 5.5M, Depth:10km": the depth is only in the text. */
		if (text != NULL && (d = strstr(text, "Depth:")) != NULL &&
		    !leading_number(d + 6, &depth))
			depth = DEFAULT_DEPTH_KM;
		xmlFree(value);
		free(text);
		if (!have) {
			rc = sf_error_set(why, whysz, SF_EINVAL,
			                  "%s%s: gdacs:severity: no magnitude in value", type,
			                  event_id);
			goto done;
		}
		quake_set(&a->quake, magnitude, depth, point, level);
		/* Our description (magnitude, depth, radius) replaces GDACS's. */
		rc = quake_propose(a, NULL, NULL);
		if (rc != SF_OK)
			goto done;
	} else {
		a->severity = sf_alert_quake_severity(NAN, level);
		/* Cyclones, floods, droughts: GDACS's box is the only extent the feed gives. */
		rc = gdacs_area(bbox, point, a);
		if (rc != SF_OK)
			goto done;
	}
	rc = SF_OK;
	if (a->description == NULL && description[0] != '\0' &&
	    set_text(&a->description, description, SF_ALERT_DESCRIPTION_MAX, false) != SF_OK)
		rc = SF_ENOMEM;
done:
	free(type);
	free(event_id);
	free(level);
	free(title);
	free(link);
	free(pub);
	free(from);
	free(bbox);
	free(guid);
	free(description);
	if (rc == SF_ENOMEM)
		sf_error_set(why, whysz, rc, "out of memory");
	return rc;
}

/* Reads a GDACS feed already parsed into a tree. */
static int
gdacs_from_doc(xmlDocPtr doc, struct sf_alert_list *list, char *err, size_t errsz)
{
	const xmlNode *root = xmlDocGetRootElement(doc), *channel;
	struct sf_alert a;
	char why[200], line[256];
	size_t i = 0;
	int rc = SF_OK;

	if (root == NULL || !is_elem(root, "", "rss"))
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "gdacs: root element is %s, expected rss",
		                    root != NULL ? (const char *)root->name : "missing");
	channel = first_child(root, "", "channel");
	if (channel == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "gdacs: rss/channel: missing");
	memset(&a, 0, sizeof a);
	for (const xmlNode *item = channel->children; item != NULL; item = item->next) {
		if (!is_elem(item, "", "item"))
			continue;
		if (i++ >= SF_ALERT_FEED_MAX) {
			list->truncated = true;
			break;
		}
		why[0] = '\0';
		rc = gdacs_item(item, &a, why, sizeof why);
		if (rc == SF_OK) {
			rc = list_push(list, &a);
		} else if (rc != SF_ENOMEM) {
			snprintf(line, sizeof line, "gdacs: line %ld: item[%zu]: %s",
			         xmlGetLineNo(item), i, why);
			list_reject(list, line);
			rc = SF_OK;
		}
		alert_clear(&a);
		if (rc == SF_ENOMEM)
			return sf_error_set(err, errsz, rc, "gdacs: out of memory");
	}
	if (list->n == 0 && list->n_rejected > 0)
		return sf_error_set(err, errsz, SF_EINVAL, "%s (all %zu items refused)",
		                    list->rejected, list->n_rejected);
	return SF_OK;
}

/* Parses a GDACS RSS feed. */
int
sf_alert_parse_gdacs(const char *xml, size_t len, struct sf_alert_list **out, char *err,
                     size_t errsz)
{
	struct sf_alert_list *list;
	xmlDocPtr doc;
	int rc;

	if (out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "gdacs: no output");
	*out = NULL;
	if (xml == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "gdacs: no document");
	rc = sf_xml_read("gdacs", xml, len, SF_ALERT_XML_MAX, &doc, err, errsz);
	if (rc != SF_OK)
		return rc;
	list = list_new();
	if (list == NULL) {
		xmlFreeDoc(doc);
		return sf_error_set(err, errsz, SF_ENOMEM, "gdacs: out of memory");
	}
	rc = gdacs_from_doc(doc, list, err, errsz);
	xmlFreeDoc(doc);
	if (rc != SF_OK) {
		sf_alert_list_free(list);
		return rc;
	}
	*out = list;
	return SF_OK;
}

/* ---- Any ---- */

/* Parses CAP, GDACS or USGS by sniffing. */
int
sf_alert_parse_any(const char *data, size_t len, struct sf_alert_list **out, char *err,
                   size_t errsz)
{
	struct sf_alert_list *list;
	struct sf_alert *a = NULL;
	xmlDocPtr doc;
	const xmlNode *root;
	size_t i = 0;
	int rc;

	if (out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "alert: no output");
	*out = NULL;
	if (data == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "alert: no document");
	/* Skip a UTF-8 byte order mark and white space to the first meaningful byte. */
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0)
		i = 3;
	while (i < len && is_space(data[i]))
		i++;
	if (i < len && (data[i] == '{' || data[i] == '['))
		return sf_alert_parse_usgs(data, len, out, err, errsz);
	if (i >= len || data[i] != '<')
		return sf_error_set(err, errsz, SF_EINVAL, "alert: not CAP, GDACS or USGS GeoJSON");
	rc = sf_xml_read("alert", data, len, SF_ALERT_XML_MAX, &doc, err, errsz);
	if (rc != SF_OK)
		return rc;
	root = xmlDocGetRootElement(doc);
	if (root != NULL && is_elem(root, "", "rss")) {
		list = list_new();
		rc = list == NULL ? sf_error_set(err, errsz, SF_ENOMEM, "gdacs: out of memory")
		                  : gdacs_from_doc(doc, list, err, errsz);
	} else if (root != NULL && strcmp((const char *)root->name, "alert") == 0) {
		list = list_new();
		a = calloc(1, sizeof *a);
		if (list == NULL || a == NULL)
			rc = sf_error_set(err, errsz, SF_ENOMEM, "cap: out of memory");
		else
			rc = cap_from_doc(doc, a, err, errsz);
		if (rc == SF_OK && list_push(list, a) != SF_OK)
			rc = sf_error_set(err, errsz, SF_ENOMEM, "cap: out of memory");
		sf_alert_free(a);
	} else {
		list = NULL;
		rc = sf_error_set(err, errsz, SF_EINVAL,
		                  "alert: root element is %s: not CAP (alert) or GDACS (rss)",
		                  root != NULL ? (const char *)root->name : "missing");
	}
	xmlFreeDoc(doc);
	if (rc != SF_OK) {
		sf_alert_list_free(list);
		return rc;
	}
	*out = list;
	return SF_OK;
}
