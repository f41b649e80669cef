/* SPDX-License-Identifier: GPL-3.0-or-later */
/* One file system entry as a snapshot records it (docs/FORMAT.md, "tree").
 *
 * A CnNode owns every pointer in it; cn_node_done() frees them all. Names,
 * link targets, user and group names are byte strings, not C strings: they
 * may hold any byte but '/' and NUL (names) or NUL (targets), need not be
 * UTF-8, and are NUL-terminated in memory only for convenience. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

typedef enum CnNodeType {
        CN_NODE_FILE = 1,
        CN_NODE_DIR = 2,
        CN_NODE_SYMLINK = 3,
        CN_NODE_FIFO = 4,
        CN_NODE_CHR = 5,
        CN_NODE_BLK = 6,
        CN_NODE_SOCK = 7,
        _CN_NODE_TYPE_MAX,
} CnNodeType;

typedef struct CnXattr {
        char *name;                     /* "user.foo", "system.posix_acl_access", ... */
        uint8_t *value;
        size_t value_len;
} CnXattr;

typedef struct CnExtent {
        uint64_t offset;
        uint64_t length;
} CnExtent;

typedef struct CnTime {
        int64_t sec;                    /* any year, negative before 1970 */
        uint32_t nsec;                  /* < 1e9 */
} CnTime;

typedef struct CnNode {
        char *name;
        size_t name_len;
        CnNodeType type;
        uint32_t mode;                  /* permission bits incl. setuid/setgid/sticky: mode & 07777 */
        uint32_t uid, gid;
        char *user, *group;             /* NULL when the id has no name here */
        CnTime mtime, atime, ctime;
        uint64_t size;                  /* file: length in bytes */
        uint64_t inode, dev, nlink;     /* as read, for the files cache and hard links */
        uint64_t rdev;                  /* CHR, BLK */
        char *target;                   /* SYMLINK */
        size_t target_len;
        CnXattr *xattrs;                /* every readable namespace; ACLs as system.posix_acl_* */
        size_t n_xattrs;
        /* FILE: when sparse, the data extents in offset order; holes are the
         * rest of [0, size). The content chunks hold the data extents
         * concatenated. Not sparse: one implicit extent [0, size). */
        bool sparse;
        CnExtent *extents;
        size_t n_extents;
        uint8_t (*chunks)[CN_ID_BYTES]; /* FILE content */
        size_t n_chunks;
        uint8_t subtree[CN_ID_BYTES];   /* DIR: id of its tree */
        uint64_t link_group;            /* FILE with nlink > 1: same non-zero value for every name of one inode */
        uint32_t fsflags;               /* FILE, DIR: inode flags (FS_IOC_GETFLAGS) & CN_FSFLAGS_KEEP */
        bool fsflags_known;             /* false: decoded from a v1 tree, which did not record them */
        /* Data subjects the entry belongs to (docs/FORMAT.md "Trees", v3):
         * at most CN_MAX_SUBJECTS, each a valid subject (cn_subject_valid),
         * NUL-terminated, strictly increasing by cn_name_cmp. */
        char **subjects;
        size_t n_subjects;
} CnNode;

/* Plain lexicographic order of unsigned bytes, a prefix before any longer
 * name: the order of names in a tree, and of an entry's subjects. */
int cn_name_cmp(const char *a, size_t a_len, const char *b, size_t b_len);

void cn_node_done(CnNode *n);
/* Deep copy; dst must be zeroed or done. */
int cn_node_copy(CnNode *dst, const CnNode *src);

/* A data subject: 1 to CN_MAX_SUBJECT_BYTES bytes, no NUL and no '/'. */
bool cn_subject_valid(const char *s, size_t len);
/* Whether n is tagged with subject s (len bytes). */
bool cn_node_has_subject(const CnNode *n, const char *s, size_t len);
/* The subjects of n as an encoder and decoder require them: each valid,
 * strictly increasing, at most CN_MAX_SUBJECTS. */
bool cn_node_subjects_valid(const CnNode *n);
/* Insert subject s (len bytes, valid) into n's sorted set: 1 added, 0 it
 * was there, -E2BIG n has CN_MAX_SUBJECTS already, -ENOMEM. */
int cn_node_add_subject(CnNode *n, const char *s, size_t len);
/* Remove every subject of n. */
void cn_node_clear_subjects(CnNode *n);
