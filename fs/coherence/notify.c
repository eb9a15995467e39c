/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/notify.c - the kernel-notification queue and the notifier
 * thread: a leaf of the coherence layer (it calls nothing else of fs/
 * but the global state and the log; see notify.h).
 *
 * Kernel notifications are sent only by the notifier thread, from a queue:
 * the kernel takes directory locks to process them, and a request handler
 * (or the watcher) blocking there could deadlock against a request that
 * holds the lock and waits for the daemon (DESIGN.md section 8).  Queue
 * overflow: the kernel is told to drop every dentry
 * (FUSE_NOTIFY_INC_EPOCH, Linux 6.16), one warning.
 *
 * Threads and locks: q_lock protects the queue.  The notifier thread is
 * RCU registered (it walks the dcache after lost events).  Statistics are
 * relaxed atomics.
 */
#include "coherence/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QUEUE_MAX 65536

/* relaxed atomics */
static struct {
	uint64_t overflows;	/* queue overflows (everything dropped) */
	uint64_t notifies;	/* kernel notifications sent */
	uint64_t notify_errors; /* ... that failed (other than ENOENT) */
} nstats;

#define STAT_INC(f) __atomic_add_fetch(&nstats.f, 1, __ATOMIC_RELAXED)

enum note_op {
	NOTE_ENTRY, /* inval_entry(ino, name) */
	NOTE_INODE, /* inval_inode(ino, off, 0) */
	NOTE_ALL,   /* every dentry the kernel has (INC_EPOCH) */
};

struct note {
	struct note *next;
	enum note_op op;
	uint64_t ino;
	off_t off;
	size_t len;
	char name[];
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct note *q_head;	       /* q_lock */
static struct note **q_tail = &q_head; /* q_lock */
static unsigned q_len;		       /* q_lock */
static bool q_all, q_stop;	       /* q_lock */
/* atomic: the notifier must not send another note (the session fd may be
 * closed at any moment once this is set; checked before every send) */
static bool notify_off;

static pthread_t notifier_tid;
static bool started_flag; /* atomic: the notifier runs (for handlers) */

/* ---- kernel notifications (the notifier thread only) ---- */

static void queue_push(struct note *n)
{
	pthread_mutex_lock(&q_lock);
	if (q_all || q_stop) {
		free(n);
	} else if (q_len >= QUEUE_MAX) {
		/* everything will be invalidated: drop the details */
		free(n);
		q_all = true;
		STAT_INC(overflows);
		rfs_warn("kernel notification queue full: invalidating "
			 "every cached entry");
	} else {
		/* a repeat of the last note adds nothing (a write storm) */
		struct note *last =
			q_len ? (struct note *)((char *)q_tail -
						offsetof(struct note, next))
			      : NULL;

		if (last && last->op == n->op && last->ino == n->ino &&
		    last->off == n->off && last->len == n->len &&
		    !memcmp(last->name, n->name, n->len)) {
			free(n);
		} else {
			*q_tail = n;
			q_tail = &n->next;
			q_len++;
		}
	}
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

static void note(enum note_op op, uint64_t ino, off_t off, const char *name)
{
	size_t len = name ? strlen(name) : 0;
	struct note *n = malloc(sizeof(*n) + len + 1);

	if (!n) {
		pthread_mutex_lock(&q_lock);
		q_all = true;
		pthread_cond_signal(&q_cond);
		pthread_mutex_unlock(&q_lock);
		return;
	}
	n->next = NULL;
	n->op = op;
	n->ino = ino;
	n->off = off;
	n->len = len;
	memcpy(n->name, name ? name : "", len + 1);
	queue_push(n);
}

/*
 * Tell the kernel to drop every dentry: FUSE_NOTIFY_INC_EPOCH (code 8,
 * protocol 7.44, Linux 6.16) bumps the connection's epoch and every older
 * dentry fails revalidation.  libfuse 3.14 has no call for it; a
 * notification is a bare reply header with unique 0 and the code in the
 * error field, written to the session fd.
 */
static int kernel_inval_all(void)
{
	struct {
		uint32_t len;
		int32_t error;
		uint64_t unique;
	} hdr = {sizeof(hdr), 8, 0};
	static bool warned;

	if (write(fuse_session_fd(rfs.se), &hdr, sizeof(hdr)) ==
	    (ssize_t)sizeof(hdr))
		return 0;
	if (!warned) {
		warned = true;
		rfs_warn("this kernel cannot drop all FUSE dentries at once "
			 "(%s): names cached before the overflow may stay "
			 "stale until they time out",
			 strerror(errno));
	}
	return -errno;
}

static void send_note(const struct note *n)
{
	int err = 0;

	if (__atomic_load_n(&notify_off, __ATOMIC_ACQUIRE))
		return;
	switch (n->op) {
	case NOTE_ENTRY:
		err = fuse_lowlevel_notify_inval_entry(rfs.se, n->ino, n->name,
						       n->len);
		break;
	case NOTE_INODE:
		err = fuse_lowlevel_notify_inval_inode(rfs.se, n->ino, n->off,
						       0);
		break;
	case NOTE_ALL:
		err = kernel_inval_all();
		break;
	}
	STAT_INC(notifies);
	/* -ENOENT: the kernel does not have it cached, nothing to do */
	if (err && err != -ENOENT)
		STAT_INC(notify_errors);
}

/* After lost events: the kernel drops the attributes and cached data
 * (pages, symlink targets, listings) of every inode it holds. */
static void inval_kernel_inode(void *ctx, uint64_t nodeid, uint64_t nlookup)
{
	struct note n = {.op = NOTE_INODE, .ino = nodeid, .off = 0};

	(void)ctx;
	if (nlookup || nodeid == DC_ROOT_ID)
		send_note(&n);
}

static void *notifier_main(void *arg)
{
	struct note *n;
	bool all;

	(void)arg;
	dcache_thread_enter(); /* it walks the dcache after lost events */
	pthread_mutex_lock(&q_lock);
	for (;;) {
		while (!q_head && !q_all && !q_stop)
			pthread_cond_wait(&q_cond, &q_lock);
		if (q_stop)
			break;
		all = q_all;
		q_all = false;
		n = q_head;
		q_head = NULL;
		q_tail = &q_head;
		q_len = 0;
		pthread_mutex_unlock(&q_lock);
		if (all) {
			struct note a = {.op = NOTE_ALL};

			send_note(&a);
			dcache_for_each_inode(rfs.dc, inval_kernel_inode, NULL);
		}
		while (n) {
			struct note *next = n->next;

			/* after a full invalidation the details add nothing
			 * but inode data (page cache) drops */
			if (!all || n->op == NOTE_INODE)
				send_note(n);
			free(n);
			n = next;
		}
		pthread_mutex_lock(&q_lock);
	}
	pthread_mutex_unlock(&q_lock);
	dcache_thread_exit();
	return NULL;
}

int notify_start(void)
{
	return -pthread_create(&notifier_tid, NULL, notifier_main, NULL);
}

void notify_open(void)
{
	__atomic_store_n(&started_flag, true, __ATOMIC_RELEASE);
}

void notify_abort(void)
{
	pthread_mutex_lock(&q_lock);
	q_stop = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
	pthread_join(notifier_tid, NULL);
}

void notify_stop(void)
{
	struct timespec deadline;
	struct note *n;

	__atomic_store_n(&started_flag, false, __ATOMIC_RELEASE);
	__atomic_store_n(&notify_off, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&q_lock);
	q_stop = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
	/*
	 * A notification can wait in the kernel for a directory lock that a
	 * request nobody will answer holds (the session loop has ended).
	 * Then unmounting aborts that request, the notification returns, and
	 * notify_off keeps the notifier from using the closed session fd.
	 */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	if (pthread_timedjoin_np(notifier_tid, NULL, &deadline)) {
		rfs_warn("kernel notifier stuck at exit: unmounting first");
		fuse_session_unmount(rfs.se);
		pthread_join(notifier_tid, NULL);
	}
	while ((n = q_head)) {
		q_head = n->next;
		free(n);
	}
}

void notify_inode(uint64_t nodeid, off_t off)
{
	note(NOTE_INODE, nodeid, off, NULL);
}

void notify_entry(uint64_t dir, const char *name)
{
	note(NOTE_ENTRY, dir, 0, name);
}

void notify_all(void)
{
	pthread_mutex_lock(&q_lock);
	q_all = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

unsigned notify_queued(void)
{
	unsigned q;

	pthread_mutex_lock(&q_lock);
	q = q_len;
	pthread_mutex_unlock(&q_lock);
	return q;
}

void notify_counts(uint64_t *overflows, uint64_t *notifies, uint64_t *errors)
{
	*overflows = __atomic_load_n(&nstats.overflows, __ATOMIC_RELAXED);
	*notifies = __atomic_load_n(&nstats.notifies, __ATOMIC_RELAXED);
	*errors = __atomic_load_n(&nstats.notify_errors, __ATOMIC_RELAXED);
}

void rfs_queue_inval_attr(uint64_t nodeid)
{
	if (__atomic_load_n(&started_flag, __ATOMIC_ACQUIRE))
		note(NOTE_INODE, nodeid, -1, NULL);
}

void rfs_queue_inval_data(uint64_t nodeid, off_t off)
{
	if (__atomic_load_n(&started_flag, __ATOMIC_ACQUIRE))
		note(NOTE_INODE, nodeid, off < 0 ? 0 : off, NULL);
}

void rfs_queue_inval_all(void)
{
	if (!__atomic_load_n(&started_flag, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&q_lock);
	q_all = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}
