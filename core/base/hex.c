/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "hex.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

void cn_hex_encode(const uint8_t *p, size_t n, char *out) {
        static const char digits[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = digits[p[i] >> 4];
                out[2 * i + 1] = digits[p[i] & 15];
        }
        out[2 * n] = 0;
}

int cn_hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int cn_hex_decode(const char *s, uint8_t *out, size_t n) {
        if (strlen(s) != 2 * n)
                return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                int hi = cn_hex_digit(s[2 * i]), lo = cn_hex_digit(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t) (hi << 4 | lo);
        }
        return 0;
}

int cn_hex_prefix_find(const char *prefix, size_t max, const void *base, size_t n, size_t size, size_t offset,
                       size_t *ret_index) {
        size_t len = strlen(prefix), found = 0;
        int count = 0;

        if (len == 0 || len > max || strspn(prefix, "0123456789abcdefABCDEF") != len)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (strncasecmp((const char *) base + i * size + offset, prefix, len) == 0) {
                        found = i;
                        if (count < INT_MAX)
                                count++;
                }
        if (count == 1)
                *ret_index = found;
        return count;
}
