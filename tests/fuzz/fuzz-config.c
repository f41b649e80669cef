/* SPDX-License-Identifier: GPL-3.0-or-later */
/* config: the opened body (cn_config_body_decode). */
#include "fuzz.h"
#include "repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t id[CN_UUID_BYTES], pk[CN_SIGN_PUBLIC_BYTES], sk[CN_SIGN_SECRET_BYTES];
        char *name = NULL;
        if (cn_config_body_decode(data, size, id, &name, pk, sk) < 0) {
                FUZZ_ASSERT(!name);
                return 0;
        }
        FUZZ_ASSERT(name && strlen(name) <= CN_MAX_LABEL_BYTES);
        free(name);
        return 0;
}
