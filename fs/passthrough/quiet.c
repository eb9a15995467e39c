/* SPDX-License-Identifier: MIT */
/*
 * fs/passthrough/quiet.c - no watcher events for the writes of
 * passthrough opens.
 *
 * A passthrough write goes from the writer straight to the backing file,
 * and fanotify reports it like any other process's: one event per write
 * (merged while unread), an allocation and a file handle encoded in the
 * writer's own system call, then the watcher's translation and a kernel
 * notification.  50,000 appends of 4 KiB ran at 0.75-0.79x native with
 * the watcher, 1.0x without (DESIGN.md).  Yet the kernel follows these
 * writes itself: after each passthrough write it drops its cached size
 * and times, and GETATTR of an inode with a backing file reads SOURCE
 * again (pt_getattr).
 *
 * So while an inode has a passthrough open for writing, FAN_MODIFY of
 * its backing file is ignored (an inode ignore mark:
 * watch_ignore_modify), and its attributes are given to the kernel with
 * a timeout of 0 (pt_quiet, at every reply that carries them) so that a
 * write made directly in SOURCE meanwhile, which no event reports now,
 * still shows at the next stat; the attributes the kernel kept from
 * before are dropped when the quiet begins.  When the last writer is
 * released the mark goes and the attributes are dropped once more.  Data
 * need nothing: a passthrough inode has no pages of its own (every open
 * of it passes through, mmap included).  Other events (attributes,
 * names, deletion) are reported as before; with inotify, or on a
 * filesystem not marked, nothing changes.
 *
 * Concurrency: pt_quiet_begin/end run under pt_lock (table.c), which
 * orders them per inode, and take wfs_lock inside it (pt_lock ->
 * wfs_lock: the coherence layer never calls passthrough).  pt_quiet reads
 * per-slot counts written with atomics under pt_lock, without a lock: a
 * slot shared with a quiet inode only costs a timeout of 0.
 */
#include "passthrough_i.h"
#include "coherence/coherence.h"

#include <errno.h>
#include <string.h>

#define PT_QUIET_SLOTS 1024
static unsigned quiet_slots[PT_QUIET_SLOTS]; /* atomics, under pt_lock */

static unsigned *slot_of(uint64_t ino)
{
	return &quiet_slots[(ino ^ (ino >> 10)) % PT_QUIET_SLOTS];
}

bool pt_quiet_begin(uint64_t ino, int fd)
{
	if (watch_ignore_modify(fd, true))
		return false;
	__atomic_add_fetch(slot_of(ino), 1, __ATOMIC_RELEASE);
	PTS_INC(quiet);
	return true;
}

void pt_quiet_end(uint64_t ino, int fd)
{
	static int said;
	int err = watch_ignore_modify(fd, false);

	if (err && !__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
		rfs_warn("passthrough: removing an ignore mark: %s",
			 strerror(-err));
	__atomic_sub_fetch(slot_of(ino), 1, __ATOMIC_RELEASE);
}

bool pt_quiet(uint64_t ino)
{
	return __atomic_load_n(slot_of(ino), __ATOMIC_ACQUIRE) != 0;
}
