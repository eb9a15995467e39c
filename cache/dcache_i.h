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
 *	membership of its CHILDREN: every cds_lfht_add_unique/cds_lfht_del
 *	of a child happens with the parent's d_lock held, so under a
 *	parent's lock the set of its hashed children is stable.
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
 *	dc->grow_sem (lock-free); only the grower thread calls
 *	cds_lfht_resize, holding no lock, outside RCU (tables.c).  So no
 *	request handler ever pays for a resize.
 *
 * ==== Lock order ====
 *
 *	dc->rename_lock
 *	  dc->itable_lock          (inode creation and removal)
 *	    inode i_lock
 *	      parent d_lock        (ancestor before descendant;
 *	        child d_lock        unrelated dentries in address order,
 *	          dc->lru_lock      only under rename_lock)
 *	          dc->shrink_mutex (innermost: a final put kicks the
 *	                            shrinker under the dentry's d_lock,
 *	                            lru.c; the shrinker holds it only to
 *	                            sleep on shrink_cond, taking nothing
 *	                            else under it)
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
 *  - the dentry hash (dc->dentries, cds_lfht): nodes are embedded in the
 *    dentry or struct dc_hnode_ext (dc_node_dentry), whose dentry pointer
 *    is immutable; nodes are unlinked with
 *    cds_lfht_del under the parent's d_lock and freed after a grace period
 *    (the embedded node with its dentry, external ones by call_rcu);
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
#include <urcu/rculfhash.h>

#include "dcache.h"
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
 * ThreadSanitizer cannot see the ordering cds_lfht gives between an add
 * and a lookup that finds the node (liburcu's atomics are inline
 * assembly): tell it, in TSan builds only.
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
#define tsan_publish(p) __tsan_release(p)
#define tsan_found(p) __tsan_acquire(p)
/*
 * Nor can it see a grace period.  So, in TSan builds only, the end of
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
#define tsan_publish(p) ((void)(p))
#define tsan_found(p) ((void)(p))
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

/*
 * A dentry's name: an immutable block {len, bytes, NUL}.  Short names
 * live inside the dentry (d_iname, written once by d_alloc before the
 * dentry is published, never changed afterwards); longer ones, and every
 * name given by a rename, are separate allocations ("external"), freed
 * after a grace period once replaced (rename.c) or with the dentry.  So
 * whatever block a lockless reader finds through d_name stays valid and
 * unchanged until the end of its read section; the dentry's d_seq tells
 * it whether the (parent, name) pair it read is consistent.  A rename
 * never writes into d_iname (readers may be comparing it): it points
 * d_name at a new external block, and the inline bytes stay as they were,
 * unused, until the dentry is freed.
 *
 * No hash is stored: the table's hash (dc_salt of the parent and the
 * name's hash) is what cds_lfht compares before d_match, and the slow
 * paths that need the name's hash again recompute it (dc_name_hash).
 */
struct dc_name {
	uint32_t len;
	char s[]; /* len bytes and a NUL */
};

/*
 * Bytes of the inline name block: the length, up to DC_INAME_MAX bytes
 * and a NUL.  It starts at byte 48 of the dentry: names of up to
 * DC_INAME_LINE0 bytes lie within the dentry's first cache line.
 */
#define DC_INAME_SIZE 40
#define DC_INAME_MAX (DC_INAME_SIZE - (int)sizeof(struct dc_name) - 1)
#define DC_INAME_LINE0 (DC_CACHELINE - 48 - (int)sizeof(struct dc_name) - 1)

/*
 * Hash nodes of dc->dentries.  A dentry's first node is embedded at its
 * very start (d_hash), so it is 64-byte aligned (slab.c; aligned_alloc
 * under the sanitizers) and leads to the dentry without a pointer to
 * load.  A rename gives the dentry a new node (the old one cannot be
 * re-keyed or reused before a grace period): a struct dc_hnode_ext, whose
 * node is never 64-byte aligned (offset 16 of a 64-byte aligned block).
 * dc_node_dentry tells the two apart by the node's address.
 */
struct dc_hnode_ext {
	struct dentry *dentry; /* immutable */
	uint64_t pad;
	struct cds_lfht_node node;
	struct rcu_head rcu;
	struct dcache *dc;
} __attribute__((aligned(DC_CACHELINE)));

enum {
	D_IN_LOOKUP = 1u << 0,	/* placeholder: a backend lookup is running */
	D_WAITERS = 1u << 1,	/* someone sleeps on d_flags (futex) */
	D_UNHASHED = 1u << 2,	/* removed from dc->dentries (set once) */
	D_ON_LRU = 1u << 3,	/* on dc->lru (d_lock, then lru_lock) */
	D_REFERENCED = 1u << 4, /* used since it entered the LRU */
	D_ROOT = 1u << 5,
	D_KILLED = 1u << 6,   /* killed; only memory left */
	D_EVICTING = 1u << 7, /* the shrinker is deciding (see lru.c) */
	/*
	 * d_inode is a directory: a copy of its (immutable) i_type, set and
	 * cleared with d_inode inside the same d_seq write section, so a walk
	 * passes through a directory without loading its inode.
	 */
	D_DIR = 1u << 8,
};

/*
 * Layout (192 bytes, three cache lines).  A fast-path hit reads, per
 * intermediate component, line 0: the hash node cds_lfht compares,
 * parent, name pointer, seqcount, flags (D_DIR), expiry and the start of
 * the inline name (names of up to DC_INAME_LINE0 bytes end there; longer
 * inline ones go on into line 1).  d_inode is in line 1: only the last
 * component loads it.  Line 2 holds what reference holders write (the
 * lockref and the lists), so lockless readers do not share a line with
 * ref-walk writers.
 */
struct dentry {
	/* ---- line 0: read by RCU lookups ---- */
	struct cds_lfht_node d_hash;   /* embedded first hash node */
	struct dentry *__rcu d_parent; /* d_seq; root: itself */
	struct dc_name *__rcu d_name;  /* d_seq; &d_iname.n or external */
	seqcount_t d_seq;	       /* writers hold d_lock */
	uint32_t d_flags;	       /* atomic bit operations */
	uint64_t d_valid_until;	       /* atomic; monotonic ns */
	union {
		struct dc_name n;
		char bytes[DC_INAME_SIZE];
	} d_iname; /* immutable once published */

	/* ---- line 1 (from byte 88): the last component's, rarely
	 * written ---- */
	struct dc_inode *__rcu d_inode; /* d_seq; NULL = negative */
	struct dcache *d_cache;		/* immutable */
	struct cds_lfht_node *d_hnode;	/* current node; parent's d_lock */
	struct cds_list_head d_alias;	/* inode's i_lock */

	/* ---- line 2: written by reference holders ---- */
	struct lockref d_ref __attribute__((aligned(DC_CACHELINE)));
	int32_t d_error; /* failed in-lookup result; set before the wake */
	union {
		/* dc->lru_lock; unused once the kill took it off the LRU */
		struct cds_list_head d_lru;
		/* the deferred free, queued after that */
		struct rcu_head d_rcu;
	};
	struct cds_list_head d_child;	/* parent's d_lock */
	struct cds_list_head d_subdirs; /* d_lock */
};

_Static_assert(offsetof(struct dentry, d_hash) == 0 &&
		       offsetof(struct dentry, d_iname) == 48 &&
		       offsetof(struct dentry, d_ref) == 2 * DC_CACHELINE,
	       "the hit path's line 0: hash node, name, seq, flags, expiry");
_Static_assert(DC_INAME_MAX == 35 && DC_INAME_LINE0 == 11,
	       "inline names: up to 35 bytes, 11 of them within line 0");
_Static_assert(offsetof(struct dc_hnode_ext, node) % DC_CACHELINE != 0,
	       "an external node is never 64-byte aligned");

/* The dentry of a node of dc->dentries (embedded or external).  RCU. */
static inline struct dentry *dc_node_dentry(struct cds_lfht_node *node)
{
	if (!((uintptr_t)node & (DC_CACHELINE - 1)))
		return caa_container_of(node, struct dentry, d_hash);
	return caa_container_of(node, struct dc_hnode_ext, node)->dentry;
}

/* A symlink target: immutable once published. */
struct dc_link {
	struct rcu_head rcu;
	struct dcache *dc;
	size_t len;
	char s[]; /* len bytes and a NUL */
};

/*
 * The cached attributes, packed into ten words (the dc_attr fields that
 * Linux keeps in 32 bits share a word; dev and ino are the inode's key).
 * Written word by word with relaxed stores inside an i_seq write section,
 * copied word by word with relaxed loads (i_copy_attr).  An answer that
 * does not fit (a field beyond its 32 bits, or a dev/ino that is not the
 * inode's key) is not cached: the attributes are left invalid.
 */
struct dc_iattr {
	uint64_t mode_nlink; /* mode | nlink << 32 */
	uint64_t uid_gid;    /* uid | gid << 32 */
	uint64_t rdev;
	int64_t size, blocks;
	int64_t atime_sec, mtime_sec, ctime_sec;
	uint64_t amtime_nsec;	 /* atime_nsec | mtime_nsec << 32 */
	uint64_t ctime_nsec_blk; /* ctime_nsec | blksize << 32 */
};

/*
 * Layout (256 bytes, four cache lines).  What a walk's last component and
 * a getattr copy out fills lines 0-1: i_seq, the type, the attribute
 * expiry, the node id, the key (the attributes' dev and ino), i_dentry (a
 * FUSE lookup by parent id) and the packed attributes.  Line 2 holds the
 * hash nodes (a getattr by node id reads the id node too) and what only
 * the slow paths read; line 3 is what reference holders write.
 */
struct dc_inode {
	/* ---- lines 0-1: read by RCU readers ---- */
	seqcount_t i_seq;	       /* writers hold i_lock */
	uint32_t i_type;	       /* immutable: mode & S_IFMT */
	uint64_t i_attr_valid_until;   /* i_seq; 0 = invalid */
	uint64_t i_nodeid;	       /* immutable; the generation is
					  i_cache->generation */
	uint64_t i_dev, i_ino;	       /* immutable key */
	struct dentry *__rcu i_dentry; /* directories: their dentry */
	struct dc_iattr i_attr;	       /* i_seq; relaxed word copies */

	/* ---- line 2: hash nodes, slow paths ---- */
	struct cds_lfht_node i_idnode;	/* dc->ids; itable_lock */
	struct cds_lfht_node i_keynode; /* dc->inodes; itable_lock */
	struct dc_link *__rcu i_link;	/* i_seq + RCU; NULL = unknown */
	uint64_t i_link_valid_until;	/* i_seq */
	/* "no extended attributes": ctime_nsec + 1 of the attributes it was
	 * seen with (0 = unknown); valid while the cached attributes are
	 * and carry that ctime (i_seq; cleared by i_inval ATTR) */
	uint64_t i_noxattr_sec;
	uint32_t i_noxattr_nsec1;
	uint32_t i_flags; /* I_*; itable_lock */

	/* ---- line 3: written often ---- */
	struct lockref i_ref __attribute__((aligned(DC_CACHELINE)));
	uint64_t i_nlookup;    /* atomic; kernel lookups (while
				  non-zero: one i_ref, inode.c) */
	uint64_t i_attr_epoch; /* i_lock: dc->attr_epoch of the
				  last write-through change */
	void *i_private;       /* atomic, set once */
	union {
		/* i_lock; empty once the count reached zero */
		struct cds_list_head i_aliases;
		/* the deferred free, queued after that */
		struct rcu_head i_rcu;
	};
	struct dcache *i_cache; /* immutable */
};

_Static_assert(sizeof(struct dc_iattr) == 80, "packed attributes");
_Static_assert(offsetof(struct dc_inode, i_attr) == 48 &&
		       offsetof(struct dc_inode, i_idnode) == 2 * DC_CACHELINE,
	       "what a hit copies out of the inode: lines 0-1");

/* Memory per cached entry (issue 7): one line of reference words apart
 * from what readers read; keep them from growing unnoticed. */
_Static_assert(sizeof(struct dentry) == 3 * DC_CACHELINE, "dentry size");
_Static_assert(sizeof(struct dc_inode) == 4 * DC_CACHELINE, "inode size");

enum {
	I_UNKEYED = 1u << 0, /* removed from dc->inodes (key reused) */
	I_KILLED = 1u << 1,  /* count reached zero; freed after a GP */
};

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

/* Fixed-size objects from 2 MiB chunks (slab.c). */
struct dc_slab {
	pthread_mutex_t lock;
	size_t size;	 /* immutable: object size, a multiple of 64 */
	void *free_list; /* lock: freed objects, linked by their 1st word */
	char *next;	 /* lock: the unused rest of the newest chunk */
	char *end;	 /* lock */
	void *chunks;	 /* lock: every chunk, linked by its 1st word */
};

struct dcache {
	/* read-mostly */
	struct cds_lfht *dentries;		/* (parent, name) -> dentry */
	struct cds_lfht *inodes;		/* (dev, ino) -> dc_inode */
	struct cds_lfht *ids;			/* nodeid -> dc_inode */
	struct dc_slab dentry_slab, inode_slab; /* their own locks */
	struct dentry *root;	   /* immutable; holds one reference */
	struct dc_backend_ops ops; /* immutable copy */
	void *backend;
	uint64_t entry_ttl, neg_ttl, attr_ttl; /* atomic (dcache_set_ttls) */
	uint64_t max_entries, max_pending;

	pthread_mutex_t rename_lock;
	seqcount_t rename_seq; /* writers hold rename_lock */

	pthread_mutex_t itable_lock;
	uint64_t next_nodeid; /* itable_lock */
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
	uint64_t nr_resizes;  /* atomic: cds_lfht_resize calls */
	sem_t grow_sem;	      /* one post per target change */
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

/* ---- dentry.c ---- */
/* Is @n, a name of @d's, a separate allocation (not @d's inline block)?
 * Any context. */
static inline bool d_name_is_ext(const struct dentry *d,
				 const struct dc_name *n)
{
	return n != &d->d_iname.n;
}
/* Bytes an external name block takes (for dc->bytes).  Any context. */
static inline size_t dc_name_size(const struct dc_name *n)
{
	return sizeof(*n) + n->len + 1;
}
static inline uint64_t dc_rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

/*
 * Word-at-a-time multiplicative hash of a name (the tail word zero-padded,
 * little-endian, built without a call to memcpy).  Inline: a walk hashes
 * every component.  Any context.
 */
static inline uint32_t dc_name_hash(const char *name, size_t len)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ len, w;
	size_t i = 0, j;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, name + i, 8);
		h = dc_rotl((h ^ w) * 0xbf58476d1ce4e5b9ull, 29);
	}
	if (i < len) {
		w = 0;
		for (j = 0; i + j < len; j++)
			w |= (uint64_t)(unsigned char)name[i + j] << (8 * j);
		h = dc_rotl((h ^ w) * 0xbf58476d1ce4e5b9ull, 29);
	}
	h ^= h >> 31;
	h *= 0x94d049bb133111ebull;
	return (uint32_t)(h ^ h >> 32);
}

/* The table hash: the name's hash salted by its parent.  Any context. */
static inline unsigned long dc_salt(const struct dentry *parent,
				    uint32_t name_hash)
{
	uint64_t x = (uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ull;

	x ^= name_hash;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return (unsigned long)(x ^ x >> 32);
}
struct dc_name *dc_name_new(const char *name, size_t len);
struct dentry *d_alloc(struct dcache *dc, struct dentry *parent,
		       const char *name, size_t len);
void d_free_unused(struct dentry *d);
/* RCU: the hashed dentry (parent, name) or NULL; *seq = its d_seq sample. */
struct dentry *d_lookup_rcu(struct dcache *dc, struct dentry *parent,
			    const char *name, uint32_t len, uint32_t hash,
			    uint32_t *seq);
/* Ref mode: the referenced hashed child, or NULL.  Not in RCU. */
struct dentry *d_lookup_ref(struct dcache *dc, struct dentry *parent,
			    const char *name, uint32_t len, uint32_t hash);
/*
 * The *_locked functions: the caller holds the locks named (asserted in
 * cache_debug builds) and is not in an RCU read section (it holds
 * sleeping locks); they open their own read sections around the cds_lfht
 * calls and never wait for a grace period.
 * d_hash_add_locked: caller holds the parent's d_lock.
 */
int d_hash_add_locked(struct dentry *parent, struct dentry *d,
		      struct dentry **existing);
bool d_unhash_locked(struct dentry *d);
/* Caller holds @d's d_lock and its parent's. */
bool d_unhash_both_locked(struct dentry *d);
/* Negative <-> positive in one step under i_lock then d_lock (dentry.c).
 * Caller holds a reference on @d and no lock; not in RCU. */
void d_set_inode(struct dentry *d, struct dc_inode *inode);
bool d_set_inode_if_negative(struct dentry *d, struct dc_inode *inode);
/* Unhash everything cached below @d, and @d itself when @self. */
void d_prune(struct dentry *d, bool self, enum dc_inval_src src);
void d_make_negative(struct dentry *d, struct dc_inode **old);
/* Unhash @d and everything cached below it (not in RCU; no lock held). */
void d_invalidate(struct dentry *d, enum dc_inval_src src);
void d_wake_waiters(struct dentry *d);
void d_wait_lookup(struct dentry *d);
void d_kill(struct dentry *d);
bool d_is_dir(struct dentry *d);

/* ---- inode.c ---- */
struct dc_inode *i_find_id_rcu(struct dcache *dc, uint64_t nodeid);
/* Find or create the inode for @attr's key; referenced.  -ENOMEM. */
int i_get_or_create(struct dcache *dc, const struct dc_attr *attr,
		    const char *link, uint64_t since, struct dc_inode **out);
/* @since: I_WRITE_THROUGH for changes made through us (bumps the epoch),
 * else the dc->attr_epoch sampled before the backend call that produced
 * the data (stored only if the inode was not changed since). */
#define I_WRITE_THROUGH UINT64_MAX
uint64_t i_epoch(struct dcache *dc);
void i_set_attr(struct dc_inode *inode, const struct dc_attr *attr,
		uint64_t since);
int i_set_link(struct dc_inode *inode, const char *target, size_t len,
	       uint64_t since);
void i_inval(struct dc_inode *inode, unsigned what);
/* RCU or ref: copy attributes if valid; false if invalid or torn.
 * @until_out (may be NULL) gets their expiry (monotonic ns). */
bool i_copy_attr(struct dc_inode *inode, struct dc_attr *out, uint64_t *now,
		 uint64_t *until_out);
/* RCU or ref (reads inside a read section of its own, which nests): copy
 * the link target; 1 copied, 0 not cached/torn. */
int i_copy_link(struct dc_inode *inode, char *buf, size_t size, size_t *len,
		uint64_t *now);
/* Not in RCU, no lock held: may free. */
void i_put_many(struct dc_inode *inode, int32_t n);
/* Kernel lookup references (64-bit i_nlookup, one i_ref while non-zero):
 * get is RCU-safe and never blocks; put is not in RCU and may free. */
bool i_kref_get(struct dc_inode *inode);
uint64_t i_kref_put(struct dc_inode *inode, uint64_t n);
struct dentry *i_dir_alias_get_locked(struct dc_inode *inode, struct dentry *d);
void i_add_alias_locked(struct dc_inode *inode, struct dentry *d);
void i_del_alias_locked(struct dc_inode *inode, struct dentry *d);
void i_del_alias(struct dc_inode *inode, struct dentry *d);
void i_free_all(struct dcache *dc);

/* ---- walk.c ---- */
int dc_lookup_slow(struct dcache *dc, struct dentry *parent, const char *name,
		   uint32_t len, uint32_t hash, unsigned flags,
		   struct dentry **out);
struct dentry *dc_parent_of_id(struct dcache *dc, uint64_t nodeid, int *err);
int dc_check_name(const char *name, size_t *len);
int dc_finish(struct dcache *dc, struct dentry *d, unsigned flags,
	      struct dc_result *res);

/* ---- mutate.c ---- */
int dc_instantiate_in(struct dcache *dc, struct dentry *parent,
		      const char *name, size_t len, const struct dc_attr *attr,
		      const char *link, uint64_t since, unsigned flags,
		      struct dc_result *res);

/* ---- slab.c ---- */
void dc_slab_init(struct dc_slab *s, size_t size);
/* Where malloc may be called; NULL with errno ENOMEM. */
void *dc_slab_alloc(struct dc_slab *s);
void dc_slab_free(struct dc_slab *s, void *obj);
void dc_slab_destroy(struct dc_slab *s);

/* ---- lru.c ---- */
void lru_add_locked(struct dentry *d);
void lru_del(struct dentry *d);
void shrinker_kick(struct dcache *dc);
int shrinker_start(struct dcache *dc);
void shrinker_stop(struct dcache *dc);

#endif /* RCUFS_CACHE_DCACHE_I_H */
