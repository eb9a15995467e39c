/* SPDX-License-Identifier: MIT */
/*
 * cache/mutate.c - write-through updates after the backend changed
 * something, and invalidation.  Request handlers call these in the same
 * handler that made the change, so a stat right after a create, chmod or
 * unlink through the mount is answered correctly from the cache.
 */
#include "dcache_i.h"

static void set_valid(struct dentry *d, uint64_t ttl)
{
	__atomic_store_n(&d->d_valid_until, dc_expiry(ttl), __ATOMIC_RELEASE);
}

/* Invalidate the attributes of directory @parent (its mtime changed). */
static void inval_parent(struct dentry *parent)
{
	struct dc_inode *dir = dentry_inode(parent);

	if (dir) {
		i_inval(dir, DC_INVAL_ATTR);
		dc_inode_put(dir);
	}
}

/*
 * @name exists in @parent (referenced) as @attr.  Not in RCU.
 */
int dc_instantiate_in(struct dcache *dc, struct dentry *parent,
		      const char *name, size_t len,
		      const struct dc_attr *attr, const char *link,
		      unsigned flags, struct dc_result *res)
{
	uint32_t hash = dc_name_hash(name, len);
	struct dentry *d, *other;
	struct dc_inode *inode, *cur;
	int err, tries;

	DC_ASSERT_NOT_RCU();
	/* our reference on @inode lasts to the end; a dentry gets its own */
	err = i_get_or_create(dc, attr, link, &inode);
	if (err)
		return err;
	for (tries = 0; tries < 4; tries++) {
		d = d_lookup_ref(dc, parent, name, (uint32_t)len, hash);
		if (d) {
			if (load_relaxed(d->d_flags) & D_IN_LOOKUP)
				d_wait_lookup(d);
			cur = dentry_inode(d);
			if (cur == inode) {
				dc_inode_put(cur);
				break;
			}
			if (!cur) {
				lockref_get(&inode->i_ref);
				if (d_set_inode_if_negative(d, inode))
					break;
				dc_inode_put(inode); /* raced: not taken */
			} else {
				dc_inode_put(cur);
			}
			/* another object (or a race): replace the entry */
			d_invalidate(d, DC_SRC_LOCAL);
			dentry_put(d);
			continue;
		}
		d = d_alloc(dc, parent, name, len, hash);
		if (!d) {
			err = -ENOMEM;
			goto out;
		}
		/* not yet visible: set the inode before hashing */
		lockref_get(&inode->i_ref);
		d_set_inode(d, inode);
		lockref_lock(&parent->d_ref);
		err = d_hash_add_locked(parent, d, &other);
		lockref_unlock(&parent->d_ref);
		if (!err)
			break;
		/* lost a race: undo; nobody has seen it */
		i_del_alias(inode, d);
		d->d_inode = NULL;
		dc_gauge_add(&dc->nr_negative, 1);
		dc_inode_put(inode);
		dentry_put(parent); /* the reference d_alloc took */
		d_free_unused(d);
	}
	if (tries == 4) {
		err = -EAGAIN;
		goto out;
	}
	set_valid(d, dc->entry_ttl);
	i_set_attr(inode, attr);
	if (res) {
		res->nodeid = inode->i_nodeid;
		res->generation = inode->i_generation;
		res->attr = *attr;
		res->link_len = 0;
		res->dentry = NULL;
		if (flags & DC_WANT_KREF) {
			/* our reference becomes the kernel's */
			__atomic_fetch_add(&inode->i_nlookup, 1,
					   __ATOMIC_RELAXED);
			inode = NULL;
		}
		if (flags & DC_WANT_DENTRY) {
			res->dentry = d;
			d = NULL;
		}
	}
	dentry_put(d);
	err = 0;
out:
	dc_inode_put(inode);
	return err;
}

int dcache_instantiate(struct dcache *dc, uint64_t parent, const char *name,
		       const struct dc_attr *attr, const char *link,
		       unsigned flags, struct dc_result *res)
{
	struct dentry *pd;
	size_t len;
	int err;

	err = dc_check_name(name, &len);
	if (err)
		return err;
	if ((flags & (DC_WANT_KREF | DC_WANT_DENTRY)) && !res)
		return -EINVAL;
	pd = dc_parent_of_id(dc, parent, &err);
	if (!pd)
		return err;
	err = dc_instantiate_in(dc, pd, name, len, attr, link, flags, res);
	inval_parent(pd);
	dentry_put(pd);
	return err;
}

int dcache_remove(struct dcache *dc, uint64_t parent, const char *name)
{
	struct dentry *pd, *d;
	struct dc_inode *old;
	size_t len;
	int err;

	err = dc_check_name(name, &len);
	if (err)
		return err;
	pd = dc_parent_of_id(dc, parent, &err);
	if (!pd)
		return err;
	inval_parent(pd);
	d = d_lookup_ref(dc, pd, name, (uint32_t)len, dc_name_hash(name, len));
	if (!d) {
		dentry_put(pd);
		return -ENOENT;
	}
	if (load_relaxed(d->d_flags) & D_IN_LOOKUP)
		d_wait_lookup(d);
	/* a removed directory's cached (negative) children go with it */
	d_prune(d, false, DC_SRC_LOCAL);
	d_make_negative(d, &old);
	set_valid(d, dc->neg_ttl);
	if (old) {
		/* nlink and ctime changed; the kernel may still hold it */
		i_inval(old, DC_INVAL_ATTR);
		dc_inode_put(old);
	}
	dc_count(C_INVAL + DC_SRC_LOCAL);
	dentry_put(d);
	dentry_put(pd);
	return 0;
}

int dcache_setattr(struct dcache *dc, uint64_t nodeid,
		   const struct dc_attr *attr)
{
	struct dc_inode *inode = dcache_inode_get(dc, nodeid);

	if (!inode)
		return -ESTALE;
	if (inode->i_dev != attr->dev || inode->i_ino != attr->ino ||
	    inode->i_type != (attr->mode & S_IFMT)) {
		dc_inode_put(inode);
		return -EINVAL;
	}
	i_set_attr(inode, attr);
	dc_inode_put(inode);
	return 0;
}

int dcache_set_link(struct dcache *dc, uint64_t nodeid, const char *target,
		    size_t len)
{
	struct dc_inode *inode = dcache_inode_get(dc, nodeid);
	int err;

	if (!inode)
		return -ESTALE;
	err = inode->i_type == S_IFLNK ? i_set_link(inode, target, len)
				       : -EINVAL;
	dc_inode_put(inode);
	return err;
}

int dcache_inval_entry(struct dcache *dc, uint64_t parent, const char *name,
		       enum dc_inval_src src)
{
	struct dentry *pd, *d;
	size_t len;
	int err;

	if ((unsigned)src >= DC_SRC_NR)
		return -EINVAL;
	err = dc_check_name(name, &len);
	if (err)
		return err;
	pd = dc_parent_of_id(dc, parent, &err);
	if (!pd)
		return err;
	d = d_lookup_ref(dc, pd, name, (uint32_t)len, dc_name_hash(name, len));
	dentry_put(pd);
	if (!d)
		return -ENOENT;
	/* an in-lookup placeholder too: its answer may predate the change */
	d_invalidate(d, src);
	dentry_put(d);
	return 0;
}

int dcache_inval_inode(struct dcache *dc, uint64_t nodeid, unsigned what,
		       enum dc_inval_src src)
{
	struct dc_inode *inode;

	if ((unsigned)src >= DC_SRC_NR ||
	    (what & ~(unsigned)(DC_INVAL_ATTR | DC_INVAL_LINK)))
		return -EINVAL;
	inode = dcache_inode_get(dc, nodeid);
	if (!inode)
		return -ESTALE;
	i_inval(inode, what);
	dc_count(C_INVAL + src);
	dc_inode_put(inode);
	return 0;
}

void dcache_inval_all(struct dcache *dc, enum dc_inval_src src)
{
	if ((unsigned)src >= DC_SRC_NR)
		src = DC_SRC_USER;
	d_prune(dc->root, false, src);
	i_inval(rcu_load(dc->root->d_inode), DC_INVAL_ATTR);
}
