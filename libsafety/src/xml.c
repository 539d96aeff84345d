/*
 * Reading untrusted XML (CAP, GDACS, PFIF) with libxml2: from memory, a size
 * limit, no network, no DTD loading, no entity substitution, a stop at any
 * DOCTYPE (where XXE attacks begin), and libxml2's messages kept for the
 * error instead of printed.
 */
#include "xml_internal.h"

#include <safety/error.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* State of one document being read. */
struct xml_reader {
	bool doctype;          /* a DOCTYPE was met: the parse was stopped there */
	char first_error[160]; /* libxml2's first complaint */
	int error_line;
};

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Keeps libxml2's first error and its line in the reader. */
static void
xml_keep_error(struct xml_reader *r, const xmlError *error)
{
	if (r->first_error[0] != '\0' || error == NULL || error->level < XML_ERR_ERROR)
		return;
	snprintf(r->first_error, sizeof r->first_error, "%s",
	         error->message != NULL ? error->message : "not well-formed");
	r->error_line = error->line;
	/* libxml2's messages end in a newline. */
	for (size_t n = strlen(r->first_error); n > 0 && is_space(r->first_error[n - 1]); n--)
		r->first_error[n - 1] = '\0';
}

/* Stops the parse at a DOCTYPE: nothing of it, entities included, is ever read. */
static void
xml_on_internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
                       const xmlChar *system_id)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct xml_reader *r = ctxt->_private;

	(void)name;
	(void)external_id;
	(void)system_id;
	r->doctype = true;
	xmlStopParser(ctxt);
}

/* Keeps libxml2's first error instead of letting it print anything. */
#if LIBXML_VERSION >= 21200
static void
xml_on_error(void *ctx, const xmlError *error)
#else
static void
xml_on_error(void *ctx, xmlErrorPtr error)
#endif
{
	xmlParserCtxtPtr ctxt = ctx;

	xml_keep_error(ctxt->_private, error);
}

/* Keeps errors raised outside the parser context (encoding conversion) in the reader. */
#if LIBXML_VERSION >= 21200
static void
xml_on_global_error(void *ctx, const xmlError *error)
#else
static void
xml_on_global_error(void *ctx, xmlErrorPtr error)
#endif
{
	xml_keep_error(ctx, error);
}

/* Swallows what libxml2 would print through its generic handler. */
static void
xml_on_generic_error(void *ctx, const char *msg, ...)
{
	(void)ctx;
	(void)msg;
}

/*
 */
int
sf_xml_read(const char *what, const char *data, size_t len, size_t max, xmlDocPtr *out, char *err,
            size_t errsz)
{
	struct xml_reader reader;
	xmlStructuredErrorFunc saved_structured;
	xmlGenericErrorFunc saved_generic;
	void *saved_structured_ctx, *saved_generic_ctx;
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	bool ok;

	*out = NULL;
	if (len > max)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "%s: document of %zu bytes is larger than the %zu MiB accepted",
		                    what, len, max / (1024 * 1024));
	if (len == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "%s: empty document", what);
	/* Idempotent; the daemon also calls it once at start-up, before any thread. */
	xmlInitParser();
	memset(&reader, 0, sizeof reader);
	/*
	 * Encoding errors are raised without the parser context and would reach
	 * libxml2's default handler, which prints to stderr. Its handlers are
	 * per thread in a threaded libxml2: take them for the parse, then give
	 * the caller's back.
	 */
	saved_structured = xmlStructuredError;
	saved_structured_ctx = xmlStructuredErrorContext;
	saved_generic = xmlGenericError;
	saved_generic_ctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(&reader, xml_on_global_error);
	xmlSetGenericErrorFunc(NULL, xml_on_generic_error);
	ctxt = xmlCreateMemoryParserCtxt(data, (int)len);
	if (ctxt == NULL) {
		xmlSetStructuredErrorFunc(saved_structured_ctx, saved_structured);
		xmlSetGenericErrorFunc(saved_generic_ctx, saved_generic);
		return sf_error_set(err, errsz, SF_ENOMEM, "%s: out of memory", what);
	}
	ctxt->_private = &reader;
	/*
	 * NONET: never fetch. Not NOENT (no substitution) and not DTDLOAD: no
	 * external subset. NOERROR/NOWARNING plus our handler: nothing printed.
	 */
	xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
	                            XML_PARSE_NOCDATA);
	ctxt->sax->internalSubset = xml_on_internal_subset;
	ctxt->sax->serror = xml_on_error;
	ctxt->sax->initialized = XML_SAX2_MAGIC;
	xmlParseDocument(ctxt);
	doc = ctxt->myDoc;
	ok = ctxt->wellFormed && !reader.doctype && doc != NULL;
	xmlFreeParserCtxt(ctxt);
	xmlSetStructuredErrorFunc(saved_structured_ctx, saved_structured);
	xmlSetGenericErrorFunc(saved_generic_ctx, saved_generic);
	if (reader.doctype) {
		xmlFreeDoc(doc);
		return sf_error_set(
		    err, errsz, SF_EINVAL,
		    "%s: document type declaration (DOCTYPE) refused: the format needs none, "
		    "and entities are how XML external entity (XXE) attacks begin",
		    what);
	}
	if (!ok) {
		xmlFreeDoc(doc);
		if (reader.first_error[0] != '\0' && reader.error_line > 0)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "%s: line %d: not well-formed XML: %s", what,
			                    reader.error_line, reader.first_error);
		if (reader.first_error[0] != '\0')
			return sf_error_set(err, errsz, SF_EINVAL, "%s: not well-formed XML: %s",
			                    what, reader.first_error);
		return sf_error_set(err, errsz, SF_EINVAL, "%s: not well-formed XML", what);
	}
	*out = doc;
	return SF_OK;
}
