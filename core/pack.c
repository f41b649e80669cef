/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "pack.h"

#include <stdio.h>
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

void cn_pack_header_ad(const uint8_t processor[CN_UUID_BYTES], const uint8_t controller[CN_UUID_BYTES],
                       const uint8_t pack_id[CN_ID_BYTES], uint8_t ad[CN_PACK_HEADER_AD_BYTES]) {
        memcpy(ad, CN_MAGIC_PACK_HEADER, CN_MAGIC_BYTES);
        cn_le32_put(ad + CN_MAGIC_BYTES, CN_FORMAT_VERSION);
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
