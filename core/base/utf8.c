/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "utf8.h"

size_t cn_utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp) {
        unsigned c = s[0];
        size_t len;
        uint32_t min;
        if (c < 0x80) {
                *ret_cp = c;
                return 1;
        }
        if ((c & 0xe0) == 0xc0)
                len = 2, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
                len = 3, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
                len = 4, min = 0x10000;
        else
                return 0;
        if (len > n)
                return 0;
        uint32_t cp = c & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return len;
}
