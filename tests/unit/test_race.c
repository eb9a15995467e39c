// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_race.c - write-throughs and revalidations of one name
 * racing each other (issue 12).
 *
 * A negative dentry turning positive (a lookup revalidating it, an
 * instantiation) must publish d_inode and join the inode's alias list in
 * one step, or an unlink turning the same dentry negative in between puts
 * the inode reference just handed over and leaves the dentry on the alias
 * list of an inode it no longer names (a dying one: in a cache_debug build
 * i_put_many aborts on its non-empty alias list, otherwise the list is
 * used after the free).
 *
 * The lookups are preceded by dcache_prefetch's hints for the same name,
 * so that the sanitizer builds check those reads too.
 *
 * Each case runs a fixed number of iterations (no timing): a crash or an
 * assertion fails the test, and so does a dentry left on an alias list.
 */
#include <pthread.h>
#include <sys/stat.h>

#include "unit.h"

/* fewer under the sanitizers, which slow each call down 5-50 times */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define ITERS 50000
#else
#define ITERS 200000
#endif

struct racer {
	struct env *e;
	pthread_barrier_t *bar;
	const char *name;
	int mode; /* 0 lookups, 1 instantiations, 2 removals */
	struct dc_attr attr;
	unsigned errors;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	struct dc_result res;
	int i, err;

	dcache_thread_enter();
	pthread_barrier_wait(r->bar);
	for (i = 0; i < ITERS; i++) {
		memset(&res, 0, sizeof(res));
		switch (r->mode) {
		case 0:
			/* the READDIRPLUS hint racing the same changes
			 * (ASan, TSan: it reads the tables under RCU) */
			dcache_prefetch(r->e->dc, DC_ROOT_ID, r->name,
					r->attr.ino, i & 1);
			err = dcache_lookup(r->e->dc, DC_ROOT_ID, r->name,
					    DC_WANT_ATTR, &res);
			/* positive, or the removal's negative entry */
			if (err && err != -ENOENT && err != -ESTALE)
				r->errors++;
			if (!err && res.attr.ino != r->attr.ino)
				r->errors++;
			break;
		case 1:
			err = dcache_instantiate(r->e->dc, DC_ROOT_ID, r->name,
						 &r->attr, NULL, 0, NULL);
			if (err && err != -EAGAIN)
				r->errors++;
			break;
		default:
			err = dcache_remove(r->e->dc, DC_ROOT_ID, r->name);
			if (err && err != -ENOENT)
				r->errors++;
			break;
		}
	}
	dcache_thread_exit();
	return NULL;
}

/* Run @a against @b on @name; both modes as struct racer. */
static bool race(struct env *e, const char *name, int a, int b)
{
	pthread_barrier_t bar;
	struct racer r[2];
	pthread_t th[2];
	int i;

	pthread_barrier_init(&bar, NULL, 2);
	for (i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].e = e;
		r[i].bar = &bar;
		r[i].name = name;
		r[i].mode = i ? b : a;
		must(mb_stat(e->mb, name, &r[i].attr));
		if (pthread_create(&th[i], NULL, racer_main, &r[i])) {
			diag("pthread_create failed");
			exit(1);
		}
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&bar);
	return is(r[0].errors + r[1].errors, 0,
		  "%d iterations of mode %d against mode %d on \"%s\": no "
		  "unexpected answer",
		  ITERS, a, b, name);
}

/*
 * After the race, remove the name once more: the dentry is negative, so no
 * dentry may name the inode (which @ref keeps alive) any more.
 */
static void check_no_alias(struct env *e, const char *name,
			   struct dc_inode *ref)
{
	struct dentry *d;

	dcache_remove(e->dc, DC_ROOT_ID, name);
	d = dc_inode_alias(ref);
	ok(d == NULL, "\"%s\": no dentry left on the alias list of its inode",
	   name);
	dentry_put(d);
}

/* Revalidating lookups (all TTLs 0) against dcache_remove. */
static void test_revalidate_vs_remove(void)
{
	struct dc_inode *ref;
	struct env e;
	uint64_t id;

	env_init(&e);
	e.cfg.entry_ttl_ns = 0;
	e.cfg.neg_ttl_ns = 0;
	e.cfg.attr_ttl_ns = 0;
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	race(&e, "f", 0, 2);
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id), 0, "f still found");
	env_fini(&e);

	/* the same while something else keeps the inode alive */
	env_init(&e);
	e.cfg.entry_ttl_ns = 0;
	e.cfg.neg_ttl_ns = 0;
	e.cfg.attr_ttl_ns = 0;
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id), 0, "f found");
	ref = dc_inode_get(e.dc, id);
	ok(ref != NULL, "a reference on f's inode");
	race(&e, "f", 0, 2);
	if (ref)
		check_no_alias(&e, "f", ref);
	dc_inode_put(ref);
	env_fini(&e);
}

/* Two writers of one name: dcache_instantiate against dcache_remove. */
static void test_instantiate_vs_remove(void)
{
	struct dc_inode *ref;
	struct env e;
	uint64_t id;

	env_init(&e);
	must(mb_create(e.mb, "g", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	race(&e, "g", 1, 2);
	env_fini(&e);

	env_init(&e);
	must(mb_create(e.mb, "g", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "g", 0, &id), 0, "g found");
	ref = dc_inode_get(e.dc, id);
	ok(ref != NULL, "a reference on g's inode");
	race(&e, "g", 1, 2);
	if (ref)
		check_no_alias(&e, "g", ref);
	dc_inode_put(ref);
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_revalidate_vs_remove();
	test_instantiate_vs_remove();
	dcache_thread_exit();
	return tap_done();
}
