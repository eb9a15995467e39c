/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/fanotify.c - the fanotify event source: FAN_MARK_FILESYSTEM
 * on SOURCE's filesystem and on each filesystem mounted inside SOURCE
 * (found at start-up, or when a lookup crosses into one: the source
 * layer's crossed_dev hook), reporting (directory file handle, name) and
 * the object's own handle.  Events the daemon caused (event pid == ours)
 * are skipped.  How a handle becomes a cached inode: see watch.c.
 *
 * Locks: wfs_lock (coherence_i.h) protects the filesystem table; the
 * watcher thread reads events (fan_read), handler threads mark new
 * filesystems (watch_check_dev).
 */
#include "coherence/coherence_i.h"
#include "coherence/remote.h"
#include "source/source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define WATCH_FAN_MASK                                               \
	(FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO |   \
	 FAN_ATTRIB | FAN_MODIFY | FAN_DELETE_SELF | FAN_MOVE_SELF | \
	 FAN_ONDIR)
/*
 * No CLOSE_WRITE: every write(2) already reports MODIFY, and on a busy
 * filesystem reading events is most of the watcher's cost (measured: 4 us
 * of kernel time per event read, under 1 us of ours), so one fewer event
 * per written file matters.
 */
#define MAX_WFS 64

/* ---- watched filesystems (fanotify) ---- */

struct wfs {
	fsid_t fsid;
	uint64_t dev;
	int mnt_fd;  /* an O_PATH fd on it, for open_by_handle_at */
	int htype;   /* learned handle type, -1: none learned */
	int ino_off; /* byte offset of the inode number in f_handle */
	int ino_len; /* 4 or 8 */
};

static struct wfs wfs[MAX_WFS];	   /* wfs_lock */
static unsigned nwfs;		   /* wfs_lock */
static uint64_t bad_devs[MAX_WFS]; /* wfs_lock: filesystems we failed on */
static unsigned nbad;		   /* wfs_lock */

int fan_fd = -1;

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
	return ev_nodeid_of_key(dev, ino, dir);
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
			ev_dirent_changed(id, dir.name, m->mask & FAN_DELETE);
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
	ev_object_changed(id, m->mask & FAN_MODIFY);
}

/*
 * Events follow each other at 4-byte alignment (the names in the info
 * records are not padded to 8): the metadata, which holds 64-bit fields,
 * is copied out before it is read.  The info records need 4 at most.
 */
void fan_read(void)
{
	char buf[65536] __attribute__((aligned(8)));
	struct fanotify_event_metadata m;
	ssize_t len, off = 0;
	bool told = false;

	len = read(fan_fd, buf, sizeof(buf));
	while (len > 0 && off + (ssize_t)sizeof(m) <= len) {
		memcpy(&m, buf + off, sizeof(m));
		if (m.vers != FANOTIFY_METADATA_VERSION ||
		    m.event_len < sizeof(m) || off + m.event_len > len)
			break;
		STAT_INC(events);
		if (m.mask & FAN_Q_OVERFLOW) {
			ev_overflow();
		} else if (m.pid == rfs.pid) {
			STAT_INC(self);
		} else {
			/* before the first event is resolved: a lookup
			 * whose fstatat preceded the change but whose inode
			 * comes after this batch's resolve() (which then
			 * finds nothing to invalidate) must not cache what
			 * it read */
			if (!told)
				dcache_backend_changed(rfs.dc);
			told = true;
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
		/* a remote one has its bound instead (coherence/remote.c) */
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

	/* a remote one has its bound instead (coherence/remote.c) */
	if (fan_fd < 0 || dev == rfs.root_dev || rfs_remote_bounded_dev(dev))
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

int fan_start(void)
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

void fan_stop(void)
{
	unsigned i;

	if (fan_fd >= 0)
		close(fan_fd);
	fan_fd = -1;
	for (i = 0; i < nwfs; i++)
		close(wfs[i].mnt_fd);
	nwfs = 0;
}

unsigned fan_filesystems(void)
{
	unsigned n;

	pthread_mutex_lock(&wfs_lock);
	n = nwfs;
	pthread_mutex_unlock(&wfs_lock);
	return n;
}

int watch_ignore_modify(int fd, bool on)
{
	struct stat st;
	bool marked = false;
	unsigned i;

	if (fan_fd < 0)
		return -EOPNOTSUPP;
	if (fstat(fd, &st) < 0)
		return -errno;
	pthread_mutex_lock(&wfs_lock);
	for (i = 0; i < nwfs; i++)
		marked |= wfs[i].dev == (uint64_t)st.st_dev;
	pthread_mutex_unlock(&wfs_lock);
	if (!marked)
		return -ENOENT; /* no events come from there anyway */
	/* SURV_MODIFY: a legacy ignore mask ends at the first modification
	 * otherwise */
	if (fanotify_mark(fan_fd,
			  on ? FAN_MARK_ADD | FAN_MARK_IGNORED_MASK |
					  FAN_MARK_IGNORED_SURV_MODIFY
			     : FAN_MARK_REMOVE | FAN_MARK_IGNORED_MASK,
			  FAN_MODIFY, fd, NULL) < 0)
		return -errno;
	return 0;
}
