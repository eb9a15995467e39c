// SPDX-License-Identifier: MIT
/*
 * tests/torture/torture.c - an rcutorture-style stress test of the dcache.
 *
 *   torture [-s seconds] [-r readers] [-u updaters] [-S seed] [-y]
 *           [-t] [-n] [-x] [-a]
 *
 * Variants (any combination):
 *   -t  all TTLs 0: every use of a cached entry or attribute revalidates
 *       with the backend, racing the updaters' write-throughs;
 *   -n  shared names: every updater mutates every owner's objects (under
 *       the owner's directory lock, as the kernel serializes writers of a
 *       directory), so write-throughs of one name come from several
 *       threads while invalidations and lookups race them;
 *   -x  updaters also call dcache_expire_all, dcache_forget_key before
 *       removals, and dcache_forget_key + dcache_rekey as a failed
 *       removal does;
 *   -a  two more threads race dcache_instantiate and revalidating lookups
 *       against dcache_remove of the same names (issue 12: a dentry must
 *       never turn negative while joining its inode's alias list).
 *
 * A membackend tree (the oracle) with a dcache over it, kept small enough
 * (max_entries) that the shrinker thread evicts all the time.  Updaters
 * mutate the tree and tell the dcache, as FUSE request handlers would
 * (write-through); readers look objects up and check what they get.
 *
 * Ownership.  Each updater owns a disjoint set of objects (files, symlinks,
 * directories holding a few files); its names carry its number, so no
 * other thread ever changes them and the updater knows their truth.
 * With -n every updater mutates every owner's objects, one mutation at a
 * time per owner (struct owner's lock, the kernel's directory locks), so
 * the truth is still known to whoever holds that lock.  The
 * static tree (root, d<t>, d<t>/s<s>, filler files d<t>/s<s>/f<i>) never
 * changes at all.
 *
 * Versions.  Every object has two counters, start and done, and a state
 * (location, previous location, inode number, attribute and link versions,
 * alive) in atomic words.  A mutation bumps start of every object it
 * touches (a directory's files included: their paths change with it), does
 * the backend change, tells the dcache, writes the new state and sets
 * done = start.  A reader takes a snapshot of an object (done, state, then
 * start == done, as a sequence lock), does its lookups, and then loads
 * start again: unchanged means nothing touched the object while it read,
 * so the answer must be exactly the snapshot ("quiescent").  Otherwise only
 * the monotonic rules apply: an answer carrying the object's inode must be
 * at least as new as the snapshot.
 *
 * Encodings, so that a torn or stale copy is recognisable on its own:
 *   attributes of files and directories all derive from one K =
 *   version * 1024 + object id (size, blocks, times, uid, gid, mode bits);
 *   symlink targets are "t<K>-" padded with one letter to a length derived
 *   from K; object names carry the owner and a slot number.
 *
 * Violations: stale (older than what was completed before the read began),
 * torn (fields of one copy that disagree), mismatch (anything else wrong:
 * an error where the object must be found, a wrong object, a changed
 * nodeid binding, a wrong dentry name or path).  The first one is printed
 * with the seed and the test exits 1.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
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

/*
 * GCC's ThreadSanitizer refuses atomic_thread_fence: there, a fence is a
 * sequentially consistent read-modify-write of one shared word, which
 * orders at least as strongly and which TSan understands.
 */
#if defined(__SANITIZE_THREAD__)
static uint64_t fence_word;
#define t_fence(mo) ((void)__atomic_fetch_add(&fence_word, 0, __ATOMIC_SEQ_CST))
#else
#define t_fence(mo) __atomic_thread_fence(mo)
#endif

/* ---- the tree ----------------------------------------------------------- */

#define NTOP 4
#define NSUB 8
#define NSDIR (1 + NTOP + NTOP * NSUB) /* root, d<t>, d<t>/s<s> */
#define NFILL 64		       /* filler files per subdirectory */
#define NFILLER (NTOP * NSUB * NFILL)
#define NSLOT 24  /* name slots per updater per static directory */
#define NCHSLOT 4 /* name slots in an owned directory */
#define NF 12	  /* owned regular files (top level) */
#define NL 6	  /* owned symlinks */
#define ND 3	  /* owned directories */
#define NCH 2	  /* files in each owned directory */
#define NOBJ (NF + NL + ND + ND * NCH)
#define MAXUPD 32
#define KMUL 1024 /* K = version * KMUL + id */
#define FILLER_ID (KMUL - 1)
#define PATHMAX 1024
#define HIST 64 /* mutations remembered per updater */
#define HISTLEN 200
#define LINKMAX 512

static_assert(MAXUPD * NOBJ < FILLER_ID, "object ids must fit K");

enum otype { OT_FILE, OT_LINK, OT_DIR };
static const char *const otype_name[] = {"file", "symlink", "dir"};

/*
 * An owned object.  The first group is shared with readers and accessed
 * with atomics only (the owner is the only writer); the rest is immutable
 * after setup.
 */
struct obj {
	uint64_t start, done; /* mutation counters, see the top comment */
	uint64_t loc;	      /* LOC(parent, slot) | LOC_VALID */
	uint64_t prevloc;     /* location before the last move, or 0 */
	uint64_t ino;	      /* backing inode (the dead one when !alive) */
	uint64_t k, kl;	      /* attribute / link version */
	uint64_t alive;
	/* immutable */
	unsigned id, owner, local;
	enum otype type;
	int dir;	  /* files in an owned directory: its id, else -1 */
	unsigned ch[NCH]; /* directories: their files' ids */
};

/*
 * Locations: a parent below NSDIR is a static directory, NSDIR + id an
 * owned directory; slots index the owner's names in that parent.
 */
#define LOC_VALID (1ull << 32)
#define LOC(p, s) ((uint64_t)(p) | (uint64_t)(s) << 16 | LOC_VALID)
#define LOC_PARENT(l) ((unsigned)((l)&0xffff))
#define LOC_SLOT(l) ((unsigned)(((l) >> 16) & 0xffff))

static char sdir_path[NSDIR][16];
static struct obj objs[MAXUPD * NOBJ];
static uint64_t filler_ino[NFILLER];

static struct membackend *mb;
static struct dcache *dc;

/* ---- options and global state ---------------------------------------- */

static unsigned opt_seconds = 5, opt_readers = 4, opt_updaters = 2;
static uint64_t opt_seed;
static bool opt_yield, opt_ttl0, opt_shared, opt_expire;
static bool opt_alias;
#define NRACER 2 /* -a threads */
#define NRACE 4	 /* -a names: race/r<i> */
static uint64_t race_ino[NRACE];
static struct dc_attr race_attr[NRACE];

static int stop;
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;

/*
 * Name locks, one per owner, modelling the kernel's directory locks.
 * Every write-through but EXCHANGE leaves the cache right even when a
 * lookup between the backend change and the dcache call already cached
 * the new state (create, unlink and rename applied to the new state give
 * the new state).  A swap applied to the new state gives the old one, and
 * the dcache cannot tell which state it holds: dcache.h requires that no
 * lookup of the two names runs between the backend exchange and
 * dcache_rename, which the kernel ensures by holding both parents'
 * i_rwsem across RENAME (lookups take it shared).  So an exchange by
 * owner u holds name_lock[u] for writing, and a reader's lookups of
 * owner u's names (look()) hold it for reading.  Nothing else waits.
 */
static pthread_rwlock_t name_lock[MAXUPD];
static struct timespec t_start;

struct counters {
	uint64_t reads, checks, updates, eagain, estale, unsettled;
	uint64_t estale_kref; /* -ESTALE for a node id we hold a kref on */
};

struct thr {
	pthread_t tid;
	char name[24];
	uint64_t rng;
	struct counters c;
	unsigned id; /* updaters: owner number */
	/* updaters: the last mutations, printed with a violation */
	char hist[HIST][HISTLEN];
	unsigned nhist;
};

static struct thr *threads;

/*
 * What an owner's updaters share: the occupied names (object id + 1), and
 * the owner's directory lock.  The lock models the kernel's directory
 * locks (i_rwsem): a FUSE create, unlink, rename or setattr runs with the
 * parent directory locked exclusively, so two writers of one name never
 * overlap.  Lookups and revalidations take no lock (the kernel's
 * d_revalidate sends LOOKUP without it), nor do invalidations (the change
 * watcher).  Taken only when updaters share owners (-n); otherwise each
 * owner has one updater.
 */
struct owner {
	pthread_rwlock_t lock;
	uint16_t occ[NSDIR][NSLOT];
	uint16_t chocc[ND][NCHSLOT];
};

static struct owner owners[MAXUPD];

static uint64_t rnd(struct thr *t)
{
	/* xorshift64* */
	uint64_t x = t->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

static unsigned rndn(struct thr *t, unsigned n)
{
	return (unsigned)((rnd(t) >> 32) % n);
}

static double elapsed(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t_start.tv_sec) +
	       (double)(now.tv_nsec - t_start.tv_nsec) / 1e9;
}

/* Remember a mutation (read only by a failing thread, racily). */
static void __attribute__((format(printf, 2, 3)))
hist(struct thr *t, const char *fmt, ...)
{
	char *h = t->hist[t->nhist++ % HIST];
	va_list ap;
	int n;

	n = snprintf(h, HISTLEN, "%8.6f ", elapsed());
	va_start(ap, fmt);
	vsnprintf(h + n, HISTLEN - (size_t)n, fmt, ap);
	va_end(ap);
}

/* -y: random yields and short spins to widen race windows. */
static void jitter(struct thr *t)
{
	unsigned r, n;

	if (!opt_yield)
		return;
	r = rndn(t, 8);
	if (r == 0) {
		sched_yield();
	} else if (r == 1) {
		n = rndn(t, 2000);
		for (volatile unsigned i = 0; i < n; i++)
			;
	}
}

static uint64_t ld(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void st(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* ---- failures ------------------------------------------------------------ */

enum vkind { V_STALE, V_TORN, V_MISMATCH, V_SETUP };
static const char *const vkind_name[] = {"stale", "torn", "mismatch", "setup"};

static void print_attr(const char *what, const struct dc_attr *a)
{
	fprintf(stderr,
		"  %s: ino=%" PRIu64 " mode=%#" PRIo64 " nlink=%" PRIu64
		" uid=%" PRIu64 " gid=%" PRIu64 " size=%" PRId64
		" blocks=%" PRId64 " blksize=%" PRId64 "\n"
		"    atime=%" PRId64 ".%" PRId64 " mtime=%" PRId64 ".%" PRId64
		" ctime=%" PRId64 ".%" PRId64 "\n",
		what, a->ino, a->mode, a->nlink, a->uid, a->gid, a->size,
		a->blocks, a->blksize, a->atime_sec, a->atime_nsec,
		a->mtime_sec, a->mtime_nsec, a->ctime_sec, a->ctime_nsec);
}

/* Print the first violation and exit 1 (the other threads are not joined). */
static void __attribute__((format(printf, 3, 4), noreturn))
fail(struct thr *t, enum vkind kind, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&fail_lock);
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	fprintf(stderr,
		"torture: VIOLATION (%s) in %s at %.3fs, seed %" PRIu64
		"%s:\n  ",
		vkind_name[kind], t ? t->name : "main", elapsed(), opt_seed,
		opt_yield ? " (-y)" : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	for (unsigned u = 0; threads && u < opt_updaters; u++) {
		struct thr *h = &threads[u];
		unsigned n = h->nhist, i = n > HIST ? n - HIST : 0;

		fprintf(stderr, "  last mutations of %s:\n", h->name);
		for (; i < n; i++)
			fprintf(stderr, "    %s\n", h->hist[i % HIST]);
	}
	fflush(stderr);
	_exit(1);
}

/* ---- names, paths, encodings ------------------------------------------- */

static unsigned name_pad(unsigned owner, unsigned slot)
{
	if (slot % 11 == 10)
		return 180; /* some long names */
	return (slot * 7 + owner * 3) % 23;
}

static const char pad_chars[] = "________________________________________"
				"________________________________________"
				"________________________________________"
				"________________________________________"
				"________________________________________";

static void slot_name(char *buf, size_t size, unsigned parent, unsigned owner,
		      unsigned slot)
{
	if (parent < NSDIR)
		snprintf(buf, size, "u%u_%u%.*s", owner, slot,
			 (int)name_pad(owner, slot), pad_chars);
	else
		snprintf(buf, size, "c%u%.*s", slot, (int)(slot * 5 % 17),
			 pad_chars);
}

/* Path of the directory @parent; @dirloc is the owned directory's loc. */
static void parent_path(char *buf, size_t size, unsigned parent, unsigned owner,
			uint64_t dirloc)
{
	char name[DC_NAME_MAX + 1];
	unsigned dp;

	if (parent < NSDIR) {
		snprintf(buf, size, "%s", sdir_path[parent]);
		return;
	}
	dp = LOC_PARENT(dirloc);
	slot_name(name, sizeof(name), dp, owner, LOC_SLOT(dirloc));
	if (dp == 0)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "%s/%s", sdir_path[dp], name);
}

static void loc_path(char *buf, size_t size, uint64_t loc, unsigned owner,
		     uint64_t dirloc, char *name)
{
	char pp[PATHMAX];
	unsigned p = LOC_PARENT(loc);

	slot_name(name, DC_NAME_MAX + 1, p, owner, LOC_SLOT(loc));
	parent_path(pp, sizeof(pp), p, owner, dirloc);
	if (snprintf(buf, size, "%s%s%s", pp, pp[0] ? "/" : "", name) >=
	    (int)size)
		abort(); /* PATHMAX is far more than the tree needs */
}

static int64_t kenc(uint64_t version, unsigned id)
{
	return (int64_t)(version * KMUL + id);
}

/* Attributes all derived from K (ino, dev, type and nlink are the tree's). */
static void attr_fill(struct dc_attr *a, int64_t K)
{
	uint64_t u = (uint64_t)K;

	a->uid = u & 0xffff;
	a->gid = (u >> 16) & 0xffff;
	a->mode = (a->mode & S_IFMT) | (u & 0777);
	a->rdev = 0;
	a->size = K;
	a->blocks = K;
	a->blksize = 512 + (K % 7) * 512;
	a->atime_sec = K ^ 0x5a5a;
	a->atime_nsec = K % 999999937;
	a->mtime_sec = K;
	a->mtime_nsec = K % 1000000000;
	a->ctime_sec = K;
	a->ctime_nsec = (K * 7) % 1000000000;
}

/* False when the fields do not all derive from one K (a torn copy). */
static bool attr_decode(const struct dc_attr *a, int64_t *K)
{
	struct dc_attr e = *a;

	attr_fill(&e, a->size);
	*K = a->size;
	return a->size > 0 && memcmp(&e, a, sizeof(e)) == 0;
}

static size_t link_pad(uint64_t KL)
{
	return (size_t)((KL * 13) % 300);
}

static size_t link_make(char *buf, size_t size, uint64_t KL)
{
	int n = snprintf(buf, size, "t%" PRIu64 "-", KL);
	size_t len = (size_t)n + link_pad(KL);

	memset(buf + n, 'a' + (int)(KL % 26), link_pad(KL));
	buf[len] = '\0';
	return len;
}

/*
 * Check a link target copy: @buf holds min(@len, @size) bytes of a target
 * whose full length is @len.  False when inconsistent (torn).  *KL = 0
 * when the visible prefix is too short to tell the version.
 */
static bool link_decode(const char *buf, size_t size, size_t len, uint64_t *KL)
{
	char exp[LINKMAX];
	size_t vis = len < size ? len : size, i, elen;
	uint64_t v = 0;

	*KL = 0;
	if (size && len < size && buf[len] != '\0')
		return false; /* fits: must be NUL-terminated */
	if (vis > 0 && buf[0] != 't')
		return false;
	for (i = 1; i < vis && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(buf[i] - '0');
	if (i >= vis)
		return len > vis; /* truncated before '-': cannot tell */
	if (buf[i] != '-' || v == 0)
		return false;
	elen = link_make(exp, sizeof(exp), v);
	if (elen != len || memcmp(exp, buf, vis) != 0)
		return false;
	*KL = v;
	return true;
}

/* ---- object state ------------------------------------------------------- */

struct mut {
	struct obj *o[2 + 2 * NCH];
	int n;
};

static void mut_add(struct mut *m, struct obj *o)
{
	m->o[m->n++] = o;
	if (o->type == OT_DIR)
		for (int i = 0; i < NCH; i++)
			m->o[m->n++] = &objs[o->ch[i]];
}

static void mut_begin(struct mut *m)
{
	for (int i = 0; i < m->n; i++)
		__atomic_store_n(&m->o[i]->start, ld(&m->o[i]->start) + 1,
				 __ATOMIC_SEQ_CST);
	t_fence(__ATOMIC_SEQ_CST);
}

static void mut_end(struct thr *t, struct mut *m)
{
	t_fence(__ATOMIC_SEQ_CST);
	for (int i = 0; i < m->n; i++)
		__atomic_store_n(&m->o[i]->done, ld(&m->o[i]->start),
				 __ATOMIC_RELEASE);
	t->c.updates++;
}

/* A consistent copy of an object's state, with its paths. */
struct snap {
	struct obj *o;
	uint64_t d, loc, prevloc, ino, k, kl, alive, dirloc;
	char path[PATHMAX], prev[PATHMAX];
	char name[DC_NAME_MAX + 1], prevname[DC_NAME_MAX + 1];
};

static bool snap_take(struct thr *t, struct snap *s, struct obj *o)
{
	for (int tries = 0; tries < 100; tries++) {
		s->d = __atomic_load_n(&o->done, __ATOMIC_ACQUIRE);
		s->loc = ld(&o->loc);
		s->prevloc = ld(&o->prevloc);
		s->ino = ld(&o->ino);
		s->k = ld(&o->k);
		s->kl = ld(&o->kl);
		s->alive = ld(&o->alive);
		s->dirloc = o->dir >= 0 ? ld(&objs[o->dir].loc) : 0;
		t_fence(__ATOMIC_ACQUIRE);
		if (ld(&o->start) == s->d) {
			s->o = o;
			loc_path(s->path, sizeof(s->path), s->loc, o->owner,
				 s->dirloc, s->name);
			s->prev[0] = '\0';
			if (s->prevloc)
				loc_path(s->prev, sizeof(s->prev), s->prevloc,
					 o->owner, s->dirloc, s->prevname);
			return true;
		}
		jitter(t);
		sched_yield();
	}
	return false;
}

/* Nothing touched the object since the snapshot (reads before stay put). */
static bool snap_still(const struct snap *s)
{
	t_fence(__ATOMIC_SEQ_CST);
	return ld(&s->o->start) == s->d;
}

/* ---- setup ------------------------------------------------------------ */

static void xmb(int err, const char *what, const char *path)
{
	if (err)
		fail(NULL, V_SETUP, "membackend %s(%s): %s", what, path,
		     strerror(-err));
}

static void setup_tree(void)
{
	char p[PATHMAX];
	struct dc_attr a;
	unsigned i = 1 + NTOP, f = 0;

	snprintf(sdir_path[0], sizeof(sdir_path[0]), "%s", "");
	for (unsigned td = 0; td < NTOP; td++) {
		snprintf(sdir_path[1 + td], sizeof(sdir_path[0]), "d%u", td);
		xmb(mb_create(mb, sdir_path[1 + td], S_IFDIR | 0755, NULL),
		    "mkdir", sdir_path[1 + td]);
	}
	for (unsigned td = 0; td < NTOP; td++) {
		for (unsigned s = 0; s < NSUB; s++, i++) {
			snprintf(sdir_path[i], sizeof(sdir_path[0]), "d%u/s%u",
				 td, s);
			xmb(mb_create(mb, sdir_path[i], S_IFDIR | 0755, NULL),
			    "mkdir", sdir_path[i]);
			for (unsigned n = 0; n < NFILL; n++, f++) {
				snprintf(p, sizeof(p), "%s/f%03u", sdir_path[i],
					 n);
				xmb(mb_create(mb, p, S_IFREG | 0644, &a),
				    "create", p);
				attr_fill(&a, kenc(f + 1, FILLER_ID));
				xmb(mb_setattr(mb, p, &a), "setattr", p);
				filler_ino[f] = a.ino;
			}
		}
	}
}

static void obj_path(struct obj *o, char *buf, char *name)
{
	uint64_t dirloc = o->dir >= 0 ? ld(&objs[o->dir].loc) : 0;

	loc_path(buf, PATHMAX, ld(&o->loc), o->owner, dirloc, name);
}

/* Create @o at its loc in the tree only (setup; the dcache is empty). */
static void setup_obj(struct obj *o)
{
	char p[PATHMAX], name[DC_NAME_MAX + 1], target[LINKMAX];
	struct dc_attr a;

	obj_path(o, p, name);
	switch (o->type) {
	case OT_LINK:
		link_make(target, sizeof(target), (uint64_t)kenc(1, o->id));
		xmb(mb_symlink(mb, p, target, &a), "symlink", p);
		break;
	case OT_FILE:
	case OT_DIR:
		xmb(mb_create(mb, p,
			      (o->type == OT_DIR ? S_IFDIR : S_IFREG) | 0644,
			      &a),
		    "create", p);
		attr_fill(&a, kenc(1, o->id));
		xmb(mb_setattr(mb, p, &a), "setattr", p);
		break;
	}
	st(&o->ino, a.ino);
	st(&o->k, 1);
	st(&o->kl, 1);
	st(&o->alive, 1);
}

static void setup_updater(struct thr *t)
{
	unsigned u = t->id, base = u * NOBJ, i, c;
	char p[32];

	snprintf(p, sizeof(p), "tmp%u", u);
	xmb(mb_create(mb, p, S_IFDIR | 0755, NULL), "mkdir", p);
	for (i = 0; i < NOBJ; i++) {
		struct obj *o = &objs[base + i];

		memset(o, 0, sizeof(*o));
		o->id = base + i;
		o->owner = u;
		o->local = i;
		o->dir = -1;
		if (i < NF)
			o->type = OT_FILE;
		else if (i < NF + NL)
			o->type = OT_LINK;
		else if (i < NF + NL + ND)
			o->type = OT_DIR;
		else
			o->type = OT_FILE;
	}
	for (i = 0; i < NF + NL + ND; i++) {
		struct obj *o = &objs[base + i];
		unsigned sd, sl;

		do {
			sd = rndn(t, NSDIR);
			sl = rndn(t, NSLOT);
		} while (owners[u].occ[sd][sl]);
		owners[u].occ[sd][sl] = (uint16_t)(o->id + 1);
		st(&o->loc, LOC(sd, sl));
		setup_obj(o);
	}
	for (i = 0; i < ND; i++) {
		struct obj *d = &objs[base + NF + NL + i];

		for (c = 0; c < NCH; c++) {
			struct obj *o =
				&objs[base + NF + NL + ND + i * NCH + c];

			d->ch[c] = o->id;
			o->dir = (int)d->id;
			owners[u].chocc[i][c] = (uint16_t)(o->id + 1);
			st(&o->loc, LOC(NSDIR + d->id, c));
			setup_obj(o);
		}
	}
}

/* ---- updaters --------------------------------------------------------- */

/*
 * The node id of directory @path as a FUSE handler would have it: the
 * kernel holds a lookup reference (usually: *kref), or not (then the id
 * may be evicted under us and the dcache answers -ESTALE).
 */
static uint64_t resolve(struct thr *t, const char *path, bool *kref)
{
	struct dc_result res = {0};
	int rc;

	*kref = false;
	if (!path[0])
		return DC_ROOT_ID;
	*kref = rndn(t, 8) != 0;
	rc = dcache_walk(dc, path, *kref ? DC_WANT_KREF : 0, &res);
	if (rc || !res.nodeid)
		fail(t, V_MISMATCH,
		     "updater walk of existing \"%s\" (flags %#x): rc %d "
		     "nodeid %" PRIu64,
		     path, *kref ? DC_WANT_KREF : 0, rc, res.nodeid);
	return res.nodeid;
}

static void unresolve(struct thr *t, uint64_t nodeid, bool kref)
{
	int rc;

	if (!kref)
		return;
	rc = dcache_forget(dc, nodeid, 1);
	if (rc)
		fail(t, V_MISMATCH, "dcache_forget(%" PRIu64 ", 1): rc %d",
		     nodeid, rc);
}

/* A dcache mutation's answer: 0, or -ESTALE when we held no reference. */
static void check_dc(struct thr *t, int rc, bool kref, bool enoent_ok,
		     const char *what, const char *path)
{
	hist(t, "%s(%s): %d%s", what, path, rc, kref ? "" : " (no kref)");
	if (rc == 0 || (rc == -ESTALE && !kref) || (rc == -ENOENT && enoent_ok))
		return;
	fail(t, V_MISMATCH, "updater %s(\"%s\"): unexpected rc %d (%s)", what,
	     path, rc, strerror(-rc));
}

static void loc_parent_path(struct obj *o, uint64_t loc, char *buf)
{
	uint64_t dirloc = o->dir >= 0 ? ld(&objs[o->dir].loc) : 0;

	parent_path(buf, PATHMAX, LOC_PARENT(loc), o->owner, dirloc);
}

/* Who occupies @loc among @o's owner's names (0: free). */
static uint16_t *occ_of(const struct obj *o, uint64_t loc)
{
	struct owner *w = &owners[o->owner];
	unsigned p = LOC_PARENT(loc), s = LOC_SLOT(loc);

	if (p < NSDIR)
		return &w->occ[p][s];
	return &w->chocc[objs[p - NSDIR].local - NF - NL][s];
}

/* A free location for @o: a static directory, or @o's owned directory. */
static uint64_t free_loc(struct thr *t, struct obj *o)
{
	uint64_t loc;

	do {
		if (o->dir >= 0)
			loc = LOC(NSDIR + o->dir, rndn(t, NCHSLOT));
		else
			loc = LOC(rndn(t, NSDIR), rndn(t, NSLOT));
	} while (*occ_of(o, loc));
	return loc;
}

/* mb_rename then dcache_rename from @oldloc to @newloc (same owner). */
static void do_rename(struct thr *t, struct obj *o, uint64_t oldloc,
		      const char *oldpath, const char *oldname,
		      const char *oldpp, uint64_t newloc, unsigned flags)
{
	char np[PATHMAX], nname[DC_NAME_MAX + 1], npp[PATHMAX];
	uint64_t dirloc = o->dir >= 0 ? ld(&objs[o->dir].loc) : 0;
	uint64_t onid, nnid;
	bool oref, nref;
	int rc;

	loc_path(np, sizeof(np), newloc, o->owner, dirloc, nname);
	loc_parent_path(o, newloc, npp);
	hist(t, "rename %s -> %s flags %#x", oldpath, np, flags);
	rc = mb_rename(mb, oldpath, np, flags);
	if (rc)
		fail(t, V_SETUP, "mb_rename(%s, %s, %#x): %d", oldpath, np,
		     flags, rc);
	(void)oldloc;
	jitter(t);
	onid = resolve(t, oldpp, &oref);
	nnid = resolve(t, npp, &nref);
	jitter(t);
	rc = dcache_rename(dc, onid, oldname, nnid, nname, flags);
	check_dc(t, rc, oref && nref, false, "dcache_rename", np);
	unresolve(t, onid, oref);
	unresolve(t, nnid, nref);
}

static void op_rename_free(struct thr *t, struct obj *o)
{
	char p[PATHMAX], name[DC_NAME_MAX + 1], pp[PATHMAX];
	uint64_t oldloc = ld(&o->loc), newloc = free_loc(t, o);
	struct mut m = {.n = 0};

	obj_path(o, p, name);
	loc_parent_path(o, oldloc, pp);
	mut_add(&m, o);
	mut_begin(&m);
	do_rename(t, o, oldloc, p, name, pp, newloc,
		  rndn(t, 2) ? DC_RENAME_NOREPLACE : 0);
	st(&o->prevloc, oldloc);
	st(&o->loc, newloc);
	*occ_of(o, oldloc) = 0;
	*occ_of(o, newloc) = (uint16_t)(o->id + 1);
	mut_end(t, &m);
}

/* Another alive object of @o's owner that can be a rename target. */
static struct obj *pick_target(struct thr *t, struct obj *o, bool nondir)
{
	unsigned base = o->owner * NOBJ;

	for (int tries = 0; tries < 20; tries++) {
		struct obj *x = &objs[base + rndn(t, NOBJ)];

		if (x == o || !ld(&x->alive) || x->dir != o->dir)
			continue;
		if (nondir && x->type == OT_DIR)
			continue;
		return x;
	}
	return NULL;
}

static void op_rename_over(struct thr *t, struct obj *o)
{
	char p[PATHMAX], name[DC_NAME_MAX + 1], pp[PATHMAX];
	struct obj *x = pick_target(t, o, true);
	uint64_t oldloc = ld(&o->loc), newloc;
	struct mut m = {.n = 0};

	if (o->type == OT_DIR || !x)
		return;
	newloc = ld(&x->loc);
	obj_path(o, p, name);
	loc_parent_path(o, oldloc, pp);
	mut_add(&m, o);
	mut_add(&m, x);
	mut_begin(&m);
	if (opt_expire) /* the replaced target loses its last link */
		dcache_forget_key(dc, MB_DEV, ld(&x->ino));
	do_rename(t, o, oldloc, p, name, pp, newloc, 0);
	st(&x->alive, 0);
	st(&o->prevloc, oldloc);
	st(&o->loc, newloc);
	*occ_of(o, oldloc) = 0;
	*occ_of(o, newloc) = (uint16_t)(o->id + 1);
	mut_end(t, &m);
}

static void op_exchange(struct thr *t, struct obj *o)
{
	char p[PATHMAX], name[DC_NAME_MAX + 1], pp[PATHMAX];
	struct obj *x = pick_target(t, o, false);
	uint64_t oloc = ld(&o->loc), xloc;
	struct mut m = {.n = 0};

	if (!x)
		return;
	xloc = ld(&x->loc);
	obj_path(o, p, name);
	loc_parent_path(o, oloc, pp);
	mut_add(&m, o);
	mut_add(&m, x);
	mut_begin(&m);
	pthread_rwlock_wrlock(&name_lock[o->owner]);
	do_rename(t, o, oloc, p, name, pp, xloc, DC_RENAME_EXCHANGE);
	pthread_rwlock_unlock(&name_lock[o->owner]);
	st(&o->prevloc, oloc);
	st(&o->loc, xloc);
	st(&x->prevloc, xloc);
	st(&x->loc, oloc);
	*occ_of(o, oloc) = (uint16_t)(x->id + 1);
	*occ_of(o, xloc) = (uint16_t)(o->id + 1);
	mut_end(t, &m);
}

static void op_unlink(struct thr *t, struct obj *o)
{
	char p[PATHMAX], name[DC_NAME_MAX + 1], pp[PATHMAX];
	uint64_t loc = ld(&o->loc), pnid;
	struct mut m = {.n = 0};
	bool kref;
	int rc;

	if (o->type == OT_DIR)
		return;
	obj_path(o, p, name);
	loc_parent_path(o, loc, pp);
	mut_add(&m, o);
	mut_begin(&m);
	hist(t, "unlink %s (object %u)", p, o->id);
	/* -x: as a handler removing the last link does (dcache.h) */
	if (opt_expire)
		dcache_forget_key(dc, MB_DEV, ld(&o->ino));
	xmb(mb_unlink(mb, p), "unlink", p);
	jitter(t);
	pnid = resolve(t, pp, &kref);
	rc = dcache_remove(dc, pnid, name);
	check_dc(t, rc, kref, true, "dcache_remove", p);
	unresolve(t, pnid, kref);
	st(&o->alive, 0);
	*occ_of(o, loc) = 0;
	mut_end(t, &m);
}

/* Create a dead object anew in tmp<u>, then rename it into a free place. */
static void op_recreate(struct thr *t, struct obj *o)
{
	char tp[PATHMAX], tname[32], tdir[32], target[LINKMAX];
	uint64_t oldloc = ld(&o->loc), newloc, tnid, k = ld(&o->k) + 1;
	uint64_t kl = ld(&o->kl) + 1;
	struct mut m = {.n = 0};
	struct dc_attr a;
	bool kref;
	int rc;

	snprintf(tdir, sizeof(tdir), "tmp%u", o->owner);
	snprintf(tname, sizeof(tname), "n%u", o->id);
	snprintf(tp, sizeof(tp), "%s/%s", tdir, tname);
	mut_add(&m, o);
	mut_begin(&m);
	if (o->type == OT_LINK) {
		link_make(target, sizeof(target), (uint64_t)kenc(kl, o->id));
		xmb(mb_symlink(mb, tp, target, &a), "symlink", tp);
	} else {
		xmb(mb_create(mb, tp, S_IFREG | 0644, &a), "create", tp);
		attr_fill(&a, kenc(k, o->id));
		xmb(mb_setattr(mb, tp, &a), "setattr", tp);
		xmb(mb_stat(mb, tp, &a), "stat", tp);
	}
	tnid = resolve(t, tdir, &kref);
	if (rndn(t, 2)) {
		rc = dcache_instantiate(dc, tnid, tname, &a,
					o->type == OT_LINK ? target : NULL, 0,
					NULL);
		check_dc(t, rc, kref, false, "dcache_instantiate", tp);
	}
	unresolve(t, tnid, kref);
	newloc = *occ_of(o, oldloc) || rndn(t, 2) ? free_loc(t, o) : oldloc;
	st(&o->loc, newloc); /* readers retry until mut_end */
	do_rename(t, o, 0, tp, tname, tdir, newloc, DC_RENAME_NOREPLACE);
	st(&o->ino, a.ino);
	st(&o->k, k);
	st(&o->kl, kl);
	st(&o->prevloc, newloc == oldloc ? 0 : oldloc);
	st(&o->alive, 1);
	*occ_of(o, newloc) = (uint16_t)(o->id + 1);
	mut_end(t, &m);
}

static void op_setattr(struct thr *t, struct obj *o)
{
	char p[PATHMAX], name[DC_NAME_MAX + 1];
	uint64_t k = ld(&o->k) + 1, nid;
	struct mut m = {.n = 0};
	struct dc_attr a;
	bool kref;
	int rc;

	if (o->type == OT_LINK)
		return;
	obj_path(o, p, name);
	mut_add(&m, o);
	mut_begin(&m);
	xmb(mb_stat(mb, p, &a), "stat", p);
	attr_fill(&a, kenc(k, o->id));
	xmb(mb_setattr(mb, p, &a), "setattr", p);
	xmb(mb_stat(mb, p, &a), "stat", p);
	jitter(t);
	nid = resolve(t, p, &kref);
	rc = dcache_setattr(dc, nid, &a);
	check_dc(t, rc, kref, false, "dcache_setattr", p);
	unresolve(t, nid, kref);
	st(&o->k, k);
	mut_end(t, &m);
}

static void op_set_link(struct thr *t, struct obj *o)
{
	char p[PATHMAX], name[DC_NAME_MAX + 1], target[LINKMAX];
	uint64_t kl = ld(&o->kl) + 1, nid;
	struct mut m = {.n = 0};
	size_t len;
	bool kref;
	int rc;

	if (o->type != OT_LINK)
		return;
	obj_path(o, p, name);
	len = link_make(target, sizeof(target), (uint64_t)kenc(kl, o->id));
	mut_add(&m, o);
	mut_begin(&m);
	xmb(mb_set_link(mb, p, target), "set_link", p);
	jitter(t);
	nid = resolve(t, p, &kref);
	rc = dcache_set_link(dc, nid, target, len);
	check_dc(t, rc, kref, false, "dcache_set_link", p);
	unresolve(t, nid, kref);
	st(&o->kl, kl);
	mut_end(t, &m);
}

/* Invalidations change no truth: no version bump. */
static void op_inval(struct thr *t, struct obj *o)
{
	char p[PATHMAX], name[DC_NAME_MAX + 1], pp[PATHMAX];
	uint64_t nid;
	bool kref;
	int rc;

	switch (rndn(t, 3)) {
	case 0: /* a static directory and all below it */
		snprintf(pp, sizeof(pp), "d%u", rndn(t, NTOP));
		snprintf(name, sizeof(name), "s%u", rndn(t, NSUB));
		break;
	case 1:
		if (o->type == OT_LINK || !ld(&o->alive))
			return;
		obj_path(o, p, name);
		nid = resolve(t, p, &kref);
		rc = dcache_inval_inode(dc, nid, DC_INVAL_ATTR | DC_INVAL_LINK,
					DC_SRC_USER);
		check_dc(t, rc, kref, false, "dcache_inval_inode", p);
		unresolve(t, nid, kref);
		return;
	default:
		obj_path(o, p, name);
		loc_parent_path(o, ld(&o->loc), pp);
		break;
	}
	nid = resolve(t, pp, &kref);
	rc = dcache_inval_entry(dc, nid, name, DC_SRC_USER);
	check_dc(t, rc, kref, true, "dcache_inval_entry", name);
	unresolve(t, nid, kref);
}

/*
 * -x: a removal that failed after dcache_forget_key (the object lives on):
 * the handler puts the key back with dcache_rekey.  Changes no truth.
 */
static void op_forget_rekey(struct thr *t, struct obj *o)
{
	uint64_t id;

	if (!ld(&o->alive))
		return;
	id = dcache_forget_key(dc, MB_DEV, ld(&o->ino));
	hist(t, "forget_key(object %u, ino %" PRIu64 "): %" PRIu64 ", rekey",
	     o->id, ld(&o->ino), id);
	jitter(t);
	dcache_rekey(dc, id);
}

static void updater_once(struct thr *t)
{
	unsigned u = opt_shared ? rndn(t, opt_updaters) : t->id;
	struct obj *o = &objs[u * NOBJ + rndn(t, NOBJ)];
	unsigned r = rndn(t, 100);
	bool lock = opt_shared;

	if (r >= 92 && (!opt_expire || rndn(t, 2))) {
		hist(t, "shrink: %zu", dcache_shrink(dc, 1 + rndn(t, 500)));
		return;
	}
	if (r >= 92 && rndn(t, 2)) {
		/* what the watcher does when it lost events */
		hist(t, "expire_all");
		dcache_expire_all(dc, DC_SRC_WATCH);
		return;
	}
	if (lock)
		pthread_rwlock_wrlock(&owners[u].lock);
	if (!ld(&o->alive))
		op_recreate(t, o);
	else if (r >= 92)
		op_forget_rekey(t, o);
	else if (r < 20)
		op_rename_free(t, o);
	else if (r < 28)
		op_rename_over(t, o);
	else if (r < 36)
		op_exchange(t, o);
	else if (r < 42)
		op_unlink(t, o);
	else if (r < 62)
		op_setattr(t, o);
	else if (r < 80)
		op_set_link(t, o);
	else
		op_inval(t, o);
	if (lock)
		pthread_rwlock_unlock(&owners[u].lock);
}

/* ---- readers ----------------------------------------------------------- */

static void stale_or_mismatch(struct thr *t, const struct snap *s, uint64_t got,
			      uint64_t want, const char *what, const char *how)
{
	fail(t, got < want ? V_STALE : V_MISMATCH,
	     "%s %s \"%s\" (object %u, %s, owner %u, ino %" PRIu64
	     "): %s version %" PRIu64 ", completed before the read %" PRIu64,
	     how, otype_name[s->o->type], s->path, s->o->id,
	     s->alive ? "alive" : "dead", s->o->owner, s->ino, what, got, want);
}

/*
 * Check attributes @a found for snapshot @s.  @q: the object was quiescent
 * during the read.
 */
static void check_attr(struct thr *t, const struct snap *s, bool q,
		       const struct dc_attr *a, const char *how)
{
	int64_t K;
	unsigned id;

	t->c.checks++;
	if (a->dev != MB_DEV)
		goto torn;
	if (S_ISLNK(a->mode)) {
		if (q && (s->o->type != OT_LINK || a->ino != s->ino))
			goto wrong;
		if (a->ino == s->ino && s->o->type != OT_LINK)
			goto wrong;
		return;
	}
	if (!attr_decode(a, &K))
		goto torn;
	id = (unsigned)(K % KMUL);
	if (q && (a->ino != s->ino || id != s->o->id ||
		  (S_ISDIR(a->mode) != (s->o->type == OT_DIR))))
		goto wrong;
	if (a->ino != s->ino)
		return;
	if (id != s->o->id)
		goto wrong;
	if ((uint64_t)K / KMUL < s->k || (q && (uint64_t)K / KMUL != s->k))
		stale_or_mismatch(t, s, (uint64_t)K / KMUL, s->k, "attribute",
				  how);
	return;
torn:
	pthread_mutex_lock(&fail_lock);
	fprintf(stderr, "torture: torn attributes (%s \"%s\"):\n", how,
		s->path);
	print_attr("got", a);
	pthread_mutex_unlock(&fail_lock);
	fail(t, V_TORN, "%s \"%s\" object %u: fields disagree (see above)", how,
	     s->path, s->o->id);
wrong:
	pthread_mutex_lock(&fail_lock);
	fprintf(stderr, "torture: wrong object (%s \"%s\"):\n", how, s->path);
	print_attr("got", a);
	pthread_mutex_unlock(&fail_lock);
	fail(t, V_MISMATCH,
	     "%s \"%s\" (%s): expected %s object %u ino %" PRIu64
	     " version %" PRIu64 ", got ino %" PRIu64 "%s",
	     how, s->path, q ? "quiescent" : "moving", otype_name[s->o->type],
	     s->o->id, s->ino, s->k, a->ino,
	     S_ISLNK(a->mode) ? " (a symlink)" : "");
}

/* Check a link copy: @buf (@size bytes) of a @len-byte target. */
static void check_link(struct thr *t, const struct snap *s, bool q, bool is_obj,
		       const char *buf, size_t size, size_t len,
		       const char *how)
{
	uint64_t KL;

	t->c.checks++;
	if (!link_decode(buf, size, len, &KL))
		fail(t, V_TORN,
		     "%s \"%s\" object %u: link target inconsistent: len %zu, "
		     "buffer %zu: \"%.*s\"",
		     how, s->path, s->o->id, len, size,
		     (int)(len < size ? len : size), buf);
	if (!KL)
		return;
	if (q && KL % KMUL != s->o->id)
		fail(t, V_MISMATCH,
		     "%s \"%s\": link target of object %" PRIu64
		     ", expected object %u",
		     how, s->path, KL % KMUL, s->o->id);
	if (!is_obj && !q)
		return;
	if (KL % KMUL != s->o->id)
		fail(t, V_MISMATCH,
		     "%s \"%s\": link target of object %" PRIu64
		     " on object %u's inode",
		     how, s->path, KL % KMUL, s->o->id);
	if (KL / KMUL < s->kl || (q && KL / KMUL != s->kl))
		stale_or_mismatch(t, s, KL / KMUL, s->kl, "link", how);
}

static void check_dentry(struct thr *t, const struct snap *s, bool q,
			 struct dentry *d, const char *path, const char *name,
			 bool positive)
{
	char nbuf[DC_NAME_MAX + 1], pbuf[PATHMAX];
	bool negative;
	size_t nlen;
	ssize_t plen;

	t->c.checks++;
	memset(nbuf, 0x7f, sizeof(nbuf));
	nlen = dentry_name_copy(d, nbuf);
	negative = dentry_is_negative(d);
	plen = positive ? dentry_path(d, pbuf, sizeof(pbuf)) : 0;
	/*
	 * Quiescence must cover these reads too: the dentry moves with its
	 * object (or turns negative) when a mutation follows the lookup.
	 */
	q = q && snap_still(s);
	if (nlen == 0 || nlen > DC_NAME_MAX || strlen(nbuf) != nlen)
		fail(t, V_TORN, "dentry_name_copy for \"%s\": len %zu", path,
		     nlen);
	if (q && strcmp(nbuf, name) != 0)
		fail(t, V_MISMATCH,
		     "dentry found under \"%s\" is named \"%s\" (object %u "
		     "quiescent)",
		     path, nbuf, s->o->id);
	if (!positive)
		return;
	if (q && negative)
		fail(t, V_MISMATCH,
		     "dentry of \"%s\" turned negative (object "
		     "%u quiescent)",
		     path, s->o->id);
	if (plen == -ENOENT)
		return; /* unhashed by an invalidation since */
	if (plen < 0 || (size_t)plen != strlen(pbuf))
		fail(t, V_MISMATCH, "dentry_path for \"%s\": %zd", path, plen);
	if (q && strcmp(pbuf, path) != 0)
		fail(t, V_MISMATCH,
		     "dentry found under \"%s\" has path \"%s\" (object %u "
		     "quiescent)",
		     path, pbuf, s->o->id);
}

static unsigned walk_flags(struct thr *t, bool link)
{
	unsigned f = link ? DC_WANT_LINK : DC_WANT_ATTR;

	if (link && rndn(t, 2))
		f |= DC_WANT_ATTR;
	if (rndn(t, 25) == 0)
		f |= DC_FORCE_REF;
	else if (rndn(t, 2))
		f |= DC_CACHED;
	if (rndn(t, 4) == 0)
		f |= DC_WANT_DENTRY;
	if (rndn(t, 8) == 0)
		f |= DC_WANT_KREF;
	return f;
}

/*
 * Look @path up by walk, or by dcache_lookup in its parent (resolved by a
 * walk without reference: -ESTALE is then possible).
 */
static int look(struct thr *t, const char *path, unsigned flags,
		struct dc_result *res, bool *by_lookup)
{
	char pp[PATHMAX];
	const char *slash = strrchr(path, '/');
	struct dc_result pr = {0};
	int rc;

	*by_lookup = false;
	t->c.reads++;
	if (rndn(t, 6) || !slash)
		return dcache_walk(dc, path, flags, res);
	*by_lookup = true;
	snprintf(pp, sizeof(pp), "%.*s", (int)(slash - path), path);
	rc = dcache_walk(dc, pp, flags & DC_CACHED, &pr);
	if (rc)
		return rc;
	jitter(t);
	return dcache_lookup(dc, pr.nodeid, slash + 1, flags, res);
}

/* look() of a path of owner @owner's names, under its name lock. */
static int look_owned(struct thr *t, unsigned owner, const char *path,
		      unsigned flags, struct dc_result *res, bool *by_lookup)
{
	int rc;

	pthread_rwlock_rdlock(&name_lock[owner]);
	rc = look(t, path, flags, res, by_lookup);
	pthread_rwlock_unlock(&name_lock[owner]);
	return rc;
}

/* An error answer for an object that must be found when quiescent. */
static void check_err(struct thr *t, const struct snap *s, bool q, int rc,
		      unsigned flags, bool by_lookup, bool must_exist,
		      const char *path)
{
	if (rc == -EAGAIN && (flags & DC_CACHED)) {
		t->c.eagain++;
		return;
	}
	if (rc == -ESTALE && by_lookup) {
		t->c.estale++;
		return;
	}
	/*
	 * -ESTALE from a walk: the object changed under the slow path (its
	 * dentry turned negative or the name got another object while the
	 * backend was asked), which dcache.h allows; only when moving.
	 */
	if ((rc == -ENOENT || rc == -ENOTDIR || rc == -EINVAL ||
	     rc == -ESTALE) &&
	    !q) {
		t->c.unsettled++;
		return;
	}
	if (rc == -ENOENT && !must_exist)
		return;
	fail(t, V_MISMATCH,
	     "%s \"%s\" (flags %#x, %s, object %u %s ino %" PRIu64
	     "): rc %d (%s)",
	     by_lookup ? "lookup" : "walk", path, flags,
	     q ? "quiescent" : "moving", s->o->id, otype_name[s->o->type],
	     s->ino, rc, strerror(-rc));
}

static void read_nodeid(struct thr *t, const struct snap *s, bool q,
			uint64_t nodeid, bool kref, bool have_attr,
			const struct dc_attr *wa)
{
	bool is_obj = have_attr ? wa->ino == s->ino : q;
	bool is_link =
		have_attr ? S_ISLNK(wa->mode) : q && s->o->type == OT_LINK;
	unsigned flags = rndn(t, 2) ? DC_CACHED : 0;
	char buf[LINKMAX];
	struct dc_attr a;
	size_t size;
	ssize_t n;
	int rc;

	if (rndn(t, 2)) {
		t->c.reads++;
		rc = dcache_getattr(dc, nodeid, flags, &a);
		q = q && snap_still(s);
		if (rc == 0) {
			if (have_attr && a.ino != wa->ino)
				fail(t, V_MISMATCH,
				     "getattr(nodeid %" PRIu64 ") of \"%s\": "
				     "ino %" PRIu64 ", the walk said %" PRIu64,
				     nodeid, s->path, a.ino, wa->ino);
			check_attr(t, s, q, &a, "getattr of");
		} else if (rc == -EAGAIN && (flags & DC_CACHED)) {
			t->c.eagain++;
		} else if (rc == -ESTALE) {
			t->c.estale++;
			t->c.estale_kref += kref;
		} else if (rc == -ENOENT && !q) {
			t->c.unsettled++;
		} else {
			fail(t, V_MISMATCH,
			     "getattr(nodeid %" PRIu64 ", %#x) of \"%s\" "
			     "(%s, kref %d): rc %d",
			     nodeid, flags, s->path, q ? "quiescent" : "moving",
			     kref, rc);
		}
	}
	if (!is_link || rndn(t, 2))
		return;
	size = rndn(t, 4) ? LINKMAX : 16 + rndn(t, 48);
	t->c.reads++;
	n = dcache_readlink(dc, nodeid, flags, buf, size);
	q = q && snap_still(s);
	if (n >= 0)
		check_link(t, s, q, is_obj, buf, size, (size_t)n,
			   "readlink of");
	else if (n == -EAGAIN && (flags & DC_CACHED))
		t->c.eagain++;
	else if (n == -ESTALE) {
		t->c.estale++;
		t->c.estale_kref += kref;
	} else if (n == -ENOENT && !q)
		t->c.unsettled++;
	else
		fail(t, V_MISMATCH,
		     "readlink(nodeid %" PRIu64 ", %#x) of \"%s\" "
		     "(%s, kref %d): rc %zd",
		     nodeid, flags, s->path, q ? "quiescent" : "moving", kref,
		     n);
}

/* The object is alive at s->path. */
static void read_live(struct thr *t, const struct snap *s)
{
	bool link = s->o->type == OT_LINK, by_lookup, q;
	unsigned flags = walk_flags(t, link);
	struct dc_result res = {0};
	char buf[LINKMAX];
	int rc;

	res.link = buf;
	res.link_size = rndn(t, 4) ? LINKMAX : 16 + rndn(t, 48);
	jitter(t);
	rc = look_owned(t, s->o->owner, s->path, flags, &res, &by_lookup);
	q = snap_still(s);
	if (rc) {
		check_err(t, s, q, rc, flags, by_lookup, true, s->path);
		goto out;
	}
	if (!res.nodeid)
		fail(t, V_MISMATCH, "walk \"%s\": rc 0 but nodeid 0", s->path);
	if (flags & DC_WANT_ATTR)
		check_attr(t, s, q, &res.attr,
			   by_lookup ? "lookup of" : "walk of");
	if ((flags & DC_WANT_LINK) &&
	    ((flags & DC_WANT_ATTR) ? S_ISLNK(res.attr.mode) : q))
		check_link(t, s, q,
			   (flags & DC_WANT_ATTR) ? res.attr.ino == s->ino : q,
			   buf, res.link_size, res.link_len,
			   by_lookup ? "lookup of" : "walk of");
	else if ((flags & DC_WANT_LINK) && res.link_len)
		check_link(t, s, false, false, buf, res.link_size, res.link_len,
			   by_lookup ? "lookup of" : "walk of");
	if (flags & DC_WANT_DENTRY) {
		if (!res.dentry)
			fail(t, V_MISMATCH, "walk \"%s\" DC_WANT_DENTRY: NULL",
			     s->path);
		check_dentry(t, s, q, res.dentry, s->path, s->name, true);
	}
	jitter(t);
	read_nodeid(t, s, q, res.nodeid, flags & DC_WANT_KREF,
		    flags & DC_WANT_ATTR, &res.attr);
	if (flags & DC_WANT_KREF) {
		rc = dcache_forget(dc, res.nodeid, 1);
		if (rc)
			fail(t, V_MISMATCH,
			     "dcache_forget(%" PRIu64 ", 1) after a "
			     "DC_WANT_KREF walk of \"%s\": rc %d",
			     res.nodeid, s->path, rc);
	}
out:
	dentry_put(res.dentry);
}

/*
 * @path must not name the object's inode s->ino: it is dead (always), or
 * it moved away from there (when quiescent).
 */
static void read_gone(struct thr *t, const struct snap *s, const char *path,
		      const char *name, bool dead)
{
	unsigned flags = DC_WANT_ATTR | (rndn(t, 2) ? DC_CACHED : 0) |
			 (rndn(t, 4) ? 0 : DC_WANT_DENTRY);
	struct dc_result res = {0};
	bool by_lookup, q;
	int rc;

	jitter(t);
	rc = look_owned(t, s->o->owner, path, flags, &res, &by_lookup);
	q = snap_still(s);
	if (rc == 0) {
		t->c.checks++;
		if (res.attr.ino == s->ino && (dead || q))
			fail(t, V_STALE,
			     "%s \"%s\" found %s object %u (ino %" PRIu64
			     ", nodeid %" PRIu64 ") %s",
			     by_lookup ? "lookup" : "walk", path,
			     otype_name[s->o->type], s->o->id, s->ino,
			     res.nodeid,
			     dead ? "after it was removed"
				  : "after it was renamed away");
		if (!S_ISLNK(res.attr.mode)) {
			int64_t K;

			if (!attr_decode(&res.attr, &K)) {
				print_attr("got", &res.attr);
				fail(t, V_TORN, "walk \"%s\": fields disagree",
				     path);
			}
		}
	} else if (rc == -EAGAIN && (flags & DC_CACHED)) {
		t->c.eagain++;
	} else if (rc == -ESTALE && by_lookup) {
		t->c.estale++;
	} else if (rc == -ESTALE || rc == -ENOTDIR) {
		/*
		 * The snapshot does not cover @path: its slot is free and
		 * another object of the owner may be moving through it (or
		 * its parent slot), whatever q says.  This check guards that
		 * the old inode is never found there; an error is no hit.
		 */
		t->c.unsettled++;
	} else if (rc != -ENOENT) {
		fail(t, V_MISMATCH, "walk \"%s\" (gone %s): rc %d", path,
		     dead ? "dead" : "moved", rc);
	}
	/*
	 * Sanity only: the dentry found there may belong to another object
	 * (or turn positive and move) since the read.
	 */
	if (res.dentry)
		check_dentry(t, s, false, res.dentry, path, name, false);
	dentry_put(res.dentry);
}

static void read_filler(struct thr *t)
{
	unsigned f = rndn(t, NFILLER), flags = DC_WANT_ATTR;
	struct dc_result res = {0};
	char p[PATHMAX];
	int64_t K;
	int rc;

	if (rndn(t, 2))
		flags |= DC_CACHED;
	snprintf(p, sizeof(p), "%s/f%03u", sdir_path[1 + NTOP + f / NFILL],
		 f % NFILL);
	t->c.reads++;
	rc = dcache_walk(dc, p, flags, &res);
	if (rc == -EAGAIN && (flags & DC_CACHED)) {
		t->c.eagain++;
		return;
	}
	t->c.checks++;
	if (rc)
		fail(t, V_MISMATCH, "walk of static \"%s\" (%#x): rc %d", p,
		     flags, rc);
	if (!attr_decode(&res.attr, &K)) {
		print_attr("got", &res.attr);
		fail(t, V_TORN, "static \"%s\": fields disagree", p);
	}
	if (res.attr.ino != filler_ino[f] || K != kenc(f + 1, FILLER_ID)) {
		print_attr("got", &res.attr);
		fail(t, V_MISMATCH,
		     "static \"%s\": expected ino %" PRIu64 " K %" PRId64, p,
		     filler_ino[f], kenc(f + 1, FILLER_ID));
	}
}

static void reader_once(struct thr *t)
{
	struct obj *o;
	struct snap s;

	if (rndn(t, 10) == 0) {
		read_filler(t);
		return;
	}
	o = &objs[rndn(t, opt_updaters) * NOBJ + rndn(t, NOBJ)];
	if (!snap_take(t, &s, o))
		return;
	if (!s.alive)
		read_gone(t, &s, s.path, s.name, true);
	else if (s.prev[0] && rndn(t, 5) == 0)
		read_gone(t, &s, s.prev, s.prevname, false);
	else
		read_live(t, &s);
}

/* ---- -a: the alias racers ---------------------------------------------- */

/*
 * The names race/r<i> always exist in the backend with fixed attributes.
 * Racer 0 instantiates them and looks them up (revalidating with -t);
 * racer 1 tells the dcache they were removed.  Nothing is stale here (the
 * removals are of names that exist): what counts is that no answer is
 * torn or another object's, and that the cache_debug assertions (alias
 * list of a dying inode) and the sanitizers stay quiet.
 */
static uint64_t race_nid;

static void race_look(struct thr *t, unsigned i)
{
	unsigned flags = DC_WANT_ATTR | (rndn(t, 2) ? DC_CACHED : 0) |
			 (rndn(t, 4) ? 0 : DC_WANT_KREF);
	struct dc_result res = {0};
	char p[32];
	int64_t K;
	int rc;

	snprintf(p, sizeof(p), "race/r%u", i);
	t->c.reads++;
	rc = dcache_walk(dc, p, flags, &res);
	if (rc == -ENOENT || (rc == -EAGAIN && (flags & DC_CACHED)) ||
	    rc == -ESTALE) {
		t->c.unsettled++;
		return;
	}
	t->c.checks++;
	if (rc)
		fail(t, V_MISMATCH, "racer walk \"%s\" (%#x): rc %d", p, flags,
		     rc);
	if (!attr_decode(&res.attr, &K) || res.attr.ino != race_ino[i] ||
	    K != race_attr[i].size) {
		print_attr("got", &res.attr);
		fail(t, V_MISMATCH, "racer walk \"%s\": wrong attributes", p);
	}
	if ((flags & DC_WANT_KREF) && dcache_forget(dc, res.nodeid, 1))
		fail(t, V_MISMATCH, "racer forget of \"%s\"", p);
}

static void racer_once(struct thr *t)
{
	unsigned i = rndn(t, NRACE);
	char name[8];
	int rc;

	snprintf(name, sizeof(name), "r%u", i);
	jitter(t);
	if (t->id == 1) {
		rc = dcache_remove(dc, race_nid, name);
		if (rc && rc != -ENOENT)
			fail(t, V_MISMATCH, "racer remove %s: rc %d", name, rc);
		t->c.updates++;
	} else if (rndn(t, 2)) {
		rc = dcache_instantiate(dc, race_nid, name, &race_attr[i], NULL,
					0, NULL);
		if (rc && rc != -EAGAIN)
			fail(t, V_MISMATCH, "racer instantiate %s: rc %d", name,
			     rc);
		t->c.updates++;
	} else {
		race_look(t, i);
	}
}

static void setup_race(void)
{
	char p[32];

	xmb(mb_create(mb, "race", S_IFDIR | 0755, NULL), "mkdir", "race");
	for (unsigned i = 0; i < NRACE; i++) {
		snprintf(p, sizeof(p), "race/r%u", i);
		xmb(mb_create(mb, p, S_IFREG | 0644, &race_attr[i]), "create",
		    p);
		attr_fill(&race_attr[i], kenc(i + 1, FILLER_ID - 1));
		xmb(mb_setattr(mb, p, &race_attr[i]), "setattr", p);
		xmb(mb_stat(mb, p, &race_attr[i]), "stat", p);
		race_ino[i] = race_attr[i].ino;
	}
}

/* ---- threads and main ------------------------------------------------- */

static pthread_barrier_t barrier;

static void *updater_main(void *arg)
{
	struct thr *t = arg;

	dcache_thread_enter();
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		updater_once(t);
		jitter(t);
	}
	dcache_thread_exit();
	return NULL;
}

static void *racer_main(void *arg)
{
	struct thr *t = arg;

	dcache_thread_enter();
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		racer_once(t);
	dcache_thread_exit();
	return NULL;
}

static void *reader_main(void *arg)
{
	struct thr *t = arg;

	dcache_thread_enter();
	pthread_barrier_wait(&barrier);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		reader_once(t);
	dcache_thread_exit();
	return NULL;
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-s seconds] [-r readers] [-u updaters] [-S seed] "
		"[-y] [-t] [-n] [-x] [-a]\n",
		prog);
	exit(2);
}

static unsigned parse_uint(const char *s, const char *prog)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == '\0' || *end != '\0' || v > 1000000)
		usage(prog);
	return (unsigned)v;
}

int main(int argc, char **argv)
{
	struct dcache_config cfg = {0};
	struct dcache_stats ds;
	struct counters sum = {0};
	unsigned nthr, i;
	struct thr *thr;
	int c, rc;

	opt_seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	while ((c = getopt(argc, argv, "s:r:u:S:ytnxah")) != -1) {
		switch (c) {
		case 's':
			opt_seconds = parse_uint(optarg, argv[0]);
			break;
		case 'r':
			opt_readers = parse_uint(optarg, argv[0]);
			break;
		case 'u':
			opt_updaters = parse_uint(optarg, argv[0]);
			break;
		case 'S':
			opt_seed = strtoull(optarg, NULL, 0);
			break;
		case 'y':
			opt_yield = true;
			break;
		case 't':
			opt_ttl0 = true;
			break;
		case 'n':
			opt_shared = true;
			break;
		case 'x':
			opt_expire = true;
			break;
		case 'a':
			opt_alias = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc || opt_updaters < 1 || opt_updaters > MAXUPD)
		usage(argv[0]);
	printf("torture: seed %" PRIu64
	       ", %u s, %u readers, %u updaters%s%s%s%s%s\n",
	       opt_seed, opt_seconds, opt_readers, opt_updaters,
	       opt_yield ? ", yields" : "", opt_ttl0 ? ", TTLs 0" : "",
	       opt_shared ? ", shared names" : "",
	       opt_expire ? ", expire/forget_key/rekey" : "",
	       opt_alias ? ", alias racers" : "");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t_start);

	nthr = opt_readers + opt_updaters + (opt_alias ? NRACER : 0);
	thr = calloc(nthr, sizeof(*thr));
	if (!thr)
		return 1;
	threads = thr;
	for (i = 0; i < nthr; i++) {
		thr[i].rng = opt_seed * 0x9e3779b97f4a7c15ull + i + 1;
		thr[i].rng |= 1;
		rnd(&thr[i]);
		if (i < opt_updaters) {
			thr[i].id = i;
			snprintf(thr[i].name, sizeof(thr[i].name), "updater%u",
				 i);
		} else if (i < opt_updaters + opt_readers) {
			snprintf(thr[i].name, sizeof(thr[i].name), "reader%u",
				 i - opt_updaters);
		} else {
			thr[i].id = i - opt_updaters - opt_readers;
			snprintf(thr[i].name, sizeof(thr[i].name), "racer%u",
				 thr[i].id);
		}
	}

	dcache_thread_enter();
	mb = mb_new();
	if (!mb)
		fail(NULL, V_SETUP, "mb_new failed");
	setup_tree();
	for (i = 0; i < opt_updaters; i++)
		setup_updater(&thr[i]);
	if (opt_alias)
		setup_race();
	cfg.ops = mb_ops();
	cfg.backend = mb;
	mb_root_attr(mb, &cfg.root_attr);
	cfg.entry_ttl_ns = opt_ttl0 ? 0 : DC_TTL_FOREVER;
	cfg.neg_ttl_ns = opt_ttl0 ? 0 : DC_TTL_FOREVER;
	cfg.attr_ttl_ns = opt_ttl0 ? 0 : DC_TTL_FOREVER;
	cfg.max_entries = 2000;
	cfg.max_pending_frees = 4096;
	cfg.shrinker_thread = true;
	rc = dcache_new(&cfg, &dc);
	if (rc)
		fail(NULL, V_SETUP, "dcache_new: %d", rc);

	{
		pthread_rwlockattr_t ra;

		/* writers first: readers come back all the time */
		pthread_rwlockattr_init(&ra);
		pthread_rwlockattr_setkind_np(
			&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		for (i = 0; i < MAXUPD; i++) {
			pthread_rwlock_init(&name_lock[i], &ra);
			pthread_rwlock_init(&owners[i].lock, &ra);
		}
		pthread_rwlockattr_destroy(&ra);
	}
	if (opt_alias) {
		/* held for the whole run, as the kernel holds the directory */
		struct dc_result res = {0};

		rc = dcache_walk(dc, "race", DC_WANT_KREF, &res);
		if (rc)
			fail(NULL, V_SETUP, "walk race: %d", rc);
		race_nid = res.nodeid;
	}
	pthread_barrier_init(&barrier, NULL, nthr + 1);
	for (i = 0; i < nthr; i++) {
		rc = pthread_create(&thr[i].tid, NULL,
				    i < opt_updaters ? updater_main
				    : i < opt_updaters + opt_readers
					    ? reader_main
					    : racer_main,
				    &thr[i]);
		if (rc)
			fail(NULL, V_SETUP, "pthread_create: %s", strerror(rc));
	}
	clock_gettime(CLOCK_MONOTONIC,
		      &t_start); /* before the threads read it */
	pthread_barrier_wait(&barrier);
	for (unsigned ms = 0; ms < opt_seconds * 1000; ms += 100) {
		struct timespec ts = {0, 100 * 1000 * 1000};

		nanosleep(&ts, NULL);
		if (opt_yield) /* slow backend calls widen miss windows */
			mb_set_delay(mb, (ms / 100) % 4 == 1 ? 1 + ms % 20 : 0);
	}
	mb_set_delay(mb, 0);
	__atomic_store_n(&stop, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < nthr; i++) {
		pthread_join(thr[i].tid, NULL);
		sum.reads += thr[i].c.reads;
		sum.checks += thr[i].c.checks;
		sum.updates += thr[i].c.updates;
		sum.eagain += thr[i].c.eagain;
		sum.estale += thr[i].c.estale;
		sum.unsettled += thr[i].c.unsettled;
		sum.estale_kref += thr[i].c.estale_kref;
	}
	if (race_nid && dcache_forget(dc, race_nid, 1))
		fail(NULL, V_MISMATCH, "forget of race");
	dcache_stats(dc, &ds);
	printf("torture: %.1fs seed %" PRIu64 ": reads %" PRIu64
	       " checks %" PRIu64 " updates %" PRIu64 " evictions %" PRIu64
	       " eagain %" PRIu64 " estale %" PRIu64 " (kref %" PRIu64
	       ") moving %" PRIu64 " barriers %" PRIu64 " resizes %" PRIu64
	       " stale=0 torn=0 mismatches=0\n",
	       elapsed(), opt_seed, sum.reads, sum.checks, sum.updates,
	       ds.evictions, sum.eagain, sum.estale, sum.estale_kref,
	       sum.unsettled, ds.rcu_barriers, ds.table_resizes);
	dcache_free(dc);
	mb_free(mb);
	dcache_thread_exit();
	threads = NULL;
	free(thr);
	return 0;
}
