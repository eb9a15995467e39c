/* SPDX-License-Identifier: MIT */
/*
 * fs/stats/statcmd.c - `rcufs stats MOUNTPOINT [--json]`: ask the daemon serving
 * MOUNTPOINT for its counters (the socket and protocol: server.c) and
 * print them.  Every failure is one line on stderr naming the problem and
 * exit status 1.  It never mounts anything and touches no daemon state.
 */
#include "stats/stats.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <unistd.h>

#define FUSE_MAGIC 0x65735546 /* FUSE_SUPER_MAGIC, linux/magic.h */

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("rcufs: stats: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

/* Read everything until EOF into a malloc'ed, NUL-terminated buffer. */
static int read_all(int fd, char **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (cap - n < 4096) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
			cap *= 2;
		}
		r = recv(fd, buf + n, cap - n - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == ECONNRESET && n)
			break; /* the answer arrived; keep it */
		if (r < 0) {
			int err = errno == EAGAIN ? -ETIMEDOUT : -errno;

			free(buf);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

int rfs_stats_main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	const char *mp = NULL, *hdr_ok = "rcufs-stats 1 ok\n";
	const char *hdr_err = "rcufs-stats 1 error ";
	struct ucred cred;
	socklen_t cl = sizeof(cred), sl;
	bool json = false;
	struct statfs sfs;
	struct stat st;
	char *doc = NULL, *nl;
	size_t len = 0;
	int i, fd, n, err, serr = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf("usage: rcufs stats MOUNTPOINT [--json]\n"
			       "Print the counters of the rcufs daemon "
			       "serving MOUNTPOINT.  See rcufs(8).\n");
			return 0;
		} else if (argv[i][0] == '-' && argv[i][1])
			return fail("unknown option '%s' (usage: rcufs stats "
				    "MOUNTPOINT [--json])",
				    argv[i]);
		else if (mp)
			return fail("too many arguments: '%s' (usage: rcufs "
				    "stats MOUNTPOINT [--json])",
				    argv[i]);
		else
			mp = argv[i];
	}
	if (!mp)
		return fail("missing MOUNTPOINT (usage: rcufs stats "
			    "MOUNTPOINT [--json])");
	if (stat(mp, &st) < 0 || statfs(mp, &sfs) < 0) {
		if (errno == ENOTCONN)
			return fail("%s is a dead FUSE mount (Transport "
				    "endpoint is not connected)",
				    mp);
		return fail("%s: %s", mp, strerror(errno));
	}
	if ((unsigned long)sfs.f_type != FUSE_MAGIC)
		return fail("%s is not an rcufs mount (not a FUSE file "
			    "system)",
			    mp);

	n = snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "rcufs/%u:%u",
		     major(st.st_dev), minor(st.st_dev));
	sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sl) < 0) {
		err = errno;
		close(fd);
		if (err == ECONNREFUSED || err == ENOENT)
			return fail("%s is not an rcufs mount (no rcufs "
				    "statistics socket for device %u:%u)",
				    mp, major(st.st_dev), minor(st.st_dev));
		return fail("%s: statistics socket: %s", mp, strerror(err));
	}
	/* believe only a daemon of our own uid or root (server.c) */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 ||
	    (cred.uid != 0 && cred.uid != geteuid())) {
		close(fd);
		return fail("%s: the statistics socket for device %u:%u "
			    "belongs to uid %u, neither you nor root",
			    mp, major(st.st_dev), minor(st.st_dev),
			    (unsigned)cred.uid);
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* a daemon that refuses us answers and closes before reading: read
	 * its answer even if the request could not be sent */
	if (send(fd, json ? "json\n" : "text\n", 5, MSG_NOSIGNAL) != 5)
		serr = errno;
	err = read_all(fd, &doc, &len);
	close(fd);
	if (!err && !len && serr)
		err = -serr;
	if (err)
		return fail("%s: statistics socket: %s", mp, strerror(-err));
	if (!strncmp(doc, hdr_err, strlen(hdr_err))) {
		nl = strchr(doc, '\n');
		if (nl)
			*nl = '\0';
		err = fail("%s: %s", mp, doc + strlen(hdr_err));
	} else if (strncmp(doc, hdr_ok, strlen(hdr_ok))) {
		err = fail("%s: the daemon's answer is not rcufs statistics",
			   mp);
	} else {
		fwrite(doc + strlen(hdr_ok), 1, len - strlen(hdr_ok), stdout);
		err = fflush(stdout) ? fail("stdout: %s", strerror(errno)) : 0;
	}
	free(doc);
	return err;
}
