/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Audit log entry bodies (cn_audit_entry_decode): what decodes encodes to
 * the same bytes, and shows as JSON. */
#include "audit.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnAuditEntry e = {};
        CnBuf b = CN_BUF_INIT(1u << 20);

        if (cn_audit_entry_decode(data, size, &e) == 0) {
                json_t *j = cn_audit_entry_json(&e);
                FUZZ_ASSERT(j);
                json_decref(j);
                FUZZ_ASSERT(cn_audit_entry_encode(&e, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_audit_entry_done(&e);
        cn_buf_done(&b);
        return 0;
}
