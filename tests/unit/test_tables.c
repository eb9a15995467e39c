// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_tables.c - explicit hash-table growth (cache/tables.c):
 * an unbounded cache's tables grow past their initial 1024 buckets while
 * another thread keeps hitting what is cached (no hit may be lost during a
 * resize), keep chains at two or fewer on average, shrink back when the
 * cache is emptied, and a bounded cache starts as small as an unbounded
 * one (a bucket costs memory whether used or not).
 */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>

#include "unit.h"

#define NDIRS 16
#define NFILES 640 /* per directory: 10240 files, 10 times 1024 */
#define MIN_BUCKETS 1024

static void path_of(char *buf, size_t size, int dir, int file)
{
	if (file < 0)
		snprintf(buf, size, "d%02d", dir);
	else
		snprintf(buf, size, "d%02d/f%03d", dir, file);
}

static void make_tree(struct env *e)
{
	char path[64];
	int i, j;

	for (i = 0; i < NDIRS; i++) {
		path_of(path, sizeof(path), i, -1);
		must(mb_create(e->mb, path, S_IFDIR | 0755, NULL));
		for (j = 0; j < NFILES; j++) {
			path_of(path, sizeof(path), i, j);
			must(mb_create(e->mb, path, S_IFREG | 0644, NULL));
		}
	}
}

/* The hitter: cached-only walks of d00's files, cached before it starts. */
struct hitter {
	struct env *e;
	int stop; /* atomic */
	unsigned long walks, misses;
};

static void *hitter_main(void *arg)
{
	struct hitter *h = arg;
	char path[64];
	int j = 0;

	dcache_thread_enter();
	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		path_of(path, sizeof(path), 0, j);
		if (walk_id(h->e, path, DC_CACHED, NULL))
			h->misses++;
		h->walks++;
		j = (j + 1) % NFILES;
	}
	dcache_thread_exit();
	return NULL;
}

/* Wait (up to 10 s) until the grower has done what was asked: no resize
 * for 200 ms (a resize waits for a grace period, which can take tens of
 * milliseconds on a loaded machine or under the sanitizers). */
static struct dcache_stats settle(struct env *e)
{
	struct dcache_stats st = stats_of(e), prev;
	int i, quiet = 0;

	for (i = 0; i < 1000 && quiet < 20; i++) {
		sleep_ms(10);
		prev = st;
		st = stats_of(e);
		quiet = st.table_resizes == prev.table_resizes ? quiet + 1 : 0;
	}
	return st;
}

static void test_grow_and_shrink(void)
{
	struct dcache_stats st;
	struct hitter h;
	pthread_t t;
	char path[64];
	unsigned cached;
	struct env e;
	int i, j, err;

	env_init(&e);
	make_tree(&e);
	if (!env_start(&e))
		return;
	st = stats_of(&e);
	is(st.dentry_buckets, MIN_BUCKETS, "unbounded: %d dentry buckets",
	   MIN_BUCKETS);
	is(st.inode_buckets, MIN_BUCKETS, "unbounded: %d inode buckets",
	   MIN_BUCKETS);

	for (j = 0; j < NFILES; j++) {
		path_of(path, sizeof(path), 0, j);
		must(walk_id(&e, path, 0, NULL));
	}
	memset(&h, 0, sizeof(h));
	h.e = &e;
	err = pthread_create(&t, NULL, hitter_main, &h);
	must(err);
	for (i = 1; i < NDIRS; i++) {
		for (j = 0; j < NFILES; j++) {
			path_of(path, sizeof(path), i, j);
			if (walk_id(&e, path, 0, NULL))
				break;
		}
		if (j < NFILES)
			break;
	}
	is(i, NDIRS, "cached %d files while another thread hits",
	   NDIRS * NFILES);
	st = settle(&e);
	__atomic_store_n(&h.stop, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	diag("%lu cached-only walks during growth, %lu misses", h.walks,
	     h.misses);
	is(h.misses, 0ul, "no cached entry was missed during resizes");
	ok(st.table_resizes >= 3, "the grower resized (%llu calls)",
	   (unsigned long long)st.table_resizes);
	ok(2 * st.dentry_buckets >= st.dentries,
	   "dentry buckets %llu >= half the dentries %llu",
	   (unsigned long long)st.dentry_buckets,
	   (unsigned long long)st.dentries);
	ok(2 * st.inode_buckets >= st.inodes,
	   "inode buckets %llu >= half the inodes %llu",
	   (unsigned long long)st.inode_buckets, (unsigned long long)st.inodes);

	cached = 0;
	for (i = 0; i < NDIRS; i++) {
		for (j = 0; j < NFILES; j++) {
			path_of(path, sizeof(path), i, j);
			cached += walk_id(&e, path, DC_CACHED, NULL) == 0;
		}
	}
	is(cached, NDIRS * NFILES, "every file is still a cached hit");

	/* Empty the cache: the tables go back to the initial size. */
	for (i = 0; i < 20; i++)
		if (!dcache_shrink(e.dc, 1000000) && i >= 2)
			break;
	st = settle(&e);
	ok(st.dentries <= 2, "shrunk to %llu dentries",
	   (unsigned long long)st.dentries);
	is(st.dentry_buckets, MIN_BUCKETS, "dentry buckets back to %d",
	   MIN_BUCKETS);
	is(st.inode_buckets, MIN_BUCKETS, "inode buckets back to %d",
	   MIN_BUCKETS);
	is(walk_id(&e, "d03/f007", 0, NULL), 0, "lookups work after shrinking");
	is(walk_id(&e, "d03/f007", DC_CACHED, NULL), 0, "and are cached");
	env_fini(&e);
}

static void test_bounded_floor(void)
{
	struct dcache_stats st;
	char path[64];
	struct env e;
	int i, j;

	env_init(&e);
	e.cfg.max_entries = 3000;
	make_tree(&e);
	if (!env_start(&e))
		return;
	st = stats_of(&e);
	is(st.dentry_buckets, (unsigned long long)MIN_BUCKETS,
	   "max_entries 3000: starts at %d too", MIN_BUCKETS);
	for (i = 0; i < NDIRS; i++)
		for (j = 0; j < NFILES; j++) {
			path_of(path, sizeof(path), i, j);
			must(walk_id(&e, path, 0, NULL));
		}
	st = settle(&e);
	ok(2 * st.dentry_buckets >= st.dentries,
	   "grows past its initial size: %llu buckets for %llu dentries",
	   (unsigned long long)st.dentry_buckets,
	   (unsigned long long)st.dentries);
	for (i = 0; i < 20; i++)
		if (!dcache_shrink(e.dc, 1000000) && i >= 2)
			break;
	st = settle(&e);
	is(st.dentry_buckets, (unsigned long long)MIN_BUCKETS,
	   "shrinks back to %d, not below", MIN_BUCKETS);
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_grow_and_shrink();
	test_bounded_floor();
	dcache_thread_exit();
	return tap_done();
}
