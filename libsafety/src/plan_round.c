/*
 * From the relaxation to a plan with every household whole. A basic optimum
 * of the transportation problem splits at most as many items as there are
 * shelters; those are placed whole where there is room, the rest of the
 * relaxation is kept, and a local search of moves, swaps and ejections
 * (move someone out to make room) repairs what rounding cost. All in a fixed
 * order, so the result depends on nothing but the input.
 */
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>

#include "plan_internal.h"

/* The cost of leaving someone out, above any real cost. */
#define OUT_COST (INT64_MAX / 8)
/* Items at most for which every item tries ejections, not only displaced ones. */
#define EJECT_ALL_ITEMS 20000
/* Members of a shelter looked at, at most, for one ejection. */
#define EJECT_SCAN 256

/* The working plan. */
struct round {
	const struct sf__plan_problem *pb;
	const struct sf__plan_support *sp;
	int32_t *sh;   /* shelter per item or -1 */
	int64_t *unit; /* per-person cost there */
	uint32_t *dist;
	int64_t *free_;            /* free places per shelter */
	int32_t *head, *nxt, *prv; /* members of each shelter, doubly linked */
	bool *hot;                 /* displaced by rounding: worth trying harder */
	bool eject_all;
};

/* The item's total cost where it is. */
static int64_t
cost_now(const struct round *r, size_t i)
{
	if (r->sh[i] < 0)
		return OUT_COST + (r->pb->previous[i] >= 0 ? (int64_t)r->pb->penalty_m : 0) *
		                      (int64_t)r->pb->people[i];
	return r->unit[i] * (int64_t)r->pb->people[i];
}

/* Takes item i out of its shelter. */
static void
take_out(struct round *r, size_t i)
{
	int32_t s = r->sh[i];

	if (s < 0)
		return;
	r->free_[s] += r->pb->people[i];
	if (r->prv[i] >= 0)
		r->nxt[r->prv[i]] = r->nxt[i];
	else
		r->head[s] = r->nxt[i];
	if (r->nxt[i] >= 0)
		r->prv[r->nxt[i]] = r->prv[i];
	r->sh[i] = -1;
}

/* Puts item i into shelter s at a per-person cost and distance. */
static void
put_in(struct round *r, size_t i, int32_t s, int64_t unit, uint32_t dist)
{
	take_out(r, i);
	r->sh[i] = s;
	r->unit[i] = unit;
	r->dist[i] = dist;
	r->free_[s] -= r->pb->people[i];
	r->prv[i] = -1;
	r->nxt[i] = r->head[s];
	if (r->head[s] >= 0)
		r->prv[r->head[s]] = (int32_t)i;
	r->head[s] = (int32_t)i;
}

/* Places item i at its cheapest shelter with room outside its support too; true if placed. */
static bool
place_anywhere(struct round *r, size_t i)
{
	const struct sf__plan_problem *pb = r->pb;
	int64_t best = INT64_MAX, bd = 0;
	int32_t bs = -1;
	size_t s;

	if (!pb->located[i])
		return false;
	for (s = 0; s < pb->nshelters; s++) {
		int64_t d, u;
		if (r->free_[s] < (int64_t)pb->people[i] ||
		    (pb->shelters[s].facilities & pb->fclass[i]) != pb->fclass[i] ||
		    (d = sf__plan_distance(pb, i, s)) < 0)
			continue;
		u = d + (pb->previous[i] >= 0 && (size_t)pb->previous[i] != s ? pb->penalty_m : 0);
		if (u < best) {
			best = u;
			bd = d;
			bs = (int32_t)s;
		}
	}
	if (bs < 0)
		return false;
	put_in(r, i, bs, best, (uint32_t)bd);
	return true;
}

/*
 * Tries to move item i to a cheaper shelter of its support: directly where
 * there is room, else by moving one member of the target elsewhere (or into
 * the place i leaves). Applies the best such change; true if it did.
 */
static bool
improve_item(struct round *r, size_t i, bool eject)
{
	const struct sf__plan_problem *pb = r->pb;
	const struct sf__plan_support *sp = r->sp;
	int64_t now = cost_now(r, i), best_gain = 0;
	int64_t pi = pb->people[i];
	int32_t s0 = r->sh[i];
	size_t j, best_arc = 0;
	int64_t best_j = -1, best_jarc = -1; /* ejected member and its arc */
	int32_t best_jt = -1;

	for (j = sp->start[i]; j < sp->start[i + 1]; j++) {
		int32_t s = sp->shelter[j];
		int64_t gain = now - sp->unit[j] * pi, need;
		int32_t m;
		int scanned = 0;

		if (gain <= best_gain)
			break; /* sorted by cost: nothing further pays more */
		if (s == s0)
			continue;
		if (r->free_[s] >= pi) {
			best_gain = gain;
			best_arc = j;
			best_j = -1;
			continue;
		}
		if (!eject)
			continue;
		need = pi - r->free_[s];
		for (m = r->head[s]; m >= 0 && scanned < EJECT_SCAN; m = r->nxt[m], scanned++) {
			int64_t pm = pb->people[m], here = r->unit[m] * pm;
			size_t k;
			if (pm < need)
				continue;
			/* Where can m go: any support shelter with room, s0 counting i's places. */
			for (k = sp->start[m]; k < sp->start[m + 1]; k++) {
				int32_t t = sp->shelter[k];
				int64_t room = r->free_[t] + (t == s0 ? pi : 0), g;
				if (t == s || room < pm)
					continue;
				g = gain + here - sp->unit[k] * pm;
				if (g > best_gain) {
					best_gain = g;
					best_arc = j;
					best_j = m;
					best_jarc = (int64_t)k;
					best_jt = t;
				}
				break; /* sorted: the first with room is m's best */
			}
		}
	}
	if (best_gain <= 0)
		return false;
	if (best_j >= 0) {
		take_out(r, i);
		put_in(r, (size_t)best_j, best_jt, sp->unit[best_jarc], sp->dist[best_jarc]);
		r->hot[best_j] = true;
	}
	put_in(r, i, sp->shelter[best_arc], sp->unit[best_arc], sp->dist[best_arc]);
	return true;
}

/* An item waiting to be placed whole. */
struct pending {
	uint32_t people;
	uint32_t item;
};

/* Orders pending items: the biggest first (hardest to fit), then by index. */
static int
pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	if (x->people != y->people)
		return x->people > y->people ? -1 : 1;
	return (x->item > y->item) - (x->item < y->item);
}

/* The most free places any shelter has. */
static int64_t
max_free(const struct round *r)
{
	int64_t m = 0;
	size_t s;

	for (s = 0; s < r->pb->nshelters; s++)
		if (r->free_[s] > m)
			m = r->free_[s];
	return m;
}

/* Passes of improve_item in index order until nothing improves or the rounds run out. */
static void
local_search(struct round *r)
{
	const struct sf__plan_problem *pb = r->pb;
	unsigned round;
	size_t i;

	for (round = 0; round < pb->search_rounds; round++) {
		bool changed = false;
		int64_t roomiest = max_free(r);
		for (i = 0; i < pb->nitems; i++) {
			if (!pb->located[i])
				continue;
			if (improve_item(r, i, r->eject_all || r->hot[i])) {
				changed = true;
			} else if (r->sh[i] < 0 && roomiest >= (int64_t)pb->people[i] &&
			           place_anywhere(r, i)) {
				changed = true;
				roomiest = max_free(r);
			}
		}
		if (!changed)
			break;
	}
}

/* Makes the relaxation whole and improves it. */
int
sf__plan_round(const struct sf__plan_problem *pb, const struct sf__plan_support *sp,
               struct sf__plan_assignment *a)
{
	struct round r;
	size_t n = pb->nitems, S = pb->nshelters, i, s, nsplit = 0, k;
	struct pending *split = NULL;
	int rc = SF_ENOMEM;

	memset(&r, 0, sizeof r);
	r.pb = pb;
	r.sp = sp;
	r.sh = malloc((n + 1) * sizeof *r.sh);
	r.unit = calloc(n + 1, sizeof *r.unit);
	r.dist = calloc(n + 1, sizeof *r.dist);
	r.nxt = malloc((n + 1) * sizeof *r.nxt);
	r.prv = malloc((n + 1) * sizeof *r.prv);
	r.hot = calloc(n + 1, sizeof *r.hot);
	r.free_ = malloc((S + 1) * sizeof *r.free_);
	r.head = malloc((S + 1) * sizeof *r.head);
	split = malloc((n + 1) * sizeof *split);
	if (!r.sh || !r.unit || !r.dist || !r.nxt || !r.prv || !r.hot || !r.free_ || !r.head ||
	    !split)
		goto out;
	r.eject_all = n <= EJECT_ALL_ITEMS;
	for (s = 0; s < S; s++) {
		r.free_[s] = pb->room[s];
		r.head[s] = -1;
	}

	/* Whole in the relaxation: keep. Split: place afterwards, biggest first. */
	for (i = 0; i < n; i++) {
		size_t j;
		r.sh[i] = -1;
		r.nxt[i] = r.prv[i] = -1;
		if (sp->lp_unassigned[i] == (int32_t)pb->people[i]) {
			if (pb->located[i] && sp->start[i + 1] > sp->start[i])
				split[nsplit++] = (struct pending){pb->people[i], (uint32_t)i};
			continue;
		}
		for (j = sp->start[i]; j < sp->start[i + 1]; j++)
			if (sp->flow[j] == (int32_t)pb->people[i])
				break;
		if (j < sp->start[i + 1])
			put_in(&r, i, sp->shelter[j], sp->unit[j], sp->dist[j]);
		else
			split[nsplit++] = (struct pending){pb->people[i], (uint32_t)i};
	}
	if (nsplit > 1)
		qsort(split, nsplit, sizeof *split, pending_cmp);
	for (k = 0; k < nsplit; k++) {
		size_t j;
		i = split[k].item;
		r.hot[i] = true;
		for (j = sp->start[i]; j < sp->start[i + 1]; j++)
			if (r.free_[sp->shelter[j]] >= (int64_t)pb->people[i])
				break;
		if (j < sp->start[i + 1])
			put_in(&r, i, sp->shelter[j], sp->unit[j], sp->dist[j]);
		else if (!improve_item(&r, i, true))
			place_anywhere(&r, i);
	}

	local_search(&r);
	for (i = 0; i < n; i++) {
		a->shelter[i] = r.sh[i];
		a->distance_m[i] = r.sh[i] >= 0 ? r.dist[i] : 0;
	}

	/*
	 * Re-planning: the published plan, kept where it still fits and
	 * improved by the same search, is a second candidate, so a re-plan is
	 * never worse than staying put.
	 */
	for (i = 0; i < n && pb->previous[i] < 0; i++)
		;
	if (i < n) {
		uint64_t placed_a = 0, placed_b = 0, obj_a = 0, obj_b = 0;
		for (i = 0; i < n; i++) {
			if (r.sh[i] >= 0) {
				placed_a += pb->people[i];
				obj_a += (uint64_t)(r.unit[i] * (int64_t)pb->people[i]);
			} else if (pb->previous[i] >= 0) {
				obj_a += (uint64_t)pb->penalty_m * pb->people[i];
			}
			take_out(&r, i);
			r.hot[i] = true;
		}
		for (i = 0; i < n; i++) {
			int32_t p = pb->previous[i];
			int64_t d;
			if (p >= 0 && r.free_[p] >= (int64_t)pb->people[i] &&
			    (d = sf__plan_distance(pb, i, (size_t)p)) >= 0)
				put_in(&r, i, p, d, (uint32_t)d);
		}
		local_search(&r);
		for (i = 0; i < n; i++) {
			if (r.sh[i] >= 0) {
				placed_b += pb->people[i];
				obj_b += (uint64_t)(r.unit[i] * (int64_t)pb->people[i]);
			} else if (pb->previous[i] >= 0) {
				obj_b += (uint64_t)pb->penalty_m * pb->people[i];
			}
		}
		if (placed_b > placed_a || (placed_b == placed_a && obj_b < obj_a))
			for (i = 0; i < n; i++) {
				a->shelter[i] = r.sh[i];
				a->distance_m[i] = r.sh[i] >= 0 ? r.dist[i] : 0;
			}
	}
	rc = 0;
out:
	free(r.sh);
	free(r.unit);
	free(r.dist);
	free(r.nxt);
	free(r.prv);
	free(r.hot);
	free(r.free_);
	free(r.head);
	free(split);
	return rc;
}
