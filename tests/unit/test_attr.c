// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_attr.c - dcache_getattr, dcache_readlink, dcache_setattr,
 * dcache_set_link, dcache_inval_inode, dc_attr_{from,to}_stat.
 */
#include <sys/stat.h>

#include "unit.h"

static void test_getattr(void)
{
	struct dc_attr a, want;
	struct dcache_stats s0, s1;
	uint64_t calls, id = 0;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0600, &want));
	if (!env_start(&e))
		return;

	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, DC_ROOT_ID, 0, &a), 0, "getattr of the root");
	is(a.ino, MB_ROOT_INO, "root ino");
	is(a.dev, MB_DEV, "root dev");
	ok(S_ISDIR(a.mode), "root is a directory");
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, DC_ROOT_ID, DC_CACHED, &a), 0,
	   "root attributes cached (from the config)");
	is(a.ino, MB_ROOT_INO, "... root ino");

	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id), 0, "lookup f");
	calls = mb_calls_all(e.mb);
	s0 = stats_of(&e);
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, id, 0, &a), 0, "getattr f");
	is(a.ino, want.ino, "ino");
	is(a.mode, S_IFREG | 0600, "mode");
	is(a.nlink, 1, "nlink");
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, id, DC_CACHED, &a), 0, "DC_CACHED getattr f");
	is(a.ino, want.ino, "ino");
	is(dcache_getattr(e.dc, id, DC_FOR_ACCESS, &a), 0,
	   "DC_FOR_ACCESS getattr");
	is(mb_calls_all(e.mb), calls, "answered from the lookup's attributes");
	s1 = stats_of(&e);
	ok(s1.hits[DC_OP_GETATTR] >= s0.hits[DC_OP_GETATTR] + 2,
	   "stats: getattr hits counted");
	ok(s1.hits[DC_OP_ACCESS] > s0.hits[DC_OP_ACCESS],
	   "stats: access hit counted");

	is(dcache_getattr(e.dc, 424242, 0, &a), -ESTALE, "unknown id: -ESTALE");
	is(dcache_getattr(e.dc, 424242, DC_CACHED, &a), -ESTALE,
	   "unknown id with DC_CACHED: -ESTALE");
	is(dcache_getattr(e.dc, 0, 0, &a), -ESTALE, "id 0: -ESTALE");

	/* Backend errors on refresh propagate and are not cached. */
	is(dcache_inval_inode(e.dc, id, DC_INVAL_ATTR, DC_SRC_USER), 0,
	   "inval attributes of f");
	is(dcache_getattr(e.dc, id, DC_CACHED, &a), -EAGAIN,
	   "DC_CACHED after inval: -EAGAIN");
	mb_inject(e.mb, DC_BE_GETATTR, NULL, -EIO, 1);
	calls = mb_calls(e.mb, DC_BE_GETATTR);
	is(dcache_getattr(e.dc, id, 0, &a), -EIO, "backend EIO propagates");
	is(dcache_getattr(e.dc, id, 0, &a), 0, "then refreshes");
	is(mb_calls(e.mb, DC_BE_GETATTR), calls + 2, "two backend getattrs");
	is(dcache_getattr(e.dc, id, DC_CACHED, &a), 0, "cached again");
	env_fini(&e);
}

static void test_setattr(void)
{
	struct dc_attr a, na;
	uint64_t calls, id = 0;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0644, &na));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id), 0, "lookup f");

	na.mode = S_IFREG | 0600;
	na.size = 12345;
	na.uid = 7;
	na.gid = 8;
	na.mtime_sec = 1000;
	na.mtime_nsec = 999;
	must(mb_setattr(e.mb, "f", &na));
	calls = mb_calls_all(e.mb);
	is(dcache_setattr(e.dc, id, &na), 0, "dcache_setattr");
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, id, DC_CACHED, &a), 0,
	   "new attributes answered from the cache");
	is(a.mode, S_IFREG | 0600, "mode");
	is(a.size, 12345, "size");
	is(a.uid, 7, "uid");
	is(a.gid, 8, "gid");
	is(a.mtime_sec, 1000, "mtime");
	is(a.mtime_nsec, 999, "mtime nsec");
	is(mb_calls_all(e.mb), calls, "no backend call");
	{
		struct dc_result res;

		memset(&res, 0, sizeof(res));
		is(dcache_lookup(e.dc, DC_ROOT_ID, "f", DC_WANT_ATTR, &res), 0,
		   "lookup f");
		is(res.attr.size, 12345, "lookup sees the new size");
	}
	is(dcache_setattr(e.dc, 424242, &na), -ESTALE,
	   "setattr unknown id: -ESTALE");
	env_fini(&e);
}

static void test_readlink(void)
{
	char buf[64];
	uint64_t calls, id = 0, fid = 0;
	struct env e;

	env_init(&e);
	must(mb_symlink(e.mb, "l", "some/target", NULL));
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "l", 0, &id), 0, "lookup l");
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &fid), 0, "lookup f");

	memset(buf, 'X', sizeof(buf));
	is(dcache_readlink(e.dc, id, 0, buf, sizeof(buf)), 11, "readlink");
	is_str(buf, "some/target", "target, NUL-terminated");
	calls = mb_calls(e.mb, DC_BE_READLINK);
	memset(buf, 'X', sizeof(buf));
	is(dcache_readlink(e.dc, id, 0, buf, sizeof(buf)), 11, "again");
	is_str(buf, "some/target", "same target");
	memset(buf, 'X', sizeof(buf));
	is(dcache_readlink(e.dc, id, DC_CACHED, buf, sizeof(buf)), 11,
	   "DC_CACHED readlink hits");
	is_str(buf, "some/target", "same target");
	is(mb_calls(e.mb, DC_BE_READLINK), calls,
	   "target cached: no backend readlink");

	memset(buf, 'X', sizeof(buf));
	is(dcache_readlink(e.dc, id, 0, buf, 4), 11,
	   "small buffer: full length returned");
	ok(memcmp(buf, "some", 4) == 0, "the first 4 bytes copied");
	is(buf[4], 'X', "nothing written past the buffer");
	is(dcache_readlink(e.dc, id, 0, buf, 11), 11,
	   "buffer of exactly the length");
	ok(memcmp(buf, "some/target", 11) == 0, "all bytes copied");

	is(dcache_readlink(e.dc, fid, 0, buf, sizeof(buf)), -EINVAL,
	   "readlink of a file: -EINVAL");
	is(dcache_readlink(e.dc, DC_ROOT_ID, 0, buf, sizeof(buf)), -EINVAL,
	   "readlink of the root: -EINVAL");
	is(dcache_readlink(e.dc, 424242, 0, buf, sizeof(buf)), -ESTALE,
	   "readlink of an unknown id: -ESTALE");

	/* set_link: new target visible at once. */
	must(mb_set_link(e.mb, "l", "new/t"));
	calls = mb_calls_all(e.mb);
	is(dcache_set_link(e.dc, id, "new/t", 5), 0, "dcache_set_link");
	memset(buf, 'X', sizeof(buf));
	is(dcache_readlink(e.dc, id, DC_CACHED, buf, sizeof(buf)), 5,
	   "new target from the cache");
	is_str(buf, "new/t", "new target");
	is(mb_calls_all(e.mb), calls, "no backend call");
	is(dcache_set_link(e.dc, 424242, "x", 1), -ESTALE,
	   "set_link on an unknown id: -ESTALE");

	/* inval LINK: next readlink asks the backend. */
	must(mb_set_link(e.mb, "l", "third"));
	is(dcache_inval_inode(e.dc, id, DC_INVAL_LINK, DC_SRC_USER), 0,
	   "inval link");
	is(dcache_readlink(e.dc, id, DC_CACHED, buf, sizeof(buf)), -EAGAIN,
	   "DC_CACHED after inval: -EAGAIN");
	calls = mb_calls(e.mb, DC_BE_READLINK);
	is(dcache_readlink(e.dc, id, 0, buf, sizeof(buf)), 5, "readlink");
	is_str(buf, "third", "fresh target");
	is(mb_calls(e.mb, DC_BE_READLINK), calls + 1, "one backend readlink");

	/* Backend error: propagated, not cached. */
	is(dcache_inval_inode(e.dc, id, DC_INVAL_LINK, DC_SRC_USER), 0,
	   "inval link again");
	mb_inject(e.mb, DC_BE_READLINK, "l", -EIO, 1);
	is(dcache_readlink(e.dc, id, 0, buf, sizeof(buf)), -EIO,
	   "backend EIO propagates");
	is(dcache_readlink(e.dc, id, 0, buf, sizeof(buf)), 5, "then works");
	env_fini(&e);
}

static void test_link_on_instantiate(void)
{
	char buf[32];
	struct dc_result res;
	struct dc_attr la;
	uint64_t calls;
	struct env e;

	env_init(&e);
	if (!env_start(&e))
		return;
	must(mb_symlink(e.mb, "l", "tgt", &la));
	memset(&res, 0, sizeof(res));
	is(dcache_instantiate(e.dc, DC_ROOT_ID, "l", &la, "tgt", 0, &res), 0,
	   "instantiate a symlink with its target");
	ok(res.nodeid != 0, "node id returned");
	calls = mb_calls_all(e.mb);
	is(dcache_readlink(e.dc, res.nodeid, DC_CACHED, buf, sizeof(buf)), 3,
	   "target cached by instantiate");
	is_str(buf, "tgt", "target");
	is(mb_calls_all(e.mb), calls, "no backend call");
	env_fini(&e);
}

static void test_stat_conv(void)
{
	struct dc_attr a, b;
	struct stat st;

	memset(&a, 0, sizeof(a));
	a.ino = 5;
	a.dev = 6;
	a.mode = S_IFREG | 0640;
	a.nlink = 3;
	a.uid = 10;
	a.gid = 11;
	a.size = 1 << 20;
	a.blocks = 2048;
	a.blksize = 4096;
	a.atime_sec = 1;
	a.atime_nsec = 2;
	a.mtime_sec = 3;
	a.mtime_nsec = 4;
	a.ctime_sec = 5;
	a.ctime_nsec = 6;
	memset(&st, 0, sizeof(st));
	dc_attr_to_stat(&a, &st);
	is(st.st_ino, 5, "st_ino");
	is(st.st_mode, S_IFREG | 0640, "st_mode");
	is(st.st_size, 1 << 20, "st_size");
	is(st.st_mtim.tv_sec, 3, "st_mtim.tv_sec");
	is(st.st_ctim.tv_nsec, 6, "st_ctim.tv_nsec");
	memset(&b, 0, sizeof(b));
	dc_attr_from_stat(&b, &st);
	ok(memcmp(&a, &b, sizeof(a)) == 0, "round trip through struct stat");
}

/*
 * The inode keeps attributes packed (cache/dcache_i.h, struct dc_iattr):
 * the widest values that fit come back exactly; a value that does not fit
 * is never cached, and every answer still carries the backend's values.
 */
static void test_packed(void)
{
	struct dc_attr a, set, got;
	uint64_t id = 0;
	struct env e;
	int bad;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id), 0, "lookup f");
	must(mb_stat(e.mb, "f", &set));
	set.mode = S_IFREG | 07777;
	set.nlink = UINT32_MAX;
	set.uid = UINT32_MAX;
	set.gid = UINT32_MAX - 1;
	set.rdev = UINT64_MAX;
	set.size = INT64_MIN;
	set.blocks = INT64_MAX;
	set.blksize = (int64_t)UINT32_MAX - 1;
	set.atime_sec = INT64_MIN;
	set.atime_nsec = 999999999;
	set.mtime_sec = -1;
	set.mtime_nsec = (int64_t)UINT32_MAX - 1;
	set.ctime_sec = INT64_MAX;
	set.ctime_nsec = 0;
	must(mb_setattr(e.mb, "f", &set));
	is(dcache_inval_inode(e.dc, id, DC_INVAL_ATTR, DC_SRC_USER), 0,
	   "inval f");
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, id, 0, &a), 0, "getattr: extreme values");
	must(mb_stat(e.mb, "f", &set));
	memset(&got, 0, sizeof(got));
	is(dcache_getattr(e.dc, id, DC_CACHED, &got), 0,
	   "extreme values that fit are cached");
	ok(!memcmp(&got, &set, sizeof(set)) && !memcmp(&a, &set, sizeof(set)),
	   "... and come back exactly");
	memset(&got, 0, sizeof(got));
	is(walk_id(&e, "f", DC_CACHED, NULL), 0, "cached walk");

	/* each field beyond what the inode keeps: not cached, answered */
	bad = 0;
	for (int f = 0; f < 7; f++) {
		struct dc_attr w = set;

		switch (f) {
		case 0: /* (nlink is the membackend's own) */
			w.gid = (uint64_t)UINT32_MAX + 1;
			break;
		case 1:
			w.uid = (uint64_t)1 << 40;
			break;
		case 2:
			w.gid = UINT64_MAX;
			break;
		case 3:
			w.atime_nsec = -1;
			break;
		case 4:
			w.mtime_nsec = UINT32_MAX;
			break;
		case 5:
			w.ctime_nsec = INT64_MAX;
			break;
		case 6:
			w.blksize = (int64_t)1 << 33;
			break;
		}
		must(mb_setattr(e.mb, "f", &w));
		must(mb_stat(e.mb, "f", &w));
		dcache_inval_inode(e.dc, id, DC_INVAL_ATTR, DC_SRC_USER);
		memset(&a, 0, sizeof(a));
		if (dcache_getattr(e.dc, id, 0, &a) ||
		    memcmp(&a, &w, sizeof(w))) {
			diag("field %d: not the backend's answer", f);
			bad++;
		}
		if (dcache_getattr(e.dc, id, DC_CACHED, &a) != -EAGAIN) {
			diag("field %d: cached", f);
			bad++;
		}
	}
	is(bad, 0, "values that do not fit: exact answers, nothing cached");
	must(mb_setattr(e.mb, "f", &set));
	dcache_inval_inode(e.dc, id, DC_INVAL_ATTR, DC_SRC_USER);
	is(dcache_getattr(e.dc, id, 0, &a), 0, "fitting values again");
	is(dcache_getattr(e.dc, id, DC_CACHED, &a), 0, "cached again");
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_getattr();
	test_setattr();
	test_readlink();
	test_link_on_instantiate();
	test_stat_conv();
	test_packed();
	dcache_thread_exit();
	return tap_done();
}
