/* SPDX-License-Identifier: MIT */
/*
 * fs/watch.c - coherence with changes made directly in SOURCE.
 *
 * With coherence=watch the kernel and the dcache keep what they learn for
 * a long time (an hour by default, the dcache until invalidated), and this
 * file makes that correct: a watcher thread reads change events about
 * SOURCE, invalidates exactly what changed in the dcache, and queues the
 * matching kernel notifications for a notifier thread.
 *
 * Two event sources, chosen at start-up (or forced with -o watcher=):
 *   fanotify  FAN_MARK_FILESYSTEM on SOURCE's filesystem (and on each
 *             filesystem mounted inside SOURCE), reporting (directory file
 *             handle, name) and the object's own handle.  Needs
 *             CAP_SYS_ADMIN and a filesystem that can encode file handles.
 *             Events caused by the daemon itself (event pid == ours) are
 *             skipped: the handler that caused them updated the cache.
 *   inotify   one watch per cached directory, added when the daemon first
 *             needs the directory's fd (fs/backing.c: every directory whose
 *             children are looked up, listed or changed) and removed when
 *             the dcache frees the inode.  Cannot tell our own events from
 *             others: they cost an extra invalidation, not correctness.
 * Neither, or a failure that could leave a cache stale (a filesystem
 * inside SOURCE that cannot be marked, inotify watches exhausted): the
 * mount degrades to timeout mode (short timeouts everywhere, everything
 * invalidated once), with one warning.
 *
 * Translating an event.  A directory handle is turned into the backing key
 * (st_dev, st_ino) and that into a cached inode (dcache_inode_find).  For
 * speed the key is read from the handle itself when the filesystem's
 * handle layout was learned at start-up (the inode number at a fixed
 * offset, checked on several objects of known inode number); otherwise
 * the handle is opened (open_by_handle_at) and fstat'ed.  An event about
 * an object that is not cached costs that lookup and nothing else: the
 * kernel cannot hold anything the dcache does not (kernel references pin
 * dcache inodes), except negative entries, which a dirent event in a
 * cached directory invalidates by name whether the dcache has them or not.
 *
 * Kernel notifications are sent only by the notifier thread, from a queue:
 * the kernel takes directory locks to process them, and a request handler
 * (or this watcher) blocking there could deadlock against a request that
 * holds the lock and waits for the daemon (DESIGN.md section 8).  Queue
 * overflow, of the kernel's event queue or of ours: the dcache drops
 * everything and the kernel is told to drop every dentry
 * (FUSE_NOTIFY_INC_EPOCH, Linux 6.16), one warning.
 *
 * Threads and locks: the watcher and notifier threads are ours (RCU
 * registered by the watcher since it calls the dcache).  q_lock protects
 * the queue; wfs_lock the filesystem table and the inotify table (written
 * by handler threads through watch_dir_get/put and watch_check_dev, read by
 * the watcher).  Statistics are relaxed atomics.
 */
#include "rcufs.h"
#include "fstype.h" /* NETWORK-HOOK */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <stddef.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/inotify.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define WATCH_FAN_MASK                                               \
	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO |   \
	 FAN_ATTRIB | FAN_MODIFY | FAN_DELETE_SELF | FAN_MOVE_SELF | \
	 FAN_ONDIR)
#define WATCH_IN_MASK                                                      \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | \
	 IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK |      \
	 IN_ONLYDIR)
/*
 * No CLOSE_WRITE: every write(2) already reports MODIFY, and on a busy
 * filesystem reading events is most of the watcher's cost (measured: 4 us
 * of kernel time per event read, under 1 us of ours), so one fewer event
 * per written file matters.
 */
#define QUEUE_MAX 65536
#define MAX_WFS 64

struct rfs_watch_stats watch_stats; /* relaxed atomics */

#define STAT_INC(f) __atomic_add_fetch(&watch_stats.f, 1, __ATOMIC_RELAXED)

/* ---- the notification queue ---- */

enum note_op {
	NOTE_ENTRY, /* inval_entry(ino, name) */
	NOTE_INODE, /* inval_inode(ino, off, 0) */
	NOTE_ALL,   /* every dentry the kernel has (INC_EPOCH) */
};

struct note {
	struct note *next;
	enum note_op op;
	uint64_t ino;
	off_t off;
	size_t len;
	char name[];
};

static pthread_mutex_t q_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_cond = PTHREAD_COND_INITIALIZER;
static struct note *q_head;	       /* q_lock */
static struct note **q_tail = &q_head; /* q_lock */
static unsigned q_len;		       /* q_lock */
static bool q_all, q_stop;	       /* q_lock */
/* atomic: the notifier must not send another note (the session fd may be
 * closed at any moment once this is set; checked before every send) */
static bool notify_off;

/* ---- watched filesystems (fanotify) ---- */

struct wfs {
	fsid_t fsid;
	uint64_t dev;
	int mnt_fd;  /* an O_PATH fd on it, for open_by_handle_at */
	int htype;   /* learned handle type, -1: none learned */
	int ino_off; /* byte offset of the inode number in f_handle */
	int ino_len; /* 4 or 8 */
};

static pthread_mutex_t wfs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wfs wfs[MAX_WFS];	   /* wfs_lock */
static unsigned nwfs;		   /* wfs_lock */
static uint64_t bad_devs[MAX_WFS]; /* wfs_lock: filesystems we failed on */
static unsigned nbad;		   /* wfs_lock */

/* ---- inotify watches: wd -> directory key, refcounted ---- */

struct iw {
	int wd;
	unsigned refs;
	uint64_t dev, ino;
	struct iw *next;
};
#define IW_BUCKETS 4096
static struct iw *iw_tab[IW_BUCKETS]; /* wfs_lock */

static int fan_fd = -1, in_fd = -1, stop_fd = -1;
static pthread_t watcher_tid, notifier_tid;
static bool started;	  /* the main thread only: watch_start, watch_stop */
static bool started_flag; /* atomic: the notifier runs (for handlers) */
static bool degraded;	  /* wfs_lock */
static bool stopping, pending_all; /* atomic: requests to the watcher */

/* ---- kernel notifications (the notifier thread only) ---- */

static void queue_push(struct note *n)
{
	pthread_mutex_lock(&q_lock);
	if (q_all || q_stop) {
		free(n);
	} else if (q_len >= QUEUE_MAX) {
		/* everything will be invalidated: drop the details */
		free(n);
		q_all = true;
		STAT_INC(overflows);
		rfs_warn("kernel notification queue full: invalidating "
			 "every cached entry");
	} else {
		/* a repeat of the last note adds nothing (a write storm) */
		struct note *last =
			q_len ? (struct note *)((char *)q_tail -
						offsetof(struct note, next))
			      : NULL;

		if (last && last->op == n->op && last->ino == n->ino &&
		    last->off == n->off && last->len == n->len &&
		    !memcmp(last->name, n->name, n->len)) {
			free(n);
		} else {
			*q_tail = n;
			q_tail = &n->next;
			q_len++;
		}
	}
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

static void note(enum note_op op, uint64_t ino, off_t off, const char *name)
{
	size_t len = name ? strlen(name) : 0;
	struct note *n = malloc(sizeof(*n) + len + 1);

	if (!n) {
		pthread_mutex_lock(&q_lock);
		q_all = true;
		pthread_cond_signal(&q_cond);
		pthread_mutex_unlock(&q_lock);
		return;
	}
	n->next = NULL;
	n->op = op;
	n->ino = ino;
	n->off = off;
	n->len = len;
	memcpy(n->name, name ? name : "", len + 1);
	queue_push(n);
}

/*
 * Tell the kernel to drop every dentry: FUSE_NOTIFY_INC_EPOCH (code 8,
 * protocol 7.44, Linux 6.16) bumps the connection's epoch and every older
 * dentry fails revalidation.  libfuse 3.14 has no call for it; a
 * notification is a bare reply header with unique 0 and the code in the
 * error field, written to the session fd.
 */
static int kernel_inval_all(void)
{
	struct {
		uint32_t len;
		int32_t error;
		uint64_t unique;
	} hdr = {sizeof(hdr), 8, 0};
	static bool warned;

	if (write(fuse_session_fd(rfs.se), &hdr, sizeof(hdr)) ==
	    (ssize_t)sizeof(hdr))
		return 0;
	if (!warned) {
		warned = true;
		rfs_warn("this kernel cannot drop all FUSE dentries at once "
			 "(%s): names cached before the overflow may stay "
			 "stale until they time out",
			 strerror(errno));
	}
	return -errno;
}

static void send_note(const struct note *n)
{
	int err = 0;

	if (__atomic_load_n(&notify_off, __ATOMIC_ACQUIRE))
		return;
	switch (n->op) {
	case NOTE_ENTRY:
		err = fuse_lowlevel_notify_inval_entry(rfs.se, n->ino, n->name,
						       n->len);
		break;
	case NOTE_INODE:
		err = fuse_lowlevel_notify_inval_inode(rfs.se, n->ino, n->off,
						       0);
		break;
	case NOTE_ALL:
		err = kernel_inval_all();
		break;
	}
	STAT_INC(notifies);
	/* -ENOENT: the kernel does not have it cached, nothing to do */
	if (err && err != -ENOENT)
		STAT_INC(notify_errors);
}

/* After lost events: the kernel drops the attributes and cached data
 * (pages, symlink targets, listings) of every inode it holds. */
static void inval_kernel_inode(void *ctx, uint64_t nodeid, uint64_t nlookup)
{
	struct note n = {.op = NOTE_INODE, .ino = nodeid, .off = 0};

	(void)ctx;
	if (nlookup || nodeid == DC_ROOT_ID)
		send_note(&n);
}

static void *notifier_main(void *arg)
{
	struct note *n;
	bool all;

	(void)arg;
	dcache_thread_enter(); /* it walks the dcache after lost events */
	pthread_mutex_lock(&q_lock);
	for (;;) {
		while (!q_head && !q_all && !q_stop)
			pthread_cond_wait(&q_cond, &q_lock);
		if (q_stop)
			break;
		all = q_all;
		q_all = false;
		n = q_head;
		q_head = NULL;
		q_tail = &q_head;
		q_len = 0;
		pthread_mutex_unlock(&q_lock);
		if (all) {
			struct note a = {.op = NOTE_ALL};

			send_note(&a);
			dcache_for_each_inode(rfs.dc, inval_kernel_inode, NULL);
		}
		while (n) {
			struct note *next = n->next;

			/* after a full invalidation the details add nothing
			 * but inode data (page cache) drops */
			if (!all || n->op == NOTE_INODE)
				send_note(n);
			free(n);
			n = next;
		}
		pthread_mutex_lock(&q_lock);
	}
	pthread_mutex_unlock(&q_lock);
	dcache_thread_exit();
	return NULL;
}

/* ---- translating changes into invalidations (the watcher thread) ---- */

/* Everything cached may be stale: drop it (dcache and kernel). */
static void inval_everything(void)
{
	dcache_expire_all(rfs.dc, DC_SRC_WATCH);
	pthread_mutex_lock(&q_lock);
	q_all = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}

/*
 * The kernel's event queue overflowed: changes were lost, so everything
 * cached may be stale.  One warning, then one a minute at most.
 */
static void overflow(void)
{
	static struct timespec last;
	static uint64_t quiet;
	struct timespec now;

	STAT_INC(overflows);
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!last.tv_sec || now.tv_sec - last.tv_sec >= 60) {
		rfs_warn("too many changes in SOURCE at once (event queue "
			 "overflow%s): everything cached was dropped",
			 quiet ? ", again" : "");
		last = now;
		quiet = 0;
	} else {
		quiet++;
	}
	inval_everything();
}

/* The object @nodeid changed (attributes; @data: its contents too). */
static void object_changed(uint64_t nodeid, bool data)
{
	dcache_inval_inode(rfs.dc, nodeid, DC_INVAL_ATTR | DC_INVAL_LINK,
			   DC_SRC_WATCH);
	/* off 0: attributes and cached data (or readdir); -1: attributes */
	note(NOTE_INODE, nodeid, data ? 0 : -1, NULL);
}

/*
 * The name @name in directory @dir was created, removed or moved; with
 * @removed it was deleted (not moved away).
 */
static void dirent_changed(uint64_t dir, const char *name, bool removed)
{
	struct dc_result res;

	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return;
	STAT_INC(dirent);
	memset(&res, 0, sizeof(res));
	/* a cached object that lost or gained a name: its link count and
	 * ctime changed too */
	if (!dcache_lookup(rfs.dc, dir, name, DC_CACHED | DC_WANT_ATTR, &res) &&
	    res.nodeid) {
		/* its last name deleted: the object is gone and its inode
		 * number free for reuse; a new object with that number must
		 * not inherit this inode (dcache_forget_key) */
		if (removed && (S_ISDIR(res.attr.mode) || res.attr.nlink <= 1))
			dcache_forget_key(rfs.dc, res.attr.dev, res.attr.ino);
		object_changed(res.nodeid, false);
	}
	dcache_inval_entry(rfs.dc, dir, name, DC_SRC_WATCH);
	note(NOTE_ENTRY, dir, 0, name);
	/* the directory's times, size and listing */
	object_changed(dir, true);
}

/*
 * The node id of the cached object with backing key (@dev, @ino), 0 if
 * none.  @dir: only a directory will do.  A key decoded from a file handle
 * ignores the handle's generation, so it may name a newer object that
 * reused the inode number of the one the event is about (a directory
 * removed, a file created): an entry event is about a directory, and
 * sending the kernel an entry invalidation under a non-directory fails
 * (ENOTDIR, which libfuse logs).  The extra invalidation of a newer
 * object of the same type is harmless.
 */
static uint64_t nodeid_of_key(uint64_t dev, uint64_t ino, bool dir)
{
	struct dc_inode *inode = dcache_inode_find(rfs.dc, dev, ino);
	uint64_t id = 0;

	if (inode) {
		if (!dir || S_ISDIR(dc_inode_type(inode)))
			id = dc_inode_nodeid(inode);
		dc_inode_put(inode);
	}
	return id;
}

/* ---- fanotify ---- */

static struct wfs *wfs_by_fsid(const fsid_t *fsid)
{
	unsigned i;

	for (i = 0; i < nwfs; i++)
		if (!memcmp(&wfs[i].fsid, fsid, sizeof(*fsid)))
			return &wfs[i];
	return NULL;
}

static bool handle_ino(const struct wfs *f, const struct file_handle *h,
		       uint64_t *ino)
{
	uint32_t v32;
	uint64_t v64;

	if (f->htype != h->handle_type ||
	    (unsigned)(f->ino_off + f->ino_len) > h->handle_bytes)
		return false;
	if (f->ino_len == 4) {
		memcpy(&v32, h->f_handle + f->ino_off, 4);
		*ino = v32;
	} else {
		memcpy(&v64, h->f_handle + f->ino_off, 8);
		*ino = v64;
	}
	return true;
}

/* The node id of the object a (fsid, handle) names, 0 if not cached (or,
 * with @dir, not a directory). */
static uint64_t resolve(const fsid_t *fsid, struct file_handle *h, bool dir)
{
	struct stat st;
	struct wfs *f;
	uint64_t dev, ino;
	bool fast;
	int fd, mnt_fd;

	pthread_mutex_lock(&wfs_lock);
	f = wfs_by_fsid(fsid);
	if (!f) {
		pthread_mutex_unlock(&wfs_lock);
		return 0;
	}
	dev = f->dev;
	mnt_fd = f->mnt_fd;
	fast = handle_ino(f, h, &ino);
	pthread_mutex_unlock(&wfs_lock);
	if (!fast) {
		STAT_INC(handle_opens);
		fd = open_by_handle_at(mnt_fd, h, O_PATH | O_CLOEXEC);
		if (fd < 0)
			return 0; /* gone: nothing cached can be reached */
		if (fstat(fd, &st) < 0) {
			close(fd);
			return 0;
		}
		close(fd);
		ino = st.st_ino;
	}
	return nodeid_of_key(dev, ino, dir);
}

struct fid_rec {
	fsid_t *fsid;
	struct file_handle *h;
	const char *name;
};

/* @m: the event's metadata (an aligned copy); @raw: the event itself. */
static void fan_event(const struct fanotify_event_metadata *m, const char *raw)
{
	struct fid_rec dir = {0}, obj = {0};
	const char *p = raw + m->metadata_len;
	const char *end = raw + m->event_len;
	uint64_t id;

	while (p + sizeof(struct fanotify_event_info_header) <= end) {
		const struct fanotify_event_info_header *ih = (const void *)p;
		struct fanotify_event_info_fid *fi = (void *)p;
		struct file_handle *h;
		struct fid_rec r;

		if (ih->len < sizeof(*ih) || p + ih->len > end)
			break;
		p += ih->len;
		/* FAN_RENAME is not asked for: moves come as MOVED_FROM
		 * and MOVED_TO, each with its own DFID_NAME record */
		if (ih->info_type != FAN_EVENT_INFO_TYPE_FID &&
		    ih->info_type != FAN_EVENT_INFO_TYPE_DFID &&
		    ih->info_type != FAN_EVENT_INFO_TYPE_DFID_NAME)
			continue;
		h = (struct file_handle *)fi->handle;
		r.fsid = (fsid_t *)&fi->fsid;
		r.h = h;
		r.name = NULL;
		if (ih->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME)
			r.name = (const char *)(h->f_handle + h->handle_bytes);
		if (ih->info_type == FAN_EVENT_INFO_TYPE_FID)
			obj = r;
		else
			dir = r;
	}
	if (m->mask &
	    (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO)) {
		if (!dir.h || !dir.name)
			return;
		id = resolve(dir.fsid, dir.h, true);
		if (id)
			dirent_changed(id, dir.name, m->mask & FAN_DELETE);
		else
			STAT_INC(uncached);
		return;
	}
	/* an event on an object: its own handle, or the directory's own
	 * (reported as the directory with name ".") */
	if (!obj.h && dir.h && (!dir.name || !strcmp(dir.name, ".")))
		obj = dir;
	if (!obj.h)
		return;
	id = resolve(obj.fsid, obj.h, false);
	if (!id) {
		STAT_INC(uncached);
		return;
	}
	STAT_INC(attr);
	object_changed(id, m->mask & FAN_MODIFY);
}

/*
 * Events follow each other at 4-byte alignment (the names in the info
 * records are not padded to 8): the metadata, which holds 64-bit fields,
 * is copied out before it is read.  The info records need 4 at most.
 */
static void fan_read(void)
{
	char buf[65536] __attribute__((aligned(8)));
	struct fanotify_event_metadata m;
	ssize_t len, off = 0;

	len = read(fan_fd, buf, sizeof(buf));
	while (len > 0 && off + (ssize_t)sizeof(m) <= len) {
		memcpy(&m, buf + off, sizeof(m));
		if (m.vers != FANOTIFY_METADATA_VERSION ||
		    m.event_len < sizeof(m) || off + m.event_len > len)
			break;
		STAT_INC(events);
		if (m.mask & FAN_Q_OVERFLOW) {
			overflow();
		} else if (m.pid == rfs.pid) {
			STAT_INC(self);
		} else {
			fan_event(&m, buf + off);
		}
		off += m.event_len;
	}
}

/*
 * Learn where the inode number sits in this filesystem's file handles:
 * an offset (4-byte aligned) holding st_ino as 32 or 64 bits on every
 * sample object (SOURCE's root of it, its parent, its first entries).
 * Needs at least two samples of different inode numbers that agree;
 * otherwise handles are opened to be resolved (correct, slower).
 */
static void learn_layout(struct wfs *f, int dirfd)
{
	struct {
		struct file_handle h;
		unsigned char buf[MAX_HANDLE_SZ];
	} hb[4];
	uint64_t inos[4];
	int n = 0, i, off, len, mnt, type = -1;
	char names[4][NAME_MAX + 1] = {"", "..", "", ""};
	DIR *d;
	struct dirent *de;
	int dfd;

	f->htype = -1;
	dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		d = fdopendir(dfd);
		for (i = 2; d && i < 4 && (de = readdir(d));) {
			if (!strcmp(de->d_name, ".") ||
			    !strcmp(de->d_name, ".."))
				continue;
			snprintf(names[i++], NAME_MAX + 1, "%s", de->d_name);
		}
		if (d)
			closedir(d);
		else
			close(dfd);
	}
	for (i = 0; i < 4; i++) {
		struct stat st;

		if (i && !names[i][0])
			continue;
		if (fstatat(dirfd, names[i], &st,
			    AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_dev != f->dev)
			continue;
		hb[n].h.handle_bytes = MAX_HANDLE_SZ;
		if (name_to_handle_at(dirfd, names[i], &hb[n].h, &mnt,
				      AT_EMPTY_PATH) < 0)
			continue;
		if (type >= 0 && hb[n].h.handle_type != type)
			return; /* mixed types: do not guess */
		type = hb[n].h.handle_type;
		inos[n++] = st.st_ino;
	}
	if (n < 2)
		return;
	for (len = 8; len >= 4; len -= 4) {
		for (off = 0; off + len <= (int)hb[0].h.handle_bytes;
		     off += 4) {
			bool ok = true;

			for (i = 0; i < n && ok; i++) {
				uint64_t v = 0;

				if (off + len > (int)hb[i].h.handle_bytes) {
					ok = false;
					break;
				}
				memcpy(&v, hb[i].h.f_handle + off, len);
				ok = v == inos[i] &&
				     (len == 8 || inos[i] <= UINT32_MAX);
			}
			for (i = 1; i < n && ok; i++)
				if (inos[i] == inos[0])
					ok = false; /* samples must differ */
			if (ok) {
				f->htype = type;
				f->ino_off = off;
				f->ino_len = len;
				return;
			}
		}
	}
}

static bool dev_known_locked(uint64_t dev)
{
	unsigned i;

	for (i = 0; i < nwfs; i++)
		if (wfs[i].dev == dev)
			return true;
	for (i = 0; i < nbad; i++)
		if (bad_devs[i] == dev)
			return true;
	return false;
}

static void degrade_locked(const char *why);

/*
 * Mark the filesystem of @fd (a directory; @what names it in messages).
 * Caller holds wfs_lock.  Returns 0, or a negative errno after which the
 * caller degrades.
 */
static int mark_fs_locked(int fd, uint64_t dev, const char *what)
{
	struct statfs sfs;
	struct wfs *f;
	char path[64];
	int err;

	if (dev_known_locked(dev))
		return 0;
	if (nwfs == MAX_WFS)
		return -ENOSPC;
	if (fstatfs(fd, &sfs) < 0)
		return -errno;
	/* fanotify_mark takes no O_PATH fd: name it through /proc */
	backing_proc_path(fd, path);
	if (fanotify_mark(fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM,
			  WATCH_FAN_MASK, AT_FDCWD, path) < 0) {
		err = -errno;
		if (nbad < MAX_WFS)
			bad_devs[nbad++] = dev;
		rfs_debug("cannot watch the filesystem of %s: %s", what,
			  strerror(-err));
		return err;
	}
	f = &wfs[nwfs];
	memcpy(&f->fsid, &sfs.f_fsid, sizeof(f->fsid));
	f->dev = dev;
	/* open_by_handle_at wants a real fd, not an O_PATH one */
	f->mnt_fd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->mnt_fd < 0)
		return -errno;
	learn_layout(f, fd);
	rfs_debug("watching the filesystem of %s (dev %u:%u, %s handles)", what,
		  major(dev), minor(dev), f->htype >= 0 ? "decoded" : "opened");
	nwfs++;
	return 0;
}

/* Mark every filesystem mounted inside SOURCE (from /proc/self/mountinfo). */
static int mark_submounts(void)
{
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	size_t sl = strlen(rfs.o.source);
	char *line = NULL, mp[PATH_MAX + 1];
	size_t cap = 0;
	int err = 0;

	if (!mi)
		return 0;
	while (!err && getline(&line, &cap, mi) > 0) {
		struct stat st;
		int fd;

		/* id parent major:minor root mountpoint ... */
		if (sscanf(line, "%*d %*d %*s %*s %4096s", mp) != 1)
			continue;
		if (strncmp(mp, rfs.o.source, sl) || mp[sl] != '/' ||
		    (sl == 1 && mp[1] == '\0'))
			continue;
		if (strstr(mp, "\\"))
			continue; /* escaped names: found again at lookup */
		fd = open(mp, O_PATH | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		/* NETWORK-HOOK: a remote one has its bound instead */
		if (!fstat(fd, &st) && !rfs_remote_bounded_dev(st.st_dev)) {
			pthread_mutex_lock(&wfs_lock);
			err = mark_fs_locked(fd, st.st_dev, mp);
			if (err) {
				char why[PATH_MAX + 96];

				snprintf(
					why, sizeof(why),
					"%s is on a filesystem fanotify cannot "
					"watch (%s)",
					mp, strerror(-err));
				degrade_locked(why);
			}
			pthread_mutex_unlock(&wfs_lock);
		}
		close(fd);
	}
	free(line);
	fclose(mi);
	return err;
}

void watch_check_dev(int dirfd, const char *name, uint64_t dev)
{
	int fd, err;

	if (fan_fd < 0 || dev == rfs.root_dev ||
	    rfs_remote_bounded_dev(dev)) /* NETWORK-HOOK */
		return;
	pthread_mutex_lock(&wfs_lock);
	if (!dev_known_locked(dev)) {
		fd = openat(dirfd, name,
			    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		err = fd < 0 ? -errno : mark_fs_locked(fd, dev, name);
		if (fd >= 0)
			close(fd);
		if (err) {
			char why[NAME_MAX + 128];

			snprintf(why, sizeof(why),
				 "\"%s\" is a filesystem fanotify cannot "
				 "watch (%s)",
				 name, strerror(-err));
			degrade_locked(why);
		}
	}
	pthread_mutex_unlock(&wfs_lock);
}

/* ---- inotify ---- */

static unsigned iw_hash(int wd)
{
	return (unsigned)wd % IW_BUCKETS;
}

int watch_dir_get(int fd, uint64_t dev, uint64_t ino)
{
	char path[64];
	struct iw *w;
	int wd;

	if (in_fd < 0)
		return -1;
	backing_proc_path(fd, path);
	wd = inotify_add_watch(in_fd, path, WATCH_IN_MASK);
	if (wd < 0) {
		int err = errno;

		pthread_mutex_lock(&wfs_lock);
		if (!degraded) {
			char why[160];

			snprintf(why, sizeof(why),
				 "cannot add an inotify watch (%s%s)",
				 strerror(err),
				 err == ENOSPC
					 ? ": fs.inotify.max_user_watches "
					   "is exhausted"
					 : "");
			degrade_locked(why);
		}
		pthread_mutex_unlock(&wfs_lock);
		return -1;
	}
	pthread_mutex_lock(&wfs_lock);
	for (w = iw_tab[iw_hash(wd)]; w; w = w->next)
		if (w->wd == wd)
			break;
	if (w) {
		/* the same directory again (a new inode for a key whose old
		 * one is not yet freed): share the watch */
		w->refs++;
		w->dev = dev;
		w->ino = ino;
	} else {
		w = calloc(1, sizeof(*w));
		if (w) {
			w->wd = wd;
			w->refs = 1;
			w->dev = dev;
			w->ino = ino;
			w->next = iw_tab[iw_hash(wd)];
			iw_tab[iw_hash(wd)] = w;
			__atomic_add_fetch(&watch_stats.watches, 1,
					   __ATOMIC_RELAXED);
		} else {
			inotify_rm_watch(in_fd, wd);
			wd = -1;
		}
	}
	pthread_mutex_unlock(&wfs_lock);
	return wd;
}

void watch_dir_put(int wd)
{
	struct iw **pp, *w = NULL;

	if (wd < 0 || in_fd < 0)
		return;
	pthread_mutex_lock(&wfs_lock);
	for (pp = &iw_tab[iw_hash(wd)]; *pp; pp = &(*pp)->next)
		if ((*pp)->wd == wd)
			break;
	if (*pp && --(*pp)->refs == 0) {
		w = *pp;
		*pp = w->next;
		inotify_rm_watch(in_fd, wd);
		__atomic_sub_fetch(&watch_stats.watches, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&wfs_lock);
	free(w);
}

/*
 * inotify reports a link count change (link(2)) only to a watch on the
 * inode itself, not to its directory: when a name appears, an object
 * with other links may be cached under them; look.
 */
static void new_link(uint64_t dir, const char *name)
{
	struct fdent *ref;
	struct stat st;
	uint64_t id;
	int fd, r;

	if (backing_get_dir(dir, &fd, &ref))
		return;
	r = fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW);
	backing_put_dir(ref);
	if (r || S_ISDIR(st.st_mode) || st.st_nlink < 2)
		return;
	id = nodeid_of_key(st.st_dev, st.st_ino, false);
	if (id)
		object_changed(id, false);
}

static void in_read(void)
{
	char buf[65536] __attribute__((aligned(8)));
	ssize_t len, i;

	len = read(in_fd, buf, sizeof(buf));
	for (i = 0; i + (ssize_t)sizeof(struct inotify_event) <= len;) {
		struct inotify_event *ev = (void *)(buf + i);
		uint64_t dev = 0, ino = 0, id;
		struct iw *w;

		i += sizeof(*ev) + ev->len;
		STAT_INC(events);
		if (ev->mask & IN_Q_OVERFLOW) {
			overflow();
			continue;
		}
		if (ev->mask & IN_IGNORED)
			continue;
		pthread_mutex_lock(&wfs_lock);
		for (w = iw_tab[iw_hash(ev->wd)]; w; w = w->next)
			if (w->wd == ev->wd)
				break;
		if (w) {
			dev = w->dev;
			ino = w->ino;
		}
		pthread_mutex_unlock(&wfs_lock);
		if (!w)
			continue;
		id = nodeid_of_key(dev, ino, true);
		if (!id) {
			STAT_INC(uncached);
			continue;
		}
		if (ev->len && ev->name[0]) {
			if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM |
					IN_MOVED_TO)) {
				dirent_changed(id, ev->name,
					       ev->mask & IN_DELETE);
				if (ev->mask & (IN_CREATE | IN_MOVED_TO))
					new_link(id, ev->name);
			} else {
				/* an event on a child: find it by name */
				struct dc_result res;

				STAT_INC(attr);
				memset(&res, 0, sizeof(res));
				if (!dcache_lookup(rfs.dc, id, ev->name,
						   DC_CACHED, &res) &&
				    res.nodeid)
					object_changed(res.nodeid,
						       ev->mask & IN_MODIFY);
			}
		} else {
			STAT_INC(attr);
			object_changed(id, ev->mask & IN_MODIFY);
		}
	}
}

/* ---- modes ---- */

/*
 * Fall back to timeout mode: short timeouts from now on and everything
 * cached so far dropped, because something changed in SOURCE may go
 * unseen.  One warning naming the reason.  Caller holds wfs_lock.
 */
static void degrade_locked(const char *why)
{
	if (degraded)
		return;
	degraded = true;
	rfs_timeout_mode();
	rfs_warn("%s; coherence falls back to timeouts (%gs): changes made "
		 "directly in SOURCE show after that long",
		 why, rfs_tmo(&rfs.o.entry_timeout));
	__atomic_store_n(&watch_stats.method, RFS_WATCH_NONE, __ATOMIC_RELAXED);
	if (started) {
		/* we may be inside a backend call: the watcher thread does
		 * the dcache-wide invalidation */
		uint64_t one = 1;

		__atomic_store_n(&pending_all, true, __ATOMIC_RELEASE);
		if (write(stop_fd, &one, sizeof(one)) != sizeof(one))
			rfs_error("cannot wake the watcher: %s",
				  strerror(errno));
	}
}

static void *watcher_main(void *arg)
{
	struct pollfd pf[2];

	(void)arg;
	dcache_thread_enter();
	pf[0].fd = fan_fd >= 0 ? fan_fd : in_fd;
	pf[0].events = POLLIN;
	pf[1].fd = stop_fd;
	pf[1].events = POLLIN;
	for (;;) {
		if (poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			rfs_error("watcher: poll: %s", strerror(errno));
			break;
		}
		if (pf[1].revents) {
			uint64_t v;

			if (read(stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				break;
			if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
				break;
			if (__atomic_exchange_n(&pending_all, false,
						__ATOMIC_ACQ_REL))
				inval_everything();
		}
		if (pf[0].revents & POLLIN) {
			if (fan_fd >= 0)
				fan_read();
			else
				in_read();
		}
	}
	dcache_thread_exit();
	return NULL;
}

static int start_fanotify(void)
{
	int err;

	fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK |
				       FAN_REPORT_DFID_NAME | FAN_REPORT_FID,
			       O_RDONLY | O_CLOEXEC);
	if (fan_fd < 0)
		return -errno;
	pthread_mutex_lock(&wfs_lock);
	err = mark_fs_locked(rfs.root_fd, rfs.root_dev, rfs.o.source);
	pthread_mutex_unlock(&wfs_lock);
	if (err) {
		close(fan_fd);
		fan_fd = -1;
		return err;
	}
	mark_submounts();
	return 0;
}

static int start_inotify(void)
{
	in_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in_fd < 0)
		return -errno;
	return 0;
}

int watch_start(void)
{
	int err = -EOPNOTSUPP;
	enum rfs_watcher w = rfs.o.watcher;

	if (rfs.o.coherence != RFS_COH_WATCH)
		return 0;
	if (w == RFS_WATCH_AUTO || w == RFS_WATCH_FANOTIFY) {
		err = start_fanotify();
		if (!err) {
			watch_stats.method = RFS_WATCH_FANOTIFY;
		} else if (w == RFS_WATCH_FANOTIFY) {
			rfs_error("watcher=fanotify: %s%s", strerror(-err),
				  err == -EPERM ? " (needs CAP_SYS_ADMIN)"
						: "");
			return err;
		} else {
			rfs_debug("fanotify unavailable (%s): trying inotify",
				  strerror(-err));
		}
	}
	if (err && (w == RFS_WATCH_AUTO || w == RFS_WATCH_INOTIFY)) {
		err = start_inotify();
		if (!err)
			watch_stats.method = RFS_WATCH_INOTIFY;
		else if (w == RFS_WATCH_INOTIFY)
			rfs_error("watcher=inotify: %s", strerror(-err));
	}
	if (err) {
		pthread_mutex_lock(&wfs_lock);
		degrade_locked("no way to watch SOURCE for changes (fanotify "
			       "and inotify both failed)");
		pthread_mutex_unlock(&wfs_lock);
		return 0;
	}
	stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (stop_fd < 0)
		return -errno;
	err = -pthread_create(&notifier_tid, NULL, notifier_main, NULL);
	if (err)
		return err;
	err = -pthread_create(&watcher_tid, NULL, watcher_main, NULL);
	if (err) {
		pthread_mutex_lock(&q_lock);
		q_stop = true;
		pthread_cond_signal(&q_cond);
		pthread_mutex_unlock(&q_lock);
		pthread_join(notifier_tid, NULL);
		return err;
	}
	started = true;
	__atomic_store_n(&started_flag, true, __ATOMIC_RELEASE);
	rfs_debug("coherence=watch: %s",
		  watch_stats.method == RFS_WATCH_FANOTIFY
			  ? "fanotify, whole filesystem"
			  : "inotify, one watch per cached directory");
	if (watch_stats.method == RFS_WATCH_INOTIFY) {
		/* the root is always cached */
		int wd = watch_dir_get(rfs.root_fd, rfs.root_dev, rfs.root_ino);

		(void)wd; /* kept until exit */
	}
	return 0;
}

void watch_stop(void)
{
	struct timespec deadline;
	uint64_t one = 1;
	struct note *n;
	unsigned i;

	if (!started)
		goto close_fds;
	__atomic_store_n(&stopping, true, __ATOMIC_RELEASE);
	if (write(stop_fd, &one, sizeof(one)) != sizeof(one))
		rfs_error("cannot stop the watcher: %s", strerror(errno));
	pthread_join(watcher_tid, NULL);
	__atomic_store_n(&started_flag, false, __ATOMIC_RELEASE);
	__atomic_store_n(&notify_off, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&q_lock);
	q_stop = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
	/*
	 * A notification can wait in the kernel for a directory lock that a
	 * request nobody will answer holds (the session loop has ended).
	 * Then unmounting aborts that request, the notification returns, and
	 * notify_off keeps the notifier from using the closed session fd.
	 */
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	if (pthread_timedjoin_np(notifier_tid, NULL, &deadline)) {
		rfs_warn("kernel notifier stuck at exit: unmounting first");
		fuse_session_unmount(rfs.se);
		pthread_join(notifier_tid, NULL);
	}
	started = false;
	while ((n = q_head)) {
		q_head = n->next;
		free(n);
	}
close_fds:
	if (fan_fd >= 0)
		close(fan_fd);
	if (in_fd >= 0)
		close(in_fd);
	if (stop_fd >= 0)
		close(stop_fd);
	fan_fd = in_fd = stop_fd = -1;
	for (i = 0; i < nwfs; i++)
		close(wfs[i].mnt_fd);
	nwfs = 0;
	for (i = 0; i < IW_BUCKETS; i++) {
		while (iw_tab[i]) {
			struct iw *w = iw_tab[i];

			iw_tab[i] = w->next;
			free(w);
		}
	}
}

bool watch_inotify(void)
{
	return __atomic_load_n(&watch_stats.method, __ATOMIC_RELAXED) ==
	       RFS_WATCH_INOTIFY;
}

bool watch_active(void)
{
	return __atomic_load_n(&watch_stats.method, __ATOMIC_RELAXED) !=
	       RFS_WATCH_NONE;
}

bool rfs_kernel_may_cache(void)
{
	return (rfs.o.coherence == RFS_COH_EXCLUSIVE ||
		(rfs.o.coherence == RFS_COH_WATCH && watch_active())) &&
	       rfs_remote_may_keep(0); /* NETWORK-HOOK */
}

void rfs_watch_emit(struct rfs_emit *e)
{
	static const char *const modes[] = {"watch", "timeout", "exclusive",
					    "strict"};
	static const char *const methods[] = {"auto", "fanotify", "inotify",
					      "none (timeouts)"};
	enum rfs_watcher m =
		__atomic_load_n(&watch_stats.method, __ATOMIC_RELAXED);
	unsigned q;

#define LD(f) __atomic_load_n(&watch_stats.f, __ATOMIC_RELAXED)
	rfs_emit_str(e, "mode", modes[rfs.o.coherence]);
	rfs_emit_str(e, "watcher",
		     rfs.o.coherence == RFS_COH_WATCH ? methods[m]
						      : "none (by mode)");
	rfs_emit_double(e, "entry_timeout_s", rfs_tmo(&rfs.o.entry_timeout));
	rfs_emit_double(e, "attr_timeout_s", rfs_tmo(&rfs.o.attr_timeout));
	rfs_emit_double(e, "negative_timeout_s",
			rfs_tmo(&rfs.o.negative_timeout));
	rfs_emit_u64(e, "events", LD(events));
	rfs_emit_u64(e, "events_own", LD(self));
	rfs_emit_u64(e, "events_uncached", LD(uncached));
	rfs_emit_u64(e, "names_changed", LD(dirent));
	rfs_emit_u64(e, "objects_changed", LD(attr));
	rfs_emit_u64(e, "overflows", LD(overflows));
	rfs_emit_u64(e, "handles_opened", LD(handle_opens));
	rfs_emit_u64(e, "kernel_notifications", LD(notifies));
	rfs_emit_u64(e, "kernel_notification_errors", LD(notify_errors));
	rfs_emit_u64(e, "inotify_watches", LD(watches));
	pthread_mutex_lock(&q_lock);
	q = q_len;
	pthread_mutex_unlock(&q_lock);
	rfs_emit_u64(e, "queued_notifications", q);
	pthread_mutex_lock(&wfs_lock);
	rfs_emit_u64(e, "filesystems_watched", nwfs);
	pthread_mutex_unlock(&wfs_lock);
#undef LD
}

void rfs_queue_inval_attr(uint64_t nodeid)
{
	if (__atomic_load_n(&started_flag, __ATOMIC_ACQUIRE))
		note(NOTE_INODE, nodeid, -1, NULL);
}

void rfs_queue_inval_data(uint64_t nodeid, off_t off)
{
	if (__atomic_load_n(&started_flag, __ATOMIC_ACQUIRE))
		note(NOTE_INODE, nodeid, off < 0 ? 0 : off, NULL);
}

void rfs_queue_inval_all(void)
{
	if (!__atomic_load_n(&started_flag, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&q_lock);
	q_all = true;
	pthread_cond_signal(&q_cond);
	pthread_mutex_unlock(&q_lock);
}
