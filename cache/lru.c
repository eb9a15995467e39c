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
 * cached" (d_lookup_ref, d_hash_add_locked, d_invalidate) unhashes it first,
 * under the parent's d_lock.
 */
#include "dcache_i.h"

#include <time.h>

/* Caller holds @d's d_lock; @d's count just dropped to 0. */
void lru_add_locked(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	bool over;

	DC_ASSERT_LOCKED(&d->d_ref);
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

	DC_ASSERT_MUTEX(&d->d_cache->lru_lock);
	DC_ASSERT_LOCKED(&d->d_ref);
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
/* entries looked at per hold of lru_lock, victims or not: a final put in
 * a request thread never waits behind a long scan */
#define SHRINK_SCAN 1024

size_t dcache_shrink(struct dcache *dc, size_t nr)
{
	struct dentry *batch[SHRINK_BATCH], *d;
	size_t killed = 0, n, scan, budget, held;
	bool more;

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
		held = 0;
		pthread_mutex_lock(&dc->lru_lock);
		for (scan = load_relaxed(dc->nr_lru);
		     scan && budget && held < SHRINK_SCAN && n < SHRINK_BATCH &&
		     killed + n < nr;
		     scan--, budget--, held++) {
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
		/* a pass over the whole LRU ends the call (scan reached 0) */
		more = held == SHRINK_SCAN && scan;
		pthread_mutex_unlock(&dc->lru_lock);
		if (!n) {
			if (more)
				continue; /* only kept ones so far: go on */
			break;
		}
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

/*
 * Entries the kernel still refers to (i_nlookup) cannot be evicted, and
 * the kernel may hold more than max_entries of them (a walk of a tree
 * bigger than the bound).  Then a pass finds too few victims, and every
 * final put kicks the shrinker again: without a pause it would rescan the
 * whole LRU at once, forever (measured: one core busy and a cold walk of
 * a 1.18M-entry tree over 200 s instead of about 10).  So after a pass
 * that fell short the shrinker ignores kicks for a while, 10 ms doubling
 * to 1 s while passes keep falling short; the kernel's FORGETs make
 * entries evictable again in their own time.
 */
#define SHRINK_PAUSE_MIN_NS 10000000ull
#define SHRINK_PAUSE_MAX_NS 1000000000ull

static void pause_locked(struct dcache *dc, uint64_t ns)
{
	struct timespec until;

	DC_ASSERT_MUTEX(&dc->shrink_mutex);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)(ns / 1000000000ull);
	until.tv_nsec += (long)(ns % 1000000000ull);
	if (until.tv_nsec >= 1000000000l) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000l;
	}
	while (!dc->shrinker_stop &&
	       pthread_cond_timedwait(&dc->shrink_cond, &dc->shrink_mutex,
				      &until) != ETIMEDOUT)
		;
}

static void *shrinker_main(void *arg)
{
	struct dcache *dc = arg;
	uint64_t n, max, want, pause = 0;
	size_t got;

	dcache_thread_enter();
	pthread_mutex_lock(&dc->shrink_mutex);
	while (!dc->shrinker_stop) {
		if (pause) {
			pause_locked(dc, pause);
			if (dc->shrinker_stop)
				break;
		} else if (!load_relaxed(dc->shrinker_kick)) {
			pthread_cond_wait(&dc->shrink_cond, &dc->shrink_mutex);
			continue;
		}
		store_relaxed(dc->shrinker_kick, false);
		pthread_mutex_unlock(&dc->shrink_mutex);
		max = dc->max_entries;
		n = load_relaxed(dc->nr_dentries);
		want = got = 0;
		if (max && n > max) {
			/* 1/16 below the bound so we are not kicked at once */
			want = n - max + max / 16;
			got = dcache_shrink(dc, want);
		} else if (load_relaxed(dc->pending_frees) > dc->max_pending) {
			dcache_shrink(dc, 0);
		}
		if (got < want)
			pause = pause ? pause * 2 : SHRINK_PAUSE_MIN_NS;
		else
			pause = 0;
		if (pause > SHRINK_PAUSE_MAX_NS)
			pause = SHRINK_PAUSE_MAX_NS;
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
