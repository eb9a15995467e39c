/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/table.c - the operation table given to libfuse: every handler
 * wrapped with a timer that feeds the per-operation counters
 * (fs/stats/opstats.h; the wrappers inline the counting).
 */
#include "ops/ops_i.h"
#include "stats/opstats.h"

/*
 * One wrapper per operation: W(name, OP, (parameters), (arguments)).
 * The handler is called directly (no indirect call).
 */
#define W(fn, OP, params, args)               \
	static void timed_##fn params         \
	{                                     \
		uint64_t t0 = rfs_op_begin(); \
		rfs_##fn args;                \
		rfs_op_end(RFS_OP_##OP, t0);  \
	}

/* clang-format off */
W(lookup, LOOKUP, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
W(forget, FORGET, (fuse_req_t r, fuse_ino_t i, uint64_t n), (r, i, n))
W(forget_multi, BATCH_FORGET,
  (fuse_req_t r, size_t n, struct fuse_forget_data *f), (r, n, f))
W(getattr, GETATTR, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(setattr, SETATTR,
  (fuse_req_t r, fuse_ino_t i, struct stat *a, int s,
   struct fuse_file_info *fi), (r, i, a, s, fi))
W(readlink, READLINK, (fuse_req_t r, fuse_ino_t i), (r, i))
W(access, ACCESS, (fuse_req_t r, fuse_ino_t i, int m), (r, i, m))
W(statfs, STATFS, (fuse_req_t r, fuse_ino_t i), (r, i))
W(mknod, MKNOD,
  (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m, dev_t d),
  (r, p, n, m, d))
W(mkdir, MKDIR, (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m),
  (r, p, n, m))
W(unlink, UNLINK, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
W(rmdir, RMDIR, (fuse_req_t r, fuse_ino_t p, const char *n), (r, p, n))
W(symlink, SYMLINK,
  (fuse_req_t r, const char *l, fuse_ino_t p, const char *n), (r, l, p, n))
W(rename, RENAME,
  (fuse_req_t r, fuse_ino_t p, const char *n, fuse_ino_t np,
   const char *nn, unsigned int f), (r, p, n, np, nn, f))
W(link, LINK, (fuse_req_t r, fuse_ino_t i, fuse_ino_t np, const char *nn),
  (r, i, np, nn))
W(opendir, OPENDIR, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(readdir, READDIR,
  (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
  (r, i, s, o, fi))
W(readdirplus, READDIRPLUS,
  (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
  (r, i, s, o, fi))
W(releasedir, RELEASEDIR,
  (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi), (r, i, fi))
W(fsyncdir, FSYNCDIR,
  (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *fi),
  (r, i, d, fi))
W(open, OPEN, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(create, CREATE,
  (fuse_req_t r, fuse_ino_t p, const char *n, mode_t m,
   struct fuse_file_info *fi), (r, p, n, m, fi))
W(read, READ,
  (fuse_req_t r, fuse_ino_t i, size_t s, off_t o, struct fuse_file_info *fi),
  (r, i, s, o, fi))
W(write_buf, WRITE,
  (fuse_req_t r, fuse_ino_t i, struct fuse_bufvec *b, off_t o,
   struct fuse_file_info *fi), (r, i, b, o, fi))
W(flush, FLUSH, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(release, RELEASE, (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi),
  (r, i, fi))
W(fsync, FSYNC,
  (fuse_req_t r, fuse_ino_t i, int d, struct fuse_file_info *fi),
  (r, i, d, fi))
W(getlk, GETLK,
  (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi, struct flock *l),
  (r, i, fi, l))
W(setlk, SETLK,
  (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi, struct flock *l,
   int s), (r, i, fi, l, s))
W(flock, FLOCK,
  (fuse_req_t r, fuse_ino_t i, struct fuse_file_info *fi, int o),
  (r, i, fi, o))
W(fallocate, FALLOCATE,
  (fuse_req_t r, fuse_ino_t i, int m, off_t o, off_t l,
   struct fuse_file_info *fi), (r, i, m, o, l, fi))
W(copy_file_range, COPY_FILE_RANGE,
  (fuse_req_t r, fuse_ino_t ii, off_t oi, struct fuse_file_info *fii,
   fuse_ino_t io, off_t oo, struct fuse_file_info *fio, size_t len,
   int flags), (r, ii, oi, fii, io, oo, fio, len, flags))
W(lseek, LSEEK,
  (fuse_req_t r, fuse_ino_t i, off_t o, int w, struct fuse_file_info *fi),
  (r, i, o, w, fi))
W(ioctl, IOCTL,
  (fuse_req_t r, fuse_ino_t i, unsigned c, void *a, struct fuse_file_info *fi,
   unsigned f, const void *ib, size_t is, size_t os),
  (r, i, c, a, fi, f, ib, is, os))
W(setxattr, SETXATTR,
  (fuse_req_t r, fuse_ino_t i, const char *n, const char *v, size_t s,
   int f), (r, i, n, v, s, f))
W(getxattr, GETXATTR,
  (fuse_req_t r, fuse_ino_t i, const char *n, size_t s), (r, i, n, s))
W(listxattr, LISTXATTR, (fuse_req_t r, fuse_ino_t i, size_t s), (r, i, s))
W(removexattr, REMOVEXATTR, (fuse_req_t r, fuse_ino_t i, const char *n),
  (r, i, n))
/* clang-format on */

const struct fuse_lowlevel_ops rfs_ops = {.init = rfs_init,
					  .destroy = rfs_destroy,
#define RFS_OP_ENTRY(NAME, fn) .fn = timed_##fn,
					  RFS_OP_LIST(RFS_OP_ENTRY)
#undef RFS_OP_ENTRY
};
