/* SPDX-License-Identifier: MIT */
/*
 * fs/backing.c - reaching SOURCE: the dcache backend ops, a bounded cache
 * of directory fds, and verified access to single objects.
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
#include "rcufs.h"
#include "fstype.h" /* NETWORK-HOOK */

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
	int wd; /* atomic: inotify watch (fs/watch.c); WD_NONE: not tried */
	bool pinned; /* fdc_lock: never evicted (backing_pin_dir) */
};

#define WD_NONE (-2)

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

void backing_proc_path(int fd, char buf[64])
{
	snprintf(buf, 64, "/proc/self/fd/%d", fd);
}

static int verify(int fd, uint64_t dev, uint64_t ino, struct stat *out)
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
	err = verify(fd, dev, ino, NULL);
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
static void watch_once(struct fdent *e, int fd)
{
	int expect = WD_NONE;

	if (__atomic_compare_exchange_n(&e->wd, &expect, -1, false,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		__atomic_store_n(&e->wd, watch_dir_get(fd, e->dev, e->ino),
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
	inode = dcache_inode_get(rfs.dc, nodeid);
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
		mine->wd = WD_NONE;
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
		watch_once(e, newfd);
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

void backing_watch_new(uint64_t nodeid, mode_t mode, struct dc_attr *attr)
{
	struct dc_inode *inode;
	struct fdent *e, *ref;
	struct dc_attr fresh;
	bool added = false;
	int fd;

	if (!S_ISDIR(mode) || nodeid == DC_ROOT_ID || !watch_inotify())
		return;
	inode = dcache_inode_get(rfs.dc, nodeid);
	if (!inode)
		return;
	e = dc_inode_private(inode);
	if (!e || __atomic_load_n(&e->wd, __ATOMIC_RELAXED) == WD_NONE) {
		/* opening its fd watches it (watch_once) */
		if (!backing_get_dir(nodeid, &fd, &ref)) {
			backing_put_dir(ref);
			added = true;
		}
	}
	dc_inode_put(inode);
	if (!added)
		return;
	/* a change between the stat that cached them and the watch */
	dcache_inval_inode(rfs.dc, nodeid, DC_INVAL_ATTR, DC_SRC_WATCH);
	if (!dcache_getattr(rfs.dc, nodeid, 0, &fresh))
		*attr = fresh;
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
	struct dc_inode *inode = dcache_inode_get(rfs.dc, nodeid);
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
static void backing_release(void *backend, struct dc_inode *inode, void *priv)
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
	watch_dir_put(e->wd);
	free(e);
}

/* Parent fd and name of dentry @d (referenced). */
static int locate_dentry(struct dentry *d, int *dirfd, char *name,
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
	inode = dcache_inode_get(rfs.dc, nodeid);
	if (!inode)
		return -ESTALE;
	d = dc_inode_alias(inode);
	dc_inode_put(inode);
	if (!d)
		return -ESTALE;
	err = locate_dentry(d, dirfd, name, ref);
	dentry_put(d);
	return err;
}

static int key_of(uint64_t nodeid, uint64_t *dev, uint64_t *ino)
{
	struct dc_inode *inode = dcache_inode_get(rfs.dc, nodeid);

	if (!inode)
		return -ESTALE;
	dc_inode_key(inode, dev, ino);
	dc_inode_put(inode);
	return 0;
}

/*
 * Truncate the verified open file @fd as O_TRUNC in @flags asks: ftruncate
 * marks mtime and ctime as O_TRUNC does, even for an empty file.  O_RDONLY
 * | O_TRUNC truncates too, given write permission: then through a
 * write-only reopen of the same object, which checks that permission.  Run
 * as whoever opened @fd (the caller), so that SOURCE decides the permission
 * and the clearing of setuid/setgid as for an open with O_TRUNC.
 */
static int trunc_fd(int fd, int flags)
{
	char proc[64];
	int wfd, err;

	if ((flags & O_ACCMODE) != O_RDONLY)
		return ftruncate(fd, 0) < 0 ? -errno : 0;
	backing_proc_path(fd, proc);
	wfd = open(proc, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (wfd < 0)
		return -errno;
	err = ftruncate(wfd, 0) < 0 ? -errno : 0;
	close(wfd);
	return err;
}

/*
 * After an open made with O_NONBLOCK and without O_TRUNC (open_flags) and
 * verified: give @fd the status flags asked for (O_NONBLOCK off unless
 * @flags has it) and apply O_TRUNC.  Closes @fd on failure.
 */
static int open_finish(int fd, int flags)
{
	int fl, err = 0;

	if (!(flags & O_NONBLOCK)) {
		fl = fcntl(fd, F_GETFL);
		if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
			err = -errno;
	}
	if (!err && (flags & O_TRUNC))
		err = trunc_fd(fd, flags);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * What the first open of an object is made with: nothing irreversible
 * before the object is verified (DESIGN.md §7), so no O_TRUNC, and
 * O_NONBLOCK, so that a FIFO swapped in under the name does not block the
 * worker (opened, it fails verification; a FIFO with no reader answers
 * ENXIO at once).  O_PATH opens nothing.
 */
static int open_flags(int flags)
{
	if (flags & O_PATH)
		return flags | O_NOFOLLOW | O_CLOEXEC;
	return (flags & ~O_TRUNC) | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC;
}

/*
 * Open the object of the verified O_PATH fd @opath (attributes @st) with
 * open(2) @flags, through its magic link, which leads to that object and
 * nothing else: no O_NONBLOCK needed, since its type is known.  OPEN only
 * ever asks for regular files and directories (the kernel opens special
 * files itself), so anything else is a stale object: -ESTALE.  Then as
 * open_finish (O_TRUNC).  Runs as whoever the open is for.
 */
static int open_via(int opath, const struct stat *st, int flags)
{
	char proc[64];
	int fd;

	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return -ESTALE;
	backing_proc_path(opath, proc);
	fd = open(proc, (flags & ~(O_TRUNC | O_NOFOLLOW)) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* opened with the caller's own O_NONBLOCK: nothing to clear */
	return open_finish(fd, flags | O_NONBLOCK);
}

int backing_open_existing(int dirfd, const char *name, int flags)
{
	struct stat st;
	int opath, fd;

	/* O_PATH opens nothing: no FIFO rendezvous, no device */
	opath = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (opath < 0)
		return errno == ENOENT ? -ESTALE : -errno; /* gone again */
	if (fstat(opath, &st) < 0)
		fd = -errno;
	else if (!S_ISREG(st.st_mode))
		fd = -ESTALE; /* the kernel looks it up and opens it itself */
	else
		fd = open_via(opath, &st, flags & ~(O_CREAT | O_EXCL));
	close(opath);
	return fd;
}

static int open_verified(uint64_t nodeid, int flags, struct stat *st)
{
	char name[NAME_MAX + 1];
	struct stat pst;
	struct fdent *ref;
	uint64_t dev, ino;
	int dirfd, fd, err;

	if (flags & O_CREAT)
		return -EINVAL;
	err = key_of(nodeid, &dev, &ino);
	if (err)
		return err;
	err = backing_locate(nodeid, &dirfd, name, &ref);
	if (err)
		return err;
	fd = openat(dirfd, name[0] ? name : ".", open_flags(flags));
	err = fd < 0 ? -errno : 0;
	backing_put_dir(ref);
	if (err == -EWOULDBLOCK && !(flags & O_NONBLOCK)) {
		/*
		 * O_NONBLOCK met a lease being broken: verify through an
		 * O_PATH fd, then open that object and wait, as natively.
		 */
		fd = open_verified(nodeid, O_PATH, &pst);
		if (fd < 0)
			return fd;
		err = open_via(fd, &pst, flags);
		close(fd);
		return err;
	}
	if (err)
		/* ENXIO: a FIFO with no reader (or a socket) is there now:
		 * the kernel opens those itself, never through OPEN */
		return err == -ENOENT || err == -ENXIO ? -ESTALE : err;
	err = verify(fd, dev, ino, st);
	if (err) {
		close(fd);
		return err;
	}
	return flags & O_PATH ? fd : open_finish(fd, flags);
}

int backing_open_path(uint64_t nodeid, struct stat *st)
{
	return open_verified(nodeid, O_PATH, st);
}

int backing_open(uint64_t nodeid, int flags)
{
	return open_verified(nodeid, flags, NULL);
}

int backing_open_as(uint64_t nodeid, int flags, fuse_req_t req)
{
	struct rfs_saved saved;
	struct stat st;
	int opath, fd, err;

	if (!rfs_caller_is_other(req))
		return open_verified(nodeid, flags, NULL);
	if (flags & O_CREAT)
		return -EINVAL;
	/* verified as the daemon; then only the open itself (and the
	 * truncation) as the caller */
	opath = open_verified(nodeid, O_PATH, &st);
	if (opath < 0)
		return opath;
	err = rfs_as_caller(req, &saved);
	if (err) {
		close(opath);
		return err;
	}
	fd = open_via(opath, &st, flags);
	rfs_as_daemon(&saved);
	close(opath);
	return fd;
}

int backing_stat_at(int dirfd, const char *name, struct dc_attr *attr)
{
	struct stat st;

	if (fstatat(dirfd, name[0] ? name : "", &st,
		    AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH)) < 0)
		return -errno;
	dc_attr_from_stat(attr, &st);
	return 0;
}

/* ---- the dcache backend ops ---- */

static int be_lookup(void *backend, struct dentry *dir, const char *name,
		     size_t len, struct dc_attr *attr)
{
	struct dc_inode *di = dentry_inode(dir);
	char buf[NAME_MAX + 1];
	struct fdent *ref;
	int fd, err;

	(void)backend;
	if (!di)
		return -ENOENT;
	memcpy(buf, name, len); /* the walk's components are not terminated */
	buf[len] = '\0';
	err = backing_get_dir(dc_inode_nodeid(di), &fd, &ref);
	dc_inode_put(di);
	if (err)
		return err == -ENOTDIR ? -ENOTDIR : err;
	err = backing_stat_at(fd, buf, attr);
	if (!err && attr->dev != rfs.root_dev) /* NETWORK-HOOK */
		rfs_remote_check_dev(fd, buf, attr->dev);
	if (!err && attr->dev != rfs.root_dev && S_ISDIR(attr->mode))
		/* a filesystem mounted inside SOURCE: watched too? */
		watch_check_dev(fd, buf, attr->dev);
	backing_put_dir(ref);
	return err;
}

static int be_getattr(void *backend, struct dentry *d, struct dc_attr *attr)
{
	char name[NAME_MAX + 1];
	struct fdent *ref;
	int dirfd, err;

	(void)backend;
	err = locate_dentry(d, &dirfd, name, &ref);
	if (err)
		return err;
	err = backing_stat_at(dirfd, name, attr);
	backing_put_dir(ref);
	return err;
}

/*
 * The name may hold another object by now (a rename or exchange in SOURCE
 * behind our back): read the link through an O_PATH fd verified to be the
 * object @d's inode stands for, never whatever the name holds now.
 */
static ssize_t be_readlink(void *backend, struct dentry *d, char *buf,
			   size_t size)
{
	char name[NAME_MAX + 1];
	struct dc_inode *inode = dentry_inode(d);
	struct fdent *ref;
	uint64_t dev, ino;
	ssize_t n;
	int dirfd, fd, err;

	(void)backend;
	if (!inode)
		return -ESTALE;
	dc_inode_key(inode, &dev, &ino);
	dc_inode_put(inode);
	err = locate_dentry(d, &dirfd, name, &ref);
	if (err)
		return err;
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	backing_put_dir(ref);
	if (err)
		return err == -ENOENT ? -ESTALE : err;
	err = verify(fd, dev, ino, NULL);
	if (err) {
		close(fd);
		return err;
	}
	n = readlinkat(fd, "", buf, size);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static off_t be_readdir(void *backend, struct dentry *dir, off_t pos,
			dc_filldir_t fill, void *ctx)
{
	struct dc_inode *di = dentry_inode(dir);
	char *buf;
	struct fdent *ref;
	long n, i;
	int fd, dfd, err, stop = 0;

	(void)backend;
	if (!di)
		return -ENOENT;
	err = backing_get_dir(dc_inode_nodeid(di), &fd, &ref);
	dc_inode_put(di);
	if (err)
		return err;
	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = dfd < 0 ? -errno : 0;
	backing_put_dir(ref);
	if (err)
		return err;
	buf = malloc(32768);
	if (!buf) {
		close(dfd);
		return -ENOMEM;
	}
	if (lseek(dfd, pos, SEEK_SET) < 0) {
		err = -errno;
		goto out;
	}
	while (!stop && (n = syscall(SYS_getdents64, dfd, buf, 32768)) > 0) {
		for (i = 0; i < n && !stop;) {
			struct linux_dirent64 *de = (void *)(buf + i);
			size_t len = strlen(de->d_name);

			i += de->d_reclen;
			if ((len == 1 && de->d_name[0] == '.') ||
			    (len == 2 && !strcmp(de->d_name, ".."))) {
				pos = de->d_off;
				continue;
			}
			err = fill(ctx, de->d_name, len, NULL);
			if (err) {
				stop = 1;
				if (err > 0)
					err = 0;
				break;
			}
			pos = de->d_off;
		}
	}
	if (!stop && n < 0)
		err = -errno;
out:
	free(buf);
	close(dfd);
	return err ? err : pos;
}

const struct dc_backend_ops rfs_backing_ops = {
	.lookup = be_lookup,
	.getattr = be_getattr,
	.readlink = be_readlink,
	.readdir = be_readdir,
	.release = backing_release,
};
