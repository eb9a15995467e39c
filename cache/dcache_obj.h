/* SPDX-License-Identifier: MIT */
/*
 * cache/dcache_obj.h - handles on cached objects: references to struct
 * dentry and struct dc_inode, what their holders may read, and the
 * per-inode "no extended attributes" answer.  Part of
 * the public header: include "dcache.h", which includes this one.  A
 * backend (backend.h) is handed such references and may use these
 * accessors, never the mutations.
 */
#ifndef RCUFS_CACHE_DCACHE_OBJ_H
#define RCUFS_CACHE_DCACHE_OBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dcache;
struct dentry;
struct dc_inode;

/* ---- inodes ---------------------------------------------------------------- */

/*
 * A referenced inode whose backing key is (@dev, @ino), or NULL when none
 * is cached (release it with dc_inode_put).  Registered thread, outside
 * RCU, no dcache lock; always takes the inode-table lock, then the
 * inode's: for cold paths (the change watcher), not for request handlers.
 * Never calls the backend; no grace period.
 */
struct dc_inode *dc_inode_find(struct dcache *dc, uint64_t dev, uint64_t ino);

/*
 * A referenced inode for @nodeid, or NULL (unknown id, or dying); release
 * it with dc_inode_put.  Registered thread, outside RCU, no dcache lock:
 * lockless in the common case, else it sleeps briefly on the inode-table
 * lock and the inode's lock.  Never calls the backend; no grace period.
 */
struct dc_inode *dc_inode_get(struct dcache *dc, uint64_t nodeid);

/*
 * Release an inode reference (from dc_inode_get, dc_inode_find,
 * dentry_inode).  NULL: nothing.  Outside RCU (asserted), no dcache lock.
 * The last reference unhashes the inode, runs the backend's release op in
 * this thread and frees the memory by call_rcu (no grace period waited).
 */
void dc_inode_put(struct dc_inode *inode);

/*
 * Accessors of an inode the caller holds a reference on (or found inside
 * the RCU read section it is still in).  Any thread, any context (an RCU
 * read section too); never block, take no lock.
 *   dc_inode_nodeid  its node id (immutable);
 *   dc_inode_key     its backing (st_dev, st_ino) (immutable);
 *   dc_inode_type    the object's type, mode & S_IFMT (immutable);
 *   dc_inode_nlookup its kernel lookup count (a relaxed snapshot: tests
 *                    and statistics).
 */
uint64_t dc_inode_nodeid(const struct dc_inode *inode);
void dc_inode_key(const struct dc_inode *inode, uint64_t *dev, uint64_t *ino);
mode_t dc_inode_type(const struct dc_inode *inode);
uint64_t dc_inode_nlookup(const struct dc_inode *inode);

/*
 * The backend's private pointer of @inode (NULL until set), and setting
 * it once: dc_inode_set_private returns @private if it was unset, else
 * the pointer another thread set first (the caller frees its own).  An
 * acquire load / acq_rel compare-and-swap, so what the setter wrote to
 * the object before publishing it is visible.  Any thread, any context;
 * never block.  The cache hands the pointer to ops->release when the
 * inode's memory goes.
 */
void *dc_inode_private(const struct dc_inode *inode);
void *dc_inode_set_private(struct dc_inode *inode, void *private);

/*
 * A referenced dentry naming @inode (a hashed one if there is one, else
 * any live one), or NULL; release it with dentry_put.  Outside RCU, no
 * dcache lock; sleeps briefly on the inode's and the dentry's locks;
 * never calls the backend; no grace period.
 */
struct dentry *dc_inode_alias(struct dc_inode *inode);

/* ---- inodes: "no extended attributes" -------------------------------------- */
/*
 * "This inode has no extended attributes", the answer to most getxattr
 * calls of ls -l.  dcache_epoch() before asking the backend; then
 * dcache_set_noxattr(nodeid, that epoch) records the answer unless the
 * inode was changed or invalidated meanwhile (returns 1 if recorded, 0
 * if not, -ESTALE).  dcache_noxattr() is true while the cached attributes
 * are valid and still carry the ctime the answer was seen with: any
 * attribute invalidation, or a refresh showing a new ctime (an xattr
 * change sets ctime), ends it.
 */

/* The attribute epoch now: a sequentially consistent load.  Any thread,
 * any context (an RCU read section too); never blocks. */
uint64_t dcache_epoch(struct dcache *dc);

/* Record "no xattrs" for @nodeid, as of epoch @since (above).  Registered
 * thread, outside RCU, no dcache lock; sleeps briefly on the inode's lock;
 * never calls the backend; no grace period. */
int dcache_set_noxattr(struct dcache *dc, uint64_t nodeid, uint64_t since);

/* Whether "no xattrs" holds for @nodeid now (false for unknown ids).
 * Registered thread, any context (inside an RCU read section too: it
 * opens its own, which nests); no lock, no store, never blocks. */
bool dcache_noxattr(struct dcache *dc, uint64_t nodeid);

/* ---- dentries --------------------------------------------------------------- */

/*
 * Take one more reference on @d, which the caller already holds one on;
 * returns @d.  Registered thread, outside RCU, no dcache lock: lockless
 * in the common case, else it sleeps briefly on @d's lock.
 */
struct dentry *dentry_get(struct dentry *d);

/*
 * Release a dentry reference (NULL: nothing).  Outside RCU (asserted in
 * cache_debug builds), no dcache lock.  A hashed dentry's last reference
 * puts it on the LRU (it stays cached); an unhashed one's kills it, and
 * then its parent's reference is put the same way; the memory is freed by
 * call_rcu (no grace period waited).  May take the LRU lock and kick the
 * shrinker; never calls the backend.
 */
void dentry_put(struct dentry *d);

/*
 * The inode of @d, referenced (release with dc_inode_put), or NULL for a
 * negative dentry.  Outside RCU, no dcache lock; takes @d's lock briefly.
 */
struct dc_inode *dentry_inode(struct dentry *d);

/*
 * The parent of @d, referenced (release with dentry_put); the root is its
 * own parent.  Consistent with concurrent renames (read under @d's lock).
 * Outside RCU, no dcache lock; takes @d's lock briefly.
 */
struct dentry *dentry_parent(struct dentry *d);

/*
 * Copy @d's current name, NUL-terminated, into @buf (DC_NAME_MAX + 1
 * bytes); returns its length.  Outside RCU, no dcache lock; takes @d's
 * lock briefly (renames change names under it).
 */
size_t dentry_name_copy(struct dentry *d, char *buf);

/*
 * @d's path relative to the root ("" for the root) into @buf, consistent
 * against concurrent renames.  Its length, -ENAMETOOLONG when it does not
 * fit, -ENOENT when @d is no longer hashed.  Registered thread, outside
 * RCU, no dcache lock: one read section of its own; when a rename raced
 * it, a second one under the rename lock (so it may wait for a rename).
 * No grace period.
 */
ssize_t dentry_path(struct dentry *d, char *buf, size_t size);

/* Whether @d is negative now (a snapshot: it may turn positive or
 * negative at any time).  Any thread, any context; never blocks. */
bool dentry_is_negative(struct dentry *d);

#endif /* RCUFS_CACHE_DCACHE_OBJ_H */
