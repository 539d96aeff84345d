/*
 * The evacuation planner: households to shelters and into vehicle groups.
 * Households are never split; shelters never exceed their capacity; a
 * household needing medical care or a wheelchair goes only where there is
 * one. The total of people x distance is minimised, and the plan comes with
 * the splittable relaxation's optimum as a proven lower bound, so staff can
 * see how close to perfect it is. Pure computation: no I/O, no globals, the
 * same input gives the same plan byte for byte; see src/plan.md.
 */
#ifndef SAFETY_PLAN_H
#define SAFETY_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <safety/geo.h>

/* A distance-matrix entry for "no road from this household to this shelter". */
#define SF_PLAN_UNREACHABLE UINT32_MAX
/* Index fields use this for "none". */
#define SF_PLAN_NONE (-1)
/* People in one household at most, and in one plan at most. */
#define SF_PLAN_HOUSEHOLD_PEOPLE_MAX 1000
#define SF_PLAN_PEOPLE_MAX 10000000

/* What a household needs (bits of sf_plan_household.needs). */
enum sf_plan_need {
	SF_PLAN_NEED_MEDICAL = 1 << 0,    /* only to a shelter with medical care */
	SF_PLAN_NEED_WHEELCHAIR = 1 << 1, /* only to an accessible shelter */
	SF_PLAN_NEED_CHILD = 1 << 2,
	SF_PLAN_NEED_ELDERLY = 1 << 3,
	SF_PLAN_NEED_PREGNANT = 1 << 4,
};

/* What a shelter offers (bits of sf_plan_shelter.facilities). */
enum sf_plan_facility {
	SF_PLAN_FACILITY_MEDICAL = 1 << 0,
	SF_PLAN_FACILITY_ACCESSIBLE = 1 << 1,
};

/* People who move together; where, how many, what they need. */
struct sf_plan_household {
	struct sf_point where;
	uint32_t people;  /* 1 to SF_PLAN_HOUSEHOLD_PEOPLE_MAX */
	unsigned needs;   /* SF_PLAN_NEED_* bits */
	int priority;     /* higher leaves earlier (injured first); 0 for most */
	int32_t previous; /* re-planning: index of its shelter in the previous plan, or -1 */
};

/* A shelter (or hotel, airport, border crossing): a place people stay. */
struct sf_plan_shelter {
	struct sf_point where;
	uint32_t capacity;   /* people it holds in all */
	uint32_t occupancy;  /* people already there, not planned by us */
	unsigned facilities; /* SF_PLAN_FACILITY_* bits */
	bool open;
};

/* A designated assembly point where a vehicle picks a group up. */
struct sf_plan_assembly_point {
	struct sf_point where;
	bool open;
};

/* A vehicle; groups are at most the largest vehicle's seats. */
struct sf_plan_vehicle {
	uint32_t seats;
};

/* The problem. Every array is borrowed for the duration of the call. */
struct sf_plan_input {
	const struct sf_plan_household *households;
	size_t nhouseholds;
	const struct sf_plan_shelter *shelters;
	size_t nshelters;
	const struct sf_plan_assembly_point *assembly_points; /* may be NULL */
	size_t nassembly_points;
	const struct sf_plan_vehicle *vehicles; /* may be NULL: then options.group_seats */
	size_t nvehicles;
	/*
	 * Optional distances in metres instead of great-circle ones (road
	 * distances from a routing engine): nhouseholds rows of nshelters,
	 * row-major, SF_PLAN_UNREACHABLE where there is no way. NULL: great
	 * circle. Groups and assembly points always use great-circle distances.
	 */
	const uint32_t *distance_m;
};

/* Which comes first: where people go, or with whom they ride. */
enum sf_plan_mode {
	/* Households to shelters (minimum people x distance), then groups per shelter. */
	SF_PLAN_ASSIGN_FIRST,
	/*
	 * Vehicle groups of people close together first (full vehicles), then
	 * each group whole to one shelter, measured from its assembly point.
	 */
	SF_PLAN_GROUP_FIRST,
};

/* Stage names given to the progress callback. */
enum sf_plan_stage {
	SF_PLAN_STAGE_CANDIDATES, /* nearest feasible shelters of every household */
	SF_PLAN_STAGE_FLOW,       /* the relaxation, priced against every shelter */
	SF_PLAN_STAGE_ROUNDING,   /* households made whole, local search */
	SF_PLAN_STAGE_GROUPS,     /* vehicle groups, assembly points, order */
	SF_PLAN_STAGE_DONE,
};

/* Called from the planning thread when a stage starts; must not call back into the planner. */
typedef void (*sf_plan_progress_cb)(void *arg, enum sf_plan_stage stage);

/* How to plan; fill with sf_plan_options_init, then change what differs. */
struct sf_plan_options {
	enum sf_plan_mode mode;
	uint32_t max_distance_m; /* no shelter farther than this; 0 = no limit */
	/*
	 * Re-planning: a person is moved away from their previous shelter only
	 * when that saves more than this many metres, theirs or others' (it is
	 * added to the cost of every other shelter, per person). Default 2,000.
	 */
	uint32_t move_penalty_m;
	uint32_t candidates;  /* nearest feasible shelters kept per household first; default 8 */
	uint32_t group_seats; /* group size when there are no vehicles; 0 = no groups */
	uint32_t
	    assembly_max_m;     /* an assembly point farther than this is not used; default 3,000 */
	uint32_t search_rounds; /* local search passes after rounding; default 50 */
	sf_plan_progress_cb progress; /* may be NULL */
	void *progress_arg;
};

/* Why a household has no shelter. */
enum sf_plan_unassigned {
	SF_PLAN_ASSIGNED = 0,
	SF_PLAN_NO_LOCATION,  /* its point is missing or invalid */
	SF_PLAN_NO_FACILITY,  /* no open shelter has the care or access it needs, full or not */
	SF_PLAN_OUT_OF_RANGE, /* such shelters exist, none within the maximum distance */
	SF_PLAN_NO_CAPACITY,  /* those in range are full, or too small for the household */
};

/* Whether and why a household's shelter differs from the previous plan's. */
enum sf_plan_move {
	SF_PLAN_STAYED = 0,      /* same shelter as before, or still none */
	SF_PLAN_NEW,             /* it had no shelter before */
	SF_PLAN_PREVIOUS_CLOSED, /* its previous shelter closed (or is no longer given) */
	SF_PLAN_PREVIOUS_UNFIT,  /* the previous shelter lacks what it needs now, or is too far */
	SF_PLAN_PREVIOUS_FULL,   /* the previous shelter has no room for everyone it had */
	SF_PLAN_CLOSER,          /* its own distance fell by more than the penalty */
	SF_PLAN_MAKES_ROOM,      /* moved so that others gain more than the penalties */
	SF_PLAN_DROPPED,         /* it had a shelter and now has none (see its reason) */
};

/* The outcome for one household (same index as the input). */
struct sf_plan_placement {
	int32_t shelter;     /* index into input shelters, or -1 */
	int32_t group;       /* index into the result's groups, or -1 */
	uint32_t distance_m; /* to the shelter (from the group's assembly point in GROUP_FIRST) */
	enum sf_plan_unassigned unassigned;
	enum sf_plan_move move;
};

/* A vehicle load of whole households leaving from one assembly point for one shelter. */
struct sf_plan_group {
	int32_t shelter;
	int32_t assembly_point; /* index into input assembly points, or -1: the medoid household */
	struct sf_point assembly; /* where it gathers */
	uint32_t people;
	uint32_t vulnerable; /* people in households with medical, wheelchair, child, elderly or
	                        pregnant needs */
	int priority;        /* the highest household priority in the group */
	uint32_t order;      /* departure order, 0 first: priority, then vulnerable people */
	int32_t vehicle;     /* index into input vehicles, or -1 when none were given */
	uint32_t wave;       /* 0: first departure of that vehicle, 1: its second trip, ... */
	uint64_t walk_m;     /* sum over members of people x distance to the assembly point */
	size_t first;        /* its households are members[first .. first + nmembers) */
	size_t nmembers;
};

/* Figures of a plan; costs in people x metres. */
struct sf_plan_stats {
	uint64_t cost;        /* of the plan: people x distance to their shelter */
	uint64_t penalty;     /* re-planning: people moved or dropped x move_penalty_m */
	uint64_t lower_bound; /* proven: no plan placing as many people costs less than this
	                         (cost + penalty) */
	double gap;           /* (cost + penalty) / lower_bound - 1; 0 when both are 0, or
	                         when !bound_applies */
	/*
	 * Whether lower_bound bounds this plan: it places as many people as the
	 * relaxation (people_unassigned == lp_unassigned). A plan placing fewer
	 * may cost less than the bound; its gap is then not given.
	 */
	bool bound_applies;
	uint64_t people; /* in the input */
	uint64_t people_assigned;
	uint64_t people_unassigned;
	uint64_t lp_unassigned; /* people the relaxation itself could not place */
	size_t households_assigned;
	size_t households_moved;
	size_t groups;
	uint64_t walk; /* people x metres to the assembly points, all groups */
	/* How the solver went (for benchmarks and the design note). */
	size_t flow_nodes;
	size_t flow_arcs;      /* arcs in the sparse graph at the end, pricing's included */
	size_t arcs_priced_in; /* arcs the pricing loop added */
	size_t pricing_rounds;
	uint64_t pivots;
	/*
	 * Shelters looked at by the searches for the nearest shelter with room
	 * (the greedy start's, or the whole of sf_plan_nearest_with_room), and
	 * shelter arcs pricing examined: a crowd at one point keeps both near
	 * linear in households.
	 */
	uint64_t nearest_visits;
	uint64_t pricing_visits;
};

/* A plan; owned by the caller, freed with sf_plan_result_free. */
struct sf_plan_result {
	struct sf_plan_placement *placements; /* nhouseholds, in input order */
	size_t nplacements;
	struct sf_plan_group *groups; /* in departure order */
	size_t ngroups;
	uint32_t *members; /* household indices, each group's contiguous */
	size_t nmembers;
	uint64_t *shelter_load; /* people placed per input shelter (occupancy not included) */
	size_t nshelters;
	struct sf_plan_stats stats;
};

/* Sets options to their defaults (ASSIGN_FIRST, no distance limit, 2 km move penalty). */
void sf_plan_options_init(struct sf_plan_options *opt);

/*
 * Plans: assigns households to shelters and forms groups. On success sets
 * *out to a new result the caller frees with sf_plan_result_free; households
 * without a shelter are in the result with their reason, they are not an
 * error, and neither is a household without a valid point (reason
 * SF_PLAN_NO_LOCATION) or a shelter whose occupancy exceeds its capacity
 * (it is full). Returns 0, SF_EINVAL (a NULL array with a nonzero count, a
 * household of 0 or too many people, a previous shelter index out of range,
 * a shelter or assembly point with an invalid point, a vehicle without
 * seats; err names the field and index), SF_ERANGE (more than
 * SF_PLAN_PEOPLE_MAX people) or SF_ENOMEM; *out
 * is NULL on error. Reentrant: plans may run on several threads at once.
 */
int sf_plan_solve(const struct sf_plan_input *in, const struct sf_plan_options *opt,
                  struct sf_plan_result **out, char *err, size_t errsz);

/*
 * The plan staff would make by hand, for comparison: households in input
 * order each to the nearest fitting shelter that still has room. Groups are
 * not formed and the lower bound is 0. Returns as sf_plan_solve does.
 */
int sf_plan_nearest_with_room(const struct sf_plan_input *in, const struct sf_plan_options *opt,
                              struct sf_plan_result **out, char *err, size_t errsz);

/* Frees a result and everything in it; NULL is a no-op. */
void sf_plan_result_free(struct sf_plan_result *res);

/* A short, static, snake_case name of a reason ("no_capacity"), for JSON and CSV. */
const char *sf_plan_unassigned_name(enum sf_plan_unassigned reason);

/* A short, static, snake_case name of a move ("previous_closed"). */
const char *sf_plan_move_name(enum sf_plan_move move);

#endif
