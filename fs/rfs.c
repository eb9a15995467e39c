/* SPDX-License-Identifier: MIT */
/* fs/rfs.c - the global state (rfs.h), the log and rfs_die. */
#include "rfs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

struct rcufs rfs = {.root_fd = -1, .source_fd = -1};

void rfs_log(const char *level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "rcufs: %s: %s\n", level, line);
}

void rfs_die(const char *fmt, ...)
{
	va_list ap;

	fputs("rcufs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}
