/* SPDX-License-Identifier: MIT */
/*
 * fs/stats/stats_i.h - what the files of fs/stats/ share: the state of one
 * rendering (emit.c writes it, server.c's sections read `json`).  A
 * struct rfs_emit belongs to the statistics thread that renders.
 */
#ifndef RCUFS_FS_STATS_STATS_I_H
#define RCUFS_FS_STATS_STATS_I_H

#include "stats/opstats.h"
#include "stats/stats.h"

#include <stdio.h>

#define EMIT_DEPTH 8

struct rfs_emit {
	FILE *f;
	bool json;
	int depth; /* objects open (JSON: below the root) */
	bool first[EMIT_DEPTH +
		   1]; /* JSON: nothing written at this depth yet */
	/* text: inside a table (its depth), inside a row */
	int table_depth;
	bool in_row;
};

#endif /* RCUFS_FS_STATS_STATS_I_H */
