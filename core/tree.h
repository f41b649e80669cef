/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Tree blobs: one directory's entries (docs/FORMAT.md "Trees").
 *
 *   tree  = magic "CAIRNTRE" version:u32 count:u32 { length:u32 entry }*
 *   list  = magic "CAIRNTRL" version:u32 count:u32 id[32]*
 *
 * A directory is stored as one plain tree or, when large, as several plain
 * trees ("leaves", names increasing across them) named in order by one tree
 * list. Entries are sorted by name bytes, each name once. Writers write a
 * plain tree (a leaf too) as v3 when an entry of it has data subjects, else
 * as v2; readers accept v1, v2 and v3. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "node.h"
#include "store.h"

/* The fewest bytes an entry of a plain tree takes (v1: a one-byte name,
 * no user, group, target, xattrs, extents or chunks; v2 adds 4, v3 4 more),
 * without its length:u32: a count of entries is checked against the bytes
 * behind it before anything is allocated for them. */
#define CN_TREE_MIN_NODE_BYTES 127u
/* One plain tree of nodes, which must be sorted by name (cn_nodes_sort)
 * with no duplicates: v3 if a node has subjects, else v2. -E2BIG over the
 * caps of one tree blob; -EINVAL for subjects a reader would refuse. */
int cn_tree_encode(const CnNode *nodes, size_t n, CnBuf *out);
/* One plain tree, v1, v2 or v3. -EBADMSG for anything malformed, out of
 * order or over a cap (a tree list included); -EPROTONOSUPPORT for an
 * unknown version. Free with cn_nodes_free(). */
int cn_tree_decode(const uint8_t *p, size_t n, CnNode **ret, size_t *ret_n);
/* Whether the blob is a tree list (by its magic). */
bool cn_tree_is_list(const uint8_t *p, size_t n);
int cn_tree_list_encode(const uint8_t (*ids)[CN_ID_BYTES], size_t n, CnBuf *out);
/* -EBADMSG when malformed, fewer than 2 or more than CN_MAX_TREE_LEAVES ids;
 * -EPROTONOSUPPORT for an unknown version. Caller frees *ret. */
int cn_tree_list_decode(const uint8_t *p, size_t n, uint8_t (**ret)[CN_ID_BYTES], size_t *ret_n);

void cn_nodes_free(CnNode *nodes, size_t n);
void cn_nodes_sort(CnNode *nodes, size_t n);

/* Stores one blob (a leaf or a list) and gives its id. */
typedef int (*CnTreePutFn)(const uint8_t *data, size_t n, uint8_t ret_id[CN_ID_BYTES], void *userdata);
/* The keyed cut test of docs/FORMAT.md "Large directories": true when the
 * low CN_TREE_CUT_BITS bits of the entry name's cut hash are zero. */
typedef bool (*CnTreeCutFn)(const char *name, size_t len, void *userdata);
/* Reads one blob by id into out (replaced). */
typedef int (*CnTreeGetFn)(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *userdata);

/* Streaming writer of one directory at a time: entries are encoded as they
 * come, and each leaf is stored as soon as it is cut, so no more than one
 * leaf is ever held. */
typedef struct CnTreeWriter CnTreeWriter;
int cn_tree_writer_new(CnTreePutFn put, CnTreeCutFn cut, void *userdata, CnTreeWriter **ret);
CnTreeWriter *cn_tree_writer_free(CnTreeWriter *w);
static inline void cn_tree_writer_freep(CnTreeWriter **w) {
        cn_tree_writer_free(*w);
}
/* Add the next entry; its name must sort after the previous one, and its
 * subjects be valid (else -EINVAL). An entry with subjects makes the leaf
 * it goes into v3. -EFBIG: this entry alone is over the cap of a tree blob, and
 * -E2BIG: the directory holds all the entries it can (CN_MAX_DIR_ENTRIES);
 * either way nothing was added and the writer can go on. Errors of put are
 * returned as they are. */
int cn_tree_writer_add(CnTreeWriter *w, const CnNode *n);
/* Store what is left: the directory's id is its one plain tree, or the tree
 * list of its leaves. The writer is then empty, ready for another directory. */
int cn_tree_writer_finish(CnTreeWriter *w, uint8_t ret_id[CN_ID_BYTES]);

/* Reads a directory whatever its shape, a leaf at a time, checking every
 * cap before allocating, the order of names across leaves, and that a list
 * names only v2 or v3 plain trees of at least one entry. */
typedef struct CnDirReader CnDirReader;
/* Fetches the directory's blob into scratch (and decodes it, when plain);
 * on failure that blob (id) is the one that failed. */
int cn_dir_reader_open(CnTreeGetFn get, void *userdata, const uint8_t id[CN_ID_BYTES], CnBuf *scratch,
                       CnDirReader **ret);
/* The next leaf's entries, sorted, owned by the caller (cn_nodes_free):
 * 1 with a leaf, 0 at the end. */
int cn_dir_reader_next(CnDirReader *d, CnBuf *scratch, CnNode **ret, size_t *ret_n);
/* The id of the leaf whose get or decoding failed last in next(). */
const uint8_t *cn_dir_reader_failed(const CnDirReader *d);
CnDirReader *cn_dir_reader_free(CnDirReader *d);
static inline void cn_dir_reader_freep(CnDirReader **d) {
        cn_dir_reader_free(*d);
}

/* Every entry of the directory whose tree (plain or list) is id, at most
 * CN_MAX_DIR_ENTRIES; scratch holds blobs meanwhile. The errors of
 * cn_store_get() and cn_tree_decode(). On failure, bad_id (may be NULL)
 * gets the id of the blob that failed. Free with cn_nodes_free(). */
int cn_dir_load(CnStore *store, const uint8_t id[CN_ID_BYTES], CnBuf *scratch, CnNode **ret, size_t *ret_n,
                uint8_t bad_id[CN_ID_BYTES]);
/* cn_dir_load() reading blobs through get: every blob of the directory
 * (its list and leaves, or its one plain tree) is asked of get once. */
int cn_dir_load_with(CnTreeGetFn get, void *userdata, const uint8_t id[CN_ID_BYTES], CnBuf *scratch,
                     CnNode **ret, size_t *ret_n, uint8_t bad_id[CN_ID_BYTES]);
/* cn_store_get() as a CnTreeGetFn (userdata is the store). */
int cn_tree_get_from_store(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *store);
/* cn_store_put() of a tree blob under its keyed id, as a CnTreePutFn
 * (userdata is a store opened to write). */
int cn_tree_put_to_store(const uint8_t *data, size_t n, uint8_t ret_id[CN_ID_BYTES], void *store);
/* The cut test of docs/FORMAT.md "Large directories" keyed by the store's
 * controller, as a CnTreeCutFn (userdata is the store): with
 * cn_tree_put_to_store, what every writer of a repository's trees uses. */
bool cn_tree_cut_by_store(const char *name, size_t len, void *store);

/* Every blob a tree reaches, for prune (what to keep) and copy (what to
 * send). get reads a tree blob (the caller notes it: every blob get is
 * asked for is reached, a list's leaves included); chunk is called with
 * each chunk of every file; enter is asked, before a directory's tree is
 * read, whether to walk it (1) or not (0: walked already, so a subtree
 * many snapshots share is walked once). Without recursion, any depth. The
 * first negative return of a callback, or of reading (-ENOENT, -EBADMSG,
 * ...), ends the walk; then failed (may be NULL) holds the blob that
 * could not be read. */
typedef struct CnReachOps {
        CnTreeGetFn get;
        int (*chunk)(const uint8_t id[CN_ID_BYTES], void *userdata);
        int (*enter)(const uint8_t id[CN_ID_BYTES], void *userdata);
        /* May be NULL: each entry of every directory walked, before its chunks. */
        int (*entry)(const CnNode *n, void *userdata);
} CnReachOps;
int cn_tree_reach(const uint8_t root[CN_ID_BYTES], const CnReachOps *ops, void *userdata, CnBuf *scratch,
                  uint8_t failed[CN_ID_BYTES]);

/* The open directories of a walk without recursion: each level holds a
 * directory's entries (taken at push, freed at pop), the entry at hand, the
 * path length before that entry's name, and a mark for the walker. */
typedef struct CnDirLevel {
        uint8_t id[CN_ID_BYTES];
        CnNode *nodes;
        size_t n, i, mark;
        bool dirty;                     /* the walker's: something below was wrong */
} CnDirLevel;
typedef struct CnDirStack {
        CnDirLevel *v;
        size_t depth, cap;
} CnDirStack;
/* The path of a walk's entry at hand, NUL-terminated (the NUL outside
 * len): push appends "/" and name, *ret_mark the length to pop back to. */
int cn_path_push(CnBuf *path, const char *name, size_t len, size_t *ret_mark);
void cn_path_pop(CnBuf *path, size_t mark);
/* On failure (-ENOMEM) nodes are freed. */
int cn_dir_stack_push(CnDirStack *s, const uint8_t id[CN_ID_BYTES], CnNode *nodes, size_t n);
static inline CnDirLevel *cn_dir_stack_top(CnDirStack *s) {
        return s->depth ? &s->v[s->depth - 1] : NULL;
}
void cn_dir_stack_pop(CnDirStack *s);
void cn_dir_stack_done(CnDirStack *s);
