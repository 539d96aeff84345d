/*
 * What free text from outside must be before it is stored: strict UTF-8
 * (no overlong forms, no surrogates), no control characters (C0 or C1), a
 * length cap in characters.
 */
#ifndef SAFETY_TEXT_H
#define SAFETY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * True when s is clean UTF-8 of at most max_chars characters (as
 * PostgreSQL's length() counts them); tabs and line breaks only when multiline.
 */
bool text_clean(const char *s, size_t max_chars, bool multiline);

/*
 * A copy of s (the caller frees it) that PostgreSQL will take whatever s
 * held: each byte that is not part of strict UTF-8 becomes U+FFFD, each
 * control character a space (tabs and line breaks kept when multiline), and
 * the copy is cut on a character boundary to at most max_bytes. Answers
 * from outside are kept, never refused: a reply is not lost for one bad byte.
 */
char *text_sanitized(const char *s, size_t max_bytes, bool multiline);

#endif
