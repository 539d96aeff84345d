/*
 * Nationals register themselves at /register: a trip (legs with places and
 * dates) or a residence, the people travelling with them, their phones and
 * e-mail (confirmed with one-time codes), and an emergency contact at home.
 * Plain HTML forms that work without JavaScript, in Korean or English.
 *
 * Nothing is stored before the consent box is ticked. Every value is checked
 * here with the registry's own validators (the import module for people,
 * phones and e-mail), so a mistake comes back as the form with the values
 * kept and each problem named next to its field. The registration then
 * answers with its management link (/register/m/<secret>): only the secret's
 * SHA-256 is kept, and the link opens the registration to see, change,
 * confirm codes, or delete it for real.
 *
 * The list of missions and their regions is kept in memory for a minute, so
 * the blank form is served without the database and keeps being served when
 * the registration endpoint is flooded; saves are capped in flight.
 */
#include "routes.h"

#include "daemon.h"
#include "html.h"
#include "text.h"
#include "log.h"
#include "xmalloc.h"

#include <sys/queue.h>

#include <cjson/cJSON.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <safety/date.h>
#include <safety/email.h>
#include <safety/import.h>
#include <safety/limiter.h>
#include <safety/name.h>
#include <safety/phone.h>
#include <safety/secret.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Limits a form cannot pass. */
#define REG_BODY_MAX 32768
#define REG_LEGS_MAX 10
#define REG_MEMBERS_MAX 9
#define REG_ERRORS_MAX 24
/* Rows shown without asking for more. */
#define REG_LEGS_SHOWN 3
#define REG_MEMBERS_SHOWN 3
/*
 * Registrations one address may make in a day (hotels and carriers share
 * addresses). An address is the rate limiter's key: IPv4 as is, IPv6 by /64.
 */
#define REG_PER_ADDRESS_DAY 30
/*
 * One-time codes in an hour per registration and per address: enough for a
 * household's contacts and a few corrections, too few to pump messages to
 * numbers of someone's choosing. The budget of all codes is configured.
 */
#define REG_CODES_PER_REGISTRATION_HOUR 8
#define REG_CODES_PER_ADDRESS_HOUR 20
/* Lost-link requests in an hour per address and per contact asked for. */
#define REG_LOST_PER_ADDRESS_HOUR 10
#define REG_LOST_PER_CONTACT_HOUR 3
/* Saves in flight at once; more get "busy" while the blank form keeps being served. */
#define REG_SAVES_MAX 16
/* Seconds the mission list is trusted. */
#define REG_CACHE_SECONDS 60

struct reg_text {
	const char *lang, *other, *other_name, *title, *intro, *privacy, *country, *next, *kind,
	    *trip, *residence, *you, *name_ko, *name_latin, *birth, *passport, *phone, *phone2,
	    *email, *languages, *needs, *legs, *leg, *region, *region_none, *place, *address,
	    *arrival, *departure, *more_legs, *home, *stay, *people, *person, *person_name,
	    *more_people, *family, *family_more, *family_name, *family_relation, *family_phone,
	    *family_email, *family_consent, *consent, *submit, *errors, *err_consent, *err_leg,
	    *err_leg_dates, *err_leg_past, *err_place, *err_family, *err_country, *err_text,
	    *manage, *keep_link, *contacts, *confirmed, *unconfirmed, *code, *confirm, *resend,
	    *code_ok, *code_wrong, *code_expired, *code_locked, *code_wait, *code_sent, *save,
	    *saved, *delete_title, *delete_confirm, *delete_button, *deleted, *gone, *gone_more,
	    *busy, *limit, *need_child, *need_elderly, *need_pregnant, *need_disability,
	    *need_medical, *created, *lost, *lost_intro, *lost_contact, *lost_send, *lost_done,
	    *merged, *code_limit, *update_limit, *codes_held, *lost_limit, *err_leg_region,
	    *err_date, *err_too_many_legs, *update_busy, *err_home_region, *err_mission,
	    *err_which_mission, *err_nul;
};

static const struct reg_text reg_ko = {
    "ko",
    "English",
    "en",
    "재외국민 등록",
    "해외에 머무는 동안 위기가 생기면 대사관이 먼저 연락할 수 있도록 여행이나 체류를 등록하세요.",
    "수집하는 정보: 이름, 생년월일, 여권번호(선택), 연락처, 여행 일정 또는 주소, 동행자, 가족 "
    "연락처. 목적: 재난·테러·전쟁 같은 위기 때 안전을 확인하고 대피를 돕기 위해서만 씁니다. 보관: "
    "여행은 귀국 후 %d일이 지나면 지워지고, 체류 등록은 직접 지울 때까지 보관됩니다. 관리 링크로 "
    "언제든 보고, 고치고, 지울 수 있습니다.",
    "머무는 나라",
    "다음",
    "등록 종류",
    "여행",
    "체류(거주)",
    "본인",
    "이름 (한글)",
    "이름 (영문, 여권과 같이)",
    "생년월일",
    "여권번호 (선택)",
    "휴대전화",
    "다른 전화 (선택)",
    "이메일 (선택)",
    "사용하는 언어",
    "도움이 필요한 점",
    "여행 일정",
    "일정",
    "지역",
    "(고르지 않음)",
    "도시나 장소",
    "숙소나 주소 (선택)",
    "도착일",
    "출발일",
    "일정 더 쓰기",
    "거주지",
    "체류 자격 (예: 주재원, 유학, 영주)",
    "함께 있는 사람",
    "동행자",
    "이름",
    "동행자 더 쓰기",
    "국내 비상연락처",
    "동의하면, 안전 확인에 답할 때마다 이 분께 답과 시각만 알려 드립니다 (위치는 알리지 "
    "않습니다).",
    "이름",
    "관계",
    "전화",
    "이메일",
    "위의 가족에게 내 안전 확인 결과를 알리는 데 동의합니다",
    "위에 적은 수집·이용에 동의합니다",
    "등록하기",
    "고칠 곳이 있습니다",
    "등록하려면 개인정보 수집·이용에 동의해 주세요.",
    "일정을 하나 이상, 지역과 날짜를 넣어 적어 주세요.",
    "출발일이 도착일보다 빠릅니다.",
    "이미 끝난 일정입니다.",
    "장소가 너무 깁니다.",
    "가족에게 알리려면 전화나 이메일을 적어 주세요.",
    "이 나라는 등록할 수 없습니다.",
    "글자가 너무 길거나 쓸 수 없는 문자가 있습니다.",
    "내 등록",
    "이 페이지의 주소가 내 등록의 관리 링크입니다. 북마크해 두세요. 링크를 가진 사람은 등록을 "
    "보고 고칠 수 있습니다.",
    "연락처 확인",
    "확인됨",
    "확인 안 됨",
    "받은 코드",
    "확인",
    "코드 다시 받기",
    "확인되었습니다.",
    "코드가 맞지 않습니다.",
    "코드가 만료되었습니다. 새 코드를 받으세요.",
    "너무 많이 틀렸습니다. 새 코드를 받으세요.",
    "잠시 뒤에 다시 요청하세요.",
    "코드를 보냈습니다.",
    "저장",
    "저장했습니다.",
    "등록 지우기",
    "내 등록과 동행자 정보를 모두 지웁니다",
    "지우기",
    "등록을 지웠습니다. 남은 개인정보는 없습니다.",
    "이 링크는 쓸 수 없습니다",
    "링크가 잘못되었거나 등록이 지워졌습니다.",
    "지금은 저장하지 못했습니다. 잠시 뒤 다시 보내 주세요.",
    "이 주소에서 오늘 너무 많이 등록했습니다. 내일 다시 하거나 대사관에 연락하세요.",
    "어린이",
    "고령자",
    "임신",
    "장애",
    "의료 지원",
    "등록되었습니다. 연락처로 보낸 코드를 입력해 확인해 주세요.",
    "관리 링크를 잃어버렸나요?",
    "등록할 때 확인한 휴대전화나 이메일을 적으면 새 링크를 보내 드립니다. 새 링크를 열면 이전 "
    "링크는 더 이상 쓸 수 없게 됩니다.",
    "휴대전화 또는 이메일",
    "새 링크 받기",
    "그 연락처가 확인된 등록이 있으면 새 링크를 보냈습니다. 몇 분 안에 오지 않으면 대사관에 "
    "연락하세요.",
    "대사관이 이 등록을 대사관의 기존 명부와 합쳤습니다. 내용을 바꾸려면 대사관에 연락하세요. "
    "등록은 "
    "아래에서 언제든 지울 수 있습니다.",
    "지금은 코드를 더 보낼 수 없습니다. 약 %d분 뒤에 다시 요청해 주세요.",
    "변경 내용을 저장하지 않았습니다. 새 연락처를 확인할 코드를 지금은 더 보낼 수 없습니다. "
    "약 %d분 뒤에 다시 저장해 주세요. 등록은 그대로이고, 적은 내용은 아래에 남아 있습니다.",
    "등록은 저장되었지만 지금은 확인 코드를 보낼 수 없었습니다. 약 %d분 뒤에 '코드 다시 받기'를 "
    "눌러 주세요.",
    "지금은 새 링크 요청이 너무 많습니다. 약 %d분 뒤에 다시 해 주세요.",
    "지역을 골라 주세요. 지역이 있어야 위기 때 그곳에 있는 사람으로 찾을 수 있습니다.",
    "날짜가 아닙니다. 2026-05-01처럼 연-월-일로 적어 주세요.",
    "일정이 너무 많습니다. 대사관이 이미 가진 일정과 합쳐 %d개까지 더 저장할 수 있습니다.",
    "변경 내용을 저장하지 않았습니다. 대사관이 지금 안전 확인을 보내고 있어 동행자를 뺄 수 "
    "없습니다. 잠시 뒤에 다시 저장해 주세요. 등록은 그대로이고, 적은 내용은 아래에 남아 있습니다.",
    "사는 곳의 지역을 골라 주세요. 지역이 있어야 위기 때 그곳에 사는 사람으로 찾을 수 있습니다.",
    "보내신 양식의 공관을 알 수 없습니다. 나라와 공관을 다시 골라 주세요.",
    "이 나라는 여러 공관이 맡고 있습니다. 머무는 곳을 맡은 공관을 골라 주세요.",
    "쓸 수 없는 문자(NUL)가 들어 있습니다. 고쳐서 다시 보내 주세요."};

static const struct reg_text reg_en = {
    "en",
    "한국어",
    "ko",
    "Register your trip or stay abroad",
    "Register so that the embassy can reach you first if a crisis happens where you are.",
    "What is kept: names, birth date, passport number (optional), phone and e-mail, your trip or "
    "address, the people with you, a contact at home. Why: only to check that you are safe and "
    "help you leave in a crisis (disaster, attack, war). How long: a trip is deleted %d days "
    "after you leave; a residence until you delete it. Your management link lets you see, "
    "change or delete everything at any time.",
    "Country",
    "Next",
    "What to register",
    "A trip",
    "A residence",
    "You",
    "Name in Hangul",
    "Name in Latin letters (as in the passport)",
    "Date of birth",
    "Passport number (optional)",
    "Mobile phone",
    "Other phone (optional)",
    "E-mail (optional)",
    "Languages",
    "Needs",
    "Your trip",
    "Leg",
    "Region",
    "(none)",
    "City or place",
    "Hotel or address (optional)",
    "Arrival",
    "Departure",
    "More legs",
    "Where you live",
    "Kind of stay (work, study, permanent...)",
    "People with you",
    "Person",
    "Name",
    "More people",
    "Contact at home",
    "If you agree, they are told your answer and its time each time you answer a safety check "
    "(never where you are).",
    "Name",
    "Relation",
    "Phone",
    "E-mail",
    "I agree that this contact is told my safety answers",
    "I agree to what is kept and why, as written above",
    "Register",
    "Please correct",
    "To register, please agree to what is kept and why.",
    "Give at least one leg, with its region and dates.",
    "Departure is before arrival.",
    "This leg has already ended.",
    "The place is too long.",
    "To tell your contact at home, give their phone or e-mail.",
    "This country cannot be registered here.",
    "Too long, or has characters that cannot be used.",
    "Your registration",
    "This page's address is your registration's management link: bookmark it. Whoever has the "
    "link can see and change your registration.",
    "Confirm your contacts",
    "confirmed",
    "not confirmed",
    "Code received",
    "Confirm",
    "Send a new code",
    "Confirmed.",
    "That code is not right.",
    "The code has expired. Ask for a new one.",
    "Too many wrong tries. Ask for a new code.",
    "Please wait a minute before asking again.",
    "A code was sent.",
    "Save",
    "Saved.",
    "Delete my registration",
    "Delete my registration and the people with me",
    "Delete",
    "Your registration was deleted. Nothing personal is kept.",
    "This link cannot be used",
    "The link is not valid or the registration was deleted.",
    "Your registration could not be saved just now. Please send it again in a moment.",
    "Too many registrations from this address today. Try tomorrow or call the embassy.",
    "Child",
    "Elderly",
    "Pregnant",
    "Disability",
    "Medical care",
    "You are registered. Enter the code sent to your phone or e-mail to confirm it.",
    "Lost your management link?",
    "Give the phone or e-mail you confirmed when registering and a new link is sent to it. The "
    "old link stops working once you open the new one.",
    "Mobile phone or e-mail",
    "Send a new link",
    "If a registration has that contact confirmed, a new link was sent to it. If nothing arrives "
    "within a few minutes, call the embassy.",
    "The embassy has joined this registration with its own record of you. To change anything, "
    "contact the embassy; you can still delete the registration below.",
    "No more codes can be sent just now. Please ask again in about %d minutes.",
    "Your change was not saved: no more codes to confirm new contacts can be sent just now. "
    "Please save again in about %d minutes. Your registration is as it was, and what you typed "
    "is below.",
    "Your registration is saved, but no code could be sent just now. Please press \"Send a new "
    "code\" in about %d minutes.",
    "Too many requests for a new link just now. Please try again in about %d minutes.",
    "Choose this leg's region: without one the embassy cannot find you there in a crisis.",
    "Not a date: write it as year-month-day, e.g. 2026-05-01.",
    "Too many legs: with the legs the embassy already has for you, %d more can be saved.",
    "Your change was not saved: the embassy is sending a safety check just now, and nobody can "
    "be taken off a registration meanwhile. Please save again in a moment. Your registration is "
    "as it was, and what you typed is below.",
    "Choose the region where you live: without one the embassy cannot find you there in a "
    "crisis.",
    "The mission named in the form is not known. Please choose your country and mission again.",
    "Several missions serve this country. Please choose the one for where you are.",
    "Contains a character that cannot be stored (NUL). Please correct it and send again."};

static const char *const reg_needs[] = {"child", "elderly", "pregnant", "disability", "medical"};
static const char *const reg_langs[] = {"ko", "en", "tr", "uk", "ru", "th", "ar", "fr", "es"};

/* ---- the missions and their regions, kept a minute ---- */

static struct {
	/* [{id, name, country, countries: [], utc_offset_s, regions: [{id, name}]}] */
	cJSON *missions;
	time_t loaded;
} reg_cache;

static int reg_saves_in_flight;

/* For /metrics: registrations by outcome, and codes by outcome; counts only, never who. */
enum { REG_CREATED, REG_REFUSED, REG_LIMITED, REG_BUSY, REG_UPDATED, REG_DELETED, REG_NOUTCOMES };
static unsigned long long reg_outcomes[REG_NOUTCOMES];
enum {
	CODE_SENT,
	CODE_WAIT,
	CODE_CONFIRMED,
	CODE_WRONG,
	CODE_LOCKED,
	CODE_EXPIRED,
	CODE_LIMITED,
	CODE_NOUTCOMES
};
static unsigned long long code_outcomes[CODE_NOUTCOMES];

static const char reg_missions_sql[] =
    "SELECT coalesce(json_agg(json_build_object('id', m.id, 'code', m.code, 'name', m.name, "
    " 'country', m.default_country, 'countries', m.countries, "
    " 'utc_offset_s', extract(epoch FROM (now() AT TIME ZONE m.timezone) "
    "   - (now() AT TIME ZONE 'UTC'))::integer, "
    " 'regions', (SELECT coalesce(json_agg(json_build_object('id', r.id, 'name', r.name) "
    "   ORDER BY r.name), '[]') FROM region r WHERE r.mission_id = m.id)) ORDER BY m.id), '[]') "
    "FROM mission m";

/* True when mission m serves country. */
static bool
reg_mission_serves(const cJSON *m, const char *country)
{
	const cJSON *c;

	if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m, "country")), country) == 0)
		return true;
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, "countries"))
	{
		if (cJSON_IsString(c) && strcmp(c->valuestring, country) == 0)
			return true;
	}
	return false;
}

/* The mission with this code, or NULL. */
static const cJSON *
reg_mission_by_code(const char *code)
{
	const cJSON *m;

	if (reg_cache.missions == NULL || code == NULL || *code == '\0')
		return NULL;
	cJSON_ArrayForEach(m, reg_cache.missions)
	{
		const char *mc = cJSON_GetStringValue(cJSON_GetObjectItem(m, "code"));
		if (mc != NULL && strcmp(mc, code) == 0)
			return m;
	}
	return NULL;
}

/* The mission with this id, or NULL. */
static const cJSON *
reg_mission_by_id(double id)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, reg_cache.missions)
	{
		if (cJSON_GetNumberValue(cJSON_GetObjectItem(m, "id")) == id)
			return m;
	}
	return NULL;
}

/* The region of a mission by id text, or NULL. */
static const cJSON *
reg_region(const cJSON *mission, const char *id)
{
	const cJSON *r;

	if (mission == NULL || id == NULL || *id == '\0')
		return NULL;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(mission, "regions"))
	{
		char buf[24];
		snprintf(buf, sizeof buf, "%.0f",
		         cJSON_GetNumberValue(cJSON_GetObjectItem(r, "id")));
		if (strcmp(buf, id) == 0)
			return r;
	}
	return NULL;
}

enum reg_choice { REG_CHOSEN, REG_NO_COUNTRY, REG_NO_MISSION, REG_AMBIGUOUS };

/* True when every region the form names (at least one) is one of mission m's. */
static bool
reg_regions_fit(const cJSON *m, const struct evkeyvalq *form)
{
	const struct evkeyval *kv;
	int named = 0;

	if (form == NULL)
		return false;
	TAILQ_FOREACH(kv, form, next)
	{
		size_t n = strlen(kv->key);
		if (kv->value[0] == '\0' || n < 7 || strcmp(kv->key + n - 7, "_region") != 0)
			continue;
		if (reg_region(m, kv->value) == NULL)
			return false;
		named++;
	}
	return named > 0;
}

/*
 * The mission a registration goes to: the one the form or link names by
 * its code ("CODE", or "CODE.CC" for another country the mission serves),
 * else the only one serving the country. Several serve it and none is
 * named (a form or link from before): the one whose regions the form chose,
 * else the registrant is asked. *country is set to the country meant.
 */
static enum reg_choice
reg_choose_mission(const char *named, const char *country_in, const struct evkeyvalq *form,
                   const cJSON **mission, char country[3])
{
	const cJSON *m, *found = NULL;
	int serving = 0, fitting = 0;

	*mission = NULL;
	snprintf(country, 3, "%s", country_in != NULL ? country_in : "");
	if (reg_cache.missions == NULL)
		return REG_NO_COUNTRY;
	if (named != NULL && *named != '\0') {
		char code[40];
		const char *dot = strchr(named, '.');

		if (dot != NULL) {
			if ((size_t)(dot - named) >= sizeof code || strlen(dot + 1) != 2)
				return REG_NO_MISSION;
			snprintf(code, sizeof code, "%.*s", (int)(dot - named), named);
			snprintf(country, 3, "%s", dot + 1);
		} else {
			if (strlen(named) >= sizeof code)
				return REG_NO_MISSION;
			snprintf(code, sizeof code, "%s", named);
		}
		m = reg_mission_by_code(code);
		if (m == NULL)
			return REG_NO_MISSION;
		if (country[0] == '\0')
			snprintf(country, 3, "%s",
			         cJSON_GetStringValue(cJSON_GetObjectItem(m, "country")));
		if (strlen(country) != 2 || !reg_mission_serves(m, country))
			return REG_NO_MISSION;
		*mission = m;
		return REG_CHOSEN;
	}
	if (strlen(country) != 2)
		return REG_NO_COUNTRY;
	cJSON_ArrayForEach(m, reg_cache.missions)
	{
		if (!reg_mission_serves(m, country))
			continue;
		if (serving++ == 0)
			found = m;
	}
	if (serving == 0)
		return REG_NO_COUNTRY;
	if (serving > 1) {
		found = NULL;
		cJSON_ArrayForEach(m, reg_cache.missions)
		{
			if (reg_mission_serves(m, country) && reg_regions_fit(m, form)) {
				found = m;
				fitting++;
			}
		}
		if (fitting != 1)
			return REG_AMBIGUOUS;
	}
	*mission = found;
	return REG_CHOSEN;
}

/* ---- small helpers ---- */

/* A form value, "" when absent. */
static const char *
fv(const struct evkeyvalq *f, const char *key)
{
	const char *v = f != NULL ? evhttp_find_header(f, key) : NULL;
	return v != NULL ? v : "";
}

struct reg_errors {
	int n;
	char field[REG_ERRORS_MAX][24];
	char text[REG_ERRORS_MAX][SF_IMPORT_REASON_SIZE + 160];
};

static void
reg_error(struct reg_errors *e, const char *field, const char *text)
{
	if (e->n >= REG_ERRORS_MAX)
		return;
	snprintf(e->field[e->n], sizeof e->field[e->n], "%s", field);
	snprintf(e->text[e->n], sizeof e->text[e->n], "%s", text);
	e->n++;
}

static const char *
reg_error_for(const struct reg_errors *e, const char *field)
{
	for (int i = 0; e != NULL && i < e->n; i++)
		if (strcmp(e->field[i], field) == 0)
			return e->text[i];
	return NULL;
}

/* Chooses the language: a form's or the query's lang, then Accept-Language, else Korean. */
static const struct reg_text *
reg_language(struct http_ctx *ctx, const struct evkeyvalq *form)
{
	char lang[8];
	const char *q = form != NULL && *fv(form, "lang") != '\0'
	                    ? fv(form, "lang")
	                    : http_query(ctx, "lang", lang, sizeof lang);
	const char *accept;

	if (q != NULL)
		return strcmp(q, "en") == 0 ? &reg_en : &reg_ko;
	accept = evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "Accept-Language");
	if (accept != NULL) {
		const char *ko = strstr(accept, "ko"), *en = strstr(accept, "en");
		if (en != NULL && (ko == NULL || en < ko))
			return &reg_en;
	}
	return &reg_ko;
}

static struct evbuffer *
reg_page_start(const struct reg_text *t, const char *lang_href)
{
	struct evbuffer *b = evbuffer_new();

	evbuffer_add_printf(
	    b,
	    "<!doctype html><html lang=\"%s\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
	    "<meta name=\"robots\" content=\"noindex\"><title>%s</title>"
	    "<link rel=\"stylesheet\" href=\"/static/reply.css\">"
	    "<link rel=\"stylesheet\" href=\"/static/register.css\"></head><body><main>",
	    t->lang, t->title);
	if (lang_href != NULL) {
		evbuffer_add(b, "<a class=\"lang\" href=\"", 22);
		html_escape(b, lang_href);
		evbuffer_add_printf(b, "\" hreflang=\"%s\">%s</a>", t->other_name, t->other);
	}
	return b;
}

static void
reg_page_send(struct http_ctx *ctx, int status, struct evbuffer *b)
{
	size_t len;
	char *html;

	evbuffer_add(b, "</main></body></html>", 21);
	len = evbuffer_get_length(b);
	html = xmalloc(len + 1);
	evbuffer_remove(b, html, len);
	evbuffer_free(b);
	http_reply_bytes(ctx, status, "text/html; charset=utf-8", html, len);
	free(html);
}

/* A page with one message. */
static void
reg_message(struct http_ctx *ctx, int status, const struct reg_text *t, const char *heading,
            const char *text)
{
	struct evbuffer *b = reg_page_start(t, NULL);

	evbuffer_add_printf(b, "<div class=\"%s\" role=\"%s\"><h1>", status < 300 ? "ok" : "gone",
	                    status < 300 ? "status" : "alert");
	html_escape(b, heading);
	evbuffer_add(b, "</h1><p>", 8);
	html_escape(b, text);
	evbuffer_add(b, "</p></div>", 10);
	reg_page_send(ctx, status, b);
}

/* Writes text with the minutes of a wait of seconds (rounded up) where it says "%d". */
static void
reg_text_minutes(char *out, size_t outsz, const char *text, int seconds)
{
	const char *at = strstr(text, "%d");
	int minutes = seconds <= 60 ? 1 : (seconds + 59) / 60;

	if (at == NULL)
		snprintf(out, outsz, "%s", text);
	else
		snprintf(out, outsz, "%.*s%d%s", (int)(at - text), text, minutes, at + 2);
}

/* Tells the client when to try again, in seconds (at least one). */
static void
reg_retry_after(struct http_ctx *ctx, int seconds)
{
	char retry[16];

	snprintf(retry, sizeof retry, "%d", seconds < 1 ? 1 : seconds);
	http_add_header(ctx, "Retry-After", retry);
}

/*
 * The client as the limits count it, the rate limiter's key: an IPv4
 * address as is, an IPv6 one by its /64 (one host often has a whole /64).
 */
static void
reg_address_key(const struct http_ctx *ctx, char key[SF_RATETABLE_KEY_MAX])
{
	if (sf_ratetable_key(ctx->client_addr, key, SF_RATETABLE_KEY_MAX) != 0)
		snprintf(key, SF_RATETABLE_KEY_MAX, "?");
}

/* The hourly budgets of one-time codes, as contact_code_send reads them. */
static void
reg_code_limits(const struct http_ctx *ctx, char *out, size_t outsz)
{
	snprintf(out, outsz, "{\"per_registration\": %d, \"per_address\": %d, \"per_hour\": %d}",
	         REG_CODES_PER_REGISTRATION_HOUR, REG_CODES_PER_ADDRESS_HOUR,
	         ctx->d->cfg.registration_codes_per_hour);
}

/* A number from a query result's JSON, 0 when absent. */
static int
reg_json_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItem(o, key);
	return cJSON_IsNumber(v) ? v->valueint : 0;
}

/* ---- the form ---- */

/* One labelled input, its value kept, its error next to it. */
static void
reg_input(struct evbuffer *b, const struct evkeyvalq *v, const struct reg_errors *e,
          const char *name, const char *label, const char *type, const char *attrs)
{
	const char *err = reg_error_for(e, name);

	evbuffer_add_printf(b, "<label class=\"field\" for=\"%s\">", name);
	html_escape(b, label);
	evbuffer_add(b, "</label>", 8);
	if (err != NULL) {
		evbuffer_add_printf(b, "<p class=\"err\" id=\"%s-err\">", name);
		html_escape(b, err);
		evbuffer_add(b, "</p>", 4);
	}
	evbuffer_add_printf(b, "<input id=\"%s\" name=\"%s\" type=\"%s\" %s%s%s%s value=\"", name,
	                    name, type, attrs != NULL ? attrs : "",
	                    err != NULL ? " aria-invalid=\"true\" aria-describedby=\"" : "",
	                    err != NULL ? name : "", err != NULL ? "-err\"" : "");
	html_escape(b, fv(v, name));
	evbuffer_add(b, "\">", 2);
}

/* A region select for a mission. */
static void
reg_region_select(struct evbuffer *b, const struct reg_text *t, const cJSON *mission,
                  const struct evkeyvalq *v, const struct reg_errors *e, const char *name)
{
	const cJSON *r;
	const char *chosen = fv(v, name);
	const char *err = reg_error_for(e, name);

	evbuffer_add_printf(b, "<label class=\"field\" for=\"%s\">%s</label>", name, t->region);
	if (err != NULL) {
		evbuffer_add_printf(b, "<p class=\"err\" id=\"%s-err\">", name);
		html_escape(b, err);
		evbuffer_add(b, "</p>", 4);
	}
	evbuffer_add_printf(b, "<select id=\"%s\" name=\"%s\"%s%s%s><option value=\"\">%s</option>",
	                    name, name,
	                    err != NULL ? " aria-invalid=\"true\" aria-describedby=\"" : "",
	                    err != NULL ? name : "", err != NULL ? "-err\"" : "", t->region_none);
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(mission, "regions"))
	{
		char id[24];
		snprintf(id, sizeof id, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItem(r, "id")));
		evbuffer_add_printf(b, "<option value=\"%s\"%s>", id,
		                    strcmp(id, chosen) == 0 ? " selected" : "");
		html_escape(b, cJSON_GetStringValue(cJSON_GetObjectItem(r, "name")));
		evbuffer_add(b, "</option>", 9);
	}
	evbuffer_add(b, "</select>", 9);
}

static void
reg_checkbox(struct evbuffer *b, const struct evkeyvalq *v, const char *name, const char *label)
{
	evbuffer_add_printf(
	    b, "<label class=\"check\"><input type=\"checkbox\" name=\"%s\" value=\"1\"%s> ", name,
	    strcmp(fv(v, name), "1") == 0 ? " checked" : "");
	html_escape(b, label);
	evbuffer_add(b, "</label>", 8);
}

static int
reg_count(const struct evkeyvalq *v, const char *key, int shown, int max)
{
	int n = atoi(fv(v, key));
	return n < shown ? shown : n > max ? max : n;
}

/*
 * The whole form, for a new registration (action /register) or a change
 * (action the management link); values from v, errors from e.
 */
static void
reg_form(struct evbuffer *b, const struct reg_text *t, const cJSON *mission, const char *country,
         const struct evkeyvalq *v, const struct reg_errors *e, const char *action, bool is_new,
         int retention_days)
{
	int nlegs = reg_count(v, "legs", REG_LEGS_SHOWN, REG_LEGS_MAX);
	int npeople = reg_count(v, "people", REG_MEMBERS_SHOWN, REG_MEMBERS_MAX);
	bool residence = strcmp(fv(v, "kind"), "resident") == 0;
	static const char *const need_keys[] = {"need_child", "need_elderly", "need_pregnant",
	                                        "need_disability", "need_medical"};
	const char *need_labels[] = {t->need_child, t->need_elderly, t->need_pregnant,
	                             t->need_disability, t->need_medical};
	char name[32];

	if (e != NULL && e->n > 0) {
		evbuffer_add_printf(
		    b, "<div class=\"gone\" role=\"alert\" tabindex=\"-1\"><h2>%s</h2><ul>",
		    t->errors);
		for (int i = 0; i < e->n; i++) {
			evbuffer_add_printf(b, "<li><a href=\"#%s\">", e->field[i]);
			html_escape(b, e->text[i]);
			evbuffer_add(b, "</a></li>", 9);
		}
		evbuffer_add(b, "</ul></div>", 11);
	}
	evbuffer_add(b, "<form method=\"post\" action=\"", 28);
	html_escape(b, action);
	evbuffer_add_printf(b,
	                    "\" novalidate><input type=\"hidden\" name=\"lang\" value=\"%s\">"
	                    "<input type=\"hidden\" name=\"legs\" value=\"%d\">"
	                    "<input type=\"hidden\" name=\"people\" value=\"%d\">"
	                    "<input type=\"hidden\" name=\"country\" value=\"",
	                    t->lang, nlegs, npeople);
	html_escape(b, country);
	evbuffer_add_printf(b, "\"><input type=\"hidden\" name=\"mission\" value=\"");
	html_escape(b, cJSON_GetStringValue(cJSON_GetObjectItem(mission, "code")));
	evbuffer_add(b, "\">", 2);
	/*
	 * Enter in a field presses the form's first submit button: this one, not
	 * "More legs" further down. Hidden from sight and from assistive technology,
	 * which reach the visible button at the end.
	 */
	evbuffer_add_printf(b,
	                    "<button type=\"submit\" class=\"default\" hidden tabindex=\"-1\" "
	                    "aria-hidden=\"true\">%s</button>",
	                    is_new ? t->submit : t->save);
	evbuffer_add_printf(
	    b,
	    "<fieldset><legend>%s</legend><label class=\"check\"><input type=\"radio\" "
	    "name=\"kind\" value=\"traveller\"%s> %s</label><label class=\"check\">"
	    "<input type=\"radio\" name=\"kind\" value=\"resident\"%s> %s</label>"
	    "</fieldset>",
	    t->kind, residence ? "" : " checked", t->trip, residence ? " checked" : "",
	    t->residence);

	evbuffer_add_printf(b, "<fieldset><legend>%s</legend>", t->you);
	reg_input(b, v, e, "name_ko", t->name_ko, "text",
	          "maxlength=\"100\" autocomplete=\"name\"");
	reg_input(b, v, e, "name_latin", t->name_latin, "text", "maxlength=\"100\"");
	reg_input(b, v, e, "birth_date", t->birth, "date", NULL);
	reg_input(b, v, e, "passport_no", t->passport, "text", "maxlength=\"20\"");
	reg_input(b, v, e, "phone", t->phone, "tel", "maxlength=\"40\" autocomplete=\"tel\"");
	reg_input(b, v, e, "phone2", t->phone2, "tel", "maxlength=\"40\"");
	reg_input(b, v, e, "email", t->email, "email", "maxlength=\"254\" autocomplete=\"email\"");
	evbuffer_add_printf(b, "<fieldset><legend>%s</legend>", t->languages);
	for (size_t i = 0; i < sizeof reg_langs / sizeof *reg_langs; i++) {
		snprintf(name, sizeof name, "lang_%s", reg_langs[i]);
		reg_checkbox(b, v, name, reg_langs[i]);
	}
	evbuffer_add_printf(b, "</fieldset><fieldset><legend>%s</legend>", t->needs);
	for (size_t i = 0; i < 5; i++)
		reg_checkbox(b, v, need_keys[i], need_labels[i]);
	evbuffer_add(b, "</fieldset></fieldset>", 22);

	evbuffer_add_printf(b, "<fieldset class=\"trip\"><legend>%s</legend>", t->legs);
	if (reg_error_for(e, "legs") != NULL) {
		evbuffer_add(b, "<p class=\"err\" id=\"legs\">", 25);
		html_escape(b, reg_error_for(e, "legs"));
		evbuffer_add(b, "</p>", 4);
	}
	for (int i = 1; i <= nlegs; i++) {
		evbuffer_add_printf(b, "<fieldset class=\"leg\"><legend>%s %d</legend>", t->leg, i);
		snprintf(name, sizeof name, "leg%d_region", i);
		reg_region_select(b, t, mission, v, e, name);
		snprintf(name, sizeof name, "leg%d_place", i);
		reg_input(b, v, e, name, t->place, "text", "maxlength=\"200\"");
		snprintf(name, sizeof name, "leg%d_address", i);
		reg_input(b, v, e, name, t->address, "text", "maxlength=\"300\"");
		snprintf(name, sizeof name, "leg%d_arrival", i);
		reg_input(b, v, e, name, t->arrival, "date", NULL);
		snprintf(name, sizeof name, "leg%d_departure", i);
		reg_input(b, v, e, name, t->departure, "date", NULL);
		evbuffer_add(b, "</fieldset>", 11);
	}
	if (nlegs < REG_LEGS_MAX)
		evbuffer_add_printf(
		    b,
		    "<button class=\"more\" name=\"more\" value=\"legs\" type=\"submit\">%s"
		    "</button>",
		    t->more_legs);
	evbuffer_add(b, "</fieldset>", 11);

	evbuffer_add_printf(b, "<fieldset class=\"home\"><legend>%s</legend>", t->home);
	reg_region_select(b, t, mission, v, e, "home_region");
	reg_input(b, v, e, "address", t->address, "text", "maxlength=\"500\"");
	reg_input(b, v, e, "residence_status", t->stay, "text", "maxlength=\"100\"");
	evbuffer_add(b, "</fieldset>", 11);

	evbuffer_add_printf(b, "<fieldset><legend>%s</legend>", t->people);
	for (int i = 1; i <= npeople; i++) {
		evbuffer_add_printf(b, "<fieldset class=\"person\"><legend>%s %d</legend>",
		                    t->person, i);
		snprintf(name, sizeof name, "m%d_name", i);
		reg_input(b, v, e, name, t->person_name, "text", "maxlength=\"100\"");
		snprintf(name, sizeof name, "m%d_birth_date", i);
		reg_input(b, v, e, name, t->birth, "date", NULL);
		for (size_t k = 0; k < 5; k++) {
			snprintf(name, sizeof name, "m%d_%s", i, need_keys[k]);
			reg_checkbox(b, v, name, need_labels[k]);
		}
		evbuffer_add(b, "</fieldset>", 11);
	}
	if (npeople < REG_MEMBERS_MAX)
		evbuffer_add_printf(
		    b,
		    "<button class=\"more\" name=\"more\" value=\"people\" type=\"submit\">"
		    "%s</button>",
		    t->more_people);
	evbuffer_add(b, "</fieldset>", 11);

	evbuffer_add_printf(b, "<fieldset><legend>%s</legend><p class=\"note\">%s</p>", t->family,
	                    t->family_more);
	reg_input(b, v, e, "family_name", t->family_name, "text", "maxlength=\"100\"");
	reg_input(b, v, e, "family_relation", t->family_relation, "text", "maxlength=\"50\"");
	reg_input(b, v, e, "family_phone", t->family_phone, "tel", "maxlength=\"40\"");
	reg_input(b, v, e, "family_email", t->family_email, "email", "maxlength=\"254\"");
	reg_checkbox(b, v, "family_consent", t->family_consent);
	evbuffer_add(b, "</fieldset>", 11);

	if (is_new) {
		evbuffer_add(b, "<p class=\"note privacy\">", 24);
		{
			/* The text says "%d" where the days go. */
			const char *at = strstr(t->privacy, "%d");
			evbuffer_add(b, t->privacy, (size_t)(at - t->privacy));
			evbuffer_add_printf(b, "%d", retention_days);
			evbuffer_add(b, at + 2, strlen(at + 2));
		}
		evbuffer_add(b, "</p>", 4);
		if (reg_error_for(e, "consent") != NULL) {
			evbuffer_add(b, "<p class=\"err\" id=\"consent-err\">", 32);
			html_escape(b, reg_error_for(e, "consent"));
			evbuffer_add(b, "</p>", 4);
		}
		evbuffer_add_printf(
		    b,
		    "<label class=\"check\"><input id=\"consent\" type=\"checkbox\" "
		    "name=\"consent\" value=\"1\"> %s</label>",
		    t->consent);
	}
	evbuffer_add_printf(b, "<button type=\"submit\" class=\"send\">%s</button></form>",
	                    is_new ? t->submit : t->save);
}

/* The first step: which country (and so which mission and which regions). */
static void
reg_country_page(struct http_ctx *ctx, const struct reg_text *t, int status, const char *error)
{
	struct evbuffer *b =
	    reg_page_start(t, t == &reg_ko ? "/register?lang=en" : "/register?lang=ko");
	const cJSON *m;

	evbuffer_add_printf(b, "<h1>%s</h1><p>%s</p>", t->title, t->intro);
	if (error != NULL) {
		evbuffer_add(b, "<p class=\"err\" role=\"alert\">", 28);
		html_escape(b, error);
		evbuffer_add(b, "</p>", 4);
	}
	/*
	 * Each choice names its mission by code (and the country, when it is not
	 * the mission's own), as one country may have several missions.
	 */
	evbuffer_add_printf(b,
	                    "<form method=\"get\" action=\"/register\"><input type=\"hidden\" "
	                    "name=\"lang\" value=\"%s\"><label class=\"field\" for=\"country\">%s"
	                    "</label><select id=\"country\" name=\"mission\" required>",
	                    t->lang, t->country);
	cJSON_ArrayForEach(m, reg_cache.missions)
	{
		const cJSON *c;
		const char *home = cJSON_GetStringValue(cJSON_GetObjectItem(m, "country"));
		const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(m, "code"));
		bool listed = false;
		cJSON_ArrayForEach(c, cJSON_GetObjectItem(m, "countries"))
		{
			if (!cJSON_IsString(c) || strlen(c->valuestring) != 2)
				continue;
			listed = listed || strcmp(c->valuestring, home) == 0;
			evbuffer_add(b, "<option value=\"", 15);
			html_escape(b, code);
			if (strcmp(c->valuestring, home) != 0) {
				evbuffer_add(b, ".", 1);
				html_escape(b, c->valuestring);
			}
			evbuffer_add(b, "\">", 2);
			html_escape(b, c->valuestring);
			evbuffer_add(b, " — ", strlen(" — "));
			html_escape(b, cJSON_GetStringValue(cJSON_GetObjectItem(m, "name")));
			evbuffer_add(b, "</option>", 9);
		}
		if (!listed) {
			evbuffer_add(b, "<option value=\"", 15);
			html_escape(b, code);
			evbuffer_add_printf(b, "\">%s — ", home);
			html_escape(b, cJSON_GetStringValue(cJSON_GetObjectItem(m, "name")));
			evbuffer_add(b, "</option>", 9);
		}
	}
	evbuffer_add_printf(b,
	                    "</select><button type=\"submit\" class=\"send\">%s</button></form>"
	                    "<p><a href=\"/register/lost?lang=%s\">%s</a></p>",
	                    t->next, t->lang, t->lost);
	reg_page_send(ctx, status, b);
}

/* The form for a new registration with a mission, in a country it serves. */
static void
reg_new_page(struct http_ctx *ctx, const struct reg_text *t, const cJSON *mission,
             const char *country, const struct evkeyvalq *v, const struct reg_errors *e, int status)
{
	char other[128];
	struct evbuffer *b;

	snprintf(other, sizeof other, "/register?lang=%s&country=%s&mission=%s", t->other_name,
	         country, cJSON_GetStringValue(cJSON_GetObjectItem(mission, "code")));
	b = reg_page_start(t, other);
	evbuffer_add_printf(b, "<h1>%s</h1><p>%s</p><p class=\"note\">", t->title, t->intro);
	html_escape(b, country);
	evbuffer_add(b, " — ", strlen(" — "));
	html_escape(b, cJSON_GetStringValue(cJSON_GetObjectItem(mission, "name")));
	evbuffer_add(b, "</p>", 4);
	reg_form(b, t, mission, country, v, e, "/register", true,
	         ctx->d->cfg.traveller_retention_days);
	reg_page_send(ctx, status, b);
}

/*
 * A form or link whose mission cannot be told: the first step again, saying
 * why (an unknown mission named, several serving the country, or none).
 */
static void
reg_choice_page(struct http_ctx *ctx, const struct reg_text *t, enum reg_choice why, bool posted,
                bool asked)
{
	if (why == REG_NO_MISSION)
		reg_country_page(ctx, t, 400, t->err_mission);
	else if (why == REG_AMBIGUOUS)
		reg_country_page(ctx, t, posted ? 400 : 200, t->err_which_mission);
	else
		reg_country_page(ctx, t,
		                 posted  ? 400
		                 : asked ? 404
		                         : 200,
		                 posted || asked ? t->err_country : NULL);
}

/*
 * "More legs" and "more people" buttons: true (and one more row counted in
 * the form) when the form asked for one; the form is then shown again and
 * nothing is stored.
 */
static bool
reg_more_rows(struct evkeyvalq *form)
{
	const char *which = fv(form, "more");
	bool legs = strcmp(which, "legs") == 0;
	const char *key = legs ? "legs" : "people";
	char n[16];

	if (*which == '\0')
		return false;
	snprintf(n, sizeof n, "%d",
	         reg_count(form, key, legs ? REG_LEGS_SHOWN : REG_MEMBERS_SHOWN,
	                   legs ? REG_LEGS_MAX : REG_MEMBERS_MAX) +
	             1);
	evhttp_remove_header(form, key);
	evhttp_add_header(form, key, n);
	return true;
}

/* ---- the mission cache, loaded on demand ---- */

typedef void (*reg_ready_cb)(struct http_ctx *ctx, void *arg);

struct reg_wait {
	struct http_ctx *ctx;
	reg_ready_cb cb;
	void *arg;
};

static void
reg_cache_loaded(const struct db_result *r, void *arg)
{
	struct reg_wait *w = arg;

	if (r->outcome == DB_OK && PQntuples(r->res) == 1) {
		cJSON *fresh = cJSON_Parse(PQgetvalue(r->res, 0, 0));
		if (fresh != NULL) {
			cJSON_Delete(reg_cache.missions);
			reg_cache.missions = fresh;
			reg_cache.loaded = time(NULL);
		}
	}
	w->cb(w->ctx, w->arg);
	free(w);
}

/* Runs cb once the mission list is fresh enough (or as fresh as it can be). */
static void
reg_with_missions(struct http_ctx *ctx, reg_ready_cb cb, void *arg)
{
	struct reg_wait *w;
	const char *cause;

	if (reg_cache.missions != NULL && time(NULL) - reg_cache.loaded < REG_CACHE_SECONDS) {
		cb(ctx, arg);
		return;
	}
	w = xcalloc(1, sizeof *w);
	w->ctx = ctx;
	w->cb = cb;
	w->arg = arg;
	if (db_pool_query(ctx->d->db, reg_missions_sql, 0, NULL, reg_cache_loaded, w, &cause) !=
	    0) {
		free(w);
		cb(ctx, arg);
	}
}

/* ---- GET /register ---- */

static void
reg_get_ready(struct http_ctx *ctx, void *arg)
{
	const struct reg_text *t = reg_language(ctx, NULL);
	char country[8] = "", named[48] = "", cc[3], legs[8], people[8];
	bool have_country, have_mission;
	const cJSON *mission;
	enum reg_choice why;
	struct evkeyvalq v;

	(void)arg;
	if (reg_cache.missions == NULL) {
		reg_message(ctx, 503, t, t->title, t->busy);
		return;
	}
	have_country = http_query(ctx, "country", country, sizeof country) != NULL;
	have_mission = http_query(ctx, "mission", named, sizeof named) != NULL;
	if (!have_country && !have_mission) {
		reg_country_page(ctx, t, 200, NULL);
		return;
	}
	why = reg_choose_mission(have_mission ? named : NULL, have_country ? country : "", NULL,
	                         &mission, cc);
	if (why != REG_CHOSEN) {
		reg_choice_page(ctx, t, why, false, *country != '\0' || have_mission);
		return;
	}
	TAILQ_INIT(&v);
	if (http_query(ctx, "legs", legs, sizeof legs) != NULL)
		evhttp_add_header(&v, "legs", legs);
	if (http_query(ctx, "people", people, sizeof people) != NULL)
		evhttp_add_header(&v, "people", people);
	reg_new_page(ctx, t, mission, cc, &v, NULL, 200);
	evhttp_clear_headers(&v);
}

void
routes_register_page(struct http_ctx *ctx)
{
	reg_with_missions(ctx, reg_get_ready, NULL);
}

/* ---- reading a form into a registration document ---- */

static void
reg_add_string(cJSON *o, const char *key, const char *value)
{
	if (value != NULL && *value != '\0')
		cJSON_AddStringToObject(o, key, value);
	else
		cJSON_AddNullToObject(o, key);
}

/* Parses a date input; today-relative checks are the caller's. */
static bool
reg_date(const char *s, char out[11])
{
	struct sf_date d;
	return sf_date_parse(s, SF_DATE_ISO, &d, NULL, 0) == 0 && sf_date_format_iso(&d, out) == 0;
}

/* On the Korean page, what to fix in a field, before the rule's own (English) reason. */
static const char *
reg_field_hint(const struct reg_text *t, const char *field)
{
	static const struct {
		const char *field, *ko;
	} hints[] = {
	    {"name_ko", "한글 이름을 확인해 주세요 — "},
	    {"name_latin", "영문 이름(여권과 같이)을 확인해 주세요 — "},
	    {"name", "이름을 확인해 주세요 — "},
	    {"birth_date", "생년월일을 확인해 주세요 — "},
	    {"passport_no", "여권번호를 확인해 주세요 — "},
	    {"phone", "전화번호를 확인해 주세요 (예: 010-1234-5678, +90 532 123 45 67) — "},
	    {"email", "이메일 주소를 확인해 주세요 — "},
	};

	if (t != &reg_ko || field == NULL)
		return "";
	for (size_t i = 0; i < sizeof hints / sizeof *hints; i++)
		if (strcmp(hints[i].field, field) == 0)
			return hints[i].ko;
	return "";
}

/* Today's date where the mission is (its offset from UTC is in the mission list). */
static void
reg_mission_today(const cJSON *mission, char today[11])
{
	time_t now = time(NULL) + reg_json_int(mission, "utc_offset_s");
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(today, 11, "%Y-%m-%d", &tm);
}

/*
 * Checks the form and builds the document registration_create and
 * registration_update take; NULL with the problems in e. On a change
 * (change true) a leg that has ended is kept, marked "ended": the database
 * takes it only as it was stored.
 */
static cJSON *
reg_read_form(const struct evkeyvalq *f, const struct reg_text *t, const cJSON *mission,
              struct reg_errors *e, bool change)
{
	cJSON *doc = cJSON_CreateObject(), *people_in = cJSON_CreateArray(), *legs, *family;
	cJSON *people_out, *langs = cJSON_CreateArray(), *needs = cJSON_CreateArray();
	bool trip = strcmp(fv(f, "kind"), "resident") != 0;
	static const char *const need_keys[] = {"need_child", "need_elderly", "need_pregnant",
	                                        "need_disability", "need_medical"};
	struct sf_import_options opt;
	struct sf_import_result *res = NULL;
	const char *default_country = cJSON_GetStringValue(cJSON_GetObjectItem(mission, "country"));
	char name[32], today[11];
	int npeople = reg_count(f, "people", REG_MEMBERS_SHOWN, REG_MEMBERS_MAX);
	int nlegs = reg_count(f, "legs", REG_LEGS_SHOWN, REG_LEGS_MAX);
	/* Which form person each import object came from (0: the registrant). */
	int member_of[REG_MEMBERS_MAX + 2];
	int nobjects = 0;
	char *json;

	reg_mission_today(mission, today);
	cJSON_AddStringToObject(doc, "kind", trip ? "traveller" : "resident");
	for (size_t i = 0; i < sizeof reg_langs / sizeof *reg_langs; i++) {
		snprintf(name, sizeof name, "lang_%s", reg_langs[i]);
		if (strcmp(fv(f, name), "1") == 0)
			cJSON_AddItemToArray(langs, cJSON_CreateString(reg_langs[i]));
	}
	if (cJSON_GetArraySize(langs) == 0)
		cJSON_AddItemToArray(langs, cJSON_CreateString(t == &reg_en ? "en" : "ko"));
	for (size_t i = 0; i < 5; i++)
		if (strcmp(fv(f, need_keys[i]), "1") == 0)
			cJSON_AddItemToArray(needs, cJSON_CreateString(reg_needs[i]));

	/* The people go through the import's validators, as a JSON file would. */
	{
		cJSON *me = cJSON_CreateObject(), *phones = cJSON_CreateArray();
		reg_add_string(me, "name_ko", fv(f, "name_ko"));
		reg_add_string(me, "name_latin", fv(f, "name_latin"));
		reg_add_string(me, "birth_date", fv(f, "birth_date"));
		reg_add_string(me, "passport_no", fv(f, "passport_no"));
		if (*fv(f, "phone") != '\0')
			cJSON_AddItemToArray(phones, cJSON_CreateString(fv(f, "phone")));
		if (*fv(f, "phone2") != '\0')
			cJSON_AddItemToArray(phones, cJSON_CreateString(fv(f, "phone2")));
		cJSON_AddItemToObject(me, "phones", phones);
		reg_add_string(me, "email", fv(f, "email"));
		cJSON_AddItemToArray(people_in, me);
		member_of[nobjects++] = 0;
		if (*fv(f, "phone") == '\0' && *fv(f, "email") == '\0')
			reg_error(e, "phone",
			          t == &reg_en ? "Give a mobile phone or an e-mail."
			                       : "휴대전화나 이메일을 적어 주세요.");
	}
	for (int i = 1; i <= npeople; i++) {
		cJSON *m;
		snprintf(name, sizeof name, "m%d_name", i);
		if (*fv(f, name) == '\0')
			continue;
		m = cJSON_CreateObject();
		reg_add_string(m, "name", fv(f, name));
		snprintf(name, sizeof name, "m%d_birth_date", i);
		reg_add_string(m, "birth_date", fv(f, name));
		cJSON_AddItemToArray(people_in, m);
		member_of[nobjects++] = i;
	}
	json = cJSON_PrintUnformatted(people_in);
	cJSON_Delete(people_in);
	sf_import_options_init(&opt);
	opt.format = SF_IMPORT_JSON;
	opt.default_country = default_country;
	opt.max_rows = REG_MEMBERS_MAX + 1;
	if (sf_import_parse(json, strlen(json), &opt, &res) != 0 && res == NULL) {
		reg_error(e, "name_ko", t->busy);
	} else if (res != NULL) {
		for (size_t i = 0; i < res->nerrors; i++) {
			size_t obj = res->errors[i].line;
			int who = obj >= 1 && obj <= (size_t)nobjects ? member_of[obj - 1] : 0;
			const char *field = res->errors[i].field;
			char where[24], text[SF_IMPORT_REASON_SIZE + 160];
			if (who == 0)
				snprintf(where, sizeof where, "%s",
				         strcmp(field, "phone") == 0 ||
				                 strcmp(field, "email") == 0 ||
				                 strcmp(field, "birth_date") == 0 ||
				                 strcmp(field, "passport_no") == 0 ||
				                 strcmp(field, "name_latin") == 0
				             ? field
				             : "name_ko");
			else
				snprintf(where, sizeof where, "m%d_%s", who,
				         strcmp(field, "birth_date") == 0 ? "birth_date" : "name");
			/* The rules' reasons are English; the Korean page says first what to fix.
			 */
			if (who == 0)
				snprintf(text, sizeof text, "%s%s", reg_field_hint(t, field),
				         res->errors[i].reason);
			else
				snprintf(text, sizeof text, "%s %d: %s%s", t->person, who,
				         reg_field_hint(t, field), res->errors[i].reason);
			reg_error(e, where, text);
		}
	}
	free(json);
	people_out = cJSON_AddArrayToObject(doc, "people");
	for (size_t i = 0; res != NULL && i < res->nrows; i++) {
		const struct sf_import_row *row = &res->rows[i];
		cJSON *p = cJSON_CreateObject(), *ph = cJSON_AddArrayToObject(p, "phones");
		cJSON *em = cJSON_AddArrayToObject(p, "emails");
		int who =
		    row->line >= 1 && row->line <= (size_t)nobjects ? member_of[row->line - 1] : 0;
		reg_add_string(p, "name_ko", row->name_ko);
		reg_add_string(p, "name_latin", row->name_latin);
		reg_add_string(p, "name_key", row->name_key);
		reg_add_string(p, "birth_date", row->birth_date);
		reg_add_string(p, "passport_no", row->passport_no);
		for (size_t k = 0; who == 0 && k < row->nphones; k++)
			cJSON_AddItemToArray(ph, cJSON_CreateString(row->phones[k]));
		for (size_t k = 0; who == 0 && k < row->nemails; k++)
			cJSON_AddItemToArray(em, cJSON_CreateString(row->emails[k]));
		cJSON_AddItemToObject(p, "languages", cJSON_Duplicate(langs, true));
		if (who == 0) {
			cJSON_AddItemToObject(p, "needs", cJSON_Duplicate(needs, true));
		} else {
			cJSON *mn = cJSON_AddArrayToObject(p, "needs");
			for (size_t k = 0; k < 5; k++) {
				snprintf(name, sizeof name, "m%d_%s", who, need_keys[k]);
				if (strcmp(fv(f, name), "1") == 0)
					cJSON_AddItemToArray(mn, cJSON_CreateString(reg_needs[k]));
			}
		}
		/* The registrant first, whatever order rows came back in. */
		if (who == 0)
			cJSON_InsertItemInArray(people_out, 0, p);
		else
			cJSON_AddItemToArray(people_out, p);
	}
	sf_import_result_free(res);
	cJSON_Delete(langs);
	cJSON_Delete(needs);

	/* The legs of a trip. */
	legs = cJSON_AddArrayToObject(doc, "legs");
	for (int i = 1; trip && i <= nlegs; i++) {
		char k_region[24], k_place[24], k_address[24], k_arr[24], k_dep[24];
		char arr[11], dep[11], text[200];
		const cJSON *region;
		cJSON *leg;
		bool ended = false;
		snprintf(k_region, sizeof k_region, "leg%d_region", i);
		snprintf(k_place, sizeof k_place, "leg%d_place", i);
		snprintf(k_address, sizeof k_address, "leg%d_address", i);
		snprintf(k_arr, sizeof k_arr, "leg%d_arrival", i);
		snprintf(k_dep, sizeof k_dep, "leg%d_departure", i);
		if (*fv(f, k_region) == '\0' && *fv(f, k_place) == '\0' &&
		    *fv(f, k_address) == '\0' && *fv(f, k_arr) == '\0' && *fv(f, k_dep) == '\0')
			continue;
		/* Without a region a leg places nobody: no area query would find them. */
		region = reg_region(mission, fv(f, k_region));
		if (region == NULL) {
			snprintf(text, sizeof text, "%s %d: %s", t->leg, i, t->err_leg_region);
			reg_error(e, k_region, text);
		}
		if (!text_clean(fv(f, k_place), 200, false))
			reg_error(e, k_place, t->err_text);
		if (!text_clean(fv(f, k_address), 500, false))
			reg_error(e, k_address, t->err_text);
		if (!reg_date(fv(f, k_arr), arr)) {
			snprintf(text, sizeof text, "%s %d, %s: %s", t->leg, i, t->arrival,
			         t->err_date);
			reg_error(e, k_arr, text);
			continue;
		}
		if (!reg_date(fv(f, k_dep), dep)) {
			snprintf(text, sizeof text, "%s %d, %s: %s", t->leg, i, t->departure,
			         t->err_date);
			reg_error(e, k_dep, text);
			continue;
		}
		if (strcmp(dep, arr) < 0) {
			reg_error(e, k_dep, t->err_leg_dates);
			continue;
		}
		{
			/* As the database keeps them: from 2000 on, and no leg over ten years. */
			struct sf_date a, b;
			int64_t da = 0, db = 0;
			if (strcmp(arr, "2000-01-01") < 0 ||
			    sf_date_parse(arr, SF_DATE_ISO, &a, NULL, 0) != 0 ||
			    sf_date_parse(dep, SF_DATE_ISO, &b, NULL, 0) != 0 ||
			    sf_date_to_days(&a, &da) != 0 || sf_date_to_days(&b, &db) != 0 ||
			    db - da > 3660) {
				reg_error(e, k_dep, t->err_leg_dates);
				continue;
			}
		}
		/*
		 * A leg that has ended cannot be registered; on a change, one already
		 * stored is sent back as shown and stays (the database checks it is
		 * unchanged), so the rest of the registration can still be saved.
		 */
		if (strcmp(dep, today) < 0) {
			if (!change) {
				reg_error(e, k_dep, t->err_leg_past);
				continue;
			}
			ended = true;
		}
		leg = cJSON_CreateObject();
		cJSON_AddStringToObject(leg, "country", fv(f, "country"));
		reg_add_string(leg, "place", fv(f, k_place));
		reg_add_string(leg, "address", fv(f, k_address));
		if (region != NULL)
			cJSON_AddNumberToObject(
			    leg, "region_id",
			    cJSON_GetNumberValue(cJSON_GetObjectItem(region, "id")));
		cJSON_AddStringToObject(leg, "arrival", arr);
		cJSON_AddStringToObject(leg, "departure", dep);
		cJSON_AddBoolToObject(leg, "ended", ended);
		cJSON_AddNumberToObject(leg, "form_leg", i);
		cJSON_AddItemToArray(legs, leg);
	}
	if (trip && cJSON_GetArraySize(legs) == 0 && e->n == 0)
		reg_error(e, "legs", t->err_leg);

	/* A residence. */
	if (!text_clean(fv(f, "address"), 500, false))
		reg_error(e, "address", t->err_text);
	if (!text_clean(fv(f, "residence_status"), 100, false))
		reg_error(e, "residence_status", t->err_text);
	reg_add_string(doc, "address", trip ? NULL : fv(f, "address"));
	reg_add_string(doc, "residence_status", trip ? NULL : fv(f, "residence_status"));
	if (!trip) {
		const cJSON *home = reg_region(mission, fv(f, "home_region"));
		/* Without a region a residence places nobody: no crisis would ask them. */
		if (home == NULL)
			reg_error(e, "home_region", t->err_home_region);
		else
			cJSON_AddNumberToObject(
			    doc, "region_id",
			    cJSON_GetNumberValue(cJSON_GetObjectItem(home, "id")));
	}

	/* The contact at home: a Korean number unless written internationally. */
	family = cJSON_AddObjectToObject(doc, "family");
	{
		char phone[32] = "", email[256] = "", why[160];
		if (!text_clean(fv(f, "family_name"), 200, false))
			reg_error(e, "family_name", t->err_text);
		if (!text_clean(fv(f, "family_relation"), 50, false))
			reg_error(e, "family_relation", t->err_text);
		if (*fv(f, "family_phone") != '\0' &&
		    sf_phone_normalize(fv(f, "family_phone"), "KR", phone, sizeof phone, why,
		                       sizeof why) != 0)
			reg_error(e, "family_phone", why);
		if (*fv(f, "family_email") != '\0' &&
		    sf_email_validate(fv(f, "family_email"), email, sizeof email, why,
		                      sizeof why) != 0)
			reg_error(e, "family_email", why);
		if (strcmp(fv(f, "family_consent"), "1") == 0 && phone[0] == '\0' &&
		    email[0] == '\0')
			reg_error(e, "family_phone", t->err_family);
		cJSON_AddBoolToObject(family, "consent", strcmp(fv(f, "family_consent"), "1") == 0);
		reg_add_string(family, "name", fv(f, "family_name"));
		reg_add_string(family, "relation", fv(f, "family_relation"));
		reg_add_string(family, "phone", phone);
		reg_add_string(family, "email", email);
		/* Told in the registrant's language: who registers in English may have family who
		 * read it. */
		cJSON_AddStringToObject(family, "language", t->lang);
	}
	cJSON_AddStringToObject(doc, "language", t->lang);
	if (e->n > 0 || cJSON_GetArraySize(people_out) == 0) {
		cJSON_Delete(doc);
		return NULL;
	}
	return doc;
}

/* The size of a form field's name kept for an error. */
#define REG_FIELD_MAX 24

/*
 * Reads a form body; false (and the page answered) when it is too big or
 * malformed. A value holding a NUL is named in nul_field, for the form to
 * show next to the field.
 */
static bool
reg_read_body(struct http_ctx *ctx, struct evkeyvalq *form, char nul_field[REG_FIELD_MAX])
{
	struct evbuffer *in = evhttp_request_get_input_buffer(ctx->req);
	size_t len = evbuffer_get_length(in);
	char *body;

	TAILQ_INIT(form);
	nul_field[0] = '\0';
	if (len > REG_BODY_MAX) {
		http_reply_problem(ctx, 413, "Form too large", "the form is larger than 32 KB");
		return false;
	}
	body = xmalloc(len + 1);
	evbuffer_copyout(in, body, len);
	body[len] = '\0';
	if (memchr(body, '\0', len) != NULL || evhttp_parse_query_str(body, form) != 0) {
		free(body);
		evhttp_clear_headers(form);
		http_reply_problem(ctx, 400, "Malformed form", "the form could not be read");
		return false;
	}
	/* Named as the form names it; anything else as "form". */
	if (http_form_nul_field(body, nul_field, REG_FIELD_MAX) && nul_field[0] == '\0')
		snprintf(nul_field, REG_FIELD_MAX, "form");
	free(body);
	return true;
}

/* The error for a field whose value holds a NUL, naming it. */
static void
reg_nul_error(struct reg_errors *e, const struct reg_text *t, const char *field)
{
	char text[300];

	snprintf(text, sizeof text, "%s: %s", field, t->err_nul);
	reg_error(e, field, text);
}

/* A form other than the registration's own with a NUL: refused, naming the field. */
static bool
reg_nul_refused(struct http_ctx *ctx, const struct reg_text *t, const char *field)
{
	char text[300];

	if (field[0] == '\0')
		return false;
	snprintf(text, sizeof text, "%s: %s", field, t->err_nul);
	reg_message(ctx, 400, t, t->title, text);
	return true;
}

/* ---- POST /register ---- */

struct reg_post {
	struct http_ctx *ctx;
	const struct reg_text *t;
	struct evkeyvalq form;
	char nul_field[REG_FIELD_MAX];
	char token[SF_SECRET_TOKEN_BUFSZ];
};

static void
reg_post_free(struct reg_post *p)
{
	evhttp_clear_headers(&p->form);
	OPENSSL_cleanse(p->token, sizeof p->token);
	free(p);
}

static void
reg_created(const struct db_result *r, void *arg)
{
	struct reg_post *p = arg;
	cJSON *out = NULL;
	const char *outcome;

	reg_saves_in_flight--;
	if (r->outcome == DB_OK && PQntuples(r->res) == 1)
		out = cJSON_Parse(PQgetvalue(r->res, 0, 0));
	outcome = cJSON_GetStringValue(cJSON_GetObjectItem(out, "outcome"));
	if (outcome != NULL && strcmp(outcome, "created") == 0) {
		char *location;
		/* Codes over a budget are held: the page says when to ask for them. */
		if (cJSON_IsTrue(cJSON_GetObjectItem(out, "codes_held")))
			xasprintf(&location, "/register/m/%s?lang=%s&created=1&held=%d", p->token,
			          p->t->lang, reg_json_int(out, "retry_after"));
		else
			xasprintf(&location, "/register/m/%s?lang=%s&created=1", p->token,
			          p->t->lang);
		http_add_header(p->ctx, "Location", location);
		free(location);
		http_reply_bytes(p->ctx, 303, "text/plain; charset=utf-8", "", 0);
		reg_outcomes[REG_CREATED]++;
		log_info("registration_created");
	} else if (outcome != NULL && strcmp(outcome, "limit") == 0) {
		reg_outcomes[REG_LIMITED]++;
		reg_message(p->ctx, 429, p->t, p->t->title, p->t->limit);
	} else {
		if (r->outcome != DB_OK)
			log_warn("registration_failed", "error", r->error);
		reg_message(p->ctx, 503, p->t, p->t->title, p->t->busy);
	}
	cJSON_Delete(out);
	reg_post_free(p);
}

static void
reg_post_ready(struct http_ctx *ctx, void *arg)
{
	struct reg_post *p = arg;
	struct reg_errors e;
	const cJSON *mission = NULL;
	enum reg_choice why;
	char country[3];
	cJSON *doc;
	char hash[SF_SECRET_HASH_HEX + 1], mission_id[24], per_addr[12];
	char addr_key[SF_RATETABLE_KEY_MAX], limits[128];
	char *doc_text;
	const char *params[8], *cause;

	memset(&e, 0, sizeof e);
	if (reg_cache.missions == NULL) {
		reg_message(ctx, 503, p->t, p->t->title, p->t->busy);
		reg_post_free(p);
		return;
	}
	why = reg_choose_mission(fv(&p->form, "mission"), fv(&p->form, "country"), &p->form,
	                         &mission, country);
	if (why != REG_CHOSEN) {
		reg_choice_page(ctx, p->t, why, true, true);
		reg_post_free(p);
		return;
	}
	/* The form shown again names what was chosen, whatever the old form said. */
	evhttp_remove_header(&p->form, "country");
	evhttp_add_header(&p->form, "country", country);
	/* "More legs" and "more people" show the same form with more rows; nothing is stored. */
	if (reg_more_rows(&p->form)) {
		evhttp_remove_header(&p->form, "consent");
		reg_new_page(ctx, p->t, mission, country, &p->form, NULL, 200);
		reg_post_free(p);
		return;
	}
	doc = reg_read_form(&p->form, p->t, mission, &e, false);
	/* Consent first: without it nothing is stored, whatever else the form says. */
	if (strcmp(fv(&p->form, "consent"), "1") != 0)
		reg_error(&e, "consent", p->t->err_consent);
	if (p->nul_field[0] != '\0')
		reg_nul_error(&e, p->t, p->nul_field);
	if (e.n > 0 || doc == NULL) {
		reg_outcomes[REG_REFUSED]++;
		cJSON_Delete(doc);
		evhttp_remove_header(&p->form, "consent");
		reg_new_page(ctx, p->t, mission, country, &p->form, &e, 400);
		reg_post_free(p);
		return;
	}
	if (reg_saves_in_flight >= REG_SAVES_MAX) {
		reg_outcomes[REG_BUSY]++;
		cJSON_Delete(doc);
		http_add_header(ctx, "Retry-After", "5");
		reg_message(ctx, 503, p->t, p->t->title, p->t->busy);
		reg_post_free(p);
		return;
	}
	if (sf_secret_token_new(p->token, sizeof p->token, "") != 0 ||
	    sf_secret_hash(p->token, hash) != 0) {
		cJSON_Delete(doc);
		reg_message(ctx, 503, p->t, p->t->title, p->t->busy);
		reg_post_free(p);
		return;
	}
	snprintf(mission_id, sizeof mission_id, "%.0f",
	         cJSON_GetNumberValue(cJSON_GetObjectItem(mission, "id")));
	snprintf(per_addr, sizeof per_addr, "%d", REG_PER_ADDRESS_DAY);
	reg_address_key(ctx, addr_key);
	reg_code_limits(ctx, limits, sizeof limits);
	doc_text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	params[0] = mission_id;
	params[1] = hash;
	params[2] = p->t->lang;
	params[3] = doc_text;
	params[4] = ctx->client_addr;
	params[5] = addr_key;
	params[6] = per_addr;
	params[7] = limits;
	reg_saves_in_flight++;
	if (db_pool_query(
	        ctx->d->db,
	        "SELECT registration_create($1::bigint, $2, $3, $4::jsonb, $5, $6, $7::int, "
	        "$8::jsonb)",
	        8, params, reg_created, p, &cause) != 0) {
		reg_saves_in_flight--;
		reg_message(ctx, 503, p->t, p->t->title, p->t->busy);
		reg_post_free(p);
	}
	memset(doc_text, 0, strlen(doc_text));
	free(doc_text);
}

void
routes_register_post(struct http_ctx *ctx)
{
	struct reg_post *p = xcalloc(1, sizeof *p);

	p->ctx = ctx;
	if (!reg_read_body(ctx, &p->form, p->nul_field)) {
		free(p);
		return;
	}
	p->t = reg_language(ctx, &p->form);
	reg_with_missions(ctx, reg_post_ready, p);
}

/* ---- the management link ---- */

/*
 * What the link's holder sees: what the registration itself holds (a
 * pending link from /register/lost becomes the link when first opened). Once
 * staff have joined it with the registry's own record of the person, the
 * registrant's set-aside row is shown (never that record) and nothing can be
 * changed through the link but deleting.
 */
static const char reg_manage_sql[] =
    "SELECT json_build_object('id', r.id, 'mission_id', r.mission_id, "
    " 'language', r.language, 'merged', mg.registration_id IS NOT NULL, "
    " 'family', json_build_object('consent', r.family_consent, "
    "  'name', r.family_name, 'relation', r.family_relation, 'phone', r.family_phone, "
    "  'email', r.family_email), "
    " 'country', (SELECT coalesce((SELECT l.country FROM itinerary_leg l "
    "   WHERE l.national_id = r.national_id AND l.source = 'self' ORDER BY l.seq LIMIT 1), "
    "   m.default_country)), "
    " 'me', (SELECT json_build_object('name_ko', n.name_ko, 'name_latin', n.name_latin, "
    "   'birth_date', n.birth_date, 'passport_no', coalesce(n.passport_no, r.passport_withheld), "
    "   'kind', n.kind, 'address', n.address, 'residence_status', n.residence_status, "
    "   'languages', n.languages, 'needs', n.needs, 'region_id', n.region_id) "
    "   FROM national n WHERE n.id = coalesce(mg.registrant_id, r.national_id)), "
    " 'contacts', (SELECT coalesce(json_agg(json_build_object('id', c.id, 'kind', c.kind, "
    "   'value', c.value, 'verified', c.verified) ORDER BY c.kind DESC, c.priority, c.id), '[]') "
    "   FROM contact c WHERE c.national_id = coalesce(mg.registrant_id, r.national_id)), "
    " 'legs', (SELECT coalesce(json_agg(json_build_object('region_id', l.region_id, "
    "   'place', l.place, 'address', l.address, 'arrival', l.arrival, "
    "   'departure', l.departure) ORDER BY l.seq), '[]') FROM itinerary_leg l "
    "   WHERE l.national_id = r.national_id AND l.source = 'self'), "
    " 'members', (SELECT coalesce(json_agg(json_build_object('name', "
    "   coalesce(n.name_ko, n.name_latin), 'birth_date', n.birth_date, 'needs', n.needs) "
    "   ORDER BY n.id), '[]') FROM national n WHERE n.household_id = r.household_id "
    "   AND n.id <> r.national_id AND n.source = 'self' AND n.deleted_at IS NULL "
    "   AND n.id IS DISTINCT FROM mg.registrant_id)) "
    "FROM registration r JOIN mission m ON m.id = r.mission_id "
    "LEFT JOIN registration_merge mg ON mg.registration_id = r.id "
    "WHERE r.id = (SELECT registration_link_open($1))";

struct reg_manage {
	struct http_ctx *ctx;
	const struct reg_text *t;
	char token[SF_SECRET_TOKEN_BUFSZ];
	char hash[SF_SECRET_HASH_HEX + 1];
	char notice[600];
	bool notice_ok;
	int status;            /* of the page, when not what the form's errors make it */
	struct evkeyvalq form; /* a POST's */
	bool has_form;
	bool keep_typed; /* show the form as typed, though it had no error */
	struct reg_errors e;
	char contact[24]; /* the contact a code was for */
	char nul_field[REG_FIELD_MAX];
};

static void
reg_manage_free(struct reg_manage *m)
{
	if (m->has_form)
		evhttp_clear_headers(&m->form);
	OPENSSL_cleanse(m->token, sizeof m->token);
	free(m);
}

/* The same page for every link that leads nowhere. */
static void
reg_manage_gone(struct reg_manage *m)
{
	reg_message(m->ctx, 404, m->t, m->t->gone, m->t->gone_more);
	reg_manage_free(m);
}

/* Fills form values from a stored registration, so the form shows what is kept. */
static void
reg_values_from(struct evkeyvalq *v, const cJSON *reg)
{
	const cJSON *me = cJSON_GetObjectItem(reg, "me"), *x;
	const cJSON *family = cJSON_GetObjectItem(reg, "family");
	static const char *const me_keys[] = {"name_ko",     "name_latin", "birth_date",
	                                      "passport_no", "address",    "residence_status"};
	static const char *const need_keys[] = {"need_child", "need_elderly", "need_pregnant",
	                                        "need_disability", "need_medical"};
	char key[32], num[24];
	int i = 0, phones = 0;

	for (size_t k = 0; k < sizeof me_keys / sizeof *me_keys; k++)
		if (cJSON_IsString(cJSON_GetObjectItem(me, me_keys[k])))
			evhttp_add_header(v, me_keys[k],
			                  cJSON_GetObjectItem(me, me_keys[k])->valuestring);
	evhttp_add_header(v, "kind", cJSON_GetStringValue(cJSON_GetObjectItem(me, "kind")));
	if (cJSON_IsNumber(cJSON_GetObjectItem(me, "region_id")) &&
	    strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(me, "kind")), "resident") == 0) {
		snprintf(num, sizeof num, "%.0f",
		         cJSON_GetNumberValue(cJSON_GetObjectItem(me, "region_id")));
		evhttp_add_header(v, "home_region", num);
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(me, "languages"))
	{
		snprintf(key, sizeof key, "lang_%s", cJSON_GetStringValue(x));
		evhttp_add_header(v, key, "1");
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(me, "needs"))
	{
		snprintf(key, sizeof key, "need_%s", cJSON_GetStringValue(x));
		evhttp_add_header(v, key, "1");
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(reg, "contacts"))
	{
		const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(x, "kind"));
		const char *value = cJSON_GetStringValue(cJSON_GetObjectItem(x, "value"));
		if (strcmp(kind, "phone") == 0 && phones < 2)
			evhttp_add_header(v, phones++ == 0 ? "phone" : "phone2", value);
		else if (strcmp(kind, "email") == 0 && evhttp_find_header(v, "email") == NULL)
			evhttp_add_header(v, "email", value);
	}
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(reg, "legs"))
	{
		i++;
		if (cJSON_IsNumber(cJSON_GetObjectItem(x, "region_id"))) {
			snprintf(key, sizeof key, "leg%d_region", i);
			snprintf(num, sizeof num, "%.0f",
			         cJSON_GetNumberValue(cJSON_GetObjectItem(x, "region_id")));
			evhttp_add_header(v, key, num);
		}
		static const char *const leg_keys[] = {"place", "address", "arrival", "departure"};
		for (size_t k = 0; k < 4; k++) {
			if (!cJSON_IsString(cJSON_GetObjectItem(x, leg_keys[k])))
				continue;
			snprintf(key, sizeof key, "leg%d_%s", i, leg_keys[k]);
			evhttp_add_header(v, key, cJSON_GetObjectItem(x, leg_keys[k])->valuestring);
		}
	}
	snprintf(num, sizeof num, "%d", i);
	evhttp_add_header(v, "legs", num);
	i = 0;
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(reg, "members"))
	{
		const cJSON *n;
		i++;
		snprintf(key, sizeof key, "m%d_name", i);
		evhttp_add_header(v, key, cJSON_GetStringValue(cJSON_GetObjectItem(x, "name")));
		if (cJSON_IsString(cJSON_GetObjectItem(x, "birth_date"))) {
			snprintf(key, sizeof key, "m%d_birth_date", i);
			evhttp_add_header(v, key,
			                  cJSON_GetObjectItem(x, "birth_date")->valuestring);
		}
		cJSON_ArrayForEach(n, cJSON_GetObjectItem(x, "needs"))
		{
			for (size_t k = 0; k < 5; k++)
				if (strcmp(cJSON_GetStringValue(n), reg_needs[k]) == 0) {
					snprintf(key, sizeof key, "m%d_%s", i, need_keys[k]);
					evhttp_add_header(v, key, "1");
				}
		}
	}
	snprintf(num, sizeof num, "%d", i);
	evhttp_add_header(v, "people", num);
	static const char *const fam_keys[] = {"name", "relation", "phone", "email"};
	for (size_t k = 0; k < 4; k++) {
		if (!cJSON_IsString(cJSON_GetObjectItem(family, fam_keys[k])))
			continue;
		snprintf(key, sizeof key, "family_%s", fam_keys[k]);
		evhttp_add_header(v, key, cJSON_GetObjectItem(family, fam_keys[k])->valuestring);
	}
	if (cJSON_IsTrue(cJSON_GetObjectItem(family, "consent")))
		evhttp_add_header(v, "family_consent", "1");
}

/* The management page: contacts to confirm, the form with what is kept, deletion. */
static void
reg_manage_render(struct reg_manage *m, const cJSON *reg)
{
	const struct reg_text *t = m->t;
	const char *country = cJSON_GetStringValue(cJSON_GetObjectItem(reg, "country"));
	/* The registration's own mission: one country may have several. */
	const cJSON *mission =
	    reg_mission_by_id(cJSON_GetNumberValue(cJSON_GetObjectItem(reg, "mission_id")));
	const cJSON *c;
	char other[128], action[128];
	struct evbuffer *b;
	struct evkeyvalq v;
	bool created = false;
	bool merged = cJSON_IsTrue(cJSON_GetObjectItem(reg, "merged"));
	bool typed = m->has_form && (m->e.n > 0 || m->keep_typed);
	char flag[4], held[12];

	if (http_query(m->ctx, "created", flag, sizeof flag) != NULL)
		created = true;
	if (created && m->notice[0] == '\0' &&
	    http_query(m->ctx, "held", held, sizeof held) != NULL) {
		int seconds = atoi(held);
		reg_text_minutes(m->notice, sizeof m->notice, t->codes_held,
		                 seconds < 1      ? 1
		                 : seconds > 3600 ? 3600
		                                  : seconds);
		m->notice_ok = false;
	}
	snprintf(other, sizeof other, "/register/m/%s?lang=%s", m->token, t->other_name);
	snprintf(action, sizeof action, "/register/m/%s", m->token);
	b = reg_page_start(t, other);
	evbuffer_add_printf(b, "<h1>%s</h1>", t->manage);
	if (created)
		evbuffer_add_printf(b, "<div class=\"ok\" role=\"status\"><p>%s</p></div>",
		                    t->created);
	if (m->notice[0] != '\0') {
		evbuffer_add_printf(b, "<div class=\"%s\" role=\"%s\"><p>",
		                    m->notice_ok ? "ok" : "gone",
		                    m->notice_ok ? "status" : "alert");
		html_escape(b, m->notice);
		evbuffer_add(b, "</p></div>", 10);
	}
	evbuffer_add_printf(b, "<p class=\"note\">%s</p>", t->keep_link);
	if (merged)
		evbuffer_add_printf(b, "<div class=\"ok merged\" role=\"status\"><p>%s</p></div>",
		                    t->merged);
	evbuffer_add_printf(b, "<h2>%s</h2><ul class=\"contacts\">", t->contacts);
	cJSON_ArrayForEach(c, cJSON_GetObjectItem(reg, "contacts"))
	{
		bool verified = cJSON_IsTrue(cJSON_GetObjectItem(c, "verified"));
		char id[24];
		snprintf(id, sizeof id, "%.0f", cJSON_GetNumberValue(cJSON_GetObjectItem(c, "id")));
		evbuffer_add(b, "<li>", 4);
		html_escape(b, cJSON_GetStringValue(cJSON_GetObjectItem(c, "value")));
		evbuffer_add_printf(b, " <strong class=\"%s\">%s</strong>",
		                    verified ? "verified" : "unverified",
		                    verified ? t->confirmed : t->unconfirmed);
		if (!verified && !merged)
			evbuffer_add_printf(
			    b,
			    "<form method=\"post\" action=\"%s/verify\" class=\"code\">"
			    "<input type=\"hidden\" name=\"lang\" value=\"%s\">"
			    "<input type=\"hidden\" name=\"contact\" value=\"%s\">"
			    "<label class=\"field\" for=\"code-%s\">%s</label>"
			    "<input id=\"code-%s\" name=\"code\" inputmode=\"numeric\" "
			    "autocomplete=\"one-time-code\" maxlength=\"6\" pattern=\"[0-9]{6}\">"
			    "<button type=\"submit\">%s</button>"
			    "<button type=\"submit\" formaction=\"%s/resend\" "
			    "class=\"more\">%s</button>"
			    "</form>",
			    action, t->lang, id, id, t->code, id, t->confirm, action, t->resend);
		evbuffer_add(b, "</li>", 5);
	}
	evbuffer_add(b, "</ul>", 5);
	TAILQ_INIT(&v);
	if (merged) {
		/* Nothing to change here: the registry's record is the embassy's. */
	} else if (typed) {
		reg_form(b, t, mission, country, &m->form, &m->e, action, false, 0);
	} else {
		reg_values_from(&v, reg);
		reg_form(b, t, mission, country, &v, NULL, action, false, 0);
	}
	evhttp_clear_headers(&v);
	evbuffer_add_printf(
	    b,
	    "<h2>%s</h2><form method=\"post\" action=\"%s/delete\" class=\"delete\">"
	    "<input type=\"hidden\" name=\"lang\" value=\"%s\">"
	    "<label class=\"check\"><input type=\"checkbox\" name=\"confirm\" "
	    "value=\"1\" required> %s</label>"
	    "<button type=\"submit\" class=\"danger\">%s</button></form>",
	    t->delete_title, action, t->lang, t->delete_confirm, t->delete_button);
	reg_page_send(m->ctx,
	              m->status != 0              ? m->status
	              : m->has_form && m->e.n > 0 ? 400
	                                          : 200,
	              b);
}

static void
reg_manage_loaded(const struct db_result *r, void *arg)
{
	struct reg_manage *m = arg;
	cJSON *reg;

	if (r->outcome != DB_OK) {
		reg_message(m->ctx, 503, m->t, m->t->title, m->t->busy);
		reg_manage_free(m);
		return;
	}
	if (PQntuples(r->res) != 1) {
		reg_manage_gone(m);
		return;
	}
	reg = cJSON_Parse(PQgetvalue(r->res, 0, 0));
	if (reg == NULL) {
		reg_message(m->ctx, 503, m->t, m->t->title, m->t->busy);
		reg_manage_free(m);
		return;
	}
	reg_manage_render(m, reg);
	cJSON_Delete(reg);
	reg_manage_free(m);
}

/* Loads and shows the registration (after the mission list is fresh). */
static void
reg_manage_show(struct http_ctx *ctx, void *arg)
{
	struct reg_manage *m = arg;
	const char *params[1] = {m->hash}, *cause;

	if (db_pool_query(ctx->d->db, reg_manage_sql, 1, params, reg_manage_loaded, m, &cause) !=
	    0) {
		reg_message(ctx, 503, m->t, m->t->title, m->t->busy);
		reg_manage_free(m);
	}
}

/* Opens a management link; NULL (page answered) when it cannot be one. */
static struct reg_manage *
reg_manage_open(struct http_ctx *ctx, bool post)
{
	struct reg_manage *m = xcalloc(1, sizeof *m);
	const char *token = ctx->nparams > 0 ? ctx->params[0] : "";

	m->ctx = ctx;
	if (post) {
		if (!reg_read_body(ctx, &m->form, m->nul_field)) {
			free(m);
			return NULL;
		}
		m->has_form = true;
	}
	m->t = reg_language(ctx, m->has_form ? &m->form : NULL);
	if (sf_secret_token_check(token, "") != 0 || sf_secret_hash(token, m->hash) != 0) {
		reg_manage_gone(m);
		return NULL;
	}
	snprintf(m->token, sizeof m->token, "%s", token);
	return m;
}

void
routes_register_manage(struct http_ctx *ctx)
{
	struct reg_manage *m = reg_manage_open(ctx, false);

	if (m != NULL)
		reg_with_missions(ctx, reg_manage_show, m);
}

/* ---- POST /register/m/{token}: change ---- */

static void
reg_updated(const struct db_result *r, void *arg)
{
	struct reg_manage *m = arg;
	cJSON *out = NULL;
	const char *outcome;

	reg_saves_in_flight--;
	if (r->outcome == DB_OK && PQntuples(r->res) == 1)
		out = cJSON_Parse(PQgetvalue(r->res, 0, 0));
	outcome = cJSON_GetStringValue(cJSON_GetObjectItem(out, "outcome"));
	if (outcome != NULL && strcmp(outcome, "unknown") == 0) {
		cJSON_Delete(out);
		reg_manage_gone(m);
		return;
	}
	if (outcome == NULL) {
		if (r->outcome != DB_OK)
			log_warn("registration_update_failed", "error", r->error);
		cJSON_Delete(out);
		reg_message(m->ctx, 503, m->t, m->t->title, m->t->busy);
		reg_manage_free(m);
		return;
	}
	if (strcmp(outcome, "limit") == 0) {
		/* Nothing was changed: the page says when to save again, with the form as typed. */
		int retry = reg_json_int(out, "retry_after");
		cJSON_Delete(out);
		reg_outcomes[REG_LIMITED]++;
		reg_text_minutes(m->notice, sizeof m->notice, m->t->update_limit, retry);
		m->notice_ok = false;
		m->status = 429;
		m->keep_typed = true;
		reg_retry_after(m->ctx, retry);
		reg_manage_show(m->ctx, m);
		return;
	}
	if (strcmp(outcome, "busy") == 0) {
		/* Nothing was changed (a member taken off during a launch): save again shortly. */
		int retry = reg_json_int(out, "retry_after");
		cJSON_Delete(out);
		reg_outcomes[REG_BUSY]++;
		snprintf(m->notice, sizeof m->notice, "%s", m->t->update_busy);
		m->notice_ok = false;
		m->status = 503;
		m->keep_typed = true;
		reg_retry_after(m->ctx, retry);
		reg_manage_show(m->ctx, m);
		return;
	}
	if (strcmp(outcome, "leg_ended") == 0 || strcmp(outcome, "too_many_legs") == 0) {
		/* Nothing was changed: the leg at fault is named, the form stays as typed. */
		char field[24];
		if (strcmp(outcome, "leg_ended") == 0) {
			snprintf(field, sizeof field, "leg%d_departure", reg_json_int(out, "leg"));
			reg_error(&m->e, field, m->t->err_leg_past);
		} else {
			char text[200];
			int fit = reg_json_int(out, "fit");
			const char *at = strstr(m->t->err_too_many_legs, "%d");
			snprintf(text, sizeof text, "%.*s%d%s", (int)(at - m->t->err_too_many_legs),
			         m->t->err_too_many_legs, fit, at + 2);
			reg_error(&m->e, "legs", text);
		}
		cJSON_Delete(out);
		reg_outcomes[REG_REFUSED]++;
		m->status = 400;
		reg_manage_show(m->ctx, m);
		return;
	}
	if (strcmp(outcome, "merged") == 0) {
		cJSON_Delete(out);
		snprintf(m->notice, sizeof m->notice, "%s", m->t->merged);
		m->notice_ok = false;
		evhttp_clear_headers(&m->form);
		m->has_form = false;
		reg_manage_show(m->ctx, m);
		return;
	}
	reg_outcomes[REG_UPDATED]++;
	if (cJSON_IsTrue(cJSON_GetObjectItem(out, "codes_held"))) {
		/* Saved, but a new contact's code waits for its recipient's budget: say when. */
		reg_text_minutes(m->notice, sizeof m->notice, m->t->codes_held,
		                 reg_json_int(out, "retry_after"));
		m->notice_ok = false;
	} else {
		snprintf(m->notice, sizeof m->notice, "%s", m->t->saved);
		m->notice_ok = true;
	}
	cJSON_Delete(out);
	evhttp_clear_headers(&m->form);
	m->has_form = false;
	reg_manage_show(m->ctx, m);
}

static void
reg_update_ready(struct http_ctx *ctx, void *arg)
{
	struct reg_manage *m = arg;
	const cJSON *mission = NULL;
	char country[3];
	enum reg_choice why;
	cJSON *doc;
	char *doc_text, addr_key[SF_RATETABLE_KEY_MAX], limits[128];
	const char *params[5], *cause;

	why = reg_choose_mission(fv(&m->form, "mission"), fv(&m->form, "country"), &m->form,
	                         &mission, country);
	if (why == REG_NO_MISSION || why == REG_AMBIGUOUS) {
		/* Nothing is changed: the registration stays as it was. */
		reg_message(ctx, 400, m->t, m->t->title,
		            why == REG_NO_MISSION ? m->t->err_mission : m->t->err_which_mission);
		reg_manage_free(m);
		return;
	}
	if (mission == NULL) {
		reg_manage_gone(m);
		return;
	}
	if (reg_more_rows(&m->form)) {
		/* The same form with one more row; the typed values stay. */
		{
			struct evbuffer *b = reg_page_start(m->t, NULL);
			char action[128];
			snprintf(action, sizeof action, "/register/m/%s", m->token);
			evbuffer_add_printf(b, "<h1>%s</h1>", m->t->manage);
			reg_form(b, m->t, mission, fv(&m->form, "country"), &m->form, NULL, action,
			         false, 0);
			reg_page_send(ctx, 200, b);
		}
		reg_manage_free(m);
		return;
	}
	doc = reg_read_form(&m->form, m->t, mission, &m->e, true);
	if (m->nul_field[0] != '\0') {
		reg_nul_error(&m->e, m->t, m->nul_field);
		cJSON_Delete(doc);
		doc = NULL;
	}
	if (doc == NULL) {
		reg_manage_show(ctx, m);
		return;
	}
	if (reg_saves_in_flight >= REG_SAVES_MAX) {
		cJSON_Delete(doc);
		reg_message(ctx, 503, m->t, m->t->title, m->t->busy);
		reg_manage_free(m);
		return;
	}
	doc_text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	reg_address_key(ctx, addr_key);
	reg_code_limits(ctx, limits, sizeof limits);
	params[0] = m->hash;
	params[1] = doc_text;
	params[2] = ctx->client_addr;
	params[3] = addr_key;
	params[4] = limits;
	reg_saves_in_flight++;
	if (db_pool_query(ctx->d->db,
	                  "SELECT registration_update($1, $2::jsonb, $3, $4, $5::jsonb)", 5, params,
	                  reg_updated, m, &cause) != 0) {
		reg_saves_in_flight--;
		reg_message(ctx, 503, m->t, m->t->title, m->t->busy);
		reg_manage_free(m);
	}
	memset(doc_text, 0, strlen(doc_text));
	free(doc_text);
}

void
routes_register_update(struct http_ctx *ctx)
{
	struct reg_manage *m = reg_manage_open(ctx, true);

	if (m != NULL)
		reg_with_missions(ctx, reg_update_ready, m);
}

/* ---- codes ---- */

/* The link is queued (or was sent before): show the page. */
static void
reg_link_sent(const struct db_result *r, void *arg)
{
	struct reg_manage *m = arg;

	if (r->outcome != DB_OK)
		log_warn("registration_link_failed", "error", r->error);
	evhttp_clear_headers(&m->form);
	m->has_form = false;
	reg_manage_show(m->ctx, m);
}

static void
reg_code_done(const struct db_result *r, void *arg)
{
	struct reg_manage *m = arg;
	const struct reg_text *t = m->t;
	const char *outcome =
	    r->outcome == DB_OK && PQntuples(r->res) == 1 && !PQgetisnull(r->res, 0, 0)
	        ? PQgetvalue(r->res, 0, 0)
	        : NULL;

	if (outcome == NULL) {
		if (r->outcome == DB_OK) {
			reg_manage_gone(m);
			return;
		}
		log_warn("registration_code_failed", "error", r->error);
		reg_message(m->ctx, 503, t, t->title, t->busy);
		reg_manage_free(m);
		return;
	}
	if (strcmp(outcome, "limit") == 0) {
		/* A budget of codes is spent: when to ask again, and nothing lost. */
		int retry = PQnfields(r->res) > 1 && !PQgetisnull(r->res, 0, 1)
		                ? atoi(PQgetvalue(r->res, 0, 1))
		                : 3600;
		code_outcomes[CODE_LIMITED]++;
		reg_text_minutes(m->notice, sizeof m->notice, t->code_limit, retry);
		m->notice_ok = false;
		m->status = 429;
		reg_retry_after(m->ctx, retry);
		evhttp_clear_headers(&m->form);
		m->has_form = false;
		reg_manage_show(m->ctx, m);
		return;
	}
	m->notice_ok = strcmp(outcome, "ok") == 0 || strcmp(outcome, "sent") == 0 ||
	               strcmp(outcome, "verified") == 0;
	if (strcmp(outcome, "verified") != 0 && strcmp(outcome, "unknown") != 0)
		code_outcomes[strcmp(outcome, "ok") == 0       ? CODE_CONFIRMED
		              : strcmp(outcome, "sent") == 0   ? CODE_SENT
		              : strcmp(outcome, "wait") == 0   ? CODE_WAIT
		              : strcmp(outcome, "wrong") == 0  ? CODE_WRONG
		              : strcmp(outcome, "locked") == 0 ? CODE_LOCKED
		                                               : CODE_EXPIRED]++;
	if (strcmp(outcome, "ok") == 0 && m->contact[0] != '\0') {
		/* Confirmed: the management link goes to that contact, once. */
		char *link;
		const char *params[3], *cause;
		xasprintf(&link, "%s/register/m/%s", m->ctx->d->cfg.public_url, m->token);
		params[0] = m->hash;
		params[1] = m->contact;
		params[2] = link;
		if (db_pool_query(m->ctx->d->db,
		                  "SELECT registration_link_send($1, $2::bigint, $3)", 3, params,
		                  reg_link_sent, m, &cause) == 0) {
			snprintf(m->notice, sizeof m->notice, "%s", t->code_ok);
			OPENSSL_cleanse(link, strlen(link));
			free(link);
			return;
		}
		OPENSSL_cleanse(link, strlen(link));
		free(link);
	}
	snprintf(m->notice, sizeof m->notice, "%s",
	         strcmp(outcome, "ok") == 0 || strcmp(outcome, "verified") == 0 ? t->code_ok
	         : strcmp(outcome, "sent") == 0                                 ? t->code_sent
	         : strcmp(outcome, "wrong") == 0                                ? t->code_wrong
	         : strcmp(outcome, "locked") == 0                               ? t->code_locked
	         : strcmp(outcome, "wait") == 0                                 ? t->code_wait
	                                                                        : t->code_expired);
	evhttp_clear_headers(&m->form);
	m->has_form = false;
	reg_manage_show(m->ctx, m);
}

/*
 * The contact must belong to the registration the link opens; no row when
 * it does not. Each answers the outcome and, for a spent budget, the seconds
 * to wait. (OFFSET 0 keeps the send after every condition.)
 */
static const char reg_code_check_sql[] =
    "SELECT contact_code_check(r.id, c.id, $3), NULL FROM registration r "
    "JOIN contact c ON c.national_id = r.national_id AND c.id = $2::bigint "
    "WHERE r.id = (SELECT registration_link_open($1)) AND NOT EXISTS (SELECT 1 "
    " FROM registration_merge mg WHERE mg.registration_id = r.id)";
static const char reg_code_resend_sql[] =
    "SELECT x->>'outcome', x->>'retry_after' FROM (SELECT contact_code_send(c.id, $3, "
    " $4::jsonb) AS x FROM registration r "
    " JOIN contact c ON c.national_id = r.national_id AND c.id = $2::bigint "
    " WHERE r.id = (SELECT registration_link_open($1)) AND NOT EXISTS (SELECT 1 "
    "  FROM registration_merge mg WHERE mg.registration_id = r.id) OFFSET 0) s";

static void
reg_code(struct http_ctx *ctx, bool resend)
{
	struct reg_manage *m = reg_manage_open(ctx, true);
	const char *contact, *code, *params[4], *cause;
	char addr_key[SF_RATETABLE_KEY_MAX], limits[128];
	bool code_ok = true;

	if (m == NULL)
		return;
	if (reg_nul_refused(ctx, m->t, m->nul_field)) {
		reg_manage_free(m);
		return;
	}
	contact = fv(&m->form, "contact");
	code = fv(&m->form, "code");
	for (const char *p = code; *p != '\0'; p++)
		code_ok = code_ok && *p >= '0' && *p <= '9';
	if (!http_is_id(contact)) {
		reg_manage_gone(m);
		return;
	}
	snprintf(m->contact, sizeof m->contact, "%s", resend ? "" : contact);
	if (!resend && (strlen(code) != 6 || !code_ok)) {
		snprintf(m->notice, sizeof m->notice, "%s", m->t->code_wrong);
		evhttp_clear_headers(&m->form);
		m->has_form = false;
		reg_with_missions(ctx, reg_manage_show, m);
		return;
	}
	reg_address_key(ctx, addr_key);
	reg_code_limits(ctx, limits, sizeof limits);
	params[0] = m->hash;
	params[1] = contact;
	params[2] = resend ? addr_key : code;
	params[3] = limits;
	/* The mission list is loaded by the page shown afterwards. */
	if (db_pool_query(ctx->d->db, resend ? reg_code_resend_sql : reg_code_check_sql,
	                  resend ? 4 : 3, params, reg_code_done, m, &cause) != 0) {
		reg_message(ctx, 503, m->t, m->t->title, m->t->busy);
		reg_manage_free(m);
	}
}

void
routes_register_verify(struct http_ctx *ctx)
{
	reg_code(ctx, false);
}

void
routes_register_resend(struct http_ctx *ctx)
{
	reg_code(ctx, true);
}

/* ---- deletion ---- */

static void
reg_deleted(const struct db_result *r, void *arg)
{
	struct reg_manage *m = arg;
	cJSON *out = NULL;
	const char *outcome;

	if (r->outcome == DB_OK && PQntuples(r->res) == 1)
		out = cJSON_Parse(PQgetvalue(r->res, 0, 0));
	outcome = cJSON_GetStringValue(cJSON_GetObjectItem(out, "outcome"));
	if (outcome != NULL && strcmp(outcome, "deleted") == 0) {
		reg_outcomes[REG_DELETED]++;
		reg_message(m->ctx, 200, m->t, m->t->delete_title, m->t->deleted);
	} else if (outcome != NULL)
		reg_message(m->ctx, 404, m->t, m->t->gone, m->t->gone_more);
	else {
		log_warn("registration_delete_failed", "error", r->error);
		reg_message(m->ctx, 503, m->t, m->t->title, m->t->busy);
	}
	cJSON_Delete(out);
	reg_manage_free(m);
}

void
routes_register_delete(struct http_ctx *ctx)
{
	struct reg_manage *m = reg_manage_open(ctx, true);
	const char *params[2], *cause;

	if (m == NULL)
		return;
	if (reg_nul_refused(ctx, m->t, m->nul_field)) {
		reg_manage_free(m);
		return;
	}
	if (strcmp(fv(&m->form, "confirm"), "1") != 0) {
		evhttp_clear_headers(&m->form);
		m->has_form = false;
		reg_with_missions(ctx, reg_manage_show, m);
		return;
	}
	params[0] = m->hash;
	params[1] = ctx->client_addr;
	if (db_pool_query(ctx->d->db, "SELECT registration_delete($1, $2)", 2, params, reg_deleted,
	                  m, &cause) != 0) {
		reg_message(ctx, 503, m->t, m->t->title, m->t->busy);
		reg_manage_free(m);
	}
}

/* ---- a lost management link ---- */

static void
reg_lost_page(struct http_ctx *ctx, const struct reg_text *t, const char *notice, int status)
{
	struct evbuffer *b =
	    reg_page_start(t, t == &reg_ko ? "/register/lost?lang=en" : "/register/lost?lang=ko");

	evbuffer_add_printf(b, "<h1>%s</h1>", t->lost);
	if (notice != NULL)
		evbuffer_add_printf(b, "<div class=\"%s\" role=\"%s\"><p>%s</p></div>",
		                    status < 300 ? "ok" : "gone", status < 300 ? "status" : "alert",
		                    notice);
	evbuffer_add_printf(b,
	                    "<p>%s</p><form method=\"post\" action=\"/register/lost\">"
	                    "<input type=\"hidden\" name=\"lang\" value=\"%s\">"
	                    "<label class=\"field\" for=\"contact\">%s</label>"
	                    "<input id=\"contact\" name=\"contact\" maxlength=\"254\" "
	                    "autocomplete=\"tel\">"
	                    "<button type=\"submit\" class=\"send\">%s</button></form>",
	                    t->lost_intro, t->lang, t->lost_contact, t->lost_send);
	reg_page_send(ctx, status, b);
}

void
routes_register_lost_page(struct http_ctx *ctx)
{
	reg_lost_page(ctx, reg_language(ctx, NULL), NULL, 200);
}

struct reg_lost {
	struct http_ctx *ctx;
	const struct reg_text *t;
};

static void
reg_lost_done(const struct db_result *r, void *arg)
{
	struct reg_lost *l = arg;
	cJSON *out = NULL;
	const char *outcome;

	if (r->outcome != DB_OK)
		log_warn("registration_relink_failed", "error", r->error);
	else if (PQntuples(r->res) == 1)
		out = cJSON_Parse(PQgetvalue(r->res, 0, 0));
	outcome = cJSON_GetStringValue(cJSON_GetObjectItem(out, "outcome"));
	/*
	 * The same page whatever happened: nothing tells whether the contact is
	 * registered. The limits count a stranger's contact as a registered one.
	 */
	if (outcome != NULL && strcmp(outcome, "limit") == 0) {
		char text[300];
		int retry = reg_json_int(out, "retry_after");
		reg_text_minutes(text, sizeof text, l->t->lost_limit, retry);
		reg_retry_after(l->ctx, retry);
		reg_lost_page(l->ctx, l->t, text, 429);
	} else {
		reg_lost_page(l->ctx, l->t, l->t->lost_done, 200);
	}
	cJSON_Delete(out);
	free(l);
}

/* POST /register/lost contact= */
void
routes_register_lost(struct http_ctx *ctx)
{
	struct evkeyvalq form;
	struct reg_lost *l;
	char value[256], why[160], token[SF_SECRET_TOKEN_BUFSZ], hash[SF_SECRET_HASH_HEX + 1];
	const char *contact, *kind = NULL, *params[7], *cause;
	char *link, *values_text, addr_key[SF_RATETABLE_KEY_MAX], per_addr[12], per_contact[12];
	char nul_field[REG_FIELD_MAX];
	cJSON *values = cJSON_CreateArray();

	if (!reg_read_body(ctx, &form, nul_field)) {
		cJSON_Delete(values);
		return;
	}
	if (reg_nul_refused(ctx, reg_language(ctx, &form), nul_field)) {
		evhttp_clear_headers(&form);
		cJSON_Delete(values);
		return;
	}
	l = xcalloc(1, sizeof *l);
	l->ctx = ctx;
	l->t = reg_language(ctx, &form);
	contact = fv(&form, "contact");
	if (strchr(contact, '@') != NULL) {
		if (sf_email_validate(contact, value, sizeof value, why, sizeof why) == 0) {
			kind = "email";
			cJSON_AddItemToArray(values, cJSON_CreateString(value));
		}
	} else {
		/* A number in national form is read as Korean and as each mission's country would.
		 */
		const cJSON *m;
		if (sf_phone_normalize(contact, "KR", value, sizeof value, why, sizeof why) == 0)
			cJSON_AddItemToArray(values, cJSON_CreateString(value));
		cJSON_ArrayForEach(m, reg_cache.missions)
		{
			const char *cc = cJSON_GetStringValue(cJSON_GetObjectItem(m, "country"));
			if (cc != NULL && cJSON_GetArraySize(values) < 16 &&
			    sf_phone_normalize(contact, cc, value, sizeof value, why, sizeof why) ==
			        0)
				cJSON_AddItemToArray(values, cJSON_CreateString(value));
		}
		if (cJSON_GetArraySize(values) > 0)
			kind = "phone";
	}
	evhttp_clear_headers(&form);
	if (kind == NULL || sf_secret_token_new(token, sizeof token, "") != 0 ||
	    sf_secret_hash(token, hash) != 0) {
		cJSON_Delete(values);
		reg_lost_page(ctx, l->t, l->t->lost_done, 200);
		free(l);
		return;
	}
	values_text = cJSON_PrintUnformatted(values);
	cJSON_Delete(values);
	xasprintf(&link, "%s/register/m/%s", ctx->d->cfg.public_url, token);
	reg_address_key(ctx, addr_key);
	snprintf(per_addr, sizeof per_addr, "%d", REG_LOST_PER_ADDRESS_HOUR);
	snprintf(per_contact, sizeof per_contact, "%d", REG_LOST_PER_CONTACT_HOUR);
	params[0] = kind;
	params[1] = values_text;
	params[2] = hash;
	params[3] = link;
	params[4] = addr_key;
	params[5] = per_addr;
	params[6] = per_contact;
	if (db_pool_query(ctx->d->db,
	                  "SELECT registration_relink($1, ARRAY(SELECT jsonb_array_elements_text("
	                  "$2::jsonb)), $3, $4, $5, $6::int, $7::int)",
	                  7, params, reg_lost_done, l, &cause) != 0) {
		reg_lost_page(ctx, l->t, l->t->lost_done, 200);
		free(l);
	}
	free(values_text);
	OPENSSL_cleanse(token, sizeof token);
	OPENSSL_cleanse(link, strlen(link));
	free(link);
}

void
routes_register_metrics(struct evbuffer *out)
{
	evbuffer_add_printf(
	    out,
	    "# HELP safety_registrations_total Self-registrations at /register by outcome.\n"
	    "# TYPE safety_registrations_total counter\n"
	    "safety_registrations_total{outcome=\"created\"} %llu\n"
	    "safety_registrations_total{outcome=\"refused\"} %llu\n"
	    "safety_registrations_total{outcome=\"limited\"} %llu\n"
	    "safety_registrations_total{outcome=\"busy\"} %llu\n"
	    "safety_registrations_total{outcome=\"updated\"} %llu\n"
	    "safety_registrations_total{outcome=\"deleted\"} %llu\n"
	    "# HELP safety_registration_codes_total One-time codes asked for and typed, by "
	    "outcome.\n"
	    "# TYPE safety_registration_codes_total counter\n"
	    "safety_registration_codes_total{outcome=\"resent\"} %llu\n"
	    "safety_registration_codes_total{outcome=\"wait\"} %llu\n"
	    "safety_registration_codes_total{outcome=\"confirmed\"} %llu\n"
	    "safety_registration_codes_total{outcome=\"wrong\"} %llu\n"
	    "safety_registration_codes_total{outcome=\"locked\"} %llu\n"
	    "safety_registration_codes_total{outcome=\"expired\"} %llu\n"
	    "safety_registration_codes_total{outcome=\"limited\"} %llu\n",
	    reg_outcomes[REG_CREATED], reg_outcomes[REG_REFUSED], reg_outcomes[REG_LIMITED],
	    reg_outcomes[REG_BUSY], reg_outcomes[REG_UPDATED], reg_outcomes[REG_DELETED],
	    code_outcomes[CODE_SENT], code_outcomes[CODE_WAIT], code_outcomes[CODE_CONFIRMED],
	    code_outcomes[CODE_WRONG], code_outcomes[CODE_LOCKED], code_outcomes[CODE_EXPIRED],
	    code_outcomes[CODE_LIMITED]);
}
