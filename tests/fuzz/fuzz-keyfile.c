/* SPDX-License-Identifier: GPL-3.0-or-later */
/* keys/<id>: the plaintext part of a key file, every check made before any
 * Argon2 work (cn_keyfile_parse). */
#include "fuzz.h"
#include "repo.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        CnKeyfileHeader h;
        CnRepoProblem pb;
        if (cn_keyfile_parse(data, size, &h, &pb) < 0)
                return 0;
        /* What a reader then derives from: within the caps, inside the file. */
        FUZZ_ASSERT(h.opslimit >= CN_KDF_OPSLIMIT_MIN && h.opslimit <= CN_KDF_OPSLIMIT_MAX);
        FUZZ_ASSERT(h.memlimit >= CN_KDF_MEMLIMIT_MIN && h.memlimit <= CN_KDF_MEMLIMIT_MAX);
        FUZZ_ASSERT(h.label >= data && h.label + h.label_len <= data + size);
        FUZZ_ASSERT(size - h.ad_len == CN_AEAD_NONCE_BYTES + CN_KEY_BYTES + CN_UUID_BYTES + CN_AEAD_TAG_BYTES);
        return 0;
}
