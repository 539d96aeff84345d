/*
 * Unit tests of phone number normalisation: tables of numbers as nationals and
 * staff type them, the E.164 form each must become, and the inputs that must
 * be refused with a reason a person can act on.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <safety/error.h>
#include <safety/phone.h>

#include "testdata.h"

#define DATA SAFETY_TEST_DATA_DIR "/phone/"

struct phone_case {
	const char *name;
	const char *input;
	const char *country; /* the mission's country, or NULL */
	const char *want;    /* E.164, or NULL when the input is refused */
	int rc;
	const char *reason; /* part of the message when refused */
};

#define ACCEPT(name, input, country, want)                                                         \
	{                                                                                          \
		name, input, country, want, 0, NULL                                                \
	}
#define REJECT(name, input, country, rc, reason)                                                   \
	{                                                                                          \
		name, input, country, NULL, rc, reason                                             \
	}

static const struct phone_case korean_cases[] = {
    ACCEPT("korean_mobile_with_dashes", "010-1234-5678", "KR", "+821012345678"),
    ACCEPT("korean_mobile_international", "+82 10 1234 5678", NULL, "+821012345678"),
    /* Unicode dashes are read as '-': non-breaking hyphen, minus sign, full-width hyphen. */
    ACCEPT("korean_mobile_with_non_breaking_hyphens", "010\u20111234\u20115678", "KR",
           "+821012345678"),
    ACCEPT("korean_mobile_with_dash_variants", "010\u20101234\u22125678", "KR", "+821012345678"),
    ACCEPT("korean_mobile_with_full_width_hyphens", "010\uff0d1234\u20155678", "KR",
           "+821012345678"),
    ACCEPT("korean_mobile_with_00", "0082-10-1234-5678", NULL, "+821012345678"),
    ACCEPT("korean_mobile_brackets_and_dots", "(010) 1234.5678", "KR", "+821012345678"),
    ACCEPT("korean_mobile_lower_case_country", "01012345678", "kr", "+821012345678"),
    ACCEPT("korean_carrier_001", "00182-10-1234-5678", NULL, "+821012345678"),
    ACCEPT("korean_carrier_002_from_turkiye", "00282 10 1234 5678", "TR", "+821012345678"),
    ACCEPT("korean_carrier_005_beats_venezuela", "00582-10-1234-5678", NULL, "+821012345678"),
    ACCEPT("korean_carrier_006_beats_cook_islands", "00682 10 1234 5678", NULL, "+821012345678"),
    ACCEPT("korean_carrier_00700", "00700-82-10-1234-5678", NULL, "+821012345678"),
    ACCEPT("korean_trunk_after_country_code", "+82 010-1234-5678", NULL, "+821012345678"),
    ACCEPT("korean_bracketed_trunk", "+82 (0)10 1234 5678", NULL, "+821012345678"),
    ACCEPT("korean_mobile_without_trunk", "10-1234-5678", "KR", "+821012345678"),
    ACCEPT("korean_mobile_without_plus", "821012345678", "KR", "+821012345678"),
    ACCEPT("korean_mobile_without_plus_with_trunk", "82-010-1234-5678", "KR", "+821012345678"),
    ACCEPT("seoul_short_landline", "02-123-4567", "KR", "+8221234567"),
    ACCEPT("seoul_long_landline", "02-1234-5678", "KR", "+82212345678"),
    ACCEPT("gyeonggi_landline", "031-123-4567", "KR", "+82311234567"),
    ACCEPT("busan_landline", "051 1234 5678", "KR", "+825112345678"),
    ACCEPT("korean_internet_phone", "070-1234-5678", "KR", "+827012345678"),
    ACCEPT("korean_legacy_mobile", "011-123-4567", "KR", "+82111234567"),
    ACCEPT("korean_full_width_digits", "０１０－１２３４－５６７８", "KR", "+821012345678"),
    ACCEPT("korean_no_break_spaces", "\u00a0010\u00a01234\u00a05678\u00a0", "KR", "+821012345678"),
    ACCEPT("korean_ideographic_space", "010\u30001234\u30005678", "KR", "+821012345678"),
    ACCEPT("korean_byte_order_mark", "\ufeff010-1234-5678", "KR", "+821012345678"),
    ACCEPT("korean_international_from_turkiye", "+82 10-1234-5678", "TR", "+821012345678"),
    ACCEPT("korean_en_dashes", "010\u20131234\u20135678", "KR", "+821012345678"),
};

static const struct phone_case mission_cases[] = {
    ACCEPT("turkish_mobile_national", "0532 123 45 67", "TR", "+905321234567"),
    ACCEPT("turkish_mobile_international", "+90 (532) 123-45-67", NULL, "+905321234567"),
    ACCEPT("turkish_mobile_without_trunk", "532 123 45 67", "TR", "+905321234567"),
    ACCEPT("istanbul_landline", "0212 555 12 34", "TR", "+902125551234"),
    ACCEPT("turkish_without_plus", "90 532 123 4567", "TR", "+905321234567"),
    ACCEPT("turkish_from_korean_mission", "00 90 532 123 45 67", "KR", "+905321234567"),
    ACCEPT("ukrainian_mobile_national", "067 123 4567", "UA", "+380671234567"),
    ACCEPT("ukrainian_mobile_international", "+380 67 123 4567", NULL, "+380671234567"),
    ACCEPT("ukrainian_plus_38_habit", "+38 (067) 123-45-67", NULL, "+380671234567"),
    ACCEPT("kyiv_landline", "044 123 4567", "UA", "+380441234567"),
    ACCEPT("thai_mobile_national", "081 234 5678", "TH", "+66812345678"),
    ACCEPT("thai_mobile_international", "+66 81 234 5678", NULL, "+66812345678"),
    ACCEPT("bangkok_landline", "02 123 4567", "TH", "+6621234567"),
    ACCEPT("thai_digits", "๐๘๑ ๒๓๔ ๕๖๗๘", "TH", "+66812345678"),
    ACCEPT("japanese_mobile", "090-1234-5678", "JP", "+819012345678"),
    ACCEPT("tokyo_landline", "03-1234-5678", "JP", "+81312345678"),
    ACCEPT("japanese_international_prefix", "010 82 10 1234 5678", "JP", "+821012345678"),
    ACCEPT("chinese_mobile_has_no_trunk", "138 0013 8000", "CN", "+8613800138000"),
    ACCEPT("beijing_landline", "010 1234 5678", "CN", "+861012345678"),
    ACCEPT("chinese_mobile_international", "+86 138 0013 8000", NULL, "+8613800138000"),
    ACCEPT("us_number_national", "(212) 555-1234", "US", "+12125551234"),
    ACCEPT("canadian_number_with_long_distance_1", "1-416-555-0199", "CA", "+14165550199"),
    ACCEPT("us_international_prefix_011", "011 82 10 1234 5678", "US", "+821012345678"),
    ACCEPT("canadian_number_international", "+1 604 555 0123", NULL, "+16045550123"),
    ACCEPT("british_mobile", "07911 123456", "GB", "+447911123456"),
    ACCEPT("london_with_bracketed_trunk", "+44 (0)20 7946 0958", NULL, "+442079460958"),
    ACCEPT("german_mobile", "0151 23456789", "DE", "+4915123456789"),
    ACCEPT("berlin_with_slash", "030/12345678", "DE", "+493012345678"),
    ACCEPT("french_mobile", "06 12 34 56 78", "FR", "+33612345678"),
    ACCEPT("vietnamese_mobile", "091 234 5678", "VN", "+84912345678"),
    ACCEPT("philippine_mobile", "0917 123 4567", "PH", "+639171234567"),
    ACCEPT("israeli_mobile", "052-123-4567", "IL", "+972521234567"),
    ACCEPT("lebanese_mobile_03", "03 123 456", "LB", "+9613123456"),
    ACCEPT("lebanese_mobile_71", "71 123 456", "LB", "+96171123456"),
    ACCEPT("beirut_landline", "01 123 456", "LB", "+9611123456"),
    ACCEPT("russian_mobile_trunk_8", "8 (916) 123-45-67", "RU", "+79161234567"),
    ACCEPT("russian_international_prefix_810", "810 82 10 1234 5678", "RU", "+821012345678"),
    ACCEPT("kazakh_mobile", "+7 701 123 4567", NULL, "+77011234567"),
    ACCEPT("egyptian_mobile_international", "+20 10 1234 5678", NULL, "+201012345678"),
    ACCEPT("egyptian_mobile_national", "010 1234 5678", "EG", "+201012345678"),
    ACCEPT("italian_landline_keeps_zero", "+39 06 1234 5678", NULL, "+390612345678"),
    ACCEPT("italian_national_keeps_zero", "06 1234 5678", "IT", "+390612345678"),
    ACCEPT("hungarian_trunk_06", "06 30 123 4567", "HU", "+36301234567"),
    ACCEPT("iridium_satellite_phone", "+881 6 1234 5678", NULL, "+881612345678"),
    ACCEPT("niue_four_digit_number", "+683 4002", NULL, "+6834002"),
    ACCEPT("arabic_indic_digits", "+٩٦١ ٣ ١٢٣ ٤٥٦", NULL, "+9613123456"),
    ACCEPT("jersey_uses_british_plan", "07797 123456", "JE", "+447797123456"),
    ACCEPT("leeds_landline", "0113 496 0000", "GB", "+441134960000"),
    ACCEPT("ivorian_number_keeps_zero", "+225 07 12 34 56 78", NULL, "+2250712345678"),
    ACCEPT("san_marino_landline_keeps_zero", "0549 123456", "SM", "+3780549123456"),
};

static const struct phone_case rejected_cases[] = {
    REJECT("refuses_empty", "", "KR", SF_EINVAL, "phone: empty"),
    REJECT("refuses_blank", "  \t ", "KR", SF_EINVAL, "phone: empty"),
    REJECT("refuses_only_punctuation", "--- ()", "KR", SF_EINVAL, "phone: no digits"),
    REJECT("refuses_lone_plus", "+", NULL, SF_EINVAL, "no digits after '+'"),
    REJECT("refuses_extension", "010-1234-5678 ext 12", "KR", SF_EINVAL,
           "letters are not allowed (a letter at byte 14;"),
    REJECT("refuses_trailing_letter", "+82 10 1234 5678x", NULL, SF_EINVAL, "letters"),
    REJECT("refuses_hangul", "010-1234-5678 집", "KR", SF_EINVAL,
           "letters are not allowed (a letter at byte 14;"),
    REJECT("refuses_colon", "tel:010-1234-5678", "KR", SF_EINVAL, "letters are not allowed"),
    REJECT("refuses_symbol", "010\u00b71234\u00b75678", "KR", SF_EINVAL,
           "a symbol or punctuation mark is not allowed (byte 3)"),
    REJECT("refuses_two_pluses", "++82 10 1234 5678", NULL, SF_EINVAL, "more than one '+'"),
    REJECT("refuses_plus_inside", "82+10 1234 5678", NULL, SF_EINVAL,
           "'+' must come before the digits"),
    REJECT("refuses_hash", "+82 10 1234 5678#", NULL, SF_EINVAL,
           "a key sign (# or *) is not allowed (byte 16)"),
    REJECT("refuses_two_numbers_with_comma", "010-1234-5678, 010-8765-4321", "KR", SF_EINVAL,
           "a comma or semicolon is not allowed: give one number (byte 13)"),
    REJECT("refuses_two_numbers_with_slash", "010-1234-5678 / 010-8765-4321", "KR", SF_ERANGE,
           "too many digits for Korea (+82): 21"),
    REJECT("refuses_national_without_country", "010-1234-5678", NULL, SF_EINVAL,
           "no default country"),
    REJECT("refuses_short_korean_mobile", "010-1234-567", "KR", SF_ERANGE,
           "phone: too few digits for Korea (+82 10): 9, need 10"),
    REJECT("refuses_long_korean_mobile", "010-1234-56789", "KR", SF_ERANGE,
           "too many digits for Korea (+82 10): 11, need 10"),
    REJECT("refuses_short_turkish", "0532 123 45 6", "TR", SF_ERANGE,
           "phone: too few digits for Türkiye (+90): 9, need 10"),
    REJECT("refuses_turkish_range_not_in_use", "0632 123 45 67", "TR", SF_ERANGE,
           "no Türkiye (+90) numbers start with 6"),
    REJECT("refuses_korean_service_number", "+82 15 1234 5678", NULL, SF_ERANGE,
           "no Korea (+82) numbers start with 15"),
    REJECT("refuses_short_ukrainian", "+380 67 123 456", NULL, SF_ERANGE,
           "too few digits for Ukraine (+380): 8, need 9"),
    REJECT("refuses_thai_landline_as_mobile_length", "+66 2 123 45678", NULL, SF_ERANGE,
           "too many digits for Thailand (+66 2): 9, need 8"),
    REJECT("refuses_unknown_country_code", "+999 1234 5678", NULL, SF_EINVAL,
           "unknown country code +999"),
    REJECT("refuses_spare_zone_2_code", "+281 234 5678", NULL, SF_EINVAL,
           "unknown country code +281"),
    REJECT("refuses_country_code_zero", "+0 82 10 1234 5678", NULL, SF_EINVAL,
           "never starts with 0"),
    REJECT("hints_korean_mobile_in_turkiye", "010-1234-5678", "TR", SF_ERANGE,
           "a Korean mobile? write +82 10 and the 8 digits after 010"),
    REJECT("refuses_nanp_area_code_zero", "+1 011 555 1234", NULL, SF_ERANGE,
           "no North American area code starts with 0"),
    REJECT("refuses_nanp_service_code", "+1 911 555 1234", NULL, SF_ERANGE,
           "911 is a service code"),
    REJECT("refuses_nanp_exchange_one", "(212) 155-1234", "US", SF_ERANGE,
           "no North American exchange starts with 1"),
    REJECT("refuses_short_generic", "+20 123", NULL, SF_ERANGE,
           "too few digits for +20: 5 in all, need at least 8"),
    REJECT("refuses_long_generic", "+20 1234 5678 9012 34", NULL, SF_ERANGE,
           "too many digits for +20: 16 in all, at most 15"),
    REJECT("refuses_generic_without_trunk", "10 1234 5678", "EG", SF_EINVAL,
           "a national number in EG starts with 0"),
    REJECT("refuses_turkish_without_trunk_not_mobile", "212 555 12 34", "TR", SF_EINVAL,
           "a national number in Türkiye starts with 0; or write +90 before it"),
    REJECT("refuses_unknown_default_country", "0532 123 45 67", "XX", SF_EINVAL,
           "unknown country 'XX'"),
    REJECT("refuses_overlong_utf8_nul",
           "010\xc0\x80"
           "1234",
           "KR", SF_EINVAL, "not valid UTF-8 at byte 3"),
    REJECT("refuses_stray_byte", "\xff", "KR", SF_EINVAL, "not valid UTF-8 at byte 0"),
    REJECT("refuses_truncated_utf8", "010 \xe2\x80", "KR", SF_EINVAL, "not valid UTF-8 at byte 4"),
    REJECT("refuses_tel_uri", "tel:+821012345678", NULL, SF_EINVAL, "letters"),
    REJECT("refuses_trunk_only", "0", "KR", SF_ERANGE, "too few digits for Korea (+82): 0"),
    REJECT("refuses_second_zero_after_country_code", "+51 00 617 5678", NULL, SF_ERANGE,
           "no +51 numbers start with 0 after the country code"),
    REJECT("refuses_double_zero_only", "00", NULL, SF_EINVAL, "no digits after"),
    REJECT("refuses_010_in_country_without_plan", "010-1234-5678", "AE", SF_ERANGE,
           "010 and 8 digits is no known number format of AE (a Korean mobile?"),
    REJECT("refuses_010_in_britain", "010-1234-5678", "GB", SF_ERANGE,
           "no the United Kingdom (+44) numbers start with 10 (a Korean mobile?"),
    REJECT("refuses_british_010_international", "+44 10 1234 5678", NULL, SF_ERANGE,
           "no the United Kingdom (+44) numbers start with 10"),
    REJECT("japan_does_not_dial_iran_from_010", "010-9876-5432", "JP", SF_ERANGE,
           "a Korean mobile?"),
    REJECT("japan_does_not_dial_zone_2_from_010", "010-2345-6789", "JP", SF_ERANGE,
           "a Korean mobile?"),
    REJECT("refuses_trunk_zero_in_singapore", "0 9123 4567", "SG", SF_ERANGE,
           "no SG (+65) numbers start with 0; SG has no trunk prefix"),
    REJECT("refuses_zero_after_singapore_code", "+65 0912 3456", NULL, SF_ERANGE,
           "no SG (+65) numbers start with 0"),
    REJECT("refuses_010_in_singapore", "010-1234-5678", "SG", SF_ERANGE,
           "no SG (+65) numbers start with 0; SG has no trunk prefix (a Korean mobile?"),
};

/*
 * Numbers dialled with 00 or with a Korean carrier prefix (001, 002, 005,
 * 006, 008, 00700), which begin alike. Each reading is weighed; when both
 * fit and nothing tells which was meant, the number is refused rather than
 * given to another country.
 */
static const struct phone_case double_zero_cases[] = {
    ACCEPT("carrier_002_to_turkiye_at_kr", "002 90 532 123 45 67", "KR", "+905321234567"),
    ACCEPT("carrier_002_to_antigua_at_kr", "002 1 268 464 1234", "KR", "+12684641234"),
    ACCEPT("carrier_005_to_uae_at_kr", "005 971 50 123 4567", "KR", "+971501234567"),
    ACCEPT("carrier_001_to_us_at_kr", "001 1 202 555 0123", "KR", "+12025550123"),
    ACCEPT("carrier_002_to_turkiye_from_turkiye", "002-90-532-123-45-67", "TR", "+905321234567"),
    ACCEPT("carrier_005_grouped_to_uae_at_tr", "005 971 50 123 4567", "TR", "+971501234567"),
    REJECT("carrier_005_or_suriname_ungrouped_at_tr", "0059715012345 67", "TR", SF_EINVAL,
           "ambiguous: 005"),
    ACCEPT("korean_008_is_thuraya", "00882 16 1234 5678", NULL, "+8821612345678"),
    ACCEPT("korean_008_is_thuraya_at_kr", "00882 16 1234 5678", "KR", "+8821612345678"),
    ACCEPT("network_code_never_read_after_008", "00882 10 1234 5678", NULL, "+8821012345678"),
    ACCEPT("iridium_never_read_as_japan", "00881 6 1234 5678", "KR", "+881612345678"),
    ACCEPT("venezuela_grouped_after_country_code", "0058 261 123 4567", NULL, "+582611234567"),
    ACCEPT("venezuela_grouped_at_kr", "0058-261-123-4567", "KR", "+582611234567"),
    ACCEPT("chinese_mobile_with_00_at_kr", "00 86 138 0013 8000", "KR", "+8613800138000"),
    ACCEPT("chinese_mobile_grouped_at_kr", "0086 138 0013 8000", "KR", "+8613800138000"),
    ACCEPT("chinese_mobile_unspaced_at_kr", "008613800138000", "KR", "+8613800138000"),
    ACCEPT("japanese_mobile_unspaced_at_tr", "00819012345678", "TR", "+819012345678"),
    ACCEPT("colombian_mobile_unspaced_at_tr", "00573211234567", "TR", "+573211234567"),
    ACCEPT("us_number_with_001_at_kr", "001 212 555 1234", "KR", "+12125551234"),
    ACCEPT("ghanaian_number_with_00", "00233 24 123 4567", "TR", "+233241234567"),
    REJECT("venezuela_or_korea_unspaced", "00582611234567", NULL, SF_EINVAL,
           "phone: ambiguous: 005 may be a Korean carrier prefix or 00 and a country code; "
           "write + and the country code"),
    REJECT("morocco_or_antigua_unspaced_at_kr", "00212684641234", "KR", SF_EINVAL,
           "ambiguous: 002"),
    /* A mistyped number keeps its error: no other country's number is made of it. */
    REJECT("us_number_one_digit_short", "001 212 555 123", "US", SF_ERANGE,
           "too few digits for North America (+1): 9, need 10"),
    REJECT("us_number_one_digit_short_at_kr", "001 212 555 123", "KR", SF_ERANGE,
           "too few digits for North America (+1): 9, need 10"),
    REJECT("chinese_mobile_one_digit_short", "0086 138 1234 567", NULL, SF_ERANGE,
           "too few digits for China (+86 13): 10, need 11"),
    REJECT("chinese_mobile_one_digit_short_at_kr", "0086 138 1234 567", "KR", SF_ERANGE,
           "too few digits for China (+86 13): 10, need 11"),
    REJECT("us_number_one_digit_long", "00 1 202 555 01234", NULL, SF_ERANGE,
           "too many digits for North America (+1): 11, need 10"),
    REJECT("korean_number_too_long_at_kr", "0082 1339 6217 2321", "KR", SF_ERANGE,
           "too many digits for Korea (+82): 12"),
    REJECT("hints_carrier_prefix_at_kr", "00161298765432", "KR", SF_ERANGE,
           "too many digits for North America (+1): 11, need 10 (if 001 is a Korean carrier "
           "prefix, write + and the country code instead)"),
    /*
     * A carrier prefix before a country without a detailed plan: read when
     * the plain reading is refused and the writer's grouping, or a Korean
     * mission, says so.
     */
    ACCEPT("carrier_001_to_saudi_arabia_at_kr", "001 966 11 234 5678", "KR", "+966112345678"),
    ACCEPT("carrier_001_to_uae_at_kr", "001 971 50 123 4567", "KR", "+971501234567"),
    ACCEPT("carrier_001_to_saudi_arabia_unspaced_at_kr", "001966112345678", "KR", "+966112345678"),
    ACCEPT("carrier_001_grouped_unlike_us_at_kr", "001 61 2 9876 5432", "KR", "+61298765432"),
    ACCEPT("carrier_001_grouped_unlike_us_at_tr", "001-61-2-9876-5432", "TR", "+61298765432"),
    ACCEPT("carrier_00700_to_australia_at_kr", "00700 61 2 9876 5432", "KR", "+61298765432"),
    ACCEPT("carrier_008_to_australia_at_tr", "008 61 2 9876 5432", "TR", "+61298765432"),
    REJECT("carrier_001_unspaced_at_tr_keeps_error", "001966112345678", "TR", SF_ERANGE,
           "too many digits for North America (+1): 12, need 10"),
    REJECT("us_number_one_digit_short_unspaced_at_kr", "001212555123", "KR", SF_ERANGE,
           "too few digits for North America (+1): 9, need 10"),
    REJECT("us_number_one_digit_short_grouped_at_kr", "001 264 555 123", "KR", SF_ERANGE,
           "too few digits for North America (+1): 9, need 10"),
    ACCEPT("thai_number_with_00_grouped_at_kr", "00 66 14 128 5882", "KR", "+66141285882"),
    ACCEPT("thai_landline_16", "+66 16 07 7466", NULL, "+6616077466"),
    /* 008 before a country code, where 00 would make a satellite or network number. */
    ACCEPT("korean_mobile_after_008", "008 82 10-1234-5678", "KR", "+821012345678"),
    ACCEPT("korean_mobile_after_008_at_tr", "008 82 10-1234-5678", "TR", "+821012345678"),
    ACCEPT("korean_mobile_after_008_no_mission", "008-82-10-1234-5678", NULL, "+821012345678"),
    ACCEPT("seoul_landline_after_008", "008 82 2-212-3456", "KR", "+8222123456"),
    ACCEPT("japanese_mobile_after_008", "008 81 90 1234 5678", "KR", "+819012345678"),
    ACCEPT("japanese_mobile_after_008_no_mission", "008 81 90 1234 5678", NULL, "+819012345678"),
    ACCEPT("korean_mobile_after_008_unspaced", "008821012345678", "KR", "+821012345678"),
    REJECT("thai_or_thai_unspaced_at_kr", "0066633890490", "KR", SF_EINVAL, "ambiguous: 006"),
};

/* Countries whose trunk prefix is not 0, or who have none, and national forms. */
static const struct phone_case trunk_cases[] = {
    ACCEPT("congo_mobile_keeps_zero", "+242 06 123 4567", NULL, "+242061234567"),
    ACCEPT("congo_mobile_with_00", "00 242 06 123 4567", "FR", "+242061234567"),
    ACCEPT("congo_mobile_national", "06 123 4567", "CG", "+242061234567"),
    ACCEPT("gabonese_mobile_keeps_zero", "+241 06 03 12 34", NULL, "+24106031234"),
    ACCEPT("gabonese_landline_national", "01 44 12 34", "GA", "+24101441234"),
    ACCEPT("burkinabe_mobile_keeps_zero", "+226 01 23 45 67", NULL, "+22601234567"),
    ACCEPT("chilean_national_has_no_trunk", "2 2123 4567", "CL", "+56221234567"),
    ACCEPT("tunisian_national_has_no_trunk", "20 123 456", "TN", "+21620123456"),
    ACCEPT("costa_rican_national_has_no_trunk", "8312 3456", "CR", "+50683123456"),
    ACCEPT("panamanian_national_has_no_trunk", "6123-4567", "PA", "+50761234567"),
    ACCEPT("mozambican_national_has_no_trunk", "82 123 4567", "MZ", "+258821234567"),
    ACCEPT("colombian_national_has_no_trunk", "321 123 4567", "CO", "+573211234567"),
    ACCEPT("lithuanian_trunk_8", "8 612 34567", "LT", "+37061234567"),
    ACCEPT("uzbek_trunk_8", "8 90 123 45 67", "UZ", "+998901234567"),
    ACCEPT("monegasque_mobile_trunk_0", "06 12 34 56 78", "MC", "+377612345678"),
    ACCEPT("tristan_da_cunha_four_digits", "+290 8999", NULL, "+2908999"),
    ACCEPT("thai_mobile_without_plus", "66812345678", "TH", "+66812345678"),
    ACCEPT("vietnamese_mobile_without_plus", "84912345678", "VN", "+84912345678"),
    ACCEPT("vietnamese_mobile_without_plus_with_trunk", "84 091 234 5678", "VN", "+84912345678"),
    REJECT("refuses_trunk_zero_in_tunisia", "0 20 123 456", "TN", SF_ERANGE,
           "no TN (+216) numbers start with 0; TN has no trunk prefix"),
    REJECT("refuses_thai_mobile_one_digit_long", "0812345678 9", "TH", SF_ERANGE,
           "too many digits for Thailand (+66): 10, need 8 to 9"),
    REJECT("refuses_thai_mobile_one_digit_long_without_trunk", "812345678 9", "TH", SF_ERANGE,
           "too many digits for Thailand (+66): 10, need 8 to 9"),
};

/*
 * Argentine mobiles: nationally 0, area code, 15, subscriber (13 digits); from
 * abroad +54 9, area code, subscriber. Read digit for digit, the national
 * form reaches another line.
 */
static const struct phone_case argentine_cases[] = {
    ACCEPT("buenos_aires_mobile_national", "011 15-2345-6789", "AR", "+5491123456789"),
    ACCEPT("buenos_aires_mobile_unspaced", "0111523456789", "AR", "+5491123456789"),
    ACCEPT("buenos_aires_mobile_15_joined", "01115 2345 6789", "AR", "+5491123456789"),
    ACCEPT("buenos_aires_mobile_international", "+54 9 11 2345 6789", NULL, "+5491123456789"),
    ACCEPT("mobile_international_with_15", "+54 11 15 2345 6789", NULL, "+5491123456789"),
    ACCEPT("mobile_international_with_9_and_15", "+54 9 11 15 2345 6789", NULL, "+5491123456789"),
    ACCEPT("mobile_trunk_after_country_code", "+54 (0)11 15 2345 6789", "TR", "+5491123456789"),
    ACCEPT("mobile_with_00_from_turkiye", "0054 11 15 2345 6789", "TR", "+5491123456789"),
    ACCEPT("mobile_with_00_at_kr", "00 54 9 11 2345 6789", "KR", "+5491123456789"),
    ACCEPT("cordoba_mobile_three_digit_area", "0351 15-234-5678", "AR", "+5493512345678"),
    ACCEPT("cordoba_mobile_unspaced", "0351152345678", "AR", "+5493512345678"),
    ACCEPT("four_digit_area_mobile", "02202 15-12-3456", "AR", "+5492202123456"),
    ACCEPT("four_digit_area_after_three_digit_one", "0220 15 512 3456", "AR", "+5492205123456"),
    ACCEPT("subscriber_starting_with_15", "011 15 1523 4567", "AR", "+5491115234567"),
    ACCEPT("mobile_without_trunk_with_9", "9 11 2345 6789", "AR", "+5491123456789"),
    ACCEPT("buenos_aires_landline", "011 2345-6789", "AR", "+541123456789"),
    ACCEPT("cordoba_landline", "+54 351 423 4567", NULL, "+543514234567"),
    ACCEPT("argentine_freephone", "0800 123 4567", "AR", "+548001234567"),
    /* No area code known before the 15: the writer's grouping decides. */
    ACCEPT("unknown_area_code_grouped", "0 2999 15 123456", "AR", "+5492999123456"),
    REJECT("unknown_area_code_ungrouped", "0299915123456", "AR", SF_EINVAL,
           "phone: ambiguous Argentine mobile: the area code before 15 is unclear; write +54 9, "
           "the area code and the number"),
    /* 11 is an area code, 1115 none: grouped as 1115, the number is not clear. */
    REJECT("grouping_against_area_codes", "01115 15 123456", "AR", SF_EINVAL,
           "write +54 9, the area code and the number"),
    REJECT("mobile_one_digit_short", "011 15 234 5678", "AR", SF_ERANGE,
           "too many digits for Argentina (+54 11): 11, need 10"),
    REJECT("mobile_one_digit_long", "011 15 2345 67890", "AR", SF_ERANGE,
           "too many digits for Argentina (+54): 13, need 10 to 11"),
    REJECT("no_area_code_before_15", "+54 15 2345 6789", NULL, SF_ERANGE,
           "no Argentina (+54) numbers start with 15"),
    REJECT("mobile_9_and_no_area_code", "+54 9 99 1234 5678", NULL, SF_ERANGE,
           "no Argentina (+54) numbers start with 99"),
};

/* Runs one case and fails with its name when the result differs. */
static void
run_case(const struct phone_case *c)
{
	char out[SF_PHONE_E164_SIZE], err[256];
	int rc;

	err[0] = '\0';
	rc = sf_phone_normalize(c->input, c->country, out, sizeof out, err, sizeof err);
	if (c->want != NULL) {
		if (rc != 0 || strcmp(out, c->want) != 0)
			fail_msg("%s: \"%s\" gave %d \"%s\" (%s), want \"%s\"", c->name, c->input,
			         rc, out, err, c->want);
	} else {
		if (rc != c->rc || out[0] != '\0' || strstr(err, c->reason) == NULL)
			fail_msg("%s: \"%s\" gave %d \"%s\" (%s), want %d (%s)", c->name, c->input,
			         rc, out, err, c->rc, c->reason);
	}
}

/* Runs a table and, for accepted numbers, checks the result is stable and has a country. */
static void
run_table(const struct phone_case *cases, size_t n)
{
	char again[SF_PHONE_E164_SIZE], iso[3], err[256];

	for (size_t i = 0; i < n; i++) {
		run_case(&cases[i]);
		if (cases[i].want == NULL)
			continue;
		/* An E.164 number must come back unchanged, whatever the mission. */
		if (sf_phone_normalize(cases[i].want, "TR", again, sizeof again, err, sizeof err) !=
		        0 ||
		    strcmp(again, cases[i].want) != 0)
			fail_msg("%s: \"%s\" is not stable (%s)", cases[i].name, cases[i].want,
			         err);
		int rc = sf_phone_country(cases[i].want, iso);
		if (rc != 0 && !(rc == SF_ENOTFOUND && strncmp(cases[i].want, "+88", 3) == 0))
			fail_msg("%s: no country for \"%s\"", cases[i].name, cases[i].want);
	}
}

static void
phone_keeps_korean_numbers_in_e164(void **state)
{
	(void)state;
	run_table(korean_cases, sizeof korean_cases / sizeof korean_cases[0]);
}

static void
phone_reads_national_forms_of_mission_countries(void **state)
{
	(void)state;
	run_table(mission_cases, sizeof mission_cases / sizeof mission_cases[0]);
}

static void
phone_refuses_with_a_reason(void **state)
{
	(void)state;
	run_table(rejected_cases, sizeof rejected_cases / sizeof rejected_cases[0]);
}

static void
phone_weighs_carrier_prefix_against_00(void **state)
{
	(void)state;
	run_table(double_zero_cases, sizeof double_zero_cases / sizeof double_zero_cases[0]);
}

static void
phone_knows_each_countrys_trunk_prefix(void **state)
{
	(void)state;
	run_table(trunk_cases, sizeof trunk_cases / sizeof trunk_cases[0]);
}

static void
phone_reads_argentine_mobiles(void **state)
{
	(void)state;
	run_table(argentine_cases, sizeof argentine_cases / sizeof argentine_cases[0]);
}

/*
 * numbers.tsv: numbers of every region as libphonenumber writes them, with +,
 * with 00 and in national form, and the E.164 number it reads them as (the
 * file says how it was made). Each must give exactly that number.
 */
static void
phone_agrees_with_libphonenumber(void **state)
{
	char out[SF_PHONE_E164_SIZE], err[256];
	size_t len, lines = 0, bad = 0;
	char *text = testdata_slurp(DATA, "numbers.tsv", &len), *line, *next;

	(void)state;
	for (line = text; line != NULL && *line != '\0'; line = next) {
		char *mission, *input, *want, *tab;
		int rc;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] == '#')
			continue;
		mission = line;
		tab = strchr(mission, '\t');
		assert_non_null(tab);
		*tab = '\0';
		input = tab + 1;
		tab = strchr(input, '\t');
		assert_non_null(tab);
		*tab = '\0';
		want = tab + 1;
		lines++;
		err[0] = '\0';
		rc = sf_phone_normalize(input, mission[0] != '\0' ? mission : NULL, out, sizeof out,
		                        err, sizeof err);
		if (rc != 0 || strcmp(out, want) != 0) {
			print_message("\"%s\" at %s gave %d \"%s\" (%s), want \"%s\"\n", input,
			              mission[0] != '\0' ? mission : "no mission", rc, out, err,
			              want);
			bad++;
		}
	}
	free(text);
	assert_true(lines >= 500);
	assert_int_equal(bad, 0);
}

static void
phone_refuses_very_long_input(void **state)
{
	char out[SF_PHONE_E164_SIZE], err[128];
	size_t n = 100000;
	char *input = malloc(n + 1);

	(void)state;
	assert_non_null(input);
	memset(input, '1', n);
	input[n] = '\0';
	assert_int_equal(sf_phone_normalize(input, "KR", out, sizeof out, err, sizeof err),
	                 SF_ERANGE);
	assert_string_equal(err, "phone: too many digits: 100000");
	memset(input, ' ', n);
	assert_int_equal(sf_phone_normalize(input, "KR", out, sizeof out, err, sizeof err),
	                 SF_EINVAL);
	assert_string_equal(err, "phone: empty");
	free(input);
}

static void
phone_reports_small_output_buffer(void **state)
{
	char out[10], exact[12], err[128];

	(void)state;
	assert_int_equal(
	    sf_phone_normalize("010-1234-5678", "KR", out, sizeof out, err, sizeof err),
	    SF_ETOOLONG);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "need 14"));
	/* Exactly the length of the number and its NUL is enough. */
	assert_int_equal(sf_phone_normalize("+82 2 123 4567", NULL, exact, sizeof exact, NULL, 0),
	                 0);
	assert_string_equal(exact, "+8221234567");
	assert_int_equal(
	    sf_phone_normalize("+82 2 123 4567", NULL, exact, sizeof exact - 1, NULL, 0),
	    SF_ETOOLONG);
}

static void
phone_refuses_null_arguments(void **state)
{
	char out[SF_PHONE_E164_SIZE];

	(void)state;
	assert_int_equal(sf_phone_normalize(NULL, "KR", out, sizeof out, NULL, 0), SF_EINVAL);
	assert_int_equal(sf_phone_normalize("010-1234-5678", "KR", NULL, 0, NULL, 0), SF_EINVAL);
	/* An empty default country is no default country. */
	assert_int_equal(sf_phone_normalize("010-1234-5678", "", out, sizeof out, NULL, 0),
	                 SF_EINVAL);
}

/*
 * Countries where a national 010 and 8 digits is a number of their own; at
 * every other mission it is refused, so that the import's Korean mobile
 * fallback (korean_mobile_fallback) reads it as +82 10 instead.
 */
static const struct {
	const char *iso;
	const char *want;
} own_010[] = {
    {"KR", "+821012345678"}, /* the Korean mobile itself */
    {"CN", "+861012345678"}, /* Beijing landline: area code 10 after the trunk 0 */
    {"EG", "+201012345678"}, /* Egyptian mobile (Vodafone's 010 range) */
};

/*
 * Reads a number as an import with the Korean mobile fallback does: Korea
 * again only when the mission's country refuses 010 and 8 digits.
 */
static int
read_like_import(const char *input, const char *iso, char out[SF_PHONE_E164_SIZE], char *err,
                 size_t errsz)
{
	int rc = sf_phone_normalize(input, iso, out, SF_PHONE_E164_SIZE, err, errsz);
	char d[12];
	size_t n = 0;

	for (const char *s = input; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9' && n++ < sizeof d)
			d[n - 1] = *s;
	}
	if (rc != 0 && strcmp(iso, "KR") != 0 && n == 11 && memcmp(d, "010", 3) == 0)
		rc = sf_phone_normalize(input, "KR", out, SF_PHONE_E164_SIZE, NULL, 0);
	return rc;
}

/* Where 010 and 8 digits is a number of the mission's country, staff are warned it may be Korean.
 */
static void
phone_warns_when_a_number_is_also_a_korean_mobile(void **state)
{
	char warn[256];

	(void)state;
	assert_true(sf_phone_also_korean_mobile("010-1234-5678", "EG", warn, sizeof warn));
	assert_non_null(strstr(warn, "read as a number of EG"));
	assert_non_null(strstr(warn, "Korean mobile"));
	assert_null(strstr(warn, "1234"));
	assert_true(sf_phone_also_korean_mobile("01012345678", "eg", NULL, 0));
	assert_true(sf_phone_also_korean_mobile("010 1234 5678", "CN", warn, sizeof warn));
	/* At the Korean mission, in international form, or when no other reading exists: none. */
	assert_false(sf_phone_also_korean_mobile("010-1234-5678", "KR", warn, sizeof warn));
	assert_string_equal(warn, "");
	assert_false(sf_phone_also_korean_mobile("+20 10 1234 5678", "EG", warn, sizeof warn));
	assert_false(sf_phone_also_korean_mobile("+82 10 1234 5678", "EG", warn, sizeof warn));
	assert_false(sf_phone_also_korean_mobile("010-1234-5678", "TR", warn, sizeof warn));
	assert_false(sf_phone_also_korean_mobile("011 1234 5678", "EG", warn, sizeof warn));
	assert_false(sf_phone_also_korean_mobile("0532 123 45 67", "TR", warn, sizeof warn));
	assert_false(sf_phone_also_korean_mobile("010-1234-5678", NULL, warn, sizeof warn));
	assert_false(sf_phone_also_korean_mobile(NULL, "EG", warn, sizeof warn));
}

static void
phone_reads_010_abroad_as_korean_mobile_everywhere_but_cn_and_eg(void **state)
{
	/* Countries without a plan and territories sharing one, which the loop must reach. */
	static const char *const sample[] = {"AE", "SG", "IN", "ID", "MY", "AU", "NL", "SE",
	                                     "FI", "BE", "IT", "VA", "SM", "CI", "HU", "BY",
	                                     "MX", "CA", "JM", "JE", "KZ", "TW", "HK", "SA"};
	char iso[3], out[SF_PHONE_E164_SIZE], err[256];
	size_t known = 0, sampled = 0;

	(void)state;
	/* Every ISO code phone.c accepts as a mission's country, plan or not. */
	for (char a = 'A'; a <= 'Z'; a++) {
		for (char b = 'A'; b <= 'Z'; b++) {
			const char *want = "+821012345678";
			bool own = false;
			int rc;

			iso[0] = a;
			iso[1] = b;
			iso[2] = '\0';
			if (sf_phone_normalize("+821012345678", iso, out, sizeof out, NULL, 0) != 0)
				continue;
			known++;
			for (size_t i = 0; i < sizeof sample / sizeof sample[0]; i++)
				sampled += strcmp(sample[i], iso) == 0;
			for (size_t i = 0; i < sizeof own_010 / sizeof own_010[0]; i++) {
				if (strcmp(own_010[i].iso, iso) == 0) {
					own = true;
					want = own_010[i].want;
				}
			}
			err[0] = '\0';
			rc = sf_phone_normalize("010-1234-5678", iso, out, sizeof out, err,
			                        sizeof err);
			if (own && (rc != 0 || strcmp(out, want) != 0))
				fail_msg("%s: gave %d \"%s\" (%s), want \"%s\"", iso, rc, out, err,
				         want);
			if (!own &&
			    (rc == 0 || out[0] != '\0' || strstr(err, "a Korean mobile?") == NULL))
				fail_msg("%s: gave %d \"%s\" (%s), want a refusal with the hint",
				         iso, rc, out, err);
			if (read_like_import("010-1234-5678", iso, out, err, sizeof err) != 0 ||
			    strcmp(out, want) != 0)
				fail_msg("%s: the import would read \"%s\", want \"%s\"", iso, out,
				         want);
		}
	}
	assert_true(known > 200);
	assert_int_equal(sampled, sizeof sample / sizeof sample[0]);

	/* Japan's international prefix 010 is not applied to 010 and 8 digits. */
	assert_int_equal(read_like_import("010-9876-5432", "JP", out, err, sizeof err), 0);
	assert_string_equal(out, "+821098765432");
	assert_int_equal(read_like_import("010-2345-6789", "JP", out, err, sizeof err), 0);
	assert_string_equal(out, "+821023456789");
	/* A number of the mission stays one: only 010 and 8 digits falls back. */
	assert_int_equal(read_like_import("0532 123 45 67", "TR", out, err, sizeof err), 0);
	assert_string_equal(out, "+905321234567");
	assert_int_equal(read_like_import("0 9123 4567", "SG", out, err, sizeof err), SF_ERANGE);
}

struct country_case {
	const char *name;
	const char *e164;
	int rc;
	const char *iso;
};

static const struct country_case country_cases[] = {
    {"country_of_korean_mobile", "+821012345678", 0, "KR"},
    {"country_of_turkish_mobile", "+905321234567", 0, "TR"},
    {"country_of_ukrainian_mobile", "+380671234567", 0, "UA"},
    {"country_of_thai_mobile", "+66812345678", 0, "TH"},
    {"country_of_new_york", "+12125551234", 0, "US"},
    {"country_of_toronto", "+14165550199", 0, "CA"},
    {"country_of_jamaica", "+18765551234", 0, "JM"},
    {"country_of_moscow_mobile", "+79161234567", 0, "RU"},
    {"country_of_kazakh_mobile", "+77011234567", 0, "KZ"},
    {"country_of_shared_british_code", "+447911123456", 0, "GB"},
    {"country_of_lebanese_mobile", "+9613123456", 0, "LB"},
    {"country_of_north_korea", "+85021234567", 0, "KP"},
    {"country_of_satellite_phone", "+881612345678", SF_ENOTFOUND, ""},
    {"country_of_unknown_code", "+9991234567", SF_EINVAL, ""},
    {"country_needs_plus", "821012345678", SF_EINVAL, ""},
    {"country_needs_digits", "+82 10 1234", SF_EINVAL, ""},
    {"country_of_lone_plus", "+", SF_EINVAL, ""},
    {"country_of_too_long", "+8210123456789012", SF_EINVAL, ""},
};

static void
phone_country_names_the_iso_code(void **state)
{
	char iso[3];

	(void)state;
	for (size_t i = 0; i < sizeof country_cases / sizeof country_cases[0]; i++) {
		const struct country_case *c = &country_cases[i];
		int rc;

		memcpy(iso, "??", 3);
		rc = sf_phone_country(c->e164, iso);
		if (rc != c->rc || strcmp(iso, c->iso) != 0)
			fail_msg("%s: \"%s\" gave %d \"%s\", want %d \"%s\"", c->name, c->e164, rc,
			         iso, c->rc, c->iso);
	}
	assert_int_equal(sf_phone_country(NULL, iso), SF_EINVAL);
	assert_int_equal(sf_phone_country("+82", NULL), SF_EINVAL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(phone_keeps_korean_numbers_in_e164),
	    cmocka_unit_test(phone_reads_national_forms_of_mission_countries),
	    cmocka_unit_test(phone_refuses_with_a_reason),
	    cmocka_unit_test(phone_weighs_carrier_prefix_against_00),
	    cmocka_unit_test(phone_knows_each_countrys_trunk_prefix),
	    cmocka_unit_test(phone_reads_argentine_mobiles),
	    cmocka_unit_test(phone_agrees_with_libphonenumber),
	    cmocka_unit_test(phone_refuses_very_long_input),
	    cmocka_unit_test(phone_reports_small_output_buffer),
	    cmocka_unit_test(phone_refuses_null_arguments),
	    cmocka_unit_test(phone_reads_010_abroad_as_korean_mobile_everywhere_but_cn_and_eg),
	    cmocka_unit_test(phone_warns_when_a_number_is_also_a_korean_mobile),
	    cmocka_unit_test(phone_country_names_the_iso_code),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
