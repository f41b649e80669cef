/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The in-memory chunk index of one controller: chunk id -> where the sealed
 * blob lives, and (once the key ledger is loaded) its data key.
 *
 * Entries are 48-byte records in blocks of 65536, a 4-byte key number each
 * once keys are loaded, and 4-byte open-addressing slots at 0.375 to 0.75
 * load: 57 to 63 bytes per chunk. Chunk ids are HMAC outputs, so their
 * first 8 bytes are already uniform and serve as the hash. Data keys (32
 * bytes each) live in cn_secret_new() blocks, never in ordinary heap memory.
 *
 * Not thread-safe: callers serialize access. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "crypto.h"

#define CN_NO_KEY UINT32_MAX

typedef struct CnBlobLoc {
        uint32_t pack;          /* pack number in this index (cn_index_pack_id) */
        uint32_t offset;        /* of the blob (nonce first) in the pack */
        uint32_t length;        /* stored bytes: nonce, ciphertext, tag */
        uint32_t raw_length;    /* plaintext bytes after decompression */
        uint8_t type;           /* CN_BLOB_* */
        uint8_t flags;          /* CN_BLOB_ZSTD */
} CnBlobLoc;

typedef struct CnIndex CnIndex;

int cn_index_new(CnIndex **ret);
CnIndex *cn_index_free(CnIndex *x);            /* wipes the keys */
static inline void cn_index_freep(CnIndex **x) {
        cn_index_free(*x);
}

/* Pack numbers are dense, from 0; adding a known pack id returns its number. */
int cn_index_add_pack(CnIndex *x, const uint8_t pack_id[CN_ID_BYTES], uint32_t *ret_pack);
/* -ENOENT if the pack is unknown. */
int cn_index_find_pack(const CnIndex *x, const uint8_t pack_id[CN_ID_BYTES], uint32_t *ret_pack);
const uint8_t *cn_index_pack_id(const CnIndex *x, uint32_t pack);
uint32_t cn_index_n_packs(const CnIndex *x);
/* 1 when this pack's index file has been loaded or written. */
bool cn_index_pack_indexed(const CnIndex *x, uint32_t pack);
void cn_index_pack_set_indexed(CnIndex *x, uint32_t pack);
/* What the pack's authenticated entries (its index file or encrypted
 * header, or the writer that wrote it) say of its size: where its last
 * blob ends, and how many entries its header holds. Readers size what they
 * fetch of a pack by it, never by what the server sends. The extent grows
 * to the largest one set; -ENOENT until one is. */
void cn_index_pack_set_extent(CnIndex *x, uint32_t pack, uint64_t blob_end, uint32_t entries);
int cn_index_pack_extent(const CnIndex *x, uint32_t pack, uint64_t *ret_blob_end, uint32_t *ret_entries);
/* A version 2 pack's own key (its header's and index file's: docs/FORMAT.md
 * "Packs"), kept with the data keys; NULL when none is set (a version 1
 * pack, or one no ledger names). */
int cn_index_pack_set_key(CnIndex *x, uint32_t pack, const uint8_t key[CN_KEY_BYTES]);
const uint8_t *cn_index_pack_key(const CnIndex *x, uint32_t pack);
/* The number (the caller's) of the ledger object that holds the pack's
 * keys; -ENOENT when none is set. */
void cn_index_pack_set_ledger(CnIndex *x, uint32_t pack, uint32_t ledger);
int cn_index_pack_ledger(const CnIndex *x, uint32_t pack, uint32_t *ret_ledger);

/* Returns 1 if inserted (or a claim got its place), 0 if the id was
 * already stored (left unchanged). */
int cn_index_insert(CnIndex *x, const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc);
/* Reserve id for a blob about to be stored: 1 if this call claimed it, 0
 * if it is stored or claimed already. A claimed id is "contained" (dedup
 * skips it) but not looked up (it cannot be read) until inserted. */
int cn_index_claim(CnIndex *x, const uint8_t id[CN_ID_BYTES]);
bool cn_index_contains(const CnIndex *x, const uint8_t id[CN_ID_BYTES]);
/* Make id absent again (its location and data key dropped): a copy known to
 * be unreadable, so that a writer stores the chunk anew. No-op if unknown. */
void cn_index_forget(CnIndex *x, const uint8_t id[CN_ID_BYTES]);
/* Stored blobs only. */
bool cn_index_lookup(const CnIndex *x, const uint8_t id[CN_ID_BYTES], CnBlobLoc *ret);
size_t cn_index_size(const CnIndex *x);
/* Bytes held for the entries, slots and key numbers (not the keys themselves). */
size_t cn_index_memory(const CnIndex *x);
/* Visit every entry; stops at and returns the first negative return of fn. */
int cn_index_foreach(const CnIndex *x, int (*fn)(const uint8_t id[CN_ID_BYTES], const CnBlobLoc *loc, void *u),
                     void *u);

/* Record the data key (copied) of id, which must be in the index (-ENOENT). */
int cn_index_set_key(CnIndex *x, const uint8_t id[CN_ID_BYTES], const uint8_t key[CN_KEY_BYTES]);
/* Borrowed pointer into secret memory, or NULL if the ledger had no key. */
const uint8_t *cn_index_get_key(const CnIndex *x, const uint8_t id[CN_ID_BYTES]);
