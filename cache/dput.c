/* SPDX-License-Identifier: MIT */
/*
 * cache/dput.c - the end of a dentry: the final put, the kill, and
 * invalidation (unhashing a dentry and what is cached below it).
 *
 * Kill order (DESIGN.md §5): the killer marks the dentry dead under its
 * d_lock (that transition elects the one owner), drops d_lock, takes the
 * parent's d_lock and then the dentry's again, unhashes it (dh_del;
 * it may already be unhashed), bumps d_seq, clears d_inode inside a d_seq
 * write section and unlinks it from the parent; after unlocking it drops
 * the alias and the inode reference, frees with call_rcu, and hands the
 * parent back to the caller to put (iteratively, never recursively).
 */
#include "dcache_i.h"

/* call_rcu callback: liburcu's call_rcu thread runs it after a grace
 * period, outside any read section, holding no dcache lock; it frees. */
static void d_free_rcu(struct rcu_head *head)
{
	struct dentry *d = caa_container_of(head, struct dentry, d_rcu);
	struct dcache *dc;

	tsan_gp_done();
	dc = d->d_cache;
	d_free_unused(d);
	dc_rcu_done(dc);
	tsan_cb_end();
}

/*
 * @d is dead (its owner marked it under d_lock and let go of the lock).
 * Returns the parent, whose reference the caller must put, or NULL.
 */
static struct dentry *d_kill_owned(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	struct dentry *parent = d->d_parent;
	struct dc_inode *inode;

	DC_ASSERT_NOT_RCU();
	/* parent before child; a dead dentry's parent cannot change */
	lockref_lock(&parent->d_ref);
	lockref_lock(&d->d_ref);
	d_unhash_both_locked(d);
	__atomic_fetch_or(&d->d_flags, D_UNHASHED | D_KILLED, __ATOMIC_RELEASE);
	/* every kill bumps d_seq, hashed or not (kernel commit 4c0d7cd5c841) */
	seq_invalidate(&d->d_seq);
	inode = d->d_inode;
	if (inode) {
		seq_write_begin(&d->d_seq);
		rcu_store(d->d_inode, NULL);
		__atomic_fetch_and(&d->d_flags, ~D_DIR, __ATOMIC_RELAXED);
		seq_write_end(&d->d_seq);
	} else {
		dc_gauge_add(&dc->nr_negative, -1);
	}
	dc_table_count(dc, &dc->nr_dentries, &dc->dentry_buckets, -1);
	cds_list_del_init(&d->d_child);
	lockref_unlock(&d->d_ref);
	lockref_unlock(&parent->d_ref);

	lru_del(d);
	if (inode) {
		i_del_alias(inode, d);
		i_put_many(inode, 1);
	}
	/* lockless readers may still be looking at it: free after a GP */
	dc_call_rcu(dc, &d->d_rcu, d_free_rcu);
	return parent == d ? NULL : parent;
}

/* Kill @d, already marked dead by the caller, and put its ancestors. */
void d_kill(struct dentry *d)
{
	struct dentry *parent = d_kill_owned(d);

	dentry_put(parent);
}

void dentry_put(struct dentry *d)
{
	DC_ASSERT_NOT_RCU();
	while (d) {
		uint32_t flags;

		if (lockref_put_or_lock(&d->d_ref))
			return;
		/* d_lock held, count is 1: this is the last reference */
		flags = load_relaxed(d->d_flags);
		if (!(flags & D_UNHASHED) || (flags & D_ROOT)) {
			/* keep it cached: to the LRU (second chance if on it) */
			lockref_add_locked(&d->d_ref, -1);
			if (!(flags & D_ROOT))
				lru_add_locked(d);
			lockref_unlock(&d->d_ref);
			return;
		}
		/* unhashed and unused: nothing can find it again */
		lockref_mark_dead_locked(&d->d_ref);
		lockref_unlock(&d->d_ref);
		d = d_kill_owned(d);
	}
}

struct dentry *dentry_get(struct dentry *d)
{
	lockref_get(&d->d_ref);
	return d;
}

struct dvec {
	struct dentry **v;
	size_t n, cap;
};

static int dvec_push(struct dvec *s, struct dentry *d)
{
	struct dentry **v;

	if (s->n == s->cap) {
		v = realloc(s->v, (s->cap ? s->cap * 2 : 64) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = s->cap ? s->cap * 2 : 64;
	}
	s->v[s->n++] = d;
	return 0;
}

/*
 * Unhash @d itself from under its parent (following it where a rename
 * moved it meanwhile).  Returns 1 if this call unhashed it, else 0 (the
 * root, or unhashed already).  @d is referenced; not in RCU, no lock held.
 */
static uint64_t unhash_self(struct dentry *d)
{
	struct dentry *parent;
	uint64_t n = 0;
	bool moved;

	while (!(load_relaxed(d->d_flags) & D_ROOT)) {
		/* referenced: a rename may move @d and drop its old parent */
		parent = dentry_parent(d);
		lockref_lock(&parent->d_ref);
		/* recheck under the lock: a rename may have moved it; then
		 * unhash it where it went (the caller wants it gone) */
		moved = rcu_load(d->d_parent) != parent;
		if (!moved && d_unhash_locked(d))
			n++;
		lockref_unlock(&parent->d_ref);
		dentry_put(parent);
		if (!moved)
			break;
	}
	return n;
}

/*
 * Unhash everything cached below @d (referenced), depth first with an
 * explicit stack, each child under its parent's d_lock.  Returns how many
 * this call unhashed.  Not in RCU, no lock held.
 */
static uint64_t unhash_below(struct dentry *d)
{
	struct dentry *x, *c;
	struct cds_list_head *pos;
	struct dvec stack = {0};
	uint64_t n = 0;

	dentry_get(d);
	if (dvec_push(&stack, d)) {
		dentry_put(d);
		goto out;
	}
	while (stack.n) {
		x = stack.v[--stack.n];
		lockref_lock(&x->d_ref);
		cds_list_for_each (pos, &x->d_subdirs) {
			c = cds_list_entry(pos, struct dentry, d_child);
			lockref_lock(&c->d_ref);
			if (lockref_is_dead(&c->d_ref)) {
				/* killed by the shrinker, not yet unhashed
				 * (d_lookup_ref): readers still find it */
				d_unhash_both_locked(c);
			} else {
				if (d_unhash_both_locked(c))
					n++;
				/* on ENOMEM the child is unhashed but its own
				 * children are not visited: they are only
				 * reachable through it, so lookups miss them */
				if (!dvec_push(&stack, c))
					lockref_add_locked(&c->d_ref, 1);
			}
			lockref_unlock(&c->d_ref);
		}
		lockref_unlock(&x->d_ref);
		/* unhashed: the last put kills it */
		dentry_put(x);
	}
out:
	free(stack.v);
	return n;
}

/*
 * Unhash @d (referenced by the caller) and everything cached below it.
 * Unused entries are killed as their last references go.  Not in RCU.
 */
void d_invalidate(struct dentry *d, enum dc_inval_src src)
{
	uint64_t n;

	DC_ASSERT_NOT_RCU();
	n = unhash_self(d);
	n += unhash_below(d);
	dc_count_n(C_INVAL + src, n);
}

/* Unhash everything cached below @d, which stays as it is (a directory
 * removed or replaced, or the root: dcache_inval_all).  Not in RCU. */
void d_prune_children(struct dentry *d, enum dc_inval_src src)
{
	DC_ASSERT_NOT_RCU();
	dc_count_n(C_INVAL + src, unhash_below(d));
}
