/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Hold release bodies (cn_hold_release_decode): what decodes encodes to the
 * same bytes. */
#include "fuzz.h"
#include "hold.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnHoldRelease r = {};
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);

        if (cn_hold_release_decode(data, size, &r) == 0) {
                FUZZ_ASSERT(cn_hold_release_encode(&r, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_hold_release_done(&r);
        cn_buf_done(&b);
        return 0;
}
