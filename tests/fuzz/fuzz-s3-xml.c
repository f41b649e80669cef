/* SPDX-License-Identifier: GPL-3.0-or-later */
/* S3 XML answers (storage/s3-proto.c): ListBucketResult, Error and
 * InitiateMultipartUploadResult, each parser given the same bytes. */
#include "fuzz.h"
#include "s3-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnS3ListPage p = {};
        char code[64], message[256], *upload = NULL;

        if (cn_s3_list_parse(data, size, &p) == 0) {
                FUZZ_ASSERT(p.n <= CN_S3_LIST_MAX_ENTRIES);
                for (size_t i = 0; i < p.n; i++)
                        FUZZ_ASSERT(p.entries[i].key && strlen(p.entries[i].key) <= CN_S3_KEY_MAX);
                FUZZ_ASSERT(!p.truncated || p.next);
                cn_s3_list_page_done(&p);
        }
        if (cn_s3_error_parse(data, size, code, sizeof code, message, sizeof message) == 0)
                FUZZ_ASSERT(strlen(code) < sizeof code && strlen(message) < sizeof message);
        if (cn_s3_initiate_parse(data, size, &upload) == 0) {
                FUZZ_ASSERT(upload);
                free(upload);
        }
        return 0;
}
