// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_shrink.c - dcache_shrink (LRU eviction of unused
 * dentries, never those the kernel references) and the shrinker thread
 * keeping the cache under max_entries; when the kernel references more
 * than max_entries, the shrinker pauses instead of rescanning the LRU at
 * every final put, and catches up once the kernel forgets them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

#include "unit.h"

#define NFILES 200
#define NKREF 10

static void name_of(char *buf, size_t size, const char *dir, int i)
{
	snprintf(buf, size, "%s/f%03d", dir, i);
}

/* Shrink until nothing more goes (bounded); total evicted. */
static size_t shrink_all(struct env *e)
{
	size_t total = 0, n;
	int round;

	for (round = 0; round < 20; round++) {
		n = dcache_shrink(e->dc, 100000);
		total += n;
		if (!n && round >= 2)
			break;
	}
	return total;
}

static void test_shrink(void)
{
	struct dcache_stats s0, s1;
	uint64_t ids[NKREF];
	size_t evicted;
	unsigned cached, kept;
	char path[64];
	struct env e;
	int i;

	env_init(&e);
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	for (i = 0; i < NFILES; i++) {
		name_of(path, sizeof(path), "d", i);
		must(mb_create(e.mb, path, S_IFREG | 0644, NULL));
	}
	if (!env_start(&e))
		return;

	for (i = 0; i < NFILES; i++) {
		name_of(path, sizeof(path), "d", i);
		if (walk_id(&e, path, i < NKREF ? DC_WANT_KREF : 0,
			    i < NKREF ? &ids[i] : NULL))
			break;
	}
	is(i, NFILES, "looked up %d files (%d with a kernel reference)", NFILES,
	   NKREF);
	is(lookup_id(&e, DC_ROOT_ID, "neg", 0, NULL), -ENOENT,
	   "and one negative entry");
	s0 = stats_of(&e);
	ok(s0.dentries >= NFILES + 2, "stats: %llu dentries",
	   (unsigned long long)s0.dentries);
	ok(s0.lru > 0, "stats: %llu on the LRU", (unsigned long long)s0.lru);

	evicted = shrink_all(&e);
	s1 = stats_of(&e);
	ok(evicted >= NFILES - NKREF + 1,
	   "shrink evicted the unused entries (%zu)", evicted);
	is(s1.evictions - s0.evictions, evicted,
	   "stats: evictions match what shrink returned");
	ok(s1.dentries <= s0.dentries - (NFILES - NKREF),
	   "stats: dentries %llu -> %llu", (unsigned long long)s0.dentries,
	   (unsigned long long)s1.dentries);

	cached = kept = 0;
	for (i = 0; i < NFILES; i++) {
		int r;

		name_of(path, sizeof(path), "d", i);
		r = walk_id(&e, path, DC_CACHED, NULL);
		if (i < NKREF)
			kept += r == 0;
		else
			cached += r != -EAGAIN;
	}
	is(kept, NKREF, "entries with kernel references were not evicted");
	is(cached, 0, "all unused entries were evicted");
	is(walk_id(&e, "neg", DC_CACHED, NULL), -EAGAIN,
	   "the negative entry was evicted");
	is(walk_id(&e, "d", DC_CACHED, NULL), 0,
	   "d is kept: it has cached children");
	for (i = 0; i < NKREF; i++)
		is(nlookup_of(&e, ids[i]), 1, "kept entry %d: nlookup 1", i);

	/* Drop the kernel references: now everything can go. */
	for (i = 0; i < NKREF; i++)
		dcache_forget(e.dc, ids[i], 1);
	evicted = shrink_all(&e);
	ok(evicted >= NKREF + 1, "after forget: %zu more evicted (files + d)",
	   evicted);
	is(walk_id(&e, "d/f000", DC_CACHED, NULL), -EAGAIN, "d/f000 evicted");
	is(walk_id(&e, "d", DC_CACHED, NULL), -EAGAIN, "d evicted");
	is(walk_id(&e, "", DC_CACHED, NULL), 0, "the root stays");
	s1 = stats_of(&e);
	ok(s1.dentries <= 2, "stats: %llu dentries left",
	   (unsigned long long)s1.dentries);
	is(walk_id(&e, "d/f005", 0, NULL), 0, "lookups work after shrinking");

	/* A dentry held by a reference is not evicted either. */
	{
		struct dc_result res;

		memset(&res, 0, sizeof(res));
		is(dcache_walk(e.dc, "d/f006", DC_WANT_DENTRY, &res), 0,
		   "hold d/f006");
		shrink_all(&e);
		is(walk_id(&e, "d/f006", DC_CACHED, NULL), 0,
		   "held dentry survives shrinking");
		dentry_put(res.dentry);
	}
	env_fini(&e);
}

#define MAXE 100
#define NBIG 3000

static void test_shrinker_thread(void)
{
	struct dcache_stats st;
	char path[64];
	struct env e;
	int i, waited;

	env_init(&e);
	e.cfg.max_entries = MAXE;
	e.cfg.shrinker_thread = true;
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	for (i = 0; i < NBIG; i++) {
		name_of(path, sizeof(path), "d", i);
		must(mb_create(e.mb, path, S_IFREG | 0644, NULL));
	}
	if (!env_start(&e))
		return;
	for (i = 0; i < NBIG; i++) {
		name_of(path, sizeof(path), "d", i);
		if (walk_id(&e, path, 0, NULL))
			break;
	}
	is(i, NBIG, "looked up %d files with max_entries %d", NBIG, MAXE);
	for (i = 0; i < NBIG; i++) {
		char neg[32];

		snprintf(neg, sizeof(neg), "n%d", i);
		if (lookup_id(&e, DC_ROOT_ID, neg, 0, NULL) != -ENOENT)
			break;
	}
	is(i, NBIG, "and %d negative lookups", NBIG);

	/* Let the shrinker catch up: up to 3 s. */
	for (waited = 0; waited < 300; waited++) {
		st = stats_of(&e);
		if (st.dentries <= MAXE + 2)
			break;
		sleep_ms(10);
	}
	st = stats_of(&e);
	diag("after %d ms: %llu dentries, %llu evictions", waited * 10,
	     (unsigned long long)st.dentries, (unsigned long long)st.evictions);
	ok(st.dentries <= MAXE + 2,
	   "shrinker thread keeps dentries bounded (%llu <= %d)",
	   (unsigned long long)st.dentries, MAXE + 2);
	ok(st.evictions >= 2 * NBIG - MAXE - 2, "it evicted (%llu)",
	   (unsigned long long)st.evictions);
	is(walk_id(&e, "d/f000", 0, NULL), 0, "lookups still work");
	env_fini(&e);
}

/* Under TSan every RCU free is a race report that the suppressions drop
 * (liburcu is not annotated), at a cost growing with their number: the
 * negative entries of the CPU comparison below took 20-50 s there, and
 * TSan's own work would be counted as the other threads'.  So under TSan
 * only the pause and the recovery are exercised, on fewer entries. */
#if defined(__SANITIZE_THREAD__)
#define CPU_CHECK 0
#define NPIN 1000
#else
#define CPU_CHECK 1
#define NPIN 20000
#endif

static double cpu_s(int who)
{
	struct timespec ts;
	struct rusage ru;

	if (who == RUSAGE_THREAD) {
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	}
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void test_shrinker_pinned(void)
{
	struct dcache_stats st;
	double self0, all0, self, others;
	uint64_t *ids, t0;
	unsigned long puts = 0;
	char path[64];
	struct env e;
	int i, waited;

	ids = calloc(NPIN, sizeof(*ids));
	must(ids ? 0 : -ENOMEM);
	env_init(&e);
	e.cfg.max_entries = MAXE;
	e.cfg.shrinker_thread = true;
	must(mb_create(e.mb, "p", S_IFDIR | 0755, NULL));
	for (i = 0; i < NPIN; i++) {
		name_of(path, sizeof(path), "p", i);
		must(mb_create(e.mb, path, S_IFREG | 0644, NULL));
	}
	if (!env_start(&e)) {
		free(ids);
		return;
	}
	for (i = 0; i < NPIN; i++) {
		name_of(path, sizeof(path), "p", i);
		if (walk_id(&e, path, DC_WANT_KREF, &ids[i]))
			break;
	}
	is(i, NPIN, "%d files held by kernel references, max_entries %d", NPIN,
	   MAXE);
	if (CPU_CHECK) {
		/* 500 ms of new (negative) entries, each final put a kick:
		 * what do the other threads burn meanwhile? */
		self0 = cpu_s(RUSAGE_THREAD);
		all0 = cpu_s(RUSAGE_SELF);
		t0 = (uint64_t)time(NULL);
		for (i = 0;; i++) {
			snprintf(path, sizeof(path), "n%d", i);
			if (lookup_id(&e, DC_ROOT_ID, path, 0, NULL) != -ENOENT)
				break;
			puts++;
			if ((puts & 1023) == 0 &&
			    cpu_s(RUSAGE_SELF) - all0 > 0.5)
				break;
			if ((uint64_t)time(NULL) > t0 + 5)
				break;
		}
		self = cpu_s(RUSAGE_THREAD) - self0;
		others = cpu_s(RUSAGE_SELF) - all0 - self;
		diag("%lu negative lookups: CPU of this thread %.3f s, of the "
		     "others %.3f s",
		     puts, self, others);
		/* evicting the negative entries is real work, about as much
		 * as making them; a shrinker that rescanned 20,000 pinned
		 * entries at every kick burned 19 times this thread's time */
		ok(others < 4 * self,
		   "the shrinker does not spin over pinned entries "
		   "(%.3f s against %.3f s)",
		   others, self);
	}
	st = stats_of(&e);
	ok(st.dentries > MAXE, "pinned entries stay (%llu dentries)",
	   (unsigned long long)st.dentries);
	/* The kernel forgets them: the shrinker catches up after its pause. */
	for (i = 0; i < NPIN; i++)
		must(dcache_forget(e.dc, ids[i], 1));
	name_of(path, sizeof(path), "p", 0);
	for (waited = 0; waited < 500; waited++) {
		must(walk_id(&e, path, 0, NULL)); /* a put: a kick */
		st = stats_of(&e);
		if (st.dentries <= MAXE + 2)
			break;
		sleep_ms(10);
	}
	diag("bounded again after %d ms", waited * 10);
	ok(st.dentries <= MAXE + 2,
	   "after the forgets the bound holds again (%llu <= %d)",
	   (unsigned long long)st.dentries, MAXE + 2);
	env_fini(&e);
	free(ids);
}

int main(void)
{
	dcache_thread_enter();
	test_shrink();
	test_shrinker_thread();
	test_shrinker_pinned();
	dcache_thread_exit();
	return tap_done();
}
