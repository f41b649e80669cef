/* SPDX-License-Identifier: GPL-3.0-or-later */
/* prune, per controller (docs/FORMAT.md "Deleting without a lock"):
 *   1. open the store as a prune (a session of kind prune; every location
 *      of every pack; plans loaded) and make sure no other prune runs;
 *   2. mark the blobs the snapshots reach;
 *   3. plan every copy nothing reaches and no plan names yet;
 *   4. list the sessions: a plan is ripe when every live writer saw it;
 *      if one is, list the snapshots again and mark what new ones reach;
 *   5. decide each copy (keep, movable or not, or delete) and each pack
 *      (keep, delete, repack); move, flush, then delete;
 *   6. remove plans whose copies are all gone, stale sessions, and ledger
 *      files of packs that never were (when no writer runs). */
#include "prune.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "format.h"
#include "hex.h"
#include "index.h"
#include "macro.h"
#include "pack.h"
#include "session.h"
#include "snapshot.h"
#include "tree.h"

typedef enum Fate {
        KEEP = 0,       /* needed here: movable when it is the index's copy with a key */
        KEEP_PINNED,    /* needed or protected, but cannot be moved (no key, damaged, not the index's copy) */
        DELETE,
} Fate;

typedef struct PackInfo {
        uint64_t total, deleted;        /* stored bytes of its entries */
        bool pinned;                    /* holds a copy that must stay where it is */
        bool drop;                      /* deleted this run (whole, or after repacking) */
        bool repack;
} PackInfo;

typedef struct Prune {
        CnRepo *repo;
        CnController *c;
        const CnPruneOptions *o;
        CnPruneStats *st;
        CnStore *store;
        CnStore *late;                  /* read-only, for trees in packs put after store opened */
        bool late_current;              /* late opened after the last listing of snapshots */
        CnIndex *reach;                 /* set of blob ids the snapshots reach */
        CnIndex *walked;                /* set of the directories' tree ids walked */
        CnSnapshot *snaps;
        size_t n_snaps;
        size_t n_damaged_snaps;
        CnBuf blob;
        const char *snapshot;           /* being walked, for messages */
        CnDamageSet ripe;               /* locations of ripe plans (sorted) */
        CnStorePlan new_plan;           /* written this run (name NULL: none) */
        bool new_ripe;
        uint8_t *fate;                  /* per location */
        PackInfo *packs;
        uint32_t n_packs;
        size_t unreadable_sessions;     /* sessions that did not open, at the last listing */
} Prune;

static void problem(Prune *p, CnPruneProblemKind kind, const char *object, int error) {
        CnPruneProblem pb = {
                .kind = kind, .controller = p->c->name, .object = object, .snapshot = p->snapshot, .error = error
        };
        if (p->o->on_problem)
                p->o->on_problem(&pb, p->o->userdata);
}

static void on_damaged(const char *name, int error, void *u) {
        problem(u, CN_PRUNE_DAMAGED_OBJECT, name, error);
}

/* A session that does not open may be a running writer's: while one is
 * there, no plan ripens and no ledger file is taken for an orphan. */
static void on_damaged_session(const char *name, int error, void *u) {
        Prune *p = u;
        p->unreadable_sessions++;
        problem(p, CN_PRUNE_DAMAGED_OBJECT, name, error);
}

static void on_damaged_snapshot(const char *name, int error, void *u) {
        Prune *p = u;
        p->n_damaged_snaps++;
        problem(p, CN_PRUNE_SNAPSHOT_DAMAGED, name, error);
}

static int mark(CnIndex *set, const uint8_t id[CN_ID_BYTES]) {
        CnBlobLoc loc = {};
        return cn_index_insert(set, id, &loc);
}

static bool reached(const Prune *p, const uint8_t id[CN_ID_BYTES]) {
        return cn_index_lookup(p->reach, id, NULL);
}

/* Every blob fetched to read a directory (its list and leaves) is reached.
 * A snapshot a writer put after the store opened may need trees in packs
 * the store does not know: they are read through a store opened after the
 * snapshots were listed (its packs were put before its snapshot). Their
 * copies are not the store's locations, so none of them is deleted. */
static int get_marking(const uint8_t id[CN_ID_BYTES], CnBuf *out, void *u) {
        Prune *p = u;
        int r = mark(p->reach, id);
        if (r < 0)
                return r;
        r = cn_store_get(p->store, id, out);
        if (r != -ENOENT)
                return r;
        if (!p->late_current) {
                p->late = cn_store_free(p->late);
                r = cn_store_open_tolerant(p->repo, p->c, CN_STORE_KEYS, on_damaged, p, &p->late);
                if (r < 0)
                        return r;
                p->late_current = true;
        }
        return cn_store_get(p->late, id, out);
}

static int mark_chunk(const uint8_t id[CN_ID_BYTES], void *u) {
        Prune *p = u;
        return mark(p->reach, id);
}

/* A directory is walked once, whatever shares it; walked trees are a set
 * of their own (a tree is reached when read, and a chunk with the same id
 * as a tree must not stop the walk of what is below the tree). */
static int enter_dir(const uint8_t id[CN_ID_BYTES], void *u) {
        Prune *p = u;
        int r;
        if (cn_index_lookup(p->walked, id, NULL))
                return 0;
        if ((r = mark(p->walked, id)) < 0 || (r = cn_store_session_refresh(p->store)) < 0)
                return r;
        return 1;
}

static int walk_snapshot(Prune *p, const CnSnapshot *s) {
        static const CnReachOps ops = { .get = get_marking, .chunk = mark_chunk, .enter = enter_dir };
        uint8_t failed[CN_ID_BYTES];
        char hex[CN_ID_HEX + 1];

        p->snapshot = s->id_hex;
        int r = cn_tree_reach(s->tree, &ops, p, &p->blob, failed);
        if (r < 0 && r != -ENOMEM && !cn_store_error_is_environment(r)) {
                cn_hex_encode(failed, CN_ID_BYTES, hex);
                problem(p, CN_PRUNE_TREE_UNREADABLE, hex, r);
                r = -EUCLEAN;
        }
        p->snapshot = NULL;
        return r;
}

static bool listed(const CnSnapshot *v, size_t n, const CnSnapshot *s) {
        for (size_t i = 0; i < n; i++)
                if (memcmp(v[i].id, s->id, CN_ID_BYTES) == 0)
                        return true;
        return false;
}

/* Mark what the controller's snapshots reach; with again, only those not
 * listed before (the list is replaced). */
static int walk_snapshots(Prune *p, bool again) {
        CnSnapshot *v = NULL;
        size_t n = 0;
        int r;

        p->n_damaged_snaps = 0;
        p->late_current = false;
        r = cn_snapshot_list(p->repo, p->c, on_damaged_snapshot, p, &v, &n);
        if (r < 0)
                return r;
        if (p->n_damaged_snaps) {
                cn_snapshots_free(v, n);
                return -EUCLEAN;
        }
        for (size_t i = 0; r >= 0 && i < n; i++)
                if (!again || !listed(p->snaps, p->n_snaps, &v[i]))
                        r = walk_snapshot(p, &v[i]);
        cn_snapshots_free(p->snaps, p->n_snaps);
        p->snaps = v;
        p->n_snaps = n;
        return r;
}

/* Plan every copy that nothing reaches and no plan names yet. */
static int write_plan(Prune *p) {
        size_t n;
        const CnStoreLocation *l = cn_store_locations(p->store, &n);
        CnIndex *x = cn_store_index(p->store);
        int r;

        for (size_t i = 0; i < n; i++) {
                const uint8_t *pack_id = cn_index_pack_id(x, l[i].loc.pack);
                if (reached(p, l[i].id) || cn_store_planned(p->store, l[i].loc.pack, l[i].id))
                        continue;
                r = cn_damage_set_add(&p->new_plan.locations, pack_id, l[i].id);
                if (r < 0)
                        return r;
        }
        cn_damage_set_sort(&p->new_plan.locations);
        p->st->blobs_planned += p->new_plan.locations.n;
        if (p->new_plan.locations.n == 0 || p->o->dry_run)
                return 0;

        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        char name[CN_ENVELOPE_NAME_MAX];

        p->new_plan.created = time(NULL);
        if ((r = cn_plan_encode(p->new_plan.created, &p->new_plan.locations, &body)) < 0 ||
            (r = cn_controller_seal(p->repo, p->c, CN_MAGIC_PLAN, body.data, body.len, &obj)) < 0)
                return r;
        cn_envelope_content_name("prune", p->c->id_hex, obj.data, obj.len, p->new_plan.id, name);
        r = cn_backend_put(cn_repo_backend(p->repo), name, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (r < 0)
                return r;
        if (!(p->new_plan.name = strdup(name)))
                return -ENOMEM;
        p->st->plans_written++;
        return 0;
}

static bool is_other_prune(const Prune *p, const CnSessionInfo *s) {
        const char *mine = cn_store_session_name(p->store);
        return (s->kind == CN_SESSION_PRUNE || s->kind == CN_SESSION_ERASE) && (!mine || strcmp(s->name, mine) != 0);
}

/* Which plans are ripe: every live writer session lists them. A plan
 * written by this run is ripe when no live writer session was there
 * (a dry run: when no writer runs at all). */
static int judge_plans(Prune *p, bool remove_stale) {
        CnSessionInfo *v = NULL;
        size_t n = 0, n_plans;
        const CnStorePlan *plans = cn_store_plans(p->store, &n_plans);
        const char *mine = cn_store_session_name(p->store);
        int r;

        p->unreadable_sessions = 0;
        r = cn_sessions_list(p->repo, p->c, time(NULL), on_damaged_session, p, &v, &n);
        if (r < 0)
                return r;
        _cleanup_free_ bool *plan_ripe = calloc(n_plans + 1, sizeof *plan_ripe); /* per plan of the store */
        if (!plan_ripe) {
                cn_sessions_free(v, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n_plans; i++)
                plan_ripe[i] = !p->unreadable_sessions;
        p->new_ripe = p->new_plan.locations.n > 0 && !p->unreadable_sessions;
        p->st->writers_waited += p->unreadable_sessions;
        for (size_t j = 0; j < n; j++) {
                bool waits = false;
                if ((mine && strcmp(v[j].name, mine) == 0) || v[j].kind != CN_SESSION_WRITER)
                        continue;
                if (v[j].stale) {
                        if (remove_stale && cn_backend_remove(cn_repo_backend(p->repo), v[j].name) >= 0)
                                p->st->sessions_removed++;
                        continue;
                }
                for (size_t i = 0; i < n_plans; i++)
                        if (!cn_session_saw_plan(&v[j], plans[i].id)) {
                                waits = waits || plan_ripe[i];
                                plan_ripe[i] = false;
                        }
                if (p->new_ripe && (p->o->dry_run || !cn_session_saw_plan(&v[j], p->new_plan.id))) {
                        p->new_ripe = false;
                        waits = true;
                }
                p->st->writers_waited += waits;
        }
        cn_sessions_free(v, n);
        for (size_t i = 0; i < n_plans; i++) {
                if (!plan_ripe[i]) {
                        p->st->plans_waiting++;
                        continue;
                }
                for (size_t k = 0; k < plans[i].locations.n; k++)
                        if ((r = cn_damage_set_add(&p->ripe, plans[i].locations.v[k].pack,
                                                   plans[i].locations.v[k].blob)) < 0)
                                return r;
        }
        if (p->new_plan.locations.n && !p->new_ripe)
                p->st->plans_waiting++;
        if (p->new_ripe)
                for (size_t k = 0; k < p->new_plan.locations.n; k++)
                        if ((r = cn_damage_set_add(&p->ripe, p->new_plan.locations.v[k].pack,
                                                   p->new_plan.locations.v[k].blob)) < 0)
                                return r;
        cn_damage_set_sort(&p->ripe);
        return 0;
}

static bool ripe(const Prune *p, const uint8_t pack_id[CN_ID_BYTES], const uint8_t id[CN_ID_BYTES]) {
        return cn_damage_set_contains(&p->ripe, pack_id, id);
}

/* The fate of every copy. The index holds one copy of each blob (its
 * "keeper": not damaged, not planned, when there is such a copy). */
static int decide(Prune *p) {
        size_t n;
        const CnStoreLocation *l = cn_store_locations(p->store, &n);
        CnIndex *x = cn_store_index(p->store);

        p->n_packs = cn_index_n_packs(x);
        p->packs = calloc(p->n_packs ? p->n_packs : 1, sizeof *p->packs);
        p->fate = calloc(n ? n : 1, 1);
        if (!p->packs || !p->fate)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const uint8_t *id = l[i].id, *pack_id = cn_index_pack_id(x, l[i].loc.pack);
                bool used = reached(p, id);
                CnBlobLoc k;
                bool has_keeper = cn_index_lookup(x, id, &k);
                bool is_keeper = has_keeper && k.pack == l[i].loc.pack && k.offset == l[i].loc.offset;
                bool keeper_movable = has_keeper && cn_index_get_key(x, id) && !cn_store_damage_recorded(p->store, k.pack, id);
                bool keeper_kept = has_keeper && (used || !ripe(p, cn_index_pack_id(x, k.pack), id));
                Fate f;

                if (is_keeper)
                        f = !keeper_kept ? DELETE : keeper_movable ? KEEP : KEEP_PINNED;
                else if (keeper_kept && keeper_movable)
                        f = DELETE;     /* a second copy, or a damaged one */
                else
                        f = (!used && ripe(p, pack_id, id)) ? DELETE : KEEP_PINNED;
                p->fate[i] = (uint8_t) f;

                PackInfo *pi = &p->packs[l[i].loc.pack];
                pi->total += l[i].loc.length;
                p->st->blobs++;
                p->st->bytes += l[i].loc.length;
                if (is_keeper && used) {
                        p->st->blobs_used++;
                        p->st->bytes_used += l[i].loc.length;
                } else if (used) {
                        p->st->blobs_duplicate++;
                        p->st->bytes_duplicate += l[i].loc.length;
                } else {
                        p->st->blobs_unreachable++;
                        p->st->bytes_unreachable += l[i].loc.length;
                }
                if (f == DELETE)
                        pi->deleted += l[i].loc.length;
                else if (f == KEEP_PINNED)
                        pi->pinned = true;
        }
        return 0;
}

static int repack_cmp(const void *a, const void *b, void *u) {
        const PackInfo *v = u;
        uint64_t x = v[*(const uint32_t *) a].deleted, y = v[*(const uint32_t *) b].deleted;
        return x > y ? -1 : x < y;
}

/* Packs with nothing kept go; of the others, those with most to delete are
 * repacked until what stays unneeded is within the limit. */
static int choose_packs(Prune *p) {
        uint64_t kept = 0, unused = 0, limit;
        size_t nc = 0;
        _cleanup_free_ uint32_t *cand = calloc(p->n_packs ? p->n_packs : 1, sizeof *cand);

        if (!cand)
                return -ENOMEM;
        for (uint32_t i = 0; i < p->n_packs; i++) {
                PackInfo *pi = &p->packs[i];
                if (pi->total == 0)
                        continue;
                if (pi->deleted == pi->total) {
                        pi->drop = true;
                        p->st->packs_deleted++;
                        continue;
                }
                kept += pi->total - pi->deleted;
                unused += pi->deleted;
                if (pi->deleted && !pi->pinned)
                        cand[nc++] = i;
        }
        limit = p->o->percent ? kept * p->o->max_unused / (100 - CN_MIN(p->o->max_unused, 99)) : p->o->max_unused;
        qsort_r(cand, nc, sizeof *cand, repack_cmp, p->packs);
        for (size_t i = 0; i < nc && unused > limit; i++) {
                p->packs[cand[i]].repack = p->packs[cand[i]].drop = true;
                unused -= p->packs[cand[i]].deleted;
                p->st->packs_deleted++;
                p->st->packs_repacked++;
        }
        return 0;
}

/* Move the movable kept blobs out of the packs to repack, into new packs:
 * each pack read whole once, its blobs stored again sealed as they are
 * (their seal checked, nothing decompressed or compressed again). */
static int move_blobs(Prune *p) {
        _cleanup_(cn_buf_donep) CnBuf pack = CN_BUF_INIT(0);   /* sized by each pack's extent */
        _cleanup_secret_ uint8_t *key = cn_secret_new(CN_KEY_BYTES);
        uint32_t loaded = UINT32_MAX;
        size_t n;
        const CnStoreLocation *l = cn_store_locations(p->store, &n);
        int r;

        if (!key)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const PackInfo *pi = &p->packs[l[i].loc.pack];
                char name[160];
                CnBlobLoc loc;

                if (!pi->repack || p->fate[i] != KEEP)
                        continue;
                r = cn_store_locate(p->store, l[i].id, &loc, key, name, sizeof name);
                if (r < 0)
                        return r;
                if (loaded != l[i].loc.pack) {
                        /* Its blobs only, as many bytes as its entries say. */
                        uint64_t blob_end;
                        r = cn_store_pack_blob_end(p->store, l[i].loc.pack, &blob_end);
                        if (r >= 0) {
                                pack.limit = blob_end;
                                r = cn_backend_get(cn_repo_backend(p->repo), name, 0, blob_end, &pack);
                        }
                        if (r == -ENODATA)
                                r = -EBADMSG;   /* shorter than its entries say */
                        if (r < 0 && r != -EBADMSG)
                                return r;
                        loaded = r >= 0 ? l[i].loc.pack : UINT32_MAX;
                }
                if (r >= 0)
                        r = (uint64_t) l[i].loc.offset + l[i].loc.length > pack.len ? -EBADMSG : 0;
                if (r >= 0) {
                        cn_store_forget(p->store, l[i].id);
                        r = cn_store_put_sealed(p->store, l[i].id, &l[i].loc, pack.data + l[i].loc.offset, key, NULL);
                }
                if (r == -EBADMSG) {
                        /* Nothing is deleted: 'check --read-data' records the damage, and
                         * the next prune leaves that copy where it is. */
                        problem(p, CN_PRUNE_DAMAGED_OBJECT, name, r);
                        return -EUCLEAN;
                }
                if (r < 0)
                        return r;
                p->st->blobs_repacked++;
                p->st->bytes_repacked += l[i].loc.length;
        }
        return cn_store_flush(p->store);
}

static int remove_object(Prune *p, const char *kind, const uint8_t pack_id[CN_ID_BYTES]) {
        char name[160];
        cn_pack_object_name(kind, p->c->id_hex, pack_id, name, sizeof name);
        int r = cn_backend_remove(cn_repo_backend(p->repo), name);
        return r == -ENOENT ? 0 : r;
}

/* Index file first (the pack then reads as an interrupted writer's: its
 * header still opens), then the pack, then its keys: a prune killed at any
 * point leaves nothing a reader trusts that is not there. A ledger goes
 * once no pack it holds the keys of stays (version 2 ledgers may name
 * several). */
static int delete_packs(Prune *p) {
        CnIndex *x = cn_store_index(p->store);
        size_t n_ledgers = cn_store_n_ledgers(p->store);
        _cleanup_free_ uint32_t *staying = calloc(n_ledgers ? n_ledgers : 1, sizeof *staying);
        uint32_t ledger;
        int r;

        if (!staying)
                return -ENOMEM;
        for (uint32_t i = 0; i < cn_index_n_packs(x); i++)
                if ((i >= p->n_packs || !p->packs[i].drop) && cn_index_pack_ledger(x, i, &ledger) == 0 &&
                    ledger < n_ledgers)
                        staying[ledger]++;
        for (uint32_t i = 0; i < p->n_packs; i++) {
                if (!p->packs[i].drop)
                        continue;
                const uint8_t *pack_id = cn_index_pack_id(x, i);
                if ((r = cn_store_session_refresh(p->store)) < 0 || (r = remove_object(p, "index", pack_id)) < 0 ||
                    (r = remove_object(p, "data", pack_id)) < 0)
                        return r;
                if (cn_index_pack_ledger(x, i, &ledger) < 0 || ledger >= n_ledgers || staying[ledger] > 0)
                        continue;
                staying[ledger] = UINT32_MAX;   /* removed */
                r = cn_backend_remove(cn_repo_backend(p->repo), cn_store_pack_ledger(p->store, i));
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        return 0;
}

static void count_outcome(Prune *p) {
        size_t n;
        const CnStoreLocation *l = cn_store_locations(p->store, &n);
        for (size_t i = 0; i < n; i++) {
                if (!p->packs[l[i].loc.pack].drop) {
                        if (p->fate[i] == DELETE || !reached(p, l[i].id))
                                p->st->bytes_unused_left += l[i].loc.length;
                } else if (p->fate[i] == DELETE) {
                        p->st->blobs_deleted++;
                        p->st->bytes_deleted += l[i].loc.length;
                }
        }
}

/* A plan whose copies are all in packs that are gone has done its work. */
static bool plan_done(Prune *p, const CnDamageSet *d) {
        CnIndex *x = cn_store_index(p->store);
        for (size_t i = 0; i < d->n; i++) {
                uint32_t no;
                if (cn_index_find_pack(x, d->v[i].pack, &no) == 0 && (no >= p->n_packs || !p->packs[no].drop))
                        return false;
        }
        return true;
}

static int remove_plans(Prune *p) {
        size_t n;
        const CnStorePlan *plans = cn_store_plans(p->store, &n);
        int r;
        for (size_t i = 0; i < n; i++) {
                if (!plan_done(p, &plans[i].locations))
                        continue;
                r = cn_backend_remove(cn_repo_backend(p->repo), plans[i].name);
                if (r < 0 && r != -ENOENT)
                        return r;
                p->st->plans_removed++;
        }
        if (p->new_plan.name && plan_done(p, &p->new_plan.locations)) {
                r = cn_backend_remove(cn_repo_backend(p->repo), p->new_plan.name);
                if (r < 0 && r != -ENOENT)
                        return r;
                p->st->plans_removed++;
        }
        return 0;
}

static int str_ptr_cmp(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

/* Ledgers none of whose packs is there, once no writer runs: a writer
 * puts its session before its ledger, and its pack before it removes the
 * session, so a ledger listed before a listing of sessions that finds no
 * live writer, none of whose packs a later listing finds, belongs to a
 * writer that died between the two puts. The ledgers are those the store
 * loaded (listed when it opened). */
static int remove_orphan_ledgers(Prune *p) {
        _cleanup_(cn_names_done) CnNames data = {};
        CnSessionInfo *v = NULL;
        size_t n = 0, n_ledgers = cn_store_n_ledgers(p->store);
        char prefix[64];
        int r;

        if (n_ledgers == 0)
                return 0;
        p->unreadable_sessions = 0;
        r = cn_sessions_list(p->repo, p->c, time(NULL), on_damaged_session, p, &v, &n);
        if (r < 0)
                return r;
        bool writing = p->unreadable_sessions > 0;
        for (size_t i = 0; i < n; i++)
                writing = writing || (v[i].kind == CN_SESSION_WRITER && !v[i].stale);
        cn_sessions_free(v, n);
        if (writing)
                return 0;
        snprintf(prefix, sizeof prefix, "data/%s/", p->c->id_hex);
        if ((r = cn_backend_list_names(cn_repo_backend(p->repo), prefix, &data)) < 0)
                return r;
        /* data names end in the pack id, as ledger names do: compare the last component. */
        _cleanup_free_ const char **last = calloc(data.n ? data.n : 1, sizeof *last);
        if (!last)
                return -ENOMEM;
        for (size_t i = 0; i < data.n; i++)
                last[i] = strrchr(data.v[i], '/') + 1;
        qsort(last, data.n, sizeof *last, str_ptr_cmp);
        for (size_t i = 0; i < n_ledgers; i++) {
                const uint8_t(*packs)[CN_ID_BYTES];
                size_t n_packs;
                const char *name = cn_store_ledger(p->store, i, &packs, &n_packs);
                bool found = n_packs == 0;      /* one this prune wrote */
                for (size_t j = 0; j < n_packs && !found; j++) {
                        char hex[CN_ID_HEX + 1];
                        const char *id = hex;
                        cn_hex_encode(packs[j], CN_ID_BYTES, hex);
                        found = data.n && bsearch(&id, last, data.n, sizeof *last, str_ptr_cmp);
                }
                if (found)
                        continue;
                r = cn_backend_remove(cn_repo_backend(p->repo), name);
                if (r < 0 && r != -ENOENT)
                        return r;
                p->st->ledgers_removed++;
        }
        return 0;
}

static int prune_store(Prune *p);

static int prune_controller(Prune *p) {
        unsigned flags = CN_STORE_KEYS | CN_STORE_PRUNE | CN_STORE_ALL_LOCATIONS | (p->o->dry_run ? 0 : CN_STORE_WRITE);
        CnSessionInfo *v = NULL;
        size_t n = 0;
        int r;

        r = cn_store_open_tolerant(p->repo, p->c, flags, on_damaged, p, &p->store);
        if (r < 0)
                return r;
        /* Two prunes at once could each keep the copy the other deletes. */
        if (!p->o->dry_run)
                r = cn_sessions_list(p->repo, p->c, time(NULL), on_damaged, p, &v, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n && r == 0; i++)
                if (is_other_prune(p, &v[i]) && !v[i].stale) {
                        problem(p, CN_PRUNE_BUSY, v[i].host, -EBUSY);
                        r = -EUCLEAN;
                }
        /* A dead prune's session (stale, or its process on this host gone). */
        for (size_t i = 0; i < n && r == 0; i++)
                if (is_other_prune(p, &v[i]) && v[i].stale &&
                    cn_backend_remove(cn_repo_backend(p->repo), v[i].name) >= 0)
                        p->st->sessions_removed++;
        cn_sessions_free(v, n);
        if (r < 0)
                return r;
        return prune_store(p);
}

/* Prune with p->store open (flags as prune_controller() opens it), its
 * session judged alone already. */
static int prune_store(Prune *p) {
        int r;
        cn_store_set_pack_cache(p->store, 2);
        if ((r = cn_index_new(&p->reach)) < 0 || (r = cn_index_new(&p->walked)) < 0 || (r = walk_snapshots(p, false)) < 0 || (r = write_plan(p)) < 0 ||
            (r = judge_plans(p, !p->o->dry_run)) < 0)
                return r;
        /* Writers that finished since: what their snapshots reach is needed too. */
        if (p->ripe.n && (r = walk_snapshots(p, true)) < 0)
                return r;
        p->st->snapshots += p->n_snaps;
        p->st->packs += cn_index_n_packs(cn_store_index(p->store));
        if ((r = decide(p)) < 0 || (r = choose_packs(p)) < 0)
                return r;
        size_t n_loc;
        cn_store_locations(p->store, &n_loc);
        uint64_t mem = cn_index_memory(cn_store_index(p->store)) + cn_index_memory(p->reach) +
                       cn_index_memory(p->walked) +
                       n_loc * (sizeof(CnStoreLocation) + 1) + p->n_packs * sizeof(PackInfo);
        p->st->memory = CN_MAX(p->st->memory, mem);
        count_outcome(p);
        if (p->o->dry_run)
                return 0;
        if ((r = move_blobs(p)) < 0 || (r = delete_packs(p)) < 0 || (r = remove_plans(p)) < 0)
                return r;
        CnStoreStats ss;
        cn_store_stats(p->store, &ss);
        p->st->packs_written += ss.packs_written;
        return remove_orphan_ledgers(p);
}

/* Run one controller's prune: on store when given (an erasure's, kept
 * open), else on a store of its own. */
static int prune_one(CnRepo *repo, CnController *c, CnStore *store, const CnPruneOptions *o, CnPruneStats *ret) {
        Prune p = { .repo = repo, .c = c, .o = o, .st = ret, .store = store };
        cn_buf_init_secret(&p.blob, CN_MAX_TREE_BYTES);
        ret->controllers++;
        int r = store ? prune_store(&p) : prune_controller(&p);
        if (!store)
                cn_store_free(p.store);
        cn_store_free(p.late);
        cn_index_free(p.reach);
        cn_index_free(p.walked);
        cn_snapshots_free(p.snaps, p.n_snaps);
        cn_buf_done(&p.blob);
        cn_damage_set_done(&p.ripe);
        cn_damage_set_done(&p.new_plan.locations);
        free(p.new_plan.name);
        free(p.fate);
        free(p.packs);
        if (r == -EUCLEAN)
                ret->controllers_skipped++;     /* reported: this controller is left as it was */
        return r;
}

int cn_prune_run(CnRepo *repo, const CnPruneOptions *o, CnPruneStats *ret) {
        int failed = 0;

        *ret = (CnPruneStats) {};
        for (size_t i = 0; i < cn_repo_n_controllers(repo); i++) {
                int r = prune_one(repo, cn_repo_controller(repo, i), NULL, o, ret);
                if (r == -EUCLEAN)
                        failed = r;
                else if (r < 0)
                        return r;
        }
        return failed;
}

int cn_prune_store(CnRepo *repo, CnStore *store, const CnPruneOptions *o, CnPruneStats *ret) {
        *ret = (CnPruneStats) {};
        CnController *c = NULL;
        for (size_t i = 0; i < cn_repo_n_controllers(repo) && !c; i++)
                if (memcmp(cn_repo_controller(repo, i)->id, cn_store_controller(store)->id, CN_UUID_BYTES) == 0)
                        c = cn_repo_controller(repo, i);
        return c ? prune_one(repo, c, store, o, ret) : -EINVAL;
}
