/* SPDX-License-Identifier: MIT */
/*
 * cache/tables.c - the three hash tables (dc->dentries, dc->inodes,
 * dc->ids): their initial size and their explicit growth.
 *
 * dc->dentries is a table of our own (dhash.h, which says why); the
 * inode tables are cds_lfht.  The sizing below applies to all three, and
 * the cds_lfht measurements to the inode tables (and to the dentry table
 * until it was replaced).
 *
 * cds_lfht's own automatic resizing (CDS_LFHT_AUTO_RESIZE) is lazy and
 * coarse: past 2048 nodes it looks at the node count only when that count
 * crosses a power of two, and grows only if chains then average eight or
 * more (CHAIN_LEN_RESIZE_THRESHOLD in liburcu 0.13), so a table filled
 * from 1024 buckets keeps chains of 2 to 8 (measured: 2.5 us per
 * 4-component walk of a million-entry cache, 83% of it in
 * cds_lfht_lookup).  So we resize the tables ourselves:
 *
 *  - Each table group has a target bucket count: dc->dentry_buckets for
 *    dc->dentries, dc->inode_buckets for dc->inodes and dc->ids.  Every
 *    cache, bounded or not, starts at DC_MIN_BUCKETS.
 *  - Whoever changes a gauge (nr_dentries, nr_inodes; dc_table_count)
 *    compares it with the target: above twice it (chains averaging more
 *    than two), or below 1/16 of it while the target is above the
 *    minimum, it moves the target to the least power of two >= the count
 *    (so a growing table quadruples at each step or more, and its chains
 *    average 1/2 to 2) and posts dc->grow_sem.  That
 *    is a compare-and-swap and a sem_post (an atomic increment, a futex
 *    wake when the grower sleeps): safe from any context, inside RCU read
 *    sections, under any lock, from call_rcu callbacks.  Nothing waits.
 *  - The grower thread, started by dcache_new for every cache and
 *    registered with RCU, waits on dc->grow_sem and calls cds_lfht_resize()
 *    for each table whose target differs from the size it last gave it.
 *    It holds no lock and is outside any read section while doing so, as
 *    cds_lfht_resize requires.  A resize is O(buckets) work that no
 *    request handler pays; readers and updaters go on concurrently
 *    (cds_lfht resizes are lock-free for them) and find every node
 *    throughout.
 *  - dcache_free stops and joins the grower first; requests made after
 *    that are ignored.  The semaphore lives until the cache is freed.
 *
 * CDS_LFHT_AUTO_RESIZE and CDS_LFHT_ACCOUNTING are off: the explicit
 * targets cover growth and shrinking, automatic shrinking (to one bucket
 * per node whenever a deletion makes the count a power of two) would move
 * a table under a target that cannot see it, and adds and deletes skip
 * the split counters.
 *
 * Measured (callgrind, dcbench --callgrind-ops 200000 -n 100000): a
 * 4-component fast-path hit went from 2780 to 1520 instructions
 * (cds_lfht_lookup alone from 1418 to 223).  A standalone cds_lfht of
 * 1.01M nodes with AUTO_RESIZE|ACCOUNTING answered lookups in 1312 ns, 584
 * ns once resized to 2^21 buckets; that resize took about 1 s of the
 * grower's time on this (loaded, 2-core) machine.
 *
 * Measured again for issue 17 (names inline, inode and dentry lines
 * reordered): of 1410 instructions per 4-component fast-path hit
 * (callgrind, dcbench --callgrind-ops 1000000, 10,000 entries),
 * cds_lfht_lookup with its bit reversal takes 406, 29%; with a simulated
 * 8 MiB last-level cache and 200,000 entries, 1.6 of the 4.6 last-level
 * misses per hit are cds_lfht's (its bucket array, 16 bytes per bucket on
 * 4 KiB pages, and the chain).  A table of our own (one 8-byte bucket
 * word, no bit reversal) could save part of both; not done.
 *
 * Why no table starts at max_entries (as they did at first): a bucket
 * costs 16 bytes whether used or not, and cds_lfht_new writes every one,
 * so the daemon's default max_entries of 1,000,000 made three 2^20-bucket
 * tables, 48 MiB resident before the first lookup (VmRSS 51.6 MB at
 * mount), and lookups in them touched a random cache line and page each.
 * Chains of up to two cost a lookup almost nothing: cds_lfht compares the
 * stored hash before the key.
 */
#include "dcache_i.h"

/* 16 bytes per bucket: 2^26 is 1 GiB of bucket heads for one table */
#define DC_MAX_BUCKETS (1ul << 26)
#define DC_MIN_BUCKETS 1024ul

static uint64_t pow2_at_least(uint64_t n)
{
	uint64_t size = DC_MIN_BUCKETS;

	while (size < n && size < DC_MAX_BUCKETS)
		size <<= 1;
	return size;
}

static struct cds_lfht *table_new(uint64_t size)
{
	return cds_lfht_new(size, DC_MIN_BUCKETS, DC_MAX_BUCKETS, 0, NULL);
}

/* Every cache starts at DC_MIN_BUCKETS and never goes below it. */
int dc_tables_new(struct dcache *dc)
{
	uint64_t size = DC_MIN_BUCKETS;

	dc->table_floor = size;
	dc->dentry_buckets = size;
	dc->inode_buckets = size;
	if (sem_init(&dc->grow_sem, 0, 0))
		return -errno;
	dc->grow_sem_ok = true;
	if (dh_init(&dc->dentries, size))
		return -ENOMEM;
	dc->inodes = table_new(size);
	dc->ids = table_new(size);
	if (!dc->inodes || !dc->ids)
		return -ENOMEM;
	return 0;
}

/* Last: no reader, no request, no grower. */
void dc_tables_destroy(struct dcache *dc)
{
	dh_destroy(&dc->dentries);
	if (dc->inodes)
		cds_lfht_destroy(dc->inodes, NULL);
	if (dc->ids)
		cds_lfht_destroy(dc->ids, NULL);
	if (dc->grow_sem_ok)
		sem_destroy(&dc->grow_sem);
}

/* Any context.  @count objects are in the tables of @target. */
void dc_resize_request(struct dcache *dc, uint64_t *target, uint64_t count)
{
	uint64_t want, cur = load_relaxed(*target);

	if (__atomic_load_n(&dc->grow_stop, __ATOMIC_RELAXED))
		return;
	want = pow2_at_least(count);
	if (want < dc->table_floor)
		want = dc->table_floor;
	for (;;) {
		/* still needed?  (another thread may have moved it) */
		if (want == cur ||
		    (want > cur ? count <= 2 * cur : count >= cur / 16))
			return;
		if (__atomic_compare_exchange_n(target, &cur, want, false,
						__ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			break;
	}
	/* fails only with EOVERFLOW, when the grower has plenty to wake for */
	sem_post(&dc->grow_sem);
}

static void *grower_main(void *arg)
{
	struct dcache *dc = arg;
	uint64_t done_d = dc->table_floor, done_i = dc->table_floor, t;

	dcache_thread_enter();
	for (;;) {
		while (sem_wait(&dc->grow_sem) && errno == EINTR)
			;
		if (__atomic_load_n(&dc->grow_stop, __ATOMIC_ACQUIRE))
			break;
		DC_ASSERT_NOT_RCU();
		/* dh_resize waits for a grace period: we are registered
		 * and outside any read section */
		t = load_relaxed(dc->dentry_buckets);
		if (t != done_d) {
			/* on -ENOMEM the old size stays; asked again at
			 * the next target change */
			if (!dh_resize(&dc->dentries, t)) {
				done_d = t;
				dc_gauge_add(&dc->nr_resizes, 1);
			}
		}
		t = load_relaxed(dc->inode_buckets);
		if (t != done_i) {
			cds_lfht_resize(dc->inodes, t);
			cds_lfht_resize(dc->ids, t);
			done_i = t;
			dc_gauge_add(&dc->nr_resizes, 2);
		}
	}
	dcache_thread_exit();
	return NULL;
}

int dc_grower_start(struct dcache *dc)
{
	int err = pthread_create(&dc->grower, NULL, grower_main, dc);

	if (err)
		return -err;
	dc->grower_started = true;
	return 0;
}

/* Not in RCU, no lock held.  Waits for a resize in progress. */
void dc_grower_stop(struct dcache *dc)
{
	__atomic_store_n(&dc->grow_stop, true, __ATOMIC_RELEASE);
	if (!dc->grower_started)
		return;
	sem_post(&dc->grow_sem);
	pthread_join(dc->grower, NULL);
	dc->grower_started = false;
}
