/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Damage record bodies (cn_damage_decode): what decodes encodes to the same
 * bytes, and every location decoded is then contained. */
#include "damage.h"
#include "format.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnDamageSet d = {};
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);

        if (cn_damage_decode(data, size, &d) == 0) {
                FUZZ_ASSERT(d.n > 0);
                FUZZ_ASSERT(cn_damage_encode(&d, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
                for (size_t i = 0; i < d.n; i++)
                        FUZZ_ASSERT(cn_damage_set_contains(&d, d.v[i].pack, d.v[i].blob));
        }
        cn_damage_set_done(&d);
        cn_buf_done(&b);
        return 0;
}
