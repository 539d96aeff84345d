/*
 * Unit tests of person names: the stored form (NFC, clean white space), the
 * search key that makes differently typed names meet, and the script a name
 * column is written in; Korean and Turkish names first.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <safety/error.h>
#include <safety/name.h>

struct name_case {
	const char *name;
	const char *input;
	const char *want; /* normalised, or NULL when refused */
	int rc;
	const char *reason;
};

#define ACCEPT(name, input, want)                                                                  \
	{                                                                                          \
		name, input, want, 0, NULL                                                         \
	}
#define REJECT(name, input, rc, reason)                                                            \
	{                                                                                          \
		name, input, NULL, rc, reason                                                      \
	}

static const struct name_case normalize_cases[] = {
    ACCEPT("name_keeps_latin_name", "Kim Min-jun", "Kim Min-jun"),
    ACCEPT("name_trims_and_collapses_spaces", "  Kim   Min-jun  ", "Kim Min-jun"),
    ACCEPT("name_keeps_hangul", "김민준", "김민준"),
    ACCEPT("name_composes_hangul_jamo", "\u1112\u1161\u11ab", "한"),
    ACCEPT("name_composes_full_name_from_jamo",
           "\u1100\u1175\u11b7\u1106\u1175\u11ab\u110c\u116e\u11ab", "김민준"),
    ACCEPT("name_composes_latin_accent", "Jose\u0301", "Jos\u00e9"),
    ACCEPT("name_composes_turkish_cedilla", "S\u0327ahin", "Şahin"),
    ACCEPT("name_turns_tab_into_space", "Şahin\tYılmaz", "Şahin Yılmaz"),
    ACCEPT("name_turns_line_end_into_space", "Kim\r\nMinjun", "Kim Minjun"),
    ACCEPT("name_turns_ideographic_space_into_space", "김\u3000민준", "김 민준"),
    ACCEPT("name_turns_no_break_space_into_space", "Kim\u00a0Minjun", "Kim Minjun"),
    ACCEPT("name_drops_byte_order_mark", "\ufeffKim", "Kim"),
    ACCEPT("name_drops_zero_width_space", "Min\u200bjun", "Minjun"),
    ACCEPT("name_drops_soft_hyphen", "Min\u00adjun", "Minjun"),
    ACCEPT("name_keeps_apostrophe", "O'Brien", "O'Brien"),
    ACCEPT("name_keeps_vietnamese", "Nguye\u0302\u0303n Va\u0306n An", "Nguyễn Văn An"),
    ACCEPT("name_keeps_arabic", "عبد الله", "عبد الله"),
    ACCEPT("name_keeps_full_width_letters", "ＫＩＭ", "ＫＩＭ"),
    ACCEPT("name_maps_ohm_sign_to_omega", "\u2126", "\u03a9"),
    ACCEPT("name_keeps_zero_width_joiner", "\u0645\u200c\u0647", "\u0645\u200c\u0647"),
    ACCEPT("name_keeps_zero_width_joiner_in_devanagari", "\u0915\u094d\u200d\u0937",
           "\u0915\u094d\u200d\u0937"),
    ACCEPT("name_drops_joiners_in_latin_and_hangul", "Kim\u200dMin\u200cjun \u200d김\u200d민준",
           "KimMinjun 김민준"),
    ACCEPT("name_drops_joiner_at_the_end", "\u0645\u200c", "\u0645"),
    ACCEPT("name_drops_hangul_filler", "김\u3164민준", "김민준"),
    ACCEPT("name_drops_tag_characters", "Kim\U000E0041\U000E007F", "Kim"),
    ACCEPT("name_drops_other_format_characters", "Kim\u2061\u180e Minjun", "Kim Minjun"),
    ACCEPT("name_drops_combining_grapheme_joiner", "김\u034f민준", "김민준"),
    ACCEPT("name_drops_variation_selector_after_hangul", "김\ufe00민준", "김민준"),
    ACCEPT("name_drops_variation_selector_after_latin", "Kim\ufe0f Min\U000E0100jun", "Kim Minjun"),
    ACCEPT("name_keeps_variation_selector_after_han", "\u845b\U000E0100\u98fe",
           "\u845b\U000E0100\u98fe"),
    REJECT("name_refuses_only_grapheme_joiners", "\u034f\ufe0f", SF_EINVAL,
           "nothing but invisible characters (U+034F)"),
    REJECT("name_refuses_only_hangul_filler", "\u3164", SF_EINVAL,
           "nothing but invisible characters (U+3164)"),
    REJECT("name_refuses_only_jamo_fillers", "\u115f\u1160 \uffa0", SF_EINVAL,
           "nothing but invisible characters (U+115F)"),
    REJECT("name_refuses_only_braille_blank", "\u2800\u2800", SF_EINVAL,
           "nothing but invisible characters (U+2800)"),
    REJECT("name_refuses_only_tags", "\U000E0001\U000E0020", SF_EINVAL,
           "nothing but invisible characters (U+E0001)"),
    REJECT("name_refuses_empty", "", SF_EINVAL, "name: empty"),
    REJECT("name_refuses_blank", " \t\u3000 ", SF_EINVAL, "name: empty"),
    REJECT("name_refuses_only_invisible", "\u200b\ufeff", SF_EINVAL,
           "name: empty: nothing but invisible characters (U+200B)"),
    REJECT("name_refuses_bell", "Kim\x07", SF_EINVAL, "control character U+0007 at byte 3"),
    REJECT("name_refuses_delete", "Kim\x7f", SF_EINVAL, "control character U+007F at byte 3"),
    REJECT("name_refuses_overlong_nul", "\xc0\x80", SF_EINVAL, "not valid UTF-8 at byte 0"),
    REJECT("name_refuses_surrogate", "Kim \xed\xa0\x80", SF_EINVAL, "not valid UTF-8 at byte 4"),
    REJECT("name_refuses_latin1_byte", "Jos\xe9", SF_EINVAL, "not valid UTF-8 at byte 3"),
    REJECT("name_refuses_truncated_sequence", "abc\xe2\x82", SF_EINVAL,
           "not valid UTF-8 at byte 3"),
    REJECT("name_refuses_beyond_unicode", "a\xf4\x90\x80\x80", SF_EINVAL,
           "not valid UTF-8 at byte 1"),
    REJECT("name_refuses_right_to_left_override", "\u202eKim", SF_EINVAL,
           "text direction control U+202E at byte 0"),
    REJECT("name_refuses_leading_combining_mark", "\u0301Kim", SF_EINVAL,
           "combining mark U+0301 with no letter before it (byte 0)"),
    REJECT("name_refuses_mark_after_space", "Kim \u0301", SF_EINVAL, "(byte 4)"),
    REJECT("name_refuses_private_use", "\ue000Kim", SF_EINVAL, "private-use character U+E000"),
};

/* Runs one normalisation case and fails with its name when the result differs. */
static void
run_normalize_case(const struct name_case *c)
{
	char out[SF_NAME_SIZE], again[SF_NAME_SIZE], err[256];
	int rc;

	err[0] = '\0';
	rc = sf_name_normalize(c->input, out, sizeof out, err, sizeof err);
	if (c->want != NULL) {
		if (rc != 0 || strcmp(out, c->want) != 0)
			fail_msg("%s: gave %d \"%s\" (%s), want \"%s\"", c->name, rc, out, err,
			         c->want);
		if (sf_name_normalize(out, again, sizeof again, err, sizeof err) != 0 ||
		    strcmp(again, out) != 0)
			fail_msg("%s: \"%s\" is not stable", c->name, out);
	} else if (rc != c->rc || out[0] != '\0' || strstr(err, c->reason) == NULL) {
		fail_msg("%s: gave %d \"%s\" (%s), want %d (%s)", c->name, rc, out, err, c->rc,
		         c->reason);
	}
}

static void
name_normalizes_for_storage(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof normalize_cases / sizeof normalize_cases[0]; i++)
		run_normalize_case(&normalize_cases[i]);
}

static void
name_limits_length_after_normalisation(void **state)
{
	char in[1200], out[SF_NAME_SIZE], err[256];
	size_t n = 0;
	char *huge;

	(void)state;
	memset(in, 'a', 200);
	in[200] = '\0';
	assert_int_equal(sf_name_normalize(in, out, sizeof out, err, sizeof err), 0);
	assert_int_equal(strlen(out), 200);

	in[200] = 'a';
	in[201] = '\0';
	assert_int_equal(sf_name_normalize(in, out, sizeof out, err, sizeof err), SF_ETOOLONG);
	assert_string_equal(err, "name: too long: 201 bytes, at most 200");
	assert_string_equal(out, "");

	/* 66 syllables from jamo: 594 bytes typed, 198 stored. */
	for (int i = 0; i < 66; i++) {
		memcpy(in + n, "\u1112\u1161\u11ab", 9);
		n += 9;
	}
	in[n] = '\0';
	assert_int_equal(sf_name_normalize(in, out, sizeof out, err, sizeof err), 0);
	assert_int_equal(strlen(out), 198);
	assert_memory_equal(out, "한한", 6);

	huge = malloc(1000001);
	assert_non_null(huge);
	memset(huge, 'a', 1000000);
	huge[1000000] = '\0';
	assert_int_equal(sf_name_normalize(huge, out, sizeof out, err, sizeof err), SF_ETOOLONG);
	assert_string_equal(err, "name: too long: more than 200 bytes");
	/* Padding is not length: a long run of spaces around a name collapses. */
	memset(huge, ' ', 1000000);
	huge[500000] = 'A';
	assert_int_equal(sf_name_normalize(huge, out, sizeof out, err, sizeof err), 0);
	assert_string_equal(out, "A");
	free(huge);

	assert_int_equal(sf_name_normalize("Kim Min-jun", out, 5, err, sizeof err), SF_ETOOLONG);
	assert_string_equal(out, "");
	assert_int_equal(sf_name_normalize(NULL, out, sizeof out, err, sizeof err), SF_EINVAL);
	assert_int_equal(sf_name_normalize("Kim", NULL, 0, NULL, 0), SF_EINVAL);
}

struct key_case {
	const char *name;
	const char *input;
	const char *key;
};

static const struct key_case key_cases[] = {
    {"key_of_upper_case_surname", "KIM Min-jun", "kimminjun"},
    {"key_of_lower_case_joined", "kim minjun", "kimminjun"},
    {"key_of_double_spaced", "Kim  Min Jun", "kimminjun"},
    {"key_of_surname_comma_given", "KIM, Min-jun", "kimminjun"},
    {"key_of_hangul", "김민준", "김민준"},
    {"key_of_spaced_hangul", "김 민준", "김민준"},
    {"key_of_hangul_jamo", "\u1100\u1175\u11b7\u1106\u1175\u11ab\u110c\u116e\u11ab", "김민준"},
    {"key_of_full_width_latin", "ＫＩＭ　Ｍｉｎｊｕｎ", "kimminjun"},
    {"key_of_turkish_s_cedilla", "Şahin", "sahin"},
    {"key_of_turkish_capital_dotted_i", "ŞAHİN", "sahin"},
    {"key_of_turkish_dotless_i", "Yılmaz", "yilmaz"},
    {"key_of_turkish_capitals", "YILMAZ", "yilmaz"},
    {"key_of_turkish_soft_g", "Ağaoğlu", "agaoglu"},
    {"key_of_turkish_c_cedilla", "Çelik", "celik"},
    {"key_of_turkish_o_umlaut", "Öztürk", "ozturk"},
    {"key_of_precomposed_accent", "José", "jose"},
    {"key_of_decomposed_accent", "Jose\u0301", "jose"},
    {"key_of_german_sharp_s", "Straße", "strasse"},
    {"key_of_vietnamese", "Nguyễn Đức Anh", "nguyenducanh"},
    {"key_of_straight_apostrophe", "O'Brien", "obrien"},
    {"key_of_curly_apostrophe", "O\u2019Brien", "obrien"},
    {"key_of_polish_l_stroke", "Łukasz", "lukasz"},
    {"key_of_danish_o_stroke", "Søren", "soren"},
    {"key_of_name_with_hangul_filler", "김\u3164민준", "김민준"},
    {"key_of_ligature", "Æsa", "aesa"},
    {"key_keeps_kana_voicing", "がくと", "がくと"},
    {"key_keeps_cyrillic_short_i", "Йог", "йог"},
    {"key_of_cyrillic", "ИВАНОВ", "иванов"},
    {"key_of_name_with_invisible_space", "Min\u200bjun", "minjun"},
    {"key_of_name_with_grapheme_joiner", "김\u034f민준", "김민준"},
    {"key_of_name_with_variation_selector", "김\ufe0f민준", "김민준"},
    {"key_of_han_with_variation_selector", "\u845b\U000E0100\u98fe", "\u845b\u98fe"},
};

static void
name_search_key_makes_typings_meet(void **state)
{
	char key[SF_NAME_KEY_SIZE];

	(void)state;
	for (size_t i = 0; i < sizeof key_cases / sizeof key_cases[0]; i++) {
		const struct key_case *c = &key_cases[i];
		int rc = sf_name_search_key(c->input, key, sizeof key);

		if (rc != 0 || strcmp(key, c->key) != 0)
			fail_msg("%s: \"%s\" gave %d \"%s\", want \"%s\"", c->name, c->input, rc,
			         key, c->key);
	}
}

static void
name_search_key_refuses_what_cannot_be_searched(void **state)
{
	char key[SF_NAME_KEY_SIZE], small[4], name[SF_NAME_SIZE];

	(void)state;
	assert_int_equal(sf_name_search_key("", key, sizeof key), SF_EINVAL);
	assert_int_equal(sf_name_search_key(" - . - ", key, sizeof key), SF_EINVAL);
	assert_string_equal(key, "");
	assert_int_equal(sf_name_search_key("Kim\xff", key, sizeof key), SF_EINVAL);
	assert_int_equal(sf_name_search_key("\xc0\x80", key, sizeof key), SF_EINVAL);
	assert_int_equal(sf_name_search_key(NULL, key, sizeof key), SF_EINVAL);
	assert_int_equal(sf_name_search_key("Kim", NULL, 0), SF_EINVAL);
	assert_int_equal(sf_name_search_key("Kim Minjun", small, sizeof small), SF_ETOOLONG);
	assert_string_equal(small, "");
	assert_int_equal(sf_name_search_key("Kim", small, sizeof small), 0);
	assert_string_equal(small, "kim");

	/* The widest compatibility character a stored name can hold still fits. */
	for (int i = 0; i < 66; i++)
		memcpy(name + 3 * i, "\ufdfa", 3);
	name[198] = '\0';
	assert_int_equal(sf_name_search_key(name, key, sizeof key), 0);
	assert_true(strlen(key) > 198);
}

struct script_case {
	const char *name;
	const char *input;
	enum sf_script script;
};

static const struct script_case script_cases[] = {
    {"script_of_hangul_name", "김민준", SF_SCRIPT_HANGUL},
    {"script_of_spaced_hangul", "김 민준", SF_SCRIPT_HANGUL},
    {"script_of_compatibility_jamo", "ㄱㄴ", SF_SCRIPT_HANGUL},
    {"script_of_hangul_filler_alone", "\u3164", SF_SCRIPT_OTHER},
    {"script_of_latin_name_with_hangul_filler", "KIM\u3164", SF_SCRIPT_LATIN},
    {"script_of_latin_name", "Kim Min-jun", SF_SCRIPT_LATIN},
    {"script_of_turkish_name", "Şahin Yılmaz", SF_SCRIPT_LATIN},
    {"script_of_full_width_latin", "ＫＩＭ", SF_SCRIPT_LATIN},
    {"script_of_hangul_and_latin", "김 Minjun", SF_SCRIPT_MIXED},
    {"script_of_latin_with_hangul_note", "Kim (김)", SF_SCRIPT_MIXED},
    {"script_of_hanja_and_hangul", "金민준", SF_SCRIPT_MIXED},
    {"script_of_cyrillic_and_latin", "Иван Kim", SF_SCRIPT_MIXED},
    {"script_of_hanja", "金珉俊", SF_SCRIPT_OTHER},
    {"script_of_cyrillic", "Иванов", SF_SCRIPT_OTHER},
    {"script_of_thai", "สมชาย", SF_SCRIPT_OTHER},
    {"script_of_empty", "", SF_SCRIPT_OTHER},
    {"script_of_digits_only", "12345", SF_SCRIPT_OTHER},
    {"script_of_invalid_utf8", "Kim\xff", SF_SCRIPT_OTHER},
    {"script_of_null", NULL, SF_SCRIPT_OTHER},
};

static void
name_script_tells_hangul_from_latin(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof script_cases / sizeof script_cases[0]; i++) {
		const struct script_case *c = &script_cases[i];
		enum sf_script got = sf_name_script(c->input);

		if (got != c->script)
			fail_msg("%s: gave %d, want %d", c->name, (int)got, (int)c->script);
	}
}

/* A name normalised once is normalised: what a second pass would still drop, the first drops. */
static void
name_normalizes_in_one_pass(void **state)
{
	static const char *const inputs[] = {
	    /* A joiner before selectors that go, then nothing it could join. */
	    "\xe1\x80\x8c\u200c\u200c\xe1\xa0\x8f\xe1\xa0\x8c",
	    "\u0645\u200c\ufe0f\u06cc",   /* a joiner between Persian letters across a selector */
	    "Kim\u200d\u034f\u200dMin",   /* joiners in Latin go, however many */
	    " e\u0309\u200d\u0389\u0111", /* a mark NFC composes into the Latin letter before */
	};
	char once[SF_NAME_SIZE], twice[SF_NAME_SIZE], err[128];

	(void)state;
	for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
		assert_int_equal(sf_name_normalize(inputs[i], once, sizeof once, err, sizeof err),
		                 0);
		assert_int_equal(sf_name_normalize(once, twice, sizeof twice, err, sizeof err), 0);
		if (strcmp(once, twice) != 0)
			fail_msg("input %zu: a second pass changed the name", i);
	}
}

/*
 * Plain ASCII takes a shorter way to its key: for every string of one or
 * two ASCII characters, and for longer ones, it must give what the full way
 * gives, which a soft hyphen (left out of every key) forces.
 */
static void
name_search_key_of_ascii_is_the_full_ways(void **state)
{
	static const char *const longer[] = {"Kim Min-jun", "O'BRIEN, Sean",      "c++ $ilver",
	                                     "  ",          "Nguyen\tVan\r\nAnh", "~`|^<>=+",
	                                     "AE_oe.th"};
	char in[16], forced[24], fast[64], full[64], tiny[3], tiny_full[3];

	(void)state;
	for (int a = 1; a < 128; a++) {
		for (int b = 0; b < 128; b++) {
			int rc_fast, rc_full;

			snprintf(in, sizeof in, "%c%c", a, b);
			snprintf(forced, sizeof forced, "%s\xc2\xad", in);
			rc_fast = sf_name_search_key(in, fast, sizeof fast);
			rc_full = sf_name_search_key(forced, full, sizeof full);
			assert_int_equal(rc_fast, rc_full);
			assert_string_equal(fast, full);
			/* Too small a buffer is the same error either way. */
			rc_fast = sf_name_search_key(in, tiny, 2);
			rc_full = sf_name_search_key(forced, tiny_full, 2);
			assert_int_equal(rc_fast, rc_full);
		}
	}
	for (size_t i = 0; i < sizeof longer / sizeof longer[0]; i++) {
		char f[64];
		int rc_fast, rc_full;

		snprintf(f, sizeof f, "\xc2\xad%s", longer[i]);
		rc_fast = sf_name_search_key(longer[i], fast, sizeof fast);
		rc_full = sf_name_search_key(f, full, sizeof full);
		assert_int_equal(rc_fast, rc_full);
		assert_string_equal(fast, full);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(name_normalizes_for_storage),
	    cmocka_unit_test(name_limits_length_after_normalisation),
	    cmocka_unit_test(name_search_key_makes_typings_meet),
	    cmocka_unit_test(name_search_key_refuses_what_cannot_be_searched),
	    cmocka_unit_test(name_search_key_of_ascii_is_the_full_ways),
	    cmocka_unit_test(name_script_tells_hangul_from_latin),
	    cmocka_unit_test(name_normalizes_in_one_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
