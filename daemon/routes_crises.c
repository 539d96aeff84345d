/*
 * Crises and check-in campaigns through the API: declare, list, read,
 * confirm, update and close crises; launch a campaign (or see what it would
 * do), follow it, and get the staff call list of those who never answered.
 * A mission's staff see the crises their mission is part of.
 */
#include "routes.h"

#include "audit.h"
#include "daemon.h"
#include "db_reply.h"
#include "geojson_check.h"
#include "text.h"
#include "xmalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A launch gives up after this long: ten minutes, many times a million people's 20 s. */
#define LAUNCH_TIMEOUT_MS 600000

#define CRISIS_JSON                                                                                \
	"json_build_object('id', c.id, 'kind', c.kind, 'title', c.title, 'description', "          \
	"c.description, 'severity', c.severity, 'state', c.state, 'drill', c.drill, 'area', "      \
	"CASE WHEN c.area IS NULL THEN NULL ELSE ST_AsGeoJSON(c.area, 6)::json END, 'circle', "    \
	"CASE WHEN c.center IS NULL THEN NULL ELSE json_build_object('lat', "                      \
	"ST_Y(c.center::geometry), 'lon', ST_X(c.center::geometry), 'radius_m', c.radius_m) END, " \
	"'started_at', c.started_at, 'closed_at', c.closed_at, 'source', c.source, 'source_ref', " \
	"c.source_ref, 'missions', (SELECT coalesce(json_agg(json_build_object('mission_id', "     \
	"cm.mission_id, 'affected', cm.affected) ORDER BY cm.mission_id), '[]'::json) FROM "       \
	"crisis_mission cm WHERE cm.crisis_id = c.id AND ($1::bigint IS NULL OR cm.mission_id = "  \
	"$1)), "                                                                                   \
	"'checkins', (SELECT json_object_agg(s, n) FROM (SELECT k.state::text AS s, count(*) AS "  \
	"n "                                                                                       \
	"FROM checkin k WHERE k.crisis_id = c.id AND ($1::bigint IS NULL OR k.mission_id = $1) "   \
	"GROUP BY k.state) x), 'created_at', c.created_at)"

/* The visibility of a crisis for the caller's mission ($1). */
#define CRISIS_VISIBLE                                                                             \
	"($1::bigint IS NULL OR EXISTS (SELECT 1 FROM crisis_mission cm WHERE cm.crisis_id = "     \
	"c.id "                                                                                    \
	"AND cm.mission_id = $1))"

/* GET /api/v1/crises?state=active */
void
routes_crises_list(struct http_ctx *ctx)
{
	char scope[24], state[16];
	const char *params[2];

	params[0] = auth_scope_param(ctx, scope);
	params[1] = http_query(ctx, "state", state, sizeof state);
	if (params[1] != NULL && strcmp(params[1], "proposed") != 0 &&
	    strcmp(params[1], "active") != 0 && strcmp(params[1], "closed") != 0 &&
	    strcmp(params[1], "dismissed") != 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "state: proposed, active, closed or dismissed");
		return;
	}
	db_reply_json(
	    ctx, 200, "",
	    "SELECT json_build_object('items', coalesce(json_agg(" CRISIS_JSON
	    " ORDER BY c.started_at DESC), '[]'::json), 'next', NULL)::text FROM crisis c "
	    "WHERE " CRISIS_VISIBLE " AND ($2::text IS NULL OR c.state = $2::crisis_state)",
	    2, params);
}

/* GET /api/v1/crises/{id} */
void
routes_crises_get(struct http_ctx *ctx)
{
	char scope[24], id[24];
	const char *params[2];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	db_reply_json(ctx, 200, "no such crisis",
	              "SELECT " CRISIS_JSON
	              "::text FROM crisis c WHERE c.id = $2::bigint AND " CRISIS_VISIBLE,
	              2, params);
}

static const char *const crisis_kinds[] = {"war",      "earthquake", "flood", "terrorism", "unrest",
                                           "epidemic", "kidnapping", "other", NULL};

/* True when s is one of the crisis kinds. */
static bool
crisis_kind_ok(const char *s)
{
	for (int i = 0; crisis_kinds[i] != NULL; i++)
		if (strcmp(s, crisis_kinds[i]) == 0)
			return true;
	return false;
}

/*
 * True when s, free text of a crisis or campaign, is strict UTF-8 without
 * control characters, U+FFFE or U+FFFF (tabs and line breaks only when
 * multiline): titles and descriptions go into the Atom and CAP feeds, and one
 * character XML forbids would make them unreadable for everyone. Else answers
 * 400 naming the field and the character.
 */
static bool
crisis_text_ok(struct http_ctx *ctx, const char *field, const char *s, bool multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	char piece[5], detail[224];
	size_t pos = 0;

	if (text_clean(s, SIZE_MAX, multiline))
		return true;
	/* Each character alone (a lead byte and its continuation bytes) finds the first bad one. */
	while (*p != '\0') {
		size_t len = 1;
		while (len < 4 && (p[len] & 0xc0) == 0x80)
			len++;
		pos++;
		memcpy(piece, p, len);
		piece[len] = '\0';
		if (!text_clean(piece, 1, multiline))
			break;
		p += len;
	}
	if (p[0] != '\0' && p[0] < 0x80)
		snprintf(detail, sizeof detail, "%s: control character U+%04X at character %zu%s",
		         field, p[0], pos,
		         multiline ? " (tabs and line breaks are the only ones allowed)"
		                   : " (one line of text, without tabs)");
	else if (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
		snprintf(detail, sizeof detail, "%s: control character U+%04X at character %zu",
		         field, 0x80 + (p[1] - 0x80), pos);
	else if (p[0] == 0xef && p[1] == 0xbf && (p[2] == 0xbe || p[2] == 0xbf))
		snprintf(detail, sizeof detail, "%s: U+FFF%c at character %zu is not a character",
		         field, p[2] == 0xbe ? 'E' : 'F', pos);
	else
		snprintf(detail, sizeof detail, "%s: bytes that are not UTF-8 at character %zu",
		         field, pos);
	http_reply_problem(ctx, 400, "bad request", detail);
	return false;
}

/*
 * True when v is text crisis_text_ok takes, of min to max characters (as
 * the column's length() counts them: a Korean title is three bytes a
 * character). Else answers 400 naming the field.
 */
static bool
crisis_text_field_ok(struct http_ctx *ctx, const char *field, const cJSON *v, size_t min,
                     size_t max, bool multiline)
{
	char detail[96];

	if (cJSON_IsString(v) && !crisis_text_ok(ctx, field, v->valuestring, multiline))
		return false;
	if (!cJSON_IsString(v) || (min > 0 && v->valuestring[0] == '\0') ||
	    !text_clean(v->valuestring, max, multiline)) {
		snprintf(detail, sizeof detail, "%s: text of %zu to %zu characters", field, min,
		         max);
		http_reply_problem(ctx, 400, "bad request", detail);
		return false;
	}
	return true;
}

/*
 * True when v is a JSON number holding a whole number from lo to hi, put in
 * *out: 4.9 taken as 4 would store what nobody asked for, and a double out
 * of an int's range may not be cast at all. Else answers 400 naming the field.
 */
static bool
crisis_json_whole(struct http_ctx *ctx, const char *field, const cJSON *v, int lo, int hi, int *out)
{
	char detail[96];
	long long n;

	if (!http_json_whole(v, lo, hi, &n)) {
		snprintf(detail, sizeof detail, "%s: a whole number from %d to %d", field, lo, hi);
		http_reply_problem(ctx, 400, "bad request", detail);
		return false;
	}
	*out = (int)n;
	return true;
}

/*
 * Reads the area of a crisis: "area" (GeoJSON Polygon/MultiPolygon, given to
 * PostGIS as text) or "circle" {lat, lon, radius_m}. Answers 400 itself.
 */
static bool
crisis_read_area(struct http_ctx *ctx, cJSON *body, char **area_json, char lat[32], char lon[32],
                 char radius[32], bool required)
{
	cJSON *area = cJSON_GetObjectItemCaseSensitive(body, "area");
	cJSON *circle = cJSON_GetObjectItemCaseSensitive(body, "circle");

	*area_json = NULL;
	lat[0] = lon[0] = radius[0] = '\0';
	if (area == NULL && circle == NULL && !required)
		return true;
	if ((area != NULL) == (circle != NULL)) {
		http_reply_problem(ctx, 400, "bad request",
		                   "give the affected area as either area (GeoJSON Polygon or "
		                   "MultiPolygon, [lon, lat]) or circle {lat, lon, radius_m}");
		return false;
	}
	if (area != NULL) {
		char why[320];
		if (!geojson_area_check(area, why, sizeof why)) {
			http_reply_problem(ctx, 400, "bad request", why);
			return false;
		}
		*area_json = cJSON_PrintUnformatted(area);
		return true;
	}
	{
		cJSON *la = cJSON_GetObjectItemCaseSensitive(circle, "lat");
		cJSON *lo = cJSON_GetObjectItemCaseSensitive(circle, "lon");
		cJSON *r = cJSON_GetObjectItemCaseSensitive(circle, "radius_m");
		bool known_keys = cJSON_IsObject(circle);

		/*
		 * Each key known and given once: a "radius_km" beside radius_m, or a
		 * second radius_m, would be ignored, and the area not the one meant.
		 */
		for (const cJSON *k = known_keys ? circle->child : NULL; k != NULL; k = k->next) {
			if (strcmp(k->string, "lat") != 0 && strcmp(k->string, "lon") != 0 &&
			    strcmp(k->string, "radius_m") != 0)
				known_keys = false;
			for (const cJSON *seen = circle->child; seen != k; seen = seen->next)
				if (strcmp(seen->string, k->string) == 0)
					known_keys = false;
		}
		/* Under a metre the radius would be stored as 0.0, which the table refuses. */
		if (!known_keys || !cJSON_IsNumber(la) || !cJSON_IsNumber(lo) ||
		    !cJSON_IsNumber(r) || la->valuedouble < -90 || la->valuedouble > 90 ||
		    lo->valuedouble < -180 || lo->valuedouble > 180 || r->valuedouble < 1 ||
		    r->valuedouble > 5e6) {
			http_reply_problem(
			    ctx, 400, "bad request",
			    "circle: {\"lat\": -90..90, \"lon\": -180..180, "
			    "\"radius_m\": 1 to 5000000} and nothing else, each once");
			return false;
		}
		snprintf(lat, 32, "%.7f", la->valuedouble);
		snprintf(lon, 32, "%.7f", lo->valuedouble);
		snprintf(radius, 32, "%.1f", r->valuedouble);
	}
	return true;
}

/*
 * POST /api/v1/crises {kind, title, description, severity, drill, area | circle,
 * mission_ids}: declares an active crisis (a lead's own mission is always
 * part of it) and counts each mission's nationals inside.
 */
void
routes_crises_create(struct http_ctx *ctx)
{
	static const char *const known[] = {"kind", "title",  "description", "severity", "drill",
	                                    "area", "circle", "mission_ids", NULL};
	cJSON *body = http_read_json(ctx), *kind, *title, *desc, *sev, *drill, *missions, *m;
	char *area_json = NULL, lat[32], lon[32], radius[32], sevbuf[8], list[512];
	struct audit_who who;
	const char *params[14];
	size_t off = 0;
	int severity = 3;

	if (body == NULL)
		return;
	if (!http_json_known(ctx, body, known))
		goto out;
	kind = cJSON_GetObjectItemCaseSensitive(body, "kind");
	title = cJSON_GetObjectItemCaseSensitive(body, "title");
	desc = cJSON_GetObjectItemCaseSensitive(body, "description");
	sev = cJSON_GetObjectItemCaseSensitive(body, "severity");
	drill = cJSON_GetObjectItemCaseSensitive(body, "drill");
	missions = cJSON_GetObjectItemCaseSensitive(body, "mission_ids");
	if (!cJSON_IsString(kind) || !crisis_kind_ok(kind->valuestring)) {
		http_reply_problem(ctx, 400, "bad request",
		                   "kind: war, earthquake, flood, terrorism, unrest, epidemic, "
		                   "kidnapping or other");
		goto out;
	}
	if (!crisis_text_field_ok(ctx, "title", title, 1, 300, false) ||
	    (desc != NULL && !crisis_text_field_ok(ctx, "description", desc, 0, 10000, true)) ||
	    (sev != NULL && !crisis_json_whole(ctx, "severity", sev, 1, 5, &severity)))
		goto out;
	if (drill != NULL && !cJSON_IsBool(drill)) {
		http_reply_problem(ctx, 400, "bad request", "drill: true or false");
		goto out;
	}
	if (!crisis_read_area(ctx, body, &area_json, lat, lon, radius, true))
		goto out;
	/* The missions involved; a mission role may declare only for its own. */
	if (missions != NULL && !cJSON_IsArray(missions))
		goto bad_missions;
	list[off++] = '{';
	if (ctx->principal.mission_id > 0) {
		off += (size_t)snprintf(list + off, sizeof list - off, "%lld",
		                        ctx->principal.mission_id);
	}
	cJSON_ArrayForEach(m, missions)
	{
		long long mid;

		if (!http_json_id(m, &mid) || off + 24 >= sizeof list)
			goto bad_missions;
		if (ctx->principal.mission_id > 0 && mid != ctx->principal.mission_id) {
			http_reply_problem(ctx, 403, "forbidden",
			                   "you may declare a crisis for your own mission only");
			goto out;
		}
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%lld", off > 1 ? "," : "",
		                        mid);
	}
	list[off++] = '}';
	list[off] = '\0';
	if (strcmp(list, "{}") == 0) {
		http_reply_problem(ctx, 400, "bad request",
		                   "mission_ids: name the missions involved");
		goto out;
	}
	snprintf(sevbuf, sizeof sevbuf, "%d", severity);
	audit_params(ctx, &who, params);
	params[4] = kind->valuestring;
	params[5] = title->valuestring;
	params[6] = desc != NULL ? desc->valuestring : NULL;
	params[7] = sevbuf;
	params[8] = cJSON_IsTrue(drill) ? "t" : "f";
	params[9] = area_json;
	params[10] = area_json == NULL ? lat : NULL;
	params[11] = area_json == NULL ? lon : NULL;
	params[12] = area_json == NULL ? radius : NULL;
	params[13] = list;
	/* The counts of people inside are made in the same statement, by the registry's query. */
	db_reply_json(
	    ctx, 201, "a mission named does not exist",
	    "SELECT crisis_declare($5::crisis_kind, $6, $7, $8::smallint, $9::bool, $10, "
	    " $11::float8, $12::float8, $13::float8, $14::bigint[], $1, $2, $3::bigint, $4)::text",
	    14, params);
	goto out;
bad_missions:
	http_reply_problem(ctx, 400, "bad request",
	                   "mission_ids: a list of mission ids (whole numbers above 0)");
out:
	free(area_json);
	cJSON_Delete(body);
}

/*
 * PATCH /api/v1/crises/{id} {title, description, severity, state}: state
 * "active" confirms a proposed crisis, "closed" ends it (its queued messages
 * and re-asking stop), "dismissed" drops a proposal.
 */
void
routes_crises_update(struct http_ctx *ctx)
{
	/* The area is not among them: it is set when the crisis is declared. */
	static const char *const known[] = {"title", "description", "severity", "state", NULL};
	cJSON *body, *title, *desc, *sev, *state;
	char scope[24], id[24], sevbuf[8];
	struct audit_who who;
	const char *params[10];
	int severity = 0;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	if (!http_json_known(ctx, body, known)) {
		cJSON_Delete(body);
		return;
	}
	title = cJSON_GetObjectItemCaseSensitive(body, "title");
	desc = cJSON_GetObjectItemCaseSensitive(body, "description");
	sev = cJSON_GetObjectItemCaseSensitive(body, "severity");
	state = cJSON_GetObjectItemCaseSensitive(body, "state");
	if ((title != NULL && !crisis_text_field_ok(ctx, "title", title, 1, 300, false)) ||
	    (desc != NULL && !crisis_text_field_ok(ctx, "description", desc, 0, 10000, true)) ||
	    (sev != NULL && !crisis_json_whole(ctx, "severity", sev, 1, 5, &severity))) {
		cJSON_Delete(body);
		return;
	}
	if (state != NULL &&
	    (!cJSON_IsString(state) || (strcmp(state->valuestring, "active") != 0 &&
	                                strcmp(state->valuestring, "closed") != 0 &&
	                                strcmp(state->valuestring, "dismissed") != 0))) {
		http_reply_problem(ctx, 400, "bad request", "state: active, closed or dismissed");
		cJSON_Delete(body);
		return;
	}
	snprintf(sevbuf, sizeof sevbuf, "%d", severity);
	audit_params(ctx, &who, params);
	params[4] = auth_scope_param(ctx, scope);
	params[5] = id;
	params[6] = title != NULL ? title->valuestring : NULL;
	params[7] = desc != NULL ? desc->valuestring : NULL;
	params[8] = sev != NULL ? sevbuf : NULL;
	params[9] = state != NULL ? state->valuestring : NULL;
	db_reply_json(ctx, 200, "no such crisis, or it cannot change that way",
	              "SELECT crisis_update($6::bigint, $5::bigint, $7, $8, $9::smallint, "
	              "$10::crisis_state, $1, $2, $3::bigint, $4)::text",
	              10, params);
	cJSON_Delete(body);
}

/*
 * POST /api/v1/crises/{id}/campaigns {templates, channels, reask_interval_s,
 * rounds, dry_run, mission_id}: launches the check-in of every national of
 * the mission inside the area (or, with dry_run, says what it would do).
 */
void
routes_campaigns_launch(struct http_ctx *ctx)
{
	static const char *const known[] = {
	    "templates", "channels", "reask_interval_s", "rounds", "dry_run", "mission_id", NULL};
	cJSON *body, *templates, *channels, *reask, *rounds, *dry, *mission, *c;
	char id[24], mission_buf[24], reask_buf[16], rounds_buf[8], chan[64], field[16];
	char *templates_text = NULL;
	struct audit_who who;
	const char *params[9];
	size_t off = 0;
	long long mission_id = 0;
	int reask_s = 1800, round_count = 3;

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	body = http_read_json(ctx);
	if (body == NULL)
		return;
	/* A misspelt setting (say "round") must not launch with the default unnoticed. */
	if (!http_json_known(ctx, body, known))
		goto out;
	templates = cJSON_GetObjectItemCaseSensitive(body, "templates");
	channels = cJSON_GetObjectItemCaseSensitive(body, "channels");
	reask = cJSON_GetObjectItemCaseSensitive(body, "reask_interval_s");
	rounds = cJSON_GetObjectItemCaseSensitive(body, "rounds");
	dry = cJSON_GetObjectItemCaseSensitive(body, "dry_run");
	mission = cJSON_GetObjectItemCaseSensitive(body, "mission_id");
	/* 1.9 read as 1 would launch for another mission. */
	if (mission != NULL && !http_json_id(mission, &mission_id)) {
		http_reply_problem(ctx, 400, "bad request",
		                   "mission_id: a mission id (a whole number above 0)");
		goto out;
	}
	if (ctx->principal.mission_id > 0) {
		snprintf(mission_buf, sizeof mission_buf, "%lld", ctx->principal.mission_id);
	} else if (mission != NULL) {
		snprintf(mission_buf, sizeof mission_buf, "%lld", mission_id);
	} else {
		http_reply_problem(ctx, 400, "bad request",
		                   "mission_id: required for accounts that see every mission");
		goto out;
	}
	/* "dry_run": 1 or "yes" meant a rehearsal; taken as false it would send for real. */
	if (dry != NULL && !cJSON_IsBool(dry)) {
		http_reply_problem(ctx, 400, "bad request", "dry_run: true or false");
		goto out;
	}
	if (templates == NULL) {
		templates_text = xstrdup(
		    "{\"ko\": \"[대한민국 대사관] {name}님, {crisis} 관련 안전 확인입니다. 아래 "
		    "링크 "
		    "또는 문자로 답해 주세요: {link} ({keywords})\", \"en\": \"[Embassy of the "
		    "Republic of Korea] {name}, are you safe after {crisis}? Answer here: {link} "
		    "or by "
		    "SMS ({keywords})\"}");
	} else {
		cJSON *t;
		/* Without a text in either language every message would be empty. */
		if (!cJSON_IsObject(templates) || templates->child == NULL)
			goto bad_templates;
		cJSON_ArrayForEach(t, templates)
		{
			if ((strcmp(t->string, "ko") != 0 && strcmp(t->string, "en") != 0) ||
			    !cJSON_IsString(t) || strlen(t->valuestring) == 0 ||
			    strlen(t->valuestring) > 1000 ||
			    strstr(t->valuestring, "{link}") == NULL)
				goto bad_templates;
			snprintf(field, sizeof field, "templates.%s", t->string);
			if (!crisis_text_ok(ctx, field, t->valuestring, true))
				goto out;
		}
		templates_text = cJSON_PrintUnformatted(templates);
	}
	chan[off++] = '{';
	if (channels == NULL) {
		off += (size_t)snprintf(chan + off, sizeof chan - off, "sms,email");
	} else {
		if (!cJSON_IsArray(channels) || cJSON_GetArraySize(channels) < 1 ||
		    cJSON_GetArraySize(channels) > 2)
			goto bad_channels;
		cJSON_ArrayForEach(c, channels)
		{
			if (!cJSON_IsString(c) || (strcmp(c->valuestring, "sms") != 0 &&
			                           strcmp(c->valuestring, "email") != 0))
				goto bad_channels;
			/* ["sms", "sms"]: a re-ask "on the next channel" would be the same one. */
			if (c != channels->child &&
			    strcmp(c->valuestring, channels->child->valuestring) == 0)
				goto bad_channels;
			off += (size_t)snprintf(chan + off, sizeof chan - off, "%s%s",
			                        off > 1 ? "," : "", c->valuestring);
		}
	}
	chan[off++] = '}';
	chan[off] = '\0';
	if ((reask != NULL &&
	     !crisis_json_whole(ctx, "reask_interval_s", reask, 10, 604800, &reask_s)) ||
	    (rounds != NULL && !crisis_json_whole(ctx, "rounds", rounds, 1, 10, &round_count)))
		goto out;
	snprintf(reask_buf, sizeof reask_buf, "%d", reask_s);
	snprintf(rounds_buf, sizeof rounds_buf, "%d", round_count);
	if (cJSON_IsTrue(dry)) {
		params[0] = id;
		params[1] = mission_buf;
		params[2] = templates_text;
		params[3] = chan;
		/* What a launch would do: a crisis it refuses (closed, proposed) is refused. */
		db_reply_json(
		    ctx, 200, "no active crisis with that id for this mission",
		    "SELECT json_build_object('dry_run', true) :: jsonb || "
		    "campaign_preview($1::bigint, $2::bigint, $3::jsonb, $4::text[])::jsonb "
		    "FROM crisis c JOIN crisis_mission cm ON cm.crisis_id = c.id "
		    "WHERE c.id = $1::bigint AND cm.mission_id = $2::bigint AND c.state = 'active'",
		    4, params);
		goto out;
	}
	audit_params(ctx, &who, params);
	params[2] = params[3]; /* the client address; the audit row takes the campaign's mission */
	params[3] = id;
	params[4] = mission_buf;
	params[5] = templates_text;
	params[6] = chan;
	params[7] = reask_buf;
	params[8] = rounds_buf;
	/* A million people take 10 to 20 s to launch, far past the pool's query timeout. */
	db_reply_json_long(ctx, 201, "no active crisis with that id for this mission",
	                   "SELECT campaign_start($4::bigint, $5::bigint, $6::jsonb, $7::text[], "
	                   "$8::int, $9::int, $1, $2, $3)::text",
	                   9, params, LAUNCH_TIMEOUT_MS);
	goto out;
bad_templates:
	http_reply_problem(
	    ctx, 400, "bad request",
	    "templates: {\"ko\": text, \"en\": text}, at least one of the two, each at most 1000 "
	    "bytes and with {link}; {name}, {crisis} and {keywords} are filled in too");
	goto out;
bad_channels:
	http_reply_problem(ctx, 400, "bad request",
	                   "channels: [\"sms\", \"email\"] in order of preference, each once");
out:
	free(templates_text);
	cJSON_Delete(body);
}

/*
 * POST /api/v1/crises/{id}/campaigns/{cid}/reask-unreachable: asks the
 * campaign's unreachable people again, every round anew (after a gateway was
 * fixed or contacts corrected). Audited; a mission account reaches only its
 * own mission's campaigns.
 */
void
routes_campaigns_reask_unreachable(struct http_ctx *ctx)
{
	char scope[24], id[24], cid[24];
	struct audit_who who;
	const char *params[7];

	if (http_param_id(ctx, 0, id) == NULL || http_param_id(ctx, 1, cid) == NULL)
		return;
	audit_params(ctx, &who, params);
	params[4] = auth_scope_param(ctx, scope);
	params[5] = id;
	params[6] = cid;
	db_reply_json(
	    ctx, 200, "no such campaign of an active crisis for this mission",
	    "SELECT campaign_reask_unreachable($6::bigint, $7::bigint, $5::bigint, $1, $2, "
	    "$3::bigint, $4)::text",
	    7, params);
}

/*
 * GET /api/v1/crises/{id}/call-list: who never answered after every round,
 * with every address tried and what became of each message.
 */
void
routes_crises_call_list(struct http_ctx *ctx)
{
	char scope[24], id[24];
	const char *params[2];

	if (http_param_id(ctx, 0, id) == NULL)
		return;
	params[0] = auth_scope_param(ctx, scope);
	params[1] = id;
	db_reply_json(
	    ctx, 200, "no such crisis",
	    "SELECT (SELECT json_build_object('items', coalesce(json_agg(json_build_object("
	    " 'national_id', n.id, 'name_ko', n.name_ko, 'name_latin', n.name_latin, 'mission_id', "
	    " k.mission_id, "
	    " 'rounds', k.round, 'assigned_to', (SELECT json_build_object('id', u.id, 'name', "
	    "  coalesce(nullif(u.display_name, ''), u.username)) FROM person_status ps "
	    "  JOIN staff_user u ON u.id = ps.assigned_to WHERE ps.crisis_id = k.crisis_id "
	    "  AND ps.national_id = n.id), "
	    " 'contacts', (SELECT coalesce(json_agg(json_build_object('kind', "
	    "  ct.kind, 'value', ct.value) ORDER BY ct.kind, ct.priority), '[]'::json) FROM "
	    "contact ct "
	    "  WHERE ct.national_id = n.id), "
	    " 'attempts', (SELECT coalesce(json_agg(json_build_object('channel', o.channel, "
	    "  'recipient', o.recipient, 'state', o.state, 'driver', o.driver, 'error', "
	    "o.last_error, "
	    "  'sent_at', o.sent_at, 'delivered_at', o.delivered_at) ORDER BY o.id), '[]'::json) "
	    "  FROM outbox o WHERE o.crisis_id = k.crisis_id AND o.national_id = n.id)) "
	    " ORDER BY n.id), '[]'::json)) "
	    " FROM checkin k JOIN national n ON n.id = k.national_id "
	    " WHERE k.crisis_id = c.id AND k.state = 'unreachable' "
	    " AND ($1::bigint IS NULL OR k.mission_id = $1))::text "
	    /* A crisis that is not there, or not the caller's mission's, is 404, not empty. */
	    "FROM crisis c WHERE c.id = $2::bigint AND ($1::bigint IS NULL OR EXISTS (SELECT 1 "
	    " FROM crisis_mission cm WHERE cm.crisis_id = c.id AND cm.mission_id = $1))",
	    2, params);
}

/* GET /api/v1/routes: how each SMS and e-mail route has delivered lately, and which are avoided. */
void
routes_routes_list(struct http_ctx *ctx)
{
	db_reply_json(
	    ctx, 200, "",
	    "SELECT json_build_object('items', coalesce(json_agg(json_build_object('channel', "
	    " h.channel, 'prefix', h.prefix, 'attempted', h.attempted, 'delivered', h.delivered, "
	    " 'failed', h.failed, 'delivered_share', h.delivered_share, 'median_delivery_s', "
	    " h.median_delivery_s, 'degraded', h.degraded, 'reason', h.reason, 'updated_at', "
	    " h.updated_at) ORDER BY h.degraded DESC, h.channel, h.prefix), '[]'::json))::text "
	    "FROM route_health h",
	    0, NULL);
}
