/* SPDX-License-Identifier: MIT */
/*
 * fs/rfs.h - the daemon's global state, shared by every module of fs/:
 * the options (struct rcufs_opts), what start-up learned about SOURCE and
 * the mount (struct rcufs), the log, and the clock.  Nothing else: each
 * module's API is in its own header (fs/README.md).  It holds these
 * because every layer reads them and none owns them: the options are
 * parsed by options.c, SOURCE opened by main.c, and the timeouts changed
 * at run time by the coherence layer.
 *
 * Concurrency of the globals: `rfs` is written by main() before the
 * session loop starts and after it ends, and at run time in two places
 * only:
 * - rfs_init (the INIT request, fs/ops/init.c) sets rfs.no_opendir.  The
 *   kernel sends no other request before INIT is answered, and only
 *   handlers read it.
 * - rfs_set_timeouts (fs/coherence/mode.c) changes the three kernel
 *   timeouts of rfs.o (relaxed atomic stores; every reader uses rfs_tmo)
 *   when coherence=watch falls back to timeouts: from the watcher thread,
 *   or from a handler whose inotify_add_watch or fanotify_mark failed
 *   (watch_dir_get, watch_check_dev, both under wfs_lock of
 *   fs/coherence/).
 * Everything else in `rfs` handlers only read.
 */
#ifndef RCUFS_FS_RFS_H
#define RCUFS_FS_RFS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "dcache.h"

/* coherence=: how changes made directly in SOURCE become visible */
enum rfs_coherence {
	RFS_COH_WATCH,	   /* watch SOURCE, long timeouts (default) */
	RFS_COH_TIMEOUT,   /* no watcher: the timeouts as given */
	RFS_COH_EXCLUSIVE, /* nobody else changes SOURCE: longest timeouts */
	RFS_COH_STRICT,	   /* zero timeouts, every request revalidates */
};

/* watcher=: which event source coherence=watch uses */
enum rfs_watcher {
	RFS_WATCH_AUTO, /* fanotify, else inotify, else timeouts */
	RFS_WATCH_FANOTIFY,
	RFS_WATCH_INOTIFY,
	RFS_WATCH_NONE, /* as a state: no watcher runs (timeouts) */
};

/* atime options: how reads through the mount move access times */
enum rfs_atime {
	RFS_ATIME_SOURCE,   /* as SOURCE's own mount does (default) */
	RFS_ATIME_NOATIME,  /* never */
	RFS_ATIME_RELATIME, /* when older than mtime/ctime or a day */
	RFS_ATIME_STRICT,   /* at every read */
};

struct rcufs_opts {
	char *source;		 /* absolute, canonical */
	char *mountpoint;	 /* absolute, canonical */
	double entry_timeout;	 /* kernel entry timeout, seconds */
	double attr_timeout;	 /* kernel attribute timeout */
	double negative_timeout; /* kernel negative-entry timeout */
	/* The three timeouts above are read by handlers with relaxed atomic
	 * loads (rfs_tmo) and changed at run time only by rfs_set_timeouts
	 * (the watcher falling back to timeout mode). */
	double fallback_timeout; /* timeouts after a watcher fallback */
	enum rfs_coherence coherence;
	enum rfs_watcher watcher;
	bool entry_set, attr_set, negative_set, writeback_set; /* explicit */
	uint64_t max_entries; /* dcache bound (0 = unbounded) */
	unsigned max_fds;     /* cached backing directory fds */
	unsigned threads;     /* max worker threads */
	bool cache_off;	      /* cache=off: every request reaches SOURCE */
	bool writeback;	      /* kernel writeback cache (exclusive use) */
	bool default_permissions;
	bool exact_xattr_errors; /* never EOPNOTSUPP for security.selinux */
	bool no_opendir;	 /* ask the kernel not to send OPENDIR */
	bool ro;
	enum rfs_atime atime;
	bool nodiratime;    /* listing a directory leaves its atime */
	bool sync, dirsync; /* namespace changes are synced (sync: data too) */
	bool foreground, debug, singlethread;
	bool allow_other, auto_unmount;
	char *fsname, *subtype;
};

struct rcufs {
	struct rcufs_opts o;
	int root_fd;   /* O_PATH|O_DIRECTORY of SOURCE, never closed; on a
		      * private clone of SOURCE's mount with the atime and ro
		      * options applied when they were given (main.c) */
	int source_fd; /* SOURCE on its own mount (== root_fd without a
			* clone): what fs/source/lost.c watches */
	/* may a READ (a READDIR) move the atime on SOURCE?  Then the cached
	 * attributes are dropped after it.  Read-only after start-up. */
	bool atime_moves, diratime_moves;
	/* an atime option other than noatime was given: reads must reach
	 * SOURCE to move its atime, so the kernel keeps no file pages or
	 * listings across opens (and OPENDIR is asked for) */
	bool atime_exact;
	dev_t root_dev;
	ino_t root_ino;
	struct dcache *dc;
	struct fuse_session *se;
	pid_t pid;
	uint64_t start_ns; /* CLOCK_MONOTONIC at mount, for the uptime */
	/* OPENDIR is answered ENOSYS, so the kernel opens directories without
	 * asking and keeps their listings (set by rfs_init, before any other
	 * request; read-only after) */
	bool no_opendir;
	/* a missing security.selinux is answered EOPNOTSUPP (fs/ops/xattr.c;
	 * set at start-up, read-only after) */
	bool selinux_unsupported;
};

extern struct rcufs rfs;

/* A kernel timeout option, read atomically (see struct rcufs_opts). */
static inline double rfs_tmo(const double *t)
{
	double v;

	__atomic_load(t, &v, __ATOMIC_RELAXED);
	return v;
}

/* ---- rfs.c ---- */
/* Log a line to stderr with a level prefix ("rcufs: error: ..."). */
void rfs_log(const char *level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "rcufs: MESSAGE" on stderr and exit(1): before mounting only. */
void rfs_die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
#define rfs_error(...) rfs_log("error", __VA_ARGS__)
#define rfs_warn(...) rfs_log("warning", __VA_ARGS__)
#define rfs_debug(...)                                 \
	do {                                           \
		if (rfs.o.debug)                       \
			rfs_log("debug", __VA_ARGS__); \
	} while (0)
/* Monotonic clock in ns (vDSO: no syscall). */
static inline uint64_t rfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* RCUFS_FS_RFS_H */
