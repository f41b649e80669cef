/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The pure parts of export: the order of an archive's entries, times, the
 * folder names of snapshots (docs/cli/export.md). The archive itself is
 * tested from outside by tests/cli/export.sh. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "export.h"

static int cmp(const char *a, const char *b) {
        int c = cn_export_path_cmp(a, strlen(a), b, strlen(b));
        return c < 0 ? -1 : c > 0;
}

Test(export, entries_are_ordered_component_by_component) {
        /* a directory before what is in it, before a sibling that sorts after it by bytes */
        cr_assert_eq(cmp("files/T/a", "files/T/a/b"), -1);
        cr_assert_eq(cmp("files/T/a/b", "files/T/a-b"), -1); /* bytes alone: '-' < '/' */
        cr_assert_eq(cmp("files/T/a-b", "files/T/ab"), -1);
        cr_assert_eq(cmp("files/T/B", "files/T/a"), -1);
        cr_assert_eq(cmp("files/T/\x7f", "files/T/\x80"), -1);
        cr_assert_eq(cmp("files/T/a/b", "files/T/a/b"), 0);
        cr_assert_eq(cmp("files/2026-01-01T00:00:00Z/z", "files/2026-01-01T00:00:01Z/a"), -1);
        cr_assert_eq(cmp("files/T/a/", "files/T/a"), 0); /* a trailing '/' is no component */
        cr_assert_eq(cmp("files/T/a", "files/T/a/"), 0);
        cr_assert_eq(cmp("files/T", "files/T/a"), -1);
        cr_assert_eq(cmp("", "files"), -1);
        /* a total order: antisymmetric on a list that mixes every case */
        static const char *const v[] = {"files/T",     "files/T/a",  "files/T/a/b", "files/T/a/b/c", "files/T/a-b",
                                        "files/T/a.b", "files/T/ab", "files/U",     "files/U/\xff"};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
                for (size_t j = 0; j < sizeof v / sizeof v[0]; j++)
                        cr_assert_eq(cmp(v[i], v[j]), i < j ? -1 : i > j, "%s / %s", v[i], v[j]);
}

Test(export, times_are_rfc3339_utc_for_any_second) {
        static const struct {
                int64_t sec;
                uint32_t nsec;
                bool frac;
                const char *want;
        } cases[] = {
                {0, 0, false, "1970-01-01T00:00:00Z"},
                {1796685985, 595804175, true, "2026-12-07T23:26:25.595804175Z"},
                {1796685985, 5, false, "2026-12-07T23:26:25Z"},
                {951782400, 0, false, "2000-02-29T00:00:00Z"},
                {-1, 999999999, true, "1969-12-31T23:59:59.999999999Z"},
                {-62167219200, 0, false, "0000-01-01T00:00:00Z"},
                {-62167219201, 0, false, "-0001-12-31T23:59:59Z"},
                {253402300799, 0, false, "9999-12-31T23:59:59Z"},
                {253402300800, 0, false, "+10000-01-01T00:00:00Z"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                char buf[CN_EXPORT_TIME_BYTES];
                cn_export_time(cases[i].sec, cases[i].nsec, cases[i].frac, buf);
                cr_assert_str_eq(buf, cases[i].want);
        }
        char buf[CN_EXPORT_TIME_BYTES];
        cn_export_time(INT64_MIN, 0, true, buf); /* no overflow: some year, written */
        cr_assert(buf[0] == '-');
        cn_export_time(INT64_MAX, 999999999, true, buf);
        cr_assert(buf[0] == '+');
}

static CnSnapshot snap(int64_t sec, uint32_t nsec, char c) {
        CnSnapshot s = {.time = {sec, nsec}};
        memset(s.id_hex, c, CN_ID_HEX);
        return s;
}

Test(export, snapshot_folders_are_unique_and_plain_when_they_can_be) {
        /* sorted by time, then id */
        CnSnapshot s[] = {snap(100, 0, '1'), snap(200, 5, '2'),  snap(200, 7, '3'), snap(300, 9, '4'),
                          snap(300, 9, '5'), snap(300, 10, '6'), snap(400, 0, '7')};
        const CnSnapshot *v[sizeof s / sizeof s[0]];
        char got[sizeof s / sizeof s[0]][CN_EXPORT_FOLDER_BYTES];
        size_t n = sizeof s / sizeof s[0];
        for (size_t i = 0; i < n; i++)
                v[i] = &s[i];
        for (size_t i = 0; i < n; i++)
                cn_export_folder(v, n, i, got[i]);
        cr_assert_str_eq(got[0], "1970-01-01T00:01:40Z");
        cr_assert_str_eq(got[1], "1970-01-01T00:03:20.000000005Z");
        cr_assert_str_eq(got[2], "1970-01-01T00:03:20.000000007Z");
        cr_assert_str_eq(
                got[3],
                "1970-01-01T00:05:00.000000009Z-4444444444444444444444444444444444444444444444444444444444444444");
        cr_assert_str_eq(
                got[4],
                "1970-01-01T00:05:00.000000009Z-5555555555555555555555555555555555555555555555555555555555555555");
        cr_assert_str_eq(got[5], "1970-01-01T00:05:00.000000010Z");
        cr_assert_str_eq(got[6], "1970-01-01T00:06:40Z");
        /* unique, and in time order as bytes */
        for (size_t i = 1; i < n; i++)
                cr_assert_lt(strcmp(got[i - 1], got[i]), 0, "%s / %s", got[i - 1], got[i]);
}
