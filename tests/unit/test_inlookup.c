// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_inlookup.c - concurrent misses on one (parent, name) are
 * collapsed: one backend call, the others wait for it (DESIGN.md §4).
 */
#include <pthread.h>
#include <sys/stat.h>

#include "unit.h"

#define NTHREADS 8

struct racer {
	struct env *e;
	pthread_barrier_t *bar;
	const char *name;
	unsigned flags;
	int ret;
	uint64_t id;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;

	dcache_thread_enter();
	pthread_barrier_wait(r->bar);
	r->ret = lookup_id(r->e, DC_ROOT_ID, r->name, r->flags, &r->id);
	dcache_thread_exit();
	return NULL;
}

/* NTHREADS lookups of @name at once; results in @r. */
static void race(struct env *e, const char *name, unsigned flags,
		 struct racer *r)
{
	pthread_t th[NTHREADS];
	pthread_barrier_t bar;
	int i;

	pthread_barrier_init(&bar, NULL, NTHREADS);
	for (i = 0; i < NTHREADS; i++) {
		r[i].e = e;
		r[i].bar = &bar;
		r[i].name = name;
		r[i].flags = flags;
		r[i].ret = 1;
		r[i].id = 0;
		if (pthread_create(&th[i], NULL, racer_main, &r[i])) {
			diag("pthread_create failed");
			exit(1);
		}
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
}

static void test_collapse(void)
{
	struct racer r[NTHREADS];
	struct dcache_stats s0, s1;
	uint64_t calls, id;
	unsigned good, eio;
	struct env e;
	int i;

	env_init(&e);
	must(mb_create(e.mb, "slow", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	mb_set_delay(e.mb, 50000);

	s0 = stats_of(&e);
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	race(&e, "slow", 0, r);
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1,
	   "%d concurrent misses: exactly one backend lookup", NTHREADS);
	id = r[0].id;
	good = 0;
	for (i = 0; i < NTHREADS; i++)
		good += r[i].ret == 0 && r[i].id == id && id != 0;
	is(good, NTHREADS, "every thread got the same positive answer");
	s1 = stats_of(&e);
	ok(s1.inlookup_waits > s0.inlookup_waits,
	   "stats: inlookup_waits %llu -> %llu",
	   (unsigned long long)s0.inlookup_waits,
	   (unsigned long long)s1.inlookup_waits);

	/* Negative: collapsed too, and the result is a negative entry. */
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	race(&e, "missing", 0, r);
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1,
	   "%d concurrent negative misses: one backend lookup", NTHREADS);
	good = 0;
	for (i = 0; i < NTHREADS; i++)
		good += r[i].ret == -ENOENT && r[i].id == 0;
	is(good, NTHREADS, "every thread got -ENOENT");

	/* With kernel references: each thread counts its own. */
	must(mb_create(e.mb, "kref", S_IFREG | 0644, NULL));
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	race(&e, "kref", DC_WANT_KREF, r);
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1,
	   "DC_WANT_KREF misses collapsed too");
	good = 0;
	for (i = 0; i < NTHREADS; i++)
		good += r[i].ret == 0 && r[i].id == r[0].id;
	is(good, NTHREADS, "all positive, same node");
	is(nlookup_of(&e, r[0].id), NTHREADS, "nlookup counts every thread");
	dcache_forget(e.dc, r[0].id, NTHREADS);

	/* An error: everyone sees an answer, nothing is cached. */
	must(mb_create(e.mb, "err", S_IFREG | 0644, NULL));
	mb_inject(e.mb, DC_BE_LOOKUP, "err", -EIO, 1);
	race(&e, "err", 0, r);
	good = eio = 0;
	for (i = 0; i < NTHREADS; i++) {
		good += r[i].ret == 0 || r[i].ret == -EIO;
		eio += r[i].ret == -EIO;
	}
	is(good, NTHREADS, "with an injected EIO: each got 0 or -EIO");
	ok(eio >= 1, "%u saw the EIO", eio);
	mb_set_delay(e.mb, 0);
	is(lookup_id(&e, DC_ROOT_ID, "err", 0, NULL), 0,
	   "afterwards the name is found");
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_collapse();
	dcache_thread_exit();
	return tap_done();
}
