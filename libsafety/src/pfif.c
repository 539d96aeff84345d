/*
 * PFIF reading and writing. Records are kept as (name, value) pairs under
 * their 1.4 names, so what a partner sent survives a round trip whatever
 * version it came in; the writer emits the fields 1.4 defines, in the
 * specification's order (the schema allows any order, older readers do
 * not).
 */
#include <safety/pfif.h>

#include "xml_internal.h"

#include <libxml/tree.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PFIF_NS_PREFIX "http://zesty.ca/pfif/1."

static const char *const pfif_person_fields[] = {"person_record_id",
                                                 "entry_date",
                                                 "expiry_date",
                                                 "author_name",
                                                 "author_email",
                                                 "author_phone",
                                                 "source_name",
                                                 "source_date",
                                                 "source_url",
                                                 "full_name",
                                                 "given_name",
                                                 "family_name",
                                                 "alternate_names",
                                                 "description",
                                                 "sex",
                                                 "date_of_birth",
                                                 "age",
                                                 "home_street",
                                                 "home_neighborhood",
                                                 "home_city",
                                                 "home_state",
                                                 "home_postal_code",
                                                 "home_country",
                                                 "photo_url",
                                                 "profile_urls",
                                                 NULL};

static const char *const pfif_note_fields[] = {"note_record_id",
                                               "person_record_id",
                                               "linked_person_record_id",
                                               "entry_date",
                                               "author_name",
                                               "author_email",
                                               "author_phone",
                                               "source_date",
                                               "author_made_contact",
                                               "status",
                                               "email_of_found_person",
                                               "phone_of_found_person",
                                               "last_known_location",
                                               "text",
                                               "photo_url",
                                               NULL};

static const char *const pfif_status_names[] = {"",
                                                "information_sought",
                                                "is_note_author",
                                                "believed_alive",
                                                "believed_missing",
                                                "believed_dead"};

/* Older names and the 1.4 names they became. */
static const char *const pfif_renames[][2] = {{"first_name", "given_name"},
                                              {"last_name", "family_name"},
                                              {"home_zip", "home_postal_code"},
                                              {"found", "author_made_contact"},
                                              {NULL, NULL}};

static void *
pfif_grow(void *p, size_t *cap, size_t n, size_t size, bool *failed)
{
	size_t ncap;
	void *q;

	if (n < *cap)
		return p;
	ncap = *cap ? *cap * 2 : 8;
	q = realloc(p, ncap * size);
	if (q == NULL) {
		*failed = true;
		return NULL;
	}
	*cap = ncap;
	return q;
}

struct sf_pfif_doc *
sf_pfif_new(void)
{
	struct sf_pfif_doc *doc = calloc(1, sizeof *doc);

	if (doc != NULL)
		doc->version = 14;
	return doc;
}

struct sf_pfif_record *
sf_pfif_add_record(struct sf_pfif_doc *doc, enum sf_pfif_kind kind)
{
	bool failed = false;
	struct sf_pfif_record *r;

	r = pfif_grow(doc->records, &doc->cap, doc->n, sizeof *doc->records, &failed);
	if (failed)
		return NULL;
	doc->records = r;
	memset(&doc->records[doc->n], 0, sizeof doc->records[0]);
	doc->records[doc->n].kind = kind;
	return &doc->records[doc->n++];
}

/* Copies n bytes into a fresh string. */
static char *
pfif_strndup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (p != NULL) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

/* Sets or replaces a field; false when out of memory. */
static bool
pfif_set(struct sf_pfif_record *rec, const char *name, const char *value, size_t len)
{
	bool failed = false;
	struct sf_pfif_field *f;
	char *v = pfif_strndup(value, len);

	if (v == NULL)
		return false;
	for (size_t i = 0; i < rec->nfields; i++) {
		if (strcmp(rec->fields[i].name, name) == 0) {
			free(rec->fields[i].value);
			rec->fields[i].value = v;
			return true;
		}
	}
	f = pfif_grow(rec->fields, &rec->capfields, rec->nfields, sizeof *rec->fields, &failed);
	if (failed) {
		free(v);
		return false;
	}
	rec->fields = f;
	rec->fields[rec->nfields].name = pfif_strndup(name, strlen(name));
	if (rec->fields[rec->nfields].name == NULL) {
		free(v);
		return false;
	}
	rec->fields[rec->nfields].value = v;
	rec->nfields++;
	return true;
}

void
sf_pfif_set(struct sf_pfif_record *rec, const char *name, const char *value)
{
	if (rec == NULL || value == NULL || *value == '\0')
		return;
	(void)pfif_set(rec, name, value, strlen(value));
}

const char *
sf_pfif_get(const struct sf_pfif_record *rec, const char *name)
{
	for (size_t i = 0; i < rec->nfields; i++)
		if (strcmp(rec->fields[i].name, name) == 0)
			return rec->fields[i].value;
	return NULL;
}

int
sf_pfif_status_parse(const char *s)
{
	if (s == NULL)
		return SF_PFIF_STATUS_NONE;
	for (int i = 1; i <= SF_PFIF_STATUS_BELIEVED_DEAD; i++)
		if (strcmp(s, pfif_status_names[i]) == 0)
			return i;
	return -1;
}

const char *
sf_pfif_status_name(enum sf_pfif_status status)
{
	if ((int)status < 0 || status > SF_PFIF_STATUS_BELIEVED_DEAD)
		return "";
	return pfif_status_names[status];
}

static void
pfif_record_clear(struct sf_pfif_record *rec)
{
	for (size_t i = 0; i < rec->nfields; i++) {
		free(rec->fields[i].name);
		free(rec->fields[i].value);
	}
	free(rec->fields);
	memset(rec, 0, sizeof *rec);
}

void
sf_pfif_free(struct sf_pfif_doc *doc)
{
	if (doc == NULL)
		return;
	for (size_t i = 0; i < doc->n; i++)
		pfif_record_clear(&doc->records[i]);
	free(doc->records);
	free(doc->problems);
	free(doc);
}

/* Records a record left out: what it was ("note 4 (id)") and why. */
static bool
pfif_problem(struct sf_pfif_doc *doc, size_t position, const char *what, const char *why)
{
	bool failed = false;
	struct sf_pfif_problem *p;

	p = pfif_grow(doc->problems, &doc->capproblems, doc->nproblems, sizeof *doc->problems,
	              &failed);
	if (failed)
		return false;
	doc->problems = p;
	doc->problems[doc->nproblems].position = position;
	snprintf(doc->problems[doc->nproblems].message, sizeof doc->problems[0].message,
	         "%.90s: %.100s", what, why);
	doc->nproblems++;
	return true;
}

/* Is n an element of the document's PFIF namespace named name? */
static bool
pfif_is(const xmlNode *n, const char *ns, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->ns != NULL && n->ns->href != NULL &&
	       strcmp((const char *)n->ns->href, ns) == 0 &&
	       strcmp((const char *)n->name, name) == 0;
}

static bool
pfif_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A record being read: its fields go in, then it is checked and kept or reported. */
struct pfif_reading {
	struct sf_pfif_doc *doc;
	const char *ns;
	size_t position;
	bool failed; /* out of memory */
};

/* A known field's 1.4 name, or NULL for an element the format does not define here. */
static const char *
pfif_field_name(enum sf_pfif_kind kind, const char *name)
{
	const char *const *list = kind == SF_PFIF_PERSON ? pfif_person_fields : pfif_note_fields;

	for (int i = 0; pfif_renames[i][0] != NULL; i++)
		if (strcmp(name, pfif_renames[i][0]) == 0)
			name = pfif_renames[i][1];
	for (int i = 0; list[i] != NULL; i++)
		if (strcmp(list[i], name) == 0)
			return list[i];
	return NULL;
}

/* Why a record cannot be kept, or NULL. */
static const char *
pfif_check(const struct sf_pfif_record *rec, char *why, size_t whysz)
{
	const char *id =
	    sf_pfif_get(rec, rec->kind == SF_PFIF_PERSON ? "person_record_id" : "note_record_id");
	const char *status;

	if (id == NULL)
		return rec->kind == SF_PFIF_PERSON ? "no person_record_id" : "no note_record_id";
	if (strchr(id, '/') == NULL || id[0] == '/') {
		snprintf(why, whysz, "record id '%.60s' is not domain/identifier", id);
		return why;
	}
	if (rec->kind == SF_PFIF_NOTE) {
		if (sf_pfif_get(rec, "person_record_id") == NULL)
			return "a note that names no person (person_record_id)";
		status = sf_pfif_get(rec, "status");
		if (status != NULL && sf_pfif_status_parse(status) < 0) {
			snprintf(why, whysz, "status '%.40s' is not a PFIF status", status);
			return why;
		}
		const char *contact = sf_pfif_get(rec, "author_made_contact");
		if (contact != NULL && strcmp(contact, "true") != 0 &&
		    strcmp(contact, "false") != 0)
			return "author_made_contact (found) must be true or false";
	}
	return NULL;
}

/* Reads one person or note element; nested notes become records of their own. */
static void
pfif_read_record(struct pfif_reading *rd, const xmlNode *el, enum sf_pfif_kind kind,
                 const char *parent_person)
{
	struct sf_pfif_record rec;
	char why[160];
	const char *problem = NULL;
	size_t position = ++rd->position;
	const xmlNode *c;

	memset(&rec, 0, sizeof rec);
	rec.kind = kind;
	for (c = el->children; c != NULL && problem == NULL; c = c->next) {
		const char *name;
		xmlChar *text;
		const char *s;
		size_t len;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (kind == SF_PFIF_PERSON && pfif_is(c, rd->ns, "note"))
			continue; /* after the person, once its id is known */
		if (c->ns == NULL || c->ns->href == NULL ||
		    strcmp((const char *)c->ns->href, rd->ns) != 0)
			continue; /* another vocabulary's extension: not ours to keep */
		name = pfif_field_name(kind, (const char *)c->name);
		if (name == NULL)
			continue; /* a field of another version (other, photo...) */
		text = xmlNodeGetContent(c);
		s = text != NULL ? (const char *)text : "";
		len = strlen(s);
		while (len > 0 && pfif_space(*s)) {
			s++;
			len--;
		}
		while (len > 0 && pfif_space(s[len - 1]))
			len--;
		if (len > SF_PFIF_VALUE_MAX) {
			snprintf(why, sizeof why, "%s is longer than %d bytes", name,
			         SF_PFIF_VALUE_MAX);
			problem = why;
		} else if (len > 0 && sf_pfif_get(&rec, name) != NULL) {
			snprintf(why, sizeof why, "%s appears twice", name);
			problem = why;
		} else if (len > 0 && !pfif_set(&rec, name, s, len)) {
			rd->failed = true;
		}
		xmlFree(text);
	}
	if (kind == SF_PFIF_NOTE && parent_person != NULL &&
	    sf_pfif_get(&rec, "person_record_id") == NULL &&
	    !pfif_set(&rec, "person_record_id", parent_person, strlen(parent_person)))
		rd->failed = true;
	if (problem == NULL)
		problem = pfif_check(&rec, why, sizeof why);
	if (problem != NULL) {
		const char *id = sf_pfif_get(&rec, kind == SF_PFIF_PERSON ? "person_record_id"
		                                                          : "note_record_id");
		char what[120];
		snprintf(what, sizeof what, "%s %zu%s%.60s%s",
		         kind == SF_PFIF_PERSON ? "person" : "note", position,
		         id != NULL ? " (" : "", id != NULL ? id : "", id != NULL ? ")" : "");
		if (!pfif_problem(rd->doc, position, what, problem))
			rd->failed = true;
		pfif_record_clear(&rec);
	} else if (rd->doc->n >= SF_PFIF_RECORDS_MAX) {
		pfif_record_clear(&rec);
	} else {
		struct sf_pfif_record *slot = sf_pfif_add_record(rd->doc, kind);
		if (slot == NULL) {
			rd->failed = true;
			pfif_record_clear(&rec);
		} else {
			*slot = rec;
		}
	}
	if (kind == SF_PFIF_PERSON) {
		/* The person's own id, read again: the record may have been moved or cleared. */
		xmlChar *pid = NULL;
		/* The first, as the record read it (a second one made the person a problem). */
		for (c = el->children; c != NULL && pid == NULL; c = c->next)
			if (pfif_is(c, rd->ns, "person_record_id"))
				pid = xmlNodeGetContent(c);
		if (pid != NULL) {
			char *p = (char *)pid, *e;
			while (pfif_space(*p))
				p++;
			for (e = p + strlen(p); e > p && pfif_space(e[-1]); e--)
				e[-1] = '\0';
		}
		for (c = el->children; c != NULL; c = c->next)
			if (pfif_is(c, rd->ns, "note"))
				pfif_read_record(rd, c, SF_PFIF_NOTE,
				                 pid != NULL ? (const char *)pid : NULL);
		xmlFree(pid);
	}
}

int
sf_pfif_parse(const char *xml, size_t len, struct sf_pfif_doc **out, char *err, size_t errsz)
{
	struct pfif_reading rd;
	xmlDocPtr tree;
	const xmlNode *root, *c;
	const char *ns;
	int rc;

	*out = NULL;
	rc = sf_xml_read("pfif", xml, len, SF_PFIF_XML_MAX, &tree, err, errsz);
	if (rc != SF_OK)
		return rc;
	root = xmlDocGetRootElement(tree);
	ns = root != NULL && root->ns != NULL && root->ns->href != NULL
	         ? (const char *)root->ns->href
	         : "";
	if (root == NULL || strcmp((const char *)root->name, "pfif") != 0 ||
	    strncmp(ns, PFIF_NS_PREFIX, strlen(PFIF_NS_PREFIX)) != 0 ||
	    ns[strlen(PFIF_NS_PREFIX)] < '1' || ns[strlen(PFIF_NS_PREFIX)] > '4' ||
	    ns[strlen(PFIF_NS_PREFIX) + 1] != '\0') {
		rc = sf_error_set(
		    err, errsz, SF_EINVAL,
		    "pfif: the root element must be pfif in a PFIF 1.1 to 1.4 namespace "
		    "(http://zesty.ca/pfif/1.N); found '%.40s' in '%.60s'",
		    root != NULL ? (const char *)root->name : "", ns);
		xmlFreeDoc(tree);
		return rc;
	}
	memset(&rd, 0, sizeof rd);
	rd.doc = calloc(1, sizeof *rd.doc);
	if (rd.doc == NULL) {
		xmlFreeDoc(tree);
		return sf_error_set(err, errsz, SF_ENOMEM, "pfif: out of memory");
	}
	rd.doc->version = 10 + (ns[strlen(PFIF_NS_PREFIX)] - '0');
	rd.ns = ns;
	for (c = root->children; c != NULL && !rd.failed; c = c->next) {
		if (pfif_is(c, ns, "person"))
			pfif_read_record(&rd, c, SF_PFIF_PERSON, NULL);
		else if (pfif_is(c, ns, "note"))
			pfif_read_record(&rd, c, SF_PFIF_NOTE, NULL);
	}
	xmlFreeDoc(tree);
	if (rd.failed) {
		sf_pfif_free(rd.doc);
		return sf_error_set(err, errsz, SF_ENOMEM, "pfif: out of memory");
	}
	*out = rd.doc;
	return SF_OK;
}

/* A growing output buffer. */
struct pfif_out {
	char *s;
	size_t len, cap;
	bool failed;
};

static void
pfif_put(struct pfif_out *o, const char *s, size_t n)
{
	if (o->failed)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t ncap = o->cap ? o->cap : 4096;
		char *p;
		while (o->len + n + 1 > ncap)
			ncap *= 2;
		p = realloc(o->s, ncap);
		if (p == NULL) {
			o->failed = true;
			return;
		}
		o->s = p;
		o->cap = ncap;
	}
	memcpy(o->s + o->len, s, n);
	o->len += n;
	o->s[o->len] = '\0';
}

static void
pfif_puts(struct pfif_out *o, const char *s)
{
	pfif_put(o, s, strlen(s));
}

/* Text content, escaped; the characters XML 1.0 forbids are dropped. */
static void
pfif_put_text(struct pfif_out *o, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		/* U+FFFE and U+FFFF, as UTF-8 */
		if (c == 0xef && (unsigned char)s[1] == 0xbf &&
		    ((unsigned char)s[2] == 0xbe || (unsigned char)s[2] == 0xbf)) {
			s += 2;
			continue;
		}
		if (c == '&')
			pfif_puts(o, "&amp;");
		else if (c == '<')
			pfif_puts(o, "&lt;");
		else if (c == '>')
			pfif_puts(o, "&gt;");
		else if (c >= 0x20 || c == '\t' || c == '\n' || c == '\r')
			pfif_put(o, s, 1);
	}
}

static void
pfif_put_field(struct pfif_out *o, const char *indent, const char *name, const char *value)
{
	pfif_puts(o, indent);
	pfif_puts(o, "<pfif:");
	pfif_puts(o, name);
	pfif_puts(o, ">");
	pfif_put_text(o, value);
	pfif_puts(o, "</pfif:");
	pfif_puts(o, name);
	pfif_puts(o, ">\n");
}

static void
pfif_put_record(struct pfif_out *o, const struct sf_pfif_record *rec)
{
	const char *const *list =
	    rec->kind == SF_PFIF_PERSON ? pfif_person_fields : pfif_note_fields;
	const char *tag = rec->kind == SF_PFIF_PERSON ? "person" : "note";

	pfif_puts(o, "  <pfif:");
	pfif_puts(o, tag);
	pfif_puts(o, ">\n");
	for (int i = 0; list[i] != NULL; i++) {
		const char *v = sf_pfif_get(rec, list[i]);
		if (rec->kind == SF_PFIF_PERSON && strcmp(list[i], "full_name") == 0 && v == NULL) {
			/* Required in 1.4: made from the parts older versions had. */
			const char *given = sf_pfif_get(rec, "given_name");
			const char *family = sf_pfif_get(rec, "family_name");
			char *full;
			size_t n = (given ? strlen(given) : 0) + (family ? strlen(family) : 0) + 2;
			full = malloc(n);
			if (full == NULL) {
				o->failed = true;
				return;
			}
			snprintf(full, n, "%s%s%s", given ? given : "", given && family ? " " : "",
			         family ? family : "");
			pfif_put_field(o, "    ", "full_name", full);
			free(full);
			continue;
		}
		if (rec->kind == SF_PFIF_PERSON && strcmp(list[i], "source_date") == 0 && v == NULL)
			v = sf_pfif_get(rec, "entry_date"); /* required in 1.4 */
		if (v != NULL)
			pfif_put_field(o, "    ", list[i], v);
	}
	pfif_puts(o, "  </pfif:");
	pfif_puts(o, tag);
	pfif_puts(o, ">\n");
}

char *
sf_pfif_write(const struct sf_pfif_doc *doc, size_t *len)
{
	struct pfif_out o;

	memset(&o, 0, sizeof o);
	pfif_puts(&o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	              "<pfif:pfif xmlns:pfif=\"http://zesty.ca/pfif/1.4\">\n");
	for (size_t i = 0; i < doc->n; i++)
		if (doc->records[i].kind == SF_PFIF_PERSON)
			pfif_put_record(&o, &doc->records[i]);
	for (size_t i = 0; i < doc->n; i++)
		if (doc->records[i].kind == SF_PFIF_NOTE)
			pfif_put_record(&o, &doc->records[i]);
	pfif_puts(&o, "</pfif:pfif>\n");
	if (o.failed) {
		free(o.s);
		return NULL;
	}
	if (len != NULL)
		*len = o.len;
	return o.s;
}
