/* SPDX-License-Identifier: MIT */
/*
 * fs/source/backend.c - the dcache backend ops (cache/backend.h): how the
 * cache reaches SOURCE on a miss.  Called by the dcache outside RCU read
 * sections, with references on the dentries they are given; they may
 * block (syscalls) and take fdc_lock (through fdcache.c).
 */
#include "source/source_i.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int be_lookup(void *backend, struct dentry *dir, const char *name,
		     size_t len, struct dc_attr *attr)
{
	struct dc_inode *di = dentry_inode(dir);
	char buf[NAME_MAX + 1];
	struct fdent *ref;
	int fd, err;

	(void)backend;
	if (!di)
		return -ENOENT;
	memcpy(buf, name, len); /* the walk's components are not terminated */
	buf[len] = '\0';
	err = backing_get_dir(dc_inode_nodeid(di), &fd, &ref);
	dc_inode_put(di);
	if (err)
		return err == -ENOTDIR ? -ENOTDIR : err;
	err = backing_stat_at(fd, buf, attr);
	if (!err && attr->dev != rfs.root_dev && S_ISDIR(attr->mode))
		/* a filesystem mounted inside SOURCE: watched too? */
		if (rfs_source_hooks.crossed_dev)
			rfs_source_hooks.crossed_dev(fd, buf, attr->dev);
	backing_put_dir(ref);
	return err;
}

static int be_getattr(void *backend, struct dentry *d, struct dc_attr *attr)
{
	char name[NAME_MAX + 1];
	struct fdent *ref;
	int dirfd, err;

	(void)backend;
	err = backing_locate_dentry(d, &dirfd, name, &ref);
	if (err)
		return err;
	err = backing_stat_at(dirfd, name, attr);
	backing_put_dir(ref);
	return err;
}

/*
 * The name may hold another object by now (a rename or exchange in SOURCE
 * behind our back): read the link through an O_PATH fd verified to be the
 * object @d's inode stands for, never whatever the name holds now.
 */
static ssize_t be_readlink(void *backend, struct dentry *d, char *buf,
			   size_t size)
{
	char name[NAME_MAX + 1];
	struct dc_inode *inode = dentry_inode(d);
	struct fdent *ref;
	uint64_t dev, ino;
	ssize_t n;
	int dirfd, fd, err;

	(void)backend;
	if (!inode)
		return -ESTALE;
	dc_inode_key(inode, &dev, &ino);
	dc_inode_put(inode);
	err = backing_locate_dentry(d, &dirfd, name, &ref);
	if (err)
		return err;
	fd = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	err = fd < 0 ? -errno : 0;
	backing_put_dir(ref);
	if (err)
		return err == -ENOENT ? -ESTALE : err;
	err = backing_verify(fd, dev, ino, NULL);
	if (err) {
		close(fd);
		return err;
	}
	n = readlinkat(fd, "", buf, size);
	if (n < 0)
		n = -errno;
	close(fd);
	return n;
}

/* Any context (cache/backend.h): the hook is lock-free. */
static uint64_t be_ttl_cap(void *backend, uint64_t dev)
{
	(void)backend;
	return rfs_source_hooks.ttl_cap ? rfs_source_hooks.ttl_cap(dev)
					: DC_TTL_FOREVER;
}

const struct dc_backend_ops rfs_backing_ops = {
	.lookup = be_lookup,
	.getattr = be_getattr,
	.readlink = be_readlink,
	.release = backing_release,
	.ttl_cap = be_ttl_cap,
};
