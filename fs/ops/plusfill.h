/* SPDX-License-Identifier: MIT */
/*
 * fs/ops/plusfill.h - which READDIRPLUS entries get attributes.
 *
 * A READDIRPLUS entry with attributes costs an fstatat on SOURCE, a dcache
 * instantiation, and in the kernel an inode and a dentry; it pays when the
 * caller then stats the name (ls -l, a walk), and is pure loss when it does
 * not (find, which only needs d_type).  The kernel sends READDIRPLUS for
 * the first part of every listing in its automatic mode, whatever comes
 * next, so the daemon decides per entry:
 * - an entry the dcache already holds: always filled (no syscall);
 * - a directory, or an entry of unknown type: always filled (walkers and
 *   find both look them up to descend);
 * - any other entry: filled only when the predictor says that listed names
 *   are being looked up; otherwise listed without a node (nodeid 0), and a
 *   later LOOKUP fetches it.
 * The predictor watches what follows a listing: the share of skipped names
 * looked up afterwards, as a moving score.  When the score is high, every
 * 32nd listing still skips (a probe), so that a change of workload (a walk
 * followed by a find) is noticed.
 *
 * Concurrency: every function may be called from any handler thread, in
 * no RCU read section and holding no lock; none blocks, allocates or makes
 * a syscall.  The state is relaxed atomics: concurrent listings and
 * lookups can lose a piece of evidence, which only delays the predictor;
 * an answer is correct whichever way it decides.
 */
#ifndef RCUFS_FS_OPS_PLUSFILL_H
#define RCUFS_FS_OPS_PLUSFILL_H

#include <stdbool.h>
#include <stdint.h>

/*
 * At the start of a READDIRPLUS of @dir: true when uncached entries that
 * are not directories should be filled (fetched from SOURCE).
 */
bool plusfill_want(uint64_t dir);

/*
 * After a READDIRPLUS of @dir that listed @skipped entries without a node
 * (none of them "." or ".."): remembers the listing, so that lookups in
 * @dir count as evidence.
 */
void plusfill_listed(uint64_t dir, unsigned skipped);

/*
 * After a LOOKUP in @parent that found an object which is not a
 * directory: evidence that listed names are used.
 */
void plusfill_lookup(uint64_t parent);

/*
 * ls -l asks the xattrs (system.posix_acl_access) of every name it lists,
 * and the kernel sends a GETXATTR for each new inode.  While such requests
 * miss the dcache, a filling listing also records "no extended
 * attributes" for the names it fills (one listxattrat each), so that they
 * are answered without a syscall.  plusfill_xattr_miss() after a GETXATTR
 * or LISTXATTR the dcache could not answer; plusfill_want_xattr() true
 * while one came within the last PF_XATTR_WINDOW listings.
 */
void plusfill_xattr_miss(void);
bool plusfill_want_xattr(void);

/*
 * The "readdirplus" lines of rcufs stats' "operations" section: listings
 * that filled, listings that skipped, the score.  Registered by main.c
 * with rfs_stats_add; runs on the statistics thread (relaxed reads).
 */
struct rfs_emit;
void plusfill_emit(struct rfs_emit *e);

#endif
