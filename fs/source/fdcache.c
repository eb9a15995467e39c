/* SPDX-License-Identifier: MIT */
/*
 * fs/source/fdcache.c - reaching SOURCE: a bounded cache of directory
 * fds, and where a cached node lives (its parent's fd and its name).
 *
 * Never one fd per inode (DESIGN.md §7): only directories get an fd, kept
 * in an LRU bounded by max_fds; files are reached by name relative to their
 * parent's fd.  A directory fd is opened relative to its nearest ancestor
 * whose fd is open (the root's at worst), one name at a time, with openat2
 * and RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS, so
 * nothing planted in SOURCE (a symlink, "..", a magic link) can lead
 * outside it and no path is built (any depth is reachable, PATH_MAX is no
 * limit); every fd is checked against the (st_dev, st_ino) the cache
 * knows, so an object swapped underneath is detected (-ESTALE) instead of
 * used.
 *
 * Locking: fdc_lock (a mutex) protects every fdent's fd, refs and lru
 * linkage, fdc_lru and fdc_open.  It is never held across a syscall that
 * can block for long except close() of evicted fds, and never inside an
 * RCU read section.  An fdent hangs on its directory inode
 * (dc_inode_set_private) and is freed by the backend release op when the
 * inode goes, which cannot happen while a borrower holds the inode.
 */
#include "source/source_i.h"
#include "stats/stats.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <urcu/list.h>

struct fdent {
	struct dc_inode *inode;	  /* immutable; borrowers hold a reference */
	uint64_t dev, ino;	  /* immutable: the key to verify against */
	int fd;			  /* fdc_lock; -1 when closed */
	unsigned refs;		  /* fdc_lock; borrowers */
	struct cds_list_head lru; /* fdc_lock; on fdc_lru while fd >= 0 */
	/* atomic: what the dir_opened hook returned (an inotify watch),
	 * -1 while it runs or without a hook; TOKEN_NONE: not called yet */
	int token;
	bool pinned; /* fdc_lock: never evicted (backing_pin_dir) */
};

#define TOKEN_NONE (-2)

static pthread_mutex_t fdc_lock = PTHREAD_MUTEX_INITIALIZER;
static CDS_LIST_HEAD(fdc_lru); /* fdc_lock; head = most recently used */
static unsigned fdc_open;      /* fdc_lock */
static unsigned fdc_max = 1024;

int backing_init(unsigned max_fds)
{
	fdc_max = max_fds ? max_fds : 1;
	return 0;
}

void backing_fini(void)
{
}

unsigned backing_open_fds(void)
{
	unsigned n;

	pthread_mutex_lock(&fdc_lock);
	n = fdc_open;
	pthread_mutex_unlock(&fdc_lock);
	return n;
}

void backing_emit(struct rfs_emit *e)
{
	rfs_emit_u64(e, "backing_dir_fds", backing_open_fds());
	rfs_emit_u64(e, "max_fds", rfs.o.max_fds);
}

void backing_proc_path(int fd, char buf[64])
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

int backing_verify(int fd, uint64_t dev, uint64_t ino, struct stat *out)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
		return -ESTALE; /* replaced underneath */
	if (out)
		*out = st;
	return 0;
}

/*
 * A borrowed fd of directory inode @di if the cache holds one open (the
 * root's is always open): 0 with *fd, and *ref to give back with
 * backing_put_dir (it then owns the inode reference the caller passes in,
 * as backing_get_dir's does); 1 when none is open (the caller keeps its
 * reference).  Opens nothing.
 */
static int borrow_open(struct dc_inode *di, int *fd, struct fdent **ref)
{
	struct fdent *e;

	*ref = NULL;
	if (dc_inode_nodeid(di) == DC_ROOT_ID) {
		*fd = rfs.root_fd;
		dc_inode_put(di);
		return 0;
	}
	e = dc_inode_private(di);
	if (!e)
		return 1;
	pthread_mutex_lock(&fdc_lock);
	if (e->fd < 0) {
		pthread_mutex_unlock(&fdc_lock);
		return 1;
	}
	e->refs++;
	cds_list_del(&e->lru);
	cds_list_add(&e->lru, &fdc_lru);
	*fd = e->fd;
	pthread_mutex_unlock(&fdc_lock);
	*ref = e;
	return 0;
}

/* One component @name beneath directory @dirfd, verified against @d's
 * inode.  The new fd, or a negative errno (-ESTALE when it is gone or
 * another object). */
static int open_child(int dirfd, struct dentry *d)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	struct dc_inode *inode = dentry_inode(d);
	char name[DC_NAME_MAX + 1];
	uint64_t dev, ino;
	int fd, err;

	if (!inode)
		return -ESTALE; /* negative now: removed */
	dc_inode_key(inode, &dev, &ino);
	dc_inode_put(inode);
	dentry_name_copy(d, name);
	fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	if (fd < 0) {
		err = -errno;
		/* ELOOP: it became a symlink; ENOENT/ENOTDIR: gone */
		return err == -ELOOP || err == -ENOENT || err == -ENOTDIR ||
				       err == -EXDEV
			       ? -ESTALE
			       : err;
	}
	err = backing_verify(fd, dev, ino, NULL);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * Open the directory @inode stands for (DESIGN.md §7): relative to the
 * nearest ancestor whose fd is open (at worst the root's), one component
 * at a time, each with openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
 * RESOLVE_NO_MAGICLINKS and verified by (st_dev, st_ino) against the
 * cached object, so no path is ever built: any depth is reachable (a
 * root-relative path would stop at PATH_MAX), and nothing planted in
 * SOURCE leads outside it.  At most two fds of our own are open at a
 * time besides the borrowed ancestor's, whatever the depth; the
 * directories passed on the way are not cached.  The last one opened is
 * @inode's alias, so it was checked against @inode's key (a dentry's inode
 * never changes; it may only turn negative, then -ESTALE).
 */
static int open_dir(struct dc_inode *inode)
{
	struct dentry **chain = NULL, **grown, *d, *p;
	struct dc_inode *pi;
	struct fdent *base = NULL;
	size_t n = 0, cap = 0, i;
	int basefd = -1, cur, fd = -ESTALE;

	d = dc_inode_alias(inode);
	if (!d)
		return -ESTALE;
	/* up to an ancestor with an open fd: chain[] holds the way down */
	for (;;) {
		if (n == cap) {
			cap = cap ? 2 * cap : 16;
			grown = realloc(chain, cap * sizeof(*chain));
			if (!grown) {
				dentry_put(d);
				fd = -ENOMEM;
				goto out;
			}
			chain = grown;
		}
		chain[n++] = d;
		p = dentry_parent(d);
		pi = p == d ? NULL : dentry_inode(p);
		if (!pi) {
			/* @d is the root (not a directory fd we open) or its
			 * parent lost its inode: gone */
			dentry_put(p);
			goto out;
		}
		if (!borrow_open(pi, &basefd, &base)) {
			dentry_put(p);
			break;
		}
		dc_inode_put(pi);
		d = p; /* our reference on p passes to chain[] */
	}
	cur = basefd;
	for (i = n; i-- > 0;) {
		fd = open_child(cur, chain[i]);
		if (cur != basefd)
			close(cur);
		if (fd < 0)
			break;
		cur = fd;
	}
	backing_put_dir(base);
out:
	for (i = 0; i < n; i++)
		dentry_put(chain[i]);
	free(chain);
	return fd;
}

/* Caller holds fdc_lock.  Close unborrowed fds beyond the bound. */
static void evict_locked(int *victims, unsigned *nv, unsigned cap)
{
	struct cds_list_head *pos = fdc_lru.prev, *prev;
	struct fdent *e;

	/* from the cold end; borrowed fds stay */
	for (; pos != &fdc_lru && fdc_open > fdc_max && *nv < cap; pos = prev) {
		prev = pos->prev;
		e = cds_list_entry(pos, struct fdent, lru);
		if (e->refs || e->pinned)
			continue;
		victims[(*nv)++] = e->fd;
		e->fd = -1;
		cds_list_del_init(&e->lru);
		fdc_open--;
	}
}

/*
 * inotify mode: a directory whose fd we need is one whose children get
 * cached; watch it (once per fdent, i.e. per cached inode).
 */
/*
 * A directory whose fd we need is one whose children get cached: tell the
 * coherence layer (dir_opened hook), once per fdent, i.e. per cached inode.
 */
static void hook_once(struct fdent *e, int fd)
{
	int expect = TOKEN_NONE;

	if (__atomic_compare_exchange_n(&e->token, &expect, -1, false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		__atomic_store_n(&e->token,
				 rfs_source_hooks.dir_opened
					 ? rfs_source_hooks.dir_opened(
						   fd, e->dev, e->ino)
					 : -1,
				 __ATOMIC_RELAXED);
}

int backing_get_dir(uint64_t nodeid, int *fd, struct fdent **ref)
{
	struct dc_inode *inode;
	struct fdent *e, *mine;
	int victims[8], newfd = -1, extra = -1, err;
	unsigned nv = 0, i;

	*ref = NULL;
	err = rfs_source_check();
	if (err)
		return err;
	if (nodeid == DC_ROOT_ID) {
		*fd = rfs.root_fd;
		return 0;
	}
	inode = dc_inode_get(rfs.dc, nodeid);
	if (!inode)
		return -ESTALE;
	if (dc_inode_type(inode) != S_IFDIR) {
		dc_inode_put(inode);
		return -ENOTDIR;
	}
	e = dc_inode_private(inode);
	if (!e) {
		mine = calloc(1, sizeof(*mine));
		if (!mine) {
			dc_inode_put(inode);
			return -ENOMEM;
		}
		mine->inode = inode;
		dc_inode_key(inode, &mine->dev, &mine->ino);
		mine->fd = -1;
		mine->token = TOKEN_NONE;
		CDS_INIT_LIST_HEAD(&mine->lru);
		e = dc_inode_set_private(inode, mine);
		if (e != mine)
			free(mine);
	}
	pthread_mutex_lock(&fdc_lock);
	if (e->fd < 0) {
		pthread_mutex_unlock(&fdc_lock);
		/* open without the lock: it walks a path in the kernel */
		newfd = open_dir(inode);
		if (newfd < 0) {
			dc_inode_put(inode);
			return newfd;
		}
		hook_once(e, newfd);
		pthread_mutex_lock(&fdc_lock);
		if (e->fd < 0) {
			e->fd = newfd;
			fdc_open++;
		} else {
			extra = newfd; /* another thread opened it meanwhile */
		}
	}
	e->refs++;
	cds_list_del(&e->lru);
	cds_list_add(&e->lru, &fdc_lru);
	*fd = e->fd;
	evict_locked(victims, &nv, 8);
	pthread_mutex_unlock(&fdc_lock);
	for (i = 0; i < nv; i++)
		close(victims[i]);
	if (extra >= 0)
		close(extra);
	*ref = e; /* keeps our inode reference until backing_put_dir */
	return 0;
}

bool backing_dir_hook_now(uint64_t nodeid)
{
	struct dc_inode *inode;
	struct fdent *e, *ref;
	bool added = false;
	int fd;

	inode = dc_inode_get(rfs.dc, nodeid);
	if (!inode)
		return false;
	e = dc_inode_private(inode);
	if (!e || __atomic_load_n(&e->token, __ATOMIC_RELAXED) == TOKEN_NONE) {
		/* opening its fd runs the hook (hook_once) */
		if (!backing_get_dir(nodeid, &fd, &ref)) {
			backing_put_dir(ref);
			added = true;
		}
	}
	dc_inode_put(inode);
	return added;
}

void backing_put_dir(struct fdent *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&fdc_lock);
	e->refs--;
	pthread_mutex_unlock(&fdc_lock);
	dc_inode_put(e->inode);
}

void backing_pin_dir(uint64_t nodeid)
{
	struct fdent *ref;
	int fd;

	if (backing_get_dir(nodeid, &fd, &ref) || !ref)
		return;
	pthread_mutex_lock(&fdc_lock);
	ref->pinned = true;
	pthread_mutex_unlock(&fdc_lock);
	backing_put_dir(ref);
}

int backing_dir_dup(uint64_t nodeid)
{
	struct dc_inode *inode = dc_inode_get(rfs.dc, nodeid);
	struct fdent *e;
	int fd = -ESTALE;

	if (!inode)
		return -ESTALE;
	e = dc_inode_private(inode);
	if (e) {
		pthread_mutex_lock(&fdc_lock);
		/* pinned only: any other cached fd may be of a directory
		 * removed in SOURCE, which must answer ESTALE at once */
		if (e->fd >= 0 && e->pinned) {
			fd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0)
				fd = -errno;
		}
		pthread_mutex_unlock(&fdc_lock);
	}
	dc_inode_put(inode);
	return fd;
}

/* The dcache frees a directory inode: drop its fd.  No borrowers exist. */
void backing_release(void *backend, struct dc_inode *inode, void *priv)
{
	struct fdent *e = priv;
	int fd;

	(void)backend;
	(void)inode;
	pthread_mutex_lock(&fdc_lock);
	fd = e->fd;
	if (fd >= 0) {
		cds_list_del(&e->lru);
		fdc_open--;
	}
	pthread_mutex_unlock(&fdc_lock);
	if (fd >= 0)
		close(fd);
	if (rfs_source_hooks.dir_released)
		rfs_source_hooks.dir_released(e->token);
	free(e);
}

/* Parent fd and name of dentry @d (referenced). */
int backing_locate_dentry(struct dentry *d, int *dirfd, char *name,
			  struct fdent **ref)
{
	struct dentry *p = dentry_parent(d);
	struct dc_inode *pi;
	int err;

	*ref = NULL;
	err = rfs_source_check();
	if (err) {
		dentry_put(p);
		return err;
	}
	if (p == d) { /* the root */
		dentry_put(p);
		*dirfd = rfs.root_fd;
		name[0] = '\0';
		return 0;
	}
	pi = dentry_inode(p);
	dentry_put(p);
	if (!pi)
		return -ESTALE;
	dentry_name_copy(d, name);
	err = backing_get_dir(dc_inode_nodeid(pi), dirfd, ref);
	dc_inode_put(pi);
	return err;
}

int backing_locate(uint64_t nodeid, int *dirfd, char *name, struct fdent **ref)
{
	struct dc_inode *inode;
	struct dentry *d;
	int err;

	*ref = NULL;
	err = rfs_source_check();
	if (err)
		return err;
	if (nodeid == DC_ROOT_ID) {
		*dirfd = rfs.root_fd;
		name[0] = '\0';
		return 0;
	}
	inode = dc_inode_get(rfs.dc, nodeid);
	if (!inode)
		return -ESTALE;
	d = dc_inode_alias(inode);
	dc_inode_put(inode);
	if (!d)
		return -ESTALE;
	err = backing_locate_dentry(d, dirfd, name, ref);
	dentry_put(d);
	return err;
}

/* ---- hooks ---- */

struct rfs_source_hooks rfs_source_hooks;

void rfs_source_set_hooks(const struct rfs_source_hooks *h)
{
	rfs_source_hooks = *h;
}
