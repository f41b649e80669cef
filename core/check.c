/* SPDX-License-Identifier: GPL-3.0-or-later */
/* check, in three steps per controller:
 *   1. load index and ledger tolerantly, compare with the packs listed;
 *   2. with read_data, read every pack and open every blob: the bad set;
 *   3. walk every snapshot's trees and name each file and directory that a
 *      missing or bad blob costs. Trees found clean are remembered, so the
 *      unchanged parts shared by many snapshots are walked once. */
#include "check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "hex.h"
#include "index.h"
#include "macro.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"

#define MAX_DEPTH 4096

typedef struct IdSet {
        CnIndex *x;                     /* reused as a set: location = bad/clean mark */
} IdSet;

typedef struct PackFile {
        uint8_t id[CN_ID_BYTES];
        uint64_t size;
        char *name;
} PackFile;

typedef struct Check {
        CnRepo *repo;
        CnController *c;
        CnStore *store;
        CnCheckFn fn;
        void *u;
        CnCheckStats *stats;
        CnIndex *bad;                   /* ids of blobs that are missing or damaged */
        CnIndex *clean;                 /* tree ids whose whole subtree is fine */
        PackFile *packs;
        size_t n_packs;
        CnBuf path;
        CnBuf blob;
        const char *snapshot;
} Check;

static void report(Check *k, CnCheckKind kind, const char *object, int error) {
        CnCheckProblem p = {
                .kind = kind,
                .controller = k->c->name,
                .object = object,
                .error = error,
        };
        if (kind != CN_CHECK_ORPHAN_PACK)
                k->stats->errors++;
        k->fn(&p, k->u);
}

static void report_id(Check *k, CnCheckKind kind, const uint8_t id[CN_ID_BYTES], int error) {
        char hex[CN_ID_HEX + 1];
        cn_hex_encode(id, CN_ID_BYTES, hex);
        report(k, kind, hex, error);
}

static int mark(CnIndex *set, const uint8_t id[CN_ID_BYTES]) {
        CnBlobLoc loc = {};
        return cn_index_insert(set, id, &loc);
}

static bool marked(CnIndex *set, const uint8_t id[CN_ID_BYTES]) {
        return cn_index_lookup(set, id, NULL);
}

static void on_damaged(const char *name, int error, void *u) {
        report(u, CN_CHECK_DAMAGED_OBJECT, name, error);
}

static int add_pack_file(const char *name, uint64_t size, void *u) {
        Check *k = u;
        const char *slash = strrchr(name, '/');
        uint8_t id[CN_ID_BYTES];
        if (!slash || cn_hex_decode(slash + 1, id, CN_ID_BYTES) < 0)
                return 0;
        PackFile *p = realloc(k->packs, (k->n_packs + 1) * sizeof *p);
        if (!p)
                return -ENOMEM;
        k->packs = p;
        memcpy(p[k->n_packs].id, id, CN_ID_BYTES);
        p[k->n_packs].size = size;
        if (!(p[k->n_packs].name = strdup(name)))
                return -ENOMEM;
        k->n_packs++;
        return 0;
}

static const PackFile *find_pack_file(Check *k, const uint8_t id[CN_ID_BYTES]) {
        for (size_t i = 0; i < k->n_packs; i++)
                if (memcmp(k->packs[i].id, id, CN_ID_BYTES) == 0)
                        return &k->packs[i];
        return NULL;
}

typedef struct BlobScan {
        Check *k;
        uint64_t *pack_end;             /* per pack number: the furthest blob end */
} BlobScan;

static int scan_blob(const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, void *u) {
        BlobScan *b = u;
        Check *k = b->k;
        k->stats->blobs++;
        uint64_t end = (uint64_t) loc->offset + loc->length;
        if (end > b->pack_end[loc->pack])
                b->pack_end[loc->pack] = end;
        if (!cn_index_get_key(cn_store_index(k->store), id)) {
                report_id(k, CN_CHECK_MISSING_KEY, id, -ENOKEY);
                return mark(k->bad, id) < 0 ? -ENOMEM : 0;
        }
        return 0;
}

typedef struct MarkPack {
        Check *k;
        uint32_t pack;
} MarkPack;

static int mark_pack_blob(const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, void *u) {
        MarkPack *m = u;
        if (loc->pack != m->pack)
                return 0;
        return mark(m->k->bad, id) < 0 ? -ENOMEM : 0;
}

static void on_bad_blob(const uint8_t id[CN_ID_BYTES], int error, void *u) {
        Check *k = u;
        report_id(k, CN_CHECK_BAD_BLOB, id, error);
        mark(k->bad, id);
}

static int check_packs(Check *k, bool read_data) {
        CnIndex *x = cn_store_index(k->store);
        uint32_t np = cn_index_n_packs(x);
        _cleanup_free_ uint64_t *end = calloc(np ? np : 1, sizeof *end);
        _cleanup_(cn_buf_donep) CnBuf data = CN_BUF_INIT(CN_MAX_PACK_BYTES);
        int r;

        if (!end)
                return -ENOMEM;
        k->stats->packs += np;
        BlobScan scan = { .k = k, .pack_end = end };
        r = cn_index_foreach(x, scan_blob, &scan);
        if (r < 0)
                return r;
        for (uint32_t i = 0; i < np; i++) {
                const PackFile *pf = find_pack_file(k, cn_index_pack_id(x, i));
                char name[160];
                MarkPack m = { .k = k, .pack = i };
                cn_store_pack_name(k->store, cn_index_pack_id(x, i), name, sizeof name);
                if (!pf || pf->size < end[i]) {
                        report(k, pf ? CN_CHECK_DAMAGED_PACK : CN_CHECK_MISSING_PACK, name, pf ? -EBADMSG : -ENOENT);
                        r = cn_index_foreach(x, mark_pack_blob, &m);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!read_data)
                        continue;
                r = cn_backend_get(cn_repo_backend(k->repo), name, 0, CN_GET_ALL, &data);
                if (r == -ENOMEM || r == -EACCES || r == -EAGAIN)
                        return r;
                k->stats->packs_read++;
                k->stats->bytes_read += data.len;
                if (r >= 0)
                        r = cn_store_verify_pack(k->store, i, data.data, data.len, on_bad_blob, k);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        report(k, CN_CHECK_DAMAGED_PACK, name, r);
                        r = cn_index_foreach(x, mark_pack_blob, &m);
                        if (r < 0)
                                return r;
                }
        }
        /* Packs nobody indexed: an interrupted writer's; the next backup adopts them. */
        for (size_t i = 0; i < k->n_packs; i++) {
                bool known = false;
                for (uint32_t j = 0; j < np && !known; j++)
                        known = memcmp(cn_index_pack_id(x, j), k->packs[i].id, CN_ID_BYTES) == 0 &&
                                cn_index_pack_indexed(x, j);
                if (!known)
                        report(k, CN_CHECK_ORPHAN_PACK, k->packs[i].name, 0);
        }
        return 0;
}

static int path_push(CnBuf *p, const char *name, size_t len, size_t *ret_mark) {
        int r;
        *ret_mark = p->len;
        if ((r = cn_buf_put_u8(p, '/')) < 0 || (r = cn_buf_append(p, name, len)) < 0 || (r = cn_buf_put_u8(p, 0)) < 0)
                return r;
        p->len--;
        return 0;
}

static void affected(Check *k, const char *path) {
        CnCheckProblem p = {
                .kind = CN_CHECK_AFFECTED,
                .controller = k->c->name,
                .snapshot = k->snapshot,
                .path = path[0] ? path : "/",
        };
        k->stats->errors++;
        k->fn(&p, k->u);
}

/* Returns 1 if the subtree is clean, 0 if something in it was reported. */
static int walk_tree(Check *k, const uint8_t tree[CN_ID_BYTES], int depth) {
        CnNode *nodes = NULL;
        size_t n = 0;
        int r, clean = 1;

        if (marked(k->clean, tree))
                return 1;
        if (marked(k->bad, tree) || depth > MAX_DEPTH) {
                affected(k, (const char *) k->path.data);
                return 0;
        }
        r = cn_store_get(k->store, tree, &k->blob);
        if (r >= 0)
                r = cn_tree_decode(k->blob.data, k->blob.len, &nodes, &n);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                if (r == -ENOENT)
                        report_id(k, CN_CHECK_MISSING_BLOB, tree, r);
                else
                        report_id(k, CN_CHECK_BAD_BLOB, tree, r);
                mark(k->bad, tree);
                affected(k, (const char *) k->path.data);
                return 0;
        }
        k->stats->trees++;
        for (size_t i = 0; i < n; i++) {
                const CnNode *e = &nodes[i];
                size_t m;
                r = path_push(&k->path, e->name, e->name_len, &m);
                if (r < 0)
                        break;
                if (e->type == CN_NODE_DIR) {
                        r = walk_tree(k, e->subtree, depth + 1);
                        if (r < 0)
                                break;
                        if (r == 0)
                                clean = 0;
                } else if (e->type == CN_NODE_FILE) {
                        bool hurt = false;
                        for (size_t j = 0; j < e->n_chunks; j++) {
                                if (marked(k->bad, e->chunks[j]))
                                        hurt = true;
                                else if (!cn_index_lookup(cn_store_index(k->store), e->chunks[j], NULL)) {
                                        report_id(k, CN_CHECK_MISSING_BLOB, e->chunks[j], -ENOENT);
                                        mark(k->bad, e->chunks[j]);
                                        hurt = true;
                                }
                        }
                        if (hurt) {
                                affected(k, (const char *) k->path.data);
                                clean = 0;
                        }
                }
                k->path.len = m;
                k->path.data[m] = 0;
                r = 0;
        }
        cn_nodes_free(nodes, n);
        if (r < 0)
                return r;
        if (clean && mark(k->clean, tree) < 0)
                return -ENOMEM;
        return clean;
}

static int check_controller(Check *k, bool read_data) {
        CnSnapshot *snaps = NULL;
        size_t n = 0, damaged = 0;
        char prefix[64];
        int r;

        snprintf(prefix, sizeof prefix, "data/%s/", k->c->id_hex);
        r = cn_backend_list(cn_repo_backend(k->repo), prefix, add_pack_file, k);
        if (r < 0)
                return r;
        r = cn_store_open_tolerant(k->repo, k->c, CN_STORE_KEYS, on_damaged, k, &k->store);
        if (r < 0)
                return r;
        r = check_packs(k, read_data);
        if (r < 0)
                return r;
        r = cn_snapshot_list(k->repo, k->c, &snaps, &n, &damaged);
        if (r < 0)
                return r;
        if (damaged) {
                char what[96];
                snprintf(what, sizeof what, "%zu snapshot file(s) under snapshots/%s/", damaged, k->c->id_hex);
                report(k, CN_CHECK_DAMAGED_OBJECT, what, -EBADMSG);
        }
        k->stats->snapshots += n;
        for (size_t i = 0; i < n && r >= 0; i++) {
                k->snapshot = snaps[i].id_hex;
                cn_buf_reset(&k->path);
                r = cn_buf_put_u8(&k->path, 0);
                k->path.len = 0;
                if (r >= 0)
                        r = walk_tree(k, snaps[i].tree, 0);
        }
        cn_snapshots_free(snaps, n);
        return r < 0 ? r : 0;
}

int cn_check_run(CnRepo *repo, bool read_data, CnCheckFn fn, void *u, CnCheckStats *ret) {
        int r = 0;
        *ret = (CnCheckStats) {};
        for (size_t i = 0; i < cn_repo_n_controllers(repo) && r >= 0; i++) {
                Check k = { .repo = repo, .c = cn_repo_controller(repo, i), .fn = fn, .u = u, .stats = ret };
                cn_buf_init(&k.path, 1u << 20);
                cn_buf_init(&k.blob, CN_MAX_TREE_BYTES);
                ret->controllers++;
                r = cn_index_new(&k.bad);
                if (r >= 0)
                        r = cn_index_new(&k.clean);
                if (r >= 0)
                        r = check_controller(&k, read_data);
                cn_store_free(k.store);
                cn_index_free(k.bad);
                cn_index_free(k.clean);
                for (size_t j = 0; j < k.n_packs; j++)
                        free(k.packs[j].name);
                free(k.packs);
                cn_buf_done(&k.path);
                cn_buf_done(&k.blob);
        }
        return r;
}
