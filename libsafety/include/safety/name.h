/*
 * Names of people: the stored form and the form used to search. A national's
 * name arrives from forms, spreadsheets and staff typing, in Hangul and in
 * Latin letters, often decomposed or with stray spaces; the same person must
 * be stored one way and found however the name is typed.
 */
#ifndef SAFETY_NAME_H
#define SAFETY_NAME_H

#include <stddef.h>

/* The longest normalised name, in bytes of UTF-8. */
#define SF_NAME_MAX 200
/* A buffer that always holds a normalised name and its NUL. */
#define SF_NAME_SIZE 201
/* A buffer that holds the search key of any name sf_name_normalize accepts. */
#define SF_NAME_KEY_SIZE 2400

/* The writing system of a name, to tell a Hangul name column from a Latin one. */
enum sf_script {
	SF_SCRIPT_HANGUL, /* letters all Hangul */
	SF_SCRIPT_LATIN,  /* letters all Latin */
	SF_SCRIPT_MIXED,  /* letters of two or more scripts (Hangul and Hanja count as two) */
	SF_SCRIPT_OTHER,  /* letters of one other script, no letters, or not UTF-8 */
};

/*
 * Normalises a name for storage and writes it, NUL-terminated, into out (the
 * caller's buffer; SF_NAME_SIZE bytes always suffice): valid UTF-8, no control
 * or text-direction characters, no combining mark without a letter before it,
 * invisible characters removed (format characters such as the zero width
 * space, soft hyphen, byte order mark and tag characters; the Hangul fillers
 * U+3164, U+FFA0, U+115F, U+1160 and the blank Braille pattern U+2800; a zero
 * width joiner or non-joiner unless between letters of a script it shapes,
 * such as Persian or Devanagari), white space trimmed and each run of it made
 * one space, then Unicode NFC; 1 to SF_NAME_MAX bytes. Case and letters are
 * kept as typed. A name of nothing but invisible characters is refused,
 * naming the first.
 *
 * Returns 0, SF_EINVAL (not UTF-8, with the offset of the first bad byte; a
 * forbidden character, with its offset; empty), SF_ETOOLONG (over SF_NAME_MAX
 * bytes, or outsz too small) or SF_ENOMEM; on error out is "" when outsz > 0
 * and err, if not NULL, names the reason.
 */
int sf_name_normalize(const char *input, char *out, size_t outsz, char *err, size_t errsz);

/*
 * Writes into out (the caller's buffer) the key under which a name is
 * searched: NFKC, case folded, without white space or punctuation, Latin
 * letters without their diacritics (é -> e, ş -> s, ğ -> g, ı -> i, đ -> d,
 * ß -> ss), Hangul as precomposed syllables. "KIM Min-jun" and "kim minjun"
 * give "kimminjun"; "김 민준" gives "김민준".
 *
 * Returns 0, SF_EINVAL (not UTF-8, or nothing left to search on: a name of
 * only spaces and punctuation), SF_ETOOLONG (the key does not fit outsz, or
 * name is longer than SF_NAME_KEY_SIZE bytes) or SF_ENOMEM; out is "" on
 * error when outsz > 0.
 */
int sf_name_search_key(const char *name, char *out, size_t outsz);

/* Tells which script the letters of a name are written in (see enum sf_script). */
enum sf_script sf_name_script(const char *name);

#endif
