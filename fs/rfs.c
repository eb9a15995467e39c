/* SPDX-License-Identifier: MIT */
/* fs/rfs.c - the global state (rfs.h) and the log. */
#include "rfs.h"

#include <stdarg.h>
#include <stdio.h>

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
