/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "buf.h"
#include "hex.h"

Test(buf, append_stops_at_limit) {
        CnBuf b;
        cn_buf_init(&b, 10);
        cr_assert_eq(cn_buf_append(&b, "0123456789", 10), 0);
        cr_assert_eq(cn_buf_put_u8(&b, 1), -E2BIG);
        cr_assert_eq(b.len, 10);
        cn_buf_done(&b);
}

/* A secret buffer moves (never realloc'd in place behind our back) and keeps
 * every byte as it grows; it stays secret across cn_buf_done() for reuse. */
Test(buf, secret_buffer_keeps_its_bytes_as_it_grows) {
        CnBuf b = CN_BUF_INIT_SECRET(1u << 20);
        uint8_t chunk[1000];
        for (size_t i = 0; i < sizeof chunk; i++)
                chunk[i] = (uint8_t) (i * 7);
        for (int round = 0; round < 2; round++) {
                for (int i = 0; i < 300; i++)
                        cr_assert_eq(cn_buf_append(&b, chunk, sizeof chunk), 0);
                cr_assert_eq(b.len, 300 * sizeof chunk);
                for (int i = 0; i < 300; i++)
                        cr_assert_eq(memcmp(b.data + i * sizeof chunk, chunk, sizeof chunk), 0);
                cn_buf_done(&b);
                cr_assert(b.secret, "a reused buffer stays secret");
                cr_assert_null(b.data);
        }
}

Test(reader, integers_round_trip_little_endian) {
        CnBuf b;
        cn_buf_init(&b, 1024);
        cr_assert_eq(cn_buf_put_u16(&b, 0x1234), 0);
        cr_assert_eq(cn_buf_put_u32(&b, 0xdeadbeef), 0);
        cr_assert_eq(cn_buf_put_i64(&b, -5), 0);
        cr_assert_eq(cn_buf_put_bytes32(&b, "abc", 3), 0);
        cr_assert_eq(b.data[0], 0x34);
        CnReader r;
        cn_reader_init(&r, b.data, b.len);
        uint16_t a;
        uint32_t c;
        int64_t d;
        const uint8_t *s;
        size_t n;
        cr_assert_eq(cn_reader_u16(&r, &a), 0);
        cr_assert_eq(cn_reader_u32(&r, &c), 0);
        cr_assert_eq(cn_reader_i64(&r, &d), 0);
        cr_assert_eq(cn_reader_bytes32(&r, 16, &s, &n), 0);
        cr_assert(a == 0x1234 && c == 0xdeadbeef && d == -5 && n == 3 && memcmp(s, "abc", 3) == 0);
        cr_assert(cn_reader_empty(&r));
        cn_buf_done(&b);
}

Test(reader, truncated_input_fails_without_moving) {
        static const uint8_t in[] = { 5, 0, 0, 0, 'a', 'b' };     /* claims 5 bytes, has 2 */
        CnReader r;
        const uint8_t *s;
        size_t n;
        uint64_t v;
        cn_reader_init(&r, in, sizeof in);
        cr_assert_eq(cn_reader_bytes32(&r, 100, &s, &n), -EBADMSG);
        cr_assert_eq(r.left, sizeof in);
        cr_assert_eq(cn_reader_u64(&r, &v), -EBADMSG);
        cr_assert_eq(r.left, sizeof in);
}

Test(reader, length_over_max_is_rejected) {
        static const uint8_t in[] = { 3, 0, 0, 0, 'a', 'b', 'c' };
        CnReader r;
        const uint8_t *s;
        size_t n;
        cn_reader_init(&r, in, sizeof in);
        cr_assert_eq(cn_reader_bytes32(&r, 2, &s, &n), -EBADMSG);
}

Test(hex, round_trip_and_rejects_bad_digits) {
        uint8_t in[3] = { 0x00, 0xab, 0xff }, out[3];
        char s[7];
        cn_hex_encode(in, 3, s);
        cr_assert_str_eq(s, "00abff");
        cr_assert_eq(cn_hex_decode("00ABff", out, 3), 0);
        cr_assert_eq(memcmp(in, out, 3), 0);
        cr_assert_eq(cn_hex_decode("00abf", out, 3), -EINVAL);
        cr_assert_eq(cn_hex_decode("00abfg", out, 3), -EINVAL);
}

/* "An id or a unique prefix of it": either case, counted, set only when one. */
Test(hex, prefix_find_names_one_record_or_counts) {
        struct {
                int tag;
                char id[9];
        } v[] = { { 1, "abcd0123" }, { 2, "abce0000" }, { 3, "ffff0000" } };
        size_t i = 99;
        cr_assert_eq(cn_hex_prefix_find("ABCD", 8, v, 3, sizeof *v, offsetof(__typeof__(*v), id), &i), 1);
        cr_assert_eq(i, 0);
        i = 99;
        cr_assert_eq(cn_hex_prefix_find("abc", 8, v, 3, sizeof *v, offsetof(__typeof__(*v), id), &i), 2);
        cr_assert_eq(i, 99, "set for an ambiguous prefix");
        cr_assert_eq(cn_hex_prefix_find("0", 8, v, 3, sizeof *v, offsetof(__typeof__(*v), id), &i), 0);
        cr_assert_eq(cn_hex_prefix_find("ffff0000", 8, v, 3, sizeof *v, offsetof(__typeof__(*v), id), &i), 1);
        cr_assert_eq(i, 2);
        cr_assert_eq(cn_hex_prefix_find("ffff00000", 8, v, 3, sizeof *v, offsetof(__typeof__(*v), id), &i), -EINVAL);
        cr_assert_eq(cn_hex_prefix_find("", 8, v, 3, sizeof *v, offsetof(__typeof__(*v), id), &i), -EINVAL);
        cr_assert_eq(cn_hex_prefix_find("ab-", 8, v, 3, sizeof *v, offsetof(__typeof__(*v), id), &i), -EINVAL);
}
