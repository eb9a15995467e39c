/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/ops_i.h - what the files of fs/ops/ share: the handlers (for the
 * table, table.c) and the helpers one family lends another.
 *
 * Threads.  libfuse's multi-threaded loop runs the handlers.  Every
 * handler calls rfs_thread_enter() first (RCU registration, lazily, with
 * a pthread_key destructor that unregisters the thread when libfuse
 * cancels or ends the worker).  Errors: everything inside returns 0 or a
 * negative errno; the sign flips once, in rfs_reply_err().  Replies are
 * sent outside RCU read sections.
 */
#ifndef RCUFS_FS_OPS_OPS_I_H
#define RCUFS_FS_OPS_OPS_I_H

#include "ops/ops.h"
#include "stats/opstats.h"

#include <pthread.h>

/* ---- thread.c ---- */
/* Register the calling worker with RCU once (idempotent, cheap). */
void rfs_thread_enter(void);

/* ---- reply.c ---- */
/* Reply with a negative errno (0 = success with no data). */
void rfs_reply_err(fuse_req_t req, int negerr);
/* Fill a fuse_entry_param from a dcache result (timeouts per options). */
void rfs_fill_entry(struct fuse_entry_param *e, const struct dc_result *res);
/* The attribute timeout for node @ino on device @dev: the option's,
 * capped for a remote filesystem inside SOURCE, 0 while the watcher does
 * not report @ino's writes (a passthrough writer: passthrough/quiet.c).
 * Any thread; no lock, no syscall. */
double rfs_attr_tmo(uint64_t ino, uint64_t dev);
/* Reply with an entry after a successful DC_WANT_KREF result; undoes the
 * kernel reference if the reply fails (interrupted request). */
void rfs_reply_entry(fuse_req_t req, const struct dc_result *res);

/* ---- the handlers ---- */
/* init.c */
void rfs_init(void *userdata, struct fuse_conn_info *conn);
void rfs_destroy(void *userdata);
/* entry.c */
void rfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
/*
 * Held shared by LOOKUP's slow path (the one that fills the cache) and
 * exclusively by a RENAME_EXCHANGE from renameat2 to the end of
 * dcache_rename: the kernel's directory locks do not keep out a LOOKUP
 * that revalidates a kept name (entry.c).
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
/* dir.c (namespace changes), readdir.c (listing) */
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
/* file.c (data), filectl.c (fallocate, copies, lseek, ioctl), locks.c */
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
/* file.c, for filectl.c: the attributes of @ino changed through an fd
 * (size, times): drop the cached ones. */
void rfs_attr_changed(fuse_ino_t ino);
/*
 * Must a change of the data of @fd by the caller of @req run as the
 * caller (setuid/setgid clearing decided by SOURCE)?  See file.c.  Call
 * as the daemon.
 */
bool rfs_data_as_caller(fuse_req_t req, int fd);
/* A close by lock owner @owner (FLUSH): end its POSIX locks on @nodeid
 * (locks.c).  Handler threads; takes lk_lock, then of_lock. */
void rfs_locks_flush(uint64_t nodeid, uint64_t owner);

/* ---- openfiles.c: the open-file registry ---- */
/*
 * A new fd of any file or directory of @nodeid open through the mount, or
 * -ESTALE: how an unlinked but still open object is reached (fstat,
 * fchmod, fgetxattr...).  Caller closes it.
 */
int rfs_file_dup(uint64_t nodeid);
/* List / unlist an open fd of @nodeid for rfs_file_dup (before closing);
 * unlisting ends the locks taken through that open (RELEASE). */
int rfs_open_add(uint64_t nodeid, int fd);
void rfs_open_del(uint64_t nodeid, int fd);
/* Lock owner @o (locks.c) locked through the open (@nodeid, @fh): its
 * locks end at that open's release at the latest.  Takes of_lock, then
 * lk_lock (lk_hold_if_hashed). */
struct lkowner;
void rfs_open_lock_add(uint64_t nodeid, int fh, struct lkowner *o);
/* @o was ended by its FLUSH: unregister it from every open of @nodeid. */
void rfs_open_lock_forget(uint64_t nodeid, struct lkowner *o);

/* ---- locks.c, for openfiles.c ---- */
/* Take a reference on @o if it is still hashed (not ended); true then. */
bool lk_hold_if_hashed(struct lkowner *o);
/* Unhash @o and drop every lock it holds; whether it was hashed. */
bool lk_end_owner(struct lkowner *o);
/* Drop a reference; the last closes its fd and frees it. */
void lk_put(struct lkowner *o);
/* xattr.c */
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

#endif /* RCUFS_FS_OPS_OPS_I_H */
