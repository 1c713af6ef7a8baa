/*
 * t.h: the unit tests' few macros.  Each program says its plan first,
 * then each check prints "ok NAME" or "FAIL NAME: why"; tests/run counts
 * those lines.  The program's exit
 * status is the number of failures (capped), so a crash shows too.
 */
#ifndef T_H
#define T_H

#include <stdarg.h>
#include <stdio.h>

static int t_failed;

static void __attribute__((format(printf, 3, 4)))
t_check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("ok %s\n", name);
		return;
	}
	t_failed++;
	printf("FAIL %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/*
 * How many checks the program runs, said first: tests/run fails a suite
 * that ran another number (a check that silently stopped running).
 */
#define PLAN(n)		printf("plan %d\n", (n))

/* CHECK(cond, name, why-format, ...) */
#define CHECK(c, name, ...)	t_check(!!(c), name, __VA_ARGS__)

static int
t_exit(void)
{
	fflush(stdout);
	return t_failed > 100 ? 100 : t_failed;
}

#endif
