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

#include "audit.h"
#include "format.h"
#include "hex.h"
#include "hold.h"
#include "index.h"
#include "macro.h"
#include "pack.h"
#include "request.h"
#include "retention.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"

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

/* Every pack a loaded ledger names, as a set. */
static int ledgered_packs(Check *k, CnIndex **ret) {
        CnIndex *set;
        int r = cn_index_new(&set);
        for (size_t i = 0; r >= 0 && i < cn_store_n_ledgers(k->store); i++) {
                const uint8_t(*packs)[CN_ID_BYTES];
                size_t n;
                cn_store_ledger(k->store, i, &packs, &n);
                for (size_t j = 0; r >= 0 && j < n; j++)
                        r = cn_index_insert(set, packs[j], &(CnBlobLoc) {});
        }
        if (r < 0) {
                cn_index_free(set);
                return r;
        }
        *ret = set;
        return 0;
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

static int pack_file_cmp(const void *a, const void *b) {
        return memcmp(((const PackFile *) a)->id, ((const PackFile *) b)->id, CN_ID_BYTES);
}

/* k->packs is sorted by id once listed. */
static const PackFile *find_pack_file(Check *k, const uint8_t id[CN_ID_BYTES]) {
        PackFile key;
        memcpy(key.id, id, CN_ID_BYTES);
        return k->n_packs ? bsearch(&key, k->packs, k->n_packs, sizeof key, pack_file_cmp) : NULL;
}

/* A copy found unreadable: lost for the snapshot walk, and recorded so that
 * the next backup stores the chunk again (docs/FORMAT.md "Damage records"). */
static int note_bad(Check *k, uint32_t pack, const uint8_t id[CN_ID_BYTES]) {
        int r = cn_store_note_damage(k->store, pack, id);
        k->stats->blobs_bad++;
        if (r < 0)
                return r;
        return mark(k->bad, id) < 0 ? -ENOMEM : 0;
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
        if (cn_store_damage_recorded(k->store, loc->pack, id)) {
                report_id(k, CN_CHECK_RECORDED_BLOB, id, -EBADMSG);
                k->stats->blobs_bad++;
                return mark(k->bad, id) < 0 ? -ENOMEM : 0;
        }
        if (!cn_index_get_key(cn_store_index(k->store), id)) {
                report_id(k, CN_CHECK_MISSING_KEY, id, -ENOKEY);
                return note_bad(k, loc->pack, id);
        }
        return 0;
}

typedef struct Blob {
        uint8_t id[CN_ID_BYTES];
        CnBlobLoc loc;
} Blob;

typedef struct BlobList {
        Blob *v;
        size_t n;
} BlobList;

static int collect_blob(const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, void *u) {
        BlobList *l = u;
        memcpy(l->v[l->n].id, id, CN_ID_BYTES);
        l->v[l->n++].loc = *loc;
        return 0;
}

static int blob_cmp(const void *a, const void *b) {
        const Blob *x = a, *y = b;
        if (x->loc.pack != y->loc.pack)
                return x->loc.pack < y->loc.pack ? -1 : 1;
        return x->loc.offset < y->loc.offset ? -1 : x->loc.offset > y->loc.offset;
}

/* Every blob of one pack is lost with it. */
static int mark_pack_lost(Check *k, const Blob *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                if (marked(k->bad, v[i].id))
                        continue;       /* reported already: recorded, or no key */
                int r = note_bad(k, v[i].loc.pack, v[i].id);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int check_packs(Check *k, bool read_data) {
        CnIndex *x = cn_store_index(k->store);
        uint32_t np = cn_index_n_packs(x);
        _cleanup_free_ uint64_t *end = calloc(np ? np : 1, sizeof *end);
        _cleanup_free_ Blob *blobs = calloc(cn_index_size(x) ? cn_index_size(x) : 1, sizeof *blobs);
        _cleanup_(cn_buf_donep) CnBuf data = CN_BUF_INIT(0);   /* sized by each pack's extent */
        _cleanup_(cn_buf_donep) CnBuf scratch = CN_BUF_INIT_SECRET(CN_MAX_TREE_BYTES);
        BlobList list = { .v = blobs };
        int r;

        if (!end || !blobs)
                return -ENOMEM;
        k->stats->packs += np;
        BlobScan scan = { .k = k, .pack_end = end };
        r = cn_index_foreach(x, scan_blob, &scan);
        if (r < 0)
                return r;
        cn_index_foreach(x, collect_blob, &list);
        if (list.n > 1)
                qsort(list.v, list.n, sizeof *list.v, blob_cmp);
        size_t at = 0;
        for (uint32_t i = 0; i < np; i++) {
                const PackFile *pf = find_pack_file(k, cn_index_pack_id(x, i));
                size_t first = at, area;
                char name[160];
                while (at < list.n && list.v[at].loc.pack == i)
                        at++;
                /* No chunk is read from this pack any more: every one was
                 * recorded damaged and has a new copy (or is a second copy). */
                if (first == at)
                        continue;
                cn_store_pack_name(k->store, cn_index_pack_id(x, i), name, sizeof name);
                /* The pack's authenticated entries say how large it is: a
                 * larger one is not what its writer wrote, and is not read
                 * (nor memory taken for it) on the server's word. */
                uint64_t blob_end, size_max = CN_MAX_PACK_BYTES;
                uint32_t entries;
                if (cn_index_pack_extent(x, i, &blob_end, &entries) >= 0)
                        size_max = CN_MIN(size_max, cn_pack_size(blob_end, entries));
                if (!pf || pf->size < end[i] || pf->size > size_max) {
                        report(k, pf ? CN_CHECK_DAMAGED_PACK : CN_CHECK_MISSING_PACK, name,
                               !pf ? -ENOENT : pf->size > size_max ? -E2BIG : -EBADMSG);
                        r = mark_pack_lost(k, list.v + first, at - first);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (!read_data)
                        continue;
                data.limit = pf->size;
                r = cn_backend_get(cn_repo_backend(k->repo), name, 0, pf->size, &data);
                if (r == -ENOMEM || r == -EACCES || r == -EAGAIN)
                        return r;
                k->stats->packs_read++;
                k->stats->bytes_read += data.len;
                if (r >= 0)
                        r = cn_store_verify_pack(k->store, i, data.data, data.len, &area);
                if (r == -ENOMEM)
                        return r;
                if (r < 0) {
                        report(k, CN_CHECK_DAMAGED_PACK, name, r);
                        r = mark_pack_lost(k, list.v + first, at - first);
                        if (r < 0)
                                return r;
                        continue;
                }
                for (size_t j = first; j < at; j++) {
                        const Blob *b = &list.v[j];
                        if (marked(k->bad, b->id))
                                continue;       /* already reported: no key */
                        r = cn_store_verify_blob(k->store, b->id, &b->loc, data.data, area, &scratch);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0) {
                                report_id(k, CN_CHECK_BAD_BLOB, b->id, r);
                                r = note_bad(k, b->loc.pack, b->id);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        /* Packs nobody indexed: an interrupted writer's; the next backup
         * adopts them. In version 2 a pack is read with the key its ledger
         * holds: one no ledger names is lost for good (its ledger is). */
        _cleanup_(cn_index_freep) CnIndex *ledgered = NULL;
        for (size_t i = 0; i < k->n_packs; i++) {
                uint32_t no;
                bool known = cn_index_find_pack(x, k->packs[i].id, &no) == 0 && cn_index_pack_indexed(x, no);
                if (known)
                        continue;
                if (k->c->format == 2 && !ledgered && (r = ledgered_packs(k, &ledgered)) < 0)
                        return r;
                if (k->c->format == 2 && !cn_index_contains(ledgered, k->packs[i].id))
                        report(k, CN_CHECK_KEYLESS_PACK, k->packs[i].name, -ENOKEY);
                else
                        report(k, CN_CHECK_ORPHAN_PACK, k->packs[i].name, 0);
        }
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

/* The entries of tree: 2 when loaded, 1 when known clean, 0 when missing or
 * damaged (reported, with the path at hand as affected). */
static int tree_open(Check *k, const uint8_t tree[CN_ID_BYTES], CnNode **ret, size_t *ret_n) {
        uint8_t bad[CN_ID_BYTES];
        int r;

        if (marked(k->clean, tree))
                return 1;
        if (marked(k->bad, tree)) {
                affected(k, (const char *) k->path.data);
                return 0;
        }
        r = cn_dir_load(k->store, tree, &k->blob, ret, ret_n, bad);
        if (r == -ENOMEM)
                return r;
        if (r < 0) {
                report_id(k, r == -ENOENT ? CN_CHECK_MISSING_BLOB : CN_CHECK_BAD_BLOB, bad, r);
                mark(k->bad, bad);
                mark(k->bad, tree);
                affected(k, (const char *) k->path.data);
                return 0;
        }
        k->stats->trees++;
        return 2;
}

/* Returns 1 if the subtree is clean, 0 if something in it was reported.
 * Depth first on a heap stack, so any depth is walked. */
static int walk_tree(Check *k, const uint8_t root[CN_ID_BYTES]) {
        _cleanup_(cn_dir_stack_done) CnDirStack st = {};
        const uint8_t *next = root;
        CnDirLevel *l;
        int r;

        for (;;) {
                if (next) {
                        CnNode *nodes;
                        size_t n;
                        r = tree_open(k, next, &nodes, &n);
                        if (r == 2)
                                r = cn_dir_stack_push(&st, next, nodes, n);
                        else if (r >= 0 && (l = cn_dir_stack_top(&st))) {
                                /* Known clean, or reported: on to the next entry. */
                                l->dirty = l->dirty || r == 0;
                                k->path.len = l->mark;
                                k->path.data[l->mark] = 0;
                                l->i++;
                        }
                        if (r < 0 || !cn_dir_stack_top(&st))
                                return r;
                        next = NULL;
                }
                l = cn_dir_stack_top(&st);
                if (l->i == l->n) {
                        bool dirty = l->dirty;
                        if (!dirty && mark(k->clean, l->id) < 0)
                                return -ENOMEM;
                        cn_dir_stack_pop(&st);
                        if (!(l = cn_dir_stack_top(&st)))
                                return !dirty;
                        l->dirty = l->dirty || dirty;
                        k->path.len = l->mark;
                        k->path.data[l->mark] = 0;
                        l->i++;
                        continue;
                }
                const CnNode *e = &l->nodes[l->i];
                r = cn_path_push(&k->path, e->name, e->name_len, &l->mark);
                if (r < 0)
                        return r;
                if (e->type == CN_NODE_DIR) {
                        next = e->subtree;      /* in l->nodes, which stays put */
                        continue;
                }
                if (e->type == CN_NODE_FILE) {
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
                                l->dirty = true;
                        }
                }
                k->path.len = l->mark;
                k->path.data[l->mark] = 0;
                l->i++;
        }
}

static int check_controller(Check *k, bool read_data, const CnSnapshot *snaps, size_t n) {
        char prefix[64];
        int r;

        r = cn_store_open_tolerant(k->repo, k->c, CN_STORE_KEYS, on_damaged, k, &k->store);
        if (r < 0)
                return r;
        /* Packs are listed after the index files: every pack an index file
         * names was put before it, so none is missing only for being new. */
        snprintf(prefix, sizeof prefix, "data/%s/", k->c->id_hex);
        r = cn_backend_list(cn_repo_backend(k->repo), prefix, add_pack_file, k);
        if (r < 0)
                return r;
        if (k->n_packs > 1)
                qsort(k->packs, k->n_packs, sizeof *k->packs, pack_file_cmp);
        r = check_packs(k, read_data);
        if (r < 0)
                return r;
        r = cn_store_flush(k->store);
        if (r < 0) {
                char what[64];
                if (r == -ENOMEM)
                        return r;
                snprintf(what, sizeof what, "damage/%s/", k->c->id_hex);
                report(k, CN_CHECK_NOT_RECORDED, what, r);
        }
        for (size_t i = 0; i < n; i++) {
                if (snaps[i].controller != k->c)
                        continue;
                k->stats->snapshots++;
                k->snapshot = snaps[i].id_hex;
                cn_buf_reset(&k->path);
                r = cn_buf_put_u8(&k->path, 0);
                k->path.len = 0;
                if (r >= 0)
                        r = walk_tree(k, snaps[i].tree);
                if (r < 0)
                        return r;
        }
        return 0;
}

typedef struct SnapshotDamage {
        CnRepo *repo;
        CnCheckFn fn;
        void *u;
        CnCheckStats *stats;
} SnapshotDamage;

/* An object under snapshots/, holds/, retention/ or requests/ that does not open. */
static void on_damaged_listed(const char *name, int error, void *u) {
        SnapshotDamage *d = u;
        const char *slash = strchr(name, '/');
        const char *folder = slash ? slash + 1 : name;
        const char *controller = "?";
        for (size_t i = 0; i < cn_repo_n_controllers(d->repo); i++) {
                CnController *c = cn_repo_controller(d->repo, i);
                if (strncmp(folder, c->id_hex, CN_UUID_HEX) == 0 && folder[CN_UUID_HEX] == '/')
                        controller = c->name;
        }
        CnCheckProblem p = {
                .kind = CN_CHECK_DAMAGED_OBJECT,
                .controller = controller,
                .object = name,
                .error = error,
        };
        d->stats->errors++;
        d->fn(&p, d->u);
}

/* Every audit log, of the controllers there are and of erased ones
 * (docs/FORMAT.md "Audit log"): a broken one is an error. */
static int check_audit(CnRepo *repo, CnCheckFn fn, void *u, CnCheckStats *ret) {
        _cleanup_free_ uint8_t(*ids)[CN_UUID_BYTES] = NULL;
        size_t n = 0;
        int r = cn_audit_controllers(repo, &ids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(cn_audit_log_done) CnAuditLog l = {};
                char hex[CN_UUID_HEX + 1], name[64];
                if ((r = cn_audit_load(repo, ids[i], &l)) < 0)
                        return r;
                ret->audit_logs++;
                ret->audit_entries += l.n;
                cn_hex_encode(ids[i], CN_UUID_BYTES, hex);
                CnController *c = cn_repo_find_controller(repo, hex);
                if (l.n_foreign) {
                        /* a name that is no entry's: planted, or left by hand */
                        CnCheckProblem p = {.kind = CN_CHECK_DAMAGED_OBJECT,
                                            .controller = c ? c->name : hex,
                                            .object = l.foreign,
                                            .error = -EBADMSG};
                        ret->errors++;
                        fn(&p, u);
                }
                if (!l.broken)
                        continue;
                snprintf(name, sizeof name, CN_AUDIT_FOLDER "%s/%016llx", hex, (unsigned long long) l.broken_seq);
                CnCheckProblem p = { .kind = CN_CHECK_BROKEN_AUDIT, .controller = c ? c->name : hex, .object = name,
                                     .detail = l.why };
                ret->errors++;
                fn(&p, u);
        }
        return 0;
}

int cn_check_run(CnRepo *repo, bool read_data, CnCheckFn fn, void *u, CnCheckStats *ret) {
        SnapshotDamage d = { .repo = repo, .fn = fn, .u = u, .stats = ret };
        CnSnapshot *snaps = NULL;
        size_t n = 0, n_skipped;
        const CnRepoProblem *skipped = cn_repo_problems(repo, &n_skipped);
        int r;

        *ret = (CnCheckStats) {};
        /* Key files and controller records every open skips. */
        for (size_t i = 0; i < n_skipped; i++) {
                CnCheckProblem p = { .kind = CN_CHECK_REPO_OBJECT, .controller = "", .object = skipped[i].object,
                                     .error = skipped[i].error, .repo_problem = &skipped[i] };
                ret->errors++;
                fn(&p, u);
        }
        /* Every controller's snapshots at once: a folder of no controller is damage too. */
        r = cn_snapshot_list(repo, NULL, on_damaged_listed, &d, &snaps, &n);
        if (r < 0)
                return r;
        /* Holds: one that does not open may be what keeps data from deletion. */
        CnHolds holds = {};
        size_t n_bad_holds;
        r = cn_holds_load(repo, NULL, on_damaged_listed, &d, &holds, &n_bad_holds);
        cn_holds_done(&holds);
        /* Retention policies: one that does not open may be the one in
         * effect. Requests: the accountability record. */
        for (size_t i = 0; r >= 0 && i < cn_repo_n_controllers(repo); i++) {
                CnRetentions l = {};
                r = cn_retentions_load(repo, cn_repo_controller(repo, i), on_damaged_listed, &d, &l);
                cn_retentions_done(&l);
        }
        if (r >= 0) {
                CnRequests q = {};
                r = cn_requests_load(repo, NULL, on_damaged_listed, &d, &q, NULL);
                cn_requests_done(&q);
        }
        if (r < 0) {
                cn_snapshots_free(snaps, n);
                return r;
        }
        for (size_t i = 0; i < cn_repo_n_controllers(repo) && r >= 0; i++) {
                Check k = { .repo = repo, .c = cn_repo_controller(repo, i), .fn = fn, .u = u, .stats = ret };
                cn_buf_init(&k.path, 1u << 20);
                cn_buf_init(&k.blob, CN_MAX_TREE_BYTES);
                ret->controllers++;
                r = cn_index_new(&k.bad);
                if (r >= 0)
                        r = cn_index_new(&k.clean);
                if (r >= 0)
                        r = check_controller(&k, read_data, snaps, n);
                cn_store_free(k.store);
                cn_index_free(k.bad);
                cn_index_free(k.clean);
                for (size_t j = 0; j < k.n_packs; j++)
                        free(k.packs[j].name);
                free(k.packs);
                cn_buf_done(&k.path);
                cn_buf_done(&k.blob);
        }
        cn_snapshots_free(snaps, n);
        return r < 0 ? r : check_audit(repo, fn, u, ret);
}
