/* SPDX-License-Identifier: MIT */
/*
 * fs/source/source_i.h - what the files of fs/source/ share.
 *
 * Locks: fdc_lock (fdcache.c) protects the fd cache; it is never held
 * across a hook call, inside an RCU read section, or across a syscall
 * that can block for long except close() of evicted fds.
 */
#ifndef RCUFS_FS_SOURCE_SOURCE_I_H
#define RCUFS_FS_SOURCE_SOURCE_I_H

#include "source/source.h"

/* Set by rfs_source_set_hooks before any thread runs; read-only after. */
extern struct rfs_source_hooks rfs_source_hooks;

/* Is open @fd the object (@dev, @ino)?  0 (and *@out, may be NULL, gets
 * its attributes), -ESTALE when another object, or -errno of fstat. */
int backing_verify(int fd, uint64_t dev, uint64_t ino, struct stat *out);
/* Parent fd and name of dentry @d (referenced); as backing_locate. */
int backing_locate_dentry(struct dentry *d, int *dirfd, char *name,
			  struct fdent **ref);

/* The backend release op (backend.c's table): the dcache frees directory
 * inode @inode, whose fdent is @priv; no borrowers exist.  Drops its fd
 * and calls the dir_released hook. */
void backing_release(void *backend, struct dc_inode *inode, void *priv);

#endif /* RCUFS_FS_SOURCE_SOURCE_I_H */
