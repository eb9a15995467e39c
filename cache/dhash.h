/* SPDX-License-Identifier: MIT */
/*
 * cache/dhash.h - the cache's hash tables (dc->dentries, dc->inodes,
 * dc->ids): chained buckets of one word, lockless readers under RCU,
 * writers serialized per stripe of buckets, and a resize that no reader
 * waits for.
 *
 * Why not cds_lfht (which these tables replaced, issue 17): a
 * split-ordered list costs a hit a bit reversal, two indirect calls
 * (bucket_at, match) and a 16-byte bucket; measured on a 10,000-
 * entry cache (callgrind, dcbench --callgrind-ops), its lookup with
 * d_match and d_lookup_rcu took 480 of the 1,420 instructions of a
 * 4-component hit.  Here a lookup is a load of the bucket word and a loop
 * the caller inlines, with its own key comparison.
 *
 * ==== Shape ====
 * A table (struct dh_buckets) is a power-of-two array of chain heads.  A
 * node (struct dh_node, 16 bytes, embedded in what it indexes) holds the
 * next pointer and its full hash, which never changes while the node is
 * in a table (a new key needs a new node).  Bit 0 of next marks a node
 * deleted: set, before the node is unlinked, by dh_del; the pointer
 * itself stays valid, so a reader standing on a deleted node still
 * reaches the rest of its chain.
 *
 * ==== Writers ====
 * Every add, delete and move happens under one of DH_STRIPES mutexes,
 * chosen by hash & (DH_STRIPES - 1).  Tables never have fewer buckets
 * than DH_STRIPES, so every bucket of every table size belongs to one
 * stripe, and under a stripe's lock its chains are stable.  Writers take
 * no other lock under a stripe lock and need no RCU read section (the
 * table a writer reaches under its stripe's lock is the one that holds
 * the stripe's nodes, and a table is freed only once every stripe left
 * it, below).  A stripe lock is innermost in cache/'s lock
 * order (dcache_i.h).
 *
 * ==== Resize (dh_resize; one thread at a time: the grower) ====
 * A new table is published in t->next.  Then, one stripe at a time under
 * its lock, every node of the stripe's old buckets moves to its new
 * bucket and the stripe is marked moved (writers to a moved stripe use
 * the new table).  Then t->cur becomes the new table, every stripe is
 * unmarked (one lock at a time: its writers go back to t->cur, now the
 * same table), t->next is cleared, and the old array is freed after a
 * grace period.  A request that adds or removes a name waits for at most
 * one stripe's move (its 1/DH_STRIPES of the nodes), never for the whole.
 *
 * ==== Readers (RCU read section, no lock) ====
 * dh_lookup is exact: it finds every node that is in the table for the
 * whole lookup.  Each stripe has a sequence count, odd while a resize
 * moves the stripe's nodes; a reader that misses while the count moved
 * searches again (dh_lookup says why the tables it searches suffice).
 * A reader standing on a node that a move relinks finishes its walk in
 * the new table's chain, which ends: it never loops, and never returns a
 * node of another key (it compares the hash and its own key).
 */
#ifndef RCUFS_CACHE_DHASH_H
#define RCUFS_CACHE_DHASH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "seqcount.h"

#define DH_STRIPES 256u
#define DH_MIN_BUCKETS DH_STRIPES

struct dh_node {
	uintptr_t next;	    /* RCU; bit 0: deleted; stripe lock */
	unsigned long hash; /* immutable while in a table */
};

struct dh_buckets {
	unsigned long mask; /* immutable: buckets - 1 */
	uintptr_t b[];	    /* RCU chain heads; stripe locks */
};

struct dh_stripe {
	pthread_mutex_t lock;
	bool moved; /* lock: this stripe's nodes are in next (resizing) */
} __attribute__((aligned(64)));

struct dh_table {
	struct dh_buckets *cur;	 /* RCU; the resizer (see above) */
	struct dh_buckets *next; /* RCU; non-NULL while resizing */
	/* per stripe, odd while a resize moves it (written under its lock);
	 * apart from the locks, which every add and delete writes, so that
	 * lookups read lines that only resizes write */
	seqcount_t seq[DH_STRIPES] __attribute__((aligned(64)));
	struct dh_stripe stripes[DH_STRIPES];
};

/* Bit 0 of a node's next: deleted.  A node's next before it is first
 * added is DH_UNHASHED ("deleted"), so that dh_del of a node never added
 * answers -ENOENT at once. */
#define DH_DELETED ((uintptr_t)1)
#define DH_UNHASHED DH_DELETED

/* ---- readers (inside an RCU read section; never block) ---- */

static inline struct dh_node *dh_head(const struct dh_buckets *b,
				      unsigned long hash)
{
	return (struct dh_node *)__atomic_load_n(&b->b[hash & b->mask],
						 __ATOMIC_ACQUIRE);
}

/* The node after @n in its chain (deleted or not). */
static inline struct dh_node *dh_next(const struct dh_node *n)
{
	return (struct dh_node *)(__atomic_load_n(&n->next, __ATOMIC_ACQUIRE) &
				  ~DH_DELETED);
}

/* Has @n been deleted?  Cleared only if @n is added again, which its
 * owner does only a grace period after the delete. */
static inline bool dh_deleted(const struct dh_node *n)
{
	return __atomic_load_n(&n->next, __ATOMIC_ACQUIRE) & DH_DELETED;
}

/* The live node of @b's chain for @hash that @match accepts, or NULL.
 * Each node's next word is loaded once: its deleted bit and its
 * successor. */
static inline struct dh_node *
dh_search(const struct dh_buckets *b, unsigned long hash,
	  bool (*match)(struct dh_node *, const void *), const void *key)
{
	struct dh_node *n;
	uintptr_t next;

	for (n = dh_head(b, hash); n;
	     n = (struct dh_node *)(next & ~DH_DELETED)) {
		next = __atomic_load_n(&n->next, __ATOMIC_ACQUIRE);
		if (n->hash == hash && !(next & DH_DELETED) && match(n, key))
			return n;
	}
	return NULL;
}

/*
 * The live node for @hash that @match accepts, or NULL: exact, resize or
 * not.  A stripe's nodes sit in one table while its sequence count stays
 * even and unchanged: the current one, or (moved, not yet switched) the
 * next one, or (switched meanwhile) the newer current one; all three are
 * searched.  A miss while the stripe's nodes were moving (the count
 * changed) is searched again; that waits for at most one stripe's move,
 * which waits for no grace period.  @match is inlined where the caller
 * passes a static function.
 */
static inline struct dh_node *
dh_lookup(struct dh_table *t, unsigned long hash,
	  bool (*match)(struct dh_node *, const void *), const void *key)
{
	const seqcount_t *sq = &t->seq[hash & (DH_STRIPES - 1)];
	struct dh_buckets *b0, *b1, *b2;
	struct dh_node *n;
	uint32_t s0;

	do {
		s0 = seq_begin(sq);
		b0 = __atomic_load_n(&t->cur, __ATOMIC_ACQUIRE);
		n = dh_search(b0, hash, match, key);
		if (n)
			return n;
		b1 = __atomic_load_n(&t->next, __ATOMIC_ACQUIRE);
		if (b1 && b1 != b0 && (n = dh_search(b1, hash, match, key)))
			return n;
		b2 = __atomic_load_n(&t->cur, __ATOMIC_ACQUIRE);
		if (b2 != b0 && b2 != b1 &&
		    (n = dh_search(b2, hash, match, key)))
			return n;
	} while (seq_retry(sq, s0));
	return NULL;
}

/*
 * A hint, inside RCU; changes nothing and never blocks.  Starts loading
 * what a lookup or add of @hash reads first: the bucket word and the
 * stripe's lock (@deep false), or, when an earlier shallow call has
 * brought the bucket in, the first node of its chain (@deep true).  A
 * resize meanwhile only makes the hint useless.
 */
static inline void dh_prefetch(struct dh_table *t, unsigned long hash,
			       bool deep)
{
	struct dh_buckets *b = __atomic_load_n(&t->cur, __ATOMIC_ACQUIRE);
	struct dh_node *n;

	if (!deep) {
		__builtin_prefetch(&b->b[hash & b->mask]);
		/* an add takes the stripe's lock */
		__builtin_prefetch(&t->stripes[hash & (DH_STRIPES - 1)], 1);
		return;
	}
	n = dh_head(b, hash);
	if (n)
		__builtin_prefetch(n);
}

/* ---- writers and the owner ---- */

/* Not in RCU, no lock held.  0 or -ENOMEM. */
int dh_init(struct dh_table *t, unsigned long buckets);
/* Last: no reader, no writer. */
void dh_destroy(struct dh_table *t);

/* Add @n (hash @hash) unless a live node matching @key is there: then
 * that node, else @n.  @match is called under the stripe lock.  Not in
 * RCU; may block on the stripe lock (at most one stripe's move). */
struct dh_node *dh_add_unique(struct dh_table *t, struct dh_node *n,
			      unsigned long hash,
			      bool (*match)(struct dh_node *, const void *),
			      const void *key);
/* Add @n without looking for its key.  Same context. */
void dh_add(struct dh_table *t, struct dh_node *n, unsigned long hash);
/* Delete @n: 0, or -ENOENT when it is not in the table (never added, or
 * deleted already).  Same context.  @n may be freed after a grace
 * period. */
int dh_del(struct dh_table *t, struct dh_node *n);

/* Resize to @buckets (a power of two; at least DH_MIN_BUCKETS): one
 * thread at a time (the grower), not in RCU, no lock held; waits for a
 * grace period.  0, -EINVAL (not a power of two) or -ENOMEM (the table
 * stays as it was). */
int dh_resize(struct dh_table *t, unsigned long buckets);
/* The current number of buckets: inside RCU, or while no resize runs. */
unsigned long dh_size(struct dh_table *t);

/* Call @fn for every node in the table, each under its stripe's lock (so
 * @fn must not use the table, take a lock nor block).  Not in RCU.  It
 * misses nodes added to a stripe after it was visited, and a node that a
 * concurrent re-key (a rename) moves from a stripe not yet visited to one
 * visited already; callers accept both. */
void dh_for_each(struct dh_table *t, void (*fn)(struct dh_node *, void *),
		 void *ctx);
/* Teardown only (no reader, no writer, no resize): call @fn for every
 * node, taking no lock; @fn may free the node (its successor was read
 * before the call). */
void dh_drain(struct dh_table *t, void (*fn)(struct dh_node *, void *),
	      void *ctx);

#endif /* RCUFS_CACHE_DHASH_H */
