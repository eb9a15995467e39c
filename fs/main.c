/* SPDX-License-Identifier: MIT */
/*
 * fs/main.c - start-up in order (options, SOURCE, the session, the cache,
 * the watchers, statistics), the session loop, and the way down.
 *
 * Every bad input is refused before anything is mounted (options.c).
 */
#include "coherence/coherence.h"
#include "coherence/remote.h"
#include "ops/ops.h"
#include "ops/plusfill.h"
#include "options.h"
#include "passthrough/passthrough.h" /* PASSTHROUGH hook */
#include "rfs.h"
#include "source/source.h"
#include "stats/stats.h"

#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

static struct stat root_st;

/*
 * The atime options and ro act on SOURCE through a private mount: a
 * detached clone of SOURCE's mount (and of the mounts below it) with
 * those mount attributes, which only this process can reach.  The kernel
 * then moves access times exactly as it would on a native mount with
 * these options (and never on a read-only one), whatever SOURCE's own
 * mount says.  Needs CAP_SYS_ADMIN (root).  Returns the clone's root fd,
 * or a negative errno.
 */
static int clone_source(int fd)
{
	struct mount_attr ma = {0};
	int t;

	t = (int)open_tree(fd, "",
			   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE |
				   AT_EMPTY_PATH);
	if (t < 0)
		return -errno;
	switch (rfs.o.atime) {
	case RFS_ATIME_NOATIME:
		ma.attr_set |= MOUNT_ATTR_NOATIME;
		ma.attr_clr |= MOUNT_ATTR__ATIME;
		break;
	case RFS_ATIME_RELATIME:
		ma.attr_set |= MOUNT_ATTR_RELATIME;
		ma.attr_clr |= MOUNT_ATTR__ATIME;
		break;
	case RFS_ATIME_STRICT:
		ma.attr_set |= MOUNT_ATTR_STRICTATIME;
		ma.attr_clr |= MOUNT_ATTR__ATIME;
		break;
	case RFS_ATIME_SOURCE:
		break;
	}
	if (rfs.o.nodiratime)
		ma.attr_set |= MOUNT_ATTR_NODIRATIME;
	if (rfs.o.ro)
		ma.attr_set |= MOUNT_ATTR_RDONLY;
	if (mount_setattr(t, "", AT_EMPTY_PATH | AT_RECURSIVE, &ma,
			  sizeof(ma)) < 0) {
		int err = -errno;

		close(t);
		return err;
	}
	return t;
}

/* Before mounting: errors still reach the terminal. */
static void open_root(void)
{
	bool atime_opts = rfs.o.atime != RFS_ATIME_SOURCE || rfs.o.nodiratime;
	struct stat st;
	int t;

	rfs.source_fd = open(rfs.o.source, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rfs.source_fd < 0 || fstat(rfs.source_fd, &root_st) < 0)
		rfs_die("SOURCE %s: %s", rfs.o.source, strerror(errno));
	rfs.root_fd = rfs.source_fd;
	if (atime_opts || (rfs.o.ro && geteuid() == 0)) {
		t = clone_source(rfs.source_fd);
		if (t < 0 && atime_opts)
			rfs_die("the atime options need a private mount of "
				"SOURCE, "
				"which failed: %s (it needs root)",
				strerror(-t));
		/* ro alone: SOURCE's atimes may move, as before */
		if (t >= 0) {
			if (fstat(t, &st) < 0 || st.st_dev != root_st.st_dev ||
			    st.st_ino != root_st.st_ino)
				rfs_die("SOURCE %s changed while it was opened",
					rfs.o.source);
			rfs.root_fd = t;
		}
	}
	rfs.root_dev = root_st.st_dev;
	rfs.root_ino = root_st.st_ino;
	rfs.atime_moves = rfs.o.atime != RFS_ATIME_NOATIME &&
			  !(rfs.o.ro && rfs.root_fd != rfs.source_fd);
	rfs.diratime_moves = rfs.atime_moves && !rfs.o.nodiratime;
	rfs.atime_exact = atime_opts && rfs.o.atime != RFS_ATIME_NOATIME;
	if (rfs.atime_exact)
		rfs.o.no_opendir = false;
}

/*
 * After fuse_daemonize(): the cache starts threads (shrinker, liburcu's
 * call_rcu worker) and registers this thread with RCU, and a fork() keeps
 * neither the threads nor a consistent RCU registry -- the daemon would
 * run without its shrinker and hang in synchronize_rcu() at unmount.
 */
static int open_cache(void)
{
	struct dcache_config cfg = {0};

	cfg.ops = &rfs_backing_ops;
	dc_attr_from_stat(&cfg.root_attr, &root_st);
	if (rfs.o.cache_off) {
		/* every lookup and getattr goes to SOURCE */
		cfg.entry_ttl_ns = cfg.neg_ttl_ns = cfg.attr_ttl_ns = 0;
	} else if (rfs.o.coherence == RFS_COH_WATCH ||
		   rfs.o.coherence == RFS_COH_EXCLUSIVE) {
		/* valid until invalidated (by the watcher, or never: nobody
		 * else changes SOURCE); a watcher fallback shortens it */
		cfg.entry_ttl_ns = cfg.neg_ttl_ns = cfg.attr_ttl_ns =
			DC_TTL_FOREVER;
	} else {
		cfg.entry_ttl_ns = rfs_ttl_ns(rfs.o.entry_timeout);
		cfg.neg_ttl_ns = rfs_ttl_ns(rfs.o.negative_timeout);
		cfg.attr_ttl_ns = rfs_ttl_ns(rfs.o.attr_timeout);
	}
	cfg.max_entries = rfs.o.max_entries;
	cfg.shrinker_thread = rfs.o.max_entries != 0;
	backing_init(rfs.o.max_fds);
	return dcache_new(&cfg, &rfs.dc);
}

/* The open-file limit (after the options raised it to the hard limit). */
static unsigned long open_files_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1024;
	return (unsigned long)rl.rlim_cur;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lc;
	bool entered = false, stats = false;
	int err, ret = 1;

	/* a SOURCE directory named "stats" is given as ./stats */
	if (argc >= 2 && !strcmp(argv[1], "stats"))
		return rfs_stats_main(argc - 1, argv + 1);
	rfs_options_parse(argc, argv);
	open_root();
	rfs_remote_announce(); /* the line naming a remote SOURCE's bound */
	/* selinuxfs is mounted where SELinux is active (ops/xattr.c) */
	rfs.selinux_unsupported = !rfs.o.exact_xattr_errors &&
				  access("/sys/fs/selinux/enforce", F_OK) != 0;
	if (!rfs_creds_init())
		/* one line, before daemonizing: what a user daemon cannot do */
		fprintf(stderr,
			"rcufs: running as uid %u, not root: every request "
			"acts "
			"as uid %u on SOURCE; acting as each caller (new files "
			"owned by their creator, other users' rights and ACLs "
			"checked as theirs) needs root, and so does "
			"allow_other "
			"unless /etc/fuse.conf has user_allow_other\n",
			(unsigned)geteuid(), (unsigned)geteuid());

	rfs_options_fuse_args(&args, argv[0]);

	rfs.se = fuse_session_new(&args, &rfs_ops, sizeof(rfs_ops), NULL);
	if (!rfs.se)
		rfs_die("cannot create the FUSE session");
	if (fuse_set_signal_handlers(rfs.se))
		rfs_die("cannot install signal handlers");
	if (fuse_session_mount(rfs.se, rfs.o.mountpoint))
		rfs_die("cannot mount %s (see the message above)",
			rfs.o.mountpoint);
	/* PASSTHROUGH hook: our own I/O on /dev/fuse, before INIT */
	if (pt_session_setup(rfs.se, open_files_limit()))
		goto out_unmount;
	if (fuse_daemonize(rfs.o.foreground))
		goto out_unmount;
	rfs.pid = getpid();
	/* the kernel applied the caller's umask already: apply none again */
	umask(0);
	dcache_thread_enter();
	entered = true;
	watch_init(); /* the source layer's hooks, before the cache exists */
	err = open_cache();
	if (err) {
		rfs_error("cannot create the cache: %s", strerror(-err));
		goto out_unmount;
	}
	err = rfs_source_watch_start();
	if (err) {
		rfs_error("cannot start the SOURCE watcher: %s",
			  strerror(-err));
		goto out_unmount;
	}
	err = watch_start();
	if (err)
		goto out_unmount;
	rfs.start_ns = rfs_now_ns();
	/* the layers' lines of rcufs stats, in output order */
	rfs_stats_add("daemon", backing_emit);
	rfs_stats_add("coherence", rfs_watch_emit);
	rfs_stats_add("filesystem", rfs_remote_emit);
	rfs_stats_add("operations", plusfill_emit);
	rfs_stats_add("passthrough", pt_stats_emit); /* PASSTHROUGH hook */
	/* failing to serve statistics does not stop the mount */
	stats = rfs_stats_start() == 0;
	if (rfs.o.singlethread) {
		ret = fuse_session_loop(rfs.se);
	} else {
		lc = fuse_loop_cfg_create();
		if (!lc)
			goto out_unmount;
		fuse_loop_cfg_set_max_threads(lc, rfs.o.threads);
		ret = fuse_session_loop_mt(rfs.se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	/* the loop returns the number of the signal that stopped it: being
	 * asked to stop (kill, systemd, Ctrl-C) is a clean exit */
	if (ret == SIGTERM || ret == SIGINT || ret == SIGHUP)
		ret = 0;
out_unmount:
	rfs_locks_stop();
	pt_fini(); /* PASSTHROUGH hook: backing ids still open */
	if (stats)
		rfs_stats_stop();
	watch_stop();
	fuse_session_unmount(rfs.se);
	fuse_remove_signal_handlers(rfs.se);
	fuse_session_destroy(rfs.se);
	rfs_source_watch_stop();
	dcache_free(rfs.dc);
	backing_fini();
	if (rfs.root_fd != rfs.source_fd)
		close(rfs.root_fd);
	close(rfs.source_fd);
	fuse_opt_free_args(&args);
	if (entered)
		dcache_thread_exit();
	return ret ? 1 : 0;
}
