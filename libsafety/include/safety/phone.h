/*
 * Phone numbers in E.164 form ("+821012345678"). Numbers reach the registry
 * typed in many national styles, from forms and spreadsheets; the SMS gateways
 * and the deduplication of nationals need one form, so this module rewrites a
 * number into it or says, in one line, why it cannot.
 */
#ifndef SAFETY_PHONE_H
#define SAFETY_PHONE_H

#include <stdbool.h>
#include <stddef.h>

/* The longest E.164 number: '+' and 15 digits. */
#define SF_PHONE_E164_MAX 16
/* A buffer that always holds a normalised number and its NUL. */
#define SF_PHONE_E164_SIZE 17

/*
 * Rewrites input into E.164 and writes it, NUL-terminated, into out (the
 * caller's buffer; SF_PHONE_E164_SIZE bytes always suffice).
 *
 * default_country is the ISO 3166 alpha-2 code of the mission ("TR", case
 * insensitive) used for numbers written in national form, or NULL when there
 * is none; then only international forms ("+90…", "0090…") are accepted.
 * Spaces, dots, dashes, slashes and brackets are ignored, as are their
 * full-width forms; any Unicode decimal digit counts as a digit.
 *
 * The mission's country also decides how far a Korean carrier prefix
 * (001, 002, 005, 006, 008, 00700, all beginning with 00) is believed; a
 * number that reads as two different valid numbers is refused (see rules.md).
 *
 * Returns 0, SF_EINVAL (not a phone number: letters, stray '+', no digits,
 * unknown country code, national form without a country, 00 or carrier
 * prefix that cannot be told apart), SF_ERANGE (a
 * number, but not a possible one for its country: too few or too many digits,
 * a range not in use) or SF_ETOOLONG (outsz too small); on error out is set to
 * "" when outsz > 0 and err, if not NULL, names the reason.
 */
int sf_phone_normalize(const char *input, const char *default_country, char *out, size_t outsz,
                       char *err, size_t errsz);

/*
 * Tells whether a number that sf_phone_normalize reads as one of
 * default_country is, as written, also a Korean mobile in Korean national
 * form (010 and 8 digits): "010-1234-5678" at a mission in Egypt, where 010
 * starts mobiles too, or in China, where it is Beijing. The reading of the
 * mission's country stands; warn (when not NULL) gets a line for staff to
 * check which was meant, without the number (messages may be logged).
 * False for the mission of Korea, international forms and numbers that
 * read alike either way.
 */
bool sf_phone_also_korean_mobile(const char *input, const char *default_country, char *warn,
                                 size_t warnsz);

/*
 * Writes into cc_out the ISO 3166 alpha-2 code of the country an E.164
 * number belongs to ("+90…" -> "TR"). +1 is resolved by area code (Canada
 * and the Caribbean, otherwise "US") and +7 by its next digit ("KZ" for 6 and
 * 7, otherwise "RU"); other codes shared by several territories give the main
 * one ("+44" -> "GB"). The number is not otherwise validated.
 *
 * Returns 0, SF_EINVAL (not '+' and digits, or an unknown country code) or
 * SF_ENOTFOUND (a code of no country: satellite, international networks,
 * freephone); cc_out is "" on error.
 */
int sf_phone_country(const char *e164, char cc_out[3]);

#endif
