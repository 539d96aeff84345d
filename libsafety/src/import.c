/*
 * Imports of nationals: CSV through libcsv (strict RFC 4180, fed one physical
 * line at a time so every record knows the line it starts on) and JSON through
 * cJSON, headers recognised in Korean and English, every value checked by the
 * registry's validators. Rows come out normalised for SQL; problems come out
 * as line, field and reason without any of the file's personal data.
 */
#include <safety/date.h>
#include <safety/email.h>
#include <safety/error.h>
#include <safety/geo.h>
#include <safety/import.h>
#include <safety/name.h>
#include <safety/phone.h>

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <csv.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Records looked at for the header before the file is refused. */
#define IMPORT_HEADER_SEARCH 10
/* Lines looked at to pick the delimiter. */
#define IMPORT_DELIMITER_LINES 10
/* Folded headers and values longer than this are never recognised. */
#define IMPORT_FOLD_SIZE 256
/* Bytes of a header quoted in a warning. */
#define IMPORT_HEADER_QUOTE 40
/* Limits of the free-text fields, in characters (the schema's CHECKs). */
#define IMPORT_ADDRESS_MAX 500
#define IMPORT_RESIDENCE_MAX 100
#define IMPORT_NOTES_MAX 2000
#define IMPORT_REF_MAX 100
#define IMPORT_PLACE_MAX 200

static const char *const import_field_names[SF_IMPORT_FIELD_COUNT] = {
    [SF_IMPORT_FIELD_NAME_KO] = "name_ko",
    [SF_IMPORT_FIELD_NAME_LATIN] = "name_latin",
    [SF_IMPORT_FIELD_NAME] = "name",
    [SF_IMPORT_FIELD_BIRTH_DATE] = "birth_date",
    [SF_IMPORT_FIELD_PASSPORT_NO] = "passport_no",
    [SF_IMPORT_FIELD_PHONE] = "phone",
    [SF_IMPORT_FIELD_EMAIL] = "email",
    [SF_IMPORT_FIELD_ADDRESS] = "address",
    [SF_IMPORT_FIELD_RESIDENCE_STATUS] = "residence_status",
    [SF_IMPORT_FIELD_KIND] = "kind",
    [SF_IMPORT_FIELD_ARRIVAL_DATE] = "arrival_date",
    [SF_IMPORT_FIELD_DEPARTURE_DATE] = "departure_date",
    [SF_IMPORT_FIELD_HOUSEHOLD] = "household",
    [SF_IMPORT_FIELD_NEEDS] = "needs",
    [SF_IMPORT_FIELD_LANGUAGES] = "languages",
    [SF_IMPORT_FIELD_LAT] = "lat",
    [SF_IMPORT_FIELD_LON] = "lon",
    [SF_IMPORT_FIELD_LOCATION] = "location",
    [SF_IMPORT_FIELD_NOTES] = "notes",
    [SF_IMPORT_FIELD_EXTERNAL_REF] = "external_ref",
    [SF_IMPORT_FIELD_COUNTRY] = "country",
    [SF_IMPORT_FIELD_PLACE] = "place",
    [SF_IMPORT_FIELD_REGION] = "region",
};

/* A folded header (see import_fold) and the field it stands for. */
struct import_header {
	const char *key;
	enum sf_import_field field;
};

/* Headers as embassies write them, folded: case-folded letters and digits only. */
static const struct import_header import_headers[] = {
    {"성명", SF_IMPORT_FIELD_NAME_KO},
    {"이름", SF_IMPORT_FIELD_NAME_KO},
    {"한글성명", SF_IMPORT_FIELD_NAME_KO},
    {"한글이름", SF_IMPORT_FIELD_NAME_KO},
    {"한글명", SF_IMPORT_FIELD_NAME_KO},
    {"국문성명", SF_IMPORT_FIELD_NAME_KO},
    {"국문이름", SF_IMPORT_FIELD_NAME_KO},
    {"nameko", SF_IMPORT_FIELD_NAME_KO},
    {"koreanname", SF_IMPORT_FIELD_NAME_KO},
    {"namekorean", SF_IMPORT_FIELD_NAME_KO},
    {"hangulname", SF_IMPORT_FIELD_NAME_KO},
    {"영문성명", SF_IMPORT_FIELD_NAME_LATIN},
    {"영문이름", SF_IMPORT_FIELD_NAME_LATIN},
    {"영문명", SF_IMPORT_FIELD_NAME_LATIN},
    {"영문", SF_IMPORT_FIELD_NAME_LATIN},
    {"여권성명", SF_IMPORT_FIELD_NAME_LATIN},
    {"여권영문성명", SF_IMPORT_FIELD_NAME_LATIN},
    {"englishname", SF_IMPORT_FIELD_NAME_LATIN},
    {"nameen", SF_IMPORT_FIELD_NAME_LATIN},
    {"nameenglish", SF_IMPORT_FIELD_NAME_LATIN},
    {"namelatin", SF_IMPORT_FIELD_NAME_LATIN},
    {"latinname", SF_IMPORT_FIELD_NAME_LATIN},
    {"passportname", SF_IMPORT_FIELD_NAME_LATIN},
    {"romanizedname", SF_IMPORT_FIELD_NAME_LATIN},
    {"name", SF_IMPORT_FIELD_NAME},
    {"fullname", SF_IMPORT_FIELD_NAME},
    {"생년월일", SF_IMPORT_FIELD_BIRTH_DATE},
    {"생일", SF_IMPORT_FIELD_BIRTH_DATE},
    {"출생일", SF_IMPORT_FIELD_BIRTH_DATE},
    {"출생일자", SF_IMPORT_FIELD_BIRTH_DATE},
    {"birthdate", SF_IMPORT_FIELD_BIRTH_DATE},
    {"dateofbirth", SF_IMPORT_FIELD_BIRTH_DATE},
    {"dob", SF_IMPORT_FIELD_BIRTH_DATE},
    {"birthday", SF_IMPORT_FIELD_BIRTH_DATE},
    {"여권번호", SF_IMPORT_FIELD_PASSPORT_NO},
    {"여권", SF_IMPORT_FIELD_PASSPORT_NO},
    {"passport", SF_IMPORT_FIELD_PASSPORT_NO},
    {"passportno", SF_IMPORT_FIELD_PASSPORT_NO},
    {"passportnumber", SF_IMPORT_FIELD_PASSPORT_NO},
    {"휴대전화", SF_IMPORT_FIELD_PHONE},
    {"휴대전화번호", SF_IMPORT_FIELD_PHONE},
    {"휴대폰", SF_IMPORT_FIELD_PHONE},
    {"휴대폰번호", SF_IMPORT_FIELD_PHONE},
    {"핸드폰", SF_IMPORT_FIELD_PHONE},
    {"핸드폰번호", SF_IMPORT_FIELD_PHONE},
    {"연락처", SF_IMPORT_FIELD_PHONE},
    {"전화번호", SF_IMPORT_FIELD_PHONE},
    {"전화", SF_IMPORT_FIELD_PHONE},
    {"mobile", SF_IMPORT_FIELD_PHONE},
    {"mobilephone", SF_IMPORT_FIELD_PHONE},
    {"mobileno", SF_IMPORT_FIELD_PHONE},
    {"mobilenumber", SF_IMPORT_FIELD_PHONE},
    {"cellphone", SF_IMPORT_FIELD_PHONE},
    {"phone", SF_IMPORT_FIELD_PHONE},
    {"phones", SF_IMPORT_FIELD_PHONE},
    {"phoneno", SF_IMPORT_FIELD_PHONE},
    {"phonenumber", SF_IMPORT_FIELD_PHONE},
    {"tel", SF_IMPORT_FIELD_PHONE},
    {"telephone", SF_IMPORT_FIELD_PHONE},
    {"이메일", SF_IMPORT_FIELD_EMAIL},
    {"이메일주소", SF_IMPORT_FIELD_EMAIL},
    {"전자우편", SF_IMPORT_FIELD_EMAIL},
    {"email", SF_IMPORT_FIELD_EMAIL},
    {"emails", SF_IMPORT_FIELD_EMAIL},
    {"emailaddress", SF_IMPORT_FIELD_EMAIL},
    {"주소", SF_IMPORT_FIELD_ADDRESS},
    {"현지주소", SF_IMPORT_FIELD_ADDRESS},
    {"거주지", SF_IMPORT_FIELD_ADDRESS},
    {"거주지주소", SF_IMPORT_FIELD_ADDRESS},
    {"address", SF_IMPORT_FIELD_ADDRESS},
    {"localaddress", SF_IMPORT_FIELD_ADDRESS},
    {"체류자격", SF_IMPORT_FIELD_RESIDENCE_STATUS},
    {"비자", SF_IMPORT_FIELD_RESIDENCE_STATUS},
    {"visa", SF_IMPORT_FIELD_RESIDENCE_STATUS},
    {"visatype", SF_IMPORT_FIELD_RESIDENCE_STATUS},
    {"residencestatus", SF_IMPORT_FIELD_RESIDENCE_STATUS},
    {"status", SF_IMPORT_FIELD_RESIDENCE_STATUS},
    {"구분", SF_IMPORT_FIELD_KIND},
    {"유형", SF_IMPORT_FIELD_KIND},
    {"kind", SF_IMPORT_FIELD_KIND},
    {"type", SF_IMPORT_FIELD_KIND},
    {"입국일", SF_IMPORT_FIELD_ARRIVAL_DATE},
    {"입국일자", SF_IMPORT_FIELD_ARRIVAL_DATE},
    {"도착일", SF_IMPORT_FIELD_ARRIVAL_DATE},
    {"arrival", SF_IMPORT_FIELD_ARRIVAL_DATE},
    {"arrivaldate", SF_IMPORT_FIELD_ARRIVAL_DATE},
    {"출국일", SF_IMPORT_FIELD_DEPARTURE_DATE},
    {"출국일자", SF_IMPORT_FIELD_DEPARTURE_DATE},
    {"출국예정일", SF_IMPORT_FIELD_DEPARTURE_DATE},
    {"출발일", SF_IMPORT_FIELD_DEPARTURE_DATE},
    {"departure", SF_IMPORT_FIELD_DEPARTURE_DATE},
    {"departuredate", SF_IMPORT_FIELD_DEPARTURE_DATE},
    {"가구", SF_IMPORT_FIELD_HOUSEHOLD},
    {"가구번호", SF_IMPORT_FIELD_HOUSEHOLD},
    {"세대", SF_IMPORT_FIELD_HOUSEHOLD},
    {"세대번호", SF_IMPORT_FIELD_HOUSEHOLD},
    {"household", SF_IMPORT_FIELD_HOUSEHOLD},
    {"householdref", SF_IMPORT_FIELD_HOUSEHOLD},
    {"householdid", SF_IMPORT_FIELD_HOUSEHOLD},
    {"family", SF_IMPORT_FIELD_HOUSEHOLD},
    {"familyid", SF_IMPORT_FIELD_HOUSEHOLD},
    {"특이사항", SF_IMPORT_FIELD_NEEDS},
    {"취약사항", SF_IMPORT_FIELD_NEEDS},
    {"needs", SF_IMPORT_FIELD_NEEDS},
    {"specialneeds", SF_IMPORT_FIELD_NEEDS},
    {"언어", SF_IMPORT_FIELD_LANGUAGES},
    {"사용언어", SF_IMPORT_FIELD_LANGUAGES},
    {"language", SF_IMPORT_FIELD_LANGUAGES},
    {"languages", SF_IMPORT_FIELD_LANGUAGES},
    {"위도", SF_IMPORT_FIELD_LAT},
    {"lat", SF_IMPORT_FIELD_LAT},
    {"latitude", SF_IMPORT_FIELD_LAT},
    {"경도", SF_IMPORT_FIELD_LON},
    {"lon", SF_IMPORT_FIELD_LON},
    {"lng", SF_IMPORT_FIELD_LON},
    {"long", SF_IMPORT_FIELD_LON},
    {"longitude", SF_IMPORT_FIELD_LON},
    {"위치", SF_IMPORT_FIELD_LOCATION},
    {"좌표", SF_IMPORT_FIELD_LOCATION},
    {"location", SF_IMPORT_FIELD_LOCATION},
    {"coordinates", SF_IMPORT_FIELD_LOCATION},
    {"latlon", SF_IMPORT_FIELD_LOCATION},
    {"latlng", SF_IMPORT_FIELD_LOCATION},
    {"비고", SF_IMPORT_FIELD_NOTES},
    {"메모", SF_IMPORT_FIELD_NOTES},
    {"notes", SF_IMPORT_FIELD_NOTES},
    {"note", SF_IMPORT_FIELD_NOTES},
    {"remarks", SF_IMPORT_FIELD_NOTES},
    {"memo", SF_IMPORT_FIELD_NOTES},
    {"comments", SF_IMPORT_FIELD_NOTES},
    {"관리번호", SF_IMPORT_FIELD_EXTERNAL_REF},
    {"id", SF_IMPORT_FIELD_EXTERNAL_REF},
    {"ref", SF_IMPORT_FIELD_EXTERNAL_REF},
    {"reference", SF_IMPORT_FIELD_EXTERNAL_REF},
    {"externalref", SF_IMPORT_FIELD_EXTERNAL_REF},
    {"externalid", SF_IMPORT_FIELD_EXTERNAL_REF},
    {"국가", SF_IMPORT_FIELD_COUNTRY},
    {"나라", SF_IMPORT_FIELD_COUNTRY},
    {"방문국", SF_IMPORT_FIELD_COUNTRY},
    {"country", SF_IMPORT_FIELD_COUNTRY},
    {"countrycode", SF_IMPORT_FIELD_COUNTRY},
    {"도시", SF_IMPORT_FIELD_PLACE},
    {"장소", SF_IMPORT_FIELD_PLACE},
    {"방문지", SF_IMPORT_FIELD_PLACE},
    {"목적지", SF_IMPORT_FIELD_PLACE},
    {"place", SF_IMPORT_FIELD_PLACE},
    {"city", SF_IMPORT_FIELD_PLACE},
    {"destination", SF_IMPORT_FIELD_PLACE},
    {"지역", SF_IMPORT_FIELD_REGION},
    {"지역코드", SF_IMPORT_FIELD_REGION},
    {"region", SF_IMPORT_FIELD_REGION},
    {"regioncode", SF_IMPORT_FIELD_REGION},
    {"province", SF_IMPORT_FIELD_REGION},
};

/* Words in brackets that make a name column the Latin one: "성명(영문)". */
static const char *const import_latin_hints[] = {"영문",  "영어",   "english",  "latin",
                                                 "roman", "로마자", "passport", "여권"};
/* Words in brackets that make a generic name column the Korean one: "Name (한글)". */
static const char *const import_korean_hints[] = {"한글", "국문", "korean", "한국어"};

/* A folded word of a value and what it means. */
struct import_word {
	const char *key;
	const char *value;
};

/* Kinds of national, folded. */
static const struct import_word import_kinds[] = {
    {"resident", "resident"},   {"거주", "resident"},      {"거주자", "resident"},
    {"체류", "resident"},       {"체류자", "resident"},    {"장기체류", "resident"},
    {"교민", "resident"},       {"영주", "resident"},      {"영주권자", "resident"},
    {"traveller", "traveller"}, {"traveler", "traveller"}, {"여행", "traveller"},
    {"여행자", "traveller"},    {"단기", "traveller"},     {"단기체류", "traveller"},
    {"관광", "traveller"},      {"관광객", "traveller"},   {"출장", "traveller"},
    {"출장자", "traveller"},    {"tourist", "traveller"},  {"visitor", "traveller"},
};

/* The five needs, in the order they are written out. */
static const char *const import_need_names[] = {"child", "elderly", "pregnant", "disability",
                                                "medical"};

/* Words for the needs, folded; value is the index in import_need_names. */
static const struct import_need {
	const char *key;
	unsigned need;
} import_needs[] = {
    {"child", 0},   {"children", 0}, {"kid", 0},        {"kids", 0},      {"infant", 0},
    {"아동", 0},    {"어린이", 0},   {"유아", 0},       {"영유아", 0},    {"소아", 0},
    {"elderly", 1}, {"elder", 1},    {"senior", 1},     {"노인", 1},      {"고령", 1},
    {"고령자", 1},  {"어르신", 1},   {"pregnant", 2},   {"pregnancy", 2}, {"임산부", 2},
    {"임신", 2},    {"임부", 2},     {"disability", 3}, {"disabled", 3},  {"wheelchair", 3},
    {"장애", 3},    {"장애인", 3},   {"휠체어", 3},     {"medical", 4},   {"patient", 4},
    {"chronic", 4}, {"의료", 4},     {"환자", 4},       {"지병", 4},      {"만성질환", 4},
};

/* Language names and codes, folded, and the ISO 639-1 code stored. */
static const struct import_word import_languages[] = {
    {"korean", "ko"},   {"kor", "ko"},          {"한국어", "ko"},     {"한국말", "ko"},
    {"english", "en"},  {"eng", "en"},          {"영어", "en"},       {"turkish", "tr"},
    {"tur", "tr"},      {"터키어", "tr"},       {"튀르키예어", "tr"}, {"ukrainian", "uk"},
    {"ukr", "uk"},      {"우크라이나어", "uk"}, {"russian", "ru"},    {"rus", "ru"},
    {"러시아어", "ru"}, {"thai", "th"},         {"tha", "th"},        {"태국어", "th"},
    {"japanese", "ja"}, {"jpn", "ja"},          {"일본어", "ja"},     {"chinese", "zh"},
    {"zho", "zh"},      {"chi", "zh"},          {"중국어", "zh"},     {"french", "fr"},
    {"fra", "fr"},      {"프랑스어", "fr"},     {"german", "de"},     {"deu", "de"},
    {"독일어", "de"},   {"spanish", "es"},      {"spa", "es"},        {"스페인어", "es"},
    {"arabic", "ar"},   {"ara", "ar"},          {"아랍어", "ar"},     {"vietnamese", "vi"},
    {"vie", "vi"},      {"베트남어", "vi"},
};

/* Cells that mean "nothing here" in the spreadsheets embassies keep. */
static const char *const import_placeholders[] = {"-",   "\u2013", "\u2014",  "n/a",
                                                  "N/A", "없음",   "해당없음"};

/* A growing byte buffer. */
struct import_buf {
	char *p;
	size_t len;
	size_t cap;
};

/* One field's value in the record being read. */
struct import_value {
	size_t off;             /* of a NUL-terminated copy in the record's text */
	size_t len;             /* bytes of the copy, or of the whole cell when too long */
	size_t column;          /* 1-based CSV column, 0 for JSON */
	bool present;           /* a value that is not empty */
	bool too_long;          /* over SF_IMPORT_CELL_MAX bytes; not copied */
	bool seen;              /* JSON: a key gave this field a value */
	bool twice;             /* JSON: two keys for this field */
	bool failed;            /* reported already; later checks keep quiet about it */
	const char *type_error; /* JSON: why the value's type is refused */
};

/* The record being read: the values of the fields, copied. */
struct import_record {
	size_t line;
	size_t extra_cells; /* CSV: non-empty cells past the header's columns */
	size_t header_columns;
	struct import_value v[SF_IMPORT_FIELD_COUNT];
	struct import_buf text;
};

/* The strings of a row, by slot, while it is checked. */
enum import_slot {
	IMPORT_NAME_KO,
	IMPORT_NAME_LATIN,
	IMPORT_NAME_KEY,
	IMPORT_BIRTH_DATE,
	IMPORT_PASSPORT_NO,
	IMPORT_KIND,
	IMPORT_ARRIVAL_DATE,
	IMPORT_DEPARTURE_DATE,
	IMPORT_HOUSEHOLD_REF,
	IMPORT_NEEDS,
	IMPORT_LANGUAGES,
	IMPORT_ADDRESS,
	IMPORT_RESIDENCE_STATUS,
	IMPORT_NOTES,
	IMPORT_EXTERNAL_REF,
	IMPORT_COUNTRY,
	IMPORT_PLACE,
	IMPORT_REGION,
	IMPORT_SLOT_COUNT
};

/* A row being built: offsets of its strings in one buffer. */
struct import_build {
	struct import_buf text;
	size_t off[IMPORT_SLOT_COUNT];
	bool set[IMPORT_SLOT_COUNT];
	size_t phone_off[SF_IMPORT_CONTACTS_MAX];
	size_t nphones;
	size_t email_off[SF_IMPORT_CONTACTS_MAX];
	size_t nemails;
	bool has_point;
	double lat;
	double lon;
	bool kind_given;      /* the kind came from the file, not the default */
	bool languages_given; /* at least one language came from the file */
};

/* Good rows by a key: open addressing, 1 + index into res->rows, 0 = free. */
struct import_index {
	size_t *slots;
	size_t cap;
	size_t count;
};

/*
 * Good rows without a passport, under what the merge matches them on (first
 * phone; else birth date; else first e-mail) and each of their names, so a
 * row with only one of the names of an earlier row is found: open
 * addressing, 1 + index into res->rows (0 = free), with each entry's hash.
 */
struct import_people {
	size_t *slots;
	uint64_t *hashes;
	size_t cap;
	size_t count;
};

/* The state of one import. */
struct importer {
	const struct sf_import_options *opt;
	struct sf_import_result *res;
	size_t max_rows;
	size_t max_errors;
	size_t rows_cap;
	size_t errors_cap;
	size_t warnings_cap;
	int rc;    /* SF_EINVAL, SF_ETOOLONG or SF_ENOMEM once the file is refused */
	bool stop; /* nothing more is read */
	bool row_bad;
	const char *home; /* the mission's country, or NULL */
	bool home_is_kr;
	struct import_record rec;
	struct import_build build;
	struct import_buf tmp;
	struct import_index passports; /* good rows by passport number */
	struct import_people people;   /* good rows without a passport, by who they are */
	char **warned_keys;            /* JSON keys warned about */
	size_t nwarned_keys;
};

/* Makes room for more bytes; returns 0 or SF_ENOMEM. */
static int
import_buf_reserve(struct import_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->cap - b->len > more)
		return 0;
	if (more > SIZE_MAX / 2 - b->len)
		return SF_ENOMEM;
	cap = b->cap < 256 ? 256 : b->cap;
	while (cap - b->len <= more)
		cap *= 2;
	p = realloc(b->p, cap);
	if (p == NULL)
		return SF_ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Appends n bytes and keeps a NUL after them; returns 0 or SF_ENOMEM. */
static int
import_buf_add(struct import_buf *b, const void *s, size_t n)
{
	if (import_buf_reserve(b, n + 1) != 0)
		return SF_ENOMEM;
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

/* Frees a buffer's bytes. */
static void
import_buf_free(struct import_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Tells whether c is ASCII white space. */
static bool
import_is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Narrows s[0..*n) to its part without surrounding ASCII white space. */
static const char *
import_trim(const char *s, size_t *n)
{
	while (*n > 0 && import_is_space((unsigned char)s[0])) {
		s++;
		(*n)--;
	}
	while (*n > 0 && import_is_space((unsigned char)s[*n - 1]))
		(*n)--;
	return s;
}

/*
 * Tells whether valid UTF-8 text is certainly NFC already: nothing from U+0300
 * on (where combining marks and conjoining jamo start) but Hangul syllables.
 */
static bool
import_is_nfc(const char *s, size_t n)
{
	const uint8_t *p = (const uint8_t *)s;
	ucs4_t uc;
	int k;

	for (size_t i = 0; i < n; i += (size_t)k) {
		if (p[i] < 0x80) {
			k = 1;
			continue;
		}
		k = u8_mbtouc(&uc, p + i, n - i);
		if (uc >= 0x300 && !(uc >= 0xac00 && uc <= 0xd7a3))
			return false;
	}
	return true;
}

/*
 * Folds text of ASCII and Hangul syllables only, which NFKC and case folding
 * would change only by lower-casing ASCII; returns false for anything else,
 * left to libunistring. Most headers and values are such text.
 */
static bool
import_fold_simple(const char *s, size_t len, char *out, size_t outsz, char *paren, size_t parensz,
                   size_t *n_out)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = 0, pn = 0, i;
	int depth = 0, k;
	ucs4_t uc;

	for (i = 0; i < len; i += (size_t)k) {
		char *dst = depth > 0 && paren != NULL ? paren : out;
		size_t *dn = dst == paren ? &pn : &n, dsz = dst == paren ? parensz : outsz;

		k = 1;
		uc = p[i];
		if (uc >= 0x80) {
			k = u8_mbtouc(&uc, p + i, len - i);
			if (!(uc >= 0xac00 && uc <= 0xd7a3))
				return false;
		}
		if (uc == '(' || uc == '[' || uc == '{') {
			depth++;
			continue;
		}
		if ((uc == ')' || uc == ']' || uc == '}') && depth > 0) {
			depth--;
			continue;
		}
		if (uc >= 'A' && uc <= 'Z')
			uc += 'a' - 'A';
		else if (!((uc >= 'a' && uc <= 'z') || (uc >= '0' && uc <= '9') || uc >= 0x80))
			continue;
		if (*dn + (size_t)k >= dsz) {
			if (dst == out) {
				out[0] = '\0';
				*n_out = 0;
				return true;
			}
			continue;
		}
		if (k == 1)
			dst[(*dn)++] = (char)uc;
		else {
			memcpy(dst + *dn, p + i, (size_t)k);
			*dn += (size_t)k;
		}
	}
	out[n] = '\0';
	if (paren != NULL)
		paren[pn] = '\0';
	*n_out = n;
	return true;
}

/*
 * Folds s for comparison: NFKC, case folded, letters and digits only. Text in
 * brackets goes to paren when paren is not NULL (else it is kept in out).
 * Returns the length of out; 0 (and out "") when nothing is left, s is not
 * UTF-8 or the result would not fit.
 */
static size_t
import_fold(const char *s, size_t len, char *out, size_t outsz, char *paren, size_t parensz)
{
	uint8_t fbuf[IMPORT_FOLD_SIZE * 4], *f;
	size_t flen = sizeof fbuf, n = 0, pn = 0, i;
	int depth = 0, k;
	ucs4_t uc;

	out[0] = '\0';
	if (paren != NULL)
		paren[0] = '\0';
	if (len == 0 || len > IMPORT_FOLD_SIZE || u8_check((const uint8_t *)s, len) != NULL)
		return 0;
	if (import_fold_simple(s, len, out, outsz, paren, parensz, &n))
		return n;
	f = u8_casefold((const uint8_t *)s, len, NULL, UNINORM_NFKC, fbuf, &flen);
	if (f == NULL)
		return 0;
	for (i = 0; i < flen; i += (size_t)k) {
		k = u8_mbtouc(&uc, f + i, flen - i);
		if (uc == '(' || uc == '[' || uc == '{') {
			depth++;
			continue;
		}
		if ((uc == ')' || uc == ']' || uc == '}') && depth > 0) {
			depth--;
			continue;
		}
		if (!uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_L | UC_CATEGORY_MASK_Nd))
			continue;
		if (depth > 0 && paren != NULL) {
			if (pn + (size_t)k < parensz) {
				memcpy(paren + pn, f + i, (size_t)k);
				pn += (size_t)k;
			}
		} else {
			if (n + (size_t)k >= outsz) {
				n = 0;
				break;
			}
			memcpy(out + n, f + i, (size_t)k);
			n += (size_t)k;
		}
	}
	if (f != fbuf)
		free(f);
	out[n] = '\0';
	if (paren != NULL)
		paren[pn] = '\0';
	return n;
}

/* Tells whether folded bracket text holds one of the words of a hint list. */
static bool
import_hint(const char *paren, const char *const *hints, size_t nhints, const char *exact1,
            const char *exact2)
{
	if (paren[0] == '\0')
		return false;
	if (strcmp(paren, exact1) == 0 || strcmp(paren, exact2) == 0)
		return true;
	for (size_t i = 0; i < nhints; i++) {
		if (strstr(paren, hints[i]) != NULL)
			return true;
	}
	return false;
}

/* Recognises a header of len bytes; returns 0 and *out, or SF_ENOTFOUND. */
static int
import_header_lookup(const char *s, size_t len, enum sf_import_field *out)
{
	char key[IMPORT_FOLD_SIZE], paren[IMPORT_FOLD_SIZE];
	enum sf_import_field f;
	size_t i;

	s = import_trim(s, &len);
	if (import_fold(s, len, key, sizeof key, paren, sizeof paren) == 0)
		return SF_ENOTFOUND;
	for (i = 0; i < NITEMS(import_headers); i++) {
		if (strcmp(import_headers[i].key, key) == 0)
			break;
	}
	if (i == NITEMS(import_headers))
		return SF_ENOTFOUND;
	f = import_headers[i].field;
	if ((f == SF_IMPORT_FIELD_NAME_KO || f == SF_IMPORT_FIELD_NAME) &&
	    import_hint(paren, import_latin_hints, NITEMS(import_latin_hints), "en", "eng"))
		f = SF_IMPORT_FIELD_NAME_LATIN;
	else if (f == SF_IMPORT_FIELD_NAME &&
	         import_hint(paren, import_korean_hints, NITEMS(import_korean_hints), "ko", "kr"))
		f = SF_IMPORT_FIELD_NAME_KO;
	*out = f;
	return 0;
}

/* Returns the canonical name of a field. */
const char *
sf_import_field_name(enum sf_import_field field)
{
	if ((unsigned)field >= SF_IMPORT_FIELD_COUNT)
		return NULL;
	return import_field_names[field];
}

/* Reads a canonical field name. */
int
sf_import_field_lookup(const char *name, enum sf_import_field *out)
{
	if (name == NULL || out == NULL)
		return SF_ENOTFOUND;
	for (size_t i = 0; i < SF_IMPORT_FIELD_COUNT; i++) {
		if (strcasecmp(name, import_field_names[i]) == 0) {
			*out = (enum sf_import_field)i;
			return 0;
		}
	}
	if (strcasecmp(name, "household_ref") == 0)
		*out = SF_IMPORT_FIELD_HOUSEHOLD;
	else if (strcasecmp(name, "phones") == 0)
		*out = SF_IMPORT_FIELD_PHONE;
	else if (strcasecmp(name, "emails") == 0)
		*out = SF_IMPORT_FIELD_EMAIL;
	else
		return SF_ENOTFOUND;
	return 0;
}

/* Tells which field a header stands for. */
int
sf_import_header_field(const char *header, enum sf_import_field *out)
{
	if (header == NULL || out == NULL)
		return SF_ENOTFOUND;
	return import_header_lookup(header, strlen(header), out);
}

/* Sets options to their defaults. */
void
sf_import_options_init(struct sf_import_options *opt)
{
	if (opt == NULL)
		return;
	memset(opt, 0, sizeof *opt);
	opt->format = SF_IMPORT_AUTO;
	opt->date_format = SF_DATE_ISO;
	opt->korean_mobile_fallback = true;
}

/* Appends a problem to the errors or the warnings, or counts it when the list is full. */
static void __attribute__((format(printf, 7, 0)))
import_vproblem(struct importer *im, bool warning, bool always, size_t line, size_t column,
                const char *field, const char *fmt, va_list ap)
{
	struct sf_import_result *res = im->res;
	struct sf_import_error **list = warning ? &res->warnings : &res->errors;
	size_t *n = warning ? &res->nwarnings : &res->nerrors;
	size_t *cap = warning ? &im->warnings_cap : &im->errors_cap;
	size_t max = warning ? SF_IMPORT_WARNINGS_MAX : im->max_errors;
	struct sf_import_error *e;

	if (*n >= max && !always) {
		if (warning)
			res->warnings_dropped++;
		else
			res->errors_dropped++;
		return;
	}
	if (*n == *cap) {
		size_t ncap = *cap == 0 ? 16 : *cap * 2;

		e = realloc(*list, ncap * sizeof **list);
		if (e == NULL) {
			im->rc = SF_ENOMEM;
			im->stop = true;
			return;
		}
		*list = e;
		*cap = ncap;
	}
	e = &(*list)[(*n)++];
	e->line = line;
	e->column = column;
	e->field = field;
	vsnprintf(e->reason, sizeof e->reason, fmt, ap);
	/* A reason cut short must not end inside a character. */
	{
		const uint8_t *bad = u8_check((const uint8_t *)e->reason, strlen(e->reason));

		if (bad != NULL)
			e->reason[bad - (const uint8_t *)e->reason] = '\0';
	}
}

/* Records a problem with the row being read; the row is then not emitted. */
static void __attribute__((format(printf, 5, 6)))
import_error(struct importer *im, size_t line, size_t column, const char *field, const char *fmt,
             ...)
{
	va_list ap;

	im->row_bad = true;
	va_start(ap, fmt);
	import_vproblem(im, false, false, line, column, field, fmt, ap);
	va_end(ap);
}

/* Records why the file as a whole is refused; nothing more is read. */
static void __attribute__((format(printf, 5, 6)))
import_file_error(struct importer *im, int rc, size_t line, size_t column, const char *fmt, ...)
{
	va_list ap;

	im->res->file_error = true;
	if (im->rc == 0)
		im->rc = rc;
	im->stop = true;
	va_start(ap, fmt);
	import_vproblem(im, false, true, line, column, "file", fmt, ap);
	va_end(ap);
}

/* Records something staff should know that does not stop a row. */
static void __attribute__((format(printf, 5, 6)))
import_warning(struct importer *im, size_t line, size_t column, const char *field, const char *fmt,
               ...)
{
	va_list ap;

	va_start(ap, fmt);
	import_vproblem(im, true, false, line, column, field, fmt, ap);
	va_end(ap);
}

/*
 * Copies a validator's message without its "what: " prefix and without any
 * quoted piece of the value longer than one character ("domain 'x.y' has no
 * dot" -> "domain has no dot"): reasons must not carry personal data.
 */
static void
import_detail(const char *msg, char *out, size_t outsz)
{
	const char *p = msg, *colon = strchr(msg, ':'), *q;
	size_t n = 0;

	if (colon != NULL && colon - msg <= 12 && memchr(msg, ' ', (size_t)(colon - msg)) == NULL)
		p = colon + 1;
	while (*p == ' ')
		p++;
	while (*p != '\0' && n + 1 < outsz) {
		if (*p == '\'' && (q = strchr(p + 1, '\'')) != NULL &&
		    u8_mbsnlen((const uint8_t *)p + 1, (size_t)(q - p - 1)) > 1) {
			p = q + 1;
			if (n > 0 && out[n - 1] == ' ' && *p == ' ')
				p++;
			continue;
		}
		out[n++] = *p++;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* Returns the value of a field of the record, or NULL when absent. */
static const char *
import_val(struct importer *im, enum sf_import_field f)
{
	const struct import_value *v = &im->rec.v[f];

	return v->present ? im->rec.text.p + v->off : NULL;
}

/* Reports a problem with a field's value, at its column. */
static void __attribute__((format(printf, 3, 4)))
import_field_error(struct importer *im, enum sf_import_field f, const char *fmt, ...)
{
	struct import_value *v = &im->rec.v[f];
	va_list ap;

	v->failed = true;
	im->row_bad = true;
	va_start(ap, fmt);
	import_vproblem(im, false, false, im->rec.line, v->column, import_field_names[f], fmt, ap);
	va_end(ap);
}

/* Stores a string of the row being built; returns 0 or SF_ENOMEM. */
static int
import_build_set(struct importer *im, enum import_slot slot, const char *s, size_t n)
{
	struct import_build *b = &im->build;

	b->off[slot] = b->text.len;
	b->set[slot] = true;
	if (import_buf_add(&b->text, s, n) != 0 || import_buf_reserve(&b->text, 1) != 0) {
		im->rc = SF_ENOMEM;
		im->stop = true;
		return SF_ENOMEM;
	}
	b->text.len++; /* keep the NUL */
	return 0;
}

/* Stores a contact of the row being built in offs; returns 0 or SF_ENOMEM. */
static int
import_build_contact(struct importer *im, size_t *offs, size_t *count, const char *s)
{
	struct import_build *b = &im->build;

	for (size_t i = 0; i < *count; i++) {
		if (strcmp(b->text.p + offs[i], s) == 0)
			return 0;
	}
	offs[*count] = b->text.len;
	if (import_buf_add(&b->text, s, strlen(s) + 1) != 0) {
		im->rc = SF_ENOMEM;
		im->stop = true;
		return SF_ENOMEM;
	}
	(*count)++;
	return 0;
}

/*
 * Tells whether s holds a letter of the script of the letter probe ('a' for
 * Latin, U+AC00 for Hangul); uc_script returns entries of one static table.
 */
static bool
import_has_script(const char *s, ucs4_t probe)
{
	const uc_script_t *want = uc_script(probe);
	const uint8_t *p = (const uint8_t *)s;
	size_t len = strlen(s);
	ucs4_t uc;
	int k;

	for (size_t i = 0; i < len; i += (size_t)k) {
		k = u8_mbtouc(&uc, p + i, len - i);
		if (uc_script(uc) == want && uc_is_alpha(uc))
			return true;
	}
	return false;
}

/* Normalises one name value; returns 0 and the name in out, or -1 after reporting. */
static int
import_name_one(struct importer *im, enum sf_import_field f, char out[SF_NAME_SIZE])
{
	char msg[SF_IMPORT_REASON_SIZE], detail[SF_IMPORT_REASON_SIZE];

	if (sf_name_normalize(import_val(im, f), out, SF_NAME_SIZE, msg, sizeof msg) != 0) {
		import_detail(msg, detail, sizeof detail);
		import_field_error(im, f, "%s: %s", import_field_names[f], detail);
		return -1;
	}
	return 0;
}

/* Checks the names of the row and builds its search key. */
static void
import_names(struct importer *im)
{
	char ko[SF_NAME_SIZE], la[SF_NAME_SIZE], name[SF_NAME_SIZE];
	char key_ko[SF_NAME_KEY_SIZE], key_la[SF_NAME_KEY_SIZE];
	bool has_ko = false, has_la = false;
	struct import_value *v = im->rec.v;
	bool hangul, latin;

	if (v[SF_IMPORT_FIELD_NAME_KO].present &&
	    import_name_one(im, SF_IMPORT_FIELD_NAME_KO, ko) == 0) {
		hangul = import_has_script(ko, 0xac00);
		latin = import_has_script(ko, 'a');
		if (hangul && !latin)
			has_ko = true;
		else if (latin && !hangul)
			import_field_error(
			    im, SF_IMPORT_FIELD_NAME_KO,
			    "name_ko: written in Latin letters; put it in name_latin");
		else if (latin)
			import_field_error(im, SF_IMPORT_FIELD_NAME_KO,
			                   "name_ko: mixes Hangul and Latin letters; put the Latin "
			                   "name in name_latin");
		else
			import_field_error(im, SF_IMPORT_FIELD_NAME_KO,
			                   "name_ko: no Hangul letters");
	}
	if (v[SF_IMPORT_FIELD_NAME_LATIN].present &&
	    import_name_one(im, SF_IMPORT_FIELD_NAME_LATIN, la) == 0) {
		enum sf_script script = sf_name_script(la);

		if (script == SF_SCRIPT_LATIN)
			has_la = true;
		else if (script == SF_SCRIPT_HANGUL)
			import_field_error(im, SF_IMPORT_FIELD_NAME_LATIN,
			                   "name_latin: written in Hangul; put it in name_ko");
		else
			import_field_error(im, SF_IMPORT_FIELD_NAME_LATIN,
			                   "name_latin: not all in Latin letters");
	}
	if (v[SF_IMPORT_FIELD_NAME].present &&
	    import_name_one(im, SF_IMPORT_FIELD_NAME, name) == 0) {
		hangul = import_has_script(name, 0xac00);
		latin = import_has_script(name, 'a');
		if (hangul && !latin) {
			if (v[SF_IMPORT_FIELD_NAME_KO].present)
				import_field_error(im, SF_IMPORT_FIELD_NAME,
				                   "name: a Korean name, and name_ko is given too");
			else {
				memcpy(ko, name, sizeof ko);
				has_ko = true;
			}
		} else if (latin && !hangul && sf_name_script(name) == SF_SCRIPT_LATIN) {
			if (v[SF_IMPORT_FIELD_NAME_LATIN].present)
				import_field_error(
				    im, SF_IMPORT_FIELD_NAME,
				    "name: a Latin name, and name_latin is given too");
			else {
				memcpy(la, name, sizeof la);
				has_la = true;
			}
		} else if (latin && hangul) {
			import_field_error(
			    im, SF_IMPORT_FIELD_NAME,
			    "name: mixes Hangul and Latin letters; use a name_ko and a "
			    "name_latin column");
		} else {
			import_field_error(im, SF_IMPORT_FIELD_NAME,
			                   "name: neither Hangul nor Latin letters");
		}
	}
	if (!has_ko && !has_la) {
		if (!v[SF_IMPORT_FIELD_NAME_KO].failed && !v[SF_IMPORT_FIELD_NAME_LATIN].failed &&
		    !v[SF_IMPORT_FIELD_NAME].failed)
			import_error(im, im->rec.line,
			             v[SF_IMPORT_FIELD_NAME_KO].column != 0
			                 ? v[SF_IMPORT_FIELD_NAME_KO].column
			                 : (v[SF_IMPORT_FIELD_NAME].column != 0
			                        ? v[SF_IMPORT_FIELD_NAME].column
			                        : v[SF_IMPORT_FIELD_NAME_LATIN].column),
			             "name", "name: missing; a row needs name_ko or name_latin");
		return;
	}
	key_ko[0] = key_la[0] = '\0';
	if (has_ko && sf_name_search_key(ko, key_ko, sizeof key_ko) != 0) {
		import_error(im, im->rec.line, v[SF_IMPORT_FIELD_NAME_KO].column, "name_ko",
		             "name_ko: no letters to search on");
		return;
	}
	if (has_la && sf_name_search_key(la, key_la, sizeof key_la) != 0) {
		import_error(im, im->rec.line, v[SF_IMPORT_FIELD_NAME_LATIN].column, "name_latin",
		             "name_latin: no letters to search on");
		return;
	}
	if (has_ko && import_build_set(im, IMPORT_NAME_KO, ko, strlen(ko)) != 0)
		return;
	if (has_la && import_build_set(im, IMPORT_NAME_LATIN, la, strlen(la)) != 0)
		return;
	{
		char joined[2 * SF_NAME_KEY_SIZE + 1];
		size_t lk = strlen(key_ko), ll = strlen(key_la), n = 0;

		memcpy(joined, key_ko, lk);
		n = lk;
		if (lk > 0 && ll > 0)
			joined[n++] = ' ';
		memcpy(joined + n, key_la, ll);
		n += ll;
		import_build_set(im, IMPORT_NAME_KEY, joined, n);
	}
}

/*
 * Reads a date value in the declared format or, failing that, ISO 8601.
 * Returns 1 and *out when read, 0 when absent, -1 after reporting. Range
 * messages are rewritten without the numbers: a birth date is personal.
 */
static int
import_date(struct importer *im, enum sf_import_field f, struct sf_date *out)
{
	const char *s = import_val(im, f), *name = import_field_names[f];
	char msg[SF_IMPORT_REASON_SIZE], iso_msg[SF_IMPORT_REASON_SIZE];
	enum sf_date_format fmt = im->opt->date_format;
	int rc, iso_rc = SF_EINVAL;
	const char *hint;

	if (s == NULL)
		return 0;
	rc = sf_date_parse(s, fmt, out, msg, sizeof msg);
	if (rc == 0)
		return 1;
	if (fmt != SF_DATE_ISO) {
		iso_rc = sf_date_parse(s, SF_DATE_ISO, out, iso_msg, sizeof iso_msg);
		if (iso_rc == 0)
			return 1;
		if (iso_rc == SF_ERANGE) {
			rc = iso_rc;
			memcpy(msg, iso_msg, sizeof msg);
		}
	}
	if (rc != SF_ERANGE) {
		char detail[SF_IMPORT_REASON_SIZE];

		import_detail(msg, detail, sizeof detail);
		import_field_error(im, f, "%s: %s", name, detail);
		return -1;
	}
	hint = strstr(msg, "; ");
	if (strstr(msg, "year") != NULL)
		import_field_error(im, f, "%s: year out of range (%d to %d)", name,
		                   SF_DATE_YEAR_MIN, SF_DATE_YEAR_MAX);
	else if (strstr(msg, "month") != NULL)
		import_field_error(im, f, "%s: month out of range (1 to 12)%s", name,
		                   hint != NULL ? hint : "");
	else
		import_field_error(im, f, "%s: no such day in that month", name);
	return -1;
}

/* Writes a date into a slot. */
static void
import_date_store(struct importer *im, enum import_slot slot, const struct sf_date *d)
{
	char iso[11];

	if (sf_date_format_iso(d, iso) == 0)
		import_build_set(im, slot, iso, 10);
}

/* Checks the passport number: upper case, no spaces or dashes, 5 to 20 letters and digits. */
static void
import_passport(struct importer *im)
{
	const char *s = import_val(im, SF_IMPORT_FIELD_PASSPORT_NO);
	char pp[SF_PASSPORT_MAX + 1], why[96];

	if (s == NULL)
		return;
	if (sf_passport_normalize(s, pp, why, sizeof why) != 0) {
		import_field_error(im, SF_IMPORT_FIELD_PASSPORT_NO, "%s", why);
		return;
	}
	import_build_set(im, IMPORT_PASSPORT_NO, pp, strlen(pp));
}

int
sf_passport_normalize(const char *in, char out[SF_PASSPORT_MAX + 1], char *err, size_t errsz)
{
	size_t n = 0;

	for (const char *s = in; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == ' ' || c == '-' || c == '\t')
			continue;
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "passport_no: only letters A to Z and digits");
		if (n == SF_PASSPORT_MAX)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "passport_no: too long: more than %d letters and digits",
			                    SF_PASSPORT_MAX);
		out[n++] = (char)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
	}
	if (n < SF_PASSPORT_MIN)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "passport_no: too short: %zu letters and digits, need %d to %d", n,
		                    SF_PASSPORT_MIN, SF_PASSPORT_MAX);
	out[n] = '\0';
	return 0;
}

/* Hashes a string (FNV-1a). */
static uint64_t
import_hash(const char *s)
{
	uint64_t h = 14695981039346656037u;

	for (; *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211u;
	}
	return h;
}

/* Returns the line of an earlier good row with this passport number, or 0. */
static size_t
import_passport_seen(struct importer *im, const char *pp)
{
	size_t i, idx;

	if (im->passports.cap == 0)
		return 0;
	for (i = (size_t)import_hash(pp) & (im->passports.cap - 1); im->passports.slots[i] != 0;
	     i = (i + 1) & (im->passports.cap - 1)) {
		idx = im->passports.slots[i] - 1;
		if (strcmp(im->res->rows[idx].passport_no, pp) == 0)
			return im->res->rows[idx].line;
	}
	return 0;
}

/* The hash of a row's key in an index. */
typedef uint64_t (*import_row_hash)(const struct sf_import_row *row);

/* Adds good row idx to an index, growing it; returns 0 or SF_ENOMEM. */
static int
import_index_add(struct importer *im, struct import_index *x, import_row_hash hash, size_t idx)
{
	size_t i;

	if (x->count * 2 >= x->cap) {
		size_t ncap = x->cap == 0 ? 1024 : x->cap * 2;
		size_t *slots = calloc(ncap, sizeof *slots);

		if (slots == NULL)
			return SF_ENOMEM;
		for (size_t j = 0; j < x->cap; j++) {
			size_t old = x->slots[j];

			if (old == 0)
				continue;
			for (i = (size_t)hash(&im->res->rows[old - 1]) & (ncap - 1); slots[i] != 0;
			     i = (i + 1) & (ncap - 1))
				;
			slots[i] = old;
		}
		free(x->slots);
		x->slots = slots;
		x->cap = ncap;
	}
	for (i = (size_t)hash(&im->res->rows[idx]) & (x->cap - 1); x->slots[i] != 0;
	     i = (i + 1) & (x->cap - 1))
		;
	x->slots[i] = idx + 1;
	x->count++;
	return 0;
}

static uint64_t
import_passport_hash(const struct sf_import_row *row)
{
	return import_hash(row->passport_no);
}

/*
 * What a row without a passport is matched on, as the merge does: its first
 * phone; else its birth date; else its first e-mail; else nothing (the row
 * cannot be told from another person of the same name).
 */
enum import_person_by { IMPORT_BY_NONE, IMPORT_BY_PHONE, IMPORT_BY_BIRTH, IMPORT_BY_EMAIL };

/* A row's person, as the in-file check sees it. */
struct import_person {
	const char *phone;     /* first phone, or NULL */
	const char *birth;     /* birth date, or NULL */
	const char *email;     /* first e-mail, or NULL */
	const char *name_key;  /* names' search keys, space separated */
	const char *household; /* the file's household key, or NULL */
};

static enum import_person_by
import_person_by(const struct import_person *p, const char **key)
{
	if (p->phone != NULL) {
		*key = p->phone;
		return IMPORT_BY_PHONE;
	}
	if (p->birth != NULL) {
		*key = p->birth;
		return IMPORT_BY_BIRTH;
	}
	if (p->email != NULL) {
		*key = p->email;
		return IMPORT_BY_EMAIL;
	}
	*key = "";
	return IMPORT_BY_NONE;
}

/* Hashes what a person is matched on with one of their names (len bytes of name). */
static uint64_t
import_person_hash(enum import_person_by by, const char *key, const char *name, size_t len)
{
	uint64_t h = import_hash(key) * 31 + (uint64_t)by;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211u;
	}
	return h;
}

/* Tells whether the space-separated key has the name of len bytes. */
static bool
import_key_has(const char *key, const char *name, size_t len)
{
	while (*key != '\0') {
		size_t n = strcspn(key, " ");

		if (n == len && memcmp(key, name, len) == 0)
			return true;
		key += n;
		key += *key == ' ';
	}
	return false;
}

/* Tells whether every name of key a is in key b. */
static bool
import_key_within(const char *a, const char *b)
{
	while (*a != '\0') {
		size_t n = strcspn(a, " ");

		if (n > 0 && !import_key_has(b, a, n))
			return false;
		a += n;
		a += *a == ' ';
	}
	return true;
}

/*
 * What an earlier row is to p, by the merge's rule: someone else, maybe the
 * same person (not believed without more: a birth date only p has, another
 * household), or the same person.
 */
enum import_likeness { IMPORT_OTHER, IMPORT_MAYBE, IMPORT_SAME };

static enum import_likeness
import_person_same(const struct sf_import_row *row, const struct import_person *p)
{
	const char *key, *rkey;
	struct import_person r = {.phone = row->nphones > 0 ? row->phones[0] : NULL,
	                          .birth = row->birth_date,
	                          .email = row->nemails > 0 ? row->emails[0] : NULL,
	                          .name_key = row->name_key};
	enum import_person_by by = import_person_by(p, &key);
	bool known = false;

	if (import_person_by(&r, &rkey) != by || strcmp(key, rkey) != 0)
		return IMPORT_OTHER;
	/* One of the two names is enough when the other is missing from a row. */
	if (!import_key_within(p->name_key, row->name_key) &&
	    !import_key_within(row->name_key, p->name_key))
		return IMPORT_OTHER;
	switch (by) {
	case IMPORT_BY_PHONE:
		/*
		 * A birth date missing from the later row is no contradiction; one
		 * the earlier row lacks may be a son's after his father's row.
		 */
		if (p->birth == NULL)
			return IMPORT_SAME;
		if (row->birth_date == NULL)
			return IMPORT_MAYBE;
		return strcmp(p->birth, row->birth_date) == 0 ? IMPORT_SAME : IMPORT_OTHER;
	case IMPORT_BY_BIRTH:
		/* Another e-mail is another person; none on either row is not. */
		if (p->email != NULL && row->nemails > 0) {
			for (size_t i = 0; i < row->nemails && !known; i++)
				known = strcmp(row->emails[i], p->email) == 0;
			return known ? IMPORT_SAME : IMPORT_OTHER;
		}
		/* Another household may be another child of one name and birth date. */
		if (p->household != NULL && row->household_ref != NULL &&
		    strcmp(p->household, row->household_ref) != 0)
			return IMPORT_MAYBE;
		return IMPORT_SAME;
	default:
		return IMPORT_SAME;
	}
}

/* The earlier good rows (no passport) a row may be the person of. */
struct import_seen {
	size_t same, other_same; /* the first two lines of the same person, or 0 */
	size_t maybe;            /* the first line maybe of the same person, or 0 */
};

/* Notes line in seen as a row of kind like. */
static void
import_seen_add(struct import_seen *seen, enum import_likeness like, size_t line)
{
	if (like == IMPORT_MAYBE && (seen->maybe == 0 || line < seen->maybe))
		seen->maybe = line;
	if (like != IMPORT_SAME || line == seen->same || line == seen->other_same)
		return;
	if (seen->same == 0 || line < seen->same) {
		seen->other_same = seen->same;
		seen->same = line;
	} else if (seen->other_same == 0 || line < seen->other_same) {
		seen->other_same = line;
	}
}

/* Finds the earlier good rows (no passport) that may be p's person. */
static void
import_person_seen(struct importer *im, const struct import_person *p, struct import_seen *seen)
{
	const char *key, *name = p->name_key;
	enum import_person_by by = import_person_by(p, &key);

	memset(seen, 0, sizeof *seen);
	if (im->people.cap == 0 || by == IMPORT_BY_NONE)
		return;
	while (*name != '\0') {
		size_t n = strcspn(name, " ");
		uint64_t h = import_person_hash(by, key, name, n);

		for (size_t i = (size_t)h & (im->people.cap - 1); im->people.slots[i] != 0;
		     i = (i + 1) & (im->people.cap - 1)) {
			const struct sf_import_row *row = &im->res->rows[im->people.slots[i] - 1];

			if (im->people.hashes[i] == h)
				import_seen_add(seen, import_person_same(row, p), row->line);
		}
		name += n;
		name += *name == ' ';
	}
}

/* Adds good row idx (no passport) to the people, under each of its names. */
static int
import_person_add(struct importer *im, size_t idx)
{
	const struct sf_import_row *row = &im->res->rows[idx];
	struct import_people *x = &im->people;
	struct import_person p = {.phone = row->nphones > 0 ? row->phones[0] : NULL,
	                          .birth = row->birth_date,
	                          .email = row->nemails > 0 ? row->emails[0] : NULL,
	                          .name_key = row->name_key};
	const char *key, *name = row->name_key;
	enum import_person_by by = import_person_by(&p, &key);

	if (by == IMPORT_BY_NONE || name == NULL)
		return 0;
	while (*name != '\0') {
		size_t n = strcspn(name, " "), i;
		uint64_t h = import_person_hash(by, key, name, n);

		if ((x->count + 1) * 2 >= x->cap) {
			size_t ncap = x->cap == 0 ? 1024 : x->cap * 2;
			size_t *slots = calloc(ncap, sizeof *slots);
			uint64_t *hashes = calloc(ncap, sizeof *hashes);

			if (slots == NULL || hashes == NULL) {
				free(slots);
				free(hashes);
				return SF_ENOMEM;
			}
			for (size_t j = 0; j < x->cap; j++) {
				if (x->slots[j] == 0)
					continue;
				for (i = (size_t)x->hashes[j] & (ncap - 1); slots[i] != 0;
				     i = (i + 1) & (ncap - 1))
					;
				slots[i] = x->slots[j];
				hashes[i] = x->hashes[j];
			}
			free(x->slots);
			free(x->hashes);
			x->slots = slots;
			x->hashes = hashes;
			x->cap = ncap;
		}
		for (i = (size_t)h & (x->cap - 1); x->slots[i] != 0; i = (i + 1) & (x->cap - 1))
			;
		x->slots[i] = idx + 1;
		x->hashes[i] = h;
		x->count++;
		name += n;
		name += *name == ' ';
	}
	return 0;
}

/*
 * The length of a Unicode dash at s (U+2010 to U+2015, U+2212, U+FF0D), else
 * 0: word processors and phones put them in for '-' (U+2011, the
 * non-breaking hyphen, keeps a number on one line), and the phone parser
 * reads them as '-'.
 */
static size_t
import_unicode_dash(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	if (u[0] == 0xe2 && u[1] == 0x80 && u[2] >= 0x90 && u[2] <= 0x95)
		return 3;
	if (u[0] == 0xe2 && u[1] == 0x88 && u[2] == 0x92)
		return 3;
	if (u[0] == 0xef && u[1] == 0xbc && u[2] == 0x8d)
		return 3;
	return 0;
}

/* Tells whether a token is a Korean mobile in national form: 010 and 8 digits. */
static bool
import_is_korean_mobile(const char *s)
{
	char d[12];
	size_t n = 0, dash;

	for (; *s != '\0'; s++) {
		if (*s >= '0' && *s <= '9') {
			if (n == sizeof d - 1)
				return false;
			d[n++] = *s;
		} else if ((dash = import_unicode_dash(s)) > 0) {
			s += dash - 1;
		} else if (!strchr(" -.()", *s)) {
			return false;
		}
	}
	return n == 11 && memcmp(d, "010", 3) == 0;
}

/*
 * Splits a cell into tokens at any of seps (and line ends), trimmed, empty ones
 * and "/" alone skipped; writes the tokens' offsets and lengths. Returns the
 * number of tokens, which may exceed max (only max are written).
 */
static size_t
import_split(const char *s, const char *seps, bool at_space, size_t *off, size_t *len, size_t max)
{
	size_t n = 0, i = 0, start;

	while (s[i] != '\0') {
		size_t tl;
		const char *t;

		start = i;
		while (s[i] != '\0' && strchr(seps, s[i]) == NULL && s[i] != '\n' && s[i] != '\r' &&
		       !(at_space && import_is_space((unsigned char)s[i])))
			i++;
		tl = i - start;
		t = import_trim(s + start, &tl);
		if (tl > 0 && !(tl == 1 && t[0] == '/')) {
			if (n < max) {
				off[n] = (size_t)(t - s);
				len[n] = tl;
			}
			n++;
		}
		if (s[i] != '\0')
			i++;
	}
	return n;
}

/* Normalises one number; a Korean mobile the mission's country does not take is read as Korean. */
static int
import_phone_one(struct importer *im, const char *tok, char *e164, char *msg, size_t msgsz)
{
	int rc = sf_phone_normalize(tok, im->home, e164, SF_PHONE_E164_SIZE, msg, msgsz);

	if (rc != 0 && im->opt->korean_mobile_fallback && !im->home_is_kr &&
	    import_is_korean_mobile(tok))
		rc = sf_phone_normalize(tok, "KR", e164, SF_PHONE_E164_SIZE, NULL, 0);
	return rc;
}

/*
 * Tells whether the text before the one "/" of t is a bare area or trunk
 * code ("030", "0312", "+49 30"): digits, spaces and brackets only, after
 * a '+', and fewer digits than any subscriber number. "02-123-4567/8" is
 * shorthand for two numbers, 02-123-4567 and 02-123-4568, not one number.
 */
static bool
import_phone_area_before_slash(const char *t, size_t len)
{
	const char *slash = memchr(t, '/', len);
	size_t digits = 0, i = 0;
	bool plus = false;

	if (slash == NULL || memchr(slash + 1, '/', len - (size_t)(slash + 1 - t)) != NULL)
		return false;
	while (t + i < slash && t[i] == ' ')
		i++;
	if (t + i < slash && t[i] == '+') {
		plus = true;
		i++;
	}
	for (; t + i < slash; i++) {
		if (t[i] >= '0' && t[i] <= '9')
			digits++;
		else if (t[i] != ' ' && t[i] != '(' && t[i] != ')')
			return false;
	}
	/* After a '+', the country code's one to three digits too. */
	return digits >= 2 && digits <= (plus ? 8u : 5u);
}

/*
 * Tells whether the "/" in t (len bytes) is part of one number, as in
 * "030/1234567" (area code / subscriber): so when the part before it is a
 * bare area code and the parts are not numbers on their own but the whole
 * is. "010-1234-5678 / 010-9876-5432" is two.
 */
static bool
import_phone_slash_is_one(struct importer *im, const char *t, size_t len)
{
	char whole[SF_IMPORT_CELL_MAX + 1], part[SF_IMPORT_CELL_MAX + 1], e164[SF_PHONE_E164_SIZE];
	size_t off[SF_IMPORT_CONTACTS_MAX], plen[SF_IMPORT_CONTACTS_MAX], n;
	bool all_numbers = true;

	if (!import_phone_area_before_slash(t, len))
		return false;
	memcpy(whole, t, len);
	whole[len] = '\0';
	n = import_split(whole, "/", false, off, plen, SF_IMPORT_CONTACTS_MAX);
	for (size_t i = 0; i < n && i < SF_IMPORT_CONTACTS_MAX && all_numbers; i++) {
		memcpy(part, whole + off[i], plen[i]);
		part[plen[i]] = '\0';
		all_numbers = import_phone_one(im, part, e164, NULL, 0) == 0;
	}
	if (all_numbers && n <= SF_IMPORT_CONTACTS_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (whole[i] == '/')
			whole[i] = ' ';
	}
	return import_phone_one(im, whole, e164, NULL, 0) == 0;
}

/* Checks the phone numbers of a cell: E.164 each, first is priority 1. */
static void
import_phones(struct importer *im)
{
	const char *s = import_val(im, SF_IMPORT_FIELD_PHONE);
	size_t goff[SF_IMPORT_CONTACTS_MAX], glen[SF_IMPORT_CONTACTS_MAX], ng;
	size_t off[SF_IMPORT_CONTACTS_MAX], len[SF_IMPORT_CONTACTS_MAX], n = 0;
	char work[SF_IMPORT_CELL_MAX + 1], tok[SF_IMPORT_CELL_MAX + 1], e164[SF_PHONE_E164_SIZE];
	char msg[SF_IMPORT_REASON_SIZE], detail[SF_IMPORT_REASON_SIZE];
	size_t cell;

	if (s == NULL)
		return;
	cell = strlen(s);
	if (cell > SF_IMPORT_CELL_MAX)
		cell = SF_IMPORT_CELL_MAX;
	memcpy(work, s, cell);
	work[cell] = '\0';
	/* Numbers are apart at ; and , always, at / unless it is inside one number. */
	ng = import_split(work, ";,", false, goff, glen, SF_IMPORT_CONTACTS_MAX);
	for (size_t g = 0; g < ng && g < SF_IMPORT_CONTACTS_MAX; g++) {
		char *t = work + goff[g];
		size_t sub_off[SF_IMPORT_CONTACTS_MAX], sub_len[SF_IMPORT_CONTACTS_MAX], ns;

		if (memchr(t, '/', glen[g]) == NULL || import_phone_slash_is_one(im, t, glen[g])) {
			for (size_t k = 0; k < glen[g]; k++) {
				if (t[k] == '/')
					t[k] = ' ';
			}
			if (n < SF_IMPORT_CONTACTS_MAX) {
				off[n] = goff[g];
				len[n] = glen[g];
			}
			n++;
			continue;
		}
		memcpy(tok, t, glen[g]);
		tok[glen[g]] = '\0';
		ns = import_split(tok, "/", false, sub_off, sub_len, SF_IMPORT_CONTACTS_MAX);
		for (size_t k = 0; k < ns; k++) {
			if (n < SF_IMPORT_CONTACTS_MAX && k < SF_IMPORT_CONTACTS_MAX) {
				off[n] = goff[g] + sub_off[k];
				len[n] = sub_len[k];
			}
			n++;
		}
	}
	if (ng > SF_IMPORT_CONTACTS_MAX || n > SF_IMPORT_CONTACTS_MAX) {
		import_field_error(im, SF_IMPORT_FIELD_PHONE, "phone: more than %d numbers",
		                   SF_IMPORT_CONTACTS_MAX);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		int rc;

		memcpy(tok, work + off[i], len[i]);
		tok[len[i]] = '\0';
		rc = import_phone_one(im, tok, e164, msg, sizeof msg);
		/* Read as the mission's country's, but perhaps a Korean mobile: staff check. */
		if (rc == 0 && sf_phone_also_korean_mobile(tok, im->home, msg, sizeof msg)) {
			import_detail(msg, detail, sizeof detail);
			if (n == 1)
				import_warning(im, im->rec.line,
				               im->rec.v[SF_IMPORT_FIELD_PHONE].column, "phone",
				               "phone: %s", detail);
			else
				import_warning(im, im->rec.line,
				               im->rec.v[SF_IMPORT_FIELD_PHONE].column, "phone",
				               "phone %zu of %zu: %s", i + 1, n, detail);
		}
		if (rc != 0) {
			import_detail(msg, detail, sizeof detail);
			if (n == 1)
				import_field_error(im, SF_IMPORT_FIELD_PHONE, "phone: %s", detail);
			else
				import_field_error(im, SF_IMPORT_FIELD_PHONE,
				                   "phone %zu of %zu: %s", i + 1, n, detail);
			continue;
		}
		if (import_build_contact(im, im->build.phone_off, &im->build.nphones, e164) != 0)
			return;
	}
}

/* Checks the e-mail addresses of a cell. */
static void
import_emails(struct importer *im)
{
	const char *s = import_val(im, SF_IMPORT_FIELD_EMAIL);
	size_t off[SF_IMPORT_CONTACTS_MAX], len[SF_IMPORT_CONTACTS_MAX], n;
	char tok[SF_IMPORT_CELL_MAX + 1], addr[SF_EMAIL_SIZE];
	char msg[SF_IMPORT_REASON_SIZE], detail[SF_IMPORT_REASON_SIZE];

	if (s == NULL)
		return;
	n = import_split(s, ";,", true, off, len, SF_IMPORT_CONTACTS_MAX);
	if (n > SF_IMPORT_CONTACTS_MAX) {
		import_field_error(im, SF_IMPORT_FIELD_EMAIL, "email: more than %d addresses",
		                   SF_IMPORT_CONTACTS_MAX);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(tok, s + off[i], len[i]);
		tok[len[i]] = '\0';
		if (sf_email_validate(tok, addr, sizeof addr, msg, sizeof msg) != 0) {
			import_detail(msg, detail, sizeof detail);
			if (n == 1)
				import_field_error(im, SF_IMPORT_FIELD_EMAIL, "email: %s", detail);
			else
				import_field_error(im, SF_IMPORT_FIELD_EMAIL,
				                   "email %zu of %zu: %s", i + 1, n, detail);
			continue;
		}
		if (import_build_contact(im, im->build.email_off, &im->build.nemails, addr) != 0)
			return;
	}
}

/* Looks a folded word up in a table; returns its value or NULL. */
static const char *
import_word_lookup(const struct import_word *table, size_t n, const char *s, size_t len)
{
	char key[IMPORT_FOLD_SIZE];

	if (import_fold(s, len, key, sizeof key, NULL, 0) == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(table[i].key, key) == 0)
			return table[i].value;
	}
	return NULL;
}

/*
 * Where an itinerary leg is: a country (two letters), a place (free text)
 * and a region code, each optional here; the caller decides which it needs.
 */
static void import_text(struct importer *im, enum sf_import_field f, enum import_slot slot,
                        bool keep_lines, size_t max_chars);

static void
import_leg_place(struct importer *im)
{
	const char *c = import_val(im, SF_IMPORT_FIELD_COUNTRY);
	const char *r = import_val(im, SF_IMPORT_FIELD_REGION);

	if (c != NULL) {
		char cc[3];
		if (strlen(c) != 2 || !isalpha((unsigned char)c[0]) ||
		    !isalpha((unsigned char)c[1])) {
			import_field_error(im, SF_IMPORT_FIELD_COUNTRY,
			                   "country: not an ISO 3166 two-letter code");
		} else {
			cc[0] = (char)toupper((unsigned char)c[0]);
			cc[1] = (char)toupper((unsigned char)c[1]);
			cc[2] = '\0';
			import_build_set(im, IMPORT_COUNTRY, cc, 2);
		}
	}
	import_text(im, SF_IMPORT_FIELD_PLACE, IMPORT_PLACE, false, IMPORT_PLACE_MAX);
	if (r != NULL) {
		size_t n = strlen(r);
		bool ok = n >= 1 && n <= 32;
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)r[i]) || r[i] == '.' || r[i] == '_' ||
			     r[i] == '-';
		if (!ok)
			import_field_error(
			    im, SF_IMPORT_FIELD_REGION,
			    "region: a code of letters, digits, '.', '_' or '-' (at most 32)");
		else
			import_build_set(im, IMPORT_REGION, r, n);
	}
}

/* Checks the kind, arrival and departure: a traveller has both dates, departure not first. */
static void
import_kind_and_trip(struct importer *im)
{
	const char *s = import_val(im, SF_IMPORT_FIELD_KIND);
	const char *kind = im->opt->itinerary ? "traveller" : "resident";
	struct import_value *v = im->rec.v;
	struct sf_date arrival, departure;
	int has_arrival, has_departure;
	bool kind_ok = true;

	if (s != NULL) {
		const char *k =
		    import_word_lookup(import_kinds, NITEMS(import_kinds), s, strlen(s));

		if (k == NULL) {
			import_field_error(
			    im, SF_IMPORT_FIELD_KIND,
			    "kind: unknown value; use resident (거주) or traveller (여행)");
			kind_ok = false;
		} else {
			kind = k;
			im->build.kind_given = true;
		}
	}
	has_arrival = import_date(im, SF_IMPORT_FIELD_ARRIVAL_DATE, &arrival);
	has_departure = import_date(im, SF_IMPORT_FIELD_DEPARTURE_DATE, &departure);
	if (kind_ok && strcmp(kind, "traveller") == 0) {
		if (has_arrival == 0 && !v[SF_IMPORT_FIELD_ARRIVAL_DATE].failed)
			import_error(
			    im, im->rec.line, v[SF_IMPORT_FIELD_ARRIVAL_DATE].column,
			    "arrival_date",
			    "arrival_date: missing; a traveller needs arrival and departure "
			    "dates");
		if (has_departure == 0 && !v[SF_IMPORT_FIELD_DEPARTURE_DATE].failed)
			import_error(im, im->rec.line, v[SF_IMPORT_FIELD_DEPARTURE_DATE].column,
			             "departure_date",
			             "departure_date: missing; a traveller needs arrival and "
			             "departure dates");
	}
	if (has_arrival == 1 && has_departure == 1 && sf_date_compare(&departure, &arrival) < 0)
		import_field_error(im, SF_IMPORT_FIELD_DEPARTURE_DATE,
		                   "departure_date: before the arrival date");
	if (!kind_ok)
		return;
	import_build_set(im, IMPORT_KIND, kind, strlen(kind));
	if (has_arrival == 1)
		import_date_store(im, IMPORT_ARRIVAL_DATE, &arrival);
	if (has_departure == 1)
		import_date_store(im, IMPORT_DEPARTURE_DATE, &departure);
}

/* Maps the words of the needs cell to the five needs and writes the array literal. */
static void
import_needs_cell(struct importer *im)
{
	const char *s = import_val(im, SF_IMPORT_FIELD_NEEDS);
	size_t off[64], len[64], n;
	char lit[80];
	unsigned mask = 0;
	size_t pos = 0;

	if (s != NULL) {
		n = import_split(s, ",;/|+&", true, off, len, NITEMS(off));
		if (n > NITEMS(off)) {
			import_field_error(im, SF_IMPORT_FIELD_NEEDS, "needs: too many words");
			return;
		}
		for (size_t i = 0; i < n; i++) {
			char key[IMPORT_FOLD_SIZE];
			size_t j;

			if (import_fold(s + off[i], len[i], key, sizeof key, NULL, 0) == 0)
				continue;
			if (strcmp(key, "none") == 0 || strcmp(key, "없음") == 0)
				continue;
			for (j = 0; j < NITEMS(import_needs); j++) {
				if (strcmp(import_needs[j].key, key) == 0)
					break;
			}
			if (j == NITEMS(import_needs)) {
				import_field_error(
				    im, SF_IMPORT_FIELD_NEEDS,
				    "needs: unknown value; accepted: child, elderly, "
				    "pregnant, disability, medical (아동, 노인, 임산부, "
				    "장애, 의료)");
				return;
			}
			mask |= 1u << import_needs[j].need;
		}
	}
	lit[pos++] = '{';
	for (size_t i = 0; i < NITEMS(import_need_names); i++) {
		if (!(mask & (1u << i)))
			continue;
		if (pos > 1)
			lit[pos++] = ',';
		memcpy(lit + pos, import_need_names[i], strlen(import_need_names[i]));
		pos += strlen(import_need_names[i]);
	}
	lit[pos++] = '}';
	import_build_set(im, IMPORT_NEEDS, lit, pos);
}

/* Maps the languages cell to ISO 639-1 codes and writes the array literal ({ko} when empty). */
static void
import_languages_cell(struct importer *im)
{
	const char *s = import_val(im, SF_IMPORT_FIELD_LANGUAGES);
	size_t off[64], len[64], n = 0, count = 0, pos = 0;
	const char *codes[SF_IMPORT_LANGUAGES_MAX];
	char lit[SF_IMPORT_LANGUAGES_MAX * 3 + 3], two[SF_IMPORT_LANGUAGES_MAX][3];

	if (s != NULL) {
		n = import_split(s, ",;/|", true, off, len, NITEMS(off));
		if (n > NITEMS(off)) {
			import_field_error(im, SF_IMPORT_FIELD_LANGUAGES, "languages: too many");
			return;
		}
	}
	for (size_t i = 0; i < n; i++) {
		const char *code = import_word_lookup(import_languages, NITEMS(import_languages),
		                                      s + off[i], len[i]);
		bool dup = false;

		if (code == NULL && len[i] == 2 && s[off[i]] >= 'a' && s[off[i]] <= 'z' &&
		    s[off[i] + 1] >= 'a' && s[off[i] + 1] <= 'z' &&
		    count < SF_IMPORT_LANGUAGES_MAX) {
			memcpy(two[count], s + off[i], 2);
			two[count][2] = '\0';
			code = two[count];
		}
		if (code == NULL) {
			import_field_error(
			    im, SF_IMPORT_FIELD_LANGUAGES,
			    "languages: unknown language; write ISO 639-1 codes such as "
			    "ko, en, tr");
			return;
		}
		for (size_t j = 0; j < count; j++)
			dup = dup || strcmp(codes[j], code) == 0;
		if (dup)
			continue;
		if (count == SF_IMPORT_LANGUAGES_MAX) {
			import_field_error(im, SF_IMPORT_FIELD_LANGUAGES,
			                   "languages: more than %d languages",
			                   SF_IMPORT_LANGUAGES_MAX);
			return;
		}
		codes[count++] = code;
	}
	/*
	 * Only a cell that named a language counts as given: the {ko} default
	 * must not replace what a re-import's target already has.
	 */
	im->build.languages_given = count > 0;
	lit[pos++] = '{';
	if (count == 0) {
		memcpy(lit + pos, "ko", 2);
		pos += 2;
	}
	for (size_t i = 0; i < count; i++) {
		if (i > 0)
			lit[pos++] = ',';
		memcpy(lit + pos, codes[i], 2);
		pos += 2;
	}
	lit[pos++] = '}';
	import_build_set(im, IMPORT_LANGUAGES, lit, pos);
}

/*
 * Cleans a free-text value into a slot: no control characters, white space
 * runs made one space (one line break when keep_lines and the run held one),
 * trimmed, NFC, at most max_chars characters.
 */
static void
import_text(struct importer *im, enum sf_import_field f, enum import_slot slot, bool keep_lines,
            size_t max_chars)
{
	const char *s = import_val(im, f), *name = import_field_names[f];
	const uint8_t *p = (const uint8_t *)s;
	size_t len, i, nfclen;
	bool pending_space = false, pending_line = false;
	uint8_t *nfc;
	ucs4_t uc;
	int k;

	if (s == NULL)
		return;
	len = strlen(s);
	im->tmp.len = 0;
	for (i = 0; i < len; i += (size_t)k) {
		if (p[i] > 0x20 && p[i] < 0x7f) {
			/* Printable ASCII: neither white space nor a control character. */
			k = 1;
			if (im->tmp.len > 0 && (pending_line || pending_space) &&
			    import_buf_add(&im->tmp, pending_line ? "\n" : " ", 1) != 0)
				goto nomem;
			pending_space = pending_line = false;
			if (import_buf_add(&im->tmp, p + i, 1) != 0)
				goto nomem;
			continue;
		}
		k = u8_mbtouc(&uc, p + i, len - i);
		if (uc_is_property_white_space(uc)) {
			if (keep_lines && (uc == '\n' || uc == 0x2028 || uc == 0x2029))
				pending_line = true;
			else
				pending_space = true;
			continue;
		}
		if (uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_Cc)) {
			import_field_error(im, f, "%s: control character U+%04X", name,
			                   (unsigned)uc);
			return;
		}
		if (im->tmp.len > 0 && (pending_line || pending_space)) {
			if (import_buf_add(&im->tmp, pending_line ? "\n" : " ", 1) != 0)
				goto nomem;
		}
		pending_space = pending_line = false;
		if (import_buf_add(&im->tmp, p + i, (size_t)k) != 0)
			goto nomem;
	}
	if (im->tmp.len == 0)
		return;
	if (import_is_nfc(im->tmp.p, im->tmp.len)) {
		nfc = NULL;
		nfclen = im->tmp.len;
	} else {
		nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)im->tmp.p, im->tmp.len, NULL,
		                   &nfclen);
		if (nfc == NULL)
			goto nomem;
	}
	if (u8_mbsnlen(nfc != NULL ? nfc : (const uint8_t *)im->tmp.p, nfclen) > max_chars)
		import_field_error(im, f, "%s: too long: more than %zu characters", name,
		                   max_chars);
	else
		import_build_set(im, slot, nfc != NULL ? (const char *)nfc : im->tmp.p, nfclen);
	free(nfc);
	return;
nomem:
	im->rc = SF_ENOMEM;
	im->stop = true;
}

/*
 * Writes a coordinate with seven decimals (about 1 cm) without the locale's
 * decimal point; absurd magnitudes are clamped, still out of range.
 */
static void
import_format_coord(double v, char *out, size_t outsz)
{
	long long scaled;

	if (!isfinite(v) || fabs(v) >= 1e9)
		v = v < 0 ? -999999999.0 : 999999999.0;
	scaled = llround(fabs(v) * 1e7);
	snprintf(out, outsz, "%s%lld.%07lld", v < 0 && scaled != 0 ? "-" : "", scaled / 10000000,
	         scaled % 10000000);
}

/* Reports a coordinate error on the field the message is about, without the numbers. */
static void
import_point_error(struct importer *im, bool one_cell, int rc, const char *msg)
{
	bool about_lon = strstr(msg, "longitude") != NULL;
	enum sf_import_field f = one_cell ? SF_IMPORT_FIELD_LOCATION
	                                  : (about_lon ? SF_IMPORT_FIELD_LON : SF_IMPORT_FIELD_LAT);
	const char *name = import_field_names[f];
	char detail[SF_IMPORT_REASON_SIZE];

	if (rc == SF_ERANGE && about_lon)
		import_field_error(im, f, "%s: longitude out of range (-180 to 180)", name);
	else if (rc == SF_ERANGE && strstr(msg, "latitude") != NULL)
		import_field_error(im, f, "%s: latitude out of range (-90 to 90)%s", name,
		                   strstr(msg, "swap?") != NULL ? "; looks like lon,lat: swap?"
		                                                : "");
	else {
		import_detail(msg, detail, sizeof detail);
		import_field_error(im, f, "%s: %s", name, detail);
	}
}

/* Reads the point of the row: a "lat, lon" cell, or lat and lon cells. */
static void
import_point(struct importer *im)
{
	const char *loc = import_val(im, SF_IMPORT_FIELD_LOCATION);
	const char *lat = import_val(im, SF_IMPORT_FIELD_LAT);
	const char *lon = import_val(im, SF_IMPORT_FIELD_LON);
	char msg[SF_IMPORT_REASON_SIZE], pair[2 * SF_IMPORT_CELL_MAX + 8];
	struct import_value *v = im->rec.v;
	struct sf_point pt;
	int rc;

	if (loc != NULL && (lat != NULL || lon != NULL)) {
		import_field_error(im, SF_IMPORT_FIELD_LOCATION,
		                   "location: given twice, as location and as lat/lon");
		return;
	}
	if (loc == NULL && lat == NULL && lon == NULL)
		return;
	if (loc == NULL && (lat == NULL || lon == NULL)) {
		if (lat == NULL && !v[SF_IMPORT_FIELD_LAT].failed)
			import_field_error(im, SF_IMPORT_FIELD_LAT, "lat: missing; lon is given");
		else if (lon == NULL && !v[SF_IMPORT_FIELD_LON].failed)
			import_field_error(im, SF_IMPORT_FIELD_LON, "lon: missing; lat is given");
		return;
	}
	if (loc == NULL) {
		snprintf(pair, sizeof pair, "%s, %s", lat, lon);
		loc = pair;
	}
	rc = sf_point_parse_latlon(loc, &pt, msg, sizeof msg);
	if (rc != 0) {
		import_point_error(im, loc != pair, rc, msg);
		return;
	}
	if (pt.lat == 0 && pt.lon == 0) {
		if (loc != pair)
			import_field_error(im, SF_IMPORT_FIELD_LOCATION,
			                   "location: 0, 0 is no place (an empty cell?)");
		else
			import_field_error(im, SF_IMPORT_FIELD_LAT,
			                   "lat: 0, 0 is no place (an empty cell?)");
		return;
	}
	im->build.has_point = true;
	im->build.lat = pt.lat;
	im->build.lon = pt.lon;
}

/* Turns the row built into a result row; returns 0 or SF_ENOMEM. */
static int
import_emit(struct importer *im)
{
	struct import_build *b = &im->build;
	struct sf_import_result *res = im->res;
	size_t nptr = b->nphones + b->nemails, i;
	const char **ptrs;
	struct sf_import_row *row;
	char *text;

	if (res->nrows == im->rows_cap) {
		size_t ncap = im->rows_cap == 0 ? 64 : im->rows_cap * 2;
		struct sf_import_row *rows = realloc(res->rows, ncap * sizeof *rows);

		if (rows == NULL)
			return SF_ENOMEM;
		res->rows = rows;
		im->rows_cap = ncap;
	}
	ptrs = malloc(nptr * sizeof *ptrs + b->text.len + 1);
	if (ptrs == NULL)
		return SF_ENOMEM;
	text = (char *)(ptrs + nptr);
	memcpy(text, b->text.p, b->text.len);
	row = &res->rows[res->nrows];
	memset(row, 0, sizeof *row);
	row->storage = ptrs;
	row->line = im->rec.line;
#define IMPORT_SLOT(slot) (b->set[slot] ? text + b->off[slot] : NULL)
	row->name_ko = IMPORT_SLOT(IMPORT_NAME_KO);
	row->name_latin = IMPORT_SLOT(IMPORT_NAME_LATIN);
	row->name_key = IMPORT_SLOT(IMPORT_NAME_KEY);
	row->birth_date = IMPORT_SLOT(IMPORT_BIRTH_DATE);
	row->passport_no = IMPORT_SLOT(IMPORT_PASSPORT_NO);
	row->kind = IMPORT_SLOT(IMPORT_KIND);
	row->arrival_date = IMPORT_SLOT(IMPORT_ARRIVAL_DATE);
	row->departure_date = IMPORT_SLOT(IMPORT_DEPARTURE_DATE);
	row->household_ref = IMPORT_SLOT(IMPORT_HOUSEHOLD_REF);
	row->needs = IMPORT_SLOT(IMPORT_NEEDS);
	row->languages = IMPORT_SLOT(IMPORT_LANGUAGES);
	row->address = IMPORT_SLOT(IMPORT_ADDRESS);
	row->residence_status = IMPORT_SLOT(IMPORT_RESIDENCE_STATUS);
	row->notes = IMPORT_SLOT(IMPORT_NOTES);
	row->external_ref = IMPORT_SLOT(IMPORT_EXTERNAL_REF);
	row->country = IMPORT_SLOT(IMPORT_COUNTRY);
	row->place = IMPORT_SLOT(IMPORT_PLACE);
	row->region = IMPORT_SLOT(IMPORT_REGION);
#undef IMPORT_SLOT
	for (i = 0; i < b->nphones; i++)
		ptrs[i] = text + b->phone_off[i];
	for (i = 0; i < b->nemails; i++)
		ptrs[b->nphones + i] = text + b->email_off[i];
	row->phones = ptrs;
	row->nphones = b->nphones;
	row->emails = ptrs + b->nphones;
	row->nemails = b->nemails;
	row->has_point = b->has_point;
	row->lat = b->lat;
	row->lon = b->lon;
	row->kind_given = b->kind_given;
	row->languages_given = b->languages_given;
	res->nrows++;
	if (row->passport_no != NULL &&
	    import_index_add(im, &im->passports, import_passport_hash, res->nrows - 1) != 0)
		return SF_ENOMEM;
	if (row->passport_no == NULL && !im->opt->itinerary &&
	    import_person_add(im, res->nrows - 1) != 0)
		return SF_ENOMEM;
	return 0;
}

/* Tells whether a trimmed value means "nothing here". */
static bool
import_is_placeholder(const char *s, size_t n)
{
	for (size_t i = 0; i < NITEMS(import_placeholders); i++) {
		if (strlen(import_placeholders[i]) == n &&
		    memcmp(import_placeholders[i], s, n) == 0)
			return true;
	}
	return false;
}

/* Gives a field of the record a value (copied, trimmed); returns 0 or SF_ENOMEM. */
static int
import_record_set(struct importer *im, enum sf_import_field f, const char *s, size_t n,
                  size_t column)
{
	struct import_value *v = &im->rec.v[f];

	if (v->seen)
		v->twice = true;
	v->seen = true;
	v->column = column;
	s = import_trim(s, &n);
	if (n == 0 || import_is_placeholder(s, n))
		return 0;
	v->present = true;
	v->len = n;
	if (n > SF_IMPORT_CELL_MAX) {
		v->too_long = true;
		v->present = false;
		return 0;
	}
	v->off = im->rec.text.len;
	if (import_buf_add(&im->rec.text, s, n) != 0 || import_buf_reserve(&im->rec.text, 1) != 0) {
		im->rc = SF_ENOMEM;
		im->stop = true;
		return SF_ENOMEM;
	}
	im->rec.text.len++;
	return 0;
}

/* Empties the record for the next one. */
static void
import_record_reset(struct importer *im)
{
	memset(im->rec.v, 0, sizeof im->rec.v);
	im->rec.text.len = 0;
	im->rec.extra_cells = 0;
}

/* Checks the record read and emits it as a row, or counts it as bad. */
static void
import_record_finish(struct importer *im)
{
	struct import_record *rec = &im->rec;
	struct import_build *b = &im->build;
	struct sf_import_result *res = im->res;
	struct sf_date birth;
	bool any = rec->extra_cells > 0;
	size_t f, seen_line;

	for (f = 0; f < SF_IMPORT_FIELD_COUNT; f++) {
		const struct import_value *v = &rec->v[f];

		any = any || v->present || v->too_long || v->type_error != NULL || v->twice;
	}
	if (!any || im->stop)
		return;
	if (res->records == im->max_rows) {
		import_file_error(im, SF_ETOOLONG, rec->line, 0,
		                  "file: more than %zu rows; split the file", im->max_rows);
		return;
	}
	res->records++;
	im->row_bad = false;
	memset(b->set, 0, sizeof b->set);
	b->text.len = 0;
	b->nphones = b->nemails = 0;
	b->has_point = false;
	b->kind_given = b->languages_given = false;

	if (rec->extra_cells > 0)
		import_error(
		    im, rec->line, rec->header_columns + 1, "row",
		    "row: %zu more cells than the header's %zu columns (an unquoted comma?)",
		    rec->extra_cells, rec->header_columns);
	/* Problems with a value as such come first; such a value is then left alone. */
	for (f = 0; f < SF_IMPORT_FIELD_COUNT; f++) {
		struct import_value *v = &rec->v[f];
		const char *name = import_field_names[f];

		if (v->twice) {
			import_field_error(im, (enum sf_import_field)f, "%s: given twice", name);
		} else if (v->type_error != NULL) {
			import_field_error(im, (enum sf_import_field)f, "%s: %s", name,
			                   v->type_error);
		} else if (v->too_long) {
			import_field_error(im, (enum sf_import_field)f,
			                   "%s: too long: %zu bytes, at most %d", name, v->len,
			                   SF_IMPORT_CELL_MAX);
		} else if (v->present &&
		           u8_check((const uint8_t *)rec->text.p + v->off, v->len) != NULL) {
			if (v->column > 0)
				import_field_error(im, (enum sf_import_field)f,
				                   "%s: not valid UTF-8 (column %zu)", name,
				                   v->column);
			else
				import_field_error(im, (enum sf_import_field)f,
				                   "%s: not valid UTF-8", name);
		} else if (v->present && memchr(rec->text.p + v->off, '\0', v->len) != NULL) {
			import_field_error(im, (enum sf_import_field)f, "%s: holds a NUL byte",
			                   name);
		} else {
			continue;
		}
		v->present = false;
	}

	import_names(im);
	if (import_date(im, SF_IMPORT_FIELD_BIRTH_DATE, &birth) == 1)
		import_date_store(im, IMPORT_BIRTH_DATE, &birth);
	import_passport(im);
	if (b->set[IMPORT_PASSPORT_NO] && !im->opt->itinerary &&
	    (seen_line = import_passport_seen(im, b->text.p + b->off[IMPORT_PASSPORT_NO])) != 0)
		import_field_error(im, SF_IMPORT_FIELD_PASSPORT_NO,
		                   "passport_no: the same passport number as line %zu", seen_line);
	import_phones(im);
	import_emails(im);
	import_text(im, SF_IMPORT_FIELD_ADDRESS, IMPORT_ADDRESS, false, IMPORT_ADDRESS_MAX);
	import_text(im, SF_IMPORT_FIELD_RESIDENCE_STATUS, IMPORT_RESIDENCE_STATUS, false,
	            IMPORT_RESIDENCE_MAX);
	import_kind_and_trip(im);
	import_text(im, SF_IMPORT_FIELD_HOUSEHOLD, IMPORT_HOUSEHOLD_REF, false, IMPORT_REF_MAX);
	import_needs_cell(im);
	import_languages_cell(im);
	import_point(im);
	import_text(im, SF_IMPORT_FIELD_NOTES, IMPORT_NOTES, true, IMPORT_NOTES_MAX);
	import_text(im, SF_IMPORT_FIELD_EXTERNAL_REF, IMPORT_EXTERNAL_REF, false, IMPORT_REF_MAX);
	import_leg_place(im);
	/*
	 * Without a passport, a row the merge would match with an earlier row's
	 * person (the same first phone, one of the names, no other birth date;
	 * without a phone, the same birth date or first e-mail) is the same
	 * person: one row per person, or the file would add them twice.
	 */
	if (!im->row_bad && !im->opt->itinerary && !b->set[IMPORT_PASSPORT_NO] &&
	    b->set[IMPORT_NAME_KEY]) {
		struct import_person p = {
		    .phone = b->nphones > 0 ? b->text.p + b->phone_off[0] : NULL,
		    .birth =
		        b->set[IMPORT_BIRTH_DATE] ? b->text.p + b->off[IMPORT_BIRTH_DATE] : NULL,
		    .email = b->nemails > 0 ? b->text.p + b->email_off[0] : NULL,
		    .name_key = b->text.p + b->off[IMPORT_NAME_KEY],
		    .household = b->set[IMPORT_HOUSEHOLD_REF]
		                     ? b->text.p + b->off[IMPORT_HOUSEHOLD_REF]
		                     : NULL};
		static const char *const same_why[] = {
		    [IMPORT_BY_PHONE] = "the same phone and name, no other birth date",
		    [IMPORT_BY_BIRTH] = "the same name and birth date, no phone or passport",
		    [IMPORT_BY_EMAIL] =
		        "the same name and e-mail, no phone, passport or birth date",
		};
		static const char *const by_what[] = {[IMPORT_BY_PHONE] = "phone",
		                                      [IMPORT_BY_BIRTH] = "birth date",
		                                      [IMPORT_BY_EMAIL] = "e-mail"};
		static const char *const by_field[] = {[IMPORT_BY_PHONE] = "phone",
		                                       [IMPORT_BY_BIRTH] = "birth_date",
		                                       [IMPORT_BY_EMAIL] = "email"};
		const char *key;
		enum import_person_by by = import_person_by(&p, &key);
		enum sf_import_field field = by == IMPORT_BY_PHONE   ? SF_IMPORT_FIELD_PHONE
		                             : by == IMPORT_BY_BIRTH ? SF_IMPORT_FIELD_BIRTH_DATE
		                                                     : SF_IMPORT_FIELD_EMAIL;
		struct import_seen seen;

		if (by != IMPORT_BY_NONE) {
			import_person_seen(im, &p, &seen);
			seen_line = seen.same;
			if (seen.other_same != 0)
				/* Either guess would merge two people. */
				import_field_error(
				    im, field,
				    "%s: may be the person of line %zu or of line %zu "
				    "(the same name and %s): add a birth date, "
				    "passport, household or e-mail that tells which",
				    by_field[by], seen.same, seen.other_same, by_what[by]);
			else if (seen_line != 0)
				import_field_error(im, field,
				                   "%s: the same person as line %zu (%s): one row "
				                   "per person",
				                   by_field[by], seen_line, same_why[by]);
			else if (seen.maybe != 0)
				import_warning(im, im->rec.line, 0, "national",
				               /*
				                * Worded for either outcome: the rows are added
				                * the first time, found again the next.
				                */
				               "may be the same person as line %zu (the same name "
				               "and %s, not enough to tell): taken as two people; "
				               "merge by hand if so",
				               seen.maybe, by_what[by]);
		} else if (!res->national_ids ||
		           import_val(im, SF_IMPORT_FIELD_EXTERNAL_REF) == NULL) {
			/*
			 * Still imported: the person may be known by no more than a
			 * name (an export's row has its id to find the person again).
			 */
			import_warning(im, im->rec.line, 0, "name",
			               "no passport, phone, birth date or e-mail: this person "
			               "cannot be told apart from another of the same name, so "
			               "importing the row again adds them again");
		}
	}
	if (im->stop)
		return;
	if (im->row_bad) {
		res->bad_rows++;
		return;
	}
	if (import_emit(im) != 0) {
		im->rc = SF_ENOMEM;
		im->stop = true;
	}
}

/* Copies at most IMPORT_HEADER_QUOTE bytes of a header, whole characters, no controls. */
static void
import_quote_header(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i = 0, o = 0;
	int k;
	ucs4_t uc;

	s = import_trim(s, &n);
	while (i < n && o + 4 < outsz && o < IMPORT_HEADER_QUOTE) {
		k = u8_mbtouc(&uc, (const uint8_t *)s + i, n - i);
		if (uc < 0x20 || uc == 0x7f || uc == 0xfffd)
			out[o++] = '?';
		else {
			memcpy(out + o, s + i, (size_t)k);
			o += (size_t)k;
		}
		i += (size_t)k;
	}
	if (i < n && o + 4 < outsz) {
		memcpy(out + o, "\u2026", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Tells whether a column header matches a mapping's header: exactly, or else when folded. */
static bool
import_header_matches(const char *header, size_t n, const char *want, bool folded)
{
	char a[IMPORT_FOLD_SIZE], b[IMPORT_FOLD_SIZE];
	size_t wn = strlen(want);

	header = import_trim(header, &n);
	if (!folded)
		return n == wn && strncasecmp(header, want, n) == 0;
	return import_fold(header, n, a, sizeof a, NULL, 0) > 0 &&
	       import_fold(want, wn, b, sizeof b, NULL, 0) > 0 && strcmp(a, b) == 0;
}

/* The CSV reader: libcsv's state and the header. */
struct import_csv {
	struct importer *im;
	struct csv_parser parser;
	size_t line;        /* physical line being fed, 1-based */
	size_t record_line; /* line the current record starts on */
	bool in_quotes;     /* at the start of the line: inside a quoted field */
	size_t ncells;
	bool nonempty;
	bool have_header;
	size_t skipped; /* non-empty records before the header */
	size_t ncolumns;
	int col_field[SF_IMPORT_COLUMNS_MAX]; /* field of each column, -1 when ignored */
	/* Before the header: the cells of the record, to try it as the header. */
	struct import_buf hdr_text;
	size_t hdr_off[SF_IMPORT_COLUMNS_MAX];
	size_t hdr_len[SF_IMPORT_COLUMNS_MAX];
	bool hdr_overflow;
};

/* Finds the column of the file a mapping entry names; 0 when none, SIZE_MAX when several. */
static size_t
import_csv_mapped_column(struct import_csv *c, const char *want)
{
	size_t found = 0;

	for (int folded = 0; folded < 2 && found == 0; folded++) {
		for (size_t i = 0; i < c->ncells && i < SF_IMPORT_COLUMNS_MAX; i++) {
			if (!import_header_matches(c->hdr_text.p + c->hdr_off[i], c->hdr_len[i],
			                           want, folded))
				continue;
			if (found != 0)
				return SIZE_MAX;
			found = i + 1;
		}
	}
	return found;
}

/* Tells whether column i's header folds to key. */
static bool
import_csv_header_is(const struct import_csv *c, size_t i, const char *key)
{
	char folded[IMPORT_FOLD_SIZE];

	return import_fold(c->hdr_text.p + c->hdr_off[i], c->hdr_len[i], folded, sizeof folded,
	                   NULL, 0) > 0 &&
	       strcmp(folded, key) == 0;
}

/*
 * Sets national_ids when the header is the registry export's: an "id" column
 * read as external_ref and a "mission" column no field claims. An embassy's
 * own numbering (관리번호, ref, or an id column alone) is never taken for
 * national ids, which would match people by chance.
 */
static void
import_csv_find_export(struct import_csv *c)
{
	bool id = false, mission = false;

	for (size_t i = 0; i < c->ncolumns; i++) {
		if (c->col_field[i] == SF_IMPORT_FIELD_EXTERNAL_REF &&
		    import_csv_header_is(c, i, "id"))
			id = true;
		else if (c->col_field[i] < 0 && import_csv_header_is(c, i, "mission"))
			mission = true;
	}
	c->im->res->national_ids = id && mission;
}

/*
 * Tries the record just read as the header: it is one when it names a name
 * column or two recognised fields (or any mapped one). Returns true when it
 * was (the header is then set up, or the file refused).
 */
static bool
import_csv_try_header(struct import_csv *c)
{
	struct importer *im = c->im;
	const struct sf_import_mapping *map = im->opt->mapping;
	size_t n = c->ncells < SF_IMPORT_COLUMNS_MAX ? c->ncells : SF_IMPORT_COLUMNS_MAX;
	size_t mapped_col[SF_IMPORT_MAPPING_MAX] = {0}, nmap = 0, recognised = 0, i, j, f;
	size_t first[SF_IMPORT_FIELD_COUNT] = {0}, count[SF_IMPORT_FIELD_COUNT] = {0};
	bool explicit_field[SF_IMPORT_FIELD_COUNT] = {false}, has_name, bad = false;
	char quoted[IMPORT_HEADER_QUOTE + 8];
	int auto_field[SF_IMPORT_COLUMNS_MAX];

	for (i = 0; i < n; i++) {
		if (u8_check((const uint8_t *)c->hdr_text.p + c->hdr_off[i], c->hdr_len[i]) !=
		    NULL) {
			import_file_error(im, SF_EINVAL, c->record_line, i + 1,
			                  "file: line %zu is not valid UTF-8; save the file as CSV "
			                  "UTF-8 (Excel: \"CSV UTF-8\"), not in CP949/EUC-KR",
			                  c->record_line);
			return true;
		}
	}
	for (i = 0; i < n; i++)
		c->col_field[i] = -1;
	if (map != NULL)
		nmap = map->count < SF_IMPORT_MAPPING_MAX ? map->count : SF_IMPORT_MAPPING_MAX;
	for (i = 0; i < nmap; i++) {
		mapped_col[i] = import_csv_mapped_column(c, map->entries[i].header);
		if (mapped_col[i] != 0 && mapped_col[i] != SIZE_MAX)
			recognised++;
	}
	for (i = 0; i < n; i++) {
		enum sf_import_field field;

		auto_field[i] = -1;
		if (import_header_lookup(c->hdr_text.p + c->hdr_off[i], c->hdr_len[i], &field) ==
		    0) {
			auto_field[i] = (int)field;
			recognised++;
		}
	}
	has_name = false;
	for (i = 0; i < n; i++)
		has_name = has_name || auto_field[i] == SF_IMPORT_FIELD_NAME_KO ||
		           auto_field[i] == SF_IMPORT_FIELD_NAME_LATIN ||
		           auto_field[i] == SF_IMPORT_FIELD_NAME;
	if (!has_name && recognised < 2)
		return false;

	/* The header: explicit mappings first, then what was recognised. */
	c->have_header = true;
	c->ncolumns = n;
	im->res->header_line = c->record_line;
	for (i = 0; i < nmap; i++) {
		const struct sf_import_map_entry *e = &map->entries[i];

		import_quote_header(e->header, strlen(e->header), quoted, sizeof quoted);
		if (mapped_col[i] == 0) {
			import_file_error(im, SF_EINVAL, c->record_line, 0,
			                  "file: mapping %s=%s: no such column",
			                  import_field_names[e->field], quoted);
			bad = true;
			continue;
		}
		if (mapped_col[i] == SIZE_MAX) {
			import_file_error(im, SF_EINVAL, c->record_line, 0,
			                  "file: mapping %s=%s: several columns have that header",
			                  import_field_names[e->field], quoted);
			bad = true;
			continue;
		}
		/*
		 * The mapping refuses the same header twice only as written; folded
		 * ("E_mail", "e.mail") two headers can still find one column, and the
		 * second field would silently take it from the first.
		 */
		for (j = 0; j < i; j++) {
			if (mapped_col[j] == mapped_col[i])
				break;
		}
		if (j < i) {
			char quoted_j[IMPORT_HEADER_QUOTE + 8];

			import_quote_header(map->entries[j].header, strlen(map->entries[j].header),
			                    quoted_j, sizeof quoted_j);
			import_file_error(
			    im, SF_EINVAL, c->record_line, mapped_col[i],
			    "file: mappings %s=%s and %s=%s resolve to the same column "
			    "%zu; map each field to its own column",
			    import_field_names[map->entries[j].field], quoted_j,
			    import_field_names[e->field], quoted, mapped_col[i]);
			bad = true;
			continue;
		}
		c->col_field[mapped_col[i] - 1] = (int)e->field;
		explicit_field[e->field] = true;
	}
	for (i = 0; i < n; i++) {
		if (c->col_field[i] >= 0 || auto_field[i] < 0)
			continue;
		if (explicit_field[auto_field[i]]) {
			import_quote_header(c->hdr_text.p + c->hdr_off[i], c->hdr_len[i], quoted,
			                    sizeof quoted);
			import_warning(im, c->record_line, i + 1, import_field_names[auto_field[i]],
			               "column %zu (%s): %s comes from the mapped column; ignored",
			               i + 1, quoted, import_field_names[auto_field[i]]);
			continue;
		}
		c->col_field[i] = auto_field[i];
	}
	/* Every explicit field must have kept its column: a mapping is never overruled. */
	for (i = 0; i < nmap && !bad; i++) {
		const struct sf_import_map_entry *e = &map->entries[i];

		if (c->col_field[mapped_col[i] - 1] != (int)e->field) {
			import_quote_header(e->header, strlen(e->header), quoted, sizeof quoted);
			import_file_error(im, SF_EINVAL, c->record_line, mapped_col[i],
			                  "file: mapping %s=%s: column %zu is read as %s",
			                  import_field_names[e->field], quoted, mapped_col[i],
			                  c->col_field[mapped_col[i] - 1] >= 0
			                      ? import_field_names[c->col_field[mapped_col[i] - 1]]
			                      : "nothing");
			bad = true;
		}
	}
	for (i = 0; i < n; i++) {
		if (c->col_field[i] < 0)
			continue;
		f = (size_t)c->col_field[i];
		if (count[f]++ == 0)
			first[f] = i + 1;
		else if (count[f] == 2) {
			import_file_error(
			    im, SF_EINVAL, c->record_line, i + 1,
			    "file: two columns for %s: %zu and %zu; choose one with --map "
			    "%s=<header>",
			    import_field_names[f], first[f], i + 1, import_field_names[f]);
			bad = true;
		}
	}
	if (count[SF_IMPORT_FIELD_NAME_KO] + count[SF_IMPORT_FIELD_NAME_LATIN] +
	        count[SF_IMPORT_FIELD_NAME] ==
	    0) {
		import_file_error(im, SF_EINVAL, c->record_line, 0,
		                  "file: no name column; the header needs name_ko or name_latin "
		                  "(성명, 영문성명), or map one with --map name_ko=<header>");
		bad = true;
	}
	if ((count[SF_IMPORT_FIELD_LAT] > 0) != (count[SF_IMPORT_FIELD_LON] > 0)) {
		import_file_error(im, SF_EINVAL, c->record_line, 0,
		                  "file: a %s column without a %s column",
		                  count[SF_IMPORT_FIELD_LAT] > 0 ? "lat" : "lon",
		                  count[SF_IMPORT_FIELD_LAT] > 0 ? "lon" : "lat");
		bad = true;
	}
	if (count[SF_IMPORT_FIELD_LOCATION] > 0 && count[SF_IMPORT_FIELD_LAT] > 0) {
		import_file_error(im, SF_EINVAL, c->record_line, 0,
		                  "file: both a location column and lat/lon columns");
		bad = true;
	}
	if (c->hdr_overflow) {
		import_file_error(im, SF_EINVAL, c->record_line, 0, "file: more than %d columns",
		                  SF_IMPORT_COLUMNS_MAX);
		bad = true;
	}
	if (bad)
		return true;
	import_csv_find_export(c);
	for (i = 0; i < n; i++) {
		if (c->col_field[i] >= 0) {
			im->res->columns[c->col_field[i]] = i + 1;
			continue;
		}
		if (auto_field[i] >= 0 || c->hdr_len[i] == 0)
			continue;
		/* The export's mission column: only what tells its ids apart. */
		if (im->res->national_ids && import_csv_header_is(c, i, "mission"))
			continue;
		import_quote_header(c->hdr_text.p + c->hdr_off[i], c->hdr_len[i], quoted,
		                    sizeof quoted);
		if (quoted[0] != '\0')
			import_warning(im, c->record_line, i + 1, "file",
			               "column %zu (%s): not recognised; ignored", i + 1, quoted);
	}
	if (c->skipped > 0)
		import_warning(im, c->record_line, 0, "file",
		               "%zu line(s) above the header skipped (a title?)", c->skipped);
	return true;
}

/*
 * Drops the ' that the registry's CSV export (csv_field) puts before a cell
 * starting with = + - @ tab or carriage return, so that spreadsheets do not
 * run it as a formula:
 * an export must read back unchanged. Only that one quote before such a
 * character goes; "'abc" stays as written.
 */
static const char *
import_csv_unescape_formula(const char *s, size_t *n)
{
	if (*n >= 2 && s[0] == '\'' && memchr("=+-@\t\r", s[1], 6) != NULL) {
		(*n)--;
		return s + 1;
	}
	return s;
}

/* libcsv's callback for each cell. */
static void
import_csv_cell(void *s, size_t n, void *data)
{
	struct import_csv *c = data;
	struct importer *im = c->im;
	size_t col = c->ncells++, tn = s != NULL ? n : 0;
	const char *t = s != NULL ? s : "";

	if (im->stop)
		return;
	if (c->have_header)
		t = import_csv_unescape_formula(t, &tn);
	t = import_trim(t, &tn);
	if (tn > 0)
		c->nonempty = true;
	if (!c->have_header) {
		if (col >= SF_IMPORT_COLUMNS_MAX) {
			c->hdr_overflow = true;
			return;
		}
		if (tn > SF_IMPORT_CELL_MAX)
			tn = SF_IMPORT_CELL_MAX;
		c->hdr_off[col] = c->hdr_text.len;
		c->hdr_len[col] = tn;
		if (import_buf_add(&c->hdr_text, t, tn) != 0) {
			im->rc = SF_ENOMEM;
			im->stop = true;
		}
		return;
	}
	if (col >= c->ncolumns) {
		if (tn > 0)
			im->rec.extra_cells++;
		return;
	}
	if (c->col_field[col] >= 0)
		import_record_set(im, (enum sf_import_field)c->col_field[col], t, tn, col + 1);
}

/* libcsv's callback at the end of each record. */
static void
import_csv_record(int term, void *data)
{
	struct import_csv *c = data;
	struct importer *im = c->im;

	(void)term;
	if (!im->stop) {
		if (!c->have_header) {
			if (c->nonempty && !import_csv_try_header(c)) {
				if (++c->skipped >= IMPORT_HEADER_SEARCH)
					import_file_error(
					    im, SF_EINVAL, c->record_line, 0,
					    "file: no header in the first %d lines; the header "
					    "names the "
					    "columns (성명, 영문성명, 휴대전화, …) or --map does",
					    IMPORT_HEADER_SEARCH);
			}
		} else {
			im->rec.line = c->record_line;
			im->rec.header_columns = c->ncolumns;
			import_record_finish(im);
		}
	}
	c->hdr_text.len = 0;
	c->ncells = 0;
	c->hdr_overflow = false;
	c->nonempty = false;
	import_record_reset(im);
}

/* Returns the end of the physical line starting at pos: after LF, CRLF or a lone CR. */
static size_t
import_line_end(const char *s, size_t len, size_t pos)
{
	const char *lf = memchr(s + pos, '\n', len - pos);
	const char *cr = memchr(s + pos, '\r', lf != NULL ? (size_t)(lf - s) - pos : len - pos);

	if (cr != NULL)
		return (size_t)(cr - s) + ((size_t)(cr - s) + 1 < len && cr[1] == '\n' ? 2 : 1);
	if (lf != NULL)
		return (size_t)(lf - s) + 1;
	return len;
}

/* Picks the delimiter most used outside quotes in the first lines: ',', ';' or tab. */
static char
import_detect_delimiter(const char *s, size_t len)
{
	size_t counts[3] = {0, 0, 0}, lines = 0, i;
	bool quoted = false;

	for (i = 0; i < len && lines < IMPORT_DELIMITER_LINES; i++) {
		if (s[i] == '"')
			quoted = !quoted;
		else if (quoted)
			continue;
		else if (s[i] == ',')
			counts[0]++;
		else if (s[i] == ';')
			counts[1]++;
		else if (s[i] == '\t')
			counts[2]++;
		else if (s[i] == '\n')
			lines++;
	}
	if (counts[1] > counts[0] && counts[1] >= counts[2])
		return ';';
	if (counts[2] > counts[0] && counts[2] > counts[1])
		return '\t';
	return ',';
}

/* Reads a CSV file whose BOM is gone. */
static void
import_csv_run(struct importer *im, const char *data, size_t len)
{
	struct import_csv *c = calloc(1, sizeof *c);
	size_t pos = 0, end, fed;
	char delim;

	if (c == NULL) {
		im->rc = SF_ENOMEM;
		return;
	}
	c->im = im;
	c->line = 1;
	delim = im->opt->delimiter;
	if (delim != ',' && delim != ';' && delim != '\t')
		delim = import_detect_delimiter(data, len);
	im->res->delimiter = delim;
	csv_init(&c->parser, CSV_STRICT | CSV_STRICT_FINI);
	csv_set_delim(&c->parser, (unsigned char)delim);
	while (pos < len && !im->stop) {
		const char *q;

		end = import_line_end(data, len, pos);
		if (!c->in_quotes)
			c->record_line = c->line;
		for (q = memchr(data + pos, '"', end - pos); q != NULL;
		     q = memchr(q + 1, '"', end - (size_t)(q + 1 - data)))
			c->in_quotes = !c->in_quotes;
		fed = csv_parse(&c->parser, data + pos, end - pos, import_csv_cell,
		                import_csv_record, c);
		if (im->stop)
			break;
		if (fed != end - pos) {
			if (csv_error(&c->parser) == CSV_EPARSE)
				import_file_error(
				    im, SF_EINVAL, c->line, 0,
				    "file: line %zu: malformed CSV: a quote inside an "
				    "unquoted cell, or text after a closing quote",
				    c->line);
			else {
				im->rc = SF_ENOMEM;
				im->stop = true;
			}
			break;
		}
		if (end > pos && (data[end - 1] == '\n' || data[end - 1] == '\r'))
			c->line++;
		pos = end;
	}
	if (!im->stop && csv_fini(&c->parser, import_csv_cell, import_csv_record, c) != 0 &&
	    !im->stop)
		import_file_error(im, SF_EINVAL, c->record_line, 0,
		                  "file: line %zu: malformed CSV: a quoted cell is never closed",
		                  c->record_line);
	if (!im->stop && !c->have_header)
		import_file_error(im, SF_EINVAL, 0, 0,
		                  c->skipped == 0 ? "file: no rows"
		                                  : "file: no header; the header names the columns "
		                                    "(성명, 영문성명, 휴대전화, …) or --map does");
	csv_free(&c->parser);
	import_buf_free(&c->hdr_text);
	free(c);
}

/* Finds the field a JSON key stands for: a mapping's header, else a recognised name. */
static int
import_json_field(struct importer *im, const char *key, enum sf_import_field *out)
{
	const struct sf_import_mapping *map = im->opt->mapping;

	if (map != NULL) {
		for (size_t i = 0; i < map->count; i++) {
			if (import_header_matches(key, strlen(key), map->entries[i].header,
			                          false)) {
				*out = map->entries[i].field;
				return 0;
			}
		}
	}
	return import_header_lookup(key, strlen(key), out);
}

/* Warns once about each JSON key that names no field. */
static void
import_json_unknown_key(struct importer *im, const char *key, size_t line)
{
	char quoted[IMPORT_HEADER_QUOTE + 8], **keys;

	for (size_t i = 0; i < im->nwarned_keys; i++) {
		if (strcmp(im->warned_keys[i], key) == 0)
			return;
	}
	if (im->nwarned_keys >= SF_IMPORT_WARNINGS_MAX)
		return;
	keys = realloc(im->warned_keys, (im->nwarned_keys + 1) * sizeof *keys);
	if (keys == NULL)
		goto nomem;
	im->warned_keys = keys;
	keys[im->nwarned_keys] = strdup(key);
	if (keys[im->nwarned_keys] == NULL)
		goto nomem;
	im->nwarned_keys++;
	if (u8_check((const uint8_t *)key, strlen(key)) != NULL)
		snprintf(quoted, sizeof quoted, "not UTF-8");
	else
		import_quote_header(key, strlen(key), quoted, sizeof quoted);
	import_warning(im, line, 0, "file", "key \"%s\": not recognised; ignored", quoted);
	return;
nomem:
	im->rc = SF_ENOMEM;
	im->stop = true;
}

/* Joins the text elements of a JSON array with ';' into a field; returns an error or NULL. */
static const char *
import_json_array(struct importer *im, enum sf_import_field f, const cJSON *arr)
{
	const cJSON *el;
	size_t n = 0;

	im->tmp.len = 0;
	cJSON_ArrayForEach(el, arr)
	{
		const char *s;
		char num[32];

		if (cJSON_IsString(el))
			s = el->valuestring;
		else if (cJSON_IsNumber(el) && el->valuedouble == floor(el->valuedouble) &&
		         fabs(el->valuedouble) < 1e15) {
			snprintf(num, sizeof num, "%.0f", el->valuedouble);
			s = num;
		} else if (cJSON_IsNull(el))
			continue;
		else
			return "array elements must be text";
		if (im->tmp.len > SF_IMPORT_CELL_MAX)
			break;
		if ((n++ > 0 && import_buf_add(&im->tmp, ";", 1) != 0) ||
		    import_buf_add(&im->tmp, s, strlen(s)) != 0) {
			im->rc = SF_ENOMEM;
			im->stop = true;
			return NULL;
		}
	}
	import_record_set(im, f, im->tmp.p != NULL ? im->tmp.p : "", im->tmp.len, 0);
	return NULL;
}

/* Reads a coordinate given as a JSON number or string into a field. */
static void
import_json_coord(struct importer *im, enum sf_import_field f, const cJSON *item)
{
	char num[48];

	if (cJSON_IsNumber(item)) {
		import_format_coord(item->valuedouble, num, sizeof num);
		import_record_set(im, f, num, strlen(num), 0);
	} else if (cJSON_IsString(item)) {
		import_record_set(im, f, item->valuestring, strlen(item->valuestring), 0);
	} else if (!cJSON_IsNull(item)) {
		im->rec.v[f].seen = true;
		im->rec.v[f].type_error = "expected a number";
	}
}

/* Reads one JSON value into the field of the record it belongs to. */
static void
import_json_value(struct importer *im, enum sf_import_field f, const cJSON *item)
{
	struct import_value *v = &im->rec.v[f];
	const char *type_error = NULL;
	char num[32];

	if (cJSON_IsNull(item)) {
		if (v->seen)
			v->twice = true;
		v->seen = true;
	} else if (cJSON_IsString(item)) {
		import_record_set(im, f, item->valuestring, strlen(item->valuestring), 0);
	} else if (cJSON_IsNumber(item)) {
		if (f == SF_IMPORT_FIELD_LAT || f == SF_IMPORT_FIELD_LON)
			import_json_coord(im, f, item);
		else if (item->valuedouble == floor(item->valuedouble) &&
		         fabs(item->valuedouble) < 1e15) {
			snprintf(num, sizeof num, "%.0f", item->valuedouble);
			import_record_set(im, f, num, strlen(num), 0);
		} else
			type_error = "expected text, not a number";
	} else if (cJSON_IsArray(item)) {
		if (f == SF_IMPORT_FIELD_PHONE || f == SF_IMPORT_FIELD_EMAIL ||
		    f == SF_IMPORT_FIELD_NEEDS || f == SF_IMPORT_FIELD_LANGUAGES) {
			if (v->seen)
				v->twice = true;
			type_error = import_json_array(im, f, item);
		} else if (f == SF_IMPORT_FIELD_LOCATION)
			type_error =
			    "an array is ambiguous (GeoJSON is lon,lat); write \"lat, lon\" "
			    "or {\"lat\": …, \"lon\": …}";
		else
			type_error = "expected text, not an array";
	} else if (cJSON_IsObject(item) && f == SF_IMPORT_FIELD_LOCATION) {
		const cJSON *lat = cJSON_GetObjectItemCaseSensitive(item, "lat");
		const cJSON *lon = cJSON_GetObjectItemCaseSensitive(item, "lon");

		if (lat == NULL)
			lat = cJSON_GetObjectItemCaseSensitive(item, "latitude");
		if (lon == NULL)
			lon = cJSON_GetObjectItemCaseSensitive(item, "lng");
		if (lon == NULL)
			lon = cJSON_GetObjectItemCaseSensitive(item, "longitude");
		if (lat == NULL || lon == NULL)
			type_error = "expected {\"lat\": …, \"lon\": …}";
		else {
			v->seen = true;
			import_json_coord(im, SF_IMPORT_FIELD_LAT, lat);
			import_json_coord(im, SF_IMPORT_FIELD_LON, lon);
		}
	} else if (cJSON_IsBool(item)) {
		type_error = "expected text, not true or false";
	} else {
		type_error = "expected text, not an object";
	}
	if (type_error != NULL) {
		v->seen = true;
		v->type_error = type_error;
	}
}

/* Returns the line (1-based) of byte off of a text. */
static size_t
import_line_of(const char *s, size_t off)
{
	size_t line = 1;

	for (const char *p = s; (p = memchr(p, '\n', off - (size_t)(p - s))) != NULL; p++)
		line++;
	return line;
}

/* Reads a JSON file: an array of objects, or {"nationals": [...]}. */
static void
import_json_run(struct importer *im, const char *data, size_t len)
{
	const char *end = NULL;
	const cJSON *list, *item;
	cJSON *root;
	size_t index = 0, rest;

	root = cJSON_ParseWithLengthOpts(data, len, &end, false);
	if (root == NULL) {
		size_t off =
		    end != NULL && end >= data && end <= data + len ? (size_t)(end - data) : 0;

		import_file_error(im, SF_EINVAL, 0, 0,
		                  "file: not valid JSON near byte %zu (line %zu of the file)", off,
		                  import_line_of(data, off));
		return;
	}
	rest = (size_t)(end - data);
	while (rest < len && import_is_space((unsigned char)data[rest]))
		rest++;
	if (rest < len && data[rest] != '\0') {
		import_file_error(im, SF_EINVAL, 0, 0,
		                  "file: text after the end of the JSON (line %zu of the file)",
		                  import_line_of(data, rest));
		goto out;
	}
	list = root;
	if (cJSON_IsObject(root))
		list = cJSON_GetObjectItemCaseSensitive(root, "nationals");
	if (!cJSON_IsArray(list)) {
		import_file_error(im, SF_EINVAL, 0, 0,
		                  "file: expected an array of nationals or {\"nationals\": [...]}");
		goto out;
	}
	if ((size_t)cJSON_GetArraySize(list) > im->max_rows) {
		import_file_error(im, SF_ETOOLONG, 0, 0, "file: more than %zu rows; split the file",
		                  im->max_rows);
		goto out;
	}
	cJSON_ArrayForEach(item, list)
	{
		const cJSON *kv;

		if (im->stop)
			break;
		import_record_reset(im);
		im->rec.line = ++index;
		if (!cJSON_IsObject(item)) {
			im->res->records++;
			im->res->bad_rows++;
			im->row_bad = true;
			import_error(im, index, 0, "row", "row: expected an object");
			continue;
		}
		cJSON_ArrayForEach(kv, item)
		{
			enum sf_import_field f;

			if (kv->string == NULL)
				continue;
			if (import_json_field(im, kv->string, &f) != 0) {
				import_json_unknown_key(im, kv->string, index);
				continue;
			}
			import_json_value(im, f, kv);
		}
		import_record_finish(im);
	}
out:
	cJSON_Delete(root);
}

/* Refuses what is plainly not a UTF-8 text file, with what to do instead. */
static bool
import_refuse_binary(struct importer *im, const char *data, size_t len)
{
	const unsigned char *u = (const unsigned char *)data;

	if (len >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff))) {
		import_file_error(im, SF_EINVAL, 0, 0,
		                  "file: UTF-16 text; save the file as CSV UTF-8");
		return true;
	}
	if (len >= 4 && memcmp(data, "PK\x03\x04", 4) == 0) {
		import_file_error(im, SF_EINVAL, 0, 0,
		                  "file: an Excel workbook (.xlsx), not CSV; save it as CSV UTF-8");
		return true;
	}
	if (memchr(data, '\0', len < 4096 ? len : 4096) != NULL) {
		import_file_error(im, SF_EINVAL, 0, 0,
		                  "file: NUL bytes; not a text file (UTF-16, or a spreadsheet?); "
		                  "save it as CSV UTF-8");
		return true;
	}
	return false;
}

/*
 * Refuses options that would fail every row alike: an unknown country (a valid
 * international number then fails only for that reason) or date format.
 * Returns true when refused.
 */
static bool
import_options_bad(struct importer *im)
{
	char e164[SF_PHONE_E164_SIZE];

	if (im->home != NULL &&
	    sf_phone_normalize("+821012345678", im->home, e164, sizeof e164, NULL, 0) != 0) {
		import_file_error(im, SF_EINVAL, 0, 0,
		                  "file: options: unknown default country; give an ISO 3166 "
		                  "alpha-2 code such as TR");
		return true;
	}
	if ((unsigned)im->opt->date_format > SF_DATE_COMPACT) {
		import_file_error(im, SF_EINVAL, 0, 0, "file: options: unknown date format");
		return true;
	}
	return false;
}

/* Frees a result and everything in it. */
void
sf_import_result_free(struct sf_import_result *res)
{
	if (res == NULL)
		return;
	for (size_t i = 0; i < res->nrows; i++)
		free(res->rows[i].storage);
	free(res->rows);
	free(res->errors);
	free(res->warnings);
	free(res);
}

/* Reads a whole file of nationals. */
int
sf_import_parse(const char *data, size_t len, const struct sf_import_options *opt,
                struct sf_import_result **out)
{
	struct importer im;
	size_t skip = 0;

	if (out != NULL)
		*out = NULL;
	if ((data == NULL && len > 0) || opt == NULL || out == NULL)
		return SF_EINVAL;
	memset(&im, 0, sizeof im);
	im.opt = opt;
	im.res = calloc(1, sizeof *im.res);
	if (im.res == NULL)
		return SF_ENOMEM;
	im.max_rows = opt->max_rows > 0 ? opt->max_rows : SF_IMPORT_ROWS_DEFAULT;
	im.max_errors = opt->max_errors > 0 ? opt->max_errors : SF_IMPORT_ERRORS_DEFAULT;
	im.home = opt->default_country != NULL && opt->default_country[0] != '\0'
	              ? opt->default_country
	              : NULL;
	im.home_is_kr = im.home != NULL && strcasecmp(im.home, "KR") == 0;
	if (data == NULL)
		data = "";

	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		skip = 3;
	if (!import_options_bad(&im) && !import_refuse_binary(&im, data, len)) {
		enum sf_import_format format = opt->format;

		if (format != SF_IMPORT_CSV && format != SF_IMPORT_JSON) {
			size_t i = skip;

			while (i < len && import_is_space((unsigned char)data[i]))
				i++;
			format = i < len && (data[i] == '[' || data[i] == '{') ? SF_IMPORT_JSON
			                                                       : SF_IMPORT_CSV;
		}
		im.res->format = format;
		if (format == SF_IMPORT_JSON)
			import_json_run(&im, data + skip, len - skip);
		else
			import_csv_run(&im, data + skip, len - skip);
	}

	import_buf_free(&im.rec.text);
	import_buf_free(&im.build.text);
	import_buf_free(&im.tmp);
	free(im.passports.slots);
	free(im.people.slots);
	free(im.people.hashes);
	for (size_t i = 0; i < im.nwarned_keys; i++)
		free(im.warned_keys[i]);
	free(im.warned_keys);
	if (im.rc == SF_ENOMEM) {
		sf_import_result_free(im.res);
		return SF_ENOMEM;
	}
	if (im.res->file_error) {
		for (size_t i = 0; i < im.res->nrows; i++)
			free(im.res->rows[i].storage);
		im.res->nrows = 0;
	}
	*out = im.res;
	return im.rc;
}

/* Frees the entries of a mapping. */
void
sf_import_mapping_clear(struct sf_import_mapping *mapping)
{
	if (mapping == NULL)
		return;
	for (size_t i = 0; i < mapping->count; i++)
		free(mapping->entries[i].header);
	free(mapping->entries);
	mapping->entries = NULL;
	mapping->count = 0;
}

/* Tells whether s, after spaces, starts with a field name and '='. */
static bool
import_starts_pair(const char *s)
{
	char name[32];
	size_t n = 0;
	enum sf_import_field f;

	while (*s == ' ' || *s == '\t')
		s++;
	for (; (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'; s++) {
		if (n + 1 == sizeof name)
			return false;
		name[n++] = *s;
	}
	name[n] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == '=' && sf_import_field_lookup(name, &f) == 0;
}

/* Checks one "field=header" pair and appends it to entries; returns 0 or an error. */
static int
import_mapping_pair(const char *s, size_t n, const struct sf_import_mapping *have,
                    struct sf_import_map_entry *entries, size_t *count, char *err, size_t errsz)
{
	const char *eq, *h, *nm;
	char name[32];
	size_t nn, hn;
	enum sf_import_field f;

	s = import_trim(s, &n);
	eq = memchr(s, '=', n);
	if (eq == NULL)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "mapping: expected field=header, e.g. phone=연락처");
	nn = (size_t)(eq - s);
	nm = import_trim(s, &nn);
	if (nn == 0 || nn >= sizeof name)
		return sf_error_set(err, errsz, SF_EINVAL, "mapping: no field name before '='");
	memcpy(name, nm, nn);
	name[nn] = '\0';
	if (sf_import_field_lookup(name, &f) != 0)
		return sf_error_set(
		    err, errsz, SF_EINVAL,
		    "mapping: unknown field '%.31s'; fields are name_ko, name_latin, "
		    "name, birth_date, passport_no, phone, email, address, "
		    "residence_status, kind, arrival_date, departure_date, household, "
		    "needs, languages, lat, lon, location, notes, external_ref",
		    name);
	hn = (size_t)(s + n - eq - 1);
	h = import_trim(eq + 1, &hn);
	if (hn == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "mapping: %s= has no header",
		                    import_field_names[f]);
	if (hn > SF_IMPORT_CELL_MAX || u8_check((const uint8_t *)h, hn) != NULL ||
	    memchr(h, '\0', hn) != NULL)
		return sf_error_set(
		    err, errsz, SF_EINVAL,
		    "mapping: the header of %s= is not UTF-8 text of at most %d bytes",
		    import_field_names[f], SF_IMPORT_CELL_MAX);
	for (size_t i = 0; i < have->count + *count; i++) {
		const struct sf_import_map_entry *e =
		    i < have->count ? &have->entries[i] : &entries[i - have->count];

		if (e->field == f)
			return sf_error_set(err, errsz, SF_EINVAL, "mapping: %s mapped twice",
			                    import_field_names[f]);
		if (strlen(e->header) == hn && strncasecmp(e->header, h, hn) == 0)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "mapping: one header mapped to %s and %s",
			                    import_field_names[e->field], import_field_names[f]);
	}
	if (have->count + *count >= SF_IMPORT_MAPPING_MAX)
		return sf_error_set(err, errsz, SF_ETOOLONG, "mapping: more than %d columns",
		                    SF_IMPORT_MAPPING_MAX);
	entries[*count].field = f;
	entries[*count].header = malloc(hn + 1);
	if (entries[*count].header == NULL)
		return sf_error_set(err, errsz, SF_ENOMEM, "mapping: out of memory");
	memcpy(entries[*count].header, h, hn);
	entries[*count].header[hn] = '\0';
	(*count)++;
	return 0;
}

/* Adds the "field=header" pairs of a --map option to a mapping. */
int
sf_import_parse_mapping(const char *spec, struct sf_import_mapping *mapping, char *err,
                        size_t errsz)
{
	struct sf_import_map_entry entries[SF_IMPORT_MAPPING_MAX], *grown;
	size_t count = 0, start = 0, i;
	int rc = 0;

	if (spec == NULL || mapping == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "mapping: missing");
	for (i = 0;; i++) {
		/* A comma separates pairs only when a field name and '=' follow it. */
		if (spec[i] != '\0' && !(spec[i] == ',' && import_starts_pair(spec + i + 1)))
			continue;
		rc = import_mapping_pair(spec + start, i - start, mapping, entries, &count, err,
		                         errsz);
		if (rc != 0 || spec[i] == '\0')
			break;
		start = i + 1;
	}
	if (rc == 0) {
		grown = realloc(mapping->entries, (mapping->count + count) * sizeof *grown);
		if (grown == NULL && mapping->count + count > 0)
			rc = sf_error_set(err, errsz, SF_ENOMEM, "mapping: out of memory");
		else {
			mapping->entries = grown;
			memcpy(mapping->entries + mapping->count, entries, count * sizeof *entries);
			mapping->count += count;
			return 0;
		}
	}
	for (i = 0; i < count; i++)
		free(entries[i].header);
	return rc;
}

/* Where a COPY line is written. */
struct import_copy {
	char *buf;
	size_t size;
	size_t len;
	bool overflow;
};

/* Appends bytes as they are. */
static void
import_copy_raw(struct import_copy *o, const char *s, size_t n)
{
	if (o->overflow || o->size - o->len <= n) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* Appends a value in COPY text form: \N for NULL, backslash escapes; then a tab unless last. */
static void
import_copy_text(struct import_copy *o, const char *s, bool last)
{
	if (s == NULL) {
		import_copy_raw(o, "\\N", 2);
	} else {
		while (*s != '\0') {
			size_t run = strcspn(s, "\\\t\n\r");

			import_copy_raw(o, s, run);
			s += run;
			switch (*s) {
			case '\\':
				import_copy_raw(o, "\\\\", 2);
				break;
			case '\t':
				import_copy_raw(o, "\\t", 2);
				break;
			case '\n':
				import_copy_raw(o, "\\n", 2);
				break;
			case '\r':
				import_copy_raw(o, "\\r", 2);
				break;
			default:
				continue;
			}
			s++;
		}
	}
	import_copy_raw(o, last ? "\n" : "\t", 1);
}

/* Appends a list of strings as a PostgreSQL array literal, each element double-quoted. */
static void
import_copy_array(struct import_copy *o, const char *const *items, size_t n)
{
	char lit[SF_IMPORT_CONTACTS_MAX * (2 * SF_EMAIL_SIZE + 3) + 3];
	size_t len = 0;

	lit[len++] = '{';
	for (size_t i = 0; i < n && i < SF_IMPORT_CONTACTS_MAX; i++) {
		if (i > 0)
			lit[len++] = ',';
		lit[len++] = '"';
		for (const char *s = items[i]; *s != '\0' && len + 4 < sizeof lit; s++) {
			if (*s == '"' || *s == '\\')
				lit[len++] = '\\';
			lit[len++] = *s;
		}
		lit[len++] = '"';
	}
	lit[len++] = '}';
	lit[len] = '\0';
	import_copy_text(o, lit, false);
}

/* Writes a row as a line of COPY text format. */
int
sf_import_row_copy_text(const struct sf_import_row *row, char *buf, size_t bufsz, size_t *len_out)
{
	struct import_copy o = {buf, bufsz, 0, false};
	char num[48];

	if (len_out != NULL)
		*len_out = 0;
	if (row == NULL || buf == NULL || len_out == NULL)
		return SF_EINVAL;
	snprintf(num, sizeof num, "%zu", row->line);
	import_copy_text(&o, num, false);
	import_copy_text(&o, row->name_ko, false);
	import_copy_text(&o, row->name_latin, false);
	import_copy_text(&o, row->name_key, false);
	import_copy_text(&o, row->birth_date, false);
	import_copy_text(&o, row->passport_no, false);
	/* NULL when the file did not say, so the merge keeps what is stored. */
	import_copy_text(&o, row->kind_given ? row->kind : NULL, false);
	import_copy_text(&o, row->arrival_date, false);
	import_copy_text(&o, row->departure_date, false);
	import_copy_text(&o, row->household_ref, false);
	import_copy_text(&o, row->needs, false);
	import_copy_text(&o, row->languages_given ? row->languages : NULL, false);
	import_copy_text(&o, row->address, false);
	import_copy_text(&o, row->residence_status, false);
	import_copy_text(&o, row->notes, false);
	import_copy_text(&o, row->external_ref, false);
	import_copy_array(&o, row->phones, row->nphones);
	import_copy_array(&o, row->emails, row->nemails);
	if (row->has_point) {
		import_format_coord(row->lat, num, sizeof num);
		import_copy_text(&o, num, false);
		import_format_coord(row->lon, num, sizeof num);
		import_copy_text(&o, num, true);
	} else {
		import_copy_text(&o, NULL, false);
		import_copy_text(&o, NULL, true);
	}
	if (o.overflow) {
		if (bufsz > 0)
			buf[0] = '\0';
		return SF_ETOOLONG;
	}
	buf[o.len] = '\0';
	*len_out = o.len;
	return 0;
}
