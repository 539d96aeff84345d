/*
 * The planner's spatial index: a k-d tree over points on the unit sphere in
 * three dimensions, so that nearness is the chord, which orders points
 * exactly as the great circle does, with no trouble at the poles or the
 * antimeridian. Built once per plan over shelters or assembly points.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>

#include "plan_internal.h"

#define DEG (3.14159265358979323846 / 180.0)

/* Unit vector of a point. */
void
sf__plan_xyz(const struct sf_point *p, double out[3])
{
	double la = p->lat * DEG, lo = p->lon * DEG;

	out[0] = cos(la) * cos(lo);
	out[1] = cos(la) * sin(lo);
	out[2] = sin(la);
}

/* Squared chord of a great-circle distance in metres. */
double
sf__plan_chord2(double metres)
{
	double a = metres / SF_GEO_EARTH_RADIUS_M;
	double c;

	if (a >= 3.14159265358979323846)
		return 4.0;
	c = 2 * sin(a / 2);
	return c * c;
}

/* Great-circle metres of a squared chord. */
double
sf__plan_arc_m(double chord2)
{
	double h = sqrt(chord2) / 2;

	if (h > 1)
		h = 1;
	return 2 * SF_GEO_EARTH_RADIUS_M * asin(h);
}

/* Squared chord between two unit vectors. */
static double
chord2(const double *a, const double *b)
{
	double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];

	return dx * dx + dy * dy + dz * dz;
}

/* Swaps entries i and j of the index's parallel arrays. */
static void
swap_points(struct sf__plan_index *ix, size_t i, size_t j)
{
	uint32_t t = ix->id[i];
	double c[3];

	ix->id[i] = ix->id[j];
	ix->id[j] = t;
	memcpy(c, ix->xyz + 3 * i, sizeof c);
	memcpy(ix->xyz + 3 * i, ix->xyz + 3 * j, sizeof c);
	memcpy(ix->xyz + 3 * j, c, sizeof c);
}

/* Orders point i before j on dimension d, ties by id, so the tree never depends on chance. */
static bool
before(const struct sf__plan_index *ix, size_t i, size_t j, int d)
{
	double a = ix->xyz[3 * i + d], b = ix->xyz[3 * j + d];

	return a < b || (a == b && ix->id[i] < ix->id[j]);
}

/* Puts the k-th point of [lo, hi) on dimension d in place (quickselect, median of three). */
static void
select_kth(struct sf__plan_index *ix, size_t lo, size_t hi, size_t k, int d)
{
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2, last = hi - 1, store, i;

		/* Median of three as pivot, moved to the end. */
		if (before(ix, mid, lo, d))
			swap_points(ix, mid, lo);
		if (before(ix, last, lo, d))
			swap_points(ix, last, lo);
		if (before(ix, mid, last, d))
			swap_points(ix, mid, last);
		store = lo;
		for (i = lo; i < last; i++)
			if (before(ix, i, last, d))
				swap_points(ix, i, store++);
		swap_points(ix, store, last);
		if (store == k)
			return;
		if (k < store)
			hi = store;
		else
			lo = store + 1;
	}
}

/* Builds the subtree of [lo, hi): split on the widest dimension at the median. */
static void
build(struct sf__plan_index *ix, size_t lo, size_t hi)
{
	while (hi - lo > 1) {
		double mn[3] = {2, 2, 2}, mx[3] = {-2, -2, -2};
		size_t i, mid = lo + (hi - lo) / 2;
		int d = 0, j;

		for (i = lo; i < hi; i++)
			for (j = 0; j < 3; j++) {
				double v = ix->xyz[3 * i + j];
				if (v < mn[j])
					mn[j] = v;
				if (v > mx[j])
					mx[j] = v;
			}
		for (j = 1; j < 3; j++)
			if (mx[j] - mn[j] > mx[d] - mn[d])
				d = j;
		select_kth(ix, lo, hi, mid, d);
		ix->dim[mid] = (uint8_t)d;
		build(ix, lo, mid);
		lo = mid + 1;
	}
}

/* Builds an index of n points. */
int
sf__plan_index_build(struct sf__plan_index *ix, const double *xyz, const uint32_t *ids, size_t n)
{
	memset(ix, 0, sizeof *ix);
	if (n == 0)
		return 0;
	ix->id = malloc(n * sizeof *ix->id);
	ix->xyz = malloc(3 * n * sizeof *ix->xyz);
	ix->dim = calloc(n, 1);
	if (!ix->id || !ix->xyz || !ix->dim) {
		sf__plan_index_free(ix);
		return SF_ENOMEM;
	}
	ix->n = n;
	memcpy(ix->id, ids, n * sizeof *ids);
	memcpy(ix->xyz, xyz, 3 * n * sizeof *xyz);
	build(ix, 0, n);
	return 0;
}

/* Frees an index's arrays. */
void
sf__plan_index_free(struct sf__plan_index *ix)
{
	free(ix->id);
	free(ix->xyz);
	free(ix->dim);
	memset(ix, 0, sizeof *ix);
}

/* The k best so far, sorted by distance then id. */
struct knn {
	const double *q;
	size_t k, n;
	double max2;
	uint32_t *ids;
	double *d2;
	/* keyed search: only points with key[id] >= need; sub prunes whole subtrees */
	const int64_t *key, *sub;
	int64_t need;
	uint64_t visits;
};

/* Offers point i to the k best. */
static void
knn_offer(struct knn *kn, const struct sf__plan_index *ix, size_t i)
{
	double d = chord2(kn->q, ix->xyz + 3 * i);
	uint32_t id = ix->id[i];
	size_t j;

	kn->visits++;
	if (d > kn->max2 || (kn->key && kn->key[id] < kn->need))
		return;
	if (kn->n == kn->k) {
		if (d > kn->d2[kn->n - 1] || (d == kn->d2[kn->n - 1] && id > kn->ids[kn->n - 1]))
			return;
		kn->n--;
	}
	j = kn->n++;
	while (j > 0 && (kn->d2[j - 1] > d || (kn->d2[j - 1] == d && kn->ids[j - 1] > id))) {
		kn->d2[j] = kn->d2[j - 1];
		kn->ids[j] = kn->ids[j - 1];
		j--;
	}
	kn->d2[j] = d;
	kn->ids[j] = id;
}

/* Searches [lo, hi) for the k nearest. */
static void
knn_search(struct knn *kn, const struct sf__plan_index *ix, size_t lo, size_t hi)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int d = ix->dim[mid];
		double diff;

		if (kn->sub && kn->sub[mid] < kn->need)
			return; /* nothing below has the key asked for */
		knn_offer(kn, ix, mid);
		if (hi - lo == 1)
			return;
		diff = kn->q[d] - ix->xyz[3 * mid + d];
		/* Near side first; the far side only if the splitting plane is within reach. */
		if (diff < 0) {
			knn_search(kn, ix, lo, mid);
			if (diff * diff > kn->max2 ||
			    (kn->n == kn->k && diff * diff > kn->d2[kn->n - 1]))
				return;
			lo = mid + 1;
		} else {
			knn_search(kn, ix, mid + 1, hi);
			if (diff * diff > kn->max2 ||
			    (kn->n == kn->k && diff * diff > kn->d2[kn->n - 1]))
				return;
			hi = mid;
		}
	}
}

/* Finds up to k points nearest q. */
size_t
sf__plan_index_nearest(const struct sf__plan_index *ix, const double q[3], size_t k, double max2,
                       uint32_t *ids, double *d2)
{
	struct knn kn = {q, k, 0, max2, ids, d2, NULL, NULL, 0, 0};

	if (k == 0 || ix->n == 0)
		return 0;
	knn_search(&kn, ix, 0, ix->n);
	return kn.n;
}

/* Greatest key over [lo, hi), stored at each range's median; returns it. */
static int64_t
submax(const struct sf__plan_index *ix, size_t lo, size_t hi, const int64_t *key, int64_t *sub)
{
	size_t mid;
	int64_t m, c;

	if (lo >= hi)
		return INT64_MIN;
	mid = lo + (hi - lo) / 2;
	m = key[ix->id[mid]];
	if ((c = submax(ix, lo, mid, key, sub)) > m)
		m = c;
	if ((c = submax(ix, mid + 1, hi, key, sub)) > m)
		m = c;
	sub[mid] = m;
	return m;
}

/* Fills sub (one entry per point) with the greatest key of each subtree. */
void
sf__plan_index_submax(const struct sf__plan_index *ix, const int64_t *key, int64_t *sub)
{
	submax(ix, 0, ix->n, key, sub);
}

/*
 * Recomputes sub on the path to the point (xyz, id) in [lo, hi): the tree
 * was split by (coordinate, id), so the same comparison finds its way down.
 */
static int64_t
resubmax(const struct sf__plan_index *ix, size_t lo, size_t hi, const double *xyz, uint32_t id,
         const int64_t *key, int64_t *sub)
{
	size_t mid = lo + (hi - lo) / 2, llo = lo, lhi = mid, rlo = mid + 1, rhi = hi;
	int d = ix->dim[mid];
	double a = xyz[d], b = ix->xyz[3 * mid + d];
	int64_t m = key[ix->id[mid]];

	if (ix->id[mid] != id && (a < b || (a == b && id < ix->id[mid]))) {
		if (llo < lhi)
			resubmax(ix, llo, lhi, xyz, id, key, sub);
	} else if (ix->id[mid] != id && rlo < rhi) {
		resubmax(ix, rlo, rhi, xyz, id, key, sub);
	}
	if (llo < lhi && sub[llo + (lhi - llo) / 2] > m)
		m = sub[llo + (lhi - llo) / 2];
	if (rlo < rhi && sub[rlo + (rhi - rlo) / 2] > m)
		m = sub[rlo + (rhi - rlo) / 2];
	sub[mid] = m;
	return m;
}

/* After key[id] of the point at xyz changed: brings sub up to date (a no-op if absent). */
void
sf__plan_index_resubmax(const struct sf__plan_index *ix, const double xyz[3], uint32_t id,
                        const int64_t *key, int64_t *sub)
{
	if (ix->n > 0)
		resubmax(ix, 0, ix->n, xyz, id, key, sub);
}

/* The nearest point with key[id] >= need. */
int64_t
sf__plan_index_nearest_keyed(const struct sf__plan_index *ix, const double q[3], double max2,
                             const int64_t *key, const int64_t *sub, int64_t need, uint64_t *visits)
{
	uint32_t id;
	double d2;
	struct knn kn = {q, 1, 0, max2, &id, &d2, key, sub, need, 0};

	if (ix->n == 0)
		return -1;
	knn_search(&kn, ix, 0, ix->n);
	if (visits)
		*visits += kn.visits;
	return kn.n ? (int64_t)id : -1;
}

/* Least key over [lo, hi), stored at each range's median; returns it. */
static int64_t
submin(const struct sf__plan_index *ix, size_t lo, size_t hi, const int64_t *key, int64_t *sub)
{
	size_t mid;
	int64_t m, c;

	if (lo >= hi)
		return INT64_MAX;
	mid = lo + (hi - lo) / 2;
	m = key[ix->id[mid]];
	if ((c = submin(ix, lo, mid, key, sub)) < m)
		m = c;
	if ((c = submin(ix, mid + 1, hi, key, sub)) < m)
		m = c;
	sub[mid] = m;
	return m;
}

/* Fills sub (one entry per point) with the least key of each subtree. */
void
sf__plan_index_submin(const struct sf__plan_index *ix, const int64_t *key, int64_t *sub)
{
	submin(ix, 0, ix->n, key, sub);
}

/*
 * Whether a point at squared chord c2 may lie nearer than metres: the arc is
 * at least R x chord, so this never rules out one that does.
 */
static bool
may_be_within(double c2, int64_t metres)
{
	double r = (double)metres;

	return metres >= 0 && SF_GEO_EARTH_RADIUS_M * SF_GEO_EARTH_RADIUS_M * c2 <= r * r;
}

/* Appends the points of [lo, hi) that may lie nearer than limit - key. */
static int
within_keyed(const struct sf__plan_index *ix, size_t lo, size_t hi, const double *q,
             const int64_t *key, const int64_t *sub, int64_t limit, uint32_t **buf, size_t *n,
             size_t *cap)
{
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, lmid = lo + (mid - lo) / 2;
		size_t rmid = mid + 1 + (hi - mid - 1) / 2;
		int d = ix->dim[mid], rc;
		double diff;

		if (limit - sub[mid] < 0)
			return 0;
		if (may_be_within(chord2(q, ix->xyz + 3 * mid), limit - key[ix->id[mid]])) {
			if (*n == *cap) {
				size_t nc = *cap ? *cap * 2 : 64;
				uint32_t *nb = realloc(*buf, nc * sizeof *nb);
				if (!nb)
					return SF_ENOMEM;
				*buf = nb;
				*cap = nc;
			}
			(*buf)[(*n)++] = ix->id[mid];
		}
		if (hi - lo == 1)
			return 0;
		diff = q[d] - ix->xyz[3 * mid + d];
		if (diff < 0) {
			if (lo < mid &&
			    (rc = within_keyed(ix, lo, mid, q, key, sub, limit, buf, n, cap)) != 0)
				return rc;
			if (mid + 1 >= hi || !may_be_within(diff * diff, limit - sub[rmid]))
				return 0;
			lo = mid + 1;
		} else {
			if (mid + 1 < hi && (rc = within_keyed(ix, mid + 1, hi, q, key, sub, limit,
			                                       buf, n, cap)) != 0)
				return rc;
			if (lo >= mid || !may_be_within(diff * diff, limit - sub[lmid]))
				return 0;
			hi = mid;
		}
	}
	return 0;
}

/* Appends the ids of the points that may lie nearer than limit - key[id]. */
int
sf__plan_index_within_keyed(const struct sf__plan_index *ix, const double q[3], const int64_t *key,
                            const int64_t *sub, int64_t limit, uint32_t **buf, size_t *n,
                            size_t *cap)
{
	if (ix->n == 0)
		return 0;
	return within_keyed(ix, 0, ix->n, q, key, sub, limit, buf, n, cap);
}
