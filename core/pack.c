/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "pack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

void cn_pack_chunk_ad(const uint8_t processor[CN_UUID_BYTES], const uint8_t controller[CN_UUID_BYTES],
                      const uint8_t id[CN_ID_BYTES], uint8_t type, uint8_t ad[CN_CHUNK_AD_BYTES]) {
        memcpy(ad, CN_CHUNK_AD_DOMAIN, 16);
        memcpy(ad + 16, processor, CN_UUID_BYTES);
        memcpy(ad + 16 + CN_UUID_BYTES, controller, CN_UUID_BYTES);
        memcpy(ad + 16 + 2 * CN_UUID_BYTES, id, CN_ID_BYTES);
        ad[CN_CHUNK_AD_BYTES - 1] = type;
}

void cn_pack_header_ad(uint32_t version, const uint8_t processor[CN_UUID_BYTES],
                       const uint8_t controller[CN_UUID_BYTES], const uint8_t pack_id[CN_ID_BYTES],
                       uint8_t ad[CN_PACK_HEADER_AD_BYTES]) {
        memcpy(ad, CN_MAGIC_PACK_HEADER, CN_MAGIC_BYTES);
        cn_le32_put(ad + CN_MAGIC_BYTES, version);
        memcpy(ad + CN_MAGIC_BYTES + 4, processor, CN_UUID_BYTES);
        memcpy(ad + CN_MAGIC_BYTES + 4 + CN_UUID_BYTES, controller, CN_UUID_BYTES);
        memcpy(ad + CN_MAGIC_BYTES + 4 + 2 * CN_UUID_BYTES, pack_id, CN_ID_BYTES);
}

void cn_pack_object_name(const char *kind, const char *controller_hex, const uint8_t pack_id[CN_ID_BYTES], char *out,
                         size_t n) {
        char hex[CN_ID_HEX + 1];
        cn_hex_encode(pack_id, CN_ID_BYTES, hex);
        if (strcmp(kind, "data") == 0)
                snprintf(out, n, "data/%s/%.2s/%s", controller_hex, hex, hex);
        else
                snprintf(out, n, "%s/%s/%s", kind, controller_hex, hex);
}

int cn_pack_encode_entries(CnBuf *b, const CnPackEntry *e, uint32_t n) {
        int r = cn_buf_reserve(b, 4 + (size_t) n * CN_PACK_ENTRY_BYTES);
        if (r < 0)
                return r;
        cn_buf_put_u32(b, n);
        for (uint32_t i = 0; i < n; i++) {
                cn_buf_append(b, e[i].id, CN_ID_BYTES);
                cn_buf_put_u8(b, e[i].loc.type);
                cn_buf_put_u8(b, e[i].loc.flags);
                cn_buf_put_u32(b, e[i].loc.offset);
                cn_buf_put_u32(b, e[i].loc.length);
                cn_buf_put_u32(b, e[i].loc.raw_length);
        }
        return 0;
}

int cn_pack_trailer_parse(const uint8_t trailer[CN_PACK_TRAILER_BYTES], uint64_t pack_size, uint32_t *ret_hlen) {
        uint32_t hlen = cn_le32_get(trailer);
        if (memcmp(trailer + 4, CN_MAGIC_PACK_TRAILER, CN_MAGIC_BYTES) != 0 ||
            pack_size < CN_PACK_PREAMBLE_BYTES + CN_PACK_TRAILER_BYTES || hlen < CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES ||
            hlen > pack_size - CN_PACK_PREAMBLE_BYTES - CN_PACK_TRAILER_BYTES)
                return -EBADMSG;
        *ret_hlen = hlen;
        return 0;
}

int cn_pack_entry_read(CnReader *rd, uint64_t blob_area, const uint8_t **ret_id, CnBlobLoc *ret) {
        CnReader at = *rd;
        CnBlobLoc loc = {};
        const uint8_t *id;
        if (cn_reader_peek(&at, CN_ID_BYTES, &id) < 0 || cn_reader_u8(&at, &loc.type) < 0 ||
            cn_reader_u8(&at, &loc.flags) < 0 || cn_reader_u32(&at, &loc.offset) < 0 ||
            cn_reader_u32(&at, &loc.length) < 0 || cn_reader_u32(&at, &loc.raw_length) < 0)
                return -EBADMSG;
        if ((loc.type != CN_BLOB_DATA && loc.type != CN_BLOB_TREE) || (loc.flags & ~CN_BLOB_ZSTD) ||
            loc.length < CN_AEAD_NONCE_BYTES + CN_AEAD_TAG_BYTES || loc.offset < CN_PACK_PREAMBLE_BYTES ||
            (blob_area && (uint64_t) loc.offset + loc.length > blob_area) ||
            loc.raw_length > (loc.type == CN_BLOB_TREE ? CN_MAX_TREE_BYTES : CN_MAX_CHUNK_BYTES))
                return -EBADMSG;
        *rd = at;
        *ret_id = id;
        *ret = loc;
        return 0;
}

int cn_pack_entries_begin(CnReader *rd, uint64_t blob_area, uint32_t *ret_n) {
        CnReader at = *rd, all;
        uint32_t n;
        if (cn_reader_u32(&at, &n) < 0 || n > CN_MAX_PACK_ENTRIES || (uint64_t) n * CN_PACK_ENTRY_BYTES != at.left)
                return -EBADMSG;
        all = at;
        for (uint32_t i = 0; i < n; i++) {
                const uint8_t *id;
                CnBlobLoc loc;
                if (cn_pack_entry_read(&all, blob_area, &id, &loc) < 0)
                        return -EBADMSG;
        }
        *rd = at;
        *ret_n = n;
        return 0;
}

int cn_ledger_decode(const uint8_t *p, size_t n, uint32_t version, CnLedgerPack **ret, size_t *ret_n) {
        const size_t pair = CN_ID_BYTES + CN_KEY_BYTES;
        CnReader rd;
        uint32_t packs = 1;

        cn_reader_init(&rd, p, n);
        if (version == 2 && (cn_reader_u32(&rd, &packs) < 0 || packs < 1 || packs > CN_MAX_LEDGER_PACKS ||
                             (uint64_t) packs * (CN_ID_BYTES + CN_KEY_BYTES + 4 + pair) > rd.left))
                return -EBADMSG;
        if (version != 1 && version != 2)
                return -EBADMSG;
        CnLedgerPack *v = calloc(packs, sizeof *v);
        if (!v)
                return -ENOMEM;
        for (uint32_t i = 0; i < packs; i++) {
                uint32_t count;
                if (cn_reader_peek(&rd, CN_ID_BYTES, &v[i].pack_id) < 0 ||
                    (i > 0 && memcmp(v[i - 1].pack_id, v[i].pack_id, CN_ID_BYTES) >= 0) ||
                    (version == 2 && cn_reader_peek(&rd, CN_KEY_BYTES, &v[i].pack_key) < 0) ||
                    cn_reader_u32(&rd, &count) < 0 || count > CN_MAX_PACK_ENTRIES ||
                    (version == 2 && count < 1) || (uint64_t) count * pair > rd.left)
                        goto bad;
                v[i].n = count;
                v[i].pairs = rd.p;
                cn_reader_skip(&rd, (size_t) count * pair);
        }
        if (!cn_reader_empty(&rd))
                goto bad;
        *ret = v;
        *ret_n = packs;
        return 0;
bad:
        free(v);
        return -EBADMSG;
}

int cn_ledger_encode_pack(CnBuf *b, const uint8_t pack_id[CN_ID_BYTES], const uint8_t *pack_key, uint32_t n,
                          const uint8_t *ids, size_t id_stride, const uint8_t *keys, size_t key_stride) {
        int r = cn_buf_reserve(b, CN_ID_BYTES + CN_KEY_BYTES + 4 + (size_t) n * (CN_ID_BYTES + CN_KEY_BYTES));
        if (r < 0)
                return r;
        cn_buf_append(b, pack_id, CN_ID_BYTES);
        if (pack_key)
                cn_buf_append(b, pack_key, CN_KEY_BYTES);
        cn_buf_put_u32(b, n);
        for (uint32_t i = 0; i < n; i++) {
                cn_buf_append(b, ids + i * id_stride, CN_ID_BYTES);
                cn_buf_append(b, keys + i * key_stride, CN_KEY_BYTES);
        }
        return 0;
}
