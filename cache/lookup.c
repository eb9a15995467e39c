/* SPDX-License-Identifier: MIT */
/*
 * cache/lookup.c - one name in ref mode: the lookup that misses (an
 * in-lookup placeholder, then the backend), the wait for another
 * thread's lookup of the same name, and the revalidation of an expired
 * entry.  Called by the walks (walk.c) outside RCU, with references.
 */
#include "dcache_i.h"

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
			d_valid_negative(d, parent);
			return 0;
		}
		goto stale;
	}
	if (inode && i_same_object(inode, &attr)) {
		i_set_attr(inode, &attr, since);
		d_valid_entry(d, parent, &attr);
		dc_inode_put(inode);
		return 0;
	}
	if (!inode) {
		/* negative -> positive in place */
		err = i_get_or_create(dc, &attr, NULL, since, &fresh);
		if (err)
			return err;
		if (d_set_inode_if_negative(d, fresh)) {
			d_valid_entry(d, parent, &attr);
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
	struct dentry *d, *n;
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

		/* a miss: publish an in-lookup placeholder, then ask (an
		 * unhashed parent: answer through a private one) */
		err = d_alloc_inlookup(dc, parent, name, len, &n);
		if (err == -EEXIST)
			continue;
		if (err < 0)
			return err;
		hashed = !err;

		since = i_epoch(dc);
		err = be_lookup(dc, parent, name, len, &attr);
		if (!err) {
			err = i_get_or_create(dc, &attr, NULL, since, &inode);
			if (!err) {
				d_set_inode(n, inode);
				d_valid_entry(n, parent, &attr);
			}
		} else if (err == -ENOENT) {
			d_valid_negative(n, parent);
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
