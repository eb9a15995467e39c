/* SPDX-License-Identifier: MIT */
/*
 * fs/passthrough/devio.c - passthrough on /dev/fuse: libfuse 3.14's custom
 * I/O (the INIT request's offer, the INIT reply, the OPEN/CREATE replies,
 * the probe), or libfuse 3.17's API; the set-up and the start-up notice.
 * The route and the rules: the top of table.c.
 */
#include "passthrough_i.h"
#include "source/source.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <unistd.h>

/* ---- custom I/O on /dev/fuse (libfuse 3.14) ------------------------------- */

void pt_set_off(const char *why)
{
	pt.reason = why;
	__atomic_store_n(&pt.state, PT_OFF, __ATOMIC_RELEASE);
}

void pt_say_state(void)
{
	if (pt_on())
		rfs_log("notice", "passthrough on: reads, writes and mmap of "
				  "open files go straight to SOURCE");
	else
		rfs_log("notice", "passthrough off: %s", pt.reason);
}

#if FUSE_VERSION < FUSE_MAKE_VERSION(3, 17)
static ssize_t pt_io_read(int fd, void *buf, size_t len, void *userdata)
{
	const struct fuse_in_header *h = buf;
	ssize_t n;

	(void)userdata;
	n = read(fd, buf, len);
	if (n < (ssize_t)sizeof(*h))
		return n;
	if (h->opcode == FUSE_INIT && pt.state == PT_PENDING &&
	    (size_t)n >= sizeof(*h) + sizeof(struct fuse_init_in)) {
		const struct fuse_init_in *in = (const void *)(h + 1);

		pt.offered_killpriv_v2 = in->flags & FUSE_HANDLE_KILLPRIV_V2;
		pt.offered = (in->flags & FUSE_INIT_EXT) &&
			     (in->flags2 & PT_FUSE_PASSTHROUGH_FLAGS2);
		__atomic_store_n(&pt.init_unique, h->unique, __ATOMIC_RELAXED);
	}
	return n;
}

/* The INIT reply in @iov[1]: offer passthrough if we may.  True if it was
 * offered (then the kernel's answer is probed after the write). */
static bool pt_patch_init(struct iovec *iov, int count)
{
	struct fuse_init_out *out;
	uint32_t depth = PT_STACK_DEPTH;

	if (count < 2 || iov[1].iov_len < PT_INIT_STACK_OFF + 4) {
		pt_set_off("the INIT reply is too short (old protocol)");
		return false;
	}
	out = iov[1].iov_base;
	if (!pt.offered) {
		pt_set_off("the kernel does not offer it (needs Linux 6.9 "
			   "with CONFIG_FUSE_PASSTHROUGH)");
		return false;
	}
	if (!pt.have_cap) {
		pt_set_off("the daemon lacks CAP_SYS_ADMIN (run it as root)");
		return false;
	}
	if (out->flags & FUSE_WRITEBACK_CACHE) {
		pt_set_off("the writeback cache is on (coherence=exclusive or "
			   "-o writeback; -o nowriteback allows passthrough)");
		return false;
	}
	out->flags |= FUSE_INIT_EXT;
	if (pt.offered_killpriv_v2) {
		out->flags |= FUSE_HANDLE_KILLPRIV_V2;
		pt.killpriv_v2 = true;
	}
	out->flags2 |= PT_FUSE_PASSTHROUGH_FLAGS2;
	memcpy((char *)out + PT_INIT_STACK_OFF, &depth, sizeof(depth));
	return true;
}

/* Right after the INIT reply was written: did the kernel take it? */
static void pt_probe(void)
{
	struct pt_backing_map map = {.fd = rfs.root_fd};
	int r = ioctl(pt.devfd, PT_IOC_BACKING_OPEN, &map);
	int err = r < 0 ? errno : 0;

	if (r > 0) {
		/* not expected (a directory); give it back */
		uint32_t v = (uint32_t)r;

		ioctl(pt.devfd, PT_IOC_BACKING_CLOSE, &v);
	}
	if (err == EPERM || err == ENOTTY || err == EINVAL) {
		snprintf(pt.reason_buf, sizeof(pt.reason_buf),
			 "the kernel did not accept it (probe: %s)",
			 strerror(err));
		pt_set_off(pt.reason_buf);
		return;
	}
	pt.reason = "";
	__atomic_store_n(&pt.state, PT_ON, __ATOMIC_RELEASE);
}

/* The OPEN/CREATE reply of this thread: name the backing file. */
static void pt_patch_open(struct iovec *iov, int count)
{
	const struct fuse_out_header *oh = iov[0].iov_base;
	struct fuse_open_out *o;
	int32_t id = tls_backing_id;

	if (count != 2 || oh->error != 0 || iov[1].iov_len < sizeof(*o))
		return;
	o = (void *)((char *)iov[1].iov_base + iov[1].iov_len - sizeof(*o));
	o->open_flags =
		(o->open_flags & PT_FOPEN_ALLOWED) | PT_FOPEN_PASSTHROUGH;
	memcpy((char *)o + PT_OPEN_ID_OFF, &id, sizeof(id));
	tls_patched = true;
}

static ssize_t pt_io_writev(int fd, struct iovec *iov, int count,
			    void *userdata)
{
	const struct fuse_out_header *oh;
	bool init = false, probe = false;
	ssize_t n;

	(void)userdata;
	if (count >= 1 && iov[0].iov_len == sizeof(*oh)) {
		oh = iov[0].iov_base;
		if (tls_backing_id > 0) {
			pt_patch_open(iov, count);
		} else if (oh->unique &&
			   oh->unique == __atomic_load_n(&pt.init_unique,
							 __ATOMIC_RELAXED)) {
			init = true;
			__atomic_store_n(&pt.init_unique, 0, __ATOMIC_RELAXED);
			if (oh->error == 0)
				probe = pt_patch_init(iov, count);
			else
				pt_set_off("INIT failed");
		}
	}
	n = writev(fd, iov, count);
	if (probe) {
		if (n < 0)
			pt_set_off("the INIT reply could not be written");
		else
			pt_probe();
	}
	if (init)
		pt_say_state();
	return n;
}

static ssize_t pt_io_splice(int fdin, off_t *offin, int fdout, off_t *offout,
			    size_t len, unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

#endif /* libfuse < 3.17: custom I/O */

/* Is CAP_SYS_ADMIN in the effective set? */
static bool pt_cap_sys_admin(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_TO_INDEX(CAP_SYS_ADMIN)].effective &
	       CAP_TO_MASK(CAP_SYS_ADMIN);
}

int pt_session_setup(struct fuse_session *se, unsigned long open_files_limit)
{
	if (!pt.max) {
		pt.max = open_files_limit / 2;
		if (pt.max > 65536)
			pt.max = 65536;
		if (pt.max < 1)
			pt.max = 1;
	}
	pt.devfd = fuse_session_fd(se);
	if (pt.opt_off) {
		pt_set_off("-o passthrough=off");
		pt_say_state();
		return 0;
	}
	pt.have_cap = pt_cap_sys_admin();
	if (!pt.have_cap) {
		/* BACKING_OPEN needs it: nothing to negotiate */
		pt_set_off("the daemon lacks CAP_SYS_ADMIN (run it as root)");
		pt_say_state();
		return 0;
	}
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 17)
	/* libfuse's own API: pt_init asks for it */
	return 0;
#else
	{
		struct fuse_custom_io io = {
			.read = pt_io_read,
			.writev = pt_io_writev,
			.splice_receive = pt_io_splice,
			.splice_send = pt_io_splice,
		};
		int err = fuse_session_custom_io(se, &io, pt.devfd);

		if (err) {
			pt_set_off("libfuse refused custom I/O");
			pt_say_state();
			return 0;
		}
		pt.custom_io = true;
	}
	return 0;
#endif
}

void pt_init(struct fuse_conn_info *conn)
{
	(void)conn;
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 17)
	if (pt.opt_off)
		return;
	if (!fuse_get_feature_flag(conn, FUSE_CAP_PASSTHROUGH))
		pt_set_off("the kernel does not offer it (needs Linux 6.9 "
			   "with CONFIG_FUSE_PASSTHROUGH)");
	else if (!pt.have_cap)
		pt_set_off("the daemon lacks CAP_SYS_ADMIN (run it as root)");
	else if (conn->want & FUSE_CAP_WRITEBACK_CACHE)
		pt_set_off("the writeback cache is on (coherence=exclusive or "
			   "-o writeback; -o nowriteback allows passthrough)");
	if (pt.state == PT_OFF) {
		pt_say_state();
		return;
	}
	fuse_set_feature_flag(conn, FUSE_CAP_PASSTHROUGH);
	/* see "setuid/setgid" at the top */
	if (fuse_set_feature_flag(conn, FUSE_CAP_HANDLE_KILLPRIV_V2))
		pt.killpriv_v2 = true;
	conn->max_backing_stack_depth = PT_STACK_DEPTH;
	pt.reason = "";
	__atomic_store_n(&pt.state, PT_ON, __ATOMIC_RELEASE);
	pt_say_state();
#endif
}

/* ---- backing files ------------------------------------------------------- */

/* Say once per kind why the kernel refused a file (ELOOP, ...). */
void pt_note_refusal(int err)
{
	static int said_eloop, said_other;

	if (err == ELOOP) {
		if (!__atomic_exchange_n(&said_eloop, 1, __ATOMIC_RELAXED))
			rfs_log("notice",
				"passthrough: a file on a stacked or FUSE "
				"filesystem (overlayfs, GlusterFS, sshfs) is "
				"opened the normal way; so are all such files");
	} else if (!__atomic_exchange_n(&said_other, 1, __ATOMIC_RELAXED)) {
		rfs_log("notice",
			"passthrough: the kernel refused a backing file (%s): "
			"opened the normal way; so are others it refuses",
			strerror(err));
	}
}

/*
 * Register the file open at @fd as a backing file: returns its id or a
 * negative errno.  Not @fd itself but a new O_PATH open of the same file:
 * the kernel keeps the file it is given until the id is closed, and flock
 * locks and leases belong to the open file description, so the open's
 * own description must end with its RELEASE (close of @fd), not with the
 * last passthrough open of the inode.  Under pt_lock.
 */
int pt_backing_open(int fd)
{
	struct pt_backing_map map = {0};
	struct statfs sfs;
	char proc[64];
	int id;

	/* A FUSE filesystem's file (GlusterFS, sshfs): its own server's open
	 * flags would rule the I/O (direct_io refuses shared mmap: ENODEV)
	 * and its data path is a round trip anyway: the normal way. */
	if (fstatfs(fd, &sfs) == 0 && sfs.f_type == 0x65735546)
		return -ELOOP;
	backing_proc_path(fd, proc);
	map.fd = open(proc, O_PATH | O_CLOEXEC);
	if (map.fd < 0)
		return -errno;
	id = ioctl(pt.devfd, PT_IOC_BACKING_OPEN, &map);
	if (id < 0)
		id = -errno;
	else if (id == 0)
		id = -EPROTO;
	close(map.fd);
	return id;
}
