/* SPDX-License-Identifier: MIT */
/*
 * fs/stats/server.c - the statistics socket of a running daemon, and the sections
 * of what it answers (DESIGN.md §10).
 *
 * Channel.  An abstract-namespace unix stream socket named
 * "\0rcufs/MAJOR:MINOR" after the mount's device number, so that
 * `rcufs stats MOUNTPOINT` finds it from the mount point alone (stat(2)
 * gives st_dev) with no file to create, clean up or leave stale after a
 * crash: the name dies with the daemon.  (Abstract names belong to a
 * network namespace: the client must share the daemon's.)  The daemon cannot stat its own
 * mount point before its loop runs (the kernel would send it a GETATTR it
 * is not yet reading), so it reads the device number of the mount from
 * /proc/self/mountinfo (the last mount at its mount point: the one on
 * top, just made).
 *
 * Who may read: SO_PEERCRED of the client must be the daemon's own uid or
 * root.  The counters name no file, but they show the activity of every
 * user of the mount; an allow_other mount does not open them to all.  The
 * client checks the same of the server, so a socket squatted by another
 * user is not believed.
 *
 * Protocol: the client sends one line, "text" or "json"; the daemon
 * answers "rcufs-stats 1 ok" and the document, or "rcufs-stats 1 error
 * MESSAGE", and closes.
 *
 * Threads.  One thread (stats_thread) accepts and serves one client at a
 * time, with send/receive timeouts so a stuck client cannot hold it long.
 * It is registered with RCU (dcache_stats reads the cache's gauges), never
 * takes a lock a handler waits on for long (the counter-list mutexes are
 * held only for a sum), and has every signal blocked so they reach the
 * session loop.  rfs_stats_start runs after the mount and the cache exist;
 * rfs_stats_stop (after the loop ended, before the cache is freed) shuts
 * the listening socket down, which wakes accept(), and joins the thread.
 */
#include "stats/stats_i.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

/* ---- the sections -------------------------------------------------------- */

/* Open descriptors of this process (entries of /proc/self/fd). */
static long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory stream's own fd */
}

/* Resident set size in bytes, from /proc/self/statm. */
static uint64_t rss_bytes(void)
{
	unsigned long long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (!f)
		return 0;
	if (fscanf(f, "%llu %llu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

static dev_t mount_dev; /* written before the thread starts */

static void emit_daemon(struct rfs_emit *e)
{
	char dev[32];
	long fds = count_fds();

	rfs_emit_u64(e, "pid", (uint64_t)rfs.pid);
	rfs_emit_str(e, "version", RCUFS_VERSION);
	rfs_emit_str(e, "source", rfs.o.source);
	rfs_emit_str(e, "mountpoint", rfs.o.mountpoint);
	snprintf(dev, sizeof(dev), "%u:%u", major(mount_dev), minor(mount_dev));
	rfs_emit_str(e, "device", dev);
	rfs_emit_str(e, "cache", rfs.o.cache_off ? "off" : "on");
	rfs_emit_str(e, "permissions",
		     rfs.o.default_permissions
			     ? "kernel (default_permissions)"
			     : "rcufs and SOURCE (no_default_permissions)");
	rfs_emit_double(e, "uptime_s", (rfs_now_ns() - rfs.start_ns) / 1e9);
	rfs_emit_bytes(e, "rss_bytes", rss_bytes());
	if (fds >= 0)
		rfs_emit_u64(e, "open_fds", (uint64_t)fds);
	else
		rfs_emit_null(e, "open_fds");
	/* then the fd cache's lines (backing_emit, added by main) */
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0;
}

static void emit_operations(struct rfs_emit *e)
{
	static const char *const cols[] = {"requests", "errors", "hits",
					   "hit%",     "p50",	 "p90",
					   "p99",      "max",	 "mean"};
	static struct rfs_opcount c[RFS_OP_NR]; /* only this thread */
	uint64_t total = 0, errors = 0;
	bool text = !e->json;
	unsigned i;

	rfs_opstats_sum(c);
	for (i = 0; i < RFS_OP_NR; i++) {
		total += c[i].requests;
		errors += c[i].errors;
	}
	rfs_emit_u64(e, "requests", total);
	rfs_emit_u64(e, "errors", errors);
	rfs_emit_begin(e, "negative_lookups");
	rfs_emit_u64(e, "requests", c[RFS_OP_LOOKUP].negative);
	rfs_emit_u64(e, "hits", c[RFS_OP_LOOKUP].neg_hits);
	rfs_emit_double(
		e, "hit_pct",
		pct(c[RFS_OP_LOOKUP].neg_hits, c[RFS_OP_LOOKUP].negative));
	rfs_emit_end(e);
	rfs_emit_table_begin(e, "by_op", cols, sizeof(cols) / sizeof(*cols));
	for (i = 0; i < RFS_OP_NR; i++) {
		const struct rfs_opcount *o = &c[i];

		/* text leaves out what never ran; JSON lists every op */
		if (text && !o->requests)
			continue;
		rfs_emit_begin(e, rfs_op_names[i]);
		rfs_emit_u64(e, "requests", o->requests);
		rfs_emit_u64(e, "errors", o->errors);
		if (rfs_op_has_hits(i)) {
			rfs_emit_u64(e, "hits", o->hits);
			rfs_emit_double(e, "hit_pct",
					pct(o->hits, o->requests));
		} else {
			rfs_emit_null(e, "hits");
			rfs_emit_null(e, "hit_pct");
		}
		rfs_emit_ns(e, "p50_ns", rfs_opcount_quantile(o, 0.50));
		rfs_emit_ns(e, "p90_ns", rfs_opcount_quantile(o, 0.90));
		rfs_emit_ns(e, "p99_ns", rfs_opcount_quantile(o, 0.99));
		rfs_emit_ns(e, "max_ns", o->max_ns);
		rfs_emit_ns(e, "mean_ns",
			    o->requests ? o->sum_ns / o->requests : 0);
		rfs_emit_end(e);
	}
	rfs_emit_table_end(e);
}

static void emit_dcache(struct rfs_emit *e)
{
	static const char *const op[DC_OP_NR] = {"lookup", "getattr", "access",
						 "readlink", "walk"};
	static const char *const be[DC_BE_NR] = {"lookup", "getattr",
						 "readlink"};
	static const char *const src[DC_SRC_NR] = {"local", "watch", "expired",
						   "user"};
	struct dcache_stats st;
	unsigned i;

	dcache_stats(rfs.dc, &st);
	rfs_emit_begin(e, "fast_path_hits");
	for (i = 0; i < DC_OP_NR; i++)
		rfs_emit_u64(e, op[i], st.hits[i]);
	rfs_emit_end(e);
	rfs_emit_begin(e, "slow_path");
	for (i = 0; i < DC_OP_NR; i++)
		rfs_emit_u64(e, op[i], st.slow[i]);
	rfs_emit_end(e);
	rfs_emit_u64(e, "negative_hits", st.neg_hits);
	rfs_emit_u64(e, "legitimize_ok", st.legit_ok);
	rfs_emit_u64(e, "legitimize_fail", st.legit_fail);
	rfs_emit_u64(e, "refwalk_restarts", st.refwalk_restarts);
	rfs_emit_begin(e, "backend_calls");
	for (i = 0; i < DC_BE_NR; i++)
		rfs_emit_u64(e, be[i], st.backend_calls[i]);
	rfs_emit_end(e);
	rfs_emit_u64(e, "backend_errors", st.backend_errors);
	rfs_emit_u64(e, "inlookup_waits", st.inlookup_waits);
	rfs_emit_begin(e, "invalidations");
	for (i = 0; i < DC_SRC_NR; i++)
		rfs_emit_u64(e, src[i], st.invalidations[i]);
	rfs_emit_end(e);
	rfs_emit_u64(e, "evictions", st.evictions);
	rfs_emit_u64(e, "rcu_barriers", st.rcu_barriers);
	rfs_emit_u64(e, "pending_rcu_frees", st.pending_frees);
	rfs_emit_u64(e, "dentries", st.dentries);
	rfs_emit_u64(e, "negative_dentries", st.negative_dentries);
	rfs_emit_u64(e, "inodes", st.inodes);
	rfs_emit_u64(e, "lru", st.lru);
	rfs_emit_u64(e, "max_entries", rfs.o.max_entries);
	rfs_emit_bytes(e, "memory_bytes", st.bytes);
}

/*
 * The sections, in output order: the server's own, then the ones added
 * with rfs_stats_add (an emitter added to an existing section runs after
 * that section's others).  Written before the statistics thread starts,
 * read-only after.
 */
#define MAX_SECTIONS 16
static struct rfs_stats_section sections[MAX_SECTIONS] = {
	{"daemon", emit_daemon},
	{"operations", emit_operations},
	{"dcache", emit_dcache},
};
static unsigned nsections = 3;

void rfs_stats_add(const char *name, void (*emit)(struct rfs_emit *e))
{
	unsigned i, at = nsections;

	if (nsections == MAX_SECTIONS)
		return;
	for (i = 0; i < nsections; i++)
		if (!strcmp(sections[i].name, name))
			at = i + 1;
	memmove(&sections[at + 1], &sections[at],
		(nsections - at) * sizeof(*sections));
	sections[at].name = name;
	sections[at].emit = emit;
	nsections++;
}

/* Render every section into a malloc'ed buffer. */
static int render(bool json, char **out, size_t *len)
{
	struct rfs_emit e = {0};
	unsigned i;

	e.f = open_memstream(out, len);
	if (!e.f)
		return -errno;
	e.json = json;
	e.first[0] = true;
	if (json) {
		fputc('{', e.f);
		rfs_emit_u64(&e, "format", 1);
	}
	for (i = 0; i < nsections; i++) {
		/* consecutive emitters of one section share its object */
		if (!i || strcmp(sections[i].name, sections[i - 1].name)) {
			while (e.depth > 0)
				rfs_emit_end(&e);
			rfs_emit_begin(&e, sections[i].name);
		}
		sections[i].emit(&e);
	}
	while (e.depth > 0)
		rfs_emit_end(&e);
	if (json)
		fputs("\n}\n", e.f);
	if (fclose(e.f))
		return -ENOMEM;
	return 0;
}

/* ---- the socket ---------------------------------------------------------- */

static int listen_fd = -1;
static pthread_t stats_tid;
static bool stopping; /* atomic: set by rfs_stats_stop */

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

static void serve(int fd)
{
	struct timeval tv = {.tv_sec = 2};
	struct ucred cred;
	socklen_t cl = sizeof(cred);
	char req[64], line[128];
	size_t n = 0, len = 0;
	char *doc = NULL;
	bool json;
	int err;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* read the request first: closing with unread data would reset the
	 * connection and lose the answer */
	while (n < sizeof(req) - 1) {
		ssize_t r = recv(fd, req + n, sizeof(req) - 1 - n, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (memchr(req, '\n', n))
			break;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		if (geteuid() == 0)
			snprintf(line, sizeof(line),
				 "rcufs-stats 1 error permission denied (only "
				 "root may read the statistics)\n");
		else
			snprintf(line, sizeof(line),
				 "rcufs-stats 1 error permission denied (only "
				 "uid %u and root may read the statistics)\n",
				 (unsigned)geteuid());
		send_all(fd, line, strlen(line));
		return;
	}
	req[n] = '\0';
	if (!strcmp(req, "json\n")) {
		json = true;
	} else if (!strcmp(req, "text\n")) {
		json = false;
	} else {
		snprintf(line, sizeof(line),
			 "rcufs-stats 1 error bad request\n");
		send_all(fd, line, strlen(line));
		return;
	}
	err = render(json, &doc, &len);
	if (err) {
		snprintf(line, sizeof(line), "rcufs-stats 1 error %s\n",
			 strerror(-err));
		send_all(fd, line, strlen(line));
	} else {
		send_all(fd, "rcufs-stats 1 ok\n", 17);
		send_all(fd, doc, len);
	}
	free(doc);
}

static void *stats_thread(void *arg)
{
	(void)arg;
	dcache_thread_enter();
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE)) {
			if (fd >= 0)
				close(fd);
			break;
		}
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				usleep(100000);
				continue;
			}
			rfs_warn("statistics socket: accept: %s",
				 strerror(errno));
			break;
		}
		serve(fd);
		close(fd);
	}
	dcache_thread_exit();
	return NULL;
}

/* Undo the octal escapes (\040 ...) of a /proc/self/mountinfo field. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 3;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* Device number of the FUSE mount on top at our mount point. */
static int find_mount_dev(dev_t *dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, *sep;
	size_t cap = 0;
	int found = -ENOENT;

	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		unsigned maj, min;
		char mp[PATH_MAX * 4 + 1], fstype[256];

		if (sscanf(line, "%*u %*u %u:%u %*s %4096s", &maj, &min, mp) !=
		    3)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		unescape(mp);
		if (strcmp(mp, rfs.o.mountpoint) || strncmp(fstype, "fuse", 4))
			continue;
		*dev = makedev(maj, min);
		found = 0; /* keep going: the last one is on top */
	}
	free(line);
	fclose(f);
	return found;
}

int rfs_stats_start(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	sigset_t all, old;
	socklen_t sl;
	int err, n;

	err = find_mount_dev(&mount_dev);
	if (err) {
		rfs_warn("no statistics: the mount at %s is not in "
			 "/proc/self/mountinfo (%s)",
			 rfs.o.mountpoint, strerror(-err));
		return err;
	}
	/* abstract name: sun_path[0] == '\0', length given exactly */
	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "rcufs/%u:%u",
		     major(mount_dev), minor(mount_dev));
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sl) < 0 ||
	    listen(listen_fd, 8) < 0) {
		err = -errno;
		rfs_warn("no statistics: socket @%s: %s", sa.sun_path + 1,
			 strerror(-err));
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&stats_tid, NULL, stats_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		rfs_warn("no statistics: cannot start a thread: %s",
			 strerror(-err));
		goto fail;
	}
	return 0;
fail:
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	return err;
}

void rfs_stats_stop(void)
{
	if (listen_fd < 0)
		return;
	__atomic_store_n(&stopping, true, __ATOMIC_RELEASE);
	/* wakes the thread's accept() (it returns EINVAL) */
	shutdown(listen_fd, SHUT_RDWR);
	pthread_join(stats_tid, NULL);
	close(listen_fd);
	listen_fd = -1;
}
