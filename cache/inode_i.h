/* SPDX-License-Identifier: MIT */
/*
 * cache/inode_i.h - the inode: symlink blocks, packed attributes, flags,
 * layout, and the internal functions of inode.c, iattr.c and alias.c.
 *
 * Included by dcache_i.h (after struct dcache and the helpers above its
 * include line), never on its own: the locking and RCU rules that govern
 * every field here are dcache_i.h's opening blocks.
 */
#ifndef RCUFS_CACHE_INODE_I_H
#define RCUFS_CACHE_INODE_I_H

/* A symlink target: immutable once published. */
struct dc_link {
	struct rcu_head rcu;
	struct dcache *dc;
	size_t len;
	char s[]; /* len bytes and a NUL */
};

/*
 * The cached attributes, packed into ten words (the dc_attr fields that
 * Linux keeps in 32 bits share a word; dev and ino are the inode's key).
 * Written word by word with relaxed stores inside an i_seq write section,
 * copied word by word with relaxed loads (i_copy_attr).  An answer that
 * does not fit (a field beyond its 32 bits, or a dev/ino that is not the
 * inode's key) is not cached: the attributes are left invalid.
 */
struct dc_iattr {
	uint64_t mode_nlink; /* mode | nlink << 32 */
	uint64_t uid_gid;    /* uid | gid << 32 */
	uint64_t rdev;
	int64_t size, blocks;
	int64_t atime_sec, mtime_sec, ctime_sec;
	uint64_t amtime_nsec;	 /* atime_nsec | mtime_nsec << 32 */
	uint64_t ctime_nsec_blk; /* ctime_nsec | blksize << 32 */
};

/*
 * Layout (256 bytes, four cache lines).  What a walk's last component and
 * a getattr copy out fills lines 0-1: i_seq, the type, the attribute
 * expiry, the node id, the key (the attributes' dev and ino), i_dentry (a
 * FUSE lookup by parent id) and the packed attributes.  Line 2 holds the
 * hash nodes (a getattr by node id reads the id node too) and what only
 * the slow paths read; line 3 is what reference holders write.
 */
struct dc_inode {
	/* ---- lines 0-1: read by RCU readers ---- */
	seqcount_t i_seq;	       /* writers hold i_lock */
	uint32_t i_type;	       /* immutable: mode & S_IFMT */
	uint64_t i_attr_valid_until;   /* i_seq; 0 = invalid */
	uint64_t i_nodeid;	       /* immutable; the generation is
					  i_cache->generation */
	uint64_t i_dev, i_ino;	       /* immutable key */
	struct dentry *__rcu i_dentry; /* directories: their dentry */
	struct dc_iattr i_attr;	       /* i_seq; relaxed word copies */

	/* ---- line 2: hash nodes, slow paths ---- */
	struct dh_node i_idnode;      /* dc->ids; itable_lock */
	struct dh_node i_keynode;     /* dc->inodes; itable_lock */
	struct dc_link *__rcu i_link; /* i_seq + RCU; NULL = unknown */
	uint64_t i_link_valid_until;  /* i_seq */
	/* "no extended attributes": ctime_nsec + 1 of the attributes it was
	 * seen with (0 = unknown); valid while the cached attributes are
	 * and carry that ctime (i_seq; cleared by i_inval ATTR) */
	uint64_t i_noxattr_sec;
	uint32_t i_noxattr_nsec1;
	uint32_t i_flags; /* I_*; itable_lock */

	/* ---- line 3: written often ---- */
	struct lockref i_ref __attribute__((aligned(DC_CACHELINE)));
	uint64_t i_nlookup;    /* atomic; kernel lookups (while
				  non-zero: one i_ref, inode.c) */
	uint64_t i_attr_epoch; /* i_lock: dc->attr_epoch of the
				  last write-through change */
	void *i_private;       /* atomic, set once */
	union {
		/* i_lock; empty once the count reached zero */
		struct cds_list_head i_aliases;
		/* the deferred free, queued after that */
		struct rcu_head i_rcu;
	};
	struct dcache *i_cache; /* immutable */
};

_Static_assert(sizeof(struct dc_iattr) == 80, "packed attributes");
_Static_assert(offsetof(struct dc_inode, i_attr) == 48 &&
		       offsetof(struct dc_inode, i_idnode) == 2 * DC_CACHELINE,
	       "what a hit copies out of the inode: lines 0-1");

/* Memory per cached inode (issue 7): the reference words on a line of
 * their own; keep it from growing unnoticed. */
_Static_assert(sizeof(struct dc_inode) == 4 * DC_CACHELINE, "inode size");

enum {
	I_UNKEYED = 1u << 0, /* removed from dc->inodes (key reused) */
	I_KILLED = 1u << 1,  /* count reached zero; freed after a GP */
};

/* Is @attr about the object @inode stands for (same key and type)? */
static inline bool i_same_object(const struct dc_inode *inode,
				 const struct dc_attr *attr)
{
	return inode->i_dev == attr->dev && inode->i_ino == attr->ino &&
	       inode->i_type == (attr->mode & S_IFMT);
}

/* ---- inode.c ---- */
/* RCU: a live inode with node id @nodeid, or NULL; no reference. */
struct dc_inode *i_find_id_rcu(struct dcache *dc, uint64_t nodeid);
/* RCU: dh_prefetch of what creating the inode of (@dev, @ino) reads in
 * dc->inodes and, shallow only, in dc->ids (the bucket of the node id it
 * gets when the two instantiations before it are new too). */
void i_prefetch(struct dcache *dc, uint64_t dev, uint64_t ino, bool deep);
/* Find or create the inode for @attr's key; referenced.  -ENOMEM. */
int i_get_or_create(struct dcache *dc, const struct dc_attr *attr,
		    const char *link, uint64_t since, struct dc_inode **out);
/* Not in RCU, no lock held: may free. */
void i_put_many(struct dc_inode *inode, int32_t n);
/* Kernel lookup references (64-bit i_nlookup, one i_ref while non-zero):
 * get is RCU-safe and never blocks; put is not in RCU and may free. */
bool i_kref_get(struct dc_inode *inode);
uint64_t i_kref_put(struct dc_inode *inode, uint64_t n);
/* Teardown (dcache_free): no other thread uses the cache. */
void i_free_all(struct dcache *dc);

/* ---- iattr.c ---- */
/* @since: I_WRITE_THROUGH for changes made through us (bumps the epoch),
 * else the dc->attr_epoch sampled before the backend call that produced
 * the data (stored only if the inode was not changed since). */
#define I_WRITE_THROUGH UINT64_MAX
/* The attribute epoch now (sample it before asking the backend), and a
 * step of it (a change).  Sequentially consistent; any context. */
uint64_t i_epoch(struct dcache *dc);
uint64_t dc_bump_epoch(struct dcache *dc);
/* A new, unpublished inode's attributes and their expiry (i_alloc). */
void i_init_attr(struct dc_inode *inode, const struct dc_attr *attr);
/* Writers: take i_lock (not in RCU, no d_lock held); never block long. */
void i_set_attr(struct dc_inode *inode, const struct dc_attr *attr,
		uint64_t since);
int i_set_link(struct dc_inode *inode, const char *target, size_t len,
	       uint64_t since);
void i_inval(struct dc_inode *inode, unsigned what);
/* RCU or ref: copy attributes if valid; false if invalid or torn.
 * @until_out (may be NULL) gets their expiry (monotonic ns). */
bool i_copy_attr(struct dc_inode *inode, struct dc_attr *out, uint64_t *now,
		 uint64_t *until_out);
/* RCU or ref (reads inside a read section of its own, which nests): copy
 * the link target; 1 copied, 0 not cached/torn. */
int i_copy_link(struct dc_inode *inode, char *buf, size_t size, size_t *len,
		uint64_t *now);

/* ---- alias.c ---- */
struct dentry *i_dir_alias_get_locked(struct dc_inode *inode, struct dentry *d);
void i_add_alias_locked(struct dc_inode *inode, struct dentry *d);
void i_del_alias_locked(struct dc_inode *inode, struct dentry *d);
void i_del_alias(struct dc_inode *inode, struct dentry *d);

#endif /* RCUFS_CACHE_INODE_I_H */
