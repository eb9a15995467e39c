/* SPDX-License-Identifier: MIT */
/* fs/ops/reply.c - replies: errors and entries. */
#include "ops/ops_i.h"
#include "coherence/remote.h"
#include "passthrough/passthrough.h"

#include <errno.h>
#include <string.h>

void rfs_reply_err(fuse_req_t req, int negerr)
{
	if (negerr)
		rfs_req_mark(RFS_REQ_ERR);
	/* the one place where the sign flips: libfuse takes positive errno */
	fuse_reply_err(req, -negerr);
}

double rfs_attr_tmo(uint64_t ino, uint64_t dev)
{
	if (pt_quiet(ino)) /* PASSTHROUGH hook */
		return 0;
	return rfs_remote_tmo(dev, rfs_tmo(&rfs.o.attr_timeout));
}

void rfs_fill_entry(struct fuse_entry_param *e, const struct dc_result *res)
{
	memset(e, 0, sizeof(*e));
	e->ino = res->nodeid;
	/* the kernel expects the root's generation to be 0 */
	e->generation = res->nodeid == DC_ROOT_ID ? 0 : res->generation;
	if (res->nodeid) {
		dc_attr_to_stat(&res->attr, &e->attr);
		/* capped for a remote filesystem inside SOURCE, and no
		 * longer than the dcache keeps the answer (issue 15) */
		e->attr_timeout = rfs_remote_left(
			res->valid_until,
			rfs_attr_tmo(res->nodeid, res->attr.dev));
		e->entry_timeout = rfs_remote_left(
			res->valid_until,
			rfs_remote_tmo(res->attr.dev,
				       rfs_tmo(&rfs.o.entry_timeout)));
	} else {
		/* inode 0: a negative entry the kernel may cache, no longer
		 * than the dcache (which caps a remote directory's) */
		e->entry_timeout = rfs_remote_left(
			res->valid_until, rfs_tmo(&rfs.o.negative_timeout));
	}
}

void rfs_reply_entry(fuse_req_t req, const struct dc_result *res)
{
	struct fuse_entry_param e;

	rfs_fill_entry(&e, res);
	if (fuse_reply_entry(req, &e) == -ENOENT && res->nodeid)
		/* interrupted: the kernel did not take the reference */
		dcache_forget(rfs.dc, res->nodeid, 1);
}
