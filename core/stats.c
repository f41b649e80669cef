/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "stats.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "erase.h"
#include "format.h"
#include "hold.h"
#include "index.h"
#include "macro.h"
#include "snapshot.h"
#include "tree.h"

typedef struct Stats {
        CnStore *store;
        CnIndex *trees, *chunks; /* seen-sets */
        CnStats *st;
} Stats;

/* 1 if added to set, 0 if it was there. */
static int seen_add(CnIndex *set, const uint8_t id[CN_ID_BYTES]) {
        CnBlobLoc loc = {};
        return cn_index_insert(set, id, &loc);
}

static int get_tree(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *u) {
        Stats *x = u;
        return cn_store_get(x->store, id, out);
}

/* A directory tree: walked the first time only. */
static int enter_dir(const uint8_t id[CN_ID_BYTES], void *u) {
        Stats *x = u;
        int r = seen_add(x->trees, id);
        if (r > 0)
                x->st->directories++;
        return r;
}

static int on_entry(const CnNode *n, void *u) {
        Stats *x = u;
        x->st->files_distinct += n->type == CN_NODE_FILE;
        return 0;
}

static int on_chunk(const uint8_t id[CN_ID_BYTES], void *u) {
        Stats *x = u;
        CnBlobLoc loc;
        int r = seen_add(x->chunks, id);
        if (r <= 0)
                return r;
        x->st->chunks++;
        if (!cn_index_lookup(cn_store_index(x->store), id, &loc)) {
                x->st->missing_chunks++;
                return 0;
        }
        x->st->unique_bytes += loc.raw_length;
        x->st->unique_stored_bytes += loc.length;
        return 0;
}

typedef struct Sizes {
        uint64_t n, bytes;
} Sizes;

static int add_size(_unused_ const char *name, uint64_t size, void *u) {
        Sizes *s = u;
        s->n++;
        s->bytes += size;
        return 0;
}

static int folder_sizes(CnRepo *repo, const char *folder, const CnController *c, Sizes *ret) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s/%s/", folder, c->id_hex);
        *ret = (Sizes){};
        return cn_backend_list(cn_repo_backend(repo), prefix, add_size, ret);
}

/* Storage: packs, index and ledger files by their listed sizes; the pack
 * bytes no entry of a pack accounts for (cn_store_locations(): every entry
 * of every pack read). */
static int storage(CnRepo *repo, CnStore *store, const CnController *c, CnStats *st) {
        Sizes packs, index, ledger;
        size_t n_loc;
        uint64_t in_blobs = 0;
        int r;

        if ((r = folder_sizes(repo, "data", c, &packs)) < 0 || (r = folder_sizes(repo, "index", c, &index)) < 0 ||
            (r = folder_sizes(repo, "ledger", c, &ledger)) < 0)
                return r;
        const CnStoreLocation *loc = cn_store_locations(store, &n_loc);
        for (size_t i = 0; i < n_loc; i++)
                in_blobs += loc[i].loc.length;
        st->packs = packs.n;
        st->stored_bytes = packs.bytes;
        st->index_bytes = index.bytes;
        st->ledger_bytes = ledger.bytes;
        st->pack_overhead_bytes = packs.bytes > in_blobs ? packs.bytes - in_blobs : 0;
        st->blobs = cn_index_size(cn_store_index(store));
        return 0;
}

/* Holds and erasures: what holds keep, and what remaining erasure requests
 * still reach, split by whether a hold defers it. */
static int kept(CnRepo *repo, CnStore *store, CnController *c, CnSnapshot *snaps, size_t n, CnStoreDamagedFn damaged,
                void *userdata, CnStats *st) {
        _cleanup_(cn_holds_done) CnHolds holds = {};
        _cleanup_free_ uint64_t *reach = calloc(n ? n : 1, sizeof *reach);
        size_t requests = 0;
        int r;

        if (!reach)
                return -ENOMEM;
        r = cn_holds_load(repo, c, damaged, userdata, &holds, NULL);
        if (r >= 0)
                r = cn_erase_pending_reach(repo, store, c, snaps, n, reach, &requests);
        if (r < 0)
                return r;
        st->pending_erasures = requests;
        for (size_t i = 0; i < n; i++) {
                bool held = cn_hold_covers_snapshot(&holds, &snaps[i]);
                st->held_snapshots += held;
                st->held_bytes += held ? snaps[i].bytes : 0;
                *(held ? &st->deferred_erasure_bytes : &st->pending_erasure_bytes) += reach[i];
        }
        return 0;
}

int cn_stats_run(CnRepo *repo, CnController *c, CnStoreDamagedFn damaged, void *userdata, CnStats *ret) {
        static const CnReachOps ops = {.get = get_tree, .chunk = on_chunk, .enter = enter_dir, .entry = on_entry};
        _cleanup_(cn_buf_donep) CnBuf scratch = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnStats st = {};
        Stats x = {.st = &st};
        CnSnapshot *snaps = NULL;
        size_t n = 0;
        int r;

        r = cn_snapshot_list(repo, c, damaged, userdata, &snaps, &n);
        if (r < 0)
                return r;
        r = damaged ? cn_store_open_tolerant(repo, c, CN_STORE_KEYS | CN_STORE_ALL_LOCATIONS, damaged, userdata,
                                             &x.store)
                    : cn_store_open(repo, c, CN_STORE_KEYS | CN_STORE_ALL_LOCATIONS, &x.store);
        if (r >= 0)
                r = cn_index_new(&x.trees);
        if (r >= 0)
                r = cn_index_new(&x.chunks);
        for (size_t i = 0; r >= 0 && i < n; i++) {
                st.snapshots++;
                st.files += snaps[i].files;
                st.logical_bytes += snaps[i].bytes;
                r = cn_tree_reach(snaps[i].tree, &ops, &x, &scratch, NULL);
        }
        if (r >= 0)
                r = storage(repo, x.store, c, &st);
        if (r >= 0)
                r = kept(repo, x.store, c, snaps, n, damaged, userdata, &st);
        cn_index_free(x.trees);
        cn_index_free(x.chunks);
        cn_store_free(x.store);
        cn_snapshots_free(snaps, n);
        if (r < 0)
                return r;
        *ret = st;
        return 0;
}
