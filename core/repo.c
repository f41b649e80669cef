/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "repo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope.h"
#include "hex.h"
#include "keystore.h"
#include "macro.h"

const CnKdfParams cn_kdf_default_params = {
        .opslimit = 3,
        .memlimit = 32u << 20,
};

struct CnRepo {
        CnBackend *backend;                     /* borrowed */
        uint8_t *master;                        /* secret */
        uint8_t repo_id[CN_UUID_BYTES];
        uint8_t processor_id[CN_UUID_BYTES];
        char *processor_name;
        uint8_t processor_pk[CN_SIGN_PUBLIC_BYTES];
        uint8_t *processor_sk;                  /* secret */
        char key_id_hex[CN_UUID_HEX + 1];       /* key file in use */
        CnController **controllers;
        size_t n_controllers;
        CnRepoProblem *problems;                /* what the open skipped; objects malloc'd */
        size_t n_problems;
        const CnRepoOpenOptions *opts;          /* borrowed, during cn_repo_open_with() only */
        char *ks_url;                           /* the key store location read (FORMAT.md "Key store") */
        size_t n_keyless;                       /* controllers the key store had no key for */
        size_t n_records;                       /* controllers/ objects listed */
        CnBackend *ks_backend;                  /* opened at the first need */
};

#define KDF_ALG_ARGON2ID13 1
#define ID_ALG_HMAC_SHA256 1
#define COMPRESSION_ZSTD 1

static int64_t now_sec(void) {
        return (int64_t) time(NULL);
}

static void controller_free(CnController *c) {
        if (!c)
                return;
        free(c->name);
        cn_secret_free(c->root);
        cn_secret_free(c->id_key);
        cn_secret_free(c->chunker_key);
        cn_secret_free(c->meta_key);
        cn_secret_free(c->epoch_key);
        cn_secret_free(c->ledger_key);
        cn_secret_free(c->epoch_meta_key);
        cn_keystore_done(c->ks);
        free(c->ks);
        cn_id_hasher_free(c->id_hasher);
        free(c);
}

CnRepo *cn_repo_unref(CnRepo *r) {
        if (!r)
                return NULL;
        cn_secret_free(r->master);
        cn_secret_free(r->processor_sk);
        free(r->processor_name);
        for (size_t i = 0; i < r->n_controllers; i++)
                controller_free(r->controllers[i]);
        free(r->controllers);
        for (size_t i = 0; i < r->n_problems; i++)
                free((char *) r->problems[i].object);
        free(r->problems);
        cn_backend_close(r->ks_backend);
        free(r->ks_url);
        free(r);
        return NULL;
}

CnBackend *cn_repo_backend(CnRepo *r) {
        return r->backend;
}
const uint8_t *cn_repo_id(const CnRepo *r) {
        return r->repo_id;
}
const uint8_t *cn_repo_processor_id(const CnRepo *r) {
        return r->processor_id;
}
const char *cn_repo_processor_name(const CnRepo *r) {
        return r->processor_name;
}
const uint8_t *cn_repo_processor_public_key(const CnRepo *r) {
        return r->processor_pk;
}
const uint8_t *cn_repo_processor_secret_key(const CnRepo *r) {
        return r->processor_sk;
}
int cn_repo_config_key(const CnRepo *r, uint8_t ret[CN_KEY_BYTES]) {
        return cn_kdf_derive(ret, CN_KEY_BYTES, CN_SUBKEY_CONFIG, CN_KDF_CTX_MASTER, r->master);
}
int cn_repo_audit_key(const CnRepo *r, uint8_t ret[CN_KEY_BYTES]) {
        return cn_kdf_derive(ret, CN_KEY_BYTES, CN_SUBKEY_AUDIT, CN_KDF_CTX_MASTER, r->master);
}
size_t cn_repo_n_controllers(const CnRepo *r) {
        return r->n_controllers;
}
CnController *cn_repo_controller(CnRepo *r, size_t i) {
        return i < r->n_controllers ? r->controllers[i] : NULL;
}

CnController *cn_repo_find_controller(CnRepo *r, const char *s) {
        CnController *found = NULL;
        size_t n = strlen(s);
        for (size_t i = 0; i < r->n_controllers; i++)
                if (strcmp(r->controllers[i]->name, s) == 0) {
                        if (found)
                                return NULL;    /* two of that name (two racing 'controller add'): use the id */
                        found = r->controllers[i];
                }
        if (found || n < 4)
                return found;
        for (size_t i = 0; i < r->n_controllers; i++)
                if (strncmp(r->controllers[i]->id_hex, s, n) == 0) {
                        if (found)
                                return NULL;    /* ambiguous */
                        found = r->controllers[i];
                }
        return found;
}

static uint8_t *derive_secret(const uint8_t *key, const char ctx[8], uint64_t id, size_t n) {
        uint8_t *k = cn_secret_new(n);
        if (!k)
                return NULL;
        if (cn_kdf_derive(k, n, id, ctx, key) < 0) {
                cn_secret_free(k);
                return NULL;
        }
        return k;
}

/* ---- key files ---- */

static bool kdf_params_ok(uint64_t opslimit, uint64_t memlimit) {
        return opslimit >= CN_KDF_OPSLIMIT_MIN && opslimit <= CN_KDF_OPSLIMIT_MAX &&
               memlimit >= CN_KDF_MEMLIMIT_MIN && memlimit <= CN_KDF_MEMLIMIT_MAX;
}

/* keyfile = magic "CAIRNKEY" version:u32 kdf:u32 opslimit:u64 memlimit:u64
 *           salt[16] created:i64 label:bytes32 nonce[24]
 *           aead(kek, master[32] repo_id[16]; ad = all before nonce) */
static int keyfile_build(const uint8_t master[CN_KEY_BYTES], const uint8_t repo_id[CN_UUID_BYTES],
                         const char *pw, size_t pw_len, const char *label, const CnKdfParams *kdf, CnBuf *out) {
        _cleanup_secret_ uint8_t *kek = cn_secret_new(CN_KEY_BYTES);
        _cleanup_secret_ uint8_t *plain = cn_secret_new(CN_KEY_BYTES + CN_UUID_BYTES);
        uint8_t salt[CN_SALT_BYTES];
        size_t label_len = label ? strlen(label) : 0;
        int r;

        if (!kdf_params_ok(kdf->opslimit, kdf->memlimit))
                return -ERANGE;
        if (!kek || !plain)
                return -ENOMEM;
        if (label_len > CN_MAX_LABEL_BYTES)
                label_len = CN_MAX_LABEL_BYTES;
        cn_random(salt, sizeof salt);
        r = cn_pwhash_derive(kek, pw, pw_len, salt, kdf->opslimit, kdf->memlimit);
        if (r < 0)
                return r;
        if ((r = cn_buf_append(out, CN_MAGIC_KEYFILE, CN_MAGIC_BYTES)) < 0 ||
            (r = cn_buf_put_u32(out, CN_FORMAT_VERSION)) < 0 ||
            (r = cn_buf_put_u32(out, KDF_ALG_ARGON2ID13)) < 0 ||
            (r = cn_buf_put_u64(out, kdf->opslimit)) < 0 ||
            (r = cn_buf_put_u64(out, kdf->memlimit)) < 0 ||
            (r = cn_buf_append(out, salt, sizeof salt)) < 0 ||
            (r = cn_buf_put_i64(out, now_sec())) < 0 ||
            (r = cn_buf_put_bytes32(out, label, label_len)) < 0)
                return r;
        size_t ad_len = out->len;
        uint8_t *nonce;
        r = cn_buf_grow(out, CN_AEAD_NONCE_BYTES + CN_KEY_BYTES + CN_UUID_BYTES + CN_AEAD_TAG_BYTES, &nonce);
        if (r < 0)
                return r;
        cn_random(nonce, CN_AEAD_NONCE_BYTES);
        memcpy(plain, master, CN_KEY_BYTES);
        memcpy(plain + CN_KEY_BYTES, repo_id, CN_UUID_BYTES);
        cn_aead_seal(nonce + CN_AEAD_NONCE_BYTES, plain, CN_KEY_BYTES + CN_UUID_BYTES, out->data, ad_len, nonce,
                     kek);
        return 0;
}

int cn_keyfile_parse(const uint8_t *p, size_t n, CnKeyfileHeader *h, CnRepoProblem *pb) {
        CnReader rd;
        const uint8_t *m;
        uint32_t version, alg;

        if (n > CN_MAX_KEYFILE_BYTES) {
                *pb = (CnRepoProblem) { .kind = CN_REPO_KEY_OVERSIZED, .size = n };
                return -E2BIG;
        }
        *pb = (CnRepoProblem) { .kind = CN_REPO_KEY_MALFORMED };
        cn_reader_init(&rd, p, n);
        if (cn_reader_peek(&rd, CN_MAGIC_BYTES, &m) < 0 || memcmp(m, CN_MAGIC_KEYFILE, CN_MAGIC_BYTES) != 0 ||
            cn_reader_u32(&rd, &version) < 0)
                return -EBADMSG;
        if (version != CN_FORMAT_VERSION) {
                *pb = (CnRepoProblem) { .kind = CN_REPO_KEY_UNKNOWN_VERSION, .version = version };
                return -EPROTONOSUPPORT;
        }
        if (cn_reader_u32(&rd, &alg) < 0)
                return -EBADMSG;
        if (alg != KDF_ALG_ARGON2ID13) {
                *pb = (CnRepoProblem) { .kind = CN_REPO_KEY_UNKNOWN_VERSION, .version = version, .kdf = alg };
                return -EPROTONOSUPPORT;
        }
        if (cn_reader_u64(&rd, &h->opslimit) < 0 || cn_reader_u64(&rd, &h->memlimit) < 0 ||
            cn_reader_get(&rd, h->salt, CN_SALT_BYTES) < 0 || cn_reader_i64(&rd, &h->created) < 0 ||
            cn_reader_bytes32(&rd, CN_MAX_LABEL_BYTES, &h->label, &h->label_len) < 0)
                return -EBADMSG;
        h->ad_len = n - rd.left;
        if (rd.left != CN_AEAD_NONCE_BYTES + CN_KEY_BYTES + CN_UUID_BYTES + CN_AEAD_TAG_BYTES)
                return -EBADMSG;
        /* Refuse costs an attacker could use to exhaust memory or time. */
        if (!kdf_params_ok(h->opslimit, h->memlimit)) {
                *pb = (CnRepoProblem) { .kind = CN_REPO_KEY_COST, .opslimit = h->opslimit, .memlimit = h->memlimit };
                return -ERANGE;
        }
        return 0;
}

/* -EKEYREJECTED if the passphrase does not open it; -ENOMEM if Argon2 could
 * not have its memory. p must have passed cn_keyfile_parse() into h. */
static int keyfile_open(const uint8_t *p, size_t n, const CnKeyfileHeader *h, const char *pw, size_t pw_len,
                        uint8_t master[CN_KEY_BYTES], uint8_t repo_id[CN_UUID_BYTES]) {
        _cleanup_secret_ uint8_t *kek = cn_secret_new(CN_KEY_BYTES);
        _cleanup_secret_ uint8_t *plain = cn_secret_new(CN_KEY_BYTES + CN_UUID_BYTES);
        int r;

        if (!kek || !plain)
                return -ENOMEM;
        r = cn_pwhash_derive(kek, pw, pw_len, h->salt, h->opslimit, h->memlimit);
        if (r < 0)
                return r;
        const uint8_t *nonce = p + h->ad_len;
        r = cn_aead_open(plain, nonce + CN_AEAD_NONCE_BYTES, n - h->ad_len - CN_AEAD_NONCE_BYTES, p, h->ad_len,
                         nonce, kek);
        if (r < 0)
                return -EKEYREJECTED;
        memcpy(master, plain, CN_KEY_BYTES);
        memcpy(repo_id, plain + CN_KEY_BYTES, CN_UUID_BYTES);
        return 0;
}

/* Put a built key file under a fresh random id. */
static int keyfile_put(CnBackend *b, const CnBuf *kf, char ret_id_hex[CN_UUID_HEX + 1]) {
        uint8_t id[CN_UUID_BYTES];
        char name[8 + CN_UUID_HEX + 1];
        char hex[CN_UUID_HEX + 1];
        int k;

        cn_random(id, sizeof id);
        cn_hex_encode(id, sizeof id, hex);
        snprintf(name, sizeof name, "keys/%s", hex);
        k = cn_backend_put(b, name, kf->data, kf->len, CN_PUT_EXCLUSIVE);
        if (k < 0)
                return k;
        memcpy(ret_id_hex, hex, sizeof hex);
        return 0;
}

static int keyfile_write(CnRepo *r, const char *pw, size_t pw_len, const char *label, const CnKdfParams *kdf,
                         char ret_id_hex[CN_UUID_HEX + 1]) {
        _cleanup_(cn_buf_donep) CnBuf kf = CN_BUF_INIT(CN_MAX_KEYFILE_BYTES);
        int k;

        k = keyfile_build(r->master, r->repo_id, pw, pw_len, label, kdf ? kdf : &cn_kdf_default_params, &kf);
        if (k < 0)
                return k;
        return keyfile_put(r->backend, &kf, ret_id_hex);
}

/* ---- what an open skips ---- */

/* Errors of a get that say nothing about the object, only about the way to
 * it: they end the open instead of skipping one object. */
static bool transport_error(int k) {
        return k == -EAGAIN || k == -EPROTO || k == -ENOMEM || k == -ENOSPC;
}

/* Tell the caller, and keep it for cn_repo_problems() (hint mismatches are
 * not a property of the repository and are not kept). */
static int repo_report(CnRepo *r, const CnRepoProblem *p) {
        if (r->opts && r->opts->on_problem)
                r->opts->on_problem(p, r->opts->userdata);
        if (p->kind == CN_REPO_KEY_HINT_UNMATCHED)
                return 0;
        CnRepoProblem *a = realloc(r->problems, (r->n_problems + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        r->problems = a;
        a[r->n_problems] = *p;
        if (!(a[r->n_problems].object = strdup(p->object)))
                return -ENOMEM;
        r->n_problems++;
        return 0;
}

static int report_read_error(CnRepo *r, CnRepoProblemKind kind, const char *object, int error) {
        CnRepoProblem p = { .kind = kind, .object = object, .error = error };
        return repo_report(r, &p);
}

const CnRepoProblem *cn_repo_problems(const CnRepo *r, size_t *ret_n) {
        *ret_n = r->n_problems;
        return r->problems;
}

/* ---- choosing key files ---- */

typedef struct KeyCandidate {
        const char *name;               /* borrowed from the listing */
        uint64_t cost;                  /* opslimit x memlimit: at most 2^34 */
        bool hinted;
} KeyCandidate;

static int candidate_cmp(const void *a, const void *b) {
        const KeyCandidate *x = a, *y = b;
        if (x->hinted != y->hinted)
                return x->hinted ? -1 : 1;
        if (x->cost != y->cost)
                return x->cost < y->cost ? -1 : 1;
        return strcmp(x->name, y->name);
}

static bool key_name_ok(const char *name) {
        uint8_t id[CN_UUID_BYTES];
        const char *hex = name + strlen("keys/");
        if (strlen(hex) != CN_UUID_HEX || cn_hex_decode(hex, id, sizeof id) < 0)
                return false;
        for (const char *c = hex; *c; c++)
                if (*c >= 'A' && *c <= 'F')
                        return false;
        return true;
}

/* Get and parse one key file: 0 and h filled, 1 when it was skipped (and
 * reported), < 0 to end the open. */
static int key_load(CnRepo *r, const char *name, CnBuf *kf, CnKeyfileHeader *h) {
        CnRepoProblem pb;
        uint64_t size = 0;
        int k;

        if (!key_name_ok(name)) {
                pb = (CnRepoProblem) { .kind = CN_REPO_KEY_MALFORMED, .object = name, .error = -EINVAL };
                k = repo_report(r, &pb);
                return k < 0 ? k : 1;
        }
        k = cn_backend_get(r->backend, name, 0, CN_GET_ALL, kf);
        if (k == -ENOENT)
                return 1;               /* removed since the listing */
        if (k == -E2BIG) {
                (void) cn_backend_stat(r->backend, name, &size);
                pb = (CnRepoProblem) { .kind = CN_REPO_KEY_OVERSIZED, .object = name, .size = size };
                k = repo_report(r, &pb);
                return k < 0 ? k : 1;
        }
        if (k < 0 && transport_error(k))
                return k;
        if (k < 0) {
                k = report_read_error(r, CN_REPO_KEY_UNREADABLE, name, k);
                return k < 0 ? k : 1;
        }
        if (cn_keyfile_parse(kf->data, kf->len, h, &pb) < 0) {
                pb.object = name;
                k = repo_report(r, &pb);
                return k < 0 ? k : 1;
        }
        return 0;
}

/* The usable key files of r, in the order to try them; the others are
 * reported. *ret is malloc'd; names are borrowed from keys. */
static int key_candidates(CnRepo *r, const CnNames *keys, KeyCandidate **ret, size_t *ret_n) {
        _cleanup_(cn_buf_donep) CnBuf kf = CN_BUF_INIT(CN_MAX_KEYFILE_BYTES);
        _cleanup_free_ KeyCandidate *c = calloc(keys->n ? keys->n : 1, sizeof *c);
        const char *hint = r->opts ? r->opts->key_hint : NULL;
        size_t n = 0, hint_matches = 0;
        int k;

        if (!c)
                return -ENOMEM;
        for (size_t i = 0; i < keys->n; i++) {
                const char *id = keys->v[i] + strlen("keys/");
                bool hinted = hint && *hint && strncmp(id, hint, strlen(hint)) == 0;
                CnKeyfileHeader h;
                hint_matches += hinted;
                k = key_load(r, keys->v[i], &kf, &h);
                if (k < 0)
                        return k;
                if (k > 0)
                        continue;
                c[n++] = (KeyCandidate) { .name = keys->v[i], .cost = h.opslimit * h.memlimit, .hinted = hinted };
        }
        if (hint && hint_matches != 1) {
                /* None, or a prefix of several: try them all in the usual order. */
                CnRepoProblem pb = { .kind = CN_REPO_KEY_HINT_UNMATCHED, .object = hint, .size = hint_matches };
                k = repo_report(r, &pb);
                if (k < 0)
                        return k;
                for (size_t i = 0; i < n; i++)
                        c[i].hinted = false;
        }
        qsort(c, n, sizeof *c, candidate_cmp);
        *ret = TAKE_PTR(c);
        *ret_n = n;
        return 0;
}

/* ---- config ---- */

static int config_seal(CnRepo *r, CnBuf *out) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT_SECRET(4096);
        _cleanup_secret_ uint8_t *key = derive_secret(r->master, CN_KDF_CTX_MASTER, CN_SUBKEY_CONFIG, CN_KEY_BYTES);
        CnEnvelopeHeader h = {};
        int k;

        if (!key)
                return -ENOMEM;
        if ((k = cn_buf_reserve(&body, 1024)) < 0 ||
            (k = cn_buf_append(&body, r->repo_id, CN_UUID_BYTES)) < 0 ||
            (k = cn_buf_put_bytes32(&body, r->processor_name, strlen(r->processor_name))) < 0 ||
            (k = cn_buf_append(&body, r->processor_pk, CN_SIGN_PUBLIC_BYTES)) < 0 ||
            (k = cn_buf_append(&body, r->processor_sk, CN_SIGN_SECRET_BYTES)) < 0 ||
            (k = cn_buf_put_i64(&body, now_sec())) < 0)
                return k;
        memcpy(h.processor, r->processor_id, CN_UUID_BYTES);
        return cn_envelope_seal(out, CN_MAGIC_CONFIG, &h, key, body.data, body.len);
}

int cn_config_body_decode(const uint8_t *p, size_t n, uint8_t ret_repo_id[CN_UUID_BYTES], char **ret_name,
                          uint8_t ret_pk[CN_SIGN_PUBLIC_BYTES], uint8_t ret_sk[CN_SIGN_SECRET_BYTES]) {
        CnReader rd;
        const uint8_t *id, *name, *pk, *sk;
        size_t name_len;
        int64_t created;

        cn_reader_init(&rd, p, n);
        if (cn_reader_peek(&rd, CN_UUID_BYTES, &id) < 0 ||
            cn_reader_bytes32(&rd, CN_MAX_LABEL_BYTES, &name, &name_len) < 0 ||
            cn_reader_peek(&rd, CN_SIGN_PUBLIC_BYTES, &pk) < 0 || cn_reader_peek(&rd, CN_SIGN_SECRET_BYTES, &sk) < 0 ||
            cn_reader_i64(&rd, &created) < 0)
                return -EBADMSG;
        char *s = strndup((const char *) name, name_len);
        if (!s)
                return -ENOMEM;
        memcpy(ret_repo_id, id, CN_UUID_BYTES);
        memcpy(ret_pk, pk, CN_SIGN_PUBLIC_BYTES);
        memcpy(ret_sk, sk, CN_SIGN_SECRET_BYTES);
        *ret_name = s;
        return 0;
}

static int config_open(CnRepo *r, const uint8_t *p, size_t n) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT_SECRET(4096);
        _cleanup_secret_ uint8_t *key = derive_secret(r->master, CN_KDF_CTX_MASTER, CN_SUBKEY_CONFIG, CN_KEY_BYTES);
        _cleanup_free_ char *name = NULL;
        CnEnvelopeHeader h;
        uint8_t repo_id[CN_UUID_BYTES];
        int k;

        if (!key)
                return -ENOMEM;
        k = cn_envelope_open(p, n, CN_MAGIC_CONFIG, key, &h, &body);
        if (k < 0)
                return k;
        k = cn_config_body_decode(body.data, body.len, repo_id, &name, r->processor_pk, r->processor_sk);
        if (k < 0)
                return k;
        if (!cn_memeq(repo_id, r->repo_id, CN_UUID_BYTES))
                return -EBADMSG;        /* a key file of another repository */
        memcpy(r->processor_id, h.processor, CN_UUID_BYTES);
        r->processor_name = TAKE_PTR(name);
        return 0;
}

/* ---- controllers ---- */

/* The key store location, opened at the first need (created by writers). */
static int keystore_backend(CnRepo *r, CnBackend **ret) {
        if (!r->ks_backend) {
                if (!r->ks_url)
                        return -ENOKEY;
                int k = cn_backend_open(r->ks_url, true, &r->ks_backend);
                if (k < 0)
                        return k;
        }
        *ret = r->ks_backend;
        return 0;
}

/* c->ledger_key and c->epoch_meta_key for its current epoch key. */
static int controller_derive_epoch(CnController *c) {
        cn_secret_free(c->ledger_key);
        cn_secret_free(c->epoch_meta_key);
        if (c->format == 1) {
                c->ledger_key = cn_secret_new(CN_KEY_BYTES);
                c->epoch_meta_key = cn_secret_new(CN_KEY_BYTES);
                if (!c->ledger_key || !c->epoch_meta_key)
                        return -ENOMEM;
                memcpy(c->ledger_key, c->epoch_key, CN_KEY_BYTES);
                memcpy(c->epoch_meta_key, c->meta_key, CN_KEY_BYTES);
                return 0;
        }
        c->ledger_key = derive_secret(c->epoch_key, CN_KDF_CTX_EPOCH, CN_SUBKEY_LEDGER, CN_KEY_BYTES);
        c->epoch_meta_key = derive_secret(c->epoch_key, CN_KDF_CTX_EPOCH, CN_SUBKEY_EPOCH_METADATA, CN_KEY_BYTES);
        return c->ledger_key && c->epoch_meta_key ? 0 : -ENOMEM;
}

static int controller_derive(CnController *c) {
        c->id_key = derive_secret(c->root, CN_KDF_CTX_DOMAIN, CN_SUBKEY_CHUNK_ID, CN_KEY_BYTES);
        c->chunker_key = derive_secret(c->root, CN_KDF_CTX_DOMAIN, CN_SUBKEY_CHUNKER, CN_KEY_BYTES);
        c->meta_key = derive_secret(c->root, CN_KDF_CTX_DOMAIN, CN_SUBKEY_METADATA, CN_KEY_BYTES);
        if (!c->id_key || !c->chunker_key || !c->meta_key)
                return -ENOMEM;
        int r = cn_id_hasher_new(c->id_key, &c->id_hasher);
        if (r < 0)
                return r;
        cn_hex_encode(c->id, CN_UUID_BYTES, c->id_hex);
        return controller_derive_epoch(c);
}

static int controller_body(const CnController *c, CnBuf *body) {
        int k;
        if ((k = cn_buf_reserve(body, 2048)) < 0 || (k = cn_buf_put_bytes32(body, c->name, strlen(c->name))) < 0 ||
            (k = cn_buf_put_i64(body, c->created)) < 0 || (k = cn_buf_append(body, c->root, CN_KEY_BYTES)) < 0 ||
            (k = cn_buf_put_u8(body, ID_ALG_HMAC_SHA256)) < 0 ||
            (k = cn_buf_put_u32(body, c->chunker.min_size)) < 0 ||
            (k = cn_buf_put_u32(body, c->chunker.avg_size)) < 0 ||
            (k = cn_buf_put_u32(body, c->chunker.max_size)) < 0 || (k = cn_buf_put_u8(body, COMPRESSION_ZSTD)) < 0)
                return k;
        if (c->format == 2)
                return 0;
        if ((k = cn_buf_put_u32(body, c->epoch)) < 0 || (k = cn_buf_append(body, c->epoch_key, CN_KEY_BYTES)) < 0)
                return k;
        return 0;
}

/* controllers/<id>: version 1 under the controller-wrap key, version 2
 * under the record key of epoch (whose key is epoch_key). */
static int controller_seal(CnRepo *r, const CnController *c, uint32_t epoch, const uint8_t *epoch_key, CnBuf *out) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT_SECRET(4096);
        _cleanup_secret_ uint8_t *key =
                c->format == 1 ? derive_secret(r->master, CN_KDF_CTX_MASTER, CN_SUBKEY_CONTROLLER_WRAP, CN_KEY_BYTES)
                               : derive_secret(epoch_key, CN_KDF_CTX_EPOCH, CN_SUBKEY_RECORD, CN_KEY_BYTES);
        CnEnvelopeHeader h = { .version = (uint32_t) c->format, .epoch = c->format == 1 ? 0 : epoch };
        int k;

        if (!key)
                return -ENOMEM;
        k = controller_body(c, &body);
        if (k < 0)
                return k;
        memcpy(h.processor, r->processor_id, CN_UUID_BYTES);
        memcpy(h.controller, c->id, CN_UUID_BYTES);
        return cn_envelope_seal(out, CN_MAGIC_CONTROLLER, &h, key, body.data, body.len);
}

int cn_controller_body_decode(const uint8_t *p, size_t n, uint32_t version, CnController *c) {
        CnReader rd;
        const uint8_t *name, *root, *epoch_key = NULL;
        size_t name_len;
        uint8_t id_alg, compression;
        CnController v = {};

        cn_reader_init(&rd, p, n);
        if (cn_reader_bytes32(&rd, CN_MAX_LABEL_BYTES, &name, &name_len) < 0 || name_len == 0 ||
            memchr(name, '\0', name_len) || cn_reader_i64(&rd, &v.created) < 0 ||
            cn_reader_peek(&rd, CN_KEY_BYTES, &root) < 0 || cn_reader_u8(&rd, &id_alg) < 0 ||
            cn_reader_u32(&rd, &v.chunker.min_size) < 0 || cn_reader_u32(&rd, &v.chunker.avg_size) < 0 ||
            cn_reader_u32(&rd, &v.chunker.max_size) < 0 || cn_reader_u8(&rd, &compression) < 0 ||
            id_alg != ID_ALG_HMAC_SHA256 || compression != COMPRESSION_ZSTD ||
            cn_chunker_params_check(&v.chunker) < 0)
                return -EBADMSG;
        if (version == 1 && (cn_reader_u32(&rd, &v.epoch) < 0 || v.epoch == 0 ||
                             cn_reader_peek(&rd, CN_KEY_BYTES, &epoch_key) < 0))
                return -EBADMSG;
        if ((version != 1 && version != 2) || rd.left != 0)
                return -EBADMSG;
        char *s = strndup((const char *) name, name_len);
        if (!s)
                return -ENOMEM;
        c->name = s;
        c->created = v.created;
        c->chunker = v.chunker;
        c->format = (int) version;
        memcpy(c->root, root, CN_KEY_BYTES);
        if (epoch_key) {
                c->epoch = v.epoch;
                memcpy(c->epoch_key, epoch_key, CN_KEY_BYTES);
        }
        return 0;
}

/* A version 2 record's epoch key, from the key store: -ENOKEY none there
 * (the object is absent, damaged, another repository's, or lacks the
 * epoch: the controller was erased, or this is not its key store). */
static int controller_epoch_key(CnRepo *r, const uint8_t id[CN_UUID_BYTES], uint32_t epoch, CnKeyStore **ret_ks) {
        _cleanup_secret_ uint8_t *ks_key = derive_secret(r->master, CN_KDF_CTX_MASTER, CN_SUBKEY_KEYSTORE, CN_KEY_BYTES);
        CnBackend *b;
        CnKeyStore *ks;
        int k;

        if (!ks_key)
                return -ENOMEM;
        k = keystore_backend(r, &b);
        if (k < 0)
                return k == -ENOMEM ? k : -ENOKEY;
        ks = calloc(1, sizeof *ks);
        if (!ks)
                return -ENOMEM;
        k = cn_keystore_init(ks, r->repo_id, id);
        if (k >= 0)
                k = cn_keystore_read(b, ks_key, r->processor_id, ks);
        /* Read where it does not say it is kept (a moved or copied key
         * store): that location is one from now on, so that an erasure
         * destroys the old key there too. */
        if (k >= 0 && r->ks_url && cn_keystore_add_location(ks, r->ks_url) == -E2BIG)
                k = -EBADMSG;
        if (k >= 0 && !cn_keystore_key(ks, epoch))
                k = -ENOKEY;
        if (k < 0) {
                cn_keystore_done(ks);
                free(ks);
                return k == -ENOENT || k == -EBADMSG ? -ENOKEY : k;
        }
        *ret_ks = ks;
        return 0;
}

static int controller_open(CnRepo *r, const uint8_t *p, size_t n, CnController **ret) {
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT_SECRET(4096);
        _cleanup_secret_ uint8_t *key = NULL;
        CnKeyStore *ks = NULL;
        CnEnvelopeHeader h;
        int k;

        k = cn_envelope_peek(p, n, CN_MAGIC_CONTROLLER, &h);
        if (k < 0)
                return k;
        if (h.version == 1) {
                key = derive_secret(r->master, CN_KDF_CTX_MASTER, CN_SUBKEY_CONTROLLER_WRAP, CN_KEY_BYTES);
        } else {
                if (h.epoch == 0)
                        return -EBADMSG;
                k = controller_epoch_key(r, h.controller, h.epoch, &ks);
                if (k < 0)
                        return k;
                key = derive_secret(cn_keystore_key(ks, h.epoch), CN_KDF_CTX_EPOCH, CN_SUBKEY_RECORD, CN_KEY_BYTES);
        }
        CnController *c = calloc(1, sizeof *c);
        if (!c || !key) {
                free(c);
                cn_keystore_done(ks);
                free(ks);
                return -ENOMEM;
        }
        c->ks = ks;
        k = cn_envelope_open(p, n, CN_MAGIC_CONTROLLER, key, &h, &body);
        if (k >= 0 && !cn_memeq(h.processor, r->processor_id, CN_UUID_BYTES))
                k = -EBADMSG;
        memcpy(c->id, h.controller, CN_UUID_BYTES);
        c->root = cn_secret_new(CN_KEY_BYTES);
        c->epoch_key = cn_secret_new(CN_KEY_BYTES);
        if (k >= 0 && (!c->root || !c->epoch_key))
                k = -ENOMEM;
        if (k >= 0)
                k = cn_controller_body_decode(body.data, body.len, h.version, c);
        if (k >= 0 && h.version == 2) {
                c->epoch = h.epoch;
                memcpy(c->epoch_key, cn_keystore_key(ks, h.epoch), CN_KEY_BYTES);
        }
        if (k >= 0)
                k = controller_derive(c);
        if (k < 0) {
                controller_free(c);
                return k;
        }
        *ret = c;
        return 0;
}

static int repo_add_controller(CnRepo *r, CnController *c) {
        CnController **a = realloc(r->controllers, (r->n_controllers + 1) * sizeof *a);
        if (!a)
                return -ENOMEM;
        r->controllers = a;
        a[r->n_controllers++] = c;
        return 0;
}

static void repo_remove_controller(CnRepo *r, CnController *c) {
        for (size_t i = 0; i < r->n_controllers; i++)
                if (r->controllers[i] == c) {
                        memmove(r->controllers + i, r->controllers + i + 1,
                                (r->n_controllers - i - 1) * sizeof *r->controllers);
                        r->n_controllers--;
                        return;
                }
}

/* The backend of key store location url: the repository's own (*own NULL)
 * or one opened for the call (*own, to close). */
static int location_backend(CnRepo *r, const char *url, bool create, CnBackend **ret, CnBackend **own) {
        *own = NULL;
        if (r->ks_url && strcmp(url, r->ks_url) == 0)
                return keystore_backend(r, ret);
        int k = cn_backend_open(url, create, own);
        *ret = *own;
        return k;
}

/* Put c's key store object at every location it lists, one generation
 * newer. Each location's result goes to fn; returns how many did not take
 * it (0: all did), or < 0 when none could be tried. */
static int keystore_put_all(CnRepo *r, CnController *c, CnKeyStoreStatusFn fn, void *userdata) {
        _cleanup_secret_ uint8_t *ks_key = derive_secret(r->master, CN_KDF_CTX_MASTER, CN_SUBKEY_KEYSTORE, CN_KEY_BYTES);
        unsigned failed = 0;

        if (!ks_key)
                return -ENOMEM;
        c->ks->generation++;
        for (size_t i = 0; i < c->ks->n_locations; i++) {
                const char *url = c->ks->locations[i];
                CnBackend *b, *own;
                int k = location_backend(r, url, true, &b, &own);
                if (k >= 0)
                        k = cn_keystore_write(b, ks_key, r->processor_id, c->ks);
                cn_backend_close(own);
                if (k == -ENOMEM)
                        return k;
                if (k < 0)
                        failed++;
                if (fn)
                        fn(url, k, userdata);
        }
        return (int) failed;
}

/* Remove c's key store object at every location it lists (fn as above). */
static int keystore_remove_all(CnRepo *r, CnController *c, CnKeyStoreStatusFn fn, void *userdata) {
        char name[CN_KEYSTORE_NAME_MAX];
        unsigned failed = 0;

        cn_keystore_name(r->repo_id, c->id, name);
        for (size_t i = 0; i < c->ks->n_locations; i++) {
                const char *url = c->ks->locations[i];
                CnBackend *b, *own;
                int k = location_backend(r, url, false, &b, &own);
                if (k >= 0)
                        k = cn_backend_remove(b, name);
                if (k == -ENOENT)
                        k = 0;
                cn_backend_close(own);
                if (k < 0)
                        failed++;
                if (fn)
                        fn(url, k, userdata);
        }
        return (int) failed;
}

/* Derive c's keys, put its key store object (version 2), seal it, put
 * controllers/<id> (exclusive) and add it to r. On failure c is freed and
 * what was put removed. */
static int controller_store(CnRepo *r, CnController *c, CnController **ret) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        char path[16 + CN_UUID_HEX];
        bool ks_put = false;
        int k;

        k = controller_derive(c);
        if (k < 0)
                goto fail;
        if (c->format == 2) {
                k = keystore_put_all(r, c, NULL, NULL);
                if (k != 0) {
                        k = k < 0 ? k : -EIO;
                        goto fail;
                }
                ks_put = true;
        }
        k = controller_seal(r, c, c->epoch, c->epoch_key, &obj);
        if (k < 0)
                goto fail;
        snprintf(path, sizeof path, "controllers/%s", c->id_hex);
        k = cn_backend_put(r->backend, path, obj.data, obj.len, CN_PUT_EXCLUSIVE);
        if (k < 0)
                goto fail;
        k = repo_add_controller(r, c);
        if (k < 0) {
                (void) cn_backend_remove(r->backend, path);
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        if (ks_put)
                (void) keystore_remove_all(r, c, NULL, NULL);
        controller_free(c);
        return k;
}

/* A controller of name whose key store (version 2) names this
 * repository's location and holds epoch with epoch_key. */
static CnController *controller_new(CnRepo *r, const char *name, const uint8_t id[CN_UUID_BYTES], int format,
                                    uint32_t epoch, const uint8_t epoch_key[CN_KEY_BYTES]) {
        CnController *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        memcpy(c->id, id, CN_UUID_BYTES);
        c->format = format;
        c->epoch = epoch;
        c->name = strdup(name);
        c->root = cn_secret_new(CN_KEY_BYTES);
        c->epoch_key = cn_secret_new(CN_KEY_BYTES);
        if (!c->name || !c->root || !c->epoch_key)
                goto fail;
        memcpy(c->epoch_key, epoch_key, CN_KEY_BYTES);
        if (format == 2) {
                if (!r->ks_url || !(c->ks = calloc(1, sizeof *c->ks)) ||
                    cn_keystore_init(c->ks, r->repo_id, c->id) < 0 ||
                    cn_keystore_add_location(c->ks, r->ks_url) < 0 || cn_keystore_add_key(c->ks, epoch, epoch_key) < 0)
                        goto fail;
        }
        return c;
fail:
        controller_free(c);
        return NULL;
}

static int controller_create(CnRepo *r, const char *name, const CnChunkerParams *params, CnController **ret) {
        _cleanup_secret_ uint8_t *epoch_key = cn_secret_new(CN_KEY_BYTES);
        uint8_t id[CN_UUID_BYTES];
        if (!epoch_key)
                return -ENOMEM;
        if (!r->ks_url)
                return -ENOKEY;
        cn_random(id, CN_UUID_BYTES);
        cn_random(epoch_key, CN_KEY_BYTES);
        CnController *c = controller_new(r, name, id, 2, 1, epoch_key);
        if (!c)
                return -ENOMEM;
        cn_random(c->root, CN_KEY_BYTES);
        c->created = now_sec();
        c->chunker = *params;
        return controller_store(r, c, ret);
}

int cn_repo_controller_import(CnRepo *r, const CnController *from, CnController **ret) {
        for (size_t i = 0; i < r->n_controllers; i++)
                if (memcmp(r->controllers[i]->id, from->id, CN_UUID_BYTES) == 0)
                        return -EEXIST;
        if (from->format == 2 && !r->ks_url)
                return -ENOKEY;
        CnController *c = controller_new(r, from->name, from->id, from->format, from->epoch, from->epoch_key);
        if (!c)
                return -ENOMEM;
        memcpy(c->root, from->root, CN_KEY_BYTES);
        c->created = from->created;
        c->chunker = from->chunker;
        return controller_store(r, c, ret);
}

bool cn_repo_same_processor(const CnRepo *a, const CnRepo *b) {
        /* All three: a processor that reuses an id with another key pair is another processor. */
        return cn_memeq(a->processor_id, b->processor_id, CN_UUID_BYTES) &&
               cn_memeq(a->processor_pk, b->processor_pk, CN_SIGN_PUBLIC_BYTES) &&
               cn_memeq(a->processor_sk, b->processor_sk, CN_SIGN_SECRET_BYTES);
}

int cn_repo_replica_controller(CnRepo *r, const CnController *c, CnController **ret) {
        for (size_t i = 0; i < r->n_controllers; i++) {
                CnController *d = r->controllers[i];
                if (memcmp(d->id, c->id, CN_UUID_BYTES) != 0)
                        continue;
                /* Constant time: what is compared is key material. */
                bool same_root = cn_memeq(d->root, c->root, CN_KEY_BYTES);
                if (!same_root || memcmp(&d->chunker, &c->chunker, sizeof d->chunker) != 0 || d->format != c->format)
                        return -EXDEV;
                if (d->epoch != c->epoch)
                        return -EKEYEXPIRED;
                if (!cn_memeq(d->epoch_key, c->epoch_key, CN_KEY_BYTES))
                        return -EXDEV;
                *ret = d;
                return 0;
        }
        return -ENOENT;
}

/* ---- key store locations ---- */

int cn_repo_key_store_add(CnRepo *r, const char *url, CnKeyStoreStatusFn fn, void *userdata) {
        int failed = 0;
        for (size_t i = 0; i < r->n_controllers; i++) {
                CnController *c = r->controllers[i];
                if (c->format != 2)
                        continue;
                int k = cn_keystore_add_location(c->ks, url);
                if (k < 0)
                        return k;
                k = keystore_put_all(r, c, fn, userdata);
                if (k < 0)
                        return k;
                failed += k;
        }
        return failed;
}

int cn_repo_key_store_remove(CnRepo *r, const char *url, CnKeyStoreStatusFn fn, void *userdata) {
        char name[CN_KEYSTORE_NAME_MAX];
        int failed = 0;
        for (size_t i = 0; i < r->n_controllers; i++) {
                CnController *c = r->controllers[i];
                size_t at = SIZE_MAX;
                for (size_t j = 0; c->format == 2 && j < c->ks->n_locations; j++)
                        if (strcmp(c->ks->locations[j], url) == 0)
                                at = j;
                if (at == SIZE_MAX)
                        continue;
                if (c->ks->n_locations == 1)
                        return -ENOTEMPTY;      /* the last one: the keys would be nowhere */
                /* The copy there goes first: a copy left behind would keep
                 * keys a later erasure destroys everywhere else. */
                CnBackend *b, *own;
                int k = location_backend(r, url, false, &b, &own);
                cn_keystore_name(r->repo_id, c->id, name);
                if (k >= 0)
                        k = cn_backend_remove(b, name);
                cn_backend_close(own);
                if (k < 0 && k != -ENOENT)
                        return k;
                free(c->ks->locations[at]);
                memmove(c->ks->locations + at, c->ks->locations + at + 1,
                        (c->ks->n_locations - at - 1) * sizeof *c->ks->locations);
                c->ks->n_locations--;
                k = keystore_put_all(r, c, fn, userdata);
                if (k < 0)
                        return k;
                failed += k;
        }
        return failed;
}

/* ---- objects of a controller (docs/FORMAT.md "Envelope") ---- */

typedef enum KeyClass {
        KEY_META,               /* the domain root's metadata key, epoch 0 */
        KEY_LEDGER,             /* v1: the record's epoch key; v2: the ledger key of the epoch */
        KEY_EPOCH_META,         /* v2: the epoch metadata key of the epoch */
        KEY_NONE,               /* not sealed under a controller key (v2 index files: the pack key) */
} KeyClass;

static KeyClass key_class(const CnController *c, const char magic[CN_MAGIC_BYTES]) {
        if (memcmp(magic, CN_MAGIC_LEDGER, CN_MAGIC_BYTES) == 0)
                return KEY_LEDGER;
        if (c->format == 1)
                return KEY_META;
        if (memcmp(magic, CN_MAGIC_SNAPSHOT, CN_MAGIC_BYTES) == 0 ||
            memcmp(magic, CN_MAGIC_DAMAGE, CN_MAGIC_BYTES) == 0 || memcmp(magic, CN_MAGIC_PLAN, CN_MAGIC_BYTES) == 0 ||
            memcmp(magic, CN_MAGIC_ERASURE, CN_MAGIC_BYTES) == 0)
                return KEY_EPOCH_META;
        if (memcmp(magic, CN_MAGIC_INDEX, CN_MAGIC_BYTES) == 0)
                return KEY_NONE;
        return KEY_META;
}

uint32_t cn_controller_object_version(const CnController *c, const char magic[CN_MAGIC_BYTES]) {
        if (c->format == 2)
                return cn_envelope_version(magic);
        if (memcmp(magic, CN_MAGIC_SNAPSHOT, CN_MAGIC_BYTES) == 0)
                return 2;
        return 1;
}

bool cn_controller_object_version_ok(const CnController *c, const char magic[CN_MAGIC_BYTES], uint32_t version) {
        uint32_t newest = cn_controller_object_version(c, magic);
        /* Snapshots of version 1 controllers: 1 (cairn 0.1) and 2. */
        if (c->format == 1 && memcmp(magic, CN_MAGIC_SNAPSHOT, CN_MAGIC_BYTES) == 0)
                return version >= 1 && version <= newest;
        if (c->format == 1 && memcmp(magic, CN_MAGIC_ERASURE, CN_MAGIC_BYTES) == 0)
                return false;
        return version == newest;
}

/* The key that seals c's objects of class at epoch: into out (secret,
 * CN_KEY_BYTES). -ENOKEY when that epoch's key is not held. */
static int object_key(const CnController *c, KeyClass class, uint32_t epoch, uint8_t *out) {
        switch (class) {
        case KEY_META:
                if (epoch != 0)
                        return -EBADMSG;
                memcpy(out, c->meta_key, CN_KEY_BYTES);
                return 0;
        case KEY_LEDGER:
        case KEY_EPOCH_META:
                if (epoch == c->epoch) {
                        memcpy(out, class == KEY_LEDGER ? c->ledger_key : c->epoch_meta_key, CN_KEY_BYTES);
                        return 0;
                }
                if (c->format == 1 || epoch == 0)
                        return c->format == 1 && class == KEY_LEDGER ? -ENOKEY : -EBADMSG;
                const uint8_t *k = cn_keystore_key(c->ks, epoch);
                if (!k)
                        return -ENOKEY;
                return cn_kdf_derive(out, CN_KEY_BYTES,
                                     class == KEY_LEDGER ? CN_SUBKEY_LEDGER : CN_SUBKEY_EPOCH_METADATA,
                                     CN_KDF_CTX_EPOCH, k);
        case KEY_NONE:
                break;
        }
        return -EINVAL;
}

int cn_controller_seal_at(const CnRepo *r, const CnController *c, const char magic[CN_MAGIC_BYTES], uint32_t epoch,
                          const void *body, size_t n, CnBuf *out) {
        _cleanup_secret_ uint8_t *key = cn_secret_new(CN_KEY_BYTES);
        KeyClass class = key_class(c, magic);
        CnEnvelopeHeader h = { .version = cn_controller_object_version(c, magic) };
        int k;

        if (!key)
                return -ENOMEM;
        if (class == KEY_META)
                epoch = 0;
        h.epoch = epoch;
        k = object_key(c, class, epoch, key);
        if (k < 0)
                return k;
        memcpy(h.processor, r->processor_id, CN_UUID_BYTES);
        memcpy(h.controller, c->id, CN_UUID_BYTES);
        return cn_envelope_seal(out, magic, &h, key, body, n);
}

int cn_controller_seal(const CnRepo *r, const CnController *c, const char magic[CN_MAGIC_BYTES], const void *body,
                       size_t n, CnBuf *out) {
        return cn_controller_seal_at(r, c, magic, c->epoch, body, n, out);
}

int cn_controller_open(const CnRepo *r, const CnController *c, const char magic[CN_MAGIC_BYTES], const uint8_t *p,
                       size_t n, CnEnvelopeHeader *ret_header, CnBuf *out) {
        _cleanup_secret_ uint8_t *key = cn_secret_new(CN_KEY_BYTES);
        CnEnvelopeHeader h;
        int k;

        if (!key)
                return -ENOMEM;
        k = cn_envelope_peek(p, n, magic, &h);
        if (k < 0)
                return k;
        if (!cn_controller_object_version_ok(c, magic, h.version))
                return -EPROTONOSUPPORT;
        if (memcmp(h.controller, c->id, CN_UUID_BYTES) != 0 || !cn_memeq(h.processor, r->processor_id, CN_UUID_BYTES))
                return -EBADMSG;
        k = object_key(c, key_class(c, magic), h.epoch, key);
        if (k < 0)
                return k;
        k = cn_envelope_open(p, n, magic, key, &h, out);
        if (k < 0)
                return k;
        if (ret_header)
                *ret_header = h;
        return 0;
}

/* ---- epochs (docs/FORMAT.md "Erasure") ---- */

uint32_t cn_controller_next_epoch(const CnController *c) {
        for (size_t i = 0; c->format == 2 && i < c->ks->n_keys; i++)
                if (c->ks->epochs[i] > c->epoch)
                        return c->ks->epochs[i];
        return 0;
}

int cn_repo_epoch_add(CnRepo *r, CnController *c, uint32_t epoch, const uint8_t *key, CnKeyStoreStatusFn fn,
                      void *userdata) {
        _cleanup_secret_ uint8_t *fresh = cn_secret_new(CN_KEY_BYTES);
        if (!fresh)
                return -ENOMEM;
        if (c->format != 2)
                return -EOPNOTSUPP;
        if (!cn_controller_next_epoch(c)) {
                if (!key) {
                        cn_random(fresh, CN_KEY_BYTES);
                        key = fresh;
                        epoch = c->epoch + 1;
                }
                if (epoch <= c->epoch)
                        return -EINVAL;
                int k = cn_keystore_add_key(c->ks, epoch, key);
                if (k < 0)
                        return k;
        }
        return keystore_put_all(r, c, fn, userdata);
}

int cn_repo_epoch_switch(CnRepo *r, CnController *c) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        char path[16 + CN_UUID_HEX];
        uint32_t next = cn_controller_next_epoch(c);
        const uint8_t *key = next ? cn_keystore_key(c->ks, next) : NULL;
        int k;

        if (!key)
                return -ENOKEY;
        k = controller_seal(r, c, next, key, &obj);
        if (k < 0)
                return k;
        snprintf(path, sizeof path, "controllers/%s", c->id_hex);
        k = cn_backend_put(r->backend, path, obj.data, obj.len, 0);
        if (k < 0)
                return k;
        c->epoch = next;
        memcpy(c->epoch_key, key, CN_KEY_BYTES);
        return controller_derive_epoch(c);
}

int cn_repo_epoch_drop(CnRepo *r, CnController *c, CnKeyStoreStatusFn fn, void *userdata) {
        if (c->format != 2)
                return -EOPNOTSUPP;
        cn_keystore_keep_only(c->ks, c->epoch);
        return keystore_put_all(r, c, fn, userdata);
}

int cn_repo_controller_destroy(CnRepo *r, CnController *c, CnKeyStoreStatusFn fn, void *userdata) {
        char path[16 + CN_UUID_HEX];
        if (c->format != 2)
                return -EOPNOTSUPP;
        snprintf(path, sizeof path, "controllers/%s", c->id_hex);
        int k = cn_backend_remove(r->backend, path);
        if (k < 0 && k != -ENOENT)
                return k;
        k = keystore_remove_all(r, c, fn, userdata);
        if (k < 0)
                return k;
        repo_remove_controller(r, c);
        controller_free(c);
        return k;
}

/* Every controller record that opens under this repository's master key;
 * the others (damaged, left by an init that lost a race, planted) are
 * reported and skipped. In order of id: the listing is sorted. */
static int load_controllers(CnRepo *r) {
        _cleanup_(cn_names_done) CnNames l = {};
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        int k;

        k = cn_backend_list_names(r->backend, "controllers/", &l);
        if (k < 0)
                return k;
        r->n_records = l.n;
        for (size_t i = 0; i < l.n; i++) {
                CnController *c;
                k = cn_backend_get(r->backend, l.v[i], 0, CN_GET_ALL, &obj);
                if (k == -ENOENT)
                        continue;
                if (k < 0 && transport_error(k))
                        return k;
                if (k < 0) {
                        k = report_read_error(r, CN_REPO_CONTROLLER_UNREADABLE, l.v[i], k);
                        if (k < 0)
                                return k;
                        continue;
                }
                k = controller_open(r, obj.data, obj.len, &c);
                if (k == -ENOMEM)
                        return k;
                if (k == -ENOKEY) {
                        CnRepoProblem pb = { .kind = CN_REPO_CONTROLLER_NO_KEY, .object = l.v[i], .error = k,
                                             .url = r->ks_url };
                        r->n_keyless++;
                        k = repo_report(r, &pb);
                        if (k < 0)
                                return k;
                        continue;
                }
                /* A record copied under another controller's name is not that controller. */
                if (k >= 0 && strcmp(l.v[i] + strlen("controllers/"), c->id_hex) != 0) {
                        controller_free(c);
                        k = -EBADMSG;
                }
                if (k < 0) {
                        k = report_read_error(r, CN_REPO_CONTROLLER_FOREIGN, l.v[i], k);
                        if (k < 0)
                                return k;
                        continue;
                }
                k = repo_add_controller(r, c);
                if (k < 0) {
                        controller_free(c);
                        return k;
                }
        }
        return 0;
}

static CnRepo *repo_new(CnBackend *b, const char *key_store) {
        CnRepo *r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        r->backend = b;
        r->master = cn_secret_new(CN_KEY_BYTES);
        r->processor_sk = cn_secret_new(CN_SIGN_SECRET_BYTES);
        /* No location at all (no $HOME for a non-root user): version 1
         * controllers still open; version 2 ones report it. */
        r->ks_url = key_store ? strdup(key_store) : cn_keystore_default_location();
        if (!r->master || !r->processor_sk || (key_store && !r->ks_url))
                return cn_repo_unref(r);
        return r;
}

const char *cn_repo_key_store(const CnRepo *r) {
        return r->ks_url;
}

/* ---- what a location holds ---- */

const char *const cn_repo_prefixes[CN_REPO_N_PREFIXES] = {
        "keys/", "controllers/", "data/", "ledger/", "index/", "snapshots/",
};

static int first_object_fn(const char *name, uint64_t size, void *u) {
        char **ret = u;
        (void) size;
        *ret = strdup(name);
        return *ret ? -ECANCELED : -ENOMEM;
}

/* The first object under prefix in *ret (NULL if none): a listing that
 * stops at its first name, however large the location. */
static int first_object(CnBackend *b, const char *prefix, char **ret) {
        char *name = NULL;
        int k = cn_backend_list(b, prefix, first_object_fn, &name);
        if (k < 0 && k != -ECANCELED) {
                free(name);
                return k;
        }
        *ret = name;
        return 0;
}

void cn_repo_location_done(CnRepoLocation *l) {
        for (size_t i = 0; i < CN_REPO_N_PREFIXES; i++)
                free(l->first[i]);
        free(l->any);
        *l = (CnRepoLocation) {};
}

int cn_repo_probe(CnBackend *b, CnRepoLocation *ret) {
        _cleanup_(cn_repo_location_done) CnRepoLocation l = {};
        uint64_t size;
        int k;

        /* The location may fill while we look (another init at work): each
         * step counts what an earlier one saw, so "empty" means no listing
         * saw anything. */
        k = cn_backend_stat(b, "config", &size);
        if (k < 0 && k != -ENOENT)
                return k;
        l.config = k >= 0;
        k = first_object(b, "", &l.any);
        if (k < 0)
                return k;
        if (l.any && strcmp(l.any, "config") == 0)
                l.config = true;
        for (size_t i = 0; i < CN_REPO_N_PREFIXES; i++) {
                const char *prefix = cn_repo_prefixes[i];
                if (l.any && strncmp(l.any, prefix, strlen(prefix)) == 0) {
                        if (!(l.first[i] = strdup(l.any)))
                                return -ENOMEM;
                        continue;
                }
                k = first_object(b, prefix, &l.first[i]);
                if (k < 0)
                        return k;
                if (l.first[i] && !l.any && !(l.any = strdup(l.first[i])))
                        return -ENOMEM;
        }
        *ret = l;
        l = (CnRepoLocation) {};
        return 0;
}

/* ---- init ---- */

/* How long init waits for another init's config to appear when it finds
 * only key files and controller records (what an init writes before its
 * config): 30 looks 100 ms apart. */
#define INIT_RACE_POLLS 30
#define INIT_RACE_POLL_NS 100000000L

/* 0 if b is empty; -EEXIST a repository is there; -EBUSY another init is
 * creating one right now; -ENOTEMPTY anything else is there. */
static int init_location_check(CnBackend *b) {
        _cleanup_(cn_repo_location_done) CnRepoLocation l = {};
        uint64_t size;
        int k;

        k = cn_repo_probe(b, &l);
        if (k < 0)
                return k;
        if (l.config)
                return -EEXIST;
        if (!l.any)
                return 0;
        for (size_t i = 2; i < CN_REPO_N_PREFIXES; i++)
                if (l.first[i])
                        return -ENOTEMPTY;      /* data: a repository that lost its config */
        if (!l.first[0] && !l.first[1])
                return -ENOTEMPTY;              /* not cairn's */
        for (int i = 0; i < INIT_RACE_POLLS; i++) {
                struct timespec t = { .tv_nsec = INIT_RACE_POLL_NS };
                nanosleep(&t, NULL);
                k = cn_backend_stat(b, "config", &size);
                if (k >= 0)
                        return -EBUSY;
                if (k != -ENOENT)
                        return k;
        }
        return -ENOTEMPTY;      /* a crashed init's leftovers, or a repository that lost its config */
}

/* Undo what a failed init wrote (best effort: an open skips what is left):
 * its key file and every controller record it put. */
static void init_undo(CnRepo *r, const char *key_id_hex) {
        char name[16 + CN_UUID_HEX];
        if (key_id_hex && *key_id_hex) {
                snprintf(name, sizeof name, "keys/%s", key_id_hex);
                (void) cn_backend_remove(r->backend, name);
        }
        for (size_t i = 0; i < r->n_controllers; i++) {
                snprintf(name, sizeof name, "controllers/%s", r->controllers[i]->id_hex);
                (void) cn_backend_remove(r->backend, name);
                if (r->controllers[i]->format == 2)
                        (void) keystore_remove_all(r, r->controllers[i], NULL, NULL);
        }
}

/* Create a repository: a fresh processor and one new controller, or (src
 * given) src's processor and every one of its controllers. */
static int repo_create(CnBackend *b, const char *pw, size_t pw_len, const CnRepoInitOptions *o, const CnRepo *src,
                       CnRepo **ret) {
        _cleanup_(cn_repo_unrefp) CnRepo *r = NULL;
        _cleanup_(cn_buf_donep) CnBuf cfg = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf back = CN_BUF_INIT(CN_MAX_META_BYTES);
        _cleanup_(cn_buf_donep) CnBuf kf = CN_BUF_INIT(CN_MAX_KEYFILE_BYTES);
        CnController *c = NULL;
        int k;

        const CnChunkerParams *params = o->chunker.avg_size ? &o->chunker : &cn_chunker_default_params;
        k = cn_chunker_params_check(params);
        if (k < 0)
                return k;
        const CnKdfParams *kdf = o->kdf.opslimit || o->kdf.memlimit ? &o->kdf : &cn_kdf_default_params;
        if (!kdf_params_ok(kdf->opslimit, kdf->memlimit))
                return -ERANGE;
        k = init_location_check(b);
        if (k < 0)
                return k;
        r = repo_new(b, o->key_store);
        if (!r)
                return -ENOMEM;
        cn_random(r->master, CN_KEY_BYTES);
        cn_random(r->repo_id, CN_UUID_BYTES);
        if (src) {
                memcpy(r->processor_id, src->processor_id, CN_UUID_BYTES);
                memcpy(r->processor_pk, src->processor_pk, CN_SIGN_PUBLIC_BYTES);
                memcpy(r->processor_sk, src->processor_sk, CN_SIGN_SECRET_BYTES);
                r->processor_name = strdup(src->processor_name);
        } else {
                cn_random(r->processor_id, CN_UUID_BYTES);
                cn_sign_keypair(r->processor_pk, r->processor_sk);
                r->processor_name = strdup(o->processor_name ? o->processor_name : "cairn");
        }
        if (!r->processor_name)
                return -ENOMEM;
        k = keyfile_build(r->master, r->repo_id, pw, pw_len, o->key_label, kdf, &kf);
        if (k < 0)
                return k;
        /* Look again, as close to the writes as can be: empty before the
         * key derivation, a repository now is another init's. */
        k = init_location_check(b);
        if (k == -EEXIST)
                k = -EBUSY;
        if (k < 0)
                return k;

        /* The key file first: a config nobody can open would be worse than none. */
        k = keyfile_put(b, &kf, r->key_id_hex);
        if (k < 0)
                return k;
        if (src)
                for (size_t i = 0; k >= 0 && i < src->n_controllers; i++)
                        k = cn_repo_controller_import(r, src->controllers[i], &c);
        else
                k = controller_create(r, o->controller_name ? o->controller_name : "default", params, &c);
        if (k >= 0)
                k = config_seal(r, &cfg);
        if (k < 0) {
                init_undo(r, r->key_id_hex);
                return k;
        }
        /* config last, and exclusive: its presence is what makes the location a
         * repository, and of two inits racing here exactly one puts it. */
        k = cn_backend_put(b, "config", cfg.data, cfg.len, CN_PUT_EXCLUSIVE);
        if (k == -EEXIST) {
                init_undo(r, r->key_id_hex);
                return -EBUSY;
        }
        /* Read it back: where puts cannot be exclusive the config that stayed is
         * the one that won, and a put that failed late may have landed. */
        int kb = cn_backend_get(b, "config", 0, CN_GET_ALL, &back);
        bool ours = kb >= 0 && back.len == cfg.len && memcmp(back.data, cfg.data, cfg.len) == 0;
        if (kb >= 0 && !ours) {
                init_undo(r, r->key_id_hex);
                return -EBUSY;
        }
        if (!ours && k < 0) {
                if (kb == -ENOENT)
                        init_undo(r, r->key_id_hex);
                return k;
        }
        *ret = TAKE_PTR(r);
        return 0;
}

int cn_repo_init(CnBackend *b, const char *pw, size_t pw_len, const CnRepoInitOptions *o, CnRepo **ret) {
        return repo_create(b, pw, pw_len, o, NULL, ret);
}

int cn_repo_init_replica(CnBackend *b, const char *pw, size_t pw_len, const CnRepo *src, const CnRepoInitOptions *o,
                         CnRepo **ret) {
        return repo_create(b, pw, pw_len, o, src, ret);
}

/* ---- open ---- */

/* Try the key files in turn until one gives a master key that opens
 * config. A key file that opens with the passphrase but not config belongs
 * to another repository (an init that lost a race, a plant): it is
 * reported once another key has opened config; if none does, config itself
 * is damaged (-EBADMSG). */
static int open_with_keys(CnRepo *r, const char *pw, size_t pw_len, const CnBuf *config) {
        _cleanup_(cn_names_done) CnNames keys = {};
        _cleanup_(cn_names_done) CnNames foreign = {};
        _cleanup_(cn_buf_donep) CnBuf kf = CN_BUF_INIT(CN_MAX_KEYFILE_BYTES);
        _cleanup_free_ KeyCandidate *c = NULL;
        size_t n = 0;
        bool starved = false;
        int k;

        k = cn_backend_list_names(r->backend, "keys/", &keys);
        if (k < 0)
                return k;
        k = key_candidates(r, &keys, &c, &n);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++) {
                CnKeyfileHeader h;
                /* Read and check again: it may have changed since the scan. */
                k = key_load(r, c[i].name, &kf, &h);
                if (k < 0)
                        return k;
                if (k > 0)
                        continue;
                k = keyfile_open(kf.data, kf.len, &h, pw, pw_len, r->master, r->repo_id);
                if (k == -EKEYREJECTED)
                        continue;
                if (k < 0) {    /* Argon2 could not have its memory: try the others */
                        starved = true;
                        k = report_read_error(r, CN_REPO_KEY_UNREADABLE, c[i].name, k);
                        if (k < 0)
                                return k;
                        continue;
                }
                k = config_open(r, config->data, config->len);
                if (k == -EBADMSG) {
                        k = cn_names_add(&foreign, c[i].name);
                        if (k < 0)
                                return k;
                        continue;
                }
                if (k < 0)
                        return k;
                snprintf(r->key_id_hex, sizeof r->key_id_hex, "%s", c[i].name + strlen("keys/"));
                for (size_t j = 0; j < foreign.n; j++) {
                        CnRepoProblem pb = { .kind = CN_REPO_KEY_OTHER_REPOSITORY, .object = foreign.v[j] };
                        k = repo_report(r, &pb);
                        if (k < 0)
                                return k;
                }
                return 0;
        }
        /* A key Argon2 could not try may be the one: not a wrong password. */
        return foreign.n ? -EBADMSG : starved ? -ENOMEM : -EKEYREJECTED;
}

int cn_repo_open_with(CnBackend *b, const char *pw, size_t pw_len, const CnRepoOpenOptions *o, CnRepo **ret) {
        _cleanup_(cn_repo_unrefp) CnRepo *r = NULL;
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_META_BYTES);
        CnEnvelopeHeader h;
        int k;

        k = cn_backend_get(b, "config", 0, CN_GET_ALL, &obj);
        if (k == -ENOENT) {
                /* Nothing here, or a repository that lost its config: never the same answer. */
                _cleanup_free_ char *any = NULL;
                k = first_object(b, "", &any);
                return k < 0 ? k : any ? -EUCLEAN : -ENOENT;
        }
        if (k < 0)
                return k;
        k = cn_envelope_peek(obj.data, obj.len, CN_MAGIC_CONFIG, &h);
        if (k < 0)
                return k;
        r = repo_new(b, o ? o->key_store : NULL);
        if (!r)
                return -ENOMEM;
        r->opts = o;
        k = open_with_keys(r, pw, pw_len, &obj);
        if (k < 0)
                return k;
        k = load_controllers(r);
        if (k < 0)
                return k;
        /* None at all (every one erased) is a repository still, whose
         * certificates outlive them; none that opens of several is not. */
        if (r->n_controllers == 0 && r->n_records > 0)
                return r->n_keyless ? -ENOKEY : -EBADMSG;
        r->opts = NULL;
        *ret = TAKE_PTR(r);
        return 0;
}

int cn_repo_open(CnBackend *b, const char *pw, size_t pw_len, CnRepo **ret) {
        return cn_repo_open_with(b, pw, pw_len, NULL, ret);
}

int cn_repo_controller_add(CnRepo *r, const char *name, const CnChunkerParams *params, CnController **ret) {
        if (!params)
                params = &cn_chunker_default_params;
        int k = cn_chunker_params_check(params);
        if (k < 0)
                return k;
        if (!*name || strlen(name) > CN_MAX_LABEL_BYTES)
                return -EINVAL;
        for (size_t i = 0; i < r->n_controllers; i++)
                if (strcmp(r->controllers[i]->name, name) == 0)
                        return -EEXIST;
        return controller_create(r, name, params, ret);
}

int cn_repo_key_add(CnRepo *r, const char *pw, size_t pw_len, const char *label, const CnKdfParams *kdf,
                    char ret_id_hex[CN_UUID_HEX + 1]) {
        return keyfile_write(r, pw, pw_len, label, kdf, ret_id_hex);
}

void cn_key_info_free_array(CnKeyInfo *k, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(k[i].label);
        free(k);
}

int cn_repo_key_list(CnRepo *r, CnKeyInfo **ret, size_t *ret_n) {
        _cleanup_(cn_names_done) CnNames keys = {};
        _cleanup_(cn_buf_donep) CnBuf kf = CN_BUF_INIT(CN_MAX_KEYFILE_BYTES);
        CnKeyInfo *a = NULL;
        size_t n = 0;
        int k;

        k = cn_backend_list_names(r->backend, "keys/", &keys);
        if (k < 0)
                return k;
        a = calloc(keys.n ? keys.n : 1, sizeof *a);
        if (!a)
                return -ENOMEM;
        for (size_t i = 0; i < keys.n; i++) {
                CnKeyfileHeader h;
                CnRepoProblem pb;
                const char *id = keys.v[i] + strlen("keys/");
                k = cn_backend_get(r->backend, keys.v[i], 0, CN_GET_ALL, &kf);
                if (k < 0 && transport_error(k))
                        goto fail;
                /* Unusable ones were reported by the open, and check names them. */
                if (k < 0 || !key_name_ok(keys.v[i]) || cn_keyfile_parse(kf.data, kf.len, &h, &pb) < 0)
                        continue;
                memcpy(a[n].id_hex, id, CN_UUID_HEX + 1);
                a[n].label = strndup((const char *) h.label, h.label_len);
                if (!a[n].label) {
                        k = -ENOMEM;
                        goto fail;
                }
                a[n].created = h.created;
                a[n].current = strcmp(id, r->key_id_hex) == 0;
                n++;
        }
        *ret = a;
        *ret_n = n;
        return 0;
fail:
        cn_key_info_free_array(a, n);
        return k;
}

int cn_repo_key_remove(CnRepo *r, const char *id_hex) {
        char name[CN_BACKEND_NAME_MAX + 1];
        /* Any name under keys/, so a bad key file an open skips can go too. */
        if (!*id_hex || strchr(id_hex, '/') || strlen(id_hex) > CN_BACKEND_NAME_MAX - strlen("keys/"))
                return -ENOENT;
        if (strcmp(id_hex, r->key_id_hex) == 0)
                return -EBUSY;
        snprintf(name, sizeof name, "keys/%s", id_hex);
        if (!cn_backend_name_valid(name))
                return -ENOENT;
        return cn_backend_remove(r->backend, name);
}

int cn_repo_key_passwd(CnRepo *r, const char *pw, size_t pw_len, const CnKdfParams *kdf) {
        char id[CN_UUID_HEX + 1], name[8 + CN_UUID_HEX + 1];
        _cleanup_free_ char *label = NULL;
        CnKeyInfo *keys = NULL;
        size_t n = 0;
        int k;

        k = cn_repo_key_list(r, &keys, &n);
        if (k < 0)
                return k;
        for (size_t i = 0; i < n; i++)
                if (keys[i].current)
                        label = strdup(keys[i].label);
        cn_key_info_free_array(keys, n);
        /* The new key lands before the old one goes: a crash leaves two keys, never none. */
        k = keyfile_write(r, pw, pw_len, label, kdf, id);
        if (k < 0)
                return k;
        snprintf(name, sizeof name, "keys/%s", r->key_id_hex);
        memcpy(r->key_id_hex, id, sizeof id);
        return cn_backend_remove(r->backend, name);
}
