/* SPDX-License-Identifier: MIT */
/*
 * cache/stats.c - per-thread counters, summed on read.
 *
 * Each registered thread owns a block of counters.  Only the owner writes
 * its block (relaxed atomic stores of load+1: no locked instruction on the
 * hot path); readers sum all blocks with relaxed loads, so a sum may miss
 * increments in flight but never sees a torn value.  Blocks live on
 * stats_threads (stats_lock) while their thread is registered; at exit a
 * block's counts are folded into stats_retired and the block is freed.
 */
#include "dcache_i.h"

struct tstats {
	uint64_t c[C_NR];	   /* owner thread writes, anyone reads */
	struct cds_list_head list; /* stats_lock */
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static CDS_LIST_HEAD(stats_threads); /* stats_lock */
static uint64_t stats_retired[C_NR]; /* stats_lock */
static struct tstats stats_orphan;   /* unregistered threads: atomics */
static __thread struct tstats *my_stats;

void dc_stats_thread_init(void);
void dc_stats_thread_exit(void);

void dc_stats_thread_init(void)
{
	struct tstats *t;

	if (my_stats)
		return;
	t = calloc(1, sizeof(*t));
	if (!t)
		return; /* counts go to the shared orphan block */
	pthread_mutex_lock(&stats_lock);
	cds_list_add(&t->list, &stats_threads);
	pthread_mutex_unlock(&stats_lock);
	my_stats = t;
}

void dc_stats_thread_exit(void)
{
	struct tstats *t = my_stats;
	int i;

	if (!t)
		return;
	pthread_mutex_lock(&stats_lock);
	for (i = 0; i < C_NR; i++)
		stats_retired[i] += load_relaxed(t->c[i]);
	cds_list_del(&t->list);
	pthread_mutex_unlock(&stats_lock);
	my_stats = NULL;
	free(t);
}

void dc_count_n(enum dc_counter c, uint64_t n)
{
	struct tstats *t = my_stats;

	if (__builtin_expect(t != NULL, 1))
		store_relaxed(t->c[c], load_relaxed(t->c[c]) + n);
	else
		__atomic_fetch_add(&stats_orphan.c[c], n, __ATOMIC_RELAXED);
}

void dc_count(enum dc_counter c)
{
	dc_count_n(c, 1);
}

static void sum(uint64_t *out)
{
	struct tstats *t;
	int i;

	pthread_mutex_lock(&stats_lock);
	for (i = 0; i < C_NR; i++)
		out[i] = stats_retired[i] + load_relaxed(stats_orphan.c[i]);
	cds_list_for_each_entry (t, &stats_threads, list)
		for (i = 0; i < C_NR; i++)
			out[i] += load_relaxed(t->c[i]);
	pthread_mutex_unlock(&stats_lock);
}

void dcache_stats(struct dcache *dc, struct dcache_stats *st)
{
	uint64_t c[C_NR];
	int i;

	sum(c);
	memset(st, 0, sizeof(*st));
	for (i = 0; i < DC_OP_NR; i++) {
		st->hits[i] = c[C_HIT + i];
		st->slow[i] = c[C_SLOW + i];
	}
	st->neg_hits = c[C_NEG_HIT];
	st->legit_ok = c[C_LEGIT_OK];
	st->legit_fail = c[C_LEGIT_FAIL];
	st->refwalk_restarts = c[C_RESTART];
	for (i = 0; i < DC_BE_NR; i++)
		st->backend_calls[i] = c[C_BACKEND + i];
	st->backend_errors = c[C_BACKEND_ERR];
	st->inlookup_waits = c[C_INLOOKUP_WAIT];
	for (i = 0; i < DC_SRC_NR; i++)
		st->invalidations[i] = c[C_INVAL + i];
	st->evictions = c[C_EVICT];
	st->rcu_barriers = c[C_BARRIER];
	st->dentries = load_relaxed(dc->nr_dentries);
	st->negative_dentries = load_relaxed(dc->nr_negative);
	st->inodes = load_relaxed(dc->nr_inodes);
	st->lru = load_relaxed(dc->nr_lru);
	st->pending_frees = load_relaxed(dc->pending_frees);
	st->bytes = load_relaxed(dc->bytes);
	st->dentry_buckets = load_relaxed(dc->dentry_buckets);
	st->inode_buckets = load_relaxed(dc->inode_buckets);
	st->table_resizes = load_relaxed(dc->nr_resizes);
}
