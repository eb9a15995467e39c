/* SPDX-License-Identifier: MIT */
/*
 * cache/lockref.c - see lockref.h.  The lock is a three-state futex mutex
 * (0 free, 1 held, 2 held and contended) living in the low half of the word;
 * every transition of the lock half is a CAS of the whole word, so it never
 * disturbs a concurrent lockless count update and vice versa.
 */
#include "lockref.h"

#include <assert.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

static inline uint64_t load(struct lockref *lr)
{
	return __atomic_load_n(&lr->lock_count, __ATOMIC_RELAXED);
}

/* CAS; on failure *old receives the current word. */
static inline bool cas(struct lockref *lr, uint64_t *old, uint64_t new)
{
	return __atomic_compare_exchange_n(&lr->lock_count, old, new, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);
}

/* Set the lock half to @v, keeping the count; returns the old lock half. */
static uint32_t xchg_lock(struct lockref *lr, uint32_t v)
{
	uint64_t old = load(lr);

	while (!cas(lr, &old, lockref_make(v, lockref_count_of(old))))
		;
	return lockref_lock_of(old);
}

static void futex_wait(struct lockref *lr, uint32_t val)
{
	/* EINTR and EAGAIN (value changed) both mean: look again. */
	syscall(SYS_futex, (uint32_t *)&lr->lock_count, FUTEX_WAIT_PRIVATE, val,
		NULL, NULL, 0);
}

static void futex_wake(struct lockref *lr)
{
	syscall(SYS_futex, (uint32_t *)&lr->lock_count, FUTEX_WAKE_PRIVATE, 1,
		NULL, NULL, 0);
}

#ifdef DCACHE_DEBUG
/*
 * The lockrefs this thread holds (cache_debug builds only).  The deepest
 * nesting in cache/ is a rename's two parents and two children under an
 * inode's i_lock; 16 leaves room.
 */
#define HELD_MAX 16
static __thread const struct lockref *held[HELD_MAX];
static __thread unsigned nheld;

static void held_add(const struct lockref *lr)
{
	assert(nheld < HELD_MAX && "too many lockrefs held");
	held[nheld++] = lr;
}

static void held_del(const struct lockref *lr)
{
	unsigned i = nheld;

	while (i && held[i - 1] != lr)
		i--;
	assert(i && "lockref_unlock of a lockref this thread does not hold");
	for (; i < nheld; i++)
		held[i - 1] = held[i];
	nheld--;
}

bool lockref_held(const struct lockref *lr)
{
	unsigned i;

	if (!lockref_is_locked(lr))
		return false;
	for (i = 0; i < nheld; i++)
		if (held[i] == lr)
			return true;
	return false;
}
/* The *_locked operations: the caller holds @lr's lock. */
#define assert_held(lr) assert(lockref_held(lr))
#else
#define held_add(lr) ((void)0)
#define held_del(lr) ((void)0)
#define assert_held(lr) ((void)0)
#endif

static void lock_slow(struct lockref *lr, uint64_t old);

void lockref_lock(struct lockref *lr)
{
	lock_slow(lr, load(lr));
	held_add(lr);
}

static void lock_slow(struct lockref *lr, uint64_t old)
{
	uint32_t c;

	/* Uncontended: 0 -> 1, retrying only while the count moves. */
	while (lockref_lock_of(old) == 0) {
		if (cas(lr, &old, lockref_make(1, lockref_count_of(old))))
			return;
	}
	/* Contended: announce a waiter (2) and sleep until we take it. */
	c = xchg_lock(lr, 2);
	while (c != 0) {
		futex_wait(lr, 2);
		c = xchg_lock(lr, 2);
	}
}

bool lockref_trylock(struct lockref *lr)
{
	uint64_t old = load(lr);
	int i;

	for (i = 0; i < LOCKREF_RETRIES && lockref_lock_of(old) == 0; i++)
		if (cas(lr, &old, lockref_make(1, lockref_count_of(old)))) {
			held_add(lr);
			return true;
		}
	return false;
}

void lockref_unlock(struct lockref *lr)
{
	uint32_t c;

	held_del(lr);
	c = xchg_lock(lr, 0);

	assert(c != 0 && "lockref_unlock of an unlocked lockref");
	if (c == 2)
		futex_wake(lr);
}

int lockref_tryget_not_dead(struct lockref *lr)
{
	uint64_t old = load(lr);
	int i;

	for (i = 0; i < LOCKREF_RETRIES; i++) {
		if (lockref_lock_of(old))
			return -1;
		if (lockref_count_of(old) < 0)
			return 0;
		if (cas(lr, &old, old + ((uint64_t)1 << 32)))
			return 1;
	}
	return -1;
}

int lockref_put_return(struct lockref *lr)
{
	uint64_t old = load(lr);
	int i;

	for (i = 0; i < LOCKREF_RETRIES; i++) {
		if (lockref_lock_of(old) || lockref_count_of(old) <= 1)
			return -1;
		if (cas(lr, &old, old - ((uint64_t)1 << 32)))
			return lockref_count_of(old) - 1;
	}
	return -1;
}

void lockref_add_locked(struct lockref *lr, int32_t delta)
{
	uint64_t old = load(lr);

	assert_held(lr);
	/* Only the lock half can change under us (a waiter sets 2). */
	while (!cas(lr, &old,
		    lockref_make(lockref_lock_of(old),
				 lockref_count_of(old) + delta)))
		;
}

void lockref_mark_dead_locked(struct lockref *lr)
{
	uint64_t old = load(lr);

	assert_held(lr);
	while (!cas(lr, &old, lockref_make(lockref_lock_of(old), LOCKREF_DEAD)))
		;
}

/* Lockless CAS of the count while unlocked and @ok; else -1 (use lock). */
static int try_update(struct lockref *lr, int32_t min, int32_t delta)
{
	uint64_t old = load(lr);
	int i;

	for (i = 0; i < LOCKREF_RETRIES; i++) {
		if (lockref_lock_of(old))
			return -1;
		if (lockref_count_of(old) < min)
			return 0;
		if (cas(lr, &old,
			lockref_make(0, lockref_count_of(old) + delta)))
			return 1;
	}
	return -1;
}

static bool locked_update(struct lockref *lr, int32_t min, int32_t delta)
{
	bool ok;

	lockref_lock(lr);
	ok = lockref_count(lr) >= min;
	if (ok)
		lockref_add_locked(lr, delta);
	lockref_unlock(lr);
	return ok;
}

void lockref_get(struct lockref *lr)
{
	if (try_update(lr, INT32_MIN, 1) < 0)
		locked_update(lr, INT32_MIN, 1);
}

bool lockref_get_not_dead(struct lockref *lr)
{
	int r = try_update(lr, 0, 1);

	return r >= 0 ? r : locked_update(lr, 0, 1);
}

bool lockref_put_or_lock(struct lockref *lr)
{
	if (lockref_put_return(lr) >= 0)
		return true;
	lockref_lock(lr);
	if (lockref_count(lr) > 1) {
		lockref_add_locked(lr, -1);
		lockref_unlock(lr);
		return true;
	}
	return false;
}
