/*
 * diff.c: a unified line diff.  See diff.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

struct line {
	const char	*s;
	size_t		 n;
	uint32_t	 h;
};

struct text {
	struct line	*l;
	int		 n;
};

/* An edit: '=' (a[ai] is b[bi]), '-' (a[ai] removed), '+' (b[bi] added). */
struct op {
	char		 tag;
	int		 ai, bi;
};

/* Splits s into lines (FNV-1a hashed).  Returns 0 or -1. */
static int
split(const char *s, size_t len, struct text *t)
{
	size_t i, start = 0, cap = 64;
	uint32_t h = 2166136261u;

	t->n = 0;
	if ((t->l = malloc(cap * sizeof(*t->l))) == NULL)
		return -1;
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != '\n') {
			h = (h ^ (unsigned char)s[i]) * 16777619u;
			continue;
		}
		if (i == len && start == len)
			break;		/* no line after a last '\n' */
		if ((size_t)t->n == cap) {
			struct line *nl;

			if (cap > (size_t)INT32_MAX / 2 || (nl = realloc(t->l,
			    2 * cap * sizeof(*nl))) == NULL)
				return -1;
			t->l = nl;
			cap *= 2;
		}
		t->l[t->n++] = (struct line){ s + start, i - start, h };
		start = i + 1;
		h = 2166136261u;
	}
	return 0;
}

static int
same(const struct line *x, const struct line *y)
{
	return x->h == y->h && x->n == y->n && memcmp(x->s, y->s, x->n) == 0;
}

/*
 * Myers' greedy forward search over a[a0, a0 + n) and b[b0, b0 + m),
 * its path appended to ops (at most n + m + 1 entries free there).
 * Returns the number of ops written, or -1 (ENOMEM).
 */
static long
myers(const struct text *a, int a0, int n, const struct text *b, int b0,
    int m, struct op *ops)
{
	int max = n + m, dmax = max < DIFF_D_MAX ? max : DIFF_D_MAX;
	int *v, *trace, d, k, x, y, px, pk, xs, found = -1;
	long nops = 0, i;

	if ((v = calloc(2 * (size_t)max + 3, sizeof(*v))) == NULL ||
	    (trace = malloc(((size_t)dmax + 1) * (dmax + 1) *
	    sizeof(*trace))) == NULL) {
		free(v);
		return -1;
	}
	v += max + 1;		/* v[k], k from -max - 1 to max + 1 */
	v[1] = 0;
	for (d = 0; d <= dmax && found == -1; d++) {
		for (k = -d; k <= d; k += 2) {
			x = k == -d || (k != d && v[k - 1] < v[k + 1]) ?
			    v[k + 1] : v[k - 1] + 1;
			y = x - k;
			while (x < n && y < m && same(&a->l[a0 + x],
			    &b->l[b0 + y]))
				x++, y++;
			v[k] = x;
			if (x >= n && y >= m)
				found = d;
		}
		memcpy(trace + (size_t)d * d, v - d, (2 * (size_t)d + 1) *
		    sizeof(*v));
	}
	if (found == -1) {
		/* Too far apart: all of a's middle removed, all of b's added. */
		for (x = 0; x < n; x++)
			ops[nops++] = (struct op){ '-', a0 + x, b0 };
		for (y = 0; y < m; y++)
			ops[nops++] = (struct op){ '+', a0 + n, b0 + y };
		goto out;
	}
	/* Back from (n, m): the ops come out last first. */
	x = n, y = m;
	for (d = found; d > 0; d--) {
		int *pv = trace + (size_t)(d - 1) * (d - 1) + (d - 1);

		k = x - y;
		pk = k == -d || (k != d && pv[k - 1] < pv[k + 1]) ? k + 1 :
		    k - 1;
		px = pv[pk];
		xs = pk == k + 1 ? px : px + 1;	/* where the edit led */
		while (x > xs) {
			x--, y--;
			ops[nops++] = (struct op){ '=', a0 + x, b0 + y };
		}
		if (pk == k + 1)
			y--, ops[nops++] = (struct op){ '+', a0 + x, b0 + y };
		else
			x--, ops[nops++] = (struct op){ '-', a0 + x, b0 + y };
	}
	while (x > 0 && y > 0) {
		x--, y--;
		ops[nops++] = (struct op){ '=', a0 + x, b0 + y };
	}
	for (i = 0; i < nops / 2; i++) {
		struct op t = ops[i];

		ops[i] = ops[nops - 1 - i];
		ops[nops - 1 - i] = t;
	}
out:
	free(v - max - 1);
	free(trace);
	return nops;
}

/* A hunk header's range: "start,count" as diff -u writes it. */
static int
range(char *buf, size_t size, int first, int count)
{
	if (count == 1)
		return snprintf(buf, size, "%d", first + 1);
	return snprintf(buf, size, "%d,%d", count ? first + 1 : first, count);
}

long
diff_unified(const char *a, size_t alen, const char *b, size_t blen,
    int context, diff_out *out, void *arg)
{
	struct text ta = { NULL, 0 }, tb = { NULL, 0 };
	struct op *ops = NULL;
	long nops = 0, mid, i, j, end, changes = 0, s, e;
	int head = 0, tail = 0, an = 0, bn = 0, k;
	char hdr[96], ra[40], rb[40];

	if (split(a, alen, &ta) == -1 || split(b, blen, &tb) == -1 ||
	    (ops = malloc(((size_t)ta.n + tb.n + 1) * sizeof(*ops))) == NULL)
		goto oom;
	while (head < ta.n && head < tb.n && same(&ta.l[head], &tb.l[head]))
		head++;
	while (tail < ta.n - head && tail < tb.n - head &&
	    same(&ta.l[ta.n - 1 - tail], &tb.l[tb.n - 1 - tail]))
		tail++;
	for (k = 0; k < head; k++)
		ops[nops++] = (struct op){ '=', k, k };
	if ((mid = myers(&ta, head, ta.n - head - tail, &tb, head,
	    tb.n - head - tail, ops + nops)) == -1)
		goto oom;
	nops += mid;
	for (k = 0; k < tail; k++)
		ops[nops++] = (struct op){ '=', ta.n - tail + k,
		    tb.n - tail + k };
	/* Hunks: changes and their context, merged when they touch. */
	for (i = 0; i < nops; i = end) {
		while (i < nops && ops[i].tag == '=')
			i++;
		if (i == nops)
			break;
		s = i - context > 0 ? i - context : 0;
		for (end = i; end < nops; end++) {
			if (ops[end].tag != '=')
				continue;
			for (j = end; j < nops && ops[j].tag == '='; j++)
				;
			if (j == nops || j - end > 2 * (long)context)
				break;
			end = j - 1;
		}
		e = end + context < nops ? end + context : nops;
		for (an = bn = 0, j = s; j < e; j++) {
			an += ops[j].tag != '+';
			bn += ops[j].tag != '-';
		}
		range(ra, sizeof(ra), ops[s].ai, an);
		range(rb, sizeof(rb), ops[s].bi, bn);
		k = snprintf(hdr, sizeof(hdr), "@@ -%s +%s @@", ra, rb);
		out(arg, '@', hdr, (size_t)k);
		for (j = s; j < e; j++) {
			const struct line *l = ops[j].tag == '+' ?
			    &tb.l[ops[j].bi] : &ta.l[ops[j].ai];

			out(arg, ops[j].tag == '=' ? ' ' : ops[j].tag, l->s,
			    l->n);
			changes += ops[j].tag != '=';
		}
		end = e;
	}
	free(ta.l);
	free(tb.l);
	free(ops);
	return changes;
oom:
	free(ta.l);
	free(tb.l);
	free(ops);
	errno = ENOMEM;
	return -1;
}
