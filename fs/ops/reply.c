/* SPDX-License-Identifier: MIT */
/* fs/ops/reply.c - replies: errors and entries. */
#include "ops/ops_i.h"

#include <errno.h>
#include <string.h>

void rfs_reply_err(fuse_req_t req, int negerr)
{
	if (negerr)
		rfs_req_mark(RFS_REQ_ERR);
	/* the one place where the sign flips: libfuse takes positive errno */
	fuse_reply_err(req, -negerr);
}

void rfs_fill_entry(struct fuse_entry_param *e, const struct dc_result *res)
{
	memset(e, 0, sizeof(*e));
	e->ino = res->nodeid;
	/* the kernel expects the root's generation to be 0 */
	e->generation = res->nodeid == DC_ROOT_ID ? 0 : res->generation;
	if (res->nodeid) {
		dc_attr_to_stat(&res->attr, &e->attr);
		e->attr_timeout = rfs_tmo(&rfs.o.attr_timeout);
		e->entry_timeout = rfs_tmo(&rfs.o.entry_timeout);
	} else {
		/* inode 0: a negative entry the kernel may cache */
		e->entry_timeout = rfs_tmo(&rfs.o.negative_timeout);
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
