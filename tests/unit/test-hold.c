/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Legal holds (issue 9 item 4): strict bodies with caps on every field,
 * which snapshots and paths an active hold keeps, and holds and releases
 * stored, reloaded and refused twice on a local repository. The bodies'
 * golden vectors are in test-format.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "hold.h"

static char dir[64];
static CnBackend *backend;
static const CnRepoInitOptions fast = {.kdf = {1, 8192}};

static void init(void) {
        cr_assert_eq(cn_crypto_init(), 0);
}

static void setup(void) {
        init();
        snprintf(dir, sizeof dir, "/tmp/cairn-test-hold.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(cn_backend_open(dir, true, &backend), 0);
}

static void teardown(void) {
        char cmd[128];
        cn_backend_close(backend);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

static CnHold sample(void) {
        return (CnHold){.scope = CN_HOLD_TAG,
                        .value = "legal",
                        .reason = "audit",
                        .reference = "",
                        .creator = "root@host",
                        .created = 1700000000};
}

static char *repeat(char c, size_t n) {
        char *s = malloc(n + 1);
        memset(s, c, n);
        s[n] = 0;
        return s;
}

Test(hold, every_truncation_and_trailing_byte_is_refused, .init = init) {
        CnHold h = sample();
        CnBuf enc = CN_BUF_INIT(1 << 20);
        cr_assert_eq(cn_hold_encode(&h, &enc), 0);
        for (size_t len = 0; len < enc.len; len++) {
                CnHold t = {};
                cr_assert_eq(cn_hold_decode(enc.data, len, &t), -EBADMSG, "length %zu accepted", len);
                cn_hold_done(&t);
        }
        cr_assert_eq(cn_buf_append(&enc, "", 1), 0);
        CnHold t = {};
        cr_assert_eq(cn_hold_decode(enc.data, enc.len, &t), -EBADMSG, "trailing byte accepted");
        cn_hold_done(&t);
        /* scope byte 0 and 5: unknown */
        enc.len--;
        for (uint8_t bad = 0; bad < 6; bad += 5) {
                enc.data[0] = bad;
                cr_assert_eq(cn_hold_decode(enc.data, enc.len, &t), -EBADMSG, "scope %u accepted", bad);
                cn_hold_done(&t);
        }
        cn_buf_done(&enc);
}

/* Each string field at its cap is written and read back; one byte more is
 * refused by the writer and, forged, by the reader. */
Test(hold, every_field_has_a_cap, .init = init) {
        struct {
                size_t cap;
                int field;
        } cases[] = {
                {CN_MAX_LABEL_BYTES, 0}, /* tag value */
                {CN_MAX_HOLD_REASON_BYTES, 1}, {CN_MAX_HOLD_REFERENCE_BYTES, 2}, {CN_MAX_LABEL_BYTES, 3}, /* creator */
                {CN_MAX_PATH_BYTES, 4}, /* path pattern */
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
                for (size_t extra = 0; extra < 2; extra++) {
                        CnHold h = sample(), back = {};
                        char *s = repeat('x', cases[i].cap + extra);
                        CnBuf enc = CN_BUF_INIT(1 << 20);
                        char **f[] = {&h.value, &h.reason, &h.reference, &h.creator, &h.value};
                        if (cases[i].field == 4) {
                                s[0] = '/';
                                h.scope = CN_HOLD_PATH;
                        }
                        *f[cases[i].field] = s;
                        cr_assert_eq(cn_hold_encode(&h, &enc), extra ? -EINVAL : 0, "field %d, %zu bytes",
                                     cases[i].field, cases[i].cap + extra);
                        if (extra) {
                                /* forge it: write the body by hand with the field one byte over */
                                *f[cases[i].field] = repeat('x', cases[i].cap);
                                if (cases[i].field == 4)
                                        (*f[cases[i].field])[0] = '/';
                                cr_assert_eq(cn_hold_encode(&h, &enc), 0);
                                free(*f[cases[i].field]);
                                size_t off = 1;
                                for (int k = 0; k < 5; k++) {
                                        uint32_t len = cn_le32_get(enc.data + off);
                                        int fk = cases[i].field == 4 ? 0 : cases[i].field;
                                        if (k == fk) {
                                                CnBuf forged = CN_BUF_INIT(1 << 20);
                                                cn_buf_append(&forged, enc.data, off);
                                                cn_buf_put_u32(&forged, len + 1);
                                                cn_buf_append(&forged, enc.data + off + 4, len);
                                                cn_buf_append(&forged, "x", 1);
                                                cn_buf_append(&forged, enc.data + off + 4 + len,
                                                              enc.len - off - 4 - len);
                                                cr_assert_eq(cn_hold_decode(forged.data, forged.len, &back), -EBADMSG,
                                                             "field %d over its cap accepted", fk);
                                                cn_buf_done(&forged);
                                                break;
                                        }
                                        off += 4 + len;
                                }
                        } else {
                                cr_assert_eq(cn_hold_decode(enc.data, enc.len, &back), 0);
                        }
                        free(s);
                        cn_hold_done(&back);
                        cn_buf_done(&enc);
                }
}

Test(hold, values_must_be_what_their_scope_says, .init = init) {
        const struct {
                CnHoldScope scope;
                const char *value;
                int want;
        } cases[] = {
                {CN_HOLD_SNAPSHOT, "abcd", -EINVAL},
                {CN_HOLD_SNAPSHOT, "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", -EINVAL},
                {CN_HOLD_SNAPSHOT, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", 0},
                {CN_HOLD_CONTROLLER, "abcdef0123456789abcdef012345678", -EINVAL},
                {CN_HOLD_CONTROLLER, "abcdef0123456789abcdef0123456789", 0},
                {CN_HOLD_TAG, "", -EINVAL},
                {CN_HOLD_PATH, "", -EINVAL},
                {(CnHoldScope) 9, "x", -EINVAL},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                CnHold h = sample();
                CnBuf enc = CN_BUF_INIT(4096);
                h.scope = cases[i].scope;
                h.value = (char *) cases[i].value;
                cr_assert_eq(cn_hold_encode(&h, &enc), cases[i].want, "case %zu", i);
                cn_buf_done(&enc);
        }
        CnHold h = sample();
        CnBuf enc = CN_BUF_INIT(4096);
        h.reason = "";
        cr_assert_eq(cn_hold_encode(&h, &enc), -EINVAL, "a hold needs a reason");
        CnHoldRelease rel = {.reason = "", .creator = "x"};
        cr_assert_eq(cn_hold_release_encode(&rel, &enc), -EINVAL, "a release needs a reason");
        rel.reason = "done";
        cr_assert_eq(cn_hold_release_encode(&rel, &enc), 0);
        for (size_t len = 0; len < enc.len; len++) {
                CnHoldRelease t = {};
                cr_assert_eq(cn_hold_release_decode(enc.data, len, &t), -EBADMSG, "length %zu accepted", len);
                cn_hold_release_done(&t);
        }
        cn_buf_done(&enc);
}

/* A hold as cn_holds_load() gives it: decoded (so a path pattern is compiled). */
static void add_hold(CnHolds *hs, CnController *c, CnHoldScope scope, const char *value) {
        CnHold h = sample();
        CnBuf enc = CN_BUF_INIT(1 << 20);
        h.scope = scope;
        h.value = (char *) value;
        cr_assert_eq(cn_hold_encode(&h, &enc), 0);
        hs->v = realloc(hs->v, (hs->n + 1) * sizeof *hs->v);
        hs->v[hs->n] = (CnHold){};
        cr_assert_eq(cn_hold_decode(enc.data, enc.len, &hs->v[hs->n]), 0);
        hs->v[hs->n].controller = c;
        hs->n++;
        cn_buf_done(&enc);
}

static bool covers_one(CnController *c, CnHoldScope scope, const char *value, CnSnapshot *s) {
        CnHolds hs = {};
        add_hold(&hs, c, scope, value);
        bool r = cn_hold_covers_snapshot(&hs, s);
        cn_holds_done(&hs);
        return r;
}

Test(hold, covers_snapshots_by_every_scope, .init = init) {
        CnController a = {.id_hex = "0123456789abcdef0123456789abcdef"}, b = {};
        char *paths[] = {"/home/bob", "/etc"}, *tags[] = {"daily", "legal"};
        CnSnapshot s = {.id_hex = "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
                        .controller = &a,
                        .paths = paths,
                        .n_paths = 2,
                        .tags = tags,
                        .n_tags = 2};

        cr_assert(covers_one(&a, CN_HOLD_SNAPSHOT, s.id_hex, &s));
        cr_assert_not(covers_one(&a, CN_HOLD_SNAPSHOT,
                                 "bbcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789", &s));
        cr_assert(covers_one(&a, CN_HOLD_CONTROLLER, a.id_hex, &s));
        cr_assert_not(covers_one(&b, CN_HOLD_CONTROLLER, a.id_hex, &s), "another controller's hold");
        cr_assert(covers_one(&a, CN_HOLD_TAG, "legal", &s));
        cr_assert_not(covers_one(&a, CN_HOLD_TAG, "leg", &s));
        cr_assert_not(covers_one(&b, CN_HOLD_TAG, "legal", &s), "another controller's hold");
        /* Path patterns: any that may name something s holds. */
        const struct {
                const char *pattern;
                bool covers;
        } p[] = {
                {"/home/bob", true},  {"/home/bob/mail", true}, {"/home", true},
                {"/", true},          {"/home/*/mail", true},   {"/home/bo*", true},
                {"/etc/**", true},    {"/home/bob/", true},     {"/home/bobby", false},
                {"/var/mail", false}, {"/var/*", false},        {"/ho*/x", true /* errs towards keeping */},
                {"*.pdf", true},      {"mail/inbox", true},     {"/var/../home/bob", true},
                {"/var//x", true},
        };
        for (size_t i = 0; i < sizeof p / sizeof p[0]; i++)
                cr_assert_eq(covers_one(&a, CN_HOLD_PATH, p[i].pattern, &s), p[i].covers, "pattern %s", p[i].pattern);
}

Test(hold, a_released_hold_covers_nothing, .init = init) {
        CnController a = {};
        CnSnapshot s = {.id_hex = "x", .controller = &a};
        CnHolds hs = {};
        CnHoldRelease rel = {};
        add_hold(&hs, &a, CN_HOLD_CONTROLLER, "0123456789abcdef0123456789abcdef");
        cr_assert(cn_hold_covers_snapshot(&hs, &s));
        cr_assert(cn_hold_covers_path(&hs, &s, "/any"));
        hs.v[0].release = &rel;
        cr_assert_not(cn_hold_covers_snapshot(&hs, &s));
        cr_assert_not(cn_hold_covers_path(&hs, &s, "/any"));
        cn_holds_done(&hs);
}

Test(hold, covers_paths_at_and_below_a_pattern, .init = init) {
        CnController a = {};
        char *paths[] = {"/"};
        CnSnapshot s = {.id_hex = "x", .controller = &a, .paths = paths, .n_paths = 1};
        CnHolds hs = {};
        add_hold(&hs, &a, CN_HOLD_PATH, "/home/*/mail");
        cr_assert(cn_hold_covers_snapshot(&hs, &s));
        cr_assert(cn_hold_covers_path(&hs, &s, "/home/bob/mail"));
        cr_assert(cn_hold_covers_path(&hs, &s, "/home/bob/mail/inbox/1"));
        cr_assert_not(cn_hold_covers_path(&hs, &s, "/home/bob"));
        cr_assert_not(cn_hold_covers_path(&hs, &s, "/home/bob/docs/mail.txt"));
        cr_assert_not(cn_hold_covers_path(&hs, &s, "/"));
        cn_holds_done(&hs);
        add_hold(&hs, &a, CN_HOLD_PATH, "/");
        cr_assert(cn_hold_covers_path(&hs, &s, "/etc/passwd"));
        cn_holds_done(&hs);
}

Test(hold, saved_loaded_released_once, .init = setup, .fini = teardown) {
        CnRepo *repo;
        CnHolds hs = {};
        size_t damaged = 99;
        CnHold *found = NULL;

        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &repo), 0);
        CnController *c = cn_repo_controller(repo, 0);
        CnHold h = sample();
        h.controller = c;
        h.has_review = true;
        h.review = 1800000000;
        cr_assert_eq(cn_hold_save(repo, &h), 0);
        cr_assert_eq(strlen(h.id_hex), CN_ID_HEX);
        CnHold other = sample();
        other.controller = c;
        other.scope = CN_HOLD_CONTROLLER;
        other.value = "0123456789abcdef0123456789abcdef";
        cr_assert_eq(cn_hold_save(repo, &other), -EINVAL, "a controller hold names its own controller");

        cr_assert_eq(cn_holds_load(repo, NULL, NULL, NULL, &hs, &damaged), 0);
        cr_assert_eq(damaged, 0);
        cr_assert_eq(hs.n, 1);
        cr_assert_str_eq(hs.v[0].id_hex, h.id_hex);
        cr_assert_str_eq(hs.v[0].value, "legal");
        cr_assert(hs.v[0].has_review);
        cr_assert_eq(hs.v[0].review, 1800000000);
        cr_assert(cn_hold_active(&hs.v[0]));
        cr_assert_eq(cn_holds_find(&hs, "zz", &found), -EINVAL);
        cr_assert_eq(cn_holds_find(&hs, h.id_hex, &found), 1);
        cr_assert_eq(found, &hs.v[0]);

        CnHoldRelease rel = {.reason = "closed", .creator = "ops@host", .created = 1750000000};
        cr_assert_eq(cn_hold_release(repo, &hs, found, &rel), 0);
        cr_assert_not(cn_hold_active(found));
        cr_assert_eq(cn_hold_release(repo, &hs, found, &rel), -EALREADY);
        cn_holds_done(&hs);

        cr_assert_eq(cn_holds_load(repo, c, NULL, NULL, &hs, &damaged), 0);
        cr_assert_eq(hs.n, 1);
        cr_assert_eq(hs.n_releases, 1);
        cr_assert_not(cn_hold_active(&hs.v[0]), "the release is stored");
        cr_assert_str_eq(hs.v[0].release->reason, "closed");
        cr_assert_eq(cn_hold_release(repo, &hs, &hs.v[0], &rel), -EALREADY);
        cn_holds_done(&hs);
        cn_repo_unref(repo);
}

static void count_damaged(const char *name, int error, void *userdata) {
        size_t *n = userdata;
        cr_assert_eq(strncmp(name, "holds/", 6), 0);
        cr_assert_eq(error, -EBADMSG);
        (*n)++;
}

/* A hold with a flipped byte, or a copy under another name, is reported and
 * counted (so a deleting caller can refuse); without a callback loading fails. */
Test(hold, damaged_objects_are_counted, .init = setup, .fini = teardown) {
        CnRepo *repo;
        CnHolds hs = {};
        size_t damaged = 0, reported = 0;
        char path[256], copy[256], cmd[1024];

        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &repo), 0);
        CnController *c = cn_repo_controller(repo, 0);
        CnHold h = sample(), g = sample();
        h.controller = g.controller = c;
        g.value = "other";
        cr_assert_eq(cn_hold_save(repo, &h), 0);
        cr_assert_eq(cn_hold_save(repo, &g), 0);
        snprintf(path, sizeof path, "%s/holds/%s/%s", dir, c->id_hex, h.id_hex);
        snprintf(copy, sizeof copy, "%s/holds/%s/%064d", dir, c->id_hex, 0);
        snprintf(cmd, sizeof cmd, "cp '%s' '%s' && printf '\\377' | dd of='%s' bs=1 seek=80 conv=notrunc status=none",
                 path, copy, path);
        cr_assert_eq(system(cmd), 0);
        cr_assert_eq(cn_holds_load(repo, NULL, count_damaged, &reported, &hs, &damaged), 0);
        cr_assert_eq(damaged, 2, "flipped byte and wrong name");
        cr_assert_eq(reported, 2);
        cr_assert_eq(hs.n, 1);
        cr_assert_str_eq(hs.v[0].value, "other");
        cn_holds_done(&hs);
        cr_assert_eq(cn_holds_load(repo, NULL, NULL, NULL, &hs, &damaged), -EBADMSG);
        cn_repo_unref(repo);
}
