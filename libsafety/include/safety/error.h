/*
 * Error codes shared by every libsafety module. Functions return 0 on success
 * or one of these negative codes; the ones that can fail in many ways also
 * fill a caller's message buffer naming the field and the reason.
 */
#ifndef SAFETY_ERROR_H
#define SAFETY_ERROR_H

#include <stddef.h>

enum sf_error {
	SF_OK = 0,
	SF_EINVAL = -1,   /* input is malformed */
	SF_ERANGE = -2,   /* input is well formed but out of range */
	SF_ENOMEM = -3,   /* allocation failed */
	SF_ETOOLONG = -4, /* input or output exceeds a limit */
	SF_ENOTFOUND = -5,
	SF_EMISMATCH = -6, /* a secret, token or checksum did not match */
	SF_EINTERNAL = -7, /* a library call (OpenSSL) failed */
};

/* A short, static, lower-case description of an error code. */
const char *sf_strerror(int code);

/*
 * Writes a formatted message into buf (if buf is not NULL and size > 0) and
 * returns code, so a caller can write `return sf_error_set(buf, n, SF_EINVAL,
 * "phone: too short")`.
 */
int sf_error_set(char *buf, size_t size, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
