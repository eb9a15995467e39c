/* SPDX-License-Identifier: MIT */
/*
 * fs/options.c - the command line: parsing, checks before mounting, the
 * FUSE mount options.
 *
 * Every bad input is refused before anything is mounted, with one line on
 * stderr naming the problem and a non-zero exit.
 */
#include "options.h"
#include "coherence/coherence.h"
#include "coherence/remote.h"
#include "passthrough/passthrough.h" /* PASSTHROUGH hook */

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef RCUFS_VERSION
#define RCUFS_VERSION "unknown"
#endif

static void usage(FILE *f)
{
	fprintf(f,
		"usage: rcufs [options] SOURCE MOUNTPOINT\n"
		"       rcufs stats MOUNTPOINT [--json]\n"
		"\n"
		"Mirror the directory SOURCE at MOUNTPOINT, answering "
		"metadata from an\n"
		"in-memory dentry cache.  Unmount with: fusermount3 -u "
		"MOUNTPOINT\n"
		"\n"
		"general options:\n"
		"    -f                     stay in the foreground\n"
		"    -d                     debug: log requests and "
		"capabilities (implies -f)\n"
		"    -s                     single-threaded\n"
		"    -h, --help             this help\n"
		"    -V, --version          print the version\n"
		"    -o opt[,opt...]        mount options, below\n"
		"\n"
		"FUSE options:\n"
		"    -o allow_other         let all users access the mount "
		"(needs root or\n"
		"                           user_allow_other in "
		"/etc/fuse.conf)\n"
		"    -o default_permissions the kernel checks permissions "
		"(default: on)\n"
		"    -o no_default_permissions  rcufs answers access checks "
		"instead\n"
		"                           (entry and negative timeouts "
		"0)\n"
		"    -o ro                  read-only mount\n"
		"    -o fsname=NAME         filesystem name in /proc/mounts "
		"(default: SOURCE)\n"
		"    -o subtype=NAME        filesystem subtype: the type "
		"is fuse.NAME\n"
		"                           (default: rcufs); "
		"subtype= (empty): fuse\n"
		"    -o auto_unmount        unmount when rcufs exits, even "
		"if killed\n"
		"\n"
		"rcufs options:\n"
		"    -o coherence=MODE      how changes made directly in "
		"SOURCE show:\n"
		"                           watch (default): watched, "
		"visible at once,\n"
		"                             kernel timeouts 3600 s; "
		"timeouts 1 s if SOURCE\n"
		"                             cannot be watched\n"
		"                           timeout: after the timeouts "
		"(default 1 s; the\n"
		"                             default mode on a network "
		"filesystem)\n"
		"                           exclusive: nobody else changes "
		"SOURCE (timeouts\n"
		"                             86400 s, writeback on)\n"
		"                           strict: every request asks "
		"SOURCE (timeouts 0)\n"
		"    -o watcher=W           coherence=watch through auto "
		"(default), fanotify\n"
		"                           (needs root) or inotify\n"
		"    -o entry_timeout=S     kernel cache of names, seconds "
		"(default: by mode)\n"
		"    -o attr_timeout=S      kernel cache of attributes, "
		"seconds (by mode)\n"
		"    -o negative_timeout=S  kernel cache of missing names, "
		"seconds (by mode)\n"
		"    -o max_entries=N       dentries kept in the cache "
		"(default: 1000000;\n"
		"                           0 = no bound)\n"
		"    -o max_fds=N           backing directory fds kept open "
		"(default: 512)\n"
		"    -o threads=N           worker threads at most "
		"(default: 10)\n"
		"    -o cache=off           no caching at all: every "
		"request reaches SOURCE\n"
		"                           (the same as coherence=strict)\n"
		"    -o writeback           kernel writeback cache; only "
		"safe when nothing\n"
		"                           else changes SOURCE while it is "
		"mounted\n"
		"                           (default with "
		"coherence=exclusive)\n"
		"    -o nowriteback         no writeback cache, also with "
		"coherence=exclusive\n"
		"    -o no_opendir          the kernel opens directories "
		"without asking\n"
		"                           (default where possible: "
		"watch and exclusive\n"
		"                           modes; see rcufs(8))\n"
		"    -o opendir             every opendir reaches the "
		"daemon\n"
		"    -o passthrough=MODE    file data straight between the "
		"kernel and SOURCE\n"
		"                           (Linux 6.9+, root): auto "
		"(default) or off\n"
		"    -o max_passthrough=N   files open in passthrough mode "
		"at once (default:\n"
		"                           half the open-file limit, at "
		"most 65536)\n"
		"    -o exact_xattr_errors  a missing security.selinux is "
		"ENODATA, as on\n"
		"                           SOURCE (default on a host "
		"without SELinux:\n"
		"                           EOPNOTSUPP for objects with no "
		"xattrs at all)\n"
		"\n"
		"access times and syncing (see rcufs(8)):\n"
		"    -o relatime, -o strictatime, -o noatime, -o nodiratime\n"
		"                           reads move access times as "
		"on a native mount\n"
		"                           with these options (root "
		"only; default: as\n"
		"                           SOURCE's mount, for reads "
		"that reach SOURCE)\n"
		"    -o atime, norelatime, nostrictatime, diratime\n"
		"                           back to the default\n"
		"    -o sync, -o dirsync  writes (sync) and directory "
		"changes are synced\n"
		"                           to SOURCE before they are "
		"answered\n"
		"    -o lazytime, nolazytime  accepted, no effect\n"
		"\n"
		"statistics:\n"
		"    rcufs stats MOUNTPOINT [--json]\n"
		"                           counters of the daemon serving "
		"MOUNTPOINT, as text\n"
		"                           or JSON (its user and root "
		"only)\n"
		"\n"
		"Mount-only options (nofail, noauto, auto, user, users, "
		"_netdev, defaults,\n"
		"rw, dev, nodev, suid, nosuid, exec, noexec, async,\n"
		"x-*, comment=*) are accepted and ignored, so "
		"rcufs works from\n"
		"/etc/fstab through mount.fuse3.\n"
		"See rcufs(8).\n");
}

static double parse_seconds(const char *opt, const char *v)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (!*v || *end || errno || d < 0 || d != d)
		rfs_die("bad value for %s: '%s' (expected a number of seconds "
			">= "
			"0)",
			opt, v);
	return d;
}

static uint64_t parse_count(const char *opt, const char *v, uint64_t min,
			    uint64_t max)
{
	unsigned long long n;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (!*v || *end || errno || v[0] == '-' || n < min || n > max)
		rfs_die("bad value for %s: '%s' (expected a whole number from "
			"%llu to %llu)",
			opt, v, (unsigned long long)min,
			(unsigned long long)max);
	return n;
}

/* FUSE mount options collected for fuse_session_new. */
static char mountopts[4096];

static void add_mountopt(const char *o)
{
	size_t n = strlen(mountopts);

	if (n + strlen(o) + 2 >= sizeof(mountopts))
		rfs_die("too many mount options");
	if (n)
		strcat(mountopts, ",");
	strcat(mountopts, o);
}

static bool is_ignored(const char *o)
{
	static const char *const ignored[] = {
		"nofail",   "noauto",	  "auto", "user",   "users",
		"_netdev",  "defaults",	  "rw",	  "dev",    "nodev",
		"suid",	    "nosuid",	  "exec", "noexec", "async",
		"lazytime", "nolazytime", NULL,
	};
	int i;

	if (!strncmp(o, "x-", 2) || !strncmp(o, "comment=", 8))
		return true;
	for (i = 0; ignored[i]; i++)
		if (!strcmp(o, ignored[i]))
			return true;
	return false;
}

static void parse_opt(char *o)
{
	char *v = strchr(o, '=');

	if (v)
		*v++ = '\0';
#define IS(name) (!strcmp(o, name))
#define NEED_VALUE()                                                       \
	do {                                                               \
		if (!v)                                                    \
			rfs_die("option %s needs a value (%s=...)", o, o); \
	} while (0)
#define NO_VALUE()                                              \
	do {                                                    \
		if (v)                                          \
			rfs_die("option %s takes no value", o); \
	} while (0)
	if (IS("entry_timeout")) {
		NEED_VALUE();
		rfs.o.entry_timeout = parse_seconds(o, v);
		rfs.o.entry_set = true;
	} else if (IS("attr_timeout")) {
		NEED_VALUE();
		rfs.o.attr_timeout = parse_seconds(o, v);
		rfs.o.attr_set = true;
	} else if (IS("negative_timeout")) {
		NEED_VALUE();
		rfs.o.negative_timeout = parse_seconds(o, v);
		rfs.o.negative_set = true;
	} else if (IS("coherence")) {
		NEED_VALUE();
		rfs_remote_mode_given(); /* no automatic choice */
		if (!strcmp(v, "watch"))
			rfs.o.coherence = RFS_COH_WATCH;
		else if (!strcmp(v, "timeout"))
			rfs.o.coherence = RFS_COH_TIMEOUT;
		else if (!strcmp(v, "exclusive"))
			rfs.o.coherence = RFS_COH_EXCLUSIVE;
		else if (!strcmp(v, "strict"))
			rfs.o.coherence = RFS_COH_STRICT;
		else
			rfs_die("bad value for coherence: '%s' (expected "
				"watch, "
				"timeout, exclusive or strict)",
				v);
	} else if (IS("watcher")) {
		NEED_VALUE();
		rfs_remote_mode_given(); /* watcher= implies watch */
		if (!strcmp(v, "auto"))
			rfs.o.watcher = RFS_WATCH_AUTO;
		else if (!strcmp(v, "fanotify"))
			rfs.o.watcher = RFS_WATCH_FANOTIFY;
		else if (!strcmp(v, "inotify"))
			rfs.o.watcher = RFS_WATCH_INOTIFY;
		else
			rfs_die("bad value for watcher: '%s' (expected auto, "
				"fanotify or inotify)",
				v);
	} else if (IS("max_entries")) {
		NEED_VALUE();
		rfs.o.max_entries = parse_count(o, v, 0, UINT64_MAX / 2);
	} else if (IS("max_fds")) {
		NEED_VALUE();
		rfs.o.max_fds = (unsigned)parse_count(o, v, 1, 1u << 20);
	} else if (IS("threads")) {
		NEED_VALUE();
		rfs.o.threads = (unsigned)parse_count(o, v, 1, 1024);
	} else if (IS("cache")) {
		NEED_VALUE();
		if (!strcmp(v, "off")) {
			rfs.o.cache_off = true;
			rfs_remote_mode_given();
		} else if (!strcmp(v, "on"))
			rfs.o.cache_off =
				false; /* cache=off is coherence=strict */
		else
			rfs_die("bad value for cache: '%s' (expected on or "
				"off)",
				v);
	} else if (IS("writeback")) {
		NO_VALUE();
		rfs.o.writeback = rfs.o.writeback_set = true;
	} else if (IS("nowriteback")) {
		NO_VALUE();
		rfs.o.writeback = false;
		rfs.o.writeback_set = true;
	} else if (IS("no_opendir")) {
		NO_VALUE();
		rfs.o.no_opendir = true;
	} else if (IS("opendir")) {
		NO_VALUE();
		rfs.o.no_opendir = false;
	} else if (IS("exact_xattr_errors")) {
		NO_VALUE();
		rfs.o.exact_xattr_errors = true;
	} else if (IS("default_permissions")) {
		NO_VALUE();
		rfs.o.default_permissions = true;
	} else if (IS("no_default_permissions")) {
		NO_VALUE();
		rfs.o.default_permissions = false;
	} else if (IS("allow_other")) {
		NO_VALUE();
		rfs.o.allow_other = true;
	} else if (IS("auto_unmount")) {
		NO_VALUE();
		rfs.o.auto_unmount = true;
	} else if (IS("ro")) {
		NO_VALUE();
		rfs.o.ro = true;
	} else if (IS("atime") || IS("norelatime") || IS("nostrictatime")) {
		/* mount(8)'s defaults: back to what SOURCE does */
		NO_VALUE();
		rfs.o.atime = RFS_ATIME_SOURCE;
	} else if (IS("noatime")) {
		NO_VALUE();
		rfs.o.atime = RFS_ATIME_NOATIME;
	} else if (IS("relatime")) {
		NO_VALUE();
		rfs.o.atime = RFS_ATIME_RELATIME;
	} else if (IS("strictatime")) {
		NO_VALUE();
		rfs.o.atime = RFS_ATIME_STRICT;
	} else if (IS("nodiratime")) {
		NO_VALUE();
		rfs.o.nodiratime = true;
	} else if (IS("diratime")) {
		NO_VALUE();
		rfs.o.nodiratime = false;
	} else if (IS("sync")) {
		NO_VALUE();
		rfs.o.sync = true;
	} else if (IS("dirsync")) {
		NO_VALUE();
		rfs.o.dirsync = true;
	} else if (IS("fsname")) {
		NEED_VALUE();
		if (strchr(v, ','))
			rfs_die("bad value for fsname: '%s' (no commas)", v);
		rfs.o.fsname = strdup(v);
	} else if (IS("subtype")) {
		/* empty: the kernel shows the type as plain "fuse" */
		NEED_VALUE();
		if (strchr(v, ',') || strchr(v, ' ') || strchr(v, '/'))
			rfs_die("bad value for subtype: '%s'", v);
		rfs.o.subtype = strdup(v);
	} else if (pt_parse_opt(o, v)) {
		/* PASSTHROUGH hook: passthrough=, max_passthrough= */
	} else if (is_ignored(o)) {
		/* mount(8)-only: nothing for us */
	} else {
		rfs_die("unknown option '%s%s%s' (see rcufs --help)", o,
			v ? "=" : "", v ? v : "");
	}
#undef IS
#undef NEED_VALUE
#undef NO_VALUE
}

/* Parses a copy: strtok_r on argv itself would mangle what ps(1) shows. */
static void parse_optlist(const char *arg)
{
	char *list = strdup(arg), *save = NULL, *o;

	if (!list)
		rfs_die("out of memory");
	for (o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save))
		parse_opt(o);
	free(list);
}

/* MOUNTPOINT unusable; ENOTCONN means a FUSE daemon died there. */
static void die_mountpoint(const char *mp, int err) __attribute__((noreturn));
static void die_mountpoint(const char *mp, int err)
{
	if (err == ENOTCONN)
		rfs_die("MOUNTPOINT %s is a dead FUSE mount (Transport "
			"endpoint "
			"is not connected): clear it with 'fusermount3 -u %s'",
			mp, mp);
	rfs_die("MOUNTPOINT %s: %s", mp, strerror(err));
}

static void parse_args(int argc, char **argv)
{
	const char *pos[2];
	int npos = 0, i;

	for (i = 1; i < argc; i++) {
		char *a = argv[i];

		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
			printf("rcufs %s (libfuse %d)\n", RCUFS_VERSION,
			       fuse_version());
			exit(0);
		} else if (!strcmp(a, "-f")) {
			rfs.o.foreground = true;
		} else if (!strcmp(a, "-d")) {
			rfs.o.debug = rfs.o.foreground = true;
		} else if (!strcmp(a, "-s")) {
			rfs.o.singlethread = true;
		} else if (!strcmp(a, "-o")) {
			if (++i == argc)
				rfs_die("option -o needs a list of options");
			parse_optlist(argv[i]);
		} else if (!strncmp(a, "-o", 2)) {
			parse_optlist(a + 2);
		} else if (a[0] == '-' && a[1]) {
			rfs_die("unknown option '%s' (see rcufs --help)", a);
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			rfs_die("too many arguments: '%s' (usage: rcufs "
				"[options] "
				"SOURCE MOUNTPOINT)",
				a);
		}
	}
	if (npos < 2)
		rfs_die("missing %s (usage: rcufs [options] SOURCE MOUNTPOINT)",
			npos ? "MOUNTPOINT" : "SOURCE and MOUNTPOINT");
	rfs.o.source = realpath(pos[0], NULL);
	if (!rfs.o.source)
		rfs_die("SOURCE %s: %s", pos[0], strerror(errno));
	rfs.o.mountpoint = realpath(pos[1], NULL);
	if (!rfs.o.mountpoint)
		die_mountpoint(pos[1], errno);
}

/* Is @a equal to or below @b? */
static bool path_within(const char *a, const char *b)
{
	size_t n = strlen(b);

	if (!strcmp(b, "/"))
		return true;
	return !strncmp(a, b, n) && (a[n] == '\0' || a[n] == '/');
}

static void check_paths(void)
{
	struct statfs sfs;
	struct stat st;

	if (stat(rfs.o.source, &st) < 0)
		rfs_die("SOURCE %s: %s", rfs.o.source, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		rfs_die("SOURCE %s is not a directory", rfs.o.source);
	/*
	 * The kernel may still answer stat from its attribute cache on a
	 * dead FUSE mount; statfs always asks the (gone) daemon.
	 */
	if (stat(rfs.o.mountpoint, &st) < 0 ||
	    statfs(rfs.o.mountpoint, &sfs) < 0)
		die_mountpoint(rfs.o.mountpoint, errno);
	if (!S_ISDIR(st.st_mode))
		rfs_die("MOUNTPOINT %s is not a directory", rfs.o.mountpoint);
	if (path_within(rfs.o.mountpoint, rfs.o.source))
		rfs_die("MOUNTPOINT %s is inside SOURCE %s: the mount would "
			"contain itself",
			rfs.o.mountpoint, rfs.o.source);
	if (path_within(rfs.o.source, rfs.o.mountpoint))
		rfs_die("SOURCE %s is inside MOUNTPOINT %s: it would be hidden "
			"by the mount",
			rfs.o.source, rfs.o.mountpoint);
	if (access("/dev/fuse", F_OK) < 0)
		rfs_die("/dev/fuse: %s (is the fuse module loaded?)",
			strerror(errno));
}

/*
 * Open files beyond the directory fd cache: stdio, /dev/fuse, the root fd
 * and a little for libfuse and liburcu (16); per worker thread a splice
 * pipe pair and the file or directory it may have open (3).
 */
#define MAX_FDS_DEFAULT 512

/*
 * max_fds must fit under RLIMIT_NOFILE or the daemon would meet EMFILE.
 * The soft limit is raised to the hard limit (files opened through the
 * mount take fds too); an explicit max_fds that still does not fit is
 * refused, the default shrinks to fit.
 */
static void check_fd_limit(void)
{
	struct rlimit rl;
	bool given = rfs.o.max_fds != 0;
	rlim_t reserve = 16 + 3 * (rfs.o.singlethread ? 1 : rfs.o.threads);
	rlim_t avail;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t cur = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = cur;
	}
	avail = rl.rlim_cur > reserve + 16 ? rl.rlim_cur - reserve : 16;
	if (!given)
		rfs.o.max_fds = avail < MAX_FDS_DEFAULT ? (unsigned)avail
							: MAX_FDS_DEFAULT;
	else if (rfs.o.max_fds > avail)
		rfs_die("max_fds=%u does not fit the open-file limit of %llu "
			"(ulimit -n): use at most max_fds=%llu",
			rfs.o.max_fds, (unsigned long long)rl.rlim_cur,
			(unsigned long long)avail);
}

void rfs_options_parse(int argc, char **argv)
{
	const char *err;

	rfs.o.entry_timeout = rfs.o.attr_timeout = rfs.o.negative_timeout = 1;
	rfs.o.max_entries = 1000000;
	rfs.o.max_fds = 0; /* set by check_fd_limit() */
	rfs.o.threads = 10;
	rfs.o.default_permissions = true;
	rfs.o.no_opendir = true;
	parse_args(argc, argv);
	check_paths();
	check_fd_limit();
	rfs_remote_choose_mode(); /* a remote SOURCE: coherence=timeout */
	err = rfs_apply_coherence();
	if (err)
		rfs_die("%s", err);
	/* a daemon that cannot act as each caller: all would act as it */
	if (!rfs.o.default_permissions && rfs.o.allow_other && geteuid() != 0)
		rfs_die("no_default_permissions with allow_other needs root: "
			"every user would act with this user's rights");
}

void rfs_options_fuse_args(struct fuse_args *args, const char *argv0)
{
	char opt[PATH_MAX + 64];

	if (fuse_opt_add_arg(args, argv0) ||
	    (rfs.o.debug && fuse_opt_add_arg(args, "-d")))
		rfs_die("out of memory");
	snprintf(opt, sizeof(opt), "fsname=%s",
		 rfs.o.fsname ? rfs.o.fsname : rfs.o.source);
	if (strchr(opt, ','))
		snprintf(opt, sizeof(opt), "fsname=rcufs");
	add_mountopt(opt);
	snprintf(opt, sizeof(opt), "subtype=%s",
		 rfs.o.subtype ? rfs.o.subtype : "rcufs");
	if (strcmp(opt, "subtype="))
		add_mountopt(opt);
	if (rfs.o.default_permissions)
		add_mountopt("default_permissions");
	if (rfs.o.allow_other)
		add_mountopt("allow_other");
	if (rfs.o.ro)
		add_mountopt("ro");
	/* the kernel then sends FSYNC after every write; directories are
	 * synced by the handlers (rfs_dirsync) */
	if (rfs.o.sync)
		add_mountopt("sync");
	if (rfs.o.dirsync)
		add_mountopt("dirsync");
	if (rfs.o.auto_unmount)
		add_mountopt("auto_unmount");
	if (fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, mountopts))
		rfs_die("out of memory");
}
