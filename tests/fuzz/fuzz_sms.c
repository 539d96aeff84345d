/*
 * Fuzz target of SMS splitting: any bytes either are refused as invalid UTF-8
 * or give parts that cover the text in order, start on character boundaries,
 * stay within the part size and add up to the count sf_sms_analyze reports;
 * the UTF-16 form must have as many units as the analysis says.
 * Built and run by tests/fuzz/run.sh (seeds from the test data).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistr.h>

#include <safety/error.h>
#include <safety/sms.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sf_sms_part parts[SF_SMS_MAX_PARTS];
	struct sf_sms_info info, info2;
	char *text;
	unsigned char *utf16;
	size_t n, len, expect = 0, units = 0, limit, utf16_len;
	int rc, rc2;

	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	len = strlen(text);

	rc = sf_sms_analyze(text, &info);
	rc2 = sf_sms_split(text, parts, SF_SMS_MAX_PARTS, &n, &info2);
	if (rc != rc2)
		abort();
	if ((rc == SF_EINVAL) != (u8_check((const uint8_t *)text, len) != NULL))
		abort();
	if (rc == SF_OK) {
		if (memcmp(&info, &info2, sizeof info) != 0 || n != info.parts || n == 0)
			abort();
		limit = n == 1 ? (info.encoding == SF_SMS_GSM7 ? 160 : 70)
		               : (info.encoding == SF_SMS_GSM7 ? 153 : 67);
		for (size_t i = 0; i < n; i++) {
			ucs4_t c;

			if (parts[i].offset != expect || parts[i].units > limit)
				abort();
			if (parts[i].length == 0 && len != 0)
				abort();
			if (parts[i].offset < len &&
			    u8_mbtoucr(&c, (const uint8_t *)text + parts[i].offset,
			               len - parts[i].offset) <= 0)
				abort();
			expect += parts[i].length;
			units += parts[i].units;
		}
		if (expect != len || units != info.units)
			abort();
		if (info.encoding == SF_SMS_GSM7 && info.first_non_gsm != (size_t)-1)
			abort();
		if (info.encoding == SF_SMS_UCS2 && info.first_non_gsm >= len)
			abort();
		utf16 = malloc(2 * len + 1);
		if (utf16 == NULL)
			abort();
		if (sf_sms_to_ucs2be(text, len, utf16, 2 * len, &utf16_len) != SF_OK)
			abort();
		if (info.encoding == SF_SMS_UCS2 && utf16_len != 2 * info.units)
			abort();
		if (info.encoding == SF_SMS_GSM7 && utf16_len != 2 * info.chars)
			abort();
		free(utf16);
	} else if (rc == SF_ETOOLONG) {
		if (info.parts <= SF_SMS_MAX_PARTS || n != info.parts)
			abort();
	} else if (rc != SF_EINVAL) {
		abort();
	}
	free(text);
	return 0;
}
