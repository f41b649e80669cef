/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Erasure request bodies (erasures/<ctrl>/<id>, cn_erase_request_decode,
 * docs/FORMAT.md "Erasure"): what decodes keeps every rule and encodes to
 * the same bytes. */
#include "erase.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnEraseRequest q;
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);
        char *s[4] = {};

        if (cn_erase_request_decode(data, size, &q) == 0) {
                /* the strings point into data, unterminated: copy them as a reader does */
                const char *v[4] = { q.value, q.reason, q.reference, q.requester };
                CnReader rd;
                uint8_t scope;
                cn_reader_init(&rd, data, size);
                FUZZ_ASSERT(cn_reader_u8(&rd, &scope) == 0 && scope == q.scope);
                for (size_t i = 0; i < 4; i++) {
                        const uint8_t *p;
                        size_t len;
                        FUZZ_ASSERT(cn_reader_bytes32(&rd, SIZE_MAX, &p, &len) == 0 && (const char *) p == v[i]);
                        s[i] = strndup((const char *) p, len);
                        FUZZ_ASSERT(s[i]);
                }
                CnEraseRequest c = { .scope = q.scope, .value = s[0], .reason = s[1], .reference = s[2],
                                     .requester = s[3], .created = q.created };
                FUZZ_ASSERT(cn_erase_request_encode(&c, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        for (size_t i = 0; i < 4; i++)
                free(s[i]);
        cn_buf_done(&b);
        return 0;
}
