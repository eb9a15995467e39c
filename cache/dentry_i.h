/* SPDX-License-Identifier: MIT */
/*
 * cache/dentry_i.h - the dentry: names, hash nodes, flags, layout, and
 * the internal functions of dentry.c, dput.c and alias.c.
 *
 * Included by dcache_i.h (after struct dcache and the helpers above its
 * include line), never on its own: the locking and RCU rules that govern
 * every field here are dcache_i.h's opening blocks.
 */
#ifndef RCUFS_CACHE_DENTRY_I_H
#define RCUFS_CACHE_DENTRY_I_H

/*
 * A dentry's name: an immutable block {len, bytes, NUL}.  Short names
 * live inside the dentry (d_iname, written once by d_alloc before the
 * dentry is published, never changed afterwards); longer ones, and every
 * name given by a rename, are separate allocations ("external"), freed
 * after a grace period once replaced (rename.c) or with the dentry.  So
 * whatever block a lockless reader finds through d_name stays valid and
 * unchanged until the end of its read section; the dentry's d_seq tells
 * it whether the (parent, name) pair it read is consistent.  A rename
 * never writes into d_iname (readers may be comparing it): it points
 * d_name at a new external block, and the inline bytes stay as they were,
 * unused, until the dentry is freed.
 *
 * The table's hash (dc_salt of the parent and the name's hash) is in the
 * hash node, compared before d_match; the slow paths that need the
 * name's own hash again recompute it (dc_name_hash).
 */
struct dc_name {
	uint32_t len;
	char s[]; /* len bytes and a NUL */
};

/*
 * Bytes of the inline name block: the length, up to DC_INAME_MAX bytes
 * and a NUL.  It starts at byte 48 of the dentry: names of up to
 * DC_INAME_LINE0 bytes lie within the dentry's first cache line.
 */
#define DC_INAME_SIZE 40
#define DC_INAME_MAX (DC_INAME_SIZE - (int)sizeof(struct dc_name) - 1)
#define DC_INAME_LINE0 (DC_CACHELINE - 48 - (int)sizeof(struct dc_name) - 1)

/*
 * Hash nodes of dc->dentries.  A dentry's first node is embedded at its
 * very start (d_hash), so it is 64-byte aligned (slab.c; aligned_alloc
 * under the sanitizers) and leads to the dentry without a pointer to
 * load.  A rename gives the dentry a new node (the old one cannot be
 * re-keyed or reused before a grace period): a struct dc_hnode_ext, whose
 * node is never 64-byte aligned (offset 16 of a 64-byte aligned block).
 * dc_node_dentry tells the two apart by the node's address.
 */
struct dc_hnode_ext {
	struct dentry *dentry; /* immutable */
	uint64_t pad;
	struct dh_node node;
	struct rcu_head rcu;
	struct dcache *dc;
} __attribute__((aligned(DC_CACHELINE)));

enum {
	D_IN_LOOKUP = 1u << 0,	/* placeholder: a backend lookup is running */
	D_WAITERS = 1u << 1,	/* someone sleeps on d_flags (futex) */
	D_UNHASHED = 1u << 2,	/* removed from dc->dentries (set once) */
	D_ON_LRU = 1u << 3,	/* on dc->lru (d_lock, then lru_lock) */
	D_REFERENCED = 1u << 4, /* used since it entered the LRU */
	D_ROOT = 1u << 5,
	D_KILLED = 1u << 6,   /* killed; only memory left */
	D_EVICTING = 1u << 7, /* the shrinker is deciding (see lru.c) */
	/*
	 * d_inode is a directory: a copy of its (immutable) i_type, set and
	 * cleared with d_inode inside the same d_seq write section, so a walk
	 * passes through a directory without loading its inode.
	 */
	D_DIR = 1u << 8,
};

/*
 * Layout (192 bytes, three cache lines).  A fast-path hit reads, per
 * intermediate component, line 0: the hash node the lookup compares,
 * parent, name pointer, seqcount, flags (D_DIR), expiry and the start of
 * the inline name (names of up to DC_INAME_LINE0 bytes end there; longer
 * inline ones go on into line 1).  d_inode is in line 1: only the last
 * component loads it.  Line 2 holds what reference holders write (the
 * lockref and the lists), so lockless readers do not share a line with
 * ref-walk writers.
 */
struct dentry {
	/* ---- line 0: read by RCU lookups ---- */
	struct dh_node d_hash;	       /* embedded first hash node */
	struct dentry *__rcu d_parent; /* d_seq; root: itself */
	struct dc_name *__rcu d_name;  /* d_seq; &d_iname.n or external */
	seqcount_t d_seq;	       /* writers hold d_lock */
	uint32_t d_flags;	       /* atomic bit operations */
	uint64_t d_valid_until;	       /* atomic; monotonic ns */
	union {
		struct dc_name n;
		char bytes[DC_INAME_SIZE];
	} d_iname; /* immutable once published */

	/* ---- line 1 (from byte 88): the last component's, rarely
	 * written ---- */
	struct dc_inode *__rcu d_inode; /* d_seq; NULL = negative */
	struct dcache *d_cache;		/* immutable */
	struct dh_node *d_hnode;	/* current node; parent's d_lock */
	struct cds_list_head d_alias;	/* inode's i_lock */

	/* ---- line 2: written by reference holders ---- */
	struct lockref d_ref __attribute__((aligned(DC_CACHELINE)));
	int32_t d_error; /* failed in-lookup result; set before the wake */
	union {
		/* dc->lru_lock; unused once the kill took it off the LRU */
		struct cds_list_head d_lru;
		/* the deferred free, queued after that */
		struct rcu_head d_rcu;
	};
	struct cds_list_head d_child;	/* parent's d_lock */
	struct cds_list_head d_subdirs; /* d_lock */
};

_Static_assert(offsetof(struct dentry, d_hash) == 0 &&
		       offsetof(struct dentry, d_iname) == 48 &&
		       offsetof(struct dentry, d_ref) == 2 * DC_CACHELINE,
	       "the hit path's line 0: hash node, name, seq, flags, expiry");
_Static_assert(DC_INAME_MAX == 35 && DC_INAME_LINE0 == 11,
	       "inline names: up to 35 bytes, 11 of them within line 0");
_Static_assert(offsetof(struct dc_hnode_ext, node) % DC_CACHELINE != 0,
	       "an external node is never 64-byte aligned");

/* The dentry of a node of dc->dentries (embedded or external).  RCU. */
static inline struct dentry *dc_node_dentry(struct dh_node *node)
{
	if (!((uintptr_t)node & (DC_CACHELINE - 1)))
		return caa_container_of(node, struct dentry, d_hash);
	return caa_container_of(node, struct dc_hnode_ext, node)->dentry;
}

/* Memory per cached dentry (issue 7): the reference words on a line of
 * their own; keep it from growing unnoticed. */
_Static_assert(sizeof(struct dentry) == 3 * DC_CACHELINE, "dentry size");

/* ---- names and hashing (any context) ---- */
/* Is @n, a name of @d's, a separate allocation (not @d's inline block)?
 * Any context. */
static inline bool d_name_is_ext(const struct dentry *d,
				 const struct dc_name *n)
{
	return n != &d->d_iname.n;
}
/* Bytes an external name block takes (for dc->bytes).  Any context. */
static inline size_t dc_name_size(const struct dc_name *n)
{
	return sizeof(*n) + n->len + 1;
}
static inline uint64_t dc_rotl(uint64_t x, int r)
{
	return x << r | x >> (64 - r);
}

/* One word of a name into the hash; the end (length) and finish. */
static inline uint64_t dc_hash_word(uint64_t h, uint64_t w)
{
	return dc_rotl((h ^ w) * 0xbf58476d1ce4e5b9ull, 29);
}
#define DC_HASH_SEED 0x9e3779b97f4a7c15ull
static inline uint32_t dc_hash_end(uint64_t h, size_t len)
{
	h ^= len;
	h ^= h >> 31;
	h *= 0x94d049bb133111ebull;
	return (uint32_t)(h ^ h >> 32);
}

/*
 * Word-at-a-time multiplicative hash of a name: its little-endian 8-byte
 * words, the last one zero-padded, then its length.  Inline: a walk
 * hashes every component.  Any context.  dc_comp_hash computes the same
 * value while it finds the name's end.
 */
static inline uint32_t dc_name_hash(const char *name, size_t len)
{
	uint64_t h = DC_HASH_SEED, w;
	size_t i = 0, j;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, name + i, 8);
		h = dc_hash_word(h, w);
	}
	if (i < len) {
		w = 0;
		for (j = 0; i + j < len; j++)
			w |= (uint64_t)(unsigned char)name[i + j] << (8 * j);
		h = dc_hash_word(h, w);
	}
	return dc_hash_end(h, len);
}

/*
 * Whole-word loads that may read past the end of a string (never past
 * its page) are not for the sanitizers (nor valgrind's memcheck), which
 * would report the bytes after the NUL, nor for big-endian machines (the
 * end is found from the lowest byte): there, names are read byte by
 * byte.
 */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__) || \
	__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#define DC_WORD_SCAN 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define DC_WORD_SCAN 0
#endif
#endif
#ifndef DC_WORD_SCAN
#define DC_WORD_SCAN 1
#endif

/*
 * The path component at @s (its first byte is neither '/' nor NUL): its
 * length in *len and its dc_name_hash, in one pass.  Eight bytes at a
 * time where a load cannot cross into the next page (a page is readable
 * to its end once any byte of it is): the first NUL or '/' byte is the
 * lowest byte flagged by the classic has-zero test of the word and of
 * the word xor "////////" (a flag can be wrong only above a true zero).
 * Any context.
 */
static inline uint32_t dc_comp_hash(const char *s, size_t *len)
{
	const uint64_t ones = 0x0101010101010101ull,
		       highs = 0x8080808080808080ull, slashes = ones * '/';
	uint64_t h = DC_HASH_SEED, w, x, m;
	size_t n = 0, k;

	for (;;) {
		if (DC_WORD_SCAN && ((uintptr_t)(s + n) & 4095) <= 4096 - 8) {
			memcpy(&w, s + n, 8);
			x = w ^ slashes;
			m = ((w - ones) & ~w) | ((x - ones) & ~x);
			m &= highs;
			if (!m) {
				h = dc_hash_word(h, w);
				n += 8;
				continue;
			}
			k = (size_t)__builtin_ctzll(m) >> 3;
		} else {
			/* byte by byte, up to a word's worth */
			w = 0;
			for (k = 0; k < 8; k++) {
				unsigned char c = (unsigned char)s[n + k];

				if (!c || c == '/')
					break;
				w |= (uint64_t)c << (8 * k);
			}
			if (k == 8) {
				h = dc_hash_word(h, w);
				n += 8;
				continue;
			}
		}
		if (k) {
			/* the bytes before the end, zero-padded */
			w &= ~0ull >> (64 - 8 * k);
			h = dc_hash_word(h, w);
			n += k;
		}
		*len = n;
		return dc_hash_end(h, n);
	}
}

/* The table hash: the name's hash salted by its parent.  Any context. */
static inline unsigned long dc_salt(const struct dentry *parent,
				    uint32_t name_hash)
{
	uint64_t x = (uint64_t)(uintptr_t)parent * 0x9e3779b97f4a7c15ull;

	x ^= name_hash;
	x ^= x >> 29;
	x *= 0xbf58476d1ce4e5b9ull;
	return (unsigned long)(x ^ x >> 32);
}
/* "." and "..", which are never cached names.  Any context. */
static inline bool dc_is_dot(const char *s, size_t len)
{
	return len == 1 && s[0] == '.';
}
static inline bool dc_is_dotdot(const char *s, size_t len)
{
	return len == 2 && s[0] == '.' && s[1] == '.';
}

/*
 * @d stays valid for @ttl ns from now (dc->entry_ttl, dc->neg_ttl; 0:
 * expired at once).  A release store: the answer @d holds was published
 * first.  Any context; the caller holds a reference on @d.
 */
static inline void d_set_valid(struct dentry *d, uint64_t ttl)
{
	__atomic_store_n(&d->d_valid_until, dc_expiry(ttl), __ATOMIC_RELEASE);
}

/*
 * d_set_valid for a name in the directory @dir (referenced) naming the
 * object of @attr (d_valid_entry), or nothing (d_valid_negative): the
 * cache's entry or negative period, capped by the backend (ttl_cap) for
 * @dir's filesystem and the object's.  Caller holds a reference on @d;
 * not in RCU (enters one), no lock needed.
 */
void d_valid_entry(struct dentry *d, struct dentry *dir,
		   const struct dc_attr *attr);
void d_valid_negative(struct dentry *d, struct dentry *dir);

/*
 * Has @d been unhashed?  The root is never hashed and never counts as
 * unhashed.  Unhashing is one-way: a directory dentry found hashed after
 * a change was its directory's dentry all along, one found unhashed may
 * have been replaced by a new dentry with cached children of its own
 * (mutate.c, rename.c redo their change there).  Sequentially consistent
 * load; any context.
 */
static inline bool d_unhashed(struct dentry *d)
{
	uint32_t f = __atomic_load_n(&d->d_flags, __ATOMIC_SEQ_CST);

	return (f & D_UNHASHED) && !(f & D_ROOT);
}

/* ---- dentry.c ---- */
/* Check a single name (1..DC_NAME_MAX bytes, no '/', not "." or ".."):
 * 0 and *len, -EINVAL or -ENAMETOOLONG.  Any context. */
int dc_check_name(const char *name, size_t *len);
struct dc_name *dc_name_new(const char *name, size_t len);
/* A new unhashed dentry with one reference, holding one on @parent
 * (NULL: the root).  NULL without memory.  Not in RCU. */
struct dentry *d_alloc(struct dcache *dc, struct dentry *parent,
		       const char *name, size_t len);
/*
 * A new dentry for (@parent, @name), published as an in-lookup
 * placeholder (readers skip it or wait for it) for a caller that will
 * give it its answer and then d_wake_waiters().  @parent is referenced
 * and the caller holds no lock; not in RCU.  0: *out hashed, in lookup.
 * 1: @parent was unhashed meanwhile: *out is private (unhashed, not in
 * lookup; killed at its last put) and nothing may be cached through it.
 * -EEXIST: another dentry took the name first (look again); -ENOMEM.
 */
int d_alloc_inlookup(struct dcache *dc, struct dentry *parent, const char *name,
		     size_t len, struct dentry **out);
/* Free a dentry nobody else can reach (never published, or its grace
 * period is over).  Any thread, not in RCU. */
void d_free_unused(struct dentry *d);
/* RCU: the hashed dentry (parent, name) or NULL; *seq = its d_seq sample. */
struct dentry *d_lookup_rcu(struct dcache *dc, struct dentry *parent,
			    const char *name, uint32_t len, uint32_t hash,
			    uint32_t *seq);
/* Ref mode: the referenced hashed child, or NULL.  Not in RCU. */
struct dentry *d_lookup_ref(struct dcache *dc, struct dentry *parent,
			    const char *name, uint32_t len, uint32_t hash);
/*
 * The *_locked functions: the caller holds the locks named (asserted in
 * cache_debug builds) and is not in an RCU read section (it holds
 * sleeping locks); the table's stripe locks (dhash.h) are taken inside
 * them, and they never wait for a grace period.
 * d_hash_add_locked, d_unhash_locked: caller holds the parent's d_lock.
 */
int d_hash_add_locked(struct dentry *parent, struct dentry *d);
bool d_unhash_locked(struct dentry *d);
/* Caller holds @d's d_lock and its parent's. */
bool d_unhash_both_locked(struct dentry *d);
/* In-lookup placeholders: the leader publishes its answer and wakes the
 * waiters (never blocks); a waiter holds a reference, not in RCU. */
void d_wake_waiters(struct dentry *d);
void d_wait_lookup(struct dentry *d);
/* A snapshot (D_DIR follows d_inode); any context. */
bool d_is_dir(struct dentry *d);

/* ---- dput.c ---- */
/* Unhash @d (referenced) and everything cached below it; the unused ones
 * are killed as their last references go.  Not in RCU, no lock held. */
void d_invalidate(struct dentry *d, enum dc_inval_src src);
/* The same for everything below @d, which itself stays hashed. */
void d_prune_children(struct dentry *d, enum dc_inval_src src);
/* Kill @d, already marked dead by the caller, and put its ancestors. */
void d_kill(struct dentry *d);

/* ---- alias.c ---- */
/* Negative <-> positive in one step under i_lock then d_lock.  Caller
 * holds a reference on @d and no lock; not in RCU. */
void d_set_inode(struct dentry *d, struct dc_inode *inode);
bool d_set_inode_if_negative(struct dentry *d, struct dc_inode *inode);
void d_make_negative(struct dentry *d, struct dc_inode **old);
/* Invalidate the attributes of @d's inode, if @d is positive (its ctime
 * or mtime changed).  Not in RCU, no lock held. */
void d_inval_attr(struct dentry *d);
/*
 * The referenced dentry of the directory with node id @nodeid (its one
 * dentry, i_dentry, or an unhashed one still naming it), or NULL with
 * *err = -ESTALE (unknown id, or no dentry left) or -ENOTDIR.  Not in
 * RCU, no lock held; never calls the backend.
 */
struct dentry *dc_dir_dentry(struct dcache *dc, uint64_t nodeid, int *err);

#endif /* RCUFS_CACHE_DENTRY_I_H */
