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
 * Contracts.  Every function below ends with its own context paragraph:
 * whether it may (or must) run inside an RCU read section, whether the
 * thread must be registered, what it may block on (backend calls, the
 * cache's sleeping locks, another thread's lookup of the same name), and
 * whether it waits for an RCU grace period.  "Outside RCU" means the
 * calling thread is in no RCU read section (cache_debug builds assert it
 * in every put).  No function is entered, or returns, holding a dcache
 * lock; none takes a lock of the caller's.  Errors are negative errnos.
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

/*
 * Conversions to and from struct stat (fields not in the other struct are
 * zeroed).  Pure functions: any thread, any context (inside an RCU read
 * section too); never block.
 */
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
 * Create a dcache: its tables, its root (node id DC_ROOT_ID, from
 * cfg->root_attr), the grower thread (table growth, the object slabs' next
 * chunks) and, with cfg->shrinker_thread,
 * the shrinker.  0 and *out, or -EINVAL (cfg->ops without lookup or
 * getattr, a root that is not a directory), -ENOMEM, or the errno of a
 * failed thread start (*out NULL, nothing left behind).
 *
 * Registers the calling thread (dcache_thread_enter) if it was not.  Call
 * outside RCU; may block (allocations, thread creation); no grace period.
 */
int dcache_new(const struct dcache_config *cfg, struct dcache **out);

/*
 * Destroy a dcache (NULL: nothing).  Every other thread must have stopped
 * using it and every reference it handed out (dentries, inodes, kernel
 * lookup counts) must be gone or abandoned.  Stops its threads; calls the
 * backend's release op for inodes with private data.
 *
 * Registered thread, outside RCU: waits for grace periods and for every
 * queued RCU callback (synchronize_rcu, rcu_barrier), so it blocks as long
 * as the slowest read section in the process.
 */
void dcache_free(struct dcache *dc);

/*
 * Register the calling thread: as an RCU reader (liburcu memb flavour) and
 * with a statistics block of its own.  Idempotent.  Outside RCU (the
 * thread cannot be in one yet); takes the statistics lock briefly; no
 * grace period.
 */
void dcache_thread_enter(void);

/*
 * Unregister the calling thread (no-op if it is not): its counters are
 * folded into the totals.  Outside RCU (asserted); takes the statistics
 * lock briefly; no grace period.
 */
void dcache_thread_exit(void);

/* Whether the calling thread is registered.  Any context; never blocks. */
bool dcache_thread_registered(void);

/*
 * Enter / leave an RCU read section of the cache's flavour (tools and
 * tests that hold what a lookup returned without a reference).  Sections
 * nest.  Registered thread; never block.  Inside one, call only what is
 * said to be allowed there.
 */
void dcache_read_lock(void);
void dcache_read_unlock(void);

/* Whether the calling thread is inside an RCU read section.  Registered
 * thread, any context; never blocks. */
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
 * The walk first tries RCU mode with a hand-over-hand sequence ladder; on a
 * miss it legitimizes (references first, then re-validation) and continues
 * in ref-walk mode; if that fails it restarts once in ref-walk from the
 * start.
 *
 * Registered thread, outside RCU (asserted: the walk opens its own read
 * section), no dcache lock.  A hit opens one read section and takes no
 * lock, no reference and stores nothing shared (unless DC_WANT_KREF or
 * DC_WANT_DENTRY).  A miss may block: the backend's lookup, getattr or
 * readlink, the cache's sleeping locks, or a wait for another thread's
 * lookup of the same name; DC_CACHED never calls the backend nor waits
 * for another lookup, and in RCU mode takes no lock.  Never waits for a
 * grace period.  Orders: the answer reflects every write-through and
 * invalidation that returned before the call began.  Returns, on success,
 * the references asked for: res->dentry (DC_WANT_DENTRY, release with
 * dentry_put) and one kernel lookup count (DC_WANT_KREF, release with
 * dcache_forget).
 */
int dcache_walk(struct dcache *dc, const char *path, unsigned flags,
		struct dc_result *res);

/*
 * As dcache_walk, from @start instead of the root: a directory dentry the
 * caller holds a reference on (kept; the walk takes its own).  Same
 * context, blocking, ordering and references as dcache_walk.
 */
int dcache_walk_at(struct dcache *dc, struct dentry *start, const char *path,
		   unsigned flags, struct dc_result *res);

/*
 * Look up one @name in the directory with node id @parent (FUSE LOOKUP).
 * @name must be 1..DC_NAME_MAX bytes with no '/' and not "." or ".."
 * (-EINVAL; -ENAMETOOLONG when longer).  -ESTALE for an unknown @parent,
 * -ENOTDIR when it is not a directory.  Otherwise as dcache_walk: the
 * same flags, context (registered, outside RCU, no dcache lock), blocking
 * (only on a miss; never with DC_CACHED's backend or in-lookup waits),
 * ordering and returned references; no grace period.
 */
int dcache_lookup(struct dcache *dc, uint64_t parent, const char *name,
		  unsigned flags, struct dc_result *res);

/*
 * A hint before dcache_lookup(@parent, @name) of a name SOURCE listed
 * with inode number @ino (0: unknown): starts loading, into the CPU's
 * cache, the hash-table lines that the lookup and, on a miss, the new
 * entry's instantiation read.  A caller that knows the next names calls
 * it shallow (@deep false) two names ahead and deep one name ahead (the
 * deep call follows the buckets the shallow one loaded), so that those
 * memory loads overlap with the work on the current name.  Changes
 * nothing; the name is not checked.  Any registered thread, outside RCU,
 * any lock held; never blocks, allocates or makes a syscall.
 */
void dcache_prefetch(struct dcache *dc, uint64_t parent, const char *name,
		     uint64_t ino, bool deep);

/*
 * Attributes of node @nodeid into @attr (FUSE GETATTR, ACCESS).  Flags:
 * DC_CACHED, DC_FORCE_REF, DC_FOR_ACCESS (the others are ignored).  0, or
 * -ESTALE (unknown id, or no dentry left to ask the backend through),
 * -EAGAIN (DC_CACHED, not cached and valid), or a backend error.
 *
 * Registered thread, outside RCU (asserted), no dcache lock.  A valid
 * cached answer is copied inside one read section of its own, with no
 * lock and no reference.  Otherwise (not with DC_CACHED) it asks the
 * backend's getattr through one of the inode's dentries and may block on
 * it and on the cache's sleeping locks.  No grace period; returns no
 * reference.  Orders as dcache_walk.
 */
int dcache_getattr(struct dcache *dc, uint64_t nodeid, unsigned flags,
		   struct dc_attr *attr);
/* The same; *@until (may be NULL) gets when the attributes expire in the
 * cache (as dc_result.valid_until).  Context as dcache_getattr. */
int dcache_getattr_until(struct dcache *dc, uint64_t nodeid, unsigned flags,
			 struct dc_attr *attr, uint64_t *until);

/*
 * Symlink target of @nodeid into @buf as readlink(2) fills it (at most
 * @size bytes, a NUL only when there is room).  Returns the target's full
 * length, -EINVAL if not a symlink, -ESTALE, -EAGAIN (DC_CACHED, not
 * cached), -ENOMEM, -ENAMETOOLONG (a target over 1 MiB), or a backend
 * error.  DC_FORCE_REF skips the cached copy.
 *
 * Context, blocking and ordering as dcache_getattr (the backend op is
 * readlink); no grace period; returns no reference.
 */
ssize_t dcache_readlink(struct dcache *dc, uint64_t nodeid, unsigned flags,
			char *buf, size_t size);

/*
 * Tests only: count @n kernel lookup references on @nodeid at once, as @n
 * DC_WANT_KREF lookups would (so a test reaches counts such as 2^32
 * without making that many calls).  -ESTALE for an unknown id.
 *
 * Registered thread, outside RCU, no dcache lock; may sleep briefly on the
 * inode-table lock or the inode's lock; never calls the backend; no grace
 * period.  Release the counts with dcache_forget.
 */
int dcache_test_add_nlookup(struct dcache *dc, uint64_t nodeid, uint64_t n);

/*
 * Drop @nlookup kernel references from @nodeid (FUSE FORGET, and the undo
 * of a DC_WANT_KREF result whose reply failed).  The count is 64-bit, as
 * the kernel's: any number of lookups and any @nlookup are counted
 * exactly.  Returns -ESTALE for an unknown id and -EINVAL (dropping what
 * is there) when @nlookup exceeds the count.
 *
 * Registered thread, outside RCU, no dcache lock.  May sleep briefly on
 * the cache's locks; when this drops the inode's last reference it is
 * unhashed, the backend's release op runs in this thread, and its memory
 * is freed after a grace period by call_rcu (never waited for here).
 */
int dcache_forget(struct dcache *dc, uint64_t nodeid, uint64_t nlookup);

/* ---- write-through mutations (after the backend change succeeded) -------- */

/*
 * @name now exists in @parent with attributes @attr (create, mkdir, mknod,
 * symlink, link).  A negative or different cached entry is
 * replaced.  With DC_WANT_KREF counts a kernel reference; @res may be NULL
 * otherwise.  @link (may be NULL) is the symlink target to cache.  When
 * @parent is alive but the cache holds no dentry for it (all invalidated),
 * the inode and @res are made but no entry is cached (-ESTALE with
 * DC_WANT_DENTRY); dcache_remove and dcache_inval_entry then return
 * -ENOENT (nothing cached).  Also -EINVAL (a bad @name, or DC_WANT_KREF or
 * DC_WANT_DENTRY without @res), -ENAMETOOLONG, -ESTALE (unknown @parent),
 * -ENOTDIR, -ENOMEM, -EAGAIN (kept losing races; nothing counted).
 *
 * Call after the backend change succeeded, from a registered thread,
 * outside RCU, no dcache lock.  Never calls the backend, but may block on
 * the cache's sleeping locks and wait for another thread's lookup of the
 * same name to finish.  No grace period.  Orders: advances the attribute
 * epoch first, so a backend answer read before this call can no longer
 * overwrite what it caches, and a lookup that begins after it returns
 * sees the entry.  @parent's attributes are invalidated (mtime changed).
 * Returns in @res the references asked for (as dcache_walk).
 */
int dcache_instantiate(struct dcache *dc, uint64_t parent, const char *name,
		       const struct dc_attr *attr, const char *link,
		       unsigned flags, struct dc_result *res);

/*
 * @name was removed from @parent (unlink, rmdir): a cached positive entry
 * turns negative in place (its inode's attributes are invalidated: nlink
 * changed) and the parent's attributes are invalidated; a removed
 * directory's cached children are unhashed.  -ENOENT when the name was not
 * cached (nothing to do), -EINVAL / -ENAMETOOLONG for a bad @name,
 * -ESTALE / -ENOTDIR for @parent.
 *
 * Call after the backend removal succeeded; context, blocking (no backend
 * call; the cache's locks, another thread's in-lookup) and ordering as
 * dcache_instantiate; no grace period; takes no reference it keeps.
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
 *
 * Also -EINVAL / -ENAMETOOLONG for a bad name, -ENOTDIR for a parent that
 * is not a directory, -ENOMEM; a parent with no cached dentry left is no
 * error: whatever is cached of either name is dropped, and 0.  Registered thread, outside RCU (asserted), no dcache lock.
 * Never calls the backend; takes the rename lock, then both parents' and
 * both dentries' locks, so it may block behind another rename or a lock
 * holder.  No grace period: the old names and hash nodes are freed by
 * call_rcu.  Orders: advances the attribute epoch first (as
 * dcache_instantiate); a walk that begins after it returns sees the new
 * names, and dentry_path readers never see a half-done move.
 */
int dcache_rename(struct dcache *dc, uint64_t oldparent, const char *oldname,
		  uint64_t newparent, const char *newname, unsigned flags);

/*
 * New attributes of @nodeid (setattr, write, anything that changed it),
 * written through.  0, -ESTALE (unknown id), -EINVAL (@attr is another
 * object: its dev, ino or type differ).  Registered thread, outside RCU,
 * no dcache lock; sleeps briefly on the inode's lock; never calls the
 * backend; no grace period.  Orders: advances the attribute epoch, so an
 * older backend answer cannot overwrite @attr; a getattr that begins
 * after it returns sees @attr.
 */
int dcache_setattr(struct dcache *dc, uint64_t nodeid,
		   const struct dc_attr *attr);

/*
 * New symlink target of @nodeid (@len bytes), written through.  0,
 * -ESTALE, -EINVAL (not a symlink), -ENOMEM.  Context, blocking and
 * ordering as dcache_setattr; the old target is freed by call_rcu (no
 * grace period waited for).
 */
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

/*
 * Unhash (@parent, @name) and everything cached below it (an in-lookup
 * entry too: its answer may predate the change).  0, -ENOENT (not cached,
 * or a live @parent with nothing cached under it), -EINVAL (bad @src or
 * @name), -ENAMETOOLONG, -ESTALE / -ENOTDIR for @parent.  Registered
 * thread, outside RCU, no dcache lock; never calls the backend; may block
 * on the cache's sleeping locks; no grace period.  Orders: advances the
 * attribute epoch first; a lookup that begins after it returns asks the
 * backend.  Dentries still referenced live on, unhashed, until put.
 */
int dcache_inval_entry(struct dcache *dc, uint64_t parent, const char *name,
		       enum dc_inval_src src);

enum {
	DC_INVAL_ATTR = 1u << 0,
	DC_INVAL_LINK = 1u << 1,
};

/*
 * Forget the cached attributes (DC_INVAL_ATTR) and/or link target
 * (DC_INVAL_LINK) of @nodeid: their next use asks the backend.  0,
 * -ESTALE (unknown id), -EINVAL (bad @what or @src).  Registered thread,
 * outside RCU, no dcache lock; sleeps briefly on the inode's lock; never
 * calls the backend; no grace period.  Orders as dcache_setattr.
 */
int dcache_inval_inode(struct dcache *dc, uint64_t nodeid, unsigned what,
		       enum dc_inval_src src);

/* An object with no inode may have changed in the backend: advances the
 * attribute epoch, so a lookup that read before this and creates the
 * inode after it caches no attributes (its answer asks the backend again).  An
 * existing inode needs dcache_inval_inode.  Any thread, any context (an
 * RCU read section too); one atomic add, never blocks. */
void dcache_backend_changed(struct dcache *dc);

/*
 * Change the validity periods of what is cached from now on (as in
 * struct dcache_config; what is cached already keeps its expiry: call
 * dcache_inval_all() too to shorten it).  Any thread, registered or not,
 * any context (an RCU read section too); relaxed stores, never blocks:
 * another thread's next caching may still use the old periods.
 */
void dcache_set_ttls(struct dcache *dc, uint64_t entry_ns, uint64_t neg_ns,
		     uint64_t attr_ns);

/*
 * Call @fn(@ctx, nodeid, nlookup) for every cached inode (a snapshot: ones
 * created meanwhile may be missed; without memory for the snapshot every
 * node id handed out so far is tried).  @fn runs in the calling thread,
 * outside RCU with no dcache lock held, and may use the cache.
 *
 * Registered thread, outside RCU (asserted), no dcache lock; blocks for as
 * long as @fn does, and briefly on the cache's locks; no grace period.
 */
void dcache_for_each_inode(struct dcache *dc,
			   void (*fn)(void *ctx, uint64_t nodeid,
				      uint64_t nlookup),
			   void *ctx);

/*
 * Make every cached entry and attribute expire now, without unhashing
 * anything: each is revalidated with the backend at its next use, and
 * lookups under directories the kernel holds by node id keep working
 * (what a lost-events watcher needs).  A bad @src counts as DC_SRC_USER.
 *
 * Registered thread, outside RCU, no dcache lock; one read section over
 * the whole dentry table, then every inode's lock in turn (so it takes
 * time in proportion to the cache); never calls the backend; no grace
 * period.  Orders: advances the attribute epoch first, so a backend
 * answer read before the call cannot make anything valid again.
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
 * the removal failed.
 *
 * Registered thread, outside RCU, no dcache lock; takes the inode-table
 * lock (briefly); never calls the backend; no grace period.
 */
uint64_t dcache_forget_key(struct dcache *dc, uint64_t dev, uint64_t ino);

/*
 * Undo dcache_forget_key for @nodeid (0: nothing): the removal failed and
 * the object lives on.  Its inode goes back into the key table unless it
 * is dying or another inode has taken the key meanwhile (then the object
 * has two node ids until the kernel forgets one: harmless).
 *
 * Waits for an RCU grace period (synchronize_rcu(): a node deleted from a
 * table may be added again only after one), so it blocks for as long
 * as the slowest read section in the process.  Request handlers may call
 * it (a failed removal is rare), outside any RCU read section and holding
 * no dcache lock nor any lock an RCU reader or the thread running
 * call_rcu callbacks could wait for; it holds the inode-table lock only
 * around its checks, never across the wait.
 */
void dcache_rekey(struct dcache *dc, uint64_t nodeid);

/*
 * Unhash every cached entry below the root, and forget every inode's
 * attributes and link target (SOURCE lost; the watcher's overflow uses
 * dcache_expire_all, which keeps directories reachable).  A bad @src
 * counts as DC_SRC_USER.  Registered thread, outside RCU, no dcache lock;
 * takes every dentry's and inode's lock in turn; never calls the backend;
 * no grace period.  Orders: advances the attribute epoch first.
 */
void dcache_inval_all(struct dcache *dc, enum dc_inval_src src);

/* ---- shrinking -------------------------------------------------------------- */

/*
 * Evict up to @nr unused dentries (least recently used first; a dentry
 * used since it entered the LRU gets a second chance).  A dentry is
 * unused when nothing references it, it has no cached children and its
 * inode has no kernel references and no other holder.  Returns how many
 * were evicted.
 *
 * Registered thread, outside RCU (asserted), no dcache lock.  Applies the
 * pending-free back-pressure: when more objects than max_pending_frees
 * await their grace period it first waits for them (rcu_barrier), which
 * lasts at least one grace period.  Takes the LRU lock and dentry locks
 * (only trylocks under the LRU lock); evicted memory is freed by call_rcu.
 * Never calls the backend, except the release op of inodes it frees.
 */
size_t dcache_shrink(struct dcache *dc, size_t nr);

/* The counters: dcache_stats() and its structure. */
#include "dcache_stats.h"

/* References to dentries and inodes, and their accessors. */
#include "dcache_obj.h"

#endif /* RCUFS_CACHE_DCACHE_H */
