/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/remote.h - what kind of filesystem SOURCE (or a filesystem mounted
 * inside it) is, and what that means for coherence (issue 15).
 *
 * fs/coherence/fstype.c classifies a filesystem by statfs(2) f_type and the type
 * /proc/self/mountinfo gives its mount (which names FUSE filesystems:
 * "fuse.glusterfs", "fuse.sshfs").  A filesystem is *local* when every
 * change to it goes through this machine's kernel, where fanotify and
 * inotify see it; everything else -- network and cluster filesystems,
 * every FUSE filesystem, and any type not on the local list -- is
 * *remote*: rcufs cannot vouch that a watcher sees its changes.
 *
 * fs/coherence/remote.c turns that into policy: on a remote SOURCE with no
 * coherence= given, bounded staleness (coherence=timeout, 1 s); a remote
 * filesystem met inside SOURCE gets short timeouts of its own.  Every
 * function there says where it is called from.
 */
#ifndef RCUFS_FS_COHERENCE_REMOTE_H
#define RCUFS_FS_COHERENCE_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "rfs.h"

struct rfs_fstype {
	char name[64];	     /* "GlusterFS", "ext4", "unknown (0x1234)" */
	char mnt_type[64];   /* mountinfo's type ("fuse.glusterfs"), or "" */
	unsigned long magic; /* statfs f_type */
	bool remote;	     /* changes may bypass this kernel */
	const char *reason;  /* why local, or why not watchable: static */
};

/*
 * Classify the filesystem of the object open at @fd (any fd, O_PATH
 * too).  Reads /proc/self/mountinfo (no lock; may block briefly on I/O):
 * not for hot paths.  Returns 0 or a negative errno (fstatfs failed).
 */
int rfs_fstype_of_fd(int fd, struct rfs_fstype *out);

/*
 * The table of filesystem types treated as local, for rcufs(8) and tests:
 * calls @fn(@ctx, name, reason) for each.  Any thread.
 */
void rfs_fstype_local_list(void (*fn)(void *ctx, const char *name,
				      const char *reason),
			   void *ctx);

/* ---- remote.c: the policy ---- */

/* parse_opt: coherence=, cache= or watcher= was given explicitly (the
 * user chose a mode: no automatic choice).  main thread, start-up. */
void rfs_remote_mode_given(void);

/*
 * Before apply_coherence: classify SOURCE; on a remote filesystem with no
 * mode given, choose coherence=timeout (its 1 s defaults apply unless
 * timeouts were given).  main thread, start-up; exits on nothing.
 */
void rfs_remote_choose_mode(void);

/* After apply_coherence, before daemonizing: the start-up line naming
 * SOURCE's filesystem and the bound (on stderr; none on a local SOURCE
 * in the default mode). */
void rfs_remote_announce(void);

/*
 * A lookup in @dirfd found @name, a directory on device @dev other than
 * SOURCE's: a filesystem mounted inside SOURCE.  If it is remote and the
 * mode's timeouts are longer than the bound (watch, exclusive), entries
 * on it get the bound from now on (kernel timeouts at reply time, dcache
 * validity).  Request handlers, outside RCU; cheap after the first call
 * per device (a short table under a mutex).
 */
void rfs_remote_check_dev(int dirfd, const char *name, uint64_t dev);

/*
 * The kernel timeout to give an answer about an object on device @dev,
 * whose mode's timeout is @t: @t, or the remote bound when @dev is a
 * remote filesystem inside a local SOURCE and @t is longer.  Any thread,
 * any context (RCU too): lock-free, one relaxed load when no such
 * filesystem was found.
 */
double rfs_remote_tmo(uint64_t dev, double t);
/*
 * At most @t, and no longer than the dcache keeps the answer (@until, a
 * dc_result.valid_until: monotonic ns, DC_TTL_FOREVER = @t): the kernel's
 * copy and the dcache's expire together, so an answer is never older than
 * the bound however long it sat in the dcache.  Any thread, any context.
 */
double rfs_remote_left(uint64_t until, double t);
/*
 * Is @dev a filesystem inside SOURCE that has the remote bound (so the
 * watcher need not, and usually cannot, watch it)?  Any thread, lock-free.
 */
bool rfs_remote_bounded_dev(uint64_t dev);
/*
 * The dcache's cap for device @dev (the source layer's ttl_cap hook,
 * cache/backend.h): the bound in ns for a remote filesystem inside a
 * local SOURCE, else DC_TTL_FOREVER.  So only what lives there expires
 * at the bound: names and negative entries in its directories, its
 * objects' attributes; the rest of SOURCE keeps the mode's periods.  Any
 * context (RCU, dcache locks): lock-free, never blocks.
 */
uint64_t rfs_remote_ttl_cap(uint64_t dev);
/*
 * May the kernel keep pages and listings of the object @ino across opens
 * (rfs_kernel_may_cache said yes for the mode)?  Not on a remote
 * filesystem inside SOURCE: nobody drops them when it changes.  Its
 * device is the dcache inode's; for @ino 0 ("any object", INIT's
 * decisions for the whole mount), or an inode not cached, no as soon as
 * a remote filesystem was found.  Request handlers, outside RCU; never
 * asks SOURCE; with no remote filesystem inside SOURCE one relaxed load.
 */
bool rfs_remote_may_keep(uint64_t ino);

/*
 * How long the kernel may keep a listing of directory @ino (ns), as far
 * as remote filesystems inside SOURCE go: the remote bound for one on
 * such a filesystem (nothing else would drop it: no watcher sees it
 * change, and its mtime need not move; proc's never does), else
 * DC_TTL_FOREVER.  For rfs_listing_read.  Request handlers, outside RCU;
 * one relaxed load when no remote filesystem was found.
 */
uint64_t rfs_remote_listing_bound(uint64_t ino);
/* The "filesystem" section of rcufs stats. */
struct rfs_emit;
void rfs_remote_emit(struct rfs_emit *e);

#endif /* RCUFS_FS_COHERENCE_REMOTE_H */
