/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at s (n >= 1 bytes left) and its code
 * point in *ret_cp; 0 if invalid (truncated, overlong, a surrogate, past
 * U+10FFFF). */
size_t cn_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp);
/* Whether the n bytes at s are valid UTF-8 throughout. */
bool cn_utf8_valid(const char *s, size_t n);
/* The n bytes at s as UTF-8: valid sequences as they are, each byte that
 * is not part of one as U+FFFD. malloc'd and NUL-terminated; NULL: no
 * memory. */
char *cn_utf8_lossy(const char *s, size_t n);
