/* SPDX-License-Identifier: MIT */
/*
 * cache/seqcount.h - sequence counts, written once and used everywhere.
 *
 * A writer (serialized by a lock the caller documents) makes the count odd,
 * changes the protected fields, and makes it even again.  A lockless reader
 * samples the count, copies the fields, and re-checks the count; a changed
 * (or odd) count means the copy may be torn and must be discarded.  This is
 * the C11 formulation (Boehm, "Can seqlocks get along with programming
 * language memory models?", 2012): protected fields are read and written
 * with relaxed atomics, the writer puts a release fence after making the
 * count odd and publishes the even count with a release store, the reader
 * samples with acquire and puts an acquire fence before re-checking.
 *
 * seq_begin never spins on an odd count (like the kernel's
 * raw_seqcount_begin): it returns the count with bit 0 cleared, so a
 * sample taken during a write simply fails its later seq_retry.
 */
#ifndef RCUFS_CACHE_SEQCOUNT_H
#define RCUFS_CACHE_SEQCOUNT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
	uint32_t seq;
} seqcount_t;

/*
 * GCC's ThreadSanitizer refuses atomic_thread_fence.  There, each fence is
 * a read-modify-write of the count that changes nothing (+0): at least as
 * strong on every machine, and an ordering TSan understands.  The count's
 * writers hold a lock and their load-then-store never loses an update to
 * a +0, which writes back the value it read, atomically.
 */
#if defined(__SANITIZE_THREAD__)
#define seq_fence(s, mo) \
	((void)__atomic_fetch_add((uint32_t *)&(s)->seq, 0, __ATOMIC_ACQ_REL))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define seq_fence(s, mo) \
	((void)__atomic_fetch_add((uint32_t *)&(s)->seq, 0, __ATOMIC_ACQ_REL))
#endif
#endif
#ifndef seq_fence
#define seq_fence(s, mo) __atomic_thread_fence(mo)
#endif

/* RCU-safe, never blocks. */
static inline uint32_t seq_begin(const seqcount_t *s)
{
	return __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) & ~1u;
}

/* True if what was read since seq_begin() returned @start is invalid. */
static inline bool seq_retry(const seqcount_t *s, uint32_t start)
{
	seq_fence(s, __ATOMIC_ACQUIRE);
	return __atomic_load_n(&s->seq, __ATOMIC_RELAXED) != start;
}

/* Writers: the caller holds the lock that serializes writers of @s. */
static inline void seq_write_begin(seqcount_t *s)
{
	uint32_t v = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&s->seq, v + 1, __ATOMIC_RELAXED);
	seq_fence(s, __ATOMIC_RELEASE);
}

static inline void seq_write_end(seqcount_t *s)
{
	uint32_t v = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&s->seq, v + 1, __ATOMIC_RELEASE);
}

/*
 * Invalidate every sample taken so far (the kernel's
 * write_seqcount_invalidate): +2 keeps the count even.
 */
static inline void seq_invalidate(seqcount_t *s)
{
	uint32_t v = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);

	seq_fence(s, __ATOMIC_RELEASE);
	__atomic_store_n(&s->seq, v + 2, __ATOMIC_RELEASE);
}

#endif /* RCUFS_CACHE_SEQCOUNT_H */
