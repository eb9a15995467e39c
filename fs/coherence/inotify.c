/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/inotify.c - the inotify event source: one watch per cached
 * directory, added when the daemon first opens the directory's fd (the
 * source layer's dir_opened hook: every directory whose children are
 * looked up, listed or changed), or as soon as the kernel gets a
 * reference to it (watch_new_node), and removed when the dcache frees the
 * inode (dir_released).  Cannot tell our own events from others: they
 * cost an extra invalidation, not correctness.
 *
 * Locks: wfs_lock (coherence_i.h) protects the watch table, written by
 * handler threads (watch_dir_get/put), read by the watcher (in_read).
 */
#include "coherence/coherence_i.h"
#include "source/source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#define WATCH_IN_MASK                                                      \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB | \
	 IN_MODIFY | IN_DELETE_SELF | IN_MOVE_SELF | IN_EXCL_UNLINK |      \
	 IN_ONLYDIR)
/* No CLOSE_WRITE: see WATCH_FAN_MASK in fanotify.c. */

/* ---- inotify watches: wd -> directory key, refcounted ---- */

struct iw {
	int wd;
	unsigned refs;
	uint64_t dev, ino;
	struct iw *next;
};
#define IW_BUCKETS 4096
static struct iw *iw_tab[IW_BUCKETS]; /* wfs_lock */

int in_fd = -1;

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

/* lstat of child @name of cached directory @dir in SOURCE: 0 or -1. */
static int stat_child(uint64_t dir, const char *name, struct stat *st)
{
	struct fdent *ref;
	int fd, r;

	if (backing_get_dir(dir, &fd, &ref))
		return -1;
	r = fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW);
	backing_put_dir(ref);
	return r;
}

/*
 * inotify reports a link count change (link(2)) only to a watch on the
 * inode itself, not to its directory: when a name appears, an object
 * with other links may be cached under them; look.
 */
static void new_link(uint64_t dir, const char *name)
{
	struct stat st;
	uint64_t id;

	if (stat_child(dir, name, &st) || S_ISDIR(st.st_mode) ||
	    st.st_nlink < 2)
		return;
	id = ev_nodeid_of_key(st.st_dev, st.st_ino, false);
	if (id)
		ev_object_changed(id, false);
}

/*
 * An event on child @name of @dir whose name the dcache does not answer
 * with a node id (not cached, expired, a lookup of it in flight; also a
 * valid negative entry, -ENOENT, or -ESTALE): an inode may hold the object
 * all the same (another name, the kernel's references, or that lookup,
 * which creates its inode before its name is visible), with attributes
 * read before the change.  Find it by key.  Costs the watcher thread the
 * directory's fd (fdc; an openat2 when not cached) and an fstatat per
 * such event, as new_link does.
 */
static void child_by_key(uint64_t dir, const char *name, bool data)
{
	struct stat st;
	uint64_t id;

	if (stat_child(dir, name, &st))
		/* gone: nothing to find it by.  If this name was its only
		 * way in (a second link, never cached, made and removed
		 * directly in SOURCE within one burst), its other cached
		 * names keep their attributes: rcufs(8), known limits */
		return;
	id = ev_nodeid_of_key(st.st_dev, st.st_ino, false);
	if (id)
		ev_object_changed(id, data);
	else
		STAT_INC(uncached);
}

void in_read(void)
{
	char buf[65536] __attribute__((aligned(8)));
	ssize_t len, i;
	bool told = false;

	len = read(in_fd, buf, sizeof(buf));
	for (i = 0; i + (ssize_t)sizeof(struct inotify_event) <= len;) {
		struct inotify_event *ev = (void *)(buf + i);
		uint64_t dev = 0, ino = 0, id;
		struct iw *w;

		i += sizeof(*ev) + ev->len;
		STAT_INC(events);
		if (ev->mask & IN_Q_OVERFLOW) {
			ev_overflow();
			continue;
		}
		if (ev->mask & IN_IGNORED)
			continue;
		/* before the first lookup of the batch, and before the watch
		 * is looked up (a watch being added may not be in iw_tab
		 * yet): a fill that read SOURCE before the change and
		 * creates its inode after the lookups below must not cache
		 * what it read */
		if (!told)
			dcache_backend_changed(rfs.dc);
		told = true;
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
		id = ev_nodeid_of_key(dev, ino, true);
		if (!id) {
			STAT_INC(uncached);
			continue;
		}
		if (ev->len && ev->name[0]) {
			if (ev->mask & (IN_CREATE | IN_DELETE | IN_MOVED_FROM |
					IN_MOVED_TO)) {
				ev_dirent_changed(id, ev->name,
						  ev->mask & IN_DELETE);
				if (ev->mask & (IN_CREATE | IN_MOVED_TO))
					new_link(id, ev->name);
			} else {
				/* an event on a child: find it by name */
				struct dc_result res;

				STAT_INC(attr);
				memset(&res, 0, sizeof(res));
				if (!dcache_lookup(rfs.dc, id, ev->name,
						   DC_CACHED, &res)) {
					if (res.nodeid)
						ev_object_changed(
							res.nodeid,
							ev->mask & IN_MODIFY);
				} else {
					child_by_key(id, ev->name,
						     ev->mask & IN_MODIFY);
				}
			}
		} else {
			STAT_INC(attr);
			ev_object_changed(id, ev->mask & IN_MODIFY);
		}
	}
}

int in_start(void)
{
	in_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (in_fd < 0)
		return -errno;
	return 0;
}

void in_stop(void)
{
	unsigned i;

	if (in_fd >= 0)
		close(in_fd);
	in_fd = -1;
	for (i = 0; i < IW_BUCKETS; i++) {
		while (iw_tab[i]) {
			struct iw *w = iw_tab[i];

			iw_tab[i] = w->next;
			free(w);
		}
	}
}

void watch_new_node(uint64_t nodeid, mode_t mode, struct dc_attr *attr)
{
	struct dc_attr fresh;

	if (!S_ISDIR(mode) || nodeid == DC_ROOT_ID || !watch_inotify())
		return;
	/* opening its fd watches it (the dir_opened hook) */
	if (!backing_dir_hook_now(nodeid))
		return;
	/* a change between the stat that cached them and the watch */
	dcache_inval_inode(rfs.dc, nodeid, DC_INVAL_ATTR, DC_SRC_WATCH);
	if (!dcache_getattr(rfs.dc, nodeid, 0, &fresh))
		*attr = fresh;
}
