/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "envelope.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"

uint32_t cn_envelope_version(const char magic[CN_MAGIC_BYTES]) {
        if (memcmp(magic, CN_MAGIC_SNAPSHOT, CN_MAGIC_BYTES) == 0)
                return CN_SNAPSHOT_VERSION;
        if (memcmp(magic, CN_MAGIC_DAMAGE, CN_MAGIC_BYTES) == 0)
                return CN_DAMAGE_VERSION;
        if (memcmp(magic, CN_MAGIC_CERTIFICATE, CN_MAGIC_BYTES) == 0)
                return CN_CERTIFICATE_VERSION;
        return CN_FORMAT_VERSION;
}

void cn_envelope_name_id(const uint8_t *p, size_t n, uint8_t ret[CN_ID_BYTES]) {
        cn_sha256(ret, p, n);
}

void cn_envelope_content_name(const char *folder, const char *controller_hex, const uint8_t *p, size_t n,
                              uint8_t ret_id[CN_ID_BYTES], char ret_name[CN_ENVELOPE_NAME_MAX]) {
        char hex[CN_ID_HEX + 1];
        cn_envelope_name_id(p, n, ret_id);
        cn_hex_encode(ret_id, CN_ID_BYTES, hex);
        snprintf(ret_name, CN_ENVELOPE_NAME_MAX, "%s/%s/%s", folder, controller_hex, hex);
}

int cn_envelope_check_content_name(const char *name, const uint8_t *p, size_t n) {
        uint8_t id[CN_ID_BYTES];
        char hex[CN_ID_HEX + 1];
        const char *slash = strrchr(name, '/');
        cn_envelope_name_id(p, n, id);
        cn_hex_encode(id, CN_ID_BYTES, hex);
        return slash && strcmp(slash + 1, hex) == 0 ? 0 : -EBADMSG;
}

int cn_envelope_seal(CnBuf *out, const char magic[CN_MAGIC_BYTES], const CnEnvelopeHeader *h,
                     const uint8_t key[CN_KEY_BYTES], const void *body, size_t n) {
        size_t start = out->len;
        uint8_t *nonce, *ct;
        int r;

        if ((r = cn_buf_append(out, magic, CN_MAGIC_BYTES)) < 0 ||
            (r = cn_buf_put_u32(out, cn_envelope_version(magic))) < 0 ||
            (r = cn_buf_append(out, h->processor, CN_UUID_BYTES)) < 0 ||
            (r = cn_buf_append(out, h->controller, CN_UUID_BYTES)) < 0 ||
            (r = cn_buf_put_u32(out, h->epoch)) < 0)
                goto fail;
        if (n > SIZE_MAX - CN_AEAD_NONCE_BYTES - CN_AEAD_TAG_BYTES) {
                r = -E2BIG;
                goto fail;
        }
        r = cn_buf_reserve(out, CN_AEAD_NONCE_BYTES + n + CN_AEAD_TAG_BYTES);
        if (r < 0)
                goto fail;
        nonce = out->data + out->len;
        cn_random(nonce, CN_AEAD_NONCE_BYTES);
        ct = nonce + CN_AEAD_NONCE_BYTES;
        cn_aead_seal(ct, body, n, out->data + start, CN_ENVELOPE_HEADER_BYTES, nonce, key);
        out->len += CN_AEAD_NONCE_BYTES + n + CN_AEAD_TAG_BYTES;
        return 0;
fail:
        out->len = start;
        return r;
}

int cn_envelope_peek(const uint8_t *p, size_t n, const char magic[CN_MAGIC_BYTES], CnEnvelopeHeader *ret) {
        CnReader rd;
        CnEnvelopeHeader h;
        const uint8_t *m;

        cn_reader_init(&rd, p, n);
        if (cn_reader_peek(&rd, CN_MAGIC_BYTES, &m) < 0 || memcmp(m, magic, CN_MAGIC_BYTES) != 0)
                return -EBADMSG;
        if (cn_reader_u32(&rd, &h.version) < 0)
                return -EBADMSG;
        if (h.version == 0 || h.version > cn_envelope_version(magic))
                return -EPROTONOSUPPORT;
        if (cn_reader_get(&rd, h.processor, CN_UUID_BYTES) < 0 ||
            cn_reader_get(&rd, h.controller, CN_UUID_BYTES) < 0 ||
            cn_reader_u32(&rd, &h.epoch) < 0 ||
            rd.left < CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES)
                return -EBADMSG;
        *ret = h;
        return 0;
}

int cn_envelope_open(const uint8_t *p, size_t n, const char magic[CN_MAGIC_BYTES], const uint8_t key[CN_KEY_BYTES],
                     CnEnvelopeHeader *ret_header, CnBuf *out) {
        CnEnvelopeHeader h;
        int r = cn_envelope_peek(p, n, magic, &h);
        if (r < 0)
                return r;
        const uint8_t *nonce = p + CN_ENVELOPE_HEADER_BYTES;
        const uint8_t *ct = nonce + CN_AEAD_NONCE_BYTES;
        size_t ct_len = n - CN_ENVELOPE_HEADER_BYTES - CN_AEAD_NONCE_BYTES;

        cn_buf_reset(out);
        r = cn_buf_reserve(out, ct_len - CN_AEAD_TAG_BYTES);
        if (r < 0)
                return r;
        r = cn_aead_open(out->data, ct, ct_len, p, CN_ENVELOPE_HEADER_BYTES, nonce, key);
        if (r < 0)
                return r;
        out->len = ct_len - CN_AEAD_TAG_BYTES;
        if (ret_header)
                *ret_header = h;
        return 0;
}
