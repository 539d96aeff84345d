#include "html.h"

#include <event2/buffer.h>
#include <string.h>

void
html_escape(struct evbuffer *b, const char *s)
{
	while (s != NULL && *s != '\0') {
		/* The run up to the next character that needs an entity goes in at once. */
		size_t run = strcspn(s, "<>&\"'");
		const char *entity = NULL;

		evbuffer_add(b, s, run);
		s += run;
		switch (*s) {
		case '<':
			entity = "&lt;";
			break;
		case '>':
			entity = "&gt;";
			break;
		case '&':
			entity = "&amp;";
			break;
		case '"':
			entity = "&quot;";
			break;
		case '\'':
			entity = "&#39;";
			break;
		default:
			return;
		}
		evbuffer_add(b, entity, strlen(entity));
		s++;
	}
}
