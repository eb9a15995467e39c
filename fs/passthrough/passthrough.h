/* SPDX-License-Identifier: MIT */
/*
 * fs/passthrough/passthrough.h - FUSE passthrough I/O (Linux 6.9+): reads,
 * writes and mmap of files opened through the mount go from the kernel
 * straight to the backing file in SOURCE, without a round trip through
 * the daemon.  The route through libfuse 3.14 and the rules: the top of
 * fs/passthrough/table.c; DESIGN.md.
 *
 * The rest of the daemon calls it at a few points only, each marked
 * "PASSTHROUGH hook": option parsing (options.c), session set-up, the
 * stats section and exit (main.c), INIT (ops/init.c), the OPEN and CREATE
 * replies and RELEASE (ops/file.c), GETATTR (ops/entry.c).
 */
#ifndef RCUFS_FS_PASSTHROUGH_H
#define RCUFS_FS_PASSTHROUGH_H

#include <stdbool.h>
#include <stdint.h>

struct fuse_session;
struct fuse_conn_info;
struct fuse_file_info;
struct fuse_entry_param;
struct rfs_emit;
typedef struct fuse_req *fuse_req_t;

/*
 * Command line: -o passthrough=auto|off and -o max_passthrough=N.
 * Returns true when @name was one of ours (a bad value exits with a
 * message, as every option does); false for anything else.  main() only,
 * before mounting.
 */
bool pt_parse_opt(const char *name, const char *value);

/*
 * After fuse_session_mount, before the loop: with passthrough=auto, put
 * our own reads and writes of /dev/fuse under libfuse (custom I/O), to
 * offer passthrough in the INIT reply and name backing files in OPEN and
 * CREATE replies.  @open_files_limit bounds the default of
 * max_passthrough.  Returns 0 or a negative errno.  Main thread.
 */
int pt_session_setup(struct fuse_session *se, unsigned long open_files_limit);

/* From rfs_init (INIT): records what was negotiated (libfuse >= 3.17 also
 * asks for passthrough here).  INIT's worker thread. */
void pt_init(struct fuse_conn_info *conn);

/*
 * Reply to OPEN (resp. CREATE) of node @ino, whose backing fd is @fd, in
 * place of fuse_reply_open (fuse_reply_create): decides whether this open
 * passes through (and registers the backing file if the inode has none),
 * replies, and undoes its bookkeeping when the reply did not reach the
 * kernel.  Returns what fuse_reply_open/create returned.  Request
 * handlers, outside RCU; may block briefly (pt_lock, one ioctl).
 */
int pt_reply_open(fuse_req_t req, uint64_t ino, int fd,
		  struct fuse_file_info *fi);
int pt_reply_create(fuse_req_t req, uint64_t ino, int fd,
		    const struct fuse_entry_param *e,
		    struct fuse_file_info *fi);

/*
 * RELEASE of the open of @ino whose backing fd is @fd, before that fd is
 * closed: the last passthrough open of an inode closes its backing id.
 * Request handlers, outside RCU.
 */
void pt_release(uint64_t ino, int fd);

/*
 * GETATTR of @ino: while @ino is open in passthrough mode its size and
 * times change without the daemon seeing it, so the cached attributes are
 * dropped and read again from SOURCE.  Cheap when nothing passes through.
 * Request handlers, outside RCU.
 */
void pt_getattr(uint64_t ino);

/*
 * Whether @ino's writes are not reported by the watcher now (it has a
 * passthrough open for writing; quiet.c): its attributes must then be
 * given to the kernel with a timeout of 0.  Any thread, any context; no
 * lock, no syscall.
 */
bool pt_quiet(uint64_t ino);

/* The "passthrough" section of rcufs stats.  Statistics thread. */
void pt_stats_emit(struct rfs_emit *e);

/* After the session loop, before the session is destroyed: close every
 * backing id still registered.  Main thread. */
void pt_fini(void);

#endif /* RCUFS_FS_PASSTHROUGH_H */
