/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Stored retention policies (issue 11, "retention rules ... with computed
 * expiry"): strict bodies with caps on every field; set, supersede, race
 * and clear on a local repository; a damaged policy that might be the one
 * in effect refuses; the expiry of keep-within rules is where forget's own
 * limit reaches the snapshot, month ends and clock changes included. The
 * body's golden vector is in test-format.c. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "envelope.h"
#include "format.h"
#include "hold.h"
#include "macro.h"
#include "retention.h"

static char dir[64];
static CnBackend *backend;
static const CnRepoInitOptions fast = {.kdf = {1, 8192}};

static void init(void) {
        cr_assert_eq(cn_crypto_init(), 0);
        setenv("TZ", "UTC", 1);
        tzset();
}

static void setup(void) {
        init();
        snprintf(dir, sizeof dir, "/tmp/cairn-test-retention.XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
        cr_assert_eq(cn_backend_open(dir, true, &backend), 0);
}

static void teardown(void) {
        char cmd[128];
        cn_backend_close(backend);
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        cr_assert_eq(system(cmd), 0);
}

static CnRetention sample(void) {
        CnRetention p = {.created = 1700000000, .creator = "root@host"};
        p.policy.keep[CN_FORGET_DAILY] = 7;
        p.policy.keep[CN_FORGET_LAST] = CN_FORGET_UNLIMITED;
        p.policy.within = (CnDuration){.days = 30};
        p.policy.within_bucket[CN_FORGET_WEEKLY] = (CnDuration){.years = 1, .hours = 2};
        return p;
}

static void encode(const CnRetention *p, CnBuf *b) {
        cn_buf_init(b, 1 << 20);
        cr_assert_eq(cn_retention_encode(p, b), 0);
}

Test(retention, decodes_what_it_encodes_and_refuses_every_cut_and_extra_byte, .init = init) {
        uint8_t ids[2][CN_ID_BYTES];
        memset(ids[0], 1, CN_ID_BYTES);
        memset(ids[1], 2, CN_ID_BYTES);
        CnRetention p = sample(), back = {};
        p.supersedes = ids;
        p.n_supersedes = 2;
        CnBuf b;
        encode(&p, &b);
        cr_assert_eq(b.len, 6 * 8 + 6 * 16 + 8 + 4 + strlen("root@host") + 4 + 64);
        cr_assert_eq(cn_retention_decode(b.data, b.len, &back), 0);
        cr_assert_eq(memcmp(back.policy.keep, p.policy.keep, sizeof p.policy.keep), 0);
        cr_assert_eq(back.policy.within.days, 30);
        cr_assert_eq(back.policy.within_bucket[CN_FORGET_WEEKLY].years, 1);
        cr_assert_eq(back.policy.within_bucket[CN_FORGET_WEEKLY].hours, 2);
        cr_assert_eq(back.created, p.created);
        cr_assert_str_eq(back.creator, "root@host");
        cr_assert_eq(back.n_supersedes, 2);
        cr_assert_eq(memcmp(back.supersedes, ids, sizeof ids), 0);
        cn_retention_done(&back);
        for (size_t len = 0; len < b.len; len++)
                cr_assert_eq(cn_retention_decode(b.data, len, &back), -EBADMSG, "length %zu accepted", len);
        cr_assert_eq(cn_buf_put_u8(&b, 0), 0);
        cr_assert_eq(cn_retention_decode(b.data, b.len, &back), -EBADMSG);
        cn_buf_done(&b);
}

/* Each field out of range: the encoder refuses it, and its bytes (written
 * by hand from a good body) do not decode. */
Test(retention, every_field_has_a_range, .init = init) {
        CnRetention good = sample();
        CnBuf b;
        encode(&good, &b);
        /* offsets: keep[i] at 8i; durations at 48 + 16i (+4 a part); created 144; creator 152 */
        const struct {
                size_t offset;
                uint64_t value;
                unsigned width;
        } bad[] = {
                {0, (uint64_t) -2, 8},                  /* keep_last below -1 */
                {16, (uint64_t) INT32_MAX + 1, 8},      /* keep_daily over 2^31 - 1 */
                {48, CN_DURATION_MAX + 1, 4},           /* within years */
                {48 + 16 + 12, CN_DURATION_MAX + 1, 4}, /* within_hourly hours */
                {152, CN_MAX_LABEL_BYTES + 1, 4},       /* creator length */
        };
        for (size_t i = 0; i < CN_ELEMENTSOF(bad); i++) {
                CnBuf t = CN_BUF_INIT(1 << 20);
                CnRetention back = {};
                cr_assert_eq(cn_buf_append(&t, b.data, b.len), 0);
                for (unsigned k = 0; k < bad[i].width; k++)
                        t.data[bad[i].offset + k] = (uint8_t) (bad[i].value >> (8 * k));
                cr_assert_eq(cn_retention_decode(t.data, t.len, &back), -EBADMSG, "case %zu decoded", i);
                cn_buf_done(&t);
        }
        /* a NUL inside the creator */
        b.data[156] = 0;
        CnRetention back = {};
        cr_assert_eq(cn_retention_decode(b.data, b.len, &back), -EBADMSG);
        cn_buf_done(&b);

        CnBuf out = CN_BUF_INIT(1 << 20);
        CnRetention p = sample();
        p.policy.keep[CN_FORGET_HOURLY] = -2;
        cr_assert_eq(cn_retention_encode(&p, &out), -EINVAL);
        p = sample();
        p.policy.keep[CN_FORGET_YEARLY] = (int64_t) INT32_MAX + 1;
        cr_assert_eq(cn_retention_encode(&p, &out), -EINVAL);
        p = sample();
        p.policy.within.months = CN_DURATION_MAX + 1;
        cr_assert_eq(cn_retention_encode(&p, &out), -EINVAL);
        p = sample();
        p.policy.within_bucket[CN_FORGET_LAST].days = 1; /* no such rule */
        cr_assert_eq(cn_retention_encode(&p, &out), -EINVAL);
        p = sample();
        CnTagList tags = {};
        p.policy.keep_tags = &tags;
        p.policy.n_keep_tags = 1; /* tags are forget's alone */
        cr_assert_eq(cn_retention_encode(&p, &out), -EINVAL);
        p = sample();
        char *long_creator = malloc(CN_MAX_LABEL_BYTES + 2);
        memset(long_creator, 'a', CN_MAX_LABEL_BYTES + 1);
        long_creator[CN_MAX_LABEL_BYTES + 1] = 0;
        p.creator = long_creator;
        cr_assert_eq(cn_retention_encode(&p, &out), -EINVAL);
        free(long_creator);
        cr_assert_eq(out.len, 0);
        cn_buf_done(&out);
}

Test(retention, superseded_ids_are_capped_sorted_and_unique, .init = init) {
        uint8_t ids[CN_RETENTION_MAX_SUPERSEDES + 1][CN_ID_BYTES];
        for (size_t i = 0; i < CN_ELEMENTSOF(ids); i++)
                memset(ids[i], (int) i + 1, CN_ID_BYTES);
        CnRetention p = sample(), back = {};
        CnBuf out = CN_BUF_INIT(1 << 20);
        p.supersedes = ids;
        p.n_supersedes = CN_RETENTION_MAX_SUPERSEDES + 1;
        cr_assert_eq(cn_retention_encode(&p, &out), -EINVAL);
        p.n_supersedes = CN_RETENTION_MAX_SUPERSEDES;
        cr_assert_eq(cn_retention_encode(&p, &out), 0);
        cn_buf_reset(&out);
        p.supersedes = ids + 1;
        p.n_supersedes = 2;
        memcpy(ids[2], ids[1], CN_ID_BYTES); /* the same id twice */
        cr_assert_eq(cn_retention_encode(&p, &out), -EINVAL);
        memset(ids[2], 0, CN_ID_BYTES); /* decreasing */
        cr_assert_eq(cn_retention_encode(&p, &out), -EINVAL);
        /* and a body that says so does not decode */
        memset(ids[2], 0xff, CN_ID_BYTES);
        cr_assert_eq(cn_retention_encode(&p, &out), 0);
        memset(out.data + out.len - CN_ID_BYTES, 0, CN_ID_BYTES);
        cr_assert_eq(cn_retention_decode(out.data, out.len, &back), -EBADMSG);
        /* a count over the cap with the ids behind it */
        cn_buf_reset(&out);
        p.n_supersedes = 0;
        cr_assert_eq(cn_retention_encode(&p, &out), 0);
        out.len -= 4;
        cr_assert_eq(cn_buf_put_u32(&out, CN_RETENTION_MAX_SUPERSEDES + 1), 0);
        for (size_t i = 0; i < CN_ELEMENTSOF(ids); i++)
                cr_assert_eq(cn_buf_append(&out, ids[i], CN_ID_BYTES), 0);
        cr_assert_eq(cn_retention_decode(out.data, out.len, &back), -EBADMSG);
        cn_buf_done(&out);
}

static CnForgetPolicy daily(int64_t n) {
        CnForgetPolicy p = {};
        p.keep[CN_FORGET_DAILY] = n;
        return p;
}

static void reload(CnRepo *repo, CnController *c, CnRetentions *l) {
        cn_retentions_done(l);
        cr_assert_eq(cn_retentions_load(repo, c, NULL, NULL, l), 0);
}

static size_t count_objects(const CnController *c) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "ls %s/retention/%s 2>/dev/null | wc -l", dir, c->id_hex);
        FILE *f = popen(cmd, "r");
        size_t n = 0;
        cr_assert_eq(fscanf(f, "%zu", &n), 1);
        pclose(f);
        return n;
}

Test(retention, set_supersedes_and_removes_the_old_one, .init = setup, .fini = teardown) {
        CnRepo *repo;
        CnRetentions l = {};
        CnForgetPolicy got;
        bool set;
        int64_t created;

        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &repo), 0);
        CnController *c = cn_repo_controller(repo, 0);
        cr_assert_eq(cn_retention_load(repo, c, &got, &set, &created), 0);
        cr_assert(!set, "a new repository has no stored policy");

        CnForgetPolicy p = daily(7);
        CnRetention first = {};
        reload(repo, c, &l);
        cr_assert_eq(cn_retention_set(repo, c, &l, &p, "a@h", 1000, &first), 0);
        cr_assert_eq(cn_retention_load(repo, c, &got, &set, &created), 0);
        cr_assert(set);
        cr_assert_eq(got.keep[CN_FORGET_DAILY], 7);
        cr_assert_eq(created, 1000);

        p = daily(3);
        reload(repo, c, &l);
        CnRetention second = {};
        cr_assert_eq(cn_retention_set(repo, c, &l, &p, "b@h", 2000, &second), 0);
        cr_assert_eq(second.n_supersedes, 1);
        cr_assert_eq(memcmp(second.supersedes[0], first.id, CN_ID_BYTES), 0);
        cr_assert_eq(count_objects(c), 1, "the superseded policy was not removed");
        cr_assert_eq(cn_retention_load(repo, c, &got, &set, &created), 0);
        cr_assert_eq(got.keep[CN_FORGET_DAILY], 3);

        /* clear: an empty policy supersedes it; none is in effect */
        CnForgetPolicy none = {};
        reload(repo, c, &l);
        cr_assert_eq(cn_retention_set(repo, c, &l, &none, "c@h", 3000, NULL), 0);
        cr_assert_eq(cn_retention_load(repo, c, &got, &set, &created), 0);
        cr_assert(!set, "a cleared policy is still in effect");
        reload(repo, c, &l);
        cr_assert_eq(l.n, 1);
        cr_assert_not_null(l.effective);
        cr_assert_eq(l.effective->created, 3000);
        cn_retentions_done(&l);
        cn_retention_done(&first);
        cn_retention_done(&second);
        cn_repo_unref(repo);
}

/* Two sets from the same state (two operators at once): neither is lost;
 * the newer is in effect, the other listed; the next set replaces both. */
Test(retention, racing_sets_both_stay_visible, .init = setup, .fini = teardown) {
        CnRepo *repo;
        CnRetentions base = {}, l = {};
        CnForgetPolicy got, p;
        bool set;

        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &repo), 0);
        CnController *c = cn_repo_controller(repo, 0);
        p = daily(1);
        reload(repo, c, &base);
        cr_assert_eq(cn_retention_set(repo, c, &base, &p, "x@h", 100, NULL), 0);
        reload(repo, c, &base);
        p = daily(5);
        cr_assert_eq(cn_retention_set(repo, c, &base, &p, "late@h", 500, NULL), 0);
        p = daily(4);
        cr_assert_eq(cn_retention_set(repo, c, &base, &p, "early@h", 400, NULL), 0);
        reload(repo, c, &l);
        cr_assert_eq(l.n, 2);
        cr_assert_eq(l.n_heads, 2);
        cr_assert_str_eq(l.effective->creator, "late@h");
        cr_assert_eq(cn_retention_load(repo, c, &got, &set, NULL), 0);
        cr_assert_eq(got.keep[CN_FORGET_DAILY], 5);
        p = daily(9);
        cr_assert_eq(cn_retention_set(repo, c, &l, &p, "z@h", 600, NULL), 0);
        reload(repo, c, &l);
        cr_assert_eq(l.n, 1);
        cr_assert_eq(l.n_heads, 1);
        cr_assert_eq(l.effective->n_supersedes, 2);
        cn_retentions_done(&l);
        cn_retentions_done(&base);
        cn_repo_unref(repo);
}

static void note_damaged(const char *name, int error, void *u) {
        (void) name;
        (void) error;
        (*(size_t *) u)++;
}

/* A policy object that does not open might be the newest: the policy in
 * effect is unknown until a set supersedes it. Another that a good one
 * supersedes already does no harm. */
Test(retention, a_damaged_head_makes_the_policy_unknown, .init = setup, .fini = teardown) {
        CnRepo *repo;
        CnRetentions l = {};
        CnRetention x = {};
        CnForgetPolicy got, p = daily(2);
        bool set;
        size_t reported = 0;
        char path[512], cmd[1200];

        cr_assert_eq(cn_repo_init(backend, "pw", 2, &fast, &repo), 0);
        CnController *c = cn_repo_controller(repo, 0);
        reload(repo, c, &l);
        cr_assert_eq(cn_retention_set(repo, c, &l, &p, "a@h", 100, &x), 0);
        snprintf(path, sizeof path, "%s/retention/%s/%s", dir, c->id_hex, x.id_hex);
        snprintf(cmd, sizeof cmd, "printf 'X' | dd of=%s bs=1 seek=70 conv=notrunc status=none", path);
        cr_assert_eq(system(cmd), 0);
        cr_assert_eq(cn_retention_load(repo, c, &got, &set, NULL), -EBADMSG);
        cn_retentions_done(&l);
        cr_assert_eq(cn_retentions_load(repo, c, note_damaged, &reported, &l), 0);
        cr_assert_eq(reported, 1);
        cr_assert_eq(l.n_damaged, 1);
        cr_assert_eq(l.n_damaged_heads, 1);
        cr_assert_null(l.effective);
        /* a set supersedes it (by its name), and keeps it for check to name */
        p = daily(6);
        CnRetention y = {};
        cr_assert_eq(cn_retention_set(repo, c, &l, &p, "b@h", 200, &y), 0);
        cr_assert_eq(y.n_supersedes, 1);
        cr_assert_eq(memcmp(y.supersedes[0], x.id, CN_ID_BYTES), 0);
        cr_assert_eq(access(path, F_OK), 0, "a damaged object was removed");
        cr_assert_eq(cn_retention_load(repo, c, &got, &set, NULL), 0);
        cr_assert(set);
        cr_assert_eq(got.keep[CN_FORGET_DAILY], 6);
        /* an object copied over another's name is damaged too */
        cn_retention_done(&x);
        cn_retention_done(&y);
        cn_retentions_done(&l);
        cn_repo_unref(repo);
}

/* ---- expiry ---- */

static int64_t utc(int y, int mo, int d, int h, int mi, int s) {
        struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = s};
        return timegm(&tm);
}

static bool ends(int64_t T, CnTime t, const CnDuration *d) {
        CnTime l = cn_forget_within_limit((CnTime){T, t.nsec}, d);
        return l.sec > t.sec || (l.sec == t.sec && l.nsec >= t.nsec);
}

/* Where forget's limit first reaches the snapshot: at the expiry the rule
 * no longer keeps it, a second before it still does. */
static void check_expiry(int64_t t, CnDuration d) {
        CnTime s = {t, 5}, e = cn_retention_within_expiry(s, &d);
        char buf[64];
        cr_assert_neq(e.sec, INT64_MAX, "no expiry for %s + %s", ctime_r(&(time_t){t}, buf),
                      cn_duration_format(&d, (char[64]){}, 64));
        cr_assert(e.sec >= t);
        cr_assert(ends(e.sec, s, &d), "the rule still keeps it at its expiry (t %lld, d %s, e %lld)", (long long) t,
                  cn_duration_format(&d, buf, sizeof buf), (long long) e.sec);
        cr_assert(!ends(e.sec - 1, s, &d), "the rule ended before its expiry (t %lld, d %s, e %lld)", (long long) t,
                  cn_duration_format(&d, buf, sizeof buf), (long long) e.sec);
}

static void expiry_cases(void) {
        const CnDuration ds[] = {
                {.hours = 1}, {.days = 1},   {.days = 7},
                {.days = 30}, {.months = 1}, {.months = 1, .days = 2, .hours = 3},
                {.years = 1}, {.years = 7},  {.months = 13},
        };
        const int64_t ts[] = {
                utc(2026, 3, 15, 12, 0, 0), utc(2026, 1, 31, 10, 20, 30), utc(2024, 2, 29, 23, 59, 59),
                utc(2026, 3, 29, 1, 30, 0), utc(2026, 10, 25, 2, 30, 0),  utc(2025, 12, 31, 23, 0, 0),
                utc(2026, 5, 31, 0, 0, 0),
        };
        for (size_t i = 0; i < CN_ELEMENTSOF(ts); i++)
                for (size_t k = 0; k < CN_ELEMENTSOF(ds); k++)
                        check_expiry(ts[i], ds[k]);
}

Test(retention, within_expiry_is_where_the_limit_reaches_the_snapshot, .init = init) {
        expiry_cases();
        /* a month after January 31 has no day 31: the limit counts it
         * from March; and near a clock change in local time */
        setenv("TZ", "Europe/Berlin", 1);
        tzset();
        expiry_cases();
        CnTime e = cn_retention_within_expiry((CnTime){utc(2026, 1, 1, 0, 0, 0), 0}, &(CnDuration){.years = 1000000});
        cr_assert_eq(e.sec, INT64_MAX, "an expiry past year 9999 is no date");
}

static CnController ctl = {.name = "c"};
static char *paths[] = {"/srv"};

static CnSnapshot snap(int64_t t, const char *id) {
        CnSnapshot s = {.controller = &ctl, .time = {t, 0}, .hostname = "h", .paths = paths, .n_paths = 1};
        snprintf(s.id_hex, sizeof s.id_hex, "%s", id);
        return s;
}

/* keep-last 1 and keep-within 2d over four daily snapshots: the newest is
 * kept by a count (no date), the one before by the duration alone (its
 * date), the oldest two not at all; a held one is kept, and says so. */
Test(retention, expiry_names_the_rules_and_the_date, .init = init) {
        int64_t day = 86400, t0 = utc(2026, 6, 1, 12, 0, 0);
        CnSnapshot list[4] = {snap(t0, "a"), snap(t0 + day, "b"), snap(t0 + 2 * day, "c"), snap(t0 + 3 * day, "d")};
        CnForgetPolicy p = {};
        CnRetentionVerdict v[4];
        p.keep[CN_FORGET_LAST] = 1;
        p.within = (CnDuration){.days = 2};
        cr_assert_eq(cn_retention_expiry(&p, list, 4, (CnTime){t0 + 10 * day, 0}, v), 0);
        cr_assert(!v[0].keep && !v[1].keep && !v[0].n_rules);
        cr_assert(v[2].keep && !v[2].counted && !v[2].held);
        cr_assert_eq(v[2].n_rules, 1);
        cr_assert_str_eq(v[2].rules[0].text, "within 2d");
        cr_assert(v[2].has_expiry);
        cr_assert_eq(v[2].expiry.sec, t0 + 4 * day, "expiry %lld", (long long) v[2].expiry.sec);
        cr_assert(v[3].keep && v[3].counted && !v[3].has_expiry);
        cr_assert_eq(v[3].n_rules, 2);
        cr_assert_str_eq(v[3].rules[0].text, "within 2d");
        cr_assert(v[3].rules[0].has_expiry);
        cr_assert_str_eq(v[3].rules[1].text, "last snapshot");
        cr_assert(!v[3].rules[1].has_expiry);
        cr_assert_eq(v[3].snapshot, &list[3]);

        /* a hold on the oldest */
        CnHold h = {.controller = &ctl, .scope = CN_HOLD_SNAPSHOT, .value = "a"};
        CnHolds holds = {.v = &h, .n = 1};
        p.holds = &holds;
        cr_assert_eq(cn_retention_expiry(&p, list, 4, (CnTime){t0 + 10 * day, 0}, v), 0);
        cr_assert(v[0].keep && v[0].held && !v[0].has_expiry);
        cr_assert_str_eq(v[0].rules[0].text, "held (legal hold)");
        cr_assert(!v[1].keep);
}
