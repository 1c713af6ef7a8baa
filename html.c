/*
 * html.c: HTML for the status pages.  See html.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <cJSON.h>

#include "html.h"
#include "rundir.h"
#include "util.h"

static const char style[] =
    "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse}td.t{white-space:nowrap}"
    "td,th{padding:.25em .6em;"
    "border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
    ".b{padding:.1em .5em;border-radius:.8em;color:#fff;font-size:12px}"
    ".succeeded{background:#2a7}.failed,.killed,.timeout,.lost"
    "{background:#c33}.running,.preparing{background:#27c}"
    ".queued{background:#888}.cancelled,.superseded{background:#a80}"
    ".serving{background:#161}.starting,.stopping{background:#27c}"
    ".stopped{background:#888}#serving{border:1px solid #ccc;"
    "padding:.2em 1em;margin:1em 0;display:inline-block}"
    ".bar{width:120px;height:10px;background:#ddd;display:inline-block}"
    ".bar span{display:block;height:10px;background:#27c}"
    "pre{background:#f6f6f6;padding:.6em;overflow:auto;max-height:40em}"
    "svg text{font:11px sans-serif}nav a{margin-right:.6em}"
    ".diff .del{background:#fdd}.diff .add{background:#dfd}"
    ".diff .hunk{color:#27c}small.title{color:#555}";

void
html_text(FILE *f, const char *s)
{
	for (; s != NULL && *s != '\0'; s++)
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
}

void
html_urlenc(FILE *f, const char *s)
{
	for (; *s != '\0'; s++)
		if (isalnum((unsigned char)*s) || strchr("-._~/", *s))
			fputc(*s, f);
		else
			fprintf(f, "%%%02X", (unsigned char)*s);
}

const char *
html_query_nth(const char *q, const char *key, int nth, char *buf,
    size_t size)
{
	size_t n = strlen(key), k = 0;
	const char *s;
	int hi, lo;

	for (s = q; s != NULL && *s != '\0'; s = strchr(s, '&') ?
	    strchr(s, '&') + 1 : NULL) {
		if (strncmp(s, key, n) != 0 || s[n] != '=' || nth-- > 0)
			continue;
		for (s += n + 1; *s != '\0' && *s != '&' && k + 1 < size; s++) {
			if (*s == '%' && (hi = hex_value(s[1])) >= 0 &&
			    (lo = hex_value(s[2])) >= 0) {
				buf[k++] = (char)(hi << 4 | lo);
				s += 2;
			} else
				buf[k++] = *s == '+' ? ' ' : *s;
		}
		buf[k] = '\0';
		return utf8_valid(buf) && strlen(buf) == k ? buf : NULL;
	}
	return NULL;
}

void
html_head(FILE *f, const char *title)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8"
	    "\"><title>", f);
	html_text(f, title);
	fprintf(f, "</title><style>%s</style></head><body>\n", style);
}

void
html_badge(FILE *f, const char *state)
{
	const char *s = state ? state : "?";

	fputs("<span class=\"b ", f);
	html_text(f, strspn(s, "abcdefghijklmnopqrstuvwxyz") == strlen(s) ? s :
	    "x");
	fputs("\">", f);
	html_text(f, s);
	fputs("</span>", f);
}

int
html_web_url(const char *s)
{
	return s != NULL && (strncmp(s, "https://", 8) == 0 ||
	    strncmp(s, "http://", 7) == 0) && s[strspn(s, "abcdefghijklmnopq"
	    "rstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~:/")] == '\0';
}

double
html_min(double a, double b)
{
	return a < b ? a : b;
}

double
html_max(double a, double b)
{
	return a > b ? a : b;
}

double
html_scale(double v, double lo, double hi, double x0, double w)
{
	return hi != lo ? x0 + (v - lo) / (hi - lo) * w : x0 + w / 2;
}


int
html_repo_base(FILE *f, const cJSON *o)
{
	const char *repo = json_str(o, "repository");
	const char *url = json_str(o, "repository_url");

	if (!html_web_url(url) && !repo_name_valid(repo))
		return 0;
	if (f == NULL)
		return 1;
	if (html_web_url(url))
		html_text(f, url);
	else {
		fputs("https://github.com/", f);
		html_text(f, repo);
	}
	return 1;
}

void
html_commit(FILE *f, const cJSON *o)
{
	const char *sha = json_str(o, "sha");

	if (!commit_id_valid(sha))
		return;
	if (!html_repo_base(NULL, o)) {
		fprintf(f, "<code>%.7s</code>", sha);
		return;
	}
	fputs("<a href=\"", f);
	html_repo_base(f, o);
	fprintf(f, "/commit/%s\"><code>%.7s</code></a>", sha, sha);
}

void
html_axes(FILE *f, const struct chart *c)
{
	const int x0 = c->x0, y0 = c->y0, w = c->w, h = c->h;
	int i;

	fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#444\"/><line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" "
	    "stroke=\"#444\"/>\n", x0, y0, x0, y0 + h, x0, y0 + h, x0 + w,
	    y0 + h);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>"
	    "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%.4g</text>",
	    x0 - 4, y0 + 10, c->ymax, x0 - 4, y0 + h, c->ymin);
	if (c->xticks)
		fprintf(f, "<text x=\"%d\" y=\"%d\">%.0f</text><text x=\"%d\" "
		    "y=\"%d\" text-anchor=\"end\">%.0f</text>", x0, y0 + h + 15,
		    c->xmin, x0 + w, y0 + h + 15, c->xmax);
	fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
	    x0 + w / 2, y0 + h + 35);
	html_text(f, c->xlabel);
	fprintf(f, "</text><text x=\"12\" y=\"%d\" transform=\"rotate(-90 12 "
	    "%d)\" text-anchor=\"middle\">", y0 + h / 2, y0 + h / 2);
	html_text(f, c->ylabel);
	fputs("</text>\n", f);
	/* Gridlines and ticks at the quarters, both axes. */
	for (i = 1; i < 4; i++) {
		fprintf(f, "<line class=\"grid\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
		    "y2=\"%d\" stroke=\"#eee\"/><line class=\"grid\" x1=\"%d\" "
		    "y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#eee\"/><text x=\"%d\" "
		    "y=\"%d\" text-anchor=\"end\">%.4g</text>", x0 + 1,
		    y0 + h * i / 4, x0 + w, y0 + h * i / 4, x0 + w * i / 4, y0,
		    x0 + w * i / 4, y0 + h - 1, x0 - 4, y0 + h * i / 4 + 4,
		    c->ymax - (c->ymax - c->ymin) * i / 4);
		if (c->xticks)
			fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">"
			    "%.0f</text>", x0 + w * i / 4, y0 + h + 15,
			    c->xmin + (c->xmax - c->xmin) * i / 4);
		fputs("\n", f);
	}
}
