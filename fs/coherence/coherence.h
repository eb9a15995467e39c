/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/coherence.h - coherence with changes made directly in
 * SOURCE: the mode (coherence=, the timeouts it implies, the fallback to
 * timeouts), the watcher (fanotify or inotify) and the kernel-notification
 * queue (notify.h).
 *
 * Layer: below ops/ and main, above source/ (it reaches SOURCE through
 * source.h, and learns what the source layer does through the hooks it
 * registers there: watch_init) and stats/ (its section of rcufs stats).
 */
#ifndef RCUFS_FS_COHERENCE_COHERENCE_H
#define RCUFS_FS_COHERENCE_COHERENCE_H

#include "coherence/notify.h"
#include "rfs.h"

/* ---- mode.c: the mode and its timeouts ---- */

/* A timeout in seconds as a dcache TTL in ns (forever from 1e9 s). */
uint64_t rfs_ttl_ns(double s);
/*
 * Settle the timeouts' defaults from coherence= and check the options
 * that depend on it.  Main thread, after parsing, before mounting.
 * Returns NULL, or the message of an option error (then rcufs exits).
 */
const char *rfs_apply_coherence(void);
/*
 * Set the kernel timeouts (seconds) and, when @cache_too, the dcache's
 * validity periods to match (timeout mode).  Any thread.
 */
void rfs_set_timeouts(double entry, double attr, double negative,
		      bool cache_too);
/* Switch to timeout mode (a watcher fallback): short timeouts, the
 * explicit ones where given.  Any thread. */
void rfs_timeout_mode(void);
/*
 * May the kernel keep file pages and directory listings across opens
 * (keep_cache, cache_readdir)?  Yes when nobody else changes SOURCE
 * (exclusive) or when every change is watched (the watcher drops them
 * with notify_inval_inode).  Any thread; cheap.
 */
bool rfs_kernel_may_cache(void);
/* The same for the object @ino: not for one on a remote filesystem
 * inside SOURCE (coherence/remote.h, rfs_remote_may_keep); the rest of
 * SOURCE keeps its pages and listings.  Request handlers, outside RCU. */
bool rfs_kernel_may_cache_ino(uint64_t ino);
/*
 * May the kernel keep listings for a bounded time, each dropped by the
 * notifier when it expires (timeout mode, entry and negative timeouts of
 * 0.2 s or more)?  INIT then
 * lets the kernel open directories itself (no_opendir) as where it may
 * keep them for good.  Any thread.
 */
bool rfs_listings_bounded(void);
/*
 * no_opendir: the kernel keeps the listing of directory @ino and is about
 * to be given entries read from SOURCE since @read_start (monotonic ns);
 * @fill_start: the READDIR at offset 0.  In timeout mode (or watch mode
 * fallen back to timeouts) the listing is dropped when the shorter of the entry
 * and negative timeouts has passed since @read_start; in every mode a
 * directory on a remote filesystem inside SOURCE has it dropped at the
 * remote bound (rfs_remote_listing_bound), if that is shorter.  Request handlers, after
 * reading and before replying, outside RCU; may take q_lock (briefly).
 */
void rfs_listing_read(uint64_t ino, uint64_t read_start, bool fill_start);
/* True while changes in SOURCE are being watched. */
bool watch_active(void);
/* True while they are watched with inotify (one watch per directory). */
bool watch_inotify(void);
/* The "coherence" section of rcufs stats (the statistics thread). */
struct rfs_emit;
void rfs_watch_emit(struct rfs_emit *e);

/* ---- watch.c: the watcher ---- */

/* Register the source layer's hooks (rfs_source_set_hooks).  Main thread,
 * once, before the cache and the SOURCE-lost watcher exist. */
void watch_init(void);
/*
 * Start the watcher and notifier threads for coherence=watch (no-op in
 * other modes); on failure to watch, fall back to timeouts (warned).
 * Called once after mounting, before the session loop.  Returns 0 or a
 * negative errno (only when watcher= forced a method that failed).
 */
int watch_start(void);
/* Stop both threads; after the session loop, before the dcache is freed. */
void watch_stop(void);

/* ---- fanotify.c ---- */

/*
 * Stop (@on) or resume reporting data writes (FAN_MODIFY) to the file
 * open at @fd, whose writes the kernel follows itself (a passthrough open
 * for writing: passthrough/quiet.c).  0, or a negative errno when nothing
 * was changed: -EOPNOTSUPP without fanotify, -ENOENT when its filesystem
 * is not marked (no event would come anyway).  Request handlers, outside
 * RCU; takes wfs_lock; one fanotify_mark.
 */
int watch_ignore_modify(int fd, bool on);

/* ---- inotify.c ---- */

/*
 * inotify mode: node @nodeid (of type @mode) just got a kernel reference
 * (LOOKUP, READDIRPLUS, MKDIR).  A directory is watched from now on, not
 * only once its children are: a change inside it (an entry created or
 * removed directly in SOURCE) changes its own mtime and link count, and
 * only a watch on it reports that.  Then the cached attributes, read
 * before the watch existed, are dropped and read again into @attr.
 * Request handlers, outside RCU.
 */
void watch_new_node(uint64_t nodeid, mode_t mode, struct dc_attr *attr);

#endif /* RCUFS_FS_COHERENCE_COHERENCE_H */
