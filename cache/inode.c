/* SPDX-License-Identifier: MIT */
/*
 * cache/inode.c - inode objects: the (dev, ino) and node-id tables,
 * attributes under i_seq, symlink targets under RCU, lifetime.
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

/* cds_lfht match functions: inside RCU (called by lookups); never block. */
static int key_match(struct cds_lfht_node *node, const void *key)
{
	const struct ikey *k = key;
	struct dc_inode *i = caa_container_of(node, struct dc_inode, i_keynode);

	tsan_found(i); /* published before it was added (TSan builds) */
	return i->i_dev == k->dev && i->i_ino == k->ino;
}

static int id_match(struct cds_lfht_node *node, const void *key)
{
	struct dc_inode *i = caa_container_of(node, struct dc_inode, i_idnode);

	tsan_found(i); /* published before it was added (TSan builds) */
	return i->i_nodeid == *(const uint64_t *)key;
}

/* Inside RCU.  A live (not dead) inode, or NULL: the pointer is only good
 * until rcu_read_unlock unless a reference is taken. */
struct dc_inode *i_find_id_rcu(struct dcache *dc, uint64_t nodeid)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	struct dc_inode *inode;

	DC_ASSERT_RCU();
	cds_lfht_lookup(dc->ids, mix64(nodeid), id_match, &nodeid, &it);
	node = cds_lfht_iter_get_node(&it);
	if (!node)
		return NULL;
	inode = caa_container_of(node, struct dc_inode, i_idnode);
	tsan_found(inode);
	return lockref_is_dead(&inode->i_ref) ? NULL : inode;
}

/* What the packed attributes keep in 32 bits.  Any context. */
static bool fits32(uint64_t v)
{
	return v <= UINT32_MAX;
}

/* 0 <= v < UINT32_MAX (so that i_noxattr_nsec1 = nsec + 1 fits too) */
static bool fits32s(int64_t v)
{
	return v >= 0 && v < (int64_t)UINT32_MAX;
}

/*
 * Pack @attr into @w (struct dc_iattr's words); false when it does not
 * fit (struct dc_iattr), then nothing may be cached from it.  Any context.
 */
static bool i_pack_attr(const struct dc_inode *inode, const struct dc_attr *a,
			uint64_t *w)
{
	if (a->dev != inode->i_dev || a->ino != inode->i_ino ||
	    !fits32(a->mode) || !fits32(a->nlink) || !fits32(a->uid) ||
	    !fits32(a->gid) || !fits32s(a->atime_nsec) ||
	    !fits32s(a->mtime_nsec) || !fits32s(a->ctime_nsec) ||
	    !fits32s(a->blksize))
		return false;
	w[0] = a->mode | a->nlink << 32;
	w[1] = a->uid | a->gid << 32;
	w[2] = a->rdev;
	w[3] = (uint64_t)a->size;
	w[4] = (uint64_t)a->blocks;
	w[5] = (uint64_t)a->atime_sec;
	w[6] = (uint64_t)a->mtime_sec;
	w[7] = (uint64_t)a->ctime_sec;
	w[8] = (uint64_t)a->atime_nsec | (uint64_t)a->mtime_nsec << 32;
	w[9] = (uint64_t)a->ctime_nsec | (uint64_t)a->blksize << 32;
	return true;
}

#define IATTR_WORDS (sizeof(struct dc_iattr) / sizeof(uint64_t))

/*
 * Store @attr as the cached attributes.  Caller holds i_lock inside an
 * i_seq write section (or owns the unpublished inode).  False when they
 * do not fit: the caller must leave them invalid.
 */
static bool i_store_attr(struct dc_inode *inode, const struct dc_attr *attr)
{
	uint64_t w[IATTR_WORDS], *dst = (uint64_t *)&inode->i_attr;
	size_t i;

	_Static_assert(sizeof(struct dc_iattr) % sizeof(uint64_t) == 0,
		       "dc_iattr is copied word by word");
	if (!i_pack_attr(inode, attr, w))
		return false;
	for (i = 0; i < IATTR_WORDS; i++)
		store_relaxed(dst[i], w[i]);
	return true;
}

/* The expiry of attributes stored by i_store_attr (which returned @ok).
 * Any context (reads the clock unless the TTL is forever). */
static uint64_t i_attr_expiry(struct dcache *dc, bool ok)
{
	return ok ? dc_expiry(load_relaxed(dc->attr_ttl)) : 0;
}

uint64_t i_epoch(struct dcache *dc)
{
	return __atomic_load_n(&dc->attr_epoch, __ATOMIC_SEQ_CST);
}

/*
 * Caller holds i_lock.  May the change go in, and record it if so.
 * i_attr_epoch says how fresh the cached data is: a write-through sets it
 * to a new epoch; backend data sampled at epoch @since goes in only if
 * nothing fresher is there, and then records @since.
 */
static bool epoch_admit_locked(struct dc_inode *inode, uint64_t since)
{
	struct dcache *dc = inode->i_cache;

	DC_ASSERT_LOCKED(&inode->i_ref);
	if (since == I_WRITE_THROUGH) {
		inode->i_attr_epoch = __atomic_add_fetch(&dc->attr_epoch, 1,
							 __ATOMIC_SEQ_CST);
		return true;
	}
	/* a write-through after the sample makes this answer too old */
	if (inode->i_attr_epoch > since)
		return false;
	inode->i_attr_epoch = since;
	return true;
}

void i_set_attr(struct dc_inode *inode, const struct dc_attr *attr,
		uint64_t since)
{
	lockref_lock(&inode->i_ref);
	if (epoch_admit_locked(inode, since)) {
		uint64_t until;

		seq_write_begin(&inode->i_seq);
		/* the words are written inside the write section */
		until = i_attr_expiry(inode->i_cache,
				      i_store_attr(inode, attr));
		store_relaxed(inode->i_attr_valid_until, until);
		/*
		 * "No xattrs" is as old as the attributes it was seen with:
		 * with a finite validity it ends at the next refresh from the
		 * backend, even one showing the same ctime (GlusterFS keeps
		 * ctime when an xattr changes: its ctime translator), so it
		 * is never older than the validity period (issue 15).
		 */
		if (until != DC_TTL_FOREVER && since != I_WRITE_THROUGH)
			store_relaxed(inode->i_noxattr_nsec1, 0);
		seq_write_end(&inode->i_seq);
	}
	lockref_unlock(&inode->i_ref);
}

bool i_copy_attr(struct dc_inode *inode, struct dc_attr *out, uint64_t *now,
		 uint64_t *until_out)
{
	const uint64_t *src = (const uint64_t *)&inode->i_attr;
	uint32_t seq = seq_begin(&inode->i_seq);
	uint64_t until = load_relaxed(inode->i_attr_valid_until);
	uint64_t w[IATTR_WORDS];
	size_t i;

	for (i = 0; i < IATTR_WORDS; i++)
		w[i] = load_relaxed(src[i]);
	if (seq_retry(&inode->i_seq, seq))
		return false;
	out->ino = inode->i_ino;
	out->dev = inode->i_dev;
	out->mode = (uint32_t)w[0];
	out->nlink = w[0] >> 32;
	out->uid = (uint32_t)w[1];
	out->gid = w[1] >> 32;
	out->rdev = w[2];
	out->size = (int64_t)w[3];
	out->blocks = (int64_t)w[4];
	out->blksize = (int64_t)(w[9] >> 32);
	out->atime_sec = (int64_t)w[5];
	out->atime_nsec = (int64_t)(uint32_t)w[8];
	out->mtime_sec = (int64_t)w[6];
	out->mtime_nsec = (int64_t)(w[8] >> 32);
	out->ctime_sec = (int64_t)w[7];
	out->ctime_nsec = (int64_t)(uint32_t)w[9];
	if (until_out)
		*until_out = until;
	return dc_valid_at(until, now);
}

int i_copy_link(struct dc_inode *inode, char *buf, size_t size, size_t *len,
		uint64_t *now)
{
	struct dc_link *link;
	uint32_t seq;
	uint64_t until;
	size_t n;
	int ok = 0;

	/*
	 * The link block is freed by call_rcu once replaced: read it inside
	 * a read section of our own (read sections nest), since callers
	 * such as dc_finish() run outside one.
	 */
	rcu_read_lock();
	seq = seq_begin(&inode->i_seq);
	link = rcu_load(inode->i_link);
	until = load_relaxed(inode->i_link_valid_until);
	if (!link)
		goto out;
	/* the block is immutable: its bytes need no sequence check */
	*len = link->len;
	/* as readlink(2): up to @size bytes, a NUL only if there is room */
	n = link->len < size ? link->len : size;
	memcpy(buf, link->s, n);
	if (n < size)
		buf[n] = '\0';
	if (seq_retry(&inode->i_seq, seq))
		goto out;
	ok = dc_valid_at(until, now);
out:
	rcu_read_unlock();
	return ok;
}

/* call_rcu callback: liburcu's call_rcu thread runs it after a grace
 * period, outside any read section, holding no dcache lock; it frees. */
static void link_free_rcu(struct rcu_head *head)
{
	struct dc_link *link = caa_container_of(head, struct dc_link, rcu);
	struct dcache *dc;

	tsan_gp_done();
	dc = link->dc;
	dc_gauge_add(&dc->bytes, -(int64_t)(sizeof(*link) + link->len + 1));
	free(link);
	dc_rcu_done(dc);
	tsan_cb_end();
}

static struct dc_link *link_new(struct dcache *dc, const char *s, size_t len)
{
	struct dc_link *link = malloc(sizeof(*link) + len + 1);

	if (!link)
		return NULL;
	link->dc = dc;
	link->len = len;
	memcpy(link->s, s, len);
	link->s[len] = '\0';
	dc_gauge_add(&dc->bytes, (int64_t)(sizeof(*link) + len + 1));
	return link;
}

int i_set_link(struct dc_inode *inode, const char *target, size_t len,
	       uint64_t since)
{
	struct dcache *dc = inode->i_cache;
	struct dc_link *link = link_new(dc, target, len), *old;

	if (!link)
		return -ENOMEM;
	lockref_lock(&inode->i_ref);
	if (!epoch_admit_locked(inode, since)) {
		lockref_unlock(&inode->i_ref);
		dc_gauge_add(&dc->bytes, -(int64_t)(sizeof(*link) + len + 1));
		free(link);
		return 0;
	}
	seq_write_begin(&inode->i_seq);
	old = rcu_load(inode->i_link);
	rcu_store(inode->i_link, link);
	store_relaxed(inode->i_link_valid_until,
		      dc_expiry(load_relaxed(dc->attr_ttl)));
	seq_write_end(&inode->i_seq);
	lockref_unlock(&inode->i_ref);
	/* readers may still copy the old target: free after a grace period */
	if (old)
		dc_call_rcu(dc, &old->rcu, link_free_rcu);
	return 0;
}

void i_inval(struct dc_inode *inode, unsigned what)
{
	lockref_lock(&inode->i_ref);
	/* an invalidation is a change: older backend answers must not land */
	epoch_admit_locked(inode, I_WRITE_THROUGH);
	seq_write_begin(&inode->i_seq);
	if (what & DC_INVAL_ATTR) {
		store_relaxed(inode->i_attr_valid_until, 0);
		store_relaxed(inode->i_noxattr_nsec1, 0);
	}
	if (what & DC_INVAL_LINK)
		store_relaxed(inode->i_link_valid_until, 0);
	seq_write_end(&inode->i_seq);
	lockref_unlock(&inode->i_ref);
}

static struct dc_inode *i_alloc(struct dcache *dc, const struct dc_attr *attr)
{
	struct dc_inode *inode;

	inode = dc_slab_alloc(&dc->inode_slab);
	if (!inode)
		return NULL;
	memset(inode, 0, sizeof(*inode));
	cds_lfht_node_init(&inode->i_keynode);
	cds_lfht_node_init(&inode->i_idnode);
	inode->i_dev = attr->dev;
	inode->i_ino = attr->ino;
	inode->i_type = (uint32_t)(attr->mode & S_IFMT);
	inode->i_cache = dc;
	lockref_init(&inode->i_ref, 1);
	CDS_INIT_LIST_HEAD(&inode->i_aliases);
	inode->i_attr_valid_until =
		i_attr_expiry(dc, i_store_attr(inode, attr));
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
	struct ikey key = {attr->dev, attr->ino};
	unsigned long hash = key_hash(attr->dev, attr->ino);
	struct dc_inode *inode = NULL, *found = NULL, *stale = NULL;
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	int err = 0;

	DC_ASSERT_NOT_RCU();
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	cds_lfht_lookup(dc->inodes, hash, key_match, &key, &it);
	node = cds_lfht_iter_get_node(&it);
	rcu_read_unlock();
	/* still valid: only we (itable_lock) remove it from the table */
	if (node)
		found = caa_container_of(node, struct dc_inode, i_keynode);
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
		rcu_read_lock();
		cds_lfht_del(dc->inodes, &found->i_keynode);
		rcu_read_unlock();
		found->i_flags |= I_UNKEYED;
	}
	if (!inode) {
		inode = i_alloc(dc, attr);
		if (!inode) {
			err = -ENOMEM;
			goto out_unlock;
		}
		inode->i_nodeid = dc->next_nodeid++;
		/* as fresh as the sample its data came with */
		inode->i_attr_epoch =
			since == I_WRITE_THROUGH ? i_epoch(dc) : since;
		if (since != I_WRITE_THROUGH && i_epoch(dc) != since) {
			/* some write-through ran while the backend answered:
			 * it may have been about this object, which we did
			 * not know yet; do not trust these attributes */
			inode->i_attr_valid_until = 0;
		}
		tsan_publish(inode);
		rcu_read_lock();
		cds_lfht_add(dc->ids, mix64(inode->i_nodeid), &inode->i_idnode);
		cds_lfht_add(dc->inodes, hash, &inode->i_keynode);
		rcu_read_unlock();
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
	struct ikey key = {dev, ino};
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	struct dc_inode *found;
	uint64_t id = 0;

	DC_ASSERT_NOT_RCU();
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	cds_lfht_lookup(dc->inodes, key_hash(dev, ino), key_match, &key, &it);
	node = cds_lfht_iter_get_node(&it);
	if (node) {
		/* only itable_lock holders remove keys: still hashed */
		found = caa_container_of(node, struct dc_inode, i_keynode);
		cds_lfht_del(dc->inodes, &found->i_keynode);
		found->i_flags |= I_UNKEYED;
		id = found->i_nodeid;
	}
	rcu_read_unlock();
	pthread_mutex_unlock(&dc->itable_lock);
	return id;
}

/* Caller holds itable_lock and is in an RCU read section. */
static struct dc_inode *rekey_candidate(struct dcache *dc, uint64_t nodeid)
{
	struct dc_inode *inode = i_find_id_rcu(dc, nodeid);
	struct cds_lfht_iter it;
	struct ikey key;

	DC_ASSERT_MUTEX(&dc->itable_lock);
	DC_ASSERT_RCU();
	/* not killed while we hold itable_lock: i_kill takes it first */
	if (!inode || !(inode->i_flags & I_UNKEYED) ||
	    (inode->i_flags & I_KILLED))
		return NULL;
	key.dev = inode->i_dev;
	key.ino = inode->i_ino;
	cds_lfht_lookup(dc->inodes, key_hash(key.dev, key.ino), key_match, &key,
			&it);
	return cds_lfht_iter_get_node(&it) ? NULL : inode;
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
	 * A node deleted from a cds_lfht may be added again only after a
	 * grace period (readers may still be walking through it).  A failed
	 * removal is rare; waiting here, outside any lock and read section,
	 * is allowed (DESIGN.md section 6).
	 */
	synchronize_rcu();
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	inode = rekey_candidate(dc, nodeid);
	if (inode) {
		cds_lfht_add(dc->inodes, key_hash(inode->i_dev, inode->i_ino),
			     &inode->i_keynode);
		inode->i_flags &= ~I_UNKEYED;
	}
	rcu_read_unlock();
	pthread_mutex_unlock(&dc->itable_lock);
}

static void i_kill(struct dc_inode *inode)
{
	struct dcache *dc = inode->i_cache;

	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	cds_lfht_del(dc->ids, &inode->i_idnode);
	if (!(inode->i_flags & I_UNKEYED))
		cds_lfht_del(dc->inodes, &inode->i_keynode);
	rcu_read_unlock();
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

/*
 * Caller holds @inode's i_lock and is about to make @d one of its names
 * (i_add_alias_locked).  A directory has one dentry, as in the kernel:
 * returns, referenced, the hashed dentry @d will displace (the caller
 * invalidates it), or NULL.  Only a hashed dentry (or the root, never
 * hashed) can be the directory's name: a private (unhashed) one must not
 * displace it.  Takes the displaced dentry's d_lock (i_lock -> d_lock is
 * the documented order), so the caller must hold no d_lock.
 */
struct dentry *i_dir_alias_get_locked(struct dc_inode *inode, struct dentry *d)
{
	struct dentry *old;

	DC_ASSERT_LOCKED(&inode->i_ref);
	if (inode->i_type != S_IFDIR ||
	    (__atomic_load_n(&d->d_flags, __ATOMIC_ACQUIRE) &
	     (D_UNHASHED | D_ROOT)) == D_UNHASHED)
		return NULL;
	old = rcu_load(inode->i_dentry);
	if (old && (old == d || !lockref_get_not_dead(&old->d_ref)))
		old = NULL;
	return old;
}

/*
 * Caller holds @inode's i_lock and @d's d_lock and has just published
 * @inode in d_inode: @d joins the alias list and, if a directory's name,
 * becomes i_dentry.  Never blocks.
 */
void i_add_alias_locked(struct dc_inode *inode, struct dentry *d)
{
	DC_ASSERT_LOCKED(&inode->i_ref);
	DC_ASSERT_LOCKED(&d->d_ref);
	/* on no alias list: it was negative (issue 12) */
	DC_ASSERT(cds_list_empty(&d->d_alias));
	cds_list_add(&d->d_alias, &inode->i_aliases);
	if (inode->i_type == S_IFDIR &&
	    (__atomic_load_n(&d->d_flags, __ATOMIC_ACQUIRE) &
	     (D_UNHASHED | D_ROOT)) != D_UNHASHED)
		rcu_store(inode->i_dentry, d);
}

/* Caller holds @inode's i_lock: @d leaves the alias list.  Never blocks. */
void i_del_alias_locked(struct dc_inode *inode, struct dentry *d)
{
	DC_ASSERT_LOCKED(&inode->i_ref);
	/* a dentry that named @inode is on its alias list */
	DC_ASSERT(!cds_list_empty(&d->d_alias));
	cds_list_del_init(&d->d_alias);
	if (rcu_load(inode->i_dentry) == d)
		rcu_store(inode->i_dentry, NULL);
}

/* @d (dead, d_inode already cleared) leaves @inode's alias list.  Takes
 * i_lock; the caller holds no lock and is not in RCU. */
void i_del_alias(struct dc_inode *inode, struct dentry *d)
{
	lockref_lock(&inode->i_ref);
	i_del_alias_locked(inode, d);
	lockref_unlock(&inode->i_ref);
}

/* Teardown: no readers and no other threads remain. */
void i_free_all(struct dcache *dc)
{
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	struct dc_inode *inode;

	rcu_read_lock();
	/* plain iteration: the _entry macros form a pointer from NULL */
	cds_lfht_for_each (dc->ids, &it, node) {
		inode = caa_container_of(node, struct dc_inode, i_idnode);
		cds_lfht_del(dc->ids, &inode->i_idnode);
		if (!(inode->i_flags & I_UNKEYED))
			cds_lfht_del(dc->inodes, &inode->i_keynode);
		/* freed after the caller's grace period */
		inode->i_flags |= I_UNKEYED;
		dc_call_rcu(dc, &inode->i_rcu, i_free_rcu);
	}
	rcu_read_unlock();
}

/* ---- public accessors ---- */

struct dc_inode *dcache_inode_get(struct dcache *dc, uint64_t nodeid)
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

struct dc_inode *dcache_inode_find(struct dcache *dc, uint64_t dev,
				   uint64_t ino)
{
	struct ikey key = {dev, ino};
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	struct dc_inode *inode = NULL;

	/* the table lock keeps a found inode in memory while we may sleep on
	 * its i_lock; this is a cold path (the watcher), so take it always */
	pthread_mutex_lock(&dc->itable_lock);
	rcu_read_lock();
	cds_lfht_lookup(dc->inodes, key_hash(dev, ino), key_match, &key, &it);
	node = cds_lfht_iter_get_node(&it);
	if (node)
		inode = caa_container_of(node, struct dc_inode, i_keynode);
	rcu_read_unlock();
	if (inode && !lockref_get_not_dead(&inode->i_ref))
		inode = NULL;
	pthread_mutex_unlock(&dc->itable_lock);
	return inode;
}

uint64_t dcache_epoch(struct dcache *dc)
{
	return i_epoch(dc);
}

int dcache_set_noxattr(struct dcache *dc, uint64_t nodeid, uint64_t since)
{
	struct dc_inode *inode = dcache_inode_get(dc, nodeid);
	uint64_t now = 0;
	int r = 0;

	if (!inode)
		return -ESTALE;
	lockref_lock(&inode->i_ref);
	/* nothing changed the inode since the caller's sample began, and the
	 * attributes it will be checked against are valid */
	if (inode->i_attr_epoch <= since &&
	    dc_valid_at(load_relaxed(inode->i_attr_valid_until), &now)) {
		seq_write_begin(&inode->i_seq);
		store_relaxed(inode->i_noxattr_sec,
			      (uint64_t)inode->i_attr.ctime_sec);
		/* packed ctime_nsec < UINT32_MAX: + 1 fits */
		store_relaxed(inode->i_noxattr_nsec1,
			      (uint32_t)inode->i_attr.ctime_nsec_blk + 1);
		seq_write_end(&inode->i_seq);
		r = 1;
	}
	lockref_unlock(&inode->i_ref);
	dc_inode_put(inode);
	return r;
}

bool dcache_noxattr(struct dcache *dc, uint64_t nodeid)
{
	struct dc_inode *inode;
	uint64_t now = 0, until, sec, csec;
	uint32_t nsec1, cnsec;
	uint32_t seq;
	bool r = false;

	rcu_read_lock();
	inode = i_find_id_rcu(dc, nodeid);
	if (inode) {
		seq = seq_begin(&inode->i_seq);
		until = load_relaxed(inode->i_attr_valid_until);
		sec = load_relaxed(inode->i_noxattr_sec);
		nsec1 = load_relaxed(inode->i_noxattr_nsec1);
		csec = (uint64_t)load_relaxed(inode->i_attr.ctime_sec);
		cnsec = (uint32_t)load_relaxed(inode->i_attr.ctime_nsec_blk);
		if (!seq_retry(&inode->i_seq, seq))
			r = nsec1 && sec == csec && nsec1 == cnsec + 1 &&
			    dc_valid_at(until, &now);
	}
	rcu_read_unlock();
	return r;
}

uint64_t dc_inode_nodeid(const struct dc_inode *inode)
{
	return inode->i_nodeid;
}

uint64_t dc_inode_generation(const struct dc_inode *inode)
{
	return inode->i_cache->generation;
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

struct dentry *dc_inode_alias(struct dc_inode *inode)
{
	struct dentry *d, *found = NULL;
	struct cds_list_head *pos;

	lockref_lock(&inode->i_ref);
	/* plain iteration: the _entry macros would form a dentry pointer
	 * from the (not 64-byte aligned) list head */
	cds_list_for_each (pos, &inode->i_aliases) {
		d = cds_list_entry(pos, struct dentry, d_alias);
		/* prefer a hashed alias; any live one will do */
		if (lockref_is_dead(&d->d_ref))
			continue;
		if (!found || !(load_relaxed(d->d_flags) & D_UNHASHED))
			found = d;
		if (!(load_relaxed(d->d_flags) & D_UNHASHED))
			break;
	}
	/* i_lock -> d_lock is the documented order; the dentry cannot be
	 * freed while it is on our alias list */
	if (found && !lockref_get_not_dead(&found->d_ref))
		found = NULL;
	lockref_unlock(&inode->i_ref);
	return found;
}
