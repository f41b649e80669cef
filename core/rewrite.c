/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Depth first without recursion, one level a directory (CnDirStack): a
 * level holds the directory's entries and the blobs it was read from. An
 * entry drop chooses is walked (cn_tree_reach) for the callbacks and the
 * counts, then cleared (its name NULL) and its level marked dirty. When a
 * level is done, a dirty directory is written again from the entries left
 * (one tree writer serves every level: only the directory being finished
 * writes), and its new id goes into its entry in the level above, which
 * becomes dirty if the id changed; a clean one keeps its id. So only the
 * directories on the paths from the root to the dropped entries are
 * written, and a rewrite that drops nothing writes nothing. */
#include "rewrite.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "macro.h"
#include "tree.h"

/* The path of the entry at hand: grows as needed, as restore's walks. */
#define MAX_PATH_BYTES (1u << 30)
/* Trees are content-addressed, so they cannot loop; this only bounds the
 * memory the walk holds (one directory a level), as restore does. */
#define MAX_DEPTH (1u << 20)

typedef struct IdList {
        uint8_t (*v)[CN_ID_BYTES];
        size_t n, cap;
} IdList;

static int ids_add(IdList *l, const uint8_t id[CN_ID_BYTES]) {
        if (CN_GROW(l->v, l->cap, l->n) < 0)
                return -ENOMEM;
        memcpy(l->v[l->n++], id, CN_ID_BYTES);
        return 0;
}

static void ids_done(IdList *l) {
        free(l->v);
        *l = (IdList) {};
}

static int id_cmp(const void *a, const void *b) {
        return memcmp(a, b, CN_ID_BYTES);
}

typedef struct Rewrite {
        CnStore *store;
        const CnRewriteOps *ops;
        void *u;
        CnBuf path;                     /* of the entry at hand, NUL-terminated */
        CnBuf blob;                     /* scratch of tree blobs */
        CnDirStack st;
        IdList *old;                    /* old[k]: the blobs level k was read from */
        size_t cap_old;
        IdList fetched;                 /* blobs read for the directory being loaded */
        IdList written;                 /* blobs put for the directory being written */
        CnTreeWriter *w;
        CnRewriteStats stats;
        uint8_t *failed;
} Rewrite;

static int get_noting(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *u) {
        Rewrite *rw = u;
        int r = ids_add(&rw->fetched, id);
        return r < 0 ? r : cn_store_get(rw->store, id, out);
}

static int put_noting(const uint8_t *data, size_t n, uint8_t ret_id[CN_ID_BYTES], void *u) {
        Rewrite *rw = u;
        int r = cn_tree_put_to_store(data, n, ret_id, rw->store);
        return r < 0 ? r : ids_add(&rw->written, ret_id);
}

static bool cut(const char *name, size_t len, void *u) {
        Rewrite *rw = u;
        return cn_tree_cut_by_store(name, len, rw->store);
}

/* Load the directory id and push it as a level, with its blobs. */
static int push(Rewrite *rw, const uint8_t id[CN_ID_BYTES]) {
        CnNode *nodes;
        size_t n;
        int r;

        if (rw->st.depth >= MAX_DEPTH)
                return -ELOOP;
        /* A long walk of a tree that loses nothing puts nothing for a while. */
        if ((r = cn_store_session_refresh(rw->store)) < 0)
                return r;
        rw->fetched.n = 0;
        r = cn_dir_load_with(get_noting, rw, id, &rw->blob, &nodes, &n, rw->failed);
        if (r < 0)
                return r;
        if (CN_GROW(rw->old, rw->cap_old, rw->st.depth) < 0) {
                cn_nodes_free(nodes, n);
                return -ENOMEM;
        }
        r = cn_dir_stack_push(&rw->st, id, nodes, n);
        if (r < 0)
                return r;
        rw->old[rw->st.depth - 1] = rw->fetched;
        rw->fetched = (IdList) {};
        return 0;
}

static void pop(Rewrite *rw) {
        ids_done(&rw->old[rw->st.depth - 1]);
        cn_dir_stack_pop(&rw->st);
}

/* cn_tree_reach() over a dropped directory: every tree blob it reads is
 * one below the dropped entry, every entry one more gone. */
static int reach_get(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *u) {
        Rewrite *rw = u;
        int r = rw->ops->tree ? rw->ops->tree(id, rw->u) : 0;
        return r < 0 ? r : cn_store_get(rw->store, id, out);
}

static int reach_chunk(const uint8_t id[CN_ID_BYTES], void *u) {
        Rewrite *rw = u;
        return rw->ops->chunk ? rw->ops->chunk(id, rw->u) : 0;
}

static int reach_enter(const uint8_t id[CN_ID_BYTES], void *u) {
        return 1;       /* every occurrence: the counts are of entries, shared or not */
}

static int reach_entry(const CnNode *n, void *u) {
        Rewrite *rw = u;
        rw->stats.entries++;
        if (n->type == CN_NODE_FILE)
                rw->stats.bytes += n->size;
        return 0;
}

/* The entry e at rw->path goes: the callbacks and the counts. */
static int drop_entry(Rewrite *rw, const CnNode *e) {
        static const CnReachOps reach = {
                .get = reach_get, .chunk = reach_chunk, .enter = reach_enter, .entry = reach_entry
        };
        int r = 0;

        if (rw->ops->dropped && (r = rw->ops->dropped((const char *) rw->path.data, rw->path.len, e, rw->u)) < 0)
                return r;
        reach_entry(e, rw);
        for (size_t i = 0; r >= 0 && e->type == CN_NODE_FILE && i < e->n_chunks; i++)
                r = reach_chunk(e->chunks[i], rw);
        if (r >= 0 && e->type == CN_NODE_DIR)
                r = cn_tree_reach(e->subtree, &reach, rw, &rw->blob, rw->failed);
        return r;
}

/* The directory of the top level is done: its id, written again if dirty;
 * then the old blobs the new directory does not name are reported. */
static int finish_level(Rewrite *rw, CnDirLevel *l, uint8_t ret_id[CN_ID_BYTES]) {
        const IdList *old = &rw->old[rw->st.depth - 1];
        int r = 0;

        if (!l->dirty) {
                memcpy(ret_id, l->id, CN_ID_BYTES);
                return 0;
        }
        rw->written.n = 0;
        for (size_t i = 0; r >= 0 && i < l->n; i++)
                if (l->nodes[i].name)   /* dropped ones are cleared */
                        r = cn_tree_writer_add(rw->w, &l->nodes[i]);
        if (r >= 0)
                r = cn_tree_writer_finish(rw->w, ret_id);
        if (r < 0)
                return r;
        rw->stats.dirs_rewritten++;
        if (!rw->ops->replaced)
                return 0;
        qsort(rw->written.v, rw->written.n, CN_ID_BYTES, id_cmp);
        for (size_t i = 0; r >= 0 && i < old->n; i++)
                if (!bsearch(old->v[i], rw->written.v, rw->written.n, CN_ID_BYTES, id_cmp))
                        r = rw->ops->replaced(old->v[i], rw->u);
        return r;
}

int cn_tree_rewrite(CnStore *store, const uint8_t root[CN_ID_BYTES], const CnRewriteOps *ops, void *userdata,
                    uint8_t ret_root[CN_ID_BYTES], CnRewriteStats *ret_stats, uint8_t failed[CN_ID_BYTES]) {
        Rewrite rw = { .store = store, .ops = ops, .u = userdata, .failed = failed };
        uint8_t new_root[CN_ID_BYTES];
        int r;

        cn_buf_init(&rw.path, MAX_PATH_BYTES);
        cn_buf_init(&rw.blob, CN_MAX_TREE_BYTES);
        r = cn_tree_writer_new(put_noting, cut, &rw, &rw.w);
        if (r >= 0 && (r = cn_buf_put_u8(&rw.path, 0)) >= 0)
                rw.path.len = 0;        /* "", NUL-terminated: the root's entries are "/name" */
        if (r >= 0)
                r = push(&rw, root);
        while (r >= 0) {
                CnDirLevel *l = cn_dir_stack_top(&rw.st);
                if (l->i == l->n) {
                        uint8_t id[CN_ID_BYTES];
                        r = finish_level(&rw, l, id);
                        if (r < 0)
                                break;
                        pop(&rw);
                        CnDirLevel *up = cn_dir_stack_top(&rw.st);
                        if (!up) {
                                memcpy(new_root, id, CN_ID_BYTES);
                                break;
                        }
                        CnNode *e = &up->nodes[up->i];
                        if (memcmp(e->subtree, id, CN_ID_BYTES) != 0) {
                                memcpy(e->subtree, id, CN_ID_BYTES);
                                up->dirty = true;
                        }
                        cn_path_pop(&rw.path, up->mark);
                        up->i++;
                        continue;
                }
                CnNode *e = &l->nodes[l->i];
                r = cn_path_push(&rw.path, e->name, e->name_len, &l->mark);
                if (r < 0)
                        break;
                if (ops->drop((const char *) rw.path.data, rw.path.len, e, userdata)) {
                        r = drop_entry(&rw, e);
                        cn_node_done(e);
                        l->dirty = true;
                } else if (e->type == CN_NODE_DIR) {
                        r = push(&rw, e->subtree);      /* the path stays pushed until it is done */
                        continue;
                }
                cn_path_pop(&rw.path, l->mark);
                l->i++;
        }
        for (size_t i = 0; i < rw.st.depth; i++)
                ids_done(&rw.old[i]);
        free(rw.old);
        cn_dir_stack_done(&rw.st);
        ids_done(&rw.fetched);
        ids_done(&rw.written);
        cn_tree_writer_free(rw.w);
        cn_buf_done(&rw.path);
        cn_buf_done(&rw.blob);
        if (r < 0)
                return r;
        rw.stats.changed = memcmp(new_root, root, CN_ID_BYTES) != 0;
        memcpy(ret_root, new_root, CN_ID_BYTES);
        *ret_stats = rw.stats;
        return 0;
}
