// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_walk.c - dcache_walk and dcache_walk_at: multi-component
 * paths, ".", "..", slashes, errors, DC_CACHED, DC_FORCE_REF, results.
 */
#include <sys/stat.h>

#include "unit.h"

/* Tree: a/ a/b/ a/b/c a/f s -> "a/b" (symlink), z/ */
static void make_tree(struct env *e)
{
	must(mb_create(e->mb, "a", S_IFDIR | 0755, NULL));
	must(mb_create(e->mb, "a/b", S_IFDIR | 0755, NULL));
	must(mb_create(e->mb, "a/b/c", S_IFREG | 0644, NULL));
	must(mb_create(e->mb, "a/f", S_IFREG | 0644, NULL));
	must(mb_symlink(e->mb, "s", "a/b", NULL));
	must(mb_create(e->mb, "z", S_IFDIR | 0700, NULL));
}

static void test_paths(void)
{
	uint64_t a, b, c, f, id;
	struct dc_attr want;
	struct dc_result res;
	struct env e;

	env_init(&e);
	make_tree(&e);
	if (!env_start(&e))
		return;

	is(lookup_id(&e, DC_ROOT_ID, "a", 0, &a), 0, "lookup a");
	is(lookup_id(&e, a, "b", 0, &b), 0, "lookup a/b");
	is(lookup_id(&e, b, "c", 0, &c), 0, "lookup a/b/c");
	is(lookup_id(&e, a, "f", 0, &f), 0, "lookup a/f");

	must(mb_stat(e.mb, "a/b/c", &want));
	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "a/b/c", DC_WANT_ATTR, &res), 0, "walk a/b/c");
	is(res.nodeid, c, "walk and lookups agree on the node id");
	is(res.attr.ino, want.ino, "attributes of a/b/c");

	is(walk_id(&e, "//a//b//c", 0, &id), 0, "walk //a//b//c");
	is(id, c, "repeated slashes ignored");
	is(walk_id(&e, "/a/b/c", 0, &id), 0, "walk /a/b/c");
	is(id, c, "leading slash ignored");
	is(walk_id(&e, "a/./b/./c", 0, &id), 0, "walk a/./b/./c");
	is(id, c, "\".\" skipped");
	is(walk_id(&e, "a/b/../f", 0, &id), 0, "walk a/b/../f");
	is(id, f, "\"..\" goes to the parent");
	is(walk_id(&e, "a/b/../../a/b/c", 0, &id), 0, "walk a/b/../../a/b/c");
	is(id, c, "... back up to the root and down");
	is(walk_id(&e, "a/b/", 0, &id), 0, "walk a/b/");
	is(id, b, "trailing slash on a directory");

	is(walk_id(&e, "", 0, &id), 0, "empty path");
	is(id, DC_ROOT_ID, "empty path is the root");
	is(walk_id(&e, "/", 0, &id), 0, "\"/\"");
	is(id, DC_ROOT_ID, "\"/\" is the root");
	is(walk_id(&e, ".", 0, &id), 0, "\".\"");
	is(id, DC_ROOT_ID, "\".\" is the root");
	is(walk_id(&e, "..", 0, &id), 0, "\"..\" at the root");
	is(id, DC_ROOT_ID, "\"..\" stays at the root");
	is(walk_id(&e, "../../..", 0, &id), 0, "\"../../..\"");
	is(id, DC_ROOT_ID, "... still the root");
	is(walk_id(&e, "../a/../../a/b", 0, &id), 0, "\"../a/../../a/b\"");
	is(id, b, "\"..\" above the root is clamped, then goes on");

	is(walk_id(&e, "a/f/x", 0, NULL), -ENOTDIR,
	   "file as intermediate component: -ENOTDIR");
	is(walk_id(&e, "a/b/c/x/y", 0, NULL), -ENOTDIR,
	   "file deeper as intermediate: -ENOTDIR");
	is(walk_id(&e, "a/zz/c", 0, NULL), -ENOENT,
	   "missing intermediate: -ENOENT");
	is(walk_id(&e, "a/zz", 0, &id), -ENOENT, "missing last: -ENOENT");
	is(id, 0, "negative result has node id 0");
	is(walk_id(&e, "nope/zz/yy", 0, NULL), -ENOENT,
	   "missing first of three: -ENOENT");

	/* Symlinks are not followed. */
	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "s", DC_WANT_ATTR, &res), 0, "walk s");
	ok(S_ISLNK(res.attr.mode), "s is the symlink itself");
	is(walk_id(&e, "s/c", 0, NULL), -ENOTDIR,
	   "symlink as intermediate: -ENOTDIR (not followed)");
	env_fini(&e);
}

static void test_long_components(void)
{
	char path[2 * DC_NAME_MAX + 8], name[DC_NAME_MAX + 2];
	uint64_t calls, id = 0;
	struct dc_attr want;
	struct env e;

	env_init(&e);
	memset(name, 'd', DC_NAME_MAX);
	name[DC_NAME_MAX] = '\0';
	must(mb_create(e.mb, name, S_IFDIR | 0755, NULL));
	snprintf(path, sizeof(path), "%s/%s", name, name);
	must(mb_create(e.mb, path, S_IFREG | 0644, &want));
	if (!env_start(&e))
		return;
	is(walk_id(&e, path, DC_WANT_ATTR, &id), 0,
	   "walk of two 255-byte components");
	ok(id != 0, "positive");
	is(walk_id(&e, path, DC_CACHED, NULL), 0, "now cached");

	calls = mb_calls_all(e.mb);
	snprintf(path, sizeof(path), "%s/%sx", name, name);
	is(walk_id(&e, path, 0, NULL), -ENAMETOOLONG,
	   "256-byte last component: -ENAMETOOLONG");
	snprintf(path, sizeof(path), "%sx/%s", name, name);
	is(walk_id(&e, path, 0, NULL), -ENAMETOOLONG,
	   "256-byte first component: -ENAMETOOLONG");
	is(mb_calls_all(e.mb), calls, "... without a backend call");
	env_fini(&e);
}

static void test_cached_and_forced(void)
{
	uint64_t calls, id1 = 0, id2 = 0;
	struct dc_result res;
	char buf[64];
	struct env e;

	env_init(&e);
	make_tree(&e);
	if (!env_start(&e))
		return;
	calls = mb_calls_all(e.mb);
	is(walk_id(&e, "a/b/c", DC_CACHED, NULL), -EAGAIN,
	   "DC_CACHED walk on a cold cache: -EAGAIN");
	is(walk_id(&e, "a/zz", DC_CACHED, NULL), -EAGAIN,
	   "DC_CACHED walk to a missing name: -EAGAIN");
	is(mb_calls_all(e.mb), calls, "no backend call");

	is(walk_id(&e, "a/b/c", 0, &id1), 0, "warm a/b/c");
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	is(walk_id(&e, "a/b/c", DC_CACHED, &id2), 0, "DC_CACHED walk hits");
	is(id2, id1, "same node id");
	is(walk_id(&e, "a/b/c", DC_FORCE_REF, &id2), 0, "DC_FORCE_REF walk");
	is(id2, id1, "same node id in ref-walk mode");
	is(walk_id(&e, "a/b/c", DC_FORCE_REF | DC_CACHED, &id2), 0,
	   "DC_FORCE_REF | DC_CACHED walk hits");
	is(walk_id(&e, "a/b/x", DC_FORCE_REF, NULL), -ENOENT,
	   "DC_FORCE_REF to a missing name");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1,
	   "only the missing name reached the backend");
	is(walk_id(&e, "a/b/x", DC_CACHED, NULL), -ENOENT,
	   "its negative entry is cached for RCU walks");
	is(walk_id(&e, "a/b/x/y", DC_CACHED, NULL), -ENOENT,
	   "negative intermediate: -ENOENT from the cache");
	is(walk_id(&e, "a/f/x", 0, NULL), -ENOTDIR, "warm a/f/x");
	is(walk_id(&e, "a/f/x", DC_CACHED, NULL), -ENOTDIR,
	   "cached file as intermediate: -ENOTDIR with DC_CACHED");

	/* A symlink target with DC_WANT_LINK. */
	memset(&res, 0, sizeof(res));
	memset(buf, 'X', sizeof(buf));
	res.link = buf;
	res.link_size = sizeof(buf);
	is(dcache_walk(e.dc, "s", DC_WANT_LINK, &res), 0,
	   "walk s with DC_WANT_LINK");
	is(res.link_len, 3, "link_len");
	is_str(buf, "a/b", "target copied and NUL-terminated");
	memset(&res, 0, sizeof(res));
	memset(buf, 'X', sizeof(buf));
	res.link = buf;
	res.link_size = sizeof(buf);
	is(dcache_walk(e.dc, "s", DC_WANT_LINK | DC_CACHED, &res), 0,
	   "target now cached");
	is_str(buf, "a/b", "... same target");
	env_fini(&e);
}

static void test_dentries(void)
{
	struct dc_result res, r2;
	struct dentry *a, *p;
	char buf[DC_NAME_MAX + 1];
	uint64_t c = 0, id = 0;
	struct env e;

	env_init(&e);
	make_tree(&e);
	if (!env_start(&e))
		return;

	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "a/b/c", DC_WANT_DENTRY, &res), 0,
	   "walk a/b/c with DC_WANT_DENTRY");
	if (!ok(res.dentry != NULL, "got the dentry"))
		goto out;
	c = res.nodeid;
	ok(!dentry_is_negative(res.dentry), "positive dentry");
	is(dentry_name_copy(res.dentry, buf), 1, "name length");
	is_str(buf, "c", "dentry name");
	is(dentry_path(res.dentry, buf, sizeof(buf)), 5, "dentry_path length");
	is_str(buf, "a/b/c", "dentry_path");
	is(dentry_path(res.dentry, buf, 3), -ENAMETOOLONG,
	   "dentry_path into a small buffer: -ENAMETOOLONG");
	p = dentry_parent(res.dentry);
	if (ok(p != NULL, "dentry_parent")) {
		dentry_name_copy(p, buf);
		is_str(buf, "b", "parent is b");
		dentry_put(p);
	}
	{
		struct dc_inode *inode = dentry_inode(res.dentry);

		if (ok(inode != NULL, "dentry_inode")) {
			is(dc_inode_nodeid(inode), c, "inode's node id");
			dc_inode_put(inode);
		}
	}
	dentry_put(res.dentry);

	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "", DC_WANT_DENTRY, &res), 0, "root dentry");
	if (ok(res.dentry != NULL, "got it")) {
		is(dentry_path(res.dentry, buf, sizeof(buf)), 0,
		   "root path length 0");
		is_str(buf, "", "root path is \"\"");
		p = dentry_parent(res.dentry);
		ok(p == res.dentry, "root is its own parent");
		dentry_put(p);
		dentry_put(res.dentry);
	}

	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "a/nope", DC_WANT_DENTRY, &res), -ENOENT,
	   "walk to a missing last component with DC_WANT_DENTRY");
	if (ok(res.dentry != NULL, "negative dentry returned")) {
		ok(dentry_is_negative(res.dentry), "it is negative");
		ok(dentry_inode(res.dentry) == NULL, "no inode");
		dentry_name_copy(res.dentry, buf);
		is_str(buf, "nope", "its name");
		dentry_put(res.dentry);
	}
	memset(&res, 0, sizeof(res));
	dcache_walk(e.dc, "nope/deeper", DC_WANT_DENTRY, &res);
	ok(res.dentry == NULL,
	   "no dentry when an intermediate component is missing");
	dentry_put(res.dentry);

	/* dcache_walk_at from a held directory dentry. */
	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "a", DC_WANT_DENTRY, &res), 0, "dentry of a");
	a = res.dentry;
	if (!ok(a != NULL, "got it"))
		goto out;
	memset(&r2, 0, sizeof(r2));
	is(dcache_walk_at(e.dc, a, "b/c", 0, &r2), 0, "walk_at a: b/c");
	is(r2.nodeid, c, "reaches a/b/c");
	is(dcache_walk_at(e.dc, a, "", 0, &r2), 0, "walk_at a: \"\"");
	is(r2.nodeid, res.nodeid, "is a itself");
	is(dcache_walk_at(e.dc, a, "..", 0, &r2), 0, "walk_at a: ..");
	is(r2.nodeid, DC_ROOT_ID, "is the root");
	is(dcache_walk_at(e.dc, a, "f/x", 0, &r2), -ENOTDIR,
	   "walk_at a: f/x -ENOTDIR");
	is(dcache_walk_at(e.dc, a, "b/c", DC_CACHED, &r2), 0,
	   "walk_at with DC_CACHED hits");
	dentry_put(a);
	is(walk_id(&e, "a/b/c", DC_CACHED, &id), 0, "still cached after puts");
	is(id, c, "same node");

	/* A held dentry that gets invalidated is no longer hashed. */
	memset(&res, 0, sizeof(res));
	is(dcache_walk(e.dc, "a/b/c", DC_WANT_DENTRY, &res), 0,
	   "hold a/b/c again");
	is(dcache_inval_entry(e.dc, node_of(&e, "a"), "b", DC_SRC_USER), 0,
	   "invalidate a/b");
	if (res.dentry) {
		is(dentry_path(res.dentry, buf, sizeof(buf)), -ENOENT,
		   "dentry_path of an unhashed dentry: -ENOENT");
		dentry_put(res.dentry);
	}
	is(walk_id(&e, "a/b/c", 0, &id), 0, "a/b/c looked up again");
out:
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_paths();
	test_long_components();
	test_cached_and_forced();
	test_dentries();
	dcache_thread_exit();
	return tap_done();
}
