/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/openfiles.c - the open-file registry: every open's fd (files in
 * file.c, directories in readdir.c) by node id, and the lock owners that
 * locked through each open (locks.c), so that RELEASE ends their locks.
 *
 * Locks: of_lock protects the registry and each open's owner list; it
 * nests outside lk_lock (locks.c), never inside.  Never held across a
 * blocking call, never inside an RCU read section.
 */
#include "ops/ops_i.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>

/*
 * Every open's fd by node id, so that requests which come without a file
 * handle (fstat, fchmod, fgetxattr of an unlinked file: the kernel sends
 * no fh for them) can still reach the object once no name leads to it.
 */
struct lkowner;
struct lkref {
	struct lkref *next;
	struct lkowner *o; /* referenced */
};

struct ofile {
	struct ofile *next;  /* of_lock */
	uint64_t nodeid;     /* immutable */
	int fd;		     /* immutable; open while listed */
	struct lkref *locks; /* of_lock: owners that locked through it */
};

static void lk_drop_refs(struct lkref *l);

#define OF_HASH 1024
static pthread_mutex_t of_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ofile *of_hash[OF_HASH];

static struct ofile **of_bucket(uint64_t nodeid)
{
	return &of_hash[(nodeid ^ (nodeid >> 10)) % OF_HASH];
}

int rfs_open_add(uint64_t nodeid, int fd)
{
	struct ofile *f = malloc(sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->nodeid = nodeid;
	f->fd = fd;
	f->locks = NULL;
	pthread_mutex_lock(&of_lock);
	f->next = *of_bucket(nodeid);
	*of_bucket(nodeid) = f;
	pthread_mutex_unlock(&of_lock);
	return 0;
}

/*
 * Unlist @fd (before it is closed): the open is released, so every lock
 * taken through it that its owner still holds goes (see "Locks end with
 * their open" below).
 */
void rfs_open_del(uint64_t nodeid, int fd)
{
	struct ofile **pp, *f = NULL;

	pthread_mutex_lock(&of_lock);
	for (pp = of_bucket(nodeid); *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd && (*pp)->nodeid == nodeid) {
			f = *pp;
			*pp = f->next;
			break;
		}
	}
	pthread_mutex_unlock(&of_lock);
	if (f) {
		lk_drop_refs(f->locks);
		free(f);
	}
}

/*
 * A new fd (F_DUPFD_CLOEXEC) of an open file of @nodeid, or -ESTALE when
 * nothing has it open.  The caller closes it.
 */
int rfs_file_dup(uint64_t nodeid)
{
	struct ofile *f;
	int fd = -ESTALE;

	pthread_mutex_lock(&of_lock);
	for (f = *of_bucket(nodeid); f; f = f->next) {
		if (f->nodeid == nodeid) {
			/* under the lock: the fd cannot be closed meanwhile */
			fd = fcntl(f->fd, F_DUPFD_CLOEXEC, 0);
			if (fd < 0)
				fd = -errno;
			break;
		}
	}
	pthread_mutex_unlock(&of_lock);
	return fd;
}

/* ---- locks end with their open ------------------------------------------ */

/*
 * The kernel tells which open a lock request came through (fi->fh) but
 * not whether it is a POSIX lock (owner: the process's file table, ended
 * by FLUSH) or an OFD lock (owner: the open file itself, which no FLUSH
 * names: the kernel sends nothing when the open is released).  So every
 * owner that takes a lock through an open is registered with it, and
 * RELEASE drops those still hashed.  That is right for both kinds: an OFD
 * owner locks through that one open only, and a POSIX owner that locked
 * through it closed it (a FLUSH, which unhashed it) before the open could
 * be released -- a later lock by that process makes a new owner entry,
 * registered with the open it used.
 */
void rfs_open_lock_add(uint64_t nodeid, int fh, struct lkowner *o)
{
	struct lkref *l, *mine = malloc(sizeof(*mine));
	struct ofile *f;

	pthread_mutex_lock(&of_lock);
	for (f = *of_bucket(nodeid); f; f = f->next)
		if (f->nodeid == nodeid && f->fd == fh)
			break;
	for (l = f ? f->locks : NULL; l; l = l->next)
		if (l->o == o)
			break;
	if (f && !l && mine) {
		/* not one a FLUSH just ended (rfs_open_lock_forget ran) */
		if (lk_hold_if_hashed(o)) {
			mine->o = o;
			mine->next = f->locks;
			f->locks = mine;
			mine = NULL;
		}
	}
	pthread_mutex_unlock(&of_lock);
	/* without memory the lock still works; it lasts until the owner's
	 * FLUSH (a POSIX owner) or the unmount */
	free(mine);
}

/*
 * @o was ended by its FLUSH: unregister it from the opens of its inode
 * now, so that its fd is closed at once rather than when they are
 * released (a long-lived open shared by many short-lived processes).
 */
void rfs_open_lock_forget(uint64_t nodeid, struct lkowner *o)
{
	struct lkref *gone = NULL, **pp, *l;
	struct ofile *f;

	pthread_mutex_lock(&of_lock);
	for (f = *of_bucket(nodeid); f; f = f->next) {
		if (f->nodeid != nodeid)
			continue;
		for (pp = &f->locks; *pp;) {
			l = *pp;
			if (l->o == o) {
				*pp = l->next;
				l->next = gone;
				gone = l;
			} else {
				pp = &l->next;
			}
		}
	}
	pthread_mutex_unlock(&of_lock);
	for (; gone; gone = l) {
		l = gone->next;
		lk_put(gone->o);
		free(gone);
	}
}

static void lk_drop_refs(struct lkref *l)
{
	struct lkref *next;

	for (; l; l = next) {
		next = l->next;
		lk_end_owner(l->o);
		lk_put(l->o);
		free(l);
	}
}
