/* SPDX-License-Identifier: MIT */
/*
 * fs/ops_file.c - OPEN, CREATE, READ, WRITE, FLUSH, RELEASE, FSYNC, the
 * locks (GETLK, SETLK, FLOCK), FALLOCATE, COPY_FILE_RANGE and LSEEK.
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
 * POSIX record locks.  The kernel forwards fcntl locks with a lock owner
 * (one per process, i.e. per files_struct) and expects POSIX semantics:
 * locks belong to the owner, not to an fd; the same owner never conflicts
 * with itself, whichever fd it uses; closing any fd of the file (FLUSH,
 * which carries the owner) drops all of that owner's locks on it.  The
 * daemon is one process, so classic POSIX locks on SOURCE would all have
 * the same owner.  They are mapped onto open file description (OFD) locks:
 * for each (inode, lock owner) there is one private backing fd, reopened
 * from an fd of the file, and that owner's locks live on it.  So two
 * processes through the mount exclude each other (and processes locking
 * SOURCE directly) as they would on SOURCE, a process never conflicts with
 * itself through two opens, a forked child is another owner, and FLUSH
 * from an owner drops exactly that owner's locks.  OFD locks taken
 * through the mount (F_OFD_SETLK) reach us the same way, with the open
 * file as their owner; no FLUSH ever names that owner, so RELEASE drops
 * the locks of every owner that locked through the open being released
 * ("locks end with their open" below).
 * Limitations: l_pid in a GETLK answer is the holder's pid when the holder
 * locked through this mount and can be identified (otherwise a classic
 * lock's holder pid as SOURCE reports it, or 0 when unknown); OFD locks
 * have no deadlock detection (no EDEADLK).  A request that must wait
 * waits on a thread of its own, never on a worker ("blocking waits").
 *
 * flock(2) locks belong to the open file description, which is exactly
 * the FUSE open and its backing fd: forwarded as they are.
 *
 * Interrupts: see "blocking waits" below.
 */
#include "rcufs.h"
#include "passthrough.h" /* PASSTHROUGH hook */

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

/* ---- open files by node id ---------------------------------------------- */

/*
 * Every open's fd (files here, directories in ops_dir.c), by node id, so
 * that requests which come without a file handle (fstat, fchmod, fgetxattr of an unlinked file: the kernel sends
 * no fh for them) can still reach the object once no name leads to it.
 */
struct lkowner;
struct lkref {
	struct lkref *next;
	struct lkowner *o; /* referenced */
};

struct ofile {
	struct ofile *next;  /* of_lock */
	uint64_t nodeid;     /* immutable */
	int fd;		     /* immutable; open while listed */
	struct lkref *locks; /* of_lock: owners that locked through it */
};

static void lk_drop_refs(struct lkref *l);

#define OF_HASH 1024
static pthread_mutex_t of_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ofile *of_hash[OF_HASH];

static struct ofile **of_bucket(uint64_t nodeid)
{
	return &of_hash[(nodeid ^ (nodeid >> 10)) % OF_HASH];
}

int rfs_open_add(uint64_t nodeid, int fd)
{
	struct ofile *f = malloc(sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->nodeid = nodeid;
	f->fd = fd;
	f->locks = NULL;
	pthread_mutex_lock(&of_lock);
	f->next = *of_bucket(nodeid);
	*of_bucket(nodeid) = f;
	pthread_mutex_unlock(&of_lock);
	return 0;
}

/*
 * Unlist @fd (before it is closed): the open is released, so every lock
 * taken through it that its owner still holds goes (see "Locks end with
 * their open" below).
 */
void rfs_open_del(uint64_t nodeid, int fd)
{
	struct ofile **pp, *f = NULL;

	pthread_mutex_lock(&of_lock);
	for (pp = of_bucket(nodeid); *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd && (*pp)->nodeid == nodeid) {
			f = *pp;
			*pp = f->next;
			break;
		}
	}
	pthread_mutex_unlock(&of_lock);
	if (f) {
		lk_drop_refs(f->locks);
		free(f);
	}
}

/*
 * A new fd (F_DUPFD_CLOEXEC) of an open file of @nodeid, or -ESTALE when
 * nothing has it open.  The caller closes it.
 */
int rfs_file_dup(uint64_t nodeid)
{
	struct ofile *f;
	int fd = -ESTALE;

	pthread_mutex_lock(&of_lock);
	for (f = *of_bucket(nodeid); f; f = f->next) {
		if (f->nodeid == nodeid) {
			/* under the lock: the fd cannot be closed meanwhile */
			fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0)
				fd = -errno;
			break;
		}
	}
	pthread_mutex_unlock(&of_lock);
	return fd;
}

/* ---- open and create ----------------------------------------------------- */

/* The attributes of @ino changed through an fd (size, times). */
static void attr_changed(fuse_ino_t ino)
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
static void set_open_reply(struct fuse_file_info *fi, int fd)
{
	fi->fh = (uint64_t)fd;
	/* the page cache survives a reopen when changes made directly in
	 * SOURCE cannot happen (exclusive) or are watched (they drop it) */
	fi->keep_cache =
		(rfs.o.writeback || rfs_kernel_may_cache()) && !rfs.atime_exact;
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
	if (flags & O_TRUNC)
		attr_changed(ino);
	err = rfs_open_add(ino, fd);
	if (err) {
		close(fd);
		rfs_reply_err(req, err);
		return;
	}
	set_open_reply(fi, fd);
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
	set_open_reply(fi, fd);
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
static bool data_as_caller(fuse_req_t req, int fd)
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
 * thread of coherence=watch does it after the reply (or, in other modes,
 * nobody: the pages may then stay stale until they are dropped).
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
	if ((killpriv = data_as_caller(req, fd))) {
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
	attr_changed(ino);
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

/* ---- POSIX locks as OFD locks ----------------------------------------- */

/* One lock owner's locks on one inode (see the comment at the top). */
struct lkowner {
	struct lkowner *next; /* lk_lock; in lk_hash while hashed */
	uint64_t nodeid;      /* immutable */
	uint64_t owner;	      /* immutable: the kernel's lock owner */
	int fd;		      /* immutable: private, locks live here */
	pid_t pid;	      /* lk_lock: the owner's process */
	unsigned refs;	      /* lk_lock: the hash's and the users' */
	bool hashed;	      /* lk_lock */
};

#define LK_HASH 256
static pthread_mutex_t lk_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lkowner *lk_hash[LK_HASH]; /* by nodeid: owners together */

static struct lkowner **lk_bucket(uint64_t nodeid)
{
	return &lk_hash[(nodeid ^ (nodeid >> 8)) % LK_HASH];
}

/* Caller holds lk_lock. */
static struct lkowner *lk_find_locked(uint64_t nodeid, uint64_t owner)
{
	struct lkowner *o;

	for (o = *lk_bucket(nodeid); o; o = o->next)
		if (o->nodeid == nodeid && o->owner == owner)
			return o;
	return NULL;
}

/* Caller holds lk_lock; unhash @o (drops nothing). */
static void lk_unhash_locked(struct lkowner *o)
{
	struct lkowner **pp;

	for (pp = lk_bucket(o->nodeid); *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	o->hashed = false;
}

static void lk_put(struct lkowner *o)
{
	unsigned refs;

	pthread_mutex_lock(&lk_lock);
	refs = --o->refs;
	pthread_mutex_unlock(&lk_lock);
	if (refs)
		return;
	close(o->fd); /* drops whatever is still locked on it */
	free(o);
}

/*
 * A private fd for the locks: the same file as @fh, a new open file
 * description.  Read-write when possible, so that one owner can take read
 * and write locks whichever of its fds it uses; else @fh's access mode
 * (the kernel checked the caller's fd for the lock type already).
 */
static int lk_reopen(int fh)
{
	char proc[64];
	int fl, fd, err;

	backing_proc_path(fh, proc);
	fd = open(proc, O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (fd >= 0)
		return fd;
	err = -errno;
	fl = fcntl(fh, F_GETFL);
	if (fl < 0)
		return -errno;
	if ((fl & O_ACCMODE) == O_RDWR)
		return err;
	fd = open(proc, (fl & O_ACCMODE) | O_CLOEXEC | O_NOCTTY);
	return fd < 0 ? -errno : fd;
}

/*
 * The referenced lock owner of (@nodeid, @owner), created if @create.
 * NULL with *err = 0 when it does not exist and !@create.
 */
static struct lkowner *lk_get(uint64_t nodeid, uint64_t owner, int fh,
			      pid_t pid, bool create, int *err)
{
	struct lkowner *o, *mine;
	int fd;

	*err = 0;
	pthread_mutex_lock(&lk_lock);
	o = lk_find_locked(nodeid, owner);
	if (o) {
		o->refs++;
		if (pid > 0)
			o->pid = pid;
	}
	pthread_mutex_unlock(&lk_lock);
	if (o || !create)
		return o;

	mine = calloc(1, sizeof(*mine));
	if (!mine) {
		*err = -ENOMEM;
		return NULL;
	}
	fd = lk_reopen(fh);
	if (fd < 0) {
		free(mine);
		*err = fd;
		return NULL;
	}
	mine->nodeid = nodeid;
	mine->owner = owner;
	mine->fd = fd;
	mine->pid = pid;
	mine->refs = 2; /* the hash's and ours */
	mine->hashed = true;

	pthread_mutex_lock(&lk_lock);
	o = lk_find_locked(nodeid, owner); /* another thread of the owner */
	if (o) {
		o->refs++;
	} else {
		mine->next = *lk_bucket(nodeid);
		*lk_bucket(nodeid) = mine;
	}
	pthread_mutex_unlock(&lk_lock);
	if (o) {
		close(fd);
		free(mine);
		return o;
	}
	return mine;
}

/*
 * Who holds @fl, the conflict F_OFD_GETLK found for @me?  An OFD lock has
 * no pid, so look among the other owners of the inode for the one that
 * alone holds the range: its own query ignores its locks and finds the
 * range free.  0 when unknown (several holders, or a holder outside).
 */
static pid_t lk_holder(const struct lkowner *me, const struct flock *fl)
{
	struct lkowner *o;
	struct flock t;
	pid_t pid = 0;

	pthread_mutex_lock(&lk_lock);
	for (o = *lk_bucket(me->nodeid); o; o = o->next) {
		if (o == me || o->nodeid != me->nodeid)
			continue;
		memset(&t, 0, sizeof(t));
		t.l_type = F_WRLCK;
		t.l_whence = SEEK_SET;
		t.l_start = fl->l_start;
		t.l_len = fl->l_len;
		/* non-blocking; under the lock so that o->fd stays open */
		if (fcntl(o->fd, F_OFD_GETLK, &t) == 0 && t.l_type == F_UNLCK) {
			pid = o->pid;
			break;
		}
	}
	pthread_mutex_unlock(&lk_lock);
	return pid;
}

/* ---- locks end with their open ------------------------------------------ */

/*
 * The kernel tells which open a lock request came through (fi->fh) but
 * not whether it is a POSIX lock (owner: the process's file table, ended
 * by FLUSH) or an OFD lock (owner: the open file itself, which no FLUSH
 * names: the kernel sends nothing when the open is released).  So every
 * owner that takes a lock through an open is registered with it, and
 * RELEASE drops those still hashed.  That is right for both kinds: an OFD
 * owner locks through that one open only, and a POSIX owner that locked
 * through it closed it (a FLUSH, which unhashed it) before the open could
 * be released -- a later lock by that process makes a new owner entry,
 * registered with the open it used.
 */
static void lk_register(uint64_t nodeid, int fh, struct lkowner *o)
{
	struct lkref *l, *mine = malloc(sizeof(*mine));
	struct ofile *f;

	pthread_mutex_lock(&of_lock);
	for (f = *of_bucket(nodeid); f; f = f->next)
		if (f->nodeid == nodeid && f->fd == fh)
			break;
	for (l = f ? f->locks : NULL; l; l = l->next)
		if (l->o == o)
			break;
	if (f && !l && mine) {
		pthread_mutex_lock(&lk_lock);
		/* not one a FLUSH just ended (lk_unregister ran already) */
		if (o->hashed) {
			o->refs++;
			mine->o = o;
			mine->next = f->locks;
			f->locks = mine;
			mine = NULL;
		}
		pthread_mutex_unlock(&lk_lock);
	}
	pthread_mutex_unlock(&of_lock);
	/* without memory the lock still works; it lasts until the owner's
	 * FLUSH (a POSIX owner) or the unmount */
	free(mine);
}

/* Unhash @o and drop every lock it holds (FLUSH of a POSIX owner, RELEASE
 * of the open an owner locked through).  Returns whether it was hashed. */
static bool lk_end_owner(struct lkowner *o)
{
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
	bool was;
	int err = 0;

	pthread_mutex_lock(&lk_lock);
	was = o->hashed;
	if (was) {
		lk_unhash_locked(o); /* the hash's reference is now ours */
		if (fcntl(o->fd, F_OFD_SETLK, &fl) < 0)
			err = errno;
	}
	pthread_mutex_unlock(&lk_lock);
	if (err)
		rfs_warn("unlock of %lu: %s", (unsigned long)o->nodeid,
			 strerror(err));
	if (was)
		lk_put(o);
	return was;
}

/*
 * @o was ended by its FLUSH: unregister it from the opens of its inode
 * now, so that its fd is closed at once rather than when they are
 * released (a long-lived open shared by many short-lived processes).
 */
static void lk_unregister(struct lkowner *o)
{
	struct lkref *gone = NULL, **pp, *l;
	struct ofile *f;

	pthread_mutex_lock(&of_lock);
	for (f = *of_bucket(o->nodeid); f; f = f->next) {
		if (f->nodeid != o->nodeid)
			continue;
		for (pp = &f->locks; *pp;) {
			l = *pp;
			if (l->o == o) {
				*pp = l->next;
				l->next = gone;
				gone = l;
			} else {
				pp = &l->next;
			}
		}
	}
	pthread_mutex_unlock(&of_lock);
	for (; gone; gone = l) {
		l = gone->next;
		lk_put(gone->o);
		free(gone);
	}
}

static void lk_drop_refs(struct lkref *l)
{
	struct lkref *next;

	for (; l; l = next) {
		next = l->next;
		lk_end_owner(l->o);
		lk_put(l->o);
		free(l);
	}
}

/* ---- blocking waits, off the worker threads ----------------------------- */

/*
 * A lock request that must wait (SETLKW, flock without LOCK_NB) never
 * waits on a libfuse worker: the handler hands it to a thread of its own
 * and returns, and that thread waits in fcntl/flock, replies and ends.
 * So any number of waiters leave every worker free for the unlock, FLUSH
 * or RELEASE that will end their wait (xfstests generic/478 used to hang
 * the daemon with as many waiters as workers).  Waiters are bounded
 * (LK_MAX_WAITERS; one more is answered ENOLCK), each costs a small stack.
 *
 * Interrupts.  When the kernel interrupts a waiting request (the caller
 * got a signal), the interrupt callback sends the waiter thread an
 * otherwise unused real-time signal whose handler does nothing and is
 * installed without SA_RESTART, so the wait ends with EINTR.  A signal
 * that lands between the check of the interrupted flag and the start of
 * the wait is lost; the wait then lasts until the lock is granted.  At
 * unmount, rfs_locks_stop() interrupts every waiter the same way (again
 * and again, which also covers that race) and waits for them.
 */
#define LK_MAX_WAITERS 1024
#define LK_WAITER_STACK (128 * 1024)

struct lkwaiter {
	struct lkwaiter *next; /* lw_lock */
	fuse_req_t req;
	struct lkowner *o; /* SETLKW: referenced, wait on o->fd */
	int fd;		   /* flock: the open's fd */
	int op;		   /* flock operation */
	struct flock fl;   /* SETLKW */
	pthread_t thread;  /* set by the thread before it can be signalled */
	atomic_int interrupted;
	atomic_int started; /* thread is set */
};

static pthread_mutex_t lw_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lkwaiter *lw_list; /* lw_lock */
static unsigned lw_count;	 /* lw_lock */
static bool lw_stopping;	 /* lw_lock */

static int lk_signo;
static pthread_once_t lk_sig_once = PTHREAD_ONCE_INIT;

static void lk_sig_handler(int sig)
{
	(void)sig; /* only to end a blocking call with EINTR */
}

static void lk_sig_setup(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = lk_sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0; /* no SA_RESTART: the wait must end */
	lk_signo = SIGRTMIN + 3;
	if (sigaction(lk_signo, &sa, NULL) < 0) {
		rfs_warn("lock waits cannot be interrupted: sigaction: %s",
			 strerror(errno));
		lk_signo = 0;
	}
}

/* Caller holds the request's lock (libfuse) or lw_lock; does not block. */
static void lk_kick(struct lkwaiter *w)
{
	atomic_store(&w->interrupted, 1);
	if (lk_signo && atomic_load(&w->started))
		pthread_kill(w->thread, lk_signo);
}

/* Called by libfuse with the request's lock held; do not block. */
static void lk_interrupt(fuse_req_t req, void *data)
{
	(void)req;
	lk_kick(data);
}

static void *lk_waiter_main(void *arg)
{
	struct lkwaiter *w = arg, **pp;
	int r, err;

	w->thread = pthread_self();
	atomic_store(&w->started, 1);
	/* runs the callback at once if the request was interrupted already */
	fuse_req_interrupt_func(w->req, lk_interrupt, w);
	for (;;) {
		if (atomic_load(&w->interrupted)) {
			err = -EINTR;
			break;
		}
		r = w->o ? fcntl(w->o->fd, F_OFD_SETLKW, &w->fl)
			 : flock(w->fd, w->op);
		err = r < 0 ? -errno : 0;
		if (err != -EINTR)
			break;
		/* EINTR without an interrupt (a stray signal): wait again */
	}
	/* no callback may run once we go on (w is freed below) */
	fuse_req_interrupt_func(w->req, NULL, NULL);
	if (w->o)
		lk_put(w->o);
	rfs_reply_err(w->req, err);

	pthread_mutex_lock(&lw_lock);
	for (pp = &lw_list; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	lw_count--;
	pthread_mutex_unlock(&lw_lock);
	free(w);
	return NULL;
}

/*
 * Hand a blocking lock request to a waiter thread: fcntl(@o->fd,
 * F_OFD_SETLKW, @fl) when @o is given (its reference passes to the
 * waiter), else flock(@fd, @op).  It replies.  Returns 0, or a negative
 * errno when no waiter could start (then the caller replies and still
 * owns @o's reference).
 */
static int lk_wait_async(fuse_req_t req, struct lkowner *o,
			 const struct flock *fl, int fd, int op)
{
	struct lkwaiter *w;
	pthread_attr_t attr;
	pthread_t t;
	int err;

	pthread_once(&lk_sig_once, lk_sig_setup);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOLCK;
	w->req = req;
	w->o = o;
	w->fd = fd;
	w->op = op;
	if (fl)
		w->fl = *fl;
	atomic_init(&w->interrupted, 0);
	atomic_init(&w->started, 0);

	pthread_mutex_lock(&lw_lock);
	if (lw_stopping || lw_count >= LK_MAX_WAITERS) {
		pthread_mutex_unlock(&lw_lock);
		free(w);
		return -ENOLCK;
	}
	w->next = lw_list;
	lw_list = w;
	lw_count++;
	pthread_mutex_unlock(&lw_lock);

	err = pthread_attr_init(&attr);
	if (!err) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, LK_WAITER_STACK);
		err = pthread_create(&t, &attr, lk_waiter_main, w);
		pthread_attr_destroy(&attr);
	}
	if (!err)
		return 0;
	pthread_mutex_lock(&lw_lock);
	for (struct lkwaiter **pp = &lw_list; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	lw_count--;
	pthread_mutex_unlock(&lw_lock);
	free(w);
	return -ENOLCK;
}

void rfs_locks_stop(void)
{
	struct lkwaiter *w;
	unsigned left;
	int i;

	for (i = 0; i < 500; i++) { /* at most 5 s */
		pthread_mutex_lock(&lw_lock);
		lw_stopping = true;
		for (w = lw_list; w; w = w->next)
			lk_kick(w);
		left = lw_count;
		pthread_mutex_unlock(&lw_lock);
		if (!left)
			return;
		usleep(10000);
	}
	rfs_warn("%u lock waiters did not end", left);
}

/* ---- lock handlers ------------------------------------------------------ */

static pid_t lk_pid(fuse_req_t req, const struct flock *lock)
{
	return lock->l_pid > 0 ? lock->l_pid : fuse_req_ctx(req)->pid;
}

void rfs_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	       struct flock *lock)
{
	struct lkowner *o;
	struct flock fl = *lock;
	int fd, err;

	rfs_thread_enter();
	o = lk_get(ino, fi->lock_owner, (int)fi->fh, 0, false, &err);
	/*
	 * An owner with no locks may ask through the open's own fd: it never
	 * holds POSIX locks, so every lock on the file is someone else's.
	 */
	fd = o ? o->fd : (int)fi->fh;
	fl.l_pid = 0;
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0) {
		err = -errno;
		goto out;
	}
	if (fl.l_type != F_UNLCK && fl.l_pid <= 0) {
		struct lkowner self = {.nodeid = ino, .fd = fd};

		fl.l_pid = lk_holder(o ? o : &self, &fl);
	}
	err = 0;
out:
	if (o)
		lk_put(o);
	if (err)
		rfs_reply_err(req, err);
	else
		fuse_reply_lock(req, &fl);
}

void rfs_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	       struct flock *lock, int sleep)
{
	bool unlock = lock->l_type == F_UNLCK;
	struct lkowner *o;
	struct flock fl = *lock;
	int err;

	rfs_thread_enter();
	o = lk_get(ino, fi->lock_owner, (int)fi->fh, lk_pid(req, lock), !unlock,
		   &err);
	if (!o) {
		/* unlocking what was never locked: nothing to do */
		rfs_reply_err(req, err);
		return;
	}
	if (!unlock)
		lk_register(ino, (int)fi->fh, o);
	fl.l_pid = 0; /* OFD locks require it */
	if (sleep && !unlock) {
		err = lk_wait_async(req, o, &fl, -1, 0);
		if (!err)
			return; /* the waiter replies and puts o */
	} else {
		err = fcntl(o->fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
		if (err == -EACCES)
			err = -EAGAIN;
	}
	lk_put(o);
	rfs_reply_err(req, err);
}

void rfs_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
	       int op)
{
	int fd = (int)fi->fh, err;

	(void)ino;
	rfs_thread_enter();
	if ((op & LOCK_NB) || (op & LOCK_UN)) {
		err = flock(fd, op) < 0 ? -errno : 0;
	} else {
		/* the open cannot be released while its request waits */
		err = lk_wait_async(req, NULL, NULL, fd, op);
		if (!err)
			return;
	}
	rfs_reply_err(req, err);
}

/* ---- flush, release, fsync -------------------------------------------- */

void rfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct lkowner *o;
	int fd, err = 0;

	rfs_thread_enter();
	/* a close by the owner drops all its POSIX locks on the file */
	pthread_mutex_lock(&lk_lock);
	o = lk_find_locked(ino, fi->lock_owner);
	if (o)
		o->refs++;
	pthread_mutex_unlock(&lk_lock);
	if (o) {
		if (lk_end_owner(o))
			lk_unregister(o);
		lk_put(o);
	}
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
	pt_release(ino, (int)fi->fh); /* PASSTHROUGH hook */
	/* and the locks of every owner that locked through this open */
	rfs_open_del(ino, (int)fi->fh);
	/* drops the flock locks of this open with the fd */
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

/* ---- space, copies, holes ------------------------------------------------ */

void rfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		   off_t length, struct fuse_file_info *fi)
{
	struct rfs_saved saved = {0};
	bool killpriv;
	int err = 0;

	rfs_thread_enter();
	killpriv = data_as_caller(req, (int)fi->fh);
	if (killpriv)
		err = rfs_as_caller(req, &saved);
	if (!err) {
		err = fallocate((int)fi->fh, mode, offset, length) < 0 ? -errno
								       : 0;
		rfs_as_daemon(&saved);
	}
	attr_changed(ino);
	if (killpriv)
		rfs_queue_inval_attr(ino);
	rfs_reply_err(req, err);
}

void rfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			 off_t off_out, struct fuse_file_info *fi_out,
			 size_t len, int flags)
{
	struct rfs_saved saved = {0};
	bool saved_killpriv;
	ssize_t n;
	int err;

	(void)ino_in;
	rfs_thread_enter();
	if ((saved_killpriv = data_as_caller(req, (int)fi_out->fh))) {
		err = rfs_as_caller(req, &saved);
		if (err) {
			rfs_reply_err(req, err);
			return;
		}
	}
	n = copy_file_range((int)fi_in->fh, &off_in, (int)fi_out->fh, &off_out,
			    len, (unsigned)flags);
	err = n < 0 ? -errno : 0;
	rfs_as_daemon(&saved);
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	attr_changed(ino_out);
	if (saved_killpriv)
		rfs_queue_inval_attr(ino_out);
	fuse_reply_write(req, (size_t)n);
}

void rfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	       struct fuse_file_info *fi)
{
	off_t res;

	(void)ino;
	rfs_thread_enter();
	if (rfs.o.writeback) {
		/*
		 * Dirty pages in the kernel are not in SOURCE yet, so its
		 * holes would be wrong: ENOSYS makes the kernel answer
		 * itself (all data up to its size), for good.
		 */
		rfs_reply_err(req, -ENOSYS);
		return;
	}
	res = lseek((int)fi->fh, off, whence);
	if (res < 0)
		rfs_reply_err(req, -errno);
	else
		fuse_reply_lseek(req, res);
}

/* ---- ioctl ----------------------------------------------------------------- */

/*
 * Only the inode flag ioctls pass to SOURCE: FS_IOC_GETFLAGS/SETFLAGS and
 * FS_IOC_FSGETXATTR/FSSETXATTR (chattr, lsattr, xfs_io).  The kernel's
 * FUSE sends them (restricted, with fixed buffer sizes) when it reads or
 * changes the flags of a file or directory; the VFS checked ownership and
 * CAP_LINUX_IMMUTABLE already, and the change runs as the caller, so
 * SOURCE decides again as for the caller.  Every other ioctl is ENOTTY:
 * their arguments may be pointers into the caller's memory, and their
 * effects are not known here.
 */
void rfs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	       struct fuse_file_info *fi, unsigned flags, const void *in_buf,
	       size_t in_bufsz, size_t out_bufsz)
{
	unsigned ucmd = cmd;
	struct rfs_saved saved = {0};
	union {
		int flags;
		struct fsxattr fsx;
	} v;
	size_t size, out = 0;
	bool set;
	int fd, err;

	(void)arg;
	rfs_thread_enter();
	switch (ucmd) {
	case FS_IOC_GETFLAGS:
	case FS_IOC_SETFLAGS:
		size = sizeof(v.flags);
		set = ucmd == FS_IOC_SETFLAGS;
		break;
	case FS_IOC_FSGETXATTR:
	case FS_IOC_FSSETXATTR:
		size = sizeof(v.fsx);
		set = ucmd == FS_IOC_FSSETXATTR;
		break;
	default:
		rfs_reply_err(req, -ENOTTY);
		return;
	}
	if (flags & (FUSE_IOCTL_UNRESTRICTED | FUSE_IOCTL_COMPAT)) {
		rfs_reply_err(req, -ENOTTY);
		return;
	}
	if (set ? in_bufsz < size : out_bufsz < size) {
		rfs_reply_err(req, -EINVAL);
		return;
	}
	memset(&v, 0, sizeof(v));
	if (set)
		memcpy(&v, in_buf, size);
	/* a directory's handle is not an fd (ops_dir.c): open it anew */
	fd = (flags & FUSE_IOCTL_DIR)
		     ? backing_open(ino, O_RDONLY | O_DIRECTORY)
		     : (int)fi->fh;
	if (fd < 0) {
		rfs_reply_err(req, fd);
		return;
	}
	err = set ? rfs_as_caller(req, &saved) : 0;
	if (!err) {
		err = ioctl(fd, ucmd, &v) < 0 ? -errno : 0;
		rfs_as_daemon(&saved);
	}
	if (flags & FUSE_IOCTL_DIR)
		close(fd);
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	if (set) {
		/*
		 * The ctime moved, and the kernel keeps the attributes it has
		 * (for an hour with coherence=watch): tell it before the
		 * caller's chattr returns and stats.  Attributes only, no
		 * pages: the kernel takes no lock a request holds for this,
		 * so the handler may send it.
		 */
		attr_changed(ino);
		fuse_lowlevel_notify_inval_inode(rfs.se, ino, -1, 0);
	} else {
		out = size;
	}
	fuse_reply_ioctl(req, 0, out ? &v : NULL, out);
}
