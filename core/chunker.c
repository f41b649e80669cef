/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Keyed, normalized FastCDC (Xia et al., USENIX ATC 2016; TPDS 2020).
 *
 * The rolling hash is the gear hash h = (h << 1) + G[byte] over a secret
 * 256-entry table G. After the shift, a byte's contribution leaves the
 * 64-bit hash after 64 more bytes, so h at any position is a function of
 * the 64 bytes that end there, nothing else. A chunk of length L may end
 * when the top bits of the hash of bytes [L-64, L) are all zero: the top
 * bits are the ones every byte of the window reaches, so the window is the
 * full 64 bytes (the low-bit masks of the paper see fewer bytes).
 *
 * Normalization (level 2): for lengths below avg_size the test needs
 * log2(avg)+2 zero bits, from avg_size on it needs log2(avg)-2, so lengths
 * cluster around avg_size. No cut below min_size (those bytes are not even
 * hashed, except the 64 that fill the window for length min_size), and a
 * cut at max_size regardless.
 *
 * The table: G[i] is the little-endian 64-bit word at byte 8*(i mod 8) of
 * BLAKE2b-KDF(chunker key, id = i / 8, context "cngeartb", 64 bytes), that
 * is crypto_kdf_derive_from_key() for ids 0..31.
 *
 * Speed: see scan(); it finds the same cuts as the byte-at-a-time
 * definition in scan_serial(). */
#include "chunker.h"
#include "format.h"

#include <assert.h>
#include <errno.h>

#include "buf.h"
#include "macro.h"

#define GEAR_WINDOW 64u
#define NORMALIZATION 2u

struct CnChunker {
        uint64_t gear[256];
        CnChunkerParams params;
        uint64_t mask_small;    /* lengths in [min, avg): stricter */
        uint64_t mask_large;    /* lengths in [avg, max): looser */
} __attribute__((aligned(64)));

const CnChunkerParams cn_chunker_default_params = {
        .min_size = 512u << 10,
        .avg_size = 1u << 20,
        .max_size = 8u << 20,
};

int cn_chunker_params_check(const CnChunkerParams *p) {
        if (!p)
                return -EINVAL;
        if (p->min_size < GEAR_WINDOW || p->min_size >= p->avg_size || p->avg_size >= p->max_size ||
            p->max_size > (64u << 20))
                return -EINVAL;
        if ((p->avg_size & (p->avg_size - 1)) != 0)
                return -EINVAL;
        return 0;
}

/* The top `bits` bits set. */
static uint64_t top_mask(unsigned bits) {
        assert(bits > 0 && bits < 64);
        return ~UINT64_C(0) << (64 - bits);
}

int cn_chunker_new(const CnChunkerParams *p, const uint8_t key[CN_KEY_BYTES], CnChunker **ret) {
        uint8_t block[64];
        CnChunker *c;
        unsigned bits;
        int r;

        assert(ret);
        r = cn_chunker_params_check(p);
        if (r < 0)
                return r;
        if (!key)
                return -EINVAL;

        /* sizeof is a multiple of 64 and sodium_malloc puts the end of the
         * allocation against a guard page, so the table is line-aligned. */
        c = (CnChunker *) cn_secret_new(sizeof *c);
        if (!c)
                return -ENOMEM;

        for (unsigned id = 0; id < 256 / 8; id++) {
                r = cn_kdf_derive(block, sizeof block, id, CN_KDF_CTX_GEAR, key);
                if (r < 0) {
                        cn_memzero(block, sizeof block);
                        cn_secret_free(c);
                        return r;
                }
                for (unsigned j = 0; j < 8; j++)
                        c->gear[id * 8 + j] = cn_le64_get(block + 8 * j);
        }
        cn_memzero(block, sizeof block);

        bits = (unsigned) __builtin_ctz(p->avg_size);
        c->params = *p;
        c->mask_small = top_mask(bits + NORMALIZATION);
        c->mask_large = top_mask(bits - NORMALIZATION);

        *ret = c;
        return 0;
}

CnChunker *cn_chunker_free(CnChunker *c) {
        cn_secret_free(c);      /* wipes */
        return NULL;
}

const CnChunkerParams *cn_chunker_params(const CnChunker *c) {
        assert(c);
        return &c->params;
}

/* The one-byte-at-a-time definition: advance the hash over p[i..end) and
 * return the first length L in (i, end] whose window hash has no bit of
 * mask set, or 0 with *h updated to the hash at end. */
static size_t scan_serial(const uint64_t *restrict gear, const uint8_t *restrict p, size_t i, size_t end,
                          uint64_t *h, uint64_t mask) {
        uint64_t x = *h;

        for (; i < end; i++) {
                x = (x << 1) + gear[p[i]];
                if (!(x & mask))
                        return i + 1;
        }
        *h = x;
        return 0;
}

/* The same result as scan_serial(), faster. One gear hash is a chain of
 * dependent adds, one byte per cycle at best; so a round of LANES * SEGMENT
 * bytes is split into LANES consecutive segments hashed side by side (lanes
 * 1..3 first fill their window from the 63 bytes before their segment;
 * lane 0 continues the running hash, and lane 3's hash continues into the
 * next round). Lanes are tested in pairs, one branch per pair: if neither
 * hash of a pair may cut, their AND has a mask bit set. A cut found in lane
 * k is the answer only if lanes 0..k-1 have none later in their segments,
 * so those are run on serially from where they stopped. What is left after
 * the last whole round is done serially. */
#define LANES 4u
#define SEGMENT 8192u

/* The lanes of the round at p + i hold hashes x0..x3 at offset at of their
 * segments, and no lane had a cut before it. Returns the cut, or 0 when no
 * lane cuts at offset at (the AND test lets a few of those through). */
static __attribute__((noinline)) size_t round_cut(const uint64_t *restrict gear, const uint8_t *restrict p,
                                                  size_t i, size_t at, uint64_t x0, uint64_t x1, uint64_t x2,
                                                  uint64_t x3, uint64_t mask) {
        uint64_t x[LANES] = { x0, x1, x2, x3 };
        unsigned hit = 0;

        while (hit < LANES && (x[hit] & mask))
                hit++;
        if (hit == LANES)
                return 0;
        for (unsigned l = 0; l < hit; l++) {
                size_t r = scan_serial(gear, p, i + l * SEGMENT + at + 1, i + (l + 1) * SEGMENT, &x[l], mask);
                if (r > 0)
                        return r;
        }
        return i + hit * SEGMENT + at + 1;
}

/* Advance every lane over byte w[o] of its segment and test the four hashes. */
#define STEP(o)                                                                         \
        do {                                                                            \
                x0 = (x0 << 1) + gear[w[(o)]];                                          \
                x1 = (x1 << 1) + gear[w[(o) + SEGMENT]];                                \
                x2 = (x2 << 1) + gear[w[(o) + 2 * SEGMENT]];                            \
                x3 = (x3 << 1) + gear[w[(o) + 3 * SEGMENT]];                            \
                if (_unlikely_(!(x0 & x1 & mask) || !(x2 & x3 & mask))) {               \
                        size_t r = round_cut(gear, p, i, (size_t) (w - (p + i)) + (o),  \
                                             x0, x1, x2, x3, mask);                     \
                        if (r > 0)                                                      \
                                return r;                                               \
                }                                                                       \
        } while (0)

static size_t scan(const uint64_t *restrict gear, const uint8_t *restrict p, size_t i, size_t end,
                   uint64_t *h, uint64_t mask) {
        uint64_t x = *h;

        for (; end - i >= LANES * SEGMENT; i += LANES * SEGMENT) {
                const uint8_t *w = p + i, *w_end = w + SEGMENT;
                uint64_t x0 = x, x1 = 0, x2 = 0, x3 = 0;

                for (const uint8_t *v = w_end - (GEAR_WINDOW - 1); v < w_end; v++) {
                        x1 = (x1 << 1) + gear[v[0]];
                        x2 = (x2 << 1) + gear[v[SEGMENT]];
                        x3 = (x3 << 1) + gear[v[2 * SEGMENT]];
                }
                for (; w < w_end; w += 2) {
                        STEP(0);
                        STEP(1);
                }
                x = x3;
        }
        *h = x;
        return scan_serial(gear, p, i, end, h, mask);
}
#undef STEP

size_t cn_chunker_cut(const CnChunker *c, const uint8_t *p, size_t n) {
        size_t min, end, normal, l;
        uint64_t h = 0;

        assert(c);
        min = c->params.min_size;
        if (n <= min)
                return n;
        assert(p);
        end = CN_MIN(n, (size_t) c->params.max_size);
        normal = CN_MIN(end, (size_t) c->params.avg_size);

        /* Fill the window for length min - 1, then test lengths from min on. */
        for (size_t i = min - GEAR_WINDOW; i < min - 1; i++)
                h = (h << 1) + c->gear[p[i]];

        l = scan(c->gear, p, min - 1, normal - 1, &h, c->mask_small);
        if (l > 0)
                return l;
        l = scan(c->gear, p, normal - 1, end - 1, &h, c->mask_large);
        if (l > 0)
                return l;
        return end;
}
