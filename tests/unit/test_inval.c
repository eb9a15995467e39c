// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_inval.c - dcache_inval_entry (subtrees), dcache_inval_all,
 * dcache_inval_inode, dcache_expire_all, dc_inode_find,
 * dcache_for_each_inode, dcache_set_ttls, invalidation statistics,
 * dcache_backend_changed.
 */
#include <pthread.h>
#include <sys/stat.h>

#include "unit.h"

/* d/ d/e/ d/e/f d/g x/ x/y */
static void inval_tree(struct env *e)
{
	must(mb_create(e->mb, "d", S_IFDIR | 0755, NULL));
	must(mb_create(e->mb, "d/e", S_IFDIR | 0755, NULL));
	must(mb_create(e->mb, "d/e/f", S_IFREG | 0644, NULL));
	must(mb_create(e->mb, "d/g", S_IFREG | 0644, NULL));
	must(mb_create(e->mb, "x", S_IFDIR | 0755, NULL));
	must(mb_create(e->mb, "x/y", S_IFREG | 0644, NULL));
}

static void test_inval_entry(void)
{
	struct dcache_stats s0, s1;
	uint64_t f = 0, id = 0, calls;
	struct env e;

	env_init(&e);
	inval_tree(&e);
	if (!env_start(&e))
		return;
	is(walk_id(&e, "d/e/f", DC_WANT_KREF, &f), 0,
	   "warm d/e/f (kernel ref on f)");
	is(walk_id(&e, "d/g", 0, NULL), 0, "warm d/g");
	is(walk_id(&e, "x/y", 0, NULL), 0, "warm x/y");
	is(walk_id(&e, "d/nope", 0, NULL), -ENOENT, "warm negative d/nope");
	is(walk_id(&e, "d/e/f", DC_CACHED, NULL), 0, "d/e/f cached");

	s0 = stats_of(&e);
	is(dcache_inval_entry(e.dc, DC_ROOT_ID, "d", DC_SRC_USER), 0,
	   "inval_entry of directory d");
	s1 = stats_of(&e);
	ok(s1.invalidations[DC_SRC_USER] > s0.invalidations[DC_SRC_USER],
	   "stats: a user invalidation counted");
	is(walk_id(&e, "d", DC_CACHED, NULL), -EAGAIN, "d: -EAGAIN");
	is(walk_id(&e, "d/e/f", DC_CACHED, NULL), -EAGAIN, "d/e/f: -EAGAIN");
	is(walk_id(&e, "d/g", DC_CACHED, NULL), -EAGAIN, "d/g: -EAGAIN");
	is(walk_id(&e, "d/nope", DC_CACHED, NULL), -EAGAIN, "d/nope: -EAGAIN");
	is(walk_id(&e, "x/y", DC_CACHED, NULL), 0,
	   "x/y (outside the subtree) still cached");

	/* The subtree's cached children are gone, not just d. */
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	is(walk_id(&e, "d/e/f", 0, &id), 0, "d/e/f again");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 3,
	   "three backend lookups: d, e and f were all invalidated");
	is(id, f, "f keeps its node id (the kernel still references it)");
	is(nlookup_of(&e, f), 1, "and its kernel reference count");
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	is(walk_id(&e, "d/g", 0, NULL), 0, "d/g again");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1, "g was invalidated too");
	is(dcache_forget(e.dc, f, 1), 0, "forget f");

	/* Kernel reference outliving its entry: the last forget frees. */
	is(walk_id(&e, "d/g", DC_WANT_KREF, &id), 0, "kref on d/g");
	is(dcache_inval_entry(e.dc, node_of(&e, "d"), "g", DC_SRC_USER), 0,
	   "inval d/g");
	is(nlookup_of(&e, id), 1, "d/g's id still valid");
	is(dcache_forget(e.dc, id, 1), 0, "forget it");
	is(nlookup_of(&e, id), -1, "the id is gone with the last forget");

	/* A negative entry. */
	is(lookup_id(&e, DC_ROOT_ID, "neg", 0, NULL), -ENOENT, "neg negative");
	must(mb_create(e.mb, "neg", S_IFREG | 0644, NULL));
	is(dcache_inval_entry(e.dc, DC_ROOT_ID, "neg", DC_SRC_WATCH), 0,
	   "inval_entry of a negative entry");
	is(lookup_id(&e, DC_ROOT_ID, "neg", 0, NULL), 0,
	   "lookup sees the backend's new object");

	/* Changed behind the cache: inval makes it visible. */
	must(mb_unlink(e.mb, "x/y"));
	is(walk_id(&e, "x/y", 0, NULL), 0, "x/y stale but cached");
	is(dcache_inval_entry(e.dc, node_of(&e, "x"), "y", DC_SRC_WATCH), 0,
	   "inval x/y");
	is(walk_id(&e, "x/y", 0, NULL), -ENOENT, "x/y now -ENOENT");

	is(dcache_inval_entry(e.dc, DC_ROOT_ID, "never", DC_SRC_USER), -ENOENT,
	   "inval of an uncached name: -ENOENT");
	{
		int r = dcache_inval_entry(e.dc, 424242, "x", DC_SRC_USER);

		ok(r == -ESTALE || r == -ENOENT,
		   "inval under an unknown id: -ESTALE or -ENOENT (%d)", r);
	}
	env_fini(&e);
}

static void test_inval_all(void)
{
	struct dcache_stats s0, s1;
	struct dc_attr a;
	uint64_t calls;
	struct env e;

	env_init(&e);
	inval_tree(&e);
	if (!env_start(&e))
		return;
	node_of(&e, "d/e/f");
	node_of(&e, "d/g");
	node_of(&e, "x/y");
	lookup_id(&e, DC_ROOT_ID, "neg", 0, NULL);
	is(walk_id(&e, "x/y", DC_CACHED, NULL), 0, "x/y cached");

	must(mb_unlink(e.mb, "d/g"));
	must(mb_create(e.mb, "neg", S_IFREG | 0644, NULL));
	s0 = stats_of(&e);
	dcache_inval_all(e.dc, DC_SRC_WATCH);
	s1 = stats_of(&e);
	ok(s1.invalidations[DC_SRC_WATCH] > s0.invalidations[DC_SRC_WATCH],
	   "stats: watch invalidation counted");
	is(walk_id(&e, "d", DC_CACHED, NULL), -EAGAIN, "d not cached");
	is(walk_id(&e, "d/e/f", DC_CACHED, NULL), -EAGAIN, "d/e/f not cached");
	is(walk_id(&e, "x/y", DC_CACHED, NULL), -EAGAIN, "x/y not cached");
	is(walk_id(&e, "neg", DC_CACHED, NULL), -EAGAIN, "neg not cached");
	is(dcache_getattr(e.dc, DC_ROOT_ID, 0, &a), 0, "the root survives");
	is(walk_id(&e, "", DC_CACHED, NULL), 0, "walk \"\" still answers");

	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	is(walk_id(&e, "d/g", 0, NULL), -ENOENT, "d/g: the backend's answer");
	is(walk_id(&e, "neg", 0, NULL), 0, "neg: the backend's answer");
	is(walk_id(&e, "d/e/f", 0, NULL), 0, "d/e/f found again");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 5,
	   "every component looked up again (d, g, neg, e, f)");
	env_fini(&e);
}

static void test_inval_inode(void)
{
	struct dc_attr a, want;
	uint64_t id = 0, calls;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0644, &want));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id), 0, "lookup f");
	want.size = 4096;
	must(mb_setattr(e.mb, "f", &want));
	is(dcache_getattr(e.dc, id, 0, &a), 0, "getattr");
	is(a.size, 0, "stale size before the invalidation");
	is(dcache_inval_inode(e.dc, id, DC_INVAL_ATTR, DC_SRC_WATCH), 0,
	   "inval_inode ATTR");
	is(dcache_getattr(e.dc, id, DC_CACHED, &a), -EAGAIN,
	   "DC_CACHED getattr: -EAGAIN");
	calls = mb_calls(e.mb, DC_BE_GETATTR);
	is(dcache_getattr(e.dc, id, 0, &a), 0, "getattr refreshes");
	is(a.size, 4096, "new size");
	is(mb_calls(e.mb, DC_BE_GETATTR), calls + 1, "one backend getattr");
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_CACHED, NULL), 0,
	   "the entry itself stayed cached");
	is(dcache_inval_inode(e.dc, 424242, DC_INVAL_ATTR, DC_SRC_USER),
	   -ESTALE, "inval_inode of an unknown id: -ESTALE");
	env_fini(&e);
}

struct each_ctx {
	uint64_t want, seen, calls, nlookup;
};

static void each_cb(void *ctx, uint64_t nodeid, uint64_t nlookup)
{
	struct each_ctx *c = ctx;

	c->calls++;
	if (nodeid == c->want) {
		c->seen++;
		c->nlookup = nlookup;
	}
}

/* What the watcher uses after lost events: expire, keep hashed. */
static void test_expire_all(void)
{
	struct dcache_stats s0, s1;
	struct dc_result r;
	struct dc_attr a, fa;
	struct dc_inode *in;
	struct each_ctx c = {0};
	uint64_t f = 0, eid, dev, ino;
	struct env e;

	env_init(&e);
	inval_tree(&e);
	if (!env_start(&e))
		return;
	is(walk_id(&e, "d/e/f", DC_WANT_KREF, &f), 0, "warm d/e/f (kref)");
	eid = node_of(&e, "d/e");
	node_of(&e, "d/g");
	node_of(&e, "x/y");
	lookup_id(&e, DC_ROOT_ID, "neg", 0, NULL);
	must(mb_unlink(e.mb, "d/g"));
	must(mb_create(e.mb, "neg", S_IFREG | 0644, NULL));
	is(dcache_getattr(e.dc, f, 0, &fa), 0, "getattr f");
	fa.size = 777;
	must(mb_setattr(e.mb, "d/e/f", &fa));

	s0 = stats_of(&e);
	dcache_expire_all(e.dc, DC_SRC_WATCH);
	s1 = stats_of(&e);
	ok(s1.invalidations[DC_SRC_WATCH] > s0.invalidations[DC_SRC_WATCH],
	   "stats: watch invalidations counted");
	is(walk_id(&e, "x/y", DC_CACHED, NULL), -EAGAIN, "x/y expired");
	is(walk_id(&e, "d/g", DC_CACHED, NULL), -EAGAIN, "d/g expired");
	is(dcache_getattr(e.dc, f, DC_CACHED, &a), -EAGAIN,
	   "f's attributes expired");
	memset(&r, 0, sizeof(r));
	is(dcache_lookup(e.dc, eid, "f", DC_WANT_ATTR, &r), 0,
	   "lookup under d/e by node id still works (nothing unhashed)");
	is(r.nodeid, f, "same node id for f");
	is(r.attr.size, 777, "with the backend's new size");
	is(walk_id(&e, "d/g", 0, NULL), -ENOENT, "d/g: gone now");
	is(walk_id(&e, "neg", 0, NULL), 0, "neg: exists now");

	in = dc_inode_get(e.dc, f);
	ok(in != NULL, "f's inode");
	if (!in) {
		env_fini(&e);
		return;
	}
	dc_inode_key(in, &dev, &ino);
	dc_inode_put(in);
	in = dc_inode_find(e.dc, dev, ino);
	ok(in && dc_inode_nodeid(in) == f, "dc_inode_find by key");
	dc_inode_put(in);
	ok(!dc_inode_find(e.dc, dev, ino + 999999),
	   "dc_inode_find of an unknown key: NULL");

	c.want = f;
	dcache_for_each_inode(e.dc, each_cb, &c);
	is(c.seen, 1, "for_each_inode visits f once");
	is(c.nlookup, 1, "with its kernel reference count");
	ok(c.calls >= 5, "and the other inodes");

	dcache_set_ttls(e.dc, 0, 0, 0);
	is(walk_id(&e, "x/y", 0, NULL), 0, "x/y looked up with ttl 0");
	is(walk_id(&e, "x/y", DC_CACHED, NULL), -EAGAIN,
	   "not cached after dcache_set_ttls(0)");
	env_fini(&e);
}

struct slow_lookup {
	struct env *e;
	const char *name;
	uint64_t id;
	int ret;
};

static void *slow_lookup_main(void *arg)
{
	struct slow_lookup *l = arg;

	dcache_thread_enter();
	l->ret = lookup_id(l->e, DC_ROOT_ID, l->name, 0, &l->id);
	dcache_thread_exit();
	return NULL;
}

/*
 * A lookup reads @name's attributes (size 0), then the object grows to
 * size 7 before the lookup creates its inode (the membackend's gate holds
 * the lookup between the two).  With @tell, the change is reported as the
 * watcher reports an event about an object it finds no inode for
 * (dcache_backend_changed).  Returns the size the cache then answers
 * without asking the backend, -EAGAIN if it does not answer, -EIO if the
 * lookup failed.
 */
static long long raced_size(struct env *e, const char *name, bool tell)
{
	struct slow_lookup l = {.e = e, .name = name};
	struct dc_attr a;
	pthread_t th;

	must(mb_stat(e->mb, name, &a));
	mb_gate_lookup(e->mb, true);
	if (pthread_create(&th, NULL, slow_lookup_main, &l)) {
		mb_gate_lookup(e->mb, false);
		return -EIO;
	}
	if (!mb_gate_wait_read(e->mb)) { /* it has read size 0 */
		mb_gate_lookup(e->mb, false);
		pthread_join(th, NULL);
		return -EIO;
	}
	a.size = 7;
	must(mb_setattr(e->mb, name, &a));
	if (tell)
		dcache_backend_changed(e->dc);
	mb_gate_go(e->mb);
	pthread_join(th, NULL);
	is(l.ret, 0, "the held lookup of %s succeeded", name);
	if (l.ret || !l.id)
		return -EIO;
	memset(&a, 0, sizeof(a));
	if (dcache_getattr(e->dc, l.id, DC_CACHED, &a))
		return -EAGAIN;
	return (long long)a.size;
}

static void test_backend_changed(void)
{
	struct dc_attr a;
	uint64_t id = 0, calls;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "told", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "untold", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	/* the control: unreported, the missed change stays cached (what the
	 * watcher's "uncached" events did before dcache_backend_changed) */
	is(raced_size(&e, "untold", false), 0,
	   "unreported change: the stale size 0 is cached");
	is(raced_size(&e, "told", true), -EAGAIN,
	   "reported change: the attributes read before it are not cached");
	is(lookup_id(&e, DC_ROOT_ID, "told", 0, &id), 0, "told: node id");
	calls = mb_calls(e.mb, DC_BE_GETATTR);
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, id, 0, &a), 0, "getattr of told");
	is(a.size, 7, "answers the new size 7");
	is(mb_calls(e.mb, DC_BE_GETATTR), calls + 1, "asked the backend");
	dcache_backend_changed(e.dc);
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, id, DC_CACHED, &a), 0,
	   "a later report leaves cached inodes alone");
	is(a.size, 7, "size 7 still cached");
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_inval_entry();
	test_inval_all();
	test_inval_inode();
	test_expire_all();
	test_backend_changed();
	dcache_thread_exit();
	return tap_done();
}
