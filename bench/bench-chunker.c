/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Chunker micro benchmark: throughput of cn_chunker_cut() on random data and
 * on a corpus of real files, and the dedup that survives small edits, per
 * parameter set. Reports numbers; asserts nothing about them.
 *
 *   bench-chunker [CORPUS_MIB [DIR...]]     default: 512 /usr/lib /usr/share */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "chunker.h"
#include "crypto.h"
#include "corpus.h"
#include "macro.h"

#define RANDOM_BYTES (256u << 20)
#define N_EDITS 20
#define REPEATS 5
#define SLICE (32u << 20)
#define TRIALS 5

static Corpus corpus;

/* CPU time of this thread: the per-core rate, less disturbed by other load on the machine. */
static double now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}


/* GB/s (1e9 bytes per second of CPU time). The machine may be shared, so
 * each slice of SLICE bytes is timed REPEATS times and its best time
 * counts. *ret_count is the number of chunks of all of d. */
static double throughput(const CnChunker *c, const uint8_t *d, size_t n, size_t *ret_count) {
        double total = 0;
        size_t count = 0;

        for (size_t base = 0; base < n; base += SLICE) {
                size_t m = CN_MIN((size_t) SLICE, n - base);
                double best = 1e99;

                for (int r = 0; r < REPEATS; r++) {
                        double t0 = now();
                        for (size_t off = 0; off < m;)
                                off += cn_chunker_cut(c, d + base + off, m - off);
                        best = CN_MIN(best, now() - t0);
                }
                total += best;
        }
        for (size_t off = 0; off < n; count++)
                off += cn_chunker_cut(c, d + off, n - off);
        *ret_count = count;
        return (double) n / total / 1e9;
}

typedef struct ChunkId {
        uint64_t lo, hi;
} ChunkId;

static int id_cmp(const void *a, const void *b) {
        const ChunkId *x = a, *y = b;
        if (x->hi != y->hi)
                return x->hi < y->hi ? -1 : 1;
        if (x->lo != y->lo)
                return x->lo < y->lo ? -1 : 1;
        return 0;
}

static int size_cmp(const void *a, const void *b) {
        size_t x = *(const size_t *) a, y = *(const size_t *) b;
        return x < y ? -1 : x > y;
}

static ChunkId chunk_id(const uint8_t *p, size_t n) {
        XXH128_hash_t h = XXH3_128bits(p, n);
        return (ChunkId) { .lo = h.low64, .hi = h.high64 };
}

/* Sorted ids of the chunks of d, for dedup(). */
static ChunkId *chunk_index(const CnChunker *c, const uint8_t *d, size_t n, size_t *ret_k) {
        size_t k = 0, cap = n / cn_chunker_params(c)->min_size + 2;
        ChunkId *ids = malloc(cap * sizeof *ids);

        if (!ids)
                return NULL;
        for (size_t off = 0; off < n; k++) {
                size_t l = cn_chunker_cut(c, d + off, n - off);
                ids[k] = chunk_id(d + off, l);
                off += l;
        }
        qsort(ids, k, sizeof *ids, id_cmp);
        *ret_k = k;
        return ids;
}

/* Fraction of d's bytes that are in chunks already in ids. */
static double dedup(const CnChunker *c, const ChunkId *ids, size_t k, const uint8_t *d, size_t n) {
        size_t seen = 0;

        for (size_t off = 0; off < n;) {
                size_t l = cn_chunker_cut(c, d + off, n - off);
                ChunkId id = chunk_id(d + off, l);
                if (bsearch(&id, ids, k, sizeof *ids, id_cmp))
                        seen += l;
                off += l;
        }
        return (double) seen / (double) n;
}

/* Into e (room for n + 16 * n_edits): d with n_edits inserts or deletes of
 * 1..16 bytes at random places, the same ones for the same seed. */
static size_t edit_copy(uint8_t *e, const uint8_t *d, size_t n, int n_edits, uint64_t seed) {
        size_t pos[N_EDITS], out = 0, in = 0;

        corpus_rng_seed(seed);
        for (int i = 0; i < n_edits; i++)
                pos[i] = corpus_rng() % (n - 32);
        qsort(pos, (size_t) n_edits, sizeof pos[0], size_cmp);
        for (int i = 0; i < n_edits; i++) {
                size_t k = 1 + corpus_rng() % 16;
                if (pos[i] < in)
                        continue;
                memcpy(e + out, d + in, pos[i] - in);
                out += pos[i] - in;
                in = pos[i];
                if (corpus_rng() & 1) {
                        for (size_t j = 0; j < k; j++)
                                e[out++] = (uint8_t) corpus_rng();
                } else
                        in += k;
        }
        memcpy(e + out, d + in, n - in);
        return out + n - in;
}

static const struct {
        const char *name;
        CnChunkerParams p;
} param_sets[] = {
        { "64K/256K/1M", { 64u << 10, 256u << 10, 1u << 20 } },
        { "128K/512K/2M", { 128u << 10, 512u << 10, 2u << 20 } },
        { "256K/1M/4M", { 256u << 10, 1u << 20, 4u << 20 } },
        { "512K/1M/8M", { 512u << 10, 1u << 20, 8u << 20 } },
        { "1M/2M/8M", { 1u << 20, 2u << 20, 8u << 20 } },
        { "512K/2M/8M", { 512u << 10, 2u << 20, 8u << 20 } },
};

int main(int argc, char **argv) {
        static char *default_dirs[] = { "/usr/lib", "/usr/share" };
        /* Almost never cuts: the rate of the rolling hash alone. */
        static const CnChunkerParams hash_only = { 64, 32u << 20, 64u << 20 };
        char **dirs = default_dirs;
        int n_dirs = (int) CN_ELEMENTSOF(default_dirs);
        size_t corpus_mib = 512, count;
        uint8_t key[CN_KEY_BYTES];
        _cleanup_free_ uint8_t *rnd = NULL, *edited = NULL;
        _cleanup_(cn_chunker_freep) CnChunker *raw = NULL;

        if (argc > 1)
                corpus_mib = strtoul(argv[1], NULL, 10);
        if (argc > 2) {
                dirs = argv + 2;
                n_dirs = argc - 2;
        }
        if (cn_crypto_init() < 0) {
                fprintf(stderr, "bench-chunker: libsodium failed to initialise\n");
                return 1;
        }
        for (size_t i = 0; i < sizeof key; i++)
                key[i] = (uint8_t) (0xc0 + i);

        rnd = malloc(RANDOM_BYTES);
        if (!rnd) {
                fprintf(stderr, "bench-chunker: out of memory\n");
                return 1;
        }
        for (size_t i = 0; i < RANDOM_BYTES; i += 8) {
                uint64_t v = corpus_rng();
                memcpy(rnd + i, &v, 8);
        }
        if (corpus_load(&corpus, corpus_mib << 20, dirs, n_dirs) < (1u << 20)) {
                fprintf(stderr, "bench-chunker: under 1 MiB of corpus read from %s\n", dirs[0]);
                return 1;
        }
        edited = malloc(corpus.len + 16 * N_EDITS);
        if (!edited || cn_chunker_new(&hash_only, key, &raw) < 0) {
                fprintf(stderr, "bench-chunker: out of memory\n");
                return 1;
        }

        printf("corpus: %.1f MiB from %zu files under %s%s; random: %u MiB\n", corpus.len / 1048576.0,
               corpus.n_files, dirs[0], n_dirs > 1 ? " ..." : "", RANDOM_BYTES >> 20);
        printf("GB/s: 1e9 bytes per second of this thread's CPU time, best of %d per %u MiB slice\n", REPEATS,
               SLICE >> 20);
        printf("gear hash alone (no cut in the first 32 MiB): %.2f GB/s random, %.2f GB/s corpus\n",
               throughput(raw, rnd, RANDOM_BYTES, &count), throughput(raw, corpus.data, corpus.len, &count));
        printf("dedup: share of an edited copy's bytes in chunks of the original; %d trials of %d inserts or\n"
               "deletes of 1-16 bytes at random places; new KiB/edit = bytes not deduplicated per edit\n\n",
               TRIALS, N_EDITS);
        printf("%-13s %10s %10s %7s %9s %10s %8s %12s\n", "min/avg/max", "random", "corpus", "chunks",
               "mean KiB", "chunks/GiB", "dedup", "new KiB/edit");
        for (size_t i = 0; i < CN_ELEMENTSOF(param_sets); i++) {
                _cleanup_(cn_chunker_freep) CnChunker *c = NULL;
                _cleanup_free_ ChunkId *ids = NULL;
                double rnd_gbs, gbs, frac = 0, new_bytes = 0;
                size_t k;

                if (cn_chunker_new(&param_sets[i].p, key, &c) < 0) {
                        fprintf(stderr, "bench-chunker: bad parameters %s\n", param_sets[i].name);
                        return 1;
                }
                rnd_gbs = throughput(c, rnd, RANDOM_BYTES, &count);
                gbs = throughput(c, corpus.data, corpus.len, &count);
                ids = chunk_index(c, corpus.data, corpus.len, &k);
                if (!ids) {
                        fprintf(stderr, "bench-chunker: out of memory\n");
                        return 1;
                }
                for (int t = 0; t < TRIALS; t++) {
                        size_t n = edit_copy(edited, corpus.data, corpus.len, N_EDITS, 0x5eed0000u + (uint64_t) t);
                        double f = dedup(c, ids, k, edited, n);
                        frac += f / TRIALS;
                        new_bytes += (1 - f) * (double) n / TRIALS;
                }
                printf("%-13s %5.2f GB/s %5.2f GB/s %7zu %9.1f %10.0f %7.3f%% %12.0f\n", param_sets[i].name,
                       rnd_gbs, gbs, count, corpus.len / 1024.0 / count, count * 1073741824.0 / corpus.len,
                       100.0 * frac, new_bytes / 1024.0 / N_EDITS);
        }
        printf("\ndefault: %u/%u/%u\n", cn_chunker_default_params.min_size, cn_chunker_default_params.avg_size,
               cn_chunker_default_params.max_size);
        free(corpus.data);
        return 0;
}
