/*
 * The room whole items can fill, for the relaxation. A shelter of 149 places
 * holds at most 100 people in buses of 50, so no whole plan puts more there;
 * the relaxation given that room is still a relaxation, its optimum still a
 * lower bound, and a much tighter one when items are large against
 * shelters. When a few item sizes are most of the people (full buses), the
 * room the largest of them cannot fill is set apart as a second part of the
 * shelter that only smaller items may use: a constraint per shelter on the
 * large items alone, which a transportation problem can carry (see plan.md,
 * "Whole groups"). Both come from subset sums on bitsets.
 */
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>

#include "plan_internal.h"

/* Bitset words one subset sum may work through; beyond it the room stays as it is. */
#define REACH_WORK 20000000
/* Item sizes tried as the smallest "large" size, the largest first. */
#define SPLIT_TRIES 8

/* Orders sizes, the largest first. */
static int
size_desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x < y) - (x > y);
}

/*
 * Marks in bits (rmax / 64 + 1 words) every sum up to rmax of the m sizes
 * (sorted, largest first), each used at most once. The copies of one size go
 * in binary pieces (1, 2, 4, ... of them), each a shift and an or, from the
 * top word down so that a piece reads only sums made without it. False when
 * the work would pass REACH_WORK: then nothing may be concluded.
 */
static bool
reach(const uint32_t *sizes, size_t m, uint32_t rmax, uint64_t *bits)
{
	size_t words = (size_t)rmax / 64 + 1, i = 0, work = 0;

	memset(bits, 0, words * sizeof *bits);
	bits[0] = 1;
	while (i < m) {
		uint32_t v = sizes[i];
		size_t count = 0, piece;
		while (i + count < m && sizes[i + count] == v)
			count++;
		i += count;
		for (piece = 1; count > 0; piece *= 2) {
			size_t take = piece < count ? piece : count, q, r, w;
			uint64_t shift = (uint64_t)v * take;
			count -= take;
			if (shift > rmax)
				break; /* more copies no longer fit */
			q = (size_t)(shift / 64);
			r = (size_t)(shift % 64);
			for (w = words; w-- > q;) {
				uint64_t x = bits[w - q] << r;
				if (r && w > q)
					x |= bits[w - q - 1] >> (64 - r);
				bits[w] |= x;
			}
			work += words - q;
			if (work > REACH_WORK)
				return false;
		}
	}
	return true;
}

/* The largest sum marked in bits at most v (0 always is), skipping empty words. */
static uint32_t
largest_reached(const uint64_t *bits, uint32_t v)
{
	while (!(bits[v / 64] >> (v % 64) & 1)) {
		if ((bits[v / 64] & (~0ULL >> (63 - v % 64))) == 0)
			v = v / 64 * 64 - 1;
		else
			v--;
	}
	return v;
}

/* Frees what sf__plan_relax_rooms allocated. */
void
sf__plan_relaxed_free(struct sf__plan_relaxed *rx)
{
	free(rx->shelters);
	free(rx->sxyz);
	free(rx->room);
	free(rx->item_max);
	memset(rx, 0, sizeof *rx);
}

/* Sizes and limits of one facility kind (shelters offering exactly those facilities). */
struct kind {
	uint32_t *sizes; /* of the items its shelters may take, largest first */
	size_t nsizes;
	uint32_t rmax; /* the most room of one of its shelters */
	bool known;    /* the subset sum fit within its work */
};

/*
 * Fills large[s] for every shelter: the most people items of at least t
 * people can fill there, within fillable[s]; returns the room so lost to
 * them over all shelters. Kinds whose sums cost too much keep their room.
 */
static uint64_t
large_rooms(const struct sf__plan_problem *pb, struct kind *kinds, const uint32_t *fillable,
            uint32_t t, uint64_t *bits, uint32_t *large)
{
	uint64_t lost = 0;
	unsigned f;

	for (f = 0; f < 4; f++) {
		struct kind *k = &kinds[f];
		size_t m = 0, s;
		bool known;
		while (m < k->nsizes && k->sizes[m] >= t)
			m++;
		known = k->rmax > 0 && reach(k->sizes, m, k->rmax, bits);
		for (s = 0; s < pb->nshelters; s++) {
			if ((pb->shelters[s].facilities & 3u) != f)
				continue;
			large[s] = known ? largest_reached(bits, fillable[s]) : fillable[s];
			lost += fillable[s] - large[s];
		}
	}
	return lost;
}

/* Builds the relaxation's shelters. */
int
sf__plan_relax_rooms(const struct sf__plan_problem *pb, struct sf__plan_relaxed *rx)
{
	size_t n = pb->nitems, S = pb->nshelters, s, i, j, nall = 0, tries;
	struct kind kinds[4];
	uint32_t *fillable = NULL, *large = NULL, *all = NULL, rmax = 0, split = 0;
	uint64_t *bits = NULL, best = 0;
	unsigned f;
	int rc = SF_ENOMEM;

	memset(rx, 0, sizeof *rx);
	memset(kinds, 0, sizeof kinds);
	rx->pb = *pb;
	fillable = malloc((S + 1) * sizeof *fillable);
	large = malloc((S + 1) * sizeof *large);
	all = malloc((n + 1) * sizeof *all);
	if (!fillable || !large || !all)
		goto out;
	for (s = 0; s < S; s++) {
		f = pb->shelters[s].facilities & 3u;
		fillable[s] = pb->room[s];
		if (pb->room[s] > kinds[f].rmax)
			kinds[f].rmax = pb->room[s];
		if (pb->room[s] > rmax)
			rmax = pb->room[s];
	}
	if (!(bits = malloc(((size_t)rmax / 64 + 1) * sizeof *bits)))
		goto out;
	for (i = 0; i < n; i++)
		if (pb->located[i] && pb->people[i] <= rmax)
			all[nall++] = pb->people[i];
	qsort(all, nall, sizeof *all, size_desc);
	for (f = 0; f < 4; f++) {
		struct kind *k = &kinds[f];
		if (!(k->sizes = malloc((n + 1) * sizeof *k->sizes)))
			goto out;
		for (i = 0; i < n; i++)
			if (pb->located[i] && (pb->fclass[i] & ~f) == 0 && pb->people[i] <= k->rmax)
				k->sizes[k->nsizes++] = pb->people[i];
		qsort(k->sizes, k->nsizes, sizeof *k->sizes, size_desc);
	}
	/* The room all items together can fill: the sizes of at least 0 people. */
	large_rooms(pb, kinds, pb->room, 0, bits, fillable);

	/*
	 * The split: the smallest "large" size t whose items, kept to what
	 * they alone fill, leave the most room beyond what all smaller items
	 * together could take (else the split would change little).
	 */
	for (i = 0, tries = 0; i < nall && tries < SPLIT_TRIES; i = j, tries++) {
		uint32_t t = all[i];
		uint64_t small = 0, lost;
		for (j = i; j < nall && all[j] == t; j++)
			;
		if (j == nall)
			break; /* the smallest size: nothing smaller to keep room for */
		for (s = j; s < nall; s++)
			small += all[s];
		lost = large_rooms(pb, kinds, fillable, t, bits, large);
		if (lost > small && lost - small > best) {
			best = lost - small;
			split = t;
		}
	}

	rc = SF_ENOMEM;
	if (!split) {
		rx->room = fillable;
		fillable = NULL;
		rx->pb.room = rx->room;
		rc = 0;
		goto out;
	}
	large_rooms(pb, kinds, fillable, split, bits, large);
	rx->shelters = malloc((2 * S + 1) * sizeof *rx->shelters);
	rx->sxyz = malloc((6 * S + 1) * sizeof *rx->sxyz);
	rx->room = malloc((2 * S + 1) * sizeof *rx->room);
	rx->item_max = malloc((2 * S + 1) * sizeof *rx->item_max);
	if (!rx->shelters || !rx->sxyz || !rx->room || !rx->item_max)
		goto out;
	/* Shelter s: what large items fill; shelter S + s: the rest, for smaller items only. */
	for (s = 0; s < S; s++) {
		rx->shelters[s] = rx->shelters[S + s] = pb->shelters[s];
		memcpy(rx->sxyz + 3 * s, pb->sxyz + 3 * s, 3 * sizeof *rx->sxyz);
		memcpy(rx->sxyz + 3 * (S + s), pb->sxyz + 3 * s, 3 * sizeof *rx->sxyz);
		rx->room[s] = large[s];
		rx->room[S + s] = fillable[s] - large[s];
		rx->item_max[s] = UINT32_MAX;
		rx->item_max[S + s] = split - 1;
	}
	rx->pb.nshelters = 2 * S;
	rx->pb.shelters = rx->shelters;
	rx->pb.sxyz = rx->sxyz;
	rx->pb.room = rx->room;
	rx->pb.item_max = rx->item_max;
	rx->pb.nreal = S;
	rx->pb.large_from = split;
	rc = 0;
out:
	for (f = 0; f < 4; f++)
		free(kinds[f].sizes);
	free(fillable);
	free(large);
	free(all);
	free(bits);
	if (rc != 0)
		sf__plan_relaxed_free(rx);
	return rc;
}
