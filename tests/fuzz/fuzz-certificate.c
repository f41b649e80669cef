/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Erasure certificate files (cn_certificate_decode, cn_certificate_verify):
 * what decodes encodes to the same bytes (the reader keeps everything the
 * file says, and only the canonical form is accepted), and what verifies
 * with the seeds' key (RFC 8032 test 1) also decodes. */
#include "certificate.h"
#include "fuzz.h"
#include "hex.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t pk[CN_SIGN_PUBLIC_BYTES];
        static int inited;
        CnCertificate c = {};
        uint8_t spk[CN_SIGN_PUBLIC_BYTES], sig[CN_SIGN_BYTES];
        CnBuf b = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        const char *why = NULL;

        if (!inited) {
                FUZZ_ASSERT(cn_crypto_init() == 0);
                FUZZ_ASSERT(cn_hex_decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pk,
                                          sizeof pk) == 0);
                inited = 1;
        }
        int d = cn_certificate_decode(data, size, &c, spk, sig, &why);
        FUZZ_ASSERT(d == 0 || why);
        if (d == 0) {
                FUZZ_ASSERT(cn_certificate_encode(&c, spk, sig, &b) == 0);
                FUZZ_ASSERT(b.len == size && memcmp(b.data, data, size) == 0);
        }
        cn_certificate_done(&c);
        int v = cn_certificate_verify(data, size, pk, &c, NULL);
        FUZZ_ASSERT(v < 0 || d == 0);
        cn_certificate_done(&c);
        cn_buf_done(&b);
        return 0;
}
