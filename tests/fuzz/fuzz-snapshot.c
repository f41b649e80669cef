/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Snapshot bodies (cn_snapshot_decode): what decodes encodes to the same
 * bytes (its name is the SHA-256 of the sealed object: one encoding only). */
#include "fuzz.h"
#include "snapshot.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnSnapshot s = {};
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);

        if (cn_snapshot_decode(data, size, &s) == 0) {
                FUZZ_ASSERT(cn_snapshot_encode(&s, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_snapshot_done(&s);
        cn_buf_done(&b);
        return 0;
}
