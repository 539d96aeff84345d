/* Descriptions of the library's error codes and the message-buffer helper. */
#include <safety/error.h>

#include <stdarg.h>
#include <stdio.h>

/* Returns the description of an error code. */
const char *
sf_strerror(int code)
{
	switch (code) {
	case SF_OK:
		return "success";
	case SF_EINVAL:
		return "invalid input";
	case SF_ERANGE:
		return "out of range";
	case SF_ENOMEM:
		return "out of memory";
	case SF_ETOOLONG:
		return "too long";
	case SF_ENOTFOUND:
		return "not found";
	case SF_EMISMATCH:
		return "does not match";
	case SF_EINTERNAL:
		return "internal error";
	}
	return "unknown error";
}

/* Formats a message into buf and returns code unchanged. */
int
sf_error_set(char *buf, size_t size, int code, const char *fmt, ...)
{
	va_list ap;

	if (buf != NULL && size > 0) {
		va_start(ap, fmt);
		vsnprintf(buf, size, fmt, ap);
		va_end(ap);
	}
	return code;
}
