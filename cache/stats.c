/* SPDX-License-Identifier: MIT */
/*
 * cache/stats.c - per-thread counters, summed on read: the engine
 * (tcount.h), used here for the dcache's counters and by the daemon for
 * its per-operation counters.
 *
 * Each registered thread owns a block of counters.  Only the owner writes
 * its block (relaxed atomic stores of load+1: no locked instruction on the
 * hot path); readers sum all blocks with relaxed loads, so a sum may miss
 * increments in flight but never sees a torn value.  Blocks live on their
 * set's list (the set's lock) while their thread is registered; at exit a
 * block's counts are folded into the set's retired counts and the block
 * is freed (tcount.h says the rest).
 */
#include "dcache_i.h"
#include "tcount.h"

/* ---- the engine (tcount.h) ---- */

struct tblock {
	struct cds_list_head list; /* the set's lock */
	uint64_t c[];		   /* owner thread writes, anyone reads */
};

static void fold_words(const struct tcount *t, void *to, const void *from)
{
	uint64_t *o = to;
	const uint64_t *f = from;
	size_t i;

	if (t->fold) {
		t->fold(to, from);
		return;
	}
	for (i = 0; i < t->size / sizeof(uint64_t); i++)
		o[i] += load_relaxed(f[i]);
}

void *tcount_thread_init(struct tcount *t)
{
	struct tblock *b = calloc(1, sizeof(*b) + t->size);

	if (!b)
		return NULL;
	pthread_mutex_lock(&t->lock);
	cds_list_add(&b->list, &t->threads);
	pthread_mutex_unlock(&t->lock);
	return b->c;
}

void tcount_thread_exit(struct tcount *t, void *block)
{
	struct tblock *b;

	if (!block)
		return;
	b = (struct tblock *)((char *)block - offsetof(struct tblock, c));
	pthread_mutex_lock(&t->lock);
	fold_words(t, t->retired, b->c);
	cds_list_del(&b->list);
	pthread_mutex_unlock(&t->lock);
	free(b);
}

void tcount_sum(struct tcount *t, void *out)
{
	struct tblock *b;

	memset(out, 0, t->size);
	pthread_mutex_lock(&t->lock);
	fold_words(t, out, t->retired);
	fold_words(t, out, t->orphan);
	cds_list_for_each_entry (b, &t->threads, list)
		fold_words(t, out, b->c);
	pthread_mutex_unlock(&t->lock);
}

/* ---- the dcache's counters ---- */

static uint64_t stats_retired[C_NR]; /* dc_tcount.lock */
static uint64_t stats_orphan[C_NR];  /* unregistered threads: atomics */
static struct tcount dc_tcount = TCOUNT_INIT(dc_tcount, sizeof(stats_retired),
					     NULL, stats_retired, stats_orphan);
static __thread uint64_t *my_stats; /* this thread's block */

void dc_stats_thread_init(void);
void dc_stats_thread_exit(void);

void dc_stats_thread_init(void)
{
	if (!my_stats)
		my_stats = tcount_thread_init(&dc_tcount);
}

void dc_stats_thread_exit(void)
{
	tcount_thread_exit(&dc_tcount, my_stats);
	my_stats = NULL;
}

void dc_count_n(enum dc_counter c, uint64_t n)
{
	uint64_t *t = my_stats;

	if (__builtin_expect(t != NULL, 1))
		store_relaxed(t[c], load_relaxed(t[c]) + n);
	else
		__atomic_fetch_add(&stats_orphan[c], n, __ATOMIC_RELAXED);
}

void dc_count(enum dc_counter c)
{
	dc_count_n(c, 1);
}

static void sum(uint64_t *out)
{
	tcount_sum(&dc_tcount, out);
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
