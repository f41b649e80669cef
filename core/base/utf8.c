/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "utf8.h"

#include <stdlib.h>
#include <string.h>

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

bool cn_utf8_valid(const char *s, size_t n) {
        for (size_t i = 0, len; i < n; i += len) {
                uint32_t cp;
                if ((len = cn_utf8_decode((const unsigned char *) s + i, n - i, &cp)) == 0)
                        return false;
        }
        return true;
}

char *cn_utf8_lossy(const char *s, size_t n) {
        char *t = malloc(3 * n + 1), *o = t;
        if (!t)
                return NULL;
        for (size_t i = 0, len; i < n; i += len) {
                uint32_t cp;
                len = cn_utf8_decode((const unsigned char *) s + i, n - i, &cp);
                if (len == 0) {
                        memcpy(o, "\xef\xbf\xbd", 3);
                        o += 3;
                        len = 1;
                } else {
                        memcpy(o, s + i, len);
                        o += len;
                }
        }
        *o = 0;
        return t;
}
