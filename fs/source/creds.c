/* SPDX-License-Identifier: MIT */
/*
 * fs/source/creds.c - acting with the caller's identity.
 *
 * Run as root (with allow_other, every account uses the mount), the daemon
 * performs each permission-relevant syscall on SOURCE as the caller of the
 * request: the worker thread's fsuid, fsgid and supplementary groups are
 * switched to the caller's around that one syscall, so that SOURCE itself
 * decides, with its own rules, what the caller gets there: ownership of
 * new objects, setgid-directory inheritance, default ACLs, access ACLs,
 * sticky directories, chown/chmod rules and the clearing of setuid/setgid
 * on writes and truncates (a non-zero fsuid drops the filesystem
 * capabilities CAP_FSETID, CAP_FOWNER, CAP_DAC_OVERRIDE... from the
 * thread's effective set; going back to fsuid 0 raises them again).
 * Everything else (locating objects, the directory-fd cache, stat for the
 * cache, verifying an fd) runs as the daemon, so a shared cached fd is
 * never opened with one caller's rights and served to another.
 *
 * Which handlers switch (fs/LOCKING.md has the table): MKNOD, MKDIR,
 * SYMLINK, CREATE, LINK, UNLINK, RMDIR, RENAME, SETATTR (chmod, chown,
 * truncate, utimes), OPEN, OPENDIR, SETXATTR, REMOVEXATTR, and WRITE,
 * FALLOCATE and COPY_FILE_RANGE when the file has a setuid or setgid bit
 * (libfuse turns on FUSE_CAP_HANDLE_KILLPRIV: the kernel leaves clearing
 * them to us, and the backing filesystem does it exactly as for the
 * caller only if the syscall runs with the caller's credentials).
 * LOOKUP, GETATTR, READLINK and ACCESS answered from the dcache never
 * switch: with default_permissions (the default) the kernel checked the
 * caller against the attributes (and, with FUSE_CAP_POSIX_ACL, the ACLs)
 * before sending the request.  Without default_permissions the kernel
 * checks nothing, so ACCESS, GETXATTR/LISTXATTR and the parent's search
 * permission on LOOKUP are decided on SOURCE as the caller (rfs_caller_may)
 * unless the cached attributes decide them exactly (caller is root or the
 * owner: ACLs never change the owner class).
 *
 * The switch uses the raw syscalls: setfsuid/setfsgid and SYS_setgroups
 * act on the calling thread only (glibc's setgroups() would change every
 * thread of the process, broadcasting with a signal).  setfsuid and
 * setfsgid report no error (they return the previous id), so each is made
 * a second time with the same id, which returns the id in effect: a switch
 * to the caller that did not take (no CAP_SETUID/CAP_SETGID) fails the
 * request with EPERM instead of running it as root; a switch back that
 * did not take stops the daemon (set_fsid, restore_failed).
 *
 * Cost and caching (per thread, no locks, no shared state):
 * - fuse_req_getgroups() reads /proc/PID/task/PID/status: three syscalls
 *   and the kernel formatting the whole status file.  The list read for
 *   (pid, uid, gid) is kept for RFS_GROUPS_TTL_NS, so a caller issuing
 *   many requests pays it once per period.  This is safe with
 *   default_permissions: the kernel checked every request against the
 *   caller's current credentials already, and the groups only shape what
 *   SOURCE does on top (setgid stripping, chgrp to a member group).
 *   Without default_permissions SOURCE is the only judge, so the list is
 *   read for every request (a process that dropped a group must lose its
 *   rights at once).
 * - The caller's groups stay installed when the thread goes back to
 *   fsuid 0: with fsuid 0 the thread has the filesystem capabilities,
 *   which override every decision supplementary groups take part in on a
 *   local filesystem, and the next request from the same caller then needs
 *   no setgroups (which allocates and commits new credentials).  (On a
 *   root-squashing NFS SOURCE the daemon's own lookups would carry the
 *   last caller's groups.)
 * - So a repeated request from the same caller costs eight cheap
 *   syscalls (setfsgid, setfsuid, and back; each made twice, see below).
 *
 * The caller's umask.  With FUSE_CAP_POSIX_ACL the kernel sends modes
 * without the umask applied (FUSE_CAP_DONT_MASK) and the umask beside
 * them, because a default ACL on the parent replaces the umask.  Only the
 * backing filesystem knows whether the parent has one, so each worker
 * thread gets a private umask (unshare(CLONE_FS), once) that is set to
 * the caller's around a creating syscall; SOURCE then applies either the
 * default ACL or the umask, as for the caller.
 *
 * Run as a normal user nothing is switched: every request acts as that
 * user (main() says so at start-up).
 */
#include "source/source_i.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define RFS_MAX_GROUPS 256
#define RFS_GROUPS_TTL_NS 1000000000ull

/* Set once by rfs_creds_init() / rfs_init() before requests; read-only. */
static bool switching;	 /* the daemon runs as root: act as callers */
static bool caller_mask; /* the kernel left the umask to us */

/* Per-thread state: touched only by its own thread. */
struct tcred {
	bool have; /* groups[] is installed on this thread */
	pid_t pid; /* whose list it is */
	uid_t uid;
	gid_t gid;
	uint64_t stamp; /* CLOCK_MONOTONIC_COARSE ns when read */
	int ngroups;
	int fs_private; /* 1: own umask (CLONE_FS unshared), -1: failed */
	mode_t umask;	/* this thread's umask when fs_private > 0 */
	gid_t groups[RFS_MAX_GROUPS];
};
static __thread struct tcred tc;

bool rfs_creds_init(void)
{
	switching = geteuid() == 0;
	return switching;
}

void rfs_creds_set_caller_umask(bool on)
{
	caller_mask = on;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * The thread cannot become the daemon (fsuid 0) again: it would go on
 * locating objects and filling the shared directory-fd cache with a
 * caller's rights.  That needs CAP_SETUID lost under us; nothing sound is
 * left to do but stop (the mount then answers ENOTCONN).
 */
static void restore_failed(void)
{
	rfs_error("cannot switch a worker back to the daemon's identity "
		  "(fsuid/fsgid 0): stopping");
	abort();
}

/* Does the request act as someone else than the daemon (root)? */
static bool must_switch(const struct fuse_ctx *ctx)
{
	return switching && (ctx->uid != 0 || ctx->gid != 0);
}

bool rfs_caller_is_other(fuse_req_t req)
{
	return must_switch(fuse_req_ctx(req));
}

/* Install the caller's supplementary groups on this thread (cached). */
static int install_groups(fuse_req_t req, const struct fuse_ctx *ctx)
{
	gid_t groups[RFS_MAX_GROUPS];
	uint64_t now = now_ns();
	int n;

	if (tc.have && rfs.o.default_permissions && tc.pid == ctx->pid &&
	    tc.uid == ctx->uid && tc.gid == ctx->gid &&
	    now - tc.stamp < RFS_GROUPS_TTL_NS)
		return 0;
	n = fuse_req_getgroups(req, RFS_MAX_GROUPS, groups);
	if (n < 0)
		n = 0; /* unknown (the caller is gone): its primary group only */
	else if (n > RFS_MAX_GROUPS)
		n = RFS_MAX_GROUPS; /* the first ones; fewer rights, not more */
	if (!tc.have || tc.ngroups != n ||
	    memcmp(tc.groups, groups, (size_t)n * sizeof(gid_t))) {
		tc.have = false;
		if (syscall(SYS_setgroups, (size_t)n, groups) < 0)
			return -errno;
		memcpy(tc.groups, groups, (size_t)n * sizeof(gid_t));
		tc.ngroups = n;
	}
	tc.have = true;
	tc.pid = ctx->pid;
	tc.uid = ctx->uid;
	tc.gid = ctx->gid;
	tc.stamp = now;
	return 0;
}

/*
 * Set this thread's fsuid (@nr SYS_setfsuid) or fsgid (SYS_setfsgid) to
 * @id.  Neither call reports failure: each returns the previous value.  So
 * the call is made again with the same @id, which changes nothing and
 * returns the value now in effect.  0 or -EPERM.
 */
static int set_fsid(long nr, unsigned id)
{
	syscall(nr, id);
	return (unsigned)syscall(nr, id) == id ? 0 : -EPERM;
}

int rfs_as_caller(fuse_req_t req, struct rfs_saved *s)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	int err;

	s->switched = false;
	if (!must_switch(ctx))
		return 0;
	err = install_groups(req, ctx);
	if (err)
		return err;
	/* gid first: the gid may be changed only while fsuid is 0 */
	err = set_fsid(SYS_setfsgid, ctx->gid);
	if (!err) {
		err = set_fsid(SYS_setfsuid, ctx->uid);
		if (err && set_fsid(SYS_setfsgid, 0))
			restore_failed();
	} else if (set_fsid(SYS_setfsgid, 0)) {
		restore_failed();
	}
	if (err) {
		static bool warned;

		/* once: every such request fails the same way */
		if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
			rfs_warn("cannot act as uid %u gid %u (no "
				 "CAP_SETUID/CAP_SETGID?): requests of other "
				 "users fail with EPERM",
				 (unsigned)ctx->uid, (unsigned)ctx->gid);
		return err;
	}
	s->switched = true;
	return 0;
}

void rfs_as_daemon(struct rfs_saved *s)
{
	if (!s->switched)
		return;
	/* the groups stay installed (see the top of the file) */
	if (set_fsid(SYS_setfsuid, 0) || set_fsid(SYS_setfsgid, 0))
		restore_failed();
	s->switched = false;
}

mode_t rfs_caller_umask(fuse_req_t req, mode_t mode)
{
	mode_t um = fuse_req_ctx(req)->umask & 0777;

	if (!caller_mask)
		return mode; /* the kernel applied it already */
	if (tc.fs_private == 0) {
		/* a private fs_struct: umask is per process otherwise */
		tc.fs_private = unshare(CLONE_FS) == 0 ? 1 : -1;
		if (tc.fs_private > 0) {
			umask(0);
			tc.umask = 0;
		}
	}
	if (tc.fs_private < 0)
		/* exact unless the parent has a default ACL */
		return mode & ~um;
	if (tc.umask != um) {
		umask(um);
		tc.umask = um;
	}
	return mode;
}

int rfs_caller_may(fuse_req_t req, fuse_ino_t ino, const struct dc_attr *a,
		   int mask)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct rfs_saved saved;
	unsigned bits;
	int fd, err;

	mask &= R_OK | W_OK | X_OK;
	if (!mask)
		return 0;
	if (ctx->uid == 0)
		/* root: anything but executing a file with no x bit */
		return (mask & X_OK) && !S_ISDIR(a->mode) && !(a->mode & 0111)
			       ? -EACCES
			       : 0;
	if (ctx->uid == a->uid) {
		/* the owner class: mode bits == ACL_USER_OBJ */
		bits = (a->mode >> 6) & 7;
		return ((unsigned)mask & ~bits) ? -EACCES : 0;
	}
	if (!switching) {
		/* a user daemon cannot act as others: decide from the bits */
		bits = a->mode & 7;
		if ((gid_t)a->gid == ctx->gid)
			bits = (a->mode >> 3) & 7;
		return ((unsigned)mask & ~bits) ? -EACCES : 0;
	}
	/* groups and ACLs: SOURCE decides, for the caller */
	fd = backing_open_path(ino, NULL);
	if (fd < 0)
		return fd;
	err = rfs_as_caller(req, &saved);
	if (!err) {
		/* on the object itself: no search permission on its parent */
		err = syscall(SYS_faccessat2, fd, "", mask,
			      AT_EACCESS | AT_EMPTY_PATH) < 0
			      ? -errno
			      : 0;
		rfs_as_daemon(&saved);
	}
	close(fd);
	return err;
}
