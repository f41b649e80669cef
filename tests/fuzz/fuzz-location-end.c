/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Removal and revocation bodies (cn_location_end_decode): what decodes
 * encodes to the same bytes. */
#include "fuzz.h"
#include "location.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnLocationEnd e = {};
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);

        if (cn_location_end_decode(data, size, &e) == 0) {
                FUZZ_ASSERT(cn_location_end_encode(&e, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_location_end_done(&e);
        cn_buf_done(&b);
        return 0;
}
