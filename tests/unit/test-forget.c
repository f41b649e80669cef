/* SPDX-License-Identifier: GPL-3.0-or-later */
/* Retention policies (issue 9, item 1) against restic's semantics: the
 * snapshot times of restic's policy test (internal/data/snapshot_policy_test.go)
 * and the examples of its manual ("Removing snapshots according to a
 * policy"), with the expected outcomes worked out by hand from the rules. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forget.h"
#include "macro.h"

static CnTime at(const char *s) {
        struct tm tm = {};
        unsigned frac = 0;
        int n = sscanf(s, "%d-%d-%d %d:%d:%d.%u", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                       &tm.tm_sec, &frac);
        cr_assert(n >= 6, "bad time %s", s);
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return (CnTime){timegm(&tm), n == 7 ? frac * 100000000u : 0};
}

static char *foo[] = {"foo"}, *bar[] = {"bar"}, *foobar[] = {"foo", "bar"};

/* restic's test snapshots, in its (unsorted) order. */
static const struct {
        const char *time;
        char **tags;
        size_t n_tags;
} restic_times[] = {
        {"2014-09-01 10:20:30", NULL, 0},   {"2014-09-02 10:20:30", NULL, 0},   {"2014-09-05 10:20:30", NULL, 0},
        {"2014-09-06 10:20:30", NULL, 0},   {"2014-09-08 10:20:30", NULL, 0},   {"2014-09-09 10:20:30", NULL, 0},
        {"2014-09-10 10:20:30", NULL, 0},   {"2014-09-11 10:20:30", NULL, 0},   {"2014-09-20 10:20:30", NULL, 0},
        {"2014-09-22 10:20:30", NULL, 0},   {"2014-08-08 10:20:30", NULL, 0},   {"2014-08-10 10:20:30", NULL, 0},
        {"2014-08-12 10:20:30", NULL, 0},   {"2014-08-13 10:20:30", NULL, 0},   {"2014-08-13 10:20:30.1", NULL, 0},
        {"2014-08-15 10:20:30", NULL, 0},   {"2014-08-18 10:20:30", NULL, 0},   {"2014-08-20 10:20:30", NULL, 0},
        {"2014-08-21 10:20:30", NULL, 0},   {"2014-08-22 10:20:30", NULL, 0},   {"2014-10-01 10:20:30", foo, 1},
        {"2014-10-02 10:20:30", foo, 1},    {"2014-10-05 10:20:30", foo, 1},    {"2014-10-06 10:20:30", foo, 1},
        {"2014-10-08 10:20:30", foo, 1},    {"2014-10-09 10:20:30", foo, 1},    {"2014-10-10 10:20:30", foo, 1},
        {"2014-10-11 10:20:30", foo, 1},    {"2014-10-20 10:20:30", foo, 1},    {"2014-10-22 10:20:30", foo, 1},
        {"2014-11-08 10:20:30", foo, 1},    {"2014-11-10 10:20:30", foo, 1},    {"2014-11-12 10:20:30", foo, 1},
        {"2014-11-13 10:20:30", foo, 1},    {"2014-11-13 10:20:30.1", bar, 1},  {"2014-11-15 10:20:30", foobar, 2},
        {"2014-11-18 10:20:30", NULL, 0},   {"2014-11-20 10:20:30", NULL, 0},   {"2014-11-21 10:20:30", NULL, 0},
        {"2014-11-22 10:20:30", NULL, 0},   {"2015-09-01 10:20:30", NULL, 0},   {"2015-09-02 10:20:30", NULL, 0},
        {"2015-09-05 10:20:30", NULL, 0},   {"2015-09-06 10:20:30", NULL, 0},   {"2015-09-08 10:20:30", NULL, 0},
        {"2015-09-09 10:20:30", NULL, 0},   {"2015-09-10 10:20:30", NULL, 0},   {"2015-09-11 10:20:30", NULL, 0},
        {"2015-09-20 10:20:30", NULL, 0},   {"2015-09-22 10:20:30", NULL, 0},   {"2015-08-08 10:20:30", NULL, 0},
        {"2015-08-10 10:20:30", NULL, 0},   {"2015-08-12 10:20:30", NULL, 0},   {"2015-08-13 10:20:30", NULL, 0},
        {"2015-08-13 10:20:30.1", NULL, 0}, {"2015-08-15 10:20:30", NULL, 0},   {"2015-08-18 10:20:30", NULL, 0},
        {"2015-08-20 10:20:30", NULL, 0},   {"2015-08-21 10:20:30", NULL, 0},   {"2015-08-22 10:20:30", NULL, 0},
        {"2015-10-01 10:20:30", NULL, 0},   {"2015-10-02 10:20:30", NULL, 0},   {"2015-10-05 10:20:30", NULL, 0},
        {"2015-10-06 10:20:30", NULL, 0},   {"2015-10-08 10:20:30", NULL, 0},   {"2015-10-09 10:20:30", NULL, 0},
        {"2015-10-10 10:20:30", NULL, 0},   {"2015-10-11 10:20:30", NULL, 0},   {"2015-10-20 10:20:30", NULL, 0},
        {"2015-10-22 10:20:30", NULL, 0},   {"2015-10-22 10:20:30", NULL, 0},   {"2015-10-22 10:20:30", foobar, 2},
        {"2015-10-22 10:20:30", foobar, 2}, {"2015-10-22 10:20:30", foobar, 2}, {"2015-11-08 10:20:30", NULL, 0},
        {"2015-11-10 10:20:30", NULL, 0},   {"2015-11-12 10:20:30", NULL, 0},   {"2015-11-13 10:20:30", NULL, 0},
        {"2015-11-13 10:20:30.1", NULL, 0}, {"2015-11-15 10:20:30", NULL, 0},   {"2015-11-18 10:20:30", NULL, 0},
        {"2015-11-20 10:20:30", NULL, 0},   {"2015-11-21 10:20:30", NULL, 0},   {"2015-11-22 10:20:30", NULL, 0},
        {"2016-01-01 01:02:03", NULL, 0},   {"2016-01-01 01:03:03", NULL, 0},   {"2016-01-01 07:08:03", NULL, 0},
        {"2016-01-03 07:02:03", NULL, 0},   {"2016-01-04 10:23:03", NULL, 0},   {"2016-01-04 11:23:03", NULL, 0},
        {"2016-01-04 12:23:03", NULL, 0},   {"2016-01-04 12:24:03", NULL, 0},   {"2016-01-04 12:28:03", NULL, 0},
        {"2016-01-04 12:30:03", NULL, 0},   {"2016-01-04 16:23:03", NULL, 0},   {"2016-01-05 09:02:03", NULL, 0},
        {"2016-01-06 08:02:03", NULL, 0},   {"2016-01-07 10:02:03", NULL, 0},   {"2016-01-08 20:02:03", NULL, 0},
        {"2016-01-09 21:02:03", NULL, 0},   {"2016-01-12 21:02:03", NULL, 0},   {"2016-01-12 21:08:03", NULL, 0},
        {"2016-01-18 12:02:03", NULL, 0},
};
#define N_RESTIC CN_ELEMENTSOF(restic_times)

static CnSnapshot snaps[N_RESTIC];
static const CnSnapshot *group[N_RESTIC];

static void setup(void) {
        setenv("TZ", "UTC", 1);
        tzset();
        for (size_t i = 0; i < N_RESTIC; i++) {
                snaps[i] = (CnSnapshot){.time = at(restic_times[i].time),
                                        .tags = restic_times[i].tags,
                                        .n_tags = restic_times[i].n_tags};
                snprintf(snaps[i].id_hex, sizeof snaps[i].id_hex, "%03zu", i);
                group[i] = &snaps[i];
        }
}

TestSuite(forget, .init = setup);

static const CnTime NOW = {1800000000, 0}; /* 2027: every snapshot is in the past */

/* Apply p to the first n of group; the kept snapshots' times, newest first,
 * joined by '|', into buf. */
static const char *kept(const CnSnapshot *const *g, size_t n, const CnForgetPolicy *p, CnForgetDecision **ret,
                        char *buf, size_t size) {
        CnForgetDecision *d;
        size_t len = 0;
        cr_assert_eq(cn_forget_apply(g, n, p, NOW, &d), 0);
        buf[0] = 0;
        for (size_t i = 0; i < n; i++) {
                if (!d[i].keep)
                        continue;
                struct tm tm;
                time_t t = (time_t) d[i].snapshot->time.sec;
                gmtime_r(&t, &tm);
                len += strftime(buf + len, size - len, len ? "|%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
                if (d[i].snapshot->time.nsec)
                        len += (size_t) snprintf(buf + len, size - len, ".%u", d[i].snapshot->time.nsec / 100000000);
        }
        if (ret)
                *ret = d;
        else
                free(d);
        return buf;
}

static size_t n_kept(const CnForgetPolicy *p) {
        CnForgetDecision *d;
        size_t k = 0;
        cr_assert_eq(cn_forget_apply(group, N_RESTIC, p, NOW, &d), 0);
        for (size_t i = 0; i < N_RESTIC; i++)
                k += d[i].keep;
        free(d);
        return k;
}

#define ALL_2016                                                                                                       \
        "2016-01-18 12:02:03|2016-01-12 21:08:03|2016-01-12 21:02:03|2016-01-09 21:02:03|2016-01-08 20:02:03|"         \
        "2016-01-07 10:02:03|2016-01-06 08:02:03|2016-01-05 09:02:03|2016-01-04 16:23:03|2016-01-04 12:30:03|"         \
        "2016-01-04 12:28:03|2016-01-04 12:24:03|2016-01-04 12:23:03|2016-01-04 11:23:03|2016-01-04 10:23:03|"         \
        "2016-01-03 07:02:03|2016-01-01 07:08:03|2016-01-01 01:03:03|2016-01-01 01:02:03"

Test(forget, item1_durations_parse_as_restic) {
        CnDuration d;
        char buf[64];
        cr_assert_eq(cn_duration_parse("1y2m3d4h", &d), 0);
        cr_assert(d.years == 1 && d.months == 2 && d.days == 3 && d.hours == 4);
        cr_assert_str_eq(cn_duration_format(&d, buf, sizeof buf), "1y2m3d4h");
        cr_assert_eq(cn_duration_parse("13d23h", &d), 0);
        cr_assert_str_eq(cn_duration_format(&d, buf, sizeof buf), "13d23h");
        cr_assert_eq(cn_duration_parse(" 30d ", &d), 0);
        cr_assert_eq(d.days, 30);
        const char *bad[] = {"", "1", "d", "1w", "-1d", "1d2", "1.5d", "99999999999d", "1 d"};
        for (size_t i = 0; i < CN_ELEMENTSOF(bad); i++)
                cr_assert_eq(cn_duration_parse(bad[i], &d), -EINVAL, "'%s' parsed", bad[i]);
}

Test(forget, item1_an_empty_policy_is_empty) {
        CnForgetPolicy p = {};
        cr_assert(cn_forget_policy_empty(&p));
        p.keep[CN_FORGET_DAILY] = 7;
        cr_assert(!cn_forget_policy_empty(&p));
        p = (CnForgetPolicy){.within_bucket[CN_FORGET_WEEKLY] = {.days = 1}};
        cr_assert(!cn_forget_policy_empty(&p));
        CnTagList t = {};
        p = (CnForgetPolicy){.keep_tags = &t, .n_keep_tags = 1};
        cr_assert(!cn_forget_policy_empty(&p));
        p = (CnForgetPolicy){};
        cr_assert_eq(n_kept(&p), 0, "an empty policy keeps nothing (forget refuses it before)");
}

Test(forget, item1_keep_last_keeps_the_newest) {
        CnForgetPolicy p = {.keep[CN_FORGET_LAST] = 10};
        CnForgetDecision *d;
        char buf[4096];
        cr_assert_str_eq(kept(group, N_RESTIC, &p, &d, buf, sizeof buf),
                         "2016-01-18 12:02:03|2016-01-12 21:08:03|2016-01-12 21:02:03|2016-01-09 21:02:03|"
                         "2016-01-08 20:02:03|2016-01-07 10:02:03|2016-01-06 08:02:03|2016-01-05 09:02:03|"
                         "2016-01-04 16:23:03|2016-01-04 12:30:03");
        for (size_t i = 0; i < 10; i++) {
                cr_assert_eq(d[i].reasons.counted, 1u << CN_FORGET_LAST);
                cr_assert_eq(d[i].reasons.counted_oldest, 0);
                cr_assert_eq(d[i].counters[CN_FORGET_LAST], 9 - (int64_t) i, "counter after %zu", i);
        }
        free(d);
        p.keep[CN_FORGET_LAST] = 200;
        cr_assert_eq(n_kept(&p), N_RESTIC);
        p.keep[CN_FORGET_LAST] = CN_FORGET_UNLIMITED;
        cr_assert_eq(n_kept(&p), N_RESTIC);
}

Test(forget, item1_keep_hourly_one_an_hour_newest_first) {
        CnForgetPolicy p = {.keep[CN_FORGET_HOURLY] = 20};
        char buf[4096];
        /* 21:08 and 21:02 on the 12th share an hour, as do 12:23-12:30 on the
         * 4th and 01:02/01:03 on the 1st: the newest of each is kept. */
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf),
                         "2016-01-18 12:02:03|2016-01-12 21:08:03|2016-01-09 21:02:03|2016-01-08 20:02:03|"
                         "2016-01-07 10:02:03|2016-01-06 08:02:03|2016-01-05 09:02:03|2016-01-04 16:23:03|"
                         "2016-01-04 12:30:03|2016-01-04 11:23:03|2016-01-04 10:23:03|2016-01-03 07:02:03|"
                         "2016-01-01 07:08:03|2016-01-01 01:03:03|2015-11-22 10:20:30|2015-11-21 10:20:30|"
                         "2015-11-20 10:20:30|2015-11-18 10:20:30|2015-11-15 10:20:30|2015-11-13 10:20:30.1");
}

Test(forget, item1_keep_daily_weekly_monthly) {
        char buf[4096];
        CnForgetPolicy p = {.keep[CN_FORGET_DAILY] = 3};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf),
                         "2016-01-18 12:02:03|2016-01-12 21:08:03|2016-01-09 21:02:03");
        /* ISO weeks: the 18th is in week 3, the 12th in week 2. */
        p = (CnForgetPolicy){.keep[CN_FORGET_WEEKLY] = 2};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf), "2016-01-18 12:02:03|2016-01-12 21:08:03");
        /* 2016-01-09 is in week 1 of 2016, 2016-01-03 (a Sunday) in week 53 of 2015. */
        p = (CnForgetPolicy){.keep[CN_FORGET_WEEKLY] = 4};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf),
                         "2016-01-18 12:02:03|2016-01-12 21:08:03|2016-01-09 21:02:03|2016-01-03 07:02:03");
        /* Five snapshots share 2015-10-22 10:20:30: the first of them in the
         * input is the month's (equal times keep their order). */
        p = (CnForgetPolicy){.keep[CN_FORGET_MONTHLY] = 6};
        CnForgetDecision *d;
        cr_assert_str_eq(kept(group, N_RESTIC, &p, &d, buf, sizeof buf),
                         "2016-01-18 12:02:03|2015-11-22 10:20:30|2015-10-22 10:20:30|2015-09-22 10:20:30|"
                         "2015-08-22 10:20:30|2014-11-22 10:20:30");
        for (size_t i = 0; i < N_RESTIC; i++)
                if (d[i].keep && strcmp(d[i].snapshot->id_hex, "069") != 0)
                        cr_assert_neq(d[i].snapshot->time.sec, at("2015-10-22 10:20:30").sec);
        free(d);
}

Test(forget, item1_the_oldest_is_kept_while_a_count_is_left) {
        /* Three years only: 2016, 2015, 2014; with 7 left, the oldest of all
         * (2014-08-08, in 2014's bucket already) is kept as "oldest". */
        CnForgetPolicy p = {.keep[CN_FORGET_YEARLY] = 10};
        CnForgetDecision *d;
        char buf[4096];
        cr_assert_str_eq(kept(group, N_RESTIC, &p, &d, buf, sizeof buf),
                         "2016-01-18 12:02:03|2015-11-22 10:20:30|2014-11-22 10:20:30|2014-08-08 10:20:30");
        cr_assert_eq(d[N_RESTIC - 1].reasons.counted, 1u << CN_FORGET_YEARLY);
        cr_assert_eq(d[N_RESTIC - 1].reasons.counted_oldest, 1u << CN_FORGET_YEARLY);
        cr_assert_eq(d[N_RESTIC - 1].counters[CN_FORGET_YEARLY], 6);
        cr_assert_eq(d[0].reasons.counted_oldest, 0);
        free(d);
        /* Counts used up: no oldest. */
        p = (CnForgetPolicy){.keep[CN_FORGET_YEARLY] = 3};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf),
                         "2016-01-18 12:02:03|2015-11-22 10:20:30|2014-11-22 10:20:30");
}

Test(forget, item1_one_snapshot_satisfies_several_rules) {
        CnForgetPolicy p = {.keep[CN_FORGET_DAILY] = 7,
                            .keep[CN_FORGET_WEEKLY] = 2,
                            .keep[CN_FORGET_MONTHLY] = 3,
                            .keep[CN_FORGET_YEARLY] = 10};
        CnForgetDecision *d;
        char buf[4096];
        /* Daily: 18, 12, 09, 08, 07, 06, 05. Weekly: 18 (week 3), 12 (week 2).
         * Monthly: 2016-01-18, 2015-11-22, 2015-10-22. Yearly: 2016-01-18,
         * 2015-11-22, 2014-11-22, and the oldest (2014-08-08). */
        cr_assert_str_eq(kept(group, N_RESTIC, &p, &d, buf, sizeof buf),
                         "2016-01-18 12:02:03|2016-01-12 21:08:03|2016-01-09 21:02:03|2016-01-08 20:02:03|"
                         "2016-01-07 10:02:03|2016-01-06 08:02:03|2016-01-05 09:02:03|2015-11-22 10:20:30|"
                         "2015-10-22 10:20:30|2014-11-22 10:20:30|2014-08-08 10:20:30");
        cr_assert_eq(d[0].reasons.counted, (1u << CN_FORGET_DAILY) | (1u << CN_FORGET_WEEKLY) |
                                                   (1u << CN_FORGET_MONTHLY) | (1u << CN_FORGET_YEARLY));
        cr_assert_eq(d[0].counters[CN_FORGET_DAILY], 6);
        cr_assert_eq(d[0].counters[CN_FORGET_YEARLY], 9);
        free(d);
}

Test(forget, item1_keep_tag_keeps_every_tagged_one_uncounted) {
        CnTagList lists[2] = {};
        cr_assert_eq(cn_tag_list_parse("foo", &lists[0]), 0);
        cr_assert_eq(cn_tag_list_parse("bar", &lists[1]), 0);
        CnForgetPolicy p = {.keep_tags = lists, .n_keep_tags = 1};
        cr_assert_eq(n_kept(&p), 18); /* ten in 2014-10, five in 2014-11, three on 2015-10-22 */
        p.n_keep_tags = 2;
        cr_assert_eq(n_kept(&p), 19); /* and 2014-11-13 10:20:30.1, tagged bar */
        CnTagList both;
        cr_assert_eq(cn_tag_list_parse("foo,bar", &both), 0);
        p = (CnForgetPolicy){.keep_tags = &both, .n_keep_tags = 1};
        cr_assert_eq(n_kept(&p), 4);
        /* Reasons name the lists matched. */
        CnForgetDecision *d;
        p = (CnForgetPolicy){.keep_tags = lists, .n_keep_tags = 2};
        cr_assert_eq(cn_forget_apply(group, N_RESTIC, &p, NOW, &d), 0);
        for (size_t i = 0; i < N_RESTIC; i++)
                if (d[i].snapshot->n_tags == 2)
                        cr_assert_eq(d[i].reasons.tags, 3);
        free(d);
        cn_tag_list_done(&lists[0]);
        cn_tag_list_done(&lists[1]);
        cn_tag_list_done(&both);
}

Test(forget, item1_keep_within_counts_back_from_the_newest) {
        char buf[4096];
        CnForgetPolicy p = {.within = {.days = 1}};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf), "2016-01-18 12:02:03");
        p.within = (CnDuration){.days = 7};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf),
                         "2016-01-18 12:02:03|2016-01-12 21:08:03|2016-01-12 21:02:03");
        /* One month back from 2016-01-18 12:02:03 is 2015-12-18 12:02:03. */
        p.within = (CnDuration){.months = 1};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf), ALL_2016);
        /* 2m2h: after 2015-11-18 10:02:03. */
        p.within = (CnDuration){.months = 2, .hours = 2};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf),
                         ALL_2016 "|2015-11-22 10:20:30|2015-11-21 10:20:30|2015-11-20 10:20:30|2015-11-18 10:20:30");
        /* 13d23h: after 2016-01-04 13:02:03. */
        p.within = (CnDuration){.days = 13, .hours = 23};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf),
                         "2016-01-18 12:02:03|2016-01-12 21:08:03|2016-01-12 21:02:03|2016-01-09 21:02:03|"
                         "2016-01-08 20:02:03|2016-01-07 10:02:03|2016-01-06 08:02:03|2016-01-05 09:02:03|"
                         "2016-01-04 16:23:03");
        CnForgetDecision *d;
        p.within = (CnDuration){.days = 1};
        kept(group, N_RESTIC, &p, &d, buf, sizeof buf);
        cr_assert(d[0].reasons.within);
        free(d);
}

Test(forget, item1_keep_within_ignores_snapshots_in_the_future) {
        /* "now" is 2016-01-10: the 12th and 18th are in the future. The
         * newest in the past is 2016-01-09 21:02:03; 1d back is the 8th
         * 21:02:03. The future ones are newer than the limit, so kept. */
        CnForgetPolicy p = {.within = {.days = 1}};
        CnForgetDecision *d;
        cr_assert_eq(cn_forget_apply(group, N_RESTIC, &p, at("2016-01-10 00:00:00"), &d), 0);
        size_t k = 0;
        for (size_t i = 0; i < N_RESTIC; i++)
                k += d[i].keep;
        cr_assert_eq(k, 4);
        cr_assert(d[0].keep && d[1].keep && d[2].keep && d[3].keep && !d[4].keep);
        free(d);
}

Test(forget, item1_keep_within_daily_one_a_day_within) {
        char buf[4096];
        CnForgetPolicy p = {.within_bucket[CN_FORGET_DAILY] = {.months = 1}};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf),
                         "2016-01-18 12:02:03|2016-01-12 21:08:03|2016-01-09 21:02:03|2016-01-08 20:02:03|"
                         "2016-01-07 10:02:03|2016-01-06 08:02:03|2016-01-05 09:02:03|2016-01-04 16:23:03|"
                         "2016-01-03 07:02:03|2016-01-01 07:08:03");
        /* Yearly within 1y2m3d3h: back to 2014-11-15 09:02:03: 2016, 2015, 2014's newest. */
        p = (CnForgetPolicy){.within_bucket[CN_FORGET_YEARLY] = {1, 2, 3, 3}};
        cr_assert_str_eq(kept(group, N_RESTIC, &p, NULL, buf, sizeof buf),
                         "2016-01-18 12:02:03|2015-11-22 10:20:30|2014-11-22 10:20:30");
        /* A year of 9999: the oldest of all is kept too, as the oldest. */
        p = (CnForgetPolicy){.within_bucket[CN_FORGET_YEARLY] = {.years = 9999}};
        CnForgetDecision *d;
        cr_assert_str_eq(kept(group, N_RESTIC, &p, &d, buf, sizeof buf),
                         "2016-01-18 12:02:03|2015-11-22 10:20:30|2014-11-22 10:20:30|2014-08-08 10:20:30");
        cr_assert_eq(d[N_RESTIC - 1].reasons.within_bucket_oldest, 1u << CN_FORGET_YEARLY);
        free(d);
}

/* restic's manual: backups every weekday for two weeks, two on Fridays,
 * Wednesday 2025-04-30 missed. */
static const char *manual[] = {
        "2025-04-21 11:00:00", "2025-04-22 11:00:00", "2025-04-23 11:00:00", "2025-04-24 11:00:00",
        "2025-04-25 11:00:00", "2025-04-25 23:00:00", "2025-04-28 11:00:00", "2025-04-29 11:00:00",
        "2025-05-01 11:00:00", "2025-05-02 11:00:00", "2025-05-02 23:00:00",
};

Test(forget, item1_manual_examples) {
        CnSnapshot s[CN_ELEMENTSOF(manual)];
        const CnSnapshot *g[CN_ELEMENTSOF(manual)];
        char buf[4096];
        for (size_t i = 0; i < CN_ELEMENTSOF(manual); i++) {
                s[i] = (CnSnapshot){.time = at(manual[i])};
                g[i] = &s[i];
        }
        CnForgetPolicy p = {.keep[CN_FORGET_DAILY] = 5};
        cr_assert_str_eq(kept(g, CN_ELEMENTSOF(manual), &p, NULL, buf, sizeof buf),
                         "2025-05-02 23:00:00|2025-05-01 11:00:00|2025-04-29 11:00:00|2025-04-28 11:00:00|"
                         "2025-04-25 23:00:00");
        /* Within 7d of 2025-05-02 23:00: after 2025-04-25 23:00, so not that one. */
        p = (CnForgetPolicy){.within_bucket[CN_FORGET_DAILY] = {.days = 7}};
        cr_assert_str_eq(kept(g, CN_ELEMENTSOF(manual), &p, NULL, buf, sizeof buf),
                         "2025-05-02 23:00:00|2025-05-01 11:00:00|2025-04-29 11:00:00|2025-04-28 11:00:00");
}

Test(forget, item1_local_time_buckets) {
        /* 23:30 UTC on the 1st is the 2nd in Berlin: one daily bucket there, two in UTC. */
        CnSnapshot s[2] = {{.time = at("2025-06-01 23:30:00")}, {.time = at("2025-06-02 08:00:00")}};
        const CnSnapshot *g[2] = {&s[0], &s[1]};
        CnForgetPolicy p = {.keep[CN_FORGET_DAILY] = 1};
        char buf[256];
        cr_assert_str_eq(kept(g, 2, &p, NULL, buf, sizeof buf), "2025-06-02 08:00:00");
        p.keep[CN_FORGET_DAILY] = 2;
        cr_assert_str_eq(kept(g, 2, &p, NULL, buf, sizeof buf), "2025-06-02 08:00:00|2025-06-01 23:30:00");
        setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1); /* Berlin, without tzdata */
        tzset();
        /* Same day in Berlin: the older one is kept only as the oldest. */
        CnForgetDecision *d;
        kept(g, 2, &p, &d, buf, sizeof buf);
        cr_assert_eq(d[1].reasons.counted_oldest, 1u << CN_FORGET_DAILY);
        free(d);
        p = (CnForgetPolicy){.keep[CN_FORGET_HOURLY] = 1, .keep[CN_FORGET_DAILY] = 1};
        cr_assert_str_eq(kept(g, 2, &p, NULL, buf, sizeof buf), "2025-06-02 08:00:00");
}

Test(forget, item1_group_by_controller_host_paths) {
        CnController c1 = {.id = {1}}, c2 = {.id = {2}};
        char *pab[] = {"/a", "/b"}, *pba[] = {"/b", "/a"}, *pa[] = {"/a"};
        CnSnapshot s[] = {
                {.controller = &c1, .hostname = "h1", .paths = pab, .n_paths = 2},
                {.controller = &c1, .hostname = "h1", .paths = pba, .n_paths = 2},
                {.controller = &c2, .hostname = "h1", .paths = pab, .n_paths = 2},
                {.controller = &c1, .hostname = "h2", .paths = pab, .n_paths = 2},
                {.controller = &c1, .hostname = "h1", .paths = pa, .n_paths = 1, .tags = foo, .n_tags = 1},
        };
        CnForgetGroup *g;
        size_t n;
        unsigned by;
        cr_assert_eq(cn_forget_group_by_parse("host,paths", &by), 0);
        cr_assert_eq(by, CN_FORGET_GROUP_HOST | CN_FORGET_GROUP_PATHS);
        cr_assert_eq(cn_forget_group(s, 5, by, &g, &n), 0);
        cr_assert_eq(n, 4);
        /* c1/h1/[/a], c1/h1/[/a /b] (both orders), c1/h2, c2/h1. */
        cr_assert_eq(g[0].n, 1);
        cr_assert_eq(g[0].snapshots[0], &s[4]);
        cr_assert_eq(g[1].n, 2);
        cr_assert_eq(g[1].snapshots[0], &s[0]);
        cr_assert_eq(g[1].snapshots[1], &s[1]);
        cr_assert_str_eq(g[1].paths[0], "/a");
        cr_assert_str_eq(g[1].hostname, "h1");
        cr_assert_eq(g[2].snapshots[0], &s[3]);
        cr_assert_eq(g[3].controller, &c2);
        cn_forget_groups_free(g, n);
        /* '': by controller only. */
        cr_assert_eq(cn_forget_group_by_parse("", &by), 0);
        cr_assert_eq(by, 0);
        cr_assert_eq(cn_forget_group(s, 5, by, &g, &n), 0);
        cr_assert_eq(n, 2);
        cr_assert_eq(g[0].n, 4);
        cr_assert_null(g[0].hostname);
        cn_forget_groups_free(g, n);
        cr_assert_eq(cn_forget_group_by_parse("tags", &by), 0);
        cr_assert_eq(cn_forget_group(s, 5, by, &g, &n), 0);
        cr_assert_eq(n, 3);
        cn_forget_groups_free(g, n);
        cr_assert_eq(cn_forget_group_by_parse("host,colour", &by), -EINVAL);
}

Test(forget, item1_a_held_snapshot_is_kept_whatever_the_rules_say) {
        CnController c = {.id = {7}};
        char *legal[] = {"legal"};
        CnSnapshot s[3] = {
                {.controller = &c, .time = at("2025-01-01 00:00:00"), .tags = legal, .n_tags = 1},
                {.controller = &c, .time = at("2025-01-02 00:00:00")},
                {.controller = &c, .time = at("2025-01-03 00:00:00")},
        };
        snprintf(s[0].id_hex, sizeof s[0].id_hex, "%064d", 0);
        const CnSnapshot *g[3] = {&s[0], &s[1], &s[2]};
        CnHold h = {.controller = &c, .scope = CN_HOLD_TAG, .value = "legal", .reason = "case 12"};
        CnHolds holds = {.v = &h, .n = 1};
        CnForgetPolicy p = {.keep[CN_FORGET_LAST] = 1, .holds = &holds};
        CnForgetDecision *d;
        char buf[256];
        cr_assert_str_eq(kept(g, 3, &p, &d, buf, sizeof buf), "2025-01-03 00:00:00|2025-01-01 00:00:00");
        cr_assert(d[2].reasons.held);
        cr_assert_eq(d[2].reasons.counted, 0, "a hold is no rule: it counts nothing");
        cr_assert(!d[0].reasons.held);
        free(d);
        /* Holds alone are no policy. */
        CnForgetPolicy only = {.holds = &holds};
        cr_assert(cn_forget_policy_empty(&only));
        /* A released hold keeps nothing. */
        CnHoldRelease rel = {.reason = "closed"};
        h.release = &rel;
        cr_assert_str_eq(kept(g, 3, &p, NULL, buf, sizeof buf), "2025-01-03 00:00:00");
        /* Another controller's hold keeps nothing here. */
        CnController other = {.id = {8}};
        h.release = NULL;
        h.controller = &other;
        cr_assert_str_eq(kept(g, 3, &p, NULL, buf, sizeof buf), "2025-01-03 00:00:00");
}
