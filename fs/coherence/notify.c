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
 * Timed drops (notify_listing_expiry): directories whose listing the
 * kernel keeps and that must be dropped at a time of their own, in one
 * queue per bound (tq).  Each is due that bound after its listing began,
 * so new ones almost always go at the tail; each queue is kept in due
 * order and the notifier only looks at the heads.
 *
 * Threads and locks: q_lock protects the note queue and the timed ones.
 * The notifier thread is RCU registered (it walks the dcache after lost
 * events).  Statistics are relaxed atomics.
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
	uint64_t listing_drops; /* timed drops of kept listings sent */
} nstats;

#define STAT_INC(f) __atomic_add_fetch(&nstats.f, 1, __ATOMIC_RELAXED)

enum note_op {
	NOTE_ENTRY,   /* inval_entry(ino, name) */
	NOTE_INODE,   /* inval_inode(ino, off, 0) */
	NOTE_ALL,     /* every dentry the kernel has (INC_EPOCH) */
	NOTE_LISTING, /* a timed drop: inval_inode(ino, 0, 0) */
};

struct note {
	struct note *next;
	enum note_op op;
	uint64_t ino;
	off_t off;
	size_t len;
	char name[];
};

/* A kept listing to drop at @due (monotonic ns). */
struct timed {
	struct timed *next, *prev;
	uint64_t ino;
	uint64_t due;
};

/* More waiting drops than this (long timeouts, many directories): a full
 * invalidation instead (t_all_due). */
#define TIMED_MAX 262144

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
/* waited on with CLOCK_MONOTONIC deadlines (pthread_cond_clockwait) */
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct note *q_head;	       /* q_lock */
static struct note **q_tail = &q_head; /* q_lock */
static unsigned q_len;		       /* q_lock */
static bool q_all, q_stop;	       /* q_lock */
/*
 * q_lock: the timed drops, in due order, one queue per bound (the mode's,
 * and a remote filesystem's inside SOURCE): all drops of one queue are
 * due one bound after their listing began, so new ones go in at the
 * tail, past the few of a concurrent listing that began later.  Doubly
 * linked, taken from the head; @bound 0 = unused.
 */
static struct tqueue {
	struct timed *head, *tail;
	uint64_t bound;
} tq[2];
static unsigned t_len; /* q_lock: in both queues */
/* q_lock: when a drop could not be queued (too many, or no memory), a
 * full invalidation at this time (monotonic ns; 0 = none) */
static uint64_t t_all_due;
/* q_lock: the last drop queued per directory (direct-mapped by node id),
 * so that a directory listed in many READDIRs queues one drop */
static struct {
	uint64_t ino, due;
} t_last[4096];
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
	case NOTE_LISTING:
		err = fuse_lowlevel_notify_inval_inode(rfs.se, n->ino, n->off,
						       0);
		if (n->op == NOTE_LISTING)
			STAT_INC(listing_drops);
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

/* Forget every timed drop (notify_stop).  q_lock held. */
static void timed_clear_locked(void)
{
	struct timed *t;
	unsigned i;

	for (i = 0; i < 2; i++) {
		while ((t = tq[i].head)) {
			tq[i].head = t->next;
			free(t);
		}
		tq[i].tail = NULL;
		tq[i].bound = 0;
	}
	t_len = 0;
	t_all_due = 0;
	memset(t_last, 0, sizeof(t_last));
}

/* The earliest due time of a timed drop or of the full invalidation
 * t_all_due, or UINT64_MAX.  q_lock held. */
static uint64_t timed_next_locked(void)
{
	uint64_t next = t_all_due ? t_all_due : UINT64_MAX;
	unsigned i;

	for (i = 0; i < 2; i++)
		if (tq[i].head && tq[i].head->due < next)
			next = tq[i].head->due;
	return next;
}

/* Take the timed drops due at @now off queue @q: returned as a list
 * (next links) for the caller to send and free.  q_lock held. */
static struct timed *timed_due_locked(struct tqueue *q, uint64_t now)
{
	struct timed *first = q->head, *t = q->head;

	while (t && t->due <= now) {
		t_len--;
		t = t->next;
	}
	if (t == first)
		return NULL;
	if (t) {
		t->prev->next = NULL;
		t->prev = NULL;
	} else {
		q->tail = NULL;
	}
	q->head = t;
	return first;
}

/* Send the drops of @due (a list from timed_due_locked) and free it. */
static void send_timed(struct timed *due)
{
	while (due) {
		struct timed *next = due->next;
		struct note l = {.op = NOTE_LISTING, .ino = due->ino};

		send_note(&l);
		free(due);
		due = next;
	}
}

static void *notifier_main(void *arg)
{
	struct note *n;
	struct timed *due[2];
	struct timespec ts;
	uint64_t now, wake;
	bool all;

	(void)arg;
	dcache_thread_enter(); /* it walks the dcache after lost events */
	pthread_mutex_lock(&q_lock);
	for (;;) {
		for (;;) {
			if (q_stop)
				goto out;
			now = rfs_now_ns();
			if (t_all_due && t_all_due <= now) {
				t_all_due = 0;
				q_all = true;
			}
			wake = timed_next_locked();
			if (q_head || q_all || wake <= now)
				break;
			if (wake == UINT64_MAX) {
				pthread_cond_wait(&q_cond, &q_lock);
				continue;
			}
			ts.tv_sec = (time_t)(wake / 1000000000u);
			ts.tv_nsec = (long)(wake % 1000000000u);
			pthread_cond_clockwait(&q_cond, &q_lock,
					       CLOCK_MONOTONIC, &ts);
		}
		n = q_head;
		q_head = NULL;
		q_tail = &q_head;
		q_len = 0;
		due[0] = timed_due_locked(&tq[0], now);
		due[1] = timed_due_locked(&tq[1], now);
		/* (the timed drops stay queued after a full invalidation: the
		 * entries of a listing replied to after it come later) */
		all = q_all;
		q_all = false;
		pthread_mutex_unlock(&q_lock);
		/* first: they have a time to keep, the rest does not */
		send_timed(due[0]);
		send_timed(due[1]);
		if (all) {
			struct note a = {.op = NOTE_ALL};

			send_note(&a);
			dcache_for_each_inode(rfs.dc, inval_kernel_inode, NULL);
		}
		while (n) {
			struct note *next = n->next;

			/* after a full invalidation the details add nothing
			 * but inode data (page cache, listing) drops */
			if (!all || n->op == NOTE_INODE)
				send_note(n);
			free(n);
			n = next;
		}
		pthread_mutex_lock(&q_lock);
	}
out:
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
	pthread_mutex_lock(&q_lock);
	timed_clear_locked();
	pthread_mutex_unlock(&q_lock);
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

void notify_queued(unsigned *notes, unsigned *listings)
{
	pthread_mutex_lock(&q_lock);
	*notes = q_len;
	*listings = t_len;
	pthread_mutex_unlock(&q_lock);
}

void notify_listing_expiry(uint64_t dir, uint64_t read_start, uint64_t bound,
			   bool fill_start)
{
	uint64_t now, due, margin = NOTIFY_LISTING_MARGIN;
	unsigned slot = (unsigned)((dir * 0x9e3779b97f4a7c15ull) >> 52);
	struct tqueue *q;
	struct timed *t, *after;

	if (!__atomic_load_n(&started_flag, __ATOMIC_ACQUIRE))
		return;
	if (bound >= UINT64_MAX - read_start)
		return; /* kept for ever, as the timeouts say */
	pthread_mutex_lock(&q_lock);
	if (q_stop)
		goto unlock;
	now = rfs_now_ns();
	due = read_start + bound;
	/* the reply goes out after this call: a drop that could come before
	 * the kernel has added the entries would miss them */
	if (due < now + margin)
		due = now + margin;
	/*
	 * One already queued that is due before this listing's expiry but
	 * well after its reply covers it: its drop removes these entries
	 * too.  Not so for the first READDIR of a fill (offset 0), if that
	 * drop is near: should the kernel have reset its copy since (mtime
	 * moved, pages reclaimed), a drop reaching it before this reply's
	 * entries would find nothing to drop, and the new copy none at all.
	 */
	if (t_last[slot].ino == dir && t_last[slot].due <= due &&
	    t_last[slot].due >= now + (fill_start ? bound / 2 : margin))
		goto unlock;
	t = t_len < TIMED_MAX ? malloc(sizeof(*t)) : NULL;
	if (!t) {
		/* too many (or no memory): a full invalidation by this
		 * listing's expiry, never before its reply can land */
		if (!t_all_due || t_all_due > due)
			t_all_due = due;
		if (t_all_due < now + margin)
			t_all_due = now + margin;
		pthread_cond_signal(&q_cond);
		goto unlock;
	}
	t->ino = dir;
	t->due = due;
	/* the queue of this bound (a third bound, after a watcher fallback
	 * changed the timeouts, shares the second: sorted in all the same) */
	if (tq[0].bound == bound)
		q = &tq[0];
	else if (tq[1].bound == bound)
		q = &tq[1];
	else
		q = !tq[0].head ? &tq[0] : &tq[1];
	if (!q->head)
		q->bound = bound;
	for (after = q->tail; after && after->due > due; after = after->prev)
		;
	t->prev = after;
	t->next = after ? after->next : q->head;
	if (t->next)
		t->next->prev = t;
	else
		q->tail = t;
	if (after)
		after->next = t;
	else
		q->head = t;
	t_len++;
	/* the notifier may wait untimed, or until a later head */
	if (q->head == t)
		pthread_cond_signal(&q_cond);
	t_last[slot].ino = dir;
	t_last[slot].due = due;
unlock:
	pthread_mutex_unlock(&q_lock);
}

uint64_t notify_listing_drops(void)
{
	return __atomic_load_n(&nstats.listing_drops, __ATOMIC_RELAXED);
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
