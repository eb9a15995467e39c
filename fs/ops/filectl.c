/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/filectl.c - requests on an open file other than data transfer:
 * FALLOCATE, COPY_FILE_RANGE, LSEEK and IOCTL.  Like file.c, they act on
 * the open's verified backing fd (fi->fh).
 */
#include "ops/ops_i.h"
#include "coherence/coherence.h"
#include "source/source.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* ---- space, copies, holes ------------------------------------------------ */

void rfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t offset,
		   off_t length, struct fuse_file_info *fi)
{
	struct rfs_saved saved = {0};
	bool killpriv;
	int err = 0;

	rfs_thread_enter();
	killpriv = rfs_data_as_caller(req, (int)fi->fh);
	if (killpriv)
		err = rfs_as_caller(req, &saved);
	if (!err) {
		err = fallocate((int)fi->fh, mode, offset, length) < 0 ? -errno
								       : 0;
		rfs_as_daemon(&saved);
	}
	rfs_attr_changed(ino);
	if (killpriv)
		rfs_queue_inval_attr(ino);
	rfs_reply_err(req, err);
}

void rfs_copy_file_range(fuse_req_t req, fuse_ino_t ino_in, off_t off_in,
			 struct fuse_file_info *fi_in, fuse_ino_t ino_out,
			 off_t off_out, struct fuse_file_info *fi_out,
			 size_t len, int flags)
{
	struct rfs_saved saved = {0};
	bool saved_killpriv;
	ssize_t n;
	int err;

	(void)ino_in;
	rfs_thread_enter();
	if ((saved_killpriv = rfs_data_as_caller(req, (int)fi_out->fh))) {
		err = rfs_as_caller(req, &saved);
		if (err) {
			rfs_reply_err(req, err);
			return;
		}
	}
	n = copy_file_range((int)fi_in->fh, &off_in, (int)fi_out->fh, &off_out,
			    len, (unsigned)flags);
	err = n < 0 ? -errno : 0;
	rfs_as_daemon(&saved);
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	rfs_attr_changed(ino_out);
	if (saved_killpriv)
		rfs_queue_inval_attr(ino_out);
	fuse_reply_write(req, (size_t)n);
}

void rfs_lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
	       struct fuse_file_info *fi)
{
	off_t res;

	(void)ino;
	rfs_thread_enter();
	if (rfs.o.writeback) {
		/*
		 * Dirty pages in the kernel are not in SOURCE yet, so its
		 * holes would be wrong: ENOSYS makes the kernel answer
		 * itself (all data up to its size), for good.
		 */
		rfs_reply_err(req, -ENOSYS);
		return;
	}
	res = lseek((int)fi->fh, off, whence);
	if (res < 0)
		rfs_reply_err(req, -errno);
	else
		fuse_reply_lseek(req, res);
}

/* ---- ioctl ----------------------------------------------------------------- */

/*
 * Only the inode flag ioctls pass to SOURCE: FS_IOC_GETFLAGS/SETFLAGS and
 * FS_IOC_FSGETXATTR/FSSETXATTR (chattr, lsattr, xfs_io).  The kernel's
 * FUSE sends them (restricted, with fixed buffer sizes) when it reads or
 * changes the flags of a file or directory; the VFS checked ownership and
 * CAP_LINUX_IMMUTABLE already, and the change runs as the caller, so
 * SOURCE decides again as for the caller.  Every other ioctl is ENOTTY:
 * their arguments may be pointers into the caller's memory, and their
 * effects are not known here.
 */
void rfs_ioctl(fuse_req_t req, fuse_ino_t ino, unsigned int cmd, void *arg,
	       struct fuse_file_info *fi, unsigned flags, const void *in_buf,
	       size_t in_bufsz, size_t out_bufsz)
{
	unsigned ucmd = cmd;
	struct rfs_saved saved = {0};
	union {
		int flags;
		struct fsxattr fsx;
	} v;
	size_t size, out = 0;
	bool set;
	int fd, err;

	(void)arg;
	rfs_thread_enter();
	switch (ucmd) {
	case FS_IOC_GETFLAGS:
	case FS_IOC_SETFLAGS:
		size = sizeof(v.flags);
		set = ucmd == FS_IOC_SETFLAGS;
		break;
	case FS_IOC_FSGETXATTR:
	case FS_IOC_FSSETXATTR:
		size = sizeof(v.fsx);
		set = ucmd == FS_IOC_FSSETXATTR;
		break;
	default:
		rfs_reply_err(req, -ENOTTY);
		return;
	}
	if (flags & (FUSE_IOCTL_UNRESTRICTED | FUSE_IOCTL_COMPAT)) {
		rfs_reply_err(req, -ENOTTY);
		return;
	}
	if (set ? in_bufsz < size : out_bufsz < size) {
		rfs_reply_err(req, -EINVAL);
		return;
	}
	memset(&v, 0, sizeof(v));
	if (set)
		memcpy(&v, in_buf, size);
	/* a directory's handle is not an fd (readdir.c): open it anew */
	fd = (flags & FUSE_IOCTL_DIR)
		     ? backing_open(ino, O_RDONLY | O_DIRECTORY)
		     : (int)fi->fh;
	if (fd < 0) {
		rfs_reply_err(req, fd);
		return;
	}
	err = set ? rfs_as_caller(req, &saved) : 0;
	if (!err) {
		err = ioctl(fd, ucmd, &v) < 0 ? -errno : 0;
		rfs_as_daemon(&saved);
	}
	if (flags & FUSE_IOCTL_DIR)
		close(fd);
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	if (set) {
		/*
		 * The ctime moved, and the kernel keeps the attributes it has
		 * (for an hour with coherence=watch): tell it before the
		 * caller's chattr returns and stats.  Attributes only, no
		 * pages: the kernel takes no lock a request holds for this,
		 * so the handler may send it.
		 */
		rfs_attr_changed(ino);
		fuse_lowlevel_notify_inval_inode(rfs.se, ino, -1, 0);
	} else {
		out = size;
	}
	fuse_reply_ioctl(req, 0, out ? &v : NULL, out);
}
