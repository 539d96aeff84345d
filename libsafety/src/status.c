/*
 * Status names, the staff work-list order and the precedence rule that
 * derives a person's current status from the answers and decisions about
 * them. The table in status.h and status.md is the specification; this file
 * follows it rule by rule.
 */
#include <safety/status.h>
#include <safety/error.h>

#include <string.h>

static const char *const status_names[SF_STATUS_COUNT] = {
    [SF_STATUS_UNKNOWN] = "unknown",     [SF_STATUS_PENDING] = "pending",
    [SF_STATUS_SAFE] = "safe",           [SF_STATUS_NEEDS_HELP] = "needs_help",
    [SF_STATUS_INJURED] = "injured",     [SF_STATUS_NEEDS_EVACUATION] = "needs_evacuation",
    [SF_STATUS_EVACUATED] = "evacuated", [SF_STATUS_UNREACHABLE] = "unreachable",
    [SF_STATUS_MISSING] = "missing",     [SF_STATUS_DECEASED] = "deceased",
};

/* Ranks in staff work lists, 0 first; the flags' ranks sit in between. */
enum {
	RANK_DURESS = 0,
	RANK_INJURED,
	RANK_NEEDS_HELP,
	RANK_NEEDS_EVACUATION,
	RANK_NEEDS_REVIEW,
	RANK_CONFIRM_SAFE,
	RANK_MISSING,
	RANK_UNREACHABLE,
	RANK_PENDING,
	RANK_UNKNOWN,
	RANK_SAFE,
	RANK_EVACUATED,
	RANK_DECEASED,
};

static const int status_rank[SF_STATUS_COUNT] = {
    [SF_STATUS_UNKNOWN] = RANK_UNKNOWN,     [SF_STATUS_PENDING] = RANK_PENDING,
    [SF_STATUS_SAFE] = RANK_SAFE,           [SF_STATUS_NEEDS_HELP] = RANK_NEEDS_HELP,
    [SF_STATUS_INJURED] = RANK_INJURED,     [SF_STATUS_NEEDS_EVACUATION] = RANK_NEEDS_EVACUATION,
    [SF_STATUS_EVACUATED] = RANK_EVACUATED, [SF_STATUS_UNREACHABLE] = RANK_UNREACHABLE,
    [SF_STATUS_MISSING] = RANK_MISSING,     [SF_STATUS_DECEASED] = RANK_DECEASED,
};

/* Tells whether a value is one of the enum's statuses. */
static bool
status_valid(enum sf_status s)
{
	return (unsigned)s < SF_STATUS_COUNT;
}

/* Tells whether a status is one of the three calls for help. */
static bool
status_is_help(enum sf_status s)
{
	return s == SF_STATUS_NEEDS_HELP || s == SF_STATUS_INJURED ||
	       s == SF_STATUS_NEEDS_EVACUATION;
}

/* Tells whether a status is one a national's answer can carry. */
static bool
status_is_answer(enum sf_status s)
{
	return s == SF_STATUS_SAFE || status_is_help(s);
}

/* Tells whether a status means the person has not answered yet. */
static bool
status_is_unanswered(enum sf_status s)
{
	return s == SF_STATUS_UNKNOWN || s == SF_STATUS_PENDING || s == SF_STATUS_UNREACHABLE;
}

/* Compares the urgency of two statuses: > 0 when a is more urgent than b. */
static int
status_cmp_urgency(enum sf_status a, enum sf_status b)
{
	return status_rank[b] - status_rank[a];
}

/* Returns the name of a status. */
const char *
sf_status_name(enum sf_status status)
{
	if (!status_valid(status))
		return NULL;
	return status_names[status];
}

/* Parses a status name. */
int
sf_status_parse(const char *name, size_t len, enum sf_status *out)
{
	if (name == NULL || out == NULL)
		return SF_EINVAL;
	for (int i = 0; i < SF_STATUS_COUNT; i++) {
		if (strlen(status_names[i]) == len && memcmp(status_names[i], name, len) == 0) {
			*out = (enum sf_status)i;
			return 0;
		}
	}
	return SF_EINVAL;
}

/* Returns the work-list rank of a state. */
int
sf_status_urgency(const struct sf_status_state *state)
{
	int rank;

	if (state == NULL || !status_valid(state->status))
		return SF_EINVAL;
	rank = status_rank[state->status];
	if (state->confirm_safe && rank > RANK_CONFIRM_SAFE)
		rank = RANK_CONFIRM_SAFE;
	if (state->needs_review && rank > RANK_NEEDS_REVIEW)
		rank = RANK_NEEDS_REVIEW;
	if (state->duress)
		rank = RANK_DURESS;
	return rank;
}

/* Tells whether an event is one some channel can produce. */
static bool
event_valid(const struct sf_status_event *ev)
{
	if ((unsigned)ev->source >= SF_STATUS_SOURCE_COUNT)
		return false;
	if (ev->clear_duress && (ev->source != SF_STATUS_SOURCE_STAFF || ev->duress))
		return false;
	switch (ev->source) {
	case SF_STATUS_SOURCE_STAFF:
		return !ev->unclassified && !ev->review && status_valid(ev->status) &&
		       ev->status != SF_STATUS_UNKNOWN;
	case SF_STATUS_SOURCE_SYSTEM:
		return !ev->unclassified && !ev->review && !ev->duress &&
		       (ev->status == SF_STATUS_PENDING || ev->status == SF_STATUS_UNREACHABLE ||
		        ev->status == SF_STATUS_EVACUATED);
	default:
		return ev->duress || ev->unclassified ||
		       (status_valid(ev->status) && status_is_answer(ev->status));
	}
}

/* Tells whether only staff may change a state's status. */
static bool
state_locked(const struct sf_status_state *s)
{
	return s->set_by_staff || s->status == SF_STATUS_MISSING ||
	       s->status == SF_STATUS_DECEASED || s->status == SF_STATUS_EVACUATED;
}

/*
 * Tells whether an event of status s at time at is newer than the state;
 * at an equal time the more urgent status wins so that the result does not
 * depend on which of the two arrived first.
 */
static bool
newer(int64_t at, enum sf_status s, const struct sf_status_state *cur)
{
	if (at != cur->at_ms)
		return at > cur->at_ms;
	return status_cmp_urgency(s, cur->status) > 0;
}

/* Tells whether two states are equal field by field. */
static bool
state_equal(const struct sf_status_state *a, const struct sf_status_state *b)
{
	return a->status == b->status && a->at_ms == b->at_ms &&
	       a->set_by_staff == b->set_by_staff && a->needs_review == b->needs_review &&
	       a->duress == b->duress && a->confirm_safe == b->confirm_safe &&
	       a->by_proxy == b->by_proxy && a->own_status == b->own_status &&
	       a->own_at_ms == b->own_at_ms && a->proxy_status == b->proxy_status &&
	       a->proxy_at_ms == b->proxy_at_ms && a->answered_at_ms == b->answered_at_ms;
}

/*
 * Tells whether answer (s, at) replaces the newest answer of its kind
 * (cur_s, cur_at); at an equal time the more urgent one is kept, so the
 * result does not depend on which of the two arrived first.
 */
static bool
track_newer(enum sf_status s, int64_t at, enum sf_status cur_s, int64_t cur_at)
{
	if (cur_s == SF_STATUS_UNKNOWN)
		return true;
	if (at != cur_at)
		return at > cur_at;
	return status_cmp_urgency(s, cur_s) > 0;
}

/*
 * Fills in the answer tracks of a state stored without them, from the status
 * the answer set; a track holding something other than an answer is dropped.
 */
static void
state_normalize(struct sf_status_state *s)
{
	if (!status_is_answer(s->own_status))
		s->own_status = SF_STATUS_UNKNOWN;
	if (!status_is_answer(s->proxy_status))
		s->proxy_status = SF_STATUS_UNKNOWN;
	if (s->own_status != SF_STATUS_UNKNOWN || s->proxy_status != SF_STATUS_UNKNOWN)
		return;
	if (s->set_by_staff || !status_is_answer(s->status))
		return;
	if (s->answered_at_ms < s->at_ms)
		s->answered_at_ms = s->at_ms;
	if (s->by_proxy) {
		s->proxy_status = s->status;
		s->proxy_at_ms = s->at_ms;
	} else {
		s->own_status = s->status;
		s->own_at_ms = s->at_ms;
	}
}

/*
 * Derives the status shown from the two answer tracks: the person's own
 * newest answer, unless the household member's is newer and at least as
 * urgent (a proxy never overrides the person's own worse answer).
 */
static void
state_derive(struct sf_status_state *s)
{
	bool proxy;

	if (s->own_status == SF_STATUS_UNKNOWN)
		proxy = true;
	else if (s->proxy_status == SF_STATUS_UNKNOWN)
		proxy = false;
	else
		proxy = s->proxy_at_ms > s->own_at_ms &&
		        status_cmp_urgency(s->proxy_status, s->own_status) >= 0;
	s->status = proxy ? s->proxy_status : s->own_status;
	s->at_ms = proxy ? s->proxy_at_ms : s->own_at_ms;
	s->by_proxy = proxy;
}

/* Applies a staff decision (or the system's evacuation tick, which a staff member made). */
static void
apply_staff(const struct sf_status_state *cur, const struct sf_status_event *ev,
            struct sf_status_state *n)
{
	bool review;

	if (ev->clear_duress)
		n->duress = false;
	if (state_locked(cur)) {
		/* Between staff decisions the newest stands; at an equal time the more urgent. */
		if (!newer(ev->at_ms, ev->status, cur))
			return;
	}
	/*
	 * A tick means a staff member saw the person, so an unreachable person
	 * can be ticked too: their answer may simply not have arrived yet.
	 */
	if (ev->status == SF_STATUS_EVACUATED && cur->status != SF_STATUS_PENDING &&
	    cur->status != SF_STATUS_UNREACHABLE && cur->status != SF_STATUS_SAFE &&
	    !status_is_help(cur->status))
		return;
	/*
	 * A decision that arrives after a newer answer still stands (in time
	 * order it would have locked the state before that answer came), but
	 * nobody has read that answer in the light of the decision: ask for a
	 * review. In time order the review would be raised only if the answer
	 * said otherwise; which answers came after the decision is not kept, so
	 * this errs on the side of asking.
	 */
	review = cur->answered_at_ms > ev->at_ms;
	n->status = ev->status;
	n->at_ms = ev->at_ms;
	n->set_by_staff = true;
	n->by_proxy = false;
	n->confirm_safe = false;
	n->needs_review = review;
}

/* Applies a system event that is not an evacuation tick. */
static void
apply_system(const struct sf_status_state *cur, const struct sf_status_event *ev,
             struct sf_status_state *n)
{
	if (state_locked(cur))
		return;
	if (ev->status == SF_STATUS_PENDING) {
		/* at_ms of an unanswered state is when the person was first asked. */
		if (cur->status == SF_STATUS_UNKNOWN) {
			n->status = SF_STATUS_PENDING;
			n->at_ms = ev->at_ms;
		} else if (status_is_unanswered(cur->status) && ev->at_ms < cur->at_ms) {
			n->at_ms = ev->at_ms;
		}
		return;
	}
	/* Unreachable: never over someone who answered, even unclassified. */
	if (cur->status == SF_STATUS_PENDING && !cur->needs_review)
		n->status = SF_STATUS_UNREACHABLE;
}

/* Applies an unclassified answer. */
static void
apply_unclassified(const struct sf_status_state *cur, const struct sf_status_event *ev,
                   struct sf_status_state *n)
{
	if (ev->at_ms > n->answered_at_ms)
		n->answered_at_ms = ev->at_ms;
	if (state_locked(cur)) {
		/* An answer older than the staff decision was in front of them when they made it.
		 */
		if (ev->at_ms > cur->at_ms)
			n->needs_review = true;
		return;
	}
	n->needs_review = true;
	if (cur->status == SF_STATUS_UNKNOWN) {
		n->status = SF_STATUS_PENDING;
		n->at_ms = ev->at_ms;
	} else if (status_is_unanswered(cur->status)) {
		/* They answered, so a channel works: unreachable goes back to pending. */
		n->status = SF_STATUS_PENDING;
		if (ev->at_ms < cur->at_ms)
			n->at_ms = ev->at_ms;
	}
}

/* Applies a classified answer from the person or from a household member. */
static void
apply_answer(const struct sf_status_state *cur, const struct sf_status_event *ev,
             struct sf_status_state *n)
{
	enum sf_status s = ev->duress ? SF_STATUS_SAFE : ev->status;

	if (ev->at_ms > n->answered_at_ms)
		n->answered_at_ms = ev->at_ms;
	if (ev->source == SF_STATUS_SOURCE_PROXY) {
		if (track_newer(s, ev->at_ms, n->proxy_status, n->proxy_at_ms)) {
			n->proxy_status = s;
			n->proxy_at_ms = ev->at_ms;
		}
	} else if (track_newer(s, ev->at_ms, n->own_status, n->own_at_ms)) {
		n->own_status = s;
		n->own_at_ms = ev->at_ms;
	}
	if (state_locked(cur)) {
		/* Staff decided; a later word that says otherwise is shown to them, not applied. */
		if (ev->at_ms > cur->at_ms && s != cur->status)
			n->needs_review = true;
		return;
	}
	state_derive(n);
	/*
	 * "Safe" after a call for help is kept but confirmed by a human. A call
	 * for help older than the "safe" shown came before it in time, even when
	 * it arrives after it.
	 */
	if (n->status != SF_STATUS_SAFE)
		n->confirm_safe = false;
	else
		n->confirm_safe = status_is_help(cur->status) ||
		                  (cur->status == SF_STATUS_SAFE && cur->confirm_safe) ||
		                  (status_is_help(s) && ev->at_ms <= n->at_ms);
}

/* Applies one event to a state. */
int
sf_status_apply(const struct sf_status_state *current, const struct sf_status_event *ev,
                struct sf_status_state *next, bool *changed)
{
	struct sf_status_state cur, n;

	if (current == NULL || ev == NULL || next == NULL || changed == NULL)
		return SF_EINVAL;
	if (!status_valid(current->status) || !event_valid(ev))
		return SF_EINVAL;
	cur = *current;
	state_normalize(&cur);
	n = cur;
	if (ev->duress)
		n.duress = true;
	if (ev->source == SF_STATUS_SOURCE_STAFF && ev->clear_duress &&
	    status_is_answer(ev->status)) {
		/*
		 * Clearing a duress alert with what the person said ("safe") is
		 * their answer, relayed: it does not lock the status, so a later
		 * call for help counts as usual.
		 */
		n.duress = false;
		apply_answer(&cur, ev, &n);
	} else if (ev->source == SF_STATUS_SOURCE_STAFF ||
	           (ev->source == SF_STATUS_SOURCE_SYSTEM && ev->status == SF_STATUS_EVACUATED))
		apply_staff(&cur, ev, &n);
	else if (ev->source == SF_STATUS_SOURCE_SYSTEM)
		apply_system(&cur, ev, &n);
	else if ((ev->unclassified || (ev->review && ev->status == SF_STATUS_SAFE)) && !ev->duress)
		apply_unclassified(&cur, ev, &n);
	else {
		apply_answer(&cur, ev, &n);
		/* A guess is applied (a call for help counts at once) and read by staff. */
		if (ev->review && !(state_locked(&cur) && ev->at_ms <= cur.at_ms))
			n.needs_review = true;
	}
	*changed = !state_equal(&cur, &n);
	*next = n;
	return 0;
}
