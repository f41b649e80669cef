/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Pack layout (docs/FORMAT.md "Packs"): the pieces both the writer and the
 * readers of packs need. Pure functions, no I/O. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "crypto.h"
#include "format.h"
#include "index.h"

#define CN_PACK_PREAMBLE_BYTES (CN_MAGIC_BYTES + 4 + 2 * CN_UUID_BYTES)
#define CN_PACK_TRAILER_BYTES (4 + CN_MAGIC_BYTES)
#define CN_PACK_HEADER_AD_BYTES (CN_MAGIC_BYTES + 4 + 2 * CN_UUID_BYTES + CN_ID_BYTES)
#define CN_PACK_ENTRY_BYTES (CN_ID_BYTES + 2 + 4 * 3)
#define CN_CHUNK_AD_BYTES (16 + 2 * CN_UUID_BYTES + CN_ID_BYTES + 1)
/* Writers close a pack at CN_PACK_TARGET_BYTES or this many blobs. */
#define CN_PACK_WRITER_MAX_BLOBS 65536u

typedef struct CnPackEntry {
        uint8_t id[CN_ID_BYTES];
        CnBlobLoc loc;                  /* pack number unused in encodings */
} CnPackEntry;

/* "cairn.chunk.v1\0\0" processor controller id type */
void cn_pack_chunk_ad(const uint8_t processor[CN_UUID_BYTES], const uint8_t controller[CN_UUID_BYTES],
                      const uint8_t id[CN_ID_BYTES], uint8_t type, uint8_t ad[CN_CHUNK_AD_BYTES]);
/* "CAIRNPKH" version processor controller pack_id */
void cn_pack_header_ad(uint32_t version, const uint8_t processor[CN_UUID_BYTES],
                       const uint8_t controller[CN_UUID_BYTES], const uint8_t pack_id[CN_ID_BYTES],
                       uint8_t ad[CN_PACK_HEADER_AD_BYTES]);
/* kind "data": data/<ctrl>/<xx>/<pack>; "index", "ledger": <kind>/<ctrl>/<pack>. */
void cn_pack_object_name(const char *kind, const char *controller_hex, const uint8_t pack_id[CN_ID_BYTES], char *out,
                         size_t n);
/* entries = count:u32 { id[32] type:u8 flags:u8 offset:u32 length:u32 raw_length:u32 }* */
int cn_pack_encode_entries(CnBuf *b, const CnPackEntry *e, uint32_t n);

/* Decoders (pure; fuzzed in tests/fuzz/). */

/* The trailer (header_length:u32 "CNPKEND1", the last CN_PACK_TRAILER_BYTES
 * of a pack of pack_size bytes): the sealed header's length into
 * *ret_hlen. -EBADMSG if it is no trailer, or the header (nonce and tag at
 * least) would not fit between the preamble and the trailer. */
int cn_pack_trailer_parse(const uint8_t trailer[CN_PACK_TRAILER_BYTES], uint64_t pack_size, uint32_t *ret_hlen);
/* Start reading an entries list (of a pack header, or an index body after
 * its pack id): the count into *ret_n, and rd left at the first entry.
 * Every entry is checked first (cn_pack_entry_read()), so that a list that
 * fails fails before any entry is used: -EBADMSG for a count over
 * CN_MAX_PACK_ENTRIES or other than the bytes that follow, or a bad entry. */
int cn_pack_entries_begin(CnReader *rd, uint64_t blob_area, uint32_t *ret_n);
/* One entry, checked against the pack's blob area (blob_area bytes, 0:
 * unknown): a known type and flags, a length that holds nonce and tag, an
 * offset past the preamble, a raw length under its kind's cap. *ret_id
 * points into the reader's bytes; ret->pack is 0. -EBADMSG otherwise. */
int cn_pack_entry_read(CnReader *rd, uint64_t blob_area, const uint8_t **ret_id, CnBlobLoc *ret);
/* One pack's part of a ledger body (docs/FORMAT.md "Index and ledger"),
 * pointing into the body: pack_key NULL in a version 1 ledger (its pack is
 * of version 1); n pairs of id[32] data_key[32] at pairs. */
typedef struct CnLedgerPack {
        const uint8_t *pack_id;
        const uint8_t *pack_key;
        uint32_t n;
        const uint8_t *pairs;
} CnLedgerPack;
/* A ledger body of version 1 (pack_id count pairs) or 2 (pack_count, then
 * per pack pack_id pack_key count pairs): every rule checked (counts
 * within caps and the bytes there, pack ids increasing, nothing left
 * over); *ret malloc'd. -EBADMSG otherwise. A version 1 body's pack id is
 * the caller's to compare with the name. */
int cn_ledger_decode(const uint8_t *p, size_t n, uint32_t version, CnLedgerPack **ret, size_t *ret_n);
/* Append one pack's part: pack_id, pack_key (NULL: version 1, no key and
 * no pack count: the caller writes pack_count for version 2), count, and
 * n pairs of the id at ids + i * id_stride and the key at keys + i *
 * key_stride. */
int cn_ledger_encode_pack(CnBuf *b, const uint8_t pack_id[CN_ID_BYTES], const uint8_t *pack_key, uint32_t n,
                          const uint8_t *ids, size_t id_stride, const uint8_t *keys, size_t key_stride);
/* The size of a pack whose blobs end at blob_end and whose header holds
 * entries entries: writers put the header right after the last blob
 * (docs/FORMAT.md "Packs"). */
static inline uint64_t cn_pack_size(uint64_t blob_end, uint32_t entries) {
        return blob_end + CN_AEAD_NONCE_BYTES + 4 + (uint64_t) entries * CN_PACK_ENTRY_BYTES + CN_AEAD_TAG_BYTES +
               CN_PACK_TRAILER_BYTES;
}
