/* SPDX-License-Identifier: MIT */
/*
 * tests/lib/membackend.h - an in-memory tree that implements the dcache
 * backend ops, for unit tests, the torture test and the benchmark.
 *
 * The tree is also the oracle: tests change it with the mb_* functions
 * (which do NOT touch any dcache; the test then tells the dcache, as a
 * request handler would) and compare what the dcache answers with it.
 *
 * Every function is thread-safe (one internal mutex; a lookup of a child is
 * O(1) through a global (dir ino, name) hash so million-entry trees are
 * cheap).  Paths are relative to the root, '/'-separated, no "." or "..".
 * All return 0 or a negative errno, as the syscalls they mimic would
 * (ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, EINVAL, ENAMETOOLONG).
 *
 * Objects are keyed (dev, ino) with dev == MB_DEV; inode numbers are never
 * reused.  Attributes: mb_* creators fill ino/dev/mode/nlink, uid/gid 0,
 * size 0 (or the target length for symlinks), and all times 0.
 */
#ifndef RCUFS_TESTS_MEMBACKEND_H
#define RCUFS_TESTS_MEMBACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dcache.h"

#define MB_DEV 42
#define MB_ROOT_INO 1

struct membackend;

struct membackend *mb_new(void);
void mb_free(struct membackend *mb);

/* The ops table to put in struct dcache_config (.backend = the mb). */
const struct dc_backend_ops *mb_ops(void);

/* Attributes of the root directory, for dcache_config.root_attr. */
void mb_root_attr(struct membackend *mb, struct dc_attr *attr);

/* Tree changes (the oracle).  @out (may be NULL) gets the new attributes. */
int mb_create(struct membackend *mb, const char *path, mode_t mode,
	      struct dc_attr *out); /* S_IFREG or S_IFDIR etc. in mode */
int mb_symlink(struct membackend *mb, const char *path, const char *target,
	       struct dc_attr *out);
int mb_link(struct membackend *mb, const char *oldpath, const char *newpath,
	    struct dc_attr *out);
int mb_unlink(struct membackend *mb, const char *path); /* not dirs */
int mb_rmdir(struct membackend *mb, const char *path);	/* empty dirs */
/* flags: DC_RENAME_NOREPLACE, DC_RENAME_EXCHANGE, as rename(2) */
int mb_rename(struct membackend *mb, const char *oldpath, const char *newpath,
	      unsigned flags);
/* Replace all attributes but ino/dev/type bits of mode. */
int mb_setattr(struct membackend *mb, const char *path,
	       const struct dc_attr *attr);
int mb_set_link(struct membackend *mb, const char *path, const char *target);
int mb_stat(struct membackend *mb, const char *path, struct dc_attr *out);
int mb_readlink(struct membackend *mb, const char *path, char *buf,
		size_t size); /* returns length */

/*
 * Fault injection: the next @count calls of backend op @op (any name when
 * @name is NULL, else only for that name / object name) fail with @err.
 */
void mb_inject(struct membackend *mb, enum dc_be_op op, const char *name,
	       int err, unsigned count);
/* Every backend op sleeps @usec microseconds first (0 = off). */
void mb_set_delay(struct membackend *mb, unsigned usec);
/*
 * With @on, the next lookup op, once it has read its answer, stops until
 * mb_gate_go (@on false: disarmed): a change made meanwhile is one the
 * answer missed.  mb_gate_wait_read returns true once it has read, false
 * after 10 s without it; the held lookup goes on by itself after 10 s.
 */
void mb_gate_lookup(struct membackend *mb, bool on);
bool mb_gate_wait_read(struct membackend *mb);
void mb_gate_go(struct membackend *mb);
/* Calls of backend op @op so far. */
uint64_t mb_calls(struct membackend *mb, enum dc_be_op op);

#endif /* RCUFS_TESTS_MEMBACKEND_H */
