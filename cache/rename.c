/* SPDX-License-Identifier: MIT */
/*
 * cache/rename.c - moving and exchanging cached dentries.
 *
 * Renames are serialized by dc->rename_lock, which also makes the tree's
 * shape stable for the ancestry checks and the parent lock order.  A moved
 * dentry changes parent and name inside its d_seq write section (and the
 * global rename_seq's, which dentry_path readers check).  A hash node
 * cannot be re-keyed or reused before a grace period (readers may be
 * traversing it), so the dentry gets a new external node for the new key,
 * inserted before the old node is deleted; the old node and the old name
 * (unless it was the dentry's inline one, which stays untouched) are freed
 * by call_rcu.  The new name is always a separate block, so a renamed
 * dentry keeps an external name.  A lookup racing the move may miss (and
 * fall back to the slow path); it can never validate a stale hit, because
 * the old node is deleted and d_seq bumped before the write section ends.
 */
#include "dcache_i.h"

/* What one move leaves to free after a grace period. */
struct move_garbage {
	struct rcu_head rcu;
	struct dcache *dc;
	struct dc_name *name;	   /* NULL if it was the inline one */
	struct dc_hnode_ext *node; /* NULL if it was the embedded one */
};

/* call_rcu callback: liburcu's call_rcu thread runs it after a grace
 * period, outside any read section, holding no dcache lock; it frees. */
static void garbage_free_rcu(struct rcu_head *head)
{
	struct move_garbage *g =
		caa_container_of(head, struct move_garbage, rcu);
	struct dcache *dc;

	tsan_gp_done();
	dc = g->dc;
	if (g->name) {
		dc_gauge_add(&dc->bytes, -(int64_t)dc_name_size(g->name));
		free(g->name);
	}
	if (g->node) {
		dc_gauge_add(&dc->bytes, -(int64_t)sizeof(*g->node));
		free(g->node);
	}
	free(g);
	dc_rcu_done(dc);
	tsan_cb_end();
}

/* Everything one side of a rename needs, allocated before locking. */
struct side {
	struct dentry *parent; /* referenced */
	struct dentry *d;      /* referenced, or NULL */
	const char *name;
	size_t len;
	uint32_t hash;
	struct dc_name *newname;
	struct dc_hnode_ext *newnode;
	struct move_garbage *garbage;
};

static int side_prepare(struct dcache *dc, struct side *s,
			const struct side *to)
{
	s->newname = dc_name_new(to->name, to->len);
	/* 64-byte aligned: its node is not (dc_node_dentry) */
	s->newnode = aligned_alloc(DC_CACHELINE, sizeof(*s->newnode));
	s->garbage = malloc(sizeof(*s->garbage));
	if (!s->newname || !s->newnode || !s->garbage)
		return -ENOMEM;
	s->newnode->node.next = DH_UNHASHED;
	s->newnode->dentry = s->d;
	s->newnode->dc = dc;
	dc_gauge_add(&dc->bytes, (int64_t)(sizeof(*s->newname) + to->len + 1 +
					   sizeof(*s->newnode)));
	return 0;
}

static void side_release(struct dcache *dc, struct side *s)
{
	if (s->newname) {
		dc_gauge_add(&dc->bytes, -(int64_t)(sizeof(*s->newname) +
						    s->newname->len + 1));
		free(s->newname);
	}
	if (s->newnode) {
		dc_gauge_add(&dc->bytes, -(int64_t)sizeof(*s->newnode));
		free(s->newnode);
	}
	free(s->garbage);
	s->newname = NULL;
	s->newnode = NULL;
	s->garbage = NULL;
}

/* rename_lock held: true if @a is @d or one of its ancestors. */
static bool is_ancestor(struct dentry *a, struct dentry *d)
{
	for (;;) {
		if (d == a)
			return true;
		if (load_relaxed(d->d_flags) & D_ROOT)
			return false;
		d = rcu_load(d->d_parent);
	}
}

/* Lock two distinct dentries: ancestor first, else by address. */
static void lock_two(struct dentry *a, struct dentry *b)
{
	if (a == b) {
		lockref_lock(&a->d_ref);
		return;
	}
	if (is_ancestor(b, a) || (!is_ancestor(a, b) && b < a)) {
		struct dentry *t = a;

		a = b;
		b = t;
	}
	lockref_lock(&a->d_ref);
	lockref_lock(&b->d_ref);
}

static void unlock_two(struct dentry *a, struct dentry *b)
{
	lockref_unlock(&a->d_ref);
	if (a != b)
		lockref_unlock(&b->d_ref);
}

/*
 * rename_lock held: lock both parents, then both dentries (@t->d may be
 * NULL; @s->d is not), each pair ancestor first, else by address.
 */
static void lock_sides(struct side *s, struct side *t)
{
	lock_two(s->parent, t->parent);
	if (t->d)
		lock_two(s->d, t->d);
	else
		lockref_lock(&s->d->d_ref);
}

/* Undo lock_sides, then let go of rename_lock. */
static void unlock_sides(struct dcache *dc, struct side *s, struct side *t)
{
	if (t->d)
		unlock_two(s->d, t->d);
	else
		lockref_unlock(&s->d->d_ref);
	unlock_two(s->parent, t->parent);
	pthread_mutex_unlock(&dc->rename_lock);
}

/*
 * Move @s->d to (@to->parent, @to->name).  Caller holds both parents'
 * d_locks and @s->d's, inside @s->d's d_seq write section, and @to's
 * key is free in the table.
 */
static void move_locked(struct dcache *dc, struct side *s,
			const struct side *to)
{
	struct dentry *d = s->d;
	struct dh_node *old = d->d_hnode;

	DC_ASSERT_MUTEX(&dc->rename_lock);
	DC_ASSERT_LOCKED(&s->parent->d_ref);
	DC_ASSERT_LOCKED(&to->parent->d_ref);
	DC_ASSERT_LOCKED(&d->d_ref);
	s->garbage->dc = dc;
	/* the inline name is never rewritten (readers may be comparing
	 * it) nor freed apart: the new name is always external */
	s->garbage->name = d_name_is_ext(d, d->d_name) ? d->d_name : NULL;
	s->garbage->node =
		old == &d->d_hash
			? NULL
			: caa_container_of(old, struct dc_hnode_ext, node);
	rcu_store(d->d_parent, to->parent);
	rcu_store(d->d_name, s->newname);
	/*
	 * New key first, then the old node goes: a reader misses at worst.
	 * A plain add: the new parent's d_lock keeps other inserts out and
	 * the key is free (an exchange briefly has both nodes of one key;
	 * both lead to a dentry inside an open d_seq write section).
	 */
	dh_add(&dc->dentries, &s->newnode->node, dc_salt(to->parent, to->hash));
	dh_del(&dc->dentries, old);
	d->d_hnode = &s->newnode->node;
	cds_list_move(&d->d_child, &to->parent->d_subdirs);
	s->newname = NULL;
	s->newnode = NULL;
}

static struct dentry *find(struct dcache *dc, struct side *s)
{
	return d_lookup_ref(dc, s->parent, s->name, (uint32_t)s->len, s->hash);
}

/* Invalidate what is cached under @s's (parent, name). */
static void drop_name(struct dcache *dc, struct side *s)
{
	struct dentry *d = find(dc, s);

	if (d) {
		d_invalidate(d, DC_SRC_LOCAL);
		dentry_put(d);
	}
}

/* Drop both sides' names where their parent is known, and put the
 * parents (the pointers stay, for the caller's checks only). */
static void drop_names_put(struct dcache *dc, struct side *a, struct side *b)
{
	if (a->parent)
		drop_name(dc, a);
	if (b->parent)
		drop_name(dc, b);
	dentry_put(a->parent);
	dentry_put(b->parent);
}

/* Invalidate both names under the directories' current dentries. */
static void drop_current(struct dcache *dc, uint64_t op, struct side *src,
			 uint64_t np, struct side *dst)
{
	struct side s = *src, t = *dst;
	int err;

	s.parent = dc_dir_dentry(dc, op, &err);
	t.parent = dc_dir_dentry(dc, np, &err);
	drop_names_put(dc, &s, &t);
}

/* The cached state disagrees or is partial: forget both names. */
static void drop_both(struct side *a, struct side *b)
{
	if (a->d)
		d_invalidate(a->d, DC_SRC_LOCAL);
	if (b->d)
		d_invalidate(b->d, DC_SRC_LOCAL);
}

/*
 * Both parents are locked, so their hashed children cannot change: is the
 * dentry hashed under @s's key still the one we found before locking (or
 * still none)?  A lookup may have inserted a placeholder since.
 */
static bool keys_stable(struct dcache *dc, struct side *s)
{
	struct dentry *now;
	uint32_t seq;

	rcu_read_lock();
	now = d_lookup_rcu(dc, s->parent, s->name, (uint32_t)s->len, s->hash,
			   &seq);
	rcu_read_unlock();
	return now == s->d;
}

/* Found, hashed, still under the parent we resolved, which is hashed too
 * (a dentry must not be moved under an unhashed parent: dentry.c). */
static bool usable(struct side *s)
{
	return s->d &&
	       !(load_relaxed(s->d->d_flags) & (D_IN_LOOKUP | D_UNHASHED)) &&
	       rcu_load(s->d->d_parent) == s->parent && !d_unhashed(s->parent);
}

int dcache_rename(struct dcache *dc, uint64_t oldparent, const char *oldname,
		  uint64_t newparent, const char *newname, unsigned flags)
{
	struct side src = {0}, dst = {0};
	bool exchange = flags & DC_RENAME_EXCHANGE;
	struct dc_inode *si, *ti;
	bool sdir, tdir, spos, tpos;
	int err, err2 = 0;

	dc_bump_epoch(dc);
	DC_ASSERT_NOT_RCU();
	if (flags & ~(unsigned)(DC_RENAME_NOREPLACE | DC_RENAME_EXCHANGE) ||
	    (exchange && (flags & DC_RENAME_NOREPLACE)))
		return -EINVAL;
	err = dc_check_name(oldname, &src.len);
	if (!err)
		err = dc_check_name(newname, &dst.len);
	if (err)
		return err;
	src.name = oldname;
	dst.name = newname;
	src.hash = dc_name_hash(oldname, src.len);
	dst.hash = dc_name_hash(newname, dst.len);
	src.parent = dc_dir_dentry(dc, oldparent, &err);
	dst.parent = dc_dir_dentry(dc, newparent, &err2);
	if (!src.parent || !dst.parent) {
		/* a parent is no longer reachable (invalidated): the backend
		 * changed both names, so drop whatever the cache still has */
		drop_names_put(dc, &src, &dst);
		if ((!src.parent && err != -ESTALE) ||
		    (!dst.parent && err2 != -ESTALE))
			return src.parent ? err2 : err;
		return 0;
	}

	pthread_mutex_lock(&dc->rename_lock);
	src.d = find(dc, &src);
	dst.d = find(dc, &dst);
	if (src.d == dst.d && src.d) {
		/* same dentry: rename(2) of a name onto itself does nothing */
		goto out_unlock;
	}
	/* inodes can be unlinked and freed meanwhile: look in RCU */
	rcu_read_lock();
	si = src.d ? rcu_load(src.d->d_inode) : NULL;
	ti = dst.d ? rcu_load(dst.d->d_inode) : NULL;
	spos = si != NULL;
	tpos = ti != NULL;
	sdir = si && si->i_type == S_IFDIR;
	tdir = ti && ti->i_type == S_IFDIR;
	rcu_read_unlock();
	/* refuse what the backend must have refused: into own subtree */
	if ((sdir && is_ancestor(src.d, dst.parent)) ||
	    (tdir && is_ancestor(dst.d, src.parent))) {
		err = -EINVAL;
		goto out_unlock;
	}
	if (!usable(&src) || !spos || (exchange && (!usable(&dst) || !tpos)) ||
	    (dst.d && !usable(&dst)) ||
	    ((flags & DC_RENAME_NOREPLACE) && tpos)) {
		/* not (fully) cached: the next lookups ask the backend */
		pthread_mutex_unlock(&dc->rename_lock);
		drop_both(&src, &dst);
		goto out_put;
	}
	err = side_prepare(dc, &src, &dst);
	if (!err && exchange)
		err = side_prepare(dc, &dst, &src);
	if (err)
		goto out_unlock;

	lock_sides(&src, &dst);
	if (!usable(&src) || (dst.d && !usable(&dst)) ||
	    !keys_stable(dc, &src) || !keys_stable(dc, &dst) ||
	    d_unhashed(dst.parent)) {
		/* invalidated, or a name (re)appeared, while we were not
		 * holding the locks: give up on moving, drop both names */
		unlock_sides(dc, &src, &dst);
		drop_both(&src, &dst);
		drop_name(dc, &src);
		drop_name(dc, &dst);
		goto out_put;
	}
	seq_write_begin(&dc->rename_seq);
	seq_write_begin(&src.d->d_seq);
	if (exchange) {
		seq_write_begin(&dst.d->d_seq);
		/* both keys are taken until both moved: park dst first */
		move_locked(dc, &dst, &src);
		move_locked(dc, &src, &dst);
		seq_write_end(&dst.d->d_seq);
	} else {
		if (dst.d)
			/* the replaced target: unhash (killed when unused) */
			(void)d_unhash_both_locked(dst.d);
		move_locked(dc, &src, &dst);
		if (src.parent != dst.parent) {
			/* the child's reference on its parent moves too */
			lockref_add_locked(&dst.parent->d_ref, 1);
		}
	}
	seq_write_end(&src.d->d_seq);
	seq_write_end(&dc->rename_seq);
	unlock_sides(dc, &src, &dst);

	/* readers may still hold the old names and nodes */
	dc_call_rcu(dc, &src.garbage->rcu, garbage_free_rcu);
	src.garbage = NULL;
	if (exchange) {
		dc_call_rcu(dc, &dst.garbage->rcu, garbage_free_rcu);
		dst.garbage = NULL;
	} else {
		if (src.parent != dst.parent)
			dentry_put(src.parent); /* the moved child's old ref */
		if (dst.d)
			/* a replaced directory's cached children go too */
			d_prune_children(dst.d, DC_SRC_LOCAL);
	}
	/* ctime of the moved objects and mtime of the parents changed; a
	 * replaced target lost a link (the kernel may still hold it) */
	d_inval_attr(src.d);
	if (dst.d)
		d_inval_attr(dst.d);
	goto out_put;

out_unlock:
	pthread_mutex_unlock(&dc->rename_lock);
out_put:
	/* a parent unhashed meanwhile: a new dentry of that directory may
	 * cache the names as they were; drop them there (mutate.c) */
	if (!err && (d_unhashed(src.parent) || d_unhashed(dst.parent)))
		drop_current(dc, oldparent, &src, newparent, &dst);
	side_release(dc, &src);
	side_release(dc, &dst);
	if (!err) {
		d_inval_attr(src.parent);
		d_inval_attr(dst.parent);
	}
	dentry_put(src.d);
	dentry_put(dst.d);
	dentry_put(src.parent);
	dentry_put(dst.parent);
	return err;
}
