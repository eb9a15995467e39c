/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/remote.c - coherence policy for SOURCE on a network or cluster
 * filesystem (issue 15); the classification is coherence/fstype.c.
 *
 * A watcher (fanotify, inotify) sees only changes made through this
 * kernel.  On a remote filesystem (coherence/remote.h) another client's change
 * is never seen, so coherence=watch with its hour-long timeouts would
 * serve stale answers for an hour or more.  Hence:
 * - SOURCE remote, no coherence= (nor cache=, watcher=) given: the mode is
 *   coherence=timeout, whose timeouts are 1 s unless given; the bound is
 *   announced in one start-up line and shown by rcufs stats.  Asked for
 *   explicitly, watch is honoured, and the line says what it promises.
 * - A remote filesystem mounted inside SOURCE (found at start-up in
 *   mountinfo, or when a lookup meets a new device) gets the bound of its
 *   own: entries on it are given kernel timeouts of at most the bound
 *   (rfs_remote_tmo at reply time), the dcache keeps nothing of it longer
 *   than the bound (rfs_remote_ttl_cap, the dcache's per-device cap:
 *   names and negatives in its directories, its objects' attributes; the
 *   rest of SOURCE keeps the mode's periods), and the kernel keeps no
 *   pages or listings across opens (rfs_remote_may_keep).
 *
 * Concurrency.  `rm` is written by the main thread at start-up (before the
 * session loop) and read-only after.  The device table `subs` is appended
 * under subs_lock; an entry is complete before the count that publishes
 * it is stored (release), and lock-free readers load the count (acquire)
 * and scan entries below it, which never change once published.
 */
#include "coherence/coherence_i.h"
#include "coherence/remote.h"
#include "stats/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static struct {
	struct rfs_fstype src; /* SOURCE's filesystem */
	bool classified;       /* src is valid */
	bool mode_given;       /* coherence=, cache= or watcher= given */
	bool chosen; /* coherence=timeout chosen for a remote SOURCE */
} rm;

/* Filesystems met inside SOURCE (other devices than SOURCE's). */
#define RFS_SUBS_MAX 32
struct sub {
	uint64_t dev;
	bool remote;
	char name[64];
};
static struct sub subs[RFS_SUBS_MAX]; /* appended under subs_lock */
static unsigned nsubs;		      /* release store / acquire load */
static unsigned nremote;	      /* remote ones; relaxed atomic */
/* the table is full: every device not SOURCE's counts as remote */
static bool subs_full; /* relaxed atomic */
static pthread_mutex_t subs_lock = PTHREAD_MUTEX_INITIALIZER;

static double max3(double a, double b, double c)
{
	double m = a > b ? a : b;

	return m > c ? m : c;
}

/* The bound for remote filesystems inside a local SOURCE, seconds: the
 * timeout mode's default (read-only after start-up). */
static double sub_bound(void)
{
	return rfs.o.fallback_timeout;
}

void rfs_remote_mode_given(void)
{
	rm.mode_given = true;
}

/* Lock-free: the published entry for @dev, or NULL. */
static const struct sub *sub_find(uint64_t dev)
{
	unsigned n = __atomic_load_n(&nsubs, __ATOMIC_ACQUIRE), i;

	for (i = 0; i < n; i++)
		if (subs[i].dev == dev)
			return &subs[i];
	return NULL;
}

/*
 * Record the filesystem of @fd (device @dev) found at @where.  Caller
 * holds subs_lock.  A remote one is counted (from then on its entries get
 * the bound: rfs_remote_tmo, rfs_remote_ttl_cap) and logged in one line.
 */
static void sub_add_locked(int fd, uint64_t dev, const char *where)
{
	struct rfs_fstype t;
	struct sub *s;
	double b = sub_bound();

	if (sub_find(dev))
		return;
	if (nsubs == RFS_SUBS_MAX) {
		if (!__atomic_load_n(&subs_full, __ATOMIC_RELAXED))
			rfs_warn(
				"more than %d filesystems inside SOURCE: every "
				"further one gets the %g s bound of a remote "
				"filesystem",
				RFS_SUBS_MAX, b);
		__atomic_store_n(&subs_full, true, __ATOMIC_RELAXED);
		__atomic_add_fetch(&nremote, 1, __ATOMIC_RELAXED);
		return;
	}
	if (rfs_fstype_of_fd(fd, &t) < 0) {
		/* cannot tell: cannot vouch */
		memset(&t, 0, sizeof(t));
		snprintf(t.name, sizeof(t.name), "unknown");
		t.remote = true;
	}
	s = &subs[nsubs];
	s->dev = dev;
	s->remote = t.remote;
	snprintf(s->name, sizeof(s->name), "%s", t.name);
	if (t.remote) {
		__atomic_add_fetch(&nremote, 1, __ATOMIC_RELAXED);
		if (rfs.o.coherence != RFS_COH_STRICT)
			fprintf(stderr,
				"rcufs: %s inside SOURCE is on %s%s%s%s, whose "
				"changes this kernel may not see: entries on "
				"it expire after %g s\n",
				where, t.name, t.mnt_type[0] ? " (" : "",
				t.mnt_type, t.mnt_type[0] ? ")" : "", b);
	}
	__atomic_store_n(&nsubs, nsubs + 1, __ATOMIC_RELEASE);
}

void rfs_remote_check_dev(int dirfd, const char *name, uint64_t dev)
{
	int fd;

	if (dev == rfs.root_dev || sub_find(dev) ||
	    __atomic_load_n(&subs_full, __ATOMIC_RELAXED))
		return;
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return; /* gone: the next lookup finds it again */
	pthread_mutex_lock(&subs_lock);
	sub_add_locked(fd, dev, name);
	pthread_mutex_unlock(&subs_lock);
	close(fd);
}

/* Classify every filesystem mounted below SOURCE (start-up). */
static void scan_submounts(void)
{
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	size_t sl = strlen(rfs.o.source);
	char *line = NULL, mp[PATH_MAX + 1];
	size_t cap = 0;

	if (!mi)
		return;
	while (getline(&line, &cap, mi) > 0) {
		struct stat st;
		int fd;

		if (sscanf(line, "%*d %*d %*s %*s %4096s", mp) != 1)
			continue;
		if (strcmp(rfs.o.source, "/") &&
		    (strncmp(mp, rfs.o.source, sl) || mp[sl] != '/'))
			continue;
		if (strchr(mp, '\\'))
			continue; /* escaped names: found at lookup */
		fd = open(mp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!fstat(fd, &st) && (uint64_t)st.st_dev != rfs.root_dev) {
			pthread_mutex_lock(&subs_lock);
			sub_add_locked(fd, st.st_dev, mp);
			pthread_mutex_unlock(&subs_lock);
		}
		close(fd);
	}
	free(line);
	fclose(mi);
}

void rfs_remote_choose_mode(void)
{
	struct stat st;
	int fd = open(rfs.o.source, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return; /* open_root reports it */
	if (!rfs_fstype_of_fd(fd, &rm.src) && !fstat(fd, &st))
		rm.classified = true;
	close(fd);
	if (rm.classified && rm.src.remote && !rm.mode_given &&
	    !rfs.o.cache_off) {
		rfs.o.coherence = RFS_COH_TIMEOUT;
		rm.chosen = true;
	}
}

void rfs_remote_announce(void)
{
	const struct rfs_fstype *t = &rm.src;
	char what[160];
	double bound = max3(rfs.o.entry_timeout, rfs.o.attr_timeout,
			    rfs.o.negative_timeout);

	if (rm.classified && !rm.src.remote)
		scan_submounts();
	if (!rm.classified || !t->remote)
		return;
	snprintf(what, sizeof(what), "SOURCE is on %s%s%s%s", t->name,
		 t->mnt_type[0] ? " (" : "", t->mnt_type,
		 t->mnt_type[0] ? ")" : "");
	switch (rfs.o.coherence) {
	case RFS_COH_TIMEOUT:
		fprintf(stderr,
			"rcufs: %s, %s; coherence=timeout%s: a change made "
			"there shows here within %g s (the staleness "
			"bound)%s\n",
			what, t->reason,
			rm.chosen ? " (the default there)" : "", bound,
			rm.chosen ? "; -o coherence=watch only if every change "
				    "goes through this machine"
				  : "");
		break;
	case RFS_COH_WATCH:
		fprintf(stderr,
			"rcufs: %s, %s; coherence=watch as asked: only changes "
			"made through this machine's kernel are seen; one "
			"made by another client may never show (cached until "
			"evicted or remounted): right only if nothing else "
			"changes SOURCE\n",
			what, t->reason);
		break;
	case RFS_COH_EXCLUSIVE:
		fprintf(stderr,
			"rcufs: %s, %s; coherence=exclusive as asked: rcufs "
			"trusts that nothing else changes SOURCE while it is "
			"mounted (a change made elsewhere may never show, and "
			"cached writes may overwrite it)\n",
			what, t->reason);
		break;
	case RFS_COH_STRICT:
		fprintf(stderr,
			"rcufs: %s; coherence=strict: every request asks "
			"SOURCE (no staleness beyond the filesystem's own)\n",
			what);
		break;
	}
}

double rfs_remote_tmo(uint64_t dev, double t)
{
	const struct sub *s;
	double b;

	if (!__atomic_load_n(&nremote, __ATOMIC_RELAXED))
		return t;
	b = sub_bound();
	if (t <= b || dev == rfs.root_dev)
		return t;
	s = sub_find(dev);
	if (s ? s->remote : __atomic_load_n(&subs_full, __ATOMIC_RELAXED))
		return b;
	return t;
}

bool rfs_remote_bounded_dev(uint64_t dev)
{
	const struct sub *s;

	if (!__atomic_load_n(&nremote, __ATOMIC_RELAXED) || dev == rfs.root_dev)
		return false;
	s = sub_find(dev);
	return s ? s->remote : __atomic_load_n(&subs_full, __ATOMIC_RELAXED);
}

double rfs_remote_left(uint64_t until, double t)
{
	uint64_t now;
	double left;

	if (until == DC_TTL_FOREVER)
		return t;
	now = rfs_now_ns();
	left = until > now ? (double)(until - now) / 1e9 : 0;
	return left < t ? left : t;
}

uint64_t rfs_remote_ttl_cap(uint64_t dev)
{
	if (!rfs_remote_bounded_dev(dev))
		return DC_TTL_FOREVER;
	return (uint64_t)(sub_bound() * 1e9);
}

/* The backing device of the cached inode @ino (immutable: no question to
 * SOURCE); false when it is not cached.  Not in RCU (a put). */
static bool dev_of(uint64_t ino, uint64_t *dev)
{
	struct dc_inode *inode = ino ? dc_inode_get(rfs.dc, ino) : NULL;
	uint64_t bino;

	if (!inode)
		return false;
	dc_inode_key(inode, dev, &bino);
	dc_inode_put(inode);
	return true;
}

bool rfs_remote_may_keep(uint64_t ino)
{
	uint64_t dev;

	if (!__atomic_load_n(&nremote, __ATOMIC_RELAXED))
		return true;
	if (!dev_of(ino, &dev))
		return false; /* device unknown: as if remote */
	return !rfs_remote_bounded_dev(dev);
}

uint64_t rfs_remote_listing_bound(uint64_t ino)
{
	/* no remote filesystem inside SOURCE: one relaxed load */
	if (rfs_remote_may_keep(ino))
		return DC_TTL_FOREVER;
	return rfs_ttl_ns(sub_bound());
}

void rfs_remote_emit(struct rfs_emit *e)
{
	static const char *const modes[] = {"watch", "timeout", "exclusive",
					    "strict"};
	unsigned n = __atomic_load_n(&nsubs, __ATOMIC_ACQUIRE), i;
	char key[32];

	if (rm.classified) {
		rfs_emit_str(e, "type", rm.src.name);
		rfs_emit_str(e, "mount_type", rm.src.mnt_type);
		rfs_emit_str(e, "class", rm.src.remote ? "remote" : "local");
		rfs_emit_str(e, "why", rm.src.reason);
	} else {
		rfs_emit_null(e, "type");
	}
	rfs_emit_str(e, "mode", modes[rfs.o.coherence]);
	rfs_emit_str(e, "mode_chosen_by",
		     rm.chosen	     ? "remote filesystem (default)"
		     : rm.mode_given ? "option"
				     : "default");
	if (rfs.o.coherence == RFS_COH_TIMEOUT ||
	    rfs.o.coherence == RFS_COH_STRICT)
		rfs_emit_double(e, "staleness_bound_s",
				max3(rfs_tmo(&rfs.o.entry_timeout),
				     rfs_tmo(&rfs.o.attr_timeout),
				     rfs_tmo(&rfs.o.negative_timeout)));
	else
		rfs_emit_null(e, "staleness_bound_s");
	rfs_emit_begin(e, "inside_source");
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%u:%u", major(subs[i].dev),
			 minor(subs[i].dev));
		rfs_emit_str(e, key, subs[i].name);
	}
	rfs_emit_end(e);
	if (__atomic_load_n(&nremote, __ATOMIC_RELAXED))
		rfs_emit_double(e, "inside_source_bound_s", sub_bound());
}
