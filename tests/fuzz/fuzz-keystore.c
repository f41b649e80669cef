/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Key store object bodies (cn_keystore_body_decode, docs/FORMAT.md "Key
 * store"): what decodes keeps every rule and encodes to the same bytes. */
#include "fuzz.h"
#include "keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int inited;
        static const uint8_t id[CN_UUID_BYTES];
        CnKeyStore ks;
        CnBuf b = CN_BUF_INIT(CN_MAX_KEYSTORE_BYTES);

        if (!inited) {
                FUZZ_ASSERT(cn_crypto_init() == 0); /* keys live in secret memory */
                inited = 1;
        }
        FUZZ_ASSERT(cn_keystore_init(&ks, id, id) == 0);
        if (cn_keystore_body_decode(data, size, &ks) == 0) {
                FUZZ_ASSERT(ks.generation >= 1 && ks.n_locations >= 1 && ks.n_keys >= 1);
                for (size_t i = 1; i < ks.n_keys; i++)
                        FUZZ_ASSERT(ks.epochs[i - 1] < ks.epochs[i]);
                FUZZ_ASSERT(cn_keystore_body_encode(&ks, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        } else
                FUZZ_ASSERT(ks.n_keys == 0 && ks.n_locations == 0);
        cn_keystore_done(&ks);
        cn_buf_done(&b);
        return 0;
}
