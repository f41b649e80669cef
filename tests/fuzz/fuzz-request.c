/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Request bodies (cn_request_decode): what decodes encodes to the same bytes. */
#include "fuzz.h"
#include "request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnRequest q = {};
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);

        if (cn_request_decode(data, size, &q) == 0) {
                FUZZ_ASSERT(cn_request_kind_name(q.kind) && cn_request_scope_name(q.scope));
                FUZZ_ASSERT(cn_request_encode(&q, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_request_done(&q);
        cn_buf_done(&b);
        return 0;
}
