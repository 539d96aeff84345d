/*
 * What free text from outside must be before it is stored: strict UTF-8
 * (no overlong forms, no surrogates), no control characters, a size cap.
 */
#ifndef SAFETY_TEXT_H
#define SAFETY_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True when s is at most max_bytes of clean UTF-8; tabs and line breaks only when multiline. */
bool text_clean(const char *s, size_t max_bytes, bool multiline);

#endif
