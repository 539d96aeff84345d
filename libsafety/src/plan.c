/*
 * The planner's entry points: checks the input, prepares what every stage
 * shares (unit vectors, free places, the previous plan), runs assignment and
 * grouping in the order the options ask, and writes the result with the
 * reasons for everyone left out or moved. The algorithms are in the other
 * plan_*.c files and explained in plan.md.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/plan.h>

#include "plan_internal.h"

/* Defaults of the options. */
#define DEFAULT_PENALTY_M 2000
#define DEFAULT_CANDIDATES 8
#define MAX_CANDIDATES 64
#define DEFAULT_ASSEMBLY_M 3000
#define DEFAULT_SEARCH_ROUNDS 50
/* Shelters, households and assembly points at most (indices are 32-bit, with room). */
#define MAX_ITEMS 100000000u

/* Sets options to their defaults. */
void
sf_plan_options_init(struct sf_plan_options *opt)
{
	memset(opt, 0, sizeof *opt);
	opt->mode = SF_PLAN_ASSIGN_FIRST;
	opt->move_penalty_m = DEFAULT_PENALTY_M;
	opt->candidates = DEFAULT_CANDIDATES;
	opt->assembly_max_m = DEFAULT_ASSEMBLY_M;
	opt->search_rounds = DEFAULT_SEARCH_ROUNDS;
}

/* A household's needs as facility bits. */
uint8_t
sf__plan_fclass(unsigned needs)
{
	return (uint8_t)(((needs & SF_PLAN_NEED_MEDICAL) ? SF_PLAN_FACILITY_MEDICAL : 0) |
	                 ((needs & SF_PLAN_NEED_WHEELCHAIR) ? SF_PLAN_FACILITY_ACCESSIBLE : 0));
}

/* Short names of the reasons, for JSON and CSV. */
const char *
sf_plan_unassigned_name(enum sf_plan_unassigned reason)
{
	switch (reason) {
	case SF_PLAN_ASSIGNED:
		return "assigned";
	case SF_PLAN_NO_LOCATION:
		return "no_location";
	case SF_PLAN_NO_FACILITY:
		return "no_facility";
	case SF_PLAN_OUT_OF_RANGE:
		return "out_of_range";
	case SF_PLAN_NO_CAPACITY:
		return "no_capacity";
	}
	return "unknown";
}

/* Short names of the moves. */
const char *
sf_plan_move_name(enum sf_plan_move move)
{
	switch (move) {
	case SF_PLAN_STAYED:
		return "stayed";
	case SF_PLAN_NEW:
		return "new";
	case SF_PLAN_PREVIOUS_CLOSED:
		return "previous_closed";
	case SF_PLAN_PREVIOUS_UNFIT:
		return "previous_unfit";
	case SF_PLAN_PREVIOUS_FULL:
		return "previous_full";
	case SF_PLAN_CLOSER:
		return "closer";
	case SF_PLAN_MAKES_ROOM:
		return "makes_room";
	case SF_PLAN_DROPPED:
		return "dropped";
	}
	return "unknown";
}

/* Frees a result. */
void
sf_plan_result_free(struct sf_plan_result *res)
{
	if (!res)
		return;
	free(res->placements);
	free(res->groups);
	free(res->members);
	free(res->shelter_load);
	free(res);
}

/* Everything prepared from the input once. */
struct prep {
	const struct sf_plan_input *in;
	struct sf_plan_options opt;
	double *hxyz, *sxyz;
	bool *located;
	uint8_t *fclass;
	uint32_t *room;
	int32_t *previous; /* the previous shelter when it can still take the household */
	uint64_t people;
	struct sf__plan_index assembly;
};

/* Frees what prep holds. */
static void
prep_free(struct prep *p)
{
	free(p->hxyz);
	free(p->sxyz);
	free(p->located);
	free(p->fclass);
	free(p->room);
	free(p->previous);
	sf__plan_index_free(&p->assembly);
}

/* Checks the input and prepares it; 0 or an error with err filled. */
static int
prepare(struct prep *p, const struct sf_plan_input *in, const struct sf_plan_options *opt,
        char *err, size_t errsz)
{
	size_t i, nh, ns;

	memset(p, 0, sizeof *p);
	if (!in)
		return sf_error_set(err, errsz, SF_EINVAL, "input: missing");
	p->in = in;
	if (opt)
		p->opt = *opt;
	else
		sf_plan_options_init(&p->opt);
	if (p->opt.candidates == 0)
		p->opt.candidates = DEFAULT_CANDIDATES;
	if (p->opt.candidates > MAX_CANDIDATES)
		p->opt.candidates = MAX_CANDIDATES;
	if (p->opt.mode != SF_PLAN_ASSIGN_FIRST && p->opt.mode != SF_PLAN_GROUP_FIRST)
		return sf_error_set(err, errsz, SF_EINVAL, "options: unknown mode %d",
		                    (int)p->opt.mode);
	nh = in->nhouseholds;
	ns = in->nshelters;
	if ((nh && !in->households) || (ns && !in->shelters) ||
	    (in->nassembly_points && !in->assembly_points) || (in->nvehicles && !in->vehicles))
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "input: an array is missing for its count");
	if (nh > MAX_ITEMS || ns > MAX_ITEMS || in->nassembly_points > MAX_ITEMS ||
	    in->nvehicles > MAX_ITEMS || (ns && nh > SIZE_MAX / ns / sizeof(uint32_t)))
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "input: too many households or shelters");
	for (i = 0; i < nh; i++) {
		const struct sf_plan_household *h = &in->households[i];
		if (h->people == 0 || h->people > SF_PLAN_HOUSEHOLD_PEOPLE_MAX)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "household %zu: %u people, must be 1 to %d", i,
			                    h->people, SF_PLAN_HOUSEHOLD_PEOPLE_MAX);
		if (h->previous < -1 || (h->previous >= 0 && (size_t)h->previous >= ns))
			return sf_error_set(
			    err, errsz, SF_EINVAL,
			    "household %zu: previous shelter %d is not an input shelter", i,
			    (int)h->previous);
		p->people += h->people;
	}
	if (p->people > SF_PLAN_PEOPLE_MAX)
		return sf_error_set(err, errsz, SF_ERANGE, "input: more than %d people",
		                    SF_PLAN_PEOPLE_MAX);
	for (i = 0; i < ns; i++) {
		char why[128];
		if (sf_point_validate(&in->shelters[i].where, why, sizeof why) != 0)
			return sf_error_set(err, errsz, SF_EINVAL, "shelter %zu: %s", i, why);
	}
	for (i = 0; i < in->nassembly_points; i++) {
		char why[128];
		if (sf_point_validate(&in->assembly_points[i].where, why, sizeof why) != 0)
			return sf_error_set(err, errsz, SF_EINVAL, "assembly point %zu: %s", i,
			                    why);
	}
	for (i = 0; i < in->nvehicles; i++)
		if (in->vehicles[i].seats == 0)
			return sf_error_set(err, errsz, SF_EINVAL, "vehicle %zu: no seats", i);

	p->hxyz = malloc((3 * nh + 1) * sizeof *p->hxyz);
	p->sxyz = malloc((3 * ns + 1) * sizeof *p->sxyz);
	p->located = malloc(nh + 1);
	p->fclass = malloc(nh + 1);
	p->room = malloc((ns + 1) * sizeof *p->room);
	p->previous = malloc((nh + 1) * sizeof *p->previous);
	if (!p->hxyz || !p->sxyz || !p->located || !p->fclass || !p->room || !p->previous)
		return SF_ENOMEM;
	for (i = 0; i < ns; i++) {
		const struct sf_plan_shelter *s = &in->shelters[i];
		uint64_t room =
		    s->open && s->capacity > s->occupancy ? s->capacity - s->occupancy : 0;
		/* More room than people changes nothing and keeps flows in 32 bits. */
		p->room[i] = (uint32_t)(room > p->people ? p->people : room);
		sf__plan_xyz(&s->where, p->sxyz + 3 * i);
	}
	for (i = 0; i < nh; i++) {
		const struct sf_plan_household *h = &in->households[i];
		p->located[i] = sf_point_validate(&h->where, NULL, 0) == 0;
		p->fclass[i] = sf__plan_fclass(h->needs);
		if (p->located[i])
			sf__plan_xyz(&h->where, p->hxyz + 3 * i);
		else
			p->hxyz[3 * i] = p->hxyz[3 * i + 1] = p->hxyz[3 * i + 2] = 0;
		p->previous[i] = -1;
	}
	{
		size_t n = 0;
		uint32_t *ids = malloc((in->nassembly_points + 1) * sizeof *ids);
		double *xyz = malloc((3 * in->nassembly_points + 1) * sizeof *xyz);
		int rc;
		if (!ids || !xyz) {
			free(ids);
			free(xyz);
			return SF_ENOMEM;
		}
		for (i = 0; i < in->nassembly_points; i++) {
			if (!in->assembly_points[i].open)
				continue;
			ids[n] = (uint32_t)i;
			sf__plan_xyz(&in->assembly_points[i].where, xyz + 3 * n);
			n++;
		}
		rc = sf__plan_index_build(&p->assembly, xyz, ids, n);
		free(ids);
		free(xyz);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Fills a problem over the households themselves. */
static void
household_problem(const struct prep *p, struct sf__plan_problem *pb, uint32_t *people,
                  struct sf_point *where)
{
	const struct sf_plan_input *in = p->in;
	size_t i;

	memset(pb, 0, sizeof *pb);
	for (i = 0; i < in->nhouseholds; i++) {
		people[i] = in->households[i].people;
		where[i] = in->households[i].where;
	}
	pb->nitems = in->nhouseholds;
	pb->people = people;
	pb->fclass = p->fclass;
	pb->previous = p->previous;
	pb->xyz = p->hxyz;
	pb->where = where;
	pb->located = p->located;
	pb->matrix = in->distance_m;
	pb->nshelters = in->nshelters;
	pb->shelters = in->shelters;
	pb->room = p->room;
	pb->sxyz = p->sxyz;
	pb->max_distance_m = p->opt.max_distance_m;
	pb->penalty_m = p->opt.move_penalty_m;
	pb->k = p->opt.candidates;
	pb->search_rounds = p->opt.search_rounds ? p->opt.search_rounds : DEFAULT_SEARCH_ROUNDS;
	pb->progress = p->opt.progress;
	pb->progress_arg = p->opt.progress_arg;
}

/* Keeps each household's previous shelter where it can still take it (then it costs no penalty). */
static void
set_previous(struct prep *p, const struct sf__plan_problem *pb)
{
	size_t i;

	for (i = 0; i < p->in->nhouseholds; i++) {
		int32_t s = p->in->households[i].previous;
		p->previous[i] = -1;
		if (s < 0 || !p->located[i] || p->room[s] == 0 ||
		    (p->in->shelters[s].facilities & p->fclass[i]) != p->fclass[i] ||
		    sf__plan_distance(pb, i, (size_t)s) < 0)
			continue;
		p->previous[i] = s;
	}
}

/* Why household i's shelter differs from its previous one. */
static enum sf_plan_move
move_reason(const struct prep *p, const struct sf__plan_problem *pb, const uint64_t *was, size_t i,
            int32_t now, uint32_t dist_now)
{
	int32_t prev = p->in->households[i].previous;
	int64_t dprev;

	if (prev == now)
		return SF_PLAN_STAYED;
	if (prev < 0)
		return SF_PLAN_NEW;
	if (now < 0)
		return SF_PLAN_DROPPED;
	if (!p->in->shelters[prev].open)
		return SF_PLAN_PREVIOUS_CLOSED;
	if (p->room[prev] == 0 || was[prev] > p->room[prev])
		return SF_PLAN_PREVIOUS_FULL;
	if (p->previous[i] < 0)
		return SF_PLAN_PREVIOUS_UNFIT;
	dprev = sf__plan_distance(pb, i, (size_t)prev);
	if (dprev >= 0 && (int64_t)dist_now + p->opt.move_penalty_m < dprev)
		return SF_PLAN_CLOSER;
	return SF_PLAN_MAKES_ROOM;
}

/* A new, empty result for n households and s shelters. */
static struct sf_plan_result *
result_new(size_t n, size_t s)
{
	struct sf_plan_result *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->placements = calloc(n + 1, sizeof *r->placements);
	r->shelter_load = calloc(s + 1, sizeof *r->shelter_load);
	r->members = malloc((n + 1) * sizeof *r->members);
	if (!r->placements || !r->shelter_load || !r->members) {
		sf_plan_result_free(r);
		return NULL;
	}
	r->nplacements = n;
	r->nshelters = s;
	return r;
}

/* Fills placements, loads and the plan's figures from households' shelters. */
static void
fill_result(const struct prep *p, const struct sf__plan_problem *pb, struct sf_plan_result *r,
            const int32_t *shelter, const uint32_t *dist, const uint8_t *reason)
{
	const struct sf_plan_input *in = p->in;
	uint64_t *was = calloc(in->nshelters + 1, sizeof *was);
	size_t i;

	for (i = 0; was && i < in->nhouseholds; i++)
		if (in->households[i].previous >= 0)
			was[in->households[i].previous] += in->households[i].people;
	r->stats.people = p->people;
	for (i = 0; i < in->nhouseholds; i++) {
		struct sf_plan_placement *pl = &r->placements[i];
		uint32_t people = in->households[i].people;
		pl->shelter = shelter[i];
		pl->group = SF_PLAN_NONE;
		pl->distance_m = shelter[i] >= 0 ? dist[i] : 0;
		pl->unassigned =
		    shelter[i] >= 0 ? SF_PLAN_ASSIGNED : (enum sf_plan_unassigned)reason[i];
		pl->move =
		    was ? move_reason(p, pb, was, i, shelter[i], pl->distance_m) : SF_PLAN_STAYED;
		if (pl->move != SF_PLAN_STAYED && pl->move != SF_PLAN_NEW)
			r->stats.households_moved++;
		if (shelter[i] >= 0) {
			r->shelter_load[shelter[i]] += people;
			r->stats.people_assigned += people;
			r->stats.households_assigned++;
			r->stats.cost += (uint64_t)people * pl->distance_m;
			if (p->previous[i] >= 0 && p->previous[i] != shelter[i])
				r->stats.penalty += (uint64_t)people * p->opt.move_penalty_m;
		} else {
			r->stats.people_unassigned += people;
			if (p->previous[i] >= 0)
				r->stats.penalty += (uint64_t)people * p->opt.move_penalty_m;
		}
	}
	free(was);
}

/*
 * The gap between the plan's objective and the bound: only when the plan
 * places as many people as the relaxation, as the bound is proven for those
 * plans alone (one placing fewer may cost less: the gap would be negative).
 */
static void
set_gap(struct sf_plan_stats *st)
{
	uint64_t obj = st->cost + st->penalty;

	st->bound_applies = st->people_unassigned == st->lp_unassigned;
	st->gap = st->bound_applies ? ((double)obj - (double)st->lower_bound) /
	                                  (double)(st->lower_bound > 0 ? st->lower_bound : 1)
	                            : 0;
}

/* The size of the groups: the largest vehicle's seats, else the option. */
static uint32_t
group_seats(const struct prep *p)
{
	uint32_t seats = 0;
	size_t v;

	for (v = 0; v < p->in->nvehicles; v++)
		if (p->in->vehicles[v].seats > seats)
			seats = p->in->vehicles[v].seats;
	return p->in->nvehicles ? seats : p->opt.group_seats;
}

/* Starts a grouping over the input's households. */
static int
grouping_init(const struct prep *p, struct sf__plan_grouping *g)
{
	memset(g, 0, sizeof *g);
	g->hh = p->in->households;
	g->hxyz = p->hxyz;
	g->seats = group_seats(p);
	g->assembly = &p->assembly;
	g->points = p->in->assembly_points;
	g->assembly_max_m = p->opt.assembly_max_m;
	g->members = malloc((p->in->nhouseholds + 1) * sizeof *g->members);
	return g->members ? 0 : SF_ENOMEM;
}

/* Moves finished groups into the result and tells each household its group. */
static void
take_groups(struct sf_plan_result *r, struct sf__plan_grouping *g)
{
	size_t gi, j;

	free(r->members);
	r->groups = g->groups;
	r->ngroups = g->ngroups;
	r->members = g->members;
	r->nmembers = g->nmembers;
	g->groups = NULL;
	g->members = NULL;
	for (gi = 0; gi < r->ngroups; gi++) {
		const struct sf_plan_group *gr = &r->groups[gi];
		r->stats.walk += gr->walk_m;
		for (j = gr->first; j < gr->first + gr->nmembers; j++)
			r->placements[r->members[j]].group = (int32_t)gi;
	}
	r->stats.groups = r->ngroups;
}

/* ASSIGN_FIRST: households to shelters, then groups per shelter. */
static int
assign_first(struct prep *p, struct sf_plan_result *r)
{
	const struct sf_plan_input *in = p->in;
	size_t n = in->nhouseholds, S = in->nshelters, i, s;
	uint32_t *people = malloc((n + 1) * sizeof *people);
	struct sf_point *where = malloc((n + 1) * sizeof *where);
	struct sf__plan_problem pb;
	struct sf__plan_assignment a;
	struct sf__plan_grouping g;
	size_t *start = NULL;
	uint32_t *list = NULL;
	int rc = SF_ENOMEM;

	memset(&a, 0, sizeof a);
	memset(&g, 0, sizeof g);
	if (!people || !where)
		goto out;
	household_problem(p, &pb, people, where);
	set_previous(p, &pb);
	if ((rc = sf__plan_assign(&pb, &a, &r->stats)) != 0)
		goto out;
	sf__plan_reasons(&pb, &a);
	fill_result(p, &pb, r, a.shelter, a.distance_m, a.reason);
	if (group_seats(p) > 0) {
		rc = SF_ENOMEM;
		if (p->opt.progress)
			p->opt.progress(p->opt.progress_arg, SF_PLAN_STAGE_GROUPS);
		start = calloc(S + 2, sizeof *start);
		list = malloc((n + 1) * sizeof *list);
		if (!start || !list || grouping_init(p, &g) != 0)
			goto out;
		for (i = 0; i < n; i++)
			if (a.shelter[i] >= 0)
				start[a.shelter[i] + 1]++;
		for (s = 0; s < S; s++)
			start[s + 1] += start[s];
		for (i = 0; i < n; i++)
			if (a.shelter[i] >= 0)
				list[start[a.shelter[i]]++] = (uint32_t)i;
		/* start[s] now ends shelter s's run; its beginning is the previous end. */
		for (s = 0; s < S; s++) {
			size_t b = s ? start[s - 1] : 0;
			if ((rc = sf__plan_group_list(&g, list + b, start[s] - b, (int32_t)s)) != 0)
				goto out;
		}
		if ((rc = sf__plan_group_finish(&g, in->vehicles, in->nvehicles)) != 0)
			goto out;
		take_groups(r, &g);
	}
	rc = 0;
out:
	free(people);
	free(where);
	free(start);
	free(list);
	free(g.groups);
	free(g.members);
	sf__plan_assignment_free(&a);
	return rc;
}

/* GROUP_FIRST: vehicle groups by neighbourhood and needs, then each group whole to a shelter. */
static int
group_first(struct prep *p, struct sf_plan_result *r)
{
	const struct sf_plan_input *in = p->in;
	size_t n = in->nhouseholds, S = in->nshelters, i, gi, j, c;
	struct sf__plan_grouping g;
	struct sf__plan_problem pb, hpb;
	struct sf__plan_assignment a;
	uint32_t *list = malloc((n + 1) * sizeof *list);
	uint32_t *gpeople = NULL, *matrix = NULL, *hpeople = NULL;
	uint8_t *gclass = NULL, *reason = NULL;
	int32_t *gprev = NULL, *shelter = NULL;
	uint32_t *dist = NULL;
	struct sf_point *gwhere = NULL, *hwhere = NULL;
	double *gxyz = NULL;
	bool *glocated = NULL;
	int rc = SF_ENOMEM;

	memset(&a, 0, sizeof a);
	memset(&g, 0, sizeof g);
	hpeople = malloc((n + 1) * sizeof *hpeople);
	hwhere = malloc((n + 1) * sizeof *hwhere);
	if (!list || !hpeople || !hwhere || grouping_init(p, &g) != 0)
		goto out;
	household_problem(p, &hpb, hpeople, hwhere);
	set_previous(p, &hpb);
	if (g.seats == 0) {
		/* No vehicles: every household is its own group. */
		g.seats = 1;
	}
	if (p->opt.progress)
		p->opt.progress(p->opt.progress_arg, SF_PLAN_STAGE_GROUPS);
	/* One sweep per kind of shelter needed, so a group can go where all its members may. */
	for (c = 0; c < 4; c++) {
		size_t m = 0;
		for (i = 0; i < n; i++)
			if (p->located[i] && p->fclass[i] == c)
				list[m++] = (uint32_t)i;
		if ((rc = sf__plan_group_list(&g, list, m, SF_PLAN_NONE)) != 0)
			goto out;
	}
	rc = SF_ENOMEM;
	gpeople = malloc((g.ngroups + 1) * sizeof *gpeople);
	gclass = malloc(g.ngroups + 1);
	gprev = malloc((g.ngroups + 1) * sizeof *gprev);
	gwhere = malloc((g.ngroups + 1) * sizeof *gwhere);
	gxyz = malloc((3 * g.ngroups + 1) * sizeof *gxyz);
	glocated = malloc(g.ngroups + 1);
	if (!gpeople || !gclass || !gprev || !gwhere || !gxyz || !glocated)
		goto out;
	for (gi = 0; gi < g.ngroups; gi++) {
		const struct sf_plan_group *gr = &g.groups[gi];
		uint32_t first = g.members[gr->first];
		gpeople[gi] = gr->people;
		gclass[gi] = p->fclass[first];
		gwhere[gi] = gr->assembly;
		sf__plan_xyz(&gr->assembly, gxyz + 3 * gi);
		glocated[gi] = true;
		/* A group keeps a previous shelter only if all its members had the same one. */
		gprev[gi] = p->previous[first];
		for (j = gr->first; j < gr->first + gr->nmembers; j++)
			if (p->previous[g.members[j]] != gprev[gi])
				gprev[gi] = -1;
	}
	if (in->distance_m) {
		/* A group's road distance: its members' mean, unreachable if any is. */
		matrix = malloc((g.ngroups * S + 1) * sizeof *matrix);
		if (!matrix)
			goto out;
		for (gi = 0; gi < g.ngroups; gi++) {
			const struct sf_plan_group *gr = &g.groups[gi];
			size_t s;
			for (s = 0; s < S; s++) {
				uint64_t sum = 0;
				bool ok = true;
				for (j = gr->first; j < gr->first + gr->nmembers && ok; j++) {
					uint32_t h = g.members[j];
					uint32_t d = in->distance_m[(size_t)h * S + s];
					ok = d != SF_PLAN_UNREACHABLE;
					sum += (uint64_t)d * in->households[h].people;
				}
				matrix[gi * S + s] =
				    ok ? (uint32_t)((sum + gr->people / 2) / gr->people)
				       : SF_PLAN_UNREACHABLE;
			}
		}
	}
	pb = hpb;
	pb.nitems = g.ngroups;
	pb.people = gpeople;
	pb.fclass = gclass;
	pb.previous = gprev;
	pb.xyz = gxyz;
	pb.where = gwhere;
	pb.located = glocated;
	pb.matrix = matrix;
	if ((rc = sf__plan_assign(&pb, &a, &r->stats)) != 0)
		goto out;
	sf__plan_reasons(&pb, &a);

	rc = SF_ENOMEM;
	shelter = malloc((n + 1) * sizeof *shelter);
	dist = calloc(n + 1, sizeof *dist);
	reason = malloc(n + 1);
	if (!shelter || !dist || !reason)
		goto out;
	for (i = 0; i < n; i++) {
		shelter[i] = -1;
		reason[i] = SF_PLAN_NO_LOCATION;
	}
	for (gi = 0; gi < g.ngroups; gi++) {
		g.groups[gi].shelter = a.shelter[gi];
		for (j = g.groups[gi].first; j < g.groups[gi].first + g.groups[gi].nmembers; j++) {
			uint32_t h = g.members[j];
			shelter[h] = a.shelter[gi];
			dist[h] = a.distance_m[gi];
			reason[h] = a.reason[gi];
		}
	}
	{
		/* The bound was per group; so is the plan's cost, and it is what fill_result adds.
		 */
		uint64_t lb = r->stats.lower_bound, lpout = r->stats.lp_unassigned;
		fill_result(p, &hpb, r, shelter, dist, reason);
		r->stats.lower_bound = lb;
		r->stats.lp_unassigned = lpout;
	}
	if ((rc = sf__plan_group_finish(&g, in->vehicles, in->nvehicles)) != 0)
		goto out;
	take_groups(r, &g);
	rc = 0;
out:
	free(list);
	free(hpeople);
	free(hwhere);
	free(gpeople);
	free(gclass);
	free(gprev);
	free(gwhere);
	free(gxyz);
	free(glocated);
	free(matrix);
	free(shelter);
	free(dist);
	free(reason);
	free(g.groups);
	free(g.members);
	sf__plan_assignment_free(&a);
	return rc;
}

/* Plans. */
int
sf_plan_solve(const struct sf_plan_input *in, const struct sf_plan_options *opt,
              struct sf_plan_result **out, char *err, size_t errsz)
{
	struct prep p;
	struct sf_plan_result *r = NULL;
	int rc;

	if (!out)
		return sf_error_set(err, errsz, SF_EINVAL, "output: missing");
	*out = NULL;
	if ((rc = prepare(&p, in, opt, err, errsz)) != 0)
		goto fail;
	if (!(r = result_new(in->nhouseholds, in->nshelters))) {
		rc = SF_ENOMEM;
		goto fail;
	}
	rc = p.opt.mode == SF_PLAN_GROUP_FIRST ? group_first(&p, r) : assign_first(&p, r);
	if (rc != 0)
		goto fail;
	set_gap(&r->stats);
	if (p.opt.progress)
		p.opt.progress(p.opt.progress_arg, SF_PLAN_STAGE_DONE);
	prep_free(&p);
	*out = r;
	return 0;
fail:
	if (rc == SF_ENOMEM)
		sf_error_set(err, errsz, rc, "plan: out of memory");
	prep_free(&p);
	sf_plan_result_free(r);
	return rc;
}

/* The naive plan: input order, nearest fitting shelter with room. */
int
sf_plan_nearest_with_room(const struct sf_plan_input *in, const struct sf_plan_options *opt,
                          struct sf_plan_result **out, char *err, size_t errsz)
{
	struct prep p;
	struct sf_plan_result *r = NULL;
	struct sf__plan_problem pb;
	struct sf__plan_index tree[4];
	int64_t *sub[4] = {NULL, NULL, NULL, NULL}; /* per tree: the most room left below */
	struct sf__plan_assignment a;
	uint32_t *people = NULL, *sids = NULL;
	struct sf_point *where = NULL;
	double *xyz = NULL;
	int64_t *left = NULL;
	size_t n, S, i, s;
	int rc, f;

	memset(tree, 0, sizeof tree);
	memset(&a, 0, sizeof a);
	if (!out)
		return sf_error_set(err, errsz, SF_EINVAL, "output: missing");
	*out = NULL;
	if ((rc = prepare(&p, in, opt, err, errsz)) != 0)
		goto done;
	n = in->nhouseholds;
	S = in->nshelters;
	rc = SF_ENOMEM;
	r = result_new(n, S);
	people = malloc((n + 1) * sizeof *people);
	where = malloc((n + 1) * sizeof *where);
	sids = malloc((S + 1) * sizeof *sids);
	xyz = malloc((3 * S + 1) * sizeof *xyz);
	left = malloc((S + 1) * sizeof *left);
	a.shelter = malloc((n + 1) * sizeof *a.shelter);
	a.distance_m = calloc(n + 1, sizeof *a.distance_m);
	a.reason = calloc(n + 1, 1);
	if (!r || !people || !where || !sids || !xyz || !left || !a.shelter || !a.distance_m ||
	    !a.reason)
		goto done;
	household_problem(&p, &pb, people, where);
	set_previous(&p, &pb);
	for (s = 0; s < S; s++)
		left[s] = p.room[s];
	for (f = 0; f < 4; f++) {
		size_t m = 0;
		for (s = 0; s < S; s++) {
			if (p.room[s] == 0 ||
			    (in->shelters[s].facilities & (unsigned)f) != (unsigned)f)
				continue;
			sids[m] = (uint32_t)s;
			memcpy(xyz + 3 * m, p.sxyz + 3 * s, 3 * sizeof *xyz);
			m++;
		}
		if ((rc = sf__plan_index_build(&tree[f], xyz, sids, m)) != 0)
			goto done;
		rc = SF_ENOMEM;
		if (m && !(sub[f] = malloc(m * sizeof *sub[f])))
			goto done;
		if (m)
			sf__plan_index_submax(&tree[f], left, sub[f]);
	}
	for (i = 0; i < n; i++) {
		int64_t bd = -1;
		int32_t bs = -1;
		a.shelter[i] = -1;
		if (!p.located[i])
			continue;
		if (in->distance_m) {
			r->stats.nearest_visits += S;
			for (s = 0; s < S; s++) {
				int64_t d;
				if (left[s] < (int64_t)people[i] ||
				    (in->shelters[s].facilities & p.fclass[i]) != p.fclass[i] ||
				    (d = sf__plan_distance(&pb, i, s)) < 0)
					continue;
				if (bs < 0 || d < bd) {
					bd = d;
					bs = (int32_t)s;
				}
			}
		} else {
			/*
			 * The nearest with room left for it, full shelters skipped
			 * by the tree (distance grows with the chord: if that one is
			 * too far, so are the rest).
			 */
			const struct sf__plan_index *t = &tree[p.fclass[i]];
			double max2 = p.opt.max_distance_m
			                  ? sf__plan_chord2(p.opt.max_distance_m + 1.0)
			                  : 5.0;
			int64_t got = sf__plan_index_nearest_keyed(t, p.hxyz + 3 * i, max2, left,
			                                           sub[p.fclass[i]], people[i],
			                                           &r->stats.nearest_visits);
			int64_t d;
			if (got >= 0 && (d = sf__plan_distance(&pb, i, (size_t)got)) >= 0) {
				bd = d;
				bs = (int32_t)got;
			}
		}
		if (bs >= 0) {
			a.shelter[i] = bs;
			a.distance_m[i] = (uint32_t)bd;
			left[bs] -= people[i];
			for (f = 0; f < 4 && !in->distance_m; f++)
				if (sub[f])
					sf__plan_index_resubmax(&tree[f], p.sxyz + 3 * (size_t)bs,
					                        (uint32_t)bs, left, sub[f]);
		}
	}
	sf__plan_reasons(&pb, &a);
	fill_result(&p, &pb, r, a.shelter, a.distance_m, a.reason);
	set_gap(&r->stats);
	rc = 0;
done:
	for (f = 0; f < 4; f++) {
		sf__plan_index_free(&tree[f]);
		free(sub[f]);
	}
	free(people);
	free(where);
	free(sids);
	free(xyz);
	free(left);
	sf__plan_assignment_free(&a);
	if (rc != 0) {
		if (rc == SF_ENOMEM)
			sf_error_set(err, errsz, rc, "plan: out of memory");
		sf_plan_result_free(r);
		r = NULL;
	}
	prep_free(&p);
	*out = r;
	return rc;
}
