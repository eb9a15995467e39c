/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/watch.c - coherence with changes made directly in SOURCE.
 *
 * With coherence=watch the kernel and the dcache keep what they learn for
 * a long time (an hour by default, the dcache until invalidated), and this
 * file makes that correct: a watcher thread reads change events about
 * SOURCE, invalidates exactly what changed in the dcache, and queues the
 * matching kernel notifications for a notifier thread.
 *
 * Two event sources, chosen at start-up (or forced with -o watcher=):
 *   fanotify  FAN_MARK_FILESYSTEM on SOURCE's filesystem (and on each
 *             filesystem mounted inside SOURCE), reporting (directory file
 *             handle, name) and the object's own handle.  Needs
 *             CAP_SYS_ADMIN and a filesystem that can encode file handles.
 *             Events caused by the daemon itself (event pid == ours) are
 *             skipped: the handler that caused them updated the cache.
 *   inotify   one watch per cached directory, added when the daemon first
 *             needs the directory's fd (the source layer's dir_opened hook: every directory whose
 *             children are looked up, listed or changed) and removed when
 *             the dcache frees the inode.  Cannot tell our own events from
 *             others: they cost an extra invalidation, not correctness.
 * Neither, or a failure that could leave a cache stale (a filesystem
 * inside SOURCE that cannot be marked, inotify watches exhausted): the
 * mount degrades to timeout mode (short timeouts everywhere, everything
 * invalidated once), with one warning.
 *
 * Translating an event.  A directory handle is turned into the backing key
 * (st_dev, st_ino) and that into a cached inode (dc_inode_find).  For
 * speed the key is read from the handle itself when the filesystem's
 * handle layout was learned at start-up (the inode number at a fixed
 * offset, checked on several objects of known inode number); otherwise
 * the handle is opened (open_by_handle_at) and fstat'ed.  An event about
 * an object that is not cached costs that lookup and nothing else: the
 * kernel cannot hold anything the dcache does not (kernel references pin
 * dcache inodes), except negative entries, which a dirent event in a
 * cached directory invalidates by name whether the dcache has them or not.
 *
 * Kernel notifications go through the notifier queue (notify.c): only
 * its thread may block in one.  Queue overflow, of the kernel's event
 * queue or of ours: the dcache drops everything and the kernel is told to
 * drop every dentry, one warning.
 *
 * Where each part lives: this file starts and stops the watcher thread
 * and registers the source layer's hooks; fanotify.c and inotify.c read
 * the events; events.c translates them; mode.c holds the policy (the
 * timeouts of each mode, the fallback); notify.c the queue.
 *
 * Threads and locks: the watcher and notifier threads are ours (RCU
 * registered, since they call the dcache).  wfs_lock protects the
 * filesystem table and the inotify table (written by handler threads
 * through the source layer's hooks: watch_dir_get/put, watch_check_dev;
 * read by the watcher); q_lock (notify.c) the queue.  Statistics are
 * relaxed atomics.
 */
#include "coherence/coherence_i.h"
#include "coherence/remote.h"
#include "source/source.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct rfs_watch_stats watch_stats; /* relaxed atomics */
pthread_mutex_t wfs_lock = PTHREAD_MUTEX_INITIALIZER;
int stop_fd = -1;
static pthread_t watcher_tid;
bool started; /* the main thread only: watch_start, watch_stop */
/* the main thread only: timeout and exclusive modes run the notifier
 * alone (for the timed drops of kept listings) */
static bool notifier_only;
static bool stopping; /* atomic: a request to the watcher */
bool pending_all;     /* atomic: a request to the watcher */

/* how long the events of a burst gather before they are read */
static const struct timespec gather = {0, 1000000};

static void *watcher_main(void *arg)
{
	struct pollfd pf[2];

	(void)arg;
	dcache_thread_enter();
	pf[0].fd = fan_fd >= 0 ? fan_fd : in_fd;
	pf[0].events = POLLIN;
	pf[1].fd = stop_fd;
	pf[1].events = POLLIN;
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rfs_error("watcher: poll: %s", strerror(errno));
			break;
		}
		if (pf[1].revents) {
			uint64_t v;

			if (read(stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
				break;
			if (__atomic_exchange_n(&pending_all, false,
						__ATOMIC_ACQ_REL))
				ev_inval_everything();
		}
		if (pf[0].revents & POLLIN) {
			/*
			 * Let a burst gather first: while events wait in the
			 * queue the kernel merges the next ones on the same
			 * object into them (fanotify: same object and type;
			 * inotify: the same as the last), so a writer's
			 * thousands of writes a millisecond cost one event
			 * to read, translate and notify, not one each
			 * (50,000 appends of 4 KiB through a passthrough
			 * open: 0.75x native with fanotify, 0.55x with
			 * inotify, read at once).  A change shows that much
			 * later.
			 */
			nanosleep(&gather, NULL);
			if (fan_fd >= 0)
				fan_read();
			else
				in_read();
		}
	}
	dcache_thread_exit();
	return NULL;
}

int watch_start(void)
{
	int err = -EOPNOTSUPP;
	enum rfs_watcher w = rfs.o.watcher;

	if (rfs.o.coherence == RFS_COH_EXCLUSIVE ||
	    rfs.o.coherence == RFS_COH_TIMEOUT) {
		/* no watcher, but the notifier: the timed drops of kept
		 * listings (no_opendir; coherence.h, rfs_listing_read) */
		err = notify_start();
		if (err)
			return err;
		notifier_only = true;
		notify_open();
		return 0;
	}
	if (rfs.o.coherence != RFS_COH_WATCH)
		return 0;
	if (w == RFS_WATCH_AUTO || w == RFS_WATCH_FANOTIFY) {
		err = fan_start();
		if (!err) {
			watch_stats.method = RFS_WATCH_FANOTIFY;
		} else if (w == RFS_WATCH_FANOTIFY) {
			rfs_error("watcher=fanotify: %s%s", strerror(-err),
				  err == -EPERM ? " (needs CAP_SYS_ADMIN)"
						: "");
			return err;
		} else {
			rfs_debug("fanotify unavailable (%s): trying inotify",
				  strerror(-err));
		}
	}
	if (err && (w == RFS_WATCH_AUTO || w == RFS_WATCH_INOTIFY)) {
		err = in_start();
		if (!err)
			watch_stats.method = RFS_WATCH_INOTIFY;
		else if (w == RFS_WATCH_INOTIFY)
			rfs_error("watcher=inotify: %s", strerror(-err));
	}
	if (err) {
		pthread_mutex_lock(&wfs_lock);
		degrade_locked("no way to watch SOURCE for changes (fanotify "
			       "and inotify both failed)");
		pthread_mutex_unlock(&wfs_lock);
		return 0;
	}
	stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop_fd < 0)
		return -errno;
	err = notify_start();
	if (err)
		return err;
	err = -pthread_create(&watcher_tid, NULL, watcher_main, NULL);
	if (err) {
		notify_abort();
		return err;
	}
	started = true;
	notify_open();
	rfs_debug("coherence=watch: %s",
		  watch_stats.method == RFS_WATCH_FANOTIFY
			  ? "fanotify, whole filesystem"
			  : "inotify, one watch per cached directory");
	if (watch_stats.method == RFS_WATCH_INOTIFY) {
		/* the root is always cached */
		int wd = watch_dir_get(rfs.root_fd, rfs.root_dev, rfs.root_ino);

		(void)wd; /* kept until exit */
	}
	return 0;
}

void watch_stop(void)
{
	uint64_t one = 1;

	if (notifier_only) {
		notify_stop();
		notifier_only = false;
	}
	if (!started)
		goto close_fds;
	__atomic_store_n(&stopping, true, __ATOMIC_RELEASE);
	if (write(stop_fd, &one, sizeof(one)) != sizeof(one))
		rfs_error("cannot stop the watcher: %s", strerror(errno));
	pthread_join(watcher_tid, NULL);
	notify_stop();
	started = false;
close_fds:
	fan_stop();
	in_stop();
	if (stop_fd >= 0)
		close(stop_fd);
	stop_fd = -1;
}

/* ---- the source layer's hooks -------------------------------------------- */

static void source_lost(void)
{
	rfs_queue_inval_all();
}

/* A lookup met a filesystem mounted inside SOURCE: classify it first (a
 * remote one gets its bound, coherence/remote.c), then let fanotify mark
 * it (it skips the remote ones). */
static void crossed_dev(int dirfd, const char *name, uint64_t dev)
{
	rfs_remote_check_dev(dirfd, name, dev);
	watch_check_dev(dirfd, name, dev);
}

static const struct rfs_source_hooks hooks = {
	.dir_opened = watch_dir_get,
	.dir_released = watch_dir_put,
	.crossed_dev = crossed_dev,
	.ttl_cap = rfs_remote_ttl_cap,
	.lost = source_lost,
};

void watch_init(void)
{
	rfs_source_set_hooks(&hooks);
}
