/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The end of a pack as the adopt path reads it: the input is a pack whose
 * last CN_PACK_TRAILER_BYTES are its trailer (cn_pack_trailer_parse); the
 * header the trailer points at is taken as opened (nonce and tag stripped,
 * no key) and read as an entries list against the blob area before it. */
#include "fuzz.h"
#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint32_t hlen, n;
        if (size < CN_PACK_TRAILER_BYTES || cn_pack_trailer_parse(data + size - CN_PACK_TRAILER_BYTES, size, &hlen) < 0)
                return 0;
        FUZZ_ASSERT((uint64_t) hlen + CN_PACK_PREAMBLE_BYTES + CN_PACK_TRAILER_BYTES <= size);
        FUZZ_ASSERT(hlen >= CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES);
        size_t blob_area = size - CN_PACK_TRAILER_BYTES - hlen;
        CnReader rd;
        cn_reader_init(&rd, data + blob_area + CN_AEAD_NONCE_BYTES, hlen - CN_AEAD_NONCE_BYTES - CN_AEAD_TAG_BYTES);
        if (cn_pack_entries_begin(&rd, blob_area, &n) < 0)
                return 0;
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *id;
                CnBlobLoc loc;
                FUZZ_ASSERT(cn_pack_entry_read(&rd, blob_area, &id, &loc) == 0);
                FUZZ_ASSERT((uint64_t) loc.offset + loc.length <= blob_area);
                FUZZ_ASSERT(loc.offset >= CN_PACK_PREAMBLE_BYTES);
        }
        FUZZ_ASSERT(cn_reader_empty(&rd));
        return 0;
}
