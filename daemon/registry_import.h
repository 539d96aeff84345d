/*
 * Importing nationals: a file parsed by libsafety's import module, its good
 * rows sent with COPY into a staging table, then merged into the registry
 * in one transaction of set-based statements (match on passport, else on
 * phone + name + birth date; update what changed; insert the rest). It uses
 * blocking libpq on a connection of its own, so safetyd runs it on a worker
 * thread and safetyctl calls it directly.
 */
#ifndef SAFETY_REGISTRY_IMPORT_H
#define SAFETY_REGISTRY_IMPORT_H

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <safety/import.h>
#include <stdbool.h>

struct registry_import_request {
	const char *data; /* borrowed */
	size_t len;
	long long mission_id;
	enum sf_import_format format;
	enum sf_date_format date_format;
	const struct sf_import_mapping *mapping; /* borrowed; NULL for none */
	bool all_or_nothing;                     /* any bad row: nothing goes in */
	bool dry_run;                            /* check and count, then roll back */
	/* Who imports, for the audit log (borrowed). */
	const char *actor;
	const char *actor_role;
	const char *client_addr;
};

struct registry_import_outcome {
	struct sf_import_result *parsed; /* owned; freed by registry_import_outcome_free */
	bool applied;                    /* committed (false on dry runs and refusals) */
	bool no_mission;                 /* the mission asked for does not exist */
	long long inserted, updated, unchanged;
	long long first_id; /* the national of the file's first good row (0: none) */
	/* Rows refused because an earlier row of the same file has the same passport. */
	size_t ndup;
	size_t dup_line[64], dup_first[64];
	/*
	 * Rows the merge refused, nothing of them stored: a passport held by
	 * someone else, an export's id that is no national of the mission or is
	 * someone of other names. The first 64 are named.
	 */
	size_t nrefused;
	struct registry_import_refusal {
		size_t line;
		char field[16];
		char reason[192];
	} refused[64];
	/*
	 * Rows of people staff deleted (left out, not brought back), rows that
	 * replaced a passport (matched by phone, name and birth date), people
	 * added who may be someone registered, and points not applied since the
	 * person gave a newer place: the first 64 of each are named in the
	 * report's warnings.
	 */
	long long skipped_deleted, passports_replaced;
	struct registry_import_note {
		size_t line;
		long long national_id;
		char deleted_on[11]; /* ISO date; empty for a passport replaced */
		/* Nationals a person added may be ("12, 15"); empty for the others. */
		char maybe[48];
		bool maybe_by_phone; /* matched by phone, else by birth date */
		bool point_held;     /* the file's point left for a newer one given since */
	} notes[256];
	size_t nnotes;
};

/*
 * Parses and merges. Returns false with *cause (caller frees) when the
 * database failed; a refused file or bad rows are not failures: they are in
 * the outcome.
 */
bool registry_import_run(PGconn *conn, const struct registry_import_request *req,
                         struct registry_import_outcome *out, char **cause)
    __attribute__((warn_unused_result));

/*
 * Writes what a note says into buf (size bytes; 224 always suffice) and
 * returns the field it is about.
 */
const char *registry_import_note_text(const struct registry_import_note *note, char *buf,
                                      size_t size);

/* The outcome as the JSON report the API answers and safetyctl prints. */
cJSON *registry_import_report(const struct registry_import_outcome *out, bool dry_run);

/* Frees what the outcome owns. */
void registry_import_outcome_free(struct registry_import_outcome *out);

#endif
