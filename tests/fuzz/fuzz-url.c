/* SPDX-License-Identifier: GPL-3.0-or-later */
/* URL pieces (storage/): percent-decoding (cn_remote_decode_dup) and its
 * inverse, S3 endpoints, bucket names and addressing, and the locations
 * of sftp:// and webdav+http(s):// URLs. The input is one string. */
#include <errno.h>

#include "backend.h"
#include "fuzz.h"
#include "remote.h"
#include "s3-proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char *s = fuzz_strndup(data, size), *dec = NULL, *enc = NULL, *again = NULL, *url = NULL;
        bool virt;

        FUZZ_ASSERT(s);
        /* Decoding: what decodes has no NUL, and encodes to something that
         * decodes to the same string. */
        if (cn_remote_decode_dup((const char *) data, size, &dec) == 0) {
                FUZZ_ASSERT(strlen(dec) <= size);
                for (int keep = 0; keep < 2; keep++) {
                        FUZZ_ASSERT(cn_remote_encode_dup(dec, keep, &enc) == 0);
                        FUZZ_ASSERT(cn_remote_decode_dup(enc, strlen(enc), &again) == 0);
                        FUZZ_ASSERT(strcmp(again, dec) == 0);
                        free(enc);
                        free(again);
                }
                free(dec);
        }
        /* S3: the input as an endpoint, and as a bucket. */
        if (cn_s3_base_url(s, "s3.example.invalid", "bucket", size & 1, &url) == 0) {
                FUZZ_ASSERT(strncmp(url, "http", 4) == 0);
                free(url);
        }
        if (cn_s3_bucket_valid(s)) {
                if (cn_s3_virtual_host(NULL, false, s, &virt) == 0 && cn_s3_base_url(NULL, "h", s, virt, &url) == 0)
                        free(url);
                FUZZ_ASSERT(!cn_s3_bucket_dns_ok(s) || strlen(s) <= 63);
        }
        free(s);
        return 0;
}
