/*
 * html.h: what the status pages (status.h, compare.h) write HTML with:
 * escaping for text and attributes, a query string's values, the page's
 * head and style, a state's badge, a commit's link, and the axes of an
 * SVG chart.  Every string is escaped here, at the last moment, whatever
 * was checked on input.
 */
#ifndef HTML_H
#define HTML_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

/* Writes s (NULL: nothing) with & < > " ' escaped. */
void	 html_text(FILE *f, const char *s);

/* Writes s percent-encoded, for a query string. */
void	 html_urlenc(FILE *f, const char *s);

/*
 * The value of the nth key= of query string q (n from 0), %-decoded
 * ('+' a space) into buf; NULL if there is none, or it is not UTF-8 or
 * holds a NUL.
 */
const char *html_query_nth(const char *q, const char *key, int n, char *buf,
	    size_t size);
#define html_query(q, key, buf, size)	html_query_nth(q, key, 0, buf, size)

/* <!DOCTYPE html> to <body>: the title escaped, the page's style. */
void	 html_head(FILE *f, const char *title);

/* A job's state as a coloured badge. */
void	 html_badge(FILE *f, const char *state);

/* Whether s is fit for a link: http(s), nothing odd. */
int	 html_web_url(const char *s);

/*
 * A job.json's repository on the web: its repository_url (if
 * html_web_url), else github.com/owner/name, escaped into f (f NULL:
 * only whether there is one).  Returns 1, or 0 if it has neither.
 */
int	 html_repo_base(FILE *f, const cJSON *o);

/*
 * A job.json's sha as <code>abc1234</code>, linked to the commit on its
 * repository_url (if html_web_url) or on github.com; nothing if the sha
 * is not a commit id.
 */
void	 html_commit(FILE *f, const cJSON *o);

/* The smaller and the greater of two numbers (no libm). */
double	 html_min(double a, double b);
double	 html_max(double a, double b);

/* Where v of [lo, hi] falls on [x0, x0 + w] (hi < lo: upside down). */
double	 html_scale(double v, double lo, double hi, double x0, double w);

/*
 * A chart's frame: axes from (x0, y0) w wide and h high, x from xmin to
 * xmax (labelled xlabel), y from ymin (bottom) to ymax (ylabel), with
 * gridlines and ticks at the quarters (on x, without xticks, only the
 * gridlines: the caller labels what x counts).
 */
struct chart {
	int		 x0, y0, w, h;
	double		 xmin, xmax, ymin, ymax;
	const char	*xlabel, *ylabel;
	int		 xticks;
};
void	 html_axes(FILE *f, const struct chart *c);

#endif
