/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/ops.h - the FUSE request handlers, one file per family of
 * operations (fs/README.md lists where each lives).
 *
 * Layer: the top below main.c.  The handlers call the coherence layer
 * (what the kernel may keep, the notifier queue), the source layer
 * (reaching SOURCE, acting as the caller), the dcache, and stats/ (the
 * per-request flags); nothing below calls back up into ops/.
 */
#ifndef RCUFS_FS_OPS_OPS_H
#define RCUFS_FS_OPS_OPS_H

#include "rfs.h"

/* The operation table given to fuse_session_new, each entry timed
 * (table.c).  Read-only. */
extern const struct fuse_lowlevel_ops rfs_ops;

/* Interrupt every blocked lock request and wait (a few seconds at most)
 * for its waiter thread to reply; after the session loop ended (locks.c). */
void rfs_locks_stop(void);

#endif /* RCUFS_FS_OPS_OPS_H */
