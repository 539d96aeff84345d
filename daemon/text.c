#include "text.h"

#include <string.h>

#include "xmalloc.h"

/*
 * The length of the strict UTF-8 character at p (1 to 4), or 0 when the
 * bytes there are not one; *cp is its code point.
 */
static int
text_char(const unsigned char *p, unsigned *cp)
{
	unsigned c = *p;
	int len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		*cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		*cp = c & 0x07;
	} else {
		return 0;
	}
	for (int i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 3 && (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))) ||
	    (len == 4 && (*cp < 0x10000 || *cp > 0x10ffff)))
		return 0;
	return len;
}

/*
 * A C0 or C1 control character, DEL, or U+FFFE or U+FFFF (which XML 1.0
 * forbids, so one stored would break every PFIF, Atom and CAP document that
 * carries it); tabs and line breaks only when not multiline.
 */
static bool
text_control(unsigned cp, bool multiline)
{
	if (multiline && (cp == '\n' || cp == '\r' || cp == '\t'))
		return false;
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0xfffe ||
	       cp == 0xffff;
}

char *
text_sanitized(const char *s, size_t max_bytes, bool multiline)
{
	static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
	const unsigned char *p = (const unsigned char *)s;
	/* Each input byte becomes at most the three bytes of U+FFFD. */
	size_t cap = strlen(s) * 3 + 1, n = 0;
	char *out;

	if (cap > max_bytes + 1)
		cap = max_bytes + 1;
	out = xmalloc(cap);
	while (*p != '\0') {
		unsigned cp;
		int len = text_char(p, &cp);
		const char *add = (const char *)p;
		size_t addlen = (size_t)len;

		if (len == 0) {
			add = replacement;
			addlen = 3;
			len = 1;
		} else if (text_control(cp, multiline)) {
			add = " ";
			addlen = 1;
		}
		if (n + addlen > max_bytes)
			break;
		memcpy(out + n, add, addlen);
		n += addlen;
		p += len;
	}
	out[n] = '\0';
	return out;
}

bool
text_clean(const char *s, size_t max_chars, bool multiline)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t chars = 0;

	while (*p != '\0') {
		unsigned cp;
		int len = text_char(p, &cp);

		if (++chars > max_chars || len == 0 || text_control(cp, multiline))
			return false;
		p += len;
	}
	return true;
}
