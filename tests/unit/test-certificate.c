/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Erasure certificates (issue 10): signed canonical JSON that verifies with
 * the processor's public key alone and rejects any changed, added or
 * removed byte; the id and signature computed as docs/FORMAT.md
 * "Certificates" says (checked here from the file's text, as an independent
 * verifier would); bounded parsing; and certificates stored, listed and
 * read back on a local repository. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certificate.h"
#include "hex.h"
#include "macro.h"

/* RFC 8032 section 7.1, test 1: the processor's key pair in these tests. */
static const char sk_hex[] = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
                             "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
static uint8_t sk[CN_SIGN_SECRET_BYTES], pk[CN_SIGN_PUBLIC_BYTES];

static char dir[64];
static CnBackend *backend;
static const CnRepoInitOptions fast = {.kdf = {1, 8192}};

static void init(void) {
        cr_assert_eq(cn_crypto_init(), 0);
        cr_assert_eq(cn_hex_decode(sk_hex, sk, sizeof sk), 0);
        memcpy(pk, sk + 32, sizeof pk);
}

static void setup(void) {
        init();
        snprintf(dir, sizeof dir, "/tmp/cairn-test-certificate.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(cn_backend_open(dir, true, &backend), 0);
}

static void teardown(void) {
        char cmd[128];
        cn_backend_close(backend);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

static const CnCertificateKeeper keepers[] = {{{1}, {2}}, {{3}, {4}}};
static const CnCertificateRetained retained[] = {{.chunks = 3, .bytes = 12345, .kept_by = keepers, .n_kept_by = 2}};
static const CnCertificateLocation locations[] = {
        {"/srv/backup/repo", CN_CERTIFICATE_LOCATION_REPOSITORY, CN_CERTIFICATE_LOCATION_DONE},
        {"s3://bucket/replica", CN_CERTIFICATE_LOCATION_REPLICA, CN_CERTIFICATE_LOCATION_DONE},
        {"/var/lib/cairn/keys", CN_CERTIFICATE_LOCATION_KEY_STORE, CN_CERTIFICATE_LOCATION_DONE},
};
static const uint8_t deferred_snapshots[2][CN_ID_BYTES] = {{0xaa}, {0xbb}};
static const CnCertificateDeferred deferred[] = {
        {.hold = {0x5a}, .snapshots = deferred_snapshots, .n_snapshots = 2, .entries = 7}};
static const char *const residual[] = {
        "the holder of the controller's chunk-id key can test whether a guessed file's chunks occur in an index "
        "copied before the erasure",
};

/* Every member used: a deferred erasure with retained chunks, three
 * locations, a non-ASCII reason (escaped as \u00F6 in the file). */
static CnCertificate sample(void) {
        CnCertificate c = {
                .processor_id = {0x11, 0x22},
                .processor_name = "cairn",
                .repository = {0x33},
                .controller = {0x44, 0x55},
                .scope = CN_CERTIFICATE_SCOPE_SUBJECT,
                .value_pseudonym = {0x66},
                .reference = "ticket 4711",
                .reason = "Art. 17 DSGVO: L\xc3\xb6schung \"sofort\" \\ / ok",
                .requested_at = 1796601600,
                .status = CN_CERTIFICATE_DEFERRED,
                .started_at = 1796601700,
                .completed_at = 1796601800,
                .cryptographically_complete = true,
                .cryptographically_complete_at = 1796601790,
                .epoch_from = 3,
                .epoch_to = 4,
                .counts = {1, 2, 3, 4, 5, 6, 7, 8},
                .retained = retained,
                .n_retained = 1,
                .locations = locations,
                .n_locations = 3,
                .deferred = deferred,
                .n_deferred = 1,
                .residual = residual,
                .n_residual = 1,
        };
        memcpy(c.processor_public_key, pk, sizeof pk);
        return c;
}

static void sign_sample(CnBuf *file, char id[CN_ID_HEX + 1]) {
        CnCertificate c = sample();
        cr_assert_eq(cn_certificate_sign(&c, sk, file, id), 0);
}

static char *memstr(const CnBuf *b, const char *needle) {
        return memmem(b->data, b->len, needle, strlen(needle));
}

Test(certificate, signed_file_verifies_and_decodes_to_what_was_signed, .init = init) {
        CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES), again = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        char id[CN_ID_HEX + 1];
        CnCertificate c = {};
        uint8_t spk[32], sig[64];
        const char *why = NULL;

        sign_sample(&file, id);
        cr_assert_eq(file.data[file.len - 1], '\n');
        cr_assert_eq(cn_certificate_verify(file.data, file.len, pk, &c, &why), 0, "%s", why);
        cr_assert_str_eq(c.id_hex, id);
        CnCertificate s = sample();
        cr_assert_str_eq(c.reason, s.reason);
        cr_assert_str_eq(c.reference, s.reference);
        cr_assert_eq(c.scope, CN_CERTIFICATE_SCOPE_SUBJECT);
        cr_assert_eq(c.status, CN_CERTIFICATE_DEFERRED);
        cr_assert_eq(c.cryptographically_complete_at, 1796601790);
        cr_assert_eq(c.counts.packs_rewritten, 8);
        cr_assert_eq(c.n_retained, 1);
        cr_assert_eq(c.retained[0].n_kept_by, 2);
        cr_assert_eq(c.retained[0].kept_by[1].path_pseudonym[0], 4);
        cr_assert_eq(c.n_locations, 3);
        cr_assert_str_eq(c.locations[1].url, "s3://bucket/replica");
        cr_assert_eq(c.locations[2].kind, CN_CERTIFICATE_LOCATION_KEY_STORE);
        cr_assert_eq(c.deferred[0].n_snapshots, 2);
        cr_assert_eq(c.deferred[0].snapshots[1][0], 0xbb);
        cr_assert_str_eq(c.residual[0], residual[0]);

        /* decode and encode are inverses: the same bytes */
        cr_assert_eq(cn_certificate_decode(file.data, file.len, NULL, spk, sig, NULL), 0);
        cr_assert_eq(cn_certificate_encode(&c, spk, sig, &again), 0);
        cr_assert_eq(again.len, file.len);
        cr_assert_eq(memcmp(again.data, file.data, file.len), 0);

        /* what the file says, as written */
        cr_assert_not_null(memstr(&file, "\"format\":\"cairn.erasure-certificate.v1\",\"id\":\""));
        cr_assert_not_null(memstr(&file, "L\\u00F6schung \\\"sofort\\\" \\\\ / ok"));
        cr_assert_not_null(memstr(&file, "\"requested_at\":\"2026-12-07T00:00:00Z\""));
        cr_assert_not_null(memstr(&file, "\"cryptographically_complete_at\":\"2026-12-07T00:03:10Z\""));
        cr_assert_not_null(memstr(&file, "\"epoch\":{\"from\":3,\"to\":4}"));
        cr_assert_not_null(memstr(&file, ",\"signature\":{\"algorithm\":\"Ed25519\",\"public_key\":\"d75a9801"));
        cn_certificate_done(&c);
        cn_buf_done(&file);
        cn_buf_done(&again);
}

/* The id and the signature as docs/FORMAT.md tells an independent verifier
 * to compute them, from the file's text alone. */
Test(certificate, id_and_signature_are_what_the_format_says, .init = init) {
        CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        char id[CN_ID_HEX + 1], hex[CN_ID_HEX + 1];
        static const char head[] = "{\"certificate\":",
                          idkey[] = "\"format\":\"cairn.erasure-certificate.v1\",\"id\":\"";
        uint8_t h[CN_ID_BYTES], sig[CN_SIGN_BYTES];

        sign_sample(&file, id);
        cr_assert_eq(memcmp(file.data, head, strlen(head)), 0);
        /* the signature member is last: its fixed-size text ends the file */
        const size_t tail =
                strlen(",\"signature\":{\"algorithm\":\"Ed25519\",\"public_key\":\"\",\"value\":\"\"}}\n") + 64 + 128;
        cr_assert_eq(tail, 257, "FORMAT.md says the signature member and newline are 257 bytes");
        const char *member = (const char *) file.data + strlen(head);
        size_t member_len = file.len - strlen(head) - tail;
        cr_assert_eq(memcmp(member + member_len, ",\"signature\":", 13), 0);
        char sighex[129] = {0};
        memcpy(sighex, file.data + file.len - 4 - 128, 128);
        cr_assert_eq(cn_hex_decode(sighex, sig, sizeof sig), 0);

        CnBuf msg = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        cr_assert_eq(cn_buf_append(&msg, "cairn.erasure-certificate.v1\n", 29), 0);
        cr_assert_eq(cn_buf_append(&msg, member, member_len), 0);
        cr_assert_eq(cn_sign_verify(sig, msg.data, msg.len, pk), 0);

        /* id: the member with its id emptied, hashed */
        const char *at = memmem(member, member_len, idkey, strlen(idkey));
        cr_assert_not_null(at);
        cr_assert_eq(memcmp(at + strlen(idkey), id, CN_ID_HEX), 0);
        cn_buf_reset(&msg);
        size_t before = (size_t) (at - member) + strlen(idkey);
        cr_assert_eq(cn_buf_append(&msg, member, before), 0);
        cr_assert_eq(cn_buf_append(&msg, member + before + CN_ID_HEX, member_len - before - CN_ID_HEX), 0);
        cn_sha256(h, msg.data, msg.len);
        cn_hex_encode(h, sizeof h, hex);
        cr_assert_str_eq(hex, id);
        cn_buf_done(&msg);
        cn_buf_done(&file);
}

Test(certificate, every_changed_removed_or_added_byte_is_rejected, .init = init) {
        CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES), t = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES + 1);
        char id[CN_ID_HEX + 1];
        static const uint8_t masks[] = {0x01, 0x02, 0x20, 0x80};

        sign_sample(&file, id);
        cr_assert_eq(cn_certificate_verify(file.data, file.len, pk, NULL, NULL), 0);
        for (size_t i = 0; i < file.len; i++)
                for (size_t m = 0; m < CN_ELEMENTSOF(masks); m++) {
                        file.data[i] ^= masks[m];
                        int r = cn_certificate_verify(file.data, file.len, pk, NULL, NULL);
                        file.data[i] ^= masks[m];
                        cr_assert_lt(r, 0, "byte %zu ^ 0x%02x of %zu accepted", i, masks[m], file.len);
                }
        for (size_t len = 0; len < file.len; len++) {
                int r = cn_certificate_verify(file.data, len, pk, NULL, NULL);
                cr_assert_lt(r, 0, "the first %zu bytes accepted", len);
                /* the same byte removed at every position */
                cn_buf_reset(&t);
                cn_buf_append(&t, file.data, len);
                cn_buf_append(&t, file.data + len + 1, file.len - len - 1);
                cr_assert_lt(cn_certificate_verify(t.data, t.len, pk, NULL, NULL), 0, "byte %zu removed: accepted",
                             len);
        }
        for (size_t at = 0; at <= file.len; at++) {
                cn_buf_reset(&t);
                cn_buf_append(&t, file.data, at);
                cn_buf_append(&t, " ", 1);
                cn_buf_append(&t, file.data + at, file.len - at);
                cr_assert_lt(cn_certificate_verify(t.data, t.len, pk, NULL, NULL), 0, "a space at %zu: accepted", at);
        }
        cr_assert_eq(cn_certificate_verify(file.data, file.len, pk, NULL, NULL), 0);
        cn_buf_done(&file);
        cn_buf_done(&t);
}

Test(certificate, another_key_is_rejected, .init = init) {
        CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        uint8_t opk[32], *osk = cn_secret_new(64);
        char id[CN_ID_HEX + 1];
        const char *why = NULL;

        sign_sample(&file, id);
        cn_sign_keypair(opk, osk);
        cr_assert_eq(cn_certificate_verify(file.data, file.len, opk, NULL, &why), -EKEYREJECTED);
        cr_assert_not_null(strstr(why, "another key"));

        /* signed by the other key, in the name of this processor: refused
         * when signing, and a file that says so is refused too */
        CnCertificate c = sample();
        cr_assert_eq(cn_certificate_sign(&c, osk, &file, id), -EINVAL);
        memcpy(c.processor_public_key, opk, 32);
        cr_assert_eq(cn_certificate_sign(&c, osk, &file, id), 0);
        cr_assert_eq(cn_certificate_verify(file.data, file.len, opk, NULL, NULL), 0);
        cr_assert_eq(cn_certificate_verify(file.data, file.len, pk, NULL, NULL), -EKEYREJECTED);
        cn_secret_free(osk);
        cn_buf_done(&file);
}

/* Replace the first occurrence of from in file by to. */
static void replace(CnBuf *file, const char *from, const char *to) {
        char *at = memstr(file, from);
        cr_assert_not_null(at, "no %s", from);
        size_t off = (size_t) (at - (char *) file->data), fl = strlen(from), tl = strlen(to);
        CnBuf t = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES + 64);
        cn_buf_append(&t, file->data, off);
        cn_buf_append(&t, to, tl);
        cn_buf_append(&t, file->data + off + fl, file->len - off - fl);
        cn_buf_reset(file);
        cn_buf_append(file, t.data, t.len);
        cn_buf_done(&t);
}

Test(certificate, only_the_canonical_form_is_accepted, .init = init) {
        static const char *const edits[][2] = {
                {"{\"certificate\":", "{ \"certificate\":"}, /* whitespace */
                {"{\"certificate\":", "{\"certificate\" :"},
                {"}}\n", "}}\r\n"}, /* line end */
                {"}}\n", "}}"},
                {"}}\n", "}}\n\n"},
                {"\\u00F6", "\\u00f6"},         /* lower-case escape */
                {"\\u00F6", "\xc3\xb6"},        /* not ASCII */
                {" / ok", " \\/ ok"},           /* escaped slash */
                {"\"from\":3", "\"from\":3.0"}, /* a float */
                {"\"from\":3", "\"from\":03"},
                {"\"from\":3,\"to\":4", "\"to\":4,\"from\":3"}, /* order */
                {"\"to\":4}", "\"to\":4,\"to\":4}"},            /* duplicate */
        };
        CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES + 64), pretty = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        char id[CN_ID_HEX + 1];

        for (size_t i = 0; i < CN_ELEMENTSOF(edits); i++) {
                const char *why = NULL;
                sign_sample(&file, id);
                replace(&file, edits[i][0], edits[i][1]);
                cr_assert_eq(cn_certificate_verify(file.data, file.len, pk, NULL, &why), -EBADMSG, "%s -> %s",
                             edits[i][0], edits[i][1]);
                cr_assert_not_null(why);
        }
        cn_buf_done(&file);
        cn_buf_done(&pretty);
}

/* A file with a valid signature and id over content the format forbids
 * is still refused: the signature alone proves nothing about the shape. */
static int sign_text(const char *member_text, CnBuf *file) {
        char sighex[129], pkhex[65];
        uint8_t sig[64];
        CnBuf msg = CN_BUF_INIT(1 << 20);
        cn_buf_append(&msg, CN_CERTIFICATE_SIGN_DOMAIN, strlen(CN_CERTIFICATE_SIGN_DOMAIN));
        cn_buf_append(&msg, member_text, strlen(member_text));
        cn_sign(sig, msg.data, msg.len, sk);
        cn_hex_encode(sig, 64, sighex);
        cn_hex_encode(pk, 32, pkhex);
        cn_buf_reset(file);
        cn_buf_append(file, "{\"certificate\":", 15);
        cn_buf_append(file, member_text, strlen(member_text));
        char tail[300];
        snprintf(tail, sizeof tail,
                 ",\"signature\":{\"algorithm\":\"Ed25519\",\"public_key\":\"%s\",\"value\":\"%s\"}}\n", pkhex, sighex);
        cn_buf_append(file, tail, strlen(tail));
        cn_buf_done(&msg);
        return cn_certificate_verify(file->data, file->len, pk, NULL, NULL);
}

Test(certificate, signed_content_outside_the_format_is_rejected, .init = init) {
        static const char *const edits[][3] = {
                {"\"from\":3", "\"from\":-1", "-"},
                {"\"from\":3", "\"from\":4294967296", "-"},
                {"\"bytes_erased\":4", "\"bytes_erased\":4.5", "-"},
                {"\"bytes_erased\":4", "\"bytes_erased\":\"4\"", "-"},
                {"\"status\":\"deferred\"", "\"status\":\"done\"", "-"},
                {"\"status\":\"deferred\"", "\"status\":\"complete\"", "deferred part"},
                {"\"status\":\"deferred\"", "\"status\":\"partial\"", "every location done"},
                {"\"scope\":\"subject\"", "\"scope\":\"tag\"", "-"},
                {"\"requested_at\":\"2026-12-07T00:00:00Z\"", "\"requested_at\":\"2026-02-30T00:00:00Z\"", "-"},
                {"\"requested_at\":\"2026-12-07T00:00:00Z\"", "\"requested_at\":\"2026-12-07T00:00:60Z\"", "-"},
                {"\"requested_at\":\"2026-12-07T00:00:00Z\"", "\"requested_at\":\"2026-12-07 00:00:00Z\"", "-"},
                {"\"requested_at\":\"2026-12-07T00:00:00Z\"", "\"requested_at\":1796601600", "-"},
                {"\"url\":\"s3://bucket/replica\"", "\"url\":\"s3://key:secret@bucket/replica\"", "-"},
                {"\"url\":\"s3://bucket/replica\"", "\"url\":\"\"", "-"},
                {"\"reference\":\"ticket 4711\"", "\"reference\":\"ticket\\n4711\"", "-"},
                {"\"reference\":\"ticket 4711\"", "\"reference\":null", "-"},
                {"\"residual\":[\"", "\"residual\":[\"\",\"", "-"},
                {"\"controller\":{\"id\":\"4455", "\"controller\":{\"id\":\"4455\",\"name\":\"x", "-"},
                {"\"repository\":\"33", "\"repository\":\"3A", "-"},
                {"\"repository\":\"33", "\"repository\":\"3", "-"},
                {"\"format\":\"cairn.erasure-certificate.v1\"", "\"format\":\"cairn.erasure-certificate.v2\"", "P"},
                {"\"format\":\"cairn.erasure-certificate.v1\"", "\"format\":\"something else\"", "-"},
        };
        CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES), out = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        char id[CN_ID_HEX + 1];

        sign_sample(&file, id);
        const char *head = "{\"certificate\":";
        size_t tail = strlen(",\"signature\":{\"algorithm\":\"Ed25519\",\"public_key\":\"\",\"value\":\"\"}}\n") + 192;
        for (size_t i = 0; i < CN_ELEMENTSOF(edits); i++) {
                CnBuf m = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
                cn_buf_append(&m, file.data + strlen(head), file.len - strlen(head) - tail);
                replace(&m, edits[i][0], edits[i][1]);
                cn_buf_append(&m, "", 1);
                int r = sign_text((const char *) m.data, &out);
                cr_assert_eq(r, edits[i][2][0] == 'P' ? -EPROTONOSUPPORT : -EBADMSG, "%s: %d", edits[i][1], r);
                if (edits[i][2][0] != '-' && edits[i][2][0] != 'P') {
                        const char *why = NULL;
                        cn_certificate_verify(out.data, out.len, pk, NULL, &why);
                        cr_assert_not_null(strstr(why, edits[i][2]), "%s", why);
                }
                cn_buf_done(&m);
        }
        /* and the unchanged member, signed the same way, verifies: the
         * edits above are what is refused */
        CnBuf m = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        cn_buf_append(&m, file.data + strlen(head), file.len - strlen(head) - tail);
        cn_buf_append(&m, "", 1);
        cr_assert_eq(sign_text((const char *) m.data, &out), 0);
        /* the id must be the hash of the content */
        replace(&m, "\"reference\":\"ticket 4711\"", "\"reference\":\"ticket 4712\"");
        const char *why = NULL;
        sign_text((const char *) m.data, &out);
        cr_assert_eq(cn_certificate_verify(out.data, out.len, pk, NULL, &why), -EBADMSG);
        cr_assert_not_null(strstr(why, "\"id\""), "%s", why);
        cn_buf_done(&m);
        cn_buf_done(&file);
        cn_buf_done(&out);
}

Test(certificate, sign_refuses_what_a_reader_would_refuse, .init = init) {
        CnBuf file = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        char id[CN_ID_HEX + 1];
        CnCertificate c;
        CnCertificateLocation pending[] = {
                {"/srv/repo", CN_CERTIFICATE_LOCATION_REPOSITORY, CN_CERTIFICATE_LOCATION_DONE},
                {"sftp://u:pw@host/r", CN_CERTIFICATE_LOCATION_REPLICA, CN_CERTIFICATE_LOCATION_PENDING},
        };
        char *big = malloc(CN_CERTIFICATE_MAX_TEXT_BYTES + 2);
        memset(big, 'a', CN_CERTIFICATE_MAX_TEXT_BYTES + 1);
        big[CN_CERTIFICATE_MAX_TEXT_BYTES + 1] = 0;

#define REFUSED(what, edit)                                                                                            \
        do {                                                                                                           \
                c = sample();                                                                                          \
                edit;                                                                                                  \
                cr_assert_eq(cn_certificate_sign(&c, sk, &file, id), -EINVAL, "%s", what);                             \
        } while (0)
        REFUSED("control character", c.reason = "a\nb");
        REFUSED("DEL", c.reason = "a\x7f");
        REFUSED("not UTF-8", c.reference = "\xff");
        REFUSED("overlong UTF-8", c.reference = "\xc0\xaf");
        REFUSED("surrogate", c.reference = "\xed\xa0\x80");
        REFUSED("reason over 4096 bytes", c.reason = big);
        REFUSED("scope 0", c.scope = 0);
        REFUSED("scope 5", c.scope = 5);
        REFUSED("status 0", c.status = 0);
        REFUSED("count over INT64_MAX", c.counts.bytes_erased = (uint64_t) INT64_MAX + 1);
        REFUSED("time before 1970", c.started_at = -1);
        REFUSED("time after 9999", c.completed_at = CN_CERTIFICATE_MAX_TIME + 1);
        REFUSED("complete with a deferred part", c.status = CN_CERTIFICATE_COMPLETE);
        REFUSED("partial with a time", c.status = CN_CERTIFICATE_PARTIAL);
        REFUSED("url with a password", (c.locations = pending, c.n_locations = 2, c.n_deferred = 0,
                                        c.status = CN_CERTIFICATE_PARTIAL, c.cryptographically_complete = false));
        REFUSED("deferred without a deferred part", c.n_deferred = 0);
        /* the same, right: accepted */
        pending[1].url = "sftp://u@host/r";
        c = sample();
        c.locations = pending;
        c.n_locations = 2;
        c.n_deferred = 0;
        c.status = CN_CERTIFICATE_PARTIAL;
        c.cryptographically_complete = false;
        c.reason = big + 1; /* exactly 4096 bytes */
        cr_assert_eq(cn_certificate_sign(&c, sk, &file, id), 0);
        cr_assert_eq(cn_certificate_verify(file.data, file.len, pk, NULL, NULL), 0);
        cr_assert_not_null(memstr(&file, "\"cryptographically_complete_at\":null"));
        c.status = CN_CERTIFICATE_COMPLETE;
        c.cryptographically_complete = true;
        cr_assert_eq(cn_certificate_sign(&c, sk, &file, id), -EINVAL, "complete with a pending location");
        pending[1].status = CN_CERTIFICATE_LOCATION_DONE;
        cr_assert_eq(cn_certificate_sign(&c, sk, &file, id), 0);
        c.reference = NULL;
        c.reason = NULL;
        c.processor_name = NULL;
        cr_assert_eq(cn_certificate_sign(&c, sk, &file, id), 0);
        cr_assert_not_null(memstr(&file, "\"reason\":\"\",\"reference\":\"\""));
        free(big);
        cn_buf_done(&file);
}

Test(certificate, oversized_deep_or_crowded_input_is_refused_before_parsing, .init = init) {
        size_t n = CN_CERTIFICATE_MAX_BYTES + 1;
        uint8_t *p = malloc(n);
        const char *why = NULL;

        memset(p, ' ', n);
        cr_assert_eq(cn_certificate_verify(p, n, pk, NULL, &why), -E2BIG);
        cr_assert_not_null(strstr(why, "16 MiB"));
        /* 9 levels */
        const char *deep = "{\"certificate\":[[[[[[[[1]]]]]]]],\"signature\":{}}\n";
        cr_assert_eq(cn_certificate_verify((const uint8_t *) deep, strlen(deep), pk, NULL, &why), -EBADMSG);
        cr_assert_not_null(strstr(why, "nested"));
        /* braces inside strings do not count */
        const char *str = "{\"a\":\"[[[[[[[[[[[[{{{{{{{{{{\"}\n";
        cr_assert_eq(cn_certificate_verify((const uint8_t *) str, strlen(str), pk, NULL, &why), -EBADMSG);
        cr_assert_not_null(strstr(why, "not a certificate"), "%s", why);
        /* 2^20 + 1 values */
        size_t k = 0;
        p[k++] = '[';
        for (size_t i = 0; i <= CN_CERTIFICATE_MAX_VALUES; i++) {
                p[k++] = '0';
                p[k++] = ',';
        }
        p[k - 1] = ']';
        cr_assert_eq(cn_certificate_verify(p, k, pk, NULL, &why), -E2BIG);
        cr_assert_not_null(strstr(why, "values"));
        /* one fewer: exactly 2^20 of "[" and ",", parsed (and no certificate) */
        k -= 2;
        p[k - 1] = ']';
        p[k++] = '\n';
        cr_assert_eq(cn_certificate_verify(p, k, pk, NULL, &why), -EBADMSG);
        cr_assert_not_null(strstr(why, "not a certificate"), "%s", why);
        free(p);
}

Test(certificate, times_are_rfc3339_utc_seconds, .init = init) {
        char buf[CN_RFC3339_BYTES];
        cn_certificate_time(0, buf);
        cr_assert_str_eq(buf, "1970-01-01T00:00:00Z");
        cn_certificate_time(CN_CERTIFICATE_MAX_TIME, buf);
        cr_assert_str_eq(buf, "9999-12-31T23:59:59Z");
        cn_certificate_time(951782400, buf); /* a leap day */
        cr_assert_str_eq(buf, "2000-02-29T00:00:00Z");
}

static void count_damaged(const char *name, int error, void *userdata) {
        size_t *n = userdata;
        cr_assert_eq(strncmp(name, "certificates/", 13), 0, "%s", name);
        cr_assert(error == -EBADMSG, "%s: %d", name, error);
        (*n)++;
}

static void write_file(const char *path, const void *p, size_t n) {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        cr_assert_eq(fwrite(p, 1, n, f), n);
        cr_assert_eq(fclose(f), 0);
}

Test(certificate, stored_listed_read_back_and_damage_reported, .init = setup, .fini = teardown) {
        CnRepo *repo;
        CnBuf f1 = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES), f2 = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES),
              got = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        char id1[CN_ID_HEX + 1], id2[CN_ID_HEX + 1], found[CN_ID_HEX + 1], path[256], path2[256];
        CnCertificates list = {};
        CnCertificate c = sample(), d;
        size_t damaged = 99, reported = 0;

        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &repo), 0);
        CnController *ctl = cn_repo_controller(repo, 0);
        memcpy(c.controller, ctl->id, CN_UUID_BYTES);
        c.completed_at = 1796700000;
        cr_assert_eq(cn_certificate_issue(repo, &c, &f1, id1), 0);
        c.completed_at = 1796600000; /* earlier: listed first */
        c.reference = "ticket 4712";
        cr_assert_eq(cn_certificate_issue(repo, &c, &f2, id2), 0);

        /* signed by the repository's processor, not by what c said */
        cr_assert_eq(cn_certificate_verify(f1.data, f1.len, cn_repo_processor_public_key(repo), &d, NULL), 0);
        cr_assert_eq(memcmp(d.processor_id, cn_repo_processor_id(repo), CN_UUID_BYTES), 0);
        cr_assert_eq(memcmp(d.repository, cn_repo_id(repo), CN_UUID_BYTES), 0);
        cr_assert_str_eq(d.processor_name, "cairn");
        cn_certificate_done(&d);
        cr_assert_eq(cn_certificate_verify(f1.data, f1.len, pk, NULL, NULL), -EKEYREJECTED);

        /* top level, not under the controller's folders */
        snprintf(path, sizeof path, "%s/certificates/%s", dir, id1);
        cr_assert_eq(access(path, F_OK), 0);

        cr_assert_eq(cn_certificates_load(repo, NULL, NULL, &list, &damaged), 0);
        cr_assert_eq(damaged, 0);
        cr_assert_eq(list.n, 2);
        cr_assert_str_eq(list.v[0].id_hex, id2);
        cr_assert_str_eq(list.v[1].id_hex, id1);
        cr_assert_str_eq(list.v[0].reference, "ticket 4712");
        cn_certificates_done(&list);

        cr_assert_eq(cn_certificate_get(repo, id1, &got, &d), 0);
        cr_assert_eq(got.len, f1.len);
        cr_assert_eq(memcmp(got.data, f1.data, f1.len), 0);
        cr_assert_str_eq(d.id_hex, id1);
        cn_certificate_done(&d);
        cr_assert_eq(cn_certificate_get(repo, "00", &got, NULL), -ENOENT);

        /* prefixes */
        cr_assert_eq(cn_certificate_find(repo, id1, found), 1);
        cr_assert_str_eq(found, id1);
        char upper[CN_ID_HEX + 1];
        for (size_t i = 0; i <= CN_ID_HEX; i++)
                upper[i] = (char) toupper(id2[i]);
        cr_assert_eq(cn_certificate_find(repo, upper, found), 1);
        cr_assert_str_eq(found, id2);
        cr_assert_eq(cn_certificate_find(repo, "0123456789abcdef0123", found), 0);
        cr_assert_eq(cn_certificate_find(repo, "xyz", found), -EINVAL);
        cr_assert_eq(cn_certificate_find(repo, "", found), -EINVAL);

        /* stored again: the same file is fine (a resumed erasure), another
         * certificate is not stored, one of another processor is refused */
        cr_assert_eq(cn_certificate_put(repo, f1.data, f1.len, found), 0);
        cr_assert_str_eq(found, id1);
        CnBuf other = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES);
        CnCertificate o = sample();
        cr_assert_eq(cn_certificate_sign(&o, sk, &other, found), 0);
        cr_assert_eq(cn_certificate_put(repo, other.data, other.len, found), -EKEYREJECTED);
        cn_buf_done(&other);

        /* a flipped byte, and a good object under another name: damaged */
        snprintf(path2, sizeof path2, "%s/certificates/%064d", dir, 0);
        CnBuf obj = CN_BUF_INIT(CN_CERTIFICATE_MAX_BYTES + 4096);
        char name[128];
        snprintf(name, sizeof name, "certificates/%s", id2);
        cr_assert_eq(cn_backend_get(backend, name, 0, CN_GET_ALL, &obj), 0);
        write_file(path2, obj.data, obj.len);
        obj.data[obj.len / 2] ^= 1;
        snprintf(path, sizeof path, "%s/%s", dir, name);
        write_file(path, obj.data, obj.len);
        cr_assert_eq(cn_certificates_load(repo, count_damaged, &reported, &list, &damaged), 0);
        cr_assert_eq(damaged, 2);
        cr_assert_eq(reported, 2);
        cr_assert_eq(list.n, 1);
        cr_assert_str_eq(list.v[0].id_hex, id1);
        cn_certificates_done(&list);
        cr_assert_eq(cn_certificates_load(repo, NULL, NULL, &list, &damaged), -EBADMSG);
        cr_assert_eq(cn_certificate_get(repo, id2, &got, NULL), -EBADMSG);
        /* the damaged one is not stored over */
        cr_assert_eq(cn_certificate_put(repo, f2.data, f2.len, NULL), -EEXIST);

        cn_buf_done(&obj);
        cn_buf_done(&f1);
        cn_buf_done(&f2);
        cn_buf_done(&got);
        cn_repo_unref(repo);
}
