/*
 * PFIF, the People Finder Interchange Format (1.1 to 1.4 read, 1.4
 * written): person records and the notes about them, as Google Person
 * Finder and partner agencies exchange them. Reading is lenient in the way
 * the format's own tools are: a record that lacks what identifies it, or
 * carries a value the format forbids, is left out and reported with its
 * position and id, while the rest of the file is kept. Only a document that
 * is not PFIF at all (not XML, a DOCTYPE, another root) is refused whole.
 */
#ifndef SAFETY_PFIF_H
#define SAFETY_PFIF_H

#include <safety/error.h>

#include <stdbool.h>
#include <stddef.h>

/* Largest document read, in bytes. */
#define SF_PFIF_XML_MAX (16 * 1024 * 1024)
/* Most records (persons and notes) read from one document. */
#define SF_PFIF_RECORDS_MAX 200000
/* Longest value of one field, in bytes. */
#define SF_PFIF_VALUE_MAX 10000

enum sf_pfif_kind { SF_PFIF_PERSON, SF_PFIF_NOTE };

/* The note statuses of PFIF 1.2 and later. */
enum sf_pfif_status {
	SF_PFIF_STATUS_NONE,
	SF_PFIF_STATUS_INFORMATION_SOUGHT,
	SF_PFIF_STATUS_IS_NOTE_AUTHOR,
	SF_PFIF_STATUS_BELIEVED_ALIVE,
	SF_PFIF_STATUS_BELIEVED_MISSING,
	SF_PFIF_STATUS_BELIEVED_DEAD,
};

struct sf_pfif_field {
	char *name; /* as in the 1.4 specification ("full_name", "status"...) */
	char *value;
};

struct sf_pfif_record {
	enum sf_pfif_kind kind;
	struct sf_pfif_field *fields;
	size_t nfields, capfields;
};

/* A record left out, and why. */
struct sf_pfif_problem {
	size_t position; /* 1-based, among the records in document order */
	char message[200];
};

struct sf_pfif_doc {
	int version; /* 11, 12, 13 or 14: the namespace read; 14 for a built document */
	struct sf_pfif_record *records;
	size_t n, cap;
	struct sf_pfif_problem *problems;
	size_t nproblems, capproblems;
};

/*
 * Reads a PFIF document. Field values are trimmed of surrounding white
 * space; fields of older versions are renamed to their 1.4 names
 * (first_name to given_name, last_name to family_name, home_zip to
 * home_postal_code, found to author_made_contact); a note inside a person
 * takes that person's record id. Returns SF_OK with *out set (free with
 * sf_pfif_free), or an error naming what made the document unreadable.
 */
int sf_pfif_parse(const char *xml, size_t len, struct sf_pfif_doc **out, char *err, size_t errsz);

/* An empty document to build (version 14). */
struct sf_pfif_doc *sf_pfif_new(void);

/* Appends an empty record. */
struct sf_pfif_record *sf_pfif_add_record(struct sf_pfif_doc *doc, enum sf_pfif_kind kind);

/* Sets a field (copied); a NULL or empty value is left out. */
void sf_pfif_set(struct sf_pfif_record *rec, const char *name, const char *value);

/* A field's value, or NULL. */
const char *sf_pfif_get(const struct sf_pfif_record *rec, const char *name);

/*
 * Writes the document as PFIF 1.4, every person's fields in the order of
 * the specification, notes at the top level after the persons. A person
 * without full_name gets one from given_name and family_name; fields 1.4
 * does not have are left out. Returns a NUL-terminated string the caller
 * frees (length in *len if not NULL), or NULL when out of memory.
 */
char *sf_pfif_write(const struct sf_pfif_doc *doc, size_t *len);

/* The status a note's text names; SF_PFIF_STATUS_NONE for NULL; -1 for anything else. */
int sf_pfif_status_parse(const char *s);

/* The specification's spelling of a status ("believed_alive"); "" for NONE. */
const char *sf_pfif_status_name(enum sf_pfif_status status);

void sf_pfif_free(struct sf_pfif_doc *doc);

#endif
