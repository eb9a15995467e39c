/* SPDX-License-Identifier: MIT */
/*
 * fs/source/lost.c - noticing that SOURCE went away under a running mount.
 *
 * The daemon holds SOURCE by an fd (rfs.root_fd), so when the directory is
 * removed, or its filesystem is unmounted lazily (umount -l), everything
 * below keeps working on an object nobody else can see any more: new
 * files would go to a deleted directory or to a detached filesystem, and
 * be lost at unmount.  A watcher thread looks once a second whether the
 * root directory's link count fell to 0 (removed) or whether the mount
 * that root_fd is on left /proc/self/mountinfo (unmounted).
 *
 * Only a change that was observed counts.  In a chroot whose root is not
 * a mount point (schroot, pbuilder, debootstrap build roots, some CI
 * runners) mountinfo lists only the mounts below the chroot's root, so
 * the mount SOURCE is on may never be listed at all: its absence there
 * says nothing.  The mount check is therefore armed only when SOURCE's
 * mount is listed at start-up, and fires only when it then disappears;
 * otherwise only the link count can declare SOURCE lost.  The first
 * time either happens it logs one warning, sets `lost`, and drops the
 * whole dcache; from then on every request that reaches SOURCE by name
 * (everything but I/O on files already open) fails with ENODEV, and
 * fusermount3 -u works as always.  Renaming SOURCE or a parent of it is
 * not a loss: the fd still leads to the same, visible directory.
 *
 * Locking: `lost` is an atomic flag, set once, read by every handler
 * (relaxed: a handler that misses the flip by a moment acts as it would
 * have a moment earlier).  wd_lock/wd_cond/wd_stop only stop the thread.
 */
#include "source/source_i.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static atomic_bool lost;
/* The mount id of SOURCE's mount when /proc/self/mountinfo listed it at
 * start-up, else -1 (the mount check is then off).  Written before the
 * thread starts, read only by it. */
static long root_mnt_id = -1;

static pthread_mutex_t wd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wd_cond = PTHREAD_COND_INITIALIZER;
static bool wd_stop;	/* wd_lock */
static bool wd_running; /* main thread only */
static pthread_t wd_thread;

int rfs_source_check(void)
{
	return atomic_load_explicit(&lost, memory_order_relaxed) ? -ENODEV : 0;
}

/* The mount id of @fd ("mnt_id:" of /proc/self/fdinfo), or -1. */
static long fd_mnt_id(int fd)
{
	char path[64], line[256];
	long id = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "mnt_id: %ld", &id) == 1)
			break;
	fclose(f);
	return id;
}

/* Is mount @id listed in /proc/self/mountinfo?  @unknown when we cannot
 * tell (no /proc). */
static bool mount_listed(long id, bool unknown)
{
	char line[4096];
	bool found = false;
	long mid;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	if (!f)
		return unknown;
	while (!found && fgets(line, sizeof(line), f)) {
		/* long lines: only those starting after a newline count */
		if (sscanf(line, "%ld ", &mid) == 1 && mid == id)
			found = true;
		while (!strchr(line, '\n') && fgets(line, sizeof(line), f))
			;
	}
	fclose(f);
	return found;
}

/* Why SOURCE is gone, or NULL while it is there. */
static const char *why_lost(void)
{
	struct stat st;

	if (fstat(rfs.source_fd, &st) == 0 && st.st_nlink == 0)
		return "was removed";
	if (root_mnt_id >= 0 && !mount_listed(root_mnt_id, true))
		return "is no longer mounted (its filesystem was unmounted)";
	return NULL;
}

static void *watch(void *arg)
{
	struct timespec ts;
	const char *why;

	(void)arg;
	dcache_thread_enter();
	pthread_mutex_lock(&wd_lock);
	while (!wd_stop) {
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&wd_cond, &wd_lock, &ts);
		if (wd_stop)
			break;
		pthread_mutex_unlock(&wd_lock);
		why = why_lost();
		if (why) {
			atomic_store(&lost, true);
			rfs_warn("SOURCE %s %s: every request now fails with "
				 "ENODEV; unmount with 'fusermount3 -u %s'",
				 rfs.o.source, why, rfs.o.mountpoint);
			dcache_inval_all(rfs.dc, DC_SRC_LOCAL);
			/* the kernel too: with coherence=watch it keeps names
			 * and attributes for an hour (the lost hook) */
			if (rfs_source_hooks.lost)
				rfs_source_hooks.lost();
			pthread_mutex_lock(&wd_lock);
			break; /* once */
		}
		pthread_mutex_lock(&wd_lock);
	}
	pthread_mutex_unlock(&wd_lock);
	dcache_thread_exit();
	return NULL;
}

int rfs_source_watch_start(void)
{
	/* SOURCE's own mount: root_fd may be on a private clone of it */
	long id = fd_mnt_id(rfs.source_fd);
	int err;

	/* armed only on evidence we can watch change: see the top */
	root_mnt_id = id >= 0 && mount_listed(id, false) ? id : -1;
	err = pthread_create(&wd_thread, NULL, watch, NULL);
	if (err)
		return -err;
	wd_running = true;
	return 0;
}

void rfs_source_watch_stop(void)
{
	if (!wd_running)
		return;
	pthread_mutex_lock(&wd_lock);
	wd_stop = true;
	pthread_cond_signal(&wd_cond);
	pthread_mutex_unlock(&wd_lock);
	pthread_join(wd_thread, NULL);
	wd_running = false;
}
