/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/notify.h - the kernel-notification queue (notify.c).
 *
 * A leaf: notify.c includes nothing of fs/ but rfs.h (scripts/check-layout
 * checks it).  Everything that tells the kernel to drop what it cached goes
 * through this queue, because only the notifier thread may block in a
 * notification (the kernel takes directory locks for it; DESIGN.md §8).
 *
 * Every function may be called from any thread, outside RCU read sections;
 * none blocks except on q_lock (held briefly), and notify_stop.
 */
#ifndef RCUFS_FS_COHERENCE_NOTIFY_H
#define RCUFS_FS_COHERENCE_NOTIFY_H

#include "rfs.h"

/* Start the notifier thread (watch_start).  0 or a negative errno. */
int notify_start(void);
/* From now on the handlers' rfs_queue_inval_* calls queue notes. */
void notify_open(void);
/* The notifier was started but the watcher could not be: stop it. */
void notify_abort(void);
/*
 * Stop queueing, stop the notifier (at most 2 s; then the session is
 * unmounted first, which frees a notification stuck on a directory lock)
 * and drop what was queued.  Main thread, after the session loop ended.
 */
void notify_stop(void);

/* Queue unconditionally (the watcher thread): the kernel is to drop the
 * attributes of @nodeid and, for @off >= 0, its cached data from @off. */
void notify_inode(uint64_t nodeid, off_t off);
/* ... the name @name in directory @dir. */
void notify_entry(uint64_t dir, const char *name);
/* ... every dentry and every inode's attributes and data. */
void notify_all(void);

/*
 * From a request handler: have the notifier tell the kernel that @nodeid's
 * attributes changed in a way it cannot know (SOURCE cleared setgid on a
 * write).  Queues only (handlers never notify themselves); a no-op when no
 * notifier runs (not coherence=watch).  Any thread, outside RCU.
 */
void rfs_queue_inval_attr(uint64_t nodeid);
/* Likewise: the kernel is to drop its cached pages of @nodeid from @off
 * to the end (and its attributes). */
void rfs_queue_inval_data(uint64_t nodeid, off_t off);
/* Likewise: the kernel is to drop every name and inode's attributes
 * (SOURCE was lost).  Not from a request handler's hot path. */
void rfs_queue_inval_all(void);

/*
 * The kernel keeps the listing of directory @dir (no_opendir: it opens
 * directories itself and keeps what READDIR returns) and is about to be
 * given entries read from SOURCE since @read_start (monotonic ns): have
 * the notifier drop that listing (notify_inval_inode of @dir, which also
 * drops its attributes) by @read_start + @bound ns.  @fill_start: this is
 * the READDIR at offset 0, which starts the kernel's copy.  Call it after
 * reading and before replying: the drop comes at least
 * NOTIFY_LISTING_MARGIN after the call, so that it cannot reach the kernel
 * before the reply's entries (a reply stalled longer in the kernel may
 * outlive it).  A directory listed in many requests queues one drop per
 * bound.  @bound should be at least 4 margins.  A no-op when no notifier
 * runs.  Request handlers, outside RCU; takes q_lock (briefly; may
 * allocate).
 */
#define NOTIFY_LISTING_MARGIN 50000000u /* ns */
void notify_listing_expiry(uint64_t dir, uint64_t read_start, uint64_t bound,
			   bool fill_start);
/* For rcufs stats: timed listing drops sent. */
uint64_t notify_listing_drops(void);
/* For rcufs stats: notes and timed drops queued now, and the counters
 * (relaxed loads). */
void notify_queued(unsigned *notes, unsigned *listings);
void notify_counts(uint64_t *overflows, uint64_t *notifies, uint64_t *errors);

#endif /* RCUFS_FS_COHERENCE_NOTIFY_H */
