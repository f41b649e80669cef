/* SPDX-License-Identifier: GPL-3.0-or-later */
/* index/<ctrl>/<pack>: the opened body, pack_id[32] then the pack header's
 * entries list, loaded into an in-memory index as a store loads it. */
#include "fuzz.h"
#include "index.h"
#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnIndex *x = NULL;
        uint8_t pack_id[CN_ID_BYTES];
        uint32_t n, pack;
        CnReader rd;

        cn_reader_init(&rd, data, size);
        if (cn_reader_get(&rd, pack_id, CN_ID_BYTES) < 0 || cn_pack_entries_begin(&rd, 0, &n) < 0)
                return 0;
        FUZZ_ASSERT(cn_index_new(&x) == 0);
        FUZZ_ASSERT(cn_index_add_pack(x, pack_id, &pack) == 0);
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *id;
                CnBlobLoc loc, got;
                FUZZ_ASSERT(cn_pack_entry_read(&rd, 0, &id, &loc) == 0);
                loc.pack = pack;
                FUZZ_ASSERT(cn_index_insert(x, id, &loc) >= 0);
                FUZZ_ASSERT(cn_index_lookup(x, id, &got));
        }
        FUZZ_ASSERT(cn_reader_empty(&rd));
        FUZZ_ASSERT(cn_index_size(x) <= n);
        cn_index_free(x);
        return 0;
}
