/*
 * Names of people: the form stored in the registry (NFC, clean white space)
 * and the key used to find them (NFKC, case folded, Latin diacritics and
 * punctuation removed), so that "KIM Min-jun" and "Kim Minjun", or "Şahin"
 * and "Sahin", meet in one search. Unicode work is libunistring's.
 */
#include <safety/error.h>
#include <safety/name.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

/*
 * Collapsed names longer than this are refused before normalisation; NFC
 * shortens text at most threefold (Hangul jamo), so no name it refuses
 * could have fitted SF_NAME_MAX.
 */
#define NAME_COLLAPSED_MAX (4 * SF_NAME_MAX)

/* A Latin letter without a decomposition, and the letters it is searched as. */
struct name_fold {
	ucs4_t uc;
	const char *ascii;
};

/* Case-folded Latin letters that NFKD does not take apart; Turkish ı first. */
static const struct name_fold name_folds[] = {
    {0x0131, "i"},  /* ı dotless i */
    {0x00f8, "o"},  /* ø */
    {0x0111, "d"},  /* đ, Vietnamese */
    {0x00f0, "d"},  /* ð */
    {0x0142, "l"},  /* ł */
    {0x0127, "h"},  /* ħ */
    {0x0167, "t"},  /* ŧ */
    {0x00e6, "ae"}, /* æ */
    {0x0153, "oe"}, /* œ */
    {0x00fe, "th"}, /* þ */
};

/* Tells whether uc changes the direction text is shown in (embeddings, overrides, isolates). */
static bool
name_is_bidi_control(ucs4_t uc)
{
	return (uc >= 0x202a && uc <= 0x202e) || (uc >= 0x2066 && uc <= 0x2069) || uc == 0x200e ||
	       uc == 0x200f || uc == 0x061c;
}

/* Tells whether uc is invisible and only makes equal-looking names differ. */
static bool
name_is_invisible(ucs4_t uc)
{
	return uc == 0x200b || uc == 0x2060 || uc == 0xfeff || uc == 0x00ad;
}

/*
 * Tells whether uc is a letter that shows nothing: the Hangul fillers (which
 * only stand for a missing part of a syllable) and the blank Braille pattern.
 */
static bool
name_is_filler(ucs4_t uc)
{
	return uc == 0x3164 || uc == 0xffa0 || uc == 0x115f || uc == 0x1160 || uc == 0x2800;
}

/* Tells whether uc is a format character (invisible; Unicode category Cf). */
static bool
name_is_format(ucs4_t uc)
{
	return uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_Cf);
}

/*
 * Tells whether a zero width (non-)joiner between a and b shapes a name:
 * between letters or marks of scripts that join or form conjuncts (Arabic,
 * Persian, Indic), not Latin or Hangul, where it only hides a difference.
 */
static bool
name_joiner_shapes(ucs4_t a, ucs4_t b)
{
	const uc_script_t *latin = uc_script_byname("Latin"), *hangul = uc_script_byname("Hangul");

	if (a == 0 || b == 0 ||
	    !uc_is_general_category_withtable(a, UC_CATEGORY_MASK_L | UC_CATEGORY_MASK_M) ||
	    !uc_is_general_category_withtable(b, UC_CATEGORY_MASK_L | UC_CATEGORY_MASK_M))
		return false;
	return uc_script(a) != latin && uc_script(a) != hangul && uc_script(b) != latin &&
	       uc_script(b) != hangul && !name_is_filler(a) && !name_is_filler(b);
}

/* Tells whether uc is white space; tabs and line ends from spreadsheet cells count. */
static bool
name_is_space(ucs4_t uc)
{
	return uc_is_property_white_space(uc);
}

/* Tells whether uc is a combining mark. */
static bool
name_is_mark(ucs4_t uc)
{
	return uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_M);
}

/* Tells whether uc is a variation selector. */
static bool
name_is_variation_selector(ucs4_t uc)
{
	return (uc >= 0xfe00 && uc <= 0xfe0f) || (uc >= 0xe0100 && uc <= 0xe01ef) ||
	       (uc >= 0x180b && uc <= 0x180d) || uc == 0x180f;
}

/*
 * Tells whether uc is a mark that shows nothing (Default_Ignorable: the
 * combining grapheme joiner U+034F, variation selectors) and only makes
 * equal-looking names differ. A variation selector after a Han character
 * stays: it picks the form of a character a family registered.
 */
static bool
name_is_ignorable_mark(ucs4_t uc, ucs4_t prev)
{
	if (!name_is_mark(uc) || !uc_is_property_default_ignorable_code_point(uc))
		return false;
	return !(name_is_variation_selector(uc) && prev != 0 &&
	         uc_script(prev) == uc_script_byname("Han"));
}

/*
 * The next character at s[i..len) that normalising keeps, skipping what it
 * drops (so a joiner is judged by the letters it will stand between, and a
 * second pass keeps what the first kept); 0 at the end.
 */
static ucs4_t
name_next_kept(const uint8_t *s, size_t i, size_t len, ucs4_t prev)
{
	ucs4_t uc;
	int k;

	for (; i < len; i += (size_t)k) {
		k = u8_mbtouc_unsafe(&uc, s + i, len - i);
		if (uc == 0x200c || uc == 0x200d || name_is_invisible(uc) || name_is_format(uc) ||
		    name_is_filler(uc) || name_is_ignorable_mark(uc, prev))
			continue;
		return uc;
	}
	return 0;
}

/* Normalises a name for storage. */
int
sf_name_normalize(const char *input, char *out, size_t outsz, char *err, size_t errsz)
{
	uint8_t collapsed[NAME_COLLAPSED_MAX + 8], nfcbuf[SF_NAME_SIZE], *nfc;
	const uint8_t *s = (const uint8_t *)input, *bad;
	size_t len, n = 0, nfclen, i;
	bool pending_space = false, has_base = false;
	ucs4_t uc, prev = 0, base = 0, next, hidden = 0;
	int k, rc = 0;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (input == NULL || out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "name: missing");
	len = strlen(input);
	bad = u8_check(s, len);
	if (bad != NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "name: not valid UTF-8 at byte %zu",
		                    (size_t)(bad - s));
	for (i = 0; i < len; i += (size_t)k) {
		k = u8_mbtouc_unsafe(&uc, s + i, len - i);
		if (name_is_space(uc)) {
			pending_space = n > 0;
			has_base = false;
			prev = 0;
			base = 0;
			continue;
		}
		if (name_is_bidi_control(uc))
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "name: text direction control U+%04X at byte %zu",
			                    (unsigned)uc, i);
		if (uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_Cc))
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "name: control character U+%04X at byte %zu",
			                    (unsigned)uc, i);
		if (uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_Co))
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "name: private-use character U+%04X at byte %zu",
			                    (unsigned)uc, i);
		/*
		 * Invisible: format characters and fillers only make equal-looking
		 * names differ, so they go (a joiner that shapes a name stays).
		 */
		if (uc == 0x200c || uc == 0x200d) {
			/*
			 * Judged by the letter the marks before it sit on: NFC may
			 * compose them into it, and a second pass must decide alike.
			 */
			next = name_next_kept(s, i + (size_t)k, len, prev);
			if (!pending_space && name_joiner_shapes(base, next)) {
				if (n + (size_t)k > NAME_COLLAPSED_MAX)
					return sf_error_set(err, errsz, SF_ETOOLONG,
					                    "name: too long: more than %d bytes",
					                    SF_NAME_MAX);
				memcpy(collapsed + n, s + i, (size_t)k);
				n += (size_t)k;
				continue;
			}
		}
		if (name_is_invisible(uc) || name_is_format(uc) || name_is_filler(uc) ||
		    name_is_ignorable_mark(uc, prev)) {
			if (hidden == 0)
				hidden = uc;
			continue;
		}
		if (name_is_mark(uc) && !has_base)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "name: combining mark U+%04X with no letter before it "
			                    "(byte %zu)",
			                    (unsigned)uc, i);
		has_base = true;
		if (n + (pending_space ? 1 : 0) + (size_t)k > NAME_COLLAPSED_MAX)
			return sf_error_set(err, errsz, SF_ETOOLONG,
			                    "name: too long: more than %d bytes", SF_NAME_MAX);
		if (pending_space)
			collapsed[n++] = ' ';
		pending_space = false;
		memcpy(collapsed + n, s + i, (size_t)k);
		n += (size_t)k;
		prev = uc;
		if (!name_is_mark(uc))
			base = uc;
	}
	if (n == 0 && hidden != 0)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "name: empty: nothing but invisible characters (U+%04X)",
		                    (unsigned)hidden);
	if (n == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "name: empty");

	nfclen = sizeof nfcbuf;
	nfc = u8_normalize(UNINORM_NFC, collapsed, n, nfcbuf, &nfclen);
	if (nfc == NULL)
		return sf_error_set(err, errsz, SF_ENOMEM, "name: out of memory");
	if (nfclen > SF_NAME_MAX)
		rc = sf_error_set(err, errsz, SF_ETOOLONG, "name: too long: %zu bytes, at most %d",
		                  nfclen, SF_NAME_MAX);
	else if (nfclen >= outsz)
		rc = sf_error_set(err, errsz, SF_ETOOLONG,
		                  "name: output buffer too small: %zu bytes, need %zu", outsz,
		                  nfclen + 1);
	else {
		memcpy(out, nfc, nfclen);
		out[nfclen] = '\0';
	}
	if (nfc != nfcbuf)
		free(nfc);
	return rc;
}

/* Returns the ASCII letters a case-folded Latin letter is searched as, or NULL. */
static const char *
name_fold_of(ucs4_t uc)
{
	for (size_t i = 0; i < sizeof name_folds / sizeof name_folds[0]; i++) {
		if (name_folds[i].uc == uc)
			return name_folds[i].ascii;
	}
	return NULL;
}

/* Tells whether a search key leaves a character out: spaces, punctuation, controls, invisibles. */
static bool
name_key_drops(ucs4_t uc)
{
	return name_is_space(uc) || name_is_invisible(uc) || name_is_bidi_control(uc) ||
	       name_is_filler(uc) ||
	       uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_P | UC_CATEGORY_MASK_Cc |
	                                                UC_CATEGORY_MASK_Cf | UC_CATEGORY_MASK_Co);
}

/*
 * The search key of plain ASCII, which every answer's words are hashed in:
 * case folded and decomposed ASCII is its own lower case, it has no marks,
 * and its composition changes nothing, so the rules of sf_name_search_key
 * apply letter by letter without libunistring's passes. Returns 1 when the
 * name is not plain ASCII (or a letter folds to more), for the full way.
 */
static int
name_search_key_ascii(const char *name, size_t len, char *out, size_t outsz)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)name[i] >= 0x80)
			return 1;
	}
	for (size_t i = 0; i < len; i++) {
		ucs4_t uc = (unsigned char)name[i];

		if (uc >= 'A' && uc <= 'Z')
			uc += 'a' - 'A';
		if (name_key_drops(uc))
			continue;
		if (name_fold_of(uc) != NULL)
			return 1;
		if (n + 1 >= outsz)
			return SF_ETOOLONG;
		out[n++] = (char)uc;
	}
	if (n == 0)
		return SF_EINVAL;
	out[n] = '\0';
	return 0;
}

/* Writes the search key of a name. */
int
sf_name_search_key(const char *name, char *out, size_t outsz)
{
	const uc_script_t *latin = uc_script_byname("Latin");
	uint8_t *folded = NULL, *kept = NULL, *key = NULL;
	size_t len, flen, n = 0, klen;
	bool drop_marks = true;
	const char *fold;
	ucs4_t uc;
	int k, rc = 0;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (name == NULL || out == NULL)
		return SF_EINVAL;
	len = strlen(name);
	if (u8_check((const uint8_t *)name, len) != NULL)
		return SF_EINVAL;
	if (len > SF_NAME_KEY_SIZE)
		return SF_ETOOLONG;
	rc = name_search_key_ascii(name, len, out, outsz);
	if (rc != 1) {
		if (rc != 0 && outsz > 0)
			out[0] = '\0';
		return rc;
	}
	rc = 0;
	/* Decomposed, so that diacritics arrive as marks after their letter. */
	folded = u8_casefold((const uint8_t *)name, len, NULL, UNINORM_NFKD, NULL, &flen);
	if (folded == NULL)
		return SF_ENOMEM;
	/* No fold makes a letter longer in UTF-8 than the letter itself. */
	kept = malloc(flen + 1);
	if (kept == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < flen; i += (size_t)k) {
		k = u8_mbtouc_unsafe(&uc, folded + i, flen - i);
		/* Kept in a name, a Han character's variation selector finds it all the same. */
		if (name_is_mark(uc) && uc_is_property_default_ignorable_code_point(uc))
			continue;
		if (name_is_mark(uc)) {
			/* Marks of Latin letters go; Japanese dakuten or Indic vowel signs stay. */
			if (!drop_marks)
				n += (size_t)u8_uctomb(kept + n, uc, (ptrdiff_t)(flen + 1 - n));
			continue;
		}
		if (name_key_drops(uc)) {
			drop_marks = true;
			continue;
		}
		fold = name_fold_of(uc);
		if (fold != NULL) {
			memcpy(kept + n, fold, strlen(fold));
			n += strlen(fold);
			drop_marks = true;
			continue;
		}
		drop_marks = uc_is_script(uc, latin);
		n += (size_t)u8_uctomb(kept + n, uc, (ptrdiff_t)(flen + 1 - n));
	}
	if (n == 0) {
		rc = SF_EINVAL;
		goto out;
	}
	/* Composes Hangul jamo back into syllables, and kana with their marks. */
	key = u8_normalize(UNINORM_NFC, kept, n, NULL, &klen);
	if (key == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	if (klen >= outsz) {
		rc = SF_ETOOLONG;
		goto out;
	}
	memcpy(out, key, klen);
	out[klen] = '\0';
out:
	free(folded);
	free(kept);
	free(key);
	return rc;
}

/* Tells which script the letters of a name are written in. */
enum sf_script
sf_name_script(const char *name)
{
	const uc_script_t *hangul = uc_script_byname("Hangul"), *latin = uc_script_byname("Latin");
	const uc_script_t *script, *other = NULL;
	bool seen_hangul = false, seen_latin = false, seen_other = false;
	const uint8_t *s = (const uint8_t *)name;
	size_t len;
	ucs4_t uc;
	int k;

	if (name == NULL)
		return SF_SCRIPT_OTHER;
	len = strlen(name);
	if (u8_check(s, len) != NULL)
		return SF_SCRIPT_OTHER;
	for (size_t i = 0; i < len; i += (size_t)k) {
		k = u8_mbtouc_unsafe(&uc, s + i, len - i);
		if (!uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_L) || name_is_filler(uc))
			continue;
		script = uc_script(uc);
		if (script == hangul) {
			seen_hangul = true;
		} else if (script == latin) {
			seen_latin = true;
		} else if (!seen_other || script == other) {
			seen_other = true;
			other = script;
		} else {
			return SF_SCRIPT_MIXED;
		}
	}
	if (seen_hangul + seen_latin + seen_other > 1)
		return SF_SCRIPT_MIXED;
	if (seen_hangul)
		return SF_SCRIPT_HANGUL;
	if (seen_latin)
		return SF_SCRIPT_LATIN;
	return SF_SCRIPT_OTHER;
}
