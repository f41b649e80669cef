/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "buf.h"
#include "chunker.h"
#include "crypto.h"
#include "macro.h"

/* Small parameters keep the tests fast while exercising every path. */
static const CnChunkerParams small = { .min_size = 1024, .avg_size = 4096, .max_size = 16384 };

static void setup(void) {
        cr_assert_eq(cn_crypto_init(), 0);
}

static void fill_key(uint8_t key[CN_KEY_BYTES], uint8_t seed) {
        for (size_t i = 0; i < CN_KEY_BYTES; i++)
                key[i] = (uint8_t) (seed + i);
}

/* Deterministic pseudo-random bytes (xorshift64*). */
static uint8_t *make_data(size_t n, uint64_t seed) {
        uint8_t *d = malloc(n);
        uint64_t s = seed | 1;

        cr_assert_not_null(d);
        for (size_t i = 0; i < n; i++) {
                s ^= s >> 12;
                s ^= s << 25;
                s ^= s >> 27;
                d[i] = (uint8_t) ((s * UINT64_C(0x2545F4914F6CDD1D)) >> 56);
        }
        return d;
}

/* Chunk all of d; returns the number of chunks and their end offsets in *ret_ends. */
static size_t chunk_all(const CnChunker *c, const uint8_t *d, size_t n, size_t **ret_ends) {
        size_t *ends = NULL, k = 0, cap = 0;

        for (size_t off = 0; off < n;) {
                size_t l = cn_chunker_cut(c, d + off, n - off);
                cr_assert(l >= 1 && l <= n - off);
                off += l;
                if (k == cap) {
                        cap = cap ? 2 * cap : 64;
                        ends = realloc(ends, cap * sizeof *ends);
                        cr_assert_not_null(ends);
                }
                ends[k++] = off;
        }
        *ret_ends = ends;
        return k;
}

static CnChunker *new_chunker(const CnChunkerParams *p, uint8_t seed) {
        uint8_t key[CN_KEY_BYTES];
        CnChunker *c = NULL;

        fill_key(key, seed);
        cr_assert_eq(cn_chunker_new(p, key, &c), 0);
        cr_assert_not_null(c);
        return c;
}

/* The definition in docs/FORMAT.md, one byte at a time, for comparison with
 * the unrolled loop. */
static void reference_gear(uint64_t gear[256], const uint8_t key[CN_KEY_BYTES]) {
        uint8_t block[64];

        for (unsigned id = 0; id < 32; id++) {
                cr_assert_eq(cn_kdf_derive(block, sizeof block, id, "cngeartb", key), 0);
                for (unsigned j = 0; j < 8; j++)
                        gear[id * 8 + j] = cn_le64_get(block + 8 * j);
        }
}

static size_t reference_cut(const uint64_t gear[256], const CnChunkerParams *p, const uint8_t *d, size_t n) {
        unsigned bits = (unsigned) __builtin_ctz(p->avg_size);
        uint64_t mask_small = ~UINT64_C(0) << (64 - (bits + 2));
        uint64_t mask_large = ~UINT64_C(0) << (64 - (bits - 2));
        size_t end = CN_MIN(n, (size_t) p->max_size);
        uint64_t h = 0;

        if (n <= p->min_size)
                return n;
        for (size_t l = p->min_size - 63; l < end; l++) {
                h = (h << 1) + gear[d[l - 1]];
                if (l < p->min_size)
                        continue;
                if (!(h & (l < p->avg_size ? mask_small : mask_large)))
                        return l;
        }
        return end;
}

Test(chunker, empty_input_returns_zero, .init = setup) {
        _cleanup_(cn_chunker_freep) CnChunker *c = new_chunker(&small, 1);
        uint8_t b = 0;

        cr_assert_eq(cn_chunker_cut(c, &b, 0), 0);
        cr_assert_eq(cn_chunker_cut(c, NULL, 0), 0);
}

Test(chunker, short_final_input_is_one_chunk, .init = setup) {
        _cleanup_(cn_chunker_freep) CnChunker *c = new_chunker(&small, 1);
        uint8_t *d = make_data(small.max_size, 7);
        size_t sizes[] = { 1, 2, 63, 64, 65, 1000, small.min_size };

        for (size_t i = 0; i < CN_ELEMENTSOF(sizes); i++)
                cr_assert_eq(cn_chunker_cut(c, d, sizes[i]), sizes[i], "n=%zu", sizes[i]);
        /* Past min_size a cut short of n is allowed, but never past it. */
        for (size_t n = small.min_size + 1; n < small.max_size; n += 997) {
                size_t l = cn_chunker_cut(c, d, n);
                cr_assert(l >= small.min_size && l <= n, "n=%zu l=%zu", n, l);
        }
        free(d);
}

Test(chunker, sizes_within_min_and_max_except_last, .init = setup) {
        static const CnChunkerParams ps[] = {
                { .min_size = 64, .avg_size = 128, .max_size = 256 },
                { .min_size = 1024, .avg_size = 4096, .max_size = 16384 },
                { .min_size = 4000, .avg_size = 4096, .max_size = 4097 },
        };
        size_t n = 1u << 20;
        uint8_t *d = make_data(n, 3);

        /* Long runs of one byte: no natural cut, so max_size must cut. */
        memset(d + n / 2, 0xaa, n / 4);
        for (size_t i = 0; i < CN_ELEMENTSOF(ps); i++) {
                _cleanup_(cn_chunker_freep) CnChunker *c = new_chunker(&ps[i], 2);
                size_t *ends, k = chunk_all(c, d, n, &ends);

                cr_assert_eq(ends[k - 1], n);
                for (size_t j = 0; j < k; j++) {
                        size_t l = ends[j] - (j ? ends[j - 1] : 0);
                        cr_assert(l <= ps[i].max_size, "chunk %zu: %zu > max", j, l);
                        if (j + 1 < k)
                                cr_assert(l >= ps[i].min_size, "chunk %zu: %zu < min", j, l);
                }
                free(ends);
        }
        free(d);
}

Test(chunker, average_size_near_avg_on_random_data, .init = setup) {
        _cleanup_(cn_chunker_freep) CnChunker *c = new_chunker(&small, 4);
        size_t n = 4u << 20;
        uint8_t *d = make_data(n, 11);
        size_t *ends, k = chunk_all(c, d, n, &ends);
        double mean = (double) n / (double) k;

        cr_assert(mean > 0.75 * small.avg_size && mean < 1.5 * small.avg_size, "mean %f", mean);
        free(ends);
        free(d);
}

Test(chunker, cut_points_match_reference_definition, .init = setup) {
        static const CnChunkerParams ps[] = {
                { .min_size = 64, .avg_size = 128, .max_size = 256 },
                { .min_size = 65, .avg_size = 256, .max_size = 1001 },
                { .min_size = 1024, .avg_size = 4096, .max_size = 16384 },
                { .min_size = 2047, .avg_size = 2048, .max_size = 2049 },
                { .min_size = 64, .avg_size = 8192, .max_size = 65536 },
                { .min_size = 64, .avg_size = 65536, .max_size = 1u << 20 },
                { .min_size = 100, .avg_size = 1024, .max_size = 100000 },
        };
        uint8_t key[CN_KEY_BYTES];
        uint64_t gear[256];
        size_t n = 4u << 20;
        uint8_t *d = make_data(n, 5);

        fill_key(key, 9);
        reference_gear(gear, key);
        for (size_t i = 0; i < CN_ELEMENTSOF(ps); i++) {
                _cleanup_(cn_chunker_freep) CnChunker *c = new_chunker(&ps[i], 9);
                size_t k = 0;

                for (size_t off = 0; off < n; k++) {
                        size_t want = reference_cut(gear, &ps[i], d + off, n - off);
                        size_t got = cn_chunker_cut(c, d + off, n - off);
                        cr_assert_eq(got, want, "params %zu, offset %zu: got %zu want %zu", i, off, got, want);
                        /* Given alone as the final input, a chunk comes back whole. */
                        cr_assert_eq(cn_chunker_cut(c, d + off, got), got);
                        off += got;
                }
                cr_assert(k > 10);
        }
        free(d);
}

Test(chunker, cut_points_match_known_answer, .init = setup) {
        /* Pins the format: a change here changes every repository's chunks. */
        static const size_t want[] = {
                5148, 10425, 14338, 18522, 22847, 32479, 36598,
                42345, 46705, 50915, 53837, 57454, 63289, 65536,
        };
        _cleanup_(cn_chunker_freep) CnChunker *c = new_chunker(&small, 0);
        size_t n = 64u << 10;
        uint8_t *d = make_data(n, 1);
        size_t *ends, k = chunk_all(c, d, n, &ends);

        cr_assert_eq(k, CN_ELEMENTSOF(want));
        for (size_t i = 0; i < k; i++)
                cr_assert_eq(ends[i], want[i], "cut %zu: %zu, want %zu", i, ends[i], want[i]);
        free(ends);
        free(d);
}

Test(chunker, never_reads_outside_input, .init = setup) {
        static const CnChunkerParams p = { .min_size = 64, .avg_size = 8192, .max_size = 65536 };
        _cleanup_(cn_chunker_freep) CnChunker *c = new_chunker(&p, 3);
        size_t page = (size_t) sysconf(_SC_PAGESIZE), n = 1u << 20, size = n + 2 * page;
        uint8_t *src = make_data(n, 17), *m, *d;
        size_t *ends, k;

        /* The input sits between two inaccessible pages: a stray read faults. */
        m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        cr_assert(m != MAP_FAILED);
        d = m + page;
        memcpy(d, src, n);
        cr_assert_eq(mprotect(m, page, PROT_NONE), 0);
        cr_assert_eq(mprotect(d + n, page, PROT_NONE), 0);
        k = chunk_all(c, d, n, &ends);
        cr_assert(k > 10);
        free(ends);
        munmap(m, size);
        free(src);
}

Test(chunker, new_rejects_missing_key, .init = setup) {
        CnChunker *c = NULL;

        cr_assert_eq(cn_chunker_new(&small, NULL, &c), -EINVAL);
        cr_assert_null(c);
}

Test(chunker, deterministic_for_same_key, .init = setup) {
        _cleanup_(cn_chunker_freep) CnChunker *a = new_chunker(&small, 5);
        _cleanup_(cn_chunker_freep) CnChunker *b = new_chunker(&small, 5);
        size_t n = 1u << 20;
        uint8_t *d = make_data(n, 13);
        size_t *ea, *eb, ka = chunk_all(a, d, n, &ea), kb = chunk_all(b, d, n, &eb);

        cr_assert_eq(ka, kb);
        cr_assert_eq(memcmp(ea, eb, ka * sizeof *ea), 0);
        free(ea);
        free(eb);
        free(d);
}

Test(chunker, different_keys_give_different_cut_points, .init = setup) {
        _cleanup_(cn_chunker_freep) CnChunker *a = new_chunker(&small, 5);
        _cleanup_(cn_chunker_freep) CnChunker *b = new_chunker(&small, 6);
        size_t n = 1u << 20;
        uint8_t *d = make_data(n, 13);
        size_t *ea, *eb, ka = chunk_all(a, d, n, &ea), kb = chunk_all(b, d, n, &eb);
        size_t common = 0;

        /* Count cut offsets both chunkings share (both lists are sorted). */
        for (size_t i = 0, j = 0; i < ka && j < kb;) {
                if (ea[i] == eb[j]) {
                        common++;
                        i++;
                        j++;
                } else if (ea[i] < eb[j])
                        i++;
                else
                        j++;
        }
        cr_assert(ka > 100 && kb > 100);
        cr_assert(common < ka / 10, "%zu of %zu cuts shared", common, ka);
        free(ea);
        free(eb);
        free(d);
}

Test(chunker, cut_points_survive_prefix_insert, .init = setup) {
        static const size_t inserts[] = { 1, 2, 17, 1000, 5000 };
        _cleanup_(cn_chunker_freep) CnChunker *c = new_chunker(&small, 8);
        size_t n = 2u << 20;
        uint8_t *d = make_data(n, 21);
        uint8_t *ins = make_data(8192, 22);
        size_t *e0, k0 = chunk_all(c, d, n, &e0);

        for (size_t t = 0; t < CN_ELEMENTSOF(inserts); t++) {
                size_t m = inserts[t], n1 = n + m, at = 100, *e1, k1, i = 0, j = 0;
                uint8_t *d1 = malloc(n1);

                cr_assert_not_null(d1);
                memcpy(d1, d, at);
                memcpy(d1 + at, ins, m);
                memcpy(d1 + at + m, d + at, n - at);
                k1 = chunk_all(c, d1, n1, &e1);

                /* Find where the two chunkings meet again... */
                while (i < k0 && j < k1 && e0[i] + m != e1[j]) {
                        if (e0[i] + m < e1[j])
                                i++;
                        else
                                j++;
                }
                cr_assert(i < 3 && j < 3, "insert %zu: resync only at chunk %zu/%zu", m, i, j);
                /* ...and from there on every cut is the same, shifted. */
                cr_assert_eq(k0 - i, k1 - j);
                for (; i < k0; i++, j++)
                        cr_assert_eq(e0[i] + m, e1[j]);
                free(e1);
                free(d1);
        }
        free(e0);
        free(ins);
        free(d);
}

Test(chunker, default_params_are_valid, .init = setup) {
        _cleanup_(cn_chunker_freep) CnChunker *c = NULL;
        uint8_t key[CN_KEY_BYTES] = {};

        cr_assert_eq(cn_chunker_params_check(&cn_chunker_default_params), 0);
        cr_assert_eq(cn_chunker_new(&cn_chunker_default_params, key, &c), 0);
        cr_assert_eq(memcmp(cn_chunker_params(c), &cn_chunker_default_params, sizeof(CnChunkerParams)), 0);
}

ParameterizedTestParameters(chunker, params_check_rejects_bad_params) {
        static CnChunkerParams bad[] = {
                { .min_size = 0, .avg_size = 4096, .max_size = 16384 },         /* min < 64 */
                { .min_size = 63, .avg_size = 4096, .max_size = 16384 },
                { .min_size = 4096, .avg_size = 4096, .max_size = 16384 },      /* min == avg */
                { .min_size = 8192, .avg_size = 4096, .max_size = 16384 },      /* min > avg */
                { .min_size = 1024, .avg_size = 4096, .max_size = 4096 },       /* avg == max */
                { .min_size = 1024, .avg_size = 4096, .max_size = 2048 },       /* max < avg */
                { .min_size = 1024, .avg_size = 4095, .max_size = 16384 },      /* avg not 2^k */
                { .min_size = 1024, .avg_size = 6144, .max_size = 16384 },
                { .min_size = 1024, .avg_size = 4096, .max_size = (64u << 20) + 1 },   /* max > 64 MiB */
                { .min_size = 1u << 20, .avg_size = 1u << 31, .max_size = UINT32_MAX },
        };
        return cr_make_param_array(CnChunkerParams, bad, CN_ELEMENTSOF(bad));
}

ParameterizedTest(CnChunkerParams *p, chunker, params_check_rejects_bad_params, .init = setup) {
        uint8_t key[CN_KEY_BYTES] = {};
        CnChunker *c = (CnChunker *) 0x1;

        cr_assert_eq(cn_chunker_params_check(p), -EINVAL);
        cr_assert_eq(cn_chunker_new(p, key, &c), -EINVAL);
        cr_assert_eq(c, (CnChunker *) 0x1, "ret written on failure");
}

Test(chunker, params_check_accepts_edge_params) {
        static const CnChunkerParams good[] = {
                { .min_size = 64, .avg_size = 128, .max_size = 129 },
                { .min_size = 64, .avg_size = 1u << 25, .max_size = 64u << 20 },
                { .min_size = 512u << 10, .avg_size = 1u << 20, .max_size = 8u << 20 },
        };

        cr_assert_eq(cn_chunker_params_check(NULL), -EINVAL);
        for (size_t i = 0; i < CN_ELEMENTSOF(good); i++)
                cr_assert_eq(cn_chunker_params_check(&good[i]), 0, "case %zu", i);
}
