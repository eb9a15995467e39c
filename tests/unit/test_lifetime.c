// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_lifetime.c - dcache_new/free, thread registration, read
 * sections, node ids and generations, kernel references (DC_WANT_KREF,
 * dcache_forget), hard links, inode accessors and private pointers.
 */
#include <sys/stat.h>

#include "unit.h"

static void test_new_free(void)
{
	struct dcache_stats st;
	struct dc_attr a;
	struct env e;
	int i;

	ok(dcache_thread_registered(), "main thread registered");
	ok(!dcache_in_read_section(), "not in a read section");
	dcache_read_lock();
	ok(dcache_in_read_section(), "in a read section after read_lock");
	dcache_read_lock();
	dcache_read_unlock();
	ok(dcache_in_read_section(), "read sections nest");
	dcache_read_unlock();
	ok(!dcache_in_read_section(), "left the read section");
	dcache_thread_enter();
	ok(dcache_thread_registered(), "dcache_thread_enter is idempotent");

	dcache_free(NULL);
	ok(1, "dcache_free(NULL) is harmless");

	for (i = 0; i < 3; i++) {
		env_init(&e);
		if (!env_start(&e))
			return;
		memset(&a, 0, sizeof(a));
		is(dcache_getattr(e.dc, DC_ROOT_ID, 0, &a), 0,
		   "cache %d: root answers", i);
		is(a.ino, MB_ROOT_INO, "cache %d: root attributes", i);
		st = stats_of(&e);
		ok(st.dentries >= 1 && st.inodes >= 1,
		   "cache %d: gauges count the root (%llu dentries, "
		   "%llu inodes)",
		   i, (unsigned long long)st.dentries,
		   (unsigned long long)st.inodes);
		ok(st.bytes > 0, "cache %d: memory accounted", i);
		must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
		is(walk_id(&e, "f", 0, NULL), 0, "cache %d: lookup", i);
		env_fini(&e);
	}
}

static void test_nodeids(void)
{
	uint64_t f1 = 0, f2 = 0, d = 0, x = 0;
	struct dc_result r1, r2;
	struct dc_attr a;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	if (!env_start(&e))
		return;
	is(walk_id(&e, "", 0, &x), 0, "root");
	is(x, DC_ROOT_ID, "root node id is DC_ROOT_ID");
	memset(&r1, 0, sizeof(r1));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "f", 0, &r1), 0, "lookup f");
	f1 = r1.nodeid;
	is(lookup_id(&e, DC_ROOT_ID, "d", 0, &d), 0, "lookup d");
	ok(f1 && d && f1 != d && f1 != DC_ROOT_ID && d != DC_ROOT_ID,
	   "distinct node ids");

	/* Remove f in the cache, recreate: a new id. */
	must(mb_unlink(e.mb, "f"));
	is(dcache_remove(e.dc, DC_ROOT_ID, "f"), 0, "remove f");
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	is(dcache_inval_entry(e.dc, DC_ROOT_ID, "f", DC_SRC_USER), 0,
	   "inval f");
	memset(&r2, 0, sizeof(r2));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "f", 0, &r2), 0, "lookup new f");
	f2 = r2.nodeid;
	ok(f2 != f1, "the new object has a new node id");
	ok(f2 != d && f2 != DC_ROOT_ID, "not reused from another either");
	is(dcache_getattr(e.dc, f1, 0, &a), -ESTALE,
	   "the old id is stale (no kernel reference kept it)");
	env_fini(&e);
}

static void test_kref_forget(void)
{
	struct dcache_stats s0, s1;
	struct dc_inode *inode;
	uint64_t id = 0, id2 = 0;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;

	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id), 0, "lookup f, no kref");
	is(nlookup_of(&e, id), 0, "nlookup 0 without DC_WANT_KREF");
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_WANT_KREF, &id2), 0,
	   "lookup f with DC_WANT_KREF (cache hit)");
	is(id2, id, "same node id");
	is(nlookup_of(&e, id), 1, "nlookup 1");
	s0 = stats_of(&e);
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_WANT_KREF | DC_CACHED, NULL), 0,
	   "DC_WANT_KREF | DC_CACHED hit");
	is(walk_id(&e, "f", DC_WANT_KREF, NULL), 0, "walk with DC_WANT_KREF");
	is(nlookup_of(&e, id), 3, "nlookup 3");
	s1 = stats_of(&e);
	is(s1.backend_calls[DC_BE_LOOKUP], s0.backend_calls[DC_BE_LOOKUP],
	   "kref hits made no backend call");

	inode = dc_inode_get(e.dc, id);
	if (ok(inode != NULL, "dc_inode_get")) {
		uint64_t dev = 0, ino = 0;
		struct dc_attr want;

		must(mb_stat(e.mb, "f", &want));
		is(dc_inode_nodeid(inode), id, "dc_inode_nodeid");
		dc_inode_key(inode, &dev, &ino);
		is(dev, MB_DEV, "key dev");
		is(ino, want.ino, "key ino");
		is(dc_inode_nlookup(inode), 3, "dc_inode_nlookup");
		dc_inode_put(inode);
	}

	is(dcache_forget(e.dc, id, 1), 0, "forget 1");
	is(nlookup_of(&e, id), 2, "nlookup 2");
	is(dcache_forget(e.dc, id, 5), -EINVAL, "forget 5 of 2: -EINVAL");
	is(nlookup_of(&e, id), 0, "what was there was dropped");
	is(dcache_forget(e.dc, id, 1), -EINVAL, "forget at 0: -EINVAL");
	is(dcache_forget(e.dc, 424242, 1), -ESTALE, "forget unknown: -ESTALE");
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_CACHED, NULL), 0,
	   "f still cached after the forgets");

	/* Kref on a negative result counts nothing. */
	is(lookup_id(&e, DC_ROOT_ID, "n", DC_WANT_KREF, &id2), -ENOENT,
	   "negative lookup with DC_WANT_KREF");
	is(id2, 0, "node id 0");

	/* Kref on a cache miss. */
	must(mb_create(e.mb, "g", S_IFREG | 0644, NULL));
	is(lookup_id(&e, DC_ROOT_ID, "g", DC_WANT_KREF, &id2), 0,
	   "DC_WANT_KREF on a miss");
	is(nlookup_of(&e, id2), 1, "nlookup 1");
	is(dcache_forget(e.dc, id2, 1), 0, "forget");
	env_fini(&e);
}

static void test_hard_links(void)
{
	uint64_t a = 0, b = 0, c = 0, dir = 0;
	struct dc_result res;
	struct dc_inode *inode;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "a", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	must(mb_link(e.mb, "a", "b", NULL));
	must(mb_link(e.mb, "a", "d/c", NULL));
	if (!env_start(&e))
		return;
	memset(&res, 0, sizeof(res));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "a", DC_WANT_ATTR | DC_WANT_KREF,
			 &res),
	   0, "lookup a");
	a = res.nodeid;
	is(res.attr.nlink, 3, "nlink 3");
	is(lookup_id(&e, DC_ROOT_ID, "b", DC_WANT_KREF, &b), 0, "lookup b");
	is(lookup_id(&e, DC_ROOT_ID, "d", 0, &dir), 0, "lookup d");
	is(lookup_id(&e, dir, "c", 0, &c), 0, "lookup d/c");
	is(b, a, "b shares a's node id");
	is(c, a, "d/c shares a's node id");
	is(nlookup_of(&e, a), 2, "kernel references of both names add up");

	inode = dc_inode_get(e.dc, a);
	if (ok(inode != NULL, "inode of a")) {
		struct dentry *al = dc_inode_alias(inode);
		char name[DC_NAME_MAX + 1];

		if (ok(al != NULL, "dc_inode_alias")) {
			dentry_name_copy(al, name);
			ok(!strcmp(name, "a") || !strcmp(name, "b") ||
				   !strcmp(name, "c"),
			   "alias is one of the names (%s)", name);
			dentry_put(al);
		}
		dc_inode_put(inode);
	}

	/* Removing one link leaves the others. */
	must(mb_unlink(e.mb, "a"));
	is(dcache_remove(e.dc, DC_ROOT_ID, "a"), 0, "remove a");
	is(lookup_id(&e, DC_ROOT_ID, "b", DC_CACHED, &b), 0, "b still cached");
	is(b, c, "b still the shared node");
	memset(&res, 0, sizeof(res));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "b", DC_WANT_ATTR, &res), 0,
	   "lookup b with attributes");
	is(res.attr.nlink, 2, "nlink refreshed to 2 (attributes invalidated)");
	is(dcache_forget(e.dc, a, 2), 0, "forget both kernel references");
	env_fini(&e);
}

static void test_private(void)
{
	struct dc_inode *inode;
	int x, y;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	inode = dc_inode_get(e.dc, node_of(&e, "f"));
	if (!ok(inode != NULL, "inode of f"))
		goto out;
	ok(dc_inode_private(inode) == NULL, "private starts NULL");
	{
		void *w = dc_inode_set_private(inode, &x);

		ok(w == &x || w == NULL, "first set wins (returns %s)",
		   w ? "itself" : "NULL");
	}
	ok(dc_inode_private(inode) == &x, "private is set");
	ok(dc_inode_set_private(inode, &y) == &x,
	   "second set returns the winner");
	ok(dc_inode_private(inode) == &x, "private unchanged");
	dc_inode_put(inode);
	dc_inode_put(NULL);
	dentry_put(NULL);
	ok(1, "puts of NULL are harmless");
out:
	env_fini(&e);
}

/*
 * dcache_free with kernel references still counted (an unmount: the kernel
 * drops them all at once) frees everything; the ASan build checks leaks.
 */
static void test_free_with_krefs(void)
{
	struct dc_inode *inode;
	uint64_t f = 0, d = 0;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	must(mb_create(e.mb, "d/f", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "g", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	is(walk_id(&e, "d", DC_WANT_KREF, &d), 0, "kref on d");
	is(walk_id(&e, "d/f", DC_WANT_KREF, &f), 0, "kref on d/f");
	is(walk_id(&e, "d/f", DC_WANT_KREF, NULL), 0, "second kref on d/f");
	is(lookup_id(&e, DC_ROOT_ID, "neg", 0, NULL), -ENOENT, "a negative");

	/* Removed but referenced by the kernel: no alias left. */
	is(lookup_id(&e, DC_ROOT_ID, "g", DC_WANT_KREF, NULL), 0, "kref on g");
	must(mb_unlink(e.mb, "g"));
	ok(dc_inode_get(e.dc, 0) == NULL, "dc_inode_get(0) is NULL");
	{
		uint64_t g = 0;

		lookup_id(&e, DC_ROOT_ID, "g", DC_CACHED, &g);
		inode = dc_inode_get(e.dc, g);
	}
	is(dcache_remove(e.dc, DC_ROOT_ID, "g"), 0, "remove g");
	if (ok(inode != NULL, "g's inode held")) {
		struct dentry *al = dc_inode_alias(inode);

		ok(al == NULL, "removed: dc_inode_alias is NULL");
		dentry_put(al);
		is(dc_inode_nlookup(inode), 1, "the kernel still counts it");
		dc_inode_put(inode);
	}
	env_fini(&e);
	ok(1, "dcache_free with kernel references held (see ASan)");
}

/*
 * The kernel's lookup count is 64-bit (FUSE nlookup): counts past 2^31 and
 * 2^32 must neither kill the inode (GETATTR and FORGET answering -ESTALE
 * for good) nor leak it.  dcache_test_add_nlookup() stands for billions
 * of DC_WANT_KREF lookups.
 */
static void test_nlookup_64bit(void)
{
	const uint64_t b31 = 1ull << 31, b32 = 1ull << 32;
	struct dc_attr a;
	struct env e;
	uint64_t id = 0, id2 = 0;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_WANT_KREF, &id), 0,
	   "lookup f with a kernel reference");
	is(dcache_test_add_nlookup(e.dc, id, b31 - 2), 0,
	   "2^31 - 2 more kernel lookups");
	is(nlookup_of(&e, id), (long long)(b31 - 1), "nlookup 2^31 - 1");
	is(dcache_getattr(e.dc, id, 0, &a), 0, "getattr at 2^31 - 1");
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_WANT_KREF, &id2), 0,
	   "one more DC_WANT_KREF lookup (2^31)");
	is(id2, id, "same node id");
	is(dcache_getattr(e.dc, id, DC_CACHED, &a), 0,
	   "getattr past 2^31 (cached)");
	is(dcache_test_add_nlookup(e.dc, id, b32), 0, "2^32 more");
	is(nlookup_of(&e, id), (long long)(b32 + b31), "nlookup 2^32 + 2^31");
	is(dcache_getattr(e.dc, id, 0, &a), 0, "getattr past 2^32");
	is(dcache_forget(e.dc, id, b32 + b31 - 1), 0,
	   "forget 2^32 + 2^31 - 1 at once");
	is(nlookup_of(&e, id), 1, "nlookup 1");
	is(dcache_getattr(e.dc, id, 0, &a), 0, "getattr with one left");
	is(dcache_forget(e.dc, id, 1), 0, "forget the last one");
	is(nlookup_of(&e, id), 0, "nlookup 0");
	/* no reference left behind: unlinked and uncached, the id dies */
	must(mb_unlink(e.mb, "f"));
	is(dcache_remove(e.dc, DC_ROOT_ID, "f"), 0, "remove f");
	is(dcache_getattr(e.dc, id, 0, &a), -ESTALE,
	   "its node id is gone with the last reference");

	/* a FORGET of more than there is, with a 64-bit count */
	must(mb_create(e.mb, "g", S_IFREG | 0644, NULL));
	is(lookup_id(&e, DC_ROOT_ID, "g", DC_WANT_KREF, &id), 0,
	   "lookup g with a kernel reference");
	is(dcache_test_add_nlookup(e.dc, id, b32 - 1), 0, "2^32 - 1 more");
	is(dcache_forget(e.dc, id, UINT64_MAX), -EINVAL,
	   "forget UINT64_MAX: -EINVAL");
	is(nlookup_of(&e, id), 0, "everything was dropped");
	must(mb_unlink(e.mb, "g"));
	is(dcache_remove(e.dc, DC_ROOT_ID, "g"), 0, "remove g");
	is(dcache_forget(e.dc, id, 1), -ESTALE, "then its node id is gone");
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_new_free();
	test_nodeids();
	test_kref_forget();
	test_hard_links();
	test_private();
	test_free_with_krefs();
	test_nlookup_64bit();
	dcache_thread_exit();
	return tap_done();
}
