/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading and re-applying every piece of file metadata cairn keeps.
 *
 * All paths are one name relative to a directory fd, so trees deeper than
 * PATH_MAX work. Nothing here reads file content or allocates per byte. */
#pragma once

#include <stdbool.h>
#include <sys/stat.h>

#include "node.h"

enum {
        CN_FSMETA_NUMERIC_OWNER = 1u << 0,      /* apply: use uid/gid, ignore user/group names */
        CN_FSMETA_NO_OWNER = 1u << 1,           /* apply: do not chown (not root) */
        /* apply: the entry was just made by this process, with its euid and
         * egid as owner, no ACL inherited and mode 0600 (files) or 0700
         * (directories): what already holds is not set again. */
        CN_FSMETA_FRESH = 1u << 2,
        /* apply: leave immutable and append-only for a later
         * cn_fsmeta_apply_fsflags(): the inode still takes more names. */
        CN_FSMETA_DEFER_PRIVILEGED = 1u << 3,
};

/* Fill node from st (an lstat of name in dirfd) plus what st lacks: user and
 * group names, link target, xattrs (every namespace readable, POSIX ACLs as
 * their raw system.posix_acl_* values), device number, and for regular files
 * with holes the data extents (SEEK_DATA/SEEK_HOLE on fd, which is name
 * opened read-only; fd < 0 for non-files), and the inode flags of files and
 * directories (through fd; a directory without one is opened for it; 0 for
 * other types, and for files without fd). Leaves content, subtree and
 * link_group alone. node must be zeroed; on failure it is left for
 * cn_node_done(). An xattr that vanishes while read is skipped; -EACCES on
 * one namespace skips that name. */
int cn_fsmeta_read(int dirfd, const char *name, int fd, const struct stat *st, CnNode *node);

/* The inode flags of the open file or directory fd (FS_IOC_GETFLAGS),
 * masked to CN_FSFLAGS_KEEP; 0 where the file system has none. */
int cn_fsmeta_read_fsflags(int fd, uint32_t *ret);

/* The node type of a stat mode; -EOPNOTSUPP for none. */
int cn_fsmeta_type_of(mode_t m, CnNodeType *ret);

/* Create a non-regular, non-directory entry (symlink, fifo, device, socket)
 * named node->name in dirfd. -EEXIST if something is there. */
int cn_fsmeta_create_special(int dirfd, const CnNode *node);

/* Apply ownership, mode, xattrs, ACLs, times and inode flags to an entry,
 * in the order that keeps them (chown before chmod so setuid survives, times
 * after content and xattrs, inode flags very last so an immutable or
 * append-only entry is complete first; immutable and append-only only
 * without CN_FSMETA_NO_OWNER, i.e. as root). An atime of exactly 0.0 means
 * "not recorded" and is left alone. With fd >= 0 (the entry opened: files
 * and dirs in any mode, symlinks and special files with O_PATH | O_NOFOLLOW)
 * everything goes through fd and name is not used; with fd -1, through name
 * in dirfd without following it. Returns the first
 * error after trying everything; -EPERM from chown when not root is not an
 * error with CN_FSMETA_NO_OWNER. */
int cn_fsmeta_apply(int dirfd, const char *name, int fd, const CnNode *node, unsigned flags);
/* Only the inode flags of node (a file or directory) on fd, as the last
 * step of cn_fsmeta_apply() sets them. */
int cn_fsmeta_apply_fsflags(int fd, const CnNode *node, unsigned flags);
