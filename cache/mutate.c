/* SPDX-License-Identifier: MIT */
/*
 * cache/mutate.c - write-through updates after the backend changed
 * something, and invalidation.  Request handlers call these in the same
 * handler that made the change, so a stat right after a create, chmod or
 * unlink through the mount is answered correctly from the cache.
 */
#include "dcache_i.h"

/*
 * The referenced dentry of directory @parent, as dc_dir_dentry.  When the
 * directory is alive (the kernel may hold its node id) but has no dentry
 * left (invalidated, then dropped), nothing can be cached under it: then
 * NULL with *err = 0, and *dir the referenced inode (NULL otherwise).  A
 * dentry made for it later is hashed after this check, so what is cached
 * under that one was asked of the backend after the caller's change.
 */
static struct dentry *parent_dentry(struct dcache *dc, uint64_t parent,
				    struct dc_inode **dir, int *err)
{
	struct dentry *pd = dc_dir_dentry(dc, parent, err);

	*dir = NULL;
	if (pd || *err != -ESTALE)
		return pd;
	*dir = dc_inode_get(dc, parent);
	if (*dir)
		*err = 0;
	return NULL;
}

/*
 * Fill @res for the instantiated @inode.  With DC_WANT_KREF, counts a
 * kernel lookup (i_kref_get): returns true when the caller's inode
 * reference became the kernel's, and the caller must not put it.
 * Never blocks; the caller holds @inode's reference and no lock.
 */
static bool fill_result(struct dc_inode *inode, const struct dc_attr *attr,
			unsigned flags, struct dc_result *res)
{
	res->nodeid = inode->i_nodeid;
	res->generation = inode->i_cache->generation;
	res->attr = *attr;
	res->link_len = 0;
	res->dentry = NULL;
	res->valid_until = DC_TTL_FOREVER; /* from the backend just now */
	if (!(flags & DC_WANT_KREF))
		return false;
	return i_kref_get(inode);
}

/*
 * @name exists in @parent (referenced) as @attr, written through: what is
 * cached is current.  Not in RCU, no lock held; may block.
 */
static int instantiate_in(struct dcache *dc, struct dentry *parent,
			  const char *name, size_t len,
			  const struct dc_attr *attr, const char *link,
			  unsigned flags, struct dc_result *res)
{
	uint32_t hash = dc_name_hash(name, len);
	struct dc_inode *inode, *cur;
	struct dentry *d;
	int err, tries;

	DC_ASSERT_NOT_RCU();
	/* our reference on @inode lasts to the end; a dentry gets its own */
	err = i_get_or_create(dc, attr, link, I_WRITE_THROUGH, &inode);
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
		/* publish as an in-lookup placeholder first (readers skip or
		 * wait for it), then give it the inode: as a lookup does; an
		 * unhashed parent: the result stands, but stays private */
		err = d_alloc_inlookup(dc, parent, name, len, &d);
		if (err == -EEXIST)
			continue; /* lost a race: look again */
		if (err < 0)
			goto out;
		lockref_get(&inode->i_ref);
		d_set_inode(d, inode);
		d_valid_entry(d, parent, attr);
		d_wake_waiters(d);
		break;
	}
	if (tries == 4) {
		err = -EAGAIN;
		goto out;
	}
	d_valid_entry(d, parent, attr);
	i_set_attr(inode, attr, I_WRITE_THROUGH);
	if (res && fill_result(inode, attr, flags, res))
		inode = NULL; /* our reference became the kernel's */
	if (res && (flags & DC_WANT_DENTRY)) {
		res->dentry = d;
		d = NULL;
	}
	dentry_put(d);
	err = 0;
out:
	dc_inode_put(inode);
	return err;
}

/* dcache_instantiate in a live directory @dir (referenced, consumed) that
 * has no dentry: the inode and the reply, no entry. */
static int instantiate_uncached(struct dcache *dc, struct dc_inode *dir,
				const struct dc_attr *attr, const char *link,
				unsigned flags, struct dc_result *res)
{
	struct dc_inode *inode;
	int err;

	i_inval(dir, DC_INVAL_ATTR);
	dc_inode_put(dir);
	err = i_get_or_create(dc, attr, link, I_WRITE_THROUGH, &inode);
	if (err)
		return err;
	if (res && fill_result(inode, attr, flags, res))
		inode = NULL; /* our reference became the kernel's */
	dc_inode_put(inode);
	return 0;
}

int dcache_instantiate(struct dcache *dc, uint64_t parent, const char *name,
		       const struct dc_attr *attr, const char *link,
		       unsigned flags, struct dc_result *res)
{
	struct dc_inode *dir;
	struct dentry *pd;
	int err, tries;
	bool stale;
	size_t len;

	err = dc_check_name(name, &len);
	if (err)
		return err;
	if ((flags & (DC_WANT_KREF | DC_WANT_DENTRY)) && !res)
		return -EINVAL;
	dc_bump_epoch(dc);
	for (tries = 0; tries < 3; tries++) {
		pd = parent_dentry(dc, parent, &dir, &err);
		if (!pd && dir && !(flags & DC_WANT_DENTRY))
			/* nothing to cache it under: the answer stands */
			return instantiate_uncached(dc, dir, attr, link, flags,
						    res);
		dc_inode_put(dir);
		if (!pd)
			return err ? err : -ESTALE;
		err = instantiate_in(dc, pd, name, len, attr, link, flags, res);
		d_inval_attr(pd);
		stale = !err && d_unhashed(pd);
		dentry_put(pd);
		if (!stale)
			return err;
		/* done again under the new dentry; drop the extra refs */
		if (flags & DC_WANT_KREF)
			dcache_forget(dc, res->nodeid, 1);
		if (flags & DC_WANT_DENTRY)
			dentry_put(res->dentry);
	}
	return -EAGAIN;
}

/* dcache_remove under one parent dentry. */
static int remove_in(struct dcache *dc, struct dentry *pd, const char *name,
		     size_t len)
{
	struct dc_inode *old;
	struct dentry *d;

	d_inval_attr(pd);
	d = d_lookup_ref(dc, pd, name, (uint32_t)len, dc_name_hash(name, len));
	if (!d)
		return -ENOENT;
	if (load_relaxed(d->d_flags) & D_IN_LOOKUP)
		d_wait_lookup(d);
	/* a removed directory's cached (negative) children go with it */
	d_prune_children(d, DC_SRC_LOCAL);
	d_make_negative(d, &old);
	d_valid_negative(d, pd);
	if (old) {
		/* nlink and ctime changed; the kernel may still hold it */
		i_inval(old, DC_INVAL_ATTR);
		dc_inode_put(old);
	}
	dc_count(C_INVAL + DC_SRC_LOCAL);
	dentry_put(d);
	return 0;
}

int dcache_remove(struct dcache *dc, uint64_t parent, const char *name)
{
	struct dc_inode *dir;
	struct dentry *pd;
	int err, r = -ENOENT, tries;
	bool stale;
	size_t len;

	err = dc_check_name(name, &len);
	if (err)
		return err;
	dc_bump_epoch(dc);
	for (tries = 0; tries < 3; tries++) {
		pd = parent_dentry(dc, parent, &dir, &err);
		if (!pd && dir) {
			/* nothing cached under it: only its attributes */
			i_inval(dir, DC_INVAL_ATTR);
			dc_inode_put(dir);
			return r;
		}
		if (!pd)
			return tries ? r : err;
		if (!remove_in(dc, pd, name, len))
			r = 0;
		stale = d_unhashed(pd);
		dentry_put(pd);
		if (!stale)
			return r;
	}
	return r;
}

int dcache_setattr(struct dcache *dc, uint64_t nodeid,
		   const struct dc_attr *attr)
{
	struct dc_inode *inode;

	dc_bump_epoch(dc);
	inode = dc_inode_get(dc, nodeid);
	if (!inode)
		return -ESTALE;
	if (!i_same_object(inode, attr)) {
		dc_inode_put(inode);
		return -EINVAL;
	}
	i_set_attr(inode, attr, I_WRITE_THROUGH);
	dc_inode_put(inode);
	return 0;
}

int dcache_set_link(struct dcache *dc, uint64_t nodeid, const char *target,
		    size_t len)
{
	struct dc_inode *inode;
	int err;

	dc_bump_epoch(dc);
	inode = dc_inode_get(dc, nodeid);
	if (!inode)
		return -ESTALE;
	err = inode->i_type == S_IFLNK
		      ? i_set_link(inode, target, len, I_WRITE_THROUGH)
		      : -EINVAL;
	dc_inode_put(inode);
	return err;
}

int dcache_inval_entry(struct dcache *dc, uint64_t parent, const char *name,
		       enum dc_inval_src src)
{
	struct dc_inode *dir;
	struct dentry *pd, *d;
	int err, r = -ENOENT, tries;
	bool stale;
	size_t len;

	if ((unsigned)src >= DC_SRC_NR)
		return -EINVAL;
	err = dc_check_name(name, &len);
	if (err)
		return err;
	dc_bump_epoch(dc);
	for (tries = 0; tries < 3; tries++) {
		pd = parent_dentry(dc, parent, &dir, &err);
		dc_inode_put(dir);
		if (!pd)
			/* -ENOENT too for a live directory without dentry:
			 * nothing is cached under it */
			return tries || !err ? r : err;
		d = d_lookup_ref(dc, pd, name, (uint32_t)len,
				 dc_name_hash(name, len));
		if (d) {
			/* an in-lookup placeholder too: its answer may
			 * predate the change */
			d_invalidate(d, src);
			dentry_put(d);
			r = 0;
		}
		stale = d_unhashed(pd);
		dentry_put(pd);
		if (!stale)
			break;
	}
	return r;
}

int dcache_inval_inode(struct dcache *dc, uint64_t nodeid, unsigned what,
		       enum dc_inval_src src)
{
	struct dc_inode *inode;

	if ((unsigned)src >= DC_SRC_NR ||
	    (what & ~(unsigned)(DC_INVAL_ATTR | DC_INVAL_LINK)))
		return -EINVAL;
	dc_bump_epoch(dc);
	inode = dc_inode_get(dc, nodeid);
	if (!inode)
		return -ESTALE;
	i_inval(inode, what);
	dc_count(C_INVAL + src);
	dc_inode_put(inode);
	return 0;
}

struct id_list {
	uint64_t *ids, cap, n;
};

/* dh_for_each callback, under a stripe lock: note one node id. */
static void note_id(struct dh_node *node, void *ctx)
{
	struct id_list *l = ctx;

	if (l->n < l->cap)
		l->ids[l->n++] =
			caa_container_of(node, struct dc_inode, i_idnode)
				->i_nodeid;
}

/*
 * Call @fn(@ctx, nodeid, nlookup) for every cached inode, outside RCU and
 * with no dcache lock held (so @fn may block and use the dcache).  Node ids
 * are collected (dh_for_each, one stripe lock at a time) into a buffer
 * allocated before; inodes created meanwhile are missed, which callers
 * that want "everything older than now" accept.  Without memory, fall
 * back to every node id up to the highest handed out.
 */
void dcache_for_each_inode(struct dcache *dc,
			   void (*fn)(void *ctx, uint64_t nodeid,
				      uint64_t nlookup),
			   void *ctx)
{
	struct id_list l = {NULL, 0, 0};
	struct dc_inode *inode;
	uint64_t *ids, n, i;

	DC_ASSERT_NOT_RCU();
	l.cap = load_relaxed(dc->nr_inodes) + 64;
	l.ids = ids = malloc(l.cap * sizeof(*ids));
	if (ids) {
		dh_for_each(&dc->ids, note_id, &l);
		n = l.n;
	} else {
		pthread_mutex_lock(&dc->itable_lock);
		n = dc->next_nodeid;
		pthread_mutex_unlock(&dc->itable_lock);
	}
	for (i = 0; i < n; i++) {
		inode = dc_inode_get(dc, ids ? ids[i] : i + 1);
		if (inode) {
			fn(ctx, inode->i_nodeid, dc_inode_nlookup(inode));
			dc_inode_put(inode);
		}
	}
	free(ids);
}

static void inval_one(void *ctx, uint64_t nodeid, uint64_t nlookup)
{
	struct dc_inode *inode = dc_inode_get(ctx, nodeid);

	(void)nlookup;
	if (inode) {
		i_inval(inode, DC_INVAL_ATTR | DC_INVAL_LINK);
		dc_inode_put(inode);
	}
}

/* Forget the attributes and link targets of every cached inode: the
 * inodes the kernel still holds are reached by node id. */
static void inval_all_inodes(struct dcache *dc)
{
	dc_bump_epoch(dc);
	dcache_for_each_inode(dc, inval_one, dc);
}

/* dh_for_each callback, under a stripe lock: expire one name. */
static void expire_one(struct dh_node *node, void *ctx)
{
	/* the entry stays hashed (the kernel may hold it and look up below
	 * it by node id); its next use asks the backend */
	__atomic_store_n(&dc_node_dentry(node)->d_valid_until, 0,
			 __ATOMIC_RELEASE);
	(*(uint64_t *)ctx)++;
}

void dcache_expire_all(struct dcache *dc, enum dc_inval_src src)
{
	uint64_t n = 0;

	if ((unsigned)src >= DC_SRC_NR)
		src = DC_SRC_USER;
	/* first the epoch: backend answers begun before now must not make
	 * attributes valid again; then every name, then every inode */
	dc_bump_epoch(dc);
	dh_for_each(&dc->dentries, expire_one, &n);
	inval_all_inodes(dc);
	dc_count_n(C_INVAL + src, n);
}

void dcache_inval_all(struct dcache *dc, enum dc_inval_src src)
{
	if ((unsigned)src >= DC_SRC_NR)
		src = DC_SRC_USER;
	d_prune_children(dc->root, src);
	inval_all_inodes(dc);
}
