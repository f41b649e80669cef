/* SPDX-License-Identifier: GPL-3.0-or-later */
/* A growable byte buffer with a hard cap, and a bounded reader over bytes.
 *
 * CnBuf owns its memory; cn_buf_done() frees it. Every append checks the cap
 * given at init and fails with -E2BIG instead of growing past it, so a buffer
 * filled from input can never grow without bound.
 *
 * CnReader borrows the bytes it reads. Every get fails with -EBADMSG on
 * overrun and leaves the reader where it was, so a parser that checks each
 * return can never read past the end of its input. All integers little-endian. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct CnBuf {
        uint8_t *data;
        size_t len;
        size_t cap;     /* allocated */
        size_t limit;   /* hard cap on len */
        bool secret;    /* growing wipes the old memory, cn_buf_done() wipes */
} CnBuf;

/* For declarations: _cleanup_(cn_buf_donep) CnBuf b = CN_BUF_INIT(limit); */
#define CN_BUF_INIT(lim) { .limit = (lim) }
/* A buffer that will hold keys: never realloc'd (which would leave a copy in
 * freed memory) but moved and wiped as it grows, and wiped when done. */
#define CN_BUF_INIT_SECRET(lim) { .limit = (lim), .secret = true }
void cn_buf_init(CnBuf *b, size_t limit);
void cn_buf_init_secret(CnBuf *b, size_t limit);
void cn_buf_done(CnBuf *b);
/* Wipe the bytes (explicit_bzero) then free: for buffers that held secrets. */
void cn_buf_done_wipe(CnBuf *b);
static inline void cn_buf_donep(CnBuf *b) {
        cn_buf_done(b);
}
static inline void cn_buf_done_wipep(CnBuf *b) {
        cn_buf_done_wipe(b);
}
void cn_buf_reset(CnBuf *b);            /* len = 0, keeps memory */
int cn_buf_reserve(CnBuf *b, size_t extra);
int cn_buf_append(CnBuf *b, const void *p, size_t n);
int cn_buf_put_u8(CnBuf *b, uint8_t v);
int cn_buf_put_u16(CnBuf *b, uint16_t v);
int cn_buf_put_u32(CnBuf *b, uint32_t v);
int cn_buf_put_u64(CnBuf *b, uint64_t v);
int cn_buf_put_i64(CnBuf *b, int64_t v);
/* u32 length then bytes. */
int cn_buf_put_bytes32(CnBuf *b, const void *p, size_t n);
/* cn_buf_put_bytes32() of the string s without its NUL (NULL: empty). */
int cn_buf_put_str(CnBuf *b, const char *s);
/* Grows len by n and returns a pointer to the new (uninitialised) space. */
int cn_buf_grow(CnBuf *b, size_t n, uint8_t **ret);

typedef struct CnReader {
        const uint8_t *p;
        size_t left;
} CnReader;

static inline void cn_reader_init(CnReader *r, const void *p, size_t n) {
        r->p = p;
        r->left = n;
}
static inline bool cn_reader_empty(const CnReader *r) {
        return r->left == 0;
}
int cn_reader_get(CnReader *r, void *out, size_t n);
/* Borrow n bytes in place. */
int cn_reader_peek(CnReader *r, size_t n, const uint8_t **ret);
int cn_reader_skip(CnReader *r, size_t n);
int cn_reader_u8(CnReader *r, uint8_t *ret);
int cn_reader_u16(CnReader *r, uint16_t *ret);
int cn_reader_u32(CnReader *r, uint32_t *ret);
int cn_reader_u64(CnReader *r, uint64_t *ret);
int cn_reader_i64(CnReader *r, int64_t *ret);
/* u32 length (must be <= max) then bytes, borrowed. */
int cn_reader_bytes32(CnReader *r, size_t max, const uint8_t **ret, size_t *ret_len);
/* The same as a malloc'd string: -EBADMSG also for a NUL inside it. */
int cn_reader_str(CnReader *r, size_t max, char **ret);

static inline void cn_le32_put(uint8_t *p, uint32_t v) {
        p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}
static inline uint32_t cn_le32_get(const uint8_t *p) {
        return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}
static inline void cn_le64_put(uint8_t *p, uint64_t v) {
        cn_le32_put(p, (uint32_t) v);
        cn_le32_put(p + 4, (uint32_t) (v >> 32));
}
static inline uint64_t cn_le64_get(const uint8_t *p) {
        return (uint64_t) cn_le32_get(p) | (uint64_t) cn_le32_get(p + 4) << 32;
}
