/*
 * The planner benchmarks' instance generator: people clustered in towns of
 * very different sizes, households of 1 to 6 (2.75 people on average),
 * shelters where the people are (nine in ten in towns, drawn like the
 * people) and some camps in the open, capacities spread like real
 * ones (a few large halls, many small rooms), 1.1 x the people in all.
 * Seeded, so every run and every solver sees the same instance.
 */
#ifndef PLAN_GEN_H
#define PLAN_GEN_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <safety/plan.h>

/* What to generate. */
struct gen_spec {
	size_t households;
	size_t shelters;
	size_t towns;         /* 0: households / 500 + 10 */
	double slack;         /* total capacity / people; 1.1 */
	double medical_share; /* households needing medical care; 0.03 */
	double wheelchair_share;
	double capacity_sigma; /* spread of log capacity; 0.8 */
	uint64_t seed;
};

/* splitmix64: small, fast and the same everywhere. */
static inline uint64_t
gen_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static inline double
gen_uniform(uint64_t *s)
{
	return (double)(gen_next(s) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller). */
static inline double
gen_normal(uint64_t *s)
{
	double u = gen_uniform(s), v = gen_uniform(s);
	if (u < 1e-300)
		u = 1e-300;
	return sqrt(-2 * log(u)) * cos(2 * 3.14159265358979323846 * v);
}

/* A town. */
struct gen_town {
	double lat, lon, spread_km, weight, cum;
};

/* Generates households and shelters into the arrays (allocated here, freed by the caller). */
static inline void
gen_instance(const struct gen_spec *sp, struct sf_plan_household **hh_out,
             struct sf_plan_shelter **sh_out, uint64_t *people_out)
{
	uint64_t s = sp->seed * 0x2545F4914F6CDD1DULL + 1, people = 0, cap_total = 0;
	size_t ntowns = sp->towns ? sp->towns : sp->households / 500 + 10, i, t;
	struct gen_town *town = malloc(ntowns * sizeof *town);
	struct sf_plan_household *hh = calloc(sp->households + 1, sizeof *hh);
	struct sf_plan_shelter *sh = calloc(sp->shelters + 1, sizeof *sh);
	double *w = malloc((sp->shelters + 1) * sizeof *w), wsum = 0, cum = 0;
	/* A region the size of south-east Türkiye: 36-39 N, 35-41 E. */
	const double lat0 = 36, lat1 = 39, lon0 = 35, lon1 = 41;
	static const double size_cdf[6] = {0.25, 0.50, 0.70, 0.85, 0.95, 1.0};

	for (t = 0; t < ntowns; t++) {
		town[t].lat = lat0 + (lat1 - lat0) * gen_uniform(&s);
		town[t].lon = lon0 + (lon1 - lon0) * gen_uniform(&s);
		town[t].spread_km = 1 + 6 * gen_uniform(&s);
		/* Town sizes: heavy tailed, a few cities and many villages. */
		town[t].weight = exp(1.5 * gen_normal(&s));
		cum += town[t].weight;
		town[t].cum = cum;
	}
	for (i = 0; i < sp->households; i++) {
		double r = gen_uniform(&s) * cum, u;
		size_t lo = 0, hi = ntowns - 1;
		const struct gen_town *tw;
		int k;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (town[mid].cum < r)
				lo = mid + 1;
			else
				hi = mid;
		}
		tw = &town[lo];
		hh[i].where.lat = tw->lat + gen_normal(&s) * tw->spread_km / 111.2;
		hh[i].where.lon = tw->lon + gen_normal(&s) * tw->spread_km /
		                                (111.2 * cos(tw->lat * 3.14159265 / 180));
		u = gen_uniform(&s);
		for (k = 0; k < 5 && u >= size_cdf[k]; k++)
			;
		hh[i].people = (uint32_t)k + 1;
		people += hh[i].people;
		hh[i].previous = -1;
		if (gen_uniform(&s) < sp->medical_share)
			hh[i].needs |= SF_PLAN_NEED_MEDICAL;
		if (gen_uniform(&s) < sp->wheelchair_share)
			hh[i].needs |= SF_PLAN_NEED_WHEELCHAIR;
		if (gen_uniform(&s) < 0.25)
			hh[i].needs |= SF_PLAN_NEED_CHILD;
		if (gen_uniform(&s) < 0.12)
			hh[i].needs |= SF_PLAN_NEED_ELDERLY;
		if (gen_uniform(&s) < 0.02)
			hh[i].needs |= SF_PLAN_NEED_PREGNANT;
		hh[i].priority = gen_uniform(&s) < 0.02 ? 2 : 0; /* injured */
	}
	for (i = 0; i < sp->shelters; i++) {
		if (gen_uniform(&s) < 0.9) {
			/* In a town, drawn by the town's size like the people, spread like them. */
			double r = gen_uniform(&s) * cum;
			size_t lo = 0, hi = ntowns - 1;
			while (lo < hi) {
				size_t mid = (lo + hi) / 2;
				if (town[mid].cum < r)
					lo = mid + 1;
				else
					hi = mid;
			}
			sh[i].where.lat =
			    town[lo].lat + gen_normal(&s) * town[lo].spread_km / 111.2;
			sh[i].where.lon =
			    town[lo].lon + gen_normal(&s) * town[lo].spread_km /
			                       (111.2 * cos(town[lo].lat * 3.14159265 / 180));
		} else {
			/* Camps in the open country. */
			sh[i].where.lat = lat0 + (lat1 - lat0) * gen_uniform(&s);
			sh[i].where.lon = lon0 + (lon1 - lon0) * gen_uniform(&s);
		}
		sh[i].open = true;
		sh[i].facilities = (gen_uniform(&s) < 0.2 ? SF_PLAN_FACILITY_MEDICAL : 0) |
		                   (gen_uniform(&s) < 0.4 ? SF_PLAN_FACILITY_ACCESSIBLE : 0);
		w[i] = exp(sp->capacity_sigma * gen_normal(&s));
		wsum += w[i];
	}
	for (i = 0; i < sp->shelters; i++) {
		sh[i].capacity = (uint32_t)floor(w[i] / wsum * sp->slack * (double)people);
		cap_total += sh[i].capacity;
	}
	/* Rounding down lost a few places: give them back to the first shelters. */
	for (i = 0; sp->shelters && cap_total < (uint64_t)ceil(sp->slack * (double)people); i++) {
		sh[i % sp->shelters].capacity++;
		cap_total++;
	}
	free(town);
	free(w);
	*hh_out = hh;
	*sh_out = sh;
	*people_out = people;
}

#endif
