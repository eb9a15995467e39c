/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/readdir.c - directory listing: OPENDIR, READDIR, READDIRPLUS,
 * RELEASEDIR, FSYNCDIR.
 *
 * Listing.  OPENDIR opens a real directory fd and keeps a getdents64
 * buffer with it.  The offsets given to the kernel are the d_off cookies
 * of getdents64, so a READDIR at any offset the kernel got from us can be
 * served by lseek(2) to it; a READDIR continuing where the last one
 * stopped is served from the buffer without a seek.  An entry that does
 * not fit stays in the buffer for the next call.
 */
#include "ops/ops_i.h"
#include "coherence/coherence.h"
#include "source/source.h"
#include "ops/plusfill.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RFS_DIRBUF 32768

struct rfs_linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/*
 * An open directory (fi->fh); or, when the kernel opens directories
 * without OPENDIR (rfs.no_opendir, fi->fh 0), one READDIR's own on its
 * stack, opened for that request alone.
 */
struct rfs_dir {
	pthread_mutex_t lock; /* the fields below; held across getdents */
	int fd;
	off_t pos;  /* cookie of the entry at buf + cur (0 = start) */
	size_t len; /* bytes of getdents64 output in buf */
	size_t cur; /* next unconsumed entry in buf */
	/* no_opendir: when this READDIR began reading SOURCE (the kernel
	 * keeps what it returns: rfs_listing_read); 0 with a handle */
	uint64_t kept_since;
	char buf[RFS_DIRBUF];
};

static struct rfs_dir *dir_of(const struct fuse_file_info *fi)
{
	return (struct rfs_dir *)(uintptr_t)fi->fh;
}

/* A new open file of directory @ino (its own position), or -errno. */
static int dir_open(fuse_ino_t ino)
{
	struct fdent *ref;
	int dirfd, fd, err;

	err = backing_get_dir(ino, &dirfd, &ref);
	if (err)
		return err;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	err = fd < 0 ? -errno : fd;
	backing_put_dir(ref);
	return err;
}

void rfs_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_dir *d;
	int fd, err;

	rfs_thread_enter();
	if (rfs.no_opendir) {
		/* the first one: from now on the kernel opens them itself */
		rfs_reply_err(req, -ENOSYS);
		return;
	}
	if (rfs_caller_is_other(req))
		/* as the caller: read permission (no_default_permissions) */
		fd = backing_open_as(ino, O_RDONLY | O_DIRECTORY, req);
	else
		fd = dir_open(ino);
	err = fd < 0 ? fd : 0;
	if (err) {
		rfs_reply_err(req, err);
		return;
	}
	d = malloc(sizeof(*d));
	if (!d) {
		close(fd);
		rfs_reply_err(req, -ENOMEM);
		return;
	}
	err = pthread_mutex_init(&d->lock, NULL);
	if (err) {
		free(d);
		close(fd);
		rfs_reply_err(req, -err);
		return;
	}
	d->fd = fd;
	d->pos = 0;
	d->len = 0;
	d->cur = 0;
	d->kept_since = 0;
	fi->fh = (uint64_t)(uintptr_t)d;
	/* the kernel may keep the listing: a change made directly in SOURCE
	 * drops it (watcher: notify_inval_inode of the directory), one made
	 * through the mount too (the kernel's own directory version) */
	fi->cache_readdir = fi->keep_cache =
		rfs_kernel_may_cache_ino(ino) && !rfs.atime_exact;
	/* reachable for fstat & co. after an rmdir (rfs_file_dup) */
	if (rfs_open_add(ino, fd)) {
		pthread_mutex_destroy(&d->lock);
		close(fd);
		free(d);
		rfs_reply_err(req, -ENOMEM);
		return;
	}
	if (fuse_reply_open(req, fi) == -ENOENT) {
		/* interrupted: no RELEASEDIR will come */
		rfs_open_del(ino, fd);
		pthread_mutex_destroy(&d->lock);
		close(fd);
		free(d);
	}
}

void rfs_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct rfs_dir *d = dir_of(fi);

	rfs_thread_enter();
	rfs_open_del(ino, d->fd);
	close(d->fd);
	pthread_mutex_destroy(&d->lock);
	free(d);
	rfs_reply_err(req, 0);
}

void rfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		  struct fuse_file_info *fi)
{
	struct rfs_dir *d = dir_of(fi);
	int fd, r;

	rfs_thread_enter();
	fd = d ? d->fd : dir_open(ino);
	if (fd < 0) {
		rfs_reply_err(req, fd);
		return;
	}
	r = datasync ? fdatasync(fd) : fsync(fd);
	rfs_reply_err(req, r < 0 ? -errno : 0);
	if (!d)
		close(fd);
}

/*
 * The next entry of @d at or after the kernel's offset (caller holds
 * d->lock and has positioned it), reading more when the buffer is used
 * up.  0 with *de set, 1 at the end, or a negative errno.
 */
static int dir_peek(struct rfs_dir *d, struct rfs_linux_dirent64 **de)
{
	long n;

	if (d->cur >= d->len) {
		n = syscall(SYS_getdents64, d->fd, d->buf, sizeof(d->buf));
		if (n < 0)
			return -errno;
		d->len = (size_t)n;
		d->cur = 0;
		if (n == 0)
			return 1;
	}
	*de = (struct rfs_linux_dirent64 *)(d->buf + d->cur);
	return 0;
}

static void dir_consume(struct rfs_dir *d, const struct rfs_linux_dirent64 *de)
{
	d->cur += de->d_reclen;
	d->pos = de->d_off;
}

/* Start listing at the kernel's offset @off.  Caller holds d->lock. */
static int dir_seek(struct rfs_dir *d, off_t off)
{
	if (off == d->pos)
		return 0; /* continuing where the last call stopped */
	if (lseek(d->fd, off, SEEK_SET) < 0)
		return -errno;
	d->pos = off;
	d->len = 0;
	d->cur = 0;
	return 0;
}

static bool is_dot_or_dotdot(const char *name)
{
	return name[0] == '.' &&
	       (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

/*
 * listxattrat(2) (Linux 6.13): the xattr names of @name in @dirfd without
 * an fd of its own; numbers from 424 on are the same on every
 * architecture but alpha.
 */
#ifndef SYS_listxattrat
#define SYS_listxattrat 465
#endif
static _Atomic bool no_listxattrat; /* ENOSYS seen: never again; relaxed */

/*
 * For a filling READDIRPLUS while ls -l-like GETXATTRs come (plusfill.h):
 * record "no extended attributes" for the entry just filled into @res,
 * when SOURCE has none for it.  The object is reached by name, so it is
 * checked to be the one filled, unchanged (inode number and ctime, which
 * every xattr change sets), after the question; @since is the dcache
 * epoch taken after the fill, so an invalidation meanwhile cancels it.
 * Any failure just leaves the GETXATTR to ask.
 */
static void prefetch_noxattr(int dirfd, const char *name,
			     const struct dc_result *res)
{
	uint64_t since;
	struct stat st;
	long n;

	if (atomic_load_explicit(&no_listxattrat, memory_order_relaxed) ||
	    dcache_noxattr(rfs.dc, res->nodeid))
		return;
	since = dcache_epoch(rfs.dc);
	n = syscall(SYS_listxattrat, dirfd, name, AT_SYMLINK_NOFOLLOW, NULL,
		    (size_t)0);
	if (n < 0 && errno == ENOSYS)
		atomic_store_explicit(&no_listxattrat, true,
				      memory_order_relaxed);
	if (n != 0 || fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return;
	if ((uint64_t)st.st_ino == res->attr.ino &&
	    st.st_ctim.tv_sec == res->attr.ctime_sec &&
	    st.st_ctim.tv_nsec == res->attr.ctime_nsec)
		dcache_set_noxattr(rfs.dc, res->nodeid, since);
}

/*
 * Look up @name in @ino for READDIRPLUS with a kernel reference.  1 when
 * it vanished (skip it), 0 with @e filled (e->ino 0 when the cache could
 * not answer: the entry is listed without a node).  An entry the dcache
 * does not hold is fetched from SOURCE only when @fetch says so or it is
 * a directory or of unknown type (fs/plusfill.h); otherwise it is listed
 * without a node and *@skipped counts it.
 */
static int plus_lookup(fuse_ino_t ino, const struct rfs_linux_dirent64 *de,
		       struct fuse_entry_param *e, bool searchable, bool fetch,
		       int xattr_dirfd, unsigned *skipped)
{
	unsigned flags = DC_WANT_ATTR | DC_WANT_KREF;
	struct dc_result res;
	int err = -EACCES;

	if (searchable)
		err = dcache_lookup(rfs.dc, ino, de->d_name, flags | DC_CACHED,
				    &res);
	if (err == -ENOENT) {
		/* a missing name the dcache still holds, but SOURCE has just
		 * listed it: the negative entry is out of date (a kept
		 * listing would otherwise lack the name for its bound) */
		dcache_inval_entry(rfs.dc, ino, de->d_name, DC_SRC_EXPIRED);
		err = -EAGAIN;
	}
	if (err == -EAGAIN && !fetch && de->d_type != DT_DIR &&
	    de->d_type != DT_UNKNOWN) {
		(*skipped)++;
		err = -EAGAIN; /* listed without a node, below */
	} else if (err == -EAGAIN) {
		err = dcache_lookup(rfs.dc, ino, de->d_name, flags, &res);
	}
	if (err == -ENOENT)
		return 1;
	/* not searchable by the caller, or skipped: names only */
	if (err) {
		/* list it anyway; a LOOKUP of it reports the error */
		memset(e, 0, sizeof(*e));
		e->attr.st_ino = de->d_ino;
		e->attr.st_mode = DTTOIF(de->d_type);
		return 0;
	}
	watch_new_node(res.nodeid, res.attr.mode, &res.attr);
	if (xattr_dirfd >= 0)
		prefetch_noxattr(xattr_dirfd, de->d_name, &res);
	rfs_fill_entry(e, &res);
	return 0;
}

/*
 * Cache hints for the two entries after @de in @d's buffer, which
 * plus_lookup will look up (and, filling, instantiate): deep for the
 * next one, shallow for the one after (dcache_prefetch).  The misses of
 * the tables' lines then overlap with the work on @de: they were a
 * sixth of the daemon's samples in a cold walk (perf: the bucket and
 * first node of d_lookup_rcu and key_lookup_rcu).  Caller holds d->lock.
 */
static void prefetch_next(fuse_ino_t ino, const struct rfs_dir *d,
			  const struct rfs_linux_dirent64 *de, bool fetch)
{
	size_t at = (size_t)((const char *)de - d->buf) + de->d_reclen;
	const struct rfs_linux_dirent64 *n;
	bool inst;
	int i;

	for (i = 0; i < 2 && at < d->len; i++) {
		n = (const struct rfs_linux_dirent64 *)(d->buf + at);
		/* the inode tables only for a name plus_lookup may fill */
		inst = fetch || n->d_type == DT_DIR || n->d_type == DT_UNKNOWN;
		if (!is_dot_or_dotdot(n->d_name))
			dcache_prefetch(rfs.dc, ino, n->d_name,
					inst ? n->d_ino : 0, i == 0);
		at += n->d_reclen;
	}
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct rfs_dir *d, bool plus)
{
	struct rfs_linux_dirent64 *de = NULL;
	struct fuse_entry_param e;
	uint64_t *refs = NULL;
	size_t used = 0, nrefs = 0, maxrefs = 0, ent, i;
	unsigned skipped = 0;
	bool searchable, fetch = false;
	int xattr_dirfd = -1;
	char *out;
	int err;

	searchable = !plus || rfs_may_search(req, ino) == 0;
	/* with an entry timeout of 0 the kernel keeps no name it is given:
	 * every one would come back as a LOOKUP, so filling only costs */
	if (plus && rfs_tmo(&rfs.o.entry_timeout) > 0)
		fetch = plusfill_want(ino);
	/* as get_or_list answers from the cache: only with default_permissions */
	if (fetch && rfs.o.default_permissions && plusfill_want_xattr())
		xattr_dirfd = d->fd;
	out = malloc(size ? size : 1);
	if (plus) {
		/* every entry is at least as large as a one-byte name's */
		maxrefs = size / fuse_add_direntry_plus(req, NULL, 0, "x", NULL,
							0) +
			  1;
		refs = malloc(maxrefs * sizeof(*refs));
	}
	if (!out || (plus && !refs)) {
		free(out);
		free(refs);
		rfs_reply_err(req, -ENOMEM);
		return;
	}
	pthread_mutex_lock(&d->lock);
	err = dir_seek(d, off);
	while (!err) {
		err = dir_peek(d, &de);
		if (err)
			break;
		if (!plus) {
			memset(&e.attr, 0, sizeof(e.attr));
			e.attr.st_ino = de->d_ino;
			e.attr.st_mode = DTTOIF(de->d_type);
			ent = fuse_add_direntry(req, out + used, size - used,
						de->d_name, &e.attr, de->d_off);
			if (ent > size - used)
				break;
		} else if (is_dot_or_dotdot(de->d_name)) {
			/* no node: the kernel does not count these */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = de->d_ino;
			e.attr.st_mode = DTTOIF(de->d_type);
			ent = fuse_add_direntry_plus(req, out + used,
						     size - used, de->d_name,
						     &e, de->d_off);
			if (ent > size - used)
				break;
		} else {
			/* check the room before taking a reference */
			ent = fuse_add_direntry_plus(req, NULL, 0, de->d_name,
						     NULL, 0);
			if (ent > size - used)
				break;
			if (searchable)
				prefetch_next(ino, d, de, fetch);
			if (plus_lookup(ino, de, &e, searchable, fetch,
					xattr_dirfd, &skipped)) {
				dir_consume(d, de); /* vanished: skip it */
				continue;
			}
			ent = fuse_add_direntry_plus(req, out + used,
						     size - used, de->d_name,
						     &e, de->d_off);
			if (ent > size - used) {
				if (e.ino)
					dcache_forget(rfs.dc, e.ino, 1);
				break;
			}
			if (e.ino && nrefs < maxrefs)
				refs[nrefs++] = e.ino;
		}
		used += ent;
		dir_consume(d, de);
	}
	pthread_mutex_unlock(&d->lock);
	if (err == 1 || (err < 0 && used))
		err = 0; /* the end, or an error the next call will report */
	/* also for the terminal empty reply: it completes the kernel's copy
	 * (only a complete copy is served), so a drop queued now removes
	 * every page of it, however long the earlier replies took to get
	 * there */
	if (!err && d->kept_since)
		rfs_listing_read(ino, d->kept_since, off == 0);
	if (err) {
		rfs_reply_err(req, err);
	} else if (fuse_reply_buf(req, out, used)) {
		/* the kernel took none of the references */
		for (i = 0; i < nrefs; i++)
			dcache_forget(rfs.dc, refs[i], 1);
	} else if (plus) {
		plusfill_listed(ino, skipped);
	}
	free(refs);
	free(out);
}

/*
 * READDIR and READDIRPLUS.  Without a handle (rfs.no_opendir) the listing
 * is read from a new open file positioned at @off: the kernel, which keeps
 * what it gets, asks for a directory once, in order, until an empty
 * answer; each request costs an openat and, past the start, an lseek.
 */
static void readdir_any(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi, bool plus)
{
	struct rfs_dir once; /* not zeroed: 32 KiB of buffer */

	rfs_thread_enter();
	if (fi->fh) {
		do_readdir(req, ino, size, off, dir_of(fi), plus);
		return;
	}
	once.kept_since = rfs_now_ns(); /* before anything is read */
	once.fd = dir_open(ino);
	if ((once.fd == -ENOENT || once.fd == -ESTALE) && off) {
		/* removed (or moved) in SOURCE directly while the kernel
		 * holds it open.  ENOENT past the start: glibc's readdir
		 * takes it for the end, and the kernel does not complete its
		 * copy with it (an empty reply would: a partial listing,
		 * kept).  At offset 0 the error as it is (ESTALE), below: an
		 * empty reply would be kept as an empty listing, which no
		 * drop removes (a cached listing of size 0 is served without
		 * its pages) */
		rfs_reply_err(req, -ENOENT);
		return;
	}
	if (once.fd < 0) {
		rfs_reply_err(req, once.fd);
		return;
	}
	pthread_mutex_init(&once.lock, NULL); /* cannot fail (no attributes) */
	once.pos = 0;
	once.len = 0;
	once.cur = 0;
	do_readdir(req, ino, size, off, &once, plus);
	pthread_mutex_destroy(&once.lock);
	close(once.fd);
}

/* Listing may have moved the directory's atime on SOURCE (see rfs_read). */
static void listed(fuse_ino_t ino)
{
	if (rfs.diratime_moves)
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
}

void rfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi)
{
	readdir_any(req, ino, size, off, fi, false);
	listed(ino);
}

void rfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	readdir_any(req, ino, size, off, fi, true);
	listed(ino);
}
