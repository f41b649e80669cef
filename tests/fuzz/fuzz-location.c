/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Location and grant bodies (cn_location_decode): what decodes encodes to
 * the same bytes, and every field keeps its rule. */
#include "fuzz.h"
#include "location.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnLocation l = {};
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);

        if (cn_location_decode(data, size, &l) == 0) {
                FUZZ_ASSERT(cn_location_name_valid(l.name));
                FUZZ_ASSERT(cn_location_text_valid(l.provider, 1, CN_LOCATION_TEXT_MAX));
                FUZZ_ASSERT(cn_location_text_valid(l.region, 1, CN_LOCATION_TEXT_MAX));
                FUZZ_ASSERT(cn_location_encode(&l, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_location_done(&l);
        cn_buf_done(&b);
        return 0;
}
