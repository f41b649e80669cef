/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Keyed content-defined chunking (normalized FastCDC with a secret gear table).
 *
 * The gear table is derived from a per-controller chunker key, so cut points
 * (and so chunk sizes) cannot be predicted without the key: chunk sizes do
 * not fingerprint known files across controllers (docs/CRYPTO.md).
 *
 * The chunker is stateless between calls: cn_chunker_cut() is given bytes
 * that start at a chunk boundary and returns where that chunk ends. It does
 * no I/O and no allocation. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "crypto.h"

typedef struct CnChunkerParams {
        uint32_t min_size;      /* no cut before this many bytes */
        uint32_t avg_size;      /* power of two: the normalization point */
        uint32_t max_size;      /* always cut here */
} CnChunkerParams;

/* The defaults recorded in new controllers (chosen by bench/; see docs/FORMAT.md). */
extern const CnChunkerParams cn_chunker_default_params;

typedef struct CnChunker CnChunker;

/* -EINVAL unless 64 <= min < avg < max <= 64 MiB and avg is a power of two. */
int cn_chunker_params_check(const CnChunkerParams *p);
int cn_chunker_new(const CnChunkerParams *p, const uint8_t key[CN_KEY_BYTES], CnChunker **ret);
CnChunker *cn_chunker_free(CnChunker *c);      /* NULL-tolerant; wipes the table */
static inline void cn_chunker_freep(CnChunker **c) {
        cn_chunker_free(*c);
}
const CnChunkerParams *cn_chunker_params(const CnChunker *c);

/* Length of the chunk that starts at p. The caller passes n >= max_size
 * unless p..p+n reaches the end of the input, in which case the result may
 * be n (the last chunk). Returns a value in [1, min(n, max_size)]; 0 only when n == 0. */
size_t cn_chunker_cut(const CnChunker *c, const uint8_t *p, size_t n);
