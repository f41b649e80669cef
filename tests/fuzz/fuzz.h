/* SPDX-License-Identifier: GPL-3.0-or-later */
/* What every fuzz target shares (tests/fuzz/README.md).
 *
 * A target defines LLVMFuzzerTestOneInput(), which must accept any bytes:
 * libFuzzer calls it in the fuzz build (-Dfuzz=true, clang), replay.c in
 * the plain build, once for every file of the target's corpus. A target
 * checks properties with FUZZ_ASSERT, which aborts, so that a violated
 * property is a crash to both. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                              \
        do {                                                                                           \
                if (!(cond)) {                                                                         \
                        fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                                       \
                }                                                                                      \
        } while (0)

/* The input as a NUL-terminated string (malloc'd; NULL: out of memory). */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
        char *s = malloc(size + 1);
        if (s) {
                memcpy(s, data, size);
                s[size] = 0;
        }
        return s;
}
