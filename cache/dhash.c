/* SPDX-License-Identifier: MIT */
/*
 * cache/dhash.c - the hash tables' writers, resize and iteration.
 * The design, and what a reader may assume, are dhash.h's opening block.
 */
#include "dcache_i.h"

static struct dh_buckets *buckets_new(unsigned long n)
{
	struct dh_buckets *b = calloc(1, sizeof(*b) + n * sizeof(b->b[0]));

	if (b)
		b->mask = n - 1;
	return b;
}

int dh_init(struct dh_table *t, unsigned long buckets)
{
	unsigned i;

	if (buckets < DH_MIN_BUCKETS)
		buckets = DH_MIN_BUCKETS;
	t->next = NULL;
	t->cur = buckets_new(buckets);
	if (!t->cur)
		return -ENOMEM;
	for (i = 0; i < DH_STRIPES; i++) {
		pthread_mutex_init(&t->stripes[i].lock, NULL);
		t->stripes[i].moved = false;
		t->seq[i].seq = 0;
	}
	return 0;
}

void dh_destroy(struct dh_table *t)
{
	unsigned i;

	if (!t->cur)
		return;
	free(t->cur);
	free(t->next);
	t->cur = t->next = NULL;
	for (i = 0; i < DH_STRIPES; i++)
		pthread_mutex_destroy(&t->stripes[i].lock);
}

static struct dh_stripe *stripe_of(struct dh_table *t, unsigned long hash)
{
	return &t->stripes[hash & (DH_STRIPES - 1)];
}

/* The table that holds @s's nodes.  Caller holds s->lock, which orders
 * both pointers (the resizer writes them without it only before it first
 * moves a stripe); relaxed loads, as the compiler may load both. */
static struct dh_buckets *table_of(struct dh_table *t, struct dh_stripe *s)
{
	return s->moved ? __atomic_load_n(&t->next, __ATOMIC_RELAXED)
			: __atomic_load_n(&t->cur, __ATOMIC_RELAXED);
}

/* Push @n on the head of its chain in @b.  Caller holds the stripe lock;
 * @n's next is published before @n is.  Both stores release: a reader
 * already standing on @n (a move, dh_resize) reaches the new chain
 * through n->next alone. */
static void push_locked(struct dh_buckets *b, struct dh_node *n)
{
	uintptr_t *head = &b->b[n->hash & b->mask];

	/* a head is never marked: no chain holds a deleted node */
	__atomic_store_n(&n->next, *head, __ATOMIC_RELEASE);
	__atomic_store_n(head, (uintptr_t)n, __ATOMIC_RELEASE);
}

struct dh_node *dh_add_unique(struct dh_table *t, struct dh_node *n,
			      unsigned long hash,
			      bool (*match)(struct dh_node *, const void *),
			      const void *key)
{
	struct dh_stripe *s = stripe_of(t, hash);
	struct dh_buckets *b;
	struct dh_node *o;

	DC_ASSERT_NOT_RCU();
	n->hash = hash;
	pthread_mutex_lock(&s->lock);
	b = table_of(t, s);
	/* under the lock no chain holds a deleted node */
	for (o = (struct dh_node *)b->b[hash & b->mask]; o;
	     o = (struct dh_node *)o->next)
		if (o->hash == hash && match(o, key)) {
			pthread_mutex_unlock(&s->lock);
			return o;
		}
	push_locked(b, n);
	pthread_mutex_unlock(&s->lock);
	return n;
}

void dh_add(struct dh_table *t, struct dh_node *n, unsigned long hash)
{
	struct dh_stripe *s = stripe_of(t, hash);

	DC_ASSERT_NOT_RCU();
	n->hash = hash;
	pthread_mutex_lock(&s->lock);
	push_locked(table_of(t, s), n);
	pthread_mutex_unlock(&s->lock);
}

int dh_del(struct dh_table *t, struct dh_node *n)
{
	struct dh_stripe *s;
	struct dh_buckets *b;
	uintptr_t *pp, next;

	DC_ASSERT_NOT_RCU();
	/* a node never added (DH_UNHASHED) or deleted already */
	if (__atomic_load_n(&n->next, __ATOMIC_RELAXED) & DH_DELETED)
		return -ENOENT;
	s = stripe_of(t, n->hash);
	pthread_mutex_lock(&s->lock);
	b = table_of(t, s);
	pp = &b->b[n->hash & b->mask];
	while (*pp && *pp != (uintptr_t)n)
		pp = &((struct dh_node *)*pp)->next;
	if (!*pp) {
		pthread_mutex_unlock(&s->lock);
		return -ENOENT;
	}
	/* mark first (a reader that matched @n sees it deleted), then
	 * unlink; @n keeps pointing at its successor */
	next = n->next;
	__atomic_store_n(&n->next, next | DH_DELETED, __ATOMIC_RELEASE);
	__atomic_store_n(pp, next, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

unsigned long dh_size(struct dh_table *t)
{
	return __atomic_load_n(&t->cur, __ATOMIC_ACQUIRE)->mask + 1;
}

/* Move every node of stripe @i from @from to @to.  Caller holds its lock.
 * Each node leaves its old chain before it joins the new one, inside the
 * stripe's sequence-count write section: a reader may miss it meanwhile,
 * sees the count move and searches again. */
static void move_stripe(seqcount_t *seq, struct dh_buckets *from,
			struct dh_buckets *to, unsigned i)
{
	unsigned long k;
	struct dh_node *n;

	seq_write_begin(seq);
	for (k = i; k <= from->mask; k += DH_STRIPES)
		while ((n = (struct dh_node *)from->b[k])) {
			__atomic_store_n(&from->b[k], n->next,
					 __ATOMIC_RELEASE);
			push_locked(to, n);
		}
	seq_write_end(seq);
}

int dh_resize(struct dh_table *t, unsigned long buckets)
{
	struct dh_buckets *old = t->cur, *nb;
	unsigned i;

	DC_ASSERT_NOT_RCU();
	if (buckets & (buckets - 1))
		return -EINVAL;
	if (buckets < DH_MIN_BUCKETS)
		buckets = DH_MIN_BUCKETS;
	if (buckets == old->mask + 1)
		return 0;
	nb = buckets_new(buckets);
	if (!nb)
		return -ENOMEM;
	__atomic_store_n(&t->next, nb, __ATOMIC_RELEASE);
	for (i = 0; i < DH_STRIPES; i++) {
		pthread_mutex_lock(&t->stripes[i].lock);
		move_stripe(&t->seq[i], old, nb, i);
		t->stripes[i].moved = true;
		pthread_mutex_unlock(&t->stripes[i].lock);
	}
	/* every stripe's writers use next now: make it current, then send
	 * them back to cur one stripe at a time (one lock held at once) */
	__atomic_store_n(&t->cur, nb, __ATOMIC_RELEASE);
	for (i = 0; i < DH_STRIPES; i++) {
		pthread_mutex_lock(&t->stripes[i].lock);
		t->stripes[i].moved = false;
		pthread_mutex_unlock(&t->stripes[i].lock);
	}
	__atomic_store_n(&t->next, NULL, __ATOMIC_RELEASE);
	/* readers that loaded the old array may still be in its chains */
	synchronize_rcu();
	free(old);
	return 0;
}

/* @fn for every node of @b's buckets @first, @first + @step, ...; each
 * node's successor is read before @fn sees the node.  The caller keeps
 * the chains still (a stripe lock, or teardown). */
static void visit(struct dh_buckets *b, unsigned long first, unsigned long step,
		  void (*fn)(struct dh_node *, void *), void *ctx)
{
	struct dh_node *n, *next;
	unsigned long k;

	for (k = first; k <= b->mask; k += step)
		for (n = (struct dh_node *)b->b[k]; n; n = next) {
			next = (struct dh_node *)n->next;
			fn(n, ctx);
		}
}

void dh_for_each(struct dh_table *t, void (*fn)(struct dh_node *, void *),
		 void *ctx)
{
	unsigned i;

	DC_ASSERT_NOT_RCU();
	for (i = 0; i < DH_STRIPES; i++) {
		pthread_mutex_lock(&t->stripes[i].lock);
		visit(table_of(t, &t->stripes[i]), i, DH_STRIPES, fn, ctx);
		pthread_mutex_unlock(&t->stripes[i].lock);
	}
}

void dh_drain(struct dh_table *t, void (*fn)(struct dh_node *, void *),
	      void *ctx)
{
	if (!t->cur)
		return;
	DC_ASSERT(!t->next);
	visit(t->cur, 0, 1, fn, ctx);
}
