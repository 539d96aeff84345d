/*
 * SMS encoding and splitting. The GSM 03.38 tables below are those of 3GPP TS
 * 23.038 section 6.2.1 (default alphabet and its extension table); anything
 * else is sent as UCS-2. Splitting works character by character, so a part
 * never ends inside an escape pair or a surrogate pair.
 */
#include <safety/sms.h>

#include <stdint.h>
#include <string.h>

#include <unistr.h>

/* The default alphabet: septet value (index) to Unicode; 0x1B is the escape, never a character. */
static const uint16_t gsm_basic[128] = {
    0x0040, 0x00A3, 0x0024, 0x00A5, 0x00E8, 0x00E9, 0x00F9, 0x00EC, 0x00F2, 0x00C7, 0x000A, 0x00D8,
    0x00F8, 0x000D, 0x00C5, 0x00E5, 0x0394, 0x005F, 0x03A6, 0x0393, 0x039B, 0x03A9, 0x03A0, 0x03A8,
    0x03A3, 0x0398, 0x039E, 0xFFFF, 0x00C6, 0x00E6, 0x00DF, 0x00C9, 0x0020, 0x0021, 0x0022, 0x0023,
    0x00A4, 0x0025, 0x0026, 0x0027, 0x0028, 0x0029, 0x002A, 0x002B, 0x002C, 0x002D, 0x002E, 0x002F,
    0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, 0x0038, 0x0039, 0x003A, 0x003B,
    0x003C, 0x003D, 0x003E, 0x003F, 0x00A1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047,
    0x0048, 0x0049, 0x004A, 0x004B, 0x004C, 0x004D, 0x004E, 0x004F, 0x0050, 0x0051, 0x0052, 0x0053,
    0x0054, 0x0055, 0x0056, 0x0057, 0x0058, 0x0059, 0x005A, 0x00C4, 0x00D6, 0x00D1, 0x00DC, 0x00A7,
    0x00BF, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, 0x0068, 0x0069, 0x006A, 0x006B,
    0x006C, 0x006D, 0x006E, 0x006F, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077,
    0x0078, 0x0079, 0x007A, 0x00E4, 0x00F6, 0x00F1, 0x00FC, 0x00E0,
};

/* The extension table: sent as the escape septet then one more, so each costs 2 septets. */
static const uint16_t gsm_extension[] = {
    0x000C, /* form feed */
    0x005E, /* ^ */
    0x007B, /* { */
    0x007D, /* } */
    0x005C, /* \ */
    0x005B, /* [ */
    0x007E, /* ~ */
    0x005D, /* ] */
    0x007C, /* | */
    0x20AC, /* € */
};

/* Returns the septets a character takes in GSM-7: 1, 2 (extension) or 0 (not in GSM-7). */
static int
gsm_septets(ucs4_t c)
{
	if (c > 0xFFFF)
		return 0;
	for (size_t i = 0; i < 128; i++)
		if (gsm_basic[i] == c)
			return 1;
	for (size_t i = 0; i < sizeof gsm_extension / sizeof gsm_extension[0]; i++)
		if (gsm_extension[i] == c)
			return 2;
	return 0;
}

/* Reads one character at s (n bytes left); returns its length, or -1 if it is not UTF-8. */
static int
next_char(const char *s, size_t n, ucs4_t *c)
{
	int len = u8_mbtoucr(c, (const uint8_t *)s, n);

	return len > 0 ? len : -1;
}

/* Returns the units a character takes in an encoding (the text was found to fit it). */
static size_t
char_units(enum sf_sms_encoding enc, ucs4_t c)
{
	if (enc == SF_SMS_GSM7)
		return (size_t)gsm_septets(c);
	return c > 0xFFFF ? 2 : 1;
}

/*
 * Analyses and, when parts is not NULL, cuts the text. Shared by analyze and
 * split so that both always agree on the number of parts.
 */
static int
sms_cut(const char *utf8, struct sf_sms_part *parts, size_t max_parts, size_t *n_parts,
        struct sf_sms_info *info)
{
	size_t len, pos, chars = 0, units = 0, limit, count, part_units, part_start;
	size_t first_non_gsm = (size_t)-1;
	enum sf_sms_encoding enc = SF_SMS_GSM7;
	ucs4_t c;
	int n;

	len = strlen(utf8);
	/* First pass: validity, the encoding and the total. */
	for (pos = 0; pos < len; pos += (size_t)n) {
		n = next_char(utf8 + pos, len - pos, &c);
		if (n < 0)
			return SF_EINVAL;
		chars++;
		if (enc == SF_SMS_GSM7 && gsm_septets(c) == 0) {
			enc = SF_SMS_UCS2;
			first_non_gsm = pos;
		}
	}
	for (pos = 0; pos < len; pos += (size_t)n) {
		n = next_char(utf8 + pos, len - pos, &c);
		units += char_units(enc, c);
	}

	info->encoding = enc;
	info->chars = chars;
	info->units = units;
	info->first_non_gsm = first_non_gsm;
	limit = enc == SF_SMS_GSM7 ? SF_SMS_GSM7_SINGLE : SF_SMS_UCS2_SINGLE;
	if (units <= limit) {
		info->parts = 1;
		info->units_per_part = limit;
		info->units_left = limit - units;
		if (parts != NULL && max_parts >= 1) {
			parts[0].offset = 0;
			parts[0].length = len;
			parts[0].units = units;
		}
		*n_parts = 1;
		return max_parts >= 1 || parts == NULL ? SF_OK : SF_ETOOLONG;
	}

	/* Second pass: greedy, whole characters, each part as full as it can be. */
	limit = enc == SF_SMS_GSM7 ? SF_SMS_GSM7_PART : SF_SMS_UCS2_PART;
	count = 0;
	part_units = 0;
	part_start = 0;
	for (pos = 0; pos < len; pos += (size_t)n) {
		size_t u;

		n = next_char(utf8 + pos, len - pos, &c);
		u = char_units(enc, c);
		if (part_units + u > limit) {
			if (parts != NULL && count < max_parts) {
				parts[count].offset = part_start;
				parts[count].length = pos - part_start;
				parts[count].units = part_units;
			}
			count++;
			part_start = pos;
			part_units = 0;
		}
		part_units += u;
	}
	if (parts != NULL && count < max_parts) {
		parts[count].offset = part_start;
		parts[count].length = len - part_start;
		parts[count].units = part_units;
	}
	count++;

	info->parts = count;
	info->units_per_part = limit;
	info->units_left = limit - part_units;
	*n_parts = count;
	if (count > SF_SMS_MAX_PARTS || (parts != NULL && count > max_parts))
		return SF_ETOOLONG;
	return SF_OK;
}

/* Works out the encoding, size and parts of a text. */
int
sf_sms_analyze(const char *utf8, struct sf_sms_info *out)
{
	struct sf_sms_info info;
	size_t n_parts;
	int rc;

	if (utf8 == NULL || out == NULL)
		return SF_EINVAL;
	rc = sms_cut(utf8, NULL, 0, &n_parts, &info);
	if (rc == SF_EINVAL)
		return rc;
	*out = info;
	return rc;
}

/* Cuts a text into the byte ranges of its parts. */
int
sf_sms_split(const char *utf8, struct sf_sms_part *parts, size_t max_parts, size_t *n_parts,
             struct sf_sms_info *info)
{
	struct sf_sms_info local;
	size_t count = 0;
	int rc;

	if (utf8 == NULL || parts == NULL || n_parts == NULL)
		return SF_EINVAL;
	rc = sms_cut(utf8, parts, max_parts, &count, &local);
	if (rc == SF_EINVAL)
		return rc;
	*n_parts = count;
	if (info != NULL)
		*info = local;
	return rc;
}

/* Writes UTF-8 as UTF-16BE. */
int
sf_sms_to_ucs2be(const char *utf8, size_t len, unsigned char *out, size_t outsz, size_t *outlen)
{
	size_t pos, o = 0;
	ucs4_t c;
	int n;

	if (utf8 == NULL || out == NULL || outlen == NULL)
		return SF_EINVAL;
	for (pos = 0; pos < len; pos += (size_t)n) {
		n = next_char(utf8 + pos, len - pos, &c);
		if (n < 0)
			return SF_EINVAL;
		if (c > 0xFFFF) {
			uint32_t v = c - 0x10000;
			uint16_t hi = (uint16_t)(0xD800 | (v >> 10)),
			         lo = (uint16_t)(0xDC00 | (v & 0x3FF));

			if (outsz - o < 4)
				return SF_ETOOLONG;
			out[o++] = (unsigned char)(hi >> 8);
			out[o++] = (unsigned char)hi;
			out[o++] = (unsigned char)(lo >> 8);
			out[o++] = (unsigned char)lo;
		} else {
			if (outsz - o < 2)
				return SF_ETOOLONG;
			out[o++] = (unsigned char)(c >> 8);
			out[o++] = (unsigned char)c;
		}
	}
	*outlen = o;
	return SF_OK;
}
