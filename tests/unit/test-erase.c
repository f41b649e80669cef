/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Erasure request bodies (docs/FORMAT.md "Erasure"): every rule is kept on
 * writing and checked on reading. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "erase.h"

static void roundtrip(const CnEraseRequest *q) {
        CnBuf b = CN_BUF_INIT(1u << 20);
        CnEraseRequest back;
        cr_assert_eq(cn_erase_request_encode(q, &b), 0);
        cr_assert_eq(cn_erase_request_decode(b.data, b.len, &back), 0);
        cr_assert_eq(back.scope, q->scope);
        cr_assert_eq(back.created, q->created);
        cr_assert_eq(memcmp(back.value, q->value, strlen(q->value)), 0);
        for (size_t len = 0; len < b.len; len++)
                cr_assert_eq(cn_erase_request_decode(b.data, len, &back), -EBADMSG, "cut at %zu", len);
        cr_assert_eq(cn_buf_put_u8(&b, 0), 0);
        cr_assert_eq(cn_erase_request_decode(b.data, b.len, &back), -EBADMSG, "a trailing byte");
        cn_buf_done(&b);
}

Test(erase, request_bodies_keep_their_rules) {
        char hex64[65], hex32[33];
        memset(hex64, 'a', 64), hex64[64] = 0;
        memset(hex32, '0', 32), hex32[32] = 0;
        roundtrip(&(CnEraseRequest) { .scope = CN_ERASE_SNAPSHOT, .value = hex64, .created = 1 });
        roundtrip(&(CnEraseRequest) { .scope = CN_ERASE_CONTROLLER, .value = hex32, .reason = "contract ended" });
        roundtrip(&(CnEraseRequest) { .scope = CN_ERASE_PATH, .value = "/home/*/mail/**", .reference = "DSR-1",
                                      .requester = "ops@host", .created = -5 });
        roundtrip(&(CnEraseRequest) { .scope = CN_ERASE_SUBJECT, .value = "alice" });

        CnBuf b = CN_BUF_INIT(1u << 20);
        static const struct {
                CnEraseScope scope;
                const char *value;
        } bad[] = {
                { CN_ERASE_SNAPSHOT, "abc" },               /* not 64 hex digits */
                { CN_ERASE_SNAPSHOT, "" },
                { CN_ERASE_CONTROLLER, "ABCDEF00000000000000000000000000" }, /* upper case */
                { CN_ERASE_SUBJECT, "a/b" },                 /* a subject holds no '/' */
                { CN_ERASE_SUBJECT, "" },
                { CN_ERASE_PATH, "" },
                { 7, "x" },                                  /* no such scope */
        };
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
                cn_buf_reset(&b);
                CnEraseRequest q = { .scope = bad[i].scope, .value = bad[i].value };
                cr_assert_eq(cn_erase_request_encode(&q, &b), -EINVAL, "bad %zu", i);
        }
        /* a scope byte of 0 or 5 does not decode */
        cn_buf_reset(&b);
        cr_assert_eq(cn_erase_request_encode(&(CnEraseRequest) { .scope = CN_ERASE_SUBJECT, .value = "bob" }, &b), 0);
        b.data[0] = 0;
        CnEraseRequest back;
        cr_assert_eq(cn_erase_request_decode(b.data, b.len, &back), -EBADMSG);
        b.data[0] = 5;
        cr_assert_eq(cn_erase_request_decode(b.data, b.len, &back), -EBADMSG);
        cn_buf_done(&b);
}
