/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Known answers computed independently (Python's hmac and hashlib.blake2b),
 * so these pin the algorithms docs/CRYPTO.md names, not just our own output. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "hex.h"

static void init(void) {
        cr_assert_eq(cn_crypto_init(), 0);
}

static void key_0_31(uint8_t k[CN_KEY_BYTES]) {
        for (int i = 0; i < CN_KEY_BYTES; i++)
                k[i] = (uint8_t) i;
}

static void assert_hex(const uint8_t *p, size_t n, const char *hex) {
        char s[2 * 64 + 1];
        cn_hex_encode(p, n, s);
        cr_assert_str_eq(s, hex);
}

Test(crypto, chunk_id_is_hmac_sha256, .init = init) {
        uint8_t k[CN_KEY_BYTES], id[CN_ID_BYTES];
        key_0_31(k);
        static const char m[] = "cairn chunk id vector";
        cn_id_hmac(id, m, strlen(m), k);
        assert_hex(id, sizeof id, "e2f1ca8e16bc136f15c5fef812d809d4c27668afd71f1c521e57d98c64ddf76d");

        CnIdHasher *h;
        cr_assert_eq(cn_id_hasher_new(k, &h), 0);
        memset(id, 0, sizeof id);
        cn_id_hash(h, m, strlen(m), id);
        assert_hex(id, sizeof id, "e2f1ca8e16bc136f15c5fef812d809d4c27668afd71f1c521e57d98c64ddf76d");
        cn_id_hash(h, "", 0, id);       /* RFC 4231-style empty message, again via one-shot */
        uint8_t again[CN_ID_BYTES];
        cn_id_hmac(again, "", 0, k);
        cr_assert_eq(memcmp(id, again, CN_ID_BYTES), 0);
        cn_id_hasher_free(h);
}

Test(crypto, kdf_is_blake2b_with_subkey_salt_and_context_person, .init = init) {
        static const struct {
                uint64_t id;
                const char *ctx, *hex;
        } v[] = {
                { 1, "cnmaster", "b270cf4e00ce673f4873fbd1956d18295353308365b6b80fd912ee0992c56fed" },
                { 2, "cnmaster", "242cac06c3e706a6dc4d7067522e1a3bab439e6c822a74950e0df00d108111b9" },
                { 1, "cndomain", "6f481a2c0b67bb775d58a9b5b18b7a382ea871ac39b1ff916e5ad29c2508b73f" },
                { 2, "cndomain", "148f9b708db41d9736fb5d22bb17a14b65d7e90f8df63fa96fabd69e5dce1daa" },
                { 3, "cndomain", "21c590f77edacec81972e936ea968dd68a5f2c77053b54ad6e2f89841b76d5c9" },
                { 4, "cndomain", "ad07ef244e49172f3ea8eb6d196188bda41996dad7a39569e75a133fbc695d14" },
        };
        uint8_t k[CN_KEY_BYTES], out[CN_KEY_BYTES];
        key_0_31(k);
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
                cr_assert_eq(cn_kdf_derive(out, sizeof out, v[i].id, v[i].ctx, k), 0);
                assert_hex(out, sizeof out, v[i].hex);
        }
        cr_assert_eq(cn_kdf_derive(out, 8, 1, "cnmaster", k), -EINVAL);
}

Test(crypto, aead_round_trip_and_every_input_is_bound, .init = init) {
        uint8_t k[CN_KEY_BYTES], nonce[CN_AEAD_NONCE_BYTES], c[64 + CN_AEAD_TAG_BYTES], m[64];
        static const uint8_t msg[64] = "the quick brown fox", ad[] = "associated";
        key_0_31(k);
        cn_random(nonce, sizeof nonce);
        cn_aead_seal(c, msg, sizeof msg, ad, sizeof ad, nonce, k);
        cr_assert_eq(cn_aead_open(m, c, sizeof c, ad, sizeof ad, nonce, k), 0);
        cr_assert_eq(memcmp(m, msg, sizeof msg), 0);

        c[3] ^= 1;
        cr_assert_eq(cn_aead_open(m, c, sizeof c, ad, sizeof ad, nonce, k), -EBADMSG);
        c[3] ^= 1;
        cr_assert_eq(cn_aead_open(m, c, sizeof c, ad, sizeof ad - 1, nonce, k), -EBADMSG);
        nonce[0] ^= 1;
        cr_assert_eq(cn_aead_open(m, c, sizeof c, ad, sizeof ad, nonce, k), -EBADMSG);
        nonce[0] ^= 1;
        k[31] ^= 1;
        cr_assert_eq(cn_aead_open(m, c, sizeof c, ad, sizeof ad, nonce, k), -EBADMSG);
        cr_assert_eq(cn_aead_open(m, c, CN_AEAD_TAG_BYTES - 1, ad, sizeof ad, nonce, k), -EBADMSG);
}

Test(crypto, pwhash_is_deterministic_and_salted, .init = init) {
        uint8_t a[CN_KEY_BYTES], b[CN_KEY_BYTES], salt[CN_SALT_BYTES] = { 1 };
        cr_assert_eq(cn_pwhash_derive(a, "pw", 2, salt, 1, 8192), 0);
        cr_assert_eq(cn_pwhash_derive(b, "pw", 2, salt, 1, 8192), 0);
        cr_assert_eq(memcmp(a, b, sizeof a), 0);
        salt[0] = 2;
        cr_assert_eq(cn_pwhash_derive(b, "pw", 2, salt, 1, 8192), 0);
        cr_assert_neq(memcmp(a, b, sizeof a), 0);
        cr_assert_eq(cn_pwhash_derive(b, "pw", 2, salt, 0, 8192), -EINVAL);
}

Test(crypto, signatures_verify_and_reject_changes, .init = init) {
        uint8_t pk[CN_SIGN_PUBLIC_BYTES], *sk = cn_secret_new(CN_SIGN_SECRET_BYTES), sig[CN_SIGN_BYTES];
        cr_assert_not_null(sk);
        cn_sign_keypair(pk, sk);
        cn_sign(sig, "certificate", 11, sk);
        cr_assert_eq(cn_sign_verify(sig, "certificate", 11, pk), 0);
        cr_assert_eq(cn_sign_verify(sig, "certificatE", 11, pk), -EBADMSG);
        cn_secret_free(sk);
}

Test(crypto, secrets_are_zeroed_and_compare_in_constant_time, .init = init) {
        uint8_t *s = cn_secret_new(32);
        static const uint8_t zero[32];
        cr_assert_not_null(s);
        cr_assert(cn_memeq(s, zero, 32));
        s[5] = 1;
        cr_assert_not(cn_memeq(s, zero, 32));
        cn_secret_free(s);
        cn_secret_free(NULL);
}

Test(crypto, fast_random_does_not_repeat, .init = init) {
        uint8_t a[32], b[32];
        cn_random_fast(a, sizeof a);
        cn_random_fast(b, sizeof b);
        cr_assert_neq(memcmp(a, b, sizeof a), 0);
        static const uint8_t zero[32];
        cr_assert_neq(memcmp(a, zero, sizeof a), 0);
}
