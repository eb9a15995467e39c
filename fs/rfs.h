/* SPDX-License-Identifier: MIT */
/*
 * fs/rcufs.h - the daemon's internal header: options, global state, the
 * backing-directory access layer and the handler families.
 *
 * Threads.  libfuse's multi-threaded loop runs the handlers.  A handler's
 * first call on a thread registers it with RCU (rfs_thread_enter, lazily,
 * with a pthread_key destructor that unregisters it when libfuse cancels or
 * ends the worker).  Every handler calls rfs_thread_enter() first.
 *
 * Errors.  Everything inside returns 0 or a negative errno; the sign flips
 * once, in rfs_reply_err().
 *
 * Concurrency of the globals: `rfs` is written by main() before the
 * session loop starts and after it ends, and at run time in two places
 * only:
 * - rfs_init (the INIT request) sets rfs.no_opendir.  The kernel sends no
 *   other request before INIT is answered, and only handlers read it.
 * - rfs_set_timeouts changes the three kernel timeouts of rfs.o (relaxed
 *   atomic stores; every reader uses rfs_tmo) when coherence=watch falls
 *   back to timeouts: from the watcher thread, or from a handler whose
 *   inotify_add_watch or fanotify_mark failed (watch_dir_get,
 *   watch_check_dev, both under wfs_lock of fs/watch.c).
 * Everything else in `rfs` handlers only read.  The fd cache (backing.c)
 * has its own lock, documented there.
 */
#ifndef RCUFS_FS_RCUFS_H
#define RCUFS_FS_RCUFS_H

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
			* clone): what fs/source.c watches */
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
	/* a missing security.selinux is answered EOPNOTSUPP (ops_xattr.c;
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

/*
 * Set the kernel timeouts (seconds) and, when @cache_too, the dcache's
 * validity periods to match (timeout mode).  Any thread.
 */
void rfs_set_timeouts(double entry, double attr, double negative,
		      bool cache_too);

/* Switch to timeout mode (a watcher fallback): short timeouts, the
 * explicit ones where given.  Any thread. */
void rfs_timeout_mode(void);

/* ---- fs/watch.c: coherence with changes made directly in SOURCE ---- */
struct rfs_watch_stats {
	uint64_t events;	 /* read from fanotify/inotify */
	uint64_t self;		 /* caused by the daemon: skipped */
	uint64_t uncached;	 /* about nothing cached: skipped */
	uint64_t dirent;	 /* names created, removed, moved */
	uint64_t attr;		 /* objects changed */
	uint64_t overflows;	 /* queue overflows (everything dropped) */
	uint64_t notifies;	 /* kernel notifications sent */
	uint64_t notify_errors;	 /* ... that failed (other than ENOENT) */
	uint64_t handle_opens;	 /* handles resolved by opening them */
	uint64_t watches;	 /* inotify watches held */
	enum rfs_watcher method; /* in effect; NONE: timeouts */
};
extern struct rfs_watch_stats watch_stats; /* relaxed atomics */

/*
 * Start the watcher and notifier threads for coherence=watch (no-op in
 * other modes); on failure to watch, fall back to timeouts (warned).
 * Called once after mounting, before the session loop.  Returns 0 or a
 * negative errno (only when watcher= forced a method that failed).
 */
int watch_start(void);
/*
 * May the kernel keep file pages and directory listings across opens
 * (keep_cache, cache_readdir)?  Yes when nobody else changes SOURCE
 * (exclusive) or when every change is watched (the watcher drops them
 * with notify_inval_inode).  Any thread; cheap.
 */
bool rfs_kernel_may_cache(void);
/*
 * From a request handler: have the notifier tell the kernel that @nodeid's
 * attributes changed in a way it cannot know (SOURCE cleared setgid on a
 * write).  Queues only (handlers never notify themselves); a no-op when no
 * notifier runs (not coherence=watch).  Any thread, outside RCU.
 */
void rfs_queue_inval_attr(uint64_t nodeid);
/* Likewise: the kernel is to drop its cached pages of @nodeid from @off
 * to the end (and its attributes). */
void rfs_queue_inval_data(uint64_t nodeid, off_t off);
/* Likewise: the kernel is to drop every name and inode's attributes
 * (SOURCE was lost).  Not from a request handler's hot path. */
void rfs_queue_inval_all(void);
/* The "coherence" section of rcufs stats. */
struct rfs_emit;
void rfs_watch_emit(struct rfs_emit *e);
/* Stop both threads; after the session loop, before the dcache is freed. */
void watch_stop(void);
/* True while changes in SOURCE are being watched. */
bool watch_active(void);
/* True while they are watched with inotify (one watch per directory). */
bool watch_inotify(void);
/*
 * inotify mode: watch the directory open at @fd whose key is (@dev, @ino)
 * (it entered the cache).  Returns a watch id for watch_dir_put, or -1
 * (no inotify in use, or none left: then the mount degrades, warned).
 * Any thread, outside RCU; may call no dcache mutation.
 */
int watch_dir_get(int fd, uint64_t dev, uint64_t ino);
void watch_dir_put(int wd);
/*
 * fanotify mode: the lookup of @name in @dirfd found device @dev; if it
 * is a filesystem not yet watched (mounted inside SOURCE), mark it, or
 * degrade to timeouts when it cannot be marked.  Any thread.
 */
void watch_check_dev(int dirfd, const char *name, uint64_t dev);

/* ---- fs/thread.c ---- */
/* Register the calling worker with RCU once (idempotent, cheap). */
void rfs_thread_enter(void);

/* ---- fs/opstats.c: per-FUSE-operation counters ---- */
/*
 * Every operation of the table (except INIT and DESTROY) is timed by a
 * wrapper around its handler: requests, errors, cache hits, and a latency
 * histogram, in per-thread blocks summed on read (like cache/stats.c).
 * The request path takes no lock and makes no syscall (clock_gettime is
 * the vDSO); a thread's block is created by rfs_thread_enter().
 */
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

/* The operation table, each entry timed (fs/opstats.c). */
extern const struct fuse_lowlevel_ops rfs_ops;
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

/* Per-thread block: created / folded into the totals (thread.c). */
void rfs_opstats_thread_init(void);
void rfs_opstats_thread_exit(void);
/* Sum every thread's counters into @out (takes the block-list mutex). */
void rfs_opstats_sum(struct rfs_opcount out[RFS_OP_NR]);
/* Upper bound in ns of histogram bucket @i. */
uint64_t rfs_hist_upper(unsigned i);
/* Latency at quantile @q (0..1) of @c: a bucket bound clipped to max. */
uint64_t rfs_opcount_quantile(const struct rfs_opcount *c, double q);

/* ---- fs/stats.c: the statistics socket and its sections ---- */
/*
 * The daemon serves its counters on the abstract unix socket
 * "\0rcufs/MAJOR:MINOR" named from the mount's st_dev; `rcufs stats
 * MOUNTPOINT` finds it by stat(2).  One thread accepts, renders every
 * section and replies; it starts after the mount and stops at unmount.
 */
int rfs_stats_start(void);
void rfs_stats_stop(void);
/* The `rcufs stats MOUNTPOINT [--json]` subcommand (fs/statcmd.c). */
int rfs_stats_main(int argc, char **argv);

/*
 * Emitting a section: one set of calls renders both the text and the JSON
 * form.  Objects nest; a table is an object of rows that text mode prints
 * as columns (the keys of a row's values must follow the column list).
 */
struct rfs_emit;
void rfs_emit_begin(struct rfs_emit *e, const char *key);
void rfs_emit_end(struct rfs_emit *e);
void rfs_emit_u64(struct rfs_emit *e, const char *key, uint64_t v);
void rfs_emit_str(struct rfs_emit *e, const char *key, const char *v);
void rfs_emit_double(struct rfs_emit *e, const char *key, double v);
/* A latency: integer ns in JSON, "12.3us" in text. */
void rfs_emit_ns(struct rfs_emit *e, const char *key, uint64_t ns);
/* A byte count: integer in JSON, "1.5 MiB" in text. */
void rfs_emit_bytes(struct rfs_emit *e, const char *key, uint64_t v);
/* A value that does not apply: null in JSON, "-" in text. */
void rfs_emit_null(struct rfs_emit *e, const char *key);
void rfs_emit_table_begin(struct rfs_emit *e, const char *key,
			  const char *const *cols, unsigned ncols);
void rfs_emit_table_end(struct rfs_emit *e);

/*
 * A section of the output: the sections table in fs/stats.c lists them in
 * order.  @emit runs on the statistics thread (registered with RCU, not
 * in a read section); it must not block for long.  A subsystem adds its
 * section (e.g. "coherence") by writing one such function and one line in
 * that table.
 */
struct rfs_stats_section {
	const char *name;
	void (*emit)(struct rfs_emit *e);
};

/* ---- fs/creds.c ---- */
/* ---- fs/creds.c: acting as the caller (see the top of creds.c) ---- */
struct rfs_saved {
	bool switched;
};
/* Decide whether the daemon acts as its callers (it runs as root); main()
 * calls it once before mounting.  Returns that decision. */
bool rfs_creds_init(void);
bool rfs_creds_switching(void);
/* rfs_init: the kernel sends modes without the umask (POSIX ACLs on). */
void rfs_creds_set_caller_umask(bool on);
/* Does @req come from someone the daemon must act as (not root)? */
bool rfs_caller_is_other(fuse_req_t req);
/*
 * Act as the caller of @req on this thread (fsuid, fsgid, supplementary
 * groups) for the syscalls up to rfs_as_daemon(@s), which must follow on
 * the same thread before the handler returns.  No-op unless the daemon is
 * root and the caller is not.  Not inside an RCU read section (it may
 * read /proc).
 */
int rfs_as_caller(fuse_req_t req, struct rfs_saved *s);
void rfs_as_daemon(struct rfs_saved *s);
/*
 * Between rfs_as_caller and rfs_as_daemon, before a syscall creating an
 * object with @mode: arrange for the caller's umask to apply as on SOURCE
 * (a default ACL of the parent overrides it).  Returns the mode to pass.
 */
mode_t rfs_caller_umask(fuse_req_t req, mode_t mode);
/*
 * May the caller of @req access node @ino (attributes @a) with access(2)
 * @mask (R_OK|W_OK|X_OK)?  From @a when that is exact (caller root or
 * owner), else asked of SOURCE as the caller (groups, ACLs).  0 or
 * -EACCES (or another negative errno).
 */
int rfs_caller_may(fuse_req_t req, fuse_ino_t ino, const struct dc_attr *a,
		   int mask);

/* ---- fs/source.c ---- */
/*
 * -ENODEV once SOURCE was found removed or unmounted (one warning is
 * logged then), else 0.  Cheap: one relaxed atomic load.  Every way of
 * reaching SOURCE by name (backing.c, statfs) checks it first.
 */
int rfs_source_check(void);
/* The watcher thread: start after the dcache exists, stop before it goes. */
int rfs_source_watch_start(void);
void rfs_source_watch_stop(void);

/* ---- fs/util.c ---- */
/* Reply with a negative errno (0 = success with no data). */
void rfs_reply_err(fuse_req_t req, int negerr);
/* Log a line to stderr with a level prefix ("rcufs: error: ..."). */
void rfs_log(const char *level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define rfs_error(...) rfs_log("error", __VA_ARGS__)
#define rfs_warn(...) rfs_log("warning", __VA_ARGS__)
#define rfs_debug(...)                                 \
	do {                                           \
		if (rfs.o.debug)                       \
			rfs_log("debug", __VA_ARGS__); \
	} while (0)
/* Fill a fuse_entry_param from a dcache result (timeouts per options). */
void rfs_fill_entry(struct fuse_entry_param *e, const struct dc_result *res);
/* Reply with an entry after a successful DC_WANT_KREF result; undoes the
 * kernel reference if the reply fails (interrupted request). */
void rfs_reply_entry(fuse_req_t req, const struct dc_result *res);

/* ---- fs/backing.c: reaching SOURCE ---- */
extern const struct dc_backend_ops rfs_backing_ops;

int backing_init(unsigned max_fds);
void backing_fini(void);

/*
 * A borrowed directory fd (O_PATH) of directory @nodeid, verified to be the
 * object the cache knows ((st_dev, st_ino) checked after opening).  Never
 * close it: give it back with backing_put_dir(@ref).  -ESTALE when the
 * directory is gone or was replaced; -ENOTDIR.
 */
struct fdent;
int backing_get_dir(uint64_t nodeid, int *fd, struct fdent **ref);
void backing_put_dir(struct fdent *ref);
/*
 * -o no_opendir: directory @nodeid is about to be removed through the
 * mount.  Its fd is opened if need be and kept (never evicted) until the
 * dcache frees the inode, so that a process that holds it open can still
 * fstat and list it (backing_dir_dup).  Best effort: nothing on failure.
 */
void backing_pin_dir(uint64_t nodeid);
/* A new fd of directory @nodeid's fd kept by backing_pin_dir, or -ESTALE
 * (also when its fd is cached but not pinned: a directory removed in
 * SOURCE must not look alive). */
int backing_dir_dup(uint64_t nodeid);

/*
 * inotify mode: node @nodeid (of type @mode) just got a kernel reference
 * (LOOKUP, READDIRPLUS, MKDIR).  A directory is watched from now on, not
 * only once its children are: a change inside it (an entry created or
 * removed directly in SOURCE) changes its own mtime and link count, and
 * only a watch on it reports that.  Then the cached attributes, read
 * before the watch existed, are dropped and read again into @attr.
 * Request handlers, outside RCU.
 */
void backing_watch_new(uint64_t nodeid, mode_t mode, struct dc_attr *attr);

/*
 * Where node @nodeid lives: a borrowed fd of its parent directory and its
 * name there (@name: NAME_MAX + 1 bytes).  For the root, *dirfd is
 * rfs.root_fd, @name is "" and *ref is NULL.  Release with
 * backing_put_dir(*ref).
 */
int backing_locate(uint64_t nodeid, int *dirfd, char *name, struct fdent **ref);

/*
 * An O_PATH|O_NOFOLLOW fd of node @nodeid itself, opened relative to its
 * parent and verified by (st_dev, st_ino): it cannot be swapped for a
 * symlink or another object afterwards.  Caller closes it.  @st (may be
 * NULL) gets the object's attributes.
 */
int backing_open_path(uint64_t nodeid, struct stat *st);

/*
 * Open node @nodeid with open(2) @flags (O_NOFOLLOW is added; O_CREAT is
 * refused) and verify it is the cached object.  Caller closes it.
 */
int backing_open(uint64_t nodeid, int flags);
/*
 * backing_open with the open itself done as the caller of @req (see
 * fs/creds.c): everything around it (locating, verifying) as the daemon.
 * For a directory (or @reopen), the object is reached through its verified
 * O_PATH fd ("/proc/self/fd/N"), so that, as on SOURCE, the caller needs
 * no search permission on the object's parent beyond what the kernel
 * checked.
 */
int backing_open_as(uint64_t nodeid, int flags, fuse_req_t req);

/*
 * CREATE without O_EXCL met an existing @name in @dirfd: open it with
 * @flags (O_CREAT and O_EXCL dropped; O_TRUNC applied after) only if it is
 * a regular file, opening nothing else first (a FIFO would block, or take
 * a reader's rendezvous).  -ESTALE for anything else, or when it is gone
 * again: the kernel then looks the name up afresh and, for a special file,
 * opens it itself.  Run as the caller: its search permission on @dirfd
 * and its rights on the file decide.
 */
int backing_open_existing(int dirfd, const char *name, int flags);

/* "/proc/self/fd/N" for an O_PATH fd, for calls that take only a path. */
void backing_proc_path(int fd, char buf[64]);

/* fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW) into a dc_attr. */
int backing_stat_at(int dirfd, const char *name, struct dc_attr *attr);

/* Open fds held by the fd cache (for stats and tests). */
unsigned backing_open_fds(void);

/* ---- handler families (fs/ops_*.c) ---- */
/* Monotonic clock in ns (vDSO: no syscall). */
static inline uint64_t rfs_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void rfs_init(void *userdata, struct fuse_conn_info *conn);
void rfs_destroy(void *userdata);
/* fs/ops_entry.c */
void rfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
/*
 * Held shared by LOOKUP's slow path (the one that fills the cache) and
 * exclusively by a RENAME_EXCHANGE from renameat2 to the end of
 * dcache_rename: the kernel's directory locks do not keep out a LOOKUP
 * that revalidates a kept name (fs/ops_entry.c).
 */
extern pthread_rwlock_t rfs_exchange_lock;
void rfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void rfs_forget_multi(fuse_req_t req, size_t count,
		      struct fuse_forget_data *forgets);
void rfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		 struct fuse_file_info *fi);
void rfs_readlink(fuse_req_t req, fuse_ino_t ino);
void rfs_access(fuse_req_t req, fuse_ino_t ino, int mask);
/*
 * Without default_permissions (the kernel checks nothing), may the caller
 * of @req search directory @dir, as LOOKUP on SOURCE requires?  0 when
 * the kernel checked already or the caller is the daemon.
 */
int rfs_may_search(fuse_req_t req, fuse_ino_t dir);
void rfs_statfs(fuse_req_t req, fuse_ino_t ino);
/* fs/ops_dir.c */
/* -o sync, dirsync: fsync the directory at O_PATH @dirfd after a change
 * of its entries (0 without those options). */
int rfs_dirsync(int dirfd);
void rfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       dev_t rdev);
void rfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
	       mode_t mode);
void rfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void rfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void rfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name);
void rfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned int flags);
void rfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	      const char *newname);
void rfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void rfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi);
void rfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi);
/* fs/ops_file.c */
void rfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi);
void rfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	      struct fuse_file_info *fi);
void rfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
		   off_t off, struct fuse_file_info *fi);
void rfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	       struct fuse_file_info *fi);
void rfs_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	       struct flock *lock);
void rfs_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	       struct flock *lock, int sleep);
void rfs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	       int op);
void rfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		   off_t length, struct fuse_file_info *fi);
void rfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			 off_t off_out, struct fuse_file_info *fi_out,
			 size_t len, int flags);
void rfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	       struct fuse_file_info *fi);
void rfs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	       struct fuse_file_info *fi, unsigned flags, const void *in_buf,
	       size_t in_bufsz, size_t out_bufsz);
/* Interrupt every blocked lock request and wait (a few seconds at most)
 * for its waiter thread to reply; after the session loop ended. */
void rfs_locks_stop(void);
/*
 * A new fd of any file or directory of @nodeid open through the mount, or
 * -ESTALE: how an unlinked but still open object is reached (fstat,
 * fchmod, fgetxattr...).  Caller closes it.
 */
int rfs_file_dup(uint64_t nodeid);
/* List / unlist an open fd of @nodeid for rfs_file_dup (before closing). */
int rfs_open_add(uint64_t nodeid, int fd);
void rfs_open_del(uint64_t nodeid, int fd);
/* fs/ops_xattr.c */
void rfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags);
void rfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  size_t size);
void rfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void rfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/*
 * After a change through the mount: refresh the cached attributes of
 * @nodeid from SOURCE (write-through); on failure invalidate them.
 */
void rfs_refresh_attr(uint64_t nodeid);

#endif /* RCUFS_FS_RCUFS_H */
