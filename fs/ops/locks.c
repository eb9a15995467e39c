/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/locks.c - GETLK, SETLK, FLOCK: POSIX record locks emulated with
 * OFD locks, one private backing fd per (inode, lock owner), and blocking
 * waits off the worker threads.
 *
 * The kernel forwards fcntl locks with a lock owner (one per process,
 * i.e. per files_struct) and expects POSIX semantics:
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
#include "ops/ops_i.h"
#include "source/source.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

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

void lk_put(struct lkowner *o)
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

/* ---- locks end with their open (the registry: openfiles.c) ------------- */

bool lk_hold_if_hashed(struct lkowner *o)
{
	bool held;

	pthread_mutex_lock(&lk_lock);
	held = o->hashed;
	if (held)
		o->refs++;
	pthread_mutex_unlock(&lk_lock);
	return held;
}

/* Unhash @o and drop every lock it holds (FLUSH of a POSIX owner, RELEASE
 * of the open an owner locked through).  Returns whether it was hashed. */
bool lk_end_owner(struct lkowner *o)
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

void rfs_locks_flush(uint64_t nodeid, uint64_t owner)
{
	struct lkowner *o;

	pthread_mutex_lock(&lk_lock);
	o = lk_find_locked(nodeid, owner);
	if (o)
		o->refs++;
	pthread_mutex_unlock(&lk_lock);
	if (o) {
		if (lk_end_owner(o))
			rfs_open_lock_forget(nodeid, o);
		lk_put(o);
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
		rfs_open_lock_add(ino, (int)fi->fh, o);
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
