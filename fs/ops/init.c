/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/init.c - INIT and DESTROY: what the daemon asks of the kernel
 * (capabilities, the OPENDIR and umask behaviour) once, before any other
 * request (the kernel sends none before INIT is answered).
 */
#include "ops/ops_i.h"
#include "coherence/coherence.h"
#include "source/source.h"
#include "passthrough/passthrough.h" /* PASSTHROUGH hook */

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
	} else if (!rfs.o.default_permissions &&
		   (conn->capable & FUSE_CAP_DONT_MASK)) {
		/* SOURCE enforces the ACLs; a default ACL of the parent
		 * must replace the umask there too, so it is applied there */
		conn->want |= FUSE_CAP_DONT_MASK;
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
	 * watcher running), or for a bounded time (timeout mode: the
	 * notifier drops each listing when the timeouts expire,
	 * rfs_listing_read; so does it, at the remote bound, for a remote
	 * filesystem mounted inside SOURCE later), and checks the read
	 * permission itself (default_permissions).  Should the watcher fall
	 * back to timeouts
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
	    (conn->want & FUSE_CAP_AUTO_INVAL_DATA) &&
	    (rfs_kernel_may_cache() || rfs_listings_bounded()))
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
