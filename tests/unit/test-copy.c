/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Replicas and copy (issue 9 item 5): what a replica shares with its
 * source and what it does not, sealed blobs moved as they are, and
 * cn_copy_run() on hand-made snapshots. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy.h"
#include "format.h"
#include "hex.h"
#include "pack.h"
#include "repo.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"

static char dir[64], dir2[64];
static CnBackend *backend, *backend2;
static const CnRepoInitOptions fast = {.kdf = {1, 8192}}; /* tests need no brute-force resistance */

static void setup(void) {
        cr_assert_eq(cn_crypto_init(), 0);
        snprintf(dir, sizeof dir, "/tmp/cairn-test-copy.XXXXXX");
        snprintf(dir2, sizeof dir2, "/tmp/cairn-test-copy2.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_not_null(mkdtemp(dir2));
        cr_assert_eq(cn_backend_open(dir, true, &backend), 0);
        cr_assert_eq(cn_backend_open(dir2, true, &backend2), 0);
}

static void teardown(void) {
        char cmd[160];
        cn_backend_close(backend);
        cn_backend_close(backend2);
        snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", dir, dir2);
        cr_assert_eq(system(cmd), 0);
}

TestSuite(replica, .init = setup, .fini = teardown);
TestSuite(copy, .init = setup, .fini = teardown);

static void fill(uint8_t *p, size_t n, uint32_t seed) {
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                p[i] = (uint8_t) (seed >> 16);
        }
}

/* A source with one controller and its replica in backend2. */
static void make_pair(CnRepo **src, CnRepo **dst) {
        cr_assert_eq(cn_repo_init(backend, "src", 3, &fast, src), 0);
        cr_assert_eq(cn_repo_init_replica(backend2, "dst", 3, *src, &fast, dst), 0);
}

Test(replica, shares_processor_and_controllers_but_not_its_keys) {
        CnRepo *src, *dst, *again;
        CnController *d;
        make_pair(&src, &dst);
        cr_assert(cn_repo_same_processor(src, dst));
        cr_assert_str_eq(cn_repo_processor_name(src), cn_repo_processor_name(dst));
        cr_assert_neq(memcmp(cn_repo_id(src), cn_repo_id(dst), CN_UUID_BYTES), 0, "a repository id of its own");
        cr_assert_eq(cn_repo_n_controllers(dst), 1);
        cr_assert_eq(cn_repo_replica_controller(dst, cn_repo_controller(src, 0), &d), 0);
        cr_assert_str_eq(d->name, cn_repo_controller(src, 0)->name);
        cr_assert_eq(d->created, cn_repo_controller(src, 0)->created);
        /* Its own password: the source's does not open it, its own does, and keeps all of that. */
        cr_assert_eq(cn_repo_open(backend2, "src", 3, &again), -EKEYREJECTED);
        cr_assert_eq(cn_repo_open(backend2, "dst", 3, &again), 0);
        cr_assert(cn_repo_same_processor(src, again));
        cr_assert_eq(cn_repo_replica_controller(again, cn_repo_controller(src, 0), &d), 0);
        cn_repo_unref(again);
        /* An init over it is refused as over any repository. */
        cr_assert_eq(cn_repo_init_replica(backend2, "x", 1, src, &fast, &again), -EEXIST);
        cn_repo_unref(dst);
        cn_repo_unref(src);
}

Test(replica, other_keys_and_other_epochs_are_told_apart) {
        CnRepo *src, *dst;
        CnController *c, *d, *added;
        make_pair(&src, &dst);
        c = cn_repo_controller(src, 0);
        cr_assert_eq(cn_repo_replica_controller(dst, c, &d), 0);

        cr_assert_eq(cn_repo_controller_add(src, "later", NULL, &added), 0);
        cr_assert_eq(cn_repo_replica_controller(dst, added, &d), -ENOENT);
        cr_assert_eq(cn_repo_controller_import(dst, added, &d), 0);
        cr_assert_eq(cn_repo_replica_controller(dst, added, &d), 0);
        cr_assert_eq(cn_repo_controller_import(dst, added, &d), -EEXIST);

        c->epoch++; /* as an erasure at the source would */
        cr_assert_eq(cn_repo_replica_controller(dst, c, &d), -EKEYEXPIRED);
        c->epoch--;
        c->root[7] ^= 1; /* the same id with another domain root */
        cr_assert_eq(cn_repo_replica_controller(dst, c, &d), -EXDEV);
        c->root[7] ^= 1;
        c->epoch_key[0] ^= 1;
        cr_assert_eq(cn_repo_replica_controller(dst, c, &d), -EXDEV);
        c->epoch_key[0] ^= 1;

        cn_repo_unref(dst);
        cn_repo_unref(src);
}

Test(replica, another_repository_is_another_processor) {
        CnRepo *a, *b;
        cr_assert_eq(cn_repo_init(backend, "a", 1, &fast, &a), 0);
        cr_assert_eq(cn_repo_init(backend2, "b", 1, &fast, &b), 0);
        cr_assert_not(cn_repo_same_processor(a, b));
        CnController *d;
        cr_assert_eq(cn_repo_replica_controller(b, cn_repo_controller(a, 0), &d), -ENOENT);
        cn_repo_unref(a);
        cn_repo_unref(b);
}

/* A sealed blob moves byte for byte: the replica reads it with the data
 * key copied along, and its stored bytes are the source's. */
Test(replica, sealed_blob_moves_byte_for_byte) {
        CnRepo *src, *dst;
        CnStore *s, *t;
        CnController *d;
        uint8_t data[5000], id[CN_ID_BYTES], key[CN_KEY_BYTES];
        char pack[160], pack2[160];
        CnBlobLoc loc, loc2;
        CnBuf sealed = CN_BUF_INIT(1u << 20), sealed2 = CN_BUF_INIT(1u << 20), out = CN_BUF_INIT(1u << 20);
        bool added;

        make_pair(&src, &dst);
        cr_assert_eq(cn_repo_replica_controller(dst, cn_repo_controller(src, 0), &d), 0);
        fill(data, sizeof data, 7);
        cr_assert_eq(cn_store_open(src, cn_repo_controller(src, 0), CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        cn_store_chunk_id(s, data, sizeof data, id);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, NULL), 0);
        cr_assert_eq(cn_store_flush(s), 0);
        cr_assert_eq(cn_store_locate(s, id, &loc, key, pack, sizeof pack), 0);
        cr_assert_eq(cn_backend_get(backend, pack, loc.offset, loc.length, &sealed), 0);

        cr_assert_eq(cn_store_open(dst, d, CN_STORE_KEYS | CN_STORE_WRITE, &t), 0);
        CnBlobLoc bad = loc;
        bad.flags = 2;
        cr_assert_eq(cn_store_put_sealed(t, id, &bad, sealed.data, key, &added), -EINVAL, "a reserved flag");
        bad = loc;
        bad.length = 10;
        cr_assert_eq(cn_store_put_sealed(t, id, &bad, sealed.data, key, &added), -EINVAL, "shorter than a seal");
        cr_assert_eq(cn_store_put_sealed(t, id, &loc, sealed.data, key, &added), 0);
        cr_assert(added);
        cr_assert_eq(cn_store_put_sealed(t, id, &loc, sealed.data, key, &added), 0);
        cr_assert_not(added, "stored once");
        cr_assert_eq(cn_store_flush(t), 0);
        cn_store_free(t);

        cr_assert_eq(cn_store_open(dst, d, CN_STORE_KEYS, &t), 0);
        cr_assert_eq(cn_store_get(t, id, &out), 0);
        cr_assert(out.len == sizeof data && memcmp(out.data, data, sizeof data) == 0);
        cr_assert_eq(cn_store_locate(t, id, &loc2, key, pack2, sizeof pack2), 0);
        cr_assert_eq(cn_backend_get(backend2, pack2, loc2.offset, loc2.length, &sealed2), 0);
        cr_assert(sealed.len == sealed2.len && memcmp(sealed.data, sealed2.data, sealed.len) == 0);
        cr_assert_eq(loc2.flags, loc.flags);
        cr_assert_eq(loc2.raw_length, loc.raw_length);
        cn_store_free(t);
        cn_store_free(s);
        cn_buf_done(&sealed);
        cn_buf_done(&sealed2);
        cn_buf_done(&out);
        cn_repo_unref(dst);
        cn_repo_unref(src);
}

/* A snapshot of one directory holding one file of the given chunks, each
 * chunk stored (unless missing) in the source. */
static void make_snapshot(CnRepo *r, const uint8_t (*chunks)[5000], size_t n, bool store_last, int64_t t,
                          CnSnapshot *ret) {
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        CnNode node = {.name = "f", .name_len = 1, .type = CN_NODE_FILE, .mode = 0644};
        CnBuf tree = CN_BUF_INIT(1u << 20);
        uint8_t(*ids)[CN_ID_BYTES] = calloc(n, CN_ID_BYTES);

        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        for (size_t i = 0; i < n; i++) {
                cn_store_chunk_id(s, chunks[i], 5000, ids[i]);
                if (i + 1 < n || store_last)
                        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, ids[i], chunks[i], 5000, NULL), 0);
        }
        node.chunks = ids;
        node.n_chunks = n;
        node.size = 5000 * n;
        cr_assert_eq(cn_tree_encode(&node, 1, &tree), 0);
        *ret = (CnSnapshot){.controller = c, .hostname = "h", .username = "u", .time = {t, 0}};
        cn_store_chunk_id(s, tree.data, tree.len, ret->tree);
        cr_assert_eq(cn_store_put(s, CN_BLOB_TREE, ret->tree, tree.data, tree.len, NULL), 0);
        cr_assert_eq(cn_store_flush(s), 0);
        cn_store_free(s);
        cr_assert_eq(cn_snapshot_save(r, ret), 0);
        free(ids);
        cn_buf_done(&tree);
}

static size_t count(CnBackend *b, const char *prefix) {
        CnNames l = {};
        cr_assert_eq(cn_backend_list_names(b, prefix, &l), 0);
        size_t n = l.n;
        cn_names_done(&l);
        return n;
}

Test(copy, sends_what_is_missing_and_nothing_twice) {
        static uint8_t chunks[4][5000];
        CnRepo *src, *dst;
        CnSnapshot a, b, *list;
        CnCopyStats st;
        CnCopyOptions o = {};
        size_t n;

        for (int i = 0; i < 4; i++)
                fill(chunks[i], 5000, (uint32_t) i + 1);
        make_pair(&src, &dst);
        make_snapshot(src, (const uint8_t(*)[5000]) chunks, 3, true, 1, &a);
        make_snapshot(src, (const uint8_t(*)[5000]) chunks + 1, 3, true, 2, &b); /* shares 2 chunks with a */
        cr_assert_eq(cn_snapshot_list(src, NULL, NULL, NULL, &list, &n), 0);
        cr_assert_eq(n, 2);

        cr_assert_eq(cn_copy_run(src, dst, list, 1, &o, &st, NULL), 0);
        cr_assert_eq(st.snapshots_copied, 1);
        cr_assert_eq(st.blobs_sent, 4, "3 chunks and a tree");
        cr_assert_eq(cn_copy_run(src, dst, list, 2, &o, &st, NULL), 0);
        cr_assert_eq(st.snapshots_copied, 1);
        cr_assert_eq(st.snapshots_skipped, 1);
        cr_assert_eq(st.blobs_sent, 2, "the new chunk and the new tree, nothing a already brought");
        cr_assert_eq(cn_copy_run(src, dst, list, 2, &o, &st, NULL), 0);
        cr_assert_eq(st.snapshots_copied + st.blobs_sent + st.bytes_sent + st.reads, 0);
        cr_assert_eq(st.snapshots_skipped, 2);

        /* The replica lists the same snapshots under the same ids. */
        CnSnapshot *got;
        size_t m;
        cr_assert_eq(cn_snapshot_list(dst, NULL, NULL, NULL, &got, &m), 0);
        cr_assert_eq(m, 2);
        cr_assert_str_eq(got[0].id_hex, list[0].id_hex);
        cr_assert_str_eq(got[1].id_hex, list[1].id_hex);
        cr_assert_eq(memcmp(got[1].tree, list[1].tree, CN_ID_BYTES), 0);
        cn_snapshots_free(got, m);
        cn_snapshots_free(list, n);
        cn_repo_unref(dst);
        cn_repo_unref(src);
}

Test(copy, a_snapshot_whose_chunk_the_source_lacks_is_not_copied) {
        static uint8_t chunks[2][5000];
        CnRepo *src, *dst;
        CnSnapshot a, *list;
        CnCopyStats st;
        CnCopyFailure fail;
        CnCopyOptions o = {};
        size_t n;

        fill(chunks[0], 5000, 1);
        fill(chunks[1], 5000, 2);
        make_pair(&src, &dst);
        make_snapshot(src, (const uint8_t(*)[5000]) chunks, 2, false, 1, &a);
        cr_assert_eq(cn_snapshot_list(src, NULL, NULL, NULL, &list, &n), 0);
        cr_assert_eq(cn_copy_run(src, dst, list, n, &o, &st, &fail), -ENOENT);
        cr_assert_eq(fail.controller, cn_repo_controller(src, 0));
        cr_assert_eq(strlen(fail.object), CN_ID_HEX, "names the missing chunk: %s", fail.object);
        cr_assert_eq(cn_hex_decode(fail.object, (uint8_t[CN_ID_BYTES]){}, CN_ID_BYTES), 0);
        cr_assert_eq(st.snapshots_copied, 0);
        cr_assert_eq(count(backend2, "snapshots/"), 0, "no snapshot before all its data");
        cn_snapshots_free(list, n);
        cn_repo_unref(dst);
        cn_repo_unref(src);
}

Test(copy, a_repository_that_is_no_replica_gets_nothing) {
        static uint8_t chunks[1][5000];
        CnRepo *src, *other;
        CnSnapshot a, *list;
        CnCopyStats st;
        CnCopyOptions o = {};
        size_t n;

        fill(chunks[0], 5000, 1);
        cr_assert_eq(cn_repo_init(backend, "src", 3, &fast, &src), 0);
        cr_assert_eq(cn_repo_init(backend2, "o", 1, &fast, &other), 0);
        make_snapshot(src, (const uint8_t(*)[5000]) chunks, 1, true, 1, &a);
        cr_assert_eq(cn_snapshot_list(src, NULL, NULL, NULL, &list, &n), 0);
        size_t before = count(backend2, "");
        cr_assert_eq(cn_copy_run(src, other, list, n, &o, &st, NULL), -EXDEV);
        cr_assert_eq(count(backend2, ""), before);
        cn_snapshots_free(list, n);
        cn_repo_unref(other);
        cn_repo_unref(src);
}
