/* SPDX-License-Identifier: MIT */
/*
 * fs/stats/opstats.h - per-FUSE-operation counters (opstats.c).
 *
 * Every operation of the table (except INIT and DESTROY) is timed by a
 * wrapper around its handler (fs/ops/table.c): requests, errors, cache
 * hits, and a latency histogram, in per-thread blocks of the counter
 * engine (cache/tcount.h) summed on read.  The request path takes no lock
 * and makes no syscall (clock_gettime is the vDSO): rfs_op_begin and
 * rfs_op_end below are inlined into each wrapper.  A thread's block is
 * created by rfs_opstats_thread_init (fs/ops/thread.c, first request).
 */
#ifndef RCUFS_FS_STATS_OPSTATS_H
#define RCUFS_FS_STATS_OPSTATS_H

#include "rfs.h"

#define RFS_OP_LIST(X)                      \
	X(LOOKUP, lookup)                   \
	X(FORGET, forget)                   \
	X(BATCH_FORGET, forget_multi)       \
	X(GETATTR, getattr)                 \
	X(SETATTR, setattr)                 \
	X(READLINK, readlink)               \
	X(ACCESS, access)                   \
	X(STATFS, statfs)                   \
	X(MKNOD, mknod)                     \
	X(MKDIR, mkdir)                     \
	X(UNLINK, unlink)                   \
	X(RMDIR, rmdir)                     \
	X(SYMLINK, symlink)                 \
	X(RENAME, rename)                   \
	X(LINK, link)                       \
	X(OPENDIR, opendir)                 \
	X(READDIR, readdir)                 \
	X(READDIRPLUS, readdirplus)         \
	X(RELEASEDIR, releasedir)           \
	X(FSYNCDIR, fsyncdir)               \
	X(OPEN, open)                       \
	X(CREATE, create)                   \
	X(READ, read)                       \
	X(WRITE, write_buf)                 \
	X(FLUSH, flush)                     \
	X(RELEASE, release)                 \
	X(FSYNC, fsync)                     \
	X(GETLK, getlk)                     \
	X(SETLK, setlk)                     \
	X(FLOCK, flock)                     \
	X(FALLOCATE, fallocate)             \
	X(COPY_FILE_RANGE, copy_file_range) \
	X(LSEEK, lseek)                     \
	X(IOCTL, ioctl)                     \
	X(SETXATTR, setxattr)               \
	X(GETXATTR, getxattr)               \
	X(LISTXATTR, listxattr)             \
	X(REMOVEXATTR, removexattr)

enum rfs_op {
#define RFS_OP_ENUM(NAME, fn) RFS_OP_##NAME,
	RFS_OP_LIST(RFS_OP_ENUM)
#undef RFS_OP_ENUM
		RFS_OP_NR
};

/*
 * Latency histogram: exact below 4 ns, then 4 buckets per power of two
 * (a bucket is at most 25% wide), up to 2^40 ns; longer goes in the last.
 */
#define RFS_HIST_NR 156

struct rfs_opcount {
	uint64_t requests;
	uint64_t errors;   /* error replies (a missing name is not one) */
	uint64_t hits;	   /* answered from the dcache, no backend call */
	uint64_t negative; /* LOOKUP: the name does not exist */
	uint64_t neg_hits; /* LOOKUP: ... and the cache knew it */
	uint64_t sum_ns, max_ns;
	uint64_t hist[RFS_HIST_NR];
};

/* "LOOKUP", ... */
extern const char *const rfs_op_names[RFS_OP_NR];
/* Does the operation have a cached-only path (its hit rate means
 * something)? */
bool rfs_op_has_hits(enum rfs_op op);

/*
 * What the handler of the current request found, reset by the timing
 * wrapper before the handler runs, read after it returned.  Only the
 * running thread touches it.
 */
enum {
	RFS_REQ_ERR = 1u << 0, /* replied with an error (rfs_reply_err) */
	RFS_REQ_HIT = 1u << 1, /* the dcache's cached-only path answered */
	RFS_REQ_NEG = 1u << 2, /* LOOKUP answered "no such name" */
};
extern __thread unsigned rfs_req_flags;
static inline void rfs_req_mark(unsigned f)
{
	rfs_req_flags |= f;
}

/* Per-thread block: created / folded into the totals (ops/thread.c). */
void rfs_opstats_thread_init(void);
void rfs_opstats_thread_exit(void);
/* Sum every thread's counters into @out (takes the engine's mutex). */
void rfs_opstats_sum(struct rfs_opcount out[RFS_OP_NR]);
/* Upper bound in ns of histogram bucket @i. */
uint64_t rfs_hist_upper(unsigned i);
/* Latency at quantile @q (0..1) of @c: a bucket bound clipped to max. */
uint64_t rfs_opcount_quantile(const struct rfs_opcount *c, double q);

/* ---- the request path (inlined into the wrappers of ops/table.c) ---- */

/* This thread's block (RFS_OP_NR counts), NULL until created or when
 * its allocation failed.  Only the owner writes it. */
extern __thread struct rfs_opcount *rfs_my_ops;
/* The slow path of rfs_op_end: a thread without a block of its own. */
void rfs_op_end_orphan(enum rfs_op op, unsigned f, uint64_t d);

#define RFS_LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define RFS_ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define RFS_ADD(x, n) RFS_ST(x, RFS_LD(x) + (n))

/* Bucket of a latency: exact below 4, then 4 per power of two. */
static inline __attribute__((always_inline)) unsigned
rfs_hist_bucket(uint64_t ns)
{
	unsigned e;

	if (ns < 4)
		return (unsigned)ns;
	e = 63u - (unsigned)__builtin_clzll(ns);
	if (e >= 40)
		return RFS_HIST_NR - 1;
	return (e - 1) * 4 + (unsigned)((ns >> (e - 2)) & 3);
}

static inline __attribute__((always_inline)) uint64_t rfs_op_begin(void)
{
	rfs_req_flags = 0;
	return rfs_now_ns();
}

/*
 * After the handler returned (it replied already: @req is gone).  The
 * handler called rfs_thread_enter(), so the thread has its block unless
 * the allocation failed.
 */
static inline __attribute__((always_inline)) void rfs_op_end(enum rfs_op op,
							     uint64_t t0)
{
	uint64_t d = rfs_now_ns() - t0;
	struct rfs_opcount *b = rfs_my_ops;
	unsigned f = rfs_req_flags;
	struct rfs_opcount *c;

	if (__builtin_expect(!b, 0)) {
		rfs_op_end_orphan(op, f, d);
		return;
	}
	c = &b[op];
	RFS_ADD(c->requests, 1);
	RFS_ADD(c->hist[rfs_hist_bucket(d)], 1);
	RFS_ADD(c->sum_ns, d);
	if (d > RFS_LD(c->max_ns))
		RFS_ST(c->max_ns, d);
	if (__builtin_expect(f != 0, 1)) {
		if (f & RFS_REQ_NEG) {
			RFS_ADD(c->negative, 1);
			if (f & RFS_REQ_HIT)
				RFS_ADD(c->neg_hits, 1);
		} else if (f & RFS_REQ_ERR) {
			RFS_ADD(c->errors, 1);
		}
		if (f & RFS_REQ_HIT)
			RFS_ADD(c->hits, 1);
	}
}

#endif /* RCUFS_FS_STATS_OPSTATS_H */
