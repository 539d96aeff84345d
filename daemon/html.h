/*
 * Text into HTML: the pages safetyd writes itself (the reply page, the
 * registration pages) put every value through this.
 */
#ifndef SAFETY_HTML_H
#define SAFETY_HTML_H

struct evbuffer;

/* Appends s (NULL: nothing) to b, escaped for HTML text and quoted attributes. */
void html_escape(struct evbuffer *b, const char *s);

#endif
