/* SPDX-License-Identifier: MIT */
/*
 * fs/main.c - command line, checks before mounting, the session loop.
 *
 * Every bad input is refused before anything is mounted, with one line on
 * stderr naming the problem and a non-zero exit.
 */
#include "rcufs.h"
#include "passthrough.h" /* PASSTHROUGH hook */

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

#ifndef RCUFS_VERSION
#define RCUFS_VERSION "unknown"
#endif

struct rcufs rfs = {.root_fd = -1, .source_fd = -1};

/* The operation table, rfs_ops, is in fs/opstats.c: every entry timed. */

static void usage(FILE *f)
{
	fprintf(f, "usage: rcufs [options] SOURCE MOUNTPOINT\n"
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
		   "(default 1 s)\n"
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

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("rcufs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double parse_seconds(const char *opt, const char *v)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (!*v || *end || errno || d < 0 || d != d)
		die("bad value for %s: '%s' (expected a number of seconds >= "
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
		die("bad value for %s: '%s' (expected a whole number from "
		    "%llu to %llu)",
		    opt, v, (unsigned long long)min, (unsigned long long)max);
	return n;
}

/* FUSE mount options collected for fuse_session_new. */
static char mountopts[4096];

static void add_mountopt(const char *o)
{
	size_t n = strlen(mountopts);

	if (n + strlen(o) + 2 >= sizeof(mountopts))
		die("too many mount options");
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
#define NEED_VALUE()                                                   \
	do {                                                           \
		if (!v)                                                \
			die("option %s needs a value (%s=...)", o, o); \
	} while (0)
#define NO_VALUE()                                          \
	do {                                                \
		if (v)                                      \
			die("option %s takes no value", o); \
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
		if (!strcmp(v, "watch"))
			rfs.o.coherence = RFS_COH_WATCH;
		else if (!strcmp(v, "timeout"))
			rfs.o.coherence = RFS_COH_TIMEOUT;
		else if (!strcmp(v, "exclusive"))
			rfs.o.coherence = RFS_COH_EXCLUSIVE;
		else if (!strcmp(v, "strict"))
			rfs.o.coherence = RFS_COH_STRICT;
		else
			die("bad value for coherence: '%s' (expected watch, "
			    "timeout, exclusive or strict)",
			    v);
	} else if (IS("watcher")) {
		NEED_VALUE();
		if (!strcmp(v, "auto"))
			rfs.o.watcher = RFS_WATCH_AUTO;
		else if (!strcmp(v, "fanotify"))
			rfs.o.watcher = RFS_WATCH_FANOTIFY;
		else if (!strcmp(v, "inotify"))
			rfs.o.watcher = RFS_WATCH_INOTIFY;
		else
			die("bad value for watcher: '%s' (expected auto, "
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
		if (!strcmp(v, "off"))
			rfs.o.cache_off = true;
		else if (!strcmp(v, "on"))
			rfs.o.cache_off =
				false; /* cache=off is coherence=strict */
		else
			die("bad value for cache: '%s' (expected on or off)",
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
			die("bad value for fsname: '%s' (no commas)", v);
		rfs.o.fsname = strdup(v);
	} else if (IS("subtype")) {
		/* empty: the kernel shows the type as plain "fuse" */
		NEED_VALUE();
		if (strchr(v, ',') || strchr(v, ' ') || strchr(v, '/'))
			die("bad value for subtype: '%s'", v);
		rfs.o.subtype = strdup(v);
	} else if (pt_parse_opt(o, v)) {
		/* PASSTHROUGH hook: passthrough=, max_passthrough= */
	} else if (is_ignored(o)) {
		/* mount(8)-only: nothing for us */
	} else {
		die("unknown option '%s%s%s' (see rcufs --help)", o,
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
		die("out of memory");
	for (o = strtok_r(list, ",", &save); o; o = strtok_r(NULL, ",", &save))
		parse_opt(o);
	free(list);
}

/* MOUNTPOINT unusable; ENOTCONN means a FUSE daemon died there. */
static void die_mountpoint(const char *mp, int err) __attribute__((noreturn));
static void die_mountpoint(const char *mp, int err)
{
	if (err == ENOTCONN)
		die("MOUNTPOINT %s is a dead FUSE mount (Transport endpoint "
		    "is not connected): clear it with 'fusermount3 -u %s'",
		    mp, mp);
	die("MOUNTPOINT %s: %s", mp, strerror(err));
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
				die("option -o needs a list of options");
			parse_optlist(argv[i]);
		} else if (!strncmp(a, "-o", 2)) {
			parse_optlist(a + 2);
		} else if (a[0] == '-' && a[1]) {
			die("unknown option '%s' (see rcufs --help)", a);
		} else if (npos < 2) {
			pos[npos++] = a;
		} else {
			die("too many arguments: '%s' (usage: rcufs [options] "
			    "SOURCE MOUNTPOINT)",
			    a);
		}
	}
	if (npos < 2)
		die("missing %s (usage: rcufs [options] SOURCE MOUNTPOINT)",
		    npos ? "MOUNTPOINT" : "SOURCE and MOUNTPOINT");
	rfs.o.source = realpath(pos[0], NULL);
	if (!rfs.o.source)
		die("SOURCE %s: %s", pos[0], strerror(errno));
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
		die("SOURCE %s: %s", rfs.o.source, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		die("SOURCE %s is not a directory", rfs.o.source);
	/*
	 * The kernel may still answer stat from its attribute cache on a
	 * dead FUSE mount; statfs always asks the (gone) daemon.
	 */
	if (stat(rfs.o.mountpoint, &st) < 0 ||
	    statfs(rfs.o.mountpoint, &sfs) < 0)
		die_mountpoint(rfs.o.mountpoint, errno);
	if (!S_ISDIR(st.st_mode))
		die("MOUNTPOINT %s is not a directory", rfs.o.mountpoint);
	if (path_within(rfs.o.mountpoint, rfs.o.source))
		die("MOUNTPOINT %s is inside SOURCE %s: the mount would "
		    "contain itself",
		    rfs.o.mountpoint, rfs.o.source);
	if (path_within(rfs.o.source, rfs.o.mountpoint))
		die("SOURCE %s is inside MOUNTPOINT %s: it would be hidden "
		    "by the mount",
		    rfs.o.source, rfs.o.mountpoint);
	if (access("/dev/fuse", F_OK) < 0)
		die("/dev/fuse: %s (is the fuse module loaded?)",
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
		die("max_fds=%u does not fit the open-file limit of %llu "
		    "(ulimit -n): use at most max_fds=%llu",
		    rfs.o.max_fds, (unsigned long long)rl.rlim_cur,
		    (unsigned long long)avail);
}

/* The open-file limit (after check_fd_limit raised it). */
static unsigned long open_files_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 1024;
	return (unsigned long)rl.rlim_cur;
}

static uint64_t ttl_ns(double s)
{
	return s >= 1e9 ? DC_TTL_FOREVER : (uint64_t)(s * 1e9);
}

void rfs_set_timeouts(double entry, double attr, double negative,
		      bool cache_too)
{
	__atomic_store(&rfs.o.entry_timeout, &entry, __ATOMIC_RELAXED);
	__atomic_store(&rfs.o.attr_timeout, &attr, __ATOMIC_RELAXED);
	__atomic_store(&rfs.o.negative_timeout, &negative, __ATOMIC_RELAXED);
	if (cache_too && rfs.dc)
		dcache_set_ttls(rfs.dc, ttl_ns(entry), ttl_ns(negative),
				ttl_ns(attr));
}

/*
 * The timeouts' defaults follow coherence=; explicit options win.
 *   watch      an hour in the kernel, the dcache until invalidated; if
 *              the watcher cannot run: timeout mode (1 s, or the explicit
 *              values)
 *   timeout    1 s, kernel and dcache alike
 *   exclusive  a day in the kernel, the dcache until invalidated,
 *              writeback cache on (nowriteback turns it off)
 *   strict     0: every request revalidates with SOURCE (= cache=off)
 */
static void apply_coherence(void)
{
	double def;

	if (rfs.o.cache_off)
		rfs.o.coherence = RFS_COH_STRICT;
	switch (rfs.o.coherence) {
	case RFS_COH_WATCH:
		def = 3600;
		break;
	case RFS_COH_EXCLUSIVE:
		def = 86400;
		if (!rfs.o.writeback_set)
			rfs.o.writeback = true;
		break;
	case RFS_COH_STRICT:
		def = 0;
		rfs.o.cache_off = true;
		break;
	default:
		def = 1;
	}
	if (rfs.o.watcher != RFS_WATCH_AUTO && rfs.o.coherence != RFS_COH_WATCH)
		die("option watcher needs coherence=watch");
	if (rfs.o.writeback && rfs.o.coherence != RFS_COH_EXCLUSIVE)
		fprintf(stderr, "rcufs: warning: writeback without "
				"coherence=exclusive: changes made directly "
				"in SOURCE may be overwritten by cached "
				"data\n");
	/* timeout-mode values, used if the watcher falls back */
	rfs.o.fallback_timeout = 1;
	if (!rfs.o.entry_set)
		rfs.o.entry_timeout = def;
	if (!rfs.o.attr_set)
		rfs.o.attr_timeout = def;
	if (!rfs.o.negative_set)
		rfs.o.negative_timeout = def;
	/*
	 * Without default_permissions the kernel checks no search permission
	 * when a path walk passes names it keeps; only a LOOKUP checks it
	 * (rfs_may_search).  So the kernel keeps no name and no missing name:
	 * a directory that loses its x bit would let callers through names
	 * seen before.  A timeout asked for explicitly is refused, not
	 * shortened behind the user's back.
	 */
	if (!rfs.o.default_permissions) {
		if ((rfs.o.entry_set && rfs.o.entry_timeout > 0) ||
		    (rfs.o.negative_set && rfs.o.negative_timeout > 0))
			die("no_default_permissions needs entry_timeout=0 and "
			    "negative_timeout=0 (the kernel checks no search "
			    "permission on names it keeps)");
		rfs.o.entry_timeout = rfs.o.negative_timeout = 0;
		rfs.o.entry_set = rfs.o.negative_set = true;
	}
}

void rfs_timeout_mode(void)
{
	rfs_set_timeouts(
		rfs.o.entry_set ? rfs.o.entry_timeout : rfs.o.fallback_timeout,
		rfs.o.attr_set ? rfs.o.attr_timeout : rfs.o.fallback_timeout,
		rfs.o.negative_set ? rfs.o.negative_timeout
				   : rfs.o.fallback_timeout,
		true);
}

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
		die("SOURCE %s: %s", rfs.o.source, strerror(errno));
	rfs.root_fd = rfs.source_fd;
	if (atime_opts || (rfs.o.ro && geteuid() == 0)) {
		t = clone_source(rfs.source_fd);
		if (t < 0 && atime_opts)
			die("the atime options need a private mount of SOURCE, "
			    "which failed: %s (it needs root)",
			    strerror(-t));
		/* ro alone: SOURCE's atimes may move, as before */
		if (t >= 0) {
			if (fstat(t, &st) < 0 || st.st_dev != root_st.st_dev ||
			    st.st_ino != root_st.st_ino)
				die("SOURCE %s changed while it was opened",
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
		cfg.entry_ttl_ns = ttl_ns(rfs.o.entry_timeout);
		cfg.neg_ttl_ns = ttl_ns(rfs.o.negative_timeout);
		cfg.attr_ttl_ns = ttl_ns(rfs.o.attr_timeout);
	}
	cfg.max_entries = rfs.o.max_entries;
	cfg.shrinker_thread = rfs.o.max_entries != 0;
	backing_init(rfs.o.max_fds);
	return dcache_new(&cfg, &rfs.dc);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lc;
	char opt[PATH_MAX + 64];
	bool entered = false, stats = false;
	int err, ret = 1;

	/* a SOURCE directory named "stats" is given as ./stats */
	if (argc >= 2 && !strcmp(argv[1], "stats"))
		return rfs_stats_main(argc - 1, argv + 1);
	rfs.o.entry_timeout = rfs.o.attr_timeout = rfs.o.negative_timeout = 1;
	rfs.o.max_entries = 1000000;
	rfs.o.max_fds = 0; /* set by check_fd_limit() */
	rfs.o.threads = 10;
	rfs.o.default_permissions = true;
	rfs.o.no_opendir = true;
	parse_args(argc, argv);
	check_paths();
	check_fd_limit();
	apply_coherence();
	open_root();
	/* selinuxfs is mounted where SELinux is active (ops_xattr.c) */
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

	if (fuse_opt_add_arg(&args, argv[0]) ||
	    (rfs.o.debug && fuse_opt_add_arg(&args, "-d")))
		die("out of memory");
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
	if (fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, mountopts))
		die("out of memory");

	rfs.se = fuse_session_new(&args, &rfs_ops, sizeof(rfs_ops), NULL);
	if (!rfs.se)
		die("cannot create the FUSE session");
	if (fuse_set_signal_handlers(rfs.se))
		die("cannot install signal handlers");
	if (fuse_session_mount(rfs.se, rfs.o.mountpoint))
		die("cannot mount %s (see the message above)",
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
