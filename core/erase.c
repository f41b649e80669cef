/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Erasure, in the steps of docs/FORMAT.md "Erasure":
 *   1. one store, whose session (kind 3) must be the only live one;
 *   2. an epoch change an earlier erasure left half done is finished;
 *   3. the request is put; the scope is found (which snapshots, entries,
 *      chunks; which chunks something outside the request keeps; which
 *      holds defer what);
 *   4. snapshots removed or rewritten without what the request reaches;
 *   5. collected as a prune with no unused bytes left (cn_prune_store());
 *   6. the epoch changes: new key, ledgers of the new epoch, the record,
 *      snapshots and other epoch-sealed objects again, the old ledgers and
 *      the old key gone at every key store location;
 *   7. a certificate. */
#include "erase.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "hex.h"
#include "hold.h"
#include "macro.h"
#include "pack.h"
#include "pattern.h"
#include "prune.h"
#include "restore.h"
#include "rewrite.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"

/* ---- the request object ---- */

static bool text_ok(const char *s, size_t min, size_t max) {
        size_t n = s ? strlen(s) : 0;
        return n >= min && n <= max;
}

static bool value_ok(CnEraseScope scope, const char *v, size_t n) {
        switch (scope) {
        case CN_ERASE_SNAPSHOT:
        case CN_ERASE_CONTROLLER: {
                size_t want = scope == CN_ERASE_SNAPSHOT ? CN_ID_HEX : CN_UUID_HEX;
                if (n != want)
                        return false;
                for (size_t i = 0; i < n; i++)
                        if (!((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
                                return false;
                return true;
        }
        case CN_ERASE_PATH:
                return n >= 1 && n <= 65536;
        case CN_ERASE_SUBJECT:
                return n >= 1 && n <= CN_MAX_SUBJECT_BYTES && !memchr(v, '/', n);
        }
        return false;
}

int cn_erase_request_encode(const CnEraseRequest *q, CnBuf *out) {
        const char *s[] = { q->reason ? q->reason : "", q->reference ? q->reference : "",
                            q->requester ? q->requester : "" };
        int r;
        if (!value_ok(q->scope, q->value, strlen(q->value)) || !text_ok(s[0], 0, 4096) ||
            !text_ok(s[1], 0, CN_MAX_LABEL_BYTES) || !text_ok(s[2], 0, CN_MAX_LABEL_BYTES))
                return -EINVAL;
        if ((r = cn_buf_put_u8(out, (uint8_t) q->scope)) < 0 ||
            (r = cn_buf_put_bytes32(out, q->value, strlen(q->value))) < 0)
                return r;
        for (size_t i = 0; i < 3; i++)
                if ((r = cn_buf_put_bytes32(out, s[i], strlen(s[i]))) < 0)
                        return r;
        return cn_buf_put_i64(out, q->created);
}

int cn_erase_request_decode(const uint8_t *p, size_t n, CnEraseRequest *ret) {
        static const size_t max[4] = { 65536, 4096, CN_MAX_LABEL_BYTES, CN_MAX_LABEL_BYTES };
        const uint8_t *s[4];
        size_t len[4];
        uint8_t scope;
        CnReader rd;

        cn_reader_init(&rd, p, n);
        if (cn_reader_u8(&rd, &scope) < 0 || scope < CN_ERASE_SNAPSHOT || scope > CN_ERASE_SUBJECT)
                return -EBADMSG;
        for (size_t i = 0; i < 4; i++)
                if (cn_reader_bytes32(&rd, max[i], &s[i], &len[i]) < 0 || memchr(s[i], '\0', len[i]))
                        return -EBADMSG;
        if (cn_reader_i64(&rd, &ret->created) < 0 || !cn_reader_empty(&rd) ||
            !value_ok(scope, (const char *) s[0], len[0]))
                return -EBADMSG;
        ret->scope = scope;
        /* The strings are not NUL-terminated in p: the caller copies them
         * (cn_erase_request_decode's users only compare the value). */
        ret->value = (const char *) s[0];
        ret->reason = (const char *) s[1];
        ret->reference = (const char *) s[2];
        ret->requester = (const char *) s[3];
        return 0;
}

/* ---- what a request reaches ---- */

typedef struct Scope {
        const CnEraseRequest *q;
        CnPatterns pattern;             /* CN_ERASE_PATH */
        bool root_reached;              /* ...matches "/": every entry */
        size_t subject_len;             /* CN_ERASE_SUBJECT */
        /* per walk */
        const CnSnapshot *at;
        char *drop_dir;                 /* inside this reached directory (malloc'd), or NULL */
        size_t drop_len;
        CnEraseScopeFn fn;
        void *userdata;
} Scope;

/* The pattern of a path scope, the length of a subject. */
static int scope_init(Scope *sc, const CnEraseRequest *q) {
        int r;
        *sc = (Scope) { .q = q, .subject_len = strlen(q->value) };
        if (q->scope != CN_ERASE_PATH)
                return 0;
        if ((r = cn_patterns_add(&sc->pattern, q->value)) < 0)
                return r;
        sc->root_reached = cn_patterns_match(&sc->pattern, "/");
        return 0;
}

static void scope_done(Scope *sc) {
        cn_patterns_done(&sc->pattern);
        free(sc->drop_dir);
        sc->drop_dir = NULL;
}

static bool reaches_entry(const Scope *sc, const char *path, size_t len, const CnNode *n) {
        switch (sc->q->scope) {
        case CN_ERASE_PATH:
                /* The root is no entry: a pattern that matches it reaches all below. */
                return sc->root_reached || cn_patterns_match_len(&sc->pattern, path, len);
        case CN_ERASE_SUBJECT:
                return cn_node_has_subject(n, sc->q->value, sc->subject_len);
        case CN_ERASE_SNAPSHOT:
        case CN_ERASE_CONTROLLER:
                break;          /* whole snapshots: removes_whole() */
        }
        return false;
}

/* A snapshot the request removes whole: scope 1 on it, scope 2. */
static bool removes_whole(const CnEraseRequest *q, const CnSnapshot *s) {
        return q->scope == CN_ERASE_CONTROLLER || (q->scope == CN_ERASE_SNAPSHOT && strcmp(s->id_hex, q->value) == 0);
}

static int scope_entry(const char *path, const CnNode *n, void *u) {
        Scope *sc = u;
        size_t len = strlen(path);
        CnEraseReach reach = CN_ERASE_OUT;

        /* Below a reached directory, everything is reached with it. */
        if (sc->drop_dir && !(len > sc->drop_len && path[sc->drop_len] == '/' &&
                              memcmp(path, sc->drop_dir, sc->drop_len) == 0)) {
                free(sc->drop_dir);
                sc->drop_dir = NULL;
        }
        if (sc->drop_dir)
                reach = CN_ERASE_BELOW;
        else if (removes_whole(sc->q, sc->at) || reaches_entry(sc, path, len, n)) {
                reach = CN_ERASE_ENTRY;
                if (n->type == CN_NODE_DIR) {
                        if (!(sc->drop_dir = strdup(path)))
                                return -ENOMEM;
                        sc->drop_len = len;
                }
        }
        return sc->fn(path, len, n, reach, sc->userdata);
}

static int scope_walk(Scope *sc, CnStore *store, const CnSnapshot *s, CnEraseScopeFn fn, void *userdata) {
        free(sc->drop_dir);
        sc->drop_dir = NULL;
        sc->at = s;
        sc->fn = fn;
        sc->userdata = userdata;
        return cn_walk(store, s->tree, "", scope_entry, sc);
}

int cn_erase_scope_walk(CnStore *store, const CnEraseRequest *q, const CnSnapshot *s, CnEraseScopeFn fn,
                        void *userdata) {
        Scope sc;
        int r = scope_init(&sc, q);
        if (r >= 0)
                r = scope_walk(&sc, store, s, fn, userdata);
        scope_done(&sc);
        return r;
}

/* ---- the run ---- */

typedef struct Erase {
        CnRepo *repo;
        CnController *c;
        const CnEraseRequest *q;
        const CnEraseOptions *o;
        CnEraseResult *res;
        CnStore *store;
        Scope scope;
        CnSnapshot *snaps;
        size_t n_snaps;
        CnHolds holds;
        bool *held;                     /* per snapshot */
        bool *reached;                  /* per snapshot: the request reaches it */
        bool *gone;                     /* ...removed without a successor (not held) */
        CnIndex *dropped_chunks;        /* chunks of the entries the request reaches */
        CnIndex *kept_chunks;           /* ...that something outside it needs */
        uint64_t dropped_bytes_of_kept;
        /* per walk */
        const CnSnapshot *at;
        bool for_keep;                  /* the second walk: find keepers */
        bool snap_held;
        uint64_t entries, bytes, files, dirs, others;
        uint64_t n_dropped, n_kept;     /* chunks in the sets */
        CnNames dropped_paths;          /* rewrite: the entries the request reached in this snapshot */
        char request_name[CN_ENVELOPE_NAME_MAX];
        uint8_t *pseudonym_key;         /* secret: KDF(domain root, 4, "cndomain"), for the certificate */
        uint8_t controller[CN_UUID_BYTES];
} Erase;

/* 1 if added, 0 if there already. */
static int set_add(CnIndex *set, const uint8_t id[CN_ID_BYTES]) {
        CnBlobLoc l = {};
        return cn_index_insert(set, id, &l);
}

static int keeper_add(Erase *e, const char *path) {
        CnEraseResult *res = e->res;
        if (res->n_kept_by >= CN_ERASE_MAX_KEEPERS)
                return 0;
        for (size_t i = 0; i < res->n_kept_by; i++)
                if (memcmp(res->kept_by[i].snapshot, e->at->id, CN_ID_BYTES) == 0 &&
                    strcmp(res->kept_by[i].path, path) == 0)
                        return 0;
        CnEraseKeeper *v = realloc(res->kept_by, (res->n_kept_by + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        res->kept_by = v;
        v[res->n_kept_by] = (CnEraseKeeper) { .held = e->snap_held };
        memcpy(v[res->n_kept_by].snapshot, e->at->id, CN_ID_BYTES);
        if (!(v[res->n_kept_by].path = strdup(path)))
                return -ENOMEM;
        res->n_kept_by++;
        return 0;
}

/* The first walk gathers what the request reaches (entries and their
 * chunks); the second, over what stays, which of those chunks it needs. */
static int walk_entry(const char *path, _unused_ size_t len, const CnNode *n, CnEraseReach reach, void *u) {
        Erase *e = u;
        int r;

        bool drop = reach != CN_ERASE_OUT;
        if (!e->for_keep) {
                if (!drop)
                        return 0;
                /* The entries the request reaches, not those below them. */
                if (reach == CN_ERASE_ENTRY && !removes_whole(e->q, e->at) &&
                    (r = cn_names_add(&e->dropped_paths, path)) < 0)
                        return r;
                e->entries++;
                if (n->type == CN_NODE_FILE)
                        e->files++, e->bytes += n->size;
                else if (n->type == CN_NODE_DIR)
                        e->dirs++;
                else
                        e->others++;
                for (size_t i = 0; i < n->n_chunks; i++)
                        if ((r = set_add(e->dropped_chunks, n->chunks[i])) > 0)
                                e->n_dropped++;
                        else if (r < 0)
                                return r;
                return 0;
        }
        /* Keepers: what stays (a held snapshot keeps everything for now). */
        if (drop && !e->snap_held)
                return n->type == CN_NODE_DIR ? 1 : 0;
        for (size_t i = 0; i < n->n_chunks; i++) {
                if (!cn_index_contains(e->dropped_chunks, n->chunks[i]))
                        continue;
                if ((r = set_add(e->kept_chunks, n->chunks[i])) > 0)
                        e->n_kept++;
                else if (r < 0)
                        return r;
                if ((r = keeper_add(e, path)) < 0)
                        return r;
        }
        return 0;
}

/* Whether path (a snapshot's path or error path) is one the request
 * reaches: it matches the pattern, or is (or lies under) an entry the
 * rewrite of this snapshot dropped (a backed-up directory tagged with the
 * subject names the subject). */
static bool path_reached(Erase *e, const char *path) {
        size_t n = strlen(path);
        for (size_t i = 0; i < e->dropped_paths.n; i++) {
                size_t dl = strlen(e->dropped_paths.v[i]);
                if (n >= dl && memcmp(path, e->dropped_paths.v[i], dl) == 0 &&
                    (n == dl || path[dl] == '/' || dl == 1))
                        return true;
        }
        if (e->q->scope != CN_ERASE_PATH)
                return false;
        if (e->scope.root_reached)
                return true;
        /* "/a/b/c" is reached if "/a", "/a/b" or "/a/b/c" matches. */
        for (size_t len = 1;; len++)
                if (path[len] == '/' || path[len] == '\0') {
                        if (cn_patterns_match_len(&e->scope.pattern, path, len))
                                return true;
                        if (path[len] == '\0')
                                return false;
                }
}

/* Whether the request reaches every path of s (after its first walk, which
 * gathers the entries it reaches): rewritten, it would hold nothing, so it
 * is removed without a successor, and no tree of it is written (execute()). */
static bool reaches_every_path(Erase *e, const CnSnapshot *s) {
        for (size_t j = 0; j < s->n_paths; j++)
                if (!path_reached(e, s->paths[j]))
                        return false;
        return true;
}

static int walk(Erase *e, const CnSnapshot *s, bool for_keep) {
        e->at = s;
        if (!for_keep)
                cn_names_done(&e->dropped_paths);
        e->for_keep = for_keep;
        e->entries = e->bytes = e->files = e->dirs = e->others = 0;
        return scope_walk(&e->scope, e->store, s, walk_entry, e);
}

static int deferred_add(Erase *e, const CnSnapshot *s, uint64_t entries) {
        CnEraseResult *res = e->res;
        for (size_t h = 0; h < e->holds.n; h++) {
                CnHolds one = { .v = &e->holds.v[h], .n = 1 };
                if (!cn_hold_active(&e->holds.v[h]) || !cn_hold_covers_snapshot(&one, s))
                        continue;
                CnEraseDeferred *d = NULL;
                for (size_t i = 0; i < res->n_deferred && !d; i++)
                        if (memcmp(res->deferred[i].hold, e->holds.v[h].id, CN_ID_BYTES) == 0)
                                d = &res->deferred[i];
                if (!d) {
                        CnEraseDeferred *v = realloc(res->deferred, (res->n_deferred + 1) * sizeof *v);
                        if (!v)
                                return -ENOMEM;
                        res->deferred = v;
                        d = &v[res->n_deferred++];
                        *d = (CnEraseDeferred) {};
                        memcpy(d->hold, e->holds.v[h].id, CN_ID_BYTES);
                }
                uint8_t(*ids)[CN_ID_BYTES] = realloc(d->snapshots, (d->n_snapshots + 1) * sizeof *ids);
                if (!ids)
                        return -ENOMEM;
                d->snapshots = ids;
                memcpy(ids[d->n_snapshots++], s->id, CN_ID_BYTES);
                d->entries += entries;
        }
        return 0;
}

/* What the request reaches, snapshot by snapshot, and what keeps chunks. */
static int find_scope(Erase *e) {
        CnEraseResult *res = e->res;
        int r;

        e->held = calloc(e->n_snaps ? e->n_snaps : 1, sizeof *e->held);
        e->reached = calloc(e->n_snaps ? e->n_snaps : 1, sizeof *e->reached);
        e->gone = calloc(e->n_snaps ? e->n_snaps : 1, sizeof *e->gone);
        if (!e->held || !e->reached || !e->gone)
                return -ENOMEM;
        for (size_t i = 0; i < e->n_snaps; i++) {
                const CnSnapshot *s = &e->snaps[i];
                bool paths = false;
                e->held[i] = cn_hold_covers_snapshot(&e->holds, s);
                if (e->q->scope == CN_ERASE_SNAPSHOT && !removes_whole(e->q, s))
                        continue;
                if ((r = walk(e, s, false)) < 0)
                        return r;
                for (size_t j = 0; j < s->n_paths; j++)
                        paths = paths || path_reached(e, s->paths[j]);
                for (size_t j = 0; j < s->n_errors; j++)
                        paths = paths || path_reached(e, s->errors[j].path);
                e->reached[i] = e->entries > 0 || paths || removes_whole(e->q, s);
                if (!e->reached[i])
                        continue;
                uint8_t(*ids)[CN_ID_BYTES] =
                        realloc(res->snapshots_touched, (res->n_snapshots_touched + 1) * sizeof *ids);
                if (!ids)
                        return -ENOMEM;
                res->snapshots_touched = ids;
                memcpy(ids[res->n_snapshots_touched++], s->id, CN_ID_BYTES);
                if (e->held[i]) {
                        if ((r = deferred_add(e, s, e->entries)) < 0)
                                return r;
                        continue;
                }
                res->counts.entries_erased += e->entries;
                res->counts.bytes_erased += e->bytes;
                e->gone[i] = removes_whole(e->q, s) || reaches_every_path(e, s);
                if (e->gone[i])
                        res->counts.snapshots_deleted++;
                else
                        res->counts.snapshots_rewritten++;
        }
        /* Held snapshots' chunks are needed for now too: the second walk
         * covers them whole. */
        for (size_t i = 0; i < e->n_snaps; i++) {
                const CnSnapshot *s = &e->snaps[i];
                if (e->gone[i])
                        continue;
                e->snap_held = e->held[i];
                if ((r = walk(e, s, true)) < 0)
                        return r;
        }
        res->chunks_reached = e->n_dropped;
        res->chunks_kept = e->n_kept;
        res->counts.chunks_destroyed = e->n_dropped - e->n_kept;
        return 0;
}

/* ---- rewriting ---- */

static bool rewrite_drop(const char *path, size_t len, const CnNode *n, void *u) {
        Erase *e = u;
        return reaches_entry(&e->scope, path, len, n);
}

/* Drop from v (n strings) those the request reaches. */
static void filter_paths(Erase *e, char **v, size_t *n) {
        size_t k = 0;
        for (size_t i = 0; i < *n; i++) {
                if (path_reached(e, v[i]))
                        free(v[i]);
                else
                        v[k++] = v[i];
        }
        *n = k;
}

static int rewrite_one(Erase *e, CnSnapshot *s) {
        CnRewriteOps ops = { .drop = rewrite_drop };
        CnRewriteStats st;
        uint8_t root[CN_ID_BYTES], failed[CN_ID_BYTES];
        int r;

        /* What goes, by kind, for the new snapshot's counts, and the
         * entries it reaches (path_reached()). */
        if ((r = walk(e, s, false)) < 0)
                return r;
        r = cn_tree_rewrite(e->store, s->tree, &ops, e, root, &st, failed);
        if (r < 0)
                return r;
        CnSnapshot n = *s;
        n.errors = NULL;
        n.paths = NULL;
        n.tags = NULL;
        /* A deep copy of the lists the new one may shorten. */
        n.paths = calloc(s->n_paths ? s->n_paths : 1, sizeof *n.paths);
        n.errors = calloc(s->n_errors ? s->n_errors : 1, sizeof *n.errors);
        n.tags = calloc(s->n_tags ? s->n_tags : 1, sizeof *n.tags);
        n.hostname = strdup(s->hostname);
        n.username = strdup(s->username);
        r = n.paths && n.errors && n.tags && n.hostname && n.username ? 0 : -ENOMEM;
        n.n_paths = n.n_errors = n.n_tags = 0;
        for (size_t i = 0; r >= 0 && i < s->n_paths; i++)
                if (!(n.paths[n.n_paths++] = strdup(s->paths[i])))
                        r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < s->n_tags; i++)
                if (!(n.tags[n.n_tags++] = strdup(s->tags[i])))
                        r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < s->n_errors; i++) {
                if (path_reached(e, s->errors[i].path))
                        continue;
                n.errors[n.n_errors] = s->errors[i];
                if (!(n.errors[n.n_errors++].path = strdup(s->errors[i].path)))
                        r = -ENOMEM;
        }
        if (r >= 0) {
                filter_paths(e, n.paths, &n.n_paths);
                memcpy(n.tree, root, CN_ID_BYTES);
                n.flags |= CN_SNAPSHOT_REWRITTEN;
                n.files -= CN_MIN(n.files, e->files);
                n.dirs -= CN_MIN(n.dirs, e->dirs);
                n.others -= CN_MIN(n.others, e->others);
                n.bytes -= CN_MIN(n.bytes, st.bytes);
        }
        /* A path stays (else the snapshot is gone: execute()). */
        if (r >= 0 && (r = cn_store_flush(e->store)) >= 0 && (r = cn_store_session_check(e->store)) >= 0)
                r = cn_snapshot_save(e->repo, &n);
        if (r >= 0 && memcmp(n.id, s->id, CN_ID_BYTES) != 0) {
                r = cn_snapshot_remove(e->repo, s);
                if (r == -ENOENT)
                        r = 0;
        }
        cn_snapshot_done(&n);
        cn_names_done(&e->dropped_paths);
        return r;
}

static int execute(Erase *e) {
        int r;
        for (size_t i = 0; i < e->n_snaps; i++) {
                CnSnapshot *s = &e->snaps[i];
                if (!e->reached[i] || e->held[i])
                        continue;
                if (e->gone[i]) {
                        r = cn_snapshot_remove(e->repo, s);
                        if (r < 0 && r != -ENOENT)
                                return r;
                        continue;
                }
                if ((r = rewrite_one(e, s)) < 0)
                        return r;
        }
        return 0;
}

/* ---- the epoch change ---- */

typedef struct LedgerRec {
        const uint8_t *pack_id, *pack_key, *pairs;
        uint32_t n;
} LedgerRec;

static int rec_cmp(const void *a, const void *b) {
        return memcmp(((const LedgerRec *) a)->pack_id, ((const LedgerRec *) b)->pack_id, CN_ID_BYTES);
}

static int list_kind(Erase *e, const char *kind, CnNames *ret) {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s/%s/", kind, e->c->id_hex);
        return cn_backend_list_names(cn_repo_backend(e->repo), prefix, ret);
}

/* Step 7: ledgers of epoch next naming every pack that is there, with
 * the keys of its blobs, except those of exclude (the destroyed chunks). */
static int write_ledgers(Erase *e, uint32_t next) {
        _cleanup_(cn_names_done) CnNames names = {}, data = {};
        _cleanup_(cn_index_freep) CnIndex *present = NULL, *covered = NULL;
        CnBackend *b = cn_repo_backend(e->repo);
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf plain = CN_BUF_INIT_SECRET(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf sealed = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_free_ uint8_t *keep = NULL;
        CnBuf *bodies = NULL;
        size_t n_bodies = 0, n_recs = 0;
        LedgerRec *recs = NULL;
        uint32_t in_ledger = 0;
        int r;

        if ((r = cn_index_new(&present)) < 0 || (r = cn_index_new(&covered)) < 0 || (r = list_kind(e, "data", &data)) < 0 ||
            (r = list_kind(e, "ledger", &names)) < 0)
                return r;
        for (size_t i = 0; i < data.n; i++) {
                uint8_t id[CN_ID_BYTES];
                if (cn_hex_decode(strrchr(data.v[i], '/') + 1, id, CN_ID_BYTES) >= 0 && (r = set_add(present, id)) < 0)
                        return r;
        }
        bodies = calloc(names.n ? names.n : 1, sizeof *bodies);
        if (!bodies)
                return -ENOMEM;
        for (size_t i = 0; i < names.n; i++) {
                CnEnvelopeHeader h;
                CnBuf *body = &bodies[n_bodies];
                cn_buf_init_secret(body, CN_MAX_META_BYTES);
                n_bodies++;
                r = cn_backend_get(b, names.v[i], 0, CN_GET_ALL, &obj);
                if (r == -ENOENT)
                        continue;
                if (r >= 0)
                        r = cn_envelope_peek(obj.data, obj.len, CN_MAGIC_LEDGER, &h);
                if (r >= 0 && h.epoch != e->c->epoch && h.epoch != next)
                        continue;       /* of an epoch gone: opens no more */
                if (r >= 0)
                        r = cn_controller_open(e->repo, e->c, CN_MAGIC_LEDGER, obj.data, obj.len, &h, body);
                if (r < 0) {
                        if (cn_store_error_is_environment(r))
                                goto done;
                        r = 0;  /* damaged: its packs have no keys anyway */
                        continue;
                }
                _cleanup_free_ CnLedgerPack *v = NULL;
                size_t n;
                if (cn_ledger_decode(body->data, body->len, h.version, &v, &n) < 0)
                        continue;
                for (size_t j = 0; j < n; j++) {
                        if (h.epoch == next) {
                                if ((r = set_add(covered, v[j].pack_id)) < 0)
                                        goto done;
                                continue;
                        }
                        if (!cn_index_contains(present, v[j].pack_id) || !v[j].pack_key)
                                continue;
                        LedgerRec *nr = realloc(recs, (n_recs + 1) * sizeof *nr);
                        if (!nr) {
                                r = -ENOMEM;
                                goto done;
                        }
                        recs = nr;
                        recs[n_recs++] = (LedgerRec) { v[j].pack_id, v[j].pack_key, v[j].pairs, v[j].n };
                }
        }
        if (n_recs > 1)
                qsort(recs, n_recs, sizeof *recs, rec_cmp);
        /* Put them in ledgers of up to CN_MAX_LEDGER_PACKS packs and about
         * 64 MiB each; a pack two old ledgers named goes in once. */
        r = cn_buf_put_u32(&plain, 0);
        for (size_t i = 0; r >= 0 && i <= n_recs; i++) {
                bool last = i == n_recs;
                if (!last && ((i > 0 && memcmp(recs[i - 1].pack_id, recs[i].pack_id, CN_ID_BYTES) == 0) ||
                              cn_index_contains(covered, recs[i].pack_id)))
                        continue;
                if (in_ledger > 0 && (last || in_ledger == CN_MAX_LEDGER_PACKS || plain.len > (64u << 20))) {
                        char name[CN_ENVELOPE_NAME_MAX];
                        uint8_t id[CN_ID_BYTES];
                        cn_le32_put(plain.data, in_ledger);
                        cn_buf_reset(&sealed);
                        if ((r = cn_controller_seal_at(e->repo, e->c, CN_MAGIC_LEDGER, next, plain.data, plain.len,
                                                       &sealed)) < 0)
                                break;
                        cn_envelope_content_name("ledger", e->c->id_hex, sealed.data, sealed.len, id, name);
                        if ((r = cn_backend_put(b, name, sealed.data, sealed.len, CN_PUT_EXCLUSIVE)) < 0 &&
                            r != -EEXIST)
                                break;
                        r = cn_store_session_refresh(e->store);
                        cn_buf_reset(&plain);
                        if (r >= 0)
                                r = cn_buf_put_u32(&plain, 0);
                        in_ledger = 0;
                }
                if (last || r < 0)
                        break;
                /* The keys of its blobs, but never one of a destroyed chunk. */
                const size_t pair = CN_ID_BYTES + CN_KEY_BYTES;
                free(keep);
                keep = malloc((size_t) recs[i].n * pair + 1);
                if (!keep) {
                        r = -ENOMEM;
                        break;
                }
                uint32_t k = 0;
                for (uint32_t j = 0; j < recs[i].n; j++) {
                        const uint8_t *p = recs[i].pairs + (size_t) j * pair;
                        if (cn_index_contains(e->dropped_chunks, p) && !cn_index_contains(e->kept_chunks, p))
                                continue;
                        memcpy(keep + (size_t) k++ * pair, p, pair);
                }
                if (k == 0)
                        continue;
                r = cn_ledger_encode_pack(&plain, recs[i].pack_id, recs[i].pack_key, k, keep, pair, keep + CN_ID_BYTES,
                                          pair);
                cn_memzero(keep, (size_t) recs[i].n * pair);
                in_ledger++;
        }
done:
        for (size_t i = 0; i < n_bodies; i++)
                cn_buf_done(&bodies[i]);
        free(bodies);
        free(recs);
        return r;
}

/* Step 9: every object of the controller sealed under an epoch's key,
 * sealed again under the current one (snapshots in place; damage records
 * and deferred requests under new names); plans removed; the request of
 * this run removed when done (done) or kept. */
static int reseal(Erase *e, bool done) {
        CnBackend *b = cn_repo_backend(e->repo);
        CnSnapshot *snaps = NULL;
        size_t n = 0;
        int r;

        r = cn_snapshot_list(e->repo, e->c, e->o->damaged, e->o->userdata, &snaps, &n);
        for (size_t i = 0; r >= 0 && i < n; i++)
                r = cn_snapshot_reseal(e->repo, &snaps[i], e->c->epoch);
        cn_snapshots_free(snaps, n);
        if (r < 0)
                return r;
        static const struct {
                const char *kind, *magic;
        } kinds[] = { { "damage", CN_MAGIC_DAMAGE }, { "prune", CN_MAGIC_PLAN }, { "erasures", CN_MAGIC_ERASURE } };
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT_SECRET(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf out = CN_BUF_INIT(CN_MAX_META_BYTES);
        for (size_t k = 0; k < CN_ELEMENTSOF(kinds); k++) {
                _cleanup_(cn_names_done) CnNames names = {};
                if ((r = list_kind(e, kinds[k].kind, &names)) < 0)
                        return r;
                for (size_t i = 0; i < names.n; i++) {
                        CnEnvelopeHeader h;
                        bool ours = strcmp(names.v[i], e->request_name) == 0;
                        if (strcmp(kinds[k].kind, "prune") == 0 || (ours && done)) {
                                r = cn_backend_remove(b, names.v[i]);
                                if (r < 0 && r != -ENOENT)
                                        return r;
                                continue;
                        }
                        r = cn_backend_get(b, names.v[i], 0, CN_GET_ALL, &obj);
                        if (r == -ENOENT)
                                continue;
                        if (r >= 0)
                                r = cn_controller_open(e->repo, e->c, kinds[k].magic, obj.data, obj.len, &h, &body);
                        if (r >= 0 && h.epoch == e->c->epoch)
                                continue;
                        if (r < 0 && cn_store_error_is_environment(r))
                                return r;
                        if (r >= 0) {
                                uint8_t id[CN_ID_BYTES];
                                char name[CN_ENVELOPE_NAME_MAX];
                                cn_buf_reset(&out);
                                if ((r = cn_controller_seal(e->repo, e->c, kinds[k].magic, body.data, body.len, &out)) <
                                    0)
                                        return r;
                                cn_envelope_content_name(kinds[k].kind, e->c->id_hex, out.data, out.len, id, name);
                                if ((r = cn_backend_put(b, name, out.data, out.len, CN_PUT_EXCLUSIVE)) < 0 &&
                                    r != -EEXIST)
                                        return r;
                                if (ours)
                                        snprintf(e->request_name, sizeof e->request_name, "%s", name);
                        }
                        /* Sealed again, or not opening under any key there is. */
                        r = cn_backend_remove(b, names.v[i]);
                        if (r < 0 && r != -ENOENT)
                                return r;
                }
        }
        return 0;
}

static void location_result(const char *url, int result, void *u) {
        CnEraseResult *res = u;
        for (size_t i = 0; i < res->n_locations; i++)
                if (strcmp(res->locations[i], url) == 0) {
                        res->location_results[i] = result;
                        return;
                }
        char **v = realloc(res->locations, (res->n_locations + 1) * sizeof *v);
        int *w = v ? realloc(res->location_results, (res->n_locations + 1) * sizeof *w) : NULL;
        if (v)
                res->locations = v;
        if (!w || !(v[res->n_locations] = strdup(url)))
                return;
        res->location_results = w;
        w[res->n_locations++] = result;
}

/* Steps 6 to 11, from wherever an earlier run stopped. */
static int change_epoch(Erase *e, bool done) {
        CnEraseResult *res = e->res;
        CnController *c = e->c;
        int r;

        if (c->ks->n_keys == 1) {
                res->epoch_from = c->epoch;
                r = cn_repo_epoch_add(e->repo, c, e->o->next_epoch, e->o->next_key, location_result, res);
                if (r < 0)
                        return r;
        }
        uint32_t next = cn_controller_next_epoch(c);
        if (next) {
                if (!res->epoch_from)
                        res->epoch_from = c->epoch;
                if ((r = write_ledgers(e, next)) < 0 || (r = cn_repo_epoch_switch(e->repo, c)) < 0)
                        return r;
        } else if (!res->epoch_from)
                res->epoch_from = c->ks->epochs[0];
        res->epoch_to = c->epoch;
        if ((r = reseal(e, done)) < 0)
                return r;
        /* Step 10: every ledger of another epoch. */
        _cleanup_(cn_names_done) CnNames names = {};
        _cleanup_(cn_buf_donep) CnBuf head = CN_BUF_INIT(CN_MAX_META_BYTES);
        if ((r = list_kind(e, "ledger", &names)) < 0)
                return r;
        for (size_t i = 0; i < names.n; i++) {
                CnEnvelopeHeader h;
                r = cn_backend_get(cn_repo_backend(e->repo), names.v[i], 0, CN_ENVELOPE_HEADER_BYTES, &head);
                if (r == -ENOENT)
                        continue;
                if (r < 0 && cn_store_error_is_environment(r))
                        return r;
                if (r >= 0 && head.len == CN_ENVELOPE_HEADER_BYTES && cn_le32_get(head.data + CN_ENVELOPE_HEADER_BYTES - 4) == c->epoch)
                        continue;
                (void) h;
                r = cn_backend_remove(cn_repo_backend(e->repo), names.v[i]);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        /* Step 11: the old key, gone everywhere. */
        r = cn_repo_epoch_drop(e->repo, c, location_result, res);
        if (r < 0)
                return r;
        res->locations_failed = (size_t) r;
        res->cryptographically_complete = r == 0;
        res->complete_at = time(NULL);
        return 0;
}

/* ---- a whole controller ---- */

static int destroy_controller(Erase *e) {
        static const char *const kinds[] = { "snapshots", "holds",  "grants",  "erasures",  "prune",    "damage",
                                             "index",     "data",   "ledger",  "writers",   "retention", "requests" };
        CnBackend *b = cn_repo_backend(e->repo);
        int r;

        e->store = cn_store_free(e->store);     /* its session goes first */
        for (size_t k = 0; k < CN_ELEMENTSOF(kinds); k++) {
                _cleanup_(cn_names_done) CnNames names = {};
                if ((r = list_kind(e, kinds[k], &names)) < 0)
                        return r;
                for (size_t i = 0; i < names.n; i++)
                        if ((r = cn_backend_remove(b, names.v[i])) < 0 && r != -ENOENT)
                                return r;
        }
        e->res->epoch_from = e->c->epoch;
        r = cn_repo_controller_destroy(e->repo, e->c, location_result, e->res);
        e->c = NULL;
        if (r < 0)
                return r;
        e->res->locations_failed = (size_t) r;
        e->res->controller_destroyed = true;
        e->res->cryptographically_complete = r == 0;
        e->res->complete_at = time(NULL);
        return 0;
}

/* ---- the certificate ---- */

static const char *const residual[] = {
        "holds and releases of the controller (their reasons, references and path patterns), its retention "
        "policies and its request records (references, notes and dates; a request's subject or path only as a "
        "pseudonym) are sealed under a key the erasure does not change: old copies still show them to anyone "
        "holding a password, and an erasure of a subject or path leaves its request records in place",
        "writer sessions of the controller name hosts and process ids, under the same key",
        "the controller's audit log keeps its entries (what was done, when, to which snapshot ids), with hosts, "
        "paths, subjects and names only as pseudonyms that the controller's keys resolve",
        "the number, sizes and times of the repository's objects are visible to anyone who can read the "
        "storage",
};

static int issue_certificate(Erase *e) {
        CnEraseResult *res = e->res;
        CnCertificate cert = {
                .reference = e->q->reference,
                .reason = e->q->reason,
                .requested_at = e->q->created,
                .started_at = res->started,
                .completed_at = time(NULL),
                .cryptographically_complete = res->cryptographically_complete && !res->n_deferred,
                .cryptographically_complete_at = res->complete_at,
                .epoch_from = res->epoch_from,
                .epoch_to = res->epoch_to,
                .counts = res->counts,
                .residual = residual,
                .n_residual = CN_ELEMENTSOF(residual),
        };
        static const CnCertificateScope scopes[] = {
                [CN_ERASE_SNAPSHOT] = CN_CERTIFICATE_SCOPE_SNAPSHOT,
                [CN_ERASE_CONTROLLER] = CN_CERTIFICATE_SCOPE_CONTROLLER,
                [CN_ERASE_PATH] = CN_CERTIFICATE_SCOPE_PATH,
                [CN_ERASE_SUBJECT] = CN_CERTIFICATE_SCOPE_SUBJECT,
        };
        size_t nl = res->n_locations + res->n_replicas + 1;
        _cleanup_free_ CnCertificateLocation *loc = calloc(nl, sizeof *loc);
        _cleanup_free_ CnCertificateKeeper *keepers = calloc(res->n_kept_by + 1, sizeof *keepers);
        _cleanup_free_ CnCertificateDeferred *def = calloc(res->n_deferred + 1, sizeof *def);
        _cleanup_(cn_buf_donep) CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        CnCertificateRetained kept = { .chunks = res->chunks_kept, .kept_by = keepers, .n_kept_by = res->n_kept_by };

        if (!loc || !keepers || !def)
                return -ENOMEM;
        memcpy(cert.controller, e->controller, CN_UUID_BYTES);
        cert.scope = scopes[e->q->scope];
        if (e->q->scope == CN_ERASE_SNAPSHOT)
                cn_hex_decode(e->q->value, cert.value_pseudonym, CN_ID_BYTES);
        else
                cn_id_hmac(cert.value_pseudonym, e->q->value, strlen(e->q->value), e->pseudonym_key);
        loc[0] = (CnCertificateLocation) { .url = cn_backend_url(cn_repo_backend(e->repo)),
                                            .kind = CN_CERTIFICATE_LOCATION_REPOSITORY,
                                            .status = CN_CERTIFICATE_LOCATION_DONE };
        /* The repository's URL without a password it may hold. */
        char redacted[4096];
        const char *pb, *pe, *url = loc[0].url;
        if (cn_backend_url_password(url, &pb, &pe))
                snprintf(redacted, sizeof redacted, "%.*s%s", (int) (pb - url), url, pe);
        else
                snprintf(redacted, sizeof redacted, "%s", url);
        loc[0].url = redacted;
        for (size_t i = 0; i < res->n_locations; i++)
                loc[i + 1] = (CnCertificateLocation) {
                        .url = res->locations[i],
                        .kind = CN_CERTIFICATE_LOCATION_KEY_STORE,
                        .status = res->location_results[i] == 0 ? CN_CERTIFICATE_LOCATION_DONE
                                                                : CN_CERTIFICATE_LOCATION_UNREACHABLE,
                };
        for (size_t i = 0; i < res->n_replicas; i++)
                loc[1 + res->n_locations + i] = (CnCertificateLocation) {
                        .url = res->replicas[i],
                        .kind = CN_CERTIFICATE_LOCATION_REPLICA,
                        .status = res->replica_results[i] == 0 ? CN_CERTIFICATE_LOCATION_DONE
                                                               : CN_CERTIFICATE_LOCATION_UNREACHABLE,
                };
        cert.locations = loc;
        cert.n_locations = nl;
        for (size_t i = 0; i < res->n_kept_by; i++) {
                memcpy(keepers[i].snapshot, res->kept_by[i].snapshot, CN_ID_BYTES);
                cn_id_hmac(keepers[i].path_pseudonym, res->kept_by[i].path, strlen(res->kept_by[i].path),
                           e->pseudonym_key);
        }
        if (res->chunks_kept) {
                cert.retained = &kept;
                cert.n_retained = 1;
        }
        for (size_t i = 0; i < res->n_deferred; i++) {
                memcpy(def[i].hold, res->deferred[i].hold, CN_ID_BYTES);
                def[i].snapshots = (const uint8_t(*)[CN_ID_BYTES]) res->deferred[i].snapshots;
                def[i].n_snapshots = res->deferred[i].n_snapshots;
                def[i].entries = res->deferred[i].entries;
        }
        cert.deferred = def;
        cert.n_deferred = res->n_deferred;
        size_t replicas_failed = 0;
        for (size_t i = 0; i < res->n_replicas; i++)
                replicas_failed += res->replica_results[i] != 0;
        cert.status = res->n_deferred                                  ? CN_CERTIFICATE_DEFERRED
                      : res->locations_failed + replicas_failed > 0 ? CN_CERTIFICATE_PARTIAL
                                                                      : CN_CERTIFICATE_COMPLETE;
        if (cert.status != CN_CERTIFICATE_COMPLETE)
                cert.cryptographically_complete = false;
        return cn_certificate_issue(e->repo, &cert, &file, res->certificate);
}

/* ---- the whole run ---- */

/* Step 1: this session must be the only live one; dead ones go. */
static int alone(Erase *e) {
        CnSessionInfo *v = NULL;
        size_t n = 0;
        const char *mine = cn_store_session_name(e->store);
        int r = cn_sessions_list(e->repo, e->c, time(NULL), e->o->damaged, e->o->userdata, &v, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                if (mine && strcmp(v[i].name, mine) == 0)
                        continue;
                if (!v[i].stale)
                        r = -EBUSY;
                else if ((r = cn_backend_remove(cn_repo_backend(e->repo), v[i].name)) == -ENOENT)
                        r = 0;
        }
        cn_sessions_free(v, n);
        return r;
}

/* A request of the same scope and value is this erasure's, put by a run
 * stopped before its end (or deferred by a hold): 1 and its name in
 * e->request_name, so that the run carries it on and removes it when done,
 * instead of leaving it behind for good (it names what was erased). body
 * is this run's request; both start with scope and value. */
static int find_request(Erase *e, const CnBuf *body) {
        _cleanup_(cn_names_done) CnNames names = {};
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf other = CN_BUF_INIT_SECRET(CN_MAX_META_BYTES);
        const size_t head = 1 + 4 + strlen(e->q->value);
        int r;

        if ((r = list_kind(e, "erasures", &names)) < 0)
                return r;
        for (size_t i = 0; i < names.n; i++) {
                CnEnvelopeHeader h;
                CnEraseRequest q;
                r = cn_backend_get(cn_repo_backend(e->repo), names.v[i], 0, CN_GET_ALL, &obj);
                if (r >= 0)
                        r = cn_controller_open(e->repo, e->c, CN_MAGIC_ERASURE, obj.data, obj.len, &h, &other);
                if (r < 0 && r != -ENOENT && cn_store_error_is_environment(r))
                        return r;
                if (r < 0 || cn_erase_request_decode(other.data, other.len, &q) < 0 || other.len < head ||
                    memcmp(other.data, body->data, head) != 0)
                        continue;
                snprintf(e->request_name, sizeof e->request_name, "%s", names.v[i]);
                return 1;
        }
        return 0;
}

static int put_request(Erase *e) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        uint8_t id[CN_ID_BYTES];
        int r;
        if ((r = cn_erase_request_encode(e->q, &body)) < 0 || (r = find_request(e, &body)) < 0)
                return r;
        if (r > 0)
                return 0;       /* an earlier run's, carried on */
        if ((r = cn_controller_seal(e->repo, e->c, CN_MAGIC_ERASURE, body.data, body.len, &obj)) < 0)
                return r;
        cn_envelope_content_name("erasures", e->c->id_hex, obj.data, obj.len, id, e->request_name);
        return cn_backend_put(cn_repo_backend(e->repo), e->request_name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
}

static int run(Erase *e) {
        const CnEraseOptions *o = e->o;
        unsigned flags = CN_STORE_KEYS | CN_STORE_PRUNE | CN_STORE_ALL_LOCATIONS |
                         (o->dry_run ? 0 : CN_STORE_WRITE | CN_STORE_ERASE);
        size_t damaged_holds = 0;
        int r;

        if (e->c->format != 2)
                return -EOPNOTSUPP;
        memcpy(e->controller, e->c->id, CN_UUID_BYTES);
        e->pseudonym_key = cn_secret_new(CN_KEY_BYTES);
        if (!e->pseudonym_key)
                return -ENOMEM;
        if ((r = cn_kdf_derive(e->pseudonym_key, CN_KEY_BYTES, CN_SUBKEY_PSEUDONYM, CN_KDF_CTX_DOMAIN, e->c->root)) < 0)
                return r;
        if ((r = scope_init(&e->scope, e->q)) < 0)
                return r;
        if ((r = cn_index_new(&e->dropped_chunks)) < 0 || (r = cn_index_new(&e->kept_chunks)) < 0)
                return r;
        r = cn_store_open_tolerant(e->repo, e->c, flags, o->damaged, o->userdata, &e->store);
        if (r < 0)
                return r;
        if (!o->dry_run && (r = alone(e)) < 0)
                return r;
        /* Step 1 of FORMAT.md: an epoch change left half done is finished. */
        if (!o->dry_run && e->c->ks->n_keys > 1 && (r = change_epoch(e, false)) < 0)
                return r;
        r = cn_holds_load(e->repo, e->c, o->damaged, o->userdata, &e->holds, &damaged_holds);
        if (r < 0)
                return r;
        if (damaged_holds)
                return -EUCLEAN;        /* an object that may be a hold: nothing is deleted */
        r = cn_snapshot_list(e->repo, e->c, o->damaged, o->userdata, &e->snaps, &e->n_snaps);
        if (r < 0)
                return r;
        if (e->q->scope == CN_ERASE_SNAPSHOT) {
                bool found = false;
                for (size_t i = 0; i < e->n_snaps; i++)
                        found = found || strcmp(e->snaps[i].id_hex, e->q->value) == 0;
                if (!found && !o->next_key)
                        return -ENOENT; /* (a replica may lack it: it still follows the epoch change) */
        }
        if ((r = find_scope(e)) < 0)
                return r;
        if (o->dry_run)
                return 0;
        if (o->request_name)
                snprintf(e->request_name, sizeof e->request_name, "%s", o->request_name);
        else if ((r = put_request(e)) < 0)
                return r;
        if ((r = execute(e)) < 0)
                return r;
        if ((r = cn_store_flush(e->store)) < 0 || (r = cn_store_session_check(e->store)) < 0)
                return r;
        bool deferred = e->res->n_deferred > 0;
        if (e->q->scope == CN_ERASE_CONTROLLER && !deferred) {
                r = destroy_controller(e);
        } else {
                CnPruneOptions po = { .max_unused = 0 };
                CnPruneStats ps;
                r = cn_prune_store(e->repo, e->store, &po, &ps);
                if (r < 0)
                        return r;
                e->res->counts.packs_deleted = ps.packs_deleted;
                e->res->counts.packs_rewritten = ps.packs_repacked;
                e->res->counts.keys_destroyed = ps.blobs_deleted;
                r = change_epoch(e, !deferred);
        }
        if (r < 0)
                return r;
        if (o->replicas) {
                r = o->replicas(e->q, e->controller, e->c ? e->c->epoch : 0, e->c ? e->c->epoch_key : NULL, e->res,
                                o->replicas_userdata);
                if (r < 0)
                        return r;
                bool failed = false;
                for (size_t i = 0; i < e->res->n_replicas; i++)
                        failed = failed || e->res->replica_results[i] != 0;
                /* The request stays, for 'erase --pending' to take to them. */
                if (failed && e->c && !deferred && (r = put_request(e)) < 0)
                        return r;
        }
        return o->next_key ? 0 : issue_certificate(e);
}

int cn_erase_result_add_replica(CnEraseResult *r, const char *url, int result) {
        char **v = realloc(r->replicas, (r->n_replicas + 1) * sizeof *v);
        if (!v)
                return -ENOMEM;
        r->replicas = v;
        int *w = realloc(r->replica_results, (r->n_replicas + 1) * sizeof *w);
        if (!w)
                return -ENOMEM;
        r->replica_results = w;
        if (!(v[r->n_replicas] = strdup(url)))
                return -ENOMEM;
        w[r->n_replicas++] = result;
        return 0;
}

void cn_erase_result_done(CnEraseResult *r) {
        for (size_t i = 0; i < r->n_kept_by; i++)
                free(r->kept_by[i].path);
        free(r->kept_by);
        for (size_t i = 0; i < r->n_deferred; i++)
                free(r->deferred[i].snapshots);
        free(r->deferred);
        free(r->snapshots_touched);
        for (size_t i = 0; i < r->n_locations; i++)
                free(r->locations[i]);
        free(r->locations);
        free(r->location_results);
        for (size_t i = 0; i < r->n_replicas; i++)
                free(r->replicas[i]);
        free(r->replicas);
        free(r->replica_results);
        *r = (CnEraseResult) {};
}

typedef struct Pending {
        char *name;
        CnEraseRequest q;
        char *strings[4];
} Pending;

static int pending_cmp(const void *a, const void *b) {
        const Pending *x = a, *y = b;
        return x->q.created < y->q.created ? -1 : x->q.created > y->q.created ? 1 : strcmp(x->name, y->name);
}

static void pending_free(Pending *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                for (size_t k = 0; k < 4; k++)
                        free(v[i].strings[k]);
        }
        free(v);
}

/* The requests of c that remain, oldest first. */
static int pending_load(CnRepo *repo, CnController *c, const CnEraseOptions *o, Pending **ret, size_t *ret_n) {
        _cleanup_(cn_names_done) CnNames names = {};
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);
        Pending *v = NULL;
        size_t n = 0;
        char prefix[64];
        int r;

        *ret = NULL;
        *ret_n = 0;
        if (c->format != 2)
                return 0;
        snprintf(prefix, sizeof prefix, "erasures/%s/", c->id_hex);
        r = cn_backend_list_names(cn_repo_backend(repo), prefix, &names);
        for (size_t i = 0; r >= 0 && i < names.n; i++) {
                CnEraseRequest q;
                r = cn_backend_get(cn_repo_backend(repo), names.v[i], 0, CN_GET_ALL, &obj);
                if (r >= 0)
                        r = cn_envelope_check_content_name(names.v[i], obj.data, obj.len);
                if (r >= 0)
                        r = cn_controller_open(repo, c, CN_MAGIC_ERASURE, obj.data, obj.len, NULL, &body);
                if (r >= 0)
                        r = cn_erase_request_decode(body.data, body.len, &q);
                if (r < 0) {
                        if (cn_store_error_is_environment(r) && r != -ENOENT)
                                break;
                        if (r != -ENOENT && o && o->damaged)
                                o->damaged(names.v[i], r, o->userdata);
                        r = 0;
                        continue;
                }
                Pending *w = realloc(v, (n + 1) * sizeof *w);
                if (!w) {
                        r = -ENOMEM;
                        break;
                }
                v = w;
                Pending *p = &v[n++];
                *p = (Pending) { .q = q, .name = strdup(names.v[i]) };
                /* The strings lie in body, without NULs: copies. */
                CnReader rd;
                uint8_t scope;
                cn_reader_init(&rd, body.data, body.len);
                cn_reader_u8(&rd, &scope);
                for (size_t k = 0; k < 4; k++) {
                        const uint8_t *sp;
                        size_t len;
                        cn_reader_bytes32(&rd, SIZE_MAX, &sp, &len);
                        p->strings[k] = strndup((const char *) sp, len);
                        if (!p->strings[k] || !p->name)
                                r = -ENOMEM;
                }
                p->q.value = p->strings[0], p->q.reason = p->strings[1], p->q.reference = p->strings[2],
                p->q.requester = p->strings[3];
        }
        if (r < 0) {
                pending_free(v, n);
                return r;
        }
        if (n > 1)
                qsort(v, n, sizeof *v, pending_cmp);
        *ret = v;
        *ret_n = n;
        return 0;
}

int cn_erase_pending(CnRepo *repo, CnController *c, const CnEraseOptions *o, CnErasePendingFn fn, void *userdata) {
        Pending *v;
        size_t n;
        int first = 0;
        int r = pending_load(repo, c, o, &v, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                CnEraseOptions po = o ? *o : (CnEraseOptions) {};
                CnEraseResult res;
                po.request_name = v[i].name;
                int k = cn_erase(repo, c, &v[i].q, &po, &res);
                if (fn)
                        fn(&v[i].q, k, &res, userdata);
                if (k < 0 && !first)
                        first = k;
                bool gone = res.controller_destroyed;
                cn_erase_result_done(&res);
                if (gone)
                        break;  /* c is freed */
        }
        pending_free(v, n);
        return first;
}

/* cn_walk callback: stops at the first entry the request reaches. */
static int restricted_entry(const char *path, const CnNode *n, void *u) {
        Erase *e = u;
        return reaches_entry(&e->scope, path, strlen(path), n) ? -ECANCELED : 0;
}

int cn_erase_restricted(CnRepo *repo, CnStore *store, const CnSnapshot *s, bool *ret) {
        Pending *v;
        size_t n;
        int r = pending_load(repo, s->controller, NULL, &v, &n);
        *ret = false;
        for (size_t i = 0; r >= 0 && i < n && !*ret; i++) {
                Erase e = { .repo = repo, .c = s->controller, .q = &v[i].q, .store = store };
                if ((r = scope_init(&e.scope, e.q)) < 0)
                        break;
                if (removes_whole(e.q, s))
                        *ret = true;
                else if (v[i].q.scope == CN_ERASE_PATH || v[i].q.scope == CN_ERASE_SUBJECT) {
                        for (size_t j = 0; j < s->n_paths; j++)
                                *ret = *ret || path_reached(&e, s->paths[j]);
                        if (!*ret) {
                                r = cn_walk(store, s->tree, "", restricted_entry, &e);
                                if (r == -ECANCELED)
                                        *ret = true, r = 0;
                        }
                }
                scope_done(&e.scope);
        }
        pending_free(v, n);
        return r;
}

typedef struct Reach {
        Erase *e;               /* one per request */
        size_t n;
        CnBuf dir;              /* the directory a request reaches that the walk is below, "" if none */
        uint64_t bytes;
} Reach;

/* cn_walk callback: the sizes of the file entries any request reaches, or
 * that lie below a directory one reaches (depth first: the walk leaves such
 * a directory's entries before any other path). */
static int reach_entry(const char *path, const CnNode *n, void *u) {
        Reach *x = u;
        size_t len = strlen(path);
        bool below = x->dir.len && len > x->dir.len && memcmp(path, x->dir.data, x->dir.len) == 0 &&
                     path[x->dir.len] == '/';
        bool reached = below;
        for (size_t i = 0; !reached && i < x->n; i++)
                reached = reaches_entry(&x->e[i].scope, path, len, n) ||
                          (x->e[i].q->scope == CN_ERASE_PATH && path_reached(&x->e[i], path));
        if (!below)
                cn_buf_reset(&x->dir);
        if (reached && !below && n->type == CN_NODE_DIR) {
                int r = cn_buf_append(&x->dir, path, len);
                if (r < 0)
                        return r;
        }
        if (reached && n->type == CN_NODE_FILE)
                x->bytes += n->size;
        return 0;
}

int cn_erase_pending_reach(CnRepo *repo, CnStore *store, CnController *c, const CnSnapshot *snaps, size_t n,
                           uint64_t *ret_bytes, size_t *ret_requests) {
        Reach x = { .dir = CN_BUF_INIT(CN_MAX_PATH_BYTES + 1) };
        Pending *v;
        size_t n_v, n_walk = 0;
        int r = pending_load(repo, c, NULL, &v, &n_v);

        for (size_t i = 0; i < n; i++)
                ret_bytes[i] = 0;
        if (r >= 0 && n_v && !(x.e = calloc(n_v, sizeof *x.e)))
                r = -ENOMEM;
        for (size_t i = 0; r >= 0 && i < n_v; i++) {
                Erase *e = &x.e[x.n++];
                *e = (Erase) { .repo = repo, .c = c, .q = &v[i].q, .store = store };
                r = scope_init(&e->scope, e->q);
                n_walk += v[i].q.scope == CN_ERASE_PATH || v[i].q.scope == CN_ERASE_SUBJECT;
        }
        for (size_t i = 0; r >= 0 && i < n; i++) {
                for (size_t k = 0; k < x.n && !ret_bytes[i]; k++)
                        if (removes_whole(x.e[k].q, &snaps[i]))
                                ret_bytes[i] = snaps[i].bytes;
                if (ret_bytes[i] || !n_walk)
                        continue;
                x.bytes = 0;
                cn_buf_reset(&x.dir);
                r = cn_walk(store, snaps[i].tree, "", reach_entry, &x);
                ret_bytes[i] = x.bytes;
        }
        for (size_t i = 0; i < x.n; i++)
                scope_done(&x.e[i].scope);
        free(x.e);
        cn_buf_done(&x.dir);
        pending_free(v, n_v);
        if (r < 0)
                return r;
        if (ret_requests)
                *ret_requests = n_v;
        return 0;
}

int cn_erase(CnRepo *repo, CnController *c, const CnEraseRequest *q, const CnEraseOptions *o, CnEraseResult *ret) {
        static const CnEraseOptions none = {};
        Erase e = { .repo = repo, .c = c, .q = q, .o = o ? o : &none, .res = ret };
        *ret = (CnEraseResult) { .started = time(NULL) };
        int r = run(&e);
        ret->completed = time(NULL);
        cn_store_free(e.store);
        scope_done(&e.scope);
        cn_snapshots_free(e.snaps, e.n_snaps);
        cn_holds_done(&e.holds);
        free(e.held);
        free(e.reached);
        free(e.gone);
        cn_names_done(&e.dropped_paths);
        cn_secret_free(e.pseudonym_key);
        cn_index_free(e.dropped_chunks);
        cn_index_free(e.kept_chunks);
        return r;
}
