/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Lower-case hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void cn_hex_encode(const uint8_t *p, size_t n, char *out);
/* The value of one hex digit (either case), or -1. */
int cn_hex_digit(char c);
/* Exactly 2n hex digits (either case) into n bytes; -EINVAL otherwise. */
int cn_hex_decode(const char *s, uint8_t *out, size_t n);
/* Of the n records of size bytes at base, each holding a lower-case hex id
 * at offset (a NUL-terminated string of at most max digits), those whose id
 * starts with prefix (1 to max hex digits, either case): returns how many
 * (up to INT_MAX) and sets *ret_index only when exactly one does; -EINVAL
 * prefix is not that. For "an id or a unique prefix of it" arguments. */
int cn_hex_prefix_find(const char *prefix, size_t max, const void *base, size_t n, size_t size, size_t offset,
                       size_t *ret_index);
