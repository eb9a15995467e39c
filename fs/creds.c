/* SPDX-License-Identifier: MIT */
/*
 * fs/creds.c - acting with the caller's identity.
 *
 * When the daemon runs as root, a request that creates an object switches
 * the worker thread's fsuid, fsgid and supplementary groups to the
 * caller's for the creating syscall, so the object is owned by the caller
 * (with SOURCE's own rules: setgid directories, default ACLs) and SOURCE
 * checks the caller's rights.  The switch uses the raw syscalls: they act
 * on the calling thread only (glibc's setgroups() would change every
 * thread of the process).  Run as a normal user, nothing is switched.
 */
#include "rcufs.h"

#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RFS_MAX_GROUPS 256

static bool is_root(void)
{
	static int root = -1;

	if (root < 0)
		root = geteuid() == 0;
	return root;
}

int rfs_as_caller(fuse_req_t req, struct rfs_saved *s)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	gid_t groups[RFS_MAX_GROUPS];
	int n;

	s->switched = false;
	if (!is_root() || (ctx->uid == 0 && ctx->gid == 0))
		return 0;
	n = fuse_req_getgroups(req, RFS_MAX_GROUPS, groups);
	if (n < 0 || n > RFS_MAX_GROUPS)
		n = 0; /* unknown: the caller's primary group only */
	if (syscall(SYS_setgroups, n, groups) < 0)
		return -errno;
	syscall(SYS_setfsgid, ctx->gid);
	syscall(SYS_setfsuid, ctx->uid);
	s->switched = true;
	return 0;
}

void rfs_as_daemon(struct rfs_saved *s)
{
	if (!s->switched)
		return;
	syscall(SYS_setfsuid, 0);
	syscall(SYS_setfsgid, 0);
	syscall(SYS_setgroups, 0, NULL);
	s->switched = false;
}
