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
