/*
 * E-mail address validation: what a sending SMTP server accepts (RFC 5321
 * dot-atom local part, host name domain), nothing fancier. Quoted local parts,
 * comments and address literals are legal but no national types them, and
 * accepting them would only hide typing mistakes. See rules.md.
 */
#include <safety/email.h>
#include <safety/error.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#define EMAIL_LOCAL_MAX 64
#define EMAIL_DOMAIN_MAX 253
#define EMAIL_LABEL_MAX 63
/* Input beyond this is refused before any work; the normalised form is held to SF_EMAIL_MAX. */
#define EMAIL_INPUT_MAX 1024

/* Tells whether c is an RFC 5321 atext character (letters, digits and !#$%&'*+-/=?^_`{|}~). */
static bool
email_is_atext(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

/* Tells whether c is a space, tab or line end, the characters trimmed from the ends. */
static bool
email_is_blank(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * What kind of ASCII mark c is, for messages: they say where and what kind,
 * never the text itself.
 */
static const char *
email_mark_kind(unsigned char c)
{
	switch (c) {
	case ':':
		return "a colon";
	case ';':
		return "a semicolon";
	case ',':
		return "a comma";
	case '(':
	case ')':
		return "a parenthesis";
	case '<':
	case '>':
		return "an angle bracket";
	case '[':
	case ']':
		return "a square bracket";
	case '\\':
		return "a backslash";
	case '@':
		return "an '@'";
	case '_':
		return "an underscore";
	}
	return "this punctuation mark";
}

/* Checks the local part: a dot-atom of at most 64 octets. */
static int
email_check_local(const char *s, size_t n, size_t offset, char *err, size_t errsz)
{
	if (n == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "email: nothing before '@'");
	if (n > EMAIL_LOCAL_MAX)
		return sf_error_set(err, errsz, SF_ETOOLONG,
		                    "email: part before '@' too long: %zu bytes, at most %d", n,
		                    EMAIL_LOCAL_MAX);
	if (s[0] == '.')
		return sf_error_set(err, errsz, SF_EINVAL, "email: starts with a dot");
	if (s[n - 1] == '.')
		return sf_error_set(err, errsz, SF_EINVAL, "email: dot just before '@'");
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (s[i + 1] == '.')
				return sf_error_set(err, errsz, SF_EINVAL,
				                    "email: two dots in a row at byte %zu",
				                    offset + i);
			continue;
		}
		if (email_is_atext(c))
			continue;
		if (c == '"')
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "email: quoted names before '@' are not accepted");
		if (c == ' ')
			return sf_error_set(err, errsz, SF_EINVAL, "email: space at byte %zu",
			                    offset + i);
		if (c >= 0x80)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "email: only ASCII before '@' (byte %zu)", offset + i);
		if (i == 6 && strncasecmp(s, "mailto:", 7) == 0)
			return sf_error_set(
			    err, errsz, SF_EINVAL,
			    "email: starts with \"mailto:\"; give the address alone");
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "email: %s is not allowed before '@' (byte %zu)",
		                    email_mark_kind(c), offset + i);
	}
	return 0;
}

/* Checks one label of a lower-cased domain: 1-63 octets of letters, digits and inner hyphens. */
static int
email_check_label(const uint8_t *s, size_t n, char *err, size_t errsz)
{
	ucs4_t uc;
	int k;

	if (n == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "email: empty label in the domain");
	if (n > EMAIL_LABEL_MAX)
		return sf_error_set(err, errsz, SF_ETOOLONG,
		                    "email: domain label too long: %zu bytes, at most %d", n,
		                    EMAIL_LABEL_MAX);
	if (s[0] == '-' || s[n - 1] == '-')
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "email: a part of the domain %s with a hyphen",
		                    s[0] == '-' ? "starts" : "ends");
	for (size_t i = 0; i < n; i += (size_t)k) {
		k = u8_mbtoucr(&uc, s + i, n - i);
		if (k < 0)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "email: domain is not valid UTF-8");
		if ((uc >= 'a' && uc <= 'z') || (uc >= '0' && uc <= '9') || uc == '-')
			continue;
		if (uc >= 0x80 &&
		    uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_L | UC_CATEGORY_MASK_M |
		                                             UC_CATEGORY_MASK_Nd))
			continue;
		if (uc == ' ')
			return sf_error_set(err, errsz, SF_EINVAL, "email: space in the domain");
		if (uc > 0x20 && uc < 0x7f)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "email: %s is not allowed in the domain",
			                    email_mark_kind((unsigned char)uc));
		return sf_error_set(
		    err, errsz, SF_EINVAL, "email: %s is not allowed in the domain",
		    uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_Zs)
		        ? "a wide or fixed space"
		    : uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_Cf)
		        ? "an invisible character"
		    : uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_Cc)
		        ? "a control character"
		    : uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_P)
		        ? "punctuation other than '.' and '-' (a full-width or ideographic dot?)"
		        : "a symbol");
	}
	return 0;
}

/* Checks a lower-cased domain: labels, at least one dot, a top-level label not all digits. */
static int
email_check_domain(const uint8_t *s, size_t n, char *err, size_t errsz)
{
	size_t start = 0, dots = 0;
	bool digits_only = true;
	int rc;

	if (n > EMAIL_DOMAIN_MAX)
		return sf_error_set(err, errsz, SF_ETOOLONG,
		                    "email: domain too long: %zu bytes, at most %d", n,
		                    EMAIL_DOMAIN_MAX);
	if (s[0] == '.')
		return sf_error_set(err, errsz, SF_EINVAL, "email: domain starts with a dot");
	if (s[n - 1] == '.')
		return sf_error_set(err, errsz, SF_EINVAL, "email: domain ends with a dot");
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		rc = email_check_label(s + start, i - start, err, errsz);
		if (rc != 0)
			return rc;
		if (i < n)
			dots++;
		else
			for (size_t j = start; j < n; j++)
				digits_only = digits_only && s[j] >= '0' && s[j] <= '9';
		start = i + 1;
	}
	if (dots == 0)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "email: the domain after '@' has no dot");
	if (digits_only)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "email: domain ends in a number, not a name");
	return 0;
}

/* Validates and normalises an e-mail address. */
int
sf_email_validate(const char *input, char *out_normalized, size_t outsz, char *err, size_t errsz)
{
	const char *start, *end, *at = NULL;
	uint8_t domainbuf[EMAIL_INPUT_MAX], *domain = NULL;
	size_t local_len, domain_len, in_domain_len, total, at_count = 0;
	const uint8_t *bad;
	bool ascii = true;
	int rc;

	if (out_normalized != NULL && outsz > 0)
		out_normalized[0] = '\0';
	if (input == NULL || out_normalized == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "email: missing");
	start = input;
	while (email_is_blank((unsigned char)*start))
		start++;
	end = start + strlen(start);
	while (end > start && email_is_blank((unsigned char)end[-1]))
		end--;
	if (end == start)
		return sf_error_set(err, errsz, SF_EINVAL, "email: empty");
	if ((size_t)(end - start) > EMAIL_INPUT_MAX)
		return sf_error_set(err, errsz, SF_ETOOLONG,
		                    "email: too long: %zu bytes, at most %d", (size_t)(end - start),
		                    SF_EMAIL_MAX);
	for (const char *p = start; p < end; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "email: control character at byte %zu",
			                    (size_t)(p - input));
		if (c == '@') {
			at_count++;
			at = p;
		}
		if (c >= 0x80)
			ascii = false;
	}
	if (at_count == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "email: no '@'");
	if (at_count > 1)
		return sf_error_set(err, errsz, SF_EINVAL, "email: more than one '@'");
	local_len = (size_t)(at - start);
	rc = email_check_local(start, local_len, (size_t)(start - input), err, errsz);
	if (rc != 0)
		return rc;

	in_domain_len = (size_t)(end - at - 1);
	if (in_domain_len == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "email: nothing after '@'");
	if (at[1] == '[')
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "email: address literals like [192.0.2.1] are not accepted");
	bad = u8_check((const uint8_t *)at + 1, in_domain_len);
	if (bad != NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "email: not valid UTF-8 at byte %zu",
		                    (size_t)((const char *)bad - input));
	if (ascii) {
		for (size_t i = 0; i < in_domain_len; i++) {
			char c = at[1 + i];

			domainbuf[i] = (uint8_t)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
		}
		domain = domainbuf;
		domain_len = in_domain_len;
	} else {
		/* IDNA2008 wants U-labels lower case and in NFC. */
		domain_len = sizeof domainbuf;
		domain = u8_tolower((const uint8_t *)at + 1, in_domain_len, NULL, UNINORM_NFC,
		                    domainbuf, &domain_len);
		if (domain == NULL)
			return sf_error_set(err, errsz, SF_ENOMEM, "email: out of memory");
	}
	rc = email_check_domain(domain, domain_len, err, errsz);
	if (rc != 0)
		goto out;
	total = local_len + 1 + domain_len;
	if (total > SF_EMAIL_MAX) {
		rc = sf_error_set(err, errsz, SF_ETOOLONG, "email: too long: %zu bytes, at most %d",
		                  total, SF_EMAIL_MAX);
		goto out;
	}
	if (total >= outsz) {
		rc = sf_error_set(err, errsz, SF_ETOOLONG,
		                  "email: output buffer too small: %zu bytes, need %zu", outsz,
		                  total + 1);
		goto out;
	}
	memcpy(out_normalized, start, local_len + 1);
	memcpy(out_normalized + local_len + 1, domain, domain_len);
	out_normalized[total] = '\0';
out:
	if (domain != domainbuf)
		free(domain);
	return rc;
}
