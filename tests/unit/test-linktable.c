/* SPDX-License-Identifier: GPL-3.0-or-later */
/* The hard link tables of backup and restore (issue 8 item 15): O(1)
 * probes per operation for the keys they see, counted, not timed. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "linktable.h"

static unsigned freed;

static void count_free(void *p) {
        freed++;
        free(p);
}

static void *value(uint64_t v) {
        uint64_t *p = malloc(sizeof *p);
        cr_assert_not_null(p);
        *p = v;
        return p;
}

Test(linktable, put_get_and_free_every_value) {
        CnLinkTable *t;
        freed = 0;
        cr_assert_eq(cn_linktable_new(count_free, &t), 0);
        for (uint64_t i = 0; i < 5000; i++)
                cr_assert_eq(cn_linktable_put(t, 7, i, value(i)), 0);
        void *dup = value(0);
        cr_assert_eq(cn_linktable_put(t, 7, 42, dup), -EEXIST);
        free(dup);
        cr_assert_eq(cn_linktable_count(t), 5000);
        for (uint64_t i = 0; i < 5000; i++) {
                uint64_t *v = cn_linktable_get(t, 7, i);
                cr_assert(v && *v == i, "key %llu", (unsigned long long) i);
                cr_assert_null(cn_linktable_get(t, 8, i));
        }
        cn_linktable_free(t);
        cr_assert_eq(freed, 5000);
}

/* Key patterns: dense inode numbers on one device (what a fresh file system
 * hands out), inodes strided by a power of two, two devices interleaved,
 * restore's link groups (1, 2, 3, ... with 0). */
typedef enum Pattern { DENSE, STRIDED, TWO_DEVICES, LINK_GROUPS } Pattern;

static void key(Pattern p, uint64_t i, uint64_t *a, uint64_t *b) {
        switch (p) {
        case DENSE:
                *a = 2049, *b = 12 + i;
                break;
        case STRIDED:
                *a = 2049, *b = 4096 * (i + 1);
                break;
        case TWO_DEVICES:
                *a = 2049 + i % 2, *b = 1 + i / 2;
                break;
        case LINK_GROUPS:
                *a = 1 + i, *b = 0;
                break;
        }
}

ParameterizedTestParameters(linktable, probes_stay_constant_per_operation) {
        static Pattern p[] = { DENSE, STRIDED, TWO_DEVICES, LINK_GROUPS };
        return cr_make_param_array(Pattern, p, sizeof p / sizeof p[0]);
}

/* As backup uses it: a miss then a put for each first name, a hit for each
 * later one. A table that scans would take ~n/2 probes per operation
 * (10^5 here); this one may take a few. */
ParameterizedTest(Pattern *p, linktable, probes_stay_constant_per_operation) {
        const uint64_t n = 200000;
        CnLinkTable *t;
        uint64_t ops = 0, a, b;
        cr_assert_eq(cn_linktable_new(free, &t), 0);
        for (uint64_t i = 0; i < n; i++) {
                key(*p, i, &a, &b);
                cr_assert_null(cn_linktable_get(t, a, b));
                cr_assert_eq(cn_linktable_put(t, a, b, value(i)), 0);
                ops += 2;
        }
        for (uint64_t i = 0; i < 2 * n; i++) {
                uint64_t j = (i * 7919) % n;
                key(*p, j, &a, &b);
                uint64_t *v = cn_linktable_get(t, a, b);
                cr_assert(v && *v == j, "pattern %d: key %llu lost", *p, (unsigned long long) j);
                ops++;
        }
        double per_op = (double) cn_linktable_probes(t) / (double) ops;
        cr_assert_lt(per_op, 4.0, "pattern %d: %.1f probes per operation", *p, per_op);
        cn_linktable_free(t);
}
