/* Reading untrusted XML safely; shared by the alert and PFIF parsers. */
#ifndef SAFETY_XML_INTERNAL_H
#define SAFETY_XML_INTERNAL_H

#include <libxml/tree.h>
#include <stddef.h>

/*
 * Parses len bytes (at most max) into a tree the caller frees with
 * xmlFreeDoc. Errors go to err, prefixed with what ("cap", "pfif"), naming
 * the line where libxml2 found the document not well-formed.
 */
int sf_xml_read(const char *what, const char *data, size_t len, size_t max, xmlDocPtr *out,
                char *err, size_t errsz);

#endif
