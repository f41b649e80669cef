/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Sealed metadata objects: the plaintext header (cn_envelope_peek) under
 * every magic, and cn_envelope_open under the key of the golden vector
 * (bytes 0..31), which the seeds are sealed with. */
#include "envelope.h"
#include "fuzz.h"

static const char *const magics[] = {
        CN_MAGIC_CONFIG, CN_MAGIC_CONTROLLER, CN_MAGIC_INDEX,   CN_MAGIC_LEDGER, CN_MAGIC_SNAPSHOT,
        CN_MAGIC_DAMAGE, CN_MAGIC_HOLD,       CN_MAGIC_HOLD_RELEASE, CN_MAGIC_SESSION, CN_MAGIC_PLAN,
        CN_MAGIC_CERTIFICATE, CN_MAGIC_RETENTION, CN_MAGIC_REQUEST, CN_MAGIC_REQUEST_CLOSING,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        uint8_t key[CN_KEY_BYTES];
        CnEnvelopeHeader h, h2;
        CnBuf body = CN_BUF_INIT(CN_MAX_META_BYTES);

        for (int i = 0; i < CN_KEY_BYTES; i++)
                key[i] = (uint8_t) i;
        for (size_t m = 0; m < sizeof magics / sizeof *magics; m++) {
                if (cn_envelope_peek(data, size, magics[m], &h) < 0)
                        continue;
                FUZZ_ASSERT(h.version >= 1 && h.version <= cn_envelope_version(magics[m]));
                if (cn_envelope_open(data, size, magics[m], key, &h2, &body) < 0)
                        continue;
                FUZZ_ASSERT(memcmp(&h, &h2, sizeof h) == 0);
                FUZZ_ASSERT(body.len == size - CN_ENVELOPE_HEADER_BYTES - CN_AEAD_NONCE_BYTES - CN_AEAD_TAG_BYTES);
        }
        cn_envelope_check_content_name("snapshots/x/00", data, size);
        cn_buf_done(&body);
        return 0;
}
