// SPDX-License-Identifier: MIT
/*
 * tests/lib/membackend.c - the in-memory backend (see membackend.h).
 *
 * Locking: one mutex, mb->lock, protects the whole tree (nodes, entries,
 * the name hash, the node table) and the fault injections.  The call
 * counters and the delay are atomics read without the lock.
 *
 * The mutex is never held while calling into the dcache: the dentry to
 * node mapping (dentry_inode, dc_inode_key, dentry_name_copy) is done
 * before taking it.
 *
 * Objects.  A node is one object (file, directory, symlink, ...), found by
 * inode number in mb->nodes[].  An entry is one name of a node in a
 * directory: it sits in the global hash keyed (directory ino, name) and in
 * its directory's slot array, whose index is its listing position.  A
 * removed entry leaves a NULL slot (positions of the others stay put); the
 * array is compacted when it is mostly holes.  A node is freed when its
 * last name goes (nlink 0): the backend ops then answer -ENOENT for it.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "membackend.h"

struct mb_entry;

struct mb_node {
	struct dc_attr attr;
	char *link;		 /* symlinks: NUL-terminated target */
	struct mb_node *parent;	 /* directories: the directory holding it */
	struct mb_entry **slots; /* directories: entries by position */
	size_t nslots, cap;	 /* used slots (holes included), allocated */
	size_t nlive;		 /* entries (slots minus holes) */
};

struct mb_entry {
	struct mb_entry *next; /* hash chain */
	uint64_t dir;	       /* ino of the directory */
	uint64_t hash;
	struct mb_node *node;
	size_t slot; /* index in the directory's slots */
	size_t len;
	char name[];
};

struct mb_inject {
	char *name; /* NULL: any name */
	int err;
	unsigned count;
};

struct membackend {
	pthread_mutex_t lock;
	struct mb_entry **htab; /* power-of-two buckets */
	size_t hsize, hcount;
	struct mb_node **nodes; /* by ino */
	size_t nodes_cap;
	uint64_t next_ino;
	struct mb_inject inject[DC_BE_NR];
	/* An injection with a name is armed: copy dentry names. */
	atomic_bool named[DC_BE_NR];
	atomic_uint delay;
	/* mb_gate_lookup: the next lookup, having read, posts gate_read and
	 * waits for gate_go */
	atomic_bool gate;
	sem_t gate_read, gate_go;
	atomic_uint_fast64_t calls[DC_BE_NR];
};

#define HASH_INIT 1024
#define READDIR_BATCH 64

/* ---- the name hash ----------------------------------------------------- */

static uint64_t name_hash(uint64_t dir, const char *name, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ (dir * 0x9e3779b97f4a7c15ull);
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)name[i];
		h *= 0x100000001b3ull;
	}
	return h ^ (h >> 29);
}

static struct mb_entry *entry_find(struct membackend *mb, uint64_t dir,
				   const char *name, size_t len)
{
	uint64_t h = name_hash(dir, name, len);
	struct mb_entry *e;

	for (e = mb->htab[h & (mb->hsize - 1)]; e; e = e->next) {
		if (e->hash == h && e->dir == dir && e->len == len &&
		    memcmp(e->name, name, len) == 0)
			return e;
	}
	return NULL;
}

static int hash_grow(struct membackend *mb)
{
	size_t nsize = mb->hsize * 2, i;
	struct mb_entry **ntab = calloc(nsize, sizeof(*ntab));

	if (!ntab)
		return -ENOMEM;
	for (i = 0; i < mb->hsize; i++) {
		struct mb_entry *e = mb->htab[i], *next;

		for (; e; e = next) {
			struct mb_entry **b = &ntab[e->hash & (nsize - 1)];

			next = e->next;
			e->next = *b;
			*b = e;
		}
	}
	free(mb->htab);
	mb->htab = ntab;
	mb->hsize = nsize;
	return 0;
}

/* ---- nodes -------------------------------------------------------------- */

static bool is_dir(const struct mb_node *n)
{
	return S_ISDIR(n->attr.mode);
}

static struct mb_node *node_by_ino(struct membackend *mb, uint64_t ino)
{
	if (ino >= mb->nodes_cap)
		return NULL;
	return mb->nodes[ino];
}

static struct mb_node *node_new(struct membackend *mb, mode_t mode)
{
	struct mb_node *n;

	if (mb->next_ino >= mb->nodes_cap) {
		size_t ncap = mb->nodes_cap ? mb->nodes_cap * 2 : 1024;
		struct mb_node **nt = realloc(mb->nodes, ncap * sizeof(*nt));

		if (!nt)
			return NULL;
		memset(nt + mb->nodes_cap, 0,
		       (ncap - mb->nodes_cap) * sizeof(*nt));
		mb->nodes = nt;
		mb->nodes_cap = ncap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	if (!(mode & S_IFMT))
		mode |= S_IFREG;
	n->attr.ino = mb->next_ino++;
	n->attr.dev = MB_DEV;
	n->attr.mode = mode;
	n->attr.nlink = S_ISDIR(mode) ? 2 : 1;
	mb->nodes[n->attr.ino] = n;
	return n;
}

static void node_free(struct membackend *mb, struct mb_node *n)
{
	mb->nodes[n->attr.ino] = NULL;
	free(n->link);
	free(n->slots);
	free(n);
}

/* ---- entries ------------------------------------------------------------ */

static void dir_compact(struct mb_node *dir)
{
	size_t i, j = 0;

	for (i = 0; i < dir->nslots; i++) {
		struct mb_entry *e = dir->slots[i];

		if (!e)
			continue;
		e->slot = j;
		dir->slots[j++] = e;
	}
	dir->nslots = j;
}

/*
 * Add the name @name of @node in @dir.  The caller checked that it is not
 * there; nlink is the caller's business.
 */
static int entry_add(struct membackend *mb, struct mb_node *dir,
		     const char *name, size_t len, struct mb_node *node)
{
	struct mb_entry *e, **b;

	if (mb->hcount >= mb->hsize && hash_grow(mb))
		return -ENOMEM;
	if (dir->nslots == dir->cap) {
		size_t ncap = dir->cap ? dir->cap * 2 : 8;
		struct mb_entry **ns = realloc(dir->slots, ncap * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		dir->slots = ns;
		dir->cap = ncap;
	}
	e = malloc(sizeof(*e) + len + 1);
	if (!e)
		return -ENOMEM;
	e->dir = dir->attr.ino;
	e->hash = name_hash(e->dir, name, len);
	e->node = node;
	e->len = len;
	memcpy(e->name, name, len);
	e->name[len] = '\0';
	e->slot = dir->nslots;
	dir->slots[dir->nslots++] = e;
	dir->nlive++;
	b = &mb->htab[e->hash & (mb->hsize - 1)];
	e->next = *b;
	*b = e;
	mb->hcount++;
	return 0;
}

/* Remove entry @e from @dir and free it; nlink is the caller's business. */
static void entry_del(struct membackend *mb, struct mb_node *dir,
		      struct mb_entry *e)
{
	struct mb_entry **p = &mb->htab[e->hash & (mb->hsize - 1)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	mb->hcount--;
	dir->slots[e->slot] = NULL;
	dir->nlive--;
	if (e->slot == dir->nslots - 1)
		dir->nslots--;
	else if (dir->nslots > 64 && dir->nlive < dir->nslots / 4)
		dir_compact(dir);
	free(e);
}

/* Remove name @e of its node from @dir, dropping a link (maybe the node). */
static void entry_unlink(struct membackend *mb, struct mb_node *dir,
			 struct mb_entry *e)
{
	struct mb_node *n = e->node;

	entry_del(mb, dir, e);
	if (is_dir(n)) {
		dir->attr.nlink--;
		n->attr.nlink = 0;
	} else {
		n->attr.nlink--;
	}
	if (n->attr.nlink == 0)
		node_free(mb, n);
}

/* ---- paths ------------------------------------------------------------- */

/* The next component of *@p into *@name; its length, 0 at the end. */
static size_t next_comp(const char **p, const char **name)
{
	const char *s = *p;

	while (*s == '/')
		s++;
	*name = s;
	while (*s && *s != '/')
		s++;
	*p = s;
	return (size_t)(s - *name);
}

static int check_comp(const char *name, size_t len)
{
	if (len > DC_NAME_MAX)
		return -ENAMETOOLONG;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return -EINVAL;
	return 0;
}

struct mb_where {
	struct mb_node *dir; /* directory of the last component; NULL: root */
	const char *name;    /* the last component (points into the path) */
	size_t len;
	struct mb_entry *ent; /* its entry, NULL when it does not exist */
};

/*
 * Resolve @path.  Intermediate components must exist (-ENOENT) and be
 * directories (-ENOTDIR); the last need not exist.  Called locked.
 */
static int resolve(struct membackend *mb, const char *path, struct mb_where *w)
{
	struct mb_node *cur = mb->nodes[MB_ROOT_INO];
	const char *name, *next;
	size_t len, nlen;
	int err;

	memset(w, 0, sizeof(*w));
	len = next_comp(&path, &name);
	if (!len)
		return 0;
	for (;;) {
		struct mb_entry *e;

		err = check_comp(name, len);
		if (err)
			return err;
		e = entry_find(mb, cur->attr.ino, name, len);
		nlen = next_comp(&path, &next);
		if (!nlen) {
			w->dir = cur;
			w->name = name;
			w->len = len;
			w->ent = e;
			return 0;
		}
		if (!e)
			return -ENOENT;
		if (!is_dir(e->node))
			return -ENOTDIR;
		cur = e->node;
		name = next;
		len = nlen;
	}
}

/* The node @path names, or an error. */
static int resolve_node(struct membackend *mb, const char *path,
			struct mb_node **out)
{
	struct mb_where w;
	int err = resolve(mb, path, &w);

	if (err)
		return err;
	if (!w.dir) {
		*out = mb->nodes[MB_ROOT_INO];
		return 0;
	}
	if (!w.ent)
		return -ENOENT;
	*out = w.ent->node;
	return 0;
}

/* Is @n @anc or below it? (@anc a directory) */
static bool in_subtree(const struct mb_node *n, const struct mb_node *anc)
{
	for (; n; n = n->parent) {
		if (n == anc)
			return true;
	}
	return false;
}

/* ---- the oracle API ----------------------------------------------------- */

struct membackend *mb_new(void)
{
	struct membackend *mb = calloc(1, sizeof(*mb));
	struct mb_node *root;

	if (!mb)
		return NULL;
	pthread_mutex_init(&mb->lock, NULL);
	sem_init(&mb->gate_read, 0, 0);
	sem_init(&mb->gate_go, 0, 0);
	mb->hsize = HASH_INIT;
	mb->htab = calloc(mb->hsize, sizeof(*mb->htab));
	mb->next_ino = MB_ROOT_INO;
	root = mb->htab ? node_new(mb, S_IFDIR | 0755) : NULL;
	if (!root) {
		mb_free(mb);
		return NULL;
	}
	return mb;
}

void mb_free(struct membackend *mb)
{
	size_t i;

	if (!mb)
		return;
	for (i = 0; mb->htab && i < mb->hsize; i++) {
		struct mb_entry *e = mb->htab[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	for (i = 0; i < mb->nodes_cap; i++) {
		if (mb->nodes[i])
			node_free(mb, mb->nodes[i]);
	}
	for (i = 0; i < DC_BE_NR; i++)
		free(mb->inject[i].name);
	free(mb->nodes);
	free(mb->htab);
	pthread_mutex_destroy(&mb->lock);
	sem_destroy(&mb->gate_read);
	sem_destroy(&mb->gate_go);
	free(mb);
}

void mb_root_attr(struct membackend *mb, struct dc_attr *attr)
{
	pthread_mutex_lock(&mb->lock);
	*attr = mb->nodes[MB_ROOT_INO]->attr;
	pthread_mutex_unlock(&mb->lock);
}

/* Create a node of @mode at @path; called locked. */
static int create_locked(struct membackend *mb, const char *path, mode_t mode,
			 struct mb_node **out)
{
	struct mb_where w;
	struct mb_node *n;
	int err = resolve(mb, path, &w);

	if (err)
		return err;
	if (!w.dir || w.ent)
		return -EEXIST;
	n = node_new(mb, mode);
	if (!n)
		return -ENOMEM;
	err = entry_add(mb, w.dir, w.name, w.len, n);
	if (err) {
		node_free(mb, n);
		return err;
	}
	if (is_dir(n)) {
		n->parent = w.dir;
		w.dir->attr.nlink++;
	}
	*out = n;
	return 0;
}

int mb_create(struct membackend *mb, const char *path, mode_t mode,
	      struct dc_attr *out)
{
	struct mb_node *n;
	int err;

	pthread_mutex_lock(&mb->lock);
	err = create_locked(mb, path, mode, &n);
	if (!err && out)
		*out = n->attr;
	pthread_mutex_unlock(&mb->lock);
	return err;
}

int mb_symlink(struct membackend *mb, const char *path, const char *target,
	       struct dc_attr *out)
{
	char *t = strdup(target);
	struct mb_node *n;
	int err;

	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&mb->lock);
	err = create_locked(mb, path, S_IFLNK | 0777, &n);
	if (!err) {
		n->link = t;
		t = NULL;
		n->attr.size = (int64_t)strlen(n->link);
		if (out)
			*out = n->attr;
	}
	pthread_mutex_unlock(&mb->lock);
	free(t);
	return err;
}

int mb_link(struct membackend *mb, const char *oldpath, const char *newpath,
	    struct dc_attr *out)
{
	struct mb_node *n;
	struct mb_where w;
	int err;

	pthread_mutex_lock(&mb->lock);
	err = resolve_node(mb, oldpath, &n);
	if (err)
		goto out_unlock;
	err = -EPERM;
	if (is_dir(n))
		goto out_unlock;
	err = resolve(mb, newpath, &w);
	if (err)
		goto out_unlock;
	err = -EEXIST;
	if (!w.dir || w.ent)
		goto out_unlock;
	err = entry_add(mb, w.dir, w.name, w.len, n);
	if (err)
		goto out_unlock;
	n->attr.nlink++;
	if (out)
		*out = n->attr;
out_unlock:
	pthread_mutex_unlock(&mb->lock);
	return err;
}

int mb_unlink(struct membackend *mb, const char *path)
{
	struct mb_where w;
	int err;

	pthread_mutex_lock(&mb->lock);
	err = resolve(mb, path, &w);
	if (err)
		goto out_unlock;
	err = -EISDIR;
	if (!w.dir)
		goto out_unlock;
	err = -ENOENT;
	if (!w.ent)
		goto out_unlock;
	err = -EISDIR;
	if (is_dir(w.ent->node))
		goto out_unlock;
	entry_unlink(mb, w.dir, w.ent);
	err = 0;
out_unlock:
	pthread_mutex_unlock(&mb->lock);
	return err;
}

int mb_rmdir(struct membackend *mb, const char *path)
{
	struct mb_where w;
	int err;

	pthread_mutex_lock(&mb->lock);
	err = resolve(mb, path, &w);
	if (err)
		goto out_unlock;
	err = -EBUSY;
	if (!w.dir)
		goto out_unlock;
	err = -ENOENT;
	if (!w.ent)
		goto out_unlock;
	err = -ENOTDIR;
	if (!is_dir(w.ent->node))
		goto out_unlock;
	err = -ENOTEMPTY;
	if (w.ent->node->nlive)
		goto out_unlock;
	entry_unlink(mb, w.dir, w.ent);
	err = 0;
out_unlock:
	pthread_mutex_unlock(&mb->lock);
	return err;
}

static int rename_exchange(struct mb_where *o, struct mb_where *n)
{
	struct mb_node *src = o->ent->node, *dst = n->ent->node;

	if (is_dir(dst) && in_subtree(o->dir, dst))
		return -EINVAL;
	o->ent->node = dst;
	n->ent->node = src;
	if (o->dir == n->dir)
		return 0;
	if (is_dir(src)) {
		o->dir->attr.nlink--;
		n->dir->attr.nlink++;
		src->parent = n->dir;
	}
	if (is_dir(dst)) {
		n->dir->attr.nlink--;
		o->dir->attr.nlink++;
		dst->parent = o->dir;
	}
	return 0;
}

static int rename_locked(struct membackend *mb, const char *oldpath,
			 const char *newpath, unsigned flags)
{
	struct mb_where o, n;
	struct mb_node *src;
	struct mb_entry *oent;
	int err;

	err = resolve(mb, oldpath, &o);
	if (err)
		return err;
	err = resolve(mb, newpath, &n);
	if (err)
		return err;
	if (!o.dir || !n.dir)
		return -EBUSY; /* the root */
	if (!o.ent)
		return -ENOENT;
	if (o.ent == n.ent)
		return flags & DC_RENAME_NOREPLACE ? -EEXIST : 0;
	src = o.ent->node;
	if (is_dir(src) && in_subtree(n.dir, src))
		return -EINVAL;
	if (flags & DC_RENAME_EXCHANGE) {
		if (!n.ent)
			return -ENOENT;
		return rename_exchange(&o, &n);
	}
	if (n.ent) {
		struct mb_node *dst = n.ent->node;

		if (flags & DC_RENAME_NOREPLACE)
			return -EEXIST;
		if (dst == src)
			return 0; /* two links of one file: rename(2) no-op */
		if (is_dir(src) && !is_dir(dst))
			return -ENOTDIR;
		if (!is_dir(src) && is_dir(dst))
			return -EISDIR;
		if (is_dir(dst) && dst->nlive)
			return -ENOTEMPTY;
	}
	/*
	 * Drop the target, add the new name, drop the old one.  Only the add
	 * can fail (ENOMEM), leaving the target gone: good enough for tests.
	 */
	oent = o.ent;
	if (n.ent) {
		entry_unlink(mb, n.dir, n.ent);
		n.ent = NULL;
	}
	err = entry_add(mb, n.dir, n.name, n.len, src);
	if (err)
		return err;
	entry_del(mb, o.dir, oent);
	if (is_dir(src) && o.dir != n.dir) {
		o.dir->attr.nlink--;
		n.dir->attr.nlink++;
		src->parent = n.dir;
	}
	return 0;
}

int mb_rename(struct membackend *mb, const char *oldpath, const char *newpath,
	      unsigned flags)
{
	int err;

	if (flags & ~(unsigned)(DC_RENAME_NOREPLACE | DC_RENAME_EXCHANGE))
		return -EINVAL;
	if ((flags & DC_RENAME_NOREPLACE) && (flags & DC_RENAME_EXCHANGE))
		return -EINVAL;
	pthread_mutex_lock(&mb->lock);
	err = rename_locked(mb, oldpath, newpath, flags);
	pthread_mutex_unlock(&mb->lock);
	return err;
}

int mb_setattr(struct membackend *mb, const char *path,
	       const struct dc_attr *attr)
{
	struct mb_node *n;
	int err;

	pthread_mutex_lock(&mb->lock);
	err = resolve_node(mb, path, &n);
	if (!err) {
		struct dc_attr a = *attr;

		/* The identity and the link count are the tree's own. */
		a.ino = n->attr.ino;
		a.dev = n->attr.dev;
		a.nlink = n->attr.nlink;
		a.mode = (n->attr.mode & S_IFMT) | (a.mode & ~(uint64_t)S_IFMT);
		n->attr = a;
	}
	pthread_mutex_unlock(&mb->lock);
	return err;
}

int mb_set_link(struct membackend *mb, const char *path, const char *target)
{
	char *t = strdup(target);
	struct mb_node *n;
	int err;

	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&mb->lock);
	err = resolve_node(mb, path, &n);
	if (!err && !S_ISLNK(n->attr.mode))
		err = -EINVAL;
	if (!err) {
		free(n->link);
		n->link = t;
		t = NULL;
		n->attr.size = (int64_t)strlen(n->link);
	}
	pthread_mutex_unlock(&mb->lock);
	free(t);
	return err;
}

int mb_stat(struct membackend *mb, const char *path, struct dc_attr *out)
{
	struct mb_node *n;
	int err;

	pthread_mutex_lock(&mb->lock);
	err = resolve_node(mb, path, &n);
	if (!err)
		*out = n->attr;
	pthread_mutex_unlock(&mb->lock);
	return err;
}

/* Copy @n's target into @buf as readlink does; its length. Called locked. */
static ssize_t copy_link(const struct mb_node *n, char *buf, size_t size)
{
	size_t len;

	if (!S_ISLNK(n->attr.mode))
		return -EINVAL;
	len = n->link ? strlen(n->link) : 0;
	if (size) {
		memcpy(buf, n->link ? n->link : "", len < size ? len : size);
		if (len < size)
			buf[len] = '\0';
	}
	return (ssize_t)len;
}

int mb_readlink(struct membackend *mb, const char *path, char *buf, size_t size)
{
	struct mb_node *n;
	ssize_t ret;
	int err;

	pthread_mutex_lock(&mb->lock);
	err = resolve_node(mb, path, &n);
	ret = err ? err : copy_link(n, buf, size);
	pthread_mutex_unlock(&mb->lock);
	return (int)ret;
}

/* ---- fault injection and counters --------------------------------------- */

void mb_inject(struct membackend *mb, enum dc_be_op op, const char *name,
	       int err, unsigned count)
{
	char *n = name ? strdup(name) : NULL;

	if ((unsigned)op >= DC_BE_NR)
		abort();
	if (name && !n)
		abort(); /* test helper: no way to report */
	pthread_mutex_lock(&mb->lock);
	free(mb->inject[op].name);
	mb->inject[op].name = n;
	mb->inject[op].err = err > 0 ? -err : err;
	mb->inject[op].count = count;
	atomic_store(&mb->named[op], n != NULL && count > 0);
	pthread_mutex_unlock(&mb->lock);
}

void mb_set_delay(struct membackend *mb, unsigned usec)
{
	atomic_store(&mb->delay, usec);
}

void mb_gate_lookup(struct membackend *mb, bool on)
{
	atomic_store(&mb->gate, on);
}

/* sem_wait for at most 10 s: a test that went wrong fails, never hangs */
static bool gate_wait(sem_t *sem)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	for (;;) {
		if (!sem_timedwait(sem, &until))
			return true;
		if (errno != EINTR)
			return false;
	}
}

bool mb_gate_wait_read(struct membackend *mb)
{
	return gate_wait(&mb->gate_read);
}

void mb_gate_go(struct membackend *mb)
{
	sem_post(&mb->gate_go);
}

uint64_t mb_calls(struct membackend *mb, enum dc_be_op op)
{
	if ((unsigned)op >= DC_BE_NR)
		return 0;
	return atomic_load(&mb->calls[op]);
}

/*
 * Start of every backend op: count it, sleep the delay.  Called unlocked.
 */
static void op_enter(struct membackend *mb, enum dc_be_op op)
{
	unsigned delay;

	atomic_fetch_add(&mb->calls[op], 1);
	delay = atomic_load(&mb->delay);
	if (delay)
		usleep(delay);
}

/*
 * The injected error for this call of @op on @name (NULL: name unknown),
 * consuming one count, or 0.  Called locked.
 */
static int injected(struct membackend *mb, enum dc_be_op op, const char *name,
		    size_t len)
{
	struct mb_inject *in = &mb->inject[op];

	if (!in->count)
		return 0;
	if (in->name && (!name || strlen(in->name) != len ||
			 memcmp(in->name, name, len) != 0))
		return 0;
	if (--in->count == 0)
		atomic_store(&mb->named[op], false);
	return in->err;
}

/* The mem-tree ino of dentry @d's object, 0 when negative or foreign. */
static uint64_t dentry_ino(struct dentry *d)
{
	struct dc_inode *inode = dentry_inode(d);
	uint64_t dev, ino;

	if (!inode)
		return 0;
	dc_inode_key(inode, &dev, &ino);
	dc_inode_put(inode);
	return dev == MB_DEV ? ino : 0;
}

/*
 * What every op on dentry @d does before taking the lock: count, delay,
 * map @d to its ino and, when a named injection is armed, copy its name
 * into @name (DC_NAME_MAX + 1 bytes; *@len = 0 otherwise).
 */
static uint64_t op_prepare(struct membackend *mb, enum dc_be_op op,
			   struct dentry *d, char *name, size_t *len)
{
	op_enter(mb, op);
	*len = 0;
	if (atomic_load(&mb->named[op]))
		*len = dentry_name_copy(d, name);
	return dentry_ino(d);
}

/* The node of ino @ino for an op, or an error in *@err.  Called locked. */
static struct mb_node *op_node(struct membackend *mb, uint64_t ino, int *err)
{
	struct mb_node *n = ino ? node_by_ino(mb, ino) : NULL;

	*err = n ? 0 : (ino ? -ENOENT : -ESTALE);
	return n;
}

/* ---- the backend ops --------------------------------------------------- */

static int be_lookup(void *backend, struct dentry *dir, const char *name,
		     size_t len, struct dc_attr *attr)
{
	struct membackend *mb = backend;
	struct mb_node *d;
	struct mb_entry *e;
	uint64_t ino;
	int err;

	op_enter(mb, DC_BE_LOOKUP);
	ino = dentry_ino(dir);
	pthread_mutex_lock(&mb->lock);
	err = injected(mb, DC_BE_LOOKUP, name, len);
	if (err)
		goto out_unlock;
	d = op_node(mb, ino, &err);
	if (!d)
		goto out_unlock;
	err = -ENOTDIR;
	if (!is_dir(d))
		goto out_unlock;
	err = -ENAMETOOLONG;
	if (len > DC_NAME_MAX)
		goto out_unlock;
	e = entry_find(mb, ino, name, len);
	err = -ENOENT;
	if (!e)
		goto out_unlock;
	*attr = e->node->attr;
	err = 0;
out_unlock:
	pthread_mutex_unlock(&mb->lock);
	/* the answer is read: a change made now is one it missed */
	if (atomic_exchange(&mb->gate, false)) {
		sem_post(&mb->gate_read);
		gate_wait(&mb->gate_go);
	}
	return err;
}

static int be_getattr(void *backend, struct dentry *d, struct dc_attr *attr)
{
	struct membackend *mb = backend;
	char name[DC_NAME_MAX + 1];
	struct mb_node *n;
	uint64_t ino;
	size_t len;
	int err;

	ino = op_prepare(mb, DC_BE_GETATTR, d, name, &len);
	pthread_mutex_lock(&mb->lock);
	err = injected(mb, DC_BE_GETATTR, len ? name : NULL, len);
	if (!err) {
		n = op_node(mb, ino, &err);
		if (n)
			*attr = n->attr;
	}
	pthread_mutex_unlock(&mb->lock);
	return err;
}

static ssize_t be_readlink(void *backend, struct dentry *d, char *buf,
			   size_t size)
{
	struct membackend *mb = backend;
	char name[DC_NAME_MAX + 1];
	struct mb_node *n;
	uint64_t ino;
	size_t len;
	ssize_t ret;
	int err;

	ino = op_prepare(mb, DC_BE_READLINK, d, name, &len);
	pthread_mutex_lock(&mb->lock);
	err = injected(mb, DC_BE_READLINK, len ? name : NULL, len);
	n = err ? NULL : op_node(mb, ino, &err);
	ret = n ? copy_link(n, buf, size) : err;
	pthread_mutex_unlock(&mb->lock);
	return ret;
}

static const struct dc_backend_ops mb_backend_ops = {
	.lookup = be_lookup,
	.getattr = be_getattr,
	.readlink = be_readlink,
};

const struct dc_backend_ops *mb_ops(void)
{
	return &mb_backend_ops;
}
