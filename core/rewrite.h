/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A snapshot's tree rewritten without some of its entries (erasure).
 *
 * cn_tree_rewrite() walks the tree whose root is root, asks drop about every
 * entry with its full path in the snapshot ("/etc/passwd"; the root itself
 * is not an entry), and builds the tree in which every dropped entry (a
 * dropped directory with everything below it) is gone. Each directory that
 * lost an entry, or one of whose subdirectories changed, is written anew
 * through the store (cn_store_put, cut into leaves as backup cuts them,
 * v2 or v3 as its entries need); every other directory keeps its id and
 * costs no write. Directories above a dropped entry stay, with their other
 * entries, even when they end up empty. Nothing is deleted: erasure destroys
 * what the callbacks name.
 *
 * Memory is that of a walk: the entries of each directory on the path from
 * the root to the one at hand (cn_dir_load()), never the whole snapshot. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "node.h"
#include "store.h"

/* Whether the entry at path (path_len bytes, NUL-terminated) goes. */
typedef bool (*CnRewriteDropFn)(const char *path, size_t path_len, const CnNode *node, void *userdata);

typedef struct CnRewriteOps {
        CnRewriteDropFn drop;           /* required */
        /* Each callback may be NULL. For each entry drop chose, in walk order:
         * dropped once, then chunk for each of its chunks and of every file
         * below it, and tree for every tree blob below it (its subtree, a
         * list's leaves, the trees of the directories below), before the
         * next entry is looked at. A chunk or tree may come again (a file
         * stored twice, a subtree shared by two directories). */
        int (*dropped)(const char *path, size_t path_len, const CnNode *node, void *userdata);
        int (*chunk)(const uint8_t id[CN_ID_BYTES], void *userdata);
        int (*tree)(const uint8_t id[CN_ID_BYTES], void *userdata);
        /* Each blob of the old tree that a rewritten directory was read from
         * (its plain tree, or its list and leaves) and that the new one does
         * not name: old copies that hold the dropped entries' names and
         * metadata. Other snapshots may still name them. */
        int (*replaced)(const uint8_t id[CN_ID_BYTES], void *userdata);
} CnRewriteOps;

typedef struct CnRewriteStats {
        uint64_t entries;               /* entries gone: those drop chose and all below them */
        uint64_t bytes;                 /* the sizes of the files among them */
        uint64_t dirs_rewritten;        /* directories written anew, the root included */
        bool changed;                   /* the new root differs from the old one */
} CnRewriteStats;

/* store must be opened with CN_STORE_KEYS | CN_STORE_WRITE; the caller
 * flushes it (cn_store_flush) before naming ret_root anywhere. ret_root is
 * root when nothing was dropped. The first negative return of a callback,
 * or an error of reading (-ENOENT, -EBADMSG, ... with failed, if not NULL,
 * naming the blob), or of writing, ends the rewrite. */
int cn_tree_rewrite(CnStore *store, const uint8_t root[CN_ID_BYTES], const CnRewriteOps *ops, void *userdata,
                    uint8_t ret_root[CN_ID_BYTES], CnRewriteStats *ret_stats, uint8_t failed[CN_ID_BYTES]);
