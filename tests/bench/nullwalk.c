/* SPDX-License-Identifier: MIT */
/*
 * nullwalk - the FUSE limit for walks: a daemon that serves the benchmark
 * tree of tests/bench/mdstorm.c (`mdstorm create`: d<a>/d<b>/d<c>/ with
 * files f00..f<P-1> and symlinks l00..l<L-1> -> f<i mod P>) from
 * arithmetic alone.  LOOKUP, GETATTR, ACCESS, READLINK, READDIR and
 * READDIRPLUS are answered by decoding the inode number or the name: no
 * syscall, no lock, no allocation.  Whatever a real daemon does on top is
 * its own cost; a walk's time on this daemon is the most any FUSE daemon
 * can do for the same walk on this kernel (scripts/bench, rows nullwalk-*).
 *
 * It makes the choices rcufs makes by default where they change the
 * kernel's requests: READDIRPLUS in the kernel's automatic mode, and no
 * OPENDIR (ENOSYS, so the kernel opens directories itself and keeps their
 * listings, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR) unless -o opendir.  It
 * answers GETXATTR and LISTXATTR as a daemon whose objects have no
 * extended attributes (ENODATA, an empty list): the kernel asks for the
 * ACL of every new inode that ls -l lists, as it does of rcufs.
 *
 *   nullwalk [-f] [-s] MNT -o fanout=F,files=P,links=L[,timeout=S]
 *                             [,opendir][,fill=all|dirs]
 *
 * timeout is the entry, attribute and negative timeout (seconds, default 0).
 * fill: which READDIRPLUS entries carry attributes: all (default), or
 * directories only (the others are listed without a node and looked up
 * when used); the floor of a walk is the better of the two.
 *
 * Inode numbers: 1 the root; then the F directories of level 1, the F^2 of
 * level 2, the F^3 leaves, then P + L entries per leaf, in that order.
 */
#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static struct {
	int fanout, files, links, opendir;
	double timeout;
	char *fill;
} cfg = {4, 10, 2, 0, 0.0, NULL};
static int fill_dirs_only; /* fill=dirs; set in main() */

static const struct fuse_opt nw_opts[] = {
	{"fanout=%d", offsetof(typeof(cfg), fanout), 0},
	{"files=%d", offsetof(typeof(cfg), files), 0},
	{"links=%d", offsetof(typeof(cfg), links), 0},
	{"timeout=%lf", offsetof(typeof(cfg), timeout), 0},
	{"opendir", offsetof(typeof(cfg), opendir), 1},
	{"fill=%s", offsetof(typeof(cfg), fill), 0},
	FUSE_OPT_END};

/* Set once in main() before the session starts; read-only afterwards. */
static uint64_t F, P, L, lvl1, lvl2, lvl3, ents;

/* A decoded node: depth 0 (root) to 3 (leaf directory), 4 an entry. */
struct node {
	int depth;
	uint64_t dir; /* index within its level (depth 1-3); leaf of an entry */
	uint64_t n;   /* entry: 0..P-1 a file, P..P+L-1 a symlink */
};

static fuse_ino_t ino_of(const struct node *x)
{
	switch (x->depth) {
	case 0:
		return FUSE_ROOT_ID;
	case 1:
		return lvl1 + x->dir;
	case 2:
		return lvl2 + x->dir;
	case 3:
		return lvl3 + x->dir;
	default:
		return ents + x->dir * (P + L) + x->n;
	}
}

/* 0, or -1 for a number this tree does not have */
static int decode(fuse_ino_t ino, struct node *x)
{
	memset(x, 0, sizeof(*x));
	if (ino == FUSE_ROOT_ID)
		return 0;
	if (ino >= ents) {
		x->depth = 4;
		x->dir = (ino - ents) / (P + L);
		x->n = (ino - ents) % (P + L);
		return x->dir < F * F * F ? 0 : -1;
	}
	x->depth = ino >= lvl3 ? 3 : ino >= lvl2 ? 2 : 1;
	x->dir = ino - (x->depth == 3 ? lvl3 : x->depth == 2 ? lvl2 : lvl1);
	return ino >= lvl1 ? 0 : -1;
}

static void fill(const struct node *x, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino_of(x);
	st->st_nlink = 1;
	st->st_blksize = 4096;
	st->st_mtim.tv_sec = st->st_ctim.tv_sec = st->st_atim.tv_sec = 1;
	if (x->depth < 4) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2 + (x->depth < 3 ? F : 0);
	} else if (x->n < P) {
		st->st_mode = S_IFREG | 0644;
	} else {
		st->st_mode = S_IFLNK | 0777;
		st->st_size = 3;
	}
}

/* a decimal number below max, or -1 */
static int64_t number(const char *s, uint64_t max)
{
	uint64_t v = 0;

	if (!*s || (s[0] == '0' && s[1]))
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > max)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	return v < max ? (int64_t)v : -1;
}

/* the entry numbers of files and links are written with at least 2 digits */
static int64_t entry_number(const char *s, uint64_t max)
{
	if (strlen(s) < 2)
		return -1;
	if (s[0] == '0' && s[1])
		return s[2] ? -1 : number(s + 1, max);
	return number(s, max);
}

/* the child @name of directory @p; -1 when there is none */
static int child(const struct node *p, const char *name, struct node *c)
{
	int64_t v;

	if (p->depth < 3 && name[0] == 'd') {
		v = number(name + 1, F);
		if (v < 0)
			return -1;
		c->depth = p->depth + 1;
		c->dir = p->depth == 0 ? (uint64_t)v : p->dir * F + (uint64_t)v;
		c->n = 0;
		return 0;
	}
	if (p->depth == 3 && (name[0] == 'f' || name[0] == 'l')) {
		v = entry_number(name + 1, name[0] == 'f' ? P : L);
		if (v < 0)
			return -1;
		c->depth = 4;
		c->dir = p->dir;
		c->n = (uint64_t)v + (name[0] == 'l' ? P : 0);
		return 0;
	}
	return -1;
}

static void entry_param(const struct node *c, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->entry_timeout = e->attr_timeout = cfg.timeout;
	if (c) {
		e->ino = ino_of(c);
		fill(c, &e->attr);
	}
}

static void nw_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node p, c;
	struct fuse_entry_param e;

	if (decode(parent, &p) || p.depth == 4) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	/* a negative entry (ino 0) is kept for the timeout, like rcufs's */
	entry_param(child(&p, name, &c) ? NULL : &c, &e);
	fuse_reply_entry(req, &e);
}

static void nw_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct node x;
	struct stat st;

	(void)fi;
	if (decode(ino, &x)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill(&x, &st);
	fuse_reply_attr(req, &st, cfg.timeout);
}

static void nw_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct node x;
	char t[24];

	if (decode(ino, &x) || x.depth != 4 || x.n < P) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	snprintf(t, sizeof(t), "f%02llu", (unsigned long long)((x.n - P) % P));
	fuse_reply_readlink(req, t);
}

static void nw_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	(void)ino;
	(void)mask;
	fuse_reply_err(req, 0);
}

static void nw_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	if (!cfg.opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->cache_readdir = fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* the @i-th entry of directory @p after "." and ".."; name into @name */
static void nth(const struct node *p, uint64_t i, struct node *c, char *name,
		size_t len)
{
	if (p->depth < 3) {
		c->depth = p->depth + 1;
		c->dir = p->depth == 0 ? i : p->dir * F + i;
		c->n = 0;
		snprintf(name, len, "d%llu", (unsigned long long)i);
		return;
	}
	c->depth = 4;
	c->dir = p->dir;
	c->n = i;
	snprintf(name, len, "%c%02llu", i < P ? 'f' : 'l',
		 (unsigned long long)(i < P ? i : i - P));
}

/* READDIR and READDIRPLUS: offsets are entry indexes + 1 ("." is 0). */
static void list(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 int plus)
{
	static __thread char buf[1 << 18];
	struct node p, c;
	struct fuse_entry_param e;
	struct stat st;
	uint64_t count, i;
	size_t used = 0, n;
	char name[32];

	if (decode(ino, &p) || p.depth == 4) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (size > sizeof(buf))
		size = sizeof(buf);
	count = 2 + (p.depth < 3 ? F : P + L);
	for (i = (uint64_t)off; i < count; i++) {
		if (i < 2) {
			/* "." and ".."; the kernel takes no reference on them */
			strcpy(name, i ? ".." : ".");
			c = p;
		} else {
			nth(&p, i - 2, &c, name, sizeof(name));
		}
		if (plus) {
			entry_param(i >= 2 && !(fill_dirs_only && c.depth == 4)
					    ? &c
					    : NULL,
				    &e);
			if (!e.ino)
				fill(&c,
				     &e.attr); /* the dirent's ino and type */
			n = fuse_add_direntry_plus(req, buf + used, size - used,
						   name, &e, (off_t)(i + 1));
		} else {
			fill(&c, &st);
			n = fuse_add_direntry(req, buf + used, size - used,
					      name, &st, (off_t)(i + 1));
		}
		if (n > size - used)
			break;
		used += n;
	}
	fuse_reply_buf(req, buf, used);
}

static void nw_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)fi;
	list(req, ino, size, off, 0);
}

static void nw_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	list(req, ino, size, off, 1);
}

static void nw_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	(void)ino;
	(void)name;
	(void)size;
	fuse_reply_err(req, ENODATA);
}

static void nw_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	(void)ino;
	if (size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_xattr(req, 0);
}

static const struct fuse_lowlevel_ops nw_ops = {
	.lookup = nw_lookup,
	.getattr = nw_getattr,
	.readlink = nw_readlink,
	.access = nw_access,
	.opendir = nw_opendir,
	.readdir = nw_readdir,
	.readdirplus = nw_readdirplus,
	.getxattr = nw_getxattr,
	.listxattr = nw_listxattr,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts o;
	struct fuse_session *se;
	struct fuse_loop_config *lc;
	int ret;

	if (fuse_parse_cmdline(&args, &o) || !o.mountpoint) {
		fprintf(stderr,
			"usage: nullwalk [-f] [-s] MNT -o "
			"fanout=F,files=P,links=L[,timeout=S][,opendir]\n");
		return 2;
	}
	if (fuse_opt_parse(&args, &cfg, nw_opts, NULL) == -1)
		return 2;
	if (cfg.fanout < 1 || cfg.fanout > 1000 || cfg.files < 1 ||
	    cfg.files > 100000 || cfg.links < 0 || cfg.links > 100000 ||
	    cfg.timeout < 0) {
		fprintf(stderr,
			"nullwalk: fanout 1-1000, files 1-100000, links "
			"0-100000, timeout >= 0\n");
		return 2;
	}
	if (cfg.fill && strcmp(cfg.fill, "all") && strcmp(cfg.fill, "dirs")) {
		fprintf(stderr, "nullwalk: fill=all or fill=dirs\n");
		return 2;
	}
	fill_dirs_only = cfg.fill && !strcmp(cfg.fill, "dirs");
	F = (uint64_t)cfg.fanout;
	P = (uint64_t)cfg.files;
	L = (uint64_t)cfg.links;
	lvl1 = 2;
	lvl2 = lvl1 + F;
	lvl3 = lvl2 + F * F;
	ents = lvl3 + F * F * F;
	se = fuse_session_new(&args, &nw_ops, sizeof(nw_ops), NULL);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) ||
	    fuse_session_mount(se, o.mountpoint)) {
		fuse_session_destroy(se);
		return 1;
	}
	fuse_daemonize(o.foreground);
	if (o.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		lc = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(lc, o.clone_fd);
		fuse_loop_cfg_set_max_threads(lc, o.max_threads);
		ret = fuse_session_loop_mt(se, lc);
		fuse_loop_cfg_destroy(lc);
	}
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	free(o.mountpoint);
	free(cfg.fill);
	fuse_opt_free_args(&args);
	return ret && ret != SIGTERM && ret != SIGINT && ret != SIGHUP ? 1 : 0;
}
