/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/file.c - OPEN, CREATE, READ, WRITE, FLUSH, RELEASE, FSYNC (the
 * other requests on an open file: filectl.c; the locks: locks.c; the
 * open-file registry: openfiles.c).
 *
 * Every FUSE open owns one backing fd, opened verified (backing_open) and
 * kept in fi->fh until RELEASE; GETATTR and SETATTR use it too.  Data goes
 * straight between the kernel and that fd: READ replies with an fd buffer
 * (spliced when the kernel allows it), WRITE copies the request's buffer
 * (a pipe when spliced) to the fd.  Nothing is buffered here, so what was
 * acknowledged is in SOURCE (DESIGN.md §7).  A change of size or times
 * invalidates the cached attributes of the inode: the next GETATTR asks
 * SOURCE, which is cheaper than a stat after every write and cannot race
 * with a concurrent writer's newer size.
 *
 * The locks of an open end with it: FLUSH ends its owner's POSIX locks
 * (rfs_locks_flush), RELEASE those of every owner that locked through the
 * open (rfs_open_del).
 */
#include "ops/ops_i.h"
#include "coherence/coherence.h"
#include "source/source.h"
#include "passthrough/passthrough.h" /* PASSTHROUGH hook */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- open and create ----------------------------------------------------- */

/* The attributes of @ino changed through an fd (size, times). */
void rfs_attr_changed(fuse_ino_t ino)
{
	dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
}

/*
 * Flags for the backing open.  With the writeback cache the kernel may
 * read to fill partial pages and keeps O_APPEND itself (it sends the
 * offsets), so a write-only open becomes read-write and O_APPEND goes.
 */
static int backing_flags(int flags, bool *upgraded)
{
	flags &= ~(O_CREAT | O_EXCL | O_NOCTTY);
	*upgraded = false;
	if (rfs.o.writeback) {
		flags &= ~O_APPEND;
		if ((flags & O_ACCMODE) == O_WRONLY) {
			flags = (flags & ~O_ACCMODE) | O_RDWR;
			*upgraded = true;
		}
	}
	return flags;
}

/*
 * Retry an open refused for what we added or for what only the kernel
 * needed: the read-write upgrade (a write-only file), O_NOATIME (EPERM
 * when the daemon does not own the file; the caller was checked by the
 * kernel already).  Returns the next flags to try, or -1.
 */
static int retry_flags(int flags, int err, bool *upgraded)
{
	if (err == -EACCES && *upgraded) {
		*upgraded = false;
		return (flags & ~O_ACCMODE) | O_WRONLY;
	}
	if (err == -EPERM && (flags & O_NOATIME))
		return flags & ~O_NOATIME;
	return -1;
}

/* The open flags the kernel is told about. */
static void set_open_reply(struct fuse_file_info *fi, uint64_t ino, int fd)
{
	fi->fh = (uint64_t)fd;
	/* the page cache survives a reopen when changes made directly in
	 * SOURCE cannot happen (exclusive) or are watched (they drop it) */
	fi->keep_cache = (rfs.o.writeback || rfs_kernel_may_cache_ino(ino)) &&
			 !rfs.atime_exact;
	/*
	 * No direct_io for O_DIRECT opens: the kernel then does their direct
	 * reads and writes itself (its ->direct_IO sends them to us as they
	 * come, uncached) and keeps its page cache coherent around them, as
	 * for a native filesystem: cached pages of the range are written
	 * back before and dropped after a direct write, and the file can be
	 * mapped shared.  With direct_io the kernel refuses shared mappings
	 * (ENODEV) and a buffered open kept the stale pages after a direct
	 * write (xfstests generic/091, 263, 451).
	 */
}

/*
 * The kernel opens a file to execute it (execve, uselib) read-only with
 * __FMODE_EXEC in the flags it forwards; open(2) cannot set that bit.
 */
#define RFS_FMODE_EXEC 040

/*
 * An exec open refused to the caller, who may execute but not read the
 * file (mode 0711): exec needs only the execute permission, which the
 * kernel checked (and, without default_permissions, SOURCE checks here as
 * the caller); the kernel reads the program through this open for the
 * exec alone.  So the file is opened by the daemon.
 */
static int open_for_exec(fuse_req_t req, fuse_ino_t ino, int flags)
{
	struct dc_attr a;
	struct stat st;
	char proc[64];
	int opath, fd, err;

	opath = backing_open_path(ino, &st);
	if (opath < 0)
		return opath;
	dc_attr_from_stat(&a, &st);
	err = S_ISREG(st.st_mode) ? rfs_caller_may(req, ino, &a, X_OK)
				  : -EACCES;
	if (!err) {
		backing_proc_path(opath, proc);
		fd = open(proc,
			  (flags & ~(RFS_FMODE_EXEC | O_NOFOLLOW)) | O_CLOEXEC);
		err = fd < 0 ? -errno : fd;
	}
	close(opath);
	return err;
}

/*
 * Without default_permissions the kernel lets an exec through when the
 * file has any x bit, and the open as the caller checks only read
 * permission: the caller's own execute permission is checked here, on
 * the opened file (@fd).  0 or -EACCES (or fstat's error).  A worker
 * thread, outside RCU, no lock held; may block (rfs_caller_may asks
 * SOURCE as the caller).
 */
static int exec_check(fuse_req_t req, fuse_ino_t ino, int flags, int fd)
{
	struct dc_attr a;
	struct stat st;

	if (rfs.o.default_permissions || !(flags & RFS_FMODE_EXEC))
		return 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	dc_attr_from_stat(&a, &st);
	return rfs_caller_may(req, ino, &a, X_OK);
}

void rfs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	bool upgraded;
	int flags, fd, err;

	rfs_thread_enter();
	flags = backing_flags(fi->flags, &upgraded);
	for (;;) {
		/* as the caller: O_TRUNC clears setuid/setgid as on SOURCE */
		fd = backing_open_as(ino, flags, req);
		if (fd == -EACCES && (flags & RFS_FMODE_EXEC) &&
		    (flags & O_ACCMODE) == O_RDONLY)
			fd = open_for_exec(req, ino, flags);
		if (fd >= 0)
			break;
		flags = retry_flags(flags, fd, &upgraded);
		if (flags < 0) {
			rfs_reply_err(req, fd);
			return;
		}
	}
	err = exec_check(req, ino, flags, fd);
	if (err) {
		close(fd);
		rfs_reply_err(req, err);
		return;
	}
	if (flags & O_TRUNC)
		rfs_attr_changed(ino);
	err = rfs_open_add(ino, fd);
	if (err) {
		close(fd);
		rfs_reply_err(req, err);
		return;
	}
	set_open_reply(fi, ino, fd);
	/* PASSTHROUGH hook: pt_reply_open in place of fuse_reply_open */
	if (pt_reply_open(req, ino, fd, fi) == -ENOENT) {
		/* interrupted: no RELEASE will come */
		rfs_open_del(ino, fd);
		close(fd);
	}
}

void rfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;
	struct rfs_saved saved;
	struct dc_result res;
	struct dc_attr attr;
	struct fdent *ref;
	struct stat st;
	bool upgraded;
	int flags, dirfd, fd, err;

	rfs_thread_enter();
	err = backing_get_dir(parent, &dirfd, &ref);
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	/*
	 * O_EXCL first, also when the caller did not ask for it: nothing
	 * already at the name (made in SOURCE behind the kernel's negative
	 * entry: a FIFO would block the worker, or lose its reader to us) is
	 * opened before it is known to be a regular file
	 * (backing_open_existing).
	 */
	flags = backing_flags(fi->flags, &upgraded) | O_CREAT | O_EXCL |
		O_NOFOLLOW | O_CLOEXEC;
	for (;;) {
		/* owned by the caller, with SOURCE's rules */
		err = rfs_as_caller(req, &saved);
		if (err) {
			backing_put_dir(ref);
			rfs_reply_err(req, err);
			return;
		}
		fd = openat(dirfd, name, flags,
			    rfs_caller_umask(req, mode & 07777));
		err = fd < 0 ? -errno : 0;
		if (err == -EEXIST && !(fi->flags & O_EXCL)) {
			fd = backing_open_existing(dirfd, name, flags);
			err = fd < 0 ? fd : 0;
		}
		rfs_as_daemon(&saved);
		if (fd >= 0)
			break;
		flags = retry_flags(flags, err, &upgraded);
		if (flags < 0) {
			backing_put_dir(ref);
			/* whatever we knew of the name may be wrong */
			if (err == -EEXIST || err == -ELOOP || err == -EISDIR ||
			    err == -ESTALE)
				dcache_inval_entry(rfs.dc, parent, name,
						   DC_SRC_LOCAL);
			rfs_reply_err(req, err);
			return;
		}
	}
	err = rfs_dirsync(dirfd);
	backing_put_dir(ref);
	if (err)
		goto fail;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto fail;
	}
	dc_attr_from_stat(&attr, &st);
	err = dcache_instantiate(rfs.dc, parent, name, &attr, NULL,
				 DC_WANT_KREF, &res);
	if (err)
		goto fail;
	err = rfs_open_add(res.nodeid, fd);
	if (err) {
		dcache_forget(rfs.dc, res.nodeid, 1);
		goto fail;
	}
	set_open_reply(fi, res.nodeid, fd);
	rfs_fill_entry(&e, &res);
	/* PASSTHROUGH hook: pt_reply_create in place of fuse_reply_create */
	if (pt_reply_create(req, res.nodeid, fd, &e, fi) == -ENOENT) {
		/* interrupted: no reference taken, no RELEASE will come */
		rfs_open_del(res.nodeid, fd);
		dcache_forget(rfs.dc, res.nodeid, 1);
		close(fd);
	}
	return;
fail:
	/* the file exists in SOURCE; the cache learns it on the next lookup */
	dcache_inval_entry(rfs.dc, parent, name, DC_SRC_LOCAL);
	close(fd);
	rfs_reply_err(req, err);
}

/* ---- data ---------------------------------------------------------------- */

/*
 * Must a change of the data of @fd by the caller of @req run as the
 * caller?  libfuse turns on FUSE_CAP_HANDLE_KILLPRIV, so the kernel leaves
 * clearing setuid/setgid on WRITE, FALLOCATE and COPY_FILE_RANGE to us;
 * SOURCE does it exactly as for the caller (CAP_FSETID, group membership
 * for a non-executable setgid file) when the syscall runs with the
 * caller's credentials.  Only a file with one of those bits needs it, so
 * other writes cost one fstat and no switch.  Call as the daemon.
 */
bool rfs_data_as_caller(fuse_req_t req, int fd)
{
	struct stat st;

	if (!rfs_caller_is_other(req))
		return false;
	return fstat(fd, &st) < 0 || (st.st_mode & (S_ISUID | S_ISGID));
}

void rfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
	      struct fuse_file_info *fi)
{
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	rfs_thread_enter();
	buf.buf[0].flags =
		FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	/* libfuse replies with the error itself when the copy fails */
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
	/*
	 * The read may have moved the atime on SOURCE; the kernel drops its
	 * own after every read and asks again, so the cached one must go
	 * too (cheap: the next GETATTR asks SOURCE).  Not with noatime or
	 * a read-only mount, and not for an O_NOATIME open.
	 */
	if (rfs.atime_moves && !(fi->flags & O_NOATIME))
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
}

/* Copy @src to @fd at @off. */
static ssize_t write_to_fd(int fd, off_t off, struct fuse_bufvec *src)
{
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(src));

	out.buf[0].flags =
		FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
	out.buf[0].fd = fd;
	out.buf[0].pos = off;
	return fuse_buf_copy(&out, src, 0);
}

/*
 * O_DIRECT wants aligned memory; the data of a WRITE request sits after
 * its header.  Go through a page-aligned copy (the offset and length are
 * the caller's, as on SOURCE).  When they are not aligned either and
 * @may_buffer (the data comes from the kernel's page cache: writeback of
 * a mapping, whose last page ends at the file's end, or the file is no
 * longer O_DIRECT), write it through a new, buffered open of the same
 * file: only a direct write by the caller must fail as on SOURCE.
 */
static ssize_t write_buffered(int fd, off_t off, const void *p, size_t n)
{
	char proc[64];
	ssize_t r;
	int b;

	backing_proc_path(fd, proc);
	b = open(proc, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (b < 0)
		return -errno;
	r = pwrite(b, p, n, off);
	if (r < 0)
		r = -errno;
	close(b);
	return r;
}

static ssize_t write_aligned(int fd, off_t off, struct fuse_bufvec *src,
			     bool may_buffer)
{
	size_t size = fuse_buf_size(src);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
	long page = sysconf(_SC_PAGESIZE);
	ssize_t n, r;
	void *p;

	if (posix_memalign(&p, page > 0 ? (size_t)page : 4096, size ? size : 1))
		return -ENOMEM;
	mem.buf[0].mem = p;
	n = fuse_buf_copy(&mem, src, FUSE_BUF_NO_SPLICE);
	if (n > 0) {
		struct fuse_bufvec in = FUSE_BUFVEC_INIT((size_t)n);

		in.buf[0].mem = p;
		r = write_to_fd(fd, off, &in);
		if (r == -EINVAL && may_buffer)
			r = write_buffered(fd, off, p, (size_t)n);
		n = r;
	}
	free(p);
	return n;
}

/*
 * After a direct write (the file is O_DIRECT: the kernel sends its flags
 * with every WRITE), drop the written range from the kernel's page cache
 * before replying.  The kernel drops it itself before a direct write and,
 * for a synchronous one, after; but an asynchronous one (io_submit)
 * completes with our reply and nothing drops the pages that buffered
 * readers brought back in meanwhile: they would read stale data
 * (xfstests generic/451).  So this handler notifies the kernel itself,
 * which is safe only while other workers are free: the kernel may wait
 * for a page under a READ that another worker must answer.  At most half
 * of the workers notify at once (none with -s); beyond that the notifier
 * thread does it after the reply (it runs in the watch mode with its
 * watcher, and in the timeout and exclusive modes; otherwise nobody does:
 * the pages may then stay stale until they are dropped).
 */
static atomic_uint dio_notifying;

static void dio_written(fuse_ino_t ino, off_t off, size_t len)
{
	unsigned max = rfs.o.singlethread ? 0 : rfs.o.threads / 2;
	int err;

	if (atomic_fetch_add(&dio_notifying, 1) < max) {
		err = fuse_lowlevel_notify_inval_inode(rfs.se, ino, off,
						       (off_t)len);
		if (err && err != -ENOENT)
			rfs_queue_inval_data(ino, off);
	} else {
		rfs_queue_inval_data(ino, off);
	}
	atomic_fetch_sub(&dio_notifying, 1);
}

void rfs_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
		   off_t off, struct fuse_file_info *fi)
{
	struct rfs_saved saved = {0};
	int fd = (int)fi->fh, fl, err;
	bool killpriv;
	ssize_t n;

	rfs_thread_enter();
	if ((killpriv = rfs_data_as_caller(req, fd))) {
		err = rfs_as_caller(req, &saved);
		if (err) {
			rfs_reply_err(req, err);
			return;
		}
	}
	n = write_to_fd(fd, off, bufv);
	/* nothing was written (nor consumed) when O_DIRECT refused */
	if (n == -EINVAL && (fl = fcntl(fd, F_GETFL)) >= 0 && (fl & O_DIRECT))
		n = write_aligned(fd, off, bufv,
				  fi->writepage || !(fi->flags & O_DIRECT));
	rfs_as_daemon(&saved);
	/* even a failed write may have changed something */
	rfs_attr_changed(ino);
	if (killpriv)
		/* SOURCE may have cleared setuid/setgid where the kernel did
		 * not (a group-only setgid): its cached mode is stale */
		rfs_queue_inval_attr(ino);
	if (n > 0 && (fi->flags & O_DIRECT) && !fi->writepage)
		dio_written(ino, off, (size_t)n);
	if (n < 0)
		rfs_reply_err(req, (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

/* ---- flush, release, fsync -------------------------------------------- */

void rfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int fd, err = 0;

	rfs_thread_enter();
	/* a close by the owner drops all its POSIX locks on the file */
	rfs_locks_flush(ino, fi->lock_owner);
	/* a close of a copy reports what a close would (NFS: write errors) */
	fd = dup((int)fi->fh);
	if (fd < 0)
		err = -errno;
	else if (close(fd) < 0 && errno != EINTR)
		err = -errno;
	rfs_reply_err(req, err);
}

void rfs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	rfs_thread_enter();
	/* the locks of every owner that locked through this open, and its
	 * flock lock, first: the kernel does not wait for RELEASE, so a
	 * waiter's next request may already be on its way */
	rfs_open_del(ino, (int)fi->fh);
	if (fi->flock_release)
		flock((int)fi->fh, LOCK_UN);
	pt_release(ino, (int)fi->fh); /* PASSTHROUGH hook */
	close((int)fi->fh);
	rfs_reply_err(req, 0);
}

void rfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
	       struct fuse_file_info *fi)
{
	int fd = (int)fi->fh, r;

	(void)ino;
	rfs_thread_enter();
	r = datasync ? fdatasync(fd) : fsync(fd);
	rfs_reply_err(req, r < 0 ? -errno : 0);
}
