/*
 * The free-text reply parser. A reply is decoded, normalised and split into
 * words, numbers, emoji and punctuation; Korean and English keyword tables
 * then say what each part asks for, negation and questions adjust that, and
 * the most urgent kind found wins. Design and measured accuracy: reply.md.
 */
#include <safety/reply.h>
#include <safety/error.h>

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

/* What a keyword says. DONE is an evacuation already made ("evacuated"): safe. */
enum cat {
	CAT_NONE, /* a phrase that hides a keyword inside it ("good morning", "아파트") */
	CAT_SAFE,
	CAT_DONE,
	CAT_EVAC,
	CAT_HELP,
	CAT_INJURED,
	CAT_YES,    /* "yes" to "are you safe?": safe, when nothing else is said */
	CAT_NO,     /* "no" to it: not safe, when nothing else is said */
	CAT_NEGATE, /* English negators: "not", "no", "never" */
	CAT_IF,     /* "if", "in case": what follows is hypothetical */
	CAT_URGENT, /* "urgent", "emergency": a call for help when nothing more is said */
	CAT_UNSURE, /* "not sure", "모르겠어요": a "safe" beside it is not one */
	CAT_HEDGE,  /* "far from", "barely": negates only a "safe" right after it */
};

/* Keyword flags. */
#define F_WEAK 0x01 /* says it less surely: an emoji, "ok", "at home" */
#define F_FUZZ 0x02 /* also found with one typo ("sfae", "hlep") */
#define F_LACK 0x08 /* a thing lacked: "없" after it is the call for help ("먹을 게 없어요") */
#define F_NEED 0x04 /* a need: negated only as "no need" ("dont need help", "도움 필요 없어요") */
#define F_SEEK 0x10  /* "safe" that can be sought, not had: "need a safe place", "where is safe" */
#define F_GUESS 0x20 /* read by a guess: a kind it decides is marked for review */
#define F_PLACE 0x40 /* a safe place ("안전한 곳"): sought when needed or asked for */

struct lex {
	const char *s;
	unsigned char cat;
	unsigned char flags;
};

/*
 * English words, case-folded, apostrophes dropped ("im", "dont"). A phrase
 * (several words) beats the single words inside it.
 */
static const struct lex latin_lex[] = {
    /* safe */
    {"safe", CAT_SAFE, F_FUZZ | F_SEEK},
    {"safely", CAT_SAFE, F_SEEK},
    {"safety", CAT_NONE, 0},
    {"ok", CAT_SAFE, F_WEAK},
    {"okay", CAT_SAFE, F_WEAK | F_FUZZ},
    {"okey", CAT_SAFE, F_WEAK},
    {"oky", CAT_SAFE, F_WEAK},
    {"okie", CAT_SAFE, F_WEAK},
    {"sfe", CAT_SAFE, 0},
    {"saf", CAT_SAFE, 0},
    {"k", CAT_NONE, 0},
    {"fine", CAT_SAFE, F_FUZZ},
    {"alright", CAT_SAFE, 0},
    {"all right", CAT_SAFE, 0},
    {"unharmed", CAT_SAFE, 0},
    {"unhurt", CAT_SAFE, 0},
    {"uninjured", CAT_SAFE, 0},
    {"alive", CAT_SAFE, 0},
    {"secure", CAT_SAFE, F_SEEK},
    {"sound", CAT_NONE, 0},
    {"safe and sound", CAT_SAFE, 0},
    {"all good", CAT_SAFE, 0},
    {"all well", CAT_SAFE, 0},
    {"all is well", CAT_SAFE, 0},
    {"doing well", CAT_SAFE, 0},
    {"we are well", CAT_SAFE, 0},
    {"were well", CAT_SAFE, 0},
    {"im well", CAT_SAFE, 0},
    {"good", CAT_SAFE, F_WEAK},
    {"gud", CAT_SAFE, F_WEAK},
    {"good morning", CAT_NONE, 0},
    {"good evening", CAT_NONE, 0},
    {"good afternoon", CAT_NONE, 0},
    {"good night", CAT_NONE, 0},
    {"good luck", CAT_NONE, 0},
    {"no problem", CAT_SAFE, 0},
    {"no problems", CAT_SAFE, 0},
    {"no worries", CAT_SAFE, 0},
    {"nothing happened", CAT_SAFE, 0},
    {"at home", CAT_SAFE, F_WEAK},
    {"at the embassy", CAT_DONE, F_WEAK},
    {"at the shelter", CAT_DONE, F_WEAK},
    {"in the shelter", CAT_DONE, F_WEAK},
    {"in a shelter", CAT_DONE, F_WEAK},
    {"in shelter", CAT_DONE, F_WEAK},
    {"unsafe", CAT_HELP, 0},
    {"yes", CAT_YES, F_WEAK},
    {"yep", CAT_YES, F_WEAK},
    {"yeah", CAT_YES, F_WEAK},
    {"yup", CAT_YES, F_WEAK},
    {"y", CAT_YES, F_WEAK},
    {"no", CAT_NO, F_WEAK},
    {"nope", CAT_NO, F_WEAK},
    {"n", CAT_NO, F_WEAK},
    {"thanks", CAT_NONE, 0},
    {"thank you", CAT_NONE, 0},
    {"thank", CAT_NONE, 0},
    /* evacuation already made */
    {"evacuated", CAT_DONE, F_WEAK},
    {"got out", CAT_DONE, F_WEAK},
    {"made it out", CAT_DONE, F_WEAK},
    {"left the city", CAT_DONE, F_WEAK},
    {"left the country", CAT_DONE, F_WEAK},
    {"crossed the border", CAT_DONE, F_WEAK},
    {"already left", CAT_DONE, F_WEAK},
    {"at the airport", CAT_DONE, F_WEAK},
    {"bomb shelter", CAT_DONE, F_WEAK},
    {"air raid shelter", CAT_DONE, F_WEAK},
    {"be evacuated", CAT_EVAC, 0},
    {"get evacuated", CAT_EVAC, 0},
    /* evacuation */
    {"evacuate", CAT_EVAC, F_FUZZ | F_NEED},
    {"evacuation", CAT_EVAC, F_FUZZ | F_NEED},
    {"evac", CAT_EVAC, F_NEED},
    {"evacuating", CAT_EVAC, 0},
    {"evacute", CAT_EVAC, 0},
    {"evacuete", CAT_EVAC, 0},
    {"leave", CAT_EVAC, F_NEED},
    {"leaving", CAT_EVAC, 0},
    {"get out", CAT_EVAC, 0},
    {"get us out", CAT_EVAC, 0},
    {"get me out", CAT_EVAC, 0},
    {"way out", CAT_EVAC, 0},
    {"go home", CAT_EVAC, 0},
    {"fly home", CAT_EVAC, 0},
    {"go back to korea", CAT_EVAC, 0},
    {"pick us up", CAT_EVAC, 0},
    {"pick me up", CAT_EVAC, 0},
    {"pick up", CAT_EVAC, 0},
    {"take us", CAT_EVAC, 0},
    {"extract", CAT_EVAC, 0},
    {"extraction", CAT_EVAC, 0},
    {"escape", CAT_EVAC, 0},
    {"relocate", CAT_EVAC, 0},
    {"transport", CAT_EVAC, F_NEED},
    {"transportation", CAT_EVAC, 0},
    {"airport", CAT_EVAC, F_WEAK},
    {"border", CAT_EVAC, F_WEAK},
    {"flight", CAT_EVAC, F_WEAK},
    {"flights", CAT_EVAC, F_WEAK},
    {"shelter", CAT_EVAC, F_WEAK},
    /* help */
    {"help", CAT_HELP, F_FUZZ | F_NEED},
    {"hlp", CAT_HELP, 0},
    {"hepl", CAT_HELP, 0},
    {"halp", CAT_HELP, 0},
    {"sos", CAT_HELP, 0},
    {"mayday", CAT_HELP, 0},
    {"emergency", CAT_URGENT, F_FUZZ},
    {"urgent", CAT_URGENT, 0},
    {"urgently", CAT_URGENT, 0},
    {"asap", CAT_URGENT, F_WEAK},
    {"danger", CAT_HELP, F_FUZZ},
    {"dangerous", CAT_HELP, F_FUZZ},
    {"trapped", CAT_HELP, F_FUZZ},
    {"stuck", CAT_HELP, 0},
    {"collapsed", CAT_HELP, F_FUZZ},
    {"collapse", CAT_HELP, 0},
    {"rubble", CAT_HELP, 0},
    {"debris", CAT_HELP, 0},
    {"buried", CAT_HELP, 0},
    {"fire", CAT_HELP, 0},
    {"burning", CAT_HELP, 0},
    {"smoke", CAT_HELP, 0},
    {"flood", CAT_HELP, 0},
    {"flooding", CAT_HELP, 0},
    {"flooded", CAT_HELP, 0},
    {"drowning", CAT_HELP, 0},
    {"shooting", CAT_HELP, F_FUZZ},
    {"shots", CAT_HELP, 0},
    {"gunfire", CAT_HELP, 0},
    {"gunshots", CAT_HELP, 0},
    {"gunmen", CAT_HELP, 0},
    {"gunman", CAT_HELP, 0},
    {"sniper", CAT_HELP, 0},
    {"bomb", CAT_HELP, 0},
    {"bombing", CAT_HELP, 0},
    {"bombs", CAT_HELP, 0},
    {"explosion", CAT_HELP, F_FUZZ},
    {"explosions", CAT_HELP, 0},
    {"missile", CAT_HELP, 0},
    {"missiles", CAT_HELP, 0},
    {"shelling", CAT_HELP, 0},
    {"airstrike", CAT_HELP, 0},
    {"attack", CAT_HELP, 0},
    {"attacked", CAT_HELP, 0},
    {"hostage", CAT_HELP, F_FUZZ},
    {"hostages", CAT_HELP, 0},
    {"kidnapped", CAT_HELP, F_FUZZ},
    {"kidnap", CAT_HELP, 0},
    {"abducted", CAT_HELP, 0},
    {"arrested", CAT_HELP, 0},
    {"detained", CAT_HELP, 0},
    {"robbed", CAT_HELP, 0},
    {"lost", CAT_HELP, 0},
    {"stranded", CAT_HELP, 0},
    {"missing", CAT_HELP, 0},
    {"dying", CAT_HELP, 0},
    {"phone dying", CAT_NONE, 0},
    {"battery dying", CAT_NONE, 0},
    {"phone is dying", CAT_NONE, 0},
    {"fighting", CAT_HELP, 0},
    {"took my", CAT_HELP, 0},
    {"took our", CAT_HELP, 0},
    {"dead", CAT_HELP, 0},
    {"rescue", CAT_HELP, F_FUZZ | F_NEED},
    {"scared", CAT_HELP, 0},
    {"afraid", CAT_HELP, 0},
    {"terrified", CAT_HELP, 0},
    {"hiding", CAT_HELP, 0},
    {"threatened", CAT_HELP, 0},
    {"starving", CAT_HELP, 0},
    {"hungry", CAT_HELP, 0},
    {"thirsty", CAT_HELP, 0},
    {"insulin", CAT_HELP, 0},
    {"medicine", CAT_HELP, 0},
    {"medication", CAT_HELP, 0},
    {"no water", CAT_HELP, 0},
    {"no food", CAT_HELP, 0},
    {"no medicine", CAT_HELP, 0},
    {"no electricity", CAT_HELP, 0},
    {"out of water", CAT_HELP, 0},
    {"out of food", CAT_HELP, 0},
    {"save us", CAT_HELP, 0},
    {"save me", CAT_HELP, 0},
    {"come quick", CAT_HELP, 0},
    {"please come", CAT_HELP, 0},
    {"come get us", CAT_HELP, 0},
    {"call me", CAT_HELP, 0},
    {"call us", CAT_HELP, 0},
    {"send someone", CAT_HELP, 0},
    {"cant get out", CAT_HELP, 0},
    {"cannot get out", CAT_HELP, 0},
    {"cant leave", CAT_HELP, 0},
    {"cannot leave", CAT_HELP, 0},
    {"cant move", CAT_HELP, 0},
    {"cannot move", CAT_HELP, 0},
    {"cant breathe", CAT_HELP, 0},
    {"cannot breathe", CAT_HELP, 0},
    {"no way out", CAT_HELP, 0},
    {"nowhere to go", CAT_HELP, 0},
    {"locked in", CAT_HELP, 0},
    {"gun", CAT_HELP, 0},
    {"guns", CAT_HELP, 0},
    {"armed men", CAT_HELP, 0},
    {"soldiers", CAT_HELP, F_WEAK},
    {"militia", CAT_HELP, F_WEAK},
    {"cant get back", CAT_HELP, 0},
    {"cannot get back", CAT_HELP, 0},
    {"wont let us", CAT_HELP, 0},
    {"wont let me", CAT_HELP, 0},
    {"on the roof", CAT_HELP, 0},
    {"call my", CAT_HELP, 0},
    {"call back", CAT_HELP, 0},
    {"call me back", CAT_HELP, 0},
    {"freezing", CAT_HELP, F_WEAK},
    {"no heating", CAT_HELP, 0},
    {"without water", CAT_HELP, 0},
    {"without food", CAT_HELP, 0},
    {"need water", CAT_HELP, 0},
    {"need food", CAT_HELP, 0},
    /* needs: running out, illness */
    {"running out", CAT_HELP, 0},
    {"run out", CAT_HELP, 0},
    {"ran out", CAT_HELP, 0},
    {"runs out", CAT_HELP, 0},
    {"need medicine", CAT_HELP, 0},
    {"need medication", CAT_HELP, 0},
    {"need insulin", CAT_HELP, 0},
    {"fever", CAT_HELP, 0},
    {"high fever", CAT_HELP, 0},
    {"sick", CAT_HELP, 0},
    /* not bare "ill": "I'll call" is read as "ill call" */
    {"feel ill", CAT_HELP, 0},
    {"feeling ill", CAT_HELP, 0},
    {"felt ill", CAT_HELP, 0},
    {"fell ill", CAT_HELP, 0},
    {"am ill", CAT_HELP, 0},
    {"is ill", CAT_HELP, 0},
    {"are ill", CAT_HELP, 0},
    {"very ill", CAT_HELP, 0},
    {"got ill", CAT_HELP, 0},
    {"seriously ill", CAT_HELP, 0},
    {"vomiting", CAT_HELP, 0},
    {"seizure", CAT_HELP, 0},
    {"breathing", CAT_HELP, 0},
    {"breathe", CAT_HELP, 0},
    {"short of breath", CAT_HELP, 0},
    {"chest pain", CAT_INJURED, 0},
    {"hurry", CAT_HELP, 0},
    /* "safe-ish": not quite */
    {"ish", CAT_HELP, F_GUESS},
    {"send help", CAT_HELP, 0},
    /* held, taken, surrounded: nobody says that of themselves when safe */
    {"being held", CAT_HELP, 0},
    {"held hostage", CAT_HELP, 0},
    {"held captive", CAT_HELP, 0},
    {"held at gunpoint", CAT_HELP, 0},
    {"surrounded", CAT_HELP, 0},
    {"holding us", CAT_HELP, 0},
    {"holding me", CAT_HELP, 0},
    {"was taken", CAT_HELP, 0},
    {"were taken", CAT_HELP, 0},
    {"been taken", CAT_HELP, 0},
    {"got taken", CAT_HELP, 0},
    {"taken away", CAT_HELP, 0},
    {"taken hostage", CAT_HELP, 0},
    /* someone of the party cannot be found or reached */
    {"cant find", CAT_HELP, 0},
    {"cannot find", CAT_HELP, 0},
    {"couldnt find", CAT_HELP, 0},
    {"cant reach", CAT_HELP, 0},
    {"cannot reach", CAT_HELP, 0},
    {"cant contact", CAT_HELP, 0},
    {"cannot contact", CAT_HELP, 0},
    {"lost contact", CAT_HELP, 0},
    {"havent heard from", CAT_HELP, 0},
    {"not answering", CAT_HELP, 0},
    {"not picking up", CAT_HELP, 0},
    {"not found", CAT_HELP, 0},
    {"disappeared", CAT_HELP, 0},
    {"gone missing", CAT_HELP, 0},
    {"unaccounted", CAT_HELP, 0},
    /* labour, as 진통 */
    {"contractions", CAT_HELP, 0},
    {"in labor", CAT_HELP, 0},
    {"in labour", CAT_HELP, 0},
    {"water broke", CAT_HELP, 0},
    {"waters broke", CAT_HELP, 0},
    /* a "safe" said before is taken back: "i said ok but it was a lie" */
    {"a lie", CAT_HELP, F_GUESS},
    {"lied", CAT_HELP, F_GUESS},
    {"not true", CAT_HELP, F_GUESS},
    /* injured */
    {"injured", CAT_INJURED, F_FUZZ},
    {"injury", CAT_INJURED, F_FUZZ},
    {"injuries", CAT_INJURED, F_FUZZ},
    {"injure", CAT_INJURED, 0},
    {"injurd", CAT_INJURED, 0},
    {"hurt", CAT_INJURED, 0},
    {"hurts", CAT_INJURED, 0},
    {"wounded", CAT_INJURED, F_FUZZ},
    {"wound", CAT_INJURED, 0},
    {"wounds", CAT_INJURED, 0},
    {"bleeding", CAT_INJURED, F_FUZZ},
    {"bleed", CAT_INJURED, 0},
    {"blood", CAT_INJURED, 0},
    {"broken", CAT_INJURED, 0},
    {"broke my", CAT_INJURED, 0},
    {"broke his", CAT_INJURED, 0},
    {"broke her", CAT_INJURED, 0},
    {"fracture", CAT_INJURED, 0},
    {"fractured", CAT_INJURED, 0},
    {"burned", CAT_INJURED, 0},
    {"burnt", CAT_INJURED, 0},
    {"burns", CAT_INJURED, 0},
    {"unconscious", CAT_INJURED, F_FUZZ},
    {"fainted", CAT_INJURED, 0},
    {"passed out", CAT_INJURED, 0},
    {"concussion", CAT_INJURED, 0},
    {"ambulance", CAT_INJURED, F_FUZZ | F_NEED},
    {"hospital", CAT_INJURED, F_FUZZ},
    {"hospitalized", CAT_INJURED, 0},
    {"doctor", CAT_INJURED, F_NEED},
    {"medic", CAT_INJURED, 0},
    {"paramedic", CAT_INJURED, 0},
    {"pain", CAT_INJURED, 0},
    {"stabbed", CAT_INJURED, 0},
    {"shot", CAT_INJURED, 0},
    {"cant walk", CAT_INJURED, 0},
    {"cannot walk", CAT_INJURED, 0},
    {"heart attack", CAT_INJURED, 0},
    {"fell down", CAT_INJURED, 0},
    {"shrapnel", CAT_INJURED, 0},
    {"hit my head", CAT_INJURED, 0},
    {"hit his head", CAT_INJURED, 0},
    {"hit her head", CAT_INJURED, 0},
    {"head injury", CAT_INJURED, 0},
    {"tear gas", CAT_INJURED, 0},
    {"cant see", CAT_INJURED, 0},
    {"not breathing", CAT_INJURED, 0},
    {"not moving", CAT_INJURED, 0},
    {"not responding", CAT_INJURED, 0},
    {"not waking up", CAT_INJURED, 0},
    {"no pulse", CAT_INJURED, 0},
    /* negation and hypotheses */
    {"not", CAT_NEGATE, 0},
    {"never", CAT_NEGATE, 0},
    {"dont", CAT_NEGATE, 0},
    {"doesnt", CAT_NEGATE, 0},
    {"didnt", CAT_NEGATE, 0},
    {"isnt", CAT_NEGATE, 0},
    {"arent", CAT_NEGATE, 0},
    {"wasnt", CAT_NEGATE, 0},
    {"werent", CAT_NEGATE, 0},
    {"aint", CAT_NEGATE, 0},
    {"havent", CAT_NEGATE, 0},
    {"hasnt", CAT_NEGATE, 0},
    {"wont", CAT_NEGATE, 0},
    {"nobody", CAT_NEGATE, 0},
    {"nowhere", CAT_NEGATE, 0},
    {"noone", CAT_NEGATE, 0},
    {"none", CAT_NEGATE, 0},
    {"nothing", CAT_NEGATE, 0},
    {"neither", CAT_NEGATE, 0},
    {"nor", CAT_NEGATE, 0},
    {"without", CAT_NEGATE, 0},
    {"if", CAT_IF, 0},
    {"not sure", CAT_UNSURE, 0},
    {"unsure", CAT_UNSURE, 0},
    {"dont know", CAT_UNSURE, 0},
    {"in case", CAT_IF, 0},
    {"incase", CAT_IF, 0},
    {"unless", CAT_IF, 0},
    /* Negate only a "safe" just after them; the weak ones are a guess. */
    {"far from", CAT_HEDGE, 0},
    {"anything but", CAT_HEDGE, 0},
    {"nowhere near", CAT_HEDGE, 0},
    {"hardly", CAT_HEDGE, F_GUESS},
    {"barely", CAT_HEDGE, F_GUESS},
    {"barley", CAT_HEDGE, F_GUESS},
    {"scarcely", CAT_HEDGE, F_GUESS},
    {"pretend", CAT_HEDGE, F_GUESS},
    {"pretending", CAT_HEDGE, F_GUESS},
    {"pretended", CAT_HEDGE, F_GUESS},
};

/* Real words one typo away from a keyword, which must not be read as it. */
static const char *const latin_not_typos[] = {
    "same",     "sale",    "save",      "sane",      "sage",    "sake",      "cafe",     "safer",
    "hell",     "held",    "helm",      "heap",      "hemp",    "kelp",      "yelp",     "hello",
    "helps",    "okra",    "tapped",    "rapped",    "trapper", "dancer",    "ranger",   "manger",
    "hanger",   "rescued", "hospitals", "injures",   "wounder", "collapses", "bleeding", "breeding",
    "bleeping", "hostel",  "five",      "find",      "fins",    "line",      "mine",     "nine",
    "wine",     "dine",    "vine",      "pine",      "file",    "fife",      "fink",     "fined",
    "finer",    "fire",    "fone",      "shootings", "evacuee", "evacuees",
};

/*
 * Korean stems, matched on a clause with its spaces removed, so "대피 했어요"
 * and "대피했어요" read alike. The longest entry starting at a syllable wins,
 * so "대피했" (evacuated) beats "대피" and "아파트" (flat) hides "아파".
 */
static const struct lex hangul_lex[] = {
    /* safe */
    {"안전", CAT_SAFE, 0},
    {"안젼", CAT_SAFE, 0},
    {"안잔", CAT_SAFE, 0},
    {"인전", CAT_SAFE, 0},
    {"안전한곳", CAT_NONE, F_PLACE},
    {"안전한곳에있", CAT_DONE, 0},
    {"안전한곳에서", CAT_DONE, 0},
    {"안전한곳으로", CAT_EVAC, 0},
    {"안전한곳이없", CAT_HELP, 0},
    {"안전한데가없", CAT_HELP, 0},
    {"안전한장소", CAT_NONE, F_PLACE},
    {"안전지대", CAT_NONE, F_PLACE},
    {"안전한장소에있", CAT_DONE, 0},
    {"안전한장소에서", CAT_DONE, 0},
    {"안전한장소로", CAT_EVAC, 0},
    /* where safety is, asked: not had */
    {"어디가안전", CAT_EVAC, 0},
    {"어디가제일안전", CAT_EVAC, 0},
    {"어디가가장안전", CAT_EVAC, 0},
    {"어디가더안전", CAT_EVAC, 0},
    {"어디로가야안전", CAT_EVAC, 0},
    {"어디로가면안전", CAT_EVAC, 0},
    {"어디있어야안전", CAT_EVAC, 0},
    {"어디에있어야안전", CAT_EVAC, 0},
    {"안전확인", CAT_NONE, 0},
    {"안전문자", CAT_NONE, 0},
    {"불안전", CAT_HELP, 0},
    {"괜찮", CAT_SAFE, 0},
    {"괜찬", CAT_SAFE, 0},
    {"갠찮", CAT_SAFE, 0},
    {"괸찮", CAT_SAFE, 0},
    {"괞찮", CAT_SAFE, 0},
    {"괜춘", CAT_SAFE, 0},
    {"무사", CAT_SAFE, 0},
    {"살아있", CAT_SAFE, 0},
    {"잘있", CAT_SAFE, 0},
    {"잘지내", CAT_SAFE, 0},
    {"잘지냅", CAT_SAFE, 0},
    {"이상없", CAT_SAFE, 0},
    {"문제없", CAT_SAFE, 0},
    {"피해없", CAT_SAFE, 0},
    {"별일없", CAT_SAFE, 0},
    {"아무일없", CAT_SAFE, 0},
    {"아무일도없", CAT_SAFE, 0},
    {"멀쩡", CAT_SAFE, 0},
    {"이상무", CAT_SAFE, 0},
    {"\u1100\u110E", CAT_SAFE, F_WEAK}, /* ㄱㅊ */
    {"모르겠", CAT_UNSURE, 0},
    {"모르겠습", CAT_UNSURE, 0},
    {"글쎄", CAT_UNSURE, 0},
    {"생존", CAT_SAFE, 0},
    {"오케이", CAT_SAFE, F_WEAK},
    {"\u110B\u110F", CAT_SAFE, F_WEAK}, /* ㅇㅋ */
    {"굿", CAT_SAFE, F_WEAK},
    {"집에있", CAT_SAFE, F_WEAK},
    {"집에머물", CAT_SAFE, F_WEAK},
    {"대사관에있", CAT_DONE, F_WEAK},
    {"영사관에있", CAT_DONE, F_WEAK},
    {"호텔에있", CAT_SAFE, F_WEAK},
    {"네", CAT_YES, F_WEAK},
    {"넵", CAT_YES, F_WEAK},
    {"넹", CAT_YES, F_WEAK},
    {"예", CAT_YES, F_WEAK},
    {"아니요", CAT_NO, F_WEAK},
    {"아니오", CAT_NO, F_WEAK},
    {"아뇨", CAT_NO, F_WEAK},
    {"감사", CAT_NONE, 0},
    {"도움감사", CAT_NONE, 0},
    {"도움주셔서감사", CAT_NONE, 0},
    {"도와주셔서감사", CAT_NONE, 0},
    /* evacuation already made */
    {"대피했", CAT_DONE, F_WEAK},
    {"대피하였", CAT_DONE, F_WEAK},
    {"대피함", CAT_DONE, F_WEAK},
    {"대피완료", CAT_DONE, F_WEAK},
    {"대피소에있", CAT_DONE, F_WEAK},
    {"대피소에왔", CAT_DONE, F_WEAK},
    {"대피소로왔", CAT_DONE, F_WEAK},
    {"대피소에도착", CAT_DONE, F_WEAK},
    {"대피소도착", CAT_DONE, F_WEAK},
    {"피신했", CAT_DONE, F_WEAK},
    {"피난했", CAT_DONE, F_WEAK},
    {"탈출했", CAT_DONE, F_WEAK},
    {"귀국했", CAT_DONE, F_WEAK},
    {"출국했", CAT_DONE, F_WEAK},
    {"빠져나왔", CAT_DONE, F_WEAK},
    {"도착했", CAT_DONE, F_WEAK},
    /* evacuation */
    {"대피", CAT_EVAC, F_NEED},
    {"데피", CAT_EVAC, F_NEED},
    {"대패", CAT_NONE, 0},
    {"피난", CAT_EVAC, F_NEED},
    {"탈출", CAT_EVAC, 0},
    {"철수", CAT_EVAC, F_NEED},
    {"귀국", CAT_EVAC, F_NEED},
    {"출국", CAT_EVAC, 0},
    {"나가고싶", CAT_EVAC, 0},
    {"나가야", CAT_EVAC, 0},
    {"떠나고싶", CAT_EVAC, 0},
    {"떠나야", CAT_EVAC, 0},
    {"빠져나가", CAT_EVAC, 0},
    {"이동필요", CAT_EVAC, F_NEED},
    {"이동하고싶", CAT_EVAC, 0},
    {"이동시켜", CAT_EVAC, 0},
    {"데리러", CAT_EVAC, 0},
    {"옮겨주", CAT_EVAC, 0},
    {"전세기", CAT_EVAC, 0},
    {"데리러와", CAT_EVAC, 0},
    {"데리러오", CAT_EVAC, 0},
    {"데려가", CAT_EVAC, 0},
    {"픽업", CAT_EVAC, 0},
    {"가고싶", CAT_EVAC, F_WEAK},
    {"항공편", CAT_EVAC, F_WEAK},
    {"비행기", CAT_EVAC, F_WEAK},
    {"공항", CAT_EVAC, F_WEAK},
    {"국경", CAT_EVAC, F_WEAK},
    /* help */
    {"도와", CAT_HELP, F_NEED},
    {"도움", CAT_HELP, F_NEED},
    {"도와줘", CAT_HELP, 0},
    {"살려", CAT_HELP, 0},
    {"구조", CAT_HELP, F_NEED},
    {"구조물", CAT_NONE, 0},
    {"구해", CAT_HELP, 0},
    {"위험", CAT_HELP, 0},
    {"갇혔", CAT_HELP, 0},
    {"갇혀", CAT_HELP, 0},
    {"갇힘", CAT_HELP, 0},
    {"갇힌", CAT_HELP, 0},
    {"갖혔", CAT_HELP, 0},
    {"갖혀", CAT_HELP, 0},
    {"같혔", CAT_HELP, 0},
    {"고립", CAT_HELP, 0},
    {"응급", CAT_HELP, 0},
    {"긴급", CAT_URGENT, 0},
    {"급해", CAT_URGENT, 0},
    {"급합", CAT_URGENT, 0},
    {"무너", CAT_HELP, 0},
    {"붕괴", CAT_HELP, 0},
    {"매몰", CAT_HELP, 0},
    {"깔렸", CAT_HELP, 0},
    {"깔려", CAT_HELP, 0},
    {"잔해", CAT_HELP, 0},
    {"납치", CAT_HELP, 0},
    {"인질", CAT_HELP, 0},
    {"총격", CAT_HELP, 0},
    {"총소리", CAT_HELP, 0},
    {"폭발", CAT_HELP, 0},
    {"폭탄", CAT_HELP, 0},
    {"폭격", CAT_HELP, 0},
    {"포격", CAT_HELP, 0},
    {"공습", CAT_HELP, 0},
    {"미사일", CAT_HELP, 0},
    {"공격", CAT_HELP, 0},
    {"테러", CAT_HELP, 0},
    {"불이났", CAT_HELP, 0},
    {"불났", CAT_HELP, 0},
    {"불이나", CAT_HELP, 0},
    {"화재", CAT_HELP, 0},
    {"연기가", CAT_HELP, 0},
    {"홍수", CAT_HELP, 0},
    {"침수", CAT_HELP, 0},
    {"물이없", CAT_HELP, 0},
    {"물없", CAT_HELP, 0},
    {"물도없", CAT_HELP, 0},
    {"물이떨어", CAT_HELP, 0},
    {"먹을것", CAT_HELP, F_LACK},
    {"먹을게", CAT_HELP, F_LACK},
    {"음식이없", CAT_HELP, 0},
    {"식량", CAT_HELP, F_LACK},
    {"배고", CAT_HELP, 0},
    {"굶", CAT_HELP, 0},
    {"약이없", CAT_HELP, 0},
    {"약없", CAT_HELP, 0},
    {"약이떨어", CAT_HELP, 0},
    {"인슐린", CAT_HELP, 0},
    {"진통", CAT_HELP, 0},
    {"숨을못", CAT_HELP, 0},
    {"숨이막", CAT_HELP, 0},
    {"숨막", CAT_HELP, 0},
    {"무서", CAT_HELP, 0},
    {"무섭", CAT_HELP, 0},
    {"길을잃", CAT_HELP, 0},
    {"길잃", CAT_HELP, 0},
    {"못나가", CAT_HELP, 0},
    {"나갈수없", CAT_HELP, 0},
    {"나갈수가없", CAT_HELP, 0},
    {"못움직", CAT_HELP, 0},
    {"움직일수없", CAT_HELP, 0},
    {"움직일수가없", CAT_HELP, 0},
    {"돈이없", CAT_HELP, 0},
    {"보내주", CAT_HELP, 0},
    {"무장", CAT_HELP, 0},
    {"찾아주", CAT_HELP, 0},
    {"갈곳이없", CAT_HELP, 0},
    {"갈곳없", CAT_HELP, 0},
    {"갈데가없", CAT_HELP, 0},
    {"추워", CAT_HELP, F_WEAK},
    {"춥", CAT_HELP, F_WEAK},
    {"끊겼", CAT_HELP, 0},
    /* needs: run out, illness, breathing */
    {"다떨어", CAT_HELP, 0},
    {"떨어졌", CAT_HELP, 0},
    {"물이다떨어", CAT_HELP, 0},
    {"약이필요", CAT_HELP, 0},
    {"약필요", CAT_HELP, 0},
    {"물이필요", CAT_HELP, 0},
    {"물필요", CAT_HELP, 0},
    {"음식이필요", CAT_HELP, 0},
    {"식량이필요", CAT_HELP, 0},
    {"의사가필요", CAT_INJURED, 0},
    {"열이", CAT_HELP, 0},
    {"열나", CAT_HELP, 0},
    {"고열", CAT_HELP, 0},
    {"숨을잘못", CAT_HELP, 0},
    {"숨을제대로못", CAT_HELP, 0},
    {"숨쉬기", CAT_HELP, 0},
    {"숨이차", CAT_HELP, 0},
    {"호흡", CAT_HELP, 0},
    {"탈수", CAT_HELP, 0},
    {"구토", CAT_HELP, 0},
    {"약이다떨어", CAT_HELP, 0},
    {"약다떨어", CAT_HELP, 0},
    {"약떨어", CAT_HELP, 0},
    {"여권을잃", CAT_HELP, 0},
    {"여권분실", CAT_HELP, 0},
    {"체포", CAT_HELP, 0},
    {"억류", CAT_HELP, 0},
    {"잡혀", CAT_HELP, 0},
    {"숨어", CAT_HELP, 0},
    {"실종", CAT_HELP, 0},
    {"연락이안", CAT_HELP, 0},
    {"연락안돼", CAT_HELP, 0},
    {"연락주", CAT_HELP, 0},
    {"연락부탁", CAT_HELP, 0},
    {"전화주", CAT_HELP, 0},
    {"전화해주", CAT_HELP, 0},
    {"전화부탁", CAT_HELP, 0},
    {"전화좀", CAT_HELP, 0},
    {"와주", CAT_HELP, 0},
    {"와줘", CAT_HELP, 0},
    {"제발", CAT_URGENT, F_WEAK},
    {"에스오에스", CAT_HELP, 0},
    {"강도", CAT_HELP, 0},
    {"폭행", CAT_HELP, 0},
    {"쫓기", CAT_HELP, 0},
    {"위협", CAT_HELP, 0},
    {"협박", CAT_HELP, 0},
    {"포위", CAT_HELP, 0},
    {"끌려", CAT_HELP, 0},
    {"잡아갔", CAT_HELP, 0},
    {"데려갔", CAT_HELP, 0},
    /* someone of the party cannot be found or reached */
    {"안보여", CAT_HELP, 0},
    {"안보이", CAT_HELP, 0},
    {"안보임", CAT_HELP, 0},
    {"보이지않", CAT_HELP, 0},
    {"보이질않", CAT_HELP, 0},
    {"없어졌", CAT_HELP, 0},
    {"없어짐", CAT_HELP, 0},
    {"사라졌", CAT_HELP, 0},
    {"잃어버렸", CAT_HELP, 0},
    {"못찾", CAT_HELP, 0},
    {"찾을수없", CAT_HELP, 0},
    {"찾을수가없", CAT_HELP, 0},
    {"연락이없", CAT_HELP, 0},
    {"연락없", CAT_HELP, 0},
    {"연락두절", CAT_HELP, 0},
    {"연락이끊", CAT_HELP, 0},
    {"행방불명", CAT_HELP, 0},
    {"소식이없", CAT_HELP, 0},
    {"양수가터", CAT_HELP, 0},
    /* a "safe" said before is taken back */
    {"거짓말", CAT_HELP, F_GUESS},
    {"거짓", CAT_HELP, F_GUESS},
    /* injured */
    {"부상", CAT_INJURED, 0},
    {"부샹", CAT_INJURED, 0},
    {"다쳤", CAT_INJURED, 0},
    {"다첬", CAT_INJURED, 0},
    {"다침", CAT_INJURED, 0},
    {"다쳐", CAT_INJURED, 0},
    {"다친", CAT_INJURED, 0},
    {"다치", CAT_INJURED, 0},
    {"피가", CAT_INJURED, 0},
    {"피를", CAT_INJURED, 0},
    {"피나", CAT_INJURED, 0},
    {"출혈", CAT_INJURED, 0},
    {"골절", CAT_INJURED, 0},
    {"부러", CAT_INJURED, 0},
    {"아파", CAT_INJURED, 0},
    {"아파트", CAT_NONE, 0},
    {"아픕", CAT_INJURED, 0},
    {"아프", CAT_INJURED, 0},
    {"아픈", CAT_INJURED, 0},
    {"화상", CAT_INJURED, 0},
    {"의식이없", CAT_INJURED, 0},
    {"의식없", CAT_INJURED, 0},
    {"의식을잃", CAT_INJURED, 0},
    {"병원", CAT_INJURED, 0},
    {"상처", CAT_INJURED, 0},
    {"기절", CAT_INJURED, 0},
    {"쓰러", CAT_INJURED, 0},
    {"수술", CAT_INJURED, 0},
    {"구급차", CAT_INJURED, 0},
    {"앰뷸런스", CAT_INJURED, 0},
    {"응급실", CAT_INJURED, 0},
    {"찔렸", CAT_INJURED, 0},
    {"총에맞", CAT_INJURED, 0},
    {"총상", CAT_INJURED, 0},
    {"못걷", CAT_INJURED, 0},
    {"걸을수없", CAT_INJURED, 0},
    {"반응이없", CAT_INJURED, 0},
    {"삐었", CAT_INJURED, 0},
    {"삐어", CAT_INJURED, 0},
    {"부딪혀", CAT_INJURED, 0},
    {"부딪쳤", CAT_INJURED, 0},
    {"어지러", CAT_INJURED, 0},
    {"베었", CAT_INJURED, 0},
    {"베였", CAT_INJURED, 0},
    {"숨을안쉬", CAT_INJURED, 0},
    {"숨안쉬", CAT_INJURED, 0},
};

/* Emoji that answer on their own. */
static const struct {
	uint32_t cp;
	unsigned char cat;
} emoji_lex[] = {
    {0x1F44D, CAT_SAFE},    /* 👍 */
    {0x1F44C, CAT_SAFE},    /* 👌 */
    {0x2705, CAT_SAFE},     /* ✅ */
    {0x2714, CAT_SAFE},     /* ✔ */
    {0x2611, CAT_SAFE},     /* ☑ */
    {0x1F197, CAT_SAFE},    /* 🆗 */
    {0x1F646, CAT_SAFE},    /* 🙆 */
    {0x1F642, CAT_SAFE},    /* 🙂 */
    {0x1F60A, CAT_SAFE},    /* 😊 */
    {0x1F600, CAT_SAFE},    /* 😀 */
    {0x263A, CAT_SAFE},     /* ☺ */
    {0x1F198, CAT_HELP},    /* 🆘 */
    {0x1F6A8, CAT_HELP},    /* 🚨 */
    {0x1F525, CAT_HELP},    /* 🔥 */
    {0x1F4A3, CAT_HELP},    /* 💣 */
    {0x1F44E, CAT_HELP},    /* 👎 */
    {0x274C, CAT_NO},       /* ❌: "no" alone; after "safe", see find_taken_back() */
    {0x274E, CAT_NO},       /* ❎ */
    {0x2716, CAT_NO},       /* ✖ */
    {0x2717, CAT_NO},       /* ✗ */
    {0x2718, CAT_NO},       /* ✘ */
    {0x1F6AB, CAT_NO},      /* 🚫 */
    {0x26D4, CAT_NO},       /* ⛔ */
    {0x1F645, CAT_NO},      /* 🙅 */
    {0x1F915, CAT_INJURED}, /* 🤕 */
    {0x1F691, CAT_INJURED}, /* 🚑 */
    {0x1FA78, CAT_INJURED}, /* 🩸 */
    {0x1FA79, CAT_INJURED}, /* 🩹 */
    {0x1F3E5, CAT_INJURED}, /* 🏥 */
};

/* English words for people after a number ("4 people"); role words are summed. */
static const struct {
	const char *s;
	bool role;
} latin_people[] = {
    {"people", false},   {"persons", false},   {"person", false},     {"ppl", false},
    {"pax", false},      {"peoples", false},   {"members", false},    {"guys", false},
    {"men", false},      {"women", false},     {"friends", false},    {"students", false},
    {"tourists", false}, {"travelers", false}, {"travellers", false}, {"colleagues", false},
    {"koreans", false},  {"adults", true},     {"adult", true},       {"kids", true},
    {"kid", true},       {"children", true},   {"child", true},       {"babies", true},
    {"baby", true},      {"infants", true},    {"infant", true},      {"elderly", true},
};

/* Units after a number that say it does not count people. */
static const char *const latin_not_people[] = {
    "km",      "kms",     "m",         "mi",     "miles",  "mile",    "min",     "mins",
    "minutes", "minute",  "hour",      "hours",  "hrs",    "hr",      "h",       "days",
    "day",     "weeks",   "week",      "am",     "pm",     "floor",   "th",      "st",
    "nd",      "rd",      "years",     "year",   "yrs",    "kg",      "l",       "liters",
    "litres",  "percent", "dollars",   "usd",    "won",    "bottles", "cars",    "dogs",
    "cats",    "o",       "oclock",    "meters", "metres", "floors",  "times",   "explosions",
    "blasts",  "shots",   "buildings", "houses", "blocks", "streets", "seconds", "sec",
    "secs",    "months",  "month",     "nights", "night",  "pm",      "a",
};

/* Korean counters and words that follow a number and are not people. */
static const char *const hangul_not_people[] = {
    "시",   "분", "일", "층", "호", "번", "년", "월", "개", "병",   "마리", "킬로", "키로",
    "미터", "살", "세", "주", "달", "원", "대", "초", "도", "프로", "리터", "통",   "차",
};

/* Korean role words before a count ("어른 2명 아이 1명" is 3). */
static const char *const hangul_roles[] = {
    "어른", "성인", "아이",   "아이들", "애들",   "애기",   "아기", "어린이",
    "유아", "노인", "아이는", "아이가", "어른은", "어른이", "애",
};

/* Korean native numerals before 명 ("세 명"). */
static const struct {
	const char *s;
	int n;
} hangul_numerals[] = {
    {"한", 1},    {"두", 2},   {"세", 3},   {"네", 4},  {"다섯", 5},  {"여섯", 6},
    {"일곱", 7},  {"여덟", 8}, {"아홉", 9}, {"열", 10}, {"열한", 11}, {"열두", 12},
    {"스무", 20}, {"둘", 2},   {"셋", 3},   {"넷", 4},  {"하나", 1},
};

/* English number words. */
static const char *const latin_numerals[] = {
    "zero",  "one",  "two", "three",  "four",   "five",     "six",      "seven",
    "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
};

/* ---- Types and decoding ------------------------------------------------ */

enum tok_kind {
	TK_WORD,   /* letters other than Hangul, apostrophes dropped */
	TK_HANGUL, /* Hangul syllables and jamo */
	TK_NUM,    /* ASCII digits */
	TK_EMOJI,
	TK_PUNCT,
};

struct tok {
	enum tok_kind kind;
	uint32_t cp;     /* PUNCT, EMOJI: the code point */
	size_t off, len; /* WORD, HANGUL, NUM: UTF-8 text in the arena */
	int clause;
	bool space_before;   /* whitespace or the start of the text before it */
	long value;          /* NUM: its value, -1 past 9 digits */
	bool used;           /* part of a phrase already matched */
	unsigned char hedge; /* ends a hedge ("far from"): 1, or 2 when it is a guess ("barely") */
	unsigned char known; /* in a table entry: 2 one that says a kind, 1 any other */
};

struct clause {
	bool question;  /* ended by '?' or asked as a question */
	bool unsure;    /* says "not sure", "모르겠어요" */
	int first, end; /* its tokens */
	int first_if;   /* its first Latin "if"/"in case" token; end when none */
};

struct hit {
	unsigned char cat;
	size_t tok; /* the token it starts at */
	int clause;
	bool weak;
	bool negated;
	bool question;
	bool hypothetical;
	bool fuzzy;
	bool guess; /* read by a rule that may be wrong: the kind it decides needs review */
};

struct count {
	int n;
	int strength; /* 3 an explicit total, 2 a role count, 1 a number of people, 0 implied */
	bool role;
};

/* A parse in progress: the tokens, the clauses and what was found in them. */
struct parse {
	struct tok *toks;
	size_t ntoks, cap_toks;
	char *arena;
	size_t arena_len, arena_cap;
	struct clause *clauses;
	int nclauses;
	struct hit *hits;
	size_t nhits, cap_hits;
	struct count counts[64];
	int ncounts;
	bool menu[5];
	bool any_menu;
	bool oom; /* an allocation failed: the parse must not be trusted */
};

/* How a table entry marks the tokens it covers: 2 when it says a kind, else 1. */
static unsigned char
lex_known(const struct lex *e)
{
	switch (e->cat) {
	case CAT_SAFE:
	case CAT_DONE:
	case CAT_EVAC:
	case CAT_HELP:
	case CAT_INJURED:
	case CAT_YES:
	case CAT_NO:
	case CAT_URGENT:
		return 2;
	}
	return 1;
}

/* Tells whether a code point is Hangul (syllables or jamo). */
static bool
is_hangul(uint32_t c)
{
	return (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0x1100 && c <= 0x11FF) ||
	       (c >= 0x3130 && c <= 0x318F) || (c >= 0xA960 && c <= 0xA97F) ||
	       (c >= 0xD7B0 && c <= 0xD7FF);
}

/* Tells whether a code point is a pictograph (emoji, dingbat). */
static bool
is_emoji(uint32_t c)
{
	return (c >= 0x1F000 && c <= 0x1FAFF) || (c >= 0x2600 && c <= 0x27BF) ||
	       (c >= 0x2B00 && c <= 0x2BFF);
}

/* Tells whether a code point only modifies an emoji (variation, skin tone, joiner). */
static bool
is_emoji_modifier(uint32_t c)
{
	return c == 0xFE0F || c == 0xFE0E || c == 0x200D || c == 0x20E3 ||
	       (c >= 0x1F3FB && c <= 0x1F3FF);
}

/* Tells whether a code point separates words. */
static bool
is_space(uint32_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == 0x0B || c == 0x0C || c == 0xA0 ||
	       c == 0x3000 || c == 0x200B || c == 0xFEFF || c == 0x1680 ||
	       (c >= 0x2000 && c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x00AD;
}

/* Tells whether a code point is an apostrophe that joins an English word ("i'm"). */
static bool
is_apostrophe(uint32_t c)
{
	return c == '\'' || c == 0x2019 || c == 0x02BC || c == 0x2018 || c == '`' || c == 0xB4;
}

/*
 * Decodes UTF-8 into code points: invalid bytes become spaces (and are
 * reported), control characters too, newlines stay.
 */
static uint32_t *
decode_utf8(const uint8_t *s, size_t n, size_t *outn, bool *invalid)
{
	uint32_t *u = malloc((n + 1) * sizeof *u);
	size_t i = 0, k = 0;

	if (u == NULL)
		return NULL;
	while (i < n) {
		ucs4_t c;
		int r = u8_mbtoucr(&c, s + i, n - i);

		if (r < 0) {
			/* -2: a sequence cut by the end; -1: not UTF-8 at all. */
			*invalid = true;
			u[k++] = ' ';
			i++;
			continue;
		}
		i += (size_t)r;
		if (c == '\n' || c == 0x2028 || c == 0x2029 || c == 0x85)
			u[k++] = '\n';
		else if (c < 0x20 || (c >= 0x7F && c < 0xA0))
			u[k++] = ' ';
		else
			u[k++] = c;
	}
	*outn = k;
	return u;
}

/* ---- Locations and tokens pasted in the text ------------------------------ */

/* Tells whether an ASCII byte belongs to the base64url alphabet. */
static bool
is_b64url(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

/* Tells whether an ASCII byte is a digit. */
static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Lower-cases an ASCII byte. */
static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Tells whether an ASCII byte is a letter. */
static bool
isalpha_ascii(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Tells whether a[i..] starts with the lower-case ASCII word w, ignoring case. */
static bool
starts_with_ci(const char *a, size_t n, size_t i, const char *w)
{
	size_t l = strlen(w);

	if (i + l > n)
		return false;
	for (size_t j = 0; j < l; j++)
		if (lower(a[i + j]) != w[j])
			return false;
	return true;
}

/* A decimal number found in the text. */
struct decimal {
	size_t start, end; /* [start, end) in the ASCII view */
	double value;
	int decimals;
};

/*
 * Reads a decimal number at a[i] (optional sign, 1..3 integer digits, a
 * point, digits); a number glued to more digits or points ("1.2.3", a date)
 * is not one.
 */
static bool
read_decimal(const char *a, size_t n, size_t i, struct decimal *d)
{
	size_t j = i, int_start, int_digits, frac_start;
	double v = 0, scale = 1;
	bool neg = false;

	if (i > 0 && (is_digit(a[i - 1]) || a[i - 1] == '.'))
		return false;
	if (j < n && (a[j] == '-' || a[j] == '+')) {
		neg = a[j] == '-';
		j++;
	}
	int_start = j;
	while (j < n && is_digit(a[j]) && j - int_start < 4)
		v = v * 10 + (a[j++] - '0');
	int_digits = j - int_start;
	if (int_digits == 0 || int_digits > 3 || j >= n || a[j] != '.')
		return false;
	j++;
	frac_start = j;
	while (j < n && is_digit(a[j]) && j - frac_start < 12) {
		scale /= 10;
		v += (a[j++] - '0') * scale;
	}
	if (j == frac_start || (j < n && (is_digit(a[j]) || a[j] == '.')))
		return false;
	d->start = i;
	d->end = j;
	d->value = neg ? -v : v;
	d->decimals = (int)(j - frac_start);
	return true;
}

/*
 * Tells whether the text between two numbers can separate a latitude from a
 * longitude: separators (",", ";", "/", "+", spaces, "%2C") around at most
 * hemisphere letters ("37.57N, E126.98") or a longitude label ("&mlon=",
 * "!4d", " lng: ", a word in another script such as "경도").
 */
static bool
coordinate_gap(const char *a, size_t from, size_t to)
{
	static const char *const labels[] = {"",          "n",    "s",  "e",   "w",   "ne",
	                                     "nw",        "se",   "sw", "lon", "lng", "long",
	                                     "longitude", "mlon", "4d", "\x01"};
	char rest[16];
	size_t r = 0;

	if (to - from > 14)
		return false;
	for (size_t k = from; k < to; k++) {
		char c = lower(a[k]);

		if (c == '%' && k + 2 < to && a[k + 1] == '2' && lower(a[k + 2]) == 'c') {
			k += 2;
			continue;
		}
		if (strchr(" ,;/+\t:=&!", c) != NULL)
			continue;
		/* A run of non-ASCII (one word in another script) is one label. */
		if (c == '\x01' && r > 0 && rest[r - 1] == '\x01')
			continue;
		if (is_digit(c))
			return false;
		rest[r++] = c;
	}
	rest[r] = '\0';
	if (r == to - from)
		return false; /* nothing separated the numbers */
	for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
		if (strcmp(rest, labels[i]) == 0)
			return true;
	/* "N, E", "N lng" */
	if (r >= 1 && (rest[0] == 'n' || rest[0] == 's')) {
		for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
			if (strcmp(rest + 1, labels[i]) == 0)
				return true;
	}
	return false;
}

/* Reads hemisphere letters right after a number ("37.57S") and flips the sign. */
static double
hemisphere(const char *a, size_t n, size_t end, double v)
{
	if (end < n && (a[end] == 'S' || a[end] == 's' || a[end] == 'W' || a[end] == 'w') &&
	    (end + 1 >= n || !((a[end + 1] >= 'a' && a[end + 1] <= 'z') ||
	                       (a[end + 1] >= 'A' && a[end + 1] <= 'Z'))))
		return -fabs(v);
	return v;
}

/*
 * Finds the first latitude/longitude pair in a[from, to): two decimals with
 * min_decimals or more, a separator between them, in range (a pair written
 * longitude first is swapped when only that order fits).
 */
static bool
find_coordinates(const char *a, size_t n, size_t from, size_t to, int min_decimals, double *lat,
                 double *lon, size_t *span_start, size_t *span_end)
{
	struct decimal d1, d2;

	for (size_t i = from; i < to; i++) {
		if (!(is_digit(a[i]) || a[i] == '-' || a[i] == '+'))
			continue;
		if (!read_decimal(a, to, i, &d1) || d1.decimals < min_decimals)
			continue;
		for (size_t j = d1.end; j < to && j <= d1.end + 14; j++) {
			double x, y;

			if (a[j] == '%' && j + 2 < to && a[j + 1] == '2' &&
			    lower(a[j + 2]) == 'c') {
				j += 2;
				continue;
			}
			if (!(is_digit(a[j]) || a[j] == '-' || a[j] == '+'))
				continue;
			if (!read_decimal(a, to, j, &d2))
				break;
			if (d2.decimals < min_decimals || !coordinate_gap(a, d1.end, d2.start))
				break;
			x = hemisphere(a, n, d1.end, d1.value);
			y = hemisphere(a, n, d2.end, d2.value);
			if (fabs(x) > 90 && fabs(y) <= 90 && fabs(x) <= 180) {
				double t = x;

				x = y;
				y = t;
			}
			if (fabs(x) > 90 || fabs(y) > 180 || (x == 0 && y == 0))
				break;
			*lat = x;
			*lon = y;
			*span_start = d1.start;
			*span_end = d2.end;
			return true;
		}
	}
	return false;
}

/* Tells whether a[i, i+22) is a reply token bounded by non-token characters. */
static bool
token_at(const char *a, size_t n, size_t i, bool need_mixed_case)
{
	bool upper = false, low = false;

	if (i + SF_REPLY_TOKEN_LEN > n)
		return false;
	if (i > 0 && is_b64url(a[i - 1]))
		return false;
	if (i + SF_REPLY_TOKEN_LEN < n && is_b64url(a[i + SF_REPLY_TOKEN_LEN]))
		return false;
	for (size_t k = i; k < i + SF_REPLY_TOKEN_LEN; k++) {
		if (!is_b64url(a[k]))
			return false;
		upper |= a[k] >= 'A' && a[k] <= 'Z';
		low |= a[k] >= 'a' && a[k] <= 'z';
	}
	/* Alone, 22 letters of one case are a word; a random token has both. */
	return !need_mixed_case || (upper && low);
}

/* Tells whether a whitespace-delimited chunk a[s, e) is a link. */
static bool
chunk_is_link(const char *a, size_t s, size_t e)
{
	size_t k, dots = 0;

	for (k = s; k + 3 <= e; k++)
		if (a[k] == ':' && a[k + 1] == '/' && a[k + 2] == '/')
			return true;
	if (starts_with_ci(a, e, s, "www.") || starts_with_ci(a, e, s, "geo:"))
		return true;
	for (k = s; k + 3 <= e; k++)
		if (a[k] == '/' && a[k + 1] == 'r' && a[k + 2] == '/')
			return true;
	/* A bare host and path: "maps.app.goo.gl/x", "osm.org/?mlat=". */
	for (k = s; k < e && a[k] != '/'; k++) {
		char c = lower(a[k]);

		if (c == '.')
			dots++;
		else if (!((c >= 'a' && c <= 'z') || is_digit(c) || c == '-'))
			return false;
	}
	if (k == e || dots == 0 || k == s)
		return false;
	/* The last label before the path is a name, not a number ("3.5/10"). */
	return lower(a[k - 1]) >= 'a' && lower(a[k - 1]) <= 'z';
}

/*
 * Finds links, coordinates and a reply token in the normalised text, fills
 * them into out and blanks them, so that digits and words inside them are
 * not read as a menu choice, a count or a keyword.
 */
static int
extract_pasted(uint32_t *u, size_t n, struct sf_reply *out)
{
	char *a = malloc(n + 1);
	size_t i = 0;

	if (a == NULL)
		return SF_ENOMEM;
	for (size_t k = 0; k < n; k++)
		a[k] = u[k] < 0x80 ? (char)u[k] : '\x01';
	a[n] = '\0';
	while (i < n) {
		size_t s, e;

		while (i < n && (a[i] == ' ' || a[i] == '\n' || a[i] == '\x01'))
			i++;
		s = i;
		while (i < n && !(a[i] == ' ' || a[i] == '\n' || a[i] == '\x01'))
			i++;
		e = i;
		if (s == e || !chunk_is_link(a, s, e))
			continue;
		for (size_t k = s; k + 3 + SF_REPLY_TOKEN_LEN <= e && out->token[0] == '\0'; k++) {
			if (a[k] == '/' && a[k + 1] == 'r' && a[k + 2] == '/' &&
			    token_at(a, e, k + 3, false)) {
				memcpy(out->token, a + k + 3, SF_REPLY_TOKEN_LEN);
				out->token[SF_REPLY_TOKEN_LEN] = '\0';
			}
		}
		if (!out->has_location) {
			size_t ps, pe;

			out->has_location =
			    find_coordinates(a, n, s, e, 1, &out->lat, &out->lon, &ps, &pe);
		}
		for (size_t k = s; k < e; k++) {
			a[k] = ' ';
			u[k] = ' ';
		}
	}
	for (i = 0; i < n && out->token[0] == '\0'; i++) {
		if (token_at(a, n, i, true)) {
			memcpy(out->token, a + i, SF_REPLY_TOKEN_LEN);
			out->token[SF_REPLY_TOKEN_LEN] = '\0';
			for (size_t k = i; k < i + SF_REPLY_TOKEN_LEN; k++)
				u[k] = ' ';
		}
	}
	if (!out->has_location) {
		size_t ps, pe;

		if (find_coordinates(a, n, 0, n, 2, &out->lat, &out->lon, &ps, &pe)) {
			out->has_location = true;
			/* Take a hemisphere letter with the numbers ("126.98E"). */
			if (pe < n && strchr("NnSsEeWw", a[pe]) != NULL && a[pe] != '\0' &&
			    (pe + 1 >= n || !isalpha_ascii(a[pe + 1])))
				pe++;
			for (size_t k = ps; k < pe; k++)
				u[k] = ' ';
		}
	}
	free(a);
	return 0;
}

/* ---- Tokens ------------------------------------------------------------- */

/* Appends bytes to the arena (sized for the whole text in advance). */
static size_t
arena_put(struct parse *p, const uint8_t *s, size_t len)
{
	size_t off = p->arena_len;

	memcpy(p->arena + off, s, len);
	p->arena_len += len;
	p->arena[p->arena_len++] = '\0';
	return off;
}

/* Returns a token's text. */
static const char *
tok_text(const struct parse *p, const struct tok *t)
{
	return p->arena + t->off;
}

/* Tells whether a token is the given word. */
static bool
tok_is(const struct parse *p, const struct tok *t, const char *w)
{
	return (t->kind == TK_WORD || t->kind == TK_HANGUL) && strcmp(tok_text(p, t), w) == 0;
}

/* Tells whether a word token starts a new clause ("but", "하지만"). */
static bool
is_conjunction(const char *w)
{
	static const char *const conj[] = {"but",    "however", "though", "although",
	                                   "except", "하지만",  "그런데", "근데",
	                                   "그러나", "그치만",  "다만"};

	for (size_t i = 0; i < sizeof conj / sizeof conj[0]; i++)
		if (strcmp(w, conj[i]) == 0)
			return true;
	return false;
}

/* Adds a token. */
static int
tok_add(struct parse *p, const struct tok *t)
{
	if (p->ntoks == p->cap_toks)
		return SF_ENOMEM; /* cannot happen: sized for one token per code point */
	p->toks[p->ntoks++] = *t;
	return 0;
}

/*
 * Splits the folded text into tokens and clauses. Clauses end at sentence
 * punctuation, commas, newlines and conjunctions; negation and questions
 * never reach across them.
 */
static int
tokenize(struct parse *p, const uint32_t *f, size_t n)
{
	uint8_t buf[8];
	uint8_t *word = malloc(n * 4 + 1);
	size_t i = 0;
	bool space = true;
	int clause = 0;

	if (word == NULL)
		return SF_ENOMEM;
	p->cap_toks = n + 1;
	p->toks = calloc(p->cap_toks, sizeof *p->toks);
	p->arena_cap = n * 5 + 16;
	p->arena = malloc(p->arena_cap);
	p->clauses = calloc(n + 2, sizeof *p->clauses);
	if (p->toks == NULL || p->arena == NULL || p->clauses == NULL) {
		free(word);
		return SF_ENOMEM;
	}
	while (i < n) {
		uint32_t c = f[i];
		struct tok t = {.clause = clause, .space_before = space, .value = -1};
		size_t wl = 0;

		if (is_space(c) || is_emoji_modifier(c)) {
			space = space || is_space(c);
			i++;
			continue;
		}
		if (c == '\n') {
			clause++;
			space = true;
			i++;
			continue;
		}
		space = false;
		if (c >= '0' && c <= '9') {
			long v = 0;
			int digits = 0;

			t.kind = TK_NUM;
			while (i < n && f[i] >= '0' && f[i] <= '9') {
				if (digits < 9)
					v = v * 10 + (long)(f[i] - '0');
				digits++;
				word[wl++] = (uint8_t)f[i++];
			}
			t.value = digits <= 9 ? v : -1;
			t.off = arena_put(p, word, wl);
			t.len = wl;
		} else if (is_hangul(c)) {
			t.kind = TK_HANGUL;
			while (i < n && is_hangul(f[i])) {
				int l = u8_uctomb(buf, f[i++], sizeof buf);

				memcpy(word + wl, buf, (size_t)(l > 0 ? l : 0));
				wl += (size_t)(l > 0 ? l : 0);
			}
			t.off = arena_put(p, word, wl);
			t.len = wl;
		} else if (uc_is_alpha(c)) {
			t.kind = TK_WORD;
			while (i < n) {
				uint32_t d = f[i];

				if (uc_is_alpha(d) && !is_hangul(d)) {
					int l = u8_uctomb(buf, d, sizeof buf);

					memcpy(word + wl, buf, (size_t)(l > 0 ? l : 0));
					wl += (size_t)(l > 0 ? l : 0);
					i++;
				} else if (uc_is_general_category(d, UC_CATEGORY_M)) {
					i++;
				} else if (is_apostrophe(d) && i + 1 < n && uc_is_alpha(f[i + 1]) &&
				           !is_hangul(f[i + 1])) {
					i++;
				} else {
					break;
				}
			}
			t.off = arena_put(p, word, wl);
			t.len = wl;
			/* "anything but safe" is one thought, not two. */
			if (is_conjunction(tok_text(p, &t)) && p->ntoks > 0 &&
			    p->toks[p->ntoks - 1].clause == clause &&
			    !tok_is(p, &p->toks[p->ntoks - 1], "anything"))
				t.clause = ++clause;
		} else if (is_emoji(c)) {
			t.kind = TK_EMOJI;
			t.cp = c;
			i++;
		} else {
			t.kind = TK_PUNCT;
			t.cp = c;
			i++;
		}
		if (t.kind == TK_HANGUL && is_conjunction(tok_text(p, &t)) && p->ntoks > 0 &&
		    p->toks[p->ntoks - 1].clause == clause)
			t.clause = ++clause;
		if (tok_add(p, &t) != 0)
			break;
		if (t.kind == TK_PUNCT &&
		    (c == '.' || c == '!' || c == '?' || c == ';' || c == ',' || c == 0x3002 ||
		     c == 0x2026 || c == 0xFF61 || c == 0x3001)) {
			if (c == '?')
				p->clauses[clause].question = true;
			clause++;
		}
	}
	free(word);
	p->nclauses = clause + 1;
	for (int k = 0; k < p->nclauses; k++) {
		p->clauses[k].first = -1;
		p->clauses[k].end = -1;
	}
	for (size_t k = 0; k < p->ntoks; k++) {
		struct clause *cl = &p->clauses[p->toks[k].clause];

		if (cl->first < 0)
			cl->first = (int)k;
		cl->end = (int)k + 1;
	}
	return 0;
}

/* ---- Findings ------------------------------------------------------------ */

/* Records what a keyword says. */
static void
add_hit(struct parse *p, const struct hit *h)
{
	if (p->nhits == p->cap_hits) {
		size_t cap = p->cap_hits ? p->cap_hits * 2 : 32;
		struct hit *nh = realloc(p->hits, cap * sizeof *nh);

		if (nh == NULL) {
			p->oom = true;
			return;
		}
		p->hits = nh;
		p->cap_hits = cap;
	}
	p->hits[p->nhits++] = *h;
}

/* Records a number of people. */
static void
add_count(struct parse *p, int n, int strength, bool role)
{
	if (n < 1 || n > 99 || p->ncounts == (int)(sizeof p->counts / sizeof p->counts[0]))
		return;
	p->counts[p->ncounts].n = n;
	p->counts[p->ncounts].strength = strength;
	p->counts[p->ncounts].role = role;
	p->ncounts++;
}

/* Tells whether the first words of a clause ask a question ("is it safe"). */
static bool
clause_asks(const struct parse *p, const struct clause *cl)
{
	static const char *const verbs[] = {"is", "are",  "should", "can",   "could",
	                                    "do", "does", "will",   "shall", "did"};
	static const char *const subjects[] = {"it",        "you",  "u",    "we",    "everyone",
	                                       "everybody", "this", "that", "there", "they",
	                                       "he",        "she",  "i",    "ur"};
	const struct tok *a, *b;
	bool verb = false, subject = false;

	if (cl->first < 0 || cl->end - cl->first < 2)
		return false;
	a = &p->toks[cl->first];
	b = &p->toks[cl->first + 1];
	for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
		verb |= tok_is(p, a, verbs[i]);
	for (size_t i = 0; i < sizeof subjects / sizeof subjects[0]; i++)
		subject |= tok_is(p, b, subjects[i]);
	return verb && subject;
}

#define LATIN_LEX_N (sizeof latin_lex / sizeof latin_lex[0])

/*
 * The English table's entries by their first byte, in table order: a word
 * or phrase can only match entries that start as it does, and every token
 * of every answer is looked up. Built once, for all threads.
 */
static struct {
	uint16_t start[257];
	uint16_t idx[LATIN_LEX_N];
} latin_by_first;
static pthread_once_t latin_by_first_once = PTHREAD_ONCE_INIT;

static void
latin_by_first_build(void)
{
	uint16_t at[256] = {0};

	for (size_t i = 0; i < LATIN_LEX_N; i++)
		latin_by_first.start[(unsigned char)latin_lex[i].s[0] + 1]++;
	for (int b = 0; b < 256; b++)
		latin_by_first.start[b + 1] += latin_by_first.start[b];
	for (size_t i = 0; i < LATIN_LEX_N; i++) {
		unsigned char b = (unsigned char)latin_lex[i].s[0];

		latin_by_first.idx[latin_by_first.start[b] + at[b]++] = (uint16_t)i;
	}
}

/* The English entries starting with byte b: *n of them, in table order. */
static const uint16_t *
latin_starting(unsigned char b, size_t *n)
{
	pthread_once(&latin_by_first_once, latin_by_first_build);
	*n = (size_t)(latin_by_first.start[b + 1] - latin_by_first.start[b]);
	return latin_by_first.idx + latin_by_first.start[b];
}

/* Looks a word up in the English table; returns the entry or NULL. */
static const struct lex *
latin_lookup(const char *w)
{
	size_t n;
	const uint16_t *idx = latin_starting((unsigned char)w[0], &n);

	for (size_t i = 0; i < n; i++)
		if (strcmp(latin_lex[idx[i]].s, w) == 0)
			return &latin_lex[idx[i]];
	return NULL;
}

/* Tells whether two ASCII words are one edit apart (insert, delete, replace, swap). */
static bool
one_edit(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i = 0;

	if (la > lb + 1 || lb > la + 1)
		return false;
	while (i < la && i < lb && a[i] == b[i])
		i++;
	if (la == lb) {
		if (i == la)
			return false;
		if (strcmp(a + i + 1, b + i + 1) == 0)
			return true;
		return i + 1 < la && a[i] == b[i + 1] && a[i + 1] == b[i] &&
		       strcmp(a + i + 2, b + i + 2) == 0;
	}
	return la > lb ? strcmp(a + i + 1, b + i) == 0 : strcmp(a + i, b + i + 1) == 0;
}

/* Finds the keyword a misspelt word stands for ("sfae" -> "safe"), or NULL. */
static const struct lex *
latin_fuzzy(const char *w)
{
	char collapsed[64];
	size_t l = strlen(w), k = 0;
	const struct lex *e;

	if (l >= sizeof collapsed)
		return NULL;
	/* "heeelp", "saaafe", "okkk": runs of one letter stand for one. */
	for (size_t i = 0; i < l; i++)
		if (i == 0 || w[i] != w[i - 1])
			collapsed[k++] = w[i];
	collapsed[k] = '\0';
	if (k != l && (e = latin_lookup(collapsed)) != NULL && e->cat != CAT_NEGATE &&
	    e->cat != CAT_IF && e->cat != CAT_NONE)
		return e;
	if (l < 4)
		return NULL;
	for (size_t i = 0; i < sizeof latin_not_typos / sizeof latin_not_typos[0]; i++)
		if (strcmp(latin_not_typos[i], w) == 0)
			return NULL;
	for (size_t i = 0; i < sizeof latin_lex / sizeof latin_lex[0]; i++)
		if ((latin_lex[i].flags & F_FUZZ) && one_edit(latin_lex[i].s, w))
			return &latin_lex[i];
	return NULL;
}

/*
 * Tries to match a table entry of one or more words at token k; returns the
 * number of tokens it covers, 0 if none.
 */
static int
match_phrase(const struct parse *p, size_t k, const char *phrase)
{
	const char *s = phrase;
	size_t t = k;
	int words = 0;

	/* Most entries differ in their first letter: a cheap way out. */
	if (p->toks[k].kind != TK_WORD || tok_text(p, &p->toks[k])[0] != phrase[0])
		return 0;
	while (*s != '\0') {
		const char *sp = strchr(s, ' ');
		size_t l = sp ? (size_t)(sp - s) : strlen(s);
		const struct tok *tk;

		if (t >= p->ntoks)
			return 0;
		tk = &p->toks[t];
		if (tk->kind != TK_WORD || tk->used || tk->clause != p->toks[k].clause ||
		    tk->len != l || memcmp(tok_text(p, tk), s, l) != 0)
			return 0;
		words++;
		t++;
		s += l;
		if (*s == ' ')
			s++;
	}
	return words;
}

/* Tells whether word token j (inside clause cl) negates: a negator not part of a phrase. */
static bool
latin_negator_at(const struct parse *p, size_t j)
{
	const struct tok *t = &p->toks[j];
	const struct lex *e;

	if (t->kind != TK_WORD || t->used)
		return false;
	if (strcmp(tok_text(p, t), "no") == 0)
		return true;
	e = latin_lookup(tok_text(p, t));
	return e != NULL && e->cat == CAT_NEGATE;
}

/* Tells whether a clause speaks of a need ("need", "needed", "necessary"). */
static bool
clause_has_need(const struct parse *p, int clause)
{
	const struct clause *cl = &p->clauses[clause];

	for (int k = cl->first; k >= 0 && k < cl->end; k++)
		if (tok_is(p, &p->toks[k], "need") || tok_is(p, &p->toks[k], "needed") ||
		    tok_is(p, &p->toks[k], "necessary") || tok_is(p, &p->toks[k], "needs"))
			return true;
	return false;
}

static bool in_list(const char *w, const char *const *list, size_t n);

/*
 * Returns the hedge before a "safe" at token k ("far from safe", "barely
 * feeling safe"): 0 none, 1 a hedge, 2 a hedge that is a guess ("barely").
 * Only a few small words may stand between them.
 */
static int
hedge_before(const struct parse *p, size_t k)
{
	static const char *const between[] = {
	    "being", "be",  "to",       "feel",  "feeling", "feels", "really", "very", "so",
	    "quite", "all", "entirely", "fully", "totally", "im",    "i",      "am",   "we",
	    "are",   "is",  "was",      "were",  "its",     "it",    "that",   "a",    "an"};
	size_t j = k, skipped = 0;

	while (j > 0) {
		const struct tok *t = &p->toks[--j];

		if (t->clause != p->toks[k].clause || t->kind != TK_WORD)
			return 0;
		if (t->hedge)
			return t->hedge;
		if (skipped++ == 3 ||
		    !in_list(tok_text(p, t), between, sizeof between / sizeof between[0]))
			return 0;
	}
	return 0;
}

/*
 * Tells whether a "safe" of words words at token k is sought rather than
 * had: its clause asks where ("where is safe", "anywhere safe?"), or it is a
 * safe place and the clause seeks one ("need a safe place", "looking for
 * somewhere safe"). "We are in a safe place" is had.
 */
static bool
safe_sought(const struct parse *p, size_t k, int words)
{
	static const char *const places[] = {
	    "place", "places", "area", "zone",    "location", "spot",  "shelter", "house",
	    "route", "road",   "way",  "passage", "corridor", "haven", "room",    "building"};
	static const char *const seeking[] = {
	    "need",  "needs",   "needed", "want",      "wanna", "looking", "look",
	    "find",  "finding", "search", "searching", "seek",  "seeking", "take",
	    "bring", "move",    "go",     "get",       "reach", "show",    "guide"};
	const struct clause *cl = &p->clauses[p->toks[k].clause];
	size_t next = k + (size_t)words;
	bool place = false;

	if (tok_is(p, &p->toks[cl->first], "where") || tok_is(p, &p->toks[cl->first], "wheres"))
		return true;
	if (k > 0 && p->toks[k - 1].clause == p->toks[k].clause) {
		if (tok_is(p, &p->toks[k - 1], "anywhere"))
			return true;
		place = tok_is(p, &p->toks[k - 1], "somewhere") ||
		        tok_is(p, &p->toks[k - 1], "someplace");
	}
	if (next < p->ntoks && p->toks[next].clause == p->toks[k].clause &&
	    p->toks[next].kind == TK_WORD &&
	    in_list(tok_text(p, &p->toks[next]), places, sizeof places / sizeof places[0]))
		place = true;
	if (!place)
		return false;
	for (int j = cl->first; j < cl->end; j++)
		if (p->toks[j].kind == TK_WORD &&
		    in_list(tok_text(p, &p->toks[j]), seeking, sizeof seeking / sizeof seeking[0]))
			return true;
	return false;
}

/*
 * Finds English keywords. A hit is negated by a negator up to three words
 * before it in its clause ("not safe", "nobody is hurt"), or by "none" right
 * after it ("injuries: none"), and hypothetical after "if" in its clause.
 */
static void
match_latin(struct parse *p)
{
	/*
	 * Where each clause's first condition word is, found once: looking
	 * back through the clause for every keyword made a long reply without
	 * punctuation cost its length squared.
	 */
	for (int c = 0; c < p->nclauses; c++)
		p->clauses[c].first_if = p->clauses[c].end;
	for (size_t j = 0; j < p->ntoks; j++) {
		const struct tok *t = &p->toks[j];
		const struct lex *e;

		if (t->kind != TK_WORD || (size_t)p->clauses[t->clause].first_if < j)
			continue;
		e = latin_lookup(tok_text(p, t));
		if ((e != NULL && e->cat == CAT_IF) || match_phrase(p, j, "in case") == 2)
			p->clauses[t->clause].first_if = (int)j;
	}
	for (size_t k = 0; k < p->ntoks; k++) {
		const struct tok *t = &p->toks[k];
		const struct lex *best = NULL;
		int best_words = 0;
		bool fuzzy = false;
		struct hit h = {0};

		if (t->kind != TK_WORD || t->used)
			continue;
		{
			size_t n;
			const uint16_t *idx = latin_starting((unsigned char)tok_text(p, t)[0], &n);

			for (size_t i = 0; i < n; i++) {
				int w = match_phrase(p, k, latin_lex[idx[i]].s);

				if (w > best_words) {
					best_words = w;
					best = &latin_lex[idx[i]];
				}
			}
		}
		if (best == NULL && (best = latin_fuzzy(tok_text(p, t))) != NULL) {
			best_words = 1;
			fuzzy = true;
		}
		for (int w = 0; best != NULL && w < best_words; w++)
			p->toks[k + (size_t)w].known = lex_known(best);
		if (best == NULL || best->cat == CAT_NEGATE)
			continue;
		/* The words of a phrase are not keywords or negators on their own ("no water"). */
		for (int w = 0; w < best_words && best_words > 1; w++)
			p->toks[k + (size_t)w].used = true;
		if (best->cat == CAT_IF)
			continue;
		if (best->cat == CAT_HEDGE) {
			p->toks[k + (size_t)best_words - 1].hedge = (best->flags & F_GUESS) ? 2 : 1;
			k += (size_t)best_words - 1;
			continue;
		}
		if (best->cat == CAT_UNSURE) {
			p->clauses[t->clause].unsure = true;
			k += (size_t)best_words - 1;
			continue;
		}
		h.cat = best->cat;
		h.tok = k;
		h.clause = t->clause;
		h.weak = (best->flags & F_WEAK) || fuzzy;
		h.fuzzy = fuzzy;
		h.question =
		    p->clauses[t->clause].question || clause_asks(p, &p->clauses[t->clause]);
		for (size_t j = k, back = 0; j > 0 && back < 3; back++) {
			j--;
			if (p->toks[j].clause != t->clause)
				break;
			if (p->toks[j].kind != TK_WORD)
				continue;
			if (latin_negator_at(p, j))
				h.negated = true;
		}
		/* "no help" may mean none came; only "no need", "not needed" say it is not wanted.
		 */
		if (h.negated && (best->flags & F_NEED) && !clause_has_need(p, t->clause))
			h.negated = false;
		for (size_t j = k + (size_t)best_words;
		     j < p->ntoks && j < k + (size_t)best_words + 2; j++) {
			if (p->toks[j].clause != t->clause)
				break;
			if (tok_is(p, &p->toks[j], "none"))
				h.negated = true;
			/* "help not needed", "evacuation not necessary" */
			if (latin_negator_at(p, j) && (best->flags & F_NEED) &&
			    clause_has_need(p, t->clause))
				h.negated = true;
		}
		if ((size_t)p->clauses[t->clause].first_if < k)
			h.hypothetical = true;
		if (best->cat == CAT_SAFE) {
			int hedge = hedge_before(p, k);

			if (hedge != 0) {
				h.negated = true;
				h.guess = hedge == 2;
			} else if (!h.negated && (best->flags & F_SEEK) &&
			           safe_sought(p, k, best_words)) {
				/* Asking where safety is says it is not here. */
				h.cat = CAT_EVAC;
			}
		}
		h.guess |= (best->flags & F_GUESS) != 0;
		add_hit(p, &h);
		k += (size_t)best_words - 1;
	}
}

/* A clause's Hangul with the spaces taken out, and where each syllable came from. */
struct compact {
	char *s;     /* 3 bytes per syllable */
	size_t n;    /* syllables */
	size_t *tok; /* token of each syllable */
	bool *wend;  /* the syllable ends its word */
	bool *taken; /* part of an entry already matched */
};

/* Returns syllable i of a compact clause as a pointer to its 3 bytes. */
static const char *
syl(const struct compact *c, size_t i)
{
	return c->s + 3 * i;
}

/* Tells whether syllable i of a compact clause is the Hangul s (one syllable). */
static bool
syl_is(const struct compact *c, size_t i, const char *s)
{
	return i < c->n && memcmp(syl(c, i), s, 3) == 0;
}

/*
 * Tells whether syllable i ends a sentence: the last of its word and a
 * sentence ending (요, 다, 음...), so negation after it belongs to another
 * sentence. 요 in 필요 (need) is not an ending.
 */
static bool
sentence_end(const struct compact *c, size_t i)
{
	static const char *const endings[] = {"요", "다", "음", "함", "임", "죠", "네", "까",
	                                      "오", "용", "당", "여", "욤", "셈", "염", "됨"};

	if (!c->wend[i])
		return false;
	if (syl_is(c, i, "요") && i > 0 && (syl_is(c, i - 1, "필") || syl_is(c, i - 1, "중")))
		return false;
	for (size_t k = 0; k < sizeof endings / sizeof endings[0]; k++)
		if (syl_is(c, i, endings[k]))
			return true;
	return false;
}

/* Tells whether syllable i is a one-syllable word of its own. */
static bool
alone_word(const struct parse *p, const struct compact *c, size_t i)
{
	return p->toks[c->tok[i]].len == 3;
}

/*
 * Tells whether syllable j, after a "safe" ending at e, takes it back in a
 * way Korean texting has: 불가 (impossible), 거리가 멀 (far from); and, in
 * the word of the "safe" or the one right after it (so "괜찮아 걱정 안해" and
 * "걱정 노노" are not), 안 opening the verb ("안전안함", "안전 안해요", "안전
 * 안 됨"), ㄴㄴ or 노노 (no no), and 척 ("괜찮은 척", pretending: *guess is
 * set, as it may be someone else's pretence).
 */
static bool
hangul_safe_taken_back(const struct compact *c, size_t e, size_t j, bool *guess)
{
	static const char *const verbs[] = {"해", "했", "함", "돼", "됨", "되", "됐", "좋"};
	bool next_word = c->tok[j - 1] == c->tok[e - 1];

	if ((syl_is(c, j, "불") && syl_is(c, j + 1, "가")) ||
	    (syl_is(c, j, "거") && syl_is(c, j + 1, "리") &&
	     (syl_is(c, j + 2, "멀") || (syl_is(c, j + 2, "가") && syl_is(c, j + 3, "멀")))))
		return true;
	if (!next_word)
		return false;
	if (syl_is(c, j, "안") && (j == e || c->wend[j - 1]) && j + 1 < c->n) {
		for (size_t k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
			if (syl_is(c, j + 1, verbs[k]))
				return true;
	}
	if ((syl_is(c, j, "\u1102") && syl_is(c, j + 1, "\u1102")) ||
	    (syl_is(c, j, "노") && syl_is(c, j + 1, "노") && c->wend[j + 1]))
		return true;
	if (syl_is(c, j, "척") && (c->wend[j] || syl_is(c, j + 1, "하") || syl_is(c, j + 1, "했") ||
	                           syl_is(c, j + 1, "해") || syl_is(c, j + 1, "함"))) {
		*guess = true;
		return true;
	}
	return false;
}

/*
 * Tells whether the Korean hit [s, e) is negated. Before it: 안 ("안
 * 괜찮아요", "안 다쳤어요"), and 못 or 불 for "safe" ("불안전"). After it, up to
 * the end of its sentence or the next keyword: 않, 없, 아니, 아님, and 못 for
 * "safe" ("안전하지 못해요"), and what hangul_safe_taken_back() finds. A need
 * (F_NEED) is negated only as "no need" ("도움 필요 없어요", "대피 안 해도
 * 돼요"): "대피 못 했어요" still asks for it. *guess is set when the negation
 * is a guess.
 */
static bool
hangul_negated(const struct parse *p, const struct compact *c, size_t s, size_t e,
               const struct lex *entry, bool *guess)
{
	bool safe = entry->cat == CAT_SAFE || entry->cat == CAT_DONE;

	if (entry->flags & F_LACK)
		return false;
	bool need = (entry->flags & F_NEED) != 0, saw_need = false;

	if (s > 0 && (alone_word(p, c, s - 1) || c->tok[s - 1] == c->tok[s]) &&
	    (syl_is(c, s - 1, "안") || (safe && syl_is(c, s - 1, "못"))) && !need)
		return true;
	if (s > 0 && safe && syl_is(c, s - 1, "불") && c->tok[s - 1] == c->tok[s])
		return true;
	for (size_t j = e; j < c->n && j < e + 10; j++) {
		bool marker;

		if (c->taken[j])
			return false;
		if (syl_is(c, j, "필") && syl_is(c, j + 1, "요"))
			saw_need = true;
		marker = syl_is(c, j, "않") || syl_is(c, j, "없") || (safe && syl_is(c, j, "못")) ||
		         (syl_is(c, j, "아") && (syl_is(c, j + 1, "니") || syl_is(c, j + 1, "닌") ||
		                                 syl_is(c, j + 1, "닙") || syl_is(c, j + 1, "님")));
		/* "안전하지 안아요" (for 않) */
		if (syl_is(c, j, "안") && j > 0 && syl_is(c, j - 1, "지"))
			marker = true;
		if (entry->cat == CAT_SAFE && hangul_safe_taken_back(c, e, j, guess))
			return true;
		/*
		 * 안 negates the verb after it: "피가 안 나요" (no bleeding) and
		 * "부상 안 당했어요" negate the keyword, "피가 안 멈춰요" (will not
		 * stop) does not. Only light verbs carry the keyword's meaning.
		 */
		if (syl_is(c, j, "안") && alone_word(p, c, j) && j + 1 < c->n) {
			static const char *const light[] = {"해", "했", "함", "당", "나",
			                                    "났", "입", "받", "생", "돼",
			                                    "됨", "되", "됐"};
			bool is_light = false;

			for (size_t k = 0; k < sizeof light / sizeof light[0]; k++)
				is_light |= syl_is(c, j + 1, light[k]);
			if (is_light &&
			    (!need || (syl_is(c, j + 1, "해") && syl_is(c, j + 2, "도"))))
				return true;
			if (is_light || !safe)
				return false;
		}
		if (marker)
			return !need || saw_need;
		if (sentence_end(c, j)) {
			/* "안전함 ㄴㄴ": a bare "no no" right after the sentence takes it back. */
			if (entry->cat == CAT_SAFE && c->tok[j] == c->tok[e - 1] &&
			    syl_is(c, j + 1, "\u1102") && syl_is(c, j + 2, "\u1102") &&
			    c->wend[j + 2]) {
				*guess = true;
				return true;
			}
			return false;
		}
	}
	return false;
}

/* Tells whether the word holding syllable i, or the next one, asks a question. */
static bool
hangul_asks(const struct compact *c, size_t i)
{
	static const char *const q2[] = {"나요", "까요", "가요", "니까", "는지",
	                                 "은지", "인지", "을까", "는가", "련지"};
	size_t words = 0;

	for (size_t j = i; j < c->n && words < 2; j++) {
		if (!c->wend[j])
			continue;
		words++;
		if (syl_is(c, j, "니") || syl_is(c, j, "냐") || syl_is(c, j, "니"))
			return true;
		for (size_t k = 0; j > 0 && k < sizeof q2 / sizeof q2[0]; k++)
			if (memcmp(syl(c, j - 1), q2[k], 6) == 0)
				return true;
		if (sentence_end(c, j))
			break;
	}
	return false;
}

/* Tells whether the word holding syllable i, or the next, is a condition ("필요하면"). */
static bool
hangul_if(const struct compact *c, size_t i)
{
	size_t words = 0;

	for (size_t j = i; j < c->n && words < 2; j++) {
		if (!c->wend[j])
			continue;
		words++;
		if (syl_is(c, j, "면"))
			return true;
		if (sentence_end(c, j))
			break;
	}
	return false;
}

/*
 * Tells whether a safe place ending before syllable i is sought: needed,
 * looked for or asked for in the rest of its sentence ("안전한 곳이 필요해요",
 * "안전한 곳을 찾고 있어요", "안전한 곳 어디예요", "안전한 곳 있나요?"). "찾았어요"
 * (found) is had.
 */
static bool
hangul_place_sought(const struct compact *c, size_t i)
{
	static const char *const after_find[] = {"고", "는", "을", "아", "기", "으"};

	for (size_t j = i; j < c->n; j++) {
		if ((syl_is(c, j, "필") && syl_is(c, j + 1, "요")) ||
		    (syl_is(c, j, "어") && syl_is(c, j + 1, "디")) ||
		    (syl_is(c, j, "알") && syl_is(c, j + 1, "려")) ||
		    (syl_is(c, j, "가") && syl_is(c, j + 1, "야")) ||
		    (syl_is(c, j, "가") && syl_is(c, j + 1, "고") && syl_is(c, j + 2, "싶")) ||
		    (syl_is(c, j, "데") && syl_is(c, j + 1, "려")) ||
		    (syl_is(c, j, "옮") && syl_is(c, j + 1, "겨")))
			return true;
		if (syl_is(c, j, "찾"))
			for (size_t k = 0; k < sizeof after_find / sizeof after_find[0]; k++)
				if (syl_is(c, j + 1, after_find[k]) && !syl_is(c, j + 2, "서"))
					return true;
		if (sentence_end(c, j))
			break;
	}
	return hangul_asks(c, i > 0 ? i - 1 : 0);
}

/* An entry found in a compact clause. */
struct span {
	const struct lex *e;
	size_t start, len; /* syllables */
};

/*
 * Finds Korean keywords in one clause: first every entry (longest first at
 * each syllable), then what each one says, so that one keyword's negation
 * scan stops at the next keyword ("도와주세요 물이 없어요").
 */
static void
match_hangul_clause(struct parse *p, int ci, struct compact *c, struct span *spans)
{
	size_t nspans = 0;
	bool cond_clause = false;

	for (size_t i = 0; i < c->n;) {
		const struct lex *best = NULL;
		size_t best_len = 0;

		for (size_t k = 0; k < sizeof hangul_lex / sizeof hangul_lex[0]; k++) {
			size_t l;

			if (memcmp(syl(c, i), hangul_lex[k].s, 3) != 0)
				continue;
			l = strlen(hangul_lex[k].s) / 3;
			if (l > c->n - i || l <= best_len)
				continue;
			if (memcmp(syl(c, i), hangul_lex[k].s, 3 * l) == 0) {
				best = &hangul_lex[k];
				best_len = l;
			}
		}
		/* Yes and no count only as whole words ("네팔", "예약"). */
		if (best != NULL && (best->cat == CAT_YES || best->cat == CAT_NO) &&
		    !((i == 0 || c->wend[i - 1]) && c->wend[i + best_len - 1]))
			best = NULL;
		if (best == NULL) {
			i++;
			continue;
		}
		for (size_t k = i; k < i + best_len; k++) {
			c->taken[k] = true;
			if (p->toks[c->tok[k]].known < lex_known(best))
				p->toks[c->tok[k]].known = lex_known(best);
		}
		spans[nspans].e = best;
		spans[nspans].start = i;
		spans[nspans].len = best_len;
		nspans++;
		i += best_len;
	}
	for (size_t i = 0; i + 1 < c->n; i++)
		if (memcmp(syl(c, i), "만약", 6) == 0 || memcmp(syl(c, i), "만일", 6) == 0 ||
		    memcmp(syl(c, i), "혹시", 6) == 0)
			cond_clause = true;
	for (size_t k = 0; k < nspans; k++) {
		const struct span *sp = &spans[k];
		size_t last = sp->start + sp->len - 1;
		struct hit h = {.cat = sp->e->cat, .weak = (sp->e->flags & F_WEAK) != 0};
		bool guess = (sp->e->flags & F_GUESS) != 0;

		/* Asking where safety is says it is not here. */
		if ((sp->e->flags & F_PLACE) && hangul_place_sought(c, sp->start + sp->len))
			h.cat = CAT_EVAC;
		if (h.cat == CAT_NONE)
			continue;
		if (sp->e->cat == CAT_UNSURE) {
			p->clauses[ci].unsure = true;
			continue;
		}
		h.tok = c->tok[sp->start];
		h.clause = ci;
		h.negated = hangul_negated(p, c, sp->start, sp->start + sp->len, sp->e, &guess);
		h.guess = guess;
		h.question = p->clauses[ci].question || hangul_asks(c, last);
		h.hypothetical = cond_clause || hangul_if(c, last);
		add_hit(p, &h);
	}
}

/* Builds the compact form of each clause and matches it. */
static int
match_hangul(struct parse *p)
{
	struct compact c = {0};
	struct span *spans;
	size_t max = p->arena_len / 3 + 1;
	int rc = 0;

	c.s = malloc(3 * max);
	c.tok = malloc(max * sizeof *c.tok);
	c.wend = malloc(max);
	c.taken = malloc(max);
	spans = malloc(max * sizeof *spans);
	if (c.s == NULL || c.tok == NULL || c.wend == NULL || c.taken == NULL || spans == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	for (int ci = 0; ci < p->nclauses; ci++) {
		const struct clause *cl = &p->clauses[ci];

		c.n = 0;
		for (int k = cl->first; k >= 0 && k < cl->end; k++) {
			const struct tok *t = &p->toks[k];

			if (t->kind != TK_HANGUL)
				continue;
			for (size_t b = 0; b + 3 <= t->len; b += 3) {
				memcpy(c.s + 3 * c.n, tok_text(p, t) + b, 3);
				c.tok[c.n] = (size_t)k;
				c.wend[c.n] = b + 3 == t->len;
				c.taken[c.n] = false;
				c.n++;
			}
		}
		if (c.n > 0)
			match_hangul_clause(p, ci, &c, spans);
	}
out:
	free(c.s);
	free(c.tok);
	free(c.wend);
	free(c.taken);
	free(spans);
	return rc;
}

/* Finds emoji that answer, and "SOS" spelt with points or spaces. */
static void
match_emoji(struct parse *p)
{
	for (size_t k = 0; k < p->ntoks; k++) {
		const struct tok *t = &p->toks[k];

		if (t->kind != TK_EMOJI)
			continue;
		for (size_t i = 0; i < sizeof emoji_lex / sizeof emoji_lex[0]; i++) {
			if (emoji_lex[i].cp == t->cp) {
				struct hit h = {.cat = emoji_lex[i].cat, .weak = true, .tok = k};

				h.clause = t->clause;
				h.question = p->clauses[t->clause].question;
				add_hit(p, &h);
			}
		}
	}
	/* "s.o.s", "s o s": letters the tokenizer split */
	for (size_t k = 0; k + 2 < p->ntoks; k++) {
		size_t j = k + 1, l;

		if (!tok_is(p, &p->toks[k], "s"))
			continue;
		if (p->toks[j].kind == TK_PUNCT && p->toks[j].cp == '.' && j + 1 < p->ntoks)
			j++;
		if (!tok_is(p, &p->toks[j], "o") || j + 1 >= p->ntoks)
			continue;
		l = j + 1;
		if (p->toks[l].kind == TK_PUNCT && p->toks[l].cp == '.' && l + 1 < p->ntoks)
			l++;
		if (tok_is(p, &p->toks[l], "s")) {
			struct hit h = {.cat = CAT_HELP, .tok = k};

			h.clause = p->toks[k].clause;
			add_hit(p, &h);
			k = l;
		}
	}
}

/* ---- Numbers: menu choice and head count --------------------------------- */

/*
 * Tells whether number token k stands alone: not glued by a point, comma,
 * colon, slash or dash to another number (a decimal, time, date or phone
 * number), nor after a plus or a currency sign.
 */
static bool
num_clean(const struct parse *p, size_t k)
{
	const struct tok *t = &p->toks[k];

	if (t->kind != TK_NUM || t->value < 0)
		return false;
	if (k > 0 && !t->space_before && p->toks[k - 1].kind == TK_PUNCT) {
		const struct tok *b = &p->toks[k - 1];

		if (b->cp == '+' || b->cp == '$' || b->cp == 0x20A9 || b->cp == 0x20AC ||
		    b->cp == 0xA3)
			return false;
		if (strchr(".,:/-", (int)b->cp) != NULL && b->cp != 0 && k >= 2 &&
		    p->toks[k - 2].kind == TK_NUM && !b->space_before)
			return false;
	}
	if (k + 2 < p->ntoks) {
		const struct tok *a = &p->toks[k + 1];

		if (a->kind == TK_PUNCT && !a->space_before && a->cp != 0 &&
		    strchr(".,:/-", (int)a->cp) != NULL && p->toks[k + 2].kind == TK_NUM &&
		    !p->toks[k + 2].space_before)
			return false;
	}
	return true;
}

/* Tells whether a word is in a list. */
static bool
in_list(const char *w, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(w, list[i]) == 0)
			return true;
	return false;
}

/* Tells whether a Hangul word starts with a string. */
static bool
hangul_starts(const char *w, const char *prefix)
{
	return strncmp(w, prefix, strlen(prefix)) == 0;
}

/*
 * Tells whether the token after a number (k + 1) says it counts people:
 * 0 no, 1 people, 2 people by role (adults, children). A Korean counter may
 * be glued ("3명이").
 */
static int
people_after(const struct parse *p, size_t k)
{
	const struct tok *a;

	if (k + 1 >= p->ntoks)
		return 0;
	a = &p->toks[k + 1];
	if (a->kind == TK_HANGUL) {
		const char *w = tok_text(p, a);

		if (hangul_starts(w, "명") || strcmp(w, "인") == 0 || hangul_starts(w, "인이") ||
		    hangul_starts(w, "인가족") || hangul_starts(w, "인은"))
			return 1;
		return 0;
	}
	if (a->kind == TK_WORD) {
		const char *w = tok_text(p, a);

		for (size_t i = 0; i < sizeof latin_people / sizeof latin_people[0]; i++)
			if (strcmp(w, latin_people[i].s) == 0)
				return latin_people[i].role ? 2 : 1;
		if (strcmp(w, "of") == 0 && k + 2 < p->ntoks &&
		    (tok_is(p, &p->toks[k + 2], "us") || tok_is(p, &p->toks[k + 2], "them")))
			return 1;
	}
	return 0;
}

/* Tells whether the token after a number (k + 1) is a unit that is not people. */
static bool
not_people_after(const struct parse *p, size_t k)
{
	const struct tok *a;

	if (k + 1 >= p->ntoks)
		return false;
	a = &p->toks[k + 1];
	if (a->kind == TK_WORD)
		return in_list(tok_text(p, a), latin_not_people,
		               sizeof latin_not_people / sizeof latin_not_people[0]);
	if (a->kind == TK_HANGUL) {
		for (size_t i = 0; i < sizeof hangul_not_people / sizeof hangul_not_people[0]; i++)
			if (hangul_starts(tok_text(p, a), hangul_not_people[i]))
				return true;
	}
	if (a->kind == TK_PUNCT && (a->cp == '%' || a->cp == '$' || a->cp == ':') &&
	    !a->space_before)
		return true;
	return false;
}

/*
 * Tells whether the words before a number (ending at token k - 1) announce a
 * total: "we are", "we're", "we", "total", "family of", "all", "총", "x".
 */
static bool
total_before(const struct parse *p, size_t k)
{
	const struct tok *b, *bb;

	if (k == 0)
		return false;
	b = &p->toks[k - 1];
	bb = k >= 2 ? &p->toks[k - 2] : NULL;
	if (b->kind == TK_PUNCT && (b->cp == ':' || b->cp == '=') && bb != NULL) {
		b = bb;
		bb = k >= 3 ? &p->toks[k - 3] : NULL;
	}
	if ((tok_is(p, b, "x") && b->space_before && !p->toks[k].space_before) ||
	    (b->kind == TK_PUNCT && b->cp == 0xD7 && !p->toks[k].space_before))
		return true;
	if (tok_is(p, b, "were") && !(bb != NULL && tok_is(p, bb, "there")))
		return true;
	if (tok_is(p, b, "we") || tok_is(p, b, "total") || tok_is(p, b, "totally") ||
	    tok_is(p, b, "all") || tok_is(p, b, "총") || tok_is(p, b, "모두") ||
	    tok_is(p, b, "우리") || tok_is(p, b, "전원") || tok_is(p, b, "together"))
		return true;
	if (bb != NULL && (tok_is(p, b, "are") || tok_is(p, b, "r")) && tok_is(p, bb, "we"))
		return true;
	if (bb != NULL && tok_is(p, b, "of") &&
	    (tok_is(p, bb, "family") || tok_is(p, bb, "group") || tok_is(p, bb, "party")))
		return true;
	return false;
}

/* Tells whether the word before a number is a Korean role word ("어른 2명"). */
static bool
role_before(const struct parse *p, size_t k)
{
	return k > 0 && p->toks[k - 1].kind == TK_HANGUL &&
	       in_list(tok_text(p, &p->toks[k - 1]), hangul_roles,
	               sizeof hangul_roles / sizeof hangul_roles[0]);
}

/* Tells whether an English word names one relative or companion ("wife", "friend"). */
static bool
is_relative(const char *w)
{
	static const char *const rel[] = {
	    "wife",       "husband", "son",     "daughter", "friend",    "mom",     "mother",
	    "dad",        "father",  "brother", "sister",   "colleague", "partner", "boyfriend",
	    "girlfriend", "child",   "baby",    "kid",      "mum",       "fiance",  "fiancee"};

	return in_list(w, rel, sizeof rel / sizeof rel[0]);
}

/* Returns the value of an English number word, 0 if it is none. */
static int
latin_numeral(const char *w)
{
	for (size_t i = 1; i < sizeof latin_numerals / sizeof latin_numerals[0]; i++)
		if (strcmp(w, latin_numerals[i]) == 0)
			return (int)i;
	return 0;
}

static int latin_numeral(const char *w);

/*
 * Tells whether number token k counts the people of the status word after
 * it ("5 safe", "2 injured") rather than choosing from the menu: it does
 * unless it is that word's own menu digit ("1 safe", "3 injured").
 */
static bool
counts_status(const struct parse *p, size_t k)
{
	const struct tok *t = &p->toks[k];
	const struct lex *e;
	int menu_digit = 0;

	long value = t->kind == TK_WORD ? latin_numeral(tok_text(p, t)) : t->value;

	if ((t->kind == TK_NUM && t->len > 2) || (t->kind != TK_NUM && t->kind != TK_WORD) ||
	    value < 2 || k + 1 >= p->ntoks || p->toks[k + 1].kind != TK_WORD ||
	    !p->toks[k + 1].space_before)
		return false;
	e = latin_lookup(tok_text(p, &p->toks[k + 1]));
	if (e == NULL)
		return false;
	if (e->cat == CAT_SAFE)
		menu_digit = 1;
	else if (e->cat == CAT_HELP)
		menu_digit = 2;
	else if (e->cat == CAT_INJURED)
		menu_digit = 3;
	else if (e->cat == CAT_EVAC)
		menu_digit = 4;
	return menu_digit != 0 && (t->kind == TK_WORD || menu_digit != value);
}

static bool names_other(const struct parse *p, const struct tok *t);

/*
 * Tells whether number token k is a menu choice given for someone: "1 for
 * me 2 for my wife", "2 for us".
 */
static bool
menu_for_someone(const struct parse *p, size_t k)
{
	const struct tok *t = &p->toks[k], *w;

	if (t->kind != TK_NUM || t->len != 1 || t->value < 1 || t->value > 4 || !num_clean(p, k) ||
	    k + 2 >= p->ntoks || !tok_is(p, &p->toks[k + 1], "for") || !p->toks[k + 1].space_before)
		return false;
	w = &p->toks[k + 2];
	return tok_is(p, w, "me") || tok_is(p, w, "us") || tok_is(p, w, "my") ||
	       tok_is(p, w, "our") || tok_is(p, w, "both") || tok_is(p, w, "all") ||
	       tok_is(p, w, "everyone") || names_other(p, w);
}

/*
 * Reads the keyword menu: a digit 1-4 as the first word ("1", "2.", "#3",
 * "1번", "4 please"), or every such digit when the reply is only digits and
 * punctuation ("2 3"). A digit glued to more (a phone number, "3층", "1st")
 * or counting people ("2명") is not a choice.
 */
static void
find_menu(struct parse *p)
{
	size_t k = 0;
	bool only_digits = true;

	for (size_t i = 0; i < p->ntoks; i++)
		if (p->toks[i].kind != TK_NUM && p->toks[i].kind != TK_PUNCT)
			only_digits = false;
	while (k < p->ntoks && p->toks[k].kind == TK_PUNCT &&
	       (p->toks[k].cp == '#' || p->toks[k].cp == '(' || p->toks[k].cp == '['))
		k++;
	if (k < p->ntoks && (tok_is(p, &p->toks[k], "reply") || tok_is(p, &p->toks[k], "answer") ||
	                     tok_is(p, &p->toks[k], "option") || tok_is(p, &p->toks[k], "답") ||
	                     tok_is(p, &p->toks[k], "답장") || tok_is(p, &p->toks[k], "선택"))) {
		k++;
		while (k < p->ntoks && p->toks[k].kind == TK_PUNCT &&
		       (p->toks[k].cp == ':' || p->toks[k].cp == '-' || p->toks[k].cp == '='))
			k++;
	}
	for (size_t i = only_digits ? 0 : k; i < p->ntoks; i++) {
		const struct tok *t = &p->toks[i];
		const struct tok *next = i + 1 < p->ntoks ? &p->toks[i + 1] : NULL;
		bool glued_ok, bun;

		if (t->kind != TK_NUM) {
			if (only_digits)
				continue;
			break;
		}
		glued_ok = next == NULL || next->space_before || next->kind == TK_PUNCT ||
		           next->kind == TK_EMOJI ||
		           (next->kind == TK_HANGUL && hangul_starts(tok_text(p, next), "번"));
		bun = next != NULL && next->kind == TK_HANGUL &&
		      hangul_starts(tok_text(p, next), "번");
		if (t->len == 1 && t->value >= 1 && t->value <= 4 && num_clean(p, i) && glued_ok &&
		    !people_after(p, i) && (bun || !not_people_after(p, i)) &&
		    !counts_status(p, i)) {
			p->menu[t->value] = true;
			p->any_menu = true;
		}
		if (!only_digits)
			break;
	}
	/*
	 * "1 아니고 2번이요": a choice written with 번 counts wherever it is, and so
	 * does one given for someone ("1 for me 2 for my wife").
	 */
	for (size_t i = 0; i + 1 < p->ntoks; i++) {
		const struct tok *t = &p->toks[i], *next = &p->toks[i + 1];

		if ((t->kind == TK_NUM && t->len == 1 && t->value >= 1 && t->value <= 4 &&
		     num_clean(p, i) && next->kind == TK_HANGUL && !next->space_before &&
		     hangul_starts(tok_text(p, next), "번")) ||
		    menu_for_someone(p, i)) {
			p->menu[t->value] = true;
			p->any_menu = true;
		}
	}
}

/*
 * Finds numbers of people. Strength orders the evidence: an announced total
 * ("we are 4", "총 5명") over a sum by role ("2 adults 1 child") over the
 * largest plain count ("3명 중 2명") over an implied one ("alone", "both").
 */
static void
find_counts(struct parse *p)
{
	int chosen_for = 0;

	for (size_t k = 0; k < p->ntoks; k++) {
		const struct tok *t = &p->toks[k];
		int n = 0, people;
		bool total;

		if (t->kind == TK_NUM && num_clean(p, k) && t->len <= 2)
			n = (int)t->value;
		else if (t->kind == TK_WORD)
			n = latin_numeral(tok_text(p, t));
		if (n == 0) {
			if (t->kind == TK_HANGUL) {
				const char *w = tok_text(p, t);

				/* "세 명", "세명이", "둘이서", "우리 넷" */
				for (size_t i = 0;
				     i < sizeof hangul_numerals / sizeof hangul_numerals[0]; i++) {
					size_t l = strlen(hangul_numerals[i].s);
					const char *rest = w + l;

					if (strncmp(w, hangul_numerals[i].s, l) != 0)
						continue;
					if (hangul_starts(rest, "명") ||
					    hangul_starts(rest, "식구") ||
					    (*rest == '\0' && k + 1 < p->ntoks &&
					     p->toks[k + 1].kind == TK_HANGUL &&
					     (hangul_starts(tok_text(p, &p->toks[k + 1]), "명") ||
					      hangul_starts(tok_text(p, &p->toks[k + 1]), "식구"))))
						add_count(p, hangul_numerals[i].n,
						          total_before(p, k) ? 3 : 1,
						          role_before(p, k));
					else if (hangul_numerals[i].n >= 2 &&
					         hangul_numerals[i].n <= 6 && l >= 3 &&
					         (strcmp(rest, "이서") == 0 ||
					          (*rest == '\0' && k + 1 < p->ntoks &&
					           (tok_is(p, &p->toks[k + 1], "다") ||
					            tok_is(p, &p->toks[k + 1], "모두"))) ||
					          strcmp(rest, "이") == 0 ||
					          strcmp(rest, "이에요") == 0 ||
					          strcmp(rest, "다") == 0 ||
					          (*rest == '\0' && k > 0 &&
					           tok_is(p, &p->toks[k - 1], "우리"))) &&
					         strcmp(hangul_numerals[i].s, "네") != 0 &&
					         strcmp(hangul_numerals[i].s, "세") != 0 &&
					         strcmp(hangul_numerals[i].s, "두") != 0 &&
					         strcmp(hangul_numerals[i].s, "하나") != 0)
						add_count(p, hangul_numerals[i].n, 3, false);
				}
				if (strcmp(w, "혼자") == 0 || hangul_starts(w, "혼자"))
					add_count(p, 1, 0, false);
				if (strcmp(w, "둘") == 0 && k + 1 < p->ntoks &&
				    tok_is(p, &p->toks[k + 1], "다"))
					add_count(p, 2, 0, false);
			} else if (t->kind == TK_WORD) {
				const char *w = tok_text(p, t);

				if (strcmp(w, "alone") == 0 || strcmp(w, "myself") == 0)
					add_count(p, 1, 0, false);
				if ((strcmp(w, "just") == 0 || strcmp(w, "only") == 0) &&
				    k + 1 < p->ntoks && tok_is(p, &p->toks[k + 1], "me"))
					add_count(p, 1, 0, false);
				if (strcmp(w, "both") == 0)
					add_count(p, 2, 0, false);
				/* "me and my wife", "my husband and i" */
				if (strcmp(w, "my") == 0 && k + 1 < p->ntoks &&
				    is_relative(tok_text(p, &p->toks[k + 1])) &&
				    ((k >= 2 && tok_is(p, &p->toks[k - 1], "and") &&
				      (tok_is(p, &p->toks[k - 2], "me") ||
				       tok_is(p, &p->toks[k - 2], "i"))) ||
				     (k + 3 < p->ntoks && tok_is(p, &p->toks[k + 2], "and") &&
				      (tok_is(p, &p->toks[k + 3], "i") ||
				       tok_is(p, &p->toks[k + 3], "me")))))
					add_count(p, 2, 0, false);
				if (strcmp(w, "couple") == 0 && k > 0 &&
				    tok_is(p, &p->toks[k - 1], "a") &&
				    !(k + 1 < p->ntoks && tok_is(p, &p->toks[k + 1], "of")))
					add_count(p, 2, 0, false);
			}
			continue;
		}
		/* "1 for me 2 for my wife": one person a choice. */
		if (menu_for_someone(p, k) && ++chosen_for >= 2)
			add_count(p, chosen_for, 0, false);
		if (n < 1 || n > 99 || not_people_after(p, k))
			continue;
		people = people_after(p, k);
		total = total_before(p, k);
		/* "me and 2 kids" */
		if (people && k >= 2 && tok_is(p, &p->toks[k - 1], "and") &&
		    tok_is(p, &p->toks[k - 2], "me")) {
			add_count(p, n + 1, 3, false);
			continue;
		}
		if (total && (people || k + 1 >= p->ntoks || p->toks[k + 1].kind != TK_NUM))
			add_count(p, n, 3, people == 2);
		else if (people)
			add_count(p, n, people == 2 || role_before(p, k) ? 2 : 1,
			          people == 2 || role_before(p, k));
		else if (counts_status(p, k))
			add_count(p, n, 1, false);
	}
}

/* Sums the counts into one head count. */
static int
head_count(const struct parse *p)
{
	int best = 0, sum = 0, plain = 0, implied = 0;

	for (int i = 0; i < p->ncounts; i++) {
		const struct count *c = &p->counts[i];

		if (c->strength == 3 && c->n > best)
			best = c->n;
		else if (c->strength == 2)
			sum += c->n;
		else if (c->strength == 1 && c->n > plain)
			plain = c->n;
		else if (c->strength == 0 && c->n > implied)
			implied = c->n;
	}
	if (best > 0)
		return best;
	if (sum > 0)
		return sum > 99 ? 0 : (plain > sum ? plain : sum);
	if (plain > 0)
		return plain;
	return implied;
}

/* ---- Answers taken back, excepted or split ------------------------------- */

/* Tells whether a word names someone other than the sender ("my wife", "아빠가"). */
static bool
names_other(const struct parse *p, const struct tok *t)
{
	static const char *const latin[] = {
	    "kids",    "children",    "parents",       "family",    "grandma",    "grandmother",
	    "grandpa", "grandfather", "uncle",         "aunt",      "cousin",     "nephew",
	    "niece",   "neighbor",    "neighbors",     "neighbour", "neighbours", "he",
	    "she",     "him",         "her",           "they",      "them",       "his",
	    "friends", "colleagues",  "sons",          "daughters", "brothers",   "sisters",
	    "parent",  "grandson",    "granddaughter", "dad",       "mom"};
	static const char *const hangul[] = {
	    "아빠",   "엄마", "아버지", "어머니", "아버님", "어머님", "남편",   "아내",
	    "와이프", "부인", "아들",   "딸",     "아이",   "애기",   "아기",   "애들",
	    "친구",   "동료", "오빠",   "누나",   "언니",   "동생",   "할머니", "할아버지",
	    "부모",   "가족", "일행",   "옆집",   "이웃",   "사람들", "남친",   "여친",
	    "애인",   "손자", "손녀",   "삼촌",   "이모",   "고모",   "사촌"};

	if (t->kind == TK_WORD)
		return is_relative(tok_text(p, t)) ||
		       in_list(tok_text(p, t), latin, sizeof latin / sizeof latin[0]);
	if (t->kind == TK_HANGUL)
		for (size_t i = 0; i < sizeof hangul / sizeof hangul[0]; i++)
			if (strstr(tok_text(p, t), hangul[i]) != NULL)
				return true;
	return false;
}

/* Tells whether an emoji says "no" (❌). */
static bool
emoji_says_no(uint32_t cp)
{
	for (size_t i = 0; i < sizeof emoji_lex / sizeof emoji_lex[0]; i++)
		if (emoji_lex[i].cp == cp)
			return emoji_lex[i].cat == CAT_NO;
	return false;
}

/*
 * Tells whether token k is a bare "no" that can take back what came before
 * it: no, not, isn't, nope, ❌, and x (not "x3", a count). Not a word of a
 * phrase ("no problem"). Korean ㄴㄴ is read with the Korean words.
 */
static bool
is_bare_no(const struct parse *p, size_t k)
{
	static const char *const words[] = {"no",    "not",    "nope",   "nah",  "never",  "isnt",
	                                    "arent", "wasnt",  "werent", "aint", "doesnt", "didnt",
	                                    "hasnt", "havent", "wont",   "cant", "x"};
	const struct tok *t = &p->toks[k];

	if (t->kind == TK_EMOJI)
		return emoji_says_no(t->cp);
	if (t->kind != TK_WORD || t->used ||
	    !in_list(tok_text(p, t), words, sizeof words / sizeof words[0]))
		return false;
	return !(tok_is(p, t, "x") && k + 1 < p->ntoks && p->toks[k + 1].kind == TK_NUM &&
	         !p->toks[k + 1].space_before);
}

/*
 * Tells whether a token adds nothing after a bare "no": punctuation, an emoji
 * that is not an answer, another "no", a degree ("not really", "not at all",
 * "not yet"), whom it is about ("but not my wife"), a Korean ending ("X요")
 * or jamo ("ㅠㅠ").
 */
static bool
ellipsis_filler(const struct parse *p, size_t k)
{
	static const char *const endings[] = {"요",     "임",     "에요", "예요",
	                                      "이에요", "입니다", "이요"};
	static const char *const words[] = {
	    "really", "yet",     "anymore",    "now",     "at",       "all",   "so",   "much",
	    "quite",  "exactly", "completely", "totally", "entirely", "fully", "for",  "my",
	    "our",    "the",     "is",         "are",     "am",       "was",   "were", "i",
	    "me",     "we",      "us",         "im",      "either"};
	const struct tok *t = &p->toks[k];

	if (t->kind == TK_PUNCT || is_bare_no(p, k))
		return true;
	if (t->kind == TK_HANGUL) {
		const unsigned char *w = (const unsigned char *)tok_text(p, t);
		bool jamo = true;

		/* Jamo are U+1100-11FF after NFKC: three bytes starting 0xE1. */
		for (size_t i = 0; i + 3 <= t->len; i += 3)
			jamo &= w[i] == 0xE1;
		return jamo ||
		       in_list((const char *)w, endings, sizeof endings / sizeof endings[0]);
	}
	if (t->kind == TK_EMOJI) {
		for (size_t i = 0; i < sizeof emoji_lex / sizeof emoji_lex[0]; i++)
			if (emoji_lex[i].cp == t->cp)
				return false;
		return true;
	}
	if (t->kind != TK_WORD)
		return false;
	return in_list(tok_text(p, t), words, sizeof words / sizeof words[0]) || names_other(p, t);
}

/* Returns the last hit before token k; SIZE_MAX if none, or if several share its word. */
static size_t
last_hit_before(const struct parse *p, size_t k)
{
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < p->nhits; i++) {
		/* A yes or no is an answer, not something said of the "safe" before it. */
		if (p->hits[i].tok >= k || p->hits[i].cat == CAT_YES || p->hits[i].cat == CAT_NO)
			continue;
		if (best == SIZE_MAX || p->hits[i].tok > p->hits[best].tok)
			best = i;
	}
	/* Several keywords in one Korean word: leave it to them. */
	for (size_t i = 0; best != SIZE_MAX && i < p->nhits; i++)
		if (i != best && p->hits[i].tok == p->hits[best].tok)
			return SIZE_MAX;
	return best;
}

/*
 * Finds a "safe" taken back by a bare "no" after it, with nothing more said:
 * "safe no", "Safe - NO", "OK not really", "i'm ok. not.", "i was safe but
 * now not", "I'm safe but my son is not", "안전X", "안전❌". The "safe" is
 * read as negated, and as a guess: the "no" may answer something else. An x
 * takes back only a Korean "safe": after an English one it is a kiss.
 */
static void
find_taken_back(struct parse *p)
{
	for (size_t k = 0; k < p->ntoks; k++) {
		const struct tok *t = &p->toks[k];
		bool bare = true;
		size_t last;
		struct hit *h;

		if (!is_bare_no(p, k))
			continue;
		for (size_t j = k + 1; j < p->ntoks && p->toks[j].clause == t->clause && bare; j++)
			bare = ellipsis_filler(p, j);
		if (!bare || (last = last_hit_before(p, k)) == SIZE_MAX)
			continue;
		h = &p->hits[last];
		if (h->cat != CAT_SAFE || h->negated || h->hypothetical ||
		    (tok_is(p, t, "x") && p->toks[h->tok].kind != TK_HANGUL))
			continue;
		/* Its clause or the next; clauses of dots alone ("ok... not") do not count. */
		for (size_t j = h->tok + 1; j < k && bare; j++)
			bare = p->toks[j].clause <= h->clause + 1 ||
			       p->toks[j].clause == t->clause || p->toks[j].kind == TK_PUNCT;
		if (!bare)
			continue;
		h->negated = true;
		h->guess = true;
	}
}

/* Tells whether a plain "safe" (not negated, asked or supposed) was said before token k. */
static bool
safe_said_before(const struct parse *p, size_t k)
{
	for (size_t i = 0; i < p->nhits; i++) {
		const struct hit *h = &p->hits[i];

		if (h->tok < k && h->cat == CAT_SAFE && !h->negated && !h->question &&
		    !h->hypothetical)
			return true;
	}
	return false;
}

/* Tells whether a hit was found in tokens [from, to). */
static bool
hit_within(const struct parse *p, size_t from, size_t to)
{
	for (size_t i = 0; i < p->nhits; i++)
		if (p->hits[i].tok >= from && p->hits[i].tok < to)
			return true;
	return false;
}

/*
 * Finds a "safe" said with people excepted: "safe except my brother", "all
 * safe apart from my son", "all fine but my husband", "everyone ok except
 * one", "아빠 빼고 다 괜찮아요". Whoever is excepted is not safe: a call for
 * help, a guess (it may be "except my brother, who is at work").
 */
static void
find_exceptions(struct parse *p)
{
	for (size_t k = 0; k < p->ntoks; k++) {
		const struct tok *t = &p->toks[k];
		const struct clause *cl = &p->clauses[t->clause];
		size_t from = k + 1, end = (size_t)cl->end;
		bool but = false, other = false, only_people = true;
		struct hit h = {.cat = CAT_HELP, .tok = k, .clause = t->clause, .guess = true};

		if (t->kind == TK_HANGUL) {
			/* "아빠 빼고", "남편 제외하고": this word or the one before says whom. */
			const char *w = tok_text(p, t);

			if (strstr(w, "빼고") == NULL && strstr(w, "제외") == NULL)
				continue;
			other = names_other(p, t) || (k > 0 && (names_other(p, &p->toks[k - 1]) ||
			                                        tok_is(p, &p->toks[k - 1], "저") ||
			                                        tok_is(p, &p->toks[k - 1], "나")));
			for (size_t i = 0; other && i < p->nhits; i++) {
				const struct hit *safe = &p->hits[i];

				if (safe->clause == t->clause && safe->cat == CAT_SAFE &&
				    !safe->negated && !safe->question && !safe->hypothetical) {
					add_hit(p, &h);
					break;
				}
			}
			continue;
		}
		if (tok_is(p, t, "except") || tok_is(p, t, "excluding") ||
		    tok_is(p, t, "besides")) {
			if (k + 1 < p->ntoks && tok_is(p, &p->toks[k + 1], "for"))
				from++;
		} else if ((tok_is(p, t, "apart") || tok_is(p, t, "other")) && k + 1 < p->ntoks &&
		           (tok_is(p, &p->toks[k + 1], "from") ||
		            tok_is(p, &p->toks[k + 1], "than"))) {
			from++;
		} else if (tok_is(p, t, "but") && (int)k == cl->first) {
			but = true;
		} else {
			continue;
		}
		if (from >= end || !safe_said_before(p, k) || hit_within(p, from, end))
			continue;
		for (size_t j = from; j < end; j++) {
			const struct tok *w = &p->toks[j];

			if (names_other(p, w) || tok_is(p, w, "me") || tok_is(p, w, "one") ||
			    (w->kind == TK_NUM && w->value > 0) ||
			    (w->kind == TK_WORD && latin_numeral(tok_text(p, w)) > 0))
				other = true;
			else if (w->kind != TK_PUNCT && !tok_is(p, w, "my") &&
			         !tok_is(p, w, "our") && !tok_is(p, w, "the") &&
			         !tok_is(p, w, "of") && !tok_is(p, w, "us"))
				only_people = false;
		}
		/* After "but" the clause must be only whom ("but my husband"), not a story. */
		if (other && (!but || only_people))
			add_hit(p, &h);
	}
}

/* Tells whether a hit asks for help, care or evacuation as it was written (not negated). */
static bool
split_urgent(const struct hit *h)
{
	return !h->negated && (h->cat == CAT_HELP || h->cat == CAT_INJURED || h->cat == CAT_EVAC);
}

/*
 * Marks a split answer as a guess: a plain "safe" and, in a clause that names
 * someone else, a call for help or injury ("I'm safe but I can't find my
 * daughter", "저희는 괜찮은데 아빠가 안보여요"). The most urgent kind still wins,
 * since someone in the party needs it, but staff should read who.
 */
static void
mark_split_answers(struct parse *p)
{
	if (!safe_said_before(p, p->ntoks))
		return;
	for (int ci = 0; ci < p->nclauses; ci++) {
		const struct clause *cl = &p->clauses[ci];
		bool urgent = false, other = false;

		for (size_t i = 0; i < p->nhits && !urgent; i++)
			urgent = p->hits[i].clause == ci && split_urgent(&p->hits[i]);
		/* Each clause's words are read once, however many keywords it has. */
		for (int k = cl->first; urgent && k >= 0 && k < cl->end && !other; k++)
			other = names_other(p, &p->toks[k]);
		for (size_t i = 0; other && i < p->nhits; i++)
			if (p->hits[i].clause == ci && split_urgent(&p->hits[i]))
				p->hits[i].guess = true;
	}
}

/* ---- Decision ------------------------------------------------------------ */

/* Orders kinds by urgency. */
static enum sf_reply_kind
worse(enum sf_reply_kind a, enum sf_reply_kind b)
{
	return a > b ? a : b;
}

/* Maps a keyword's category to the kind it asks for. */
static enum sf_reply_kind
cat_kind(unsigned char cat)
{
	switch (cat) {
	case CAT_SAFE:
	case CAT_DONE:
	case CAT_YES:
		return SF_REPLY_SAFE;
	case CAT_EVAC:
		return SF_REPLY_NEEDS_EVACUATION;
	case CAT_HELP:
	case CAT_NO:
	case CAT_URGENT:
		return SF_REPLY_NEEDS_HELP;
	case CAT_INJURED:
		return SF_REPLY_INJURED;
	}
	return SF_REPLY_UNCLASSIFIED;
}

/* Returns the index of the reply's first word, number or emoji. */
static size_t
first_word_token(const struct parse *p)
{
	for (size_t k = 0; k < p->ntoks; k++)
		if (p->toks[k].kind != TK_PUNCT)
			return k;
	return SIZE_MAX;
}

/*
 * Turns the findings into one kind. A negated "safe" asks for help; a negated
 * call for help, injury or evacuation says safe ("nobody hurt"); a negated
 * "evacuated" asks for evacuation. "Safe" in a question or a condition
 * counts for nothing; a call for help in a condition counts only if nothing
 * else was said. Yes and no count only alone.
 */
static void
decide(const struct parse *p, struct sf_reply *out)
{
	enum sf_reply_kind real = SF_REPLY_UNCLASSIFIED, hyp = SF_REPLY_UNCLASSIFIED;
	enum sf_reply_kind yesno = SF_REPLY_UNCLASSIFIED, urgent = SF_REPLY_UNCLASSIFIED;
	size_t first_word = first_word_token(p);
	bool kinds[SF_REPLY_KIND_COUNT] = {false};
	bool strong = false, menu_only = true, negated_safe = false, yesno_negated = false;
	bool said_safe = p->menu[1]; /* a safe keyword or choice, not inferred */
	/* The most urgent kind read without a guess: when less than the answer, review it. */
	enum sf_reply_kind sure = SF_REPLY_UNCLASSIFIED;

	for (int d = 1; d <= 4; d++) {
		static const enum sf_reply_kind menu_kind[] = {
		    SF_REPLY_UNCLASSIFIED, SF_REPLY_SAFE, SF_REPLY_NEEDS_HELP, SF_REPLY_INJURED,
		    SF_REPLY_NEEDS_EVACUATION};

		if (p->menu[d]) {
			real = worse(real, menu_kind[d]);
			sure = worse(sure, menu_kind[d]);
			kinds[menu_kind[d]] = true;
			strong = true;
		}
	}
	for (size_t i = 0; i < p->nhits; i++) {
		const struct hit *h = &p->hits[i];
		unsigned char cat = h->cat;
		enum sf_reply_kind k;

		/* "not sure if we are safe": uncertain safety is a reason to call. */
		if ((cat == CAT_SAFE || cat == CAT_YES) && p->clauses[h->clause].unsure) {
			negated_safe = true;
			menu_only = false;
			real = worse(real, SF_REPLY_NEEDS_HELP);
			sure = worse(sure, SF_REPLY_NEEDS_HELP);
			kinds[SF_REPLY_NEEDS_HELP] = true;
			continue;
		}
		if (h->negated) {
			if (cat == CAT_URGENT)
				cat = CAT_SAFE;
			else if (cat == CAT_SAFE || cat == CAT_YES)
				cat = CAT_HELP;
			else if (cat == CAT_DONE)
				cat = CAT_EVAC;
			else if (cat == CAT_HELP || cat == CAT_INJURED || cat == CAT_EVAC)
				cat = CAT_SAFE;
			else if (cat == CAT_NO)
				cat = CAT_YES;
		}
		k = cat_kind(cat);
		if (k == SF_REPLY_UNCLASSIFIED)
			continue;
		if (cat == CAT_URGENT) {
			if (!h->question && !h->hypothetical)
				urgent = SF_REPLY_NEEDS_HELP;
			continue;
		}
		/* Yes and no answer the check-in's question only as the reply's first word. */
		if (cat == CAT_YES || cat == CAT_NO) {
			if (!h->question && h->tok == first_word) {
				yesno = worse(yesno, k);
				yesno_negated |= cat == CAT_NO;
			}
			continue;
		}
		if (k == SF_REPLY_SAFE && (h->question || h->hypothetical))
			continue;
		if (h->hypothetical) {
			hyp = worse(hyp, k);
			continue;
		}
		if (h->negated && (h->cat == CAT_SAFE || h->cat == CAT_YES))
			negated_safe = true;
		menu_only = false;
		real = worse(real, k);
		if (!h->guess)
			sure = worse(sure, k);
		kinds[k] = true;
		strong |= !h->weak;
		if (k == SF_REPLY_SAFE && !h->negated && !h->fuzzy)
			said_safe = true;
	}
	if (real != SF_REPLY_UNCLASSIFIED) {
		int distinct = 0;

		for (int k = 0; k < SF_REPLY_KIND_COUNT; k++)
			distinct += kinds[k];
		out->kind = real;
		if (p->any_menu && menu_only)
			out->confidence = 0.95f;
		else if (distinct > 1)
			out->confidence = 0.7f;
		else if (strong)
			out->confidence = 0.9f;
		else
			out->confidence = 0.6f;
		/*
		 * A kind read only by a guess ("safe no", "I'm safe but my son
		 * is not"), or menu choices that disagree about "safe" ("1 for
		 * me 2 for my wife"): a human should read it.
		 */
		if (sure != real || (p->menu[1] && (p->menu[2] || p->menu[3] || p->menu[4])))
			out->review = true;
	} else if (urgent != SF_REPLY_UNCLASSIFIED) {
		out->kind = urgent;
		out->confidence = 0.6f;
	} else if (hyp != SF_REPLY_UNCLASSIFIED) {
		out->kind = hyp;
		out->confidence = 0.5f;
		out->review = true;
	} else if (yesno != SF_REPLY_UNCLASSIFIED) {
		out->kind = yesno;
		out->confidence = 0.5f;
		out->review = true;
		negated_safe |= yesno_negated;
	} else {
		out->kind = SF_REPLY_UNCLASSIFIED;
		out->confidence = 0.0f;
	}
	out->negated_safe = negated_safe;
	/*
	 * "Safe" read only from a negation ("nobody hurt"), a typo, or a text
	 * with bytes that could not be read or were cut off is a guess: the
	 * words missed may say otherwise ("피가 안 멈춰요" is "the bleeding will
	 * not stop"). A human should read it.
	 */
	if (out->kind == SF_REPLY_SAFE && (!said_safe || out->invalid_utf8 || out->truncated))
		out->review = true;
	if (out->review && out->confidence > 0.5f)
		out->confidence = 0.5f;
	if (out->invalid_utf8 || out->truncated)
		out->confidence *= 0.9f;
}

/* Words that carry no news of their own beside a "safe": pronouns, family, thanks. */
static const char *const latin_filler[] = {
    "i",         "im",     "me",      "my",      "we",         "were",     "us",
    "our",       "you",    "he",      "she",     "they",       "is",       "am",
    "are",       "was",    "be",      "been",    "the",        "a",        "an",
    "and",       "or",     "so",      "too",     "also",       "all",      "of",
    "at",        "in",     "on",      "with",    "here",       "now",      "still",
    "just",      "for",    "to",      "from",    "both",       "family",   "everyone",
    "everybody", "people", "person",  "kids",    "children",   "child",    "adult",
    "adults",    "baby",   "alone",   "thanks",  "thank",      "please",   "god",
    "its",       "it",     "this",    "that",    "very",       "really",   "house",
    "right",     "moment", "today",   "tonight", "currently",  "together", "hi",
    "hello",     "dear",   "embassy", "love",    "wife",       "husband",  "son",
    "daughter",  "mom",    "mum",     "dad",     "parents",    "them",     "his",
    "her",       "your",   "bless",   "regards", "sir",        "checking", "asking",
    "message",   "worry",  "dont",    "one",     "two",        "three",    "four",
    "five",      "six",    "seven",   "eight",   "nine",       "ten",      "total",
    "will",      "update", "later",   "reply",   "link",       "indoors",  "inside",
    "staying",   "stay",   "hotel",   "office",  "colleagues", "friends",  "friend",
    "work",      "know",   "as",      "advised"};
/*
 * Korean words that carry no news beside a "safe", each alone or with a
 * particle after it ("가족도", "우리집", "저희가족은"): a word that merely starts
 * like one (다리, 제발, 총격, 연락두절) is news. People who could be the subject of
 * news (아이가, 남편이...) take no subject particle.
 */
enum { HF_NOUN, HF_PERSON, HF_STEM };
static const struct {
	const char *w;
	int kind;
} hangul_filler[] = {
    {"저", HF_NOUN},
    {"제", HF_NOUN},
    {"우리", HF_NOUN},
    {"저희", HF_NOUN},
    {"가족", HF_NOUN},
    {"모두", HF_NOUN},
    {"다", HF_NOUN},
    {"지금", HF_NOUN},
    {"현재", HF_NOUN},
    {"여기", HF_NOUN},
    {"네", HF_NOUN},
    {"예", HF_NOUN},
    {"대사관", HF_NOUN},
    {"영사관", HF_NOUN},
    {"명", HF_NOUN},
    {"함께", HF_NOUN},
    {"같이", HF_NOUN},
    {"집", HF_NOUN},
    {"오늘", HF_NOUN},
    {"아직", HF_NOUN},
    {"잘", HF_NOUN},
    {"정말", HF_NOUN},
    {"진짜", HF_NOUN},
    {"너무", HF_NOUN},
    {"그리고", HF_NOUN},
    {"총", HF_NOUN},
    {"숙소", HF_NOUN},
    {"호텔", HF_NOUN},
    {"혼자", HF_NOUN},
    {"둘", HF_NOUN},
    {"셋", HF_NOUN},
    {"넷", HF_NOUN},
    {"회사", HF_NOUN},
    {"아이", HF_PERSON},
    {"남편", HF_PERSON},
    {"아내", HF_PERSON},
    {"부모", HF_PERSON},
    {"엄마", HF_PERSON},
    {"아빠", HF_PERSON},
    {"친구", HF_PERSON},
    /* verb and noun stems whose endings vary: 감사합니다, 고맙습니다, 걱정하지, 마세요 */
    {"감사", HF_STEM},
    {"고맙", HF_STEM},
    {"안녕", HF_STEM},
    {"수고", HF_STEM},
    {"걱정", HF_STEM},
    {"놀랐", HF_STEM},
    {"있어", HF_STEM},
    {"있습", HF_STEM},
    {"마세", HF_STEM},
    {"마시", HF_STEM},
    {"노노", HF_STEM},
    {"연락드", HF_STEM},
    {"연락하", HF_STEM},
    {"연락할", HF_STEM},
    {"연락", HF_NOUN},
};

/* Particles after a filler word; the subject ones (이, 가) are the last two. */
static const char *const hangul_filler_particles[] = {
    "들", "은",   "는", "을", "를",   "도",   "와",   "과", "랑", "이랑", "의", "에", "에서",
    "로", "으로", "만", "께", "께서", "한테", "에게", "요", "님", "끼리", "이", "가",
};

/* Tells whether rest is one particle (a subject one only when subject). */
static bool
hangul_filler_particle_tail(const char *rest, bool subject)
{
	size_t np = sizeof hangul_filler_particles / sizeof hangul_filler_particles[0];

	for (size_t k = 0; k < (subject ? np : np - 2); k++)
		if (strcmp(rest, hangul_filler_particles[k]) == 0)
			return true;
	return false;
}

/* Tells whether w is a filler word, alone or with particles after it (at most two). */
static bool
hangul_filler_word(const char *w, int depth)
{
	size_t np = sizeof hangul_filler_particles / sizeof hangul_filler_particles[0];

	for (size_t i = 0; i < sizeof hangul_filler / sizeof hangul_filler[0]; i++) {
		size_t l = strlen(hangul_filler[i].w);
		const char *rest = w + l;

		if (strncmp(w, hangul_filler[i].w, l) != 0)
			continue;
		if (*rest == '\0' || hangul_filler[i].kind == HF_STEM)
			return true;
		for (size_t k = 0; k < np; k++) {
			size_t pl = strlen(hangul_filler_particles[k]);

			bool subject = hangul_filler[i].kind != HF_PERSON;

			if (!subject && k >= np - 2)
				continue;
			if (strncmp(rest, hangul_filler_particles[k], pl) == 0 &&
			    (rest[pl] == '\0' || hangul_filler_particle_tail(rest + pl, subject)))
				return true;
		}
		/* Two filler words written together: 우리집, 저희가족. */
		if (depth < 1 && hangul_filler_word(rest, depth + 1))
			return true;
	}
	return false;
}

/* Tells whether a Hangul word is jamo only ("ㅎㅎ", "ㅠㅠ"): a feeling, not news. */
static bool
jamo_only(const char *w, size_t len)
{
	for (size_t i = 0; i + 3 <= len; i += 3) {
		ucs4_t c;

		if (u8_mbtouc(&c, (const uint8_t *)w + i, 3) != 3 ||
		    !((c >= 0x1100 && c <= 0x11FF) || (c >= 0x3131 && c <= 0x318E)))
			return false;
	}
	return len % 3 == 0;
}

/* Tells whether a token is news a "safe" before it does not cover. */
static bool
unread_word(const struct parse *p, const struct tok *t)
{
	const char *w = tok_text(p, t);

	if (t->known != 0)
		return false;
	if (t->kind == TK_WORD)
		return t->len >= 2 &&
		       !in_list(w, latin_filler, sizeof latin_filler / sizeof latin_filler[0]);
	if (t->kind != TK_HANGUL || jamo_only(w, t->len))
		return false;
	return !hangul_filler_word(w, 0);
}

/* Tells whether a Hangul word ends a sentence (요, 다...; not 필요). */
static bool
hangul_sentence_end(const struct parse *p, const struct tok *t)
{
	static const char *const endings[] = {"요", "다", "음", "함", "임", "죠", "용", "됨"};
	const char *w = tok_text(p, t);
	const char *last;

	if (t->kind != TK_HANGUL || t->len < 6)
		return false;
	last = w + t->len - 3;
	if (memcmp(last, "요", 3) == 0 &&
	    (memcmp(last - 3, "필", 3) == 0 || memcmp(last - 3, "중", 3) == 0))
		return false;
	for (size_t i = 0; i < sizeof endings / sizeof endings[0]; i++)
		if (memcmp(last, endings[i], 3) == 0)
			return true;
	return false;
}

/*
 * Tells whether a "safe" is followed, in a later clause or sentence ("괜찮아요
 * 그런데 ...", "all safe, but ..."), by words none of which the tables read:
 * the news after it is not understood, so the "safe" cannot vouch for the
 * reply (nor for the household it counts).
 */
static bool
safe_followed_by_unread(const struct parse *p)
{
	size_t from = SIZE_MAX;
	bool crossed = false, content = false, classified = false;

	for (size_t i = 0; i < p->nhits; i++) {
		const struct hit *h = &p->hits[i];

		if ((h->cat == CAT_SAFE || h->cat == CAT_DONE || h->cat == CAT_YES) &&
		    !h->negated && h->tok < from)
			from = h->tok;
	}
	if (from == SIZE_MAX)
		from = first_word_token(p);
	if (from == SIZE_MAX)
		return false;
	/* Past the words of the "safe" itself. */
	while (from + 1 < p->ntoks && p->toks[from + 1].known == 2 &&
	       p->toks[from + 1].clause == p->toks[from].clause)
		from++;
	for (size_t k = from + 1; k < p->ntoks; k++) {
		const struct tok *t = &p->toks[k];

		if (t->clause != p->toks[k - 1].clause || hangul_sentence_end(p, &p->toks[k - 1])) {
			if (crossed && content && !classified)
				return true;
			crossed = true;
			content = classified = false;
		}
		if (!crossed)
			continue;
		/* A link pasted after the answer is not news. */
		if (t->kind == TK_WORD &&
		    (tok_is(p, t, "http") || tok_is(p, t, "https") || tok_is(p, t, "www")))
			break;
		classified |= t->known == 2;
		content |= unread_word(p, t);
	}
	return crossed && content && !classified;
}

/* ---- Entry points --------------------------------------------------------- */

/* Frees what a parse allocated. */
static void
parse_free(struct parse *p)
{
	free(p->toks);
	free(p->arena);
	free(p->clauses);
	free(p->hits);
}

/* Parses a reply. */
int
sf_reply_parse(const char *text, size_t len, struct sf_reply *out)
{
	struct parse p = {0};
	uint32_t *u = NULL, *nf = NULL, *f = NULL;
	size_t un = 0, nn = 0, fn = 0;
	bool invalid = false;
	int rc = 0;

	if (out == NULL)
		return SF_EINVAL;
	memset(out, 0, sizeof *out);
	if (text == NULL && len > 0)
		return SF_EINVAL;
	if (len > SF_REPLY_MAX_BYTES) {
		out->truncated = true;
		len = SF_REPLY_MAX_BYTES;
		/* Do not count a character cut in two by the limit as invalid. */
		while (len > 0 && len > SF_REPLY_MAX_BYTES - 3 &&
		       ((const uint8_t *)text)[len] >= 0x80 && ((const uint8_t *)text)[len] < 0xC0)
			len--;
	}
	if (len == 0)
		return 0;
	u = decode_utf8((const uint8_t *)text, len, &un, &invalid);
	if (u == NULL) {
		rc = SF_ENOMEM;
		goto out;
	}
	out->invalid_utf8 = invalid;
	nf = u32_normalize(UNINORM_NFKC, u, un, NULL, &nn);
	if (nf == NULL) {
		rc = errno == ENOMEM ? SF_ENOMEM : SF_EINTERNAL;
		goto out;
	}
	if ((rc = extract_pasted(nf, nn, out)) != 0)
		goto out;
	f = u32_casefold(nf, nn, NULL, UNINORM_NFKC, NULL, &fn);
	if (f == NULL) {
		rc = errno == ENOMEM ? SF_ENOMEM : SF_EINTERNAL;
		goto out;
	}
	if ((rc = tokenize(&p, f, fn)) != 0)
		goto out;
	match_latin(&p);
	if ((rc = match_hangul(&p)) != 0)
		goto out;
	match_emoji(&p);
	find_taken_back(&p);
	find_exceptions(&p);
	mark_split_answers(&p);
	if (p.oom) {
		rc = SF_ENOMEM;
		goto out;
	}
	find_menu(&p);
	find_counts(&p);
	decide(&p, out);
	if (out->kind == SF_REPLY_SAFE && !out->review && safe_followed_by_unread(&p)) {
		out->review = true;
		if (out->confidence > 0.5f)
			out->confidence = 0.5f;
	}
	out->headcount = head_count(&p);
out:
	if (rc != 0)
		memset(out, 0, sizeof *out);
	free(u);
	free(nf);
	free(f);
	parse_free(&p);
	return rc;
}

/* Returns the name of a kind. */
const char *
sf_reply_kind_name(enum sf_reply_kind kind)
{
	switch (kind) {
	case SF_REPLY_UNCLASSIFIED:
		return "unclassified";
	case SF_REPLY_SAFE:
		return "safe";
	case SF_REPLY_NEEDS_EVACUATION:
		return "needs_evacuation";
	case SF_REPLY_NEEDS_HELP:
		return "needs_help";
	case SF_REPLY_INJURED:
		return "injured";
	}
	return NULL;
}

/* Returns the status a kind asks for. */
enum sf_status
sf_reply_kind_status(enum sf_reply_kind kind)
{
	switch (kind) {
	case SF_REPLY_UNCLASSIFIED:
		return SF_STATUS_PENDING;
	case SF_REPLY_SAFE:
		return SF_STATUS_SAFE;
	case SF_REPLY_NEEDS_EVACUATION:
		return SF_STATUS_NEEDS_EVACUATION;
	case SF_REPLY_NEEDS_HELP:
		return SF_STATUS_NEEDS_HELP;
	case SF_REPLY_INJURED:
		return SF_STATUS_INJURED;
	}
	return SF_STATUS_UNKNOWN;
}
