/* SPDX-License-Identifier: MIT */
/*
 * fs/stats/opstats.c - the per-thread per-operation counters behind
 * `rcufs stats` (opstats.h), on the counter engine of cache/tcount.h.
 *
 * Cost on the request path: two clock_gettime(CLOCK_MONOTONIC) (vDSO, no
 * syscall), a thread-local flag word reset and read, and about ten plain
 * stores into the calling thread's own block.  No lock, no atomic
 * read-modify-write, no allocation.
 *
 * Concurrency.  A worker's block is written only by that worker (relaxed
 * atomic stores of load + n, which compile to plain moves); the statistics
 * thread reads every block with relaxed loads, so a sum may miss requests
 * in flight but never sees a torn value.  The engine keeps the blocks on
 * a list under its mutex while their thread lives and folds a block into
 * ops_retired at thread exit; the mutex is taken only at thread start and
 * exit and by the reader, never per request.  A thread with no block
 * (allocation failed) counts into ops_orphan with atomic adds.
 */
#include "stats/opstats.h"
#include "tcount.h"

#include <string.h>

__thread unsigned rfs_req_flags;
__thread struct rfs_opcount *rfs_my_ops;

static void fold(void *to, const void *from);

static struct rfs_opcount ops_retired[RFS_OP_NR]; /* ops_tcount.lock */
static struct rfs_opcount ops_orphan[RFS_OP_NR];  /* atomics */
static struct tcount ops_tcount = TCOUNT_INIT(ops_tcount, sizeof(ops_retired),
					      fold, ops_retired, ops_orphan);

const char *const rfs_op_names[RFS_OP_NR] = {
#define RFS_OP_NAME(NAME, fn) [RFS_OP_##NAME] = #NAME,
	RFS_OP_LIST(RFS_OP_NAME)
#undef RFS_OP_NAME
};

bool rfs_op_has_hits(enum rfs_op op)
{
	return op == RFS_OP_LOOKUP || op == RFS_OP_GETATTR ||
	       op == RFS_OP_READLINK || op == RFS_OP_ACCESS;
}

void rfs_opstats_thread_init(void)
{
	if (!rfs_my_ops)
		rfs_my_ops = tcount_thread_init(&ops_tcount);
}

#define LD(x) RFS_LD(x)

static void add_count(struct rfs_opcount *to, const struct rfs_opcount *c)
{
	unsigned i;

	to->requests += LD(c->requests);
	to->errors += LD(c->errors);
	to->hits += LD(c->hits);
	to->negative += LD(c->negative);
	to->neg_hits += LD(c->neg_hits);
	to->sum_ns += LD(c->sum_ns);
	if (LD(c->max_ns) > to->max_ns)
		to->max_ns = LD(c->max_ns);
	for (i = 0; i < RFS_HIST_NR; i++)
		to->hist[i] += LD(c->hist[i]);
}

/* The engine's fold: @from may be being written by its owner. */
static void fold(void *to, const void *from)
{
	struct rfs_opcount *o = to;
	const struct rfs_opcount *c = from;
	unsigned i;

	for (i = 0; i < RFS_OP_NR; i++)
		add_count(&o[i], &c[i]);
}

void rfs_opstats_thread_exit(void)
{
	tcount_thread_exit(&ops_tcount, rfs_my_ops);
	rfs_my_ops = NULL;
}

void rfs_opstats_sum(struct rfs_opcount out[RFS_OP_NR])
{
	tcount_sum(&ops_tcount, out);
}

uint64_t rfs_hist_upper(unsigned i)
{
	unsigned e = i / 4 + 1, sub = i % 4;

	if (i < 4)
		return i;
	if (i >= RFS_HIST_NR - 1)
		return UINT64_MAX;
	return (((uint64_t)(4 + sub + 1)) << (e - 2)) - 1;
}

uint64_t rfs_opcount_quantile(const struct rfs_opcount *c, double q)
{
	uint64_t n = 0, want, total = 0;
	unsigned i;

	for (i = 0; i < RFS_HIST_NR; i++)
		total += c->hist[i];
	if (!total)
		return 0;
	want = (uint64_t)(q * (double)total + 0.999999);
	if (want < 1)
		want = 1;
	for (i = 0; i < RFS_HIST_NR; i++) {
		n += c->hist[i];
		if (n >= want)
			break;
	}
	if (i == RFS_HIST_NR || rfs_hist_upper(i) > c->max_ns)
		return c->max_ns;
	return rfs_hist_upper(i);
}

/* The slow path of op_end: a thread without a block of its own. */
void __attribute__((noinline))
rfs_op_end_orphan(enum rfs_op op, unsigned f, uint64_t d)
{
	struct rfs_opcount *c = &ops_orphan[op];
	uint64_t m = LD(c->max_ns);

	__atomic_fetch_add(&c->requests, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->hist[rfs_hist_bucket(d)], 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->sum_ns, d, __ATOMIC_RELAXED);
	while (d > m &&
	       !__atomic_compare_exchange_n(&c->max_ns, &m, d, true,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
	if (f & RFS_REQ_NEG) {
		__atomic_fetch_add(&c->negative, 1, __ATOMIC_RELAXED);
		if (f & RFS_REQ_HIT)
			__atomic_fetch_add(&c->neg_hits, 1, __ATOMIC_RELAXED);
	} else if (f & RFS_REQ_ERR) {
		__atomic_fetch_add(&c->errors, 1, __ATOMIC_RELAXED);
	}
	if (f & RFS_REQ_HIT)
		__atomic_fetch_add(&c->hits, 1, __ATOMIC_RELAXED);
}
