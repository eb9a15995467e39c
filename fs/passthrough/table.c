/* SPDX-License-Identifier: MIT */
/*
 * fs/passthrough/table.c - FUSE passthrough I/O (Linux 6.9+): the module
 * (this comment), the per-inode table, the open decisions, the replies,
 * the statistics.  devio.c: /dev/fuse (INIT, reply patches, set-up).
 *
 * What the kernel offers.  A daemon with CAP_SYS_ADMIN registers an open
 * file with /dev/fuse (ioctl FUSE_DEV_IOC_BACKING_OPEN, struct
 * fuse_backing_map) and gets a backing id; an OPEN or CREATE reply with
 * FOPEN_PASSTHROUGH and that id in fuse_open_out makes the kernel open
 * the same path itself (with the opener's flags and the registering
 * daemon's credentials) and send reads, writes, splice and mmap of that
 * open straight to it.  The page cache is the backing file's own: data is
 * coherent with SOURCE by construction.  Negotiated at INIT: the kernel
 * offers FUSE_PASSTHROUGH (bit 37: flags2 bit 5), the daemon answers with
 * it and max_stack_depth (1 here: SOURCE may not be a stacking filesystem
 * such as overlayfs or another FUSE mount -- those files fall back, ELOOP
 * -- and in exchange the mount can itself be a lower layer of overlayfs).
 * The kernel refuses it together with the writeback cache.
 *
 * The route with libfuse 3.14, which knows none of this: libfuse's custom
 * I/O (fuse_session_custom_io) puts our read and writev under every
 * request and reply on /dev/fuse.  The bytes are kernel ABI:
 *  - read: the INIT request says whether the kernel offers passthrough;
 *  - writev of the INIT reply: FUSE_PASSTHROUGH added to flags2 and
 *    max_stack_depth set (unless the reply turns the writeback cache on);
 *    right after it, one probe ioctl tells whether the kernel accepted
 *    (BACKING_OPEN of a directory: EPERM when passthrough is off, EISDIR
 *    when it is on), which gives the start-up notice;
 *  - writev of an OPEN/CREATE reply sent by pt_reply_open/create: the
 *    backing id and FOPEN_PASSTHROUGH written into fuse_open_out.  The
 *    reply is recognised by a thread-local set around fuse_reply_open on
 *    the same thread: libfuse writes the reply from inside that call, and
 *    nothing else (a request's unique id is not seen when libfuse splices
 *    the request in).  A reply that could not be patched is booked as a
 *    normal open (pt_demote), which is what the kernel made of it.
 *  - splice in and out stay plain splice(2) (zero copy as before).
 * With libfuse >= 3.17 its own API does the same (fuse_passthrough_open,
 * fi->backing_id, FUSE_CAP_PASSTHROUGH) and no custom I/O is installed.
 *
 * Rules the kernel imposes (fs/fuse/iomode.c), which decide each open:
 *  - an inode has at most one backing file at a time: every passthrough
 *    open of it must name the same backing id (else EIO);
 *  - a passthrough open and a cached (normal) open of the same inode
 *    exclude each other (ETXTBSY, which the opener sees as EIO);
 *  - FOPEN_PASSTHROUGH allows only DIRECT_IO, PARALLEL_DIRECT_WRITES and
 *    NOFLUSH besides: keep_cache is cleared for such opens.
 * So the daemon keeps, per node id with open files, the backing id and
 * two counts, passthrough opens and cached opens; a new open follows what
 * is there (same id, or cached), and only an inode with no open at all
 * may start passthrough.  The daemon counts an open from its decision to
 * its RELEASE; the kernel counts it from the reply to just before it
 * sends RELEASE: the daemon's interval covers the kernel's, so the kernel
 * never sees a mix the daemon did not.  The backing id is closed (once)
 * when the last passthrough open of the inode is released, when the reply
 * that would have used a new id failed, and at exit (pt_fini).
 *
 * What stays with the daemon: OPEN, CREATE, RELEASE, FLUSH (locks), FSYNC,
 * SETATTR (truncate, chmod...), FALLOCATE, COPY_FILE_RANGE, LSEEK with
 * SEEK_DATA/SEEK_HOLE, the locks, GETATTR.  The kernel invalidates its
 * attributes after each passthrough write (size, mtime) and read (atime),
 * and GETATTR of an inode open in passthrough mode drops the dcache's
 * attributes first (pt_getattr): the daemon never saw those writes.
 *
 * setuid/setgid.  rcufs lets SOURCE clear them on write by writing as the
 * caller.  A passthrough write runs with the daemon's credentials, which
 * keep every capability (CAP_FSETID), so SOURCE clears nothing.  With
 * HANDLE_KILLPRIV (v1) the kernel would ask the daemon for
 * security.capability (GETXATTR) before every write -- a round trip per
 * write, passthrough writes at a tenth of native speed (measured) -- so
 * with passthrough the INIT reply asks for HANDLE_KILLPRIV_V2 instead
 * (when offered): the kernel then skips that on files without the bits.
 * rcufs still clears the bits itself by acting as the caller (WRITE,
 * truncate, O_TRUNC; after an O_TRUNC open the kernel's attributes are
 * dropped, since v2 keeps them).  A file that has either bit when it is
 * opened, with no passthrough open of it, is opened the normal way.  Known
 * gap: bits set while a passthrough open of the file exists are not
 * cleared by writes until every open is closed (generic/056 checks that a
 * new open after that clears them; rcufs(8) documents it).
 *
 * Bound: at most max_passthrough backing files at once (default: half the
 * daemon's open-file limit, at most 65536); beyond it, new inodes are
 * opened the normal way.
 *
 * Locking: pt_lock (a mutex) protects the inode table, the per-fd modes
 * and the counters marked (pt_lock); it is held across the BACKING_OPEN
 * and BACKING_CLOSE ioctls (short, non-blocking in practice) so that two
 * opens of one inode cannot register two ids.  Never taken inside an RCU
 * read section; nothing else is taken under it but wfs_lock (by
 * quiet.c: pt_lock -> wfs_lock), and the dcache calls of pt_release and
 * pt_getattr come after it is dropped, or without it.
 * GETATTR takes no lock: pt_active, per hash slot, counts the inodes
 * with a backing id (atomics written under pt_lock).  The state
 * (pt.state, pt.reason) is written by the INIT worker before any other
 * request exists and read after; the statistics are relaxed atomics.
 */
#include "passthrough_i.h"
#include "coherence/notify.h"
#include "source/source.h"
#include "stats/stats.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/vfs.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* One node id with files open through the mount (pt_lock). */
struct pt_inode {
	struct pt_inode *next;
	uint64_t nodeid;
	int backing_id; /* > 0 while n_pt > 0 */
	unsigned n_pt;	/* opens in passthrough mode */
	unsigned n_cached;
	unsigned n_writers; /* passthrough opens for writing */
	bool quiet;	    /* FAN_MODIFY ignored (quiet.c) */
};

#define PT_HASH 4096
static pthread_mutex_t pt_lock = PTHREAD_MUTEX_INITIALIZER;
static struct pt_inode *pt_hash[PT_HASH]; /* pt_lock */
/*
 * Per hash slot, how many inodes of it have a backing id: written under
 * pt_lock (atomically), read without it by pt_getattr, so that GETATTR
 * takes no lock.  A slot shared with an active inode only costs a
 * refresh of the attributes.
 */
static unsigned pt_active[PT_HASH];
/* per backing fd (fi->fh) of a tracked open: PT_FD_* (pt_lock) */
enum { PT_FD_NONE, PT_FD_CACHED, PT_FD_PT, PT_FD_PT_W /* writer */ };
static unsigned char *pt_fdmode;  /* pt_lock */
static size_t pt_fdmode_len;	  /* pt_lock */
static unsigned long pt_nbacking; /* pt_lock: backing ids open */

__thread int tls_backing_id;
#if FUSE_VERSION < FUSE_MAKE_VERSION(3, 17)
__thread bool tls_patched;
#endif
struct pt_globals pt = {.devfd = -1, .reason = "not negotiated yet"};
struct pt_stats pts;

/* ---- options -------------------------------------------------------------- */

bool pt_parse_opt(const char *name, const char *value)
{
	char *end;

	if (!value && (!strcmp(name, "passthrough") ||
		       !strcmp(name, "max_passthrough"))) {
		fprintf(stderr, "rcufs: option %s needs a value (%s=...)\n",
			name, name);
		exit(1);
	}
	if (!strcmp(name, "passthrough")) {
		if (value && !strcmp(value, "auto")) {
			pt.opt_off = false;
		} else if (value && !strcmp(value, "off")) {
			pt.opt_off = true;
		} else {
			fprintf(stderr,
				"rcufs: bad value for passthrough: '%s' "
				"(expected auto or off)\n",
				value ? value : "");
			exit(1);
		}
		return true;
	}
	if (!strcmp(name, "max_passthrough")) {
		errno = 0;
		pt.max = value ? strtoul(value, &end, 10) : 0;
		if (!value || !*value || *end || errno || value[0] == '-' ||
		    pt.max < 1 || pt.max > (1ul << 20)) {
			fprintf(stderr,
				"rcufs: bad value for max_passthrough: '%s' "
				"(expected a whole number from 1 to %lu)\n",
				value ? value : "", 1ul << 20);
			exit(1);
		}
		return true;
	}
	return false;
}

/* ---- the per-inode table (all under pt_lock) ------------------------------ */

static unsigned pt_slot(uint64_t nodeid)
{
	return (unsigned)((nodeid ^ (nodeid >> 12)) % PT_HASH);
}

static struct pt_inode **pt_bucket(uint64_t nodeid)
{
	return &pt_hash[pt_slot(nodeid)];
}

static struct pt_inode *pt_find(uint64_t nodeid, bool create)
{
	struct pt_inode *e;

	for (e = *pt_bucket(nodeid); e; e = e->next)
		if (e->nodeid == nodeid)
			return e;
	if (!create)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->nodeid = nodeid;
	e->next = *pt_bucket(nodeid);
	*pt_bucket(nodeid) = e;
	return e;
}

static void pt_drop_if_unused(struct pt_inode *e)
{
	struct pt_inode **pp;

	if (e->n_pt || e->n_cached)
		return;
	for (pp = pt_bucket(e->nodeid); *pp; pp = &(*pp)->next) {
		if (*pp == e) {
			*pp = e->next;
			free(e);
			return;
		}
	}
}

/* A passthrough open for writing of @e, at @fd, begins (quiet.c).
 * Under pt_lock; true when the kernel's attributes must be dropped. */
static bool pt_writer_add(struct pt_inode *e, int fd)
{
	pt_fdmode[fd] = PT_FD_PT_W;
	if (e->n_writers++ || e->quiet)
		return false;
	e->quiet = pt_quiet_begin(e->nodeid, fd);
	return e->quiet;
}

/* ... ends (@fd not closed yet).  Under pt_lock; the same result. */
static bool pt_writer_del(struct pt_inode *e, int fd)
{
	if (!e->n_writers || --e->n_writers || !e->quiet)
		return false;
	pt_quiet_end(e->nodeid, fd);
	e->quiet = false;
	return true;
}

static int pt_set_fdmode(int fd, unsigned char mode)
{
	if (fd < 0)
		return -EBADF;
	if ((size_t)fd >= pt_fdmode_len) {
		size_t n = pt_fdmode_len ? pt_fdmode_len : 1024;
		unsigned char *p;

		while (n <= (size_t)fd)
			n *= 2;
		p = realloc(pt_fdmode, n);
		if (!p)
			return -ENOMEM;
		memset(p + pt_fdmode_len, 0, n - pt_fdmode_len);
		pt_fdmode = p;
		pt_fdmode_len = n;
	}
	pt_fdmode[fd] = mode;
	return 0;
}

/* Close the backing id of @e (once: it is zeroed).  Under pt_lock. */
static void pt_backing_close(struct pt_inode *e)
{
	uint32_t v = (uint32_t)e->backing_id;

	if (ioctl(pt.devfd, PT_IOC_BACKING_CLOSE, &v) < 0) {
		PTS_INC(close_errors);
		rfs_warn("passthrough: closing backing id %u: %s", v,
			 strerror(errno));
	}
	e->backing_id = 0;
	__atomic_sub_fetch(&pt_active[pt_slot(e->nodeid)], 1, __ATOMIC_RELEASE);
	PTS_INC(closed);
	PTS_DEC(backing_now);
	pt_nbacking--;
}

/*
 * Decide for a new open of @ino at backing fd @fd.  Returns the backing
 * id (> 0: passthrough), 0 (normal, tracked) or a negative errno (not
 * tracked: out of memory; the open then goes the normal way and nothing
 * is undone at RELEASE).  @writer: open for writing; *@inval is set when
 * the kernel's attributes of @ino must be dropped (quiet.c).  Takes
 * pt_lock.
 */
static int pt_open(uint64_t ino, int fd, bool writer, bool *inval)
{
	struct pt_inode *e;
	struct stat st;
	bool suid;
	int id, err;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	suid = st.st_mode & (S_ISUID | S_ISGID);
	pthread_mutex_lock(&pt_lock);
	e = pt_find(ino, true);
	if (!e) {
		pthread_mutex_unlock(&pt_lock);
		return -ENOMEM;
	}
	if (e->backing_id > 0) {
		err = pt_set_fdmode(fd, PT_FD_PT);
		if (err)
			goto untracked;
		e->n_pt++;
		if (writer)
			*inval = pt_writer_add(e, fd);
		id = e->backing_id;
		pthread_mutex_unlock(&pt_lock);
		PTS_INC(opens);
		PTS_INC(tracked_now);
		return id;
	}
	err = pt_set_fdmode(fd, PT_FD_CACHED);
	if (err)
		goto untracked;
	if (e->n_cached > 0) {
		PTS_INC(fb_mixed);
	} else if (suid) {
		PTS_INC(fb_suid);
	} else if (pt_nbacking >= pt.max) {
		PTS_INC(fb_bound);
	} else {
		id = pt_backing_open(fd);
		err = id < 0 ? -id : 0;
		if (id > 0) {
			pt_fdmode[fd] = PT_FD_PT;
			e->backing_id = id;
			e->n_pt = 1;
			if (writer)
				*inval = pt_writer_add(e, fd);
			pt_nbacking++;
			__atomic_add_fetch(&pt_active[pt_slot(ino)], 1,
					   __ATOMIC_RELEASE);
			pthread_mutex_unlock(&pt_lock);
			PTS_INC(registered);
			PTS_INC(backing_now);
			PTS_INC(opens);
			PTS_INC(tracked_now);
			return id;
		}
		PTS_INC(fb_refused);
		pt_note_refusal(err ? err : EPROTO);
	}
	e->n_cached++;
	pthread_mutex_unlock(&pt_lock);
	PTS_INC(fallback);
	PTS_INC(tracked_now);
	return 0;
untracked:
	pt_drop_if_unused(e);
	pthread_mutex_unlock(&pt_lock);
	return err;
}

void pt_release(uint64_t ino, int fd)
{
	struct pt_inode *e;
	unsigned char mode;
	bool closed = false, inval = false;

	if (!pt_on())
		return;
	/*
	 * Drop the cached attributes before the backing id can close: once
	 * pt_active no longer counts the inode, a GETATTR (racing this
	 * RELEASE: close(2) does not wait for it) answers from the cache,
	 * which must not hold the size from before the passthrough writes
	 * (the kernel would take it: generic/221 under ASan).  Dropped again
	 * after the close below.
	 */
	if (__atomic_load_n(&pt_active[pt_slot(ino)], __ATOMIC_ACQUIRE))
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
	pthread_mutex_lock(&pt_lock);
	if (fd < 0 || (size_t)fd >= pt_fdmode_len ||
	    pt_fdmode[fd] == PT_FD_NONE) {
		pthread_mutex_unlock(&pt_lock);
		return;
	}
	mode = pt_fdmode[fd];
	pt_fdmode[fd] = PT_FD_NONE;
	PTS_DEC(tracked_now);
	e = pt_find(ino, false);
	if (!e) {
		pthread_mutex_unlock(&pt_lock);
		rfs_warn("passthrough: release of an untracked open of node "
			 "%llu",
			 (unsigned long long)ino);
		return;
	}
	if (mode == PT_FD_PT_W)
		inval = pt_writer_del(e, fd);
	if (mode == PT_FD_PT || mode == PT_FD_PT_W) {
		if (e->n_pt && --e->n_pt == 0 && e->backing_id > 0) {
			pt_backing_close(e);
			closed = true;
		}
	} else if (e->n_cached) {
		e->n_cached--;
	}
	pt_drop_if_unused(e);
	pthread_mutex_unlock(&pt_lock);
	/* writes the daemon did not see changed size and times */
	if (closed || inval)
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
	/* and, unreported meanwhile, those made in SOURCE (quiet.c) */
	if (inval)
		rfs_queue_inval_attr(ino);
}

void pt_getattr(uint64_t ino)
{
	/* no lock: a backing id opened just now is for an open whose
	 * reply has not reached the kernel yet (nothing written through
	 * it); one closed just now leaves attributes that RELEASE drops */
	if (__atomic_load_n(&pt_active[pt_slot(ino)], __ATOMIC_ACQUIRE))
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
}

/* ---- replies -------------------------------------------------------------- */

/* The coming reply of this thread names backing id @id. */
static void pt_mark_reply(struct fuse_file_info *fi, int id)
{
	/* FOPEN_KEEP_CACHE is refused with FOPEN_PASSTHROUGH */
	fi->keep_cache = 0;
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 17)
	fi->backing_id = id;
#else
	tls_backing_id = id;
	tls_patched = false;
#endif
}

/* After the reply: did it name the backing file?  (libfuse >= 3.17 puts
 * fi->backing_id in itself.) */
static bool pt_reply_patched(void)
{
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 17)
	return true;
#else
	return tls_patched;
#endif
}

/*
 * The reply for the passthrough open of @ino at @fd went out without the
 * backing id (a reply layout we did not recognise): the kernel opened it
 * the normal way, and so must the books say.  Takes pt_lock.
 */
static void pt_demote(uint64_t ino, int fd)
{
	static int said;
	struct pt_inode *e;
	bool inval = false;

	pthread_mutex_lock(&pt_lock);
	e = pt_find(ino, false);
	if (e && (size_t)fd < pt_fdmode_len &&
	    (pt_fdmode[fd] == PT_FD_PT || pt_fdmode[fd] == PT_FD_PT_W) &&
	    e->n_pt) {
		if (pt_fdmode[fd] == PT_FD_PT_W)
			inval = pt_writer_del(e, fd);
		pt_fdmode[fd] = PT_FD_CACHED;
		e->n_cached++;
		if (--e->n_pt == 0 && e->backing_id > 0)
			pt_backing_close(e);
	}
	pthread_mutex_unlock(&pt_lock);
	if (inval)
		rfs_queue_inval_attr(ino);
	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		rfs_warn("passthrough: an open reply could not carry its "
			 "backing id: opened the normal way");
}

/*
 * Reply to the OPEN (@e NULL) or CREATE of @ino, opened at @fd, naming the
 * backing file when @ino may pass through; then keep the books right for
 * what the reply did.
 */
static int pt_reply(fuse_req_t req, uint64_t ino, int fd,
		    const struct fuse_entry_param *e, struct fuse_file_info *fi)
{
	bool inval = false;
	int id = 0, r;

	if (!pt_on())
		return e ? fuse_reply_create(req, e, fi)
			 : fuse_reply_open(req, fi);
	id = pt_open(ino, fd, (fi->flags & O_ACCMODE) != O_RDONLY, &inval);
	if (id > 0)
		pt_mark_reply(fi, id);
	r = e ? fuse_reply_create(req, e, fi) : fuse_reply_open(req, fi);
	tls_backing_id = 0;
	if (r >= 0 && (((fi->flags & O_TRUNC) && pt.killpriv_v2) || inval))
		/* SOURCE may have cleared setuid/setgid for the caller (with
		 * HANDLE_KILLPRIV_V2 the kernel keeps its cached mode); or the
		 * first writer made the inode quiet (quiet.c) */
		rfs_queue_inval_attr(ino);
	if (r >= 0 && id > 0 && !pt_reply_patched())
		pt_demote(ino, fd);
	if (r < 0 && id >= 0)
		/* no RELEASE will come for an open the kernel never saw */
		pt_release(ino, fd);
	return r;
}

int pt_reply_open(fuse_req_t req, uint64_t ino, int fd,
		  struct fuse_file_info *fi)
{
	return pt_reply(req, ino, fd, NULL, fi);
}

int pt_reply_create(fuse_req_t req, uint64_t ino, int fd,
		    const struct fuse_entry_param *e, struct fuse_file_info *fi)
{
	return pt_reply(req, ino, fd, e, fi);
}

/* ---- exit and statistics -------------------------------------------------- */

void pt_fini(void)
{
	struct pt_inode *e, *next;
	unsigned i;

	pthread_mutex_lock(&pt_lock);
	for (i = 0; i < PT_HASH; i++) {
		for (e = pt_hash[i]; e; e = next) {
			next = e->next;
			if (e->backing_id > 0 && pt.devfd >= 0)
				pt_backing_close(e);
			free(e);
		}
		pt_hash[i] = NULL;
	}
	free(pt_fdmode);
	pt_fdmode = NULL;
	pt_fdmode_len = 0;
	pthread_mutex_unlock(&pt_lock);
}

void pt_stats_emit(struct rfs_emit *e)
{
	enum pt_state s = __atomic_load_n(&pt.state, __ATOMIC_ACQUIRE);

	rfs_emit_str(e, "state",
		     s == PT_ON	   ? "on"
		     : s == PT_OFF ? "off"
				   : "pending");
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 17)
	rfs_emit_str(e, "route", "libfuse API");
#else
	rfs_emit_str(e, "route",
		     pt.custom_io ? "custom I/O on /dev/fuse" : "none");
#endif
	if (s == PT_ON)
		rfs_emit_null(e, "reason");
	else
		rfs_emit_str(e, "reason", pt.reason);
	rfs_emit_u64(e, "backing_files", PTS_LD(backing_now));
	rfs_emit_u64(e, "max_passthrough", pt.max);
	rfs_emit_u64(e, "open_files", PTS_LD(tracked_now));
	rfs_emit_u64(e, "opens", PTS_LD(opens));
	rfs_emit_u64(e, "normal_opens", PTS_LD(fallback));
	rfs_emit_u64(e, "normal_setuid", PTS_LD(fb_suid));
	rfs_emit_u64(e, "normal_mixed", PTS_LD(fb_mixed));
	rfs_emit_u64(e, "normal_bound", PTS_LD(fb_bound));
	rfs_emit_u64(e, "normal_refused", PTS_LD(fb_refused));
	rfs_emit_u64(e, "backing_opened", PTS_LD(registered));
	rfs_emit_u64(e, "backing_closed", PTS_LD(closed));
	rfs_emit_u64(e, "backing_close_errors", PTS_LD(close_errors));
	rfs_emit_u64(e, "writers_unwatched", PTS_LD(quiet));
}
