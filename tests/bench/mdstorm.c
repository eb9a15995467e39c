// SPDX-License-Identifier: MIT
/*
 * mdstorm - metadata storms and walks over the benchmark tree of
 * scripts/bench, for any directory (native, rcufs, a peer, nullfs).
 *
 * The tree has three directory levels of FANOUT entries each, named
 * d0..d<F-1>, and in every leaf directory FILES regular files f00..f<P-1>
 * and LINKS symlinks l00..l<L-1> (lNN -> fNN).  This is also the shape
 * nullfs serves synthetically.
 *
 *   mdstorm create ROOT F P L          create the tree under ROOT
 *   mdstorm storm  ROOT F P L MODE THREADS SECONDS
 *   mdstorm walk   ROOT                getdents + lstat of every entry
 *
 * MODE: lstat (every file by full path), hot (one path), access
 * (access(R_OK) by full path), readlink (every symlink by full path),
 * negative (lstat of names missing from the leaf directories).  Each of
 * THREADS threads loops over the paths (from a different starting offset)
 * until SECONDS have passed; SECONDS = 0 makes each thread do one pass over
 * its share of the paths instead (the warm-up of scripts/bench).
 *
 * Output: one line "ops=N secs=S rate=R errors=E errno=NAME" (errno of the
 * first unexpected result, or "-").  Exit 0 when errors == 0, 1 when any
 * operation gave an unexpected result, 2 on bad usage.
 *
 * Called from: main thread only, except storm_thread (one per client).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum mode { M_LSTAT, M_HOT, M_ACCESS, M_READLINK, M_NEGATIVE };

static const char *const mode_names[] = {"lstat", "hot", "access", "readlink",
					 "negative"};

/* Set once by main before the threads start; read-only afterwards. */
static char **paths;
static size_t npaths;
static enum mode mode;
static int once;

/* Written by main, read by the threads (relaxed: only a stop flag). */
static atomic_int stop;

struct client {
	pthread_t tid;
	size_t start, end;	/* end: one pass stops there (once) */
	unsigned long long ops; /* written by its thread, read after join */
	unsigned long long errors;
	int first_errno;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: mdstorm create ROOT F P L | storm ROOT F P L "
			"MODE THREADS SECONDS | walk ROOT\n");
	return 2;
}

static int num(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Every leaf directory path "ROOT/da/db/dc", in order, through cb. */
static int for_leaves(const char *root, long f,
		      int (*cb)(const char *leaf, void *arg), void *arg)
{
	char buf[4096];
	long a, b, c;
	int ret;

	for (a = 0; a < f; a++)
		for (b = 0; b < f; b++)
			for (c = 0; c < f; c++) {
				snprintf(buf, sizeof(buf), "%s/d%ld/d%ld/d%ld",
					 root, a, b, c);
				ret = cb(buf, arg);
				if (ret)
					return ret;
			}
	return 0;
}

static void xmkdir(const char *p)
{
	if (mkdir(p, 0755) && errno != EEXIST) {
		perror(p);
		exit(1);
	}
}

struct create_arg {
	long p, l;
};

static int create_leaf(const char *leaf, void *varg)
{
	struct create_arg *arg = varg;
	char buf[4096], tgt[32];
	long i;
	int fd;

	for (i = 0; i < arg->p; i++) {
		snprintf(buf, sizeof(buf), "%s/f%02ld", leaf, i);
		fd = open(buf, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0) {
			perror(buf);
			return 1;
		}
		close(fd);
	}
	for (i = 0; i < arg->l; i++) {
		snprintf(buf, sizeof(buf), "%s/l%02ld", leaf, i);
		snprintf(tgt, sizeof(tgt), "f%02ld", i % arg->p);
		if (symlink(tgt, buf) && errno != EEXIST) {
			perror(buf);
			return 1;
		}
	}
	return 0;
}

static int create_tree(const char *root, long f, long p, long l)
{
	struct create_arg arg = {p, l};
	char buf[4096];
	long a, b, c;

	xmkdir(root);
	for (a = 0; a < f; a++) {
		snprintf(buf, sizeof(buf), "%s/d%ld", root, a);
		xmkdir(buf);
		for (b = 0; b < f; b++) {
			snprintf(buf, sizeof(buf), "%s/d%ld/d%ld", root, a, b);
			xmkdir(buf);
			for (c = 0; c < f; c++) {
				snprintf(buf, sizeof(buf), "%s/d%ld/d%ld/d%ld",
					 root, a, b, c);
				xmkdir(buf);
			}
		}
	}
	return for_leaves(root, f, create_leaf, &arg);
}

struct paths_arg {
	long n;
	char prefix;
};

static int add_leaf_paths(const char *leaf, void *varg)
{
	struct paths_arg *arg = varg;
	char buf[4096];
	long i;

	for (i = 0; i < arg->n; i++) {
		snprintf(buf, sizeof(buf), "%s/%c%02ld", leaf, arg->prefix, i);
		paths[npaths] = strdup(buf);
		if (!paths[npaths])
			return 1;
		npaths++;
	}
	return 0;
}

/* Runs on its own thread; reads paths/mode, owns c. */
static void *storm_thread(void *varg)
{
	struct client *c = varg;
	size_t i = c->start;
	struct stat st;
	char buf[256];
	int ret, ok;

	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		const char *p = paths[i];

		if (++i == npaths)
			i = 0;
		switch (mode) {
		case M_LSTAT:
		case M_HOT:
			ret = lstat(p, &st);
			ok = ret == 0;
			break;
		case M_ACCESS:
			ret = access(p, R_OK);
			ok = ret == 0;
			break;
		case M_READLINK:
			ret = (int)readlink(p, buf, sizeof(buf));
			ok = ret > 0;
			break;
		default: /* M_NEGATIVE */
			ret = lstat(p, &st);
			ok = ret < 0 && errno == ENOENT;
			break;
		}
		c->ops++;
		if (!ok) {
			if (!c->errors++)
				c->first_errno = ret < 0 ? errno : 0;
		}
		if (once && i == c->end)
			break;
	}
	return NULL;
}

static int storm(int argc, char **argv)
{
	long f, p, l, threads, m;
	struct paths_arg pa;
	struct client *cl;
	unsigned long long ops = 0, errors = 0;
	double secs, t0, t1;
	int first_errno = -1;
	char *end;
	long i;

	if (argc != 9 || num(argv[3], 1, 255, &f) || num(argv[4], 1, 255, &p) ||
	    num(argv[5], 0, 255, &l) || num(argv[7], 1, 1024, &threads))
		return usage();
	for (m = 0; m < 5; m++)
		if (!strcmp(argv[6], mode_names[m]))
			break;
	if (m == 5)
		return usage();
	mode = (enum mode)m;
	secs = strtod(argv[8], &end);
	if (*end || secs < 0)
		return usage();
	once = secs == 0;

	paths = calloc((size_t)(f * f * f) * (size_t)(p > l ? p : l) + 1,
		       sizeof(*paths));
	if (!paths)
		return 1;
	pa.n = mode == M_READLINK ? l : p;
	pa.prefix = mode == M_READLINK ? 'l' : mode == M_NEGATIVE ? 'x' : 'f';
	if (mode == M_HOT)
		pa.n = 1;
	if (pa.n == 0) {
		fprintf(stderr, "mdstorm: no paths for mode %s\n", argv[6]);
		return 2;
	}
	if (mode == M_HOT) {
		char buf[4096];

		snprintf(buf, sizeof(buf), "%s/d0/d0/d0/f00", argv[2]);
		paths[npaths++] = strdup(buf);
	} else if (for_leaves(argv[2], f, add_leaf_paths, &pa)) {
		return 1;
	}

	cl = calloc((size_t)threads, sizeof(*cl));
	if (!cl)
		return 1;
	t0 = now();
	for (i = 0; i < threads; i++) {
		cl[i].start = npaths * (size_t)i / (size_t)threads;
		cl[i].end = npaths * (size_t)(i + 1) / (size_t)threads % npaths;
		if (pthread_create(&cl[i].tid, NULL, storm_thread, &cl[i])) {
			fprintf(stderr, "mdstorm: pthread_create failed\n");
			return 1;
		}
	}
	if (!once) {
		usleep((useconds_t)(secs * 1e6));
		atomic_store(&stop, 1);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(cl[i].tid, NULL);
		ops += cl[i].ops;
		if (cl[i].errors && first_errno < 0)
			first_errno = cl[i].first_errno;
		errors += cl[i].errors;
	}
	t1 = now();
	printf("ops=%llu secs=%.6f rate=%.1f errors=%llu errno=%s\n", ops,
	       t1 - t0, ops / (t1 - t0), errors,
	       first_errno < 0 ? "-" :
	       first_errno == 0 ? "unexpected-success" :
				  strerrorname_np(first_errno) ?: "?");
	return errors ? 1 : 0;
}

struct walk_state {
	unsigned long long entries, errors;
	int first_errno;
};

static void walk_err(struct walk_state *w, int e)
{
	if (!w->errors++)
		w->first_errno = e;
}

/* getdents64 over dfd, lstat (fstatat NOFOLLOW) of each entry, recurse. */
static void walk_dir(int dfd, struct walk_state *w)
{
	char buf[32768];
	long n, off;

	for (;;) {
		n = syscall(SYS_getdents64, dfd, buf, sizeof(buf));
		if (n < 0) {
			walk_err(w, errno);
			return;
		}
		if (n == 0)
			return;
		for (off = 0; off < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + off);
			struct stat st;

			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			w->entries++;
			if (fstatat(dfd, d->d_name, &st, AT_SYMLINK_NOFOLLOW)) {
				walk_err(w, errno);
				continue;
			}
			if (S_ISDIR(st.st_mode)) {
				int cfd = openat(dfd, d->d_name,
						 O_RDONLY | O_DIRECTORY |
							 O_CLOEXEC);

				if (cfd < 0) {
					walk_err(w, errno);
					continue;
				}
				walk_dir(cfd, w);
				close(cfd);
			}
		}
	}
}

static int walk(const char *root)
{
	struct walk_state w = {0, 0, 0};
	double t0, t1;
	int fd;

	t0 = now();
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		walk_err(&w, errno);
	} else {
		walk_dir(fd, &w);
		close(fd);
	}
	t1 = now();
	printf("ops=%llu secs=%.6f rate=%.1f errors=%llu errno=%s\n", w.entries,
	       t1 - t0, w.entries / (t1 - t0), w.errors,
	       w.errors ? strerrorname_np(w.first_errno) ?: "?" : "-");
	return w.errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	long f, p, l;

	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "create")) {
		if (argc != 6 || num(argv[3], 1, 255, &f) ||
		    num(argv[4], 1, 255, &p) || num(argv[5], 0, 255, &l))
			return usage();
		return create_tree(argv[2], f, p, l);
	}
	if (!strcmp(argv[1], "storm"))
		return storm(argc, argv);
	if (!strcmp(argv[1], "walk") && argc == 3)
		return walk(argv[2]);
	return usage();
}
