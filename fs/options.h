/* SPDX-License-Identifier: MIT */
/*
 * fs/options.h - the command line (options.c): parsing and validation
 * into rfs.o, and the mount options for libfuse.  Main thread, before
 * mounting; a bad option ends the process with one line on stderr.
 */
#ifndef RCUFS_FS_OPTIONS_H
#define RCUFS_FS_OPTIONS_H

#include "rfs.h"

/* Parse and check argv into rfs.o (defaults first), check SOURCE and
 * MOUNTPOINT, the fd limit, and settle the timeouts of the coherence
 * mode.  Exits on -h, -V and on any error. */
void rfs_options_parse(int argc, char **argv);
/* The arguments for fuse_session_new: @argv0, -d, and -o with the mount
 * options from rfs.o.  Exits on failure. */
void rfs_options_fuse_args(struct fuse_args *args, const char *argv0);

#endif /* RCUFS_FS_OPTIONS_H */
