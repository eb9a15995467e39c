/* SPDX-License-Identifier: MIT */
/*
 * tests/bench/dcbench.c - lookup throughput and memory of the dcache.
 *
 * A tree of N files at depth 4 (d<a>/d<b>/d<c>/f<d>) is created in the
 * membackend, then every path is walked once through the dcache so all of
 * it is cached.  For each thread count, every thread walks random
 * pre-generated 4-component paths for a fixed time, in four modes:
 *
 *   rcu     dcache_walk(DC_CACHED | DC_WANT_ATTR): the RCU fast path (stat)
 *   ref     dcache_walk(DC_FORCE_REF | DC_WANT_ATTR): the same cache, ref-walk
 *   mutex   a plain (parent, name) hash table under one global mutex
 *   rwlock  the same table under one pthread_rwlock (read-locked)
 *
 * Each row is the median (by ops/s) of --reps runs.  Then the memory per
 * cached dentry (dcache_stats and RSS growth while warming) and the
 * targets of issue 17, each MET or MISSED.  --callgrind-ops N instead
 * warms a small cache and does exactly N fast-path walks inside
 * dcbench_cg_walks(), for valgrind --tool=callgrind
 * --toggle-collect=dcbench_cg_walks
 * (scripts/bench-cache).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dcache.h"
#include "membackend.h"

#define NLEVELS 4
#define MAX_THREADS 256
#define MAX_REPS 99
#define CHECK_EVERY 64 /* operations between two looks at the stop flag */

/* Targets of issue 17. */
#define TARGET_HIT_NS 400.0
#define TARGET_SCALE2 1.8
#define TARGET_VS_RWLOCK 2.0
#define TARGET_BYTES 300.0

enum mode { M_RCU, M_REF, M_MUTEX, M_RWLOCK, M_NR };

static const char *const mode_names[M_NR] = {"rcu", "ref", "mutex", "rwlock"};

/* ---- options --------------------------------------------------------- */

struct opts {
	uint64_t entries;
	unsigned fan[NLEVELS];
	bool shape_set;
	unsigned threads[MAX_THREADS];
	unsigned nthreads;
	bool modes[M_NR];
	double duration;
	unsigned reps;
	unsigned npaths; /* per thread, a power of two */
	uint64_t seed;
	const char *json;
	uint64_t cg_ops;
	bool strict;
	bool quiet;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dcbench [options]\n"
		"  -n, --entries N        files in the tree (default 1000000;\n"
		"                         10000 with --callgrind-ops)\n"
		"  -s, --shape A,B,C,D    fan-out per level (default: derived\n"
		"                         from N, 10,10,100,100 for 1000000)\n"
		"  -t, --threads LIST     thread counts (default 1,2,4,8)\n"
		"  -m, --modes LIST       of rcu,ref,mutex,rwlock (default "
		"all)\n"
		"  -d, --duration SEC     per run (default 2)\n"
		"  -r, --reps N           runs per row, median kept (default "
		"3)\n"
		"  -p, --paths N          random paths per thread (default\n"
		"                         262144, rounded up to a power of 2)\n"
		"      --seed N           random seed (default 1)\n"
		"      --json FILE        also write the figures as JSON\n"
		"      --callgrind-ops N  only: warm, then N fast-path walks "
		"in\n"
		"                         dcbench_cg_walks()\n"
		"      --strict           exit 2 when a target is missed\n"
		"  -q, --quiet            no per-run lines\n");
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || *s == '-')
		return -1;
	*out = v;
	return 0;
}

/* Comma-separated unsigned list; returns the count or -1. */
static int parse_list(const char *s, unsigned *out, unsigned max)
{
	unsigned n = 0;
	char *copy = strdup(s), *save = NULL, *tok;
	int ret = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (n == max || parse_u64(tok, &v) || v == 0 || v > 1u << 30) {
			ret = -1;
			break;
		}
		out[n++] = (unsigned)v;
	}
	free(copy);
	return ret ? -1 : (int)n;
}

static int parse_modes(const char *s, bool *modes)
{
	char *copy = strdup(s), *save = NULL, *tok;
	int ret = 0;

	if (!copy)
		return -1;
	memset(modes, 0, M_NR * sizeof(*modes));
	for (tok = strtok_r(copy, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int m;

		for (m = 0; m < M_NR; m++)
			if (!strcmp(tok, mode_names[m]))
				break;
		if (m == M_NR) {
			ret = -1;
			break;
		}
		modes[m] = true;
	}
	free(copy);
	return ret;
}

enum {
	OPT_SEED = 256,
	OPT_JSON,
	OPT_CG,
	OPT_STRICT,
};

static void parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"entries", required_argument, NULL, 'n'},
		{"shape", required_argument, NULL, 's'},
		{"threads", required_argument, NULL, 't'},
		{"modes", required_argument, NULL, 'm'},
		{"duration", required_argument, NULL, 'd'},
		{"reps", required_argument, NULL, 'r'},
		{"paths", required_argument, NULL, 'p'},
		{"seed", required_argument, NULL, OPT_SEED},
		{"json", required_argument, NULL, OPT_JSON},
		{"callgrind-ops", required_argument, NULL, OPT_CG},
		{"strict", no_argument, NULL, OPT_STRICT},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool entries_set = false;
	uint64_t v;
	char *end;
	int c, n;

	memset(o, 0, sizeof(*o));
	o->entries = 1000000;
	o->threads[0] = 1;
	o->threads[1] = 2;
	o->threads[2] = 4;
	o->threads[3] = 8;
	o->nthreads = 4;
	for (c = 0; c < M_NR; c++)
		o->modes[c] = true;
	o->duration = 2.0;
	o->reps = 3;
	o->npaths = 1u << 18;
	o->seed = 1;

	while ((c = getopt_long(argc, argv, "n:s:t:m:d:r:p:qh", longopts,
				NULL)) != -1) {
		switch (c) {
		case 'n':
			if (parse_u64(optarg, &o->entries) || !o->entries ||
			    o->entries > UINT32_MAX)
				goto bad;
			entries_set = true;
			break;
		case 's':
			if (parse_list(optarg, o->fan, NLEVELS) != NLEVELS)
				goto bad;
			o->shape_set = true;
			break;
		case 't':
			n = parse_list(optarg, o->threads, MAX_THREADS);
			if (n <= 0)
				goto bad;
			o->nthreads = (unsigned)n;
			break;
		case 'm':
			if (parse_modes(optarg, o->modes))
				goto bad;
			break;
		case 'd':
			o->duration = strtod(optarg, &end);
			if (*end || !(o->duration > 0 && o->duration < 3600))
				goto bad;
			break;
		case 'r':
			if (parse_u64(optarg, &v) || !v || v > MAX_REPS)
				goto bad;
			o->reps = (unsigned)v;
			break;
		case 'p':
			if (parse_u64(optarg, &v) || !v || v > 1u << 24)
				goto bad;
			o->npaths = 1;
			while (o->npaths < v)
				o->npaths <<= 1;
			break;
		case OPT_SEED:
			if (parse_u64(optarg, &o->seed))
				goto bad;
			break;
		case OPT_JSON:
			o->json = optarg;
			break;
		case OPT_CG:
			if (parse_u64(optarg, &o->cg_ops) || !o->cg_ops)
				goto bad;
			break;
		case OPT_STRICT:
			o->strict = true;
			break;
		case 'q':
			o->quiet = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(1);
		}
	}
	if (optind != argc)
		goto bad;
	if (o->cg_ops && !entries_set)
		o->entries = 10000;
	if (o->shape_set) {
		uint64_t prod = 1;

		for (c = 0; c < NLEVELS; c++)
			prod *= o->fan[c];
		if (!entries_set)
			o->entries = prod;
		if (o->entries > prod) {
			fprintf(stderr,
				"dcbench: %" PRIu64
				" entries do not fit the shape\n",
				o->entries);
			exit(1);
		}
	}
	return;
bad:
	usage(stderr);
	exit(1);
}

/*
 * Without --shape: A = B = x, C = 10x, D = ceil(N / (A B C)), x the least
 * integer with 100 x^4 >= N (10,10,100,100 for a million).
 */
static void derive_shape(struct opts *o)
{
	uint64_t x = 1, abc;

	if (o->shape_set)
		return;
	while (100 * x * x * x * x < o->entries)
		x++;
	abc = x * x * 10 * x;
	o->fan[0] = (unsigned)x;
	o->fan[1] = (unsigned)x;
	o->fan[2] = (unsigned)(10 * x);
	o->fan[3] = (unsigned)((o->entries + abc - 1) / abc);
}

/* ---- time, memory, randomness ------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void *xmalloc(size_t size)
{
	void *p = malloc(size);

	if (!p) {
		fprintf(stderr, "dcbench: out of memory (%zu bytes)\n", size);
		exit(1);
	}
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p) {
		fprintf(stderr, "dcbench: out of memory (%zu x %zu)\n", n,
			size);
		exit(1);
	}
	return p;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "dcbench: %s: %s\n", what,
		strerror(err < 0 ? -err : err));
	exit(1);
}

/* ---- the tree ----------------------------------------------------------- */

static unsigned ndigits(unsigned v)
{
	unsigned n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* Components of leaf @idx: the last level varies fastest. */
static void leaf_comps(const unsigned *fan, uint64_t idx, unsigned *c)
{
	int l;

	for (l = NLEVELS - 1; l >= 0; l--) {
		c[l] = (unsigned)(idx % fan[l]);
		idx /= fan[l];
	}
}

/* Path of the first @depth components of @c; its length. */
static int comp_path(char *buf, size_t size, const unsigned *c, int depth)
{
	int len = 0, l;

	for (l = 0; l < depth; l++)
		len += snprintf(buf + len, size - (size_t)len, "%s%c%u",
				l ? "/" : "", l == NLEVELS - 1 ? 'f' : 'd',
				c[l]);
	return len;
}

/* What the tree holds, for the memory figures. */
struct tree_info {
	uint64_t dirs, files, name_bytes; /* name_bytes: lengths + NULs */
	size_t slot;			  /* bytes per pre-generated path */
};

/*
 * Visit every directory (depth 1..3) and file of the tree once, parents
 * before children, calling @fn(ctx, comps, depth).
 */
typedef void (*visit_fn)(void *ctx, const unsigned *c, int depth);

static void visit_tree(const struct opts *o, visit_fn fn, void *ctx)
{
	unsigned c[NLEVELS], prev[NLEVELS];
	uint64_t idx;
	int l;

	for (idx = 0; idx < o->entries; idx++) {
		leaf_comps(o->fan, idx, c);
		for (l = 0; l < NLEVELS - 1; l++)
			if (!idx ||
			    memcmp(c, prev, (size_t)(l + 1) * sizeof(*c)))
				fn(ctx, c, l + 1);
		fn(ctx, c, NLEVELS);
		memcpy(prev, c, sizeof(c));
	}
}

static void count_visit(void *ctx, const unsigned *c, int depth)
{
	struct tree_info *ti = ctx;

	if (depth < NLEVELS)
		ti->dirs++;
	else
		ti->files++;
	ti->name_bytes += 1 + 1 + ndigits(c[depth - 1]);
}

static void tree_info(const struct opts *o, struct tree_info *ti)
{
	size_t max = 0;
	int l;

	memset(ti, 0, sizeof(*ti));
	visit_tree(o, count_visit, ti);
	for (l = 0; l < NLEVELS; l++)
		max += 1 + ndigits(o->fan[l] - 1) + 1; /* letter, digits, '/' */
	ti->slot = (max + 7) & ~(size_t)7;
}

static void mb_visit(void *ctx, const unsigned *c, int depth)
{
	char path[64];
	int err;

	comp_path(path, sizeof(path), c, depth);
	err = mb_create(ctx, path,
			depth < NLEVELS ? S_IFDIR | 0755 : S_IFREG | 0644,
			NULL);
	if (err)
		die(path, err);
}

/* ---- the baseline: a locked hash table ---------------------------------- */

struct bnode {
	struct bnode *next; /* hash chain */
	struct bnode *parent;
	uint64_t hash;
	uint32_t len;
	struct dc_attr attr;
	char name[];
};

struct btable {
	struct bnode **buckets;
	uint64_t mask;
	struct bnode *root;
	uint64_t next_ino;
	pthread_mutex_t mutex;
	pthread_rwlock_t rwlock;
};

static uint64_t name_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t bucket_of(const struct btable *t, const struct bnode *parent,
			  uint64_t hash)
{
	uint64_t h = (hash ^ (uintptr_t)parent) * 0x9e3779b97f4a7c15ull;

	return (h >> 32) & t->mask;
}

static struct bnode *bnode_new(struct btable *t, struct bnode *parent,
			       const char *name, size_t len, mode_t mode)
{
	struct bnode *n = xcalloc(1, sizeof(*n) + len + 1);

	n->parent = parent;
	n->len = (uint32_t)len;
	n->hash = name_hash(name, len);
	memcpy(n->name, name, len);
	n->attr.ino = t->next_ino++;
	n->attr.dev = MB_DEV;
	n->attr.mode = mode;
	n->attr.nlink = S_ISDIR(mode) ? 2 : 1;
	n->attr.blksize = 4096;
	return n;
}

static struct bnode *bt_find(const struct btable *t, const struct bnode *parent,
			     const char *name, size_t len, uint64_t hash)
{
	struct bnode *n = t->buckets[bucket_of(t, parent, hash)];

	for (; n; n = n->next)
		if (n->parent == parent && n->hash == hash && n->len == len &&
		    !memcmp(n->name, name, len))
			return n;
	return NULL;
}

static void bt_visit(void *ctx, const unsigned *c, int depth)
{
	struct btable *t = ctx;
	struct bnode *parent = t->root, *n;
	char name[16];
	int l, len = 0;

	for (l = 0; l < depth; l++) {
		len = snprintf(name, sizeof(name), "%c%u",
			       l == NLEVELS - 1 ? 'f' : 'd', c[l]);
		if (l == depth - 1)
			break;
		parent = bt_find(t, parent, name, (size_t)len,
				 name_hash(name, (size_t)len));
		if (!parent)
			die("baseline parent", ENOENT);
	}
	n = bnode_new(t, parent, name, (size_t)len,
		      depth < NLEVELS ? S_IFDIR | 0755 : S_IFREG | 0644);
	l = (int)bucket_of(t, parent, n->hash);
	n->next = t->buckets[l];
	t->buckets[l] = n;
}

static void bt_build(struct btable *t, const struct opts *o,
		     const struct tree_info *ti)
{
	uint64_t nb = 1;

	while (nb < ti->dirs + ti->files)
		nb <<= 1;
	memset(t, 0, sizeof(*t));
	t->buckets = xcalloc(nb, sizeof(*t->buckets));
	t->mask = nb - 1;
	t->next_ino = MB_ROOT_INO;
	t->root = bnode_new(t, NULL, "", 0, S_IFDIR | 0755);
	pthread_mutex_init(&t->mutex, NULL);
	pthread_rwlock_init(&t->rwlock, NULL);
	visit_tree(o, bt_visit, t);
}

static void bt_free(struct btable *t)
{
	uint64_t i;

	for (i = 0; i <= t->mask; i++) {
		struct bnode *n = t->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			free(n);
		}
	}
	free(t->buckets);
	free(t->root);
	pthread_mutex_destroy(&t->mutex);
	pthread_rwlock_destroy(&t->rwlock);
}

/* Walk @path component by component; the caller holds a table lock. */
static int bt_walk(const struct btable *t, const char *path,
		   struct dc_attr *attr)
{
	const struct bnode *n = t->root;
	const char *p = path;

	for (;;) {
		const char *s;
		uint64_t h = 0xcbf29ce484222325ull;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		if (!S_ISDIR(n->attr.mode))
			return -ENOTDIR;
		for (s = p; *p && *p != '/'; p++) {
			h ^= (unsigned char)*p;
			h *= 0x100000001b3ull;
		}
		n = bt_find(t, n, s, (size_t)(p - s), h);
		if (!n)
			return -ENOENT;
	}
	*attr = n->attr;
	return 0;
}

/* ---- the runs ------------------------------------------------------------ */

struct bench {
	struct opts o;
	struct tree_info ti;
	struct membackend *mb;
	struct dcache *dc;
	struct btable bt;
	bool bt_built;
	char **paths; /* per thread index: npaths * slot bytes */
	int stop;
	pthread_barrier_t barrier;
};

struct worker {
	pthread_t tid;
	struct bench *b;
	enum mode mode;
	unsigned idx;
	uint64_t ops, errors, ns;
	uint64_t sink;
	int first_err;
};

static void gen_paths(struct bench *b, unsigned idx)
{
	const struct opts *o = &b->o;
	uint64_t seed = (o->seed + 1) * 0x9e3779b97f4a7c15ull + idx * 7919 + 1;
	char *buf;
	unsigned i;

	if (b->paths[idx])
		return;
	buf = xmalloc((size_t)o->npaths * b->ti.slot);
	for (i = 0; i < o->npaths; i++) {
		unsigned c[NLEVELS];

		leaf_comps(o->fan, xorshift(&seed) % o->entries, c);
		comp_path(buf + (size_t)i * b->ti.slot, b->ti.slot, c, NLEVELS);
	}
	b->paths[idx] = buf;
}

static inline int do_op(struct bench *b, enum mode mode, const char *path,
			struct dc_result *res)
{
	int err;

	switch (mode) {
	case M_RCU:
		return dcache_walk(b->dc, path, DC_CACHED | DC_WANT_ATTR, res);
	case M_REF:
		return dcache_walk(b->dc, path, DC_FORCE_REF | DC_WANT_ATTR,
				   res);
	case M_MUTEX:
		pthread_mutex_lock(&b->bt.mutex);
		err = bt_walk(&b->bt, path, &res->attr);
		pthread_mutex_unlock(&b->bt.mutex);
		return err;
	case M_RWLOCK:
		pthread_rwlock_rdlock(&b->bt.rwlock);
		err = bt_walk(&b->bt, path, &res->attr);
		pthread_rwlock_unlock(&b->bt.rwlock);
		return err;
	default:
		return -EINVAL;
	}
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct bench *b = w->b;
	const char *paths = b->paths[w->idx];
	const size_t slot = b->ti.slot;
	const uint64_t mask = b->o.npaths - 1;
	const enum mode mode = w->mode;
	uint64_t pos = 0, errors = 0, sink = 0, t0;
	struct dc_result res;

	memset(&res, 0, sizeof(res));
	dcache_thread_enter();
	pthread_barrier_wait(&b->barrier);
	t0 = now_ns();
	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		unsigned i;

		for (i = 0; i < CHECK_EVERY; i++, pos++) {
			int err = do_op(b, mode, paths + (pos & mask) * slot,
					&res);

			if (err) {
				if (!errors++)
					w->first_err = err;
			}
			sink += res.attr.ino;
		}
	}
	w->ns = now_ns() - t0;
	dcache_thread_exit();
	w->ops = pos;
	w->errors = errors;
	w->sink = sink;
	return NULL;
}

struct run {
	uint64_t ops, errors;
	double ns_per_op; /* per thread: thread time / thread ops */
	double ops_per_s; /* sum over threads */
	double fast_pct;  /* dcache walks answered inside RCU (dcache modes) */
};

struct row {
	enum mode mode;
	unsigned threads;
	struct run reps[MAX_REPS];
	struct run med;
	double scale;
	bool have_scale;
};

static void one_run(struct bench *b, enum mode mode, unsigned nthr,
		    struct run *r)
{
	struct worker *w = xcalloc(nthr, sizeof(*w));
	struct dcache_stats before, after;
	double thread_ns = 0, rate = 0;
	struct timespec ts;
	uint64_t fast, slow;
	unsigned i;
	int err;

	memset(r, 0, sizeof(*r));
	dcache_stats(b->dc, &before);
	__atomic_store_n(&b->stop, 0, __ATOMIC_RELAXED);
	err = pthread_barrier_init(&b->barrier, NULL, nthr + 1);
	if (err)
		die("pthread_barrier_init", err);
	for (i = 0; i < nthr; i++) {
		w[i].b = b;
		w[i].mode = mode;
		w[i].idx = i;
		err = pthread_create(&w[i].tid, NULL, worker_main, &w[i]);
		if (err)
			die("pthread_create", err);
	}
	pthread_barrier_wait(&b->barrier);
	ts.tv_sec = (time_t)b->o.duration;
	ts.tv_nsec = (long)((b->o.duration - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	__atomic_store_n(&b->stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < nthr; i++) {
		pthread_join(w[i].tid, NULL);
		r->ops += w[i].ops;
		r->errors += w[i].errors;
		thread_ns += (double)w[i].ns;
		if (w[i].ns)
			rate += (double)w[i].ops * 1e9 / (double)w[i].ns;
		if (w[i].errors && r->errors == w[i].errors)
			fprintf(stderr,
				"dcbench: %s: %" PRIu64
				" failed walks, first: %s\n",
				mode_names[mode], w[i].errors,
				strerror(-w[i].first_err));
	}
	pthread_barrier_destroy(&b->barrier);
	dcache_stats(b->dc, &after);
	fast = after.hits[DC_OP_WALK] - before.hits[DC_OP_WALK];
	slow = after.slow[DC_OP_WALK] - before.slow[DC_OP_WALK];
	r->fast_pct =
		fast + slow ? 100.0 * (double)fast / (double)(fast + slow) : 0;
	r->ns_per_op = r->ops ? thread_ns / (double)r->ops : 0;
	r->ops_per_s = rate;
	free(w);
}

static int cmp_run(const void *a, const void *b)
{
	const struct run *x = a, *y = b;

	return (x->ops_per_s > y->ops_per_s) - (x->ops_per_s < y->ops_per_s);
}

static void print_run(const char *tag, const struct row *row,
		      const struct run *r)
{
	printf("%s%s threads=%u ops=%" PRIu64 " ns/op=%.1f ops/s=%.0f "
	       "per-thread=%.0f",
	       tag, mode_names[row->mode], row->threads, r->ops, r->ns_per_op,
	       r->ops_per_s, r->ops_per_s / row->threads);
	if (!*tag && row->have_scale)
		printf(" scale=%.2fx", row->scale);
	if (row->mode == M_RCU || row->mode == M_REF)
		printf(" fast=%.2f%%", r->fast_pct);
	if (r->errors)
		printf(" errors=%" PRIu64, r->errors);
	printf("\n");
	fflush(stdout);
}

static void run_row(struct bench *b, struct row *row)
{
	struct run sorted[MAX_REPS];
	unsigned i;

	for (i = 0; i < b->o.reps; i++) {
		one_run(b, row->mode, row->threads, &row->reps[i]);
		if (!b->o.quiet && b->o.reps > 1)
			print_run("  run ", row, &row->reps[i]);
	}
	memcpy(sorted, row->reps, b->o.reps * sizeof(*sorted));
	qsort(sorted, b->o.reps, sizeof(*sorted), cmp_run);
	row->med = sorted[b->o.reps / 2];
}

/* ---- setup ------------------------------------------------------------- */

struct warm_info {
	double build_s, warm_s, check_s;
	uint64_t rss_before, rss_after;
	struct dcache_stats st;
};

struct warm_ctx {
	struct bench *b;
	unsigned flags;
	uint64_t errors;
	int first_err;
};

static void warm_visit(void *ctx, const unsigned *c, int depth)
{
	struct warm_ctx *wc = ctx;
	struct dc_result res;
	char path[64];
	int err;

	if (depth != NLEVELS)
		return;
	comp_path(path, sizeof(path), c, depth);
	memset(&res, 0, sizeof(res));
	err = dcache_walk(wc->b->dc, path, wc->flags, &res);
	if (!err && !res.nodeid)
		err = -ENOENT;
	if (err && !wc->errors++)
		wc->first_err = err;
}

static void setup(struct bench *b, struct warm_info *wi)
{
	struct dcache_config cfg;
	struct warm_ctx wc;
	uint64_t t0;
	int err;

	memset(wi, 0, sizeof(*wi));
	t0 = now_ns();
	b->mb = mb_new();
	if (!b->mb)
		die("mb_new", ENOMEM);
	visit_tree(&b->o, mb_visit, b->mb);
	wi->build_s = (double)(now_ns() - t0) / 1e9;

	memset(&cfg, 0, sizeof(cfg));
	cfg.ops = mb_ops();
	cfg.backend = b->mb;
	mb_root_attr(b->mb, &cfg.root_attr);
	cfg.entry_ttl_ns = DC_TTL_FOREVER;
	cfg.neg_ttl_ns = DC_TTL_FOREVER;
	cfg.attr_ttl_ns = DC_TTL_FOREVER;

	wi->rss_before = rss_bytes();
	err = dcache_new(&cfg, &b->dc);
	if (err)
		die("dcache_new", err);
	memset(&wc, 0, sizeof(wc));
	wc.b = b;
	wc.flags = DC_WANT_ATTR;
	t0 = now_ns();
	visit_tree(&b->o, warm_visit, &wc);
	wi->warm_s = (double)(now_ns() - t0) / 1e9;
	wi->rss_after = rss_bytes();
	if (wc.errors)
		die("warming walk", wc.first_err);

	/* Everything must now be answerable from the cache alone. */
	wc.flags = DC_CACHED | DC_WANT_ATTR;
	t0 = now_ns();
	visit_tree(&b->o, warm_visit, &wc);
	wi->check_s = (double)(now_ns() - t0) / 1e9;
	if (wc.errors) {
		fprintf(stderr,
			"dcbench: %" PRIu64 " of %" PRIu64
			" paths not cached after warming\n",
			wc.errors, b->o.entries);
		die("cached walk", wc.first_err);
	}
	dcache_stats(b->dc, &wi->st);
}

/* ---- callgrind mode ------------------------------------------------------ */

/*
 * The measured function: exactly @n fast-path walks, nothing else.  Not
 * static and never inlined or cloned, so that callgrind finds it by name.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define DCB_NOCLONE __attribute__((noclone))
#else
#define DCB_NOCLONE
#endif
uint64_t dcbench_cg_walks(struct dcache *dc, const char *paths, size_t slot,
			  uint64_t mask, uint64_t n, uint64_t *errors);

__attribute__((noinline)) DCB_NOCLONE uint64_t
dcbench_cg_walks(struct dcache *dc, const char *paths, size_t slot,
		 uint64_t mask, uint64_t n, uint64_t *errors)
{
	struct dc_result res;
	uint64_t i, sink = 0, errs = 0;

	memset(&res, 0, sizeof(res));
	for (i = 0; i < n; i++) {
		if (dcache_walk(dc, paths + (i & mask) * slot,
				DC_CACHED | DC_WANT_ATTR, &res))
			errs++;
		sink += res.attr.ino;
	}
	*errors = errs;
	return sink;
}

static int callgrind_mode(struct bench *b)
{
	struct dcache_stats before, after;
	struct warm_info wi;
	uint64_t errors, sink, t0, ns;
	size_t i;

	setup(b, &wi);
	gen_paths(b, 0);
	/*
	 * One pass over the paths so every one was seen once, outside the
	 * measured function (callgrind counts all its calls).
	 */
	for (i = 0; i < b->o.npaths; i++) {
		struct dc_result res;

		memset(&res, 0, sizeof(res));
		if (dcache_walk(b->dc, b->paths[0] + i * b->ti.slot,
				DC_CACHED | DC_WANT_ATTR, &res))
			die("cached walk", EAGAIN);
	}
	dcache_stats(b->dc, &before);
	t0 = now_ns();
	sink = dcbench_cg_walks(b->dc, b->paths[0], b->ti.slot, b->o.npaths - 1,
				b->o.cg_ops, &errors);
	ns = now_ns() - t0;
	dcache_stats(b->dc, &after);
	printf("callgrind-ops=%" PRIu64 " entries=%" PRIu64 " errors=%" PRIu64
	       " fast=%" PRIu64 " slow=%" PRIu64 " ns/op=%.1f sink=%" PRIu64
	       "\n",
	       b->o.cg_ops, b->o.entries, errors,
	       after.hits[DC_OP_WALK] - before.hits[DC_OP_WALK],
	       after.slow[DC_OP_WALK] - before.slow[DC_OP_WALK],
	       (double)ns / (double)b->o.cg_ops, sink & 1);
	return errors ? 1 : 0;
}

/* ---- report ---------------------------------------------------------------- */

enum target_state { T_MET, T_MISSED, T_SKIPPED };

struct target {
	const char *name;
	double value, limit;
	enum target_state state;
};

static const char *const state_names[] = {"MET", "MISSED", "SKIPPED"};

static const struct row *find_row(const struct row *rows, unsigned nrows,
				  enum mode mode, unsigned threads)
{
	unsigned i;

	for (i = 0; i < nrows; i++)
		if (rows[i].mode == mode && rows[i].threads == threads)
			return &rows[i];
	return NULL;
}

static void set_target(struct target *t, const char *name, bool have,
		       double value, double limit, bool below)
{
	t->name = name;
	t->value = have ? value : 0;
	t->limit = limit;
	if (!have)
		t->state = T_SKIPPED;
	else if (below ? value <= limit : value >= limit)
		t->state = T_MET;
	else
		t->state = T_MISSED;
}

struct memfig {
	double stats_per_dentry, rss_per_dentry, name_avg;
	uint64_t dentries;
};

static void write_json(const struct bench *b, const struct warm_info *wi,
		       const struct memfig *m, const struct row *rows,
		       unsigned nrows, const struct target *t, unsigned nt)
{
	const struct opts *o = &b->o;
	FILE *f = fopen(o->json, "w");
	unsigned i, j;

	if (!f) {
		fprintf(stderr, "dcbench: %s: %s\n", o->json, strerror(errno));
		return;
	}
	fprintf(f,
		"{\n  \"config\": {\"entries\": %" PRIu64
		", \"shape\": [%u, %u, %u, %u], \"dirs\": %" PRIu64
		", \"duration_s\": %g, \"reps\": %u, \"paths_per_thread\": %u"
		", \"seed\": %" PRIu64 ", \"cpus\": %ld},\n",
		o->entries, o->fan[0], o->fan[1], o->fan[2], o->fan[3],
		b->ti.dirs, o->duration, o->reps, o->npaths, o->seed,
		sysconf(_SC_NPROCESSORS_ONLN));
	fprintf(f,
		"  \"setup\": {\"build_s\": %.3f, \"warm_s\": %.3f"
		", \"warm_ns_per_file\": %.1f, \"cached_check_s\": %.3f},\n",
		wi->build_s, wi->warm_s, wi->warm_s * 1e9 / (double)o->entries,
		wi->check_s);
	fprintf(f,
		"  \"memory\": {\"dentries\": %" PRIu64 ", \"inodes\": %" PRIu64
		", \"bytes\": %" PRIu64 ", \"bytes_per_dentry\": %.1f"
		", \"name_bytes_avg\": %.2f, \"rss_growth\": %" PRIu64
		", \"rss_per_dentry\": %.1f},\n",
		m->dentries, wi->st.inodes, wi->st.bytes, m->stats_per_dentry,
		m->name_avg, wi->rss_after - wi->rss_before, m->rss_per_dentry);
	fprintf(f, "  \"rows\": [\n");
	for (i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		fprintf(f,
			"    {\"mode\": \"%s\", \"threads\": %u, \"ops\": "
			"%" PRIu64 ", \"ns_per_op\": %.2f, \"ops_per_s\": %.0f"
			", \"per_thread\": %.0f, \"scale\": ",
			mode_names[r->mode], r->threads, r->med.ops,
			r->med.ns_per_op, r->med.ops_per_s,
			r->med.ops_per_s / r->threads);
		if (r->have_scale)
			fprintf(f, "%.3f", r->scale);
		else
			fprintf(f, "null");
		fprintf(f, ", \"errors\": %" PRIu64, r->med.errors);
		if (r->mode == M_RCU || r->mode == M_REF)
			fprintf(f, ", \"fast_pct\": %.3f", r->med.fast_pct);
		fprintf(f, ", \"reps_ops_per_s\": [");
		for (j = 0; j < o->reps; j++)
			fprintf(f, "%s%.0f", j ? ", " : "",
				r->reps[j].ops_per_s);
		fprintf(f, "]}%s\n", i + 1 < nrows ? "," : "");
	}
	fprintf(f, "  ],\n  \"targets\": [\n");
	for (i = 0; i < nt; i++)
		fprintf(f,
			"    {\"name\": \"%s\", \"value\": %.3f, \"limit\": "
			"%.3f"
			", \"state\": \"%s\"}%s\n",
			t[i].name, t[i].value, t[i].limit,
			state_names[t[i].state], i + 1 < nt ? "," : "");
	fprintf(f, "  ]\n}\n");
	if (fclose(f))
		fprintf(stderr, "dcbench: %s: %s\n", o->json, strerror(errno));
}

int main(int argc, char **argv)
{
	struct bench *b = xcalloc(1, sizeof(*b));
	struct opts *o = &b->o;
	struct warm_info wi;
	struct memfig m;
	struct target tg[5];
	struct row *rows;
	const struct row *r1, *r2, *rw;
	unsigned nrows = 0, i, maxthr = 0;
	uint64_t errors = 0;
	int ret = 0, mode;
	bool missed = false;

	parse_opts(argc, argv, o);
	derive_shape(o);
	tree_info(o, &b->ti);
	for (i = 0; i < o->nthreads; i++)
		if (o->threads[i] > maxthr)
			maxthr = o->threads[i];
	b->paths = xcalloc(maxthr ? maxthr : 1, sizeof(*b->paths));

	dcache_thread_enter();
	if (o->cg_ops) {
		ret = callgrind_mode(b);
		goto out;
	}

	printf("dcbench: entries=%" PRIu64 " shape=%ux%ux%ux%u dirs=%" PRIu64
	       " duration=%gs reps=%u paths/thread=%u cpus=%ld\n",
	       o->entries, o->fan[0], o->fan[1], o->fan[2], o->fan[3],
	       b->ti.dirs, o->duration, o->reps, o->npaths,
	       sysconf(_SC_NPROCESSORS_ONLN));
	fflush(stdout);
	setup(b, &wi);
	m.dentries = wi.st.dentries ? wi.st.dentries : b->ti.dirs + b->ti.files;
	m.name_avg =
		(double)b->ti.name_bytes / (double)(b->ti.dirs + b->ti.files);
	m.stats_per_dentry = (double)wi.st.bytes / (double)m.dentries;
	m.rss_per_dentry =
		(double)(wi.rss_after - wi.rss_before) / (double)m.dentries;
	printf("setup: membackend %.2f s, warm %.2f s (%.0f ns/file through "
	       "the backend), cached check %.2f s (%.0f ns/file)\n",
	       wi.build_s, wi.warm_s, wi.warm_s * 1e9 / (double)o->entries,
	       wi.check_s, wi.check_s * 1e9 / (double)o->entries);
	printf("memory: dcache bytes=%" PRIu64 " dentries=%" PRIu64
	       " inodes=%" PRIu64 " -> %.1f B/dentry (names avg %.1f B incl. "
	       "NUL); RSS growth %" PRIu64 " -> %.1f B/dentry\n",
	       wi.st.bytes, wi.st.dentries, wi.st.inodes, m.stats_per_dentry,
	       m.name_avg, wi.rss_after - wi.rss_before, m.rss_per_dentry);
	{
		struct dcache_stats st;

		dcache_stats(b->dc, &st);
		printf("tables: %" PRIu64 " dentry buckets, %" PRIu64
		       " inode buckets, %" PRIu64 " resizes\n",
		       st.dentry_buckets, st.inode_buckets, st.table_resizes);
	}
	fflush(stdout);

	for (i = 0; i < maxthr; i++)
		gen_paths(b, i);

	rows = xcalloc((size_t)M_NR * o->nthreads, sizeof(*rows));
	for (mode = 0; mode < M_NR; mode++) {
		const struct row *base = NULL;

		if (!o->modes[mode])
			continue;
		if ((mode == M_MUTEX || mode == M_RWLOCK) && !b->bt_built) {
			bt_build(&b->bt, o, &b->ti);
			b->bt_built = true;
		}
		for (i = 0; i < o->nthreads; i++) {
			struct row *row = &rows[nrows++];

			row->mode = (enum mode)mode;
			row->threads = o->threads[i];
			run_row(b, row);
			base = find_row(rows, nrows, row->mode, 1);
			if (base && base->med.ops_per_s > 0) {
				row->scale = row->med.ops_per_s /
					     base->med.ops_per_s;
				row->have_scale = true;
			}
			errors += row->med.errors;
			print_run("", row, &row->med);
		}
	}

	r1 = find_row(rows, nrows, M_RCU, 1);
	r2 = find_row(rows, nrows, M_RCU, 2);
	rw = find_row(rows, nrows, M_RWLOCK, 2);
	set_target(&tg[0], "rcu 4-component hit ns/op at 1 thread", r1,
		   r1 ? r1->med.ns_per_op : 0, TARGET_HIT_NS, true);
	set_target(&tg[1], "rcu scale at 2 threads", r1 && r2,
		   r2 ? r2->scale : 0, TARGET_SCALE2, false);
	set_target(&tg[2], "rcu / rwlock ops/s at 2 threads",
		   r2 && rw && rw->med.ops_per_s > 0,
		   r2 && rw && rw->med.ops_per_s > 0
			   ? r2->med.ops_per_s / rw->med.ops_per_s
			   : 0,
		   TARGET_VS_RWLOCK, false);
	set_target(&tg[3], "bytes per cached entry (dcache_stats)",
		   wi.st.bytes > 0, m.stats_per_dentry, TARGET_BYTES, true);
	set_target(&tg[4], "bytes of RSS per cached entry",
		   wi.rss_after > wi.rss_before, m.rss_per_dentry, TARGET_BYTES,
		   true);
	for (i = 0; i < 5; i++) {
		printf("target: %-44s %10.2f %s %-6g %s\n", tg[i].name,
		       tg[i].value, i < 1 || i > 2 ? "<=" : ">=", tg[i].limit,
		       state_names[tg[i].state]);
		if (tg[i].state == T_MISSED)
			missed = true;
	}
	if (o->json)
		write_json(b, &wi, &m, rows, nrows, tg, 5);
	free(rows);
	if (errors)
		ret = 1;
	else if (missed && o->strict)
		ret = 2;
out:
	if (b->bt_built)
		bt_free(&b->bt);
	for (i = 0; i < maxthr; i++)
		free(b->paths[i]);
	free(b->paths);
	dcache_free(b->dc);
	if (b->mb)
		mb_free(b->mb);
	dcache_thread_exit();
	free(b);
	return ret;
}
