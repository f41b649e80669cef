/* SPDX-License-Identifier: GPL-3.0-or-later */
/* cairn's primitives: libsodium, and OpenSSL's SHA-256 for chunk ids
 * (docs/CRYPTO.md is normative).
 *
 * Secrets live in memory from cn_secret_new() (sodium_malloc: guarded,
 * locked, wiped on free). Nothing here logs, prints or touches files. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CN_KEY_BYTES 32                 /* every symmetric key */
#define CN_ID_BYTES 32                  /* chunk and object ids: HMAC-SHA-256 */
#define CN_UUID_BYTES 16                /* repository, processor, controller ids */
#define CN_AEAD_NONCE_BYTES 24          /* XChaCha20-Poly1305-IETF */
#define CN_AEAD_TAG_BYTES 16
#define CN_SALT_BYTES 16                /* Argon2id salt */
#define CN_SIGN_PUBLIC_BYTES 32         /* Ed25519 */
#define CN_SIGN_SECRET_BYTES 64
#define CN_SIGN_BYTES 64
#define CN_KDF_CONTEXT_BYTES 8

int cn_crypto_init(void);               /* once, before anything else; -EIO if libsodium fails */

uint8_t *cn_secret_new(size_t n);       /* zeroed; NULL on ENOMEM */
void cn_secret_free(void *p);           /* NULL-tolerant; wipes */
static inline void cn_secret_freep(uint8_t **p) {
        cn_secret_free(*p);
}
#define _cleanup_secret_ __attribute__((cleanup(cn_secret_freep)))

void cn_random(void *p, size_t n);
/* The same quality from a per-thread generator: ChaCha20 under a 32-byte
 * state that each call replaces ("fast key erasure"), seeded once per
 * thread from the system. One ChaCha20 call instead of a getrandom(2)
 * system call: for the two random values every stored chunk needs. n <= 256. */
void cn_random_fast(void *p, size_t n);
void cn_memzero(void *p, size_t n);
bool cn_memeq(const void *a, const void *b, size_t n);  /* constant time */

/* subkey = BLAKE2b-KDF(key, id, context): crypto_kdf_derive_from_key.
 * out_len in [16, 64]; context exactly 8 bytes. */
int cn_kdf_derive(uint8_t *out, size_t out_len, uint64_t id, const char context[CN_KDF_CONTEXT_BYTES],
                  const uint8_t key[CN_KEY_BYTES]);

/* Argon2id (crypto_pwhash) of a passphrase into a 32-byte key. -ENOMEM when
 * the memory limit cannot be had, -EINVAL for parameters out of range. */
int cn_pwhash_derive(uint8_t out[CN_KEY_BYTES], const char *pw, size_t pw_len,
                     const uint8_t salt[CN_SALT_BYTES], uint64_t opslimit, uint64_t memlimit);

/* Keyed chunk id: HMAC-SHA-256(key, data), computed with OpenSSL's SHA-256
 * (SHA-NI where the CPU has it: about 7x libsodium's portable SHA-256).
 * A hasher holds the key's inner and outer pad states, so each id costs
 * two context copies and the hashing; one hasher serves any number of
 * threads at once. */
typedef struct CnIdHasher CnIdHasher;
int cn_id_hasher_new(const uint8_t key[CN_KEY_BYTES], CnIdHasher **ret);
CnIdHasher *cn_id_hasher_free(CnIdHasher *h);  /* NULL-tolerant; OpenSSL cleanses the states */
void cn_id_hash(const CnIdHasher *h, const void *data, size_t n, uint8_t out[CN_ID_BYTES]);
/* One-shot, for tests and one-off ids. */
void cn_id_hmac(uint8_t out[CN_ID_BYTES], const void *data, size_t n, const uint8_t key[CN_KEY_BYTES]);

/* Plain SHA-256 (OpenSSL): the names of content-named objects (FORMAT.md). */
void cn_sha256(uint8_t out[CN_ID_BYTES], const void *data, size_t n);

/* Plain SHA-256 of a stream (OpenSSL, as cn_sha256()): new, update any
 * number of times, final (which begins the next hash). -ENOMEM; final
 * -EIO if OpenSSL failed on the way. */
typedef struct CnSha256 CnSha256;
int cn_sha256_new(CnSha256 **ret);
void cn_sha256_update(CnSha256 *h, const void *p, size_t n);
int cn_sha256_final(CnSha256 *h, uint8_t out[CN_ID_BYTES]);
CnSha256 *cn_sha256_free(CnSha256 *h);
static inline void cn_sha256_freep(CnSha256 **h) {
        cn_sha256_free(*h);
}

/* XChaCha20-Poly1305-IETF. out has room for n + CN_AEAD_TAG_BYTES; out may equal m. */
void cn_aead_seal(uint8_t *out, const uint8_t *m, size_t n, const uint8_t *ad, size_t ad_len,
                  const uint8_t nonce[CN_AEAD_NONCE_BYTES], const uint8_t key[CN_KEY_BYTES]);
/* c is n bytes including the tag; out gets n - CN_AEAD_TAG_BYTES bytes.
 * -EBADMSG if c, ad, nonce or key do not match. */
int cn_aead_open(uint8_t *out, const uint8_t *c, size_t n, const uint8_t *ad, size_t ad_len,
                 const uint8_t nonce[CN_AEAD_NONCE_BYTES], const uint8_t key[CN_KEY_BYTES]);

/* Ed25519. The secret key is 64 bytes of cn_secret_new() memory. */
void cn_sign_keypair(uint8_t pk[CN_SIGN_PUBLIC_BYTES], uint8_t sk[CN_SIGN_SECRET_BYTES]);
void cn_sign(uint8_t sig[CN_SIGN_BYTES], const void *m, size_t n, const uint8_t sk[CN_SIGN_SECRET_BYTES]);
int cn_sign_verify(const uint8_t sig[CN_SIGN_BYTES], const void *m, size_t n,
                   const uint8_t pk[CN_SIGN_PUBLIC_BYTES]);   /* -EBADMSG on mismatch */

/* Ed25519 of a message too large to hold in memory (an export's
 * manifest): the very signature cn_sign() makes of it (RFC 8032 Ed25519,
 * not the prehashed Ed25519ph), in two passes over the message, which
 * must give the same bytes both times. Signing: new, update with the
 * whole message, second, update with it again, final. Verifying: new,
 * update with the message once, final. Both hold their secrets in
 * cn_secret_new() memory, wiped by free. */
typedef struct CnSignStream CnSignStream;
/* -ENOMEM. */
int cn_sign_stream_new(const uint8_t sk[CN_SIGN_SECRET_BYTES], CnSignStream **ret);
void cn_sign_stream_update(CnSignStream *s, const void *p, size_t n);
/* The first pass is over: the second begins. -EINVAL when called twice. */
int cn_sign_stream_second(CnSignStream *s);
/* -EINVAL before the second pass. */
int cn_sign_stream_final(CnSignStream *s, uint8_t sig[CN_SIGN_BYTES]);
CnSignStream *cn_sign_stream_free(CnSignStream *s);
static inline void cn_sign_stream_freep(CnSignStream **s) {
        cn_sign_stream_free(*s);
}
/* As cn_sign_verify(): -EBADMSG at new for a signature or key that cannot
 * verify anything (a scalar out of range, a point not of the prime-order
 * group), at final for one that does not match. -ENOMEM. */
typedef struct CnVerifyStream CnVerifyStream;
int cn_verify_stream_new(const uint8_t sig[CN_SIGN_BYTES], const uint8_t pk[CN_SIGN_PUBLIC_BYTES],
                         CnVerifyStream **ret);
void cn_verify_stream_update(CnVerifyStream *v, const void *p, size_t n);
int cn_verify_stream_final(CnVerifyStream *v);
CnVerifyStream *cn_verify_stream_free(CnVerifyStream *v);
static inline void cn_verify_stream_freep(CnVerifyStream **v) {
        cn_verify_stream_free(*v);
}
