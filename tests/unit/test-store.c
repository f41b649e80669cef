/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Repository, key files and the chunk store on a local backend. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "format.h"
#include "hex.h"
#include "repo.h"
#include "restore.h"
#include "store.h"

static char dir[64];
static CnBackend *backend;
static const CnRepoInitOptions fast = { .kdf = { 1, 8192 } };   /* tests need no brute-force resistance */
static const CnKdfParams fast_kdf = { 1, 8192 };

static void setup(void) {
        cr_assert_eq(cn_crypto_init(), 0);
        snprintf(dir, sizeof dir, "/tmp/cairn-test-store.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(cn_backend_open(dir, true, &backend), 0);
}

static void teardown(void) {
        char cmd[128];
        cn_backend_close(backend);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

static CnRepo *init_repo(void) {
        CnRepo *r;
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &r), 0);
        return r;
}

static void fill(uint8_t *p, size_t n, uint32_t seed) {
        for (size_t i = 0; i < n; i++) {
                seed = seed * 1103515245u + 12345u;
                p[i] = (uint8_t) (seed >> 16);
        }
}

TestSuite(repo, .init = setup, .fini = teardown);
TestSuite(store, .init = setup, .fini = teardown);

Test(repo, open_needs_the_password) {
        CnRepo *r = init_repo(), *s;
        cn_repo_unref(r);
        cr_assert_eq(cn_repo_open(backend, "wrong", 5, &s), -EKEYREJECTED);
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &s), 0);
        cr_assert_eq(cn_repo_n_controllers(s), 1);
        cr_assert_str_eq(cn_repo_controller(s, 0)->name, "default");
        cn_repo_unref(s);
}

Test(repo, init_refuses_an_existing_repository) {
        CnRepo *r = init_repo(), *s;
        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &s), -EEXIST);
        cn_repo_unref(r);
}

Test(repo, missing_config_is_no_repository) {
        CnRepo *s;
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &s), -ENOENT);
}

Test(repo, unknown_config_version_is_refused_before_the_password) {
        CnRepo *r = init_repo(), *s;
        CnBuf cfg = CN_BUF_INIT(1u << 20);
        cn_repo_unref(r);
        cr_assert_eq(cn_backend_get(backend, "config", 0, CN_GET_ALL, &cfg), 0);
        cfg.data[CN_MAGIC_BYTES] = 2;
        cr_assert_eq(cn_backend_put(backend, "config", cfg.data, cfg.len, 0), 0);
        cr_assert_eq(cn_repo_open(backend, "wrong", 5, &s), -EPROTONOSUPPORT);
        cn_buf_done(&cfg);
}

Test(repo, keys_add_passwd_remove_without_reencrypting) {
        CnRepo *r = init_repo(), *s;
        char id[CN_UUID_HEX + 1];
        CnKeyInfo *k;
        size_t n;
        cr_assert_eq(cn_repo_key_add(r, "second", 6, "ops", &fast_kdf, id), 0);
        cr_assert_eq(cn_repo_key_list(r, &k, &n), 0);
        cr_assert_eq(n, 2);
        cn_key_info_free_array(k, n);
        cn_repo_unref(r);

        cr_assert_eq(cn_repo_open(backend, "second", 6, &s), 0);
        cr_assert_eq(cn_repo_key_remove(s, id), -EBUSY);
        cr_assert_eq(cn_repo_key_passwd(s, "third", 5, &fast_kdf), 0);
        cn_repo_unref(s);
        cr_assert_eq(cn_repo_open(backend, "second", 6, &s), -EKEYREJECTED);
        cr_assert_eq(cn_repo_open(backend, "third", 5, &s), 0);
        cn_repo_unref(s);
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &s), 0);
        cn_repo_unref(s);
}

Test(repo, controllers_persist_with_their_own_keys) {
        CnRepo *r = init_repo(), *s;
        CnController *b;
        cr_assert_eq(cn_repo_controller_add(r, "acme", NULL, &b), 0);
        cr_assert_eq(cn_repo_controller_add(r, "acme", NULL, &b), -EEXIST);
        cr_assert_neq(memcmp(cn_repo_controller(r, 0)->id_key, b->id_key, CN_KEY_BYTES), 0);
        cr_assert_neq(memcmp(cn_repo_controller(r, 0)->chunker_key, b->chunker_key, CN_KEY_BYTES), 0);
        cn_repo_unref(r);
        cr_assert_eq(cn_repo_open(backend, "pw", 2, &s), 0);
        cr_assert_eq(cn_repo_n_controllers(s), 2);
        cr_assert_not_null(cn_repo_find_controller(s, "acme"));
        cn_repo_unref(s);
}

Test(store, put_flush_get_round_trip_across_opens) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        static uint8_t data[300000];
        uint8_t id[CN_ID_BYTES];
        bool added;
        CnBuf out = CN_BUF_INIT(1u << 20);

        fill(data, sizeof data, 1);
        memset(data + 1000, 0, 100000);         /* compressible in part */
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        cn_store_chunk_id(s, data, sizeof data, id);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, &added), 0);
        cr_assert(added);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, &added), 0);
        cr_assert_not(added);
        cr_assert_eq(cn_store_get(s, id, &out), 0);     /* from the open pack */
        cr_assert_eq(cn_store_flush(s), 0);
        cn_store_free(s);

        cr_assert_eq(cn_store_open(r, c, 0, &s), 0);
        cr_assert_eq(cn_store_get(s, id, &out), -ENOKEY, "blobs cannot be read without the ledger");
        cn_store_free(s);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        cr_assert_eq(cn_store_get(s, id, &out), 0);
        cr_assert_eq(out.len, sizeof data);
        cr_assert_eq(memcmp(out.data, data, sizeof data), 0);
        cn_store_free(s);
        cn_buf_done(&out);
        cn_repo_unref(r);
}

Test(store, same_data_gets_other_ids_in_another_controller) {
        CnRepo *r = init_repo();
        CnController *a = cn_repo_controller(r, 0), *b;
        CnStore *sa, *sb;
        uint8_t ia[CN_ID_BYTES], ib[CN_ID_BYTES];
        cr_assert_eq(cn_repo_controller_add(r, "other", NULL, &b), 0);
        cr_assert_eq(cn_store_open(r, a, CN_STORE_KEYS, &sa), 0);
        cr_assert_eq(cn_store_open(r, b, CN_STORE_KEYS, &sb), 0);
        cn_store_chunk_id(sa, "same bytes", 10, ia);
        cn_store_chunk_id(sb, "same bytes", 10, ib);
        cr_assert_neq(memcmp(ia, ib, CN_ID_BYTES), 0);
        cn_store_free(sa);
        cn_store_free(sb);
        cn_repo_unref(r);
}

/* Even with the data key in hand, a sealed chunk does not open in another
 * controller's domain: the AEAD binds controller, processor and chunk id. */
Test(store, chunk_copied_into_another_controller_fails_to_open) {
        CnRepo *r = init_repo();
        CnController *a = cn_repo_controller(r, 0), *b;
        CnStore *sa, *sb;
        static uint8_t data[5000];
        uint8_t id[CN_ID_BYTES], key[CN_KEY_BYTES];
        CnBlobLoc loc;
        CnBuf out = CN_BUF_INIT(1u << 20), pack = CN_BUF_INIT(64u << 20);
        char from[256], to[256];

        fill(data, sizeof data, 7);
        cr_assert_eq(cn_repo_controller_add(r, "victim", NULL, &b), 0);
        cr_assert_eq(cn_store_open(r, a, CN_STORE_KEYS | CN_STORE_WRITE, &sa), 0);
        cn_store_chunk_id(sa, data, sizeof data, id);
        cr_assert_eq(cn_store_put(sa, CN_BLOB_DATA, id, data, sizeof data, NULL), 0);
        cr_assert_eq(cn_store_flush(sa), 0);
        cr_assert(cn_index_lookup(cn_store_index(sa), id, &loc));
        memcpy(key, cn_index_get_key(cn_store_index(sa), id), CN_KEY_BYTES);
        const uint8_t *pack_id = cn_index_pack_id(cn_store_index(sa), loc.pack);

        cr_assert_eq(cn_store_open(r, b, CN_STORE_KEYS, &sb), 0);
        cn_store_pack_name(sa, pack_id, from, sizeof from);
        cn_store_pack_name(sb, pack_id, to, sizeof to);
        cr_assert_eq(cn_backend_get(backend, from, 0, CN_GET_ALL, &pack), 0);
        cr_assert_eq(cn_backend_put(backend, to, pack.data, pack.len, 0), 0);
        uint32_t pb;
        cr_assert_eq(cn_index_add_pack(cn_store_index(sb), pack_id, &pb), 0);
        loc.pack = pb;
        cr_assert_eq(cn_index_insert(cn_store_index(sb), id, &loc), 1);
        cr_assert_eq(cn_index_set_key(cn_store_index(sb), id, key), 0);
        cr_assert_eq(cn_store_get(sb, id, &out), -EBADMSG);
        cr_assert_eq(cn_store_get(sa, id, &out), 0);
        cn_store_free(sa);
        cn_store_free(sb);
        cn_buf_done(&out);
        cn_buf_done(&pack);
        cn_repo_unref(r);
}

/* A writer killed between the pack and its index file: the next writer
 * adopts the pack from its own header and does not store its chunks again. */
Test(store, pack_without_index_is_adopted) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        static uint8_t data[20000];
        uint8_t id[CN_ID_BYTES];
        CnBlobLoc loc;
        char name[256], hex[CN_ID_HEX + 1];
        bool added;

        fill(data, sizeof data, 3);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        cn_store_chunk_id(s, data, sizeof data, id);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, NULL), 0);
        cr_assert_eq(cn_store_flush(s), 0);
        cr_assert(cn_index_lookup(cn_store_index(s), id, &loc));
        cn_hex_encode(cn_index_pack_id(cn_store_index(s), loc.pack), CN_ID_BYTES, hex);
        cn_store_free(s);
        snprintf(name, sizeof name, "index/%s/%s", c->id_hex, hex);
        cr_assert_eq(cn_backend_remove(backend, name), 0);

        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        cr_assert_not(cn_index_lookup(cn_store_index(s), id, NULL), "a reader trusts only indexed packs");
        cn_store_free(s);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        CnStoreStats st;
        cn_store_stats(s, &st);
        cr_assert_eq(st.packs_adopted, 1);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, &added), 0);
        cr_assert_not(added);
        cn_store_free(s);
        uint64_t size;
        cr_assert_eq(cn_backend_stat(backend, name, &size), 0, "the index file was rewritten");
        cn_repo_unref(r);
}

/* tests/vectors/repo-v1 was written by an earlier cairn (make-repo-v1.sh):
 * key file, config, controller, pack, ledger, index, trees and snapshot
 * must all still open and give back the exact content. */
static void golden_init(void) {
        char path[4096];
        cr_assert_eq(cn_crypto_init(), 0);
        snprintf(path, sizeof path, "%s/repo-v1", getenv("CAIRN_VECTORS"));
        cr_assert_eq(cn_backend_open(path, false, &backend), 0);
}

static void golden_fini(void) {
        cn_backend_close(backend);
}

Test(golden, repository_v1_opens_and_gives_back_its_files, .init = golden_init, .fini = golden_fini) {
        CnRepo *r;
        CnSnapshot *list;
        size_t n, damaged;
        CnStore *s;
        CnNode node = {};
        CnBuf out = CN_BUF_INIT(1u << 20);

        cr_assert_eq(cn_repo_open(backend, "wrong", 5, &r), -EKEYREJECTED);
        cr_assert_eq(cn_repo_open(backend, "cairn-vector", 12, &r), 0);
        cr_assert_str_eq(cn_repo_controller(r, 0)->name, "vector-controller");
        cr_assert_eq(cn_repo_controller(r, 0)->chunker.avg_size, 1u << 20);
        cr_assert_eq(cn_snapshot_list(r, NULL, &list, &n, &damaged), 0);
        cr_assert_eq(n, 1);
        cr_assert_eq(damaged, 0);
        cr_assert_str_eq(list[0].hostname, "vector-host");
        cr_assert_eq(cn_store_open(r, list[0].controller, CN_STORE_KEYS, &s), 0);

        cr_assert_eq(cn_snapshot_find_node(s, &list[0], "/tmp/cairn-vector-v1/vector/hello.txt", &node), 0);
        cr_assert_eq(node.mtime.sec, 4102444800LL);
        cr_assert_eq(node.mtime.nsec, 123456789);
        cr_assert_eq(node.n_chunks, 1);
        cr_assert_eq(cn_store_get(s, node.chunks[0], &out), 0);
        cr_assert_eq(out.len, 13);
        cr_assert_eq(memcmp(out.data, "hello, cairn\n", 13), 0);
        cn_node_done(&node);

        cr_assert_eq(cn_snapshot_find_node(s, &list[0], "/tmp/cairn-vector-v1/vector/sub/zeros", &node), 0);
        cr_assert_eq(node.size, 100000);
        cr_assert_eq(cn_store_get(s, node.chunks[0], &out), 0);
        cr_assert_eq(out.len, 100000);
        for (size_t i = 0; i < out.len; i++)
                cr_assert_eq(out.data[i], 0);
        cn_node_done(&node);

        cr_assert_eq(cn_snapshot_find_node(s, &list[0], "/tmp/cairn-vector-v1/vector/link", &node), 0);
        cr_assert_eq(node.type, CN_NODE_SYMLINK);
        cr_assert_str_eq(node.target, "hello.txt");
        cn_node_done(&node);

        cn_buf_done(&out);
        cn_store_free(s);
        cn_snapshots_free(list, n);
        cn_repo_unref(r);
}

/* A writer that failed after its ledger file but before its pack (a full
 * disk) leaves keys for chunks that are then stored again under new keys:
 * the stale keys must never be taken for the new copies. */
Test(store, stale_ledger_of_an_unwritten_pack_is_ignored) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        static uint8_t data[20000];
        uint8_t id[CN_ID_BYTES];
        CnBlobLoc loc;
        char name[256], hex[CN_ID_HEX + 1];
        CnBuf out = CN_BUF_INIT(1u << 20);

        fill(data, sizeof data, 11);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        cn_store_chunk_id(s, data, sizeof data, id);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, NULL), 0);
        cr_assert_eq(cn_store_flush(s), 0);
        cr_assert(cn_index_lookup(cn_store_index(s), id, &loc));
        cn_hex_encode(cn_index_pack_id(cn_store_index(s), loc.pack), CN_ID_BYTES, hex);
        cn_store_free(s);
        /* Keep the ledger, lose the pack and its index. */
        snprintf(name, sizeof name, "index/%s/%s", c->id_hex, hex);
        cr_assert_eq(cn_backend_remove(backend, name), 0);
        snprintf(name, sizeof name, "data/%s/%.2s/%s", c->id_hex, hex, hex);
        cr_assert_eq(cn_backend_remove(backend, name), 0);

        for (int round = 0; round < 2; round++) {
                cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
                cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, NULL), 0);
                cr_assert_eq(cn_store_flush(s), 0);
                cn_store_free(s);
        }
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        cr_assert_eq(cn_store_get(s, id, &out), 0);
        cr_assert_eq(memcmp(out.data, data, sizeof data), 0);
        cn_store_free(s);
        cn_buf_done(&out);
        cn_repo_unref(r);
}

typedef struct CacheReader {
        pthread_t thread;
        CnStore *s;
        uint8_t (*ids)[CN_ID_BYTES];
        unsigned n, order, bad;
        size_t size;
} CacheReader;

/* Reads every chunk (order 0: forwards, 1: backwards, 2: odd ones first)
 * through its own reader and counts the ones that fail or differ. */
static void *cache_reader(void *arg) {
        CacheReader *t = arg;
        CnStoreReader *rd;
        uint8_t *want = malloc(t->size);
        CnBuf out = CN_BUF_INIT(2 * t->size);

        if (!want || cn_store_reader_new(t->s, &rd) < 0) {
                t->bad = t->n;
                free(want);
                return NULL;
        }
        for (unsigned k = 0; k < t->n; k++) {
                unsigned i = t->order == 0 ? k : t->order == 1 ? t->n - 1 - k : (2 * k + 1) % (t->n | 1);
                if (i >= t->n)
                        i = k;
                fill(want, t->size, i + 100);
                if (cn_store_read(rd, t->ids[i], &out) < 0 || out.len != t->size ||
                    memcmp(out.data, want, t->size) != 0)
                        t->bad++;
        }
        cn_store_reader_free(rd);
        cn_buf_done(&out);
        free(want);
        return NULL;
}

/* A backend with several connections gets as many pack writers: every pack
 * is written whole, with its ledger and index, and reads back. */
Test(store, several_writers_write_every_pack) {
        enum { CHUNKS = 48, SIZE = 1u << 20 };
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        uint8_t(*ids)[CN_ID_BYTES] = calloc(CHUNKS, CN_ID_BYTES);
        uint8_t *data = malloc(SIZE);
        CnBuf out = CN_BUF_INIT(2 * SIZE);
        CnNames packs = {}, ledgers = {}, indexes = {};
        bool added;

        cr_assert(ids && data);
        backend->connections = 3;
        cr_assert_eq(cn_backend_connections(backend), 3);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        for (unsigned i = 0; i < CHUNKS; i++) {
                fill(data, SIZE, i + 100);
                cn_store_chunk_id(s, data, SIZE, ids[i]);
                cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, ids[i], data, SIZE, &added), 0);
                cr_assert(added);
        }
        cr_assert_eq(cn_store_flush(s), 0);
        cn_store_free(s);

        cr_assert_eq(cn_backend_list_names(backend, "data/", &packs), 0);
        cr_assert_eq(cn_backend_list_names(backend, "ledger/", &ledgers), 0);
        cr_assert_eq(cn_backend_list_names(backend, "index/", &indexes), 0);
        cr_assert_geq(packs.n, 3, "48 MiB fill at least 3 packs, got %zu", packs.n);
        cr_assert_eq(ledgers.n, packs.n);
        cr_assert_eq(indexes.n, packs.n);

        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        for (unsigned i = 0; i < CHUNKS; i++) {
                fill(data, SIZE, i + 100);
                cr_assert_eq(cn_store_get(s, ids[i], &out), 0, "chunk %u", i);
                cr_assert(out.len == SIZE && memcmp(out.data, data, SIZE) == 0, "chunk %u differs", i);
        }
        cn_store_free(s);

        /* Again through a pack cache of 2 slots, from 3 threads at once,
         * each in another order: every chunk still reads back. */
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        cr_assert_eq(cn_store_set_pack_cache(s, 2), 0);
        CacheReader cr[3];
        for (unsigned t = 0; t < 3; t++) {
                cr[t] = (CacheReader) { .s = s, .ids = ids, .n = CHUNKS, .size = SIZE, .order = t };
                cr_assert_eq(pthread_create(&cr[t].thread, NULL, cache_reader, &cr[t]), 0);
        }
        for (unsigned t = 0; t < 3; t++) {
                pthread_join(cr[t].thread, NULL);
                cr_assert_eq(cr[t].bad, 0, "reader %u: %u chunks failed", t, cr[t].bad);
        }
        cn_store_free(s);
        cn_names_done(&packs);
        cn_names_done(&ledgers);
        cn_names_done(&indexes);
        cn_buf_done(&out);
        free(data);
        free(ids);
        cn_repo_unref(r);
}
