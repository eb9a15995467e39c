/* SPDX-License-Identifier: MIT */
/*
 * cache/dentry.c - dentries: names, the (parent, name) hash, the RCU lookup,
 * positive/negative transitions, puts, killing and invalidation.
 *
 * Kill order (DESIGN.md §5): the killer marks the dentry dead under its
 * d_lock (that transition elects the one owner), drops d_lock, takes the
 * parent's d_lock and then the dentry's again, unhashes it (cds_lfht_del;
 * it may already be unhashed), bumps d_seq, clears d_inode inside a d_seq
 * write section and unlinks it from the parent; after unlocking it drops
 * the alias and the inode reference, frees with call_rcu, and hands the
 * parent back to the caller to put (iteratively, never recursively).
 */
#include "dcache_i.h"

#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- names and hashing ---- */

struct dc_name *dc_name_new(const char *name, size_t len)
{
	struct dc_name *n = malloc(sizeof(*n) + len + 1);

	if (!n)
		return NULL;
	n->len = (uint32_t)len;
	memcpy(n->s, name, len);
	n->s[len] = '\0';
	return n;
}

/* Equal bytes?  Inline: most names are short, a call to memcmp costs
 * more than the comparison. */
static inline bool name_eq(const char *a, const char *b, uint32_t len)
{
	uint64_t x, y;

	for (; len >= 8; len -= 8, a += 8, b += 8) {
		memcpy(&x, a, 8);
		memcpy(&y, b, 8);
		if (x != y)
			return false;
	}
	for (; len; len--)
		if (*a++ != *b++)
			return false;
	return true;
}

struct dkey {
	const struct dentry *parent;
	const char *name;
	uint32_t len;
};

/* lfht match, called once cds_lfht found the salted hash: parent, then
 * length, then bytes (as the kernel's __d_lookup_rcu); for an inline name
 * of up to DC_INAME_LINE0 bytes all it reads is in the dentry's line 0,
 * which cds_lfht read already (the node).  Runs inside RCU, concurrently
 * with renames: a stale answer here is caught by the caller's
 * is_node_deleted + d_seq checks. */
static int d_match(struct cds_lfht_node *node, const void *key)
{
	const struct dkey *k = key;
	struct dentry *d;
	struct dc_name *n;

	/* TSan builds: the node was published before it was added */
	tsan_found(node);
	d = dc_node_dentry(node);
	if (rcu_load(d->d_parent) != k->parent)
		return 0;
	/* cds_lfht matched the salted hash of (parent, name hash) */
	n = rcu_load(d->d_name);
	if (n->len != k->len)
		return 0;
	return name_eq(n->s, k->name, k->len);
}

/* ---- allocation ---- */

struct dentry *d_alloc(struct dcache *dc, struct dentry *parent,
		       const char *name, size_t len)
{
	struct dentry *d;
	struct dc_name *n = NULL;

	d = dc_slab_alloc(&dc->dentry_slab);
	if (!d)
		return NULL;
	if (len > DC_INAME_MAX) {
		n = dc_name_new(name, len);
		if (!n) {
			dc_slab_free(&dc->dentry_slab, d);
			return NULL;
		}
	}
	memset(d, 0, sizeof(*d));
	if (!n) {
		/* short: inline, written once before anyone can see it */
		n = &d->d_iname.n;
		n->len = (uint32_t)len;
		memcpy(n->s, name, len);
		n->s[len] = '\0';
	}
	/* dc_node_dentry: the embedded node is 64-byte aligned */
	DC_ASSERT(!((uintptr_t)d & (DC_CACHELINE - 1)));
	cds_lfht_node_init(&d->d_hash);
	d->d_hnode = &d->d_hash;
	d->d_name = n;
	d->d_parent = parent ? parent : d;
	d->d_flags = D_UNHASHED;
	d->d_cache = dc;
	lockref_init(&d->d_ref, 1);
	CDS_INIT_LIST_HEAD(&d->d_lru);
	CDS_INIT_LIST_HEAD(&d->d_child);
	CDS_INIT_LIST_HEAD(&d->d_subdirs);
	CDS_INIT_LIST_HEAD(&d->d_alias);
	/* a child holds a reference on its parent; the caller has one */
	if (parent)
		lockref_get(&parent->d_ref);
	dc_table_count(dc, &dc->nr_dentries, &dc->dentry_buckets, 1);
	dc_gauge_add(&dc->nr_negative, 1);
	dc_gauge_add(&dc->bytes,
		     (int64_t)(sizeof(*d) +
			       (d_name_is_ext(d, n) ? dc_name_size(n) : 0)));
	return d;
}

static void d_free_mem(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	struct dc_name *n = d->d_name;

	dc_gauge_add(&dc->bytes, -(int64_t)sizeof(*d));
	/* a killed dentry left the counts at kill time */
	if (!(d->d_flags & D_KILLED)) {
		dc_table_count(dc, &dc->nr_dentries, &dc->dentry_buckets, -1);
		if (!d->d_inode)
			dc_gauge_add(&dc->nr_negative, -1);
	}
	if (d->d_hnode != &d->d_hash) {
		dc_gauge_add(&dc->bytes, -(int64_t)sizeof(struct dc_hnode_ext));
		free(caa_container_of(d->d_hnode, struct dc_hnode_ext, node));
	}
	if (d_name_is_ext(d, n)) {
		dc_gauge_add(&dc->bytes, -(int64_t)dc_name_size(n));
		free(n);
	}
	dc_slab_free(&dc->dentry_slab, d);
}

/* Free a dentry that was never visible to anyone else (or at teardown). */
void d_free_unused(struct dentry *d)
{
	d_free_mem(d);
}

/* call_rcu callback: liburcu's call_rcu thread runs it after a grace
 * period, outside any read section, holding no dcache lock; it frees. */
static void d_free_rcu(struct rcu_head *head)
{
	struct dentry *d = caa_container_of(head, struct dentry, d_rcu);
	struct dcache *dc;

	tsan_gp_done();
	dc = d->d_cache;
	d_free_mem(d);
	dc_rcu_done(dc);
	tsan_cb_end();
}

/* ---- lookup ---- */

struct dentry *d_lookup_rcu(struct dcache *dc, struct dentry *parent,
			    const char *name, uint32_t len, uint32_t hash,
			    uint32_t *seq)
{
	struct dkey key = {parent, name, len};
	struct cds_lfht_iter it;
	struct cds_lfht_node *node;
	struct dentry *d;

	DC_ASSERT_RCU();
	cds_lfht_lookup(dc->dentries, dc_salt(parent, hash), d_match, &key,
			&it);
	node = cds_lfht_iter_get_node(&it);
	if (!node)
		return NULL;
	d = dc_node_dentry(node);
	*seq = seq_begin(&d->d_seq);
	/*
	 * Every change of parent or name moves the dentry to a new node and
	 * deletes the old one inside a d_seq write section, so: if this
	 * node is still live after the sample, the sample covers the key we
	 * matched; if it is deleted, this is a (permitted) miss.
	 */
	if (cds_lfht_is_node_deleted(node))
		return NULL;
	return d;
}

/* Ref mode: a referenced hashed child or NULL.  Not inside RCU. */
struct dentry *d_lookup_ref(struct dcache *dc, struct dentry *parent,
			    const char *name, uint32_t len, uint32_t hash)
{
	struct dentry *d;
	uint32_t seq;
	int r = 0;

	DC_ASSERT_NOT_RCU();
	rcu_read_lock();
	d = d_lookup_rcu(dc, parent, name, len, hash, &seq);
	if (d) {
		r = lockref_tryget_not_dead(&d->d_ref);
		if (r > 0 && seq_retry(&d->d_seq, seq)) {
			/* moved or killed meanwhile: give it back later */
			rcu_read_unlock();
			dentry_put(d);
			goto locked;
		}
	}
	rcu_read_unlock();
	if (r > 0)
		return d;
	if (!d)
		return NULL;
locked:
	/*
	 * The child's lock was held (or the CAS kept failing), or it is
	 * dead.  Under the parent's d_lock the set of hashed children is
	 * stable and a child on the list cannot be freed, so we may sleep
	 * on its lock.
	 *
	 * A dead child may still be hashed: the shrinker marks its victims
	 * dead under their d_lock and unhashes them later (lru.c), and
	 * lockless readers still find and validate it until then.  Our
	 * caller is about to act on "this name is not cached" (a remove, a
	 * rename, an instantiation): unhash it now (bumping d_seq), so that
	 * no reader can hit it after the caller's change completed.
	 */
	lockref_lock(&parent->d_ref);
	rcu_read_lock();
	d = d_lookup_rcu(dc, parent, name, len, hash, &seq);
	rcu_read_unlock();
	if (d && !lockref_get_not_dead(&d->d_ref)) {
		d_unhash_locked(d);
		d = NULL;
	}
	lockref_unlock(&parent->d_ref);
	return d;
}

/* Caller holds @d's d_lock and its parent's.  True if this call removed
 * @d from the table (the cds_lfht_del winner).  Bumps d_seq either way is
 * not needed: only the winner changed anything. */
bool d_unhash_both_locked(struct dentry *d)
{
	struct dcache *dc = d->d_cache;
	int r;

	DC_ASSERT_LOCKED(&d->d_ref);
	DC_ASSERT_LOCKED(&rcu_load(d->d_parent)->d_ref);
	rcu_read_lock();
	r = cds_lfht_del(dc->dentries, d->d_hnode);
	rcu_read_unlock();
	if (r)
		return false;
	__atomic_fetch_or(&d->d_flags, D_UNHASHED, __ATOMIC_RELEASE);
	/* readers that sampled d_seq before the del fail their retry */
	seq_invalidate(&d->d_seq);
	return true;
}

/* Caller holds the parent's d_lock (not @d's). */
bool d_unhash_locked(struct dentry *d)
{
	bool r;

	DC_ASSERT_LOCKED(&rcu_load(d->d_parent)->d_ref);
	lockref_lock(&d->d_ref);
	r = d_unhash_both_locked(d);
	lockref_unlock(&d->d_ref);
	return r;
}

/*
 * Caller holds @parent's d_lock.  Add @d (fresh, unhashed, parent @parent)
 * to the table and to the parent's children.  -EEXIST with *existing set
 * when a live dentry has the key; a dead one still hashed is unhashed
 * here (we hold the parent lock its killer is waiting for) and the add is
 * retried once.  -ESTALE when @parent itself is unhashed: the caller may
 * use @d privately (unhashed) but must not cache it.
 */
int d_hash_add_locked(struct dentry *parent, struct dentry *d,
		      struct dentry **existing)
{
	struct dcache *dc = d->d_cache;
	struct dc_name *n = d->d_name;
	uint32_t nhash = dc_name_hash(n->s, n->len);
	struct dkey key = {parent, n->s, n->len};
	unsigned long hash = dc_salt(parent, nhash);
	struct cds_lfht_node *ret;
	struct dentry *other;
	int tries;

	DC_ASSERT_LOCKED(&parent->d_ref);
	/*
	 * Never a hashed child under an unhashed parent: it could not be
	 * reached from the root, yet would look like a live name (and a
	 * directory's "hashed" alias).  Unhashing @parent needs its d_lock,
	 * which we hold, and is always followed by pruning its children.
	 */
	if ((load_relaxed(parent->d_flags) & (D_UNHASHED | D_ROOT)) ==
	    D_UNHASHED)
		return -ESTALE;
	tsan_publish(d->d_hnode);
	for (tries = 0; tries < 2; tries++) {
		rcu_read_lock();
		ret = cds_lfht_add_unique(dc->dentries, hash, d_match, &key,
					  d->d_hnode);
		rcu_read_unlock();
		if (ret == d->d_hnode) {
			__atomic_fetch_and(&d->d_flags, ~D_UNHASHED,
					   __ATOMIC_RELEASE);
			cds_list_add(&d->d_child, &parent->d_subdirs);
			return 0;
		}
		/* safe to touch: hashed children of a locked parent stay */
		other = dc_node_dentry(ret);
		if (!lockref_is_dead(&other->d_ref)) {
			*existing = other;
			return -EEXIST;
		}
		d_unhash_locked(other);
	}
	*existing = NULL;
	return -EAGAIN;
}

/* ---- inode transitions ---- */

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

/* A snapshot (D_DIR follows d_inode); any context. */
bool d_is_dir(struct dentry *d)
{
	return __atomic_load_n(&d->d_flags, __ATOMIC_ACQUIRE) & D_DIR;
}

/* ---- in-lookup placeholders ---- */

static long dfutex(uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

/* Leader: the result is published; clear D_IN_LOOKUP and wake waiters. */
void d_wake_waiters(struct dentry *d)
{
	uint32_t old = __atomic_fetch_and(
		&d->d_flags, ~(D_IN_LOOKUP | D_WAITERS), __ATOMIC_SEQ_CST);

	if (old & D_WAITERS)
		dfutex(&d->d_flags, FUTEX_WAKE_PRIVATE, INT_MAX);
}

/* Wait until @d (referenced) is no longer in lookup.  Not in RCU. */
void d_wait_lookup(struct dentry *d)
{
	uint32_t f;

	DC_ASSERT_NOT_RCU();
	dc_count(C_INLOOKUP_WAIT);
	for (;;) {
		f = __atomic_load_n(&d->d_flags, __ATOMIC_ACQUIRE);
		if (!(f & D_IN_LOOKUP))
			return;
		if (!(f & D_WAITERS) &&
		    !__atomic_compare_exchange_n(&d->d_flags, &f, f | D_WAITERS,
						 false, __ATOMIC_SEQ_CST,
						 __ATOMIC_RELAXED))
			continue;
		dfutex(&d->d_flags, FUTEX_WAIT_PRIVATE, f | D_WAITERS);
	}
}

/* ---- killing and putting ---- */

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

/* ---- invalidation ---- */

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
 * Unhash @d (referenced by the caller) and everything cached below it.
 * Unused entries are killed as their last references go.  Not in RCU.
 */
void d_invalidate(struct dentry *d, enum dc_inval_src src)
{
	d_prune(d, true, src);
}

void d_prune(struct dentry *d, bool self, enum dc_inval_src src)
{
	struct dentry *parent, *x, *c;
	struct cds_list_head *pos;
	struct dvec stack = {0};
	uint64_t n = 0;
	bool moved;

	DC_ASSERT_NOT_RCU();
	while (self && !(load_relaxed(d->d_flags) & D_ROOT)) {
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
	dc_count_n(C_INVAL + src, n);
}

/* ---- public accessors ---- */

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

struct dentry *dentry_parent(struct dentry *d)
{
	struct dentry *parent;

	lockref_lock(&d->d_ref);
	parent = d->d_parent;
	/* pinned by @d's reference on its parent, stable under d_lock */
	lockref_get_pinned(&parent->d_ref);
	lockref_unlock(&d->d_ref);
	return parent;
}

bool dentry_is_negative(struct dentry *d)
{
	return rcu_load(d->d_inode) == NULL;
}

size_t dentry_name_copy(struct dentry *d, char *buf)
{
	struct dc_name *n;
	size_t len;

	/* renames change the name under the dentry's d_lock */
	lockref_lock(&d->d_ref);
	n = d->d_name;
	len = n->len;
	memcpy(buf, n->s, len + 1);
	lockref_unlock(&d->d_ref);
	return len;
}

/* Inside RCU.  -EAGAIN when a rename raced (checked by the caller). */
static ssize_t path_rcu(struct dentry *d, char *buf, size_t size)
{
	size_t pos = size;
	struct dc_name *n;
	struct dentry *p;

	if (!size)
		return -ENAMETOOLONG;
	buf[--pos] = '\0';
	while (!(load_relaxed(d->d_flags) & D_ROOT)) {
		if (load_relaxed(d->d_flags) & D_UNHASHED)
			return -ENOENT;
		n = rcu_load(d->d_name);
		p = rcu_load(d->d_parent);
		if (n->len + (load_relaxed(p->d_flags) & D_ROOT ? 0 : 1) > pos)
			return -ENAMETOOLONG;
		pos -= n->len;
		memcpy(buf + pos, n->s, n->len);
		if (!(load_relaxed(p->d_flags) & D_ROOT))
			buf[--pos] = '/';
		d = p;
	}
	memmove(buf, buf + pos, size - pos);
	return (ssize_t)(size - pos - 1);
}

ssize_t dentry_path(struct dentry *d, char *buf, size_t size)
{
	struct dcache *dc = d->d_cache;
	uint32_t seq;
	ssize_t r;

	/* optimistic first (the kernel's read_seqbegin_or_lock) ... */
	rcu_read_lock();
	seq = seq_begin(&dc->rename_seq);
	r = path_rcu(d, buf, size);
	if (!seq_retry(&dc->rename_seq, seq)) {
		rcu_read_unlock();
		return r;
	}
	rcu_read_unlock();
	/* ... then with renames excluded */
	pthread_mutex_lock(&dc->rename_lock);
	rcu_read_lock();
	r = path_rcu(d, buf, size);
	rcu_read_unlock();
	pthread_mutex_unlock(&dc->rename_lock);
	return r;
}
