/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "copy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "hex.h"
#include "hold.h"
#include "location.h"
#include "request.h"
#include "retention.h"
#include "macro.h"
#include "pack.h"
#include "tree.h"

/* Blobs are copied in batches: collected from the trees of one or more
 * snapshots, sorted by source pack and offset, read and sent. A batch is
 * sent at BATCH_BLOBS blobs (about 52 MiB of entries; so also in the middle
 * of a snapshot's walk) and committed (sent, flushed, then its snapshots
 * put) once BATCH_BYTES of stored bytes are sent, and after the last
 * snapshot. */
#define BATCH_BYTES (256ull << 20)
#define BATCH_BLOBS (1u << 20)
/* Blobs of one pack at most RANGE_GAP apart come in one ranged read (the
 * gap is read and dropped: one request instead of two, which on a remote
 * link costs more than 256 KiB); a read grows to RANGE_MAX at most (a
 * single blob may be larger). A full copy reads each source pack in one
 * request (bench/results/copy.md). */
#define RANGE_GAP (256u << 10)
#define RANGE_MAX (32u << 20)

typedef struct Need {
        uint8_t id[CN_ID_BYTES];
        CnBlobLoc loc; /* in the source */
} Need;

typedef struct Copy {
        CnRepo *src, *dst;
        CnController *c; /* in src */
        CnController *d; /* the same controller in dst */
        const CnCopyOptions *o;
        CnCopyStats *stats;
        CnCopyFailure *fail;
        CnStore *from, *to;
        CnIndex *walked;              /* trees walked: their blobs are sent, or in need */
        CnIndex *at_dst;              /* ids of the snapshots dst has */
        Need *need; /* blobs dst lacks, to send */
        size_t n_need, cap_need;
        uint64_t need_bytes;  /* stored bytes of need */
        uint64_t sent_bytes;  /* since the last commit */
        CnSnapshot **pending; /* walked; put at the next commit */
        size_t n_pending, cap_pending;
        CnBuf range, tree, obj;
        uint8_t *key; /* secret */
} Copy;

static void fail_object(Copy *k, const char *object) {
        if (k->fail) {
                k->fail->controller = k->c;
                snprintf(k->fail->object, sizeof k->fail->object, "%s", object);
        }
}

static void fail_id(Copy *k, const uint8_t id[CN_ID_BYTES]) {
        char hex[CN_ID_HEX + 1];
        cn_hex_encode(id, CN_ID_BYTES, hex);
        fail_object(k, hex);
}

/* Sets of ids, made of a CnIndex (the location is unused). */
static int set_add(CnIndex *set, const uint8_t id[CN_ID_BYTES]) {
        CnBlobLoc loc = {};
        return cn_index_insert(set, id, &loc);
}

static bool set_has(const CnIndex *set, const uint8_t id[CN_ID_BYTES]) {
        return cn_index_lookup(set, id, NULL);
}

/* Every name under prefix whose last component is an id, into set. */
static int list_ids(CnBackend *b, const char *prefix, CnIndex *set) {
        _cleanup_(cn_names_done) CnNames l = {};
        int r = cn_backend_list_names(b, prefix, &l);
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                uint8_t id[CN_ID_BYTES];
                if (cn_hex_decode(l.v[i] + strlen(prefix), id, CN_ID_BYTES) >= 0)
                        r = set_add(set, id);
        }
        return r;
}

/* Blob id, which the trees of a snapshot to copy name: to be sent unless
 * dst has it (or it is sent or queued already). */
static int need(Copy *k, const uint8_t id[CN_ID_BYTES]) {
        char pack[160];
        CnBlobLoc loc;
        int r;

        if (cn_store_contains(k->to, id))
                return 0;
        r = cn_store_locate(k->from, id, &loc, k->key, pack, sizeof pack);
        if (r < 0) {
                fail_id(k, id);
                return r;
        }
        if (CN_GROW(k->need, k->cap_need, k->n_need) < 0)
                return -ENOMEM;
        memcpy(k->need[k->n_need].id, id, CN_ID_BYTES);
        k->need[k->n_need++].loc = loc;
        k->need_bytes += loc.length;
        return 0;
}

static int need_cmp(const void *a, const void *b) {
        const Need *x = a, *y = b;
        if (x->loc.pack != y->loc.pack)
                return x->loc.pack < y->loc.pack ? -1 : 1;
        if (x->loc.offset != y->loc.offset)
                return x->loc.offset < y->loc.offset ? -1 : 1;
        return memcmp(x->id, y->id, CN_ID_BYTES);
}

/* One blob of a range read: its seal checked with its data key (nothing
 * damaged is replicated), then appended to dst's open pack as it is. */
static int send_blob(Copy *k, const Need *e, const uint8_t *sealed) {
        char pack[160];
        CnBlobLoc loc;
        bool added;
        int r;

        r = cn_store_locate(k->from, e->id, &loc, k->key, pack, sizeof pack);
        if (r < 0)
                return r;
        r = cn_store_put_sealed(k->to, e->id, &e->loc, sealed, k->key, &added);
        if (r < 0 || !added)
                return r;
        k->stats->blobs_sent++;
        k->stats->bytes_sent += e->loc.length;
        k->sent_bytes += e->loc.length;
        return 0;
}

/* Send every blob of need: in order of source pack and offset, each run of
 * nearby blobs of one pack in one ranged read. */
static int send(Copy *k) {
        size_t i = 0;
        int r = 0;

        if (k->n_need > 1)
                qsort(k->need, k->n_need, sizeof *k->need, need_cmp);
        while (i < k->n_need) {
                const Need *first = &k->need[i];
                uint64_t start = first->loc.offset, end = start + first->loc.length;
                char pack[160];
                CnBlobLoc loc;
                size_t j = i + 1;

                for (; j < k->n_need && k->need[j].loc.pack == first->loc.pack; j++) {
                        uint64_t off = k->need[j].loc.offset, e = CN_MAX(end, off + k->need[j].loc.length);
                        if (off > end + RANGE_GAP || e - start > RANGE_MAX)
                                break;
                        end = e;
                }
                r = cn_store_locate(k->from, first->id, &loc, k->key, pack, sizeof pack);
                if (r >= 0)
                        r = cn_backend_get(cn_repo_backend(k->src), pack, start, end - start, &k->range);
                if (r == -ENODATA)
                        r = -EBADMSG; /* the pack is shorter than its entries say */
                if (r < 0) {
                        fail_object(k, pack);
                        return r;
                }
                k->stats->reads++;
                k->stats->bytes_read += end - start;
                for (size_t e = i; e < j; e++) {
                        if (e > i && memcmp(k->need[e].id, k->need[e - 1].id, CN_ID_BYTES) == 0)
                                continue; /* named twice */
                        r = send_blob(k, &k->need[e], k->range.data + (k->need[e].loc.offset - start));
                        if (r < 0) {
                                fail_id(k, k->need[e].id);
                                return r;
                        }
                }
                i = j;
        }
        k->n_need = 0;
        k->need_bytes = 0;
        return 0;
}

/* Send what is collected, make it durable, then put the snapshots walked
 * since the last commit: a snapshot lands only after every blob it names. */
static int commit(Copy *k) {
        char name[CN_ENVELOPE_NAME_MAX];
        int r = send(k);
        if (r >= 0)
                r = cn_store_flush(k->to);
        /* The blobs dst had already are still there unless a prune there
         * took this copy for a dead writer (docs/FORMAT.md "Deleting
         * without a lock"): then no snapshot may be put. */
        if (r >= 0)
                r = cn_store_session_check(k->to);
        /* The gate again: a location dst recorded or a grant src revoked
         * meanwhile stops the snapshots (what was sent stays unnamed). */
        if (r >= 0)
                r = cn_location_gate(k->src, k->c, k->dst, k->fail ? &k->fail->refusal : NULL);
        if (r < 0)
                return r;
        k->sent_bytes = 0;
        for (size_t i = 0; i < k->n_pending; i++) {
                CnSnapshot *s = k->pending[i];
                snprintf(name, sizeof name, "snapshots/%s/%s", k->d->id_hex, s->id_hex);
                r = cn_snapshot_read_object(k->src, s, &k->obj);
                if (r == -ENOENT)
                        continue; /* forgotten at the source meanwhile: not copied */
                if (r >= 0)
                        r = cn_backend_put(cn_repo_backend(k->dst), name, k->obj.data, k->obj.len, CN_PUT_EXCLUSIVE);
                bool copied = r >= 0;
                if (r == -EEXIST)
                        r = 0; /* another copy put it meanwhile */
                if (r < 0) {
                        fail_object(k, name);
                        return r;
                }
                if (copied)
                        k->stats->snapshots_copied++;
                else
                        k->stats->snapshots_skipped++;
                if (k->o->on_snapshot)
                        k->o->on_snapshot(s, copied, k->o->userdata);
        }
        k->n_pending = 0;
        return 0;
}

/* Read a tree blob of the source, and send it too. */
static int get_tree(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *u) {
        Copy *k = u;
        int r = need(k, id);
        if (r >= 0)
                r = cn_store_get(k->from, id, out);
        if (r < 0) {
                fail_id(k, id);
                return r;
        }
        k->stats->trees_read++;
        return 0;
}

static int need_chunk(const uint8_t id[CN_ID_BYTES], void *u) {
        return need(u, id);
}

/* A directory not walked before: walk it (after sending what is
 * collected, when that is a batch). */
static int enter_dir(const uint8_t id[CN_ID_BYTES], void *u) {
        Copy *k = u;
        int r;
        if (set_has(k->walked, id))
                return 0;
        if ((r = set_add(k->walked, id)) < 0 ||
            (r = cn_store_session_refresh(k->to)) < 0 /* a long walk puts nothing for a while */ ||
            (k->n_need >= BATCH_BLOBS && (r = send(k)) < 0))
                return r;
        return 1;
}

/* Walk every tree of s not walked before, collecting what dst lacks. */
static int walk_snapshot(Copy *k, const CnSnapshot *s) {
        static const CnReachOps ops = { .get = get_tree, .chunk = need_chunk, .enter = enter_dir };
        uint8_t failed[CN_ID_BYTES];
        int r = cn_tree_reach(s->tree, &ops, k, &k->tree, failed);
        if (r < 0 && r != -ENOMEM && k->fail && !k->fail->object[0])
                fail_id(k, failed); /* a tree that does not decode */
        if (r >= 0 && k->n_need >= BATCH_BLOBS)
                r = send(k);
        return r;
}

/* Copy the objects under <folder>/<ctrl>/ of controller k->c that dst
 * lacks, as they are, each checked by read (as its loader checks it): the
 * replica honours the same legal holds and retention policies, and the
 * same location grants gate a backup into it. */
static int copy_objects(Copy *k, const char *folder, int (*read)(CnRepo *, CnController *, const char *, CnBuf *),
                        uint64_t *copied) {
        _cleanup_(cn_names_done) CnNames l = {};
        _cleanup_(cn_index_freep) CnIndex *have = NULL;
        char prefix[64];
        int r;

        snprintf(prefix, sizeof prefix, "%s/%s/", folder, k->c->id_hex);
        r = cn_index_new(&have);
        if (r >= 0)
                r = list_ids(cn_repo_backend(k->dst), prefix, have);
        if (r >= 0)
                r = cn_backend_list_names(cn_repo_backend(k->src), prefix, &l);
        for (size_t i = 0; r >= 0 && i < l.n; i++) {
                uint8_t id[CN_ID_BYTES];
                if (cn_hex_decode(l.v[i] + strlen(prefix), id, CN_ID_BYTES) >= 0 && set_has(have, id))
                        continue;
                r = read(k->src, k->c, l.v[i], &k->obj);
                if (r == -ENOENT) {
                        r = 0;
                        continue;
                }
                if (r < 0 && !cn_store_error_is_environment(r) && k->o->damaged) {
                        /* Not an object this cairn can read: reported, never copied. */
                        k->o->damaged(l.v[i], r, k->o->userdata);
                        r = 0;
                        continue;
                }
                if (r >= 0)
                        r = cn_backend_put(cn_repo_backend(k->dst), l.v[i], k->obj.data, k->obj.len, CN_PUT_EXCLUSIVE);
                if (r >= 0)
                        (*copied)++;
                else if (r == -EEXIST)
                        r = 0;
                if (r < 0)
                        fail_object(k, l.v[i]);
        }
        return r;
}

static int copy_controller(Copy *k, CnSnapshot *snaps, size_t n) {
        char prefix[16 + CN_UUID_HEX];
        size_t todo = 0;
        int r;

        r = copy_objects(k, "holds", cn_hold_read_object, &k->stats->holds_copied);
        if (r >= 0)
                r = copy_objects(k, "grants", cn_grant_read_object, &k->stats->grants_copied);
        if (r >= 0)
                r = copy_objects(k, "retention", cn_retention_read_object, &k->stats->retention_copied);
        if (r >= 0)
                r = copy_objects(k, "requests", cn_request_read_object, &k->stats->requests_copied);
        if (r < 0)
                return r;
        snprintf(prefix, sizeof prefix, "snapshots/%s/", k->c->id_hex);
        r = list_ids(cn_repo_backend(k->dst), prefix, k->at_dst);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (snaps[i].controller != k->c)
                        continue;
                if (!set_has(k->at_dst, snaps[i].id)) {
                        todo++;
                        continue;
                }
                k->stats->snapshots_skipped++;
                if (k->o->on_snapshot)
                        k->o->on_snapshot(&snaps[i], false, k->o->userdata);
        }
        if (todo == 0)
                return 0;
        r = cn_store_open_tolerant(k->src, k->c, CN_STORE_KEYS, k->o->damaged, k->o->userdata, &k->from);
        if (r >= 0)
                r = cn_store_open_tolerant(k->dst, k->d, CN_STORE_KEYS | CN_STORE_WRITE, k->o->damaged, k->o->userdata,
                                           &k->to);
        if (r < 0)
                return r;
        /* Nothing to compress: the caller's thread appends, the writers put. */
        cn_store_set_workers(k->to, 1);
        for (size_t i = 0; i < n; i++) {
                CnSnapshot *s = &snaps[i];
                if (s->controller != k->c || set_has(k->at_dst, s->id))
                        continue;
                r = walk_snapshot(k, s);
                if (r >= 0)
                        r = CN_GROW(k->pending, k->cap_pending, k->n_pending);
                if (r < 0)
                        return r;
                k->pending[k->n_pending++] = s;
                if (--todo == 0 || k->sent_bytes + k->need_bytes >= BATCH_BYTES) {
                        r = commit(k);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static void copy_done(Copy *k) {
        if (k->to) {
                CnStoreStats st;
                cn_store_stats(k->to, &st);
                k->stats->packs_written += st.packs_written;
        }
        k->from = cn_store_free(k->from);
        k->to = cn_store_free(k->to);
        k->walked = cn_index_free(k->walked);
        k->at_dst = cn_index_free(k->at_dst);
        k->n_need = k->n_pending = 0;
        k->need_bytes = k->sent_bytes = 0;
}

int cn_copy_run(CnRepo *src, CnRepo *dst, CnSnapshot *snaps, size_t n, const CnCopyOptions *o, CnCopyStats *ret,
                CnCopyFailure *fail) {
        Copy k = {.src = src, .dst = dst, .o = o, .stats = ret, .fail = fail};
        size_t n_scope = o->controller ? 1 : cn_repo_n_controllers(src);
        int r = 0;

        *ret = (CnCopyStats){};
        if (fail)
                *fail = (CnCopyFailure){};
        if (!cn_repo_same_processor(src, dst))
                return -EXDEV;
        /* Every controller first: a destination that is not a replica, or
         * that lives where a controller has not authorised, gets nothing. */
        _cleanup_(cn_locations_done) CnLocations at = {};
        r = cn_locations_load(dst, NULL, NULL, &at);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_scope; i++) {
                CnController *c = o->controller ? o->controller : cn_repo_controller(src, i), *d;
                r = cn_repo_replica_controller(dst, c, &d);
                if (r >= 0 || r == -ENOENT)
                        r = cn_location_gate_with(src, c, &at, fail ? &fail->refusal : NULL);
                if (r < 0) {
                        if (fail)
                                fail->controller = c;
                        return r;
                }
        }
        k.key = cn_secret_new(CN_KEY_BYTES);
        if (!k.key)
                return -ENOMEM;
        cn_buf_init(&k.range, CN_MAX_PACK_BYTES);
        cn_buf_init(&k.tree, CN_MAX_TREE_BYTES);
        cn_buf_init(&k.obj, CN_MAX_META_BYTES);
        for (size_t i = 0; r >= 0 && i < n_scope; i++) {
                k.c = o->controller ? o->controller : cn_repo_controller(src, i);
                r = cn_repo_replica_controller(dst, k.c, &k.d);
                if (r == -ENOENT) {
                        r = cn_repo_controller_import(dst, k.c, &k.d);
                        if (r >= 0)
                                ret->controllers_added++;
                }
                if (r >= 0)
                        r = cn_index_new(&k.walked);
                if (r >= 0)
                        r = cn_index_new(&k.at_dst);
                if (r >= 0)
                        r = copy_controller(&k, snaps, n);
                if (r < 0 && fail && !fail->controller)
                        fail->controller = k.c;
                copy_done(&k);
        }
        free(k.need);
        free(k.pending);
        cn_buf_done(&k.range);
        cn_buf_done(&k.tree);
        cn_buf_done(&k.obj);
        cn_secret_free(k.key);
        return r;
}
