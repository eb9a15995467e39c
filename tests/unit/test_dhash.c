// SPDX-License-Identifier: MIT
/*
 * tests/unit/test_dhash.c - the dentry hash table (cache/dhash.h) on its
 * own: adds, deletes and lookups racing resizes.
 *
 * Two writers add and delete keys of their own (so each knows which of
 * its keys are in the table), two readers look keys up the way
 * d_lookup_rcu does, and a resizer moves the table between 256 and 4096
 * buckets.  Twice: hashes in a small range (chains of a few nodes,
 * deletes unlink from their middle), then all in one chain that every
 * resize relinks under the readers, who pause now and then inside it.
 * Checked:
 *  - a reader never finds a node of another key, never walks more nodes
 *    than exist (a loop), and never misses a key that stays in the table
 *    throughout, even while the resizer moves it;
 *  - dh_add_unique never adds a key twice; dh_del fails on a node that
 *    was never added or is deleted already;
 *  - at the end, the table holds exactly the keys the writers think it
 *    does, each once, and a resize keeps them all.
 * A fixed number of operations, no timing.
 */
#include <pthread.h>

#include "dcache_i.h"
#include "tap.h"

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define OPS 40000
#define RESIZES 60
#else
#define OPS 400000
#define RESIZES 400
#endif
#define KEYS_PER_WRITER 2048
#define STABLE 512 /* keys added first and never deleted */
#define HASH_RANGE 1024ul

struct item {
	struct dh_node n;
	uint64_t key;
};

static struct dh_table table;
static uint64_t total_nodes; /* atomic: nodes ever allocated */
static bool stop;
/* "one chain": every key's hash is a multiple of 2^14, so in every table
 * size all nodes form one chain (stripe 0) that each resize relinks,
 * while readers walk it: a reader on a node being moved would miss the
 * rest of the old chain without the stripe's sequence count */
static bool one_chain;
static uint64_t ops;
/* writers with their stable keys in, readers, resizer: then go */
static pthread_barrier_t go;

static unsigned long hash_of(uint64_t key)
{
	if (one_chain)
		return (unsigned long)(key % 16) << 14;
	/* many keys per hash: long chains in every table size */
	return (unsigned long)((key * 0x9e3779b97f4a7c15ull) >> 40) %
	       HASH_RANGE;
}

/* readers of the one-chain run pause now and then inside a chain walk,
 * so that moves happen under them */
static __thread uint64_t stall_seed;

static bool match(struct dh_node *n, const void *key)
{
	if (stall_seed) {
		stall_seed ^= stall_seed << 13;
		stall_seed ^= stall_seed >> 7;
		stall_seed ^= stall_seed << 17;
		if (!(stall_seed % 64))
			for (volatile int i = 0; i < 2000; i++)
				;
	}
	return caa_container_of(n, struct item, n)->key ==
	       *(const uint64_t *)key;
}

static struct item *item_new(uint64_t key)
{
	struct item *it = calloc(1, sizeof(*it));

	if (!it)
		abort();
	it->key = key;
	__atomic_fetch_add(&total_nodes, 1, __ATOMIC_RELAXED);
	return it;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Walk @key's chain in the current table as a reader does, counting:
 * *bad when it is longer than the nodes ever made (a loop). */
static void walk_chain(uint64_t key, bool *bad)
{
	struct dh_buckets *b = __atomic_load_n(&table.cur, __ATOMIC_ACQUIRE);
	uint64_t steps = 0,
		 limit = __atomic_load_n(&total_nodes, __ATOMIC_RELAXED) + 2;
	struct dh_node *n;

	for (n = dh_head(b, hash_of(key)); n; n = dh_next(n))
		if (++steps > 4 * limit) {
			*bad = true;
			return;
		}
}

static struct item *lookup(uint64_t key, bool *bad)
{
	struct dh_node *n = dh_lookup(&table, hash_of(key), match, &key);

	walk_chain(key, bad);
	return n ? caa_container_of(n, struct item, n) : NULL;
}

struct reader {
	uint64_t seed, lookups, found, bad, wrong, stable_missed;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	bool bad;

	dcache_thread_enter();
	stall_seed = one_chain ? r->seed | 1 : 0;
	pthread_barrier_wait(&go);
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		uint64_t w = rnd(&r->seed) % 2,
			 k = rnd(&r->seed) %
			     (one_chain ? STABLE : KEYS_PER_WRITER);
		uint64_t key = w * KEYS_PER_WRITER + k;
		struct item *it;

		bad = false;
		rcu_read_lock();
		it = lookup(key, &bad);
		if (it && it->key != key)
			r->wrong++;
		rcu_read_unlock();
		r->lookups++;
		r->bad += bad;
		r->found += it != NULL;
		if (!it && k < STABLE)
			r->stable_missed++;
	}
	dcache_thread_exit();
	return NULL;
}

struct writer {
	unsigned id;
	uint64_t seed;
	struct item *live[KEYS_PER_WRITER];
	struct item **dead;
	size_t ndead;
	uint64_t dups, del_errors, adds, dels;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint64_t base = (uint64_t)w->id * KEYS_PER_WRITER, op;
	struct item *it, *other;
	uint64_t k;

	dcache_thread_enter();
	for (k = 0; k < STABLE; k++) {
		it = item_new(base + k);
		if (dh_add_unique(&table, &it->n, hash_of(it->key), match,
				  &it->key) != &it->n)
			w->dups++;
		w->live[k] = it;
	}
	pthread_barrier_wait(&go);
	for (op = 0; op < ops; op++) {
		k = STABLE + rnd(&w->seed) % (KEYS_PER_WRITER - STABLE);
		it = w->live[k];
		if (it) {
			/* a second node of a present key is refused */
			other = item_new(base + k);
			if (dh_add_unique(&table, &other->n, hash_of(base + k),
					  match, &other->key) != &it->n)
				w->dups++;
			w->dead[w->ndead++] = other; /* never added */
			if (dh_del(&table, &it->n))
				w->del_errors++;
			if (dh_del(&table, &it->n) != -ENOENT)
				w->del_errors++;
			w->dead[w->ndead++] = it;
			w->live[k] = NULL;
			w->dels++;
		} else {
			it = item_new(base + k);
			if (dh_add_unique(&table, &it->n, hash_of(it->key),
					  match, &it->key) != &it->n)
				w->dups++;
			w->live[k] = it;
			w->adds++;
		}
	}
	dcache_thread_exit();
	return NULL;
}

static void *resizer_main(void *arg)
{
	static const unsigned long sizes[] = {256, 1024, 4096, 512, 2048};
	unsigned *failed = arg, i;

	dcache_thread_enter();
	pthread_barrier_wait(&go);
	for (i = 0; i < (one_chain ? 2 * RESIZES : RESIZES); i++) {
		if (dh_resize(&table, sizes[i % 5]))
			(*failed)++;
	}
	dcache_thread_exit();
	return NULL;
}

struct census {
	uint64_t count[2 * KEYS_PER_WRITER];
	uint64_t stray;
};

static void count_one(struct dh_node *n, void *ctx)
{
	struct census *c = ctx;
	uint64_t key = caa_container_of(n, struct item, n)->key;

	if (key < 2 * KEYS_PER_WRITER && n->hash == hash_of(key))
		c->count[key]++;
	else
		c->stray++;
}

static void check_census(struct writer *w, const char *when)
{
	static struct census c;
	uint64_t k, wrong = 0, live = 0;
	unsigned i;

	memset(&c, 0, sizeof(c));
	dh_for_each(&table, count_one, &c);
	for (i = 0; i < 2; i++)
		for (k = 0; k < KEYS_PER_WRITER; k++) {
			uint64_t want = w[i].live[k] != NULL;

			live += want;
			wrong += c.count[i * KEYS_PER_WRITER + k] != want;
		}
	ok(wrong == 0 && c.stray == 0,
	   "%s: the table holds the writers' %llu keys, each once "
	   "(%llu wrong, %llu stray)",
	   when, (unsigned long long)live, (unsigned long long)wrong,
	   (unsigned long long)c.stray);
}

static void run(bool chain)
{
	const char *shape = chain ? "one chain" : "spread";
	struct writer *w = calloc(2, sizeof(*w));
	struct reader r[2] = {{.seed = 11}, {.seed = 12}};
	pthread_t wt[2], rt[2], zt;
	unsigned resize_failed = 0, i;
	uint64_t sum;
	struct item orphan = {.key = 1};
	bool bad = false;

	one_chain = chain;
	ops = chain ? OPS / 40 : OPS;
	stop = false;
	total_nodes = 0;
	if (!w || dh_init(&table, 256)) {
		ok(0, "setup");
		exit(1);
	}
	pthread_barrier_init(&go, NULL, 5);
	ok(dh_del(&table, &orphan.n) == -ENOENT,
	   "%s: dh_del of a node never added: -ENOENT", shape);
	for (i = 0; i < 2; i++) {
		w[i].id = i;
		w[i].seed = 0x1234567ull + i;
		w[i].dead = calloc(2 * ops + 2, sizeof(*w[i].dead));
		if (!w[i].dead)
			abort();
		pthread_create(&wt[i], NULL, writer_main, &w[i]);
		pthread_create(&rt[i], NULL, reader_main, &r[i]);
	}
	pthread_create(&zt, NULL, resizer_main, &resize_failed);
	pthread_join(zt, NULL);
	for (i = 0; i < 2; i++)
		pthread_join(wt[i], NULL);
	__atomic_store_n(&stop, true, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++)
		pthread_join(rt[i], NULL);

	ok(resize_failed == 0, "%s: %d resizes between 256 and 4096 buckets",
	   shape, chain ? 2 * RESIZES : RESIZES);
	ok(w[0].dups + w[1].dups == 0,
	   "%s: dh_add_unique: no key added twice (%llu + %llu adds)", shape,
	   (unsigned long long)w[0].adds, (unsigned long long)w[1].adds);
	ok(w[0].del_errors + w[1].del_errors == 0,
	   "%s: dh_del: 0 once, then -ENOENT (%llu + %llu deletes)", shape,
	   (unsigned long long)w[0].dels, (unsigned long long)w[1].dels);
	sum = r[0].lookups + r[1].lookups;
	ok(sum > 0 && r[0].bad + r[1].bad == 0,
	   "%s: readers: no walk longer than the nodes ever made (%llu "
	   "lookups)",
	   shape, (unsigned long long)sum);
	ok(r[0].wrong + r[1].wrong == 0,
	   "%s: readers: never a node of another key", shape);
	ok(r[0].stable_missed + r[1].stable_missed == 0,
	   "%s: readers: a key present throughout is never missed, resizes "
	   "or not (%llu misses; %llu lookups found)",
	   shape, (unsigned long long)(r[0].stable_missed + r[1].stable_missed),
	   (unsigned long long)(r[0].found + r[1].found));
	check_census(w, chain ? "one chain, after the race"
			      : "spread, after the race");

	dh_resize(&table, 8192);
	check_census(w, chain ? "one chain, after a resize to 8192"
			      : "spread, after a resize to 8192");
	ok(dh_size(&table) == 8192, "%s: size 8192", shape);
	rcu_read_lock();
	sum = 0;
	for (i = 0; i < 2; i++)
		for (uint64_t k = 0; k < KEYS_PER_WRITER; k++)
			sum += (lookup(i * KEYS_PER_WRITER + k, &bad) !=
				NULL) != (w[i].live[k] != NULL);
	rcu_read_unlock();
	ok(sum == 0 && !bad, "%s: quiescent lookups find exactly the live keys",
	   shape);
	dh_resize(&table, 16);
	ok(dh_size(&table) == DH_MIN_BUCKETS,
	   "%s: never below DH_MIN_BUCKETS (%lu)", shape, dh_size(&table));

	/* every reader is gone: free without a grace period */
	dh_destroy(&table);
	for (i = 0; i < 2; i++) {
		size_t j;

		for (j = 0; j < w[i].ndead; j++)
			free(w[i].dead[j]);
		for (j = 0; j < KEYS_PER_WRITER; j++)
			free(w[i].live[j]);
		free(w[i].dead);
	}
	free(w);
	pthread_barrier_destroy(&go);
}

int main(void)
{
	dcache_thread_enter();
	run(false);
	run(true);
	dcache_thread_exit();
	return tap_done();
}
