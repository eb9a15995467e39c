/* SPDX-License-Identifier: MIT */
/*
 * fs/ops_xattr.c - SETXATTR, GETXATTR, LISTXATTR, REMOVEXATTR.
 *
 * The object is reached with a verified O_PATH fd (backing_open_path) and
 * named by its magic link "/proc/self/fd/N": the path calls follow that
 * link to the very object the fd holds (a symlink included, whose target
 * is not followed further), never to anything else in or outside SOURCE.
 * Errors (ENODATA, ERANGE, E2BIG, ENOTSUP, ...) go back as SOURCE gave
 * them.
 */
#include "rcufs.h"

#include <errno.h>
#include <stdlib.h>
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
 * GETXATTR (@name set) or LISTXATTR (@name NULL): with @size 0 reply the
 * size the value needs, else the value (ERANGE when it does not fit).
 */
static void get_or_list(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct rfs_saved saved = {0};
	char proc[64], *buf = NULL;
	ssize_t n;
	int fd, err;

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
