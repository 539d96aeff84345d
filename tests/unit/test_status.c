/*
 * Unit tests of the status names, the work-list order and the precedence
 * rule: a table of (current state, event) cases, then properties checked on
 * random event sets delivered in shuffled orders.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/status.h>

/* States and events, written compactly. */
#define ST(s, at, ...)                                                                             \
	{                                                                                          \
		.status = SF_STATUS_##s, .at_ms = (at), __VA_ARGS__                                \
	}
#define STAFF_ .set_by_staff = true
#define REVIEW_ .needs_review = true
#define DURESS_ .duress = true
#define CONFIRM_ .confirm_safe = true
#define PROXY_ .by_proxy = true

#define EV(src, s, at, ...)                                                                        \
	{                                                                                          \
		.status = SF_STATUS_##s, .at_ms = (at), .source = SF_STATUS_SOURCE_##src,          \
		__VA_ARGS__                                                                        \
	}
#define SMS(s, at) EV(SMS, s, at)
#define WEB(s, at) EV(WEB, s, at)
#define EMAIL(s, at) EV(EMAIL, s, at)
#define PX(s, at) EV(PROXY, s, at)
#define UNCL(at) EV(SMS, UNKNOWN, at, .unclassified = true)
#define PXUNCL(at) EV(PROXY, UNKNOWN, at, .unclassified = true)
#define DUR(at) EV(SMS, UNKNOWN, at, .duress = true)
#define STF(s, at) EV(STAFF, s, at)
#define SYS(s, at) EV(SYSTEM, s, at)

struct apply_case {
	const char *name;
	struct sf_status_state cur;
	struct sf_status_event ev;
	int rc;
	struct sf_status_state want; /* compared on the visible fields */
	bool changed;
};

#define OK(name, cur, ev, want, changed)                                                           \
	{                                                                                          \
		name, cur, ev, 0, want, changed                                                    \
	}
#define BAD(name, cur, ...)                                                                        \
	{                                                                                          \
		name, cur, __VA_ARGS__, SF_EINVAL, ST(UNKNOWN, 0), false                           \
	}

static const struct apply_case apply_cases[] = {
    /* Nobody asked yet. */
    OK("unknown_asked_becomes_pending", ST(UNKNOWN, 0), SYS(PENDING, 10), ST(PENDING, 10), true),
    OK("unknown_sms_safe", ST(UNKNOWN, 0), SMS(SAFE, 10), ST(SAFE, 10), true),
    OK("unknown_sms_help", ST(UNKNOWN, 0), SMS(NEEDS_HELP, 10), ST(NEEDS_HELP, 10), true),
    OK("unknown_web_injured", ST(UNKNOWN, 0), WEB(INJURED, 10), ST(INJURED, 10), true),
    OK("unknown_email_needs_evacuation", ST(UNKNOWN, 0), EMAIL(NEEDS_EVACUATION, 10),
       ST(NEEDS_EVACUATION, 10), true),
    OK("unknown_unclassified_becomes_pending_for_review", ST(UNKNOWN, 0), UNCL(10),
       ST(PENDING, 10, REVIEW_), true),
    OK("unknown_duress_shows_safe_with_duress", ST(UNKNOWN, 0), DUR(10), ST(SAFE, 10, DURESS_),
       true),
    OK("unknown_proxy_safe_marked_by_proxy", ST(UNKNOWN, 0), PX(SAFE, 10), ST(SAFE, 10, PROXY_),
       true),
    OK("unknown_not_made_unreachable", ST(UNKNOWN, 0), SYS(UNREACHABLE, 10), ST(UNKNOWN, 0), false),
    OK("unknown_not_ticked_evacuated", ST(UNKNOWN, 0), SYS(EVACUATED, 10), ST(UNKNOWN, 0), false),
    OK("unknown_staff_missing", ST(UNKNOWN, 0), STF(MISSING, 10), ST(MISSING, 10, STAFF_), true),
    OK("unknown_staff_evacuated_refused", ST(UNKNOWN, 0), STF(EVACUATED, 10), ST(UNKNOWN, 0),
       false),
    OK("unknown_staff_pending", ST(UNKNOWN, 0), STF(PENDING, 10), ST(PENDING, 10, STAFF_), true),

    /* Asked, no answer. */
    OK("pending_keeps_first_ask_time", ST(PENDING, 5), SYS(PENDING, 3), ST(PENDING, 3), true),
    OK("pending_asked_again_unchanged", ST(PENDING, 5), SYS(PENDING, 8), ST(PENDING, 5), false),
    OK("pending_becomes_unreachable", ST(PENDING, 5), SYS(UNREACHABLE, 9), ST(UNREACHABLE, 5),
       true),
    OK("pending_with_answer_to_review_never_unreachable", ST(PENDING, 5, REVIEW_),
       SYS(UNREACHABLE, 9), ST(PENDING, 5, REVIEW_), false),
    OK("pending_any_answer_applies_even_older_than_ask", ST(PENDING, 5), SMS(SAFE, 3), ST(SAFE, 3),
       true),
    OK("pending_unclassified_needs_review", ST(PENDING, 5), UNCL(7), ST(PENDING, 5, REVIEW_), true),
    OK("pending_ticked_evacuated", ST(PENDING, 5), SYS(EVACUATED, 9), ST(EVACUATED, 9, STAFF_),
       true),
    OK("pending_staff_safe", ST(PENDING, 5), STF(SAFE, 9), ST(SAFE, 9, STAFF_), true),
    OK("pending_proxy_injured", ST(PENDING, 5), PX(INJURED, 10), ST(INJURED, 10, PROXY_), true),

    /* Every channel failed. */
    OK("unreachable_late_answer_applies", ST(UNREACHABLE, 5), SMS(SAFE, 4), ST(SAFE, 4), true),
    OK("unreachable_unclassified_back_to_pending", ST(UNREACHABLE, 5), UNCL(7),
       ST(PENDING, 5, REVIEW_), true),
    OK("unreachable_ticked_evacuated", ST(UNREACHABLE, 5), SYS(EVACUATED, 9),
       ST(EVACUATED, 9, STAFF_), true),
    OK("unreachable_not_pending_again", ST(UNREACHABLE, 5), SYS(PENDING, 9), ST(UNREACHABLE, 5),
       false),

    /* The person's own answers. */
    OK("newer_help_replaces_safe", ST(SAFE, 10), SMS(NEEDS_HELP, 20), ST(NEEDS_HELP, 20), true),
    OK("late_help_keeps_safe_but_flags_it", ST(SAFE, 10), SMS(NEEDS_HELP, 5),
       ST(SAFE, 10, CONFIRM_), true),
    OK("safe_after_help_flagged", ST(NEEDS_HELP, 10), SMS(SAFE, 20), ST(SAFE, 20, CONFIRM_), true),
    OK("safe_after_injured_flagged", ST(INJURED, 10), WEB(SAFE, 20), ST(SAFE, 20, CONFIRM_), true),
    OK("safe_after_needs_evacuation_flagged", ST(NEEDS_EVACUATION, 10), SMS(SAFE, 20),
       ST(SAFE, 20, CONFIRM_), true),
    OK("late_safe_never_replaces_newer_help", ST(NEEDS_HELP, 20), SMS(SAFE, 10), ST(NEEDS_HELP, 20),
       false),
    OK("confirm_kept_through_another_safe", ST(SAFE, 10, CONFIRM_), SMS(SAFE, 20),
       ST(SAFE, 20, CONFIRM_), true),
    OK("safe_after_safe_not_flagged", ST(SAFE, 10), SMS(SAFE, 20), ST(SAFE, 20), true),
    OK("newer_injured_replaces_help", ST(NEEDS_HELP, 10), SMS(INJURED, 20), ST(INJURED, 20), true),
    OK("help_at_same_ms_as_injured_loses", ST(INJURED, 10), SMS(NEEDS_HELP, 10), ST(INJURED, 10),
       false),
    OK("injured_at_same_ms_as_help_wins", ST(NEEDS_HELP, 10), SMS(INJURED, 10), ST(INJURED, 10),
       true),
    OK("same_answer_same_ms_no_change", ST(SAFE, 10), SMS(SAFE, 10), ST(SAFE, 10), false),
    OK("unclassified_keeps_status_flags_review", ST(SAFE, 10), UNCL(20), ST(SAFE, 10, REVIEW_),
       true),
    OK("help_then_help_more_recent_clears_nothing", ST(NEEDS_HELP, 10, CONFIRM_),
       SMS(NEEDS_EVACUATION, 20), ST(NEEDS_EVACUATION, 20), true),

    /* Duress. */
    OK("duress_after_help_shows_safe_flagged", ST(NEEDS_HELP, 10), DUR(20),
       ST(SAFE, 20, DURESS_, CONFIRM_), true),
    OK("duress_survives_ordinary_safe", ST(SAFE, 10, DURESS_), SMS(SAFE, 20), ST(SAFE, 20, DURESS_),
       true),
    OK("duress_survives_help", ST(SAFE, 10, DURESS_), SMS(NEEDS_HELP, 20),
       ST(NEEDS_HELP, 20, DURESS_), true),
    OK("late_duress_still_raises", ST(SAFE, 20), DUR(10), ST(SAFE, 20, DURESS_), true),
    OK("duress_on_staff_state_raises_and_asks_review", ST(MISSING, 10, STAFF_), DUR(20),
       ST(MISSING, 10, STAFF_, REVIEW_, DURESS_), true),
    OK("duress_by_proxy_counts_as_proxy_safe", ST(PENDING, 5),
       EV(PROXY, UNKNOWN, 10, .duress = true), ST(SAFE, 10, PROXY_, DURESS_), true),
    OK("duress_survives_staff_decision", ST(SAFE, 10, DURESS_), STF(SAFE, 20),
       ST(SAFE, 20, STAFF_, DURESS_), true),
    OK("staff_clears_duress", ST(SAFE, 10, DURESS_), EV(STAFF, SAFE, 20, .clear_duress = true),
       ST(SAFE, 20, .own_status = SF_STATUS_SAFE, .own_at_ms = 20, .answered_at_ms = 20), true),
    OK("staff_clear_with_missing_is_a_decision", ST(SAFE, 10, DURESS_),
       EV(STAFF, MISSING, 20, .clear_duress = true), ST(MISSING, 20, STAFF_), true),
    OK("older_staff_clear_still_clears_duress", ST(SAFE, 30, STAFF_, DURESS_),
       EV(STAFF, SAFE, 20, .clear_duress = true), ST(SAFE, 30, STAFF_), true),
    OK("staff_can_raise_duress", ST(SAFE, 10), EV(STAFF, SAFE, 20, .duress = true),
       ST(SAFE, 20, STAFF_, DURESS_), true),

    /* System events over answers. */
    OK("asked_again_after_answer_unchanged", ST(NEEDS_HELP, 10), SYS(PENDING, 30),
       ST(NEEDS_HELP, 10), false),
    OK("unreachable_never_over_answer", ST(SAFE, 10), SYS(UNREACHABLE, 30), ST(SAFE, 10), false),
    OK("tick_over_safe", ST(SAFE, 10), SYS(EVACUATED, 30), ST(EVACUATED, 30, STAFF_), true),
    OK("tick_over_needs_evacuation", ST(NEEDS_EVACUATION, 10), SYS(EVACUATED, 30),
       ST(EVACUATED, 30, STAFF_), true),
    OK("late_tick_applies_but_asks_review", ST(NEEDS_HELP, 10), SYS(EVACUATED, 5),
       ST(EVACUATED, 5, STAFF_, REVIEW_), true),

    /* Household members answering for the person. */
    OK("proxy_newer_same_status_replaces", ST(SAFE, 10), PX(SAFE, 20), ST(SAFE, 20, PROXY_), true),
    OK("proxy_never_overrides_own_worse", ST(INJURED, 10), PX(SAFE, 20), ST(INJURED, 10),
       true /* recorded */),
    OK("proxy_worse_overrides_own_safe", ST(SAFE, 10), PX(INJURED, 20), ST(INJURED, 20, PROXY_),
       true),
    OK("proxy_older_than_own_ignored_but_help_flags", ST(SAFE, 20), PX(NEEDS_HELP, 10),
       ST(SAFE, 20, CONFIRM_), true),
    OK("proxy_evacuation_less_urgent_than_own_help", ST(NEEDS_HELP, 10), PX(NEEDS_EVACUATION, 20),
       ST(NEEDS_HELP, 10), true /* recorded */),
    OK("proxy_help_more_urgent_than_own_evacuation", ST(NEEDS_EVACUATION, 10), PX(NEEDS_HELP, 20),
       ST(NEEDS_HELP, 20, PROXY_), true),
    OK("proxy_replaces_older_proxy", ST(SAFE, 10, PROXY_), PX(NEEDS_HELP, 20),
       ST(NEEDS_HELP, 20, PROXY_), true),
    OK("own_late_safe_under_newer_proxy_help", ST(NEEDS_HELP, 20, PROXY_), SMS(SAFE, 10),
       ST(NEEDS_HELP, 20, PROXY_), true /* recorded */),
    OK("own_late_injured_beats_newer_proxy_safe", ST(SAFE, 20, PROXY_), SMS(INJURED, 10),
       ST(INJURED, 10), true),
    OK("own_late_safe_under_newer_proxy_safe", ST(SAFE, 20, PROXY_), SMS(SAFE, 10),
       ST(SAFE, 20, PROXY_), true /* the own track is recorded */),
    OK("own_newer_replaces_proxy", ST(SAFE, 10, PROXY_), SMS(SAFE, 20), ST(SAFE, 20), true),
    OK("proxy_unclassified_flags_review", ST(SAFE, 10, PROXY_), PXUNCL(20),
       ST(SAFE, 10, PROXY_, REVIEW_), true),

    /* Staff decisions lock the status. */
    OK("staff_safe_then_newer_help_kept_for_review", ST(SAFE, 10, STAFF_), SMS(NEEDS_HELP, 20),
       ST(SAFE, 10, STAFF_, REVIEW_), true),
    OK("staff_safe_then_newer_safe_no_review", ST(SAFE, 10, STAFF_), SMS(SAFE, 20),
       ST(SAFE, 10, STAFF_), true /* answered_at moves */),
    OK("staff_safe_then_older_help_ignored", ST(SAFE, 10, STAFF_), SMS(NEEDS_HELP, 5),
       ST(SAFE, 10, STAFF_), true /* the own track is recorded */),
    OK("staff_then_newer_unclassified_review", ST(SAFE, 10, STAFF_), UNCL(20),
       ST(SAFE, 10, STAFF_, REVIEW_), true),
    OK("staff_then_older_unclassified_ignored", ST(SAFE, 10, STAFF_), UNCL(5), ST(SAFE, 10, STAFF_),
       true /* recorded */),
    OK("answer_same_ms_as_staff_counts_older", ST(SAFE, 10, STAFF_), SMS(NEEDS_HELP, 10),
       ST(SAFE, 10, STAFF_), true /* the own track is recorded */),
    OK("missing_not_changed_by_answer", ST(MISSING, 10, STAFF_), SMS(SAFE, 20),
       ST(MISSING, 10, STAFF_, REVIEW_), true),
    OK("missing_without_staff_flag_still_locked", ST(MISSING, 10), SMS(SAFE, 20),
       ST(MISSING, 10, REVIEW_), true),
    OK("deceased_not_changed_by_proxy", ST(DECEASED, 10, STAFF_), PX(SAFE, 20),
       ST(DECEASED, 10, STAFF_, REVIEW_), true),
    OK("missing_not_pending_again", ST(MISSING, 10, STAFF_), SYS(PENDING, 20),
       ST(MISSING, 10, STAFF_), false),
    OK("missing_not_ticked", ST(MISSING, 10, STAFF_), SYS(EVACUATED, 20), ST(MISSING, 10, STAFF_),
       false),
    OK("deceased_not_ticked", ST(DECEASED, 10, STAFF_), STF(EVACUATED, 20),
       ST(DECEASED, 10, STAFF_), false),
    OK("missing_found_by_staff", ST(MISSING, 10, STAFF_), STF(SAFE, 20), ST(SAFE, 20, STAFF_),
       true),
    OK("older_staff_decision_ignored", ST(SAFE, 20, STAFF_), STF(MISSING, 10), ST(SAFE, 20, STAFF_),
       false),
    OK("staff_decision_clears_review", ST(NEEDS_HELP, 10, STAFF_, REVIEW_), STF(NEEDS_HELP, 20),
       ST(NEEDS_HELP, 20, STAFF_), true),
    OK("staff_decision_clears_confirm", ST(SAFE, 10, CONFIRM_), STF(SAFE, 20), ST(SAFE, 20, STAFF_),
       true),
    OK("staff_decision_clears_proxy_mark", ST(SAFE, 10, PROXY_), STF(SAFE, 20),
       ST(SAFE, 20, STAFF_), true),
    OK("evacuated_not_changed_by_answer", ST(EVACUATED, 10, STAFF_), SMS(NEEDS_HELP, 20),
       ST(EVACUATED, 10, STAFF_, REVIEW_), true),
    OK("evacuated_changed_by_staff", ST(EVACUATED, 10, STAFF_), STF(INJURED, 20),
       ST(INJURED, 20, STAFF_), true),
    OK("staff_safe_then_tick", ST(SAFE, 10, STAFF_), SYS(EVACUATED, 20), ST(EVACUATED, 20, STAFF_),
       true),
    OK("late_staff_decision_stands_and_asks_review", ST(NEEDS_HELP, 20), STF(SAFE, 10),
       ST(SAFE, 10, STAFF_, REVIEW_), true),
    OK("staff_same_ms_more_urgent_wins", ST(SAFE, 10, STAFF_), STF(INJURED, 10),
       ST(INJURED, 10, STAFF_), true),
    OK("staff_same_ms_less_urgent_loses", ST(INJURED, 10, STAFF_), STF(SAFE, 10),
       ST(INJURED, 10, STAFF_), false),
    OK("staff_unreachable_locks", ST(PENDING, 5), STF(UNREACHABLE, 10), ST(UNREACHABLE, 10, STAFF_),
       true),
    OK("unclassified_with_stray_status_is_valid", ST(PENDING, 5),
       EV(SMS, MISSING, 7, .unclassified = true), ST(PENDING, 5, REVIEW_), true),

    /* Events no channel can produce. */
    BAD("sms_missing_invalid", ST(PENDING, 5), SMS(MISSING, 10)),
    BAD("sms_pending_invalid", ST(PENDING, 5), SMS(PENDING, 10)),
    BAD("sms_unknown_invalid", ST(PENDING, 5), SMS(UNKNOWN, 10)),
    BAD("proxy_evacuated_invalid", ST(PENDING, 5), PX(EVACUATED, 10)),
    BAD("web_deceased_invalid", ST(PENDING, 5), WEB(DECEASED, 10)),
    BAD("staff_unknown_invalid", ST(PENDING, 5), STF(UNKNOWN, 10)),
    BAD("staff_unclassified_invalid", ST(PENDING, 5), EV(STAFF, SAFE, 10, .unclassified = true)),
    BAD("system_safe_invalid", ST(PENDING, 5), SYS(SAFE, 10)),
    BAD("system_duress_invalid", ST(PENDING, 5), EV(SYSTEM, PENDING, 10, .duress = true)),
    BAD("system_unclassified_invalid", ST(PENDING, 5),
        EV(SYSTEM, PENDING, 10, .unclassified = true)),
    BAD("sms_clear_duress_invalid", ST(SAFE, 5, DURESS_), EV(SMS, SAFE, 10, .clear_duress = true)),
    BAD("staff_clear_and_raise_duress_invalid", ST(SAFE, 5),
        EV(STAFF, SAFE, 10, .clear_duress = true, .duress = true)),
    BAD("status_out_of_range_invalid", ST(PENDING, 5),
        {.status = (enum sf_status)42, .source = SF_STATUS_SOURCE_STAFF}),
    BAD("source_out_of_range_invalid", ST(PENDING, 5),
        {.status = SF_STATUS_SAFE, .source = (enum sf_status_source)9}),
    BAD("current_out_of_range_invalid", {.status = (enum sf_status) - 1}, SMS(SAFE, 10)),
};

/* Tells whether the fields a user of the state sees are equal, and prints them if not. */
static bool
visible_equal(const char *name, const struct sf_status_state *got,
              const struct sf_status_state *want)
{
	if (got->status == want->status && got->at_ms == want->at_ms &&
	    got->set_by_staff == want->set_by_staff && got->needs_review == want->needs_review &&
	    got->duress == want->duress && got->confirm_safe == want->confirm_safe &&
	    got->by_proxy == want->by_proxy)
		return true;
	print_error("%s: got %s@%lld staff=%d review=%d duress=%d confirm=%d proxy=%d, "
	            "want %s@%lld staff=%d review=%d duress=%d confirm=%d proxy=%d\n",
	            name, sf_status_name(got->status), (long long)got->at_ms, got->set_by_staff,
	            got->needs_review, got->duress, got->confirm_safe, got->by_proxy,
	            sf_status_name(want->status), (long long)want->at_ms, want->set_by_staff,
	            want->needs_review, want->duress, want->confirm_safe, want->by_proxy);
	return false;
}

static void
apply_follows_the_table(void **state)
{
	size_t n = sizeof apply_cases / sizeof apply_cases[0];
	int failures = 0;

	(void)state;
	assert_true(n >= 60);
	for (size_t i = 0; i < n; i++) {
		const struct apply_case *c = &apply_cases[i];
		struct sf_status_state next = {.status = SF_STATUS_DECEASED, .at_ms = -7};
		bool changed = !c->changed;
		int rc = sf_status_apply(&c->cur, &c->ev, &next, &changed);

		if (rc != c->rc) {
			print_error("%s: rc %d, want %d\n", c->name, rc, c->rc);
			failures++;
			continue;
		}
		if (rc != 0) {
			/* Untouched on error. */
			if (next.status != SF_STATUS_DECEASED || next.at_ms != -7) {
				print_error("%s: output written on error\n", c->name);
				failures++;
			}
			continue;
		}
		if (!visible_equal(c->name, &next, &c->want))
			failures++;
		else if (changed != c->changed) {
			print_error("%s: changed %d, want %d\n", c->name, changed, c->changed);
			failures++;
		}
	}
	print_message("%zu cases\n", n);
	assert_int_equal(failures, 0);
}

static void
apply_rejects_null(void **state)
{
	struct sf_status_state s = {0};
	struct sf_status_event e = SMS(SAFE, 1);
	bool changed;

	(void)state;
	assert_int_equal(sf_status_apply(NULL, &e, &s, &changed), SF_EINVAL);
	assert_int_equal(sf_status_apply(&s, NULL, &s, &changed), SF_EINVAL);
	assert_int_equal(sf_status_apply(&s, &e, NULL, &changed), SF_EINVAL);
	assert_int_equal(sf_status_apply(&s, &e, &s, NULL), SF_EINVAL);
}

/* Clearing duress with "safe" is no lock: a later call for help counts. */
static void
a_call_for_help_after_a_duress_clearing_counts(void **state)
{
	struct sf_status_state s = ST(SAFE, 10, DURESS_);
	struct sf_status_event clear = EV(STAFF, SAFE, 20, .clear_duress = true);
	struct sf_status_event help = SMS(NEEDS_HELP, 30);
	bool changed;

	(void)state;
	assert_int_equal(sf_status_apply(&s, &clear, &s, &changed), 0);
	assert_false(s.duress);
	assert_false(s.set_by_staff);
	assert_int_equal(sf_status_apply(&s, &help, &s, &changed), 0);
	assert_true(changed);
	assert_int_equal(s.status, SF_STATUS_NEEDS_HELP);
	assert_false(s.set_by_staff);
}

static void
apply_in_place(void **state)
{
	struct sf_status_state s = ST(NEEDS_HELP, 10);
	struct sf_status_event e = SMS(SAFE, 20);
	bool changed;

	(void)state;
	assert_int_equal(sf_status_apply(&s, &e, &s, &changed), 0);
	assert_true(changed);
	assert_int_equal(s.status, SF_STATUS_SAFE);
	assert_true(s.confirm_safe);
}

static void
apply_keeps_answer_tracks(void **state)
{
	struct sf_status_state s = {0};
	struct sf_status_event own = SMS(INJURED, 10), proxy = PX(SAFE, 20), later = SMS(SAFE, 15);
	bool changed;

	(void)state;
	assert_int_equal(sf_status_apply(&s, &own, &s, &changed), 0);
	assert_int_equal(sf_status_apply(&s, &proxy, &s, &changed), 0);
	/* The proxy's safe does not override the person's own "injured"... */
	assert_int_equal(s.status, SF_STATUS_INJURED);
	assert_int_equal(s.proxy_status, SF_STATUS_SAFE);
	assert_int_equal(s.proxy_at_ms, 20);
	/* ...but once the person says safe at 15, the proxy's newer safe is shown. */
	assert_int_equal(sf_status_apply(&s, &later, &s, &changed), 0);
	assert_int_equal(s.status, SF_STATUS_SAFE);
	assert_true(s.by_proxy);
	assert_int_equal(s.at_ms, 20);
	assert_true(s.confirm_safe);
	assert_int_equal(s.own_status, SF_STATUS_SAFE);
	assert_int_equal(s.own_at_ms, 15);
	assert_int_equal(s.answered_at_ms, 20);
}

static void
reviewed_call_for_help_counts_and_a_proxy_safe_does_not_override_it(void **state)
{
	struct sf_status_state s = {0};
	struct sf_status_event own = SMS(NEEDS_HELP, 10), proxy = PX(SAFE, 20);
	struct sf_status_event guess_safe = SMS(SAFE, 30);
	bool changed;

	(void)state;
	own.review = true;
	assert_int_equal(sf_status_apply(&s, &own, &s, &changed), 0);
	assert_int_equal(s.status, SF_STATUS_NEEDS_HELP);
	assert_true(s.needs_review);
	assert_int_equal(s.own_status, SF_STATUS_NEEDS_HELP);
	assert_int_equal(sf_status_apply(&s, &proxy, &s, &changed), 0);
	assert_int_equal(s.status, SF_STATUS_NEEDS_HELP);
	assert_false(s.by_proxy);
	/* A guessed "safe" is held back: the call for help stays shown. */
	guess_safe.review = true;
	assert_int_equal(sf_status_apply(&s, &guess_safe, &s, &changed), 0);
	assert_int_equal(s.status, SF_STATUS_NEEDS_HELP);
	assert_true(s.needs_review);
	assert_int_equal(s.answered_at_ms, 30);
	/* Staff never send a guess. */
	guess_safe.source = SF_STATUS_SOURCE_STAFF;
	assert_int_equal(sf_status_apply(&s, &guess_safe, &s, &changed), SF_EINVAL);
}

static void
apply_rebuilds_tracks_of_a_bare_state(void **state)
{
	/* A row stored with only the visible fields. */
	struct sf_status_state bare = ST(SAFE, 10, PROXY_), next;
	struct sf_status_event own = SMS(INJURED, 5);
	bool changed;

	(void)state;
	assert_int_equal(sf_status_apply(&bare, &own, &next, &changed), 0);
	assert_int_equal(next.status, SF_STATUS_INJURED);
	assert_false(next.by_proxy);
	assert_int_equal(next.proxy_status, SF_STATUS_SAFE);
	assert_int_equal(next.answered_at_ms, 10);
}

static void
status_names_round_trip(void **state)
{
	static const char *const names[] = {
	    "unknown",          "pending",   "safe",        "needs_help", "injured",
	    "needs_evacuation", "evacuated", "unreachable", "missing",    "deceased"};
	enum sf_status s;

	(void)state;
	assert_int_equal(sizeof names / sizeof names[0], SF_STATUS_COUNT);
	for (int i = 0; i < SF_STATUS_COUNT; i++) {
		assert_string_equal(sf_status_name((enum sf_status)i), names[i]);
		assert_int_equal(sf_status_parse(names[i], strlen(names[i]), &s), 0);
		assert_int_equal(s, i);
	}
	assert_null(sf_status_name((enum sf_status)SF_STATUS_COUNT));
	assert_null(sf_status_name((enum sf_status) - 1));
}

static void
status_parse_rejects_near_misses(void **state)
{
	static const char *const bad[] = {"",          "Safe", "safe ", " safe", "needs-help",
	                                  "needshelp", "SAFE", "saf",   "safe\n"};
	enum sf_status s = SF_STATUS_MISSING;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(sf_status_parse(bad[i], strlen(bad[i]), &s), SF_EINVAL);
	/* Length, not the terminator, bounds the name. */
	assert_int_equal(sf_status_parse("safety", 6, &s), SF_EINVAL);
	assert_int_equal(sf_status_parse("safex", 4, &s), 0);
	assert_int_equal(s, SF_STATUS_SAFE);
	assert_int_equal(sf_status_parse(NULL, 0, &s), SF_EINVAL);
	assert_int_equal(sf_status_parse("safe", 4, NULL), SF_EINVAL);
}

static void
urgency_orders_staff_lists(void **state)
{
	/* Most urgent first. */
	static const struct sf_status_state order[] = {
	    ST(SAFE, 0, DURESS_),
	    ST(INJURED, 0),
	    ST(NEEDS_HELP, 0),
	    ST(NEEDS_EVACUATION, 0),
	    ST(PENDING, 0, REVIEW_),
	    ST(SAFE, 0, CONFIRM_),
	    ST(MISSING, 0),
	    ST(UNREACHABLE, 0),
	    ST(PENDING, 0),
	    ST(UNKNOWN, 0),
	    ST(SAFE, 0),
	    ST(EVACUATED, 0),
	    ST(DECEASED, 0),
	};
	struct sf_status_state injured_review = ST(INJURED, 0, REVIEW_);
	struct sf_status_state bad = {.status = (enum sf_status)99};

	(void)state;
	for (size_t i = 0; i + 1 < sizeof order / sizeof order[0]; i++)
		assert_true(sf_status_urgency(&order[i]) < sf_status_urgency(&order[i + 1]));
	assert_int_equal(sf_status_urgency(&order[0]), 0);
	/* A state takes its most urgent part. */
	assert_int_equal(sf_status_urgency(&injured_review), sf_status_urgency(&order[1]));
	assert_int_equal(sf_status_urgency(NULL), SF_EINVAL);
	assert_int_equal(sf_status_urgency(&bad), SF_EINVAL);
}

/* A small deterministic generator, so a failure replays. */
struct rng {
	uint64_t s;
};

static uint32_t
rng_next(struct rng *r)
{
	r->s ^= r->s << 13;
	r->s ^= r->s >> 7;
	r->s ^= r->s << 17;
	return (uint32_t)(r->s >> 16);
}

static uint32_t
rng_below(struct rng *r, uint32_t n)
{
	return rng_next(r) % n;
}

/* The kinds of event the property tests draw from (clear_duress excluded: see status.md). */
static const struct sf_status_event event_kinds[] = {
    SMS(SAFE, 0),
    SMS(NEEDS_HELP, 0),
    WEB(INJURED, 0),
    SMS(NEEDS_EVACUATION, 0),
    UNCL(0),
    DUR(0),
    EMAIL(SAFE, 0),
    PX(SAFE, 0),
    PX(NEEDS_HELP, 0),
    PX(INJURED, 0),
    PX(NEEDS_EVACUATION, 0),
    PXUNCL(0),
    SYS(PENDING, 0),
    SYS(UNREACHABLE, 0),
    SYS(EVACUATED, 0),
    STF(SAFE, 0),
    STF(NEEDS_HELP, 0),
    STF(MISSING, 0),
    STF(PENDING, 0),
    SMS(SAFE, 0),
    SMS(NEEDS_HELP, 0),
    PX(SAFE, 0),
};

#define MAX_EVENTS 9

struct arrival {
	struct sf_status_event ev;
	int64_t arrives;
	uint32_t tie;
};

static bool
is_decision(const struct sf_status_event *e)
{
	return e->source == SF_STATUS_SOURCE_STAFF || e->source == SF_STATUS_SOURCE_SYSTEM;
}

/* Orders arrivals by arrival time, then by a random tie-breaker. */
static int
arrival_cmp(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;

	if (x->arrives != y->arrives)
		return x->arrives < y->arrives ? -1 : 1;
	return x->tie < y->tie ? -1 : x->tie > y->tie;
}

/* Orders events by time, the order they would have in a world without delays. */
static int
time_cmp(const void *a, const void *b)
{
	const struct arrival *x = a, *y = b;

	if (x->ev.at_ms != y->ev.at_ms)
		return x->ev.at_ms < y->ev.at_ms ? -1 : 1;
	return 0;
}

/* Folds events in array order over a check-in whose campaign asked at time 0. */
static void
fold(const struct arrival *a, int n, struct sf_status_state *out)
{
	struct sf_status_state s = {0};
	struct sf_status_event asked = SYS(PENDING, 0);
	bool changed;

	assert_int_equal(sf_status_apply(&s, &asked, &s, &changed), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(sf_status_apply(&s, &a[i].ev, &s, &changed), 0);
	*out = s;
}

static bool
state_equal_all(const struct sf_status_state *a, const struct sf_status_state *b, bool review)
{
	return a->status == b->status && a->at_ms == b->at_ms &&
	       a->set_by_staff == b->set_by_staff &&
	       (!review || a->needs_review == b->needs_review) && a->duress == b->duress &&
	       a->confirm_safe == b->confirm_safe && a->by_proxy == b->by_proxy &&
	       a->own_status == b->own_status && a->own_at_ms == b->own_at_ms &&
	       a->proxy_status == b->proxy_status && a->proxy_at_ms == b->proxy_at_ms &&
	       a->answered_at_ms == b->answered_at_ms;
}

/* Draws a set of events with distinct times (or times from a small range). */
static int
draw_events(struct rng *r, struct arrival *a, bool distinct)
{
	int n = 2 + (int)rng_below(r, MAX_EVENTS - 1);
	size_t nk = sizeof event_kinds / sizeof event_kinds[0];

	for (int i = 0; i < n; i++) {
		a[i].ev = event_kinds[rng_below(r, (uint32_t)nk)];
		a[i].ev.at_ms = distinct ? 1000 + 10 * i : 1000 + 10 * (int64_t)rng_below(r, 3);
	}
	/* Shuffle the times over the kinds. */
	for (int i = n - 1; i > 0 && distinct; i--) {
		int j = (int)rng_below(r, (uint32_t)i + 1);
		int64_t t = a[i].ev.at_ms;

		a[i].ev.at_ms = a[j].ev.at_ms;
		a[j].ev.at_ms = t;
	}
	return n;
}

/*
 * Gives every event an arrival time: answers arrive at their time plus any
 * delay; decisions at their own time, or (late_decisions) also delayed but
 * still in their own order.
 */
static void
draw_arrivals(struct rng *r, struct arrival *a, int n, bool late_decisions)
{
	int64_t last_decision = INT64_MIN;

	qsort(a, (size_t)n, sizeof a[0], time_cmp);
	for (int i = 0; i < n; i++) {
		a[i].tie = rng_next(r);
		if (!is_decision(&a[i].ev)) {
			a[i].arrives = a[i].ev.at_ms + (int64_t)rng_below(r, 120);
			continue;
		}
		a[i].arrives = a[i].ev.at_ms;
		if (late_decisions)
			a[i].arrives += (int64_t)rng_below(r, 120);
		if (a[i].arrives <= last_decision)
			a[i].arrives = last_decision + 1;
		last_decision = a[i].arrives;
	}
	qsort(a, (size_t)n, sizeof a[0], arrival_cmp);
}

static void
dump(const char *what, const struct arrival *a, int n, const struct sf_status_state *s)
{
	print_error("%s:", what);
	for (int i = 0; i < n; i++)
		print_error(" %d:%s@%lld%s%s", (int)a[i].ev.source,
		            a[i].ev.unclassified ? "uncl" : sf_status_name(a[i].ev.status),
		            (long long)a[i].ev.at_ms, a[i].ev.duress ? "+duress" : "",
		            is_decision(&a[i].ev) ? "(decision)" : "");
	print_error(" -> %s@%lld review=%d confirm=%d proxy=%d\n", sf_status_name(s->status),
	            (long long)s->at_ms, s->needs_review, s->confirm_safe, s->by_proxy);
}

static void
late_answers_do_not_change_the_result(void **state)
{
	struct rng r = {0x9e3779b97f4a7c15ULL};

	(void)state;
	for (int set = 0; set < 3000; set++) {
		struct arrival a[MAX_EVENTS];
		struct sf_status_state want, got;
		int n = draw_events(&r, a, true);

		qsort(a, (size_t)n, sizeof a[0], time_cmp);
		fold(a, n, &want);
		for (int shuffle = 0; shuffle < 40; shuffle++) {
			draw_arrivals(&r, a, n, false);
			fold(a, n, &got);
			if (!state_equal_all(&got, &want, true)) {
				qsort(a, (size_t)n, sizeof a[0], time_cmp);
				dump("in time order", a, n, &want);
				draw_arrivals(&r, a, n, false);
				dump("arrived", a, n, &got);
				fail();
			}
		}
	}
}

static void
late_decisions_only_raise_review(void **state)
{
	struct rng r = {0x2545f4914f6cdd1dULL};

	(void)state;
	for (int set = 0; set < 3000; set++) {
		struct arrival a[MAX_EVENTS];
		struct sf_status_state want, got;
		int n = draw_events(&r, a, true);

		qsort(a, (size_t)n, sizeof a[0], time_cmp);
		fold(a, n, &want);
		for (int shuffle = 0; shuffle < 40; shuffle++) {
			draw_arrivals(&r, a, n, true);
			fold(a, n, &got);
			if (!state_equal_all(&got, &want, false) ||
			    (want.needs_review && !got.needs_review)) {
				dump("arrived", a, n, &got);
				fail();
			}
		}
	}
}

static void
equal_times_give_one_result(void **state)
{
	struct rng r = {0xda942042e4dd58b5ULL};

	(void)state;
	for (int set = 0; set < 3000; set++) {
		struct arrival a[MAX_EVENTS];
		struct sf_status_state first, got;
		int n = draw_events(&r, a, false);

		draw_arrivals(&r, a, n, false);
		fold(a, n, &first);
		for (int shuffle = 0; shuffle < 40; shuffle++) {
			draw_arrivals(&r, a, n, false);
			fold(a, n, &got);
			if (!state_equal_all(&got, &first, true)) {
				dump("arrived", a, n, &got);
				fail();
			}
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(apply_follows_the_table),
	    cmocka_unit_test(apply_rejects_null),
	    cmocka_unit_test(apply_in_place),
	    cmocka_unit_test(a_call_for_help_after_a_duress_clearing_counts),
	    cmocka_unit_test(apply_keeps_answer_tracks),
	    cmocka_unit_test(reviewed_call_for_help_counts_and_a_proxy_safe_does_not_override_it),
	    cmocka_unit_test(apply_rebuilds_tracks_of_a_bare_state),
	    cmocka_unit_test(status_names_round_trip),
	    cmocka_unit_test(status_parse_rejects_near_misses),
	    cmocka_unit_test(urgency_orders_staff_lists),
	    cmocka_unit_test(late_answers_do_not_change_the_result),
	    cmocka_unit_test(late_decisions_only_raise_review),
	    cmocka_unit_test(equal_times_give_one_result),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
