/* SPDX-License-Identifier: MIT */
/*
 * cache/iattr.c - what an inode caches about its object: the packed
 * attributes and the symlink target, both written under i_lock inside
 * an i_seq write section and copied by lockless readers; the epoch
 * check that keeps an old backend answer from overwriting a newer
 * write-through; the "no extended attributes" answer.
 */
#include "dcache_i.h"

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

/* The expiry of @inode's attributes stored by i_store_attr (which returned
 * @ok).  Any context (reads the clock unless the TTL is forever). */
static uint64_t i_attr_expiry(struct dc_inode *inode, bool ok)
{
	struct dcache *dc = inode->i_cache;

	return ok ? dc_expiry(dc_ttl_dev(dc, load_relaxed(dc->attr_ttl),
					 inode->i_dev))
		  : 0;
}

uint64_t i_epoch(struct dcache *dc)
{
	return __atomic_load_n(&dc->attr_epoch, __ATOMIC_SEQ_CST);
}

/*
 * Every write-through and invalidation advances the attribute epoch, even
 * when the object is not cached: a slow lookup that asked the backend
 * before the change and creates the inode afterwards must not trust what
 * it read.  Returns the new epoch.
 */
uint64_t dc_bump_epoch(struct dcache *dc)
{
	return __atomic_add_fetch(&dc->attr_epoch, 1, __ATOMIC_SEQ_CST);
}

void dcache_backend_changed(struct dcache *dc)
{
	dc_bump_epoch(dc);
}

void i_init_attr(struct dc_inode *inode, const struct dc_attr *attr)
{
	inode->i_attr_valid_until =
		i_attr_expiry(inode, i_store_attr(inode, attr));
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
		inode->i_attr_epoch = dc_bump_epoch(dc);
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
		until = i_attr_expiry(inode, i_store_attr(inode, attr));
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
		      dc_expiry(dc_ttl_dev(dc, load_relaxed(dc->attr_ttl),
					   inode->i_dev)));
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

uint64_t dcache_epoch(struct dcache *dc)
{
	return i_epoch(dc);
}

int dcache_set_noxattr(struct dcache *dc, uint64_t nodeid, uint64_t since)
{
	struct dc_inode *inode = dc_inode_get(dc, nodeid);
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
