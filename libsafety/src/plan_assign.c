/*
 * Shelter assignment, the relaxation: every item's nearest feasible shelters
 * become arcs of a transportation network, a greedy plan starts the network
 * simplex, and a pricing loop proves the sparse optimum optimal for the full
 * problem by adding any left-out arc that the duals say would pay. The
 * relaxation's cost is the lower bound; plan_round.c makes it whole.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>

#include "plan_internal.h"

/* Arcs priced in per item and round at most; more come in later rounds if they still pay. */
#define PRICE_PER_ITEM 8
/* Great-circle metres beyond which nothing lies (half the Earth's circumference, rounded up). */
#define FAR_M 20040000

/*
 * Great-circle metres between unit vectors: the haversine formula, as the
 * squared chord is 4 x haversine, so no sine or cosine is taken per pair
 * (pricing measures hundreds of millions). Below 0.05 (637 km) asin's series
 * to x^11 is exact to 1e-11 m; it differs from sf_geo_distance_m only where a
 * distance lies within a nanometre of half a metre.
 */
static double
arc_m(const double *a, const double *b)
{
	double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
	double h = sqrt(dx * dx + dy * dy + dz * dz) / 2, h2 = h * h;

	if (h < 0.05)
		return 2 * SF_GEO_EARTH_RADIUS_M * h *
		       (1 + h2 * (1.0 / 6 +
		                  h2 * (3.0 / 40 + h2 * (5.0 / 112 + h2 * (35.0 / 1152 +
		                                                           h2 * (63.0 / 2816))))));
	return 2 * SF_GEO_EARTH_RADIUS_M * asin(h > 1 ? 1 : h);
}

/* Distance in metres from item i to shelter s, or -1; inline for pricing's inner loop. */
static inline int64_t
distance(const struct sf__plan_problem *pb, size_t i, size_t s)
{
	int64_t d;

	if (pb->matrix) {
		/* A split shelter's parts share their input shelter's column. */
		size_t columns = pb->nreal ? pb->nreal : pb->nshelters;
		uint32_t v = pb->matrix[i * columns + s % columns];
		if (v == SF_PLAN_UNREACHABLE)
			return -1;
		d = v;
	} else {
		d = (int64_t)(arc_m(pb->xyz + 3 * i, pb->sxyz + 3 * s) + 0.5);
	}
	if (pb->max_distance_m && d > pb->max_distance_m)
		return -1;
	return d;
}

/* Distance in metres from item i to shelter s, or -1. */
int64_t
sf__plan_distance(const struct sf__plan_problem *pb, size_t i, size_t s)
{
	return distance(pb, i, s);
}

/* Per-person cost of item i at shelter s at distance d: the penalty unless it stays. */
static int64_t
unit_cost(const struct sf__plan_problem *pb, size_t i, size_t s, int64_t d)
{
	if (pb->previous[i] >= 0 && (size_t)pb->previous[i] != (pb->nreal ? s % pb->nreal : s))
		return d + pb->penalty_m;
	return d;
}

/* Whether shelter s can take item i at all (open with room, the right facilities, its size). */
static bool
fits(const struct sf__plan_problem *pb, size_t i, size_t s)
{
	return pb->room[s] > 0 && (pb->shelters[s].facilities & pb->fclass[i]) == pb->fclass[i] &&
	       (!pb->item_max || pb->people[i] <= pb->item_max[s]);
}

/* A candidate arc while lists are built. */
struct cand {
	int64_t unit;
	uint32_t dist;
	int32_t shelter;
};

/* Orders candidates by cost, then shelter index. */
static int
cand_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	if (x->unit != y->unit)
		return x->unit < y->unit ? -1 : 1;
	return (x->shelter > y->shelter) - (x->shelter < y->shelter);
}

/* A violating arc found by pricing. */
struct priced {
	int64_t rc;
	int32_t shelter;
	uint32_t dist;
};

/* Working state of one assignment. */
struct assign {
	const struct sf__plan_problem *pb;
	/* open shelters with room by required facilities, then those large items may use */
	struct sf__plan_index tree[8];
	/* candidate lists, CSR */
	size_t *cstart;
	struct cand *cand;
	int64_t *reach; /* every left-out shelter is at least this far */
	/* the network */
	int32_t *item_node;    /* -1 when the item is not in it */
	int32_t *shelter_node; /* -1 when the shelter has no room */
	int32_t nitems_in, nshelters_in;
	int32_t *node_item, *node_shelter;
	struct sf__flow f;
	size_t *art; /* artificial arc of each item node */
	size_t shelter_arc0;
	/* arcs added by pricing: (item node) -> linked list over added arcs */
	int64_t *extra_head;
	int64_t *extra_next;
	size_t extra_base, nextra;
	int64_t big_m;
	int64_t *spot;   /* per shelter: its node's potential, during a pricing pass */
	int64_t *sprice; /* per shelter: its price, -spot */
	int64_t *sub[8]; /* per tree: the least price of each subtree */
	/* scratch */
	uint32_t *buf;
	size_t nbuf, capbuf;
	uint64_t nearest_visits; /* shelters looked at by nearest_with_room */
	/*
	 * Crowds: items with the same point, tree, size and previous shelter,
	 * whose arcs are alike, so pricing queries and sorts their shelters once
	 * per pass (plan.md, "A crowd at one point").
	 */
	bool crowds_found;
	int32_t *crowd_at;   /* per item node: its place in crowd_node, or -1 when alone */
	int32_t *crowd_node; /* item nodes, crowd by crowd, in node order within one */
	size_t *crowd_start; /* per crowd: its first place in crowd_node; ncrowds + 1 */
	size_t ncrowds;
	struct priced *crowd_pr; /* per place: the arcs this pass adds, PRICE_PER_ITEM each */
	uint8_t *crowd_npr;
	struct priced *clist; /* scratch: one crowd's violating arcs */
	size_t capclist;
	uint64_t pricing_visits; /* shelter arcs pricing examined */
};

/* The tree of shelters item i may use. */
static const struct sf__plan_index *
tree_of(const struct assign *as, size_t i)
{
	const struct sf__plan_problem *pb = as->pb;
	bool large = pb->large_from && pb->people[i] >= pb->large_from;

	return &as->tree[pb->fclass[i] + (large ? 4 : 0)];
}

/* Builds the facility trees over open shelters with room (and those large items fit). */
static int
build_trees(struct assign *as)
{
	const struct sf__plan_problem *pb = as->pb;
	uint32_t *ids = malloc((pb->nshelters + 1) * sizeof *ids);
	double *xyz = malloc((3 * pb->nshelters + 1) * sizeof *xyz);
	int f, rc = 0;

	if (!ids || !xyz) {
		free(ids);
		free(xyz);
		return SF_ENOMEM;
	}
	for (f = 0; f < (pb->large_from ? 8 : 4) && rc == 0; f++) {
		size_t s, n = 0;
		for (s = 0; s < pb->nshelters; s++) {
			if (pb->room[s] == 0 ||
			    (pb->shelters[s].facilities & (unsigned)f % 4) != (unsigned)f % 4 ||
			    (f >= 4 && pb->item_max[s] < pb->large_from))
				continue;
			ids[n] = (uint32_t)s;
			memcpy(xyz + 3 * n, pb->sxyz + 3 * s, 3 * sizeof *xyz);
			n++;
		}
		rc = sf__plan_index_build(&as->tree[f], xyz, ids, n);
	}
	free(ids);
	free(xyz);
	return rc;
}

/* Finds the k nearest fitting shelters of every item and how far the rest are at least. */
static int
build_candidates(struct assign *as)
{
	const struct sf__plan_problem *pb = as->pb;
	size_t n = pb->nitems, k = pb->k, i, total = 0, S = pb->nshelters;
	uint32_t *ids = malloc((k + 1) * sizeof *ids);
	double *d2 = malloc((k + 1) * sizeof *d2);
	struct cand *row = malloc((S + 1) * sizeof *row);
	double max2 = pb->max_distance_m ? sf__plan_chord2(pb->max_distance_m + 1.0) : 5.0;

	as->cstart = malloc((n + 1) * sizeof *as->cstart);
	/* k nearest, and the previous shelter's two parts */
	as->cand = malloc((n * (k + 2) + 1) * sizeof *as->cand);
	as->reach = malloc((n + 1) * sizeof *as->reach);
	if (!ids || !d2 || !row || !as->cstart || !as->cand || !as->reach) {
		free(ids);
		free(d2);
		free(row);
		return SF_ENOMEM;
	}
	for (i = 0; i < n; i++) {
		size_t m = 0, j, got;
		bool has_prev = false;
		int32_t prev = pb->previous[i];

		as->cstart[i] = total;
		as->reach[i] = INT64_MAX;
		if (!pb->located[i])
			continue;
		if (pb->matrix) {
			size_t s, keep;
			for (s = 0; s < S; s++) {
				int64_t d;
				if (!fits(pb, i, s) || (d = sf__plan_distance(pb, i, s)) < 0)
					continue;
				row[m].unit = d; /* sorted by distance here, by cost below */
				row[m].dist = (uint32_t)d;
				row[m].shelter = (int32_t)s;
				m++;
			}
			if (m > 1)
				qsort(row, m, sizeof *row, cand_cmp);
			keep = m < k ? m : k;
			if (m > k)
				as->reach[i] = row[k].dist;
			for (j = 0; j < keep; j++) {
				struct cand *c = &as->cand[total++];
				*c = row[j];
				c->unit = unit_cost(pb, i, (size_t)c->shelter, c->dist);
			}
		} else {
			const struct sf__plan_index *t = tree_of(as, i);
			got = sf__plan_index_nearest(t, pb->xyz + 3 * i, k, max2, ids, d2);
			if (got == k && got > 0)
				as->reach[i] = 0;
			for (j = 0; j < got; j++) {
				int64_t d = sf__plan_distance(pb, i, ids[j]);
				struct cand *c;
				if (got == k && j == got - 1) {
					/*
					 * Left-out shelters are no nearer along the chord
					 * than the k-th; a metre covers rounding.
					 */
					double m_k = sf__plan_arc_m(d2[j]);
					as->reach[i] = (int64_t)floor(m_k) - 1;
					if (as->reach[i] < 0)
						as->reach[i] = 0;
				}
				if (d < 0)
					continue;
				c = &as->cand[total++];
				c->dist = (uint32_t)d;
				c->shelter = (int32_t)ids[j];
				c->unit = unit_cost(pb, i, ids[j], d);
			}
		}
		/* The previous shelter is always an option, however far the others are. */
		for (j = 0; prev >= 0 && j < (pb->nreal ? 2 : 1); j++) {
			int32_t part = prev + (int32_t)(j * pb->nreal);
			int64_t d = sf__plan_distance(pb, i, (size_t)part);
			size_t c0;
			has_prev = false;
			for (c0 = as->cstart[i]; c0 < total; c0++)
				has_prev |= as->cand[c0].shelter == part;
			if (!has_prev && d >= 0 && fits(pb, i, (size_t)part)) {
				struct cand *c = &as->cand[total++];
				c->dist = (uint32_t)d;
				c->shelter = part;
				c->unit = d;
			}
		}
		if (total - as->cstart[i] > 1)
			qsort(as->cand + as->cstart[i], total - as->cstart[i], sizeof *as->cand,
			      cand_cmp);
	}
	as->cstart[n] = total;
	free(ids);
	free(d2);
	free(row);
	return 0;
}

/*
 * What nearest_with_room searches: per shelter, the largest item it can
 * still take (room left, and the largest its part takes), and per tree the
 * greatest of that over each subtree, so the search skips full shelters
 * instead of enumerating them (plan.md, "A crowd at one point").
 */
struct room_left {
	int64_t *key;
	int64_t *sub[8];
	uint64_t visits; /* shelters looked at */
};

/* The largest item shelter s can take now. */
static int64_t
room_key(const struct sf__plan_problem *pb, const int64_t *load, size_t s)
{
	int64_t left = (int64_t)pb->room[s] - load[s];

	return pb->item_max && pb->item_max[s] < left ? pb->item_max[s] : left;
}

/* Sets up rl from the loads so far; 0 or SF_ENOMEM. */
static int
room_left_init(const struct assign *as, const int64_t *load, struct room_left *rl)
{
	const struct sf__plan_problem *pb = as->pb;
	size_t s;
	int f;

	memset(rl, 0, sizeof *rl);
	if (pb->matrix)
		return 0;
	if (!(rl->key = malloc((pb->nshelters + 1) * sizeof *rl->key)))
		return SF_ENOMEM;
	for (s = 0; s < pb->nshelters; s++)
		rl->key[s] = room_key(pb, load, s);
	for (f = 0; f < 8; f++) {
		if (as->tree[f].n == 0)
			continue;
		if (!(rl->sub[f] = malloc(as->tree[f].n * sizeof *rl->sub[f])))
			return SF_ENOMEM;
		sf__plan_index_submax(&as->tree[f], rl->key, rl->sub[f]);
	}
	return 0;
}

/* After shelter s took an item. */
static void
room_left_update(const struct assign *as, const int64_t *load, struct room_left *rl, size_t s)
{
	int f;

	if (!rl->key)
		return;
	rl->key[s] = room_key(as->pb, load, s);
	for (f = 0; f < 8; f++)
		if (rl->sub[f])
			sf__plan_index_resubmax(&as->tree[f], as->pb->sxyz + 3 * s, (uint32_t)s,
			                        rl->key, rl->sub[f]);
}

/* Frees rl's arrays. */
static void
room_left_free(struct room_left *rl)
{
	int f;

	free(rl->key);
	for (f = 0; f < 8; f++)
		free(rl->sub[f]);
}

/* The nearest shelter (cheapest, with a matrix) that fits item i and still has room for it, or -1.
 */
static int32_t
nearest_with_room(const struct assign *as, size_t i, const int64_t *load, struct room_left *rl)
{
	const struct sf__plan_problem *pb = as->pb;
	double max2 = pb->max_distance_m ? sf__plan_chord2(pb->max_distance_m + 1.0) : 5.0;
	size_t s;
	int64_t best = INT64_MAX, got;
	int32_t bs = -1;

	if (pb->matrix) {
		rl->visits += pb->nshelters;
		for (s = 0; s < pb->nshelters; s++) {
			int64_t d;
			if (!fits(pb, i, s) || load[s] + pb->people[i] > pb->room[s] ||
			    (d = distance(pb, i, s)) < 0 || unit_cost(pb, i, s, d) >= best)
				continue;
			best = unit_cost(pb, i, s, d);
			bs = (int32_t)s;
		}
		return bs;
	}
	/*
	 * The tree holds the shelters with the item's facilities; the key says
	 * which still take its size. Distance grows with the chord, so if the
	 * nearest such one is beyond the maximum distance, so are the others.
	 */
	got = sf__plan_index_nearest_keyed(tree_of(as, i), pb->xyz + 3 * i, max2, rl->key,
	                                   rl->sub[tree_of(as, i) - as->tree], pb->people[i],
	                                   &rl->visits);
	if (got < 0 || distance(pb, i, (size_t)got) < 0)
		return -1;
	return (int32_t)got;
}

/*
 * Items the greedy start leaves out (their k nearest are full) get an arc to
 * the nearest shelter with room left, which takes them. Else the sparse
 * problem cannot place everyone, its optimum leaves people out at the cost
 * M, and the duals of everything tied to them are of the order of M: the
 * first pricing pass then finds nearly every shelter violating for tens of
 * thousands of items. chosen[] indexes the rebuilt candidate lists.
 */
static int
extend_start(struct assign *as, int64_t *load, int32_t *chosen)
{
	const struct sf__plan_problem *pb = as->pb;
	size_t n = pb->nitems, i, j, total = 0, count = 0;
	int32_t *ext = malloc((n + 1) * sizeof *ext);
	struct room_left rl;
	size_t *start = NULL;
	struct cand *cand = NULL;
	int rc = SF_ENOMEM;

	if (room_left_init(as, load, &rl) != 0 || !ext)
		goto out;
	for (i = 0; i < n; i++) {
		ext[i] = -1;
		if (as->item_node[i] < 0 || chosen[i] >= 0)
			continue;
		ext[i] = nearest_with_room(as, i, load, &rl);
		if (ext[i] >= 0) {
			load[ext[i]] += pb->people[i];
			room_left_update(as, load, &rl, (size_t)ext[i]);
			count++;
		}
	}
	as->nearest_visits = rl.visits;
	rc = 0;
	if (count == 0)
		goto out;
	rc = SF_ENOMEM;
	start = malloc((n + 1) * sizeof *start);
	cand = malloc((as->cstart[n] + count + 1) * sizeof *cand);
	if (!start || !cand)
		goto out;
	for (i = 0; i < n; i++) {
		size_t b = as->cstart[i], e = as->cstart[i + 1];
		start[i] = total;
		memcpy(cand + total, as->cand + b, (e - b) * sizeof *cand);
		if (chosen[i] >= 0)
			chosen[i] = (int32_t)(total + (size_t)chosen[i] - b);
		total += e - b;
		if (ext[i] < 0)
			continue;
		cand[total].dist = (uint32_t)distance(pb, i, (size_t)ext[i]);
		cand[total].shelter = ext[i];
		cand[total].unit = unit_cost(pb, i, (size_t)ext[i], cand[total].dist);
		total++;
		qsort(cand + start[i], total - start[i], sizeof *cand, cand_cmp);
		for (j = start[i]; j < total; j++)
			if (cand[j].shelter == ext[i])
				chosen[i] = (int32_t)j;
	}
	start[n] = total;
	free(as->cstart);
	free(as->cand);
	as->cstart = start;
	as->cand = cand;
	start = NULL;
	cand = NULL;
	rc = 0;
out:
	free(ext);
	room_left_free(&rl);
	free(start);
	free(cand);
	return rc;
}

/* Builds the network with a greedy plan as its starting flow and tree. */
static int
build_network(struct assign *as)
{
	const struct sf__plan_problem *pb = as->pb;
	size_t n = pb->nitems, S = pb->nshelters, i, s;
	int32_t nn = 0, root;
	int64_t *load = NULL;
	int32_t *anchor = NULL, *pred = NULL, *chosen = NULL, *chosen_arc = NULL;
	int64_t maxunit = 0;
	uint64_t people = 0;
	int rc = SF_ENOMEM;

	as->item_node = malloc((n + 1) * sizeof *as->item_node);
	as->shelter_node = malloc((S + 1) * sizeof *as->shelter_node);
	as->node_item = malloc((n + 1) * sizeof *as->node_item);
	as->node_shelter = malloc((S + 1) * sizeof *as->node_shelter);
	load = calloc(S + 1, sizeof *load);
	anchor = malloc((S + 1) * sizeof *anchor);
	chosen = malloc((n + 1) * sizeof *chosen);
	chosen_arc = malloc((n + 1) * sizeof *chosen_arc);
	if (!chosen_arc || !as->item_node || !as->shelter_node || !as->node_item ||
	    !as->node_shelter || !load || !anchor || !chosen)
		goto out;

	for (i = 0; i < n; i++) {
		as->item_node[i] = -1;
		if (as->cstart[i + 1] > as->cstart[i]) {
			as->node_item[nn] = (int32_t)i;
			as->item_node[i] = nn++;
			people += pb->people[i];
		}
	}
	as->nitems_in = nn;
	for (s = 0; s < S; s++) {
		as->shelter_node[s] = -1;
		if (pb->room[s] > 0) {
			as->node_shelter[nn - as->nitems_in] = (int32_t)s;
			as->shelter_node[s] = nn++;
		}
		anchor[s] = -1;
	}
	as->nshelters_in = nn - as->nitems_in;
	root = nn++;

	/*
	 * Leaving someone out must cost more than any chain of moves that would
	 * make room for them, so the relaxation places as many people as it can
	 * before it looks at distance: a path uses each shelter once.
	 */
	maxunit = (pb->max_distance_m ? pb->max_distance_m : FAR_M) + (int64_t)pb->penalty_m;
	if (pb->matrix) {
		size_t c;
		maxunit = 0;
		for (c = 0; c < n * (pb->nreal ? pb->nreal : S); c++)
			if (pb->matrix[c] != SF_PLAN_UNREACHABLE && pb->matrix[c] > maxunit)
				maxunit = pb->matrix[c];
		maxunit += pb->penalty_m;
	}
	as->big_m = ((int64_t)as->nshelters_in + 1) * (maxunit + 1);
	if (as->big_m > INT64_MAX / 4 / ((int64_t)people + 1))
		as->big_m = INT64_MAX / 4 / ((int64_t)people + 1);

	/* The greedy start: each item, in input order, to its cheapest shelter with room. */
	for (i = 0; i < n; i++) {
		size_t j;
		chosen[i] = -1;
		if (as->item_node[i] < 0)
			continue;
		for (j = as->cstart[i]; j < as->cstart[i + 1]; j++) {
			s = (size_t)as->cand[j].shelter;
			if (load[s] + pb->people[i] <= pb->room[s]) {
				load[s] += pb->people[i];
				chosen[i] = (int32_t)j;
				if (anchor[s] < 0)
					anchor[s] = (int32_t)i;
				break;
			}
		}
	}

	if (extend_start(as, load, chosen) != 0)
		goto out;
	for (s = 0; s < S; s++)
		anchor[s] = -1;
	for (i = 0; i < n; i++)
		if (chosen[i] >= 0 && anchor[as->cand[chosen[i]].shelter] < 0)
			anchor[as->cand[chosen[i]].shelter] = (int32_t)i;

	if (sf__flow_init(&as->f, nn, as->cstart[n] + (size_t)as->nitems_in + S + 16) != 0)
		goto out;
	pred = malloc((size_t)nn * sizeof *pred);
	as->art = malloc(((size_t)as->nitems_in + 1) * sizeof *as->art);
	if (!pred || !as->art)
		goto out;
	for (i = 0; i < n; i++) {
		int32_t u = as->item_node[i];
		size_t j;
		int64_t a;

		if (u < 0)
			continue;
		pred[u] = -1;
		for (j = as->cstart[i]; j < as->cstart[i + 1]; j++) {
			int32_t sh = as->cand[j].shelter;
			a = sf__flow_add_arc(&as->f, u, as->shelter_node[sh], as->cand[j].unit,
			                     SF__FLOW_INF,
			                     chosen[i] == (int32_t)j ? (int32_t)pb->people[i] : 0);
			if (a < 0)
				goto out;
			if (chosen[i] == (int32_t)j) {
				chosen_arc[i] = (int32_t)a;
				if (anchor[sh] != (int32_t)i || load[sh] < pb->room[sh])
					pred[u] = (int32_t)a;
			}
		}
		/* Dropping someone from the published plan is a move as well. */
		a = sf__flow_add_arc(&as->f, u, root,
		                     as->big_m + (pb->previous[i] >= 0 ? pb->penalty_m : 0),
		                     SF__FLOW_INF, chosen[i] < 0 ? (int32_t)pb->people[i] : 0);
		if (a < 0)
			goto out;
		as->art[u] = (size_t)a;
		if (pred[u] < 0)
			pred[u] = (int32_t)a; /* left out, or the anchor of a full shelter */
	}
	as->shelter_arc0 = as->f.narcs;
	for (s = 0; s < S; s++) {
		int32_t v = as->shelter_node[s];
		int64_t a;
		if (v < 0)
			continue;
		a = sf__flow_add_arc(&as->f, v, root, 0, (int32_t)pb->room[s], (int32_t)load[s]);
		if (a < 0)
			goto out;
		if (load[s] < pb->room[s]) {
			pred[v] = (int32_t)a;
		} else {
			/*
			 * A full shelter hangs below its first item, whose own flow
			 * keeps the tree strongly feasible (positive on a downward arc).
			 */
			pred[v] = chosen_arc[anchor[s]];
		}
	}
	pred[root] = -1;
	rc = sf__flow_start(&as->f, root, pred) == 0 ? 0 : SF_EINTERNAL;
out:
	free(load);
	free(anchor);
	free(pred);
	free(chosen);
	free(chosen_arc);
	return rc;
}

/* Whether item node u already has an arc to shelter s. */
static bool
has_arc(const struct assign *as, size_t i, int32_t u, int32_t s)
{
	size_t j;
	int64_t e;

	for (j = as->cstart[i]; j < as->cstart[i + 1]; j++)
		if (as->cand[j].shelter == s)
			return true;
	for (e = as->extra_head[u]; e >= 0; e = as->extra_next[e])
		if (as->node_shelter[as->f.tgt[as->extra_base + (size_t)e] - as->nitems_in] == s)
			return true;
	return false;
}

/* Orders priced arcs, most negative first. */
static int
priced_cmp(const void *a, const void *b)
{
	const struct priced *x = a, *y = b;

	if (x->rc != y->rc)
		return x->rc < y->rc ? -1 : 1;
	return (x->shelter > y->shelter) - (x->shelter < y->shelter);
}

/* Insertion into the kept few most violating: the same ones a full sort would put first. */
static void
keep_priced(struct priced *pr, size_t *npr, struct priced cand)
{
	size_t at;

	if (*npr == PRICE_PER_ITEM && priced_cmp(&cand, &pr[*npr - 1]) >= 0)
		return;
	if (*npr < PRICE_PER_ITEM)
		(*npr)++;
	for (at = *npr - 1; at > 0 && priced_cmp(&cand, &pr[at - 1]) < 0; at--)
		pr[at] = pr[at - 1];
	pr[at] = cand;
}

/* What makes two item nodes' arcs alike, and the node. */
struct crowd_key {
	double x, y, z;
	uint32_t people;
	int32_t tree, previous, node;
};

/* Orders crowd keys: alike ones together, by node within. */
static int
crowd_cmp(const void *a, const void *b)
{
	const struct crowd_key *x = a, *y = b;

	if (x->x != y->x)
		return x->x < y->x ? -1 : 1;
	if (x->y != y->y)
		return x->y < y->y ? -1 : 1;
	if (x->z != y->z)
		return x->z < y->z ? -1 : 1;
	if (x->people != y->people)
		return x->people < y->people ? -1 : 1;
	if (x->tree != y->tree)
		return x->tree < y->tree ? -1 : 1;
	if (x->previous != y->previous)
		return x->previous < y->previous ? -1 : 1;
	return (x->node > y->node) - (x->node < y->node);
}

/* Whether two keys are of one crowd. */
static bool
alike(const struct crowd_key *x, const struct crowd_key *y)
{
	return x->x == y->x && x->y == y->y && x->z == y->z && x->people == y->people &&
	       x->tree == y->tree && x->previous == y->previous;
}

/*
 * Finds the crowds: two or more item nodes at the same point (great-circle
 * distances only; a matrix's rows may differ) that use the same tree, have
 * the same size and the same previous shelter, so the same arcs at the same
 * costs. 0 or SF_ENOMEM.
 */
static int
find_crowds(struct assign *as)
{
	const struct sf__plan_problem *pb = as->pb;
	size_t n = (size_t)as->nitems_in, a, b, places = 0;
	struct crowd_key *key;

	as->crowds_found = true;
	if (pb->matrix || n < 2)
		return 0;
	if (!(key = malloc(n * sizeof *key)))
		return SF_ENOMEM;
	for (a = 0; a < n; a++) {
		size_t i = (size_t)as->node_item[a];
		key[a].x = pb->xyz[3 * i];
		key[a].y = pb->xyz[3 * i + 1];
		key[a].z = pb->xyz[3 * i + 2];
		key[a].people = pb->people[i];
		key[a].tree = (int32_t)(tree_of(as, i) - as->tree);
		key[a].previous = pb->previous[i];
		key[a].node = (int32_t)a;
	}
	qsort(key, n, sizeof *key, crowd_cmp);
	for (a = 0; a < n; a = b) {
		for (b = a + 1; b < n && alike(&key[a], &key[b]); b++)
			;
		if (b - a > 1) {
			as->ncrowds++;
			places += b - a;
		}
	}
	if (as->ncrowds == 0) {
		free(key);
		return 0;
	}
	as->crowd_at = malloc(n * sizeof *as->crowd_at);
	as->crowd_node = malloc(places * sizeof *as->crowd_node);
	as->crowd_start = malloc((as->ncrowds + 1) * sizeof *as->crowd_start);
	as->crowd_pr = malloc(places * PRICE_PER_ITEM * sizeof *as->crowd_pr);
	as->crowd_npr = malloc(places);
	if (!as->crowd_at || !as->crowd_node || !as->crowd_start || !as->crowd_pr ||
	    !as->crowd_npr) {
		free(key);
		return SF_ENOMEM;
	}
	for (a = 0; a < n; a++)
		as->crowd_at[a] = -1;
	as->ncrowds = 0;
	places = 0;
	for (a = 0; a < n; a = b) {
		for (b = a + 1; b < n && alike(&key[a], &key[b]); b++)
			;
		if (b - a < 2)
			continue;
		as->crowd_start[as->ncrowds++] = places;
		for (; a < b; a++) {
			as->crowd_at[key[a].node] = (int32_t)places;
			as->crowd_node[places++] = key[a].node;
		}
	}
	as->crowd_start[as->ncrowds] = places;
	free(key);
	return 0;
}

/*
 * Prices every crowd's members: one query with the largest dual among them
 * (a superset of each member's), the violating shelters sorted once by
 * cost + price, then each member takes the first PRICE_PER_ITEM below its
 * dual that it has no arc to: the arcs the query of each would add. 0 or
 * SF_ENOMEM.
 */
static int
price_crowds(struct assign *as, int64_t pmin)
{
	const struct sf__plan_problem *pb = as->pb;
	size_t c, m, j;

	for (c = 0; c < as->ncrowds; c++) {
		size_t b = as->crowd_start[c], e = as->crowd_start[c + 1], nl = 0, i = 0;
		int64_t vmax = INT64_MIN;
		const struct sf__plan_index *t;

		for (m = b; m < e; m++) {
			int32_t u = as->crowd_node[m];
			int64_t value = -sf__flow_potential(&as->f, u);
			i = (size_t)as->node_item[u];
			as->crowd_npr[m] = 0;
			if (value - pmin > as->reach[i] && value > vmax)
				vmax = value;
		}
		if (vmax == INT64_MIN)
			continue;
		t = tree_of(as, i);
		as->nbuf = 0;
		if (sf__plan_index_within_keyed(t, pb->xyz + 3 * i, as->sprice,
		                                as->sub[t - as->tree], vmax + 1, &as->buf,
		                                &as->nbuf, &as->capbuf) != 0)
			return SF_ENOMEM;
		as->pricing_visits += as->nbuf;
		if (as->nbuf > as->capclist) {
			struct priced *nl2 = realloc(as->clist, as->nbuf * sizeof *nl2);
			if (!nl2)
				return SF_ENOMEM;
			as->clist = nl2;
			as->capclist = as->nbuf;
		}
		for (j = 0; j < as->nbuf; j++) {
			size_t s = as->buf[j];
			int64_t d, base;
			if (!fits(pb, i, s) || (d = distance(pb, i, s)) < 0)
				continue;
			/* The reduced cost plus the member's dual. */
			base = unit_cost(pb, i, s, d) - as->spot[s];
			if (base < vmax)
				as->clist[nl++] = (struct priced){base, (int32_t)s, (uint32_t)d};
		}
		if (nl > 1)
			qsort(as->clist, nl, sizeof *as->clist, priced_cmp);
		for (m = b; m < e; m++) {
			int32_t u = as->crowd_node[m];
			size_t im = (size_t)as->node_item[u];
			int64_t value = -sf__flow_potential(&as->f, u);
			struct priced *pr = as->crowd_pr + m * PRICE_PER_ITEM;
			size_t npr = 0;
			if (value - pmin <= as->reach[im])
				continue;
			for (j = 0; j < nl && npr < PRICE_PER_ITEM && as->clist[j].rc < value;
			     j++) {
				as->pricing_visits++;
				if (has_arc(as, im, u, as->clist[j].shelter))
					continue;
				pr[npr] = as->clist[j];
				pr[npr++].rc -= value;
			}
			as->crowd_npr[m] = (uint8_t)npr;
		}
	}
	return 0;
}

/* One pricing pass over every left-out arc; adds the violating ones, returns how many (< 0: error).
 */
static int64_t
price(struct assign *as)
{
	const struct sf__plan_problem *pb = as->pb;
	struct sf__flow *f = &as->f;
	int64_t pmin = INT64_MAX, added = 0;
	int32_t u, v;
	/* The most violating arcs of one household, kept in order as they are found. */
	struct priced pr[PRICE_PER_ITEM];
	size_t npr = 0;

	for (v = 0; v < as->nshelters_in; v++) {
		int64_t p = -sf__flow_potential(f, as->nitems_in + v);
		as->spot[as->node_shelter[v]] = -p;
		as->sprice[as->node_shelter[v]] = p;
		if (p < pmin)
			pmin = p;
	}
	if (pmin == INT64_MAX)
		return 0;
	for (v = 0; v < 8 && !pb->matrix; v++) {
		if (as->tree[v].n == 0)
			continue;
		if (!as->sub[v] && !(as->sub[v] = malloc(as->tree[v].n * sizeof *as->sub[v])))
			return SF_ENOMEM;
		sf__plan_index_submin(&as->tree[v], as->sprice, as->sub[v]);
	}
	if (!as->crowds_found && find_crowds(as) != 0)
		return SF_ENOMEM;
	if (as->ncrowds && price_crowds(as, pmin) != 0)
		return SF_ENOMEM;
	for (u = 0; u < as->nitems_in; u++) {
		size_t i = (size_t)as->node_item[u], j;
		int64_t value = -sf__flow_potential(f, u), radius = value - pmin;

		if (radius <= as->reach[i])
			continue;
		if (pb->max_distance_m && radius > pb->max_distance_m)
			radius = pb->max_distance_m;
		as->nbuf = 0;
		npr = 0;
		if (as->crowd_at && as->crowd_at[u] >= 0) {
			size_t at = (size_t)as->crowd_at[u];
			npr = as->crowd_npr[at];
			memcpy(pr, as->crowd_pr + at * PRICE_PER_ITEM, npr * sizeof *pr);
		} else if (pb->matrix) {
			size_t s;
			size_t columns = pb->nreal ? pb->nreal : pb->nshelters;
			for (s = 0; s < pb->nshelters; s++) {
				uint32_t d = pb->matrix[i * columns + s % columns];
				if (d != SF_PLAN_UNREACHABLE && d <= radius) {
					if (as->nbuf == as->capbuf) {
						size_t nc = as->capbuf ? 2 * as->capbuf : 64;
						uint32_t *nb = realloc(as->buf, nc * sizeof *nb);
						if (!nb)
							return SF_ENOMEM;
						as->buf = nb;
						as->capbuf = nc;
					}
					as->buf[as->nbuf++] = (uint32_t)s;
				}
			}
		} else {
			/*
			 * Only shelters nearer than value - their price can violate:
			 * subtrees whose cheapest shelter is too far are skipped.
			 */
			const struct sf__plan_index *t = tree_of(as, i);
			if (sf__plan_index_within_keyed(t, pb->xyz + 3 * i, as->sprice,
			                                as->sub[t - as->tree], value + 1, &as->buf,
			                                &as->nbuf, &as->capbuf) != 0)
				return SF_ENOMEM;
		}
		as->pricing_visits += as->nbuf;
		for (j = 0; j < as->nbuf; j++) {
			int32_t s = (int32_t)as->buf[j];
			int64_t d, unit, rc;
			if (!fits(pb, i, (size_t)s) || (d = distance(pb, i, (size_t)s)) < 0)
				continue;
			unit = unit_cost(pb, i, (size_t)s, d);
			rc = unit - as->spot[s] - value;
			if (rc >= 0 || has_arc(as, i, u, s))
				continue;
			keep_priced(pr, &npr, (struct priced){rc, s, (uint32_t)d});
		}
		for (j = 0; j < npr; j++) {
			int32_t s = pr[j].shelter;
			int64_t a = sf__flow_add_arc(f, u, as->shelter_node[s],
			                             unit_cost(pb, i, (size_t)s, pr[j].dist),
			                             SF__FLOW_INF, 0);
			size_t e;
			if (a < 0)
				return SF_ENOMEM;
			e = (size_t)a - as->extra_base;
			if (e >= as->nextra) {
				int64_t *nx = realloc(as->extra_next, (e + 1) * 2 * sizeof *nx);
				if (!nx)
					return SF_ENOMEM;
				as->extra_next = nx;
				as->nextra = (e + 1) * 2;
			}
			as->extra_next[e] = as->extra_head[u];
			as->extra_head[u] = (int64_t)e;
			added++;
		}
	}
	return added;
}

/* Orders an item's support arcs by cost, then shelter. */
static int
support_cmp(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;

	return cand_cmp(x, y);
}

/* Gathers each item's arcs and flows for rounding, and the relaxation's figures. */
static int
make_support(struct assign *as, struct sf__plan_support *sp, struct sf_plan_stats *st)
{
	const struct sf__plan_problem *pb = as->pb;
	const struct sf__flow *f = &as->f;
	size_t n = pb->nitems, a, i, total = 0;
	size_t *cnt = calloc(n + 1, sizeof *cnt);
	struct cand *tmp = NULL;
	uint64_t bound = 0, lpout = 0;

	memset(sp, 0, sizeof *sp);
	if (!cnt)
		return SF_ENOMEM;
	for (a = 0; a < f->narcs; a++)
		if (f->src[a] < as->nitems_in && f->tgt[a] < as->nitems_in + as->nshelters_in)
			cnt[as->node_item[f->src[a]]]++;
	sp->start = malloc((n + 1) * sizeof *sp->start);
	for (i = 0; i < n; i++) {
		sp->start[i] = total;
		total += cnt[i];
		cnt[i] = sp->start[i];
	}
	sp->start[n] = total;
	sp->shelter = malloc((total + 1) * sizeof *sp->shelter);
	sp->unit = malloc((total + 1) * sizeof *sp->unit);
	sp->dist = malloc((total + 1) * sizeof *sp->dist);
	sp->flow = malloc((total + 1) * sizeof *sp->flow);
	sp->lp_unassigned = calloc(n + 1, sizeof *sp->lp_unassigned);
	sp->price = calloc(pb->nshelters + 1, sizeof *sp->price);
	sp->value = calloc(n + 1, sizeof *sp->value);
	tmp = malloc((total + 1) * sizeof *tmp);
	if (!sp->start || !sp->shelter || !sp->unit || !sp->dist || !sp->flow ||
	    !sp->lp_unassigned || !sp->price || !sp->value || !tmp) {
		free(cnt);
		free(tmp);
		return SF_ENOMEM;
	}
	for (a = 0; a < f->narcs; a++) {
		int32_t u = f->src[a], v = f->tgt[a];
		if (u >= as->nitems_in)
			continue;
		i = (size_t)as->node_item[u];
		if (v >= as->nitems_in + as->nshelters_in) {
			sp->lp_unassigned[i] += f->flow[a];
			lpout += (uint64_t)f->flow[a];
			/* Left out of the published plan: its penalty is part of the bound. */
			bound += (uint64_t)f->flow[a] * (uint64_t)(f->cost[a] - as->big_m);
			continue;
		}
		{
			size_t s = (size_t)as->node_shelter[v - as->nitems_in];
			struct cand *c = &tmp[cnt[i]];
			if (pb->nreal)
				s %= pb->nreal; /* rounding sees input shelters */
			/* flow rides in dist's place until sorted */
			c->unit = f->cost[a];
			c->shelter = (int32_t)s;
			c->dist = (uint32_t)f->flow[a];
			cnt[i]++;
			bound += (uint64_t)f->flow[a] * (uint64_t)f->cost[a];
		}
	}
	for (i = 0, total = 0; i < n; i++) {
		size_t j, b = sp->start[i], e = sp->start[i + 1];
		qsort(tmp + b, e - b, sizeof *tmp, support_cmp);
		sp->start[i] = total;
		for (j = b; j < e; j++) {
			int64_t d = sf__plan_distance(pb, i, (size_t)tmp[j].shelter);
			if (total > sp->start[i] && sp->shelter[total - 1] == tmp[j].shelter) {
				/* Two parts of one split shelter (same cost): one arc. */
				sp->flow[total - 1] += (int32_t)tmp[j].dist;
				continue;
			}
			sp->shelter[total] = tmp[j].shelter;
			sp->unit[total] = tmp[j].unit;
			sp->flow[total] = (int32_t)tmp[j].dist;
			sp->dist[total] = (uint32_t)(d < 0 ? 0 : d);
			total++;
		}
		if (as->item_node[i] < 0) {
			sp->lp_unassigned[i] = (int32_t)pb->people[i];
			lpout += pb->people[i];
		} else {
			sp->value[i] = -sf__flow_potential(f, as->item_node[i]);
		}
	}
	sp->start[n] = total;
	for (i = 0; i < (pb->nreal ? pb->nreal : pb->nshelters); i++)
		if (as->shelter_node[i] >= 0)
			sp->price[i] = -sf__flow_potential(f, as->shelter_node[i]);
	st->lower_bound = bound;
	st->lp_unassigned = lpout;
	free(cnt);
	free(tmp);
	return 0;
}

/* Frees a support's arrays. */
static void
support_free(struct sf__plan_support *sp)
{
	free(sp->start);
	free(sp->shelter);
	free(sp->unit);
	free(sp->dist);
	free(sp->flow);
	free(sp->lp_unassigned);
	free(sp->price);
	free(sp->value);
}

/* Frees an assignment's arrays. */
void
sf__plan_assignment_free(struct sf__plan_assignment *a)
{
	free(a->shelter);
	free(a->distance_m);
	free(a->reason);
	memset(a, 0, sizeof *a);
}

/* Solves, rounds and improves. */
int
sf__plan_assign(const struct sf__plan_problem *pb, struct sf__plan_assignment *a,
                struct sf_plan_stats *st)
{
	struct assign as;
	struct sf__plan_support sp;
	struct sf__plan_relaxed relaxed;
	size_t n = pb->nitems, i;
	int rc;
	int f;

	memset(&as, 0, sizeof as);
	memset(&sp, 0, sizeof sp);
	memset(&relaxed, 0, sizeof relaxed);
	a->shelter = malloc((n + 1) * sizeof *a->shelter);
	a->distance_m = calloc(n + 1, sizeof *a->distance_m);
	a->reason = calloc(n + 1, 1);
	if (!a->shelter || !a->distance_m || !a->reason) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (pb->progress)
		pb->progress(pb->progress_arg, SF_PLAN_STAGE_CANDIDATES);
	/* The relaxation sees only the room whole items can fill; rounding, the real room. */
	if ((rc = sf__plan_relax_rooms(pb, &relaxed)) != 0)
		goto out;
	as.pb = &relaxed.pb;
	if ((!pb->matrix && (rc = build_trees(&as)) != 0) || (rc = build_candidates(&as)) != 0)
		goto out;
	if (pb->progress)
		pb->progress(pb->progress_arg, SF_PLAN_STAGE_FLOW);
	if ((rc = build_network(&as)) != 0)
		goto out;
	as.extra_base = as.f.narcs;
	as.extra_head = malloc(((size_t)as.nitems_in + 1) * sizeof *as.extra_head);
	as.spot = calloc(relaxed.pb.nshelters + 1, sizeof *as.spot);
	as.sprice = calloc(relaxed.pb.nshelters + 1, sizeof *as.sprice);
	if (!as.extra_head || !as.spot || !as.sprice) {
		rc = SF_ENOMEM;
		goto out;
	}
	for (i = 0; i < (size_t)as.nitems_in; i++)
		as.extra_head[i] = -1;
	for (;;) {
		int64_t added;
		sf__flow_solve(&as.f);
		st->pricing_rounds++;
		added = price(&as);
		if (added < 0) {
			rc = (int)added;
			goto out;
		}
		if (added == 0)
			break;
		st->arcs_priced_in += (size_t)added;
	}
	st->flow_nodes = (size_t)as.f.nnodes;
	st->flow_arcs = as.f.narcs;
	st->pivots = as.f.pivots;
	st->nearest_visits = as.nearest_visits;
	st->pricing_visits = as.pricing_visits;
	if ((rc = make_support(&as, &sp, st)) != 0)
		goto out;
	/* The network is no longer needed: free it before rounding allocates. */
	sf__flow_free(&as.f);
	if (pb->progress)
		pb->progress(pb->progress_arg, SF_PLAN_STAGE_ROUNDING);
	rc = sf__plan_round(pb, &sp, a);
out:
	for (f = 0; f < 8; f++) {
		sf__plan_index_free(&as.tree[f]);
		free(as.sub[f]);
	}
	sf__flow_free(&as.f);
	free(as.cstart);
	free(as.cand);
	free(as.reach);
	free(as.item_node);
	free(as.shelter_node);
	free(as.node_item);
	free(as.node_shelter);
	free(as.art);
	free(as.extra_head);
	free(as.extra_next);
	free(as.spot);
	free(as.sprice);
	free(as.buf);
	free(as.crowd_at);
	free(as.crowd_node);
	free(as.crowd_start);
	free(as.crowd_pr);
	free(as.crowd_npr);
	free(as.clist);
	sf__plan_relaxed_free(&relaxed);
	support_free(&sp);
	if (rc != 0)
		sf__plan_assignment_free(a);
	return rc;
}

/* Sets each unassigned item's reason. */
void
sf__plan_reasons(const struct sf__plan_problem *pb, struct sf__plan_assignment *a)
{
	size_t i, s;

	for (i = 0; i < pb->nitems; i++) {
		bool facility = false, range = false;

		if (a->shelter[i] >= 0) {
			a->reason[i] = SF_PLAN_ASSIGNED;
			continue;
		}
		if (!pb->located[i]) {
			a->reason[i] = SF_PLAN_NO_LOCATION;
			continue;
		}
		/*
		 * Room is not looked at: an open shelter with the care needed that is
		 * full is a matter of capacity, not of facilities.
		 */
		for (s = 0; s < pb->nshelters && !range; s++) {
			if (!pb->shelters[s].open ||
			    (pb->shelters[s].facilities & pb->fclass[i]) != pb->fclass[i])
				continue;
			facility = true;
			range = sf__plan_distance(pb, i, s) >= 0;
		}
		a->reason[i] = !facility ? SF_PLAN_NO_FACILITY
		               : !range  ? SF_PLAN_OUT_OF_RANGE
		                         : SF_PLAN_NO_CAPACITY;
	}
}
