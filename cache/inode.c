/* SPDX-License-Identifier: MIT */
/*
 * cache/inode.c - inode objects: the (dev, ino) and node-id tables,
 * lifetime, kernel lookup references (FORGET).  What an inode caches is
 * iattr.c's; its dentries (the alias list) are alias.c's.
 *
 * An inode's count (i_ref) is the number of dentries naming it, plus one
 * for all kernel lookup references together while there are any, plus
 * temporary references of running operations.  The kernel's lookups are
 * counted in i_nlookup, 64 bits as FUSE's nlookup (a 32-bit count would
 * wrap after 2^31 lookups of one object and read as dead): the lookup
 * that moves it from 0 hands its reference over as "the kernel's
 * reference", and whoever brings it back to 0 puts that one reference
 * (i_kref_get, i_kref_put).  When the count
 * reaches zero the inode is marked dead under i_lock, removed from both
 * tables under itable_lock, and freed after a grace period.  Node ids are
 * never reused, so a stale id finds nothing (-ESTALE) rather than another
 * object.
 */
#include "dcache_i.h"

static inline unsigned long mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return (unsigned long)x;
}

static unsigned long key_hash(uint64_t dev, uint64_t ino)
{
	return mix64(ino * 0x9e3779b97f4a7c15ull ^ dev);
}

struct ikey {
	uint64_t dev, ino;
};

/* Table match functions (dhash.h): inside RCU, or under a stripe lock;
 * never block. */
static inline bool key_match(struct dh_node *node, const void *key)
{
	const struct ikey *k = key;
	struct dc_inode *i = caa_container_of(node, struct dc_inode, i_keynode);

	return i->i_dev == k->dev && i->i_ino == k->ino;
}

static inline bool id_match(struct dh_node *node, const void *key)
{
	struct dc_inode *i = caa_container_of(node, struct dc_inode, i_idnode);

	return i->i_nodeid == *(const uint64_t *)key;
}

/* Inside RCU: the inode hashed under @dev, @ino (live or dead), or NULL. */
static struct dc_inode *key_lookup_rcu(struct dcache *dc, uint64_t dev,
				       uint64_t ino)
{
	struct ikey key = {dev, ino};
	struct dh_node *node;

	DC_ASSERT_RCU();
	node = dh_lookup(&dc->inodes, key_hash(dev, ino), key_match, &key);
	return node ? caa_container_of(node, struct dc_inode, i_keynode) : NULL;
}

/* Inside RCU.  A live (not dead) inode, or NULL: the pointer is only good
 * until rcu_read_unlock unless a reference is taken. */
struct dc_inode *i_find_id_rcu(struct dcache *dc, uint64_t nodeid)
{
	struct dh_node *node;
	struct dc_inode *inode;

	DC_ASSERT_RCU();
	node = dh_lookup(&dc->ids, mix64(nodeid), id_match, &nodeid);
	if (!node)
		return NULL;
	inode = caa_container_of(node, struct dc_inode, i_idnode);
	return lockref_is_dead(&inode->i_ref) ? NULL : inode;
}

void i_prefetch(struct dcache *dc, uint64_t dev, uint64_t ino, bool deep)
{
	DC_ASSERT_RCU();
	dh_prefetch(&dc->inodes, key_hash(dev, ino), deep);
	/* the id this name gets if the two names before it are new too (a
	 * cold walk: dcache_prefetch's shallow call is two names ahead);
	 * a racy read, and a wrong guess only wastes the hint */
	if (!deep)
		dh_prefetch(&dc->ids,
			    mix64(__atomic_load_n(&dc->next_nodeid,
						  __ATOMIC_RELAXED) +
				  2),
			    false);
}

static struct dc_inode *i_alloc(struct dcache *dc, const struct dc_attr *attr)
{
	struct dc_inode *inode;

	inode = dc_slab_alloc(&dc->inode_slab);
	if (!inode)
		return NULL;
	memset(inode, 0, sizeof(*inode));
	inode->i_dev = attr->dev;
	inode->i_ino = attr->ino;
	inode->i_type = (uint32_t)(attr->mode & S_IFMT);
	inode->i_cache = dc;
	lockref_init(&inode->i_ref, 1);
	CDS_INIT_LIST_HEAD(&inode->i_aliases);
	i_init_attr(inode, attr);
	return inode;
}

static void i_free_mem(struct dc_inode *inode)
{
	struct dcache *dc = inode->i_cache;
	struct dc_link *link = rcu_load(inode->i_link);

	if (dc->ops.release && inode->i_private)
		dc->ops.release(dc->backend, inode, inode->i_private);
	if (link) {
		dc_gauge_add(&dc->bytes,
			     -(int64_t)(sizeof(*link) + link->len + 1));
		free(link);
	}
	dc_gauge_add(&dc->bytes, -(int64_t)sizeof(*inode));
	if (!(inode->i_flags & I_KILLED))
		dc_table_count(dc, &dc->nr_inodes, &dc->inode_buckets, -1);
	dc_slab_free(&dc->inode_slab, inode);
}

/* call_rcu callback: liburcu's call_rcu thread runs it after a grace
 * period, outside any read section, holding no dcache lock; it frees. */
static void i_free_rcu(struct rcu_head *head)
{
	struct dc_inode *inode = caa_container_of(head, struct dc_inode, i_rcu);
	struct dcache *dc;

	tsan_gp_done();
	dc = inode->i_cache;
	/* i_kill already released i_private; teardown leaves it for us */
	i_free_mem(inode);
	dc_rcu_done(dc);
	tsan_cb_end();
}

int i_get_or_create(struct dcache *dc, const struct dc_attr *attr,
		    const char *link, uint64_t since, struct dc_inode **out)
{
	unsigned long hash = key_hash(attr->dev, attr->ino);
	struct dc_inode *inode = NULL, *found, *stale = NULL;
	int err = 0;

	DC_ASSERT_NOT_RCU();
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	found = key_lookup_rcu(dc, attr->dev, attr->ino);
	rcu_read_unlock();
	/* still valid: only we (itable_lock) remove it from the table */
	if (found && lockref_get_not_dead(&found->i_ref)) {
		if (found->i_type == (attr->mode & S_IFMT)) {
			inode = found;
		} else {
			/* the backing ino was reused by another kind of
			 * object: the old inode lives on under its id only */
			stale = found;
		}
	}
	if (found && !inode) {
		/* dead or stale: make room for the new object */
		dh_del(&dc->inodes, &found->i_keynode);
		found->i_flags |= I_UNKEYED;
	}
	if (!inode) {
		inode = i_alloc(dc, attr);
		if (!inode) {
			err = -ENOMEM;
			goto out_unlock;
		}
		inode->i_nodeid = dc->next_nodeid;
		/* atomic: i_prefetch reads it without the lock */
		__atomic_store_n(&dc->next_nodeid, inode->i_nodeid + 1,
				 __ATOMIC_RELAXED);
		/* as fresh as the sample its data came with */
		inode->i_attr_epoch =
			since == I_WRITE_THROUGH ? i_epoch(dc) : since;
		if (since != I_WRITE_THROUGH && i_epoch(dc) != since) {
			/* a write-through, an invalidation or a reported
			 * change (dcache_backend_changed) came while the
			 * backend answered: it may have been about this
			 * object, which we did not know yet; do not trust
			 * these attributes */
			inode->i_attr_valid_until = 0;
		}
		dh_add(&dc->ids, &inode->i_idnode, mix64(inode->i_nodeid));
		dh_add(&dc->inodes, &inode->i_keynode, hash);
		dc_table_count(dc, &dc->nr_inodes, &dc->inode_buckets, 1);
		dc_gauge_add(&dc->bytes, sizeof(*inode));
		pthread_mutex_unlock(&dc->itable_lock);
		if (link)
			err = i_set_link(inode, link, strlen(link), since);
		goto out;
	}
out_unlock:
	pthread_mutex_unlock(&dc->itable_lock);
	if (inode) {
		i_set_attr(inode, attr, since);
		if (link)
			err = i_set_link(inode, link, strlen(link), since);
	}
out:
	/* dropped after itable_lock: a final put takes it again */
	if (stale)
		i_put_many(stale, 1);
	if (err && inode) {
		i_put_many(inode, 1);
		inode = NULL;
	}
	*out = inode;
	return err;
}

uint64_t dcache_forget_key(struct dcache *dc, uint64_t dev, uint64_t ino)
{
	struct dc_inode *found;
	uint64_t id = 0;

	DC_ASSERT_NOT_RCU();
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	found = key_lookup_rcu(dc, dev, ino);
	rcu_read_unlock();
	if (found) {
		/* only itable_lock holders remove keys: still hashed */
		dh_del(&dc->inodes, &found->i_keynode);
		found->i_flags |= I_UNKEYED;
		id = found->i_nodeid;
	}
	pthread_mutex_unlock(&dc->itable_lock);
	return id;
}

/* Caller holds itable_lock and is in an RCU read section. */
static struct dc_inode *rekey_candidate(struct dcache *dc, uint64_t nodeid)
{
	struct dc_inode *inode = i_find_id_rcu(dc, nodeid);

	DC_ASSERT_MUTEX(&dc->itable_lock);
	DC_ASSERT_RCU();
	/* not killed while we hold itable_lock: i_kill takes it first */
	if (!inode || !(inode->i_flags & I_UNKEYED) ||
	    (inode->i_flags & I_KILLED))
		return NULL;
	return key_lookup_rcu(dc, inode->i_dev, inode->i_ino) ? NULL : inode;
}

void dcache_rekey(struct dcache *dc, uint64_t nodeid)
{
	struct dc_inode *inode;

	DC_ASSERT_NOT_RCU();
	if (!nodeid)
		return;
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	inode = rekey_candidate(dc, nodeid);
	rcu_read_unlock();
	pthread_mutex_unlock(&dc->itable_lock);
	if (!inode)
		return;
	/*
	 * A node deleted from a table may be added again only after a grace
	 * period (readers may still be walking through it, dhash.h).  A failed
	 * removal is rare; waiting here, outside any lock and read section,
	 * is allowed (DESIGN.md section 6).
	 */
	synchronize_rcu();
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	inode = rekey_candidate(dc, nodeid);
	rcu_read_unlock();
	/* not killed nor freed: i_kill needs the itable_lock we hold */
	if (inode) {
		dh_add(&dc->inodes, &inode->i_keynode,
		       key_hash(inode->i_dev, inode->i_ino));
		inode->i_flags &= ~I_UNKEYED;
	}
	pthread_mutex_unlock(&dc->itable_lock);
}

static void i_kill(struct dc_inode *inode)
{
	struct dcache *dc = inode->i_cache;

	pthread_mutex_lock(&dc->itable_lock);
	dh_del(&dc->ids, &inode->i_idnode);
	if (!(inode->i_flags & I_UNKEYED))
		dh_del(&dc->inodes, &inode->i_keynode);
	inode->i_flags |= I_UNKEYED | I_KILLED;
	pthread_mutex_unlock(&dc->itable_lock);
	dc_table_count(dc, &dc->nr_inodes, &dc->inode_buckets, -1);
	/* release what the backend hung on it now, outside RCU */
	if (dc->ops.release && inode->i_private)
		dc->ops.release(dc->backend, inode, inode->i_private);
	inode->i_private = NULL;
	/* lockless readers may still be copying attributes: defer */
	dc_call_rcu(dc, &inode->i_rcu, i_free_rcu);
}

/*
 * Count one kernel lookup reference on @inode, whose reference the caller
 * holds.  True when the count was 0: the caller's reference became the
 * kernel's (do not put it).  False: the kernel already had one, and the
 * caller still owns (and must put, outside RCU) its own.  RCU-safe, never
 * blocks; sequentially consistent, for the shrinker's handshake (lru.c).
 */
bool i_kref_get(struct dc_inode *inode)
{
	return __atomic_fetch_add(&inode->i_nlookup, 1, __ATOMIC_SEQ_CST) == 0;
}

/*
 * Drop up to @n kernel lookup references; returns how many there were to
 * drop (less than @n: the kernel forgot more than it was given).  Putting
 * the last one puts the kernel's reference.  The caller holds a reference
 * of its own or knows the kernel's keeps the inode.  Not in RCU (a put),
 * no lock held; may free.
 */
uint64_t i_kref_put(struct dc_inode *inode, uint64_t n)
{
	uint64_t cur = __atomic_load_n(&inode->i_nlookup, __ATOMIC_RELAXED);
	uint64_t take;

	DC_ASSERT_NOT_RCU();
	do {
		take = cur < n ? cur : n;
	} while (!__atomic_compare_exchange_n(
		&inode->i_nlookup, &cur, cur - take, false, __ATOMIC_SEQ_CST,
		__ATOMIC_RELAXED));
	if (take && take == cur)
		i_put_many(inode, 1);
	return take;
}

/* Must not be called inside an RCU read section: may free. */
void i_put_many(struct dc_inode *inode, int32_t n)
{
	int32_t count;

	DC_ASSERT_NOT_RCU();
	if (n == 1 && lockref_put_return(&inode->i_ref) >= 0)
		return;
	lockref_lock(&inode->i_ref);
	count = lockref_count(&inode->i_ref);
	DC_ASSERT(count >= n);
	if (count > n) {
		lockref_add_locked(&inode->i_ref, -n);
		lockref_unlock(&inode->i_ref);
		return;
	}
	lockref_mark_dead_locked(&inode->i_ref);
	lockref_unlock(&inode->i_ref);
	DC_ASSERT(cds_list_empty(&inode->i_aliases));
	i_kill(inode);
}

void dc_inode_put(struct dc_inode *inode)
{
	if (inode)
		i_put_many(inode, 1);
}

/* dh_drain callback (teardown): queue one inode's free.  The tables are
 * destroyed without being emptied. */
static void free_one(struct dh_node *node, void *ctx)
{
	struct dc_inode *inode =
		caa_container_of(node, struct dc_inode, i_idnode);

	inode->i_flags |= I_UNKEYED;
	dc_call_rcu(ctx, &inode->i_rcu, i_free_rcu);
}

/* Teardown: no readers and no other threads remain; not in RCU. */
void i_free_all(struct dcache *dc)
{
	dh_drain(&dc->ids, free_one, dc);
}

/* ---- public accessors ---- */

struct dc_inode *dc_inode_get(struct dcache *dc, uint64_t nodeid)
{
	struct dc_inode *inode;
	int r = 0;

	rcu_read_lock();
	inode = i_find_id_rcu(dc, nodeid);
	if (inode)
		r = lockref_tryget_not_dead(&inode->i_ref);
	rcu_read_unlock();
	if (r > 0)
		return inode;
	if (r == 0)
		return NULL;
	/* lock held or contended: take the table lock, which keeps the
	 * inode in the table (and so in memory) while we sleep on i_lock */
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	inode = i_find_id_rcu(dc, nodeid);
	rcu_read_unlock();
	if (inode && !lockref_get_not_dead(&inode->i_ref))
		inode = NULL;
	pthread_mutex_unlock(&dc->itable_lock);
	return inode;
}

struct dc_inode *dc_inode_find(struct dcache *dc, uint64_t dev, uint64_t ino)
{
	struct dc_inode *inode;

	/* the table lock keeps a found inode in memory while we may sleep on
	 * its i_lock; this is a cold path (the watcher), so take it always */
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	inode = key_lookup_rcu(dc, dev, ino);
	rcu_read_unlock();
	if (inode && !lockref_get_not_dead(&inode->i_ref))
		inode = NULL;
	pthread_mutex_unlock(&dc->itable_lock);
	return inode;
}

uint64_t dc_inode_nodeid(const struct dc_inode *inode)
{
	return inode->i_nodeid;
}

void dc_inode_key(const struct dc_inode *inode, uint64_t *dev, uint64_t *ino)
{
	*dev = inode->i_dev;
	*ino = inode->i_ino;
}

mode_t dc_inode_type(const struct dc_inode *inode)
{
	return (mode_t)inode->i_type;
}

uint64_t dc_inode_nlookup(const struct dc_inode *inode)
{
	return __atomic_load_n(&inode->i_nlookup, __ATOMIC_RELAXED);
}

void *dc_inode_private(const struct dc_inode *inode)
{
	return __atomic_load_n(&inode->i_private, __ATOMIC_ACQUIRE);
}

void *dc_inode_set_private(struct dc_inode *inode, void *private)
{
	void *expected = NULL;

	if (__atomic_compare_exchange_n(&inode->i_private, &expected, private,
					false, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE))
		return private;
	return expected;
}

int dcache_test_add_nlookup(struct dcache *dc, uint64_t nodeid, uint64_t n)
{
	struct dc_inode *inode = dc_inode_get(dc, nodeid);

	if (!inode)
		return -ESTALE;
	/* as i_kref_get, n at once: our reference is the kernel's if the
	 * count was 0 */
	if (!n || __atomic_fetch_add(&inode->i_nlookup, n, __ATOMIC_SEQ_CST))
		dc_inode_put(inode);
	return 0;
}

int dcache_forget(struct dcache *dc, uint64_t nodeid, uint64_t nlookup)
{
	struct dc_inode *inode = dc_inode_get(dc, nodeid);
	uint64_t take;

	if (!inode)
		return -ESTALE;
	take = i_kref_put(inode, nlookup);
	dc_inode_put(inode); /* our temporary reference */
	return take < nlookup ? -EINVAL : 0;
}
