/*
 * Coordinates from text, geo: URIs, GeoJSON and map-app links, with the order
 * of latitude and longitude fixed by each entry point and checked; plus the
 * two computations the rest of the library needs without a database:
 * haversine distance and a point-in-ring test. Numbers are read here, not by
 * strtod, so that neither the locale nor "nan", "inf" or "1e5" get through.
 */
#include <safety/error.h>
#include <safety/geo.h>

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define GEO_PI 3.14159265358979323846
#define GEO_RAD (GEO_PI / 180.0)
/* Radius of the sphere of Web Mercator (EPSG:3857), which Naver Map links use. */
#define GEO_MERCATOR_RADIUS_M 6378137.0
/* Significant digits kept from a number; below 2^53, so the value is exact before scaling. */
#define GEO_DIGITS_MAX 15
/* Longest map link read, and longest query value decoded. */
#define GEO_URL_MAX 8192
#define GEO_VALUE_MAX 512

/* One coordinate as typed: its value and the hemisphere letter written with it, if any. */
struct geo_coord {
	double value;
	char hemisphere; /* 'N', 'S', 'E', 'W' or 0 */
	bool attached;   /* the letter followed the number without a space */
};

static const double geo_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Tells whether c is an ASCII digit. */
static bool
geo_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Returns c in ASCII lower case. */
static char
geo_lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Returns c in ASCII upper case. */
static char
geo_upper(char c)
{
	return c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
}

/* Tells whether s begins with prefix, ASCII case ignored. */
static bool
geo_has_prefix(const char *s, const char *prefix)
{
	for (; *prefix != '\0'; s++, prefix++) {
		if (geo_lower(*s) != geo_lower(*prefix))
			return false;
	}
	return true;
}

/* Consumes lit if s begins with it. */
static bool
geo_match(const char **pp, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*pp, lit, n) != 0)
		return false;
	*pp += n;
	return true;
}

/* Skips spaces, tabs and no-break spaces; tells whether there were any. */
static bool
geo_skip_spaces(const char **pp)
{
	const char *start = *pp;

	for (;;) {
		if (**pp == ' ' || **pp == '\t')
			(*pp)++;
		else if (!geo_match(pp, "\u00a0"))
			break;
	}
	return *pp != start;
}

/*
 * Reads an unsigned decimal number, "12" or "12.5", into *out. A digit must
 * follow a decimal point; signs, exponents and words are left to the caller.
 */
static bool
geo_read_unsigned(const char **pp, double *out, bool *has_fraction)
{
	const char *p = *pp;
	uint64_t mantissa = 0;
	int significant = 0, scale = 0, extra = 0;
	double value;

	if (!geo_is_digit(*p))
		return false;
	for (; geo_is_digit(*p); p++) {
		if (significant < GEO_DIGITS_MAX) {
			mantissa = mantissa * 10 + (uint64_t)(*p - '0');
			significant += mantissa != 0;
		} else {
			extra++;
		}
	}
	*has_fraction = false;
	if (*p == '.' && geo_is_digit(p[1])) {
		*has_fraction = true;
		for (p++; geo_is_digit(*p); p++) {
			if (significant < GEO_DIGITS_MAX) {
				mantissa = mantissa * 10 + (uint64_t)(*p - '0');
				significant += mantissa != 0;
				scale++;
			}
		}
	}
	/* One correctly rounded division when the scale is in the table of exact powers. */
	value = (double)mantissa;
	/* Beyond 10^37 a number is absurd here but must stay finite, to be reported as such. */
	if (extra > 22)
		value = 1e300;
	else if (extra > 0)
		value *= geo_pow10[extra];
	if (scale <= 22)
		value /= geo_pow10[scale];
	else
		value = value / geo_pow10[22] / pow(10.0, scale - 22);
	*out = value;
	*pp = p;
	return true;
}

/* Reads a number with an optional sign ('+', '-' or U+2212); *sign is +1, -1 or 0 for none. */
static bool
geo_read_signed(const char **pp, double *out, bool *has_fraction, int *sign)
{
	const char *p = *pp;

	*sign = 0;
	if (*p == '+' || *p == '-') {
		*sign = *p == '-' ? -1 : 1;
		p++;
	} else if (geo_match(&p, "\u2212")) {
		*sign = -1;
	}
	if (!geo_read_unsigned(&p, out, has_fraction))
		return false;
	if (*sign < 0)
		*out = -*out;
	*pp = p;
	return true;
}

/* Reads a hemisphere written before a number: a letter or a Korean word (북위 …). */
static char
geo_read_hemisphere_prefix(const char **pp)
{
	static const struct {
		const char *word;
		char hemisphere;
	} words[] = {{"북위", 'N'}, {"남위", 'S'}, {"동경", 'E'}, {"서경", 'W'}};
	char c = geo_upper(**pp);

	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (geo_match(pp, words[i].word))
			return words[i].hemisphere;
	}
	if ((c == 'N' || c == 'S' || c == 'E' || c == 'W') &&
	    (geo_is_digit((*pp)[1]) || (*pp)[1] == ' ')) {
		(*pp)++;
		return c;
	}
	return 0;
}

/*
 * Reads a hemisphere letter after a number. After spaces, a letter followed by
 * a digit belongs to the next number ("37.5 E126.9" is not 37.5E).
 */
static char
geo_read_hemisphere_suffix(const char **pp, bool *attached)
{
	const char *p = *pp;
	bool spaced = geo_skip_spaces(&p);
	char c = geo_upper(*p), next;

	if (c != 'N' && c != 'S' && c != 'E' && c != 'W')
		return 0;
	next = p[1];
	if ((next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z'))
		return 0;
	if (spaced && (geo_is_digit(next) || next == '-' || next == '+'))
		return 0;
	*attached = !spaced;
	*pp = p + 1;
	return c;
}

/* Reads a minute mark: ' ′ or ’. */
static bool
geo_read_minute_mark(const char **pp)
{
	return geo_match(pp, "'") || geo_match(pp, "\u2032") || geo_match(pp, "\u2019");
}

/* Reads a second mark: " ″ ” or two apostrophes. */
static bool
geo_read_second_mark(const char **pp)
{
	return geo_match(pp, "\"") || geo_match(pp, "''") || geo_match(pp, "\u2033") ||
	       geo_match(pp, "\u201d");
}

/*
 * What stands at p, for messages: they say what kind of text is where, never
 * the text itself.
 */
static const char *
geo_kind(const char *p)
{
	if (geo_is_digit(*p))
		return "a number";
	if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
		return "letters";
	switch (*p) {
	case ';':
		return "a semicolon";
	case ',':
		return "a comma";
	case '/':
		return "a slash";
	case '-':
	case '+':
		return "a sign";
	case '(':
	case ')':
		return "a parenthesis";
	}
	if ((unsigned char)*p >= 0x80)
		return "a character that is not ASCII";
	return "a punctuation mark";
}

/*
 * Whether the spaces and number at p, followed by a hemisphere letter, are
 * minutes or seconds no coordinate can have (60 or more, or signed); then err
 * says so, with where the number is.
 */
static bool
geo_minutes_wrong(const char *p, const char *what, const char *base, char *err, size_t errsz)
{
	const char *q = p, *at;
	double v;
	bool frac, attached;
	int sign;

	if (!geo_skip_spaces(&q))
		return false;
	at = q;
	if (!geo_read_signed(&q, &v, &frac, &sign) ||
	    geo_read_hemisphere_suffix(&q, &attached) == 0)
		return false;
	if (sign != 0)
		sf_error_set(err, errsz, SF_ERANGE,
		             "geo: a sign on the minutes or seconds of the %s (byte %zu); put the "
		             "sign, or S or W, with the degrees",
		             what, (size_t)(at - base));
	else if (v >= 60)
		sf_error_set(err, errsz, SF_ERANGE,
		             "geo: minutes and seconds of the %s must be below 60 (the number at "
		             "byte %zu)",
		             what, (size_t)(at - base));
	return sign != 0 || v >= 60;
}

/*
 * Reads one typed coordinate: decimal degrees, or degrees, minutes and seconds
 * ("37°33'59.4\"N"), with a sign or a hemisphere. what names it in messages.
 * With spaced, whole degrees followed by a space and a number are degrees and
 * minutes without their marks ("37 34.2", "37 34 12"), a reading the caller
 * accepts only when hemisphere letters say which coordinate is which.
 */
static int
geo_read_coord(const char **pp, const char *base, struct geo_coord *c, const char *what,
               bool spaced, char *err, size_t errsz)
{
	const char *p = *pp;
	double degrees, minutes = 0, seconds = 0;
	bool frac_deg, frac_min = false, frac_sec, has_minutes = false;
	char prefix;
	int sign;

	c->attached = false;
	prefix = geo_read_hemisphere_prefix(&p);
	geo_skip_spaces(&p);
	if (!geo_read_signed(&p, &degrees, &frac_deg, &sign)) {
		if (geo_has_prefix(p, "nan") || geo_has_prefix(p, "inf"))
			return sf_error_set(err, errsz, SF_EINVAL, "geo: %s is not a number", what);
		return sf_error_set(err, errsz, SF_EINVAL, "geo: expected a %s", what);
	}
	{
		const char *q = p;

		geo_skip_spaces(&q);
		if (geo_match(&q, "\u00b0") || geo_match(&q, "\u00ba")) {
			p = q;
			q = p;
			geo_skip_spaces(&q);
			if (geo_read_unsigned(&q, &minutes, &frac_min)) {
				geo_skip_spaces(&q);
				if (!geo_read_minute_mark(&q))
					return sf_error_set(err, errsz, SF_EINVAL,
					                    "geo: expected ' after the minutes of "
					                    "the %s",
					                    what);
				has_minutes = true;
				p = q;
				geo_skip_spaces(&q);
				if (geo_read_unsigned(&q, &seconds, &frac_sec)) {
					geo_skip_spaces(&q);
					if (!geo_read_second_mark(&q))
						return sf_error_set(
						    err, errsz, SF_EINVAL,
						    "geo: expected \" after the seconds of the %s",
						    what);
					if (frac_min)
						return sf_error_set(err, errsz, SF_EINVAL,
						                    "geo: minutes with a fraction "
						                    "and seconds in the %s",
						                    what);
					p = q;
				}
			}
		} else if (spaced && !frac_deg && sign == 0) {
			double v;
			bool frac;

			q = p;
			/*
			 * A number before a hemisphere letter is the minutes (or seconds)
			 * of this coordinate: one out of range or with a sign is said so,
			 * rather than taken for the next coordinate.
			 */
			if (degrees <= 180 && geo_minutes_wrong(q, what, base, err, errsz))
				return SF_ERANGE;
			if (degrees <= 180 && geo_skip_spaces(&q) &&
			    geo_read_unsigned(&q, &v, &frac) && v < 60) {
				minutes = v;
				frac_min = frac;
				has_minutes = true;
				p = q;
				/* Seconds only after whole minutes, and only a number that can be.
				 */
				if (!frac_min && geo_minutes_wrong(q, what, base, err, errsz))
					return SF_ERANGE;
				if (!frac_min && geo_skip_spaces(&q) &&
				    geo_read_unsigned(&q, &v, &frac) && v < 60) {
					seconds = v;
					p = q;
				}
			}
		}
	}
	if (has_minutes && frac_deg)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: degrees with a fraction and minutes in the %s", what);
	if (minutes >= 60 || seconds >= 60)
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "geo: minutes and seconds of the %s must be below 60", what);
	c->hemisphere = prefix != 0 ? prefix : geo_read_hemisphere_suffix(&p, &c->attached);
	if (prefix != 0) {
		bool attached;

		if (geo_read_hemisphere_suffix(&p, &attached) != 0)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "geo: two hemisphere letters on the %s", what);
	}
	if (c->hemisphere != 0 && sign != 0)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: both a sign and a hemisphere letter on the %s", what);
	c->value = fabs(degrees) + minutes / 60 + seconds / 3600;
	if (sign < 0 || c->hemisphere == 'S' || c->hemisphere == 'W')
		c->value = -c->value;
	*pp = p;
	return 0;
}

/* Checks a point; hint, if not NULL, is appended when only the swapped pair would fit. */
static int
geo_check(const struct sf_point *p, const char *hint, char *err, size_t errsz)
{
	bool swapped_fits = fabs(p->lon) <= 90 && fabs(p->lat) <= 180;

	if (!isfinite(p->lat))
		return sf_error_set(err, errsz, SF_EINVAL, "geo: latitude is not a number");
	if (!isfinite(p->lon))
		return sf_error_set(err, errsz, SF_EINVAL, "geo: longitude is not a number");
	if (fabs(p->lat) > 90)
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "geo: latitude out of range (-90 to 90)%s%s",
		                    hint != NULL && swapped_fits ? "; " : "",
		                    hint != NULL && swapped_fits ? hint : "");
	if (fabs(p->lon) > 180)
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "geo: longitude out of range (-180 to 180)");
	return 0;
}

/* Checks that a point is finite and in range. */
int
sf_point_validate(const struct sf_point *p, char *err, size_t errsz)
{
	if (p == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "geo: missing");
	return geo_check(p, "looks like lon,lat: swap?", err, errsz);
}

/* Tells whether a hemisphere letter marks a latitude. */
static bool
geo_is_latitude_letter(char h)
{
	return h == 'N' || h == 'S';
}

/* Tells whether a hemisphere letter marks a longitude. */
static bool
geo_is_longitude_letter(char h)
{
	return h == 'E' || h == 'W';
}

/*
 * Parses a typed "lat, lon" pair; spaced as for geo_read_coord. *trailing is
 * set when the pair was read but a number followed it (degrees and minutes
 * separated by a space, read as two coordinates).
 */
static int
geo_parse_latlon(const char *s, bool spaced_dm, struct sf_point *out, bool *trailing, char *err,
                 size_t errsz)
{
	struct geo_coord a, b;
	struct sf_point pt;
	const char *p = s;
	bool paren = false, spaced;
	int rc;

	if (s == NULL || out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "geo: missing");
	geo_skip_spaces(&p);
	if (*p == '\0')
		return sf_error_set(err, errsz, SF_EINVAL, "geo: empty");
	if (*p == '[')
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: [ ] looks like a GeoJSON position, which is lon,lat; "
		                    "write lat, lon");
	if (*p == '(') {
		paren = true;
		p++;
		geo_skip_spaces(&p);
	}
	rc = geo_read_coord(&p, s, &a, "latitude", spaced_dm, err, errsz);
	if (rc != 0)
		return rc;
	spaced = geo_skip_spaces(&p);
	if (*p == ',') {
		p++;
		geo_skip_spaces(&p);
	} else if (*p == '\0' || (paren && *p == ')')) {
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: expected latitude, longitude; got one number");
	} else if (!spaced && !a.attached) {
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: expected ',' or a space after the latitude, found %s "
		                    "(byte %zu)",
		                    geo_kind(p), (size_t)(p - s));
	}
	rc = geo_read_coord(&p, s, &b, "longitude", spaced_dm, err, errsz);
	if (rc != 0)
		return rc;
	spaced = geo_skip_spaces(&p);
	/* A number of its own (perhaps lettered) after the pair: "37 34.2N 126 58.8E" read as
	 * 37, 34.2N. */
	{
		const char *q = p;

		if (*q == ',') {
			spaced = true;
			q++;
			geo_skip_spaces(&q);
		}
		(void)geo_read_hemisphere_prefix(&q);
		geo_skip_spaces(&q);
		*trailing = spaced && geo_is_digit(*q);
	}
	if (paren) {
		if (*p != ')')
			return sf_error_set(err, errsz, SF_EINVAL, "geo: missing ')'");
		p++;
		geo_skip_spaces(&p);
	}
	if (*p != '\0')
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: unexpected %s after the longitude (byte %zu)",
		                    geo_kind(p), (size_t)(p - s));
	/* Unmarked degrees and minutes are taken only when letters say which is which. */
	if (spaced_dm && (a.hemisphere == 0 || b.hemisphere == 0))
		return sf_error_set(err, errsz, SF_EINVAL, "geo: no hemisphere letters");

	if ((geo_is_latitude_letter(a.hemisphere) && geo_is_latitude_letter(b.hemisphere)))
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: two latitudes (N or S), no longitude");
	if ((geo_is_longitude_letter(a.hemisphere) && geo_is_longitude_letter(b.hemisphere)))
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: two longitudes (E or W), no latitude");
	/* Letters say which is which; an unlettered number takes the role left. */
	if (geo_is_longitude_letter(a.hemisphere) || geo_is_latitude_letter(b.hemisphere)) {
		pt.lat = b.value;
		pt.lon = a.value;
	} else {
		pt.lat = a.value;
		pt.lon = b.value;
	}
	rc = geo_check(&pt,
	               a.hemisphere == 0 && b.hemisphere == 0 ? "looks like lon,lat: swap?" : NULL,
	               err, errsz);
	if (rc != 0)
		return rc;
	*out = pt;
	return 0;
}

/* How many numbers s holds ("37.5" is one), and where the first decimal comma is. */
static size_t
geo_numbers(const char *s, size_t *commas, size_t *first_comma)
{
	size_t n = 0;

	*commas = 0;
	for (size_t i = 0; s[i] != '\0'; i++) {
		if (!geo_is_digit(s[i]))
			continue;
		/* A number starts after a space, a comma, a sign or a parenthesis ("1e2" is one).
		 */
		if (i == 0 || strchr(" \t,+-(", s[i - 1]) != NULL ||
		    (i >= 3 && memcmp(s + i - 3, "\u2212", 3) == 0))
			n++;
		if (s[i + 1] == ',' && geo_is_digit(s[i + 2]) && (*commas)++ == 0)
			*first_comma = i + 1;
	}
	return n;
}

int
sf_point_parse_latlon(const char *s, struct sf_point *out, char *err, size_t errsz)
{
	bool trailing = false, unused = false; /* after the second reading */
	char err2[160];
	size_t commas = 0, first_comma = 0, numbers;
	int rc, rc2;

	rc = geo_parse_latlon(s, false, out, &trailing, err, errsz);
	if (rc == 0 || s == NULL)
		return rc;
	numbers = geo_numbers(s, &commas, &first_comma);
	/* "37,5665 126,978": a comma between digits twice is a decimal comma. */
	if (commas >= 2)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: decimal commas (the first at byte %zu); write decimals "
		                    "with a point and the pair as latitude, longitude (37.5665, "
		                    "126.978)",
		                    first_comma);
	if (!trailing && numbers <= 2)
		return rc;
	/*
	 * More numbers than a pair: degrees and minutes separated by a space
	 * ("37 34.2N 126 58.8E"), read again as such. A reading that fits
	 * better wins; otherwise the message names the form, not a stray number.
	 */
	rc2 = geo_parse_latlon(s, true, out, &unused, err2, sizeof err2);
	if (rc2 == 0) {
		if (err != NULL && errsz > 0)
			err[0] = '\0';
		return 0;
	}
	if (unused)
		return rc; /* the numbers are not degrees and minutes either */
	if (rc2 == SF_ERANGE)
		return sf_error_set(err, errsz, rc2, "%s", err2);
	return sf_error_set(err, errsz, SF_EINVAL,
	                    "geo: more than two numbers: for degrees and minutes give each "
	                    "coordinate its hemisphere letter (37 34.2N 126 58.8E) or the marks "
	                    "° and ' (37°34.2'N 126°58.8'E)");
}

/* Reads a geo URI number: an optional '-' and digits with an optional fraction (RFC 5870). */
static bool
geo_read_uri_number(const char **pp, double *out)
{
	const char *p = *pp;
	bool negative = false, frac;

	if (*p == '-') {
		negative = true;
		p++;
	}
	if (!geo_read_unsigned(&p, out, &frac))
		return false;
	if (negative)
		*out = -*out;
	*pp = p;
	return true;
}

/* Returns the value of a hexadecimal digit, or -1. */
static int
geo_hex(char c)
{
	c = geo_lower(c);
	if (geo_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes %XX escapes (and '+' as a space when plus_space) of n bytes into out. */
static bool
geo_decode(const char *s, size_t n, bool plus_space, char *out, size_t outsz)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		int hi, lo;

		if (j + 1 >= outsz)
			return false;
		if (s[i] == '%') {
			if (i + 2 >= n)
				return false;
			hi = geo_hex(s[i + 1]);
			lo = geo_hex(s[i + 2]);
			/* An escaped NUL would cut the value short. */
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			out[j++] = (char)(hi * 16 + lo);
			i += 2;
		} else if (s[i] == '+' && plus_space) {
			out[j++] = ' ';
		} else {
			out[j++] = s[i];
		}
	}
	out[j] = '\0';
	return true;
}

/* Finds name=value in a query string ("a=1&b=2") and decodes the value into out. */
static bool
geo_query_get(const char *query, const char *name, char *out, size_t outsz)
{
	size_t nlen = strlen(name);
	const char *p = query;

	while (p != NULL && *p != '\0') {
		const char *amp = strchr(p, '&');
		size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);

		if (len > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=')
			return geo_decode(p + nlen + 1, len - nlen - 1, true, out, outsz);
		p = amp != NULL ? amp + 1 : NULL;
	}
	return false;
}

/* Parses an RFC 5870 geo URI. */
int
sf_point_parse_geo_uri(const char *uri, struct sf_point *out, double *accuracy_m, char *err,
                       size_t errsz)
{
	struct sf_point pt;
	double altitude, uncertainty = -1;
	const char *p = uri;
	char value[GEO_VALUE_MAX];
	int rc;

	if (uri == NULL || out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "geo: missing");
	geo_skip_spaces(&p);
	if (!geo_has_prefix(p, "geo:"))
		return sf_error_set(err, errsz, SF_EINVAL, "geo: not a geo: URI");
	p += 4;
	if (!geo_read_uri_number(&p, &pt.lat) || *p++ != ',' || !geo_read_uri_number(&p, &pt.lon))
		return sf_error_set(err, errsz, SF_EINVAL, "geo: expected geo:latitude,longitude");
	if (*p == ',') {
		p++;
		if (!geo_read_uri_number(&p, &altitude))
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "geo: expected an altitude after ','");
	}
	while (*p == ';') {
		const char *name = ++p, *val;
		size_t nlen, vlen;

		while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || geo_is_digit(*p) ||
		       *p == '-')
			p++;
		nlen = (size_t)(p - name);
		if (nlen == 0)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "geo: empty parameter after ';'");
		val = p;
		if (*p == '=') {
			val = ++p;
			while (*p != '\0' && *p != ';' && *p != '?' && *p != ' ')
				p++;
		}
		vlen = (size_t)(p - val);
		if (nlen == 3 && geo_has_prefix(name, "crs")) {
			if (vlen != 5 || !geo_has_prefix(val, "wgs84"))
				return sf_error_set(
				    err, errsz, SF_EINVAL,
				    "geo: a coordinate system other than wgs84 (byte "
				    "%zu); only wgs84 is supported",
				    (size_t)(val - uri));
		} else if (nlen == 1 && geo_lower(name[0]) == 'u') {
			const char *q = val;
			bool frac;

			if (*q == '-')
				return sf_error_set(err, errsz, SF_EINVAL,
				                    "geo: uncertainty must not be negative");
			if (!geo_read_unsigned(&q, &uncertainty, &frac) || q != p)
				return sf_error_set(err, errsz, SF_EINVAL,
				                    "geo: uncertainty is not a number of metres");
		}
	}
	if (*p == '?') {
		const char *query = ++p;

		p += strcspn(p, " ");
		/* Android's geo:0,0?q=lat,lon(label) carries the point in q. */
		if (pt.lat == 0 && pt.lon == 0 && geo_query_get(query, "q", value, sizeof value)) {
			char *label = strchr(value, '(');

			if (label != NULL && label != value)
				*label = '\0';
			rc = sf_point_parse_latlon(value, &pt, err, errsz);
			if (rc != 0)
				return rc;
		}
	}
	geo_skip_spaces(&p);
	if (*p != '\0')
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: unexpected %s in the geo URI (byte %zu)", geo_kind(p),
		                    (size_t)(p - uri));
	rc = geo_check(&pt, "looks like lon,lat: swap?", err, errsz);
	if (rc != 0)
		return rc;
	*out = pt;
	if (accuracy_m != NULL)
		*accuracy_m = uncertainty;
	return 0;
}

/* Makes a point from a GeoJSON position given in array order. */
int
sf_point_from_geojson_position(double first, double second, struct sf_point *out, char *err,
                               size_t errsz)
{
	struct sf_point pt = {.lat = second, .lon = first};
	int rc;

	if (out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "geo: missing");
	rc = geo_check(&pt, "looks like lat,lon: swap?", err, errsz);
	if (rc != 0)
		return rc;
	*out = pt;
	return 0;
}

/* Writes a point in GeoJSON order. */
int
sf_point_to_geojson_position(const struct sf_point *p, double position[2])
{
	int rc;

	if (position == NULL)
		return SF_EINVAL;
	rc = sf_point_validate(p, NULL, 0);
	if (rc != 0)
		return rc;
	position[0] = p->lon;
	position[1] = p->lat;
	return 0;
}

/* The parts of a link, NUL-terminated in the caller's copy. */
struct geo_link {
	char host[256];
	const char *path;     /* from the first '/' after the host, or "" */
	const char *query;    /* after '?', or "" */
	const char *fragment; /* after '#', or "" */
};

/* Splits a link (scheme optional) into host, path, query and fragment, in place. */
static bool
geo_link_split(char *url, struct geo_link *link)
{
	char *p = url, *host, *hash, *question;
	size_t n;

	if (geo_has_prefix(p, "https://"))
		p += 8;
	else if (geo_has_prefix(p, "http://"))
		p += 7;
	else if (strstr(p, "://") != NULL)
		return false;
	host = p;
	n = strcspn(p, "/?#:");
	if (n == 0 || n >= sizeof link->host)
		return false;
	for (size_t i = 0; i < n; i++)
		link->host[i] = geo_lower(host[i]);
	link->host[n] = '\0';
	p += n;
	if (*p == ':')
		p += 1 + strspn(p + 1, "0123456789");
	hash = strchr(p, '#');
	link->fragment = "";
	if (hash != NULL) {
		*hash = '\0';
		link->fragment = hash + 1;
	}
	question = strchr(p, '?');
	link->query = "";
	if (question != NULL) {
		*question = '\0';
		link->query = question + 1;
	}
	link->path = p;
	return true;
}

/* Tells whether host is host or ends in "." host. */
static bool
geo_host_is(const char *host, const char *name)
{
	size_t h = strlen(host), n = strlen(name);

	return h == n ? strcmp(host, name) == 0
	              : h > n && host[h - n - 1] == '.' && strcmp(host + h - n, name) == 0;
}

/* Tells whether host is Google's: google.com, www.google.co.kr, maps.google.com.tr … */
static bool
geo_is_google_host(const char *host)
{
	const char *tld;
	size_t n;

	if (strncmp(host, "www.", 4) == 0)
		host += 4;
	else if (strncmp(host, "maps.", 5) == 0)
		host += 5;
	if (strncmp(host, "google.", 7) != 0)
		return false;
	tld = host + 7;
	if (strncmp(tld, "co.", 3) == 0)
		tld += 3;
	else if (strncmp(tld, "com.", 4) == 0)
		tld += 4;
	n = strlen(tld);
	if (strcmp(tld, "com") == 0)
		return true;
	return n == 2 && tld[0] >= 'a' && tld[0] <= 'z' && tld[1] >= 'a' && tld[1] <= 'z';
}

/*
 * Tries query parameters in turn as "lat,lon" (Google's "loc:" prefix
 * allowed). Returns 0 with the point, SF_ERANGE with the message of the first
 * pair out of range (a swapped one says so), or SF_ENOTFOUND.
 */
static int
geo_try_params(const char *query, const char *const *names, size_t n, struct sf_point *out,
               char *err, size_t errsz)
{
	char value[GEO_VALUE_MAX];
	int found = SF_ENOTFOUND;

	for (size_t i = 0; i < n; i++) {
		const char *v = value;
		int rc;

		if (!geo_query_get(query, names[i], value, sizeof value))
			continue;
		if (geo_has_prefix(v, "loc:"))
			v += 4;
		rc = sf_point_parse_latlon(v, out, found == SF_ENOTFOUND ? err : NULL,
		                           found == SF_ENOTFOUND ? errsz : 0);
		if (rc == 0)
			return 0;
		if (rc == SF_ERANGE)
			found = SF_ERANGE;
	}
	return found;
}

/* Reads "<lat><sep><lon>" as two plain signed numbers, as map links write them. */
static bool
geo_read_pair(const char **pp, char sep, struct sf_point *out)
{
	const char *p = *pp;
	bool frac;
	int sign;

	if (!geo_read_signed(&p, &out->lat, &frac, &sign) || *p++ != sep ||
	    !geo_read_signed(&p, &out->lon, &frac, &sign))
		return false;
	*pp = p;
	return true;
}

/* Reads a Google Maps link. */
static int
geo_google(const struct geo_link *link, struct sf_point *pt, char *err, size_t errsz)
{
	static const char *const params[] = {"q",           "query", "ll", "center",
	                                     "destination", "daddr", "sll"};
	static const char *const dir_params[] = {"destination", "daddr"};
	char segment[GEO_VALUE_MAX];
	const char *p;
	int rc;

	if (strncmp(link->path, "/maps/dir", 9) == 0) {
		/* The view of a route is not where anyone is. */
		rc = geo_try_params(link->query, dir_params, 2, pt, err, errsz);
		if (rc != SF_ENOTFOUND)
			return rc;
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: a directions link has no single place; share the place");
	}
	/* The place's pin, more exact than the view. */
	p = strstr(link->path, "!3d");
	if (p != NULL) {
		bool frac;
		int sign;

		p += 3;
		if (geo_read_signed(&p, &pt->lat, &frac, &sign) && geo_match(&p, "!4d") &&
		    geo_read_signed(&p, &pt->lon, &frac, &sign))
			return 0;
	}
	rc = geo_try_params(link->query, params, sizeof params / sizeof params[0], pt, err, errsz);
	if (rc != SF_ENOTFOUND)
		return rc;
	p = strstr(link->path, "/place/");
	if (p != NULL) {
		p += 7;
		if (geo_decode(p, strcspn(p, "/"), true, segment, sizeof segment) &&
		    sf_point_parse_latlon(segment, pt, NULL, 0) == 0)
			return 0;
	}
	p = strstr(link->path, "/@");
	if (p != NULL) {
		p += 2;
		if (geo_read_pair(&p, ',', pt) && (*p == ',' || *p == '/' || *p == '\0'))
			return 0;
	}
	return sf_error_set(err, errsz, SF_EINVAL,
	                    "geo: the Google Maps link has no coordinates; share a dropped pin");
}

/* Reads an Apple Maps link. */
static int
geo_apple(const struct geo_link *link, struct sf_point *pt, char *err, size_t errsz)
{
	static const char *const params[] = {"ll", "coordinate", "q", "sll", "daddr"};
	int rc;

	rc = geo_try_params(link->query, params, sizeof params / sizeof params[0], pt, err, errsz);
	if (rc != SF_ENOTFOUND)
		return rc;
	return sf_error_set(err, errsz, SF_EINVAL,
	                    "geo: the Apple Maps link has no coordinates; share a dropped pin");
}

/* Reads a whole query value as one signed number. */
static bool
geo_param_number(const char *query, const char *name, double *out)
{
	char value[GEO_VALUE_MAX];
	const char *p = value;
	bool frac;
	int sign;

	return geo_query_get(query, name, value, sizeof value) &&
	       geo_read_signed(&p, out, &frac, &sign) && *p == '\0';
}

/* Reads an OpenStreetMap link: the marker, else the view in the fragment. */
static int
geo_osm(const struct geo_link *link, struct sf_point *pt, char *err, size_t errsz)
{
	const char *p;
	double zoom;
	bool frac;

	if (geo_param_number(link->query, "mlat", &pt->lat) &&
	    geo_param_number(link->query, "mlon", &pt->lon))
		return 0;
	p = strstr(link->fragment, "map=");
	if (p != NULL) {
		p += 4;
		if (geo_read_unsigned(&p, &zoom, &frac) && *p++ == '/' &&
		    geo_read_pair(&p, '/', pt) && (*p == '\0' || *p == '&'))
			return 0;
	}
	return sf_error_set(err, errsz, SF_EINVAL,
	                    "geo: the OpenStreetMap link has no coordinates; share it with a "
	                    "marker");
}

/* Reads a Kakao Map link: /link/map/name,lat,lon and its siblings. */
static int
geo_kakao(const struct geo_link *link, struct sf_point *pt, char *err, size_t errsz)
{
	static const char *const kinds[] = {"/link/map/", "/link/to/", "/link/from/",
	                                    "/link/roadview/"};
	char segment[GEO_VALUE_MAX];
	const char *p;

	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		size_t n = strlen(kinds[i]);
		char *comma;

		if (strncmp(link->path, kinds[i], n) != 0)
			continue;
		if (!geo_decode(link->path + n, strcspn(link->path + n, "/"), false, segment,
		                sizeof segment))
			break;
		/* The name may hold commas; the coordinates are the last two fields. */
		comma = strrchr(segment, ',');
		if (comma == NULL)
			break;
		*comma = '\0';
		p = strrchr(segment, ',');
		p = p != NULL ? p + 1 : segment;
		*comma = ',';
		if (geo_read_pair(&p, ',', pt) && *p == '\0')
			return 0;
		break;
	}
	return sf_error_set(err, errsz, SF_EINVAL,
	                    "geo: the Kakao Map link has no coordinates (only a place id?)");
}

/* Reads a Naver Map link: c=x,y,zoom,… in degrees or Web Mercator metres, or lng= and lat=. */
static int
geo_naver(const struct geo_link *link, struct sf_point *pt, char *err, size_t errsz)
{
	char value[GEO_VALUE_MAX];
	double x, y;
	size_t fields = 1;

	if (geo_query_get(link->query, "c", value, sizeof value)) {
		const char *p = value;
		bool frac;
		int sign;

		for (const char *q = value; *q != '\0'; q++)
			fields += *q == ',';
		/* "c=15.00,0,0,0,dh" holds only a zoom; coordinates come with six fields or more.
		 */
		if (fields >= 6 && geo_read_signed(&p, &x, &frac, &sign) && *p++ == ',' &&
		    geo_read_signed(&p, &y, &frac, &sign) && *p == ',') {
			if (fabs(x) <= 180 && fabs(y) <= 90) {
				pt->lon = x;
				pt->lat = y;
			} else {
				pt->lon = x / GEO_MERCATOR_RADIUS_M / GEO_RAD;
				pt->lat = (2 * atan(exp(y / GEO_MERCATOR_RADIUS_M)) - GEO_PI / 2) /
				          GEO_RAD;
			}
			return 0;
		}
	}
	if (geo_param_number(link->query, "lat", &pt->lat) &&
	    geo_param_number(link->query, "lng", &pt->lon))
		return 0;
	return sf_error_set(err, errsz, SF_EINVAL,
	                    "geo: the Naver Map link has no coordinates; share the place's "
	                    "location");
}

/* Reads the point of a map app's link. */
int
sf_point_parse_maps_link(const char *url, struct sf_point *out, char *err, size_t errsz)
{
	char copy[GEO_URL_MAX];
	struct geo_link link;
	struct sf_point pt;
	const char *p = url, *hint = "looks like lon,lat: swap?";
	size_t n;
	int rc;

	if (url == NULL || out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "geo: missing");
	geo_skip_spaces(&p);
	if (geo_has_prefix(p, "geo:"))
		return sf_point_parse_geo_uri(p, out, NULL, err, errsz);
	n = strlen(p);
	while (n > 0 &&
	       (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	if (n == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "geo: empty");
	if (n >= sizeof copy)
		return sf_error_set(err, errsz, SF_ETOOLONG, "geo: link too long: %zu bytes", n);
	memcpy(copy, p, n);
	copy[n] = '\0';
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)copy[i] <= ' ' || copy[i] == 0x7f)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "geo: space or control character "
			                    "inside the link");
	}
	if (!geo_link_split(copy, &link))
		return sf_error_set(err, errsz, SF_EINVAL, "geo: not a web link");
	if (geo_host_is(link.host, "goo.gl") || strcmp(link.host, "g.co") == 0 ||
	    strcmp(link.host, "naver.me") == 0 || strcmp(link.host, "kko.to") == 0)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: a short link (%s) must be opened first; paste the "
		                    "address it leads to",
		                    link.host);
	if (geo_is_google_host(link.host)) {
		rc = geo_google(&link, &pt, err, errsz);
	} else if (strcmp(link.host, "maps.apple.com") == 0) {
		rc = geo_apple(&link, &pt, err, errsz);
	} else if (strcmp(link.host, "openstreetmap.org") == 0 ||
	           strcmp(link.host, "www.openstreetmap.org") == 0 ||
	           strcmp(link.host, "osm.org") == 0) {
		rc = geo_osm(&link, &pt, err, errsz);
	} else if (strcmp(link.host, "map.kakao.com") == 0 ||
	           strcmp(link.host, "m.map.kakao.com") == 0) {
		rc = geo_kakao(&link, &pt, err, errsz);
	} else if (strcmp(link.host, "map.naver.com") == 0 ||
	           strcmp(link.host, "m.map.naver.com") == 0) {
		rc = geo_naver(&link, &pt, err, errsz);
		/* Naver writes longitude first by design; a bad pair there is not a swap. */
		hint = NULL;
	} else {
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "geo: not a link of a known map (Google, Apple, OpenStreetMap, "
		                    "Kakao, Naver)");
	}
	if (rc != 0)
		return rc;
	rc = geo_check(&pt, hint, err, errsz);
	if (rc != 0)
		return rc;
	*out = pt;
	return 0;
}

/* Returns the haversine distance between two points. */
double
sf_geo_distance_m(const struct sf_point *a, const struct sf_point *b)
{
	double dlat = (b->lat - a->lat) * GEO_RAD, dlon = (b->lon - a->lon) * GEO_RAD;
	double h = sin(dlat / 2) * sin(dlat / 2) +
	           cos(a->lat * GEO_RAD) * cos(b->lat * GEO_RAD) * sin(dlon / 2) * sin(dlon / 2);

	/* Rounding can push h just past 1 for antipodal points. */
	if (h > 1)
		h = 1;
	return 2 * SF_GEO_EARTH_RADIUS_M * asin(sqrt(h));
}

/* Tells whether a point lies inside a ring, by ray casting. */
int
sf_geo_point_in_ring(const struct sf_point *p, const struct sf_point *ring, size_t n, bool *inside)
{
	bool in = false;

	if (p == NULL || ring == NULL || inside == NULL)
		return SF_EINVAL;
	if (n > 0 && ring[0].lat == ring[n - 1].lat && ring[0].lon == ring[n - 1].lon)
		n--;
	if (n < 3)
		return SF_EINVAL;
	if (sf_point_validate(p, NULL, 0) != 0)
		return SF_ERANGE;
	for (size_t i = 0; i < n; i++) {
		if (sf_point_validate(&ring[i], NULL, 0) != 0)
			return SF_ERANGE;
	}
	for (size_t i = 0, j = n - 1; i < n; j = i++) {
		const struct sf_point *u = &ring[i], *v = &ring[j];

		if ((u->lat > p->lat) != (v->lat > p->lat) &&
		    p->lon < (v->lon - u->lon) * (p->lat - u->lat) / (v->lat - u->lat) + u->lon)
			in = !in;
	}
	*inside = in;
	return 0;
}
