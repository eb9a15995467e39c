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
 * from an owner drops exactly that owner's locks and closes its fd.
 * Limitations: l_pid in a GETLK answer is the holder's pid when the holder
 * locked through this mount and can be identified (otherwise a classic
 * lock's holder pid as SOURCE reports it, or 0 when unknown); OFD locks
 * have no deadlock detection (no EDEADLK); a waiting SETLKW occupies a
 * worker thread until granted or interrupted.
 *
 * flock(2) locks belong to the open file description, which is exactly
 * the FUSE open and its backing fd: forwarded as they are.
 *
 * Interrupts.  A blocking lock request waits in fcntl/flock on a worker.
 * When the kernel interrupts the request (the caller got a signal), the
 * interrupt callback sends the worker an otherwise unused real-time signal
 * whose handler does nothing and is installed without SA_RESTART, so the
 * wait ends with EINTR.  A signal that lands between the check of the
 * interrupted flag and the start of the wait is lost; the wait then lasts
 * until the lock is granted.
 */
#include "rcufs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ---- open files by node id ---------------------------------------------- */

/*
 * Every open's fd (files here, directories in ops_dir.c), by node id, so
 * that requests which come without a file handle (fstat, fchmod, fgetxattr of an unlinked file: the kernel sends
 * no fh for them) can still reach the object once no name leads to it.
 */
struct ofile {
	struct ofile *next; /* of_lock */
	uint64_t nodeid;    /* immutable */
	int fd;		    /* immutable; open while listed */
};

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
	pthread_mutex_lock(&of_lock);
	f->next = *of_bucket(nodeid);
	*of_bucket(nodeid) = f;
	pthread_mutex_unlock(&of_lock);
	return 0;
}

/* Unlist @fd (before it is closed). */
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
	free(f);
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
	fi->keep_cache = rfs.o.writeback || rfs_kernel_may_cache();
	if (fi->flags & O_DIRECT)
		fi->direct_io = 1;
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
	if (fuse_reply_open(req, fi) == -ENOENT) {
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
	backing_put_dir(ref);
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
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
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

	(void)ino;
	rfs_thread_enter();
	buf.buf[0].flags =
		FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK | FUSE_BUF_FD_RETRY;
	buf.buf[0].fd = (int)fi->fh;
	buf.buf[0].pos = off;
	/* libfuse replies with the error itself when the copy fails */
	fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
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
 * the caller's, as on SOURCE).
 */
static ssize_t write_aligned(int fd, off_t off, struct fuse_bufvec *src)
{
	size_t size = fuse_buf_size(src);
	struct fuse_bufvec mem = FUSE_BUFVEC_INIT(size);
	long page = sysconf(_SC_PAGESIZE);
	ssize_t n;
	void *p;

	if (posix_memalign(&p, page > 0 ? (size_t)page : 4096, size ? size : 1))
		return -ENOMEM;
	mem.buf[0].mem = p;
	n = fuse_buf_copy(&mem, src, FUSE_BUF_NO_SPLICE);
	if (n > 0) {
		struct fuse_bufvec in = FUSE_BUFVEC_INIT((size_t)n);

		in.buf[0].mem = p;
		n = write_to_fd(fd, off, &in);
	}
	free(p);
	return n;
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
		n = write_aligned(fd, off, bufv);
	rfs_as_daemon(&saved);
	/* even a failed write may have changed something */
	attr_changed(ino);
	if (killpriv)
		/* SOURCE may have cleared setuid/setgid where the kernel did
		 * not (a group-only setgid): its cached mode is stale */
		rfs_queue_inval_attr(ino);
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

/* ---- interruptible waits ------------------------------------------------ */

struct lkwait {
	pthread_t thread;
	atomic_int interrupted;
};

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

/* Called by libfuse with the request's lock held; do not block. */
static void lk_interrupt(fuse_req_t req, void *data)
{
	struct lkwait *w = data;

	(void)req;
	atomic_store(&w->interrupted, 1);
	if (lk_signo)
		pthread_kill(w->thread, lk_signo);
}

/*
 * A blocking lock call: fcntl(@fd, F_OFD_SETLKW, @fl) when @fl is given,
 * else flock(@fd, @op).  Returns 0 or a negative errno (-EINTR when the
 * kernel interrupted the request).
 */
static int lk_wait(fuse_req_t req, int fd, struct flock *fl, int op)
{
	struct lkwait w;
	int r, err;

	pthread_once(&lk_sig_once, lk_sig_setup);
	w.thread = pthread_self();
	atomic_init(&w.interrupted, 0);
	fuse_req_interrupt_func(req, lk_interrupt, &w);
	for (;;) {
		if (atomic_load(&w.interrupted)) {
			err = -EINTR;
			break;
		}
		r = fl ? fcntl(fd, F_OFD_SETLKW, fl) : flock(fd, op);
		err = r < 0 ? -errno : 0;
		if (err != -EINTR)
			break;
		/* EINTR without an interrupt (a stray signal): wait again */
	}
	/* no callback may run once we return (w is on our stack) */
	fuse_req_interrupt_func(req, NULL, NULL);
	return err;
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
	fl.l_pid = 0; /* OFD locks require it */
	if (sleep && !unlock) {
		err = lk_wait(req, o->fd, &fl, 0);
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
	if ((op & LOCK_NB) || (op & LOCK_UN))
		err = flock(fd, op) < 0 ? -errno : 0;
	else
		err = lk_wait(req, fd, NULL, op);
	rfs_reply_err(req, err);
}

/* ---- flush, release, fsync -------------------------------------------- */

void rfs_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
	struct lkowner *o;
	int fd, err = 0;

	rfs_thread_enter();
	/* a close by the owner drops all its POSIX locks on the file */
	pthread_mutex_lock(&lk_lock);
	o = lk_find_locked(ino, fi->lock_owner);
	if (o) {
		lk_unhash_locked(o); /* the hash's reference is now ours */
		if (fcntl(o->fd, F_OFD_SETLK, &fl) < 0)
			err = -errno;
	}
	pthread_mutex_unlock(&lk_lock);
	if (o) {
		if (err)
			rfs_warn("unlock on close of %lu: %s",
				 (unsigned long)ino, strerror(-err));
		lk_put(o);
		err = 0;
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
