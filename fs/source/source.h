/* SPDX-License-Identifier: MIT */
/*
 * fs/source/source.h - reaching SOURCE: the fd cache of directories,
 * verified opens of single objects, the dcache backend ops, acting as the
 * caller (creds.c), and noticing that SOURCE was lost (lost.c).
 *
 * Layer: below ops/ and coherence/, above stats/ and cache/.  It knows
 * nothing of watching: what the coherence layer must learn from it, it
 * learns through the hooks below, which it registers at start-up.
 *
 * Errors are negative errnos.  Nothing here runs inside an RCU read
 * section or may be called from one: every function may block (syscalls,
 * fdc_lock).
 */
#ifndef RCUFS_FS_SOURCE_SOURCE_H
#define RCUFS_FS_SOURCE_SOURCE_H

#include "rfs.h"

/* ---- hooks: what the layers above want to know (fdcache.c) ---- */
/*
 * Set once by rfs_source_set_hooks, before the cache exists and before
 * any handler or source thread runs; read-only after.  A NULL hook is not
 * called.  A hook may block briefly and take locks of its own layer, but
 * must call no dcache mutation (dir_opened and crossed_dev run inside
 * dcache backend calls) and must not call back into the fd cache.
 */
struct rfs_source_hooks {
	/*
	 * The fd of the cached directory inode with key (@dev, @ino) was
	 * opened (at @fd, O_PATH) for the first time.  Returns a token
	 * given back to dir_released (-1: nothing to give back).  Handler
	 * threads and the watcher thread, fdc_lock not held.
	 */
	int (*dir_opened)(int fd, uint64_t dev, uint64_t ino);
	/* The dcache freed that inode (its backend release op): @token is
	 * what dir_opened returned.  Any thread, fdc_lock not held. */
	void (*dir_released)(int token);
	/* A lookup of @name in @dirfd found a directory on device @dev,
	 * not SOURCE's own: a filesystem mounted inside SOURCE.  Inside the
	 * backend lookup op; any handler thread. */
	void (*crossed_dev)(int dirfd, const char *name, uint64_t dev);
	/* The longest time (ns) the dcache may keep anything about the
	 * filesystem of device @dev, DC_TTL_FOREVER for no limit: the
	 * dcache's ttl_cap (cache/backend.h).  Any context, RCU read
	 * sections and dcache locks included: lock-free, never blocks. */
	uint64_t (*ttl_cap)(uint64_t dev);
	/* SOURCE was found lost (lost.c), once; its watcher thread, after
	 * the dcache was dropped. */
	void (*lost)(void);
};
void rfs_source_set_hooks(const struct rfs_source_hooks *h);

/* ---- fdcache.c: the directory fd cache ---- */
extern const struct dc_backend_ops rfs_backing_ops; /* backend.c */

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
 * Make sure the dir_opened hook ran for directory @nodeid: when its fd
 * was never opened, open it now.  True when that happened now (the hook
 * ran), false when it had run before or the open failed.  Handler
 * threads, outside RCU.
 */
bool backing_dir_hook_now(uint64_t nodeid);
/*
 * Where node @nodeid lives: a borrowed fd of its parent directory and its
 * name there (@name: NAME_MAX + 1 bytes).  For the root, *dirfd is
 * rfs.root_fd, @name is "" and *ref is NULL.  Release with
 * backing_put_dir(*ref).
 */
int backing_locate(uint64_t nodeid, int *dirfd, char *name, struct fdent **ref);
/* "/proc/self/fd/N" for an O_PATH fd, for calls that take only a path. */
void backing_proc_path(int fd, char buf[64]);
/* Open fds held by the fd cache (for stats and tests). */
unsigned backing_open_fds(void);
/* The fd cache's lines of the "daemon" section of rcufs stats. */
struct rfs_emit;
void backing_emit(struct rfs_emit *e);

/* ---- open.c: verified access to single objects ---- */
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
 * creds.c): everything around it (locating, verifying) as the daemon.
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
/* fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW) into a dc_attr. */
int backing_stat_at(int dirfd, const char *name, struct dc_attr *attr);

/* ---- creds.c: acting as the caller (see the top of creds.c) ---- */
struct rfs_saved {
	bool switched;
};
/* Decide whether the daemon acts as its callers (it runs as root); main()
 * calls it once before mounting.  Returns that decision. */
bool rfs_creds_init(void);
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

/* ---- lost.c: SOURCE removed or unmounted ---- */
/*
 * -ENODEV once SOURCE was found removed or unmounted (one warning is
 * logged then), else 0.  Cheap: one relaxed atomic load.  Every way of
 * reaching SOURCE by name (fdcache.c, statfs) checks it first.
 */
int rfs_source_check(void);
/* The watcher thread: start after the dcache exists, stop before it goes. */
int rfs_source_watch_start(void);
void rfs_source_watch_stop(void);

#endif /* RCUFS_FS_SOURCE_SOURCE_H */
