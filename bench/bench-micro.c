/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Micro benchmarks of the per-byte and per-chunk paths of a backup: keyed
 * chunk ids (cn_id_hmac), AEAD seal and open, zstd at the levels worth
 * choosing between, the in-memory chunk index (rate and bytes per entry) and
 * the chunk store's pack writes and blob reads on a local repository.
 * Reports numbers; asserts nothing about them.
 *
 *   bench-micro [CORPUS_MIB [DIR...]]      default: 128 /usr/lib
 *
 * Hashing and zstd run on a sample of SAMPLE_BYTES taken evenly from the
 * corpus (real files) and on random bytes; the store writes the whole corpus. */
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <sodium.h>

#include "crypto.h"
#include "format.h"
#include "index.h"
#include "corpus.h"
#include "macro.h"
#include "pack.h"
#include "repo.h"
#include "store.h"

#define SAMPLE_BYTES (32u << 20)        /* bytes per pass of hashing, AEAD and zstd */
#define RANDOM_BYTES (64u << 20)
#define REPEATS 3

static Corpus corpus;

/* ---- timing ---- */

typedef struct Timing {
        double cpu;     /* of the process, all threads: less disturbed by other load than wall time */
        double wall;
} Timing;

#define TIMING_NONE { 1e99, 1e99 }

static Timing clock_now(void) {
        struct timespec c, w;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c);
        clock_gettime(CLOCK_MONOTONIC, &w);
        return (Timing) { (double) c.tv_sec + (double) c.tv_nsec * 1e-9,
                          (double) w.tv_sec + (double) w.tv_nsec * 1e-9 };
}

/* Fold the pass that began at start into *best: the least CPU time and the
 * least wall time of the passes so far. */
static void keep_best(Timing *best, Timing start) {
        Timing now = clock_now();
        best->cpu = CN_MIN(best->cpu, now.cpu - start.cpu);
        best->wall = CN_MIN(best->wall, now.wall - start.wall);
}

/* One table row. MB/s and ops/s are per second of CPU time; cpu% is CPU
 * time over wall time (about 100: one thread, unhindered; below: waiting on
 * I/O or for a busy CPU; above: threads in parallel). */
static void row(const char *op, const char *size, double bytes, double ops, Timing t, const char *note) {
        char mbs[24] = "-";

        if (bytes > 0)
                snprintf(mbs, sizeof mbs, "%.0f", bytes / t.cpu / 1e6);
        printf("%-30s %-14s %9s %12.0f %5.0f%%  %s\n", op, size, mbs, ops / t.cpu, 100 * t.cpu / t.wall,
               note ? note : "");
}

static void section(const char *title) {
        printf("\n%s\n%-30s %-14s %9s %12s %6s  %s\n", title, "operation", "size", "MB/s", "ops/s", "cpu%", "note");
}

static const char *size_name(size_t n, char *buf, size_t len) {
        if (n >= (1u << 20) && n % (1u << 20) == 0)
                snprintf(buf, len, "%zu MiB", n >> 20);
        else
                snprintf(buf, len, "%zu KiB", n >> 10);
        return buf;
}

/* ---- data ---- */

static void fill_random(uint8_t *p, size_t n) {
        for (size_t i = 0; i + 8 <= n; i += 8) {
                uint64_t v = corpus_rng();
                memcpy(p + i, &v, 8);
        }
}


/* SAMPLE_BYTES in pieces of piece bytes taken at even steps over the whole
 * corpus, so that no one kind of file (the walk's first) dominates. */
static void take_sample(uint8_t *out, size_t piece) {
        size_t k = SAMPLE_BYTES / piece, step = (corpus.len - piece) / (k - 1);

        for (size_t i = 0; i < k; i++)
                memcpy(out + i * piece, corpus.data + i * step, piece);
}

/* Fisher-Yates over n records of size bytes. */
static void shuffle(void *v, size_t n, size_t size) {
        uint8_t *p = v, tmp[CN_ID_BYTES];

        for (size_t i = n - 1; i > 0; i--) {
                size_t j = corpus_rng() % (i + 1);
                memcpy(tmp, p + i * size, size);
                memcpy(p + i * size, p + j * size, size);
                memcpy(p + j * size, tmp, size);
        }
}

static size_t rss_bytes(void) {
        _cleanup_free_ char *line = NULL;
        unsigned long size = 0, resident = 0;
        size_t len = 0;
        FILE *f = fopen("/proc/self/statm", "re");

        if (!f)
                return 0;
        if (getline(&line, &len, f) < 0 || sscanf(line, "%lu %lu", &size, &resident) != 2)
                resident = 0;
        fclose(f);
        return resident * (size_t) sysconf(_SC_PAGESIZE);
}

/* Bytes malloc has handed out (heap and mmap'd blocks alike). */
static size_t heap_bytes(void) {
        struct mallinfo2 m = mallinfo2();
        return m.uordblks + m.hblkhd;
}

/* ---- keyed chunk ids ---- */

static const size_t piece_sizes[] = { 4u << 10, 64u << 10, 1u << 20 };

static void bench_hash(const uint8_t *sample, const uint8_t *rnd, const uint8_t key[CN_KEY_BYTES]) {
        const struct {
                const char *name;
                const uint8_t *d;
        } data[] = { { "corpus", sample }, { "random", rnd } };
        uint8_t id[CN_ID_BYTES];
        char size[64], sz[32];

        section("keyed chunk ids: cn_id_hmac (HMAC-SHA-256)");
        for (size_t i = 0; i < CN_ELEMENTSOF(data); i++)
                for (size_t j = 0; j < CN_ELEMENTSOF(piece_sizes); j++) {
                        size_t n = piece_sizes[j];
                        Timing best = TIMING_NONE;

                        for (int r = 0; r < REPEATS; r++) {
                                Timing start = clock_now();
                                for (size_t off = 0; off + n <= SAMPLE_BYTES; off += n)
                                        cn_id_hmac(id, data[i].d + off, n, key);
                                keep_best(&best, start);
                        }
                        snprintf(size, sizeof size, "%s %s", size_name(n, sz, sizeof sz), data[i].name);
                        row("cn_id_hmac", size, SAMPLE_BYTES, (double) (SAMPLE_BYTES / n), best, NULL);
                }

        /* The same MAC from libsodium, which cairn used before: what the switch bought. */
        Timing best = TIMING_NONE;
        for (int r = 0; r < REPEATS; r++) {
                Timing start = clock_now();
                for (size_t off = 0; off < SAMPLE_BYTES; off += 1u << 20) {
                        crypto_auth_hmacsha256_state st;
                        crypto_auth_hmacsha256_init(&st, key, CN_KEY_BYTES);
                        crypto_auth_hmacsha256_update(&st, sample + off, 1u << 20);
                        crypto_auth_hmacsha256_final(&st, id);
                }
                keep_best(&best, start);
        }
        row("libsodium hmacsha256", "1 MiB corpus", SAMPLE_BYTES, SAMPLE_BYTES >> 20, best, "for comparison");
}

/* ---- AEAD ---- */

static int bench_aead(const uint8_t *rnd, const uint8_t key[CN_KEY_BYTES]) {
        uint8_t nonce[CN_AEAD_NONCE_BYTES] = { 0 }, ad[CN_CHUNK_AD_BYTES] = { 0 };
        size_t max_pieces = SAMPLE_BYTES / piece_sizes[0];
        _cleanup_free_ uint8_t *sealed = malloc(SAMPLE_BYTES + max_pieces * CN_AEAD_TAG_BYTES);
        _cleanup_free_ uint8_t *opened = malloc(SAMPLE_BYTES);
        char size[64], sz[32];

        if (!sealed || !opened)
                return -ENOMEM;
        section("AEAD: cn_aead_seal / cn_aead_open (XChaCha20-Poly1305), with a chunk's associated data");
        for (size_t j = 0; j < CN_ELEMENTSOF(piece_sizes); j++) {
                size_t n = piece_sizes[j], k = SAMPLE_BYTES / n, c = n + CN_AEAD_TAG_BYTES;
                Timing seal = TIMING_NONE, open_ = TIMING_NONE;

                for (int r = 0; r < REPEATS; r++) {
                        Timing start = clock_now();
                        for (size_t i = 0; i < k; i++)
                                cn_aead_seal(sealed + i * c, rnd + i * n, n, ad, sizeof ad, nonce, key);
                        keep_best(&seal, start);
                }
                for (int r = 0; r < REPEATS; r++) {
                        Timing start = clock_now();
                        for (size_t i = 0; i < k; i++)
                                if (cn_aead_open(opened + i * n, sealed + i * c, c, ad, sizeof ad, nonce, key) < 0)
                                        return -EBADMSG;
                        keep_best(&open_, start);
                }
                snprintf(size, sizeof size, "%s random", size_name(n, sz, sizeof sz));
                row("cn_aead_seal", size, SAMPLE_BYTES, (double) k, seal, NULL);
                row("cn_aead_open", size, SAMPLE_BYTES, (double) k, open_, NULL);
        }
        return 0;
}

/* ---- zstd ---- */

static const int zstd_levels[] = { -5, -1, 1, 2, 3, 6, 9 };

static int bench_zstd(const uint8_t *sample, const uint8_t *rnd, size_t piece) {
        size_t k = SAMPLE_BYTES / piece, bound = ZSTD_compressBound(piece);
        _cleanup_free_ uint8_t *comp = malloc(k * bound), *out = malloc(piece);
        _cleanup_free_ size_t *clen = calloc(k, sizeof *clen);
        ZSTD_CCtx *cctx = ZSTD_createCCtx();
        ZSTD_DCtx *dctx = ZSTD_createDCtx();
        char size[64], sz[32], op[48], note[64];
        int ret = -ENOMEM;

        if (!comp || !out || !clen || !cctx || !dctx)
                goto finish;
        section("zstd: ZSTD_compressCCtx / ZSTD_decompressDCtx, one call a chunk, contexts reused");
        for (size_t l = 0; l < CN_ELEMENTSOF(zstd_levels); l++) {
                int level = zstd_levels[l];
                Timing cbest = TIMING_NONE, dbest = TIMING_NONE, rbest = TIMING_NONE;
                size_t total = 0, rtotal = 0;

                for (int r = 0; r < REPEATS; r++) {
                        Timing start = clock_now();
                        for (size_t i = 0; i < k; i++) {
                                clen[i] = ZSTD_compressCCtx(cctx, comp + i * bound, bound, sample + i * piece, piece,
                                                            level);
                                if (ZSTD_isError(clen[i])) {
                                        ret = -EIO;
                                        goto finish;
                                }
                        }
                        keep_best(&cbest, start);
                }
                for (size_t i = 0; i < k; i++)
                        total += clen[i];
                for (int r = 0; r < REPEATS; r++) {
                        Timing start = clock_now();
                        for (size_t i = 0; i < k; i++) {
                                size_t z = ZSTD_decompressDCtx(dctx, out, piece, comp + i * bound, clen[i]);
                                if (ZSTD_isError(z) || z != piece) {
                                        ret = -EBADMSG;
                                        goto finish;
                                }
                        }
                        keep_best(&dbest, start);
                }
                for (int r = 0; r < REPEATS; r++) {
                        Timing start = clock_now();
                        rtotal = 0;
                        for (size_t i = 0; i < k; i++) {
                                size_t z = ZSTD_compressCCtx(cctx, comp, bound, rnd + i * piece, piece, level);
                                if (ZSTD_isError(z)) {
                                        ret = -EIO;
                                        goto finish;
                                }
                                rtotal += z;
                        }
                        keep_best(&rbest, start);
                }

                snprintf(size, sizeof size, "%s corpus", size_name(piece, sz, sizeof sz));
                snprintf(op, sizeof op, "zstd %d compress", level);
                snprintf(note, sizeof note, "ratio %.3f", (double) SAMPLE_BYTES / (double) total);
                row(op, size, SAMPLE_BYTES, (double) k, cbest, note);
                snprintf(op, sizeof op, "zstd %d decompress", level);
                row(op, size, SAMPLE_BYTES, (double) k, dbest, "MB/s of output");
                snprintf(size, sizeof size, "%s random", size_name(piece, sz, sizeof sz));
                snprintf(op, sizeof op, "zstd %d compress", level);
                snprintf(note, sizeof note, "ratio %.3f", (double) SAMPLE_BYTES / (double) rtotal);
                row(op, size, SAMPLE_BYTES, (double) k, rbest, note);
        }
        ret = 0;
finish:
        ZSTD_freeCCtx(cctx);
        ZSTD_freeDCtx(dctx);
        return ret;
}

/* ---- chunk index ---- */

static int bench_index_size(size_t n, int inserts, int lookups, bool with_keys) {
        _cleanup_free_ uint8_t *ids = malloc(n * CN_ID_BYTES), *probe = malloc(n * CN_ID_BYTES);
        _cleanup_(cn_index_freep) CnIndex *x = NULL;
        Timing ins = TIMING_NONE, hit = TIMING_NONE, miss = TIMING_NONE, keyed = TIMING_NONE;
        size_t rss = 0, heap = 0, key_rss = 0, held = 0, key_held = 0;
        char size[64], note[96];
        int r;

        if (!ids || !probe)
                return -ENOMEM;
        fill_random(ids, n * CN_ID_BYTES);
        memcpy(probe, ids, n * CN_ID_BYTES);
        shuffle(probe, n, CN_ID_BYTES);         /* look up in an order unrelated to insertion */

        for (int t = 0; t < inserts; t++) {
                size_t rss0, heap0;
                x = cn_index_free(x);
                rss0 = rss_bytes();
                heap0 = heap_bytes();
                Timing start = clock_now();
                r = cn_index_new(&x);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        CnBlobLoc loc = { .pack = 0, .offset = (uint32_t) i, .length = 1u << 20,
                                          .raw_length = 1u << 20, .type = CN_BLOB_DATA };
                        r = cn_index_insert(x, ids + i * CN_ID_BYTES, &loc);
                        if (r < 0)
                                return r;
                }
                keep_best(&ins, start);
                if (t == 0) {
                        rss = rss_bytes() - rss0;
                        heap = heap_bytes() - heap0;
                        held = cn_index_memory(x);
                }
        }
        for (int t = 0; t < lookups; t++) {
                size_t found = 0;
                Timing start = clock_now();
                for (size_t i = 0; i < n; i++)
                        found += cn_index_lookup(x, probe + i * CN_ID_BYTES, NULL);
                keep_best(&hit, start);
                if (found != n)
                        return -EBADMSG;
        }
        /* Ids that are not there: a fresh hash part sends each probe elsewhere. */
        for (size_t i = 0; i < n; i++) {
                uint64_t v = corpus_rng();
                memcpy(probe + i * CN_ID_BYTES, &v, 8);
        }
        for (int t = 0; t < lookups; t++) {
                size_t found = 0;
                Timing start = clock_now();
                for (size_t i = 0; i < n; i++)
                        found += cn_index_lookup(x, probe + i * CN_ID_BYTES, NULL);
                keep_best(&miss, start);
                if (found != 0)
                        return -EBADMSG;
        }
        x = cn_index_free(x);

        /* As the store fills it: every new blob also gets its data key. */
        if (with_keys) {
                size_t rss0 = rss_bytes();
                Timing start = clock_now();
                r = cn_index_new(&x);
                if (r < 0)
                        return r;
                for (size_t i = 0; i < n; i++) {
                        const uint8_t *id = ids + i * CN_ID_BYTES;
                        CnBlobLoc loc = { .length = 1u << 20, .raw_length = 1u << 20, .type = CN_BLOB_DATA };
                        r = cn_index_insert(x, id, &loc);
                        if (r < 0)
                                return r;
                        r = cn_index_set_key(x, id, id);        /* any 32 bytes */
                        if (r < 0)
                                return r;
                }
                keep_best(&keyed, start);
                key_rss = rss_bytes() - rss0;
                key_held = cn_index_memory(x);
                x = cn_index_free(x);
        }

        snprintf(size, sizeof size, "%zuM ids", n / 1000000);
        snprintf(note, sizeof note, "B/entry: held %.1f, RSS +%.1f, malloc'd %.1f", (double) held / (double) n,
                 (double) rss / (double) n, (double) heap / (double) n);
        row("cn_index_insert", size, 0, (double) n, ins, note);
        row("cn_index_lookup hit", size, 0, (double) n, hit, "shuffled order");
        row("cn_index_lookup miss", size, 0, (double) n, miss, NULL);
        if (with_keys) {
                snprintf(note, sizeof note, "B/entry: held %.1f (+32 of key), RSS +%.1f",
                         (double) key_held / (double) n, (double) key_rss / (double) n);
                row("cn_index_insert + set_key", size, 0, (double) n, keyed, note);
        }
        return 0;
}

static int bench_index(void) {
        int r;

        section("chunk index: CnIndex, random 32-byte ids, from empty (target: <= 64 B/entry held)");
        r = bench_index_size(1000000, 3, 3, true);
        if (r < 0)
                return r;
        return bench_index_size(10000000, 1, 1, false);        /* seconds a pass: once */
}

/* In a process of its own, with a fixed mmap threshold: there big blocks
 * come from and go back to the kernel at once, so that RSS growth measures
 * what the index holds, and malloc stays as it is for the other sections. */
static int bench_index_apart(void) {
        int status;
        pid_t pid;

        fflush(stdout);
        pid = fork();
        if (pid < 0)
                return cn_negerrno();
        if (pid == 0) {
                int r;
                mallopt(M_MMAP_THRESHOLD, 256 << 10);
                r = bench_index();
                fflush(stdout);
                _exit(r < 0 ? -r : 0);
        }
        if (waitpid(pid, &status, 0) < 0)
                return cn_negerrno();
        if (!WIFEXITED(status))
                return -ECHILD;
        return -WEXITSTATUS(status);
}

/* ---- chunk store ---- */

/* Put the n bytes at d as blobs of piece bytes with workers compression
 * threads (0: the store's default), flush, and, if read_back, get them again. */
static int store_data(CnRepo *repo, const char *what, const uint8_t *d, size_t n, size_t piece, unsigned workers,
                      bool read_back) {
        size_t k = (n + piece - 1) / piece;
        _cleanup_free_ uint8_t *ids = malloc(k * CN_ID_BYTES);
        _cleanup_free_ size_t *order = malloc(k * sizeof *order);
        _cleanup_(cn_buf_donep) CnBuf out = CN_BUF_INIT(CN_MAX_CHUNK_BYTES);
        _cleanup_(cn_store_freep) CnStore *s = NULL;
        Timing put = TIMING_NONE, known = TIMING_NONE, get = TIMING_NONE;
        CnStoreStats st;
        char size[64], sz[32], op[64], note[96];
        int r;

        if (!ids || !order)
                return -ENOMEM;
        /* Each pass writes into a controller of its own, so that nothing is known yet. */
        for (int t = 0; t < REPEATS; t++) {
                char name[64];
                CnController *c;

                s = cn_store_free(s);
                snprintf(name, sizeof name, "%s-%u-%d", what, workers, t);
                r = cn_repo_controller_add(repo, name, NULL, &c);
                if (r < 0)
                        return r;
                r = cn_store_open(repo, c, CN_STORE_KEYS | CN_STORE_WRITE, &s);
                if (r < 0)
                        return r;
                if (workers > 0)
                        cn_store_set_workers(s, workers);
                for (size_t i = 0; i < k; i++)
                        cn_store_chunk_id(s, d + i * piece, CN_MIN(piece, n - i * piece), ids + i * CN_ID_BYTES);

                Timing start = clock_now();
                for (size_t i = 0; i < k; i++) {
                        r = cn_store_put(s, CN_BLOB_DATA, ids + i * CN_ID_BYTES, d + i * piece,
                                         CN_MIN(piece, n - i * piece), NULL);
                        if (r < 0)
                                return r;
                }
                r = cn_store_flush(s);
                if (r < 0)
                        return r;
                keep_best(&put, start);
        }
        cn_store_stats(s, &st);
        snprintf(size, sizeof size, "%s %s", size_name(piece, sz, sizeof sz), what);
        if (workers > 0)
                snprintf(op, sizeof op, "cn_store_put + flush, %u thr", workers);
        else
                snprintf(op, sizeof op, "cn_store_put + flush, default");
        snprintf(note, sizeof note, "wall %.0f MB/s; stored %.1f%% of raw in %llu packs", (double) n / put.wall / 1e6,
                 100.0 * (double) st.stored_bytes_new / (double) st.raw_bytes_new,
                 (unsigned long long) st.packs_written);
        row(op, size, (double) n, (double) k, put, note);
        if (!read_back)
                return 0;

        for (int t = 0; t < REPEATS; t++) {
                Timing start = clock_now();
                for (size_t i = 0; i < k; i++) {
                        bool added;
                        r = cn_store_put(s, CN_BLOB_DATA, ids + i * CN_ID_BYTES, d + i * piece,
                                         CN_MIN(piece, n - i * piece), &added);
                        if (r < 0)
                                return r;
                        if (added)
                                return -EEXIST;
                }
                keep_best(&known, start);
        }
        row("cn_store_put, id known", size, 0, (double) k, known, "dedup hit");

        for (size_t i = 0; i < k; i++)
                order[i] = i;
        shuffle(order, k, sizeof *order);
        for (int t = 0; t < REPEATS; t++) {
                Timing start = clock_now();
                for (size_t i = 0; i < k; i++) {
                        size_t j = order[i];
                        r = cn_store_get(s, ids + j * CN_ID_BYTES, &out);
                        if (r < 0)
                                return r;
                        if (out.len != CN_MIN(piece, n - j * piece))
                                return -EBADMSG;
                }
                keep_best(&get, start);
        }
        snprintf(note, sizeof note, "wall %.0f MB/s; shuffled order", (double) n / get.wall / 1e6);
        row("cn_store_get", size, (double) n, (double) k, get, note);
        return 0;
}

static int bench_store(const char *dir, const uint8_t *rnd, size_t piece) {
        static const CnRepoInitOptions fast = { .kdf = { 1, 8192 } };  /* the KDF is not what is measured */
        _cleanup_(cn_backend_closep) CnBackend *b = NULL;
        _cleanup_(cn_repo_unrefp) CnRepo *repo = NULL;
        int r;

        r = cn_backend_open(dir, true, &b);
        if (r < 0)
                return r;
        r = cn_repo_init(b, "bench", 5, &fast, &repo);
        if (r < 0)
                return r;
        section("chunk store: local repository, zstd 3, ids computed beforehand (see cn_id_hmac); wall rates in notes");
        printf("%-30s %-14s %s\n", "repository", "-", dir);
        /* One thread: the per-core cost. Default: what the worker threads add. */
        if ((r = store_data(repo, "corpus", corpus.data, corpus.len, piece, 1, true)) < 0 ||
            (r = store_data(repo, "corpus", corpus.data, corpus.len, piece, 0, false)) < 0 ||
            (r = store_data(repo, "random", rnd, RANDOM_BYTES, piece, 1, true)) < 0)
                return r;
        return store_data(repo, "random", rnd, RANDOM_BYTES, piece, 0, false);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

int main(int argc, char **argv) {
        static char *default_dirs[] = { "/usr/lib" };
        char **dirs = default_dirs;
        int n_dirs = (int) CN_ELEMENTSOF(default_dirs);
        size_t corpus_mib = 128, piece = cn_chunker_default_params.avg_size;
        uint8_t key[CN_KEY_BYTES];
        char dir[64], sz[32];
        _cleanup_free_ uint8_t *rnd = NULL, *sample = NULL;
        Timing start = clock_now(), end;
        int r;

        if (argc > 1)
                corpus_mib = strtoul(argv[1], NULL, 10);
        if (argc > 2) {
                dirs = argv + 2;
                n_dirs = argc - 2;
        }
        if (cn_crypto_init() < 0) {
                fprintf(stderr, "bench-micro: libsodium failed to initialise\n");
                return 1;
        }
        for (size_t i = 0; i < sizeof key; i++)
                key[i] = (uint8_t) (0xc0 + i);

        rnd = malloc(RANDOM_BYTES);
        sample = malloc(SAMPLE_BYTES);
        if (!rnd || !sample) {
                fprintf(stderr, "bench-micro: out of memory\n");
                return 1;
        }
        fill_random(rnd, RANDOM_BYTES);
        if (corpus_load(&corpus, corpus_mib << 20, dirs, n_dirs) < SAMPLE_BYTES) {
                fprintf(stderr, "bench-micro: under %u MiB of corpus read from %s\n", SAMPLE_BYTES >> 20, dirs[0]);
                return 1;
        }
        take_sample(sample, piece);

        printf("corpus: %.1f MiB from %zu files under %s%s; sample: %u MiB of it in %s pieces; random: %u MiB\n",
               corpus.len / 1048576.0, corpus.n_files, dirs[0], n_dirs > 1 ? " ..." : "", SAMPLE_BYTES >> 20,
               size_name(piece, sz, sizeof sz), RANDOM_BYTES >> 20);
        printf("MB/s and ops/s: per second of the process's CPU time, all threads (1 MB = 1e6 bytes), best of %d\n"
               "passes; cpu%%: best CPU time over best wall time (100: one thread unhindered, below: waiting on\n"
               "I/O or a busy machine, above: threads in parallel)\n", REPEATS);

        bench_hash(sample, rnd, key);
        r = bench_aead(rnd, key);
        if (r < 0) {
                fprintf(stderr, "bench-micro: AEAD: %s\n", strerror(-r));
                return 1;
        }
        r = bench_zstd(sample, rnd, piece);
        if (r < 0) {
                fprintf(stderr, "bench-micro: zstd: %s\n", strerror(-r));
                return 1;
        }
        r = bench_index_apart();
        if (r < 0) {
                fprintf(stderr, "bench-micro: chunk index: %s\n", strerror(-r));
                return 1;
        }

        snprintf(dir, sizeof dir, "%s/cairn-bench-micro.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir)) {
                fprintf(stderr, "bench-micro: cannot make a directory like %s: %m\n", dir);
                return 1;
        }
        r = bench_store(dir, rnd, piece);
        if (nftw(dir, remove_entry, 64, FTW_DEPTH | FTW_PHYS) < 0)
                fprintf(stderr, "bench-micro: could not remove %s: %m\n", dir);
        if (r < 0) {
                fprintf(stderr, "bench-micro: chunk store in %s: %s\n", dir, strerror(-r));
                return 1;
        }

        end = clock_now();
        printf("\ntotal: %.1f s\n", end.wall - start.wall);
        free(corpus.data);
        return 0;
}
