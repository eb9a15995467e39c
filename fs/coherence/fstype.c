/* SPDX-License-Identifier: MIT */
/*
 * fs/coherence/fstype.c - classify a filesystem as local (a watcher of this kernel
 * sees every change) or remote (cannot vouch): see coherence/remote.h.
 *
 * The local list is short on purpose: a type is on it only when changes
 * to it can only be made through this kernel.  Everything else is remote,
 * including types this file has never heard of: wrongly calling a local
 * filesystem remote costs speed (1 s timeouts), wrongly calling a remote
 * one local costs correctness (changes made elsewhere never show).
 */
#include "coherence/remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

/* Why a filesystem is local (shared by most of the table). */
#define WHY_BLOCK                                                            \
	"a filesystem on a block device of this machine: every change goes " \
	"through this kernel, where fanotify and inotify see it"
#define WHY_RO "a read-only image: nothing changes it while it is mounted"

static const struct local_type {
	unsigned long magic;
	const char *name;
	const char *reason;
} local_types[] = {
	{0xEF53, "ext2/ext3/ext4", WHY_BLOCK},
	{0x58465342, "xfs", WHY_BLOCK},
	{0x9123683E, "btrfs",
	 WHY_BLOCK " (its subvolumes show as devices of their own)"},
	{0xF2F52010, "f2fs", WHY_BLOCK},
	{0xCA451A4E, "bcachefs", WHY_BLOCK},
	{0x3153464A, "jfs", WHY_BLOCK},
	{0x52654973, "reiserfs", WHY_BLOCK},
	{0x3434, "nilfs2", WHY_BLOCK},
	{0x4D44, "vfat/msdos", WHY_BLOCK},
	{0x2011BAB0, "exfat", WHY_BLOCK},
	{0x5346544E, "ntfs", WHY_BLOCK},
	{0x7366746E, "ntfs3", WHY_BLOCK},
	{0x482B, "hfsplus", WHY_BLOCK},
	{0x4244, "hfs", WHY_BLOCK},
	{0x15013346, "udf", WHY_BLOCK},
	{0x00011954, "ufs", WHY_BLOCK},
	{0x137F, "minix", WHY_BLOCK},
	{0x138F, "minix", WHY_BLOCK},
	{0x2468, "minix", WHY_BLOCK},
	{0x2478, "minix", WHY_BLOCK},
	{0x4D5A, "minix", WHY_BLOCK},
	{0x2FC12FC1, "zfs",
	 "a pool imported by this machine alone: every change goes through "
	 "this kernel"},
	{0x01021994, "tmpfs",
	 "memory of this kernel: nothing else can change it"},
	{0x858458F6, "ramfs",
	 "memory of this kernel: nothing else can change it"},
	{0x794C7630, "overlay",
	 "its layers are directories of this machine, changed through this "
	 "kernel (changing a lower layer under a mounted overlay is "
	 "undefined for overlayfs itself)"},
	{0x9660, "iso9660", WHY_RO},
	{0x73717368, "squashfs", WHY_RO},
	{0xE0F5E1E2, "erofs", WHY_RO},
	{0x28CD3D45, "cramfs", WHY_RO},
	{0x7275, "romfs", WHY_RO},
};

#define FUSE_MAGIC 0x65735546UL

/* Remote types by magic, with the reason a watcher here is blind. */
#define WHY_NET                                                              \
	"a network filesystem: other clients change it without this kernel " \
	"seeing it"
#define WHY_CLUSTER                                                        \
	"a cluster filesystem: other nodes change it without this kernel " \
	"seeing it"
static const struct remote_type {
	unsigned long magic;
	const char *name;
	const char *reason;
} remote_types[] = {
	{0x6969, "NFS", WHY_NET},
	{0xFF534D42, "SMB/CIFS", WHY_NET},
	{0xFE534D42, "SMB/CIFS", WHY_NET},
	{0x517B, "SMB", WHY_NET},
	{0x00C36400, "CephFS", WHY_CLUSTER},
	{0x01021997, "9p", WHY_NET " (or its host)"},
	{0x5346414F, "AFS", WHY_NET},
	{0x6B414653, "AFS", WHY_NET},
	{0x0BD00BD0, "Lustre", WHY_CLUSTER},
	{0x01161970, "GFS2", WHY_CLUSTER},
	{0x7461636F, "OCFS2", WHY_CLUSTER},
	{0x20030528, "OrangeFS", WHY_CLUSTER},
	{0x47504653, "GPFS", WHY_CLUSTER},
	{0x19830326, "BeeGFS", WHY_CLUSTER},
	{0x73757245, "Coda", WHY_NET},
	{0x564C, "NCP", WHY_NET},
	{0xF15F, "eCryptfs",
	 "stacked on a directory that may change beneath it"},
};

/* FUSE filesystems by mountinfo type (all remote: a FUSE daemon answers
 * what it likes, and most of them front something remote). */
static const struct fuse_type {
	const char *mnt_type;
	const char *name;
	const char *reason;
} fuse_types[] = {
	{"fuse.glusterfs", "GlusterFS", WHY_CLUSTER},
	{"fuse.ceph-fuse", "CephFS", WHY_CLUSTER},
	{"fuse.ceph", "CephFS", WHY_CLUSTER},
	{"fuse.sshfs", "sshfs", WHY_NET},
	{"fuse.s3fs", "s3fs", "an object store others change"},
	{"fuse.rclone", "rclone", "a remote store others change"},
	{"fuse.bindfs", "bindfs",
	 "a FUSE view of a directory that may change beneath it"},
	{"virtiofs", "virtiofs", "a directory of the host, which changes it"},
};

void rfs_fstype_local_list(void (*fn)(void *ctx, const char *name,
				      const char *reason),
			   void *ctx)
{
	size_t i;

	for (i = 0; i < sizeof(local_types) / sizeof(local_types[0]); i++)
		if (!i || strcmp(local_types[i].name, local_types[i - 1].name))
			fn(ctx, local_types[i].name, local_types[i].reason);
}

/*
 * mountinfo's type of the mount whose device is @dev ("maj:min" is the
 * third field; the type follows the " - " separator).  "" when none
 * matches (btrfs subvolumes: st_dev is not the superblock's).
 */
static void mount_type_of(dev_t dev, char *out, size_t size)
{
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	char want[32], *line = NULL, *sep;
	size_t cap = 0;
	char mm[32], type[64];

	out[0] = '\0';
	if (!mi)
		return;
	snprintf(want, sizeof(want), "%u:%u", major(dev), minor(dev));
	while (getline(&line, &cap, mi) > 0) {
		if (sscanf(line, "%*d %*d %31s", mm) != 1 || strcmp(mm, want))
			continue;
		sep = strstr(line, " - ");
		if (sep && sscanf(sep + 3, "%63s", type) == 1) {
			snprintf(out, size, "%s", type);
			break;
		}
	}
	free(line);
	fclose(mi);
}

int rfs_fstype_of_fd(int fd, struct rfs_fstype *out)
{
	struct statfs sfs;
	struct stat st;
	size_t i;

	if (fstatfs(fd, &sfs) < 0 || fstat(fd, &st) < 0)
		return -errno;
	memset(out, 0, sizeof(*out));
	out->magic = (unsigned long)(unsigned int)sfs.f_type;
	mount_type_of(st.st_dev, out->mnt_type, sizeof(out->mnt_type));
	for (i = 0; i < sizeof(local_types) / sizeof(local_types[0]); i++)
		if (local_types[i].magic == out->magic) {
			snprintf(out->name, sizeof(out->name), "%s",
				 out->mnt_type[0] ? out->mnt_type
						  : local_types[i].name);
			out->reason = local_types[i].reason;
			return 0;
		}
	out->remote = true;
	if (out->magic == FUSE_MAGIC) {
		for (i = 0; i < sizeof(fuse_types) / sizeof(fuse_types[0]); i++)
			if (!strcmp(fuse_types[i].mnt_type, out->mnt_type)) {
				snprintf(out->name, sizeof(out->name), "%s",
					 fuse_types[i].name);
				out->reason = fuse_types[i].reason;
				return 0;
			}
		snprintf(out->name, sizeof(out->name), "FUSE");
		out->reason = "a FUSE filesystem: its daemon may show changes "
			      "made anywhere, without this kernel seeing them";
		return 0;
	}
	for (i = 0; i < sizeof(remote_types) / sizeof(remote_types[0]); i++)
		if (remote_types[i].magic == out->magic) {
			snprintf(out->name, sizeof(out->name), "%s",
				 remote_types[i].name);
			out->reason = remote_types[i].reason;
			return 0;
		}
	snprintf(out->name, sizeof(out->name), "unknown (0x%lx)", out->magic);
	out->reason = "a type rcufs does not know: it cannot vouch that this "
		      "kernel sees every change";
	return 0;
}
