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

#endif
