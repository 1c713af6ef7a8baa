/*
 * filter.c: push parsing, path globs and the choice of configs to train.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "filter.h"
#include "sig.h"

/*
 * Matches one bracket expression at p (just past '[') against c.  Returns
 * a pointer past the closing ']' and sets *hit, or NULL if the class never
 * closes (the '[' is then an ordinary character).
 */
static const char *
class_match(const char *p, char c, int *hit)
{
	int neg = 0, in = 0;
	char lo, hi;

	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	if (*p == ']') {		/* a leading ']' is literal */
		in = c == ']';
		p++;
	}
	while (*p != ']') {
		if (*p == '\0')
			return NULL;
		if (*p == '\\' && p[1] != '\0')
			p++;
		lo = *p++;
		hi = lo;
		if (*p == '-' && p[1] != ']' && p[1] != '\0') {
			p++;
			if (*p == '\\' && p[1] != '\0')
				p++;
			hi = *p++;
		}
		if (c >= lo && c <= hi)
			in = 1;
	}
	*hit = in != neg;
	return p + 1;
}

/*
 * One match of a pattern against [sstart, e).  Backtracking over several
 * stars can take exponential time ("**?*" repeated, against a long path):
 * past a budget of steps, the (pattern, string) positions that failed are
 * remembered, and none is tried twice, which bounds the work by the
 * product of the two lengths.
 */
struct gctx {
	const char	*pstart, *sstart, *e;
	size_t		 slen1;		/* string length + 1 */
	size_t		 plen1;
	unsigned long	 steps;
	unsigned char	*memo;		/* failed pairs, bit per pair */
};

#define GLOB_BUDGET	4096

static int	gm(struct gctx *, const char *, const char *);

static int
gm_try(struct gctx *g, const char *p, const char *s)
{
	size_t bit;

	if (g->memo == NULL && ++g->steps == GLOB_BUDGET)
		g->memo = calloc((g->plen1 * g->slen1 + 7) / 8, 1);
	if (g->memo == NULL)
		return gm(g, p, s);
	bit = (size_t)(p - g->pstart) * g->slen1 + (size_t)(s - g->sstart);
	if (g->memo[bit / 8] & (1u << (bit % 8)))
		return 0;
	if (gm(g, p, s))
		return 1;
	g->memo[bit / 8] |= 1u << (bit % 8);
	return 0;
}

/* Matches pattern p against [s, e). */
static int
gm(struct gctx *g, const char *p, const char *s)
{
	const char *q, *e = g->e;
	int hit;

	for (;;) {
		switch (*p) {
		case '\0':
			return s == e;
		case '*':
			if (p[1] == '*') {
				for (q = p; *q == '*'; q++)
					;
				if (*q == '/' && (p == g->pstart ||
				    p[-1] == '/') && gm_try(g, q + 1, s))
					return 1;
				for (;; s++) {
					if (gm_try(g, q, s))
						return 1;
					if (s == e)
						return 0;
				}
			}
			if (p[1] == '\0')	/* a last '*': the rest of a segment */
				return memchr(s, '/', e - s) == NULL;
			for (;; s++) {
				/* Before a literal, only where it stands. */
				if (strchr("*?[\\", p[1]) == NULL)
					while (s < e && *s != p[1] && *s != '/')
						s++;
				if (gm_try(g, p + 1, s))
					return 1;
				if (s == e || *s == '/')
					return 0;
			}
		case '?':
			if (s == e || *s == '/')
				return 0;
			break;
		case '[':
			if (s == e || *s == '/')
				return 0;
			if ((q = class_match(p + 1, *s, &hit)) != NULL) {
				if (!hit)
					return 0;
				p = q;
				s++;
				continue;
			}
			if (*s != '[')
				return 0;
			break;
		case '\\':
			if (p[1] != '\0')
				p++;
			/* FALLTHROUGH */
		default:
			if (s == e || *p != *s)
				return 0;
			break;
		}
		p++;
		s++;
	}
}

/* Matches the whole of pattern pat against [s, e). */
static int
gmatch(const char *pat, const char *s, const char *e)
{
	struct gctx g = { pat, s, e, (size_t)(e - s) + 1, strlen(pat) + 1, 0,
	    NULL };
	int r;

	r = gm(&g, pat, s);
	free(g.memo);
	return r;
}

int
glob_match(const char *pat, const char *s)
{
	return gmatch(pat, s, s + strlen(s));
}

/* A compiled path pattern. */
struct pat {
	char		*pat;		/* no leading or trailing '/' */
	const char	*tail;		/* its literal end: "*.py" has ".py" */
	size_t		 taillen;
	int		 anchored;	/* had a '/': matched from the top */
	int		 dironly;	/* had a trailing '/' */
};

struct patset {
	struct pat	*v;
	size_t		 n;
};

static int
pat_init(struct pat *p, const char *s)
{
	size_t len = strlen(s);

	memset(p, 0, sizeof(*p));
	if (len > 0 && s[len - 1] == '/') {
		p->dironly = 1;
		len--;
	}
	p->anchored = memchr(s, '/', len) != NULL;
	if (*s == '/') {
		s++;
		len = len ? len - 1 : 0;
	}
	if ((p->pat = strndup(s, len)) == NULL)
		return -1;
	for (p->tail = p->pat + len; p->tail > p->pat &&
	    strchr("*?[]\\/", p->tail[-1]) == NULL; p->tail--)
		;
	p->taillen = strlen(p->tail);
	return 0;
}

static void
patset_free(struct patset *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		free(ps->v[i].pat);
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

static int
patset_init(struct patset *ps, const struct strlist *l)
{
	ps->n = 0;
	if ((ps->v = calloc(l->n + 1, sizeof(*ps->v))) == NULL)
		return -1;
	for (; ps->n < l->n; ps->n++)
		if (pat_init(&ps->v[ps->n], l->v[ps->n]) == -1) {
			patset_free(ps);
			return -1;
		}
	return 0;
}

/*
 * Walks path once: at each leading directory and then at the whole path,
 * tries every pattern.  Unanchored patterns see one name at a time;
 * anchored ones see the path from the top down to that name.
 */
static int
patset_match(const struct patset *ps, const char *path)
{
	const char *seg, *end, *s;
	const struct pat *p;
	size_t i;
	int last;

	for (seg = path;; seg = end + 1) {
		if ((end = strchr(seg, '/')) == NULL)
			end = seg + strlen(seg);
		last = *end == '\0';
		for (i = 0; i < ps->n; i++) {
			p = &ps->v[i];
			if ((p->dironly && last) || p->pat[0] == '\0')
				continue;
			s = p->anchored ? path : seg;
			if ((size_t)(end - s) >= p->taillen &&
			    memcmp(end - p->taillen, p->tail, p->taillen) == 0 &&
			    gmatch(p->pat, s, end))
				return 1;
		}
		if (last)
			return 0;
	}
}

int
path_match(const char *pat, const char *path)
{
	struct patset ps = { NULL, 1 };
	struct pat p;
	int r;

	if (pat_init(&p, pat) == -1)
		return 0;
	ps.v = &p;
	r = patset_match(&ps, path);
	free(p.pat);
	return r;
}

int
path_safe(const char *path)
{
	const char *s, *seg;

	if (*path == '\0' || *path == '/' || *path == '-')
		return 0;
	for (s = path; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	for (seg = path; seg != NULL; seg = strchr(seg, '/'), seg = seg ?
	    seg + 1 : NULL) {
		if (seg[0] == '/' || seg[0] == '\0')
			return 0;	/* empty segment */
		if (seg[0] == '.' && (seg[1] == '/' || seg[1] == '\0'))
			return 0;
		if (seg[0] == '.' && seg[1] == '.' &&
		    (seg[2] == '/' || seg[2] == '\0'))
			return 0;
	}
	return 1;
}

long
form_payload(char *body, size_t len, char **out)
{
	char *s = body, *end = body + len, *amp, *r, *w;
	int hi, lo;

	for (; s < end; s = amp + 1) {
		if ((amp = memchr(s, '&', end - s)) == NULL)
			amp = end;
		if (amp - s < 8 || memcmp(s, "payload=", 8) != 0)
			continue;
		for (r = w = s + 8; r < amp; r++, w++) {
			if (*r == '+')
				*w = ' ';
			else if (*r != '%')
				*w = *r;
			else if (amp - r < 3 || (hi = hex_value(r[1])) == -1 ||
			    (lo = hex_value(r[2])) == -1)
				return -1;
			else {
				*w = (char)(hi << 4 | lo);
				r += 2;
			}
		}
		*out = s + 8;
		return w - (s + 8);
	}
	return -1;
}

/* Returns 1 if s is 40 or 64 lowercase hex digits (a SHA-1 or SHA-256). */
static int
is_sha(const char *s)
{
	size_t n;

	for (n = 0; (s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' &&
	    s[n] <= 'f'); n++)
		;
	return s[n] == '\0' && (n == 40 || n == 64);
}

/*
 * Returns 1 if ref is a plausible git ref: what git check-ref-format lets
 * through, roughly, and nothing that could pass for an option.
 */
static int
ref_safe(const char *ref)
{
	const char *s;

	if (strncmp(ref, "refs/", 5) != 0 || strlen(ref) > 255)
		return 0;
	for (s = ref; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f ||
		    strchr("~^:?*[\\", *s) != NULL)
			return 0;
	return path_safe(ref) && strstr(ref, "/-") == NULL &&
	    strstr(ref, "..") == NULL;
}

int
push_parse(struct push *p, const char *body, size_t len,
    char reason[FILTER_REASON_MAX])
{
	const cJSON *ref, *after, *repo, *name, *deleted;

	memset(p, 0, sizeof(*p));
	if ((p->root = cJSON_ParseWithLength(body, len)) == NULL ||
	    !cJSON_IsObject(p->root)) {
		snprintf(reason, FILTER_REASON_MAX, "body is not a JSON object");
		goto err;
	}
	ref = cJSON_GetObjectItemCaseSensitive(p->root, "ref");
	after = cJSON_GetObjectItemCaseSensitive(p->root, "after");
	if (!cJSON_IsString(ref) || !cJSON_IsString(after)) {
		snprintf(reason, FILTER_REASON_MAX,
		    "push lacks \"ref\" or \"after\"");
		goto err;
	}
	if (!ref_safe(ref->valuestring)) {
		snprintf(reason, FILTER_REASON_MAX, "invalid \"ref\"");
		goto err;
	}
	if (!is_sha(after->valuestring)) {
		snprintf(reason, FILTER_REASON_MAX,
		    "\"after\" is not a commit id");
		goto err;
	}
	p->ref = ref->valuestring;
	p->after = after->valuestring;
	if (strncmp(p->ref, "refs/heads/", 11) == 0)
		p->branch = p->ref + 11;
	repo = cJSON_GetObjectItemCaseSensitive(p->root, "repository");
	name = cJSON_GetObjectItemCaseSensitive(repo, "full_name");
	p->repository = cJSON_IsString(name) ? name->valuestring : "";
	deleted = cJSON_GetObjectItemCaseSensitive(p->root, "deleted");
	p->deleted = cJSON_IsTrue(deleted) ||
	    strspn(p->after, "0") == strlen(p->after);
	return 0;
err:
	push_free(p);
	return -1;
}

void
push_free(struct push *p)
{
	cJSON_Delete(p->root);
	memset(p, 0, sizeof(*p));
}

void
selection_free(struct selection *sel)
{
	size_t i;

	for (i = 0; i < sel->n; i++)
		free(sel->configs[i]);
	free(sel->configs);
	memset(sel, 0, sizeof(*sel));
}

/*
 * The push's configs as the push leaves them: added or modified ones in
 * order of first appearance, minus those a later commit removed.  present[]
 * runs beside sel->configs.
 */
struct configs {
	struct selection	*sel;
	char			*present;
	size_t			 cap;
};

static int
configs_note(struct configs *cs, const char *path, int present)
{
	struct selection *sel = cs->sel;
	size_t i;
	char **v, *pr;

	for (i = 0; i < sel->n; i++)
		if (strcmp(sel->configs[i], path) == 0) {
			cs->present[i] = (char)present;
			return 0;
		}
	if (!present)
		return 0;
	if (sel->n == cs->cap) {
		cs->cap = cs->cap ? cs->cap * 2 : 8;
		if ((v = realloc(sel->configs, cs->cap * sizeof(*v))) == NULL)
			return -1;
		sel->configs = v;
		if ((pr = realloc(cs->present, cs->cap)) == NULL)
			return -1;
		cs->present = pr;
	}
	if ((sel->configs[sel->n] = strdup(path)) == NULL)
		return -1;
	cs->present[sel->n++] = 1;
	return 0;
}

/* Keeps the configs still present, in order. */
static void
configs_finish(struct configs *cs)
{
	struct selection *sel = cs->sel;
	size_t i, n = 0;

	for (i = 0; i < sel->n; i++) {
		if (cs->present[i])
			sel->configs[n++] = sel->configs[i];
		else
			free(sel->configs[i]);
	}
	sel->n = n;
	free(cs->present);
	cs->present = NULL;
}

static const char *const lists[] = { "added", "removed", "modified" };

/*
 * Walks the commits' file lists.  Sets *matched when a changed file
 * matches paths (after ignore_paths), *complete to 0 when GitHub did not
 * list every file.  Returns 0, or -1 if out of memory.
 */
struct patsets {
	struct patset	paths, ignore, configs;
};

static int
walk_commits(const struct patsets *ps, const cJSON *commits,
    struct configs *cs, int *matched, int *complete)
{
	const cJSON *commit, *list, *file;
	const char *path;
	size_t i;

	if (!cJSON_IsArray(commits) || cJSON_GetArraySize(commits) >= 2048)
		*complete = 0;
	cJSON_ArrayForEach(commit, commits) {
		for (i = 0; i < 3; i++) {
			list = cJSON_GetObjectItemCaseSensitive(commit,
			    lists[i]);
			if (!cJSON_IsArray(list)) {
				*complete = 0;
				continue;
			}
			cJSON_ArrayForEach(file, list) {
				if (!cJSON_IsString(file))
					continue;
				path = file->valuestring;
				if (patset_match(&ps->ignore, path))
					continue;
				if (!*matched && patset_match(&ps->paths, path))
					*matched = 1;
				if (patset_match(&ps->configs, path) &&
				    path_safe(path) &&
				    configs_note(cs, path, i != 1) == -1)
					return -1;
			}
		}
	}
	return 0;
}

int
filter_push(const struct conf *c, const struct push *p,
    struct selection *sel, char reason[FILTER_REASON_MAX])
{
	struct configs cs = { sel, NULL, 0 };
	struct patsets ps;
	int matched = 0, complete = 1, r;
	size_t i;

	memset(sel, 0, sizeof(*sel));
	if (strncmp(p->ref, "refs/tags/", 10) == 0) {
		snprintf(reason, FILTER_REASON_MAX, "tag push (%s)", p->ref);
		return 0;
	}
	if (p->branch == NULL) {
		snprintf(reason, FILTER_REASON_MAX, "not a branch (%s)",
		    p->ref);
		return 0;
	}
	for (i = 0; i < c->branches.n; i++)
		if (glob_match(c->branches.v[i], p->branch))
			break;
	if (i == c->branches.n) {
		snprintf(reason, FILTER_REASON_MAX,
		    "branch %.200s is not watched", p->branch);
		return 0;
	}
	if (p->deleted) {
		snprintf(reason, FILTER_REASON_MAX,
		    "push deletes branch %.200s", p->branch);
		return 0;
	}
	memset(&ps, 0, sizeof(ps));
	r = patset_init(&ps.paths, &c->paths) == -1 ||
	    patset_init(&ps.ignore, &c->ignore_paths) == -1 ||
	    patset_init(&ps.configs, &c->configs) == -1 ||
	    walk_commits(&ps, cJSON_GetObjectItemCaseSensitive(p->root,
	    "commits"), &cs, &matched, &complete) == -1;
	patset_free(&ps.paths);
	patset_free(&ps.ignore);
	patset_free(&ps.configs);
	if (r)
		goto oom;
	configs_finish(&cs);
	if (!complete) {
		/* GitHub did not list every file: assume all changed. */
		selection_free(sel);
		sel->everything = 1;
	} else if (!matched) {
		selection_free(sel);
		snprintf(reason, FILTER_REASON_MAX,
		    "no changed file matches paths");
		return 0;
	}
	if (sel->n == 0) {
		free(sel->configs);
		if ((sel->configs = malloc(sizeof(char *))) == NULL ||
		    (sel->configs[0] = strdup(c->default_config)) == NULL)
			goto oom;
		sel->n = 1;
	}
	return 1;
oom:
	free(cs.present);
	selection_free(sel);
	snprintf(reason, FILTER_REASON_MAX, "out of memory");
	return -1;
}
