/* SPDX-License-Identifier: MIT */
/*
 * cache/dcache.h - the rcufs dentry cache: the one public header.
 *
 * A cache of names (dentries) and objects (inodes) of one backing tree, with
 * a lockless hit path: lookups run inside an RCU read section, validate what
 * they read with per-object sequence counts and take no reference unless the
 * caller must keep an object.  It knows nothing of FUSE; it reaches storage
 * through the backend ops of cache/backend.h.
 *
 * Identifiers.  Every cached inode has a node id, a 64-bit number that is
 * never reused during the life of a dcache (the root is DC_ROOT_ID), and a
 * generation.  Node ids are validated: an unknown id gets -ESTALE, never a
 * guess.  Inodes are keyed by the backing (st_dev, st_ino), so hard links
 * share one inode.
 *
 * Threads.  Every thread that calls into the dcache must first call
 * dcache_thread_enter() (it registers the thread with RCU and gives it its
 * statistics block) and dcache_thread_exit() before it ends.
 *
 * Flags.  Most lookups take DC_* flags:
 *   DC_CACHED      never call the backend or wait for another thread's
 *                  lookup; answer only from the cache and return -EAGAIN
 *                  when the answer is not cached and valid.  In RCU mode
 *                  it also never leaves the read section except to take
 *                  the references DC_WANT_KREF/DC_WANT_DENTRY ask for.
 *                  Handlers try this first; on -EAGAIN they call again
 *                  without it (DESIGN.md §3, the kernel's LOOKUP_CACHED).
 *   DC_WANT_ATTR   copy the final object's attributes into res->attr.
 *   DC_WANT_LINK   copy the symlink target into res->link as readlink(2)
 *                  does: at most res->link_size bytes, followed by a NUL
 *                  only when there is room; res->link_len gets its full
 *                  length (no-op for objects that are not symlinks).
 *   DC_WANT_DENTRY return the final dentry, referenced, in res->dentry
 *                  (release it with dentry_put outside RCU).
 *   DC_WANT_KREF   a positive result counts one kernel lookup reference on
 *                  the inode (FUSE nlookup), released by dcache_forget.
 *   DC_FORCE_REF   skip the RCU walk: walk with references on every
 *                  component (for benchmarks and tests of the slow path);
 *                  with DC_CACHED it still never calls the backend.
 *   DC_FOR_ACCESS  statistics only: this getattr serves an ACCESS request.
 * Without DC_WANT_DENTRY and DC_WANT_KREF a cache hit takes no reference
 * and stores nothing to shared memory: it is answered inside one RCU read
 * section from copies validated by sequence counts.
 *
 * Context paragraph.  Unless a function says otherwise, it must be called by
 * a registered thread, OUTSIDE any RCU read section, holding no dcache lock;
 * it may block (backend calls, sleeping locks), and returns 0 or a negative
 * errno.  Functions marked "RCU-safe" may also be called inside a read
 * section.
 */
#ifndef RCUFS_CACHE_DCACHE_H
#define RCUFS_CACHE_DCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "backend.h"

struct dcache;
struct dentry;
struct dc_inode;

#define DC_ROOT_ID 1
#define DC_NAME_MAX 255
#define DC_TTL_FOREVER UINT64_MAX

/*
 * Cached attributes.  Every field is a 64-bit word so that lockless readers
 * can copy them word by word with atomic loads under a sequence count.
 */
struct dc_attr {
	uint64_t ino;
	uint64_t dev;
	uint64_t mode; /* file type and permission bits, as st_mode */
	uint64_t nlink;
	uint64_t uid;
	uint64_t gid;
	uint64_t rdev;
	int64_t size;
	int64_t blocks;
	int64_t blksize;
	int64_t atime_sec, atime_nsec;
	int64_t mtime_sec, mtime_nsec;
	int64_t ctime_sec, ctime_nsec;
};

/* Conversions to and from struct stat.  RCU-safe, never block. */
void dc_attr_from_stat(struct dc_attr *a, const struct stat *st);
void dc_attr_to_stat(const struct dc_attr *a, struct stat *st);

enum {
	DC_CACHED = 1u << 0,
	DC_WANT_ATTR = 1u << 1,
	DC_WANT_LINK = 1u << 2,
	DC_WANT_DENTRY = 1u << 3,
	DC_WANT_KREF = 1u << 4,
	DC_FORCE_REF = 1u << 5,
	DC_FOR_ACCESS = 1u << 6,
};

/* What a lookup or walk answers.  Fields marked "in" are read. */
struct dc_result {
	uint64_t nodeid;       /* out: 0 when the result is negative */
	uint64_t generation;   /* out */
	struct dc_attr attr;   /* out: DC_WANT_ATTR, positive results */
	char *link;	       /* in: buffer for DC_WANT_LINK */
	size_t link_size;      /* in: its size */
	size_t link_len;       /* out: full target length */
	struct dentry *dentry; /* out: DC_WANT_DENTRY (NULL otherwise) */
	/*
	 * out: when what the answer says expires in the cache (CLOCK_
	 * MONOTONIC ns): the earlier of the entry's and (DC_WANT_ATTR) the
	 * attributes' expiry; DC_TTL_FOREVER when it was just asked of the
	 * backend or never expires.  A caller that lets someone else keep the
	 * answer (the kernel) keeps it no longer than this, so both expire
	 * together and the answer is never older than the validity period.
	 */
	uint64_t valid_until;
};

struct dcache_config {
	const struct dc_backend_ops *ops;
	void *backend; /* first argument of every op */
	/* The root directory's attributes (its key gives the root inode). */
	struct dc_attr root_attr;
	/*
	 * Validity of what a backend answer caches, in nanoseconds from the
	 * moment it was cached: positive entries, negative entries,
	 * attributes (and symlink targets).  DC_TTL_FOREVER: until
	 * invalidated.  0: every access revalidates with the backend.
	 */
	uint64_t entry_ttl_ns;
	uint64_t neg_ttl_ns;
	uint64_t attr_ttl_ns;
	/*
	 * Dentries kept before the shrinker evicts unused ones; 0 means
	 * unbounded.  Dentries pinned by kernel references or by children
	 * are not evictable, so the bound is on unused entries.
	 */
	uint64_t max_entries;
	/*
	 * When more than this many objects await their RCU grace period,
	 * the shrinker waits for the pending frees (rcu_barrier) before
	 * going on: call_rcu has no back-pressure of its own.  0 = 65536.
	 */
	uint64_t max_pending_frees;
	/*
	 * Start a shrinker thread that keeps the cache under max_entries.
	 * Without it nothing is evicted unless dcache_shrink() is called.
	 */
	bool shrinker_thread;
};

/* ---- lifetime and threads ---------------------------------------------- */

/*
 * Create a dcache.  The calling thread must be registered.  On success
 * *out holds the cache and its root (node id DC_ROOT_ID).
 */
int dcache_new(const struct dcache_config *cfg, struct dcache **out);

/*
 * Destroy a dcache.  All other threads must have stopped using it and all
 * references (dentries, inodes, results) must have been put.  Waits for
 * pending RCU callbacks.  Accepts NULL.
 */
void dcache_free(struct dcache *dc);

/*
 * Register / unregister the calling thread (RCU reader registration and
 * per-thread statistics).  dcache_thread_enter is idempotent; exit folds
 * the thread's counters into the totals.  Must not be called inside an RCU
 * read section.
 */
void dcache_thread_enter(void);
void dcache_thread_exit(void);
bool dcache_thread_registered(void);

/* Enter / leave an RCU read section (for tools and tests). Never block. */
void dcache_read_lock(void);
void dcache_read_unlock(void);
bool dcache_in_read_section(void);

/* ---- the fast path: lookups that copy answers out ------------------------ */

/*
 * Walk @path (relative to the root; leading and repeated '/' ignored, "."
 * skipped, ".." goes to the parent and stays at the root) and answer per
 * @flags into @res.  Intermediate components must be directories (else
 * -ENOTDIR); symlinks are never followed (FUSE resolves them in the
 * kernel).  Returns 0 (positive), -ENOENT (a component does not exist;
 * with DC_WANT_DENTRY res->dentry is then the negative dentry when the
 * last component is the missing one), -ENAMETOOLONG (a component is over
 * DC_NAME_MAX bytes), -EAGAIN (DC_CACHED and not answerable from the
 * cache), -ESTALE (the object changed while the backend was asked about
 * it: its name went away or now holds another object; asking again looks
 * afresh, as the kernel's retry on -ESTALE does), or a backend error.
 * The walk first tries RCU mode with a
 * hand-over-hand sequence ladder; on a miss it legitimizes (references
 * first, then re-validation) and continues in ref-walk mode; if that fails
 * it restarts once in ref-walk from the start.
 */
int dcache_walk(struct dcache *dc, const char *path, unsigned flags,
		struct dc_result *res);

/* The same, from @start (a referenced directory dentry). */
int dcache_walk_at(struct dcache *dc, struct dentry *start, const char *path,
		   unsigned flags, struct dc_result *res);

/*
 * Look up one @name in the directory with node id @parent (FUSE LOOKUP).
 * @name must be 1..DC_NAME_MAX bytes with no '/' and not "." or ".."
 * (-EINVAL; -ENAMETOOLONG when longer).  -ESTALE for an unknown @parent,
 * -ENOTDIR when it is not a directory.  Otherwise as dcache_walk.
 */
int dcache_lookup(struct dcache *dc, uint64_t parent, const char *name,
		  unsigned flags, struct dc_result *res);

/*
 * Attributes of node @nodeid (FUSE GETATTR, ACCESS).  Answered in RCU with
 * no reference when cached and valid; otherwise (unless DC_CACHED, which
 * returns -EAGAIN) refreshed from the backend.  -ESTALE for unknown ids.
 */
int dcache_getattr(struct dcache *dc, uint64_t nodeid, unsigned flags,
		   struct dc_attr *attr);
/* The same; *@until (may be NULL) gets when the attributes expire in the
 * cache (as dc_result.valid_until). */
int dcache_getattr_until(struct dcache *dc, uint64_t nodeid, unsigned flags,
			 struct dc_attr *attr, uint64_t *until);

/*
 * Symlink target of @nodeid into @buf as readlink(2) fills it (at most
 * @size bytes, a NUL only when there is room).  Returns the target's full length, -EINVAL if not a symlink,
 * -ESTALE, -EAGAIN (DC_CACHED, not cached), or a backend error.
 */
ssize_t dcache_readlink(struct dcache *dc, uint64_t nodeid, unsigned flags,
			char *buf, size_t size);

/*
 * Tests only: count @n kernel lookup references on @nodeid at once, as @n
 * DC_WANT_KREF lookups would (so a test reaches counts such as 2^32
 * without making that many calls).  -ESTALE for an unknown id.  Context
 * as the paragraph above (not in RCU, no lock; never blocks for long).
 */
int dcache_test_add_nlookup(struct dcache *dc, uint64_t nodeid, uint64_t n);

/*
 * Drop @nlookup kernel references from @nodeid (FUSE FORGET, and the undo
 * of a DC_WANT_KREF result whose reply failed).  The count is 64-bit, as
 * the kernel's: any number of lookups and any @nlookup are counted
 * exactly.  Returns -ESTALE for an unknown id and -EINVAL (dropping what
 * is there) when @nlookup exceeds the count.  May free the inode.
 */
int dcache_forget(struct dcache *dc, uint64_t nodeid, uint64_t nlookup);

/*
 * List directory @nodeid from @pos through the backend.  When the backend
 * supplies attributes, each entry is also cached (as dcache_instantiate
 * would, without a kernel reference).  Returns the next position or a
 * negative errno.
 */
off_t dcache_readdir(struct dcache *dc, uint64_t nodeid, off_t pos,
		     dc_filldir_t fill, void *ctx);

/* ---- write-through mutations (after the backend change succeeded) -------- */

/*
 * @name now exists in @parent with attributes @attr (create, mkdir, mknod,
 * symlink, link, readdirplus).  A negative or different cached entry is
 * replaced.  With DC_WANT_KREF counts a kernel reference; @res may be NULL
 * otherwise.  @link (may be NULL) is the symlink target to cache.  When
 * @parent is alive but the cache holds no dentry for it (all invalidated),
 * the inode and @res are made but no entry is cached (-ESTALE with
 * DC_WANT_DENTRY); dcache_remove and dcache_inval_entry then return
 * -ENOENT (nothing cached).
 */
int dcache_instantiate(struct dcache *dc, uint64_t parent, const char *name,
		       const struct dc_attr *attr, const char *link,
		       unsigned flags, struct dc_result *res);

/*
 * @name was removed from @parent (unlink, rmdir): a cached positive entry
 * turns negative in place (its inode's attributes are invalidated: nlink
 * changed) and the parent's attributes are invalidated.  -ENOENT when the
 * name was not cached (nothing to do).
 */
int dcache_remove(struct dcache *dc, uint64_t parent, const char *name);

enum {
	DC_RENAME_NOREPLACE = 1u << 0,
	DC_RENAME_EXCHANGE = 1u << 1,
};

/*
 * The backend renamed (@oldparent, @oldname) to (@newparent, @newname)
 * with @flags.  The cached dentry moves (its children with it); a cached
 * target is unhashed (or, with DC_RENAME_EXCHANGE, swapped).  Uncached
 * sides are invalidated.  -EINVAL for unknown flags or a directory moved
 * into its own subtree (the cache refuses what the backend must refuse).
 *
 * A lookup that runs between the backend change and this call may already
 * have cached the new state.  Moving and unhashing leave that right; a
 * swap does not (it would restore the old state, and the cache cannot
 * tell which state it holds).  So with DC_RENAME_EXCHANGE the caller must
 * keep lookups that fill the cache with the two names out from the backend
 * exchange to the end of this call.  The kernel's parent directory locks
 * are not enough: a revalidating lookup takes none (the daemon holds its
 * own rfs_exchange_lock for this, fs/LOCKING.md).
 */
int dcache_rename(struct dcache *dc, uint64_t oldparent, const char *oldname,
		  uint64_t newparent, const char *newname, unsigned flags);

/* New attributes of @nodeid (setattr, write, anything that changed it). */
int dcache_setattr(struct dcache *dc, uint64_t nodeid,
		   const struct dc_attr *attr);

/* New symlink target of @nodeid (@len bytes). */
int dcache_set_link(struct dcache *dc, uint64_t nodeid, const char *target,
		    size_t len);

/* ---- invalidation --------------------------------------------------------- */

/* Who asked for an invalidation (statistics). */
enum dc_inval_src {
	DC_SRC_LOCAL,	/* write-through from a request handler */
	DC_SRC_WATCH,	/* a change seen in the backing tree */
	DC_SRC_EXPIRED, /* a revalidation found the cache wrong */
	DC_SRC_USER,	/* explicit request (tools, tests) */
	DC_SRC_NR
};

/* Unhash (@parent, @name) and everything cached below it. -ENOENT if not
 * cached. */
int dcache_inval_entry(struct dcache *dc, uint64_t parent, const char *name,
		       enum dc_inval_src src);

enum {
	DC_INVAL_ATTR = 1u << 0,
	DC_INVAL_LINK = 1u << 1,
};

/* Forget the cached attributes and/or link target of @nodeid. */
int dcache_inval_inode(struct dcache *dc, uint64_t nodeid, unsigned what,
		       enum dc_inval_src src);

/*
 * Change the validity periods of what is cached from now on (as in
 * struct dcache_config; what is cached already keeps its expiry: call
 * dcache_inval_all() too to shorten it).  Any thread, any context.
 */
void dcache_set_ttls(struct dcache *dc, uint64_t entry_ns, uint64_t neg_ns,
		     uint64_t attr_ns);

/*
 * Call @fn(@ctx, nodeid, nlookup) for every cached inode (a snapshot: ones
 * created meanwhile may be missed).  @fn runs outside RCU with no dcache
 * lock held.  Must not be called inside RCU.
 */
void dcache_for_each_inode(struct dcache *dc,
			   void (*fn)(void *ctx, uint64_t nodeid,
				      uint64_t nlookup),
			   void *ctx);

/*
 * Make every cached entry and attribute expire now, without unhashing
 * anything: each is revalidated with the backend at its next use, and
 * lookups under directories the kernel holds by node id keep working
 * (what a lost-events watcher needs).  Must not be called inside RCU.
 */
void dcache_expire_all(struct dcache *dc, enum dc_inval_src src);

/*
 * The backing object (@dev, @ino) is going: its last name is about to be
 * removed (unlink or rmdir of a name whose link count is 1, a directory,
 * a rename target replaced).  The inode standing for it keeps its node id
 * for the kernel's references and open files but leaves the key table, so
 * an object that gets the same inode number later (filesystems reuse them
 * at once) becomes a new inode with a new node id, instead of inheriting
 * this one's identity, generation and cached symlink target.  Call it
 * *before* the backend removal: after it, another thread's new object may
 * already have been given the freed number and found this inode.  Returns
 * the node id taken out (0: no inode had that key), for dcache_rekey when
 * the removal failed.  Takes the inode-table lock; not in RCU.
 */
uint64_t dcache_forget_key(struct dcache *dc, uint64_t dev, uint64_t ino);

/*
 * Undo dcache_forget_key for @nodeid (0: nothing): the removal failed and
 * the object lives on.  Its inode goes back into the key table unless it
 * is dying or another inode has taken the key meanwhile (then the object
 * has two node ids until the kernel forgets one: harmless).
 *
 * Waits for an RCU grace period (synchronize_rcu(): a node deleted from a
 * cds_lfht may be added again only after one), so it blocks for as long
 * as the slowest read section in the process.  Request handlers may call
 * it (a failed removal is rare), outside any RCU read section and holding
 * no dcache lock nor any lock an RCU reader or the thread running
 * call_rcu callbacks could wait for; it holds the inode-table lock only
 * around its checks, never across the wait.
 */
void dcache_rekey(struct dcache *dc, uint64_t nodeid);

/* Unhash every cached entry below the root (SOURCE lost; the watcher's
 * overflow uses dcache_expire_all, which keeps directories reachable). */
void dcache_inval_all(struct dcache *dc, enum dc_inval_src src);

/* ---- shrinking -------------------------------------------------------------- */

/*
 * Evict up to @nr unused dentries (least recently used first; a dentry
 * used since it entered the LRU gets a second chance).  A dentry is
 * unused when nothing references it, it has no cached children and its
 * inode has no kernel references and no other holder.  Returns how many
 * were evicted.  Applies the pending-free back-pressure.
 */
size_t dcache_shrink(struct dcache *dc, size_t nr);

/* ---- objects ------------------------------------------------------------------ */

/*
 * A referenced inode whose backing key is (@dev, @ino), or NULL when none
 * is cached.  Takes the inode table lock: for cold paths (the change
 * watcher), not for request handlers.  Must not be called inside RCU.
 */
struct dc_inode *dcache_inode_find(struct dcache *dc, uint64_t dev,
				   uint64_t ino);
/*
 * "This inode has no extended attributes", the answer to most getxattr
 * calls of ls -l.  dcache_epoch() before asking the backend; then
 * dcache_set_noxattr(nodeid, that epoch) records the answer unless the
 * inode was changed or invalidated meanwhile (returns 1 if recorded, 0
 * if not, -ESTALE).  dcache_noxattr() is true while the cached attributes
 * are valid and still carry the ctime the answer was seen with: any
 * attribute invalidation, or a refresh showing a new ctime (an xattr
 * change sets ctime), ends it; with a finite attribute validity, so does
 * any refresh from the backend (not every filesystem moves ctime).  dcache_noxattr takes no lock and makes no
 * call (RCU, i_seq); the others must not be called inside RCU.
 */
uint64_t dcache_epoch(struct dcache *dc);
int dcache_set_noxattr(struct dcache *dc, uint64_t nodeid, uint64_t since);
bool dcache_noxattr(struct dcache *dc, uint64_t nodeid);

/* A referenced inode for @nodeid, or NULL (unknown id). */
struct dc_inode *dcache_inode_get(struct dcache *dc, uint64_t nodeid);
/* Release an inode reference.  Accepts NULL.  Must not be called in RCU. */
void dc_inode_put(struct dc_inode *inode);
/* RCU-safe accessors of immutable fields (caller holds a reference). */
uint64_t dc_inode_nodeid(const struct dc_inode *inode);
uint64_t dc_inode_generation(const struct dc_inode *inode);
void dc_inode_key(const struct dc_inode *inode, uint64_t *dev, uint64_t *ino);
/* The object's type (mode & S_IFMT); immutable. */
mode_t dc_inode_type(const struct dc_inode *inode);
/* Current kernel lookup count (atomic read; for tests and statistics). */
uint64_t dc_inode_nlookup(const struct dc_inode *inode);
/* Backend's private pointer.  set returns the winner when already set. */
void *dc_inode_private(const struct dc_inode *inode);
void *dc_inode_set_private(struct dc_inode *inode, void *private);
/* A referenced hashed dentry naming @inode, or NULL. */
struct dentry *dc_inode_alias(struct dc_inode *inode);

/* Take / release a dentry reference (the caller owns one already).  Both
 * must not be called inside an RCU read section (put is asserted with
 * cache_debug: a final put may free); put accepts NULL. */
struct dentry *dentry_get(struct dentry *d);
void dentry_put(struct dentry *d);
/* The referenced inode of @d, or NULL for a negative dentry. */
struct dc_inode *dentry_inode(struct dentry *d);
/* The referenced parent of @d (the root is its own parent). */
struct dentry *dentry_parent(struct dentry *d);
/* Copy @d's current name into @buf (DC_NAME_MAX + 1 bytes); its length. */
size_t dentry_name_copy(struct dentry *d, char *buf);
/*
 * @d's path relative to the root ("" for the root) into @buf, consistent
 * against concurrent renames.  Its length, -ENAMETOOLONG when it does not
 * fit, -ENOENT when @d is no longer hashed.
 */
ssize_t dentry_path(struct dentry *d, char *buf, size_t size);
bool dentry_is_negative(struct dentry *d);

/* ---- statistics ---------------------------------------------------------------- */

enum dc_op {
	DC_OP_LOOKUP,
	DC_OP_GETATTR,
	DC_OP_ACCESS,
	DC_OP_READLINK,
	DC_OP_WALK,
	DC_OP_NR
};

enum dc_be_op {
	DC_BE_LOOKUP,
	DC_BE_GETATTR,
	DC_BE_READLINK,
	DC_BE_READDIR,
	DC_BE_NR
};

struct dcache_stats {
	/* Per-thread counters, summed on read. */
	uint64_t hits[DC_OP_NR];       /* answered inside RCU */
	uint64_t slow[DC_OP_NR];       /* needed references or the backend */
	uint64_t neg_hits;	       /* negative answers from the cache */
	uint64_t legit_ok, legit_fail; /* RCU -> ref transitions */
	uint64_t refwalk_restarts;     /* walks redone in ref mode from start */
	uint64_t backend_calls[DC_BE_NR];
	uint64_t backend_errors; /* errors other than -ENOENT */
	uint64_t inlookup_waits; /* waited for another thread's miss */
	uint64_t invalidations[DC_SRC_NR];
	uint64_t evictions;
	uint64_t rcu_barriers; /* back-pressure waits */
	/* Gauges of this dcache. */
	uint64_t dentries, negative_dentries, inodes, lru;
	uint64_t pending_frees; /* objects awaiting a grace period */
	uint64_t bytes;		/* memory of dentries, names, inodes */
	/* Hash tables: buckets asked for (the grower may still be on its
	 * way there) and cds_lfht_resize calls made so far. */
	uint64_t dentry_buckets, inode_buckets;
	uint64_t table_resizes;
};

/* Fill @st.  Thread counters are process-wide; gauges are @dc's.  Never
 * blocks for long; may be called from any registered thread. */
void dcache_stats(struct dcache *dc, struct dcache_stats *st);

#endif /* RCUFS_CACHE_DCACHE_H */
