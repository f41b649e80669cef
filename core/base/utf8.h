/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Length of the valid UTF-8 sequence at s (n >= 1 bytes left) and its code
 * point in *ret_cp; 0 if invalid (truncated, overlong, a surrogate, past
 * U+10FFFF). */
size_t cn_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp);
