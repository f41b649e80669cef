/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "crypto.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int cn_crypto_init(void) {
        uint8_t out[32];
        unsigned len;
        /* OpenSSL sets itself up on first use, and one whose set-up ran out
         * of memory may crash later (its default context then holds a NULL
         * lock): so first use is here, at start, and every later call finds
         * it done. (tests/alloc-fail counts allocations from sodium_init():
         * what fails in OpenSSL's own set-up is OpenSSL's to handle.) */
        if (!OPENSSL_init_crypto(0, NULL) || !EVP_Digest("", 0, out, &len, EVP_sha256(), NULL))
                return -ENOMEM;
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

static __thread uint8_t fast_state[randombytes_SEEDBYTES];
static __thread bool fast_seeded;

void cn_random_fast(void *p, size_t n) {
        uint8_t out[randombytes_SEEDBYTES + 256];
        if (n > 256)
                abort();
        if (!fast_seeded) {
                randombytes_buf(fast_state, sizeof fast_state);
                fast_seeded = true;
        }
        randombytes_buf_deterministic(out, randombytes_SEEDBYTES + n, fast_state);
        memcpy(fast_state, out, randombytes_SEEDBYTES);        /* the old state is gone */
        memcpy(p, out + randombytes_SEEDBYTES, n);
        sodium_memzero(out, sizeof out);
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

struct CnIdHasher {
        EVP_MD_CTX *inner;      /* SHA-256 state after (key ^ ipad) */
        EVP_MD_CTX *outer;      /* SHA-256 state after (key ^ opad) */
        uint8_t key[CN_KEY_BYTES]; /* for libsodium's HMAC when OpenSSL has no memory */
};

CnIdHasher *cn_id_hasher_free(CnIdHasher *h) {
        if (!h)
                return NULL;
        EVP_MD_CTX_free(h->inner);
        EVP_MD_CTX_free(h->outer);
        sodium_memzero(h->key, sizeof h->key);
        free(h);
        return NULL;
}

int cn_id_hasher_new(const uint8_t key[CN_KEY_BYTES], CnIdHasher **ret) {
        uint8_t pad[64];
        CnIdHasher *h = calloc(1, sizeof *h);
        if (!h)
                return -ENOMEM;
        h->inner = EVP_MD_CTX_new();
        h->outer = EVP_MD_CTX_new();
        if (!h->inner || !h->outer) {
                cn_id_hasher_free(h);
                return -ENOMEM;
        }
        memcpy(h->key, key, CN_KEY_BYTES);
        /* RFC 2104 with a 32-byte key: the key, zero-padded to the 64-byte block. */
        memset(pad, 0x36, sizeof pad);
        for (size_t i = 0; i < CN_KEY_BYTES; i++)
                pad[i] ^= key[i];
        int ok = EVP_DigestInit_ex(h->inner, EVP_sha256(), NULL) && EVP_DigestUpdate(h->inner, pad, sizeof pad);
        memset(pad, 0x5c, sizeof pad);
        for (size_t i = 0; i < CN_KEY_BYTES; i++)
                pad[i] ^= key[i];
        ok = ok && EVP_DigestInit_ex(h->outer, EVP_sha256(), NULL) && EVP_DigestUpdate(h->outer, pad, sizeof pad);
        sodium_memzero(pad, sizeof pad);
        if (!ok) {
                cn_id_hasher_free(h);
                return -EIO;
        }
        *ret = h;
        return 0;
}

/* One working context per thread: no allocation per id. */
static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;

static void ctx_free(void *p) {
        EVP_MD_CTX_free(p);
}

static void ctx_key_init(void) {
        if (pthread_key_create(&ctx_key, ctx_free) != 0)
                abort();
}

/* NULL without memory for one: callers then hash with libsodium, which
 * needs none (the same function, more slowly), so hashing never fails. */
static EVP_MD_CTX *thread_ctx(void) {
        pthread_once(&ctx_once, ctx_key_init);
        EVP_MD_CTX *c = pthread_getspecific(ctx_key);
        if (!c) {
                c = EVP_MD_CTX_new();
                if (c && pthread_setspecific(ctx_key, c) != 0) {
                        EVP_MD_CTX_free(c);
                        c = NULL;
                }
        }
        return c;
}

void cn_id_hash(const CnIdHasher *h, const void *data, size_t n, uint8_t out[CN_ID_BYTES]) {
        EVP_MD_CTX *c = thread_ctx();
        uint8_t inner[32];
        /* OpenSSL for its speed (SHA-NI); libsodium, which allocates
         * nothing, when OpenSSL fails (no memory for a context). */
        if (!c || !EVP_MD_CTX_copy_ex(c, h->inner) || !EVP_DigestUpdate(c, data, n) ||
            !EVP_DigestFinal_ex(c, inner, NULL) || !EVP_MD_CTX_copy_ex(c, h->outer) ||
            !EVP_DigestUpdate(c, inner, sizeof inner) || !EVP_DigestFinal_ex(c, out, NULL))
                cn_id_hmac(out, data, n, h->key);
}

void cn_id_hmac(uint8_t out[CN_ID_BYTES], const void *data, size_t n, const uint8_t key[CN_KEY_BYTES]) {
        crypto_auth_hmacsha256(out, data, n, key);
}

void cn_sha256(uint8_t out[CN_ID_BYTES], const void *data, size_t n) {
        EVP_MD_CTX *c = thread_ctx();
        if (!c || !EVP_DigestInit_ex(c, EVP_sha256(), NULL) || !EVP_DigestUpdate(c, data, n) ||
            !EVP_DigestFinal_ex(c, out, NULL))
                crypto_hash_sha256(out, data, n);
}

struct CnSha256 {
        EVP_MD_CTX *ctx;
        bool failed;
};

int cn_sha256_new(CnSha256 **ret) {
        CnSha256 *h = calloc(1, sizeof *h);
        if (!h || !(h->ctx = EVP_MD_CTX_new())) {
                free(h);
                return -ENOMEM;
        }
        h->failed = !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
        *ret = h;
        return 0;
}

void cn_sha256_update(CnSha256 *h, const void *p, size_t n) {
        if (!h->failed && n > 0 && !EVP_DigestUpdate(h->ctx, p, n))
                h->failed = true;
}

int cn_sha256_final(CnSha256 *h, uint8_t out[CN_ID_BYTES]) {
        bool failed = h->failed || !EVP_DigestFinal_ex(h->ctx, out, NULL);
        h->failed = !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
        return failed ? -EIO : 0;
}

CnSha256 *cn_sha256_free(CnSha256 *h) {
        if (h) {
                EVP_MD_CTX_free(h->ctx);
                free(h);
        }
        return NULL;
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

/* ---- Ed25519 in two passes ----
 *
 * RFC 8032 section 5.1.6, as libsodium's crypto_sign_ed25519_detached():
 * az = SHA-512(seed), a = az[0..32] clamped, r = SHA-512(az[32..64] || M)
 * mod L, R = rB, k = SHA-512(R || A || M) mod L, S = (r + k a) mod L,
 * signature R || S. The message is hashed twice, once for r and once for
 * k, so it need never be held whole: the caller feeds it once per pass.
 * Verification checks SB = R + kA after libsodium's own checks (S < L; A
 * and R canonical points of the prime-order group, not of small order). */

struct CnSignStream {
        crypto_hash_sha512_state h;
        uint8_t *secret;                /* az (64), r (32): cn_secret_new() */
        uint8_t pk[CN_SIGN_PUBLIC_BYTES];
        uint8_t R[32];
        int pass;                       /* 1 or 2 */
};

int cn_sign_stream_new(const uint8_t sk[CN_SIGN_SECRET_BYTES], CnSignStream **ret) {
        CnSignStream *s = calloc(1, sizeof *s);
        if (!s || !(s->secret = cn_secret_new(96))) {
                free(s);
                return -ENOMEM;
        }
        uint8_t *az = s->secret;
        crypto_hash_sha512(az, sk, 32);
        az[0] &= 248;
        az[31] &= 127;
        az[31] |= 64;
        memcpy(s->pk, sk + 32, CN_SIGN_PUBLIC_BYTES);
        crypto_hash_sha512_init(&s->h);
        crypto_hash_sha512_update(&s->h, az + 32, 32);
        s->pass = 1;
        *ret = s;
        return 0;
}

void cn_sign_stream_update(CnSignStream *s, const void *p, size_t n) {
        crypto_hash_sha512_update(&s->h, p, n);
}

int cn_sign_stream_second(CnSignStream *s) {
        uint8_t nonce[64];
        uint8_t *r = s->secret + 64;
        if (s->pass != 1)
                return -EINVAL;
        crypto_hash_sha512_final(&s->h, nonce);
        crypto_core_ed25519_scalar_reduce(r, nonce);
        sodium_memzero(nonce, sizeof nonce);
        /* r is 0 with probability 2^-252: it would be refused here */
        if (crypto_scalarmult_ed25519_base_noclamp(s->R, r) != 0)
                return -EINVAL;
        crypto_hash_sha512_init(&s->h);
        crypto_hash_sha512_update(&s->h, s->R, 32);
        crypto_hash_sha512_update(&s->h, s->pk, 32);
        s->pass = 2;
        return 0;
}

int cn_sign_stream_final(CnSignStream *s, uint8_t sig[CN_SIGN_BYTES]) {
        uint8_t hram[64], k[32], a[64] = {}, t[32];
        if (s->pass != 2)
                return -EINVAL;
        crypto_hash_sha512_final(&s->h, hram);
        crypto_core_ed25519_scalar_reduce(k, hram);
        memcpy(a, s->secret, 32);       /* a mod L: the product below takes reduced scalars */
        crypto_core_ed25519_scalar_reduce(a, a);
        crypto_core_ed25519_scalar_mul(t, k, a);
        memcpy(sig, s->R, 32);
        crypto_core_ed25519_scalar_add(sig + 32, t, s->secret + 64);
        sodium_memzero(a, sizeof a);
        sodium_memzero(t, sizeof t);
        s->pass = 0;
        return 0;
}

CnSignStream *cn_sign_stream_free(CnSignStream *s) {
        if (s) {
                cn_secret_free(s->secret);
                sodium_memzero(&s->h, sizeof s->h);
                free(s);
        }
        return NULL;
}

struct CnVerifyStream {
        crypto_hash_sha512_state h;
        uint8_t sig[CN_SIGN_BYTES];
        uint8_t pk[CN_SIGN_PUBLIC_BYTES];
};

/* s < L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
static bool scalar_canonical(const uint8_t s[32]) {
        static const uint8_t L[32] = { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7,
                                       0xa2, 0xde, 0xf9, 0xde, 0x14, 0,    0,    0,    0,    0,    0,
                                       0,    0,    0,    0,    0,    0,    0,    0,    0,    0x10 };
        for (int i = 31; i >= 0; i--)
                if (s[i] != L[i])
                        return s[i] < L[i];
        return false;
}

int cn_verify_stream_new(const uint8_t sig[CN_SIGN_BYTES], const uint8_t pk[CN_SIGN_PUBLIC_BYTES],
                         CnVerifyStream **ret) {
        if (!scalar_canonical(sig + 32) || !crypto_core_ed25519_is_valid_point(sig) ||
            !crypto_core_ed25519_is_valid_point(pk))
                return -EBADMSG;
        CnVerifyStream *v = calloc(1, sizeof *v);
        if (!v)
                return -ENOMEM;
        memcpy(v->sig, sig, CN_SIGN_BYTES);
        memcpy(v->pk, pk, CN_SIGN_PUBLIC_BYTES);
        crypto_hash_sha512_init(&v->h);
        crypto_hash_sha512_update(&v->h, sig, 32);
        crypto_hash_sha512_update(&v->h, pk, 32);
        *ret = v;
        return 0;
}

void cn_verify_stream_update(CnVerifyStream *v, const void *p, size_t n) {
        crypto_hash_sha512_update(&v->h, p, n);
}

int cn_verify_stream_final(CnVerifyStream *v) {
        uint8_t hram[64], k[32], sb[32], ka[32], sum[32];
        crypto_hash_sha512_final(&v->h, hram);
        crypto_core_ed25519_scalar_reduce(k, hram);
        if (crypto_scalarmult_ed25519_base_noclamp(sb, v->sig + 32) != 0 ||
            crypto_scalarmult_ed25519_noclamp(ka, k, v->pk) != 0 || crypto_core_ed25519_add(sum, v->sig, ka) != 0)
                return -EBADMSG;
        return sodium_memcmp(sum, sb, 32) == 0 ? 0 : -EBADMSG;
}

CnVerifyStream *cn_verify_stream_free(CnVerifyStream *v) {
        free(v);
        return NULL;
}
