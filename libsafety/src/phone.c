/*
 * Phone numbers to E.164. A table of every ITU-T country calling code lets a
 * number written with '+' or 00 from anywhere pass on length alone; the
 * countries where nationals most often have to be reached get numbering plans
 * (trunk prefix, lengths, mobile ranges) precise enough to read national forms
 * and to catch typing mistakes. The rules and their sources are in rules.md.
 */
#include <safety/phone.h>
#include <safety/error.h>

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <unictype.h>
#include <unistr.h>

/* Digits kept from the input: E.164's 15 and room for dialling prefixes. */
#define PHONE_DIGITS_MAX 24
#define E164_DIGITS_MAX 15
#define E164_DIGITS_MIN 8

/* A range of national significant numbers (NSN: the digits after the country code). */
struct phone_range {
	const char *prefix; /* its leading digits; "" matches every number */
	unsigned char min;  /* NSN length in digits */
	unsigned char max;
	bool mobile; /* a mobile range, also read without the trunk prefix */
};

/* The numbering plan of a country known in detail. */
struct phone_plan {
	unsigned short cc;
	const char *name;  /* for messages */
	const char *trunk; /* national (trunk) prefix dialled before the NSN */
	const char *intl;  /* international prefix other than 00, or NULL */
	bool nanp;         /* North American area code and exchange rules */
	unsigned char nsn_min;
	unsigned char nsn_max;
	const struct phone_range *ranges; /* ends with a NULL prefix */
};

/* A country calling code and one territory that uses it. */
struct calling_code {
	unsigned short cc;
	char iso[3]; /* ISO 3166 alpha-2; "" for codes of no country */
};

/* A trunk prefix other than "0", for countries without a detailed plan. */
struct trunk_rule {
	char iso[3];
	const char *trunk;
};

/* A North American area code that is not in the United States. */
struct area_code {
	unsigned short area;
	char iso[3];
};

/* A Korean international (carrier) prefix, dialled instead of 00. */
static const char *const kr_carrier_prefixes[] = {"001", "002", "005", "006", "008", "00700"};

static const struct phone_range kr_ranges[] = {
    {"10", 10, 10, true}, /* 010-XXXX-XXXX */
    {"11", 9, 10, true},   {"16", 9, 10, true},  {"17", 9, 10, true},  {"18", 9, 10, true},
    {"19", 9, 10, true},   {"2", 8, 9, false}, /* Seoul: 02-XXX-XXXX, 02-XXXX-XXXX */
    {"31", 9, 10, false},  {"32", 9, 10, false}, {"33", 9, 10, false}, {"41", 9, 10, false},
    {"42", 9, 10, false},  {"43", 9, 10, false}, {"44", 9, 10, false}, {"51", 9, 10, false},
    {"52", 9, 10, false},  {"53", 9, 10, false}, {"54", 9, 10, false}, {"55", 9, 10, false},
    {"61", 9, 10, false},  {"62", 9, 10, false}, {"63", 9, 10, false}, {"64", 9, 10, false},
    {"50", 10, 11, false}, /* personal numbers 050X */
    {"70", 10, 10, false}, /* internet telephony 070 */
    {NULL, 0, 0, false},
};

static const struct phone_range tr_ranges[] = {
    {"5", 10, 10, true},  {"2", 10, 10, false}, {"3", 10, 10, false},
    {"4", 10, 10, false}, {"8", 10, 10, false}, {NULL, 0, 0, false},
};

static const struct phone_range ua_ranges[] = {
    {"39", 9, 9, true}, {"50", 9, 9, true}, {"63", 9, 9, true},  {"66", 9, 9, true},
    {"67", 9, 9, true}, {"68", 9, 9, true}, {"73", 9, 9, true},  {"75", 9, 9, true},
    {"77", 9, 9, true}, {"9", 9, 9, true},  {"3", 9, 9, false},  {"4", 9, 9, false},
    {"5", 9, 9, false}, {"6", 9, 9, false}, {NULL, 0, 0, false},
};

static const struct phone_range th_ranges[] = {
    {"14", 9, 9, true},  {"10", 8, 8, false}, {"16", 8, 8, false}, {"18", 8, 8, false},
    {"19", 8, 8, false}, {"6", 9, 9, true},   {"8", 9, 9, true},   {"9", 9, 9, true},
    {"2", 8, 8, false},  {"3", 8, 8, false},  {"4", 8, 8, false},  {"5", 8, 8, false},
    {"7", 8, 8, false},  {NULL, 0, 0, false},
};

static const struct phone_range jp_ranges[] = {
    {"70", 10, 10, true}, {"80", 10, 10, true}, {"90", 10, 10, true}, {"50", 10, 10, false},
    {"1", 9, 9, false},   {"2", 9, 9, false},   {"3", 9, 9, false},   {"4", 9, 9, false},
    {"5", 9, 9, false},   {"6", 9, 9, false},   {"7", 9, 9, false},   {"8", 9, 9, false},
    {"9", 9, 9, false},   {NULL, 0, 0, false},
};

static const struct phone_range cn_ranges[] = {
    /* Mobiles are dialled without the trunk prefix inside China too. */
    {"13", 11, 11, true}, {"14", 11, 11, true}, {"15", 11, 11, true}, {"16", 11, 11, true},
    {"17", 11, 11, true}, {"18", 11, 11, true}, {"19", 11, 11, true}, {"10", 10, 10, false},
    {"2", 10, 10, false}, {"3", 10, 11, false}, {"4", 10, 11, false}, {"5", 10, 11, false},
    {"6", 10, 11, false}, {"7", 10, 11, false}, {"8", 10, 11, false}, {"9", 10, 11, false},
    {NULL, 0, 0, false},
};

static const struct phone_range nanp_ranges[] = {
    {"", 10, 10, true},
    {NULL, 0, 0, false},
};

/* British areas are 011x to 019x: 010, the old international prefix, is no number. */
static const struct phone_range gb_ranges[] = {
    {"71", 10, 10, true}, {"72", 10, 10, true}, {"73", 10, 10, true}, {"74", 10, 10, true},
    {"75", 10, 10, true}, {"77", 10, 10, true}, {"78", 10, 10, true}, {"79", 10, 10, true},
    {"7", 10, 10, false}, {"11", 9, 10, false}, {"12", 9, 10, false}, {"13", 9, 10, false},
    {"14", 9, 10, false}, {"15", 9, 10, false}, {"16", 9, 10, false}, {"17", 9, 10, false},
    {"18", 9, 10, false}, {"19", 9, 10, false}, {"2", 10, 10, false}, {"3", 10, 10, false},
    {"5", 10, 10, false}, {"8", 9, 10, false},  {"9", 10, 10, false}, {NULL, 0, 0, false},
};

static const struct phone_range de_ranges[] = {
    {"15", 10, 11, true}, {"16", 10, 11, true}, {"17", 10, 11, true}, {"2", 6, 11, false},
    {"3", 6, 11, false},  {"4", 6, 11, false},  {"5", 6, 11, false},  {"6", 6, 11, false},
    {"7", 6, 11, false},  {"8", 6, 11, false},  {"9", 6, 11, false},  {NULL, 0, 0, false},
};

static const struct phone_range fr_ranges[] = {
    {"6", 9, 9, true},  {"7", 9, 9, true},   {"1", 9, 9, false}, {"2", 9, 9, false},
    {"3", 9, 9, false}, {"4", 9, 9, false},  {"5", 9, 9, false}, {"8", 9, 9, false},
    {"9", 9, 9, false}, {NULL, 0, 0, false},
};

static const struct phone_range vn_ranges[] = {
    {"3", 9, 9, true}, {"5", 9, 9, true},    {"7", 9, 9, true},   {"8", 9, 9, true},
    {"9", 9, 9, true}, {"2", 10, 10, false}, {NULL, 0, 0, false},
};

static const struct phone_range ph_ranges[] = {
    {"9", 10, 10, true}, {"2", 8, 9, false}, {"3", 8, 9, false},
    {"4", 8, 9, false},  {"5", 8, 9, false}, {"6", 8, 9, false},
    {"7", 8, 9, false},  {"8", 8, 9, false}, {NULL, 0, 0, false},
};

static const struct phone_range il_ranges[] = {
    {"5", 9, 9, true},  {"7", 9, 9, false}, {"2", 8, 8, false}, {"3", 8, 8, false},
    {"4", 8, 8, false}, {"8", 8, 8, false}, {"9", 8, 8, false}, {NULL, 0, 0, false},
};

static const struct phone_range lb_ranges[] = {
    {"3", 7, 7, true},  {"70", 8, 8, true}, {"71", 8, 8, true},  {"76", 8, 8, true},
    {"78", 8, 8, true}, {"79", 8, 8, true}, {"81", 8, 8, true},  {"1", 7, 7, false},
    {"4", 7, 7, false}, {"5", 7, 7, false}, {"6", 7, 7, false},  {"7", 7, 7, false},
    {"8", 7, 7, false}, {"9", 7, 7, false}, {NULL, 0, 0, false},
};

static const struct phone_range ru_ranges[] = {
    {"9", 10, 10, true},  {"70", 10, 10, true}, {"74", 10, 10, true}, {"77", 10, 10, true},
    {"3", 10, 10, false}, {"4", 10, 10, false}, {"8", 10, 10, false}, {"6", 10, 10, false},
    {"7", 10, 10, false}, {NULL, 0, 0, false},
};

/*
 * Argentina: 10-digit NSNs (an area code of 2 to 4 digits and the subscriber
 * number); a mobile is dialled from abroad as 9 and those 10 digits.
 */
static const struct phone_range ar_ranges[] = {
    {"911", 11, 11, true}, {"92", 11, 11, true}, {"93", 11, 11, true}, {"11", 10, 10, false},
    {"2", 10, 10, false},  {"3", 10, 10, false}, {"6", 10, 10, false}, {"800", 10, 11, false},
    {"8", 10, 10, false},  {NULL, 0, 0, false},
};

/*
 * Argentine area codes (those of libphonenumber's metadata): national mobiles
 * are written 0, area code, 15, subscriber, and only the area code tells
 * where the 15 is.
 */
static const char *const ar_areas[] = {
    "11",   "220",  "221",  "223",  "230",  "236",  "237",  "249",  "260",  "261",  "263",  "264",
    "266",  "280",  "291",  "294",  "297",  "298",  "299",  "336",  "341",  "342",  "343",  "345",
    "348",  "351",  "353",  "358",  "362",  "364",  "370",  "376",  "379",  "380",  "381",  "383",
    "385",  "387",  "388",  "2202", "2221", "2223", "2224", "2225", "2226", "2227", "2229", "2241",
    "2242", "2243", "2244", "2245", "2246", "2252", "2254", "2255", "2257", "2261", "2262", "2264",
    "2265", "2266", "2267", "2268", "2271", "2272", "2273", "2274", "2281", "2283", "2284", "2285",
    "2286", "2291", "2292", "2296", "2297", "2302", "2314", "2316", "2317", "2320", "2323", "2324",
    "2325", "2326", "2331", "2333", "2334", "2335", "2336", "2337", "2338", "2342", "2343", "2344",
    "2345", "2346", "2352", "2353", "2354", "2355", "2356", "2357", "2358", "2392", "2393", "2394",
    "2395", "2396", "2473", "2474", "2475", "2477", "2478", "2622", "2624", "2625", "2626", "2646",
    "2647", "2648", "2651", "2655", "2656", "2657", "2658", "2901", "2902", "2903", "2920", "2921",
    "2922", "2923", "2924", "2925", "2926", "2927", "2928", "2929", "2931", "2932", "2933", "2934",
    "2935", "2936", "2940", "2942", "2945", "2946", "2948", "2952", "2953", "2954", "2962", "2963",
    "2964", "2966", "2972", "2982", "2983", "3327", "3329", "3382", "3385", "3387", "3388", "3400",
    "3401", "3402", "3404", "3405", "3406", "3407", "3408", "3409", "3435", "3436", "3437", "3438",
    "3442", "3444", "3445", "3446", "3447", "3454", "3455", "3456", "3458", "3460", "3462", "3463",
    "3464", "3465", "3466", "3467", "3468", "3469", "3471", "3472", "3476", "3482", "3483", "3487",
    "3489", "3491", "3492", "3493", "3496", "3497", "3498", "3521", "3522", "3524", "3525", "3532",
    "3533", "3537", "3541", "3542", "3543", "3544", "3546", "3547", "3548", "3549", "3562", "3563",
    "3564", "3571", "3572", "3573", "3574", "3575", "3576", "3582", "3583", "3584", "3585", "3711",
    "3715", "3716", "3718", "3721", "3725", "3731", "3734", "3735", "3741", "3743", "3751", "3754",
    "3755", "3756", "3757", "3758", "3772", "3773", "3774", "3775", "3777", "3781", "3782", "3786",
    "3821", "3825", "3826", "3827", "3832", "3835", "3837", "3838", "3841", "3843", "3844", "3845",
    "3846", "3854", "3855", "3856", "3857", "3858", "3861", "3862", "3863", "3865", "3867", "3868",
    "3869", "3873", "3876", "3877", "3878", "3885", "3886", "3887", "3888", "3891", "3892", "3894",
};

static const struct phone_plan phone_plans[] = {
    {1, "North America", "1", "011", true, 10, 10, nanp_ranges},
    {7, "Russia or Kazakhstan", "8", "810", false, 10, 10, ru_ranges},
    {33, "France", "0", NULL, false, 9, 9, fr_ranges},
    {44, "the United Kingdom", "0", NULL, false, 9, 10, gb_ranges},
    {49, "Germany", "0", NULL, false, 6, 11, de_ranges},
    {54, "Argentina", "0", NULL, false, 10, 11, ar_ranges},
    {63, "the Philippines", "0", NULL, false, 8, 10, ph_ranges},
    {66, "Thailand", "0", NULL, false, 8, 9, th_ranges},
    {81, "Japan", "0", "010", false, 9, 10, jp_ranges},
    {82, "Korea", "0", NULL, false, 8, 11, kr_ranges},
    {84, "Vietnam", "0", NULL, false, 9, 10, vn_ranges},
    {86, "China", "0", NULL, false, 10, 11, cn_ranges},
    {90, "Türkiye", "0", NULL, false, 10, 10, tr_ranges},
    {380, "Ukraine", "0", NULL, false, 9, 9, ua_ranges},
    {961, "Lebanon", "0", NULL, false, 7, 8, lb_ranges},
    {972, "Israel", "0", NULL, false, 8, 9, il_ranges},
};

/*
 * Every assigned country calling code (ITU-T E.164 list of assigned codes).
 * The codes are prefix-free; the first row of a code is its main territory.
 */
static const struct calling_code calling_codes[] = {
    {1, "US"},   {1, "CA"},   {1, "AG"},   {1, "AI"},   {1, "AS"},   {1, "BB"},   {1, "BM"},
    {1, "BS"},   {1, "DM"},   {1, "DO"},   {1, "GD"},   {1, "GU"},   {1, "JM"},   {1, "KN"},
    {1, "KY"},   {1, "LC"},   {1, "MP"},   {1, "MS"},   {1, "PR"},   {1, "SX"},   {1, "TC"},
    {1, "TT"},   {1, "VC"},   {1, "VG"},   {1, "VI"},   {7, "RU"},   {7, "KZ"},   {20, "EG"},
    {27, "ZA"},  {30, "GR"},  {31, "NL"},  {32, "BE"},  {33, "FR"},  {34, "ES"},  {36, "HU"},
    {39, "IT"},  {39, "VA"},  {40, "RO"},  {41, "CH"},  {43, "AT"},  {44, "GB"},  {44, "GG"},
    {44, "IM"},  {44, "JE"},  {45, "DK"},  {46, "SE"},  {47, "NO"},  {47, "SJ"},  {48, "PL"},
    {49, "DE"},  {51, "PE"},  {52, "MX"},  {53, "CU"},  {54, "AR"},  {55, "BR"},  {56, "CL"},
    {57, "CO"},  {58, "VE"},  {60, "MY"},  {61, "AU"},  {61, "CX"},  {61, "CC"},  {62, "ID"},
    {63, "PH"},  {64, "NZ"},  {65, "SG"},  {66, "TH"},  {81, "JP"},  {82, "KR"},  {84, "VN"},
    {86, "CN"},  {90, "TR"},  {91, "IN"},  {92, "PK"},  {93, "AF"},  {94, "LK"},  {95, "MM"},
    {98, "IR"},  {211, "SS"}, {212, "MA"}, {212, "EH"}, {213, "DZ"}, {216, "TN"}, {218, "LY"},
    {220, "GM"}, {221, "SN"}, {222, "MR"}, {223, "ML"}, {224, "GN"}, {225, "CI"}, {226, "BF"},
    {227, "NE"}, {228, "TG"}, {229, "BJ"}, {230, "MU"}, {231, "LR"}, {232, "SL"}, {233, "GH"},
    {234, "NG"}, {235, "TD"}, {236, "CF"}, {237, "CM"}, {238, "CV"}, {239, "ST"}, {240, "GQ"},
    {241, "GA"}, {242, "CG"}, {243, "CD"}, {244, "AO"}, {245, "GW"}, {246, "IO"}, {247, "AC"},
    {248, "SC"}, {249, "SD"}, {250, "RW"}, {251, "ET"}, {252, "SO"}, {253, "DJ"}, {254, "KE"},
    {255, "TZ"}, {256, "UG"}, {257, "BI"}, {258, "MZ"}, {260, "ZM"}, {261, "MG"}, {262, "RE"},
    {262, "YT"}, {263, "ZW"}, {264, "NA"}, {265, "MW"}, {266, "LS"}, {267, "BW"}, {268, "SZ"},
    {269, "KM"}, {290, "SH"}, {290, "TA"}, {291, "ER"}, {297, "AW"}, {298, "FO"}, {299, "GL"},
    {350, "GI"}, {351, "PT"}, {352, "LU"}, {353, "IE"}, {354, "IS"}, {355, "AL"}, {356, "MT"},
    {357, "CY"}, {358, "FI"}, {358, "AX"}, {359, "BG"}, {370, "LT"}, {371, "LV"}, {372, "EE"},
    {373, "MD"}, {374, "AM"}, {375, "BY"}, {376, "AD"}, {377, "MC"}, {378, "SM"}, {380, "UA"},
    {381, "RS"}, {382, "ME"}, {383, "XK"}, {385, "HR"}, {386, "SI"}, {387, "BA"}, {389, "MK"},
    {420, "CZ"}, {421, "SK"}, {423, "LI"}, {500, "FK"}, {501, "BZ"}, {502, "GT"}, {503, "SV"},
    {504, "HN"}, {505, "NI"}, {506, "CR"}, {507, "PA"}, {508, "PM"}, {509, "HT"}, {590, "GP"},
    {590, "BL"}, {590, "MF"}, {591, "BO"}, {592, "GY"}, {593, "EC"}, {594, "GF"}, {595, "PY"},
    {596, "MQ"}, {597, "SR"}, {598, "UY"}, {599, "CW"}, {599, "BQ"}, {670, "TL"}, {672, "NF"},
    {673, "BN"}, {674, "NR"}, {675, "PG"}, {676, "TO"}, {677, "SB"}, {678, "VU"}, {679, "FJ"},
    {680, "PW"}, {681, "WF"}, {682, "CK"}, {683, "NU"}, {685, "WS"}, {686, "KI"}, {687, "NC"},
    {688, "TV"}, {689, "PF"}, {690, "TK"}, {691, "FM"}, {692, "MH"}, {800, ""},   {808, ""},
    {850, "KP"}, {852, "HK"}, {853, "MO"}, {855, "KH"}, {856, "LA"}, {870, ""},   {880, "BD"},
    {881, ""},   {882, ""},   {883, ""},   {886, "TW"}, {888, ""},   {960, "MV"}, {961, "LB"},
    {962, "JO"}, {963, "SY"}, {964, "IQ"}, {965, "KW"}, {966, "SA"}, {967, "YE"}, {968, "OM"},
    {970, "PS"}, {971, "AE"}, {972, "IL"}, {973, "BH"}, {974, "QA"}, {975, "BT"}, {976, "MN"},
    {977, "NP"}, {979, ""},   {992, "TJ"}, {993, "TM"}, {994, "AZ"}, {995, "GE"}, {996, "KG"},
    {998, "UZ"},
};

/*
 * The lengths national significant numbers of each calling code have (bit n
 * set: n digits), from libphonenumber's metadata. Used only to tell which of
 * two readings of a number dialled with 00 is plausible, never to refuse one.
 */
static const struct nsn_lengths {
	unsigned short cc;
	uint32_t mask;
} nsn_lengths[] = {
    {1, 0x00480},   {7, 0x04400},   {20, 0x00700},  {27, 0x007e0},  {30, 0x01c00},  {31, 0x00fe0},
    {32, 0x00300},  {33, 0x00200},  {34, 0x00200},  {36, 0x00300},  {39, 0x01fc0},  {40, 0x00240},
    {41, 0x01200},  {43, 0x03ff0},  {44, 0x00680},  {45, 0x00100},  {46, 0x017c0},  {47, 0x00120},
    {48, 0x007c0},  {49, 0x0fff0},  {51, 0x00300},  {52, 0x00c00},  {53, 0x005c0},  {54, 0x00c00},
    {55, 0x00f00},  {56, 0x00e00},  {57, 0x00c00},  {58, 0x00400},  {60, 0x00700},  {61, 0x017e0},
    {62, 0x03f80},  {63, 0x03f40},  {64, 0x007e0},  {65, 0x00d00},  {66, 0x02700},  {81, 0x3ff00},
    {82, 0x07f60},  {84, 0x00780},  {86, 0x01f80},  {90, 0x03480},  {91, 0x03f00},  {92, 0x01f00},
    {93, 0x00200},  {94, 0x00200},  {95, 0x007c0},  {98, 0x004f0},  {211, 0x00200}, {212, 0x00200},
    {213, 0x00300}, {216, 0x00100}, {218, 0x00200}, {220, 0x00080}, {221, 0x00200}, {222, 0x00100},
    {223, 0x00100}, {224, 0x00300}, {225, 0x00400}, {226, 0x00100}, {227, 0x00100}, {228, 0x00100},
    {229, 0x00100}, {230, 0x00580}, {231, 0x00380}, {232, 0x00100}, {233, 0x00300}, {234, 0x07d80},
    {235, 0x00100}, {236, 0x00100}, {237, 0x00300}, {238, 0x00080}, {239, 0x00080}, {240, 0x00200},
    {241, 0x00180}, {242, 0x00200}, {243, 0x00280}, {244, 0x00200}, {245, 0x00280}, {246, 0x00080},
    {247, 0x00060}, {248, 0x00080}, {249, 0x00200}, {250, 0x00300}, {251, 0x00200}, {252, 0x003c0},
    {253, 0x00100}, {254, 0x00780}, {255, 0x00200}, {256, 0x00200}, {257, 0x00100}, {258, 0x00300},
    {260, 0x00200}, {261, 0x00200}, {262, 0x00200}, {263, 0x007e0}, {264, 0x00300}, {265, 0x00280},
    {266, 0x00100}, {267, 0x00580}, {268, 0x00300}, {269, 0x00080}, {290, 0x00030}, {291, 0x00080},
    {297, 0x00080}, {298, 0x00040}, {299, 0x00040}, {350, 0x00100}, {351, 0x00200}, {352, 0x00ff0},
    {353, 0x00780}, {354, 0x00280}, {355, 0x003c0}, {356, 0x00100}, {357, 0x00100}, {358, 0x01fe0},
    {359, 0x003c0}, {370, 0x00100}, {371, 0x00100}, {372, 0x00580}, {373, 0x00100}, {374, 0x00100},
    {375, 0x00fc0}, {376, 0x00340}, {377, 0x00300}, {378, 0x00500}, {380, 0x00600}, {381, 0x01fc0},
    {382, 0x00300}, {383, 0x00300}, {385, 0x003c0}, {386, 0x001e0}, {387, 0x00300}, {389, 0x00100},
    {420, 0x01e00}, {421, 0x002c0}, {423, 0x00280}, {500, 0x00020}, {501, 0x00880}, {502, 0x00900},
    {503, 0x00980}, {504, 0x00900}, {505, 0x00100}, {506, 0x00500}, {507, 0x00d80}, {508, 0x00240},
    {509, 0x00100}, {590, 0x00200}, {591, 0x00300}, {592, 0x00080}, {593, 0x00f00}, {594, 0x00200},
    {595, 0x00fc0}, {596, 0x00200}, {597, 0x000c0}, {598, 0x00580}, {599, 0x00180}, {670, 0x00180},
    {672, 0x00040}, {673, 0x00080}, {674, 0x00080}, {675, 0x00180}, {676, 0x000a0}, {677, 0x000a0},
    {678, 0x000a0}, {679, 0x00880}, {680, 0x00080}, {681, 0x00240}, {682, 0x00020}, {683, 0x00090},
    {685, 0x004e0}, {686, 0x00120}, {687, 0x00040}, {688, 0x000e0}, {689, 0x00340}, {690, 0x000f0},
    {691, 0x00080}, {692, 0x00080}, {800, 0x00100}, {808, 0x00100}, {850, 0x00500}, {852, 0x00be0},
    {853, 0x00180}, {855, 0x00700}, {856, 0x00700}, {870, 0x01200}, {878, 0x01000}, {880, 0x007c0},
    {881, 0x00200}, {882, 0x01f80}, {883, 0x01600}, {886, 0x00f80}, {888, 0x00800}, {960, 0x00480},
    {961, 0x00180}, {962, 0x00300}, {963, 0x00300}, {964, 0x00700}, {965, 0x00180}, {966, 0x00600},
    {967, 0x00380}, {968, 0x00380}, {970, 0x00700}, {971, 0x01fe0}, {972, 0x01f80}, {973, 0x00100},
    {974, 0x00380}, {975, 0x00180}, {976, 0x00700}, {977, 0x00d00}, {979, 0x00200}, {992, 0x00200},
    {993, 0x00100}, {994, 0x00200}, {995, 0x00200}, {996, 0x00600}, {998, 0x00200},
};

/*
 * Countries without a detailed plan whose trunk prefix is not "0" (the
 * national prefixes of libphonenumber's metadata, which follow the plans
 * published to the ITU). An empty trunk means numbers are dialled in full
 * inside the country. Colombia (since 2021), Liechtenstein and Mexico
 * (since 2019) write national numbers without a prefix although the
 * metadata still lists one.
 */
static const struct trunk_rule trunk_rules[] = {
    {"AC", ""},  {"AD", ""},  {"AO", ""},   {"AW", ""}, {"BF", ""},  {"BH", ""},  {"BI", ""},
    {"BJ", ""},  {"BN", ""},  {"BQ", ""},   {"BT", ""}, {"BW", ""},  {"BZ", ""},  {"CF", ""},
    {"CG", ""},  {"CI", ""},  {"CK", ""},   {"CL", ""}, {"CM", ""},  {"CO", ""},  {"CR", ""},
    {"CV", ""},  {"CW", ""},  {"CY", ""},   {"CZ", ""}, {"DJ", ""},  {"DK", ""},  {"EE", ""},
    {"ES", ""},  {"FJ", ""},  {"FK", ""},   {"FM", ""}, {"FO", ""},  {"GA", ""},  {"GI", ""},
    {"GL", ""},  {"GM", ""},  {"GN", ""},   {"GQ", ""}, {"GR", ""},  {"GT", ""},  {"GW", ""},
    {"GY", ""},  {"HK", ""},  {"HN", ""},   {"HT", ""}, {"IO", ""},  {"IS", ""},  {"IT", ""},
    {"KM", ""},  {"KW", ""},  {"LI", ""},   {"LS", ""}, {"LU", ""},  {"LV", ""},  {"ML", ""},
    {"MO", ""},  {"MR", ""},  {"MT", ""},   {"MU", ""}, {"MV", ""},  {"MX", ""},  {"MZ", ""},
    {"NC", ""},  {"NE", ""},  {"NF", ""},   {"NI", ""}, {"NO", ""},  {"NR", ""},  {"NU", ""},
    {"OM", ""},  {"PA", ""},  {"PF", ""},   {"PG", ""}, {"PL", ""},  {"PT", ""},  {"PW", ""},
    {"QA", ""},  {"SB", ""},  {"SC", ""},   {"SG", ""}, {"SH", ""},  {"SJ", ""},  {"SM", ""},
    {"SN", ""},  {"SR", ""},  {"ST", ""},   {"SV", ""}, {"SZ", ""},  {"TA", ""},  {"TD", ""},
    {"TG", ""},  {"TJ", ""},  {"TK", ""},   {"TL", ""}, {"TN", ""},  {"TO", ""},  {"TV", ""},
    {"VA", ""},  {"VU", ""},  {"WF", ""},   {"WS", ""}, {"BY", "8"}, {"LT", "8"}, {"TM", "8"},
    {"UZ", "8"}, {"MH", "1"}, {"HU", "06"},
};

/*
 * Countries without a trunk prefix where numbers of people (landlines or
 * mobiles) really begin with 0: Italian, Vatican and San Marino landlines,
 * Ivorian numbers since 2021, the 0x mobiles of Burkina Faso, Gabon,
 * Congo-Brazzaville and Tajikistan. Elsewhere a leading 0 is a trunk prefix
 * typed out of habit, not a digit (where only freephone numbers begin with
 * 0, as in Botswana or Macau, it is still refused: no person answers them).
 */
static const char zero_first[][3] = {"BF", "CG", "CI", "GA", "IT", "SM", "TJ", "VA"};

/* North American area codes outside the United States (NANPA assignments). */
static const struct area_code nanp_areas[] = {
    {204, "CA"}, {226, "CA"}, {236, "CA"}, {242, "BS"}, {246, "BB"}, {249, "CA"}, {250, "CA"},
    {257, "CA"}, {263, "CA"}, {264, "AI"}, {268, "AG"}, {284, "VG"}, {289, "CA"}, {306, "CA"},
    {340, "VI"}, {343, "CA"}, {345, "KY"}, {354, "CA"}, {365, "CA"}, {367, "CA"}, {368, "CA"},
    {382, "CA"}, {403, "CA"}, {416, "CA"}, {418, "CA"}, {428, "CA"}, {431, "CA"}, {437, "CA"},
    {438, "CA"}, {441, "BM"}, {450, "CA"}, {468, "CA"}, {473, "GD"}, {474, "CA"}, {506, "CA"},
    {514, "CA"}, {519, "CA"}, {548, "CA"}, {579, "CA"}, {581, "CA"}, {584, "CA"}, {587, "CA"},
    {604, "CA"}, {613, "CA"}, {639, "CA"}, {647, "CA"}, {649, "TC"}, {658, "JM"}, {664, "MS"},
    {670, "MP"}, {671, "GU"}, {672, "CA"}, {683, "CA"}, {684, "AS"}, {705, "CA"}, {709, "CA"},
    {721, "SX"}, {742, "CA"}, {753, "CA"}, {758, "LC"}, {767, "DM"}, {778, "CA"}, {780, "CA"},
    {782, "CA"}, {784, "VC"}, {787, "PR"}, {807, "CA"}, {809, "DO"}, {819, "CA"}, {825, "CA"},
    {829, "DO"}, {849, "DO"}, {867, "CA"}, {868, "TT"}, {869, "KN"}, {873, "CA"}, {876, "JM"},
    {879, "CA"}, {902, "CA"}, {905, "CA"}, {939, "PR"}, {942, "CA"},
};

#define NITEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Tells whether a character only decorates a number: spaces, dashes, dots, brackets, slashes. */
static bool
phone_is_separator(ucs4_t uc)
{
	switch (uc) {
	case '.':
	case '/':
	case 0x200b: /* zero width space, left behind by copy and paste */
	case 0x2060: /* word joiner */
	case 0xfeff: /* byte order mark at the start of a spreadsheet cell */
	case 0x2212: /* minus sign */
	case 0xff0e: /* full-width full stop */
	case 0xff0f: /* full-width solidus */
		return true;
	}
	if (uc_is_property_white_space(uc))
		return true;
	return uc_is_general_category_withtable(uc, UC_CATEGORY_MASK_Pd | UC_CATEGORY_MASK_Ps |
	                                                UC_CATEGORY_MASK_Pe);
}

/* What kind of character a refused one is, for messages that never quote it. */
static const char *
phone_mark_kind(ucs4_t uc)
{
	switch (uc) {
	case ',':
	case ';':
		return "a comma or semicolon is not allowed: give one number";
	case '#':
	case '*':
		return "a key sign (# or *) is not allowed";
	case ':':
		return "a colon is not allowed";
	}
	if (uc < 0x20 || uc == 0x7f || (uc >= 0x80 && uc < 0xa0))
		return "a control character is not allowed";
	if (uc < 0x80)
		return "a punctuation mark is not allowed";
	return "a symbol or punctuation mark is not allowed";
}

/*
 * Collects the digits of input and whether it began with '+'; rejects anything
 * else. group is the number of digits before the first separator that follows
 * a digit (all of them when none does): how the writer grouped the prefix.
 * breaks has bit k set when a separator stands before the digit that has k
 * digits from it to the end: counted from the end, since every reading keeps
 * a tail of the digits as the national number.
 */
static int
phone_scan(const char *input, char *digits, size_t *ndigits, size_t *group, uint32_t *breaks,
           bool *plus, char *err, size_t errsz)
{
	const uint8_t *s = (const uint8_t *)input;
	size_t len = strlen(input), i = 0, n = 0;
	uint32_t before = 0; /* bit j: a separator before digit j */
	bool visible = false;
	ucs4_t uc;
	int k, value;

	*plus = false;
	*group = SIZE_MAX;
	*breaks = 0;
	while (i < len) {
		k = u8_mbtoucr(&uc, s + i, len - i);
		if (k < 0)
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "phone: not valid UTF-8 at byte %zu", i);
		value = uc_decimal_value(uc);
		if (value >= 0) {
			if (n < PHONE_DIGITS_MAX)
				digits[n] = (char)('0' + value);
			n++;
		} else if (uc == '+' || uc == 0xff0b) {
			if (*plus)
				return sf_error_set(err, errsz, SF_EINVAL,
				                    "phone: more than one '+'");
			if (n > 0)
				return sf_error_set(err, errsz, SF_EINVAL,
				                    "phone: '+' must come before the digits");
			*plus = true;
		} else if (phone_is_separator(uc)) {
			if (n > 0 && *group == SIZE_MAX)
				*group = n;
			if (n > 0 && n < PHONE_DIGITS_MAX)
				before |= (uint32_t)1 << n;
			if (!uc_is_property_white_space(uc))
				visible = true;
		} else if (uc_is_alpha(uc)) {
			/* Where, not which: a message may be shown or logged. */
			return sf_error_set(err, errsz, SF_EINVAL,
			                    "phone: letters are not allowed (a letter at byte %zu; "
			                    "one number only, without notes or an extension)",
			                    i);
		} else {
			return sf_error_set(err, errsz, SF_EINVAL, "phone: %s (byte %zu)",
			                    phone_mark_kind(uc), i);
		}
		i += (size_t)k;
	}
	if (n == 0) {
		if (*plus)
			return sf_error_set(err, errsz, SF_EINVAL, "phone: no digits after '+'");
		if (!visible)
			return sf_error_set(err, errsz, SF_EINVAL, "phone: empty");
		return sf_error_set(err, errsz, SF_EINVAL, "phone: no digits");
	}
	if (n > PHONE_DIGITS_MAX)
		return sf_error_set(err, errsz, SF_ERANGE, "phone: too many digits: %zu", n);
	digits[n] = '\0';
	*ndigits = n;
	if (*group == SIZE_MAX)
		*group = n;
	for (size_t j = 1; j < n; j++) {
		if (before >> j & 1u)
			*breaks |= (uint32_t)1 << (n - j);
	}
	return 0;
}

/* Finds the country calling code at the start of d (codes are prefix-free). */
static const struct calling_code *
phone_code_match(const char *d, size_t n, size_t *cclen)
{
	unsigned value = 0;

	for (size_t len = 1; len <= 3 && len <= n; len++) {
		value = value * 10 + (unsigned)(d[len - 1] - '0');
		for (size_t i = 0; i < NITEMS(calling_codes); i++) {
			if (calling_codes[i].cc == value) {
				*cclen = len;
				return &calling_codes[i];
			}
		}
	}
	return NULL;
}

/* Finds the calling code of an ISO 3166 alpha-2 country code, any case. */
static const struct calling_code *
phone_code_by_iso(const char *iso)
{
	char up[3];

	if (strlen(iso) != 2)
		return NULL;
	for (int i = 0; i < 2; i++) {
		if (iso[i] >= 'a' && iso[i] <= 'z')
			up[i] = (char)(iso[i] - 'a' + 'A');
		else if (iso[i] >= 'A' && iso[i] <= 'Z')
			up[i] = iso[i];
		else
			return NULL;
	}
	up[2] = '\0';
	for (size_t i = 0; i < NITEMS(calling_codes); i++) {
		if (strcmp(calling_codes[i].iso, up) == 0)
			return &calling_codes[i];
	}
	return NULL;
}

/* Returns the detailed plan of a calling code, or NULL. */
static const struct phone_plan *
phone_plan_of(unsigned cc)
{
	for (size_t i = 0; i < NITEMS(phone_plans); i++) {
		if (phone_plans[i].cc == cc)
			return &phone_plans[i];
	}
	return NULL;
}

/* Returns the trunk prefix dialled before national numbers in a territory. */
static const char *
phone_trunk_of(const struct calling_code *code)
{
	const struct phone_plan *plan = phone_plan_of(code->cc);

	if (plan != NULL)
		return plan->trunk;
	if (code->iso[0] == '\0')
		return "";
	for (size_t i = 0; i < NITEMS(trunk_rules); i++) {
		if (strcmp(trunk_rules[i].iso, code->iso) == 0)
			return trunk_rules[i].trunk;
	}
	return "0";
}

/* Tells whether a territory's national significant numbers may begin with 0. */
static bool
phone_zero_first(const struct calling_code *code)
{
	if (code->iso[0] == '\0')
		return true; /* networks and freephone: no plan known, the length rule only */
	if (phone_trunk_of(code)[0] != '\0')
		return false;
	for (size_t i = 0; i < NITEMS(zero_first); i++) {
		if (strcmp(zero_first[i], code->iso) == 0)
			return true;
	}
	return false;
}

/* Tells whether digits are a Korean mobile in national form: 010 and 8 digits. */
static bool
phone_is_korean_mobile(const char *d, size_t n)
{
	return n == 11 && memcmp(d, "010", 3) == 0;
}

/* Writes "10" or "9 to 10" for a message about lengths. */
static void
phone_need(char *buf, size_t size, unsigned min, unsigned max)
{
	if (min == max)
		snprintf(buf, size, "%u", min);
	else
		snprintf(buf, size, "%u to %u", min, max);
}

/* Checks a North American number: area code and exchange start with 2-9, no N11 area code. */
static int
phone_nanp_check(const char *nsn, char *err, size_t errsz)
{
	if (nsn[0] < '2')
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "phone: no North American area code starts with %c", nsn[0]);
	if (nsn[1] == '1' && nsn[2] == '1')
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "phone: %.3s is a service code, not an area code", nsn);
	if (nsn[3] < '2')
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "phone: no North American exchange starts with %c", nsn[3]);
	return 0;
}

/* Tells whether a range's prefix begins nsn. */
static bool
phone_range_matches(const struct phone_range *r, const char *nsn, size_t n)
{
	size_t pl = strlen(r->prefix);

	return pl <= n && memcmp(nsn, r->prefix, pl) == 0;
}

/* Checks a national significant number against a detailed plan. */
static int
phone_plan_check(const struct phone_plan *plan, const char *nsn, size_t n, char *err, size_t errsz)
{
	const struct phone_range *r, *best = NULL;
	char need[16];
	bool first_digit_used = false;

	if (n < plan->nsn_min || n > plan->nsn_max) {
		phone_need(need, sizeof need, plan->nsn_min, plan->nsn_max);
		return sf_error_set(
		    err, errsz, SF_ERANGE, "phone: too %s digits for %s (+%u): %zu, need %s",
		    n < plan->nsn_min ? "few" : "many", plan->name, plan->cc, n, need);
	}
	/* Ranges may overlap (Lebanon's 81 mobiles, 8 landlines); any fit will do. */
	for (r = plan->ranges; r->prefix != NULL; r++) {
		if (r->prefix[0] != '\0' && r->prefix[0] == nsn[0])
			first_digit_used = true;
		if (!phone_range_matches(r, nsn, n))
			continue;
		if (n >= r->min && n <= r->max)
			return plan->nanp ? phone_nanp_check(nsn, err, errsz) : 0;
		if (best == NULL || strlen(r->prefix) > strlen(best->prefix))
			best = r;
	}
	if (best == NULL)
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "phone: no %s (+%u) numbers start with %.*s", plan->name,
		                    plan->cc, first_digit_used ? 2 : 1, nsn);
	phone_need(need, sizeof need, best->min, best->max);
	return sf_error_set(
	    err, errsz, SF_ERANGE, "phone: too %s digits for %s (+%u %s): %zu, need %s",
	    n < best->min ? "few" : "many", plan->name, plan->cc, best->prefix, n, need);
}

/* Checks a number of a country without a detailed plan: 8 to 15 digits in all. */
static int
phone_generic_check(const struct calling_code *code, size_t cclen, size_t n, char *err,
                    size_t errsz)
{
	size_t total = cclen + n;
	/* Niue, Tokelau and Tristan da Cunha (+290 8…) still have four-digit numbers. */
	size_t min = (code->cc == 683 || code->cc == 690 || code->cc == 290) ? 7 : E164_DIGITS_MIN;

	if (total < min)
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "phone: too few digits for +%u: %zu in all, need at least %zu",
		                    code->cc, total, min);
	if (total > E164_DIGITS_MAX)
		return sf_error_set(err, errsz, SF_ERANGE,
		                    "phone: too many digits for +%u: %zu in all, at most %d",
		                    code->cc, total, E164_DIGITS_MAX);
	return 0;
}

/* Tells whether the first len digits of d are an Argentine area code. */
static bool
phone_ar_area(const char *d, size_t len)
{
	for (size_t i = 0; i < NITEMS(ar_areas); i++) {
		if (strlen(ar_areas[i]) == len && memcmp(ar_areas[i], d, len) == 0)
			return true;
	}
	return false;
}

/*
 * Rewrites an Argentine mobile written with 15 after the area code (national
 * 0 11 15 2345 6789, or +54 11 15… and +54 9 11 15… from abroad) into its
 * international form, 9, area code, subscriber: dialled as written from
 * abroad it reaches another line, or none. The area code is the one of 2 to
 * 4 digits the 15 follows with 10 digits left for area code and subscriber;
 * when more than one length fits, the table of area codes decides, and the
 * writer's separator before the 15 where no code is known. A number whose
 * area code stays unclear is refused: guessed, an SMS would reach a stranger.
 * Other numbers are copied unchanged. out holds at least n digits.
 */
static int
phone_ar_mobile(const char *nsn, size_t n, uint32_t breaks, char *out, size_t *outn, char *err,
                size_t errsz)
{
	const char *d = nsn;
	size_t m = n, known = 0, grouped = 0, area = 0;
	size_t known_len = 0, grouped_len = 0, fits = 0;

	if (m == 13 && d[0] == '9') {
		d++;
		m--;
	}
	/* Area codes are 11 and codes beginning with 2 or 3. */
	if (m != 12 || (d[0] != '2' && d[0] != '3' && memcmp(d, "11", 2) != 0)) {
		memcpy(out, nsn, n);
		*outn = n;
		return 0;
	}
	for (size_t len = 2; len <= 4; len++) {
		if (d[len] != '1' || d[len + 1] != '5')
			continue;
		fits++;
		if (phone_ar_area(d, len)) {
			known++;
			known_len = len;
		}
		if (breaks >> (m - len) & 1u) {
			grouped++;
			grouped_len = len;
		}
	}
	if (fits == 0) {
		memcpy(out, nsn, n);
		*outn = n;
		return 0; /* too long for any Argentine number: the plan says so */
	}
	if (known == 1 && (grouped != 1 || grouped_len == known_len))
		area = known_len;
	else if (known != 1 && grouped == 1 && (known == 0 || phone_ar_area(d, grouped_len)))
		area = grouped_len;
	if (area == 0)
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "phone: ambiguous Argentine mobile: the area code before 15 is "
		                    "unclear; write +54 9, the area code and the number");
	out[0] = '9';
	memcpy(out + 1, d, area);
	memcpy(out + 1 + area, d + area + 2, m - area - 2);
	*outn = m - 1;
	return 0;
}

/*
 * Checks a national significant number and writes "+<cc><nsn>" into e164.
 * nsn is the tail of the digits read; breaks is phone_scan's.
 */
static int
phone_finish(const struct calling_code *code, const char *nsn, size_t n, uint32_t breaks,
             char *e164, char *err, size_t errsz)
{
	const struct phone_plan *plan = phone_plan_of(code->cc);
	char cc[8], ar[PHONE_DIGITS_MAX];
	size_t cclen;
	int rc;

	if (code->cc == 54) {
		rc = phone_ar_mobile(nsn, n, breaks, ar, &n, err, errsz);
		if (rc != 0)
			return rc;
		nsn = ar;
	}
	snprintf(cc, sizeof cc, "%u", code->cc);
	cclen = strlen(cc);
	if (plan != NULL)
		rc = phone_plan_check(plan, nsn, n, err, errsz);
	else if (n > 0 && nsn[0] == '0' && phone_trunk_of(code)[0] != '\0')
		/* Where 0 is dialled only as a trunk prefix, no number begins with it. */
		rc = sf_error_set(err, errsz, SF_ERANGE,
		                  "phone: no +%u numbers start with 0 after the country code",
		                  code->cc);
	else if (n > 0 && nsn[0] == '0' && !phone_zero_first(code))
		/* Kept, the habitual 0 would make a number that reaches nobody. */
		rc = sf_error_set(err, errsz, SF_ERANGE,
		                  "phone: no %s (+%u) numbers start with 0; %s has no trunk prefix",
		                  code->iso, code->cc, code->iso);
	else
		rc = phone_generic_check(code, cclen, n, err, errsz);
	if (rc != 0)
		return rc;
	e164[0] = '+';
	memcpy(e164 + 1, cc, cclen);
	memcpy(e164 + 1 + cclen, nsn, n);
	e164[1 + cclen + n] = '\0';
	return 0;
}

/* Reads digits that follow '+' or an international prefix: country code, then number. */
static int
phone_from_international(const char *d, size_t n, uint32_t breaks, char *e164, unsigned *cc_out,
                         char *err, size_t errsz)
{
	const struct calling_code *code;
	size_t cclen;

	*cc_out = 0;
	if (n == 0)
		return sf_error_set(err, errsz, SF_EINVAL, "phone: no digits after the '+' or 00");
	if (d[0] == '0')
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "phone: a country code never starts with 0");
	code = phone_code_match(d, n, &cclen);
	if (code == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "phone: unknown country code +%.*s",
		                    n < 3 ? (int)n : 3, d);
	*cc_out = code->cc;
	d += cclen;
	n -= cclen;
	/* "+82 (0)10…" and "+82 010…": the trunk 0 written after the country code. */
	if (n > 0 && d[0] == '0' && strcmp(phone_trunk_of(code), "0") == 0) {
		d++;
		n--;
	}
	return phone_finish(code, d, n, breaks, e164, err, errsz);
}

/* How much of what is known of its country a reading of a number fits. */
enum phone_fit {
	PHONE_FIT_NONE,   /* refused */
	PHONE_FIT_LOOSE,  /* 8 to 15 digits, but no number of its country is that long */
	PHONE_FIT_LENGTH, /* a length its country's numbers have; no detailed plan */
	PHONE_FIT_PLAN,   /* valid under a detailed plan */
};

/* Rates a reading: rc and cc from phone_from_international, e164 its result. */
static enum phone_fit
phone_fit_of(int rc, unsigned cc, const char *e164)
{
	char buf[8];
	size_t nsn;

	if (rc != 0)
		return PHONE_FIT_NONE;
	if (phone_plan_of(cc) != NULL)
		return PHONE_FIT_PLAN;
	nsn = strlen(e164) - 1 - (size_t)snprintf(buf, sizeof buf, "%u", cc);
	for (size_t i = 0; i < NITEMS(nsn_lengths); i++) {
		if (nsn_lengths[i].cc == cc)
			return nsn < 32 && (nsn_lengths[i].mask >> nsn & 1u) != 0 ? PHONE_FIT_LENGTH
			                                                          : PHONE_FIT_LOOSE;
	}
	return PHONE_FIT_LENGTH; /* nothing known beyond the length rule */
}

/*
 * Tells whether a refused reading after '+' or 00 is one digit from a valid
 * number, one digit short or one too many: a mistyped number of that
 * country more likely than another country's number.
 */
static bool
phone_near_miss(const char *d, size_t n, uint32_t breaks)
{
	char buf[PHONE_DIGITS_MAX + 1], e164[SF_PHONE_E164_SIZE];
	unsigned cc;

	if (n > 1 && phone_from_international(d, n - 1, breaks >> 1, e164, &cc, NULL, 0) == 0)
		return true;
	if (n + 1 > PHONE_DIGITS_MAX)
		return false;
	memcpy(buf, d, n);
	buf[n] = '0';
	return phone_from_international(buf, n + 1, breaks << 1, e164, &cc, NULL, 0) == 0;
}

/*
 * Tells whether the writer grouped the digits after 001 unlike a North
 * American number (area code, exchange, line: 3, 3, 4): "001 61 2 9876 5432"
 * is grouped as an Australian number, "001 212 555 123" as an American one.
 * np is the number of digits after 001.
 */
static bool
phone_grouped_unlike_nanp(size_t np, uint32_t breaks)
{
	for (size_t k = 1; k < np && k < 32; k++) {
		if ((breaks >> k & 1u) && k + 3 != np && k + 6 != np)
			return true;
	}
	return false;
}

/*
 * Reads a number dialled with 00, or with one of Korea's carrier prefixes
 * (001, 002, 005, 006, 008, 00700), which also begin with 00. Both readings
 * are made; 00 is everyone's international prefix, the carrier prefixes are
 * Korean practice. group is how many digits the writer put before the first
 * separator: "002 90 532…" and "00 90 532…", "0058 261…" say which was meant.
 *
 * A number whose plain reading is refused is read after a carrier prefix
 * when a detailed plan vouches for that reading, or when its country uses
 * numbers of its length and the writer put a separator right after the
 * carrier prefix or writes at a Korean mission. A plain reading one digit
 * from valid is a mistyped number ("001 212 555 123" is a US number one digit
 * short, not a Moroccan one) unless the grouping contradicts it: a separator
 * inside the plain reading's country code, or after 001 a grouping no North
 * American number has.
 *
 * 00870, 00881, 00882…: satellite phones and international networks are
 * dialled with 00, so 008 there is no carrier, unless the writer's separator
 * after 008 says so ("008 82 10-1234-5678"), or, written without separators,
 * the carrier reading is valid under a detailed plan while the plain one
 * only has a length its network uses.
 *
 * When both fit, the carrier reading competes only at a Korean mission or
 * when it is a Korean number; then the grouping decides, else a plain reading
 * valid under a detailed plan beats a carrier one of length only. Anything
 * left is refused as ambiguous: a wrong guess would send help to another
 * country.
 */
static int
phone_from_double_zero(const char *d, size_t n, size_t group, uint32_t breaks,
                       const struct calling_code *home, char *e164, char *err, size_t errsz)
{
	char pmsg[160], cmsg[160], cbuf[SF_PHONE_E164_SIZE];
	const struct calling_code *pcode;
	enum phone_fit pfit, cfit = PHONE_FIT_NONE;
	size_t pl = 0, cclen = 0;
	unsigned pcc = 0, ccc = 0;
	bool at_kr = home != NULL && home->cc == 82;
	bool network, cut;
	int prc, crc;

	prc = phone_from_international(d + 2, n - 2, breaks, e164, &pcc, pmsg, sizeof pmsg);
	pfit = phone_fit_of(prc, pcc, e164);
	pcode = phone_code_match(d + 2, n - 2, &cclen);
	network = pcode != NULL && pcode->iso[0] == '\0';
	for (size_t i = 0; i < NITEMS(kr_carrier_prefixes); i++) {
		size_t len = strlen(kr_carrier_prefixes[i]);

		if (n > len && memcmp(d, kr_carrier_prefixes[i], len) == 0) {
			pl = len;
			break;
		}
	}
	if (pl > 0) {
		crc =
		    phone_from_international(d + pl, n - pl, breaks, cbuf, &ccc, cmsg, sizeof cmsg);
		cfit = phone_fit_of(crc, ccc, cbuf);
	}
	/* The writer's separator after the carrier prefix cuts the plain reading's country code. */
	cut = pl > 0 && group == pl && (pcode == NULL || pl != 2 + cclen);
	if (cfit == PHONE_FIT_NONE || (prc == 0 && strcmp(e164, cbuf) == 0))
		goto plain;
	if (network) {
		if (cut && cfit >= PHONE_FIT_LENGTH)
			goto carrier;
		if (group == n && cfit == PHONE_FIT_PLAN && pfit <= PHONE_FIT_LENGTH)
			goto carrier;
		goto plain;
	}
	if (prc != 0) {
		if (cfit == PHONE_FIT_PLAN)
			goto carrier;
		if (cfit != PHONE_FIT_LENGTH)
			goto plain;
		/* The writer's grouping says 00 and a country code: "00 66 14…", "0066 14…". */
		if (group == 2 || (group == 2 + cclen && group != pl))
			goto plain;
		if (!phone_near_miss(d + 2, n - 2, breaks)) {
			if (group == pl || at_kr)
				goto carrier;
			goto plain;
		}
		if (cut || (pcc == 1 && phone_grouped_unlike_nanp(n - 3, breaks)))
			goto carrier;
		goto plain;
	}
	if (cfit == PHONE_FIT_LOOSE)
		goto plain;
	/* The plain reading has a length its country never uses. */
	if (pfit == PHONE_FIT_LOOSE && (cfit == PHONE_FIT_PLAN || at_kr))
		goto carrier;
	/* Elsewhere a carrier prefix is a Korean's way of writing a Korean number. */
	if (pfit != PHONE_FIT_LOOSE && !at_kr && !(ccc == 82 && cfit == PHONE_FIT_PLAN))
		goto plain;
	if (group == pl && group != 2 + cclen)
		goto carrier;
	if (group == 2 || (group == 2 + cclen && group != pl))
		goto plain;
	if (pfit == PHONE_FIT_PLAN && cfit == PHONE_FIT_LENGTH)
		goto plain;
	return sf_error_set(err, errsz, SF_EINVAL,
	                    "phone: ambiguous: %.*s may be a Korean carrier prefix or 00 and a "
	                    "country code; write + and the country code",
	                    (int)pl, d);
carrier:
	memcpy(e164, cbuf, sizeof cbuf);
	return 0;
plain:
	if (prc == 0)
		return 0;
	if (at_kr && cfit >= PHONE_FIT_LENGTH)
		return sf_error_set(err, errsz, prc,
		                    "%s (if %.*s is a Korean carrier prefix, write + and the "
		                    "country code instead)",
		                    pmsg, (int)pl, d);
	return sf_error_set(err, errsz, prc, "%s", pmsg);
}

/* Tells whether d begins like a mobile number of the plan (prefix only). */
static bool
phone_looks_mobile(const struct phone_plan *plan, const char *d, size_t n)
{
	for (const struct phone_range *r = plan->ranges; r->prefix != NULL; r++) {
		if (r->mobile && r->prefix[0] != '\0' && phone_range_matches(r, d, n))
			return true;
	}
	return false;
}

/* Reads a number in the national form of the home country. */
static int
phone_from_national(const char *d, size_t n, uint32_t breaks, const struct calling_code *home,
                    char *e164, char *err, size_t errsz)
{
	const struct phone_plan *plan = phone_plan_of(home->cc);
	const char *trunk = phone_trunk_of(home);
	size_t tl = strlen(trunk), cclen;
	char cc[8];

	if (tl > 0 && n >= tl && memcmp(d, trunk, tl) == 0)
		return phone_finish(home, d + tl, n - tl, breaks, e164, err, errsz);
	if (tl == 0 || (plan != NULL && plan->nanp))
		return phone_finish(home, d, n, breaks, e164, err, errsz);
	if (plan != NULL) {
		/*
		 * Spreadsheets drop leading zeros: a mobile number without its
		 * trunk prefix is unambiguous, since the plan's lengths decide.
		 */
		int mobile_rc = 0;

		if (phone_looks_mobile(plan, d, n)) {
			mobile_rc = phone_finish(home, d, n, breaks, e164, err, errsz);
			if (mobile_rc == 0)
				return 0;
		}
		/*
		 * … and the '+' of an international number, tried also when the
		 * digits look like a mobile: Thailand's 66… and Vietnam's 84… begin
		 * like their own mobiles.
		 */
		snprintf(cc, sizeof cc, "%u", home->cc);
		cclen = strlen(cc);
		if (n > cclen && memcmp(d, cc, cclen) == 0) {
			const char *nsn = d + cclen;
			size_t nn = n - cclen;

			if (nsn[0] == '0' && strcmp(trunk, "0") == 0) {
				nsn++;
				nn--;
			}
			if (phone_plan_check(plan, nsn, nn, NULL, 0) == 0)
				return phone_finish(home, nsn, nn, breaks, e164, err, errsz);
		}
		if (mobile_rc != 0)
			return mobile_rc; /* the mobile reading's message is already in err */
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "phone: a national number in %s starts with %s; or write +%u "
		                    "before it",
		                    plan->name, trunk, plan->cc);
	}
	return sf_error_set(err, errsz, SF_EINVAL,
	                    "phone: a national number in %s starts with %s; or write +%u before it",
	                    home->iso, trunk, home->cc);
}

/* Normalises a phone number to E.164. */
int
sf_phone_normalize(const char *input, const char *default_country, char *out, size_t outsz,
                   char *err, size_t errsz)
{
	const struct calling_code *home = NULL;
	const struct phone_plan *plan = NULL;
	char digits[PHONE_DIGITS_MAX + 1], e164[SF_PHONE_E164_SIZE], msg[200];
	size_t n = 0, group = 0, len;
	uint32_t breaks = 0;
	unsigned cc;
	bool plus;
	int rc;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (input == NULL || out == NULL)
		return sf_error_set(err, errsz, SF_EINVAL, "phone: missing");
	if (default_country != NULL && default_country[0] != '\0') {
		home = phone_code_by_iso(default_country);
		if (home == NULL)
			return sf_error_set(err, errsz, SF_EINVAL, "phone: unknown country '%.8s'",
			                    default_country);
		plan = phone_plan_of(home->cc);
	}
	rc = phone_scan(input, digits, &n, &group, &breaks, &plus, err, errsz);
	if (rc != 0)
		return rc;

	if (plus) {
		rc = phone_from_international(digits, n, breaks, e164, &cc, err, errsz);
	} else if (n >= 2 && digits[0] == '0' && digits[1] == '0') {
		rc = phone_from_double_zero(digits, n, group, breaks, home, e164, err, errsz);
	} else if (plan != NULL && plan->intl != NULL && !phone_is_korean_mobile(digits, n) &&
	           strncmp(digits, plan->intl, strlen(plan->intl)) == 0) {
		/* Not 010-XXXX-XXXX in Japan: a Korean mobile, not a call to +98 or +2x. */
		len = strlen(plan->intl);
		rc = phone_from_international(digits + len, n - len, breaks, e164, &cc, err, errsz);
	} else if (home == NULL) {
		return sf_error_set(err, errsz, SF_EINVAL,
		                    "phone: national number and no default country; write + and "
		                    "the country code first");
	} else {
		rc = phone_from_national(digits, n, breaks, home, e164, msg, sizeof msg);
		/*
		 * Without a detailed plan any 8 to 15 digits pass, so 010 and 8
		 * digits would become a stranger's number. Only Egypt, whose 010
		 * mobiles have exactly that form, keeps it; a plan keeps it only
		 * where a range holds it (China: 010 is Beijing).
		 */
		if (rc == 0 && plan == NULL && home->cc != 20 && phone_is_korean_mobile(digits, n))
			rc = sf_error_set(msg, sizeof msg, SF_ERANGE,
			                  "phone: 010 and 8 digits is no known number format of %s",
			                  home->iso);
		/*
		 * The registry's most common mistake: a Korean mobile typed in
		 * another country. The hint does not repeat the number, since
		 * messages may be logged.
		 */
		if (rc != 0 && home->cc != 82 && phone_is_korean_mobile(digits, n))
			return sf_error_set(
			    err, errsz, rc,
			    "%s (a Korean mobile? write +82 10 and the 8 digits after "
			    "010)",
			    msg);
		if (rc != 0)
			return sf_error_set(err, errsz, rc, "%s", msg);
	}
	if (rc != 0)
		return rc;
	len = strlen(e164);
	if (len >= outsz)
		return sf_error_set(err, errsz, SF_ETOOLONG,
		                    "phone: output buffer too small: %zu bytes, need %zu", outsz,
		                    len + 1);
	memcpy(out, e164, len + 1);
	return 0;
}

/* Whether a number read as one of the mission's country is also a Korean mobile as written. */
bool
sf_phone_also_korean_mobile(const char *input, const char *default_country, char *warn,
                            size_t warnsz)
{
	char home[SF_PHONE_E164_SIZE], kr[SF_PHONE_E164_SIZE];

	if (warn != NULL && warnsz > 0)
		warn[0] = '\0';
	if (input == NULL || default_country == NULL || default_country[0] == '\0' ||
	    sf_phone_normalize(input, default_country, home, sizeof home, NULL, 0) != 0 ||
	    sf_phone_normalize(input, "KR", kr, sizeof kr, NULL, 0) != 0 || strcmp(home, kr) == 0 ||
	    strlen(kr) != 13 || strncmp(kr, "+8210", 5) != 0)
		return false;
	if (warn != NULL && warnsz > 0)
		snprintf(warn, warnsz,
		         "phone: read as a number of %.2s, but 010 and 8 digits is also how a "
		         "Korean mobile is written; if it is one, write +82 10 and the 8 digits "
		         "after 010",
		         default_country);
	return true;
}

/* Returns the ISO country of an E.164 number. */
int
sf_phone_country(const char *e164, char cc_out[3])
{
	const struct calling_code *code;
	const char *d, *iso;
	size_t n, cclen;
	unsigned area;

	if (cc_out == NULL)
		return SF_EINVAL;
	cc_out[0] = '\0';
	if (e164 == NULL || e164[0] != '+')
		return SF_EINVAL;
	d = e164 + 1;
	n = strlen(d);
	if (n == 0 || n > E164_DIGITS_MAX)
		return SF_EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (d[i] < '0' || d[i] > '9')
			return SF_EINVAL;
	}
	code = phone_code_match(d, n, &cclen);
	if (code == NULL)
		return SF_EINVAL;
	if (code->iso[0] == '\0')
		return SF_ENOTFOUND;
	iso = code->iso;
	if (code->cc == 1 && n >= 4) {
		area = (unsigned)((d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0'));
		for (size_t i = 0; i < NITEMS(nanp_areas); i++) {
			if (nanp_areas[i].area == area)
				iso = nanp_areas[i].iso;
		}
	} else if (code->cc == 7 && n >= 2 && (d[1] == '6' || d[1] == '7')) {
		iso = "KZ";
	}
	memcpy(cc_out, iso, 3);
	return 0;
}
