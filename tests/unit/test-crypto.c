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

/* Feed m to update in pieces of random sizes (a pass of a stream). */
static void feed(void (*update)(void *, const void *, size_t), void *st, const uint8_t *m, size_t n) {
        for (size_t off = 0; off < n;) {
                uint32_t k;
                cn_random(&k, sizeof k);
                k = k % 5000 + 1;
                size_t take = k < n - off ? k : n - off;
                update(st, m + off, take);
                off += take;
        }
}

static void sign_update(void *s, const void *p, size_t n) {
        cn_sign_stream_update(s, p, n);
}
static void verify_update(void *v, const void *p, size_t n) {
        cn_verify_stream_update(v, p, n);
}

static void sha_update(void *h, const void *p, size_t n) {
        cn_sha256_update(h, p, n);
}

static int verify_streamed(const uint8_t *sig, const uint8_t *m, size_t n, const uint8_t *pk) {
        CnVerifyStream *v;
        int r = cn_verify_stream_new(sig, pk, &v);
        if (r < 0)
                return r;
        feed(verify_update, v, m, n);
        r = cn_verify_stream_final(v);
        cn_verify_stream_free(v);
        return r;
}

Test(crypto, streamed_signatures_are_libsodiums, .init = init) {
        uint8_t pk[CN_SIGN_PUBLIC_BYTES], *sk = cn_secret_new(CN_SIGN_SECRET_BYTES);
        static uint8_t m[70000];
        cr_assert_not_null(sk);
        for (int round = 0; round < 40; round++) {
                uint8_t want[CN_SIGN_BYTES], got[CN_SIGN_BYTES];
                uint32_t n;
                cn_sign_keypair(pk, sk);
                cn_random(&n, sizeof n);
                n = round == 0 ? 0 : n % sizeof m;
                cn_random(m, n);
                cn_sign(want, m, n, sk);
                CnSignStream *s;
                cr_assert_eq(cn_sign_stream_new(sk, &s), 0);
                cr_assert_eq(cn_sign_stream_final(s, got), -EINVAL);
                feed(sign_update, s, m, n);
                cr_assert_eq(cn_sign_stream_second(s), 0);
                cr_assert_eq(cn_sign_stream_second(s), -EINVAL);
                feed(sign_update, s, m, n);
                cr_assert_eq(cn_sign_stream_final(s, got), 0);
                cn_sign_stream_free(s);
                cr_assert_eq(memcmp(want, got, sizeof want), 0, "round %d (%u bytes): not libsodium's signature",
                             round, n);
                /* the streamed verifier accepts it, and refuses every change */
                cr_assert_eq(verify_streamed(want, m, n, pk), 0);
                if (n > 0) {
                        m[n / 2] ^= 1;
                        cr_assert_eq(verify_streamed(want, m, n, pk), -EBADMSG);
                        m[n / 2] ^= 1;
                        cr_assert_eq(verify_streamed(want, m, n - 1, pk), -EBADMSG);
                }
                for (size_t bit = 0; bit < 8 * CN_SIGN_BYTES; bit += 61) {
                        want[bit / 8] ^= (uint8_t) (1u << bit % 8);
                        cr_assert_eq(verify_streamed(want, m, n, pk), -EBADMSG, "a signature with bit %zu flipped",
                                     bit);
                        want[bit / 8] ^= (uint8_t) (1u << bit % 8);
                }
                uint8_t other[CN_SIGN_PUBLIC_BYTES];
                memcpy(other, pk, sizeof other);
                other[3] ^= 0x10;
                cr_assert_eq(verify_streamed(want, m, n, other), -EBADMSG);
        }
        /* S + L: the same point, refused as libsodium refuses it */
        uint8_t sig[CN_SIGN_BYTES];
        cn_sign(sig, "x", 1, sk);
        cr_assert_eq(verify_streamed(sig, (const uint8_t *) "x", 1, pk), 0);
        static const uint8_t L[32] = { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                       0xa2, 0xde, 0xf9, 0xde, 0x14, [31] = 0x10 };
        unsigned carry = 0;
        for (int i = 0; i < 32; i++) {
                carry += sig[32 + i] + L[i];
                sig[32 + i] = (uint8_t) carry;
                carry >>= 8;
        }
        cr_assert_eq(cn_sign_verify(sig, "x", 1, pk), -EBADMSG);
        cr_assert_eq(verify_streamed(sig, (const uint8_t *) "x", 1, pk), -EBADMSG);
        cn_secret_free(sk);
}

Test(crypto, streamed_sha256_is_sha256, .init = init) {
        static uint8_t m[100000];
        uint8_t want[CN_ID_BYTES], got[CN_ID_BYTES];
        CnSha256 *h;
        cn_random(m, sizeof m);
        cr_assert_eq(cn_sha256_new(&h), 0);
        for (int round = 0; round < 2; round++) {   /* final begins the next hash */
                cn_sha256(want, m, sizeof m - round);
                feed(sha_update, h, m, sizeof m - round);
                cr_assert_eq(cn_sha256_final(h, got), 0);
                cr_assert_eq(memcmp(want, got, sizeof want), 0);
        }
        cn_sha256_free(h);
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
