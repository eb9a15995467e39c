/* SPDX-License-Identifier: MIT */
/*
 * cache/alias.c - what binds dentries and inodes: a dentry turning
 * positive or negative, the inode's alias list (a directory has one
 * dentry, i_dentry), and finding a dentry for an inode or a node id.
 * Lock order i_lock, then d_lock (dcache_i.h).
 */
#include "dcache_i.h"

/*
 * Negative -> positive, in one step (as the kernel's d_instantiate): with
 * @inode's i_lock held and then @d's d_lock (the documented order), d_inode
 * is published and @d joins the alias list together.  Whoever turns @d
 * negative again (d_make_negative) takes the same two locks, so nobody can
 * see @d positive without it being on its inode's alias list, and nobody
 * can put the inode reference handed over here before @d is on that list.
 *
 * Caller holds a reference on @d, no lock, and is not in RCU (this takes
 * sleeping locks and may invalidate and put another dentry); transfers one
 * inode reference, unless @d was positive already (false: caller keeps it).
 */
bool d_set_inode_if_negative(struct dentry *d, struct dc_inode *inode)
{
	struct dentry *old;

	DC_ASSERT_NOT_RCU();
	lockref_lock(&inode->i_ref);
	/*
	 * A directory's displaced dentry is taken under i_lock alone: its
	 * d_lock may not nest inside ours (unrelated dentries).
	 */
	old = i_dir_alias_get_locked(inode, d);
	lockref_lock(&d->d_ref);
	if (d->d_inode) {
		lockref_unlock(&d->d_ref);
		lockref_unlock(&inode->i_ref);
		dentry_put(old);
		return false;
	}
	seq_write_begin(&d->d_seq);
	rcu_store(d->d_inode, inode);
	if (inode->i_type == S_IFDIR)
		__atomic_fetch_or(&d->d_flags, D_DIR, __ATOMIC_RELAXED);
	seq_write_end(&d->d_seq);
	i_add_alias_locked(inode, d);
	lockref_unlock(&d->d_ref);
	lockref_unlock(&inode->i_ref);
	dc_gauge_add(&d->d_cache->nr_negative, -1);
	if (old) {
		/* the directory was found under a new name: it moved */
		d_invalidate(old, DC_SRC_EXPIRED);
		dentry_put(old);
	}
	return true;
}

/* As d_set_inode_if_negative, on a dentry known to be negative. */
void d_set_inode(struct dentry *d, struct dc_inode *inode)
{
	bool ok = d_set_inode_if_negative(d, inode);

	DC_ASSERT(ok);
	(void)ok;
}

/*
 * Positive -> negative in place (unlink), in one step: under the inode's
 * i_lock and then @d's d_lock, d_inode is cleared inside a d_seq write
 * section (no reader validates NULL against an old sample) and @d leaves
 * the alias list.  *old gets the inode reference the dentry held (the
 * caller puts it, outside RCU), or NULL if @d was negative.  Caller holds
 * a reference on @d and no lock; not in RCU (sleeping locks, a put).
 */
void d_make_negative(struct dentry *d, struct dc_inode **old)
{
	struct dc_inode *inode;

	DC_ASSERT_NOT_RCU();
	for (;;) {
		lockref_lock(&d->d_ref);
		inode = d->d_inode;
		if (!inode) {
			lockref_unlock(&d->d_ref);
			*old = NULL;
			return;
		}
		/* pinned by the dentry's own reference while we hold d_lock;
		 * ours keeps it while we let go to take i_lock first */
		lockref_get_pinned(&inode->i_ref);
		lockref_unlock(&d->d_ref);
		lockref_lock(&inode->i_ref);
		lockref_lock(&d->d_ref);
		if (d->d_inode == inode)
			break;
		/* turned negative (and maybe positive again) meanwhile */
		lockref_unlock(&d->d_ref);
		lockref_unlock(&inode->i_ref);
		i_put_many(inode, 1);
	}
	seq_write_begin(&d->d_seq);
	rcu_store(d->d_inode, NULL);
	__atomic_fetch_and(&d->d_flags, ~D_DIR, __ATOMIC_RELAXED);
	seq_write_end(&d->d_seq);
	i_del_alias_locked(inode, d);
	lockref_unlock(&d->d_ref);
	lockref_unlock(&inode->i_ref);
	dc_gauge_add(&d->d_cache->nr_negative, 1);
	/* our pin; the dentry's reference goes to the caller */
	i_put_many(inode, 1);
	*old = inode;
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
	if (inode->i_type != S_IFDIR || d_unhashed(d))
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
	if (inode->i_type == S_IFDIR && !d_unhashed(d))
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

struct dc_inode *dentry_inode(struct dentry *d)
{
	struct dc_inode *inode;

	lockref_lock(&d->d_ref);
	inode = d->d_inode;
	/* pinned by the alias reference, which needs our d_lock to go */
	if (inode)
		lockref_get_pinned(&inode->i_ref);
	lockref_unlock(&d->d_ref);
	return inode;
}

struct dentry *dc_dir_dentry(struct dcache *dc, uint64_t nodeid, int *err)
{
	struct dc_inode *inode = dc_inode_get(dc, nodeid);
	struct dentry *d;

	if (!inode) {
		*err = -ESTALE;
		return NULL;
	}
	if (inode->i_type != S_IFDIR) {
		dc_inode_put(inode);
		*err = -ENOTDIR;
		return NULL;
	}
	d = dc_inode_alias(inode);
	dc_inode_put(inode);
	if (!d)
		*err = -ESTALE;
	return d;
}

void d_inval_attr(struct dentry *d)
{
	struct dc_inode *inode = dentry_inode(d);

	if (inode) {
		i_inval(inode, DC_INVAL_ATTR);
		dc_inode_put(inode);
	}
}
