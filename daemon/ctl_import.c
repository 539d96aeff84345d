/*
 * safetyctl import: nationals from CSV or JSON through the same parser and
 * merge the API uses, and regions and shelters from GeoJSON.
 */
#include "ctl.h"

#include "registry_import.h"
#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char import_usage[] =
    "usage: safetyctl import nationals FILE --mission CODE [--map FIELD=HEADER]...\n"
    "                 [--date-format iso|dotted|dmy|mdy|compact] [--format csv|json|auto]\n"
    "                 [--all-or-nothing] [--dry-run] [--json]\n"
    "       safetyctl import regions|shelters FILE --mission CODE [options]\n"
    "Good rows go in and every bad row is listed with its line, field and reason;\n"
    "with --all-or-nothing one bad row keeps the whole file out.\n";

/*
 * Reads a whole file, at most 256 MiB. Opened without waiting: a FIFO with
 * no writer would otherwise hold the open for ever, before it is refused.
 */
static char *
import_read_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f;
	struct stat st;
	char *buf;

	if (fd < 0) {
		fprintf(stderr, "safetyctl: cannot open %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (256 << 20) ||
	    (f = fdopen(fd, "rb")) == NULL) {
		fprintf(stderr, "safetyctl: %s: not a regular file of at most 256 MiB\n", path);
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	*len = fread(buf, 1, (size_t)st.st_size, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* safetyctl import nationals FILE --mission CODE ... */
static int
import_nationals(PGconn *conn, int argc, char **argv)
{
	struct registry_import_request req;
	struct registry_import_outcome out;
	struct sf_import_mapping mapping = {0};
	const char *file = NULL, *mission = NULL;
	char actor[96], err[160], *cause = NULL, *data;
	bool as_json = false;
	struct passwd *pw = getpwuid(getuid());
	size_t len = 0;
	PGresult *r;
	int rc = 0;

	memset(&req, 0, sizeof req);
	req.format = SF_IMPORT_AUTO;
	req.date_format = SF_DATE_ISO;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--mission") == 0 && i + 1 < argc) {
			mission = argv[++i];
		} else if (strcmp(argv[i], "--map") == 0 && i + 1 < argc) {
			if (sf_import_parse_mapping(argv[++i], &mapping, err, sizeof err) != 0) {
				fprintf(stderr, "safetyctl: --map: %s\n", err);
				sf_import_mapping_clear(&mapping);
				return 2;
			}
		} else if (strcmp(argv[i], "--date-format") == 0 && i + 1 < argc) {
			if (sf_date_parse_format_name(argv[++i], &req.date_format) != 0) {
				fprintf(
				    stderr,
				    "safetyctl: --date-format: iso, dotted, dmy, mdy or compact\n");
				sf_import_mapping_clear(&mapping);
				return 2;
			}
		} else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
			i++;
			if (strcmp(argv[i], "json") == 0) {
				req.format = SF_IMPORT_JSON;
			} else if (strcmp(argv[i], "csv") == 0) {
				req.format = SF_IMPORT_CSV;
			} else if (strcmp(argv[i], "auto") == 0) {
				req.format = SF_IMPORT_AUTO;
			} else {
				fprintf(stderr,
				        "safetyctl: --format: '%s' is not csv, json or auto\n",
				        argv[i]);
				sf_import_mapping_clear(&mapping);
				return 2;
			}
		} else if (strcmp(argv[i], "--all-or-nothing") == 0) {
			req.all_or_nothing = true;
		} else if (strcmp(argv[i], "--dry-run") == 0) {
			req.dry_run = true;
		} else if (strcmp(argv[i], "--json") == 0) {
			as_json = true;
		} else if (argv[i][0] != '-' && file == NULL) {
			file = argv[i];
		} else {
			fputs(import_usage, stderr);
			sf_import_mapping_clear(&mapping);
			return 2;
		}
	}
	if (file == NULL || mission == NULL) {
		fputs(import_usage, stderr);
		sf_import_mapping_clear(&mapping);
		return 2;
	}
	{
		const char *params[1] = {mission};
		r = PQexecParams(conn, "SELECT id FROM mission WHERE code = $1", 1, NULL, params,
		                 NULL, NULL, 0);
	}
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		fprintf(stderr, "safetyctl: no mission with code '%s'\n", mission);
		PQclear(r);
		sf_import_mapping_clear(&mapping);
		return 1;
	}
	req.mission_id = atoll(PQgetvalue(r, 0, 0));
	PQclear(r);
	data = import_read_file(file, &len);
	if (data == NULL) {
		sf_import_mapping_clear(&mapping);
		return 1;
	}
	snprintf(actor, sizeof actor, "safetyctl:%s", pw != NULL ? pw->pw_name : "unknown");
	req.data = data;
	req.len = len;
	req.mapping = mapping.count > 0 ? &mapping : NULL;
	req.actor = actor;
	req.actor_role = "operator";
	req.client_addr = "";
	if (!registry_import_run(conn, &req, &out, &cause)) {
		fprintf(stderr, "safetyctl: %s\nnothing was changed\n", cause);
		free(cause);
		registry_import_outcome_free(&out);
		free(data);
		sf_import_mapping_clear(&mapping);
		return 1;
	}
	if (as_json) {
		cJSON *rep = registry_import_report(&out, req.dry_run);
		char *text = cJSON_Print(rep);
		printf("%s\n", text);
		free(text);
		cJSON_Delete(rep);
	} else {
		const struct sf_import_result *p = out.parsed;
		for (size_t i = 0; i < p->nerrors; i++)
			printf("%s:%zu: %s\n", file, p->errors[i].line, p->errors[i].reason);
		for (size_t i = 0; i < out.ndup && i < 64; i++)
			printf("%s:%zu: passport_no: the same passport as line %zu\n", file,
			       out.dup_line[i], out.dup_first[i]);
		for (size_t i = 0; i < out.nrefused && i < 64; i++)
			printf("%s:%zu: %s\n", file, out.refused[i].line, out.refused[i].reason);
		for (size_t i = 0; i < p->nwarnings; i++)
			printf("%s:%zu: warning: %s\n", file, p->warnings[i].line,
			       p->warnings[i].reason);
		/* People deleted and left out, passports replaced: said as the API says them. */
		for (size_t i = 0; i < out.nnotes; i++) {
			char reason[224];
			const char *field =
			    registry_import_note_text(&out.notes[i], reason, sizeof reason);

			printf("%s:%zu: warning: %s: %s\n", file, out.notes[i].line, field, reason);
		}
		if (p->file_error)
			printf("the file was refused; nothing was imported\n");
		else if (!out.applied && !req.dry_run)
			printf("%zu bad row%s: nothing was imported (--all-or-nothing)\n",
			       p->bad_rows + out.ndup + out.nrefused,
			       p->bad_rows + out.ndup + out.nrefused == 1 ? "" : "s");
		else if (out.inserted == 0 && out.updated == 0)
			printf("%s%zu rows read: nothing changed (%lld already registered), %zu "
			       "rejected\n",
			       req.dry_run ? "dry run: " : "", p->records, out.unchanged,
			       p->bad_rows + out.ndup + out.nrefused);
		else
			printf("%s%zu rows read: %lld added, %lld updated, %lld unchanged, %zu "
			       "rejected\n",
			       req.dry_run ? "dry run: " : "", p->records, out.inserted,
			       out.updated, out.unchanged, p->bad_rows + out.ndup + out.nrefused);
	}
	if (out.parsed->file_error || out.parsed->bad_rows + out.ndup + out.nrefused > 0)
		rc = 1;
	registry_import_outcome_free(&out);
	memset(data, 0, len);
	free(data);
	sf_import_mapping_clear(&mapping);
	return rc;
}

/* Dispatches to the importer of each kind of file. */
int
ctl_import(const struct config *cfg, PGconn *conn, int argc, char **argv)
{
	if (argc >= 1 && (strcmp(argv[0], "regions") == 0 || strcmp(argv[0], "shelters") == 0))
		return ctl_import_geo(cfg, conn, argv[0], argc - 1, argv + 1);
	if (argc >= 1 && strcmp(argv[0], "nationals") == 0)
		return import_nationals(conn, argc - 1, argv + 1);
	fputs(import_usage, stderr);
	return 2;
}
