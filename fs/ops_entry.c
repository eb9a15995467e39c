/* SPDX-License-Identifier: MIT */
/*
 * fs/ops_entry.c - LOOKUP, FORGET, GETATTR, SETATTR, READLINK, ACCESS,
 * STATFS, and INIT.
 *
 * The metadata handlers try the dcache's cached-only path first
 * (DC_CACHED: RCU, no reference for GETATTR/ACCESS/READLINK and negative
 * LOOKUP, no syscall, no allocation), and only on -EAGAIN call again
 * without it (references, the backend).  Replies are sent after the dcache
 * call returns, that is after the RCU read section ended.
 */
#include "rcufs.h"
#include "passthrough.h" /* PASSTHROUGH hook */

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* Does SOURCE store POSIX ACLs (ENODATA, not EOPNOTSUPP, for none)? */
static bool source_has_acls(void)
{
	char proc[64];

	backing_proc_path(rfs.root_fd, proc);
	return getxattr(proc, "system.posix_acl_access", NULL, 0) >= 0 ||
	       errno == ENODATA;
}

void rfs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	rfs_thread_enter();
	/* readdirplus and its automatic mode are on by default (both ops) */
	if (!rfs.o.cache_off && (conn->capable & FUSE_CAP_CACHE_SYMLINKS))
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_POSIX_LOCKS)
		conn->want |= FUSE_CAP_POSIX_LOCKS;
	if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
		conn->want |= FUSE_CAP_FLOCK_LOCKS;
	if (rfs.o.writeback && (conn->capable & FUSE_CAP_WRITEBACK_CACHE))
		conn->want |= FUSE_CAP_WRITEBACK_CACHE;
	else
		conn->want &= ~FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * POSIX ACLs, enforced by the kernel from SOURCE's system.posix_acl_*
	 * xattrs (which it reads through GETXATTR and caches), when the kernel
	 * checks permissions anyway.  The kernel then sends modes without the
	 * umask (DONT_MASK): a default ACL of the parent replaces the umask,
	 * and only SOURCE knows, so creates apply the caller's umask on SOURCE
	 * (rfs_caller_umask).  Not when SOURCE has no ACLs: the kernel would
	 * fail permission checks on the EOPNOTSUPP answers.
	 */
	if (rfs.o.default_permissions && (conn->capable & FUSE_CAP_POSIX_ACL) &&
	    (conn->capable & FUSE_CAP_DONT_MASK) && source_has_acls()) {
		conn->want |= FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;
		rfs_creds_set_caller_umask(true);
	}
	/*
	 * No OPENDIR (-o no_opendir, the default): an ENOSYS answer to the
	 * first OPENDIR makes the kernel open
	 * directories itself, with FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR, and
	 * send no RELEASEDIR: two round trips less per directory listed
	 * (OPENDIR 65 us and RELEASEDIR 25 us median, warm find of the bench
	 * tree 0.16 s against native's 0.07 s).  READDIR then comes without a
	 * handle and opens the directory itself (do_readdir).  Only where the
	 * kernel may keep listings anyway (exclusive, or watch with its
	 * watcher running) and checks the read permission itself
	 * (default_permissions).  Should the watcher fall back to timeouts
	 * later, listings stay correct to the attribute timeout: with
	 * AUTO_INVAL_DATA (on by default) the kernel refreshes an expired
	 * directory's attributes when a listing starts, and drops its cached
	 * listing when the mtime changed.  A directory removed through the
	 * mount while open stays open: rmdir keeps its fd (backing_pin_dir)
	 * for fstat and listings; for one removed directly in SOURCE fstat
	 * (and so opendir(3)) fails with ESTALE.  -o opendir turns this
	 * off.
	 */
	if (rfs.o.no_opendir && rfs.o.default_permissions && !rfs.o.cache_off &&
	    (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) &&
	    (conn->want & FUSE_CAP_AUTO_INVAL_DATA) && rfs_kernel_may_cache())
		rfs.no_opendir = true;
	/* zero-copy: WRITE requests spliced in, READ replies spliced out */
	if (conn->capable & FUSE_CAP_SPLICE_READ)
		conn->want |= FUSE_CAP_SPLICE_READ;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	rfs_debug("kernel protocol %u.%u, capable 0x%x, want 0x%x",
		  conn->proto_major, conn->proto_minor, conn->capable,
		  conn->want);
	rfs_debug("no_opendir=%d", rfs.no_opendir);
	rfs_debug("posix_acl=%d dont_mask=%d handle_killpriv=%d",
		  !!(conn->want & FUSE_CAP_POSIX_ACL),
		  !!(conn->want & FUSE_CAP_DONT_MASK),
		  !!(conn->want & FUSE_CAP_HANDLE_KILLPRIV));
	rfs_debug("readdirplus=%d auto=%d cache_symlinks=%d parallel_dirops=%d "
		  "posix_locks=%d flock=%d writeback=%d",
		  !!(conn->want & FUSE_CAP_READDIRPLUS),
		  !!(conn->want & FUSE_CAP_READDIRPLUS_AUTO),
		  !!(conn->want & FUSE_CAP_CACHE_SYMLINKS),
		  !!(conn->want & FUSE_CAP_PARALLEL_DIROPS),
		  !!(conn->want & FUSE_CAP_POSIX_LOCKS),
		  !!(conn->want & FUSE_CAP_FLOCK_LOCKS),
		  !!(conn->want & FUSE_CAP_WRITEBACK_CACHE));
	pt_init(conn); /* PASSTHROUGH hook */
}

void rfs_destroy(void *userdata)
{
	(void)userdata;
}

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
	if (!err)
		backing_watch_new(res.nodeid, res.attr.mode, &res.attr);
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

static int getattr_any(fuse_ino_t ino, unsigned flags, struct dc_attr *a)
{
	int err = dcache_getattr(rfs.dc, ino, flags | DC_CACHED, a);

	if (err == -EAGAIN)
		err = dcache_getattr(rfs.dc, ino, flags, a);
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
	fuse_reply_attr(req, &st, rfs_tmo(&rfs.o.attr_timeout));
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
	fuse_reply_attr(req, &st, rfs_tmo(&rfs.o.attr_timeout));
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
