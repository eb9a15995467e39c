/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/entry.c - LOOKUP, FORGET, GETATTR, SETATTR, READLINK, ACCESS,
 * STATFS (INIT: init.c).
 *
 * The metadata handlers try the dcache's cached-only path first
 * (DC_CACHED: RCU, no reference for GETATTR/ACCESS/READLINK and negative
 * LOOKUP, no syscall, no allocation), and only on -EAGAIN call again
 * without it (references, the backend).  Replies are sent after the dcache
 * call returns, that is after the RCU read section ended.
 */
#include "ops/ops_i.h"
#include "coherence/coherence.h"
#include "coherence/remote.h"
#include "source/source.h"
#include "ops/plusfill.h"
#include "passthrough/passthrough.h" /* PASSTHROUGH hook */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

static int getattr_any(fuse_ino_t ino, unsigned flags, struct dc_attr *a);

int rfs_may_search(fuse_req_t req, fuse_ino_t dir)
{
	struct dc_attr a;
	int err;

	if (rfs.o.default_permissions || !rfs_caller_is_other(req))
		return 0; /* the kernel checked (or the daemon is the caller) */
	err = getattr_any(dir, 0, &a);
	return err ? err : rfs_caller_may(req, dir, &a, X_OK);
}

/*
 * dcache_rename with DC_RENAME_EXCHANGE swaps the two cached entries, which
 * is right only if no lookup of either name cached the new state between
 * renameat2 and the swap.  The kernel's directory locks keep out a fresh
 * LOOKUP and READDIRPLUS of both parents (it holds them across RENAME),
 * but not a LOOKUP that revalidates a name it keeps (d_revalidate takes no
 * directory lock).  So every LOOKUP that may fill the cache (the slow path)
 * holds this lock shared, and an exchange holds it exclusively from
 * renameat2 to the end of dcache_rename (rfs_rename).  Writers first: a
 * stream of lookups cannot hold an exchange off.  The cached-only path
 * never takes it: it fills nothing.
 */
pthread_rwlock_t rfs_exchange_lock =
	PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;

void rfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	unsigned flags = DC_WANT_ATTR | DC_WANT_KREF;
	struct dc_result res;
	bool slow = false;
	int err;

	rfs_thread_enter();
	/* without default_permissions: the caller must be able to search */
	err = rfs_may_search(req, parent);
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	err = dcache_lookup(rfs.dc, parent, name, flags | DC_CACHED, &res);
	if (err == -EAGAIN) {
		slow = true;
		pthread_rwlock_rdlock(&rfs_exchange_lock);
		err = dcache_lookup(rfs.dc, parent, name, flags, &res);
	} else {
		rfs_req_mark(RFS_REQ_HIT);
	}
	if (err == -ESTALE && !rfs_source_check()) {
		/*
		 * The name was found holding another object than the cached
		 * one (changed in SOURCE behind our back); the stale entry is
		 * unhashed now: look it up afresh, once.  A parent that is
		 * itself gone gives -ESTALE again.
		 */
		if (!slow) {
			slow = true;
			pthread_rwlock_rdlock(&rfs_exchange_lock);
		}
		err = dcache_lookup(rfs.dc, parent, name, flags, &res);
	}
	if (slow)
		pthread_rwlock_unlock(&rfs_exchange_lock);
	if (err == -ENOENT)
		rfs_req_mark(RFS_REQ_NEG);
	if (!err) {
		watch_new_node(res.nodeid, res.attr.mode, &res.attr);
		if (slow && !S_ISDIR(res.attr.mode))
			plusfill_lookup(parent); /* a listed name was used */
	}
	if (!err || (err == -ENOENT && rfs_tmo(&rfs.o.negative_timeout) > 0)) {
		/* -ENOENT with a timeout: inode 0, cacheable by the kernel */
		rfs_reply_entry(req, &res);
		return;
	}
	rfs_reply_err(req, err);
}

void rfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	rfs_thread_enter();
	if (dcache_forget(rfs.dc, ino, nlookup) == -EINVAL)
		rfs_warn("forget of %lu: kernel dropped more references than "
			 "it was given",
			 (unsigned long)ino);
	fuse_reply_none(req);
}

void rfs_forget_multi(fuse_req_t req, size_t count,
		      struct fuse_forget_data *forgets)
{
	size_t i;

	rfs_thread_enter();
	for (i = 0; i < count; i++)
		dcache_forget(rfs.dc, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

/* when the attributes getattr_any found expire in the dcache: the reply's
 * timeout is no longer (issue 15).  The calling thread's own. */
static __thread uint64_t getattr_until;

static int getattr_any(fuse_ino_t ino, unsigned flags, struct dc_attr *a)
{
	int err = dcache_getattr_until(rfs.dc, ino, flags | DC_CACHED, a,
				       &getattr_until);

	if (err == -EAGAIN)
		err = dcache_getattr_until(rfs.dc, ino, flags, a,
					   &getattr_until);
	else
		rfs_req_mark(RFS_REQ_HIT);
	return err;
}

void rfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dc_attr a;
	struct stat st;
	int err;

	rfs_thread_enter();
	pt_getattr(ino); /* PASSTHROUGH hook: size and times moved unseen */
	err = getattr_any(ino, 0, &a);
	if (err == -ESTALE) {
		/* unlinked but open: an open file still answers, and so does
		 * a directory kept by rmdir (backing_pin_dir) */
		int fd = fi ? (int)fi->fh : rfs_file_dup(ino), r;

		if (fd == -ESTALE)
			fd = backing_dir_dup(ino);
		if (fd < 0) {
			rfs_reply_err(req, fd);
			return;
		}
		r = fstat(fd, &st) < 0 ? -errno : 0;
		if (!fi)
			close(fd);
		if (r) {
			rfs_reply_err(req, r);
			return;
		}
		fuse_reply_attr(req, &st, 0);
		return;
	}
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	dc_attr_to_stat(&a, &st);
	fuse_reply_attr(
		req, &st,
		rfs_remote_left(getattr_until, rfs_attr_tmo(ino, a.dev)));
}

void rfs_refresh_attr(uint64_t nodeid)
{
	struct dc_attr a;

	dcache_inval_inode(rfs.dc, nodeid, DC_INVAL_ATTR, DC_SRC_LOCAL);
	dcache_getattr(rfs.dc, nodeid, 0, &a);
}

/*
 * With the writeback cache the kernel itself sends the times it kept
 * (on close, from whoever closes, owner or not) after it checked the
 * caller: those run as the daemon.
 */
static bool kernel_times_only(int to_set)
{
	return rfs.o.writeback &&
	       !(to_set & ~(FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME |
			    FUSE_SET_ATTR_CTIME));
}

/*
 * Is changing the mode of @fd to @mode only a loss of setuid and/or
 * setgid?  libfuse 3.14 accepts FUSE_CAP_HANDLE_KILLPRIV but never passes
 * FUSE_HANDLE_KILLPRIV to the kernel, so the kernel clears those bits
 * itself before a write or truncate by an unprivileged caller (the same
 * rules SOURCE applies: CAP_FSETID, setgid only with group execute): a
 * SETATTR of the mode without them, with the writer's identity, which
 * SOURCE would refuse as a chmod when the writer is not the owner.  With
 * default_permissions the kernel refuses a non-owner's chmod itself, so
 * such a request from a non-owner is the kernel's own: it runs as the
 * daemon.  (Without default_permissions a non-owner could thereby drop,
 * never add, those bits.)
 */
static bool drops_privs_only(int fd, mode_t mode)
{
	const mode_t privs = S_ISUID | S_ISGID;
	struct stat st;
	mode_t cur;

	if (fd < 0 || fstat(fd, &st) < 0)
		return false;
	cur = st.st_mode & 07777;
	mode &= 07777;
	return mode != cur && (mode & ~privs) == (cur & ~privs) &&
	       !(mode & ~cur);
}

static int do_setattr(fuse_req_t req, fuse_ino_t ino, const struct stat *attr,
		      int to_set, struct fuse_file_info *fi, struct stat *out)
{
	int fd = fi ? (int)fi->fh : -1, opath = -1, err = 0;
	struct rfs_saved saved = {0};
	char proc[64];
	struct timespec ts[2];

	opath = backing_open_path(ino, NULL);
	if (opath == -ESTALE && fd < 0)
		/* unlinked but open: an open fd serves the f*() calls too */
		opath = rfs_file_dup(ino);
	if (opath < 0 && fd < 0)
		return opath;
	if (opath >= 0)
		backing_proc_path(opath, proc);
	if ((to_set & FUSE_SET_ATTR_MODE) && rfs_caller_is_other(req) &&
	    drops_privs_only(fd >= 0 ? fd : opath, attr->st_mode)) {
		/* the kernel's own clearing of setuid/setgid: as the daemon */
		if ((fd >= 0 ? fchmod(fd, attr->st_mode)
			     : chmod(proc, attr->st_mode)) < 0) {
			err = -errno;
			goto out;
		}
		to_set &= ~FUSE_SET_ATTR_MODE;
	}
	/*
	 * As the caller: SOURCE applies its chmod/chown/utimes rules and
	 * clears setuid/setgid on truncate and chown (HANDLE_KILLPRIV) as
	 * for the caller.
	 */
	if (!kernel_times_only(to_set)) {
		err = rfs_as_caller(req, &saved);
		if (err)
			goto out;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		if ((fd >= 0 ? fchmod(fd, attr->st_mode)
			     : chmod(proc, attr->st_mode)) < 0) {
			err = -errno;
			goto out;
		}
	}
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		uid_t uid =
			to_set & FUSE_SET_ATTR_UID ? attr->st_uid : (uid_t)-1;
		gid_t gid =
			to_set & FUSE_SET_ATTR_GID ? attr->st_gid : (gid_t)-1;

		if ((opath >= 0 ? fchownat(opath, "", uid, gid,
					   AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)
				: fchown(fd, uid, gid)) < 0) {
			err = -errno;
			goto out;
		}
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if ((fd >= 0 ? ftruncate(fd, attr->st_size)
			     : truncate(proc, attr->st_size)) < 0) {
			err = -errno;
			goto out;
		}
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME)) {
		ts[0].tv_sec = 0;
		ts[0].tv_nsec = UTIME_OMIT;
		ts[1] = ts[0];
		if (to_set & FUSE_SET_ATTR_ATIME_NOW)
			ts[0].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_ATIME)
			ts[0] = attr->st_atim;
		if (to_set & FUSE_SET_ATTR_MTIME_NOW)
			ts[1].tv_nsec = UTIME_NOW;
		else if (to_set & FUSE_SET_ATTR_MTIME)
			ts[1] = attr->st_mtim;
		if ((fd >= 0 ? futimens(fd, ts)
			     : utimensat(AT_FDCWD, proc, ts, 0)) < 0) {
			err = -errno;
			goto out;
		}
	}
	rfs_as_daemon(&saved);
	if ((fd >= 0 ? fstat(fd, out) : fstat(opath, out)) < 0)
		err = -errno;
out:
	rfs_as_daemon(&saved);
	if (opath >= 0)
		close(opath);
	return err;
}

void rfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		 struct fuse_file_info *fi)
{
	struct dc_attr a;
	struct stat st;
	int err;

	rfs_thread_enter();
	err = do_setattr(req, ino, attr, to_set, fi, &st);
	if (err) {
		/* a partial change may have happened: forget what we know */
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
		rfs_reply_err(req, err);
		return;
	}
	/* write-through: the cache holds the new attributes now */
	dc_attr_from_stat(&a, &st);
	if (dcache_setattr(rfs.dc, ino, &a))
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
	fuse_reply_attr(req, &st, rfs_attr_tmo(ino, st.st_dev));
}

void rfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	ssize_t n;

	rfs_thread_enter();
	n = dcache_readlink(rfs.dc, ino, DC_CACHED, buf, sizeof(buf));
	if (n == -EAGAIN)
		n = dcache_readlink(rfs.dc, ino, 0, buf, sizeof(buf));
	else
		rfs_req_mark(RFS_REQ_HIT);
	if (n < 0) {
		rfs_reply_err(req, (int)n);
		return;
	}
	if ((size_t)n >= sizeof(buf)) {
		rfs_reply_err(req, -ENAMETOOLONG);
		return;
	}
	fuse_reply_readlink(req, buf);
}

/*
 * Only without default_permissions (the kernel sends no ACCESS otherwise).
 * Root and the owner are answered from the cached attributes (no lock, no
 * syscall: ACLs never change the owner class); anyone else is checked on
 * SOURCE as the caller (rfs_caller_may), so groups and ACLs count as there.
 */
void rfs_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct dc_attr a;
	int err;

	rfs_thread_enter();
	err = getattr_any(ino, DC_FOR_ACCESS, &a);
	if (err || mask == F_OK) {
		rfs_reply_err(req, err);
		return;
	}
	if ((mask & W_OK) && rfs.o.ro) {
		rfs_reply_err(req, -EROFS);
		return;
	}
	rfs_reply_err(req, rfs_caller_may(req, ino, &a, mask));
}

void rfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	rfs_thread_enter();
	if (rfs_source_check()) {
		rfs_reply_err(req, rfs_source_check());
		return;
	}
	if (fstatvfs(rfs.root_fd, &sv) < 0) {
		rfs_reply_err(req, -errno);
		return;
	}
	fuse_reply_statfs(req, &sv);
}
