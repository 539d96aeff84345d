/*
 * safetyctl demo: a synthetic mission to try the system with. The places are
 * real (provinces, AFAD assembly points, the embassy, airports, hotels,
 * hospitals, border crossings, cities with their populations); the people are
 * made up, from a seeded generator, so the same seed gives the same people.
 * Everything is written in one transaction, the people through COPY.
 */
#include "ctl.h"

#include "xmalloc.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pwd.h>
#include <safety/name.h>
#include <safety/phone.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* The most people one run makes. */
#define DEMO_PEOPLE_MAX 1000000L
/* The largest household. */
#define DEMO_HOUSEHOLD_MAX 5
/* Capacities given to AFAD assembly points, which publish none. */
#define DEMO_AFAD_CAPACITY "100-1000"
/* C11 without extensions has no M_PI. */
#define DEMO_PI 3.14159265358979323846

static const char demo_usage[] =
    "usage: safetyctl demo --country TR|UA|TH [--people N] [--mission CODE] [--seed S]\n"
    "                      [--if-empty]\n"
    "\n"
    "Makes a synthetic mission to try the system with: the country's provinces as\n"
    "regions, shelters (for TR the AFAD assembly points of the 2023 earthquake\n"
    "provinces, with capacities assigned by the demo), the embassy, airports,\n"
    "hotels, hospitals and border crossings, and N made-up Korean nationals\n"
    "(default 3000) in households, spread over the country's cities by population.\n"
    "\n"
    "  --country TR|UA|TH  Türkiye (mission TR-ANK), Ukraine (UA-KYV), Thailand (TH-BKK)\n"
    "  --people N          how many people, 0 to 1000000 (default 3000)\n"
    "  --mission CODE      another mission code (made if missing)\n"
    "  --seed S            the generator's seed: the same seed, the same people (default 1)\n"
    "  --if-empty          do nothing when the mission already has nationals\n"
    "\n"
    "The place files are read from $SAFETY_DEMO_DIR, else from deploy/demo next to\n"
    "the configured sql_dir.\n";

/* A city people live in or visit. */
struct demo_city {
	const char *name;
	const char *region;  /* ISO 3166-2 code of its province */
	double lat, lon;     /* the centre */
	double population_k; /* thousands, approximately */
	double tourism;      /* relative share of short-stay visitors */
};

/* A real facility added to the shelters. */
struct demo_place {
	const char *ref; /* external_ref: the same on every run */
	const char *kind;
	const char *name;
	const char *address;
	double lat, lon;
	int capacity;
	bool medical;
	bool accessible;
	bool open;
};

/* Everything the demo needs to know about one country. */
struct demo_country {
	const char *code;
	const char *name;
	const char *mission_code;
	const char *mission_name;
	const char *timezone;
	const char *regions_file;
	const char *shelters_file; /* NULL: no public shelter list */
	const struct demo_city *cities;
	size_t ncities;
	const struct demo_place *places;
	size_t nplaces;
	/* Local mobile numbers: national-form prefixes, then this many random digits. */
	const char *const *mobile_prefixes;
	size_t nmobile_prefixes;
	int mobile_digits;
	/* Cities that always get a resident household (others rely on them). */
	const char *const *must;
	size_t nmust;
	/* The share of residents among the people, in percent. */
	int resident_pct;
};

/* Cities of Türkiye: province centres and resorts; populations of the province or town. */
static const struct demo_city demo_tr_cities[] = {
    {"İstanbul", "TR-34", 41.0370, 28.9850, 15650, 45},
    {"Ankara", "TR-06", 39.9334, 32.8597, 5750, 6},
    {"İzmir", "TR-35", 38.4192, 27.1287, 4460, 5},
    {"Bursa", "TR-16", 40.1885, 29.0610, 3190, 1},
    {"Antalya", "TR-07", 36.8969, 30.7133, 2690, 12},
    {"Konya", "TR-42", 37.8746, 32.4932, 2300, 1},
    {"Adana", "TR-01", 37.0000, 35.3213, 2270, 0.5},
    {"Şanlıurfa", "TR-63", 37.1591, 38.7969, 2170, 1},
    {"Gaziantep", "TR-27", 37.0662, 37.3833, 2150, 1},
    {"İzmit", "TR-41", 40.7654, 29.9408, 2080, 0},
    {"Mersin", "TR-33", 36.8121, 34.6415, 1920, 0.5},
    {"Diyarbakır", "TR-21", 37.9144, 40.2306, 1800, 0.3},
    {"Antakya", "TR-31", 36.2021, 36.1600, 1690, 0.5},
    {"Manisa", "TR-45", 38.6191, 27.4289, 1470, 0},
    {"Kayseri", "TR-38", 38.7205, 35.4826, 1440, 0.5},
    {"Samsun", "TR-55", 41.2867, 36.3300, 1380, 0.3},
    {"Balıkesir", "TR-10", 39.6484, 27.8826, 1260, 0.3},
    {"Kahramanmaraş", "TR-46", 37.5753, 36.9228, 1180, 0.2},
    {"Van", "TR-65", 38.5012, 43.3730, 1130, 0.3},
    {"Aydın", "TR-09", 37.8444, 27.8458, 1020, 0},
    {"Kuşadası", "TR-09", 37.8579, 27.2610, 130, 3},
    {"Tekirdağ", "TR-59", 40.9900, 27.5000, 1140, 0},
    {"Adapazarı", "TR-54", 40.7569, 30.3781, 1080, 0},
    {"Denizli", "TR-20", 37.7765, 29.0864, 1050, 0.5},
    {"Pamukkale", "TR-20", 37.9204, 29.1187, 10, 2},
    {"Bodrum", "TR-48", 37.0344, 27.4305, 190, 4},
    {"Fethiye", "TR-48", 36.6220, 29.1160, 170, 2},
    {"Marmaris", "TR-48", 36.8550, 28.2740, 100, 1},
    {"Eskişehir", "TR-26", 39.7767, 30.5206, 900, 0.3},
    {"Mardin", "TR-47", 37.3212, 40.7245, 870, 0.5},
    {"Malatya", "TR-44", 38.3552, 38.3095, 810, 0.2},
    {"Trabzon", "TR-61", 41.0027, 39.7168, 820, 0.8},
    {"Erzurum", "TR-25", 39.9043, 41.2679, 750, 0.3},
    {"Sivas", "TR-58", 39.7477, 37.0179, 640, 0},
    {"Adıyaman", "TR-02", 37.7648, 38.2786, 630, 0.2},
    {"Batman", "TR-72", 37.8812, 41.1351, 630, 0},
    {"Elazığ", "TR-23", 38.6810, 39.2264, 590, 0},
    {"Zonguldak", "TR-67", 41.4564, 31.7987, 590, 0},
    {"Çanakkale", "TR-17", 40.1553, 26.4142, 560, 1},
    {"Osmaniye", "TR-80", 37.0742, 36.2478, 560, 0},
    {"Edirne", "TR-22", 41.6771, 26.5557, 410, 0.5},
    {"Göreme", "TR-50", 38.6431, 34.8289, 310, 10},
    {"Kilis", "TR-79", 36.7184, 37.1212, 150, 0},
};

/* Cities of Ukraine, populations before 2022. */
static const struct demo_city demo_ua_cities[] = {
    {"Kyiv", "UA-30", 50.4501, 30.5234, 2950, 60},
    {"Kharkiv", "UA-63", 49.9935, 36.2304, 1430, 3},
    {"Odesa", "UA-51", 46.4825, 30.7233, 1010, 10},
    {"Dnipro", "UA-12", 48.4647, 35.0462, 970, 3},
    {"Lviv", "UA-46", 49.8397, 24.0297, 720, 15},
    {"Zaporizhzhia", "UA-23", 47.8388, 35.1396, 710, 1},
    {"Kryvyi Rih", "UA-12", 47.9105, 33.3918, 600, 0},
    {"Mykolaiv", "UA-48", 46.9750, 31.9946, 470, 0.5},
    {"Vinnytsia", "UA-05", 49.2331, 28.4682, 370, 0.5},
    {"Poltava", "UA-53", 49.5883, 34.5514, 280, 0.5},
    {"Chernihiv", "UA-74", 51.4982, 31.2893, 280, 0.5},
    {"Kherson", "UA-65", 46.6600, 32.6000, 280, 0.2},
    {"Cherkasy", "UA-71", 49.4444, 32.0598, 270, 0.3},
    {"Khmelnytskyi", "UA-68", 49.4230, 26.9871, 270, 0.2},
    {"Zhytomyr", "UA-18", 50.2547, 28.6587, 260, 0.2},
    {"Sumy", "UA-59", 50.9077, 34.7981, 260, 0.2},
    {"Chernivtsi", "UA-77", 48.2921, 25.9358, 260, 1},
    {"Rivne", "UA-56", 50.6199, 26.2516, 240, 0.2},
    {"Ivano-Frankivsk", "UA-26", 48.9226, 24.7111, 240, 1},
    {"Ternopil", "UA-61", 49.5535, 25.5948, 220, 0.3},
    {"Kropyvnytskyi", "UA-35", 48.5079, 32.2623, 220, 0.1},
    {"Lutsk", "UA-07", 50.7472, 25.3254, 210, 0.2},
    {"Kremenchuk", "UA-53", 49.0659, 33.4100, 210, 0},
    {"Bila Tserkva", "UA-32", 49.7968, 30.1311, 200, 0},
    {"Uzhhorod", "UA-21", 48.6208, 22.2879, 115, 1},
    {"Brovary", "UA-32", 50.5110, 30.7909, 110, 0},
    {"Boryspil", "UA-32", 50.3527, 30.9550, 60, 0},
};

/* Cities of Thailand: metropolitan provinces, towns and resorts. */
static const struct demo_city demo_th_cities[] = {
    {"Bangkok", "TH-10", 13.7400, 100.5400, 10500, 55},
    {"Nonthaburi", "TH-12", 13.8621, 100.5144, 1300, 0},
    {"Samut Prakan", "TH-11", 13.5991, 100.5998, 1350, 0},
    {"Pathum Thani", "TH-13", 14.0208, 100.5250, 1200, 0},
    {"Chiang Mai", "TH-50", 18.7883, 98.9853, 1000, 12},
    {"Pattaya", "TH-20", 12.9236, 100.8825, 330, 12},
    {"Si Racha", "TH-20", 13.1737, 100.9311, 400, 0},
    {"Nakhon Ratchasima", "TH-30", 14.9799, 102.0977, 450, 0.5},
    {"Khon Kaen", "TH-40", 16.4322, 102.8236, 400, 0.5},
    {"Udon Thani", "TH-41", 17.4138, 102.7872, 400, 0.5},
    {"Hat Yai", "TH-90", 7.0084, 100.4747, 400, 1},
    {"Phuket", "TH-83", 7.8804, 98.3923, 420, 15},
    {"Surat Thani", "TH-84", 9.1382, 99.3217, 200, 0.3},
    {"Ko Samui", "TH-84", 9.5120, 100.0136, 70, 5},
    {"Krabi", "TH-81", 8.0863, 98.9063, 100, 5},
    {"Nakhon Si Thammarat", "TH-80", 8.4304, 99.9631, 200, 0.2},
    {"Ubon Ratchathani", "TH-34", 15.2287, 104.8564, 200, 0.3},
    {"Chiang Rai", "TH-57", 19.9105, 99.8406, 200, 2},
    {"Phitsanulok", "TH-65", 16.8211, 100.2659, 200, 0.3},
    {"Nakhon Sawan", "TH-60", 15.7047, 100.1372, 150, 0.1},
    {"Rayong", "TH-21", 12.6814, 101.2816, 250, 0.5},
    {"Ayutthaya", "TH-14", 14.3532, 100.5689, 100, 2},
    {"Hua Hin", "TH-77", 12.5684, 99.9577, 100, 4},
    {"Kanchanaburi", "TH-71", 14.0228, 99.5328, 100, 1},
    {"Lampang", "TH-52", 18.2888, 99.4908, 150, 0.2},
};

/* Real facilities in Türkiye; coordinates approximate. Hospitals are medical shelters. */
static const struct demo_place demo_tr_places[] = {
    {"demo:tr:embassy-ankara", "embassy", "Embassy of the Republic of Korea in Ankara",
     "Alaçam Sokak 5, Çankaya, Ankara", 39.8935, 32.8600, 150, false, true, true},
    {"demo:tr:consulate-istanbul", "embassy",
     "Consulate General of the Republic of Korea in Istanbul", "Şişli, İstanbul", 41.0780, 29.0110,
     100, false, true, true},
    {"demo:tr:airport-ist", "airport", "İstanbul Airport (IST)", "Arnavutköy, İstanbul", 41.2753,
     28.7519, 5000, false, true, true},
    {"demo:tr:airport-saw", "airport", "Sabiha Gökçen International Airport (SAW)",
     "Pendik, İstanbul", 40.8986, 29.3092, 3000, false, true, true},
    {"demo:tr:airport-esb", "airport", "Ankara Esenboğa Airport (ESB)", "Çubuk, Ankara", 40.1281,
     32.9951, 3000, false, true, true},
    {"demo:tr:airport-ayt", "airport", "Antalya Airport (AYT)", "Muratpaşa, Antalya", 36.8987,
     30.8005, 3000, false, true, true},
    {"demo:tr:airport-adb", "airport", "İzmir Adnan Menderes Airport (ADB)", "Gaziemir, İzmir",
     38.2924, 27.1570, 2000, false, true, true},
    {"demo:tr:airport-ada", "airport", "Adana Şakirpaşa Airport (ADA)", "Seyhan, Adana", 36.9822,
     35.2804, 1500, false, true, true},
    {"demo:tr:airport-gzt", "airport", "Gaziantep Airport (GZT)", "Oğuzeli, Gaziantep", 36.9472,
     37.4787, 1500, false, true, true},
    {"demo:tr:hotel-swissotel-istanbul", "hotel", "Swissôtel The Bosphorus", "Beşiktaş, İstanbul",
     41.0405, 29.0000, 600, false, true, true},
    {"demo:tr:hotel-hilton-bosphorus", "hotel", "Hilton Istanbul Bosphorus", "Şişli, İstanbul",
     41.0428, 28.9904, 500, false, true, true},
    {"demo:tr:hotel-jw-ankara", "hotel", "JW Marriott Hotel Ankara", "Söğütözü, Ankara", 39.9087,
     32.7573, 400, false, true, true},
    {"demo:tr:hotel-sheraton-ankara", "hotel", "Sheraton Ankara Hotel & Convention Center",
     "Kavaklıdere, Çankaya, Ankara", 39.8983, 32.8617, 400, false, true, true},
    {"demo:tr:hotel-divan-gaziantep", "hotel", "Divan Gaziantep", "Şahinbey, Gaziantep", 37.0661,
     37.3822, 200, false, true, true},
    {"demo:tr:hospital-ankara-city", "shelter", "Ankara Bilkent City Hospital", "Çankaya, Ankara",
     39.9100, 32.7630, 300, true, true, true},
    {"demo:tr:hospital-basaksehir", "shelter", "Başakşehir Çam and Sakura City Hospital",
     "Başakşehir, İstanbul", 41.1057, 28.7852, 300, true, true, true},
    {"demo:tr:hospital-adana-city", "shelter", "Adana City Training and Research Hospital",
     "Yüreğir, Adana", 37.0486, 35.2848, 200, true, true, true},
    {"demo:tr:border-kapikule", "border_crossing", "Kapıkule border crossing (Bulgaria)", "Edirne",
     41.7146, 26.3564, 2000, false, false, true},
    {"demo:tr:border-ipsala", "border_crossing", "İpsala border crossing (Greece)",
     "İpsala, Edirne", 40.9211, 26.3578, 1500, false, false, true},
    {"demo:tr:border-sarp", "border_crossing", "Sarp border crossing (Georgia)",
     "Kemalpaşa, Artvin", 41.5203, 41.5475, 1500, false, false, true},
    {"demo:tr:border-gurbulak", "border_crossing", "Gürbulak border crossing (Iran)",
     "Doğubayazıt, Ağrı", 39.4100, 44.3500, 1000, false, false, true},
};

/* Real facilities in Ukraine. Airports are closed to civil flights since February 2022. */
static const struct demo_place demo_ua_places[] = {
    {"demo:ua:embassy-kyiv", "embassy", "Embassy of the Republic of Korea in Kyiv",
     "vul. Volodymyrska 43, Kyiv", 50.4504, 30.5125, 150, false, true, true},
    {"demo:ua:airport-kbp", "airport", "Boryspil International Airport (KBP)", "Boryspil", 50.3450,
     30.8947, 5000, false, true, false},
    {"demo:ua:airport-iev", "airport", "Kyiv International Airport Zhuliany (IEV)", "Kyiv", 50.4017,
     30.4497, 2000, false, true, false},
    {"demo:ua:airport-lwo", "airport", "Lviv Danylo Halytskyi International Airport (LWO)", "Lviv",
     49.8125, 23.9561, 2000, false, true, false},
    {"demo:ua:airport-ods", "airport", "Odesa International Airport (ODS)", "Odesa", 46.4268,
     30.6765, 2000, false, true, false},
    {"demo:ua:airport-rzeszow", "airport", "Rzeszów-Jasionka Airport (Poland)", "Jasionka, Poland",
     50.1100, 22.0190, 3000, false, true, true},
    {"demo:ua:hotel-hyatt-kyiv", "hotel", "Hyatt Regency Kyiv", "vul. Alla Tarasova 5, Kyiv",
     50.4536, 30.5163, 400, false, true, true},
    {"demo:ua:hotel-intercontinental-kyiv", "hotel", "InterContinental Kyiv",
     "vul. Velyka Zhytomyrska 2A, Kyiv", 50.4540, 30.5195, 400, false, true, true},
    {"demo:ua:hotel-fairmont-kyiv", "hotel", "Fairmont Grand Hotel Kyiv",
     "Naberezhno-Khreshchatytska 1, Kyiv", 50.4591, 30.5240, 500, false, true, true},
    {"demo:ua:hotel-leopolis-lviv", "hotel", "Hotel Leopolis", "vul. Teatralna 16, Lviv", 49.8418,
     24.0298, 100, false, true, true},
    {"demo:ua:hospital-okhmatdyt", "shelter", "Okhmatdyt National Children's Hospital",
     "vul. Chornovola 28/1, Kyiv", 50.4575, 30.4770, 200, true, true, true},
    {"demo:ua:hospital-lviv-regional", "shelter", "Lviv Regional Clinical Hospital",
     "vul. Chernihivska 7, Lviv", 49.8255, 24.0065, 200, true, true, true},
    {"demo:ua:border-shehyni", "border_crossing", "Shehyni-Medyka border crossing (Poland)",
     "Shehyni, Lviv oblast", 49.8000, 22.9600, 3000, false, false, true},
    {"demo:ua:border-krakovets", "border_crossing", "Krakovets-Korczowa border crossing (Poland)",
     "Krakovets, Lviv oblast", 49.9580, 23.1040, 2000, false, false, true},
    {"demo:ua:border-rava-ruska", "border_crossing", "Rava-Ruska-Hrebenne border crossing (Poland)",
     "Rava-Ruska, Lviv oblast", 50.2540, 23.6050, 2000, false, false, true},
    {"demo:ua:border-yahodyn", "border_crossing", "Yahodyn-Dorohusk border crossing (Poland)",
     "Yahodyn, Volyn oblast", 51.1839, 23.8217, 1500, false, false, true},
    {"demo:ua:border-chop", "border_crossing", "Chop-Záhony border crossing (Hungary)",
     "Chop, Zakarpattia oblast", 48.4180, 22.1870, 1500, false, false, true},
    {"demo:ua:border-porubne", "border_crossing", "Porubne-Siret border crossing (Romania)",
     "Porubne, Chernivtsi oblast", 47.9810, 26.0430, 1500, false, false, true},
    {"demo:ua:border-palanca", "border_crossing", "Maiaky-Udobne-Palanca border crossing (Moldova)",
     "Odesa oblast", 46.4160, 30.1630, 1000, false, false, true},
};

/* Real facilities in Thailand. */
static const struct demo_place demo_th_places[] = {
    {"demo:th:embassy-bangkok", "embassy", "Embassy of the Republic of Korea in Bangkok",
     "23 Thiam-Ruammit Road, Huai Khwang, Bangkok", 13.7776, 100.5745, 150, false, true, true},
    {"demo:th:airport-bkk", "airport", "Suvarnabhumi Airport (BKK)", "Samut Prakan", 13.6900,
     100.7501, 6000, false, true, true},
    {"demo:th:airport-dmk", "airport", "Don Mueang International Airport (DMK)", "Bangkok", 13.9126,
     100.6068, 3000, false, true, true},
    {"demo:th:airport-hkt", "airport", "Phuket International Airport (HKT)", "Phuket", 8.1132,
     98.3169, 2000, false, true, true},
    {"demo:th:airport-cnx", "airport", "Chiang Mai International Airport (CNX)", "Chiang Mai",
     18.7668, 98.9626, 2000, false, true, true},
    {"demo:th:airport-utp", "airport", "U-Tapao International Airport (UTP)", "Rayong", 12.6799,
     101.0050, 1500, false, true, true},
    {"demo:th:airport-kbv", "airport", "Krabi International Airport (KBV)", "Krabi", 8.0999,
     98.9862, 1000, false, true, true},
    {"demo:th:hotel-mandarin-oriental", "hotel", "Mandarin Oriental, Bangkok",
     "48 Oriental Avenue, Bang Rak, Bangkok", 13.7237, 100.5144, 400, false, true, true},
    {"demo:th:hotel-grand-hyatt-erawan", "hotel", "Grand Hyatt Erawan Bangkok",
     "494 Ratchadamri Road, Pathum Wan, Bangkok", 13.7437, 100.5410, 500, false, true, true},
    {"demo:th:hotel-sheraton-sukhumvit", "hotel", "Sheraton Grande Sukhumvit",
     "250 Sukhumvit Road, Khlong Toei, Bangkok", 13.7384, 100.5604, 400, false, true, true},
    {"demo:th:hotel-shangri-la-chiang-mai", "hotel", "Shangri-La Chiang Mai",
     "89/8 Chang Khlan Road, Chiang Mai", 18.7822, 98.9999, 300, false, true, true},
    {"demo:th:hospital-bumrungrad", "shelter", "Bumrungrad International Hospital",
     "33 Sukhumvit 3, Bangkok", 13.7462, 100.5524, 200, true, true, true},
    {"demo:th:hospital-bangkok", "shelter", "Bangkok Hospital", "2 Soi Soonvijai 7, Bangkok",
     13.7488, 100.5834, 200, true, true, true},
    {"demo:th:hospital-siriraj", "shelter", "Siriraj Hospital", "2 Wang Lang Road, Bangkok",
     13.7590, 100.4856, 300, true, true, true},
    {"demo:th:border-aranyaprathet", "border_crossing",
     "Aranyaprathet-Poipet border crossing (Cambodia)", "Aranyaprathet, Sa Kaeo", 13.6590, 102.5560,
     1500, false, false, true},
    {"demo:th:border-nong-khai", "border_crossing", "First Thai-Lao Friendship Bridge (Laos)",
     "Nong Khai", 17.8775, 102.7181, 1500, false, false, true},
    {"demo:th:border-sadao", "border_crossing", "Sadao-Bukit Kayu Hitam border crossing (Malaysia)",
     "Sadao, Songkhla", 6.6395, 100.4220, 1500, false, false, true},
    {"demo:th:border-mae-sai", "border_crossing", "Mae Sai-Tachileik border crossing (Myanmar)",
     "Mae Sai, Chiang Rai", 20.4476, 99.8822, 1000, false, false, true},
};

/* Mobile prefixes in national form. */
static const char *const demo_tr_mobile[] = {
    "0530", "0531", "0532", "0533", "0535", "0536", "0537", "0538", "0539", "0541", "0542", "0543",
    "0544", "0545", "0546", "0505", "0506", "0507", "0551", "0552", "0553", "0554", "0555", "0559",
};
static const char *const demo_ua_mobile[] = {
    "050", "063", "066", "067", "068", "073", "093", "095", "096", "097", "098", "099",
};
static const char *const demo_th_mobile[] = {"06", "08", "09"};

/* The earthquake provinces of February 2023 and the largest city: tests rely on them. */
static const char *const demo_tr_must[] = {"İstanbul", "Gaziantep", "Kahramanmaraş", "Antakya"};
static const char *const demo_ua_must[] = {"Kyiv", "Lviv"};
static const char *const demo_th_must[] = {"Bangkok", "Chiang Mai"};

#define DEMO_COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const struct demo_country demo_countries[] = {
    {"TR", "Türkiye", "TR-ANK", "Embassy of the Republic of Korea in Ankara", "Europe/Istanbul",
     "ne_10m_admin1_TUR.geojson", "afad-toplanma-alanlari_10-deprem-ili.geojson", demo_tr_cities,
     DEMO_COUNT(demo_tr_cities), demo_tr_places, DEMO_COUNT(demo_tr_places), demo_tr_mobile,
     DEMO_COUNT(demo_tr_mobile), 7, demo_tr_must, DEMO_COUNT(demo_tr_must), 70},
    {"UA", "Ukraine", "UA-KYV", "Embassy of the Republic of Korea in Kyiv", "Europe/Kyiv",
     "ne_10m_admin1_UKR.geojson", NULL, demo_ua_cities, DEMO_COUNT(demo_ua_cities), demo_ua_places,
     DEMO_COUNT(demo_ua_places), demo_ua_mobile, DEMO_COUNT(demo_ua_mobile), 7, demo_ua_must,
     DEMO_COUNT(demo_ua_must), 70},
    {"TH", "Thailand", "TH-BKK", "Embassy of the Republic of Korea in Bangkok", "Asia/Bangkok",
     "ne_10m_admin1_THA.geojson", NULL, demo_th_cities, DEMO_COUNT(demo_th_cities), demo_th_places,
     DEMO_COUNT(demo_th_places), demo_th_mobile, DEMO_COUNT(demo_th_mobile), 8, demo_th_must,
     DEMO_COUNT(demo_th_must), 70},
};

/* A Korean surname: Hangul, its usual romanisation, a common variant and its share. */
struct demo_surname {
	const char *hangul;
	const char *latin;
	const char *variant; /* NULL: none */
	int variant_pct;
	int weight; /* per ten thousand people, after the 2015 census */
};

static const struct demo_surname demo_surnames[] = {
    {"김", "KIM", NULL, 0, 2150},     {"이", "LEE", "YI", 8, 1470},
    {"박", "PARK", "BAK", 3, 840},    {"최", "CHOI", NULL, 0, 470},
    {"정", "JUNG", "JEONG", 40, 430}, {"강", "KANG", NULL, 0, 240},
    {"조", "CHO", "JO", 15, 210},     {"윤", "YOON", "YUN", 20, 200},
    {"장", "JANG", "CHANG", 25, 200}, {"임", "LIM", "IM", 25, 170},
    {"한", "HAN", NULL, 0, 150},      {"오", "OH", NULL, 0, 150},
    {"서", "SEO", NULL, 0, 150},      {"신", "SHIN", "SIN", 15, 150},
    {"권", "KWON", NULL, 0, 140},     {"황", "HWANG", NULL, 0, 140},
    {"안", "AHN", "AN", 20, 140},     {"송", "SONG", NULL, 0, 130},
    {"전", "JEON", "JUN", 30, 110},   {"홍", "HONG", NULL, 0, 110},
    {"유", "YOO", "YU", 30, 110},     {"고", "KO", "GO", 30, 90},
    {"문", "MOON", "MUN", 10, 90},    {"양", "YANG", NULL, 0, 90},
    {"손", "SON", NULL, 0, 90},       {"배", "BAE", NULL, 0, 80},
    {"백", "BAEK", NULL, 0, 70},      {"허", "HEO", "HUH", 20, 60},
    {"노", "NOH", "NO", 30, 60},      {"남", "NAM", NULL, 0, 60},
    {"심", "SHIM", "SIM", 20, 50},    {"하", "HA", NULL, 0, 50},
    {"곽", "KWAK", NULL, 0, 40},      {"성", "SUNG", "SEONG", 30, 40},
    {"차", "CHA", NULL, 0, 40},       {"주", "JOO", "JU", 30, 40},
    {"우", "WOO", NULL, 0, 40},       {"구", "KOO", "GU", 30, 40},
    {"민", "MIN", NULL, 0, 30},       {"류", "RYU", "YOO", 20, 30},
    {"나", "NA", NULL, 0, 30},        {"진", "JIN", NULL, 0, 30},
    {"지", "JI", NULL, 0, 30},        {"엄", "EOM", "UM", 30, 30},
    {"채", "CHAE", NULL, 0, 30},      {"원", "WON", NULL, 0, 30},
    {"천", "CHEON", "CHUN", 40, 20},  {"방", "BANG", NULL, 0, 20},
    {"공", "KONG", NULL, 0, 20},      {"현", "HYUN", NULL, 0, 20},
    {"함", "HAM", NULL, 0, 20},       {"변", "BYUN", NULL, 0, 20},
    {"염", "YEOM", NULL, 0, 10},      {"여", "YEO", NULL, 0, 10},
    {"추", "CHOO", NULL, 0, 10},      {"도", "DO", NULL, 0, 10},
    {"석", "SEOK", NULL, 0, 10},      {"선", "SUN", NULL, 0, 10},
    {"설", "SEOL", NULL, 0, 10},      {"마", "MA", NULL, 0, 10},
    {"길", "GIL", "KIL", 30, 10},     {"연", "YEON", NULL, 0, 10},
    {"위", "WI", NULL, 0, 10},        {"표", "PYO", NULL, 0, 10},
    {"명", "MYUNG", NULL, 0, 10},     {"기", "KI", NULL, 0, 10},
    {"반", "BAN", NULL, 0, 10},       {"왕", "WANG", NULL, 0, 10},
    {"금", "KEUM", NULL, 0, 10},      {"옥", "OK", NULL, 0, 10},
    {"육", "YOOK", NULL, 0, 10},      {"인", "IN", NULL, 0, 10},
    {"맹", "MAENG", NULL, 0, 10},     {"탁", "TAK", NULL, 0, 10},
};

/*
 * Common given names by sex and generation (born before 1970, 1970-1989,
 * later), from the popular-name lists of their decades; romanised syllable by
 * syllable below, as Revised Romanization writes names.
 */
static const char *const demo_male_0[] = {
    "영수", "영호", "영철", "정호", "성호", "상철", "성수", "영식", "정수", "광수", "병철", "종호",
    "재호", "용수", "진호", "상훈", "동호", "기수", "승호", "경수", "정남", "동수", "상호", "영진",
};
static const char *const demo_male_1[] = {
    "지훈", "성민", "현우", "준호", "민수", "동현", "성훈", "정훈", "상현", "재현", "민호", "현준",
    "준영", "승현", "진우", "태현", "상우", "재민", "성진", "영훈", "정민", "동욱", "민석", "종민",
};
static const char *const demo_male_2[] = {
    "민준", "서준", "도윤", "예준", "시우", "하준", "주원", "지호", "지후", "준서", "건우", "현우",
    "우진", "선우", "연우", "민재", "현준", "유준", "정우", "승우", "지훈", "동현", "민성", "은우",
};
static const char *const demo_female_0[] = {
    "영숙", "정숙", "순자", "영자", "명숙", "경숙", "미숙", "정희", "영희", "순옥", "옥순",
    "정자", "혜숙", "경희", "미경", "은숙", "정순", "말순", "춘자", "영순", "명희", "순희",
};
static const char *const demo_female_1[] = {
    "지영", "은영", "미영", "현정", "은정", "지은", "수진", "혜진", "지현", "미정", "소연",
    "유진", "민정", "선영", "은주", "윤정", "수연", "혜원", "정은", "지혜", "민지", "은지",
};
static const char *const demo_female_2[] = {
    "서연", "서윤", "지우", "서현", "하은", "하윤", "민서", "지유", "윤서", "채원", "지민",
    "수아", "지아", "다은", "예은", "수빈", "예린", "지원", "소율", "유나", "아린", "하린",
};

/* The name list of one sex and generation. */
struct demo_given {
	const char *const *names;
	size_t n;
};

static const struct demo_given demo_given_names[2][3] = {
    {
        {demo_male_0, DEMO_COUNT(demo_male_0)},
        {demo_male_1, DEMO_COUNT(demo_male_1)},
        {demo_male_2, DEMO_COUNT(demo_male_2)},
    },
    {
        {demo_female_0, DEMO_COUNT(demo_female_0)},
        {demo_female_1, DEMO_COUNT(demo_female_1)},
        {demo_female_2, DEMO_COUNT(demo_female_2)},
    },
};

/* Revised Romanization of the parts of a Hangul syllable: initials, vowels, finals. */
static const char *const demo_rr_initial[19] = {
    "g",  "kk", "n", "d",  "tt", "r", "m", "b", "pp", "s",
    "ss", "",   "j", "jj", "ch", "k", "t", "p", "h",
};
static const char *const demo_rr_vowel[21] = {
    "a",  "ae", "ya", "yae", "eo", "e",  "yeo", "ye", "o",  "wa", "wae",
    "oe", "yo", "u",  "wo",  "we", "wi", "yu",  "eu", "ui", "i",
};
static const char *const demo_rr_final[28] = {
    "",  "k", "k", "k", "n", "n", "n", "t",  "l", "k", "m", "l", "l", "l",
    "p", "l", "m", "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t",
};

/* The generator: xoshiro256** seeded through splitmix64, the same on every platform. */
struct demo_rng {
	uint64_t s[4];
};

/* A ring of a province, longitude and latitude pairs. */
struct demo_ring {
	double *xy;
	size_t n;
};

/* A province's outline, to keep a jittered point inside it. */
struct demo_area {
	char code[40];
	struct demo_ring *rings;
	size_t nrings;
};

/* What the run made, for the summary and the audit row. */
struct demo_stats {
	long people;
	long households;
	long residents;
	long travellers;
	long departed;
	long arriving;
	long phones;
	long emails;
	long at_centre; /* points that fell outside the province every time */
};

/* One person while being made. */
struct demo_person {
	char name_ko[48];
	char name_latin[96];
	char given_rr[48];
	long birth; /* days since 1970-01-01 */
	int age;
	bool female;
	const char *residence_status;
	char needs[64];
	bool english;
};

/* A surname as one family writes it. */
struct demo_family_name {
	const struct demo_surname *s;
	const char *latin;
};

/* The state of one run. */
struct demo_gen {
	struct demo_rng rng;
	const struct demo_country *c;
	double *cum_population;
	double *cum_tourism;
	long *cum_surname;
	double resident_household_p;
	struct demo_area *areas;
	size_t nareas;
	long *city_area; /* index into areas per city, -1: none */
	long today;      /* days since 1970-01-01, UTC */
	long long now;   /* seconds since 1970 */
	long sequence;   /* people made so far: numbers the passports */
	uint64_t passport_a, passport_b;
	char mission_id[24];
	struct demo_stats stats;
};

/* A growing buffer of COPY text. */
struct demo_buf {
	char *p;
	size_t len;
	size_t cap;
};

/* The operator's name for the audit log. */
static const char *
demo_actor(void)
{
	static char actor[96];
	struct passwd *pw = getpwuid(getuid());

	snprintf(actor, sizeof actor, "safetyctl:%s", pw != NULL ? pw->pw_name : "unknown");
	return actor;
}

/* One step of splitmix64, used to seed. */
static uint64_t
demo_splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* Seeds the generator. */
static void
demo_rng_seed(struct demo_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = demo_splitmix(&seed);
}

/* Rotates left. */
static uint64_t
demo_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* The next 64 random bits (xoshiro256**). */
static uint64_t
demo_next(struct demo_rng *r)
{
	uint64_t result = demo_rotl(r->s[1] * 5, 7) * 9, t = r->s[1] << 17;

	r->s[2] ^= r->s[0];
	r->s[3] ^= r->s[1];
	r->s[1] ^= r->s[2];
	r->s[0] ^= r->s[3];
	r->s[2] ^= t;
	r->s[3] = demo_rotl(r->s[3], 45);
	return result;
}

/* A uniform number in [0, 1). */
static double
demo_uniform(struct demo_rng *r)
{
	return (double)(demo_next(r) >> 11) * 0x1.0p-53;
}

/* A uniform whole number in [0, n). */
static long
demo_below(struct demo_rng *r, long n)
{
	return (long)(demo_uniform(r) * (double)n);
}

/* True with the given probability. */
static bool
demo_chance(struct demo_rng *r, double p)
{
	return demo_uniform(r) < p;
}

/* A standard normal number (Box-Muller). */
static double
demo_normal(struct demo_rng *r)
{
	double u = demo_uniform(r), v = demo_uniform(r);

	return sqrt(-2.0 * log(1.0 - u)) * cos(2.0 * DEMO_PI * v);
}

/* Picks an index from cumulative weights. */
static size_t
demo_pick(struct demo_rng *r, const double *cum, size_t n)
{
	double x = demo_uniform(r) * cum[n - 1];
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (cum[mid] > x)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

/* Appends formatted text to a buffer. */
static void demo_buf_printf(struct demo_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
demo_buf_printf(struct demo_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->p != NULL ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		b->cap = b->cap == 0 ? 65536 : b->cap * 2;
		while (n >= 0 && b->cap - b->len <= (size_t)n)
			b->cap *= 2;
		b->p = xrealloc(b->p, b->cap);
	}
}

/* Appends a text field for COPY, escaped, or \N for NULL, then the separator. */
static void
demo_buf_field(struct demo_buf *b, const char *s, char sep)
{
	if (s == NULL) {
		demo_buf_printf(b, "\\N%c", sep);
		return;
	}
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\':
			demo_buf_printf(b, "\\\\");
			break;
		case '\t':
			demo_buf_printf(b, "\\t");
			break;
		case '\n':
			demo_buf_printf(b, "\\n");
			break;
		case '\r':
			demo_buf_printf(b, "\\r");
			break;
		default:
			demo_buf_printf(b, "%c", *s);
			break;
		}
	}
	demo_buf_printf(b, "%c", sep);
}

/* Splits a day (days since 1970-01-01) into year, month and day (Howard Hinnant's algorithm). */
static void
demo_civil(long days, long *y, long *m, long *d)
{
	long z = days + 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	long doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yoe + era * 400 + (*m <= 2);
}

/* The day (days since 1970-01-01) of a date; 29 February of a common year is the 28th. */
static long
demo_days(long y, long m, long d)
{
	long era, yoe, doy, doe;

	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		d = 28;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Writes a date (days since 1970-01-01) as YYYY-MM-DD into buf. */
static void
demo_date(long days, char *buf, size_t size)
{
	long y, m, d;

	demo_civil(days, &y, &m, &d);
	/* The ranges are known; the modulo tells the compiler too. */
	snprintf(buf, size, "%04u-%02u-%02u", (unsigned)y % 10000u, (unsigned)m % 100u,
	         (unsigned)d % 100u);
}

/* Tells whether a point is inside a province (even-odd over all its rings). */
static bool
demo_area_contains(const struct demo_area *a, double lat, double lon)
{
	bool inside = false;

	for (size_t k = 0; k < a->nrings; k++) {
		const double *xy = a->rings[k].xy;
		size_t n = a->rings[k].n;
		for (size_t i = 0, j = n - 1; i < n; j = i++) {
			double xi = xy[2 * i], yi = xy[2 * i + 1], xj = xy[2 * j],
			       yj = xy[2 * j + 1];
			if ((yi > lat) != (yj > lat) &&
			    lon < (xj - xi) * (lat - yi) / (yj - yi) + xi)
				inside = !inside;
		}
	}
	return inside;
}

/* Adds the rings of one GeoJSON polygon's coordinates to an area. */
static void
demo_area_add_polygon(struct demo_area *a, const cJSON *polygon)
{
	const cJSON *ring, *pos;

	cJSON_ArrayForEach(ring, polygon)
	{
		struct demo_ring *r;
		size_t i = 0;
		int n = cJSON_GetArraySize(ring);

		if (n < 4)
			continue;
		a->rings = xrealloc(a->rings, (a->nrings + 1) * sizeof *a->rings);
		r = &a->rings[a->nrings++];
		r->n = (size_t)n;
		r->xy = xcalloc(2 * (size_t)n, sizeof *r->xy);
		cJSON_ArrayForEach(pos, ring)
		{
			r->xy[2 * i] = cJSON_GetNumberValue(cJSON_GetArrayItem(pos, 0));
			r->xy[2 * i + 1] = cJSON_GetNumberValue(cJSON_GetArrayItem(pos, 1));
			i++;
		}
	}
}

/*
 * Reads the provinces of the regions file, so that jittered points can be
 * kept inside the province of their city. The file was just imported, so it
 * is known to be good; anything odd in it only costs the check.
 */
static void
demo_load_areas(struct demo_gen *g, const char *path)
{
	FILE *f = fopen(path, "rb");
	struct demo_buf b = {NULL, 0, 0};
	char chunk[65536];
	size_t n;
	cJSON *root, *features, *feature;

	if (f == NULL)
		return;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if (b.cap - b.len < n + 1) {
			b.cap = (b.cap + n + 1) * 2;
			b.p = xrealloc(b.p, b.cap);
		}
		memcpy(b.p + b.len, chunk, n);
		b.len += n;
	}
	fclose(f);
	root = b.p != NULL ? cJSON_ParseWithLength(b.p, b.len) : NULL;
	free(b.p);
	features = cJSON_GetObjectItemCaseSensitive(root, "features");
	cJSON_ArrayForEach(feature, features)
	{
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(feature, "properties");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(props, "iso_3166_2");
		const cJSON *geom = cJSON_GetObjectItemCaseSensitive(feature, "geometry");
		const cJSON *type = cJSON_GetObjectItemCaseSensitive(geom, "type");
		const cJSON *coords = cJSON_GetObjectItemCaseSensitive(geom, "coordinates");
		const cJSON *polygon;
		struct demo_area *a;

		if (!cJSON_IsString(code) || !cJSON_IsString(type))
			continue;
		g->areas = xrealloc(g->areas, (g->nareas + 1) * sizeof *g->areas);
		a = &g->areas[g->nareas++];
		memset(a, 0, sizeof *a);
		snprintf(a->code, sizeof a->code, "%s", code->valuestring);
		if (strcmp(type->valuestring, "Polygon") == 0) {
			demo_area_add_polygon(a, coords);
		} else if (strcmp(type->valuestring, "MultiPolygon") == 0) {
			cJSON_ArrayForEach(polygon, coords)
			{
				demo_area_add_polygon(a, polygon);
			}
		}
	}
	cJSON_Delete(root);
	for (size_t i = 0; i < g->c->ncities; i++) {
		g->city_area[i] = -1;
		for (size_t k = 0; k < g->nareas; k++)
			if (strcmp(g->areas[k].code, g->c->cities[i].region) == 0)
				g->city_area[i] = (long)k;
	}
}

/* Frees what the generator holds. */
static void
demo_gen_free(struct demo_gen *g)
{
	for (size_t k = 0; k < g->nareas; k++) {
		for (size_t i = 0; i < g->areas[k].nrings; i++)
			free(g->areas[k].rings[i].xy);
		free(g->areas[k].rings);
	}
	free(g->areas);
	free(g->city_area);
	free(g->cum_population);
	free(g->cum_tourism);
	free(g->cum_surname);
}

/* Mean of a distribution of household sizes 1..5 given in percent. */
static double
demo_mean_size(const int *pct)
{
	double m = 0;

	for (int i = 0; i < DEMO_HOUSEHOLD_MAX; i++)
		m += (i + 1) * pct[i] / 100.0;
	return m;
}

/* Household sizes 1..5 in percent, of residents and of travellers. */
static const int demo_resident_sizes[DEMO_HOUSEHOLD_MAX] = {35, 25, 18, 17, 5};
static const int demo_traveller_sizes[DEMO_HOUSEHOLD_MAX] = {45, 35, 8, 10, 2};

/* Prepares the generator for a country and a seed. */
static void
demo_gen_init(struct demo_gen *g, const struct demo_country *c, uint64_t seed)
{
	double share = c->resident_pct / 100.0;
	double mr = demo_mean_size(demo_resident_sizes), mt = demo_mean_size(demo_traveller_sizes);
	struct timespec ts;

	memset(g, 0, sizeof *g);
	g->c = c;
	demo_rng_seed(&g->rng, seed);
	g->cum_population = xcalloc(c->ncities, sizeof *g->cum_population);
	g->cum_tourism = xcalloc(c->ncities, sizeof *g->cum_tourism);
	g->city_area = xcalloc(c->ncities, sizeof *g->city_area);
	for (size_t i = 0; i < c->ncities; i++) {
		g->cum_population[i] =
		    (i > 0 ? g->cum_population[i - 1] : 0) + c->cities[i].population_k;
		g->cum_tourism[i] = (i > 0 ? g->cum_tourism[i - 1] : 0) + c->cities[i].tourism;
		g->city_area[i] = -1;
	}
	g->cum_surname = xcalloc(DEMO_COUNT(demo_surnames), sizeof *g->cum_surname);
	for (size_t i = 0; i < DEMO_COUNT(demo_surnames); i++)
		g->cum_surname[i] = (i > 0 ? g->cum_surname[i - 1] : 0) + demo_surnames[i].weight;
	/* The share of households that are residents, so that people are resident_pct residents. */
	g->resident_household_p = share * mt / (share * mt + (1 - share) * mr);
	/* Passports: an affine map of the sequence modulo 10^8 is one-to-one when a is
	 * prime to 10, so no two people of one run share a number. */
	g->passport_a = (demo_next(&g->rng) % 10000000ULL) * 10 + 1 + 2 * (demo_next(&g->rng) % 2);
	if (g->passport_a % 5 == 0)
		g->passport_a += 2;
	g->passport_b = demo_next(&g->rng) % 100000000ULL;
	clock_gettime(CLOCK_REALTIME, &ts);
	g->now = (long long)ts.tv_sec;
	g->today = (long)(ts.tv_sec / 86400);
}

/* Picks a family name, with the romanisation the family uses. */
static struct demo_family_name
demo_family_name(struct demo_gen *g)
{
	long x = demo_below(&g->rng, g->cum_surname[DEMO_COUNT(demo_surnames) - 1]);
	size_t i = 0;
	struct demo_family_name f;

	while (g->cum_surname[i] <= x)
		i++;
	f.s = &demo_surnames[i];
	f.latin = f.s->variant != NULL && demo_below(&g->rng, 100) < f.s->variant_pct ? f.s->variant
	                                                                              : f.s->latin;
	return f;
}

/*
 * Romanises a Hangul given name as Revised Romanization writes names:
 * syllable by syllable, without the sound changes between them, and a hyphen
 * where a vowel letter would run into the syllable before (Ha-eun, Jeong-u,
 * but Seoyeon). Non-Hangul bytes are dropped. Writes lower case into out.
 */
static void
demo_romanize(const char *hangul, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)hangul;
	size_t len = 0;

	out[0] = '\0';
	while (*s != '\0') {
		unsigned cp, index, initial, vowel, final;
		int n;

		if ((s[0] & 0xF0) != 0xE0 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) {
			s++;
			continue;
		}
		cp = ((s[0] & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu);
		s += 3;
		if (cp < 0xAC00 || cp > 0xD7A3)
			continue;
		index = cp - 0xAC00;
		initial = index / (21 * 28);
		vowel = index / 28 % 21;
		final = index % 28;
		n = snprintf(out + len, size - len, "%s%s%s%s",
		             len > 0 && initial == 11 &&
		                     strchr("aeiou", demo_rr_vowel[vowel][0]) != NULL
		                 ? "-"
		                 : "",
		             demo_rr_initial[initial], demo_rr_vowel[vowel], demo_rr_final[final]);
		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
}

/* Makes a person's name and birth date from their family name, age and sex. */
static void
demo_person_make(struct demo_gen *g, struct demo_person *p, struct demo_family_name fam, int age,
                 bool female)
{
	const struct demo_given *gv;
	const char *given;
	long year;
	char upper[48];
	size_t i;

	memset(p, 0, sizeof *p);
	p->age = age;
	p->female = female;
	{
		/* Born on a day that makes them exactly age today: after the day
		 * age + 1 years ago, at the latest the day age years ago. */
		long y, m, d, latest, earliest;
		demo_civil(g->today, &y, &m, &d);
		latest = demo_days(y - age, m, d);
		earliest = demo_days(y - age - 1, m, d) + 1;
		p->birth = latest - demo_below(&g->rng, latest - earliest + 1);
		demo_civil(p->birth, &year, &m, &d);
	}
	gv = &demo_given_names[female ? 1 : 0][year < 1970 ? 0 : year < 1990 ? 1 : 2];
	given = gv->names[demo_below(&g->rng, (long)gv->n)];
	demo_romanize(given, p->given_rr, sizeof p->given_rr);
	for (i = 0; p->given_rr[i] != '\0' && i + 1 < sizeof upper; i++)
		upper[i] = (char)(p->given_rr[i] >= 'a' && p->given_rr[i] <= 'z'
		                      ? p->given_rr[i] - 'a' + 'A'
		                      : p->given_rr[i]);
	upper[i] = '\0';
	/* Korean order, as in the passport: family name first. */
	snprintf(p->name_ko, sizeof p->name_ko, "%s%s", fam.s->hangul, given);
	snprintf(p->name_latin, sizeof p->name_latin, "%s %s", fam.latin, upper);
}

/* Adds a need to the person's PostgreSQL array literal. */
static void
demo_need(struct demo_person *p, const char *need)
{
	size_t len = strlen(p->needs);

	if (len == 0)
		snprintf(p->needs, sizeof p->needs, "{%s}", need);
	else
		snprintf(p->needs + len - 1, sizeof p->needs - (len - 1), ",%s}", need);
}

/* A whole number from lo to hi, inclusive. */
static int
demo_between(struct demo_rng *r, int lo, int hi)
{
	return lo + (int)demo_below(r, hi - lo + 1);
}

/* Sets needs, languages and the residence status of a person. */
static void
demo_person_details(struct demo_gen *g, struct demo_person *p, bool traveller, bool adult_of_couple,
                    bool head)
{
	struct demo_rng *r = &g->rng;

	if (p->age < 18)
		demo_need(p, "child");
	if (p->age >= 70)
		demo_need(p, "elderly");
	if (p->female && adult_of_couple && p->age >= 22 && p->age <= 42 && demo_chance(r, 0.06))
		demo_need(p, "pregnant");
	if (demo_chance(r, 0.02))
		demo_need(p, "disability");
	if (demo_chance(r, p->age >= 65 ? 0.15 : 0.03))
		demo_need(p, "medical");
	if (p->needs[0] == '\0')
		snprintf(p->needs, sizeof p->needs, "{}");
	p->english = p->age >= 7 && demo_chance(r, p->age < 45 ? 0.65 : 0.35);
	if (traveller) {
		p->residence_status = NULL;
	} else if (!head) {
		p->residence_status = "동반가족";
	} else {
		double x = demo_uniform(r);
		p->residence_status = x < 0.55                  ? "취업"
		                      : x < 0.70                ? "사업"
		                      : x < 0.80 && p->age < 35 ? "유학"
		                      : x < 0.90                ? "영주"
		                      : x < 0.95                ? "선교"
		                                                : "취업";
	}
}

/* Writes a synthetic mobile number (national form for country) in E.164 into out; false if refused.
 */
static bool
demo_mobile(struct demo_gen *g, bool korean, char out[SF_PHONE_E164_SIZE])
{
	const struct demo_country *c = g->c;
	char national[32];
	size_t len;

	if (korean) {
		/* 010-XXXX-XXXX; the middle block starts with 2 to 9 as issued. */
		snprintf(national, sizeof national, "010-%04ld-%04ld",
		         2000 + demo_below(&g->rng, 8000), demo_below(&g->rng, 10000));
	} else {
		snprintf(national, sizeof national, "%s",
		         c->mobile_prefixes[demo_below(&g->rng, (long)c->nmobile_prefixes)]);
		len = strlen(national);
		for (int i = 0; i < c->mobile_digits && len + 1 < sizeof national; i++)
			national[len++] = (char)('0' + demo_below(&g->rng, 10));
		national[len] = '\0';
	}
	return sf_phone_normalize(national, korean ? "KR" : c->code, out, SF_PHONE_E164_SIZE, NULL,
	                          0) == 0;
}

/* Picks the point of a household: the city centre with a normal spread, inside its province. */
static void
demo_point(struct demo_gen *g, size_t city, double *lat, double *lon)
{
	const struct demo_city *c = &g->c->cities[city];
	const struct demo_area *area =
	    g->city_area[city] >= 0 ? &g->areas[g->city_area[city]] : NULL;
	/* A few km, more for a big city: 1.5 km for 100,000 people, 4.8 km for 15 million. */
	double sigma_km = 1.5 + 1.5 * log10(fmax(c->population_k, 100) / 100.0);

	if (sigma_km > 6)
		sigma_km = 6;
	for (int attempt = 0; attempt < 12; attempt++) {
		*lat = c->lat + demo_normal(&g->rng) * sigma_km / 111.32;
		*lon = c->lon +
		       demo_normal(&g->rng) * sigma_km / (111.32 * cos(c->lat * DEMO_PI / 180.0));
		if (area == NULL || demo_area_contains(area, *lat, *lon))
			return;
	}
	/* The sea or the neighbouring province every time: the centre, which is inside. */
	*lat = c->lat;
	*lon = c->lon;
	g->stats.at_centre++;
}

/* The ids reserved for one chunk of people and households. */
struct demo_ids {
	long long *household;
	long nhousehold;
	long long *national;
	long nnational;
	long next_household;
	long next_national;
};

/* The four COPY streams of one chunk. */
struct demo_copy_bufs {
	struct demo_buf household;
	struct demo_buf national;
	struct demo_buf contact;
	struct demo_buf location;
};

/* Writes the national, contact and location rows of one person. */
static void
demo_write_person(struct demo_gen *g, struct demo_copy_bufs *out, struct demo_ids *ids,
                  long long household_id, const struct demo_person *p, bool traveller,
                  const char *arrival, const char *departure, const char *address,
                  const char *point, double accuracy, const char *observed)
{
	struct demo_rng *r = &g->rng;
	char key_ko[SF_NAME_KEY_SIZE], key_latin[SF_NAME_KEY_SIZE], birth[16], passport[16];
	char phone[SF_PHONE_E164_SIZE], email[128], local[64];
	long long id = ids->national[ids->next_national++];
	uint64_t number;
	bool korean, local_phone;
	int priority = 1;
	size_t j = 0;

	if (sf_name_search_key(p->name_ko, key_ko, sizeof key_ko) != 0)
		key_ko[0] = '\0';
	if (sf_name_search_key(p->name_latin, key_latin, sizeof key_latin) != 0)
		key_latin[0] = '\0';
	demo_date(p->birth, birth, sizeof birth);
	number = (g->passport_a * (uint64_t)g->sequence + g->passport_b) % 100000000ULL;
	snprintf(passport, sizeof passport, "M%08llu", (unsigned long long)number);
	g->sequence++;

	demo_buf_printf(&out->national, "%lld\t%s\t%lld\t", id, g->mission_id, household_id);
	demo_buf_field(&out->national, p->name_ko, '\t');
	demo_buf_field(&out->national, p->name_latin, '\t');
	demo_buf_printf(&out->national, "%s %s\t%s\t%s\t%s\t", key_ko, key_latin, birth, passport,
	                traveller ? "traveller" : "resident");
	demo_buf_field(&out->national, arrival, '\t');
	demo_buf_field(&out->national, departure, '\t');
	demo_buf_printf(&out->national, "%s\t%s\t", p->english ? "{ko,en}" : "{ko}", p->needs);
	demo_buf_field(&out->national, address, '\t');
	demo_buf_field(&out->national, p->residence_status, '\t');
	demo_buf_printf(&out->national, "import\tsynthetic person made by safetyctl demo\n");

	demo_buf_printf(&out->location, "%lld\t%s\t%.0f\tregistration\t%s\n", id, point, accuracy,
	                observed);

	/* Phones: residents mostly a local number first, travellers their Korean one. */
	korean = p->age >= 13 && demo_chance(r, traveller ? 0.95 : 0.5);
	local_phone = p->age >= 13 && demo_chance(r, traveller ? 0.08 : 0.85);
	if (p->age >= 18 && !korean && !local_phone) {
		korean = traveller;
		local_phone = !traveller;
	}
	for (int pass = 0; pass < 2; pass++) {
		/* The first pass writes the number this person is reached on first. */
		bool kr = (pass == 0) == traveller;
		if (!(kr ? korean : local_phone) || !demo_mobile(g, kr, phone))
			continue;
		demo_buf_printf(&out->contact, "%lld\tphone\t%s\t%d\t%s\n", id, phone, priority++,
		                demo_chance(r, 0.25) ? "t" : "f");
		g->stats.phones++;
	}
	if (p->age >= 16 && demo_chance(r, 0.55)) {
		char family[32];
		size_t k;

		for (size_t i = 0; p->given_rr[i] != '\0' && j + 1 < sizeof local; i++)
			if (p->given_rr[i] != '-')
				local[j++] = p->given_rr[i];
		local[j] = '\0';
		for (k = 0;
		     p->name_latin[k] >= 'A' && p->name_latin[k] <= 'Z' && k + 1 < sizeof family;
		     k++)
			family[k] = (char)(p->name_latin[k] - 'A' + 'a');
		family[k] = '\0';
		/* Reserved example domains only (RFC 2606): nothing is ever delivered. */
		snprintf(email, sizeof email, "%s.%s%02d@%s", local, family, atoi(birth) % 100,
		         demo_chance(r, 0.5) ? "example.org" : "example.com");
		demo_buf_printf(&out->contact, "%lld\temail\t%s\t%d\tf\n", id, email, priority);
		g->stats.emails++;
	}
	g->stats.people++;
	if (traveller)
		g->stats.travellers++;
	else
		g->stats.residents++;
}

/* Picks a household size from a distribution in percent, at most max. */
static int
demo_size(struct demo_rng *r, const int *pct, long max)
{
	int x = (int)demo_below(r, 100), size = 1;

	for (int i = 0; i < DEMO_HOUSEHOLD_MAX; i++) {
		if (x < pct[i]) {
			size = i + 1;
			break;
		}
		x -= pct[i];
	}
	return size > max ? (int)max : size;
}

/*
 * Makes one household of at most max people and writes its rows: a resident
 * family or a travelling party, its members, and the one place they share.
 * forced_city >= 0 makes it a resident household in that city.
 */
static void
demo_household(struct demo_gen *g, struct demo_copy_bufs *out, struct demo_ids *ids, long max,
               long forced_city)
{
	struct demo_rng *r = &g->rng;
	const struct demo_country *c = g->c;
	struct demo_person people[DEMO_HOUSEHOLD_MAX];
	struct demo_family_name father, mother, other;
	bool traveller = forced_city < 0 && !demo_chance(r, g->resident_household_p);
	bool couple, single_mother;
	int size = demo_size(r, traveller ? demo_traveller_sizes : demo_resident_sizes, max);
	int head_age, n = 0, youngest_adult;
	size_t city;
	double lat, lon, accuracy;
	long arrival = 0, departure = 0, observed_day;
	char arrival_s[16], departure_s[16], point[80], observed[40], address[160];
	long long household_id = ids->household[ids->next_household++];

	if (forced_city >= 0)
		city = (size_t)forced_city;
	else if (traveller && demo_chance(r, 0.7))
		city = demo_pick(r, g->cum_tourism, c->ncities);
	else
		city = demo_pick(r, g->cum_population, c->ncities);
	demo_point(g, city, &lat, &lon);

	/* Who they are: one adult, a couple, or a single parent, then children. */
	father = demo_family_name(g);
	mother = demo_family_name(g);
	couple = size >= 2 && !demo_chance(r, 0.12);
	single_mother = !couple && size >= 2 && demo_chance(r, 0.75);
	if (size == 1) {
		bool female = demo_chance(r, 0.5);
		head_age = traveller ? 20 + (int)(pow(demo_uniform(r), 1.2) * 55)
		                     : 22 + (int)(pow(demo_uniform(r), 1.4) * 58);
		demo_person_make(g, &people[n++], female ? mother : father, head_age, female);
	} else if (couple) {
		int partner_age;
		/* Parents of children at home are younger than couples on their own. */
		if (size >= 3)
			head_age = demo_between(r, 28, 55);
		else
			head_age = traveller ? demo_between(r, 24, 72) : demo_between(r, 28, 66);
		partner_age = head_age - demo_between(r, -2, 5);
		demo_person_make(g, &people[n++], father, head_age, false);
		demo_person_make(g, &people[n++], mother, partner_age < 20 ? 20 : partner_age,
		                 true);
	} else {
		head_age = demo_between(r, 28, 55);
		demo_person_make(g, &people[n++], single_mother ? mother : father, head_age,
		                 single_mother);
	}
	youngest_adult = people[n - 1].age < people[0].age ? people[n - 1].age : people[0].age;
	if (size == 5 && demo_chance(r, 0.3)) {
		/* A grandparent living with the family. */
		bool female = demo_chance(r, 0.6);
		int age = head_age + demo_between(r, 24, 32);
		other = demo_family_name(g);
		demo_person_make(g, &people[n++], female ? other : father, age > 95 ? 95 : age,
		                 female);
	}
	while (n < size) {
		int oldest = youngest_adult - 20 > 17 ? 17 : youngest_adult - 20;
		bool female = demo_chance(r, 0.49);
		/* Children take the father's family name (a single mother's own otherwise). */
		demo_person_make(g, &people[n++], single_mother ? mother : father,
		                 oldest > 0 ? demo_between(r, 0, oldest) : 0, female);
	}

	if (traveller) {
		double x = demo_uniform(r);
		if (x < 0.06) {
			/* Already gone home: kept until the retention purge. */
			departure = g->today - demo_between(r, 1, 7);
			arrival = departure - demo_between(r, 3, 16);
			g->stats.departed += size;
		} else if (x < 0.11) {
			arrival = g->today + demo_between(r, 1, 10);
			departure = arrival + demo_between(r, 3, 16);
			g->stats.arriving += size;
		} else {
			arrival = g->today - demo_between(r, 0, 14);
			departure = g->today + demo_between(r, 1, 14);
		}
		demo_date(arrival, arrival_s, sizeof arrival_s);
		demo_date(departure, departure_s, sizeof departure_s);
		/* The trip was registered before it began. */
		observed_day = (arrival < g->today ? arrival : g->today) - demo_between(r, 0, 10);
		accuracy = 50 + demo_below(r, 950);
	} else {
		observed_day = g->today - demo_between(r, 1, 1000);
		accuracy = 20 + demo_below(r, 480);
	}
	demo_date(observed_day, observed, sizeof observed);
	snprintf(observed + strlen(observed), sizeof observed - strlen(observed),
	         " %02ld:%02ld:00+00", 6 + demo_below(r, 14), demo_below(r, 60));
	snprintf(point, sizeof point, "SRID=4326;POINT(%.6f %.6f)", lon, lat);
	snprintf(address, sizeof address, "%s, %s", c->cities[city].name, c->name);

	demo_buf_printf(&out->household, "%lld\t%s\t\\N\t", household_id, g->mission_id);
	{
		char label[128];
		snprintf(label, sizeof label, "%s household", people[0].name_latin);
		demo_buf_field(&out->household, label, '\n');
	}
	for (int i = 0; i < n; i++) {
		demo_person_details(g, &people[i], traveller, couple && i < 2, i == 0);
		demo_write_person(g, out, ids, household_id, &people[i], traveller,
		                  traveller ? arrival_s : NULL, traveller ? departure_s : NULL,
		                  traveller ? NULL : address, point, accuracy, observed);
	}
	g->stats.households++;
}

/* Reserves n ids of a table's identity column; NULL with a message on failure. */
static long long *
demo_reserve(PGconn *conn, const char *table, long n)
{
	char count[24];
	const char *params[2] = {table, count};
	PGresult *r;
	long long *ids;

	snprintf(count, sizeof count, "%ld", n);
	r = PQexecParams(conn,
	                 "SELECT nextval(pg_get_serial_sequence($1, 'id')) "
	                 "FROM generate_series(1, $2::integer)",
	                 2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != n) {
		fprintf(stderr, "safetyctl: error: %s", PQerrorMessage(conn));
		PQclear(r);
		return NULL;
	}
	ids = xcalloc((size_t)n, sizeof *ids);
	for (long i = 0; i < n; i++)
		ids[i] = atoll(PQgetvalue(r, (int)i, 0));
	PQclear(r);
	return ids;
}

/* Sends a buffer of rows through COPY ... FROM STDIN; false with a message on failure. */
static bool
demo_copy(PGconn *conn, const char *sql, const struct demo_buf *b)
{
	PGresult *r = PQexec(conn, sql);
	bool ok = PQresultStatus(r) == PGRES_COPY_IN;
	size_t off = 0;

	PQclear(r);
	if (!ok) {
		fprintf(stderr, "safetyctl: error: %s", PQerrorMessage(conn));
		return false;
	}
	while (ok && off < b->len) {
		size_t n = b->len - off > 1048576 ? 1048576 : b->len - off;
		ok = PQputCopyData(conn, b->p + off, (int)n) == 1;
		off += n;
	}
	if (PQputCopyEnd(conn, ok ? NULL : "sending failed") != 1)
		ok = false;
	while ((r = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			fprintf(stderr, "safetyctl: error: %s\n",
			        msg != NULL ? msg : PQerrorMessage(conn));
			ok = false;
		}
		PQclear(r);
	}
	return ok;
}

/* Makes and loads n people, in chunks that bound the memory used. */
static bool
demo_people(struct demo_gen *g, PGconn *conn, long n)
{
	const struct demo_country *c = g->c;
	long made = 0, chunk = n / 10 > 20000 ? 20000 : n / 10 > 0 ? n / 10 : n, next_report = 1;
	size_t must = 0;
	bool ok = true;

	while (ok && made < n) {
		long target = made + chunk > n ? n : made + chunk;
		long bound = target - made + DEMO_HOUSEHOLD_MAX;
		struct demo_copy_bufs out;
		struct demo_ids ids;

		memset(&out, 0, sizeof out);
		memset(&ids, 0, sizeof ids);
		ids.household = demo_reserve(conn, "household", bound);
		ids.national = ids.household != NULL ? demo_reserve(conn, "national", bound) : NULL;
		if (ids.national == NULL) {
			free(ids.household);
			return false;
		}
		while (made < target) {
			long forced = -1, before = g->stats.people;
			/* The first households go to the cities others rely on. */
			if (must < c->nmust) {
				for (size_t i = 0; i < c->ncities; i++)
					if (strcmp(c->cities[i].name, c->must[must]) == 0)
						forced = (long)i;
				must++;
			}
			demo_household(g, &out, &ids, n - made, forced);
			made += g->stats.people - before;
		}
		ok =
		    demo_copy(conn,
		              "COPY household (id, mission_id, external_ref, label) FROM STDIN",
		              &out.household) &&
		    demo_copy(
		        conn,
		        "COPY national (id, mission_id, household_id, name_ko, name_latin, "
		        "name_key, birth_date, passport_no, kind, arrival_date, departure_date, "
		        "languages, needs, address, residence_status, source, notes) FROM STDIN",
		        &out.national) &&
		    demo_copy(
		        conn,
		        "COPY contact (national_id, kind, value, priority, verified) FROM STDIN",
		        &out.contact) &&
		    /* The trigger on location sets each national's last_point and region. */
		    demo_copy(conn,
		              "COPY location (national_id, point, accuracy_m, source, observed_at) "
		              "FROM STDIN",
		              &out.location);
		free(out.household.p);
		free(out.national.p);
		free(out.contact.p);
		free(out.location.p);
		free(ids.household);
		free(ids.national);
		if (ok && n >= 10000) {
			for (; next_report <= 10 && made >= n * next_report / 10; next_report++)
				printf("  %3ld%%  %ld of %ld people\n", next_report * 10, made, n);
			fflush(stdout);
		}
	}
	return ok;
}

/* Adds the country's real facilities to the shelters (updated in place on a rerun). */
static bool
demo_places(const struct demo_country *c, PGconn *conn, const char *mission_id)
{
	cJSON *rows = cJSON_CreateArray();
	const char *params[2];
	char *json;
	PGresult *r;

	for (size_t i = 0; i < c->nplaces; i++) {
		const struct demo_place *p = &c->places[i];
		cJSON *row = cJSON_CreateObject();
		cJSON_AddStringToObject(row, "ref", p->ref);
		cJSON_AddStringToObject(row, "kind", p->kind);
		cJSON_AddStringToObject(row, "name", p->name);
		cJSON_AddStringToObject(row, "address", p->address);
		cJSON_AddNumberToObject(row, "lat", p->lat);
		cJSON_AddNumberToObject(row, "lon", p->lon);
		cJSON_AddNumberToObject(row, "capacity", p->capacity);
		cJSON_AddBoolToObject(row, "medical", p->medical);
		cJSON_AddBoolToObject(row, "accessible", p->accessible);
		cJSON_AddBoolToObject(row, "open", p->open);
		cJSON_AddItemToArray(rows, row);
	}
	json = cJSON_PrintUnformatted(rows);
	cJSON_Delete(rows);
	params[0] = mission_id;
	params[1] = json;
	r = PQexecParams(
	    conn,
	    "INSERT INTO shelter (mission_id, kind, name, address, point, capacity, medical, "
	    " accessible, open, external_ref) "
	    "SELECT $1, x.kind::shelter_kind, x.name, x.address, "
	    " ST_SetSRID(ST_MakePoint(x.lon, x.lat), 4326)::geography, x.capacity, x.medical, "
	    " x.accessible, x.open, x.ref "
	    "FROM jsonb_to_recordset($2::jsonb) AS x(ref text, kind text, name text, "
	    " address text, lat double precision, lon double precision, capacity integer, "
	    " medical boolean, accessible boolean, open boolean) "
	    "ON CONFLICT (mission_id, external_ref) DO UPDATE SET kind = EXCLUDED.kind, "
	    " name = EXCLUDED.name, address = EXCLUDED.address, point = EXCLUDED.point, "
	    " capacity = EXCLUDED.capacity, medical = EXCLUDED.medical, "
	    " accessible = EXCLUDED.accessible, open = EXCLUDED.open, updated_at = now()",
	    2, NULL, params, NULL, NULL, 0);
	cJSON_free(json);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		fprintf(stderr, "safetyctl: error: %s", PQerrorMessage(conn));
		PQclear(r);
		return false;
	}
	PQclear(r);
	return true;
}

/* Runs a statement with parameters; prints the error and returns NULL on failure. */
static PGresult *
demo_exec(PGconn *conn, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		fprintf(stderr, "safetyctl: error: %s\n", msg != NULL ? msg : PQerrorMessage(conn));
		PQclear(r);
		return NULL;
	}
	return r;
}

/* Makes the mission or finds it; writes its id and how many nationals it has. */
static bool
demo_mission(PGconn *conn, const struct demo_country *c, const char *code, char *id, size_t idsz,
             long *nationals)
{
	char countries[8];
	const char *params[6];
	PGresult *r;

	snprintf(countries, sizeof countries, "{%s}", c->code);
	params[0] = code;
	params[1] = c->mission_name;
	params[2] = c->code;
	params[3] = countries;
	params[4] = c->timezone;
	r = demo_exec(
	    conn,
	    "INSERT INTO mission (code, name, default_country, countries, timezone) "
	    "VALUES ($1, $2, $3, $4::text[], $5) ON CONFLICT (code) DO NOTHING RETURNING id",
	    5, params);
	if (r == NULL)
		return false;
	if (PQntuples(r) == 1) {
		snprintf(id, idsz, "%s", PQgetvalue(r, 0, 0));
		PQclear(r);
		params[0] = demo_actor();
		params[1] = id;
		params[2] = code;
		r = demo_exec(
		    conn,
		    "SELECT audit_record($1, 'operator', NULL, '', 'mission.create', "
		    "'mission', $2, json_build_object('code', $3::text, 'demo', true)::text)",
		    3, params);
		if (r == NULL)
			return false;
		printf("created mission %s (id %s): %s\n", code, id, c->mission_name);
	}
	PQclear(r);
	/* Locked, so that two demos cannot fill one mission at once. */
	params[0] = code;
	r = demo_exec(conn,
	              "SELECT m.id, m.default_country, (SELECT count(*) FROM national n "
	              " WHERE n.mission_id = m.id AND n.deleted_at IS NULL) "
	              "FROM mission m WHERE m.code = $1 FOR UPDATE",
	              1, params);
	if (r == NULL)
		return false;
	snprintf(id, idsz, "%s", PQgetvalue(r, 0, 0));
	*nationals = atol(PQgetvalue(r, 0, 2));
	if (strcmp(PQgetvalue(r, 0, 1), c->code) != 0) {
		fprintf(stderr,
		        "safetyctl: mission %s is in country %s, not %s\n"
		        "hint: give another --mission CODE\n",
		        code, PQgetvalue(r, 0, 1), c->code);
		PQclear(r);
		return false;
	}
	PQclear(r);
	return true;
}

/* Prints what the mission now holds: people by region, shelters by kind. */
static void
demo_summary(PGconn *conn, const struct demo_gen *g, const char *code, double seconds)
{
	const struct demo_stats *s = &g->stats;
	const char *params[1] = {g->mission_id};
	PGresult *r;

	printf("people: %ld in %ld households: %ld residents, %ld travellers (%ld already left, "
	       "%ld not yet arrived)\n",
	       s->people, s->households, s->residents, s->travellers, s->departed, s->arriving);
	printf("contacts: %ld mobile numbers, %ld e-mail addresses (example.org and example.com "
	       "only)\n",
	       s->phones, s->emails);
	r = demo_exec(conn,
	              "SELECT r.code, r.name, count(*) FROM national n JOIN region r "
	              " ON r.id = n.region_id WHERE n.mission_id = $1 AND n.deleted_at IS NULL "
	              "GROUP BY r.code, r.name ORDER BY 3 DESC, 1 LIMIT 10",
	              1, params);
	if (r != NULL) {
		printf("people by region (top %d):\n", PQntuples(r));
		for (int i = 0; i < PQntuples(r); i++)
			printf("  %-8s %-24s %6s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
			       PQgetvalue(r, i, 2));
		PQclear(r);
	}
	r = demo_exec(conn,
	              "SELECT count(*) FILTER (WHERE region_id IS NULL AND last_point IS NOT NULL) "
	              "FROM national WHERE mission_id = $1 AND deleted_at IS NULL",
	              1, params);
	if (r != NULL) {
		if (atol(PQgetvalue(r, 0, 0)) > 0)
			printf("  (%s people outside every region)\n", PQgetvalue(r, 0, 0));
		PQclear(r);
	}
	r = demo_exec(conn,
	              "SELECT kind, count(*), sum(capacity) FROM shelter WHERE mission_id = $1 "
	              "GROUP BY kind ORDER BY 2 DESC, 1",
	              1, params);
	if (r != NULL) {
		printf("shelters:\n");
		for (int i = 0; i < PQntuples(r); i++)
			printf("  %-16s %6s  capacity %s\n", PQgetvalue(r, i, 0),
			       PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
		PQclear(r);
	}
	if (g->c->shelters_file != NULL)
		printf("note: the AFAD assembly points publish no capacity; the demo assigned "
		       "one (" DEMO_AFAD_CAPACITY "), not an official figure\n");
	printf("demo mission %s ready in %.1f s (all people are synthetic; all places real)\n",
	       code, seconds);
}

/* Writes the folder of the demo's place files into buf. */
static void
demo_dir(const struct config *cfg, char *buf, size_t size)
{
	const char *env = getenv("SAFETY_DEMO_DIR");
	char sql[4096];
	char *slash;
	size_t len;

	if (env != NULL && env[0] != '\0') {
		snprintf(buf, size, "%s", env);
		return;
	}
	/* The source tree and an install both keep sql/ and deploy/demo/ side by side. */
	snprintf(sql, sizeof sql, "%s", cfg->sql_dir);
	len = strlen(sql);
	while (len > 1 && sql[len - 1] == '/')
		sql[--len] = '\0';
	slash = strrchr(sql, '/');
	if (slash == NULL)
		snprintf(buf, size, "deploy/demo");
	else if (slash == sql)
		snprintf(buf, size, "/deploy/demo");
	else {
		*slash = '\0';
		snprintf(buf, size, "%s/deploy/demo", sql);
	}
}

/* Checks that a demo file is there; false with a message naming it. */
static bool
demo_file(const char *dir, const char *name, char *path, size_t size)
{
	snprintf(path, size, "%s/%s", dir, name);
	if (access(path, R_OK) == 0)
		return true;
	fprintf(stderr,
	        "safetyctl: demo data not found: %s: %s\n"
	        "hint: set SAFETY_DEMO_DIR to the deploy/demo folder of the source tree\n",
	        path, strerror(errno));
	return false;
}

/* Makes the demo mission. */
int
ctl_demo(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	const struct demo_country *c = NULL;
	const char *country = NULL, *mission = NULL;
	char dir[4096], regions[4200], shelters[4200], code[40];
	char *end;
	unsigned long long seed = 1;
	long people = 3000, existing = 0;
	bool if_empty = false, ok;
	struct demo_gen g;
	struct timespec t0, t1;
	int rc;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		bool has_value = i + 1 < argc;

		if (strcmp(a, "--country") == 0 && has_value) {
			country = argv[++i];
		} else if (strcmp(a, "--people") == 0 && has_value) {
			errno = 0;
			people = strtol(argv[++i], &end, 10);
			if (errno != 0 || end == argv[i] || *end != '\0' || people < 0 ||
			    people > DEMO_PEOPLE_MAX) {
				fprintf(stderr, "safetyctl: --people must be from 0 to %ld\n",
				        DEMO_PEOPLE_MAX);
				return 2;
			}
		} else if (strcmp(a, "--mission") == 0 && has_value) {
			mission = argv[++i];
		} else if (strcmp(a, "--seed") == 0 && has_value) {
			errno = 0;
			seed = strtoull(argv[++i], &end, 10);
			if (errno != 0 || end == argv[i] || *end != '\0' || argv[i][0] == '-') {
				fprintf(stderr, "safetyctl: --seed must be a whole number\n");
				return 2;
			}
		} else if (strcmp(a, "--if-empty") == 0) {
			if_empty = true;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(demo_usage, stdout);
			return 0;
		} else {
			fprintf(stderr,
			        "safetyctl: demo: unknown argument or missing value: %s\n%s", a,
			        demo_usage);
			return 2;
		}
	}
	for (size_t i = 0; country != NULL && i < DEMO_COUNT(demo_countries); i++)
		if (strcasecmp(country, demo_countries[i].code) == 0)
			c = &demo_countries[i];
	if (c == NULL) {
		fprintf(stderr, "safetyctl: demo needs --country TR, UA or TH\n%s", demo_usage);
		return 2;
	}
	snprintf(code, sizeof code, "%s", mission != NULL ? mission : c->mission_code);
	if (strlen(code) < 2 || strlen(code) > 32 ||
	    strspn(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != strlen(code) ||
	    code[0] == '-') {
		fprintf(stderr, "safetyctl: a mission code is 2 to 32 capital letters, digits and "
		                "'-' (e.g. TR-ANK)\n");
		return 2;
	}
	demo_dir(cfg, dir, sizeof dir);
	if (!demo_file(dir, c->regions_file, regions, sizeof regions) ||
	    (c->shelters_file != NULL &&
	     !demo_file(dir, c->shelters_file, shelters, sizeof shelters)))
		return 1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	demo_gen_init(&g, c, (uint64_t)seed);
	PQclear(PQexec(conn, "BEGIN"));
	ok = demo_mission(conn, c, code, g.mission_id, sizeof g.mission_id, &existing);
	if (ok && existing > 0) {
		PQclear(PQexec(conn, "ROLLBACK"));
		demo_gen_free(&g);
		if (if_empty) {
			printf("mission %s already has %ld nationals: nothing done (--if-empty)\n",
			       code, existing);
			return 0;
		}
		fprintf(stderr,
		        "safetyctl: mission %s already has %ld nationals; the demo fills only an "
		        "empty mission\n"
		        "hint: --if-empty to leave it as it is, or --mission CODE for another\n",
		        code, existing);
		return 1;
	}
	if (ok) {
		char opt_mission[] = "--mission", opt_assign[] = "--assign-capacity",
		     opt_skip[] = "--skip-bad", assign[] = DEMO_AFAD_CAPACITY;
		char *region_args[] = {regions, opt_mission, code};
		char *shelter_args[] = {shelters, opt_mission, code, opt_assign, assign, opt_skip};

		/* The same importer as safetyctl import, inside this transaction. */
		ok = ctl_import_geo(cfg, conn, "regions", 3, region_args) == 0;
		if (ok && c->shelters_file != NULL)
			ok = ctl_import_geo(cfg, conn, "shelters", 6, shelter_args) == 0;
	}
	ok = ok && demo_places(c, conn, g.mission_id);
	if (ok) {
		demo_load_areas(&g, regions);
		if (people >= 10000)
			printf("making %ld people...\n", people);
		ok = demo_people(&g, conn, people);
	}
	if (ok) {
		char summary[512], seed_s[24];
		const char *params[4];
		PGresult *r;

		snprintf(seed_s, sizeof seed_s, "%llu", seed);
		snprintf(summary, sizeof summary,
		         "{\"country\":\"%s\",\"seed\":%s,\"people\":%ld,\"households\":%ld,"
		         "\"residents\":%ld,\"travellers\":%ld,\"places\":%zu}",
		         c->code, seed_s, g.stats.people, g.stats.households, g.stats.residents,
		         g.stats.travellers, c->nplaces);
		params[0] = demo_actor();
		params[1] = g.mission_id;
		params[2] = summary;
		params[3] = g.mission_id;
		r = demo_exec(conn,
		              "SELECT audit_record($1, 'operator', $2::bigint, '', 'demo.create', "
		              "'mission', $4::text, $3)",
		              4, params);
		ok = r != NULL;
		PQclear(r);
	}
	if (ok) {
		PGresult *r = PQexec(conn, "COMMIT");
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		if (!ok)
			fprintf(stderr, "safetyctl: error: %s", PQerrorMessage(conn));
		PQclear(r);
	}
	if (!ok) {
		PQclear(PQexec(conn, "ROLLBACK"));
		fprintf(stderr, "safetyctl: demo failed: nothing was changed\n");
		rc = 1;
	} else {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		demo_summary(conn, &g, code,
		             (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
		rc = 0;
	}
	demo_gen_free(&g);
	return rc;
}
