/* SPDX-License-Identifier: MIT */
/*
 * fs/passthrough/passthrough_i.h - what table.c (the per-inode table,
 * the open decisions, the replies) and devio.c (/dev/fuse: INIT, the
 * reply patches, the set-up) share.  Not for other modules.
 */
#ifndef RCUFS_FS_PASSTHROUGH_I_H
#define RCUFS_FS_PASSTHROUGH_I_H

#include "rfs.h"
#include "passthrough.h"

#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

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

struct pt_globals {
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
};
extern struct pt_globals pt; /* table.c */

/* statistics: relaxed atomics */
struct pt_stats {
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
	uint64_t quiet;	       /* inodes whose writes went unreported */
};
extern struct pt_stats pts; /* table.c */

#define PTS_INC(f) __atomic_add_fetch(&pts.f, 1, __ATOMIC_RELAXED)
#define PTS_DEC(f) __atomic_sub_fetch(&pts.f, 1, __ATOMIC_RELAXED)
#define PTS_LD(f) __atomic_load_n(&pts.f, __ATOMIC_RELAXED)

/* The backing id of the OPEN/CREATE reply this thread is sending (0:
 * none), and whether our writev put it into the reply (table.c). */
extern __thread int tls_backing_id;
#if FUSE_VERSION < FUSE_MAKE_VERSION(3, 17)
extern __thread bool tls_patched;
#endif

static inline bool pt_on(void)
{
	return __atomic_load_n(&pt.state, __ATOMIC_ACQUIRE) == PT_ON;
}

/* devio.c: off, with @why (a static string); the start-up notice. */
void pt_set_off(const char *why);
void pt_say_state(void);

/* quiet.c, under pt_lock: the first passthrough writer of @ino (open at
 * @fd) stops FAN_MODIFY reports of it (true if it did); the last one,
 * before @fd is closed, resumes them.  The caller then drops the kernel's
 * attributes of @ino (rfs_queue_inval_attr), outside pt_lock. */
bool pt_quiet_begin(uint64_t ino, int fd);
void pt_quiet_end(uint64_t ino, int fd);

/* devio.c: register the file open at @fd with /dev/fuse (its id, or a
 * negative errno); say once per kind why the kernel refused one.  Under
 * pt_lock. */
int pt_backing_open(int fd);
void pt_note_refusal(int err);

#endif /* RCUFS_FS_PASSTHROUGH_I_H */
