/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Session bodies (writers/<ctrl>/<id>, cn_session_decode): what decodes
 * encodes to the same bytes. */
#include "fuzz.h"
#include "session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnSessionInfo *s = calloc(1, sizeof *s);
        CnBuf b = CN_BUF_INIT(CN_MAX_META_BYTES);

        FUZZ_ASSERT(s);
        if (cn_session_decode(data, size, s) == 0) {
                FUZZ_ASSERT(cn_session_encode(s, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
                for (size_t i = 0; i < s->n_plans; i++)
                        FUZZ_ASSERT(cn_session_saw_plan(s, s->plans[i]));
        }
        cn_sessions_free(s, 1);
        cn_buf_done(&b);
        return 0;
}
