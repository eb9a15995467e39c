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
 * Concurrency of the globals: `rfs` is written only by main() before the
 * session loop starts and after it ends; handlers only read it.  The fd
 * cache (backing.c) has its own lock, documented there.
 */
#ifndef RCUFS_FS_RCUFS_H
#define RCUFS_FS_RCUFS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "dcache.h"

struct rcufs_opts {
	char *source;		 /* absolute, canonical */
	char *mountpoint;	 /* absolute, canonical */
	double entry_timeout;	 /* kernel entry timeout, seconds */
	double attr_timeout;	 /* kernel attribute timeout */
	double negative_timeout; /* kernel negative-entry timeout */
	uint64_t max_entries;	 /* dcache bound (0 = unbounded) */
	unsigned max_fds;	 /* cached backing directory fds */
	unsigned threads;	 /* max worker threads */
	bool cache_off;		 /* cache=off: every request reaches SOURCE */
	bool writeback;		 /* kernel writeback cache (exclusive use) */
	bool default_permissions;
	bool ro;
	bool foreground, debug, singlethread;
	bool allow_other, auto_unmount;
	char *fsname, *subtype;
};

struct rcufs {
	struct rcufs_opts o;
	int root_fd; /* O_PATH|O_DIRECTORY of SOURCE, never closed */
	dev_t root_dev;
	ino_t root_ino;
	struct dcache *dc;
	struct fuse_session *se;
	pid_t pid;
};

extern struct rcufs rfs;

/* ---- fs/thread.c ---- */
/* Register the calling worker with RCU once (idempotent, cheap). */
void rfs_thread_enter(void);

/* ---- fs/creds.c ---- */
struct rfs_saved {
	bool switched;
};
/* Act as the caller of @req on this thread (root daemon only), for a
 * creating syscall; undo with rfs_as_daemon right after it. */
int rfs_as_caller(fuse_req_t req, struct rfs_saved *s);
void rfs_as_daemon(struct rfs_saved *s);

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

/* "/proc/self/fd/N" for an O_PATH fd, for calls that take only a path. */
void backing_proc_path(int fd, char buf[64]);

/* fstatat(dirfd, name, AT_SYMLINK_NOFOLLOW) into a dc_attr. */
int backing_stat_at(int dirfd, const char *name, struct dc_attr *attr);

/* Open fds held by the fd cache (for stats and tests). */
unsigned backing_open_fds(void);

/* ---- handler families (fs/ops_*.c) ---- */
void rfs_init(void *userdata, struct fuse_conn_info *conn);
void rfs_destroy(void *userdata);
/* fs/ops_entry.c */
void rfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void rfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void rfs_forget_multi(fuse_req_t req, size_t count,
		      struct fuse_forget_data *forgets);
void rfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void rfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		 struct fuse_file_info *fi);
void rfs_readlink(fuse_req_t req, fuse_ino_t ino);
void rfs_access(fuse_req_t req, fuse_ino_t ino, int mask);
void rfs_statfs(fuse_req_t req, fuse_ino_t ino);
/* fs/ops_dir.c */
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
