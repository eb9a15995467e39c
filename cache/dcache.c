/* SPDX-License-Identifier: MIT */
/*
 * cache/dcache.c - creating and destroying a dcache, thread registration,
 * time, RCU-deferred frees with their back-pressure counter, attribute
 * conversions.
 */
#include "dcache_i.h"

#include <time.h>
#include <unistd.h>

void dc_stats_thread_init(void);
void dc_stats_thread_exit(void);

static __thread bool registered;

void dcache_thread_enter(void)
{
	if (registered)
		return;
	rcu_register_thread();
	dc_stats_thread_init();
	registered = true;
}

void dcache_thread_exit(void)
{
	if (!registered)
		return;
	DC_ASSERT_NOT_RCU();
	dc_stats_thread_exit();
	rcu_unregister_thread();
	registered = false;
}

bool dcache_thread_registered(void)
{
	return registered;
}

void dcache_read_lock(void)
{
	rcu_read_lock();
}

void dcache_read_unlock(void)
{
	rcu_read_unlock();
}

bool dcache_in_read_section(void)
{
	return rcu_read_ongoing();
}

#ifdef DCACHE_DEBUG
/*
 * Does the calling thread hold @m?  glibc records the owner's thread id in
 * every mutex it locks (all kinds); elsewhere, settle for "someone holds
 * it".  cache_debug builds only (DC_ASSERT_MUTEX).
 */
bool dc_mutex_held(pthread_mutex_t *m)
{
#ifdef __GLIBC__
	return __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) ==
	       (int)gettid();
#else
	if (pthread_mutex_trylock(m) == 0) {
		pthread_mutex_unlock(m);
		return false;
	}
	return true;
#endif
}
#endif

/* The vDSO answers CLOCK_MONOTONIC without a syscall. */
uint64_t dc_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t dc_expiry(uint64_t ttl)
{
	uint64_t now;

	if (ttl == DC_TTL_FOREVER)
		return DC_TTL_FOREVER;
	now = dc_now();
	/* saturate below FOREVER so a huge ttl never means "forever" */
	return ttl > DC_TTL_FOREVER - 1 - now ? DC_TTL_FOREVER - 1 : now + ttl;
}

void dc_gauge_add(uint64_t *g, int64_t delta)
{
	__atomic_fetch_add(g, (uint64_t)delta, __ATOMIC_RELAXED);
}

#ifdef DC_TSAN
char dc_tsan_gp, dc_tsan_cb;
#endif

void dc_call_rcu(struct dcache *dc, struct rcu_head *head,
		 void (*fn)(struct rcu_head *))
{
	dc_gauge_add(&dc->pending_frees, 1);
	tsan_gp_queue();
	call_rcu(head, fn);
	if (load_relaxed(dc->pending_frees) > dc->max_pending)
		shrinker_kick(dc);
}

void dc_rcu_done(struct dcache *dc)
{
	dc_gauge_add(&dc->pending_frees, -1);
}

void dc_attr_from_stat(struct dc_attr *a, const struct stat *st)
{
	memset(a, 0, sizeof(*a));
	a->ino = st->st_ino;
	a->dev = st->st_dev;
	a->mode = st->st_mode;
	a->nlink = st->st_nlink;
	a->uid = st->st_uid;
	a->gid = st->st_gid;
	a->rdev = st->st_rdev;
	a->size = st->st_size;
	a->blocks = st->st_blocks;
	a->blksize = st->st_blksize;
	a->atime_sec = st->st_atim.tv_sec;
	a->atime_nsec = st->st_atim.tv_nsec;
	a->mtime_sec = st->st_mtim.tv_sec;
	a->mtime_nsec = st->st_mtim.tv_nsec;
	a->ctime_sec = st->st_ctim.tv_sec;
	a->ctime_nsec = st->st_ctim.tv_nsec;
}

void dc_attr_to_stat(const struct dc_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_dev = a->dev;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = a->size;
	st->st_blocks = a->blocks;
	st->st_blksize = a->blksize;
	st->st_atim.tv_sec = a->atime_sec;
	st->st_atim.tv_nsec = a->atime_nsec;
	st->st_mtim.tv_sec = a->mtime_sec;
	st->st_mtim.tv_nsec = a->mtime_nsec;
	st->st_ctim.tv_sec = a->ctime_sec;
	st->st_ctim.tv_nsec = a->ctime_nsec;
}

void dcache_set_ttls(struct dcache *dc, uint64_t entry_ns, uint64_t neg_ns,
		     uint64_t attr_ns)
{
	store_relaxed(dc->entry_ttl, entry_ns);
	store_relaxed(dc->neg_ttl, neg_ns);
	store_relaxed(dc->attr_ttl, attr_ns);
}

/*
 * The generation of every inode of this cache: node ids restart at
 * DC_ROOT_ID in each cache, so (nodeid, generation) is unique across
 * instances (a FUSE daemon restarted on the same mount point, a file
 * handle kept from an earlier mount) only if the generation differs.  The
 * kernel keeps 32 bits of it: mix the creation time and pid into them,
 * never 0.
 */
static uint64_t new_generation(void)
{
	struct timespec ts;
	uint64_t x;

	clock_gettime(CLOCK_REALTIME, &ts);
	x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	x ^= (uint64_t)getpid() << 32;
	/* splitmix64 finalizer */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	x ^= x >> 31;
	if (!(x & 0xffffffffu))
		x |= 1;
	return x;
}

int dcache_new(const struct dcache_config *cfg, struct dcache **out)
{
	struct dcache *dc;
	struct dc_inode *inode = NULL;
	struct dentry *root;
	int err;

	*out = NULL;
	if (!cfg->ops || !cfg->ops->lookup || !cfg->ops->getattr ||
	    !S_ISDIR(cfg->root_attr.mode))
		return -EINVAL;
	dcache_thread_enter();
	/* 64-byte aligned: the hash table's stripe locks (dhash.h) */
	dc = aligned_alloc(_Alignof(struct dcache), sizeof(*dc));
	if (!dc)
		return -ENOMEM;
	memset(dc, 0, sizeof(*dc));
	dc->ops = *cfg->ops;
	dc->backend = cfg->backend;
	dc->entry_ttl = cfg->entry_ttl_ns;
	dc->neg_ttl = cfg->neg_ttl_ns;
	dc->attr_ttl = cfg->attr_ttl_ns;
	dc->max_entries = cfg->max_entries;
	dc->max_pending =
		cfg->max_pending_frees ? cfg->max_pending_frees : 65536;
	dc->next_nodeid = DC_ROOT_ID;
	dc->generation = new_generation();
	pthread_mutex_init(&dc->rename_lock, NULL);
	pthread_mutex_init(&dc->itable_lock, NULL);
	pthread_mutex_init(&dc->lru_lock, NULL);
	pthread_mutex_init(&dc->shrink_mutex, NULL);
	pthread_cond_init(&dc->shrink_cond, NULL);
	dc_slab_init(&dc->dentry_slab, sizeof(struct dentry), &dc->grow_sem);
	dc_slab_init(&dc->inode_slab, sizeof(struct dc_inode), &dc->grow_sem);
	CDS_INIT_LIST_HEAD(&dc->lru);
	err = dc_tables_new(dc);
	if (err)
		goto out_free;
	err = dc_grower_start(dc);
	if (err)
		goto out_free;

	err = i_get_or_create(dc, &cfg->root_attr, NULL, I_WRITE_THROUGH,
			      &inode);
	if (err)
		goto out_free;
	root = d_alloc(dc, NULL, "", 0);
	if (!root) {
		err = -ENOMEM;
		goto out_free;
	}
	root->d_flags |= D_ROOT | D_UNHASHED;
	/* the root is never in the hash; dentry_path treats it apart */
	d_set_inode(root, inode); /* the dentry takes over our reference */
	dc->root = root;
	if (cfg->shrinker_thread) {
		err = shrinker_start(dc);
		if (err)
			goto out_free;
	}
	*out = dc;
	return 0;

out_free:
	dcache_free(dc);
	return err;
}

/*
 * Teardown: unlink @top's subtree from the table and collect it in *v
 * (post-order).  Nothing is freed here: the memory goes after the grace
 * period that follows (dcache_free).
 */
static int unlink_subtree(struct dcache *dc, struct dentry *top,
			  struct dentry ***v, size_t *n, size_t *cap)
{
	struct dentry *d = top, *child, **nv;

	for (;;) {
		if (!cds_list_empty(&d->d_subdirs)) {
			d = cds_list_entry(d->d_subdirs.next, struct dentry,
					   d_child);
			continue;
		}
		child = d;
		d = child == top ? NULL : load_relaxed(child->d_parent);
		if (child != top)
			cds_list_del_init(&child->d_child);
		if (!(child->d_flags & D_UNHASHED)) {
			dh_del(&dc->dentries, child->d_hnode);
		}
		if (child->d_flags & D_ON_LRU)
			cds_list_del(&child->d_lru);
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 1024;
			nv = realloc(*v, *cap * sizeof(**v));
			if (!nv)
				return -ENOMEM;
			*v = nv;
		}
		(*v)[(*n)++] = child;
		if (!d)
			return 0;
	}
}

void dcache_free(struct dcache *dc)
{
	struct dentry **dead = NULL;
	size_t ndead = 0, capdead = 0, i;
	bool leak = false;

	if (!dc)
		return;
	DC_ASSERT_NOT_RCU();
	shrinker_stop(dc);
	/* may finish a resize first; later requests are ignored */
	dc_grower_stop(dc);
	/* Callbacks queued by earlier kills touch dc: let them run first. */
	rcu_barrier();
	if (dc->root &&
	    unlink_subtree(dc, dc->root, &dead, &ndead, &capdead) < 0)
		leak = true; /* out of memory: leave the rest rather than crash */
	if (dc->ids.cur)
		i_free_all(dc);
	/* no reader sees them now */
	synchronize_rcu();
	for (i = 0; i < ndead; i++)
		d_free_unused(dead[i]);
	free(dead);
	rcu_barrier();
	if (leak)
		return;
	dc_tables_destroy(dc);
	dc_slab_destroy(&dc->dentry_slab);
	dc_slab_destroy(&dc->inode_slab);
	pthread_mutex_destroy(&dc->rename_lock);
	pthread_mutex_destroy(&dc->itable_lock);
	pthread_mutex_destroy(&dc->lru_lock);
	pthread_mutex_destroy(&dc->shrink_mutex);
	pthread_cond_destroy(&dc->shrink_cond);
	free(dc);
}
