/*
 * How a text travels as SMS: in the GSM 7-bit default alphabet when every
 * character is in it (160 per message), else in UCS-2 (70 per message, which
 * is what Hangul always takes), and split into concatenated parts of 153 or
 * 67 when longer, as 3GPP TS 23.038 and 23.040 define. The channel drivers
 * record the number of parts and send the parts this module cuts.
 */
#ifndef SAFETY_SMS_H
#define SAFETY_SMS_H

#include <stddef.h>

#include <safety/error.h>

/* Septets in one GSM-7 message, and in each part of a concatenated one (6-byte UDH). */
#define SF_SMS_GSM7_SINGLE 160
#define SF_SMS_GSM7_PART 153
/* UTF-16 code units in one UCS-2 message, and in each part of a concatenated one. */
#define SF_SMS_UCS2_SINGLE 70
#define SF_SMS_UCS2_PART 67
/* Most parts a concatenated message can have (the UDH counts them in one byte). */
#define SF_SMS_MAX_PARTS 255

enum sf_sms_encoding {
	SF_SMS_GSM7, /* GSM 03.38 default alphabet and its extension table */
	SF_SMS_UCS2, /* UTF-16 in practice: characters beyond the BMP take two units */
};

/* What a text costs as SMS. */
struct sf_sms_info {
	enum sf_sms_encoding encoding;
	size_t chars; /* Unicode characters (code points) */
	size_t units; /* septets (GSM-7; ^{}\[~]|€ and form feed count 2) or UTF-16 units */
	size_t parts; /* 1 to SF_SMS_MAX_PARTS; an empty text is one (empty) part */
	size_t units_per_part; /* 160 or 70 when parts is 1, else 153 or 67 */
	size_t units_left;     /* units that still fit in the last part */
	size_t first_non_gsm;  /* byte offset of the first character that forced UCS-2, or
	                          (size_t)-1 for GSM-7: the one to replace to save parts */
};

/* One part of a split text: a range of bytes of the UTF-8 input. */
struct sf_sms_part {
	size_t offset; /* first byte in the input */
	size_t length; /* bytes, never cutting a character */
	size_t units;  /* septets or UTF-16 units in this part */
};

/*
 * Works out how utf8 (NUL-terminated) would be sent: encoding, size and parts.
 * Returns 0, SF_EINVAL (NULL, or not valid UTF-8; out is untouched then) or
 * SF_ETOOLONG (more than SF_SMS_MAX_PARTS parts; out is filled, with parts
 * above the limit, so a caller can say by how much).
 */
int sf_sms_analyze(const char *utf8, struct sf_sms_info *out);

/*
 * Cuts utf8 into the parts a handset will reassemble: one part when the whole
 * text fits in one message, else as many characters per part as fit in 153
 * septets or 67 units. A character is never cut, so neither a GSM escape pair
 * (€ and the other extension characters) nor a UTF-16 surrogate pair (emoji)
 * is split across parts. The ranges go into parts[0..*n_parts), in order and
 * covering the whole input; info, if not NULL, receives what sf_sms_analyze
 * gives.
 *
 * Returns 0, SF_EINVAL (NULL, or not valid UTF-8) or SF_ETOOLONG (more than
 * SF_SMS_MAX_PARTS parts, or more than max_parts: *n_parts is then the number
 * needed and parts holds the first max_parts).
 */
int sf_sms_split(const char *utf8, struct sf_sms_part *parts, size_t max_parts, size_t *n_parts,
                 struct sf_sms_info *info);

/*
 * Writes len bytes of UTF-8 as UTF-16 big-endian, what Kannel sends with
 * coding=2 when it is not trusted to recode: characters beyond the BMP become
 * surrogate pairs. Returns 0 and *outlen, SF_EINVAL (not valid UTF-8, or out
 * NULL) or SF_ETOOLONG (outsz too small; 2 × len bytes always suffices).
 */
int sf_sms_to_ucs2be(const char *utf8, size_t len, unsigned char *out, size_t outsz,
                     size_t *outlen);

#endif
