/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/tap.h - a tiny Test Anything Protocol helper.
 *
 *	ok(cond, "fmt", ...)          one test point
 *	is(got, expected, "fmt", ...) integers; prints both on failure
 *	is_str(got, expected, ...)    strings (NULL allowed)
 *	diag("fmt", ...)              a "# " comment line
 *	return tap_done();            the plan ("1..N"); 1 if anything failed
 *
 * Each macro evaluates to the truth of the check, so a test can stop
 * early: if (!ok(p != NULL, "...")) return;
 * Output is line buffered so a crash leaves every line printed so far.
 * Not thread-safe: report from the main thread.
 */
#ifndef RCUFS_TESTS_TAP_H
#define RCUFS_TESTS_TAP_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static unsigned tap_count, tap_failed;

__attribute__((format(printf, 2, 0))) static inline void
tap_vline(bool pass, const char *fmt, va_list ap)
{
	if (tap_count == 0)
		setvbuf(stdout, NULL, _IOLBF, 0);
	tap_count++;
	if (!pass)
		tap_failed++;
	printf("%s %u - ", pass ? "ok" : "not ok", tap_count);
	vprintf(fmt, ap);
	putchar('\n');
}

__attribute__((format(printf, 4, 5))) static inline bool
tap_ok(bool pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   failed at %s:%d\n", file, line);
	return pass;
}

__attribute__((format(printf, 6, 7))) static inline bool
tap_is(long long got, long long exp, const char *expr, const char *file,
       int line, const char *fmt, ...)
{
	bool pass = got == exp;
	va_list ap;

	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   failed at %s:%d: %s\n#        got: %lld\n"
		       "#   expected: %lld\n",
		       file, line, expr, got, exp);
	return pass;
}

__attribute__((format(printf, 5, 6))) static inline bool
tap_is_str(const char *got, const char *exp, const char *file, int line,
	   const char *fmt, ...)
{
	bool pass = got && exp ? strcmp(got, exp) == 0 : got == exp;
	va_list ap;

	va_start(ap, fmt);
	tap_vline(pass, fmt, ap);
	va_end(ap);
	if (!pass)
		printf("#   failed at %s:%d\n#        got: \"%s\"\n"
		       "#   expected: \"%s\"\n",
		       file, line, got ? got : "(null)", exp ? exp : "(null)");
	return pass;
}

__attribute__((format(printf, 1, 2))) static inline void diag(const char *fmt,
							      ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("# ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static inline int tap_done(void)
{
	printf("1..%u\n", tap_count);
	if (tap_failed)
		diag("%u of %u tests failed", tap_failed, tap_count);
	fflush(stdout);
	return tap_failed || !tap_count ? 1 : 0;
}

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)
#define is(got, exp, ...)                                                    \
	tap_is((long long)(got), (long long)(exp), #got, __FILE__, __LINE__, \
	       __VA_ARGS__)
#define is_str(got, exp, ...) \
	tap_is_str((got), (exp), __FILE__, __LINE__, __VA_ARGS__)

#endif /* RCUFS_TESTS_TAP_H */
