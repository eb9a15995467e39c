/* SPDX-License-Identifier: MIT */
/*
 * cache/walk.c - path walk: RCU mode, legitimize, ref mode; dcache_walk
 * and dcache_lookup (a one-component walk from a node id).  The lookup of
 * one name in ref mode is lookup.c's, the answer for the final dentry
 * answer.c's.
 *
 * RCU mode (walk_rcu) holds one read section for the whole walk and takes
 * no reference: for each component it finds the child in the hash, samples
 * the child's d_seq, and only then re-validates the parent's d_seq (the
 * hand-over-hand ladder), so a valid child sample vouches for the whole
 * path.  At the end it copies the answer out and re-validates the final
 * d_seq.  When it cannot go on (a miss, an expired or in-lookup entry,
 * attributes to refresh) it legitimizes the current dentry: reference
 * first (lockref_tryget_not_dead), then re-validation of the sample; on
 * failure it leaves RCU, only then drops what it took, and the walk is
 * redone once in ref mode from the start.  With DC_CACHED any of that
 * returns -EAGAIN instead.
 */
#include "dcache_i.h"

#include <limits.h>

/* Next component of *p: its start, and *len; NULL at the end. */
static const char *next_comp(const char **p, size_t *len)
{
	const char *s = *p, *e;

	while (*s == '/')
		s++;
	if (!*s) {
		*p = s;
		return NULL;
	}
	for (e = s; *e && *e != '/'; e++)
		;
	*len = (size_t)(e - s);
	*p = e;
	return s;
}

static bool more_comps(const char *p)
{
	size_t len;

	return next_comp(&p, &len) != NULL;
}

static void result_init(struct dc_result *res)
{
	res->nodeid = 0;
	res->generation = 0;
	res->link_len = 0;
	res->dentry = NULL;
	res->valid_until = DC_TTL_FOREVER;
}

/* ---- RCU mode ---- */

/*
 * Called inside a read section; always returns outside it.  @start was
 * found under this read section or is referenced by the caller.
 * Returns the answer, or -ECHILD to go on in ref mode: from *cont
 * (referenced, legitimized) with the rest of the path *rest, or from the
 * start when *cont is NULL.
 */
static int walk_rcu(struct dcache *dc, struct dentry *start,
		    struct dc_inode *start_inode, const char *path,
		    unsigned flags, enum dc_op op, struct dc_result *res,
		    struct dentry **cont, const char **rest)
{
	struct dentry *d = start, *c;
	struct dc_inode *inode, *kref = NULL, *extra = NULL;
	const char *p = path, *comp;
	uint32_t seq, cseq, hash;
	uint64_t now = 0, until;
	size_t len;
	int r, err;

	DC_ASSERT_RCU();
	*cont = NULL;
	seq = seq_begin(&d->d_seq);
	/* started from an inode's dentry: it must still name that inode */
	if (start_inode && rcu_load(d->d_inode) != start_inode)
		goto restart;
	for (;;) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		/* the component's end and hash in one pass */
		comp = p;
		hash = dc_comp_hash(comp, &len);
		p = comp + len;
		if (len > DC_NAME_MAX) {
			rcu_read_unlock();
			return -ENAMETOOLONG;
		}
		if (dc_is_dot(comp, len))
			continue;
		if (dc_is_dotdot(comp, len)) {
			c = rcu_load(d->d_parent);
			cseq = seq_begin(&c->d_seq);
			if (seq_retry(&d->d_seq, seq))
				goto restart;
			d = c;
			seq = cseq;
			continue;
		}
		/* D_DIR: the directory's inode is not loaded on the way */
		if (!(load_relaxed(d->d_flags) & D_DIR)) {
			inode = rcu_load(d->d_inode);
			if (seq_retry(&d->d_seq, seq))
				goto restart;
			err = inode ? -ENOTDIR : -ENOENT;
			rcu_read_unlock();
			return err;
		}
		c = d_lookup_rcu(dc, d, comp, (uint32_t)len, hash, &cseq);
		if (!c || (load_relaxed(c->d_flags) & D_IN_LOOKUP) ||
		    !dc_valid_at(load_relaxed(c->d_valid_until), &now)) {
			*rest = comp;
			goto legitimize;
		}
		/* the ladder: child sampled, now the parent must still hold */
		if (seq_retry(&d->d_seq, seq))
			goto restart;
		d = c;
		seq = cseq;
		/* d_inode is in the dentry's line 1: not read for a
		 * directory on the way */
		if (!(load_relaxed(d->d_flags) & D_DIR) && more_comps(p) &&
		    !rcu_load(d->d_inode)) {
			if (seq_retry(&d->d_seq, seq))
				goto restart;
			rcu_read_unlock();
			dc_count(C_NEG_HIT);
			return -ENOENT;
		}
	}

	/* the final dentry: copy out what the reply needs */
	*rest = p;
	inode = rcu_load(d->d_inode);
	res->valid_until = load_relaxed(d->d_valid_until);
	if (!inode) {
		if (flags & DC_WANT_DENTRY)
			goto legitimize;
		if (seq_retry(&d->d_seq, seq))
			goto restart;
		rcu_read_unlock();
		dc_count(C_NEG_HIT);
		dc_count(C_HIT + op);
		return -ENOENT;
	}
	if ((flags & DC_WANT_ATTR) &&
	    !i_copy_attr(inode, &res->attr, &now, &until))
		goto legitimize;
	if ((flags & DC_WANT_ATTR) && until < res->valid_until)
		res->valid_until = until;
	if ((flags & DC_WANT_LINK) && inode->i_type == S_IFLNK &&
	    !i_copy_link(inode, res->link, res->link_size, &res->link_len,
			 &now))
		goto legitimize;
	res->nodeid = inode->i_nodeid;
	res->generation = dc->generation;
	if (flags & DC_WANT_KREF) {
		/* get-unless-dead: never resurrect a dying inode */
		if (lockref_tryget_not_dead(&inode->i_ref) <= 0)
			goto legitimize;
		kref = inode;
		/*
		 * We hold no reference on @d, so the shrinker may be deciding
		 * to evict it.  Handshake (lru.c, judge): count the kernel
		 * reference first, then look for D_EVICTING; the shrinker
		 * sets D_EVICTING first, then looks at i_nlookup.  Both
		 * sequentially consistent: at least one sees the other.
		 * When the kernel had a reference already, ours is put after
		 * the read section.
		 */
		if (!i_kref_get(inode))
			extra = inode;
		if (__atomic_load_n(&d->d_flags, __ATOMIC_SEQ_CST) & D_EVICTING)
			goto undo;
	}
	if (flags & DC_WANT_DENTRY) {
		if (lockref_tryget_not_dead(&d->d_ref) <= 0)
			goto undo;
		res->dentry = d;
	}
	if (seq_retry(&d->d_seq, seq))
		goto undo;
	rcu_read_unlock();
	dc_inode_put(extra); /* after RCU: a FORGET may have come since */
	dc_count(C_HIT + op);
	return 0;

undo:
	rcu_read_unlock();
	/* the puts come after leaving RCU: a final put may free */
	if (kref) {
		/* @extra (if any) keeps the inode while the kernel's goes */
		i_kref_put(kref, 1);
		dc_inode_put(extra);
	}
	dentry_put(res->dentry);
	result_init(res);
	goto refwalk;

legitimize:
	if (flags & DC_CACHED) {
		/* the cached-only walk never leaves RCU: no blocking */
		rcu_read_unlock();
		return -EAGAIN;
	}
	r = lockref_tryget_not_dead(&d->d_ref);
	if (r > 0 && !seq_retry(&d->d_seq, seq)) {
		rcu_read_unlock();
		dc_count(C_LEGIT_OK);
		*cont = d;
		return -ECHILD;
	}
	rcu_read_unlock();
	dc_count(C_LEGIT_FAIL);
	if (r > 0)
		dentry_put(d);
	goto refwalk;

restart:
	rcu_read_unlock();
refwalk:
	if (flags & DC_CACHED)
		return -EAGAIN;
	result_init(res);
	dc_count(C_RESTART);
	return -ECHILD;
}

/* @d is referenced; the walk continues from it with @path. */
static int walk_ref(struct dcache *dc, struct dentry *d, const char *path,
		    unsigned flags, enum dc_op op, struct dc_result *res)
{
	const char *p = path, *comp;
	struct dentry *c;
	size_t len;
	int err;

	dc_count(C_SLOW + op);
	while ((comp = next_comp(&p, &len))) {
		if (len > DC_NAME_MAX) {
			err = -ENAMETOOLONG;
			goto out_put;
		}
		if (dc_is_dot(comp, len))
			continue;
		if (dc_is_dotdot(comp, len)) {
			c = dentry_parent(d);
			dentry_put(d);
			d = c;
			continue;
		}
		if (!d_is_dir(d)) {
			err = dentry_is_negative(d) ? -ENOENT : -ENOTDIR;
			goto out_put;
		}
		err = dc_lookup_slow(dc, d, comp, (uint32_t)len,
				     dc_name_hash(comp, len), flags, &c);
		if (err)
			goto out_put;
		dentry_put(d);
		d = c;
		if (dentry_is_negative(d) && more_comps(p)) {
			err = -ENOENT;
			goto out_put;
		}
	}
	return dc_finish(dc, d, flags, res);

out_put:
	dentry_put(d);
	return err;
}

static int walk_at(struct dcache *dc, struct dentry *start, const char *path,
		   unsigned flags, enum dc_op op, struct dc_result *res)
{
	struct dentry *cont;
	const char *rest;
	int err;

	result_init(res);
	if (!(flags & DC_FORCE_REF)) {
		rcu_read_lock();
		err = walk_rcu(dc, start, NULL, path, flags, op, res, &cont,
			       &rest);
		if (err != -ECHILD)
			return err;
		if (cont)
			return walk_ref(dc, cont, rest, flags, op, res);
	}
	return walk_ref(dc, dentry_get(start), path, flags, op, res);
}

int dcache_walk_at(struct dcache *dc, struct dentry *start, const char *path,
		   unsigned flags, struct dc_result *res)
{
	DC_ASSERT_NOT_RCU();
	return walk_at(dc, start, path, flags, DC_OP_WALK, res);
}

int dcache_walk(struct dcache *dc, const char *path, unsigned flags,
		struct dc_result *res)
{
	return dcache_walk_at(dc, dc->root, path, flags, res);
}

int dcache_lookup(struct dcache *dc, uint64_t parent, const char *name,
		  unsigned flags, struct dc_result *res)
{
	struct dentry *pd, *cont;
	struct dc_inode *dir;
	const char *rest;
	size_t len;
	int err;

	DC_ASSERT_NOT_RCU();
	result_init(res);
	err = dc_check_name(name, &len);
	if (err)
		return err;
	if (!(flags & DC_FORCE_REF)) {
		rcu_read_lock();
		dir = i_find_id_rcu(dc, parent);
		if (!dir) {
			rcu_read_unlock();
			return -ESTALE;
		}
		if (dir->i_type != S_IFDIR) {
			rcu_read_unlock();
			return -ENOTDIR;
		}
		pd = rcu_load(dir->i_dentry);
		if (pd) {
			/* the name has no '/': a one-component walk */
			err = walk_rcu(dc, pd, dir, name, flags, DC_OP_LOOKUP,
				       res, &cont, &rest);
			if (err != -ECHILD)
				return err;
			if (cont)
				return walk_ref(dc, cont, rest, flags,
						DC_OP_LOOKUP, res);
		} else {
			rcu_read_unlock();
			if (flags & DC_CACHED)
				return -EAGAIN;
		}
	}
	pd = dc_dir_dentry(dc, parent, &err);
	if (!pd)
		return err;
	return walk_ref(dc, pd, name, flags, DC_OP_LOOKUP, res);
}

void dcache_prefetch(struct dcache *dc, uint64_t parent, const char *name,
		     uint64_t ino, bool deep)
{
	struct dc_inode *dir;
	struct dentry *pd;
	size_t len;

	rcu_read_lock();
	dir = i_find_id_rcu(dc, parent);
	pd = dir ? rcu_load(dir->i_dentry) : NULL;
	if (pd) {
		dh_prefetch(&dc->dentries,
			    dc_salt(pd, dc_comp_hash(name, &len)), deep);
		if (ino)
			i_prefetch(dc, dir->i_dev, ino, deep);
	}
	rcu_read_unlock();
}
