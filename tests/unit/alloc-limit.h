/* SPDX-License-Identifier: GPL-3.0-or-later */
/* For tests that an allocation follows what input can hold, not what a
 * length or count field claims: cap this test process's address space at
 * what it maps now plus `extra` bytes, so an allocation sized by a lie
 * fails with -ENOMEM (Criterion runs each test in a process of its own).
 * AddressSanitizer reserves terabytes of shadow memory up front, so there
 * the cap is left off (returns false) and the test checks only results. */
#pragma once

#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CN_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CN_TEST_SANITIZED 1
#endif
#endif

static inline bool cn_test_limit_address_space(size_t extra) {
#ifdef CN_TEST_SANITIZED
        (void) extra;
        return false;
#else
        unsigned long pages = 0;
        FILE *f = fopen("/proc/self/statm", "r");
        cr_assert_not_null(f);
        cr_assert_eq(fscanf(f, "%lu", &pages), 1);
        fclose(f);
        size_t now = (size_t) pages * (size_t) sysconf(_SC_PAGESIZE);
        struct rlimit rl = { .rlim_cur = now + extra, .rlim_max = now + extra };
        cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
        return true;
#endif
}
