/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "crypto.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

int cn_crypto_init(void) {
        return sodium_init() < 0 ? -EIO : 0;
}

uint8_t *cn_secret_new(size_t n) {
        uint8_t *p = sodium_malloc(n);
        if (p)
                sodium_memzero(p, n);
        return p;
}

void cn_secret_free(void *p) {
        sodium_free(p);
}

void cn_random(void *p, size_t n) {
        randombytes_buf(p, n);
}

void cn_memzero(void *p, size_t n) {
        sodium_memzero(p, n);
}

bool cn_memeq(const void *a, const void *b, size_t n) {
        return sodium_memcmp(a, b, n) == 0;
}

int cn_kdf_derive(uint8_t *out, size_t out_len, uint64_t id, const char context[CN_KDF_CONTEXT_BYTES],
                  const uint8_t key[CN_KEY_BYTES]) {
        if (out_len < crypto_kdf_BYTES_MIN || out_len > crypto_kdf_BYTES_MAX)
                return -EINVAL;
        return crypto_kdf_derive_from_key(out, out_len, id, context, key) == 0 ? 0 : -EINVAL;
}

int cn_pwhash_derive(uint8_t out[CN_KEY_BYTES], const char *pw, size_t pw_len,
                     const uint8_t salt[CN_SALT_BYTES], uint64_t opslimit, uint64_t memlimit) {
        if (opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN || opslimit > crypto_pwhash_argon2id_OPSLIMIT_MAX ||
            memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN || memlimit > crypto_pwhash_argon2id_MEMLIMIT_MAX ||
            memlimit > SIZE_MAX)
                return -EINVAL;
        if (crypto_pwhash(out, CN_KEY_BYTES, pw, pw_len, salt, opslimit, (size_t) memlimit,
                          crypto_pwhash_ALG_ARGON2ID13) != 0)
                return -ENOMEM;
        return 0;
}

void cn_id_hmac(uint8_t out[CN_ID_BYTES], const void *data, size_t n, const uint8_t key[CN_KEY_BYTES]) {
        crypto_auth_hmacsha256_state st;
        crypto_auth_hmacsha256_init(&st, key, CN_KEY_BYTES);
        crypto_auth_hmacsha256_update(&st, data, n);
        crypto_auth_hmacsha256_final(&st, out);
        sodium_memzero(&st, sizeof st);
}

void cn_aead_seal(uint8_t *out, const uint8_t *m, size_t n, const uint8_t *ad, size_t ad_len,
                  const uint8_t nonce[CN_AEAD_NONCE_BYTES], const uint8_t key[CN_KEY_BYTES]) {
        crypto_aead_xchacha20poly1305_ietf_encrypt(out, NULL, m, n, ad, ad_len, NULL, nonce, key);
}

int cn_aead_open(uint8_t *out, const uint8_t *c, size_t n, const uint8_t *ad, size_t ad_len,
                 const uint8_t nonce[CN_AEAD_NONCE_BYTES], const uint8_t key[CN_KEY_BYTES]) {
        if (n < CN_AEAD_TAG_BYTES)
                return -EBADMSG;
        if (crypto_aead_xchacha20poly1305_ietf_decrypt(out, NULL, NULL, c, n, ad, ad_len, nonce, key) != 0)
                return -EBADMSG;
        return 0;
}

void cn_sign_keypair(uint8_t pk[CN_SIGN_PUBLIC_BYTES], uint8_t sk[CN_SIGN_SECRET_BYTES]) {
        crypto_sign_ed25519_keypair(pk, sk);
}

void cn_sign(uint8_t sig[CN_SIGN_BYTES], const void *m, size_t n, const uint8_t sk[CN_SIGN_SECRET_BYTES]) {
        crypto_sign_ed25519_detached(sig, NULL, m, n, sk);
}

int cn_sign_verify(const uint8_t sig[CN_SIGN_BYTES], const void *m, size_t n,
                   const uint8_t pk[CN_SIGN_PUBLIC_BYTES]) {
        return crypto_sign_ed25519_verify_detached(sig, m, n, pk) == 0 ? 0 : -EBADMSG;
}
