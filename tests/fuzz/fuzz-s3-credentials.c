/* SPDX-License-Identifier: GPL-3.0-or-later */
/* AWS shared credentials files (cn_s3_credentials_parse), for the profiles
 * "default" and "cairn". */
#include "fuzz.h"
#include "s3-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const profiles[] = { "default", "cairn" };
        for (size_t i = 0; i < 2; i++) {
                CnS3Creds c = {};
                if (cn_s3_credentials_parse((const char *) data, size, profiles[i], &c) == 0)
                        FUZZ_ASSERT(c.key_id && c.secret);
                cn_s3_creds_done(&c);
        }
        return 0;
}
