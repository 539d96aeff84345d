/*
 * E-mail addresses as a sending SMTP server accepts them. Contacts are typed
 * by nationals and staff; an address the relay would refuse must be caught at
 * registration, not discovered in a crisis when a check-in bounces.
 */
#ifndef SAFETY_EMAIL_H
#define SAFETY_EMAIL_H

#include <stddef.h>

/* The longest address (RFC 5321 path limit less the angle brackets). */
#define SF_EMAIL_MAX 254
/* A buffer that always holds a normalised address and its NUL. */
#define SF_EMAIL_SIZE 255

/*
 * Validates an address and writes its normalised form, NUL-terminated, into
 * out_normalized (the caller's buffer; SF_EMAIL_SIZE bytes always suffice).
 *
 * Surrounding spaces, tabs and line ends are trimmed; the local part keeps its
 * case and must be an RFC 5321 dot-atom of ASCII characters (no quoted
 * strings, no comments); the domain is lower-cased and must be a host name of
 * at least two labels: ASCII letters, digits and inner hyphens, or UTF-8
 * letters, marks and digits (an internationalised domain stays in UTF-8, NFC;
 * a sender whose relay lacks SMTPUTF8 must convert it to A-labels).
 *
 * Returns 0, SF_EINVAL (malformed), or SF_ETOOLONG (local part over 64
 * octets, a label over 63, domain over 253, address over 254, or outsz too
 * small); on error out_normalized is "" when outsz > 0 and err, if not NULL,
 * names the reason.
 */
int sf_email_validate(const char *input, char *out_normalized, size_t outsz, char *err,
                      size_t errsz);

#endif
