/* SPDX-License-Identifier: MIT */
/*
 * cache/tables.c - the three hash tables (dc->dentries, dc->inodes,
 * dc->ids, all dhash.h tables): their initial size and their explicit
 * growth.
 *
 * A table's size follows its node count, set from outside the table:
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
 *    registered with RCU, waits on dc->grow_sem and calls dh_resize() for
 *    each table whose target differs from the size it last gave it,
 *    holding no lock and outside any read section (dh_resize waits for a
 *    grace period).  A resize is O(buckets + nodes) work that no request
 *    handler pays: readers go on and find every node throughout; a writer
 *    waits at most for the move of its own stripe (dhash.h).
 *  - The grower also faults in the slabs' next chunks (slab.c,
 *    dc_slab_fill_spare), asked with the same semaphore.
 *  - dcache_free stops and joins the grower first; requests made after
 *    that are ignored.  The semaphore lives until the cache is freed.
 *
 * History, measured on this project's machine:
 *  - With cds_lfht's own lazy resizing (past 2048 nodes, only when chains
 *    average eight), a 4-component hit of a million-entry cache took 2.5
 *    us, 83% in cds_lfht_lookup; the explicit targets above brought a hit
 *    from 2780 to 1520 instructions (callgrind, dcbench --callgrind-ops
 *    200000 -n 100000).
 *  - Of the 1410 instructions left (issue 17: names inline, lines
 *    reordered), cds_lfht_lookup with its bit reversal took 406; with
 *    d_match and the node checks, 480 per hit went to the table.  The
 *    tables of dhash.h replaced cds_lfht: 1,457 -> 1,046 instructions per
 *    hit with the dentry table alone (dcbench --callgrind-ops 200000 -n
 *    10000), and their buckets are one word instead of two.
 *
 * Why no table starts at max_entries (as they did at first): every
 * bucket costs memory whether used or not (16 bytes under cds_lfht, 8
 * now), so the daemon's default max_entries of 1,000,000 made three
 * 2^20-bucket tables, 48 MiB resident before the first lookup (VmRSS 51.6
 * MB at mount), and lookups in them touched a random cache line and page
 * each.  Chains of up to two cost a lookup almost nothing: the stored
 * hash is compared before the key.
 */
#include "dcache_i.h"

/* 8 bytes per bucket: 2^26 is 512 MiB of bucket heads for one table */
#define DC_MAX_BUCKETS (1ul << 26)
#define DC_MIN_BUCKETS 1024ul

static uint64_t pow2_at_least(uint64_t n)
{
	uint64_t size = DC_MIN_BUCKETS;

	while (size < n && size < DC_MAX_BUCKETS)
		size <<= 1;
	return size;
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
	if (dh_init(&dc->dentries, size) || dh_init(&dc->inodes, size) ||
	    dh_init(&dc->ids, size))
		return -ENOMEM;
	return 0;
}

/* Last: no reader, no request, no grower. */
void dc_tables_destroy(struct dcache *dc)
{
	dh_destroy(&dc->dentries);
	dh_destroy(&dc->inodes);
	dh_destroy(&dc->ids);
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
		/* first: a resize can wait long for its grace period, and a
		 * spare that comes late is mapped by a request instead */
		dc_slab_fill_spare(&dc->dentry_slab);
		dc_slab_fill_spare(&dc->inode_slab);
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
			/* both or neither count as done (-ENOMEM) */
			if (!dh_resize(&dc->inodes, t) &&
			    !dh_resize(&dc->ids, t)) {
				done_i = t;
				dc_gauge_add(&dc->nr_resizes, 2);
			}
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
