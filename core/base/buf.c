/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void cn_buf_init(CnBuf *b, size_t limit) {
        *b = (CnBuf) { .limit = limit };
}

void cn_buf_init_secret(CnBuf *b, size_t limit) {
        *b = (CnBuf) { .limit = limit, .secret = true };
}

void cn_buf_done(CnBuf *b) {
        if (b->secret && b->data)
                explicit_bzero(b->data, b->cap);
        free(b->data);
        *b = (CnBuf) { .limit = b->limit, .secret = b->secret };
}

void cn_buf_done_wipe(CnBuf *b) {
        if (b->data)
                explicit_bzero(b->data, b->cap);
        cn_buf_done(b);
}

void cn_buf_reset(CnBuf *b) {
        b->len = 0;
}

int cn_buf_reserve(CnBuf *b, size_t extra) {
        if (extra > b->limit || b->len > b->limit - extra)
                return -E2BIG;
        size_t need = b->len + extra;
        if (need <= b->cap)
                return 0;
        size_t n = b->cap ? b->cap : 256;
        while (n < need)
                n = n > SIZE_MAX / 2 ? need : n * 2;
        if (n > b->limit)
                n = b->limit;
        uint8_t *d;
        if (b->secret) {
                d = malloc(n);
                if (!d)
                        return -ENOMEM;
                if (b->data) {
                        memcpy(d, b->data, b->len);
                        explicit_bzero(b->data, b->cap);
                        free(b->data);
                }
        } else if (!(d = realloc(b->data, n)))
                return -ENOMEM;
        b->data = d;
        b->cap = n;
        return 0;
}

int cn_buf_grow(CnBuf *b, size_t n, uint8_t **ret) {
        int r = cn_buf_reserve(b, n);
        if (r < 0)
                return r;
        *ret = b->data + b->len;
        b->len += n;
        return 0;
}

int cn_buf_append(CnBuf *b, const void *p, size_t n) {
        uint8_t *d;
        if (n == 0)
                return 0;
        int r = cn_buf_grow(b, n, &d);
        if (r < 0)
                return r;
        memcpy(d, p, n);
        return 0;
}

int cn_buf_put_u8(CnBuf *b, uint8_t v) {
        return cn_buf_append(b, &v, 1);
}

int cn_buf_put_u16(CnBuf *b, uint16_t v) {
        uint8_t x[2] = { v, v >> 8 };
        return cn_buf_append(b, x, 2);
}

int cn_buf_put_u32(CnBuf *b, uint32_t v) {
        uint8_t x[4];
        cn_le32_put(x, v);
        return cn_buf_append(b, x, 4);
}

int cn_buf_put_u64(CnBuf *b, uint64_t v) {
        uint8_t x[8];
        cn_le64_put(x, v);
        return cn_buf_append(b, x, 8);
}

int cn_buf_put_i64(CnBuf *b, int64_t v) {
        return cn_buf_put_u64(b, (uint64_t) v);
}

int cn_buf_put_bytes32(CnBuf *b, const void *p, size_t n) {
        if (n > UINT32_MAX)
                return -E2BIG;
        int r = cn_buf_put_u32(b, (uint32_t) n);
        if (r < 0)
                return r;
        return cn_buf_append(b, p, n);
}

int cn_buf_put_str(CnBuf *b, const char *s) {
        return cn_buf_put_bytes32(b, s, s ? strlen(s) : 0);
}

int cn_reader_peek(CnReader *r, size_t n, const uint8_t **ret) {
        if (n > r->left)
                return -EBADMSG;
        *ret = r->p;
        r->p += n;
        r->left -= n;
        return 0;
}

int cn_reader_get(CnReader *r, void *out, size_t n) {
        const uint8_t *p;
        int k = cn_reader_peek(r, n, &p);
        if (k < 0)
                return k;
        memcpy(out, p, n);
        return 0;
}

int cn_reader_skip(CnReader *r, size_t n) {
        const uint8_t *p;
        return cn_reader_peek(r, n, &p);
}

int cn_reader_u8(CnReader *r, uint8_t *ret) {
        return cn_reader_get(r, ret, 1);
}

int cn_reader_u16(CnReader *r, uint16_t *ret) {
        const uint8_t *p;
        int k = cn_reader_peek(r, 2, &p);
        if (k < 0)
                return k;
        *ret = (uint16_t) (p[0] | p[1] << 8);
        return 0;
}

int cn_reader_u32(CnReader *r, uint32_t *ret) {
        const uint8_t *p;
        int k = cn_reader_peek(r, 4, &p);
        if (k < 0)
                return k;
        *ret = cn_le32_get(p);
        return 0;
}

int cn_reader_u64(CnReader *r, uint64_t *ret) {
        const uint8_t *p;
        int k = cn_reader_peek(r, 8, &p);
        if (k < 0)
                return k;
        *ret = cn_le64_get(p);
        return 0;
}

int cn_reader_i64(CnReader *r, int64_t *ret) {
        uint64_t v;
        int k = cn_reader_u64(r, &v);
        if (k < 0)
                return k;
        *ret = (int64_t) v;
        return 0;
}

int cn_reader_bytes32(CnReader *r, size_t max, const uint8_t **ret, size_t *ret_len) {
        CnReader save = *r;
        uint32_t n;
        int k = cn_reader_u32(r, &n);
        if (k < 0)
                return k;
        if (n > max || n > r->left) {
                *r = save;
                return -EBADMSG;
        }
        *ret = r->p;
        *ret_len = n;
        r->p += n;
        r->left -= n;
        return 0;
}

int cn_reader_str(CnReader *r, size_t max, char **ret) {
        const uint8_t *p;
        size_t n;
        char *s;
        if (cn_reader_bytes32(r, max, &p, &n) < 0 || memchr(p, 0, n))
                return -EBADMSG;
        s = strndup((const char *) p, n);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}
