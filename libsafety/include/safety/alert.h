/*
 * External alerts turned into proposed crises: OASIS CAP 1.2 messages (and
 * 1.1, 1.0), USGS earthquake GeoJSON (one event or a summary feed) and GDACS
 * GeoRSS feeds. Each becomes a struct sf_alert holding what the source said
 * and the crisis it suggests: kind, severity, title, drill flag and the area
 * as GeoJSON or circles. Parsing is strict and refuses with a message that
 * names the element or field; alert.md explains the rules and their sources.
 */
#ifndef SAFETY_ALERT_H
#define SAFETY_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <safety/error.h>
#include <safety/geo.h>

/* Largest CAP or GDACS document read (XML), in bytes. */
#define SF_ALERT_XML_MAX (4 * 1024 * 1024)
/* Largest USGS document read (JSON); the all_month feed is about 10 MB. */
#define SF_ALERT_JSON_MAX (64 * 1024 * 1024)
/* Most events taken from one feed; the newest come first in USGS and GDACS feeds. */
#define SF_ALERT_FEED_MAX 10000
/* Smallest radius of a proposed circle: a CAP circle of radius 0 is a point, not an area. */
#define SF_ALERT_MIN_RADIUS_M 1000.0
/* Bounds of the earthquake radius rule (sf_alert_quake_radius_km). */
#define SF_ALERT_QUAKE_RADIUS_MIN_KM 10.0
#define SF_ALERT_QUAKE_RADIUS_MAX_KM 1000.0
/* Longest title and description proposed (bytes, cut at a character), as the crisis table takes. */
#define SF_ALERT_TITLE_MAX 300
#define SF_ALERT_DESCRIPTION_MAX 10000

/* Kinds of crisis, in the order and spelling of the database's crisis_kind. */
enum sf_alert_kind {
	SF_ALERT_KIND_WAR,
	SF_ALERT_KIND_EARTHQUAKE,
	SF_ALERT_KIND_FLOOD,
	SF_ALERT_KIND_TERRORISM,
	SF_ALERT_KIND_UNREST,
	SF_ALERT_KIND_EPIDEMIC,
	SF_ALERT_KIND_KIDNAPPING,
	SF_ALERT_KIND_OTHER,
};

/* Where an alert came from; sf_alert_source_name gives the crisis table's source. */
enum sf_alert_source {
	SF_ALERT_SOURCE_CAP,
	SF_ALERT_SOURCE_USGS,
	SF_ALERT_SOURCE_GDACS,
};

/* What the daemon should do with an alert. */
enum sf_alert_action {
	SF_ALERT_PROPOSE, /* a new event: propose a crisis (CAP Alert, every USGS and GDACS event)
	                   */
	SF_ALERT_UPDATE,  /* CAP Update: revise the crises its references name, or propose */
	SF_ALERT_CANCEL,  /* CAP Cancel, USGS deleted event: withdraw the proposals its
	                     references (and source_ref) name */
	SF_ALERT_IGNORE,  /* CAP System, Draft, Test, Ack or Error: nothing to do */
};

/* CAP alert/status. */
enum sf_cap_status {
	SF_CAP_STATUS_ACTUAL,
	SF_CAP_STATUS_EXERCISE,
	SF_CAP_STATUS_SYSTEM,
	SF_CAP_STATUS_TEST,
	SF_CAP_STATUS_DRAFT,
};

/* CAP alert/msgType. */
enum sf_cap_msg_type {
	SF_CAP_MSG_ALERT,
	SF_CAP_MSG_UPDATE,
	SF_CAP_MSG_CANCEL,
	SF_CAP_MSG_ACK,
	SF_CAP_MSG_ERROR,
};

/* CAP alert/scope. */
enum sf_cap_scope {
	SF_CAP_SCOPE_PUBLIC,
	SF_CAP_SCOPE_RESTRICTED,
	SF_CAP_SCOPE_PRIVATE,
};

/* CAP info/category, as bits: an info has one or more. */
enum sf_cap_category {
	SF_CAP_CATEGORY_GEO = 1 << 0,
	SF_CAP_CATEGORY_MET = 1 << 1,
	SF_CAP_CATEGORY_SAFETY = 1 << 2,
	SF_CAP_CATEGORY_SECURITY = 1 << 3,
	SF_CAP_CATEGORY_RESCUE = 1 << 4,
	SF_CAP_CATEGORY_FIRE = 1 << 5,
	SF_CAP_CATEGORY_HEALTH = 1 << 6,
	SF_CAP_CATEGORY_ENV = 1 << 7,
	SF_CAP_CATEGORY_TRANSPORT = 1 << 8,
	SF_CAP_CATEGORY_INFRA = 1 << 9,
	SF_CAP_CATEGORY_CBRNE = 1 << 10,
	SF_CAP_CATEGORY_OTHER = 1 << 11,
};

/* CAP info/urgency. */
enum sf_cap_urgency {
	SF_CAP_URGENCY_IMMEDIATE,
	SF_CAP_URGENCY_EXPECTED,
	SF_CAP_URGENCY_FUTURE,
	SF_CAP_URGENCY_PAST,
	SF_CAP_URGENCY_UNKNOWN,
};

/* CAP info/severity. */
enum sf_cap_severity {
	SF_CAP_SEVERITY_EXTREME,
	SF_CAP_SEVERITY_SEVERE,
	SF_CAP_SEVERITY_MODERATE,
	SF_CAP_SEVERITY_MINOR,
	SF_CAP_SEVERITY_UNKNOWN,
};

/* CAP info/certainty (CAP 1.0's "Very Likely" reads as Likely, as CAP 1.1 says). */
enum sf_cap_certainty {
	SF_CAP_CERTAINTY_OBSERVED,
	SF_CAP_CERTAINTY_LIKELY,
	SF_CAP_CERTAINTY_POSSIBLE,
	SF_CAP_CERTAINTY_UNLIKELY,
	SF_CAP_CERTAINTY_UNKNOWN,
};

/* A CAP valueName/value pair (eventCode, parameter, geocode). */
struct sf_alert_pair {
	char *name;
	char *value;
};

/* A circle: centre and radius in metres (CAP writes kilometres; converted). */
struct sf_alert_circle {
	struct sf_point center;
	double radius_m;
};

/* One CAP info/area, as written. */
struct sf_alert_area {
	char *desc;        /* areaDesc */
	char *geojson;     /* this area's polygons as a MultiPolygon, [lon, lat]; NULL if none */
	size_t n_polygons; /* polygons in geojson */
	struct sf_alert_circle *circles; /* radius as written, 0 included */
	size_t n_circles;
	struct sf_alert_pair *geocodes;
	size_t n_geocodes;
};

/* One CAP info block: one language's (or one band's) account of the event. */
struct sf_alert_info {
	char *language;      /* as written; "en-US" (CAP's default) when absent */
	unsigned categories; /* enum sf_cap_category bits, at least one */
	char *event;
	enum sf_cap_urgency urgency;
	enum sf_cap_severity severity;
	enum sf_cap_certainty certainty;
	char *headline; /* NULL when absent, like every optional text below */
	char *description;
	char *instruction;
	char *sender_name;
	char *web;
	int64_t effective; /* unix seconds; 0 when absent, like onset and expires */
	int64_t onset;
	int64_t expires;
	struct sf_alert_pair *event_codes;
	size_t n_event_codes;
	struct sf_alert_pair *parameters;
	size_t n_parameters;
	struct sf_alert_area *areas;
	size_t n_areas;
};

/* An earlier CAP message named in references: "sender,identifier,sent"; for USGS, another id
 * of the same earthquake (properties.ids), in identifier and text. */
struct sf_alert_reference {
	char *sender; /* NULL in CAP 1.0 references that give only an identifier */
	char *identifier;
	int64_t sent; /* 0 when not given (CAP 1.0, 1.1) */
	char *text;   /* the entry as written: what sf_alert's source_ref holds for that message */
};

/* What is known of an earthquake (USGS, GDACS, a CAP alert with a Magnitude parameter). */
struct sf_alert_quake {
	bool known; /* false: not an earthquake, or magnitude unknown; fields below unset */
	double magnitude;
	double depth_km; /* 10 when the source gave none (the USGS default depth) */
	struct sf_point epicentre;
	double radius_km; /* sf_alert_quake_radius_km(magnitude, depth_km) */
	char pager[8];    /* PAGER / GDACS level: "green", "yellow", "orange", "red" or "" */
	bool reviewed;    /* USGS status "reviewed" (a seismologist looked), not "automatic" */
	bool tsunami;     /* USGS tsunami flag: the region may see tsunamis; not a warning */
};

/*
 * An alert and the crisis it proposes. Every string is NUL-terminated UTF-8
 * and owned by the alert; free the whole with sf_alert_free (or the list it
 * came in with sf_alert_list_free).
 */
struct sf_alert {
	/* Where it came from. */
	enum sf_alert_source source;
	char *source_ref; /* the crisis's source_ref, unique per source: CAP
	                     "sender,identifier,sent" (what later messages write in references),
	                     USGS event id, GDACS event type and id ("EQ1199929") */
	char *identifier; /* CAP identifier, USGS id, GDACS guid */
	char *sender;     /* CAP sender, USGS network ("us"), "gdacs" */
	int64_t sent;     /* CAP sent, USGS updated (else time), GDACS pubDate; unix seconds */
	int cap_version;  /* 12, 11 or 10 for CAP 1.2, 1.1, 1.0; 0 for the other sources */

	/* The CAP message (USGS and GDACS events read as Actual, Alert, Public). */
	enum sf_cap_status status;
	enum sf_cap_msg_type msg_type;
	enum sf_cap_scope scope;
	struct sf_alert_reference *references;
	size_t n_references;
	struct sf_alert_info *infos; /* CAP only; all of them, in document order */
	size_t n_infos;
	size_t chosen_info; /* the info the proposal is made from: Korean, else English, else the
	                       first; 0 when n_infos is 0 */

	/* The proposed crisis. */
	enum sf_alert_action action;
	enum sf_alert_kind kind;
	int severity;      /* 1 (minor or unknown) to 5 (extreme) */
	bool drill;        /* CAP status Exercise: every message of the crisis says so */
	char *title;       /* never NULL, 1 to SF_ALERT_TITLE_MAX bytes */
	char *description; /* NULL or up to SF_ALERT_DESCRIPTION_MAX bytes */
	char *url;         /* the event's page (CAP web, USGS url, GDACS link) or NULL */
	int64_t started;   /* onset, else effective, else sent; earthquakes: origin time */
	int64_t expires;   /* 0 when open-ended */
	/*
	 * The area: every polygon of every info (duplicates, as in translations,
	 * once) as one GeoJSON MultiPolygon in [lon, lat] order with counter-
	 * clockwise outer rings, or NULL; and every circle, each at least
	 * SF_ALERT_MIN_RADIUS_M (a CAP earthquake circle of radius 0 gets the
	 * earthquake rule's radius). The crisis covers the union of both. When
	 * both are empty the alert names its area only in words or geocodes, and
	 * staff must draw it.
	 */
	char *area_geojson;
	size_t n_polygons;
	struct sf_alert_circle *circles;
	size_t n_circles;
	/* How the area differs from what the source gave (a GDACS box not used), or "". */
	char area_note[160];
	struct sf_alert_quake quake;
};

/* The alerts of a feed (USGS summary, GDACS) or of a single event. */
struct sf_alert_list {
	struct sf_alert *alerts;
	size_t n;
	size_t n_rejected;  /* entries refused as broken; the others are still here */
	char rejected[256]; /* why the first was refused, naming it; "" when none */
	size_t n_ignored;   /* entries that are not events to propose (quarry blasts, explosions) */
	bool truncated;     /* the feed had more than SF_ALERT_FEED_MAX entries; the first kept */
};

/*
 * Parses one CAP message of len bytes (any encoding its XML declaration
 * names; text comes out as UTF-8) into a new alert in *out. Refused: more
 * than SF_ALERT_XML_MAX bytes, XML that is not well formed, any DOCTYPE (so
 * no entity of any kind, internal or external, is ever expanded, and nothing
 * is fetched), a root other than alert in a CAP 1.2, 1.1 or 1.0 namespace, a
 * missing required element, a value outside its enumeration, a bad timestamp,
 * polygon or circle. XML signatures and other foreign elements at alert level
 * are skipped.
 *
 * Returns 0, SF_EINVAL (err says "cap: line N: alert/info[2]/urgency: ..."),
 * or SF_ENOMEM; *out is NULL on error.
 */
int sf_alert_parse_cap(const char *xml, size_t len, struct sf_alert **out, char *err, size_t errsz);

/*
 * Parses USGS earthquake GeoJSON of len bytes: one event (a Feature, as the
 * detail feed gives) or a FeatureCollection (summary feeds), into a new list
 * in *out. Every earthquake becomes an alert with a circle whose radius
 * follows sf_alert_quake_radius_km, and its other ids (properties.ids) as
 * references; a deleted event becomes an SF_ALERT_CANCEL alert without an
 * area. In a collection, broken features are skipped and counted
 * (n_rejected, rejected says why the first was), other event types are
 * skipped as ignored, and at most SF_ALERT_FEED_MAX are kept. A single
 * Feature that is broken or not an earthquake is an error, and so is a collection whose every
 * feature was refused (the message is the first refusal's).
 *
 * Returns 0, SF_EINVAL (err says "usgs: properties.mag: missing" or, for a
 * document that is not USGS GeoJSON at all, why) or SF_ENOMEM; *out is NULL on
 * error.
 */
int sf_alert_parse_usgs(const char *json, size_t len, struct sf_alert_list **out, char *err,
                        size_t errsz);

/*
 * Parses a GDACS RSS feed (GeoRSS with gdacs: elements) of len bytes into a
 * new list in *out, one alert per item: kind from gdacs:eventtype, severity
 * from gdacs:alertlevel (and magnitude for earthquakes), area a circle by the
 * earthquake rule for earthquakes and the gdacs:bbox rectangle otherwise
 * (across the 180th meridian too) when it holds the item's point; a box
 * that misses the point gets a circle around the point added, or is
 * replaced by it when far, as area_note says. Items without a point are
 * refused and counted (all refused is an error). The XML is read with the
 * same protections as CAP. Returns as sf_alert_parse_usgs
 * ("gdacs: line N: item[K]: ...").
 */
int sf_alert_parse_gdacs(const char *xml, size_t len, struct sf_alert_list **out, char *err,
                         size_t errsz);

/*
 * Parses whatever a feed returned, by its first character and root element:
 * CAP (one alert), GDACS RSS or USGS GeoJSON. A CAP message gives a list of
 * one. Returns as the parser it chose, or SF_EINVAL ("alert: not CAP, GDACS
 * or USGS GeoJSON").
 */
int sf_alert_parse_any(const char *data, size_t len, struct sf_alert_list **out, char *err,
                       size_t errsz);

/* Frees an alert and everything it holds; NULL is a no-op. */
void sf_alert_free(struct sf_alert *alert);

/* Frees a list and its alerts; NULL is a no-op. */
void sf_alert_list_free(struct sf_alert_list *list);

/*
 * Returns the radius in km within which an earthquake's median shaking
 * reaches MMI VI (5.5 and above, ShakeMap's "strong" band, where damage
 * begins), by the hypocentral intensity prediction equation of Allen, Wald
 * and Worden (2012), clamped to SF_ALERT_QUAKE_RADIUS_MIN_KM ..
 * SF_ALERT_QUAKE_RADIUS_MAX_KM. Negative depths count as 0; NaN inputs give
 * the minimum. M7.8 at 10 km gives about 269 km; alert.md has the table.
 */
double sf_alert_quake_radius_km(double magnitude, double depth_km);

/*
 * Returns an earthquake's severity, 1 to 5: from the PAGER (or GDACS) alert
 * level when given ("green" 2, "yellow" 3, "orange" 4, "red" 5, any case),
 * raised to one below the magnitude's own level (M7.5+ 5, M6.5+ 4, M5.5+ 3,
 * M4.5+ 2, else 1), which is used alone when there is no level.
 */
int sf_alert_quake_severity(double magnitude, const char *level);

/* Returns the database name of a kind ("earthquake"), or "other" for a value out of range. */
const char *sf_alert_kind_name(enum sf_alert_kind kind);

/* Returns the crisis table's source for an alert's source: "cap", "usgs" or "gdacs". */
const char *sf_alert_source_name(enum sf_alert_source source);

#endif
