/* SPDX-License-Identifier: MIT */
/*
 * cache/lockref.h - a reference count and a sleeping lock in one 8-byte word.
 *
 * The idea is the kernel's lockref (lib/lockref.c): while the lock half reads
 * "unlocked", the count may be changed by a compare-and-swap of the whole
 * word, so the common get/put touches one cache line with one atomic
 * instruction.  A thread that holds the lock knows the count is frozen:
 * lockless updaters only succeed while the lock half is 0.
 *
 * Unlike the kernel's spinlock, the lock half is a futex (states 0 free,
 * 1 locked, 2 locked with waiters): userspace lock holders get preempted,
 * so a thread that finds it held sleeps instead of spinning.  Lockless
 * operations retry their CAS at most LOCKREF_RETRIES times when the count
 * moves under them, then fall back to the lock; they never wait for a held
 * lock in a loop.
 *
 * Count: >= 0 live (0 = cached and unused), < 0 dead (set under the lock by
 * lockref_mark_dead; a dead count never changes again).
 *
 * Memory order: every successful operation is a full barrier (seq_cst
 * compare-and-swap).  We use the compiler's __atomic builtins rather than
 * liburcu's uatomic because ThreadSanitizer instruments the former and
 * cannot see through the latter's inline assembly; on x86-64 both compile
 * to the same lock cmpxchg.
 */
#ifndef RCUFS_CACHE_LOCKREF_H
#define RCUFS_CACHE_LOCKREF_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#define LOCKREF_RETRIES 100
#define LOCKREF_DEAD (-128)

struct lockref {
	/* low 32 bits: futex lock state; high 32 bits: signed count */
	uint64_t lock_count;
};

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "lockref's futex is the low half of the word");

static inline uint32_t lockref_lock_of(uint64_t w)
{
	return (uint32_t)w;
}

static inline int32_t lockref_count_of(uint64_t w)
{
	return (int32_t)(uint32_t)(w >> 32);
}

static inline uint64_t lockref_make(uint32_t lock, int32_t count)
{
	return (uint64_t)(uint32_t)count << 32 | lock;
}

static inline void lockref_init(struct lockref *lr, int32_t count)
{
	__atomic_store_n(&lr->lock_count, lockref_make(0, count),
			 __ATOMIC_RELAXED);
}

/* Current count (a racy snapshot unless the lock is held). RCU-safe. */
static inline int32_t lockref_count(const struct lockref *lr)
{
	return lockref_count_of(
		__atomic_load_n(&lr->lock_count, __ATOMIC_RELAXED));
}

static inline bool lockref_is_dead(const struct lockref *lr)
{
	return lockref_count(lr) < 0;
}

static inline bool lockref_is_locked(const struct lockref *lr)
{
	return lockref_lock_of(
		       __atomic_load_n(&lr->lock_count, __ATOMIC_RELAXED)) != 0;
}

#ifdef DCACHE_DEBUG
/*
 * cache_debug builds: does the calling thread hold @lr's lock?  Every
 * thread keeps the lockrefs it holds (lockref_lock, lockref_trylock) in a
 * short list until lockref_unlock; lockref_unlock asserts the caller is
 * the holder.  For DC_ASSERT_LOCKED; never blocks.
 */
bool lockref_held(const struct lockref *lr);
#endif

/*
 * Lockless only: take a reference unless dead.  Returns 1 on success, 0 if
 * dead, -1 if it could not decide without the lock (lock held, or the CAS
 * kept failing).  Never blocks: this is the legitimize primitive used inside
 * RCU read sections.
 */
int lockref_tryget_not_dead(struct lockref *lr);

/*
 * Lockless only: drop a reference if that leaves at least one.  Returns the
 * new count, or -1 if it could not (count <= 1, dead, or lock held): the
 * caller then takes the slow path.  Never reaches 0 locklessly.
 */
int lockref_put_return(struct lockref *lr);

/*
 * The following may sleep on the lock: never call them inside an RCU read
 * section.  Lock order is documented in dcache_i.h.
 */
void lockref_lock(struct lockref *lr);
/* Take the lock only if it is free now; never waits.  RCU-safe. */
bool lockref_trylock(struct lockref *lr);
void lockref_unlock(struct lockref *lr);
/*
 * Increment even while the lock is held.  Only for a caller that can name
 * a reference which cannot be dropped during the call (for example the
 * alias reference a dentry holds on its inode, while the caller holds that
 * dentry's d_lock): the count is then >= 1 and a lock holder deciding on
 * "last reference" cannot see its own references alone.  Never blocks;
 * RCU-safe.
 */
static inline void lockref_get_pinned(struct lockref *lr)
{
	uint64_t old = __atomic_fetch_add(&lr->lock_count, (uint64_t)1 << 32,
					  __ATOMIC_SEQ_CST);

#ifdef DCACHE_DEBUG
	/* a count of 0 is not pinned: a shrinker may be marking it dead */
	assert(lockref_count_of(old) >= 1 && "lockref_get_pinned unpinned");
#endif
	(void)old;
}

/* Increment unconditionally (caller already owns a reference). */
void lockref_get(struct lockref *lr);
/* Increment unless dead. */
bool lockref_get_not_dead(struct lockref *lr);
/*
 * Decrement if that leaves at least one (true); otherwise return false with
 * the lock held and the count unchanged.
 */
bool lockref_put_or_lock(struct lockref *lr);

/* Caller holds the lock: change the count by @delta / mark it dead. */
void lockref_add_locked(struct lockref *lr, int32_t delta);
void lockref_mark_dead_locked(struct lockref *lr);

#endif /* RCUFS_CACHE_LOCKREF_H */
