/* SPDX-License-Identifier: MIT */
/*
 * fs/source/open.c - verified access to single objects: open a cached
 * node, reached relative to its parent's borrowed fd (fdcache.c), and
 * check that what was opened is the object the cache knows
 * ((st_dev, st_ino)), before anything irreversible (O_TRUNC) is done.
 */
#include "source/source_i.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

static int key_of(uint64_t nodeid, uint64_t *dev, uint64_t *ino)
{
	struct dc_inode *inode = dc_inode_get(rfs.dc, nodeid);

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
	err = backing_verify(fd, dev, ino, st);
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
