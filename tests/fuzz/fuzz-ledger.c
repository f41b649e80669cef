/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ledger/<ctrl>/<pack>: the opened body, pack_id[32] count:u32
 * { id[32] data_key[32] }*, keys recorded as a store records them. */
#include "fuzz.h"
#include "index.h"
#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int inited;
        CnIndex *x = NULL;
        uint8_t pack_id[CN_ID_BYTES];
        uint32_t n, pack;
        CnReader rd;

        if (!inited) {
                FUZZ_ASSERT(cn_crypto_init() == 0); /* data keys live in secret memory */
                inited = 1;
        }
        cn_reader_init(&rd, data, size);
        if (cn_reader_get(&rd, pack_id, CN_ID_BYTES) < 0 || cn_ledger_body_begin(&rd, &n) < 0)
                return 0;
        FUZZ_ASSERT(cn_index_new(&x) == 0);
        FUZZ_ASSERT(cn_index_add_pack(x, pack_id, &pack) == 0);
        for (uint32_t j = 0; j < n; j++) {
                const uint8_t *id, *key;
                CnBlobLoc loc = { .pack = pack, .length = 40, .offset = CN_PACK_PREAMBLE_BYTES, .type = CN_BLOB_DATA };
                FUZZ_ASSERT(cn_reader_peek(&rd, CN_ID_BYTES, &id) == 0);
                FUZZ_ASSERT(cn_reader_peek(&rd, CN_KEY_BYTES, &key) == 0);
                /* every other id is in the index, as chunks of other packs are not */
                if (id[0] & 1)
                        continue;
                FUZZ_ASSERT(cn_index_insert(x, id, &loc) >= 0);
                FUZZ_ASSERT(cn_index_set_key(x, id, key) == 0);
                FUZZ_ASSERT(memcmp(cn_index_get_key(x, id), key, CN_KEY_BYTES) == 0);
        }
        FUZZ_ASSERT(cn_reader_empty(&rd));
        cn_index_free(x);
        return 0;
}
