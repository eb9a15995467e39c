/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/events.c - translating a change in SOURCE into
 * invalidations: of the dcache here, of the kernel through the notifier
 * queue (notify.c).  Called by the watcher thread (fanotify.c, inotify.c)
 * outside RCU read sections; see coherence_i.h.
 */
#include "coherence/coherence_i.h"

#include <string.h>
#include <time.h>

/* Everything cached may be stale: drop it (dcache and kernel). */
void ev_inval_everything(void)
{
	dcache_expire_all(rfs.dc, DC_SRC_WATCH);
	notify_all();
}

/*
 * The kernel's event queue overflowed: changes were lost, so everything
 * cached may be stale.  One warning, then one a minute at most.
 */
void ev_overflow(void)
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
	ev_inval_everything();
}

/* The object @nodeid changed (attributes; @data: its contents too). */
void ev_object_changed(uint64_t nodeid, bool data)
{
	dcache_inval_inode(rfs.dc, nodeid, DC_INVAL_ATTR | DC_INVAL_LINK,
			   DC_SRC_WATCH);
	/* off 0: attributes and cached data (or readdir); -1: attributes */
	notify_inode(nodeid, data ? 0 : -1);
}

/*
 * The name @name in directory @dir was created, removed or moved; with
 * @removed it was deleted (not moved away).
 */
void ev_dirent_changed(uint64_t dir, const char *name, bool removed)
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
		ev_object_changed(res.nodeid, false);
	}
	dcache_inval_entry(rfs.dc, dir, name, DC_SRC_WATCH);
	notify_entry(dir, name);
	/* the directory's times, size and listing */
	ev_object_changed(dir, true);
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
uint64_t ev_nodeid_of_key(uint64_t dev, uint64_t ino, bool dir)
{
	struct dc_inode *inode = dc_inode_find(rfs.dc, dev, ino);
	uint64_t id = 0;

	if (inode) {
		if (!dir || S_ISDIR(dc_inode_type(inode)))
			id = dc_inode_nodeid(inode);
		dc_inode_put(inode);
	}
	return id;
}
