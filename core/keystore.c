/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "keystore.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "hex.h"
#include "macro.h"

int cn_keystore_init(CnKeyStore *ks, const uint8_t repo_id[CN_UUID_BYTES], const uint8_t ctrl[CN_UUID_BYTES]) {
        *ks = (CnKeyStore) {};
        memcpy(ks->repo_id, repo_id, CN_UUID_BYTES);
        memcpy(ks->controller, ctrl, CN_UUID_BYTES);
        ks->keys = cn_secret_new(CN_KEYSTORE_MAX_KEYS * CN_KEY_BYTES);
        return ks->keys ? 0 : -ENOMEM;
}

static void locations_clear(CnKeyStore *ks) {
        for (size_t i = 0; i < ks->n_locations; i++)
                free(ks->locations[i]);
        ks->n_locations = 0;
}

void cn_keystore_done(CnKeyStore *ks) {
        if (!ks)
                return;
        locations_clear(ks);
        cn_secret_free(ks->keys);
        *ks = (CnKeyStore) {};
}

int cn_keystore_copy(CnKeyStore *dst, const CnKeyStore *src) {
        int r = cn_keystore_init(dst, src->repo_id, src->controller);
        if (r < 0)
                return r;
        dst->generation = src->generation;
        for (size_t i = 0; r >= 0 && i < src->n_locations; i++)
                r = cn_keystore_add_location(dst, src->locations[i]);
        for (size_t i = 0; r >= 0 && i < src->n_keys; i++)
                r = cn_keystore_add_key(dst, src->epochs[i], src->keys + i * CN_KEY_BYTES);
        if (r < 0)
                cn_keystore_done(dst);
        return r;
}

const uint8_t *cn_keystore_key(const CnKeyStore *ks, uint32_t epoch) {
        for (size_t i = 0; i < ks->n_keys; i++)
                if (ks->epochs[i] == epoch)
                        return ks->keys + i * CN_KEY_BYTES;
        return NULL;
}

int cn_keystore_add_key(CnKeyStore *ks, uint32_t epoch, const uint8_t key[CN_KEY_BYTES]) {
        if (epoch == 0)
                return -EINVAL;
        if (cn_keystore_key(ks, epoch))
                return -EEXIST;
        if (ks->n_keys == CN_KEYSTORE_MAX_KEYS)
                return -E2BIG;
        size_t at = ks->n_keys;
        while (at > 0 && ks->epochs[at - 1] > epoch)
                at--;
        memmove(ks->epochs + at + 1, ks->epochs + at, (ks->n_keys - at) * sizeof *ks->epochs);
        memmove(ks->keys + (at + 1) * CN_KEY_BYTES, ks->keys + at * CN_KEY_BYTES, (ks->n_keys - at) * CN_KEY_BYTES);
        ks->epochs[at] = epoch;
        memcpy(ks->keys + at * CN_KEY_BYTES, key, CN_KEY_BYTES);
        ks->n_keys++;
        return 0;
}

void cn_keystore_keep_only(CnKeyStore *ks, uint32_t epoch) {
        size_t n = 0;
        for (size_t i = 0; i < ks->n_keys; i++) {
                if (ks->epochs[i] != epoch)
                        continue;
                ks->epochs[n] = epoch;
                memmove(ks->keys + n * CN_KEY_BYTES, ks->keys + i * CN_KEY_BYTES, CN_KEY_BYTES);
                n++;
        }
        cn_memzero(ks->keys + n * CN_KEY_BYTES, (CN_KEYSTORE_MAX_KEYS - n) * CN_KEY_BYTES);
        ks->n_keys = n;
}

static bool location_ok(const uint8_t *p, size_t n) {
        return n >= 1 && n <= CN_MAX_LABEL_BYTES && !memchr(p, '\0', n);
}

int cn_keystore_add_location(CnKeyStore *ks, const char *url) {
        if (!location_ok((const uint8_t *) url, strlen(url)))
                return -EINVAL;
        for (size_t i = 0; i < ks->n_locations; i++)
                if (strcmp(ks->locations[i], url) == 0)
                        return 0;
        if (ks->n_locations == CN_KEYSTORE_MAX_LOCATIONS)
                return -E2BIG;
        char *s = strdup(url);
        if (!s)
                return -ENOMEM;
        ks->locations[ks->n_locations++] = s;
        return 0;
}

int cn_keystore_body_decode(const uint8_t *p, size_t n, CnKeyStore *ks) {
        CnReader rd;
        uint8_t repo_id[CN_UUID_BYTES];
        uint64_t generation;
        uint32_t n_loc, n_keys, prev = 0;
        int r;

        cn_reader_init(&rd, p, n);
        if (cn_reader_get(&rd, repo_id, CN_UUID_BYTES) < 0 || cn_reader_u64(&rd, &generation) < 0 ||
            generation == 0 || cn_reader_u32(&rd, &n_loc) < 0 || n_loc < 1 || n_loc > CN_KEYSTORE_MAX_LOCATIONS)
                return -EBADMSG;
        locations_clear(ks);
        ks->n_keys = 0;
        for (uint32_t i = 0; i < n_loc; i++) {
                const uint8_t *u;
                size_t len;
                if (cn_reader_bytes32(&rd, CN_MAX_LABEL_BYTES, &u, &len) < 0 || !location_ok(u, len))
                        goto bad;
                _cleanup_free_ char *s = strndup((const char *) u, len);
                if (!s)
                        return -ENOMEM;
                for (size_t j = 0; j < ks->n_locations; j++)
                        if (strcmp(ks->locations[j], s) == 0)
                                goto bad;
                ks->locations[ks->n_locations++] = TAKE_PTR(s);
        }
        if (cn_reader_u32(&rd, &n_keys) < 0 || n_keys < 1 || n_keys > CN_KEYSTORE_MAX_KEYS)
                goto bad;
        for (uint32_t i = 0; i < n_keys; i++) {
                uint32_t epoch;
                const uint8_t *key;
                if (cn_reader_u32(&rd, &epoch) < 0 || epoch <= prev || cn_reader_peek(&rd, CN_KEY_BYTES, &key) < 0)
                        goto bad;
                r = cn_keystore_add_key(ks, epoch, key);
                if (r < 0)
                        goto bad;
                prev = epoch;
        }
        if (rd.left != 0)
                goto bad;
        memcpy(ks->repo_id, repo_id, CN_UUID_BYTES);
        ks->generation = generation;
        return 0;
bad:
        locations_clear(ks);
        cn_keystore_keep_only(ks, 0);
        return -EBADMSG;
}

int cn_keystore_body_encode(const CnKeyStore *ks, CnBuf *out) {
        int r;
        if (ks->n_locations < 1 || ks->n_keys < 1 || ks->generation == 0)
                return -EINVAL;
        if ((r = cn_buf_append(out, ks->repo_id, CN_UUID_BYTES)) < 0 || (r = cn_buf_put_u64(out, ks->generation)) < 0 ||
            (r = cn_buf_put_u32(out, (uint32_t) ks->n_locations)) < 0)
                return r;
        for (size_t i = 0; i < ks->n_locations; i++)
                if ((r = cn_buf_put_bytes32(out, ks->locations[i], strlen(ks->locations[i]))) < 0)
                        return r;
        if ((r = cn_buf_put_u32(out, (uint32_t) ks->n_keys)) < 0)
                return r;
        for (size_t i = 0; i < ks->n_keys; i++)
                if ((r = cn_buf_put_u32(out, ks->epochs[i])) < 0 ||
                    (r = cn_buf_append(out, ks->keys + i * CN_KEY_BYTES, CN_KEY_BYTES)) < 0)
                        return r;
        return 0;
}

void cn_keystore_name(const uint8_t repo_id[CN_UUID_BYTES], const uint8_t ctrl[CN_UUID_BYTES],
                      char ret[CN_KEYSTORE_NAME_MAX]) {
        cn_hex_encode(repo_id, CN_UUID_BYTES, ret);
        ret[CN_UUID_HEX] = '/';
        cn_hex_encode(ctrl, CN_UUID_BYTES, ret + CN_UUID_HEX + 1);
}

int cn_keystore_read(CnBackend *b, const uint8_t key[CN_KEY_BYTES], const uint8_t processor[CN_UUID_BYTES],
                     CnKeyStore *ks) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_KEYSTORE_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT_SECRET(CN_MAX_KEYSTORE_BYTES);
        uint8_t repo_id[CN_UUID_BYTES];
        char name[CN_KEYSTORE_NAME_MAX];
        CnEnvelopeHeader h;
        int r;

        memcpy(repo_id, ks->repo_id, CN_UUID_BYTES);
        cn_keystore_name(ks->repo_id, ks->controller, name);
        r = cn_backend_get(b, name, 0, CN_GET_ALL, &obj);
        if (r == -E2BIG)
                return -EBADMSG;
        if (r < 0)
                return r;
        r = cn_envelope_open(obj.data, obj.len, CN_MAGIC_KEYSTORE, key, &h, &body);
        if (r == -EPROTONOSUPPORT || r == -ENOMEM)
                return r;
        if (r < 0 || !cn_memeq(h.processor, processor, CN_UUID_BYTES) ||
            memcmp(h.controller, ks->controller, CN_UUID_BYTES) != 0 || h.epoch != 0)
                return -EBADMSG;
        r = cn_keystore_body_decode(body.data, body.len, ks);
        if (r < 0)
                return r;
        if (memcmp(ks->repo_id, repo_id, CN_UUID_BYTES) != 0) {
                memcpy(ks->repo_id, repo_id, CN_UUID_BYTES);
                locations_clear(ks);
                cn_keystore_keep_only(ks, 0);
                return -EBADMSG;
        }
        return 0;
}

int cn_keystore_write(CnBackend *b, const uint8_t key[CN_KEY_BYTES], const uint8_t processor[CN_UUID_BYTES],
                      const CnKeyStore *ks) {
        _cleanup_(cn_buf_donep) CnBuf obj = CN_BUF_INIT(CN_MAX_KEYSTORE_BYTES);
        _cleanup_(cn_buf_donep) CnBuf body = CN_BUF_INIT_SECRET(CN_MAX_KEYSTORE_BYTES);
        CnEnvelopeHeader h = {};
        char name[CN_KEYSTORE_NAME_MAX];
        int r;

        memcpy(h.processor, processor, CN_UUID_BYTES);
        memcpy(h.controller, ks->controller, CN_UUID_BYTES);
        if ((r = cn_keystore_body_encode(ks, &body)) < 0 ||
            (r = cn_envelope_seal(&obj, CN_MAGIC_KEYSTORE, &h, key, body.data, body.len)) < 0)
                return r;
        cn_keystore_name(ks->repo_id, ks->controller, name);
        return cn_backend_put(b, name, obj.data, obj.len, 0);
}

char *cn_keystore_default_location(void) {
        const char *env = getenv("CAIRN_KEY_STORE");
        char *s = NULL;
        if (env && *env)
                return strdup(env);
        if (geteuid() == 0)
                return strdup("/var/lib/cairn/keystore");
        const char *state = getenv("XDG_STATE_HOME");
        if (state && *state == '/')
                return asprintf(&s, "%s/cairn/keystore", state) < 0 ? NULL : s;
        const char *home = getenv("HOME");
        if (!home || *home != '/')
                return NULL;
        return asprintf(&s, "%s/.local/state/cairn/keystore", home) < 0 ? NULL : s;
}
