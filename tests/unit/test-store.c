/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Repository, key files and the chunk store on a local backend. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "fileio.h"
#include "format.h"
#include "hex.h"
#include "repo.h"
#include "restore.h"
#include "store.h"

#include "alloc-limit.h"

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

/* A writer killed between the pack and its index file (or an index file
 * lost): a reader reads the pack's own header and leaves the repository
 * alone; the next writer adopts the pack (puts its index file again) and
 * does not store its chunks again. */
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

        uint64_t size;
        CnBuf out = CN_BUF_INIT(1u << 20);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        cr_assert_eq(cn_store_get(s, id, &out), 0, "a reader reads the pack's header");
        cr_assert_eq(out.len, sizeof data);
        cr_assert_eq(memcmp(out.data, data, sizeof data), 0);
        cn_buf_done(&out);
        cn_store_free(s);
        cr_assert_eq(cn_backend_stat(backend, name, &size), -ENOENT, "a reader writes nothing");
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        CnStoreStats st;
        cn_store_stats(s, &st);
        cr_assert_eq(st.packs_adopted, 1);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, &added), 0);
        cr_assert_not(added);
        cn_store_free(s);
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
        size_t n;
        CnStore *s;
        CnNode node = {};
        CnBuf out = CN_BUF_INIT(1u << 20);

        cr_assert_eq(cn_repo_open(backend, "wrong", 5, &r), -EKEYREJECTED);
        cr_assert_eq(cn_repo_open(backend, "cairn-vector", 12, &r), 0);
        cr_assert_str_eq(cn_repo_controller(r, 0)->name, "vector-controller");
        cr_assert_eq(cn_repo_controller(r, 0)->chunker.avg_size, 1u << 20);
        cr_assert_eq(cn_snapshot_list(r, NULL, NULL, NULL, &list, &n), 0);
        cr_assert_eq(n, 1);
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

/* ---- issue 8, items 5, 7, 11: damaged objects are read around and heal ---- */

/* XOR one byte of a stored object in place (offset from the end when
 * negative): in place, as the backend may hold the file open. */
static void damage_object(const char *name, long offset) {
        char path[512];
        uint8_t byte;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        chmod(path, 0600);
        int fd = open(path, O_RDWR);
        cr_assert_geq(fd, 0, "%s", path);
        off_t size = lseek(fd, 0, SEEK_END);
        off_t at = offset < 0 ? size + offset : offset;
        cr_assert(at >= 0 && at < size);
        cr_assert_eq(pread(fd, &byte, 1, at), 1);
        byte ^= 0x40;
        cr_assert_eq(pwrite(fd, &byte, 1, at), 1);
        close(fd);
}

typedef struct Reports {
        unsigned n;
        char last[256];
        int error;
} Reports;

static void count_report(const char *name, int error, void *u) {
        Reports *rp = u;
        rp->n++;
        snprintf(rp->last, sizeof rp->last, "%s", name);
        rp->error = error;
}

/* One chunk, stored and flushed; its pack id in hex. */
static void store_one(CnRepo *r, CnController *c, const uint8_t *data, size_t n, uint8_t id[CN_ID_BYTES],
                      char hex[CN_ID_HEX + 1]) {
        CnStore *s;
        CnBlobLoc loc;
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        cn_store_chunk_id(s, data, n, id);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, n, NULL), 0);
        cr_assert_eq(cn_store_flush(s), 0);
        cr_assert(cn_index_lookup(cn_store_index(s), id, &loc));
        cn_hex_encode(cn_index_pack_id(cn_store_index(s), loc.pack), CN_ID_BYTES, hex);
        cn_store_free(s);
}

static void assert_reads(CnRepo *r, CnController *c, const uint8_t id[CN_ID_BYTES], const uint8_t *data, size_t n) {
        CnStore *s;
        CnBuf out = CN_BUF_INIT(1u << 20);
        Reports rp = {};
        cr_assert_eq(cn_store_open_tolerant(r, c, CN_STORE_KEYS, count_report, &rp, &s), 0);
        cr_assert_eq(cn_store_get(s, id, &out), 0);
        cr_assert(out.len == n && memcmp(out.data, data, n) == 0);
        cn_store_free(s);
        cn_buf_done(&out);
}

/* Item 7: a damaged index file fails a strict open, and a tolerant one
 * reports it once and reads the pack's own header instead; a writer puts
 * the index file again, after which nothing is damaged. */
Test(store, damaged_index_is_read_from_the_pack_header) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        static uint8_t data[30000];
        uint8_t id[CN_ID_BYTES];
        char hex[CN_ID_HEX + 1], name[256];
        Reports rp = {};
        bool added;

        fill(data, sizeof data, 21);
        store_one(r, c, data, sizeof data, id, hex);
        snprintf(name, sizeof name, "index/%s/%s", c->id_hex, hex);
        damage_object(name, -5);

        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), -EBADMSG);
        cr_assert_eq(cn_store_open_tolerant(r, c, CN_STORE_KEYS, count_report, &rp, &s), 0);
        cr_assert_eq(rp.n, 1);
        cr_assert_str_eq(rp.last, name);
        cn_store_free(s);
        assert_reads(r, c, id, data, sizeof data);

        rp = (Reports) {};
        cr_assert_eq(cn_store_open_tolerant(r, c, CN_STORE_KEYS | CN_STORE_WRITE, count_report, &rp, &s), 0);
        cr_assert_eq(rp.n, 1);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, &added), 0);
        cr_assert_not(added, "the pack's chunks are known from its header");
        cn_store_free(s);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0, "the writer put the index file again");
        cn_store_free(s);
        cn_repo_unref(r);
}

/* Item 7: an oversized, empty or foreign object under an index name, and
 * an index file naming another pack, are skipped, never fatal. */
Test(store, oversized_empty_and_misnamed_index_files_are_skipped) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        static uint8_t a[20000], b[20000];
        uint8_t ia[CN_ID_BYTES], ib[CN_ID_BYTES];
        char ha[CN_ID_HEX + 1], hb[CN_ID_HEX + 1], na[256], nb[256], path[512];
        CnBuf obj = CN_BUF_INIT(1u << 20);

        fill(a, sizeof a, 31);
        fill(b, sizeof b, 32);
        store_one(r, c, a, sizeof a, ia, ha);
        store_one(r, c, b, sizeof b, ib, hb);
        snprintf(na, sizeof na, "index/%s/%s", c->id_hex, ha);
        snprintf(nb, sizeof nb, "index/%s/%s", c->id_hex, hb);
        /* b's index file under a's name: its pack id says b. */
        cr_assert_eq(cn_backend_get(backend, nb, 0, CN_GET_ALL, &obj), 0);
        cr_assert_eq(cn_backend_put(backend, na, obj.data, obj.len, 0), 0);
        for (int round = 0; round < 3; round++) {
                Reports rp = {};
                if (round == 1)
                        cr_assert_eq(cn_backend_put(backend, na, "", 0, 0), 0);
                if (round == 2) {
                        snprintf(path, sizeof path, "%s/%s", dir, na);
                        cr_assert_eq(truncate(path, 10ll << 30), 0);
                }
                cr_assert_eq(cn_store_open_tolerant(r, c, CN_STORE_KEYS, count_report, &rp, &s), 0);
                cr_assert_eq(rp.n, 1, "round %d", round);
                cr_assert_str_eq(rp.last, na);
                cr_assert_eq(rp.error, round == 2 ? -E2BIG : -EBADMSG, "round %d: %d", round, rp.error);
                cn_store_free(s);
                assert_reads(r, c, ia, a, sizeof a);
                assert_reads(r, c, ib, b, sizeof b);
        }
        cn_buf_done(&obj);
        cn_repo_unref(r);
}

/* Items 5 and 7: a damaged ledger leaves its chunks without keys; a writer
 * does not deduplicate against them, stores them again, and records the
 * old copies as damaged, so that readers find the new ones. */
Test(store, chunks_of_a_damaged_ledger_are_stored_again) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        static uint8_t data[30000];
        uint8_t id[CN_ID_BYTES];
        char hex[CN_ID_HEX + 1], name[256];
        CnNames damage = {};
        Reports rp = {};
        bool added;

        CnNames ledgers = {};

        fill(data, sizeof data, 41);
        store_one(r, c, data, sizeof data, id, hex);
        snprintf(name, sizeof name, "ledger/%s/", c->id_hex);
        cr_assert_eq(cn_backend_list_names(backend, name, &ledgers), 0);
        cr_assert_eq(ledgers.n, 1);
        damage_object(ledgers.v[0], 60);
        cn_names_done(&ledgers);

        cr_assert_eq(cn_store_open_tolerant(r, c, CN_STORE_KEYS | CN_STORE_WRITE, count_report, &rp, &s), 0);
        cr_assert_eq(rp.n, 1);
        cr_assert_not(cn_store_contains(s, id), "a chunk without a key is not stored");
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, &added), 0);
        cr_assert(added);
        cr_assert_eq(cn_store_flush(s), 0);
        cn_store_free(s);
        /* Version 2: the pack's index file opens under the key its ledger
         * held, so the unreadable copy is not even known: nothing to record. */
        cr_assert_eq(cn_backend_list_names(backend, "damage/", &damage), 0);
        cr_assert_eq(damage.n, 0);
        cn_names_done(&damage);
        assert_reads(r, c, id, data, sizeof data);
        cn_repo_unref(r);
}

/* Item 5: a location noted damaged (as check does) is absent for writers,
 * which store the chunk again; readers use it only while no other copy
 * exists, then the new copy. */
Test(store, recorded_damage_is_absent_for_writers) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        static uint8_t data[30000];
        uint8_t id[CN_ID_BYTES];
        char hex[CN_ID_HEX + 1], pack_name[256];
        CnBlobLoc loc, again;
        CnBuf out = CN_BUF_INIT(1u << 20);
        bool added;

        fill(data, sizeof data, 51);
        store_one(r, c, data, sizeof data, id, hex);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        cr_assert(cn_index_lookup(cn_store_index(s), id, &loc));
        cr_assert_not(cn_store_damage_recorded(s, loc.pack, id));
        cr_assert_eq(cn_store_note_damage(s, loc.pack, id), 0);
        cr_assert_eq(cn_store_flush(s), 0);
        cn_store_pack_name(s, cn_index_pack_id(cn_store_index(s), loc.pack), pack_name, sizeof pack_name);
        cn_store_free(s);

        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        cr_assert(cn_index_lookup(cn_store_index(s), id, &loc), "a reader falls back to the recorded copy");
        cr_assert(cn_store_damage_recorded(s, loc.pack, id));
        cr_assert_eq(cn_store_get(s, id, &out), 0, "it may yet open");
        cn_store_free(s);

        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        cr_assert_not(cn_store_contains(s, id));
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, id, data, sizeof data, &added), 0);
        cr_assert(added, "a writer stores a recorded chunk again");
        cr_assert_eq(cn_store_flush(s), 0);
        cn_store_free(s);

        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        cr_assert(cn_index_lookup(cn_store_index(s), id, &again));
        cr_assert_not(cn_store_damage_recorded(s, again.pack, id), "readers take the new copy");
        cr_assert_eq(cn_store_get(s, id, &out), 0);
        cr_assert(out.len == sizeof data && memcmp(out.data, data, sizeof data) == 0);
        cn_store_free(s);
        cn_buf_done(&out);
        cn_repo_unref(r);
}

/* Item 5: CN_STORE_VERIFY (backup --force) reads back each chunk it would
 * reuse: a damaged one is reported (once per pack), stored again and
 * recorded; a good one is reused. */
Test(store, verify_stores_a_damaged_reused_chunk_again) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnStore *s;
        static uint8_t good[30000], bad[30000];
        uint8_t ig[CN_ID_BYTES], ib[CN_ID_BYTES];
        char hex[CN_ID_HEX + 1], name[256];
        CnBlobLoc loc;
        Reports rp = {};
        bool added;

        fill(good, sizeof good, 61);
        fill(bad, sizeof bad, 62);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS | CN_STORE_WRITE, &s), 0);
        cn_store_chunk_id(s, good, sizeof good, ig);
        cn_store_chunk_id(s, bad, sizeof bad, ib);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, ig, good, sizeof good, NULL), 0);
        cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, ib, bad, sizeof bad, NULL), 0);
        cr_assert_eq(cn_store_flush(s), 0);
        cr_assert(cn_index_lookup(cn_store_index(s), ib, &loc));
        cn_hex_encode(cn_index_pack_id(cn_store_index(s), loc.pack), CN_ID_BYTES, hex);
        cn_store_free(s);
        snprintf(name, sizeof name, "data/%s/%.2s/%s", c->id_hex, hex, hex);
        damage_object(name, (long) loc.offset + 100);

        cr_assert_eq(cn_store_open_tolerant(r, c, CN_STORE_KEYS | CN_STORE_WRITE | CN_STORE_VERIFY, count_report,
                                            &rp, &s),
                     0);
        for (int i = 0; i < 2; i++) {
                cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, ig, good, sizeof good, &added), 0);
                cr_assert_not(added, "a good chunk is reused");
                cr_assert_eq(cn_store_put(s, CN_BLOB_DATA, ib, bad, sizeof bad, &added), 0);
                cr_assert_eq(added, i == 0, "a damaged chunk is stored again, once");
        }
        cr_assert_eq(rp.n, 1);
        cr_assert_str_eq(rp.last, name);
        cr_assert_eq(cn_store_flush(s), 0);
        cn_store_free(s);
        assert_reads(r, c, ib, bad, sizeof bad);
        assert_reads(r, c, ig, good, sizeof good);
        cn_repo_unref(r);
}

/* Item 11: a snapshot is named by the SHA-256 of its stored bytes; under
 * another name (an older snapshot copied over it) it is damage, reported
 * and not listed; so is one whose header names another controller. */
Test(store, snapshot_ids_are_bound_to_their_bytes) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        CnSnapshot a = { .controller = c, .hostname = "h", .username = "u" }, b = a, *list;
        size_t n;
        char na[256], nb[256];
        uint8_t sum[CN_ID_BYTES];
        CnBuf obj = CN_BUF_INIT(1u << 20);
        Reports rp = {};

        a.time.sec = 1;
        b.time.sec = 2;
        cr_assert_eq(cn_snapshot_save(r, &a), 0);
        cr_assert_eq(cn_snapshot_save(r, &b), 0);
        snprintf(na, sizeof na, "snapshots/%s/%s", c->id_hex, a.id_hex);
        snprintf(nb, sizeof nb, "snapshots/%s/%s", c->id_hex, b.id_hex);
        cr_assert_eq(cn_backend_get(backend, na, 0, CN_GET_ALL, &obj), 0);
        cr_assert_eq(cn_le32_get(obj.data + CN_MAGIC_BYTES), 3, "snapshots are written as version 3");
        /* Version 3: the id is keyed over the body, not the SHA-256 of the bytes. */
        cn_sha256(sum, obj.data, obj.len);
        cr_assert_neq(memcmp(sum, a.id, CN_ID_BYTES), 0);

        cr_assert_eq(cn_backend_put(backend, nb, obj.data, obj.len, 0), 0);
        cr_assert_eq(cn_snapshot_list(r, NULL, NULL, NULL, &list, &n), -EBADMSG, "strict: fails");
        cr_assert_eq(cn_snapshot_list(r, NULL, count_report, &rp, &list, &n), 0);
        cr_assert_eq(n, 1);
        cr_assert_str_eq(list[0].id_hex, a.id_hex);
        cr_assert_eq(rp.n, 1);
        cr_assert_str_eq(rp.last, nb);
        cn_snapshots_free(list, n);

        damage_object(na, CN_MAGIC_BYTES + 4 + CN_UUID_BYTES + 2);     /* the controller field */
        rp = (Reports) {};
        cr_assert_eq(cn_snapshot_list(r, c, count_report, &rp, &list, &n), 0);
        cr_assert_eq(n, 0);
        cr_assert_eq(rp.n, 2);
        cn_snapshots_free(list, n);
        cn_buf_done(&obj);
        cn_repo_unref(r);
}

/* ---- issue 14: what is read of a pack follows its authenticated entries ---- */

enum { PADDED_PACK_BYTES = 600u << 20 };

/* A pack the server makes 600 MiB long (zeros after its trailer, sparse). */
static void pad_pack(CnController *c, const char *hex) {
        char path[512];
        snprintf(path, sizeof path, "%s/data/%s/%.2s/%s", dir, c->id_hex, hex, hex);
        chmod(path, 0600);
        cr_assert_eq(truncate(path, PADDED_PACK_BYTES), 0, "%s", path);
}

/* A slot of the pack cache holds the blobs of a pack as its index entries
 * place them, never what the server sends: under a 256 MiB cap the chunk
 * still reads through the cache (it took a 600 MiB slot, -ENOMEM, before). */
Test(store, pack_cache_takes_what_the_entries_say_not_the_server) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        static uint8_t data[200000];
        uint8_t id[CN_ID_BYTES];
        char hex[CN_ID_HEX + 1];
        CnBuf out = CN_BUF_INIT(1u << 20);
        CnStore *s;

        fill(data, sizeof data, 7);
        store_one(r, c, data, sizeof data, id, hex);
        pad_pack(c, hex);
        cr_assert_eq(cn_store_open(r, c, CN_STORE_KEYS, &s), 0);
        cr_assert_eq(cn_store_set_pack_cache(s, 2), 0);
        cn_test_limit_address_space(256u << 20);
        cr_assert_eq(cn_store_get(s, id, &out), 0);
        cr_assert(out.len == sizeof data && memcmp(out.data, data, sizeof data) == 0);
        cn_store_free(s);
        cn_buf_done(&out);
        cn_repo_unref(r);
}

typedef struct PackProblems {
        unsigned damaged;
        int error;
} PackProblems;

static void on_check_problem(const CnCheckProblem *p, void *u) {
        PackProblems *pp = u;
        if (p->kind == CN_CHECK_DAMAGED_PACK) {
                pp->damaged++;
                pp->error = p->error;
        }
}

/* check --read-data knows each pack's size from its index entries: a pack
 * the server lists larger is damaged (-E2BIG) and not read (it was read
 * whole, up to 1 GiB: -ENOMEM under a 256 MiB cap). */
Test(store, check_does_not_read_a_pack_larger_than_its_entries) {
        CnRepo *r = init_repo();
        CnController *c = cn_repo_controller(r, 0);
        static uint8_t data[200000];
        uint8_t id[CN_ID_BYTES];
        char hex[CN_ID_HEX + 1];
        CnCheckStats st;
        PackProblems pp = {};

        fill(data, sizeof data, 8);
        store_one(r, c, data, sizeof data, id, hex);
        cr_assert_eq(cn_check_run(r, true, on_check_problem, &pp, &st), 0);
        cr_assert_eq(pp.damaged, 0, "the pack as written is fine");
        cr_assert_eq(st.packs_read, 1);
        pad_pack(c, hex);
        cn_test_limit_address_space(256u << 20);
        cr_assert_eq(cn_check_run(r, true, on_check_problem, &pp, &st), 0);
        cr_assert_eq(pp.damaged, 1);
        cr_assert_eq(pp.error, -E2BIG);
        cr_assert_eq(st.packs_read, 0);
        cn_repo_unref(r);
}
