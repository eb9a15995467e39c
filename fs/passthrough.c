/* SPDX-License-Identifier: MIT */
/*
 * fs/passthrough.c - FUSE passthrough I/O (Linux 6.9+).
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
 * read section; nothing else is taken under it (the dcache calls of
 * pt_release and pt_getattr come after it is dropped, or without it).
 * GETATTR takes no lock: pt_active, per hash slot, counts the inodes
 * with a backing id (atomics written under pt_lock).  The state
 * (pt.state, pt.reason) is written by the INIT worker before any other
 * request exists and read after; the statistics are relaxed atomics.
 */
#include "rcufs.h"
#include "passthrough.h"

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
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- kernel ABI newer than the build host's <linux/fuse.h> (7.40) ---- */

#define PT_FUSE_PASSTHROUGH_FLAGS2 (1u << (37 - 32)) /* FUSE_PASSTHROUGH */
#define PT_FOPEN_PASSTHROUGH (1u << 7)
#define PT_FOPEN_ALLOWED \
	(FOPEN_DIRECT_IO | FOPEN_PARALLEL_DIRECT_WRITES | FOPEN_NOFLUSH)
/* fuse_init_out: the word after flags2 is max_stack_depth (was unused[0]) */
#define PT_INIT_STACK_OFF (offsetof(struct fuse_init_out, flags2) + 4)
/* fuse_open_out: the word after open_flags is backing_id (was padding) */
#define PT_OPEN_ID_OFF (offsetof(struct fuse_open_out, padding))

struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};
#define PT_IOC_MAGIC 229
#define PT_IOC_BACKING_OPEN _IOW(PT_IOC_MAGIC, 1, struct pt_backing_map)
#define PT_IOC_BACKING_CLOSE _IOW(PT_IOC_MAGIC, 2, uint32_t)

/* SOURCE may not itself be stacked (see the top) */
#define PT_STACK_DEPTH 1

/* ---- state ---------------------------------------------------------------- */

enum pt_state { PT_PENDING, PT_ON, PT_OFF };

static struct {
	bool opt_off;		  /* -o passthrough=off */
	unsigned long max;	  /* max_passthrough (0: default) */
	int devfd;		  /* /dev/fuse of the session, -1 before */
	bool custom_io;		  /* our read/writev are installed */
	enum pt_state state;	  /* INIT worker, then read-only */
	const char *reason;	  /* why off (static string) */
	bool offered;		  /* the INIT request offered passthrough */
	bool offered_killpriv_v2; /* ... and HANDLE_KILLPRIV_V2 */
	bool killpriv_v2;	  /* we answered with it (INIT worker) */
	bool have_cap;		  /* CAP_SYS_ADMIN at set-up */
	uint64_t init_unique;	  /* unique id of INIT, 0 once answered */
	char reason_buf[160];	  /* for reasons with an errno */
} pt = {.devfd = -1, .reason = "not negotiated yet"};

/* statistics: relaxed atomics */
static struct {
	uint64_t opens;	       /* opens answered in passthrough mode */
	uint64_t fallback;     /* opens answered the normal way, tracked */
	uint64_t fb_suid;      /* ... because of setuid/setgid */
	uint64_t fb_mixed;     /* ... because the inode has a normal open */
	uint64_t fb_bound;     /* ... because max_passthrough was reached */
	uint64_t fb_refused;   /* ... because the kernel refused the file */
	uint64_t registered;   /* backing ids opened */
	uint64_t closed;       /* backing ids closed */
	uint64_t close_errors; /* BACKING_CLOSE failures */
	uint64_t backing_now;  /* open backing ids (gauge) */
	uint64_t tracked_now;  /* opens tracked, either mode (gauge) */
} pts;

#define PTS_INC(f) __atomic_add_fetch(&pts.f, 1, __ATOMIC_RELAXED)
#define PTS_DEC(f) __atomic_sub_fetch(&pts.f, 1, __ATOMIC_RELAXED)
#define PTS_LD(f) __atomic_load_n(&pts.f, __ATOMIC_RELAXED)

/* One node id with files open through the mount (pt_lock). */
struct pt_inode {
	struct pt_inode *next;
	uint64_t nodeid;
	int backing_id; /* > 0 while n_pt > 0 */
	unsigned n_pt;	/* opens in passthrough mode */
	unsigned n_cached;
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
enum { PT_FD_NONE, PT_FD_CACHED, PT_FD_PT };
static unsigned char *pt_fdmode;  /* pt_lock */
static size_t pt_fdmode_len;	  /* pt_lock */
static unsigned long pt_nbacking; /* pt_lock: backing ids open */

/* The backing id of the OPEN/CREATE reply this thread is sending (0:
 * none), and whether our writev put it into the reply. */
static __thread int tls_backing_id;
#if FUSE_VERSION < FUSE_MAKE_VERSION(3, 17)
static __thread bool tls_patched;
#endif

static bool pt_on(void)
{
	return __atomic_load_n(&pt.state, __ATOMIC_ACQUIRE) == PT_ON;
}

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

/* Say once per kind why the kernel refused a file (ELOOP, ...). */
static void pt_note_refusal(int err)
{
	static int said_eloop, said_other;

	if (err == ELOOP) {
		if (!__atomic_exchange_n(&said_eloop, 1, __ATOMIC_RELAXED))
			rfs_log("notice",
				"passthrough: a file on a stacked filesystem "
				"(overlayfs, FUSE) is opened the normal way "
				"(stacking depth); so are all such files");
	} else if (!__atomic_exchange_n(&said_other, 1, __ATOMIC_RELAXED)) {
		rfs_log("notice",
			"passthrough: the kernel refused a backing file (%s): "
			"opened the normal way; so are others it refuses",
			strerror(err));
	}
}

/*
 * Register the file open at @fd as a backing file: returns its id or a
 * negative errno.  Not @fd itself but a new O_PATH open of the same file:
 * the kernel keeps the file it is given until the id is closed, and flock
 * locks and leases belong to the open file description, so the open's
 * own description must end with its RELEASE (close of @fd), not with the
 * last passthrough open of the inode.  Under pt_lock.
 */
static int pt_backing_open(int fd)
{
	struct pt_backing_map map = {0};
	char proc[64];
	int id;

	backing_proc_path(fd, proc);
	map.fd = open(proc, O_PATH | O_CLOEXEC);
	if (map.fd < 0)
		return -errno;
	id = ioctl(pt.devfd, PT_IOC_BACKING_OPEN, &map);
	if (id < 0)
		id = -errno;
	else if (id == 0)
		id = -EPROTO;
	close(map.fd);
	return id;
}

/*
 * Decide for a new open of @ino at backing fd @fd.  Returns the backing
 * id (> 0: passthrough), 0 (normal, tracked) or a negative errno (not
 * tracked: out of memory; the open then goes the normal way and nothing
 * is undone at RELEASE).  Takes pt_lock.
 */
static int pt_open(uint64_t ino, int fd)
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
	bool closed = false;

	if (!pt_on())
		return;
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
	if (mode == PT_FD_PT) {
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
	if (closed)
		dcache_inval_inode(rfs.dc, ino, DC_INVAL_ATTR, DC_SRC_LOCAL);
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

	pthread_mutex_lock(&pt_lock);
	e = pt_find(ino, false);
	if (e && (size_t)fd < pt_fdmode_len && pt_fdmode[fd] == PT_FD_PT &&
	    e->n_pt) {
		pt_fdmode[fd] = PT_FD_CACHED;
		e->n_cached++;
		if (--e->n_pt == 0 && e->backing_id > 0)
			pt_backing_close(e);
	}
	pthread_mutex_unlock(&pt_lock);
	if (!__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		rfs_warn("passthrough: an open reply could not carry its "
			 "backing id: opened the normal way");
}

int pt_reply_open(fuse_req_t req, uint64_t ino, int fd,
		  struct fuse_file_info *fi)
{
	int id = 0, r;

	if (!pt_on())
		return fuse_reply_open(req, fi);
	id = pt_open(ino, fd);
	if (id > 0)
		pt_mark_reply(fi, id);
	r = fuse_reply_open(req, fi);
	tls_backing_id = 0;
	if (r >= 0 && (fi->flags & O_TRUNC) && pt.killpriv_v2)
		/* SOURCE may have cleared setuid/setgid for the caller; with
		 * HANDLE_KILLPRIV_V2 the kernel keeps its cached mode */
		rfs_queue_inval_attr(ino);
	if (r >= 0 && id > 0 && !pt_reply_patched())
		pt_demote(ino, fd);
	if (r < 0 && id >= 0)
		/* no RELEASE will come for an open the kernel never saw */
		pt_release(ino, fd);
	return r;
}

int pt_reply_create(fuse_req_t req, uint64_t ino, int fd,
		    const struct fuse_entry_param *e, struct fuse_file_info *fi)
{
	int id = 0, r;

	if (!pt_on())
		return fuse_reply_create(req, e, fi);
	id = pt_open(ino, fd);
	if (id > 0)
		pt_mark_reply(fi, id);
	r = fuse_reply_create(req, e, fi);
	tls_backing_id = 0;
	if (r >= 0 && (fi->flags & O_TRUNC) && pt.killpriv_v2)
		/* an existing file truncated (see pt_reply_open) */
		rfs_queue_inval_attr(ino);
	if (r >= 0 && id > 0 && !pt_reply_patched())
		pt_demote(ino, fd);
	if (r < 0 && id >= 0)
		pt_release(ino, fd);
	return r;
}

/* ---- custom I/O on /dev/fuse (libfuse 3.14) ------------------------------- */

static void pt_set_off(const char *why)
{
	pt.reason = why;
	__atomic_store_n(&pt.state, PT_OFF, __ATOMIC_RELEASE);
}

static void pt_say_state(void)
{
	if (pt_on())
		rfs_log("notice", "passthrough on: reads, writes and mmap of "
				  "open files go straight to SOURCE");
	else
		rfs_log("notice", "passthrough off: %s", pt.reason);
}

#if FUSE_VERSION < FUSE_MAKE_VERSION(3, 17)
static ssize_t pt_io_read(int fd, void *buf, size_t len, void *userdata)
{
	const struct fuse_in_header *h = buf;
	ssize_t n;

	(void)userdata;
	n = read(fd, buf, len);
	if (n < (ssize_t)sizeof(*h))
		return n;
	if (h->opcode == FUSE_INIT && pt.state == PT_PENDING &&
	    (size_t)n >= sizeof(*h) + sizeof(struct fuse_init_in)) {
		const struct fuse_init_in *in = (const void *)(h + 1);

		pt.offered_killpriv_v2 = in->flags & FUSE_HANDLE_KILLPRIV_V2;
		pt.offered = (in->flags & FUSE_INIT_EXT) &&
			     (in->flags2 & PT_FUSE_PASSTHROUGH_FLAGS2);
		__atomic_store_n(&pt.init_unique, h->unique, __ATOMIC_RELAXED);
	}
	return n;
}

/* The INIT reply in @iov[1]: offer passthrough if we may.  True if it was
 * offered (then the kernel's answer is probed after the write). */
static bool pt_patch_init(struct iovec *iov, int count)
{
	struct fuse_init_out *out;
	uint32_t depth = PT_STACK_DEPTH;

	if (count < 2 || iov[1].iov_len < PT_INIT_STACK_OFF + 4) {
		pt_set_off("the INIT reply is too short (old protocol)");
		return false;
	}
	out = iov[1].iov_base;
	if (!pt.offered) {
		pt_set_off("the kernel does not offer it (needs Linux 6.9 "
			   "with CONFIG_FUSE_PASSTHROUGH)");
		return false;
	}
	if (!pt.have_cap) {
		pt_set_off("the daemon lacks CAP_SYS_ADMIN (run it as root)");
		return false;
	}
	if (out->flags & FUSE_WRITEBACK_CACHE) {
		pt_set_off("the writeback cache is on (coherence=exclusive or "
			   "-o writeback; -o nowriteback allows passthrough)");
		return false;
	}
	out->flags |= FUSE_INIT_EXT;
	if (pt.offered_killpriv_v2) {
		out->flags |= FUSE_HANDLE_KILLPRIV_V2;
		pt.killpriv_v2 = true;
	}
	out->flags2 |= PT_FUSE_PASSTHROUGH_FLAGS2;
	memcpy((char *)out + PT_INIT_STACK_OFF, &depth, sizeof(depth));
	return true;
}

/* Right after the INIT reply was written: did the kernel take it? */
static void pt_probe(void)
{
	struct pt_backing_map map = {.fd = rfs.root_fd};
	int r = ioctl(pt.devfd, PT_IOC_BACKING_OPEN, &map);
	int err = r < 0 ? errno : 0;

	if (r > 0) {
		/* not expected (a directory); give it back */
		uint32_t v = (uint32_t)r;

		ioctl(pt.devfd, PT_IOC_BACKING_CLOSE, &v);
	}
	if (err == EPERM || err == ENOTTY || err == EINVAL) {
		snprintf(pt.reason_buf, sizeof(pt.reason_buf),
			 "the kernel did not accept it (probe: %s)",
			 strerror(err));
		pt_set_off(pt.reason_buf);
		return;
	}
	pt.reason = "";
	__atomic_store_n(&pt.state, PT_ON, __ATOMIC_RELEASE);
}

/* The OPEN/CREATE reply of this thread: name the backing file. */
static void pt_patch_open(struct iovec *iov, int count)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	struct fuse_open_out *o;
	int32_t id = tls_backing_id;

	if (count != 2 || oh->error != 0 || iov[1].iov_len < sizeof(*o))
		return;
	o = (void *)((char *)iov[1].iov_base + iov[1].iov_len - sizeof(*o));
	o->open_flags =
		(o->open_flags & PT_FOPEN_ALLOWED) | PT_FOPEN_PASSTHROUGH;
	memcpy((char *)o + PT_OPEN_ID_OFF, &id, sizeof(id));
	tls_patched = true;
}

static ssize_t pt_io_writev(int fd, struct iovec *iov, int count,
			    void *userdata)
{
	const struct fuse_out_header *oh;
	bool init = false, probe = false;
	ssize_t n;

	(void)userdata;
	if (count >= 1 && iov[0].iov_len == sizeof(*oh)) {
		oh = iov[0].iov_base;
		if (tls_backing_id > 0) {
			pt_patch_open(iov, count);
		} else if (oh->unique &&
			   oh->unique == __atomic_load_n(&pt.init_unique,
							 __ATOMIC_RELAXED)) {
			init = true;
			__atomic_store_n(&pt.init_unique, 0, __ATOMIC_RELAXED);
			if (oh->error == 0)
				probe = pt_patch_init(iov, count);
			else
				pt_set_off("INIT failed");
		}
	}
	n = writev(fd, iov, count);
	if (probe) {
		if (n < 0)
			pt_set_off("the INIT reply could not be written");
		else
			pt_probe();
	}
	if (init)
		pt_say_state();
	return n;
}

static ssize_t pt_io_splice(int fdin, off_t *offin, int fdout, off_t *offout,
			    size_t len, unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

#endif /* libfuse < 3.17: custom I/O */

/* Is CAP_SYS_ADMIN in the effective set? */
static bool pt_cap_sys_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
	       CAP_TO_MASK(CAP_SYS_ADMIN);
}

int pt_session_setup(struct fuse_session *se, unsigned long open_files_limit)
{
	if (!pt.max) {
		pt.max = open_files_limit / 2;
		if (pt.max > 65536)
			pt.max = 65536;
		if (pt.max < 1)
			pt.max = 1;
	}
	pt.devfd = fuse_session_fd(se);
	if (pt.opt_off) {
		pt_set_off("-o passthrough=off");
		pt_say_state();
		return 0;
	}
	pt.have_cap = pt_cap_sys_admin();
	if (!pt.have_cap) {
		/* BACKING_OPEN needs it: nothing to negotiate */
		pt_set_off("the daemon lacks CAP_SYS_ADMIN (run it as root)");
		pt_say_state();
		return 0;
	}
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 17)
	/* libfuse's own API: pt_init asks for it */
	return 0;
#else
	{
		struct fuse_custom_io io = {
			.read = pt_io_read,
			.writev = pt_io_writev,
			.splice_receive = pt_io_splice,
			.splice_send = pt_io_splice,
		};
		int err = fuse_session_custom_io(se, &io, pt.devfd);

		if (err) {
			pt_set_off("libfuse refused custom I/O");
			pt_say_state();
			return 0;
		}
		pt.custom_io = true;
	}
	return 0;
#endif
}

void pt_init(struct fuse_conn_info *conn)
{
	(void)conn;
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 17)
	if (pt.opt_off)
		return;
	if (!fuse_get_feature_flag(conn, FUSE_CAP_PASSTHROUGH))
		pt_set_off("the kernel does not offer it (needs Linux 6.9 "
			   "with CONFIG_FUSE_PASSTHROUGH)");
	else if (!pt.have_cap)
		pt_set_off("the daemon lacks CAP_SYS_ADMIN (run it as root)");
	else if (conn->want & FUSE_CAP_WRITEBACK_CACHE)
		pt_set_off("the writeback cache is on (coherence=exclusive or "
			   "-o writeback; -o nowriteback allows passthrough)");
	if (pt.state == PT_OFF) {
		pt_say_state();
		return;
	}
	fuse_set_feature_flag(conn, FUSE_CAP_PASSTHROUGH);
	/* see "setuid/setgid" at the top */
	if (fuse_set_feature_flag(conn, FUSE_CAP_HANDLE_KILLPRIV_V2))
		pt.killpriv_v2 = true;
	conn->max_backing_stack_depth = PT_STACK_DEPTH;
	pt.reason = "";
	__atomic_store_n(&pt.state, PT_ON, __ATOMIC_RELEASE);
	pt_say_state();
#endif
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
}
