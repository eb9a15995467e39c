/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/dir.c - namespace changes: MKNOD, MKDIR, UNLINK, RMDIR, SYMLINK,
 * RENAME, LINK (listing directories: readdir.c).
 *
 * Mutations run relative to the parent's borrowed directory fd with *at()
 * calls on a single name component that never follow a final symlink, so
 * nothing planted in SOURCE can lead outside it.  After the backend change
 * succeeded the cache is updated in the same handler (write-through,
 * DESIGN.md §8): the new object is stat'ed and instantiated, a removed
 * name turns negative, a rename moves the cached dentry.
 */
#include "ops/ops_i.h"
#include "coherence/coherence.h"
#include "source/source.h"

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
	watch_new_node(res.nodeid, attr.mode, &res.attr);
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
