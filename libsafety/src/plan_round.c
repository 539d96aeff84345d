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

/* What leaving item i out costs. */
static int64_t
out_cost(const struct round *r, size_t i)
{
	return OUT_COST + (r->pb->previous[i] >= 0 ? (int64_t)r->pb->penalty_m : 0) *
	                      (int64_t)r->pb->people[i];
}

/* The item's total cost where it is. */
static int64_t
cost_now(const struct round *r, size_t i)
{
	if (r->sh[i] < 0)
		return out_cost(r, i);
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

/*
 * Ejection chains (after Yagiura, Ibaraki and Glover's for the generalised
 * assignment problem): an item moves to a cheaper shelter of its support;
 * where that one lacks room, one of its members is pushed on to another,
 * and so on, up to CHAIN_DEPTH moves, until the last finds room (the place
 * the first left counts). Groups as large as buses against shelters of a few
 * buses are where single moves and swaps get stuck: a better plan often
 * needs three or four groups to shift at once. Only chains whose gain so far
 * stays positive are followed (as in Lin and Kernighan's search: an improving
 * cycle has a starting point from which every prefix gains), and the best
 * chain from the item is applied. A chain may start with an item left out
 * and end by leaving out another: who is left out is a choice too (the
 * farthest should be), and a smaller one left out places more people.
 */
#define CHAIN_DEPTH 4
#define LNS_MAX_ITEMS 50000 /* items at most for chains and the neighbourhood search */
#define CHAIN_SCAN 32       /* members of a shelter tried as the next to move */
/* Moves tried from one item at most, and in one search (a few tenths of a second). */
#define CHAIN_ITEM_STEPS 20000
#define CHAIN_WORK 40000000

struct chain {
	int32_t item[CHAIN_DEPTH];
	size_t arc[CHAIN_DEPTH];
	/* [0]: the first item's shelter; [k]: where mover k - 1 went */
	int32_t entered[CHAIN_DEPTH + 1];
	int32_t best_item[CHAIN_DEPTH];
	size_t best_arc[CHAIN_DEPTH];
	int best_moves;
	int64_t best_placed, best_gain; /* people placed more, then cost saved */
	uint64_t steps, max_steps;
};

/*
 * Keeps the chain of k + 1 moves if it beats the best so far: more people
 * placed first, then the cost saved (gain counts leaving out as OUT_COST,
 * which is taken off here; a promised shelter's penalty stays).
 */
static void
chain_record(const struct round *r, struct chain *c, int k, bool ends_out, int64_t gain)
{
	const struct sf__plan_problem *pb = r->pb;
	bool starts_out = c->entered[0] < 0;
	int64_t placed = 0;

	if (starts_out) {
		gain -= OUT_COST;
		placed = (int64_t)pb->people[c->item[0]];
	}
	if (ends_out) {
		gain += OUT_COST;
		placed -= (int64_t)pb->people[c->item[k]];
	}
	if (placed < 0 || (placed == 0 && gain <= 0))
		return;
	if (placed < c->best_placed || (placed == c->best_placed && gain <= c->best_gain))
		return;
	c->best_placed = placed;
	c->best_gain = gain;
	c->best_moves = k + 1;
	memcpy(c->best_item, c->item, sizeof c->item);
	memcpy(c->best_arc, c->arc, sizeof c->arc);
}

/* Tries the moves of item x as the k-th of the chain, gain_before gained by the ones before. */
static void
chain_extend(struct round *r, struct chain *c, int k, size_t x, int64_t gain_before)
{
	const struct sf__plan_problem *pb = r->pb;
	const struct sf__plan_support *sp = r->sp;
	int64_t px = pb->people[x], here = cost_now(r, x);
	size_t j;

	/*
	 * A chain that places a left-out item may end by leaving out one no
	 * larger: who is left out is a choice too, and the farthest should be.
	 */
	if (k > 0 && c->entered[0] < 0) {
		c->item[k] = (int32_t)x;
		c->arc[k] = SIZE_MAX;
		chain_record(r, c, k, true, gain_before + here - out_cost(r, x));
	}
	for (j = sp->start[x]; j < sp->start[x + 1] && c->steps < c->max_steps; j++) {
		int32_t t = sp->shelter[j], y;
		int64_t gain = gain_before + here - sp->unit[j] * px, room;
		bool seen = false;
		int m, scanned = 0;

		if (gain <= 0)
			break; /* sorted by cost: the rest gain less */
		c->steps++;
		if (t == r->sh[x])
			continue;
		for (m = 1; m <= k; m++)
			seen |= c->entered[m] == t;
		if (seen)
			continue; /* its room is counted already */
		room = r->free_[t] + (t == c->entered[0] ? (int64_t)pb->people[c->item[0]] : 0);
		c->item[k] = (int32_t)x;
		c->arc[k] = j;
		if (room >= px) {
			chain_record(r, c, k, false, gain);
			continue;
		}
		if (k + 1 >= CHAIN_DEPTH)
			continue;
		c->entered[k + 1] = t;
		for (y = r->head[t]; y >= 0 && scanned < CHAIN_SCAN; y = r->nxt[y], scanned++) {
			bool moving = false;
			for (m = 0; m <= k; m++)
				moving |= c->item[m] == y;
			if (moving || room + (int64_t)pb->people[y] < px)
				continue;
			chain_extend(r, c, k + 1, (size_t)y, gain);
		}
	}
}

/* Applies the best ejection chain that starts with item i; true if there was one. */
static bool
chain_improve(struct round *r, size_t i, uint64_t *budget)
{
	const struct sf__plan_support *sp = r->sp;
	struct chain c;
	int m;

	memset(&c, 0, sizeof c);
	c.entered[0] = r->sh[i];
	c.max_steps = *budget < CHAIN_ITEM_STEPS ? *budget : CHAIN_ITEM_STEPS;
	chain_extend(r, &c, 0, i, 0);
	*budget -= c.steps;
	if (c.best_moves == 0)
		return false;
	/* All out first: each target's room was counted with its leaver gone. */
	for (m = 0; m < c.best_moves; m++)
		take_out(r, (size_t)c.best_item[m]);
	for (m = 0; m < c.best_moves; m++) {
		size_t j = c.best_arc[m];
		if (j == SIZE_MAX)
			continue; /* left out */
		put_in(r, (size_t)c.best_item[m], sp->shelter[j], sp->unit[j], sp->dist[j]);
		r->hot[c.best_item[m]] = true;
	}
	return true;
}

/*
 * Passes of ejection chains from every item, with the simple moves between,
 * until none pays or the work is spent (counted in moves tried, so the same
 * input stops at the same place). Plans of more than LNS_MAX_ITEMS are left
 * to the local search, as the neighbourhood search leaves them.
 */
static void
chain_search(struct round *r)
{
	const struct sf__plan_problem *pb = r->pb;
	uint64_t budget = CHAIN_WORK;
	unsigned round;
	size_t i;

	if (pb->nitems > LNS_MAX_ITEMS)
		return;
	for (round = 0; round < pb->search_rounds && budget > 0; round++) {
		bool changed = false;
		for (i = 0; i < pb->nitems && budget > 0; i++)
			if (pb->located[i] && chain_improve(r, i, &budget))
				changed = true;
		if (!changed)
			break;
		local_search(r);
	}
}

/*
 * Large neighbourhood search, for plans small enough to afford it (where
 * lumpy households against small shelters cost the most): empty the shelters
 * around a household picked at random (a fixed seed: the same input gives the
 * same plan), put their members back hardest-first by regret (what a member
 * loses if its best shelter fills), let the moves and ejections settle them,
 * and keep the result unless it is worse: fewer people left out first, then
 * the lower cost.
 */
#define LNS_WORK 4000000 /* items x iterations */
#define LNS_MAX_ITERATIONS 4000
#define LNS_MAX_REMOVED 48

struct score {
	int64_t out_people;
	int64_t cost;
};

static struct score
score_of(const struct round *r)
{
	struct score sc = {0, 0};

	for (size_t i = 0; i < r->pb->nitems; i++) {
		if (!r->pb->located[i])
			continue;
		if (r->sh[i] < 0) {
			sc.out_people += r->pb->people[i];
			/* As the re-plan counts it: a promised shelter taken away costs the penalty. */
			if (r->pb->previous[i] >= 0)
				sc.cost += (int64_t)r->pb->penalty_m * (int64_t)r->pb->people[i];
		} else
			sc.cost += r->unit[i] * (int64_t)r->pb->people[i];
	}
	return sc;
}

static uint64_t
lns_next(uint64_t *state)
{
	/* xorshift64*: enough for choosing neighbourhoods, and the same everywhere. */
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 2685821657736338717ULL;
}

/* The two cheapest support shelters with room for item i; -1 where none. */
static void
two_cheapest(const struct round *r, size_t i, int64_t *first, int64_t *second)
{
	const struct sf__plan_support *sp = r->sp;
	int64_t pi = r->pb->people[i];

	*first = *second = -1;
	for (size_t j = sp->start[i]; j < sp->start[i + 1]; j++) {
		if (r->free_[sp->shelter[j]] < pi)
			continue;
		if (*first < 0) {
			*first = (int64_t)j;
		} else {
			*second = (int64_t)j;
			return;
		}
	}
}

struct snapshot {
	int32_t *sh, *head, *nxt, *prv;
	int64_t *unit, *free_;
	uint32_t *dist;
};

/* The live plan seen as a snapshot: the same arrays. */
static struct snapshot
live_state(struct round *r)
{
	return (struct snapshot){r->sh, r->head, r->nxt, r->prv, r->unit, r->free_, r->dist};
}

static void
state_copy(const struct snapshot *to, const struct snapshot *from, size_t n, size_t S)
{
	memcpy(to->sh, from->sh, n * sizeof *to->sh);
	memcpy(to->nxt, from->nxt, n * sizeof *to->nxt);
	memcpy(to->prv, from->prv, n * sizeof *to->prv);
	memcpy(to->unit, from->unit, n * sizeof *to->unit);
	memcpy(to->dist, from->dist, n * sizeof *to->dist);
	memcpy(to->head, from->head, S * sizeof *to->head);
	memcpy(to->free_, from->free_, S * sizeof *to->free_);
}

static void
lns(struct round *r)
{
	const struct sf__plan_problem *pb = r->pb;
	const struct sf__plan_support *sp = r->sp;
	size_t n = pb->nitems, S = pb->nshelters, iterations, it;
	struct snapshot c, live = live_state(r);
	uint32_t removed[LNS_MAX_REMOVED + 1];
	uint64_t rng = 0x5afe7e5ca1ab1e5ULL ^ (uint64_t)n;
	struct score best;

	if (n == 0 || n > LNS_MAX_ITEMS || S < 2)
		return;
	/* A few tries per item, within a budget of work. */
	iterations = LNS_WORK / n;
	if (iterations > LNS_MAX_ITERATIONS)
		iterations = LNS_MAX_ITERATIONS;
	if (iterations > 4 * n)
		iterations = 4 * n;
	c.sh = malloc(n * sizeof *c.sh);
	c.nxt = malloc(n * sizeof *c.nxt);
	c.prv = malloc(n * sizeof *c.prv);
	c.unit = malloc(n * sizeof *c.unit);
	c.dist = malloc(n * sizeof *c.dist);
	c.head = malloc(S * sizeof *c.head);
	c.free_ = malloc(S * sizeof *c.free_);
	if (!c.sh || !c.nxt || !c.prv || !c.unit || !c.dist || !c.head || !c.free_)
		goto out; /* the plan stays as the local search left it */
	best = score_of(r);
	for (it = 0; it < iterations; it++) {
		size_t i0 = (size_t)(lns_next(&rng) % n), nrem = 0, want, j, k;
		int32_t around[5];
		size_t naround = 0;
		struct score now;

		if (!pb->located[i0] || sp->start[i0 + 1] == sp->start[i0])
			continue;
		state_copy(&c, &live, n, S);
		/* The neighbourhood: i0's shelter and its 2 to 4 cheapest others. */
		want = 2 + (size_t)(lns_next(&rng) % 3);
		if (r->sh[i0] >= 0)
			around[naround++] = r->sh[i0];
		for (j = sp->start[i0]; j < sp->start[i0 + 1] && naround < want + 1; j++) {
			bool seen = false;
			for (k = 0; k < naround; k++)
				seen = seen || around[k] == sp->shelter[j];
			if (!seen)
				around[naround++] = sp->shelter[j];
		}
		if (r->sh[i0] < 0)
			removed[nrem++] = (uint32_t)i0;
		for (k = 0; k < naround; k++)
			for (int32_t m = r->head[around[k]]; m >= 0 && nrem < LNS_MAX_REMOVED;
			     m = r->nxt[m])
				removed[nrem++] = (uint32_t)m;
		for (k = 0; k < nrem; k++)
			take_out(r, removed[k]);
		/* Back in by regret: the one that would lose most if it waited goes first. */
		for (size_t left = nrem; left > 0; left--) {
			size_t pick = 0;
			int64_t pick_regret = -1;
			for (k = 0; k < left; k++) {
				size_t i = removed[k];
				int64_t f, s2, regret;
				two_cheapest(r, i, &f, &s2);
				if (f < 0)
					regret = INT64_MAX / 4; /* nowhere in its support: first */
				else if (s2 < 0)
					regret = INT64_MAX / 8;
				else
					regret = (sp->unit[s2] - sp->unit[f]) * (int64_t)pb->people[i];
				if (regret > pick_regret ||
				    (regret == pick_regret && pb->people[i] > pb->people[removed[pick]])) {
					pick_regret = regret;
					pick = k;
				}
			}
			{
				size_t i = removed[pick];
				int64_t f, s2;
				two_cheapest(r, i, &f, &s2);
				if (f >= 0)
					put_in(r, i, sp->shelter[f], sp->unit[f], sp->dist[f]);
				else if (!improve_item(r, i, true))
					place_anywhere(r, i);
				/* Done with it: swap it past the ones still waiting. */
				removed[pick] = removed[left - 1];
				removed[left - 1] = (uint32_t)i;
			}
		}
		for (k = 0; k < nrem; k++)
			improve_item(r, removed[k], true);
		now = score_of(r);
		if (now.out_people < best.out_people ||
		    (now.out_people == best.out_people && now.cost <= best.cost))
			best = now;
		else
			state_copy(&live, &c, n, S);
	}
out:
	free(c.sh);
	free(c.nxt);
	free(c.prv);
	free(c.unit);
	free(c.dist);
	free(c.head);
	free(c.free_);
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
	chain_search(&r);
	lns(&r);
	chain_search(&r);
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
