/* SPDX-License-Identifier: MIT */
/*
 * cache/walk.c - path walk: RCU mode, legitimize, ref mode, in-lookup
 * placeholders, revalidation; and the node-id entry points built on it
 * (lookup, getattr, readlink, forget, readdir).
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

static bool is_dot(const char *s, size_t len)
{
	return len == 1 && s[0] == '.';
}

static bool is_dotdot(const char *s, size_t len)
{
	return len == 2 && s[0] == '.' && s[1] == '.';
}

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

int dc_check_name(const char *name, size_t *len)
{
	size_t n = strnlen(name, DC_NAME_MAX + 1);

	if (n > DC_NAME_MAX)
		return -ENAMETOOLONG;
	if (!n || is_dot(name, n) || is_dotdot(name, n) || memchr(name, '/', n))
		return -EINVAL;
	*len = n;
	return 0;
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
	uint32_t seq, cseq;
	uint64_t now = 0, until;
	size_t len;
	int r, err;

	DC_ASSERT_RCU();
	*cont = NULL;
	seq = seq_begin(&d->d_seq);
	/* started from an inode's dentry: it must still name that inode */
	if (start_inode && rcu_load(d->d_inode) != start_inode)
		goto restart;
	while ((comp = next_comp(&p, &len))) {
		if (len > DC_NAME_MAX) {
			rcu_read_unlock();
			return -ENAMETOOLONG;
		}
		if (is_dot(comp, len))
			continue;
		if (is_dotdot(comp, len)) {
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
		c = d_lookup_rcu(dc, d, comp, (uint32_t)len,
				 dc_name_hash(comp, len), &cseq);
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

/* ---- ref mode ---- */

static void set_valid(struct dentry *d, uint64_t ttl)
{
	__atomic_store_n(&d->d_valid_until, dc_expiry(ttl), __ATOMIC_RELEASE);
}

static int be_lookup(struct dcache *dc, struct dentry *dir, const char *name,
		     size_t len, struct dc_attr *attr)
{
	int err;

	dc_count(C_BACKEND + DC_BE_LOOKUP);
	err = dc->ops.lookup(dc->backend, dir, name, len, attr);
	if (err && err != -ENOENT)
		dc_count(C_BACKEND_ERR);
	return err;
}

static bool same_object(struct dc_inode *inode, const struct dc_attr *attr)
{
	return inode->i_dev == attr->dev && inode->i_ino == attr->ino &&
	       inode->i_type == (attr->mode & S_IFMT);
}

/*
 * @d (referenced, a child of @parent) has expired: ask the backend again.
 * 0: @d is valid again.  1: @d was stale and is now unhashed (look up
 * afresh).  < 0: backend error (nothing changed).
 */
static int revalidate(struct dcache *dc, struct dentry *parent,
		      struct dentry *d, const char *name, size_t len)
{
	struct dc_inode *inode, *fresh;
	uint64_t since = i_epoch(dc);
	struct dc_attr attr;
	int err;

	err = be_lookup(dc, parent, name, len, &attr);
	if (err && err != -ENOENT)
		return err;
	inode = dentry_inode(d);
	if (err == -ENOENT) {
		if (!inode) {
			set_valid(d, load_relaxed(dc->neg_ttl));
			return 0;
		}
		goto stale;
	}
	if (inode && same_object(inode, &attr)) {
		i_set_attr(inode, &attr, since);
		set_valid(d, load_relaxed(dc->entry_ttl));
		dc_inode_put(inode);
		return 0;
	}
	if (!inode) {
		/* negative -> positive in place */
		err = i_get_or_create(dc, &attr, NULL, since, &fresh);
		if (err)
			return err;
		if (d_set_inode_if_negative(d, fresh)) {
			set_valid(d, load_relaxed(dc->entry_ttl));
			return 0;
		}
		dc_inode_put(fresh);
		return 1; /* raced with another instantiation: look again */
	}
stale:
	dc_inode_put(inode);
	d_invalidate(d, DC_SRC_EXPIRED);
	return 1;
}

/*
 * One component in ref mode.  @parent is a referenced positive directory.
 * On success *out is the referenced child, positive or negative.
 */
int dc_lookup_slow(struct dcache *dc, struct dentry *parent, const char *name,
		   uint32_t len, uint32_t hash, unsigned flags,
		   struct dentry **out)
{
	struct dentry *d, *n, *other;
	struct dc_inode *inode;
	struct dc_attr attr;
	uint64_t since;
	int err, tries;
	bool hashed;

	DC_ASSERT_NOT_RCU();
	for (tries = 0; tries < 4; tries++) {
		d = d_lookup_ref(dc, parent, name, len, hash);
		if ((flags & DC_CACHED) &&
		    (!d || (load_relaxed(d->d_flags) & D_IN_LOOKUP) ||
		     !dc_valid(load_relaxed(d->d_valid_until)))) {
			/* cached-only ref walk: never the backend, never wait */
			dentry_put(d);
			return -EAGAIN;
		}
		if (d) {
			if (load_relaxed(d->d_flags) & D_IN_LOOKUP) {
				/* someone is asking the backend: wait */
				d_wait_lookup(d);
				if (load_relaxed(d->d_flags) & D_UNHASHED) {
					err = d->d_error;
					dentry_put(d);
					if (err)
						return err;
					continue; /* invalidated meanwhile */
				}
				*out = d;
				return 0;
			}
			if (dc_valid(load_relaxed(d->d_valid_until))) {
				*out = d;
				return 0;
			}
			err = revalidate(dc, parent, d, name, len);
			if (!err) {
				*out = d;
				return 0;
			}
			dentry_put(d);
			if (err < 0)
				return err;
			continue;
		}

		/* a miss: publish an in-lookup placeholder, then ask */
		n = d_alloc(dc, parent, name, len);
		if (!n)
			return -ENOMEM;
		n->d_flags |= D_IN_LOOKUP;
		lockref_lock(&parent->d_ref);
		err = d_hash_add_locked(parent, n, &other);
		if (err == -EEXIST)
			lockref_get_pinned(&other->d_ref);
		lockref_unlock(&parent->d_ref);
		hashed = !err;
		if (err == -ESTALE) {
			/* the parent was invalidated: answer, cache nothing
			 * (n stays private and unhashed; its put kills it) */
			n->d_flags &= ~D_IN_LOOKUP;
			err = 0;
		}
		if (err) {
			/* lost the race (never visible): free it directly */
			dentry_put(parent); /* the reference d_alloc took */
			d_free_unused(n);
			if (err == -EEXIST)
				dentry_put(other);
			continue;
		}

		since = i_epoch(dc);
		err = be_lookup(dc, parent, name, len, &attr);
		if (!err) {
			err = i_get_or_create(dc, &attr, NULL, since, &inode);
			if (!err) {
				d_set_inode(n, inode);
				set_valid(n, load_relaxed(dc->entry_ttl));
			}
		} else if (err == -ENOENT) {
			set_valid(n, load_relaxed(dc->neg_ttl));
			err = 0;
		}
		if (err) {
			/* nothing is cached for a failure: unhash the
			 * placeholder and hand waiters the error */
			n->d_error = err;
			if (hashed) {
				lockref_lock(&parent->d_ref);
				d_unhash_locked(n);
				lockref_unlock(&parent->d_ref);
			}
			d_wake_waiters(n);
			dentry_put(n);
			return err;
		}
		d_wake_waiters(n);
		*out = n;
		return 0;
	}
	return -EAGAIN;
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
		if (is_dot(comp, len))
			continue;
		if (is_dotdot(comp, len)) {
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
	if (!same_object(inode, out)) {
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
	uint64_t now = 0, until = DC_TTL_FOREVER;
	ssize_t n;
	int err = 0;

	if (!inode) {
		res->valid_until = load_relaxed(d->d_valid_until);
		res->nodeid = 0;
		err = -ENOENT;
		goto out;
	}
	res->nodeid = inode->i_nodeid;
	res->generation = dc->generation;
	res->valid_until = load_relaxed(d->d_valid_until);
	if ((flags & DC_WANT_ATTR) &&
	    !i_copy_attr(inode, &res->attr, &now, &until)) {
		err = -EAGAIN;
		if (flags & DC_CACHED)
			goto out;
		err = refresh_attr(dc, d, inode, &res->attr);
		if (err)
			goto out;
		until = DC_TTL_FOREVER; /* just asked: as fresh as can be */
	}
	if ((flags & DC_WANT_ATTR) && until < res->valid_until)
		res->valid_until = until;
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

/* ---- node-id entry points ---- */

struct dentry *dc_parent_of_id(struct dcache *dc, uint64_t nodeid, int *err)
{
	struct dc_inode *inode = dcache_inode_get(dc, nodeid);
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
	pd = dc_parent_of_id(dc, parent, &err);
	if (!pd)
		return err;
	return walk_ref(dc, pd, name, flags, DC_OP_LOOKUP, res);
}

int dcache_getattr(struct dcache *dc, uint64_t nodeid, unsigned flags,
		   struct dc_attr *attr)
{
	return dcache_getattr_until(dc, nodeid, flags, attr, NULL);
}

int dcache_getattr_until(struct dcache *dc, uint64_t nodeid, unsigned flags,
			 struct dc_attr *attr, uint64_t *until)
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
		if (i_copy_attr(inode, attr, &now, until)) {
			rcu_read_unlock();
			dc_count(C_HIT + op);
			return 0;
		}
		rcu_read_unlock();
	} else {
		/* ref mode, for benchmarks and tests of the slow path */
		inode = dcache_inode_get(dc, nodeid);
		if (!inode)
			return -ESTALE;
		if (i_copy_attr(inode, attr, &now, until)) {
			dc_inode_put(inode);
			return 0;
		}
		dc_inode_put(inode);
	}
	if (flags & DC_CACHED)
		return -EAGAIN;
	if (until)
		*until = DC_TTL_FOREVER; /* asked now: as fresh as can be */
	dc_count(C_SLOW + op);
	inode = dcache_inode_get(dc, nodeid);
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
	inode = dcache_inode_get(dc, nodeid);
	if (!inode)
		return -ESTALE;
	d = dc_inode_alias(inode);
	n = d ? refresh_link(dc, d, inode, buf, size) : -ESTALE;
	dentry_put(d);
	dc_inode_put(inode);
	return n;
}

int dcache_test_add_nlookup(struct dcache *dc, uint64_t nodeid, uint64_t n)
{
	struct dc_inode *inode = dcache_inode_get(dc, nodeid);

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
	struct dc_inode *inode = dcache_inode_get(dc, nodeid);
	uint64_t take;

	if (!inode)
		return -ESTALE;
	take = i_kref_put(inode, nlookup);
	dc_inode_put(inode); /* our temporary reference */
	return take < nlookup ? -EINVAL : 0;
}

struct rd_ctx {
	struct dcache *dc;
	uint64_t since;
	struct dentry *dir;
	dc_filldir_t fill;
	void *ctx;
};

static int rd_fill(void *arg, const char *name, size_t len,
		   const struct dc_attr *attr)
{
	struct rd_ctx *rc = arg;

	/* readdirplus data primes the cache; a failure here is harmless */
	if (attr && len <= DC_NAME_MAX && !is_dot(name, len) &&
	    !is_dotdot(name, len))
		dc_instantiate_in(rc->dc, rc->dir, name, len, attr, NULL,
				  rc->since, 0, NULL);
	return rc->fill(rc->ctx, name, len, attr);
}

off_t dcache_readdir(struct dcache *dc, uint64_t nodeid, off_t pos,
		     dc_filldir_t fill, void *ctx)
{
	struct rd_ctx rc = {dc, i_epoch(dc), NULL, fill, ctx};
	int err;
	off_t r;

	DC_ASSERT_NOT_RCU();
	if (!dc->ops.readdir)
		return -ENOSYS;
	rc.dir = dc_parent_of_id(dc, nodeid, &err);
	if (!rc.dir)
		return err;
	dc_count(C_BACKEND + DC_BE_READDIR);
	r = dc->ops.readdir(dc->backend, rc.dir, pos, rd_fill, &rc);
	if (r < 0)
		dc_count(C_BACKEND_ERR);
	dentry_put(rc.dir);
	return r;
}
