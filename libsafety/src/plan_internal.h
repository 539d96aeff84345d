/*
 * What the planner's files share and nothing else sees: the spatial index of
 * shelters and assembly points, the network simplex, and the assignment
 * problem that households (or whole groups) and shelters make. The design is
 * in plan.md next to this file.
 */
#ifndef SAFETY_PLAN_INTERNAL_H
#define SAFETY_PLAN_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <safety/plan.h>

/* A k-d tree over points on the unit sphere (x, y, z), queried by chord length. */
struct sf__plan_index {
	size_t n;
	uint32_t *id; /* caller's ids in tree order */
	double *xyz;  /* 3 per point, tree order */
	uint8_t *dim; /* split dimension of the node whose median sits at each position */
};

/* Unit vector of a point. */
void sf__plan_xyz(const struct sf_point *p, double out[3]);
/* Squared chord of a great-circle distance in metres (4 for half the globe or more). */
double sf__plan_chord2(double metres);
/* Great-circle metres of a squared chord. */
double sf__plan_arc_m(double chord2);
/* Builds an index of n points (xyz, 3 per point) with the given ids; 0 or SF_ENOMEM. */
int sf__plan_index_build(struct sf__plan_index *ix, const double *xyz, const uint32_t *ids,
                         size_t n);
/* Frees an index's arrays; a zeroed index is a no-op. */
void sf__plan_index_free(struct sf__plan_index *ix);
/*
 * Finds up to k points nearest q with squared chord <= max2, nearest first
 * (ties by id), into ids and d2 (k entries each); returns how many.
 */
size_t sf__plan_index_nearest(const struct sf__plan_index *ix, const double q[3], size_t k,
                              double max2, uint32_t *ids, double *d2);
/*
 * The nearest point (chord, then id) within max2 whose key[id] is at least
 * need, or -1; sub from sf__plan_index_submax prunes subtrees where no key
 * is. For shelters that fill (key: room left): a crowd at one point would
 * otherwise scan the full ones nearest it again for each household. Adds
 * the points looked at to *visits (may be NULL).
 */
int64_t sf__plan_index_nearest_keyed(const struct sf__plan_index *ix, const double q[3],
                                     double max2, const int64_t *key, const int64_t *sub,
                                     int64_t need, uint64_t *visits);
/* Fills sub (n entries) with the greatest key[id] of each subtree. */
void sf__plan_index_submax(const struct sf__plan_index *ix, const int64_t *key, int64_t *sub);
/* After key[id] of the point at xyz changed, updates sub on its path (a no-op if absent). */
void sf__plan_index_resubmax(const struct sf__plan_index *ix, const double xyz[3], uint32_t id,
                             const int64_t *key, int64_t *sub);
/* Fills sub (n entries) with the least key[id] of each subtree, for the keyed query. */
void sf__plan_index_submin(const struct sf__plan_index *ix, const int64_t *key, int64_t *sub);
/*
 * Appends the ids of every point whose great-circle distance from q may be
 * below limit - key[id] (a superset: it tests the chord times the radius, a
 * lower bound), in no set order; sub from sf__plan_index_submin. 0 or SF_ENOMEM.
 */
int sf__plan_index_within_keyed(const struct sf__plan_index *ix, const double q[3],
                                const int64_t *key, const int64_t *sub, int64_t limit,
                                uint32_t **buf, size_t *n, size_t *cap);

/* Infinite capacity of a flow arc. */
#define SF__FLOW_INF INT32_MAX

/*
 * A min-cost flow network solved by the primal network simplex over a
 * strongly feasible spanning tree; see plan.md for the pivot rule.
 */
struct sf__flow {
	int32_t nnodes;
	size_t narcs, arcs_cap;
	int32_t *src, *tgt;
	int64_t *cost;
	int32_t *cap, *flow;
	int8_t *state; /* 1 at lower bound, -1 at upper bound, 0 in the tree */
	/* the spanning tree */
	int32_t root;
	int32_t *parent, *pred, *next, *prev, *depth;
	int32_t *kid;  /* first child that has children itself */
	int32_t *leaf; /* first child without children */
	int32_t *stem; /* scratch of a pivot */
	int8_t *inner; /* has children: potential and depth are stored, else read via parent */
	int8_t *up;    /* pred arc points from the node to its parent */
	int64_t *pot;  /* inner nodes only */
	/*
	 * Every node's potential is pot[base[v]] + off[v]: base is the node
	 * itself (off 0) when inner, else its parent, off the pred arc's cost
	 * with its sign; pricing reads them without a branch or a far arc.
	 */
	int32_t *base;
	int64_t *off;
	size_t block, cursor;
	uint64_t pivots;
	bool started;
};

/* Sets up a network of nnodes nodes and room for arc_hint arcs; 0 or SF_ENOMEM. */
int sf__flow_init(struct sf__flow *f, int32_t nnodes, size_t arc_hint);
/* Adds arc u->v with a per-unit cost, a capacity and an initial flow; its index, or -1 (ENOMEM). */
int64_t sf__flow_add_arc(struct sf__flow *f, int32_t u, int32_t v, int64_t cost, int32_t cap,
                         int32_t flow);
/*
 * Takes the arcs' initial flows as a feasible flow and pred[v] (the arc from
 * each node to its parent, -1 for the root) as a strongly feasible spanning
 * tree; computes potentials and states. 0, or SF_EINVAL if pred is not a tree.
 */
int sf__flow_start(struct sf__flow *f, int32_t root, const int32_t *pred);
/* Pivots until no arc has a negative reduced cost; 0. Arcs added since stay valid. */
int sf__flow_solve(struct sf__flow *f);
/* The potential of node v (the root's is 0): reduced cost c(u,v) + pot(u) - pot(v). */
int64_t sf__flow_potential(const struct sf__flow *f, int32_t v);
/* Frees the network's arrays. */
void sf__flow_free(struct sf__flow *f);

/*
 * The assignment problem: items (households, or groups in GROUP_FIRST) that
 * go whole to shelters. Borrowed arrays, one entry per item.
 */
struct sf__plan_problem {
	size_t nitems;
	const uint32_t *people;
	const uint8_t *fclass;   /* facilities the item needs (SF_PLAN_FACILITY_* bits) */
	const int32_t *previous; /* a previous shelter still fit for it (gets no penalty), or -1 */
	const double *xyz;       /* 3 per item; NULL entries (NaN) for items without a point */
	const struct sf_point *where;
	const bool *located;    /* item has a usable point */
	const uint32_t *matrix; /* nitems x nshelters distances, or NULL for great circle */
	size_t nshelters;
	const struct sf_plan_shelter *shelters;
	const uint32_t *room; /* free places per shelter, 0 when closed */
	const double *sxyz;
	/*
	 * The relaxation's split shelters (plan_room.c), else 0 and NULL:
	 * shelter s is part of input shelter s % nreal (its matrix column),
	 * and takes no item of more than item_max[s] people.
	 */
	size_t nreal;
	const uint32_t *item_max;
	uint32_t large_from;     /* items of this many people or more use the large-item trees */
	uint32_t max_distance_m; /* 0: none */
	uint32_t penalty_m;
	uint32_t k;
	uint32_t search_rounds;
	sf_plan_progress_cb progress;
	void *progress_arg;
};

/* The outcome of the assignment, one entry per item. */
struct sf__plan_assignment {
	int32_t *shelter;
	uint32_t *distance_m;
	uint8_t *reason; /* enum sf_plan_unassigned */
};

/*
 * The relaxation's shelters: each with the room whole items can fill, and
 * where items of a few sizes must leave room that only smaller ones fill,
 * split in two (plan.md, "Whole groups"). Owns what pb points to anew.
 */
struct sf__plan_relaxed {
	struct sf__plan_problem pb;
	struct sf_plan_shelter *shelters;
	double *sxyz;
	uint32_t *room, *item_max;
};
/* Builds the relaxation's shelters of pb; 0 or SF_ENOMEM. */
int sf__plan_relax_rooms(const struct sf__plan_problem *pb, struct sf__plan_relaxed *rx);
/* Frees what sf__plan_relax_rooms allocated. */
void sf__plan_relaxed_free(struct sf__plan_relaxed *rx);

/* Distance in metres from item i to shelter s, or -1 when there is no way or it is too far. */
int64_t sf__plan_distance(const struct sf__plan_problem *pb, size_t i, size_t s);

/* Solves the relaxation exactly, rounds it and improves it; fills a (allocated) and st. */
int sf__plan_assign(const struct sf__plan_problem *pb, struct sf__plan_assignment *a,
                    struct sf_plan_stats *st);
/* Frees an assignment's arrays. */
void sf__plan_assignment_free(struct sf__plan_assignment *a);

/*
 * The candidate arcs of every item after the relaxation, cheapest first, with
 * their flows: what rounding and the local search work on.
 */
struct sf__plan_support {
	size_t *start; /* nitems + 1 */
	int32_t *shelter;
	int64_t *unit; /* per person: distance plus the move penalty */
	uint32_t *dist;
	int32_t *flow;
	int32_t *lp_unassigned; /* people of each item left out by the relaxation */
	int64_t *price;         /* per shelter: its dual price (>= 0) */
	int64_t *value;         /* per item: its dual value */
};

/* Makes the relaxation's flows whole and improves the result by moves and swaps. */
int sf__plan_round(const struct sf__plan_problem *pb, const struct sf__plan_support *sp,
                   struct sf__plan_assignment *a);

/* Sets each unassigned item's reason from the shelters that exist, are open and are in range. */
void sf__plan_reasons(const struct sf__plan_problem *pb, struct sf__plan_assignment *a);

/* A household's needs as facility bits. */
uint8_t sf__plan_fclass(unsigned needs);

/* Vulnerable: medical, wheelchair, child, elderly or pregnant. */
bool sf__plan_vulnerable(unsigned needs);

/*
 * Forms vehicle groups of the households listed in order[0..n) (indices into
 * hh), all bound for one shelter (or -1 in GROUP_FIRST), appending to the
 * result's groups and members. seats: the largest vehicle's.
 */
struct sf__plan_grouping {
	const struct sf_plan_household *hh;
	const double *hxyz;
	uint32_t seats;
	const struct sf__plan_index *assembly; /* open assembly points, or n == 0 */
	const struct sf_plan_assembly_point *points;
	uint32_t assembly_max_m;
	/* output, grown as needed */
	struct sf_plan_group *groups;
	size_t ngroups, groups_cap;
	uint32_t *members;
	size_t nmembers;
	/* scratch */
	uint32_t *scratch;
	size_t scratch_cap;
};
/* Groups the n households of list into vehicle loads bound for shelter; 0 or SF_ENOMEM. */
int sf__plan_group_list(struct sf__plan_grouping *g, const uint32_t *list, size_t n,
                        int32_t shelter);
/* Orders groups for departure and gives them vehicles in waves; 0 or SF_ENOMEM. */
int sf__plan_group_finish(struct sf__plan_grouping *g, const struct sf_plan_vehicle *vehicles,
                          size_t nvehicles);

#endif
