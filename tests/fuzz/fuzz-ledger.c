/* SPDX-License-Identifier: GPL-3.0-or-later */
/* ledger/<ctrl>/<name>: the opened body of either version (cn_ledger_decode; the
 * first byte chooses the version), keys recorded as a store records them. */
#include "fuzz.h"
#include "index.h"
#include "pack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int inited;
        CnIndex *x = NULL;
        CnLedgerPack *v = NULL;
        size_t n;

        if (!inited) {
                FUZZ_ASSERT(cn_crypto_init() == 0); /* data keys live in secret memory */
                inited = 1;
        }
        if (size == 0)
                return 0;
        uint32_t version = 1 + (data[0] & 1);
        if (cn_ledger_decode(data + 1, size - 1, version, &v, &n) < 0) {
                FUZZ_ASSERT(!v);
                return 0;
        }
        FUZZ_ASSERT(n >= 1 && (version == 2 || n == 1));
        FUZZ_ASSERT(cn_index_new(&x) == 0);
        for (size_t i = 0; i < n; i++) {
                uint32_t pack;
                FUZZ_ASSERT(v[i].pack_id >= data && v[i].pairs + (size_t) v[i].n * 64 <= data + size);
                FUZZ_ASSERT(i == 0 || memcmp(v[i - 1].pack_id, v[i].pack_id, CN_ID_BYTES) < 0);
                FUZZ_ASSERT(cn_index_add_pack(x, v[i].pack_id, &pack) == 0);
                if (v[i].pack_key)
                        FUZZ_ASSERT(cn_index_pack_set_key(x, pack, v[i].pack_key) == 0);
                for (uint32_t j = 0; j < v[i].n; j++) {
                        const uint8_t *id = v[i].pairs + (size_t) j * 64, *key = id + CN_ID_BYTES;
                        CnBlobLoc loc = { .pack = pack, .length = 40, .offset = CN_PACK_PREAMBLE_BYTES,
                                          .type = CN_BLOB_DATA };
                        /* every other id is in the index, as chunks of other packs are not */
                        if (id[0] & 1)
                                continue;
                        FUZZ_ASSERT(cn_index_insert(x, id, &loc) >= 0);
                        FUZZ_ASSERT(cn_index_set_key(x, id, key) == 0);
                        FUZZ_ASSERT(memcmp(cn_index_get_key(x, id), key, CN_KEY_BYTES) == 0);
                }
        }
        free(v);
        cn_index_free(x);
        return 0;
}
