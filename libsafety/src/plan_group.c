/*
 * Vehicle groups: households bound for one shelter cut into loads of at most
 * one vehicle, households whole, neighbours together. A sweep along a
 * Hilbert curve (most urgent households first) fills each vehicle, looking a
 * little ahead for households that fill the last seats exactly; a pass of
 * exchanges between neighbouring groups shortens walks; each group gathers
 * at the nearest designated assembly point, else at its medoid household.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>

#include "plan_internal.h"

/* Households looked ahead along the curve for the last seats of a vehicle. */
#define LOOKAHEAD 64
/* Members above which the medoid is taken among those nearest the centroid only. */
#define MEDOID_EXACT 64
/* Exchange passes between neighbouring groups. */
#define EXCHANGE_PASSES 2

/* A household in sweep order. */
struct swept {
	int priority;
	int vulnerable;
	uint32_t curve;
	uint32_t hh;
};

/* Orders the sweep: higher priority, then vulnerable, then along the curve, then index. */
static int
swept_cmp(const void *a, const void *b)
{
	const struct swept *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->vulnerable != y->vulnerable)
		return x->vulnerable > y->vulnerable ? -1 : 1;
	if (x->curve != y->curve)
		return x->curve < y->curve ? -1 : 1;
	return (x->hh > y->hh) - (x->hh < y->hh);
}

/* Position of (x, y) on a Hilbert curve over a 65536 x 65536 grid. */
static uint32_t
hilbert(uint32_t x, uint32_t y)
{
	uint32_t d = 0, s;

	for (s = 1u << 15; s > 0; s >>= 1) {
		uint32_t rx = (x & s) > 0, ry = (y & s) > 0;
		d += s * s * ((3 * rx) ^ ry);
		if (ry == 0) {
			if (rx == 1) {
				x = 65535 - x;
				y = 65535 - y;
			}
			uint32_t t = x;
			x = y;
			y = t;
		}
	}
	return d;
}

/* Vulnerable: medical, wheelchair, child, elderly or pregnant. */
bool
sf__plan_vulnerable(unsigned needs)
{
	return (needs & (SF_PLAN_NEED_MEDICAL | SF_PLAN_NEED_WHEELCHAIR | SF_PLAN_NEED_CHILD |
	                 SF_PLAN_NEED_ELDERLY | SF_PLAN_NEED_PREGNANT)) != 0;
}

/* Distance in metres between households a and b, from their unit vectors. */
static double
hh_dist(const struct sf__plan_grouping *g, uint32_t a, uint32_t b)
{
	const double *p = g->hxyz + 3 * (size_t)a, *q = g->hxyz + 3 * (size_t)b;
	double dx = p[0] - q[0], dy = p[1] - q[1], dz = p[2] - q[2];

	return sf__plan_arc_m(dx * dx + dy * dy + dz * dz);
}

/* Grows the group and member arrays for one more group of up to m members. */
static int
reserve(struct sf__plan_grouping *g, size_t m)
{
	if (g->ngroups == g->groups_cap) {
		size_t nc = g->groups_cap ? 2 * g->groups_cap : 64;
		struct sf_plan_group *ng = realloc(g->groups, nc * sizeof *ng);
		if (!ng)
			return SF_ENOMEM;
		g->groups = ng;
		g->groups_cap = nc;
	}
	(void)m;
	return 0;
}

/* Sum over members of people x distance to member c. */
static double
walk_to(const struct sf__plan_grouping *g, const uint32_t *mem, size_t m, uint32_t c)
{
	double w = 0;
	size_t j;

	for (j = 0; j < m; j++)
		w += g->hh[mem[j]].people * hh_dist(g, mem[j], c);
	return w;
}

/* Fills in a group's figures, medoid and assembly point from its members. */
static void
finish_group(struct sf__plan_grouping *g, struct sf_plan_group *gr)
{
	const uint32_t *mem = g->members + gr->first;
	size_t m = gr->nmembers, j;
	uint32_t best = mem[0];
	double bw = INFINITY, c[3] = {0, 0, 0};
	double q[3];

	gr->people = 0;
	gr->vulnerable = 0;
	gr->priority = g->hh[mem[0]].priority;
	for (j = 0; j < m; j++) {
		const struct sf_plan_household *h = &g->hh[mem[j]];
		gr->people += h->people;
		if (sf__plan_vulnerable(h->needs))
			gr->vulnerable += h->people;
		if (h->priority > gr->priority)
			gr->priority = h->priority;
		c[0] += h->people * g->hxyz[3 * (size_t)mem[j]];
		c[1] += h->people * g->hxyz[3 * (size_t)mem[j] + 1];
		c[2] += h->people * g->hxyz[3 * (size_t)mem[j] + 2];
	}
	if (m <= MEDOID_EXACT) {
		for (j = 0; j < m; j++) {
			double w = walk_to(g, mem, m, mem[j]);
			if (w < bw) {
				bw = w;
				best = mem[j];
			}
		}
	} else {
		/* Large groups: the member nearest the weighted centroid. */
		for (j = 0; j < m; j++) {
			const double *p = g->hxyz + 3 * (size_t)mem[j];
			double w = -(p[0] * c[0] + p[1] * c[1] + p[2] * c[2]);
			if (w < bw) {
				bw = w;
				best = mem[j];
			}
		}
	}
	gr->assembly_point = SF_PLAN_NONE;
	gr->assembly = g->hh[best].where;
	memcpy(q, g->hxyz + 3 * (size_t)best, sizeof q);
	if (g->assembly && g->assembly->n > 0) {
		uint32_t id;
		double d2;
		double max2 = g->assembly_max_m ? sf__plan_chord2(g->assembly_max_m) : 5.0;
		if (sf__plan_index_nearest(g->assembly, q, 1, max2, &id, &d2) == 1) {
			gr->assembly_point = (int32_t)id;
			gr->assembly = g->points[id].where;
			sf__plan_xyz(&gr->assembly, q);
		}
	}
	gr->walk_m = 0;
	for (j = 0; j < m; j++) {
		const double *p = g->hxyz + 3 * (size_t)mem[j];
		double dx = p[0] - q[0], dy = p[1] - q[1], dz = p[2] - q[2];
		gr->walk_m += (uint64_t)llround(g->hh[mem[j]].people *
		                                sf__plan_arc_m(dx * dx + dy * dy + dz * dz));
	}
}

/* The people-weighted centroid (unnormalised) of members [a, b). */
static void
centroid(const struct sf__plan_grouping *g, size_t a, size_t b, double c[3])
{
	size_t j;

	c[0] = c[1] = c[2] = 0;
	for (j = a; j < b; j++) {
		const double *p = g->hxyz + 3 * (size_t)g->members[j];
		uint32_t w = g->hh[g->members[j]].people;
		c[0] += w * p[0];
		c[1] += w * p[1];
		c[2] += w * p[2];
	}
	{
		double l = sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2]);
		if (l > 0) {
			c[0] /= l;
			c[1] /= l;
			c[2] /= l;
		}
	}
}

/* Squared chord from household h to a unit vector c. */
static double
to_centroid(const struct sf__plan_grouping *g, uint32_t h, const double c[3])
{
	const double *p = g->hxyz + 3 * (size_t)h;
	double dx = p[0] - c[0], dy = p[1] - c[1], dz = p[2] - c[2];

	return sqrt(dx * dx + dy * dy + dz * dz);
}

/*
 * Exchanges households of equal size between two neighbouring groups when
 * each ends nearer the other's centroid: the sweep's seams are where it errs.
 */
static void
exchange(struct sf__plan_grouping *g, struct sf_plan_group *a, struct sf_plan_group *b)
{
	double ca[3], cb[3];
	size_t x, y;

	centroid(g, a->first, a->first + a->nmembers, ca);
	centroid(g, b->first, b->first + b->nmembers, cb);
	for (x = a->first; x < a->first + a->nmembers; x++) {
		uint32_t hx = g->members[x];
		double gx = to_centroid(g, hx, ca) - to_centroid(g, hx, cb);
		if (gx <= 0)
			continue;
		for (y = b->first; y < b->first + b->nmembers; y++) {
			uint32_t hy = g->members[y];
			double gy;
			if (g->hh[hy].people != g->hh[hx].people ||
			    g->hh[hy].priority != g->hh[hx].priority)
				continue;
			gy = to_centroid(g, hy, cb) - to_centroid(g, hy, ca);
			if (gx + gy > 1e-12) {
				g->members[x] = hy;
				g->members[y] = hx;
				break;
			}
		}
	}
}

/* Groups the households of list. */
int
sf__plan_group_list(struct sf__plan_grouping *g, const uint32_t *list, size_t n, int32_t shelter)
{
	struct swept *sw;
	bool *used;
	double minlat = 90, maxlat = -90, minlon = 180, maxlon = -180, sumlat = 0, kx, scale;
	size_t i, pos = 0, g0 = g->ngroups, base = g->nmembers, gi;
	uint32_t seats = g->seats;
	int pass;

	if (n == 0)
		return 0;
	sw = malloc(n * sizeof *sw);
	used = calloc(n, sizeof *used);
	if (!sw || !used) {
		free(sw);
		free(used);
		return SF_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		const struct sf_point *p = &g->hh[list[i]].where;
		if (p->lat < minlat)
			minlat = p->lat;
		if (p->lat > maxlat)
			maxlat = p->lat;
		if (p->lon < minlon)
			minlon = p->lon;
		if (p->lon > maxlon)
			maxlon = p->lon;
		sumlat += p->lat;
	}
	/* A local plane: longitude shrunk by the cosine of the mean latitude. */
	kx = cos(sumlat / (double)n * 3.14159265358979323846 / 180.0);
	scale = fmax((maxlon - minlon) * kx, maxlat - minlat);
	scale = scale > 0 ? 65535.0 / scale : 0;
	for (i = 0; i < n; i++) {
		const struct sf_plan_household *h = &g->hh[list[i]];
		double x = (h->where.lon - minlon) * kx * scale,
		       y = (h->where.lat - minlat) * scale;
		sw[i].priority = h->priority;
		sw[i].vulnerable = sf__plan_vulnerable(h->needs);
		sw[i].curve =
		    hilbert((uint32_t)fmin(fmax(x, 0), 65535), (uint32_t)fmin(fmax(y, 0), 65535));
		sw[i].hh = list[i];
	}
	qsort(sw, n, sizeof *sw, swept_cmp);

	for (;;) {
		struct sf_plan_group *gr;
		uint32_t left = seats;

		while (pos < n && used[pos])
			pos++;
		if (pos == n)
			break;

		if (reserve(g, n) != 0) {
			free(sw);
			free(used);
			return SF_ENOMEM;
		}
		gr = &g->groups[g->ngroups++];
		memset(gr, 0, sizeof *gr);
		gr->shelter = shelter;
		gr->vehicle = SF_PLAN_NONE;
		gr->first = g->nmembers;
		for (;;) {
			size_t j, best = n, seen = 0;
			uint32_t p;

			while (pos < n && used[pos])
				pos++;
			if (pos == n)
				break;
			p = g->hh[sw[pos].hh].people;
			if (p <= left || gr->nmembers == 0) {
				/* A household bigger than any vehicle rides alone (no vehicle fits
				 * it). */
				best = pos;
			} else {
				for (j = pos + 1; j < n && seen < LOOKAHEAD; j++) {
					uint32_t q;
					if (used[j])
						continue;
					seen++;
					q = g->hh[sw[j].hh].people;
					if (q <= left &&
					    (best == n || q > g->hh[sw[best].hh].people))
						best = j;
					if (q == left)
						break;
				}
				if (best == n)
					break;
			}
			used[best] = true;
			g->members[g->nmembers++] = sw[best].hh;
			gr->nmembers++;
			p = g->hh[sw[best].hh].people;
			if (p >= left)
				break;
			left -= p;
		}
	}
	free(sw);
	free(used);
	(void)base;

	for (pass = 0; pass < EXCHANGE_PASSES; pass++)
		for (gi = g0 + 1; gi < g->ngroups; gi++)
			exchange(g, &g->groups[gi - 1], &g->groups[gi]);
	for (gi = g0; gi < g->ngroups; gi++)
		finish_group(g, &g->groups[gi]);
	return 0;
}

/* Orders groups for departure: priority, vulnerable people, then formation order. */
static int
order_cmp(const void *a, const void *b)
{
	const struct sf_plan_group *x = a, *y = b;

	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->vulnerable != y->vulnerable)
		return x->vulnerable > y->vulnerable ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

/* A vehicle in the order they are handed out: smallest first. */
struct fleet {
	uint32_t seats;
	uint32_t index;
};

/* Orders vehicles by seats, then index. */
static int
fleet_cmp(const void *a, const void *b)
{
	const struct fleet *x = a, *y = b;

	if (x->seats != y->seats)
		return x->seats < y->seats ? -1 : 1;
	return (x->index > y->index) - (x->index < y->index);
}

/* Orders groups for departure and gives them vehicles in waves. */
int
sf__plan_group_finish(struct sf__plan_grouping *g, const struct sf_plan_vehicle *vehicles,
                      size_t nvehicles)
{
	uint32_t *mem = malloc((g->nmembers + 1) * sizeof *mem);
	struct fleet *fl = malloc((nvehicles + 1) * sizeof *fl);
	bool *busy = calloc(nvehicles + 1, sizeof *busy);
	size_t i, at = 0, v;
	uint32_t wave = 0;

	if (!mem || !fl || !busy) {
		free(mem);
		free(fl);
		free(busy);
		return SF_ENOMEM;
	}
	for (i = 0; i < g->ngroups; i++)
		g->groups[i].order = (uint32_t)i; /* formation order breaks ties */
	if (g->ngroups > 1)
		qsort(g->groups, g->ngroups, sizeof *g->groups, order_cmp);
	for (i = 0; i < g->ngroups; i++) {
		struct sf_plan_group *gr = &g->groups[i];
		memcpy(mem + at, g->members + gr->first, gr->nmembers * sizeof *mem);
		gr->first = at;
		at += gr->nmembers;
		gr->order = (uint32_t)i;
	}
	memcpy(g->members, mem, at * sizeof *mem);
	free(mem);

	for (v = 0; v < nvehicles; v++) {
		fl[v].seats = vehicles[v].seats;
		fl[v].index = (uint32_t)v;
	}
	if (nvehicles > 1)
		qsort(fl, nvehicles, sizeof *fl, fleet_cmp);
	for (i = 0; i < g->ngroups; i++) {
		struct sf_plan_group *gr = &g->groups[i];
		size_t pick = nvehicles;
		gr->vehicle = SF_PLAN_NONE;
		gr->wave = 0;
		if (nvehicles == 0 || fl[nvehicles - 1].seats < gr->people)
			continue;
		for (v = 0; v < nvehicles && pick == nvehicles; v++)
			if (!busy[v] && fl[v].seats >= gr->people)
				pick = v;
		if (pick == nvehicles) {
			/* Every vehicle that fits is out: the next wave starts. */
			wave++;
			memset(busy, 0, nvehicles * sizeof *busy);
			for (v = 0; v < nvehicles && pick == nvehicles; v++)
				if (fl[v].seats >= gr->people)
					pick = v;
		}
		busy[pick] = true;
		gr->vehicle = (int32_t)fl[pick].index;
		gr->wave = wave;
	}
	free(fl);
	free(busy);
	return 0;
}
