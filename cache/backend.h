/* SPDX-License-Identifier: MIT */
/*
 * cache/backend.h - what the dcache calls when it does not know the answer.
 *
 * The dcache never touches storage itself.  On a miss, an expired entry or a
 * revalidation it calls one of these operations.  fs/source/backend.c
 * implements them with syscalls on the backing directory; tests/lib/membackend.c
 * implements them in memory (and can inject errors and delays).
 *
 * Context, for every operation:
 *   - called OUTSIDE any RCU read section, with no dcache lock held;
 *   - the calling thread is registered with dcache_thread_enter();
 *   - the dentries and inodes passed in are referenced by the caller for the
 *     duration of the call, so the backend may use them freely (but must not
 *     keep pointers after returning unless it takes its own reference);
 *   - may block and may call back into the dcache's read-only accessors
 *     (dentry_name_copy, dentry_path, dc_inode_*), never into mutations;
 *   - returns 0 or a negative errno.
 */
#ifndef RCUFS_CACHE_BACKEND_H
#define RCUFS_CACHE_BACKEND_H

#include <stddef.h>
#include <sys/types.h>

struct dentry;
struct dc_inode;
struct dc_attr;

struct dc_backend_ops {
	/*
	 * Look up @name (@len bytes, no '/' or NUL, not "." or "..") in the
	 * directory @dir.  On success fill @attr and return 0; return -ENOENT
	 * when the name does not exist (the dcache then caches a negative
	 * entry), any other negative errno on failure (nothing is cached).
	 */
	int (*lookup)(void *backend, struct dentry *dir, const char *name,
		      size_t len, struct dc_attr *attr);

	/* Fresh attributes of the object @d names (@d is positive). */
	int (*getattr)(void *backend, struct dentry *d, struct dc_attr *attr);

	/*
	 * Target of the symlink @d into @buf (@size bytes).  Returns the
	 * target's length (which may exceed @size: the caller retries with a
	 * larger buffer) or a negative errno (-EINVAL if not a symlink).
	 */
	ssize_t (*readlink)(void *backend, struct dentry *d, char *buf,
			    size_t size);

	/*
	 * Optional.  Called once when an inode's memory is released, so the
	 * backend can free what it hung on dc_inode_set_private().  Called
	 * outside RCU, never concurrently with another op on the same inode.
	 */
	void (*release)(void *backend, struct dc_inode *inode, void *private);

	/*
	 * Optional; unlike the others it is called in any context, inside
	 * RCU read sections and under dcache locks too, so it must not
	 * block, take a lock, make a syscall or call into the dcache.  The
	 * longest validity, in ns, the dcache may give what lives on the
	 * filesystem of device @dev: the names and negative entries in its
	 * directories, the attributes and symlink targets of its objects.
	 * DC_TTL_FOREVER (as when the operation is absent): the periods of
	 * dcache_set_ttls apply alone.  Asked whenever a validity period
	 * starts (after a backend call or a write-through), never on a hit.
	 */
	uint64_t (*ttl_cap)(void *backend, uint64_t dev);
};

#endif /* RCUFS_CACHE_BACKEND_H */
