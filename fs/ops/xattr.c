/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/xattr.c - SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR.
 *
 * The object is reached with a verified O_PATH fd (backing_open_path) and
 * named by its magic link "/proc/self/fd/N": the path calls follow that
 * link to the very object the fd holds (a symlink included, whose target
 * is not followed further), never to anything else in or outside SOURCE.
 * Errors (ENODATA, ERANGE, E2BIG, ENOTSUP, ...) go back as SOURCE gave
 * them.
 */
#include "ops/ops_i.h"
#include "source/source.h"
#include "ops/plusfill.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

/* The object's verified O_PATH fd; for an unlinked but open object, an fd
 * of one of its opens (the /proc/self/fd path works with either). */
static int object_fd(fuse_ino_t ino)
{
	int fd = backing_open_path(ino, NULL);

	return fd == -ESTALE ? rfs_file_dup(ino) : fd;
}

/* SETXATTR (@value set) or REMOVEXATTR (@value NULL) on @ino's object. */
static void modify_xattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags)
{
	struct rfs_saved saved;
	char proc[64];
	int fd, err;

	rfs_thread_enter();
	fd = object_fd(ino);
	if (fd < 0) {
		rfs_reply_err(req, fd);
		return;
	}
	backing_proc_path(fd, proc);
	/*
	 * As the caller: SOURCE decides who may set what (ACLs need the
	 * owner; setting an access ACL clears setgid for a non-member).
	 */
	err = rfs_as_caller(req, &saved);
	if (!err) {
		err = (value ? setxattr(proc, name, value, size, flags)
			     : removexattr(proc, name)) < 0
			      ? -errno
			      : 0;
		rfs_as_daemon(&saved);
	}
	close(fd);
	if (!err)
		/* ctime changed */
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
	rfs_reply_err(req, err);
}

void rfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		  const char *value, size_t size, int flags)
{
	/* an empty value is valid: never pass NULL for a set */
	modify_xattr(req, ino, name, value ? value : "", size, flags);
}

void rfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	modify_xattr(req, ino, name, NULL, 0, 0);
}

/*
 * Names that listxattr shows to us when they are set: for these an object
 * known to have no extended attributes answers ENODATA from the cache.
 * (Filesystems may have names they never list; those always ask.)
 */
static bool listed_namespace(const char *name)
{
	return !strncmp(name, "user.", 5) || !strncmp(name, "security.", 9) ||
	       !strncmp(name, "system.posix_acl_", 17) ||
	       (!strncmp(name, "trusted.", 8) && geteuid() == 0);
}

/*
 * The error for attribute @name of an object with no extended attributes
 * at all.  ENODATA, as SOURCE says; but "security.selinux" gets
 * EOPNOTSUPP on a host where SELinux is not active (no selinuxfs), unless
 * -o exact_xattr_errors.  ls -l asks for it for every entry, and stops
 * asking on a device that answers EOPNOTSUPP (coreutils' getfilecon_cache
 * remembers it by st_dev): one round trip less per entry listed, the
 * whole difference between a warm ls -lR at 3.9x native and at about 1x
 * on the bench tree.  The kernel treats only ENOSYS as "no getxattr at
 * all", so every other attribute keeps working.  The price: ls -l stops
 * showing the "." of a labelled file met after an unlabelled one, and
 * getfattr -n security.selinux says "Operation not supported" for an
 * object with no attributes, where SOURCE says "No such attribute".
 */
static int absent_error(const char *name)
{
	return rfs.selinux_unsupported && !strcmp(name, "security.selinux")
		       ? -EOPNOTSUPP
		       : -ENODATA;
}

/*
 * GETXATTR (@name set) or LISTXATTR (@name NULL): with @size 0 reply the
 * size the value needs, else the value (ERANGE when it does not fit).
 *
 * ls -l asks two attributes of every entry (security.selinux and
 * system.posix_acl_access) and almost every file has none: the dcache
 * remembers "no extended attributes" per inode (dcache_noxattr, valid
 * while its attributes are: a change invalidates both), so those
 * questions cost no syscall once asked.
 */
static void get_or_list(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct rfs_saved saved = {0};
	char proc[64], *buf = NULL;
	uint64_t since;
	ssize_t n;
	int fd, err;

	/* without default_permissions SOURCE judges read permission: ask */
	if (rfs.o.default_permissions && (!name || listed_namespace(name)) &&
	    dcache_noxattr(rfs.dc, ino)) {
		rfs_req_mark(RFS_REQ_HIT);
		if (name)
			rfs_reply_err(req, absent_error(name));
		else if (!size)
			fuse_reply_xattr(req, 0);
		else
			fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (rfs.o.default_permissions && (!name || listed_namespace(name)))
		plusfill_xattr_miss(); /* listings should prefetch (plusfill.h) */
	since = dcache_epoch(rfs.dc);
	fd = object_fd(ino);
	if (fd < 0) {
		rfs_reply_err(req, fd);
		return;
	}
	if (size) {
		buf = malloc(size);
		if (!buf) {
			close(fd);
			rfs_reply_err(req, -ENOMEM);
			return;
		}
	}
	backing_proc_path(fd, proc);
	/* the kernel checked read permission only with default_permissions */
	if (!rfs.o.default_permissions) {
		err = rfs_as_caller(req, &saved);
		if (err) {
			close(fd);
			free(buf);
			rfs_reply_err(req, err);
			return;
		}
	}
	n = name ? getxattr(proc, name, buf, size) : listxattr(proc, buf, size);
	if (n < 0)
		n = -errno;
	rfs_as_daemon(&saved);
	if ((!name && n == 0) ||
	    (name && n == -ENODATA && listed_namespace(name) &&
	     listxattr(proc, NULL, 0) == 0)) {
		dcache_set_noxattr(rfs.dc, ino, since);
		if (name)
			n = absent_error(name);
	}
	close(fd);
	if (n < 0)
		rfs_reply_err(req, (int)n);
	else if (!size)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void rfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	rfs_thread_enter();
	get_or_list(req, ino, name, size);
}

void rfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	rfs_thread_enter();
	get_or_list(req, ino, NULL, size);
}
