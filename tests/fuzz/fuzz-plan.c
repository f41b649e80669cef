/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Deletion plan bodies (prune/<ctrl>/<id>, cn_plan_decode): what decodes
 * encodes to the same bytes. */
#include "damage.h"
#include "format.h"
#include "fuzz.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnDamageSet d = {};
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);
        int64_t created;

        if (cn_plan_decode(data, size, &created, &d) == 0) {
                FUZZ_ASSERT(cn_plan_encode(created, &d, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_damage_set_done(&d);
        cn_buf_done(&b);
        return 0;
}
