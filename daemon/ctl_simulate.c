/*
 * safetyctl simulate: the nationals of a crisis answer their check-ins, for
 * demonstrations and drills. Each answer goes through the real front door —
 * the reply page (POST /r/<token>, with the link safetyd itself would have
 * sent) or Kannel's incoming-SMS hook in free Korean or English text — at a
 * time drawn as real crises show it: most within the first hour, a long tail,
 * some never. --speed compresses the clock.
 */
#include "ctl.h"

#include "daemon.h"
#include "reply_link.h"
#include "xmalloc.h"

#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char simulate_usage[] =
    "usage: safetyctl simulate --crisis ID [--url URL] [--speed N] [--share F] [--seed N]\n"
    "                          [--max-hours H]\n"
    "  Answers the open check-ins of crisis ID as its nationals would, through the\n"
    "  reply page and the SMS hook of the safetyd at URL (default [server] public_url).\n"
    "  --speed N      simulated seconds per real second (default 60: an hour a minute)\n"
    "  --share F      share of people who ever answer (default 0.85)\n"
    "  --max-hours H  the last answers come at most H hours in (default 6)\n";

struct sim_answer {
	long long national_id;
	char phone[32];
	bool korean;
	double at_s; /* simulated seconds after the start */
	int kind;    /* index into sim_kinds */
	int people;
	bool by_sms;
};

/* What people answer, how often (per thousand), and how they write it. */
static const struct {
	const char *status;
	int weight;
	const char *ko[3], *en[3];
} sim_kinds[] = {
    {"safe", 780, {"안전합니다", "괜찮아요", "1"}, {"safe", "we are ok", "Safe, thanks"}},
    {"needs_help", 90, {"도와주세요", "도움이 필요합니다", "2"}, {"help", "need help", "SOS"}},
    {"injured", 50, {"부상", "다쳤어요", "3"}, {"injured", "my leg is hurt", "3"}},
    {"needs_evacuation",
     80,
     {"대피 필요", "대피해야 합니다", "4"},
     {"evacuate", "need evacuation", "4"}},
};

static double
sim_uniform(unsigned *seed)
{
	return ((double)rand_r(seed) + 1.0) / ((double)RAND_MAX + 2.0);
}

/* Minutes after the start: most early, a long tail. */
static double
sim_delay_s(unsigned *seed, double max_s)
{
	double u = sim_uniform(seed), d;

	if (u < 0.7)
		d = -log(sim_uniform(seed)) * 12 * 60;
	else if (u < 0.95)
		d = -log(sim_uniform(seed)) * 60 * 60;
	else
		d = sim_uniform(seed) * max_s;
	return d < max_s ? d : max_s * sim_uniform(seed);
}

static int
sim_cmp(const void *a, const void *b)
{
	const struct sim_answer *x = a, *y = b;

	return x->at_s < y->at_s ? -1 : x->at_s > y->at_s ? 1 : 0;
}

static size_t
sim_discard(void *ptr, size_t size, size_t n, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * n;
}

/* Sends one answer; the HTTP status, or 0 when safetyd could not be reached. */
static long
sim_send(CURL *curl, const struct config *cfg, const char *url, const struct daemon *d,
         long long crisis, const struct sim_answer *a, unsigned *seed, long serial)
{
	const char *const *texts = a->korean ? sim_kinds[a->kind].ko : sim_kinds[a->kind].en;
	char text[200], link[512], *esc, *buf = NULL;
	long code = 0;

	/* Some say how many they are, as people do ("3명", "3 people"). */
	if (rand_r(seed) % 3 == 0)
		snprintf(text, sizeof text, a->korean ? "%s %d명" : "%s, %d people",
		         texts[rand_r(seed) % 3], a->people);
	else
		snprintf(text, sizeof text, "%s", texts[rand_r(seed) % 3]);
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, sim_discard);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, 15L);
	esc = curl_easy_escape(curl, text, 0);
	if (a->by_sms) {
		char *from = curl_easy_escape(curl, a->phone, 0);
		char *secret = curl_easy_escape(curl, cfg->hook_secret, 0);
		xasprintf(&buf,
		          "%s/hooks/sms/kannel?secret=%s&from=%s&to=1234&text=%s&id=sim-%lld-%ld",
		          url, secret, from, esc, crisis, serial);
		curl_free(from);
		curl_free(secret);
		curl_easy_setopt(curl, CURLOPT_URL, buf);
	} else {
		char form[400];
		reply_link_make(d, crisis, a->national_id, link, sizeof link);
		/* The path of the link safetyd made, on the address given here. */
		xasprintf(&buf, "%s%s", url, strstr(link, "/r/"));
		snprintf(form, sizeof form, "status=%s&people=%d&message=%s",
		         sim_kinds[a->kind].status, a->people, esc);
		curl_easy_setopt(curl, CURLOPT_URL, buf);
		curl_easy_setopt(curl, CURLOPT_COPYPOSTFIELDS, form);
	}
	if (curl_easy_perform(curl) == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	curl_free(esc);
	free(buf);
	return code;
}

int
ctl_simulate(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	long long crisis = 0;
	const char *url = cfg->public_url;
	double speed = 60, share = 0.85, max_hours = 6;
	unsigned seed = (unsigned)time(NULL);
	struct daemon d;
	struct sim_answer *answers;
	size_t n = 0, sent = 0, failed = 0, by_kind[4] = {0}, sms = 0;
	char crisis_buf[24], *cause = NULL;
	const char *params[1];
	PGresult *res;
	CURL *curl;
	struct timespec start;
	int rc = 0;

	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(argv[i], "--crisis") == 0 && v)
			crisis = atoll(argv[++i]);
		else if (strcmp(argv[i], "--url") == 0 && v)
			url = argv[++i];
		else if (strcmp(argv[i], "--speed") == 0 && v)
			speed = atof(argv[++i]);
		else if (strcmp(argv[i], "--share") == 0 && v)
			share = atof(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && v)
			seed = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--max-hours") == 0 && v)
			max_hours = atof(argv[++i]);
		else {
			fputs(simulate_usage, stderr);
			return 2;
		}
	}
	if (crisis <= 0 || speed <= 0 || share < 0 || share > 1 || max_hours <= 0 || *url == '\0') {
		fputs(simulate_usage, stderr);
		return 2;
	}
	if (*cfg->token_key_file == '\0') {
		fprintf(stderr,
		        "safetyctl: simulate: set [tokens] key_file, the same file safetyd reads, "
		        "so the simulated answers carry links safetyd opens\n");
		return 1;
	}
	memset(&d, 0, sizeof d);
	d.cfg = *cfg;
	if (!reply_link_init(&d, &cause)) {
		fprintf(stderr, "safetyctl: simulate: %s\n", cause);
		free(cause);
		return 1;
	}
	snprintf(crisis_buf, sizeof crisis_buf, "%lld", crisis);
	params[0] = crisis_buf;
	/*
	 * Invented answers in a real crisis would mark real people safe: only a
	 * drill, or a crisis of missions `safetyctl demo` made (all synthetic
	 * people), still open, is played.
	 */
	res = PQexecParams(
	    conn,
	    "SELECT c.state::text, c.drill OR NOT EXISTS (SELECT 1 FROM crisis_mission cm "
	    " WHERE cm.crisis_id = c.id AND NOT EXISTS (SELECT 1 FROM audit_log a "
	    "  WHERE a.action = 'mission.create' AND a.object_type = 'mission' "
	    "  AND a.object_id = cm.mission_id::text AND a.summary::jsonb->>'demo' = 'true')) "
	    "FROM crisis c WHERE c.id = $1::bigint",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    strcmp(PQgetvalue(res, 0, 0), "active") != 0 ||
	    strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		fprintf(stderr, "safetyctl: simulate: crisis %lld %s\n", crisis,
		        PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1
		            ? "does not exist"
		        : strcmp(PQgetvalue(res, 0, 0), "active") != 0
		            ? "is not active"
		            : "is real: answers are simulated only in a drill or in a crisis of "
		              "missions `safetyctl demo` made");
		PQclear(res);
		reply_link_free(&d);
		return 1;
	}
	PQclear(res);
	res = PQexecParams(
	    conn,
	    "SELECT k.national_id, coalesce((SELECT value FROM contact c WHERE "
	    "c.national_id = k.national_id AND c.kind = 'phone' ORDER BY priority, id "
	    "LIMIT 1), ''), n.name_ko IS NOT NULL FROM checkin k JOIN national n ON "
	    "n.id = k.national_id WHERE k.crisis_id = $1::bigint AND k.state = 'asked' "
	    "ORDER BY k.national_id",
	    1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "safetyctl: simulate: %s", PQerrorMessage(conn));
		PQclear(res);
		reply_link_free(&d);
		return 1;
	}
	answers = xcalloc((size_t)PQntuples(res) + 1, sizeof *answers);
	for (int i = 0; i < PQntuples(res); i++) {
		struct sim_answer *a = &answers[n];
		int w = (int)(sim_uniform(&seed) * 1000), k = 0;
		if (sim_uniform(&seed) > share)
			continue; /* never answers: the call list is for them */
		a->national_id = atoll(PQgetvalue(res, i, 0));
		snprintf(a->phone, sizeof a->phone, "%s", PQgetvalue(res, i, 1));
		a->korean = strcmp(PQgetvalue(res, i, 2), "t") == 0 && sim_uniform(&seed) < 0.8;
		while (k < 3 && w >= sim_kinds[k].weight) {
			w -= sim_kinds[k].weight;
			k++;
		}
		a->kind = k;
		a->people = 1 + (int)(sim_uniform(&seed) * 4);
		a->by_sms =
		    *a->phone != '\0' && *cfg->hook_secret != '\0' && sim_uniform(&seed) < 0.5;
		a->at_s = sim_delay_s(&seed, max_hours * 3600);
		n++;
	}
	printf("simulate: %d people asked, %zu will answer over %.1f simulated hours at %.0fx\n",
	       PQntuples(res), n, max_hours, speed);
	PQclear(res);
	qsort(answers, n, sizeof *answers, sim_cmp);
	curl = curl_easy_init();
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (size_t i = 0; i < n; i++) {
		struct timespec now;
		double wait;
		long code;

		clock_gettime(CLOCK_MONOTONIC, &now);
		wait = answers[i].at_s / speed - ((double)(now.tv_sec - start.tv_sec) +
		                                  (double)(now.tv_nsec - start.tv_nsec) / 1e9);
		if (wait > 0) {
			struct timespec ts = {(time_t)wait,
			                      (long)((wait - (double)(time_t)wait) * 1e9)};
			nanosleep(&ts, NULL);
		}
		/* The reply page limits each address; one simulator is one address: wait and retry.
		 */
		for (int tries = 0; tries < 10; tries++) {
			code = sim_send(curl, cfg, url, &d, crisis, &answers[i], &seed, (long)i);
			if (code != 429)
				break;
			struct timespec pause = {1, 0};
			nanosleep(&pause, NULL);
		}
		if (code == 200) {
			sent++;
			by_kind[answers[i].kind]++;
			sms += answers[i].by_sms;
		} else {
			failed++;
		}
		if ((i + 1) % (n / 10 + 1) == 0 || i + 1 == n) {
			printf("simulate: %zu answered (%zu by SMS), %zu safe, %zu need help, %zu "
			       "injured, "
			       "%zu need evacuation; %zu refused or failed\n",
			       sent, sms, by_kind[0], by_kind[1], by_kind[2], by_kind[3], failed);
			fflush(stdout);
		}
	}
	if (n > 0 && failed == n) {
		fprintf(stderr, "safetyctl: simulate: no answer got through to %s\n", url);
		rc = 1;
	}
	curl_easy_cleanup(curl);
	free(answers);
	reply_link_free(&d);
	return rc;
}
