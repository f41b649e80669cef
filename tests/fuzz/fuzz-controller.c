/* SPDX-License-Identifier: GPL-3.0-or-later */
/* controllers/<id>: the opened body of either version (cn_controller_body_decode);
 * the first byte chooses the version. */
#include "fuzz.h"
#include "repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t root[CN_KEY_BYTES], epoch_key[CN_KEY_BYTES];
        CnController c = { .root = root, .epoch_key = epoch_key };
        if (size == 0)
                return 0;
        uint32_t version = 1 + (data[0] & 1);
        if (cn_controller_body_decode(data + 1, size - 1, version, &c) < 0) {
                FUZZ_ASSERT(!c.name);
                return 0;
        }
        /* A controller that decodes has chunker parameters a chunker accepts. */
        FUZZ_ASSERT(cn_chunker_params_check(&c.chunker) == 0);
        FUZZ_ASSERT(c.name && strlen(c.name) <= CN_MAX_LABEL_BYTES);
        FUZZ_ASSERT(c.format == (int) version);
        free(c.name);
        return 0;
}
