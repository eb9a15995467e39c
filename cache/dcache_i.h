/* SPDX-License-Identifier: MIT */
/*
 * cache/dcache_i.h - struct layouts and the locking/RCU rules of cache/.
 *
 * ==== What each lock protects ====
 *
 * dc->rename_lock (pthread mutex)
 *	serializes renames (dcache_rename); with it held the tree's shape
 *	cannot change, so ancestry tests are stable.  Writers of
 *	dc->rename_seq hold it.
 * dentry->d_ref's lock ("d_lock", the futex half of the lockref)
 *	the dentry's count (frozen while held), d_flags changes that decide
 *	lifetime (D_ON_LRU, D_REFERENCED), d_seq write sections of the
 *	dentry, d_inode changes (with the inode's i_lock too, below), the
 *	dentry's d_subdirs list, and hash-table
 *	membership of its CHILDREN: every dh_add_unique/dh_add/dh_del of a
 *	child happens with the parent's d_lock held, so under a parent's
 *	lock the set of its hashed children is stable.
 * the tables' stripe locks (pthread mutexes, dhash.h)
 *	the chains of one stripe of a table's buckets (dc->dentries,
 *	dc->inodes, dc->ids); taken inside dhash.c only, innermost, one at
 *	a time.
 * inode->i_ref's lock ("i_lock")
 *	the inode's count, i_seq write sections (attributes, validity, link
 *	target), the alias list i_aliases and i_dentry.
 * dc->itable_lock (pthread mutex)
 *	insertion into and removal from the inode tables (by key and by id),
 *	so that a key has at most one live inode.
 * dc->lru_lock (pthread mutex)
 *	dc->lru list and every dentry's d_lru linkage.
 * dc->shrink_mutex (pthread mutex)
 *	the shrinker thread's shrinker_stop and shrinker_kick (read without
 *	it as a hint) and its sleeps on shrink_cond (lru.c).
 * (no lock) hash-table sizes
 *	dc->dentry_buckets and dc->inode_buckets are moved by compare-and-
 *	swap from any context (dc_table_count), which then posts
 *	dc->grow_sem (lock-free); only the grower thread resizes
 *	(dh_resize), holding no other lock, outside RCU
 *	(tables.c).  So no request handler pays for a resize; one that adds
 *	or removes a name may wait for one stripe's move (dhash.h).  The
 *	same thread faults in the slabs' next chunks (dc_slab_fill_spare,
 *	asked through grow_sem by dc_slab_alloc; slab.c).
 *
 * ==== Lock order ====
 *
 *	dc->rename_lock
 *	  dc->itable_lock          (inode creation and removal)
 *	    inode i_lock
 *	      parent d_lock        (ancestor before descendant;
 *	        child d_lock        unrelated dentries in address order,
 *	          dc->lru_lock      only under rename_lock)
 *	          dc->shrink_mutex (a final put kicks the
 *	                            shrinker under the dentry's d_lock,
 *	                            lru.c; the shrinker holds it only to
 *	                            sleep on shrink_cond, taking nothing
 *	                            else under it)
 *	          a table's stripe lock (innermost; under any of the
 *	                            above, itable_lock included; nothing
 *	                            under it)
 *
 * A dentry turns positive or negative in one step, under its inode's
 * i_lock and then its own d_lock: d_set_inode_if_negative() publishes
 * d_inode and adds the alias together, d_make_negative() clears d_inode
 * and removes the alias together (as the kernel's d_instantiate and
 * dentry_unlink_inode).  So a positive dentry is always on its inode's
 * alias list, and the inode reference a dentry holds is only put after
 * it left the list.  A dentry's alias-list membership is never changed
 * with only its d_lock held.  A dentry being killed (dead: nothing can
 * make it positive again) clears d_inode under its d_lock and leaves the
 * alias list under i_lock afterwards.
 * A dentry being killed gives up its own d_lock before it takes its
 * parent's (it is dead by then, so nothing can change it).  No lock in
 * this list is ever held across synchronize_rcu(), rcu_barrier() or a hash
 * resize, and no lock is acquired inside an RCU read section except by
 * ref-walk code that has left RCU first.
 *
 * ==== What readers load under RCU ====
 *
 * Lockless readers (the fast path) hold only rcu_read_lock():
 *  - the dentry hash (dc->dentries, dhash.h): nodes are embedded in the
 *    dentry or struct dc_hnode_ext (dc_node_dentry), whose dentry pointer
 *    is immutable; nodes are unlinked with dh_del under the parent's
 *    d_lock and freed after a grace period (the embedded node with its
 *    dentry, external ones by call_rcu); lookups are exact during a
 *    resize too (dh_lookup);
 *  - d_parent, d_name, d_inode (and D_DIR in d_flags): published with
 *    rcu_store() inside a d_seq write section; name blocks are immutable
 *    (the inline one in the dentry is never rewritten; external ones are
 *    freed after a grace period once replaced, struct dc_name); readers
 *    re-validate d_seq after using them;
 *  - the inode tables (dc->inodes by key, dc->ids by node id): inodes are
 *    removed under itable_lock when their count drops to zero and freed by
 *    call_rcu; a reader that finds one must not trust it without either a
 *    reference (lockref_tryget_not_dead) or a sequence count that covers
 *    what it copies (i_seq for attributes and link target);
 *  - i_link: an immutable block published with rcu_store(), replaced under
 *    i_lock and freed by call_rcu.
 * Every free of something a reader can reach goes through call_rcu, and is
 * counted in dc->pending_frees until it runs.
 */
#ifndef RCUFS_CACHE_DCACHE_I_H
#define RCUFS_CACHE_DCACHE_I_H

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <urcu.h>
#include <urcu/list.h>

#include "dcache.h"
#include "dhash.h"
#include "lockref.h"
#include "seqcount.h"

/* Marks a pointer published under RCU: access only via rcu_load/store. */
#define __rcu

/*
 * rcu_dereference / rcu_assign_pointer, written with compiler atomics so
 * ThreadSanitizer sees the ordering (acquire is free on x86-64 and at least
 * as strong as the dependency ordering liburcu relies on).
 */
#define rcu_load(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)
#define rcu_store(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELEASE)
#define load_relaxed(p) __atomic_load_n(&(p), __ATOMIC_RELAXED)
#define store_relaxed(p, v) __atomic_store_n(&(p), (v), __ATOMIC_RELAXED)

#define DC_CACHELINE 64

/*
 * ThreadSanitizer cannot see liburcu's grace periods (the library is not
 * instrumented): tell it, in TSan builds only (below).
 */
#if defined(__SANITIZE_THREAD__)
#define DC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DC_TSAN 1
#endif
#endif
#ifdef DC_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
/*
 * So, in TSan builds only, the end of
 * every read section of cache/ and every dc_call_rcu release one token,
 * and every RCU callback of cache/ acquires it first (tsan_gp_done):
 * what readers did before their section ended, and what the caller did
 * before queueing the free, happens before the free.  That is what a
 * grace period guarantees, so no report of a real race in cache/ code is
 * lost (a reader still inside its section when the callback runs, which
 * RCU forbids, has not released the token yet and is reported), and
 * tests/tsan.supp needs no suppression of our callbacks.  Likewise the
 * waits: synchronize_rcu() acquires the readers' token, and rcu_barrier()
 * a second one that every callback of ours releases when it is done.
 */
extern char dc_tsan_gp, dc_tsan_cb;
static inline void dc_tsan_read_unlock(void)
{
	__tsan_release(&dc_tsan_gp);
	urcu_memb_read_unlock();
}
#undef rcu_read_unlock
#define rcu_read_unlock() dc_tsan_read_unlock()
#undef synchronize_rcu
#define synchronize_rcu() \
	(urcu_memb_synchronize_rcu(), __tsan_acquire(&dc_tsan_gp))
#undef rcu_barrier
#define rcu_barrier() (urcu_memb_barrier(), __tsan_acquire(&dc_tsan_cb))
#define tsan_gp_queue() __tsan_release(&dc_tsan_gp)
#define tsan_gp_done() __tsan_acquire(&dc_tsan_gp)
#define tsan_cb_end() __tsan_release(&dc_tsan_cb)
#else
#define tsan_gp_queue() ((void)0)
#define tsan_gp_done() ((void)0)
#define tsan_cb_end() ((void)0)
#endif

#ifdef DCACHE_DEBUG
#define DC_ASSERT(x) assert(x)
#else
#define DC_ASSERT(x) ((void)0)
#endif
/* Puts, locks and frees must not run inside an RCU read section. */
#define DC_ASSERT_NOT_RCU() DC_ASSERT(!rcu_read_ongoing())
#define DC_ASSERT_RCU() DC_ASSERT(rcu_read_ongoing())
/*
 * The calling thread holds lockref @lr's lock / pthread mutex @m (the
 * *_locked functions assert what they are documented to be called under).
 * cache_debug builds only: lockref_held() looks in the thread's list of
 * held lockrefs (lockref.c), dc_mutex_held() at the mutex's owner
 * (dcache.c).  Without cache_debug neither is evaluated.
 */
#define DC_ASSERT_LOCKED(lr) DC_ASSERT(lockref_held(lr))
#define DC_ASSERT_MUTEX(m) DC_ASSERT(dc_mutex_held(m))
#ifdef DCACHE_DEBUG
bool dc_mutex_held(pthread_mutex_t *m);
#endif

/* Per-thread statistics counters (see stats.c). */
enum dc_counter {
	C_HIT = 0,
	C_SLOW = C_HIT + DC_OP_NR,
	C_NEG_HIT = C_SLOW + DC_OP_NR,
	C_LEGIT_OK,
	C_LEGIT_FAIL,
	C_RESTART,
	C_BACKEND,
	C_BACKEND_ERR = C_BACKEND + DC_BE_NR,
	C_INLOOKUP_WAIT,
	C_INVAL,
	C_EVICT = C_INVAL + DC_SRC_NR,
	C_BARRIER,
	C_NR
};

/* Fixed-size objects from 2 MiB chunks (slab.c); under ASan or TSan each
 * object is its own aligned_alloc, so that they check its lifetime. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define DC_SLAB_PASSTHROUGH 1
#else
#define DC_SLAB_PASSTHROUGH 0
#endif
struct dc_slab {
	pthread_mutex_t lock;
	size_t size;	 /* immutable: object size, a multiple of 64 */
	void *free_list; /* lock: freed objects, linked by their 1st word */
	char *next;	 /* lock: the unused rest of the newest chunk */
	char *end;	 /* lock */
	void *chunks;	 /* lock: every chunk, linked by its 1st word */
	void *spare;	 /* lock: the next chunk, faulted in, or NULL */
	bool want_spare; /* lock: asked of the grower, not yet consumed */
	sem_t *kick;	 /* immutable: wakes the grower, which fills spare */
};

struct dcache {
	/* read-mostly */
	struct dc_slab dentry_slab, inode_slab; /* their own locks */
	struct dentry *root;	   /* immutable; holds one reference */
	struct dc_backend_ops ops; /* immutable copy */
	void *backend;
	uint64_t entry_ttl, neg_ttl, attr_ttl; /* atomic (dcache_set_ttls) */
	uint64_t max_entries, max_pending;

	pthread_mutex_t rename_lock;
	seqcount_t rename_seq; /* writers hold rename_lock */

	pthread_mutex_t itable_lock;
	uint64_t next_nodeid; /* itable_lock; read racily by i_prefetch */
	uint64_t generation;  /* immutable: creation time */

	pthread_mutex_t lru_lock;
	struct cds_list_head lru; /* lru_lock; head = most recent */

	/*
	 * Bumped (atomically) by every write-through change or invalidation
	 * of attributes or link targets.  A slow path samples it before it
	 * asks the backend and stores the answer only if the inode was not
	 * changed since (the kernel's fuse attr_version): a backend answer
	 * can be older than a write-through that finished meanwhile.
	 */
	uint64_t attr_epoch;

	/* gauges (atomic) */
	uint64_t nr_dentries, nr_negative, nr_inodes, nr_lru, bytes;
	uint64_t pending_frees;

	/*
	 * Hash-table sizes (tables.c): the bucket count last asked for, of
	 * dc->dentries (by nr_dentries) and of dc->inodes and dc->ids (by
	 * nr_inodes).  Atomic; moved by dc_resize_request, applied by the
	 * grower thread.
	 */
	uint64_t dentry_buckets, inode_buckets;
	uint64_t table_floor; /* immutable: the initial size */
	uint64_t nr_resizes;  /* atomic: dh_resize calls */
	sem_t grow_sem;	      /* a post per target change, per spare asked */
	bool grow_sem_ok;     /* immutable after dcache_new */
	bool grow_stop;	      /* atomic: dcache_free has begun */
	bool grower_started;
	pthread_t grower;

	/* shrinker thread */
	bool shrinker_started;
	bool shrinker_stop; /* shrink_mutex */
	bool shrinker_kick; /* shrink_mutex */
	pthread_t shrinker;
	pthread_mutex_t shrink_mutex;
	pthread_cond_t shrink_cond;
	/* the tables (dhash.h, each with its own stripe locks):
	 * (parent, name) -> dentry, (dev, ino) -> dc_inode, nodeid ->
	 * dc_inode */
	struct dh_table dentries, inodes, ids;
};

/* ---- tables.c ---- */
int dc_tables_new(struct dcache *dc);
void dc_tables_destroy(struct dcache *dc);
int dc_grower_start(struct dcache *dc);
void dc_grower_stop(struct dcache *dc);
void dc_resize_request(struct dcache *dc, uint64_t *target, uint64_t count);

/*
 * Add @delta to the gauge @g that sizes the tables of @target, and ask the
 * grower for a resize when the count left the target's range (tables.c).
 * Any context: RCU, locks, call_rcu callbacks.
 */
static inline void dc_table_count(struct dcache *dc, uint64_t *g,
				  uint64_t *target, int64_t delta)
{
	uint64_t n = __atomic_add_fetch(g, (uint64_t)delta, __ATOMIC_RELAXED);
	uint64_t t = load_relaxed(*target);

	if (__builtin_expect(n > 2 * t || (n < t / 16 && t > dc->table_floor),
			     0))
		dc_resize_request(dc, target, n);
}

/* ---- stats.c ---- */
void dc_count(enum dc_counter c);
void dc_count_n(enum dc_counter c, uint64_t n);

/* ---- dcache.c ---- */
uint64_t dc_now(void);
uint64_t dc_expiry(uint64_t ttl);

/* @ttl, capped by the backend for objects on device @dev (backend.h,
 * ttl_cap).  Any context. */
static inline uint64_t dc_ttl_dev(struct dcache *dc, uint64_t ttl, uint64_t dev)
{
	uint64_t cap;

	if (!dc->ops.ttl_cap || !ttl)
		return ttl;
	cap = dc->ops.ttl_cap(dc->backend, dev);
	return cap < ttl ? cap : ttl;
}
/*
 * Is a stamp still valid?  *now caches the clock across the checks of one
 * operation (0 = not read yet): a walk reads it at most once, and never
 * when everything is valid forever.  RCU-safe; no syscall (vDSO).
 */
static inline bool dc_valid_at(uint64_t until, uint64_t *now)
{
	if (until == DC_TTL_FOREVER)
		return true;
	if (!until)
		return false;
	if (!*now)
		*now = dc_now();
	return *now < until;
}

static inline bool dc_valid(uint64_t until)
{
	uint64_t now = 0;

	return dc_valid_at(until, &now);
}
/* Queue an RCU-deferred free, counted in pending_frees. */
void dc_call_rcu(struct dcache *dc, struct rcu_head *head,
		 void (*fn)(struct rcu_head *));
void dc_rcu_done(struct dcache *dc);
void dc_gauge_add(uint64_t *g, int64_t delta);

/* The objects: layouts and internal functions. */
#include "dentry_i.h"
#include "inode_i.h"

/* ---- lookup.c ---- */
/* One component in ref mode: *out the referenced child of @parent (a
 * referenced positive directory), positive or negative.  Not in RCU, no
 * lock held; may block (backend, another thread's in-lookup). */
int dc_lookup_slow(struct dcache *dc, struct dentry *parent, const char *name,
		   uint32_t len, uint32_t hash, unsigned flags,
		   struct dentry **out);

/* ---- answer.c ---- */
/* Answer for the referenced final dentry @d of a walk (consumed).  Not in
 * RCU, no lock held: may ask the backend (unless DC_CACHED) and put. */
int dc_finish(struct dcache *dc, struct dentry *d, unsigned flags,
	      struct dc_result *res);

/* ---- slab.c ---- */
/* @kick: the semaphore of the thread that calls dc_slab_fill_spare. */
void dc_slab_init(struct dc_slab *s, size_t size, sem_t *kick);
/* Where malloc may be called; NULL with errno ENOMEM. */
void *dc_slab_alloc(struct dc_slab *s);
void dc_slab_free(struct dc_slab *s, void *obj);
void dc_slab_destroy(struct dc_slab *s);
/* The grower only: not in RCU, no lock held; may fault in 2 MiB. */
void dc_slab_fill_spare(struct dc_slab *s);

/* ---- lru.c ---- */
void lru_add_locked(struct dentry *d);
void lru_del(struct dentry *d);
void shrinker_kick(struct dcache *dc);
int shrinker_start(struct dcache *dc);
void shrinker_stop(struct dcache *dc);

#endif /* RCUFS_CACHE_DCACHE_I_H */