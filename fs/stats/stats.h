/* SPDX-License-Identifier: MIT */
/*
 * fs/stats/stats.h - the statistics server and `rcufs stats`, and the
 * emit calls every layer uses to render its section.
 *
 * Layer: the lowest of fs/ (above rfs.h and cache/): every other module
 * may add to the output, none is called from here except through the
 * emitters registered with rfs_stats_add.
 */
#ifndef RCUFS_FS_STATS_STATS_H
#define RCUFS_FS_STATS_STATS_H

#include "rfs.h"

/*
 * The daemon serves its counters on the abstract unix socket
 * "\0rcufs/MAJOR:MINOR" named from the mount's st_dev; `rcufs stats
 * MOUNTPOINT` finds it by stat(2).  One thread accepts, renders every
 * section and replies; it starts after the mount and stops at unmount.
 */
int rfs_stats_start(void);
void rfs_stats_stop(void);
/* The `rcufs stats MOUNTPOINT [--json]` subcommand (statcmd.c). */
int rfs_stats_main(int argc, char **argv);

/*
 * Emitting a section: one set of calls renders both the text and the JSON
 * form.  Objects nest; a table is an object of rows that text mode prints
 * as columns (the keys of a row's values must follow the column list).
 */
struct rfs_emit;
void rfs_emit_begin(struct rfs_emit *e, const char *key);
void rfs_emit_end(struct rfs_emit *e);
void rfs_emit_u64(struct rfs_emit *e, const char *key, uint64_t v);
void rfs_emit_str(struct rfs_emit *e, const char *key, const char *v);
void rfs_emit_double(struct rfs_emit *e, const char *key, double v);
/* A latency: integer ns in JSON, "12.3us" in text. */
void rfs_emit_ns(struct rfs_emit *e, const char *key, uint64_t ns);
/* A byte count: integer in JSON, "1.5 MiB" in text. */
void rfs_emit_bytes(struct rfs_emit *e, const char *key, uint64_t v);
/* A value that does not apply: null in JSON, "-" in text. */
void rfs_emit_null(struct rfs_emit *e, const char *key);
void rfs_emit_table_begin(struct rfs_emit *e, const char *key,
			  const char *const *cols, unsigned ncols);
void rfs_emit_table_end(struct rfs_emit *e);

/*
 * A section of the output.  @emit runs on the statistics thread
 * (registered with RCU, not in a read section); it must not block for
 * long.  The server's own sections are "daemon", "operations" and
 * "dcache"; a layer adds its lines with rfs_stats_add (main.c, in output
 * order, before rfs_stats_start): to an existing section (after its other
 * lines) or as a new section at the end.  At most 16 in all.
 */
struct rfs_stats_section {
	const char *name;
	void (*emit)(struct rfs_emit *e);
};
void rfs_stats_add(const char *name, void (*emit)(struct rfs_emit *e));

#endif /* RCUFS_FS_STATS_STATS_H */
