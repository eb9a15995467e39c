// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_mutate.c - write-through mutations: dcache_instantiate,
 * dcache_remove, dcache_rename (plain, NOREPLACE, EXCHANGE, directories),
 * dcache_forget_key.
 * Each test changes the membackend first (the backend operation), then
 * tells the dcache, as a request handler does.
 */
#include <sys/stat.h>

#include "unit.h"

static void test_instantiate(void)
{
	struct dc_result res;
	struct dc_attr a, da;
	uint64_t calls, id = 0, d = 0;
	struct env e;

	env_init(&e);
	if (!env_start(&e))
		return;

	is(lookup_id(&e, DC_ROOT_ID, "n", 0, NULL), -ENOENT, "n is negative");
	must(mb_create(e.mb, "n", S_IFREG | 0644, &a));
	calls = mb_calls_all(e.mb);
	memset(&res, 0, sizeof(res));
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "n", &a, NULL, 0, &res), 0,
	   "instantiate over the negative entry");
	ok(res.nodeid != 0, "got a node id");
	is(lookup_id(&e, DC_ROOT_ID, "n", DC_CACHED, &id), 0,
	   "DC_CACHED lookup now positive");
	is(id, res.nodeid, "same node id");
	is(nlookup_of(&e, id), 0, "no kernel reference without DC_WANT_KREF");
	is(mb_calls_all(e.mb), calls, "no backend call");
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "n", &a, NULL, 0, NULL), 0,
	   "instantiate again with res NULL");
	is(lookup_id(&e, DC_ROOT_ID, "n", DC_CACHED, &id), 0, "still there");
	is(id, res.nodeid, "same node id (same inode key)");

	/* A directory, then a child under it, all without the backend. */
	must(mb_create(e.mb, "d", S_IFDIR | 0755, &da));
	memset(&res, 0, sizeof(res));
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "d", &da, NULL, DC_WANT_KREF,
			      &res),
	   0, "instantiate directory d with DC_WANT_KREF");
	d = res.nodeid;
	is(nlookup_of(&e, d), 1, "d has one kernel reference");
	must(mb_create(e.mb, "d/c", S_IFREG | 0600, &a));
	is(dcache_instantiate(e.dc, d, "c", &a, NULL, 0, NULL), 0,
	   "instantiate d/c");
	calls = mb_calls_all(e.mb);
	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "d/c", DC_CACHED | DC_WANT_ATTR, &res), 0,
	   "walk d/c from the cache");
	is(res.attr.mode, S_IFREG | 0600, "attributes from instantiate");
	is(mb_calls_all(e.mb), calls, "no backend call");
	is(dcache_forget(e.dc, d, 1), 0, "forget d");

	/* Replace a different cached entry (name now another object). */
	must(mb_unlink(e.mb, "n"));
	must(mb_create(e.mb, "n", S_IFDIR | 0700, &a));
	memset(&res, 0, sizeof(res));
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "n", &a, NULL, 0, &res), 0,
	   "instantiate n as another object");
	ok(res.nodeid != id, "a new node id");
	memset(&res, 0, sizeof(res));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "n", DC_CACHED | DC_WANT_ATTR, &res),
	   0, "lookup n");
	ok(S_ISDIR(res.attr.mode), "n is now the directory");
	is(res.attr.ino, a.ino, "with the new ino");

	/* Errors. */
	is(dcache_instantiate(e.dc, 424242, "x", &a, NULL, 0, NULL), -ESTALE,
	   "instantiate under an unknown id: -ESTALE");
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "..", &a, NULL, 0, NULL),
	   -EINVAL, "instantiate \"..\": -EINVAL");
	env_fini(&e);
}

static void test_remove(void)
{
	struct dc_attr ra;
	uint64_t calls, id = 0, kid = 0;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "k", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id), 0, "lookup f");
	is(lookup_id(&e, DC_ROOT_ID, "d", 0, NULL), 0, "lookup d");
	is(dcache_getattr(e.dc, DC_ROOT_ID, DC_CACHED, &ra), 0,
	   "root attributes cached");

	must(mb_unlink(e.mb, "f"));
	is(dcache_remove(e.dc, DC_ROOT_ID, "f"), 0, "dcache_remove f");
	calls = mb_calls_all(e.mb);
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_CACHED, NULL), -ENOENT,
	   "f is now a cached negative entry");
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, NULL), -ENOENT,
	   "plain lookup too");
	is(mb_calls_all(e.mb), calls, "no backend call");
	is(dcache_getattr(e.dc, DC_ROOT_ID, DC_CACHED, &ra), -EAGAIN,
	   "parent's attributes invalidated");
	is(dcache_remove(e.dc, DC_ROOT_ID, "never"), -ENOENT,
	   "remove of an uncached name: -ENOENT");

	must(mb_rmdir(e.mb, "d"));
	is(dcache_remove(e.dc, DC_ROOT_ID, "d"), 0, "remove directory d");
	is(walk_id(&e, "d", DC_CACHED, NULL), -ENOENT, "d negative");
	is(walk_id(&e, "d/x", DC_CACHED, NULL), -ENOENT,
	   "below d: -ENOENT from the cache");

	/* Removed while the kernel holds a reference: the id lives on. */
	is(lookup_id(&e, DC_ROOT_ID, "k", DC_WANT_KREF, &kid), 0,
	   "lookup k with a kernel reference");
	must(mb_unlink(e.mb, "k"));
	is(dcache_remove(e.dc, DC_ROOT_ID, "k"), 0, "remove k");
	is(lookup_id(&e, DC_ROOT_ID, "k", DC_CACHED, NULL), -ENOENT,
	   "k negative");
	is(nlookup_of(&e, kid), 1, "k's node id still valid, nlookup 1");
	is(dcache_forget(e.dc, kid, 1), 0, "forget k");
	is(nlookup_of(&e, kid), -1, "k's node id gone after the last forget");
	is(dcache_getattr(e.dc, kid, 0, &ra), -ESTALE,
	   "getattr of the forgotten id: -ESTALE");

	/* A recreated name gets a new node id. */
	must(mb_create(e.mb, "f", S_IFREG | 0644, &ra));
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "f", &ra, NULL, 0, NULL), 0,
	   "recreate f");
	{
		uint64_t id2 = 0;

		is(lookup_id(&e, DC_ROOT_ID, "f", DC_CACHED, &id2), 0,
		   "f positive");
		ok(id2 != id && id2 != kid, "node ids are not reused");
	}
	env_fini(&e);
}

/* A tree: a/ a/f a/sub/ a/sub/g b/ t */
static void rename_tree(struct env *e)
{
	must(mb_create(e->mb, "a", S_IFDIR | 0755, NULL));
	must(mb_create(e->mb, "a/f", S_IFREG | 0644, NULL));
	must(mb_create(e->mb, "a/sub", S_IFDIR | 0755, NULL));
	must(mb_create(e->mb, "a/sub/g", S_IFREG | 0644, NULL));
	must(mb_create(e->mb, "b", S_IFDIR | 0755, NULL));
	must(mb_create(e->mb, "t", S_IFREG | 0644, NULL));
}

static void test_rename_file(void)
{
	uint64_t a, b, f, id, calls;
	struct dc_result res;
	char path[64];
	struct env e;

	env_init(&e);
	rename_tree(&e);
	if (!env_start(&e))
		return;
	a = node_of(&e, "a");
	b = node_of(&e, "b");
	f = node_of(&e, "a/f");
	ok(a && b && f, "warm a, b, a/f");
	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "a/f", DC_WANT_DENTRY, &res), 0,
	   "hold a/f's dentry");

	must(mb_rename(e.mb, "a/f", "b/g", 0));
	is(dcache_rename(e.dc, a, "f", b, "g", 0), 0, "rename a/f -> b/g");
	calls = mb_calls_all(e.mb);
	is(walk_id(&e, "b/g", DC_CACHED, &id), 0, "b/g cached");
	is(id, f, "same node id");
	ok(walk_id(&e, "a/f", DC_CACHED, NULL) != 0,
	   "a/f is no longer a positive cache entry");
	is(mb_calls_all(e.mb), calls, "no backend call");
	is(walk_id(&e, "a/f", 0, NULL), -ENOENT, "a/f: -ENOENT");
	if (res.dentry) {
		is(dentry_path(res.dentry, path, sizeof(path)), 3,
		   "held dentry's path length");
		is_str(path, "b/g", "held dentry moved with the rename");
		dentry_name_copy(res.dentry, path);
		is_str(path, "g", "its new name");
		dentry_put(res.dentry);
	}

	/* Over a cached positive target: it is replaced. */
	is(lookup_id(&e, DC_ROOT_ID, "t", 0, &id), 0, "warm t");
	must(mb_rename(e.mb, "b/g", "t", 0));
	is(dcache_rename(e.dc, b, "g", DC_ROOT_ID, "t", 0), 0,
	   "rename b/g -> t over a cached t");
	is(walk_id(&e, "t", DC_CACHED, &id), 0, "t cached");
	is(id, f, "t is the moved file");
	is(walk_id(&e, "b/g", 0, NULL), -ENOENT, "b/g gone");

	/* Rename within one directory. */
	must(mb_rename(e.mb, "t", "t2", 0));
	is(dcache_rename(e.dc, DC_ROOT_ID, "t", DC_ROOT_ID, "t2", 0), 0,
	   "rename t -> t2");
	is(walk_id(&e, "t2", DC_CACHED, &id), 0, "t2 cached");
	is(id, f, "same file");
	is(walk_id(&e, "t", 0, NULL), -ENOENT, "t gone");

	/* Uncached source: invalidation only, answers stay right. */
	must(mb_create(e.mb, "u", S_IFREG | 0644, NULL));
	must(mb_rename(e.mb, "u", "a/u", 0));
	dcache_rename(e.dc, DC_ROOT_ID, "u", a, "u", 0);
	is(walk_id(&e, "a/u", 0, &id), 0, "uncached source: a/u found");
	is(walk_id(&e, "u", 0, NULL), -ENOENT, "u not found");

	is(dcache_rename(e.dc, DC_ROOT_ID, "t2", DC_ROOT_ID, "x", 1u << 7),
	   -EINVAL, "unknown flags: -EINVAL");
	is(walk_id(&e, "t2", DC_CACHED, &id), 0, "... and nothing moved");
	env_fini(&e);
}

static void test_rename_dir(void)
{
	uint64_t a, sub, g, b, id;
	struct dc_result res;
	char path[64];
	struct env e;

	env_init(&e);
	rename_tree(&e);
	if (!env_start(&e))
		return;
	a = node_of(&e, "a");
	sub = node_of(&e, "a/sub");
	g = node_of(&e, "a/sub/g");
	b = node_of(&e, "b");
	ok(a && sub && g && b, "warm the tree");
	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "a/sub/g", DC_WANT_DENTRY, &res), 0,
	   "hold a/sub/g's dentry");

	must(mb_rename(e.mb, "a", "b/a2", 0));
	is(dcache_rename(e.dc, DC_ROOT_ID, "a", b, "a2", 0), 0,
	   "rename directory a -> b/a2");
	is(walk_id(&e, "b/a2/sub/g", DC_CACHED, &id), 0,
	   "children reachable under the new path from the cache");
	is(id, g, "same node id");
	is(walk_id(&e, "b/a2", DC_CACHED, &id), 0, "b/a2 cached");
	is(id, a, "b/a2 is a");
	ok(walk_id(&e, "a/sub/g", DC_CACHED, NULL) != 0,
	   "old path not a cache hit");
	is(walk_id(&e, "a/sub/g", 0, NULL), -ENOENT, "old path gone");
	is(walk_id(&e, "b/a2/sub/..", DC_CACHED, &id), 0,
	   "\"..\" from the moved subtree");
	is(id, a, "... is the moved directory");
	is(walk_id(&e, "b/a2/..", DC_CACHED, &id), 0, "\"..\" of b/a2");
	is(id, b, "... is its new parent");
	if (res.dentry) {
		dentry_path(res.dentry, path, sizeof(path));
		is_str(path, "b/a2/sub/g", "held dentry's path follows");
		dentry_put(res.dentry);
	}

	/* A directory into its own subtree: refused, nothing moves. */
	is(dcache_rename(e.dc, b, "a2", sub, "x", 0), -EINVAL,
	   "directory into its own subtree: -EINVAL");
	is(dcache_rename(e.dc, b, "a2", a, "x", 0), -EINVAL,
	   "directory into itself: -EINVAL");
	is(walk_id(&e, "b/a2/sub/g", DC_CACHED, &id), 0, "tree unchanged");
	is(id, g, "same node");
	env_fini(&e);
}

static void test_rename_flags(void)
{
	uint64_t x, t, a, f, id;
	struct env e;

	env_init(&e);
	rename_tree(&e);
	must(mb_create(e.mb, "x", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	x = node_of(&e, "x");
	t = node_of(&e, "t");
	a = node_of(&e, "a");
	f = node_of(&e, "a/f");
	node_of(&e, "a/sub/g");
	ok(x && t && a && f, "warm x, t, a, a/f");

	/* NOREPLACE onto a cached negative entry. */
	is(lookup_id(&e, DC_ROOT_ID, "new", 0, NULL), -ENOENT,
	   "new is negative");
	must(mb_rename(e.mb, "x", "new", DC_RENAME_NOREPLACE));
	is(dcache_rename(e.dc, DC_ROOT_ID, "x", DC_ROOT_ID, "new",
			 DC_RENAME_NOREPLACE),
	   0, "NOREPLACE x -> new");
	is(walk_id(&e, "new", DC_CACHED, &id), 0, "new cached positive");
	is(id, x, "is x");
	is(walk_id(&e, "x", 0, NULL), -ENOENT, "x gone");

	/* EXCHANGE a file and a directory with children. */
	must(mb_rename(e.mb, "t", "a", DC_RENAME_EXCHANGE));
	is(dcache_rename(e.dc, DC_ROOT_ID, "t", DC_ROOT_ID, "a",
			 DC_RENAME_EXCHANGE),
	   0, "EXCHANGE t <-> a");
	is(walk_id(&e, "a", DC_CACHED, &id), 0, "a cached");
	is(id, t, "a is the old t");
	is(walk_id(&e, "t", DC_CACHED, &id), 0, "t cached");
	is(id, a, "t is the old a");
	is(walk_id(&e, "t/f", DC_CACHED, &id), 0,
	   "the directory's children moved with it");
	is(id, f, "t/f is the old a/f");
	is(walk_id(&e, "t/sub/g", DC_CACHED, NULL), 0, "t/sub/g too");
	is(walk_id(&e, "a/f", 0, NULL), -ENOTDIR, "a is a file now");

	/* EXCHANGE across directories. */
	must(mb_rename(e.mb, "t/f", "new", DC_RENAME_EXCHANGE));
	is(dcache_rename(e.dc, a, "f", DC_ROOT_ID, "new", DC_RENAME_EXCHANGE),
	   0, "EXCHANGE t/f <-> new");
	is(walk_id(&e, "t/f", DC_CACHED, &id), 0, "t/f cached");
	is(id, x, "t/f is x");
	is(walk_id(&e, "new", DC_CACHED, &id), 0, "new cached");
	is(id, f, "new is the old t/f");

	is(dcache_rename(e.dc, DC_ROOT_ID, "a", DC_ROOT_ID, "t",
			 DC_RENAME_NOREPLACE | DC_RENAME_EXCHANGE),
	   -EINVAL, "NOREPLACE | EXCHANGE: -EINVAL");
	env_fini(&e);
}

static void test_more_renames(void)
{
	uint64_t a, b, f, g, id;
	struct dc_attr la;
	int r;
	struct env e;

	env_init(&e);
	rename_tree(&e);
	if (!env_start(&e))
		return;
	a = node_of(&e, "a");
	b = node_of(&e, "b");
	f = node_of(&e, "a/f");
	ok(a && b && f, "warm a, b, a/f");

	/* Across directories onto a cached negative entry. */
	is(walk_id(&e, "b/neg", 0, NULL), -ENOENT, "b/neg negative");
	must(mb_rename(e.mb, "a/f", "b/neg", 0));
	is(dcache_rename(e.dc, a, "f", b, "neg", 0), 0, "a/f -> b/neg");
	is(walk_id(&e, "b/neg", DC_CACHED, &id), 0, "b/neg positive");
	is(id, f, "is the old a/f");
	is(walk_id(&e, "a/f", 0, NULL), -ENOENT, "a/f gone");

	/* EXCHANGE with an uncached side: answers stay right. */
	must(mb_create(e.mb, "b/unc", S_IFDIR | 0755, NULL));
	must(mb_rename(e.mb, "b/neg", "b/unc", DC_RENAME_EXCHANGE));
	dcache_rename(e.dc, b, "neg", b, "unc", DC_RENAME_EXCHANGE);
	{
		struct dc_result res;
		struct dc_attr fa;

		must(mb_stat(e.mb, "b/unc", &fa));
		memset(&res, 0, sizeof(res));
		is(dcache_walk(e.dc, "b/unc", DC_WANT_ATTR, &res), 0, "b/unc");
		is(res.attr.ino, fa.ino, "b/unc is the file");
		ok(S_ISREG(res.attr.mode), "a regular file");
		id = res.nodeid;
	}
	{
		struct dc_result res;

		memset(&res, 0, sizeof(res));
		is(dcache_walk(e.dc, "b/neg", DC_WANT_ATTR, &res), 0, "b/neg");
		ok(S_ISDIR(res.attr.mode), "b/neg is the directory");
	}

	/* Instantiating a hard link gives the same node id. */
	must(mb_link(e.mb, "b/unc", "b/link", &la));
	is(dcache_instantiate(e.dc, b, "link", &la, NULL, 0, NULL), 0,
	   "instantiate a hard link");
	is(walk_id(&e, "b/link", DC_CACHED, &g), 0, "b/link cached");
	is(g, id, "shares the node id of b/unc");

	/* Lookup in a directory removed while the kernel references it. */
	must(mb_create(e.mb, "gone", S_IFDIR | 0755, NULL));
	is(lookup_id(&e, DC_ROOT_ID, "gone", DC_WANT_KREF, &g), 0,
	   "kref on directory gone");
	must(mb_rmdir(e.mb, "gone"));
	is(dcache_remove(e.dc, DC_ROOT_ID, "gone"), 0, "remove gone");
	r = lookup_id(&e, g, "x", 0, NULL);
	ok(r == -ENOENT || r == -ESTALE,
	   "lookup in a removed directory: -ENOENT or -ESTALE (%d)", r);
	is(dcache_forget(e.dc, g, 1), 0, "forget gone");
	env_fini(&e);
}

/*
 * A backing inode number reused at once for a new object of the same type
 * (ext4 does it): after dcache_forget_key the new object is a new inode,
 * with its own node id and symlink target; the old node id lives on.
 */
static void test_forget_key(void)
{
	struct dc_result res;
	struct dc_attr a;
	uint64_t old, fresh, same;
	char buf[64];
	ssize_t n;
	struct env e;

	env_init(&e);
	if (!env_start(&e))
		return;
	must(mb_symlink(e.mb, "s", "old", &a));
	memset(&res, 0, sizeof(res));
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "s", &a, "old", DC_WANT_KREF,
			      &res),
	   0, "instantiate symlink s -> old, kernel reference");
	old = res.nodeid;
	/* without forget_key the same key is the same inode (a hard link) */
	memset(&res, 0, sizeof(res));
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "h", &a, NULL, 0, &res), 0,
	   "instantiate h with the same key");
	same = res.nodeid;
	is(same, old, "same key: same node id");
	/* a removal that fails: the key comes back */
	is(dcache_forget_key(e.dc, a.dev, a.ino), old,
	   "forget_key: the old id");
	dcache_rekey(e.dc, old);
	memset(&res, 0, sizeof(res));
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "h", &a, NULL, 0, &res), 0,
	   "instantiate h again");
	is(res.nodeid, old, "rekeyed: the same node id again");
	is(dcache_forget_key(e.dc, a.dev, a.ino), old,
	   "forget_key before removal");
	is(dcache_remove(e.dc, DC_ROOT_ID, "s"), 0, "remove s");
	is(dcache_remove(e.dc, DC_ROOT_ID, "h"), 0, "remove h");
	is(dcache_forget_key(e.dc, a.dev, a.ino + 1000), 0, "no such key: 0");
	/* a new symlink gets the same (dev, ino) */
	memset(&res, 0, sizeof(res));
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "t", &a, "new", DC_WANT_KREF,
			      &res),
	   0, "instantiate t -> new with the reused key");
	fresh = res.nodeid;
	ok(fresh != old, "a new node id");
	n = dcache_readlink(e.dc, fresh, DC_CACHED, buf, sizeof(buf));
	ok(n == 3 && !memcmp(buf, "new", 3), "the new target");
	n = dcache_readlink(e.dc, old, DC_CACHED, buf, sizeof(buf));
	ok(n == 3 && !memcmp(buf, "old", 3), "the old id keeps the old target");
	is(dcache_forget(e.dc, old, 1), 0, "forget the old id");
	is(dcache_forget(e.dc, fresh, 1), 0, "forget the new id");
	env_fini(&e);
}

/*
 * Names of every length around the dentry's inline block (cache/dcache_i.h,
 * DC_INAME_SIZE): short ones inline, long ones apart, and renames between
 * the two kinds (a rename always gives an external name, and must not
 * touch the inline one).  Lengths 1..60, walked, renamed and exchanged.
 */
static void test_name_lengths(void)
{
	char name[64], name2[64], path[160], back[160];
	struct dc_result res;
	uint64_t id, id2, ids[61];
	struct env e;
	size_t len;
	int bad = 0;

	env_init(&e);
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	for (len = 1; len <= 60; len++) {
		memset(name, 'a' + (int)(len % 26), len);
		name[len] = '\0';
		snprintf(path, sizeof(path), "d/%s", name);
		must(mb_create(e.mb, path, S_IFREG | 0644, NULL));
	}
	if (!env_start(&e))
		return;
	for (len = 1; len <= 60; len++) {
		memset(name, 'a' + (int)(len % 26), len);
		name[len] = '\0';
		snprintf(path, sizeof(path), "d/%s", name);
		if (walk_id(&e, path, 0, &ids[len]) ||
		    walk_id(&e, path, DC_CACHED, &id) || id != ids[len])
			bad++;
		/* a cached prefix or extension of the name is another name */
		name[len - 1] = '\0';
		snprintf(path, sizeof(path), "d/%s#", name);
		if (walk_id(&e, path, DC_CACHED, NULL) == 0)
			bad++;
	}
	is(bad, 0, "60 name lengths walked and cached");

	/* rename each to a name of another length: short <-> long */
	bad = 0;
	for (len = 1; len <= 60; len++) {
		size_t nl = 61 - len;
		uint64_t d = node_of(&e, "d");

		memset(name, 'a' + (int)(len % 26), len);
		name[len] = '\0';
		memset(name2, 'A' + (int)(len % 26), nl);
		name2[nl] = '\0';
		snprintf(path, sizeof(path), "d/%s", name);
		snprintf(back, sizeof(back), "d/%s", name2);
		must(mb_rename(e.mb, path, back, 0));
		if (dcache_rename(e.dc, d, name, d, name2, 0))
			bad++;
		if (walk_id(&e, back, DC_CACHED, &id) || id != ids[len])
			bad++;
		if (walk_id(&e, path, DC_CACHED, NULL) == 0)
			bad++;
		memset(&res, 0, sizeof(res));
		if (dcache_walk(e.dc, back, DC_CACHED | DC_WANT_DENTRY, &res) ||
		    !res.dentry)
			bad++;
		if (res.dentry) {
			if (dentry_path(res.dentry, path, sizeof(path)) !=
				    (ssize_t)(nl + 2) ||
			    strcmp(path, back))
				bad++;
			dentry_name_copy(res.dentry, path);
			if (strcmp(path, name2))
				bad++;
			dentry_put(res.dentry);
		}
	}
	is(bad, 0, "renamed across the inline length, both ways");

	/* exchange a short and a long name, twice */
	must(mb_create(e.mb, "d/s", S_IFREG | 0644, NULL));
	memset(name, '-', 50);
	name[50] = '\0';
	snprintf(path, sizeof(path), "d/%s", name);
	must(mb_create(e.mb, path, S_IFREG | 0644, NULL));
	is(walk_id(&e, "d/s", 0, &id), 0, "warm d/s");
	is(walk_id(&e, path, 0, &id2), 0, "warm the long name");
	for (len = 0; len < 2; len++) {
		uint64_t x;

		must(mb_rename(e.mb, "d/s", path, DC_RENAME_EXCHANGE));
		is(dcache_rename(e.dc, node_of(&e, "d"), "s", node_of(&e, "d"),
				 name, DC_RENAME_EXCHANGE),
		   0, "exchange short and long");
		x = id;
		id = id2;
		id2 = x;
		is(walk_id(&e, "d/s", DC_CACHED, &x), 0, "d/s cached");
		is(x, id, "d/s is the other file");
		is(walk_id(&e, path, DC_CACHED, &x), 0, "long name cached");
		is(x, id2, "the long name is the other file");
	}
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_instantiate();
	test_remove();
	test_rename_file();
	test_rename_dir();
	test_rename_flags();
	test_more_renames();
	test_forget_key();
	test_name_lengths();
	dcache_thread_exit();
	return tap_done();
}
