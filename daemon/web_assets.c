/*
 * Web files in memory. The dashboard's own files live in web_dir; the
 * browser libraries come from npm (daemon/web/node_modules, installed by
 * deploy/web.sh from the lock file) under fixed names, so no path from a
 * request ever reaches the file system.
 */
#include "web_assets.h"

#include "daemon.h"
#include "http_server.h"
#include "log.h"
#include "xmalloc.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define WEB_FILE_MAX (4 * 1024 * 1024)

struct web_file {
	char *name;
	const char *type;
	char *body;
	size_t len;
	char etag[24];
};

struct web_assets {
	struct web_file *files;
	size_t n, cap;
};

/* Libraries served under a fixed name, from their npm package. */
static const struct {
	const char *name, *path;
} web_vendor[] = {
    {"leaflet.js", "node_modules/leaflet/dist/leaflet.js"},
    {"leaflet.css", "node_modules/leaflet/dist/leaflet.css"},
    {"uPlot.iife.min.js", "node_modules/uplot/dist/uPlot.iife.min.js"},
    {"uPlot.min.css", "node_modules/uplot/dist/uPlot.min.css"},
    {"topojson-client.min.js", "node_modules/topojson-client/dist/topojson-client.min.js"},
    {"countries-110m.json", "node_modules/world-atlas/countries-110m.json"},
};

static const char *
web_type(const char *name)
{
	const char *dot = strrchr(name, '.');

	if (dot == NULL)
		return NULL;
	if (strcmp(dot, ".html") == 0)
		return "text/html; charset=utf-8";
	if (strcmp(dot, ".css") == 0)
		return "text/css; charset=utf-8";
	if (strcmp(dot, ".js") == 0)
		return "text/javascript; charset=utf-8";
	if (strcmp(dot, ".json") == 0)
		return "application/json";
	if (strcmp(dot, ".svg") == 0)
		return "image/svg+xml";
	if (strcmp(dot, ".png") == 0)
		return "image/png";
	return NULL;
}

/* A name we serve: letters, digits, '.', '-', '_', not starting with '.'. */
static bool
web_name_ok(const char *name)
{
	if (*name == '\0' || *name == '.' || strlen(name) > 64)
		return false;
	return strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") ==
	       strlen(name);
}

static void
web_add(struct web_assets *wa, const char *name, const char *path)
{
	const char *type = web_type(name);
	struct web_file *f;
	struct stat st;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	FILE *fp;

	if (type == NULL || stat(path, &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size > WEB_FILE_MAX)
		return;
	fp = fopen(path, "rb");
	if (fp == NULL)
		return;
	if (wa->n == wa->cap) {
		wa->cap = wa->cap ? wa->cap * 2 : 32;
		wa->files = xrealloc(wa->files, wa->cap * sizeof *wa->files);
	}
	f = &wa->files[wa->n];
	f->body = xmalloc((size_t)st.st_size + 1);
	f->len = fread(f->body, 1, (size_t)st.st_size, fp);
	fclose(fp);
	f->name = xstrdup(name);
	f->type = type;
	EVP_Digest(f->body, f->len, md, &mdlen, EVP_sha256(), NULL);
	f->etag[0] = '"';
	for (int i = 0; i < 10; i++)
		snprintf(f->etag + 1 + 2 * i, 3, "%02x", md[i]);
	f->etag[21] = '"';
	f->etag[22] = '\0';
	wa->n++;
}

void
web_assets_load(struct daemon *d)
{
	struct web_assets *wa = xcalloc(1, sizeof *wa);
	char path[1024];
	DIR *dir = opendir(d->cfg.web_dir);
	struct dirent *e;
	size_t vendored = 0;

	if (dir != NULL) {
		while ((e = readdir(dir)) != NULL) {
			if (!web_name_ok(e->d_name))
				continue;
			snprintf(path, sizeof path, "%s/%s", d->cfg.web_dir, e->d_name);
			web_add(wa, e->d_name, path);
		}
		closedir(dir);
	}
	for (size_t i = 0; i < sizeof web_vendor / sizeof web_vendor[0]; i++) {
		size_t before = wa->n;
		snprintf(path, sizeof path, "%s/%s", d->cfg.web_dir, web_vendor[i].path);
		web_add(wa, web_vendor[i].name, path);
		vendored += wa->n - before;
	}
	if (vendored < sizeof web_vendor / sizeof web_vendor[0])
		log_warn("web_libraries_missing", "web_dir", d->cfg.web_dir, "hint",
		         "run deploy/web.sh: the dashboard needs its browser libraries from npm");
	d->web = wa;
}

void
web_assets_free(struct daemon *d)
{
	struct web_assets *wa = d->web;

	if (wa == NULL)
		return;
	for (size_t i = 0; i < wa->n; i++) {
		free(wa->files[i].name);
		free(wa->files[i].body);
	}
	free(wa->files);
	free(wa);
	d->web = NULL;
}

static void
web_serve(struct http_ctx *ctx, const char *name, bool cache)
{
	const struct web_assets *wa = ctx->d->web;

	for (size_t i = 0; wa != NULL && i < wa->n; i++) {
		const struct web_file *f = &wa->files[i];
		const char *inm;
		if (strcmp(f->name, name) != 0)
			continue;
		http_add_header(ctx, "ETag", f->etag);
		inm =
		    evhttp_find_header(evhttp_request_get_input_headers(ctx->req), "If-None-Match");
		if (cache && inm != NULL && strcmp(inm, f->etag) == 0) {
			http_reply_bytes(ctx, 304, f->type, "", 0);
			return;
		}
		http_reply_bytes(ctx, 200, f->type, f->body, f->len);
		return;
	}
	http_reply_problem(ctx, 404, "not found", "no such file");
}

void
routes_static(struct http_ctx *ctx)
{
	const char *name = ctx->nparams > 0 ? ctx->params[0] : "";

	if (!web_name_ok(name)) {
		http_reply_problem(ctx, 404, "not found", "no such file");
		return;
	}
	web_serve(ctx, name, true);
}

void
routes_app(struct http_ctx *ctx)
{
	web_serve(ctx, "app.html", false);
}
