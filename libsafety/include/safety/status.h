/*
 * The status of a person in a crisis and the one precedence rule that turns a
 * stream of answers (SMS, web, e-mail, staff, a household member, the system)
 * into that person's current status. Every channel goes through
 * sf_status_apply(), so the rule is written once; its design note is
 * libsafety/src/status.md.
 */
#ifndef SAFETY_STATUS_H
#define SAFETY_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sf_status {
	SF_STATUS_UNKNOWN, /* not asked */
	SF_STATUS_PENDING, /* asked, no classified answer */
	SF_STATUS_SAFE,
	SF_STATUS_NEEDS_HELP,
	SF_STATUS_INJURED,
	SF_STATUS_NEEDS_EVACUATION,
	SF_STATUS_EVACUATED,   /* ticked off at an assembly point or shelter */
	SF_STATUS_UNREACHABLE, /* every channel failed */
	SF_STATUS_MISSING,     /* staff only */
	SF_STATUS_DECEASED,    /* staff only */
};

#define SF_STATUS_COUNT (SF_STATUS_DECEASED + 1)

/* Where an event comes from. */
enum sf_status_source {
	SF_STATUS_SOURCE_SMS,
	SF_STATUS_SOURCE_WEB,
	SF_STATUS_SOURCE_EMAIL,
	SF_STATUS_SOURCE_STAFF,  /* a staff member decided or entered it */
	SF_STATUS_SOURCE_PROXY,  /* a household member answered for the person */
	SF_STATUS_SOURCE_SYSTEM, /* the daemon: asked, every channel failed, evacuation tick */
};

#define SF_STATUS_SOURCE_COUNT (SF_STATUS_SOURCE_SYSTEM + 1)

/*
 * The current status of one person in one crisis, as stored in person_status.
 * A zero-initialised struct is the state of a person nobody asked yet
 * (SF_STATUS_UNKNOWN, no flags).
 */
struct sf_status_state {
	enum sf_status status;
	int64_t at_ms;     /* time of the event that set the status (ms since the epoch) */
	bool set_by_staff; /* a staff decision: only staff change the status now */
	bool needs_review; /* an answer staff must read: unclassified, or contradicting staff */
	bool duress;       /* the duress word was used: only staff clear it */
	bool confirm_safe; /* safe after needs_help/injured/needs_evacuation: a human confirms */
	bool by_proxy;     /* the status came from a household member's answer */
	/*
	 * The newest answer from the person and the newest from a household
	 * member (SF_STATUS_UNKNOWN when there is none). A late answer is judged
	 * against both, which is what makes the result independent of arrival
	 * order; store them with the state. A state stored without them still
	 * works: they are rebuilt from status/at_ms/by_proxy, and only the
	 * order-independence of mixed own and proxy answers is lost.
	 */
	enum sf_status own_status;
	int64_t own_at_ms;
	enum sf_status proxy_status;
	int64_t proxy_at_ms;
	int64_t answered_at_ms; /* the newest answer of any kind, classified or not */
};

/* One answer or decision about a person, in the order it arrives. */
struct sf_status_event {
	enum sf_status status; /* ignored when unclassified, or for a duress answer */
	int64_t at_ms;         /* when the answer was given (ms since the epoch) */
	enum sf_status_source source;
	bool unclassified; /* a national's or proxy's answer the parser could not classify */
	/*
	 * A classified answer staff must read (the parser's guess, a number
	 * several people share): needs_review is raised; a help status counts
	 * as usual, a "safe" is held back as if unclassified.
	 */
	bool review;
	bool duress;       /* the national's duress word was used */
	bool clear_duress; /* STAFF only: the mission lead resolved the duress alert */
};

/*
 * Returns the lower-case name of a status ("needs_help"), or NULL for a value
 * outside the enum. The string is static.
 */
const char *sf_status_name(enum sf_status status);

/*
 * Parses a status name (exactly as sf_status_name() writes it) of len bytes
 * into *out. Returns 0, or SF_EINVAL for any other text or a NULL argument.
 */
int sf_status_parse(const char *name, size_t len, enum sf_status *out);

/*
 * Returns the rank of a state in staff work lists, 0 being the most urgent,
 * or SF_EINVAL for NULL or a status outside the enum. The order is: duress,
 * injured, needs_help, needs_evacuation, needs_review, confirm_safe, missing,
 * unreachable, pending, unknown, safe, evacuated, deceased; a state takes the
 * most urgent rank any of its parts earns.
 */
int sf_status_urgency(const struct sf_status_state *state);

/*
 * Applies one event to a person's current state and writes the new state to
 * *next (which may be the same object as *current); *changed tells whether
 * any field differs from *current (after the answer tracks of a state
 * stored without them are rebuilt). An event that the rules ignore is not an
 * error: it returns 0 with *changed false. Store every field of *next.
 *
 * Returns SF_EINVAL for a NULL argument, a value outside an enum, or an event
 * no channel can produce (see "valid events"), leaving *next and *changed
 * untouched.
 *
 * Terms. "Answer": an event from SMS, WEB, EMAIL (the person's own) or PROXY.
 * "Help": needs_help, injured or needs_evacuation. "More urgent": injured >
 * needs_help > needs_evacuation > safe. "Decision": a STAFF event or the
 * SYSTEM evacuation tick (a staff member ticks the person off). "Locked":
 * set_by_staff, or the status is missing, deceased or evacuated. Times are
 * compared by at_ms; at an equal at_ms the more urgent status wins, and an
 * answer at the same millisecond as a decision counts as older than it.
 *
 * Valid events:
 *   SMS/WEB/EMAIL/PROXY  status safe or a help status; or unclassified
 *                        (status ignored); or duress (status ignored)
 *   STAFF                any status but unknown; not unclassified;
 *                        clear_duress only without duress
 *   SYSTEM               pending, unreachable or evacuated; no flags
 *
 * Rules:
 *   any event, duress=true     raises duress (even when nothing else applies)
 *   STAFF, clear_duress        clears duress (only staff clears it)
 *   decision, locked, not newer than the locked status   status unchanged
 *   evacuated (decision)       only from pending, unreachable, safe or a
 *                              help status; otherwise unchanged
 *   decision otherwise         status := event, locked, by_proxy and
 *                              confirm_safe cleared; needs_review cleared
 *                              unless an answer newer than the decision has
 *                              already been received (then raised)
 *   SYSTEM pending             unknown -> pending; pending or unreachable
 *                              keep the earliest time; else unchanged
 *   SYSTEM unreachable         pending without needs_review -> unreachable
 *   answer, locked             status unchanged; needs_review raised if the
 *                              answer is newer than the decision and is
 *                              unclassified or says another status
 *   unclassified answer        needs_review raised; unknown and unreachable
 *                              -> pending; a status from an answer stays
 *   answer with review         needs_review raised; a "safe" is applied as an
 *                              unclassified answer, a help status as any
 *                              classified answer (so a later proxy "safe"
 *                              never overrides it)
 *   duress answer              counts as a "safe" answer
 *   classified answer          updates the newest own (SMS/WEB/EMAIL) or
 *                              proxy answer, then the status shown is the
 *                              person's own newest answer, unless the proxy's
 *                              newest is newer and at least as urgent (a
 *                              proxy never overrides the person's own worse
 *                              answer); with only one kind, that one
 *
 * confirm_safe: set when the status shown is safe and a help answer at or
 * before its time exists (safe after needs_help/injured/needs_evacuation);
 * cleared by any other status and by staff. needs_review and duress rise
 * with answers and fall only by staff.
 *
 * at_ms: the time of the answer or decision that set the status; for pending
 * and unreachable, when the person was first asked (or first answered).
 *
 * Order: for events with distinct times the result does not depend on
 * arrival order, provided the check-in's SYSTEM pending comes first and no
 * event newer than a decision arrives before it (decisions are made live;
 * answers may arrive late). When answers newer than a decision do arrive
 * before it, only needs_review can differ, and only by being raised. See
 * libsafety/src/status.md.
 */
int sf_status_apply(const struct sf_status_state *current, const struct sf_status_event *ev,
                    struct sf_status_state *next, bool *changed);

#endif
