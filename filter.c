/*
 * filter.c: push parsing, path globs and the choice of configs to train.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "filter.h"
#include "util.h"

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
 * A glob is compiled to a list of tokens and run as an NFA over the
 * string, one byte at a time, with the set of live tokens as a bitset:
 * the work is (string length) x (pattern length) / 64 whatever the
 * pattern, with no backtracking (a pattern like "**?*" repeated, or an
 * anchored "**" on a path of thousands of segments, stays linear).
 */
enum tok {
	T_LIT,		/* one byte */
	T_ANY,		/* '?': one byte but '/' */
	T_CLASS,	/* "[...]": one byte of the set ('/' never in it) */
	T_STAR,		/* '*': any bytes but '/' */
	T_DSTAR,	/* "**": any bytes */
	T_SKIP,		/* "**" + '/' at a segment start is T_SKIP, T_SEGS: */
	T_SEGS		/* "" (skipped), or any bytes up to and with a '/' */
};

struct glob {
	unsigned char	*kind;		/* enum tok, per token */
	unsigned char	*byte;		/* T_LIT: the byte; T_CLASS: set index */
	unsigned char	(*sets)[32];	/* class bitmaps */
	size_t		 n;		/* tokens; state n accepts */
	size_t		 words;		/* 64-bit words of a state set */
	uint64_t	*cur, *next;	/* scratch state sets, swapped */
	uint64_t	*mem;		/* where they are */
	const char	*tail;		/* a literal the match must end with */
	size_t		 taillen;
	int		 tail_only;	/* "*" + literal: the tail decides */
	int		 dironly;	/* path patterns: matches directories only */
	char		*pat;		/* path patterns: the source, trimmed */
};

static void
glob_free(struct glob *g)
{
	free(g->kind);
	free(g->byte);
	free(g->sets);
	free(g->mem);
	free(g->pat);
	memset(g, 0, sizeof(*g));
}

/*
 * Compiles pat[0..len).  With any_depth, the pattern is matched against a
 * name at any depth ("**" "/" before it).  Returns 0, or -1 if out of
 * memory.
 */
static int
glob_compile(struct glob *g, const char *pat, size_t len, int any_depth)
{
	const char *p = pat, *e = pat + len, *q;
	size_t nsets = 0, c;
	int hit;

	memset(g, 0, sizeof(*g));
	g->kind = malloc(len + 3);
	g->byte = calloc(len + 3, 1);
	g->sets = calloc(len / 2 + 1, sizeof(*g->sets));
	if (g->kind == NULL || g->byte == NULL || g->sets == NULL)
		goto oom;
	if (any_depth) {
		g->kind[g->n++] = T_SKIP;
		g->kind[g->n++] = T_SEGS;
	}
	while (p < e) {
		g->byte[g->n] = 0;
		switch (*p) {
		case '*':
			for (q = p; q < e && *q == '*'; q++)
				;
			if (q - p == 1)
				g->kind[g->n] = T_STAR;
			else if (q < e && *q == '/' && (p == pat || p[-1] == '/')) {
				g->kind[g->n++] = T_SKIP;
				g->kind[g->n] = T_SEGS;
				q++;
			} else
				g->kind[g->n] = T_DSTAR;
			p = q;
			g->n++;
			continue;
		case '?':
			g->kind[g->n++] = T_ANY;
			p++;
			continue;
		case '[':
			if (memchr(p, '\0', e - p) == NULL &&
			    class_match(p + 1, 'x', &hit) != NULL) {
				for (c = 1; c < 256; c++)
					if (c != '/' && class_match(p + 1,
					    (char)c, &hit) != NULL && hit)
						g->sets[nsets][c / 8] |=
						    1u << (c % 8);
				g->kind[g->n] = T_CLASS;
				g->byte[g->n++] = (unsigned char)nsets++;
				p = class_match(p + 1, 'x', &hit);
				continue;
			}
			break;
		case '\\':
			if (p + 1 < e)
				p++;
			break;
		}
		g->kind[g->n] = T_LIT;
		g->byte[g->n++] = (unsigned char)*p++;
	}
	g->words = (g->n + 1 + 63) / 64;
	if ((g->mem = calloc(2 * g->words, sizeof(uint64_t))) == NULL)
		goto oom;
	g->cur = g->mem;
	g->next = g->mem + g->words;
	/* The literal the pattern ends with, for a quick "no". */
	for (q = e; q > pat && strchr("*?[]\\/", q[-1]) == NULL; q--)
		;
	g->tail = q;
	g->taillen = e - q;
	g->tail_only = any_depth && g->n == 3 + g->taillen &&
	    g->kind[2] == T_STAR;
	return 0;
oom:
	glob_free(g);
	return -1;
}

#define SET_HAS(v, i)	((v)[(i) / 64] >> ((i) % 64) & 1)
#define SET_ADD(v, i)	((v)[(i) / 64] |= (uint64_t)1 << ((i) % 64))

/*
 * Adds what the live tokens reach without a byte: a star may be empty,
 * and "**" "/" may stand for no segment at all.
 */
static void
glob_closure(const struct glob *g, uint64_t *v)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		if (!SET_HAS(v, i))
			continue;
		if (g->kind[i] == T_STAR || g->kind[i] == T_DSTAR ||
		    g->kind[i] == T_SKIP)
			SET_ADD(v, i + 1);
		if (g->kind[i] == T_SKIP)
			SET_ADD(v, i + 2);
	}
}

/* Feeds byte c: g->next gets the states after it.  Returns 0 if none. */
static int
glob_step(struct glob *g, unsigned char c)
{
	uint64_t *cur = g->cur, *nx = g->next, w, any = 0;
	size_t k, i;

	memset(nx, 0, g->words * sizeof(*nx));
	for (k = 0; k < g->words; k++)
		for (w = cur[k]; w != 0; w &= w - 1) {
			i = k * 64 + (size_t)__builtin_ctzll(w);
			if (i >= g->n)
				continue;
			switch (g->kind[i]) {
			case T_LIT:
				if (c == g->byte[i])
					SET_ADD(nx, i + 1);
				break;
			case T_ANY:
				if (c != '/')
					SET_ADD(nx, i + 1);
				break;
			case T_CLASS:
				if (g->sets[g->byte[i]][c / 8] >> (c % 8) & 1)
					SET_ADD(nx, i + 1);
				break;
			case T_STAR:
				if (c != '/')
					SET_ADD(nx, i);
				break;
			case T_DSTAR:
				SET_ADD(nx, i);
				break;
			case T_SKIP:
				break;
			case T_SEGS:
				SET_ADD(nx, i);
				if (c == '/')
					SET_ADD(nx, i + 1);
				break;
			}
		}
	glob_closure(g, nx);
	for (k = 0; k < g->words; k++)
		any |= nx[k];
	g->next = cur;
	g->cur = nx;
	return any != 0;
}

/*
 * Runs g over [s, e).  With dirs, a match of any leading directory (the
 * bytes before a '/') counts, as .gitignore has it; with dironly, only
 * those count.  Returns 1 on a match, else 0.
 */
static int
glob_run(struct glob *g, const char *s, const char *e, int dirs, int dironly)
{
	memset(g->cur, 0, g->words * sizeof(uint64_t));
	SET_ADD(g->cur, 0);
	glob_closure(g, g->cur);
	for (; s < e; s++) {
		if (dirs && *s == '/' && SET_HAS(g->cur, g->n))
			return 1;
		if (!glob_step(g, (unsigned char)*s))
			return 0;
	}
	return !dironly && SET_HAS(g->cur, g->n);
}

int
glob_match(const char *pat, const char *s)
{
	struct glob g;
	int r;

	if (glob_compile(&g, pat, strlen(pat), 0) == -1)
		return 0;
	r = glob_run(&g, s, s + strlen(s), 0, 0);
	glob_free(&g);
	return r;
}

/*
 * A path pattern, as .gitignore has them: one without a '/' (but at its
 * end) matches a name at any depth, one with a '/' from the top; a
 * trailing '/' matches directories only.
 */
static int
pat_init(struct glob *g, const char *s)
{
	size_t len = strlen(s);
	int dironly = 0, anchored;
	char *pat;

	if (len > 0 && s[len - 1] == '/') {
		dironly = 1;
		len--;
	}
	anchored = memchr(s, '/', len) != NULL;
	if (*s == '/') {
		s++;
		len = len ? len - 1 : 0;
	}
	if ((pat = strndup(s, len)) == NULL ||
	    glob_compile(g, pat, len, !anchored) == -1) {
		free(pat);
		return -1;
	}
	g->pat = pat;
	g->dironly = dironly;
	return 0;
}

struct patset {
	struct glob	*v;
	size_t		 n;
};

static void
patset_free(struct patset *ps)
{
	size_t i;

	for (i = 0; i < ps->n; i++)
		glob_free(&ps->v[i]);
	free(ps->v);
	ps->v = NULL;
	ps->n = 0;
}

static int
patset_init(struct patset *ps, const struct strv *l)
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
 * Whether a match of g could end at some segment end of [path, e): the
 * pattern's literal tail must stand there.  For "*" and a literal, that
 * is the whole answer.
 */
static int
tail_fits(const struct glob *g, const char *path, const char *e)
{
	const char *s = path, *end;

	for (;;) {
		if ((end = memchr(s, '/', e - s)) == NULL) {
			if (g->dironly)
				return 0;
			end = e;
		}
		if ((size_t)(end - path) >= g->taillen &&
		    memcmp(end - g->taillen, g->tail, g->taillen) == 0)
			return 1;
		if (end == e)
			return 0;
		s = end + 1;
	}
}

/* Whether any pattern of ps matches path (or a leading directory of it). */
static int
patset_match(struct patset *ps, const char *path)
{
	const char *e = path + strlen(path);
	struct glob *g;
	size_t i;

	for (i = 0; i < ps->n; i++) {
		g = &ps->v[i];
		if (g->pat[0] == '\0' || !tail_fits(g, path, e))
			continue;
		if (g->tail_only || glob_run(g, path, e, 1, g->dironly))
			return 1;
	}
	return 0;
}

int
path_match(const char *pat, const char *path)
{
	struct patset ps = { NULL, 1 };
	struct glob g;
	int r;

	if (pat_init(&g, pat) == -1)
		return 0;
	ps.v = &g;
	r = patset_match(&ps, path);
	glob_free(&g);
	return r;
}

int
path_safe(const char *path)
{
	const char *s, *seg;

	if (*path == '\0' || *path == '/' || *path == '-' || !utf8_valid(path))
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

static const char *const lists[] = { "added", "removed", "modified" };

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
delivery_id_safe(const char *s)
{
	size_t n;

	if (s == NULL || *s == '\0' || *s == '.' || *s == '-')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '-' &&
		    s[n] != '_' && s[n] != '.')
			return 0;
	return n <= 64;
}

/* "owner/name" as GitHub allows them; "" when the payload had none. */
static int
repo_safe(const char *s)
{
	const char *slash = strchr(s, '/');
	size_t n;

	if (*s == '\0')
		return 1;
	if (slash == NULL || strchr(slash + 1, '/') != NULL ||
	    strlen(s) > 200)
		return 0;
	if (slash == s || slash[1] == '\0' || *s == '-' || *s == '.' ||
	    slash[1] == '-' || slash[1] == '.')
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && strchr("-_./", s[n]) ==
		    NULL)
			return 0;
	return 1;
}

int
job_values_valid(const char *ref, const char *sha, const char *repository,
    const char *config, const char *delivery, char reason[FILTER_REASON_MAX])
{
	if (ref == NULL || !ref_safe(ref))
		snprintf(reason, FILTER_REASON_MAX, "invalid \"ref\"");
	else if (sha == NULL || !is_sha(sha))
		snprintf(reason, FILTER_REASON_MAX,
		    "\"after\" is not a commit id");
	else if (repository != NULL && !repo_safe(repository))
		snprintf(reason, FILTER_REASON_MAX,
		    "invalid \"repository.full_name\"");
	else if (config != NULL && !path_safe(config))
		snprintf(reason, FILTER_REASON_MAX, "invalid config path");
	else if (delivery != NULL && !delivery_id_safe(delivery))
		snprintf(reason, FILTER_REASON_MAX, "invalid delivery id");
	else
		return 0;
	return -1;
}

/*
 * A "\u0000" escape anywhere in a string: cJSON would cut the string
 * there, so that what we check and what we use could differ.
 */
static int
has_nul_escape(const char *s, size_t len)
{
	const char *e = s + len, *p;

	for (p = s; (p = memchr(p, '\\', e - p)) != NULL; p += 2) {
		if (e - p >= 6 && p[1] == 'u' && memcmp(p + 2, "0000", 4) == 0)
			return 1;
		if (e - p < 2)
			break;
	}
	return 0;
}

/* Whether o has more than one member called name. */
static int
dup_key(const cJSON *o, const char *name)
{
	const cJSON *v;
	int n = 0;

	cJSON_ArrayForEach(v, o)
		if (v->string != NULL && strcmp(v->string, name) == 0 && ++n > 1)
			return 1;
	return 0;
}

/*
 * cJSON takes the first of two equal keys, where another reader may take
 * the last: the members that decide what runs must be there once.
 */
static int
dup_keys(const cJSON *root)
{
	static const char *const top[] = {
		"ref", "after", "deleted", "commits", "repository", NULL
	};
	const cJSON *commit;
	size_t i;

	for (i = 0; top[i] != NULL; i++)
		if (dup_key(root, top[i]))
			return 1;
	if (dup_key(cJSON_GetObjectItemCaseSensitive(root, "repository"),
	    "full_name"))
		return 1;
	cJSON_ArrayForEach(commit, cJSON_GetObjectItemCaseSensitive(root,
	    "commits"))
		for (i = 0; i < 3; i++)
			if (dup_key(commit, lists[i]))
				return 1;
	return 0;
}

/*
 * The repository's web address from html_url (where commit links point,
 * GitHub Enterprise Server's too), if it is plain http(s), free of
 * characters HTML or a shell would read, and ends in /owner/name; else
 * NULL.
 */
static const char *
url_safe(const cJSON *v, const char *full_name)
{
	const char *s;
	size_t n, m = strlen(full_name);

	if (!cJSON_IsString(v) || m == 0)
		return NULL;
	s = v->valuestring;
	n = strlen(s);
	if ((strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0) ||
	    n > 300 || n <= m + 1 || s[n - m - 1] != '/' ||
	    strcmp(s + n - m, full_name) != 0)
		return NULL;
	if (s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-._~:/")] != '\0')
		return NULL;
	return s;
}

/*
 * The arena a push's tree is parsed into: each of cJSON's allocations is
 * bumped out of the newest chunk (8-byte aligned), and nothing is freed
 * before the whole arena is.  The first chunk is a static block, so a
 * push of usual size costs no malloc, free or system call at all; a
 * larger one adds chunks from mmap, which go back to the system when it
 * is freed.
 */
#define CHUNK_SIZE	((size_t)8 << 20)
#define SMALL_SIZE	((size_t)256 << 10)

struct chunk {
	struct chunk	*next;
	size_t		 size, used;
};

struct arena {
	struct chunk	*chunks;
};

static struct arena *parsing;	/* the arena of the parse under way */
static union {
	struct chunk	 c;
	char		 bytes[SMALL_SIZE];
	max_align_t	 align;
} small;
static int small_busy;		/* a push's tree is in it */

static void *
arena_alloc(size_t n)
{
	struct chunk *c = parsing->chunks;
	size_t size;

	n = (n + 7) & ~(size_t)7;
	if (c == NULL || c->size - c->used < n) {
		if (c == NULL && !small_busy && n + sizeof(*c) <= SMALL_SIZE) {
			small_busy = 1;
			c = &small.c;
			size = SMALL_SIZE;
		} else if ((c = huge_map(n + sizeof(*c) > CHUNK_SIZE ?
		    n + sizeof(*c) : CHUNK_SIZE, &size)) == NULL)
			return NULL;	/* huge pages: see util.h */
		c->size = size;
		c->used = (sizeof(*c) + 7) & ~(size_t)7;
		c->next = parsing->chunks;
		parsing->chunks = c;
	}
	c->used += n;
	return (char *)c + c->used - n;
}

static void
arena_keep(void *ptr)
{
	(void)ptr;	/* freed with the arena */
}

static void
arena_free(struct arena *a)
{
	struct chunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->chunks; c != NULL; c = next) {
		next = c->next;
		if (c == &small.c)
			small_busy = 0;
		else
			huge_unmap(c, c->size);
	}
	free(a);
}

/*
 * The message of the commit a push leaves its branch at: head_commit's
 * (GitHub sends it for every push but a delete), else the one of commits
 * whose id is after; NULL if none says.
 */
static const char *
head_message(const cJSON *root, const char *after)
{
	const cJSON *hc, *list, *c, *id, *m;

	hc = cJSON_GetObjectItemCaseSensitive(root, "head_commit");
	id = cJSON_GetObjectItemCaseSensitive(hc, "id");
	m = cJSON_GetObjectItemCaseSensitive(hc, "message");
	if (cJSON_IsString(m) && (!cJSON_IsString(id) ||
	    strcmp(id->valuestring, after) == 0))
		return m->valuestring;
	list = cJSON_GetObjectItemCaseSensitive(root, "commits");
	if (!cJSON_IsArray(list))
		return NULL;
	cJSON_ArrayForEach(c, list) {
		id = cJSON_GetObjectItemCaseSensitive(c, "id");
		m = cJSON_GetObjectItemCaseSensitive(c, "message");
		if (cJSON_IsString(id) && cJSON_IsString(m) &&
		    strcmp(id->valuestring, after) == 0)
			return m->valuestring;
	}
	return NULL;
}

/* Parses body into an arena of p's own. */
static cJSON *
parse(struct push *p, const char *body, size_t len, const char **end)
{
	cJSON_Hooks hooks = { arena_alloc, arena_keep };
	cJSON *root;

	if ((p->arena = calloc(1, sizeof(*p->arena))) == NULL)
		return NULL;
	parsing = p->arena;
	cJSON_InitHooks(&hooks);
	root = cJSON_ParseWithLengthOpts(body, len, end, 0);
	cJSON_InitHooks(NULL);		/* malloc and free again */
	parsing = NULL;
	return root;
}

int
push_parse(struct push *p, const char *body, size_t len,
    char reason[FILTER_REASON_MAX])
{
	const cJSON *ref, *after, *repo, *name, *deleted;
	const char *end = NULL;

	memset(p, 0, sizeof(*p));
	if ((p->root = parse(p, body, len, &end)) == NULL ||
	    !cJSON_IsObject(p->root)) {
		snprintf(reason, FILTER_REASON_MAX, "body is not a JSON object");
		goto err;
	}
	while (end < body + len && strchr(" \t\r\n", *end) != NULL && *end)
		end++;
	if (end != body + len) {
		snprintf(reason, FILTER_REASON_MAX,
		    "bytes after the JSON object");
		goto err;
	}
	if (has_nul_escape(body, len)) {
		snprintf(reason, FILTER_REASON_MAX,
		    "\\u0000 in a JSON string");
		goto err;
	}
	if (dup_keys(p->root)) {
		snprintf(reason, FILTER_REASON_MAX,
		    "a member that decides the run is given twice");
		goto err;
	}
	ref = cJSON_GetObjectItemCaseSensitive(p->root, "ref");
	after = cJSON_GetObjectItemCaseSensitive(p->root, "after");
	if (!cJSON_IsString(ref) || !cJSON_IsString(after)) {
		snprintf(reason, FILTER_REASON_MAX,
		    "push lacks \"ref\" or \"after\"");
		goto err;
	}
	repo = cJSON_GetObjectItemCaseSensitive(p->root, "repository");
	name = cJSON_GetObjectItemCaseSensitive(repo, "full_name");
	p->repository = cJSON_IsString(name) ? name->valuestring : "";
	p->repository_url = url_safe(cJSON_GetObjectItemCaseSensitive(repo,
	    "html_url"), p->repository);
	if (job_values_valid(ref->valuestring, after->valuestring,
	    p->repository, NULL, NULL, reason) == -1)
		goto err;
	p->ref = ref->valuestring;
	p->after = after->valuestring;
	if (strncmp(p->ref, "refs/heads/", 11) == 0)
		p->branch = p->ref + 11;
	deleted = cJSON_GetObjectItemCaseSensitive(p->root, "deleted");
	p->deleted = cJSON_IsTrue(deleted) ||
	    strspn(p->after, "0") == strlen(p->after);
	title_clean(head_message(p->root, p->after), p->commit_title);
	return 0;
err:
	push_free(p);
	return -1;
}

void
push_free(struct push *p)
{
	arena_free(p->arena);		/* the tree with it */
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


/*
 * Walks the commits' file lists.  Sets *matched when a changed file
 * matches paths (after ignore_paths), *complete to 0 when GitHub did not
 * list every file: 2048 commits or more, a list missing, or a commit
 * whose three lists are all empty (its schema: they "may be empty even
 * if files were added", for a commit too large).  Returns 0, or -1 if
 * out of memory.
 */
struct patsets {
	struct patset	paths, ignore, configs;
};

static int
walk_commits(struct patsets *ps, const cJSON *commits,
    struct configs *cs, int *matched, int *complete)
{
	const cJSON *commit, *list, *file;
	const char *path;
	size_t i;
	int listed;

	if (!cJSON_IsArray(commits) || cJSON_GetArraySize(commits) >= 2048)
		*complete = 0;
	cJSON_ArrayForEach(commit, commits) {
		listed = 0;
		for (i = 0; i < 3; i++) {
			list = cJSON_GetObjectItemCaseSensitive(commit,
			    lists[i]);
			if (!cJSON_IsArray(list)) {
				*complete = 0;
				continue;
			}
			listed += cJSON_GetArraySize(list);
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
		if (listed == 0)
			*complete = 0;
	}
	return 0;
}

/* Whether a push to ref is ignored for its ref alone (reason then). */
static int
ref_ignored(const struct conf *c, const char *ref,
    char reason[FILTER_REASON_MAX])
{
	size_t i;

	if (strncmp(ref, "refs/tags/", 10) == 0) {
		snprintf(reason, FILTER_REASON_MAX, "tag push (%.200s)", ref);
		return 1;
	}
	if (strncmp(ref, "refs/heads/", 11) != 0) {
		snprintf(reason, FILTER_REASON_MAX, "not a branch (%.200s)",
		    ref);
		return 1;
	}
	for (i = 0; i < c->branches.n; i++)
		if (glob_match(c->branches.v[i], ref + 11))
			return 0;
	snprintf(reason, FILTER_REASON_MAX, "branch %.200s is not watched",
	    ref + 11);
	return 1;
}

/* JSON's white space. */
static const char *
skip_ws(const char *s, const char *e)
{
	while (s < e && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	return s;
}

/*
 * Past the JSON string at s (its opening quote); *esc says whether it has
 * an escape.  NULL if it does not end, or holds a control character.
 */
static const char *
skip_string(const char *s, const char *e, int *esc)
{
	*esc = 0;
	for (s++; s < e; s++) {
		if (*s == '"')
			return s + 1;
		if (*s == '\\') {
			*esc = 1;
			if (++s == e)
				return NULL;
		} else if ((unsigned char)*s < 0x20)
			return NULL;
	}
	return NULL;
}

/*
 * Past the JSON value at s, its nested values skipped by counting
 * brackets (strings skipped whole).  NULL when that fails.  It does not
 * check what it skips: its caller only ever concludes "ignore", and a
 * body it is unsure of goes to the parser.
 */
static const char *
skip_value(const char *s, const char *e)
{
	int depth = 0, esc;

	do {
		if ((s = skip_ws(s, e)) == e)
			return NULL;
		if (*s == '"') {
			if ((s = skip_string(s, e, &esc)) == NULL)
				return NULL;
		} else if (*s == '{' || *s == '[') {
			depth++;
			s++;
		} else if (*s == '}' || *s == ']') {
			if (--depth < 0)
				return NULL;
			s++;
		} else if (depth > 0)
			s++;		/* , : and scalars inside */
		else {
			const char *v = s;

			while (s < e && (isalnum((unsigned char)*s) ||
			    *s == '-' || *s == '+' || *s == '.'))
				s++;
			if (s == v)
				return NULL;
		}
	} while (depth > 0);
	return s;
}

enum filter_result
push_peek(const struct conf *c, const char *body, size_t len,
    char ref[PEEK_MAX], char after[PEEK_MAX], char reason[FILTER_REASON_MAX])
{
	const char *s = body, *e = body + len, *k, *v;
	char why[FILTER_REASON_MAX];
	int esc, seen = 0;
	size_t n, klen;

	ref[0] = after[0] = '\0';
	if ((s = skip_ws(s, e)) == e || *s++ != '{')
		return FILTER_RUN;
	for (;;) {
		if ((s = skip_ws(s, e)) == e || *s != '"')
			return FILTER_RUN;
		k = s;
		if ((s = skip_string(s, e, &esc)) == NULL || esc)
			return FILTER_RUN;	/* "r\u0065f" is "ref" too */
		klen = (size_t)(s - k);
		if ((s = skip_ws(s, e)) == e || *s++ != ':')
			return FILTER_RUN;
		v = skip_ws(s, e);
		if ((s = skip_value(v, e)) == NULL)
			return FILTER_RUN;
		n = (size_t)(s - v);
		if (klen == 5 && memcmp(k, "\"ref\"", 5) == 0) {
			/* Once, a string without escapes, or the parser says. */
			if (seen++ || *v != '"' || n - 2 >= PEEK_MAX ||
			    memchr(v, '\\', n) != NULL)
				return FILTER_RUN;
			memcpy(ref, v + 1, n - 2);
			ref[n - 2] = '\0';
			if (!ref_ignored(c, ref, why))
				return FILTER_RUN;	/* parsed, then */
		} else if (klen == 7 && memcmp(k, "\"after\"", 7) == 0 &&
		    *v == '"' &&
		    n - 2 < PEEK_MAX && memchr(v, '\\', n) == NULL) {
			memcpy(after, v + 1, n - 2);
			after[n - 2] = '\0';
		}
		if ((s = skip_ws(s, e)) < e && *s == ',') {
			s++;
			continue;
		}
		if (s == e || *s++ != '}')
			return FILTER_RUN;
		break;
	}
	if (!seen || skip_ws(s, e) != e)
		return FILTER_RUN;
	memcpy(reason, why, FILTER_REASON_MAX);
	return FILTER_IGNORE;
}

int
repo_of_url(const char *url, char out[REPO_NAME_MAX])
{
	const char *path, *host, *end, *name, *base, *at;
	size_t n;

	if (url == NULL)
		return 0;
	if ((host = strstr(url, "://")) != NULL) {
		if (strncmp(url, "file://", 7) == 0 ||
		    (path = strchr(host + 3, '/')) == NULL)
			return 0;	/* a local path names no owner */
		host += 3;
	} else if (url[0] != '/' && (path = strchr(url, ':')) != NULL &&
	    strchr(url, '/') > path) {
		host = url;		/* scp-like: git@host:owner/name */
		path++;
	} else
		return 0;
	/* GitHub's: a mirror elsewhere may well be named otherwise. */
	if ((at = memchr(host, '@', (size_t)(path - host))) != NULL)
		host = at + 1;
	if (strncasecmp(host, "github.com", 10) != 0 || (host[10] != ':' &&
	    host[10] != '/'))
		return 0;
	base = path;
	end = path + strlen(path);
	while (end > path && end[-1] == '/')
		end--;
	if (end - path > 4 && strncmp(end - 4, ".git", 4) == 0)
		end -= 4;
	/* The last two words: owner/name. */
	for (name = end; name > path && name[-1] != '/'; name--)
		;
	if (name == path || name == end)
		return 0;
	for (path = name - 1; path > base && path[-1] != '/'; path--)
		;
	if ((n = (size_t)(end - path)) >= REPO_NAME_MAX)
		return 0;
	memcpy(out, path, n);
	out[n] = '\0';
	return repo_name_valid(out);
}

/*
 * Whether a push names another repository than the configured one (an
 * organization's webhook signs them all): said in reason.  Only a
 * repository on github.com names its owner/name; for another URL (a
 * local path, a mirror) any is taken.
 */
static int
repo_other(const struct conf *c, const char *repository,
    char reason[FILTER_REASON_MAX])
{
	char mine[REPO_NAME_MAX];

	if (!repo_of_url(c->repository, mine) || (repository != NULL &&
	    strcasecmp(repository, mine) == 0))
		return 0;
	snprintf(reason, FILTER_REASON_MAX, "repository %.100s is not the "
	    "configured one (%s)", repository ? repository : "(none)", mine);
	return 1;
}

enum filter_result
filter_push(const struct conf *c, const struct push *p,
    struct selection *sel, char reason[FILTER_REASON_MAX])
{
	struct configs cs = { sel, NULL, 0 };
	const cJSON *commits = cJSON_GetObjectItemCaseSensitive(p->root,
	    "commits");
	struct patsets ps;
	int matched = 0, complete = 1, r;

	memset(sel, 0, sizeof(*sel));
	if (ref_ignored(c, p->ref, reason))
		return FILTER_IGNORE;
	if (repo_other(c, p->repository, reason))
		return FILTER_IGNORE;
	if (p->deleted) {
		snprintf(reason, FILTER_REASON_MAX,
		    "push deletes branch %.200s", p->branch);
		return FILTER_IGNORE;
	}
	memset(&ps, 0, sizeof(ps));
	r = patset_init(&ps.paths, &c->paths) == -1 ||
	    patset_init(&ps.ignore, &c->ignore_paths) == -1 ||
	    patset_init(&ps.configs, &c->configs) == -1 ||
	    walk_commits(&ps, commits, &cs, &matched, &complete) == -1;
	patset_free(&ps.paths);
	patset_free(&ps.ignore);
	patset_free(&ps.configs);
	if (r)
		goto oom;
	/*
	 * No commits, but the branch's tree moved: a force-push back to an
	 * older commit, or a branch made at one that exists.  What changed
	 * is unknown; the tree trained is another.
	 */
	if (cJSON_IsArray(commits) && cJSON_GetArraySize(commits) == 0 &&
	    (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p->root,
	    "forced")) || cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
	    p->root, "created"))))
		complete = 0;
	configs_finish(&cs);
	if (!complete) {
		/* GitHub did not list every file: assume all changed. */
		selection_free(sel);
		sel->everything = 1;
	} else if (!matched) {
		selection_free(sel);
		snprintf(reason, FILTER_REASON_MAX,
		    "no changed file matches paths");
		return FILTER_IGNORE;
	}
	if (sel->n == 0) {
		free(sel->configs);
		if ((sel->configs = malloc(sizeof(char *))) == NULL ||
		    (sel->configs[0] = strdup(c->default_config)) == NULL)
			goto oom;
		sel->n = 1;
	}
	return FILTER_RUN;
oom:
	free(cs.present);
	selection_free(sel);
	snprintf(reason, FILTER_REASON_MAX, "out of memory");
	return FILTER_ERROR;
}
