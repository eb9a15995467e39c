// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_lookup.c - dcache_lookup: positive and negative entries,
 * DC_CACHED, name validation, odd names, backend errors, TTLs, statistics;
 * dcache_prefetch changes nothing.
 */
#include <sys/stat.h>

#include "unit.h"

static void test_positive(void)
{
	struct dcache_stats s0, s1;
	struct dc_result res;
	struct dc_attr fa;
	uint64_t calls, id;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0640, &fa));
	if (!env_start(&e))
		return;

	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	memset(&res, 0, sizeof(res));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "f", DC_WANT_ATTR, &res), 0,
	   "lookup of an existing name");
	ok(res.nodeid != 0 && res.nodeid != DC_ROOT_ID,
	   "positive result has a fresh node id (%llu)",
	   (unsigned long long)res.nodeid);
	is(res.attr.ino, fa.ino, "attr.ino from the backend");
	is(res.attr.dev, MB_DEV, "attr.dev from the backend");
	is(res.attr.mode, S_IFREG | 0640, "attr.mode from the backend");
	is(res.attr.nlink, 1, "attr.nlink from the backend");
	ok(res.dentry == NULL, "no dentry without DC_WANT_DENTRY");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1, "one backend lookup");
	id = res.nodeid;

	s0 = stats_of(&e);
	memset(&res, 0, sizeof(res));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "f", DC_WANT_ATTR, &res), 0,
	   "second lookup");
	is(res.nodeid, id, "same node id");
	is(res.attr.ino, fa.ino, "same attributes");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1,
	   "second lookup answered from the cache");
	s1 = stats_of(&e);
	ok(s1.hits[DC_OP_LOOKUP] > s0.hits[DC_OP_LOOKUP],
	   "stats: lookup hit counted (%llu -> %llu)",
	   (unsigned long long)s0.hits[DC_OP_LOOKUP],
	   (unsigned long long)s1.hits[DC_OP_LOOKUP]);
	is(s1.backend_calls[DC_BE_LOOKUP], s0.backend_calls[DC_BE_LOOKUP],
	   "stats: no backend call on a hit");

	env_fini(&e);
}

static void test_negative(void)
{
	struct dcache_stats s0, s1, s2;
	uint64_t calls, id = 99;
	struct env e;

	env_init(&e);
	if (!env_start(&e))
		return;
	s0 = stats_of(&e);
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	is(lookup_id(&e, DC_ROOT_ID, "nope", 0, &id), -ENOENT,
	   "lookup of a missing name");
	is(id, 0, "negative result has node id 0");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1, "backend was asked");
	s1 = stats_of(&e);
	is(s1.backend_calls[DC_BE_LOOKUP] - s0.backend_calls[DC_BE_LOOKUP], 1,
	   "stats: one backend lookup");
	ok(s1.negative_dentries >= 1, "stats: a negative dentry is cached");

	is(lookup_id(&e, DC_ROOT_ID, "nope", 0, NULL), -ENOENT,
	   "second lookup still negative");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1,
	   "negative entry answered from the cache");
	is(lookup_id(&e, DC_ROOT_ID, "nope", DC_CACHED, NULL), -ENOENT,
	   "DC_CACHED answers a cached negative entry");
	s2 = stats_of(&e);
	ok(s2.neg_hits >= s1.neg_hits + 2, "stats: neg_hits %llu -> %llu",
	   (unsigned long long)s1.neg_hits, (unsigned long long)s2.neg_hits);
	is(s2.backend_calls[DC_BE_LOOKUP], s1.backend_calls[DC_BE_LOOKUP],
	   "stats: no backend call on negative hits");
	is(s2.backend_errors, s0.backend_errors,
	   "stats: ENOENT is not a backend error");

	/* The backend tree changes behind the cache's back: still cached. */
	must(mb_create(e.mb, "nope", S_IFREG | 0644, NULL));
	is(lookup_id(&e, DC_ROOT_ID, "nope", 0, NULL), -ENOENT,
	   "negative entry kept until invalidated (TTL forever)");
	env_fini(&e);
}

static void test_cached_flag(void)
{
	uint64_t calls, id1 = 0, id2 = 0;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "g", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	must(mb_create(e.mb, "d/x", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	calls = mb_calls_all(e.mb);
	is(lookup_id(&e, DC_ROOT_ID, "g", DC_CACHED, NULL), -EAGAIN,
	   "DC_CACHED miss on an existing name: -EAGAIN");
	is(lookup_id(&e, DC_ROOT_ID, "missing", DC_CACHED, NULL), -EAGAIN,
	   "DC_CACHED miss on a missing name: -EAGAIN");
	is(lookup_id(&e, DC_ROOT_ID, "g", DC_CACHED | DC_WANT_ATTR, NULL),
	   -EAGAIN, "DC_CACHED | DC_WANT_ATTR miss: -EAGAIN");
	is(lookup_id(&e, DC_ROOT_ID, "g", DC_CACHED | DC_WANT_KREF, NULL),
	   -EAGAIN, "DC_CACHED | DC_WANT_KREF miss: -EAGAIN");
	is(mb_calls_all(e.mb), calls, "DC_CACHED never called the backend");

	is(lookup_id(&e, DC_ROOT_ID, "g", 0, &id1), 0, "warm g");
	is(lookup_id(&e, DC_ROOT_ID, "missing", 0, NULL), -ENOENT,
	   "warm missing");
	calls = mb_calls_all(e.mb);
	is(lookup_id(&e, DC_ROOT_ID, "g", DC_CACHED, &id2), 0,
	   "DC_CACHED hit after warming");
	is(id2, id1, "same node id");
	is(lookup_id(&e, DC_ROOT_ID, "g", DC_CACHED | DC_WANT_ATTR, NULL), 0,
	   "DC_CACHED | DC_WANT_ATTR hit after warming");
	is(lookup_id(&e, DC_ROOT_ID, "missing", DC_CACHED, NULL), -ENOENT,
	   "DC_CACHED negative hit after warming");
	is(mb_calls_all(e.mb), calls, "hits made no backend call");

	/* Parent by node id, child not cached. */
	is(lookup_id(&e, DC_ROOT_ID, "d", 0, &id1), 0, "warm d");
	calls = mb_calls_all(e.mb);
	is(lookup_id(&e, id1, "x", DC_CACHED, NULL), -EAGAIN,
	   "DC_CACHED miss below a cached directory");
	is(mb_calls_all(e.mb), calls, "no backend call");
	is(lookup_id(&e, id1, "x", 0, &id2), 0, "lookup d/x by parent id");
	ok(id2 != 0 && id2 != id1, "d/x has its own node id");
	env_fini(&e);
}

static void test_invalid_names(void)
{
	char name[DC_NAME_MAX + 2];
	uint64_t calls, fid = 0;
	struct env e;

	env_init(&e);
	memset(name, 'n', DC_NAME_MAX);
	name[DC_NAME_MAX] = '\0';
	must(mb_create(e.mb, name, S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "file", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;

	calls = mb_calls_all(e.mb);
	is(lookup_id(&e, DC_ROOT_ID, "", 0, NULL), -EINVAL, "empty name");
	is(lookup_id(&e, DC_ROOT_ID, ".", 0, NULL), -EINVAL, "\".\"");
	is(lookup_id(&e, DC_ROOT_ID, "..", 0, NULL), -EINVAL, "\"..\"");
	is(lookup_id(&e, DC_ROOT_ID, "a/b", 0, NULL), -EINVAL, "name with '/'");
	is(lookup_id(&e, DC_ROOT_ID, "/", 0, NULL), -EINVAL, "\"/\"");
	is(lookup_id(&e, DC_ROOT_ID, "a/", 0, NULL), -EINVAL,
	   "name ending in '/'");
	is(lookup_id(&e, DC_ROOT_ID, "..", DC_CACHED, NULL), -EINVAL,
	   "\"..\" with DC_CACHED");
	is(mb_calls_all(e.mb), calls, "invalid names never reach the backend");

	is(lookup_id(&e, DC_ROOT_ID, name, DC_WANT_ATTR, NULL), 0,
	   "255-byte name");
	is(lookup_id(&e, DC_ROOT_ID, name, DC_CACHED, NULL), 0,
	   "255-byte name cached");
	memset(name, 'n', DC_NAME_MAX + 1);
	name[DC_NAME_MAX + 1] = '\0';
	calls = mb_calls_all(e.mb);
	is(lookup_id(&e, DC_ROOT_ID, name, 0, NULL), -ENAMETOOLONG,
	   "256-byte name: -ENAMETOOLONG");
	is(lookup_id(&e, DC_ROOT_ID, name, DC_CACHED, NULL), -ENAMETOOLONG,
	   "256-byte name with DC_CACHED: -ENAMETOOLONG");
	is(mb_calls_all(e.mb), calls, "... without a backend call");

	/* Names that are prefixes of dot names are ordinary names. */
	must(mb_create(e.mb, "...", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, ".x", S_IFREG | 0644, NULL));
	is(lookup_id(&e, DC_ROOT_ID, "...", 0, NULL), 0, "\"...\" is a name");
	is(lookup_id(&e, DC_ROOT_ID, ".x", 0, NULL), 0, "\".x\" is a name");

	/* Parent errors. */
	is(lookup_id(&e, DC_ROOT_ID, "file", 0, &fid), 0, "lookup file");
	is(lookup_id(&e, fid, "x", 0, NULL), -ENOTDIR,
	   "lookup in a non-directory: -ENOTDIR");
	is(lookup_id(&e, 987654321, "x", 0, NULL), -ESTALE,
	   "lookup in an unknown node id: -ESTALE");
	is(lookup_id(&e, 0, "x", 0, NULL), -ESTALE,
	   "lookup in node id 0: -ESTALE");
	env_fini(&e);
}

/*
 * Names made of every byte 1..255 but '/': the 254 bytes in one name, the
 * same rotated (different hashes, same bytes), and the bytes one by one.
 */
static void test_all_bytes(void)
{
	char all[256], name[DC_NAME_MAX + 1];
	size_t n = 0, i, k;
	unsigned bad;
	struct env e;
	int c;

	for (c = 1; c < 256; c++) {
		if (c != '/')
			all[n++] = (char)c;
	}
	all[n] = '\0';
	if (!is(n, 254, "254 usable bytes"))
		return;

	env_init(&e);
	for (k = 0; k < 8; k++) {
		for (i = 0; i < n; i++)
			name[i] = all[(i + k * 31) % n];
		name[n] = k & 1 ? 'z' : '\0'; /* odd k: 255 bytes */
		name[DC_NAME_MAX] = '\0';
		must(mb_create(e.mb, name, S_IFREG | 0644, NULL));
	}
	for (i = 0; i < n; i++) {
		name[0] = all[i];
		name[1] = '\0';
		if (strcmp(name, ".") == 0)
			continue;
		must(mb_create(e.mb, name, S_IFREG | 0644, NULL));
	}
	if (!env_start(&e))
		return;

	for (k = 0; k < 8; k++) {
		struct dc_attr want;
		struct dc_result res;

		for (i = 0; i < n; i++)
			name[i] = all[(i + k * 31) % n];
		name[n] = k & 1 ? 'z' : '\0';
		name[DC_NAME_MAX] = '\0';
		must(mb_stat(e.mb, name, &want));
		memset(&res, 0, sizeof(res));
		is(dcache_lookup(e.dc, DC_ROOT_ID, name, DC_WANT_ATTR, &res), 0,
		   "all-bytes name, rotation %zu, %zu bytes", k, strlen(name));
		is(res.attr.ino, want.ino, "... names the right object");
		is(lookup_id(&e, DC_ROOT_ID, name, DC_CACHED, NULL), 0,
		   "... and is cached");
	}

	bad = 0;
	for (i = 0; i < n; i++) {
		struct dc_attr want;
		struct dc_result res;

		name[0] = all[i];
		name[1] = '\0';
		if (strcmp(name, ".") == 0)
			continue;
		must(mb_stat(e.mb, name, &want));
		memset(&res, 0, sizeof(res));
		if (dcache_lookup(e.dc, DC_ROOT_ID, name, DC_WANT_ATTR, &res) ||
		    res.attr.ino != want.ino)
			bad++;
		else if (lookup_id(&e, DC_ROOT_ID, name, DC_CACHED, NULL))
			bad++;
	}
	is(bad, 0, "every one-byte name looks up the right object");

	/* Same bytes, different names: nothing collides in the cache. */
	memcpy(name, all, n);
	name[n] = '\0';
	name[n - 1] ^= 1; /* a name that does not exist */
	is(lookup_id(&e, DC_ROOT_ID, name, 0, NULL), -ENOENT,
	   "near-miss of an all-bytes name is negative");
	env_fini(&e);
}

static void test_backend_errors(void)
{
	struct dcache_stats s0, s1;
	uint64_t calls;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "e", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;

	s0 = stats_of(&e);
	mb_inject(e.mb, DC_BE_LOOKUP, "e", -EIO, 1);
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	is(lookup_id(&e, DC_ROOT_ID, "e", 0, NULL), -EIO,
	   "backend EIO propagates");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1, "one backend call");
	s1 = stats_of(&e);
	ok(s1.backend_errors > s0.backend_errors, "stats: backend error");
	is(lookup_id(&e, DC_ROOT_ID, "e", DC_CACHED, NULL), -EAGAIN,
	   "the error was not cached (DC_CACHED misses)");
	is(lookup_id(&e, DC_ROOT_ID, "e", 0, NULL), 0,
	   "next lookup reaches the backend again and succeeds");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 2, "second backend call");

	/* An error on a missing name does not become a negative entry. */
	mb_inject(e.mb, DC_BE_LOOKUP, NULL, -EACCES, 1);
	is(lookup_id(&e, DC_ROOT_ID, "absent", 0, NULL), -EACCES,
	   "backend EACCES propagates");
	is(lookup_id(&e, DC_ROOT_ID, "absent", DC_CACHED, NULL), -EAGAIN,
	   "no negative entry was cached for it");
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	is(lookup_id(&e, DC_ROOT_ID, "absent", 0, NULL), -ENOENT,
	   "next lookup asks the backend: -ENOENT");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1, "backend called");
	is(lookup_id(&e, DC_ROOT_ID, "absent", 0, NULL), -ENOENT,
	   "and now the negative entry is cached");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 1, "no further call");

	/* An injected -ENOENT is cached as negative like a real one. */
	must(mb_create(e.mb, "ghost", S_IFREG | 0644, NULL));
	mb_inject(e.mb, DC_BE_LOOKUP, "ghost", -ENOENT, 1);
	is(lookup_id(&e, DC_ROOT_ID, "ghost", 0, NULL), -ENOENT,
	   "backend ENOENT");
	is(lookup_id(&e, DC_ROOT_ID, "ghost", 0, NULL), -ENOENT,
	   "cached as negative though the backend now has it");
	env_fini(&e);
}

/* TTL 0: every lookup revalidates; DC_CACHED never answers. */
static void test_ttl_zero(void)
{
	uint64_t calls, id1 = 0, id2 = 0;
	struct env e;

	env_init(&e);
	e.cfg.entry_ttl_ns = 0;
	e.cfg.neg_ttl_ns = 0;
	e.cfg.attr_ttl_ns = 0;
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;

	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id1), 0, "lookup f");
	calls = mb_calls(e.mb, DC_BE_LOOKUP) + mb_calls(e.mb, DC_BE_GETATTR);
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, &id2), 0, "lookup f again");
	is(id2, id1, "same node id");
	ok(mb_calls(e.mb, DC_BE_LOOKUP) + mb_calls(e.mb, DC_BE_GETATTR) > calls,
	   "second lookup revalidated with the backend");
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_CACHED, NULL), -EAGAIN,
	   "DC_CACHED cannot answer with TTL 0");

	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	is(lookup_id(&e, DC_ROOT_ID, "n", 0, NULL), -ENOENT, "lookup n");
	is(lookup_id(&e, DC_ROOT_ID, "n", 0, NULL), -ENOENT, "lookup n again");
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls + 2,
	   "negative entries revalidate too");
	is(lookup_id(&e, DC_ROOT_ID, "n", DC_CACHED, NULL), -EAGAIN,
	   "DC_CACHED cannot answer a negative with TTL 0");

	/* Changes behind the cache are seen at once. */
	must(mb_unlink(e.mb, "f"));
	must(mb_create(e.mb, "n", S_IFREG | 0644, NULL));
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, NULL), -ENOENT,
	   "removed behind the cache: -ENOENT");
	is(lookup_id(&e, DC_ROOT_ID, "n", 0, &id2), 0,
	   "created behind the cache: found");
	ok(id2 != 0 && id2 != id1, "with a new node id");

	/* A cached directory with children replaced by a file. */
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	must(mb_create(e.mb, "d/x", S_IFREG | 0644, NULL));
	is(walk_id(&e, "d/x", 0, NULL), 0, "d/x found");
	must(mb_unlink(e.mb, "d/x"));
	must(mb_rmdir(e.mb, "d"));
	must(mb_create(e.mb, "d", S_IFREG | 0644, NULL));
	is(walk_id(&e, "d/x", 0, NULL), -ENOTDIR,
	   "d replaced by a file behind the cache: d/x -ENOTDIR");
	{
		struct dc_result res;

		memset(&res, 0, sizeof(res));
		is(dcache_walk(e.dc, "d", DC_WANT_ATTR, &res), 0, "walk d");
		ok(S_ISREG(res.attr.mode), "d is a file now");
	}

	/* A revalidation error propagates and is not cached. */
	mb_inject(e.mb, DC_BE_LOOKUP, "n", -EIO, 1);
	mb_inject(e.mb, DC_BE_GETATTR, "n", -EIO, 1);
	is(lookup_id(&e, DC_ROOT_ID, "n", 0, NULL), -EIO,
	   "revalidation EIO propagates");
	is(lookup_id(&e, DC_ROOT_ID, "n", 0, NULL), 0, "then works");
	env_fini(&e);
}

/* Finite TTLs: cached until they expire, then revalidated. */
static void test_ttl_expiry(void)
{
	struct dc_attr a, want;
	struct env e;
	uint64_t gid = 0;

	env_init(&e);
	e.cfg.entry_ttl_ns = 100 * 1000000ull;
	e.cfg.neg_ttl_ns = 100 * 1000000ull;
	e.cfg.attr_ttl_ns = 100 * 1000000ull;
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "g", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, NULL), 0, "lookup f");
	is(lookup_id(&e, DC_ROOT_ID, "g", 0, &gid), 0, "lookup g");
	is(lookup_id(&e, DC_ROOT_ID, "n", 0, NULL), -ENOENT, "lookup n");
	must(mb_unlink(e.mb, "f"));
	must(mb_create(e.mb, "n", S_IFREG | 0644, NULL));
	must(mb_stat(e.mb, "g", &want));
	want.mode = S_IFREG | 0600;
	want.size = 77;
	must(mb_setattr(e.mb, "g", &want));
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_CACHED, NULL), 0,
	   "f still cached before the TTL");
	is(lookup_id(&e, DC_ROOT_ID, "n", DC_CACHED, NULL), -ENOENT,
	   "n still negative before the TTL");
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, gid, DC_CACHED, &a), 0,
	   "g's attributes cached before the TTL");
	is(a.size, 0, "... the old ones");
	sleep_ms(150);
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_CACHED, NULL), -EAGAIN,
	   "f expired: DC_CACHED -EAGAIN");
	is(lookup_id(&e, DC_ROOT_ID, "f", 0, NULL), -ENOENT,
	   "f expired: revalidated, gone");
	is(lookup_id(&e, DC_ROOT_ID, "n", 0, NULL), 0,
	   "n expired: revalidated, found");
	is(dcache_getattr(e.dc, gid, DC_CACHED, &a), -EAGAIN,
	   "g's attributes expired: DC_CACHED -EAGAIN");
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, gid, 0, &a), 0, "getattr g refreshes");
	is(a.size, 77, "... new size");
	is(a.mode, S_IFREG | 0600, "... new mode");
	env_fini(&e);
}

/*
 * The backend's per-device cap (ttl_cap): with the dcache's periods
 * forever, what lives on a capped device (names and negatives in its
 * directories, attributes, symlink targets) expires at the cap; on any
 * other device it stays forever.
 */
static uint64_t cap_dev, cap_ns;
static uint64_t test_cap(void *backend, uint64_t dev)
{
	(void)backend;
	return dev == cap_dev ? cap_ns : DC_TTL_FOREVER;
}

static void test_ttl_cap_on(uint64_t dev, bool capped)
{
	struct dc_backend_ops ops = *mb_ops();
	const char *what = capped ? "capped device" : "other device";
	struct dc_result res;
	struct dc_attr a;
	char buf[16];
	struct env e;
	uint64_t fid = 0, calls;

	env_init(&e);
	ops.ttl_cap = test_cap;
	e.cfg.ops = &ops;
	cap_dev = dev;
	cap_ns = 100 * 1000000ull;
	must(mb_create(e.mb, "f", S_IFREG | 0644, NULL));
	must(mb_symlink(e.mb, "l", "dest", NULL));
	if (!env_start(&e))
		return;
	memset(&res, 0, sizeof(res));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "f", DC_WANT_ATTR, &res), 0,
	   "%s: lookup f", what);
	fid = res.nodeid;
	if (capped)
		ok(res.valid_until != DC_TTL_FOREVER,
		   "%s: the answer says when it expires", what);
	else
		is(res.valid_until, DC_TTL_FOREVER, "%s: valid forever", what);
	is(lookup_id(&e, DC_ROOT_ID, "n", 0, NULL), -ENOENT,
	   "%s: lookup n (negative)", what);
	memset(&res, 0, sizeof(res));
	res.link = buf;
	res.link_size = sizeof(buf);
	is(dcache_lookup(e.dc, DC_ROOT_ID, "l", DC_WANT_LINK, &res), 0,
	   "%s: lookup l with its target", what);
	sleep_ms(150);
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	is(lookup_id(&e, DC_ROOT_ID, "f", DC_CACHED, NULL),
	   capped ? -EAGAIN : 0, "%s: f after the cap", what);
	is(lookup_id(&e, DC_ROOT_ID, "n", DC_CACHED, NULL),
	   capped ? -EAGAIN : -ENOENT, "%s: n after the cap", what);
	memset(&a, 0, sizeof(a));
	is(dcache_getattr(e.dc, fid, DC_CACHED, &a), capped ? -EAGAIN : 0,
	   "%s: f's attributes after the cap", what);
	is(dcache_readlink(e.dc, res.nodeid, DC_CACHED, buf, sizeof(buf)),
	   capped ? -EAGAIN : 4, "%s: l's target after the cap", what);
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls,
	   "%s: DC_CACHED asked the backend nothing", what);
	is(lookup_id(&e, DC_ROOT_ID, "n", 0, NULL), -ENOENT, "%s: n again",
	   what);
	is(mb_calls(e.mb, DC_BE_LOOKUP) - calls, capped ? 1 : 0, "%s: %s", what,
	   capped ? "revalidated with the backend" : "a hit");
	env_fini(&e);
}

static void test_slow_stats_and_link(void)
{
	struct dcache_stats s0, s1;
	struct dc_result res;
	char buf[16];
	struct env e;

	env_init(&e);
	must(mb_symlink(e.mb, "l", "dest", NULL));
	if (!env_start(&e))
		return;
	s0 = stats_of(&e);
	memset(&res, 0, sizeof(res));
	memset(buf, 'X', sizeof(buf));
	res.link = buf;
	res.link_size = sizeof(buf);
	is(dcache_lookup(e.dc, DC_ROOT_ID, "l", DC_WANT_LINK | DC_WANT_ATTR,
			 &res),
	   0, "lookup of a symlink with DC_WANT_LINK (miss)");
	is(res.link_len, 4, "link_len");
	is_str(buf, "dest", "target");
	ok(S_ISLNK(res.attr.mode), "attributes of the link");
	s1 = stats_of(&e);
	ok(s1.slow[DC_OP_LOOKUP] > s0.slow[DC_OP_LOOKUP],
	   "stats: the miss counts as slow");
	is(s1.hits[DC_OP_LOOKUP], s0.hits[DC_OP_LOOKUP], "stats: not a hit");
	is(s1.backend_calls[DC_BE_LOOKUP] - s0.backend_calls[DC_BE_LOOKUP], 1,
	   "stats: one backend lookup");
	env_fini(&e);
}

/* dcache_prefetch is a hint: whatever it is given, nothing changes. */
static void test_prefetch(void)
{
	struct dcache_stats s0, s1;
	struct dc_result res;
	struct dc_attr fa;
	uint64_t calls, fid;
	struct env e;
	int deep;

	env_init(&e);
	must(mb_create(e.mb, "f", S_IFREG | 0640, &fa));
	if (!env_start(&e))
		return;
	memset(&res, 0, sizeof(res));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "f", DC_WANT_ATTR, &res), 0,
	   "prefetch: f cached");
	fid = res.nodeid;
	calls = mb_calls(e.mb, DC_BE_LOOKUP);
	s0 = stats_of(&e);
	for (deep = 0; deep < 2; deep++) {
		dcache_prefetch(e.dc, DC_ROOT_ID, "f", fa.ino, deep);
		dcache_prefetch(e.dc, DC_ROOT_ID, "missing", 12345, deep);
		dcache_prefetch(e.dc, DC_ROOT_ID, "missing", 0, deep);
		dcache_prefetch(e.dc, 999999, "f", fa.ino, deep); /* unknown */
		dcache_prefetch(e.dc, fid, "x", 1, deep); /* not a directory */
	}
	s1 = stats_of(&e);
	is(mb_calls(e.mb, DC_BE_LOOKUP), calls, "prefetch: no backend call");
	is(s1.dentries, s0.dentries, "prefetch: no dentry added");
	is(s1.negative_dentries, s0.negative_dentries,
	   "prefetch: no negative entry added");
	is(s1.inodes, s0.inodes, "prefetch: no inode added");
	is(s1.hits[DC_OP_LOOKUP], s0.hits[DC_OP_LOOKUP],
	   "prefetch: not counted as a lookup");
	is(dcache_lookup(e.dc, DC_ROOT_ID, "missing", DC_CACHED, &res), -EAGAIN,
	   "prefetch: the hinted missing name is still unknown");
	memset(&res, 0, sizeof(res));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "f", DC_CACHED | DC_WANT_ATTR, &res),
	   0, "prefetch: f still cached");
	is(res.nodeid, fid, "prefetch: f keeps its node id");
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_positive();
	test_negative();
	test_cached_flag();
	test_invalid_names();
	test_all_bytes();
	test_backend_errors();
	test_ttl_zero();
	test_ttl_expiry();
	test_ttl_cap_on(MB_DEV, true);
	test_ttl_cap_on(MB_DEV + 1, false);
	test_slow_stats_and_link();
	test_prefetch();
	dcache_thread_exit();
	return tap_done();
}
