/* SPDX-License-Identifier: MIT */
/*
 * fs/opstats.c - the operation table, each handler wrapped with a timer,
 * and the per-thread per-operation counters behind `rcufs stats`.
 *
 * Cost on the request path: two clock_gettime(CLOCK_MONOTONIC) (vDSO, no
 * syscall), a thread-local flag word reset and read, and about ten plain
 * stores into the calling thread's own block.  No lock, no atomic
 * read-modify-write, no allocation.
 *
 * Concurrency.  A worker's block is written only by that worker (relaxed
 * atomic stores of load + n, which compile to plain moves); the statistics
 * thread reads every block with relaxed loads, so a sum may miss requests
 * in flight but never sees a torn value.  Blocks are on ops_threads
 * (ops_lock) while their thread lives; at thread exit a block is folded
 * into ops_retired (ops_lock) and freed.  ops_lock is taken only at thread
 * start and exit and by the reader, never per request.  A thread with no
 * block (allocation failed) counts into ops_orphan with atomic adds.
 */
#include "rfs.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/list.h>

__thread unsigned rfs_req_flags;

struct opblock {
	struct rfs_opcount op[RFS_OP_NR]; /* owner writes, anyone reads */
	struct cds_list_head list;	  /* ops_lock */
};

static pthread_mutex_t ops_lock = PTHREAD_MUTEX_INITIALIZER;
static CDS_LIST_HEAD(ops_threads);		  /* ops_lock */
static struct rfs_opcount ops_retired[RFS_OP_NR]; /* ops_lock */
static struct rfs_opcount ops_orphan[RFS_OP_NR];  /* atomics */
static __thread struct opblock *my_ops;

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
	struct opblock *b;

	if (my_ops)
		return;
	b = calloc(1, sizeof(*b));
	if (!b)
		return; /* counts go to the orphan block */
	pthread_mutex_lock(&ops_lock);
	cds_list_add(&b->list, &ops_threads);
	pthread_mutex_unlock(&ops_lock);
	my_ops = b;
}

#define LD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define ADD(x, n) ST(x, LD(x) + (n))

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

void rfs_opstats_thread_exit(void)
{
	struct opblock *b = my_ops;
	unsigned i;

	if (!b)
		return;
	pthread_mutex_lock(&ops_lock);
	for (i = 0; i < RFS_OP_NR; i++)
		add_count(&ops_retired[i], &b->op[i]);
	cds_list_del(&b->list);
	pthread_mutex_unlock(&ops_lock);
	my_ops = NULL;
	free(b);
}

void rfs_opstats_sum(struct rfs_opcount out[RFS_OP_NR])
{
	struct opblock *b;
	unsigned i;

	memset(out, 0, sizeof(*out) * RFS_OP_NR);
	pthread_mutex_lock(&ops_lock);
	for (i = 0; i < RFS_OP_NR; i++) {
		add_count(&out[i], &ops_retired[i]);
		add_count(&out[i], &ops_orphan[i]);
	}
	cds_list_for_each_entry (b, &ops_threads, list)
		for (i = 0; i < RFS_OP_NR; i++)
			add_count(&out[i], &b->op[i]);
	pthread_mutex_unlock(&ops_lock);
}

/* Bucket of a latency: exact below 4, then 4 per power of two. */
static inline __attribute__((always_inline)) unsigned hist_bucket(uint64_t ns)
{
	unsigned e;

	if (ns < 4)
		return (unsigned)ns;
	e = 63u - (unsigned)__builtin_clzll(ns);
	if (e >= 40)
		return RFS_HIST_NR - 1;
	return (e - 1) * 4 + (unsigned)((ns >> (e - 2)) & 3);
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
static void __attribute__((noinline))
orphan_end(enum rfs_op op, unsigned f, uint64_t d)
{
	struct rfs_opcount *c = &ops_orphan[op];
	uint64_t m = LD(c->max_ns);

	__atomic_fetch_add(&c->requests, 1, __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->hist[hist_bucket(d)], 1, __ATOMIC_RELAXED);
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

static inline __attribute__((always_inline)) uint64_t op_begin(void)
{
	rfs_req_flags = 0;
	return rfs_now_ns();
}

/*
 * After the handler returned (it replied already: @req is gone).  The
 * handler called rfs_thread_enter(), so the thread has its block unless
 * the allocation failed.
 */
static inline __attribute__((always_inline)) void op_end(enum rfs_op op,
							 uint64_t t0)
{
	uint64_t d = rfs_now_ns() - t0;
	struct opblock *b = my_ops;
	unsigned f = rfs_req_flags;
	struct rfs_opcount *c;

	if (__builtin_expect(!b, 0)) {
		orphan_end(op, f, d);
		return;
	}
	c = &b->op[op];
	ADD(c->requests, 1);
	ADD(c->hist[hist_bucket(d)], 1);
	ADD(c->sum_ns, d);
	if (d > LD(c->max_ns))
		ST(c->max_ns, d);
	if (__builtin_expect(f != 0, 1)) {
		if (f & RFS_REQ_NEG) {
			ADD(c->negative, 1);
			if (f & RFS_REQ_HIT)
				ADD(c->neg_hits, 1);
		} else if (f & RFS_REQ_ERR) {
			ADD(c->errors, 1);
		}
		if (f & RFS_REQ_HIT)
			ADD(c->hits, 1);
	}
}

/*
 * One wrapper per operation: W(name, OP, (parameters), (arguments)).
 * The handler is called directly (no indirect call).
 */
#define W(fn, OP, params, args)           \
	static void timed_##fn params     \
	{                                 \
		uint64_t t0 = op_begin(); \
		rfs_##fn args;            \
		op_end(RFS_OP_##OP, t0);  \
	}

/* clang-format off */
W(lookup, LOOKUP, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
W(forget, FORGET, (fuse_req_t r, fuse_ino_t i, uint64_t n), (r, i, n))
W(forget_multi, BATCH_FORGET,
  (fuse_req_t r, size_t n, struct fuse_forget_data *f), (r, n, f))
W(getattr, GETATTR, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(setattr, SETATTR,
  (fuse_req_t r, fuse_ino_t i, struct stat *a, int s,
   struct fuse_file_info *fi), (r, i, a, s, fi))
W(readlink, READLINK, (fuse_req_t r, fuse_ino_t i), (r, i))
W(access, ACCESS, (fuse_req_t r, fuse_ino_t i, int m), (r, i, m))
W(statfs, STATFS, (fuse_req_t r, fuse_ino_t i), (r, i))
W(mknod, MKNOD,
  (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, dev_t d),
  (r, p, n, m, d))
W(mkdir, MKDIR, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m),
  (r, p, n, m))
W(unlink, UNLINK, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
W(rmdir, RMDIR, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
W(symlink, SYMLINK,
  (fuse_req_t r, const char *l, fuse_ino_t p, const char *n), (r, l, p, n))
W(rename, RENAME,
  (fuse_req_t r, fuse_ino_t p, const char *n, fuse_ino_t np,
   const char *nn, unsigned int f), (r, p, n, np, nn, f))
W(link, LINK, (fuse_req_t r, fuse_ino_t i, fuse_ino_t np, const char *nn),
  (r, i, np, nn))
W(opendir, OPENDIR, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(readdir, READDIR,
  (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
  (r, i, s, o, fi))
W(readdirplus, READDIRPLUS,
  (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
  (r, i, s, o, fi))
W(releasedir, RELEASEDIR,
  (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi), (r, i, fi))
W(fsyncdir, FSYNCDIR,
  (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *fi),
  (r, i, d, fi))
W(open, OPEN, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(create, CREATE,
  (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m,
   struct fuse_file_info *fi), (r, p, n, m, fi))
W(read, READ,
  (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
  (r, i, s, o, fi))
W(write_buf, WRITE,
  (fuse_req_t r, fuse_ino_t i, struct fuse_bufvec *b, off_t o,
   struct fuse_file_info *fi), (r, i, b, o, fi))
W(flush, FLUSH, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(release, RELEASE, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(fsync, FSYNC,
  (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *fi),
  (r, i, d, fi))
W(getlk, GETLK,
  (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi, struct flock *l),
  (r, i, fi, l))
W(setlk, SETLK,
  (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi, struct flock *l,
   int s), (r, i, fi, l, s))
W(flock, FLOCK,
  (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi, int o),
  (r, i, fi, o))
W(fallocate, FALLOCATE,
  (fuse_req_t r, fuse_ino_t i, int m, off_t o, off_t l,
   struct fuse_file_info *fi), (r, i, m, o, l, fi))
W(copy_file_range, COPY_FILE_RANGE,
  (fuse_req_t r, fuse_ino_t ii, off_t oi, struct fuse_file_info *fii,
   fuse_ino_t io, off_t oo, struct fuse_file_info *fio, size_t len,
   int flags), (r, ii, oi, fii, io, oo, fio, len, flags))
W(lseek, LSEEK,
  (fuse_req_t r, fuse_ino_t i, off_t o, int w, struct fuse_file_info *fi),
  (r, i, o, w, fi))
W(ioctl, IOCTL,
  (fuse_req_t r, fuse_ino_t i, unsigned c, void *a, struct fuse_file_info *fi,
   unsigned f, const void *ib, size_t is, size_t os),
  (r, i, c, a, fi, f, ib, is, os))
W(setxattr, SETXATTR,
  (fuse_req_t r, fuse_ino_t i, const char *n, const char *v, size_t s,
   int f), (r, i, n, v, s, f))
W(getxattr, GETXATTR,
  (fuse_req_t r, fuse_ino_t i, const char *n, size_t s), (r, i, n, s))
W(listxattr, LISTXATTR, (fuse_req_t r, fuse_ino_t i, size_t s), (r, i, s))
W(removexattr, REMOVEXATTR, (fuse_req_t r, fuse_ino_t i, const char *n),
  (r, i, n))
/* clang-format on */

const struct fuse_lowlevel_ops rfs_ops = {.init = rfs_init,
					  .destroy = rfs_destroy,
#define RFS_OP_ENTRY(NAME, fn) .fn = timed_##fn,
					  RFS_OP_LIST(RFS_OP_ENTRY)
#undef RFS_OP_ENTRY
};
