/* SPDX-License-Identifier: MIT */
/*
 * cache/lru.c - the LRU of unused dentries, the shrinker and the
 * pending-free back-pressure.
 *
 * A dentry enters the LRU on its final put (count 1 -> 0 under d_lock) and
 * stays there while it is reused: a later final put only marks it
 * D_REFERENCED (second chance).  The shrinker scans from the cold end with
 * lru_lock held; since the documented order is d_lock before lru_lock it
 * may only trylock a dentry, and skips (rotates) one it cannot lock: one
 * attempt per dentry per scan, never a trylock-and-retry loop.  A victim
 * (count 0, not referenced, not pinned by kernel lookups) is marked dead
 * right there, which makes the shrinker its one owner; it is killed after
 * lru_lock is released.  Until then it is dead but still hashed, and
 * lockless readers still find it: whoever acts on "this name is not
 * cached" (d_lookup_ref, d_hash_add_locked, d_prune) unhashes it first,
 * under the parent's d_lock.
 */
#include "dcache_i.h"

/* Caller holds @d's d_lock; @d's count just dropped to 0. */
void lru_add_locked(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	bool over;

	pthread_mutex_lock(&dc->lru_lock);
	if (load_relaxed(d->d_flags) & D_ON_LRU) {
		__atomic_fetch_or(&d->d_flags, D_REFERENCED, __ATOMIC_RELAXED);
	} else {
		cds_list_add(&d->d_lru, &dc->lru);
		__atomic_fetch_or(&d->d_flags, D_ON_LRU, __ATOMIC_RELAXED);
		dc_gauge_add(&dc->nr_lru, 1);
	}
	pthread_mutex_unlock(&dc->lru_lock);
	over = dc->max_entries &&
	       load_relaxed(dc->nr_dentries) > dc->max_entries;
	if (over && !load_relaxed(dc->shrinker_kick))
		shrinker_kick(dc);
}

void lru_del(struct dentry *d)
{
	struct dcache *dc = d->d_cache;

	if (!(load_relaxed(d->d_flags) & D_ON_LRU))
		return;
	pthread_mutex_lock(&dc->lru_lock);
	if (load_relaxed(d->d_flags) & D_ON_LRU) {
		cds_list_del_init(&d->d_lru);
		__atomic_fetch_and(&d->d_flags, ~(D_ON_LRU | D_REFERENCED),
				   __ATOMIC_RELAXED);
		dc_gauge_add(&dc->nr_lru, -1);
	}
	pthread_mutex_unlock(&dc->lru_lock);
}

/* Caller holds lru_lock and @d's d_lock.  What to do with an LRU entry. */
enum verdict { KEEP, DROP, EVICT };

static enum verdict judge(struct dentry *d)
{
	struct dc_inode *inode;
	uint32_t f = load_relaxed(d->d_flags);

	if (lockref_count(&d->d_ref) != 0)
		return DROP; /* in use: re-added at its next final put */
	if (f & D_REFERENCED) {
		__atomic_fetch_and(&d->d_flags, ~D_REFERENCED,
				   __ATOMIC_RELAXED);
		return KEEP;
	}
	inode = d->d_inode;
	if (!inode)
		return EVICT;
	/*
	 * An RCU-walk entry reply counts a kernel reference without taking
	 * one on the dentry (walk.c).  Handshake: announce first, then look
	 * at i_nlookup; the walker counts first, then looks for the flag.
	 */
	__atomic_fetch_or(&d->d_flags, D_EVICTING, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&inode->i_nlookup, __ATOMIC_SEQ_CST)) {
		__atomic_fetch_and(&d->d_flags, ~D_EVICTING, __ATOMIC_SEQ_CST);
		return KEEP; /* the kernel may still ask by node id */
	}
	return EVICT;
}

#define SHRINK_BATCH 128

size_t dcache_shrink(struct dcache *dc, size_t nr)
{
	struct dentry *batch[SHRINK_BATCH], *d;
	size_t killed = 0, n, scan, budget;

	DC_ASSERT_NOT_RCU();
	/* call_rcu has no back-pressure: wait for the queued frees here,
	 * never in a request handler, never under a lock */
	if (load_relaxed(dc->pending_frees) > dc->max_pending) {
		rcu_barrier();
		dc_count(C_BARRIER);
	}
	budget = 2 * nr + SHRINK_BATCH; /* bounds the work of one call */
	while (killed < nr && budget) {
		n = 0;
		pthread_mutex_lock(&dc->lru_lock);
		for (scan = load_relaxed(dc->nr_lru);
		     scan && budget && n < SHRINK_BATCH && killed + n < nr;
		     scan--, budget--) {
			if (cds_list_empty(&dc->lru))
				break;
			d = cds_list_entry(dc->lru.prev, struct dentry, d_lru);
			if (!lockref_trylock(&d->d_ref)) {
				cds_list_move(&d->d_lru, &dc->lru);
				continue;
			}
			switch (judge(d)) {
			case KEEP:
				cds_list_move(&d->d_lru, &dc->lru);
				break;
			case EVICT:
				/* marked dead: this shrinker owns the kill */
				lockref_mark_dead_locked(&d->d_ref);
				batch[n++] = d;
				/* off the LRU either way */
				__attribute__((fallthrough));
			case DROP:
				cds_list_del_init(&d->d_lru);
				__atomic_fetch_and(&d->d_flags,
						   ~(D_ON_LRU | D_REFERENCED),
						   __ATOMIC_RELAXED);
				dc_gauge_add(&dc->nr_lru, -1);
				break;
			}
			lockref_unlock(&d->d_ref);
		}
		pthread_mutex_unlock(&dc->lru_lock);
		if (!n)
			break;
		for (scan = 0; scan < n; scan++)
			d_kill(batch[scan]);
		killed += n;
		dc_count_n(C_EVICT, n);
	}
	return killed;
}

/* ---- the shrinker thread ---- */

void shrinker_kick(struct dcache *dc)
{
	if (!dc->shrinker_started)
		return;
	pthread_mutex_lock(&dc->shrink_mutex);
	/* read without the mutex by lru_add_locked as a hint */
	store_relaxed(dc->shrinker_kick, true);
	pthread_cond_signal(&dc->shrink_cond);
	pthread_mutex_unlock(&dc->shrink_mutex);
}

static void *shrinker_main(void *arg)
{
	struct dcache *dc = arg;
	uint64_t n, max;

	dcache_thread_enter();
	pthread_mutex_lock(&dc->shrink_mutex);
	while (!dc->shrinker_stop) {
		if (!load_relaxed(dc->shrinker_kick)) {
			pthread_cond_wait(&dc->shrink_cond, &dc->shrink_mutex);
			continue;
		}
		store_relaxed(dc->shrinker_kick, false);
		pthread_mutex_unlock(&dc->shrink_mutex);
		max = dc->max_entries;
		n = load_relaxed(dc->nr_dentries);
		if (max && n > max)
			/* 1/16 below the bound so we are not kicked at once */
			dcache_shrink(dc, n - max + max / 16);
		else if (load_relaxed(dc->pending_frees) > dc->max_pending)
			dcache_shrink(dc, 0);
		pthread_mutex_lock(&dc->shrink_mutex);
	}
	pthread_mutex_unlock(&dc->shrink_mutex);
	dcache_thread_exit();
	return NULL;
}

int shrinker_start(struct dcache *dc)
{
	int err = pthread_create(&dc->shrinker, NULL, shrinker_main, dc);

	if (err)
		return -err;
	dc->shrinker_started = true;
	return 0;
}

void shrinker_stop(struct dcache *dc)
{
	if (!dc->shrinker_started)
		return;
	pthread_mutex_lock(&dc->shrink_mutex);
	dc->shrinker_stop = true;
	pthread_cond_signal(&dc->shrink_cond);
	pthread_mutex_unlock(&dc->shrink_mutex);
	pthread_join(dc->shrinker, NULL);
	dc->shrinker_started = false;
}
