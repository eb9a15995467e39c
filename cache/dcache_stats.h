/* SPDX-License-Identifier: MIT */
/*
 * cache/dcache_stats.h - the dcache's counters (part of dcache.h, which
 * includes it; include dcache.h, not this file).
 */
#ifndef RCUFS_CACHE_DCACHE_STATS_H
#define RCUFS_CACHE_DCACHE_STATS_H

#include <stdint.h>

struct dcache;

enum dc_op {
	DC_OP_LOOKUP,
	DC_OP_GETATTR,
	DC_OP_ACCESS,
	DC_OP_READLINK,
	DC_OP_WALK,
	DC_OP_NR
};

enum dc_be_op { DC_BE_LOOKUP, DC_BE_GETATTR, DC_BE_READLINK, DC_BE_NR };

struct dcache_stats {
	/* Per-thread counters, summed on read. */
	uint64_t hits[DC_OP_NR];       /* answered inside RCU */
	uint64_t slow[DC_OP_NR];       /* needed references or the backend */
	uint64_t neg_hits;	       /* negative answers from the cache */
	uint64_t legit_ok, legit_fail; /* RCU -> ref transitions */
	uint64_t refwalk_restarts;     /* walks redone in ref mode from start */
	uint64_t backend_calls[DC_BE_NR];
	uint64_t backend_errors; /* errors other than -ENOENT */
	uint64_t inlookup_waits; /* waited for another thread's miss */
	uint64_t invalidations[DC_SRC_NR];
	uint64_t evictions;
	uint64_t rcu_barriers; /* back-pressure waits */
	/* Gauges of this dcache. */
	uint64_t dentries, negative_dentries, inodes, lru;
	uint64_t pending_frees; /* objects awaiting a grace period */
	uint64_t bytes;		/* memory of dentries, names, inodes */
	/* Hash tables: buckets asked for (the grower may still be on its
	 * way there) and table resizes made so far. */
	uint64_t dentry_buckets, inode_buckets;
	uint64_t table_resizes;
};

/*
 * Fill @st.  Thread counters are process-wide; gauges are @dc's (relaxed
 * snapshots, not one consistent state).  Any registered thread, outside
 * RCU; takes the statistics lock briefly; never calls the backend; no
 * grace period.
 */
void dcache_stats(struct dcache *dc, struct dcache_stats *st);

#endif /* RCUFS_CACHE_DCACHE_STATS_H */
