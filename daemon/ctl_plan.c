/*
 * safetyctl plan: the evacuation planner from the shell, files in and out,
 * no database. A crisis team that has lost the server, or wants to try a
 * plan on a laptop, gives two CSV files and gets the placements back as CSV
 * and, if asked, GeoJSON for a map.
 */
#include "ctl.h"

#include <safety/plan.h>

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Input limits: a plan is for one crisis, not the world. */
#define PLAN_ROWS_MAX 2000000
#define PLAN_SHELTERS_MAX 200000
#define PLAN_ID_MAX 64
#define PLAN_FIELD_MAX 256
#define PLAN_COLUMNS_MAX 32

static const char plan_usage[] =
    "usage: safetyctl plan --households FILE --shelters FILE [options]\n"
    "\n"
    "  --households FILE   CSV: id,lat,lon,people[,needs][,priority][,previous]\n"
    "                      needs: medical|wheelchair|child|elderly|pregnant\n"
    "                      previous: shelter id of an earlier plan (re-planning)\n"
    "  --shelters FILE     CSV: id,lat,lon,capacity[,occupancy][,facilities][,open]\n"
    "                      facilities: medical|accessible; open: true|false\n"
    "  --seats N           form vehicle groups of at most N people\n"
    "  --max-km KM         no shelter farther than this (0.001 to 20000)\n"
    "  --move-penalty-m M  re-planning: metres a move must save (default 2000)\n"
    "  --out FILE          placements CSV (default: standard output)\n"
    "  --geojson FILE      shelters, assembly points and lines for a map\n";

/* One CSV file read into rows of strings, header first. */
struct plan_table {
	const char *path;
	char **cells; /* rows x ncols, each owned */
	size_t ncols;
	size_t nrows; /* data rows, header excluded */
	size_t cap;
	/* parsing state */
	char *row[PLAN_COLUMNS_MAX];
	size_t rowlen;
	size_t line;
	char err[256];
};

static void
table_field(void *s, size_t len, void *data)
{
	struct plan_table *t = data;
	if (t->err[0] != '\0')
		return;
	if (t->rowlen >= PLAN_COLUMNS_MAX) {
		snprintf(t->err, sizeof t->err, "%s: line %zu: more than %d columns", t->path,
		         t->line + 1, PLAN_COLUMNS_MAX);
		return;
	}
	if (len > PLAN_FIELD_MAX) {
		snprintf(t->err, sizeof t->err, "%s: line %zu: field %zu longer than %d bytes",
		         t->path, t->line + 1, t->rowlen + 1, PLAN_FIELD_MAX);
		return;
	}
	if (memchr(s, '\0', len) != NULL) {
		snprintf(t->err, sizeof t->err, "%s: line %zu: NUL byte in field %zu", t->path,
		         t->line + 1, t->rowlen + 1);
		return;
	}
	char *copy = malloc(len + 1);
	if (copy == NULL) {
		snprintf(t->err, sizeof t->err, "out of memory");
		return;
	}
	memcpy(copy, s, len);
	copy[len] = '\0';
	t->row[t->rowlen++] = copy;
}

static void
table_row_clear(struct plan_table *t)
{
	for (size_t i = 0; i < t->rowlen; i++)
		free(t->row[i]);
	t->rowlen = 0;
}

static void
table_row(int c, void *data)
{
	(void)c;
	struct plan_table *t = data;
	t->line++;
	if (t->err[0] != '\0') {
		table_row_clear(t);
		return;
	}
	if (t->line == 1) {
		t->ncols = t->rowlen;
	} else if (t->rowlen == 1 && t->row[0][0] == '\0') {
		table_row_clear(t); /* a blank line */
		return;
	} else if (t->rowlen != t->ncols) {
		snprintf(t->err, sizeof t->err, "%s: line %zu: %zu fields, the header has %zu",
		         t->path, t->line, t->rowlen, t->ncols);
		table_row_clear(t);
		return;
	} else if (t->nrows >= PLAN_ROWS_MAX) {
		snprintf(t->err, sizeof t->err, "%s: more than %d rows", t->path, PLAN_ROWS_MAX);
		table_row_clear(t);
		return;
	}
	size_t need = (t->nrows + 2) * t->ncols;
	if (need > t->cap) {
		size_t cap = t->cap == 0 ? 1024 : t->cap * 2;
		while (cap < need)
			cap *= 2;
		char **cells = realloc(t->cells, cap * sizeof *cells);
		if (cells == NULL) {
			snprintf(t->err, sizeof t->err, "out of memory");
			table_row_clear(t);
			return;
		}
		t->cells = cells;
		t->cap = cap;
	}
	size_t base = t->line == 1 ? 0 : (t->nrows + 1) * t->ncols;
	memcpy(t->cells + base, t->row, t->rowlen * sizeof(char *));
	if (t->line != 1)
		t->nrows++;
	t->rowlen = 0;
}

static void
table_free(struct plan_table *t)
{
	size_t n = t->cells == NULL ? 0 : (t->nrows + 1) * t->ncols;
	for (size_t i = 0; i < n; i++)
		free(t->cells[i]);
	free(t->cells);
	table_row_clear(t);
}

/* Reads a whole CSV file with a header row; false with a message on error. */
static bool
table_read(struct plan_table *t, const char *path)
{
	memset(t, 0, sizeof *t);
	t->path = path;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		fprintf(stderr, "safetyctl: plan: %s: %s\n", path, strerror(errno));
		return false;
	}
	struct csv_parser p;
	csv_init(&p, CSV_STRICT | CSV_APPEND_NULL);
	char buf[65536];
	size_t n;
	bool ok = true;
	while ((n = fread(buf, 1, sizeof buf, f)) > 0 && t->err[0] == '\0') {
		if (csv_parse(&p, buf, n, table_field, table_row, t) != n) {
			snprintf(t->err, sizeof t->err, "%s: line %zu: %s", path, t->line + 1,
			         csv_strerror(csv_error(&p)));
			break;
		}
	}
	if (ferror(f))
		snprintf(t->err, sizeof t->err, "%s: read error", path);
	if (t->err[0] == '\0' && csv_fini(&p, table_field, table_row, t) != 0)
		snprintf(t->err, sizeof t->err, "%s: line %zu: %s", path, t->line + 1,
		         csv_strerror(csv_error(&p)));
	csv_free(&p);
	fclose(f);
	if (t->err[0] == '\0' && t->line == 0)
		snprintf(t->err, sizeof t->err, "%s: empty file, a header row is needed", path);
	if (t->err[0] != '\0') {
		fprintf(stderr, "safetyctl: plan: %s\n", t->err);
		table_free(t);
		ok = false;
	}
	return ok;
}

static const char *
table_cell(const struct plan_table *t, size_t row, int col)
{
	if (col < 0)
		return NULL;
	const char *s = t->cells[(row + 1) * t->ncols + (size_t)col];
	return s != NULL && s[0] != '\0' ? s : NULL;
}

/* Column index by header name, -1 if absent; unknown columns are an error. */
static bool
table_columns(const struct plan_table *t, const char *const *names, int *cols, size_t n)
{
	for (size_t i = 0; i < n; i++)
		cols[i] = -1;
	for (size_t c = 0; c < t->ncols; c++) {
		const char *h = t->cells[c] != NULL ? t->cells[c] : "";
		size_t i;
		for (i = 0; i < n; i++)
			if (strcmp(h, names[i]) == 0)
				break;
		if (i == n) {
			fprintf(stderr, "safetyctl: plan: %s: unknown column '%s'\n", t->path, h);
			return false;
		}
		if (cols[i] >= 0) {
			fprintf(stderr, "safetyctl: plan: %s: column '%s' twice\n", t->path, h);
			return false;
		}
		cols[i] = (int)c;
	}
	return true;
}

static bool
parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	if (s == NULL || *s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return false;
	*out = v;
	return true;
}

static bool
parse_double(const char *s, double *out)
{
	if (s == NULL)
		return false;
	errno = 0;
	char *end;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* "medical|child" into bits from names[i] -> bits[i]; false names the unknown word. */
static bool
parse_flags(const char *s, const char *const *names, const unsigned *bits, size_t n, unsigned *out,
            char *bad, size_t badsz)
{
	*out = 0;
	if (s == NULL)
		return true;
	const char *p = s;
	while (*p != '\0') {
		size_t len = strcspn(p, "|; ");
		if (len > 0) {
			size_t i;
			for (i = 0; i < n; i++)
				if (strlen(names[i]) == len && strncmp(p, names[i], len) == 0)
					break;
			if (i == n) {
				snprintf(bad, badsz, "%.*s", (int)(len > 40 ? 40 : len), p);
				return false;
			}
			*out |= bits[i];
		}
		p += len;
		if (*p != '\0')
			p++;
	}
	return true;
}

static bool
parse_point(const struct plan_table *t, size_t r, int clat, int clon, struct sf_point *pt)
{
	if (!parse_double(table_cell(t, r, clat), &pt->lat) ||
	    !parse_double(table_cell(t, r, clon), &pt->lon))
		return false;
	char err[128];
	return sf_point_validate(pt, err, sizeof err) == 0;
}

/* An id and its row, sorted by id: duplicate ids side by side, lookups by bsearch. */
struct id_key {
	const char *id;
	int32_t row;
};

static int
id_key_compare(const void *a, const void *b)
{
	return strcmp(((const struct id_key *)a)->id, ((const struct id_key *)b)->id);
}

/* Row of an id, or SF_PLAN_NONE. */
static int32_t
id_index_find(const struct id_key *keys, size_t n, const char *id)
{
	struct id_key probe = {.id = id};
	const struct id_key *hit = bsearch(&probe, keys, n, sizeof *keys, id_key_compare);
	return hit == NULL ? SF_PLAN_NONE : hit->row;
}

/* Checks the ids of the first column: present, short, unique. Returns them indexed. */
static struct id_key *
id_index_new(const struct plan_table *t)
{
	struct id_key *keys = malloc((t->nrows + 1) * sizeof *keys);
	if (keys == NULL) {
		fprintf(stderr, "safetyctl: plan: out of memory\n");
		return NULL;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		const char *id = table_cell(t, r, 0);
		if (id == NULL || strlen(id) > PLAN_ID_MAX) {
			fprintf(stderr, "safetyctl: plan: %s: row %zu: id is %s\n", t->path, r + 1,
			        id == NULL ? "missing" : "longer than 64 bytes");
			free(keys);
			return NULL;
		}
		keys[r].id = id;
		keys[r].row = (int32_t)r;
	}
	qsort(keys, t->nrows, sizeof *keys, id_key_compare);
	for (size_t r = 1; r < t->nrows; r++) {
		if (strcmp(keys[r - 1].id, keys[r].id) == 0) {
			fprintf(stderr, "safetyctl: plan: %s: id '%s' appears twice\n", t->path,
			        keys[r].id);
			free(keys);
			return NULL;
		}
	}
	return keys;
}

enum { H_ID, H_LAT, H_LON, H_PEOPLE, H_NEEDS, H_PRIORITY, H_PREVIOUS, H_NCOLS };
enum { S_ID, S_LAT, S_LON, S_CAPACITY, S_OCCUPANCY, S_FACILITIES, S_OPEN, S_NCOLS };

static const char *const household_columns[H_NCOLS] = {
    "id", "lat", "lon", "people", "needs", "priority", "previous",
};
static const char *const shelter_columns[S_NCOLS] = {
    "id", "lat", "lon", "capacity", "occupancy", "facilities", "open",
};
static const char *const need_names[] = {"medical", "wheelchair", "child", "elderly", "pregnant"};
static const unsigned need_bits[] = {SF_PLAN_NEED_MEDICAL, SF_PLAN_NEED_WHEELCHAIR,
                                     SF_PLAN_NEED_CHILD, SF_PLAN_NEED_ELDERLY,
                                     SF_PLAN_NEED_PREGNANT};
static const char *const facility_names[] = {"medical", "accessible"};
static const unsigned facility_bits[] = {SF_PLAN_FACILITY_MEDICAL, SF_PLAN_FACILITY_ACCESSIBLE};

static bool
load_shelters(const struct plan_table *t, const int *col, struct sf_plan_shelter **out)
{
	for (int i = S_ID; i <= S_CAPACITY; i++) {
		if (col[i] < 0) {
			fprintf(stderr, "safetyctl: plan: %s: column '%s' is required\n", t->path,
			        shelter_columns[i]);
			return false;
		}
	}
	if (t->nrows > PLAN_SHELTERS_MAX) {
		fprintf(stderr, "safetyctl: plan: %s: more than %d shelters\n", t->path,
		        PLAN_SHELTERS_MAX);
		return false;
	}
	struct sf_plan_shelter *s = calloc(t->nrows + 1, sizeof *s);
	if (s == NULL)
		return false;
	for (size_t r = 0; r < t->nrows; r++) {
		unsigned long cap = 0, occ = 0;
		char bad[48];
		const char *open = table_cell(t, r, col[S_OPEN]);
		if (!parse_point(t, r, col[S_LAT], col[S_LON], &s[r].where)) {
			fprintf(stderr,
			        "safetyctl: plan: %s: row %zu: lat/lon is not a valid point\n",
			        t->path, r + 1);
		} else if (!parse_uint(table_cell(t, r, col[S_CAPACITY]), UINT32_MAX, &cap)) {
			fprintf(stderr,
			        "safetyctl: plan: %s: row %zu: capacity is not a whole number\n",
			        t->path, r + 1);
		} else if (col[S_OCCUPANCY] >= 0 && table_cell(t, r, col[S_OCCUPANCY]) != NULL &&
		           !parse_uint(table_cell(t, r, col[S_OCCUPANCY]), UINT32_MAX, &occ)) {
			fprintf(stderr,
			        "safetyctl: plan: %s: row %zu: occupancy is not a whole number\n",
			        t->path, r + 1);
		} else if (!parse_flags(table_cell(t, r, col[S_FACILITIES]), facility_names,
		                        facility_bits, 2, &s[r].facilities, bad, sizeof bad)) {
			fprintf(stderr,
			        "safetyctl: plan: %s: row %zu: unknown facility '%s' "
			        "(medical, accessible)\n",
			        t->path, r + 1, bad);
		} else if (open != NULL && strcmp(open, "true") != 0 &&
		           strcmp(open, "false") != 0 && strcmp(open, "1") != 0 &&
		           strcmp(open, "0") != 0) {
			fprintf(stderr,
			        "safetyctl: plan: %s: row %zu: open is '%s', not true or false\n",
			        t->path, r + 1, open);
		} else {
			s[r].capacity = (uint32_t)cap;
			s[r].occupancy = (uint32_t)occ;
			s[r].open =
			    open == NULL || strcmp(open, "true") == 0 || strcmp(open, "1") == 0;
			continue;
		}
		free(s);
		return false;
	}
	*out = s;
	return true;
}

static bool
load_households(const struct plan_table *t, const int *col, const struct plan_table *st,
                const struct id_key *shelter_ids, struct sf_plan_household **out)
{
	for (int i = H_ID; i <= H_PEOPLE; i++) {
		if (col[i] < 0) {
			fprintf(stderr, "safetyctl: plan: %s: column '%s' is required\n", t->path,
			        household_columns[i]);
			return false;
		}
	}
	struct sf_plan_household *h = calloc(t->nrows + 1, sizeof *h);
	if (h == NULL)
		return false;
	for (size_t r = 0; r < t->nrows; r++) {
		unsigned long people = 0;
		double prio = 0;
		char bad[48];
		const char *prev = table_cell(t, r, col[H_PREVIOUS]);
		const char *ptxt = table_cell(t, r, col[H_PRIORITY]);
		h[r].previous = SF_PLAN_NONE;
		/* A household whose place is not known (both cells empty) stays in the plan,
		 * unassigned as no_location; a point given but off the globe is an input error. */
		bool no_place =
		    table_cell(t, r, col[H_LAT]) == NULL && table_cell(t, r, col[H_LON]) == NULL;
		if (no_place) {
			h[r].where.lat = NAN;
			h[r].where.lon = NAN;
		}
		if (!no_place && !parse_point(t, r, col[H_LAT], col[H_LON], &h[r].where)) {
			fprintf(stderr,
			        "safetyctl: plan: %s: row %zu: lat/lon is not a valid point (leave "
			        "both empty when the place is not known)\n",
			        t->path, r + 1);
		} else if (!parse_uint(table_cell(t, r, col[H_PEOPLE]),
		                       SF_PLAN_HOUSEHOLD_PEOPLE_MAX, &people) ||
		           people == 0) {
			fprintf(stderr, "safetyctl: plan: %s: row %zu: people must be 1 to %d\n",
			        t->path, r + 1, SF_PLAN_HOUSEHOLD_PEOPLE_MAX);
		} else if (!parse_flags(table_cell(t, r, col[H_NEEDS]), need_names, need_bits, 5,
		                        &h[r].needs, bad, sizeof bad)) {
			fprintf(stderr,
			        "safetyctl: plan: %s: row %zu: unknown need '%s' "
			        "(medical, wheelchair, child, elderly, pregnant)\n",
			        t->path, r + 1, bad);
		} else if (ptxt != NULL && (!parse_double(ptxt, &prio) || prio != floor(prio) ||
		                            fabs(prio) > 1000)) {
			fprintf(stderr,
			        "safetyctl: plan: %s: row %zu: priority must be a whole number "
			        "from -1000 to 1000\n",
			        t->path, r + 1);
		} else if (prev != NULL && (h[r].previous = id_index_find(shelter_ids, st->nrows,
		                                                          prev)) == SF_PLAN_NONE) {
			fprintf(
			    stderr,
			    "safetyctl: plan: %s: row %zu: previous shelter '%s' is not in %s\n",
			    t->path, r + 1, prev, st->path);
		} else {
			h[r].people = (uint32_t)people;
			h[r].priority = (int)prio;
			continue;
		}
		free(h);
		return false;
	}
	*out = h;
	return true;
}

/* A CSV field that may hold commas or quotes. */
static void
csv_put(FILE *f, const char *s)
{
	if (strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* A JSON string; ids passed the CSV reader, so only quotes, backslashes and controls. */
static void
json_put(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void
write_placements(FILE *f, const struct plan_table *ht, const struct plan_table *st,
                 const struct sf_plan_household *households, const struct sf_plan_result *res)
{
	fputs("household,shelter,distance_m,group,departure,assembly_lat,assembly_lon,"
	      "unassigned,move\n",
	      f);
	for (size_t i = 0; i < res->nplacements; i++) {
		const struct sf_plan_placement *p = &res->placements[i];
		csv_put(f, table_cell(ht, i, 0 /* checked: id is column 'id' */));
		fputc(',', f);
		if (p->shelter >= 0)
			csv_put(f, st->cells[((size_t)p->shelter + 1) * st->ncols]);
		if (p->shelter >= 0)
			fprintf(f, ",%u", p->distance_m);
		else
			fputc(',', f);
		if (p->group >= 0) {
			const struct sf_plan_group *g = &res->groups[p->group];
			fprintf(f, ",%d,%u,%.6f,%.6f", p->group + 1, g->order + 1, g->assembly.lat,
			        g->assembly.lon);
		} else {
			fputs(",,,,", f);
		}
		/* No shelter before and none now: nothing stayed, so there is no move to name. */
		bool never_placed = households[i].previous < 0 && p->shelter < 0;
		fprintf(f, ",%s,%s\n",
		        p->unassigned == SF_PLAN_ASSIGNED ? ""
		                                          : sf_plan_unassigned_name(p->unassigned),
		        never_placed ? "" : sf_plan_move_name(p->move));
	}
}

static void
write_geojson(FILE *f, const struct plan_table *st, const struct sf_plan_shelter *shelters,
              const struct sf_plan_result *res)
{
	bool first = true;
	fputs("{\"type\":\"FeatureCollection\",\"features\":[\n", f);
	for (size_t s = 0; s < st->nrows; s++) {
		fprintf(f,
		        "%s{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\","
		        "\"coordinates\":[%.6f,%.6f]},\"properties\":{\"kind\":\"shelter\",\"id\":",
		        first ? "" : ",\n", shelters[s].where.lon, shelters[s].where.lat);
		json_put(f, st->cells[(s + 1) * st->ncols]);
		fprintf(f, ",\"capacity\":%u,\"occupancy\":%u,\"planned\":%llu,\"open\":%s}}",
		        shelters[s].capacity, shelters[s].occupancy,
		        (unsigned long long)res->shelter_load[s],
		        shelters[s].open ? "true" : "false");
		first = false;
	}
	for (size_t g = 0; g < res->ngroups; g++) {
		const struct sf_plan_group *gr = &res->groups[g];
		const struct sf_point *to = &shelters[gr->shelter].where;
		fprintf(f,
		        ",\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\","
		        "\"coordinates\":[%.6f,%.6f]},\"properties\":{\"kind\":\"assembly\","
		        "\"group\":%zu,\"departure\":%u,\"people\":%u,\"vulnerable\":%u}}",
		        gr->assembly.lon, gr->assembly.lat, g + 1, gr->order + 1, gr->people,
		        gr->vulnerable);
		fprintf(
		    f,
		    ",\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"LineString\","
		    "\"coordinates\":[[%.6f,%.6f],[%.6f,%.6f]]},\"properties\":{\"kind\":\"route\","
		    "\"group\":%zu,\"shelter\":",
		    gr->assembly.lon, gr->assembly.lat, to->lon, to->lat, g + 1);
		json_put(f, st->cells[((size_t)gr->shelter + 1) * st->ncols]);
		fputs("}}", f);
	}
	fputs("\n]}\n", f);
}

static FILE *
open_out(const char *path)
{
	if (path == NULL || strcmp(path, "-") == 0)
		return stdout;
	FILE *f = fopen(path, "w");
	if (f == NULL)
		fprintf(stderr, "safetyctl: plan: %s: %s\n", path, strerror(errno));
	return f;
}

static bool
close_out(FILE *f, const char *path)
{
	bool ok = !ferror(f);
	if (f == stdout)
		ok = fflush(f) == 0 && ok;
	else
		ok = fclose(f) == 0 && ok;
	if (!ok)
		fprintf(stderr, "safetyctl: plan: %s: write failed\n",
		        path != NULL ? path : "stdout");
	return ok;
}

int
ctl_plan(int argc, char **argv)
{
	const char *households_path = NULL, *shelters_path = NULL, *out_path = NULL,
	           *geojson_path = NULL;
	struct sf_plan_options opt;
	sf_plan_options_init(&opt);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long n;
		double km;
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(plan_usage, stdout);
			return 0;
		}
		if (v == NULL) {
			fprintf(stderr, "safetyctl: plan: %s needs a value\n%s", a, plan_usage);
			return 2;
		}
		i++;
		if (strcmp(a, "--households") == 0) {
			households_path = v;
		} else if (strcmp(a, "--shelters") == 0) {
			shelters_path = v;
		} else if (strcmp(a, "--out") == 0) {
			out_path = v;
		} else if (strcmp(a, "--geojson") == 0) {
			geojson_path = v;
		} else if (strcmp(a, "--seats") == 0 && parse_uint(v, 1000, &n) && n > 0) {
			opt.group_seats = (uint32_t)n;
		} else if (strcmp(a, "--max-km") == 0 && parse_double(v, &km) && km >= 0.001 &&
		           km <= 20000) {
			/* Kept to the metre, as safetyd does: below a metre would read as no limit. */
			opt.max_distance_m = (uint32_t)lround(km * 1000.0);
		} else if (strcmp(a, "--move-penalty-m") == 0 && parse_uint(v, 1000000, &n)) {
			opt.move_penalty_m = (uint32_t)n;
		} else {
			fprintf(stderr, "safetyctl: plan: bad option %s %s\n%s", a, v, plan_usage);
			return 2;
		}
	}
	if (households_path == NULL || shelters_path == NULL) {
		fprintf(stderr, "safetyctl: plan: --households and --shelters are required\n%s",
		        plan_usage);
		return 2;
	}

	int rc = 1;
	struct plan_table ht, st;
	struct sf_plan_household *households = NULL;
	struct sf_plan_shelter *shelters = NULL;
	struct sf_plan_result *res = NULL;
	struct id_key *household_ids = NULL, *shelter_ids = NULL;
	bool hread = table_read(&ht, households_path);
	bool sread = hread && table_read(&st, shelters_path);
	if (!sread)
		goto done;
	int hcol[H_NCOLS], scol[S_NCOLS];
	if (!table_columns(&ht, household_columns, hcol, H_NCOLS) ||
	    !table_columns(&st, shelter_columns, scol, S_NCOLS))
		goto done;
	/* Output relies on 'id' being the first column; say so rather than guess. */
	if (hcol[H_ID] != 0 || scol[S_ID] != 0) {
		fprintf(stderr, "safetyctl: plan: the first column of both files must be 'id'\n");
		goto done;
	}
	/* The households' index only proves their ids unique; the shelters' resolves 'previous'. */
	if ((household_ids = id_index_new(&ht)) == NULL ||
	    (shelter_ids = id_index_new(&st)) == NULL || !load_shelters(&st, scol, &shelters) ||
	    !load_households(&ht, hcol, &st, shelter_ids, &households))
		goto done;

	struct sf_plan_input in = {
	    .households = households,
	    .nhouseholds = ht.nrows,
	    .shelters = shelters,
	    .nshelters = st.nrows,
	};
	char err[256];
	int e = sf_plan_solve(&in, &opt, &res, err, sizeof err);
	if (e != 0) {
		fprintf(stderr, "safetyctl: plan: %s\n", err);
		goto done;
	}
	FILE *out = open_out(out_path);
	if (out == NULL)
		goto done;
	write_placements(out, &ht, &st, households, res);
	bool ok = close_out(out, out_path);
	if (ok && geojson_path != NULL) {
		FILE *g = open_out(geojson_path);
		ok = g != NULL;
		if (ok) {
			write_geojson(g, &st, shelters, res);
			ok = close_out(g, geojson_path);
		}
	}
	const struct sf_plan_stats *s = &res->stats;
	fprintf(stderr,
	        "plan: %llu people in %zu households, %llu placed, %llu without a shelter\n"
	        "plan: cost %.1f person-km, lower bound %.1f person-km, gap %.3f%%\n"
	        "plan: %zu groups, %zu households moved from the previous plan\n",
	        (unsigned long long)s->people, ht.nrows, (unsigned long long)s->people_assigned,
	        (unsigned long long)s->people_unassigned, (double)s->cost / 1000.0,
	        (double)s->lower_bound / 1000.0, s->gap * 100.0, s->groups, s->households_moved);
	rc = ok ? 0 : 1;
done:
	sf_plan_result_free(res);
	free(households);
	free(shelters);
	free(household_ids);
	free(shelter_ids);
	if (hread)
		table_free(&ht);
	if (sread)
		table_free(&st);
	return rc;
}
