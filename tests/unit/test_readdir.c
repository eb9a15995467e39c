// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_readdir.c - dcache_readdir: listing through the backend,
 * resuming at a position, caching the entries it saw (readdirplus).
 */
#include <stdio.h>
#include <sys/stat.h>

#include "unit.h"

#define NENT 300

struct listing {
	unsigned n, stop_after; /* 0: never stop */
	unsigned seen[NENT];	/* by index in the name */
	unsigned other, no_attr, bad_attr;
	struct membackend *mb;
	const char *dir;
};

static int fill(void *ctx, const char *name, size_t len,
		const struct dc_attr *attr)
{
	struct listing *l = ctx;
	char path[64], buf[DC_NAME_MAX + 1];
	struct dc_attr want;
	int idx;

	if (l->stop_after && l->n == l->stop_after)
		return 1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	if (len != strlen(buf) || sscanf(buf, "e%d", &idx) != 1 || idx < 0 ||
	    idx >= NENT) {
		l->other++;
		return 0;
	}
	l->seen[idx]++;
	l->n++;
	if (!attr) {
		l->no_attr++;
		return 0;
	}
	snprintf(path, sizeof(path), "%s%s%s", l->dir, *l->dir ? "/" : "", buf);
	if (mb_stat(l->mb, path, &want) || want.ino != attr->ino ||
	    want.mode != attr->mode)
		l->bad_attr++;
	return 0;
}

static unsigned count_seen(const struct listing *l, unsigned times)
{
	unsigned i, n = 0;

	for (i = 0; i < NENT; i++)
		n += l->seen[i] == times;
	return n;
}

static void test_readdir(void)
{
	struct listing l;
	char path[64];
	uint64_t d = 0, calls;
	off_t pos, end;
	unsigned i, cached;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "d", S_IFDIR | 0755, NULL));
	for (i = 0; i < NENT; i++) {
		snprintf(path, sizeof(path), "d/e%u", i);
		if (i % 3 == 0)
			must(mb_create(e.mb, path, S_IFDIR | 0755, NULL));
		else if (i % 3 == 1)
			must(mb_symlink(e.mb, path, "t", NULL));
		else
			must(mb_create(e.mb, path, S_IFREG | 0644, NULL));
	}
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "d", 0, &d), 0, "lookup d");

	memset(&l, 0, sizeof(l));
	l.mb = e.mb;
	l.dir = "d";
	calls = mb_calls(e.mb, DC_BE_READDIR);
	end = dcache_readdir(e.dc, d, 0, fill, &l);
	ok(end > 0, "readdir returns the end position (%lld)", (long long)end);
	ok(mb_calls(e.mb, DC_BE_READDIR) > calls, "through the backend");
	is(count_seen(&l, 1), NENT, "every entry listed exactly once");
	is(l.other, 0, "nothing else listed (no . or ..)");
	is(l.no_attr, 0, "membackend gives attributes");
	is(l.bad_attr, 0, "attributes are right");

	cached = 0;
	calls = mb_calls_all(e.mb);
	for (i = 0; i < NENT; i++) {
		struct dc_result res;

		snprintf(path, sizeof(path), "e%u", i);
		memset(&res, 0, sizeof(res));
		if (!dcache_lookup(e.dc, d, path, DC_CACHED | DC_WANT_ATTR,
				   &res) &&
		    res.nodeid && (i % 3 != 0 || S_ISDIR(res.attr.mode)))
			cached++;
	}
	is(cached, NENT, "readdir cached every entry with its attributes");
	is(mb_calls_all(e.mb), calls, "lookups after readdir: no backend call");
	{
		uint64_t id = 0;

		is(lookup_id(&e, d, "e0", 0, &id), 0, "e0");
		is(nlookup_of(&e, id), 0, "readdir took no kernel reference");
	}

	/* At the end: nothing more. */
	memset(&l, 0, sizeof(l));
	l.mb = e.mb;
	l.dir = "d";
	is(dcache_readdir(e.dc, d, end, fill, &l), end,
	   "readdir from the end returns the end");
	is(l.n, 0, "and lists nothing");

	/* Stop (buffer full) and resume. */
	memset(&l, 0, sizeof(l));
	l.mb = e.mb;
	l.dir = "d";
	l.stop_after = 100;
	pos = dcache_readdir(e.dc, d, 0, fill, &l);
	ok(pos > 0 && pos < end, "stopped at %lld", (long long)pos);
	is(l.n, 100, "100 entries taken");
	l.stop_after = 0;
	for (i = 0; i < 10 && pos >= 0 && pos < end; i++)
		pos = dcache_readdir(e.dc, d, pos, fill, &l);
	is(pos, end, "resumed to the end");
	is(count_seen(&l, 1), NENT,
	   "stop + resume lists every entry exactly once");

	/* Errors. */
	mb_inject(e.mb, DC_BE_READDIR, NULL, -EIO, 1);
	memset(&l, 0, sizeof(l));
	l.mb = e.mb;
	l.dir = "d";
	is(dcache_readdir(e.dc, d, 0, fill, &l), -EIO,
	   "backend EIO propagates");
	is(dcache_readdir(e.dc, 424242, 0, fill, &l), -ESTALE,
	   "unknown id: -ESTALE");
	{
		uint64_t f = 0;

		is(lookup_id(&e, d, "e2", 0, &f), 0, "lookup file e2");
		is(dcache_readdir(e.dc, f, 0, fill, &l), -ENOTDIR,
		   "readdir of a file: -ENOTDIR");
	}
	env_fini(&e);
}

/* Readdir's attributes replace stale cached entries (instantiate rules). */
static void test_readdir_replaces(void)
{
	struct dc_result res;
	struct dc_attr xa;
	struct listing l;
	uint64_t x0 = 0;
	struct env e;

	env_init(&e);
	must(mb_create(e.mb, "x", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	is(lookup_id(&e, DC_ROOT_ID, "x", 0, &x0), 0, "x cached");
	is(lookup_id(&e, DC_ROOT_ID, "e7", 0, NULL), -ENOENT,
	   "e7 cached negative");
	must(mb_unlink(e.mb, "x"));
	must(mb_create(e.mb, "x", S_IFDIR | 0700, &xa));
	must(mb_create(e.mb, "e7", S_IFREG | 0644, NULL));

	memset(&l, 0, sizeof(l));
	l.mb = e.mb;
	l.dir = "";
	ok(dcache_readdir(e.dc, DC_ROOT_ID, 0, fill, &l) > 0, "readdir /");
	is(l.n, 1, "e7 listed");
	is(l.other, 1, "x listed");
	memset(&res, 0, sizeof(res));
	is(dcache_lookup(e.dc, DC_ROOT_ID, "x", DC_CACHED | DC_WANT_ATTR, &res),
	   0, "x cached after readdir");
	is(res.attr.ino, xa.ino, "x is the new object");
	ok(S_ISDIR(res.attr.mode), "a directory now");
	ok(res.nodeid != x0, "with a new node id");
	is(lookup_id(&e, DC_ROOT_ID, "e7", DC_CACHED, NULL), 0,
	   "e7's negative entry replaced by readdir");
	env_fini(&e);
}

/*
 * A listing's entries are cached after the backend produced them.  A
 * change seen meanwhile (the watcher: the name is removed directly in
 * SOURCE and invalidated in the cache) must not be undone by caching the
 * listing's older view of that name.
 */
struct race_ctx {
	struct env *e;
	const char *victim;
	bool done;
};

static int fill_remove(void *ctx, const char *name, size_t len,
		       const struct dc_attr *attr)
{
	struct race_ctx *r = ctx;

	(void)name;
	(void)len;
	(void)attr;
	if (!r->done) {
		/* the listing is read; later entries are cached after us */
		r->done = true;
		must(mb_unlink(r->e->mb, r->victim));
		dcache_remove(r->e->dc, DC_ROOT_ID, r->victim);
		dcache_inval_entry(r->e->dc, DC_ROOT_ID, r->victim,
				   DC_SRC_WATCH);
	}
	return 0;
}

static void test_readdir_vs_removal(void)
{
	struct race_ctx r;
	struct env e;
	uint64_t id;
	off_t pos;
	int err;

	env_init(&e);
	must(mb_create(e.mb, "a", S_IFREG | 0644, NULL));
	must(mb_create(e.mb, "b", S_IFREG | 0644, NULL));
	if (!env_start(&e))
		return;
	/* b cached (negative would do too): the removal finds it */
	is(lookup_id(&e, DC_ROOT_ID, "b", 0, &id), 0, "b found");
	r.e = &e;
	r.victim = "b";
	r.done = false;
	pos = dcache_readdir(e.dc, DC_ROOT_ID, 0, fill_remove, &r);
	ok(pos > 0 && r.done, "listing read");
	err = lookup_id(&e, DC_ROOT_ID, "b", DC_CACHED, &id);
	ok(err == -ENOENT || err == -EAGAIN,
	   "b, removed during the listing, is not cached as present (%d)",
	   err);
	is(lookup_id(&e, DC_ROOT_ID, "b", 0, &id), -ENOENT,
	   "b is gone for an uncached lookup");
	env_fini(&e);
}

int main(void)
{
	dcache_thread_enter();
	test_readdir();
	test_readdir_replaces();
	test_readdir_vs_removal();
	dcache_thread_exit();
	return tap_done();
}
