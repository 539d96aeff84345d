/*
 * The planner's benchmark driver: generates an instance (plan_gen.h), runs
 * the planner or the naive "nearest shelter with room" plan on it and prints
 * one line of figures (times per stage, peak memory, cost, bound, gap), or
 * writes the instance's transportation graph in DIMACS for LEMON and the LP
 * solvers. Run one measurement per process so peak memory is its own.
 *
 *   plan_bench [--households N] [--shelters S] [--seed X] [--k K] [--seats Q]
 *              [--group-first] [--naive] [--slack F] [--towns T]
 *              [--graph K FILE] [--dense FILE] [--no-solve] [--determinism]
 *              [--group-mip FILE] [--coincident F]
 *
 * --coincident F puts that fraction of the households (every 1/F-th, spread
 * through the input order) exactly at the first household's point: a crowd
 * registered at one address, an embassy or a camp, where the greedy start
 * and the pricing meet many households with the same nearest shelters.
 *
 * --group-mip writes, after a GROUP_FIRST plan, the problem of its groups
 * kept whole as a MIP in CPLEX LP format for coinor-cbc (check_group_mip.sh):
 * minimum people x metres from each group's assembly point, with at most
 * as many people left out as the plan left out.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <safety/geo.h>
#include <safety/plan.h>

#include "plan_gen.h"

/* Seconds on the monotonic clock. */
static double
now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Stage start times, recorded by the progress callback. */
static double stage_at[SF_PLAN_STAGE_DONE + 1];

/* Records when a stage starts. */
static void
on_progress(void *arg, enum sf_plan_stage stage)
{
	(void)arg;
	stage_at[stage] = now();
}

/* Peak resident memory of this process in MB. */
static double
peak_mb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss / 1024.0;
}

/* A shelter candidate while the graph is written. */
struct cand {
	int64_t d;
	uint32_t s;
};

/* Orders candidates by distance, then index. */
static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->d != y->d)
		return x->d < y->d ? -1 : 1;
	return (x->s > y->s) - (x->s < y->s);
}

/*
 * Writes the relaxation as DIMACS min-cost flow: nodes 1..H households
 * (supply = people), H+1..H+S shelters (supply = -free places), H+S+1 the
 * "left out" sink; arcs to each household's k nearest fitting shelters (all
 * of them when k == 0) and to the sink at cost 10^8 per person.
 */
static int
write_graph(const char *path, const struct sf_plan_household *hh, size_t n,
            const struct sf_plan_shelter *sh, size_t S, size_t k, uint64_t people)
{
	FILE *f = fopen(path, "w");
	struct cand *c = malloc((S + 1) * sizeof *c);
	size_t i, s, arcs = 0;

	if (!f || !c)
		return -1;
	for (i = 0; i < n; i++) {
		size_t m = 0;
		unsigned need =
		    (hh[i].needs & SF_PLAN_NEED_MEDICAL ? SF_PLAN_FACILITY_MEDICAL : 0) |
		    (hh[i].needs & SF_PLAN_NEED_WHEELCHAIR ? SF_PLAN_FACILITY_ACCESSIBLE : 0);
		for (s = 0; s < S; s++)
			if (sh[s].open && sh[s].capacity > sh[s].occupancy &&
			    (sh[s].facilities & need) == need)
				m++;
		arcs += (k && m > k ? k : m) + 1;
	}
	fprintf(f, "c safety plan relaxation\np min %zu %zu\n", n + S + 1, arcs);
	for (i = 0; i < n; i++)
		fprintf(f, "n %zu %u\n", i + 1, hh[i].people);
	for (s = 0; s < S; s++)
		fprintf(f, "n %zu -%u\n", n + s + 1,
		        sh[s].open && sh[s].capacity > sh[s].occupancy
		            ? sh[s].capacity - sh[s].occupancy
		            : 0);
	fprintf(f, "n %zu -%llu\n", n + S + 1, (unsigned long long)people);
	for (i = 0; i < n; i++) {
		size_t m = 0, j;
		unsigned need =
		    (hh[i].needs & SF_PLAN_NEED_MEDICAL ? SF_PLAN_FACILITY_MEDICAL : 0) |
		    (hh[i].needs & SF_PLAN_NEED_WHEELCHAIR ? SF_PLAN_FACILITY_ACCESSIBLE : 0);
		for (s = 0; s < S; s++) {
			if (!sh[s].open || sh[s].capacity <= sh[s].occupancy ||
			    (sh[s].facilities & need) != need)
				continue;
			c[m].d = llround(sf_geo_distance_m(&hh[i].where, &sh[s].where));
			c[m].s = (uint32_t)s;
			m++;
		}
		qsort(c, m, sizeof *c, cand_cmp);
		if (k && m > k)
			m = k;
		for (j = 0; j < m; j++)
			fprintf(f, "a %zu %zu 0 %u %lld\n", i + 1, n + c[j].s + 1, hh[i].people,
			        (long long)c[j].d);
		fprintf(f, "a %zu %zu 0 %u 100000000\n", i + 1, n + S + 1, hh[i].people);
	}
	free(c);
	return fclose(f);
}

/* Facility bits a household needs. */
static unsigned
needs_of(const struct sf_plan_household *h)
{
	return (h->needs & SF_PLAN_NEED_MEDICAL ? SF_PLAN_FACILITY_MEDICAL : 0) |
	       (h->needs & SF_PLAN_NEED_WHEELCHAIR ? SF_PLAN_FACILITY_ACCESSIBLE : 0);
}

/* Whether shelter s may take group g at all. */
static bool
group_fits(const struct sf_plan_result *r, const struct sf_plan_household *hh,
           const struct sf_plan_shelter *sh, size_t g, size_t s)
{
	unsigned need = needs_of(&hh[r->members[r->groups[g].first]]);
	return sh[s].open && sh[s].capacity > sh[s].occupancy && (sh[s].facilities & need) == need;
}

/*
 * Writes the groups-whole problem: x_g_s = 1 when group g goes to shelter s,
 * y_g = 1 when it is left out; at most the plan's left-out people.
 */
static int
write_group_mip(const char *path, const struct sf_plan_result *r,
                const struct sf_plan_household *hh, const struct sf_plan_shelter *sh, size_t S)
{
	FILE *f = fopen(path, "w");
	size_t g, s;

	if (!f)
		return -1;
	fprintf(f, "Minimize\n obj:");
	for (g = 0; g < r->ngroups; g++)
		for (s = 0; s < S; s++)
			if (group_fits(r, hh, sh, g, s))
				fprintf(f, " + %lld x_%zu_%zu\n",
				        (long long)r->groups[g].people *
				            llround(sf_geo_distance_m(&r->groups[g].assembly,
				                                      &sh[s].where)),
				        g, s);
	fprintf(f, "Subject To\n");
	for (g = 0; g < r->ngroups; g++) {
		fprintf(f, " once_%zu: y_%zu", g, g);
		for (s = 0; s < S; s++)
			if (group_fits(r, hh, sh, g, s))
				fprintf(f, " + x_%zu_%zu", g, s);
		fprintf(f, " = 1\n");
	}
	fprintf(f, " left_out:");
	for (g = 0; g < r->ngroups; g++)
		fprintf(f, " + %u y_%zu", r->groups[g].people, g);
	fprintf(f, " <= %llu\n", (unsigned long long)r->stats.people_unassigned);
	for (s = 0; s < S; s++) {
		bool any = false;
		for (g = 0; g < r->ngroups; g++) {
			if (!group_fits(r, hh, sh, g, s))
				continue;
			if (!any)
				fprintf(f, " room_%zu:", s);
			fprintf(f, " + %u x_%zu_%zu", r->groups[g].people, g, s);
			any = true;
		}
		if (any)
			fprintf(f, " <= %u\n", sh[s].capacity - sh[s].occupancy);
	}
	fprintf(f, "Binary\n");
	for (g = 0; g < r->ngroups; g++) {
		for (s = 0; s < S; s++)
			if (group_fits(r, hh, sh, g, s))
				fprintf(f, " x_%zu_%zu\n", g, s);
		fprintf(f, " y_%zu\n", g);
	}
	fprintf(f, "End\n");
	return fclose(f);
}

/* Serialises what a plan decided, to compare two runs byte for byte. */
static size_t
digest(const struct sf_plan_result *r)
{
	size_t h = 1469598103934665603ULL, i;
	const unsigned char *p;
#define MIX(ptr, len)                                                                              \
	for (p = (const unsigned char *)(ptr), i = 0; i < (len); i++)                              \
		h = (h ^ p[i]) * 1099511628211ULL;
	MIX(r->placements, r->nplacements * sizeof *r->placements);
	MIX(r->members, r->nmembers * sizeof *r->members);
	MIX(r->groups, r->ngroups * sizeof *r->groups);
	MIX(r->shelter_load, r->nshelters * sizeof *r->shelter_load);
#undef MIX
	return h;
}

/* Runs as the arguments say. */
int
main(int argc, char **argv)
{
	struct gen_spec spec = {100000, 1000, 0, 1.1, 0.03, 0.03, 0.8, 1};
	struct sf_plan_options opt;
	struct sf_plan_input in;
	struct sf_plan_household *hh;
	struct sf_plan_shelter *sh;
	struct sf_plan_vehicle veh = {0};
	struct sf_plan_result *res = NULL;
	uint64_t people;
	const char *graph = NULL, *dense = NULL, *group_mip = NULL;
	size_t graph_k = 20;
	bool naive = false, solve = true, determinism = false;
	double t0, t1, coincident = 0;
	char err[256];
	int i, rc;

	sf_plan_options_init(&opt);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : "0";
		if (!strcmp(a, "--households"))
			spec.households = strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--shelters"))
			spec.shelters = strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--seed"))
			spec.seed = strtoull(v, NULL, 10), i++;
		else if (!strcmp(a, "--towns"))
			spec.towns = strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--slack"))
			spec.slack = strtod(v, NULL), i++;
		else if (!strcmp(a, "--k"))
			opt.candidates = (uint32_t)strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--seats"))
			veh.seats = (uint32_t)strtoul(v, NULL, 10), i++;
		else if (!strcmp(a, "--group-first"))
			opt.mode = SF_PLAN_GROUP_FIRST;
		else if (!strcmp(a, "--naive"))
			naive = true;
		else if (!strcmp(a, "--no-solve"))
			solve = false;
		else if (!strcmp(a, "--determinism"))
			determinism = true;
		else if (!strcmp(a, "--graph") && i + 2 < argc)
			graph_k = strtoul(argv[i + 1], NULL, 10), graph = argv[i + 2], i += 2;
		else if (!strcmp(a, "--dense"))
			dense = v, i++;
		else if (!strcmp(a, "--group-mip"))
			group_mip = v, i++;
		else if (!strcmp(a, "--coincident"))
			coincident = strtod(v, NULL), i++;
		else {
			fprintf(stderr, "plan_bench: unknown argument %s\n", a);
			return 2;
		}
	}
	gen_instance(&spec, &hh, &sh, &people);
	if (coincident > 0) {
		size_t h, moved = 0;
		for (h = 1; h < spec.households; h++) {
			/* Evenly through the input order, which the greedy start follows. */
			if ((size_t)((double)(h + 1) * coincident) >
			    (size_t)((double)h * coincident)) {
				hh[h].where = hh[0].where;
				moved++;
			}
		}
		printf("coincident: %zu households moved to %.5f,%.5f\n", moved + 1,
		       hh[0].where.lat, hh[0].where.lon);
	}
	memset(&in, 0, sizeof in);
	in.households = hh;
	in.nhouseholds = spec.households;
	in.shelters = sh;
	in.nshelters = spec.shelters;
	if (veh.seats) {
		in.vehicles = &veh;
		in.nvehicles = 1;
	}
	if (graph && write_graph(graph, hh, spec.households, sh, spec.shelters, graph_k, people))
		return 1;
	if (dense && write_graph(dense, hh, spec.households, sh, spec.shelters, 0, people))
		return 1;
	if (!solve)
		return 0;
	opt.progress = on_progress;
	t0 = now();
	rc = naive ? sf_plan_nearest_with_room(&in, &opt, &res, err, sizeof err)
	           : sf_plan_solve(&in, &opt, &res, err, sizeof err);
	t1 = now();
	if (rc != 0) {
		fprintf(stderr, "plan_bench: %s\n", err);
		return 1;
	}
	printf("households=%zu shelters=%zu people=%llu mode=%s%s\n", spec.households,
	       spec.shelters, (unsigned long long)people,
	       naive                             ? "naive"
	       : opt.mode == SF_PLAN_GROUP_FIRST ? "group_first"
	                                         : "assign_first",
	       veh.seats ? "" : "");
	printf("  time %.3f s", t1 - t0);
	if (!naive) {
		double end_assign =
		    stage_at[SF_PLAN_STAGE_GROUPS] ? stage_at[SF_PLAN_STAGE_GROUPS] : t1;
		if (opt.mode == SF_PLAN_GROUP_FIRST)
			printf(" (groups %.3f, candidates %.3f, flow %.3f, rounding %.3f)",
			       stage_at[SF_PLAN_STAGE_CANDIDATES] - stage_at[SF_PLAN_STAGE_GROUPS],
			       stage_at[SF_PLAN_STAGE_FLOW] - stage_at[SF_PLAN_STAGE_CANDIDATES],
			       stage_at[SF_PLAN_STAGE_ROUNDING] - stage_at[SF_PLAN_STAGE_FLOW],
			       stage_at[SF_PLAN_STAGE_DONE] - stage_at[SF_PLAN_STAGE_ROUNDING]);
		else
			printf(" (candidates %.3f, flow %.3f, rounding %.3f, groups %.3f)",
			       stage_at[SF_PLAN_STAGE_FLOW] - stage_at[SF_PLAN_STAGE_CANDIDATES],
			       stage_at[SF_PLAN_STAGE_ROUNDING] - stage_at[SF_PLAN_STAGE_FLOW],
			       end_assign - stage_at[SF_PLAN_STAGE_ROUNDING],
			       stage_at[SF_PLAN_STAGE_GROUPS] ? t1 - stage_at[SF_PLAN_STAGE_GROUPS]
			                                      : 0.0);
	}
	printf(", peak memory %.1f MB\n", peak_mb());
	printf(
	    "  cost %llu bound %llu gap %.4f%% assigned %llu unassigned %llu lp_unassigned %llu\n",
	    (unsigned long long)(res->stats.cost + res->stats.penalty),
	    (unsigned long long)res->stats.lower_bound, 100 * res->stats.gap,
	    (unsigned long long)res->stats.people_assigned,
	    (unsigned long long)res->stats.people_unassigned,
	    (unsigned long long)res->stats.lp_unassigned);
	printf("  mean distance %.0f m", res->stats.people_assigned
	                                     ? (double)res->stats.cost / res->stats.people_assigned
	                                     : 0.0);
	if (!naive)
		printf(", flow nodes %zu arcs %zu priced in %zu rounds %zu pivots %llu",
		       res->stats.flow_nodes, res->stats.flow_arcs, res->stats.arcs_priced_in,
		       res->stats.pricing_rounds, (unsigned long long)res->stats.pivots);
	printf(", nearest-with-room visits %llu, pricing visits %llu, plan digest %016zx\n",
	       (unsigned long long)res->stats.nearest_visits,
	       (unsigned long long)res->stats.pricing_visits, digest(res));
	if (res->ngroups) {
		size_t g, over = 0;
		uint64_t seated = 0;
		for (g = 0; g < res->ngroups; g++) {
			seated += res->groups[g].people;
			if (res->groups[g].people > veh.seats)
				over++;
		}
		printf(
		    "  groups %zu for %llu people in %u seats: %.4f x ceil(people/seats) = %llu, "
		    "mean walk to assembly %.0f m, oversize %zu\n",
		    res->ngroups, (unsigned long long)seated, veh.seats,
		    (double)res->ngroups / (double)((seated + veh.seats - 1) / veh.seats),
		    (unsigned long long)((seated + veh.seats - 1) / veh.seats),
		    seated ? (double)res->stats.walk / seated : 0.0, over);
	}
	if (group_mip && write_group_mip(group_mip, res, hh, sh, spec.shelters) != 0)
		return 1;
	if (determinism) {
		struct sf_plan_result *again = NULL;
		size_t d1 = digest(res), d2;
		if (sf_plan_solve(&in, &opt, &again, err, sizeof err) != 0)
			return 1;
		d2 = digest(again);
		printf("  determinism: %s\n", d1 == d2 ? "same plan twice" : "DIFFERENT");
		sf_plan_result_free(again);
	}
	sf_plan_result_free(res);
	free(hh);
	free(sh);
	return 0;
}
