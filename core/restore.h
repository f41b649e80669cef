/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Reading snapshots back: restore into a directory, dump one file, walk trees. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "backup.h"
#include "fs-meta.h"
#include "pattern.h"
#include "snapshot.h"
#include "store.h"

typedef struct CnRestoreOptions {
        int target_fd;                  /* the directory to restore into (borrowed) */
        const char *subpath;            /* path in the snapshot whose contents go to target; NULL: "/" */
        const CnPatterns *includes;     /* NULL: everything */
        unsigned meta_flags;            /* CN_FSMETA_* */
        CnSourceErrorFn on_error;       /* an entry that could not be restored */
        void *userdata;
} CnRestoreOptions;

typedef struct CnRestoreStats {
        uint64_t files, dirs, others, bytes;
        uint64_t errors;
} CnRestoreStats;

/* Every entry is attempted: one that fails is reported through on_error
 * and counted, and the rest still restore. An entry is made new and put in
 * place over whatever stands at its name (never written through it), and a
 * file only once it is complete. Returns -ENOENT or -ENOTDIR when subpath is
 * not in the snapshot, and < 0 for failures that stop everything (the
 * repository gone, -ESTALE: a directory of the target was moved or replaced
 * while restoring, reported through on_error first). */
int cn_restore_run(CnStore *store, const CnSnapshot *snap, const CnRestoreOptions *o, CnRestoreStats *ret);

/* The entry at absolute path in the snapshot ("/" is the root, a DIR with
 * subtree = snap->tree). -ENOENT if absent, -ENOTDIR through a non-directory. */
int cn_snapshot_find_node(CnStore *store, const CnSnapshot *snap, const char *path, CnNode *ret);

/* The content of FILE node n through rd, chunk by chunk (chunk holds one
 * at a time): fn gets each run of data bytes with its offset in the file,
 * in increasing order; the rest of [0, n->size) is holes (a file that is
 * not sparse has one extent, [0, size)). An entry whose chunks hold fewer
 * bytes than its extents (what a backup of a file truncated while it was
 * read recorded before cairn 0.2) leaves the missing bytes as holes, one
 * holding more has them dropped: both return -EUCLEAN after everything
 * else went to fn. Errors of cn_store_read() and of fn (its first negative
 * return stops it). What restore, dump and export read files with. */
typedef int (*CnContentFn)(const uint8_t *p, size_t n, uint64_t offset, void *userdata);
int cn_file_content(CnStoreReader *rd, const CnNode *n, CnBuf *chunk, CnContentFn fn, void *userdata);

/* Write the content of a FILE node to fd, holes as zeros. */
int cn_dump_file(CnStore *store, const CnNode *n, int fd);

/* Visit every entry below tree id, depth first, parents before children.
 * path is the entry's absolute path in the snapshot. A negative return of
 * fn stops the walk; a positive one skips a directory's children. */
typedef int (*CnWalkFn)(const char *path, const CnNode *n, void *userdata);
int cn_walk(CnStore *store, const uint8_t tree[CN_ID_BYTES], const char *prefix, CnWalkFn fn, void *userdata);
