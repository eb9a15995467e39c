/* SPDX-License-Identifier: MIT */
/*
 * cache/answer.c - what a lookup answers about the object it found: its
 * attributes and symlink target, copied from the cache or, expired,
 * refreshed from the backend; for the walks (dc_finish) and by node id
 * (dcache_getattr, dcache_readlink).
 */
#include "dcache_i.h"

/* Fresh attributes of @inode through its dentry @d; into @out. */
static int refresh_attr(struct dcache *dc, struct dentry *d,
			struct dc_inode *inode, struct dc_attr *out)
{
	uint64_t since = i_epoch(dc);
	int err;

	dc_count(C_BACKEND + DC_BE_GETATTR);
	err = dc->ops.getattr(dc->backend, d, out);
	if (err) {
		dc_count(C_BACKEND_ERR);
		return err;
	}
	if (!i_same_object(inode, out)) {
		/* the name now holds another object: ours is gone */
		d_invalidate(d, DC_SRC_EXPIRED);
		return -ESTALE;
	}
	i_set_attr(inode, out, since);
	return 0;
}

static ssize_t refresh_link(struct dcache *dc, struct dentry *d,
			    struct dc_inode *inode, char *buf, size_t size)
{
	uint64_t since = i_epoch(dc);
	size_t cap = 256;
	ssize_t n;
	char *tmp;
	int err;

	for (;;) {
		tmp = malloc(cap);
		if (!tmp)
			return -ENOMEM;
		dc_count(C_BACKEND + DC_BE_READLINK);
		n = dc->ops.readlink(dc->backend, d, tmp, cap);
		if (n < 0 || (size_t)n < cap)
			break;
		free(tmp);
		if (cap >= (size_t)1 << 20)
			return -ENAMETOOLONG;
		cap *= 4;
	}
	if (n < 0) {
		dc_count(C_BACKEND_ERR);
		free(tmp);
		return n;
	}
	err = i_set_link(inode, tmp, (size_t)n, since);
	/* as readlink(2): up to @size bytes, a NUL only if there is room */
	memcpy(buf, tmp, (size_t)n < size ? (size_t)n : size);
	if ((size_t)n < size)
		buf[n] = '\0';
	free(tmp);
	return err ? err : n;
}

/*
 * Answer for the referenced final dentry @d (consumed).  Not in RCU, no
 * lock held: may ask the backend (unless DC_CACHED) and put.
 */
int dc_finish(struct dcache *dc, struct dentry *d, unsigned flags,
	      struct dc_result *res)
{
	struct dc_inode *inode = dentry_inode(d);
	uint64_t now = 0;
	ssize_t n;
	int err = 0;

	if (!inode) {
		res->nodeid = 0;
		err = -ENOENT;
		goto out;
	}
	res->nodeid = inode->i_nodeid;
	res->generation = dc->generation;
	if ((flags & DC_WANT_ATTR) && !i_copy_attr(inode, &res->attr, &now)) {
		err = -EAGAIN;
		if (flags & DC_CACHED)
			goto out;
		err = refresh_attr(dc, d, inode, &res->attr);
		if (err)
			goto out;
	}
	if ((flags & DC_WANT_LINK) && inode->i_type == S_IFLNK &&
	    !i_copy_link(inode, res->link, res->link_size, &res->link_len,
			 &now)) {
		err = -EAGAIN;
		if (flags & DC_CACHED)
			goto out;
		n = refresh_link(dc, d, inode, res->link, res->link_size);
		if (n < 0) {
			err = (int)n;
			goto out;
		}
		res->link_len = (size_t)n;
		err = 0;
	}
	/* our reference becomes the kernel's, unless it has one */
	if ((flags & DC_WANT_KREF) && i_kref_get(inode))
		inode = NULL;
out:
	dc_inode_put(inode);
	if (flags & DC_WANT_DENTRY && (!err || err == -ENOENT)) {
		res->dentry = d;
		return err;
	}
	if (err && err != -ENOENT)
		res->nodeid = 0;
	dentry_put(d);
	return err;
}

int dcache_getattr(struct dcache *dc, uint64_t nodeid, unsigned flags,
		   struct dc_attr *attr)
{
	enum dc_op op = flags & DC_FOR_ACCESS ? DC_OP_ACCESS : DC_OP_GETATTR;
	struct dc_inode *inode;
	struct dentry *d;
	uint64_t now = 0;
	int err, tries;
	bool hashed;

	DC_ASSERT_NOT_RCU();
	if (!(flags & DC_FORCE_REF)) {
		rcu_read_lock();
		inode = i_find_id_rcu(dc, nodeid);
		if (!inode) {
			rcu_read_unlock();
			return -ESTALE;
		}
		/* no reference: the copy is validated by i_seq */
		if (i_copy_attr(inode, attr, &now)) {
			rcu_read_unlock();
			dc_count(C_HIT + op);
			return 0;
		}
		rcu_read_unlock();
	} else {
		/* ref mode, for benchmarks and tests of the slow path */
		inode = dc_inode_get(dc, nodeid);
		if (!inode)
			return -ESTALE;
		if (i_copy_attr(inode, attr, &now)) {
			dc_inode_put(inode);
			return 0;
		}
		dc_inode_put(inode);
	}
	if (flags & DC_CACHED)
		return -EAGAIN;
	dc_count(C_SLOW + op);
	inode = dc_inode_get(dc, nodeid);
	if (!inode)
		return -ESTALE;
	/*
	 * A hard-linked file has one alias per cached name, and the one we
	 * ask through may be gone from the backing tree while the object
	 * lives on under another: drop that name and ask through the next
	 * hashed alias (dc_inode_alias prefers hashed ones).
	 */
	for (tries = 0;; tries++) {
		d = dc_inode_alias(inode);
		if (!d) {
			err = -ESTALE;
			break;
		}
		hashed = !(load_relaxed(d->d_flags) & D_UNHASHED);
		err = refresh_attr(dc, d, inode, attr);
		if (err != -ENOENT || !hashed || tries == 16) {
			dentry_put(d);
			break;
		}
		d_invalidate(d, DC_SRC_EXPIRED);
		dentry_put(d);
	}
	dc_inode_put(inode);
	return err;
}

ssize_t dcache_readlink(struct dcache *dc, uint64_t nodeid, unsigned flags,
			char *buf, size_t size)
{
	struct dc_inode *inode;
	struct dentry *d;
	uint64_t now = 0;
	size_t len;
	ssize_t n;

	DC_ASSERT_NOT_RCU();
	rcu_read_lock();
	inode = i_find_id_rcu(dc, nodeid);
	if (!inode) {
		rcu_read_unlock();
		return -ESTALE;
	}
	if (inode->i_type != S_IFLNK) {
		rcu_read_unlock();
		return -EINVAL;
	}
	if (!(flags & DC_FORCE_REF) &&
	    i_copy_link(inode, buf, size, &len, &now)) {
		rcu_read_unlock();
		dc_count(C_HIT + DC_OP_READLINK);
		return (ssize_t)len;
	}
	rcu_read_unlock();
	if (flags & DC_CACHED)
		return -EAGAIN;
	dc_count(C_SLOW + DC_OP_READLINK);
	inode = dc_inode_get(dc, nodeid);
	if (!inode)
		return -ESTALE;
	d = dc_inode_alias(inode);
	n = d ? refresh_link(dc, d, inode, buf, size) : -ESTALE;
	dentry_put(d);
	dc_inode_put(inode);
	return n;
}
