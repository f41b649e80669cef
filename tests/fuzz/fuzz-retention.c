/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Retention policy bodies (cn_retention_decode): what decodes encodes to
 * the same bytes, and is a policy a retention object may hold. */
#include "fuzz.h"
#include "retention.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnRetention p = {};
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);

        if (cn_retention_decode(data, size, &p) == 0) {
                FUZZ_ASSERT(cn_retention_policy_valid(&p.policy));
                FUZZ_ASSERT(cn_retention_encode(&p, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_retention_done(&p);
        cn_buf_done(&b);
        return 0;
}
