/* SPDX-License-Identifier: GPL-3.0-or-later */
#include "sftp-proto.h"

#include <errno.h>
#include <string.h>

/* The modification time a long name shows ("Nov 29 16:38" within the last
 * six months, "May 20  2024" otherwise), read as UTC: the server writes its
 * local time, so this is off by up to a day either way. -1 if the fields
 * do not parse (another locale, say). */
static int64_t listed_time(const char *mon, size_t mlen, const char *day, size_t dlen, const char *ty, size_t tlen,
                           time_t now) {
        static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
        struct tm tm = {};
        struct tm now_tm;

        if (mlen != 3 || dlen < 1 || dlen > 2)
                return -1;
        const char *m = NULL;
        for (size_t i = 0; i + 3 <= sizeof months - 1 && !m; i += 3)
                if (memcmp(months + i, mon, 3) == 0)
                        m = months + i;
        if (!m)
                return -1;
        tm.tm_mon = (int) ((size_t) (m - months) / 3);
        for (size_t i = 0; i < dlen; i++) {
                if (day[i] < '0' || day[i] > '9')
                        return -1;
                tm.tm_mday = tm.tm_mday * 10 + (day[i] - '0');
        }
        if (tm.tm_mday < 1 || tm.tm_mday > 31 || !gmtime_r(&now, &now_tm))
                return -1;
        if (tlen == 5 && ty[2] == ':') {
                for (size_t i = 0; i < 5; i++)
                        if (i != 2 && (ty[i] < '0' || ty[i] > '9'))
                                return -1;
                tm.tm_hour = (ty[0] - '0') * 10 + (ty[1] - '0');
                tm.tm_min = (ty[3] - '0') * 10 + (ty[4] - '0');
                /* no year: the latest such date not far in the future */
                tm.tm_year = now_tm.tm_year;
                time_t t = timegm(&tm);
                if (t > now + 2 * 24 * 3600) {
                        tm.tm_year--;
                        t = timegm(&tm);
                }
                return t;
        }
        if (tlen == 4) {
                int year = 0;
                for (size_t i = 0; i < 4; i++) {
                        if (ty[i] < '0' || ty[i] > '9')
                                return -1;
                        year = year * 10 + (ty[i] - '0');
                }
                if (year < 1970)
                        return -1; /* before any file of ours, and -1 must stay "unknown" */
                tm.tm_year = year - 1900;
                return timegm(&tm);
        }
        return -1;
}

/* One line of a long listing as OpenSSH's sftp-server writes it (ls -l):
 *   "-rw-r--r--    1 user     group        1234 Nov 29 16:38 name"
 *   "drwx------    2 user     group        4096 May 20  2024 name"
 * eight blank-separated fields, one blank, then the name to the end of the
 * line (libcurl appends " -> target" to symlinks, which are not objects).
 * -EPROTO if the line does not have that shape. */
int cn_sftp_list_line_parse(const char *line, size_t n, time_t now, CnSftpListEntry *ret) {
        const char *p = line, *end = line + n;
        const char *field[8];
        size_t flen[8];

        if (n > CN_SFTP_LISTING_LINE_MAX)
                return -EPROTO;
        for (size_t i = 0; i < 8; i++) {
                while (p < end && *p == ' ')
                        p++;
                field[i] = p;
                while (p < end && *p != ' ')
                        p++;
                flen[i] = (size_t) (p - field[i]);
                if (flen[i] == 0)
                        return -EPROTO;
        }
        if (p >= end || *p != ' ' || p + 1 >= end)
                return -EPROTO;
        p++;

        /* mode: type character and nine permission characters, maybe a marker */
        if (flen[0] < 10 || flen[0] > 11)
                return -EPROTO;
        uint64_t size = 0;
        if (flen[4] > 20)
                return -EPROTO;
        for (size_t i = 0; i < flen[4]; i++) {
                char c = field[4][i];
                if (c < '0' || c > '9')
                        return -EPROTO;
                if (size > (UINT64_MAX - (uint64_t) (c - '0')) / 10)
                        return -EPROTO;
                size = size * 10 + (uint64_t) (c - '0');
        }
        ret->type = field[0][0];
        ret->size = size;
        ret->mtime = listed_time(field[5], flen[5], field[6], flen[6], field[7], flen[7], now);
        ret->name = p;
        ret->name_len = (size_t) (end - p);
        return 0;
}
