/* SPDX-License-Identifier: MIT */
/*
 * tests/unit/unit.h - what every unit test sets up: a membackend and a
 * dcache over it, plus small helpers.  Header-only (static inline).
 *
 *	struct env e;
 *	env_init(&e);            mb_new() and a default config (TTLs forever)
 *	e.cfg.entry_ttl_ns = 0;  adjust the config if needed
 *	if (!env_start(&e)) ...  dcache_new()
 *	...
 *	env_fini(&e);            dcache_free(), mb_free()
 */
#ifndef RCUFS_TESTS_UNIT_H
#define RCUFS_TESTS_UNIT_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dcache.h"
#include "membackend.h"
#include "tap.h"

struct env {
	struct membackend *mb;
	struct dcache *dc;
	struct dcache_config cfg;
};

static inline void env_init(struct env *e)
{
	memset(e, 0, sizeof(*e));
	e->mb = mb_new();
	if (!e->mb) {
		diag("mb_new failed");
		exit(1);
	}
	e->cfg.ops = mb_ops();
	e->cfg.backend = e->mb;
	mb_root_attr(e->mb, &e->cfg.root_attr);
	e->cfg.entry_ttl_ns = DC_TTL_FOREVER;
	e->cfg.neg_ttl_ns = DC_TTL_FOREVER;
	e->cfg.attr_ttl_ns = DC_TTL_FOREVER;
}

static inline bool env_start(struct env *e)
{
	int err = dcache_new(&e->cfg, &e->dc);

	if (err || !e->dc) {
		ok(0, "dcache_new: %d", err);
		mb_free(e->mb);
		e->mb = NULL;
		return false;
	}
	return true;
}

static inline void env_fini(struct env *e)
{
	dcache_free(e->dc);
	mb_free(e->mb);
	memset(e, 0, sizeof(*e));
}

/* A tree change that must work (setup, not under test): exits if not. */
#define must(expr)                                                       \
	do {                                                             \
		int must_err_ = (expr);                                  \
		if (must_err_) {                                         \
			diag("%s:%d: %s failed: %d", __FILE__, __LINE__, \
			     #expr, must_err_);                          \
			tap_done();                                      \
			exit(1);                                         \
		}                                                        \
	} while (0)

/* Node id of @path by an uncached walk; 0 when it fails. */
static inline uint64_t node_of(struct env *e, const char *path)
{
	struct dc_result res;

	memset(&res, 0, sizeof(res));
	if (dcache_walk(e->dc, path, 0, &res))
		return 0;
	return res.nodeid;
}

/* dcache_walk with @flags; res is scratch, *@id (may be NULL) the node. */
static inline int walk_id(struct env *e, const char *path, unsigned flags,
			  uint64_t *id)
{
	struct dc_result res;
	int err;

	memset(&res, 0, sizeof(res));
	err = dcache_walk(e->dc, path, flags, &res);
	if (id)
		*id = res.nodeid;
	return err;
}

static inline int lookup_id(struct env *e, uint64_t parent, const char *name,
			    unsigned flags, uint64_t *id)
{
	struct dc_result res;
	int err;

	memset(&res, 0, sizeof(res));
	err = dcache_lookup(e->dc, parent, name, flags, &res);
	if (id)
		*id = res.nodeid;
	return err;
}

/* Backend calls of all kinds so far. */
static inline uint64_t mb_calls_all(struct membackend *mb)
{
	uint64_t n = 0;
	int op;

	for (op = 0; op < DC_BE_NR; op++)
		n += mb_calls(mb, (enum dc_be_op)op);
	return n;
}

static inline struct dcache_stats stats_of(struct env *e)
{
	struct dcache_stats st;

	memset(&st, 0, sizeof(st));
	dcache_stats(e->dc, &st);
	return st;
}

/* The kernel lookup count of @nodeid, or -1 when unknown. */
static inline long long nlookup_of(struct env *e, uint64_t nodeid)
{
	struct dc_inode *inode = dc_inode_get(e->dc, nodeid);
	long long n;

	if (!inode)
		return -1;
	n = (long long)dc_inode_nlookup(inode);
	dc_inode_put(inode);
	return n;
}

static inline void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

#endif /* RCUFS_TESTS_UNIT_H */
