/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/coherence_i.h - what the files of fs/coherence/ share.
 *
 * Threads: the watcher thread (watch.c) reads events (fanotify.c,
 * inotify.c) and translates them (events.c); handler threads add inotify
 * watches and fanotify marks through the source layer's hooks; the
 * notifier thread (notify.c) alone talks to the kernel.
 *
 * Locks, in order: wfs_lock (the fanotify filesystem table, the inotify
 * watch table, `degraded`), then q_lock of notify.c (taken by the queue
 * functions only).  Neither is held across an RCU read section or a call
 * into the dcache that may block.  watch_stats: relaxed atomics.
 */
#ifndef RCUFS_FS_COHERENCE_COHERENCE_I_H
#define RCUFS_FS_COHERENCE_COHERENCE_I_H

#include "coherence/coherence.h"
#include "coherence/notify.h"

#include <pthread.h>

/* Counters of the coherence section (relaxed atomics); the notifier's
 * own are in notify.c. */
struct rfs_watch_stats {
	uint64_t events;	 /* read from fanotify/inotify */
	uint64_t self;		 /* caused by the daemon: skipped */
	uint64_t uncached;	 /* about nothing cached: skipped (after
				    dcache_backend_changed) */
	uint64_t dirent;	 /* names created, removed, moved */
	uint64_t attr;		 /* objects changed (inotify: events on a
				    child, also when the lookup by key
				    then counts it uncached) */
	uint64_t overflows;	 /* event queue overflows */
	uint64_t handle_opens;	 /* handles resolved by opening them */
	uint64_t watches;	 /* inotify watches held */
	enum rfs_watcher method; /* in effect; NONE: timeouts */
};
extern struct rfs_watch_stats watch_stats;

#define STAT_INC(f) __atomic_add_fetch(&watch_stats.f, 1, __ATOMIC_RELAXED)

extern pthread_mutex_t wfs_lock;
extern bool degraded;	 /* wfs_lock (mode.c) */
extern bool started;	 /* main thread only: watch_start, watch_stop */
extern bool pending_all; /* atomic: a request to the watcher thread */
/* The fds below are set by the main thread in watch_start before any
 * thread uses them and reset in watch_stop after the threads ended;
 * read-only in between. */
extern int stop_fd; /* eventfd waking the watcher thread */
extern int fan_fd;  /* fanotify.c; -1 when not in use */
extern int in_fd;   /* inotify.c; -1 when not in use */

/* mode.c: fall back to timeout mode (once; warned).  Caller holds
 * wfs_lock.  May run inside a backend call: it only asks the watcher
 * thread to drop everything. */
void degrade_locked(const char *why);

/* events.c, the watcher thread, outside RCU: */
/* Everything cached may be stale: drop it (dcache and kernel). */
void ev_inval_everything(void);
/* The kernel's event queue overflowed (warned, rate-limited). */
void ev_overflow(void);
/* The object @nodeid changed (attributes; @data: its contents too). */
void ev_object_changed(uint64_t nodeid, bool data);
/* The name @name in directory @dir changed; @removed: deleted. */
void ev_dirent_changed(uint64_t dir, const char *name, bool removed);
/* The node id of the cached object with key (@dev, @ino), 0 if none;
 * @dir: only a directory will do. */
uint64_t ev_nodeid_of_key(uint64_t dev, uint64_t ino, bool dir);

/* fanotify.c */
int fan_start(void);		/* main thread, watch_start */
void fan_stop(void);		/* main thread, watch_stop */
void fan_read(void);		/* the watcher thread */
unsigned fan_filesystems(void); /* filesystems marked; any thread */
/* The source layer's crossed_dev hook: the lookup of @name in @dirfd found
 * device @dev; if it is a filesystem not yet watched (mounted inside
 * SOURCE), mark it, or degrade to timeouts when it cannot be marked.  Any
 * thread, outside RCU; takes wfs_lock. */
void watch_check_dev(int dirfd, const char *name, uint64_t dev);

/* inotify.c */
int in_start(void);
void in_stop(void);
void in_read(void);
/*
 * The source layer's dir_opened hook: watch the directory open at @fd
 * whose key is (@dev, @ino).  Returns a watch id for watch_dir_put, or -1
 * (no inotify in use, or none left: then the mount degrades, warned).
 * Any thread, outside RCU; takes wfs_lock; may call no dcache mutation.
 */
int watch_dir_get(int fd, uint64_t dev, uint64_t ino);
/* The dir_released hook: drop watch @wd (-1: none). */
void watch_dir_put(int wd);

#endif /* RCUFS_FS_COHERENCE_COHERENCE_I_H */
