/* SPDX-License-Identifier: GPL-3.0-or-later */
/* prune and the writer sessions it honours (docs/FORMAT.md "Deleting
 * without a lock"). Concurrency made deterministic: a prune runs inside a
 * backup, through the backup's before_read hook, after the backup has
 * read the index and before it stores its snapshot. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backup.h"
#include "check.h"
#include "envelope.h"
#include "format.h"
#include "prune.h"
#include "repo.h"
#include "session.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"

#include "alloc-limit.h"

#define MIB (1024 * 1024)

static char dir[64], src[128];
static CnBackend *backend;
static CnRepo *repo;
static CnController *ctl;
static const CnRepoInitOptions fast = { .kdf = { 1, 8192 } };

static void setup(void) {
        cr_assert_eq(cn_crypto_init(), 0);
        snprintf(dir, sizeof dir, "/tmp/cairn-test-prune.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        snprintf(src, sizeof src, "%s/src", dir);
        cr_assert_eq(mkdir(src, 0700), 0);
        char repo_dir[128];
        snprintf(repo_dir, sizeof repo_dir, "%s/repo", dir);
        cr_assert_eq(cn_backend_open(repo_dir, true, &backend), 0);
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &repo), 0);
        ctl = cn_repo_controller(repo, 0);
}

static void teardown(void) {
        char cmd[128];
        cn_repo_unref(repo);
        cn_backend_close(backend);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

TestSuite(prune, .init = setup, .fini = teardown);

/* src/name: n bytes of pseudo-random data from seed (incompressible). */
static void make_file(const char *name, size_t n, uint32_t seed) {
        char p[256];
        uint8_t *d = malloc(n);
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                d[i] = (uint8_t) (seed >> 16);
        }
        snprintf(p, sizeof p, "%s/%s", src, name);
        int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        cr_assert_geq(fd, 0);
        cr_assert_eq(write(fd, d, n), (ssize_t) n);
        close(fd);
        free(d);
}

typedef void (*HookFn)(int fd, void *u);

static int backup(CnSnapshot *snap, HookFn hook, void *u) {
        char *paths[] = { src };
        CnBackupOptions o = {
                .paths = paths, .n_paths = 1, .hostname = "h", .username = "u", .stdin_fd = -1,
                .before_read = hook, .userdata = u,
        };
        *snap = (CnSnapshot) {};
        return cn_backup_run(repo, ctl, &o, snap);
}

static CnPruneStats prune(uint64_t max_unused_percent) {
        CnPruneOptions o = { .percent = true, .max_unused = max_unused_percent };
        CnPruneStats st;
        cr_assert_eq(cn_prune_run(repo, &o, &st), 0);
        return st;
}

static void check_clean(void) {
        CnCheckStats st;
        cr_assert_eq(cn_check_run(repo, true, NULL, NULL, &st), 0);
        cr_assert_eq(st.errors, 0, "check found %llu errors", (unsigned long long) st.errors);
}

static void no_problem(const CnCheckProblem *p, void *u) {
        (void) u;
        if (p->kind != CN_CHECK_ORPHAN_PACK)
                cr_assert_fail("check: problem %d on %s", p->kind, p->object ? p->object : "?");
}

static void check_clean_verbose(void) {
        CnCheckStats st;
        cr_assert_eq(cn_check_run(repo, true, no_problem, NULL, &st), 0);
        cr_assert_eq(st.errors, 0);
}

/* Independently of prune: every blob the snapshots reach, by a plain
 * recursive walk. */
static void reach_tree(CnStore *s, const uint8_t id[CN_ID_BYTES], CnIndex *set) {
        CnBuf scratch = CN_BUF_INIT(CN_MAX_TREE_BYTES), raw = CN_BUF_INIT(CN_MAX_TREE_BYTES);
        CnBlobLoc none = {};
        CnNode *nodes;
        size_t n;
        cn_index_insert(set, id, &none);
        /* a tree list: its leaves are reached too */
        cr_assert_eq(cn_store_get(s, id, &raw), 0);
        if (cn_tree_is_list(raw.data, raw.len)) {
                uint8_t(*leaves)[CN_ID_BYTES];
                size_t nl;
                cr_assert_eq(cn_tree_list_decode(raw.data, raw.len, &leaves, &nl), 0);
                for (size_t i = 0; i < nl; i++)
                        cn_index_insert(set, leaves[i], &none);
                free(leaves);
        }
        cr_assert_eq(cn_dir_load(s, id, &scratch, &nodes, &n, NULL), 0);
        for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < nodes[i].n_chunks; j++)
                        cn_index_insert(set, nodes[i].chunks[j], &none);
                if (nodes[i].type == CN_NODE_DIR)
                        reach_tree(s, nodes[i].subtree, set);
        }
        cn_nodes_free(nodes, n);
        cn_buf_done(&scratch);
        cn_buf_done(&raw);
}

/* Every copy in every pack is of a blob some snapshot reaches, and no blob
 * has two copies. */
static void assert_nothing_unneeded(void) {
        CnStore *s;
        CnIndex *reach, *seen;
        CnSnapshot *v;
        size_t n, nl;
        cr_assert_eq(cn_store_open(repo, ctl, CN_STORE_KEYS | CN_STORE_ALL_LOCATIONS, &s), 0);
        cr_assert_eq(cn_index_new(&reach), 0);
        cr_assert_eq(cn_index_new(&seen), 0);
        cr_assert_eq(cn_snapshot_list(repo, ctl, NULL, NULL, &v, &n), 0);
        for (size_t i = 0; i < n; i++)
                reach_tree(s, v[i].tree, reach);
        const CnStoreLocation *l = cn_store_locations(s, &nl);
        for (size_t i = 0; i < nl; i++) {
                CnBlobLoc none = {};
                cr_assert(cn_index_lookup(reach, l[i].id, NULL), "a copy of a blob nothing reaches is left");
                cr_assert_eq(cn_index_insert(seen, l[i].id, &none), 1, "a blob has two copies");
        }
        cr_assert_eq(nl, cn_index_size(reach), "a reached blob has no copy");
        cn_snapshots_free(v, n);
        cn_index_free(reach);
        cn_index_free(seen);
        cn_store_free(s);
}

static void forget_all_but_last(void) {
        CnSnapshot *v;
        size_t n;
        cr_assert_eq(cn_snapshot_list(repo, ctl, NULL, NULL, &v, &n), 0);
        for (size_t i = 0; i + 1 < n; i++)
                cr_assert_eq(cn_snapshot_remove(repo, &v[i]), 0);
        cn_snapshots_free(v, n);
}

static size_t count_objects(const char *folder) {
        CnNames l = {};
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s/%s/", folder, ctl->id_hex);
        cr_assert_eq(cn_backend_list_names(backend, prefix, &l), 0);
        size_t n = l.n;
        cn_names_done(&l);
        return n;
}

Test(prune, max_unused_0_leaves_no_unneeded_copy) {
        CnSnapshot s;
        for (uint32_t i = 0; i < 4; i++) {
                char name[16];
                snprintf(name, sizeof name, "f%u", i);
                make_file(name, 3 * MIB, i + 1);
                make_file("small", 1000 + i, 100 + i);  /* changes every time: trees change */
                cr_assert_eq(backup(&s, NULL, NULL), 0);
                cn_snapshot_done(&s);
        }
        forget_all_but_last();
        CnPruneStats st = prune(0);
        cr_assert_gt(st.blobs_deleted, 0);
        cr_assert_eq(st.plans_waiting, 0);
        cr_assert_eq(st.bytes_unused_left, 0);
        assert_nothing_unneeded();
        check_clean_verbose();
        cr_assert_eq(count_objects("prune"), 0, "a plan that did its work is left");
        cr_assert_eq(count_objects("writers"), 0, "a session is left");
        /* every pack has its index and ledger, nothing else is left */
        cr_assert_eq(count_objects("index"), count_objects("ledger"));
        st = prune(0);
        cr_assert_eq(st.blobs_deleted, 0, "a second prune found more to delete");
}

/* The case a lock-free prune must get right: a backup that read the index
 * before the plan existed reuses a chunk nothing reaches yet. */
typedef struct Inside {
        int calls;
        CnPruneStats st;
} Inside;

static void prune_inside(int fd, void *u) {
        Inside *in = u;
        (void) fd;
        if (in->calls++)
                return;
        CnPruneOptions o = { .percent = true, .max_unused = 0 };
        cr_assert_eq(cn_prune_run(repo, &o, &in->st), 0);
}

Test(prune, a_running_backup_keeps_what_it_reuses) {
        CnSnapshot s1, s2;
        make_file("big", 6 * MIB, 7);
        cr_assert_eq(backup(&s1, NULL, NULL), 0);
        cr_assert_eq(cn_snapshot_remove(repo, &s1), 0);
        cn_snapshot_done(&s1);

        /* The second backup of the same file dedups against the copies of
         * the removed snapshot; the prune inside it plans them but must
         * wait for this backup's session. */
        Inside in = {};
        cr_assert_eq(backup(&s2, prune_inside, &in), 0);
        cr_assert_eq(in.calls, 1);
        cr_assert_gt(in.st.blobs_planned, 0);
        cr_assert_eq(in.st.plans_waiting, 1);
        cr_assert_eq(in.st.writers_waited, 1);
        cr_assert_eq(in.st.blobs_deleted, 0, "prune deleted what a running backup reuses");
        /* new: trees only (the virtual root holds /tmp, whose times others change) */
        cr_assert_lt(s2.stored_bytes_new, 64 * 1024, "the backup did not reuse the chunks");
        cn_snapshot_done(&s2);

        /* Now nothing runs: the plan is ripe, but the new snapshot reaches
         * the chunks, so at most the old trees go (none, when the new
         * snapshot's trees are the same). */
        CnPruneStats st = prune(0);
        cr_assert_eq(st.plans_waiting, 0);
        cr_assert_lt(st.bytes_deleted, 64 * 1024, "chunks the new snapshot needs were deleted");
        check_clean_verbose();
        assert_nothing_unneeded();
}

Test(prune, a_backup_after_the_plan_stores_again) {
        CnSnapshot s1, s2;
        CnSession *other;
        make_file("big", 3 * MIB, 9);
        cr_assert_eq(backup(&s1, NULL, NULL), 0);
        cr_assert_eq(cn_snapshot_remove(repo, &s1), 0);
        cn_snapshot_done(&s1);
        /* a writer that runs (and saw no plan) holds the plan back */
        cr_assert_eq(cn_session_begin(repo, ctl, CN_SESSION_WRITER, &other), 0);
        CnPruneStats st = prune(0);
        cr_assert_eq(st.plans_written, 1);
        cr_assert_eq(st.plans_waiting, 1);
        cr_assert_eq(st.blobs_deleted, 0);
        cn_session_end(other);

        /* A backup that loaded the plan does not reuse planned copies. */
        cr_assert_eq(backup(&s2, NULL, NULL), 0);
        cr_assert_gt(s2.blobs_new, 2, "the backup reused planned copies");
        cn_snapshot_done(&s2);
        st = prune(0);
        cr_assert_eq(st.plans_waiting, 0);
        cr_assert_gt(st.blobs_deleted, 2);
        check_clean_verbose();
        assert_nothing_unneeded();
}

/* A session put by a writer that then died, refreshed hours ago. */
static void put_old_session(int64_t age) {
        CnSessionInfo info = { .kind = CN_SESSION_WRITER, .started = time(NULL) - age,
                               .refreshed = time(NULL) - age, .host = "gone", .pid = 1 };
        CnBuf body = CN_BUF_INIT(1 << 20), obj = CN_BUF_INIT(1 << 20);
        CnEnvelopeHeader h = {};
        char name[128];
        memcpy(h.processor, cn_repo_processor_id(repo), CN_UUID_BYTES);
        memcpy(h.controller, ctl->id, CN_UUID_BYTES);
        cr_assert_eq(cn_session_encode(&info, &body), 0);
        cr_assert_eq(cn_envelope_seal(&obj, CN_MAGIC_SESSION, &h, ctl->meta_key, body.data, body.len), 0);
        snprintf(name, sizeof name, "writers/%s/%064x", ctl->id_hex, (unsigned) age);
        cr_assert_eq(cn_backend_put(backend, name, obj.data, obj.len, 0), 0);
        cn_buf_done(&body);
        cn_buf_done(&obj);
}

Test(prune, a_dead_writer_holds_back_until_stale) {
        CnSnapshot s1;
        make_file("big", 2 * MIB, 11);
        cr_assert_eq(backup(&s1, NULL, NULL), 0);
        cr_assert_eq(cn_snapshot_remove(repo, &s1), 0);
        cn_snapshot_done(&s1);
        put_old_session(CN_SESSION_STALE_SEC - 60);
        CnPruneStats st = prune(0);
        cr_assert_eq(st.blobs_deleted, 0);
        cr_assert_eq(st.plans_waiting, 1);
        cr_assert_eq(st.sessions_removed, 0);
        /* the same writer, silent for longer than the stale age */
        char name[128];
        snprintf(name, sizeof name, "writers/%s/%064x", ctl->id_hex, (unsigned) (CN_SESSION_STALE_SEC - 60));
        cr_assert_eq(cn_backend_remove(backend, name), 0);
        put_old_session(CN_SESSION_STALE_SEC + 60);
        st = prune(0);
        cr_assert_eq(st.sessions_removed, 1);
        cr_assert_gt(st.blobs_deleted, 0);
        cr_assert_eq(count_objects("writers"), 0);
        check_clean_verbose();
}

static void remove_sessions(int fd, void *u) {
        CnNames l = {};
        char prefix[64];
        (void) fd;
        (void) u;
        snprintf(prefix, sizeof prefix, "writers/%s/", ctl->id_hex);
        cr_assert_eq(cn_backend_list_names(backend, prefix, &l), 0);
        for (size_t i = 0; i < l.n; i++)
                cr_assert_eq(cn_backend_remove(backend, l.v[i]), 0);
        cn_names_done(&l);
}

Test(prune, a_backup_whose_session_was_removed_saves_nothing) {
        CnSnapshot s;
        CnSnapshot *v;
        size_t n;
        make_file("f", 1000, 3);
        cr_assert_eq(backup(&s, remove_sessions, NULL), -ESTALE);
        cr_assert_eq(cn_snapshot_list(repo, ctl, NULL, NULL, &v, &n), 0);
        cr_assert_eq(n, 0, "a snapshot was saved");
        cn_snapshots_free(v, n);
        check_clean();
}

static int n_busy;
static void on_problem(const CnPruneProblem *p, void *u) {
        (void) u;
        cr_assert_eq(p->kind, CN_PRUNE_BUSY);
        n_busy++;
}

Test(prune, two_prunes_do_not_run_at_once) {
        CnSession *other;
        CnSnapshot s;
        make_file("f", 2 * MIB, 5);
        cr_assert_eq(backup(&s, NULL, NULL), 0);
        cr_assert_eq(cn_snapshot_remove(repo, &s), 0);
        cn_snapshot_done(&s);
        cr_assert_eq(cn_session_begin(repo, ctl, CN_SESSION_PRUNE, &other), 0);
        CnPruneOptions o = { .percent = true, .max_unused = 0, .on_problem = on_problem };
        CnPruneStats st;
        cr_assert_eq(cn_prune_run(repo, &o, &st), -EUCLEAN);
        cr_assert_eq(n_busy, 1);
        cr_assert_eq(st.controllers_skipped, 1);
        cr_assert_eq(st.blobs_deleted, 0);
        cr_assert_eq(count_objects("prune"), 0, "a busy prune wrote a plan");
        cn_session_end(other);
        st = prune(0);
        cr_assert_gt(st.blobs_deleted, 0);
}

Test(prune, dry_run_writes_nothing) {
        CnSnapshot s;
        make_file("f", 2 * MIB, 5);
        cr_assert_eq(backup(&s, NULL, NULL), 0);
        cr_assert_eq(cn_snapshot_remove(repo, &s), 0);
        cn_snapshot_done(&s);
        CnNames before = {}, after = {};
        cr_assert_eq(cn_backend_list_names(backend, "", &before), 0);
        CnPruneOptions o = { .dry_run = true, .percent = true, .max_unused = 0 };
        CnPruneStats st;
        cr_assert_eq(cn_prune_run(repo, &o, &st), 0);
        cr_assert_gt(st.blobs_deleted, 0, "the dry run did not say what would go");
        cr_assert_eq(cn_backend_list_names(backend, "", &after), 0);
        cr_assert_eq(before.n, after.n);
        for (size_t i = 0; i < before.n; i++)
                cr_assert_str_eq(before.v[i], after.v[i]);
        cn_names_done(&before);
        cn_names_done(&after);
}

Test(prune, plan_and_session_bodies_are_strict) {
        CnSessionInfo info = { .kind = CN_SESSION_WRITER, .started = 1, .refreshed = 2, .host = "h", .pid = 3 };
        uint8_t plans[2][CN_ID_BYTES];
        memset(plans[0], 1, CN_ID_BYTES);
        memset(plans[1], 2, CN_ID_BYTES);
        info.plans = plans;
        info.n_plans = 2;
        CnBuf b = CN_BUF_INIT(1 << 20);
        cr_assert_eq(cn_session_encode(&info, &b), 0);
        for (size_t len = 0; len < b.len; len++) {
                CnSessionInfo t = {};
                cr_assert_eq(cn_session_decode(b.data, len, &t), -EBADMSG, "length %zu accepted", len);
        }
        CnSessionInfo t;
        cr_assert_eq(cn_session_decode(b.data, b.len, &t), 0);
        cr_assert(cn_session_saw_plan(&t, plans[1]));
        free(t.name);
        free(t.host);
        free(t.plans);
        /* plan ids out of order, and an unknown kind */
        memcpy(b.data + b.len - 2 * CN_ID_BYTES, plans[1], CN_ID_BYTES);
        memcpy(b.data + b.len - CN_ID_BYTES, plans[0], CN_ID_BYTES);
        cr_assert_eq(cn_session_decode(b.data, b.len, &t), -EBADMSG);
        b.data[0] = 3;
        cr_assert_eq(cn_session_decode(b.data, b.len, &t), -EBADMSG);
        cn_buf_done(&b);

        CnDamageSet d = {}, back = {};
        int64_t created;
        CnBuf p = CN_BUF_INIT(1 << 20);
        cr_assert_eq(cn_damage_set_add(&d, plans[0], plans[1]), 0);
        cr_assert_eq(cn_plan_encode(42, &d, &p), 0);
        cr_assert_eq(cn_plan_decode(p.data, p.len, &created, &back), 0);
        cr_assert_eq(created, 42);
        cr_assert(cn_damage_set_contains(&back, plans[0], plans[1]));
        cr_assert_eq(cn_plan_decode(p.data, p.len - 1, &created, &back), -EBADMSG);
        cn_damage_set_done(&d);
        cn_damage_set_done(&back);
        cn_buf_done(&p);
}

typedef struct Padding {
        char root[160];
        unsigned n;
} Padding;

static int pad_one(const char *name, uint64_t size, void *u) {
        Padding *pd = u;
        char path[512];
        (void) size;
        snprintf(path, sizeof path, "%s/%s", pd->root, name);
        chmod(path, 0600);
        cr_assert_eq(truncate(path, 600 * MIB), 0, "%s", path);
        pd->n++;
        return 0;
}

/* Issue 14: a pack to repack is read as far as its entries place blobs,
 * not whole: with every pack made 600 MiB long by the server (zeros after
 * its trailer), prune still repacks under a 256 MiB address space cap (it
 * read each pack whole, -ENOMEM, before). */
Test(prune, repack_reads_what_the_entries_say_not_the_server) {
        CnSnapshot s;
        for (uint32_t i = 0; i < 3; i++) {
                char name[16];
                snprintf(name, sizeof name, "f%u", i);
                make_file(name, 1 * MIB, i + 1);
                make_file("small", 1000 + i, 100 + i);
                cr_assert_eq(backup(&s, NULL, NULL), 0);
                cn_snapshot_done(&s);
        }
        forget_all_but_last();
        Padding pd = {};
        snprintf(pd.root, sizeof pd.root, "%s/repo", dir);
        cr_assert_eq(cn_backend_list(backend, "data/", pad_one, &pd), 0);
        cr_assert_geq(pd.n, 3);
        cn_test_limit_address_space(256 * MIB);
        CnPruneStats st = prune(0);
        cr_assert_gt(st.packs_repacked, 0);
}
