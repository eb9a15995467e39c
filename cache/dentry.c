/* SPDX-License-Identifier: MIT */
/*
 * cache/dentry.c - dentries: names, allocation, the (parent, name) hash
 * and its RCU and ref-mode lookups, in-lookup placeholders, accessors.
 * Turning positive or negative is alias.c's; puts, kills and invalidation
 * are dput.c's.
 */
#include "dcache_i.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- names and hashing ---- */

/* The single name of a LOOKUP, CREATE, ... (dentry_i.h). */
int dc_check_name(const char *name, size_t *len)
{
	size_t n = strnlen(name, DC_NAME_MAX + 1);

	if (n > DC_NAME_MAX)
		return -ENAMETOOLONG;
	if (!n || dc_is_dot(name, n) || dc_is_dotdot(name, n) ||
	    memchr(name, '/', n))
		return -EINVAL;
	*len = n;
	return 0;
}

struct dc_name *dc_name_new(const char *name, size_t len)
{
	struct dc_name *n = malloc(sizeof(*n) + len + 1);

	if (!n)
		return NULL;
	n->len = (uint32_t)len;
	memcpy(n->s, name, len);
	n->s[len] = '\0';
	return n;
}

/* Equal bytes?  Inline: most names are short, a call to memcmp costs
 * more than the comparison. */
static inline bool name_eq(const char *a, const char *b, uint32_t len)
{
	uint64_t x, y;

	for (; len >= 8; len -= 8, a += 8, b += 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
	}
	for (; len; len--)
		if (*a++ != *b++)
			return false;
	return true;
}

struct dkey {
	const struct dentry *parent;
	const char *name;
	uint32_t len;
};

/* The key match, once the node's salted hash matched: parent, then
 * length, then bytes (as the kernel's __d_lookup_rcu); for an inline name
 * of up to DC_INAME_LINE0 bytes all it reads is in the dentry's line 0,
 * which the hash comparison read already (the node).  Inside RCU,
 * concurrently with renames (a stale answer is caught by the caller's
 * deleted + d_seq checks), or under the stripe lock (dh_add_unique). */
static inline bool d_match(struct dh_node *node, const void *key)
{
	const struct dkey *k = key;
	struct dentry *d;
	struct dc_name *n;

	d = dc_node_dentry(node);
	if (rcu_load(d->d_parent) != k->parent)
		return 0;
	/* the table matched the salted hash of (parent, name hash) */
	n = rcu_load(d->d_name);
	if (n->len != k->len)
		return 0;
	return name_eq(n->s, k->name, k->len);
}

/* ---- allocation ---- */

struct dentry *d_alloc(struct dcache *dc, struct dentry *parent,
		       const char *name, size_t len)
{
	struct dentry *d;
	struct dc_name *n = NULL;

	d = dc_slab_alloc(&dc->dentry_slab);
	if (!d)
		return NULL;
	if (len > DC_INAME_MAX) {
		n = dc_name_new(name, len);
		if (!n) {
			dc_slab_free(&dc->dentry_slab, d);
			return NULL;
		}
	}
	memset(d, 0, sizeof(*d));
	if (!n) {
		/* short: inline, written once before anyone can see it */
		n = &d->d_iname.n;
		n->len = (uint32_t)len;
		memcpy(n->s, name, len);
		n->s[len] = '\0';
	}
	/* dc_node_dentry: the embedded node is 64-byte aligned */
	DC_ASSERT(!((uintptr_t)d & (DC_CACHELINE - 1)));
	d->d_hash.next = DH_UNHASHED;
	d->d_hash.hash = 0;
	d->d_hnode = &d->d_hash;
	d->d_name = n;
	d->d_parent = parent ? parent : d;
	d->d_flags = D_UNHASHED;
	d->d_cache = dc;
	lockref_init(&d->d_ref, 1);
	CDS_INIT_LIST_HEAD(&d->d_lru);
	CDS_INIT_LIST_HEAD(&d->d_child);
	CDS_INIT_LIST_HEAD(&d->d_subdirs);
	CDS_INIT_LIST_HEAD(&d->d_alias);
	/* a child holds a reference on its parent; the caller has one */
	if (parent)
		lockref_get(&parent->d_ref);
	dc_table_count(dc, &dc->nr_dentries, &dc->dentry_buckets, 1);
	dc_gauge_add(&dc->nr_negative, 1);
	dc_gauge_add(&dc->bytes,
		     (int64_t)(sizeof(*d) +
			       (d_name_is_ext(d, n) ? dc_name_size(n) : 0)));
	return d;
}

void d_free_unused(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	struct dc_name *n = d->d_name;

	dc_gauge_add(&dc->bytes, -(int64_t)sizeof(*d));
	/* a killed dentry left the counts at kill time */
	if (!(d->d_flags & D_KILLED)) {
		dc_table_count(dc, &dc->nr_dentries, &dc->dentry_buckets, -1);
		if (!d->d_inode)
			dc_gauge_add(&dc->nr_negative, -1);
	}
	if (d->d_hnode != &d->d_hash) {
		dc_gauge_add(&dc->bytes, -(int64_t)sizeof(struct dc_hnode_ext));
		free(caa_container_of(d->d_hnode, struct dc_hnode_ext, node));
	}
	if (d_name_is_ext(d, n)) {
		dc_gauge_add(&dc->bytes, -(int64_t)dc_name_size(n));
		free(n);
	}
	dc_slab_free(&dc->dentry_slab, d);
}

/* ---- lookup ---- */

struct dentry *d_lookup_rcu(struct dcache *dc, struct dentry *parent,
			    const char *name, uint32_t len, uint32_t hash,
			    uint32_t *seq)
{
	struct dkey key = {parent, name, len};
	struct dh_node *node;
	struct dentry *d;

	DC_ASSERT_RCU();
	node = dh_lookup(&dc->dentries, dc_salt(parent, hash), d_match, &key);
	if (!node)
		return NULL;
	d = dc_node_dentry(node);
	*seq = seq_begin(&d->d_seq);
	/*
	 * Every change of parent or name moves the dentry to a new node and
	 * deletes the old one inside a d_seq write section, so: if this
	 * node is still live after the sample, the sample covers the key we
	 * matched; if it is deleted, this is a (permitted) miss.
	 */
	if (dh_deleted(node))
		return NULL;
	return d;
}

/* Ref mode: a referenced hashed child or NULL.  Not inside RCU. */
struct dentry *d_lookup_ref(struct dcache *dc, struct dentry *parent,
			    const char *name, uint32_t len, uint32_t hash)
{
	struct dentry *d;
	uint32_t seq;
	int r = 0;

	DC_ASSERT_NOT_RCU();
	rcu_read_lock();
	d = d_lookup_rcu(dc, parent, name, len, hash, &seq);
	if (d) {
		r = lockref_tryget_not_dead(&d->d_ref);
		if (r > 0 && seq_retry(&d->d_seq, seq)) {
			/* moved or killed meanwhile: give it back later */
			rcu_read_unlock();
			dentry_put(d);
			goto locked;
		}
	}
	rcu_read_unlock();
	if (r > 0)
		return d;
	if (!d)
		return NULL;
locked:
	/*
	 * The child's lock was held (or the CAS kept failing), or it is
	 * dead.  Under the parent's d_lock the set of hashed children is
	 * stable and a child on the list cannot be freed, so we may sleep
	 * on its lock.
	 *
	 * A dead child may still be hashed: the shrinker marks its victims
	 * dead under their d_lock and unhashes them later (lru.c), and
	 * lockless readers still find and validate it until then.  Our
	 * caller is about to act on "this name is not cached" (a remove, a
	 * rename, an instantiation): unhash it now (bumping d_seq), so that
	 * no reader can hit it after the caller's change completed.
	 */
	lockref_lock(&parent->d_ref);
	rcu_read_lock();
	d = d_lookup_rcu(dc, parent, name, len, hash, &seq);
	rcu_read_unlock();
	if (d && !lockref_get_not_dead(&d->d_ref)) {
		d_unhash_locked(d);
		d = NULL;
	}
	lockref_unlock(&parent->d_ref);
	return d;
}

/* Caller holds @d's d_lock and its parent's.  True if this call removed
 * @d from the table (the dh_del winner).  Bumps d_seq either way is
 * not needed: only the winner changed anything. */
bool d_unhash_both_locked(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	int r;

	DC_ASSERT_LOCKED(&d->d_ref);
	DC_ASSERT_LOCKED(&rcu_load(d->d_parent)->d_ref);
	r = dh_del(&dc->dentries, d->d_hnode);
	if (r)
		return false;
	__atomic_fetch_or(&d->d_flags, D_UNHASHED, __ATOMIC_RELEASE);
	/* readers that sampled d_seq before the del fail their retry */
	seq_invalidate(&d->d_seq);
	return true;
}

/* Caller holds the parent's d_lock (not @d's). */
bool d_unhash_locked(struct dentry *d)
{
	bool r;

	DC_ASSERT_LOCKED(&rcu_load(d->d_parent)->d_ref);
	lockref_lock(&d->d_ref);
	r = d_unhash_both_locked(d);
	lockref_unlock(&d->d_ref);
	return r;
}

/*
 * Caller holds @parent's d_lock.  Add @d (fresh, unhashed, parent @parent)
 * to the table and to the parent's children.  -EEXIST when a live dentry
 * has the key (the caller looks it up again); a dead one still hashed is
 * unhashed here (we hold the parent lock its killer is waiting for) and
 * the add is retried once.  -ESTALE when @parent itself is unhashed: the
 * caller may use @d privately (unhashed) but must not cache it.
 */
int d_hash_add_locked(struct dentry *parent, struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	struct dc_name *n = d->d_name;
	uint32_t nhash = dc_name_hash(n->s, n->len);
	struct dkey key = {parent, n->s, n->len};
	unsigned long hash = dc_salt(parent, nhash);
	struct dh_node *ret;
	struct dentry *other;
	int tries;

	DC_ASSERT_LOCKED(&parent->d_ref);
	/*
	 * Never a hashed child under an unhashed parent: it could not be
	 * reached from the root, yet would look like a live name (and a
	 * directory's "hashed" alias).  Unhashing @parent needs its d_lock,
	 * which we hold, and is always followed by pruning its children.
	 */
	if (d_unhashed(parent))
		return -ESTALE;
	for (tries = 0; tries < 2; tries++) {
		ret = dh_add_unique(&dc->dentries, d->d_hnode, hash, d_match,
				    &key);
		if (ret == d->d_hnode) {
			__atomic_fetch_and(&d->d_flags, ~D_UNHASHED,
					   __ATOMIC_RELEASE);
			cds_list_add(&d->d_child, &parent->d_subdirs);
			return 0;
		}
		/*
		 * Safe to touch: hashed children of a locked parent stay.
		 * No reference is taken: an unused child (count 0, on the
		 * LRU) is pinned by nothing, and the shrinker marks its
		 * victims dead under their own d_lock, not ours, so one that
		 * looks alive here may be dead a moment later.  An increment
		 * after this test revived such a dentry while it was being
		 * killed (killed twice, or put back on the LRU over its
		 * queued free).  The caller looks the name up again instead.
		 */
		other = dc_node_dentry(ret);
		if (!lockref_is_dead(&other->d_ref))
			return -EEXIST;
		d_unhash_locked(other);
	}
	return -EAGAIN;
}

/* A snapshot (D_DIR follows d_inode); any context. */
bool d_is_dir(struct dentry *d)
{
	return __atomic_load_n(&d->d_flags, __ATOMIC_ACQUIRE) & D_DIR;
}

/* @ttl for a name in @dir (referenced), capped by the backend (ttl_cap)
 * for @dir's filesystem and, with @attr, for its object's.  Not in RCU. */
static uint64_t d_name_ttl(struct dcache *dc, uint64_t ttl, struct dentry *dir,
			   const struct dc_attr *attr)
{
	struct dc_inode *inode;
	uint64_t dev = 0;

	if (!dc->ops.ttl_cap || !ttl)
		return ttl;
	if (attr)
		ttl = dc_ttl_dev(dc, ttl, attr->dev);
	rcu_read_lock();
	inode = rcu_load(dir->d_inode);
	if (inode)
		dev = inode->i_dev; /* immutable */
	rcu_read_unlock();
	/* a directory gone negative meanwhile: its device unknown, so
	 * nothing is kept */
	return inode ? dc_ttl_dev(dc, ttl, dev) : 0;
}

void d_valid_entry(struct dentry *d, struct dentry *dir,
		   const struct dc_attr *attr)
{
	struct dcache *dc = d->d_cache;

	d_set_valid(d, d_name_ttl(dc, load_relaxed(dc->entry_ttl), dir, attr));
}

void d_valid_negative(struct dentry *d, struct dentry *dir)
{
	struct dcache *dc = d->d_cache;

	d_set_valid(d, d_name_ttl(dc, load_relaxed(dc->neg_ttl), dir, NULL));
}

/* ---- in-lookup placeholders ---- */

static long dfutex(uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

int d_alloc_inlookup(struct dcache *dc, struct dentry *parent, const char *name,
		     size_t len, struct dentry **out)
{
	struct dentry *n;
	int err;

	DC_ASSERT_NOT_RCU();
	n = d_alloc(dc, parent, name, len);
	if (!n)
		return -ENOMEM;
	n->d_flags |= D_IN_LOOKUP;
	lockref_lock(&parent->d_ref);
	err = d_hash_add_locked(parent, n);
	lockref_unlock(&parent->d_ref);
	if (err == -ESTALE) {
		/* the parent was invalidated: the caller answers, caches
		 * nothing (n stays private and unhashed; its put kills it) */
		n->d_flags &= ~D_IN_LOOKUP;
		*out = n;
		return 1;
	}
	if (err) {
		/* lost the race (never visible): free it directly */
		dentry_put(parent); /* the reference d_alloc took */
		d_free_unused(n);
		return -EEXIST;
	}
	*out = n;
	return 0;
}

/* Leader: the result is published; clear D_IN_LOOKUP and wake waiters. */
void d_wake_waiters(struct dentry *d)
{
	uint32_t old = __atomic_fetch_and(
		&d->d_flags, ~(D_IN_LOOKUP | D_WAITERS), __ATOMIC_SEQ_CST);

	if (old & D_WAITERS)
		dfutex(&d->d_flags, FUTEX_WAKE_PRIVATE, INT_MAX);
}

/* Wait until @d (referenced) is no longer in lookup.  Not in RCU. */
void d_wait_lookup(struct dentry *d)
{
	uint32_t f;

	DC_ASSERT_NOT_RCU();
	dc_count(C_INLOOKUP_WAIT);
	for (;;) {
		f = __atomic_load_n(&d->d_flags, __ATOMIC_ACQUIRE);
		if (!(f & D_IN_LOOKUP))
			return;
		if (!(f & D_WAITERS) &&
		    !__atomic_compare_exchange_n(&d->d_flags, &f, f | D_WAITERS,
						 false, __ATOMIC_SEQ_CST,
						 __ATOMIC_RELAXED))
			continue;
		dfutex(&d->d_flags, FUTEX_WAIT_PRIVATE, f | D_WAITERS);
	}
}

/* ---- public accessors ---- */

struct dentry *dentry_parent(struct dentry *d)
{
	struct dentry *parent;

	lockref_lock(&d->d_ref);
	parent = d->d_parent;
	/* pinned by @d's reference on its parent, stable under d_lock */
	lockref_get_pinned(&parent->d_ref);
	lockref_unlock(&d->d_ref);
	return parent;
}

bool dentry_is_negative(struct dentry *d)
{
	return rcu_load(d->d_inode) == NULL;
}

size_t dentry_name_copy(struct dentry *d, char *buf)
{
	struct dc_name *n;
	size_t len;

	/* renames change the name under the dentry's d_lock */
	lockref_lock(&d->d_ref);
	n = d->d_name;
	len = n->len;
	memcpy(buf, n->s, len + 1);
	lockref_unlock(&d->d_ref);
	return len;
}

/* Inside RCU.  -EAGAIN when a rename raced (checked by the caller). */
static ssize_t path_rcu(struct dentry *d, char *buf, size_t size)
{
	size_t pos = size;
	struct dc_name *n;
	struct dentry *p;

	if (!size)
		return -ENAMETOOLONG;
	buf[--pos] = '\0';
	while (!(load_relaxed(d->d_flags) & D_ROOT)) {
		if (load_relaxed(d->d_flags) & D_UNHASHED)
			return -ENOENT;
		n = rcu_load(d->d_name);
		p = rcu_load(d->d_parent);
		if (n->len + (load_relaxed(p->d_flags) & D_ROOT ? 0 : 1) > pos)
			return -ENAMETOOLONG;
		pos -= n->len;
		memcpy(buf + pos, n->s, n->len);
		if (!(load_relaxed(p->d_flags) & D_ROOT))
			buf[--pos] = '/';
		d = p;
	}
	memmove(buf, buf + pos, size - pos);
	return (ssize_t)(size - pos - 1);
}

ssize_t dentry_path(struct dentry *d, char *buf, size_t size)
{
	struct dcache *dc = d->d_cache;
	uint32_t seq;
	ssize_t r;

	/* optimistic first (the kernel's read_seqbegin_or_lock) ... */
	rcu_read_lock();
	seq = seq_begin(&dc->rename_seq);
	r = path_rcu(d, buf, size);
	if (!seq_retry(&dc->rename_seq, seq)) {
		rcu_read_unlock();
		return r;
	}
	rcu_read_unlock();
	/* ... then with renames excluded */
	pthread_mutex_lock(&dc->rename_lock);
	rcu_read_lock();
	r = path_rcu(d, buf, size);
	rcu_read_unlock();
	pthread_mutex_unlock(&dc->rename_lock);
	return r;
}
