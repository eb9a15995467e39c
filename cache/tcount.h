/* SPDX-License-Identifier: MIT */
/*
 * cache/tcount.h - per-thread counter blocks, summed on read: the one
 * counter engine of the project (the dcache's counters in stats.c, the
 * daemon's per-operation counters in fs/stats/opstats.c).
 *
 * A set (struct tcount) has one block of @size bytes per registered
 * thread.  Only the owner thread writes its block, with relaxed atomic
 * stores of load + n (no locked instruction on the hot path: the owner
 * keeps its block's address in a __thread pointer of its own and writes
 * it directly); readers sum every block with relaxed loads, so a sum may
 * miss increments in flight but never sees a torn value.  Blocks live on
 * the set's list (its lock) while their thread is registered; at thread
 * exit a block is folded into @retired and freed.  The lock is taken only
 * at thread start and exit and by readers, never per increment.  A thread
 * with no block (allocation failed) counts into @orphan, with atomic
 * read-modify-writes done by the user.
 *
 * Nothing here may run inside an RCU read section's hot path: thread_init
 * allocates and every call takes the set's mutex.  No call blocks for
 * long.
 */
#ifndef RCUFS_CACHE_TCOUNT_H
#define RCUFS_CACHE_TCOUNT_H

#include <pthread.h>
#include <stddef.h>

#include <urcu/list.h>

struct tcount {
	size_t size; /* bytes per block, a multiple of 8 */
	/*
	 * Add the counts of @from into @to, reading @from with relaxed loads
	 * (its owner may be writing it); NULL: add @size / 8 uint64_t words.
	 * Called with the set's lock held.
	 */
	void (*fold)(void *to, const void *from);
	void *retired; /* @size bytes; lock: exited threads' counts */
	void *orphan;  /* @size bytes; atomics: threads without a block */
	pthread_mutex_t lock;
	struct cds_list_head threads; /* lock */
};

#define TCOUNT_INIT(name, size_, fold_, retired_, orphan_)               \
	{                                                                \
		.size = (size_), .fold = (fold_), .retired = (retired_), \
		.orphan = (orphan_), .lock = PTHREAD_MUTEX_INITIALIZER,  \
		.threads = CDS_LIST_HEAD_INIT((name).threads),           \
	}

/* A new zeroed block of @t for the calling thread, or NULL (no memory:
 * the thread counts into @t->orphan).  Keep it in a __thread pointer. */
void *tcount_thread_init(struct tcount *t);
/* The thread that owns @block (may be NULL) exits: fold it into
 * @t->retired and free it. */
void tcount_thread_exit(struct tcount *t, void *block);
/* Sum of every block, the retired and the orphan counts into @out
 * (@t->size bytes, overwritten). */
void tcount_sum(struct tcount *t, void *out);

#endif /* RCUFS_CACHE_TCOUNT_H */
