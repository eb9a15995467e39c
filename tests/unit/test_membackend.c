// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_membackend.c - the oracle itself: the mb_* tree
 * operations follow the syscalls they mimic (errors, nlink, rename rules),
 * and fault injection and call counters behave as documented.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "unit.h"

static uint64_t nlink_of(struct membackend *mb, const char *path)
{
	struct dc_attr a;

	if (mb_stat(mb, path, &a))
		return 0;
	return a.nlink;
}

static void test_tree(void)
{
	struct membackend *mb = mb_new();
	struct dc_attr a, b;
	char buf[16];
	uint64_t ino;

	if (!ok(mb != NULL, "mb_new"))
		return;
	mb_root_attr(mb, &a);
	is(a.ino, MB_ROOT_INO, "root ino");
	is(a.dev, MB_DEV, "root dev");
	ok(S_ISDIR(a.mode), "root is a directory");
	is(a.nlink, 2, "root nlink 2");

	is(mb_create(mb, "d", S_IFDIR | 0755, &a), 0, "mkdir d");
	ok(a.ino > MB_ROOT_INO, "new ino");
	is(a.nlink, 2, "new dir nlink 2");
	is(nlink_of(mb, ""), 3, "root nlink 3");
	is(mb_create(mb, "d", S_IFREG, NULL), -EEXIST, "create existing");
	is(mb_create(mb, "", S_IFREG, NULL), -EEXIST, "create the root");
	is(mb_create(mb, "x/y", S_IFREG, NULL), -ENOENT, "missing parent");
	is(mb_create(mb, "d/f", 0644, &b), 0, "create d/f (no type: regular)");
	ok(S_ISREG(b.mode) && (b.mode & 07777) == 0644, "regular 0644");
	is(b.nlink, 1, "file nlink 1");
	is(b.size, 0, "size 0");
	is(mb_create(mb, "d/f/g", S_IFREG, NULL), -ENOTDIR,
	   "create under a file");
	is(mb_create(mb, "d/.", S_IFREG, NULL), -EINVAL, "\".\" refused");
	{
		char longname[DC_NAME_MAX + 2];

		memset(longname, 'l', sizeof(longname) - 1);
		longname[sizeof(longname) - 1] = '\0';
		is(mb_create(mb, longname, S_IFREG, NULL), -ENAMETOOLONG,
		   "256-byte name");
		longname[DC_NAME_MAX] = '\0';
		is(mb_create(mb, longname, S_IFREG, NULL), 0, "255-byte name");
	}

	is(mb_link(mb, "d/f", "h", &a), 0, "link d/f h");
	is(a.nlink, 2, "nlink 2");
	is(a.ino, b.ino, "same ino");
	is(mb_link(mb, "d", "d2", NULL), -EPERM, "link a directory: -EPERM");
	is(mb_link(mb, "d/f", "h", NULL), -EEXIST, "link onto existing");
	is(mb_unlink(mb, "h"), 0, "unlink h");
	is(nlink_of(mb, "d/f"), 1, "nlink back to 1");
	is(mb_unlink(mb, "d"), -EISDIR, "unlink a directory: -EISDIR");
	is(mb_unlink(mb, "nope"), -ENOENT, "unlink missing");
	is(mb_rmdir(mb, "d"), -ENOTEMPTY, "rmdir non-empty");
	is(mb_rmdir(mb, "d/f"), -ENOTDIR, "rmdir a file");
	is(mb_rmdir(mb, ""), -EBUSY, "rmdir the root");

	is(mb_symlink(mb, "s", "target", &a), 0, "symlink");
	ok(S_ISLNK(a.mode), "is a symlink");
	is(a.size, 6, "size is the target length");
	memset(buf, 'X', sizeof(buf));
	is(mb_readlink(mb, "s", buf, sizeof(buf)), 6, "readlink");
	is_str(buf, "target", "target");
	is(mb_readlink(mb, "s", buf, 3), 6, "readlink, small buffer");
	is(mb_readlink(mb, "d", buf, 3), -EINVAL, "readlink of a dir");
	is(mb_set_link(mb, "s", "tt"), 0, "set_link");
	is(mb_readlink(mb, "s", buf, sizeof(buf)), 2, "new target length");
	is(mb_set_link(mb, "d", "tt"), -EINVAL, "set_link on a dir");

	mb_stat(mb, "d/f", &a);
	ino = a.ino;
	a.mode = S_IFDIR | 0600; /* type bits must be ignored */
	a.size = 99;
	a.uid = 5;
	a.ino = 12345;
	a.nlink = 77;
	is(mb_setattr(mb, "d/f", &a), 0, "setattr");
	mb_stat(mb, "d/f", &b);
	is(b.mode, S_IFREG | 0600, "permission bits set, type kept");
	is(b.size, 99, "size set");
	is(b.uid, 5, "uid set");
	is(b.ino, ino, "ino kept");
	is(b.nlink, 1, "nlink kept");

	is(mb_rmdir(mb, "d/f"), -ENOTDIR, "rmdir file");
	is(mb_unlink(mb, "d/f"), 0, "unlink d/f");
	is(mb_rmdir(mb, "d"), 0, "rmdir d");
	is(nlink_of(mb, ""), 2, "root nlink 2 again");
	is(mb_create(mb, "d", S_IFDIR, &a), 0, "mkdir d again");
	ok(a.ino > ino, "inode numbers are not reused");
	mb_free(mb);
}

static void test_rename(void)
{
	struct membackend *mb = mb_new();
	struct dc_attr a, b;

	if (!ok(mb != NULL, "mb_new"))
		return;
	must(mb_create(mb, "a", S_IFDIR, NULL));
	must(mb_create(mb, "a/sub", S_IFDIR, NULL));
	must(mb_create(mb, "a/f", S_IFREG, &a));
	must(mb_create(mb, "b", S_IFDIR, NULL));
	must(mb_create(mb, "b/bb", S_IFREG, NULL));
	must(mb_create(mb, "e", S_IFDIR, NULL));
	must(mb_create(mb, "g", S_IFREG, &b));

	is(mb_rename(mb, "a", "a/sub/x", 0), -EINVAL, "into own subtree");
	is(mb_rename(mb, "a", "a/x", 0), -EINVAL, "into itself");
	is(mb_rename(mb, "nope", "x", 0), -ENOENT, "missing source");
	is(mb_rename(mb, "a", "b", 0), -ENOTEMPTY, "dir over non-empty dir");
	is(mb_rename(mb, "a/f", "b", 0), -EISDIR, "file over dir");
	is(mb_rename(mb, "b", "g", 0), -ENOTDIR, "dir over file");
	is(mb_rename(mb, "a/f", "g", DC_RENAME_NOREPLACE), -EEXIST,
	   "NOREPLACE over existing");
	is(mb_rename(mb, "a/f", "zz", DC_RENAME_EXCHANGE), -ENOENT,
	   "EXCHANGE with missing");
	is(mb_rename(mb, "a/f", "g", DC_RENAME_EXCHANGE | DC_RENAME_NOREPLACE),
	   -EINVAL, "both flags");
	is(mb_rename(mb, "a/f", "g", 1u << 9), -EINVAL, "unknown flag");

	is(mb_rename(mb, "a/f", "g", 0), 0, "file over file");
	mb_stat(mb, "g", &b);
	is(b.ino, a.ino, "g is the old a/f");
	is(mb_stat(mb, "a/f", &b), -ENOENT, "a/f gone");

	is(mb_rename(mb, "a/sub", "b/sub", 0), 0, "move dir a/sub -> b/sub");
	is(nlink_of(mb, "a"), 2, "a lost a subdir");
	is(nlink_of(mb, "b"), 3, "b gained one");
	is(mb_rename(mb, "b/sub", "e", 0), 0, "dir over empty dir");
	is(nlink_of(mb, "b"), 2, "b lost it");
	is(nlink_of(mb, ""), 5, "root: . .. a b e (e replaced)");

	must(mb_create(mb, "e/x", S_IFREG, &a));
	is(mb_rename(mb, "e", "g", DC_RENAME_EXCHANGE), 0, "EXCHANGE dir/file");
	mb_stat(mb, "g/x", &b);
	is(b.ino, a.ino, "g is the directory now");
	ok(mb_stat(mb, "e", &b) == 0 && S_ISREG(b.mode), "e is the file");
	is(mb_rename(mb, "g", "a/g", DC_RENAME_EXCHANGE), -ENOENT,
	   "EXCHANGE with a missing target");
	must(mb_create(mb, "a/y", S_IFREG, NULL));
	is(mb_rename(mb, "g", "a/y", DC_RENAME_EXCHANGE), 0,
	   "EXCHANGE across directories");
	is(nlink_of(mb, "a"), 3, "a gained the directory");
	is(mb_stat(mb, "a/y/x", &b), 0, "a/y/x reachable");
	is(mb_rename(mb, "a/y", "a/y", 0), 0, "rename onto itself: 0");
	mb_free(mb);
}

static void test_big_dir(void)
{
	struct membackend *mb = mb_new();
	char path[32];
	unsigned i, bad = 0;

	if (!ok(mb != NULL, "mb_new"))
		return;
	must(mb_create(mb, "d", S_IFDIR, NULL));
	for (i = 0; i < 20000; i++) {
		snprintf(path, sizeof(path), "d/%u", i);
		bad += mb_create(mb, path, S_IFREG, NULL) != 0;
	}
	for (i = 0; i < 20000; i += 2) {
		snprintf(path, sizeof(path), "d/%u", i);
		bad += mb_unlink(mb, path) != 0;
	}
	for (i = 0; i < 20000; i++) {
		struct dc_attr a;

		snprintf(path, sizeof(path), "d/%u", i);
		bad += (mb_stat(mb, path, &a) == 0) != (i % 2 == 1);
	}
	is(bad, 0, "20000 creates, 10000 unlinks, stats agree");
	mb_free(mb);
}

/* Fault injection, counters, and the ops through a dcache. */
static void test_ops(void)
{
	uint64_t c0;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "a", S_IFREG, NULL));
	must(mb_create(e.mb, "b", S_IFREG, NULL));
	if (!env_start(&e))
		return;
	c0 = mb_calls(e.mb, DC_BE_LOOKUP);
	mb_inject(e.mb, DC_BE_LOOKUP, "b", EIO, 2); /* positive errno too */
	is(lookup_id(&e, DC_ROOT_ID, "a", 0, NULL), 0,
	   "injection for b does not hit a");
	is(lookup_id(&e, DC_ROOT_ID, "b", 0, NULL), -EIO, "b: EIO 1");
	is(lookup_id(&e, DC_ROOT_ID, "b", 0, NULL), -EIO, "b: EIO 2");
	is(lookup_id(&e, DC_ROOT_ID, "b", 0, NULL), 0, "b: count used up");
	is(mb_calls(e.mb, DC_BE_LOOKUP), c0 + 4, "mb_calls counted 4 lookups");
	mb_inject(e.mb, DC_BE_LOOKUP, NULL, -ENOSPC, 1);
	is(lookup_id(&e, DC_ROOT_ID, "c", 0, NULL), -ENOSPC,
	   "unnamed injection hits any name");
	is(lookup_id(&e, DC_ROOT_ID, "c", 0, NULL), -ENOENT, "then stops");
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_tree();
	test_rename();
	test_big_dir();
	test_ops();
	dcache_thread_exit();
	return tap_done();
}
