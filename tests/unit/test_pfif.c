/*
 * Unit tests of PFIF reading and writing: Person Finder's own test files in
 * three versions, read with their fields renamed to 1.4; a write and a second
 * read giving back the same records; records the format forbids left out and
 * reported while the rest is kept; documents that are not PFIF refused.
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
#include <safety/pfif.h>

#include "testdata.h"

#define DATA SAFETY_TEST_DATA_DIR "/pfif/"

/* Reads a test file whole; the caller frees it. */
static char *
slurp(const char *name, size_t *len)
{
	return testdata_slurp(DATA, name, len);
}

static struct sf_pfif_doc *
read_file(const char *name)
{
	struct sf_pfif_doc *doc = NULL;
	char err[300] = "";
	size_t len;
	char *xml = slurp(name, &len);

	if (sf_pfif_parse(xml, len, &doc, err, sizeof err) != SF_OK)
		fail_msg("%s refused: %s", name, err);
	free(xml);
	return doc;
}

static size_t
count(const struct sf_pfif_doc *doc, enum sf_pfif_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < doc->n; i++)
		n += doc->records[i].kind == kind;
	return n;
}

static const struct sf_pfif_record *
find(const struct sf_pfif_doc *doc, const char *field, const char *value)
{
	for (size_t i = 0; i < doc->n; i++) {
		const char *v = sf_pfif_get(&doc->records[i], field);
		if (v != NULL && strcmp(v, value) == 0)
			return &doc->records[i];
	}
	return NULL;
}

static void
reads_every_version_with_14_names(void **state)
{
	static const char *const files[] = {"personfinder-test.pfif-1.1.xml",
	                                    "personfinder-test.pfif-1.2.xml",
	                                    "personfinder-test.pfif-1.4.xml"};
	static const int versions[] = {11, 12, 14};

	(void)state;
	for (int i = 0; i < 3; i++) {
		struct sf_pfif_doc *doc = read_file(files[i]);
		const struct sf_pfif_record *p =
		    find(doc, "person_record_id", "test.google.com/person.21009");

		assert_int_equal(doc->version, versions[i]);
		assert_non_null(p);
		assert_int_equal(p->kind, SF_PFIF_PERSON);
		/* White space around a value is not part of it. */
		assert_string_equal(sf_pfif_get(p, "home_city"), "_test_home_city");
		assert_non_null(sf_pfif_get(p, "given_name")); /* first_name in 1.1 and 1.2 */
		assert_int_equal(count(doc, SF_PFIF_PERSON), 1);
		assert_true(count(doc, SF_PFIF_NOTE) >= 2);
		/* A note inside a person belongs to that person. */
		for (size_t k = 0; k < doc->n; k++)
			if (doc->records[k].kind == SF_PFIF_NOTE)
				assert_string_equal(
				    sf_pfif_get(&doc->records[k], "person_record_id"),
				    "test.google.com/person.21009");
		sf_pfif_free(doc);
	}
	{
		struct sf_pfif_doc *doc = read_file("personfinder-test.pfif-1.1.xml");
		const struct sf_pfif_record *n =
		    find(doc, "note_record_id", "test.google.com/note.27009");
		assert_non_null(n);
		assert_string_equal(sf_pfif_get(n, "author_made_contact"), "true"); /* found */
		assert_non_null(
		    sf_pfif_get(find(doc, "person_record_id", "test.google.com/person.21009"),
		                "home_postal_code")); /* home_zip */
		sf_pfif_free(doc);
	}
}

static void
statuses_are_read_and_named(void **state)
{
	struct sf_pfif_doc *doc = read_file("personfinder-test.pfif-1.2-believed-dead.xml");

	(void)state;
	assert_int_equal(doc->n, 1);
	assert_int_equal(sf_pfif_status_parse(sf_pfif_get(&doc->records[0], "status")),
	                 SF_PFIF_STATUS_BELIEVED_DEAD);
	assert_string_equal(sf_pfif_status_name(SF_PFIF_STATUS_BELIEVED_ALIVE), "believed_alive");
	assert_int_equal(sf_pfif_status_parse("alive"), -1);
	assert_int_equal(sf_pfif_status_parse(NULL), SF_PFIF_STATUS_NONE);
	sf_pfif_free(doc);
}

/* Every record of a, with every field, is in b with the same value. */
static void
same_records(const struct sf_pfif_doc *a, const struct sf_pfif_doc *b)
{
	assert_int_equal(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct sf_pfif_record *r = &a->records[i];
		const char *idf = r->kind == SF_PFIF_PERSON ? "person_record_id" : "note_record_id";
		const struct sf_pfif_record *s = NULL;
		for (size_t j = 0; j < b->n; j++)
			if (b->records[j].kind == r->kind &&
			    strcmp(sf_pfif_get(&b->records[j], idf), sf_pfif_get(r, idf)) == 0)
				s = &b->records[j];
		assert_non_null(s);
		for (size_t f = 0; f < r->nfields; f++) {
			const char *v = sf_pfif_get(s, r->fields[f].name);
			if (v == NULL)
				fail_msg("%s lost %s", sf_pfif_get(r, idf), r->fields[f].name);
			assert_string_equal(v, r->fields[f].value);
		}
	}
}

static void
a_written_document_reads_back_the_same(void **state)
{
	static const char *const files[] = {
	    "personfinder-test.pfif-1.1.xml",      "personfinder-test.pfif-1.2.xml",
	    "personfinder-test.pfif-1.4.xml",      "personfinder-test.pfif-1.2-badrecord.xml",
	    "personfinder-test.pfif-1.2-note.xml", "personfinder-test.pfif-1.2-believed-dead.xml"};

	(void)state;
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		struct sf_pfif_doc *doc = read_file(files[i]), *again = NULL;
		char err[300] = "";
		size_t len = 0;
		char *xml = sf_pfif_write(doc, &len);

		assert_non_null(xml);
		assert_non_null(strstr(xml, "xmlns:pfif=\"http://zesty.ca/pfif/1.4\""));
		if (sf_pfif_parse(xml, len, &again, err, sizeof err) != SF_OK)
			fail_msg("%s written, then refused: %s", files[i], err);
		assert_int_equal(again->version, 14);
		assert_int_equal(again->nproblems, 0);
		/* full_name, required in 1.4, is made from the older parts. */
		for (size_t k = 0; k < again->n; k++)
			if (again->records[k].kind == SF_PFIF_PERSON)
				assert_non_null(sf_pfif_get(&again->records[k], "full_name"));
		same_records(doc, again);
		free(xml);
		sf_pfif_free(doc);
		sf_pfif_free(again);
	}
}

static void
built_documents_are_escaped(void **state)
{
	struct sf_pfif_doc *doc = sf_pfif_new(), *again = NULL;
	struct sf_pfif_record *p = sf_pfif_add_record(doc, SF_PFIF_PERSON);
	char err[300] = "";
	size_t len;
	char *xml;

	(void)state;
	sf_pfif_set(p, "person_record_id", "safety.example.org/person.7");
	sf_pfif_set(p, "full_name", "KIM <MIN> & \"JUN\"\x01 김민준");
	sf_pfif_set(p, "home_city", ""); /* empty: left out */
	/* U+FFFE and U+FFFF are not XML characters; U+FFFD is. */
	sf_pfif_set(p, "description", "ok \xef\xbf\xbf\xef\xbf\xbe\xef\xbf\xbd thanks");
	xml = sf_pfif_write(doc, &len);
	assert_non_null(strstr(xml, "KIM &lt;MIN&gt; &amp; \"JUN\" 김민준"));
	assert_null(strstr(xml, "home_city"));
	assert_int_equal(sf_pfif_parse(xml, len, &again, err, sizeof err), SF_OK);
	assert_string_equal(sf_pfif_get(&again->records[0], "full_name"),
	                    "KIM <MIN> & \"JUN\" 김민준");
	assert_string_equal(sf_pfif_get(&again->records[0], "description"),
	                    "ok \xef\xbf\xbd thanks");
	free(xml);
	sf_pfif_free(doc);
	sf_pfif_free(again);
}

static void
bad_records_are_left_out_and_reported(void **state)
{
	static const char doc_text[] =
	    "<pfif:pfif xmlns:pfif=\"http://zesty.ca/pfif/1.4\">"
	    "<pfif:person><pfif:full_name>no id</pfif:full_name></pfif:person>"
	    "<pfif:person><pfif:person_record_id>nodomain</pfif:person_record_id></pfif:person>"
	    "<pfif:person><pfif:person_record_id>a.org/1</pfif:person_record_id>"
	    "<pfif:full_name>A</pfif:full_name><pfif:full_name>B</pfif:full_name></pfif:person>"
	    "<pfif:note><pfif:note_record_id>a.org/n1</pfif:note_record_id>"
	    "<pfif:person_record_id>a.org/2</pfif:person_record_id>"
	    "<pfif:status>alive-ish</pfif:status></pfif:note>"
	    "<pfif:note><pfif:note_record_id>a.org/n2</pfif:note_record_id></pfif:note>"
	    "<pfif:note><pfif:note_record_id>a.org/n3</pfif:note_record_id>"
	    "<pfif:person_record_id>a.org/2</pfif:person_record_id>"
	    "<pfif:author_made_contact>yes</pfif:author_made_contact></pfif:note>"
	    "<pfif:person><pfif:person_record_id>a.org/2</pfif:person_record_id>"
	    "<pfif:full_name>Kept</pfif:full_name><x:extra xmlns:x=\"urn:x\">ignored</x:extra>"
	    "</pfif:person></pfif:pfif>";
	static const char *const expected[] = {
	    "person 1: no person_record_id",
	    "person 2 (nodomain): record id 'nodomain' is not domain/identifier",
	    "person 3 (a.org/1): full_name appears twice",
	    "note 4 (a.org/n1): status 'alive-ish' is not a PFIF status",
	    "note 5 (a.org/n2): a note that names no person (person_record_id)",
	    "note 6 (a.org/n3): author_made_contact (found) must be true or false"};
	struct sf_pfif_doc *doc = NULL;
	char err[300] = "";

	(void)state;
	assert_int_equal(sf_pfif_parse(doc_text, strlen(doc_text), &doc, err, sizeof err), SF_OK);
	assert_int_equal(doc->n, 1);
	assert_string_equal(sf_pfif_get(&doc->records[0], "full_name"), "Kept");
	assert_int_equal(doc->nproblems, 6);
	for (int i = 0; i < 6; i++)
		assert_string_equal(doc->problems[i].message, expected[i]);
	sf_pfif_free(doc);
}

/* Found by fuzzing: a second record id leaked the first one read for the nested notes. */
static void
a_person_with_two_ids_is_reported_and_its_notes_kept(void **state)
{
	static const char doc_text[] =
	    "<pfif:pfif xmlns:pfif=\"http://zesty.ca/pfif/1.2\"><pfif:person>"
	    "<pfif:person_record_id>a.org/p1</pfif:person_record_id>"
	    "<pfif:person_record_id>a.org/p2</pfif:person_record_id>"
	    "<pfif:note><pfif:note_record_id>a.org/n1</pfif:note_record_id>"
	    "<pfif:text>seen</pfif:text></pfif:note></pfif:person></pfif:pfif>";
	struct sf_pfif_doc *doc = NULL;
	char err[300] = "";

	(void)state;
	assert_int_equal(sf_pfif_parse(doc_text, strlen(doc_text), &doc, err, sizeof err), SF_OK);
	assert_int_equal(doc->nproblems, 1);
	assert_string_equal(doc->problems[0].message,
	                    "person 1 (a.org/p1): person_record_id appears twice");
	assert_int_equal(doc->n, 1);
	assert_string_equal(sf_pfif_get(&doc->records[0], "person_record_id"), "a.org/p1");
	sf_pfif_free(doc);
}

static void
documents_that_are_not_pfif_are_refused(void **state)
{
	static const struct {
		const char *xml;
		const char *error;
	} cases[] = {
	    {"", "pfif: empty document"},
	    {"<pfif:pfif xmlns:pfif=\"http://zesty.ca/pfif/1.4\"><pfif:person>",
	     "pfif: line 1: not well-formed XML"},
	    {"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>"
	     "<pfif:pfif xmlns:pfif=\"http://zesty.ca/pfif/1.4\">&e;</pfif:pfif>",
	     "pfif: document type declaration (DOCTYPE) refused"},
	    {"<pfif xmlns=\"http://zesty.ca/pfif/1.5\"/>", "pfif: the root element must be pfif"},
	    {"<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\"/>",
	     "pfif: the root element must be pfif"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sf_pfif_doc *doc = NULL;
		char err[300] = "";
		assert_int_equal(
		    sf_pfif_parse(cases[i].xml, strlen(cases[i].xml), &doc, err, sizeof err),
		    SF_EINVAL);
		assert_null(doc);
		if (strncmp(err, cases[i].error, strlen(cases[i].error)) != 0)
			fail_msg("case %zu: expected '%s...', got '%s'", i, cases[i].error, err);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reads_every_version_with_14_names),
	    cmocka_unit_test(statuses_are_read_and_named),
	    cmocka_unit_test(a_written_document_reads_back_the_same),
	    cmocka_unit_test(built_documents_are_escaped),
	    cmocka_unit_test(bad_records_are_left_out_and_reported),
	    cmocka_unit_test(a_person_with_two_ids_is_reported_and_its_notes_kept),
	    cmocka_unit_test(documents_that_are_not_pfif_are_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
