/* SPDX-License-Identifier: MIT */
/*
 * fs/ops_dir.c - namespace changes (MKNOD, MKDIR, UNLINK, RMDIR, SYMLINK,
 * RENAME, LINK) and directory listing (OPENDIR, READDIR, READDIRPLUS,
 * RELEASEDIR, FSYNCDIR).
 *
 * Mutations run relative to the parent's borrowed directory fd with *at()
 * calls on a single name component that never follow a final symlink, so
 * nothing planted in SOURCE can lead outside it.  After the backend change
 * succeeded the cache is updated in the same handler (write-through,
 * DESIGN.md §8): the new object is stat'ed and instantiated, a removed
 * name turns negative, a rename moves the cached dentry.
 *
 * Listing.  OPENDIR opens a real directory fd and keeps a getdents64
 * buffer with it.  The offsets given to the kernel are the d_off cookies
 * of getdents64, so a READDIR at any offset the kernel got from us can be
 * served by lseek(2) to it; a READDIR continuing where the last one
 * stopped is served from the buffer without a seek.  An entry that does
 * not fit stays in the buffer for the next call.
 */
#include "rfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- sync and dirsync ---------------------------------------------------- */

int rfs_dirsync(int dirfd)
{
	int fd, err = 0;

	if (!rfs.o.sync && !rfs.o.dirsync)
		return 0;
	/* dirfd is O_PATH: fsync needs a real open */
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* ---- creation ---------------------------------------------------------- */

/*
 * @name was just created in @parent (whose fd is @dirfd): cache it with a
 * kernel reference and reply with the entry.  @link is the symlink target
 * (or NULL).
 */
static void reply_new_entry(fuse_req_t req, fuse_ino_t parent, int dirfd,
			    const char *name, const char *link)
{
	struct dc_result res;
	struct dc_attr attr;
	int err;

	err = backing_stat_at(dirfd, name, &attr);
	if (!err)
		err = dcache_instantiate(rfs.dc, parent, name, &attr, link,
					 DC_WANT_KREF, &res);
	if (err) {
		/* the backend is the truth: forget what we knew of the name */
		dcache_inval_entry(rfs.dc, parent, name, DC_SRC_LOCAL);
		rfs_reply_err(req, err);
		return;
	}
	backing_watch_new(res.nodeid, attr.mode, &res.attr);
	rfs_reply_entry(req, &res);
}

/* Create @name in @parent with mknodat/mkdirat/symlinkat. */
static void do_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev, const char *link)
{
	struct rfs_saved saved;
	struct fdent *ref;
	int dirfd, err, r;

	err = backing_get_dir(parent, &dirfd, &ref);
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	/* owned by the caller, with SOURCE's rules (setgid dirs, ACLs) */
	err = rfs_as_caller(req, &saved);
	if (err) {
		backing_put_dir(ref);
		rfs_reply_err(req, err);
		return;
	}
	if (link) {
		r = symlinkat(link, dirfd, name);
	} else {
		/* the caller's umask, or the parent's default ACL */
		mode = rfs_caller_umask(req, mode);
		if (S_ISDIR(mode))
			r = mkdirat(dirfd, name, mode & 07777);
		else
			r = mknodat(dirfd, name, mode, rdev);
	}
	err = r < 0 ? -errno : 0;
	rfs_as_daemon(&saved);
	if (!err) {
		err = rfs_dirsync(dirfd);
		if (err)
			dcache_inval_entry(rfs.dc, parent, name, DC_SRC_LOCAL);
	}
	if (err) {
		backing_put_dir(ref);
		rfs_reply_err(req, err);
		return;
	}
	reply_new_entry(req, parent, dirfd, name, link);
	backing_put_dir(ref);
}

void rfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	       dev_t rdev)
{
	rfs_thread_enter();
	switch (mode & S_IFMT) {
	case 0:
		mode |= S_IFREG; /* mknod(2): a zero type is a regular file */
		break;
	case S_IFREG:
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		break;
	default:
		rfs_reply_err(req, -EINVAL);
		return;
	}
	do_create(req, parent, name, mode, rdev, NULL);
}

void rfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	rfs_thread_enter();
	do_create(req, parent, name, S_IFDIR | (mode & 07777), 0, NULL);
}

void rfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		 const char *name)
{
	rfs_thread_enter();
	do_create(req, parent, name, S_IFLNK | 0777, 0, link);
}

void rfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
	      const char *newname)
{
	struct rfs_saved saved;
	struct fdent *ref;
	char proc[64];
	int opath, dirfd, err;

	rfs_thread_enter();
	opath = backing_open_path(ino, NULL);
	if (opath < 0) {
		rfs_reply_err(req, opath);
		return;
	}
	err = backing_get_dir(newparent, &dirfd, &ref);
	if (err) {
		close(opath);
		rfs_reply_err(req, err);
		return;
	}
	/* as the caller: protected_hardlinks, quotas, as on SOURCE */
	err = rfs_as_caller(req, &saved);
	if (err)
		goto out_link;
	/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the magic link does not */
	if (linkat(opath, "", dirfd, newname, AT_EMPTY_PATH) < 0) {
		err = -errno;
		if (err == -ENOENT || err == -EPERM) {
			backing_proc_path(opath, proc);
			err = linkat(AT_FDCWD, proc, dirfd, newname,
				     AT_SYMLINK_FOLLOW) < 0
				      ? -errno
				      : 0;
		}
	}
	rfs_as_daemon(&saved);
out_link:
	close(opath);
	if (!err) {
		err = rfs_dirsync(dirfd);
		if (err)
			dcache_inval_entry(rfs.dc, newparent, newname,
					   DC_SRC_LOCAL);
	}
	if (err) {
		backing_put_dir(ref);
		rfs_reply_err(req, err);
		return;
	}
	/* nlink and ctime of the object changed */
	dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
	reply_new_entry(req, newparent, dirfd, newname, NULL);
	backing_put_dir(ref);
}

/* ---- removal and rename ------------------------------------------------ */

/*
 * Will removing @name from @dirfd (or replacing it by a rename) end the
 * object it names?  Then its inode number may be given to a new object at
 * once -- by another worker's create, before this one is back from the
 * syscall -- so the cache must stop taking that number for this object
 * before the removal (dcache_forget_key), and take it back if the removal
 * fails (dcache_rekey).  *@st gets the object.
 */
static bool last_name(int dirfd, const char *name, struct stat *st)
{
	if (fstatat(dirfd, name, st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	return S_ISDIR(st->st_mode) || st->st_nlink <= 1;
}

/*
 * Directory @name in @parent is about to be removed (rmdir, or replaced
 * by a rename).  Without OPENDIR nothing else keeps it open, so a process
 * that holds it open could no longer fstat or list it: keep its fd.
 */
static void pin_cached_dir(fuse_ino_t parent, const char *name)
{
	struct dc_result res;

	if (rfs.no_opendir &&
	    !dcache_lookup(rfs.dc, parent, name, DC_CACHED, &res) && res.nodeid)
		backing_pin_dir(res.nodeid);
}

static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name,
		      int flags)
{
	struct rfs_saved saved;
	struct fdent *ref;
	struct stat st;
	uint64_t unkeyed = 0;
	int dirfd, err;

	rfs_thread_enter();
	err = backing_get_dir(parent, &dirfd, &ref);
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	/* before the removal frees the inode number: see last_name() */
	if (last_name(dirfd, name, &st))
		unkeyed = dcache_forget_key(rfs.dc, st.st_dev, st.st_ino);
	if (flags & AT_REMOVEDIR)
		pin_cached_dir(parent, name);
	/* as the caller: write permission, sticky directories */
	err = rfs_as_caller(req, &saved);
	if (!err) {
		err = unlinkat(dirfd, name, flags) < 0 ? -errno : 0;
		rfs_as_daemon(&saved);
	}
	if (!err) {
		/* -ENOENT: the name was not cached, nothing to update */
		dcache_remove(rfs.dc, parent, name);
		err = rfs_dirsync(dirfd);
	} else {
		dcache_rekey(rfs.dc, unkeyed);
	}
	backing_put_dir(ref);
	rfs_reply_err(req, err);
}

void rfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, 0);
}

void rfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	do_remove(req, parent, name, AT_REMOVEDIR);
}

void rfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fdent *ref1, *ref2;
	struct rfs_saved saved;
	struct stat sst, tst;
	uint64_t unkeyed = 0;
	unsigned dcflags = 0;
	int fd1, fd2, err;

	rfs_thread_enter();
	if (flags &
	    ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) {
		/* anything newer: not supported */
		rfs_reply_err(req, -EINVAL);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		dcflags |= DC_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		dcflags |= DC_RENAME_EXCHANGE;
	err = backing_get_dir(parent, &fd1, &ref1);
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	err = backing_get_dir(newparent, &fd2, &ref2);
	if (err) {
		backing_put_dir(ref1);
		rfs_reply_err(req, err);
		return;
	}
	/* a replaced target that had no other name is gone */
	if (!(flags & RENAME_EXCHANGE) && last_name(fd2, newname, &tst) &&
	    !(fstatat(fd1, name, &sst, AT_SYMLINK_NOFOLLOW) == 0 &&
	      sst.st_dev == tst.st_dev && sst.st_ino == tst.st_ino))
		unkeyed = dcache_forget_key(rfs.dc, tst.st_dev, tst.st_ino);
	/* a directory replaced is removed: kept usable as by rmdir */
	if (unkeyed && S_ISDIR(tst.st_mode))
		pin_cached_dir(newparent, newname);
	/* an exchange keeps cache-filling LOOKUPs out (rfs_exchange_lock) */
	if (flags & RENAME_EXCHANGE)
		pthread_rwlock_wrlock(&rfs_exchange_lock);
	/* as the caller: sticky directories, a moved directory's ".." */
	err = rfs_as_caller(req, &saved);
	if (!err) {
		err = renameat2(fd1, name, fd2, newname, flags) < 0 ? -errno
								    : 0;
		rfs_as_daemon(&saved);
	}
	if (!err &&
	    dcache_rename(rfs.dc, parent, name, newparent, newname, dcflags)) {
		/* the cache could not follow: the backend is the truth */
		dcache_inval_entry(rfs.dc, parent, name, DC_SRC_LOCAL);
		dcache_inval_entry(rfs.dc, newparent, newname, DC_SRC_LOCAL);
	}
	if (flags & RENAME_EXCHANGE)
		pthread_rwlock_unlock(&rfs_exchange_lock);
	if (err)
		dcache_rekey(rfs.dc, unkeyed);
	else if (flags & RENAME_WHITEOUT)
		/* SOURCE made a whiteout where the old name was */
		dcache_inval_entry(rfs.dc, parent, name, DC_SRC_LOCAL);
	if (!err)
		err = rfs_dirsync(fd2);
	if (!err && fd1 != fd2)
		err = rfs_dirsync(fd1);
	backing_put_dir(ref2);
	backing_put_dir(ref1);
	rfs_reply_err(req, err);
}

/* ---- listing ----------------------------------------------------------- */

#define RFS_DIRBUF 32768

struct rfs_linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * An open directory (fi->fh); or, when the kernel opens directories
 * without OPENDIR (rfs.no_opendir, fi->fh 0), one READDIR's own on its
 * stack, opened for that request alone.
 */
struct rfs_dir {
	pthread_mutex_t lock; /* the fields below; held across getdents */
	int fd;
	off_t pos;  /* cookie of the entry at buf + cur (0 = start) */
	size_t len; /* bytes of getdents64 output in buf */
	size_t cur; /* next unconsumed entry in buf */
	char buf[RFS_DIRBUF];
};

static struct rfs_dir *dir_of(const struct fuse_file_info *fi)
{
	return (struct rfs_dir *)(uintptr_t)fi->fh;
}

/* A new open file of directory @ino (its own position), or -errno. */
static int dir_open(fuse_ino_t ino)
{
	struct fdent *ref;
	int dirfd, fd, err;

	err = backing_get_dir(ino, &dirfd, &ref);
	if (err)
		return err;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd < 0 ? -errno : fd;
	backing_put_dir(ref);
	return err;
}

void rfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_dir *d;
	int fd, err;

	rfs_thread_enter();
	if (rfs.no_opendir) {
		/* the first one: from now on the kernel opens them itself */
		rfs_reply_err(req, -ENOSYS);
		return;
	}
	if (rfs_caller_is_other(req))
		/* as the caller: read permission (no_default_permissions) */
		fd = backing_open_as(ino, O_RDONLY | O_DIRECTORY, req);
	else
		fd = dir_open(ino);
	err = fd < 0 ? fd : 0;
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	d = malloc(sizeof(*d));
	if (!d) {
		close(fd);
		rfs_reply_err(req, -ENOMEM);
		return;
	}
	err = pthread_mutex_init(&d->lock, NULL);
	if (err) {
		free(d);
		close(fd);
		rfs_reply_err(req, -err);
		return;
	}
	d->fd = fd;
	d->pos = 0;
	d->len = 0;
	d->cur = 0;
	fi->fh = (uint64_t)(uintptr_t)d;
	/* the kernel may keep the listing: a change made directly in SOURCE
	 * drops it (watcher: notify_inval_inode of the directory), one made
	 * through the mount too (the kernel's own directory version) */
	fi->cache_readdir = fi->keep_cache =
		rfs_kernel_may_cache() && !rfs.atime_exact;
	/* reachable for fstat & co. after an rmdir (rfs_file_dup) */
	if (rfs_open_add(ino, fd)) {
		pthread_mutex_destroy(&d->lock);
		close(fd);
		free(d);
		rfs_reply_err(req, -ENOMEM);
		return;
	}
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* interrupted: no RELEASEDIR will come */
		rfs_open_del(ino, fd);
		pthread_mutex_destroy(&d->lock);
		close(fd);
		free(d);
	}
}

void rfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_dir *d = dir_of(fi);

	rfs_thread_enter();
	rfs_open_del(ino, d->fd);
	close(d->fd);
	pthread_mutex_destroy(&d->lock);
	free(d);
	rfs_reply_err(req, 0);
}

void rfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi)
{
	struct rfs_dir *d = dir_of(fi);
	int fd, r;

	rfs_thread_enter();
	fd = d ? d->fd : dir_open(ino);
	if (fd < 0) {
		rfs_reply_err(req, fd);
		return;
	}
	r = datasync ? fdatasync(fd) : fsync(fd);
	rfs_reply_err(req, r < 0 ? -errno : 0);
	if (!d)
		close(fd);
}

/*
 * The next entry of @d at or after the kernel's offset (caller holds
 * d->lock and has positioned it), reading more when the buffer is used
 * up.  0 with *de set, 1 at the end, or a negative errno.
 */
static int dir_peek(struct rfs_dir *d, struct rfs_linux_dirent64 **de)
{
	long n;

	if (d->cur >= d->len) {
		n = syscall(SYS_getdents64, d->fd, d->buf, sizeof(d->buf));
		if (n < 0)
			return -errno;
		d->len = (size_t)n;
		d->cur = 0;
		if (n == 0)
			return 1;
	}
	*de = (struct rfs_linux_dirent64 *)(d->buf + d->cur);
	return 0;
}

static void dir_consume(struct rfs_dir *d, const struct rfs_linux_dirent64 *de)
{
	d->cur += de->d_reclen;
	d->pos = de->d_off;
}

/* Start listing at the kernel's offset @off.  Caller holds d->lock. */
static int dir_seek(struct rfs_dir *d, off_t off)
{
	if (off == d->pos)
		return 0; /* continuing where the last call stopped */
	if (lseek(d->fd, off, SEEK_SET) < 0)
		return -errno;
	d->pos = off;
	d->len = 0;
	d->cur = 0;
	return 0;
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * Look up @name in @ino for READDIRPLUS with a kernel reference.  1 when
 * it vanished (skip it), 0 with @e filled (e->ino 0 when the cache could
 * not answer: the entry is listed without a node).
 */
static int plus_lookup(fuse_ino_t ino, const struct rfs_linux_dirent64 *de,
		       struct fuse_entry_param *e, bool searchable)
{
	unsigned flags = DC_WANT_ATTR | DC_WANT_KREF;
	struct dc_result res;
	int err = -EACCES;

	if (searchable)
		err = dcache_lookup(rfs.dc, ino, de->d_name, flags | DC_CACHED,
				    &res);
	if (err == -EAGAIN)
		err = dcache_lookup(rfs.dc, ino, de->d_name, flags, &res);
	if (err == -ENOENT)
		return 1;
	/* not searchable by the caller: names only, as readdir on SOURCE */
	if (err) {
		/* list it anyway; a LOOKUP of it reports the error */
		memset(e, 0, sizeof(*e));
		e->attr.st_ino = de->d_ino;
		e->attr.st_mode = DTTOIF(de->d_type);
		return 0;
	}
	backing_watch_new(res.nodeid, res.attr.mode, &res.attr);
	rfs_fill_entry(e, &res);
	return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct rfs_dir *d, bool plus)
{
	struct rfs_linux_dirent64 *de = NULL;
	struct fuse_entry_param e;
	uint64_t *refs = NULL;
	size_t used = 0, nrefs = 0, maxrefs = 0, ent, i;
	bool searchable;
	char *out;
	int err;

	searchable = !plus || rfs_may_search(req, ino) == 0;
	out = malloc(size ? size : 1);
	if (plus) {
		/* every entry is at least as large as a one-byte name's */
		maxrefs = size / fuse_add_direntry_plus(req, NULL, 0, "x", NULL,
							0) +
			  1;
		refs = malloc(maxrefs * sizeof(*refs));
	}
	if (!out || (plus && !refs)) {
		free(out);
		free(refs);
		rfs_reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	err = dir_seek(d, off);
	while (!err) {
		err = dir_peek(d, &de);
		if (err)
			break;
		if (!plus) {
			memset(&e.attr, 0, sizeof(e.attr));
			e.attr.st_ino = de->d_ino;
			e.attr.st_mode = DTTOIF(de->d_type);
			ent = fuse_add_direntry(req, out + used, size - used,
						de->d_name, &e.attr, de->d_off);
			if (ent > size - used)
				break;
		} else if (is_dot_or_dotdot(de->d_name)) {
			/* no node: the kernel does not count these */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = de->d_ino;
			e.attr.st_mode = DTTOIF(de->d_type);
			ent = fuse_add_direntry_plus(req, out + used,
						     size - used, de->d_name,
						     &e, de->d_off);
			if (ent > size - used)
				break;
		} else {
			/* check the room before taking a reference */
			ent = fuse_add_direntry_plus(req, NULL, 0, de->d_name,
						     NULL, 0);
			if (ent > size - used)
				break;
			if (plus_lookup(ino, de, &e, searchable)) {
				dir_consume(d, de); /* vanished: skip it */
				continue;
			}
			ent = fuse_add_direntry_plus(req, out + used,
						     size - used, de->d_name,
						     &e, de->d_off);
			if (ent > size - used) {
				if (e.ino)
					dcache_forget(rfs.dc, e.ino, 1);
				break;
			}
			if (e.ino && nrefs < maxrefs)
				refs[nrefs++] = e.ino;
		}
		used += ent;
		dir_consume(d, de);
	}
	pthread_mutex_unlock(&d->lock);
	if (err == 1 || (err < 0 && used))
		err = 0; /* the end, or an error the next call will report */
	if (err) {
		rfs_reply_err(req, err);
	} else if (fuse_reply_buf(req, out, used)) {
		/* the kernel took none of the references */
		for (i = 0; i < nrefs; i++)
			dcache_forget(rfs.dc, refs[i], 1);
	}
	free(refs);
	free(out);
}

/*
 * READDIR and READDIRPLUS.  Without a handle (rfs.no_opendir) the listing
 * is read from a new open file positioned at @off: the kernel, which keeps
 * what it gets, asks for a directory once, in order, until an empty
 * answer; each request costs an openat and, past the start, an lseek.
 */
static void readdir_any(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi, bool plus)
{
	struct rfs_dir once; /* not zeroed: 32 KiB of buffer */

	rfs_thread_enter();
	if (fi->fh) {
		do_readdir(req, ino, size, off, dir_of(fi), plus);
		return;
	}
	once.fd = dir_open(ino);
	if (once.fd == -ENOENT || once.fd == -ESTALE) {
		/* removed while the kernel holds it open, and not kept by
		 * rmdir (backing_pin_dir): removed in SOURCE directly.
		 * Empty, as SOURCE would list it through an open fd. */
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (once.fd < 0) {
		rfs_reply_err(req, once.fd);
		return;
	}
	pthread_mutex_init(&once.lock, NULL); /* cannot fail (no attributes) */
	once.pos = 0;
	once.len = 0;
	once.cur = 0;
	do_readdir(req, ino, size, off, &once, plus);
	pthread_mutex_destroy(&once.lock);
	close(once.fd);
}

/* Listing may have moved the directory's atime on SOURCE (see rfs_read). */
static void listed(fuse_ino_t ino)
{
	if (rfs.diratime_moves)
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
}

void rfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	readdir_any(req, ino, size, off, fi, false);
	listed(ino);
}

void rfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	readdir_any(req, ino, size, off, fi, true);
	listed(ino);
}
