/* SPDX-License-Identifier: GPL-3.0-or-later */
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n) {
        unsigned c = s[0];
        size_t len;
        unsigned min;
        if (c < 0x80)
                return 1;
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
        unsigned cp = c & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        return len;
}

void cli_json_string(FILE *f, const char *str, size_t n) {
        const unsigned char *s = (const unsigned char *) str;
        fputc('"', f);
        for (size_t i = 0; i < n;) {
                unsigned char c = s[i];
                size_t len = utf8_len(s + i, n - i);
                if (len == 0) {
                        /* Not UTF-8: a lone surrogate per byte, as Python's surrogateescape. */
                        fprintf(f, "\\udc%02x", c);
                        i++;
                        continue;
                }
                if (c == '"' || c == '\\')
                        fprintf(f, "\\%c", c);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\u%04x", c);
                else
                        fwrite(s + i, 1, len, f);
                i += len;
        }
        fputc('"', f);
}

void cli_print_escaped(FILE *f, const char *str, size_t n) {
        const unsigned char *s = (const unsigned char *) str;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = s[i];
                if (c == '\\')
                        fputs("\\\\", f);
                else if (c == '\n')
                        fputs("\\n", f);
                else if (c == '\t')
                        fputs("\\t", f);
                else if (c < 0x20 || c == 0x7f)
                        fprintf(f, "\\x%02x", c);
                else
                        fputc(c, f);
        }
}

const char *cli_size(uint64_t bytes, char buf[32]) {
        static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double v = (double) bytes;
        size_t u = 0;
        while (v >= 1024 && u + 1 < sizeof units / sizeof units[0]) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, 32, "%" PRIu64 " B", bytes);
        else
                snprintf(buf, 32, "%.2f %s", v, units[u]);
        return buf;
}

const char *cli_time(int64_t sec, char buf[64]) {
        time_t t = (time_t) sec;
        struct tm tm;
        if (!localtime_r(&t, &tm) || strftime(buf, 64, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                snprintf(buf, 64, "@%" PRId64, sec);
        return buf;
}

void cli_short_id(const char *hex, char buf[9]) {
        memcpy(buf, hex, 8);
        buf[8] = 0;
}
