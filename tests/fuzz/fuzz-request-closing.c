/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Request closing bodies (cn_request_closing_decode): what decodes encodes
 * to the same bytes. */
#include "fuzz.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnRequestClosing x = {};
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);

        if (cn_request_closing_decode(data, size, &x) == 0) {
                FUZZ_ASSERT(cn_request_outcome_name(x.outcome));
                FUZZ_ASSERT(cn_request_closing_encode(&x, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_request_closing_done(&x);
        cn_buf_done(&b);
        return 0;
}
